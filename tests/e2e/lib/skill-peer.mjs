// A test peer that speaks as PrivaClaw's OpenClaw skill does on /connect,
// written from the message shapes in issue 13 item 2 and seed 001 ("PrivaClaw
// Skill", "TypeScript Interfaces") — not from the skill's code:
//
//   → hello      {"type":"hello","data":{"node_id","token","meta":{"kind":"openclaw"}}}
//   ← hello_ok
//   → heartbeat  {"type":"heartbeat","data":{"node_id","uptime","active_tasks","last_error","connection_state"}}
//   ← prompt     {"type":"prompt","data":{"request_id","data":{"prompt"}}}
//   ← workflow   {"type":"workflow","data":{"request_id","data":{"workflow_id","params"}}}
//   ← status / restart  {"type":T,"data":{"request_id"}}
//   → response   {"type":"response","data":{"type":"token"|"done"|"status"|"error","request_id",…}}
//                 token: content; status: the heartbeat fields; error: message
//
// The skill has no handler for anything else (a workflow list included): it
// ignores such a message, and so does this peer (it records it in
// `ignored`). Everything received is kept in `received` for assertions.
import WebSocket from 'ws';
import { ms } from './harness.mjs';

export class SkillPeer {
  /**
   * @param {string} wsUrl   the relay's ws:// base (relay.wsUrl)
   * @param {object} opts    nodeId, token; reply: the tokens a prompt
   *                         streams; heartbeatMs (default 15 s, as the skill)
   */
  constructor(wsUrl, { nodeId, token, reply = ['Hel', 'lo ', 'from ', 'the ', 'skill.'], heartbeatMs = 15_000, hello } = {}) {
    this.url = `${wsUrl}/connect`;
    this.nodeId = nodeId;
    this.token = token;
    this.reply = reply;
    this.heartbeatMs = heartbeatMs;
    this.helloData = hello; // a hello of the test's own making, to test refusals
    this.started = Date.now();
    this.activeTasks = 0;
    this.lastError = null;
    this.received = [];
    this.ignored = [];
    this.restarts = 0;
    this.workflows = [];
    this.prompts = [];
  }

  /** Connects and says hello; resolves with the first answer (hello_ok or error). */
  async connect() {
    this.ws = new WebSocket(this.url);
    this.closed = new Promise((r) => this.ws.on('close', (code, reason) => r({ code, reason: String(reason) })));
    this.ws.on('error', () => {});
    await new Promise((resolve, reject) => {
      this.ws.once('open', resolve);
      this.ws.once('error', reject);
    });
    const first = new Promise((resolve) => { this.firstAnswer = resolve; });
    this.ws.on('message', (raw) => this.onMessage(JSON.parse(raw.toString())));
    this.send('hello', this.helloData ?? { node_id: this.nodeId, token: this.token, meta: { kind: 'openclaw' } });
    const answer = await Promise.race([
      first,
      this.closed.then((c) => ({ type: 'closed', ...c })),
      new Promise((r) => setTimeout(() => r({ type: 'timeout' }), ms(10_000))),
    ]);
    // the first heartbeat one interval after hello_ok, as the skill: the
    // relay must treat the peer as a node before it
    if (answer.type === 'hello_ok') this.timer = setInterval(() => this.heartbeat(), this.heartbeatMs);
    return answer;
  }

  send(type, data) {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(data === undefined ? { type } : { type, data }));
  }

  respond(inner) { this.send('response', inner); }

  health() {
    return {
      node_id: this.nodeId,
      uptime: Math.floor((Date.now() - this.started) / 1000),
      active_tasks: this.activeTasks,
      last_error: this.lastError,
      connection_state: 'online',
    };
  }

  heartbeat() { this.send('heartbeat', this.health()); }

  onMessage(m) {
    this.received.push(m);
    if (this.firstAnswer) {
      const f = this.firstAnswer;
      this.firstAnswer = null;
      f(m);
      return;
    }
    const d = m.data ?? {};
    const id = d.request_id;
    switch (m.type) {
      case 'prompt': {
        const prompt = d.data?.prompt;
        this.prompts.push(prompt);
        this.activeTasks++;
        // tokens one after another, each on its own turn of the event loop
        let i = 0;
        const step = () => {
          if (i < this.reply.length) {
            this.respond({ type: 'token', request_id: id, content: this.reply[i++] });
            setImmediate(step);
          } else {
            this.activeTasks--;
            this.respond({ type: 'done', request_id: id });
          }
        };
        if (typeof prompt !== 'string') this.respond({ type: 'error', request_id: id, message: 'no prompt in data.data' });
        else step();
        break;
      }
      case 'status':
        this.respond({ type: 'status', request_id: id, ...this.health() });
        break;
      case 'restart':
        this.restarts++;
        this.respond({ type: 'done', request_id: id });
        break;
      case 'workflow': {
        const w = d.data ?? {};
        this.workflows.push({ workflow_id: w.workflow_id, params: w.params });
        if (w.workflow_id === 'fails') this.respond({ type: 'error', request_id: id, message: 'workflow failed on purpose' });
        else this.respond({ type: 'done', request_id: id });
        break;
      }
      default:
        this.ignored.push(m); // no handler in the skill
    }
  }

  close() {
    clearInterval(this.timer);
    try { this.ws.terminate(); } catch { /* already */ }
  }
}

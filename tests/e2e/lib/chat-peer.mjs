// A test peer that speaks the chat family of the wire protocol as an agent
// does on /connect, written from docs/protocol.md ("Chat") and nothing else:
//
//   → hello         {"type":"hello","data":{"device_id","token","proto":2,"chat":1}}
//   ← hello_ok
//   ← chat_request  {"type":"chat_request","data":{"request_id","method","path","query"?,"user":{"id","name"},"body"?}}
//   → chat_event    {"type":"chat_event","data":{"request_id","event","data"?}}   (a stream: any number)
//   → chat_response {"type":"chat_response","data":{"request_id","status","body"?}} (ends the request)
//   ← chat_cancel   {"type":"chat_cancel","data":{"request_id"}}
//
// It is not the agent's chat API: it answers each request with
// `handler(req, peer)` (the test's), by default an echo of what it
// received. It keeps every request in `requests` and every cancelled id in
// `cancels`, to test the relay's side: routing, framing, limits.
import WebSocket from 'ws';
import { ms } from './harness.mjs';

export class ChatPeer {
  /**
   * @param {string} wsUrl  the relay's ws:// base (relay.wsUrl)
   * @param {object} opts   deviceId, token; chat: the version the hello
   *                        declares (0: none, the key left out)
   */
  constructor(wsUrl, { deviceId, token, chat = 1 } = {}) {
    this.url = `${wsUrl}/connect`;
    this.deviceId = deviceId;
    this.token = token;
    this.chat = chat;
    this.requests = [];
    this.cancels = [];
    this.other = [];
    this.waiters = [];
    this.handler = (req) => this.respond(req.request_id, 200, { echo: req });
  }

  /** Connects and says hello; resolves with the first answer (hello_ok or error). */
  async connect() {
    this.ws = new WebSocket(this.url, { maxPayload: 64 << 20 });
    this.closed = new Promise((r) => this.ws.on('close', (code, reason) => r({ code, reason: String(reason) })));
    this.ws.on('error', () => {});
    await new Promise((resolve, reject) => {
      this.ws.once('open', resolve);
      this.ws.once('error', reject);
    });
    const first = new Promise((resolve) => { this.firstAnswer = resolve; });
    this.ws.on('message', (raw) => this.onMessage(JSON.parse(raw.toString())));
    const hello = { device_id: this.deviceId, token: this.token, proto: 2 };
    if (this.chat) hello.chat = this.chat;
    this.send('hello', hello);
    return Promise.race([
      first,
      this.closed.then((c) => ({ type: 'closed', ...c })),
      new Promise((r) => setTimeout(() => r({ type: 'timeout' }), ms(10_000))),
    ]);
  }

  send(type, data) {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(data === undefined ? { type } : { type, data }));
  }

  /** Resolves once the socket's send buffer is below `bytes` (flow control for floods). */
  async drained(bytes = 1 << 20) {
    while (this.ws.readyState === WebSocket.OPEN && this.ws.bufferedAmount > bytes) await new Promise((r) => setTimeout(r, 5));
  }

  respond(requestId, status, body) {
    const d = { request_id: requestId, status };
    if (body !== undefined) d.body = body;
    this.send('chat_response', d);
  }

  event(requestId, event, data) {
    const d = { request_id: requestId, event };
    if (data !== undefined) d.data = data;
    this.send('chat_event', d);
  }

  /** Resolves with the first chat_request (already received or future) matching pred. */
  nextRequest(pred = () => true, timeout = ms(10_000)) {
    const hit = this.requests.find((r) => !r.taken && pred(r));
    if (hit) { hit.taken = true; return Promise.resolve(hit); }
    return new Promise((resolve, reject) => {
      const w = { pred, resolve };
      w.timer = setTimeout(() => { this.waiters.splice(this.waiters.indexOf(w), 1); reject(new Error(`no chat_request within ${timeout} ms; got ${this.requests.length}`)); }, timeout);
      this.waiters.push(w);
    });
  }

  /** Resolves when request_id is cancelled. */
  async cancelled(requestId, timeout = ms(10_000)) {
    const end = Date.now() + timeout;
    while (!this.cancels.includes(requestId)) {
      if (Date.now() > end) throw new Error(`no chat_cancel for ${requestId} within ${timeout} ms (cancels: ${JSON.stringify(this.cancels)})`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  onMessage(m) {
    if (this.firstAnswer) {
      const f = this.firstAnswer;
      this.firstAnswer = null;
      f(m);
      return;
    }
    if (m.type === 'chat_request') {
      const req = m.data;
      this.requests.push(req);
      const w = this.waiters.find((x) => x.pred(req));
      if (w) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        clearTimeout(w.timer);
        req.taken = true;
        w.resolve(req);
      }
      if (this.handler) this.handler(req, this);
    } else if (m.type === 'chat_cancel') {
      this.cancels.push(m.data.request_id);
    } else {
      this.other.push(m);
    }
  }

  close() {
    try { this.ws.close(); } catch { /* already */ }
    return this.closed;
  }

  /** Drops the TCP connection without a close frame (a crash, a cable pulled). */
  kill() {
    this.ws.terminate();
    return this.closed;
  }
}

// The chat bridge (issue 15; docs/chat.md) against a REAL OpenClaw gateway
// with the fake model, through the REAL relay: the agent keeps the
// conversation in its chat store (SQLite) and mirrors the gateway's
// sessions. Checked here: a send streams and is stored (user message,
// reply adopted by its transcript entry, a title); a conversation held on
// another surface (the gateway's CLI) while the agent is stopped is
// imported when it starts, and one held while it runs arrives live on
// GET /events; everything survives restarting the agent and the gateway;
// stop aborts a running reply; search finds an old message; memory notes
// (the built-in provider) are added, listed, searched, deleted, and a
// thread with memory on sends the relevant note to the model while the
// stored message stays what the user typed; deleting a thread deletes the
// OpenClaw session (sessions.list no longer has it).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile, chmod, readdir } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import path from 'node:path';
import {
  e2e, cleanupAll, ms, startRelay, api, show, expectStatus, signup, createProject,
  pairAgent, startAgent, waitFor, tail, tempDir,
} from './lib/harness.mjs';
import { startFakeModel } from './lib/fake-model.mjs';
import { startGateway, postSse, ensureOpenclaw } from './lib/openclaw.mjs';

after(cleanupAll);

const REPLY = 'Hello from the fake model, streamed in several chunks for the chat bridge.';
const CAPS = ['terminal', 'chat', 'status'];

/** Runs the gateway's own CLI against gw (the "other surface"). */
function ocCli(gw, args, timeout = ms(180_000)) {
  const { openclawBin, nodeBin } = ensureOpenclaw();
  const env = {
    PATH: `${path.dirname(nodeBin)}:${process.env.PATH || '/usr/bin:/bin'}`,
    HOME: gw.stateDir,
    LANG: 'C.UTF-8',
    TMPDIR: path.join(gw.stateDir, 'tmp'),
    OPENCLAW_STATE_DIR: gw.stateDir,
    OPENCLAW_CONFIG_PATH: gw.configPath,
    OPENCLAW_SKIP_CHANNELS: '1',
    OPENCLAW_DISABLE_BONJOUR: '1',
    OPENCLAW_NO_AUTO_UPDATE: '1',
  };
  return new Promise((resolve, reject) => {
    execFile(nodeBin, [openclawBin, ...args], { env, cwd: gw.stateDir, timeout, maxBuffer: 16 << 20 },
      (err, stdout, stderr) => (err
        ? reject(new Error(`openclaw ${args.join(' ')}: ${err.message}\n${tail(`${stdout}\n${stderr}`, 30)}`))
        : resolve(stdout)));
  });
}

/** The session keys the gateway lists (sessions.list through its CLI). */
async function gatewayKeys(gw) {
  const out = await ocCli(gw, ['gateway', 'call', 'sessions.list', '--json', '--port', String(gw.port),
    '--token', gw.token, '--params', JSON.stringify({ limit: 200 })]);
  const j = JSON.parse(out.slice(out.indexOf('{')));
  return (j.sessions || j.payload?.sessions || []).map((s) => s.key);
}

/** Follows GET .../chat/events: {events, close()}. */
function follow(relay, deviceId, token) {
  const ctl = new AbortController();
  const events = [];
  const done = (async () => {
    const res = await fetch(`${relay.url}/api/v1/devices/${deviceId}/chat/events`, {
      headers: { authorization: `Bearer ${token}` }, signal: ctl.signal,
    });
    events.status = res.status;
    const reader = res.body.getReader();
    const dec = new TextDecoder();
    let buf = '';
    for (;;) {
      const { value, done: end } = await reader.read();
      if (end) break;
      buf += dec.decode(value, { stream: true });
      let i;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        let event = 'message';
        const data = [];
        for (const line of block.split('\n')) {
          if (line.startsWith('event: ')) event = line.slice(7);
          else if (line.startsWith('data: ')) data.push(line.slice(6));
        }
        events.push({ event, data: data.length ? JSON.parse(data.join('\n')) : null });
      }
    }
  })().catch(() => {});
  return { events, close: async () => { ctl.abort(); await done; } };
}

test('the chat bridge through the relay, against a real gateway', { timeout: ms(20 * 60_000) }, e2e(async (t, scope) => {
  const model = await startFakeModel({ reply: REPLY, chunks: 5, delayMs: 30 });
  scope.add({ name: 'fake model', cleanup: () => model.close() });
  const gw = await startGateway(scope, { modelUrl: model.baseUrl });
  const relay = await startRelay();
  const owner = await signup(relay);
  const project = await createProject(relay, owner.token, 'Chat');
  const paired = await pairAgent(relay, { token: owner.token, projectId: project.id, name: 'chat-agent' });
  const cfg = JSON.parse(await readFile(paired.configPath, 'utf8'));
  cfg.openclaw = { url: gw.url, token: gw.token };
  cfg.capabilities = CAPS;
  await writeFile(paired.configPath, JSON.stringify(cfg, null, 2));
  await chmod(paired.configPath, 0o600);
  const dbDir = await tempDir('clawlink-chatdb-');
  const chatDb = path.join(dbDir, 'clawlink', 'chat.db');
  const dev = paired.deviceId;
  let agent;
  const agents = [];
  const startIt = async () => {
    agent = await startAgent(paired.configPath, {
      relay, token: owner.token, projectId: project.id, deviceId: dev, extraArgs: ['--chat-db', chatDb],
    });
    agents.push(agent);
    await waitFor(() => /connected to the OpenClaw gateway/.test(agent.logs()), {
      timeout: ms(90_000), what: 'the agent to reach the gateway', describe: () => tail(agent.logs(), 30),
    });
  };
  await startIt();
  const procs = () => [agent, gw, relay];
  const describe = () => procs().map((p) => `--- ${p.name} ---\n${tail(p.logs(), 30)}`).join('\n');
  const chat = (method, p, body) => api(relay, method, `/api/v1/devices/${dev}/chat${p}`, body, owner.token);
  const send = (threadId, content) => postSse(relay, `/api/v1/devices/${dev}/chat/threads/${threadId}/messages`, { content }, owner.token, { timeout: ms(120_000) });
  const messages = async (threadId, q = '') => {
    const r = await chat('GET', `/threads/${threadId}/messages${q}`);
    expectStatus(r, 200, relay);
    return r.body.messages;
  };
  const threadByKey = async (key) => {
    const r = await chat('GET', '/threads?limit=200');
    expectStatus(r, 200, relay);
    return r.body.threads.find((x) => x.session_key === key);
  };
  assert.match(agent.logs(), /serving chat/);

  let first;
  await t.test('send: the user message, the deltas, the reply stored and adopted, a title', async () => {
    const created = await chat('POST', '/threads', {});
    expectStatus(created, 201, relay);
    first = created.body;
    assert.match(first.session_key, /^agent:main:clawlink-[0-9a-f]{16}$/);
    // pieces far enough apart that the gateway sends several deltas
    model.state.delayMs = 300;
    const r = await send(first.id, 'Please greet the bridge');
    model.state.delayMs = 30;
    assert.equal(r.status, 200, `send: ${r.status} ${r.text}\n${describe()}`);
    assert.equal(r.events[0].event, 'message');
    const user = r.events[0].data.message;
    assert.equal(user.role, 'user');
    assert.equal(user.content, 'Please greet the bridge');
    assert.equal(user.state, 'final');
    assert.ok(user.sender_user_id, 'the clawlink user is recorded');
    const deltas = r.events.filter((e) => e.event === 'delta');
    assert.ok(deltas.length >= 1, `deltas: ${r.text}`);
    // the first delta is the text so far, the next ones only what was
    // appended (docs/chat.md "Streams"): each step a prefix of the reply
    assert.equal(typeof deltas[0].data.text, 'string', JSON.stringify(deltas[0].data));
    let sofar = '';
    for (const d of deltas) {
      sofar = typeof d.data.text === 'string' ? d.data.text : sofar + d.data.append;
      assert.ok(REPLY.startsWith(sofar), `a delta continues the reply: ${JSON.stringify(sofar)}`);
    }
    assert.ok(deltas.length > 1, `several deltas: ${r.text}`);
    assert.ok(deltas.slice(1).some((d) => typeof d.data.append === 'string'), `later deltas append: ${r.text}`);
    const done = r.events.at(-1);
    assert.equal(done.event, 'done', r.text);
    assert.equal(done.data.message.state, 'final');
    assert.equal(done.data.message.content, REPLY);
    // the transcript's entries take over the provisional rows: two rows, gateway ids
    await waitFor(async () => {
      const ms2 = await messages(first.id);
      return ms2.length === 2 && ms2.every((m) => !m.gateway_id.startsWith('run:'));
    }, { timeout: ms(30_000), what: 'the transcript entries to adopt the rows', describe });
    const ms2 = await messages(first.id);
    assert.deepEqual(ms2.map((m) => m.role), ['user', 'assistant']);
    assert.equal(ms2[0].content, 'Please greet the bridge');
    assert.equal(ms2[0].sender_user_id, user.sender_user_id);
    assert.equal(ms2[1].content, REPLY);
    const th = (await chat('GET', `/threads/${first.id}`)).body;
    assert.equal(th.title, 'Please greet the bridge');
    assert.ok((await gatewayKeys(gw)).includes(first.session_key), 'the gateway has the session');
  });

  await t.test('a conversation held elsewhere while the agent runs appears live on /events', async () => {
    const f = follow(relay, dev, owner.token);
    try {
      await waitFor(() => f.events.some((e) => e.event === 'ping'), { timeout: ms(15_000), what: 'the events stream to open' });
      await ocCli(gw, ['agent', '-m', 'live from the cli', '--session-key', 'agent:main:cli-live', '--json']);
      await waitFor(() => f.events.some((e) => e.event === 'message' && e.data.message.content === REPLY
        && e.data.message.gateway_id && !e.data.message.gateway_id.startsWith('run:')), {
        timeout: ms(60_000), what: 'the reply held elsewhere on /events', describe: () => `${JSON.stringify(f.events.slice(-10))}\n${describe()}`,
      });
      const th = await threadByKey('agent:main:cli-live');
      assert.ok(th, 'the thread exists');
      await waitFor(async () => (await messages(th.id)).some((m) => m.role === 'user' && m.content === 'live from the cli'),
        { timeout: ms(30_000), what: 'the cli user message stored', describe });
      assert.equal((await messages(th.id)).find((m) => m.role === 'user').sender_user_id, null);
    } finally {
      await f.close();
    }
  });

  await t.test('held while the agent was stopped: imported when it starts; all survives the restarts', async () => {
    await agent.stop();
    await ocCli(gw, ['agent', '-m', 'while you were away', '--session-key', 'agent:main:cli-offline', '--json']);
    await startIt();
    await waitFor(async () => {
      const th = await threadByKey('agent:main:cli-offline');
      if (!th) return false;
      const ms2 = await messages(th.id);
      return ms2.some((m) => m.content === 'while you were away') && ms2.some((m) => m.content === REPLY);
    }, { timeout: ms(60_000), what: 'the offline conversation imported', describe });
    // the first conversation is still there, once
    assert.equal((await messages(first.id)).length, 2);

    // the gateway restarts: nothing is lost, nothing doubled, sending works again
    await gw.stop();
    await gw.start();
    await waitFor(async () => {
      const r = await send(first.id, 'Again after the restart');
      return r.status === 200 && r.events.at(-1).event === 'done';
    }, { timeout: ms(90_000), interval: 2000, what: 'a send after the gateway restart', describe });
    await waitFor(async () => (await messages(first.id)).length === 4, { timeout: ms(30_000), what: 'four messages', describe });
    const all = await messages(first.id);
    assert.equal(new Set(all.map((m) => m.gateway_id)).size, 4, 'no message twice');
  });

  await t.test('stop aborts a running reply', async () => {
    model.state.delayMs = 1500;
    try {
      const running = send(first.id, 'Take your time');
      await waitFor(async () => {
        const ms2 = await messages(first.id);
        return ms2.some((m) => m.state === 'streaming');
      }, { timeout: ms(60_000), interval: 100, what: 'the reply to be streaming', describe });
      const r = await chat('POST', `/threads/${first.id}/stop`);
      expectStatus(r, 200, relay);
      assert.equal(r.body.aborted, true, show(r));
      assert.equal(r.body.run_ids.length, 1);
      const s = await running;
      const last = s.events.at(-1);
      assert.equal(last.event, 'done', s.text);
      assert.equal(last.data.message.state, 'aborted');
    } finally {
      model.state.delayMs = 30;
    }
  });

  await t.test('search finds an old message', async () => {
    const r = await chat('GET', '/search?q=greet');
    expectStatus(r, 200, relay);
    const hit = r.body.hits.find((h) => h.thread_id === first.id);
    assert.ok(hit, show(r));
    assert.equal(hit.kind, 'message');
    assert.match(hit.snippet, /\[\[greet\]\]/);
    assert.equal(hit.thread_title, 'Please greet the bridge');
  });

  await t.test('memory: add, list, search, delete; a thread with memory on gets the context', async () => {
    const add = await chat('POST', '/memory', { text: 'The deploy codeword is PINEAPPLE-42', tags: 'ops' });
    expectStatus(add, 201, relay);
    const list = await chat('GET', '/memory');
    expectStatus(list, 200, relay);
    assert.ok(list.body.notes.some((n) => n.id === add.body.id));
    const found = await chat('GET', '/memory/search?q=codeword');
    expectStatus(found, 200, relay);
    assert.equal(found.body.hits[0].id, add.body.id);

    const th = await chat('POST', '/threads', { title: 'With memory', memory: true });
    expectStatus(th, 201, relay);
    assert.equal(th.body.memory, true);
    const asked = model.requests.length;
    const r = await send(th.body.id, 'What is the deploy codeword?');
    assert.equal(r.events.at(-1).event, 'done', r.text);
    const sent = JSON.stringify(model.requests.slice(asked).map((q) => q.body));
    assert.match(sent, /PINEAPPLE-42/, 'the model got the note');
    assert.match(sent, /clawlink memory/, 'inside the delimited block');
    await waitFor(async () => (await messages(th.body.id)).every((m) => !m.gateway_id.startsWith('run:')),
      { timeout: ms(30_000), what: 'adoption', describe });
    const stored = (await messages(th.body.id)).find((m) => m.role === 'user');
    assert.equal(stored.content, 'What is the deploy codeword?', 'stored as typed');

    const del = await chat('DELETE', `/memory/${add.body.id}`);
    expectStatus(del, 204, relay);
    assert.equal((await chat('GET', '/memory/search?q=codeword')).body.hits.length, 0);
  });

  await t.test('deleting a thread deletes its OpenClaw session', async () => {
    const del = await chat('DELETE', `/threads/${first.id}`);
    expectStatus(del, 204, relay);
    assert.equal((await chat('GET', `/threads/${first.id}`)).status, 404);
    const keys = await gatewayKeys(gw);
    assert.ok(!keys.includes(first.session_key), `sessions.list still has it: ${keys.join(', ')}`);
    assert.ok(keys.includes('agent:main:cli-live'), 'the others stay');
  });

  await agent.stop();
  // nothing the gateway sent was refused or lost on the way into the store
  for (const a of agents) {
    assert.doesNotMatch(a.logs(), /cannot store a message|unreadable (history|message)|refused a mirror request|cannot send a chat answer|entries skipped/, tail(a.logs(), 40));
  }
  // and nothing of the conversation is on the relay: database, data
  // directory, log (the real agent's messages and reply; chat_relay.test
  // checks the same with a protocol peer)
  await relay.stop();
  const texts = ['Please greet the bridge', 'What is the deploy codeword?', REPLY.slice(0, 30)];
  const under = async (dir) => (await readdir(dir, { withFileTypes: true, recursive: true }))
    .filter((e) => e.isFile()).map((e) => path.join(e.parentPath ?? e.path, e.name));
  const files = await under(relay.dataDir);
  assert.ok(files.length > 0, 'the relay has a data directory');
  for (const f of files) {
    const b = await readFile(f);
    for (const t of texts) assert.ok(!b.includes(t), `${f} holds ${JSON.stringify(t)}`);
  }
  for (const t of texts) assert.ok(!relay.logs().includes(t), `the relay's log holds ${JSON.stringify(t)}`);
}));

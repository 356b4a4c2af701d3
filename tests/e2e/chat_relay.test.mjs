// The agent's chat API through the relay (issue 15, "Through the relay";
// docs/chat.md "The chat API", docs/protocol.md "Chat"), the relay's side:
// a test peer (tests/e2e/lib/chat-peer.mjs, written from the protocol) is
// the device's agent and answers chat_requests as the test says. Checked:
// the request as the agent gets it (method, path below /chat, query, user,
// body unchanged) and the answer as the caller gets it (status, JSON body,
// 204, server-sent events ending in done or error); the policy per role;
// 501 for an agent without chat, 409 offline, 429 over the cap; the
// timeout, a caller leaving, an agent leaving mid-stream, a reader too slow
// (each ends the request; the agent gets chat_cancel where it is still
// there); and that the relay's database, data directory and log never hold
// a message's text. The real agent through the relay: agentchat's tests.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import {
  e2e, cleanupAll, ms, sleep, startRelay, api, show, expectStatus, setupDevice, signup, createDevice,
  pairViaHttp, connectorHello, tail, randomId, waitFor,
} from './lib/harness.mjs';
import { addMember } from './lib/mail.mjs';
import { ChatPeer } from './lib/chat-peer.mjs';

after(cleanupAll);

const CAP = 16; // CL_CHAT_RELAY_MAX_PENDING
const ANSWER_MS = 30_000; // CL_CHAT_RELAY_ANSWER_MS
const STREAM_MAX = 1024 * 1024; // CL_HTTP_STREAM_MAX
const KEEPALIVE_MS = 15_000; // CL_CHAT_RELAY_KEEPALIVE_MS

/**
 * An SSE (or plain) call read as it arrives: {status, type, events (so
 * far), next(pred), done (resolves at the end), abort()}.
 */
async function openSse(relay, method, pathname, body, token) {
  const ac = new AbortController();
  const res = await fetch(`${relay.url}${pathname}`, {
    method,
    headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body !== undefined ? JSON.stringify(body) : undefined,
    signal: ac.signal,
  });
  const s = { status: res.status, type: res.headers.get('content-type') || '', events: [], text: '', waiters: [] };
  s.abort = () => ac.abort();
  s.next = (pred, timeout = ms(10_000)) => {
    const hit = s.events.find((e) => !e.taken && pred(e));
    if (hit) { hit.taken = true; return Promise.resolve(hit); }
    return new Promise((resolve, reject) => {
      const w = { pred, resolve };
      w.timer = setTimeout(() => reject(new Error(`no SSE event within ${timeout} ms; got ${JSON.stringify(s.events)}`)), timeout);
      s.waiters.push(w);
    });
  };
  s.done = (async () => {
    const dec = new TextDecoder();
    let buf = '';
    try {
      for await (const chunk of res.body) {
        const t = dec.decode(chunk, { stream: true });
        s.text += t;
        buf += t;
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const lines = block.split('\n');
          if (lines.every((l) => l.startsWith(':'))) { s.comments = (s.comments || 0) + 1; continue; }
          const ev = { event: 'message', lines };
          const data = [];
          for (const l of lines) {
            if (l.startsWith('event: ')) ev.event = l.slice(7);
            else if (l.startsWith('data: ')) data.push(l.slice(6));
          }
          ev.dataLines = data.length;
          ev.data = data.length ? JSON.parse(data.join('\n')) : null;
          s.events.push(ev);
          for (const w of [...s.waiters]) {
            if (w.pred(ev)) { s.waiters.splice(s.waiters.indexOf(w), 1); clearTimeout(w.timer); ev.taken = true; w.resolve(ev); break; }
          }
        }
      }
    } catch (e) {
      if (e.name !== 'AbortError') s.error = e;
    }
    return s;
  })();
  return s;
}

async function chatDevice(relay, owner) {
  const { device, pairing_code } = await createDevice(relay, owner.token, owner.projectId);
  const paired = await pairViaHttp(relay, pairing_code);
  return { deviceId: device.id, deviceToken: paired.token };
}

async function connectPeer(scope, relay, d, opts = {}) {
  const peer = new ChatPeer(relay.wsUrl, { deviceId: d.deviceId, token: d.deviceToken, ...opts });
  scope.add({ name: 'chat peer', cleanup: () => peer.close() });
  const hello = await peer.connect();
  assert.equal(hello.type, 'hello_ok', `hello: ${JSON.stringify(hello)}\n${tail(relay.logs(), 20)}`);
  return peer;
}

/** Every file under dir, recursively. */
async function filesUnder(dir) {
  const out = [];
  for (const e of await fs.readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...await filesUnder(p));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

test('requests reach the agent as sent; answers come back as JSON, 204 or server-sent events', { timeout: ms(120_000) }, e2e(async (t, scope) => {
  const relay = await startRelay();
  const owner = await setupDevice(relay);
  const d = await chatDevice(relay, owner);
  const peer = await connectPeer(scope, relay, d);
  const base = `/api/v1/devices/${d.deviceId}/chat`;

  // GET with a query: the path below /chat, the query's names and values as sent
  let r = await api(relay, 'GET', `${base}/threads?workspace_id=3&limit=5&cursor=a%26b%20c%2Bd&q=caf%C3%A9+x`, undefined, owner.token);
  const echo = expectStatus(r, 200, relay).echo;
  assert.equal(echo.method, 'GET');
  assert.equal(echo.path, '/threads');
  const q = new URLSearchParams(echo.query);
  assert.equal(q.get('workspace_id'), '3');
  assert.equal(q.get('limit'), '5');
  assert.equal(q.get('cursor'), 'a&b c+d', `query as the agent got it: ${echo.query}`);
  assert.equal(q.get('q'), 'café x', `query as the agent got it: ${echo.query}`);
  assert.deepEqual(echo.user, { id: owner.user.id, name: 'E2E User' });
  assert.equal(echo.body, undefined, 'a GET has no body');
  assert.match(echo.request_id, /^[A-Za-z0-9_.:-]+$/);

  // POST with a body: unchanged (unicode, nesting, numbers, nulls)
  const body = { content: 'héllo **wörld** ✓ "quoted" \\ back\nslash', attachments: [1, 2], nested: { a: [null, true, 1.5, -3], e: {} } };
  r = await api(relay, 'POST', `${base}/threads/12/messages`, body, owner.token);
  const e2 = expectStatus(r, 200, relay).echo;
  assert.equal(e2.method, 'POST');
  assert.equal(e2.path, '/threads/12/messages');
  assert.deepEqual(e2.body, body);
  assert.equal(e2.query, undefined);

  // every route of the contract reaches the agent with its path
  const routes = [
    ['GET', '/workspaces'], ['POST', '/workspaces'], ['PATCH', '/workspaces/4'], ['DELETE', '/workspaces/4'],
    ['GET', '/threads'], ['POST', '/threads'], ['GET', '/threads/7'], ['PATCH', '/threads/7'], ['DELETE', '/threads/7'],
    ['GET', '/threads/7/messages'], ['POST', '/threads/7/messages'], ['POST', '/threads/7/stop'],
    ['GET', '/search'], ['GET', '/memory'], ['POST', '/memory'], ['GET', '/memory/search'], ['DELETE', '/memory/9'], ['GET', '/events'],
  ];
  for (const [m, p] of routes) {
    const b = ['POST', 'PATCH'].includes(m) ? { x: p } : undefined;
    r = await api(relay, m, `${base}${p}`, b, owner.token);
    const e = expectStatus(r, 200, relay).echo;
    assert.equal(e.method, m, show(r));
    assert.equal(e.path, p, show(r));
    if (b) assert.deepEqual(e.body, b);
  }
  // not in the contract: no route (the relay forwards only what it lists)
  r = await api(relay, 'GET', `${base}/files/rename`, undefined, owner.token);
  assert.equal(r.status, 404, show(r));
  r = await api(relay, 'DELETE', `${base}/files/content`, undefined, owner.token);
  assert.equal(r.status, 405, show(r));
  r = await api(relay, 'PUT', `${base}/threads/7`, {}, owner.token);
  assert.equal(r.status, 405, show(r));
  const head = await fetch(`${relay.url}${base}/threads`, { method: 'HEAD', headers: { authorization: `Bearer ${owner.token}` } });
  assert.equal(head.status, 405, 'HEAD is not forwarded (a stream has no headers-only form)');

  // the agent's status and body pass through; 204 has no body
  peer.handler = (req, p) => {
    if (req.method === 'POST') p.respond(req.request_id, 201, { id: 41, title: 'new' });
    else if (req.method === 'DELETE') p.respond(req.request_id, 204);
    else p.respond(req.request_id, 404, { error: { code: 'not_found', message: 'no such thread' } });
  };
  r = await api(relay, 'POST', `${base}/threads`, { title: 'new' }, owner.token);
  assert.deepEqual(expectStatus(r, 201, relay), { id: 41, title: 'new' });
  assert.match(r.headers.get('content-type'), /^application\/json/);
  r = await api(relay, 'DELETE', `${base}/threads/41`, undefined, owner.token);
  assert.equal(r.status, 204, show(r));
  assert.equal(r.text, '');
  r = await api(relay, 'GET', `${base}/threads/99`, undefined, owner.token);
  assert.equal(r.status, 404, show(r));
  assert.deepEqual(r.body, { error: { code: 'not_found', message: 'no such thread' } });

  // a stream: events in order, one data line each, the closing answer last as done
  peer.handler = (req, p) => {
    const id = req.request_id;
    p.event(id, 'message', { message: { id: 1, role: 'user', content: 'line one\nline two' } });
    for (const text of ['Hel', 'Hello', 'Hello there']) p.event(id, 'delta', { run_id: 'r1', text });
    p.event(id, 'ping');
    p.respond(id, 200, { message: { id: 2, role: 'assistant', content: 'Hello there', state: 'final' } });
  };
  let s = await openSse(relay, 'POST', `${base}/threads/7/messages`, { content: 'hi' }, owner.token);
  assert.equal(s.status, 200);
  assert.match(s.type, /^text\/event-stream/);
  await s.done;
  assert.deepEqual(s.events.map((e) => e.event), ['message', 'delta', 'delta', 'delta', 'ping', 'done'], s.text);
  assert.ok(s.events.every((e) => e.dataLines === 1 && e.lines.length === 2), `one event line and one data line each:\n${s.text}`);
  assert.equal(s.events[0].data.message.content, 'line one\nline two');
  assert.deepEqual(s.events.filter((e) => e.event === 'delta').map((e) => e.data.text), ['Hel', 'Hello', 'Hello there']);
  assert.deepEqual(s.events[4].data, {}, 'an event without data: {}');
  assert.equal(s.events[5].data.message.state, 'final');

  // a stream the agent ends with an error status: the last event is error, with its body
  peer.handler = (req, p) => {
    p.event(req.request_id, 'message', { message: { id: 3 } });
    p.respond(req.request_id, 502, { error: { code: 'gateway_error', message: 'the model failed' } });
  };
  s = await openSse(relay, 'POST', `${base}/threads/7/messages`, { content: 'hi' }, owner.token);
  await s.done;
  assert.deepEqual(s.events.map((e) => e.event), ['message', 'error'], s.text);
  assert.deepEqual(s.events[1].data, { error: { code: 'gateway_error', message: 'the model failed' } });
}));

test('who may chat: owner and member (as for a terminal), nobody else; 501 without a chat bridge, 409 offline', { timeout: ms(120_000) }, e2e(async (t, scope) => {
  const relay = await startRelay();
  const owner = await setupDevice(relay);
  const d = await chatDevice(relay, owner);
  const peer = await connectPeer(scope, relay, d);
  const member = await signup(relay);
  await addMember(relay, owner.token, owner.projectId, member);
  const other = await signup(relay);
  const url = `/api/v1/devices/${d.deviceId}/chat/threads`;

  let r = await api(relay, 'GET', url, undefined, member.token);
  assert.deepEqual(expectStatus(r, 200, relay).echo.user, { id: member.user.id, name: 'E2E User' }, 'the member is the sender');
  r = await api(relay, 'GET', url, undefined, other.token);
  assert.equal(r.status, 404, show(r));
  r = await api(relay, 'GET', url, undefined, undefined);
  assert.equal(r.status, 401, show(r));
  r = await api(relay, 'GET', `/api/v1/devices/00000000-0000-4000-8000-000000000000/chat/threads`, undefined, owner.token);
  assert.equal(r.status, 404, show(r));
  const seen = peer.requests.length;
  assert.equal(seen, 1, 'only the allowed caller reached the agent');

  // a PrivaClaw connector (its hello declares no chat): refused at the relay
  const c = await connectorHello(relay, owner.deviceId, owner.deviceToken);
  scope.add({ name: 'connector', cleanup: () => c.close() });
  r = await api(relay, 'GET', `/api/v1/devices/${owner.deviceId}/chat/threads`, undefined, owner.token);
  assert.equal(r.status, 501, show(r));
  assert.equal(r.body.error.code, 'no_chat_bridge');
  assert.equal(c.pending(() => true).filter((m) => m.type?.startsWith('chat')).length, 0, 'nothing sent to it');

  // a clawlink agent whose hello says no chat version: the same
  const d2 = await chatDevice(relay, owner);
  const peer2 = await connectPeer(scope, relay, d2, { chat: 0 });
  r = await api(relay, 'GET', `/api/v1/devices/${d2.deviceId}/chat/threads`, undefined, owner.token);
  assert.equal(r.status, 501, show(r));
  assert.equal(peer2.requests.length, 0);

  // offline: 409 device_offline
  await peer.close();
  await waitFor(async () => (await api(relay, 'GET', `/api/v1/devices/${d.deviceId}`, undefined, owner.token)).body?.device?.status === 'offline', { what: 'device offline' });
  r = await api(relay, 'GET', url, undefined, owner.token);
  assert.equal(r.status, 409, show(r));
  assert.equal(r.body.error.code, 'device_offline');

  // a body over 64 KiB (CL_HTTP_MAX_BODY): 413 before anything is sent
  const peer3 = await connectPeer(scope, relay, d);
  r = await api(relay, 'POST', `/api/v1/devices/${d.deviceId}/chat/memory`, { text: 'x'.repeat(70_000) }, owner.token);
  assert.equal(r.status, 413, show(r));
  assert.equal(peer3.requests.length, 0);
}));

test('bounded: the cap per device (429), the answer timeout (504 + chat_cancel), a caller leaving (chat_cancel), the agent leaving (502 / SSE error)', { timeout: ms(180_000) }, e2e(async (t, scope) => {
  const relay = await startRelay();
  const owner = await setupDevice(relay);
  const d = await chatDevice(relay, owner);
  const peer = await connectPeer(scope, relay, d);
  const base = `/api/v1/devices/${d.deviceId}/chat`;

  // the cap: CAP requests held by the agent, one more is refused at once
  peer.handler = null;
  const held = [];
  for (let i = 0; i < CAP; i++) held.push(api(relay, 'GET', `${base}/threads/${i}`, undefined, owner.token));
  await waitFor(() => peer.requests.length === CAP, { what: `${CAP} requests at the agent` });
  let r = await api(relay, 'GET', `${base}/threads`, undefined, owner.token);
  assert.equal(r.status, 429, show(r));
  assert.equal(r.body.error.code, 'busy');
  assert.equal(r.headers.get('retry-after'), '1');
  // another device is not held up by this one's
  const d2 = await chatDevice(relay, owner);
  await connectPeer(scope, relay, d2);
  expectStatus(await api(relay, 'GET', `/api/v1/devices/${d2.deviceId}/chat/threads`, undefined, owner.token), 200, relay);
  for (const req of peer.requests) peer.respond(req.request_id, 200, { n: req.path });
  const answers = await Promise.all(held);
  assert.deepEqual(answers.map((a) => a.status), Array(CAP).fill(200));
  assert.deepEqual(answers.map((a) => a.body.n), Array.from({ length: CAP }, (_, i) => `/threads/${i}`), 'each answer to its own request');

  // a caller that leaves a stream: the agent is told
  // (the response's headers go with the first event: open, then answer)
  const opening = openSse(relay, 'GET', `${base}/events`, undefined, owner.token);
  const ev = await peer.nextRequest((q) => q.path === '/events');
  peer.event(ev.request_id, 'ping', {});
  const s = await opening;
  await s.next((e) => e.event === 'ping');
  s.abort();
  // lws reads nothing while a reply goes out: the relay notices the caller
  // left when a write fails, at the latest its keepalive (":") after 15 s
  // of quiet (CL_CHAT_RELAY_KEEPALIVE_MS)
  await peer.cancelled(ev.request_id, ms(KEEPALIVE_MS + 10_000));

  // the agent leaves: a plain request gets 502, a stream ends with error device_offline
  const plain = api(relay, 'GET', `${base}/threads`, undefined, owner.token);
  const opening2 = openSse(relay, 'POST', `${base}/threads/1/messages`, { content: 'hi' }, owner.token);
  const sreq = await peer.nextRequest((q) => q.method === 'POST');
  peer.event(sreq.request_id, 'message', { message: { id: 1 } });
  const s2 = await opening2;
  await s2.next((e) => e.event === 'message');
  await peer.nextRequest((q) => q.method === 'GET' && q.path === '/threads');
  await peer.kill();
  r = await plain;
  assert.equal(r.status, 502, show(r));
  assert.equal(r.body.error.code, 'device_offline');
  await s2.done;
  assert.deepEqual(s2.events.map((e) => e.event), ['message', 'error'], s2.text);
  assert.equal(s2.events[1].data.error.code, 'device_offline');

  // the answer timeout: nothing from the agent for 30 s → 504, and chat_cancel
  const peer2 = await connectPeer(scope, relay, d);
  peer2.handler = null;
  const started = Date.now();
  // (api() gives up after 20 s: this call waits longer)
  const res = await fetch(`${relay.url}${base}/search?q=slow`, { headers: { authorization: `Bearer ${owner.token}` }, signal: AbortSignal.timeout(ms(ANSWER_MS + 30_000)) });
  r = { status: res.status, body: await res.json(), text: '', method: 'GET', path: `${base}/search` };
  assert.equal(r.status, 504, show(r));
  assert.equal(r.body.error.code, 'timeout');
  assert.ok(Date.now() - started >= ANSWER_MS - 1000, 'not before the limit');
  const last = peer2.requests.at(-1);
  await peer2.cancelled(last.request_id);
}));

test('a reader too slow is cut (CL_HTTP_STREAM_MAX) and the agent gets chat_cancel; the relay keeps no conversation', { timeout: ms(180_000) }, e2e(async (t, scope) => {
  const relay = await startRelay();
  const owner = await setupDevice(relay);
  const d = await chatDevice(relay, owner);
  const peer = await connectPeer(scope, relay, d);
  const base = `/api/v1/devices/${d.deviceId}/chat`;
  const secret = `secret-chat-text-${randomId(12)}`;

  // a conversation with a unique text everywhere it can travel
  peer.handler = (req, p) => {
    if (req.path === '/events') return; // the slow reader's, below
    p.event(req.request_id, 'message', { message: { content: `${secret} as stored` } });
    p.event(req.request_id, 'delta', { run_id: 'r', text: `${secret} reply` });
    p.respond(req.request_id, 200, { message: { content: `${secret} final` } });
  };
  const s = await openSse(relay, 'POST', `${base}/threads/1/messages?note=${secret}`, { content: `${secret} asked` }, owner.token);
  await s.done;
  assert.equal(s.events.at(-1).event, 'done', s.text);
  assert.ok(s.text.includes(`${secret} final`));
  expectStatus(await api(relay, 'POST', `${base}/memory`, { text: `${secret} note` }, owner.token), 200, relay);

  // a reader that never reads: the events pile up at the relay until
  // CL_HTTP_STREAM_MAX, then the stream is cut and the agent told
  const sock = net.connect(relay.port, '127.0.0.1');
  scope.add({ name: 'slow socket', cleanup: () => sock.destroy() });
  await new Promise((r) => sock.once('connect', r));
  sock.write(`GET ${base}/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${owner.token}\r\n\r\n`);
  sock.pause();
  const ev = await peer.nextRequest((q) => q.path === '/events');
  const chunk = { text: 'y'.repeat(60_000) };
  let sent = 0;
  while (!peer.cancels.includes(ev.request_id) && sent < 64 * STREAM_MAX) {
    peer.event(ev.request_id, 'delta', chunk);
    sent += 60_000;
    await peer.drained(256 * 1024);
    if (sent % (20 * 60_000) === 0) await sleep(20);
  }
  await peer.cancelled(ev.request_id);
  assert.ok(sent > STREAM_MAX, `cut after ${sent} bytes, not before the limit`);
  assert.match(relay.logs(), /chat stream cut: the caller does not read/);
  // the connection is dropped, not left holding the queue
  sock.resume();
  await new Promise((r) => { sock.on('close', r); sock.on('end', r); sock.on('error', r); });

  // nothing of the conversation on the relay: database, data directory, log
  await relay.stop();
  const files = await filesUnder(relay.dataDir);
  assert.ok(files.length > 0, 'the relay has a data directory');
  for (const f of files) {
    const b = await fs.readFile(f);
    assert.ok(!b.includes(secret), `${f} holds a message's text`);
  }
  assert.ok(!relay.logs().includes(secret), `the relay's log holds a message's text:\n${tail(relay.logs(), 20)}`);
  assert.match(relay.logs(), /msg="chat request".*route=\/api\/v1\/devices\/:id\/chat\/threads\/:thread\/messages/, 'the log names the route pattern');
}));

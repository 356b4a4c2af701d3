// Bad input on /connect and /session (docs/protocol.md, "Errors and close
// codes"): every malformed or unexpected message gets the documented error
// or close code, the connection survives where it should, the relay stays
// up, and no secret that was sent ends up in its log.
//
// One relay for the whole file (the last test checks it after everything
// the others threw at it); each test makes its own users and devices.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import {
  e2e, cleanupAll, watch, TEST_TIMEOUT, ms, startRelay, api, show, createProject, createDevice, pairViaHttp, startSession, wsClient,
  connectorHello, browserAuth, msg, isType, isError, expectClose, b64, unb64, signup, assertNoSecrets, randomId, sleep,
  waitDeviceStatus, waitFor,
} from './lib/harness.mjs';

let relay;
let owner; // the user owning every device below: {token, password, user, projectId}
const devices = []; // paired over HTTP once (pair-device is rate-limited per address)
const secrets = []; // every token, password and code sent to the relay

before(async () => {
  relay = await startRelay();
  owner = await signup(relay);
  const project = await createProject(relay, owner.token);
  owner.projectId = project.id;
  secrets.push(owner.token, owner.password);
  for (let i = 0; i < 3; i++) {
    const { device, pairing_code } = await createDevice(relay, owner.token, project.id, `bad-input-${i}`);
    const paired = await pairViaHttp(relay, pairing_code);
    devices.push({ deviceId: device.id, deviceToken: paired.token, pairingCode: pairing_code });
    secrets.push(paired.token, pairing_code);
  }
});
after(cleanupAll);

/**
 * Device i of the owner: 0 is the one tests bring online, 1 stays offline
 * (a second device for mismatches), 2 is for hello tests.
 */
function device(i) {
  watch(relay);
  return { ...owner, ...devices[i] };
}

/** Device i with a hand-written connector online, answering session_start. */
async function onlineDevice(i = 0) {
  const d = device(i);
  const conn = await connectorHello(relay, d.deviceId, d.deviceToken);
  conn.onMessage((m) => {
    if (m.type === 'session_start' && m.data?.session_id) conn.send(msg('session_started', { session_id: m.data.session_id }));
  });
  return { ...d, conn };
}

/** start-session + auth + session_start → session_started. */
async function browser(d, label) {
  const sessionId = await startSession(relay, d.token, d.deviceId);
  const c = await browserAuth(relay, d.token, sessionId, d.deviceId, { label });
  c.send(msg('session_start', { session_id: sessionId, cols: 80, rows: 24 }));
  await c.next(isType('session_started', (m) => m.data?.session_id === sessionId));
  return { c, sessionId };
}

/** The connection still works: ping → pong. */
async function stillAlive(c) {
  c.send(msg('ping'));
  await c.next('pong');
  assert.equal(c.closeInfo, null, `${c.label} is still open`);
}

const stdinFor = (sid) => isType('stdin', (m) => m.data?.session_id === sid);

test('/session: messages before auth → not_authenticated, close 1008', { timeout: TEST_TIMEOUT }, e2e(async () => {
  watch(relay);
  const c = await wsClient(`${relay.wsUrl}/session`, { label: 'unauthenticated browser' });
  c.send(msg('stdin', { session_id: 'ffffffff-0000-0000-0000-000000000000', data_b64: b64('ls\r') }));
  await c.next(isError('not_authenticated'));
  await expectClose(c, 1008);

  const c2 = await wsClient(`${relay.wsUrl}/session`, { label: 'unauthenticated browser (ping)' });
  c2.send(msg('ping'));
  await c2.next(isError('not_authenticated'));
  await expectClose(c2, 1008);
}));

test('/session: auth with a bad token, a foreign session or a mismatched device → close 1008', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const d = await onlineDevice();
  const sessionId = await startSession(relay, d.token, d.deviceId);
  const authFail = (m) => m.type === 'error' && ['auth_failed', 'not_found'].includes(m.data?.code);
  authFail.description = 'error auth_failed or not_found';

  const cases = [];
  const wrong = `clu_${randomId(32).slice(0, 43)}`;
  secrets.push(wrong);
  cases.push(['unknown user token', { token: wrong, session_id: sessionId, device_id: d.deviceId }]);
  cases.push(['device token instead of a user token', { token: d.deviceToken, session_id: sessionId, device_id: d.deviceId }]);
  const other = await signup(relay);
  secrets.push(other.token, other.password);
  cases.push(['another user (not a project member)', { token: other.token, session_id: sessionId, device_id: d.deviceId }]);
  const d2 = device(1);
  cases.push(['session/device mismatch', { token: d.token, session_id: sessionId, device_id: d2.deviceId }]);
  cases.push(['unknown session', { token: d.token, session_id: '00000000-0000-4000-8000-000000000000', device_id: d.deviceId }]);

  for (const [what, data] of cases) {
    const c = await wsClient(`${relay.wsUrl}/session`, { label: `auth: ${what}` });
    c.send(msg('auth', data));
    await c.next(authFail);
    await expectClose(c, 1008);
    assert.equal(c.pending('auth_ok').length, 0, `${what}: no auth_ok`);
  }
  // the legitimate user still gets in
  const ok = await browserAuth(relay, d.token, sessionId, d.deviceId, { label: 'legit browser' });
  await stillAlive(ok);
}));

test('/session: malformed, unknown, incomplete and binary messages → error, connection stays usable', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const d = await onlineDevice();
  const { c, sessionId } = await browser(d, 'browser');

  c.sendRaw('{"type": "stdin", "data": ');
  await c.next(isError('bad_json'));
  await stillAlive(c);
  c.sendRaw('[1,2,3]');
  await c.next(isError('bad_json'));
  c.sendRaw('"just a string"');
  await c.next(isError('bad_json'));
  await stillAlive(c);

  c.send(msg('launch_missiles', { session_id: sessionId }));
  await c.next(isError('unknown_type'));
  await stillAlive(c);

  c.send(msg('stdin', { session_id: sessionId }));
  await c.next(isError('bad_message'));
  c.send(msg('stdin'));
  await c.next(isError('bad_message'));
  c.send(msg('stdin', { session_id: sessionId, data_b64: 12345 }));
  await c.next(isError('bad_message'));
  c.send({ data: { session_id: sessionId } });
  const noType = await c.next('error');
  assert.ok(['bad_message', 'bad_json', 'unknown_type'].includes(noType.data?.code), `message without type: ${JSON.stringify(noType)}`);
  await stillAlive(c);

  c.send(msg('stdin', { session_id: sessionId, data_b64: '!!!not*base64!!!' }));
  await c.next(isError('bad_message'));
  c.send(msg('stdin', { session_id: sessionId, data_b64: 'abc' })); // bad padding
  await c.next(isError('bad_message'));
  await stillAlive(c);

  for (const [cols, rows] of [[0, 24], [80, 0], [1001, 24], [80, 1001], [-1, 5], ['80', 24]]) {
    c.send(msg('resize', { session_id: sessionId, cols, rows }));
    await c.next(isError('bad_message'));
  }
  c.send(msg('stdin', { session_id: 'bad id with spaces', data_b64: b64('x') }));
  const badId = await c.next('error');
  assert.ok(['bad_message', 'forbidden_session'].includes(badId.data?.code), `ill-formed session id: ${JSON.stringify(badId)}`);
  await stillAlive(c);

  c.sendRaw(Buffer.from([0x01, 0x02, 0x03, 0xff]), { binary: true });
  await c.next(isError('bad_message'));
  await stillAlive(c);

  // none of it reached the agent; valid input still does
  assert.deepEqual(d.conn.pending('stdin'), [], 'no stdin was forwarded for the bad messages');
  assert.deepEqual(d.conn.pending('resize'), [], 'no resize was forwarded for the bad messages');
  c.send(msg('stdin', { session_id: sessionId, data_b64: b64('hello agent\r') }));
  const got = await d.conn.next(stdinFor(sessionId));
  assert.equal(unb64(got.data.data_b64), 'hello agent\r');
}));

test('/session: acting on another session → forbidden_session, connection stays usable', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const d = await onlineDevice();
  const a = await browser(d, 'browser A');
  const b = await browser(d, 'browser B'); // same user, same device, another session

  a.c.send(msg('stdin', { session_id: b.sessionId, data_b64: b64('echo pwned\r') }));
  const e1 = await a.c.next(isError('forbidden_session'));
  if (e1.data?.session_id !== undefined) assert.equal(e1.data.session_id, b.sessionId, JSON.stringify(e1));
  a.c.send(msg('resize', { session_id: b.sessionId, cols: 100, rows: 30 }));
  await a.c.next(isError('forbidden_session'));
  a.c.send(msg('session_start', { session_id: b.sessionId, cols: 100, rows: 30 }));
  await a.c.next(isError('forbidden_session'));
  a.c.send(msg('session_end', { session_id: b.sessionId, reason: 'user_disconnect' }));
  await a.c.next(isError('forbidden_session'));
  await stillAlive(a.c);

  // A's own session still works, B's saw nothing
  a.c.send(msg('stdin', { session_id: a.sessionId, data_b64: b64('mine\r') }));
  const got = await d.conn.next(stdinFor(a.sessionId));
  assert.equal(unb64(got.data.data_b64), 'mine\r');
  b.c.send(msg('stdin', { session_id: b.sessionId, data_b64: b64('sync\r') }));
  await d.conn.next(stdinFor(b.sessionId));
  const leaked = d.conn.received.filter((m) => m.data?.session_id === b.sessionId && ['stdin', 'resize', 'session_end'].includes(m.type)
    && !(m.type === 'stdin' && unb64(m.data.data_b64) === 'sync\r'));
  assert.deepEqual(leaked, [], 'nothing A sent for B reached the agent');
  assert.deepEqual(b.c.pending('session_end'), [], 'B\'s session was not ended');
  await stillAlive(b.c);
}));

test('/session: a message over 1 MiB → close 1009; one under it passes', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const d = await onlineDevice();
  const { c, sessionId } = await browser(d, 'browser');

  // ~900 KiB of JSON: allowed, forwarded intact
  const payload = Buffer.alloc(660 * 1024, 0x61);
  c.send(msg('stdin', { session_id: sessionId, data_b64: payload.toString('base64') }));
  const got = await d.conn.next(stdinFor(sessionId), ms(20_000));
  assert.equal(Buffer.from(got.data.data_b64, 'base64').equals(payload), true, 'large stdin forwarded intact');
  await stillAlive(c);

  // over 1 MiB in one frame
  const tooBig = JSON.stringify(msg('stdin', { session_id: sessionId, data_b64: 'A'.repeat(1024 * 1024 + 4) }));
  c.sendRaw(tooBig);
  await expectClose(c, 1009, ms(20_000));

  // over 1 MiB after reassembly of fragments of 600 KiB each
  const { c: c2, sessionId: s2 } = await browser(d, 'browser (fragments)');
  const big = JSON.stringify(msg('stdin', { session_id: s2, data_b64: 'A'.repeat(1200 * 1024) }));
  const half = Math.floor(big.length / 2);
  c2.sendRaw(big.slice(0, half), { fin: false });
  c2.sendRaw(big.slice(half), { fin: true });
  await expectClose(c2, 1009, ms(20_000));

  // the connector and other sessions are unaffected
  const { c: c3, sessionId: s3 } = await browser(d, 'browser (after)');
  c3.send(msg('stdin', { session_id: s3, data_b64: b64('ok\r') }));
  await d.conn.next(stdinFor(s3));
}));

test('an agent that does not read is dropped (close 1008) once CL_WS_SENDQ_MAX (8 MiB) is queued for it', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const d = await onlineDevice();
  const { c, sessionId } = await browser(d, 'browser typing a lot');
  d.conn.ws._socket.pause(); // the connector stops reading: kernel buffers fill, then the relay's queue

  // 40 MiB of stdin towards it: more than the relay's queue plus any socket
  // buffers in between. Every 16th frame waits until handed to the kernel.
  const frame = JSON.stringify(msg('stdin', { session_id: sessionId, data_b64: Buffer.alloc(512 * 1024, 0x79).toString('base64') }));
  for (let i = 0; i < 80 && !c.closeInfo; i++) {
    if (i % 16 === 15) await new Promise((resolve) => c.ws.send(frame, resolve));
    else c.sendRaw(frame);
  }
  d.conn.ws._socket.resume();
  const info = await expectClose(d.conn, 1008, ms(60_000));
  assert.match(info.reason, /queue/i, `close reason: ${JSON.stringify(info)}`);
  // the relay is fine, and the device can come back
  const r = await api(relay, 'GET', '/healthz');
  assert.equal(r.status, 200, show(r));
  const again = await connectorHello(relay, d.deviceId, d.deviceToken, { label: 'connector (back)' });
  assert.equal(again.closeInfo, null);
}));

test('a text frame that is not valid UTF-8 → close 1007', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const d = await onlineDevice();
  const { c } = await browser(d, 'browser (bad UTF-8)');
  c.sendRaw(Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]), { binary: false });
  await expectClose(c, 1007);
  const pre = await wsClient(`${relay.wsUrl}/connect`, { label: 'connector (bad UTF-8 before hello)' });
  pre.sendRaw(Buffer.from([0xc3, 0x28]), { binary: false });
  await expectClose(pre, 1007);
  // the agent side is unaffected
  const again = await browser(d, 'browser (after)');
  await stillAlive(again.c);
}));

test('/connect: messages before hello → not_authenticated, close 1008', { timeout: TEST_TIMEOUT }, e2e(async () => {
  watch(relay);
  const c = await wsClient(`${relay.wsUrl}/connect`, { label: 'connector before hello' });
  c.send(msg('stdout', { session_id: 'ffffffff-0000-0000-0000-000000000000', data_b64: b64('x') }));
  await c.next(isError('not_authenticated'));
  await expectClose(c, 1008);

  const c2 = await wsClient(`${relay.wsUrl}/connect`, { label: 'connector session_started before hello' });
  c2.send(msg('session_started', { session_id: 'ffffffff-0000-0000-0000-000000000000' }));
  await c2.next(isError('not_authenticated'));
  await expectClose(c2, 1008);
}));

test('/connect: hello with a wrong token or an unknown device → auth_failed, close 1008', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const d = device(2);
  const wrong = `cld_${randomId(24)}`;
  secrets.push(wrong);
  const cases = [
    ['wrong token', { device_id: d.deviceId, token: wrong, meta: { name: 'x' } }],
    ['unknown device', { device_id: '00000000-0000-4000-8000-000000000000', token: d.deviceToken }],
    ['user token as device token', { device_id: d.deviceId, token: d.token }],
  ];
  for (const [what, data] of cases) {
    const c = await wsClient(`${relay.wsUrl}/connect`, { label: `hello: ${what}` });
    c.send(msg('hello', data));
    await c.next(isError('auth_failed'));
    await expectClose(c, 1008);
    assert.equal(c.pending('hello_ok').length, 0, `${what}: no hello_ok`);
  }
  const devs = (await api(relay, 'GET', `/api/v1/projects/${d.projectId}/devices`, undefined, d.token)).body.devices;
  assert.equal(devs.find((x) => x.id === d.deviceId).status, 'offline', 'failed hellos leave the device offline');
  // the right token still works
  const ok = await connectorHello(relay, d.deviceId, d.deviceToken);
  assert.equal(ok.closeInfo, null);
}));

test('/connect: malformed JSON before hello → bad_json and close 1008 (never left open unauthenticated); a new connection still works', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const d = device(2);
  const c = await wsClient(`${relay.wsUrl}/connect`, { label: 'connector garbage' });
  c.sendRaw('{"type": "hello", "data": {');
  await c.next(isError('bad_json'));
  await expectClose(c, 1008);
  const c2 = await wsClient(`${relay.wsUrl}/connect`, { label: 'connector hello' });
  c2.send(msg('hello', { device_id: d.deviceId, token: d.deviceToken, meta: { name: 'late' } }));
  await c2.next('hello_ok');
}));

test('/connect: bad messages after hello → error, connection keeps serving sessions', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const d = await onlineDevice();
  const { conn } = d;
  const { c, sessionId } = await browser(d, 'browser');

  conn.sendRaw('not json');
  await conn.next(isError('bad_json'));
  conn.send(msg('teleport', { session_id: sessionId }));
  await conn.next(isError('unknown_type'));
  conn.send(msg('stdout', { session_id: sessionId }));
  await conn.next(isError('bad_message'));
  conn.send(msg('stdout', { session_id: sessionId, data_b64: '%%%' }));
  await conn.next(isError('bad_message'));
  conn.send(msg('session_end', { session_id: sessionId, reason: 'exit', exit_code: 'three' }));
  await conn.next(isError('bad_message'));
  conn.sendRaw(Buffer.from([0, 1, 2, 3]), { binary: true });
  await conn.next(isError('bad_message'));
  assert.equal(conn.closeInfo, null, 'connector connection still open');

  // nothing of that reached the browser; a valid stdout does
  conn.send(msg('stdout', { session_id: sessionId, data_b64: b64('still here\r\n') }));
  const out = await c.next(isType('stdout', (m) => m.data?.session_id === sessionId));
  assert.equal(unb64(out.data.data_b64), 'still here\r\n');
  assert.deepEqual(c.pending('session_end'), [], 'no session_end was forwarded for the bad one');

  // a new session is still routed to this connector
  const other = await browser(d, 'browser 2');
  other.c.send(msg('stdin', { session_id: other.sessionId, data_b64: b64('x') }));
  await conn.next(stdinFor(other.sessionId));

  // too big → 1009
  conn.sendRaw(JSON.stringify(msg('stdout', { session_id: sessionId, data_b64: 'A'.repeat(1100 * 1024) })));
  await expectClose(conn, 1009, ms(20_000));
}));

test('/session: session_start while the device is offline → device_offline, connection stays open', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const d = await onlineDevice();
  const sessionId = await startSession(relay, d.token, d.deviceId);
  d.conn.close();
  await d.conn.closed;
  await waitDeviceStatus(relay, d.token, d.projectId, d.deviceId, 'offline');
  const c = await browserAuth(relay, d.token, sessionId, d.deviceId, { label: 'browser of an offline device' });
  c.send(msg('session_start', { session_id: sessionId, cols: 80, rows: 24 }));
  await c.next(isError('device_offline'));
  await stillAlive(c);
  // the agent comes back: the same session can start
  const conn = await connectorHello(relay, d.deviceId, d.deviceToken, { label: 'connector (back)' });
  c.send(msg('session_start', { session_id: sessionId, cols: 80, rows: 24 }));
  const ss = await conn.next(isType('session_start', (m) => m.data?.session_id === sessionId));
  assert.equal(ss.data.cols, 80);
}));

/**
 * Sends raw bytes on a fresh TCP connection; resolves with everything read
 * until the relay closes it (or 5 s). With {settleMs}, resolves that long
 * after the first complete answer instead (a kept-alive connection: lws
 * closes an idle one after its 5 s keep-alive, which a sanitizer's slower
 * run would otherwise reach).
 */
function rawHttp(port, bytes, { settleMs } = {}) {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1', () => sock.write(bytes));
    let out = '';
    let closed = false;
    let settle;
    sock.setEncoding('latin1');
    sock.on('data', (d) => {
      out += d;
      const head = out.indexOf('\r\n\r\n');
      const len = /content-length: *(\d+)/i.exec(out);
      if (settleMs && !settle && head >= 0 && len && out.length >= head + 4 + Number(len[1])) {
        settle = setTimeout(() => { clearTimeout(t); sock.destroy(); resolve({ out, closed }); }, settleMs);
      }
    });
    sock.on('error', () => {});
    const t = setTimeout(() => { sock.destroy(); resolve({ out, closed }); }, ms(5_000));
    sock.on('close', () => { closed = true; clearTimeout(t); clearTimeout(settle); resolve({ out, closed }); });
  });
}

test('HTTP framing (RFC 9112 section 6): ambiguous bodies are refused once and the connection closed, never read as a second request', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const body = JSON.stringify({ email: 'x@example.com', password: 'not-it' });
  const smuggled = 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n';
  const cases = [
    ['Content-Length and Transfer-Encoding', 400,
      `POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${smuggled}`],
    ['two Content-Length', 400,
      `POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 40\r\n\r\n{}${smuggled}`],
    ['Transfer-Encoding alone (chunked)', 411,
      `POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`],
    ['Transfer-Encoding alone (gzip)', 501,
      'POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n'],
    ['a body on GET', 400, `GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: ${smuggled.length}\r\n\r\n${smuggled}`],
    ['Content-Length not a number', 400, 'POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: +2\r\n\r\n{}'],
  ];
  for (const [what, status, bytes] of cases) {
    const r = await rawHttp(relay.port, bytes);
    const statuses = r.out.match(/^HTTP\/1\.1 \d+/gm) || [];
    assert.deepEqual(statuses, [`HTTP/1.1 ${status}`], `${what}: one answer, ${status}:\n${r.out.slice(0, 400)}`);
    assert.equal(r.closed, true, `${what}: the connection is closed after it`);
  }
  // A well-framed request still works, and keeps its connection.
  const ok = await rawHttp(relay.port, `POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`, { settleMs: 500 });
  assert.match(ok.out, /^HTTP\/1\.1 401 /);
  assert.equal(ok.closed, false, 'kept alive');
}));

test('after all the bad input the relay is alive and never logged a secret', { timeout: TEST_TIMEOUT }, e2e(async () => {
  watch(relay);
  await sleep(200); // let the log writes of the previous tests land
  const r = await api(relay, 'GET', '/healthz');
  assert.equal(r.status, 200, show(r));
  assert.equal(relay.proc.exitCode, null, 'relay still running');
  assert.ok(secrets.length > 0, 'the previous tests registered their secrets');
  assertNoSecrets(relay, secrets, 'relay');
  relay.handle.checkSanitizer();
}));

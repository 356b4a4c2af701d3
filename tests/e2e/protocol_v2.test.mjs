// Protocol v2 (docs/protocol.md, "Protocol v2"): negotiated with
// "proto": 2 in hello and auth; stdin and stdout travel as binary frames.
// v1 and v2 peers mix freely: the relay converts between them.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  e2e, cleanupAll, TEST_TIMEOUT, ms, startRelay, startSession, attachTerminal, setupDevice,
  connectorHello, wsClient, msg, isType, isError, encodeBinFrame, decodeBinFrame,
  b64, unb64, assertNoSecrets, waitFor,
} from './lib/harness.mjs';
import { OutputStream, openViewer, setupAgent, sha256, bigText } from './lib/extra.mjs';

after(cleanupAll);

test('v2 browser and v2 agent: auth_ok says proto 2, keystrokes and output are binary frames', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const env = await setupAgent();
  await waitFor(() => /connected to relay.*proto=2/.test(env.agent.logs()), { what: 'the agent to log that it negotiated v2' });
  const sessionId = await startSession(env.relay, env.token, env.deviceId);
  const term = await attachTerminal(env.relay, env.token, sessionId, env.deviceId, { proto: 2 });
  assert.equal(term.proto, 2, 'auth_ok carries proto 2');
  await term.readUntil(/\$ $/);
  term.write('echo $((6*7))\r');
  await term.readUntil(/\r\n42\r\n/);
  assert.ok(term.binaryFrames() > 0, 'stdout came as binary frames');
  assert.deepEqual(term.offsetProblems(), [], 'offsets continuous');
  assert.equal(term.ws.received.filter((m) => m.type === 'stdout').length, 0, 'no JSON stdout on a v2 connection');
}));

test('a 20 MiB stream to a v2 and a v1 viewer of the same session: both byte-exact, v2 binary, v1 JSON', { timeout: TEST_TIMEOUT * 2 }, e2e(async (t, scope) => {
  // The window follows the fastest viewer; a ring larger than the file
  // lets the slower one (JSON, base64) catch up by replay instead of
  // getting a gap, however far behind it falls (it does under ASan).
  const env = await setupAgent({ agentArgs: ['--ring-size', '32M'] });
  const file = bigText(20 << 20);
  await writeFile(path.join(env.agent.home, 'big.txt'), file);
  const sessionId = await startSession(env.relay, env.token, env.deviceId);
  const opts = (stream, extra) => ({ wsUrl: env.relay.wsUrl, token: env.token, sessionId, deviceId: env.deviceId, stream, resumeOffset: 0, ack: 'explicit', ...extra });
  const s2 = new OutputStream();
  const s1 = new OutputStream();
  const v2 = await openViewer(scope, opts(s2, { proto: 2, label: 'v2 viewer' }));
  const v1 = await openViewer(scope, opts(s1, { label: 'v1 viewer', start: null }));
  assert.equal(v2.proto, 2);
  assert.equal(v1.proto, 1);
  await s2.waitFor('$ ');
  v2.write('stty -onlcr -echo; echo __ST""ART__; cat big.txt; echo __E""ND__\r');
  for (const s of [s2, s1]) await s.waitFor('__END__\n', { timeout: ms(120_000) });
  for (const [v, s] of [[v2, s2], [v1, s1]]) {
    assert.deepEqual(v.problems, [], `${v.label}: offsets continuous`);
    assert.deepEqual(v.gaps, [], `${v.label}: no gap`);
    assert.equal(s.dups, 0, `${v.label}: nothing twice`);
    const got = s.between('__START__\n', '__END__\n');
    assert.ok(got, `${v.label}: markers found`);
    assert.equal(got.length, file.length, `${v.label}: length`);
    assert.equal(sha256(got), sha256(file), `${v.label}: SHA-256 equals the file`);
  }
  assert.ok(v2.binaryFrames > 0, 'the v2 viewer got binary frames');
  assert.equal(v1.binaryFrames, 0, 'the v1 viewer got none');
  assert.ok(!v1.types.has('<binary>'), 'the v1 viewer never saw a binary frame');
}));

test('v2 browser, v1 agent (clawlink up --proto 1): the relay converts both ways', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const env = await setupAgent({ agentArgs: ['--proto', '1'] });
  await waitFor(() => /connected to relay.*proto=1/.test(env.agent.logs()), { what: 'the agent to log that it speaks v1' });
  const sessionId = await startSession(env.relay, env.token, env.deviceId);
  const term = await attachTerminal(env.relay, env.token, sessionId, env.deviceId, { proto: 2 });
  assert.equal(term.proto, 2);
  await term.readUntil(/\$ $/);
  term.write('echo $((6*7))\r');
  await term.readUntil(/\r\n42\r\n/);
  assert.ok(term.binaryFrames() > 0, 'the browser still gets binary frames');
  assert.deepEqual(term.offsetProblems(), []);
}));

test('a PrivaClaw connector (JSON only) serving a v2 browser: binary stdin arrives as data_b64', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const relay = await startRelay();
  const dev = await setupDevice(relay);
  const conn = await connectorHello(relay, dev.deviceId, dev.deviceToken);
  assert.equal(conn.received.find((m) => m.type === 'hello_ok').data, undefined, 'hello_ok stays as PrivaClaw sends it when v2 was not asked for');
  const sessionId = await startSession(relay, dev.token, dev.deviceId);
  const ws = await wsClient(`${relay.wsUrl}/session`, { label: 'v2 browser' });
  ws.send(msg('auth', { token: dev.token, session_id: sessionId, device_id: dev.deviceId, proto: 2 }));
  const ok = await ws.next('auth_ok');
  assert.equal(ok.data?.proto, 2);
  ws.send(msg('session_start', { session_id: sessionId, cols: 80, rows: 24 }));
  await conn.next(isType('session_start', (m) => m.data.session_id === sessionId));
  conn.send(msg('session_started', { session_id: sessionId }));
  await ws.next('session_started');
  ws.sendRaw(encodeBinFrame('stdin', sessionId, 0, Buffer.from('ls\r')), { binary: true });
  const stdin = await conn.next('stdin');
  assert.equal(unb64(stdin.data.data_b64), 'ls\r', 'converted to JSON for the v1 connector');
  conn.send(msg('stdout', { session_id: sessionId, data_b64: b64('file.txt\r\n') }));
  const out = await ws.next((m) => m.binary);
  const f = decodeBinFrame(out.data);
  assert.equal(f.type, 'stdout');
  assert.equal(f.sessionId, sessionId);
  assert.equal(f.offset, 0, 'the relay counts offsets for a connector that sends none');
  assert.equal(f.payload.toString(), 'file.txt\r\n');
}));

test('bad binary frames: before v2 → bad_message; malformed, unknown type, other session → clear errors, connection stays usable', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const env = await setupAgent();
  const sessionId = await startSession(env.relay, env.token, env.deviceId);
  // a v1 browser sending binary
  const v1 = await attachTerminal(env.relay, env.token, sessionId, env.deviceId, { label: 'v1' });
  v1.ws.sendRaw(encodeBinFrame('stdin', sessionId, 0, Buffer.from('x')), { binary: true });
  const e1 = await v1.ws.next(isError('bad_message'));
  assert.match(e1.data.message, /proto/);
  // a v2 browser sending garbage
  const term = await attachTerminal(env.relay, env.token, sessionId, env.deviceId, { proto: 2, label: 'v2' });
  const cases = [
    [Buffer.from([8]), 'bad_message'], // shorter than its header
    [Buffer.from([7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 65]), 'bad_message'], // empty session id
    [Buffer.from([7, 200, 0, 0, 0, 0, 0, 0, 0, 0, 65]), 'bad_message'], // id longer than the frame
    [encodeBinFrame(14, sessionId, 0, Buffer.from('x')), 'unknown_type'],
    [encodeBinFrame('stdin', 'bad"id', 0, Buffer.from('x')), 'bad_message'],
  ];
  for (const [frame, code] of cases) {
    term.ws.sendRaw(frame, { binary: true });
    const e = await term.ws.next(isError(code));
    assert.ok(e.data.message.length > 0, `${code}: a message`);
  }
  term.ws.sendRaw(encodeBinFrame('stdin', '00000000-0000-4000-8000-000000000000', 0, Buffer.from('x')), { binary: true });
  await term.ws.next(isError('forbidden_session'));
  // a v2 browser may still send JSON stdin
  term.ws.send(msg('stdin', { session_id: sessionId, data_b64: b64('echo js""on\r') }));
  await term.readUntil(/\r\njson\r\n/);
  term.write('echo $((7*6))\r');
  await term.readUntil(/\r\n42\r\n/);
  assertNoSecrets(env.relay, [env.token], 'relay');
}));

test('acks to a v2 agent: a viewer that caught up is told CL_ACK_DELAY_MS later, a 32 KiB step at once; offsets never go back', { timeout: TEST_TIMEOUT }, e2e(async () => {
  const relay = await startRelay();
  const dev = await setupDevice(relay);
  const agent = await wsClient(`${relay.wsUrl}/connect`, { label: 'fake v2 agent' });
  agent.send(msg('hello', { device_id: dev.deviceId, token: dev.deviceToken, meta: { name: 'fake-v2' }, proto: 2 }));
  await agent.next('hello_ok');
  const sessionId = await startSession(relay, dev.token, dev.deviceId);
  const ws = await wsClient(`${relay.wsUrl}/session`, { label: 'v2 browser' });
  ws.send(msg('auth', { token: dev.token, session_id: sessionId, device_id: dev.deviceId, proto: 2 }));
  await ws.next('auth_ok');
  ws.send(msg('session_start', { session_id: sessionId, cols: 80, rows: 24 }));
  await agent.next(isType('session_start', (m) => m.data.session_id === sessionId));
  agent.send(msg('session_started', { session_id: sessionId }));
  await ws.next('session_started');
  const ack = (pred) => agent.next(isType('ack', (m) => m.data.session_id === sessionId && pred(m.data)));
  await ack((d) => d.viewers === 1); // a new viewer count is told at once

  // a keystroke's echo: 10 bytes, acked by the browser; the agent hears of it
  agent.sendRaw(encodeBinFrame('stdout', sessionId, 0, Buffer.from('0123456789')), { binary: true });
  const echo = decodeBinFrame((await ws.next((m) => m.binary)).data);
  assert.equal(echo.payload.toString(), '0123456789');
  ws.send(msg('ack', { session_id: sessionId, offset: 10 }));
  const caughtUp = await ack((d) => d.offset === 10);
  assert.equal(caughtUp.data.viewers, 1);

  // a step of 40 KiB: told as soon as the browser acks it
  const big = Buffer.alloc(40 * 1024, 0x61);
  agent.sendRaw(encodeBinFrame('stdout', sessionId, 10, big), { binary: true });
  let got = 0;
  while (got < big.length) got += decodeBinFrame((await ws.next((m) => m.binary)).data).payload.length;
  ws.send(msg('ack', { session_id: sessionId, offset: 10 + big.length }));
  await ack((d) => d.offset === 10 + big.length);
  // an older ack from the browser moves nothing back
  ws.send(msg('ack', { session_id: sessionId, offset: 5 }));
  agent.sendRaw(encodeBinFrame('stdout', sessionId, 10 + big.length, Buffer.from('x')), { binary: true });
  await ws.next((m) => m.binary);
  ws.send(msg('ack', { session_id: sessionId, offset: 11 + big.length }));
  const last = await ack(() => true);
  assert.equal(last.data.offset, 11 + big.length, 'the next ack the agent hears is the newest offset, never an older one');
}));

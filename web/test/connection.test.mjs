// web/src/terminal/connection.ts: TermConnection against a fake WebSocket
// (installed as globalThis.WebSocket, the relay's side scripted by each
// test) and node:test's fake timers, so backoff and timeouts run in no
// time. What is checked is what connection.ts and docs/protocol.md ("The
// web app's terminal") promise.
import assert from 'node:assert/strict';
import { test, beforeEach, afterEach } from 'node:test';
import { load } from './lib/load.mjs';
import { FakeWS, SID } from './lib/fake-ws.mjs';

const C = await load('terminal/connection.ts');
const { TermConnection, backoffDelay } = C;

const DEV = 'dev-1';
const URL = 'ws://relay.test/session';

const last = () => FakeWS.all[FakeWS.all.length - 1];

// The xterm.js view: write callbacks are held until the test calls them.
function sink() {
  const s = { out: '', notices: [], pending: [] };
  s.write = (d, done) => { s.out += Buffer.from(d).toString('latin1'); s.pending.push(done); };
  s.notice = (t) => { s.out += `<${t}>`; s.notices.push(t); };
  s.drawAll = () => { const p = s.pending; s.pending = []; p.forEach((f) => f()); };
  return s;
}

let realWS;
let t0;
beforeEach((t) => {
  realWS = globalThis.WebSocket;
  globalThis.WebSocket = FakeWS;
  FakeWS.all = [];
  FakeWS.failNext = false;
  t.mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'], now: 1_000_000 });
  t0 = Date.now();
  t.mock.method(Math, 'random', () => 0.5);
});
afterEach(() => {
  globalThis.WebSocket = realWS;
});

function connect(t, extra = {}) {
  const s = sink();
  const states = [];
  const ends = [];
  const errors = [];
  const conn = new TermConnection({
    url: URL, sessionId: SID, deviceId: DEV, sink: s, size: () => ({ cols: 100, rows: 30 }),
    onState: (st, m) => states.push([st, m]),
    onEnd: (r, c) => ends.push([r, c]),
    onError: (c, m) => errors.push([c, m]),
    ...extra,
  });
  t.after(() => conn.dispose());
  conn.start();
  return { conn, s, states, ends, errors, ws: last() };
}
const tick = (t, ms) => t.mock.timers.tick(ms);
// Lets time pass until the next socket is made (the backoff's wait).
function nextSocket(t) {
  const n = FakeWS.all.length;
  for (let i = 0; i < 400 && FakeWS.all.length === n; i++) tick(t, 100);
  assert.equal(FakeWS.all.length, n + 1, 'a new socket within 40 s');
  return last();
}

test('auth: no token, proto 2, the session, device and resume offset; then session_start, an ack and a ping', (t) => {
  const { conn, ws } = connect(t);
  assert.equal(ws.url, URL);
  assert.equal(ws.binaryType, 'arraybuffer');
  assert.equal(conn.state, 'connecting');
  ws.open();
  const [auth] = ws.msgs();
  assert.deepEqual(auth, { type: 'auth', data: { session_id: SID, device_id: DEV, proto: 2, resume_offset: 0 } });
  assert.ok(!('token' in auth.data), 'the cookie authenticates: no token');
  assert.equal(ws.sent.length, 1, 'nothing before auth_ok');
  ws.json('auth_ok', { proto: 2 });
  assert.equal(conn.state, 'online');
  assert.equal(conn.protocol, 2);
  assert.deepEqual(ws.msgs().map((m) => m.type), ['auth', 'session_start', 'ack', 'ping']);
  assert.deepEqual(ws.msgs('session_start')[0].data, { session_id: SID, cols: 100, rows: 30 });
  assert.deepEqual(ws.msgs('ack')[0].data, { session_id: SID, offset: 0 });
});

test('a token, when one is given (clients outside the browser), and the socket option', (t) => {
  const made = [];
  const { ws } = connect(t, { token: 'tok', socket: (u) => { const w = new FakeWS(u); made.push(w); return w; } });
  assert.equal(made.length, 1);
  ws.open();
  assert.equal(ws.msgs('auth')[0].data.token, 'tok');
});

test('auth_ok without proto: v1, stdin as JSON base64, stdout JSON accepted', (t) => {
  const { conn, s, ws } = connect(t);
  ws.open();
  ws.json('auth_ok');
  assert.equal(conn.protocol, 1);
  conn.send(Buffer.from('ls\r'));
  assert.deepEqual(ws.msgs('stdin')[0].data, { session_id: SID, data_b64: Buffer.from('ls\r').toString('base64') });
  assert.equal(ws.stdin().length, 0);
  ws.json('stdout', { session_id: SID, data_b64: Buffer.from('hi').toString('base64') }); // no offset: in order
  ws.json('stdout', { session_id: SID, data_b64: Buffer.from('!').toString('base64') });
  assert.equal(s.out, 'hi!');
  assert.equal(conn.offset, 3);
});

// Lets the microtasks queued so far run (the end of the current task).
const endOfTask = () => new Promise((r) => queueMicrotask(r));

test('acks: only after the view drew the bytes, batched within 50 ms, at the end of the task after 32 KiB', async (t) => {
  const { conn, s, ws } = connect(t);
  ws.accept();
  const acks = () => ws.msgs('ack').map((m) => m.data.offset);
  assert.deepEqual(acks(), [0]);
  ws.stdout(0, 'hello');
  ws.stdout(5, ' world');
  assert.equal(conn.offset, 11);
  tick(t, 1000);
  assert.deepEqual(acks(), [0], 'no ack before the write callback');
  assert.equal(conn.acked, 0);
  s.pending.shift()();
  tick(t, 20);
  s.pending.shift()();
  assert.equal(conn.acked, 11);
  tick(t, 29);
  assert.deepEqual(acks(), [0], 'not yet: batched');
  tick(t, 1);
  assert.deepEqual(acks(), [0, 11], 'one ack for both, 50 ms after the first callback');
  tick(t, 500);
  assert.deepEqual(acks(), [0, 11], 'nothing new: no ack');
  // 32 KiB processed: acked when the task that drew it ends
  ws.stdout(11, 'x'.repeat(C.ACK_BYTES));
  s.drawAll();
  await endOfTask();
  assert.deepEqual(acks(), [0, 11, 11 + C.ACK_BYTES]);
  // callbacks out of order (never by xterm.js, but): the ack never goes back
  ws.stdout(11 + C.ACK_BYTES, 'ab');
  ws.stdout(13 + C.ACK_BYTES, 'cd');
  s.pending[1]();
  s.pending[0]();
  s.pending = [];
  tick(t, 50);
  assert.deepEqual(acks(), [0, 11, 11 + C.ACK_BYTES, 15 + C.ACK_BYTES]);
});

test('acks: callbacks of one xterm.js slice (one task) past 32 KiB are one ack, sent when the task ends', async (t) => {
  const { conn, s, ws } = connect(t);
  ws.accept();
  const acks = () => ws.msgs('ack').map((m) => m.data.offset);
  const chunk = 16 * 1024;
  for (let i = 0; i < 10; i++) ws.stdout(i * chunk, 'y'.repeat(chunk));
  // xterm.js parses them in one slice: every callback in the same task
  s.drawAll();
  assert.equal(conn.acked, 10 * chunk);
  assert.deepEqual(acks(), [0], 'not in the middle of the slice');
  await endOfTask();
  assert.deepEqual(acks(), [0, 10 * chunk], 'one ack for the slice, for all of it');
  // the next slice: its own ack
  for (let i = 10; i < 13; i++) ws.stdout(i * chunk, 'y'.repeat(chunk));
  s.drawAll();
  await endOfTask();
  assert.deepEqual(acks(), [0, 10 * chunk, 13 * chunk]);
  // below 32 KiB: the 50 ms timer as before
  ws.stdout(13 * chunk, 'z');
  s.drawAll();
  await endOfTask();
  assert.deepEqual(acks(), [0, 10 * chunk, 13 * chunk]);
  tick(t, C.ACK_DELAY);
  assert.deepEqual(acks(), [0, 10 * chunk, 13 * chunk, 13 * chunk + 1]);
});

test('a write callback after the link dropped is acked on the next link (once, right after auth_ok)', (t) => {
  const { conn, s, ws } = connect(t);
  ws.accept();
  ws.stdout(0, 'abc');
  ws.drop(1006);
  s.drawAll();
  tick(t, 100);
  assert.equal(ws.msgs('ack').length, 1, 'not on the dead socket');
  tick(t, 1100);
  const ws2 = last();
  assert.notEqual(ws2, ws);
  ws2.open();
  assert.equal(ws2.msgs('auth')[0].data.resume_offset, 3);
  ws2.json('auth_ok', { proto: 2 });
  assert.deepEqual(ws2.msgs('ack').map((m) => m.data.offset), [3]);
  assert.equal(conn.acked, 3);
});

test('a gap is shown as the lost-bytes line, and the offset moves past it', (t) => {
  const { conn, s, ws } = connect(t);
  ws.accept();
  ws.stdout(0, 'abc');
  ws.json('gap', { session_id: SID, from: 3, to: 103 });
  assert.equal(conn.offset, 103);
  ws.stdout(103, 'def');
  assert.equal(s.out, 'abc<[… 100 bytes lost …]>def');
  // a gap that starts before what we have counts only the new part; one
  // entirely behind us, another session's, or a malformed one is ignored
  ws.json('gap', { session_id: SID, from: 100, to: 110 });
  ws.json('gap', { session_id: SID, from: 0, to: 50 });
  ws.json('gap', { session_id: 'other', from: 110, to: 500 });
  ws.json('gap', { session_id: SID, from: '110', to: 500 });
  ws.json('gap', { session_id: SID, from: 110 });
  assert.equal(s.out, 'abc<[… 100 bytes lost …]>def<[… 4 bytes lost …]>');
  assert.equal(conn.offset, 110);
  // a jump the relay did not announce is shown the same way
  ws.stdout(120, 'z');
  assert.equal(s.notices.at(-1), '[… 10 bytes lost …]');
  assert.equal(conn.offset, 121);
});

// Found by fuzz_connection.test.mjs: a gap whose `from` lay past what the
// terminal had counted only to - from as lost and skipped the rest silently;
// a fractional or huge offset in JSON left the offset fractional or rounded.
test('regression: a gap past what we have counts every skipped byte; unusable JSON offsets are ignored', (t) => {
  const { conn, s, ws } = connect(t);
  ws.accept();
  ws.stdout(0, 'abc');
  ws.json('gap', { session_id: SID, from: 40, to: 100 });
  assert.deepEqual(s.notices, ['[… 97 bytes lost …]']);
  assert.equal(conn.offset, 100);
  for (const bad of [100.5, 2 ** 53, 2 ** 60, 1e300, -5, '200']) {
    ws.json('gap', { session_id: SID, from: 100, to: bad });
    ws.json('gap', { session_id: SID, from: bad, to: 150 + Math.random() }); // (mocked: 150.5)
  }
  assert.equal(conn.offset, 100);
  assert.equal(s.notices.length, 1);
  // a JSON chunk with an unusable offset reads as one without: in order
  ws.json('stdout', { session_id: SID, data_b64: Buffer.from('xy').toString('base64'), offset: 2 ** 60 });
  ws.json('stdout', { session_id: SID, data_b64: Buffer.from('z').toString('base64'), offset: 101.5 });
  assert.equal(s.out, 'abc<[… 97 bytes lost …]>xyz');
  assert.equal(conn.offset, 103);
  assert.ok(Number.isSafeInteger(conn.offset));
});

test('overlapping and duplicate chunks are cut: every byte is shown once', (t) => {
  const { conn, s, ws } = connect(t);
  ws.accept();
  ws.stdout(0, 'abc');
  ws.stdout(1, 'bcdef'); // overlaps: "def" is new
  ws.stdout(0, 'abc'); // a duplicate
  ws.stdout(3, 'def'); // a duplicate
  ws.stdout(6, ''); // empty
  ws.stdout(6, 'zzz', 'other'); // another session
  ws.json('stdout', { session_id: SID, data_b64: Buffer.from('efgh').toString('base64'), offset: 4 }); // v1 JSON, overlapping
  ws.json('stdout', { session_id: 'other', data_b64: Buffer.from('no').toString('base64'), offset: 8 });
  ws.json('stdout', { session_id: SID, data_b64: '!!!', offset: 8 }); // bad base64: dropped
  assert.equal(s.out, 'abcdefgh');
  assert.equal(conn.offset, 8);
  // malformed frames and text are ignored, the link stays
  ws.raw([8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 65]);
  ws.raw([7, 6, 0, 0, 0, 0, 0, 0, 0, 8, ...Buffer.from(SID), 65]); // stdin from the relay: not output
  ws.text('not json');
  ws.text('{"type":"unknown_future_type","data":{"session_id":"sess-1"}}');
  assert.equal(s.out, 'abcdefgh');
  assert.equal(conn.state, 'online');
  // after a reconnect the relay replays from where we asked; an overlap is cut too
  ws.drop(1006);
  tick(t, 1100);
  const ws2 = last();
  ws2.open();
  assert.equal(ws2.msgs('auth')[0].data.resume_offset, 8);
  ws2.json('auth_ok', { proto: 2 });
  ws2.stdout(5, 'fghij');
  assert.equal(s.out, 'abcdefghij');
});

test('backoffDelay: 1 s doubling to 30 s, plus up to 20% jitter', () => {
  assert.deepEqual([0, 1, 2, 3, 4, 5, 6, 20, 100].map((a) => backoffDelay(a, 0)), [1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000, 30000]);
  assert.deepEqual([0, 4, 5].map((a) => backoffDelay(a, 1)), [1200, 19200, 36000]);
  for (let i = 0; i < 1000; i++) {
    const d = backoffDelay(i % 8);
    const base = Math.min(30000, 1000 * 2 ** (i % 8));
    assert.ok(d >= base && d <= base * 1.2, `${d}`);
  }
});

test('reconnect backoff: 1.1 s, 2.2 s, … 33 s (jitter 0.5); reset after a link that lasted 10 s', (t) => {
  const { conn, states, ws } = connect(t);
  ws.drop(1006); // never opened
  assert.equal(conn.state, 'reconnecting');
  assert.match(states.at(-1)[1], /the connection was lost; retrying in 1 s/);
  const waits = [1100, 2200, 4400, 8800, 17600, 33000, 33000];
  for (const w of waits) {
    const n = FakeWS.all.length;
    tick(t, w - 1);
    assert.equal(FakeWS.all.length, n, `not before ${w} ms`);
    tick(t, 1);
    assert.equal(FakeWS.all.length, n + 1, `after ${w} ms`);
    last().drop(1006);
  }
  // a link that lasts 10 s resets the backoff
  tick(t, 33000);
  const ok = last().accept();
  tick(t, 10_000);
  ok.json('pong');
  ok.drop(1006);
  const n = FakeWS.all.length;
  tick(t, 1100);
  assert.equal(FakeWS.all.length, n + 1, 'back to 1.1 s');
  // a short one does not
  last().accept();
  tick(t, 2000);
  last().drop(1006);
  const m = FakeWS.all.length;
  tick(t, 2199);
  assert.equal(FakeWS.all.length, m);
  tick(t, 1);
  assert.equal(FakeWS.all.length, m + 1, '2.2 s');
});

test('a WebSocket constructor that throws is retried like a lost link', (t) => {
  FakeWS.failNext = true;
  const { conn, states } = connect(t);
  assert.equal(FakeWS.all.length, 0);
  assert.equal(conn.state, 'reconnecting');
  assert.match(states.at(-1)[1], /cannot open the connection: blocked/);
  tick(t, 1100);
  assert.equal(FakeWS.all.length, 1);
});

test('restarting or close 1001: back within 250–500 ms', (t) => {
  const { ws } = connect(t);
  ws.accept();
  ws.json('restarting');
  ws.drop(1001, 'restarting');
  tick(t, 374);
  assert.equal(FakeWS.all.length, 1);
  tick(t, 1);
  assert.equal(FakeWS.all.length, 2, '250 + 0.5 × 250');
  last().accept();
  last().drop(1001);
  tick(t, 375);
  assert.equal(FakeWS.all.length, 3);
});

test('no answer to auth in 15 s, or no pong for 15 s: the link counts as dead and is retried', (t) => {
  const { conn, states, ws } = connect(t);
  ws.open();
  tick(t, C.AUTH_TIMEOUT);
  assert.deepEqual(ws.closedWith, { code: 4000, reason: 'the relay did not answer' });
  assert.equal(conn.state, 'reconnecting');
  tick(t, 1100);
  const ws2 = last().accept();
  let lat = [];
  const pings = () => ws2.msgs('ping').length;
  assert.equal(pings(), 1);
  tick(t, 40);
  ws2.json('pong');
  assert.equal(conn.latencyMs, 40);
  tick(t, C.PING_INTERVAL - 40);
  assert.equal(pings(), 2, 'a ping every 5 s');
  // no pong: dead once a ping tick sees it 15 s overdue (so within 15–20 s)
  tick(t, C.PONG_TIMEOUT - 1);
  assert.equal(ws2.closedWith, null, 'alive at 14.999 s');
  tick(t, C.PING_INTERVAL + 1);
  assert.equal(ws2.closedWith?.code, 4000);
  assert.match(states.at(-1)[1], /no answer from the relay/);
  lat = FakeWS.all.length;
  tick(t, 2200);
  assert.equal(FakeWS.all.length, lat + 1);
});

for (const [name, script, state] of [
  ['auth_failed at auth', (ws) => { ws.open(); ws.json('error', { code: 'auth_failed', message: 'sign in again' }); ws.drop(1008, 'auth failed'); }, 'failed'],
  ['not_found at auth', (ws) => { ws.open(); ws.json('error', { code: 'not_found', message: 'no such session' }); ws.drop(1008); }, 'failed'],
  ['forbidden at auth', (ws) => { ws.open(); ws.json('error', { code: 'forbidden', message: 'not yours' }); ws.drop(1008); }, 'failed'],
  ['share_revoked', (ws) => { ws.accept(); ws.json('error', { session_id: SID, code: 'share_revoked', message: 'unshared' }); ws.drop(4003, 'unshared'); }, 'failed'],
  ['close 4003', (ws) => { ws.accept(); ws.drop(4003, 'this session is no longer shared with you'); }, 'failed'],
  ['session_end', (ws) => { ws.accept(); ws.json('session_end', { session_id: SID, reason: 'exit', exit_code: 0 }); ws.drop(1000); }, 'ended'],
  ['session_ended at auth', (ws) => { ws.open(); ws.json('error', { code: 'session_ended', message: 'this session has ended' }); ws.drop(1008); }, 'ended'],
]) {
  test(`no retry after ${name}`, (t) => {
    const { conn, ws } = connect(t);
    script(ws);
    assert.equal(conn.state, state);
    tick(t, 10 * 60_000);
    assert.equal(FakeWS.all.length, 1, 'no new socket');
    assert.equal(conn.state, state);
    assert.equal(conn.send(Buffer.from('x')), false, 'input is refused');
    conn.retrySoon(); // the network came back: still nothing
    assert.equal(FakeWS.all.length, 1);
    conn.reconnect(); // the user's button: only when not ended
    assert.equal(FakeWS.all.length, state === 'ended' ? 1 : 2);
  });
}

test('session_end: the socket is closed, the reason and exit code reported; output before it kept', (t) => {
  const { conn, s, ws, ends, states } = connect(t);
  ws.accept();
  ws.stdout(0, 'bye');
  ws.json('session_end', { session_id: 'other', reason: 'exit' }); // another session's: ignored
  assert.equal(conn.state, 'online');
  ws.json('session_end', { session_id: SID, reason: 'exit', exit_code: 3 });
  assert.equal(conn.state, 'ended');
  assert.deepEqual(ends, [['exit', 3]]);
  assert.match(states.at(-1)[1], /^Session ended: .*\(exit code 3\)$/);
  assert.equal(ws.closedWith.code, 1000);
  assert.equal(s.out, 'bye');
});

test('forbidden after auth (only the starter may end it) is not fatal', (t) => {
  const { conn, ws, errors } = connect(t);
  ws.accept();
  ws.json('error', { code: 'forbidden', message: 'only the starter may end the session' });
  assert.equal(conn.state, 'online');
  assert.deepEqual(errors, [['forbidden', 'only the starter may end the session']]);
});

test('input typed while reconnecting is sent once, after auth_ok; older than 5 s or over 4 KiB is dropped', (t) => {
  const { conn, ws } = connect(t);
  assert.equal(conn.send(Buffer.from('early ')), true, 'kept while connecting');
  ws.accept();
  assert.deepEqual(ws.stdin().map((f) => f.payload.toString()), ['early ']);
  assert.deepEqual(ws.stdin().map((f) => [f.type, f.sessionId, f.offset]), [['stdin', SID, 0]]);
  conn.send(Buffer.from('now '));
  ws.drop(1006);
  assert.equal(conn.send(Buffer.from('typed ')), true);
  assert.equal(conn.send(Buffer.from('while away')), true);
  const ws2 = nextSocket(t);
  ws2.open();
  assert.equal(ws2.stdin().length, 0, 'nothing before auth_ok');
  ws2.json('auth_ok', { proto: 2 });
  assert.deepEqual(ws2.stdin().map((f) => f.payload.toString()), ['typed ', 'while away']);
  ws2.drop(1006);
  const ws3 = nextSocket(t).accept();
  assert.equal(ws3.stdin().length, 0, 'sent once, not again on the next link');
  assert.deepEqual(ws.stdin().map((f) => f.payload.toString()), ['early ', 'now ']);
  // over 4 KiB kept: refused
  ws3.drop(1006);
  assert.equal(conn.send(new Uint8Array(C.PENDING_MAX)), true);
  assert.equal(conn.send(Buffer.from('x')), false, 'over PENDING_MAX');
  // kept for more than 5 s: dropped, not sent late
  nextSocket(t).open();
  tick(t, C.PENDING_MAX_AGE);
  last().json('auth_ok', { proto: 2 });
  assert.equal(last().stdin().length, 0, 'stale input dropped');
});

test('a big paste goes as 16 KiB stdin frames, in order', (t) => {
  const { conn, ws } = connect(t);
  ws.accept();
  const big = new Uint8Array(40 * 1024).map((_, i) => i & 255);
  assert.equal(conn.send(big), true);
  const f = ws.stdin();
  assert.deepEqual(f.map((x) => x.payload.length), [16384, 16384, 8192]);
  assert.deepEqual(Buffer.concat(f.map((x) => x.payload)), Buffer.from(big));
});

test('input flow control: with a stdin_window no more than the window goes beyond the last stdin_ack; the rest follows in order', (t) => {
  const refused = [];
  const { conn, ws } = connect(t, { onInputRefused: (m) => refused.push(m) });
  ws.open();
  ws.json('auth_ok', { proto: 2, stdin_window: 40 * 1024 });
  conn.send(Buffer.from('k'));
  assert.deepEqual(ws.stdin().map((f) => f.payload.toString()), ['k'], 'a keystroke goes at once');
  const big = new Uint8Array(100 * 1024).map((_, i) => (i * 7) & 255);
  assert.equal(conn.send(big), true);
  const sent = () => ws.stdin().reduce((n, f) => n + f.payload.length, 0);
  assert.equal(sent(), 40 * 1024, 'the window (the keystroke counts)');
  assert.equal(conn.inputWaiting, 100 * 1024 + 1 - 40 * 1024);
  conn.send(Buffer.from('typed'));
  ws.json('stdin_ack', { session_id: SID, offset: 30 * 1024 });
  assert.equal(sent(), 70 * 1024);
  ws.json('stdin_ack', { session_id: SID, offset: 10 }); // never back
  assert.equal(sent(), 70 * 1024);
  ws.json('stdin_ack', { session_id: SID, offset: 10 << 20 }); // never past what was sent
  ws.json('stdin_ack', { session_id: SID, offset: 70 * 1024 });
  ws.json('stdin_ack', { session_id: SID, offset: 110 * 1024 });
  assert.equal(conn.inputWaiting, 0);
  const all = Buffer.concat(ws.stdin().map((f) => f.payload));
  assert.deepEqual(all, Buffer.concat([Buffer.from('k'), Buffer.from(big), Buffer.from('typed')]), 'every byte once, in order');
  assert.ok(ws.stdin().every((f) => f.payload.length <= C.STDIN_CHUNK));
  assert.deepEqual(refused, []);
});

test('input that cannot wait is refused whole: a paste over INPUT_MAX, or one that does not fit beside a backlog; input_busy from the relay is shown', (t) => {
  const refused = [];
  const { conn, ws } = connect(t, { onInputRefused: (m) => refused.push(m) });
  ws.open();
  ws.json('auth_ok', { proto: 2, stdin_window: 1024 });
  assert.equal(conn.send(new Uint8Array(C.INPUT_MAX + 1)), true);
  assert.equal(ws.stdin().length, 0, 'nothing of it sent');
  assert.match(refused[0], /too large.*Nothing was sent/);
  conn.send(new Uint8Array(C.INPUT_MAX - 10));
  const before = ws.stdin().length;
  conn.send(new Uint8Array(2048));
  assert.equal(ws.stdin().length, before, 'nothing of the second sent');
  assert.match(refused[1], /busy.*not sent, none of it/);
  ws.json('error', { code: 'input_busy', message: 'terminal busy: refused whole', session_id: SID });
  assert.equal(refused[2], 'terminal busy: refused whole');
  assert.equal(conn.inputWaiting, 0, 'what waited behind the refused input is dropped');
  // the session ends with input waiting: said, not silently lost
  conn.send(new Uint8Array(5000));
  ws.json('session_end', { session_id: SID, reason: 'exit', exit_code: 0 });
  assert.match(refused[3], /not sent: the session ended/);
});

test('a link that drops with input on its way: what waits is not sent on the next link (it would follow a hole), and the page is told', (t) => {
  const refused = [];
  const { conn, ws } = connect(t, { onInputRefused: (m) => refused.push(m) });
  ws.open();
  ws.json('auth_ok', { proto: 2, stdin_window: 1024 });
  conn.send(new Uint8Array(3000).fill(65));
  ws.json('stdin_ack', { session_id: SID, offset: 1024 });
  assert.equal(ws.stdin().reduce((n, f) => n + f.payload.length, 0), 2048);
  ws.drop(1006);
  assert.match(refused[0], /952 bytes of input .*not sent: the connection dropped/);
  const ws2 = nextSocket(t).accept();
  assert.equal(ws2.stdin().length, 0, 'nothing after a possible hole');
  // typing afterwards goes as usual
  conn.send(Buffer.from('ok'));
  assert.deepEqual(ws2.stdin().map((f) => f.payload.toString()), ['ok']);
  // input_lost from the relay: shown, and what waits is dropped
  ws2.json('auth_ok', { proto: 2, stdin_window: 1024 });
  conn.send(new Uint8Array(3000).fill(67));
  ws2.json('error', { code: 'input_lost', message: 'lost on the way', session_id: SID });
  assert.equal(refused[1], 'lost on the way');
  ws2.json('stdin_ack', { session_id: SID, offset: 1024 });
  assert.equal(ws2.stdin().reduce((n, f) => n + f.payload.length, 0), 2 + 1024, 'nothing more after the loss');
});

test('view only: no input and no size; device_offline: session_start again every 5 s', (t) => {
  const { conn, ws } = connect(t);
  ws.accept();
  conn.resize(120, 40);
  assert.deepEqual(ws.msgs('resize').map((m) => m.data), [{ session_id: SID, cols: 120, rows: 40 }]);
  conn.resize(120, 40);
  assert.equal(ws.msgs('resize').length, 1, 'the same size is not sent twice');
  ws.json('error', { session_id: SID, code: 'view_only', message: 'view only' });
  assert.equal(conn.isViewOnly, true);
  assert.equal(conn.send(Buffer.from('x')), false);
  conn.resize(90, 20);
  assert.equal(ws.msgs('resize').length, 1);
  assert.equal(ws.stdin().length, 0);
  conn.setViewOnly(false);
  assert.deepEqual(ws.msgs('resize').at(-1).data, { session_id: SID, cols: 100, rows: 30 }, 'control: its size at once');
  // the device went away
  ws.json('error', { session_id: SID, code: 'device_offline', message: 'the device is offline' });
  assert.equal(conn.state, 'offline');
  const starts = () => ws.msgs('session_start').length;
  const n = starts();
  tick(t, C.OFFLINE_PROBE);
  assert.equal(starts(), n + 1);
  tick(t, C.OFFLINE_PROBE);
  assert.equal(starts(), n + 2);
  ws.json('session_started', { session_id: SID });
  assert.equal(conn.state, 'online');
  ws.json('pong');
  tick(t, C.OFFLINE_PROBE);
  assert.equal(starts(), n + 2, 'no probe once online');
});

test('dispose: the socket closed, no retry, late events ignored', (t) => {
  const { conn, s, ws } = connect(t);
  ws.accept();
  ws.stdout(0, 'a');
  s.drawAll();
  conn.dispose();
  assert.deepEqual(ws.msgs('ack').map((m) => m.data.offset), [0, 1], 'the last ack flushed first');
  assert.equal(ws.closedWith.code, 1000);
  ws.stdout(1, 'late');
  ws.drop(1006);
  tick(t, 60_000);
  assert.equal(FakeWS.all.length, 1);
  assert.equal(s.out, 'a');
});

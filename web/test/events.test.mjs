// web/src/events.ts: the app's one /events WebSocket (docs/api.md,
// "Realtime") against a fake WebSocket and fake timers: cookie auth without
// a token, events to every listener, backoff 1 s → 30 s reset by auth_ok,
// no retry once refused, closed with the last listener; and a seeded fuzz
// of what the relay may send (nothing may throw out of the socket's
// handlers: in the browser that is a console error on every page).
import assert from 'node:assert/strict';
import { test, beforeEach, afterEach } from 'node:test';
import { load } from './lib/load.mjs';
import { FakeWS } from './lib/fake-ws.mjs';
import { prng, SEED } from './lib/prng.mjs';

globalThis.location ??= { protocol: 'https:', host: 'relay.example:8443', origin: 'https://relay.example:8443' };
const E = await load('events.ts');

const RUNS = Number(process.env.FUZZ_RUNS || 20000);

let realWS;
let stops = [];
beforeEach((t) => {
  realWS = globalThis.WebSocket;
  globalThis.WebSocket = FakeWS;
  FakeWS.all = [];
  t.mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'], now: 1_000_000 });
  stops = [];
});
afterEach(() => {
  for (const s of stops) s();
  globalThis.WebSocket = realWS;
});
const last = () => FakeWS.all[FakeWS.all.length - 1];
function listen() {
  const events = [];
  const states = [];
  stops.push(E.onEvent((e) => events.push(e)), E.onState((s) => states.push(s)));
  return { events, states };
}

test('auth without a token over wss://<host>/events; events reach every listener, a throwing one does not stop the rest', (t) => {
  const errors = t.mock.method(console, 'error', () => {});
  const bad = E.onEvent(() => { throw new Error('listener bug'); });
  stops.push(bad);
  const { events, states } = listen();
  const ws = last();
  assert.equal(FakeWS.all.length, 1, 'one socket for every listener');
  assert.equal(ws.url, 'wss://relay.example:8443/events');
  ws.open();
  assert.deepEqual(ws.msgs(), [{ type: 'auth', data: {} }]);
  ws.json('auth_ok');
  assert.equal(E.eventsState(), 'live');
  assert.equal(states.at(-1), 'live');
  const ev = { kind: 'device.online', project_id: 'p1', at: 1700000000, device_id: 'd1' };
  ws.json('event', ev);
  assert.deepEqual(events, [ev]);
  assert.equal(errors.mock.callCount(), 1);
  // a ping every 25 s keeps proxies from closing it
  t.mock.timers.tick(25_000);
  assert.equal(ws.msgs('ping').length, 1);
});

test('reconnects after 1 s, doubling to 30 s, back to 1 s after auth_ok', (t) => {
  const { states } = listen();
  last().drop(1006);
  assert.equal(E.eventsState(), 'retrying');
  for (const w of [1000, 2000, 4000, 8000, 16000, 30000, 30000]) {
    const n = FakeWS.all.length;
    t.mock.timers.tick(w - 1);
    assert.equal(FakeWS.all.length, n, `not before ${w} ms`);
    t.mock.timers.tick(1);
    assert.equal(FakeWS.all.length, n + 1, `after ${w} ms`);
    last().drop(1006);
  }
  t.mock.timers.tick(30_000);
  last().open();
  last().json('auth_ok');
  last().drop(1006);
  const n = FakeWS.all.length;
  t.mock.timers.tick(1000);
  assert.equal(FakeWS.all.length, n + 1, 'reset to 1 s');
  assert.ok(states.includes('connecting') && states.includes('retrying') && states.includes('live'));
});

test('refused (auth_failed, not_authenticated): no retry until a page listens again', (t) => {
  for (const code of ['auth_failed', 'not_authenticated']) {
    FakeWS.all = [];
    const { states } = listen();
    const ws = last();
    ws.open();
    ws.json('error', { code, message: 'sign in' });
    ws.drop(1008);
    assert.equal(states.at(-1), 'refused');
    t.mock.timers.tick(120_000);
    assert.equal(FakeWS.all.length, 1, `${code}: no retry`);
    for (const s of stops.splice(0)) s();
  }
  listen();
  assert.equal(FakeWS.all.length, 2, 'a new listener opens it again');
});

test('the last listener gone: closed (1000), nothing more', (t) => {
  const a = E.onEvent(() => {});
  const b = E.onState(() => {});
  const ws = last();
  ws.open();
  ws.json('auth_ok');
  a();
  assert.equal(ws.closedWith, null, 'one still listens');
  b();
  assert.equal(ws.closedWith?.code, 1000);
  t.mock.timers.tick(60_000);
  assert.equal(FakeWS.all.length, 1);
});


// Kept: texts that once threw out of onmessage.
const REGRESSIONS = ['null', '{"type":"event","data":null}', '{"type":"error","data":null}', '{"type":"error","data":"x"}'];

test('fuzz: whatever the relay sends, nothing throws out of the handlers', { timeout: 30_000 }, (t) => {
  t.diagnostic(`seed ${SEED} (FUZZ_SEED to replay), ${RUNS / 4} messages`);
  const got = [];
  stops.push(E.onEvent((e) => got.push(e)));
  const ws = last();
  ws.open();
  const r = prng(SEED);
  const values = ['null', 'true', '0', '"s"', '[]', '{}', '[1]', '{"code":"auth_failed"}', '{"kind":"device.online","project_id":"p","at":1}'];
  const texts = () => {
    switch (r.int(5)) {
      case 0: return r.pick(values);
      case 1: return `{"type":${r.pick(['"event"', '"error"', '"auth_ok"', '"pong"', '1', 'null'])},"data":${r.pick(values)}}`;
      case 2: return `{"type":${r.pick(['"event"', '"error"'])}}`;
      case 3: return Array.from({ length: r.int(20) }, () => r.pick(['{', '}', '"', ':', ',', 'type', 'data', 'null', '[', ']', ' '])).join('');
      default: return null; // binary
    }
  };
  for (const s of REGRESSIONS) assert.doesNotThrow(() => ws.text(s), s);
  for (let i = 0; i < RUNS / 4; i++) {
    const s = texts();
    try {
      if (s === null) ws.onmessage?.({ data: new Uint8Array(r.int(8)).buffer });
      else ws.text(s);
    } catch (e) {
      assert.fail(`seed ${SEED} case ${i}: ${JSON.stringify(s)} threw ${e}`);
    }
  }
  assert.ok(got.length > 0);
  assert.ok(got.every((e) => e !== null && typeof e === 'object'), 'listeners get objects');
});

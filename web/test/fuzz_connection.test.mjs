// A seeded random fuzzer for TermConnection's stream handling
// (web/src/terminal/connection.ts): a scripted relay sends a session's
// output as binary and JSON chunks that overlap, repeat, skip ahead, come
// with gaps, from other sessions, malformed or hostile (fractional, huge,
// negative offsets), while the link drops and comes back, the view draws
// late and the user types. After every step:
//   - nothing threw;
//   - the terminal got each byte of the stream at most once, in order,
//     and every byte it skipped is counted by a "[… N bytes lost …]" line
//     (N a whole number), so shown + lost = conn.offset;
//   - conn.offset is a whole number that never goes back, and each
//     reconnect resumes from it;
//   - acks never go back and never pass what the view has drawn;
//   - each input is sent at most once.
//   FUZZ_RUNS=… (default 20000 steps), FUZZ_SEED=… to replay.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { load } from './lib/load.mjs';
import { FakeWS, SID } from './lib/fake-ws.mjs';
import { prng, SEED } from './lib/prng.mjs';

const { TermConnection } = await load('terminal/connection.ts');
const RUNS = Number(process.env.FUZZ_RUNS || 20000);
console.log(`fuzz_connection: seed ${SEED} (FUZZ_SEED=${SEED} to replay), ${RUNS} steps`);


// The session's output stream: the byte at offset o.
const at = (o) => (Math.imul(o, 2654435761) >>> 24) & 255;
const chunk = (from, n) => Uint8Array.from({ length: n }, (_, i) => at(from + i));
const b64 = (u8) => Buffer.from(u8).toString('base64');

test('fuzz the connection: chunks, gaps, drops, hostile values', { timeout: 60_000 }, (t) => {
  t.diagnostic(`seed ${SEED}`);
  const realWS = globalThis.WebSocket;
  globalThis.WebSocket = FakeWS;
  FakeWS.all = [];
  t.after(() => { globalThis.WebSocket = realWS; });
  t.mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'], now: 1_000_000 });
  const r = prng(SEED);
  t.mock.method(Math, 'random', () => r.next());

  // the view: checks the bytes as they come
  let pos = 0; // where the next byte shown sits in the stream
  let drawn = 0; // the end of what the view has drawn
  const pending = [];
  let where = '';
  const sink = {
    write(d, done) {
      for (let i = 0; i < d.length; i++) assert.equal(d[i], at(pos + i), `${where}: byte ${pos + i} wrong (repeated or misplaced)`);
      pos += d.length;
      const end = pos;
      pending.push(() => { drawn = Math.max(drawn, end); done(); });
    },
    notice(text) {
      const m = /^\[… (\d+) bytes lost …\]$/.exec(text);
      assert.ok(m, `${where}: notice ${JSON.stringify(text)}`);
      assert.ok(Number(m[1]) > 0, `${where}: ${text}`);
      pos += Number(m[1]);
    },
  };
  const conn = new TermConnection({ url: 'ws://x/session', sessionId: SID, deviceId: 'd', sink, size: () => ({ cols: 80, rows: 24 }) });
  t.after(() => conn.dispose());
  conn.start();
  let ws = FakeWS.all[0];
  ws.accept();
  let lastOffset = 0;
  let lastAck = -1;
  let typed = 0;
  const sentInputs = new Map();
  const acksSeen = new Set();

  const steps = { chunk: 0, gap: 0, hostile: 0, drop: 0, draw: 0 };
  for (let i = 0; i < RUNS; i++) {
    where = `seed ${SEED} step ${i}`;
    const next = conn.offset;
    const k = r.int(100);
    const live = ws.readyState === 1 && conn.state === 'online';
    if (k < 63 && !live) { // (re)connecting: time passes
      t.mock.timers.tick(r.pick([100, 500, 1000, 2000]));
    } else if (k < 45) { // a chunk near where we are
      steps.chunk++;
      const from = Math.max(0, next + r.int(41) - 30 + (r.chance(0.02) ? r.int(5000) : 0));
      const n = r.int(r.chance(0.05) ? 3000 : 60);
      const sid = r.chance(0.03) ? 'other' : SID;
      if (r.chance(0.7)) ws.stdout(from, Buffer.from(chunk(from, n)), sid);
      else ws.json('stdout', { session_id: sid, data_b64: b64(chunk(from, n)), offset: from });
    } else if (k < 52) { // a gap
      steps.gap++;
      const to = next + r.int(200) - 20;
      // from may lie past us too (a chunk we could not use): all up to `to` is lost
      ws.json('gap', { session_id: SID, from: Math.max(0, to - r.int(300)), to });
    } else if (k < 60) { // hostile or malformed
      steps.hostile++;
      const bad = r.pick([1.5, -5, -0.5, 2 ** 53, 2 ** 60, 1e300, '7', null, true, [], {}, next + 0.25, -next - 1]);
      switch (r.int(5)) {
        case 0: ws.json('gap', { session_id: SID, from: r.chance(0.5) ? bad : next, to: r.chance(0.5) ? bad : next + 3 }); break;
        // an unusable offset reads as none: a v1 chunk, in order; so its bytes are the next ones
        case 1: ws.json('stdout', { session_id: SID, data_b64: b64(chunk(next, 1 + r.int(9))), offset: bad }); break;
        case 2: ws.raw(Uint8Array.from({ length: r.int(40) }, () => r.int(256))); break;
        case 3: ws.text(r.pick(['', '{', 'null', '[]', '{"type":"gap"}', '{"type":"stdout","data":{"data_b64":5}}', '{"type":"auth_ok","data":{"proto":"x"}}'])); break;
        default: ws.json('stdout', { session_id: SID, data_b64: r.pick(['!!', '', '=', 'a']), offset: next }); break;
      }
    } else if (k < 63) { // the link drops
      steps.drop++;
      ws.drop(r.pick([1006, 1000, 1001, 1011]));
    } else if (k < 80) { // the view draws some
      steps.draw++;
      for (let n = r.int(pending.length + 1); n > 0; n--) pending.shift()();
    } else if (k < 88) { // the user types
      const data = Buffer.from(`in${typed++};`);
      conn.send(data);
    } else { // time passes
      t.mock.timers.tick(r.pick([1, 10, 49, 50, 200, 1000, 5000, 16000]));
    }
    // a new socket: the relay accepts it (or not yet)
    const newest = FakeWS.all[FakeWS.all.length - 1];
    if (newest !== ws && newest.readyState === 0 && r.chance(0.8)) {
      ws = newest;
      ws.open();
      const auth = ws.msgs('auth').at(-1);
      assert.equal(auth.data.resume_offset, conn.offset, `${where}: resume from the offset`);
      ws.json('auth_ok', { proto: 2 });
    }
    // the invariants
    assert.ok(Number.isSafeInteger(conn.offset) && conn.offset >= lastOffset, `${where}: offset ${conn.offset} after ${lastOffset}`);
    assert.equal(pos, conn.offset, `${where}: shown + lost = offset`);
    lastOffset = conn.offset;
    assert.ok(conn.acked <= drawn || conn.acked === 0, `${where}: acked ${conn.acked} > drawn ${drawn}`);
    for (const s of FakeWS.all) {
      for (const d of s.sent) {
        if (typeof d === 'string') {
          if (acksSeen.has(d)) continue;
          acksSeen.add(d);
          const m = JSON.parse(d);
          if (m.type !== 'ack') continue;
          assert.ok(m.data.offset >= lastAck || s !== ws, `${where}: ack went back`);
          assert.ok(m.data.offset <= drawn, `${where}: ack ${m.data.offset} past the drawn ${drawn}`);
          lastAck = Math.max(lastAck, m.data.offset);
        }
      }
    }
  }
  // each input at most once, in the order typed
  const inputs = FakeWS.all.flatMap((s) => s.stdin()).map((f) => f.payload.toString());
  for (const x of inputs) sentInputs.set(x, (sentInputs.get(x) || 0) + 1);
  for (const [x, n] of sentInputs) assert.equal(n, 1, `input ${x} sent ${n} times`);
  const order = inputs.map((x) => Number(x.slice(2, -1)));
  assert.deepEqual(order, [...order].sort((a, b) => a - b), 'input in order');
  t.diagnostic(`steps ${JSON.stringify(steps)}; ${FakeWS.all.length} links; offset ${conn.offset}; ${inputs.length}/${typed} inputs sent`);
  assert.ok(steps.chunk > RUNS / 8 && steps.gap > RUNS / 80 && FakeWS.all.length > 3, 'the fuzzer reaches the interesting states');
});

// A seeded random fuzzer for web/src/terminal/protocol.ts, in the spirit of
// the C harnesses in tests/fuzz/: random and mutated v2 frames, JSON texts
// and base64 into the decoders. They must never throw (null is their only
// "no"), must agree with an independent decoder written from
// docs/protocol.md, and whatever they accept must encode back to the same
// bytes (frames) or the same message (JSON).
//
//   FUZZ_RUNS=200000 node --test test/fuzz_protocol.test.mjs   (default 20000 per target)
//   FUZZ_SEED=1234 node --test test/fuzz_protocol.test.mjs     (replay a reported seed)
// A failure names the seed, the case number and the input (hex / JSON).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeBinFrame } from '../../tests/e2e/lib/harness.mjs';
import { load } from './lib/load.mjs';
import { prng, SEED } from './lib/prng.mjs';

const { encodeFrame, decodeFrame, parseMsg, encodeMsg, str, num, b64encode, b64decode } = await load('terminal/protocol.ts');

const RUNS = Number(process.env.FUZZ_RUNS || 20000);
console.log(`fuzz_protocol: seed ${SEED} (FUZZ_SEED=${SEED} to replay), ${RUNS} runs per target`);


const hex = (b) => Buffer.from(b).toString('hex');
const ID_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-';
const ID_RE = /^[A-Za-z0-9._:-]+$/;
const OFFSETS = [0n, 1n, 255n, 256n, 2n ** 32n - 1n, 2n ** 32n, 2n ** 53n - 2n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 53n + 1n,
  2n ** 62n, 2n ** 63n - 1n, 2n ** 63n, 2n ** 64n - 1n];

// The reference: docs/protocol.md "Protocol v2", read independently, plus
// the web app's own limit (an offset a JS number holds exactly, ≤ 2^53−1).
function reference(buf) {
  if (buf.length < 11) return null;
  const type = buf[0];
  if (type !== 7 && type !== 8) return null;
  const L = buf[1];
  if (L < 1 || L > 64 || 10 + L > buf.length) return null;
  const offset = Buffer.from(buf.subarray(2, 10)).readBigUInt64BE(0);
  if (offset > 2n ** 53n - 1n) return null;
  const id = Buffer.from(buf.subarray(10, 10 + L)).toString('latin1');
  if (!ID_RE.test(id)) return null;
  return { type, sessionId: id, offset: Number(offset), payload: buf.subarray(10 + L) };
}

function randomId(r) {
  const n = r.chance(0.1) ? 64 : 1 + r.int(r.chance(0.5) ? 8 : 64);
  let s = '';
  for (let i = 0; i < n; i++) s += r.pick(ID_CHARS);
  return s;
}

function randomBytes(r, n) {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = r.int(256);
  return b;
}

function validFrame(r) {
  const o = r.chance(0.5) ? r.int(2 ** 31) : Number(r.pick(OFFSETS.filter((x) => x < 2n ** 53n)));
  return encodeFrame(r.chance(0.5) ? 7 : 8, randomId(r), o, randomBytes(r, r.int(r.chance(0.9) ? 40 : 3000)));
}

function mutate(r, src) {
  let b = Uint8Array.from(src);
  const n = 1 + r.int(4);
  for (let k = 0; k < n; k++) {
    switch (r.int(9)) {
      case 0: // flip a bit
        if (b.length) b[r.int(b.length)] ^= 1 << r.int(8);
        break;
      case 1: // set a byte
        if (b.length) b[r.int(b.length)] = r.pick([0, 1, 7, 8, 9, 0x20, 0x2e, 0x2f, 0x3a, 0x40, 0x7f, 0x80, 0xff, r.int(256)]);
        break;
      case 2: // truncate
        b = b.subarray(0, r.int(b.length + 1));
        break;
      case 3: // extend
        b = Uint8Array.from([...b, ...randomBytes(r, 1 + r.int(8))]);
        break;
      case 4: // the id length
        if (b.length > 1) b[1] = r.pick([0, 1, 63, 64, 65, 255, b[1] + 1, b[1] - 1, r.int(256)]) & 255;
        break;
      case 5: // the offset: a boundary value
        if (b.length >= 10) Buffer.from(b.buffer, b.byteOffset, b.byteLength).writeBigUInt64BE(r.pick(OFFSETS), 2);
        break;
      case 6: // the type
        if (b.length) b[0] = r.pick([0, 3, 6, 7, 8, 9, 16, 255]);
        break;
      case 7: // an id byte
        if (b.length > 10) b[10 + r.int(Math.min(b[1] || 1, b.length - 10))] = r.pick([0, 0x0a, 0x20, 0x2f, 0x5c, 0xc3, 0xff, 0x41]);
        break;
      case 8: // delete a byte
        if (b.length) { const i = r.int(b.length); b = Uint8Array.from([...b.subarray(0, i), ...b.subarray(i + 1)]); }
        break;
    }
  }
  return b;
}

function checkFrame(input, where) {
  let got;
  try {
    got = decodeFrame(input);
  } catch (e) {
    assert.fail(`${where}: decodeFrame threw ${e} on ${hex(input)}`);
  }
  const want = reference(input);
  if (want === null) {
    assert.equal(got, null, `${where}: accepted a frame the spec rejects: ${hex(input)}`);
    return false;
  }
  assert.ok(got, `${where}: rejected a valid frame: ${hex(input)}`);
  assert.deepEqual({ ...got, payload: hex(got.payload) }, { ...want, payload: hex(want.payload) }, `${where}: ${hex(input)}`);
  const again = encodeFrame(got.type, got.sessionId, got.offset, got.payload);
  assert.equal(hex(again), hex(input), `${where}: re-encodes differently`);
  const h = decodeBinFrame(Buffer.from(input));
  assert.ok(h && h.sessionId === got.sessionId && h.offset === got.offset, `${where}: the e2e harness disagrees: ${hex(input)}`);
  return true;
}

// Inputs found by this fuzzer (or by hand while writing it) that once
// broke a decoder or the tests' understanding of the spec: kept forever.
const FRAME_REGRESSIONS = [
  '08010000000000000000', // 10 bytes: the header without an id
  '0800000000000000000041', // L = 0
  '08020000000000000000' + '41', // L one past the end
  '0801001fffffffffffff41', // offset 2^53−1: accepted
  '0801002000000000000041', // offset 2^53: rejected
  '08017fffffffffffffff41', // 2^63−1
  '0801ffffffffffffffff41', // 2^64−1
  '0741000000000000000041', // L = 65 with only one byte
  '070100000000000000000041', // NUL id
];

test('fuzz decodeFrame: random, mutated and valid frames', { timeout: 60_000 }, (t) => {
  t.diagnostic(`seed ${SEED}`);
  for (const h of FRAME_REGRESSIONS) checkFrame(Uint8Array.from(Buffer.from(h, 'hex')), `regression ${h}`);
  const r = prng(SEED);
  let accepted = 0;
  for (let i = 0; i < RUNS; i++) {
    let input;
    const kind = r.int(10);
    if (kind === 0) input = randomBytes(r, r.int(80));
    else if (kind <= 2) input = validFrame(r);
    else input = mutate(r, validFrame(r));
    // sometimes as a view into a bigger buffer, sometimes as an ArrayBuffer
    if (r.chance(0.2)) {
      const big = randomBytes(r, input.length + 16);
      big.set(input, 7);
      input = big.subarray(7, 7 + input.length);
    }
    if (checkFrame(input, `seed ${SEED} case ${i}`)) accepted++;
    if (r.chance(0.05)) {
      const ab = input.slice().buffer;
      assert.equal(decodeFrame(ab) === null, reference(input) === null, `seed ${SEED} case ${i} (ArrayBuffer)`);
    }
  }
  t.diagnostic(`${accepted}/${RUNS} frames accepted`);
  assert.ok(accepted > RUNS / 10 && accepted < RUNS, 'the fuzzer reaches both outcomes');
});

test('fuzz encodeFrame: throws only its own errors, and what it encodes decodes back', { timeout: 60_000 }, () => {
  const r = prng(SEED ^ 0x5eed);
  const ids = () => (r.chance(0.7) ? randomId(r) : r.pick(['', ' ', 'a b', 'ä', 'a'.repeat(65), 'a\n', '\0', 'x/y', '\u{1F600}', randomId(r) + '!']));
  const offs = () => (r.chance(0.7) ? r.int(2 ** 40) : r.pick([-1, -0, 0.5, NaN, Infinity, -Infinity, 2 ** 53, 2 ** 53 - 1, 2 ** 64, Number.MAX_VALUE]));
  for (let i = 0; i < RUNS / 4; i++) {
    const id = ids();
    const o = offs();
    const pl = randomBytes(r, r.int(20));
    const type = r.chance(0.5) ? 7 : 8;
    let f;
    try {
      f = encodeFrame(type, id, o, pl);
    } catch (e) {
      assert.match(e.message, /^invalid (session id|offset)$/, `seed ${SEED} case ${i}`);
      assert.ok(!(ID_RE.test(id) && id.length <= 64) || !(Number.isSafeInteger(o) && o >= 0), `threw on valid ${JSON.stringify(id)} ${o}`);
      continue;
    }
    const d = decodeFrame(f);
    assert.ok(d, `seed ${SEED} case ${i}: ${hex(f)}`);
    assert.deepEqual([d.type, d.sessionId, d.offset, hex(d.payload)], [type, id, o || 0, hex(pl)]); // -0 is 0 on the wire
  }
});

// ---- JSON --------------------------------------------------------------

const TYPES = ['auth_ok', 'error', 'gap', 'session_end', 'session_started', 'stdout', 'pong', 'restarting', 'ack', 'x', ''];
const KEYS = ['session_id', 'code', 'message', 'from', 'to', 'reason', 'exit_code', 'proto', 'offset', 'data_b64', '__proto__', 'constructor', 'toString', 'type', 'data'];

function randomValue(r, depth = 0) {
  switch (r.int(depth > 3 ? 6 : 8)) {
    case 0: return null;
    case 1: return r.chance(0.5);
    case 2: return r.pick([0, -1, 1.5, 2 ** 53, -0, 1e308, r.int(1e6)]);
    case 3: return r.pick(['', 's1', 'auth_failed', 'a"b', '\u0000', '\u{1F600}', 'é', '\\', randomId(r)]);
    case 4: return r.pick(TYPES);
    case 5: return r.int(100);
    case 6: return Array.from({ length: r.int(4) }, () => randomValue(r, depth + 1));
    default: {
      const o = {};
      for (let i = r.int(5); i > 0; i--) Object.defineProperty(o, r.pick(KEYS), { value: randomValue(r, depth + 1), enumerable: true, configurable: true, writable: true });
      return o;
    }
  }
}

function randomMessage(r) {
  const m = {};
  if (r.chance(0.9)) m.type = r.chance(0.85) ? r.pick(TYPES) : randomValue(r, 2);
  if (r.chance(0.7)) m.data = r.chance(0.8) ? randomValue(r, 4) : randomValue(r, 0);
  if (r.chance(0.7)) {
    const d = {};
    for (let i = r.int(5); i > 0; i--) Object.defineProperty(d, r.pick(KEYS), { value: randomValue(r, 2), enumerable: true, configurable: true, writable: true });
    m.data = d;
  }
  return r.chance(0.05) ? randomValue(r) : m;
}

const JSON_NOISE = ['{', '}', '[', ']', '"', ':', ',', '\\', ' ', '\n', '0', '-', 'e', '.', 'n', 'u', 'l', 't', '\u0000', '\u{1F600}', '\ud800', 'type', '"type"'];

function mutateText(r, s) {
  const n = 1 + r.int(3);
  for (let k = 0; k < n; k++) {
    const i = r.int(s.length + 1);
    switch (r.int(4)) {
      case 0: s = s.slice(0, i) + r.pick(JSON_NOISE) + s.slice(i); break;
      case 1: s = s.slice(0, i) + s.slice(i + 1 + r.int(3)); break;
      case 2: s = s.slice(0, i); break;
      default: s = s.slice(0, i) + r.pick(JSON_NOISE) + s.slice(i + 1); break;
    }
  }
  return s;
}

function referenceMsg(text) {
  let v;
  try { v = JSON.parse(text); } catch { return null; }
  if (v === null || typeof v !== 'object' || Array.isArray(v) || typeof v.type !== 'string') return null;
  const d = v.data;
  return { type: v.type, data: d !== null && typeof d === 'object' && !Array.isArray(d) ? d : undefined };
}

function checkMsg(text, where) {
  let m;
  try {
    m = parseMsg(text);
  } catch (e) {
    assert.fail(`${where}: parseMsg threw ${e} on ${JSON.stringify(text)}`);
  }
  const want = referenceMsg(text);
  assert.deepEqual(m, want, `${where}: ${JSON.stringify(text)}`);
  if (!m) return false;
  // the readers never throw and never return the wrong type
  for (const k of KEYS) {
    const s = str(m, k);
    const n = num(m, k);
    assert.ok(s === undefined || typeof s === 'string');
    assert.ok(n === undefined || (Number.isSafeInteger(n) && n >= 0));
  }
  // re-encoding gives the same message (a number too big for a double,
  // 1e400, parsed as Infinity, comes back as null: JSON's rule, and num()
  // refuses both)
  const same = { type: m.type, data: m.data === undefined ? undefined : JSON.parse(JSON.stringify(m.data)) };
  assert.deepEqual(parseMsg(encodeMsg(m.type, m.data)), same, `${where}: re-encoded differently`);
  return true;
}

test('fuzz parseMsg: random and mutated JSON', { timeout: 60_000 }, (t) => {
  for (const s of ['{"type":"a","data":{"__proto__":{"x":1}}}', '{"type":"a","data":null}', '{"type":"\\ud800"}', '{"__proto__":{"type":"a"}}'])
    checkMsg(s, `regression ${s}`);
  const r = prng(SEED ^ 0x15011);
  let accepted = 0;
  for (let i = 0; i < RUNS; i++) {
    let text = JSON.stringify(randomMessage(r)) ?? 'undefined';
    if (r.chance(0.5)) text = mutateText(r, text);
    if (checkMsg(text, `seed ${SEED} case ${i}`)) accepted++;
  }
  t.diagnostic(`${accepted}/${RUNS} messages accepted`);
  assert.ok(accepted > RUNS / 10 && accepted < RUNS, 'the fuzzer reaches both outcomes');
});

test('fuzz b64decode: never throws; what it accepts is base64 of its result', { timeout: 60_000 }, () => {
  const r = prng(SEED ^ 0xb64);
  const ALPHA = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  for (let i = 0; i < RUNS; i++) {
    let s = b64encode(randomBytes(r, r.int(30)));
    if (r.chance(0.6)) {
      const chars = [...s];
      for (let k = 1 + r.int(3); k > 0; k--) {
        const j = r.int(chars.length + 1);
        const c = r.chance(0.7) ? r.pick(ALPHA) : r.pick(['=', '==', ' ', '\n', '-', '_', '!', 'é', '\u{1F600}', '\0']);
        if (r.chance(0.5)) chars.splice(j, 1, c); else chars.splice(j, 0, c);
      }
      s = chars.join('');
    }
    let b;
    try {
      b = b64decode(s);
    } catch (e) {
      assert.fail(`seed ${SEED} case ${i}: b64decode threw ${e} on ${JSON.stringify(s)}`);
    }
    if (b === null) continue;
    assert.ok(b instanceof Uint8Array);
    // forgiving base64 (atob): whitespace and missing padding are allowed,
    // so compare the bytes, not the text
    const canon = b64encode(b);
    assert.equal(canon, Buffer.from(b).toString('base64'));
    assert.equal(hex(b64decode(canon)), hex(b), `seed ${SEED} case ${i}: ${JSON.stringify(s)}`);
    // (trailing bits that are not zero are dropped, as atob does: not a loss)
  }
});

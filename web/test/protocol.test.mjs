// web/src/terminal/protocol.ts: protocol v2 data frames (docs/protocol.md,
// "Protocol v2"), JSON messages, base64. The frames are checked byte for
// byte against the e2e harness's encoder/decoder (tests/e2e/lib/harness.mjs),
// which the relay's e2e tests use, so the web app and the relay's tests
// agree on the wire format.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeBinFrame, decodeBinFrame } from '../../tests/e2e/lib/harness.mjs';
import { load } from './lib/load.mjs';

const p = await load('terminal/protocol.ts');
const { encodeFrame, decodeFrame, parseMsg, encodeMsg, str, num, b64encode, b64decode, validId } = p;

const SID = 'abc-123.X:y_z';
const bytes = (...a) => new Uint8Array(a);
// A frame by hand: type, L, 8 offset bytes, id, payload.
function raw(type, id, offsetBytes, payload = []) {
  const idb = typeof id === 'string' ? [...Buffer.from(id, 'latin1')] : id;
  return new Uint8Array([type, idb.length, ...offsetBytes, ...idb, ...payload]);
}
const off = (n) => [...Buffer.from(BigInt(n).toString(16).padStart(16, '0'), 'hex')];

test('constants are the documented ones', () => {
  assert.equal(p.MSG_STDIN, 7);
  assert.equal(p.MSG_STDOUT, 8);
  assert.equal(p.FRAME_HEADER, 10);
  assert.equal(p.ID_MAX, 64);
});

test('encodeFrame lays the bytes out as docs/protocol.md says', () => {
  const f = encodeFrame(8, 'ab', 0x0102030405, bytes(0xde, 0xad));
  assert.deepEqual([...f], [8, 2, 0, 0, 0, 1, 2, 3, 4, 5, 0x61, 0x62, 0xde, 0xad]);
  const s = encodeFrame(7, 'x', 0, bytes());
  assert.deepEqual([...s], [7, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0x78]);
});

test('round trips: every type, id length 1 and 64, offsets 0 … 2^53−1, empty and big payloads', () => {
  const ids = ['a', 'A'.repeat(64), SID, '0123-4567.89:ab_cd', 'e3b0c442-98fc-1c14-9afb-f4c8996fb924'];
  const offsets = [0, 1, 255, 256, 2 ** 32 - 1, 2 ** 32, 123456789012, Number.MAX_SAFE_INTEGER];
  const payloads = [bytes(), bytes(0), bytes(0, 255, 10, 13, 27), new Uint8Array(70000).map((_, i) => (i * 7) & 255)];
  for (const type of [7, 8]) for (const id of ids) for (const o of offsets) for (const pl of payloads) {
    const f = encodeFrame(type, id, o, pl);
    assert.equal(f.length, 10 + id.length + pl.length);
    const d = decodeFrame(f);
    assert.ok(d, `decodes ${type} ${id} ${o}`);
    assert.equal(d.type, type);
    assert.equal(d.sessionId, id);
    assert.equal(d.offset, o);
    assert.deepEqual(Buffer.from(d.payload), Buffer.from(pl));
    // from an ArrayBuffer too (what a WebSocket with binaryType "arraybuffer" hands)
    const d2 = decodeFrame(f.slice().buffer);
    assert.equal(d2.offset, o);
    assert.deepEqual(Buffer.from(d2.payload), Buffer.from(pl));
  }
});

test('decodes a frame that is a view into a larger buffer (byteOffset ≠ 0)', () => {
  const f = encodeFrame(8, SID, 77, bytes(1, 2, 3));
  const big = new Uint8Array(f.length + 9);
  big.fill(0xff);
  big.set(f, 5);
  const d = decodeFrame(big.subarray(5, 5 + f.length));
  assert.equal(d.offset, 77);
  assert.equal(d.sessionId, SID);
  assert.deepEqual([...d.payload], [1, 2, 3]);
});

test('agrees byte for byte with the e2e harness, both ways', () => {
  const pl = Buffer.from('héllo\x00\xff\r\n', 'utf8');
  for (const [type, name] of [[7, 'stdin'], [8, 'stdout']]) {
    for (const o of [0, 1, 65535, 123456789012, Number.MAX_SAFE_INTEGER]) {
      for (const id of [SID, 'a', 'Z'.repeat(64)]) {
        const mine = Buffer.from(encodeFrame(type, id, o, pl));
        const theirs = encodeBinFrame(name, id, o, pl);
        assert.ok(mine.equals(theirs), `encode ${name} ${o} ${id}`);
        const d = decodeFrame(new Uint8Array(theirs));
        assert.deepEqual([d.type, d.sessionId, d.offset], [type, id, o]);
        assert.ok(Buffer.from(d.payload).equals(pl));
        const h = decodeBinFrame(mine);
        assert.deepEqual([h.type, h.sessionId, h.offset], [name, id, o]);
        assert.ok(h.payload.equals(pl));
      }
    }
  }
});

test('malformed frames are rejected (null), as documented', () => {
  const ok = raw(8, 'A', off(0));
  assert.ok(decodeFrame(ok), 'the smallest valid frame: 1-byte id, no payload');
  // shorter than the header: 0 … 10 bytes
  for (let n = 0; n <= 10; n++) assert.equal(decodeFrame(ok.subarray(0, n)), null, `${n} bytes`);
  assert.equal(decodeFrame(new ArrayBuffer(0)), null);
  // id length 0, past the end, over 64
  assert.equal(decodeFrame(raw(8, [], off(0), [65, 66])), null, 'L = 0');
  assert.equal(decodeFrame(bytes(8, 5, ...off(0), 65)), null, 'L past the end');
  assert.equal(decodeFrame(bytes(8, 5, ...off(0), 65, 66, 67, 68)), null, 'L one past the end');
  assert.ok(decodeFrame(bytes(8, 5, ...off(0), 65, 66, 67, 68, 69)), 'L exactly to the end');
  assert.equal(decodeFrame(raw(8, 'A'.repeat(65), off(0))), null, 'L = 65');
  assert.equal(decodeFrame(raw(8, 'A'.repeat(255), off(0))), null, 'L = 255');
  // characters outside [A-Za-z0-9._:-]
  for (const c of [0, 0x20, 0x2f, 0x3b, 0x40, 0x5b, 0x60, 0x7b, 0x7f, 0x80, 0xc3, 0xff, 0x0a, 0x22, 0x27, 0x5c]) {
    assert.equal(decodeFrame(raw(8, [0x61, c, 0x62], off(0))), null, `id byte 0x${c.toString(16)}`);
  }
  assert.equal(decodeFrame(raw(7, [0x61, 0x62, 0], off(0))), null, 'NUL at the end of the id');
  // offsets: up to 2^53−1 (a JS number holds it exactly); past that, and past 2^63−1, rejected
  assert.equal(decodeFrame(raw(8, 'A', off(2n ** 53n - 1n))).offset, Number.MAX_SAFE_INTEGER);
  for (const o of [2n ** 53n, 2n ** 53n + 1n, 2n ** 62n, 2n ** 63n - 1n, 2n ** 63n, 2n ** 64n - 1n]) {
    assert.equal(decodeFrame(raw(8, 'A', off(o))), null, `offset ${o}`);
  }
  // type bytes other than 7 and 8 (including the JSON-only types)
  for (let t = 0; t < 256; t++) {
    if (t === 7 || t === 8) continue;
    assert.equal(decodeFrame(raw(t, 'A', off(0), [1])), null, `type ${t}`);
  }
});

test('the harness rejects what decodeFrame rejects structurally (short, L = 0, L past the end, type)', () => {
  for (const f of [bytes(8, 1, ...off(0)), raw(8, [], off(0), [1]), bytes(8, 4, ...off(0), 65), raw(9, 'A', off(0))]) {
    assert.equal(decodeBinFrame(Buffer.from(f)), null);
    assert.equal(decodeFrame(f), null);
  }
});

test('encodeFrame refuses bad ids and offsets (a programming error: throws)', () => {
  for (const id of ['', 'bad id', 'a'.repeat(65), 'ä', 'a\n', 'a\0', '../x', 'a/b', '\u{1F600}']) {
    assert.throws(() => encodeFrame(7, id, 0, bytes()), /invalid session id/, JSON.stringify(id));
  }
  for (const o of [-1, 1.5, NaN, Infinity, 2 ** 53, Number.MAX_SAFE_INTEGER + 2]) {
    assert.throws(() => encodeFrame(8, 'a', o, bytes()), /invalid offset/, String(o));
  }
  assert.ok(validId('a'.repeat(64)));
  assert.ok(!validId('a'.repeat(65)));
  assert.ok(!validId('a\n'));
});

test('the payload is a view into the frame, not a copy', () => {
  const f = encodeFrame(8, 'a', 0, bytes(1, 2, 3));
  const d = decodeFrame(f);
  assert.equal(d.payload.buffer, f.buffer);
  assert.equal(d.payload.byteOffset, 11);
});

test('parseMsg: what the relay sends', () => {
  const cases = [
    ['{"type":"auth_ok","data":{"proto":2}}', 'auth_ok', { proto: 2 }],
    ['{"type":"auth_ok"}', 'auth_ok', undefined],
    ['{"type":"pong"}', 'pong', undefined],
    ['{"type":"restarting"}', 'restarting', undefined],
    ['{"type":"session_started","data":{"session_id":"s1"}}', 'session_started', { session_id: 's1' }],
    ['{"type":"gap","data":{"session_id":"s1","from":10,"to":250}}', 'gap', { session_id: 's1', from: 10, to: 250 }],
    ['{"type":"session_end","data":{"session_id":"s1","reason":"exit","exit_code":3}}', 'session_end', { session_id: 's1', reason: 'exit', exit_code: 3 }],
    ['{"type":"error","data":{"code":"auth_failed","message":"invalid token"}}', 'error', { code: 'auth_failed', message: 'invalid token' }],
    ['{"type":"stdout","data":{"session_id":"s1","data_b64":"aGk=","offset":5}}', 'stdout', { session_id: 's1', data_b64: 'aGk=', offset: 5 }],
    ['  {"type":"x","data":{},"extra":[1,2]}\n', 'x', {}],
  ];
  for (const [text, type, data] of cases) {
    assert.deepEqual(parseMsg(text), { type, data }, text);
  }
  const gap = parseMsg(cases[5][0]);
  assert.equal(str(gap, 'session_id'), 's1');
  assert.equal(num(gap, 'from'), 10);
  assert.equal(num(gap, 'to'), 250);
  const end = parseMsg(cases[6][0]);
  assert.equal(str(end, 'reason'), 'exit');
  assert.equal(num(end, 'exit_code'), 3);
  const err = parseMsg(cases[7][0]);
  assert.equal(str(err, 'code'), 'auth_failed');
  assert.equal(str(err, 'message'), 'invalid token');
});

test('parseMsg: bad input is null, never a throw', () => {
  for (const text of ['', ' ', 'x', '{', '{"type":', 'null', 'true', '1', '"auth_ok"', '[]', '[{"type":"auth_ok"}]',
    '{}', '{"type":1}', '{"type":null}', '{"type":["a"]}', '{"type":{}}', '{"data":{"code":"x"}}',
    '{"type":"a"}{"type":"b"}', '\u0000', '{"type":"a",}', "{'type':'a'}", '['.repeat(100000) + ']'.repeat(100000)]) {
    assert.equal(parseMsg(text), null, JSON.stringify(text.slice(0, 40)));
  }
});

test('parseMsg: a data that is not an object is dropped; field readers check the type', () => {
  for (const d of ['null', '1', '"s"', '[1]', 'true']) {
    assert.deepEqual(parseMsg(`{"type":"gap","data":${d}}`), { type: 'gap', data: undefined });
  }
  const m = parseMsg('{"type":"gap","data":{"session_id":5,"from":"10","to":null,"reason":["x"],"n":1e400}}');
  assert.equal(str(m, 'session_id'), undefined);
  assert.equal(num(m, 'from'), undefined);
  assert.equal(num(m, 'to'), undefined);
  assert.equal(str(m, 'reason'), undefined);
  assert.equal(num(m, 'n'), undefined, 'Infinity is not a number here');
  // whole numbers 0 … 2^53−1, like decodeFrame's offsets (found by
  // fuzz_connection: a gap to 1.5 or a JSON offset of 2^60 left the
  // terminal's offset fractional or rounded)
  const n = parseMsg(`{"type":"gap","data":{"a":1.5,"b":${2 ** 53},"c":${2 ** 60},"d":${2 ** 53 - 1},"e":-3,"f":0,"g":1e2,"h":-0}}`);
  assert.deepEqual(['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'].map((k) => num(n, k)), [undefined, undefined, undefined, 2 ** 53 - 1, undefined, 0, 100, -0]);
  assert.equal(str(m, 'missing'), undefined);
  assert.equal(str({ type: 'x' }, 'a'), undefined, 'no data');
  // a key named like an Object.prototype member is an ordinary key
  const proto = parseMsg('{"type":"x","data":{"__proto__":{"code":"evil"},"constructor":"c"}}');
  assert.equal(str(proto, 'code'), undefined);
  assert.equal(str(proto, 'constructor'), 'c');
  assert.equal(str(proto, 'toString'), undefined);
});

test('encodeMsg', () => {
  assert.equal(encodeMsg('ping'), '{"type":"ping"}');
  assert.equal(encodeMsg('ack', { session_id: 's', offset: 5 }), '{"type":"ack","data":{"session_id":"s","offset":5}}');
  assert.deepEqual(parseMsg(encodeMsg('resize', { cols: 80, rows: 24 })), { type: 'resize', data: { cols: 80, rows: 24 } });
});

test('base64 (v1 data_b64): standard alphabet with padding, like the relay; invalid is null', () => {
  const all = new Uint8Array(256).map((_, i) => i);
  for (const b of [bytes(), bytes(0), bytes(1, 2), bytes(1, 2, 3), all, new Uint8Array(100003).map((_, i) => (i * 31) & 255)]) {
    const s = b64encode(b);
    assert.equal(s, Buffer.from(b).toString('base64'));
    assert.deepEqual(Buffer.from(b64decode(s)), Buffer.from(b));
  }
  for (const bad of ['!!', 'a', 'aaaaa', 'é', '\u{1F600}', 'a=a=', '-_-_']) assert.equal(b64decode(bad), null, bad);
  assert.deepEqual([...p.binaryBytes('\x00\xff\u0141')], [0, 255, 0x41]);
  assert.deepEqual([...p.utf8Bytes('é')], [0xc3, 0xa9]);
});

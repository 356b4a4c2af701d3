// The browser side of the relay's /session protocol (docs/protocol.md):
// JSON text messages {type, data} and protocol v2's binary data frames.
//
// v2 data frame, byte by byte:
//   0        type: 7 stdin, 8 stdout
//   1        session id length L, 1–64
//   2–9      offset, unsigned 64-bit big-endian (stdout: stream offset of the
//            first payload byte; stdin: 0)
//   10…10+L−1 session id (ASCII, [A-Za-z0-9._:-])
//   10+L…    payload: the terminal bytes

export const MSG_STDIN = 7;
export const MSG_STDOUT = 8;

export const FRAME_HEADER = 10; // bytes before the session id
export const ID_MAX = 64; // longest session id
const OFFSET_MAX = 2n ** 63n - 1n; // the relay refuses more
const ID_RE = /^[A-Za-z0-9._:-]{1,64}$/;

export interface DataFrame {
  type: typeof MSG_STDIN | typeof MSG_STDOUT;
  sessionId: string;
  offset: number;
  payload: Uint8Array;
}

export function validId(id: string): boolean {
  return ID_RE.test(id);
}

// Encodes a v2 data frame. Throws on an invalid session id or offset
// (callers pass ids the relay issued, so this is a programming error).
export function encodeFrame(type: 7 | 8, sessionId: string, offset: number, payload: Uint8Array): Uint8Array {
  if (!validId(sessionId)) throw new Error("invalid session id");
  if (!Number.isSafeInteger(offset) || offset < 0) throw new Error("invalid offset");
  const L = sessionId.length;
  const buf = new Uint8Array(FRAME_HEADER + L + payload.length);
  const dv = new DataView(buf.buffer);
  buf[0] = type;
  buf[1] = L;
  dv.setBigUint64(2, BigInt(offset), false);
  for (let i = 0; i < L; i++) buf[FRAME_HEADER + i] = sessionId.charCodeAt(i);
  buf.set(payload, FRAME_HEADER + L);
  return buf;
}

// Decodes a v2 data frame; null when it is malformed (shorter than its
// header, id length 0 or past the end, bad id characters, an offset over
// 2^63−1 or past what a JS number holds exactly, an unknown type byte).
// The payload is a view into buf, not a copy.
export function decodeFrame(input: ArrayBuffer | Uint8Array): DataFrame | null {
  const buf = input instanceof Uint8Array ? input : new Uint8Array(input);
  if (buf.length < FRAME_HEADER + 1) return null;
  const type = buf[0];
  if (type !== MSG_STDIN && type !== MSG_STDOUT) return null;
  const L = buf[1];
  if (L === 0 || L > ID_MAX || buf.length < FRAME_HEADER + L) return null;
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const big = dv.getBigUint64(2, false);
  if (big > OFFSET_MAX || big > BigInt(Number.MAX_SAFE_INTEGER)) return null;
  let sessionId = "";
  for (let i = 0; i < L; i++) sessionId += String.fromCharCode(buf[FRAME_HEADER + i]);
  if (!validId(sessionId)) return null;
  return { type, sessionId, offset: Number(big), payload: buf.subarray(FRAME_HEADER + L) };
}

// --- JSON messages -------------------------------------------------------

export type Msg = { type: string; data?: Record<string, unknown> };

export function encodeMsg(type: string, data?: Record<string, unknown>): string {
  return JSON.stringify(data === undefined ? { type } : { type, data });
}

// Parses a text frame; null unless it is a JSON object with a string type.
export function parseMsg(text: string): Msg | null {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  if (!v || typeof v !== "object" || Array.isArray(v)) return null;
  const o = v as { type?: unknown; data?: unknown };
  if (typeof o.type !== "string") return null;
  const data = o.data && typeof o.data === "object" && !Array.isArray(o.data) ? (o.data as Record<string, unknown>) : undefined;
  return { type: o.type, data };
}

// Field readers for a message's data: undefined when absent or mistyped.
export function str(m: Msg, k: string): string | undefined {
  const v = m.data?.[k];
  return typeof v === "string" ? v : undefined;
}

// Whole numbers 0 … 2^53−1 only: every number the relay sends is one
// (offsets, proto, exit codes), and like decodeFrame's offsets only those a
// JS number holds exactly; a gap's end of 1.5, 2^60 or −5 would leave the
// terminal's offset fractional, rounded or wrong, and resume from there.
export function num(m: Msg, k: string): number | undefined {
  const v = m.data?.[k];
  return Number.isSafeInteger(v) && (v as number) >= 0 ? (v as number) : undefined;
}

// --- base64 (protocol v1's data_b64) -------------------------------------

export function b64encode(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

// null for invalid base64
export function b64decode(text: string): Uint8Array | null {
  let s: string;
  try {
    s = atob(text);
  } catch {
    return null;
  }
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

const utf8 = new TextEncoder();
export function utf8Bytes(s: string): Uint8Array {
  return utf8.encode(s);
}

// xterm's onBinary hands bytes as a string of code points 0–255.
export function binaryBytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i) & 0xff;
  return out;
}

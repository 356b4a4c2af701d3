// A fake browser WebSocket for TermConnection's tests: install it as
// globalThis.WebSocket; each instance records what the browser sent and
// lets the test play the relay (open, JSON, binary frames, close).
import { encodeBinFrame, decodeBinFrame } from '../../../tests/e2e/lib/harness.mjs';

export const SID = 'sess-1';

// A WebSocket as the browser has it; the test plays the relay.
export class FakeWS {
  static CONNECTING = 0;
  static OPEN = 1;
  static CLOSING = 2;
  static CLOSED = 3;
  static all = [];
  static failNext = false;
  constructor(url) {
    if (FakeWS.failNext) { FakeWS.failNext = false; throw new Error('blocked'); }
    this.url = url;
    this.readyState = 0;
    this.binaryType = 'blob';
    this.sent = [];
    this.closedWith = null;
    this.onopen = this.onmessage = this.onclose = this.onerror = null;
    FakeWS.all.push(this);
  }
  send(d) {
    if (this.readyState !== 1) throw new Error('InvalidStateError: not open');
    this.sent.push(typeof d === 'string' ? d : Buffer.from(d));
  }
  close(code, reason) {
    this.closedWith = { code, reason };
    this.readyState = 3;
  }
  // ---- the relay's side
  open() { this.readyState = 1; this.onopen?.({}); }
  json(type, data) { this.onmessage?.({ data: JSON.stringify(data === undefined ? { type } : { type, data }) }); }
  text(s) { this.onmessage?.({ data: s }); }
  stdout(offset, s, sid = SID) {
    const f = encodeBinFrame('stdout', sid, offset, Buffer.from(s));
    this.onmessage?.({ data: Uint8Array.from(f).buffer }); // binaryType "arraybuffer"
  }
  raw(bytes) { this.onmessage?.({ data: Uint8Array.from(bytes).buffer }); }
  drop(code = 1006, reason = '') { this.readyState = 3; this.onclose?.({ code, reason }); }
  // what the browser sent
  msgs(type) { return this.sent.filter((d) => typeof d === 'string').map((d) => JSON.parse(d)).filter((m) => !type || m.type === type); }
  stdin() { return this.sent.filter((d) => typeof d !== 'string').map((d) => decodeBinFrame(d)); }
  // open + auth_ok
  accept(proto = 2) { this.open(); this.json('auth_ok', { proto }); return this; }
}


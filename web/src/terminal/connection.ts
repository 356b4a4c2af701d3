// One browser terminal's link to the relay: the WebSocket to /session,
// authentication, protocol v2 data frames, acknowledgements after the
// terminal has drawn the output, lossless resume and reconnection
// (docs/protocol.md, "Browser connection", "Lossless resume and flow
// control").
//
// In the web app the HttpOnly session cookie authenticates the socket: the
// auth message carries no token. Offsets: `next` is the offset after the
// last byte handed to the terminal; a reconnect asks the relay to resume
// from exactly there (resume_offset), so nothing is lost or shown twice.
// `processed` is the offset after the last byte the terminal has finished
// drawing; it is what we acknowledge, so a slow browser holds the shell
// back (a window ahead) instead of piling output up in memory.
//
// Input flow control (docs/protocol.md, "Input flow control"): a relay
// that grants an input window (auth_ok stdin_window) gets at most that
// much input beyond what it said went on to the agent (stdin_ack); the
// rest waits here, at most INPUT_MAX, in order. Input that does not fit is
// refused whole before anything of it is sent (onInputRefused), so a paste
// into a program that is not reading never runs with its middle missing.
// Nothing waits when nothing is backed up: a keystroke goes at once.
import {
  MSG_STDIN,
  MSG_STDOUT,
  b64decode,
  b64encode,
  decodeFrame,
  encodeFrame,
  encodeMsg,
  num,
  parseMsg,
  str,
  type Msg,
} from "./protocol";
import { endReasonText } from "../endreasons";

export type ConnState = "connecting" | "online" | "reconnecting" | "offline" | "ended" | "failed";

// Where the output goes (the xterm.js view).
export interface OutputSink {
  // Terminal bytes, in order; call done once they are processed.
  write(data: Uint8Array, done: () => void): void;
  // A dim line of our own (a gap, a note), not part of the stream.
  notice(text: string): void;
}

export interface ConnectionOptions {
  url: string; // ws(s)://host/session
  sessionId: string;
  deviceId: string;
  sink: OutputSink;
  size(): { cols: number; rows: number };
  // Only for clients outside the browser (the protocol's bearer token);
  // the web app never has a token: its cookie authenticates.
  token?: string;
  // Creates the socket (tests pass their own); default: new WebSocket(url).
  socket?: (url: string) => WebSocket;
  onState?(state: ConnState, message: string): void;
  onLatency?(ms: number): void;
  onEnd?(reason: string, exitCode: number | undefined): void;
  onViewOnly?(viewOnly: boolean): void;
  onError?(code: string, message: string): void;
  // Input that was not sent, none of it (too large for what may wait, the
  // terminal busy, or the session ended with input still waiting).
  onInputRefused?(message: string): void;
}

// Timing (milliseconds).
export const PING_INTERVAL = 5000; // a ping this often: latency and liveness
export const PONG_TIMEOUT = 15000; // no pong for this long: the link is dead
export const AUTH_TIMEOUT = 15000; // socket open to auth_ok
export const BACKOFF_MIN = 1000; // first retry
export const BACKOFF_MAX = 30000; // longest wait between retries
export const BACKOFF_JITTER = 0.2; // up to 20% more, so tabs don't retry in step
export const BACKOFF_RESET = 10000; // a link that lasted this long resets the backoff
export const RESTART_RETRY = 250; // after the relay said it is restarting
export const OFFLINE_PROBE = 5000; // re-send session_start while the device is offline
export const ACK_BYTES = 32 * 1024; // ack as soon as xterm.js's slice is done when this much was processed
export const ACK_DELAY = 50; // else at most this late
export const STDIN_CHUNK = 16 * 1024; // one stdin message at most (a big paste is split)
export const PENDING_MAX = 4096; // input kept while (re)connecting
export const PENDING_MAX_AGE = 5000; // ms: older kept input is dropped, not sent late
export const INPUT_MAX = 4 * 1024 * 1024; // input waiting for the relay's window; more is refused whole

// Errors after which retrying cannot help: show the message, stop.
const FATAL = new Set(["auth_failed", "not_found", "forbidden", "share_revoked"]);

const OPEN = 1; // WebSocket.OPEN (not a global outside browsers)

export function backoffDelay(attempt: number, rnd: number = Math.random()): number {
  const base = Math.min(BACKOFF_MAX, BACKOFF_MIN * 2 ** Math.min(attempt, 16));
  return Math.round(base + base * BACKOFF_JITTER * rnd);
}

export class TermConnection {
  private ws: WebSocket | null = null;
  private authed = false;
  private proto = 1;
  private st: ConnState = "connecting";
  private next = 0; // offset after the last byte handed to the sink
  private processed = 0; // offset after the last byte the sink processed
  private ackSent = 0;
  private ackTimer: ReturnType<typeof setTimeout> | null = null;
  private ackQueued = false; // an ack waits for the end of the current task
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private pingTimer: ReturnType<typeof setInterval> | null = null;
  private authTimer: ReturnType<typeof setTimeout> | null = null;
  private probeTimer: ReturnType<typeof setInterval> | null = null;
  private pingAt = 0; // when the outstanding ping was sent (0: none)
  private connectedAt = 0;
  private attempt = 0;
  private everOnline = false;
  private quickRetry = false;
  private fatal = false;
  private disposed = false;
  private viewOnly = false;
  private sentSize = "";
  private latency: number | null = null;
  private pending: Uint8Array[] = [];
  private pendingSince = 0;
  private inWindow = 0; // the relay's stdin_window on this link (0: none, send at once)
  private inSent = 0; // stdin bytes sent on this link
  private inAcked = 0; // of those, passed on to the agent (stdin_ack)
  private outq: Uint8Array[] = []; // input waiting for the window, in order
  private outqBytes = 0;

  constructor(private o: ConnectionOptions) {}

  get state(): ConnState {
    return this.st;
  }
  // The offset after the last byte handed to the terminal.
  get offset(): number {
    return this.next;
  }
  get acked(): number {
    return this.processed;
  }
  get isViewOnly(): boolean {
    return this.viewOnly;
  }
  get protocol(): number {
    return this.proto;
  }
  get latencyMs(): number | null {
    return this.latency;
  }
  // Input bytes waiting here for the relay's window.
  get inputWaiting(): number {
    return this.outqBytes;
  }

  start(): void {
    this.open();
  }

  // The user asked: connect again now (also after auth_failed, e.g. after
  // signing in again in another tab). Not after the session ended.
  reconnect(): void {
    if (this.disposed || this.st === "ended") return;
    this.fatal = false;
    this.attempt = 0;
    this.drop(1000, "reconnecting");
    this.clearRetry();
    this.open();
  }

  // The network came back (window "online"): skip the wait.
  retrySoon(): void {
    if (this.st === "reconnecting" && !this.ws && !this.fatal) {
      this.clearRetry();
      this.open();
    }
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.clearRetry();
    this.flushAck();
    this.drop(1000, "closed");
  }

  // The session ended without this connection hearing it (e.g. ended
  // through the API while disconnected).
  finish(reason: string, exitCode?: number): void {
    this.end(reason, exitCode);
  }

  // Terminal input. False when it was dropped (view only, ended, or not
  // connected for longer than PENDING_MAX_AGE); input typed while
  // (re)connecting is kept (up to PENDING_MAX bytes) and sent once online.
  send(data: Uint8Array): boolean {
    if (!this.canWrite()) {
      if (this.viewOnly || this.fatal || this.disposed || this.st === "ended" || this.st === "offline") return false;
      const now = Date.now();
      if (this.pending.length && now - this.pendingSince > PENDING_MAX_AGE) this.pending = [];
      const size = this.pending.reduce((n, p) => n + p.length, 0);
      if (size + data.length > PENDING_MAX) return false;
      if (!this.pending.length) this.pendingSince = now;
      this.pending.push(data.slice());
      return true;
    }
    this.write(data);
    return true;
  }

  private flushPending(): void {
    const p = this.pending;
    this.pending = [];
    if (!p.length || Date.now() - this.pendingSince > PENDING_MAX_AGE || !this.canWrite()) return;
    for (const d of p) this.write(d);
  }

  // Queues input whole, or refuses it whole when it does not fit what may
  // wait, then sends what the window allows.
  private write(data: Uint8Array): void {
    if (!data.length) return;
    if (this.outqBytes + data.length > INPUT_MAX) {
      this.o.onInputRefused?.(
        this.outqBytes
          ? `Terminal busy: its program is not reading. This input (${sizeText(data.length)}) was not sent, none of it; ${sizeText(this.outqBytes)} still waits.`
          : `Paste too large: ${sizeText(data.length)} (at most ${sizeText(INPUT_MAX)} at once). Nothing was sent.`,
      );
      return;
    }
    this.outq.push(data.slice());
    this.outqBytes += data.length;
    this.pumpInput();
  }

  // Sends waiting input while the window allows, in frames of at most
  // STDIN_CHUNK; keys typed while input waits join one frame.
  private pumpInput(): void {
    while (this.outq.length && this.canWrite()) {
      const room = this.inWindow ? this.inWindow - (this.inSent - this.inAcked) : Infinity;
      if (room <= 0) return;
      const n = Math.min(this.outqBytes, STDIN_CHUNK, room);
      const part = new Uint8Array(n);
      for (let got = 0; got < n; ) {
        const head = this.outq[0];
        const k = Math.min(head.length, n - got);
        part.set(head.subarray(0, k), got);
        got += k;
        if (k === head.length) this.outq.shift();
        else this.outq[0] = head.subarray(k);
      }
      if (this.proto >= 2) this.ws!.send(encodeFrame(MSG_STDIN, this.o.sessionId, 0, part));
      else this.msg("stdin", { session_id: this.o.sessionId, data_b64: b64encode(part) });
      this.inSent += n;
      this.outqBytes -= n;
    }
  }

  canWrite(): boolean {
    return this.authed && !this.viewOnly && this.st !== "ended" && this.ws?.readyState === OPEN;
  }

  // The terminal's size changed: tell the PTY (view-only viewers don't).
  resize(cols: number, rows: number): void {
    if (!this.authed || this.viewOnly || this.st === "ended") return;
    const key = `${cols}x${rows}`;
    if (key === this.sentSize) return;
    this.sentSize = key;
    this.msg("resize", { session_id: this.o.sessionId, cols, rows });
  }

  // The page learnt this viewer's mode (GET …/viewers); a viewer whose
  // share became "control" sends its size at once.
  setViewOnly(v: boolean): void {
    if (v === this.viewOnly) return;
    this.viewOnly = v;
    this.o.onViewOnly?.(v);
    if (!v && this.authed) {
      this.sentSize = "";
      const { cols, rows } = this.o.size();
      if (this.st === "offline") this.sessionStart();
      else this.resize(cols, rows);
    }
  }

  // ---- internals ---------------------------------------------------------

  // Forgets input that waited for the window (the session ended, the link
  // dropped with input on its way, or the relay refused some) and says so.
  private dropInput(why: string, quiet = false): void {
    if (!this.outqBytes) return;
    const n = this.outqBytes;
    this.outq = [];
    this.outqBytes = 0;
    if (!quiet) this.o.onInputRefused?.(`${sizeText(n)} of input waiting for the terminal was not sent: ${why}.`);
  }

  private setState(s: ConnState, message = ""): void {
    if (this.st === "ended" && s !== "ended") return;
    const changed = s !== this.st;
    this.st = s;
    if (s === "offline") this.startProbe();
    else this.stopProbe();
    if (changed || message) this.o.onState?.(s, message);
  }

  private open(): void {
    if (this.disposed) return;
    this.setState(this.everOnline || this.attempt > 0 ? "reconnecting" : "connecting");
    let ws: WebSocket;
    try {
      ws = this.o.socket ? this.o.socket(this.o.url) : new WebSocket(this.o.url);
    } catch (e) {
      this.scheduleRetry(`cannot open the connection: ${(e as Error).message}`);
      return;
    }
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    this.authed = false;
    this.quickRetry = false;
    this.authTimer = setTimeout(() => {
      if (this.ws === ws && !this.authed) this.lost("the relay did not answer");
    }, AUTH_TIMEOUT);
    ws.onopen = () => {
      if (this.ws !== ws) return;
      const data: Record<string, unknown> = {
        session_id: this.o.sessionId,
        device_id: this.o.deviceId,
        proto: 2,
        resume_offset: this.next,
      };
      if (this.o.token) data.token = this.o.token;
      this.msg("auth", data);
    };
    ws.onmessage = (ev: MessageEvent) => {
      if (this.ws !== ws) return;
      if (typeof ev.data === "string") {
        const m = parseMsg(ev.data);
        if (m) this.onMessage(m);
      } else if (ev.data instanceof ArrayBuffer) {
        const f = decodeFrame(ev.data);
        if (f && f.type === MSG_STDOUT && f.sessionId === this.o.sessionId) this.output(f.offset, f.payload);
      }
    };
    ws.onclose = (ev: CloseEvent) => {
      if (this.ws !== ws) return;
      this.closed(ev.code, ev.reason);
    };
    ws.onerror = () => {
      /* the close event follows */
    };
  }

  private msg(type: string, data?: Record<string, unknown>): void {
    if (this.ws?.readyState === OPEN) this.ws.send(encodeMsg(type, data));
  }

  private sessionStart(): void {
    const { cols, rows } = this.o.size();
    this.sentSize = `${cols}x${rows}`;
    this.msg("session_start", { session_id: this.o.sessionId, cols, rows });
  }

  private onMessage(m: Msg): void {
    const sid = str(m, "session_id");
    if (sid !== undefined && sid !== this.o.sessionId) return;
    switch (m.type) {
      case "auth_ok": {
        this.authed = true;
        this.proto = num(m, "proto") ?? 1;
        this.inWindow = num(m, "stdin_window") ?? 0;
        this.inSent = this.inAcked = 0;
        this.connectedAt = Date.now();
        this.everOnline = true;
        if (this.authTimer) clearTimeout(this.authTimer);
        this.authTimer = null;
        this.setState("online");
        if (!this.viewOnly) this.sessionStart();
        this.pumpInput(); // input that waited for the window when the last link dropped
        this.flushPending();
        // an ack at once: from now on the relay paces us by our acks
        this.ackSent = -1;
        this.flushAck();
        this.startPing();
        break;
      }
      case "session_started":
        if (this.st === "offline") this.setState("online");
        break;
      case "stdout": {
        const b = b64decode(str(m, "data_b64") ?? "");
        if (b) this.output(num(m, "offset"), b);
        break;
      }
      case "gap": {
        const from = num(m, "from");
        const to = num(m, "to");
        if (from === undefined || to === undefined || to <= this.next) break;
        // everything from where we are to `to` is lost, also what lies
        // before a `from` past us (a chunk we could not use): count it all
        const lost = to - this.next;
        this.o.sink.notice(`[… ${lost} bytes lost …]`);
        this.next = to;
        break;
      }
      case "pong":
        if (this.pingAt) {
          this.latency = Date.now() - this.pingAt;
          this.pingAt = 0;
          this.o.onLatency?.(this.latency);
        }
        break;
      case "session_end": {
        const reason = str(m, "reason") ?? "ended";
        const code = num(m, "exit_code");
        this.end(reason, code);
        break;
      }
      case "stdin_ack": {
        const off = num(m, "offset");
        if (off !== undefined && off > this.inAcked) this.inAcked = Math.min(off, this.inSent);
        this.pumpInput();
        break;
      }
      case "restarting":
        this.quickRetry = true;
        break;
      case "error":
        this.onRelayError(str(m, "code") ?? "error", str(m, "message") ?? "error");
        break;
      default:
        break; // unknown types are ignored, as the protocol says
    }
  }

  private onRelayError(code: string, message: string): void {
    if (code === "input_busy" || code === "input_lost") {
      // part of what we sent did not reach the program: what waits here
      // must not follow it (a paste would run with its middle missing)
      this.o.onInputRefused?.(message);
      this.dropInput("earlier input was refused or lost", true);
      return;
    }
    if (code === "view_only") {
      this.setViewOnly(true);
      return;
    }
    if (code === "device_offline") {
      this.setState("offline", message);
      return;
    }
    if (code === "session_ended") {
      this.end("ended", undefined, message);
      return;
    }
    // forbidden after auth is "only the starter may end the session"
    if (FATAL.has(code) && (!this.authed || code === "share_revoked")) {
      this.fatal = true;
      this.dropInput(message);
      this.clearRetry();
      this.setState("failed", message);
      this.o.onError?.(code, message);
      return;
    }
    this.o.onError?.(code, message);
  }

  private output(offset: number | undefined, data: Uint8Array): void {
    const start = offset ?? this.next; // a v1 relay without offsets: in order
    const end = start + data.length;
    if (end <= this.next || data.length === 0) return; // already shown
    if (start > this.next) {
      // a loss the relay did not announce (it always should): say so
      this.o.sink.notice(`[… ${start - this.next} bytes lost …]`);
    } else if (start < this.next) {
      data = data.subarray(this.next - start);
    }
    this.next = end;
    if (this.st === "offline") this.setState("online");
    this.o.sink.write(data, () => this.onProcessed(end));
  }

  // xterm.js parses what waits in slices of up to 12 ms and calls the
  // write callbacks of a slice one after another in the same task; past
  // ACK_BYTES the ack goes when that task ends (a microtask), so one ack
  // covers the whole slice instead of one every 32 KiB of it. Each ack is
  // a WebSocket send, which costs the page's main thread ~0.3 ms in
  // Chromium (docs/performance.md, "The browser").
  private onProcessed(end: number): void {
    if (end > this.processed) this.processed = end;
    if (!this.authed) return;
    if (this.processed - this.ackSent >= ACK_BYTES) {
      if (this.ackQueued) return;
      this.ackQueued = true;
      queueMicrotask(() => {
        this.ackQueued = false;
        this.flushAck();
      });
    } else if (!this.ackTimer) this.ackTimer = setTimeout(() => this.flushAck(), ACK_DELAY);
  }

  private flushAck(): void {
    if (this.ackTimer) clearTimeout(this.ackTimer);
    this.ackTimer = null;
    if (!this.authed || this.processed <= this.ackSent) return;
    this.ackSent = this.processed;
    this.msg("ack", { session_id: this.o.sessionId, offset: this.processed });
  }

  private end(reason: string, exitCode: number | undefined, message = ""): void {
    if (this.st === "ended") return;
    this.dropInput("the session ended");
    this.flushAck();
    this.clearRetry();
    this.setState("ended", message || endText(reason, exitCode));
    this.o.onEnd?.(reason, exitCode);
    this.drop(1000, "session ended");
  }

  private startPing(): void {
    this.stopPing();
    this.pingAt = 0;
    const tick = () => {
      if (!this.authed) return;
      if (this.pingAt && Date.now() - this.pingAt > PONG_TIMEOUT) {
        this.lost("no answer from the relay");
        return;
      }
      if (!this.pingAt) {
        this.pingAt = Date.now();
        this.msg("ping");
      }
    };
    tick();
    this.pingTimer = setInterval(tick, PING_INTERVAL);
  }

  private stopPing(): void {
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.pingTimer = null;
    this.pingAt = 0;
  }

  private startProbe(): void {
    if (this.probeTimer) return;
    this.probeTimer = setInterval(() => {
      if (this.authed && !this.viewOnly) this.sessionStart();
    }, OFFLINE_PROBE);
  }

  private stopProbe(): void {
    if (this.probeTimer) clearInterval(this.probeTimer);
    this.probeTimer = null;
  }

  // Forgets the socket (a stalled one may take minutes to report its
  // close) and retries.
  private lost(why: string): void {
    this.drop(4000, why);
    this.afterClose(why);
  }

  // Detaches and closes the current socket without waiting for its close.
  private drop(code: number, reason: string): void {
    const ws = this.ws;
    // Input sent on this link and not yet acknowledged may be lost with
    // it: what waits behind it is not sent on the next link (it would run
    // after a hole). With everything acknowledged, it is.
    if (ws && this.inSent > this.inAcked) this.dropInput("the connection dropped while input was on its way");
    this.ws = null;
    this.authed = false;
    this.stopPing();
    this.stopProbe();
    if (this.ackTimer) clearTimeout(this.ackTimer);
    this.ackTimer = null;
    if (this.authTimer) clearTimeout(this.authTimer);
    this.authTimer = null;
    if (!ws) return;
    ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
    try {
      ws.close(code, reason);
    } catch {
      /* already closed */
    }
  }

  private closed(code: number, reason: string): void {
    const lasted = this.connectedAt && Date.now() - this.connectedAt >= BACKOFF_RESET;
    this.drop(1000, "");
    if (lasted) this.attempt = 0;
    if (code === 1001) this.quickRetry = true;
    if (code === 4003 && !this.fatal) {
      this.fatal = true;
      this.setState("failed", reason || "this session is no longer shared with you");
      return;
    }
    this.afterClose(reason || closeText(code));
  }

  private afterClose(why: string): void {
    this.connectedAt = 0;
    if (this.disposed || this.fatal || this.st === "ended") return;
    this.scheduleRetry(why);
  }

  private scheduleRetry(why: string): void {
    if (this.disposed) return;
    this.clearRetry();
    const delay = this.quickRetry ? RESTART_RETRY + Math.round(Math.random() * RESTART_RETRY) : backoffDelay(this.attempt++);
    this.quickRetry = false;
    this.setState("reconnecting", `${why}; retrying in ${Math.max(1, Math.round(delay / 1000))} s`);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.open();
    }, delay);
  }

  private clearRetry(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }
}

function sizeText(n: number): string {
  if (n >= 1024 * 1024) return `${(n / (1024 * 1024)).toFixed(1).replace(/\.0$/, "")} MiB`;
  if (n >= 1024) return `${Math.round(n / 1024)} KiB`;
  return `${n} bytes`;
}

export function endText(reason: string, exitCode: number | undefined): string {
  let s = `Session ended: ${endReasonText(reason)}`;
  if (exitCode !== undefined) s += ` (exit code ${exitCode})`;
  return s;
}

function closeText(code: number): string {
  switch (code) {
    case 1000:
      return "the relay closed the connection";
    case 1001:
      return "the relay is restarting";
    case 1006:
      return "the connection was lost";
    case 1008:
      return "the relay refused the connection";
    case 1009:
      return "a message was too big";
    default:
      return `the connection closed (${code})`;
  }
}

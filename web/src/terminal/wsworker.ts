// The terminal's WebSocket in a dedicated worker, behind the part of the
// WebSocket interface TermConnection uses (docs/decisions.md 58
// [browser]).
//
// Why: Chromium hands a WebSocket's messages to the thread that owns it
// only a little ahead of what that thread has taken (measured: while
// xterm.js parses and draws a flood on the main thread, it held 0–220 KiB
// received and not yet processed, none at one frame in ten, with the
// agent's 1 MiB window otherwise in flight); the main thread then waits
// for the next message with nothing to parse (20–25% idle during a
// flood). A worker's thread is always free to take the messages; they
// wait for the page in its own task queue, as much as the window lets
// through (the page still acks only what xterm.js processed, so memory
// stays bounded by the window). Measured: 7 of 9 interleaved pairs drew a
// 17 MB cat faster, median +28% (docs/performance.md, "The browser").
//
// Where a worker cannot be made (no Worker, a Content-Security-Policy
// that refuses it, a script that fails to load), the plain WebSocket is
// used, from then on for the life of the page.
import type { FromWorker, ToWorker } from "./socket.worker";

export interface WorkerLike {
  postMessage(m: ToWorker): void;
  terminate(): void;
  onmessage: ((e: MessageEvent<FromWorker>) => void) | null;
  onerror: ((e: Event) => void) | null;
}

const CONNECTING = 0;
const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;

let broken = typeof Worker === "undefined";

function makeWorker(): WorkerLike {
  return new Worker(new URL("./socket.worker.ts", import.meta.url), { type: "module" }) as unknown as WorkerLike;
}

export class WorkerSocket {
  readyState = CONNECTING;
  binaryType: BinaryType = "arraybuffer"; // always: the worker sets it
  onopen: ((ev: Event) => void) | null = null;
  onmessage: ((ev: MessageEvent) => void) | null = null;
  onclose: ((ev: CloseEvent) => void) | null = null;
  onerror: ((ev: Event) => void) | null = null;
  private w: WorkerLike;

  constructor(
    readonly url: string,
    w: WorkerLike,
  ) {
    this.w = w;
    w.onmessage = (e) => this.event(e.data);
    w.onerror = () => {
      // the worker's script did not load or threw: never again this page
      broken = true;
      this.ended(1006, "");
    };
    w.postMessage({ op: "open", url });
  }

  send(data: string | ArrayBuffer | Uint8Array): void {
    if (this.readyState !== OPEN) return;
    this.w.postMessage({ op: "send", data });
  }

  close(code?: number, reason?: string): void {
    if (this.readyState >= CLOSING) return;
    this.readyState = CLOSING;
    this.w.postMessage({ op: "close", code, reason });
  }

  private event(m: FromWorker): void {
    if (this.readyState === CLOSED) return;
    switch (m.ev) {
      case "open":
        if (this.readyState !== CONNECTING) return;
        this.readyState = OPEN;
        this.onopen?.(new Event("open"));
        break;
      case "message":
        if (this.readyState === OPEN) this.onmessage?.({ data: m.data } as MessageEvent);
        break;
      case "error":
        this.onerror?.(new Event("error"));
        break;
      case "close":
        this.ended(m.code, m.reason);
        break;
    }
  }

  private ended(code: number, reason: string): void {
    if (this.readyState === CLOSED) return;
    this.readyState = CLOSED;
    this.w.terminate();
    this.onclose?.({ code, reason, wasClean: code === 1000 } as CloseEvent);
  }
}

// A socket for TermConnection's `socket` option: in a worker where one
// can be made, else the plain WebSocket.
export function workerSocket(url: string, make: () => WorkerLike = makeWorker): WebSocket {
  if (!broken) {
    try {
      return new WorkerSocket(url, make()) as unknown as WebSocket;
    } catch {
      broken = true;
    }
  }
  return new WebSocket(url);
}

// For the tests: forget that a worker failed.
export function resetWorkerSocket(): void {
  broken = typeof Worker === "undefined";
}

// The terminal's WebSocket, run in a dedicated worker (wsworker.ts says
// why). Owns one socket; relays its events to the page and the page's
// sends and close to it. Binary messages go to the page as transferred
// ArrayBuffers (no copy), text as strings.
export type ToWorker = { op: "open"; url: string } | { op: "send"; data: string | ArrayBuffer | Uint8Array } | { op: "close"; code?: number; reason?: string };
export type FromWorker =
  | { ev: "open" }
  | { ev: "message"; data: string | ArrayBuffer }
  | { ev: "close"; code: number; reason: string }
  | { ev: "error" };

const scope = self as unknown as { onmessage: ((e: MessageEvent<ToWorker>) => void) | null; postMessage(m: FromWorker, transfer?: Transferable[]): void };
let ws: WebSocket | null = null;

scope.onmessage = (e) => {
  const m = e.data;
  if (m.op === "open" && !ws) {
    const s = new WebSocket(m.url);
    ws = s;
    s.binaryType = "arraybuffer";
    s.onopen = () => scope.postMessage({ ev: "open" });
    s.onmessage = (ev: MessageEvent) => {
      if (typeof ev.data === "string") scope.postMessage({ ev: "message", data: ev.data });
      else scope.postMessage({ ev: "message", data: ev.data as ArrayBuffer }, [ev.data as ArrayBuffer]);
    };
    s.onclose = (ev: CloseEvent) => scope.postMessage({ ev: "close", code: ev.code, reason: ev.reason });
    s.onerror = () => scope.postMessage({ ev: "error" });
  } else if (m.op === "send") {
    if (ws?.readyState === 1) ws.send(m.data);
  } else if (m.op === "close") {
    try {
      ws?.close(m.code, m.reason);
    } catch {
      ws?.close();
    }
  }
};

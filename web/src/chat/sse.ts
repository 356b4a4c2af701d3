// Server-sent events read from a fetch() body (EventSource can neither POST
// nor send the app's headers). SseParser is pure: text in, events out, so
// it is unit-tested without a network (web/test/chat_sse.test.mjs);
// readSse drives it from a Response.

export interface SseEvent {
  event: string; // "message" when the block names none
  data: string; // the data: lines joined with "\n"
}

// The largest event kept while buffering (characters): four times the
// largest the relay can carry (one link frame, CL_WS_MAX_MESSAGE, 1 MiB:
// a chat event is one frame). Past it the buffer is dropped and the parser
// resyncs at the next blank line rather than growing without end on a
// hostile or broken stream.
export const SSE_MAX_EVENT = 4 * 1024 * 1024;

export class SseParser {
  private buf = "";
  private skipping = false;

  // Feeds a decoded chunk; returns the events it completed, in order.
  push(chunk: string): SseEvent[] {
    this.buf += chunk;
    // CRLF and lone CR end lines too (the SSE spec); a CR at the very end
    // may be half of a CRLF: keep it for the next chunk
    let tailCR = false;
    if (this.buf.endsWith("\r")) {
      tailCR = true;
      this.buf = this.buf.slice(0, -1);
    }
    this.buf = this.buf.replace(/\r\n?/g, "\n");
    if (tailCR) this.buf += "\r";
    const out: SseEvent[] = [];
    let cut: number;
    while ((cut = this.buf.indexOf("\n\n")) >= 0) {
      const block = this.buf.slice(0, cut);
      this.buf = this.buf.slice(cut + 2);
      if (this.skipping) {
        this.skipping = false;
        continue;
      }
      const ev = parseBlock(block);
      if (ev) out.push(ev);
    }
    if (this.buf.length > SSE_MAX_EVENT) {
      this.buf = "";
      this.skipping = true;
    }
    return out;
  }
}

function parseBlock(block: string): SseEvent | null {
  let event = "message";
  const data: string[] = [];
  for (const line of block.split("\n")) {
    if (line === "" || line.startsWith(":")) continue; // a comment (keep-alive)
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let val = colon < 0 ? "" : line.slice(colon + 1);
    if (val.startsWith(" ")) val = val.slice(1);
    if (field === "event") event = val || "message";
    else if (field === "data") data.push(val);
  }
  if (data.length === 0) return null; // the spec: no data, no event
  return { event, data: data.join("\n") };
}

// The JSON of an event's data, or null when it is not a JSON object.
export function sseJson(ev: SseEvent): Record<string, unknown> | null {
  try {
    const v: unknown = JSON.parse(ev.data);
    return v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

// Reads a text/event-stream body to its end, calling onEvent for each
// event; onEvent returning true stops early. Resolves true when stopped by
// onEvent, false when the stream ended; rejects when it broke.
export async function readSse(body: ReadableStream<Uint8Array>, onEvent: (ev: SseEvent) => boolean | void): Promise<boolean> {
  const reader = body.getReader();
  const dec = new TextDecoder();
  const p = new SseParser();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) {
        for (const ev of p.push(dec.decode() + "\n\n")) if (onEvent(ev)) return true;
        return false;
      }
      for (const ev of p.push(dec.decode(value, { stream: true }))) if (onEvent(ev)) return true;
    }
  } finally {
    reader.cancel().catch(() => undefined);
  }
}

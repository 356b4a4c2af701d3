// The chat API through the relay (docs/chat.md, "The chat API"):
// /api/v1/devices/{id}/chat/... answered by the device's agent. Plain
// requests go through api() (cookie + CSRF); the two streams (a message's
// reply, GET /events) are fetch() bodies read as server-sent events.
import { ApiError, api } from "../api";
import { openEventStream } from "../stream";
import { readSse, sseJson, type SseEvent } from "./sse";

export { ApiError }; // the one class chatErrorText knows (the tests load this module alone)

export interface Workspace {
  id: number;
  name: string;
  default_agent: string | null;
  folder: string | null;
  created_at: number;
  updated_at: number;
}

export interface Thread {
  id: number;
  workspace_id: number | null;
  session_key: string;
  title: string;
  title_set_by_user: boolean;
  created_at: number;
  updated_at: number;
  last_message_at: number | null;
  memory?: boolean; // per-thread "use memory", when the agent serves it
}

export interface Attachment {
  id: number;
  name: string;
  mime: string;
  size: number;
}

export interface Message {
  id: number;
  thread_id: number;
  gateway_id: string | null;
  role: string;
  content: string;
  run_id: string | null;
  state: "streaming" | "final" | "aborted" | "error" | string;
  tool_calls: unknown[] | null;
  usage: Record<string, unknown> | null;
  sender_user_id: string | null;
  created_at: number;
  seq: number | null;
  attachments: Attachment[];
  truncated?: boolean; // content cut to fit one frame of the link (CL_CHAT_FRAME_MAX)
}

export interface Note {
  id: number;
  text: string;
  tags: string;
  source_thread_id: number | null;
  created_at: number;
  updated_at: number;
}

export interface Hit {
  kind: "message" | "note";
  id: number;
  thread_id: number | null;
  thread_title: string | null;
  role: string | null;
  snippet: string;
  created_at: number;
}

// What a refusal means, in words. The codes: docs/protocol.md "Chat"
// (no_chat_bridge), docs/chat.md (gateway_offline), docs/api.md
// (device_offline, capability_denied).
export function chatErrorText(e: unknown): string {
  if (!(e instanceof ApiError)) return e instanceof Error ? e.message : String(e);
  const hint: Record<string, string> = {
    device_offline: "The device is offline: its agent is not connected to the relay.",
    no_chat_bridge: "This device has no chat bridge: its agent does not serve the chat API (a PrivaClaw connector, or an older clawlink).",
    gateway_offline: "The OpenClaw gateway is not connected to the agent; try again when it is back.",
    capability_denied: "The agent refuses chat: it is not among the capabilities its owner declared in the agent's config.",
    forbidden: "You may not do this in this project.",
    busy: "The device has too many chat requests in flight; try again in a moment.",
    timeout: "The agent did not answer in time.",
    memory_unavailable: "The agent has no memory provider configured.",
    not_found: "Not found: it may have been deleted.",
    network: "The relay cannot be reached. Check your connection.",
  };
  let code = e.code;
  if (e.status === 501 && !hint[code]) code = "no_chat_bridge";
  const base = hint[code];
  return base ? `${base} (${e.code})` : `${e.message} (${e.code})`;
}

export class ChatApi {
  readonly base: string;
  constructor(public deviceId: string) {
    this.base = `/api/v1/devices/${encodeURIComponent(deviceId)}/chat`;
  }
  private q(params: Record<string, string | number | null | undefined>): string {
    const s = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v !== null && v !== undefined && v !== "") s.set(k, String(v));
    const t = s.toString();
    return t ? "?" + t : "";
  }
  workspaces() {
    return api<{ workspaces: Workspace[] }>("GET", `${this.base}/workspaces`);
  }
  createWorkspace(name: string) {
    return api<Workspace>("POST", `${this.base}/workspaces`, { name });
  }
  patchWorkspace(id: number, body: Partial<Pick<Workspace, "name" | "default_agent" | "folder">>) {
    return api<Workspace>("PATCH", `${this.base}/workspaces/${id}`, body);
  }
  deleteWorkspace(id: number) {
    return api<void>("DELETE", `${this.base}/workspaces/${id}`);
  }
  threads(cursor?: string | null, limit = 100) {
    return api<{ threads: Thread[]; next_cursor: string | null }>("GET", `${this.base}/threads${this.q({ cursor, limit })}`);
  }
  createThread(body: { title?: string; workspace_id?: number | null }) {
    return api<Thread>("POST", `${this.base}/threads`, body);
  }
  thread(id: number) {
    return api<Thread>("GET", `${this.base}/threads/${id}`);
  }
  patchThread(id: number, body: { title?: string; workspace_id?: number | null; memory?: boolean }) {
    return api<Thread>("PATCH", `${this.base}/threads/${id}`, body);
  }
  deleteThread(id: number) {
    return api<void>("DELETE", `${this.base}/threads/${id}`);
  }
  messages(thread: number, before?: number | null, limit = 50) {
    return api<{ messages: Message[]; has_more: boolean }>("GET", `${this.base}/threads/${thread}/messages${this.q({ before, limit })}`);
  }
  messagesAfter(thread: number, after: number, limit = 50) {
    return api<{ messages: Message[]; has_more: boolean }>("GET", `${this.base}/threads/${thread}/messages${this.q({ after, limit })}`);
  }
  stop(thread: number) {
    return api<{ aborted: boolean; run_ids: string[] }>("POST", `${this.base}/threads/${thread}/stop`, {});
  }
  search(q: string, limit = 20) {
    return api<{ hits: Hit[] }>("GET", `${this.base}/search${this.q({ q, limit })}`);
  }
  notes(before?: number | null, limit = 50) {
    return api<{ notes: Note[]; has_more: boolean }>("GET", `${this.base}/memory${this.q({ before, limit })}`);
  }
  addNote(body: { text: string; tags?: string; source_thread_id?: number }) {
    return api<Note>("POST", `${this.base}/memory`, body);
  }
  searchNotes(q: string, limit = 20) {
    return api<{ hits: Hit[] }>("GET", `${this.base}/memory/search${this.q({ q, limit })}`);
  }
  deleteNote(id: number) {
    return api<void>("DELETE", `${this.base}/memory/${id}`);
  }

  // POST /threads/{t}/messages: the stream of message, delta…, done|error.
  // Resolves when the stream ends; rejects with an ApiError for a refusal
  // before the stream, or a stream that broke.
  // attachments: files on the device by path (docs/chat.md "Attachments").
  send(thread: number, content: string, onEvent: (name: string, data: Record<string, unknown>) => void, signal: AbortSignal, attachments: { path: string }[] = []) {
    const body: { content: string; attachments?: { path: string }[] } = { content };
    if (attachments.length) body.attachments = attachments;
    return stream("POST", `${this.base}/threads/${thread}/messages`, body, onEvent, signal);
  }
  // GET /events until it ends or signal aborts.
  events(onEvent: (name: string, data: Record<string, unknown>) => void, signal: AbortSignal) {
    return stream("GET", `${this.base}/events`, undefined, onEvent, signal);
  }
}

// One streamed request (stream.ts), then its events.
async function stream(
  method: string,
  path: string,
  body: unknown,
  onEvent: (name: string, data: Record<string, unknown>) => void,
  signal: AbortSignal,
): Promise<void> {
  const events = await openEventStream(method, path, body, signal);
  try {
    await readSse(events, (ev: SseEvent) => {
      const data = sseJson(ev);
      if (data) onEvent(ev.event, data);
    });
  } catch {
    if (signal.aborted) throw new ApiError(0, "aborted", "Stopped.");
    throw new ApiError(0, "network", "The connection to the relay dropped.");
  }
}

// An `error` event's {error: {code, message}} (or a bare {code, message})
// as an ApiError.
export function eventError(data: Record<string, unknown>): ApiError {
  const e = (data.error && typeof data.error === "object" ? data.error : data) as { code?: unknown; message?: unknown };
  return new ApiError(200, typeof e.code === "string" ? e.code : "error", typeof e.message === "string" ? e.message : "The agent reported an error.");
}

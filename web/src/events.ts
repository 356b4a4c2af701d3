// The relay's /events WebSocket (docs/api.md, "Realtime"), shared by the
// pages: one socket for the whole app, opened while at least one page
// listens, closed when the last one stops.
//
// The browser authenticates with its HttpOnly session cookie: the first
// message is `auth` without a token (the relay takes the cookie's session
// when the socket's Origin is its own). A socket that drops is reopened
// after 1 s, doubling up to 30 s, back to 1 s once auth_ok arrives. Events
// are not replayed after a gap: listen to onState and reread over HTTP
// when the state becomes "live" again after a drop.
import { wsUrl } from "./api";
import { parseMsg } from "./terminal/protocol";

export type EventKind =
  | "device.online"
  | "device.offline"
  | "device.added"
  | "device.renamed"
  | "device.deleted"
  | "session.started"
  | "session.ended"
  | "session.title"
  | "session.renamed"
  | "member.added"
  | "member.removed";

// One event: kind, project_id and at (Unix seconds) always; the other
// fields depend on the kind (see the table in docs/api.md).
export interface RelayEvent {
  kind: EventKind | string;
  project_id: string;
  at: number;
  device_id?: string;
  device?: Record<string, unknown> & { id: string };
  session_id?: string;
  user_id?: string;
  started_at?: number;
  reason?: string;
  title?: string; // session.title
  name?: string | null; // session.renamed (null: cleared)
  email?: string;
  display_name?: string | null;
  role?: string;
}

// "connecting": opening or authenticating; "live": auth_ok received;
// "retrying": dropped, a new attempt is scheduled; "refused": the relay
// refused the sign-in (signed out, or the session expired): no retry until
// a page subscribes again.
export type EventsState = "connecting" | "live" | "retrying" | "refused";

type EventListener_ = (e: RelayEvent) => void;
type StateListener = (s: EventsState) => void;

const BACKOFF_MIN_MS = 1000;
const BACKOFF_MAX_MS = 30000;
const PING_MS = 25000; // keeps idle proxies from closing the socket

const eventListeners = new Set<EventListener_>();
const stateListeners = new Set<StateListener>();
let ws: WebSocket | null = null;
let state: EventsState = "retrying";
let backoff = BACKOFF_MIN_MS;
let retryTimer: ReturnType<typeof setTimeout> | null = null;
let pingTimer: ReturnType<typeof setInterval> | null = null;

function setState(s: EventsState): void {
  if (s === state) return;
  state = s;
  for (const l of [...stateListeners]) l(s);
}

function stopTimers(): void {
  if (retryTimer) clearTimeout(retryTimer);
  if (pingTimer) clearInterval(pingTimer);
  retryTimer = null;
  pingTimer = null;
}

function wanted(): boolean {
  return eventListeners.size > 0 || stateListeners.size > 0;
}

function open(): void {
  stopTimers();
  setState("connecting");
  let sock: WebSocket;
  try {
    sock = new WebSocket(wsUrl("/events"));
  } catch {
    schedule();
    return;
  }
  ws = sock;
  let refused = false;
  sock.onopen = () => sock.send(JSON.stringify({ type: "auth", data: {} }));
  sock.onmessage = (m) => {
    if (typeof m.data !== "string") return;
    // null unless a JSON object with a string type; data: an object or undefined
    const msg = parseMsg(m.data);
    if (!msg) return;
    if (msg.type === "auth_ok") {
      backoff = BACKOFF_MIN_MS;
      setState("live");
      pingTimer = setInterval(() => {
        if (sock.readyState === WebSocket.OPEN) sock.send('{"type":"ping"}');
      }, PING_MS);
    } else if (msg.type === "event" && msg.data) {
      const ev = msg.data as unknown as RelayEvent;
      for (const l of [...eventListeners]) {
        try {
          l(ev);
        } catch (err) {
          console.error("events listener", err);
        }
      }
    } else if (msg.type === "error") {
      const code = String(msg.data?.code ?? "");
      if (code === "auth_failed" || code === "not_authenticated") refused = true;
    }
  };
  sock.onclose = () => {
    if (ws !== sock) return; // replaced or stopped on purpose
    ws = null;
    stopTimers();
    if (!wanted()) return;
    if (refused) setState("refused");
    else schedule();
  };
}

function schedule(): void {
  setState("retrying");
  const delay = backoff;
  backoff = Math.min(backoff * 2, BACKOFF_MAX_MS);
  retryTimer = setTimeout(() => {
    retryTimer = null;
    if (wanted()) open();
  }, delay);
}

function ensure(): void {
  if (ws || retryTimer) return;
  backoff = BACKOFF_MIN_MS;
  open();
}

function maybeClose(): void {
  if (wanted()) return;
  stopTimers();
  const s = ws;
  ws = null;
  if (s) s.close(1000);
  state = "retrying";
}

// Calls fn for every event the relay sends (all the user's projects:
// filter on project_id). Returns the function that stops listening.
export function onEvent(fn: EventListener_): () => void {
  eventListeners.add(fn);
  ensure();
  return () => {
    eventListeners.delete(fn);
    maybeClose();
  };
}

// Calls fn with the socket's state now and at every change.
export function onState(fn: StateListener): () => void {
  stateListeners.add(fn);
  ensure();
  fn(state);
  return () => {
    stateListeners.delete(fn);
    maybeClose();
  };
}

export function eventsState(): EventsState {
  return state;
}

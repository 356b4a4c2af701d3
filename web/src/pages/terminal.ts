// /terminal/:deviceId/:sessionId — the browser terminal. sessionId "new"
// starts a session (POST /functions/v1/start-session) and replaces the URL
// with the real id; when the user already has live sessions they may
// attach to on that device, it first offers them (Reattach) beside "Start
// a new session" instead of starting another shell (?start=1 skips that:
// the user asked for a new one). The page wires a TermView (xterm.js) to a
// TermConnection (the /session WebSocket) and adds the toolbar, the share
// panel and the on-screen key row.
import "../terminal/terminal.css";
import { ApiError, del, get, post, wsUrl } from "../api";
import { shell } from "../layout";
import type { Cleanup, Page } from "../router";
import { currentUser, loadSession } from "../session";
import { TermConnection, endText, type ConnState } from "../terminal/connection";
import { binaryBytes, utf8Bytes } from "../terminal/protocol";
import { TermView } from "../terminal/view";
import { copyText, dialog, h, toast } from "../ui";
import { viewToggle } from "../chat/toggle";
import type { Device, Member, SessionRow } from "../models";
import { fmtDuration, sessionLabel, sessionLabelEl, starterText, timeEl } from "./device-common";

interface Share {
  user_id: string;
  email: string;
  mode: "view" | "control";
}
interface Viewer {
  user_id: string;
  email: string;
  display_name?: string | null;
  mode: "view" | "control";
}

// Test hook (read-only; for the browser tests, holds no secrets):
// window.__clawlinkTerm.text()   the lines on screen joined by \n
//                      .offset() the stream offset after the last byte
//                                written to the terminal
//                      .state()  the connection state: connecting, online,
//                                reconnecting, offline, ended or failed
//                      .size()   the terminal's {cols, rows}
//                      .renderer() what draws it now: webgl or dom
//                      .onRender(fn) calls fn after each frame xterm.js
//                                has drawn (the bench's "drawn" time);
//                                returns the unsubscribe
declare global {
  interface Window {
    __clawlinkTerm?: {
      text(): string;
      offset(): number;
      state(): string;
      size(): { cols: number; rows: number };
      renderer(): string;
      onRender(fn: () => void): () => void;
    };
  }
}

const VIEWERS_POLL = 10000; // ms: own mode and device status, panel closed
const VIEWERS_POLL_OPEN = 3000; // ms: while the share panel is open
const END_WAIT = 3000; // ms: after end-session, before marking it ended ourselves

// The badge's words; "failed" (refused for good) reads as offline.
const BADGE: Record<ConnState, string> = {
  connecting: "connecting",
  online: "online",
  reconnecting: "reconnecting",
  offline: "offline",
  ended: "ended",
  failed: "offline",
};

// Ctrl + a key, as a terminal sends it.
export function ctrlKey(c: string): string {
  if (c.length !== 1) return c;
  const code = c.toUpperCase().charCodeAt(0);
  if (code >= 64 && code <= 95) return String.fromCharCode(code & 0x1f); // @ A–Z [ \ ] ^ _
  switch (c) {
    case " ":
    case "2":
      return "\x00";
    case "|":
      return "\x1c";
    case "~":
      return "\x1e";
    case "/":
      return "\x1f";
    case "?":
      return "\x7f";
    default:
      return c;
  }
}

const ARROWS: Record<string, string> = { left: "D", up: "A", right: "C", down: "B" };

const page: Page = (root, params) => {
  const deviceId = params.deviceId;
  let sessionId = params.sessionId === "new" ? "" : params.sessionId;
  // "new" without ?start=1: offer the user's live sessions there first
  let offerReattach = !sessionId && new URLSearchParams(location.search).get("start") !== "1";
  const me = currentUser();
  const app = document.getElementById("app");
  app?.classList.add("term-app");

  let disposed = false;
  let conn: TermConnection | null = null;
  let device: Device | null = null;
  let isStarter = false;
  let canEnd = false;
  let panelOpen = false;
  let ctrlArmed = false;
  let pollTimer: ReturnType<typeof setTimeout> | null = null;
  let lastInputHint = 0;
  const timers = new Set<ReturnType<typeof setTimeout>>();
  const later = (fn: () => void, ms: number) => {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
  };

  // ---- frame -------------------------------------------------------------
  const main = shell(
    root,
    [
      ["Dashboard", "/dashboard"],
      ["Terminal", null],
    ],
    true,
  );
  main.classList.add("term-page");

  const deviceLink = h("a", { href: `/device/${encodeURIComponent(deviceId)}`, "data-link": true, class: "term-device", "data-testid": "term-device" }, "Device");
  const badge = h("span", { class: "badge", role: "status", "aria-label": "Connection", "data-testid": "term-state" }, "connecting");
  const latency = h("span", { class: "term-latency muted", title: "Round trip to the relay", "data-testid": "term-latency" }, "— ms");
  const sharedBy = h("span", { class: "muted term-shared-by" });
  const viewOnlyBadge = h("span", { class: "badge term-view-only", hidden: true, "data-testid": "term-view-only" }, "view only");

  const btnReconnect = h("button", { class: "small", type: "button", "data-testid": "term-reconnect", title: "Reconnect now" }, "Reconnect");
  const btnCopy = h("button", { class: "small", type: "button", "data-testid": "term-copy", title: "Copy the selection (Ctrl+Shift+C)" }, "Copy");
  const btnPaste = h("button", { class: "small", type: "button", "data-testid": "term-paste", title: "Paste (Ctrl+Shift+V)" }, "Paste");
  const btnSearch = h("button", { class: "small", type: "button", "data-testid": "term-search", title: "Search (Ctrl+Shift+F)", "aria-expanded": "false", "aria-controls": "term-search-box" }, "Search");
  const btnShare = h("button", { class: "small", type: "button", "data-testid": "term-share", "aria-expanded": "false", "aria-controls": "share-panel" }, "Share");
  const btnEnd = h("button", { class: "small danger", type: "button", "data-testid": "term-end", hidden: true }, "End session");

  const searchInput = h("input", { id: "term-search-input", type: "search", placeholder: "Search", "aria-label": "Search the terminal", "data-testid": "term-search-input" });
  const searchBox = h(
    "div",
    { class: "term-search", id: "term-search-box", hidden: true, role: "search" },
    searchInput,
    h("button", { class: "small", type: "button", "aria-label": "Previous match", onclick: () => find(false) }, "↑"),
    h("button", { class: "small", type: "button", "aria-label": "Next match", onclick: () => find(true) }, "↓"),
    h("button", { class: "small", type: "button", "aria-label": "Close search", onclick: () => toggleSearch(false) }, "✕"),
  );

  const toolbar = h(
    "div",
    { class: "term-toolbar", role: "toolbar", "aria-label": "Terminal" },
    deviceLink,
    viewToggle(deviceId, "terminal"),
    badge,
    latency,
    viewOnlyBadge,
    sharedBy,
    searchBox,
    h("div", { class: "term-actions" }, btnReconnect, btnCopy, btnPaste, btnSearch, btnShare, btnEnd),
  );
  const message = h("div", { class: "term-message", role: "status", "aria-live": "polite", hidden: true, "data-testid": "term-message" });
  const screen = h("div", { class: "term-screen", "data-testid": "terminal" });
  const panel = h("aside", { class: "share-panel", id: "share-panel", hidden: true, "aria-label": "Sharing", "data-testid": "share-panel" });
  const body = h("div", { class: "term-body" }, screen, panel);

  const keyButton = (label: string, aria: string, key: string) =>
    h("button", { type: "button", "data-key": key, "aria-label": aria, tabindex: -1 }, label);
  const ctrlButton = h("button", { type: "button", "data-key": "ctrl", "aria-pressed": "false", tabindex: -1 }, "Ctrl");
  const keyRow = h(
    "div",
    { class: "key-row", role: "group", "aria-label": "Extra keys", "data-testid": "key-row" },
    keyButton("Esc", "Escape", "esc"),
    keyButton("Tab", "Tab", "tab"),
    ctrlButton,
    keyButton("←", "Left", "left"),
    keyButton("↑", "Up", "up"),
    keyButton("→", "Right", "right"),
    keyButton("↓", "Down", "down"),
    keyButton("|", "Pipe", "|"),
    keyButton("~", "Tilde", "~"),
    keyButton("/", "Slash", "/"),
  );
  main.append(toolbar, message, body, keyRow);

  // ---- state display -----------------------------------------------------
  const setMessage = (text: string, kind: "info" | "error" = "info", extra?: Node) => {
    message.replaceChildren(text, ...(extra ? [extra] : []));
    message.classList.toggle("error", kind === "error");
    message.hidden = !text;
  };
  const showState = (s: ConnState) => {
    badge.textContent = BADGE[s];
    badge.className = `badge term-badge-${s}` + (s === "online" ? " online" : "");
    badge.dataset.state = s;
    btnReconnect.disabled = s === "ended";
    if (s !== "online") latency.textContent = "— ms";
    const inert = s === "ended";
    btnPaste.disabled = inert || (conn?.isViewOnly ?? false);
    btnEnd.disabled = inert;
  };
  showState("connecting");

  // ---- the terminal ------------------------------------------------------
  const sendText = (d: string) => {
    if (!conn) return;
    if (conn.isViewOnly) {
      hintInput("This session is shared with you view only: your typing is not sent.");
      return;
    }
    if (!conn.send(utf8Bytes(d))) hintInput("Not connected: your typing was not sent.");
  };
  const hintInput = (text: string) => {
    const now = Date.now();
    if (now - lastInputHint < 3000) return;
    lastInputHint = now;
    toast(text, "info");
  };
  const onKey = (ev: KeyboardEvent): boolean => {
    // view only: xterm.js drops the typing (disableStdin), so say why here
    if (ev.type === "keydown" && conn?.isViewOnly && !ev.ctrlKey && !ev.altKey && !ev.metaKey && (ev.key.length === 1 || ev.key === "Enter")) {
      hintInput("This session is shared with you view only: your typing is not sent.");
    }
    if (ev.type !== "keydown" || !ev.ctrlKey || !ev.shiftKey || ev.altKey || ev.metaKey) return true;
    switch (ev.code) {
      case "KeyC":
        ev.preventDefault();
        void copySelection();
        return false;
      case "KeyV":
        // the browser's own paste reaches xterm.js's paste handler
        return false;
      case "KeyF":
        ev.preventDefault();
        toggleSearch(true);
        return false;
      default:
        return true;
    }
  };
  const view = new TermView(screen, {
    onData: (d) => {
      if (ctrlArmed && d.length === 1) {
        setCtrl(false);
        d = ctrlKey(d);
      }
      sendText(d);
    },
    onBinary: (d) => {
      if (conn && !conn.isViewOnly) conn.send(binaryBytes(d));
    },
    onResize: (cols, rows) => conn?.resize(cols, rows),
    onKey,
  });
  view.focus();

  window.__clawlinkTerm = {
    text: () => view.text(),
    offset: () => conn?.offset ?? 0,
    state: () => conn?.state ?? badge.dataset.state ?? "connecting",
    size: () => ({ cols: view.cols, rows: view.rows }),
    renderer: () => view.renderer,
    onRender: (fn) => {
      const sub = view.term.onRender(() => fn());
      return () => sub.dispose();
    },
  };

  // ---- toolbar actions ---------------------------------------------------
  async function copySelection(): Promise<void> {
    const sel = view.selection();
    if (!sel) {
      toast("Select some text in the terminal first");
      return;
    }
    await copyText(sel);
    view.focus();
  }
  async function pasteClipboard(): Promise<void> {
    if (conn?.isViewOnly) return hintInput("This session is shared with you view only.");
    let text: string;
    try {
      text = await navigator.clipboard.readText();
    } catch {
      toast("The browser did not allow reading the clipboard: press Ctrl+Shift+V in the terminal", "error");
      return;
    }
    if (text) view.paste(text);
    view.focus();
  }
  function toggleSearch(open: boolean): void {
    searchBox.hidden = !open;
    btnSearch.setAttribute("aria-expanded", String(open));
    if (open) {
      const sel = view.selection();
      if (sel && !sel.includes("\n")) searchInput.value = sel;
      searchInput.focus();
      searchInput.select();
    } else {
      view.clearSearch();
      view.focus();
    }
  }
  function find(forward: boolean): void {
    const q = searchInput.value;
    const found = forward ? view.findNext(q) : view.findPrevious(q);
    searchInput.setAttribute("aria-invalid", String(!!q && !found));
  }
  searchInput.addEventListener("keydown", (e) => {
    if (e.key === "Enter") {
      e.preventDefault();
      find(!e.shiftKey);
    } else if (e.key === "Escape") {
      e.preventDefault();
      toggleSearch(false);
    }
  });
  searchInput.addEventListener("input", () => {
    if (searchInput.value) view.findNext(searchInput.value);
    else view.clearSearch();
  });
  btnSearch.addEventListener("click", () => toggleSearch(searchBox.hidden));
  btnCopy.addEventListener("click", () => void copySelection());
  btnPaste.addEventListener("click", () => void pasteClipboard());
  btnReconnect.addEventListener("click", () => {
    if (!sessionId) void begin();
    else conn?.reconnect();
    view.focus();
  });
  btnEnd.addEventListener("click", async () => {
    const name = device?.name ?? "the device";
    const ok = await dialog(
      "End this session?",
      `The shell on ${name} is hung up, for everyone watching it.`,
      [
        { label: "Cancel", value: "" },
        { label: "End session", value: "end", kind: "danger" },
      ],
    );
    if (ok !== "end" || disposed || !sessionId) return;
    try {
      await post("/functions/v1/end-session", { session_id: sessionId });
    } catch (e) {
      toast(e instanceof ApiError ? e.message : "Could not end the session", "error");
      return;
    }
    // the relay tells every viewer; if this one is not connected, say it here
    later(() => {
      if (conn && conn.state !== "ended") conn.finish("ended_by_user");
    }, END_WAIT);
  });
  btnShare.addEventListener("click", () => setPanel(!panelOpen));

  // ---- key row -----------------------------------------------------------
  function setCtrl(on: boolean): void {
    ctrlArmed = on;
    ctrlButton.setAttribute("aria-pressed", String(on));
  }
  // keep the focus (and a phone's keyboard) on the terminal
  keyRow.addEventListener("pointerdown", (e) => e.preventDefault());
  keyRow.addEventListener("mousedown", (e) => e.preventDefault());
  keyRow.addEventListener("click", (e) => {
    const b = (e.target as HTMLElement).closest("button");
    const key = b?.dataset.key;
    if (!key) return;
    if (key === "ctrl") {
      setCtrl(!ctrlArmed);
      view.focus();
      return;
    }
    let seq: string;
    if (key in ARROWS) {
      const a = ARROWS[key];
      seq = ctrlArmed ? `\x1b[1;5${a}` : view.applicationCursor() ? `\x1bO${a}` : `\x1b[${a}`;
    } else if (key === "esc") seq = "\x1b";
    else if (key === "tab") seq = "\t";
    else seq = ctrlArmed ? ctrlKey(key) : key;
    setCtrl(false);
    sendText(seq);
    view.focus();
  });

  // ---- share panel -------------------------------------------------------
  const memberSelect = h("select", { id: "share-member", "data-testid": "share-member" });
  const modeSelect = h(
    "select",
    { id: "share-mode", "data-testid": "share-mode" },
    h("option", { value: "view" }, "Can watch (view only)"),
    h("option", { value: "control" }, "Can type (control)"),
  );
  const shareError = h("div", { class: "error-text", role: "alert" });
  const shareSubmit = h("button", { class: "primary small", type: "submit", "data-testid": "share-submit" }, "Share");
  const shareForm = h(
    "form",
    { class: "share-form" },
    h("div", { class: "field" }, h("label", { for: "share-member" }, "Project member"), memberSelect),
    h("div", { class: "field" }, h("label", { for: "share-mode" }, "They may"), modeSelect),
    shareSubmit,
    shareError,
  );
  const shareList = h("ul", { "data-testid": "share-list", "aria-label": "Shared with" });
  const viewersList = h("ul", { "data-testid": "viewers-list", "aria-label": "Watching now" });
  const shareSection = h("div", {});
  panel.append(
    h(
      "div",
      { class: "share-head" },
      h("h2", {}, "Share"),
      h("button", { class: "small", type: "button", "aria-label": "Close sharing", onclick: () => setPanel(false) }, "✕"),
    ),
    shareSection,
    h("h3", {}, "Watching now"),
    viewersList,
  );

  shareForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    shareError.textContent = "";
    const email = memberSelect.value;
    if (!email || !sessionId) return;
    shareSubmit.disabled = true;
    try {
      await post(`/api/v1/sessions/${encodeURIComponent(sessionId)}/shares`, { email, mode: modeSelect.value });
      toast(`Shared with ${email}`, "ok");
      await refreshShares();
    } catch (err) {
      shareError.textContent = err instanceof ApiError ? err.message : "Sharing failed";
    } finally {
      shareSubmit.disabled = conn?.state === "ended";
    }
  });

  async function renderShareSection(): Promise<void> {
    if (!isStarter) {
      shareSection.replaceChildren(h("p", { class: "muted" }, "Only the member who started this session can share it."));
      return;
    }
    let members: Member[] = [];
    try {
      if (device) members = (await get<{ members: Member[] }>(`/api/v1/projects/${encodeURIComponent(device.project_id)}/members`)).members;
    } catch {
      /* shown as none below */
    }
    const others = members.filter((m) => m.user_id !== me?.id);
    if (others.length === 0) {
      shareSection.replaceChildren(
        h(
          "p",
          { class: "muted" },
          "Nobody else is in this project yet. ",
          device ? h("a", { href: `/project/${encodeURIComponent(device.project_id)}`, "data-link": true }, "Invite someone") : null,
        ),
        h("h3", {}, "Shared with"),
        shareList,
      );
    } else {
      memberSelect.replaceChildren(
        ...others.map((m) => h("option", { value: m.email }, m.display_name ? `${m.display_name} <${m.email}>` : m.email)),
      );
      shareSection.replaceChildren(shareForm, h("h3", {}, "Shared with"), shareList);
    }
    await refreshShares();
  }

  async function refreshShares(): Promise<void> {
    if (!isStarter || !sessionId) return;
    let shares: Share[];
    try {
      shares = (await get<{ shares: Share[] }>(`/api/v1/sessions/${encodeURIComponent(sessionId)}/shares`)).shares;
    } catch {
      return;
    }
    if (disposed) return;
    shareList.replaceChildren(
      ...(shares.length
        ? shares.map((s) =>
            h(
              "li",
              { "data-user": s.user_id },
              h("span", { class: "who", title: s.email }, s.email),
              h("span", { class: "badge" }, s.mode === "control" ? "control" : "view"),
              h(
                "button",
                {
                  class: "small danger",
                  type: "button",
                  "data-testid": "share-revoke",
                  "aria-label": `Stop sharing with ${s.email}`,
                  onclick: async () => {
                    try {
                      await del(`/api/v1/sessions/${encodeURIComponent(sessionId)}/shares/${encodeURIComponent(s.user_id)}`);
                      toast(`No longer shared with ${s.email}`, "ok");
                    } catch (err) {
                      toast(err instanceof ApiError ? err.message : "Revoking failed", "error");
                    }
                    await refreshShares();
                  },
                },
                "Revoke",
              ),
            ),
          )
        : [h("li", { class: "muted" }, "Not shared with anyone.")]),
    );
  }

  async function pollViewers(): Promise<void> {
    pollTimer = null;
    if (disposed) return;
    // only while the relay answers the socket (no requests into a dead link)
    if (sessionId && conn && (conn.state === "online" || conn.state === "offline")) {
      try {
        const vs = (await get<{ viewers: Viewer[] }>(`/api/v1/sessions/${encodeURIComponent(sessionId)}/viewers`)).viewers;
        if (disposed) return;
        const mine = vs.find((v) => v.user_id === me?.id);
        if (mine && !isStarter) conn.setViewOnly(mine.mode !== "control");
        renderViewers(vs);
      } catch {
        /* the next poll tries again */
      }
      if (conn.state === "offline" && conn.isViewOnly) {
        // a view-only viewer cannot probe with session_start; ask the API
        try {
          const d = (await get<{ device: Device }>(`/api/v1/devices/${encodeURIComponent(deviceId)}`)).device;
          if (d.status === "online") conn.reconnect();
        } catch {
          /* next time */
        }
      }
    }
    if (!disposed) pollTimer = setTimeout(() => void pollViewers(), panelOpen ? VIEWERS_POLL_OPEN : VIEWERS_POLL);
  }

  function renderViewers(vs: Viewer[]): void {
    viewersList.replaceChildren(
      ...(vs.length
        ? vs.map((v) =>
            h(
              "li",
              { "data-user": v.user_id },
              h(
                "span",
                { class: "who", title: v.email },
                v.display_name ? `${v.display_name} ` : "",
                h("span", { class: v.display_name ? "muted" : "" }, v.email),
                v.user_id === me?.id ? " (you)" : "",
              ),
              h("span", { class: "badge" }, v.mode === "control" ? "control" : "view"),
            ),
          )
        : [h("li", { class: "muted" }, "Nobody.")]),
    );
  }

  function setPanel(open: boolean): void {
    panelOpen = open;
    panel.hidden = !open;
    btnShare.setAttribute("aria-expanded", String(open));
    view.scheduleFit();
    if (open) {
      void renderShareSection();
      if (pollTimer) clearTimeout(pollTimer);
      void pollViewers();
    } else {
      view.focus();
    }
  }

  // ---- connecting --------------------------------------------------------
  const onOnline = () => conn?.retrySoon();
  window.addEventListener("online", onOnline);

  function connect(): void {
    conn = new TermConnection({
      url: wsUrl("/session"),
      sessionId,
      deviceId,
      sink: view,
      size: () => ({ cols: view.cols, rows: view.rows }),
      onState: (s, msg) => {
        showState(s);
        if (s === "online") {
          setMessage("");
          // back online: the terminal gets the keyboard, unless the user is elsewhere (search, share panel)
          const active = document.activeElement;
          if (!active || active === document.body || screen.contains(active) || active === btnReconnect) view.focus();
        } else if (s === "ended") {
          setMessage(
            msg,
            "info",
            h("a", { href: `/terminal/${encodeURIComponent(deviceId)}/new?start=1`, "data-link": true, "data-testid": "term-new" }, "Start a new session"),
          );
        } else if (msg) {
          setMessage(msg, s === "failed" ? "error" : "info");
        } else if (s === "connecting") {
          setMessage("");
        }
      },
      onLatency: (ms) => {
        latency.textContent = `${ms} ms`;
      },
      onEnd: (reason, code) => {
        view.notice(`[${endText(reason, code)}]`);
        shareSubmit.disabled = true;
        view.setReadOnly(true);
        if (pollTimer) clearTimeout(pollTimer);
        pollTimer = null;
      },
      onViewOnly: (v) => {
        viewOnlyBadge.hidden = !v;
        view.setReadOnly(v);
        btnPaste.disabled = v || conn?.state === "ended";
        if (v) setCtrl(false);
      },
      // input refused whole (too large, or the program is not reading)
      onInputRefused: (msg) => toast(msg, "error"),
      onError: (code, msg) => {
        if (code === "auth_failed") {
          // the cookie expired or was signed out elsewhere: forget the user
          // (ask the relay), or "Sign in again" would bounce back here
          void loadSession().catch(() => undefined);
          const next = encodeURIComponent(location.pathname);
          setMessage(
            "Your sign-in is no longer valid.",
            "error",
            h("a", { href: `/auth?next=${next}`, "data-link": true, "data-testid": "term-signin" }, "Sign in again"),
          );
        } else if ((code === "not_found" || code === "forbidden") && conn?.state === "failed" && !isStarter) {
          badge.textContent = "not shared";
          setMessage("This session is not shared with you, or it has ended.", "error");
        } else if (code === "forbidden" && conn?.state !== "failed") {
          toast(msg, "error");
        }
      },
    });
    conn.start();
  }

  // The live sessions on this device the user may attach to (their own,
  // and those shared with them), newest first; [] when none or unreadable.
  async function attachable(): Promise<SessionRow[]> {
    if (!device) return [];
    const q = `device_id=${encodeURIComponent(deviceId)}&status=active&limit=200`;
    try {
      const r = await get<{ sessions: SessionRow[] }>(`/api/v1/projects/${encodeURIComponent(device.project_id)}/sessions?${q}`);
      return r.sessions.filter((x) => x.attach);
    } catch {
      return [];
    }
  }

  // Instead of silently starting another shell: the user's live sessions
  // on this device, each with Reattach, and "Start a new session".
  function chooser(rows: SessionRow[]): void {
    const box = h(
      "section",
      { class: "card reattach", "data-testid": "reattach", "aria-labelledby": "reattach-h" },
      h("h2", { id: "reattach-h" }, rows.length === 1 ? "You have a session here already" : `You have ${rows.length} sessions here already`),
      h("p", { class: "muted" }, `Reattach to one on ${device?.name ?? "this device"}, or start a new shell.`),
      h(
        "div",
        { class: "stack reattach-list" },
        rows.map((x) =>
          h(
            "div",
            { class: "row session-item", "data-testid": "reattach-row", "data-session-id": x.id },
            h(
              "div",
              { class: "session-main" },
              sessionLabelEl(x),
              h(
                "span",
                { class: "muted small session-meta" },
                x.user && x.user.id !== me?.id ? `shared by ${starterText(x)} · ` : "",
                "started ",
                timeEl(x.started_at),
                ` · ${fmtDuration(Date.now() / 1000 - x.started_at)}`,
                ` · ${x.viewers === 0 ? "nobody watching" : x.viewers === 1 ? "1 viewer" : `${x.viewers} viewers`}`,
                x.attach === "view" ? " · view only" : "",
              ),
            ),
            h("span", { class: "spacer" }),
            h(
              "a",
              {
                class: "btn small primary",
                href: `/terminal/${encodeURIComponent(deviceId)}/${encodeURIComponent(x.id)}`,
                "data-link": true,
                "data-testid": "reattach-attach",
              },
              "Reattach",
            ),
          ),
        ),
      ),
      h(
        "div",
        { class: "row" },
        h(
          "button",
          {
            type: "button",
            "data-testid": "reattach-new",
            onclick: () => {
              box.remove();
              screen.hidden = false;
              offerReattach = false;
              void begin();
            },
          },
          "Start a new session",
        ),
      ),
    );
    screen.hidden = true;
    setMessage("");
    badge.textContent = "not connected";
    body.prepend(box);
    box.querySelector<HTMLElement>("[data-testid=reattach-attach]")?.focus();
  }

  async function begin(): Promise<void> {
    if (!sessionId && offerReattach) {
      offerReattach = false;
      const rows = await attachable();
      if (disposed) return;
      if (rows.length) {
        chooser(rows);
        return;
      }
    }
    if (!sessionId) {
      showState("connecting");
      setMessage("Starting a session…");
      try {
        const r = await post<{ session_id: string }>("/functions/v1/start-session", { device_id: deviceId });
        if (disposed) return;
        sessionId = r.session_id;
        history.replaceState(null, "", `/terminal/${encodeURIComponent(deviceId)}/${encodeURIComponent(sessionId)}`);
      } catch (e) {
        if (disposed) return;
        const offline = e instanceof ApiError && e.code === "device_offline";
        showState(offline ? "offline" : "failed");
        badge.dataset.state = offline ? "offline" : "failed";
        setMessage(
          offline
            ? "The device is offline: start its agent, then press Reconnect."
            : e instanceof ApiError
              ? e.message
              : "Could not start a session.",
          "error",
        );
        btnReconnect.disabled = false;
        return;
      }
    }
    // who may share and end it, and whether this user may attach at all
    const row = await sessionRow();
    if (disposed) return;
    // the tab says which session this is (its name, else its title)
    if (row && device) document.title = `${sessionLabel(row)} — ${device.name} — clawlink`;
    const starter = row?.user ?? null;
    isStarter = !!starter && starter.id === me?.id;
    if (row && !row.attach) {
      // the project's owner may still end it
      canEnd = (await projectRole()) === "owner";
      if (disposed) return;
      btnEnd.hidden = !canEnd;
      notShared(starter);
      return;
    }
    if (starter && !isStarter) sharedBy.textContent = `shared by ${starter.display_name || starter.email}`;
    canEnd = isStarter || (await projectRole()) === "owner";
    if (disposed) return;
    btnEnd.hidden = !canEnd;
    connect();
    if (pollTimer) clearTimeout(pollTimer);
    pollTimer = setTimeout(() => void pollViewers(), 1500);
  }

  // The session's row in the project's list of active sessions (any
  // member may read it): who started it and how this user may attach (the
  // relay's policy); null when it is not there (ended, unknown) or the
  // list failed: the relay's answer on the socket says then.
  async function sessionRow(): Promise<SessionRow | null> {
    if (!device) return null;
    const q = `device_id=${encodeURIComponent(deviceId)}&status=active&limit=200`;
    try {
      const r = await get<{ sessions: SessionRow[] }>(`/api/v1/projects/${encodeURIComponent(device.project_id)}/sessions?${q}`);
      return r.sessions.find((x) => x.id === sessionId) ?? null;
    } catch {
      return null;
    }
  }

  // Someone else's session that was not shared with this user: say so
  // (not "offline", not "no such session") and do not connect.
  function notShared(starter: SessionRow["user"]): void {
    const who = starter ? starter.display_name || starter.email : "the member who started it";
    showState("failed");
    badge.textContent = "not shared";
    badge.dataset.state = "failed";
    btnReconnect.disabled = true;
    btnPaste.disabled = true;
    btnShare.hidden = true;
    view.setReadOnly(true);
    setMessage(
      `This session is not shared with you. Ask ${who} to share it, or start a session of your own.`,
      "error",
      h("a", { href: `/terminal/${encodeURIComponent(deviceId)}/new?start=1`, "data-link": true, "data-testid": "term-new" }, "Start a new session"),
    );
  }

  async function projectRole(): Promise<string | null> {
    if (!device) return null;
    try {
      const p = await get<{ project: { role: string } }>(`/api/v1/projects/${encodeURIComponent(device.project_id)}`);
      return p.project.role;
    } catch {
      return null;
    }
  }

  async function init(): Promise<void> {
    try {
      device = (await get<{ device: Device }>(`/api/v1/devices/${encodeURIComponent(deviceId)}`)).device;
      if (disposed) return;
      deviceLink.textContent = device.name;
      document.title = `${device.name} — clawlink terminal`;
    } catch (e) {
      if (disposed) return;
      if (e instanceof ApiError && e.status === 404) {
        showState("failed");
        setMessage("No such device, or you are not a member of its project.", "error");
        btnReconnect.disabled = true;
        return;
      }
    }
    await begin();
  }
  void init();

  const cleanup: Cleanup = () => {
    disposed = true;
    if (pollTimer) clearTimeout(pollTimer);
    for (const t of timers) clearTimeout(t);
    timers.clear();
    window.removeEventListener("online", onOnline);
    conn?.dispose();
    view.dispose();
    app?.classList.remove("term-app");
    delete window.__clawlinkTerm;
    document.title = "clawlink";
  };
  return cleanup;
};

export default page;

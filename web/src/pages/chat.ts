// /device/:id/chat[/:thread] — chat with a device's agent (issue 15, "In
// the web app"): threads grouped by workspace, search, the conversation
// as sanitized Markdown with the reply streaming in, a memory panel. All
// of it is the agent's chat API through the relay (docs/chat.md, "The chat
// API"); nothing here is kept but what is on screen.
//
// A long thread stays fast: history comes in pages (older ones when the
// log is scrolled to its top), each message is one element drawn once and
// redrawn only when that message changes, and a streaming reply redraws
// only itself, at most once a frame.
import "./chat.css";
import { ApiError, get } from "../api";
import { onEvent } from "../events";
import { shell } from "../layout";
import type { Page } from "../router";
import { copyText, fmtAgo, h, toast } from "../ui";
import { confirmDanger, type Device, formDialog } from "./device-common";
import { ChatApi, chatErrorText, eventError, type Hit, type Message, type Note, type Thread, type Workspace } from "../chat/api";
import { renderMarkdown } from "../chat/markdown";
import { viewToggle } from "../chat/toggle";
import { snippetRuns } from "../chat/snippet";
import { fmtSize } from "../chat/files";
import { filesPanel } from "../chat/filespanel";
import { attacher } from "../chat/attach";
import { DeltaTexts } from "../chat/deltas";

const PAGE = 50; // messages per history page
const THREAD_PAGE = 100;
const SEARCH_DELAY_MS = 250;
const EVENTS_RETRY_MIN_MS = 1000;
const EVENTS_RETRY_MAX_MS = 30000;
const FIND_PAGES = 10; // pages read back to show a search hit's message
const CONTENT_MAX = 32768; // what the composer takes, as the prompt box
const STREAM_WAIT_MAX_MS = 400; // the longest a streaming reply's drawing waits

const ago = (ms: number | null | undefined) => (ms ? fmtAgo(ms / 1000) : "");
const when = (ms: number | null | undefined) => (ms ? new Date(ms).toLocaleString() : "");
const threadTitle = (t: Thread) => t.title || "New conversation";

// Text nodes and <mark>s from a hit's snippet: never HTML.
function snippetEl(s: string): HTMLElement {
  return h("span", { class: "chat-snippet" }, snippetRuns(s).map((r) => (r.mark ? h("mark", {}, r.text) : r.text)));
}

interface MsgView {
  msg: Message | null; // null while it is a reply streaming in
  el: HTMLElement;
  body: HTMLElement;
  run: string | null;
  text: string; // what is drawn
  pending: string | null; // a streamed text waiting for the next frame
  scheduled: boolean; // a drawing of it is due
  cost: number; // ms the last drawing took
}

const page: Page = async (root, params) => {
  const deviceId = params.id;
  const enc = encodeURIComponent(deviceId);
  const chat = new ChatApi(deviceId);
  const main = shell(
    root,
    [
      ["Dashboard", "/dashboard"],
      ["Device", `/device/${enc}`],
      ["Chat", null],
    ],
    true,
  );
  main.classList.add("chat-page");
  const app = document.getElementById("app");
  app?.classList.add("chat-app"); // the view fills the window; its log scrolls
  document.title = "Chat · clawlink";
  let alive = true;
  const cleanups: (() => void)[] = [];
  const chatPath = (t?: number | null) => `/device/${enc}/chat${t ? "/" + t : ""}`;

  // ---- the frame ---------------------------------------------------------
  const deviceLink = h("a", { href: `/device/${enc}`, "data-link": true, class: "chat-device", "data-testid": "chat-device" }, "Device");
  const drawerBtn = h("button", { type: "button", class: "small chat-drawer-btn", "aria-expanded": "false", "aria-controls": "chat-side", "data-testid": "chat-drawer" }, "Threads");
  const memoryBtn = h("button", { type: "button", class: "small", "aria-expanded": "false", "aria-controls": "chat-memory", "data-testid": "chat-memory-btn" }, "Memory");
  const filesBtn = h("button", { type: "button", class: "small", "aria-expanded": "false", "aria-controls": "chat-files", "data-testid": "chat-files-btn" }, "Files");
  const banner = h("div", { class: "chat-banner", role: "alert", hidden: true, "data-testid": "chat-banner" });
  const bar = h(
    "div",
    { class: "chat-bar" },
    drawerBtn,
    deviceLink,
    viewToggle(deviceId, "chat"),
    h("span", { class: "spacer" }),
    filesBtn,
    memoryBtn,
  );

  // sidebar
  const searchInput = h("input", { type: "search", placeholder: "Search messages", "aria-label": "Search messages", maxlength: 256, "data-testid": "chat-search" });
  const searchOut = h("div", { class: "chat-search-out", hidden: true, "data-testid": "chat-search-results", "aria-live": "polite" });
  const threadList = h("nav", { class: "chat-threads", "aria-label": "Threads", "data-testid": "chat-threads" });
  const moreThreads = h("button", { type: "button", class: "small", hidden: true, "data-testid": "chat-more-threads" }, "More threads");
  const side = h(
    "aside",
    { class: "chat-side", id: "chat-side", "data-testid": "chat-side" },
    h("form", { role: "search", class: "chat-search-form", onsubmit: (e: Event) => (e.preventDefault(), void runSearch()) }, searchInput),
    h(
      "div",
      { class: "row chat-side-actions" },
      h("button", { type: "button", class: "small primary", "data-testid": "chat-new-thread", onclick: () => void newThread(null) }, "New thread"),
      h("button", { type: "button", class: "small", "data-testid": "chat-new-workspace", onclick: () => void newWorkspace() }, "New workspace"),
    ),
    searchOut,
    threadList,
    moreThreads,
  );
  const scrim = h("div", { class: "chat-scrim", hidden: true });

  // conversation
  const title = h("h1", { class: "chat-title", "data-testid": "chat-title" }, "Chat");
  const convActions = h("div", { class: "row chat-conv-actions" });
  const log = h("div", { class: "chat-log", "data-testid": "chat-log", tabindex: 0, "aria-label": "Messages" });
  const older = h("div", { class: "chat-older", "data-testid": "chat-older" });
  const list = h("div", { class: "chat-list", role: "log", "aria-live": "polite", "aria-relevant": "additions" });
  log.append(older, list);
  const input = h("textarea", { id: "chat-input", rows: 2, maxlength: CONTENT_MAX, placeholder: "Message the agent… (Enter sends, Shift+Enter a new line)", "data-testid": "chat-input" });
  const sendBtn = h("button", { type: "submit", class: "primary", "data-testid": "chat-send" }, "Send");
  const stopBtn = h("button", { type: "button", class: "danger", hidden: true, "data-testid": "chat-stop" }, "Stop");
  const attachBtn = h("button", { type: "button", class: "chat-attach", "aria-label": "Attach files", title: "Attach files (or drop them on the conversation, or paste them)", "data-testid": "chat-attach" }, "Attach");
  const attachPicker = h("input", { type: "file", multiple: true, hidden: true, "data-testid": "chat-attach-input" });
  const attachNote = h("p", { class: "chat-attach-note", hidden: true, role: "alert", "data-testid": "chat-attach-note" });
  const attach = attacher(deviceId, { say: (t) => sayAttach(t), errorText: (e) => chatErrorText(e) });
  const composer = h(
    "form",
    { class: "chat-composer", "data-testid": "chat-composer" },
    h("label", { for: "chat-input", class: "sr-only" }, "Message"),
    attachBtn,
    attachPicker,
    input,
    h("div", { class: "chat-composer-buttons" }, stopBtn, sendBtn),
  );
  const conv = h(
    "section",
    { class: "chat-conv", "aria-labelledby": "chat-title-h" },
    h("div", { class: "chat-conv-head" }, title, convActions),
    log,
    attachNote,
    attach.el,
    composer,
  );
  title.id = "chat-title-h";

  // memory panel
  const memory = h("aside", { class: "chat-memory", id: "chat-memory", hidden: true, "aria-label": "Memory", "data-testid": "chat-memory" });

  // files panel (chat/filespanel.ts)
  const filesP = filesPanel(deviceId, { close: () => (setFiles(false), filesBtn.focus()), errorText: chatErrorText });
  cleanups.push(() => filesP.cleanup());

  main.append(bar, banner, h("div", { class: "chat-body" }, side, scrim, conv, memory, filesP.el));

  function setBanner(text: string) {
    banner.textContent = text;
    banner.hidden = !text;
  }
  function showError(e: unknown) {
    setBanner(chatErrorText(e));
  }

  // the drawer (narrow screens)
  function setDrawer(open: boolean) {
    side.classList.toggle("open", open);
    scrim.hidden = !open;
    drawerBtn.setAttribute("aria-expanded", String(open));
  }
  drawerBtn.addEventListener("click", () => setDrawer(!side.classList.contains("open")));
  scrim.addEventListener("click", () => setDrawer(false));
  side.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && side.classList.contains("open")) {
      setDrawer(false);
      drawerBtn.focus();
    }
  });

  // the device's name for the bar
  void get<{ device: Device }>(`/api/v1/devices/${enc}`)
    .then((r) => {
      if (!alive) return;
      deviceLink.textContent = r.device.name;
      document.title = `Chat · ${r.device.name} · clawlink`;
      const crumb = root.querySelector(".crumbs a[href^='/device/']");
      if (crumb) crumb.textContent = r.device.name;
    })
    .catch(() => undefined);

  // ---- threads and workspaces --------------------------------------------
  let workspaces: Workspace[] = [];
  const threads = new Map<number, Thread>();
  let threadsCursor: string | null = null;
  let current: Thread | null = null;

  const recency = (t: Thread) => t.last_message_at ?? t.updated_at ?? t.created_at;

  function drawThreads() {
    const groups = new Map<number | null, Thread[]>();
    for (const w of workspaces) groups.set(w.id, []);
    groups.set(null, []);
    for (const t of threads.values()) {
      const key = t.workspace_id !== null && groups.has(t.workspace_id) ? t.workspace_id : null;
      groups.get(key)!.push(t);
    }
    const sections: HTMLElement[] = [];
    for (const [wid, ts] of groups) {
      ts.sort((a, b) => recency(b) - recency(a));
      const ws = wid === null ? null : workspaces.find((w) => w.id === wid)!;
      if (ws === null && ts.length === 0 && workspaces.length > 0) continue;
      sections.push(
        h(
          "section",
          { class: "chat-group", "data-testid": "chat-group", "data-workspace": wid === null ? "" : String(wid) },
          h(
            "div",
            { class: "chat-group-head" },
            h("h2", {}, ws ? ws.name : workspaces.length ? "No workspace" : "Threads"),
            ws
              ? h(
                  "div",
                  { class: "chat-group-actions" },
                  h("button", { type: "button", class: "small", title: `New thread in ${ws.name}`, "aria-label": `New thread in ${ws.name}`, "data-testid": "chat-ws-new-thread", onclick: () => void newThread(ws.id) }, "+"),
                  h("button", { type: "button", class: "small", "aria-label": `Rename workspace ${ws.name}`, "data-testid": "chat-ws-rename", onclick: () => void renameWorkspace(ws) }, "Rename"),
                  h("button", { type: "button", class: "small danger", "aria-label": `Delete workspace ${ws.name}`, "data-testid": "chat-ws-delete", onclick: () => void deleteWorkspace(ws) }, "Delete"),
                )
              : null,
          ),
          ts.length
            ? h(
                "ul",
                {},
                ts.map((t) =>
                  h(
                    "li",
                    {},
                    h(
                      "a",
                      {
                        href: chatPath(t.id),
                        class: "chat-thread-link",
                        "data-testid": "chat-thread",
                        "data-thread": String(t.id),
                        "aria-current": current?.id === t.id ? "page" : null,
                      },
                      h("span", { class: "chat-thread-title" }, threadTitle(t)),
                      h("span", { class: "chat-thread-time muted" }, ago(recency(t))),
                    ),
                  ),
                ),
              )
            : h("p", { class: "muted small" }, ws ? "No threads yet." : "No conversations yet: write one below."),
        ),
      );
    }
    threadList.replaceChildren(...sections);
    moreThreads.hidden = !threadsCursor;
  }

  // Live changes redraw the list at most once a frame (an import on the
  // agent can send a flood of them).
  let threadsDue = false;
  function drawThreadsSoon() {
    if (threadsDue) return;
    threadsDue = true;
    requestAnimationFrame(() => {
      threadsDue = false;
      if (alive) drawThreads();
    });
  }

  // thread links open inside the page (no reload of the list)
  side.addEventListener("click", (e) => {
    const a = (e.target as HTMLElement).closest<HTMLAnchorElement>("a[data-thread], a[data-hit-thread]");
    if (!a || e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return;
    e.preventDefault();
    const tid = Number(a.dataset.thread ?? a.dataset.hitThread);
    const focus = a.dataset.hitMessage ? Number(a.dataset.hitMessage) : null;
    setDrawer(false);
    void openThread(tid, { push: true, focus });
  });

  async function loadThreads(more = false) {
    try {
      if (!more) {
        const [ws, th] = await Promise.all([chat.workspaces(), chat.threads(null, THREAD_PAGE)]);
        if (!alive) return;
        workspaces = ws.workspaces.slice().sort((a, b) => a.name.localeCompare(b.name));
        threads.clear();
        for (const t of th.threads) threads.set(t.id, t);
        threadsCursor = th.next_cursor;
      } else if (threadsCursor) {
        const th = await chat.threads(threadsCursor, THREAD_PAGE);
        if (!alive) return;
        for (const t of th.threads) threads.set(t.id, t);
        threadsCursor = th.next_cursor;
      }
      drawThreads();
      return true;
    } catch (e) {
      if (!alive) return false;
      showError(e);
      threadList.replaceChildren(h("p", { class: "muted small" }, "The threads could not be loaded."));
      return false;
    }
  }
  moreThreads.addEventListener("click", () => void loadThreads(true));

  async function newThread(workspaceId: number | null) {
    try {
      const t = await chat.createThread(workspaceId === null ? {} : { workspace_id: workspaceId });
      threads.set(t.id, t);
      drawThreads();
      setDrawer(false);
      await openThread(t.id, { push: true, thread: t });
      input.focus();
    } catch (e) {
      showError(e);
    }
  }

  async function renameThread(t: Thread) {
    await formDialog({
      title: "Rename thread",
      fields: [{ id: "title", label: "Title", value: t.title, maxlength: 256, testid: "chat-rename-title" }],
      submitLabel: "Rename",
      submitTestid: "chat-rename-submit",
      submit: async (v) => {
        try {
          threadChanged(await chat.patchThread(t.id, { title: v.title }));
        } catch (e) {
          throw new Error(chatErrorText(e));
        }
      },
    });
  }

  async function moveThread(t: Thread, workspaceId: number | null) {
    try {
      threadChanged(await chat.patchThread(t.id, { workspace_id: workspaceId }));
    } catch (e) {
      showError(e);
      drawConvHead();
    }
  }

  async function setThreadMemory(t: Thread, on: boolean) {
    try {
      threadChanged(await chat.patchThread(t.id, { memory: on }));
    } catch (e) {
      showError(e);
      drawConvHead();
    }
  }

  async function deleteThread(t: Thread) {
    const go = await confirmDanger(
      "Delete thread",
      `Delete “${threadTitle(t)}”? Its messages are deleted from this device's chat store, and the OpenClaw session behind it (${t.session_key}) is deleted on the gateway too: the agent keeps no context of it.`,
      "Delete thread",
    );
    if (!go) return;
    try {
      await chat.deleteThread(t.id);
      threadGone(t.id);
      toast("Thread deleted", "ok");
    } catch (e) {
      showError(e);
    }
  }

  function threadChanged(t: Thread, live = false) {
    threads.set(t.id, t);
    if (current?.id === t.id) {
      current = t;
      drawConvHead();
    }
    if (live) drawThreadsSoon();
    else drawThreads();
  }

  function threadGone(id: number) {
    threads.delete(id);
    drawThreads();
    if (current?.id === id) {
      closeThread();
      history.replaceState(null, "", chatPath());
    }
  }

  async function newWorkspace() {
    await formDialog({
      title: "New workspace",
      intro: "A workspace groups threads.",
      fields: [{ id: "name", label: "Name", testid: "chat-ws-name" }],
      submitLabel: "Create",
      submitTestid: "chat-ws-submit",
      submit: async (v) => {
        try {
          const w = await chat.createWorkspace(v.name);
          workspaces = [...workspaces, w].sort((a, b) => a.name.localeCompare(b.name));
          drawThreads();
          drawConvHead();
        } catch (e) {
          throw new Error(chatErrorText(e));
        }
      },
    });
  }

  async function renameWorkspace(ws: Workspace) {
    await formDialog({
      title: "Rename workspace",
      fields: [{ id: "name", label: "Name", value: ws.name, testid: "chat-ws-name" }],
      submitLabel: "Rename",
      submitTestid: "chat-ws-submit",
      submit: async (v) => {
        try {
          const w = await chat.patchWorkspace(ws.id, { name: v.name });
          workspaces = workspaces.map((x) => (x.id === w.id ? w : x)).sort((a, b) => a.name.localeCompare(b.name));
          drawThreads();
          drawConvHead();
        } catch (e) {
          throw new Error(chatErrorText(e));
        }
      },
    });
  }

  async function deleteWorkspace(ws: Workspace) {
    const n = [...threads.values()].filter((t) => t.workspace_id === ws.id).length;
    const go = await confirmDanger(
      "Delete workspace",
      `Delete the workspace “${ws.name}”? Its ${n === 1 ? "thread is" : `${n} threads are`} deleted with it, and the OpenClaw session behind each is deleted on the gateway too.`,
      "Delete workspace",
    );
    if (!go) return;
    try {
      await chat.deleteWorkspace(ws.id);
      workspaces = workspaces.filter((w) => w.id !== ws.id);
      for (const t of [...threads.values()]) if (t.workspace_id === ws.id) threadGone(t.id);
      drawThreads();
      drawConvHead();
      toast("Workspace deleted", "ok");
    } catch (e) {
      showError(e);
    }
  }

  // ---- search --------------------------------------------------------------
  let searchTimer: ReturnType<typeof setTimeout> | null = null;
  let searchSeq = 0;
  cleanups.push(() => searchTimer && clearTimeout(searchTimer));
  searchInput.addEventListener("input", () => {
    if (searchTimer) clearTimeout(searchTimer);
    searchTimer = setTimeout(() => void runSearch(), SEARCH_DELAY_MS);
  });
  async function runSearch() {
    const q = searchInput.value.trim();
    const seq = ++searchSeq;
    if (!q) {
      searchOut.hidden = true;
      threadList.hidden = false;
      searchOut.replaceChildren();
      return;
    }
    try {
      const r = await chat.search(q, 30);
      if (!alive || seq !== searchSeq) return;
      searchOut.replaceChildren(
        h("h2", {}, `Found in messages (${r.hits.length})`),
        r.hits.length ? h("ul", {}, r.hits.map(hitItem)) : h("p", { class: "muted small", "data-testid": "chat-search-empty" }, "Nothing found."),
      );
    } catch (e) {
      if (!alive || seq !== searchSeq) return;
      searchOut.replaceChildren(h("p", { class: "error-text" }, chatErrorText(e)));
    }
    searchOut.hidden = false;
    threadList.hidden = true;
  }
  function hitItem(hit: Hit): HTMLElement {
    const label = hit.thread_title || (hit.thread_id !== null ? threads.get(hit.thread_id)?.title : null) || "Thread";
    return h(
      "li",
      {},
      hit.thread_id === null
        ? h("div", { class: "chat-hit" }, snippetEl(hit.snippet))
        : h(
            "a",
            {
              href: chatPath(hit.thread_id),
              class: "chat-hit",
              "data-testid": "chat-hit",
              "data-hit-thread": String(hit.thread_id),
              "data-hit-message": String(hit.id),
            },
            h("span", { class: "chat-hit-title" }, label, hit.role ? h("span", { class: "muted" }, ` · ${hit.role}`) : null),
            snippetEl(hit.snippet),
            h("span", { class: "muted small" }, ago(hit.created_at)),
          ),
    );
  }

  // ---- the conversation ----------------------------------------------------
  const views = new Map<number, MsgView>(); // by message id
  const streams = new Map<string, MsgView>(); // replies streaming in, by run id
  const settled = new Set<string>(); // runs whose reply is stored and shown
  let oldestId: number | null = null;
  let hasMore = false;
  let loadingOlder = false;
  let openSeq = 0;
  let retryThread: number | null = null; // a thread that could not be opened yet
  let sending: AbortController | null = null;
  let sendingTid: number | null = null; // the thread our message went to
  cleanups.push(() => sending?.abort());

  function drawConvHead() {
    const t = current;
    if (!t) {
      title.textContent = "Chat";
      convActions.replaceChildren();
      return;
    }
    title.textContent = threadTitle(t);
    title.title = t.session_key;
    const move = h("select", { class: "small", "aria-label": "Workspace", "data-testid": "chat-move" },
      h("option", { value: "" }, "No workspace"),
      workspaces.map((w) => h("option", { value: String(w.id), selected: t.workspace_id === w.id }, w.name)),
    ) as HTMLSelectElement;
    move.addEventListener("change", () => void moveThread(t, move.value ? Number(move.value) : null));
    const items: HTMLElement[] = [];
    if (workspaces.length) items.push(move);
    // "use memory", when the agent's threads carry the switch
    if (typeof t.memory === "boolean") {
      const box = h("input", { type: "checkbox", checked: t.memory, "data-testid": "chat-use-memory" }) as HTMLInputElement;
      box.addEventListener("change", () => void setThreadMemory(t, box.checked));
      items.push(h("label", { class: "chat-check small", title: "Add the most relevant memory notes to what is sent" }, box, " Use memory"));
    }
    items.push(
      h("button", { type: "button", class: "small", "data-testid": "chat-rename", onclick: () => void renameThread(t) }, "Rename"),
      h("button", { type: "button", class: "small danger", "data-testid": "chat-delete", onclick: () => void deleteThread(t) }, "Delete"),
    );
    convActions.replaceChildren(...items);
  }

  function closeThread() {
    current = null;
    openSeq++;
    views.clear();
    streams.clear();
    settled.clear();
    list.replaceChildren();
    older.replaceChildren();
    oldestId = null;
    hasMore = false;
    drawConvHead();
    updateButtons();
    list.append(h("p", { class: "chat-empty muted", "data-testid": "chat-empty" }, "Pick a thread, or write below to start a new one."));
    drawThreads();
  }

  async function openThread(id: number, opts: { push?: boolean; thread?: Thread; focus?: number | null } = {}) {
    if (current?.id === id && !opts.focus) return;
    const seq = ++openSeq;
    if (opts.push) history.pushState(null, "", chatPath(id));
    views.clear();
    streams.clear();
    settled.clear();
    list.replaceChildren();
    older.replaceChildren(h("span", { class: "muted small" }, "Loading…"));
    current = opts.thread ?? threads.get(id) ?? null;
    drawConvHead();
    drawThreads();
    updateButtons();
    try {
      const [t, page] = await Promise.all([opts.thread ? Promise.resolve(opts.thread) : chat.thread(id), chat.messages(id, null, PAGE)]);
      if (!alive || seq !== openSeq) return;
      current = t;
      threads.set(t.id, t);
      drawConvHead();
      drawThreads();
      hasMore = page.has_more;
      for (const m of page.messages) list.append(newView(m).el);
      oldestId = page.messages.length ? page.messages[0].id : null;
      drawOlder();
      if (!page.messages.length) list.append(h("p", { class: "chat-empty muted", "data-testid": "chat-empty" }, "No messages yet."));
      log.scrollTop = log.scrollHeight;
      setBanner("");
      if (opts.focus) await focusMessage(opts.focus, seq);
    } catch (e) {
      if (!alive || seq !== openSeq) return;
      older.replaceChildren();
      if (e instanceof ApiError && e.status === 404) {
        threads.delete(id);
        drawThreads();
        closeThread();
        setBanner("That thread no longer exists.");
      } else {
        showError(e);
        retryThread = id; // opened again when the agent answers (catchUp)
      }
    }
  }

  // shows a message found by search: read back a few pages if needed
  async function focusMessage(id: number, seq: number) {
    for (let i = 0; i < FIND_PAGES && !views.has(id) && hasMore && oldestId !== null && (oldestId > id); i++) {
      await loadOlder();
      if (seq !== openSeq) return;
    }
    const v = views.get(id);
    if (!v) return;
    v.el.scrollIntoView({ block: "center" });
    v.el.classList.add("chat-focus");
    setTimeout(() => v.el.classList.remove("chat-focus"), 2500);
  }

  function drawOlder() {
    older.replaceChildren(
      hasMore
        ? h("button", { type: "button", class: "small", "data-testid": "chat-load-older", onclick: () => void loadOlder() }, "Older messages")
        : oldestId !== null
          ? h("span", { class: "muted small" }, "The beginning of this conversation.")
          : "",
    );
  }

  async function loadOlder() {
    if (!current || !hasMore || loadingOlder || oldestId === null) return;
    loadingOlder = true;
    const seq = openSeq;
    const tid = current.id;
    older.replaceChildren(h("span", { class: "muted small" }, "Loading…"));
    try {
      const page = await chat.messages(tid, oldestId, PAGE);
      if (!alive || seq !== openSeq) return;
      // keep what is on screen where it is while the page goes in above it
      const before = log.scrollHeight;
      const top = log.scrollTop;
      const frag = document.createDocumentFragment();
      for (const m of page.messages) if (!views.has(m.id)) frag.append(newView(m).el);
      list.prepend(frag);
      log.scrollTop = top + (log.scrollHeight - before);
      hasMore = page.has_more;
      if (page.messages.length) oldestId = page.messages[0].id;
      else hasMore = false;
    } catch (e) {
      if (seq === openSeq) showError(e);
    } finally {
      loadingOlder = false;
      if (seq === openSeq) drawOlder();
    }
  }

  // older pages when the top of the log comes into view
  const io = new IntersectionObserver(
    (entries) => {
      if (entries.some((e) => e.isIntersecting) && hasMore && !loadingOlder) void loadOlder();
    },
    { root: log, rootMargin: "200px 0px 0px 0px" },
  );
  io.observe(older);
  cleanups.push(() => io.disconnect());

  const nearBottom = () => log.scrollHeight - log.scrollTop - log.clientHeight < 80;
  function keepBottom(fn: () => void) {
    const stick = nearBottom();
    fn();
    if (stick) log.scrollTop = log.scrollHeight;
  }

  // ---- drawing one message ---------------------------------------------------
  function roleLabel(role: string): string {
    return role === "user" ? "You" : role === "assistant" ? "Agent" : role === "toolResult" ? "Tool result" : role;
  }

  function newView(m: Message | null, run: string | null = null): MsgView {
    const body = h("div", { class: "chat-md" });
    const el = h("article", { class: "chat-msg", "data-testid": "chat-msg" });
    const v: MsgView = { msg: m, el, body, run, text: "", pending: null, scheduled: false, cost: 0 };
    if (m) {
      views.set(m.id, v);
      drawMessage(v, m);
    } else {
      el.classList.add("chat-assistant", "streaming");
      el.setAttribute("aria-busy", "true"); // read out once settled, not at every frame
      el.dataset.role = "assistant";
      el.dataset.state = "streaming";
      if (run) el.dataset.run = run;
      el.append(h("div", { class: "chat-meta" }, h("span", { class: "chat-role" }, "Agent"), h("span", { class: "muted" }, "writing…")), body);
    }
    return v;
  }

  function drawMessage(v: MsgView, m: Message) {
    // (the user's message of a run carries its run id too: only the reply settles it)
    if (m.run_id && m.role === "assistant" && m.state !== "streaming") settled.add(m.run_id);
    v.msg = m;
    v.run = m.run_id;
    v.pending = null;
    const el = v.el;
    el.className = `chat-msg chat-${m.role === "user" ? "user" : m.role === "assistant" ? "assistant" : "other"}`;
    if (m.state === "streaming") el.setAttribute("aria-busy", "true");
    else el.removeAttribute("aria-busy");
    el.dataset.id = String(m.id);
    el.dataset.role = m.role;
    el.dataset.state = m.state;
    if (m.run_id) el.dataset.run = m.run_id;
    const meta = h(
      "div",
      { class: "chat-meta" },
      h("span", { class: "chat-role" }, roleLabel(m.role)),
      h("time", { class: "muted", datetime: new Date(m.created_at).toISOString(), title: when(m.created_at) }, ago(m.created_at)),
      m.state === "aborted" ? h("span", { class: "badge warn" }, "stopped") : null,
      m.state === "error" ? h("span", { class: "badge warn" }, "error") : null,
      m.state === "streaming" ? h("span", { class: "muted" }, "writing…") : null,
    );
    const parts: Node[] = [meta];
    if (m.role === "toolResult") {
      // a tool's output: collapsed, as text
      parts.push(h("details", { class: "chat-tool" }, h("summary", {}, "Tool output"), h("pre", {}, m.content)));
      v.text = m.content;
    } else {
      v.text = m.content;
      v.body.replaceChildren(renderMarkdown(m.content));
      parts.push(v.body);
    }
    if (m.truncated)
      parts.push(h("p", { class: "muted small", "data-testid": "chat-truncated" }, "This message is too long to show whole here: it is cut. The whole text is in the chat store on the device."));
    if (Array.isArray(m.tool_calls) && m.tool_calls.length) parts.push(toolCalls(m.tool_calls));
    if (m.attachments?.length)
      parts.push(
        h(
          "ul",
          { class: "chat-attachments" },
          m.attachments.map((a) => h("li", { "data-testid": "chat-msg-attachment" }, h("span", { class: "muted" }, "Attached: "), a.name, " ", h("span", { class: "muted" }, `(${fmtSize(a.size)})`))),
        ),
      );
    el.replaceChildren(...parts);
  }

  function toolCalls(calls: unknown[]): HTMLElement {
    return h(
      "div",
      { class: "chat-tools" },
      calls.map((c) => {
        const o = (c && typeof c === "object" ? c : {}) as Record<string, unknown>;
        const name = typeof o.name === "string" ? o.name : typeof (o.function as Record<string, unknown>)?.name === "string" ? String((o.function as Record<string, unknown>).name) : "tool";
        return h(
          "details",
          { class: "chat-tool", "data-testid": "chat-tool-call" },
          h("summary", {}, `Tool call: ${name}`),
          h("pre", {}, JSON.stringify(o.arguments ?? o.input ?? o, null, 2)),
        );
      }),
    );
  }

  // A streamed text, drawn at the next frame (deltas may come faster). A
  // long reply costs more to draw each time (all of it is parsed again):
  // then it waits a few times what the last drawing took, so a huge reply
  // keeps the page responsive (at most STREAM_WAIT_MAX_MS behind).
  function streamText(v: MsgView, text: string) {
    v.pending = text;
    if (v.scheduled) return;
    v.scheduled = true;
    const draw = () =>
      requestAnimationFrame(() => {
        v.scheduled = false;
        if (v.pending === null || !alive) return;
        const t = v.pending;
        v.pending = null;
        if (t === v.text) return;
        const t0 = performance.now();
        keepBottom(() => {
          v.text = t;
          v.body.replaceChildren(renderMarkdown(t));
        });
        v.cost = performance.now() - t0;
      });
    const wait = Math.min(STREAM_WAIT_MAX_MS, v.cost * 4);
    if (wait > 16) setTimeout(draw, wait);
    else draw();
  }

  function placeNew(el: HTMLElement) {
    list.querySelector(".chat-empty")?.remove();
    // after every stored message, before replies still streaming
    const firstStream = list.querySelector(":scope > .chat-msg.streaming");
    keepBottom(() => (firstStream && el !== firstStream ? list.insertBefore(el, firstStream) : list.append(el)));
  }

  // A message stored or settled (the send stream, or /events).
  function upsert(m: Message) {
    upsertOne(m);
    updateButtons();
  }
  function upsertOne(m: Message) {
    if (!current || m.thread_id !== current.id) return;
    const have = views.get(m.id);
    if (have) {
      keepBottom(() => drawMessage(have, m));
      if (m.run_id && streams.get(m.run_id) === have && m.state !== "streaming") streams.delete(m.run_id);
      return;
    }
    // the settled copy of a reply streaming in: it takes the reply's place
    const s = m.run_id && m.role === "assistant" ? streams.get(m.run_id) : undefined;
    if (s) {
      if (m.state !== "streaming") streams.delete(m.run_id!);
      views.set(m.id, s);
      keepBottom(() => drawMessage(s, m));
      return;
    }
    if (oldestId !== null && m.id < oldestId && hasMore) return; // comes with its page
    const v = newView(m);
    if (m.state === "streaming" && m.run_id) streams.set(m.run_id, v);
    // in id order among what is shown
    let next: HTMLElement | null = null;
    for (const [id, o] of views) if (id > m.id && o !== v && (!next || Number(next.dataset.id) > id)) next = o.el;
    if (next && next.parentNode === list) keepBottom(() => list.insertBefore(v.el, next));
    else placeNew(v.el);
    if (oldestId === null || m.id < oldestId) oldestId = m.id;
  }

  function delta(runId: string, text: string) {
    // a late delta (the other stream of the same run) after the reply settled
    if (settled.has(runId)) return;
    let v = streams.get(runId);
    if (!v) {
      // a run whose stored message (state streaming) is shown already
      for (const o of views.values()) if (o.run === runId && o.msg?.state === "streaming") v = o;
      if (!v) {
        v = newView(null, runId);
        placeNew(v.el);
      }
      streams.set(runId, v);
      updateButtons();
    }
    streamText(v, text);
  }

  // code blocks' Copy buttons
  list.addEventListener("click", (e) => {
    const b = (e.target as HTMLElement).closest(".chat-copy");
    if (!b) return;
    const code = b.parentElement?.querySelector("pre");
    if (code) void copyText(code.textContent ?? "");
  });

  // ---- sending ---------------------------------------------------------------
  // Send: one message at a time. Stop: while a reply in the open thread is
  // coming, ours or one from another surface.
  function updateButtons() {
    sendBtn.disabled = sending !== null;
    const replying = current !== null && ((sending !== null && sendingTid === current.id) || streams.size > 0);
    if (stopBtn.hidden === replying) stopBtn.disabled = false;
    stopBtn.hidden = !replying;
  }
  function setSending(on: boolean, tid: number | null = null) {
    sendingTid = on ? tid : null;
    updateButtons();
  }

  async function send() {
    const typed = input.value;
    let text = typed;
    if (sending) return;
    if (attach.busy()) return sayAttach("The attachments are still uploading: send when they are done.");
    if (attach.failed()) return sayAttach("Remove the attachments that could not be uploaded, or attach them again.");
    const files = attach.ready();
    if (!text.trim() && !files.length) return;
    // the agent wants words with a message: files alone are named
    if (!text.trim()) text = `Attached: ${attach.names().join(", ")}`;
    attachNote.hidden = true;
    setBanner("");
    const ctl = new AbortController();
    sending = ctl;
    setSending(true, current?.id ?? null);
    input.value = "";
    let thread = current;
    let got = false; // the agent took it (its message came back)
    let runId: string | null = null;
    const sendDeltas = new DeltaTexts(4); // this stream's reply so far
    try {
      if (!thread) {
        thread = await chat.createThread({});
        threads.set(thread.id, thread);
        drawThreads();
        await openThread(thread.id, { thread });
        history.replaceState(null, "", chatPath(thread.id));
      }
      const tid = thread.id;
      setSending(true, tid);
      let failed: ApiError | null = null;
      await chat.send(
        tid,
        text,
        (name, data) => {
          if (!alive || current?.id !== tid) return;
          if (name === "message") {
            if (!got) attach.clear(); // taken with its files
            got = true;
            upsert((data.message && typeof data.message === "object" ? data.message : data) as unknown as Message);
          } else if (name === "delta") {
            got = true;
            const text = sendDeltas.apply(data);
            if (text !== null && typeof data.run_id === "string") {
              runId = data.run_id;
              delta(data.run_id, text);
            }
          } else if (name === "done") {
            if (data.message && typeof data.message === "object") upsert(data.message as Message);
          } else if (name === "error") {
            failed = eventError(data);
          }
        },
        ctl.signal,
        files,
      );
      if (failed) throw failed;
      // its title (from the first message) and time, also without /events
      void chat
        .thread(tid)
        .then((t) => alive && threadChanged(t))
        .catch(() => undefined);
    } catch (e) {
      if (!alive) return;
      if (e instanceof ApiError && e.code === "aborted") return;
      showError(e);
      if (!got && !input.value) input.value = typed; // refused before it was taken: offer it again (its files stay attached)
      // a reply left half-drawn says why it stopped
      const s = runId ? streams.get(runId) : undefined;
      if (s) {
        s.el.classList.remove("streaming");
        s.el.removeAttribute("aria-busy");
        s.el.dataset.state = "error";
        s.el.append(h("p", { class: "error-text" }, chatErrorText(e)));
        streams.delete(runId!);
        updateButtons();
      }
    } finally {
      if (sending === ctl) {
        sending = null;
        if (alive) setSending(false);
      }
    }
  }

  composer.addEventListener("submit", (e) => {
    e.preventDefault();
    void send();
  });
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      void send();
    }
  });
  stopBtn.addEventListener("click", async () => {
    if (!current) return;
    const tid = current.id;
    stopBtn.disabled = true;
    try {
      await chat.stop(tid); // the stream then ends with the reply stopped
    } catch (e) {
      showError(e);
      stopBtn.disabled = false;
      if (sendingTid === tid) sending?.abort(); // stop listening at least; the agent keeps what it has
    }
  });

  // ---- memory ----------------------------------------------------------------
  let notesBefore: number | null = null;
  const notesList = h("ul", { class: "chat-notes", "data-testid": "chat-notes" });
  const notesMore = h("button", { type: "button", class: "small", hidden: true }, "More notes");
  const noteText = h("textarea", { rows: 3, maxlength: 16384, placeholder: "Something the agent should remember", "aria-label": "Note", "data-testid": "chat-note-text" });
  const noteTags = h("input", { type: "text", maxlength: 256, placeholder: "tags (optional)", "aria-label": "Tags", "data-testid": "chat-note-tags" });
  const noteSearch = h("input", { type: "search", placeholder: "Search memory", "aria-label": "Search memory", maxlength: 256, "data-testid": "chat-note-search" });
  const memErr = h("p", { class: "error-text", role: "alert" });
  memory.append(
    h("div", { class: "row" }, h("h2", {}, "Memory"), h("span", { class: "spacer" }), h("button", { type: "button", class: "small", "aria-label": "Close memory", onclick: () => setMemory(false) }, "✕")),
    h("p", { class: "muted small" }, "Notes kept on the device, for threads that use memory."),
    h(
      "form",
      { class: "stack", onsubmit: (e: Event) => (e.preventDefault(), void addNote()) },
      noteText,
      h("div", { class: "row" }, noteTags, h("button", { type: "submit", class: "small primary", "data-testid": "chat-note-add" }, "Add note")),
    ),
    memErr,
    h("form", { role: "search", onsubmit: (e: Event) => (e.preventDefault(), void loadNotes()) }, noteSearch),
    notesList,
    notesMore,
  );
  function noteItem(n: Note | Hit, text: Node | string): HTMLElement {
    return h(
      "li",
      { "data-testid": "chat-note" },
      h("div", { class: "chat-note-text" }, text),
      h(
        "div",
        { class: "row small" },
        "tags" in n && n.tags ? h("span", { class: "muted" }, n.tags) : null,
        h("span", { class: "muted" }, ago(n.created_at)),
        h("span", { class: "spacer" }),
        h("button", { type: "button", class: "small danger", "aria-label": "Delete note", onclick: () => void deleteNote(n.id) }, "Delete"),
      ),
    );
  }
  async function loadNotes(more = false) {
    memErr.textContent = "";
    const q = noteSearch.value.trim();
    try {
      if (q) {
        const r = await chat.searchNotes(q, 50);
        notesList.replaceChildren(...r.hits.map((hit) => noteItem(hit, snippetEl(hit.snippet))));
        notesMore.hidden = true;
        if (!r.hits.length) notesList.append(h("li", { class: "muted" }, "Nothing found."));
        return;
      }
      const r = await chat.notes(more ? notesBefore : null, 50);
      if (!more) notesList.replaceChildren();
      notesList.append(...r.notes.map((n) => noteItem(n, n.text)));
      if (r.notes.length) notesBefore = r.notes[r.notes.length - 1].id;
      notesMore.hidden = !r.has_more;
      if (!more && !r.notes.length) notesList.append(h("li", { class: "muted" }, "No notes yet."));
    } catch (e) {
      memErr.textContent = chatErrorText(e);
    }
  }
  notesMore.addEventListener("click", () => void loadNotes(true));
  let noteTimer: ReturnType<typeof setTimeout> | null = null;
  noteSearch.addEventListener("input", () => {
    if (noteTimer) clearTimeout(noteTimer);
    noteTimer = setTimeout(() => void loadNotes(), SEARCH_DELAY_MS);
  });
  cleanups.push(() => noteTimer && clearTimeout(noteTimer));
  async function addNote() {
    const text = noteText.value.trim();
    if (!text) return;
    try {
      const body: { text: string; tags?: string; source_thread_id?: number } = { text };
      if (noteTags.value.trim()) body.tags = noteTags.value.trim();
      if (current) body.source_thread_id = current.id;
      await chat.addNote(body);
      noteText.value = "";
      noteTags.value = "";
      await loadNotes();
    } catch (e) {
      memErr.textContent = chatErrorText(e);
    }
  }
  async function deleteNote(id: number) {
    if (!(await confirmDanger("Delete note", "Delete this memory note? The agent will no longer be given it.", "Delete note"))) return;
    try {
      await chat.deleteNote(id);
      await loadNotes();
    } catch (e) {
      memErr.textContent = chatErrorText(e);
    }
  }
  function setMemory(open: boolean) {
    if (open) setFiles(false); // one side panel at a time
    memory.hidden = !open;
    memoryBtn.setAttribute("aria-expanded", String(open));
    if (open) void loadNotes();
  }
  memoryBtn.addEventListener("click", () => setMemory(memory.hidden));

  // ---- files -----------------------------------------------------------------
  // The Files panel beside Memory (one at a time); under 800 px it covers
  // the conversation, the whole screen on a phone. Esc closes it.
  function setFiles(open: boolean) {
    if (open) setMemory(false);
    filesP.el.hidden = !open;
    filesBtn.setAttribute("aria-expanded", String(open));
    if (open) filesP.show();
  }
  filesBtn.addEventListener("click", () => setFiles(filesP.el.hidden));
  filesP.el.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && !e.defaultPrevented) {
      setFiles(false);
      filesBtn.focus();
    }
  });

  // ---- attachments -----------------------------------------------------------
  // Files chosen with Attach, dropped anywhere on the view but the Files
  // panel, or pasted into the composer are uploaded at once (chat/attach.ts)
  // and go with the next message, `attachments: [{path}]` (docs/chat.md
  // "Attachments"). What cannot be attached is said above the composer.
  function sayAttach(text: string) {
    attachNote.replaceChildren(
      text,
      " ",
      h("button", { type: "button", class: "link", "aria-label": "Dismiss", onclick: () => ((attachNote.hidden = true), input.focus()) }, "✕"),
    );
    attachNote.hidden = false;
  }
  cleanups.push(() => attach.cleanup());
  attachBtn.addEventListener("click", () => attachPicker.click());
  attachPicker.addEventListener("change", () => {
    attach.add(Array.from(attachPicker.files ?? []));
    attachPicker.value = "";
    input.focus();
  });
  const dragHasFiles = (e: DragEvent) => Array.from(e.dataTransfer?.types ?? []).includes("Files");
  // a file dropped anywhere in the view but the Files panel (which
  // uploads it) is not opened by the browser in place of the app
  main.addEventListener("dragover", (e) => {
    if (!dragHasFiles(e) || e.defaultPrevented) return;
    e.preventDefault();
    e.dataTransfer!.dropEffect = "copy";
  });
  main.addEventListener("drop", (e) => {
    if (!e.dataTransfer?.files.length || e.defaultPrevented) return;
    e.preventDefault();
    attach.add(Array.from(e.dataTransfer.files));
  });
  input.addEventListener("paste", (e) => {
    const pasted = Array.from(e.clipboardData?.files ?? []);
    if (!pasted.length) return;
    // text that came along (a copied page with an image) still pastes
    if (!e.clipboardData?.getData("text/plain")) e.preventDefault();
    attach.add(pasted, true);
  });

  // ---- live: GET /events -----------------------------------------------------
  // Changes from every surface while the view is open. When the stream
  // drops it is asked again after 1 s, doubling to 30 s (with jitter), and
  // what was missed is read back; a refusal that will not change (no chat
  // bridge, not allowed) is not retried.
  let evCtl: AbortController | null = null;
  let evRetry: ReturnType<typeof setTimeout> | null = null;
  let evDelay = EVENTS_RETRY_MIN_MS;
  let evConnectedOnce = false;
  let eventDeltas = new DeltaTexts(); // replies streaming, as this stream told them
  cleanups.push(() => {
    evCtl?.abort();
    if (evRetry) clearTimeout(evRetry);
  });
  function onLive(name: string, data: Record<string, unknown>) {
    evDelay = EVENTS_RETRY_MIN_MS; // it is working
    if (name === "thread" && data.thread && typeof data.thread === "object") {
      threadChanged(data.thread as Thread, true);
    } else if (name === "thread_deleted" && typeof data.id === "number") {
      const wasCurrent = current?.id === data.id;
      threadGone(data.id);
      if (wasCurrent) setBanner("This thread was deleted elsewhere.");
    } else if (name === "message" && data.message && typeof data.message === "object") {
      const m = data.message as Message;
      if (m.run_id && m.state !== "streaming") eventDeltas.end(m.run_id);
      upsert(m);
      const t = threads.get(m.thread_id);
      if (t && (t.last_message_at ?? 0) < m.created_at) {
        t.last_message_at = m.created_at;
        drawThreadsSoon();
      }
    } else if (name === "delta" && typeof data.run_id === "string") {
      const text = eventDeltas.apply(data);
      if (text !== null && current && data.thread_id === current.id) delta(data.run_id, text);
    }
  }
  async function catchUp() {
    if (await loadThreads()) setBanner(""); // the agent answers again
    if (retryThread !== null) {
      const id = retryThread;
      retryThread = null;
      current = null;
      await openThread(id);
      return;
    }
    if (!current) return;
    const seq = openSeq;
    const tid = current.id;
    let newest = 0;
    for (const id of views.keys()) newest = Math.max(newest, id);
    try {
      // what came after the newest shown; a reply that was streaming is
      // read again by its id
      for (let i = 0; i < 20; i++) {
        const r = await chat.messagesAfter(tid, newest, PAGE);
        if (!alive || seq !== openSeq) return;
        for (const m of r.messages) upsert(m);
        if (!r.has_more || !r.messages.length) break;
        newest = r.messages[r.messages.length - 1].id;
      }
    } catch {
      /* the next drop tries again */
    }
  }

  async function listen() {
    if (!alive) return;
    evCtl = new AbortController();
    const ctl = evCtl;
    let refused: ApiError | null = null;
    const started = Date.now();
    try {
      const first = evConnectedOnce;
      evConnectedOnce = true;
      eventDeltas = new DeltaTexts(); // a new stream starts each run with its whole text
      const p = chat.events((n, d) => onLive(n, d), ctl.signal);
      if (first) void catchUp();
      await p;
    } catch (e) {
      if (e instanceof ApiError && e.status >= 400 && e.status !== 408 && e.status !== 409 && e.status !== 429 && e.status < 500) refused = e;
      else if (e instanceof ApiError && e.status === 501) refused = e;
    }
    if (!alive || ctl.signal.aborted) return;
    if (refused) return; // the page's loads show why
    if (Date.now() - started > 60000) evDelay = EVENTS_RETRY_MIN_MS;
    const wait = evDelay * (0.8 + Math.random() * 0.4);
    evDelay = Math.min(evDelay * 2, EVENTS_RETRY_MAX_MS);
    evRetry = setTimeout(() => {
      evRetry = null;
      void listen();
    }, wait);
  }

  // The device coming back (the app's own /events socket) ends the wait.
  cleanups.push(
    onEvent((e) => {
      if (!alive || e.kind !== "device.online" || e.device_id !== deviceId || !evRetry) return;
      clearTimeout(evRetry);
      evRetry = null;
      evDelay = EVENTS_RETRY_MIN_MS;
      void listen();
    }),
  );

  // ---- start -----------------------------------------------------------------
  closeThread();
  void loadThreads();
  const tid = params.thread ? Number(params.thread) : NaN;
  if (params.thread && !(Number.isInteger(tid) && tid > 0)) setBanner("No such thread.");
  else if (tid) void openThread(tid);
  // also when the first loads failed (the device offline): the stream's
  // retries bring the page to life when it comes back
  void listen();

  return () => {
    alive = false;
    app?.classList.remove("chat-app");
    for (const c of cleanups) c();
  };
};

export default page;

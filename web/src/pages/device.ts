// /device/:id — one device: what it is, its live status, its active
// sessions (attach, or open a new terminal), and, when its agent serves an
// OpenClaw gateway (kind "openclaw", docs/openclaw.md), the node panel:
// health from its status, a chat that streams the reply, restart (owners)
// and its workflows.
import "./project.css";
import "./device.css";
import { ApiError, get, post } from "../api";
import { readSse, sseJson } from "../chat/sse";
import { currentUser } from "../session";
import { openEventStream } from "../stream";
import { onEvent, onState } from "../events";
import { shell } from "../layout";
import { navigate, type Page } from "../router";
import { h, toast } from "../ui";
import {
  confirmDanger,
  deleteDevice,
  type Device,
  errText,
  fmtDuration,
  getProject,
  kindLabel,
  loadError,
  newPairingCode,
  type Project,
  renameDevice,
  sessionItem,
  type SessionRow,
  statusBadge,
  timeEl,
} from "./device-common";

interface NodeStatus {
  node_id: string;
  uptime: number;
  active_tasks: number;
  last_error: string | null;
  connection_state: "online" | "reconnecting" | "offline" | string;
  capabilities?: string[];
  workflow_list?: boolean; // false: a PrivaClaw skill, which runs workflows by name only
}

interface Workflow {
  id: string;
  name: string;
  display_name?: string;
  description?: string;
  enabled: boolean;
  schedule?: unknown;
  next_run_at_ms?: number;
  last_run_at_ms?: number;
  last_run_status?: string;
}

const STATUS_REFRESH_MS = 15000; // the node's heartbeat period
const STATUS_RETRY_MS = 3000; // while the gateway is not online
const PROBE_EVERY_MS = 3000; // asking whether a device became a node
const PROBE_FOR_MS = 60000;

// What an OpenClaw node's refusal means, in words (docs/api.md, "OpenClaw nodes").
export function nodeErrorText(e: unknown): string {
  if (!(e instanceof ApiError)) return errText(e);
  const hint: Record<string, string> = {
    device_offline: "The device is offline: its agent is not connected to the relay.",
    not_a_node: "This device has no OpenClaw gateway: its agent has never reported one.",
    node_offline: "The OpenClaw gateway is not connected to the agent.",
    capability_denied: "The agent refuses this: it is not among the capabilities its owner declared in the agent's config.",
    gateway_unavailable: "The OpenClaw gateway is unavailable.",
    openclaw_not_configured: "The agent has no OpenClaw gateway configured.",
    cancelled: "Cancelled (the node was restarted).",
    busy: "The node is busy: too many requests are waiting. Try again shortly.",
    timeout: "The node did not answer in time.",
    workflow_not_found: "The node has no such workflow.",
    not_supported: "This node cannot do that (a PrivaClaw skill has no workflow list).",
    forbidden: "Only the project's owner may do this.",
  };
  const base = hint[e.code];
  if (!base) return `${e.message} (${e.code})`;
  return e.message && e.message !== base ? `${base} ${e.message} (${e.code})` : `${base} (${e.code})`;
}

// The CSRF token for a fetch made outside api() (the prompt stream); after
// a csrf_failed the session is read again, which renews it.
// POST /api/v1/devices/:id/prompt and read its text/event-stream with
// fetch (EventSource cannot POST): onToken gets each piece of the reply.
// Resolves at `done`; rejects with an ApiError for a refusal, an
// `event: error`, or a stream that ends early.
export async function streamPrompt(
  deviceId: string,
  body: { prompt: string; session_key?: string },
  onToken: (text: string) => void,
  signal: AbortSignal,
): Promise<void> {
  const stream = await openEventStream("POST", `/api/v1/devices/${encodeURIComponent(deviceId)}/prompt`, body, signal);
  let ended = false;
  try {
    // the chat view's parser (chat/sse.ts): CRLF, CR, comments, long events
    ended = await readSse(stream, (ev) => {
      const payload = sseJson(ev);
      if (!payload) return false;
      if (ev.event === "token") onToken(String(payload.content ?? ""));
      else if (ev.event === "done") return true;
      else if (ev.event === "error")
        throw new ApiError(200, String(payload.code ?? "error"), String(payload.message ?? "The node reported an error."));
      return false;
    });
  } catch (e) {
    if (e instanceof ApiError) throw e;
    if (signal.aborted) throw new ApiError(0, "aborted", "Stopped.");
    throw new ApiError(0, "network", "The connection to the relay dropped during the reply.");
  }
  if (ended) return;
  throw new ApiError(0, "stream_cut", "The reply stopped before it finished (the connection closed).");
}

function fmtSchedule(s: unknown): string {
  if (s === null || s === undefined) return "—";
  if (typeof s === "string") return s;
  if (typeof s === "object") {
    const o = s as Record<string, unknown>;
    if (typeof o.expr === "string") return o.tz ? `${o.expr} (${o.tz})` : o.expr;
    if (typeof o.everyMs === "number") return `every ${fmtDuration(o.everyMs / 1000)}`;
    if (typeof o.atMs === "number") return `at ${new Date(o.atMs).toLocaleString()}`;
    if (typeof o.at === "string") return `at ${o.at}`;
    if (typeof o.kind === "string") return o.kind;
  }
  return JSON.stringify(s);
}

// ---- the details card -----------------------------------------------------------

// What the agent (or a PrivaClaw connector) tells about its machine, in the
// order shown; any other field it sends is listed after these, by name.
const META_SHOWN = ["hostname", "os", "arch", "agent_version", "shell", "uptime", "system_uptime"];

// The details card's rows. "Online since" is the start of the device's
// stay online, kept across reconnects shorter than the relay's
// CL_DEVICE_ONLINE_GAP_S (2 min); when the current connection began later,
// "Connected since" says so. "Last seen" only while the device is offline.
function deviceDetails(device: Device, project: Project, projectHref: string, online: boolean): Node[] {
  const rows: Node[] = [];
  const item = (k: string, v: Node | string, testid?: string) =>
    rows.push(h("dt", {}, k), h("dd", testid ? { "data-testid": testid } : {}, v));
  const meta = device.meta ?? {};
  const str = (k: string) => (typeof meta[k] === "string" || typeof meta[k] === "number" ? String(meta[k]) : "");
  // the agent's uptimes were told at its hello: add the time connected since
  const sinceHello = online && device.connected_at ? Math.max(0, Date.now() / 1000 - device.connected_at) : 0;
  item("Project", h("a", { href: projectHref, "data-link": true }, project.name));
  item("Kind", kindLabel(device.kind));
  if (!device.paired) item("Paired", "no — waiting for its agent to pair");
  if (online) {
    const since = device.online_since ?? device.last_seen;
    item("Online since", timeEl(since), "device-online-since");
    if (device.connected_at && since && device.connected_at > since)
      item("Connected since", timeEl(device.connected_at), "device-connected-since");
  } else if (device.paired) {
    item("Last seen", timeEl(device.last_seen), "device-last-seen");
  }
  if (str("hostname")) item("Hostname", str("hostname"), "device-hostname");
  const osArch = [str("os"), str("arch")].filter(Boolean).join(" · ");
  if (osArch) item("OS", osArch, "device-os");
  if (str("agent_version")) item("Agent", `clawlink ${str("agent_version")}`, "device-agent-version");
  if (str("shell")) item("Shell", h("code", {}, str("shell")), "device-shell");
  if (typeof meta.uptime === "number")
    item("Agent uptime", online ? fmtDuration(meta.uptime + sinceHello) : `${fmtDuration(meta.uptime)} at its last connection`, "device-uptime");
  if (typeof meta.system_uptime === "number" && online)
    item("System uptime", fmtDuration(meta.system_uptime + sinceHello), "device-system-uptime");
  if (device.remote_addr) item(online ? "Connects from" : "Connected from", h("code", {}, device.remote_addr), "device-address");
  // anything else the device sent (a PrivaClaw connector's meta_update), by name
  for (const [k, v] of Object.entries(meta)) {
    if (!META_SHOWN.includes(k)) item(k.replace(/_/g, " "), String(v), `device-meta-${k}`);
  }
  if (device.pairing_code_expires_at) item("Pairing code expires", timeEl(device.pairing_code_expires_at, false));
  item("Added", timeEl(device.created_at, false));
  item("Device id", h("code", {}, device.id));
  return rows;
}

const page: Page = async (root, params) => {
  const id = params.id;
  const enc = encodeURIComponent(id);
  const main = shell(root, [
    ["Dashboard", "/dashboard"],
    ["Device", null],
  ]);
  main.append(h("p", { class: "muted" }, "Loading…"));

  let device: Device;
  let project: Project;
  try {
    device = (await get<{ device: Device }>(`/api/v1/devices/${enc}`)).device;
    project = await getProject(device.project_id);
  } catch (e) {
    loadError(main, "Device", e);
    return;
  }
  let alive = true;
  const cleanups: (() => void)[] = [];
  const isOwner = () => project.role === "owner";
  const projectHref = `/project/${encodeURIComponent(project.id)}`;

  // the frame again, now that the names are known
  const content = shell(root, [
    ["Dashboard", "/dashboard"],
    [project.name, projectHref],
    [device.name, null],
  ]);

  // ---- header and info ---------------------------------------------------------
  const head = h("div", { class: "project-head row" });
  const info = h("dl", { class: "device-info card" });
  function drawHead() {
    const online = device.status === "online";
    document.title = `${device.name} · clawlink`;
    const crumb = root.querySelector(".crumbs span[aria-current]");
    if (crumb) crumb.textContent = device.name;
    head.replaceChildren(
      h("h1", { "data-testid": "device-name" }, device.name),
      statusBadge(device.status),
      h("span", { class: "badge", "data-testid": "device-kind" }, kindLabel(device.kind)),
      h("span", { class: "spacer" }),
      h(
        "div",
        { class: "row" },
        online
          ? // its live sessions are listed beside it, with Attach: this one is for a new shell
            h("a", { class: "btn primary", href: `/terminal/${enc}/new?start=1`, "data-link": true, "data-testid": "device-new-terminal" }, "New terminal")
          : h("button", { class: "primary", disabled: true, title: "The device is offline", "data-testid": "device-new-terminal" }, "New terminal"),
        // the chat view (issue 15): its page says when the agent cannot chat
        h("a", { class: "btn", href: `/device/${enc}/chat`, "data-link": true, "data-testid": "device-chat" }, "Chat"),
        isOwner()
          ? [
              h("button", { class: "small", "data-testid": "device-rename", onclick: async () => {
                const n = await renameDevice(device);
                if (n) {
                  device = { ...device, ...n };
                  drawHead();
                }
              } }, "Rename"),
              h("button", { class: "small", "data-testid": "device-pairing-code", onclick: async () => {
                const n = await newPairingCode(device);
                if (n) {
                  device = { ...device, ...n };
                  drawHead();
                }
              } }, device.paired ? "Re-pair" : "Pairing code"),
              h("button", { class: "small danger", "data-testid": "device-delete", onclick: async () => {
                if (await deleteDevice(device)) navigate(projectHref);
              } }, "Delete"),
            ]
          : null,
      ),
    );
    info.replaceChildren(...deviceDetails(device, project, projectHref, online));
  }

  // ---- active sessions ------------------------------------------------------------
  // name or title, who, when, how long, viewers; Attach, Rename and End
  // where the caller may (device-common.ts)
  const sessBody = h("div", { class: "stack", "data-testid": "device-sessions" });
  let sessRows: SessionRow[] = [];
  function drawSessions() {
    const live = sessRows.filter((s) => s.status === "active");
    sessBody.replaceChildren(
      ...(live.length === 0
        ? [h("p", { class: "muted", "data-testid": "device-sessions-empty" }, "No active sessions.")]
        : live.map((s) => sessionItem(s, currentUser()?.id, project.role, drawSessions))),
    );
  }
  async function loadSessions() {
    try {
      const q = new URLSearchParams({ device_id: id, status: "active", limit: "200" });
      const r = await get<{ sessions: SessionRow[] }>(`/api/v1/projects/${encodeURIComponent(project.id)}/sessions?${q}`);
      if (!alive) return;
      sessRows = r.sessions;
      drawSessions();
    } catch (e) {
      sessBody.replaceChildren(h("p", { class: "error-text", role: "alert" }, errText(e)));
    }
  }
  // a title or a name changed: this row only, no request
  function sessionLabelChanged(sid: string | undefined, f: Partial<SessionRow>): boolean {
    const row = sessRows.find((s) => s.id === sid);
    if (!row) return false;
    Object.assign(row, f);
    drawSessions();
    return true;
  }
  const sessionsCard = h(
    "section",
    { class: "card", "aria-labelledby": "dev-sessions-h" },
    h(
      "div",
      { class: "row" },
      h("h2", { id: "dev-sessions-h" }, "Active sessions"),
      h("span", { class: "spacer" }),
      h("a", { href: `${projectHref}?tab=sessions&device=${enc}`, "data-link": true }, "History"),
    ),
    sessBody,
  );

  // ---- OpenClaw node panel -------------------------------------------------------------
  const nodeWrap = h("div");
  let node: ReturnType<typeof nodePanel> | null = null;
  function drawNode() {
    if (device.kind === "openclaw" && !node) {
      node = nodePanel();
      nodeWrap.replaceChildren(node.el);
    }
    node?.deviceChanged();
    if (!node && device.status === "online") probeNode();
  }

  // A device's kind becomes "openclaw" at its agent's first heartbeat,
  // which no event announces: while a device that connected less than a
  // minute ago is not known as a node, read it again every few seconds.
  let probing = false;
  function probeNode() {
    if (probing) return;
    probing = true;
    const until = (device.last_seen ?? 0) * 1000 + PROBE_FOR_MS;
    const tick = async () => {
      if (!alive || node || device.status !== "online" || Date.now() > until) {
        probing = false;
        return;
      }
      try {
        const d = (await get<{ device: Device }>(`/api/v1/devices/${enc}`)).device;
        if (!alive) return;
        if (d.kind === "openclaw") {
          device = { ...device, ...d };
          probing = false;
          drawHead();
          drawNode();
          return;
        }
      } catch {
        /* asked again below */
      }
      const t = setTimeout(tick, PROBE_EVERY_MS);
      cleanups.push(() => clearTimeout(t));
    };
    void tick();
  }

  function nodePanel() {
    // -- health
    const health = h("dl", { class: "oc-health", "data-testid": "oc-health" });
    const healthErr = h("p", { class: "error-text", role: "alert", "data-testid": "oc-health-error" });
    const stateBadge = h("span", { class: "badge", "data-testid": "oc-state" }, "…");
    let caps: string[] | null = null;
    // the gateway link as the last status said; null: not known
    let gwState: string | null = null;
    let wfLoaded = false;
    let nextStatus: ReturnType<typeof setTimeout> | null = null;
    cleanups.push(() => nextStatus && clearTimeout(nextStatus));
    // Asked again every 15 s while the gateway is online, every 3 s while it
    // is not (or not yet) so its return shows soon.
    async function loadStatus() {
      if (nextStatus) clearTimeout(nextStatus);
      nextStatus = null;
      if (device.status !== "online") {
        gwState = null;
        stateBadge.textContent = "agent offline";
        stateBadge.className = "badge offline";
        healthErr.textContent = "";
        updateSend();
        return;
      }
      try {
        const s = (await get<{ status: NodeStatus }>(`/api/v1/devices/${enc}/status`)).status;
        if (!alive) return;
        healthErr.textContent = "";
        gwState = s.connection_state;
        caps = s.capabilities ?? null;
        stateBadge.textContent = s.connection_state;
        stateBadge.className = `badge ${s.connection_state === "online" ? "online" : s.connection_state === "reconnecting" ? "warn" : "offline"}`;
        const item = (k: string, v: Node | string) => [h("dt", {}, k), h("dd", {}, v)];
        health.replaceChildren(
          ...item("Gateway", stateBadge),
          ...item("Uptime", fmtDuration(s.uptime)),
          ...item("Active tasks", String(s.active_tasks)),
          ...item("Last error", s.last_error ? h("span", { class: "error-text" }, s.last_error) : "none"),
          ...item("Capabilities", caps ? caps.join(", ") || "none" : "—"),
          ...item("Node id", h("code", {}, s.node_id)),
        );
        restartBtn.hidden = !isOwner();
        if (s.workflow_list === false && !wfLoaded) {
          wfLoaded = true; // a PrivaClaw skill: no list to ask for
          wfBody.replaceChildren(runByName());
        } else if (gwState === "online" && !wfLoaded) void loadWorkflows();
        if (gwState !== "online") {
          wfLoaded = false;
          wfBody.replaceChildren(
            h("p", { class: "muted" }, `The OpenClaw gateway is ${gwState}: its workflows show when it is online.`),
          );
        }
      } catch (e) {
        if (!alive) return;
        gwState = null;
        healthErr.textContent = nodeErrorText(e);
        stateBadge.textContent = "unknown";
        stateBadge.className = "badge warn";
      }
      updateSend();
      if (alive && device.status === "online")
        nextStatus = setTimeout(
          () => (document.hidden ? undefined : void loadStatus()),
          gwState === "online" ? STATUS_REFRESH_MS : STATUS_RETRY_MS,
        );
    }
    const restartBtn = h("button", { class: "small danger", "data-testid": "oc-restart", hidden: !isOwner(), onclick: async () => {
      const go = await confirmDanger(
        "Restart OpenClaw",
        "Restart the OpenClaw gateway on this machine? The prompts it is running are cancelled.",
        "Restart",
      );
      if (!go) return;
      restartBtn.disabled = true;
      try {
        const r = await post<{ ok: boolean; cancelled: string[] }>(`/api/v1/devices/${enc}/restart`);
        toast(`Restart requested${r.cancelled.length ? `; ${r.cancelled.length} prompt(s) cancelled` : ""}`, "ok");
        setTimeout(() => alive && void loadStatus(), 2000);
      } catch (e) {
        toast(nodeErrorText(e), "error");
        healthErr.textContent = nodeErrorText(e);
      } finally {
        restartBtn.disabled = false;
      }
    } }, "Restart");

    // -- chat
    const log = h("div", { class: "oc-log", "data-testid": "oc-log", "aria-live": "polite" });
    const prompt = h("textarea", { id: "oc-prompt", rows: 3, maxlength: 32768, placeholder: "Ask the node…", "data-testid": "oc-prompt" });
    const sessionKey = h("input", { id: "oc-session-key", placeholder: "main", maxlength: 128, "data-testid": "oc-session-key" });
    const send = h("button", { type: "submit", class: "primary", "data-testid": "oc-send" }, "Send");
    const stop = h("button", { type: "button", hidden: true, "data-testid": "oc-stop" }, "Stop");
    let abort: AbortController | null = null;
    stop.addEventListener("click", () => abort?.abort());
    const chatErr = h("p", { class: "error-text", role: "alert", "data-testid": "oc-error" });

    async function ask() {
      const text = prompt.value;
      if (!text.trim() || abort) return;
      chatErr.textContent = "";
      const reply = h("div", { class: "oc-msg oc-assistant streaming", "data-testid": "oc-reply" });
      log.append(h("div", { class: "oc-msg oc-user", "data-testid": "oc-user-msg" }, text), reply);
      log.scrollTop = log.scrollHeight;
      prompt.value = "";
      abort = new AbortController();
      send.disabled = true;
      stop.hidden = false;
      const body: { prompt: string; session_key?: string } = { prompt: text };
      if (sessionKey.value.trim()) body.session_key = sessionKey.value.trim();
      try {
        await streamPrompt(
          id,
          body,
          (t) => {
            reply.textContent += t;
            log.scrollTop = log.scrollHeight;
          },
          abort.signal,
        );
        reply.dataset.state = "done";
      } catch (e) {
        reply.dataset.state = "error";
        const msg = e instanceof ApiError && e.code === "aborted" ? "Stopped." : nodeErrorText(e);
        reply.append(h("div", { class: "error-text oc-reply-error" }, msg));
        // refused before any token: nothing came, so offer the prompt again
        if (reply.childNodes.length === 1 && !(e instanceof ApiError && e.code === "aborted")) {
          chatErr.textContent = msg;
          prompt.value = text;
        }
      } finally {
        reply.classList.remove("streaming");
        abort = null;
        stop.hidden = true;
        updateSend();
        void loadStatus();
      }
    }
    prompt.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        void ask();
      }
    });
    cleanups.push(() => abort?.abort());

    // -- workflows
    const wfBody = h("div", { class: "stack", "data-testid": "workflows" });
    async function loadWorkflows() {
      if (device.status !== "online") {
        wfLoaded = false;
        wfBody.replaceChildren(h("p", { class: "muted" }, "The device is offline."));
        return;
      }
      wfLoaded = true;
      try {
        const r = await get<{ workflows: Workflow[] }>(`/api/v1/devices/${enc}/workflows`);
        if (!alive) return;
        wfBody.replaceChildren(
          ...(r.workflows.length === 0
            ? [h("p", { class: "muted", "data-testid": "workflows-empty" }, "The gateway has no scheduled tasks.")]
            : r.workflows.map((w) => {
                const label = w.display_name || w.name;
                const btn = h("button", { class: "small", "data-testid": "workflow-run", "aria-label": `Run ${label}`, onclick: async () => {
                  btn.disabled = true;
                  try {
                    const res = await post<{ name: string; job_id: string; run?: { runId?: string } }>(
                      `/api/v1/devices/${enc}/workflows/${encodeURIComponent(w.name || w.id)}`,
                      { params: { mode: "force" } },
                    );
                    toast(`Started ${label}${res.run?.runId ? ` (run ${res.run.runId})` : ""}`, "ok");
                    setTimeout(() => alive && void loadWorkflows(), 3000);
                  } catch (e) {
                    toast(nodeErrorText(e), "error");
                  } finally {
                    btn.disabled = false;
                  }
                } }, "Run");
                return h(
                  "div",
                  { class: "row workflow-row", "data-testid": "workflow-row", "data-workflow": w.name },
                  h(
                    "div",
                    { class: "workflow-text" },
                    h("strong", {}, label),
                    w.enabled ? null : h("span", { class: "badge" }, "disabled"),
                    w.description ? h("div", { class: "muted small-print" }, w.description) : null,
                    h(
                      "div",
                      { class: "muted small-print" },
                      `Schedule: ${fmtSchedule(w.schedule)}`,
                      w.next_run_at_ms ? ` · next ${new Date(w.next_run_at_ms).toLocaleString()}` : "",
                      w.last_run_at_ms
                        ? ` · last ${new Date(w.last_run_at_ms).toLocaleString()}${w.last_run_status ? ` (${w.last_run_status})` : ""}`
                        : "",
                    ),
                  ),
                  h("span", { class: "spacer" }),
                  btn,
                );
              })),
        );
      } catch (e) {
        if (e instanceof ApiError && e.code === "not_supported") {
          wfBody.replaceChildren(runByName());
          return;
        }
        wfBody.replaceChildren(h("p", { class: "error-text", role: "alert", "data-testid": "workflows-error" }, nodeErrorText(e)));
      }
    }

    // A node that cannot list its workflows (a PrivaClaw skill) runs one by name.
    function runByName(): HTMLElement {
      const name = h("input", { type: "text", required: true, maxlength: 128, placeholder: "workflow name", "aria-label": "Workflow name", "data-testid": "workflow-name" }) as HTMLInputElement;
      const run = h("button", { type: "submit", class: "small", "data-testid": "workflow-run-named" }, "Run") as HTMLButtonElement;
      return h(
        "form",
        { class: "stack", "data-testid": "workflows-by-name", onsubmit: async (ev: Event) => {
          ev.preventDefault();
          const n = name.value.trim();
          if (!n) return;
          run.disabled = true;
          try {
            await post(`/api/v1/devices/${enc}/workflows/${encodeURIComponent(n)}`, {});
            toast(`Started ${n}`, "ok");
          } catch (err) {
            toast(nodeErrorText(err), "error");
          } finally {
            run.disabled = false;
          }
        } },
        h("p", { class: "muted" }, "This node cannot list its workflows; run one by its name."),
        h("div", { class: "row" }, name, run),
      );
    }

    const el = h(
      "section",
      { class: "oc-panel", "data-testid": "oc-panel", "aria-labelledby": "oc-h" },
      h(
        "div",
        { class: "row" },
        h("h2", { id: "oc-h" }, "OpenClaw node"),
        h("span", { class: "spacer" }),
        h("a", { href: "/skill/privaclaw", "data-link": true, class: "small", "data-testid": "oc-all-nodes" }, "All your OpenClaw nodes →"),
      ),
      h(
        "div",
        { class: "oc-grid" },
        h(
          "section",
          { class: "card oc-chat", "aria-labelledby": "oc-chat-h" },
          h("h3", { id: "oc-chat-h" }, "Chat"),
          log,
          h(
            "form",
            { class: "oc-form", onsubmit: (e: Event) => {
              e.preventDefault();
              void ask();
            } },
            h("label", { for: "oc-prompt", class: "sr-only" }, "Prompt"),
            prompt,
            h(
              "div",
              { class: "row" },
              h("label", { for: "oc-session-key", class: "muted small-print" }, "Session"),
              sessionKey,
              h("span", { class: "spacer" }),
              stop,
              send,
            ),
            chatErr,
          ),
        ),
        h(
          "div",
          { class: "stack" },
          h(
            "section",
            { class: "card", "aria-labelledby": "oc-health-h" },
            h(
              "div",
              { class: "row" },
              h("h3", { id: "oc-health-h" }, "Health"),
              h("span", { class: "spacer" }),
              h("button", { class: "small", "data-testid": "oc-refresh", onclick: () => void loadStatus() }, "Refresh"),
              restartBtn,
            ),
            health,
            healthErr,
          ),
          h(
            "section",
            { class: "card", "aria-labelledby": "oc-wf-h" },
            h(
              "div",
              { class: "row" },
              h("h3", { id: "oc-wf-h" }, "Workflows"),
              h("span", { class: "spacer" }),
              h("button", { class: "small", "data-testid": "workflows-refresh", onclick: () => void loadWorkflows() }, "Refresh"),
            ),
            wfBody,
          ),
        ),
      ),
    );
    health.append(h("dt", {}, "Gateway"), h("dd", {}, stateBadge));
    // a hidden tab skips its refreshes; coming back asks at once
    const onVisible = () => {
      if (!document.hidden && alive && device.status === "online") void loadStatus();
    };
    document.addEventListener("visibilitychange", onVisible);
    cleanups.push(() => document.removeEventListener("visibilitychange", onVisible));
    function updateSend() {
      const online = device.status === "online";
      const gwDown = gwState !== null && gwState !== "online";
      send.disabled = !online || gwDown || abort !== null;
      send.title = !online ? "The device is offline" : gwDown ? `The OpenClaw gateway is ${gwState}` : "";
    }
    let wasOnline: boolean | null = null;
    return {
      el,
      deviceChanged() {
        const online = device.status === "online";
        updateSend();
        if (online !== wasOnline) {
          wasOnline = online;
          void loadStatus();
          if (!online) void loadWorkflows();
        }
      },
    };
  }

  content.replaceChildren(
    head,
    h("div", { class: "device-grid" }, info, sessionsCard),
    nodeWrap,
  );
  drawHead();
  drawNode();
  void loadSessions();

  // ---- live ------------------------------------------------------------------------
  async function reloadDevice() {
    try {
      const d = (await get<{ device: Device }>(`/api/v1/devices/${enc}`)).device;
      if (!alive) return;
      device = d;
      drawHead();
      drawNode();
    } catch (e) {
      if (e instanceof ApiError && e.status === 404 && alive) {
        toast("This device was deleted.", "info");
        navigate(projectHref);
      }
    }
  }
  cleanups.push(
    onEvent((e) => {
      if (!alive || e.project_id !== project.id) return;
      const did = e.device_id ?? e.device?.id;
      if (did !== id) return;
      if (e.kind === "device.online" || e.kind === "device.offline") {
        device = { ...device, status: e.kind === "device.online" ? "online" : "offline", last_seen: e.at, paired: true };
        drawHead();
        drawNode();
        // its details (online since, address, what it told) at once; an
        // OpenClaw node's kind shows at its first heartbeat
        void reloadDevice();
        if (e.kind === "device.online") setTimeout(() => alive && void reloadDevice(), 3000);
      } else if (e.kind === "device.renamed" && e.device) {
        device = { ...device, ...(e.device as unknown as Device) };
        drawHead();
      } else if (e.kind === "device.deleted") {
        toast(`${device.name} was deleted.`, "info");
        navigate(projectHref);
      } else if (e.kind === "session.started" || e.kind === "session.ended") {
        void loadSessions();
      } else if (e.kind === "session.title") {
        sessionLabelChanged(e.session_id, { title: e.title ?? null });
      } else if (e.kind === "session.renamed") {
        sessionLabelChanged(e.session_id, { name: e.name ?? null });
      }
    }),
  );
  let wasLive = false;
  cleanups.push(
    onState((s) => {
      if (s !== "live") return;
      if (wasLive) {
        void reloadDevice();
        void loadSessions();
      }
      wasLive = true;
    }),
  );

  return () => {
    alive = false;
    for (const c of cleanups) c();
  };
};

export default page;

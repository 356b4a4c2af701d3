// /skill/privaclaw — clawlink's answer to PrivaClaw's skill page (seed 001,
// "PrivaClaw Skill (OpenClaw)"): the user's OpenClaw nodes with their
// health, and how to connect an OpenClaw instance. In clawlink a node is
// a paired device whose agent bridges an OpenClaw gateway
// (docs/openclaw.md), so there is no per-user skill config to save: the
// relay URL, node id and token are the device's, written by `clawlink
// pair`; the gateway settings and capabilities live in the agent's config
// on the machine. The nodes come from GET /functions/v1/relay-nodes (kind
// "openclaw", online or not) and, for the first LIST_CAP projects, their
// device lists (kind "openclaw"), merged by device id; the list is read
// again every 15 s (the heartbeat period) and when a device comes or goes.
import { ApiError, get, post } from "../api";
import { pairCommand } from "../commands";
import { onEvent } from "../events";
import { shell } from "../layout";
import { navigate, type Page } from "../router";
import { currentUser, loadSession } from "../session";
import { copyBlock, fmtAgo, fmtTime, formMessage, h } from "../ui";
import type { Device, Project } from "../models";
import { checkName, errorText } from "./forms";
import "./skill.css";

// One node of GET /functions/v1/relay-nodes (docs/api.md).
interface RelayNode {
  device_id: string;
  project_id: string;
  name: string;
  kind: string;
  connected_at: string | null;
  last_heartbeat: string | null;
  online: boolean;
  connection_state?: "online" | "reconnecting" | "offline" | string;
}

const REFRESH_MS = 15000; // the nodes' heartbeat period
const LIST_CAP = 50; // projects whose device lists are read (as /projects counts)

// The agent config's OpenClaw part (docs/openclaw.md, Setup step 2.3 and 3).
export const CONFIG_SNIPPET = JSON.stringify(
  {
    openclaw: { url: "ws://127.0.0.1:18789", token: "<gateway token>", session_key: "main" },
    capabilities: ["terminal", "chat", "status", "workflow"],
  },
  null,
  2,
);
const ENV_SNIPPET = "export OPENCLAW_GATEWAY_URL=ws://127.0.0.1:18789\nexport OPENCLAW_GATEWAY_TOKEN=<gateway token>";

// What each capability lets the relay ask, and PrivaClaw's name for it.
const CAPS: [string, string, string][] = [
  ["terminal", "—", "Terminal sessions (PTY) from the browser."],
  ["chat", "remote_chat", "Prompts sent to the gateway (chat.send); the reply streams back token by token."],
  ["status", "remote_status", "Health: uptime, active tasks, last error, connection state."],
  ["restart", "remote_restart", "Restart the gateway (owners only); running prompts are cancelled and reported first. Off unless declared."],
  ["workflow", "remote_trigger", "List and run the gateway's scheduled tasks (cron jobs)."],
];

// The node's health in words, and a state for styles and tests.
function health(n: RelayNode): { state: string; text: string; cls: string } {
  if (n.connection_state) {
    const cls = n.connection_state === "online" ? "online" : n.connection_state === "reconnecting" ? "warn" : "offline";
    return { state: n.connection_state, text: `gateway ${n.connection_state}`, cls };
  }
  if (n.online) return { state: "agent-online", text: "agent online, no heartbeat yet", cls: "warn" };
  return { state: "agent-offline", text: "agent offline", cls: "offline" };
}

const page: Page = (root) => {
  const main = shell(root, [["OpenClaw nodes", null]]);
  main.classList.add("skill-page");
  document.title = "OpenClaw nodes · clawlink";
  let disposed = false;
  let projects: Project[] = [];
  let nodes: RelayNode[] = [];
  let timer: ReturnType<typeof setTimeout> | null = null;
  let seq = 0;

  // ---- the nodes -----------------------------------------------------------
  const nodesBody = h("div", { "aria-busy": "true" }, h("p", { class: "muted" }, "Loading your nodes…"));
  const nodesErr = h("p", { class: "error-text", role: "alert", "data-testid": "skill-nodes-error" });
  const nodesCard = h(
    "section",
    { class: "card", "data-testid": "skill-nodes", "aria-labelledby": "skill-nodes-h" },
    h(
      "div",
      { class: "row" },
      h("h2", { id: "skill-nodes-h" }, "Your nodes"),
      h("span", { class: "spacer" }),
      h("button", { type: "button", class: "small", "data-testid": "skill-refresh", onclick: () => void load() }, "Refresh"),
    ),
    nodesBody,
    nodesErr,
  );

  function nodeRow(n: RelayNode): HTMLElement {
    const hl = health(n);
    const href = `/device/${encodeURIComponent(n.device_id)}`;
    const proj = projects.find((p) => p.id === n.project_id);
    return h(
      "li",
      { class: "skill-node", "data-testid": "skill-node-row", "data-device-id": n.device_id, "data-state": hl.state },
      h(
        "div",
        { class: "skill-node-main" },
        h("a", { href, "data-link": true, class: "skill-node-name", "data-testid": "skill-node-link" }, n.name),
        proj
          ? h("a", { href: `/project/${encodeURIComponent(proj.id)}`, "data-link": true, class: "muted small" }, proj.name)
          : null,
      ),
      h(
        "div",
        { class: "skill-node-meta" },
        h("span", { class: `badge ${hl.cls}`, "data-testid": "skill-node-state" }, hl.text),
        h(
          "span",
          { class: "muted small", title: fmtTime(n.last_heartbeat), "data-testid": "skill-node-heartbeat" },
          `last heartbeat ${fmtAgo(n.last_heartbeat)}`,
        ),
        // connected_at is the last connection's: shown while it lasts
        n.connected_at && (n.online || n.connection_state)
          ? h("span", { class: "muted small", title: fmtTime(n.connected_at) }, `connected ${fmtAgo(n.connected_at)}`)
          : null,
      ),
      h("a", { href, "data-link": true, class: "btn small", "aria-label": `Open the node panel of ${n.name}` }, "Open panel"),
    );
  }

  function drawNodes(): void {
    nodesBody.removeAttribute("aria-busy");
    if (!nodes.length) {
      nodesBody.replaceChildren(
        h(
          "div",
          { class: "empty", "data-testid": "skill-nodes-empty" },
          h("p", {}, "No OpenClaw nodes yet."),
          h("p", { class: "small" }, "Pair a machine that runs an OpenClaw gateway (below); it becomes a node at its agent's first heartbeat."),
        ),
      );
      return;
    }
    nodesBody.replaceChildren(h("ul", { class: "skill-nodes" }, nodes.map(nodeRow)));
  }

  function schedule(): void {
    if (timer) clearTimeout(timer);
    // hidden: read again when the tab is shown (onVisible)
    timer = disposed ? null : setTimeout(() => void (document.hidden ? undefined : load()), REFRESH_MS);
  }

  async function load(): Promise<void> {
    const my = ++seq;
    try {
      const [pr, nr] = await Promise.all([
        get<{ projects: Project[] }>("/api/v1/projects"),
        get<{ nodes: RelayNode[] }>("/functions/v1/relay-nodes"),
      ]);
      // A node whose agent is offline and not in relay-nodes (it lists
      // paired devices only) still shows, from its project's device list.
      const lists = await Promise.all(
        pr.projects.slice(0, LIST_CAP).map((p) =>
          get<{ devices: Device[] }>(`/api/v1/projects/${encodeURIComponent(p.id)}/devices`).then(
            (r) => r.devices,
            () => [] as Device[],
          ),
        ),
      );
      if (disposed || my !== seq) return;
      projects = pr.projects;
      const found = nr.nodes.filter((n) => n.kind === "openclaw");
      const known = new Set(found.map((n) => n.device_id));
      for (const d of lists.flat()) {
        if (d.kind !== "openclaw" || known.has(d.id)) continue;
        found.push({
          device_id: d.id,
          project_id: d.project_id,
          name: d.name,
          kind: d.kind,
          connected_at: null,
          last_heartbeat: null,
          online: d.status === "online",
        });
      }
      nodes = found;
      nodesErr.textContent = "";
      drawNodes();
      drawPairForm();
    } catch (err) {
      if (disposed || my !== seq) return;
      if (err instanceof ApiError && err.status === 401) {
        const u = await loadSession().catch(() => currentUser());
        if (!u && !disposed) return navigate("/auth?next=%2Fskill%2Fprivaclaw", true);
      }
      nodesBody.removeAttribute("aria-busy");
      if (!nodes.length) nodesBody.replaceChildren();
      nodesErr.textContent = errorText(err);
    } finally {
      if (my === seq) schedule();
    }
  }

  // ---- connect an OpenClaw instance ------------------------------------
  // Step 1: a device to pair, made here in a project the user owns (its
  // pairing code is shown once, like the project page's dialog).
  const pairSlot = h("div", { class: "skill-pair" });
  const pairCmd = h("div", {}, copyBlock(pairCommand("<CODE>", "my-claw"), "skill-pair-command"));
  let pairDrawn = false;
  function drawPairForm(): void {
    const owned = projects.filter((p) => p.role === "owner");
    if (!owned.length) {
      pairSlot.replaceChildren(
        h(
          "p",
          { class: "muted", "data-testid": "skill-pair-none" },
          "You own no project yet: ",
          h("a", { href: "/projects", "data-link": true }, "create one"),
          ", then come back to get a pairing code here (or add a device on the project's page).",
        ),
      );
      pairDrawn = false;
      return;
    }
    if (pairDrawn) return; // keep what the person chose and typed
    pairDrawn = true;
    const select = h(
      "select",
      { id: "skill-pair-project", "data-testid": "skill-pair-project" },
      owned.map((p) => h("option", { value: p.id }, p.name)),
    );
    const name = h("input", {
      type: "text",
      id: "skill-pair-name",
      placeholder: "e.g. claw-box",
      autocomplete: "off",
      "data-testid": "skill-pair-name",
    });
    const submit = h("button", { type: "submit", class: "primary", "data-testid": "skill-pair-submit" }, "Get a pairing code");
    const msg = formMessage("skill-pair-error");
    const form = h(
      "form",
      { class: "skill-pair-form", novalidate: true },
      h("div", { class: "field" }, h("label", { for: "skill-pair-project" }, "Project"), select),
      h("div", { class: "field" }, h("label", { for: "skill-pair-name" }, "Node name"), name),
      submit,
    );
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const n = name.value.trim();
      const bad = !n ? "Give the node a name." : checkName(n, "The name");
      if (bad) {
        name.setAttribute("aria-invalid", "true");
        name.focus();
        return msg.set(bad);
      }
      name.removeAttribute("aria-invalid");
      submit.disabled = true;
      msg.set("");
      try {
        const r = await post<{ device: Device; pairing_code: string }>(
          `/api/v1/projects/${encodeURIComponent(select.value)}/devices`,
          { name: n },
        );
        pairCmd.replaceChildren(
          h(
            "p",
            {},
            "Pairing code for ",
            h("strong", {}, r.device.name),
            ": ",
            h("code", { "data-testid": "skill-pair-code" }, r.pairing_code),
            " (single use, valid 15 minutes). Run on the machine:",
          ),
          copyBlock(pairCommand(r.pairing_code, r.device.name), "skill-pair-command"),
        );
        name.value = "";
      } catch (err) {
        msg.set(errorText(err));
      } finally {
        submit.disabled = false;
      }
    });
    pairSlot.replaceChildren(form, msg);
  }

  const c = (t: string) => h("code", {}, t);
  const connect = h(
    "section",
    { class: "card skill-connect", "data-testid": "skill-connect", "aria-labelledby": "skill-connect-h" },
    h("h2", { id: "skill-connect-h" }, "Connect an OpenClaw instance"),
    h(
      "p",
      { class: "muted" },
      "The clawlink agent on the machine is the skill: it keeps one outbound link to this relay and connects to the OpenClaw gateway on loopback. " +
        "Nothing listens for connections; prompts run on the machine.",
    ),
    h("h3", {}, "1. Pair the machine"),
    h("p", {}, "Install the agent (", h("a", { href: "/docs#install", "data-link": true }, "how"), "), get a pairing code and run the command it comes with:"),
    pairSlot,
    pairCmd,
    h(
      "p",
      { class: "small muted" },
      "Pairing writes the device id, its token and the relay URL (PrivaClaw's ",
      c("node_id"),
      ", ",
      c("auth_token"),
      ", ",
      c("relay_url"),
      ") to ",
      c("~/.config/clawlink/agent.json"),
      "; pairing again keeps the ",
      c("openclaw"),
      " and ",
      c("capabilities"),
      " settings.",
    ),
    h(
      "p",
      { class: "small muted", "data-testid": "skill-privaclaw-compat" },
      "PrivaClaw's own OpenClaw skill connects to this relay as it is: set its ",
      c("relay_url"),
      " to this relay, its ",
      c("node_id"),
      " to a device's id and its ",
      c("auth_token"),
      " to that device's token (what ",
      c("POST /functions/v1/pair-device"),
      " answers for the pairing code). It cannot list its workflows; the device page runs one by name.",
    ),
    h("h3", {}, "2. Let the agent find the gateway"),
    h("p", {}, "The first of these that has a setting wins:"),
    h(
      "ol",
      { class: "skill-order", "data-testid": "skill-discovery" },
      h("li", {}, "the environment: ", c("OPENCLAW_GATEWAY_URL"), ", ", c("OPENCLAW_GATEWAY_TOKEN"), ";"),
      h(
        "li",
        {},
        "OpenClaw's own config: ",
        c("$OPENCLAW_CONFIG_PATH"),
        ", else ",
        c("$OPENCLAW_STATE_DIR/openclaw.json"),
        ", else ",
        c("~/.openclaw/openclaw.json"),
        " (",
        c("gateway.port"),
        ", default 18789 on loopback, and ",
        c("gateway.auth.token"),
        "; plain JSON only);",
      ),
      h("li", {}, "the ", c("openclaw"), " section of the agent config (below)."),
    ),
    copyBlock(ENV_SNIPPET, "skill-env-snippet"),
    h("h3", {}, "3. Declare what the relay may ask"),
    h(
      "p",
      {},
      "In ",
      c("~/.config/clawlink/agent.json"),
      ", beside the pairing fields. Without ",
      c("capabilities"),
      " the agent allows everything but ",
      c("restart"),
      "; it refuses anything not declared, whatever the relay sends. ",
      c('"openclaw": {"enabled": false}'),
      " turns the node off.",
    ),
    copyBlock(CONFIG_SNIPPET, "skill-config-snippet"),
    h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        { class: "list skill-caps", "data-testid": "skill-capabilities" },
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Capability"), h("th", { scope: "col" }, "PrivaClaw"), h("th", { scope: "col" }, "Lets the relay…"))),
        h("tbody", {}, CAPS.map(([cap, pc, what]) => h("tr", {}, h("td", {}, c(cap)), h("td", {}, pc === "—" ? "—" : c(pc)), h("td", {}, what)))),
      ),
    ),
    h("h3", {}, "4. Check and start"),
    h("p", {}, c("clawlink status"), " shows the gateway found and where each setting came from (never the token); then start the agent:"),
    copyBlock("clawlink status\nclawlink up", "skill-up-command"),
    h(
      "p",
      {},
      "The device becomes an OpenClaw node at its first heartbeat and appears above; its page has the node panel (health, chat, workflows, restart).",
    ),
    h("h3", {}, "What leaves the machine"),
    h(
      "p",
      { class: "small muted" },
      "The device token once per connection, the heartbeat (uptime, active tasks, last error, connection state, capabilities) every 15 s, " +
        "and the reply tokens of prompts. Models, files and the gateway token stay on the machine. Prompt content passes through this relay: " +
        "connect only to a relay whose operator you trust.",
    ),
  );

  main.append(
    h(
      "div",
      { class: "row skill-head" },
      h("h1", {}, "OpenClaw nodes"),
      h("span", { class: "spacer" }),
      h("a", { href: "/docs#openclaw", "data-link": true, class: "small" }, "Docs →"),
    ),
    h(
      "p",
      { class: "muted" },
      "PrivaClaw skill for OpenClaw: chat with your OpenClaw instances, check their health, restart them and run their workflows through this relay.",
    ),
    nodesCard,
    connect,
  );

  // A device coming or going changes a node's health: read the list again.
  const stopEvents = onEvent((ev) => {
    if (ev.kind === "device.online" || ev.kind === "device.offline" || ev.kind === "device.deleted" || ev.kind === "device.renamed") {
      void load();
    }
  });
  const onVisible = () => {
    if (!document.hidden) void load();
  };
  document.addEventListener("visibilitychange", onVisible);
  void load();

  return () => {
    disposed = true;
    if (timer) clearTimeout(timer);
    stopEvents();
    document.removeEventListener("visibilitychange", onVisible);
  };
};

export default page;

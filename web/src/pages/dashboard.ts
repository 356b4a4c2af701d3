// /dashboard: the user's projects, each with its devices, their live
// status and their live sessions (name or title, who, since when; Attach,
// Rename and End where the user may). Devices coming and going arrive over /events (events.ts) and
// toast; after a gap in the socket the page rereads everything over HTTP
// (events are not replayed). A project is created inline here; devices
// are added on the project's page.
import { ApiError, get } from "../api";
import { onEvent, onState, type EventsState, type RelayEvent } from "../events";
import { shell } from "../layout";
import { navigate, type Page } from "../router";
import { currentUser, loadSession } from "../session";
import { fmtAgo, fmtTime, h, toast } from "../ui";
import { errorText, loadFailed } from "./forms";
import { projectCreateForm } from "./project-form";
import "./dashboard.css";
import type { Device, Project, SessionRow } from "../models";
import { sessionItem } from "./device-common";
import { loadInbox } from "./invitations";

interface Entry {
  project: Project;
  devices: Device[] | null; // null: could not be read
  error?: string;
  live: Map<string, Set<string>>; // device id → ids of its active sessions
  rows: Map<string, SessionRow>; // session id → its row, for the active ones
}

const page: Page = (root) => {
  const main = shell(root, [["Dashboard", null]]);
  main.classList.add("dashboard");
  const user = currentUser();
  let entries: Entry[] = [];
  let loaded = false;
  let disposed = false;
  let loadSeq = 0;

  // --- header: title, live indicator ---------------------------------
  const live = h("span", { class: "live", "data-testid": "events-status", role: "status", "aria-live": "polite" });
  const header = h(
    "div",
    { class: "dash-head" },
    h(
      "div",
      {},
      h("h1", {}, "Dashboard"),
      h("p", { class: "muted" }, user ? `Signed in as ${user.display_name || user.email}` : ""),
    ),
    live,
  );

  // --- create a project (the form /projects shows too) -------------------
  const createForm = projectCreateForm("project-create", (project) => {
    if (!entries.some((x) => x.project.id === project.id)) entries.unshift({ project, devices: [], live: new Map(), rows: new Map() });
    renderList();
    list.querySelector<HTMLElement>(`[data-project-id="${CSS.escape(project.id)}"] .add-device`)?.focus();
  });

  const list = h("div", { class: "projects", "data-testid": "project-list", "aria-busy": "true" }, h("p", { class: "muted" }, "Loading your projects…"));
  // pending invitations to the user's (proven) address: a way to them
  const invites = h("div", { "data-testid": "dashboard-invitations-slot" });
  main.append(header, invites, createForm, list);

  async function loadInvites(): Promise<void> {
    try {
      const inbox = await loadInbox();
      const n = inbox.invitations.length;
      if (disposed) return;
      invites.replaceChildren(
        n
          ? h(
              "div",
              { class: "card row", "data-testid": "dashboard-invitations" },
              h("span", {}, n === 1 ? `You are invited to ${inbox.invitations[0].project_name}.` : `You have ${n} invitations to projects.`),
              h("span", { class: "spacer" }),
              h("a", { href: "/invitations", class: "btn primary small", "data-link": true, "data-testid": "dashboard-invitations-open" }, "Review"),
            )
          : "",
      );
    } catch {
      /* the projects' load reports trouble; this card is a shortcut */
    }
  }

  // --- rendering --------------------------------------------------------
  function statusBadge(d: Device): HTMLElement {
    const text = d.status === "online" ? "online" : d.paired ? "offline" : "not paired";
    return h(
      "span",
      {
        class: `badge status ${d.status === "online" ? "online" : d.paired ? "offline" : "warn"}`,
        "data-testid": "device-status",
        "data-status": d.status,
      },
      text,
    );
  }

  // owner: the caller owns the device's project (may pair it); live: the
  // ids of the device's active terminal sessions.
  function deviceRow(d: Device, owner: boolean, live: Set<string> | undefined, e?: Entry): HTMLElement {
    const online = d.status === "online";
    const n = live?.size ?? 0;
    const mine = e
      ? [...(live ?? [])]
          .map((id) => e.rows.get(id))
          .filter((s): s is SessionRow => !!s)
          .sort((a, b) => b.started_at - a.started_at)
      : [];
    const seen = online ? "" : d.paired ? `last seen ${fmtAgo(d.last_seen)}` : "waiting for its agent to pair";
    return h(
      "li",
      { class: `device-row ${online ? "is-online" : ""}`, "data-testid": "device-row", "data-device-id": d.id },
      h("span", { class: `dot ${online ? "on" : ""}`, "aria-hidden": "true" }),
      h(
        "div",
        { class: "device-main" },
        h("a", { href: `/device/${encodeURIComponent(d.id)}`, "data-link": true, class: "device-name", "data-testid": "device-link" }, d.name),
        h(
          "div",
          { class: "device-meta" },
          statusBadge(d),
          d.kind === "openclaw" ? h("span", { class: "badge claw" }, "OpenClaw") : null,
          n
            ? h(
                "a",
                {
                  href: `/device/${encodeURIComponent(d.id)}`,
                  "data-link": true,
                  class: "badge sessions",
                  "data-testid": "device-live-sessions",
                  title: "Open the device to resume or watch them",
                },
                n === 1 ? "1 live session" : `${n} live sessions`,
              )
            : null,
          seen ? h("span", { class: "muted small", title: d.last_seen ? fmtTime(d.last_seen) : "" }, seen) : null,
        ),
      ),
      !online && !d.paired && owner
        ? h(
            "a",
            {
              href: `/device/${encodeURIComponent(d.id)}`,
              "data-link": true,
              class: "btn small",
              "data-testid": "device-pair",
              title: `Get a pairing code for ${d.name}`,
            },
            "Pair it",
          )
        : h(
            "button",
            {
              type: "button",
              class: online ? "primary small" : "small",
              "data-testid": "open-terminal",
              disabled: !online,
              title: online ? `Open a terminal on ${d.name}` : `${d.name} is offline`,
              "aria-label": `Open terminal on ${d.name}`,
              onclick: () => navigate(`/terminal/${encodeURIComponent(d.id)}/new`),
            },
            "Open terminal",
          ),
      mine.length
        ? h(
            "div",
            { class: "live-sessions", "data-testid": "dashboard-live-sessions" },
            mine.map((s) => sessionItem(s, user?.id, e!.project.role, renderList)),
          )
        : null,
    );
  }

  function projectCard(e: Entry): HTMLElement {
    const p = e.project;
    const href = `/project/${encodeURIComponent(p.id)}`;
    const devs = e.devices ?? [];
    const on = devs.filter((d) => d.status === "online").length;
    const body: Node[] = [];
    if (e.devices === null) {
      body.push(h("p", { class: "form-msg form-msg-error" }, e.error ?? "The devices could not be read."));
    } else if (devs.length === 0) {
      body.push(
        h(
          "div",
          { class: "empty small-empty" },
          h("p", {}, "No devices yet."),
          p.role === "owner"
            ? h("a", { href, "data-link": true, class: "btn primary small add-device", "data-testid": "project-add-device" }, "Add a device")
            : h("p", { class: "muted small" }, "The project's owner adds devices."),
        ),
      );
    } else {
      body.push(h("ul", { class: "device-list" }, devs.map((d) => deviceRow(d, p.role === "owner", e.live.get(d.id), e))));
    }
    return h(
      "article",
      { class: "card project-card", "data-testid": "project-card", "data-project-id": p.id, "aria-label": p.name },
      h(
        "header",
        { class: "project-head" },
        h("h2", {}, h("a", { href, "data-link": true, "data-testid": "project-link" }, p.name)),
        h("span", { class: `badge role-${p.role}` }, p.role),
        h("span", { class: "spacer" }),
        devs.length ? h("span", { class: "muted small", "data-testid": "project-online-count" }, `${on} of ${devs.length} online`) : null,
      ),
      ...body,
      devs.length && p.role === "owner"
        ? h("footer", { class: "project-foot" }, h("a", { href, "data-link": true, class: "small add-device" }, "+ Add device"))
        : null,
    );
  }

  function emptyState(): HTMLElement {
    return h(
      "div",
      { class: "empty onboarding", "data-testid": "dashboard-empty" },
      h("h2", {}, "Welcome! Let's reach your first machine."),
      h(
        "ol",
        { class: "onboard-steps" },
        h("li", {}, h("strong", {}, "Create a project"), " above — a project groups devices and the people who may use them."),
        h("li", {}, h("strong", {}, "Add a device"), " in it: you get a one-time pairing code and the command to run."),
        h(
          "li",
          {},
          h("strong", {}, "Pair the machine"),
          ": install the agent, run ",
          h("code", {}, "clawlink pair …"),
          " and ",
          h("code", {}, "clawlink up"),
          ". It shows up here as online.",
        ),
      ),
      h("p", {}, h("a", { href: "/docs", "data-link": true }, "How to install the agent →")),
    );
  }

  // Draws the list again from entries, keeping the keyboard focus on the
  // same control of the same device or project when it is still there.
  function renderList(): void {
    if (disposed) return;
    list.removeAttribute("aria-busy");
    const act = document.activeElement as HTMLElement | null;
    let refocus: string | null = null;
    if (act && list.contains(act) && act.dataset.testid) {
      const dev = act.closest<HTMLElement>("[data-device-id]");
      const proj = act.closest<HTMLElement>("[data-project-id]");
      const scope = dev
        ? `[data-device-id="${CSS.escape(dev.dataset.deviceId!)}"]`
        : proj
          ? `[data-project-id="${CSS.escape(proj.dataset.projectId!)}"]`
          : "";
      refocus = `${scope} [data-testid="${CSS.escape(act.dataset.testid)}"]`;
    }
    if (!entries.length) list.replaceChildren(emptyState());
    else list.replaceChildren(...entries.map(projectCard));
    if (refocus) list.querySelector<HTMLElement>(refocus)?.focus();
  }

  // --- data ---------------------------------------------------------------
  async function loadDevices(p: Project): Promise<Entry> {
    const base = `/api/v1/projects/${encodeURIComponent(p.id)}`;
    // The live sessions are a hint: the list works without them.
    const live = new Map<string, Set<string>>();
    const rows = new Map<string, SessionRow>();
    const sessions = get<{ sessions: SessionRow[] }>(`${base}/sessions?status=active&limit=200`)
      .then((r) => {
        for (const s of r.sessions) {
          if (!live.has(s.device_id)) live.set(s.device_id, new Set());
          live.get(s.device_id)!.add(s.id);
          rows.set(s.id, s);
        }
      })
      .catch(() => undefined);
    try {
      const [{ devices }] = await Promise.all([get<{ devices: Device[] }>(`${base}/devices`), sessions]);
      return { project: p, devices, live, rows };
    } catch (err) {
      return { project: p, devices: null, error: errorText(err), live, rows };
    }
  }

  async function load(): Promise<void> {
    const seq = ++loadSeq;
    try {
      const { projects } = await get<{ projects: Project[] }>("/api/v1/projects");
      const next = await Promise.all(projects.map(loadDevices));
      if (disposed || seq !== loadSeq) return;
      entries = next;
      loaded = true;
      renderList();
      void loadInvites();
    } catch (err) {
      if (disposed || seq !== loadSeq) return;
      if (err instanceof ApiError && err.status === 401) return signedOut();
      if (!loaded) {
        list.removeAttribute("aria-busy");
        list.replaceChildren(loadFailed(err, () => void load()));
      } else toast(errorText(err), "error");
    }
  }

  function findDevice(id: string | undefined): [Entry, number] | null {
    if (!id) return null;
    for (const e of entries) {
      const i = e.devices?.findIndex((d) => d.id === id) ?? -1;
      if (i >= 0) return [e, i];
    }
    return null;
  }

  function entryOf(projectId: string): Entry | undefined {
    return entries.find((e) => e.project.id === projectId);
  }

  function handle(ev: RelayEvent): void {
    if (!loaded) return; // the first load is on its way and will see it
    const found = findDevice(ev.device_id ?? ev.device?.id);
    switch (ev.kind) {
      case "device.online":
      case "device.offline": {
        if (!found) {
          const e = entryOf(ev.project_id);
          if (e) void loadDevices(e.project).then((n) => replaceEntry(n));
          return;
        }
        const [e, i] = found;
        const d = e.devices![i];
        const online = ev.kind === "device.online";
        if ((d.status === "online") === online) return;
        e.devices![i] = { ...d, status: online ? "online" : "offline", paired: true, last_seen: ev.at ?? d.last_seen };
        renderList();
        toast(online ? `${d.name} is online` : `${d.name} went offline`, online ? "ok" : "info");
        return;
      }
      case "device.added": {
        const e = entryOf(ev.project_id);
        if (!e || !ev.device || !e.devices) return;
        if (!found) e.devices.push(ev.device as unknown as Device);
        renderList();
        return;
      }
      case "device.renamed": {
        if (found && ev.device) {
          const [e, i] = found;
          e.devices![i] = { ...e.devices![i], ...(ev.device as unknown as Device) };
          renderList();
        }
        return;
      }
      case "device.deleted": {
        if (found) {
          const [e, i] = found;
          e.devices!.splice(i, 1);
          renderList();
        }
        return;
      }
      case "session.started":
      case "session.ended": {
        const e = entryOf(ev.project_id);
        if (!e || !ev.device_id || !ev.session_id) return;
        let set = e.live.get(ev.device_id);
        if (!set) e.live.set(ev.device_id, (set = new Set()));
        if (ev.kind === "session.started") {
          set.add(ev.session_id);
          // its row (who, name, title) comes with the next read
          refreshSoon(e.project);
        } else {
          set.delete(ev.session_id);
          e.rows.delete(ev.session_id);
        }
        renderList();
        return;
      }
      case "session.title":
      case "session.renamed": {
        const e = entryOf(ev.project_id);
        const s = ev.session_id ? e?.rows.get(ev.session_id) : undefined;
        if (!s) return;
        if (ev.kind === "session.title") s.title = ev.title ?? null;
        else s.name = ev.name ?? null;
        renderList();
        return;
      }
      case "member.added":
      case "member.removed": {
        const e = entryOf(ev.project_id);
        if (ev.kind === "member.removed" && e && ev.user_id === currentUser()?.id) {
          // we were removed: the project goes from our list
          entries = entries.filter((x) => x !== e);
          renderList();
          toast(`You are no longer a member of ${e.project.name}`, "info");
          return;
        }
        // A project we did not know about: we were just added to it.
        if (!e) void load();
        return;
      }
    }
  }

  // Rereads a project's devices and live sessions shortly (several
  // sessions starting at once cost one read).
  const refreshTimers = new Map<string, ReturnType<typeof setTimeout>>();
  function refreshSoon(p: Project): void {
    if (refreshTimers.has(p.id)) return;
    refreshTimers.set(
      p.id,
      setTimeout(() => {
        refreshTimers.delete(p.id);
        if (!disposed) void loadDevices(p).then((n) => replaceEntry(n));
      }, 300),
    );
  }

  function replaceEntry(n: Entry): void {
    const i = entries.findIndex((e) => e.project.id === n.project.id);
    if (i >= 0 && !disposed) {
      entries[i] = n;
      renderList();
    }
  }

  async function signedOut(): Promise<void> {
    const u = await loadSession().catch(() => currentUser());
    if (!u && !disposed) navigate("/auth?next=%2Fdashboard", true);
  }

  // --- live updates -----------------------------------------------------
  const labels: Record<EventsState, string> = {
    connecting: "Connecting…",
    live: "Live",
    retrying: "Reconnecting…",
    refused: "Live updates off",
  };
  let seenLive = false;
  const stopState = onState((s) => {
    live.textContent = labels[s];
    live.dataset.state = s;
    live.title =
      s === "live"
        ? "Device status updates as it happens"
        : s === "refused"
          ? "The relay refused the live connection; reload the page"
          : "Live updates paused; reconnecting";
    if (s === "live") {
      if (seenLive) void load(); // events are not replayed: reread what we missed
      seenLive = true;
    } else if (s === "refused") void signedOut();
  });
  const stopEvents = onEvent(handle);
  // Keeps "last seen 3 minutes ago" true.
  const tick = setInterval(() => {
    if (loaded && !document.hidden) renderList();
  }, 60000);

  void load();

  return () => {
    disposed = true;
    stopEvents();
    stopState();
    clearInterval(tick);
    for (const t of refreshTimers.values()) clearTimeout(t);
  };
};

export default page;

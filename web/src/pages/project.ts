// /project/:id — a project: its name (owners rename and delete it) and
// three tabs, Devices / Team / Sessions, the tab kept in the URL
// (?tab=team) so a reload or a shared link opens the same one.
import "./project.css";
import { del, get, patch, post } from "../api";
import { onEvent, onState, type RelayEvent } from "../events";
import { shell } from "../layout";
import { navigate, type Page } from "../router";
import { currentUser } from "../session";
import { h, toast } from "../ui";
import {
  addDevice,
  confirmDanger,
  deleteDevice,
  type Device,
  errText,
  formDialog,
  getProject,
  kindLabel,
  loadError,
  newPairingCode,
  type Project,
  renameDevice,
  type SessionRow,
  sessionActions,
  sessionLabelEl,
  starterText,
  statusBadge,
  timeEl,
  fmtDuration,
} from "./device-common";
import type { Member } from "../models";
import { endReasonText } from "../endreasons";

type Tab = "devices" | "team" | "sessions";
const TABS: [Tab, string][] = [
  ["devices", "Devices"],
  ["team", "Team"],
  ["sessions", "Sessions"],
];

interface Invitation {
  id: string;
  email: string;
  status: string;
  invited_by: string | null;
  created_at: number;
}

function tabFromUrl(): Tab {
  const q = new URLSearchParams(location.search).get("tab") ?? location.hash.replace(/^#/, "");
  return q === "team" || q === "sessions" ? q : "devices";
}

const page: Page = async (root, params) => {
  const pid = params.id;
  const enc = encodeURIComponent(pid);
  const main = shell(root, [
    ["Dashboard", "/dashboard"],
    ["Project", null],
  ]);
  main.append(h("p", { class: "muted" }, "Loading…"));

  let project: Project;
  try {
    project = await getProject(pid);
  } catch (e) {
    loadError(main, "Project", e);
    return;
  }
  let alive = true;
  const cleanups: (() => void)[] = [];
  const isOwner = () => project.role === "owner";

  // ---- header ------------------------------------------------------------
  const title = h("h1", { "data-testid": "project-name" }, project.name);
  const drawCrumbs = () => {
    const c = root.querySelector(".crumbs span[aria-current]");
    if (c) c.textContent = project.name;
    document.title = `${project.name} · clawlink`;
  };
  const header = h(
    "div",
    { class: "project-head row" },
    title,
    h("span", { class: "badge", "data-testid": "project-role" }, project.role),
    h("span", { class: "spacer" }),
    !isOwner()
      ? h(
          "button",
          {
            class: "small danger",
            "data-testid": "project-leave",
            onclick: async () => {
              const go = await confirmDanger(
                "Leave project",
                `Leave “${project.name}”? Your terminal sessions on its devices end now, and you need a new invitation to come back.`,
                "Leave project",
              );
              if (!go) return;
              try {
                await post(`/api/v1/projects/${enc}/leave`);
                toast(`You left ${project.name}`, "ok");
                navigate("/dashboard");
              } catch (e) {
                toast(errText(e), "error");
              }
            },
          },
          "Leave",
        )
      : null,
    isOwner()
      ? h(
          "div",
          { class: "row" },
          h(
            "button",
            {
              class: "small",
              "data-testid": "project-rename",
              onclick: async () => {
                await formDialog({
                  title: "Rename project",
                  fields: [{ id: "name", label: "Project name", value: project.name, testid: "project-rename-name" }],
                  submitLabel: "Rename",
                  submitTestid: "project-rename-submit",
                  submit: async (v) => {
                    project = (await patch<{ project: Project }>(`/api/v1/projects/${enc}`, { name: v.name })).project;
                    title.textContent = project.name;
                    drawCrumbs();
                  },
                });
              },
            },
            "Rename",
          ),
          h(
            "button",
            {
              class: "small danger",
              "data-testid": "project-delete",
              onclick: async () => {
                const go = await confirmDanger(
                  "Delete project",
                  `Delete “${project.name}”? Its devices are disconnected and removed, with their session history, its members and its invitations. This cannot be undone.`,
                  "Delete project",
                );
                if (!go) return;
                try {
                  await del(`/api/v1/projects/${enc}`);
                  toast(`Deleted ${project.name}`, "ok");
                  navigate("/dashboard");
                } catch (e) {
                  toast(errText(e), "error");
                }
              },
            },
            "Delete",
          ),
        )
      : null,
  );

  // ---- tabs ----------------------------------------------------------------
  const tabButtons = new Map<Tab, HTMLButtonElement>();
  const panels = new Map<Tab, HTMLElement>();
  const tablist = h("div", { class: "tabs", role: "tablist", "aria-label": "Project sections" });
  for (const [t, label] of TABS) {
    const b = h(
      "button",
      {
        class: "tab",
        role: "tab",
        id: `tab-${t}`,
        "aria-controls": `panel-${t}`,
        "aria-selected": "false",
        tabindex: "-1",
        "data-testid": `project-tab-${t}`,
        onclick: () => select(t, true),
        onkeydown: (e: Event) => {
          const k = (e as KeyboardEvent).key;
          if (k !== "ArrowRight" && k !== "ArrowLeft") return;
          const i = TABS.findIndex(([x]) => x === t);
          const next = TABS[(i + (k === "ArrowRight" ? 1 : TABS.length - 1)) % TABS.length][0];
          select(next, true);
          tabButtons.get(next)?.focus();
        },
      },
      label,
    );
    tabButtons.set(t, b);
    tablist.append(b);
    const p = h("section", { class: "tab-panel", role: "tabpanel", id: `panel-${t}`, "aria-labelledby": `tab-${t}`, hidden: true });
    panels.set(t, p);
  }
  const loaded = new Set<Tab>();
  function select(t: Tab, push: boolean) {
    for (const [x, b] of tabButtons) {
      b.setAttribute("aria-selected", String(x === t));
      b.tabIndex = x === t ? 0 : -1;
      panels.get(x)!.hidden = x !== t;
    }
    if (push) {
      const url = new URL(location.href);
      url.searchParams.set("tab", t);
      url.hash = "";
      history.replaceState(null, "", url.pathname + url.search);
    }
    if (!loaded.has(t)) {
      loaded.add(t);
      if (t === "devices") void devices.load();
      else if (t === "team") void team.load();
      else void sessions.load(true);
    }
  }

  // ---- Devices -------------------------------------------------------------
  const devices = (() => {
    const panel = panels.get("devices")!;
    let list: Device[] = [];
    const body = h("tbody");
    const info = h("div", { class: "devices-info" });
    const liveNote = h("span", { class: "muted live-note", "data-testid": "events-state", role: "status" });

    function row(d: Device): HTMLElement {
      const online = d.status === "online";
      const actions = h(
        "div",
        { class: "row actions" },
        online
          ? h(
              "a",
              { class: "btn small primary", href: `/terminal/${encodeURIComponent(d.id)}/new`, "data-link": true, "data-testid": "open-terminal" },
              "Open terminal",
            )
          : null,
        isOwner()
          ? [
              h("button", { class: "small", "data-testid": "device-rename", onclick: async () => {
                const n = await renameDevice(d);
                if (n) upsert(n);
              } }, "Rename"),
              h("button", { class: "small", "data-testid": "device-pairing-code", onclick: async () => {
                const n = await newPairingCode(d);
                if (n) upsert(n);
              } }, d.paired ? "Re-pair" : "Pairing code"),
              h("button", { class: "small danger", "data-testid": "device-delete", onclick: async () => {
                if (await deleteDevice(d)) remove(d.id);
              } }, "Delete"),
            ]
          : null,
      );
      // an online device is seen now: its last_seen is when it came online
      const seen = !d.paired
        ? h("span", { class: "badge warn" }, "not paired")
        : d.status === "online"
          ? h("span", { class: "muted" }, "now")
          : timeEl(d.last_seen);
      return h(
        "tr",
        { "data-testid": "device-row", "data-device-id": d.id, "data-status": d.status },
        h("td", { "data-label": "Name" }, h("a", { href: `/device/${encodeURIComponent(d.id)}`, "data-link": true, "data-testid": "device-link" }, d.name)),
        h("td", { "data-label": "Kind" }, kindLabel(d.kind)),
        h("td", { "data-label": "Status" }, statusBadge(d.status)),
        h("td", { "data-label": "Last seen" }, seen),
        h("td", { class: "actions-cell" }, actions),
      );
    }

    function draw() {
      body.replaceChildren(...list.map(row));
      const table = panel.querySelector("table");
      if (table) table.hidden = list.length === 0;
      info.replaceChildren(
        list.length === 0
          ? h(
              "p",
              { class: "empty", "data-testid": "devices-empty" },
              isOwner() ? "No devices yet. Add one and pair its agent with the code you get." : "No devices yet. The project's owner adds them.",
            )
          : "",
      );
      sessions.deviceOptions(list);
    }
    function upsert(d: Device) {
      const i = list.findIndex((x) => x.id === d.id);
      if (i >= 0) list[i] = { ...list[i], ...d };
      else list.push(d);
      draw();
    }
    function remove(id: string) {
      list = list.filter((x) => x.id !== id);
      draw();
    }
    async function load() {
      try {
        const r = await get<{ devices: Device[] }>(`/api/v1/projects/${enc}/devices`);
        if (!alive) return;
        list = r.devices;
        draw();
      } catch (e) {
        info.replaceChildren(h("p", { class: "error-text", role: "alert" }, errText(e)));
      }
    }
    panel.append(
      h(
        "div",
        { class: "row panel-head" },
        h("h2", {}, "Devices"),
        h("span", { class: "spacer" }),
        liveNote,
        isOwner()
          ? h("button", { class: "primary", "data-testid": "add-device", onclick: async () => {
              const d = await addDevice(pid);
              if (d) upsert(d);
            } }, "Add device")
          : null,
      ),
      info,
      h(
        "table",
        { class: "list devices-table", hidden: true },
        h("thead", {}, h("tr", {}, h("th", {}, "Name"), h("th", {}, "Kind"), h("th", {}, "Status"), h("th", {}, "Last seen"), h("th", {}, h("span", { class: "sr-only" }, "Actions")))),
        body,
      ),
    );

    function event(e: RelayEvent) {
      const id = e.device_id ?? e.device?.id;
      if (e.kind === "device.online" || e.kind === "device.offline") {
        const d = list.find((x) => x.id === id);
        if (!d) return void load();
        const online = e.kind === "device.online";
        upsert({ ...d, status: online ? "online" : "offline", last_seen: e.at, paired: true });
        toast(`${d.name} is ${online ? "online" : "offline"}`, online ? "ok" : "info");
        // the kind becomes "openclaw" at the first heartbeat: reread it
        if (online) setTimeout(() => alive && void load(), 3000);
      } else if ((e.kind === "device.added" || e.kind === "device.renamed") && e.device) {
        upsert(e.device as unknown as Device);
      } else if (e.kind === "device.deleted" && id) {
        remove(id);
      }
    }
    return { load, event, liveNote, list: () => list };
  })();

  // ---- Team ------------------------------------------------------------------
  const team = (() => {
    const panel = panels.get("team")!;
    const membersBody = h("tbody");
    const invBody = h("tbody");
    const membersErr = h("p", { class: "error-text", role: "alert" });
    const invWrap = h("div");
    const me = currentUser();

    async function loadMembers() {
      try {
        const r = await get<{ members: Member[] }>(`/api/v1/projects/${enc}/members`);
        if (!alive) return;
        membersErr.textContent = "";
        membersBody.replaceChildren(...r.members.map(memberRow));
      } catch (e) {
        membersErr.textContent = errText(e);
      }
    }
    function memberRow(m: Member): HTMLElement {
      const you = me && me.id === m.user_id;
      return h(
        "tr",
        { "data-testid": "member-row", "data-user-id": m.user_id, "data-role": m.role },
        h(
          "td",
          { "data-label": "Member" },
          h("div", {}, m.display_name || m.email, you ? h("span", { class: "muted" }, " (you)") : null),
          m.display_name ? h("div", { class: "muted small-print" }, m.email) : null,
        ),
        h("td", { "data-label": "Role" }, h("span", { class: `badge ${m.role === "owner" ? "online" : ""}` }, m.role)),
        h("td", { "data-label": "Joined" }, timeEl(m.joined_at)),
        h(
          "td",
          { class: "actions-cell" },
          isOwner() && m.role !== "owner"
            ? h("button", { class: "small danger", "data-testid": "member-remove", onclick: async () => {
                const who = m.display_name || m.email;
                const go = await confirmDanger(
                  "Remove member",
                  `Remove ${who} from “${project.name}”? Their live sessions on its devices end and the sessions shared with them stop.`,
                  "Remove",
                );
                if (!go) return;
                try {
                  await del(`/api/v1/projects/${enc}/members/${encodeURIComponent(m.user_id)}`);
                  toast(`Removed ${who}`, "ok");
                  void loadMembers();
                } catch (e) {
                  toast(errText(e), "error");
                }
              } }, "Remove")
            : null,
        ),
      );
    }

    async function loadInvitations() {
      try {
        const r = await get<{ invitations: Invitation[] }>(`/api/v1/projects/${enc}/invitations`);
        if (!alive) return;
        invWrap.replaceChildren(
          r.invitations.length === 0
            ? h("p", { class: "muted", "data-testid": "invitations-empty" }, "No pending invitations.")
            : h(
                "table",
                { class: "list" },
                h("thead", {}, h("tr", {}, h("th", {}, "Email"), h("th", {}, "Invited"), h("th", {}, h("span", { class: "sr-only" }, "Actions")))),
                invBody,
              ),
        );
        invBody.replaceChildren(
          ...r.invitations.map((inv) =>
            h(
              "tr",
              { "data-testid": "invitation-row", "data-invitation-id": inv.id },
              h("td", { "data-label": "Email" }, inv.email),
              h("td", { "data-label": "Invited" }, timeEl(inv.created_at)),
              h(
                "td",
                { class: "actions-cell" },
                isOwner()
                  ? h("button", { class: "small danger", "data-testid": "invitation-cancel", onclick: async () => {
                      const go = await confirmDanger("Cancel invitation", `Cancel the invitation of ${inv.email}?`, "Cancel invitation");
                      if (!go) return;
                      try {
                        await del(`/api/v1/projects/${enc}/invitations/${encodeURIComponent(inv.id)}`);
                        toast("Invitation cancelled", "ok");
                      } catch (e) {
                        toast(errText(e), "error");
                      }
                      void loadInvitations();
                    } }, "Cancel")
                  : null,
              ),
            ),
          ),
        );
      } catch (e) {
        invWrap.replaceChildren(h("p", { class: "error-text", role: "alert" }, errText(e)));
      }
    }

    const email = h("input", {
      id: "invite-email",
      type: "email",
      required: true,
      maxlength: 254,
      autocomplete: "off",
      placeholder: "name@example.com",
      "data-testid": "invite-email",
    });
    const inviteErr = h("p", { class: "error-text", role: "alert", "data-testid": "invite-error" });
    const inviteBtn = h("button", { type: "submit", class: "primary", "data-testid": "invite-submit" }, "Invite");
    const inviteForm = h(
      "form",
      {
        class: "invite-form card",
        onsubmit: async (ev: Event) => {
          ev.preventDefault();
          inviteErr.textContent = "";
          inviteBtn.disabled = true;
          try {
            await post<{ status: "invited"; message: string }>("/functions/v1/invite-member", {
              project_id: pid,
              email: email.value.trim(),
            });
            toast(`Invitation sent to ${email.value.trim()}: they join when they accept it.`, "ok");
            email.value = "";
            void loadInvitations();
          } catch (e) {
            inviteErr.textContent = errText(e);
          } finally {
            inviteBtn.disabled = false;
          }
        },
      },
      h("label", { for: "invite-email" }, "Invite by email"),
      h("div", { class: "row" }, email, inviteBtn),
      h("p", { class: "muted small-print" }, "Nobody is added without saying yes: the address gets a mail, and its owner accepts or declines once they have confirmed the address (signing up first if they have no account)."),
      inviteErr,
    );

    panel.append(
      h("h2", {}, "Members"),
      membersErr,
      h(
        "table",
        { class: "list members-table" },
        h("thead", {}, h("tr", {}, h("th", {}, "Member"), h("th", {}, "Role"), h("th", {}, "Joined"), h("th", {}, h("span", { class: "sr-only" }, "Actions")))),
        membersBody,
      ),
      isOwner() ? inviteForm : h("p", { class: "muted team-note" }, "Only the project's owner invites and removes members."),
      h("h2", {}, "Pending invitations"),
      invWrap,
    );

    function event(e: RelayEvent) {
      if (e.kind === "member.added" || e.kind === "member.removed") {
        void loadMembers();
        if (e.kind === "member.added") void loadInvitations();
      }
    }
    return {
      load: async () => {
        await Promise.all([loadMembers(), loadInvitations()]);
      },
      event,
    };
  })();

  // ---- Sessions ----------------------------------------------------------------
  // Active sessions first, all of them; the ended ones below, collapsed
  // and paged, so the tab is not a wall of finished rows. Each row says
  // what it is (name, else title, else "shell"), who started it, when, for
  // how long, how it ended; Attach, Rename and End where the caller may.
  const sessions = (() => {
    const panel = panels.get("sessions")!;
    const deviceSel = h("select", { id: "sessions-device", "data-testid": "sessions-device" }, h("option", { value: "" }, "All devices"));
    const statusSel = h(
      "select",
      { id: "sessions-status", "data-testid": "sessions-status" },
      h("option", { value: "" }, "Any state"),
      h("option", { value: "active" }, "Active"),
      h("option", { value: "ended" }, "Ended"),
    );
    const f = new URLSearchParams(location.search);
    const wantDevice = f.get("device") ?? "";
    statusSel.value = f.get("status") === "active" || f.get("status") === "ended" ? f.get("status")! : "";
    const ENDED_PAGE = 20;
    const rows = new Map<string, SessionRow>();
    const err = h("p", { class: "error-text", role: "alert" });
    const empty = h("p", { class: "empty", hidden: true, "data-testid": "sessions-empty" }, "No sessions match.");
    const head = () =>
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          h("th", {}, "Session"),
          h("th", {}, "Device"),
          h("th", {}, "Started by"),
          h("th", {}, "State"),
          h("th", {}, "Started"),
          h("th", {}, "Duration"),
          h("th", {}, "End"),
          h("th", {}, h("span", { class: "sr-only" }, "Actions")),
        ),
      );
    const activeBody = h("tbody", { "data-testid": "sessions-active" });
    const activeTable = h("table", { class: "list sessions-table" }, head(), activeBody);
    const activeCount = h("span", { class: "muted small", "data-testid": "sessions-active-count" });
    const activeNone = h("p", { class: "muted", hidden: true, "data-testid": "sessions-active-empty" }, "No active sessions.");
    const activeSec = h("section", { class: "sessions-active" }, h("h3", {}, "Active ", activeCount), activeTable, activeNone);
    const endedBody = h("tbody");
    const endedTable = h("table", { class: "list sessions-table" }, head(), endedBody);
    const endedCount = h("span", { class: "muted small", "data-testid": "sessions-ended-count" });
    const more = h("button", { class: "small", "data-testid": "sessions-more", hidden: true, onclick: () => void loadEnded(false) }, "Load more");
    const endedSec = h(
      "details",
      { class: "sessions-ended", "data-testid": "sessions-ended" },
      h("summary", { "data-testid": "sessions-ended-toggle" }, "Ended sessions ", endedCount),
      endedTable,
      h("div", { class: "row load-more" }, more),
    ) as HTMLDetailsElement;
    let cursor: string | null = null;
    let gen = 0;
    let endedLoaded = false;

    function row(s: SessionRow): HTMLElement {
      rows.set(s.id, s);
      const active = s.status === "active";
      const dur = (s.ended_at ?? Date.now() / 1000) - s.started_at;
      const end = active
        ? "—"
        : [s.end_reason ? endReasonText(s.end_reason) : "", s.exit_code !== null && s.exit_code !== undefined ? ` (exit ${s.exit_code})` : ""].join("");
      const tr = h(
        "tr",
        { "data-testid": "session-row", "data-session-id": s.id, "data-status": s.status },
        h("td", { "data-label": "Session" }, sessionLabelEl(s)),
        h("td", { "data-label": "Device" }, h("a", { href: `/device/${encodeURIComponent(s.device_id)}`, "data-link": true }, s.device_name)),
        h("td", { "data-label": "Started by" }, s.user ? starterText(s) : h("span", { class: "muted" }, "deleted account")),
        h(
          "td",
          { "data-label": "State" },
          h("span", { class: `badge ${active ? "online" : ""}` }, s.status),
          active && s.viewers ? h("span", { class: "muted small" }, ` ${s.viewers} watching`) : null,
        ),
        h("td", { "data-label": "Started" }, timeEl(s.started_at)),
        h("td", { "data-label": "Duration" }, fmtDuration(dur)),
        h("td", { "data-label": "End" }, end),
        h("td", { class: "actions-cell" }, h("span", { class: "row session-actions" }, sessionActions(s, currentUser()?.id, project.role, () => changed(s)))),
      );
      return tr;
    }
    // a row's session changed here (renamed, ended): redraw it; an ended
    // one moves to the ended list at the next load
    function changed(s: SessionRow) {
      panel.querySelector(`[data-testid="session-row"][data-session-id="${CSS.escape(s.id)}"]`)?.replaceWith(row(s));
    }
    function query(status: string, limit: number, after: string | null) {
      const q = new URLSearchParams();
      if (deviceSel.value) q.set("device_id", deviceSel.value);
      q.set("status", status);
      q.set("limit", String(limit));
      if (after) q.set("cursor", after);
      return get<{ sessions: SessionRow[]; next_cursor: string | null }>(`/api/v1/projects/${enc}/sessions?${q}`);
    }
    function drawEmpty() {
      const st = statusSel.value;
      activeSec.hidden = st === "ended";
      endedSec.hidden = st === "active";
      activeTable.hidden = activeBody.childElementCount === 0;
      activeNone.hidden = activeBody.childElementCount > 0 || st === "ended";
      endedTable.hidden = endedBody.childElementCount === 0;
      const none =
        (st !== "ended" ? activeBody.childElementCount === 0 : true) &&
        (st !== "active" ? endedLoaded && endedBody.childElementCount === 0 : true);
      empty.hidden = !none;
      if (none) activeNone.hidden = true;
    }
    async function loadEnded(reset: boolean) {
      const my = gen;
      if (reset) cursor = null;
      more.disabled = true;
      try {
        const r = await query("ended", ENDED_PAGE, cursor);
        if (!alive || my !== gen) return;
        if (reset) endedBody.replaceChildren();
        endedBody.append(...r.sessions.map(row));
        cursor = r.next_cursor;
        endedLoaded = true;
        more.hidden = !cursor;
        endedCount.textContent = `(${endedBody.childElementCount}${cursor ? "+" : ""})`;
        err.textContent = "";
        drawEmpty();
      } catch (e) {
        if (my === gen) err.textContent = errText(e);
      } finally {
        more.disabled = false;
      }
    }
    async function load(reset = true) {
      if (!reset) return loadEnded(false);
      const my = ++gen;
      rows.clear();
      endedLoaded = false;
      endedSec.open = statusSel.value === "ended" || (endedSec.open && statusSel.value !== "active");
      try {
        if (statusSel.value !== "ended") {
          const r = await query("active", 200, null);
          if (!alive || my !== gen) return;
          activeBody.replaceChildren(...r.sessions.map(row));
          activeCount.textContent = `(${r.sessions.length})`;
        } else {
          activeBody.replaceChildren();
        }
        err.textContent = "";
        // the ended ones: now when shown, else when first opened
        if (statusSel.value !== "active" && endedSec.open) await loadEnded(true);
        else {
          endedBody.replaceChildren();
          endedCount.textContent = "";
          more.hidden = true;
        }
        drawEmpty();
      } catch (e) {
        if (my === gen) err.textContent = errText(e);
      }
    }
    endedSec.addEventListener("toggle", () => {
      if (endedSec.open && !endedLoaded) void loadEnded(true);
    });
    function filtersChanged() {
      const url = new URL(location.href);
      for (const [k, v] of [["device", deviceSel.value], ["status", statusSel.value]] as const) {
        if (v) url.searchParams.set(k, v);
        else url.searchParams.delete(k);
      }
      history.replaceState(null, "", url.pathname + url.search);
      void load(true);
    }
    deviceSel.addEventListener("change", filtersChanged);
    statusSel.addEventListener("change", filtersChanged);

    panel.append(
      h(
        "div",
        { class: "row panel-head" },
        h("h2", {}, "Sessions"),
        h("span", { class: "spacer" }),
        h("label", { for: "sessions-device", class: "sr-only" }, "Device"),
        deviceSel,
        h("label", { for: "sessions-status", class: "sr-only" }, "State"),
        statusSel,
        h("button", { class: "small", "data-testid": "sessions-refresh", onclick: () => void load(true) }, "Refresh"),
      ),
      err,
      activeSec,
      endedSec,
      empty,
    );

    // The device filter's options follow the device list; a ?device= of a
    // device not (yet) listed stays selected.
    function deviceOptions(list: Device[]) {
      const keep = deviceSel.value;
      deviceSel.replaceChildren(
        h("option", { value: "" }, "All devices"),
        ...list.map((d) => h("option", { value: d.id }, d.name)),
      );
      if (keep && !list.some((d) => d.id === keep)) deviceSel.append(h("option", { value: keep }, "Another device"));
      deviceSel.value = keep;
    }
    if (wantDevice) deviceSel.append(h("option", { value: wantDevice }, "This device"));
    deviceSel.value = wantDevice;

    let pending: ReturnType<typeof setTimeout> | null = null;
    function event(e: RelayEvent) {
      if (!loaded.has("sessions")) return;
      if (e.kind === "session.started" || e.kind === "session.ended") {
        if (pending) clearTimeout(pending);
        pending = setTimeout(() => {
          pending = null;
          if (alive) void load(true);
        }, 500);
      } else if ((e.kind === "session.title" || e.kind === "session.renamed") && e.session_id) {
        // one row's label: redrawn in place, no request
        const s = rows.get(e.session_id);
        if (!s) return;
        if (e.kind === "session.title") s.title = e.title ?? null;
        else s.name = e.name ?? null;
        changed(s);
      }
    }
    cleanups.push(() => pending && clearTimeout(pending));
    return { load, event, deviceOptions };
  })();

  // ---- put together ------------------------------------------------------------
  main.replaceChildren(header, tablist, ...panels.values());
  drawCrumbs();
  select(tabFromUrl(), false);
  // the device filter of Sessions needs the device list whatever the tab
  if (!loaded.has("devices")) {
    loaded.add("devices");
    void devices.load();
  }

  cleanups.push(
    onEvent((e) => {
      if (e.project_id !== pid || !alive) return;
      if (e.kind === "member.removed" && e.user_id === currentUser()?.id) {
        // we were removed: the project is no longer ours to see
        toast(`You are no longer a member of ${project.name}`, "error");
        navigate("/dashboard");
        return;
      }
      devices.event(e);
      if (loaded.has("team")) team.event(e);
      sessions.event(e);
    }),
  );
  let wasLive = false;
  cleanups.push(
    onState((s) => {
      devices.liveNote.textContent =
        s === "live"
          ? "● live"
          : s === "refused"
            ? "live updates off (sign in again)"
            : s === "connecting"
              ? "connecting…"
              : "reconnecting…";
      devices.liveNote.classList.toggle("is-live", s === "live");
      if (s === "live") {
        // events are not replayed: reread what may have changed meanwhile
        if (wasLive) for (const t of loaded) t === "devices" ? void devices.load() : t === "team" ? void team.load() : void sessions.load(true);
        wasLive = true;
      }
    }),
  );
  return () => {
    alive = false;
    for (const c of cleanups) c();
  };
};

export default page;

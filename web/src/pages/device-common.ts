// What the project page, the device page and the dashboard share: the
// API's shapes, times, the status badge, a form dialog, the device actions
// (pairing code dialog, rename, new code, delete) and the session actions
// (its label, attach, rename, end).
import "./sessions.css";
import { ApiError, del, get, patch, post } from "../api";
import { onEvent } from "../events";
import { copyBlock, copyText, dialog, h, toast } from "../ui";
import { installCommand, pairCommand } from "../commands";
import type { Device, Project, SessionRow } from "../models";
export type { Device, Project, SessionRow };

// ---- times (the API speaks Unix seconds) ----------------------------------

export function fmtUnix(sec: number | null | undefined): string {
  if (sec === null || sec === undefined) return "—";
  return new Date(sec * 1000).toLocaleString();
}

// "just now", "5 min ago", "3 h ago", "2 days ago", then the date.
export function fmtAgo(sec: number | null | undefined): string {
  if (sec === null || sec === undefined) return "never";
  const d = Math.round(Date.now() / 1000 - sec);
  if (d < 45) return "just now";
  if (d < 3600) return `${Math.round(d / 60)} min ago`;
  if (d < 86400) return `${Math.round(d / 3600)} h ago`;
  if (d < 7 * 86400) return `${Math.round(d / 86400)} days ago`;
  return new Date(sec * 1000).toLocaleDateString();
}

// 3725 → "1 h 2 min"; 42 → "42 s".
export function fmtDuration(sec: number): string {
  sec = Math.max(0, Math.round(sec));
  if (sec < 60) return `${sec} s`;
  const d = Math.floor(sec / 86400);
  const hh = Math.floor((sec % 86400) / 3600);
  const m = Math.floor((sec % 3600) / 60);
  if (d > 0) return `${d} d ${hh} h`;
  if (hh > 0) return `${hh} h ${m} min`;
  return `${m} min`;
}

// A <time> element with the absolute time as its title.
export function timeEl(sec: number | null | undefined, ago = true): HTMLElement {
  if (sec === null || sec === undefined) return h("span", { class: "muted" }, ago ? "never" : "—");
  return h(
    "time",
    { datetime: new Date(sec * 1000).toISOString(), title: fmtUnix(sec) },
    ago ? fmtAgo(sec) : fmtUnix(sec),
  );
}

// ---- small pieces -----------------------------------------------------------

export function statusBadge(status: string, testid = "device-status"): HTMLElement {
  const online = status === "online";
  return h(
    "span",
    { class: `badge ${online ? "online" : "offline"}`, "data-testid": testid, "data-status": status },
    online ? "online" : "offline",
  );
}

export function kindLabel(kind: string): string {
  return kind === "openclaw" ? "OpenClaw node" : kind === "connector" ? "terminal" : kind;
}

// The message to show for a failed request: the relay's message, with a
// hint for the cases people meet.
export function errText(e: unknown): string {
  if (e instanceof ApiError) {
    if (e.status === 429 && e.retryAfter) return `${e.message} (retry in ${e.retryAfter} s)`;
    return e.message;
  }
  return e instanceof Error ? e.message : String(e);
}

// A modal form: fields, a submit button, an error line. submit() runs on
// submit; when it throws, its message is shown and the dialog stays open.
// Resolves true once submit() succeeded, false when cancelled.
export function formDialog(opts: {
  title: string;
  intro?: string;
  fields: { id: string; label: string; type?: string; value?: string; testid?: string; placeholder?: string; maxlength?: number; optional?: boolean }[];
  submitLabel: string;
  submitTestid?: string;
  danger?: boolean;
  submit: (values: Record<string, string>) => Promise<void>;
}): Promise<boolean> {
  return new Promise((resolve) => {
    const d = h("dialog", { class: "dialog", "aria-labelledby": "fd-title" }) as HTMLDialogElement;
    const error = h("p", { class: "error-text", role: "alert" });
    const inputs = opts.fields.map((f) =>
      h("input", {
        id: "fd-" + f.id,
        name: f.id,
        type: f.type ?? "text",
        value: f.value ?? "",
        required: !f.optional,
        maxlength: f.maxlength ?? 128,
        placeholder: f.placeholder,
        autocomplete: "off",
        "data-testid": f.testid,
      }),
    );
    const submitBtn = h(
      "button",
      { type: "submit", class: opts.danger ? "danger" : "primary", "data-testid": opts.submitTestid },
      opts.submitLabel,
    );
    let settled = false;
    const finish = (ok: boolean) => {
      if (settled) return;
      settled = true;
      d.close();
      d.remove();
      resolve(ok);
    };
    const form = h(
      "form",
      {
        onsubmit: async (ev: Event) => {
          ev.preventDefault();
          const values: Record<string, string> = {};
          opts.fields.forEach((f, i) => (values[f.id] = inputs[i].value.trim()));
          submitBtn.disabled = true;
          error.textContent = "";
          try {
            await opts.submit(values);
            finish(true);
          } catch (e) {
            error.textContent = errText(e);
            submitBtn.disabled = false;
          }
        },
      },
      opts.intro ? h("p", { class: "muted" }, opts.intro) : null,
      opts.fields.map((f, i) => h("div", { class: "field" }, h("label", { for: "fd-" + f.id }, f.label), inputs[i])),
      error,
      h(
        "div",
        { class: "dialog-buttons" },
        h("button", { type: "button", onclick: () => finish(false) }, "Cancel"),
        submitBtn,
      ),
    );
    d.append(h("h2", { id: "fd-title" }, opts.title), form);
    d.addEventListener("cancel", (e) => {
      e.preventDefault();
      finish(false);
    });
    document.body.append(d);
    d.showModal();
    inputs[0]?.focus();
    inputs[0]?.select();
  });
}

export async function confirmDanger(title: string, text: string, label: string): Promise<boolean> {
  const v = await dialog(title, text, [
    { label: "Cancel", value: "no" },
    { label, value: "yes", kind: "danger" },
  ]);
  return v === "yes";
}

// ---- pairing --------------------------------------------------------------


// Shows a fresh pairing code and how to use it. Listens for the device
// coming online meanwhile and says so.
export function showPairing(device: Device, code: string, expiresAt: number | null): Promise<void> {
  return new Promise((resolve) => {
    const d = h("dialog", { class: "dialog pairing-dialog", "aria-labelledby": "pair-title" }) as HTMLDialogElement;
    const expiry = h("span", { "data-testid": "pairing-expiry" });
    const status = h("p", { class: "pairing-status muted", role: "status" }, "Waiting for the agent to connect…");
    const tick = () => {
      if (!expiresAt) {
        expiry.textContent = "valid 15 minutes, single use";
        return;
      }
      const left = expiresAt - Date.now() / 1000;
      if (left <= 0) {
        expiry.textContent = "expired: make a new code";
        expiry.classList.add("expired");
      } else {
        const m = Math.floor(left / 60);
        const s = Math.floor(left % 60);
        expiry.textContent = `expires in ${m}:${String(s).padStart(2, "0")} (at ${new Date(expiresAt * 1000).toLocaleTimeString()}), single use`;
      }
    };
    tick();
    const timer = setInterval(tick, 1000);
    const stop = onEvent((e) => {
      if (e.device_id !== device.id) return;
      if (e.kind === "device.online") {
        status.textContent = `${device.name} is online.`;
        status.className = "pairing-status ok";
      }
    });
    const finish = () => {
      clearInterval(timer);
      stop();
      d.close();
      d.remove();
      resolve();
    };
    d.append(
      h("h2", { id: "pair-title" }, `Pair “${device.name}”`),
      h(
        "p",
        { class: "pairing-code-row" },
        "Pairing code: ",
        h("strong", { class: "pairing-code", "data-testid": "pairing-code" }, code),
        " ",
        h(
          "button",
          { class: "small", type: "button", "aria-label": "Copy the pairing code", onclick: () => void copyText(code) },
          "Copy",
        ),
      ),
      h("p", { class: "muted" }, expiry),
      h("p", {}, "On a new machine, this installs the agent, pairs it and starts it as a service:"),
      copyBlock(installCommand(code, device.name), "pairing-install-command", "Copy the install command"),
      h("p", {}, "Or, where the clawlink agent is installed already, pair it:"),
      copyBlock(pairCommand(code, device.name), "pairing-command", "Copy the pair command"),
      h("p", {}, "then start it (clawlink service install keeps it running):"),
      copyBlock("clawlink up", "pairing-up-command", "Copy the up command"),
      h(
        "p",
        { class: "muted small-print" },
        "The code is shown only now. Without ",
        h("code", {}, "--name"),
        ", pairing names the device after the machine's host name. ",
        h("a", { href: "/docs", "data-link": true }, "Install the agent"),
      ),
      status,
      h("div", { class: "dialog-buttons" }, h("button", { class: "primary", type: "button", onclick: finish, "data-testid": "pairing-done" }, "Done")),
    );
    d.addEventListener("cancel", (e) => {
      e.preventDefault();
      finish();
    });
    document.body.append(d);
    d.showModal();
  });
}

// ---- device actions (owners) ------------------------------------------------

export async function addDevice(projectId: string): Promise<Device | null> {
  let made: { device: Device; pairing_code: string } | null = null;
  const ok = await formDialog({
    title: "Add a device",
    intro: "Name the machine; you get a one-time pairing code for its agent.",
    fields: [{ id: "name", label: "Device name", testid: "add-device-name", placeholder: "e.g. home-server" }],
    submitLabel: "Add device",
    submitTestid: "add-device-submit",
    submit: async (v) => {
      made = await post<{ device: Device; pairing_code: string }>(
        `/api/v1/projects/${encodeURIComponent(projectId)}/devices`,
        { name: v.name },
      );
    },
  });
  if (!ok || !made) return null;
  const m = made as { device: Device; pairing_code: string };
  void showPairing(m.device, m.pairing_code, m.device.pairing_code_expires_at);
  return m.device;
}

export async function renameDevice(device: Device): Promise<Device | null> {
  let out: Device | null = null;
  const ok = await formDialog({
    title: "Rename device",
    fields: [{ id: "name", label: "Device name", value: device.name, testid: "device-rename-name" }],
    submitLabel: "Rename",
    submitTestid: "device-rename-submit",
    submit: async (v) => {
      out = (await patch<{ device: Device }>(`/api/v1/devices/${encodeURIComponent(device.id)}`, { name: v.name })).device;
    },
  });
  return ok ? out : null;
}

export async function newPairingCode(device: Device): Promise<Device | null> {
  if (device.paired) {
    const go = await confirmDanger(
      "New pairing code",
      `A new code for “${device.name}”. Its agent keeps working until the code is used; pairing with it replaces the agent's credentials and ends its live sessions.`,
      "Make a new code",
    );
    if (!go) return null;
  }
  try {
    const r = await post<{ device: Device; pairing_code: string; pairing_code_expires_at: number }>(
      `/api/v1/devices/${encodeURIComponent(device.id)}/pairing-code`,
    );
    void showPairing(r.device, r.pairing_code, r.pairing_code_expires_at);
    return r.device;
  } catch (e) {
    toast(errText(e), "error");
    return null;
  }
}

export async function deleteDevice(device: Device): Promise<boolean> {
  const go = await confirmDanger(
    "Delete device",
    `Delete “${device.name}”? Its agent is disconnected and its token stops working; its live sessions end and its session history goes with it.`,
    "Delete device",
  );
  if (!go) return false;
  try {
    await del(`/api/v1/devices/${encodeURIComponent(device.id)}`);
    toast(`Deleted ${device.name}`, "ok");
    return true;
  } catch (e) {
    toast(errText(e), "error");
    return false;
  }
}

// ---- sessions ---------------------------------------------------------------

// What a list calls a session: the name a user gave it, else the title its
// agent reports ("vim · ~/src"), else "shell".
export function sessionLabel(s: Pick<SessionRow, "name" | "title">): string {
  return s.name || s.title || "shell";
}

export function starterText(s: SessionRow): string {
  return s.user ? s.user.display_name || s.user.email : "deleted account";
}

// Whether the caller may end and rename s, as the relay's policy decides
// (session.end, session.rename): its starter, or the project's owner.
export function mayManage(s: SessionRow, meId: string | undefined, role: string | undefined): boolean {
  return (!!meId && s.user?.id === meId) || role === "owner";
}

// The label of a session, with its title beside it when a name hides it.
export function sessionLabelEl(s: SessionRow): HTMLElement {
  return h(
    "span",
    { class: "session-label-wrap" },
    h("strong", { class: "session-label", "data-testid": "session-label", title: s.title ?? "" }, sessionLabel(s)),
    s.name && s.title ? h("span", { class: "muted small session-title", "data-testid": "session-title" }, s.title) : null,
  );
}

// Asks, then ends s (POST /functions/v1/end-session). true once ended.
export async function endSession(s: SessionRow): Promise<boolean> {
  const go = await confirmDanger(
    "End this session?",
    `“${sessionLabel(s)}” on ${s.device_name} is hung up, for everyone watching it.`,
    "End session",
  );
  if (!go) return false;
  try {
    await post("/functions/v1/end-session", { session_id: s.id });
    toast(`Ended “${sessionLabel(s)}”`, "ok");
    return true;
  } catch (e) {
    toast(errText(e), "error");
    return false;
  }
}

// Names s (PATCH /api/v1/sessions/{id}); an empty name clears it. Resolves
// with the new name (null: cleared), or undefined when cancelled.
export async function renameSession(s: SessionRow): Promise<string | null | undefined> {
  let out: string | null = null;
  const ok = await formDialog({
    title: "Name this session",
    intro: `Leave it empty to show its automatic title${s.title ? ` (${s.title})` : ""}.`,
    fields: [
      { id: "name", label: "Session name", value: s.name ?? "", testid: "session-rename-name", maxlength: 64, optional: true, placeholder: s.title ?? "shell" },
    ],
    submitLabel: "Save",
    submitTestid: "session-rename-submit",
    submit: async (v) => {
      out = (await patch<{ session: { id: string; name: string | null } }>(`/api/v1/sessions/${encodeURIComponent(s.id)}`, { name: v.name })).session.name;
    },
  });
  return ok ? out : undefined;
}

// The actions on a session row: Attach (or why not), Rename and End where
// the caller may. changed() runs after a rename or an end.
export function sessionActions(s: SessionRow, meId: string | undefined, role: string | undefined, changed: () => void): HTMLElement[] {
  const active = s.status === "active";
  const manage = mayManage(s, meId, role);
  const out: HTMLElement[] = [];
  if (active && s.attach)
    out.push(
      h(
        "a",
        {
          class: "btn small primary",
          href: `/terminal/${encodeURIComponent(s.device_id)}/${encodeURIComponent(s.id)}`,
          "data-link": true,
          "data-testid": "session-attach",
          "aria-label": `Attach to ${sessionLabel(s)}`,
        },
        "Attach",
      ),
    );
  else if (active) out.push(h("span", { class: "muted small", "data-testid": "session-not-shared" }, "not shared with you"));
  if (manage)
    out.push(
      h(
        "button",
        {
          type: "button",
          class: "small",
          "data-testid": "session-rename",
          "aria-label": `Rename ${sessionLabel(s)}`,
          onclick: async () => {
            const n = await renameSession(s);
            if (n !== undefined) {
              s.name = n;
              changed();
            }
          },
        },
        "Rename",
      ),
    );
  if (active && manage)
    out.push(
      h(
        "button",
        {
          type: "button",
          class: "small danger",
          "data-testid": "session-end",
          "aria-label": `End ${sessionLabel(s)}`,
          onclick: async () => {
            if (await endSession(s)) {
              s.status = "ended";
              s.attach = null;
              s.ended_at = Math.floor(Date.now() / 1000);
              s.end_reason = "ended_by_user";
              changed();
            }
          },
        },
        "End",
      ),
    );
  return out;
}

// One session as a compact row (device page, dashboard): label, who, when,
// how long, viewers, actions.
export function sessionItem(s: SessionRow, meId: string | undefined, role: string | undefined, changed: () => void, opts: { device?: boolean } = {}): HTMLElement {
  const active = s.status === "active";
  const dur = (s.ended_at ?? Date.now() / 1000) - s.started_at;
  return h(
    "div",
    { class: "row session-item", "data-testid": "session-row", "data-session-id": s.id, "data-status": s.status },
    h(
      "div",
      { class: "session-main" },
      sessionLabelEl(s),
      h(
        "span",
        { class: "muted small session-meta" },
        opts.device ? `${s.device_name} · ` : "",
        starterText(s),
        " · started ",
        timeEl(s.started_at),
        ` · ${fmtDuration(dur)}`,
        active && s.viewers ? ` · ${s.viewers === 1 ? "1 viewer" : `${s.viewers} viewers`}` : "",
        active ? "" : " · ended",
      ),
    ),
    h("span", { class: "spacer" }),
    h("span", { class: "row session-actions" }, sessionActions(s, meId, role, changed)),
  );
}

export async function getProject(id: string): Promise<Project> {
  return (await get<{ project: Project }>(`/api/v1/projects/${encodeURIComponent(id)}`)).project;
}

// The page to show when a project or device cannot be read.
export function loadError(main: HTMLElement, what: string, e: unknown): void {
  const notFound = e instanceof ApiError && e.status === 404;
  main.replaceChildren(
    h("h1", {}, notFound ? `${what} not found` : `Cannot load the ${what.toLowerCase()}`),
    h(
      "p",
      { class: "muted" },
      notFound ? `It does not exist, or you are not a member of its project.` : errText(e),
    ),
    h("p", {}, h("a", { href: "/dashboard", "data-link": true }, "Back to the dashboard")),
  );
}

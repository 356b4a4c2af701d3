// /projects — the project list (seed 001 "Routes"; "Getting Started" step
// 2: "Go to /projects → New Project"): each project with the caller's
// role, its devices (how many, how many online), its members and when it
// was made, and the "New project" form the dashboard shows too
// (project-form.ts). The counts cost two requests per project, so only
// the first COUNT_CAP projects get them; the page says so when it stops.
import { ApiError, get } from "../api";
import { shell } from "../layout";
import { navigate, type Page } from "../router";
import { currentUser, loadSession } from "../session";
import { fmtTime, h } from "../ui";
import type { Device, Member, Project } from "../models";
import { loadFailed } from "./forms";
import { projectCreateForm } from "./project-form";
import "./projects.css";

export const COUNT_CAP = 50; // projects whose devices and members are counted

interface Counts {
  devices: number;
  online: number;
  members: number | null; // null: could not be read
}

interface Row {
  project: Project;
  counts: Counts | null | "error"; // null: not counted (over the cap)
}

async function countsOf(p: Project): Promise<Counts | "error"> {
  const base = `/api/v1/projects/${encodeURIComponent(p.id)}`;
  const members = get<{ members: Member[] }>(`${base}/members`).then(
    (r) => r.members.length,
    () => null,
  );
  try {
    const [{ devices }, m] = await Promise.all([get<{ devices: Device[] }>(`${base}/devices`), members]);
    return { devices: devices.length, online: devices.filter((d) => d.status === "online").length, members: m };
  } catch {
    return "error";
  }
}

const page: Page = (root) => {
  const main = shell(root, [["Projects", null]]);
  main.classList.add("projects-page");
  document.title = "Projects · clawlink";
  let rows: Row[] = [];
  let disposed = false;

  const form = projectCreateForm("projects-new", (project) => {
    rows = rows.filter((r) => r.project.id !== project.id);
    rows.unshift({ project, counts: { devices: 0, online: 0, members: 1 } });
    draw();
    list.querySelector<HTMLElement>(`[data-project-id="${CSS.escape(project.id)}"] a`)?.focus();
  });
  const note = h("p", { class: "muted small", "data-testid": "projects-cap-note", hidden: true });
  const list = h(
    "div",
    { class: "projects-list", "data-testid": "projects-list", "aria-busy": "true" },
    h("p", { class: "muted" }, "Loading your projects…"),
  );
  main.append(
    h(
      "div",
      { class: "row projects-head" },
      h("h1", {}, "Projects"),
      h("span", { class: "spacer" }),
      h("a", { href: "/skill/privaclaw", "data-link": true, class: "small" }, "OpenClaw nodes →"),
    ),
    h("p", { class: "muted" }, "A project groups devices and the people who may use them. You own the ones you create; others invite you to theirs."),
    form,
    list,
    note,
  );

  function countCell(r: Row): HTMLElement {
    const c = r.counts;
    if (c === null) return h("span", { class: "muted" }, "—");
    if (c === "error") return h("span", { class: "muted", title: "The devices could not be read" }, "?");
    return h(
      "span",
      { "data-testid": "projects-devices", "data-devices": c.devices, "data-online": c.online },
      c.devices === 0
        ? "no devices"
        : h("span", {}, `${c.devices} device${c.devices === 1 ? "" : "s"} · `, h("span", { class: c.online ? "on" : "muted" }, `${c.online} online`)),
    );
  }

  function rowEl(r: Row): HTMLElement {
    const p = r.project;
    const href = `/project/${encodeURIComponent(p.id)}`;
    const c = r.counts;
    const members = c && c !== "error" && c.members !== null ? `${c.members} member${c.members === 1 ? "" : "s"}` : "—";
    return h(
      "li",
      { class: "projects-row", "data-testid": "projects-row", "data-project-id": p.id },
      h(
        "div",
        { class: "projects-main" },
        h("a", { href, "data-link": true, class: "projects-name", "data-testid": "projects-link" }, p.name),
        h("span", { class: `badge role-${p.role}`, "data-testid": "projects-role" }, p.role),
      ),
      h(
        "div",
        { class: "projects-meta" },
        countCell(r),
        h("span", { "data-testid": "projects-members" }, members),
        h("span", { class: "muted", title: fmtTime(p.created_at) }, `created ${new Date(p.created_at * 1000).toLocaleDateString()}`),
      ),
      h("a", { href, "data-link": true, class: "btn small", "aria-label": `Open ${p.name}` }, "Open"),
    );
  }

  function draw(): void {
    if (disposed) return;
    list.removeAttribute("aria-busy");
    if (!rows.length) {
      list.replaceChildren(
        h(
          "div",
          { class: "empty", "data-testid": "projects-empty" },
          h("p", {}, "No projects yet."),
          h("p", { class: "small" }, "Create one above, then add a device to it — or ask a project's owner to invite you."),
        ),
      );
    } else {
      list.replaceChildren(h("ul", { class: "projects-rows" }, rows.map(rowEl)));
    }
    const uncounted = rows.filter((r) => r.counts === null).length;
    note.hidden = !uncounted;
    note.textContent = uncounted
      ? `Devices and members are counted for the first ${COUNT_CAP} projects only; open a project to see the rest (${uncounted} not counted).`
      : "";
  }

  async function load(): Promise<void> {
    try {
      const { projects } = await get<{ projects: Project[] }>("/api/v1/projects");
      const counted = await Promise.all(projects.slice(0, COUNT_CAP).map(countsOf));
      if (disposed) return;
      rows = projects.map((project, i) => ({ project, counts: i < COUNT_CAP ? counted[i] : null }));
      draw();
    } catch (err) {
      if (disposed) return;
      if (err instanceof ApiError && err.status === 401) {
        const u = await loadSession().catch(() => currentUser());
        if (!u && !disposed) navigate("/auth?next=%2Fprojects", true);
        return;
      }
      list.removeAttribute("aria-busy");
      list.replaceChildren(loadFailed(err, () => void load()));
    }
  }

  void load();
  return () => {
    disposed = true;
  };
};

export default page;

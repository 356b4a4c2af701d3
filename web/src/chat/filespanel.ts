// The Chat view's Files panel (issue 15, "In the web app"; docs/chat.md,
// "Files"): the device's files as its agent serves them. A breadcrumb from
// ~ (or / outside the home directory), a path to go to, the directory's
// entries (folders first), a folder opened by a click, a file downloaded
// chunk by chunk with its progress and a Cancel, files uploaded into the
// open folder by the Upload button or dropped onto the panel, with
// progress and a Cancel; every refusal the agent makes in words.
import { ApiError } from "../api";
import { fmtAgo, h } from "../ui";
import { confirmDanger, formDialog } from "../pages/device-common";
import { breadcrumbs, displayPath, expandHome, filesErrorText, fmtPercent, fmtSize, isInside, joinPath, safeFileName, sortEntries } from "./files";
import { type Entry, FilesApi } from "./filesapi";

export interface FilesPanel {
  el: HTMLElement;
  show(): void; // loads the folder the first time
  upload(files: File[]): void; // into the open folder
  cleanup(): void;
}

// A refusal of a files request in words, else the chat view's.
export function fileErrorText(e: unknown, fallback: (e: unknown) => string): string {
  if (e instanceof ApiError) return filesErrorText(e) ?? fallback(e);
  return fallback(e);
}

export function filesPanel(deviceId: string, opts: { close: () => void; errorText: (e: unknown) => string }): FilesPanel {
  const files = new FilesApi(deviceId);
  const errText = (e: unknown) => fileErrorText(e, opts.errorText);
  let home: string | null = null; // the agent's $HOME: where "" lists
  let cwd: string | null = null;
  let loadSeq = 0;
  let loaded = false;
  const active = new Set<AbortController>();
  let alive = true; // false once the view is left: queued uploads do not start

  const crumbs = h("nav", { class: "chat-files-crumbs", "aria-label": "Folder", "data-testid": "chat-files-crumbs" });
  const goInput = h("input", { type: "text", placeholder: "Go to path (~/docs, /tmp)", "aria-label": "Go to path", maxlength: 4096, spellcheck: "false", autocomplete: "off", "data-testid": "chat-files-go" });
  const picker = h("input", { type: "file", multiple: true, hidden: true, "data-testid": "chat-files-input" });
  const uploadBtn = h("button", { type: "button", class: "small primary", "data-testid": "chat-files-upload" }, "Upload");
  const mkdirBtn = h("button", { type: "button", class: "small", "data-testid": "chat-files-mkdir" }, "New folder");
  const refreshBtn = h("button", { type: "button", class: "small", "aria-label": "Reload the folder", "data-testid": "chat-files-refresh" }, "Reload");
  const where = h("p", { class: "muted small chat-files-where", "data-testid": "chat-files-where" });
  const err = h("p", { class: "error-text", role: "alert", "data-testid": "chat-files-error" });
  const transfers = h("ul", { class: "chat-files-transfers", "aria-label": "Transfers", "data-testid": "chat-files-transfers" });
  const listing = h("ul", { class: "chat-files-list", "aria-label": "Files", "aria-busy": "false", "data-testid": "chat-files-list" });
  const dropHint = h("div", { class: "chat-files-drop", "aria-hidden": "true" }, "Drop files to upload them here");
  const el = h(
    "aside",
    { class: "chat-files", id: "chat-files", hidden: true, "aria-label": "Files", "data-testid": "chat-files" },
    h("div", { class: "row" }, h("h2", {}, "Files"), h("span", { class: "spacer" }), h("button", { type: "button", class: "small", "aria-label": "Close files", "data-testid": "chat-files-close", onclick: () => opts.close() }, "✕")),
    h("p", { class: "muted small" }, "The device's files, as its agent serves them: read in its allowed folders, uploads only into its home directory."),
    crumbs,
    h("form", { class: "row chat-files-goform", onsubmit: (e: Event) => (e.preventDefault(), goTo()) }, goInput, h("button", { type: "submit", class: "small" }, "Go")),
    h("div", { class: "row chat-files-actions" }, uploadBtn, mkdirBtn, refreshBtn, picker),
    where,
    err,
    transfers,
    listing,
    dropHint,
  );

  function setError(text: string) {
    err.textContent = text;
  }

  // ---- the folder -------------------------------------------------------------
  async function load(path: string) {
    const seq = ++loadSeq;
    setError("");
    listing.setAttribute("aria-busy", "true");
    try {
      const r = await files.list(path);
      if (seq !== loadSeq) return;
      if (home === null && path === "") home = r.path; // "" lists $HOME
      cwd = r.path;
      loaded = true;
      draw(r.entries, r.truncated);
    } catch (e) {
      if (seq !== loadSeq) return;
      setError(errText(e));
      if (cwd === null) listing.replaceChildren(h("li", { class: "muted" }, "The files could not be listed."));
    } finally {
      if (seq === loadSeq) listing.setAttribute("aria-busy", "false");
    }
  }

  function draw(entries: Entry[], truncated: boolean) {
    const here = cwd!;
    crumbs.replaceChildren(
      ...breadcrumbs(here, home).flatMap((c, i, all) => {
        const last = i === all.length - 1;
        const b = last
          ? h("span", { class: "chat-files-crumb", "aria-current": "location", "data-testid": "chat-files-crumb" }, c.label)
          : h("button", { type: "button", class: "link chat-files-crumb", "data-testid": "chat-files-crumb", onclick: () => void load(c.path) }, c.label);
        return i === 0 || all[i - 1].label === "/" ? [b] : [h("span", { class: "muted", "aria-hidden": "true" }, "/"), b];
      }),
    );
    const writable = home !== null && isInside(here, home);
    uploadBtn.title = mkdirBtn.title = writable ? "" : "The agent accepts uploads only inside your home directory (~)";
    where.textContent = writable ? "" : `${displayPath(here, home)} is outside your home directory (~): the agent refuses uploads here.`;
    const sorted = sortEntries(entries);
    listing.replaceChildren(...sorted.map(entryItem));
    if (!sorted.length) listing.append(h("li", { class: "muted", "data-testid": "chat-files-empty" }, "This folder is empty."));
    if (truncated) listing.append(h("li", { class: "muted small" }, `Only the first ${sorted.length} entries are shown.`));
  }

  function entryItem(e: Entry): HTMLElement {
    const meta = h("span", { class: "muted small chat-file-meta" }, e.type === "dir" ? "folder" : e.type === "file" ? fmtSize(e.size) : e.type === "link" ? "link" : "special", e.mtime ? ` · ${fmtAgo(e.mtime / 1000)}` : "");
    let main: HTMLElement;
    if (e.type === "dir") {
      main = h("button", { type: "button", class: "link chat-file-name chat-file-isdir", "data-testid": "chat-file-dir", "aria-label": `Open folder ${e.name}`, onclick: () => void load(e.path) }, `${e.name}/`);
    } else if (e.type === "file") {
      main = h("button", { type: "button", class: "link chat-file-name", "data-testid": "chat-file", "aria-label": `Download ${e.name} (${fmtSize(e.size)})`, onclick: () => void download(e.path, e.name) }, e.name);
    } else if (e.type === "link") {
      // a listing does not follow links; stat does (inside the root only)
      main = h("button", { type: "button", class: "link chat-file-name", "data-testid": "chat-file-link", "aria-label": `Open link ${e.name}`, onclick: () => void openLink(e) }, `${e.name} →`);
    } else {
      main = h("span", { class: "chat-file-name muted", title: "Not a regular file or folder: not served" }, e.name);
    }
    return h("li", { class: "chat-file", "data-testid": "chat-file-row", "data-name": e.name, "data-type": e.type }, main, meta);
  }

  async function openLink(e: Entry) {
    setError("");
    try {
      const t = await files.stat(e.path);
      if (t.type === "dir") await load(e.path);
      else if (t.type === "file") await download(e.path, e.name);
      else setError(`${e.name}: not a regular file or folder.`);
    } catch (x) {
      setError(`${e.name}: ${errText(x)}`);
    }
  }

  function goTo() {
    const v = goInput.value.trim();
    if (!v) return;
    void load(home ? expandHome(v, home) : v).then(() => {
      if (!err.textContent) goInput.value = "";
    });
  }

  // ---- transfers --------------------------------------------------------------
  // One row per transfer: its name, a progress bar, what is done, Cancel;
  // a finished one says so and can be dismissed, a failed one says why.
  function transferRow(kind: "up" | "down", name: string, size: number) {
    const ctl = new AbortController();
    active.add(ctl);
    const bar = h("progress", { max: Math.max(1, size), value: 0, "aria-label": `${kind === "up" ? "Uploading" : "Downloading"} ${name}` }) as HTMLProgressElement;
    const text = h("span", { class: "muted small", "data-testid": "chat-transfer-status" }, `${kind === "up" ? "Uploading" : "Downloading"}…`);
    const cancel = h("button", { type: "button", class: "small", "data-testid": "chat-transfer-cancel", onclick: () => ctl.abort() }, "Cancel");
    const row = h(
      "li",
      { class: "chat-transfer", "data-testid": "chat-transfer", "data-kind": kind, "data-name": name, "data-state": "running" },
      h("div", { class: "row" }, h("span", { class: "chat-transfer-name" }, `${kind === "up" ? "↑" : "↓"} ${name}`), h("span", { class: "spacer" }), cancel),
      bar,
      text,
    );
    transfers.prepend(row);
    const settle = (state: "done" | "error" | "cancelled", msg: string) => {
      active.delete(ctl);
      row.dataset.state = state;
      text.textContent = msg;
      text.className = state === "error" ? "error-text small" : "muted small";
      if (state === "error") text.setAttribute("role", "alert");
      bar.hidden = state !== "done";
      cancel.replaceWith(h("button", { type: "button", class: "small", "aria-label": `Dismiss ${name}`, "data-testid": "chat-transfer-dismiss", onclick: () => row.remove() }, "✕"));
    };
    return {
      signal: ctl.signal,
      progress: (done: number, total: number) => {
        bar.max = Math.max(1, total);
        bar.value = done;
        text.textContent = `${fmtPercent(done, total)} · ${fmtSize(done)} of ${fmtSize(total)}`;
      },
      done: (msg: string) => settle("done", msg),
      fail: (e: unknown) => {
        if (e instanceof ApiError && e.code === "aborted") settle("cancelled", "Cancelled.");
        else settle("error", errText(e));
      },
    };
  }

  async function download(path: string, name: string) {
    const t = transferRow("down", name, 0);
    try {
      const blob = await files.download(path, t.progress, t.signal);
      // saved the way a link with `download` saves: an object URL, clicked
      const url = URL.createObjectURL(blob);
      const a = h("a", { href: url, download: name, hidden: true });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
      t.done(`Downloaded ${fmtSize(blob.size)}.`);
    } catch (e) {
      t.fail(e);
    }
  }

  // Files into the open folder, one after the other.
  let queue: Promise<void> = Promise.resolve();
  function upload(list: File[]) {
    if (!list.length) return;
    const dir = cwd ?? home;
    if (!dir) {
      setError("The folder is not loaded yet; try again when it is.");
      return;
    }
    for (const f of list) queue = queue.then(() => uploadOne(dir, f));
  }

  async function uploadOne(dir: string, f: File) {
    if (!alive) return;
    const name = safeFileName(f.name);
    const path = joinPath(dir, name);
    const t = transferRow("up", name, f.size);
    let overwrite = false;
    for (;;) {
      try {
        const r = await files.upload(path, f, t.progress, t.signal, overwrite);
        t.done(`Uploaded ${fmtSize(r.size ?? f.size)} to ${displayPath(r.path ?? path, home)}.`);
        if (cwd === dir) void load(dir);
        return;
      } catch (e) {
        if (!overwrite && e instanceof ApiError && e.code === "exists" && (await confirmDanger("Replace file", `${displayPath(path, home)} exists already. Replace it with the file you chose (${fmtSize(f.size)})?`, "Replace"))) {
          overwrite = true;
          continue;
        }
        t.fail(e);
        return;
      }
    }
  }

  uploadBtn.addEventListener("click", () => picker.click());
  picker.addEventListener("change", () => {
    upload(Array.from(picker.files ?? []));
    picker.value = "";
  });

  mkdirBtn.addEventListener("click", async () => {
    const dir = cwd;
    if (!dir) return;
    await formDialog({
      title: "New folder",
      intro: `In ${displayPath(dir, home)}`,
      fields: [{ id: "name", label: "Name", maxlength: 255, testid: "chat-files-mkdir-name" }],
      submitLabel: "Create",
      submitTestid: "chat-files-mkdir-submit",
      submit: async (v) => {
        try {
          await files.mkdir(joinPath(dir, safeFileName(v.name)));
        } catch (e) {
          throw new Error(errText(e));
        }
        if (cwd === dir) void load(dir);
      },
    });
  });
  refreshBtn.addEventListener("click", () => void load(cwd ?? ""));

  // ---- dropping files onto the panel ---------------------------------------------
  const hasFiles = (e: DragEvent) => Array.from(e.dataTransfer?.types ?? []).includes("Files");
  let dragDepth = 0;
  el.addEventListener("dragenter", (e) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    dragDepth++;
    el.classList.add("dropping");
  });
  el.addEventListener("dragover", (e) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    e.dataTransfer!.dropEffect = "copy";
  });
  el.addEventListener("dragleave", () => {
    dragDepth = Math.max(0, dragDepth - 1);
    if (!dragDepth) el.classList.remove("dropping");
  });
  el.addEventListener("drop", (e) => {
    dragDepth = 0;
    el.classList.remove("dropping");
    if (!e.dataTransfer?.files.length) return;
    e.preventDefault();
    upload(Array.from(e.dataTransfer.files));
  });

  return {
    el,
    show() {
      if (!loaded) void load(cwd ?? "");
    },
    upload,
    cleanup() {
      alive = false;
      loadSeq++;
      for (const c of active) c.abort(); // what is under way stops at its next chunk
      active.clear();
    },
  };
}

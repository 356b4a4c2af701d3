// The composer's attachments (issue 15, "In the web app"; docs/chat.md
// "Attachments"): a file chosen with Attach, dropped on the conversation
// or pasted into the composer is uploaded at once into a folder of its own
// under ~/.clawlink/uploads (the files API, in chunks) and shown as a chip
// (name, size, progress, Remove); the message is sent with the uploaded
// files' paths, `attachments: [{path}]`, and the agent reads them from
// there, keeps them beside its chat store and hands them to the gateway.
import { ApiError } from "../api";
import { h } from "../ui";
import { attachRefusal, fmtPercent, fmtSize, pastedName, safeFileName, uploadDir } from "./files";
import { FilesApi } from "./filesapi";
import { fileErrorText } from "./filespanel";

interface Item {
  name: string;
  size: number;
  path: string | null; // where it was uploaded (absolute), once it is
  state: "uploading" | "ready" | "error";
  ctl: AbortController;
  chip: HTMLElement;
}

export interface Attacher {
  el: HTMLElement; // the chips
  add(files: File[], pasted?: boolean): void;
  busy(): boolean; // some still uploading
  failed(): number; // chips whose upload failed
  ready(): { path: string }[];
  names(): string[];
  clear(): void;
  cleanup(): void;
}

export function attacher(deviceId: string, opts: { say: (text: string) => void; errorText: (e: unknown) => string }): Attacher {
  const files = new FilesApi(deviceId);
  const items: Item[] = [];
  const el = h("ul", { class: "chat-chips", "aria-label": "Attachments", "data-testid": "chat-chips", hidden: true });
  const rand = () => Array.from(crypto.getRandomValues(new Uint8Array(3)), (b) => b.toString(16).padStart(2, "0")).join("");
  let dirsMade = false; // ~/.clawlink/uploads exists (made once per view)

  function redraw() {
    el.hidden = items.length === 0;
  }

  function remove(it: Item) {
    it.ctl.abort();
    const i = items.indexOf(it);
    if (i >= 0) items.splice(i, 1);
    it.chip.remove();
    redraw();
  }

  async function mkdirOk(path: string) {
    try {
      await files.mkdir(path);
    } catch (e) {
      if (!(e instanceof ApiError && e.code === "exists")) throw e;
    }
  }

  async function upload(it: Item, file: File, status: HTMLElement) {
    try {
      if (!dirsMade) {
        await mkdirOk(".clawlink");
        await mkdirOk(".clawlink/uploads");
        dirsMade = true;
      }
      const dir = uploadDir(new Date(), rand());
      await files.mkdir(dir);
      const r = await files.upload(`${dir}/${it.name}`, file, (done, total) => {
        status.textContent = fmtPercent(done, total);
      }, it.ctl.signal);
      if (it.ctl.signal.aborted) return;
      it.path = r.path;
      it.state = "ready";
      it.chip.dataset.state = "ready";
      status.textContent = "";
      it.chip.title = `Uploaded to ${r.path}`;
    } catch (e) {
      if (e instanceof ApiError && e.code === "aborted") return;
      it.state = "error";
      it.chip.dataset.state = "error";
      status.textContent = "failed";
      opts.say(`${it.name} could not be attached: ${fileErrorText(e, opts.errorText)}`);
    }
  }

  return {
    el,
    add(list: File[], pasted = false) {
      for (const f of list) {
        const name = safeFileName(f.name && !(pasted && /^image\.\w+$/.test(f.name)) ? f.name : pastedName(f.type, new Date()));
        const why = attachRefusal(
          items.map((i) => i.size),
          name,
          f.size,
        );
        if (why) {
          opts.say(why);
          continue;
        }
        const status = h("span", { class: "muted small", "data-testid": "chat-chip-status" }, "0 %");
        const chip = h(
          "li",
          { class: "chat-chip", "data-testid": "chat-chip", "data-name": name, "data-state": "uploading" },
          h("span", { class: "chat-chip-name" }, name),
          h("span", { class: "muted small" }, fmtSize(f.size)),
          status,
        );
        const it: Item = { name, size: f.size, path: null, state: "uploading", ctl: new AbortController(), chip };
        chip.append(h("button", { type: "button", class: "small chat-chip-remove", "aria-label": `Remove ${name}`, "data-testid": "chat-chip-remove", onclick: () => remove(it) }, "✕"));
        items.push(it);
        el.append(chip);
        redraw();
        void upload(it, f, status);
      }
    },
    busy: () => items.some((i) => i.state === "uploading"),
    failed: () => items.filter((i) => i.state === "error").length,
    ready: () => items.filter((i) => i.state === "ready" && i.path).map((i) => ({ path: i.path! })),
    names: () => items.map((i) => i.name),
    clear() {
      for (const it of items.slice()) remove(it);
    },
    cleanup() {
      for (const it of items) it.ctl.abort();
    },
  };
}

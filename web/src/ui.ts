// Small DOM helpers shared by the pages: an element builder, toasts, a
// modal dialog. No framework: the app is a handful of pages.

type Attrs = Record<string, string | number | boolean | null | undefined | EventListener>;
type Child = Node | string | null | undefined | false;

// h("button", {class: "primary", onclick: fn}, "Save")
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: (Child | Child[])[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v as EventListener);
    else if (v === true) el.setAttribute(k, "");
    else el.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(typeof c === "string" ? document.createTextNode(c) : c);
  }
  return el;
}

// A short message in the corner; kind "error" stays longer.
export function toast(message: string, kind: "info" | "ok" | "error" = "info"): void {
  const box = document.getElementById("toasts");
  if (!box) return;
  const t = h("div", { class: `toast toast-${kind}`, role: kind === "error" ? "alert" : "status" }, message);
  box.append(t);
  setTimeout(() => t.remove(), kind === "error" ? 8000 : 4000);
}

// A modal dialog with a title, a body and buttons; resolves with the
// value of the button pressed, or null when dismissed (Esc).
export function dialog(
  title: string,
  body: Node | string,
  buttons: { label: string; value: string; kind?: string }[],
): Promise<string | null> {
  return new Promise((resolve) => {
    const d = h("dialog", { class: "dialog" }) as HTMLDialogElement;
    const done = (v: string | null) => {
      d.close();
      d.remove();
      resolve(v);
    };
    d.append(
      h("h2", {}, title),
      typeof body === "string" ? h("p", {}, body) : body,
      h(
        "div",
        { class: "dialog-buttons" },
        buttons.map((b) => h("button", { class: b.kind ?? "", onclick: () => done(b.value) }, b.label)),
      ),
    );
    d.addEventListener("cancel", (e) => {
      e.preventDefault();
      done(null);
    });
    document.body.append(d);
    d.showModal();
  });
}

// Copies text to the clipboard; toasts the outcome.
export async function copyText(text: string): Promise<void> {
  try {
    await navigator.clipboard.writeText(text);
    toast("Copied", "ok");
  } catch {
    toast("Copy failed: select the text and copy it by hand", "error");
  }
}

// A time for people: the API gives Unix seconds (numbers) or ISO 8601
// strings (the PrivaClaw functions); null or undefined → "—".
export function fmtTime(t: string | number | null | undefined): string {
  if (t === null || t === undefined || t === "") return "—";
  const d = typeof t === "number" ? new Date(t * 1000) : new Date(t);
  return isNaN(d.getTime()) ? String(t) : d.toLocaleString();
}

// "3 minutes ago", "in 2 hours": a Unix-seconds or ISO time relative to now.
export function fmtAgo(t: string | number | null | undefined): string {
  if (t === null || t === undefined || t === "") return "never";
  const ms = typeof t === "number" ? t * 1000 : new Date(t).getTime();
  if (isNaN(ms)) return String(t);
  const diff = Math.round((ms - Date.now()) / 1000);
  const abs = Math.abs(diff);
  const rtf = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
  if (abs < 45) return "just now";
  if (abs < 3600) return rtf.format(Math.round(diff / 60), "minute");
  if (abs < 86400) return rtf.format(Math.round(diff / 3600), "hour");
  if (abs < 30 * 86400) return rtf.format(Math.round(diff / 86400), "day");
  return new Date(ms).toLocaleDateString();
}

// The UTF-8 length of a string: the relay's limits are in bytes.
export function byteLength(s: string): number {
  return new TextEncoder().encode(s).length;
}

let fieldSeq = 0;

// A labelled form field: <div class="field"><label for>…</label><input id>
// [hint]</div>. Returns the wrapper; the control keeps its own attributes.
export function field(
  label: string,
  control: HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement,
  hint?: string,
): HTMLDivElement {
  if (!control.id) control.id = `fld-${++fieldSeq}`;
  const wrap = h("div", { class: "field" }, h("label", { for: control.id }, label), control);
  if (hint) {
    const hintEl = h("div", { class: "hint", id: `${control.id}-hint` }, hint);
    control.setAttribute("aria-describedby", hintEl.id);
    wrap.append(hintEl);
  }
  return wrap;
}

// An inline message under a form: role=alert so screen readers say it.
// set("") hides it.
export function formMessage(testid?: string): HTMLDivElement & { set(text: string, kind?: "error" | "ok"): void } {
  const el = h("div", { class: "form-msg", role: "alert", "data-testid": testid }) as HTMLDivElement & {
    set(text: string, kind?: "error" | "ok"): void;
  };
  el.set = (text, kind = "error") => {
    el.textContent = text;
    el.className = `form-msg ${text ? "form-msg-" + kind : ""}`;
  };
  return el;
}

// A command or snippet to copy: the text in <code> and a Copy button. The
// testid names the block; its <code> holds exactly the text, and the
// button is `${testid}-copy`.
export function copyBlock(text: string, testid?: string, label = "Copy command"): HTMLElement {
  return h(
    "div",
    { class: "code", "data-testid": testid },
    h("code", {}, text),
    h(
      "button",
      {
        type: "button",
        class: "small copy",
        "aria-label": label,
        "data-testid": testid ? `${testid}-copy` : undefined,
        onclick: () => void copyText(text),
      },
      "Copy",
    ),
  );
}

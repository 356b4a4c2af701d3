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

export function fmtTime(iso: string | null | undefined): string {
  if (!iso) return "—";
  const d = new Date(iso);
  return isNaN(d.getTime()) ? iso : d.toLocaleString();
}

// A message's Markdown as safe DOM: marked (GFM) turns it into HTML (HTML
// written in the message stays text), DOMPurify keeps only inert markup, and the result is a DocumentFragment
// the page appends (no innerHTML of anything unsanitized). What comes out
// needs nothing the relay's CSP forbids: no script, no event handler, no
// style attribute or element, no javascript:/data: link, no image from
// elsewhere (img-src is 'self': a Markdown image becomes a link to it).
// Code blocks get a Copy button (the page handles its click).
import { Marked, type Tokens } from "marked";
import DOMPurify from "dompurify";

const esc = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);

const md = new Marked({
  gfm: true,
  breaks: true, // a chat reply's single newlines are meant as line breaks
  renderer: {
    // HTML written in a message is shown as text, never parsed: a model
    // quoting markup means the markup. (It also keeps handlers out of the
    // sanitizer's parse: Chromium reports a CSP violation for an inline
    // handler even in an inert document.)
    html({ text }: Tokens.HTML | Tokens.Tag) {
      return esc(text);
    },
    image({ href, text }: Tokens.Image) {
      return `<a href="${esc(href)}">${esc(text || href)}</a>`;
    },
  },
});

const CODE_CLASS = /^language-[A-Za-z0-9_+#.-]{1,40}$/;

type Purifier = ReturnType<typeof DOMPurify>;
const purifiers = new WeakMap<object, Purifier>();

function purifier(win: Window): Purifier {
  let p = purifiers.get(win);
  if (p) return p;
  p = DOMPurify(win as unknown as Parameters<typeof DOMPurify>[0]);
  p.addHook("afterSanitizeAttributes", (node) => {
    const el = node as Element;
    if (el.tagName === "A") {
      // only web and mail links (and this page's anchors); DOMPurify has
      // dropped javascript:, data: and the like already: this keeps the
      // list short and explicit, and drops an empty href too
      const href = el.getAttribute("href");
      if (href !== null && !/^(https?:|mailto:|#|\/(?!\/))/i.test(href)) el.removeAttribute("href");
      el.setAttribute("target", "_blank");
      el.setAttribute("rel", "noopener noreferrer nofollow");
    }
    // our own classes are not the model's to set; a code block keeps its language
    const cls = el.getAttribute("class");
    if (cls !== null) {
      const keep = el.tagName === "CODE" ? cls.split(/\s+/).filter((c) => CODE_CLASS.test(c)) : [];
      if (keep.length) el.setAttribute("class", keep.join(" "));
      else el.removeAttribute("class");
    }
    if (el.hasAttribute("id")) el.removeAttribute("id"); // no clobbering of the page's ids
  });
  purifiers.set(win, p);
  return p;
}

// The sanitized HTML of a message, as a string (for the tests; the page
// uses renderMarkdown).
export function markdownToSafeHtml(text: string, win: Window = window): string {
  const html = md.parse(text, { async: false }) as string;
  return purifier(win).sanitize(html, {
    FORBID_TAGS: ["style", "img", "form", "button", "textarea", "select", "iframe", "svg", "math"],
    FORBID_ATTR: ["style", "srcset", "action", "formaction", "name"],
    ALLOW_DATA_ATTR: false,
  }) as string;
}

// The message as a fragment ready to append: every <pre> wrapped with a
// Copy button (class chat-copy) after it.
export function renderMarkdown(text: string, win: Window = window): DocumentFragment {
  const doc = win.document;
  const tpl = doc.createElement("template");
  tpl.innerHTML = markdownToSafeHtml(text, win); // sanitized just above: inert markup only
  for (const pre of Array.from(tpl.content.querySelectorAll("pre"))) {
    const wrap = doc.createElement("div");
    wrap.className = "chat-code";
    const btn = doc.createElement("button");
    btn.type = "button";
    btn.className = "small chat-copy";
    btn.textContent = "Copy";
    btn.setAttribute("aria-label", "Copy the code");
    pre.replaceWith(wrap);
    wrap.append(pre, btn);
  }
  return tpl.content;
}

// The Chat/Terminal switch of a device (as PrivaClaw's): the chat view and
// a new terminal are one click apart. Small on purpose: the terminal page
// imports it without pulling in the chat view.
import { h } from "../ui";

// current: the view it sits on ("Terminal" elsewhere opens a new one). On
// the terminal page only the way to the chat is shown: the terminal's
// toolbar is full, and a wider one would wrap at common window widths and
// take a row from the terminal.
export function viewToggle(deviceId: string, current: "chat" | "terminal"): HTMLElement {
  const enc = encodeURIComponent(deviceId);
  const item = (label: string, href: string, on: boolean, testid: string) =>
    on
      ? h("span", { class: "view-toggle-item", "aria-current": "page", "data-testid": testid }, label)
      : h("a", { class: "view-toggle-item", href, "data-link": true, "data-testid": testid }, label);
  const chat = item("Chat", `/device/${enc}/chat`, current === "chat", "toggle-chat");
  if (current === "terminal") return h("nav", { class: "view-toggle", "aria-label": "View" }, chat);
  return h(
    "nav",
    { class: "view-toggle", "aria-label": "View" },
    chat,
    item("Terminal", `/terminal/${enc}/new?start=1`, false, "toggle-terminal"),
  );
}

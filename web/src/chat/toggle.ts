// The Chat/Terminal switch of a device (as PrivaClaw's): the chat view and
// a new terminal are one click apart. Small on purpose: the terminal page
// imports it without pulling in the chat view.
import { h } from "../ui";

// current: the view it sits on ("Terminal" elsewhere opens a new one).
export function viewToggle(deviceId: string, current: "chat" | "terminal"): HTMLElement {
  const enc = encodeURIComponent(deviceId);
  const item = (label: string, href: string, on: boolean, testid: string) =>
    on
      ? h("span", { class: "view-toggle-item", "aria-current": "page", "data-testid": testid }, label)
      : h("a", { class: "view-toggle-item", href, "data-link": true, "data-testid": testid }, label);
  return h(
    "nav",
    { class: "view-toggle", "aria-label": "View" },
    item("Chat", `/device/${enc}/chat`, current === "chat", "toggle-chat"),
    item("Terminal", `/terminal/${enc}/new?start=1`, current === "terminal", "toggle-terminal"),
  );
}

// The frame around every signed-in page: a top bar (logo, Dashboard, Projects, Docs,
// Settings, the user and Sign out) and a content area the page fills.
import { h } from "./ui";
import { navigate } from "./router";
import { currentUser, signOut } from "./session";

// Clears root, draws the frame, returns the element the page renders into.
// crumbs: [["Dashboard", "/dashboard"], ["My project", null]].
export function shell(root: HTMLElement, crumbs: [string, string | null][] = [], wide = false): HTMLElement {
  const user = currentUser();
  const main = h("main", { class: wide ? "content content-wide" : "content" });
  const bar = h(
    "header",
    { class: "topbar" },
    h("a", { href: user ? "/dashboard" : "/", "data-link": true, class: "logo" }, "clawlink"),
    h(
      "nav",
      { class: "crumbs", "aria-label": "Breadcrumb" },
      crumbs.flatMap(([label, href], i) => [
        i > 0 ? h("span", { class: "crumb-sep" }, "/") : null,
        href ? h("a", { href, "data-link": true }, label) : h("span", { "aria-current": "page" }, label),
      ]),
    ),
    h(
      "nav",
      { class: "topnav" },
      user ? h("a", { href: "/dashboard", "data-link": true }, "Dashboard") : null,
      user ? h("a", { href: "/projects", "data-link": true, "data-testid": "nav-projects" }, "Projects") : null,
      h("a", { href: "/docs", "data-link": true }, "Docs"),
      user ? h("a", { href: "/settings", "data-link": true, title: user.email }, "Settings") : null,
      user
        ? h(
            "button",
            {
              class: "link",
              onclick: async () => {
                await signOut().catch(() => undefined);
                navigate("/");
              },
            },
            "Sign out",
          )
        : h("a", { href: "/auth", "data-link": true, class: "btn primary" }, "Sign in"),
    ),
  );
  // The top-level page the user is on, for styles and screen readers.
  for (const a of bar.querySelectorAll<HTMLAnchorElement>(".topnav a[href]")) {
    if (a.getAttribute("href") === location.pathname) a.setAttribute("aria-current", "page");
  }
  root.replaceChildren(bar, main);
  return main;
}

// The frame around every signed-in page: a top bar (logo, Dashboard, Projects,
// Invitations, Docs, Settings, the user and Sign out), a banner while the
// user's email address is unproven (issue 14: invitations wait for it), and
// a content area the page fills.
import { ApiError, post } from "./api";
import { h, toast } from "./ui";
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
      user ? h("a", { href: "/invitations", "data-link": true, "data-testid": "nav-invitations" }, "Invitations") : null,
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
  root.replaceChildren(bar, ...(user && user.email_verified === false ? [verifyBanner(user.email)] : []), main);
  return main;
}

// Asks for a new verification link to the signed-in user's address.
export async function resendVerification(): Promise<void> {
  try {
    await post("/api/v1/me/verify-email");
    toast("A new confirmation link is on its way.", "ok");
  } catch (e) {
    if (e instanceof ApiError && e.code === "already_verified") toast("Your address is confirmed already.", "ok");
    else toast(e instanceof Error ? e.message : String(e), "error");
  }
}

function verifyBanner(email: string): HTMLElement {
  return h(
    "div",
    { class: "verify-banner", role: "status", "data-testid": "verify-banner" },
    h("span", {}, `Confirm your email address, ${email}: open the link we mailed you. Until then, invitations to it stay hidden.`),
    h("button", { type: "button", class: "small", "data-testid": "verify-resend", onclick: () => void resendVerification() }, "Send a new link"),
  );
}

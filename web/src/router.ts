// A small client-side router over the History API. Each page is a module
// with render(root, params) that may return a cleanup function, run when
// the user navigates away (closing WebSockets, timers).
export type Cleanup = () => void;
export type Page = (root: HTMLElement, params: Record<string, string>) => Cleanup | void | Promise<Cleanup | void>;

interface Route {
  pattern: string; // "/project/:id"
  page: () => Promise<Page>;
  auth: boolean; // needs a signed-in user (else → /auth?next=...)
}

const routes: Route[] = [];
let cleanup: Cleanup | null = null;
let root: HTMLElement;
let guard: (r: Route) => Promise<string | null> = async () => null;

export function route(pattern: string, page: () => Promise<Page>, auth = false): void {
  routes.push({ pattern, page, auth });
}

function match(pattern: string, path: string): Record<string, string> | null {
  const p = pattern.split("/").filter(Boolean);
  const s = path.split("/").filter(Boolean);
  if (p.length !== s.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < p.length; i++) {
    if (p[i].startsWith(":")) {
      try {
        params[p[i].slice(1)] = decodeURIComponent(s[i]);
      } catch {
        return null; // a malformed %-escape (/project/%zz): not found, not a blank page
      }
    } else if (p[i] !== s[i]) return null;
  }
  return params;
}

// Navigates within the app (pushes history unless replace).
export function navigate(path: string, replace = false): void {
  if (replace) history.replaceState(null, "", path);
  else history.pushState(null, "", path);
  void render();
}

async function render(): Promise<void> {
  if (cleanup) {
    const c = cleanup;
    cleanup = null;
    c();
  }
  const path = location.pathname;
  let found: Route | undefined;
  let params: Record<string, string> = {};
  for (const r of routes) {
    const m = match(r.pattern, path);
    if (m) {
      found = r;
      params = m;
      break;
    }
  }
  root.replaceChildren();
  if (!found) found = routes.find((r) => r.pattern === "*")!;
  const redirect = await guard(found);
  if (redirect) return navigate(redirect, true);
  const page = await found.page();
  const c = await page(root, params);
  if (c) cleanup = c;
  // A link to a section (/docs#openclaw) lands on it; any other page starts
  // at the top. (Fragments that are not ids, like #one-time=…, find nothing.)
  let target: HTMLElement | null = null;
  try {
    target = location.hash.length > 1 ? document.getElementById(decodeURIComponent(location.hash.slice(1))) : null;
  } catch {
    target = null; // a malformed %-escape
  }
  if (target) target.scrollIntoView();
  else window.scrollTo(0, 0);
}

// Starts routing: links with data-link (or any same-origin <a> without
// target) navigate inside the app.
export function start(el: HTMLElement, authGuard: (needsAuth: boolean) => Promise<string | null>): void {
  root = el;
  guard = (r) => authGuard(r.auth);
  window.addEventListener("popstate", () => void render());
  document.addEventListener("click", (e) => {
    const a = (e.target as HTMLElement).closest("a");
    if (!a || a.target || a.hasAttribute("download") || e.ctrlKey || e.metaKey || e.shiftKey) return;
    const url = new URL(a.href, location.href);
    if (url.origin !== location.origin || !a.hasAttribute("data-link")) return;
    e.preventDefault();
    navigate(url.pathname + url.search + url.hash);
  });
  void render();
}

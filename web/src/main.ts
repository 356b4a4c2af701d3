// The web app's entry: routes (seed 001 "Routes") and the sign-in guard.
import "./style.css";
import { route, start } from "./router";
import { currentUser, loadSession, sessionLoaded } from "./session";

route("/", () => import("./pages/landing").then((m) => m.default));
route("/auth", () => import("./pages/auth").then((m) => m.default));
route("/reset-password", () => import("./pages/reset").then((m) => m.default));
route("/verify-email", () => import("./pages/verify").then((m) => m.default));
route("/docs", () => import("./pages/docs").then((m) => m.default));
route("/dashboard", () => import("./pages/dashboard").then((m) => m.default), true);
route("/projects", () => import("./pages/projects").then((m) => m.default), true);
route("/skill/privaclaw", () => import("./pages/skill").then((m) => m.default), true);
route("/project/:id", () => import("./pages/project").then((m) => m.default), true);
route("/device/:id", () => import("./pages/device").then((m) => m.default), true);
route("/device/:id/chat", () => import("./pages/chat").then((m) => m.default), true);
route("/device/:id/chat/:thread", () => import("./pages/chat").then((m) => m.default), true);
route("/terminal/:deviceId/:sessionId", () => import("./pages/terminal").then((m) => m.default), true);
route("/invitations", () => import("./pages/invitations").then((m) => m.default), true);
route("/settings", () => import("./pages/settings").then((m) => m.default), true);
route("*", () => import("./pages/notfound").then((m) => m.default));

start(document.getElementById("app")!, async (needsAuth) => {
  if (!sessionLoaded()) await loadSession().catch(() => null);
  if (needsAuth && !currentUser()) {
    return "/auth?next=" + encodeURIComponent(location.pathname + location.search);
  }
  return null;
});

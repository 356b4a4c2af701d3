// /: what clawlink is, how to start, and the way in (sign in, or the
// dashboard for someone already signed in).
import { shell } from "../layout";
import type { Page } from "../router";
import { currentUser } from "../session";
import { h } from "../ui";
import "./landing.css";

const page: Page = (root) => {
  const user = currentUser();
  const main = shell(root, []);
  main.classList.add("landing");

  const actions = user
    ? h(
        "div",
        { class: "row hero-actions" },
        h("a", { href: "/dashboard", class: "btn primary big", "data-link": true, "data-testid": "landing-dashboard" }, "Go to dashboard"),
        h("span", { class: "muted" }, `Signed in as ${user.display_name || user.email}`),
      )
    : h(
        "div",
        { class: "row hero-actions" },
        h(
          "a",
          { href: "/auth?mode=signup", class: "btn primary big", "data-link": true, "data-testid": "landing-signup" },
          "Create an account",
        ),
        h("a", { href: "/auth", class: "btn big", "data-link": true, "data-testid": "landing-signin" }, "Sign in"),
      );

  const feature = (title: string, text: string) => h("div", { class: "feature card" }, h("h3", {}, title), h("p", {}, text));
  const step = (n: number, title: string, body: (Node | string)[]) =>
    h("li", { class: "step" }, h("span", { class: "step-n", "aria-hidden": "true" }, String(n)), h("div", {}, h("h3", {}, title), h("p", {}, ...body)));
  const cmd = (text: string) => h("code", {}, text);

  main.append(
    h(
      "section",
      { class: "hero" },
      h("p", { class: "eyebrow" }, "Self-hosted · outbound-only · open protocol"),
      h("h1", {}, "Your machines and your OpenClaw agents, in a browser tab."),
      h(
        "p",
        { class: "hero-lead" },
        "clawlink gives you a real terminal on any of your machines, from anywhere, without opening a single inbound port. " +
          "A small agent on each machine dials out to your own relay; your browser meets it there.",
      ),
      actions,
      h(
        "pre",
        { class: "hero-term", "aria-label": "Example" },
        h("span", { class: "t-muted" }, "# on the machine: pair once, then stay connected\n"),
        h("span", { class: "t-prompt" }, "$ "),
        "clawlink pair ABCD2345 --api ",
        location.origin,
        "/functions/v1\n",
        h("span", { class: "t-prompt" }, "$ "),
        "clawlink up\n",
        h("span", { class: "t-ok" }, "connected to relay · waiting for sessions"),
      ),
    ),
    h(
      "section",
      { class: "features", "aria-label": "What you get" },
      feature(
        "No inbound port",
        "The agent only makes outbound WebSocket connections. No VPN, no SSH keys, no port forwarding: it works behind NAT and firewalls.",
      ),
      feature(
        "A real terminal",
        "xterm.js in the browser on a real PTY: colours, resize, copy and paste, and sessions that resume after a dropped connection without losing output.",
      ),
      feature(
        "OpenClaw agents",
        "A machine running an OpenClaw gateway becomes a node: chat with it, watch its health, restart it and run its workflows from the browser.",
      ),
      feature(
        "Your relay, your data",
        "One binary with an embedded database. Terminal content is forwarded, never stored; only session metadata is kept.",
      ),
      feature(
        "Teams",
        "Projects group devices. Invite people by email; members open terminals, owners manage devices and the team.",
      ),
      feature(
        "Live status",
        "The dashboard shows each device coming online or going offline as it happens.",
      ),
    ),
    h(
      "section",
      { class: "getting-started" },
      h("h2", {}, "Get started in four steps"),
      h(
        "ol",
        { class: "steps" },
        step(1, "Create an account", ["Sign up with your email on this relay."]),
        step(2, "Create a project and add a device", [
          "On the dashboard, name a project (say, Home Lab), then add a device to get a one-time pairing code.",
        ]),
        step(3, "Pair the machine", [
          "Install the ",
          cmd("clawlink"),
          " agent on it and run the ",
          cmd("clawlink pair"),
          " command the app shows you, then ",
          cmd("clawlink up"),
          ".",
        ]),
        step(4, "Open a terminal", ["The device turns online. Click Open terminal: you have a shell."]),
      ),
      h(
        "p",
        {},
        h("a", { href: "/docs", "data-link": true, "data-testid": "landing-docs" }, "Read the setup guide →"),
      ),
    ),
  );
};

export default page;

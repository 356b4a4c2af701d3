// /docs: how to install the agent, pair a machine with this relay and
// keep it connected; OpenClaw in short; where the machine-readable docs
// are. Commands use this page's origin, so they are right for this relay.
import { get } from "../api";
import { shell } from "../layout";
import type { Page } from "../router";
import { currentUser } from "../session";
import { copyBlock, h } from "../ui";
import "./docs.css";
import { installCommand, pairCommand } from "../commands";

interface DownloadInfo {
  platform: string | null;
  available?: boolean;
  host_platform?: string;
  platforms?: string[];
  message?: string;
  build?: { requirements?: string; steps?: string[] };
}

const page: Page = (root) => {
  const main = shell(root, [["Docs", null]]);
  main.classList.add("docs");
  const origin = location.origin;
  const api = `${origin}/functions/v1`;
  const c = (t: string) => h("code", {}, t);
  const sec = (id: string, title: string, ...body: (Node | string)[]) =>
    h("section", { id, "aria-labelledby": `${id}-h` }, h("h2", { id: `${id}-h` }, title), ...body);

  const downloads = h("div", { class: "downloads", "data-testid": "docs-downloads" });
  const dl = (platform: string) =>
    h(
      "a",
      {
        class: "btn",
        href: `/functions/v1/download-connector?platform=${encodeURIComponent(platform)}`,
        download: `clawlink-${platform}`,
        "data-testid": `docs-download-${platform}`,
      },
      `Download for ${platform}`,
    );

  const installCmd = h("div", {});
  const setInstall = (platform: string) =>
    installCmd.replaceChildren(
      copyBlock(`chmod +x clawlink-${platform} && sudo mv clawlink-${platform} /usr/local/bin/clawlink`, "docs-install-cmd"),
    );
  setInstall("PLATFORM");
  const fromSource = h(
    "p",
    { class: "muted" },
    "Or build it from source: ",
    c("cmake -S . -B build && cmake --build build --target clawlink"),
    " in a clawlink checkout (Debian 12: ",
    c("scripts/install-deps"),
    " installs what the build needs).",
  );

  const toc: [string, string][] = [
    ["how", "How it works"],
    ["install", "1. Install the agent"],
    ["pair", "2. Pair the machine"],
    ["up", "3. Connect and stay connected"],
    ["options", "Agent options"],
    ["openclaw", "OpenClaw agents"],
    ["machine", "Machine-readable docs"],
  ];

  main.append(
    h(
      "div",
      { class: "docs-layout" },
      h(
        "nav",
        { class: "docs-toc", "aria-label": "On this page" },
        h(
          "ul",
          {},
          toc.map(([id, t]) =>
            h(
              "li",
              {},
              h(
                "a",
                {
                  href: `#${id}`,
                  // Scrolls here rather than letting a fragment navigation
                  // fire popstate (which would render the page again).
                  onclick: (e: Event) => {
                    e.preventDefault();
                    history.replaceState(null, "", `#${id}`);
                    document.getElementById(id)?.scrollIntoView({ behavior: "smooth" });
                  },
                },
                t,
              ),
            ),
          ),
        ),
      ),
      h(
        "article",
        { class: "docs-body" },
        h("h1", {}, "Set up a machine"),
        h(
          "p",
          { class: "lead" },
          "One command puts a machine on this relay: it installs the agent, pairs it with a one-time code and starts it as a service. " +
            "You need an account, a project and a device in it first: the dashboard walks you through them.",
        ),
        sec(
          "how",
          "How it works",
          h(
            "p",
            {},
            "The ",
            c("clawlink"),
            " agent on your machine opens one outbound WebSocket to this relay (",
            c(origin),
            ") and keeps it open. When you open a terminal in the browser, the relay asks the agent for a shell, " +
              "and the agent starts a real PTY. Nothing listens on the machine; if the link drops, the agent reconnects " +
              "with backoff and your session resumes where it was.",
          ),
        ),
        sec(
          "install",
          "1. Install the agent",
          h(
            "p",
            {},
            "On the machine, with the pairing code from ",
            h("strong", {}, "Add device"),
            " (the relay's installer downloads the agent with the code, checks its SHA-256, installs it to ",
            c("/usr/local/bin"),
            " as root or ",
            c("~/.local/bin"),
            ", pairs, and installs the service):",
          ),
          copyBlock(installCommand("<CODE>", "my-server"), "docs-install-cmd"),
          h("p", {}, "Or by hand: download the agent for the machine's platform (as ", c("uname -sm"), " names it), make it executable and put it on the PATH:"),
          downloads,
          installCmd,
          fromSource,
        ),
        sec(
          "pair",
          "2. Pair the machine",
          h(
            "p",
            {},
            "In your project, choose ",
            h("strong", {}, "Add device"),
            ". The app shows a one-time pairing code (8 characters, valid 15 minutes) and the exact command; on the machine run:",
          ),
          copyBlock(pairCommand("<CODE>", "my-server"), "docs-pair-cmd"),
          h(
            "p",
            { class: "muted" },
            "The agent trades the code for its own device token and saves it in ",
            c("~/.config/clawlink/agent.json"),
            " (mode 0600). ",
            c("--name"),
            " defaults to the host name. The code works once; the project owner can make a new one from the device's page to pair again.",
          ),
        ),
        sec(
          "up",
          "3. Connect and stay connected",
          copyBlock("clawlink up", "docs-up-cmd"),
          h("p", {}, "The device turns ", h("span", { class: "badge online" }, "online"), " on the dashboard; choose Open terminal."),
          h(
            "p",
            {},
            "To keep it running, at boot and after you log out, let it install itself as a systemd service " +
              "(a system unit as root, else a user unit with lingering; it refuses a binary other users could replace):",
          ),
          copyBlock("clawlink service install", "docs-service-cmd"),
          h("p", {}, c("clawlink service status"), " shows it; ", c("clawlink service uninstall"), " removes it."),
          h("p", {}, c("clawlink status"), " shows the config, whether the relay answers, and any OpenClaw gateway found."),
        ),
        sec(
          "options",
          "Agent options",
          h(
            "div",
            { class: "table-wrap" },
            h(
              "table",
              { class: "list" },
              h("thead", {}, h("tr", {}, h("th", {}, "option"), h("th", {}, "default"), h("th", {}, "what it does"))),
              h(
                "tbody",
                {},
                (
                  [
                    ["--config PATH", "~/.config/clawlink/agent.json", "where pairing writes and up reads the device's credentials"],
                    ["--shell PATH", "$SHELL, else /bin/sh", "the login shell started for each terminal"],
                    ["--ring-size BYTES", "2M", "recent output kept per session for resume and replay (64K–256M)"],
                    ["--window BYTES", "1M", "output a session may run ahead of its viewers before the program waits"],
                    ["--idle-grace SECS", "1800", "a session nobody watches ends after this long (0 = never)"],
                    ["--ping-interval SECS", "20", "ping a silent relay link; drop it after two silent intervals"],
                    ["--proto 1|2", "2", "highest protocol: 2 sends output as binary frames, 1 as PrivaClaw's JSON"],
                    ["--pass-env NAMES", "—", "more of the agent's environment for the shells (they get a login's); never the gateway token"],
                    ["--ca-file PEM", "system CAs", "trust this CA for a wss:// relay with its own certificate"],
                    ["--log-level LEVEL", "info", "debug, info, warn or error"],
                  ] as const
                ).map(([o, d, w]) => h("tr", {}, h("td", {}, c(o)), h("td", {}, c(d)), h("td", {}, w))),
              ),
            ),
          ),
          h("p", { class: "muted" }, "PrivaClaw's connector form works too: ", c(`clawlink --pair <CODE> --api ${api}`), "."),
        ),
        sec(
          "openclaw",
          "OpenClaw agents",
          h(
            "p",
            {},
            "If the machine runs an OpenClaw gateway, ",
            c("clawlink up"),
            " also connects to it (loopback only) and the device becomes an OpenClaw node: its page shows the gateway's health, " +
              "a chat panel that streams the reply, restart for owners, and the workflows you can run.",
          ),
          h(
            "p",
            {},
            "The agent finds the gateway from ",
            c("OPENCLAW_GATEWAY_URL"),
            " / ",
            c("OPENCLAW_GATEWAY_TOKEN"),
            ", else OpenClaw's own ",
            c("~/.openclaw/openclaw.json"),
            ", else the ",
            c("openclaw"),
            " section of the agent config. What the relay may ask is limited by ",
            c("capabilities"),
            " in the agent config (",
            c("terminal, chat, status, restart, workflow"),
            "; without it, everything but restart). Nothing else leaves the machine.",
          ),
          h(
            "p",
            {},
            h("a", { href: "/skill/privaclaw", "data-link": true, "data-testid": "docs-skill-link" }, "OpenClaw nodes"),
            " lists your nodes with their health and walks through connecting one, with the config to copy.",
          ),
        ),
        sec(
          "machine",
          "Machine-readable docs",
          h(
            "ul",
            {},
            h("li", {}, h("a", { href: "/llms.txt", "data-testid": "docs-llms" }, "/llms.txt"), " — the short version, for AI agents"),
            h("li", {}, h("a", { href: "/llms-full.txt", "data-testid": "docs-llms-full" }, "/llms-full.txt"), " — everything in one file"),
            h(
              "li",
              {},
              h("a", { href: "/api/v1/openapi.json", "data-testid": "docs-openapi" }, "/api/v1/openapi.json"),
              " — the HTTP API (OpenAPI 3.1)",
            ),
          ),
        ),
      ),
    ),
  );

  // Which binaries this relay has: only a signed-in user may ask.
  if (currentUser()) {
    downloads.append(h("span", { class: "muted" }, "Looking for downloads…"));
    get<DownloadInfo>("/functions/v1/download-connector")
      .then((info) => {
        const plats = info.platforms ?? [];
        downloads.replaceChildren(
          ...(plats.length
            ? plats.map(dl)
            : [h("p", { class: "muted" }, "This relay has no agent binaries to download: build the agent from source (below).")]),
        );
        if (plats.length === 1) setInstall(plats[0]);
        if (info.build?.steps?.length) {
          fromSource.hidden = true;
          downloads.append(
            h(
              "details",
              { class: "build-steps" },
              h("summary", {}, "Build from source"),
              info.build.requirements ? h("p", { class: "muted" }, info.build.requirements) : null,
              h("ol", { class: "build-list" }, info.build.steps.map((st) => h("li", {}, c(st)))),
            ),
          );
        }
      })
      .catch(() =>
        downloads.replaceChildren(h("p", { class: "muted" }, "The list of downloads could not be loaded; reload to try again.")),
      );
  } else {
    downloads.append(
      h(
        "p",
        { class: "muted" },
        h("a", { href: "/auth?next=%2Fdocs", "data-link": true, "data-testid": "docs-signin" }, "Sign in"),
        " to download the agent from this relay.",
      ),
    );
  }

  // Anchors: the router leaves #links alone; scroll to one given in the URL.
  if (location.hash) requestAnimationFrame(() => document.getElementById(location.hash.slice(1))?.scrollIntoView());
};

export default page;

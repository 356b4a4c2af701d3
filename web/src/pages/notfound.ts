// Any path the app does not know.
import { shell } from "../layout";
import type { Page } from "../router";
import { currentUser } from "../session";
import { h } from "../ui";

const page: Page = (root) => {
  const main = shell(root, [["Not found", null]]);
  const user = currentUser();
  main.append(
    h(
      "div",
      { class: "notfound", "data-testid": "notfound" },
      h("p", { class: "notfound-code", "aria-hidden": "true" }, "404"),
      h("h1", {}, "This page does not exist"),
      h("p", { class: "muted" }, "The address ", h("code", {}, location.pathname), " matches nothing here. It may have moved, or the link has a typo."),
      h(
        "div",
        { class: "row center" },
        user
          ? h("a", { href: "/dashboard", class: "btn primary", "data-link": true }, "Go to dashboard")
          : h("a", { href: "/", class: "btn primary", "data-link": true }, "Go to the home page"),
        h("a", { href: "/docs", class: "btn", "data-link": true }, "Read the docs"),
      ),
    ),
  );
};

export default page;

// /verify-email: the page the mailed confirmation link opens. The token
// rides in the fragment (#token=…), which the browser never sends to a
// server; the page reads it, clears it from the address bar at once, and
// hands it to POST /api/v1/auth/verify-email. Signed in or not: the token
// is the credential, as the reset link's is.
import { ApiError, post } from "../api";
import { resendVerification, shell } from "../layout";
import type { Page } from "../router";
import { currentUser, loadSession } from "../session";
import { h } from "../ui";
import { errorText } from "./forms";

const page: Page = (root) => {
  const token = new URLSearchParams(location.hash.slice(1)).get("token");
  if (location.hash) history.replaceState(null, "", location.pathname + location.search);
  const main = shell(root, [["Confirm email", null]]);
  const card = h("div", { class: "card auth-card" }, h("h1", {}, "Confirm your email address"));
  main.append(h("div", { class: "auth-box" }, card));
  const status = h("p", { class: "muted", role: "status", "data-testid": "verify-status" }, "Confirming…");
  card.append(status);
  if (!token) {
    failed("This page needs the link from the confirmation mail, whole.", false);
    return;
  }
  void (async () => {
    try {
      const r = await post<{ ok: boolean; email: string }>("/api/v1/auth/verify-email", { token });
      await loadSession().catch(() => null); // the banner goes
      const signedIn = !!currentUser();
      shell(root, [["Confirm email", null]]).append(
        h(
          "div",
          { class: "auth-box" },
          h(
            "div",
            { class: "card auth-card" },
            h("h1", {}, "Address confirmed"),
            h("p", { class: "form-msg form-msg-ok", role: "status", "data-testid": "verify-ok" }, `${r.email} is confirmed.`),
            h("p", { class: "muted" }, "Invitations to this address now show on your Invitations page, for you to accept or decline."),
            h(
              "a",
              { href: signedIn ? "/invitations" : "/auth?next=%2Finvitations", class: "btn primary", "data-link": true, "data-testid": "verify-invitations" },
              signedIn ? "See your invitations" : "Sign in to see your invitations",
            ),
          ),
        ),
      );
    } catch (e) {
      const expired = e instanceof ApiError && e.code === "token_expired";
      failed(expired ? "This link has expired." : errorText(e), true);
    }
  })();

  function failed(text: string, offerResend: boolean): void {
    status.replaceWith(
      h("p", { class: "form-msg", role: "alert", "data-testid": "verify-error" }, text),
      h(
        "p",
        { class: "muted" },
        "Links work once, for 24 hours. ",
        offerResend && currentUser()
          ? h("button", { type: "button", class: "link", "data-testid": "verify-resend-page", onclick: () => void resendVerification() }, "Send a new link")
          : "Sign in to ask for a new one.",
      ),
    );
  }
};

export default page;

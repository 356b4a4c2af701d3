// /reset-password: without a token, ask for the email (the relay answers
// the same whether or not an account has it, and so does this page); with
// the mailed link's #token=…, read it, clear it from the address bar at
// once, and ask for the new password.
import { ApiError, post } from "../api";
import { shell } from "../layout";
import type { Page } from "../router";
import { clearSession } from "../session";
import { field, formMessage, h } from "../ui";
import { checkEmail, checkPassword, errorText } from "./forms";

const page: Page = (root) => {
  const token = new URLSearchParams(location.hash.slice(1)).get("token");
  if (location.hash) history.replaceState(null, "", location.pathname + location.search);
  const main = shell(root, [["Reset password", null]]);
  const box = h("div", { class: "auth-box" });
  main.append(box);
  if (token) newPasswordForm(box, token);
  else requestForm(box);
};

function requestForm(box: HTMLElement): void {
  const email = h("input", { type: "email", autocomplete: "username", "data-testid": "reset-email", required: true });
  const submit = h("button", { type: "submit", class: "primary wide", "data-testid": "reset-submit" }, "Send reset link");
  const msg = formMessage("reset-message");
  const form = h(
    "form",
    { novalidate: true },
    field("Email", email, "The address you signed up with."),
    submit,
    msg,
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const em = email.value.trim();
    const bad = checkEmail(em);
    if (bad) {
      email.setAttribute("aria-invalid", "true");
      email.focus();
      return msg.set(bad);
    }
    email.removeAttribute("aria-invalid");
    submit.disabled = true;
    msg.set("");
    try {
      await post("/api/v1/auth/password-reset", { email: em });
      form.replaceChildren(
        h(
          "p",
          { class: "form-msg form-msg-ok", role: "status", "data-testid": "reset-sent" },
          "If an account exists for that address, a link to set a new password is on its way. " +
            "It works once, for 30 minutes.",
        ),
        h(
          "p",
          { class: "muted small" },
          "No mail? On a relay without SMTP the operator finds it in the relay's outbox directory.",
        ),
      );
    } catch (err) {
      submit.disabled = false;
      msg.set(errorText(err));
    }
  });
  box.append(
    h(
      "div",
      { class: "card auth-card" },
      h("h1", {}, "Reset your password"),
      h("p", { class: "muted" }, "We'll send you a link to choose a new one."),
      form,
      h("p", { class: "auth-foot" }, h("a", { href: "/auth", "data-link": true }, "Back to sign in")),
    ),
  );
  email.focus();
}

function newPasswordForm(box: HTMLElement, token: string): void {
  const pw = h("input", {
    type: "password",
    autocomplete: "new-password",
    "data-testid": "reset-new-password",
    required: true,
    minlength: 8,
  });
  const pw2 = h("input", {
    type: "password",
    autocomplete: "new-password",
    "data-testid": "reset-confirm-password",
    required: true,
  });
  const submit = h("button", { type: "submit", class: "primary wide", "data-testid": "reset-submit" }, "Set password");
  const msg = formMessage("reset-message");
  const form = h(
    "form",
    { novalidate: true },
    field("New password", pw, "At least 8 characters."),
    field("Repeat the new password", pw2),
    submit,
    msg,
  );
  const card = h(
    "div",
    { class: "card auth-card" },
    h("h1", {}, "Choose a new password"),
    h("p", { class: "muted" }, "Every device signed in to your account will be signed out."),
    form,
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const bad = checkPassword(pw.value);
    if (bad) {
      pw.setAttribute("aria-invalid", "true");
      pw.focus();
      return msg.set(bad);
    }
    pw.removeAttribute("aria-invalid");
    if (pw.value !== pw2.value) {
      pw2.setAttribute("aria-invalid", "true");
      pw2.focus();
      return msg.set("The two passwords differ.");
    }
    pw2.removeAttribute("aria-invalid");
    submit.disabled = true;
    msg.set("");
    try {
      await post("/api/v1/auth/password-reset/confirm", { token, new_password: pw.value });
      clearSession(); // every session of the account was revoked
      form.replaceChildren(
        h("p", { class: "form-msg form-msg-ok", role: "status", "data-testid": "reset-done" }, "Your password is set."),
        h("a", { href: "/auth", class: "btn primary", "data-link": true, "data-testid": "reset-signin" }, "Sign in"),
      );
    } catch (err) {
      submit.disabled = false;
      if (err instanceof ApiError && (err.code === "invalid_token" || err.code === "token_expired")) {
        form.replaceChildren(
          h(
            "p",
            { class: "form-msg form-msg-error", role: "alert", "data-testid": "reset-message" },
            err.code === "token_expired"
              ? "This link has expired (links work for 30 minutes). Ask for a new one."
              : "This link is not valid or was already used. Ask for a new one.",
          ),
          h(
            "a",
            { href: "/reset-password", class: "btn primary", "data-link": true, "data-testid": "reset-again" },
            "Send a new link",
          ),
        );
        return;
      }
      msg.set(errorText(err));
    }
  });
  box.append(card);
  pw.focus();
}

export default page;

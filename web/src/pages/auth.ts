// /auth: sign in and sign up (tabs), ?next= to come back to where the
// sign-in guard sent the user from, and the one-time sign-in link that
// `make run` prints (/auth#one-time=<code>: a fragment, never sent to the
// relay or written to its logs; read here, cleared at once, traded for a
// session cookie over POST).
import { ApiError, post } from "../api";
import { shell } from "../layout";
import { navigate, type Page } from "../router";
import { currentUser, setSession, type SessionInfo } from "../session";
import { byteLength, field, formMessage, h } from "../ui";
import { checkEmail, checkName, checkPassword, errorText, safeNext } from "./forms";

type Mode = "signin" | "signup";

const page: Page = (root) => {
  const params = new URLSearchParams(location.search);
  const next = safeNext(params.get("next"));
  const oneTime = new URLSearchParams(location.hash.slice(1)).get("one-time");
  if (location.hash) history.replaceState(null, "", location.pathname + location.search);

  const main = shell(root, [["Sign in", null]]);
  const box = h("div", { class: "auth-box" });
  main.append(box);

  if (oneTime) {
    void useOneTime(box, oneTime, next);
    return;
  }
  if (currentUser()) {
    navigate(next, true);
    return;
  }

  let timer: ReturnType<typeof setInterval> | null = null;
  let mode: Mode = params.get("mode") === "signup" ? "signup" : "signin";

  const email = h("input", {
    type: "email",
    name: "email",
    autocomplete: "username",
    inputmode: "email",
    "data-testid": "auth-email",
    required: true,
  });
  const password = h("input", {
    type: "password",
    name: "password",
    "data-testid": "auth-password",
    required: true,
    minlength: 8,
  });
  const name = h("input", {
    type: "text",
    name: "display_name",
    autocomplete: "nickname",
    "data-testid": "auth-name",
    maxlength: 128,
  });
  const nameField = field("Display name (optional)", name);
  const pwField = field("Password", password);
  const pwHint = h("div", { class: "hint", id: "auth-pw-hint" }, "At least 8 characters.");
  const submit = h("button", { type: "submit", class: "primary wide", "data-testid": "auth-submit" });
  const msg = formMessage("auth-error");
  const title = h("h1", {});
  const lead = h("p", { class: "muted" });

  const tabSignin = h(
    "button",
    { type: "button", class: "tab", role: "tab", id: "tab-signin", "aria-controls": "auth-form", "data-testid": "auth-tab-signin" },
    "Sign in",
  );
  const tabSignup = h(
    "button",
    { type: "button", class: "tab", role: "tab", id: "tab-signup", "aria-controls": "auth-form", "data-testid": "auth-tab-signup" },
    "Create account",
  );
  const forgot = h(
    "a",
    { href: "/reset-password", "data-link": true, "data-testid": "auth-forgot", class: "small-link" },
    "Forgot your password?",
  );

  const form = h(
    "form",
    { id: "auth-form", novalidate: true, role: "tabpanel", "aria-labelledby": "tab-signin", "data-testid": "auth-form" },
    field("Email", email),
    nameField,
    pwField,
    submit,
    msg,
  );

  function setMode(m: Mode): void {
    mode = m;
    const up = m === "signup";
    tabSignin.setAttribute("aria-selected", String(!up));
    tabSignup.setAttribute("aria-selected", String(up));
    tabSignin.tabIndex = up ? -1 : 0;
    tabSignup.tabIndex = up ? 0 : -1;
    form.setAttribute("aria-labelledby", up ? "tab-signup" : "tab-signin");
    title.textContent = up ? "Create your account" : "Sign in to clawlink";
    lead.textContent = up
      ? "One account for your projects, devices and terminals on this relay."
      : "Welcome back. Your machines are waiting.";
    nameField.hidden = !up;
    password.autocomplete = up ? "new-password" : "current-password";
    if (up) {
      pwField.append(pwHint);
      password.setAttribute("aria-describedby", pwHint.id);
    } else {
      pwHint.remove();
      password.removeAttribute("aria-describedby");
    }
    forgot.hidden = up;
    submit.textContent = up ? "Create account" : "Sign in";
    msg.set("");
    for (const el of [email, password, name]) el.removeAttribute("aria-invalid");
  }

  function invalid(el: HTMLInputElement, text: string): void {
    el.setAttribute("aria-invalid", "true");
    el.focus();
    msg.set(text);
  }

  function cooldown(seconds: number): void {
    let left = Math.max(1, Math.ceil(seconds));
    submit.disabled = true;
    const show = () => msg.set(`Too many attempts. Try again in ${left} s.`);
    show();
    if (timer) clearInterval(timer);
    timer = setInterval(() => {
      left--;
      if (left <= 0) {
        if (timer) clearInterval(timer);
        timer = null;
        submit.disabled = false;
        msg.set("");
      } else show();
    }, 1000);
  }

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (submit.disabled) return;
    for (const el of [email, password, name]) el.removeAttribute("aria-invalid");
    const em = email.value.trim();
    const pw = password.value;
    const dn = name.value.trim();
    const eErr = checkEmail(em);
    if (eErr) return invalid(email, eErr);
    if (mode === "signup") {
      const nErr = checkName(dn);
      if (nErr) return invalid(name, nErr);
      const pErr = checkPassword(pw);
      if (pErr) return invalid(password, pErr);
    } else if (!pw) return invalid(password, "Enter your password.");
    else if (byteLength(pw) > 1024) return invalid(password, "That password is too long (at most 1024 bytes).");

    submit.disabled = true;
    submit.setAttribute("aria-busy", "true");
    msg.set("");
    try {
      const body: Record<string, string> = { email: em, password: pw };
      if (mode === "signup" && dn) body.display_name = dn;
      const answer = await post<SessionInfo>(mode === "signup" ? "/api/v1/auth/signup" : "/api/v1/auth/login", body);
      setSession(answer);
      navigate(next, true);
      return;
    } catch (err) {
      submit.removeAttribute("aria-busy");
      submit.disabled = false;
      if (err instanceof ApiError && err.status === 429) return cooldown(err.retryAfter ?? 60);
      if (err instanceof ApiError && err.code === "invalid_credentials") {
        password.value = "";
        return invalid(password, "Wrong email or password.");
      }
      if (err instanceof ApiError && err.code === "email_taken") {
        email.setAttribute("aria-invalid", "true");
        msg.replaceChildren(
          "An account with this email already exists. ",
          h("button", { type: "button", class: "link", onclick: () => setMode("signin") }, "Sign in instead"),
        );
        msg.className = "form-msg form-msg-error";
        return;
      }
      msg.set(errorText(err));
    }
  });

  tabSignin.addEventListener("click", () => setMode("signin"));
  tabSignup.addEventListener("click", () => setMode("signup"));
  // Arrow keys move between the two tabs (the ARIA tabs pattern).
  const tabs = h("div", { class: "tabs", role: "tablist", "aria-label": "Sign in or create an account" }, tabSignin, tabSignup);
  tabs.addEventListener("keydown", (e) => {
    if (e.key !== "ArrowLeft" && e.key !== "ArrowRight") return;
    setMode(mode === "signin" ? "signup" : "signin");
    (mode === "signin" ? tabSignin : tabSignup).focus();
  });

  box.append(h("div", { class: "card auth-card" }, title, lead, tabs, form, h("p", { class: "auth-foot" }, forgot)));
  setMode(mode);
  email.focus();

  return () => {
    if (timer) clearInterval(timer);
  };
};

// Trades the one-time code for a session; the code was already removed
// from the address bar.
async function useOneTime(box: HTMLElement, code: string, next: string): Promise<void> {
  const status = h("p", { class: "muted", role: "status", "data-testid": "one-time-status" }, "Signing you in…");
  box.append(h("div", { class: "card auth-card" }, h("h1", {}, "One-time sign-in"), status));
  try {
    const answer = await post<SessionInfo>("/api/v1/auth/one-time", { code });
    setSession(answer);
    navigate(next, true);
  } catch (err) {
    status.className = "form-msg form-msg-error";
    status.setAttribute("role", "alert");
    status.setAttribute("data-testid", "one-time-error");
    if (err instanceof ApiError && (err.code === "invalid_code" || err.status === 401)) {
      status.replaceChildren(
        "This sign-in link has already been used or has expired. Each link works once, for a few minutes. " +
          "Sign in with your email and password, or get a new link on the relay's machine: ",
        h("code", {}, "make login"),
        " (or ",
        h("code", {}, "clawlink-relay login-link --data DIR"),
        ").",
      );
    } else status.textContent = errorText(err);
    box.firstElementChild?.append(
      h("p", {}, h("a", { href: "/auth", class: "btn primary", "data-link": true }, "Sign in with email")),
    );
  }
}

export default page;

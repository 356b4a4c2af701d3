// Checks the account forms run before asking the relay: the same rules
// the relay applies (docs/api.md, "Accounts" and "Profile"), so a person
// hears about a short password at once; the relay checks again anyway.
import { ApiError } from "../api";
import { byteLength, h } from "../ui";

export const PASSWORD_MIN = 8; // CL_PASSWORD_MIN (bytes)
export const PASSWORD_MAX = 1024; // CL_PASSWORD_MAX
export const EMAIL_MIN = 3;
export const EMAIL_MAX = 254;
export const NAME_MAX = 128; // CL_NAME_MAX

// null when fine, else what to tell the person.
export function checkEmail(email: string): string | null {
  if (!email) return "Enter your email address.";
  const n = byteLength(email);
  const at = email.indexOf("@");
  if (n < EMAIL_MIN || n > EMAIL_MAX || at <= 0 || at === email.length - 1 || /\s/.test(email)) {
    return "Enter a valid email address, like you@example.com.";
  }
  return null;
}

export function checkPassword(pw: string): string | null {
  const n = byteLength(pw);
  if (n < PASSWORD_MIN) return `Use at least ${PASSWORD_MIN} characters for the password.`;
  if (n > PASSWORD_MAX) return `That password is too long (at most ${PASSWORD_MAX} bytes).`;
  return null;
}

// A display name (or project/device name when required): at most 128
// bytes, no control characters.
export function checkName(name: string, what = "The display name"): string | null {
  if (byteLength(name) > NAME_MAX) return `${what} is too long (at most ${NAME_MAX} bytes).`;
  if (/[\u0000-\u001f\u007f]/.test(name)) return `${what} cannot contain control characters.`;
  return null;
}

// A relay error as a sentence for a person.
export function errorText(err: unknown): string {
  if (err instanceof ApiError) {
    if (err.status === 429) {
      return err.retryAfter
        ? `Too many attempts. Try again in ${Math.ceil(err.retryAfter)} s.`
        : "Too many attempts. Try again in a minute.";
    }
    if (err.status === 0) return err.message;
    if (err.status >= 500) return `The relay could not do that (${err.status}). Try again; if it persists, see the relay log.`;
    return err.message || `Request failed (${err.status}).`;
  }
  return err instanceof Error ? err.message : String(err);
}

// What a list shows in place of its items when they could not be loaded:
// the reason, and a button that tries again.
export function loadFailed(err: unknown, retry: () => void): HTMLElement {
  return h(
    "div",
    { class: "empty" },
    h("p", { class: "form-msg form-msg-error", role: "alert" }, errorText(err)),
    h("button", { type: "button", onclick: retry }, "Try again"),
  );
}

// The page to go to after signing in: ?next= when it is a path on this
// origin ("/project/x"), never another site ("//evil", "https://…",
// "/\evil"), never the sign-in page itself.
export function safeNext(raw: string | null): string {
  const fallback = "/dashboard";
  if (!raw || !raw.startsWith("/") || raw.startsWith("//") || raw.startsWith("/\\")) return fallback;
  try {
    const u = new URL(raw, location.origin);
    if (u.origin !== location.origin) return fallback;
    if (u.pathname === "/auth" || u.pathname === "/reset-password") return fallback;
    return u.pathname + u.search + u.hash;
  } catch {
    return fallback;
  }
}

// /settings: profile (display name), password change, the terminal's
// renderer and font size (this browser's, in localStorage), the account's
// sign-in sessions with revoke, and deleting the account.
import { ApiError, del, get, patch, post, type User } from "../api";
import { shell } from "../layout";
import { navigate, type Page } from "../router";
import { clearSession, currentUser, updateUser } from "../session";
import { dialog, field, fmtAgo, fmtTime, formMessage, h, toast } from "../ui";
import { checkName, checkPassword, errorText } from "./forms";
import { FONT_MAX, FONT_MIN, loadPrefs, savePrefs, type RendererPref } from "../terminal/prefs";
import { chooseRenderer, webglInfo } from "../terminal/renderer";
import "./settings.css";

interface SignIn {
  id: string;
  created_at: number;
  expires_at: number;
  last_used: number | null;
  current: boolean;
}

const page: Page = (root) => {
  const main = shell(root, [["Settings", null]]);
  main.classList.add("settings");
  const user = currentUser()!;
  const sessions = sessionsCard();
  main.append(h("h1", {}, "Settings"), profileCard(user), passwordCard(sessions.reload), terminalCard(), sessions.el, deleteCard());
};

function card(title: string, lead: string | null, ...body: Node[]): HTMLElement {
  const id = "s-" + title.toLowerCase().replace(/[^a-z]+/g, "-");
  return h(
    "section",
    { class: "card settings-card", "aria-labelledby": id },
    h("h2", { id }, title),
    lead ? h("p", { class: "muted" }, lead) : null,
    ...body,
  );
}

function profileCard(user: User): HTMLElement {
  const email = h("input", { type: "email", value: user.email, readonly: true, "data-testid": "settings-email" });
  const name = h("input", {
    type: "text",
    autocomplete: "nickname",
    value: user.display_name ?? "",
    "data-testid": "settings-display-name",
  });
  const save = h("button", { type: "submit", class: "primary", "data-testid": "settings-profile-save" }, "Save profile");
  const msg = formMessage("settings-profile-msg");
  const form = h(
    "form",
    { novalidate: true },
    field("Email", email, "Your sign-in address; it cannot be changed."),
    field("Display name", name, "Shown to the members of your projects."),
    h("div", { class: "row" }, save),
    msg,
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const dn = name.value.trim();
    const bad = checkName(dn);
    if (bad) {
      name.setAttribute("aria-invalid", "true");
      name.focus();
      return msg.set(bad);
    }
    name.removeAttribute("aria-invalid");
    save.disabled = true;
    msg.set("");
    try {
      const { user: u } = await patch<{ user: User }>("/api/v1/me", { display_name: dn });
      updateUser(u);
      name.value = u.display_name ?? "";
      msg.set("Saved.", "ok");
    } catch (err) {
      msg.set(errorText(err));
    } finally {
      save.disabled = false;
    }
  });
  return card("Profile", null, form);
}

// onChanged: the password changed (the other sign-ins are gone).
function passwordCard(onChanged: () => void): HTMLElement {
  const cur = h("input", {
    type: "password",
    autocomplete: "current-password",
    "data-testid": "settings-current-password",
  });
  const pw = h("input", { type: "password", autocomplete: "new-password", "data-testid": "settings-new-password" });
  const pw2 = h("input", { type: "password", autocomplete: "new-password", "data-testid": "settings-confirm-password" });
  const save = h("button", { type: "submit", class: "primary", "data-testid": "settings-password-save" }, "Change password");
  const msg = formMessage("settings-password-msg");
  const form = h(
    "form",
    { novalidate: true },
    // A hidden username helps password managers file the new password.
    h("input", {
      type: "text",
      autocomplete: "username",
      value: currentUser()?.email ?? "",
      hidden: true,
      "aria-hidden": "true",
      tabindex: -1,
    }),
    field("Current password", cur),
    field("New password", pw, "At least 8 characters."),
    field("Repeat the new password", pw2),
    h("div", { class: "row" }, save),
    msg,
  );
  const bad = (el: HTMLInputElement, text: string) => {
    el.setAttribute("aria-invalid", "true");
    el.focus();
    msg.set(text);
  };
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    for (const el of [cur, pw, pw2]) el.removeAttribute("aria-invalid");
    if (!cur.value) return bad(cur, "Enter your current password.");
    const pErr = checkPassword(pw.value);
    if (pErr) return bad(pw, pErr);
    if (pw.value !== pw2.value) return bad(pw2, "The two new passwords differ.");
    save.disabled = true;
    msg.set("");
    try {
      await post("/api/v1/me/password", { current_password: cur.value, new_password: pw.value });
      cur.value = pw.value = pw2.value = "";
      msg.set("Password changed. Your other sign-ins were signed out.", "ok");
      onChanged();
    } catch (err) {
      if (err instanceof ApiError && err.code === "wrong_password") return bad(cur, "The current password is not right.");
      msg.set(errorText(err));
    } finally {
      save.disabled = false;
    }
  });
  return card("Password", "Changing it signs out everywhere else.", form);
}

// The terminal's look in this browser; every open terminal (this tab and
// others) follows a change at once.
function terminalCard(): HTMLElement {
  const prefs = loadPrefs();
  const renderer = h(
    "select",
    { "data-testid": "settings-term-renderer" },
    h("option", { value: "auto" }, "Automatic"),
    h("option", { value: "webgl" }, "WebGL"),
    h("option", { value: "dom" }, "DOM"),
  );
  renderer.value = prefs.renderer;
  const font = h("input", {
    type: "number",
    min: FONT_MIN,
    max: FONT_MAX,
    step: 1,
    inputmode: "numeric",
    value: String(prefs.fontSize),
    "data-testid": "settings-term-font",
  });
  const auto = h("p", { class: "muted small", "data-testid": "settings-term-auto" });
  const msg = formMessage("settings-term-msg");
  const showAuto = () => {
    auto.textContent = `Here the terminal uses ${chooseRenderer(renderer.value as RendererPref, webglInfo()).why}.`;
  };
  showAuto();
  renderer.addEventListener("change", () => {
    savePrefs({ renderer: renderer.value as RendererPref });
    showAuto();
    msg.set("Saved.", "ok");
  });
  font.addEventListener("change", () => {
    const n = Number(font.value);
    if (!font.value || !Number.isFinite(n) || n < FONT_MIN || n > FONT_MAX) {
      font.setAttribute("aria-invalid", "true");
      return msg.set(`The font size is a number from ${FONT_MIN} to ${FONT_MAX}.`);
    }
    font.removeAttribute("aria-invalid");
    font.value = String(savePrefs({ fontSize: n }).fontSize);
    msg.set("Saved.", "ok");
  });
  return card(
    "Terminal",
    "How this browser draws terminals. Stored in this browser only; open terminals change at once.",
    field(
      "Renderer",
      renderer,
      "Automatic takes WebGL where the graphics card draws it and the DOM renderer where WebGL runs in software (it is slower there).",
    ),
    auto,
    field("Font size", font, `In pixels, ${FONT_MIN} to ${FONT_MAX}.`),
    msg,
  );
}

function sessionsCard(): { el: HTMLElement; reload: () => void } {
  const body = h("div", { "data-testid": "settings-sessions", "aria-busy": "true" }, h("p", { class: "muted" }, "Loading…"));
  const msg = formMessage("settings-sessions-msg");

  async function load(): Promise<void> {
    try {
      const { sessions } = await get<{ sessions: SignIn[] }>("/api/v1/me/sessions");
      body.removeAttribute("aria-busy");
      if (!sessions.length) {
        body.replaceChildren(h("p", { class: "muted" }, "No sign-ins."));
        return;
      }
      body.replaceChildren(
        h(
          "ul",
          { class: "signin-list" },
          sessions.map((s) =>
            h(
              "li",
              { class: "signin-row", "data-testid": "settings-session-row", "data-session-id": s.id, "data-current": String(s.current) },
              h(
                "div",
                { class: "signin-main" },
                h(
                  "div",
                  {},
                  h("strong", {}, `Signed in ${fmtAgo(s.created_at)}`),
                  s.current ? h("span", { class: "badge online" }, "this browser") : null,
                ),
                h(
                  "div",
                  { class: "muted small" },
                  `Last used ${s.last_used ? fmtAgo(s.last_used) : "—"} · expires ${fmtTime(s.expires_at)}`,
                ),
              ),
              h(
                "button",
                {
                  type: "button",
                  class: "small danger",
                  "data-testid": "settings-session-revoke",
                  "aria-label": s.current ? "Sign out this browser" : `Revoke the sign-in from ${fmtTime(s.created_at)}`,
                  onclick: () => void revoke(s),
                },
                s.current ? "Sign out" : "Revoke",
              ),
            ),
          ),
        ),
      );
    } catch (err) {
      body.removeAttribute("aria-busy");
      body.replaceChildren(h("p", { class: "form-msg form-msg-error" }, errorText(err)));
    }
  }

  async function revoke(s: SignIn): Promise<void> {
    if (s.current) {
      const ok = await dialog("Sign out this browser?", "You will need to sign in again here.", [
        { label: "Cancel", value: "no" },
        { label: "Sign out", value: "yes", kind: "danger" },
      ]);
      if (ok !== "yes") return;
    }
    msg.set("");
    try {
      await del(`/api/v1/me/sessions/${encodeURIComponent(s.id)}`);
      if (s.current) {
        clearSession();
        navigate("/auth", true);
        return;
      }
      toast("Sign-in revoked", "ok");
      await load();
    } catch (err) {
      msg.set(errorText(err));
    }
  }

  void load();
  const el = card(
    "Where you're signed in",
    "Each sign-in is a session. Revoke one you don't recognise: it stops working at once.",
    body,
    msg,
  );
  return { el, reload: () => void load() };
}

function deleteCard(): HTMLElement {
  const pw = h("input", { type: "password", autocomplete: "current-password", "data-testid": "settings-delete-password" });
  const btn = h("button", { type: "submit", class: "danger", "data-testid": "settings-delete-submit" }, "Delete my account");
  const msg = formMessage("settings-delete-msg");
  const form = h("form", { novalidate: true }, field("Your password", pw, "Needed to delete the account."), h("div", { class: "row" }, btn), msg);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!pw.value) {
      pw.setAttribute("aria-invalid", "true");
      pw.focus();
      return msg.set("Enter your password to delete the account.");
    }
    pw.removeAttribute("aria-invalid");
    const ok = await dialog(
      "Delete your account?",
      "Your projects, their devices and session history go with it, and your live terminals end. This cannot be undone.",
      [
        { label: "Cancel", value: "no" },
        { label: "Delete for good", value: "yes", kind: "danger" },
      ],
    );
    if (ok !== "yes") return;
    btn.disabled = true;
    msg.set("");
    try {
      await post("/api/v1/me/delete", { password: pw.value });
      clearSession();
      toast("Your account was deleted.", "ok");
      navigate("/", true);
    } catch (err) {
      btn.disabled = false;
      if (err instanceof ApiError && err.code === "owns_shared_projects") {
        msg.set(
          "You own a project that has other members. Remove its members or delete the project first " +
            "(ownership cannot be transferred). Nothing was deleted.",
        );
        return;
      }
      if (err instanceof ApiError && err.code === "wrong_password") {
        pw.setAttribute("aria-invalid", "true");
        pw.focus();
        return msg.set("That password is not right. Nothing was deleted.");
      }
      msg.set(errorText(err));
    }
  });
  const c = card(
    "Delete account",
    "Deletes you, the projects you own (with their devices and history) and your memberships. Projects you own may not have other members.",
    form,
  );
  c.classList.add("danger-zone");
  return c;
}

export default page;

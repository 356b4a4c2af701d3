// The "New project" form, one definition for the dashboard and /projects:
// the same name rules (forms.ts checkName, the relay's CL_NAME_MAX) and
// the same messages on both pages. The page decides what to do with the
// project created (onCreated); the form clears itself and toasts.
import { post } from "../api";
import type { Project } from "../models";
import { byteLength, formMessage, h, toast } from "../ui";
import { checkName, errorText } from "./forms";
import "./project-form.css";

// prefix names the controls: `${prefix}-name`, `${prefix}-submit`,
// `${prefix}-form`, `${prefix}-error` (as ids and data-testids), so two
// pages keep the selectors their tests know.
export function projectCreateForm(prefix: string, onCreated: (p: Project) => void): HTMLFormElement {
  const nameInput = h("input", {
    type: "text",
    id: `${prefix}-name`,
    placeholder: "e.g. Home Lab",
    autocomplete: "off",
    "data-testid": `${prefix}-name`,
    "aria-describedby": `${prefix}-msg`,
    required: true,
  });
  const createBtn = h("button", { type: "submit", class: "primary", "data-testid": `${prefix}-submit` }, "Create project");
  const createMsg = formMessage(`${prefix}-error`);
  createMsg.id = `${prefix}-msg`;
  const form = h(
    "form",
    { class: "card create-project", novalidate: true, "data-testid": `${prefix}-form` },
    h("label", { for: `${prefix}-name`, class: "create-label" }, "New project"),
    h("div", { class: "create-row" }, nameInput, createBtn),
    createMsg,
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const name = nameInput.value.trim();
    const bad = !name ? "Give the project a name." : checkName(name, "The name");
    if (bad || byteLength(name) < 1) {
      nameInput.setAttribute("aria-invalid", "true");
      nameInput.focus();
      return createMsg.set(bad ?? "Give the project a name.");
    }
    nameInput.removeAttribute("aria-invalid");
    createBtn.disabled = true;
    createMsg.set("");
    try {
      const { project } = await post<{ project: Project }>("/api/v1/projects", { name });
      nameInput.value = "";
      toast(`Project “${project.name}” created. Add a device to it.`, "ok");
      onCreated(project);
    } catch (err) {
      createMsg.set(errorText(err));
    } finally {
      createBtn.disabled = false;
    }
  });
  return form;
}

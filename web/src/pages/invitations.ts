// /invitations: the invitations to the signed-in user's address (issue 14).
// Nobody joins a project without saying yes here; and only once the
// address is proven (the mailed link), so an invitation reaches whoever
// controls the address, not whoever registered it first.
import { get, post } from "../api";
import { resendVerification, shell } from "../layout";
import { navigate, type Page } from "../router";
import { fmtAgo, fmtTime, h, toast } from "../ui";
import { errorText, loadFailed } from "./forms";

export interface MyInvitation {
  id: string;
  project_id: string;
  project_name: string;
  invited_by: { email: string; display_name: string } | null;
  created_at: number;
}

export interface Inbox {
  email_verified: boolean;
  invitations: MyInvitation[];
}

export const loadInbox = () => get<Inbox>("/api/v1/me/invitations");

const page: Page = (root) => {
  const main = shell(root, [["Invitations", null]]);
  let disposed = false;
  const body = h("div", { "data-testid": "my-invitations", "aria-busy": "true" }, h("p", { class: "muted" }, "Loading…"));
  main.append(h("h1", {}, "Invitations"), body);

  function row(inv: MyInvitation): HTMLElement {
    const by = inv.invited_by ? inv.invited_by.display_name || inv.invited_by.email : "someone whose account is gone";
    const accept = h("button", { type: "button", class: "primary small", "data-testid": "invitation-accept" }, "Accept");
    const decline = h("button", { type: "button", class: "small", "data-testid": "invitation-decline" }, "Decline");
    const li = h(
      "li",
      { class: "card", "data-testid": "invitation-item", "data-invitation-id": inv.id },
      h(
        "div",
        { class: "grow" },
        h("strong", { "data-testid": "invitation-project" }, inv.project_name),
        h("p", { class: "muted small" }, `Invited by ${by}`, inv.invited_by ? ` (${inv.invited_by.email})` : "", " · ", h("span", { title: fmtTime(inv.created_at) }, fmtAgo(inv.created_at))),
      ),
      accept,
      decline,
    );
    const answer = async (verb: "accept" | "decline") => {
      accept.disabled = decline.disabled = true;
      try {
        await post(`/api/v1/me/invitations/${encodeURIComponent(inv.id)}/${verb}`);
        if (verb === "accept") {
          toast(`You joined ${inv.project_name}`, "ok");
          navigate(`/project/${encodeURIComponent(inv.project_id)}`);
        } else {
          toast(`Declined ${inv.project_name}`, "ok");
          void load();
        }
      } catch (e) {
        accept.disabled = decline.disabled = false;
        toast(errorText(e), "error");
        void load();
      }
    };
    accept.addEventListener("click", () => void answer("accept"));
    decline.addEventListener("click", () => void answer("decline"));
    return li;
  }

  async function load(): Promise<void> {
    try {
      const inbox = await loadInbox();
      if (disposed) return;
      body.removeAttribute("aria-busy");
      if (!inbox.email_verified) {
        body.replaceChildren(
          h(
            "div",
            { class: "card", "data-testid": "invitations-unverified" },
            h("p", {}, "Confirm your email address to see the invitations sent to it: open the link we mailed you."),
            h("button", { type: "button", "data-testid": "invitations-resend", onclick: () => void resendVerification() }, "Send a new link"),
          ),
        );
        return;
      }
      body.replaceChildren(
        inbox.invitations.length
          ? h("ul", { class: "invitation-list" }, inbox.invitations.map(row))
          : h("p", { class: "muted", "data-testid": "my-invitations-empty" }, "No pending invitations. When a project's owner invites your address, it shows here."),
      );
    } catch (e) {
      if (!disposed) body.replaceChildren(loadFailed(e, () => void load()));
    }
  }
  void load();
  return () => {
    disposed = true;
  };
};

export default page;

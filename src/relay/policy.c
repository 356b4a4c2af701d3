/* policy: role table and resource checks (seed 001 "Roles & Permissions"). */
#include "relay/policy.h"
#include "core/err.h"
#include "core/secret.h"

#include <stdbool.h>
#include <string.h>

/* The minimum role each action needs on the resource's project. */
static const enum cl_role cl__min_role[CL_ACT__COUNT] = {
    [CL_ACT_PROJECT_VIEW] = CL_ROLE_MEMBER,
    [CL_ACT_PROJECT_MODIFY] = CL_ROLE_OWNER,
    [CL_ACT_DEVICE_ADD] = CL_ROLE_OWNER,
    [CL_ACT_DEVICE_VIEW] = CL_ROLE_MEMBER,
    [CL_ACT_DEVICE_MODIFY] = CL_ROLE_OWNER,
    [CL_ACT_SESSION_START] = CL_ROLE_MEMBER,
    [CL_ACT_SESSION_ATTACH] = CL_ROLE_MEMBER,
    [CL_ACT_SESSION_END] = CL_ROLE_MEMBER,
    [CL_ACT_MEMBER_INVITE] = CL_ROLE_OWNER,
    [CL_ACT_SESSION_SHARE] = CL_ROLE_MEMBER,
    /* seed 001: members view team members; RLS: invitations and sessions
     * are visible to project members; only owners remove or cancel */
    [CL_ACT_MEMBER_LIST] = CL_ROLE_MEMBER,
    [CL_ACT_MEMBER_REMOVE] = CL_ROLE_OWNER,
    [CL_ACT_INVITATION_LIST] = CL_ROLE_MEMBER,
    [CL_ACT_INVITATION_CANCEL] = CL_ROLE_OWNER,
    [CL_ACT_SESSION_HISTORY] = CL_ROLE_MEMBER,
    /* Realtime replaces Supabase Realtime, which the seed's RLS scopes to
     * project members: what a member may read, a member hears of */
    [CL_ACT_PROJECT_EVENTS] = CL_ROLE_MEMBER,
    /* issue 6: members may prompt, read status and run workflows; only
     * owners restart a node's gateway */
    [CL_ACT_NODE_PROMPT] = CL_ROLE_MEMBER,
    [CL_ACT_NODE_STATUS] = CL_ROLE_MEMBER,
    [CL_ACT_NODE_RESTART] = CL_ROLE_OWNER,
    [CL_ACT_NODE_WORKFLOW] = CL_ROLE_MEMBER,
    /* issue 13: as ending (the starter, or the owner: cl_policy_session) */
    [CL_ACT_SESSION_RENAME] = CL_ROLE_MEMBER,
    /* issue 14: anyone may leave; the last owner is refused by the store */
    [CL_ACT_MEMBER_LEAVE] = CL_ROLE_MEMBER,
    /* issue 15: whoever may start a terminal session on the device may
     * chat with its agent (a terminal is more power than chat): the same
     * role as CL_ACT_SESSION_START, for every route of the chat API, reads
     * included (a conversation read is no less private than one written;
     * docs/security.md "Chat"). test_policy checks the two agree. */
    [CL_ACT_CHAT] = CL_ROLE_MEMBER,
};

/* Actions on a user's own things, not on a project: no role grants them. */
static bool cl__account_action(enum cl_action a)
{
    return a == CL_ACT_ACCOUNT_MANAGE || a == CL_ACT_TOKEN_REVOKE || a == CL_ACT_NODES_LIST ||
           a == CL_ACT_CONNECTOR_DOWNLOAD || a == CL_ACT_EMAIL_VERIFY ||
           a == CL_ACT_INVITATION_INBOX || a == CL_ACT_INVITATION_RESPOND;
}

static const char *const cl__action_names[CL_ACT__COUNT] = {
    [CL_ACT_PROJECT_VIEW] = "project.view",
    [CL_ACT_PROJECT_MODIFY] = "project.modify",
    [CL_ACT_DEVICE_ADD] = "device.add",
    [CL_ACT_DEVICE_VIEW] = "device.view",
    [CL_ACT_DEVICE_MODIFY] = "device.modify",
    [CL_ACT_SESSION_START] = "session.start",
    [CL_ACT_SESSION_ATTACH] = "session.attach",
    [CL_ACT_SESSION_END] = "session.end",
    [CL_ACT_MEMBER_INVITE] = "member.invite",
    [CL_ACT_SESSION_SHARE] = "session.share",
    [CL_ACT_ACCOUNT_MANAGE] = "account.manage",
    [CL_ACT_TOKEN_REVOKE] = "token.revoke",
    [CL_ACT_MEMBER_LIST] = "member.list",
    [CL_ACT_MEMBER_REMOVE] = "member.remove",
    [CL_ACT_INVITATION_LIST] = "invitation.list",
    [CL_ACT_INVITATION_CANCEL] = "invitation.cancel",
    [CL_ACT_SESSION_HISTORY] = "session.history",
    [CL_ACT_NODES_LIST] = "nodes.list",
    [CL_ACT_CONNECTOR_DOWNLOAD] = "connector.download",
    [CL_ACT_PROJECT_EVENTS] = "project.events",
    [CL_ACT_NODE_PROMPT] = "node.prompt",
    [CL_ACT_NODE_STATUS] = "node.status",
    [CL_ACT_NODE_RESTART] = "node.restart",
    [CL_ACT_NODE_WORKFLOW] = "node.workflow",
    [CL_ACT_SESSION_RENAME] = "session.rename",
    [CL_ACT_MEMBER_LEAVE] = "member.leave",
    [CL_ACT_EMAIL_VERIFY] = "email.verify",
    [CL_ACT_INVITATION_INBOX] = "invitation.inbox",
    [CL_ACT_INVITATION_RESPOND] = "invitation.respond",
    [CL_ACT_CHAT] = "chat.use",
};

const char *cl_action_name(enum cl_action a)
{
    return (a >= 0 && a < CL_ACT__COUNT) ? cl__action_names[a] : "unknown";
}

static bool cl__anonymous(const char *user_id)
{
    return !user_id || !user_id[0];
}

/* A store error as the policy answers it: not_found for CL_ENOTFOUND,
 * CL_EUNAVAIL as it is (a database that is down: 503, try again), any
 * other failure CL_EDB. */
static int cl__store_err(int rc, int not_found)
{
    if (rc == CL_ENOTFOUND)
        return not_found;
    return rc == CL_EUNAVAIL ? rc : CL_EDB;
}

/* Role-based decision once the project is known to exist. */
static int cl__decide(struct cl_store *s, const char *user_id, enum cl_action act,
                      const char *project_id, enum cl_role *role_out)
{
    enum cl_role role = CL_ROLE_NONE;
    int rc = s->ops->member_role(s, project_id, user_id, &role);
    if (rc && rc != CL_ENOTFOUND)
        return cl__store_err(rc, CL_EDB);
    if (role_out)
        *role_out = role;
    if (role == CL_ROLE_NONE)
        return CL_ENOTFOUND; /* outsiders may not learn the resource exists */
    if (act < 0 || act >= CL_ACT__COUNT || cl__account_action(act))
        return CL_EFORBIDDEN;
    return role >= cl__min_role[act] ? 0 : CL_EFORBIDDEN;
}

int cl_policy_project(struct cl_store *s, const char *user_id, enum cl_action act,
                      const char *project_id, struct cl_project *out)
{
    struct cl_project p;
    int rc;
    if (cl__anonymous(user_id))
        return CL_EAUTH;
    rc = s->ops->project_get(s, project_id, &p);
    if (rc)
        return cl__store_err(rc, CL_ENOTFOUND);
    rc = cl__decide(s, user_id, act, p.id, &p.role);
    if (rc == 0 && out)
        *out = p;
    return rc;
}

int cl_policy_device(struct cl_store *s, const char *user_id, enum cl_action act,
                     const char *device_id, struct cl_device *out)
{
    struct cl_device d;
    int rc;
    if (cl__anonymous(user_id))
        return CL_EAUTH;
    rc = s->ops->device_get(s, device_id, &d);
    if (rc)
        return cl__store_err(rc, CL_ENOTFOUND);
    rc = cl__decide(s, user_id, act, d.project_id, NULL);
    if (rc == 0 && out)
        *out = d;
    return rc;
}

int cl_policy_session(struct cl_store *s, const char *user_id, enum cl_action act,
                      const char *session_id, struct cl_session *sess_out,
                      struct cl_device *dev_out, enum cl_share_mode *mode_out)
{
    struct cl_session sess;
    struct cl_device d;
    enum cl_role role;
    enum cl_share_mode mode = CL_SHARE_CONTROL;
    int rc;
    if (cl__anonymous(user_id))
        return CL_EAUTH;
    rc = s->ops->session_get(s, session_id, &sess);
    if (rc)
        return cl__store_err(rc, CL_ENOTFOUND);
    rc = s->ops->device_get(s, sess.device_id, &d);
    if (rc)
        return cl__store_err(rc, CL_ENOTFOUND);
    rc = cl__decide(s, user_id, act, d.project_id, &role);
    if (rc)
        return rc;
    if (strcmp(sess.user_id, user_id) != 0) {
        /* Someone else's session: attach if it was shared with you; the
         * project owner may end or rename it; nothing else. Members
         * without a share do not learn of it. */
        rc = CL_ENOTFOUND;
        if (act == CL_ACT_SESSION_ATTACH) {
            rc = s->ops->share_get(s, sess.id, user_id, &mode);
            if (rc && rc != CL_ENOTFOUND)
                return cl__store_err(rc, CL_EDB);
        } else if ((act == CL_ACT_SESSION_END || act == CL_ACT_SESSION_RENAME) &&
                   role == CL_ROLE_OWNER) {
            rc = 0;
        }
        if (rc)
            return role == CL_ROLE_OWNER ? CL_EFORBIDDEN : CL_ENOTFOUND;
    }
    if (sess_out)
        *sess_out = sess;
    if (dev_out)
        *dev_out = d;
    if (mode_out)
        *mode_out = mode;
    return 0;
}

int cl_policy_account(struct cl_store *s, const char *user_id, enum cl_action act,
                      const char *account_id)
{
    struct cl_user u;
    int rc;
    if (cl__anonymous(user_id))
        return CL_EAUTH;
    if ((act != CL_ACT_ACCOUNT_MANAGE && act != CL_ACT_NODES_LIST &&
         act != CL_ACT_CONNECTOR_DOWNLOAD && act != CL_ACT_EMAIL_VERIFY &&
         act != CL_ACT_INVITATION_INBOX) ||
        !account_id || strcmp(user_id, account_id) != 0)
        return CL_ENOTFOUND;
    rc = s->ops->user_by_id(s, account_id, &u);
    cl_wipe(u.pw_hash, sizeof u.pw_hash);
    if (rc)
        return cl__store_err(rc, CL_EAUTH); /* a token outliving its user */
    /* an invitation is for whoever controls the address: until that is
     * proven, the account sees none (issue 14, finding 1) */
    if (act == CL_ACT_INVITATION_INBOX && !u.email_verified_at)
        return CL_ESTATE;
    return 0;
}

int cl_policy_invitation(struct cl_store *s, const char *user_id, enum cl_action act,
                         const char *invitation_id, struct cl_invitation *out)
{
    struct cl_invitation inv;
    struct cl_user u;
    int rc;
    if (cl__anonymous(user_id))
        return CL_EAUTH;
    if (act != CL_ACT_INVITATION_RESPOND)
        return CL_ENOTFOUND;
    rc = s->ops->user_by_id(s, user_id, &u);
    cl_wipe(u.pw_hash, sizeof u.pw_hash);
    if (rc)
        return cl__store_err(rc, CL_EAUTH);
    if (!u.email_verified_at)
        return CL_ESTATE;
    rc = s->ops->invitation_get(s, invitation_id, &inv);
    if (rc)
        return cl__store_err(rc, CL_ENOTFOUND);
    /* both stored lower-cased; someone else's invitation does not exist */
    if (strcmp(inv.email, u.email) != 0)
        return CL_ENOTFOUND;
    if (out)
        *out = inv;
    return 0;
}

int cl_policy_token(struct cl_store *s, const char *user_id, enum cl_action act,
                    const char *token_id, struct cl_token *out)
{
    struct cl_token t;
    int rc;
    if (cl__anonymous(user_id))
        return CL_EAUTH;
    if (act != CL_ACT_TOKEN_REVOKE)
        return CL_ENOTFOUND;
    rc = s->ops->token_get(s, token_id, &t);
    if (rc)
        return cl__store_err(rc, CL_ENOTFOUND);
    /* someone else's token: as if it did not exist */
    if (strcmp(t.user_id, user_id) != 0)
        return CL_ENOTFOUND;
    if (out)
        *out = t;
    return 0;
}

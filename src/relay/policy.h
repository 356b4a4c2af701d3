/*
 * policy: the one place that answers "may user U do A on resource R".
 *
 * Every HTTP route and every WebSocket message that touches a project,
 * device or session asks here; nothing else decides. The answers follow
 * seed 001's "Roles & Permissions" table and its row-level security rules.
 *
 * Each check returns
 *   0             allowed
 *   CL_EAUTH      no authenticated user (user_id NULL or empty)      -> 401
 *   CL_ENOTFOUND  no such resource, or the user may not know it      -> 404
 *   CL_EFORBIDDEN a member, but the action needs a role they lack    -> 403
 *   CL_ESTATE     the caller's email address is not proven, and the
 *                 action needs it (invitations)                      -> 403
 *   CL_EDB        storage failure                                    -> 500
 *   CL_EUNAVAIL   the store's database is unreachable                -> 503
 * and, when allowed, fills the looked-up rows the caller needs anyway.
 */
#ifndef CL_POLICY_H
#define CL_POLICY_H

#include "relay/store.h"

enum cl_action {
    CL_ACT_PROJECT_VIEW,       /* see a project, its devices, its members */
    CL_ACT_PROJECT_MODIFY,     /* rename or delete a project */
    CL_ACT_DEVICE_ADD,         /* add a device to a project */
    CL_ACT_DEVICE_VIEW,        /* see a device */
    CL_ACT_DEVICE_MODIFY,      /* rename, delete, regenerate pairing code */
    CL_ACT_SESSION_START,      /* open a terminal session on a device */
    CL_ACT_SESSION_ATTACH,     /* attach a browser to an existing session */
    CL_ACT_SESSION_END,        /* end a session */
    CL_ACT_MEMBER_INVITE,      /* invite members */
    CL_ACT_SESSION_SHARE,      /* share a session, list or revoke its shares */
    CL_ACT_ACCOUNT_MANAGE,     /* see and change an account: profile, password, its
                                  sign-in tokens, deletion */
    CL_ACT_TOKEN_REVOKE,       /* revoke one sign-in token (a "session") by id */
    CL_ACT_MEMBER_LIST,        /* see a project's members */
    CL_ACT_MEMBER_REMOVE,      /* remove a member from a project */
    CL_ACT_INVITATION_LIST,    /* see a project's pending invitations */
    CL_ACT_INVITATION_CANCEL,  /* cancel a pending invitation */
    CL_ACT_SESSION_HISTORY,    /* list a project's sessions, past and live */
    CL_ACT_NODES_LIST,         /* list the devices of one's own projects (relay-nodes) */
    CL_ACT_CONNECTOR_DOWNLOAD, /* download the agent binary or its build steps */
    CL_ACT_PROJECT_EVENTS,     /* receive a project's realtime events (/events) */
    CL_ACT_NODE_PROMPT,        /* chat with a device's OpenClaw node */
    CL_ACT_NODE_STATUS,        /* read an OpenClaw node's health */
    CL_ACT_NODE_RESTART,       /* restart a device's OpenClaw gateway */
    CL_ACT_NODE_WORKFLOW,      /* list and run an OpenClaw node's workflows */
    CL_ACT_SESSION_RENAME,     /* give a session a name, or clear it */
    CL_ACT_MEMBER_LEAVE,       /* leave a project one is a member of */
    CL_ACT_EMAIL_VERIFY,       /* ask for a (new) link proving one's own address */
    CL_ACT_INVITATION_INBOX,   /* see the pending invitations to one's proven address */
    CL_ACT_INVITATION_RESPOND, /* accept or decline an invitation to one's proven address */
    CL_ACT_CHAT,               /* use a device's chat API (read and write its conversations) */
    CL_ACT__COUNT
};

const char *cl_action_name(enum cl_action a);

/* Actions on a project (PROJECT_*, DEVICE_ADD, MEMBER_*, INVITATION_LIST,
 * INVITATION_CANCEL, SESSION_HISTORY, PROJECT_EVENTS). MEMBER_LEAVE is
 * allowed to every member, the owner included: the store refuses the last
 * owner (CL_ESTATE). */
int cl_policy_project(struct cl_store *s, const char *user_id, enum cl_action act,
                      const char *project_id, struct cl_project *out);

/* Actions on a device (DEVICE_VIEW, DEVICE_MODIFY, SESSION_START,
 * NODE_*, CHAT). */
int cl_policy_device(struct cl_store *s, const char *user_id, enum cl_action act,
                     const char *device_id, struct cl_device *out);

/* Actions on a session (SESSION_ATTACH, SESSION_END, SESSION_SHARE,
 * SESSION_RENAME). Attaching is for the user who started the session
 * (with control) and for members it was shared with (view or control,
 * *mode_out says which); ending and renaming are for the starter or the
 * project's owner; sharing is for the starter. All need current membership of the device's project.
 * mode_out may be NULL. */
int cl_policy_session(struct cl_store *s, const char *user_id, enum cl_action act,
                      const char *session_id, struct cl_session *sess_out,
                      struct cl_device *dev_out, enum cl_share_mode *mode_out);

/* Actions on an account (ACCOUNT_MANAGE, EMAIL_VERIFY, INVITATION_INBOX,
 * and NODES_LIST and CONNECTOR_DOWNLOAD, which act on what the account can
 * see): only its own user may, and anyone else gets CL_ENOTFOUND (accounts
 * are never shown to others). INVITATION_INBOX needs a proven address
 * (CL_ESTATE otherwise: the caller shows no invitations). */
int cl_policy_account(struct cl_store *s, const char *user_id, enum cl_action act,
                      const char *account_id);

/* Actions on an invitation by id (INVITATION_RESPOND): only the user
 * whose address it was sent to, once that address is proven. An unproven
 * caller gets CL_ESTATE whatever the id (nothing is learnt); a pending
 * invitation to another address, or none, CL_ENOTFOUND. Fills *out. */
int cl_policy_invitation(struct cl_store *s, const char *user_id, enum cl_action act,
                         const char *invitation_id, struct cl_invitation *out);

/* Actions on a user API token by id (TOKEN_REVOKE): only the user it
 * belongs to; anyone else, and unknown ids, get CL_ENOTFOUND. */
int cl_policy_token(struct cl_store *s, const char *user_id, enum cl_action act,
                    const char *token_id, struct cl_token *out);

#endif

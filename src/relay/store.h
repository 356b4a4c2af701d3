/*
 * store: the relay's persistent state behind a table of function pointers
 * (SQLite: store_sqlite.c; PostgreSQL, for clusters: store_pg.c).
 *
 * All ids are lower-case UUID strings. Times are Unix seconds (int64).
 * Secrets never reach the store: only their SHA-256 hashes (CL_HASH_LEN
 * bytes). Every function returns 0 or a negative CL_E* code; CL_ENOTFOUND
 * when a row does not exist, CL_EEXIST on a uniqueness conflict,
 * CL_EUNAVAIL when a networked backend's server cannot be reached (the
 * next call tries again), CL_EDB on any other storage failure (details in
 * the log, never secrets).
 * Output structs are filled by value; strings are NUL-terminated copies.
 *
 * Layers (decisions 62): cl_store_open (store.c) picks the backend from a
 * URL and puts store_check.c in front of it, which checks every caller's
 * input once (ids 1..CL_UUID_LEN bytes, lengths, required pointers, enum
 * values) and answers CL_EINVAL (or CL_ENOTFOUND, where said) without
 * reaching the backend; main.c adds store_metrics.c's timing in front of
 * that. A backend may take those checks as passed, and must pass the
 * contract suite, tests/unit/test_store_contract.c. Business rules live
 * here, not in a backend's SQL: the end reasons a change records are
 * proto.h's (user_delete: "account_deleted", member_remove:
 * "member_removed"); what cascades is written out op by op below, and the
 * cascading changes report what they did (struct cl_store_cascade).
 *
 * Threads: every op is called from the event-loop thread (the HTTP
 * routes, the hub, the agents' and viewers' handlers), one at a time; a
 * backend needs no locking and may block the loop for as long as one op
 * takes (SQLite: local file I/O). http.c's worker jobs (uv_queue_work:
 * Argon2id, mail) never touch the store: their completions, on the loop,
 * do. A backend over the network must not be called from the loop as it
 * is: see decisions 62 for what moving the API's store work to workers
 * takes.
 */
#ifndef CL_RELAY_STORE_H
#define CL_RELAY_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/limits.h"
#include "core/secret.h"

#define CL_PWHASH_MAX 128 /* crypto_pwhash_STRBYTES */

enum cl_role { CL_ROLE_NONE = 0, CL_ROLE_MEMBER = 1, CL_ROLE_OWNER = 2 };

struct cl_user {
    char id[CL_UUID_LEN + 1];
    char email[CL_EMAIL_MAX + 1]; /* stored lower-cased */
    char display_name[CL_NAME_MAX + 1];
    char avatar_url[CL_AVATAR_URL_MAX + 1]; /* "" when none */
    char pw_hash[CL_PWHASH_MAX];            /* Argon2id encoded string */
    int64_t created_at;
    int64_t email_verified_at; /* when a verification link proved the address; 0: unproven */
};

struct cl_project {
    char id[CL_UUID_LEN + 1];
    char name[CL_NAME_MAX + 1];
    char owner_id[CL_UUID_LEN + 1];
    int64_t created_at;
    int64_t updated_at;
    enum cl_role role; /* the role of the user the project was listed for */
};

struct cl_device {
    char id[CL_UUID_LEN + 1];
    char project_id[CL_UUID_LEN + 1];
    char name[CL_NAME_MAX + 1];
    bool online;
    bool paired;
    int64_t last_seen; /* 0 = never */
    int64_t created_at;
    int64_t code_expires_at;           /* 0 = no live pairing code */
    char kind[CL_DEVICE_KIND_MAX + 1]; /* what dials in: CL_DEVICE_KIND_CONNECTOR */
    int64_t connected_at;              /* start of the last agent connection; 0 = never */
    int64_t last_heartbeat;            /* last sign of life recorded; 0 = never */
};

/* What a device told about itself and where it connects from (the device
 * page's details; docs/protocol.md, "Device information"). */
struct cl_device_info {
    char meta[CL_DEVICE_META_MAX + 1]; /* a JSON object of strings and numbers, "" = none */
    char remote_addr[CL_ADDR_MAX + 1]; /* "" = never connected */
    int64_t meta_updated_at;           /* when meta was last written; 0 = never */
    int64_t online_since;              /* start of the current (or last) stay online, across
                                          reconnects within CL_DEVICE_ONLINE_GAP_S; 0 = never */
    int64_t connected_at;              /* start of the last agent connection; 0 = never */
};

struct cl_session {
    char id[CL_UUID_LEN + 1];
    char device_id[CL_UUID_LEN + 1];
    char user_id[CL_UUID_LEN + 1];
    bool active;
    int64_t started_at;
    int64_t ended_at; /* 0 while active */
    char end_reason[CL_REASON_MAX + 1];
    bool has_exit_code;
    int exit_code;
    char name[CL_SESSION_NAME_MAX + 1];   /* given by a user; "" = none */
    char title[CL_SESSION_TITLE_MAX + 1]; /* reported by its agent; "" = none */
};

/* A user API token (a sign-in "session"), as listed to its owner. */
struct cl_token {
    char id[CL_UUID_LEN + 1];
    char user_id[CL_UUID_LEN + 1];
    int64_t created_at;
    int64_t expires_at;
    int64_t last_used_at; /* 0 = never; updated at most every CL_TOKEN_TOUCH_S */
    bool current;         /* token_list: the hash passed as current */
};

/* A session as the project's history shows it: who and which device. */
struct cl_session_info {
    struct cl_session sess;
    char device_name[CL_NAME_MAX + 1];
    char user_email[CL_EMAIL_MAX + 1]; /* "" when the user is gone */
    char user_display_name[CL_NAME_MAX + 1];
};

/* Which sessions session_list returns, newest first. */
enum cl_session_status_filter { CL_SESSIONS_ANY = 0, CL_SESSIONS_ACTIVE, CL_SESSIONS_ENDED };
struct cl_session_filter {
    const char *project_id; /* required */
    const char *device_id;  /* NULL: every device of the project */
    const char *user_id;    /* NULL: every user */
    enum cl_session_status_filter status;
    /* keyset cursor: only sessions strictly older than (before_started_at,
     * before_id) in (started_at DESC, id DESC) order; before_id NULL: none */
    int64_t before_started_at;
    const char *before_id;
    unsigned limit; /* 0: no limit */
};

/* A member of a project, as listed to its members. */
struct cl_member {
    char user_id[CL_UUID_LEN + 1];
    char email[CL_EMAIL_MAX + 1];
    char display_name[CL_NAME_MAX + 1];
    enum cl_role role;
    char invited_by[CL_UUID_LEN + 1]; /* "" for the owner or a deleted inviter */
    int64_t created_at;
};

/* A pending invitation. */
struct cl_invitation {
    char id[CL_UUID_LEN + 1];
    char project_id[CL_UUID_LEN + 1];
    char email[CL_EMAIL_MAX + 1];
    char invited_by[CL_UUID_LEN + 1]; /* "" when the inviter is gone */
    int64_t created_at;
    /* filled by invitation_get and invitation_list_for_email only ("" else) */
    char project_name[CL_NAME_MAX + 1];
    char inviter_email[CL_EMAIL_MAX + 1]; /* "" when the inviter is gone */
    char inviter_name[CL_NAME_MAX + 1];
};

enum cl_share_mode { CL_SHARE_NONE = 0, CL_SHARE_VIEW = 1, CL_SHARE_CONTROL = 2 };

struct cl_share {
    char user_id[CL_UUID_LEN + 1];
    char email[CL_EMAIL_MAX + 1];
    enum cl_share_mode mode;
    int64_t created_at;
};

/* A growable list of ids: what a cascading change reports (struct
 * cl_store_cascade) and what a route collects to tell the hub after a
 * store change. Zero-initialise; cl_id_list_free when done. */
struct cl_id_list {
    char (*id)[CL_UUID_LEN + 1];
    size_t n, cap;
};
void cl_id_list_add(struct cl_id_list *l, const char *id);
void cl_id_list_free(struct cl_id_list *l);

/* What a cascading change did (user_delete, project_delete, device_delete,
 * member_remove fill it when given one): the ids of what it ended or
 * removed, read inside the change's own transaction, so that the relay
 * tells its hub and subscribers exactly what changed instead of
 * collecting beforehand. Zero-initialise; cl_store_cascade_free after.
 * On an error the lists are left empty. */
struct cl_store_cascade {
    struct cl_id_list ended;    /* sessions that were active: ended, or deleted with their device */
    struct cl_id_list unshared; /* others' active sessions that lost their share with the user */
    struct cl_id_list devices;  /* devices deleted */
    struct cl_id_list projects; /* projects deleted (user_delete: those the user owned) */
    struct cl_id_list left;     /* user_delete: projects the user was a (non-owner) member of */
};
void cl_store_cascade_free(struct cl_store_cascade *c);

struct cl_store;

typedef void (*cl_project_cb)(const struct cl_project *p, void *ctx);
typedef void (*cl_device_cb)(const struct cl_device *d, void *ctx);
typedef void (*cl_session_cb)(const struct cl_session *sess, void *ctx);
typedef void (*cl_share_cb)(const struct cl_share *sh, void *ctx);
typedef void (*cl_token_cb)(const struct cl_token *t, void *ctx);
typedef void (*cl_session_info_cb)(const struct cl_session_info *si, void *ctx);
typedef void (*cl_member_cb)(const struct cl_member *m, void *ctx);
typedef void (*cl_invitation_cb)(const struct cl_invitation *inv, void *ctx);

struct cl_store_ops {
    const char *name;
    void (*close)(struct cl_store *s);
    /* A cheap check that the store still works (GET /healthz, /readyz):
     * one small read, and for SQLite that clawlink.db is still the file
     * the relay opened (not deleted or replaced under it). 0, or CL_EDB
     * with a short reason in err (no secrets, no paths). */
    int (*ping)(struct cl_store *s, char *err, size_t errlen);

    /* users: user_create fails with CL_EEXIST if the email is taken
     * (case-insensitively). A profile row is created with it. */
    int (*user_create)(struct cl_store *s, const struct cl_user *u);
    int (*user_by_email)(struct cl_store *s, const char *email, struct cl_user *out);
    int (*user_by_id)(struct cl_store *s, const char *id, struct cl_user *out);

    /* user API tokens (sign-in sessions), by hash */
    int (*token_create)(struct cl_store *s, const uint8_t hash[CL_HASH_LEN], const char *user_id,
                        int64_t now, int64_t expires_at);
    /* CL_ENOTFOUND if unknown, revoked or expired at now. Records
     * last_used_at = now when the stored one is CL_TOKEN_TOUCH_S older. */
    int (*token_user)(struct cl_store *s, const uint8_t hash[CL_HASH_LEN], int64_t now,
                      char user_id[CL_UUID_LEN + 1]);
    int (*token_revoke)(struct cl_store *s, const uint8_t hash[CL_HASH_LEN]);

    /* Accounts. */
    /* Live (unrevoked, unexpired at now) tokens of user_id, newest first;
     * t->current is set for the one whose hash is current (may be NULL). */
    int (*token_list)(struct cl_store *s, const char *user_id, int64_t now,
                      const uint8_t current[CL_HASH_LEN], cl_token_cb cb, void *ctx);
    /* A token by id, whatever its state (CL_ENOTFOUND if none). */
    int (*token_get)(struct cl_store *s, const char *id, struct cl_token *out);
    /* Revokes a token by id (revoking twice is not an error). */
    int (*token_revoke_id)(struct cl_store *s, const char *id, int64_t now);
    /* Revokes every live token of user_id except the one whose hash is keep
     * (NULL: all); *revoked (may be NULL) gets how many. */
    int (*tokens_revoke_all)(struct cl_store *s, const char *user_id,
                             const uint8_t keep[CL_HASH_LEN], int64_t now, int *revoked);
    /* Sets the profile's display_name and/or avatar_url (NULL: unchanged;
     * "" clears the avatar). CL_ENOTFOUND for an unknown user. */
    int (*profile_update)(struct cl_store *s, const char *user_id, const char *display_name,
                          const char *avatar_url);
    /* Sets a new password hash, deletes the user's reset tokens and
     * revokes every other sign-in token (all but keep; NULL: all), in one
     * transaction. */
    int (*user_set_password)(struct cl_store *s, const char *user_id, const char *pw_hash,
                             const uint8_t keep[CL_HASH_LEN], int64_t now);
    /* Deletes the user in one transaction: their owned projects (with
     * devices, sessions, invitations, memberships), their memberships,
     * tokens, shares, reset token and profile. Sessions they started in
     * other projects are ended (reason "account_deleted") and kept without
     * a user. CL_ESTATE (nothing deleted) while they own a project that
     * has other members; CL_ENOTFOUND for an unknown user. out (may be
     * NULL): ended = their active sessions anywhere and every active
     * session of their projects; unshared = other active sessions shared
     * with them; devices and projects = those of their projects; left =
     * the projects they were a member of. */
    int (*user_delete)(struct cl_store *s, const char *user_id, int64_t now,
                       struct cl_store_cascade *out);
    /* Stores a password reset token hash for user_id beside the earlier
     * ones still live (expired ones are deleted): a new request does not
     * void an earlier link. CL_ELIMIT (nothing stored) when
     * CL_RESET_LINKS_MAX are live; CL_ENOTFOUND for an unknown user. */
    int (*reset_create)(struct cl_store *s, const char *user_id, const uint8_t hash[CL_HASH_LEN],
                        int64_t now, int64_t expires_at);
    /* Uses a reset token, in one transaction: finds it by hash (compared
     * again in constant time), deletes it, sets pw_hash, deletes every
     * other reset token of the user and revokes every sign-in token. user_id (may be NULL) gets
     * whose it was. CL_ENOTFOUND for unknown or used tokens, CL_EEXPIRED for an expired one
     * (deleted too). */
    int (*reset_consume)(struct cl_store *s, const uint8_t hash[CL_HASH_LEN], int64_t now,
                         const char *pw_hash, char user_id[CL_UUID_LEN + 1]);

    /* Web sign-in (webauth.c, demo.c). */
    /* The relay's named 32-byte secret (e.g. "csrf"): stores fresh under
     * name if none is stored yet, then copies the stored one to out. */
    int (*secret_get)(struct cl_store *s, const char *name, const uint8_t fresh[CL_HASH_LEN],
                      uint8_t out[CL_HASH_LEN]);
    /* How many users exist. */
    int (*user_count)(struct cl_store *s, int64_t *out);
    /* Stores a one-time sign-in code hash for user_id (expired codes of
     * every user are dropped on the way). */
    int (*signin_code_create)(struct cl_store *s, const uint8_t hash[CL_HASH_LEN],
                              const char *user_id, int64_t now, int64_t expires_at);
    /* Uses a one-time sign-in code: finds it by hash (compared again in
     * constant time) and deletes it, in one transaction; user_id gets
     * whose it was. CL_ENOTFOUND for unknown or used codes, CL_EEXPIRED for
     * an expired one (deleted too). */
    int (*signin_code_consume)(struct cl_store *s, const uint8_t hash[CL_HASH_LEN], int64_t now,
                               char user_id[CL_UUID_LEN + 1]);

    /* projects: project_create also makes owner_id an owner member. */
    int (*project_create)(struct cl_store *s, const struct cl_project *p);
    int (*project_get)(struct cl_store *s, const char *id, struct cl_project *out);
    /* Calls cb for each project user_id is a member of, newest first,
     * with p->role set. */
    int (*project_list_for_user)(struct cl_store *s, const char *user_id, cl_project_cb cb,
                                 void *ctx);
    /* Adds user_id to the project with role (CL_EEXIST if already in it). */
    int (*member_add)(struct cl_store *s, const char *project_id, const char *user_id,
                      enum cl_role role, const char *invited_by, int64_t now);
    /* Records a pending invitation of email to the project (id written to
     * id). CL_EEXIST if one is already pending for that address. */
    int (*invitation_create)(struct cl_store *s, const char *project_id, const char *email,
                             const char *invited_by, int64_t now, char id[CL_UUID_LEN + 1]);
    /* Pending invitations of a project (the CL_INVITATIONS_PENDING_MAX cap). */
    int (*invitation_count_pending)(struct cl_store *s, const char *project_id, size_t *out);
    /* A pending invitation by id, with its project's name and inviter.
     * CL_ENOTFOUND if none is pending with that id. */
    int (*invitation_get)(struct cl_store *s, const char *id, struct cl_invitation *out);
    /* Pending invitations addressed to email (case-insensitively), oldest
     * first, with project name and inviter. The caller checks that the
     * address is proven (policy). */
    int (*invitation_list_for_email)(struct cl_store *s, const char *email, cl_invitation_cb cb,
                                     void *ctx);
    /* The invitee's answer, in one transaction: the pending invitation id
     * becomes 'accepted' (and user_id a member of its project, unless
     * already one) or 'declined', with responded_at = now. CL_ENOTFOUND
     * if it is no longer pending. */
    int (*invitation_respond)(struct cl_store *s, const char *id, const char *user_id, bool accept,
                              int64_t now);

    /* Email verification (api_verify.c). Stores the hash of a fresh link
     * for user_id, sent to email, replacing any earlier one (one live link
     * per user). */
    int (*verify_create)(struct cl_store *s, const char *user_id, const char *email,
                         const uint8_t hash[CL_HASH_LEN], int64_t now, int64_t expires_at);
    /* Uses a verification link, in one transaction: finds it by hash
     * (compared again in constant time), deletes it, and sets the user's
     * email_verified_at = now if the address is still the one it was sent
     * to. user_id gets whose it was. CL_ENOTFOUND for unknown or used
     * links, CL_EEXPIRED for an expired one, CL_ESTATE when the address
     * changed since (the last two are deleted too). */
    int (*verify_consume)(struct cl_store *s, const uint8_t hash[CL_HASH_LEN], int64_t now,
                          char user_id[CL_UUID_LEN + 1]);
    /* Sets email_verified_at (0: unproven again) and drops a live link
     * (the operator's verify-email; a changed address). */
    int (*user_set_email_verified)(struct cl_store *s, const char *user_id, int64_t at);
    /* CL_ROLE_NONE (and 0) when user_id is not a member. */
    int (*member_role)(struct cl_store *s, const char *project_id, const char *user_id,
                       enum cl_role *out);

    /* devices: created unpaired, with the hash of a fresh pairing code. */
    int (*device_create)(struct cl_store *s, const struct cl_device *d,
                         const uint8_t code_hash[CL_HASH_LEN], int64_t code_expires_at);
    int (*device_get)(struct cl_store *s, const char *id, struct cl_device *out);
    /* Devices of a project, oldest first. */
    int (*device_list)(struct cl_store *s, const char *project_id, cl_device_cb cb, void *ctx);
    /* Consumes a pairing code atomically: finds the device whose live code
     * hash equals code_hash and has not expired at now, clears the code,
     * stores token_hash, sets paired, and renames the device if name is
     * non-NULL and non-empty. CL_ENOTFOUND for unknown or used codes,
     * CL_EEXPIRED for an expired one (which is cleared too). */
    int (*device_pair)(struct cl_store *s, const uint8_t code_hash[CL_HASH_LEN], int64_t now,
                       const char *name, const uint8_t token_hash[CL_HASH_LEN],
                       struct cl_device *out);
    /* Checks a pairing code without spending it (the install script's
     * download): 0 and the device's id if code_hash is a live code at now;
     * CL_ENOTFOUND for unknown or used codes, CL_EEXPIRED for an expired
     * one. id_out has room for CL_UUID_LEN + 1 bytes. */
    int (*device_code_check)(struct cl_store *s, const uint8_t code_hash[CL_HASH_LEN], int64_t now,
                             char *id_out);
    /* Voids a pairing code (too many failed attempts named it): clears the
     * code of the device whose code hash is code_hash, live or expired. 0
     * and the device's id (CL_UUID_LEN + 1 bytes; may be NULL), or
     * CL_ENOTFOUND when no device holds it. */
    int (*device_code_void)(struct cl_store *s, const uint8_t code_hash[CL_HASH_LEN], char *id_out);
    /* The stored device-token hash; CL_ENOTFOUND if no device or unpaired.
     * The caller compares with cl_secret_equal. */
    int (*device_token_hash)(struct cl_store *s, const char *device_id, uint8_t out[CL_HASH_LEN]);
    int (*device_set_online)(struct cl_store *s, const char *device_id, bool online, int64_t now);
    /* Marks every device offline (relay start-up: nothing is connected). */
    int (*device_all_offline)(struct cl_store *s, int64_t now);

    /* sessions */
    int (*session_create)(struct cl_store *s, const struct cl_session *sess);
    /* Open (active) sessions of device_id and of user_id. */
    int (*session_count_open)(struct cl_store *s, const char *device_id, const char *user_id,
                              size_t *per_device, size_t *per_user);
    int (*session_get)(struct cl_store *s, const char *id, struct cl_session *out);
    /* Active sessions of device_id (all devices when NULL), oldest first.
     * The callback may use the store. */
    int (*session_list_active)(struct cl_store *s, const char *device_id, cl_session_cb cb,
                               void *ctx);
    /* Shares of a session with other users: set (insert or change mode),
     * get (CL_ENOTFOUND when not shared with user_id), remove
     * (CL_ENOTFOUND when there was none), list (oldest first, with email). */
    int (*share_set)(struct cl_store *s, const char *session_id, const char *user_id,
                     enum cl_share_mode mode, const char *created_by, int64_t now);
    int (*share_get)(struct cl_store *s, const char *session_id, const char *user_id,
                     enum cl_share_mode *out);
    int (*share_remove)(struct cl_store *s, const char *session_id, const char *user_id);
    int (*share_list)(struct cl_store *s, const char *session_id, cl_share_cb cb, void *ctx);

    /* A session's name (a user's, "" clears it) and automatic title (its
     * agent's, "" clears it): each at most CL_SESSION_NAME_MAX /
     * CL_SESSION_TITLE_MAX bytes (CL_EINVAL). CL_ENOTFOUND if no such
     * session. Ended sessions keep theirs and may be renamed. */
    int (*session_set_name)(struct cl_store *s, const char *id, const char *name);
    int (*session_set_title)(struct cl_store *s, const char *id, const char *title);

    /* Ends an active session (status ended, ended_at, reason, exit code if
     * has_exit_code). Ending an ended session is a no-op returning 0. */
    int (*session_end)(struct cl_store *s, const char *id, int64_t now, const char *reason,
                       bool has_exit_code, int exit_code);

    /* Projects, members, invitations, devices (the control plane). */
    /* Renames a project and sets updated_at = now. CL_ENOTFOUND if none. */
    int (*project_rename)(struct cl_store *s, const char *id, const char *name, int64_t now);
    /* Deletes a project with its devices, sessions, shares, members and
     * invitations, in one transaction. out (may be NULL): its devices, and
     * its sessions that were active (ended). CL_ENOTFOUND if none. */
    int (*project_delete)(struct cl_store *s, const char *id, struct cl_store_cascade *out);
    /* Members of a project, the owner first, then by when they joined. */
    int (*member_list)(struct cl_store *s, const char *project_id, cl_member_cb cb, void *ctx);
    /* Removes a member, in one transaction: their active sessions on the
     * project's devices end (reason "member_removed"), the shares of the
     * project's sessions with them go, then the membership. CL_ESTATE
     * (nothing changed) for the owner, CL_ENOTFOUND for a non-member.
     * out (may be NULL): ended = the sessions that ended; unshared = the
     * other active sessions of the project that were shared with them. */
    int (*member_remove)(struct cl_store *s, const char *project_id, const char *user_id,
                         int64_t now, struct cl_store_cascade *out);
    /* Pending invitations of a project, oldest first. */
    int (*invitation_list)(struct cl_store *s, const char *project_id, cl_invitation_cb cb,
                           void *ctx);
    /* Marks a pending invitation of project_id cancelled. CL_ENOTFOUND if
     * that project has no pending invitation with that id. */
    int (*invitation_cancel)(struct cl_store *s, const char *project_id, const char *id);
    int (*device_rename)(struct cl_store *s, const char *id, const char *name);
    /* Deletes a device with its sessions and their shares, in one
     * transaction. out (may be NULL): the device, and its sessions that
     * were active (ended). CL_ENOTFOUND if none. Call
     * cl_hub_device_removed afterwards. */
    int (*device_delete)(struct cl_store *s, const char *id, struct cl_store_cascade *out);
    /* Replaces the device's pairing code (live or not) with a fresh one;
     * the old code stops working at once. The device token is untouched
     * until the new code is used (device_pair replaces it). CL_EEXIST on a
     * (very unlikely) live-code collision: retry; CL_ENOTFOUND if no device. */
    int (*device_new_code)(struct cl_store *s, const char *id, const uint8_t code_hash[CL_HASH_LEN],
                           int64_t expires_at);
    /* Records a sign of life from the device's agent (last_heartbeat). */
    int (*device_heartbeat)(struct cl_store *s, const char *id, int64_t now);
    /* Records what kind of agent serves the device (CL_DEVICE_KIND_*; an
     * agent's heartbeats make it "openclaw"). CL_ENOTFOUND if no device. */
    int (*device_set_kind)(struct cl_store *s, const char *id, const char *kind);
    /* Replaces the device's metadata with meta (a JSON object's text of at
     * most CL_DEVICE_META_MAX bytes, else CL_EINVAL) and the address its
     * agent connects from with remote_addr; NULL keeps either.
     * meta_updated_at becomes now when meta is given. CL_ENOTFOUND if no
     * device. */
    int (*device_set_info)(struct cl_store *s, const char *id, const char *meta,
                           const char *remote_addr, int64_t now);
    /* The device's metadata, address and online times. CL_ENOTFOUND if
     * no device. */
    int (*device_get_info)(struct cl_store *s, const char *id, struct cl_device_info *out);
    /* Paired devices of every project user_id belongs to, oldest first. */
    int (*device_list_for_user)(struct cl_store *s, const char *user_id, cl_device_cb cb,
                                void *ctx);
    /* Sessions of a project matching f, newest first (started_at DESC, id
     * DESC), with device name and user. The callback may use the store. */
    int (*session_list)(struct cl_store *s, const struct cl_session_filter *f,
                        cl_session_info_cb cb, void *ctx);
};

struct cl_store {
    const struct cl_store_ops *ops; /* what callers call: wrappers first, then the backend */
    void *impl;
    const struct cl_store_ops *backend; /* the backend's own table, under any wrappers */
};

/* The backends a store URL may name (cl_store_url_parse). */
enum cl_store_kind { CL_STORE_NONE = 0, CL_STORE_SQLITE, CL_STORE_POSTGRES };

struct cl_store_url {
    enum cl_store_kind kind;
    /* sqlite: the directory of clawlink.db; postgres: the whole URL, for
     * libpq (it may hold a password: wipe it after use) */
    char path[CL_STORE_URL_MAX + 1];
};

/* Parses a --store URL: "sqlite:PATH" (PATH the directory of clawlink.db,
 * or that file), or "postgres://..." / "postgresql://..." (libpq checks the
 * rest when the store opens: store_pg.h). CL_EINVAL with a reason in err
 * (never the URL itself, which may hold a password) for anything else:
 * empty, over CL_STORE_URL_MAX bytes, control characters, another scheme. */
int cl_store_url_parse(const char *url, struct cl_store_url *out, char *err, size_t errlen);

/* Reads a --store-file: one line (trailing whitespace dropped) that
 * cl_store_url_parse accepts, into buf (buflen > CL_STORE_URL_MAX + 1).
 * 0, CL_EIO (cannot read) or CL_EINVAL, with a reason in err that names
 * the file, never its content; buf is wiped on an error. */
int cl_store_url_load(const char *path, char *buf, size_t buflen, char *err, size_t errlen);

/* Opens the store url names (the relay's only way in: main.c), its ops
 * wrapped by store_check.c's input checks. Returns 0, CL_EINVAL for a URL
 * cl_store_url_parse refuses, or the backend's error (CL_EDB; CL_EUNAVAIL: its
 * server cannot be reached), with a reason in err. */
int cl_store_open(struct cl_store *s, const char *url, char *err, size_t errlen);

/* Opens (creating if needed) the SQLite database dir/clawlink.db in WAL
 * mode and applies pending numbered migrations: the bare backend, without
 * store_check.c's checks (cl_store_open adds them; tests and the bench
 * that open it directly pass well-formed input). Returns 0 or CL_EDB with
 * a reason in err. */
int cl_store_open_sqlite(struct cl_store *s, const char *dir, char *err, size_t errlen);

/* The schema version after migrations (for logs and tests). */
int cl_store_sqlite_schema_version(struct cl_store *s);

#endif

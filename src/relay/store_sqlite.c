/*
 * store_sqlite: the embedded SQLite backend of the store interface.
 *
 * One connection to dir/clawlink.db in WAL mode, used from the event-loop
 * thread only (opened SQLITE_OPEN_NOMUTEX). The schema comes from
 * migrations.c.
 *
 * Statements are prepared once, at open, with SQLITE_PREPARE_PERSISTENT and
 * reused: the relay runs the same few queries on every request, so parsing
 * them once leaves bind/step/reset per call, and a mistake in any SQL text
 * fails at start-up instead of on the first request that needs it. The two
 * list queries are the exception: they run the caller's callback while
 * their statement is still stepping, so each call prepares its own, and a
 * callback may call into the store again (even the same list).
 *
 * Every value is a bound parameter; no SQL is built from strings. Errors
 * are logged with SQLite's message (which names tables and constraints,
 * never bound values) and the op's name, never with a parameter.
 * Operations that write more than one row run in one IMMEDIATE transaction.
 *
 * The SQLite plumbing (opening, the statement set, step/bind/column
 * wrappers, transactions, the migration runner) is core/sqlite.c's, shared
 * with the agent; this file holds the relay's SQL and its store ops.
 */
#include "relay/datadir.h"
#include "relay/migrations.h"
#include "relay/store.h"
#include "core/err.h"
#include "core/log.h"
#include "core/proto.h"
#include "core/secret.h"
#include "core/sqlite.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define CL__DB_FILE "clawlink.db"

enum cl__st {
    CL__ST_USER_INSERT,
    CL__ST_PROFILE_INSERT,
    CL__ST_USER_BY_EMAIL,
    CL__ST_USER_BY_ID,
    CL__ST_TOKEN_INSERT,
    CL__ST_TOKEN_USER,
    CL__ST_TOKEN_REVOKE,
    CL__ST_PROJECT_INSERT,
    CL__ST_PROJECT_GET,
    CL__ST_MEMBER_INSERT,
    CL__ST_MEMBER_ROLE,
    CL__ST_DEVICE_INSERT,
    CL__ST_DEVICE_GET,
    CL__ST_DEVICE_BY_CODE,
    CL__ST_DEVICE_CLEAR_CODE,
    CL__ST_DEVICE_PAIR,
    CL__ST_DEVICE_TOKEN,
    CL__ST_DEVICE_STATUS,
    CL__ST_DEVICE_ALL_OFFLINE,
    CL__ST_SESSION_INSERT,
    CL__ST_SESSION_GET,
    CL__ST_SESSION_END,
    CL__ST_SESSION_EXISTS,
    CL__ST_SESSION_OPEN_DEVICE,
    CL__ST_SESSION_OPEN_USER,
    CL__ST_SESSION_SET_NAME,
    CL__ST_SESSION_SET_TITLE,
    CL__ST_SHARE_SET,
    CL__ST_SHARE_GET,
    CL__ST_SHARE_REMOVE,
    CL__ST_TOKEN_TOUCH,
    CL__ST_TOKEN_GET,
    CL__ST_TOKEN_REVOKE_ID,
    CL__ST_TOKENS_REVOKE_ALL,
    CL__ST_PROFILE_UPDATE,
    CL__ST_USER_SET_PASSWORD,
    CL__ST_USER_OWNS_SHARED,
    CL__ST_USER_END_SESSIONS,
    CL__ST_USER_DELETE,
    CL__ST_RESET_INSERT,
    CL__ST_RESET_PURGE,
    CL__ST_RESET_COUNT,
    CL__ST_RESET_DELETE_USER,
    CL__ST_RESET_BY_HASH,
    CL__ST_RESET_DELETE,
    CL__ST_PROJECT_RENAME,
    CL__ST_PROJECT_DELETE,
    CL__ST_MEMBER_END_SESSIONS,
    CL__ST_MEMBER_DROP_SHARES,
    CL__ST_MEMBER_DELETE,
    CL__ST_INVITATION_CANCEL,
    CL__ST_DEVICE_RENAME,
    CL__ST_DEVICE_DELETE,
    CL__ST_DEVICE_NEW_CODE,
    CL__ST_DEVICE_HEARTBEAT,
    CL__ST_DEVICE_SET_KIND,
    CL__ST_DEVICE_SET_INFO,
    CL__ST_DEVICE_GET_INFO,
    CL__ST_SECRET_INSERT,
    CL__ST_SECRET_GET,
    CL__ST_USER_COUNT,
    CL__ST_PING,
    CL__ST_SIGNIN_PRUNE,
    CL__ST_SIGNIN_INSERT,
    CL__ST_SIGNIN_BY_HASH,
    CL__ST_SIGNIN_DELETE,
    CL__ST_VERIFY_UPSERT,
    CL__ST_VERIFY_BY_HASH,
    CL__ST_VERIFY_DELETE,
    CL__ST_VERIFY_DROP_USER,
    CL__ST_USER_SET_VERIFIED,
    CL__ST_INVITATION_COUNT,
    CL__ST_INVITATION_GET,
    CL__ST_INVITATION_ANSWER,
    CL__ST__COUNT
};

#define CL__USER_SELECT                                                                            \
    "SELECT u.id, u.email, u.password_hash, u.created_at, coalesce(p.display_name, ''),"           \
    " coalesce(p.avatar_url, ''), coalesce(u.email_verified_at, 0) FROM users u"                   \
    " LEFT JOIN profiles p ON p.user_id = u.id"

#define CL__PROJECT_COLS "p.id, p.name, p.owner_id, p.created_at, p.updated_at"
#define CL__TOKEN_COLS   "id, user_id, created_at, expires_at, coalesce(last_used_at, 0)"
#define CL__SESSION_COLS                                                                           \
    "id, device_id, user_id, status, started_at, ended_at, end_reason, exit_code, name, title"

/* code_expires_at is 0 when no code is live, as struct cl_device says */
#define CL__DEVICE_COLS                                                                            \
    "id, project_id, name, status, paired, last_seen, created_at,"                                 \
    " CASE WHEN pairing_code_hash IS NULL THEN 0 ELSE pairing_code_expires_at END,"                \
    " kind, coalesce(connected_at, 0), coalesce(last_heartbeat, 0)"

static const char *const cl__sql[CL__ST__COUNT] = {
    [CL__ST_USER_INSERT] = "INSERT INTO users (id, email, password_hash, created_at)"
                           " VALUES (?1, ?2, ?3, ?4)",
    [CL__ST_PROFILE_INSERT] =
        "INSERT INTO profiles (id, user_id, display_name) VALUES (?1, ?2, ?3)",
    /* users.email is COLLATE NOCASE, so this compares case-insensitively
     * and uses the unique index */
    [CL__ST_USER_BY_EMAIL] = CL__USER_SELECT " WHERE u.email = ?1",
    [CL__ST_USER_BY_ID] = CL__USER_SELECT " WHERE u.id = ?1",
    [CL__ST_TOKEN_INSERT] =
        "INSERT INTO api_tokens (token_hash, user_id, created_at, expires_at, id)"
        " VALUES (?1, ?2, ?3, ?4, ?5)",
    [CL__ST_TOKEN_USER] = "SELECT user_id, coalesce(last_used_at, 0) FROM api_tokens"
                          " WHERE token_hash = ?1 AND revoked_at IS NULL AND expires_at > ?2",
    /* the first revocation time sticks; revoking twice is not an error */
    [CL__ST_TOKEN_REVOKE] = "UPDATE api_tokens"
                            " SET revoked_at = coalesce(revoked_at, CAST(strftime('%s', 'now')"
                            " AS INTEGER)) WHERE token_hash = ?1",
    [CL__ST_PROJECT_INSERT] = "INSERT INTO projects (id, name, owner_id, created_at, updated_at)"
                              " VALUES (?1, ?2, ?3, ?4, ?5)",
    [CL__ST_PROJECT_GET] = "SELECT " CL__PROJECT_COLS " FROM projects p WHERE p.id = ?1",
    [CL__ST_MEMBER_INSERT] = "INSERT INTO project_members"
                             " (id, project_id, user_id, role, invited_by, created_at)"
                             " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [CL__ST_MEMBER_ROLE] =
        "SELECT role FROM project_members WHERE project_id = ?1 AND user_id = ?2",
    [CL__ST_DEVICE_INSERT] =
        "INSERT INTO devices (id, project_id, name, pairing_code_hash,"
        " pairing_code_expires_at, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [CL__ST_DEVICE_GET] = "SELECT " CL__DEVICE_COLS " FROM devices WHERE id = ?1",
    [CL__ST_DEVICE_BY_CODE] = "SELECT id, pairing_code_hash, pairing_code_expires_at FROM devices"
                              " WHERE pairing_code_hash = ?1",
    [CL__ST_DEVICE_CLEAR_CODE] = "UPDATE devices SET pairing_code_hash = NULL,"
                                 " pairing_code_expires_at = NULL WHERE id = ?1",
    [CL__ST_DEVICE_PAIR] = "UPDATE devices SET pairing_code_hash = NULL,"
                           " pairing_code_expires_at = NULL, device_token_hash = ?2, paired = 1,"
                           " name = coalesce(?3, name) WHERE id = ?1",
    [CL__ST_DEVICE_TOKEN] = "SELECT device_token_hash FROM devices"
                            " WHERE id = ?1 AND paired = 1 AND device_token_hash IS NOT NULL",
    /* coming online starts a connection: connected_at, and the hello is
     * the first sign of life; online_since survives a reconnect (still
     * online, or back within CL_DEVICE_ONLINE_GAP_S) */
    [CL__ST_DEVICE_STATUS] =
        "UPDATE devices SET status = ?2, last_seen = ?3,"
        " connected_at = CASE WHEN ?2 = 'online' THEN ?3 ELSE connected_at END,"
        " online_since = CASE WHEN ?2 <> 'online' THEN online_since"
        " WHEN online_since IS NOT NULL AND (status = 'online' OR last_seen >= ?3 - ?4)"
        " THEN online_since ELSE ?3 END,"
        " last_heartbeat = CASE WHEN ?2 = 'online' THEN ?3"
        " ELSE last_heartbeat END WHERE id = ?1",
    [CL__ST_DEVICE_ALL_OFFLINE] = "UPDATE devices SET status = 'offline', last_seen = ?1"
                                  " WHERE status = 'online'",
    [CL__ST_SESSION_INSERT] = "INSERT INTO sessions (id, device_id, user_id, status, started_at,"
                              " ended_at, end_reason, exit_code)"
                              " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    [CL__ST_SESSION_GET] = "SELECT " CL__SESSION_COLS " FROM sessions WHERE id = ?1",
    [CL__ST_SESSION_END] = "UPDATE sessions SET status = 'ended', ended_at = ?2, end_reason = ?3,"
                           " exit_code = ?4 WHERE id = ?1 AND status = 'active'",
    [CL__ST_SESSION_EXISTS] = "SELECT 1 FROM sessions WHERE id = ?1",
    [CL__ST_SESSION_OPEN_DEVICE] =
        "SELECT COUNT(*) FROM sessions WHERE device_id = ?1 AND status = 'active'",
    [CL__ST_SESSION_OPEN_USER] =
        "SELECT COUNT(*) FROM sessions WHERE user_id = ?1 AND status = 'active'",
    [CL__ST_SESSION_SET_NAME] = "UPDATE sessions SET name = ?2 WHERE id = ?1",
    [CL__ST_SESSION_SET_TITLE] = "UPDATE sessions SET title = ?2 WHERE id = ?1",
    [CL__ST_SHARE_SET] =
        "INSERT INTO session_shares (session_id, user_id, mode, created_by, created_at)"
        " VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (session_id, user_id)"
        " DO UPDATE SET mode = excluded.mode",
    [CL__ST_SHARE_GET] = "SELECT mode FROM session_shares WHERE session_id = ?1 AND user_id = ?2",
    [CL__ST_SHARE_REMOVE] = "DELETE FROM session_shares WHERE session_id = ?1 AND user_id = ?2",
    [CL__ST_TOKEN_TOUCH] = "UPDATE api_tokens SET last_used_at = ?2 WHERE token_hash = ?1",
    [CL__ST_TOKEN_GET] = "SELECT " CL__TOKEN_COLS " FROM api_tokens WHERE id = ?1",
    [CL__ST_TOKEN_REVOKE_ID] =
        "UPDATE api_tokens SET revoked_at = coalesce(revoked_at, ?2) WHERE id = ?1",
    /* ?2 NULL: keep none */
    [CL__ST_TOKENS_REVOKE_ALL] = "UPDATE api_tokens SET revoked_at = ?3 WHERE user_id = ?1"
                                 " AND revoked_at IS NULL AND (?2 IS NULL OR token_hash <> ?2)",
    /* NULL keeps a field; an empty avatar_url clears it */
    [CL__ST_PROFILE_UPDATE] = "UPDATE profiles SET display_name = coalesce(?2, display_name),"
                              " avatar_url = CASE WHEN ?3 IS NULL THEN avatar_url"
                              " WHEN ?3 = '' THEN NULL ELSE ?3 END WHERE user_id = ?1",
    [CL__ST_USER_SET_PASSWORD] = "UPDATE users SET password_hash = ?2 WHERE id = ?1",
    [CL__ST_USER_OWNS_SHARED] =
        "SELECT 1 FROM projects p WHERE p.owner_id = ?1 AND EXISTS (SELECT 1 FROM"
        " project_members m WHERE m.project_id = p.id AND m.user_id <> ?1) LIMIT 1",
    [CL__ST_USER_END_SESSIONS] =
        "UPDATE sessions SET status = 'ended', ended_at = ?2, end_reason = ?3"
        " WHERE user_id = ?1 AND status = 'active'",
    /* the foreign keys do the rest: owned projects (and their devices,
     * sessions, members, invitations), memberships, tokens, shares, the
     * reset token and the profile cascade; history keeps a NULL user */
    [CL__ST_USER_DELETE] = "DELETE FROM users WHERE id = ?1",
    [CL__ST_RESET_INSERT] =
        "INSERT INTO password_resets (id, user_id, token_hash, created_at, expires_at)"
        " VALUES (?1, ?2, ?3, ?4, ?5)",
    [CL__ST_RESET_PURGE] = "DELETE FROM password_resets WHERE user_id = ?1 AND expires_at <= ?2",
    [CL__ST_RESET_COUNT] = "SELECT count(*) FROM password_resets WHERE user_id = ?1",
    [CL__ST_RESET_DELETE_USER] = "DELETE FROM password_resets WHERE user_id = ?1",
    [CL__ST_RESET_BY_HASH] =
        "SELECT user_id, token_hash, expires_at FROM password_resets WHERE token_hash = ?1",
    [CL__ST_RESET_DELETE] = "DELETE FROM password_resets WHERE token_hash = ?1",
    [CL__ST_PROJECT_RENAME] = "UPDATE projects SET name = ?2, updated_at = ?3 WHERE id = ?1",
    /* devices, sessions, shares, members and invitations cascade */
    [CL__ST_PROJECT_DELETE] = "DELETE FROM projects WHERE id = ?1",
    [CL__ST_MEMBER_END_SESSIONS] =
        "UPDATE sessions SET status = 'ended', ended_at = ?3, end_reason = ?4"
        " WHERE user_id = ?2 AND status = 'active'"
        " AND device_id IN (SELECT id FROM devices WHERE project_id = ?1)",
    [CL__ST_MEMBER_DROP_SHARES] =
        "DELETE FROM session_shares WHERE user_id = ?2 AND session_id IN"
        " (SELECT s.id FROM sessions s JOIN devices d ON d.id = s.device_id"
        " WHERE d.project_id = ?1)",
    [CL__ST_MEMBER_DELETE] = "DELETE FROM project_members WHERE project_id = ?1 AND user_id = ?2",
    [CL__ST_INVITATION_CANCEL] = "UPDATE invitations SET status = 'cancelled'"
                                 " WHERE id = ?2 AND project_id = ?1 AND status = 'pending'",
    [CL__ST_DEVICE_RENAME] = "UPDATE devices SET name = ?2 WHERE id = ?1",
    /* its sessions and their shares cascade */
    [CL__ST_DEVICE_DELETE] = "DELETE FROM devices WHERE id = ?1",
    [CL__ST_DEVICE_NEW_CODE] =
        "UPDATE devices SET pairing_code_hash = ?2, pairing_code_expires_at = ?3 WHERE id = ?1",
    [CL__ST_DEVICE_HEARTBEAT] = "UPDATE devices SET last_heartbeat = ?2 WHERE id = ?1",
    [CL__ST_DEVICE_SET_KIND] = "UPDATE devices SET kind = ?2 WHERE id = ?1",
    /* ?2 NULL keeps the metadata (and its time), ?3 NULL the address */
    [CL__ST_DEVICE_SET_INFO] =
        "UPDATE devices SET meta = coalesce(?2, meta),"
        " meta_updated_at = CASE WHEN ?2 IS NULL THEN meta_updated_at ELSE ?4 END,"
        " remote_addr = coalesce(?3, remote_addr) WHERE id = ?1",
    [CL__ST_DEVICE_GET_INFO] = "SELECT coalesce(meta, ''), coalesce(remote_addr, ''),"
                               " coalesce(meta_updated_at, 0), coalesce(online_since, 0),"
                               " coalesce(connected_at, 0) FROM devices WHERE id = ?1",
    [CL__ST_SECRET_INSERT] =
        "INSERT INTO relay_secrets (name, value) VALUES (?1, ?2) ON CONFLICT (name) DO NOTHING",
    [CL__ST_SECRET_GET] = "SELECT value FROM relay_secrets WHERE name = ?1",
    [CL__ST_USER_COUNT] = "SELECT count(*) FROM users",
    /* one row whatever the table holds; reads at most one page of it */
    [CL__ST_PING] = "SELECT count(*) FROM (SELECT 1 FROM users LIMIT 1)",
    [CL__ST_SIGNIN_PRUNE] = "DELETE FROM signin_codes WHERE expires_at <= ?1",
    [CL__ST_SIGNIN_INSERT] = "INSERT INTO signin_codes (code_hash, user_id, created_at, expires_at)"
                             " VALUES (?1, ?2, ?3, ?4)",
    [CL__ST_SIGNIN_BY_HASH] =
        "SELECT user_id, code_hash, expires_at FROM signin_codes WHERE code_hash = ?1",
    [CL__ST_SIGNIN_DELETE] = "DELETE FROM signin_codes WHERE code_hash = ?1",
    [CL__ST_VERIFY_UPSERT] =
        "INSERT INTO email_verifications (user_id, email, token_hash, created_at, expires_at)"
        " VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (user_id) DO UPDATE SET email = excluded.email,"
        " token_hash = excluded.token_hash, created_at = excluded.created_at,"
        " expires_at = excluded.expires_at",
    [CL__ST_VERIFY_BY_HASH] = "SELECT user_id, token_hash, expires_at, email"
                              " FROM email_verifications WHERE token_hash = ?1",
    [CL__ST_VERIFY_DELETE] = "DELETE FROM email_verifications WHERE token_hash = ?1",
    [CL__ST_VERIFY_DROP_USER] = "DELETE FROM email_verifications WHERE user_id = ?1",
    /* ?3 NULL: any address; else only while the account's address is ?3 */
    [CL__ST_USER_SET_VERIFIED] = "UPDATE users SET email_verified_at = ?2"
                                 " WHERE id = ?1 AND (?3 IS NULL OR email = ?3)",
    [CL__ST_INVITATION_COUNT] =
        "SELECT COUNT(*) FROM invitations WHERE project_id = ?1 AND status = 'pending'",
    [CL__ST_INVITATION_GET] =
        "SELECT i.id, i.project_id, i.email, coalesce(i.invited_by, ''), i.created_at, p.name,"
        " coalesce(u.email, ''), coalesce(pr.display_name, '') FROM invitations i"
        " JOIN projects p ON p.id = i.project_id LEFT JOIN users u ON u.id = i.invited_by"
        " LEFT JOIN profiles pr ON pr.user_id = i.invited_by"
        " WHERE i.id = ?1 AND i.status = 'pending'",
    [CL__ST_INVITATION_ANSWER] = "UPDATE invitations SET status = ?2, responded_at = ?3"
                                 " WHERE id = ?1 AND status = 'pending'",
};

/* Prepared per call: see the module comment. */
static const char cl__sql_project_list[] =
    "SELECT " CL__PROJECT_COLS ", m.role FROM project_members m"
    " JOIN projects p ON p.id = m.project_id WHERE m.user_id = ?1"
    " ORDER BY p.created_at DESC, p.rowid DESC";
static const char cl__sql_device_list[] = "SELECT " CL__DEVICE_COLS " FROM devices"
                                          " WHERE project_id = ?1 ORDER BY created_at, rowid";
static const char cl__sql_invitation_insert[] =
    "INSERT INTO invitations (id, project_id, email, invited_by, status, created_at)"
    " VALUES (?1, ?2, ?3, ?4, 'pending', ?5)";
static const char cl__sql_invitation_for_email[] =
    "SELECT i.id, i.project_id, i.email, coalesce(i.invited_by, ''), i.created_at, p.name,"
    " coalesce(u.email, ''), coalesce(pr.display_name, '') FROM invitations i"
    " JOIN projects p ON p.id = i.project_id LEFT JOIN users u ON u.id = i.invited_by"
    " LEFT JOIN profiles pr ON pr.user_id = i.invited_by"
    " WHERE i.email = ?1 AND i.status = 'pending' ORDER BY i.created_at, i.rowid";
static const char cl__sql_share_list[] =
    "SELECT sh.user_id, u.email, sh.mode, sh.created_at FROM session_shares sh"
    " JOIN users u ON u.id = sh.user_id WHERE sh.session_id = ?1 ORDER BY sh.created_at, u.email";
static const char cl__sql_token_list[] =
    "SELECT " CL__TOKEN_COLS ", coalesce(token_hash = ?3, 0) FROM api_tokens"
    " WHERE user_id = ?1 AND revoked_at IS NULL AND expires_at > ?2"
    " ORDER BY created_at DESC, rowid DESC";
static const char cl__sql_session_active_all[] =
    "SELECT " CL__SESSION_COLS " FROM sessions WHERE status = 'active' ORDER BY started_at, rowid";
static const char cl__sql_session_active_device[] =
    "SELECT " CL__SESSION_COLS " FROM sessions WHERE status = 'active' AND device_id = ?1"
    " ORDER BY started_at, rowid";

static const char cl__sql_member_list[] =
    "SELECT m.user_id, u.email, coalesce(pr.display_name, ''), m.role,"
    " coalesce(m.invited_by, ''), m.created_at FROM project_members m"
    " JOIN users u ON u.id = m.user_id LEFT JOIN profiles pr ON pr.user_id = m.user_id"
    " WHERE m.project_id = ?1 ORDER BY m.role = 'owner' DESC, m.created_at, m.rowid";
static const char cl__sql_invitation_list[] =
    "SELECT id, project_id, email, coalesce(invited_by, ''), created_at FROM invitations"
    " WHERE project_id = ?1 AND status = 'pending' ORDER BY created_at, rowid";
static const char cl__sql_device_list_for_user[] =
    "SELECT " CL__DEVICE_COLS " FROM devices WHERE paired = 1 AND project_id IN"
    " (SELECT project_id FROM project_members WHERE user_id = ?1) ORDER BY created_at, rowid";
/* NULL parameters switch a filter off; LIMIT -1 is no limit. Each device's
 * sessions come off the sessions_device index in time order. */
static const char cl__sql_session_list[] =
    "SELECT s.id, s.device_id, s.user_id, s.status, s.started_at, s.ended_at, s.end_reason,"
    " s.exit_code, s.name, s.title, d.name, coalesce(u.email, ''), coalesce(pr.display_name, '')"
    " FROM sessions s JOIN devices d ON d.id = s.device_id"
    " LEFT JOIN users u ON u.id = s.user_id LEFT JOIN profiles pr ON pr.user_id = s.user_id"
    " WHERE d.project_id = ?1 AND (?2 IS NULL OR s.device_id = ?2)"
    " AND (?3 IS NULL OR s.user_id = ?3) AND (?4 IS NULL OR s.status = ?4)"
    " AND (?6 IS NULL OR s.started_at < ?5 OR (s.started_at = ?5 AND s.id < ?6))"
    " ORDER BY s.started_at DESC, s.id DESC LIMIT ?7";

struct cl__sqlite {
    sqlite3 *db;
    struct cl_sqlite_set set; /* st, plus BEGIN/COMMIT/ROLLBACK */
    sqlite3_stmt *st[CL__ST__COUNT];
};

static const struct cl_store_ops cl__sqlite_ops;

/* ---- helpers ------------------------------------------------------------ */

static const char *cl__role_name(enum cl_role r)
{
    return r == CL_ROLE_OWNER ? "owner" : "member";
}

static enum cl_role cl__role_from(const unsigned char *s)
{
    if (!s)
        return CL_ROLE_NONE;
    if (strcmp((const char *)s, "owner") == 0)
        return CL_ROLE_OWNER;
    if (strcmp((const char *)s, "member") == 0)
        return CL_ROLE_MEMBER;
    return CL_ROLE_NONE;
}

/* ---- users and tokens ---------------------------------------------------- */

static void cl__close(struct cl_store *s)
{
    struct cl__sqlite *q = s->impl;
    if (!q)
        return;
    cl_sqlite_set_finalize(&q->set);
    cl_sqlite_close(q->db);
    free(q);
    s->impl = NULL;
}

/* Inserts the user and its profile in one transaction. The email is stored
 * lower-cased (ASCII, the same set COLLATE NOCASE folds). CL_EINVAL if a
 * field does not fit its struct buffer on the way back out. */
static int cl__user_create(struct cl_store *s, const struct cl_user *u)
{
    struct cl__sqlite *q = s->impl;
    char email[CL_EMAIL_MAX + 1], profile_id[CL_UUID_LEN + 1];
    sqlite3_stmt *st;
    size_t i;
    int rc;

    for (i = 0; u->email[i] && i < CL_EMAIL_MAX; i++) /* checked, and bounded anyway */
        email[i] = (char)tolower((unsigned char)u->email[i]);
    email[i] = 0;
    cl_uuid_new(profile_id);

    rc = cl_sqlite_begin(&q->set, __func__);
    if (rc)
        return rc;
    st = q->st[CL__ST_USER_INSERT];
    rc = cl_sqlite_exec(st,
                        sqlite3_bind_text(st, 1, u->id, -1, SQLITE_STATIC) |
                            sqlite3_bind_text(st, 2, email, -1, SQLITE_STATIC) |
                            sqlite3_bind_text(st, 3, u->pw_hash, -1, SQLITE_STATIC) |
                            sqlite3_bind_int64(st, 4, u->created_at),
                        __func__);
    if (rc)
        goto out_rollback;
    st = q->st[CL__ST_PROFILE_INSERT];
    rc = cl_sqlite_exec(st,
                        sqlite3_bind_text(st, 1, profile_id, -1, SQLITE_STATIC) |
                            sqlite3_bind_text(st, 2, u->id, -1, SQLITE_STATIC) |
                            sqlite3_bind_text(st, 3, u->display_name, -1, SQLITE_STATIC),
                        __func__);
    if (rc)
        goto out_rollback;
    return cl_sqlite_commit(&q->set, __func__);

out_rollback:
    cl_sqlite_rollback(&q->set, __func__);
    return rc;
}

/* Reads one user row from st (bound, not yet stepped) into *out. The
 * result is built in a local first: callers may pass a key that lives in
 * *out (user_by_email(s, u.email, &u)). */
static int cl__user_read(sqlite3_stmt *st, int brc, struct cl_user *out, const char *op)
{
    struct cl_user u;
    int rc = cl_sqlite_step(st, brc, op);
    if (rc < 0)
        return rc;
    memset(&u, 0, sizeof u);
    if (rc == 1) {
        cl_sqlite_col_str(st, 0, u.id, sizeof u.id);
        cl_sqlite_col_str(st, 1, u.email, sizeof u.email);
        cl_sqlite_col_str(st, 2, u.pw_hash, sizeof u.pw_hash);
        u.created_at = sqlite3_column_int64(st, 3);
        cl_sqlite_col_str(st, 4, u.display_name, sizeof u.display_name);
        cl_sqlite_col_str(st, 5, u.avatar_url, sizeof u.avatar_url);
        u.email_verified_at = sqlite3_column_int64(st, 6);
    }
    cl_sqlite_reset(st);
    if (rc == 0)
        return CL_ENOTFOUND;
    *out = u;
    cl_wipe(u.pw_hash, sizeof u.pw_hash);
    return 0;
}

static int cl__user_by_email(struct cl_store *s, const char *email, struct cl_user *out)
{
    struct cl__sqlite *q = s->impl;
    sqlite3_stmt *st = q->st[CL__ST_USER_BY_EMAIL];
    return cl__user_read(st, cl_sqlite_bind_str(st, 1, email), out, __func__);
}

static int cl__user_by_id(struct cl_store *s, const char *id, struct cl_user *out)
{
    struct cl__sqlite *q = s->impl;
    sqlite3_stmt *st = q->st[CL__ST_USER_BY_ID];
    return cl__user_read(st, cl_sqlite_bind_str(st, 1, id), out, __func__);
}

static int cl__token_create(struct cl_store *s, const uint8_t hash[CL_HASH_LEN],
                            const char *user_id, int64_t now, int64_t expires_at)
{
    struct cl__sqlite *q = s->impl;
    sqlite3_stmt *st = q->st[CL__ST_TOKEN_INSERT];
    char id[CL_UUID_LEN + 1];
    cl_uuid_new(id);
    return cl_sqlite_exec(
        st,
        cl_sqlite_bind_hash(st, 1, hash) | sqlite3_bind_text(st, 2, user_id, -1, SQLITE_STATIC) |
            sqlite3_bind_int64(st, 3, now) | sqlite3_bind_int64(st, 4, expires_at) |
            sqlite3_bind_text(st, 5, id, -1, SQLITE_STATIC),
        __func__);
}

static int cl__token_user(struct cl_store *s, const uint8_t hash[CL_HASH_LEN], int64_t now,
                          char user_id[CL_UUID_LEN + 1])
{
    struct cl__sqlite *q = s->impl;
    sqlite3_stmt *st = q->st[CL__ST_TOKEN_USER];
    int64_t last_used = 0;
    int rc;
    rc = cl_sqlite_step(st, cl_sqlite_bind_hash(st, 1, hash) | sqlite3_bind_int64(st, 2, now),
                        __func__);
    if (rc < 0)
        return rc;
    if (rc == 1) {
        cl_sqlite_col_str(st, 0, user_id, CL_UUID_LEN + 1);
        last_used = sqlite3_column_int64(st, 1);
    }
    cl_sqlite_reset(st);
    if (rc == 0)
        return CL_ENOTFOUND;
    /* a failed touch costs the caller nothing: it is logged, not returned */
    if (last_used == 0 || now - last_used >= CL_TOKEN_TOUCH_S) {
        st = q->st[CL__ST_TOKEN_TOUCH];
        cl_sqlite_exec(st, cl_sqlite_bind_hash(st, 1, hash) | sqlite3_bind_int64(st, 2, now),
                       __func__);
    }
    return 0;
}

static int cl__token_revoke(struct cl_store *s, const uint8_t hash[CL_HASH_LEN])
{
    struct cl__sqlite *q = s->impl;
    sqlite3_stmt *st = q->st[CL__ST_TOKEN_REVOKE];
    int rc;
    rc = cl_sqlite_exec(st, cl_sqlite_bind_hash(st, 1, hash), __func__);
    if (rc)
        return rc;
    return sqlite3_changes(q->db) ? 0 : CL_ENOTFOUND;
}

/* ---- projects and members ------------------------------------------------ */

static void cl__project_row(sqlite3_stmt *st, struct cl_project *p)
{
    memset(p, 0, sizeof *p);
    cl_sqlite_col_str(st, 0, p->id, sizeof p->id);
    cl_sqlite_col_str(st, 1, p->name, sizeof p->name);
    cl_sqlite_col_str(st, 2, p->owner_id, sizeof p->owner_id);
    p->created_at = sqlite3_column_int64(st, 3);
    p->updated_at = sqlite3_column_int64(st, 4);
}

static int cl__member_insert(struct cl__sqlite *q, const char *project_id, const char *user_id,
                             enum cl_role role, const char *invited_by, int64_t now, const char *op)
{
    sqlite3_stmt *st = q->st[CL__ST_MEMBER_INSERT];
    char id[CL_UUID_LEN + 1];
    cl_uuid_new(id);
    return cl_sqlite_exec(st,
                          sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC) |
                              sqlite3_bind_text(st, 2, project_id, -1, SQLITE_STATIC) |
                              sqlite3_bind_text(st, 3, user_id, -1, SQLITE_STATIC) |
                              sqlite3_bind_text(st, 4, cl__role_name(role), -1, SQLITE_STATIC) |
                              cl_sqlite_bind_opt(st, 5, invited_by) |
                              sqlite3_bind_int64(st, 6, now),
                          op);
}

/* Inserts the project and its owner's membership in one transaction.
 * CL_ENOTFOUND if the owner does not exist, CL_EEXIST if the id does. */
static int cl__project_create(struct cl_store *s, const struct cl_project *p)
{
    struct cl__sqlite *q = s->impl;
    sqlite3_stmt *st = q->st[CL__ST_PROJECT_INSERT];
    int rc;

    rc = cl_sqlite_begin(&q->set, __func__);
    if (rc)
        return rc;
    rc = cl_sqlite_exec(st,
                        sqlite3_bind_text(st, 1, p->id, -1, SQLITE_STATIC) |
                            sqlite3_bind_text(st, 2, p->name, -1, SQLITE_STATIC) |
                            sqlite3_bind_text(st, 3, p->owner_id, -1, SQLITE_STATIC) |
                            sqlite3_bind_int64(st, 4, p->created_at) |
                            sqlite3_bind_int64(st, 5, p->updated_at),
                        __func__);
    if (rc)
        goto out_rollback;
    rc = cl__member_insert(q, p->id, p->owner_id, CL_ROLE_OWNER, NULL, p->created_at, __func__);
    if (rc)
        goto out_rollback;
    return cl_sqlite_commit(&q->set, __func__);

out_rollback:
    cl_sqlite_rollback(&q->set, __func__);
    return rc;
}

static int cl__project_get(struct cl_store *s, const char *id, struct cl_project *out)
{
    struct cl__sqlite *q = s->impl;
    sqlite3_stmt *st = q->st[CL__ST_PROJECT_GET];
    struct cl_project p;
    int rc = cl_sqlite_step(st, cl_sqlite_bind_str(st, 1, id), __func__);
    if (rc < 0)
        return rc;
    if (rc == 1)
        cl__project_row(st, &p);
    cl_sqlite_reset(st);
    if (rc == 0)
        return CL_ENOTFOUND;
    *out = p;
    return 0;
}

static int cl__project_list_for_user(struct cl_store *s, const char *user_id, cl_project_cb cb,
                                     void *ctx)
{
    struct cl__sqlite *q = s->impl;
    sqlite3_stmt *st = NULL;
    struct cl_project p;
    int brc, rc;

    rc = cl_sqlite_prepare(q->db, cl__sql_project_list, &st, __func__);
    if (rc)
        return rc;
    brc = cl_sqlite_bind_str(st, 1, user_id);
    while ((rc = cl_sqlite_step(st, brc, __func__)) == 1) {
        cl__project_row(st, &p);
        p.role = cl__role_from(sqlite3_column_text(st, 5));
        cb(&p, ctx);
    }
    sqlite3_finalize(st);
    return rc;
}

static int cl__member_add(struct cl_store *s, const char *project_id, const char *user_id,
                          enum cl_role role, const char *invited_by, int64_t now)
{
    struct cl__sqlite *q = s->impl;
    return cl__member_insert(q, project_id, user_id, role, invited_by, now, __func__);
}

static int cl__member_role(struct cl_store *s, const char *project_id, const char *user_id,
                           enum cl_role *out)
{
    struct cl__sqlite *q = s->impl;
    sqlite3_stmt *st = q->st[CL__ST_MEMBER_ROLE];
    enum cl_role role = CL_ROLE_NONE;
    int rc = cl_sqlite_step(
        st, cl_sqlite_bind_str(st, 1, project_id) | cl_sqlite_bind_str(st, 2, user_id), __func__);
    if (rc < 0)
        return rc;
    if (rc == 1)
        role = cl__role_from(sqlite3_column_text(st, 0));
    cl_sqlite_reset(st);
    *out = role;
    return 0;
}

/* ---- devices -------------------------------------------------------------- */

static void cl__device_row(sqlite3_stmt *st, struct cl_device *d)
{
    const unsigned char *status;
    memset(d, 0, sizeof *d);
    cl_sqlite_col_str(st, 0, d->id, sizeof d->id);
    cl_sqlite_col_str(st, 1, d->project_id, sizeof d->project_id);
    cl_sqlite_col_str(st, 2, d->name, sizeof d->name);
    status = sqlite3_column_text(st, 3);
    d->online = status && strcmp((const char *)status, "online") == 0;
    d->paired = sqlite3_column_int(st, 4) != 0;
    d->last_seen = sqlite3_column_int64(st, 5); /* NULL reads as 0: never */
    d->created_at = sqlite3_column_int64(st, 6);
    d->code_expires_at = sqlite3_column_int64(st, 7);
    cl_sqlite_col_str(st, 8, d->kind, sizeof d->kind);
    d->connected_at = sqlite3_column_int64(st, 9);
    d->last_heartbeat = sqlite3_column_int64(st, 10);
}

/* Reads the device id from st (bound, not yet stepped) into *out. */
static int cl__device_read(sqlite3_stmt *st, int brc, struct cl_device *out, const char *op)
{
    struct cl_device d;
    int rc = cl_sqlite_step(st, brc, op);
    if (rc < 0)
        return rc;
    if (rc == 1)
        cl__device_row(st, &d);
    cl_sqlite_reset(st);
    if (rc == 0)
        return CL_ENOTFOUND;
    if (out)
        *out = d;
    return 0;
}

/* A NULL code_hash creates the device without a pairing code. CL_EEXIST
 * if the id or (improbably) a live code hash is taken: retry with fresh
 * ones. CL_ENOTFOUND if the project does not exist. */
static int cl__device_create(struct cl_store *s, const struct cl_device *d,
                             const uint8_t code_hash[CL_HASH_LEN], int64_t code_expires_at)
{
    struct cl__sqlite *q = s->impl;
    sqlite3_stmt *st = q->st[CL__ST_DEVICE_INSERT];
    return cl_sqlite_exec(
        st,
        sqlite3_bind_text(st, 1, d->id, -1, SQLITE_STATIC) |
            sqlite3_bind_text(st, 2, d->project_id, -1, SQLITE_STATIC) |
            sqlite3_bind_text(st, 3, d->name, -1, SQLITE_STATIC) |
            cl_sqlite_bind_hash(st, 4, code_hash) |
            (code_hash ? sqlite3_bind_int64(st, 5, code_expires_at) : sqlite3_bind_null(st, 5)) |
            sqlite3_bind_int64(st, 6, d->created_at),
        __func__);
}

static int cl__device_get(struct cl_store *s, const char *id, struct cl_device *out)
{
    struct cl__sqlite *q = s->impl;
    sqlite3_stmt *st = q->st[CL__ST_DEVICE_GET];
    return cl__device_read(st, cl_sqlite_bind_str(st, 1, id), out, __func__);
}

static int cl__device_list(struct cl_store *s, const char *project_id, cl_device_cb cb, void *ctx)
{
    struct cl__sqlite *q = s->impl;
    sqlite3_stmt *st = NULL;
    struct cl_device d;
    int brc, rc;

    rc = cl_sqlite_prepare(q->db, cl__sql_device_list, &st, __func__);
    if (rc)
        return rc;
    brc = cl_sqlite_bind_str(st, 1, project_id);
    while ((rc = cl_sqlite_step(st, brc, __func__)) == 1) {
        cl__device_row(st, &d);
        cb(&d, ctx);
    }
    sqlite3_finalize(st);
    return rc;
}

/* The whole exchange runs in one IMMEDIATE transaction, so two requests
 * racing with the same code (from this or another relay process) cannot
 * both pair: the second finds the code cleared. The device is found by
 * its code hash (an index lookup; the code is random, so the hash leaks
 * nothing about which codes exist) and the stored hash is compared again
 * in constant time before it is trusted. */
static int cl__device_pair(struct cl_store *s, const uint8_t code_hash[CL_HASH_LEN], int64_t now,
                           const char *name, const uint8_t token_hash[CL_HASH_LEN],
                           struct cl_device *out)
{
    struct cl__sqlite *q = s->impl;
    sqlite3_stmt *st;
    char id[CL_UUID_LEN + 1];
    struct cl_device d;
    bool match, expired;
    int rc;

    rc = cl_sqlite_begin(&q->set, __func__);
    if (rc)
        return rc;

    st = q->st[CL__ST_DEVICE_BY_CODE];
    rc = cl_sqlite_step(st, cl_sqlite_bind_hash(st, 1, code_hash), __func__);
    if (rc < 0)
        goto out_rollback;
    if (rc == 0) {
        cl_sqlite_reset(st);
        rc = CL_ENOTFOUND;
        goto out_rollback;
    }
    cl_sqlite_col_str(st, 0, id, sizeof id);
    match = sqlite3_column_bytes(st, 1) == CL_HASH_LEN &&
            cl_secret_equal(sqlite3_column_blob(st, 1), code_hash);
    expired = sqlite3_column_int64(st, 2) <= now;
    cl_sqlite_reset(st);
    if (!match) {
        rc = CL_ENOTFOUND;
        goto out_rollback;
    }

    if (expired) {
        /* an expired code is spent too: it can never succeed later */
        st = q->st[CL__ST_DEVICE_CLEAR_CODE];
        rc = cl_sqlite_exec(st, sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC), __func__);
        if (rc)
            goto out_rollback;
        rc = cl_sqlite_commit(&q->set, __func__);
        return rc ? rc : CL_EEXPIRED;
    }

    st = q->st[CL__ST_DEVICE_PAIR];
    rc =
        cl_sqlite_exec(st,
                       sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC) |
                           cl_sqlite_bind_hash(st, 2, token_hash) | cl_sqlite_bind_opt(st, 3, name),
                       __func__);
    if (rc)
        goto out_rollback;
    st = q->st[CL__ST_DEVICE_GET];
    rc = cl__device_read(st, sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC), &d, __func__);
    if (rc)
        goto out_rollback;
    rc = cl_sqlite_commit(&q->set, __func__);
    if (rc)
        return rc;
    if (out)
        *out = d;
    return 0;

out_rollback:
    cl_sqlite_rollback(&q->set, __func__);
    return rc;
}

static int cl__device_code_check(struct cl_store *s, const uint8_t code_hash[CL_HASH_LEN],
                                 int64_t now, char *id_out)
{
    struct cl__sqlite *q = s->impl;
    sqlite3_stmt *st = q->st[CL__ST_DEVICE_BY_CODE];
    char id[CL_UUID_LEN + 1];
    bool match, expired;
    int rc;

    rc = cl_sqlite_step(st, cl_sqlite_bind_hash(st, 1, code_hash), __func__);
    if (rc <= 0) {
        cl_sqlite_reset(st);
        return rc < 0 ? rc : CL_ENOTFOUND;
    }
    cl_sqlite_col_str(st, 0, id, sizeof id);
    match = sqlite3_column_bytes(st, 1) == CL_HASH_LEN &&
            cl_secret_equal(sqlite3_column_blob(st, 1), code_hash);
    expired = sqlite3_column_int64(st, 2) <= now;
    cl_sqlite_reset(st);
    if (!match)
        return CL_ENOTFOUND;
    if (expired)
        return CL_EEXPIRED;
    memcpy(id_out, id, sizeof id);
    return 0;
}

static int cl__device_code_void(struct cl_store *s, const uint8_t code_hash[CL_HASH_LEN],
                                char *id_out)
{
    struct cl__sqlite *q = s->impl;
    sqlite3_stmt *st;
    char id[CL_UUID_LEN + 1];
    int rc = cl__device_code_check(s, code_hash, INT64_MIN, id);
    if (rc)
        return rc; /* INT64_MIN: an expired code is found too */
    st = q->st[CL__ST_DEVICE_CLEAR_CODE];
    rc = cl_sqlite_exec(st, sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC), __func__);
    if (rc == 0 && !sqlite3_changes(q->db))
        rc = CL_ENOTFOUND;
    if (rc == 0 && id_out)
        memcpy(id_out, id, sizeof id);
    return rc;
}

static int cl__device_token_hash(struct cl_store *s, const char *device_id,
                                 uint8_t out[CL_HASH_LEN])
{
    struct cl__sqlite *q = s->impl;
    sqlite3_stmt *st = q->st[CL__ST_DEVICE_TOKEN];
    int rc = cl_sqlite_step(st, cl_sqlite_bind_str(st, 1, device_id), __func__);
    if (rc < 0)
        return rc;
    if (rc == 1) {
        if (sqlite3_column_bytes(st, 0) == CL_HASH_LEN) {
            memcpy(out, sqlite3_column_blob(st, 0), CL_HASH_LEN);
        } else {
            cl_error("store", "stored device token hash has the wrong length", "op=%s", __func__);
            rc = CL_EDB;
        }
    }
    cl_sqlite_reset(st);
    return rc == 1 ? 0 : rc == 0 ? CL_ENOTFOUND : rc;
}

static int cl__device_set_online(struct cl_store *s, const char *device_id, bool online,
                                 int64_t now)
{
    struct cl__sqlite *q = s->impl;
    sqlite3_stmt *st = q->st[CL__ST_DEVICE_STATUS];
    int rc = cl_sqlite_exec(
        st,
        cl_sqlite_bind_str(st, 1, device_id) |
            sqlite3_bind_text(st, 2, online ? "online" : "offline", -1, SQLITE_STATIC) |
            sqlite3_bind_int64(st, 3, now) | sqlite3_bind_int64(st, 4, CL_DEVICE_ONLINE_GAP_S),
        __func__);
    if (rc)
        return rc;
    return sqlite3_changes(q->db) ? 0 : CL_ENOTFOUND;
}

static int cl__device_all_offline(struct cl_store *s, int64_t now)
{
    struct cl__sqlite *q = s->impl;
    sqlite3_stmt *st = q->st[CL__ST_DEVICE_ALL_OFFLINE];
    return cl_sqlite_exec(st, sqlite3_bind_int64(st, 1, now), __func__);
}

/* ---- sessions -------------------------------------------------------------- */

/* Records sess as given: normally active (ended_at, reason and exit code
 * are then ignored). An empty user_id is stored as NULL. */
static int cl__session_create(struct cl_store *s, const struct cl_session *sess)
{
    struct cl__sqlite *q = s->impl;
    sqlite3_stmt *st = q->st[CL__ST_SESSION_INSERT];
    bool ended = !sess->active;

    return cl_sqlite_exec(
        st,
        sqlite3_bind_text(st, 1, sess->id, -1, SQLITE_STATIC) |
            sqlite3_bind_text(st, 2, sess->device_id, -1, SQLITE_STATIC) |
            cl_sqlite_bind_opt(st, 3, sess->user_id) |
            sqlite3_bind_text(st, 4, ended ? "ended" : "active", -1, SQLITE_STATIC) |
            sqlite3_bind_int64(st, 5, sess->started_at) |
            (ended ? sqlite3_bind_int64(st, 6, sess->ended_at) : sqlite3_bind_null(st, 6)) |
            cl_sqlite_bind_opt(st, 7, ended ? sess->end_reason : NULL) |
            (ended && sess->has_exit_code ? sqlite3_bind_int(st, 8, sess->exit_code)
                                          : sqlite3_bind_null(st, 8)),
        __func__);
}

/* COUNT(*) of st bound to id. */
static int cl__count_by(sqlite3_stmt *st, const char *id, size_t *out, const char *what)
{
    int rc = cl_sqlite_step(st, sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC), what);
    if (rc > 0)
        *out = (size_t)sqlite3_column_int64(st, 0);
    cl_sqlite_reset(st);
    return rc < 0 ? rc : 0;
}

static int cl__session_count_open(struct cl_store *s, const char *device_id, const char *user_id,
                                  size_t *per_device, size_t *per_user)
{
    struct cl__sqlite *q = s->impl;
    int rc;

    *per_device = *per_user = 0;
    rc = cl__count_by(q->st[CL__ST_SESSION_OPEN_DEVICE], device_id, per_device, __func__);
    if (rc)
        return rc;
    return cl__count_by(q->st[CL__ST_SESSION_OPEN_USER], user_id, per_user, __func__);
}

/* Reads a row of CL__SESSION_COLS. */
static void cl__session_row(sqlite3_stmt *st, struct cl_session *x)
{
    const unsigned char *status;
    memset(x, 0, sizeof *x);
    cl_sqlite_col_str(st, 0, x->id, sizeof x->id);
    cl_sqlite_col_str(st, 1, x->device_id, sizeof x->device_id);
    cl_sqlite_col_str(st, 2, x->user_id, sizeof x->user_id);
    status = sqlite3_column_text(st, 3);
    x->active = status && strcmp((const char *)status, "active") == 0;
    x->started_at = sqlite3_column_int64(st, 4);
    x->ended_at = sqlite3_column_int64(st, 5);
    cl_sqlite_col_str(st, 6, x->end_reason, sizeof x->end_reason);
    x->has_exit_code = sqlite3_column_type(st, 7) != SQLITE_NULL;
    x->exit_code = sqlite3_column_int(st, 7);
    cl_sqlite_col_str(st, 8, x->name, sizeof x->name);
    cl_sqlite_col_str(st, 9, x->title, sizeof x->title);
}

static int cl__session_list_active(struct cl_store *s, const char *device_id, cl_session_cb cb,
                                   void *ctx)
{
    struct cl__sqlite *q = s->impl;
    sqlite3_stmt *st = NULL;
    struct cl_session x;
    int brc = SQLITE_OK, rc;

    rc = cl_sqlite_prepare(q->db,
                           device_id ? cl__sql_session_active_device : cl__sql_session_active_all,
                           &st, __func__);
    if (rc)
        return rc;
    if (device_id)
        brc = cl_sqlite_bind_str(st, 1, device_id);
    while ((rc = cl_sqlite_step(st, brc, __func__)) == 1) {
        cl__session_row(st, &x);
        cb(&x, ctx);
    }
    sqlite3_finalize(st);
    return rc;
}

static int cl__session_get(struct cl_store *s, const char *id, struct cl_session *out)
{
    struct cl__sqlite *q = s->impl;
    sqlite3_stmt *st = q->st[CL__ST_SESSION_GET];
    struct cl_session x;
    int rc = cl_sqlite_step(st, cl_sqlite_bind_str(st, 1, id), __func__);
    if (rc < 0)
        return rc;
    if (rc == 1)
        cl__session_row(st, &x);
    cl_sqlite_reset(st);
    if (rc == 0)
        return CL_ENOTFOUND;
    *out = x;
    return 0;
}

/* Sets the name or title column (statement idx) of session id to text,
 * at most max bytes ("" stores NULL). */
static int cl__session_set_label(struct cl_store *s, enum cl__st idx, const char *id,
                                 const char *text, size_t max)
{
    struct cl__sqlite *q = s->impl;
    sqlite3_stmt *st = q->st[idx];
    int rc;

    rc = cl_sqlite_exec(st, cl_sqlite_bind_str(st, 1, id) | cl_sqlite_bind_opt(st, 2, text),
                        __func__);
    if (rc)
        return rc;
    return sqlite3_changes(q->db) ? 0 : CL_ENOTFOUND;
}

static int cl__session_set_name(struct cl_store *s, const char *id, const char *name)
{
    return cl__session_set_label(s, CL__ST_SESSION_SET_NAME, id, name, CL_SESSION_NAME_MAX);
}

static int cl__session_set_title(struct cl_store *s, const char *id, const char *title)
{
    return cl__session_set_label(s, CL__ST_SESSION_SET_TITLE, id, title, CL_SESSION_TITLE_MAX);
}

/* Ends the session if it is active; the first end wins (its time, reason
 * and exit code stay). 0 for an already ended session, CL_ENOTFOUND for
 * an unknown one. */
static int cl__session_end(struct cl_store *s, const char *id, int64_t now, const char *reason,
                           bool has_exit_code, int exit_code)
{
    struct cl__sqlite *q = s->impl;
    sqlite3_stmt *st = q->st[CL__ST_SESSION_END];
    int rc;

    rc = cl_sqlite_exec(
        st,
        cl_sqlite_bind_str(st, 1, id) | sqlite3_bind_int64(st, 2, now) |
            cl_sqlite_bind_opt(st, 3, reason) |
            (has_exit_code ? sqlite3_bind_int(st, 4, exit_code) : sqlite3_bind_null(st, 4)),
        __func__);
    if (rc || sqlite3_changes(q->db))
        return rc;
    /* nothing active by that id: ended already (fine) or unknown */
    st = q->st[CL__ST_SESSION_EXISTS];
    rc = cl_sqlite_step(st, cl_sqlite_bind_str(st, 1, id), __func__);
    if (rc < 0)
        return rc;
    cl_sqlite_reset(st);
    return rc == 1 ? 0 : CL_ENOTFOUND;
}

/* ---- invitations --------------------------------------------------------- */

static int cl__invitation_create(struct cl_store *s, const char *project_id, const char *email,
                                 const char *invited_by, int64_t now, char id[CL_UUID_LEN + 1])
{
    struct cl__sqlite *q = s->impl;
    sqlite3_stmt *st = NULL;
    int rc;
    rc = cl_sqlite_prepare(q->db, cl__sql_invitation_insert, &st, __func__);
    if (rc)
        return rc;
    cl_uuid_new(id);
    rc = cl_sqlite_step(st,
                        cl_sqlite_bind_str(st, 1, id) | cl_sqlite_bind_str(st, 2, project_id) |
                            cl_sqlite_bind_str(st, 3, email) |
                            cl_sqlite_bind_opt(st, 4, invited_by) | sqlite3_bind_int64(st, 5, now),
                        __func__);
    sqlite3_finalize(st);
    return rc < 0 ? rc : 0;
}

/* One invitation row (the columns of CL__ST_INVITATION_GET) into *inv. */
static void cl__invitation_read(sqlite3_stmt *st, struct cl_invitation *inv)
{
    memset(inv, 0, sizeof *inv);
    cl_sqlite_col_str(st, 0, inv->id, sizeof inv->id);
    cl_sqlite_col_str(st, 1, inv->project_id, sizeof inv->project_id);
    cl_sqlite_col_str(st, 2, inv->email, sizeof inv->email);
    cl_sqlite_col_str(st, 3, inv->invited_by, sizeof inv->invited_by);
    inv->created_at = sqlite3_column_int64(st, 4);
    cl_sqlite_col_str(st, 5, inv->project_name, sizeof inv->project_name);
    cl_sqlite_col_str(st, 6, inv->inviter_email, sizeof inv->inviter_email);
    cl_sqlite_col_str(st, 7, inv->inviter_name, sizeof inv->inviter_name);
}

static int cl__invitation_count_pending(struct cl_store *s, const char *project_id, size_t *out)
{
    struct cl__sqlite *q = s->impl;
    return cl__count_by(q->st[CL__ST_INVITATION_COUNT], project_id, out, __func__);
}

static int cl__invitation_get(struct cl_store *s, const char *id, struct cl_invitation *out)
{
    struct cl__sqlite *q = s->impl;
    sqlite3_stmt *st = q->st[CL__ST_INVITATION_GET];
    int rc = cl_sqlite_step(st, cl_sqlite_bind_str(st, 1, id), __func__);
    if (rc < 0)
        return rc;
    if (rc == 1)
        cl__invitation_read(st, out);
    cl_sqlite_reset(st);
    return rc == 1 ? 0 : CL_ENOTFOUND;
}

static int cl__invitation_list_for_email(struct cl_store *s, const char *email, cl_invitation_cb cb,
                                         void *ctx)
{
    struct cl__sqlite *q = s->impl;
    sqlite3_stmt *st = NULL;
    struct cl_invitation inv;
    int brc, rc;

    rc = cl_sqlite_prepare(q->db, cl__sql_invitation_for_email, &st, __func__);
    if (rc)
        return rc;
    brc = cl_sqlite_bind_str(st, 1, email);
    while ((rc = cl_sqlite_step(st, brc, __func__)) == 1) {
        cl__invitation_read(st, &inv);
        cb(&inv, ctx);
    }
    sqlite3_finalize(st);
    return rc;
}

/* One IMMEDIATE transaction: the invitation is read pending under the
 * write lock, so two answers racing cannot both count. A membership that
 * already exists is kept as it is. */
static int cl__invitation_respond(struct cl_store *s, const char *id, const char *user_id,
                                  bool accept, int64_t now)
{
    struct cl__sqlite *q = s->impl;
    struct cl_invitation inv;
    sqlite3_stmt *st;
    int rc;

    rc = cl_sqlite_begin(&q->set, __func__);
    if (rc)
        return rc;
    rc = cl__invitation_get(s, id, &inv);
    if (rc)
        goto out_rollback;
    if (accept) {
        rc = cl__member_insert(q, inv.project_id, user_id, CL_ROLE_MEMBER,
                               inv.invited_by[0] ? inv.invited_by : NULL, now, __func__);
        if (rc && rc != CL_EEXIST)
            goto out_rollback;
    }
    st = q->st[CL__ST_INVITATION_ANSWER];
    rc = cl_sqlite_exec_one(st,
                            cl_sqlite_bind_str(st, 1, id) |
                                cl_sqlite_bind_str(st, 2, accept ? "accepted" : "declined") |
                                sqlite3_bind_int64(st, 3, now),
                            __func__);
    if (rc)
        goto out_rollback;
    return cl_sqlite_commit(&q->set, __func__);

out_rollback:
    cl_sqlite_rollback(&q->set, __func__);
    return rc;
}

/* ---- session shares ---------------------------------------------------- */

static const char *cl__mode_name(enum cl_share_mode m)
{
    return m == CL_SHARE_CONTROL ? "control" : "view";
}

static enum cl_share_mode cl__mode_parse(const unsigned char *s)
{
    if (!s)
        return CL_SHARE_NONE;
    if (strcmp((const char *)s, "control") == 0)
        return CL_SHARE_CONTROL;
    return strcmp((const char *)s, "view") == 0 ? CL_SHARE_VIEW : CL_SHARE_NONE;
}

static int cl__share_set(struct cl_store *s, const char *session_id, const char *user_id,
                         enum cl_share_mode mode, const char *created_by, int64_t now)
{
    struct cl__sqlite *q = s->impl;
    sqlite3_stmt *st = q->st[CL__ST_SHARE_SET];
    return cl_sqlite_exec(
        st,
        cl_sqlite_bind_str(st, 1, session_id) | cl_sqlite_bind_str(st, 2, user_id) |
            sqlite3_bind_text(st, 3, cl__mode_name(mode), -1, SQLITE_STATIC) |
            cl_sqlite_bind_opt(st, 4, created_by) | sqlite3_bind_int64(st, 5, now),
        __func__);
}

static int cl__share_get(struct cl_store *s, const char *session_id, const char *user_id,
                         enum cl_share_mode *out)
{
    struct cl__sqlite *q = s->impl;
    sqlite3_stmt *st = q->st[CL__ST_SHARE_GET];
    int rc = cl_sqlite_step(
        st, cl_sqlite_bind_str(st, 1, session_id) | cl_sqlite_bind_str(st, 2, user_id), __func__);
    if (rc < 0)
        return rc;
    if (rc == 1)
        *out = cl__mode_parse(sqlite3_column_text(st, 0));
    cl_sqlite_reset(st);
    return rc == 1 ? 0 : CL_ENOTFOUND;
}

static int cl__share_remove(struct cl_store *s, const char *session_id, const char *user_id)
{
    struct cl__sqlite *q = s->impl;
    sqlite3_stmt *st = q->st[CL__ST_SHARE_REMOVE];
    int rc = cl_sqlite_exec(
        st, cl_sqlite_bind_str(st, 1, session_id) | cl_sqlite_bind_str(st, 2, user_id), __func__);
    if (rc)
        return rc;
    return sqlite3_changes(q->db) ? 0 : CL_ENOTFOUND;
}

static int cl__share_list(struct cl_store *s, const char *session_id, cl_share_cb cb, void *ctx)
{
    struct cl__sqlite *q = s->impl;
    sqlite3_stmt *st = NULL;
    struct cl_share sh;
    int brc, rc;

    rc = cl_sqlite_prepare(q->db, cl__sql_share_list, &st, __func__);
    if (rc)
        return rc;
    brc = cl_sqlite_bind_str(st, 1, session_id);
    while ((rc = cl_sqlite_step(st, brc, __func__)) == 1) {
        memset(&sh, 0, sizeof sh);
        cl_sqlite_col_str(st, 0, sh.user_id, sizeof sh.user_id);
        cl_sqlite_col_str(st, 1, sh.email, sizeof sh.email);
        sh.mode = cl__mode_parse(sqlite3_column_text(st, 2));
        sh.created_at = sqlite3_column_int64(st, 3);
        cb(&sh, ctx);
    }
    sqlite3_finalize(st);
    return rc;
}

/* ---- accounts -------------------------------------------------------------- */

/* Reads a row of CL__TOKEN_COLS. */
static void cl__token_row(sqlite3_stmt *st, struct cl_token *t)
{
    memset(t, 0, sizeof *t);
    cl_sqlite_col_str(st, 0, t->id, sizeof t->id);
    cl_sqlite_col_str(st, 1, t->user_id, sizeof t->user_id);
    t->created_at = sqlite3_column_int64(st, 2);
    t->expires_at = sqlite3_column_int64(st, 3);
    t->last_used_at = sqlite3_column_int64(st, 4);
}

static int cl__token_list(struct cl_store *s, const char *user_id, int64_t now,
                          const uint8_t current[CL_HASH_LEN], cl_token_cb cb, void *ctx)
{
    struct cl__sqlite *q = s->impl;
    sqlite3_stmt *st = NULL;
    struct cl_token t;
    int brc, rc;

    rc = cl_sqlite_prepare(q->db, cl__sql_token_list, &st, __func__);
    if (rc)
        return rc;
    brc = cl_sqlite_bind_str(st, 1, user_id) | sqlite3_bind_int64(st, 2, now) |
          cl_sqlite_bind_hash(st, 3, current);
    while ((rc = cl_sqlite_step(st, brc, __func__)) == 1) {
        cl__token_row(st, &t);
        t.current = sqlite3_column_int(st, 5) != 0;
        cb(&t, ctx);
    }
    sqlite3_finalize(st);
    return rc;
}

static int cl__token_get(struct cl_store *s, const char *id, struct cl_token *out)
{
    struct cl__sqlite *q = s->impl;
    sqlite3_stmt *st = q->st[CL__ST_TOKEN_GET];
    struct cl_token t;
    int rc = cl_sqlite_step(st, cl_sqlite_bind_str(st, 1, id), __func__);
    if (rc < 0)
        return rc;
    if (rc == 1)
        cl__token_row(st, &t);
    cl_sqlite_reset(st);
    if (rc == 0)
        return CL_ENOTFOUND;
    *out = t;
    return 0;
}

static int cl__token_revoke_id(struct cl_store *s, const char *id, int64_t now)
{
    struct cl__sqlite *q = s->impl;
    sqlite3_stmt *st = q->st[CL__ST_TOKEN_REVOKE_ID];
    int rc = cl_sqlite_exec(st, cl_sqlite_bind_str(st, 1, id) | sqlite3_bind_int64(st, 2, now),
                            __func__);
    if (rc)
        return rc;
    return sqlite3_changes(q->db) ? 0 : CL_ENOTFOUND;
}

static int cl__tokens_revoke_all(struct cl_store *s, const char *user_id,
                                 const uint8_t keep[CL_HASH_LEN], int64_t now, int *revoked)
{
    struct cl__sqlite *q = s->impl;
    sqlite3_stmt *st = q->st[CL__ST_TOKENS_REVOKE_ALL];
    int rc = cl_sqlite_exec(st,
                            cl_sqlite_bind_str(st, 1, user_id) | cl_sqlite_bind_hash(st, 2, keep) |
                                sqlite3_bind_int64(st, 3, now),
                            __func__);
    if (rc == 0 && revoked)
        *revoked = sqlite3_changes(q->db);
    return rc;
}

static int cl__profile_update(struct cl_store *s, const char *user_id, const char *display_name,
                              const char *avatar_url)
{
    struct cl__sqlite *q = s->impl;
    sqlite3_stmt *st = q->st[CL__ST_PROFILE_UPDATE];
    int rc;
    rc = cl_sqlite_exec(st,
                        cl_sqlite_bind_str(st, 1, user_id) |
                            cl_sqlite_bind_str(st, 2, display_name) |
                            cl_sqlite_bind_str(st, 3, avatar_url),
                        __func__);
    if (rc)
        return rc;
    return sqlite3_changes(q->db) ? 0 : CL_ENOTFOUND;
}

/* Sets the hash and revokes tokens; the caller holds the transaction. */
static int cl__set_password(struct cl__sqlite *q, const char *user_id, const char *pw_hash,
                            const uint8_t keep[CL_HASH_LEN], int64_t now, const char *op)
{
    sqlite3_stmt *st = q->st[CL__ST_USER_SET_PASSWORD];
    int rc = cl_sqlite_exec(
        st, cl_sqlite_bind_str(st, 1, user_id) | cl_sqlite_bind_str(st, 2, pw_hash), op);
    if (rc)
        return rc;
    if (!sqlite3_changes(q->db))
        return CL_ENOTFOUND;
    /* the new password voids every reset link still out */
    st = q->st[CL__ST_RESET_DELETE_USER];
    rc = cl_sqlite_exec(st, cl_sqlite_bind_str(st, 1, user_id), op);
    if (rc)
        return rc;
    st = q->st[CL__ST_TOKENS_REVOKE_ALL];
    return cl_sqlite_exec(st,
                          cl_sqlite_bind_str(st, 1, user_id) | cl_sqlite_bind_hash(st, 2, keep) |
                              sqlite3_bind_int64(st, 3, now),
                          op);
}

static int cl__user_set_password(struct cl_store *s, const char *user_id, const char *pw_hash,
                                 const uint8_t keep[CL_HASH_LEN], int64_t now)
{
    struct cl__sqlite *q = s->impl;
    int rc;
    rc = cl_sqlite_begin(&q->set, __func__);
    if (rc)
        return rc;
    rc = cl__set_password(q, user_id, pw_hash, keep, now, __func__);
    if (rc) {
        cl_sqlite_rollback(&q->set, __func__);
        return rc;
    }
    return cl_sqlite_commit(&q->set, __func__);
}

/* ---- what cascading changes report (struct cl_store_cascade) ---------- */

/* Read inside the change's transaction, before its writes: ?1 and ?2 are
 * the op's ids (user, or project and user). A session whose user is gone
 * (NULL) is nobody's. */
static const char cl__sql_user_ended[] =
    "SELECT s.id FROM sessions s JOIN devices d ON d.id = s.device_id"
    " JOIN projects p ON p.id = d.project_id"
    " WHERE s.status = 'active' AND (s.user_id = ?1 OR p.owner_id = ?1)";
static const char cl__sql_user_unshared[] =
    "SELECT s.id FROM sessions s JOIN devices d ON d.id = s.device_id"
    " JOIN projects p ON p.id = d.project_id"
    " JOIN session_shares sh ON sh.session_id = s.id AND sh.user_id = ?1"
    " WHERE s.status = 'active' AND coalesce(s.user_id, '') <> ?1 AND p.owner_id <> ?1";
static const char cl__sql_user_devices[] =
    "SELECT d.id FROM devices d JOIN projects p ON p.id = d.project_id WHERE p.owner_id = ?1";
static const char cl__sql_user_projects[] = "SELECT id FROM projects WHERE owner_id = ?1";
static const char cl__sql_user_left[] =
    "SELECT project_id FROM project_members WHERE user_id = ?1 AND role <> 'owner'";
static const char cl__sql_project_devices[] = "SELECT id FROM devices WHERE project_id = ?1";
static const char cl__sql_project_ended[] =
    "SELECT s.id FROM sessions s JOIN devices d ON d.id = s.device_id"
    " WHERE d.project_id = ?1 AND s.status = 'active'";
static const char cl__sql_device_ended[] =
    "SELECT id FROM sessions WHERE device_id = ?1 AND status = 'active'";
static const char cl__sql_member_ended[] =
    "SELECT s.id FROM sessions s JOIN devices d ON d.id = s.device_id"
    " WHERE d.project_id = ?1 AND s.user_id = ?2 AND s.status = 'active'";
static const char cl__sql_member_unshared[] =
    "SELECT s.id FROM sessions s JOIN devices d ON d.id = s.device_id"
    " JOIN session_shares sh ON sh.session_id = s.id AND sh.user_id = ?2"
    " WHERE d.project_id = ?1 AND s.status = 'active' AND coalesce(s.user_id, '') <> ?2";

/* Appends the first column of each row of sql (?1 = a, ?2 = b unless
 * NULL) to l. */
static int cl__collect_ids(struct cl__sqlite *q, const char *sql, const char *a, const char *b,
                           struct cl_id_list *l, const char *op)
{
    sqlite3_stmt *st = NULL;
    char id[CL_UUID_LEN + 1];
    int brc, rc;

    rc = cl_sqlite_prepare(q->db, sql, &st, op);
    if (rc)
        return rc;
    brc = cl_sqlite_bind_str(st, 1, a) | (b ? cl_sqlite_bind_str(st, 2, b) : 0);
    while ((rc = cl_sqlite_step(st, brc, op)) == 1) {
        cl_sqlite_col_str(st, 0, id, sizeof id);
        cl_id_list_add(l, id);
    }
    sqlite3_finalize(st);
    return rc;
}

/* Ends a cascade's transaction: commits it (rc 0) or rolls it back (rc
 * the error); a cascade that did not happen reports nothing. */
static int cl__cascade_end(struct cl__sqlite *q, struct cl_store_cascade *out, int rc,
                           const char *fn)
{
    if (rc)
        cl_sqlite_rollback(&q->set, fn);
    else
        rc = cl_sqlite_commit(&q->set, fn);
    if (rc && out)
        cl_store_cascade_free(out);
    return rc;
}

static int cl__user_delete(struct cl_store *s, const char *user_id, int64_t now,
                           struct cl_store_cascade *out)
{
    struct cl__sqlite *q = s->impl;
    sqlite3_stmt *st;
    int rc;

    rc = cl_sqlite_begin(&q->set, __func__);
    if (rc)
        return rc;
    /* checked inside the transaction, so a member added meanwhile (by
     * another relay process) cannot be deleted along with the project */
    st = q->st[CL__ST_USER_OWNS_SHARED];
    rc = cl_sqlite_step(st, cl_sqlite_bind_str(st, 1, user_id), __func__);
    if (rc < 0)
        goto out_rollback;
    cl_sqlite_reset(st);
    if (rc == 1) {
        rc = CL_ESTATE;
        goto out_rollback;
    }
    if (out &&
        ((rc = cl__collect_ids(q, cl__sql_user_ended, user_id, NULL, &out->ended, __func__)) ||
         (rc =
              cl__collect_ids(q, cl__sql_user_unshared, user_id, NULL, &out->unshared, __func__)) ||
         (rc = cl__collect_ids(q, cl__sql_user_devices, user_id, NULL, &out->devices, __func__)) ||
         (rc =
              cl__collect_ids(q, cl__sql_user_projects, user_id, NULL, &out->projects, __func__)) ||
         (rc = cl__collect_ids(q, cl__sql_user_left, user_id, NULL, &out->left, __func__))))
        goto out_rollback;
    st = q->st[CL__ST_USER_END_SESSIONS];
    rc = cl_sqlite_exec(st,
                        cl_sqlite_bind_str(st, 1, user_id) | sqlite3_bind_int64(st, 2, now) |
                            cl_sqlite_bind_str(st, 3, cl_end_reason_name(CL_END_ACCOUNT_DELETED)),
                        __func__);
    if (rc)
        goto out_rollback;
    st = q->st[CL__ST_USER_DELETE];
    rc = cl_sqlite_exec(st, cl_sqlite_bind_str(st, 1, user_id), __func__);
    if (rc)
        goto out_rollback;
    if (!sqlite3_changes(q->db)) {
        rc = CL_ENOTFOUND;
        goto out_rollback;
    }
    return cl__cascade_end(q, out, 0, __func__);

out_rollback:
    return cl__cascade_end(q, out, rc, __func__);
}

static int cl__reset_create(struct cl_store *s, const char *user_id,
                            const uint8_t hash[CL_HASH_LEN], int64_t now, int64_t expires_at)
{
    struct cl__sqlite *q = s->impl;
    sqlite3_stmt *st;
    char id[CL_UUID_LEN + 1];
    int64_t live;
    int rc;

    rc = cl_sqlite_begin(&q->set, __func__);
    if (rc)
        return rc;
    st = q->st[CL__ST_RESET_PURGE];
    rc = cl_sqlite_exec(st, cl_sqlite_bind_str(st, 1, user_id) | sqlite3_bind_int64(st, 2, now),
                        __func__);
    if (rc)
        goto out_rollback;
    st = q->st[CL__ST_RESET_COUNT];
    rc = cl_sqlite_step(st, cl_sqlite_bind_str(st, 1, user_id), __func__);
    if (rc < 0)
        goto out_rollback;
    live = rc == 1 ? sqlite3_column_int64(st, 0) : 0;
    cl_sqlite_reset(st);
    if (live >= CL_RESET_LINKS_MAX) {
        rc = cl_sqlite_commit(&q->set, __func__); /* keep the purge */
        return rc ? rc : CL_ELIMIT;
    }
    st = q->st[CL__ST_RESET_INSERT];
    cl_uuid_new(id);
    rc = cl_sqlite_exec(st,
                        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC) |
                            cl_sqlite_bind_str(st, 2, user_id) | cl_sqlite_bind_hash(st, 3, hash) |
                            sqlite3_bind_int64(st, 4, now) | sqlite3_bind_int64(st, 5, expires_at),
                        __func__);
    if (rc)
        goto out_rollback;
    return cl_sqlite_commit(&q->set, __func__);

out_rollback:
    cl_sqlite_rollback(&q->set, __func__);
    return rc;
}

/* Inside a transaction: spends the one-time secret whose hash is hash (a
 * password reset token, a sign-in code). by_hash selects its user_id,
 * hash and expires_at; del deletes it by hash. The stored hash is compared
 * in constant time, and the row is deleted whether it is still good or has
 * expired: either way it is spent. 0 with uid set, CL_EEXPIRED (deleted:
 * commit), CL_ENOTFOUND, or a database error (roll back). */
static int cl__spend_once(struct cl__sqlite *q, enum cl__st by_hash, enum cl__st del,
                          const uint8_t hash[CL_HASH_LEN], int64_t now, char uid[CL_UUID_LEN + 1],
                          const char *op)
{
    sqlite3_stmt *st = q->st[by_hash];
    bool match, expired;
    int rc = cl_sqlite_step(st, cl_sqlite_bind_hash(st, 1, hash), op);
    if (rc <= 0) {
        cl_sqlite_reset(st);
        return rc < 0 ? rc : CL_ENOTFOUND;
    }
    cl_sqlite_col_str(st, 0, uid, CL_UUID_LEN + 1);
    match = sqlite3_column_bytes(st, 1) == CL_HASH_LEN &&
            cl_secret_equal(sqlite3_column_blob(st, 1), hash);
    expired = sqlite3_column_int64(st, 2) <= now;
    cl_sqlite_reset(st);
    if (!match)
        return CL_ENOTFOUND;
    st = q->st[del];
    rc = cl_sqlite_exec(st, cl_sqlite_bind_hash(st, 1, hash), op);
    if (rc)
        return rc;
    return expired ? CL_EEXPIRED : 0;
}

/* Like device_pair: one IMMEDIATE transaction, so two requests racing
 * with the same token cannot both use it. */
static int cl__reset_consume(struct cl_store *s, const uint8_t hash[CL_HASH_LEN], int64_t now,
                             const char *pw_hash, char user_id[CL_UUID_LEN + 1])
{
    struct cl__sqlite *q = s->impl;
    char uid[CL_UUID_LEN + 1];
    int rc;

    rc = cl_sqlite_begin(&q->set, __func__);
    if (rc)
        return rc;
    rc = cl__spend_once(q, CL__ST_RESET_BY_HASH, CL__ST_RESET_DELETE, hash, now, uid, __func__);
    if (rc == CL_EEXPIRED) {
        rc = cl_sqlite_commit(&q->set, __func__); /* the expired token goes */
        return rc ? rc : CL_EEXPIRED;
    }
    if (rc)
        goto out_rollback;
    rc = cl__set_password(q, uid, pw_hash, NULL, now, __func__);
    if (rc)
        goto out_rollback;
    rc = cl_sqlite_commit(&q->set, __func__);
    if (rc == 0 && user_id)
        memcpy(user_id, uid, sizeof uid);
    return rc;

out_rollback:
    cl_sqlite_rollback(&q->set, __func__);
    return rc;
}

/* ---- email verification ------------------------------------------------ */

static int cl__verify_create(struct cl_store *s, const char *user_id, const char *email,
                             const uint8_t hash[CL_HASH_LEN], int64_t now, int64_t expires_at)
{
    struct cl__sqlite *q = s->impl;
    sqlite3_stmt *st = q->st[CL__ST_VERIFY_UPSERT];
    return cl_sqlite_exec(st,
                          cl_sqlite_bind_str(st, 1, user_id) | cl_sqlite_bind_str(st, 2, email) |
                              cl_sqlite_bind_hash(st, 3, hash) | sqlite3_bind_int64(st, 4, now) |
                              sqlite3_bind_int64(st, 5, expires_at),
                          __func__);
}

/* As reset_consume: one IMMEDIATE transaction, the link spent whatever
 * the outcome once its hash matched. The address it was sent to is read
 * before the row goes; the user is marked only while that is still the
 * account's address. */
static int cl__verify_consume(struct cl_store *s, const uint8_t hash[CL_HASH_LEN], int64_t now,
                              char user_id[CL_UUID_LEN + 1])
{
    struct cl__sqlite *q = s->impl;
    char uid[CL_UUID_LEN + 1], email[CL_EMAIL_MAX + 1];
    sqlite3_stmt *st;
    int rc;

    rc = cl_sqlite_begin(&q->set, __func__);
    if (rc)
        return rc;
    st = q->st[CL__ST_VERIFY_BY_HASH];
    rc = cl_sqlite_step(st, cl_sqlite_bind_hash(st, 1, hash), __func__);
    if (rc < 0)
        goto out_rollback;
    email[0] = 0;
    if (rc == 1)
        cl_sqlite_col_str(st, 3, email, sizeof email);
    cl_sqlite_reset(st);
    rc = cl__spend_once(q, CL__ST_VERIFY_BY_HASH, CL__ST_VERIFY_DELETE, hash, now, uid, __func__);
    if (rc == CL_EEXPIRED) {
        rc = cl_sqlite_commit(&q->set, __func__); /* the expired link goes */
        return rc ? rc : CL_EEXPIRED;
    }
    if (rc)
        goto out_rollback;
    st = q->st[CL__ST_USER_SET_VERIFIED];
    rc = cl_sqlite_exec_one(st,
                            cl_sqlite_bind_str(st, 1, uid) | sqlite3_bind_int64(st, 2, now) |
                                cl_sqlite_bind_str(st, 3, email),
                            __func__);
    if (rc == CL_ENOTFOUND) {
        rc = cl_sqlite_commit(&q->set, __func__); /* the address changed: the link is spent */
        return rc ? rc : CL_ESTATE;
    }
    if (rc)
        goto out_rollback;
    rc = cl_sqlite_commit(&q->set, __func__);
    if (rc == 0 && user_id)
        memcpy(user_id, uid, sizeof uid);
    return rc;

out_rollback:
    cl_sqlite_rollback(&q->set, __func__);
    return rc;
}

static int cl__user_set_email_verified(struct cl_store *s, const char *user_id, int64_t at)
{
    struct cl__sqlite *q = s->impl;
    sqlite3_stmt *st;
    int rc;
    rc = cl_sqlite_begin(&q->set, __func__);
    if (rc)
        return rc;
    st = q->st[CL__ST_USER_SET_VERIFIED];
    rc = cl_sqlite_exec_one(st,
                            cl_sqlite_bind_str(st, 1, user_id) |
                                (at ? sqlite3_bind_int64(st, 2, at) : sqlite3_bind_null(st, 2)) |
                                sqlite3_bind_null(st, 3),
                            __func__);
    if (rc == 0) {
        st = q->st[CL__ST_VERIFY_DROP_USER];
        rc = cl_sqlite_exec(st, cl_sqlite_bind_str(st, 1, user_id), __func__);
    }
    if (rc) {
        cl_sqlite_rollback(&q->set, __func__);
        return rc;
    }
    return cl_sqlite_commit(&q->set, __func__);
}

/* ---- the control plane: projects, members, invitations, devices ------- */

static int cl__project_rename(struct cl_store *s, const char *id, const char *name, int64_t now)
{
    struct cl__sqlite *q = s->impl;
    sqlite3_stmt *st = q->st[CL__ST_PROJECT_RENAME];
    return cl_sqlite_exec_one(st,
                              cl_sqlite_bind_str(st, 1, id) | cl_sqlite_bind_str(st, 2, name) |
                                  sqlite3_bind_int64(st, 3, now),
                              __func__);
}

static int cl__project_delete(struct cl_store *s, const char *id, struct cl_store_cascade *out)
{
    struct cl__sqlite *q = s->impl;
    sqlite3_stmt *st = q->st[CL__ST_PROJECT_DELETE];
    int rc;

    if (!out)
        return cl_sqlite_exec_one(st, cl_sqlite_bind_str(st, 1, id), __func__);
    rc = cl_sqlite_begin(&q->set, __func__);
    if (rc)
        return rc;
    if ((rc = cl__collect_ids(q, cl__sql_project_devices, id, NULL, &out->devices, __func__)) ||
        (rc = cl__collect_ids(q, cl__sql_project_ended, id, NULL, &out->ended, __func__)) ||
        (rc = cl_sqlite_exec_one(st, cl_sqlite_bind_str(st, 1, id), __func__)))
        goto out_rollback;
    cl_id_list_add(&out->projects, id);
    return cl__cascade_end(q, out, 0, __func__);

out_rollback:
    return cl__cascade_end(q, out, rc, __func__);
}

static int cl__member_list(struct cl_store *s, const char *project_id, cl_member_cb cb, void *ctx)
{
    struct cl__sqlite *q = s->impl;
    sqlite3_stmt *st = NULL;
    struct cl_member m;
    int brc, rc;

    rc = cl_sqlite_prepare(q->db, cl__sql_member_list, &st, __func__);
    if (rc)
        return rc;
    brc = cl_sqlite_bind_str(st, 1, project_id);
    while ((rc = cl_sqlite_step(st, brc, __func__)) == 1) {
        memset(&m, 0, sizeof m);
        cl_sqlite_col_str(st, 0, m.user_id, sizeof m.user_id);
        cl_sqlite_col_str(st, 1, m.email, sizeof m.email);
        cl_sqlite_col_str(st, 2, m.display_name, sizeof m.display_name);
        m.role = cl__role_from(sqlite3_column_text(st, 3));
        cl_sqlite_col_str(st, 4, m.invited_by, sizeof m.invited_by);
        m.created_at = sqlite3_column_int64(st, 5);
        cb(&m, ctx);
    }
    sqlite3_finalize(st);
    return rc;
}

/* One IMMEDIATE transaction: the role is read under the write lock, so
 * an owner can never be removed and nothing is half-done. */
static int cl__member_remove(struct cl_store *s, const char *project_id, const char *user_id,
                             int64_t now, struct cl_store_cascade *out)
{
    struct cl__sqlite *q = s->impl;
    sqlite3_stmt *st;
    enum cl_role role = CL_ROLE_NONE;
    int rc;

    rc = cl_sqlite_begin(&q->set, __func__);
    if (rc)
        return rc;
    st = q->st[CL__ST_MEMBER_ROLE];
    rc = cl_sqlite_step(
        st, cl_sqlite_bind_str(st, 1, project_id) | cl_sqlite_bind_str(st, 2, user_id), __func__);
    if (rc < 0)
        goto out_rollback;
    if (rc == 1)
        role = cl__role_from(sqlite3_column_text(st, 0));
    cl_sqlite_reset(st);
    if (role == CL_ROLE_NONE) {
        rc = CL_ENOTFOUND;
        goto out_rollback;
    }
    if (role == CL_ROLE_OWNER) {
        rc = CL_ESTATE;
        goto out_rollback;
    }
    if (out && ((rc = cl__collect_ids(q, cl__sql_member_ended, project_id, user_id, &out->ended,
                                      __func__)) ||
                (rc = cl__collect_ids(q, cl__sql_member_unshared, project_id, user_id,
                                      &out->unshared, __func__))))
        goto out_rollback;
    st = q->st[CL__ST_MEMBER_END_SESSIONS];
    rc = cl_sqlite_exec(st,
                        cl_sqlite_bind_str(st, 1, project_id) | cl_sqlite_bind_str(st, 2, user_id) |
                            sqlite3_bind_int64(st, 3, now) |
                            cl_sqlite_bind_str(st, 4, cl_end_reason_name(CL_END_MEMBER_REMOVED)),
                        __func__);
    if (rc)
        goto out_rollback;
    st = q->st[CL__ST_MEMBER_DROP_SHARES];
    rc = cl_sqlite_exec(
        st, cl_sqlite_bind_str(st, 1, project_id) | cl_sqlite_bind_str(st, 2, user_id), __func__);
    if (rc)
        goto out_rollback;
    st = q->st[CL__ST_MEMBER_DELETE];
    rc = cl_sqlite_exec(
        st, cl_sqlite_bind_str(st, 1, project_id) | cl_sqlite_bind_str(st, 2, user_id), __func__);
    if (rc)
        goto out_rollback;
    return cl__cascade_end(q, out, 0, __func__);

out_rollback:
    return cl__cascade_end(q, out, rc, __func__);
}

static int cl__invitation_list(struct cl_store *s, const char *project_id, cl_invitation_cb cb,
                               void *ctx)
{
    struct cl__sqlite *q = s->impl;
    sqlite3_stmt *st = NULL;
    struct cl_invitation inv;
    int brc, rc;

    rc = cl_sqlite_prepare(q->db, cl__sql_invitation_list, &st, __func__);
    if (rc)
        return rc;
    brc = cl_sqlite_bind_str(st, 1, project_id);
    while ((rc = cl_sqlite_step(st, brc, __func__)) == 1) {
        memset(&inv, 0, sizeof inv);
        cl_sqlite_col_str(st, 0, inv.id, sizeof inv.id);
        cl_sqlite_col_str(st, 1, inv.project_id, sizeof inv.project_id);
        cl_sqlite_col_str(st, 2, inv.email, sizeof inv.email);
        cl_sqlite_col_str(st, 3, inv.invited_by, sizeof inv.invited_by);
        inv.created_at = sqlite3_column_int64(st, 4);
        cb(&inv, ctx);
    }
    sqlite3_finalize(st);
    return rc;
}

static int cl__invitation_cancel(struct cl_store *s, const char *project_id, const char *id)
{
    struct cl__sqlite *q = s->impl;
    sqlite3_stmt *st = q->st[CL__ST_INVITATION_CANCEL];
    return cl_sqlite_exec_one(
        st, cl_sqlite_bind_str(st, 1, project_id) | cl_sqlite_bind_str(st, 2, id), __func__);
}

static int cl__device_rename(struct cl_store *s, const char *id, const char *name)
{
    struct cl__sqlite *q = s->impl;
    sqlite3_stmt *st = q->st[CL__ST_DEVICE_RENAME];
    return cl_sqlite_exec_one(st, cl_sqlite_bind_str(st, 1, id) | cl_sqlite_bind_str(st, 2, name),
                              __func__);
}

static int cl__device_delete(struct cl_store *s, const char *id, struct cl_store_cascade *out)
{
    struct cl__sqlite *q = s->impl;
    sqlite3_stmt *st = q->st[CL__ST_DEVICE_DELETE];
    int rc;

    if (!out)
        return cl_sqlite_exec_one(st, cl_sqlite_bind_str(st, 1, id), __func__);
    rc = cl_sqlite_begin(&q->set, __func__);
    if (rc)
        return rc;
    if ((rc = cl__collect_ids(q, cl__sql_device_ended, id, NULL, &out->ended, __func__)) ||
        (rc = cl_sqlite_exec_one(st, cl_sqlite_bind_str(st, 1, id), __func__)))
        goto out_rollback;
    cl_id_list_add(&out->devices, id);
    return cl__cascade_end(q, out, 0, __func__);

out_rollback:
    return cl__cascade_end(q, out, rc, __func__);
}

static int cl__device_new_code(struct cl_store *s, const char *id,
                               const uint8_t code_hash[CL_HASH_LEN], int64_t expires_at)
{
    struct cl__sqlite *q = s->impl;
    sqlite3_stmt *st = q->st[CL__ST_DEVICE_NEW_CODE];
    return cl_sqlite_exec_one(st,
                              cl_sqlite_bind_str(st, 1, id) |
                                  cl_sqlite_bind_hash(st, 2, code_hash) |
                                  sqlite3_bind_int64(st, 3, expires_at),
                              __func__);
}

static int cl__device_heartbeat(struct cl_store *s, const char *id, int64_t now)
{
    struct cl__sqlite *q = s->impl;
    sqlite3_stmt *st = q->st[CL__ST_DEVICE_HEARTBEAT];
    return cl_sqlite_exec_one(st, cl_sqlite_bind_str(st, 1, id) | sqlite3_bind_int64(st, 2, now),
                              __func__);
}

static int cl__device_set_kind(struct cl_store *s, const char *id, const char *kind)
{
    struct cl__sqlite *q = s->impl;
    sqlite3_stmt *st = q->st[CL__ST_DEVICE_SET_KIND];
    return cl_sqlite_exec_one(st, cl_sqlite_bind_str(st, 1, id) | cl_sqlite_bind_str(st, 2, kind),
                              __func__);
}

static int cl__device_set_info(struct cl_store *s, const char *id, const char *meta,
                               const char *remote_addr, int64_t now)
{
    struct cl__sqlite *q = s->impl;
    sqlite3_stmt *st = q->st[CL__ST_DEVICE_SET_INFO];
    return cl_sqlite_exec_one(
        st,
        cl_sqlite_bind_str(st, 1, id) |
            (meta ? cl_sqlite_bind_str(st, 2, meta) : sqlite3_bind_null(st, 2)) |
            (remote_addr ? cl_sqlite_bind_str(st, 3, remote_addr) : sqlite3_bind_null(st, 3)) |
            sqlite3_bind_int64(st, 4, now),
        __func__);
}

static int cl__device_get_info(struct cl_store *s, const char *id, struct cl_device_info *out)
{
    struct cl__sqlite *q = s->impl;
    sqlite3_stmt *st = q->st[CL__ST_DEVICE_GET_INFO];
    int rc = cl_sqlite_step(st, cl_sqlite_bind_str(st, 1, id), __func__);
    if (rc < 0)
        return rc;
    memset(out, 0, sizeof *out);
    if (rc == 1) {
        cl_sqlite_col_str(st, 0, out->meta, sizeof out->meta);
        cl_sqlite_col_str(st, 1, out->remote_addr, sizeof out->remote_addr);
        out->meta_updated_at = sqlite3_column_int64(st, 2);
        out->online_since = sqlite3_column_int64(st, 3);
        out->connected_at = sqlite3_column_int64(st, 4);
    }
    cl_sqlite_reset(st);
    return rc == 1 ? 0 : CL_ENOTFOUND;
}

/* ---- web sign-in: relay secrets, one-time codes ------------------------ */

static int cl__secret_get(struct cl_store *s, const char *name, const uint8_t fresh[CL_HASH_LEN],
                          uint8_t out[CL_HASH_LEN])
{
    struct cl__sqlite *q = s->impl;
    sqlite3_stmt *st = q->st[CL__ST_SECRET_INSERT];
    int rc = cl_sqlite_exec(st, cl_sqlite_bind_str(st, 1, name) | cl_sqlite_bind_hash(st, 2, fresh),
                            __func__);
    if (rc)
        return rc;
    st = q->st[CL__ST_SECRET_GET];
    rc = cl_sqlite_step(st, cl_sqlite_bind_str(st, 1, name), __func__);
    if (rc < 0)
        return rc;
    if (rc == 0 || sqlite3_column_bytes(st, 0) != CL_HASH_LEN) {
        cl_sqlite_reset(st);
        return CL_EDB;
    }
    memcpy(out, sqlite3_column_blob(st, 0), CL_HASH_LEN);
    cl_sqlite_reset(st);
    return 0;
}

static int cl__user_count(struct cl_store *s, int64_t *out)
{
    struct cl__sqlite *q = s->impl;
    sqlite3_stmt *st = q->st[CL__ST_USER_COUNT];
    int rc = cl_sqlite_step(st, SQLITE_OK, __func__);
    if (rc < 0)
        return rc;
    *out = rc ? sqlite3_column_int64(st, 0) : 0;
    cl_sqlite_reset(st);
    return 0;
}

static int cl__ping(struct cl_store *s, char *err, size_t errlen)
{
    struct cl__sqlite *q = s->impl;
    sqlite3_stmt *st = q->st[CL__ST_PING];
    int moved = 0, rc;

    if (sqlite3_file_control(q->db, "main", SQLITE_FCNTL_HAS_MOVED, &moved) != SQLITE_OK)
        return cl_seterr(err, errlen, CL_EDB, "cannot check the database file");
    if (moved)
        return cl_seterr(err, errlen, CL_EDB,
                         "the database file was deleted or replaced under the relay");
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_ROW)
        return cl_seterr(err, errlen, CL_EDB, "a read failed: %s", sqlite3_errstr(rc));
    return 0;
}

static int cl__signin_code_create(struct cl_store *s, const uint8_t hash[CL_HASH_LEN],
                                  const char *user_id, int64_t now, int64_t expires_at)
{
    struct cl__sqlite *q = s->impl;
    sqlite3_stmt *st = q->st[CL__ST_SIGNIN_PRUNE];
    int rc;
    rc = cl_sqlite_exec(st, sqlite3_bind_int64(st, 1, now), __func__);
    if (rc)
        return rc;
    st = q->st[CL__ST_SIGNIN_INSERT];
    return cl_sqlite_exec(
        st,
        cl_sqlite_bind_hash(st, 1, hash) | sqlite3_bind_text(st, 2, user_id, -1, SQLITE_STATIC) |
            sqlite3_bind_int64(st, 3, now) | sqlite3_bind_int64(st, 4, expires_at),
        __func__);
}

static int cl__signin_code_consume(struct cl_store *s, const uint8_t hash[CL_HASH_LEN], int64_t now,
                                   char user_id[CL_UUID_LEN + 1])
{
    struct cl__sqlite *q = s->impl;
    char uid[CL_UUID_LEN + 1];
    int rc, crc;

    rc = cl_sqlite_begin(&q->set, __func__);
    if (rc)
        return rc;
    rc = cl__spend_once(q, CL__ST_SIGNIN_BY_HASH, CL__ST_SIGNIN_DELETE, hash, now, uid, __func__);
    if (rc && rc != CL_EEXPIRED) {
        cl_sqlite_rollback(&q->set, __func__);
        return rc;
    }
    crc = cl_sqlite_commit(&q->set, __func__);
    if (crc)
        return crc;
    if (rc)
        return rc; /* CL_EEXPIRED: the code is gone */
    memcpy(user_id, uid, sizeof uid);
    return 0;
}

static int cl__device_list_for_user(struct cl_store *s, const char *user_id, cl_device_cb cb,
                                    void *ctx)
{
    struct cl__sqlite *q = s->impl;
    sqlite3_stmt *st = NULL;
    struct cl_device d;
    int brc, rc;

    rc = cl_sqlite_prepare(q->db, cl__sql_device_list_for_user, &st, __func__);
    if (rc)
        return rc;
    brc = cl_sqlite_bind_str(st, 1, user_id);
    while ((rc = cl_sqlite_step(st, brc, __func__)) == 1) {
        cl__device_row(st, &d);
        cb(&d, ctx);
    }
    sqlite3_finalize(st);
    return rc;
}

static int cl__session_list(struct cl_store *s, const struct cl_session_filter *f,
                            cl_session_info_cb cb, void *ctx)
{
    static const char *const status_name[] = {
        [CL_SESSIONS_ANY] = NULL, [CL_SESSIONS_ACTIVE] = "active", [CL_SESSIONS_ENDED] = "ended"};
    struct cl__sqlite *q = s->impl;
    sqlite3_stmt *st = NULL;
    struct cl_session_info si;
    int brc, rc;

    rc = cl_sqlite_prepare(q->db, cl__sql_session_list, &st, __func__);
    if (rc)
        return rc;
    brc =
        cl_sqlite_bind_str(st, 1, f->project_id) | cl_sqlite_bind_str(st, 2, f->device_id) |
        cl_sqlite_bind_str(st, 3, f->user_id) | cl_sqlite_bind_str(st, 4, status_name[f->status]) |
        sqlite3_bind_int64(st, 5, f->before_started_at) | cl_sqlite_bind_str(st, 6, f->before_id) |
        sqlite3_bind_int64(st, 7, f->limit ? (sqlite3_int64)f->limit : -1);
    while ((rc = cl_sqlite_step(st, brc, __func__)) == 1) {
        memset(&si, 0, sizeof si);
        cl__session_row(st, &si.sess);
        cl_sqlite_col_str(st, 10, si.device_name, sizeof si.device_name);
        cl_sqlite_col_str(st, 11, si.user_email, sizeof si.user_email);
        cl_sqlite_col_str(st, 12, si.user_display_name, sizeof si.user_display_name);
        cb(&si, ctx);
    }
    sqlite3_finalize(st);
    return rc;
}

static const struct cl_store_ops cl__sqlite_ops = {
    .invitation_create = cl__invitation_create,
    .invitation_count_pending = cl__invitation_count_pending,
    .invitation_get = cl__invitation_get,
    .invitation_list_for_email = cl__invitation_list_for_email,
    .invitation_respond = cl__invitation_respond,
    .verify_create = cl__verify_create,
    .verify_consume = cl__verify_consume,
    .user_set_email_verified = cl__user_set_email_verified,
    .share_set = cl__share_set,
    .share_get = cl__share_get,
    .share_remove = cl__share_remove,
    .share_list = cl__share_list,
    .name = "sqlite",
    .close = cl__close,
    .user_create = cl__user_create,
    .user_by_email = cl__user_by_email,
    .user_by_id = cl__user_by_id,
    .token_create = cl__token_create,
    .token_user = cl__token_user,
    .token_revoke = cl__token_revoke,
    .project_create = cl__project_create,
    .project_get = cl__project_get,
    .project_list_for_user = cl__project_list_for_user,
    .member_add = cl__member_add,
    .member_role = cl__member_role,
    .device_create = cl__device_create,
    .device_get = cl__device_get,
    .device_list = cl__device_list,
    .session_list_active = cl__session_list_active,
    .device_pair = cl__device_pair,
    .device_code_check = cl__device_code_check,
    .device_code_void = cl__device_code_void,
    .device_token_hash = cl__device_token_hash,
    .device_set_online = cl__device_set_online,
    .device_all_offline = cl__device_all_offline,
    .session_create = cl__session_create,
    .session_count_open = cl__session_count_open,
    .session_get = cl__session_get,
    .session_end = cl__session_end,
    .session_set_name = cl__session_set_name,
    .session_set_title = cl__session_set_title,
    .token_list = cl__token_list,
    .token_get = cl__token_get,
    .token_revoke_id = cl__token_revoke_id,
    .tokens_revoke_all = cl__tokens_revoke_all,
    .profile_update = cl__profile_update,
    .user_set_password = cl__user_set_password,
    .user_delete = cl__user_delete,
    .reset_create = cl__reset_create,
    .reset_consume = cl__reset_consume,
    .project_rename = cl__project_rename,
    .project_delete = cl__project_delete,
    .member_list = cl__member_list,
    .member_remove = cl__member_remove,
    .invitation_list = cl__invitation_list,
    .invitation_cancel = cl__invitation_cancel,
    .device_rename = cl__device_rename,
    .device_delete = cl__device_delete,
    .device_new_code = cl__device_new_code,
    .device_heartbeat = cl__device_heartbeat,
    .device_set_kind = cl__device_set_kind,
    .device_set_info = cl__device_set_info,
    .device_get_info = cl__device_get_info,
    .device_list_for_user = cl__device_list_for_user,
    .session_list = cl__session_list,
    .secret_get = cl__secret_get,
    .user_count = cl__user_count,
    .ping = cl__ping,
    .signin_code_create = cl__signin_code_create,
    .signin_code_consume = cl__signin_code_consume,
};

/* ---- open --------------------------------------------------------------- */

/* Creates dir and any missing parents, each with mode 0700 (mkdir -p);
 * existing directories keep their mode. */
static int cl__mkdirs(const char *dir, char *err, size_t errlen)
{
    char path[PATH_MAX];
    struct stat sb;
    size_t n = strlen(dir);

    if (n == 0 || n >= sizeof path)
        return cl_seterr(err, errlen, CL_EDB, "invalid data directory path");
    memcpy(path, dir, n + 1);
    for (char *p = path + 1;; p++) {
        if (*p != '/' && *p != 0)
            continue;
        char c = *p;
        *p = 0;
        if (mkdir(path, 0700) != 0 && errno != EEXIST &&
            !(stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)))
            return cl_seterr(err, errlen, CL_EDB, "cannot create %s: %s", path, strerror(errno));
        *p = c;
        if (!c)
            break;
    }
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return cl_seterr(err, errlen, CL_EDB, "%s is not a directory", dir);
    return 0;
}

/* What the start-up check of the data directory found (datadir.h). */
struct cl__private_ctx {
    int rc;
    char *err;
    size_t errlen;
};

static void cl__private_finding(void *arg, const struct cl_datadir_finding *f)
{
    struct cl__private_ctx *x = arg;
    if (f->kind == CL_DATADIR_DIR) {
        if (f->bad_mode)
            cl_warn("store",
                    "the data directory can be read by others; its database files are 0600",
                    "dir=%s mode=%04o hint=\"clawlink-relay audit --fix makes it 0700\"", f->path,
                    f->mode);
        return;
    }
    if (f->kind != CL_DATADIR_DB && f->kind != CL_DATADIR_SIDECAR)
        return; /* the outbox is the audit's to report */
    if (f->fixed)
        cl_warn("store", "database file was readable by others: made it 0600", "path=%s mode=%04o",
                f->path, f->mode);
    else if (f->fix_errno && !x->rc)
        x->rc = cl_seterr(x->err, x->errlen, CL_EDB, "cannot make %s private: %s", f->path,
                          strerror(f->fix_errno));
    else if (f->bad_mode)
        cl_warn("store", "database file is readable by others and owned by another user",
                "path=%s mode=%04o uid=%u", f->path, f->mode, (unsigned)f->uid);
}

/* The database holds password hashes, the CSRF key and hashes of live
 * pairing codes: whatever the directory's mode (systemd's StateDirectory=
 * makes it 0755), its files are the relay user's alone. cl_sqlite_open
 * creates a new file 0600 and SQLite gives its -wal and -shm files the
 * database's mode; files left from before are tightened here first, by
 * the rules in datadir.c (shared with `clawlink-relay audit`). A directory
 * others can read is worth a warning, not a refusal. */
static int cl__private_files(const char *dir, char *err, size_t errlen)
{
    struct cl__private_ctx x = {.rc = 0, .err = err, .errlen = errlen};
    cl_datadir_check(dir, CL_DATADIR_FIX_FILES, cl__private_finding, &x);
    return x.rc;
}

int cl_store_open_sqlite(struct cl_store *s, const char *dir, char *err, size_t errlen)
{
    struct cl__sqlite *q;
    char path[PATH_MAX];
    int rc, version = 0;

    memset(s, 0, sizeof *s);
    if (!dir)
        return cl_seterr(err, errlen, CL_EDB, "no data directory");
    if (cl_secret_init())
        return cl_seterr(err, errlen, CL_EDB, "libsodium failed to initialise");
    rc = cl__mkdirs(dir, err, errlen);
    if (rc)
        return rc;
    if (snprintf(path, sizeof path, "%s/" CL__DB_FILE, dir) >= (int)sizeof path)
        return cl_seterr(err, errlen, CL_EDB, "data directory path too long");
    rc = cl__private_files(dir, err, errlen);
    if (rc)
        return rc;
    q = calloc(1, sizeof *q);
    if (!q)
        return cl_seterr(err, errlen, CL_EDB, "out of memory");

    rc = cl_sqlite_open(path, &q->db, err, errlen);
    if (rc)
        goto out_free;
    rc = cl_sqlite_migrate(q->db, cl_sqlite_migrations, cl_sqlite_migration_count, "relay",
                           &version, err, errlen);
    if (rc)
        goto out_close_db;
    rc = cl_sqlite_set_prepare(&q->set, q->db, cl__sql, q->st, CL__ST__COUNT, err, errlen);
    if (rc)
        goto out_close_db;
    s->ops = s->backend = &cl__sqlite_ops;
    s->impl = q;
    cl_info("store", "database open", "path=%s schema=%d sqlite=%s", path, version,
            sqlite3_libversion());
    return 0;

out_close_db:
    sqlite3_close(q->db);
out_free:
    free(q);
    return rc;
}

int cl_store_sqlite_schema_version(struct cl_store *s)
{
    struct cl__sqlite *q;
    int v;
    if (!s || s->backend != &cl__sqlite_ops || !s->impl)
        return CL_EINVAL;
    q = s->impl;
    if (cl_sqlite_user_version(q->db, &v))
        return CL_EDB;
    return v;
}

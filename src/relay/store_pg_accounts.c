/*
 * store_pg_accounts: the PostgreSQL store's ops on users, their tokens,
 * passwords, verification links, the relay's secrets and sign-in codes
 * (store_pg.c says how the backend works; store_sqlite.c has the same ops
 * on SQLite).
 */
#include "relay/store_pg_int.h"
#include "core/err.h"
#include "core/log.h"
#include "core/proto.h"
#include "core/secret.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CL__USER_SELECT                                                                            \
    "SELECT u.id, u.email, u.password_hash, u.created_at, coalesce(p.display_name, ''),"           \
    " coalesce(p.avatar_url, ''), coalesce(u.email_verified_at, 0) FROM users u"                   \
    " LEFT JOIN profiles p ON p.user_id = u.id"
#define CL__TOKEN_COLS "id, user_id, created_at, expires_at, coalesce(last_used_at, 0)"

static void cl__user_row(const PGresult *r, int i, struct cl_user *u)
{
    memset(u, 0, sizeof *u);
    cl_pg_str(r, i, 0, u->id, sizeof u->id);
    cl_pg_str(r, i, 1, u->email, sizeof u->email);
    cl_pg_str(r, i, 2, u->pw_hash, sizeof u->pw_hash);
    u->created_at = cl_pg_i64(r, i, 3);
    cl_pg_str(r, i, 4, u->display_name, sizeof u->display_name);
    cl_pg_str(r, i, 5, u->avatar_url, sizeof u->avatar_url);
    u->email_verified_at = cl_pg_i64(r, i, 6);
}

static void cl__token_row(const PGresult *r, int i, struct cl_token *t)
{
    memset(t, 0, sizeof *t);
    cl_pg_str(r, i, 0, t->id, sizeof t->id);
    cl_pg_str(r, i, 1, t->user_id, sizeof t->user_id);
    t->created_at = cl_pg_i64(r, i, 2);
    t->expires_at = cl_pg_i64(r, i, 3);
    t->last_used_at = cl_pg_i64(r, i, 4);
}

/* ---- users and tokens ----------------------------------------------------------- */

/* The user and its profile in one transaction; the email stored
 * lower-cased (ASCII, as SQLite's COLLATE NOCASE folds). */
int cl_pg_user_create(struct cl_store *s, const struct cl_user *u)
{
    struct cl_pg *q = s->impl;
    char email[CL_EMAIL_MAX + 1], profile_id[CL_UUID_LEN + 1];
    struct cl_pg_params p = {0}, pp = {0};
    size_t i;
    int rc;

    for (i = 0; u->email[i] && i < CL_EMAIL_MAX; i++)
        email[i] = (char)tolower((unsigned char)u->email[i]);
    email[i] = 0;
    cl_uuid_new(profile_id);
    cl_pg_p_str(&p, u->id);
    cl_pg_p_str(&p, email);
    cl_pg_p_str(&p, u->pw_hash);
    cl_pg_p_i64(&p, u->created_at);
    cl_pg_p_str(&pp, profile_id);
    cl_pg_p_str(&pp, u->id);
    cl_pg_p_str(&pp, u->display_name);
    rc = cl_pg_begin(q, __func__);
    if (rc)
        return rc;
    rc = cl_pg_exec(q,
                    "INSERT INTO users (id, email, password_hash, created_at)"
                    " VALUES ($1, $2, $3, $4)",
                    &p, __func__);
    if (rc == 0)
        rc = cl_pg_exec(q, "INSERT INTO profiles (id, user_id, display_name) VALUES ($1, $2, $3)",
                        &pp, __func__);
    return cl_pg_end(q, rc, __func__);
}

static int cl__user_get(struct cl_pg *q, const char *sql, const char *key, struct cl_user *out,
                        const char *op)
{
    struct cl_pg_params p = {0};
    struct cl_user u;
    PGresult *r;
    int rc;

    cl_pg_p_str(&p, key);
    rc = cl_pg_one(q, sql, &p, &r, op);
    if (rc)
        return rc;
    cl__user_row(r, 0, &u); /* built aside: key may live in *out */
    cl_pq.PQclear(r);
    *out = u;
    cl_wipe(u.pw_hash, sizeof u.pw_hash);
    return 0;
}

int cl_pg_user_by_email(struct cl_store *s, const char *email, struct cl_user *out)
{
    return cl__user_get(s->impl, CL__USER_SELECT " WHERE lower(u.email) = lower($1)", email, out,
                        __func__);
}

int cl_pg_user_by_id(struct cl_store *s, const char *id, struct cl_user *out)
{
    return cl__user_get(s->impl, CL__USER_SELECT " WHERE u.id = $1", id, out, __func__);
}

int cl_pg_token_create(struct cl_store *s, const uint8_t hash[CL_HASH_LEN], const char *user_id,
                       int64_t now, int64_t expires_at)
{
    struct cl_pg_params p = {0};
    char id[CL_UUID_LEN + 1];
    cl_uuid_new(id);
    cl_pg_p_hash(&p, hash);
    cl_pg_p_str(&p, user_id);
    cl_pg_p_i64(&p, now);
    cl_pg_p_i64(&p, expires_at);
    cl_pg_p_str(&p, id);
    return cl_pg_exec(s->impl,
                      "INSERT INTO api_tokens (token_hash, user_id, created_at, expires_at, id)"
                      " VALUES ($1, $2, $3, $4, $5)",
                      &p, __func__);
}

int cl_pg_token_user(struct cl_store *s, const uint8_t hash[CL_HASH_LEN], int64_t now,
                     char user_id[CL_UUID_LEN + 1])
{
    struct cl_pg *q = s->impl;
    struct cl_pg_params p = {0};
    int64_t last_used;
    PGresult *r;
    int rc;

    cl_pg_p_hash(&p, hash);
    cl_pg_p_i64(&p, now);
    rc = cl_pg_one(q,
                   "SELECT user_id, coalesce(last_used_at, 0) FROM api_tokens"
                   " WHERE token_hash = $1 AND revoked_at IS NULL AND expires_at > $2",
                   &p, &r, __func__);
    if (rc)
        return rc;
    cl_pg_str(r, 0, 0, user_id, CL_UUID_LEN + 1);
    last_used = cl_pg_i64(r, 0, 1);
    cl_pq.PQclear(r);
    /* a failed touch costs the caller nothing: it is logged, not returned */
    if (last_used == 0 || now - last_used >= CL_TOKEN_TOUCH_S)
        cl_pg_exec(q, "UPDATE api_tokens SET last_used_at = $2 WHERE token_hash = $1", &p,
                   __func__);
    return 0;
}

int cl_pg_token_revoke(struct cl_store *s, const uint8_t hash[CL_HASH_LEN])
{
    struct cl_pg_params p = {0};
    cl_pg_p_hash(&p, hash);
    /* the first revocation time sticks; revoking twice is not an error */
    return cl_pg_exec_one(s->impl,
                          "UPDATE api_tokens SET revoked_at = coalesce(revoked_at,"
                          " extract(epoch FROM now())::bigint) WHERE token_hash = $1",
                          &p, __func__);
}

int cl_pg_token_list(struct cl_store *s, const char *user_id, int64_t now,
                     const uint8_t current[CL_HASH_LEN], cl_token_cb cb, void *ctx)
{
    struct cl_pg_params p = {0};
    struct cl_token t;
    PGresult *r;
    int rc;

    cl_pg_p_str(&p, user_id);
    cl_pg_p_i64(&p, now);
    cl_pg_p_hash(&p, current);
    rc = cl_pg_run(s->impl,
                   "SELECT " CL__TOKEN_COLS ", coalesce(token_hash = $3::bytea, false)"
                   " FROM api_tokens WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2"
                   " ORDER BY created_at DESC, seq DESC",
                   &p, &r, __func__);
    if (rc)
        return rc;
    for (int i = 0; i < cl_pq.PQntuples(r); i++) {
        cl__token_row(r, i, &t);
        t.current = cl_pg_bool(r, i, 5);
        cb(&t, ctx);
    }
    cl_pq.PQclear(r);
    return 0;
}

int cl_pg_token_get(struct cl_store *s, const char *id, struct cl_token *out)
{
    struct cl_pg_params p = {0};
    PGresult *r;
    int rc;
    cl_pg_p_str(&p, id);
    rc = cl_pg_one(s->impl, "SELECT " CL__TOKEN_COLS " FROM api_tokens WHERE id = $1", &p, &r,
                   __func__);
    if (rc)
        return rc;
    cl__token_row(r, 0, out);
    cl_pq.PQclear(r);
    return 0;
}

int cl_pg_token_revoke_id(struct cl_store *s, const char *id, int64_t now)
{
    struct cl_pg_params p = {0};
    cl_pg_p_str(&p, id);
    cl_pg_p_i64(&p, now);
    return cl_pg_exec_one(
        s->impl, "UPDATE api_tokens SET revoked_at = coalesce(revoked_at, $2) WHERE id = $1", &p,
        __func__);
}

/* $2 NULL: keep none */
static const char cl__sql_revoke_all[] =
    "UPDATE api_tokens SET revoked_at = $3 WHERE user_id = $1 AND revoked_at IS NULL"
    " AND ($2::bytea IS NULL OR token_hash <> $2::bytea)";

int cl_pg_tokens_revoke_all(struct cl_store *s, const char *user_id,
                            const uint8_t keep[CL_HASH_LEN], int64_t now, int *revoked)
{
    struct cl_pg_params p = {0};
    long n = 0;
    int rc;
    cl_pg_p_str(&p, user_id);
    cl_pg_p_hash(&p, keep);
    cl_pg_p_i64(&p, now);
    rc = cl_pg_write(s->impl, cl__sql_revoke_all, &p, false, &n, __func__);
    if (rc == 0 && revoked)
        *revoked = (int)n;
    return rc;
}

int cl_pg_profile_update(struct cl_store *s, const char *user_id, const char *display_name,
                         const char *avatar_url)
{
    struct cl_pg_params p = {0};
    cl_pg_p_str(&p, user_id);
    cl_pg_p_str(&p, display_name);
    cl_pg_p_str(&p, avatar_url);
    /* NULL keeps a field; an empty avatar_url clears it */
    return cl_pg_exec_one(s->impl,
                          "UPDATE profiles SET display_name = coalesce($2, display_name),"
                          " avatar_url = CASE WHEN $3::text IS NULL THEN avatar_url"
                          " WHEN $3::text = '' THEN NULL ELSE $3::text END WHERE user_id = $1",
                          &p, __func__);
}

/* Sets the hash, drops the reset links and revokes tokens; the caller
 * holds the transaction. */
static int cl__set_password(struct cl_pg *q, const char *user_id, const char *pw_hash,
                            const uint8_t keep[CL_HASH_LEN], int64_t now, const char *op)
{
    struct cl_pg_params p = {0}, u = {0}, k = {0};
    int rc;

    cl_pg_p_str(&p, user_id);
    cl_pg_p_str(&p, pw_hash);
    cl_pg_p_str(&u, user_id);
    cl_pg_p_str(&k, user_id);
    cl_pg_p_hash(&k, keep);
    cl_pg_p_i64(&k, now);
    rc = cl_pg_exec_one(q, "UPDATE users SET password_hash = $2 WHERE id = $1", &p, op);
    if (rc == 0) /* the new password voids every reset link still out */
        rc = cl_pg_exec(q, "DELETE FROM password_resets WHERE user_id = $1", &u, op);
    if (rc == 0)
        rc = cl_pg_exec(q, cl__sql_revoke_all, &k, op);
    return rc;
}

int cl_pg_user_set_password(struct cl_store *s, const char *user_id, const char *pw_hash,
                            const uint8_t keep[CL_HASH_LEN], int64_t now)
{
    struct cl_pg *q = s->impl;
    int rc = cl_pg_begin(q, __func__);
    if (rc)
        return rc;
    return cl_pg_end(q, cl__set_password(q, user_id, pw_hash, keep, now, __func__), __func__);
}

/* ---- what cascading changes report (struct cl_store_cascade) ---------------- */

/* Read inside the change's transaction, before its writes: $1 and $2 are
 * the op's ids (user, or project and user). */
static const char cl__sql_user_ended[] =
    "SELECT s.id FROM sessions s JOIN devices d ON d.id = s.device_id"
    " JOIN projects p ON p.id = d.project_id"
    " WHERE s.status = 'active' AND (s.user_id = $1 OR p.owner_id = $1) ORDER BY s.seq";
static const char cl__sql_user_unshared[] =
    "SELECT s.id FROM sessions s JOIN devices d ON d.id = s.device_id"
    " JOIN projects p ON p.id = d.project_id"
    " JOIN session_shares sh ON sh.session_id = s.id AND sh.user_id = $1"
    " WHERE s.status = 'active' AND coalesce(s.user_id, '') <> $1 AND p.owner_id <> $1"
    " ORDER BY s.seq";
static const char cl__sql_user_devices[] =
    "SELECT d.id FROM devices d JOIN projects p ON p.id = d.project_id WHERE p.owner_id = $1"
    " ORDER BY d.seq";
static const char cl__sql_user_projects[] =
    "SELECT id FROM projects WHERE owner_id = $1 ORDER BY seq";
static const char cl__sql_user_left[] =
    "SELECT project_id FROM project_members WHERE user_id = $1 AND role <> 'owner' ORDER BY seq";
int cl_pg_user_delete(struct cl_store *s, const char *user_id, int64_t now,
                      struct cl_store_cascade *out)
{
    struct cl_pg *q = s->impl;
    struct cl_pg_params p = {0}, e = {0};
    PGresult *r;
    bool shared;
    int rc;

    cl_pg_p_str(&p, user_id);
    cl_pg_p_str(&e, user_id);
    cl_pg_p_i64(&e, now);
    cl_pg_p_str(&e, cl_end_reason_name(CL_END_ACCOUNT_DELETED));
    rc = cl_pg_begin(q, __func__);
    if (rc)
        return rc;
    /* the projects they own, locked: a member joining meanwhile (its
     * foreign key needs a share lock on the project) waits, so cannot be
     * deleted along with it */
    rc = cl_pg_run(q, "SELECT id FROM projects WHERE owner_id = $1 FOR UPDATE", &p, NULL, __func__);
    if (rc)
        return cl_pg_cascade_end(q, out, rc, __func__);
    rc = cl_pg_run(q,
                   "SELECT 1 FROM projects p WHERE p.owner_id = $1 AND EXISTS (SELECT 1 FROM"
                   " project_members m WHERE m.project_id = p.id AND m.user_id <> $1) LIMIT 1",
                   &p, &r, __func__);
    if (rc)
        return cl_pg_cascade_end(q, out, rc, __func__);
    shared = cl_pq.PQntuples(r) > 0;
    cl_pq.PQclear(r);
    if (shared)
        return cl_pg_cascade_end(q, out, CL_ESTATE, __func__);
    if (out &&
        ((rc = cl_pg_collect_ids(q, cl__sql_user_ended, user_id, NULL, &out->ended, __func__)) ||
         (rc = cl_pg_collect_ids(q, cl__sql_user_unshared, user_id, NULL, &out->unshared,
                                 __func__)) ||
         (rc =
              cl_pg_collect_ids(q, cl__sql_user_devices, user_id, NULL, &out->devices, __func__)) ||
         (rc = cl_pg_collect_ids(q, cl__sql_user_projects, user_id, NULL, &out->projects,
                                 __func__)) ||
         (rc = cl_pg_collect_ids(q, cl__sql_user_left, user_id, NULL, &out->left, __func__))))
        return cl_pg_cascade_end(q, out, rc, __func__);
    rc = cl_pg_exec(q,
                    "UPDATE sessions SET status = 'ended', ended_at = $2, end_reason = $3"
                    " WHERE user_id = $1 AND status = 'active'",
                    &e, __func__);
    /* their projects first: deleting the user alone would reach a session
     * of their own project twice in one statement (deleted with its
     * device, its user_id set NULL), and PostgreSQL checks the SET NULL
     * row's device after the device is gone. The foreign keys do the
     * rest, as in SQLite. */
    if (rc == 0)
        rc = cl_pg_exec(q, "DELETE FROM projects WHERE owner_id = $1", &p, __func__);
    if (rc == 0)
        rc = cl_pg_exec_one(q, "DELETE FROM users WHERE id = $1", &p, __func__);
    return cl_pg_cascade_end(q, out, rc, __func__);
}

int cl_pg_reset_create(struct cl_store *s, const char *user_id, const uint8_t hash[CL_HASH_LEN],
                       int64_t now, int64_t expires_at)
{
    struct cl_pg *q = s->impl;
    struct cl_pg_params p = {0}, u = {0}, ins = {0};
    char id[CL_UUID_LEN + 1];
    PGresult *r;
    int64_t live;
    int rc;

    cl_pg_p_str(&p, user_id);
    cl_pg_p_i64(&p, now);
    cl_pg_p_str(&u, user_id);
    cl_uuid_new(id);
    cl_pg_p_str(&ins, id);
    cl_pg_p_str(&ins, user_id);
    cl_pg_p_hash(&ins, hash);
    cl_pg_p_i64(&ins, now);
    cl_pg_p_i64(&ins, expires_at);
    rc = cl_pg_begin(q, __func__);
    if (rc)
        return rc;
    /* the user's row locked: two requests at once count one after the other */
    rc = cl_pg_one(q, "SELECT 1 FROM users WHERE id = $1 FOR UPDATE", &u, &r, __func__);
    if (rc)
        return cl_pg_end(q, rc, __func__);
    cl_pq.PQclear(r);
    rc = cl_pg_exec(q, "DELETE FROM password_resets WHERE user_id = $1 AND expires_at <= $2", &p,
                    __func__);
    if (rc == 0)
        rc = cl_pg_run(q, "SELECT count(*) FROM password_resets WHERE user_id = $1", &u, &r,
                       __func__);
    if (rc)
        return cl_pg_end(q, rc, __func__);
    live = cl_pg_i64(r, 0, 0);
    cl_pq.PQclear(r);
    if (live >= CL_RESET_LINKS_MAX) {
        rc = cl_pg_commit(q, __func__); /* keep the purge */
        return rc ? rc : CL_ELIMIT;
    }
    rc = cl_pg_exec(q,
                    "INSERT INTO password_resets (id, user_id, token_hash, created_at, expires_at)"
                    " VALUES ($1, $2, $3, $4, $5)",
                    &ins, __func__);
    return cl_pg_end(q, rc, __func__);
}

/* Inside a transaction: spends the one-time secret whose hash is hash
 * (SQLite's cl__spend_once). by_hash selects user_id, the hash and
 * expires_at FOR UPDATE; del deletes by hash. 0 with uid set, CL_EEXPIRED
 * (deleted: commit), CL_ENOTFOUND, or a database error (roll back). */
static int cl__spend_once(struct cl_pg *q, const char *by_hash, const char *del,
                          const uint8_t hash[CL_HASH_LEN], int64_t now, char uid[CL_UUID_LEN + 1],
                          const char *op)
{
    struct cl_pg_params p = {0};
    uint8_t stored[CL_HASH_LEN];
    bool match, expired;
    PGresult *r;
    int rc;

    cl_pg_p_hash(&p, hash);
    rc = cl_pg_one(q, by_hash, &p, &r, op);
    if (rc)
        return rc;
    cl_pg_str(r, 0, 0, uid, CL_UUID_LEN + 1);
    match = cl_pg_hash(r, 0, 1, stored) && cl_secret_equal(stored, hash);
    expired = cl_pg_i64(r, 0, 2) <= now;
    cl_pq.PQclear(r);
    if (!match)
        return CL_ENOTFOUND;
    rc = cl_pg_exec(q, del, &p, op);
    if (rc)
        return rc;
    return expired ? CL_EEXPIRED : 0;
}

int cl_pg_reset_consume(struct cl_store *s, const uint8_t hash[CL_HASH_LEN], int64_t now,
                        const char *pw_hash, char user_id[CL_UUID_LEN + 1])
{
    struct cl_pg *q = s->impl;
    char uid[CL_UUID_LEN + 1];
    int rc = cl_pg_begin(q, __func__);
    if (rc)
        return rc;
    rc = cl__spend_once(q,
                        "SELECT user_id, token_hash, expires_at FROM password_resets"
                        " WHERE token_hash = $1 FOR UPDATE",
                        "DELETE FROM password_resets WHERE token_hash = $1", hash, now, uid,
                        __func__);
    if (rc == CL_EEXPIRED) {
        rc = cl_pg_commit(q, __func__); /* the expired token goes */
        return rc ? rc : CL_EEXPIRED;
    }
    if (rc == 0)
        rc = cl__set_password(q, uid, pw_hash, NULL, now, __func__);
    rc = cl_pg_end(q, rc, __func__);
    if (rc == 0 && user_id)
        memcpy(user_id, uid, sizeof uid);
    return rc;
}

/* ---- email verification ------------------------------------------------------- */

int cl_pg_verify_create(struct cl_store *s, const char *user_id, const char *email,
                        const uint8_t hash[CL_HASH_LEN], int64_t now, int64_t expires_at)
{
    struct cl_pg_params p = {0};
    cl_pg_p_str(&p, user_id);
    cl_pg_p_str(&p, email);
    cl_pg_p_hash(&p, hash);
    cl_pg_p_i64(&p, now);
    cl_pg_p_i64(&p, expires_at);
    return cl_pg_exec(
        s->impl,
        "INSERT INTO email_verifications (user_id, email, token_hash, created_at, expires_at)"
        " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (user_id) DO UPDATE SET email = excluded.email,"
        " token_hash = excluded.token_hash, created_at = excluded.created_at,"
        " expires_at = excluded.expires_at",
        &p, __func__);
}

/* $3 NULL: any address; else only while the account's address is $3 */
static const char cl__sql_set_verified[] =
    "UPDATE users SET email_verified_at = $2::bigint"
    " WHERE id = $1 AND ($3::text IS NULL OR lower(email) = lower($3::text))";

int cl_pg_verify_consume(struct cl_store *s, const uint8_t hash[CL_HASH_LEN], int64_t now,
                         char user_id[CL_UUID_LEN + 1])
{
    struct cl_pg *q = s->impl;
    char uid[CL_UUID_LEN + 1], email[CL_EMAIL_MAX + 1];
    struct cl_pg_params p = {0}, v = {0};
    PGresult *r;
    int rc;

    cl_pg_p_hash(&p, hash);
    rc = cl_pg_begin(q, __func__);
    if (rc)
        return rc;
    rc = cl_pg_run(q, "SELECT email FROM email_verifications WHERE token_hash = $1 FOR UPDATE", &p,
                   &r, __func__);
    if (rc)
        return cl_pg_end(q, rc, __func__);
    email[0] = 0;
    if (cl_pq.PQntuples(r) > 0)
        cl_pg_str(r, 0, 0, email, sizeof email);
    cl_pq.PQclear(r);
    rc = cl__spend_once(q,
                        "SELECT user_id, token_hash, expires_at FROM email_verifications"
                        " WHERE token_hash = $1 FOR UPDATE",
                        "DELETE FROM email_verifications WHERE token_hash = $1", hash, now, uid,
                        __func__);
    if (rc == CL_EEXPIRED) {
        rc = cl_pg_commit(q, __func__); /* the expired link goes */
        return rc ? rc : CL_EEXPIRED;
    }
    if (rc)
        return cl_pg_end(q, rc, __func__);
    cl_pg_p_str(&v, uid);
    cl_pg_p_i64(&v, now);
    cl_pg_p_str(&v, email);
    rc = cl_pg_exec_one(q, cl__sql_set_verified, &v, __func__);
    if (rc == CL_ENOTFOUND) {
        rc = cl_pg_commit(q, __func__); /* the address changed: the link is spent */
        return rc ? rc : CL_ESTATE;
    }
    rc = cl_pg_end(q, rc, __func__);
    if (rc == 0 && user_id)
        memcpy(user_id, uid, sizeof uid);
    return rc;
}

int cl_pg_user_set_email_verified(struct cl_store *s, const char *user_id, int64_t at)
{
    struct cl_pg *q = s->impl;
    struct cl_pg_params v = {0}, u = {0};
    int rc;

    cl_pg_p_str(&v, user_id);
    if (at)
        cl_pg_p_i64(&v, at);
    else
        cl_pg_p_str(&v, NULL);
    cl_pg_p_str(&v, NULL);
    cl_pg_p_str(&u, user_id);
    rc = cl_pg_begin(q, __func__);
    if (rc)
        return rc;
    rc = cl_pg_exec_one(q, cl__sql_set_verified, &v, __func__);
    if (rc == 0)
        rc = cl_pg_exec(q, "DELETE FROM email_verifications WHERE user_id = $1", &u, __func__);
    return cl_pg_end(q, rc, __func__);
}

/* ---- web sign-in: relay secrets, one-time codes -------------------------------- */

int cl_pg_secret_get(struct cl_store *s, const char *name, const uint8_t fresh[CL_HASH_LEN],
                     uint8_t out[CL_HASH_LEN])
{
    struct cl_pg *q = s->impl;
    struct cl_pg_params p = {0}, n = {0};
    PGresult *r;
    bool ok;
    int rc;

    cl_pg_p_str(&p, name);
    cl_pg_p_hash(&p, fresh);
    cl_pg_p_str(&n, name);
    rc = cl_pg_exec(q,
                    "INSERT INTO relay_secrets (name, value) VALUES ($1, $2)"
                    " ON CONFLICT (name) DO NOTHING",
                    &p, __func__);
    if (rc == 0)
        rc = cl_pg_one(q, "SELECT value FROM relay_secrets WHERE name = $1", &n, &r, __func__);
    if (rc)
        return rc == CL_ENOTFOUND ? CL_EDB : rc;
    ok = cl_pg_hash(r, 0, 0, out);
    cl_pq.PQclear(r);
    return ok ? 0 : CL_EDB;
}

int cl_pg_user_count(struct cl_store *s, int64_t *out)
{
    PGresult *r;
    int rc = cl_pg_run(s->impl, "SELECT count(*) FROM users", NULL, &r, __func__);
    if (rc)
        return rc;
    *out = cl_pq.PQntuples(r) ? cl_pg_i64(r, 0, 0) : 0;
    cl_pq.PQclear(r);
    return 0;
}

int cl_pg_ping(struct cl_store *s, char *err, size_t errlen)
{
    PGresult *r;
    int rc = cl_pg_run(s->impl, "SELECT count(*) FROM (SELECT 1 FROM users LIMIT 1) AS one", NULL,
                       &r, __func__);
    if (rc == CL_EUNAVAIL)
        return cl_seterr(err, errlen, CL_EDB, "PostgreSQL is unreachable");
    if (rc)
        return cl_seterr(err, errlen, CL_EDB, "a read failed: %s", cl_strerror(rc));
    cl_pq.PQclear(r);
    return 0;
}

int cl_pg_signin_code_create(struct cl_store *s, const uint8_t hash[CL_HASH_LEN],
                             const char *user_id, int64_t now, int64_t expires_at)
{
    struct cl_pg *q = s->impl;
    struct cl_pg_params p = {0}, t = {0};
    int rc;

    cl_pg_p_i64(&t, now);
    cl_pg_p_hash(&p, hash);
    cl_pg_p_str(&p, user_id);
    cl_pg_p_i64(&p, now);
    cl_pg_p_i64(&p, expires_at);
    rc = cl_pg_exec(q, "DELETE FROM signin_codes WHERE expires_at <= $1", &t, __func__);
    if (rc)
        return rc;
    return cl_pg_exec(q,
                      "INSERT INTO signin_codes (code_hash, user_id, created_at, expires_at)"
                      " VALUES ($1, $2, $3, $4)",
                      &p, __func__);
}

int cl_pg_signin_code_consume(struct cl_store *s, const uint8_t hash[CL_HASH_LEN], int64_t now,
                              char user_id[CL_UUID_LEN + 1])
{
    struct cl_pg *q = s->impl;
    char uid[CL_UUID_LEN + 1];
    int rc, crc;

    rc = cl_pg_begin(q, __func__);
    if (rc)
        return rc;
    rc = cl__spend_once(q,
                        "SELECT user_id, code_hash, expires_at FROM signin_codes"
                        " WHERE code_hash = $1 FOR UPDATE",
                        "DELETE FROM signin_codes WHERE code_hash = $1", hash, now, uid, __func__);
    if (rc && rc != CL_EEXPIRED)
        return cl_pg_end(q, rc, __func__);
    crc = cl_pg_commit(q, __func__);
    if (crc)
        return crc;
    if (rc)
        return rc; /* CL_EEXPIRED: the code is gone */
    memcpy(user_id, uid, sizeof uid);
    return 0;
}

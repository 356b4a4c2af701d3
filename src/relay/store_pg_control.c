/*
 * store_pg_control: the PostgreSQL store's ops on projects, members,
 * invitations, devices, sessions and shares, and the backend's ops table
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

/* ---- rows ------------------------------------------------------------------------ */

#define CL__PROJECT_COLS "p.id, p.name, p.owner_id, p.created_at, p.updated_at"
#define CL__SESSION_COLS                                                                           \
    "s.id, s.device_id, s.user_id, s.status, s.started_at, s.ended_at, s.end_reason,"              \
    " s.exit_code, s.name, s.title"
/* code_expires_at is 0 when no code is live, as struct cl_device says */
#define CL__DEVICE_COLS                                                                            \
    "d.id, d.project_id, d.name, d.status, d.paired, d.last_seen, d.created_at,"                   \
    " CASE WHEN d.pairing_code_hash IS NULL THEN 0 ELSE d.pairing_code_expires_at END,"            \
    " d.kind, coalesce(d.connected_at, 0), coalesce(d.last_heartbeat, 0)"
#define CL__INVITATION_SELECT                                                                      \
    "SELECT i.id, i.project_id, i.email, coalesce(i.invited_by, ''), i.created_at, p.name,"        \
    " coalesce(u.email, ''), coalesce(pr.display_name, '') FROM invitations i"                     \
    " JOIN projects p ON p.id = i.project_id LEFT JOIN users u ON u.id = i.invited_by"             \
    " LEFT JOIN profiles pr ON pr.user_id = i.invited_by"

static const char *cl__role_name(enum cl_role r)
{
    return r == CL_ROLE_OWNER ? "owner" : "member";
}

static enum cl_role cl__role_from(const char *s)
{
    if (strcmp(s, "owner") == 0)
        return CL_ROLE_OWNER;
    return strcmp(s, "member") == 0 ? CL_ROLE_MEMBER : CL_ROLE_NONE;
}

static const char *cl__mode_name(enum cl_share_mode m)
{
    return m == CL_SHARE_CONTROL ? "control" : "view";
}

static enum cl_share_mode cl__mode_parse(const char *s)
{
    if (strcmp(s, "control") == 0)
        return CL_SHARE_CONTROL;
    return strcmp(s, "view") == 0 ? CL_SHARE_VIEW : CL_SHARE_NONE;
}

static void cl__project_row(const PGresult *r, int i, struct cl_project *p)
{
    memset(p, 0, sizeof *p);
    cl_pg_str(r, i, 0, p->id, sizeof p->id);
    cl_pg_str(r, i, 1, p->name, sizeof p->name);
    cl_pg_str(r, i, 2, p->owner_id, sizeof p->owner_id);
    p->created_at = cl_pg_i64(r, i, 3);
    p->updated_at = cl_pg_i64(r, i, 4);
}

static void cl__device_row(const PGresult *r, int i, struct cl_device *d)
{
    memset(d, 0, sizeof *d);
    cl_pg_str(r, i, 0, d->id, sizeof d->id);
    cl_pg_str(r, i, 1, d->project_id, sizeof d->project_id);
    cl_pg_str(r, i, 2, d->name, sizeof d->name);
    d->online = strcmp(cl_pq.PQgetvalue(r, i, 3), "online") == 0;
    d->paired = cl_pg_i64(r, i, 4) != 0;
    d->last_seen = cl_pg_i64(r, i, 5);
    d->created_at = cl_pg_i64(r, i, 6);
    d->code_expires_at = cl_pg_i64(r, i, 7);
    cl_pg_str(r, i, 8, d->kind, sizeof d->kind);
    d->connected_at = cl_pg_i64(r, i, 9);
    d->last_heartbeat = cl_pg_i64(r, i, 10);
}

static void cl__session_row(const PGresult *r, int i, struct cl_session *x)
{
    memset(x, 0, sizeof *x);
    cl_pg_str(r, i, 0, x->id, sizeof x->id);
    cl_pg_str(r, i, 1, x->device_id, sizeof x->device_id);
    cl_pg_str(r, i, 2, x->user_id, sizeof x->user_id);
    x->active = strcmp(cl_pq.PQgetvalue(r, i, 3), "active") == 0;
    x->started_at = cl_pg_i64(r, i, 4);
    x->ended_at = cl_pg_i64(r, i, 5);
    cl_pg_str(r, i, 6, x->end_reason, sizeof x->end_reason);
    x->has_exit_code = !cl_pg_null(r, i, 7);
    x->exit_code = (int)cl_pg_i64(r, i, 7);
    cl_pg_str(r, i, 8, x->name, sizeof x->name);
    cl_pg_str(r, i, 9, x->title, sizeof x->title);
}

static void cl__invitation_row(const PGresult *r, int i, struct cl_invitation *inv, bool joined)
{
    memset(inv, 0, sizeof *inv);
    cl_pg_str(r, i, 0, inv->id, sizeof inv->id);
    cl_pg_str(r, i, 1, inv->project_id, sizeof inv->project_id);
    cl_pg_str(r, i, 2, inv->email, sizeof inv->email);
    cl_pg_str(r, i, 3, inv->invited_by, sizeof inv->invited_by);
    inv->created_at = cl_pg_i64(r, i, 4);
    if (!joined)
        return;
    cl_pg_str(r, i, 5, inv->project_name, sizeof inv->project_name);
    cl_pg_str(r, i, 6, inv->inviter_email, sizeof inv->inviter_email);
    cl_pg_str(r, i, 7, inv->inviter_name, sizeof inv->inviter_name);
}

static const char cl__sql_project_devices[] =
    "SELECT id FROM devices WHERE project_id = $1 ORDER BY seq";
static const char cl__sql_project_ended[] =
    "SELECT s.id FROM sessions s JOIN devices d ON d.id = s.device_id"
    " WHERE d.project_id = $1 AND s.status = 'active' ORDER BY s.seq";
static const char cl__sql_device_ended[] =
    "SELECT id FROM sessions WHERE device_id = $1 AND status = 'active' ORDER BY seq";
static const char cl__sql_member_ended[] =
    "SELECT s.id FROM sessions s JOIN devices d ON d.id = s.device_id"
    " WHERE d.project_id = $1 AND s.user_id = $2 AND s.status = 'active' ORDER BY s.seq";
static const char cl__sql_member_unshared[] =
    "SELECT s.id FROM sessions s JOIN devices d ON d.id = s.device_id"
    " JOIN session_shares sh ON sh.session_id = s.id AND sh.user_id = $2"
    " WHERE d.project_id = $1 AND s.status = 'active' AND coalesce(s.user_id, '') <> $2"
    " ORDER BY s.seq";

/* ---- projects and members ------------------------------------------------------- */

static int cl__member_insert(struct cl_pg *q, const char *project_id, const char *user_id,
                             enum cl_role role, const char *invited_by, int64_t now,
                             bool keep_existing, const char *op)
{
    struct cl_pg_params p = {0};
    char id[CL_UUID_LEN + 1];
    cl_uuid_new(id);
    cl_pg_p_str(&p, id);
    cl_pg_p_str(&p, project_id);
    cl_pg_p_str(&p, user_id);
    cl_pg_p_str(&p, cl__role_name(role));
    cl_pg_p_opt(&p, invited_by);
    cl_pg_p_i64(&p, now);
    /* keep_existing: inside a transaction that must go on past a
     * membership that exists (a failed statement would abort it) */
    return cl_pg_exec(
        q,
        keep_existing ? "INSERT INTO project_members (id, project_id, user_id, role, invited_by,"
                        " created_at) VALUES ($1, $2, $3, $4, $5, $6)"
                        " ON CONFLICT (project_id, user_id) DO NOTHING"
                      : "INSERT INTO project_members (id, project_id, user_id, role, invited_by,"
                        " created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        &p, op);
}

static int cl__project_create(struct cl_store *s, const struct cl_project *p)
{
    struct cl_pg *q = s->impl;
    struct cl_pg_params a = {0};
    int rc;

    cl_pg_p_str(&a, p->id);
    cl_pg_p_str(&a, p->name);
    cl_pg_p_str(&a, p->owner_id);
    cl_pg_p_i64(&a, p->created_at);
    cl_pg_p_i64(&a, p->updated_at);
    rc = cl_pg_begin(q, __func__);
    if (rc)
        return rc;
    rc = cl_pg_exec(q,
                    "INSERT INTO projects (id, name, owner_id, created_at, updated_at)"
                    " VALUES ($1, $2, $3, $4, $5)",
                    &a, __func__);
    if (rc == 0)
        rc = cl__member_insert(q, p->id, p->owner_id, CL_ROLE_OWNER, NULL, p->created_at, false,
                               __func__);
    return cl_pg_end(q, rc, __func__);
}

static int cl__project_get(struct cl_store *s, const char *id, struct cl_project *out)
{
    struct cl_pg_params p = {0};
    PGresult *r;
    int rc;
    cl_pg_p_str(&p, id);
    rc = cl_pg_one(s->impl, "SELECT " CL__PROJECT_COLS " FROM projects p WHERE p.id = $1", &p, &r,
                   __func__);
    if (rc)
        return rc;
    cl__project_row(r, 0, out);
    cl_pq.PQclear(r);
    return 0;
}

static int cl__project_list_for_user(struct cl_store *s, const char *user_id, cl_project_cb cb,
                                     void *ctx)
{
    struct cl_pg_params p = {0};
    struct cl_project pr;
    PGresult *r;
    int rc;
    cl_pg_p_str(&p, user_id);
    rc = cl_pg_run(s->impl,
                   "SELECT " CL__PROJECT_COLS ", m.role FROM project_members m"
                   " JOIN projects p ON p.id = m.project_id WHERE m.user_id = $1"
                   " ORDER BY p.created_at DESC, p.seq DESC",
                   &p, &r, __func__);
    if (rc)
        return rc;
    for (int i = 0; i < cl_pq.PQntuples(r); i++) {
        cl__project_row(r, i, &pr);
        pr.role = cl__role_from(cl_pq.PQgetvalue(r, i, 5));
        cb(&pr, ctx);
    }
    cl_pq.PQclear(r);
    return 0;
}

static int cl__member_add(struct cl_store *s, const char *project_id, const char *user_id,
                          enum cl_role role, const char *invited_by, int64_t now)
{
    return cl__member_insert(s->impl, project_id, user_id, role, invited_by, now, false, __func__);
}

/* lock: FOR UPDATE, inside member_remove's transaction */
static int cl__role_of(struct cl_pg *q, const char *project_id, const char *user_id, bool lock,
                       enum cl_role *out, const char *op)
{
    struct cl_pg_params p = {0};
    PGresult *r;
    int rc;
    cl_pg_p_str(&p, project_id);
    cl_pg_p_str(&p, user_id);
    rc = cl_pg_run(q,
                   lock ? "SELECT role FROM project_members WHERE project_id = $1 AND user_id = $2"
                          " FOR UPDATE"
                        : "SELECT role FROM project_members WHERE project_id = $1 AND user_id = $2",
                   &p, &r, op);
    if (rc)
        return rc;
    *out = cl_pq.PQntuples(r) ? cl__role_from(cl_pq.PQgetvalue(r, 0, 0)) : CL_ROLE_NONE;
    cl_pq.PQclear(r);
    return 0;
}

static int cl__member_role(struct cl_store *s, const char *project_id, const char *user_id,
                           enum cl_role *out)
{
    return cl__role_of(s->impl, project_id, user_id, false, out, __func__);
}

/* ---- invitations --------------------------------------------------------------- */

static int cl__invitation_create(struct cl_store *s, const char *project_id, const char *email,
                                 const char *invited_by, int64_t now, char id[CL_UUID_LEN + 1])
{
    struct cl_pg_params p = {0};
    cl_uuid_new(id);
    cl_pg_p_str(&p, id);
    cl_pg_p_str(&p, project_id);
    cl_pg_p_str(&p, email);
    cl_pg_p_opt(&p, invited_by);
    cl_pg_p_i64(&p, now);
    return cl_pg_exec(
        s->impl,
        "INSERT INTO invitations (id, project_id, email, invited_by, status, created_at)"
        " VALUES ($1, $2, $3, $4, 'pending', $5)",
        &p, __func__);
}

static int cl__count(struct cl_pg *q, const char *sql, const char *id, size_t *out, const char *op)
{
    struct cl_pg_params p = {0};
    PGresult *r;
    int rc;
    cl_pg_p_str(&p, id);
    rc = cl_pg_run(q, sql, &p, &r, op);
    if (rc)
        return rc;
    *out = cl_pq.PQntuples(r) ? (size_t)cl_pg_i64(r, 0, 0) : 0;
    cl_pq.PQclear(r);
    return 0;
}

static int cl__invitation_count_pending(struct cl_store *s, const char *project_id, size_t *out)
{
    return cl__count(
        s->impl, "SELECT count(*) FROM invitations WHERE project_id = $1 AND status = 'pending'",
        project_id, out, __func__);
}

static int cl__invitation_get(struct cl_store *s, const char *id, struct cl_invitation *out)
{
    struct cl_pg_params p = {0};
    PGresult *r;
    int rc;
    cl_pg_p_str(&p, id);
    rc = cl_pg_one(s->impl, CL__INVITATION_SELECT " WHERE i.id = $1 AND i.status = 'pending'", &p,
                   &r, __func__);
    if (rc)
        return rc;
    cl__invitation_row(r, 0, out, true);
    cl_pq.PQclear(r);
    return 0;
}

static int cl__invitation_list_for_email(struct cl_store *s, const char *email, cl_invitation_cb cb,
                                         void *ctx)
{
    struct cl_pg_params p = {0};
    struct cl_invitation inv;
    PGresult *r;
    int rc;
    cl_pg_p_str(&p, email);
    rc =
        cl_pg_run(s->impl,
                  CL__INVITATION_SELECT " WHERE lower(i.email) = lower($1) AND i.status = 'pending'"
                                        " ORDER BY i.created_at, i.seq",
                  &p, &r, __func__);
    if (rc)
        return rc;
    for (int i = 0; i < cl_pq.PQntuples(r); i++) {
        cl__invitation_row(r, i, &inv, true);
        cb(&inv, ctx);
    }
    cl_pq.PQclear(r);
    return 0;
}

/* The invitation is read pending FOR UPDATE, so two answers racing
 * cannot both count. A membership that already exists is kept. */
static int cl__invitation_respond(struct cl_store *s, const char *id, const char *user_id,
                                  bool accept, int64_t now)
{
    struct cl_pg *q = s->impl;
    struct cl_pg_params p = {0}, a = {0};
    char project_id[CL_UUID_LEN + 1], invited_by[CL_UUID_LEN + 1];
    PGresult *r;
    int rc;

    cl_pg_p_str(&p, id);
    cl_pg_p_str(&a, id);
    cl_pg_p_str(&a, accept ? "accepted" : "declined");
    cl_pg_p_i64(&a, now);
    rc = cl_pg_begin(q, __func__);
    if (rc)
        return rc;
    rc = cl_pg_one(q,
                   "SELECT project_id, coalesce(invited_by, '') FROM invitations"
                   " WHERE id = $1 AND status = 'pending' FOR UPDATE",
                   &p, &r, __func__);
    if (rc)
        return cl_pg_end(q, rc, __func__);
    cl_pg_str(r, 0, 0, project_id, sizeof project_id);
    cl_pg_str(r, 0, 1, invited_by, sizeof invited_by);
    cl_pq.PQclear(r);
    if (accept)
        rc = cl__member_insert(q, project_id, user_id, CL_ROLE_MEMBER, invited_by, now, true,
                               __func__);
    if (rc == 0)
        rc = cl_pg_exec_one(q,
                            "UPDATE invitations SET status = $2, responded_at = $3"
                            " WHERE id = $1 AND status = 'pending'",
                            &a, __func__);
    return cl_pg_end(q, rc, __func__);
}

static int cl__invitation_list(struct cl_store *s, const char *project_id, cl_invitation_cb cb,
                               void *ctx)
{
    struct cl_pg_params p = {0};
    struct cl_invitation inv;
    PGresult *r;
    int rc;
    cl_pg_p_str(&p, project_id);
    rc = cl_pg_run(s->impl,
                   "SELECT id, project_id, email, coalesce(invited_by, ''), created_at"
                   " FROM invitations WHERE project_id = $1 AND status = 'pending'"
                   " ORDER BY created_at, seq",
                   &p, &r, __func__);
    if (rc)
        return rc;
    for (int i = 0; i < cl_pq.PQntuples(r); i++) {
        cl__invitation_row(r, i, &inv, false);
        cb(&inv, ctx);
    }
    cl_pq.PQclear(r);
    return 0;
}

static int cl__invitation_cancel(struct cl_store *s, const char *project_id, const char *id)
{
    struct cl_pg_params p = {0};
    cl_pg_p_str(&p, project_id);
    cl_pg_p_str(&p, id);
    return cl_pg_exec_one(s->impl,
                          "UPDATE invitations SET status = 'cancelled'"
                          " WHERE id = $2 AND project_id = $1 AND status = 'pending'",
                          &p, __func__);
}

/* ---- devices ------------------------------------------------------------------ */

static int cl__device_create(struct cl_store *s, const struct cl_device *d,
                             const uint8_t code_hash[CL_HASH_LEN], int64_t code_expires_at)
{
    struct cl_pg_params p = {0};
    cl_pg_p_str(&p, d->id);
    cl_pg_p_str(&p, d->project_id);
    cl_pg_p_str(&p, d->name);
    cl_pg_p_hash(&p, code_hash);
    if (code_hash)
        cl_pg_p_i64(&p, code_expires_at);
    else
        cl_pg_p_str(&p, NULL);
    cl_pg_p_i64(&p, d->created_at);
    return cl_pg_exec(s->impl,
                      "INSERT INTO devices (id, project_id, name, pairing_code_hash,"
                      " pairing_code_expires_at, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
                      &p, __func__);
}

static int cl__device_get(struct cl_store *s, const char *id, struct cl_device *out)
{
    struct cl_pg_params p = {0};
    struct cl_device d;
    PGresult *r;
    int rc;
    cl_pg_p_str(&p, id);
    rc = cl_pg_one(s->impl, "SELECT " CL__DEVICE_COLS " FROM devices d WHERE d.id = $1", &p, &r,
                   __func__);
    if (rc)
        return rc;
    cl__device_row(r, 0, &d);
    cl_pq.PQclear(r);
    if (out)
        *out = d;
    return 0;
}

static int cl__device_rows(struct cl_pg *q, const char *sql, const char *key, cl_device_cb cb,
                           void *ctx, const char *op)
{
    struct cl_pg_params p = {0};
    struct cl_device d;
    PGresult *r;
    int rc;
    cl_pg_p_str(&p, key);
    rc = cl_pg_run(q, sql, &p, &r, op);
    if (rc)
        return rc;
    for (int i = 0; i < cl_pq.PQntuples(r); i++) {
        cl__device_row(r, i, &d);
        cb(&d, ctx);
    }
    cl_pq.PQclear(r);
    return 0;
}

static int cl__device_list(struct cl_store *s, const char *project_id, cl_device_cb cb, void *ctx)
{
    return cl__device_rows(s->impl,
                           "SELECT " CL__DEVICE_COLS " FROM devices d WHERE d.project_id = $1"
                           " ORDER BY d.created_at, d.seq",
                           project_id, cb, ctx, __func__);
}

static int cl__device_list_for_user(struct cl_store *s, const char *user_id, cl_device_cb cb,
                                    void *ctx)
{
    return cl__device_rows(s->impl,
                           "SELECT " CL__DEVICE_COLS " FROM devices d WHERE d.paired = 1 AND"
                           " d.project_id IN (SELECT project_id FROM project_members"
                           " WHERE user_id = $1) ORDER BY d.created_at, d.seq",
                           user_id, cb, ctx, __func__);
}

/* The device whose code hash is code_hash (FOR UPDATE when lock):
 * 0 with its id and whether the code expired at now, or CL_ENOTFOUND.
 * The stored hash is compared again in constant time. */
static int cl__device_by_code(struct cl_pg *q, const uint8_t code_hash[CL_HASH_LEN], int64_t now,
                              bool lock, char id[CL_UUID_LEN + 1], bool *expired, const char *op)
{
    struct cl_pg_params p = {0};
    uint8_t stored[CL_HASH_LEN];
    PGresult *r;
    bool match;
    int rc;

    cl_pg_p_hash(&p, code_hash);
    rc = cl_pg_one(q,
                   lock ? "SELECT id, pairing_code_hash, pairing_code_expires_at FROM devices"
                          " WHERE pairing_code_hash = $1 FOR UPDATE"
                        : "SELECT id, pairing_code_hash, pairing_code_expires_at FROM devices"
                          " WHERE pairing_code_hash = $1",
                   &p, &r, op);
    if (rc)
        return rc;
    cl_pg_str(r, 0, 0, id, CL_UUID_LEN + 1);
    match = cl_pg_hash(r, 0, 1, stored) && cl_secret_equal(stored, code_hash);
    *expired = cl_pg_i64(r, 0, 2) <= now;
    cl_pq.PQclear(r);
    return match ? 0 : CL_ENOTFOUND;
}

static const char cl__sql_clear_code[] =
    "UPDATE devices SET pairing_code_hash = NULL, pairing_code_expires_at = NULL WHERE id = $1";

/* One transaction, the device's row locked: two requests racing with one
 * code cannot both pair (the second finds it cleared). */
static int cl__device_pair(struct cl_store *s, const uint8_t code_hash[CL_HASH_LEN], int64_t now,
                           const char *name, const uint8_t token_hash[CL_HASH_LEN],
                           struct cl_device *out)
{
    struct cl_pg *q = s->impl;
    struct cl_pg_params p = {0}, c = {0};
    char id[CL_UUID_LEN + 1];
    struct cl_device d;
    bool expired;
    int rc;

    rc = cl_pg_begin(q, __func__);
    if (rc)
        return rc;
    rc = cl__device_by_code(q, code_hash, now, true, id, &expired, __func__);
    if (rc)
        return cl_pg_end(q, rc, __func__);
    cl_pg_p_str(&c, id);
    if (expired) {
        /* an expired code is spent too: it can never succeed later */
        rc = cl_pg_exec(q, cl__sql_clear_code, &c, __func__);
        rc = cl_pg_end(q, rc, __func__);
        return rc ? rc : CL_EEXPIRED;
    }
    cl_pg_p_str(&p, id);
    cl_pg_p_hash(&p, token_hash);
    cl_pg_p_opt(&p, name);
    rc = cl_pg_exec(q,
                    "UPDATE devices SET pairing_code_hash = NULL, pairing_code_expires_at = NULL,"
                    " device_token_hash = $2, paired = 1, name = coalesce($3, name) WHERE id = $1",
                    &p, __func__);
    if (rc == 0)
        rc = cl__device_get(s, id, &d);
    rc = cl_pg_end(q, rc, __func__);
    if (rc == 0 && out)
        *out = d;
    return rc;
}

static int cl__device_code_check(struct cl_store *s, const uint8_t code_hash[CL_HASH_LEN],
                                 int64_t now, char *id_out)
{
    char id[CL_UUID_LEN + 1];
    bool expired;
    int rc = cl__device_by_code(s->impl, code_hash, now, false, id, &expired, __func__);
    if (rc)
        return rc;
    if (expired)
        return CL_EEXPIRED;
    memcpy(id_out, id, sizeof id);
    return 0;
}

static int cl__device_code_void(struct cl_store *s, const uint8_t code_hash[CL_HASH_LEN],
                                char *id_out)
{
    char id[CL_UUID_LEN + 1];
    struct cl_pg_params p = {0};
    bool expired;
    int rc = cl__device_by_code(s->impl, code_hash, 0, false, id, &expired, __func__);
    if (rc)
        return rc; /* live or expired alike */
    cl_pg_p_str(&p, id);
    rc = cl_pg_exec_one(s->impl, cl__sql_clear_code, &p, __func__);
    if (rc == 0 && id_out)
        memcpy(id_out, id, sizeof id);
    return rc;
}

static int cl__device_token_hash(struct cl_store *s, const char *device_id,
                                 uint8_t out[CL_HASH_LEN])
{
    struct cl_pg_params p = {0};
    PGresult *r;
    bool ok;
    int rc;
    cl_pg_p_str(&p, device_id);
    rc = cl_pg_one(s->impl,
                   "SELECT device_token_hash FROM devices"
                   " WHERE id = $1 AND paired = 1 AND device_token_hash IS NOT NULL",
                   &p, &r, __func__);
    if (rc)
        return rc;
    ok = cl_pg_hash(r, 0, 0, out);
    cl_pq.PQclear(r);
    if (!ok) {
        cl_error("store", "stored device token hash has the wrong length", "op=%s", __func__);
        return CL_EDB;
    }
    return 0;
}

static int cl__device_set_online(struct cl_store *s, const char *device_id, bool online,
                                 int64_t now)
{
    struct cl_pg_params p = {0};
    cl_pg_p_str(&p, device_id);
    cl_pg_p_str(&p, online ? "online" : "offline");
    cl_pg_p_i64(&p, now);
    cl_pg_p_i64(&p, CL_DEVICE_ONLINE_GAP_S);
    /* as SQLite's: coming online starts a connection; online_since
     * survives a reconnect within CL_DEVICE_ONLINE_GAP_S */
    return cl_pg_exec_one(
        s->impl,
        "UPDATE devices SET status = $2::text, last_seen = $3::bigint,"
        " connected_at = CASE WHEN $2::text = 'online' THEN $3::bigint ELSE connected_at END,"
        " online_since = CASE WHEN $2::text <> 'online' THEN online_since"
        " WHEN online_since IS NOT NULL AND (status = 'online' OR last_seen >= $3::bigint - $4)"
        " THEN online_since ELSE $3::bigint END,"
        " last_heartbeat = CASE WHEN $2::text = 'online' THEN $3::bigint"
        " ELSE last_heartbeat END WHERE id = $1",
        &p, __func__);
}

static int cl__device_all_offline(struct cl_store *s, int64_t now)
{
    struct cl_pg_params p = {0};
    cl_pg_p_i64(&p, now);
    return cl_pg_exec(
        s->impl, "UPDATE devices SET status = 'offline', last_seen = $1 WHERE status = 'online'",
        &p, __func__);
}

/* ---- sessions ----------------------------------------------------------------- */

static int cl__session_create(struct cl_store *s, const struct cl_session *sess)
{
    struct cl_pg_params p = {0};
    bool ended = !sess->active;
    cl_pg_p_str(&p, sess->id);
    cl_pg_p_str(&p, sess->device_id);
    cl_pg_p_opt(&p, sess->user_id);
    cl_pg_p_str(&p, ended ? "ended" : "active");
    cl_pg_p_i64(&p, sess->started_at);
    if (ended)
        cl_pg_p_i64(&p, sess->ended_at);
    else
        cl_pg_p_str(&p, NULL);
    cl_pg_p_opt(&p, ended ? sess->end_reason : NULL);
    if (ended && sess->has_exit_code)
        cl_pg_p_i64(&p, sess->exit_code);
    else
        cl_pg_p_str(&p, NULL);
    return cl_pg_exec(s->impl,
                      "INSERT INTO sessions (id, device_id, user_id, status, started_at,"
                      " ended_at, end_reason, exit_code) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                      &p, __func__);
}

static int cl__session_count_open(struct cl_store *s, const char *device_id, const char *user_id,
                                  size_t *per_device, size_t *per_user)
{
    int rc;
    *per_device = *per_user = 0;
    rc = cl__count(s->impl,
                   "SELECT count(*) FROM sessions WHERE device_id = $1 AND status = 'active'",
                   device_id, per_device, __func__);
    if (rc)
        return rc;
    return cl__count(s->impl,
                     "SELECT count(*) FROM sessions WHERE user_id = $1 AND status = 'active'",
                     user_id, per_user, __func__);
}

static int cl__session_get(struct cl_store *s, const char *id, struct cl_session *out)
{
    struct cl_pg_params p = {0};
    PGresult *r;
    int rc;
    cl_pg_p_str(&p, id);
    rc = cl_pg_one(s->impl, "SELECT " CL__SESSION_COLS " FROM sessions s WHERE s.id = $1", &p, &r,
                   __func__);
    if (rc)
        return rc;
    cl__session_row(r, 0, out);
    cl_pq.PQclear(r);
    return 0;
}

/* The rows are all read before the first callback, so a callback may use
 * the store. */
static int cl__session_list_active(struct cl_store *s, const char *device_id, cl_session_cb cb,
                                   void *ctx)
{
    struct cl_pg_params p = {0};
    struct cl_session x;
    PGresult *r;
    int rc;
    cl_pg_p_str(&p, device_id);
    rc = cl_pg_run(s->impl,
                   "SELECT " CL__SESSION_COLS " FROM sessions s WHERE s.status = 'active'"
                   " AND ($1::text IS NULL OR s.device_id = $1::text) ORDER BY s.started_at, s.seq",
                   &p, &r, __func__);
    if (rc)
        return rc;
    for (int i = 0; i < cl_pq.PQntuples(r); i++) {
        cl__session_row(r, i, &x);
        cb(&x, ctx);
    }
    cl_pq.PQclear(r);
    return 0;
}

static int cl__session_set_name(struct cl_store *s, const char *id, const char *name)
{
    struct cl_pg_params p = {0};
    cl_pg_p_str(&p, id);
    cl_pg_p_opt(&p, name);
    return cl_pg_exec_one(s->impl, "UPDATE sessions SET name = $2 WHERE id = $1", &p, __func__);
}

static int cl__session_set_title(struct cl_store *s, const char *id, const char *title)
{
    struct cl_pg_params p = {0};
    cl_pg_p_str(&p, id);
    cl_pg_p_opt(&p, title);
    return cl_pg_exec_one(s->impl, "UPDATE sessions SET title = $2 WHERE id = $1", &p, __func__);
}

/* The first end wins; 0 for an ended session, CL_ENOTFOUND for none. */
static int cl__session_end(struct cl_store *s, const char *id, int64_t now, const char *reason,
                           bool has_exit_code, int exit_code)
{
    struct cl_pg *q = s->impl;
    struct cl_pg_params p = {0}, k = {0};
    PGresult *r;
    long n = 0;
    int rc;

    cl_pg_p_str(&p, id);
    cl_pg_p_i64(&p, now);
    cl_pg_p_opt(&p, reason);
    if (has_exit_code)
        cl_pg_p_i64(&p, exit_code);
    else
        cl_pg_p_str(&p, NULL);
    rc = cl_pg_write(q,
                     "UPDATE sessions SET status = 'ended', ended_at = $2, end_reason = $3,"
                     " exit_code = $4 WHERE id = $1 AND status = 'active'",
                     &p, false, &n, __func__);
    if (rc || n)
        return rc;
    cl_pg_p_str(&k, id);
    rc = cl_pg_one(q, "SELECT 1 FROM sessions WHERE id = $1", &k, &r, __func__);
    if (rc)
        return rc;
    cl_pq.PQclear(r);
    return 0;
}

/* ---- session shares ------------------------------------------------------------ */

static int cl__share_set(struct cl_store *s, const char *session_id, const char *user_id,
                         enum cl_share_mode mode, const char *created_by, int64_t now)
{
    struct cl_pg_params p = {0};
    cl_pg_p_str(&p, session_id);
    cl_pg_p_str(&p, user_id);
    cl_pg_p_str(&p, cl__mode_name(mode));
    cl_pg_p_opt(&p, created_by);
    cl_pg_p_i64(&p, now);
    return cl_pg_exec(
        s->impl,
        "INSERT INTO session_shares (session_id, user_id, mode, created_by, created_at)"
        " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (session_id, user_id)"
        " DO UPDATE SET mode = excluded.mode",
        &p, __func__);
}

static int cl__share_get(struct cl_store *s, const char *session_id, const char *user_id,
                         enum cl_share_mode *out)
{
    struct cl_pg_params p = {0};
    PGresult *r;
    int rc;
    cl_pg_p_str(&p, session_id);
    cl_pg_p_str(&p, user_id);
    rc =
        cl_pg_one(s->impl, "SELECT mode FROM session_shares WHERE session_id = $1 AND user_id = $2",
                  &p, &r, __func__);
    if (rc)
        return rc;
    *out = cl__mode_parse(cl_pq.PQgetvalue(r, 0, 0));
    cl_pq.PQclear(r);
    return 0;
}

static int cl__share_remove(struct cl_store *s, const char *session_id, const char *user_id)
{
    struct cl_pg_params p = {0};
    cl_pg_p_str(&p, session_id);
    cl_pg_p_str(&p, user_id);
    return cl_pg_exec_one(
        s->impl, "DELETE FROM session_shares WHERE session_id = $1 AND user_id = $2", &p, __func__);
}

static int cl__share_list(struct cl_store *s, const char *session_id, cl_share_cb cb, void *ctx)
{
    struct cl_pg_params p = {0};
    struct cl_share sh;
    PGresult *r;
    int rc;
    cl_pg_p_str(&p, session_id);
    rc = cl_pg_run(s->impl,
                   "SELECT sh.user_id, u.email, sh.mode, sh.created_at FROM session_shares sh"
                   " JOIN users u ON u.id = sh.user_id WHERE sh.session_id = $1"
                   " ORDER BY sh.created_at, u.email",
                   &p, &r, __func__);
    if (rc)
        return rc;
    for (int i = 0; i < cl_pq.PQntuples(r); i++) {
        memset(&sh, 0, sizeof sh);
        cl_pg_str(r, i, 0, sh.user_id, sizeof sh.user_id);
        cl_pg_str(r, i, 1, sh.email, sizeof sh.email);
        sh.mode = cl__mode_parse(cl_pq.PQgetvalue(r, i, 2));
        sh.created_at = cl_pg_i64(r, i, 3);
        cb(&sh, ctx);
    }
    cl_pq.PQclear(r);
    return 0;
}

/* ---- the control plane: projects, members, devices ---------------------------- */

static int cl__project_rename(struct cl_store *s, const char *id, const char *name, int64_t now)
{
    struct cl_pg_params p = {0};
    cl_pg_p_str(&p, id);
    cl_pg_p_str(&p, name);
    cl_pg_p_i64(&p, now);
    return cl_pg_exec_one(s->impl, "UPDATE projects SET name = $2, updated_at = $3 WHERE id = $1",
                          &p, __func__);
}

static int cl__project_delete(struct cl_store *s, const char *id, struct cl_store_cascade *out)
{
    static const char del[] = "DELETE FROM projects WHERE id = $1";
    struct cl_pg *q = s->impl;
    struct cl_pg_params p = {0};
    int rc;

    cl_pg_p_str(&p, id);
    if (!out)
        return cl_pg_exec_one(q, del, &p, __func__);
    rc = cl_pg_begin(q, __func__);
    if (rc)
        return rc;
    if ((rc = cl_pg_collect_ids(q, cl__sql_project_devices, id, NULL, &out->devices, __func__)) ||
        (rc = cl_pg_collect_ids(q, cl__sql_project_ended, id, NULL, &out->ended, __func__)) ||
        (rc = cl_pg_exec_one(q, del, &p, __func__)))
        return cl_pg_cascade_end(q, out, rc, __func__);
    cl_id_list_add(&out->projects, id);
    return cl_pg_cascade_end(q, out, 0, __func__);
}

static int cl__member_list(struct cl_store *s, const char *project_id, cl_member_cb cb, void *ctx)
{
    struct cl_pg_params p = {0};
    struct cl_member m;
    PGresult *r;
    int rc;
    cl_pg_p_str(&p, project_id);
    rc = cl_pg_run(
        s->impl,
        "SELECT m.user_id, u.email, coalesce(pr.display_name, ''), m.role,"
        " coalesce(m.invited_by, ''), m.created_at FROM project_members m"
        " JOIN users u ON u.id = m.user_id LEFT JOIN profiles pr ON pr.user_id = m.user_id"
        " WHERE m.project_id = $1 ORDER BY m.role = 'owner' DESC, m.created_at, m.seq",
        &p, &r, __func__);
    if (rc)
        return rc;
    for (int i = 0; i < cl_pq.PQntuples(r); i++) {
        memset(&m, 0, sizeof m);
        cl_pg_str(r, i, 0, m.user_id, sizeof m.user_id);
        cl_pg_str(r, i, 1, m.email, sizeof m.email);
        cl_pg_str(r, i, 2, m.display_name, sizeof m.display_name);
        m.role = cl__role_from(cl_pq.PQgetvalue(r, i, 3));
        cl_pg_str(r, i, 4, m.invited_by, sizeof m.invited_by);
        m.created_at = cl_pg_i64(r, i, 5);
        cb(&m, ctx);
    }
    cl_pq.PQclear(r);
    return 0;
}

/* The role is read FOR UPDATE: an owner is never removed, nothing is
 * half-done. */
static int cl__member_remove(struct cl_store *s, const char *project_id, const char *user_id,
                             int64_t now, struct cl_store_cascade *out)
{
    struct cl_pg *q = s->impl;
    struct cl_pg_params p = {0}, e = {0};
    enum cl_role role = CL_ROLE_NONE;
    int rc;

    cl_pg_p_str(&p, project_id);
    cl_pg_p_str(&p, user_id);
    cl_pg_p_str(&e, project_id);
    cl_pg_p_str(&e, user_id);
    cl_pg_p_i64(&e, now);
    cl_pg_p_str(&e, cl_end_reason_name(CL_END_MEMBER_REMOVED));
    rc = cl_pg_begin(q, __func__);
    if (rc)
        return rc;
    rc = cl__role_of(q, project_id, user_id, true, &role, __func__);
    if (rc == 0 && role == CL_ROLE_NONE)
        rc = CL_ENOTFOUND;
    if (rc == 0 && role == CL_ROLE_OWNER)
        rc = CL_ESTATE;
    if (rc == 0 && out)
        rc = cl_pg_collect_ids(q, cl__sql_member_ended, project_id, user_id, &out->ended, __func__);
    if (rc == 0 && out)
        rc = cl_pg_collect_ids(q, cl__sql_member_unshared, project_id, user_id, &out->unshared,
                               __func__);
    if (rc == 0)
        rc = cl_pg_exec(q,
                        "UPDATE sessions SET status = 'ended', ended_at = $3, end_reason = $4"
                        " WHERE user_id = $2 AND status = 'active'"
                        " AND device_id IN (SELECT id FROM devices WHERE project_id = $1)",
                        &e, __func__);
    if (rc == 0)
        rc = cl_pg_exec(q,
                        "DELETE FROM session_shares WHERE user_id = $2 AND session_id IN"
                        " (SELECT s.id FROM sessions s JOIN devices d ON d.id = s.device_id"
                        " WHERE d.project_id = $1)",
                        &p, __func__);
    if (rc == 0)
        rc = cl_pg_exec(q, "DELETE FROM project_members WHERE project_id = $1 AND user_id = $2", &p,
                        __func__);
    return cl_pg_cascade_end(q, out, rc, __func__);
}

static int cl__device_rename(struct cl_store *s, const char *id, const char *name)
{
    struct cl_pg_params p = {0};
    cl_pg_p_str(&p, id);
    cl_pg_p_str(&p, name);
    return cl_pg_exec_one(s->impl, "UPDATE devices SET name = $2 WHERE id = $1", &p, __func__);
}

static int cl__device_delete(struct cl_store *s, const char *id, struct cl_store_cascade *out)
{
    static const char del[] = "DELETE FROM devices WHERE id = $1";
    struct cl_pg *q = s->impl;
    struct cl_pg_params p = {0};
    int rc;

    cl_pg_p_str(&p, id);
    if (!out)
        return cl_pg_exec_one(q, del, &p, __func__);
    rc = cl_pg_begin(q, __func__);
    if (rc)
        return rc;
    if ((rc = cl_pg_collect_ids(q, cl__sql_device_ended, id, NULL, &out->ended, __func__)) ||
        (rc = cl_pg_exec_one(q, del, &p, __func__)))
        return cl_pg_cascade_end(q, out, rc, __func__);
    cl_id_list_add(&out->devices, id);
    return cl_pg_cascade_end(q, out, 0, __func__);
}

static int cl__device_new_code(struct cl_store *s, const char *id,
                               const uint8_t code_hash[CL_HASH_LEN], int64_t expires_at)
{
    struct cl_pg_params p = {0};
    cl_pg_p_str(&p, id);
    cl_pg_p_hash(&p, code_hash);
    cl_pg_p_i64(&p, expires_at);
    return cl_pg_exec_one(
        s->impl,
        "UPDATE devices SET pairing_code_hash = $2, pairing_code_expires_at = $3 WHERE id = $1", &p,
        __func__);
}

static int cl__device_heartbeat(struct cl_store *s, const char *id, int64_t now)
{
    struct cl_pg_params p = {0};
    cl_pg_p_str(&p, id);
    cl_pg_p_i64(&p, now);
    return cl_pg_exec_one(s->impl, "UPDATE devices SET last_heartbeat = $2 WHERE id = $1", &p,
                          __func__);
}

static int cl__device_set_kind(struct cl_store *s, const char *id, const char *kind)
{
    struct cl_pg_params p = {0};
    cl_pg_p_str(&p, id);
    cl_pg_p_str(&p, kind);
    return cl_pg_exec_one(s->impl, "UPDATE devices SET kind = $2 WHERE id = $1", &p, __func__);
}

static int cl__device_set_info(struct cl_store *s, const char *id, const char *meta,
                               const char *remote_addr, int64_t now)
{
    struct cl_pg_params p = {0};
    cl_pg_p_str(&p, id);
    cl_pg_p_str(&p, meta);
    cl_pg_p_str(&p, remote_addr);
    cl_pg_p_i64(&p, now);
    /* $2 NULL keeps the metadata (and its time), $3 NULL the address */
    return cl_pg_exec_one(
        s->impl,
        "UPDATE devices SET meta = coalesce($2::text, meta),"
        " meta_updated_at = CASE WHEN $2::text IS NULL THEN meta_updated_at ELSE $4::bigint END,"
        " remote_addr = coalesce($3::text, remote_addr) WHERE id = $1",
        &p, __func__);
}

static int cl__device_get_info(struct cl_store *s, const char *id, struct cl_device_info *out)
{
    struct cl_pg_params p = {0};
    PGresult *r;
    int rc;
    cl_pg_p_str(&p, id);
    memset(out, 0, sizeof *out);
    rc = cl_pg_one(s->impl,
                   "SELECT coalesce(meta, ''), coalesce(remote_addr, ''),"
                   " coalesce(meta_updated_at, 0), coalesce(online_since, 0),"
                   " coalesce(connected_at, 0) FROM devices WHERE id = $1",
                   &p, &r, __func__);
    if (rc)
        return rc;
    cl_pg_str(r, 0, 0, out->meta, sizeof out->meta);
    cl_pg_str(r, 0, 1, out->remote_addr, sizeof out->remote_addr);
    out->meta_updated_at = cl_pg_i64(r, 0, 2);
    out->online_since = cl_pg_i64(r, 0, 3);
    out->connected_at = cl_pg_i64(r, 0, 4);
    cl_pq.PQclear(r);
    return 0;
}

/* NULL parameters switch a filter off; a NULL limit is no limit. */
static int cl__session_list(struct cl_store *s, const struct cl_session_filter *f,
                            cl_session_info_cb cb, void *ctx)
{
    static const char *const status_name[] = {
        [CL_SESSIONS_ANY] = NULL, [CL_SESSIONS_ACTIVE] = "active", [CL_SESSIONS_ENDED] = "ended"};
    struct cl_session_info si;
    struct cl_pg_params p = {0};
    PGresult *r;
    int rc;

    cl_pg_p_str(&p, f->project_id);
    cl_pg_p_str(&p, f->device_id);
    cl_pg_p_str(&p, f->user_id);
    cl_pg_p_str(&p, status_name[f->status]);
    cl_pg_p_i64(&p, f->before_started_at);
    cl_pg_p_str(&p, f->before_id);
    if (f->limit)
        cl_pg_p_i64(&p, f->limit);
    else
        cl_pg_p_str(&p, NULL);
    /* the ids are compared byte by byte (COLLATE "C"), as SQLite does */
    rc = cl_pg_run(s->impl,
                   "SELECT " CL__SESSION_COLS ", d.name, coalesce(u.email, ''),"
                   " coalesce(pr.display_name, '')"
                   " FROM sessions s JOIN devices d ON d.id = s.device_id"
                   " LEFT JOIN users u ON u.id = s.user_id"
                   " LEFT JOIN profiles pr ON pr.user_id = s.user_id"
                   " WHERE d.project_id = $1 AND ($2::text IS NULL OR s.device_id = $2::text)"
                   " AND ($3::text IS NULL OR s.user_id = $3::text)"
                   " AND ($4::text IS NULL OR s.status = $4::text)"
                   " AND ($6::text IS NULL OR s.started_at < $5::bigint OR (s.started_at ="
                   " $5::bigint AND s.id COLLATE \"C\" < $6::text COLLATE \"C\"))"
                   " ORDER BY s.started_at DESC, s.id COLLATE \"C\" DESC LIMIT $7::bigint",
                   &p, &r, __func__);
    if (rc)
        return rc;
    for (int i = 0; i < cl_pq.PQntuples(r); i++) {
        memset(&si, 0, sizeof si);
        cl__session_row(r, i, &si.sess);
        cl_pg_str(r, i, 10, si.device_name, sizeof si.device_name);
        cl_pg_str(r, i, 11, si.user_email, sizeof si.user_email);
        cl_pg_str(r, i, 12, si.user_display_name, sizeof si.user_display_name);
        cb(&si, ctx);
    }
    cl_pq.PQclear(r);
    return 0;
}

const struct cl_store_ops cl_pg_ops = {
    .name = "postgres",
    .close = cl_pg_close,
    .ping = cl_pg_ping,
    .user_create = cl_pg_user_create,
    .user_by_email = cl_pg_user_by_email,
    .user_by_id = cl_pg_user_by_id,
    .token_create = cl_pg_token_create,
    .token_user = cl_pg_token_user,
    .token_revoke = cl_pg_token_revoke,
    .token_list = cl_pg_token_list,
    .token_get = cl_pg_token_get,
    .token_revoke_id = cl_pg_token_revoke_id,
    .tokens_revoke_all = cl_pg_tokens_revoke_all,
    .profile_update = cl_pg_profile_update,
    .user_set_password = cl_pg_user_set_password,
    .user_delete = cl_pg_user_delete,
    .reset_create = cl_pg_reset_create,
    .reset_consume = cl_pg_reset_consume,
    .secret_get = cl_pg_secret_get,
    .user_count = cl_pg_user_count,
    .signin_code_create = cl_pg_signin_code_create,
    .signin_code_consume = cl_pg_signin_code_consume,
    .project_create = cl__project_create,
    .project_get = cl__project_get,
    .project_list_for_user = cl__project_list_for_user,
    .member_add = cl__member_add,
    .invitation_create = cl__invitation_create,
    .invitation_count_pending = cl__invitation_count_pending,
    .invitation_get = cl__invitation_get,
    .invitation_list_for_email = cl__invitation_list_for_email,
    .invitation_respond = cl__invitation_respond,
    .verify_create = cl_pg_verify_create,
    .verify_consume = cl_pg_verify_consume,
    .user_set_email_verified = cl_pg_user_set_email_verified,
    .member_role = cl__member_role,
    .device_create = cl__device_create,
    .device_get = cl__device_get,
    .device_list = cl__device_list,
    .device_pair = cl__device_pair,
    .device_code_check = cl__device_code_check,
    .device_code_void = cl__device_code_void,
    .device_token_hash = cl__device_token_hash,
    .device_set_online = cl__device_set_online,
    .device_all_offline = cl__device_all_offline,
    .session_create = cl__session_create,
    .session_count_open = cl__session_count_open,
    .session_get = cl__session_get,
    .session_list_active = cl__session_list_active,
    .share_set = cl__share_set,
    .share_get = cl__share_get,
    .share_remove = cl__share_remove,
    .share_list = cl__share_list,
    .session_set_name = cl__session_set_name,
    .session_set_title = cl__session_set_title,
    .session_end = cl__session_end,
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
};

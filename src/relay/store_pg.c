/*
 * store_pg: the PostgreSQL backend of the store interface (decisions 67).
 *
 * One libpq connection per store, used from the event-loop thread only,
 * synchronously: the store's contract is synchronous (store.h), and moving
 * the API's store work off the loop is a later step (decisions 62). libpq
 * is loaded with dlopen by core/pqlib.c, shared with the agent, so that a
 * relay on SQLite never maps it.
 *
 * The SQL is SQLite's (store_sqlite.c) in PostgreSQL's dialect, op by op:
 * every value is a parameter of PQexecParams ($1, $2, ...; hashes as
 * binary bytea), no SQL is ever built from values. Statements are parsed
 * on each call rather than prepared: prepared statements belong to a
 * connection and would have to be prepared again after every reconnect;
 * the step that moves the store off the loop can add them. The schema
 * comes from store_pg_migrations.c, numbered; schema_version holds how
 * many a database has had, and a database newer than this binary is
 * refused at open.
 *
 * Errors: a unique violation is CL_EEXIST, a foreign-key violation
 * CL_ENOTFOUND (as SQLite's constraints give), anything else CL_EDB,
 * logged with the op's name, the SQLSTATE and PostgreSQL's primary message
 * (never its DETAIL, which quotes the key's values, nor a parameter). A
 * lost connection (the server restarted, the network dropped) fails the
 * op with CL_EUNAVAIL, logged once, never exits: the connection is closed
 * and the next op connects again.
 *
 * Transactions: where SQLite takes its write lock (BEGIN IMMEDIATE),
 * PostgreSQL runs READ COMMITTED and the rows that decide an op are read
 * FOR UPDATE (a pairing code, a one-time token, an invitation, a member's
 * role, a user's owned projects), so that two relays racing on the same
 * row are serialised the same way. A statement that fails aborts
 * PostgreSQL's transaction, so where SQLite carried on past a conflict
 * (invitation_respond's membership) the SQL says ON CONFLICT DO NOTHING.
 */
#include "relay/store_pg.h"
#include "core/err.h"
#include "core/log.h"
#include "core/pqlib.h"
#include "core/proto.h"
#include "core/secret.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CL__PG_PARAMS_MAX 8
/* pg_advisory_xact_lock's key while migrating: two relays starting at
 * once on one database migrate one after the other ("clawlink" in hex) */
#define CL__PG_MIGRATE_LOCK 0x636c61776c696e6bLL

struct cl__pg {
    PGconn *conn; /* NULL: not connected (the next op connects) */
    char *url;    /* the conninfo: a secret (a password), wiped at close */
    bool in_tx;   /* inside BEGIN: a lost connection is not silently reopened */
};

static const struct cl_store_ops cl__pg_ops;

/* ---- parameters --------------------------------------------------------- */

struct cl__p {
    int n;
    const char *v[CL__PG_PARAMS_MAX];
    int len[CL__PG_PARAMS_MAX];
    int fmt[CL__PG_PARAMS_MAX];
    char num[CL__PG_PARAMS_MAX][24];
};

/* NULL is SQL NULL */
static void cl__p_str(struct cl__p *p, const char *s)
{
    p->v[p->n] = s;
    p->len[p->n] = 0;
    p->fmt[p->n++] = 0;
}

/* NULL and "" are SQL NULL (SQLite's cl_sqlite_bind_opt) */
static void cl__p_opt(struct cl__p *p, const char *s)
{
    cl__p_str(p, s && *s ? s : NULL);
}

static void cl__p_i64(struct cl__p *p, int64_t v)
{
    snprintf(p->num[p->n], sizeof p->num[p->n], "%lld", (long long)v);
    cl__p_str(p, p->num[p->n]);
}

/* a 32-byte hash as binary bytea; NULL is SQL NULL */
static void cl__p_hash(struct cl__p *p, const uint8_t *h)
{
    p->v[p->n] = (const char *)h;
    p->len[p->n] = h ? CL_HASH_LEN : 0;
    p->fmt[p->n++] = h ? 1 : 0;
}

/* ---- the connection -------------------------------------------------------- */

static void cl__quiet(void *arg, const char *message)
{
    (void)arg;
    (void)message; /* NOTICEs (IF NOT EXISTS ...) are not the relay's news */
}

/* libpq's message without its trailing newline; it names the server
 * (host, socket, user) and the failure, never the password */
static const char *cl__conn_error(PGconn *c, char *buf, size_t n)
{
    size_t len;
    snprintf(buf, n, "%s", c ? cl_pq.PQerrorMessage(c) : "out of memory");
    len = strlen(buf);
    while (len && (buf[len - 1] == '\n' || buf[len - 1] == ' '))
        buf[--len] = 0;
    return buf;
}

static void cl__drop(struct cl__pg *q)
{
    if (q->conn)
        cl_pq.PQfinish(q->conn);
    q->conn = NULL;
}

/* Connects, the URL's own settings winning over the defaults before it
 * (libpq keeps the last value of a repeated keyword). */
static PGconn *cl__dial(const char *url)
{
    char connect_timeout[16], tcp_timeout[16];
    snprintf(connect_timeout, sizeof connect_timeout, "%d", CL_STORE_PG_CONNECT_TIMEOUT_S);
    snprintf(tcp_timeout, sizeof tcp_timeout, "%d", CL_STORE_PG_TCP_TIMEOUT_MS);
    const char *const keys[] = {"connect_timeout", "tcp_user_timeout", "application_name", "dbname",
                                NULL};
    const char *const vals[] = {connect_timeout, tcp_timeout, "clawlink-relay", url, NULL};
    PGconn *c = cl_pq.PQconnectdbParams(keys, vals, 1);
    if (c)
        cl_pq.PQsetNoticeProcessor(c, cl__quiet, NULL);
    return c;
}

/* A working connection for the next statement: the one open, or a new one
 * (not inside a transaction: its statements died with the old one). */
static int cl__connect(struct cl__pg *q, const char *op)
{
    char why[256];

    if (q->conn && cl_pq.PQstatus(q->conn) == CONNECTION_OK)
        return 0;
    cl__drop(q);
    if (q->in_tx)
        return CL_EUNAVAIL;
    q->conn = cl__dial(q->url);
    if (q->conn && cl_pq.PQstatus(q->conn) == CONNECTION_OK) {
        cl_info("store", "reconnected to PostgreSQL", "op=%s", op);
        return 0;
    }
    cl_error("store", "PostgreSQL is unreachable: the operation fails", "op=%s error=\"%s\"", op,
             cl__conn_error(q->conn, why, sizeof why));
    cl__drop(q);
    return CL_EUNAVAIL;
}

/* Maps a failed statement to a CL_E* code (the module comment). */
static int cl__fail(struct cl__pg *q, PGresult *r, const char *op)
{
    const char *state = r ? cl_pq.PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = r ? cl_pq.PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    char why[256];

    if (!q->conn || cl_pq.PQstatus(q->conn) != CONNECTION_OK ||
        (state && (strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0))) {
        cl_warn("store",
                "lost the connection to PostgreSQL: the operation fails, the next reconnects",
                "op=%s sqlstate=%s error=\"%s\"", op, state ? state : "",
                msg ? msg : cl__conn_error(q->conn, why, sizeof why));
        cl__drop(q);
        return CL_EUNAVAIL;
    }
    if (state && strcmp(state, "23505") == 0)
        return CL_EEXIST;
    if (state && strcmp(state, "23503") == 0)
        return CL_ENOTFOUND;
    cl_error("store", "statement failed", "op=%s sqlstate=%s error=\"%s\"", op, state ? state : "",
             msg ? msg : "");
    return CL_EDB;
}

/* Runs sql with p's parameters: 0 and *out (the rows; the caller clears
 * it) or a CL_E* code. out NULL: the rows are not wanted. */
static int cl__run(struct cl__pg *q, const char *sql, const struct cl__p *p, PGresult **out,
                   const char *op)
{
    ExecStatusType st;
    PGresult *r;
    int rc;

    if (out)
        *out = NULL;
    rc = cl__connect(q, op);
    if (rc)
        return rc;
    r = cl_pq.PQexecParams(q->conn, sql, p ? p->n : 0, NULL, p ? p->v : NULL, p ? p->len : NULL,
                           p ? p->fmt : NULL, 0);
    st = r ? cl_pq.PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
        if (out)
            *out = r;
        else
            cl_pq.PQclear(r);
        return 0;
    }
    rc = cl__fail(q, r, op);
    cl_pq.PQclear(r);
    return rc;
}

/* How many rows the statement r changed. */
static long cl__changes(PGresult *r)
{
    return strtol(cl_pq.PQcmdTuples(r), NULL, 10);
}

/* Runs a write: 0, or CL_ENOTFOUND when it changed no row (SQLite's
 * cl_sqlite_exec_one), *changed (may be NULL) getting how many it did. */
static int cl__write(struct cl__pg *q, const char *sql, const struct cl__p *p, bool need_one,
                     long *changed, const char *op)
{
    PGresult *r;
    long n;
    int rc = cl__run(q, sql, p, &r, op);
    if (rc)
        return rc;
    n = cl__changes(r);
    cl_pq.PQclear(r);
    if (changed)
        *changed = n;
    return need_one && n == 0 ? CL_ENOTFOUND : 0;
}

static int cl__exec(struct cl__pg *q, const char *sql, const struct cl__p *p, const char *op)
{
    return cl__write(q, sql, p, false, NULL, op);
}

static int cl__exec_one(struct cl__pg *q, const char *sql, const struct cl__p *p, const char *op)
{
    return cl__write(q, sql, p, true, NULL, op);
}

static int cl__begin(struct cl__pg *q, const char *op)
{
    int rc = cl__run(q, "BEGIN", NULL, NULL, op);
    if (rc == 0)
        q->in_tx = true;
    return rc;
}

static int cl__commit(struct cl__pg *q, const char *op)
{
    int rc = cl__run(q, "COMMIT", NULL, NULL, op);
    q->in_tx = false;
    return rc;
}

static void cl__rollback(struct cl__pg *q, const char *op)
{
    if (q->conn && cl_pq.PQstatus(q->conn) == CONNECTION_OK)
        cl__run(q, "ROLLBACK", NULL, NULL, op);
    q->in_tx = false;
}

/* Ends a transaction: commits it (rc 0) or rolls it back (rc the error,
 * returned). */
static int cl__end(struct cl__pg *q, int rc, const char *op)
{
    if (rc) {
        cl__rollback(q, op);
        return rc;
    }
    return cl__commit(q, op);
}

/* ---- columns ----------------------------------------------------------------- */

static void cl__str(const PGresult *r, int row, int col, char *buf, size_t n)
{
    snprintf(buf, n, "%s", cl_pq.PQgetvalue(r, row, col)); /* NULL reads as "" */
}

static int64_t cl__i64(const PGresult *r, int row, int col)
{
    return strtoll(cl_pq.PQgetvalue(r, row, col), NULL, 10); /* NULL reads as 0 */
}

static bool cl__null(const PGresult *r, int row, int col)
{
    return cl_pq.PQgetisnull(r, row, col) != 0;
}

static bool cl__bool(const PGresult *r, int row, int col)
{
    return cl_pq.PQgetvalue(r, row, col)[0] == 't';
}

static int cl__hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* A bytea column (text format: "\x" and hex) into a CL_HASH_LEN hash:
 * false when it is NULL or another length. */
static bool cl__hash(const PGresult *r, int row, int col, uint8_t out[CL_HASH_LEN])
{
    const char *v = cl_pq.PQgetvalue(r, row, col);
    if (cl__null(r, row, col) || strncmp(v, "\\x", 2) != 0 || strlen(v) != 2 + 2 * CL_HASH_LEN)
        return false;
    for (int i = 0; i < CL_HASH_LEN; i++) {
        int hi = cl__hexval(v[2 + 2 * i]), lo = cl__hexval(v[3 + 2 * i]);
        if (hi < 0 || lo < 0)
            return false;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return true;
}

/* Appends the first column of each row of sql ($1 = a, $2 = b unless
 * NULL) to l. */
static int cl__collect_ids(struct cl__pg *q, const char *sql, const char *a, const char *b,
                           struct cl_id_list *l, const char *op)
{
    struct cl__p p = {0};
    PGresult *r;
    char id[CL_UUID_LEN + 1];
    int rc;

    cl__p_str(&p, a);
    if (b)
        cl__p_str(&p, b);
    rc = cl__run(q, sql, &p, &r, op);
    if (rc)
        return rc;
    for (int i = 0; i < cl_pq.PQntuples(r); i++) {
        cl__str(r, i, 0, id, sizeof id);
        cl_id_list_add(l, id);
    }
    cl_pq.PQclear(r);
    return 0;
}

/* ---- rows ------------------------------------------------------------------------ */

#define CL__USER_SELECT                                                                            \
    "SELECT u.id, u.email, u.password_hash, u.created_at, coalesce(p.display_name, ''),"           \
    " coalesce(p.avatar_url, ''), coalesce(u.email_verified_at, 0) FROM users u"                   \
    " LEFT JOIN profiles p ON p.user_id = u.id"
#define CL__PROJECT_COLS "p.id, p.name, p.owner_id, p.created_at, p.updated_at"
#define CL__TOKEN_COLS   "id, user_id, created_at, expires_at, coalesce(last_used_at, 0)"
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

static void cl__user_row(const PGresult *r, int i, struct cl_user *u)
{
    memset(u, 0, sizeof *u);
    cl__str(r, i, 0, u->id, sizeof u->id);
    cl__str(r, i, 1, u->email, sizeof u->email);
    cl__str(r, i, 2, u->pw_hash, sizeof u->pw_hash);
    u->created_at = cl__i64(r, i, 3);
    cl__str(r, i, 4, u->display_name, sizeof u->display_name);
    cl__str(r, i, 5, u->avatar_url, sizeof u->avatar_url);
    u->email_verified_at = cl__i64(r, i, 6);
}

static void cl__project_row(const PGresult *r, int i, struct cl_project *p)
{
    memset(p, 0, sizeof *p);
    cl__str(r, i, 0, p->id, sizeof p->id);
    cl__str(r, i, 1, p->name, sizeof p->name);
    cl__str(r, i, 2, p->owner_id, sizeof p->owner_id);
    p->created_at = cl__i64(r, i, 3);
    p->updated_at = cl__i64(r, i, 4);
}

static void cl__device_row(const PGresult *r, int i, struct cl_device *d)
{
    memset(d, 0, sizeof *d);
    cl__str(r, i, 0, d->id, sizeof d->id);
    cl__str(r, i, 1, d->project_id, sizeof d->project_id);
    cl__str(r, i, 2, d->name, sizeof d->name);
    d->online = strcmp(cl_pq.PQgetvalue(r, i, 3), "online") == 0;
    d->paired = cl__i64(r, i, 4) != 0;
    d->last_seen = cl__i64(r, i, 5);
    d->created_at = cl__i64(r, i, 6);
    d->code_expires_at = cl__i64(r, i, 7);
    cl__str(r, i, 8, d->kind, sizeof d->kind);
    d->connected_at = cl__i64(r, i, 9);
    d->last_heartbeat = cl__i64(r, i, 10);
}

static void cl__session_row(const PGresult *r, int i, struct cl_session *x)
{
    memset(x, 0, sizeof *x);
    cl__str(r, i, 0, x->id, sizeof x->id);
    cl__str(r, i, 1, x->device_id, sizeof x->device_id);
    cl__str(r, i, 2, x->user_id, sizeof x->user_id);
    x->active = strcmp(cl_pq.PQgetvalue(r, i, 3), "active") == 0;
    x->started_at = cl__i64(r, i, 4);
    x->ended_at = cl__i64(r, i, 5);
    cl__str(r, i, 6, x->end_reason, sizeof x->end_reason);
    x->has_exit_code = !cl__null(r, i, 7);
    x->exit_code = (int)cl__i64(r, i, 7);
    cl__str(r, i, 8, x->name, sizeof x->name);
    cl__str(r, i, 9, x->title, sizeof x->title);
}

static void cl__token_row(const PGresult *r, int i, struct cl_token *t)
{
    memset(t, 0, sizeof *t);
    cl__str(r, i, 0, t->id, sizeof t->id);
    cl__str(r, i, 1, t->user_id, sizeof t->user_id);
    t->created_at = cl__i64(r, i, 2);
    t->expires_at = cl__i64(r, i, 3);
    t->last_used_at = cl__i64(r, i, 4);
}

static void cl__invitation_row(const PGresult *r, int i, struct cl_invitation *inv, bool joined)
{
    memset(inv, 0, sizeof *inv);
    cl__str(r, i, 0, inv->id, sizeof inv->id);
    cl__str(r, i, 1, inv->project_id, sizeof inv->project_id);
    cl__str(r, i, 2, inv->email, sizeof inv->email);
    cl__str(r, i, 3, inv->invited_by, sizeof inv->invited_by);
    inv->created_at = cl__i64(r, i, 4);
    if (!joined)
        return;
    cl__str(r, i, 5, inv->project_name, sizeof inv->project_name);
    cl__str(r, i, 6, inv->inviter_email, sizeof inv->inviter_email);
    cl__str(r, i, 7, inv->inviter_name, sizeof inv->inviter_name);
}

/* Runs a query of at most one row keyed by the text a: 0 and *out, or
 * CL_ENOTFOUND (nothing cleared) when there is no row. */
static int cl__one(struct cl__pg *q, const char *sql, const struct cl__p *p, PGresult **out,
                   const char *op)
{
    int rc = cl__run(q, sql, p, out, op);
    if (rc)
        return rc;
    if (cl_pq.PQntuples(*out) == 0) {
        cl_pq.PQclear(*out);
        *out = NULL;
        return CL_ENOTFOUND;
    }
    return 0;
}

/* ---- users and tokens ----------------------------------------------------------- */

/* The user and its profile in one transaction; the email stored
 * lower-cased (ASCII, as SQLite's COLLATE NOCASE folds). */
static int cl__user_create(struct cl_store *s, const struct cl_user *u)
{
    struct cl__pg *q = s->impl;
    char email[CL_EMAIL_MAX + 1], profile_id[CL_UUID_LEN + 1];
    struct cl__p p = {0}, pp = {0};
    size_t i;
    int rc;

    for (i = 0; u->email[i] && i < CL_EMAIL_MAX; i++)
        email[i] = (char)tolower((unsigned char)u->email[i]);
    email[i] = 0;
    cl_uuid_new(profile_id);
    cl__p_str(&p, u->id);
    cl__p_str(&p, email);
    cl__p_str(&p, u->pw_hash);
    cl__p_i64(&p, u->created_at);
    cl__p_str(&pp, profile_id);
    cl__p_str(&pp, u->id);
    cl__p_str(&pp, u->display_name);
    rc = cl__begin(q, __func__);
    if (rc)
        return rc;
    rc = cl__exec(q,
                  "INSERT INTO users (id, email, password_hash, created_at)"
                  " VALUES ($1, $2, $3, $4)",
                  &p, __func__);
    if (rc == 0)
        rc = cl__exec(q, "INSERT INTO profiles (id, user_id, display_name) VALUES ($1, $2, $3)",
                      &pp, __func__);
    return cl__end(q, rc, __func__);
}

static int cl__user_get(struct cl__pg *q, const char *sql, const char *key, struct cl_user *out,
                        const char *op)
{
    struct cl__p p = {0};
    struct cl_user u;
    PGresult *r;
    int rc;

    cl__p_str(&p, key);
    rc = cl__one(q, sql, &p, &r, op);
    if (rc)
        return rc;
    cl__user_row(r, 0, &u); /* built aside: key may live in *out */
    cl_pq.PQclear(r);
    *out = u;
    cl_wipe(u.pw_hash, sizeof u.pw_hash);
    return 0;
}

static int cl__user_by_email(struct cl_store *s, const char *email, struct cl_user *out)
{
    return cl__user_get(s->impl, CL__USER_SELECT " WHERE lower(u.email) = lower($1)", email, out,
                        __func__);
}

static int cl__user_by_id(struct cl_store *s, const char *id, struct cl_user *out)
{
    return cl__user_get(s->impl, CL__USER_SELECT " WHERE u.id = $1", id, out, __func__);
}

static int cl__token_create(struct cl_store *s, const uint8_t hash[CL_HASH_LEN],
                            const char *user_id, int64_t now, int64_t expires_at)
{
    struct cl__p p = {0};
    char id[CL_UUID_LEN + 1];
    cl_uuid_new(id);
    cl__p_hash(&p, hash);
    cl__p_str(&p, user_id);
    cl__p_i64(&p, now);
    cl__p_i64(&p, expires_at);
    cl__p_str(&p, id);
    return cl__exec(s->impl,
                    "INSERT INTO api_tokens (token_hash, user_id, created_at, expires_at, id)"
                    " VALUES ($1, $2, $3, $4, $5)",
                    &p, __func__);
}

static int cl__token_user(struct cl_store *s, const uint8_t hash[CL_HASH_LEN], int64_t now,
                          char user_id[CL_UUID_LEN + 1])
{
    struct cl__pg *q = s->impl;
    struct cl__p p = {0};
    int64_t last_used;
    PGresult *r;
    int rc;

    cl__p_hash(&p, hash);
    cl__p_i64(&p, now);
    rc = cl__one(q,
                 "SELECT user_id, coalesce(last_used_at, 0) FROM api_tokens"
                 " WHERE token_hash = $1 AND revoked_at IS NULL AND expires_at > $2",
                 &p, &r, __func__);
    if (rc)
        return rc;
    cl__str(r, 0, 0, user_id, CL_UUID_LEN + 1);
    last_used = cl__i64(r, 0, 1);
    cl_pq.PQclear(r);
    /* a failed touch costs the caller nothing: it is logged, not returned */
    if (last_used == 0 || now - last_used >= CL_TOKEN_TOUCH_S)
        cl__exec(q, "UPDATE api_tokens SET last_used_at = $2 WHERE token_hash = $1", &p, __func__);
    return 0;
}

static int cl__token_revoke(struct cl_store *s, const uint8_t hash[CL_HASH_LEN])
{
    struct cl__p p = {0};
    cl__p_hash(&p, hash);
    /* the first revocation time sticks; revoking twice is not an error */
    return cl__exec_one(s->impl,
                        "UPDATE api_tokens SET revoked_at = coalesce(revoked_at,"
                        " extract(epoch FROM now())::bigint) WHERE token_hash = $1",
                        &p, __func__);
}

static int cl__token_list(struct cl_store *s, const char *user_id, int64_t now,
                          const uint8_t current[CL_HASH_LEN], cl_token_cb cb, void *ctx)
{
    struct cl__p p = {0};
    struct cl_token t;
    PGresult *r;
    int rc;

    cl__p_str(&p, user_id);
    cl__p_i64(&p, now);
    cl__p_hash(&p, current);
    rc = cl__run(s->impl,
                 "SELECT " CL__TOKEN_COLS ", coalesce(token_hash = $3::bytea, false)"
                 " FROM api_tokens WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2"
                 " ORDER BY created_at DESC, seq DESC",
                 &p, &r, __func__);
    if (rc)
        return rc;
    for (int i = 0; i < cl_pq.PQntuples(r); i++) {
        cl__token_row(r, i, &t);
        t.current = cl__bool(r, i, 5);
        cb(&t, ctx);
    }
    cl_pq.PQclear(r);
    return 0;
}

static int cl__token_get(struct cl_store *s, const char *id, struct cl_token *out)
{
    struct cl__p p = {0};
    PGresult *r;
    int rc;
    cl__p_str(&p, id);
    rc = cl__one(s->impl, "SELECT " CL__TOKEN_COLS " FROM api_tokens WHERE id = $1", &p, &r,
                 __func__);
    if (rc)
        return rc;
    cl__token_row(r, 0, out);
    cl_pq.PQclear(r);
    return 0;
}

static int cl__token_revoke_id(struct cl_store *s, const char *id, int64_t now)
{
    struct cl__p p = {0};
    cl__p_str(&p, id);
    cl__p_i64(&p, now);
    return cl__exec_one(s->impl,
                        "UPDATE api_tokens SET revoked_at = coalesce(revoked_at, $2) WHERE id = $1",
                        &p, __func__);
}

/* $2 NULL: keep none */
static const char cl__sql_revoke_all[] =
    "UPDATE api_tokens SET revoked_at = $3 WHERE user_id = $1 AND revoked_at IS NULL"
    " AND ($2::bytea IS NULL OR token_hash <> $2::bytea)";

static int cl__tokens_revoke_all(struct cl_store *s, const char *user_id,
                                 const uint8_t keep[CL_HASH_LEN], int64_t now, int *revoked)
{
    struct cl__p p = {0};
    long n = 0;
    int rc;
    cl__p_str(&p, user_id);
    cl__p_hash(&p, keep);
    cl__p_i64(&p, now);
    rc = cl__write(s->impl, cl__sql_revoke_all, &p, false, &n, __func__);
    if (rc == 0 && revoked)
        *revoked = (int)n;
    return rc;
}

static int cl__profile_update(struct cl_store *s, const char *user_id, const char *display_name,
                              const char *avatar_url)
{
    struct cl__p p = {0};
    cl__p_str(&p, user_id);
    cl__p_str(&p, display_name);
    cl__p_str(&p, avatar_url);
    /* NULL keeps a field; an empty avatar_url clears it */
    return cl__exec_one(s->impl,
                        "UPDATE profiles SET display_name = coalesce($2, display_name),"
                        " avatar_url = CASE WHEN $3::text IS NULL THEN avatar_url"
                        " WHEN $3::text = '' THEN NULL ELSE $3::text END WHERE user_id = $1",
                        &p, __func__);
}

/* Sets the hash, drops the reset links and revokes tokens; the caller
 * holds the transaction. */
static int cl__set_password(struct cl__pg *q, const char *user_id, const char *pw_hash,
                            const uint8_t keep[CL_HASH_LEN], int64_t now, const char *op)
{
    struct cl__p p = {0}, u = {0}, k = {0};
    int rc;

    cl__p_str(&p, user_id);
    cl__p_str(&p, pw_hash);
    cl__p_str(&u, user_id);
    cl__p_str(&k, user_id);
    cl__p_hash(&k, keep);
    cl__p_i64(&k, now);
    rc = cl__exec_one(q, "UPDATE users SET password_hash = $2 WHERE id = $1", &p, op);
    if (rc == 0) /* the new password voids every reset link still out */
        rc = cl__exec(q, "DELETE FROM password_resets WHERE user_id = $1", &u, op);
    if (rc == 0)
        rc = cl__exec(q, cl__sql_revoke_all, &k, op);
    return rc;
}

static int cl__user_set_password(struct cl_store *s, const char *user_id, const char *pw_hash,
                                 const uint8_t keep[CL_HASH_LEN], int64_t now)
{
    struct cl__pg *q = s->impl;
    int rc = cl__begin(q, __func__);
    if (rc)
        return rc;
    return cl__end(q, cl__set_password(q, user_id, pw_hash, keep, now, __func__), __func__);
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

/* Ends a cascade's transaction; a cascade that did not happen reports
 * nothing. */
static int cl__cascade_end(struct cl__pg *q, struct cl_store_cascade *out, int rc, const char *op)
{
    rc = cl__end(q, rc, op);
    if (rc && out)
        cl_store_cascade_free(out);
    return rc;
}

static int cl__user_delete(struct cl_store *s, const char *user_id, int64_t now,
                           struct cl_store_cascade *out)
{
    struct cl__pg *q = s->impl;
    struct cl__p p = {0}, e = {0};
    PGresult *r;
    bool shared;
    int rc;

    cl__p_str(&p, user_id);
    cl__p_str(&e, user_id);
    cl__p_i64(&e, now);
    cl__p_str(&e, cl_end_reason_name(CL_END_ACCOUNT_DELETED));
    rc = cl__begin(q, __func__);
    if (rc)
        return rc;
    /* the projects they own, locked: a member joining meanwhile (its
     * foreign key needs a share lock on the project) waits, so cannot be
     * deleted along with it */
    rc = cl__run(q, "SELECT id FROM projects WHERE owner_id = $1 FOR UPDATE", &p, NULL, __func__);
    if (rc)
        return cl__cascade_end(q, out, rc, __func__);
    rc = cl__run(q,
                 "SELECT 1 FROM projects p WHERE p.owner_id = $1 AND EXISTS (SELECT 1 FROM"
                 " project_members m WHERE m.project_id = p.id AND m.user_id <> $1) LIMIT 1",
                 &p, &r, __func__);
    if (rc)
        return cl__cascade_end(q, out, rc, __func__);
    shared = cl_pq.PQntuples(r) > 0;
    cl_pq.PQclear(r);
    if (shared)
        return cl__cascade_end(q, out, CL_ESTATE, __func__);
    if (out &&
        ((rc = cl__collect_ids(q, cl__sql_user_ended, user_id, NULL, &out->ended, __func__)) ||
         (rc =
              cl__collect_ids(q, cl__sql_user_unshared, user_id, NULL, &out->unshared, __func__)) ||
         (rc = cl__collect_ids(q, cl__sql_user_devices, user_id, NULL, &out->devices, __func__)) ||
         (rc =
              cl__collect_ids(q, cl__sql_user_projects, user_id, NULL, &out->projects, __func__)) ||
         (rc = cl__collect_ids(q, cl__sql_user_left, user_id, NULL, &out->left, __func__))))
        return cl__cascade_end(q, out, rc, __func__);
    rc = cl__exec(q,
                  "UPDATE sessions SET status = 'ended', ended_at = $2, end_reason = $3"
                  " WHERE user_id = $1 AND status = 'active'",
                  &e, __func__);
    /* their projects first: deleting the user alone would reach a session
     * of their own project twice in one statement (deleted with its
     * device, its user_id set NULL), and PostgreSQL checks the SET NULL
     * row's device after the device is gone. The foreign keys do the
     * rest, as in SQLite. */
    if (rc == 0)
        rc = cl__exec(q, "DELETE FROM projects WHERE owner_id = $1", &p, __func__);
    if (rc == 0)
        rc = cl__exec_one(q, "DELETE FROM users WHERE id = $1", &p, __func__);
    return cl__cascade_end(q, out, rc, __func__);
}

static int cl__reset_create(struct cl_store *s, const char *user_id,
                            const uint8_t hash[CL_HASH_LEN], int64_t now, int64_t expires_at)
{
    struct cl__pg *q = s->impl;
    struct cl__p p = {0}, u = {0}, ins = {0};
    char id[CL_UUID_LEN + 1];
    PGresult *r;
    int64_t live;
    int rc;

    cl__p_str(&p, user_id);
    cl__p_i64(&p, now);
    cl__p_str(&u, user_id);
    cl_uuid_new(id);
    cl__p_str(&ins, id);
    cl__p_str(&ins, user_id);
    cl__p_hash(&ins, hash);
    cl__p_i64(&ins, now);
    cl__p_i64(&ins, expires_at);
    rc = cl__begin(q, __func__);
    if (rc)
        return rc;
    /* the user's row locked: two requests at once count one after the other */
    rc = cl__one(q, "SELECT 1 FROM users WHERE id = $1 FOR UPDATE", &u, &r, __func__);
    if (rc)
        return cl__end(q, rc, __func__);
    cl_pq.PQclear(r);
    rc = cl__exec(q, "DELETE FROM password_resets WHERE user_id = $1 AND expires_at <= $2", &p,
                  __func__);
    if (rc == 0)
        rc =
            cl__run(q, "SELECT count(*) FROM password_resets WHERE user_id = $1", &u, &r, __func__);
    if (rc)
        return cl__end(q, rc, __func__);
    live = cl__i64(r, 0, 0);
    cl_pq.PQclear(r);
    if (live >= CL_RESET_LINKS_MAX) {
        rc = cl__commit(q, __func__); /* keep the purge */
        return rc ? rc : CL_ELIMIT;
    }
    rc = cl__exec(q,
                  "INSERT INTO password_resets (id, user_id, token_hash, created_at, expires_at)"
                  " VALUES ($1, $2, $3, $4, $5)",
                  &ins, __func__);
    return cl__end(q, rc, __func__);
}

/* Inside a transaction: spends the one-time secret whose hash is hash
 * (SQLite's cl__spend_once). by_hash selects user_id, the hash and
 * expires_at FOR UPDATE; del deletes by hash. 0 with uid set, CL_EEXPIRED
 * (deleted: commit), CL_ENOTFOUND, or a database error (roll back). */
static int cl__spend_once(struct cl__pg *q, const char *by_hash, const char *del,
                          const uint8_t hash[CL_HASH_LEN], int64_t now, char uid[CL_UUID_LEN + 1],
                          const char *op)
{
    struct cl__p p = {0};
    uint8_t stored[CL_HASH_LEN];
    bool match, expired;
    PGresult *r;
    int rc;

    cl__p_hash(&p, hash);
    rc = cl__one(q, by_hash, &p, &r, op);
    if (rc)
        return rc;
    cl__str(r, 0, 0, uid, CL_UUID_LEN + 1);
    match = cl__hash(r, 0, 1, stored) && cl_secret_equal(stored, hash);
    expired = cl__i64(r, 0, 2) <= now;
    cl_pq.PQclear(r);
    if (!match)
        return CL_ENOTFOUND;
    rc = cl__exec(q, del, &p, op);
    if (rc)
        return rc;
    return expired ? CL_EEXPIRED : 0;
}

static int cl__reset_consume(struct cl_store *s, const uint8_t hash[CL_HASH_LEN], int64_t now,
                             const char *pw_hash, char user_id[CL_UUID_LEN + 1])
{
    struct cl__pg *q = s->impl;
    char uid[CL_UUID_LEN + 1];
    int rc = cl__begin(q, __func__);
    if (rc)
        return rc;
    rc = cl__spend_once(q,
                        "SELECT user_id, token_hash, expires_at FROM password_resets"
                        " WHERE token_hash = $1 FOR UPDATE",
                        "DELETE FROM password_resets WHERE token_hash = $1", hash, now, uid,
                        __func__);
    if (rc == CL_EEXPIRED) {
        rc = cl__commit(q, __func__); /* the expired token goes */
        return rc ? rc : CL_EEXPIRED;
    }
    if (rc == 0)
        rc = cl__set_password(q, uid, pw_hash, NULL, now, __func__);
    rc = cl__end(q, rc, __func__);
    if (rc == 0 && user_id)
        memcpy(user_id, uid, sizeof uid);
    return rc;
}

/* ---- email verification ------------------------------------------------------- */

static int cl__verify_create(struct cl_store *s, const char *user_id, const char *email,
                             const uint8_t hash[CL_HASH_LEN], int64_t now, int64_t expires_at)
{
    struct cl__p p = {0};
    cl__p_str(&p, user_id);
    cl__p_str(&p, email);
    cl__p_hash(&p, hash);
    cl__p_i64(&p, now);
    cl__p_i64(&p, expires_at);
    return cl__exec(
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

static int cl__verify_consume(struct cl_store *s, const uint8_t hash[CL_HASH_LEN], int64_t now,
                              char user_id[CL_UUID_LEN + 1])
{
    struct cl__pg *q = s->impl;
    char uid[CL_UUID_LEN + 1], email[CL_EMAIL_MAX + 1];
    struct cl__p p = {0}, v = {0};
    PGresult *r;
    int rc;

    cl__p_hash(&p, hash);
    rc = cl__begin(q, __func__);
    if (rc)
        return rc;
    rc = cl__run(q, "SELECT email FROM email_verifications WHERE token_hash = $1 FOR UPDATE", &p,
                 &r, __func__);
    if (rc)
        return cl__end(q, rc, __func__);
    email[0] = 0;
    if (cl_pq.PQntuples(r) > 0)
        cl__str(r, 0, 0, email, sizeof email);
    cl_pq.PQclear(r);
    rc = cl__spend_once(q,
                        "SELECT user_id, token_hash, expires_at FROM email_verifications"
                        " WHERE token_hash = $1 FOR UPDATE",
                        "DELETE FROM email_verifications WHERE token_hash = $1", hash, now, uid,
                        __func__);
    if (rc == CL_EEXPIRED) {
        rc = cl__commit(q, __func__); /* the expired link goes */
        return rc ? rc : CL_EEXPIRED;
    }
    if (rc)
        return cl__end(q, rc, __func__);
    cl__p_str(&v, uid);
    cl__p_i64(&v, now);
    cl__p_str(&v, email);
    rc = cl__exec_one(q, cl__sql_set_verified, &v, __func__);
    if (rc == CL_ENOTFOUND) {
        rc = cl__commit(q, __func__); /* the address changed: the link is spent */
        return rc ? rc : CL_ESTATE;
    }
    rc = cl__end(q, rc, __func__);
    if (rc == 0 && user_id)
        memcpy(user_id, uid, sizeof uid);
    return rc;
}

static int cl__user_set_email_verified(struct cl_store *s, const char *user_id, int64_t at)
{
    struct cl__pg *q = s->impl;
    struct cl__p v = {0}, u = {0};
    int rc;

    cl__p_str(&v, user_id);
    if (at)
        cl__p_i64(&v, at);
    else
        cl__p_str(&v, NULL);
    cl__p_str(&v, NULL);
    cl__p_str(&u, user_id);
    rc = cl__begin(q, __func__);
    if (rc)
        return rc;
    rc = cl__exec_one(q, cl__sql_set_verified, &v, __func__);
    if (rc == 0)
        rc = cl__exec(q, "DELETE FROM email_verifications WHERE user_id = $1", &u, __func__);
    return cl__end(q, rc, __func__);
}

/* ---- web sign-in: relay secrets, one-time codes -------------------------------- */

static int cl__secret_get(struct cl_store *s, const char *name, const uint8_t fresh[CL_HASH_LEN],
                          uint8_t out[CL_HASH_LEN])
{
    struct cl__pg *q = s->impl;
    struct cl__p p = {0}, n = {0};
    PGresult *r;
    bool ok;
    int rc;

    cl__p_str(&p, name);
    cl__p_hash(&p, fresh);
    cl__p_str(&n, name);
    rc = cl__exec(q,
                  "INSERT INTO relay_secrets (name, value) VALUES ($1, $2)"
                  " ON CONFLICT (name) DO NOTHING",
                  &p, __func__);
    if (rc == 0)
        rc = cl__one(q, "SELECT value FROM relay_secrets WHERE name = $1", &n, &r, __func__);
    if (rc)
        return rc == CL_ENOTFOUND ? CL_EDB : rc;
    ok = cl__hash(r, 0, 0, out);
    cl_pq.PQclear(r);
    return ok ? 0 : CL_EDB;
}

static int cl__user_count(struct cl_store *s, int64_t *out)
{
    PGresult *r;
    int rc = cl__run(s->impl, "SELECT count(*) FROM users", NULL, &r, __func__);
    if (rc)
        return rc;
    *out = cl_pq.PQntuples(r) ? cl__i64(r, 0, 0) : 0;
    cl_pq.PQclear(r);
    return 0;
}

static int cl__ping(struct cl_store *s, char *err, size_t errlen)
{
    PGresult *r;
    int rc = cl__run(s->impl, "SELECT count(*) FROM (SELECT 1 FROM users LIMIT 1) AS one", NULL, &r,
                     __func__);
    if (rc == CL_EUNAVAIL)
        return cl_seterr(err, errlen, CL_EDB, "PostgreSQL is unreachable");
    if (rc)
        return cl_seterr(err, errlen, CL_EDB, "a read failed: %s", cl_strerror(rc));
    cl_pq.PQclear(r);
    return 0;
}

static int cl__signin_code_create(struct cl_store *s, const uint8_t hash[CL_HASH_LEN],
                                  const char *user_id, int64_t now, int64_t expires_at)
{
    struct cl__pg *q = s->impl;
    struct cl__p p = {0}, t = {0};
    int rc;

    cl__p_i64(&t, now);
    cl__p_hash(&p, hash);
    cl__p_str(&p, user_id);
    cl__p_i64(&p, now);
    cl__p_i64(&p, expires_at);
    rc = cl__exec(q, "DELETE FROM signin_codes WHERE expires_at <= $1", &t, __func__);
    if (rc)
        return rc;
    return cl__exec(q,
                    "INSERT INTO signin_codes (code_hash, user_id, created_at, expires_at)"
                    " VALUES ($1, $2, $3, $4)",
                    &p, __func__);
}

static int cl__signin_code_consume(struct cl_store *s, const uint8_t hash[CL_HASH_LEN], int64_t now,
                                   char user_id[CL_UUID_LEN + 1])
{
    struct cl__pg *q = s->impl;
    char uid[CL_UUID_LEN + 1];
    int rc, crc;

    rc = cl__begin(q, __func__);
    if (rc)
        return rc;
    rc = cl__spend_once(q,
                        "SELECT user_id, code_hash, expires_at FROM signin_codes"
                        " WHERE code_hash = $1 FOR UPDATE",
                        "DELETE FROM signin_codes WHERE code_hash = $1", hash, now, uid, __func__);
    if (rc && rc != CL_EEXPIRED)
        return cl__end(q, rc, __func__);
    crc = cl__commit(q, __func__);
    if (crc)
        return crc;
    if (rc)
        return rc; /* CL_EEXPIRED: the code is gone */
    memcpy(user_id, uid, sizeof uid);
    return 0;
}

/* ---- projects and members ------------------------------------------------------- */

static int cl__member_insert(struct cl__pg *q, const char *project_id, const char *user_id,
                             enum cl_role role, const char *invited_by, int64_t now,
                             bool keep_existing, const char *op)
{
    struct cl__p p = {0};
    char id[CL_UUID_LEN + 1];
    cl_uuid_new(id);
    cl__p_str(&p, id);
    cl__p_str(&p, project_id);
    cl__p_str(&p, user_id);
    cl__p_str(&p, cl__role_name(role));
    cl__p_opt(&p, invited_by);
    cl__p_i64(&p, now);
    /* keep_existing: inside a transaction that must go on past a
     * membership that exists (a failed statement would abort it) */
    return cl__exec(q,
                    keep_existing
                        ? "INSERT INTO project_members (id, project_id, user_id, role, invited_by,"
                          " created_at) VALUES ($1, $2, $3, $4, $5, $6)"
                          " ON CONFLICT (project_id, user_id) DO NOTHING"
                        : "INSERT INTO project_members (id, project_id, user_id, role, invited_by,"
                          " created_at) VALUES ($1, $2, $3, $4, $5, $6)",
                    &p, op);
}

static int cl__project_create(struct cl_store *s, const struct cl_project *p)
{
    struct cl__pg *q = s->impl;
    struct cl__p a = {0};
    int rc;

    cl__p_str(&a, p->id);
    cl__p_str(&a, p->name);
    cl__p_str(&a, p->owner_id);
    cl__p_i64(&a, p->created_at);
    cl__p_i64(&a, p->updated_at);
    rc = cl__begin(q, __func__);
    if (rc)
        return rc;
    rc = cl__exec(q,
                  "INSERT INTO projects (id, name, owner_id, created_at, updated_at)"
                  " VALUES ($1, $2, $3, $4, $5)",
                  &a, __func__);
    if (rc == 0)
        rc = cl__member_insert(q, p->id, p->owner_id, CL_ROLE_OWNER, NULL, p->created_at, false,
                               __func__);
    return cl__end(q, rc, __func__);
}

static int cl__project_get(struct cl_store *s, const char *id, struct cl_project *out)
{
    struct cl__p p = {0};
    PGresult *r;
    int rc;
    cl__p_str(&p, id);
    rc = cl__one(s->impl, "SELECT " CL__PROJECT_COLS " FROM projects p WHERE p.id = $1", &p, &r,
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
    struct cl__p p = {0};
    struct cl_project pr;
    PGresult *r;
    int rc;
    cl__p_str(&p, user_id);
    rc = cl__run(s->impl,
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
static int cl__role_of(struct cl__pg *q, const char *project_id, const char *user_id, bool lock,
                       enum cl_role *out, const char *op)
{
    struct cl__p p = {0};
    PGresult *r;
    int rc;
    cl__p_str(&p, project_id);
    cl__p_str(&p, user_id);
    rc = cl__run(q,
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
    struct cl__p p = {0};
    cl_uuid_new(id);
    cl__p_str(&p, id);
    cl__p_str(&p, project_id);
    cl__p_str(&p, email);
    cl__p_opt(&p, invited_by);
    cl__p_i64(&p, now);
    return cl__exec(
        s->impl,
        "INSERT INTO invitations (id, project_id, email, invited_by, status, created_at)"
        " VALUES ($1, $2, $3, $4, 'pending', $5)",
        &p, __func__);
}

static int cl__count(struct cl__pg *q, const char *sql, const char *id, size_t *out, const char *op)
{
    struct cl__p p = {0};
    PGresult *r;
    int rc;
    cl__p_str(&p, id);
    rc = cl__run(q, sql, &p, &r, op);
    if (rc)
        return rc;
    *out = cl_pq.PQntuples(r) ? (size_t)cl__i64(r, 0, 0) : 0;
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
    struct cl__p p = {0};
    PGresult *r;
    int rc;
    cl__p_str(&p, id);
    rc = cl__one(s->impl, CL__INVITATION_SELECT " WHERE i.id = $1 AND i.status = 'pending'", &p, &r,
                 __func__);
    if (rc)
        return rc;
    cl__invitation_row(r, 0, out, true);
    cl_pq.PQclear(r);
    return 0;
}

static int cl__invitation_list_for_email(struct cl_store *s, const char *email, cl_invitation_cb cb,
                                         void *ctx)
{
    struct cl__p p = {0};
    struct cl_invitation inv;
    PGresult *r;
    int rc;
    cl__p_str(&p, email);
    rc = cl__run(s->impl,
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
    struct cl__pg *q = s->impl;
    struct cl__p p = {0}, a = {0};
    char project_id[CL_UUID_LEN + 1], invited_by[CL_UUID_LEN + 1];
    PGresult *r;
    int rc;

    cl__p_str(&p, id);
    cl__p_str(&a, id);
    cl__p_str(&a, accept ? "accepted" : "declined");
    cl__p_i64(&a, now);
    rc = cl__begin(q, __func__);
    if (rc)
        return rc;
    rc = cl__one(q,
                 "SELECT project_id, coalesce(invited_by, '') FROM invitations"
                 " WHERE id = $1 AND status = 'pending' FOR UPDATE",
                 &p, &r, __func__);
    if (rc)
        return cl__end(q, rc, __func__);
    cl__str(r, 0, 0, project_id, sizeof project_id);
    cl__str(r, 0, 1, invited_by, sizeof invited_by);
    cl_pq.PQclear(r);
    if (accept)
        rc = cl__member_insert(q, project_id, user_id, CL_ROLE_MEMBER, invited_by, now, true,
                               __func__);
    if (rc == 0)
        rc = cl__exec_one(q,
                          "UPDATE invitations SET status = $2, responded_at = $3"
                          " WHERE id = $1 AND status = 'pending'",
                          &a, __func__);
    return cl__end(q, rc, __func__);
}

static int cl__invitation_list(struct cl_store *s, const char *project_id, cl_invitation_cb cb,
                               void *ctx)
{
    struct cl__p p = {0};
    struct cl_invitation inv;
    PGresult *r;
    int rc;
    cl__p_str(&p, project_id);
    rc = cl__run(s->impl,
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
    struct cl__p p = {0};
    cl__p_str(&p, project_id);
    cl__p_str(&p, id);
    return cl__exec_one(s->impl,
                        "UPDATE invitations SET status = 'cancelled'"
                        " WHERE id = $2 AND project_id = $1 AND status = 'pending'",
                        &p, __func__);
}

/* ---- devices ------------------------------------------------------------------ */

static int cl__device_create(struct cl_store *s, const struct cl_device *d,
                             const uint8_t code_hash[CL_HASH_LEN], int64_t code_expires_at)
{
    struct cl__p p = {0};
    cl__p_str(&p, d->id);
    cl__p_str(&p, d->project_id);
    cl__p_str(&p, d->name);
    cl__p_hash(&p, code_hash);
    if (code_hash)
        cl__p_i64(&p, code_expires_at);
    else
        cl__p_str(&p, NULL);
    cl__p_i64(&p, d->created_at);
    return cl__exec(s->impl,
                    "INSERT INTO devices (id, project_id, name, pairing_code_hash,"
                    " pairing_code_expires_at, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
                    &p, __func__);
}

static int cl__device_get(struct cl_store *s, const char *id, struct cl_device *out)
{
    struct cl__p p = {0};
    struct cl_device d;
    PGresult *r;
    int rc;
    cl__p_str(&p, id);
    rc = cl__one(s->impl, "SELECT " CL__DEVICE_COLS " FROM devices d WHERE d.id = $1", &p, &r,
                 __func__);
    if (rc)
        return rc;
    cl__device_row(r, 0, &d);
    cl_pq.PQclear(r);
    if (out)
        *out = d;
    return 0;
}

static int cl__device_rows(struct cl__pg *q, const char *sql, const char *key, cl_device_cb cb,
                           void *ctx, const char *op)
{
    struct cl__p p = {0};
    struct cl_device d;
    PGresult *r;
    int rc;
    cl__p_str(&p, key);
    rc = cl__run(q, sql, &p, &r, op);
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
static int cl__device_by_code(struct cl__pg *q, const uint8_t code_hash[CL_HASH_LEN], int64_t now,
                              bool lock, char id[CL_UUID_LEN + 1], bool *expired, const char *op)
{
    struct cl__p p = {0};
    uint8_t stored[CL_HASH_LEN];
    PGresult *r;
    bool match;
    int rc;

    cl__p_hash(&p, code_hash);
    rc = cl__one(q,
                 lock ? "SELECT id, pairing_code_hash, pairing_code_expires_at FROM devices"
                        " WHERE pairing_code_hash = $1 FOR UPDATE"
                      : "SELECT id, pairing_code_hash, pairing_code_expires_at FROM devices"
                        " WHERE pairing_code_hash = $1",
                 &p, &r, op);
    if (rc)
        return rc;
    cl__str(r, 0, 0, id, CL_UUID_LEN + 1);
    match = cl__hash(r, 0, 1, stored) && cl_secret_equal(stored, code_hash);
    *expired = cl__i64(r, 0, 2) <= now;
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
    struct cl__pg *q = s->impl;
    struct cl__p p = {0}, c = {0};
    char id[CL_UUID_LEN + 1];
    struct cl_device d;
    bool expired;
    int rc;

    rc = cl__begin(q, __func__);
    if (rc)
        return rc;
    rc = cl__device_by_code(q, code_hash, now, true, id, &expired, __func__);
    if (rc)
        return cl__end(q, rc, __func__);
    cl__p_str(&c, id);
    if (expired) {
        /* an expired code is spent too: it can never succeed later */
        rc = cl__exec(q, cl__sql_clear_code, &c, __func__);
        rc = cl__end(q, rc, __func__);
        return rc ? rc : CL_EEXPIRED;
    }
    cl__p_str(&p, id);
    cl__p_hash(&p, token_hash);
    cl__p_opt(&p, name);
    rc = cl__exec(q,
                  "UPDATE devices SET pairing_code_hash = NULL, pairing_code_expires_at = NULL,"
                  " device_token_hash = $2, paired = 1, name = coalesce($3, name) WHERE id = $1",
                  &p, __func__);
    if (rc == 0)
        rc = cl__device_get(s, id, &d);
    rc = cl__end(q, rc, __func__);
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
    struct cl__p p = {0};
    bool expired;
    int rc = cl__device_by_code(s->impl, code_hash, 0, false, id, &expired, __func__);
    if (rc)
        return rc; /* live or expired alike */
    cl__p_str(&p, id);
    rc = cl__exec_one(s->impl, cl__sql_clear_code, &p, __func__);
    if (rc == 0 && id_out)
        memcpy(id_out, id, sizeof id);
    return rc;
}

static int cl__device_token_hash(struct cl_store *s, const char *device_id,
                                 uint8_t out[CL_HASH_LEN])
{
    struct cl__p p = {0};
    PGresult *r;
    bool ok;
    int rc;
    cl__p_str(&p, device_id);
    rc = cl__one(s->impl,
                 "SELECT device_token_hash FROM devices"
                 " WHERE id = $1 AND paired = 1 AND device_token_hash IS NOT NULL",
                 &p, &r, __func__);
    if (rc)
        return rc;
    ok = cl__hash(r, 0, 0, out);
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
    struct cl__p p = {0};
    cl__p_str(&p, device_id);
    cl__p_str(&p, online ? "online" : "offline");
    cl__p_i64(&p, now);
    cl__p_i64(&p, CL_DEVICE_ONLINE_GAP_S);
    /* as SQLite's: coming online starts a connection; online_since
     * survives a reconnect within CL_DEVICE_ONLINE_GAP_S */
    return cl__exec_one(
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
    struct cl__p p = {0};
    cl__p_i64(&p, now);
    return cl__exec(s->impl,
                    "UPDATE devices SET status = 'offline', last_seen = $1 WHERE status = 'online'",
                    &p, __func__);
}

/* ---- sessions ----------------------------------------------------------------- */

static int cl__session_create(struct cl_store *s, const struct cl_session *sess)
{
    struct cl__p p = {0};
    bool ended = !sess->active;
    cl__p_str(&p, sess->id);
    cl__p_str(&p, sess->device_id);
    cl__p_opt(&p, sess->user_id);
    cl__p_str(&p, ended ? "ended" : "active");
    cl__p_i64(&p, sess->started_at);
    if (ended)
        cl__p_i64(&p, sess->ended_at);
    else
        cl__p_str(&p, NULL);
    cl__p_opt(&p, ended ? sess->end_reason : NULL);
    if (ended && sess->has_exit_code)
        cl__p_i64(&p, sess->exit_code);
    else
        cl__p_str(&p, NULL);
    return cl__exec(s->impl,
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
    struct cl__p p = {0};
    PGresult *r;
    int rc;
    cl__p_str(&p, id);
    rc = cl__one(s->impl, "SELECT " CL__SESSION_COLS " FROM sessions s WHERE s.id = $1", &p, &r,
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
    struct cl__p p = {0};
    struct cl_session x;
    PGresult *r;
    int rc;
    cl__p_str(&p, device_id);
    rc = cl__run(s->impl,
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
    struct cl__p p = {0};
    cl__p_str(&p, id);
    cl__p_opt(&p, name);
    return cl__exec_one(s->impl, "UPDATE sessions SET name = $2 WHERE id = $1", &p, __func__);
}

static int cl__session_set_title(struct cl_store *s, const char *id, const char *title)
{
    struct cl__p p = {0};
    cl__p_str(&p, id);
    cl__p_opt(&p, title);
    return cl__exec_one(s->impl, "UPDATE sessions SET title = $2 WHERE id = $1", &p, __func__);
}

/* The first end wins; 0 for an ended session, CL_ENOTFOUND for none. */
static int cl__session_end(struct cl_store *s, const char *id, int64_t now, const char *reason,
                           bool has_exit_code, int exit_code)
{
    struct cl__pg *q = s->impl;
    struct cl__p p = {0}, k = {0};
    PGresult *r;
    long n = 0;
    int rc;

    cl__p_str(&p, id);
    cl__p_i64(&p, now);
    cl__p_opt(&p, reason);
    if (has_exit_code)
        cl__p_i64(&p, exit_code);
    else
        cl__p_str(&p, NULL);
    rc = cl__write(q,
                   "UPDATE sessions SET status = 'ended', ended_at = $2, end_reason = $3,"
                   " exit_code = $4 WHERE id = $1 AND status = 'active'",
                   &p, false, &n, __func__);
    if (rc || n)
        return rc;
    cl__p_str(&k, id);
    rc = cl__one(q, "SELECT 1 FROM sessions WHERE id = $1", &k, &r, __func__);
    if (rc)
        return rc;
    cl_pq.PQclear(r);
    return 0;
}

/* ---- session shares ------------------------------------------------------------ */

static int cl__share_set(struct cl_store *s, const char *session_id, const char *user_id,
                         enum cl_share_mode mode, const char *created_by, int64_t now)
{
    struct cl__p p = {0};
    cl__p_str(&p, session_id);
    cl__p_str(&p, user_id);
    cl__p_str(&p, cl__mode_name(mode));
    cl__p_opt(&p, created_by);
    cl__p_i64(&p, now);
    return cl__exec(s->impl,
                    "INSERT INTO session_shares (session_id, user_id, mode, created_by, created_at)"
                    " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (session_id, user_id)"
                    " DO UPDATE SET mode = excluded.mode",
                    &p, __func__);
}

static int cl__share_get(struct cl_store *s, const char *session_id, const char *user_id,
                         enum cl_share_mode *out)
{
    struct cl__p p = {0};
    PGresult *r;
    int rc;
    cl__p_str(&p, session_id);
    cl__p_str(&p, user_id);
    rc = cl__one(s->impl, "SELECT mode FROM session_shares WHERE session_id = $1 AND user_id = $2",
                 &p, &r, __func__);
    if (rc)
        return rc;
    *out = cl__mode_parse(cl_pq.PQgetvalue(r, 0, 0));
    cl_pq.PQclear(r);
    return 0;
}

static int cl__share_remove(struct cl_store *s, const char *session_id, const char *user_id)
{
    struct cl__p p = {0};
    cl__p_str(&p, session_id);
    cl__p_str(&p, user_id);
    return cl__exec_one(
        s->impl, "DELETE FROM session_shares WHERE session_id = $1 AND user_id = $2", &p, __func__);
}

static int cl__share_list(struct cl_store *s, const char *session_id, cl_share_cb cb, void *ctx)
{
    struct cl__p p = {0};
    struct cl_share sh;
    PGresult *r;
    int rc;
    cl__p_str(&p, session_id);
    rc = cl__run(s->impl,
                 "SELECT sh.user_id, u.email, sh.mode, sh.created_at FROM session_shares sh"
                 " JOIN users u ON u.id = sh.user_id WHERE sh.session_id = $1"
                 " ORDER BY sh.created_at, u.email",
                 &p, &r, __func__);
    if (rc)
        return rc;
    for (int i = 0; i < cl_pq.PQntuples(r); i++) {
        memset(&sh, 0, sizeof sh);
        cl__str(r, i, 0, sh.user_id, sizeof sh.user_id);
        cl__str(r, i, 1, sh.email, sizeof sh.email);
        sh.mode = cl__mode_parse(cl_pq.PQgetvalue(r, i, 2));
        sh.created_at = cl__i64(r, i, 3);
        cb(&sh, ctx);
    }
    cl_pq.PQclear(r);
    return 0;
}

/* ---- the control plane: projects, members, devices ---------------------------- */

static int cl__project_rename(struct cl_store *s, const char *id, const char *name, int64_t now)
{
    struct cl__p p = {0};
    cl__p_str(&p, id);
    cl__p_str(&p, name);
    cl__p_i64(&p, now);
    return cl__exec_one(s->impl, "UPDATE projects SET name = $2, updated_at = $3 WHERE id = $1", &p,
                        __func__);
}

static int cl__project_delete(struct cl_store *s, const char *id, struct cl_store_cascade *out)
{
    static const char del[] = "DELETE FROM projects WHERE id = $1";
    struct cl__pg *q = s->impl;
    struct cl__p p = {0};
    int rc;

    cl__p_str(&p, id);
    if (!out)
        return cl__exec_one(q, del, &p, __func__);
    rc = cl__begin(q, __func__);
    if (rc)
        return rc;
    if ((rc = cl__collect_ids(q, cl__sql_project_devices, id, NULL, &out->devices, __func__)) ||
        (rc = cl__collect_ids(q, cl__sql_project_ended, id, NULL, &out->ended, __func__)) ||
        (rc = cl__exec_one(q, del, &p, __func__)))
        return cl__cascade_end(q, out, rc, __func__);
    cl_id_list_add(&out->projects, id);
    return cl__cascade_end(q, out, 0, __func__);
}

static int cl__member_list(struct cl_store *s, const char *project_id, cl_member_cb cb, void *ctx)
{
    struct cl__p p = {0};
    struct cl_member m;
    PGresult *r;
    int rc;
    cl__p_str(&p, project_id);
    rc = cl__run(s->impl,
                 "SELECT m.user_id, u.email, coalesce(pr.display_name, ''), m.role,"
                 " coalesce(m.invited_by, ''), m.created_at FROM project_members m"
                 " JOIN users u ON u.id = m.user_id LEFT JOIN profiles pr ON pr.user_id = m.user_id"
                 " WHERE m.project_id = $1 ORDER BY m.role = 'owner' DESC, m.created_at, m.seq",
                 &p, &r, __func__);
    if (rc)
        return rc;
    for (int i = 0; i < cl_pq.PQntuples(r); i++) {
        memset(&m, 0, sizeof m);
        cl__str(r, i, 0, m.user_id, sizeof m.user_id);
        cl__str(r, i, 1, m.email, sizeof m.email);
        cl__str(r, i, 2, m.display_name, sizeof m.display_name);
        m.role = cl__role_from(cl_pq.PQgetvalue(r, i, 3));
        cl__str(r, i, 4, m.invited_by, sizeof m.invited_by);
        m.created_at = cl__i64(r, i, 5);
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
    struct cl__pg *q = s->impl;
    struct cl__p p = {0}, e = {0};
    enum cl_role role = CL_ROLE_NONE;
    int rc;

    cl__p_str(&p, project_id);
    cl__p_str(&p, user_id);
    cl__p_str(&e, project_id);
    cl__p_str(&e, user_id);
    cl__p_i64(&e, now);
    cl__p_str(&e, cl_end_reason_name(CL_END_MEMBER_REMOVED));
    rc = cl__begin(q, __func__);
    if (rc)
        return rc;
    rc = cl__role_of(q, project_id, user_id, true, &role, __func__);
    if (rc == 0 && role == CL_ROLE_NONE)
        rc = CL_ENOTFOUND;
    if (rc == 0 && role == CL_ROLE_OWNER)
        rc = CL_ESTATE;
    if (rc == 0 && out)
        rc = cl__collect_ids(q, cl__sql_member_ended, project_id, user_id, &out->ended, __func__);
    if (rc == 0 && out)
        rc = cl__collect_ids(q, cl__sql_member_unshared, project_id, user_id, &out->unshared,
                             __func__);
    if (rc == 0)
        rc = cl__exec(q,
                      "UPDATE sessions SET status = 'ended', ended_at = $3, end_reason = $4"
                      " WHERE user_id = $2 AND status = 'active'"
                      " AND device_id IN (SELECT id FROM devices WHERE project_id = $1)",
                      &e, __func__);
    if (rc == 0)
        rc = cl__exec(q,
                      "DELETE FROM session_shares WHERE user_id = $2 AND session_id IN"
                      " (SELECT s.id FROM sessions s JOIN devices d ON d.id = s.device_id"
                      " WHERE d.project_id = $1)",
                      &p, __func__);
    if (rc == 0)
        rc = cl__exec(q, "DELETE FROM project_members WHERE project_id = $1 AND user_id = $2", &p,
                      __func__);
    return cl__cascade_end(q, out, rc, __func__);
}

static int cl__device_rename(struct cl_store *s, const char *id, const char *name)
{
    struct cl__p p = {0};
    cl__p_str(&p, id);
    cl__p_str(&p, name);
    return cl__exec_one(s->impl, "UPDATE devices SET name = $2 WHERE id = $1", &p, __func__);
}

static int cl__device_delete(struct cl_store *s, const char *id, struct cl_store_cascade *out)
{
    static const char del[] = "DELETE FROM devices WHERE id = $1";
    struct cl__pg *q = s->impl;
    struct cl__p p = {0};
    int rc;

    cl__p_str(&p, id);
    if (!out)
        return cl__exec_one(q, del, &p, __func__);
    rc = cl__begin(q, __func__);
    if (rc)
        return rc;
    if ((rc = cl__collect_ids(q, cl__sql_device_ended, id, NULL, &out->ended, __func__)) ||
        (rc = cl__exec_one(q, del, &p, __func__)))
        return cl__cascade_end(q, out, rc, __func__);
    cl_id_list_add(&out->devices, id);
    return cl__cascade_end(q, out, 0, __func__);
}

static int cl__device_new_code(struct cl_store *s, const char *id,
                               const uint8_t code_hash[CL_HASH_LEN], int64_t expires_at)
{
    struct cl__p p = {0};
    cl__p_str(&p, id);
    cl__p_hash(&p, code_hash);
    cl__p_i64(&p, expires_at);
    return cl__exec_one(
        s->impl,
        "UPDATE devices SET pairing_code_hash = $2, pairing_code_expires_at = $3 WHERE id = $1", &p,
        __func__);
}

static int cl__device_heartbeat(struct cl_store *s, const char *id, int64_t now)
{
    struct cl__p p = {0};
    cl__p_str(&p, id);
    cl__p_i64(&p, now);
    return cl__exec_one(s->impl, "UPDATE devices SET last_heartbeat = $2 WHERE id = $1", &p,
                        __func__);
}

static int cl__device_set_kind(struct cl_store *s, const char *id, const char *kind)
{
    struct cl__p p = {0};
    cl__p_str(&p, id);
    cl__p_str(&p, kind);
    return cl__exec_one(s->impl, "UPDATE devices SET kind = $2 WHERE id = $1", &p, __func__);
}

static int cl__device_set_info(struct cl_store *s, const char *id, const char *meta,
                               const char *remote_addr, int64_t now)
{
    struct cl__p p = {0};
    cl__p_str(&p, id);
    cl__p_str(&p, meta);
    cl__p_str(&p, remote_addr);
    cl__p_i64(&p, now);
    /* $2 NULL keeps the metadata (and its time), $3 NULL the address */
    return cl__exec_one(
        s->impl,
        "UPDATE devices SET meta = coalesce($2::text, meta),"
        " meta_updated_at = CASE WHEN $2::text IS NULL THEN meta_updated_at ELSE $4::bigint END,"
        " remote_addr = coalesce($3::text, remote_addr) WHERE id = $1",
        &p, __func__);
}

static int cl__device_get_info(struct cl_store *s, const char *id, struct cl_device_info *out)
{
    struct cl__p p = {0};
    PGresult *r;
    int rc;
    cl__p_str(&p, id);
    memset(out, 0, sizeof *out);
    rc = cl__one(s->impl,
                 "SELECT coalesce(meta, ''), coalesce(remote_addr, ''),"
                 " coalesce(meta_updated_at, 0), coalesce(online_since, 0),"
                 " coalesce(connected_at, 0) FROM devices WHERE id = $1",
                 &p, &r, __func__);
    if (rc)
        return rc;
    cl__str(r, 0, 0, out->meta, sizeof out->meta);
    cl__str(r, 0, 1, out->remote_addr, sizeof out->remote_addr);
    out->meta_updated_at = cl__i64(r, 0, 2);
    out->online_since = cl__i64(r, 0, 3);
    out->connected_at = cl__i64(r, 0, 4);
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
    struct cl__p p = {0};
    PGresult *r;
    int rc;

    cl__p_str(&p, f->project_id);
    cl__p_str(&p, f->device_id);
    cl__p_str(&p, f->user_id);
    cl__p_str(&p, status_name[f->status]);
    cl__p_i64(&p, f->before_started_at);
    cl__p_str(&p, f->before_id);
    if (f->limit)
        cl__p_i64(&p, f->limit);
    else
        cl__p_str(&p, NULL);
    /* the ids are compared byte by byte (COLLATE "C"), as SQLite does */
    rc = cl__run(s->impl,
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
        cl__str(r, i, 10, si.device_name, sizeof si.device_name);
        cl__str(r, i, 11, si.user_email, sizeof si.user_email);
        cl__str(r, i, 12, si.user_display_name, sizeof si.user_display_name);
        cb(&si, ctx);
    }
    cl_pq.PQclear(r);
    return 0;
}

static void cl__close(struct cl_store *s);

static const struct cl_store_ops cl__pg_ops = {
    .name = "postgres",
    .close = cl__close,
    .ping = cl__ping,
    .user_create = cl__user_create,
    .user_by_email = cl__user_by_email,
    .user_by_id = cl__user_by_id,
    .token_create = cl__token_create,
    .token_user = cl__token_user,
    .token_revoke = cl__token_revoke,
    .token_list = cl__token_list,
    .token_get = cl__token_get,
    .token_revoke_id = cl__token_revoke_id,
    .tokens_revoke_all = cl__tokens_revoke_all,
    .profile_update = cl__profile_update,
    .user_set_password = cl__user_set_password,
    .user_delete = cl__user_delete,
    .reset_create = cl__reset_create,
    .reset_consume = cl__reset_consume,
    .secret_get = cl__secret_get,
    .user_count = cl__user_count,
    .signin_code_create = cl__signin_code_create,
    .signin_code_consume = cl__signin_code_consume,
    .project_create = cl__project_create,
    .project_get = cl__project_get,
    .project_list_for_user = cl__project_list_for_user,
    .member_add = cl__member_add,
    .invitation_create = cl__invitation_create,
    .invitation_count_pending = cl__invitation_count_pending,
    .invitation_get = cl__invitation_get,
    .invitation_list_for_email = cl__invitation_list_for_email,
    .invitation_respond = cl__invitation_respond,
    .verify_create = cl__verify_create,
    .verify_consume = cl__verify_consume,
    .user_set_email_verified = cl__user_set_email_verified,
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

/* ---- open ----------------------------------------------------------------------- */

static void cl__close(struct cl_store *s)
{
    struct cl__pg *q = s->impl;
    if (!q)
        return;
    cl__drop(q);
    cl_wipe(q->url, strlen(q->url));
    free(q->url);
    free(q);
    s->impl = NULL;
}

/* Applies the pending migrations in one transaction, under an advisory
 * lock so that relays starting together on one database take turns.
 * *version gets the schema version after. */
static int cl__migrate(struct cl__pg *q, int *version, char *err, size_t errlen)
{
    struct cl__p p = {0};
    PGresult *r;
    int rc, v = 0;

    rc = cl__begin(q, __func__);
    if (rc)
        return cl_seterr(err, errlen, rc, "cannot start the schema's migration");
    cl__p_i64(&p, CL__PG_MIGRATE_LOCK);
    if ((rc = cl__run(q, "SELECT pg_advisory_xact_lock($1::bigint)", &p, NULL, __func__)) ||
        (rc = cl__run(q, "CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL)",
                      NULL, NULL, __func__)) ||
        (rc = cl__run(q, "SELECT version FROM schema_version", NULL, &r, __func__))) {
        cl__rollback(q, __func__);
        return cl_seterr(err, errlen, rc, "cannot read the schema version");
    }
    if (cl_pq.PQntuples(r) > 0)
        v = (int)cl__i64(r, 0, 0);
    cl_pq.PQclear(r);
    if (v > cl_pg_migration_count) {
        cl__rollback(q, __func__);
        return cl_seterr(err, errlen, CL_EDB,
                         "the database's schema (version %d) is newer than this relay's (%d): "
                         "run the newer clawlink-relay, or another database",
                         v, cl_pg_migration_count);
    }
    for (int i = v; i < cl_pg_migration_count; i++) {
        PGresult *m = cl_pq.PQexec(q->conn, cl_pg_migrations[i]);
        if (!m || cl_pq.PQresultStatus(m) != PGRES_COMMAND_OK) {
            rc = cl__fail(q, m, "migrate");
            cl_pq.PQclear(m);
            cl__rollback(q, __func__);
            return cl_seterr(err, errlen, rc, "migration %d failed (see the log)", i + 1);
        }
        cl_pq.PQclear(m);
    }
    memset(&p, 0, sizeof p);
    cl__p_i64(&p, cl_pg_migration_count);
    if (v < cl_pg_migration_count &&
        ((rc = cl__run(q, "DELETE FROM schema_version", NULL, NULL, __func__)) ||
         (rc = cl__run(q, "INSERT INTO schema_version (version) VALUES ($1::integer)", &p, NULL,
                       __func__)))) {
        cl__rollback(q, __func__);
        return cl_seterr(err, errlen, rc, "cannot record the schema version");
    }
    rc = cl__commit(q, __func__);
    if (rc)
        return cl_seterr(err, errlen, rc, "cannot commit the schema's migration");
    if (v < cl_pg_migration_count)
        cl_info("store", "schema migrated", "from=%d to=%d", v, cl_pg_migration_count);
    *version = cl_pg_migration_count;
    return 0;
}

int cl_store_open_pg(struct cl_store *s, const char *url, char *err, size_t errlen)
{
    PQconninfoOption *opts;
    struct cl__pg *q;
    char *perr = NULL, why[256];
    int rc, version = 0;

    memset(s, 0, sizeof *s);
    if (cl_secret_init())
        return cl_seterr(err, errlen, CL_EDB, "libsodium failed to initialise");
    rc = cl_pqlib_load(err, errlen);
    if (rc)
        return CL_EDB;
    /* checked before dialling; libpq's reason may quote the URL: not shown */
    opts = cl_pq.PQconninfoParse(url, &perr);
    if (!opts) {
        if (perr)
            cl_pq.PQfreemem(perr);
        return cl_seterr(err, errlen, CL_EINVAL,
                         "the store URL is not a PostgreSQL URL libpq accepts "
                         "(postgresql://[user[:password]@][host][:port][/dbname][?param=value])");
    }
    cl_pq.PQconninfoFree(opts);
    q = calloc(1, sizeof *q);
    if (!q || !(q->url = strdup(url))) {
        free(q);
        return cl_seterr(err, errlen, CL_EDB, "out of memory");
    }
    q->conn = cl__dial(q->url);
    if (!q->conn || cl_pq.PQstatus(q->conn) != CONNECTION_OK) {
        rc = cl_seterr(err, errlen, CL_EUNAVAIL, "cannot connect to PostgreSQL: %s",
                       cl__conn_error(q->conn, why, sizeof why));
        goto out_free;
    }
    rc = cl__migrate(q, &version, err, errlen);
    if (rc)
        goto out_free;
    s->ops = s->backend = &cl__pg_ops;
    s->impl = q;
    cl_info("store", "database open", "backend=postgres schema=%d server=%d", version,
            cl_pq.PQserverVersion(q->conn));
    return 0;

out_free:
    s->impl = q;
    cl__close(s);
    return rc;
}

int cl_store_pg_schema_version(struct cl_store *s)
{
    struct cl__pg *q;
    PGresult *r;
    int v, rc;
    if (!s || s->backend != &cl__pg_ops || !s->impl)
        return CL_EINVAL;
    q = s->impl;
    rc = cl__run(q, "SELECT version FROM schema_version", NULL, &r, __func__);
    if (rc)
        return rc;
    v = cl_pq.PQntuples(r) > 0 ? (int)cl__i64(r, 0, 0) : 0;
    cl_pq.PQclear(r);
    return v;
}

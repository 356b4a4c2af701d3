/*
 * store_pg: the PostgreSQL backend of the store interface (decisions 71).
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
 * op with CL_EUNAVAIL and never exits: the connection is closed and the
 * next op connects again (after a failed dial, not before
 * CL_STORE_PG_REDIAL_MS).
 *
 * Transactions: where SQLite takes its write lock (BEGIN IMMEDIATE),
 * PostgreSQL runs READ COMMITTED and the rows that decide an op are read
 * FOR UPDATE (a pairing code, a one-time token, an invitation, a member's
 * role, a user's owned projects), so that two relays racing on the same
 * row are serialised the same way. A statement that fails aborts
 * PostgreSQL's transaction, so where SQLite carried on past a conflict
 * (invitation_respond's membership) the SQL says ON CONFLICT DO NOTHING.
 *
 * This file: parameters, the connection, statements, transactions,
 * columns, open and migrations; the ops are store_pg_accounts.c's and
 * store_pg_control.c's (store_pg_int.h between them).
 */
#include "relay/store_pg.h"
#include "relay/store_pg_int.h"
#include "core/err.h"
#include "core/log.h"
#include "core/pqlib.h"
#include "core/proto.h"
#include "core/secret.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* pg_advisory_xact_lock's key while migrating: two relays starting at
 * once on one database migrate one after the other ("clawlink" in hex) */
#define CL__PG_MIGRATE_LOCK 0x636c61776c696e6bLL

/* ---- parameters --------------------------------------------------------- */

/* NULL is SQL NULL */
void cl_pg_p_str(struct cl_pg_params *p, const char *s)
{
    if (p->n >= CL_PG_PARAMS_MAX)
        abort(); /* a statement with more: raise CL_PG_PARAMS_MAX */
    p->v[p->n] = s;
    p->len[p->n] = 0;
    p->fmt[p->n++] = 0;
}

/* NULL and "" are SQL NULL (SQLite's cl_sqlite_bind_opt) */
void cl_pg_p_opt(struct cl_pg_params *p, const char *s)
{
    cl_pg_p_str(p, s && *s ? s : NULL);
}

void cl_pg_p_i64(struct cl_pg_params *p, int64_t v)
{
    if (p->n >= CL_PG_PARAMS_MAX)
        abort();
    snprintf(p->num[p->n], sizeof p->num[p->n], "%lld", (long long)v);
    cl_pg_p_str(p, p->num[p->n]);
}

/* a 32-byte hash as binary bytea; NULL is SQL NULL */
void cl_pg_p_hash(struct cl_pg_params *p, const uint8_t *h)
{
    if (p->n >= CL_PG_PARAMS_MAX)
        abort();
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

/* msg as one line in buf, with no quote that would end the log's value */
static const char *cl__oneline(const char *msg, char *buf, size_t n)
{
    size_t len;
    snprintf(buf, n, "%s", msg ? msg : "");
    len = strlen(buf);
    while (len && (buf[len - 1] == '\n' || buf[len - 1] == ' '))
        buf[--len] = 0;
    for (char *c = buf; *c; c++)
        if (*c == '\n' || *c == '\t')
            *c = ' ';
        else if (*c == '"')
            *c = '\'';
    return buf;
}

/* libpq's message: it names the server (host, socket, user) and the
 * failure, never the password */
static const char *cl__conn_error(PGconn *c, char *buf, size_t n)
{
    return cl__oneline(c ? cl_pq.PQerrorMessage(c) : "out of memory", buf, n);
}

static void cl__drop(struct cl_pg *q)
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
static uint64_t cl__mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int cl__connect(struct cl_pg *q, const char *op)
{
    char why[256];
    uint64_t now;

    if (q->conn && cl_pq.PQstatus(q->conn) == CONNECTION_OK)
        return 0;
    cl__drop(q);
    if (q->in_tx)
        return CL_EUNAVAIL;
    /* a server that does not answer costs the loop up to connect_timeout
     * per dial: after a failed one, ops fail at once for a while */
    now = cl__mono_ms();
    if (now < q->next_dial_ms)
        return CL_EUNAVAIL;
    q->conn = cl__dial(q->url);
    if (q->conn && cl_pq.PQstatus(q->conn) == CONNECTION_OK) {
        cl_info("store", "reconnected to PostgreSQL", "op=%s", op);
        return 0;
    }
    q->next_dial_ms = cl__mono_ms() + CL_STORE_PG_REDIAL_MS;
    cl_error("store", "PostgreSQL is unreachable: operations fail until it is back",
             "op=%s retry_ms=%d error=\"%s\"", op, CL_STORE_PG_REDIAL_MS,
             cl__conn_error(q->conn, why, sizeof why));
    cl__drop(q);
    return CL_EUNAVAIL;
}

/* Maps a failed statement to a CL_E* code (the module comment). */
static int cl__fail(struct cl_pg *q, PGresult *r, const char *op)
{
    const char *state = r ? cl_pq.PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = r ? cl_pq.PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    char why[256];

    if (!q->conn || cl_pq.PQstatus(q->conn) != CONNECTION_OK ||
        (state && (strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0))) {
        cl_warn("store",
                "lost the connection to PostgreSQL: the operation fails, the next reconnects",
                "op=%s sqlstate=%s error=\"%s\"", op, state ? state : "",
                msg ? cl__oneline(msg, why, sizeof why) : cl__conn_error(q->conn, why, sizeof why));
        cl__drop(q);
        return CL_EUNAVAIL;
    }
    if (state && strcmp(state, "23505") == 0)
        return CL_EEXIST;
    if (state && strcmp(state, "23503") == 0)
        return CL_ENOTFOUND;
    cl_error("store", "statement failed", "op=%s sqlstate=%s error=\"%s\"", op, state ? state : "",
             cl__oneline(msg, why, sizeof why));
    return CL_EDB;
}

/* Runs sql with p's parameters: 0 and *out (the rows; the caller clears
 * it) or a CL_E* code. out NULL: the rows are not wanted. */
int cl_pg_run(struct cl_pg *q, const char *sql, const struct cl_pg_params *p, PGresult **out,
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
int cl_pg_write(struct cl_pg *q, const char *sql, const struct cl_pg_params *p, bool need_one,
                long *changed, const char *op)
{
    PGresult *r;
    long n;
    int rc = cl_pg_run(q, sql, p, &r, op);
    if (rc)
        return rc;
    n = cl__changes(r);
    cl_pq.PQclear(r);
    if (changed)
        *changed = n;
    return need_one && n == 0 ? CL_ENOTFOUND : 0;
}

int cl_pg_exec(struct cl_pg *q, const char *sql, const struct cl_pg_params *p, const char *op)
{
    return cl_pg_write(q, sql, p, false, NULL, op);
}

int cl_pg_exec_one(struct cl_pg *q, const char *sql, const struct cl_pg_params *p, const char *op)
{
    return cl_pg_write(q, sql, p, true, NULL, op);
}

int cl_pg_begin(struct cl_pg *q, const char *op)
{
    int rc = cl_pg_run(q, "BEGIN", NULL, NULL, op);
    if (rc == 0)
        q->in_tx = true;
    return rc;
}

/* PostgreSQL answers COMMIT of a transaction a failed statement aborted
 * with a ROLLBACK that looks like success: such a transaction is said to
 * have failed (an op that carried on past an error is a bug). */
int cl_pg_commit(struct cl_pg *q, const char *op)
{
    int rc;
    if (q->conn && cl_pq.PQtransactionStatus(q->conn) == PQTRANS_INERROR) {
        cl_error("store", "commit of a failed transaction: rolled back", "op=%s", op);
        cl_pg_rollback(q, op);
        return CL_EDB;
    }
    rc = cl_pg_run(q, "COMMIT", NULL, NULL, op);
    q->in_tx = false;
    return rc;
}

void cl_pg_rollback(struct cl_pg *q, const char *op)
{
    if (q->conn && cl_pq.PQstatus(q->conn) == CONNECTION_OK)
        cl_pg_run(q, "ROLLBACK", NULL, NULL, op);
    q->in_tx = false;
}

/* Ends a transaction: commits it (rc 0) or rolls it back (rc the error,
 * returned). */
int cl_pg_end(struct cl_pg *q, int rc, const char *op)
{
    if (rc) {
        cl_pg_rollback(q, op);
        return rc;
    }
    return cl_pg_commit(q, op);
}

/* ---- columns ----------------------------------------------------------------- */

void cl_pg_str(const PGresult *r, int row, int col, char *buf, size_t n)
{
    snprintf(buf, n, "%s", cl_pq.PQgetvalue(r, row, col)); /* NULL reads as "" */
}

int64_t cl_pg_i64(const PGresult *r, int row, int col)
{
    return strtoll(cl_pq.PQgetvalue(r, row, col), NULL, 10); /* NULL reads as 0 */
}

bool cl_pg_null(const PGresult *r, int row, int col)
{
    return cl_pq.PQgetisnull(r, row, col) != 0;
}

bool cl_pg_bool(const PGresult *r, int row, int col)
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
bool cl_pg_hash(const PGresult *r, int row, int col, uint8_t out[CL_HASH_LEN])
{
    const char *v = cl_pq.PQgetvalue(r, row, col);
    if (cl_pg_null(r, row, col) || strncmp(v, "\\x", 2) != 0 || strlen(v) != 2 + 2 * CL_HASH_LEN)
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
int cl_pg_collect_ids(struct cl_pg *q, const char *sql, const char *a, const char *b,
                      struct cl_id_list *l, const char *op)
{
    struct cl_pg_params p = {0};
    PGresult *r;
    char id[CL_UUID_LEN + 1];
    int rc;

    cl_pg_p_str(&p, a);
    if (b)
        cl_pg_p_str(&p, b);
    rc = cl_pg_run(q, sql, &p, &r, op);
    if (rc)
        return rc;
    for (int i = 0; i < cl_pq.PQntuples(r); i++) {
        cl_pg_str(r, i, 0, id, sizeof id);
        cl_id_list_add(l, id);
    }
    cl_pq.PQclear(r);
    return 0;
}

/* Runs a query of at most one row keyed by the text a: 0 and *out, or
 * CL_ENOTFOUND (nothing cleared) when there is no row. */
int cl_pg_one(struct cl_pg *q, const char *sql, const struct cl_pg_params *p, PGresult **out,
              const char *op)
{
    int rc = cl_pg_run(q, sql, p, out, op);
    if (rc)
        return rc;
    if (cl_pq.PQntuples(*out) == 0) {
        cl_pq.PQclear(*out);
        *out = NULL;
        return CL_ENOTFOUND;
    }
    return 0;
}

/* Ends a cascade's transaction; a cascade that did not happen reports
 * nothing. */
int cl_pg_cascade_end(struct cl_pg *q, struct cl_store_cascade *out, int rc, const char *op)
{
    rc = cl_pg_end(q, rc, op);
    if (rc && out)
        cl_store_cascade_free(out);
    return rc;
}

/* ---- open ----------------------------------------------------------------------- */

void cl_pg_close(struct cl_store *s)
{
    struct cl_pg *q = s->impl;
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
static int cl__migrate(struct cl_pg *q, int *version, char *err, size_t errlen)
{
    struct cl_pg_params p = {0};
    PGresult *r;
    int rc, v = 0;

    rc = cl_pg_begin(q, __func__);
    if (rc)
        return cl_seterr(err, errlen, rc, "cannot start the schema's migration");
    cl_pg_p_i64(&p, CL__PG_MIGRATE_LOCK);
    if ((rc = cl_pg_run(q, "SELECT pg_advisory_xact_lock($1::bigint)", &p, NULL, __func__)) ||
        (rc = cl_pg_run(q, "CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL)",
                        NULL, NULL, __func__)) ||
        (rc = cl_pg_run(q, "SELECT version FROM schema_version", NULL, &r, __func__))) {
        cl_pg_rollback(q, __func__);
        return cl_seterr(err, errlen, rc, "cannot read the schema version");
    }
    if (cl_pq.PQntuples(r) > 0)
        v = (int)cl_pg_i64(r, 0, 0);
    cl_pq.PQclear(r);
    if (v > cl_pg_migration_count) {
        cl_pg_rollback(q, __func__);
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
            cl_pg_rollback(q, __func__);
            return cl_seterr(err, errlen, rc, "migration %d failed (see the log)", i + 1);
        }
        cl_pq.PQclear(m);
    }
    memset(&p, 0, sizeof p);
    cl_pg_p_i64(&p, cl_pg_migration_count);
    if (v < cl_pg_migration_count &&
        ((rc = cl_pg_run(q, "DELETE FROM schema_version", NULL, NULL, __func__)) ||
         (rc = cl_pg_run(q, "INSERT INTO schema_version (version) VALUES ($1::integer)", &p, NULL,
                         __func__)))) {
        cl_pg_rollback(q, __func__);
        return cl_seterr(err, errlen, rc, "cannot record the schema version");
    }
    rc = cl_pg_commit(q, __func__);
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
    struct cl_pg *q;
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
    s->ops = s->backend = &cl_pg_ops;
    s->impl = q;
    cl_info("store", "database open", "backend=postgres schema=%d server=%d", version,
            cl_pq.PQserverVersion(q->conn));
    return 0;

out_free:
    s->impl = q;
    cl_pg_close(s);
    return rc;
}

int cl_store_pg_schema_version(struct cl_store *s)
{
    struct cl_pg *q;
    PGresult *r;
    int v, rc;
    if (!s || s->backend != &cl_pg_ops || !s->impl)
        return CL_EINVAL;
    q = s->impl;
    rc = cl_pg_run(q, "SELECT version FROM schema_version", NULL, &r, __func__);
    if (rc)
        return rc;
    v = cl_pq.PQntuples(r) > 0 ? (int)cl_pg_i64(r, 0, 0) : 0;
    cl_pq.PQclear(r);
    return v;
}

/*
 * memory_pg: the PostgreSQL memory provider (memory_pg.h), libpq's
 * asynchronous API on the agent's libuv loop.
 *
 * One connection moves through RESOLVING (uv_getaddrinfo, when the host is
 * a name) → CONNECTING (PQconnectPoll steps, each waiting on the socket) →
 * SCHEMA (CREATE … IF NOT EXISTS) → READY, or to DOWN when anything fails,
 * from where a backoff timer starts again. Operations queue in FIFO order
 * and run one at a time in READY; in DOWN they fail at once with CL_EIO,
 * so a caller never waits on a server that is gone and the loop never
 * spins on one. One timer watches the earliest deadline: the connection
 * attempt's, or the oldest operation's.
 *
 * Every value goes to the server as a bound parameter of a fixed
 * statement; the only text built here is the tsquery and ts_headline's
 * options, both values of parameters with their own quoting.
 */
#include "agent/memory_pg.h"
#include "core/pqlib.h"
#include "core/backoff.h"
#include "core/err.h"
#include "core/log.h"
#include "core/secret.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <arpa/inet.h>
#include <netdb.h>

#define CL__PG_COMP     "memory"
#define CL__PG_MARK_MAX 16 /* the caller's snippet markers (memory.h) */
#define CL__PG_PARAMS   4

#define CL__PG_MS(col) "floor(extract(epoch from " col ") * 1000)::bigint"

/* Run on every connect; creates the table and its indexes only when the
 * table is missing, so a role with no CREATE right works on a table made
 * beforehand by its owner (CREATE … IF NOT EXISTS would still check the
 * right). 'simple' text search: no stemming and no stop words, so notes
 * in any language are found by the words they hold, as the built-in
 * provider's FTS5 finds them. */
static const char cl__pg_schema[] =
    "DO $cl$ BEGIN IF to_regclass('" CL_MEMORY_PG_TABLE "') IS NULL THEN "
    "CREATE TABLE " CL_MEMORY_PG_TABLE " ("
    " id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    " text text NOT NULL CHECK (text <> ''),"
    " tags text NOT NULL DEFAULT '',"
    " source_thread_id bigint CHECK (source_thread_id > 0),"
    " created_at timestamptz NOT NULL DEFAULT clock_timestamp(),"
    " updated_at timestamptz NOT NULL DEFAULT clock_timestamp(),"
    " tsv tsvector GENERATED ALWAYS AS (to_tsvector('simple', text || ' ' || tags)) STORED);"
    " CREATE INDEX " CL_MEMORY_PG_TABLE "_tsv ON " CL_MEMORY_PG_TABLE " USING gin (tsv);"
    " CREATE INDEX " CL_MEMORY_PG_TABLE "_thread ON " CL_MEMORY_PG_TABLE " (source_thread_id);"
    " END IF; END $cl$";

enum cl__pg_kind { CL__PG_ADD, CL__PG_LIST, CL__PG_SEARCH, CL__PG_REMOVE, CL__PG_FORGET };

static const char *const cl__pg_sql[] = {
    [CL__PG_ADD] = "INSERT INTO " CL_MEMORY_PG_TABLE " (text, tags, source_thread_id)"
                   " VALUES ($1, $2, NULLIF($3::bigint, 0)) RETURNING id",
    [CL__PG_LIST] = "SELECT id, text, tags, coalesce(source_thread_id, 0), " CL__PG_MS(
        "created_at") ", " CL__PG_MS("updated_at") " FROM " CL_MEMORY_PG_TABLE
                                                   " WHERE $1::bigint = 0 OR id < $1::bigint"
                                                   " ORDER BY id DESC LIMIT $2::int",
    /* The inner query ranks and cuts; ts_headline (costly) runs only on
     * the hits returned. */
    [CL__PG_SEARCH] =
        "SELECT n.id, coalesce(n.source_thread_id, 0), n.text,"
        " ts_headline('simple', n.text, h.q, $2), h.score, " CL__PG_MS(
            "n.created_at") " FROM (SELECT id, q, ts_rank(tsv, q) AS score"
                            " FROM " CL_MEMORY_PG_TABLE ", to_tsquery('simple', $1) AS q"
                            " WHERE tsv @@ q ORDER BY score DESC, id DESC LIMIT $3::int) h"
                            " JOIN " CL_MEMORY_PG_TABLE " n ON n.id = h.id"
                            " ORDER BY h.score DESC, n.id DESC",
    [CL__PG_REMOVE] = "DELETE FROM " CL_MEMORY_PG_TABLE " WHERE id = $1::bigint",
    [CL__PG_FORGET] = "UPDATE " CL_MEMORY_PG_TABLE " SET source_thread_id = NULL"
                      " WHERE source_thread_id = $1::bigint",
};

enum cl__pg_state {
    CL__PG_DOWN,       /* waiting for the retry timer; operations fail */
    CL__PG_RESOLVING,  /* uv_getaddrinfo for the host name */
    CL__PG_CONNECTING, /* PQconnectPoll */
    CL__PG_SCHEMA,     /* the CREATE statements are running */
    CL__PG_READY,
};

struct cl__pg_op {
    struct cl__pg_op *next;
    enum cl__pg_kind kind;
    int nparams;
    char *params[CL__PG_PARAMS]; /* owned */
    int limit;                   /* list: the page size asked for (one more is fetched) */
    union {
        cl_memory_done_fn done;
        cl_memory_notes_fn notes;
        cl_memory_hits_fn hits;
    } fn;
    void *ctx;
    uint64_t deadline; /* uv_now() ms */
};

/* The socket's watcher lives apart from the provider: libpq may replace
 * the socket while connecting, and a closing handle frees only itself. */
struct cl__pg_poll {
    uv_poll_t h;
    int fd;
};

/* A name resolution outlives an abandoned attempt: its callback frees it
 * and does nothing when pg was cleared. */
struct cl__pg_gai {
    uv_getaddrinfo_t req;
    struct cl_memory_pg *pg;
    char host[];
};

struct cl_memory_pg {
    uv_loop_t *loop;
    char *url;       /* secret (may hold a password): wiped when freed */
    char where[320]; /* host, port, database: what the log names */
    uint32_t op_timeout_ms, connect_timeout_ms, queue_max;

    enum cl__pg_state state;
    PGconn *conn;
    struct cl__pg_poll *poll;
    struct cl__pg_gai *gai;
    uv_timer_t deadline; /* the attempt's or the oldest operation's */
    uv_timer_t retry;    /* DOWN → the next attempt */
    struct cl_backoff backoff;
    uint64_t connect_deadline;
    bool flushing;    /* PQflush left bytes to send */
    bool busy;        /* the schema or the head operation is on the wire */
    PGresult *res;    /* what the busy statement answered so far */
    bool was_up;      /* connected at least once */
    bool down_logged; /* "unavailable" said for this outage */

    struct cl__pg_op *head, *tail;
    size_t queued; /* waiting + the running one */

    bool closed;
    int open_handles;
};

static void cl__pg_down(struct cl_memory_pg *pg, const char *what, const char *why);
static void cl__pg_connect(struct cl_memory_pg *pg);
static void cl__pg_kick(struct cl_memory_pg *pg);
static void cl__pg_arm(struct cl_memory_pg *pg);

/* ---- small helpers ------------------------------------------------------------------ */

static char *cl__pg_strdup(const char *s)
{
    char *d = strdup(s ? s : "");
    if (!d)
        abort();
    return d;
}

static char *cl__pg_i64(int64_t v)
{
    char buf[24];
    snprintf(buf, sizeof buf, "%" PRId64, v);
    return cl__pg_strdup(buf);
}

static int cl__pg_clamp(int limit, int max)
{
    return limit < 1 ? 1 : limit > max ? max : limit;
}

static int cl__pg_check(const char *s, size_t max, bool required)
{
    if (!s || !*s)
        return required ? CL_EINVAL : 0;
    return strnlen(s, max + 1) > max ? CL_ELIMIT : 0;
}

/* libpq's messages end with a newline (sometimes several lines): the
 * first line, for a logfmt value. */
static const char *cl__pg_line(const char *msg, char *buf, size_t cap)
{
    size_t n;

    if (!msg || !*msg)
        return "unknown";
    n = strcspn(msg, "\r\n");
    if (n >= cap)
        n = cap - 1;
    for (size_t i = 0; i < n; i++)
        buf[i] = msg[i] == '"' ? '\'' : msg[i];
    buf[n] = 0;
    return buf;
}

static void cl__pg_op_free(struct cl__pg_op *op)
{
    for (int i = 0; i < op->nparams; i++)
        free(op->params[i]);
    free(op);
}

/* Calls op's callback with rc and no rows. */
static void cl__pg_op_fail(struct cl__pg_op *op, int rc)
{
    switch (op->kind) {
    case CL__PG_LIST:
        op->fn.notes(op->ctx, rc, NULL, 0, false);
        break;
    case CL__PG_SEARCH:
        op->fn.hits(op->ctx, rc, NULL, 0);
        break;
    default:
        op->fn.done(op->ctx, rc, 0);
        break;
    }
}

/* ---- the socket watcher ----------------------------------------------------------- */

static void cl__pg_poll_closed(uv_handle_t *h)
{
    free(h); /* the uv_poll_t is a cl__pg_poll's first member */
}

static void cl__pg_unwatch(struct cl_memory_pg *pg)
{
    if (!pg->poll)
        return;
    uv_poll_stop(&pg->poll->h);
    pg->poll->h.data = NULL;
    uv_close((uv_handle_t *)&pg->poll->h, cl__pg_poll_closed);
    pg->poll = NULL;
}

/* Stops watching and closes the connection (the watcher first: libuv must
 * not poll a descriptor libpq closed). */
static void cl__pg_drop(struct cl_memory_pg *pg)
{
    cl__pg_unwatch(pg);
    if (pg->res) {
        cl_pq.PQclear(pg->res);
        pg->res = NULL;
    }
    if (pg->conn) {
        cl_pq.PQfinish(pg->conn);
        pg->conn = NULL;
    }
    pg->busy = pg->flushing = false;
}

static void cl__pg_on_poll(uv_poll_t *h, int status, int events);

/* Watches the connection's socket for events (UV_READABLE, UV_WRITABLE).
 * uv_poll_start re-registers the descriptor each time, so a socket libpq
 * replaced under the same number is watched afresh. */
static int cl__pg_watch(struct cl_memory_pg *pg, int events)
{
    int fd = cl_pq.PQsocket(pg->conn);

    if (fd < 0)
        return CL_EIO;
    if (pg->poll && pg->poll->fd != fd)
        cl__pg_unwatch(pg);
    if (!pg->poll) {
        struct cl__pg_poll *p = calloc(1, sizeof *p);
        if (!p)
            abort();
        if (uv_poll_init(pg->loop, &p->h, fd) != 0) {
            free(p);
            return CL_EIO;
        }
        p->fd = fd;
        p->h.data = pg;
        pg->poll = p;
    }
    return uv_poll_start(&pg->poll->h, events, cl__pg_on_poll) == 0 ? 0 : CL_EIO;
}

/* ---- connecting --------------------------------------------------------------------- */

static void cl__pg_notice(void *arg, const char *message)
{
    char line[200];
    (void)arg;
    cl_debug(CL__PG_COMP, "postgres notice", "notice=\"%s\"",
             cl__pg_line(message, line, sizeof line));
}

/* Frees what PQconninfoParse returned, wiping the values first: one of
 * them may be the password. */
static void cl__pg_conninfo_free(PQconninfoOption *opts)
{
    for (PQconninfoOption *o = opts; o && o->keyword; o++)
        if (o->val)
            cl_wipe(o->val, strlen(o->val));
    cl_pq.PQconninfoFree(opts);
}

/* Starts libpq's connection. hosts and addrs (NULL when the URL needs no
 * name resolution) are the URL's host name once per address it resolved
 * to and those addresses, so libpq tries each without resolving (its
 * resolution blocks) and still checks TLS certificates against the name. */
static void cl__pg_start(struct cl_memory_pg *pg, const char *hosts, const char *addrs)
{
    /* Keywords before dbname are defaults the URL may override; those
     * after it are ours. gssencmode: GSSAPI negotiation may block in the
     * Kerberos library; a URL that wants it says so. */
    const char *kw[] = {"application_name",    "gssencmode", "dbname", "client_encoding",
                        addrs ? "host" : NULL, "hostaddr",   NULL};
    const char *val[] = {"clawlink", "disable", pg->url, "UTF8", hosts, addrs, NULL};
    char line[300];

    pg->state = CL__PG_CONNECTING;
    pg->conn = cl_pq.PQconnectStartParams(kw, val, 1);
    if (!pg->conn)
        abort(); /* libpq could not allocate its connection object */
    cl_pq.PQsetNoticeProcessor(pg->conn, cl__pg_notice, pg);
    if (cl_pq.PQstatus(pg->conn) == CONNECTION_BAD) {
        cl__pg_down(pg, "cannot connect",
                    cl__pg_line(cl_pq.PQerrorMessage(pg->conn), line, sizeof line));
        return;
    }
    /* As if PQconnectPoll had answered PGRES_POLLING_WRITING (libpq's
     * documented start). */
    if (cl__pg_watch(pg, UV_WRITABLE) != 0)
        cl__pg_down(pg, "cannot connect", "cannot watch the socket");
}

#define CL__PG_ADDRS_MAX 8 /* addresses of one name libpq is given to try */

static void cl__pg_on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *ai)
{
    struct cl__pg_gai *g = req->data;
    struct cl_memory_pg *pg = g->pg;
    char addrs[CL__PG_ADDRS_MAX * (INET6_ADDRSTRLEN + 1)] = "";
    char hosts[CL__PG_ADDRS_MAX * (256 + 1)] = "";
    size_t na = 0, nh = 0;
    int count = 0;

    if (pg)
        pg->gai = NULL;
    for (struct addrinfo *a = ai; pg && status == 0 && a && count < CL__PG_ADDRS_MAX;
         a = a->ai_next) {
        char one[INET6_ADDRSTRLEN] = "";
        if (a->ai_family == AF_INET6)
            uv_ip6_name((const struct sockaddr_in6 *)a->ai_addr, one, sizeof one);
        else if (a->ai_family == AF_INET)
            uv_ip4_name((const struct sockaddr_in *)a->ai_addr, one, sizeof one);
        if (!one[0] || strlen(g->host) > 256)
            continue;
        na += (size_t)snprintf(addrs + na, sizeof addrs - na, "%s%s", count ? "," : "", one);
        nh += (size_t)snprintf(hosts + nh, sizeof hosts - nh, "%s%s", count ? "," : "", g->host);
        count++;
    }
    if (ai)
        uv_freeaddrinfo(ai);
    free(g);
    if (!pg)
        return;
    if (status != 0 || !count)
        cl__pg_down(pg, "cannot resolve the server's name",
                    status ? uv_strerror(status) : "no address");
    else
        cl__pg_start(pg, hosts, addrs);
}

/* True when host is a single name libpq would resolve (blocking): not
 * empty, not a socket directory, not an address, not a list. */
static bool cl__pg_needs_dns(const char *host)
{
    unsigned char buf[sizeof(struct in6_addr)];

    if (!host || !*host || host[0] == '/' || host[0] == '@' || strchr(host, ','))
        return false;
    return inet_pton(AF_INET, host, buf) != 1 && inet_pton(AF_INET6, host, buf) != 1;
}

/* One connection attempt: resolution first when needed, then libpq. */
static void cl__pg_connect(struct cl_memory_pg *pg)
{
    PQconninfoOption *opts = cl_pq.PQconninfoParse(pg->url, NULL);
    const char *host = NULL, *hostaddr = NULL;

    for (PQconninfoOption *o = opts; o && o->keyword; o++) {
        if (strcmp(o->keyword, "host") == 0)
            host = o->val;
        else if (strcmp(o->keyword, "hostaddr") == 0)
            hostaddr = o->val;
    }
    /* libpq falls back to the environment for what the string omits */
    if (!host || !*host)
        host = getenv("PGHOST");
    if (!hostaddr || !*hostaddr)
        hostaddr = getenv("PGHOSTADDR");
    pg->connect_deadline = uv_now(pg->loop) + pg->connect_timeout_ms;
    if (cl__pg_needs_dns(host) && !(hostaddr && *hostaddr)) {
        struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
        struct cl__pg_gai *g = calloc(1, sizeof *g + strlen(host) + 1);
        int rc;

        if (!g)
            abort();
        g->pg = pg;
        g->req.data = g;
        memcpy(g->host, host, strlen(host) + 1);
        pg->state = CL__PG_RESOLVING;
        pg->gai = g;
        rc = uv_getaddrinfo(pg->loop, &g->req, cl__pg_on_resolved, g->host, NULL, &hints);
        cl__pg_conninfo_free(opts);
        if (rc != 0) {
            pg->gai = NULL;
            free(g);
            cl__pg_down(pg, "cannot resolve the server's name", uv_strerror(rc));
            return;
        }
        cl__pg_arm(pg);
        return;
    }
    cl__pg_conninfo_free(opts);
    cl__pg_start(pg, NULL, NULL);
    cl__pg_arm(pg);
}

static void cl__pg_on_retry(uv_timer_t *t)
{
    struct cl_memory_pg *pg = t->data;
    cl__pg_connect(pg);
}

/* Fails every queued operation with rc. A callback may close the
 * provider: the rest are then freed without theirs. */
static void cl__pg_fail_all(struct cl_memory_pg *pg, int rc)
{
    struct cl__pg_op *op = pg->head;

    pg->head = pg->tail = NULL;
    pg->queued = 0;
    while (op) {
        struct cl__pg_op *next = op->next;
        if (!pg->closed)
            cl__pg_op_fail(op, rc);
        cl__pg_op_free(op);
        op = next;
    }
}

/* The connection failed or was lost: say so once per outage, fail what
 * waits, try again after the backoff. */
static void cl__pg_down(struct cl_memory_pg *pg, const char *what, const char *why)
{
    uint32_t delay;

    cl__pg_drop(pg);
    if (pg->gai) {
        pg->gai->pg = NULL;
        uv_cancel((uv_req_t *)&pg->gai->req);
        pg->gai = NULL;
    }
    pg->state = CL__PG_DOWN;
    delay = cl_backoff_next(&pg->backoff);
    if (!pg->down_logged) {
        cl_warn(CL__PG_COMP,
                pg->was_up ? "postgres unavailable, memory operations fail until it is back"
                           : "postgres unavailable, memory operations fail until it answers",
                "%s what=\"%s\" error=\"%s\" retry_ms=%u", pg->where, what, why, (unsigned)delay);
        pg->down_logged = true;
    } else {
        cl_debug(CL__PG_COMP, "postgres still unavailable",
                 "%s what=\"%s\" error=\"%s\" retry_ms=%u", pg->where, what, why, (unsigned)delay);
    }
    uv_timer_start(&pg->retry, cl__pg_on_retry, delay, 0);
    cl__pg_fail_all(pg, CL_EIO);
    if (!pg->closed)
        cl__pg_arm(pg);
}

/* Sends a statement and watches for its answer (and for room to write
 * the rest of it). */
static int cl__pg_sent(struct cl_memory_pg *pg)
{
    int f = cl_pq.PQflush(pg->conn);

    if (f < 0)
        return CL_EIO;
    pg->busy = true;
    pg->flushing = f == 1;
    return cl__pg_watch(pg, UV_READABLE | (pg->flushing ? UV_WRITABLE : 0));
}

static void cl__pg_connect_step(struct cl_memory_pg *pg)
{
    char line[300];

    switch (cl_pq.PQconnectPoll(pg->conn)) {
    case PGRES_POLLING_READING:
        if (cl__pg_watch(pg, UV_READABLE) != 0)
            cl__pg_down(pg, "cannot connect", "cannot watch the socket");
        return;
    case PGRES_POLLING_WRITING:
        if (cl__pg_watch(pg, UV_WRITABLE) != 0)
            cl__pg_down(pg, "cannot connect", "cannot watch the socket");
        return;
    case PGRES_POLLING_OK:
        break;
    default:
        cl__pg_down(pg, "cannot connect",
                    cl__pg_line(cl_pq.PQerrorMessage(pg->conn), line, sizeof line));
        return;
    }
    pg->state = CL__PG_SCHEMA;
    if (cl_pq.PQsetnonblocking(pg->conn, 1) != 0 || !cl_pq.PQsendQuery(pg->conn, cl__pg_schema) ||
        cl__pg_sent(pg) != 0)
        cl__pg_down(pg, "cannot create the schema",
                    cl__pg_line(cl_pq.PQerrorMessage(pg->conn), line, sizeof line));
}

/* ---- results ------------------------------------------------------------------------ */

static int cl__pg_result_rc(const PGresult *r)
{
    const char *state;

    switch (cl_pq.PQresultStatus(r)) {
    case PGRES_COMMAND_OK:
    case PGRES_TUPLES_OK:
        return 0;
    default:
        state = cl_pq.PQresultErrorField(r, PG_DIAG_SQLSTATE);
        if (!state)
            return CL_EDB;
        /* class 22: data exceptions (say, text that is not UTF-8) */
        if (strncmp(state, "22", 2) == 0)
            return CL_EINVAL;
        /* 08: connection exceptions; 57: the server shutting down or
         * the session killed — the server is going away, not refusing */
        if (strncmp(state, "08", 2) == 0 || strncmp(state, "57", 2) == 0)
            return CL_EIO;
        return CL_EDB;
    }
}

static int64_t cl__pg_int(const PGresult *r, int row, int col)
{
    return strtoll(cl_pq.PQgetvalue(r, row, col), NULL, 10);
}

/* Hands r (NULL: the statement failed at the connection) to op's
 * callback. */
static void cl__pg_deliver(struct cl__pg_op *op, PGresult *r)
{
    int rc = r ? cl__pg_result_rc(r) : CL_EIO;
    int n = rc == 0 ? cl_pq.PQntuples(r) : 0;

    if (rc) {
        char line[300];
        cl_warn(CL__PG_COMP, "postgres refused a memory statement", "error=\"%s\"",
                cl__pg_line(r ? cl_pq.PQresultErrorMessage(r) : "", line, sizeof line));
        cl__pg_op_fail(op, rc);
        return;
    }
    switch (op->kind) {
    case CL__PG_ADD:
        op->fn.done(op->ctx, 0, n == 1 ? cl__pg_int(r, 0, 0) : 0);
        return;
    case CL__PG_REMOVE:
        op->fn.done(op->ctx, strcmp(cl_pq.PQcmdTuples(r), "0") == 0 ? CL_ENOTFOUND : 0, 0);
        return;
    case CL__PG_FORGET:
        op->fn.done(op->ctx, 0, 0);
        return;
    case CL__PG_LIST: {
        bool more = n > op->limit;
        struct cl_memory_note notes[CL_CHAT_PAGE_MAX];
        if (more)
            n = op->limit;
        for (int i = 0; i < n; i++)
            notes[i] = (struct cl_memory_note){
                .id = cl__pg_int(r, i, 0),
                .text = cl_pq.PQgetvalue(r, i, 1),
                .tags = cl_pq.PQgetvalue(r, i, 2),
                .source_thread_id = cl__pg_int(r, i, 3),
                .created_at = cl__pg_int(r, i, 4),
                .updated_at = cl__pg_int(r, i, 5),
            };
        op->fn.notes(op->ctx, 0, notes, (size_t)n, more);
        return;
    }
    case CL__PG_SEARCH: {
        struct cl_memory_hit hits[CL_CHAT_SEARCH_MAX];
        if (n > CL_CHAT_SEARCH_MAX)
            n = CL_CHAT_SEARCH_MAX;
        for (int i = 0; i < n; i++)
            hits[i] = (struct cl_memory_hit){
                .id = cl__pg_int(r, i, 0),
                .source_thread_id = cl__pg_int(r, i, 1),
                .text = cl_pq.PQgetvalue(r, i, 2),
                .snippet = cl_pq.PQgetvalue(r, i, 3),
                .score = strtod(cl_pq.PQgetvalue(r, i, 4), NULL),
                .created_at = cl__pg_int(r, i, 5),
            };
        op->fn.hits(op->ctx, 0, hits, (size_t)n);
        return;
    }
    }
}

/* The busy statement answered in full (res holds its answer). */
static void cl__pg_finished(struct cl_memory_pg *pg)
{
    PGresult *r = pg->res;
    struct cl__pg_op *op;
    char line[300];

    pg->res = NULL;
    pg->busy = false;
    if (pg->state == CL__PG_SCHEMA) {
        int rc = r ? cl__pg_result_rc(r) : CL_EIO;
        if (rc) {
            cl__pg_down(pg, "cannot create the schema",
                        cl__pg_line(r ? cl_pq.PQresultErrorMessage(r) : "", line, sizeof line));
            cl_pq.PQclear(r);
            return;
        }
        cl_pq.PQclear(r);
        pg->state = CL__PG_READY;
        cl_backoff_reset(&pg->backoff);
        if (pg->down_logged)
            cl_info(CL__PG_COMP, "postgres available again", "%s", pg->where);
        else if (!pg->was_up)
            cl_info(CL__PG_COMP, "postgres connected", "%s", pg->where);
        pg->was_up = true;
        pg->down_logged = false;
        if (cl__pg_watch(pg, UV_READABLE) != 0) {
            cl__pg_down(pg, "lost the connection", "cannot watch the socket");
            return;
        }
        cl__pg_kick(pg);
        return;
    }
    op = pg->head;
    pg->head = op->next;
    if (!pg->head)
        pg->tail = NULL;
    pg->queued--;
    cl__pg_deliver(op, r);
    cl_pq.PQclear(r);
    cl__pg_op_free(op);
    if (pg->closed || pg->state != CL__PG_READY)
        return;
    if (cl_pq.PQstatus(pg->conn) == CONNECTION_BAD) { /* the answer was the server going away */
        cl__pg_down(pg, "lost the connection",
                    cl__pg_line(cl_pq.PQerrorMessage(pg->conn), line, sizeof line));
        return;
    }
    if (!pg->busy && cl__pg_watch(pg, UV_READABLE) != 0) {
        cl__pg_down(pg, "lost the connection", "cannot watch the socket");
        return;
    }
    cl__pg_kick(pg);
}

/* Reads what arrived; when the busy statement's answer is complete,
 * finishes it. An idle connection only ever reads the server going away. */
static void cl__pg_read(struct cl_memory_pg *pg)
{
    char line[300];

    if (!cl_pq.PQconsumeInput(pg->conn) || cl_pq.PQstatus(pg->conn) == CONNECTION_BAD) {
        cl__pg_down(pg, "lost the connection",
                    cl__pg_line(cl_pq.PQerrorMessage(pg->conn), line, sizeof line));
        return;
    }
    if (!pg->busy)
        return;
    while (!cl_pq.PQisBusy(pg->conn)) {
        PGresult *r = cl_pq.PQgetResult(pg->conn);
        if (!r) {
            cl__pg_finished(pg);
            return;
        }
        /* Several answers only for the schema's statements: keep the
         * first, or the first error. */
        if (!pg->res || (cl__pg_result_rc(pg->res) == 0 && cl__pg_result_rc(r) != 0)) {
            cl_pq.PQclear(pg->res);
            pg->res = r;
        } else {
            cl_pq.PQclear(r);
        }
    }
}

static void cl__pg_on_poll(uv_poll_t *h, int status, int events)
{
    struct cl_memory_pg *pg = h->data;

    if (!pg || !pg->conn)
        return;
    if (status < 0) {
        cl__pg_down(pg, pg->state == CL__PG_CONNECTING ? "cannot connect" : "lost the connection",
                    uv_strerror(status));
        return;
    }
    if (pg->state == CL__PG_CONNECTING) {
        cl__pg_connect_step(pg);
        return;
    }
    if ((events & UV_WRITABLE) && pg->flushing) {
        int f = cl_pq.PQflush(pg->conn);
        if (f < 0) {
            cl__pg_down(pg, "lost the connection", "cannot send");
            return;
        }
        pg->flushing = f == 1;
        if (!pg->flushing && cl__pg_watch(pg, UV_READABLE) != 0) {
            cl__pg_down(pg, "lost the connection", "cannot watch the socket");
            return;
        }
    }
    if (events & UV_READABLE)
        cl__pg_read(pg);
}

/* ---- the queue ------------------------------------------------------------------- */

/* Sends the oldest operation when the connection is ready and idle. */
static void cl__pg_kick(struct cl_memory_pg *pg)
{
    struct cl__pg_op *op = pg->head;
    char line[300];

    if (pg->closed || pg->state != CL__PG_READY || pg->busy || !op) {
        if (!pg->closed)
            cl__pg_arm(pg);
        return;
    }
    if (!cl_pq.PQsendQueryParams(pg->conn, cl__pg_sql[op->kind], op->nparams, NULL,
                                 (const char *const *)op->params, NULL, NULL, 0) ||
        cl__pg_sent(pg) != 0) {
        cl__pg_down(pg, "lost the connection",
                    cl__pg_line(cl_pq.PQerrorMessage(pg->conn), line, sizeof line));
        return;
    }
    cl__pg_arm(pg);
}

static void cl__pg_on_deadline(uv_timer_t *t)
{
    struct cl_memory_pg *pg = t->data;
    uint64_t now = uv_now(pg->loop);

    if ((pg->state == CL__PG_RESOLVING || pg->state == CL__PG_CONNECTING ||
         pg->state == CL__PG_SCHEMA) &&
        now >= pg->connect_deadline) {
        cl__pg_down(pg, "cannot connect", "timed out");
        return;
    }
    if (pg->head && pg->busy && pg->state == CL__PG_READY && now >= pg->head->deadline) {
        /* libpq 15 cancels only by blocking (PQcancel): drop the
         * connection instead; the server ends the statement when it
         * notices. */
        cl__pg_down(pg, "a memory operation timed out", "no answer in time");
        return;
    }
    while (pg->head && !(pg->busy && pg->state == CL__PG_READY) && now >= pg->head->deadline) {
        struct cl__pg_op *op = pg->head;
        pg->head = op->next;
        if (!pg->head)
            pg->tail = NULL;
        pg->queued--;
        cl__pg_op_fail(op, CL_EIO);
        cl__pg_op_free(op);
        if (pg->closed)
            return;
    }
    cl__pg_arm(pg);
}

/* Points the deadline timer at the earliest deadline there is. */
static void cl__pg_arm(struct cl_memory_pg *pg)
{
    uint64_t now = uv_now(pg->loop), at = UINT64_MAX;

    if (pg->state == CL__PG_RESOLVING || pg->state == CL__PG_CONNECTING ||
        pg->state == CL__PG_SCHEMA)
        at = pg->connect_deadline;
    if (pg->head && pg->head->deadline < at)
        at = pg->head->deadline;
    if (at == UINT64_MAX) {
        uv_timer_stop(&pg->deadline);
        return;
    }
    uv_timer_start(&pg->deadline, cl__pg_on_deadline, at > now ? at - now : 0, 0);
}

/* Queues op (taking it), or fails it at once: CL_EIO while the server is
 * away, CL_ELIMIT when the queue is full. */
static void cl__pg_submit(struct cl_memory_pg *pg, struct cl__pg_op *op)
{
    int rc = pg->state == CL__PG_DOWN ? CL_EIO : pg->queued >= pg->queue_max ? CL_ELIMIT : 0;

    if (rc) {
        cl__pg_op_fail(op, rc);
        cl__pg_op_free(op);
        return;
    }
    op->deadline = uv_now(pg->loop) + pg->op_timeout_ms;
    if (pg->tail)
        pg->tail->next = op;
    else
        pg->head = op;
    pg->tail = op;
    pg->queued++;
    cl__pg_kick(pg);
}

static struct cl__pg_op *cl__pg_op_new(enum cl__pg_kind kind, void *ctx)
{
    struct cl__pg_op *op = calloc(1, sizeof *op);
    if (!op)
        abort();
    op->kind = kind;
    op->ctx = ctx;
    return op;
}

/* ---- the operations (memory.h) ------------------------------------------------- */

static void cl__pg_add(void *self, const char *text, const char *tags, int64_t source_thread_id,
                       cl_memory_done_fn fn, void *ctx)
{
    struct cl__pg_op *op;
    int rc;

    if ((rc = cl__pg_check(text, CL_CHAT_NOTE_MAX, true)) ||
        (rc = cl__pg_check(tags, CL_CHAT_TAGS_MAX, false)) ||
        (rc = source_thread_id < 0 ? CL_EINVAL : 0)) {
        fn(ctx, rc, 0);
        return;
    }
    op = cl__pg_op_new(CL__PG_ADD, ctx);
    op->fn.done = fn;
    op->params[0] = cl__pg_strdup(text);
    op->params[1] = cl__pg_strdup(tags);
    op->params[2] = cl__pg_i64(source_thread_id);
    op->nparams = 3;
    cl__pg_submit(self, op);
}

static void cl__pg_list(void *self, int64_t before_id, int limit, cl_memory_notes_fn fn, void *ctx)
{
    struct cl__pg_op *op = cl__pg_op_new(CL__PG_LIST, ctx);

    op->fn.notes = fn;
    op->limit = cl__pg_clamp(limit, CL_CHAT_PAGE_MAX);
    op->params[0] = cl__pg_i64(before_id > 0 ? before_id : 0);
    op->params[1] = cl__pg_i64(op->limit + 1); /* one more says has_more */
    op->nparams = 2;
    cl__pg_submit(self, op);
}

int cl_memory_pg_tsquery(const char *q, char *out, size_t cap)
{
    size_t o = 0, words = 0;
    const char *p = q;

    if (!q || strnlen(q, CL_CHAT_QUERY_MAX + 1) > CL_CHAT_QUERY_MAX)
        return q ? CL_ELIMIT : CL_EINVAL;
    while (*p) {
        while (*p == ' ' || (*p >= '\t' && *p <= '\r'))
            p++;
        if (!*p)
            break;
        /* " & " + "'" */
        if (o + (words ? 3 : 0) + 1 > cap)
            return CL_ELIMIT;
        if (words++) {
            memcpy(out + o, " & ", 3);
            o += 3;
        }
        out[o++] = '\'';
        for (; *p && !(*p == ' ' || (*p >= '\t' && *p <= '\r')); p++) {
            bool esc = *p == '\'' || *p == '\\';
            /* this byte (doubled or escaped) + "'" + ":*" + NUL */
            if (o + (esc ? 2 : 1) + 4 > cap)
                return CL_ELIMIT;
            if (*p == '\\')
                out[o++] = '\\';
            else if (*p == '\'')
                out[o++] = '\'';
            out[o++] = *p;
        }
        if (o + 4 > cap)
            return CL_ELIMIT;
        out[o++] = '\'';
    }
    if (!words)
        return CL_EINVAL;
    out[o++] = ':';
    out[o++] = '*';
    out[o] = 0;
    return 0;
}

/* ts_headline's options with the caller's markers as double-quoted values
 * ('"' doubled: its option parser's only escape). */
static char *cl__pg_headline_opts(const char *open, const char *close)
{
    char buf[256], *o = buf;
    const char *marks[2] = {open, close}, *names[2] = {"StartSel=\"", "\", StopSel=\""};

    for (int m = 0; m < 2; m++) {
        o += sprintf(o, "%s", names[m]);
        for (const char *s = marks[m]; *s; s++) {
            if (*s == '"')
                *o++ = '"';
            *o++ = *s;
        }
    }
    /* A few words each side of the match, as the built-in provider's
     * snippets; fragments joined by an ellipsis. */
    snprintf(o, sizeof buf - (size_t)(o - buf),
             "\", MaxWords=24, MinWords=8, MaxFragments=2, FragmentDelimiter=\" … \"");
    return cl__pg_strdup(buf);
}

static void cl__pg_search(void *self, const char *query, const char *open, const char *close,
                          int limit, cl_memory_hits_fn fn, void *ctx)
{
    char tq[CL_MEMORY_PG_TSQUERY_CAP];
    struct cl__pg_op *op;
    int rc;

    if (!open || !close || strnlen(open, CL__PG_MARK_MAX + 1) > CL__PG_MARK_MAX ||
        strnlen(close, CL__PG_MARK_MAX + 1) > CL__PG_MARK_MAX) {
        fn(ctx, CL_EINVAL, NULL, 0);
        return;
    }
    rc = cl_memory_pg_tsquery(query, tq, sizeof tq);
    if (rc) {
        fn(ctx, rc, NULL, 0);
        return;
    }
    op = cl__pg_op_new(CL__PG_SEARCH, ctx);
    op->fn.hits = fn;
    op->params[0] = cl__pg_strdup(tq);
    op->params[1] = cl__pg_headline_opts(open, close);
    op->params[2] = cl__pg_i64(cl__pg_clamp(limit, CL_CHAT_SEARCH_MAX));
    op->nparams = 3;
    cl__pg_submit(self, op);
}

static void cl__pg_remove(void *self, int64_t id, cl_memory_done_fn fn, void *ctx)
{
    struct cl__pg_op *op = cl__pg_op_new(CL__PG_REMOVE, ctx);

    op->fn.done = fn;
    op->params[0] = cl__pg_i64(id);
    op->nparams = 1;
    cl__pg_submit(self, op);
}

static void cl__pg_forget_thread(void *self, int64_t thread_id, cl_memory_done_fn fn, void *ctx)
{
    struct cl__pg_op *op = cl__pg_op_new(CL__PG_FORGET, ctx);

    op->fn.done = fn;
    op->params[0] = cl__pg_i64(thread_id);
    op->nparams = 1;
    cl__pg_submit(self, op);
}

/* ---- life --------------------------------------------------------------------------- */

static void cl__pg_handle_closed(uv_handle_t *h)
{
    struct cl_memory_pg *pg = h->data;

    if (--pg->open_handles == 0)
        free(pg);
}

static void cl__pg_close(void *self)
{
    struct cl_memory_pg *pg = self;

    if (!pg || pg->closed)
        return;
    pg->closed = true;
    cl__pg_drop(pg);
    if (pg->gai) {
        pg->gai->pg = NULL;
        uv_cancel((uv_req_t *)&pg->gai->req);
        pg->gai = NULL;
    }
    cl__pg_fail_all(pg, CL_EIO); /* closed: no callbacks run */
    cl_wipe(pg->url, strlen(pg->url));
    free(pg->url);
    pg->url = NULL;
    /* The provider may be closed from one of its own callbacks: the
     * memory goes when libuv has closed both timers, later in the loop. */
    uv_close((uv_handle_t *)&pg->deadline, cl__pg_handle_closed);
    uv_close((uv_handle_t *)&pg->retry, cl__pg_handle_closed);
}

static const struct cl_memory_ops cl__pg_ops = {
    .name = "postgres",
    .add = cl__pg_add,
    .list = cl__pg_list,
    .search = cl__pg_search,
    .remove = cl__pg_remove,
    .forget_thread = cl__pg_forget_thread,
    .close = cl__pg_close,
};

/* A value for a logfmt line: no quote, no line break, no space where the
 * value is unquoted; cut to cap. */
static void cl__pg_logsafe(const char *v, char *out, size_t cap)
{
    size_t i = 0;
    for (; v[i] && i + 1 < cap; i++)
        out[i] = v[i] == '"' ? '\'' : (v[i] == '\n' || v[i] == '\r' || v[i] == ' ') ? '_' : v[i];
    out[i] = 0;
}

/* libpq's parse of a connection string, or NULL (unparsable, or libpq
 * cannot be loaded). */
static PQconninfoOption *cl__pg_parse(const char *url)
{
    char err[64];
    if (!url || cl_pqlib_load(err, sizeof err) != 0)
        return NULL;
    return cl_pq.PQconninfoParse(url, NULL);
}

int cl_memory_pg_describe(const char *url, char *out, size_t cap)
{
    PQconninfoOption *opts = cl__pg_parse(url);
    const char *host = "", *hostaddr = "", *port = "", *db = "";

    if (!opts) {
        snprintf(out, cap, "server=unparsable");
        return CL_EINVAL;
    }
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        const char *v = o->val ? o->val : "";
        if (strcmp(o->keyword, "host") == 0)
            host = v;
        else if (strcmp(o->keyword, "hostaddr") == 0)
            hostaddr = v;
        else if (strcmp(o->keyword, "port") == 0)
            port = v;
        else if (strcmp(o->keyword, "dbname") == 0)
            db = v;
    }
    {
        char h[128], pt[16], d[128];
        cl__pg_logsafe(*host ? host : *hostaddr ? hostaddr : "(local socket)", h, sizeof h);
        cl__pg_logsafe(*port ? port : "5432", pt, sizeof pt);
        cl__pg_logsafe(*db ? db : "(user name)", d, sizeof d);
        snprintf(out, cap, "host=\"%s\" port=%s dbname=\"%s\"", h, pt, d);
    }
    cl__pg_conninfo_free(opts);
    return 0;
}

bool cl_memory_pg_url_has_password(const char *url)
{
    PQconninfoOption *opts;
    bool has = false;
    char err[64];

    if (url && *url && cl_pqlib_load(err, sizeof err) != 0)
        return true; /* cannot tell without libpq: assume it may hold one */
    opts = cl__pg_parse(url);

    for (PQconninfoOption *o = opts; o && o->keyword; o++)
        if (strcmp(o->keyword, "password") == 0 && o->val && *o->val)
            has = true;
    cl__pg_conninfo_free(opts);
    return has;
}

/* One host of a (comma-separated) list is off this machine. */
static bool cl__pg_hosts_remote(const char *list)
{
    while (list && *list) {
        size_t n = strcspn(list, ",");
        bool local = n == 0 || list[0] == '/' || list[0] == '@' ||
                     (n == 9 && strncasecmp(list, "localhost", 9) == 0) ||
                     (n > 4 && strncmp(list, "127.", 4) == 0) ||
                     (n == 3 && strncmp(list, "::1", 3) == 0);
        if (!local)
            return true;
        list += n + (list[n] == ',');
    }
    return false;
}

bool cl_memory_pg_url_remote(const char *url)
{
    PQconninfoOption *opts = cl__pg_parse(url);
    const char *host = NULL, *hostaddr = NULL;
    bool remote;

    for (PQconninfoOption *o = opts; o && o->keyword; o++) {
        if (strcmp(o->keyword, "host") == 0)
            host = o->val;
        else if (strcmp(o->keyword, "hostaddr") == 0)
            hostaddr = o->val;
    }
    remote = hostaddr && *hostaddr ? cl__pg_hosts_remote(hostaddr) : cl__pg_hosts_remote(host);
    cl__pg_conninfo_free(opts);
    return remote;
}

bool cl_memory_pg_url_tls_required(const char *url)
{
    PQconninfoOption *opts = cl__pg_parse(url);
    bool tls = false;

    for (PQconninfoOption *o = opts; o && o->keyword; o++)
        if (strcmp(o->keyword, "sslmode") == 0 && o->val)
            tls = strcmp(o->val, "require") == 0 || strcmp(o->val, "verify-ca") == 0 ||
                  strcmp(o->val, "verify-full") == 0;
    cl__pg_conninfo_free(opts);
    return tls;
}

int cl_memory_pg_new(uv_loop_t *loop, const struct cl_memory_pg_opts *opts, struct cl_memory *out,
                     char *err, size_t errlen)
{
    struct cl_memory_pg *pg;
    char where[300];

    if (!opts || !opts->url || !*opts->url)
        return cl_seterr(err, errlen, CL_EINVAL,
                         "no PostgreSQL connection string (memory_pg_url or $%s)",
                         CL_MEMORY_PG_URL_ENV);
    if (strnlen(opts->url, CL_MEMORY_PG_URL_MAX + 1) > CL_MEMORY_PG_URL_MAX)
        return cl_seterr(err, errlen, CL_EINVAL,
                         "the PostgreSQL connection string is longer than %d bytes",
                         CL_MEMORY_PG_URL_MAX);
    if (cl_pqlib_load(err, errlen) != 0)
        return CL_EIO;
    if (cl_memory_pg_describe(opts->url, where, sizeof where) != 0)
        return cl_seterr(err, errlen, CL_EINVAL,
                         "the PostgreSQL connection string cannot be parsed (a postgresql:// URL "
                         "or libpq's key=value words)");
    pg = calloc(1, sizeof *pg);
    if (!pg)
        return cl_seterr(err, errlen, CL_ENOMEM, "out of memory");
    pg->loop = loop;
    pg->url = cl__pg_strdup(opts->url);
    snprintf(pg->where, sizeof pg->where, "%s", where);
    pg->op_timeout_ms = opts->op_timeout_ms ? opts->op_timeout_ms : CL_MEMORY_PG_OP_TIMEOUT_MS;
    pg->connect_timeout_ms =
        opts->connect_timeout_ms ? opts->connect_timeout_ms : CL_MEMORY_PG_CONNECT_TIMEOUT_MS;
    pg->queue_max = CL_MEMORY_PG_QUEUE_MAX;
    cl_backoff_init(&pg->backoff,
                    opts->backoff_min_ms ? opts->backoff_min_ms : CL_MEMORY_PG_BACKOFF_MIN_MS,
                    opts->backoff_max_ms ? opts->backoff_max_ms : CL_MEMORY_PG_BACKOFF_MAX_MS);
    uv_timer_init(loop, &pg->deadline);
    uv_timer_init(loop, &pg->retry);
    pg->deadline.data = pg->retry.data = pg;
    pg->open_handles = 2;
    out->ops = &cl__pg_ops;
    out->self = pg;
    cl__pg_connect(pg);
    return 0;
}

/*
 * Tests for src/agent/memory_pg.c: the PostgreSQL memory provider against
 * a real PostgreSQL server this file starts once (initdb into a temporary
 * directory, postgres listening only on a unix socket there, stopped and
 * removed at the end), the provider running on a real libuv loop.
 *
 * The memory contract (memory_contract.h, shared with the other providers)
 * runs first; then what only a remote provider has: the server stopped
 * and started again, a statement that does not answer in time, a server
 * that never answers the connection, the queue's bound, a password that
 * never reaches the log.
 *
 * PostgreSQL's binaries are Debian's (/usr/lib/postgresql/<v>/bin, or
 * $CL_PG_BINDIR). Without them the test FAILS, saying to run
 * scripts/install-deps: it is part of the suite, not optional. As root
 * (CI containers) the server runs as the `postgres` user the package
 * creates, since PostgreSQL refuses to run as root.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "agent/memory_pg.h"
#include "memory_contract.h"
#include "pg_server.h"

/* ---- the server: pg_server.h ----------------------------------------------------------- */

static int group_setup(void **state)
{
    (void)state;
    return pg_server_start("test_agent_memory_pg");
}

static int group_teardown(void **state)
{
    (void)state;
    pg_cleanup();
    return 0;
}

/* A plain blocking connection for the test's own statements (the test is
 * not an event loop that serves anyone). */
static void pg_quiet(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

static PGconn *pg_direct(void)
{
    PGconn *c = PQconnectdb(srv.url);
    if (PQstatus(c) != CONNECTION_OK)
        fail_msg("cannot connect to the test server: %s", PQerrorMessage(c));
    PQsetNoticeProcessor(c, pg_quiet, NULL);
    return c;
}

static void pg_exec(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
}

/* ---- one provider per case ------------------------------------------------------ */

struct pgcase {
    struct mc_env env;
    uv_loop_t loop;
};

static int64_t pg_thread(struct mc_env *env, int k)
{
    (void)env;
    return 1000 + k; /* the provider keeps the number; threads live in the chat store */
}

static void drain(uv_loop_t *loop)
{
    for (int i = 0; i < 1000 && uv_run(loop, UV_RUN_NOWAIT) != 0; i++)
        ;
}

static int case_open(void **state, const struct cl_memory_pg_opts *o)
{
    struct pgcase *c = calloc(1, sizeof *c);
    char err[256];

    uv_loop_init(&c->loop);
    c->env.loop = &c->loop;
    c->env.thread = pg_thread;
    if (cl_memory_pg_new(&c->loop, o, &c->env.mem, err, sizeof err) != 0) {
        fprintf(stderr, "cl_memory_pg_new: %s\n", err);
        return -1;
    }
    *state = &c->env;
    return 0;
}

/* Each case starts from an empty database: the provider creates the
 * table again on connect. */
static int case_setup(void **state)
{
    if (!srv.running && pg_start() != 0)
        return -1;
    PGconn *c = pg_direct();
    pg_exec(c, "DROP TABLE IF EXISTS " CL_MEMORY_PG_TABLE);
    PQfinish(c);
    struct cl_memory_pg_opts o = {.url = srv.url, .backoff_min_ms = 50, .backoff_max_ms = 200};
    return case_open(state, &o);
}

static int case_teardown(void **state)
{
    struct pgcase *c = (struct pgcase *)*state;

    c->env.mem.ops->close(c->env.mem.self);
    drain(&c->loop);
    assert_int_equal(uv_loop_close(&c->loop), 0); /* every handle closed */
    free(c);
    return 0;
}

/* ---- what only the PostgreSQL provider has ------------------------------------- */

/* Runs the loop for ms, counting its iterations. */
static int run_for(uv_loop_t *loop, uint64_t ms)
{
    uv_timer_t t;
    bool done = false;
    int turns = 0;

    uv_timer_init(loop, &t);
    t.data = &done;
    uv_timer_start(&t, mc_on_guard, ms, 0);
    while (!done) {
        uv_run(loop, UV_RUN_ONCE);
        turns++;
    }
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    return turns;
}

/* The server stops: operations fail CL_EIO at once (no waiting for a
 * timeout), the loop does not spin while it is away, and when it is back
 * the provider reconnects by itself and the notes are all there. */
static void pg_server_restart(void **state)
{
    struct mc_env *env = *state;
    struct mc_res *r = calloc(1, sizeof *r);
    int rc = CL_EIO, turns;

    mc_add_ok(env, "written before the outage", "", 0);
    assert_int_equal(pg_stop(), 0);
    /* the first operation may be the one that finds out */
    rc = mc_add(env, "during the outage", "", 0, NULL);
    assert_int_equal(rc, CL_EIO);
    assert_int_equal(mc_add(env, "during the outage", "", 0, NULL), CL_EIO);
    assert_int_equal(mc_list(env, 0, 10, r), CL_EIO);
    assert_int_equal(mc_search(env, "outage", "[", "]", 10, r), CL_EIO);
    /* While the server is away the loop sleeps between attempts (50..200
     * ms here): a few dozen turns in a second, never thousands. */
    turns = run_for(env->loop, 1000);
    assert_true(turns < 200);

    assert_int_equal(pg_start(), 0);
    for (int i = 0; i < 100 && rc != 0; i++) {
        run_for(env->loop, 100);
        rc = mc_add(env, "after the outage", "", 0, NULL);
        assert_true(rc == 0 || rc == CL_EIO);
    }
    assert_int_equal(rc, 0);
    assert_int_equal(mc_list(env, 0, 10, r), 0);
    assert_int_equal(r->n, 2);
    assert_string_equal(r->texts[0], "after the outage");
    assert_string_equal(r->texts[1], "written before the outage");
    mc_res_clear(r);
    free(r);
}

static int case_setup_short_timeout(void **state)
{
    if (!srv.running && pg_start() != 0)
        return -1;
    PGconn *c = pg_direct();
    pg_exec(c, "DROP TABLE IF EXISTS " CL_MEMORY_PG_TABLE);
    PQfinish(c);
    struct cl_memory_pg_opts o = {
        .url = srv.url, .op_timeout_ms = 1500, .backoff_min_ms = 50, .backoff_max_ms = 200};
    return case_open(state, &o);
}

/* A statement that does not answer in time (the table locked by another
 * session) fails CL_EIO after the operation's timeout; the provider
 * reconnects and goes on. */
static void pg_operation_timeout(void **state)
{
    struct mc_env *env = *state;
    PGconn *c;
    int rc = CL_EIO;

    mc_add_ok(env, "before the lock", "", 0);
    c = pg_direct();
    pg_exec(c, "BEGIN");
    pg_exec(c, "LOCK TABLE " CL_MEMORY_PG_TABLE " IN ACCESS EXCLUSIVE MODE");
    assert_int_equal(mc_add(env, "waits for the lock", "", 0, NULL), CL_EIO);
    pg_exec(c, "ROLLBACK");
    for (int i = 0; i < 100 && rc != 0; i++) {
        run_for(env->loop, 50);
        rc = mc_add(env, "after the lock", "", 0, NULL);
    }
    assert_int_equal(rc, 0);
    PQfinish(c);
}

/* At most CL_MEMORY_PG_QUEUE_MAX operations wait or run; one more is
 * refused at once with CL_ELIMIT, and the others all complete. */
static void pg_queue_bound(void **state)
{
    struct mc_env *env = *state;
    struct mc_res *rs = calloc(CL_MEMORY_PG_QUEUE_MAX + 1, sizeof *rs);
    char text[32];

    for (int i = 0; i <= CL_MEMORY_PG_QUEUE_MAX; i++) {
        snprintf(text, sizeof text, "queued %d", i);
        env->mem.ops->add(env->mem.self, text, "", 0, mc_on_done, &rs[i]);
    }
    for (int i = 0; i < CL_MEMORY_PG_QUEUE_MAX; i++)
        assert_false(rs[i].done); /* nothing answered before the loop ran */
    assert_true(rs[CL_MEMORY_PG_QUEUE_MAX].done);
    assert_int_equal(rs[CL_MEMORY_PG_QUEUE_MAX].rc, CL_ELIMIT);
    for (int i = 0; i < CL_MEMORY_PG_QUEUE_MAX; i++) {
        mc_wait(env, &rs[i].done);
        assert_int_equal(rs[i].rc, 0);
        if (i)
            assert_true(rs[i].id > rs[i - 1].id); /* in order */
    }
    assert_int_equal(mc_count(env), CL_MEMORY_PG_QUEUE_MAX);
    free(rs);
}

/* A server that accepts the connection and never answers: the attempt
 * ends after the connect timeout and the waiting operation fails CL_EIO;
 * nothing blocks meanwhile (the loop keeps turning). */
static void pg_connect_timeout(void **state)
{
    char dir[] = "/tmp/cl-mempg-mute-XXXXXX", url[256];
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    struct pgcase *c;
    struct mc_res r = {0};
    int fd;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s/.s.PGSQL.5432", dir);
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(fd, 4), 0); /* never accepted, never answered */
    snprintf(url, sizeof url, "host=%s port=5432 user=postgres dbname=postgres", dir);
    struct cl_memory_pg_opts o = {.url = url, .connect_timeout_ms = 300, .backoff_min_ms = 5000};
    assert_int_equal(case_open(state, &o), 0);
    c = (struct pgcase *)*state;
    c->env.mem.ops->add(c->env.mem.self, "never written", "", 0, mc_on_done, &r);
    assert_false(r.done);
    mc_wait(&c->env, &r.done);
    assert_int_equal(r.rc, CL_EIO);
    /* down now: the next one fails at once */
    memset(&r, 0, sizeof r);
    c->env.mem.ops->add(c->env.mem.self, "never written", "", 0, mc_on_done, &r);
    assert_true(r.done);
    assert_int_equal(r.rc, CL_EIO);
    case_teardown(state);
    close(fd);
    unlink(sa.sun_path);
    rmdir(dir);
}

/* The connection string may hold a password: the log names host and
 * database only. */
static void pg_password_never_logged(void **state)
{
    char dir[] = "/tmp/cl-mempg-log-XXXXXX", logpath[64], url[256], buf[8192];
    struct mc_res r = {0};
    struct pgcase *c;
    int saved, fd;
    ssize_t n;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(logpath, sizeof logpath, "%s/stderr", dir);
    /* nobody listens there: the provider logs that it cannot connect */
    snprintf(url, sizeof url, "postgresql://alice:pw-s3cret-xyz@/notes?host=%s&port=5999", dir);
    fflush(stderr);
    saved = dup(2);
    fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(fd, 2);
    struct cl_memory_pg_opts o = {.url = url, .backoff_min_ms = 5000};
    assert_int_equal(case_open(state, &o), 0);
    c = (struct pgcase *)*state;
    c->env.mem.ops->add(c->env.mem.self, "x", "", 0, mc_on_done, &r);
    mc_wait(&c->env, &r.done);
    case_teardown(state);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    close(fd);
    assert_int_equal(r.rc, CL_EIO);
    fd = open(logpath, O_RDONLY);
    n = read(fd, buf, sizeof buf - 1);
    close(fd);
    assert_true(n > 0);
    buf[n] = 0;
    if (strstr(buf, "s3cret"))
        fail_msg("the password reached the log: %s", buf);
    assert_non_null(strstr(buf, "postgres unavailable"));
    assert_non_null(strstr(buf, "dbname=\"notes\""));
    unlink(logpath);
    rmdir(dir);
}

static void pg_describe_and_password(void **state)
{
    char out[256];
    (void)state;

    assert_int_equal(cl_memory_pg_describe("postgresql://alice:s3cret@db.example.com:6543/notes",
                                           out, sizeof out),
                     0);
    assert_null(strstr(out, "s3cret"));
    assert_null(strstr(out, "alice"));
    assert_non_null(strstr(out, "host=\"db.example.com\""));
    assert_non_null(strstr(out, "port=6543"));
    assert_non_null(strstr(out, "dbname=\"notes\""));
    assert_int_equal(cl_memory_pg_describe("host=/run/pg dbname=m password=x", out, sizeof out), 0);
    assert_null(strstr(out, "password"));
    assert_int_equal(cl_memory_pg_describe("postgresql://[", out, sizeof out), CL_EINVAL);
    assert_int_equal(cl_memory_pg_describe("nokey", out, sizeof out), CL_EINVAL);

    assert_true(cl_memory_pg_url_has_password("postgresql://alice:s3cret@h/db"));
    assert_true(cl_memory_pg_url_has_password("postgresql://alice@h/db?password=x"));
    assert_true(cl_memory_pg_url_has_password("host=h password=x"));
    assert_false(cl_memory_pg_url_has_password("postgresql://alice@h/db"));
    assert_false(cl_memory_pg_url_has_password("host=/run/pg dbname=m"));
    assert_false(cl_memory_pg_url_has_password("postgresql://["));
}

static void pg_new_refuses(void **state)
{
    struct cl_memory m;
    char err[256], *big = malloc(CL_MEMORY_PG_URL_MAX + 2);
    uv_loop_t loop;
    (void)state;

    uv_loop_init(&loop);
    struct cl_memory_pg_opts o = {0};
    assert_int_equal(cl_memory_pg_new(&loop, &o, &m, err, sizeof err), CL_EINVAL);
    assert_non_null(strstr(err, CL_MEMORY_PG_URL_ENV));
    memset(big, 'h', CL_MEMORY_PG_URL_MAX + 1);
    big[CL_MEMORY_PG_URL_MAX + 1] = 0;
    o.url = big;
    assert_int_equal(cl_memory_pg_new(&loop, &o, &m, err, sizeof err), CL_EINVAL);
    /* an unparsable string is refused without being echoed */
    o.url = "postgresql://bob:hunter2@[";
    assert_int_equal(cl_memory_pg_new(&loop, &o, &m, err, sizeof err), CL_EINVAL);
    assert_null(strstr(err, "hunter2"));
    free(big);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void pg_tsquery_quotes_every_word(void **state)
{
    char out[CL_MEMORY_PG_TSQUERY_CAP], q[CL_CHAT_QUERY_MAX + 2];
    (void)state;

    assert_int_equal(cl_memory_pg_tsquery("a & b | !c :*", out, sizeof out), 0);
    assert_string_equal(out, "'a' & '&' & 'b' & '|' & '!c' & ':*':*");
    assert_int_equal(cl_memory_pg_tsquery("  it's \t back\\slash ", out, sizeof out), 0);
    assert_string_equal(out, "'it''s' & 'back\\\\slash':*");
    assert_int_equal(cl_memory_pg_tsquery(" \t\n", out, sizeof out), CL_EINVAL);
    assert_int_equal(cl_memory_pg_tsquery(NULL, out, sizeof out), CL_EINVAL);
    assert_int_equal(cl_memory_pg_tsquery("word", out, 6), CL_ELIMIT);
    assert_int_equal(cl_memory_pg_tsquery("word", out, 9), 0);
    memset(q, 'q', CL_CHAT_QUERY_MAX + 1);
    q[CL_CHAT_QUERY_MAX + 1] = 0;
    assert_int_equal(cl_memory_pg_tsquery(q, out, sizeof out), CL_ELIMIT);
    /* the worst case fits the documented size: one-byte words to escape */
    for (int i = 0; i < CL_CHAT_QUERY_MAX; i++)
        q[i] = i % 2 ? ' ' : '\'';
    q[CL_CHAT_QUERY_MAX] = 0;
    assert_int_equal(cl_memory_pg_tsquery(q, out, sizeof out), 0);
}

/* A role that may only read and write the table (no CREATE: PostgreSQL
 * 15's default on the public schema) works once the owner made the table;
 * before that, the provider says it cannot create it and fails CL_EIO. */
static void pg_least_privilege_role(void **state)
{
    struct mc_env *env = *state;
    struct pgcase *c;
    PGconn *db = pg_direct();
    char url[600];
    int64_t id = 0;
    struct mc_res *r = calloc(1, sizeof *r);

    pg_exec(db, "DROP ROLE IF EXISTS cl_mem_user");
    pg_exec(db, "CREATE ROLE cl_mem_user LOGIN");
    snprintf(url, sizeof url, "postgresql:///postgres?host=%s&port=%d&user=cl_mem_user", srv.dir,
             srv.port);
    struct cl_memory_pg_opts o = {.url = url, .backoff_min_ms = 50, .backoff_max_ms = 200};

    /* no table yet, and no right to create it */
    assert_int_equal(case_open((void **)&env, &o), 0);
    assert_int_equal(mc_add(env, "refused", "", 0, NULL), CL_EIO);
    case_teardown((void **)&env);

    /* the owner makes it (the provider as postgres), then grants */
    env = *state;
    mc_add_ok(env, "made by the owner", "", 0);
    pg_exec(db, "GRANT SELECT, INSERT, UPDATE, DELETE ON " CL_MEMORY_PG_TABLE " TO cl_mem_user");
    assert_int_equal(case_open((void **)&env, &o), 0);
    c = (struct pgcase *)env;
    assert_int_equal(mc_add(&c->env, "by the plain role", "", 0, &id), 0);
    assert_int_equal(mc_list(&c->env, 0, 10, r), 0);
    assert_int_equal(r->n, 2);
    assert_int_equal(mc_search(&c->env, "plain role", "[", "]", 10, r), 0);
    assert_int_equal(r->n, 1);
    assert_int_equal(mc_remove(&c->env, id), 0);
    case_teardown((void **)&env);
    pg_exec(db, "DROP OWNED BY cl_mem_user");
    pg_exec(db, "DROP ROLE cl_mem_user");
    PQfinish(db);
    mc_res_clear(r);
    free(r);
}

/* A host name: resolved off the loop (uv_getaddrinfo), every address
 * handed to libpq to try ("localhost" may be ::1 first; the server
 * listens on 127.0.0.1 only). */
static void pg_resolves_host_name(void **state)
{
    struct mc_env *env;
    char url[256];
    struct mc_res *r = calloc(1, sizeof *r);

    case_teardown(state); /* the unix-socket provider of case_setup */
    snprintf(url, sizeof url, "postgresql://postgres@localhost:%d/postgres?sslmode=disable",
             srv.port);
    struct cl_memory_pg_opts o = {.url = url, .backoff_min_ms = 50, .backoff_max_ms = 200};
    assert_int_equal(case_open(state, &o), 0);
    env = *state;
    mc_add_ok(env, "over TCP to a name", "", 0);
    assert_int_equal(mc_search(env, "name", "[", "]", 10, r), 0);
    assert_int_equal(r->n, 1);
    mc_res_clear(r);
    free(r);
}

static void kill_provider_session(uv_timer_t *t)
{
    pg_exec(t->data, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                     " WHERE application_name = 'clawlink' AND pid <> pg_backend_pid()");
}

/* The server ends the session while a statement runs (an administrator's
 * pg_terminate_backend): that operation fails CL_EIO, not as a refused
 * statement, and the provider reconnects. */
static void pg_session_killed(void **state)
{
    struct mc_env *env = *state;
    PGconn *c;
    uv_timer_t t;
    int rc = CL_EIO;

    mc_add_ok(env, "before", "", 0);
    c = pg_direct();
    pg_exec(c, "BEGIN");
    pg_exec(c, "LOCK TABLE " CL_MEMORY_PG_TABLE " IN ACCESS EXCLUSIVE MODE");
    uv_timer_init(env->loop, &t);
    t.data = c;
    uv_timer_start(&t, kill_provider_session, 200, 0);
    assert_int_equal(mc_add(env, "while killed", "", 0, NULL), CL_EIO);
    uv_close((uv_handle_t *)&t, NULL);
    pg_exec(c, "ROLLBACK");
    for (int i = 0; i < 100 && rc != 0; i++) {
        run_for(env->loop, 50);
        rc = mc_add(env, "after", "", 0, NULL);
    }
    assert_int_equal(rc, 0);
    assert_int_equal(mc_count(env), 2);
    PQfinish(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pg_describe_and_password),
        cmocka_unit_test(pg_tsquery_quotes_every_word),
        cmocka_unit_test(pg_new_refuses),
        MC_CONTRACT_CASES(case_setup, case_teardown),
        cmocka_unit_test_setup_teardown(pg_queue_bound, case_setup, case_teardown),
        cmocka_unit_test_setup_teardown(pg_least_privilege_role, case_setup, case_teardown),
        cmocka_unit_test_setup_teardown(pg_resolves_host_name, case_setup, case_teardown),
        cmocka_unit_test_setup_teardown(pg_operation_timeout, case_setup_short_timeout,
                                        case_teardown),
        cmocka_unit_test_setup_teardown(pg_server_restart, case_setup, case_teardown),
        cmocka_unit_test_setup_teardown(pg_session_killed, case_setup, case_teardown),
        cmocka_unit_test(pg_connect_timeout),
        cmocka_unit_test(pg_password_never_logged),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

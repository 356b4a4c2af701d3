/*
 * Tests for what only the PostgreSQL store has (src/relay/store_pg*.c);
 * its ops are the contract suite's (test_store_contract.c): the numbered
 * migrations and schema_version, a schema newer than the binary refused,
 * a server that cannot be reached at open (said without the URL's
 * password), and a server restarted or stopped between two ops: the op
 * fails with CL_EUNAVAIL, nothing exits, and the next op reconnects (or,
 * after a failed dial, the first op once CL_STORE_PG_REDIAL_MS passed).
 *
 * The server is pg_server.h's, started once for the file (the test FAILS
 * without PostgreSQL's binaries: scripts/install-deps installs them).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <libpq-fe.h>

#include "core/err.h"
#include "core/log.h"
#include "core/secret.h"
#include "relay/store.h"
#include "relay/store_pg.h"
#include "pg_server.h"
#include "store_fixtures.h"

static int db_seq;

/* runs sql on the test server's database db, as its superuser */
static void pg_sql(const char *db, const char *sql)
{
    char url[sizeof srv.dir + 128];
    PGconn *c;
    PGresult *r;

    snprintf(url, sizeof url, "postgresql:///%s?host=%s&port=%d&user=postgres", db, srv.dir,
             srv.port);
    c = PQconnectdb(url);
    if (PQstatus(c) != CONNECTION_OK)
        fail_msg("cannot connect to the test server: %s", PQerrorMessage(c));
    r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
}

struct fx {
    char db[32];
    char url[sizeof srv.dir + 128];
    struct cl_store s;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    char sql[64], err[256] = "";

    assert_non_null(f);
    if (!srv.running && pg_start() != 0)
        return -1;
    snprintf(f->db, sizeof f->db, "store_pg_%d", ++db_seq);
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", f->db);
    pg_sql("postgres", sql);
    snprintf(f->url, sizeof f->url, "postgresql:///%s?host=%s&port=%d&user=postgres", f->db,
             srv.dir, srv.port);
    if (cl_store_open(&f->s, f->url, err, sizeof err) != 0)
        fail_msg("open failed: %s", err);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    if (f->s.ops)
        f->s.ops->close(&f->s);
    free(f);
    return 0;
}

static int group_setup(void **state)
{
    (void)state;
    return pg_server_start("test_store_pg");
}

static int group_teardown(void **state)
{
    (void)state;
    pg_cleanup();
    return 0;
}

/* A new database gets every migration; opening it again applies none and
 * keeps its rows. */
static void test_migrations(void **state)
{
    struct fx *f = *state;
    struct cl_store bare;
    struct cl_user u, got;
    char err[256];

    assert_true(cl_pg_migration_count >= 1);
    assert_int_equal(cl_store_open_pg(&bare, f->url, err, sizeof err), 0);
    assert_int_equal(cl_store_pg_schema_version(&bare), cl_pg_migration_count);
    new_user(&bare, "Keep@Example.com", &u);
    bare.ops->close(&bare);
    f->s.ops->close(&f->s);
    assert_int_equal(cl_store_open(&f->s, f->url, err, sizeof err), 0);
    assert_int_equal(f->s.ops->user_by_email(&f->s, "keep@example.com", &got), 0);
    assert_string_equal(got.id, u.id);
    /* the SQLite backend's version function refuses another backend's store */
    assert_int_equal(cl_store_sqlite_schema_version(&bare), CL_EINVAL);
}

/* A database migrated by a newer relay is refused at open, saying so. */
static void test_newer_schema_refused(void **state)
{
    struct fx *f = *state;
    char sql[96], err[256] = "";

    f->s.ops->close(&f->s);
    f->s.ops = NULL;
    snprintf(sql, sizeof sql, "UPDATE schema_version SET version = %d", cl_pg_migration_count + 1);
    pg_sql(f->db, sql);
    assert_int_equal(cl_store_open(&f->s, f->url, err, sizeof err), CL_EDB);
    assert_non_null(strstr(err, "newer than this relay"));
    assert_null(f->s.ops);
}

/* A server that does not answer: CL_EUNAVAIL with libpq's reason, never
 * the URL's password; a URL libpq cannot parse: CL_EINVAL, not echoed. */
static void test_unreachable_at_open(void **state)
{
    struct cl_store s;
    char url[128], err[512] = "";
    int port = free_port();

    (void)state;
    assert_true(port > 0);
    snprintf(url, sizeof url, "postgresql://clawlink:s3cretpw@127.0.0.1:%d/clawlink", port);
    assert_int_equal(cl_store_open(&s, url, err, sizeof err), CL_EUNAVAIL);
    assert_non_null(strstr(err, "cannot connect to PostgreSQL"));
    assert_null(strstr(err, "s3cretpw"));
    assert_null(s.ops);
    assert_int_equal(
        cl_store_open(&s, "postgresql://u:s3cretpw@h/db?nosuchparam=1", err, sizeof err),
        CL_EINVAL);
    assert_null(strstr(err, "s3cretpw"));
    assert_null(strstr(err, "nosuchparam"));
}

/* The server restarts between two ops: the first op after it fails with
 * CL_EUNAVAIL (its connection died), the next reconnects and works; a
 * stopped server fails every op (and ping) until it is back. Nothing
 * exits. */
static void test_reconnect(void **state)
{
    struct fx *f = *state;
    struct cl_user u, got, v;
    char err[256];

    new_user(&f->s, "before@example.com", &u);
    assert_int_equal(f->s.ops->ping(&f->s, err, sizeof err), 0);

    assert_int_equal(pg_stop(), 0);
    assert_int_equal(pg_start(), 0);
    assert_int_equal(f->s.ops->user_by_id(&f->s, u.id, &got), CL_EUNAVAIL);
    assert_int_equal(f->s.ops->user_by_id(&f->s, u.id, &got), 0);
    assert_string_equal(got.email, "before@example.com");

    /* an op in a transaction (user_create: user and profile) fails whole */
    assert_int_equal(pg_stop(), 0);
    assert_int_equal(pg_start(), 0);
    memset(&v, 0, sizeof v);
    cl_uuid_new(v.id);
    snprintf(v.email, sizeof v.email, "after@example.com");
    snprintf(v.pw_hash, sizeof v.pw_hash, "$argon2id$fake");
    v.created_at = 1;
    assert_int_equal(f->s.ops->user_create(&f->s, &v), CL_EUNAVAIL);
    assert_int_equal(f->s.ops->user_by_email(&f->s, "after@example.com", &got), CL_ENOTFOUND);
    assert_int_equal(f->s.ops->user_create(&f->s, &v), 0);

    /* stopped: every op fails, ping says why, until it is back */
    assert_int_equal(pg_stop(), 0);
    assert_int_equal(f->s.ops->user_by_id(&f->s, u.id, &got), CL_EUNAVAIL);
    assert_int_equal(f->s.ops->user_by_id(&f->s, u.id, &got), CL_EUNAVAIL);
    assert_int_equal(f->s.ops->ping(&f->s, err, sizeof err), CL_EDB);
    assert_non_null(strstr(err, "unreachable"));
    assert_int_equal(pg_start(), 0);
    /* a failed dial holds the next ones off for CL_STORE_PG_REDIAL_MS */
    for (int i = 0; i < 50 && f->s.ops->ping(&f->s, err, sizeof err) != 0; i++)
        usleep(100 * 1000);
    assert_int_equal(f->s.ops->ping(&f->s, err, sizeof err), 0);
    assert_int_equal(f->s.ops->user_by_id(&f->s, v.id, &got), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_migrations, setup, teardown),
        cmocka_unit_test_setup_teardown(test_newer_schema_refused, setup, teardown),
        cmocka_unit_test(test_unreachable_at_open),
        cmocka_unit_test_setup_teardown(test_reconnect, setup, teardown),
    };
    cl_log_set_level(CL_LOG_ERROR);
    if (cl_secret_init() != 0)
        return 1;
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

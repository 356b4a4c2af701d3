/*
 * Unit tests for src/core/sqlite.c: the migration runner (in order, once,
 * a newer file refused, a failing migration rolled back whole), file modes,
 * read-only opening, bind/column bounds, error mapping, transactions and
 * the statement set, against real SQLite files in a fresh temporary
 * directory per test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/err.h"
#include "core/log.h"
#include "core/secret.h"
#include "core/sqlite.h"

struct fx {
    char dir[64];
    char path[128];
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    cl_log_set_level(CL_LOG_ERROR);
    snprintf(f->dir, sizeof f->dir, "/tmp/cl-sqlite-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof f->path, "%s/t.db", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static int64_t scalar(sqlite3 *db, const char *sql)
{
    int64_t v = -1;
    assert_int_equal(cl_sqlite_scalar(db, sql, 0, &v), 0);
    return v;
}

static bool has_table(sqlite3 *db, const char *name)
{
    int64_t n = 0;
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM sqlite_master WHERE name = '%s'", name);
    assert_int_equal(cl_sqlite_scalar(db, sql, 0, &n), 0);
    return n == 1;
}

/* Order matters: 2 fills the table 1 made, 3 adds a column. */
static const char *const test_migrations[] = {
    "CREATE TABLE a (x INTEGER NOT NULL);",
    "INSERT INTO a (x) VALUES (1);",
    "ALTER TABLE a ADD COLUMN y TEXT;",
    "INSERT INTO a (x, y) VALUES (2, 'four');",
};

/* ---- migrations ---------------------------------------------------------- */

static void test_migrations_in_order_once(void **state)
{
    struct fx *f = *state;
    char err[256] = "";
    sqlite3 *db;
    int v = -1;

    assert_int_equal(cl_sqlite_open(f->path, &db, err, sizeof err), 0);
    assert_int_equal(cl_sqlite_user_version(db, &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(cl_sqlite_migrate(db, test_migrations, 3, "test", &v, err, sizeof err), 0);
    assert_int_equal(v, 3);
    assert_int_equal(scalar(db, "SELECT count(*) FROM a"), 1);
    /* current already: nothing runs again */
    assert_int_equal(cl_sqlite_migrate(db, test_migrations, 3, "test", &v, err, sizeof err), 0);
    assert_int_equal(v, 3);
    assert_int_equal(scalar(db, "SELECT count(*) FROM a"), 1);
    cl_sqlite_close(db);

    /* a longer list on reopen applies only what is new */
    assert_int_equal(cl_sqlite_open(f->path, &db, err, sizeof err), 0);
    assert_int_equal(cl_sqlite_migrate(db, test_migrations, 4, "test", &v, err, sizeof err), 0);
    assert_int_equal(v, 4);
    assert_int_equal(scalar(db, "SELECT count(*) FROM a"), 2);
    assert_int_equal(scalar(db, "SELECT count(*) FROM a WHERE y = 'four'"), 1);
    cl_sqlite_close(db);
}

static void test_newer_schema_refused(void **state)
{
    struct fx *f = *state;
    char err[256] = "";
    sqlite3 *db;
    int v = -1;

    assert_int_equal(cl_sqlite_open(f->path, &db, err, sizeof err), 0);
    assert_int_equal(cl_sqlite_migrate(db, test_migrations, 3, "test", &v, err, sizeof err), 0);
    v = -1;
    assert_int_equal(cl_sqlite_migrate(db, test_migrations, 2, "relay", &v, err, sizeof err),
                     CL_EDB);
    assert_string_equal(err, "database schema version 3 is newer than this relay knows (2)");
    assert_int_equal(v, -1);
    /* untouched, and no transaction left open */
    assert_int_equal(cl_sqlite_user_version(db, &v), 0);
    assert_int_equal(v, 3);
    assert_int_not_equal(sqlite3_get_autocommit(db), 0);
    cl_sqlite_close(db);
}

static void test_failing_migration_rolled_back(void **state)
{
    struct fx *f = *state;
    static const char *const bad[] = {
        "CREATE TABLE a (x INTEGER);",
        /* the first statement works, the second cannot: neither stays */
        "CREATE TABLE b (x INTEGER); INSERT INTO nosuch VALUES (1);",
    };
    char err[256] = "";
    sqlite3 *db;
    int v = -1;

    assert_int_equal(cl_sqlite_open(f->path, &db, err, sizeof err), 0);
    assert_int_equal(cl_sqlite_migrate(db, bad, 2, "test", &v, err, sizeof err), CL_EDB);
    assert_non_null(strstr(err, "applying migration 2: no such table: nosuch"));
    assert_int_not_equal(sqlite3_get_autocommit(db), 0);
    assert_int_equal(cl_sqlite_user_version(db, &v), 0);
    assert_int_equal(v, 1);
    assert_true(has_table(db, "a"));
    assert_false(has_table(db, "b"));
    cl_sqlite_close(db);
}

/* ---- opening ------------------------------------------------------------- */

static void test_open_modes_and_settings(void **state)
{
    struct fx *f = *state;
    char err[256] = "", side[160], link[160];
    struct stat sb;
    sqlite3 *db;
    mode_t old = umask(0); /* 0600 by the code, not by the umask */

    assert_int_equal(cl_sqlite_open(f->path, &db, err, sizeof err), 0);
    assert_int_equal(
        sqlite3_exec(db, "CREATE TABLE t (x); INSERT INTO t VALUES (1);", NULL, NULL, NULL),
        SQLITE_OK);
    umask(old);
    assert_int_equal(stat(f->path, &sb), 0);
    assert_int_equal(sb.st_mode & 07777, 0600);
    snprintf(side, sizeof side, "%s-wal", f->path);
    assert_int_equal(stat(side, &sb), 0);
    assert_int_equal(sb.st_mode & 07777, 0600);
    snprintf(side, sizeof side, "%s-shm", f->path);
    assert_int_equal(stat(side, &sb), 0);
    assert_int_equal(sb.st_mode & 07777, 0600);

    assert_int_equal(scalar(db, "PRAGMA foreign_keys"), 1);
    assert_int_equal(scalar(db, "PRAGMA busy_timeout"), CL_SQLITE_BUSY_TIMEOUT_MS);
    assert_int_equal(scalar(db, "PRAGMA synchronous"), 1); /* NORMAL */
    {
        sqlite3_stmt *st;
        assert_int_equal(cl_sqlite_prepare(db, "PRAGMA journal_mode", &st, "test"), 0);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
        sqlite3_finalize(st);
    }
    cl_sqlite_close(db);

    /* never through a symbolic link */
    snprintf(link, sizeof link, "%s/link.db", f->dir);
    assert_int_equal(symlink(f->path, link), 0);
    assert_int_equal(cl_sqlite_open(link, &db, err, sizeof err), CL_EDB);
    assert_null(db);
    assert_non_null(strstr(err, "cannot open"));
}

/* A second connection of this process to an open database must not drop
 * the first one's locks: if it did, another process would take itself for
 * the database's last user, checkpoint and delete the WAL on closing, and
 * the first connection's later writes would be seen by no one. (The
 * relay's store workers open the store again; opening and closing the
 * file to set its mode dropped the locks.) */
/* In another process (this binary again, exec'd: a forked child would
 * share this process's view of SQLite's locks): insert a row into t, count
 * the rows, close (as the last user it would checkpoint and delete the
 * WAL). Returns the count, or -1. */
static int child_main(const char *path)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    int v = -1;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK &&
        sqlite3_busy_timeout(db, 5000) == SQLITE_OK &&
        sqlite3_exec(db, "INSERT INTO t VALUES (100)", NULL, NULL, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, "SELECT count(*) FROM t", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
        v = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    printf("%d\n", v);
    return 0;
}

static int child_count(const char *path)
{
    char cmd[256], line[32] = "";
    FILE *p;
    snprintf(cmd, sizeof cmd, "/proc/%d/exe --child '%s'", (int)getpid(), path);
    p = popen(cmd, "r");
    assert_non_null(p);
    assert_non_null(fgets(line, sizeof line, p));
    assert_int_equal(pclose(p), 0);
    return atoi(line);
}

static void test_second_connection_keeps_locks(void **state)
{
    struct fx *f = *state;
    char err[256] = "";
    sqlite3 *a, *b;

    assert_int_equal(cl_sqlite_open(f->path, &a, err, sizeof err), 0);
    assert_int_equal(
        sqlite3_exec(a, "CREATE TABLE t (x); INSERT INTO t VALUES (1);", NULL, NULL, NULL),
        SQLITE_OK);
    assert_int_equal(cl_sqlite_open(f->path, &b, err, sizeof err), 0); /* a second one */
    assert_int_equal(child_count(f->path), 2);                         /* 1 and the child's 100 */
    assert_int_equal(sqlite3_exec(a, "INSERT INTO t VALUES (2)", NULL, NULL, NULL), SQLITE_OK);
    /* another process sees a's write (and a sees the child's) */
    assert_int_equal(child_count(f->path), 4);
    assert_int_equal(scalar(a, "SELECT count(*) FROM t"), 4);
    assert_int_equal(scalar(b, "SELECT count(*) FROM t"), 4);
    cl_sqlite_close(b);
    cl_sqlite_close(a);
}

static void test_readonly_refuses_writes(void **state)
{
    struct fx *f = *state;
    char err[256] = "", missing[160];
    sqlite3 *db;
    sqlite3_stmt *st;

    assert_int_equal(cl_sqlite_open(f->path, &db, err, sizeof err), 0);
    assert_int_equal(
        sqlite3_exec(db, "CREATE TABLE t (x); INSERT INTO t VALUES (1);", NULL, NULL, NULL),
        SQLITE_OK);
    cl_sqlite_close(db);

    assert_int_equal(cl_sqlite_open_readonly(f->path, 1000, &db, err, sizeof err), 0);
    assert_int_equal(scalar(db, "SELECT count(*) FROM t"), 1);
    assert_int_equal(cl_sqlite_prepare(db, "INSERT INTO t VALUES (2)", &st, "test"), 0);
    assert_int_equal(cl_sqlite_exec(st, SQLITE_OK, "test"), CL_EDB);
    assert_int_equal(sqlite3_extended_errcode(db) & 0xff, SQLITE_READONLY);
    sqlite3_finalize(st);
    assert_int_equal(scalar(db, "SELECT count(*) FROM t"), 1);
    cl_sqlite_close(db);

    /* never creates: a missing file is an error and stays missing */
    snprintf(missing, sizeof missing, "%s/missing.db", f->dir);
    assert_int_equal(cl_sqlite_open_readonly(missing, 1000, &db, err, sizeof err), CL_EDB);
    assert_null(db);
    assert_string_equal(err, "unable to open database file");
    assert_int_not_equal(access(missing, F_OK), 0);
}

/* ---- statements, binding, reading ---------------------------------------- */

enum { ST_INSERT, ST_GET, ST_CHILD, ST_TOUCH, ST__COUNT };

static const char *const test_sql[ST__COUNT] = {
    [ST_INSERT] = "INSERT INTO p (id, name, hash, n) VALUES (?1, ?2, ?3, ?4)",
    [ST_GET] = "SELECT name, hash, n FROM p WHERE id = ?1",
    [ST_CHILD] = "INSERT INTO c (p_id) VALUES (?1)",
    [ST_TOUCH] = "UPDATE p SET n = n + 1 WHERE id = ?1",
};

static sqlite3 *open_with_schema(struct fx *f)
{
    static const char *const schema[] = {
        "CREATE TABLE p (id TEXT PRIMARY KEY NOT NULL, name TEXT, hash BLOB, n INTEGER);"
        "CREATE TABLE c (p_id TEXT NOT NULL REFERENCES p(id));",
    };
    char err[256] = "";
    sqlite3 *db;
    int v;
    assert_int_equal(cl_sqlite_open(f->path, &db, err, sizeof err), 0);
    assert_int_equal(cl_sqlite_migrate(db, schema, 1, "test", &v, err, sizeof err), 0);
    return db;
}

static void test_bind_and_column_bounds(void **state)
{
    struct fx *f = *state;
    sqlite3 *db = open_with_schema(f);
    struct cl_sqlite_set set;
    sqlite3_stmt *st[ST__COUNT];
    uint8_t hash[CL_HASH_LEN];
    char err[256] = "", small[4], exact[6];
    int rc;

    memset(hash, 0xab, sizeof hash);
    assert_int_equal(cl_sqlite_set_prepare(&set, db, test_sql, st, ST__COUNT, err, sizeof err), 0);

    /* a text longer than its bound is refused, nothing written */
    assert_int_equal(cl_sqlite_bind_text_max(st[ST_INSERT], 2, "hello", 4), SQLITE_TOOBIG);
    rc = cl_sqlite_exec(st[ST_INSERT],
                        cl_sqlite_bind_str(st[ST_INSERT], 1, "k") |
                            cl_sqlite_bind_text_max(st[ST_INSERT], 2, "hello", 4),
                        "test");
    assert_int_equal(rc, CL_EDB);
    assert_int_equal(scalar(db, "SELECT count(*) FROM p"), 0);
    /* at the bound it fits */
    rc = cl_sqlite_exec(st[ST_INSERT],
                        cl_sqlite_bind_str(st[ST_INSERT], 1, "k") |
                            cl_sqlite_bind_text_max(st[ST_INSERT], 2, "hello", 5) |
                            cl_sqlite_bind_hash(st[ST_INSERT], 3, hash) |
                            cl_sqlite_bind_int64(st[ST_INSERT], 4, INT64_C(1) << 40),
                        "test");
    assert_int_equal(rc, 0);
    /* empty optional text is NULL; NULL hash is NULL */
    rc = cl_sqlite_exec(
        st[ST_INSERT],
        cl_sqlite_bind_str(st[ST_INSERT], 1, "e") | cl_sqlite_bind_opt(st[ST_INSERT], 2, "") |
            cl_sqlite_bind_hash(st[ST_INSERT], 3, NULL) | cl_sqlite_bind_int64(st[ST_INSERT], 4, 0),
        "test");
    assert_int_equal(rc, 0);
    assert_int_equal(scalar(db, "SELECT count(*) FROM p WHERE name IS NULL AND hash IS NULL"), 1);

    /* a column longer than the buffer is cut, NUL-terminated, and says so */
    assert_int_equal(cl_sqlite_step(st[ST_GET], cl_sqlite_bind_str(st[ST_GET], 1, "k"), "test"), 1);
    assert_false(cl_sqlite_col_str(st[ST_GET], 0, small, sizeof small));
    assert_string_equal(small, "hel");
    assert_true(cl_sqlite_col_str(st[ST_GET], 0, exact, sizeof exact));
    assert_string_equal(exact, "hello");
    assert_int_equal(sqlite3_column_bytes(st[ST_GET], 1), CL_HASH_LEN);
    assert_memory_equal(sqlite3_column_blob(st[ST_GET], 1), hash, CL_HASH_LEN);
    assert_int_equal(sqlite3_column_int64(st[ST_GET], 2), INT64_C(1) << 40);
    cl_sqlite_reset(st[ST_GET]);
    /* NULL reads as "" */
    assert_int_equal(cl_sqlite_step(st[ST_GET], cl_sqlite_bind_str(st[ST_GET], 1, "e"), "test"), 1);
    assert_true(cl_sqlite_col_str(st[ST_GET], 0, small, sizeof small));
    assert_string_equal(small, "");
    cl_sqlite_reset(st[ST_GET]);
    /* no row */
    assert_int_equal(cl_sqlite_step(st[ST_GET], cl_sqlite_bind_str(st[ST_GET], 1, "x"), "test"), 0);
    cl_sqlite_reset(st[ST_GET]);

    cl_sqlite_set_finalize(&set);
    cl_sqlite_close(db);
}

static void test_error_mapping_and_transactions(void **state)
{
    struct fx *f = *state;
    sqlite3 *db = open_with_schema(f);
    struct cl_sqlite_set set;
    sqlite3_stmt *st[ST__COUNT];
    char err[256] = "";

    assert_int_equal(cl_sqlite_set_prepare(&set, db, test_sql, st, ST__COUNT, err, sizeof err), 0);
    assert_int_equal(cl_sqlite_exec(st[ST_INSERT], cl_sqlite_bind_str(st[ST_INSERT], 1, "k"), "t"),
                     0);
    /* a second row with the same key: CL_EEXIST; a child of nothing:
     * CL_ENOTFOUND; an update that changes no row: CL_ENOTFOUND */
    assert_int_equal(cl_sqlite_exec(st[ST_INSERT], cl_sqlite_bind_str(st[ST_INSERT], 1, "k"), "t"),
                     CL_EEXIST);
    assert_int_equal(cl_sqlite_exec(st[ST_CHILD], cl_sqlite_bind_str(st[ST_CHILD], 1, "no"), "t"),
                     CL_ENOTFOUND);
    assert_int_equal(
        cl_sqlite_exec_one(st[ST_TOUCH], cl_sqlite_bind_str(st[ST_TOUCH], 1, "no"), "t"),
        CL_ENOTFOUND);
    assert_int_equal(
        cl_sqlite_exec_one(st[ST_TOUCH], cl_sqlite_bind_str(st[ST_TOUCH], 1, "k"), "t"), 0);

    /* rolled back: gone; committed: kept */
    assert_int_equal(cl_sqlite_begin(&set, "t"), 0);
    assert_int_equal(cl_sqlite_exec(st[ST_INSERT], cl_sqlite_bind_str(st[ST_INSERT], 1, "r"), "t"),
                     0);
    cl_sqlite_rollback(&set, "t");
    assert_int_not_equal(sqlite3_get_autocommit(db), 0);
    assert_int_equal(scalar(db, "SELECT count(*) FROM p WHERE id = 'r'"), 0);
    assert_int_equal(cl_sqlite_begin(&set, "t"), 0);
    assert_int_equal(cl_sqlite_exec(st[ST_INSERT], cl_sqlite_bind_str(st[ST_INSERT], 1, "c"), "t"),
                     0);
    assert_int_equal(cl_sqlite_commit(&set, "t"), 0);
    assert_int_equal(scalar(db, "SELECT count(*) FROM p WHERE id = 'c'"), 1);
    /* a rollback with none open is harmless */
    cl_sqlite_rollback(&set, "t");

    cl_sqlite_set_finalize(&set);
    cl_sqlite_close(db);
}

/* Finalize releases every statement of the set (sqlite3_close refuses a
 * connection with one left: SQLITE_BUSY); a bad SQL text fails the whole
 * set at prepare and leaves nothing prepared. */
static void test_set_finalize(void **state)
{
    struct fx *f = *state;
    sqlite3 *db = open_with_schema(f);
    struct cl_sqlite_set set;
    sqlite3_stmt *st[ST__COUNT];
    const char *bad[ST__COUNT];
    char err[256] = "";

    assert_int_equal(cl_sqlite_set_prepare(&set, db, test_sql, st, ST__COUNT, err, sizeof err), 0);
    for (int i = 0; i < ST__COUNT; i++)
        assert_non_null(st[i]);
    assert_non_null(sqlite3_next_stmt(db, NULL));
    cl_sqlite_set_finalize(&set);
    for (int i = 0; i < ST__COUNT; i++)
        assert_null(st[i]);
    assert_null(sqlite3_next_stmt(db, NULL));
    cl_sqlite_set_finalize(&set); /* twice is harmless */

    memcpy(bad, test_sql, sizeof bad);
    bad[ST_CHILD] = "INSERT INTO nosuch VALUES (1)";
    assert_int_equal(cl_sqlite_set_prepare(&set, db, bad, st, ST__COUNT, err, sizeof err), CL_EDB);
    assert_non_null(strstr(err, "preparing statement 2: no such table: nosuch"));
    for (int i = 0; i < ST__COUNT; i++)
        assert_null(st[i]);
    assert_null(sqlite3_next_stmt(db, NULL));
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--child") == 0)
        return child_main(argv[2]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_migrations_in_order_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_newer_schema_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_second_connection_keeps_locks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failing_migration_rolled_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_modes_and_settings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_readonly_refuses_writes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bind_and_column_bounds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_mapping_and_transactions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_set_finalize, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

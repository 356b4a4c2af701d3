/*
 * sqlite: opening, statement sets, step/bind/column wrappers, transactions
 * and the migration runner shared by clawlink's SQLite databases.
 *
 * Used by the relay's store (src/relay/store_sqlite.c and its migration
 * list, src/relay/migrations.c), the relay's audit and the agent's audit
 * (both read-only), and meant for the agent's chat store: one copy of the
 * code that maps SQLite's results to CL_E* codes, so every database behaves
 * alike. The contracts are in sqlite.h. Log lines use the "store"
 * component, as the relay's store always has.
 */
#include "core/sqlite.h"
#include "core/err.h"
#include "core/log.h"
#include "core/secret.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

enum { CL__TX_BEGIN, CL__TX_COMMIT, CL__TX_ROLLBACK };

static const char *const cl__tx_sql[] = {
    [CL__TX_BEGIN] = "BEGIN IMMEDIATE",
    [CL__TX_COMMIT] = "COMMIT",
    [CL__TX_ROLLBACK] = "ROLLBACK",
};

/* ---- opening ------------------------------------------------------------- */

/* Per-connection settings: WAL (readers never block the writer, and the
 * data path never waits on a fsync), NORMAL sync (safe in WAL: a power cut
 * can lose the last commits, never corrupt), foreign keys enforced, and
 * CL_SQLITE_BUSY_TIMEOUT_MS of waiting for another process's write lock
 * before SQLITE_BUSY. */
static int cl__sqlite_configure(sqlite3 *db, char *err, size_t errlen)
{
    sqlite3_stmt *st = NULL;
    const unsigned char *mode;
    int fk = 0;

    sqlite3_extended_result_codes(db, 1);
    /* sqlite3_busy_timeout is PRAGMA busy_timeout */
    if (sqlite3_busy_timeout(db, CL_SQLITE_BUSY_TIMEOUT_MS) != SQLITE_OK ||
        sqlite3_exec(db, "PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;", NULL, NULL,
                     NULL) != SQLITE_OK)
        return cl_seterr(err, errlen, CL_EDB, "configuring the connection: %s", sqlite3_errmsg(db));
    /* foreign_keys = ON is silently ignored by builds without them */
    if (sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_FKEY, -1, &fk) != SQLITE_OK || !fk)
        return cl_seterr(err, errlen, CL_EDB, "this SQLite does not enforce foreign keys");
    /* no writable_schema or similar tricks through this connection */
    sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);

    if (sqlite3_prepare_v2(db, "PRAGMA journal_mode = WAL", -1, &st, NULL) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW) {
        cl_seterr(err, errlen, CL_EDB, "setting WAL mode: %s", sqlite3_errmsg(db));
        sqlite3_finalize(st);
        return CL_EDB;
    }
    mode = sqlite3_column_text(st, 0);
    if (!mode || strcmp((const char *)mode, "wal") != 0)
        cl_warn("store", "WAL mode unavailable on this file system", "journal_mode=%s",
                mode ? (const char *)mode : "?");
    sqlite3_finalize(st);
    return 0;
}

int cl_sqlite_open(const char *path, sqlite3 **out, char *err, size_t errlen)
{
    sqlite3 *db = NULL;
    int fd, rc;

    *out = NULL;
    /* 0600 before SQLite sees it: SQLite gives -wal and -shm the mode of
     * the database file. Only a file this call creates is opened here:
     * closing a descriptor of a file drops every POSIX lock this process
     * holds on it, and with another connection of ours open on it (the
     * relay's store workers) another process would find the database
     * unlocked, take itself for its last user, checkpoint and delete the
     * WAL under us, and our writes would go to a file no one else reads
     * (sqlite.org/howtocorrupt.html, 2.2; tests/unit/test_core_sqlite.c). */
    fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd >= 0) {
        close(fd); /* new: no one holds a lock on it yet */
    } else if (errno == EEXIST) {
        struct stat sb;
        if (lstat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
            return cl_seterr(err, errlen, CL_EDB, "cannot open %s: %s", path,
                             lstat(path, &sb) != 0 ? strerror(errno)
                                                   : "not a regular file (a symbolic link?)");
    } else {
        return cl_seterr(err, errlen, CL_EDB, "cannot open %s: %s", path, strerror(errno));
    }

    rc = sqlite3_open_v2(path, &db,
                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        rc = cl_seterr(err, errlen, CL_EDB, "cannot open %s: %s", path,
                       db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        goto out_close_db;
    }
    rc = cl__sqlite_configure(db, err, errlen);
    if (rc)
        goto out_close_db;
    *out = db;
    return 0;

out_close_db:
    sqlite3_close(db); /* also after a failed open, which may leave a handle */
    return rc;
}

int cl_sqlite_open_readonly(const char *path, int busy_ms, sqlite3 **out, char *err, size_t errlen)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);

    *out = NULL;
    if (rc == SQLITE_OK)
        rc = sqlite3_busy_timeout(db, busy_ms);
    if (rc != SQLITE_OK) {
        cl_seterr(err, errlen, CL_EDB, "%s", db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        sqlite3_close(db);
        return CL_EDB;
    }
    sqlite3_extended_result_codes(db, 1);
    *out = db;
    return 0;
}

void cl_sqlite_close(sqlite3 *db)
{
    if (!db)
        return;
    /* gathers statistics for the planner where they changed; cheap (and
     * nothing to do for a read-only connection) */
    if (sqlite3_db_readonly(db, "main") == 0)
        sqlite3_exec(db, "PRAGMA optimize", NULL, NULL, NULL);
    if (sqlite3_close(db) != SQLITE_OK)
        cl_error("store", "closing the database failed", "err=\"%s\"", sqlite3_errmsg(db));
}

/* ---- statements ------------------------------------------------------------ */

int cl_sqlite_set_prepare(struct cl_sqlite_set *set, sqlite3 *db, const char *const *sql,
                          sqlite3_stmt **st, int count, char *err, size_t errlen)
{
    int i, rc = 0;

    memset(set, 0, sizeof *set);
    set->db = db;
    set->st = st;
    set->count = count;
    for (i = 0; i < count; i++)
        st[i] = NULL;
    for (i = 0; i < 3; i++) {
        if (sqlite3_prepare_v3(db, cl__tx_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &set->tx[i],
                               NULL) != SQLITE_OK) {
            rc = cl_seterr(err, errlen, CL_EDB, "preparing %s: %s", cl__tx_sql[i],
                           sqlite3_errmsg(db));
            goto out_finalize;
        }
    }
    for (i = 0; i < count; i++) {
        if (sqlite3_prepare_v3(db, sql[i], -1, SQLITE_PREPARE_PERSISTENT, &st[i], NULL) !=
            SQLITE_OK) {
            rc =
                cl_seterr(err, errlen, CL_EDB, "preparing statement %d: %s", i, sqlite3_errmsg(db));
            goto out_finalize;
        }
    }
    return 0;

out_finalize:
    cl_sqlite_set_finalize(set);
    return rc;
}

void cl_sqlite_set_finalize(struct cl_sqlite_set *set)
{
    for (int i = 0; i < set->count; i++) {
        sqlite3_finalize(set->st[i]);
        set->st[i] = NULL;
    }
    for (int i = 0; i < 3; i++) {
        sqlite3_finalize(set->tx[i]);
        set->tx[i] = NULL;
    }
}

int cl_sqlite_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **out, const char *op)
{
    if (sqlite3_prepare_v3(db, sql, -1, 0, out, NULL) != SQLITE_OK)
        return cl_sqlite_error(db, op);
    return 0;
}

int cl_sqlite_error(sqlite3 *db, const char *op)
{
    cl_error("store", "sqlite error", "op=%s code=%d err=\"%s\"", op, sqlite3_extended_errcode(db),
             sqlite3_errmsg(db));
    return CL_EDB;
}

void cl_sqlite_reset(sqlite3_stmt *st)
{
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

int cl_sqlite_step(sqlite3_stmt *st, int brc, const char *op)
{
    sqlite3 *db = sqlite3_db_handle(st);
    int rc;

    if (brc != SQLITE_OK) {
        /* a bind failed: the connection's own error is not about it */
        cl_error("store", "sqlite bind failed", "op=%s code=%d err=\"%s\"", op, brc,
                 sqlite3_errstr(brc));
        cl_sqlite_reset(st);
        return CL_EDB;
    }
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        return 1;
    if (rc == SQLITE_DONE)
        return 0;
    switch (sqlite3_extended_errcode(db)) {
    case SQLITE_CONSTRAINT_UNIQUE:
    case SQLITE_CONSTRAINT_PRIMARYKEY:
        rc = CL_EEXIST;
        break;
    case SQLITE_CONSTRAINT_FOREIGNKEY:
        rc = CL_ENOTFOUND;
        break;
    default:
        rc = cl_sqlite_error(db, op);
        break;
    }
    cl_sqlite_reset(st);
    return rc;
}

int cl_sqlite_exec(sqlite3_stmt *st, int brc, const char *op)
{
    int rc = cl_sqlite_step(st, brc, op);
    if (rc < 0)
        return rc;
    cl_sqlite_reset(st);
    return 0;
}

int cl_sqlite_exec_one(sqlite3_stmt *st, int brc, const char *op)
{
    int rc = cl_sqlite_exec(st, brc, op);
    if (rc)
        return rc;
    return sqlite3_changes(sqlite3_db_handle(st)) ? 0 : CL_ENOTFOUND;
}

int cl_sqlite_scalar(sqlite3 *db, const char *sql, int64_t p1, int64_t *out)
{
    sqlite3_stmt *st = NULL;
    int rc;

    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return CL_EDB;
    if (sqlite3_bind_parameter_count(st) >= 1)
        sqlite3_bind_int64(st, 1, p1);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *out = sqlite3_column_int64(st, 0);
        rc = 0;
    } else {
        rc = rc == SQLITE_DONE ? CL_ENOTFOUND : CL_EDB;
    }
    sqlite3_finalize(st);
    return rc;
}

/* ---- binding and reading ----------------------------------------------------- */

int cl_sqlite_bind_opt(sqlite3_stmt *st, int i, const char *s)
{
    if (!s || !s[0])
        return sqlite3_bind_null(st, i);
    return sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
}

int cl_sqlite_bind_str(sqlite3_stmt *st, int i, const char *s)
{
    if (!s)
        return sqlite3_bind_null(st, i);
    return sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
}

int cl_sqlite_bind_text_max(sqlite3_stmt *st, int i, const char *s, size_t max)
{
    size_t n;
    if (!s)
        return sqlite3_bind_null(st, i);
    n = strnlen(s, max + 1);
    if (n > max || n > INT32_MAX)
        return SQLITE_TOOBIG;
    return sqlite3_bind_text(st, i, s, (int)n, SQLITE_STATIC);
}

int cl_sqlite_bind_hash(sqlite3_stmt *st, int i, const uint8_t *h)
{
    if (!h)
        return sqlite3_bind_null(st, i);
    return sqlite3_bind_blob(st, i, h, CL_HASH_LEN, SQLITE_STATIC);
}

int cl_sqlite_bind_int64(sqlite3_stmt *st, int i, int64_t v)
{
    return sqlite3_bind_int64(st, i, v);
}

bool cl_sqlite_col_str(sqlite3_stmt *st, int col, char *dst, size_t cap)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    size_t n = t ? (size_t)sqlite3_column_bytes(st, col) : 0;
    bool fits = n <= cap - 1;
    if (!fits)
        n = cap - 1;
    if (n)
        memcpy(dst, t, n);
    dst[n] = 0;
    return fits;
}

/* ---- transactions -------------------------------------------------------- */

int cl_sqlite_begin(struct cl_sqlite_set *set, const char *op)
{
    return cl_sqlite_exec(set->tx[CL__TX_BEGIN], SQLITE_OK, op) ? CL_EDB : 0;
}

void cl_sqlite_rollback(struct cl_sqlite_set *set, const char *op)
{
    if (!sqlite3_get_autocommit(set->db))
        cl_sqlite_exec(set->tx[CL__TX_ROLLBACK], SQLITE_OK, op);
}

int cl_sqlite_commit(struct cl_sqlite_set *set, const char *op)
{
    if (cl_sqlite_exec(set->tx[CL__TX_COMMIT], SQLITE_OK, op) == 0)
        return 0;
    cl_sqlite_rollback(set, op);
    return CL_EDB;
}

/* ---- migrations ---------------------------------------------------------- */

int cl_sqlite_user_version(sqlite3 *db, int *out)
{
    int64_t v;
    if (cl_sqlite_scalar(db, "PRAGMA user_version", 0, &v) != 0) {
        cl_error("store", "reading the schema version failed", "err=\"%s\"", sqlite3_errmsg(db));
        return CL_EDB;
    }
    *out = (int)v;
    return 0;
}

/* Runs a fixed statement (no parameters) and reports failure in err. */
static int cl__sqlite_run(sqlite3 *db, const char *sql, const char *what, char *err, size_t errlen)
{
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK)
        return 0;
    return cl_seterr(err, errlen, CL_EDB, "%s: %s", what, sqlite3_errmsg(db));
}

/* Applies the migration after the current version, if any, in one write
 * transaction. Sets *done when the file was already current. */
static int cl__sqlite_migrate_step(sqlite3 *db, const char *const *list, int count,
                                   const char *what, int *version, bool *done, char *err,
                                   size_t errlen)
{
    char sql[64];
    int v, rc;

    /* IMMEDIATE: take the write lock before reading the version, so two
     * processes opening a fresh file cannot both apply migration 1. */
    rc = cl__sqlite_run(db, "BEGIN IMMEDIATE", "starting a migration", err, errlen);
    if (rc)
        return rc;
    rc = cl_sqlite_user_version(db, &v);
    if (rc) {
        cl_seterr(err, errlen, CL_EDB, "reading the schema version: %s", sqlite3_errmsg(db));
        goto out_rollback;
    }
    if (v > count) {
        rc = cl_seterr(err, errlen, CL_EDB,
                       "database schema version %d is newer than this %s knows (%d)", v, what,
                       count);
        goto out_rollback;
    }
    *done = v == count;
    if (!*done) {
        char step[48];
        snprintf(step, sizeof step, "applying migration %d", v + 1);
        rc = cl__sqlite_run(db, list[v], step, err, errlen);
        if (rc)
            goto out_rollback;
        /* PRAGMA takes no bound parameters; v + 1 is our own small integer. */
        snprintf(sql, sizeof sql, "PRAGMA user_version = %d", v + 1);
        rc = cl__sqlite_run(db, sql, "recording the schema version", err, errlen);
        if (rc)
            goto out_rollback;
        v++;
    }
    rc = cl__sqlite_run(db, "COMMIT", "committing a migration", err, errlen);
    if (rc)
        goto out_rollback;
    *version = v;
    return 0;

out_rollback:
    if (!sqlite3_get_autocommit(db))
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

int cl_sqlite_migrate(sqlite3 *db, const char *const *list, int count, const char *what,
                      int *version, char *err, size_t errlen)
{
    bool done = false;
    int from = -1, v = 0;

    while (!done) {
        int rc = cl__sqlite_migrate_step(db, list, count, what, &v, &done, err, errlen);
        if (rc) {
            /* err, not sqlite3_errmsg: the rollback has cleared that */
            cl_error("store", "schema migration failed", "version=%d err=\"%s\"", v,
                     err && err[0] ? err : sqlite3_errmsg(db));
            return rc;
        }
        if (from < 0)
            from = done ? v : v - 1;
    }
    if (v != from)
        cl_info("store", "schema migrated", "from=%d to=%d", from, v);
    *version = v;
    return 0;
}

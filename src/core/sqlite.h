/*
 * sqlite: the SQLite helpers every clawlink database uses.
 *
 * Users: the relay's store (src/relay/store_sqlite.c, its migration list in
 * src/relay/migrations.c), the relay's audit (src/relay/audit.c, read-only)
 * and the agent's audit (src/agent/audit.c, OpenClaw's database, read-only);
 * the agent's chat store (src/agent/chat_store.c, its migration list in
 * src/agent/chat_migrations.c). Nothing here knows a schema: callers bring
 * their SQL, their statement list and their migration list.
 *
 * Conventions (core/err.h): 0 or a negative CL_E* code; detail in
 * err/errlen where a caller shows it to a person; the step/exec wrappers
 * instead log once under the caller's operation name (SQLite's message
 * names tables and constraints, never bound values). A connection is used
 * from one thread only (opened SQLITE_OPEN_NOMUTEX).
 */
#ifndef CL_CORE_SQLITE_H
#define CL_CORE_SQLITE_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* How long a connection waits for another process's write lock before an
 * operation fails with SQLITE_BUSY (then CL_EDB, logged). */
#define CL_SQLITE_BUSY_TIMEOUT_MS 5000

/* ---- opening ------------------------------------------------------------- */

/* Opens (creating it if missing) the database file at path for reading and
 * writing. The file is created 0600 before SQLite opens it (never through a
 * symbolic link), so it and the -wal/-shm files SQLite derives from it are
 * the owner's alone; an existing file keeps its mode (the caller checks it).
 * The connection has extended result codes, a busy timeout of
 * CL_SQLITE_BUSY_TIMEOUT_MS, foreign keys enforced (refused if this SQLite
 * cannot), synchronous = NORMAL, the defensive flag, and WAL mode (a file
 * system without it gets a warning, not a refusal). On success *out is the
 * connection (close it with cl_sqlite_close); on failure *out is NULL and
 * the return is CL_EDB with a reason in err. */
int cl_sqlite_open(const char *path, sqlite3 **out, char *err, size_t errlen);

/* Opens an existing database read-only (never creates it, never writes,
 * safe beside a live writer), waiting up to busy_ms for locks. On failure
 * *out is NULL and the return is CL_EDB with SQLite's reason alone in err
 * (no path: the caller says which file). */
int cl_sqlite_open_readonly(const char *path, int busy_ms, sqlite3 **out, char *err, size_t errlen);

/* Closes db (NULL is a no-op), after PRAGMA optimize if it is writable;
 * logs a failure. Every statement must be finalized first. */
void cl_sqlite_close(sqlite3 *db);

/* ---- statements ------------------------------------------------------------ */

/* A set of statements prepared once (SQLITE_PREPARE_PERSISTENT) and
 * finalized together, plus the set's own BEGIN IMMEDIATE, COMMIT and
 * ROLLBACK. st is the caller's array of count entries, entry i prepared
 * from sql[i]; it must outlive the set. */
struct cl_sqlite_set {
    sqlite3 *db;
    sqlite3_stmt **st;
    int count;
    sqlite3_stmt *tx[3];
};

/* Prepares every statement of the list; a mistake in any SQL text fails
 * here, at start-up. Returns 0, or CL_EDB with the failing entry's index and
 * SQLite's message in err, and then nothing stays prepared. */
int cl_sqlite_set_prepare(struct cl_sqlite_set *set, sqlite3 *db, const char *const *sql,
                          sqlite3_stmt **st, int count, char *err, size_t errlen);

/* Finalizes every statement of the set and clears it (twice is harmless). */
void cl_sqlite_set_finalize(struct cl_sqlite_set *set);

/* Prepares one statement for a single use (finalize it with
 * sqlite3_finalize): for a query whose rows are handed to a callback that
 * may use the set's statements, even the same query, while it steps.
 * Returns 0, or CL_EDB logged under op. */
int cl_sqlite_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **out, const char *op);

/* Logs db's last error under op and returns CL_EDB. */
int cl_sqlite_error(sqlite3 *db, const char *op);

/* Resets st and clears its bindings, ready for the next use. */
void cl_sqlite_reset(sqlite3_stmt *st);

/* Steps st once. brc is the OR of the results of binding its parameters
 * (SQLITE_OK is 0), checked here so a caller binds without branching.
 * Returns 1 with a row to read, 0 when there is none, and in both cases the
 * caller resets st when done with the row. A negative code means st was
 * already reset: a uniqueness conflict is CL_EEXIST, a missing parent row
 * (foreign key) CL_ENOTFOUND, anything else (a failed bind included) is
 * logged under op and CL_EDB. */
int cl_sqlite_step(sqlite3_stmt *st, int brc, const char *op);

/* Runs a statement that returns no rows, and resets it. Returns 0 or the
 * code of cl_sqlite_step. */
int cl_sqlite_exec(sqlite3_stmt *st, int brc, const char *op);

/* cl_sqlite_exec for a write meant to change a row: "no row changed" is
 * CL_ENOTFOUND. */
int cl_sqlite_exec_one(sqlite3_stmt *st, int brc, const char *op);

/* Runs a one-off query and stores the first column of its first row in
 * *out; ?1, where the SQL has it, is bound to p1. Returns 0, CL_ENOTFOUND
 * if there is no row, or CL_EDB (not logged: a reader of someone else's
 * database decides what a failure means; sqlite3_errmsg(db) says why). */
int cl_sqlite_scalar(sqlite3 *db, const char *sql, int64_t p1, int64_t *out);

/* ---- binding and reading ----------------------------------------------------- */

/* Each returns SQLite's code, to be ORed into the brc of cl_sqlite_step.
 * Text and blobs are bound SQLITE_STATIC: they must stay unchanged until the
 * statement is reset. */

/* s as text, or NULL when s is NULL or empty (optional fields). */
int cl_sqlite_bind_opt(sqlite3_stmt *st, int i, const char *s);
/* s as text; NULL binds NULL, which matches nothing. */
int cl_sqlite_bind_str(sqlite3_stmt *st, int i, const char *s);
/* s as text if it is at most max bytes; a longer s is refused, not cut:
 * nothing is bound and the result is SQLITE_TOOBIG, so the step fails
 * (CL_EDB). Callers that owe a peer CL_EINVAL check the length first. */
int cl_sqlite_bind_text_max(sqlite3_stmt *st, int i, const char *s, size_t max);
/* A CL_HASH_LEN-byte hash as a blob; NULL binds NULL. */
int cl_sqlite_bind_hash(sqlite3_stmt *st, int i, const uint8_t *h);
int cl_sqlite_bind_int64(sqlite3_stmt *st, int i, int64_t v);

/* Copies text column col into dst (cap >= 1 bytes), NUL-terminated; NULL
 * becomes "". A longer value is cut to cap - 1 bytes (writers check
 * lengths, so nothing stored is cut here); returns false if it was. */
bool cl_sqlite_col_str(sqlite3_stmt *st, int col, char *dst, size_t cap);

/* ---- transactions -------------------------------------------------------- */

/* BEGIN IMMEDIATE: takes the write lock now, so a transaction that reads
 * then writes cannot fail half-way on another writer. 0 or CL_EDB. */
int cl_sqlite_begin(struct cl_sqlite_set *set, const char *op);
/* COMMIT; on failure rolls back and returns CL_EDB. */
int cl_sqlite_commit(struct cl_sqlite_set *set, const char *op);
/* Rolls back the open transaction, unless SQLite already did (it does on
 * some errors, e.g. SQLITE_FULL). */
void cl_sqlite_rollback(struct cl_sqlite_set *set, const char *op);

/* ---- migrations ---------------------------------------------------------- */

/* Reads PRAGMA user_version into *out. Returns 0 or CL_EDB (logged). */
int cl_sqlite_user_version(sqlite3 *db, int *out);

/* Brings db up to count migrations: migration N (1-based) is list[N - 1],
 * and the number of the last one applied is the file's user_version (a new
 * file is 0). One IMMEDIATE transaction per migration, which re-reads the
 * version under the write lock, so two processes opening the same new file
 * cannot both apply one; a failing migration is rolled back whole and the
 * version stays where it was. A file whose version is newer than count is
 * refused: CL_EDB with "database schema version V is newer than this
 * <what> knows (count)" in err. Stores the resulting version in *version.
 * Returns 0 or CL_EDB with a reason in err. */
int cl_sqlite_migrate(sqlite3 *db, const char *const *list, int count, const char *what,
                      int *version, char *err, size_t errlen);

#endif

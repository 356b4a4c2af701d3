/*
 * migrations: the numbered schema migrations of the SQLite store.
 *
 * Migration N (1-based) is cl_sqlite_migrations[N - 1]. The number of the
 * last applied migration lives in the database header (PRAGMA
 * user_version), so a fresh file is version 0. Migrations are append-only:
 * once one has shipped it is never edited, a change is a new migration.
 */
#ifndef CL_RELAY_MIGRATIONS_H
#define CL_RELAY_MIGRATIONS_H

#include <sqlite3.h>
#include <stddef.h>

extern const char *const cl_sqlite_migrations[];
extern const int cl_sqlite_migration_count;

/* Reads PRAGMA user_version into *out. Returns 0 or CL_EDB. */
int cl_sqlite_user_version(sqlite3 *db, int *out);

/* Brings db up to cl_sqlite_migration_count, one transaction per
 * migration, and stores the resulting version in *version. Safe against a
 * second process migrating the same file at the same time (each step takes
 * the write lock and re-reads the version). Refuses, with CL_EDB, a file
 * whose version is newer than this binary knows. Returns 0 or CL_EDB with
 * a reason in err. */
int cl_sqlite_migrate(sqlite3 *db, int *version, char *err, size_t errlen);

#endif

/*
 * migrations: the numbered schema migrations of the SQLite store.
 *
 * Migration N (1-based) is cl_sqlite_migrations[N - 1]. The number of the
 * last applied migration lives in the database header (PRAGMA
 * user_version), so a fresh file is version 0. Migrations are append-only:
 * once one has shipped it is never edited, a change is a new migration.
 * The store applies them with cl_sqlite_migrate (core/sqlite.h), which
 * refuses a file whose version is newer than cl_sqlite_migration_count.
 * (The names keep their cl_sqlite_ prefix from before the runner moved to
 * core: they are the relay's list.)
 */
#ifndef CL_RELAY_MIGRATIONS_H
#define CL_RELAY_MIGRATIONS_H

extern const char *const cl_sqlite_migrations[];
extern const int cl_sqlite_migration_count;

#endif

/*
 * store_pg: the relay's PostgreSQL store (store_pg.c; decisions 71), opened
 * by cl_store_open for a postgres:// or postgresql:// URL.
 */
#ifndef CL_RELAY_STORE_PG_H
#define CL_RELAY_STORE_PG_H

#include <stddef.h>

#include "relay/store.h"

/* Connects to the PostgreSQL server url names (libpq's URL or key=value
 * form; loaded with dlopen, core/pqlib.c) and applies pending numbered
 * migrations: the bare backend, without store_check.c's checks
 * (cl_store_open adds them). Returns 0; CL_EUNAVAIL when the server
 * cannot be reached; CL_EDB for a schema newer than this binary, a failed
 * migration or no libpq; a reason in err that never holds the URL. */
int cl_store_open_pg(struct cl_store *s, const char *url, char *err, size_t errlen);

/* The schema version after migrations (for logs and tests); < 0 on error. */
int cl_store_pg_schema_version(struct cl_store *s);

/* The numbered migrations (store_pg_migrations.c); the database records
 * how many it has had in schema_version. */
extern const char *const cl_pg_migrations[];
extern const int cl_pg_migration_count;

#endif

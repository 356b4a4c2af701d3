/*
 * memory_pg: the PostgreSQL memory provider (memory.h) — notes in a table
 * of a PostgreSQL database, found by its full-text search (tsvector, GIN,
 * ts_rank, ts_headline).
 *
 * It runs on the agent's libuv loop and never blocks it: one connection
 * made and used through libpq's asynchronous API (PQconnectStartParams /
 * PQconnectPoll, PQsendQueryParams, PQconsumeInput / PQisBusy /
 * PQgetResult), its socket watched by a uv_poll, a host name resolved with
 * uv_getaddrinfo (libpq would resolve it blocking). Operations wait in a
 * FIFO of at most CL_MEMORY_PG_QUEUE_MAX and run one at a time, each
 * within CL_MEMORY_PG_OP_TIMEOUT_MS. When the server goes away the
 * provider says so once in the log, fails operations with CL_EIO at once
 * and reconnects with backoff (CL_MEMORY_PG_BACKOFF_MIN_MS..MAX_MS); the
 * table and its index are created on every connect if missing.
 *
 * The connection string (a postgresql:// URL or libpq key=value words)
 * may hold a password: it is kept only inside the provider and libpq, and
 * the log names the server by host, port and database only.
 *
 * Errors the callbacks see: CL_EINVAL and CL_ELIMIT as the chat store
 * gives them (checked before anything is sent: nothing is written),
 * CL_ENOTFOUND (remove of a missing note), CL_ELIMIT (queue full),
 * CL_EIO (server unreachable, connection lost or ended by the server,
 * timeout), CL_EDB (the server refused the statement). Unlike the
 * built-in provider it cannot check that a source thread exists (threads
 * live in the chat store): the caller does.
 */
#ifndef CL_AGENT_MEMORY_PG_H
#define CL_AGENT_MEMORY_PG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "agent/memory.h"

/* Where the connection string comes from when the config has none. */
#define CL_MEMORY_PG_URL_ENV "CLAWLINK_MEMORY_PG_URL"

/* The table the notes live in (created on connect when missing). */
#define CL_MEMORY_PG_TABLE "clawlink_memory_notes"

struct cl_memory_pg_opts {
    const char *url; /* postgresql://… or "host=… dbname=…"; copied */
    /* 0: the CL_MEMORY_PG_* defaults. Tests make them short. */
    uint32_t op_timeout_ms;
    uint32_t connect_timeout_ms;
    uint32_t backoff_min_ms, backoff_max_ms;
};

/* Creates the provider on loop and starts connecting (nothing blocks:
 * operations issued before the connection is up wait in the queue).
 * Returns 0 with *out set, or CL_EINVAL (no URL, longer than
 * CL_MEMORY_PG_URL_MAX, or one libpq cannot parse: the reason in err,
 * never the URL itself). Freed by out->ops->close(out->self); the loop
 * must then run so its handles finish closing. */
int cl_memory_pg_new(uv_loop_t *loop, const struct cl_memory_pg_opts *opts, struct cl_memory *out,
                     char *err, size_t errlen);

/* Names the server of url for a log line or a message, without the
 * password or any other option: "host=db.example.com port=5432
 * dbname=notes" (libpq's defaults where url says nothing). Returns 0, or
 * CL_EINVAL when libpq cannot parse url (out then says "unparsable"). */
int cl_memory_pg_describe(const char *url, char *out, size_t cap);

/* True when url carries a password (in the URL or as password=…). */
bool cl_memory_pg_url_has_password(const char *url);

/* True when url names a server beyond this machine: a host (or hostaddr)
 * that is not a socket directory, localhost, 127.0.0.0/8 or ::1. The
 * notes then leave the machine. */
bool cl_memory_pg_url_remote(const char *url);

/* True when url insists on TLS (sslmode require, verify-ca or
 * verify-full); libpq's default (prefer) falls back to plain text. */
bool cl_memory_pg_url_tls_required(const char *url);

/* Turns what a person typed into a tsquery for to_tsquery: every
 * whitespace-separated word quoted ('…' with ' and \ escaped, so no
 * character is tsquery syntax), all of them required (&), the last one
 * also a prefix (:*) — the chat store's rule (cl_chat_fts_query). Words
 * without a letter or digit simply match nothing. Returns 0, CL_EINVAL
 * when q has no word, CL_ELIMIT when q is longer than CL_CHAT_QUERY_MAX
 * or out (cap bytes) is too small; CL_MEMORY_PG_TSQUERY_CAP is always
 * enough. */
#define CL_MEMORY_PG_TSQUERY_CAP (2 * CL_CHAT_QUERY_MAX + 5 * (CL_CHAT_QUERY_MAX / 2 + 1) + 3)
int cl_memory_pg_tsquery(const char *q, char *out, size_t cap);

#endif

/*
 * store_pool: store work off the event loop (decision 68).
 *
 * A few threads of their own, each with its own store opened from the
 * relay's --store URL (SQLite: its own connection and prepared statements
 * on the same WAL database; PostgreSQL: its own server connection), take
 * jobs from one bounded queue. A job's work runs on a worker with that
 * worker's store and must touch nothing of the loop's (connections, the
 * router, /events, rate limiters); its done runs on the loop thread
 * afterwards, in completion order. A slow or stalled database then holds
 * up the requests that need it, never the terminals the loop forwards.
 *
 * The threads are not libuv's pool: that one runs Argon2id and mail, and
 * a stalled database must not stall sign-ins there (or the reverse).
 * Bounded: at most CL_RELAY_STORE_QUEUE_MAX jobs wait; past it submit
 * refuses (the API answers 503 with Retry-After).
 */
#ifndef CL_RELAY_STORE_POOL_H
#define CL_RELAY_STORE_POOL_H

#include <stddef.h>
#include <uv.h>

#include "relay/store.h"

struct cl_store_pool;

/* Runs on a worker with that worker's store. */
typedef void (*cl_store_work_fn)(struct cl_store *s, void *arg);
/* Runs on the loop thread after work. */
typedef void (*cl_store_done_fn)(void *arg);

/* Opens n stores from url (each with the checks and the timing wrapper,
 * as the relay's own) and starts n workers. 0 and *out, or an error with
 * why in err. Loop thread. */
int cl_store_pool_open(uv_loop_t *loop, const char *url, unsigned n, struct cl_store_pool **out,
                       char *err, size_t errcap);

/* Queues a job. 0, or CL_ELIMIT when CL_RELAY_STORE_QUEUE_MAX jobs wait
 * (nothing runs; the caller answers "busy"), CL_ESTATE once closing. */
int cl_store_pool_submit(struct cl_store_pool *p, cl_store_work_fn work, cl_store_done_fn done,
                         void *arg);

struct cl_store_pool_stats {
    size_t workers, queued, running;
    uint64_t done, refused; /* jobs finished; refused for a full queue */
};
void cl_store_pool_stats(struct cl_store_pool *p, struct cl_store_pool_stats *out);

/* Runs every job already queued to its end (work and done), stops the
 * workers, closes their stores, frees p (NULL is fine). Loop thread; the
 * loop must run once more afterwards to close the wake handle. */
void cl_store_pool_close(struct cl_store_pool *p);

#endif

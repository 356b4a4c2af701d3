/*
 * pending: the requests the relay has sent to devices' agents and waits
 * on (OpenClaw node requests, chat requests), in one short list swept by
 * one timer while any is pending.
 *
 * The list owns no memory: a caller embeds struct cl_pending_req first in
 * its own request, links it with cl_pending_add and unlinks it with
 * cl_pending_remove before freeing it. What a deadline means (an error, a
 * keepalive, a cancel told to the agent) is the owner's: the sweep calls
 * its tick for every request, and the tick decides.
 *
 * Request ids are "<tag>-<16 random hex>-<n>": random per process so that
 * an answer to an earlier relay process never matches, numbered so that
 * none repeats within one.
 */
#ifndef CL_RELAY_PENDING_H
#define CL_RELAY_PENDING_H

#include "core/limits.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

/* How often the deadlines are looked at while anything is pending. */
#define CL_PENDING_SWEEP_MS 250

struct cl_pending_req {
    struct cl_pending_req *next;
    uint64_t handle; /* the caller's name for it: never 0 */
    char request_id[CL_ID_MAX + 1];
    char device_id[CL_ID_MAX + 1];
    uint64_t deadline; /* uv_now; the owner moves it as it likes */
};

/* Called by the sweep for each request (at most once per sweep); may
 * cl_pending_remove and free r, and nothing else in the list. */
typedef void (*cl_pending_tick_fn)(void *owner, struct cl_pending_req *r, uint64_t now);

struct cl_pending {
    uv_loop_t *loop;
    struct cl_pending_req *reqs;
    uint64_t next_handle;
    char tag[4];
    char prefix[17];
    cl_pending_tick_fn tick;
    void *owner;
    void (*closed)(void *owner);
    uv_timer_t timer;
};

/* Readies p (embedded in its owner) on loop; tag is at most 3 characters
 * ("rq", "ch"). */
void cl_pending_init(struct cl_pending *p, uv_loop_t *loop, const char *tag,
                     cl_pending_tick_fn tick, void *owner);

/* Closes the timer; closed(owner) runs from the loop once it is closed, and
 * is where the owner frees itself. The list must be empty by then (the
 * owner fails what is left first). */
void cl_pending_close(struct cl_pending *p, void (*closed)(void *owner));

/* Gives r a new handle and request id, device_id and a deadline timeout_ms
 * from now; not linked yet: the caller sends the request first, so that a
 * send that fails (and whatever it sets off) never finds it in the list. */
void cl_pending_prepare(struct cl_pending *p, struct cl_pending_req *r, const char *device_id,
                        uint64_t timeout_ms);

/* Links a prepared r and starts the sweep. */
void cl_pending_link(struct cl_pending *p, struct cl_pending_req *r);

/* Unlinks r (no-op when it is not linked); the sweep stops with the last. */
void cl_pending_remove(struct cl_pending *p, struct cl_pending_req *r);

/* The request of device_id with request_id, or NULL (an answer to nothing
 * pending: timed out, cancelled, or never asked). */
struct cl_pending_req *cl_pending_find(const struct cl_pending *p, const char *device_id,
                                       const char *request_id);

/* The request with handle h, or NULL. */
struct cl_pending_req *cl_pending_by_handle(const struct cl_pending *p, uint64_t h);

/* The first pending request of device_id, or NULL (to fail them all:
 * while one is returned, remove it). */
struct cl_pending_req *cl_pending_first_of(const struct cl_pending *p, const char *device_id);

/* How many requests of device_id are pending. */
size_t cl_pending_count(const struct cl_pending *p, const char *device_id);

/* Whether anything is pending. */
static inline bool cl_pending_any(const struct cl_pending *p)
{
    return p->reqs != NULL;
}

/* The first pending request (to fail them all at shutdown), or NULL. */
static inline struct cl_pending_req *cl_pending_first(const struct cl_pending *p)
{
    return p->reqs;
}

#endif

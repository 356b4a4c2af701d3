/*
 * pending: see pending.h. A plain list: a handful of requests per device
 * at most (CL_NODE_MAX_PENDING, CL_CHAT_RELAY_MAX_PENDING), looked up by
 * an answer's request id.
 */
#include "relay/pending.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

static void cl__sweep(uv_timer_t *t)
{
    struct cl_pending *p = t->data;
    uint64_t now = uv_now(p->loop);
    struct cl_pending_req *r, *next;
    for (r = p->reqs; r; r = next) {
        next = r->next; /* the tick may free r */
        p->tick(p->owner, r, now);
    }
    if (!p->reqs)
        uv_timer_stop(&p->timer); /* runs only while something waits */
}

void cl_pending_init(struct cl_pending *p, uv_loop_t *loop, const char *tag,
                     cl_pending_tick_fn tick, void *owner)
{
    uint8_t rnd[8];
    memset(p, 0, sizeof *p);
    p->loop = loop;
    snprintf(p->tag, sizeof p->tag, "%s", tag);
    randombytes_buf(rnd, sizeof rnd);
    sodium_bin2hex(p->prefix, sizeof p->prefix, rnd, sizeof rnd);
    p->tick = tick;
    p->owner = owner;
    uv_timer_init(loop, &p->timer);
    p->timer.data = p;
}

static void cl__closed(uv_handle_t *t)
{
    struct cl_pending *p = t->data;
    p->closed(p->owner); /* frees p with its owner */
}

void cl_pending_close(struct cl_pending *p, void (*closed)(void *owner))
{
    p->closed = closed;
    uv_timer_stop(&p->timer);
    uv_close((uv_handle_t *)&p->timer, cl__closed);
}

void cl_pending_prepare(struct cl_pending *p, struct cl_pending_req *r, const char *device_id,
                        uint64_t timeout_ms)
{
    r->handle = ++p->next_handle;
    snprintf(r->request_id, sizeof r->request_id, "%s-%s-%llu", p->tag, p->prefix,
             (unsigned long long)r->handle);
    snprintf(r->device_id, sizeof r->device_id, "%s", device_id);
    r->deadline = uv_now(p->loop) + timeout_ms;
    r->next = NULL;
}

void cl_pending_link(struct cl_pending *p, struct cl_pending_req *r)
{
    r->next = p->reqs;
    p->reqs = r;
    if (!uv_is_active((uv_handle_t *)&p->timer))
        uv_timer_start(&p->timer, cl__sweep, CL_PENDING_SWEEP_MS, CL_PENDING_SWEEP_MS);
}

void cl_pending_remove(struct cl_pending *p, struct cl_pending_req *r)
{
    for (struct cl_pending_req **q = &p->reqs; *q; q = &(*q)->next) {
        if (*q == r) {
            *q = r->next;
            r->next = NULL;
            break;
        }
    }
    if (!p->reqs)
        uv_timer_stop(&p->timer);
}

struct cl_pending_req *cl_pending_find(const struct cl_pending *p, const char *device_id,
                                       const char *request_id)
{
    for (struct cl_pending_req *r = p->reqs; r; r = r->next)
        if (strcmp(r->request_id, request_id) == 0 && strcmp(r->device_id, device_id) == 0)
            return r;
    return NULL;
}

struct cl_pending_req *cl_pending_by_handle(const struct cl_pending *p, uint64_t h)
{
    for (struct cl_pending_req *r = p->reqs; r; r = r->next)
        if (r->handle == h)
            return r;
    return NULL;
}

struct cl_pending_req *cl_pending_first_of(const struct cl_pending *p, const char *device_id)
{
    for (struct cl_pending_req *r = p->reqs; r; r = r->next)
        if (strcmp(r->device_id, device_id) == 0)
            return r;
    return NULL;
}

size_t cl_pending_count(const struct cl_pending *p, const char *device_id)
{
    size_t n = 0;
    for (const struct cl_pending_req *r = p->reqs; r; r = r->next)
        n += strcmp(r->device_id, device_id) == 0;
    return n;
}

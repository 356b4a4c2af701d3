/* backoff: doubling delays with bounded jitter. */
#include "core/backoff.h"

#include <sodium.h>

void cl_backoff_init(struct cl_backoff *b, uint32_t min_ms, uint32_t max_ms)
{
    b->min_ms = min_ms;
    b->max_ms = max_ms < min_ms ? min_ms : max_ms;
    b->cur_ms = 0;
}

uint32_t cl_backoff_next(struct cl_backoff *b)
{
    uint32_t base = b->cur_ms ? b->cur_ms : b->min_ms;
    uint32_t jitter = base / 5 ? randombytes_uniform(base / 5 + 1) : 0;
    uint64_t d = (uint64_t)base + jitter; /* base + 20% can pass UINT32_MAX */
    if (d > b->max_ms)
        d = b->max_ms;
    b->cur_ms = base >= b->max_ms / 2 ? b->max_ms : base * 2;
    return (uint32_t)d;
}

void cl_backoff_reset(struct cl_backoff *b)
{
    b->cur_ms = 0;
}

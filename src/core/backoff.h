/*
 * backoff: exponential reconnect delays with jitter.
 * 1 s, 2 s, 4 s, 8 s, 16 s, then 30 s, each plus up to 20% random jitter
 * (so a relay restart does not see every agent return in the same tick),
 * never above max. Reset after a connection proved healthy.
 */
#ifndef CL_BACKOFF_H
#define CL_BACKOFF_H

#include <stdint.h>

struct cl_backoff {
    uint32_t min_ms;
    uint32_t max_ms;
    uint32_t cur_ms; /* the base of the next delay; 0 = not started */
};

void cl_backoff_init(struct cl_backoff *b, uint32_t min_ms, uint32_t max_ms);
/* Returns the next delay in ms and advances. */
uint32_t cl_backoff_next(struct cl_backoff *b);
void cl_backoff_reset(struct cl_backoff *b);

#endif

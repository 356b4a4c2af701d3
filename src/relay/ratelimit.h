/*
 * ratelimit: fixed-window attempt counters keyed by a string (an address,
 * an account, or "*" for a global limit).
 *
 * Memory is bounded: at most CL_RATELIMIT_MAX_KEYS keys are tracked. When
 * the table is full, expired windows are purged; if it is still full the
 * limiter fails closed (the attempt is refused), so flooding it with
 * addresses cannot switch it off.
 */
#ifndef CL_RATELIMIT_H
#define CL_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

#define CL_RATELIMIT_MAX_KEYS 65536
#define CL_RATELIMIT_KEY_MAX  64

struct cl_ratelimit;

/* limit attempts per window_s seconds. */
struct cl_ratelimit *cl_ratelimit_new(unsigned limit, unsigned window_s);
void cl_ratelimit_free(struct cl_ratelimit *rl);

/* Counts one attempt for key at time now. Returns true if allowed; when
 * refused, *retry_after (if non-NULL) gets the seconds until the window
 * resets (at least 1). */
bool cl_ratelimit_hit(struct cl_ratelimit *rl, const char *key, int64_t now, unsigned *retry_after);

/* Attempts refused so far (for metrics: cl_metrics_limiter names it). */
uint64_t cl_ratelimit_refused(const struct cl_ratelimit *rl);

#endif

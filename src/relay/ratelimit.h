/*
 * ratelimit: fixed-window attempt counters keyed by a string (an address,
 * an account, or "*" for a global limit).
 *
 * Memory is bounded: at most CL_RATELIMIT_MAX_KEYS keys are tracked. When
 * the table is full, expired windows are purged; if it is still full the
 * limiter fails closed (the attempt is refused), so flooding it with
 * addresses cannot switch it off.
 *
 * Besides hit (check and count at once), a caller that counts only
 * failures asks over/count before the attempt and calls add after a
 * failure (the pairing limits, api_functions.c). Client addresses become
 * keys through cl_ratelimit_addr_key: an IPv6 address counts by its /64,
 * the block one subscriber usually holds whole.
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

/* Whether key has used up its limit in its current window, without
 * counting; when it has, *retry_after (if non-NULL) as for hit. */
bool cl_ratelimit_over(struct cl_ratelimit *rl, const char *key, int64_t now,
                       unsigned *retry_after);
/* The attempts counted for key in its current window (0: none). */
unsigned cl_ratelimit_count(struct cl_ratelimit *rl, const char *key, int64_t now);
/* Counts one attempt for key without checking the limit. false when the
 * table is full of live windows and it could not be recorded. */
bool cl_ratelimit_add(struct cl_ratelimit *rl, const char *key, int64_t now);

/* The limiter key of a client address as lws_get_peer_simple writes it:
 * IPv4 (and IPv4-mapped IPv6) as written, other IPv6 as its /64 prefix
 * ("2001:db8:1:2::/64"), anything unparsable as written (truncated). */
void cl_ratelimit_addr_key(const char *peer, char out[CL_RATELIMIT_KEY_MAX + 1]);
/* Attempts refused so far (for metrics: cl_metrics_limiter names it). */
uint64_t cl_ratelimit_refused(const struct cl_ratelimit *rl);

#endif

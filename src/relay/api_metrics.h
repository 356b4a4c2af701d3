/*
 * api_metrics: the /metrics route's set-up (api_metrics.c).
 */
#ifndef CL_RELAY_API_METRICS_H
#define CL_RELAY_API_METRICS_H

#include <stddef.h>

struct cl_relay;

/* Reads the scraper's bearer token from path (--metrics-token-file; one
 * line, CL_METRICS_TOKEN_MIN..CL_TOKEN_MAX bytes) and turns /metrics on.
 * Only its hash is kept. 0, or CL_EIO / CL_EINVAL with a reason in err. */
int cl_metrics_token_load(struct cl_relay *r, const char *path, char *err, size_t errlen);

/* Names the relay's rate limiters in the metrics registry (after they
 * are made). */
void cl_metrics_register_limiters(struct cl_relay *r);

#endif

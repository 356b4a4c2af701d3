/*
 * store_metrics: a wrapping table around a store's operations that times
 * each one into the metrics registry (store_metrics.c).
 */
#ifndef CL_RELAY_STORE_METRICS_H
#define CL_RELAY_STORE_METRICS_H

#include "relay/store.h"

/* Replaces s->ops with a timing copy of them (s->impl unchanged). The
 * copy is freed by s->ops->close. */
void cl_store_metrics_wrap(struct cl_store *s);

#endif

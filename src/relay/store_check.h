/*
 * store_check: a wrapping table around a store's operations that checks
 * their input once, in front of any backend (store_check.c).
 */
#ifndef CL_RELAY_STORE_CHECK_H
#define CL_RELAY_STORE_CHECK_H

#include "relay/store.h"

/* Replaces s->ops with a checking copy of them (s->impl unchanged). The
 * copy is freed by s->ops->close. cl_store_open calls it, on the bare
 * backend (s->ops == s->backend, else it aborts): other wrappers go on
 * top of it. */
void cl_store_check_wrap(struct cl_store *s);

#endif

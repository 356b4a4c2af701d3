/*
 * router_local: the router (router.h) of a relay alone, over the hub's
 * in-process lookups and its two halves. Every entry is an O(1) hash find
 * or a walk of one session's viewer list, as before the router existed.
 */
#ifndef CL_RELAY_ROUTER_LOCAL_H
#define CL_RELAY_ROUTER_LOCAL_H

#include "relay/router.h"

struct cl_hub;

/* Fills rt to route through hub h (which must outlive rt's use). */
void cl_router_local_init(struct cl_router *rt, struct cl_hub *h);

#endif

/*
 * health: GET /healthz and GET /readyz.
 *
 * /healthz says whether this relay works, and what is wrong when it does
 * not: the store (a cheap read, and the database file still the one the
 * relay opened) and file descriptors (open files against RLIMIT_NOFILE,
 * and admission.c's connection slots: all taken, or a connection refused
 * for want of them lately). 200 {"ok":true,...} or 503 {"ok":false,
 * "problems":[{"check","detail"}],...}. No secrets, no paths.
 *
 * /readyz is for load balancers: 200 {"ready":true} while the relay takes
 * new work; 503 {"ready":false,"reason"} while it starts, while it drains
 * before a shutdown (SIGTERM, --drain), or while the store fails.
 */
#ifndef CL_RELAY_HEALTH_H
#define CL_RELAY_HEALTH_H

#include "relay/http.h"

extern const struct cl_route cl_routes_health[];

#endif

/*
 * health: GET /healthz and GET /readyz.
 *
 * /healthz says whether this relay works, and what is wrong when it does
 * not: the store (a cheap read, and the database file still the one the
 * relay opened) and file descriptors (open files against RLIMIT_NOFILE,
 * and admission.c's connection slots: all taken, or a connection refused
 * for want of them lately), and in a cluster (--nats) the NATS
 * connection: "nats" is off, connecting, connected or reconnecting, and
 * anything but connected is a problem (the relay still serves what is
 * connected to it, and /readyz stays ready so that a load balancer keeps
 * sending it work). 200 {"ok":true,...} or 503 {"ok":false,
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

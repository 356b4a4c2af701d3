/*
 * admission: who may hold a connection to the relay, and how many.
 *
 * One client must not be able to take the relay's file descriptors from
 * everyone else (1,000 idle WebSockets once took a relay down under a
 * 1,024-file limit). So:
 * - every accepted connection counts against its address
 *   (CL_RELAY_CONN_PER_ADDR, --max-conns-per-addr) and against the whole
 *   relay (its file limit less CL_RELAY_FD_RESERVE): over either, the
 *   socket is closed at once, before lws reads a byte of it;
 * - a WebSocket that has not authenticated (hello / auth) counts against
 *   CL_RELAY_UNAUTH_WS_PER_ADDR of its address, and liveness.c closes it
 *   after CL_RELAY_AUTH_DEADLINE_S;
 * - refusals are logged once a second, summed, never once each;
 * - a connection from a trusted proxy (--trusted-proxy, proxy.h) counts
 *   against the relay only at accept; a WebSocket that came through one
 *   is counted against its client's address once its upgrade's headers
 *   name that client (cl_admission_client), with the same caps. Plain
 *   HTTP through a proxy is not capped per client here (the proxy reuses
 *   its connections for many clients): the rate limiters key on the
 *   client of each request, and the proxy limits its own clients.
 *
 * lws tells us of an accept (FILTER_NETWORK_CONNECTION: the address, no
 * wsi yet), then at once of the wsi it made for it (WSI_CREATE: no fd
 * yet), and finally of its end (WSI_DESTROY: fd gone): the first two are
 * paired by order, the last by the wsi pointer. All on the loop thread.
 */
#ifndef CL_RELAY_ADMISSION_H
#define CL_RELAY_ADMISSION_H

#include <libwebsockets.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

struct cl_admission;

struct cl_proxy_nets;

struct cl_admission *cl_admission_new(unsigned per_addr, size_t max_total,
                                      unsigned unauth_per_addr);
/* The trusted proxies (NULL: none); nets must outlive a. */
void cl_admission_set_proxies(struct cl_admission *a, const struct cl_proxy_nets *nets);
/* Every connection must have been destroyed. */
void cl_admission_free(struct cl_admission *a);

/* FILTER_NETWORK_CONNECTION: whether a connection from sa may be taken. */
bool cl_admission_accept(struct cl_admission *a, const struct sockaddr *sa, socklen_t len,
                         double now_s);
/* WSI_CREATE: wsi is the connection accepted last (ignored if none). */
void cl_admission_created(struct cl_admission *a, struct lws *wsi);
/* WSI_DESTROY: wsi is gone (ignored if it was never counted). */
void cl_admission_destroyed(struct cl_admission *a, struct lws *wsi);

/* ESTABLISHED, before cl_admission_ws_open: wsi came through a trusted
 * proxy for client (an address, proxy.h): it counts against client from
 * now on. False when client already holds per_addr connections (the
 * caller closes it; it still counts against the proxy until destroyed). */
bool cl_admission_client(struct cl_admission *a, struct lws *wsi, const char *client, double now_s);
/* ESTABLISHED: wsi became a WebSocket that must still authenticate.
 * False when its address already holds unauth_per_addr of those (the
 * caller closes it). */
bool cl_admission_ws_open(struct cl_admission *a, struct lws *wsi, double now_s);
/* The WebSocket authenticated: it no longer counts as unauthenticated. */
void cl_admission_ws_authed(struct cl_admission *a, struct lws *wsi);

/* Connections counted now (for stats and tests). */
size_t cl_admission_count(const struct cl_admission *a);

/* For GET /healthz: how full the relay is, and when (uv_now seconds, as
 * passed to cl_admission_accept) it last refused a connection because it
 * was full (its file limit less CL_RELAY_FD_RESERVE); -1 if never. */
struct cl_admission_stats {
    size_t total, max_total;
    double full_refused_at;
};
void cl_admission_stats(const struct cl_admission *a, struct cl_admission_stats *out);

#endif

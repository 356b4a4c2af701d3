/*
 * proxy: the client's address of a connection that came through a load
 * balancer the operator trusts (--trusted-proxy).
 *
 * Behind a proxy every client has the proxy's address: the per-address
 * connection caps (admission.h) and the per-address rate limits (sign-in,
 * pairing) would then count the whole world as one client, and one
 * stranger's failures would lock everyone out. A relay told which
 * addresses are its proxies takes the client's address from the
 * X-Forwarded-For header they add (HAProxy's `option forwardfor`, nginx's
 * proxy_add_x_forwarded_for): the rightmost address in it that is not a
 * trusted proxy itself (a client can write anything on the left; only
 * what trusted hops appended counts). A header that is missing, or whose
 * deciding entry is not an address, leaves the proxy's own address.
 * From any other peer the header is ignored.
 *
 * Pure functions over text and sockaddrs, plus one lws helper; no state.
 */
#ifndef CL_RELAY_PROXY_H
#define CL_RELAY_PROXY_H

#include <libwebsockets.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/limits.h"

/* The trusted proxies: addresses or CIDR networks, IPv4 and IPv6. */
struct cl_proxy_nets {
    int n;
    struct {
        int family; /* AF_INET or AF_INET6 */
        uint8_t addr[16];
        unsigned bits;
    } net[CL_RELAY_TRUSTED_PROXIES_MAX];
};

/* Parses --trusted-proxy's comma-separated list (ADDR or ADDR/BITS) into
 * *out. 0, or CL_EINVAL with why in err. */
int cl_proxy_nets_parse(const char *spec, struct cl_proxy_nets *out, char *err, size_t errcap);

/* Whether addr (text, as lws_get_peer_simple gives it; an IPv4-mapped
 * IPv6 address counts as its IPv4 address) is in one of nets. False for
 * anything that is not an address, and when nets is NULL. */
bool cl_proxy_trusted(const struct cl_proxy_nets *nets, const char *addr);

/* The client's address of a request whose TCP peer is peer and whose
 * X-Forwarded-For header is xff (NULL: none), into out (cap bytes): peer
 * unless it is trusted; else the rightmost entry of xff not trusted, or
 * peer when there is none or it is not an address. */
void cl_proxy_client(const struct cl_proxy_nets *nets, const char *peer, const char *xff, char *out,
                     size_t cap);

/* cl_proxy_client for an lws connection (its peer and headers, readable
 * while the request's or the upgrade's headers are). */
void cl_proxy_peer(const struct cl_proxy_nets *nets, struct lws *wsi, char *out, size_t cap);

#endif

/* admission: per-address and relay-wide caps on connections. */
#include "relay/admission.h"
#include "core/log.h"
#include "relay/metrics.h"
#include "relay/proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>

/* One client address and what it holds. */
struct cl__addr {
    char key[INET6_ADDRSTRLEN];
    unsigned conns;  /* accepted and not destroyed */
    unsigned unauth; /* WebSockets not yet authenticated */
    UT_hash_handle hh;
};

/* One counted connection. */
struct cl__conn {
    struct lws *wsi;
    struct cl__addr *addr;
    bool unauth;
    UT_hash_handle hh;
};

struct cl_admission {
    const struct cl_proxy_nets *proxies; /* --trusted-proxy; NULL: none */
    unsigned per_addr, unauth_per_addr;
    size_t max_total, total;
    struct cl__addr *addrs;
    struct cl__conn *conns;    /* by wsi */
    struct cl__addr *accepted; /* the last accept, waiting for its WSI_CREATE */
    /* refusals since the last log line, logged at most once a second */
    double logged_at;
    unsigned refused_addr, refused_full, refused_unauth;
    double full_refused_at; /* the last refusal because the relay was full; -1 never */
};

struct cl_admission *cl_admission_new(unsigned per_addr, size_t max_total, unsigned unauth_per_addr)
{
    struct cl_admission *a = calloc(1, sizeof *a);
    if (!a)
        abort();
    a->per_addr = per_addr;
    a->max_total = max_total;
    a->unauth_per_addr = unauth_per_addr;
    a->logged_at = -1;
    a->full_refused_at = -1;
    return a;
}

void cl_admission_set_proxies(struct cl_admission *a, const struct cl_proxy_nets *nets)
{
    a->proxies = nets;
}

static void cl__admission_drop_addr(struct cl_admission *a, struct cl__addr *e)
{
    if (e->conns == 0 && e != a->accepted) {
        HASH_DEL(a->addrs, e);
        free(e);
    }
}

void cl_admission_free(struct cl_admission *a)
{
    struct cl__conn *c, *ct;
    struct cl__addr *e, *et;
    if (!a)
        return;
    HASH_ITER(hh, a->conns, c, ct)
    {
        HASH_DEL(a->conns, c);
        free(c);
    }
    HASH_ITER(hh, a->addrs, e, et)
    {
        HASH_DEL(a->addrs, e);
        free(e);
    }
    free(a);
}

/* Logs the refusals counted so far, at most once a second. */
static void cl__admission_log(struct cl_admission *a, const char *key, double now_s)
{
    if (a->logged_at >= 0 && now_s - a->logged_at < 1.0)
        return;
    cl_warn("admission", "connections refused",
            "last_peer=%s over_per_addr=%u relay_full=%u over_unauth=%u per_addr=%u "
            "unauth_per_addr=%u max_total=%zu",
            key, a->refused_addr, a->refused_full, a->refused_unauth, a->per_addr,
            a->unauth_per_addr, a->max_total);
    a->logged_at = now_s;
    a->refused_addr = a->refused_full = a->refused_unauth = 0;
}

/* The entry for key, made if needed. */
static struct cl__addr *cl__admission_addr(struct cl_admission *a, const char *key)
{
    struct cl__addr *e;
    HASH_FIND_STR(a->addrs, key, e);
    if (!e) {
        e = calloc(1, sizeof *e);
        if (!e)
            abort();
        snprintf(e->key, sizeof e->key, "%s", key);
        HASH_ADD_STR(a->addrs, key, e);
    }
    return e;
}

bool cl_admission_accept(struct cl_admission *a, const struct sockaddr *sa, socklen_t len,
                         double now_s)
{
    char key[INET6_ADDRSTRLEN] = "?";
    struct cl__addr *e;

    if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in))
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, key, sizeof key);
    else if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6))
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, key, sizeof key);
    if (a->accepted) {
        /* an accept whose wsi never came: lws failed to adopt it */
        struct cl__addr *lost = a->accepted;
        a->accepted = NULL;
        cl__admission_drop_addr(a, lost);
    }
    if (a->total >= a->max_total) {
        a->refused_full++;
        a->full_refused_at = now_s;
        cl_metrics.rejected[CL_REJECT_RELAY_FULL]++;
        cl__admission_log(a, key, now_s);
        return false;
    }
    HASH_FIND_STR(a->addrs, key, e);
    if (e && e->conns >= a->per_addr && !cl_proxy_trusted(a->proxies, key)) {
        a->refused_addr++;
        cl_metrics.rejected[CL_REJECT_PER_ADDR]++;
        cl__admission_log(a, key, now_s);
        return false;
    }
    a->accepted = e ? e : cl__admission_addr(a, key);
    return true;
}

void cl_admission_created(struct cl_admission *a, struct lws *wsi)
{
    struct cl__conn *c;
    if (!a->accepted)
        return; /* not an accepted connection (the listening socket) */
    c = calloc(1, sizeof *c);
    if (!c)
        abort();
    c->wsi = wsi;
    c->addr = a->accepted;
    a->accepted = NULL;
    c->addr->conns++;
    a->total++;
    HASH_ADD_PTR(a->conns, wsi, c);
}

void cl_admission_destroyed(struct cl_admission *a, struct lws *wsi)
{
    struct cl__conn *c;
    HASH_FIND_PTR(a->conns, &wsi, c);
    if (!c)
        return;
    HASH_DEL(a->conns, c);
    if (c->unauth)
        c->addr->unauth--;
    c->addr->conns--;
    a->total--;
    cl__admission_drop_addr(a, c->addr);
    free(c);
}

bool cl_admission_client(struct cl_admission *a, struct lws *wsi, const char *client, double now_s)
{
    struct cl__conn *c;
    struct cl__addr *e, *old;

    HASH_FIND_PTR(a->conns, &wsi, c);
    if (!c || strcmp(c->addr->key, client) == 0)
        return true;
    e = cl__admission_addr(a, client);
    if (e->conns >= a->per_addr) {
        a->refused_addr++;
        cl_metrics.rejected[CL_REJECT_PER_ADDR]++;
        cl__admission_log(a, client, now_s);
        cl__admission_drop_addr(a, e);
        return false;
    }
    old = c->addr;
    if (c->unauth) {
        old->unauth--;
        e->unauth++;
    }
    old->conns--;
    e->conns++;
    c->addr = e;
    cl__admission_drop_addr(a, old);
    return true;
}

bool cl_admission_ws_open(struct cl_admission *a, struct lws *wsi, double now_s)
{
    struct cl__conn *c;
    HASH_FIND_PTR(a->conns, &wsi, c);
    if (!c)
        return true;
    if (c->addr->unauth >= a->unauth_per_addr) {
        a->refused_unauth++;
        cl_metrics.rejected[CL_REJECT_UNAUTH_PER_ADDR]++;
        cl__admission_log(a, c->addr->key, now_s);
        return false;
    }
    c->unauth = true;
    c->addr->unauth++;
    return true;
}

void cl_admission_ws_authed(struct cl_admission *a, struct lws *wsi)
{
    struct cl__conn *c;
    HASH_FIND_PTR(a->conns, &wsi, c);
    if (!c || !c->unauth)
        return;
    c->unauth = false;
    c->addr->unauth--;
}

size_t cl_admission_count(const struct cl_admission *a)
{
    return a->total;
}

void cl_admission_stats(const struct cl_admission *a, struct cl_admission_stats *out)
{
    out->total = a ? a->total : 0;
    out->max_total = a ? a->max_total : 0;
    out->full_refused_at = a ? a->full_refused_at : -1;
}

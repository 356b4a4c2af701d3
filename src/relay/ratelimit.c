/* ratelimit: fixed windows in a uthash table with a hard size bound. */
#include "relay/ratelimit.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>

struct cl__rl_entry {
    char key[CL_RATELIMIT_KEY_MAX + 1];
    int64_t window_start;
    unsigned count;
    UT_hash_handle hh;
};

struct cl_ratelimit {
    unsigned limit;
    unsigned window_s;
    unsigned n;
    uint64_t refused; /* attempts refused so far (metrics.h) */
    struct cl__rl_entry *table;
};

struct cl_ratelimit *cl_ratelimit_new(unsigned limit, unsigned window_s)
{
    struct cl_ratelimit *rl = calloc(1, sizeof *rl);
    if (!rl)
        abort();
    rl->limit = limit;
    rl->window_s = window_s ? window_s : 1;
    return rl;
}

void cl_ratelimit_free(struct cl_ratelimit *rl)
{
    struct cl__rl_entry *e, *tmp;
    if (!rl)
        return;
    HASH_ITER(hh, rl->table, e, tmp)
    {
        HASH_DEL(rl->table, e);
        free(e);
    }
    free(rl);
}

static void cl__rl_purge(struct cl_ratelimit *rl, int64_t now)
{
    struct cl__rl_entry *e, *tmp;
    HASH_ITER(hh, rl->table, e, tmp)
    {
        if (now - e->window_start >= rl->window_s) {
            HASH_DEL(rl->table, e);
            free(e);
            rl->n--;
        }
    }
}

/* The entry of key with its window brought up to now, created when
 * create; NULL when absent (or the table is full). */
static struct cl__rl_entry *cl__rl_entry(struct cl_ratelimit *rl, const char *key, int64_t now,
                                         bool create)
{
    struct cl__rl_entry *e;
    char k[CL_RATELIMIT_KEY_MAX + 1];
    size_t len = strlen(key);

    if (len > CL_RATELIMIT_KEY_MAX)
        len = CL_RATELIMIT_KEY_MAX;
    memcpy(k, key, len);
    k[len] = 0;
    HASH_FIND_STR(rl->table, k, e);
    if (!e) {
        if (!create)
            return NULL;
        if (rl->n >= CL_RATELIMIT_MAX_KEYS)
            cl__rl_purge(rl, now);
        if (rl->n >= CL_RATELIMIT_MAX_KEYS)
            return NULL;
        e = calloc(1, sizeof *e);
        if (!e)
            abort();
        memcpy(e->key, k, len + 1);
        e->window_start = now;
        HASH_ADD_STR(rl->table, key, e);
        rl->n++;
    }
    if (now - e->window_start >= rl->window_s) {
        e->window_start = now;
        e->count = 0;
    }
    return e;
}

static void cl__rl_retry(const struct cl_ratelimit *rl, const struct cl__rl_entry *e, int64_t now,
                         unsigned *retry_after)
{
    int64_t left = e ? rl->window_s - (now - e->window_start) : rl->window_s;
    if (retry_after)
        *retry_after = left > 0 ? (unsigned)left : 1;
}

bool cl_ratelimit_hit(struct cl_ratelimit *rl, const char *key, int64_t now, unsigned *retry_after)
{
    struct cl__rl_entry *e = cl__rl_entry(rl, key, now, true);
    if (!e || e->count >= rl->limit) {
        cl__rl_retry(rl, e, now, retry_after);
        rl->refused++;
        return false;
    }
    e->count++;
    return true;
}

bool cl_ratelimit_over(struct cl_ratelimit *rl, const char *key, int64_t now, unsigned *retry_after)
{
    struct cl__rl_entry *e = cl__rl_entry(rl, key, now, false);
    if (!e || e->count < rl->limit)
        return false;
    cl__rl_retry(rl, e, now, retry_after);
    rl->refused++;
    return true;
}

unsigned cl_ratelimit_count(struct cl_ratelimit *rl, const char *key, int64_t now)
{
    struct cl__rl_entry *e = cl__rl_entry(rl, key, now, false);
    return e ? e->count : 0;
}

bool cl_ratelimit_add(struct cl_ratelimit *rl, const char *key, int64_t now)
{
    struct cl__rl_entry *e = cl__rl_entry(rl, key, now, true);
    if (!e)
        return false;
    if (e->count < UINT32_MAX)
        e->count++;
    return true;
}

void cl_ratelimit_addr_key(const char *peer, char out[CL_RATELIMIT_KEY_MAX + 1])
{
    struct in6_addr a;
    char text[INET6_ADDRSTRLEN];

    if (strchr(peer, ':') && inet_pton(AF_INET6, peer, &a) == 1 && !IN6_IS_ADDR_V4MAPPED(&a) &&
        !IN6_IS_ADDR_LOOPBACK(&a)) {
        memset(a.s6_addr + 8, 0, 8);
        if (inet_ntop(AF_INET6, &a, text, sizeof text)) {
            snprintf(out, CL_RATELIMIT_KEY_MAX + 1, "%s/64", text);
            return;
        }
    }
    snprintf(out, CL_RATELIMIT_KEY_MAX + 1, "%s", peer);
}

uint64_t cl_ratelimit_refused(const struct cl_ratelimit *rl)
{
    return rl->refused;
}

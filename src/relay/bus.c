/* bus: the relay's NATS connection, its messages brought to the loop
 * (bus.h). */
#include "relay/bus.h"
#include "core/err.h"
#include "core/log.h"

#include <nats/nats.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How long cl_bus_close waits for libnats's threads to let go of the
 * subscriptions and the connection before it gives the memory up for
 * lost (a leak at exit rather than a use after free). */
#define CL__BUS_CLOSE_WAIT_NS (5ull * 1000 * 1000 * 1000)

/* One delivered message, waiting for the loop: subject, reply and data
 * follow the struct. */
struct cl__bus_item {
    struct cl__bus_item *next;
    struct cl_bus_sub *sub;
    size_t size; /* what it counts against CL_RELAY_BUS_QUEUE_MAX */
    size_t len;
    const char *reply; /* into text, or NULL */
    char text[];       /* subject NUL [reply NUL] data */
};

struct cl_bus_sub {
    struct cl_bus *bus;
    natsSubscription *ns;
    cl_bus_msg_fn fn;
    void *ctx;
    struct cl_bus_sub *prev, *next; /* the bus's list, under its lock */
    /* References, under the bus's lock: the holder's (until
     * cl_bus_unsubscribe), libnats's (until its on-complete callback:
     * no message callback can run after it), one per queued message. */
    int refs;
    bool dead; /* set under the lock; read by the loop without it */
};

struct cl_bus {
    uv_loop_t *loop;
    uv_async_t wake;
    natsOptions *opts;
    natsConnection *nc;
    cl_bus_state_fn on_state;
    void *ctx;
    struct cl_bus_urls urls;

    uv_mutex_t lock; /* what libnats's threads touch */
    uv_cond_t released;
    struct cl__bus_item *head, *tail;
    size_t queued;
    struct cl_bus_sub *subs;
    size_t nsubs;
    int nats_refs;    /* subscriptions libnats still holds */
    bool nats_closed; /* its closed callback ran */
    bool closing;
    int state;      /* as the threads last set it */
    uint64_t epoch; /* connections made (each reconnect adds one) */
    char server[CL_RELAY_BUS_URL_MAX];
    uint64_t dropped;

    /* the loop's own */
    int state_told;
    uint64_t epoch_told;
    uint64_t state_since; /* uv_hrtime of the last change told */
    char server_told[CL_RELAY_BUS_URL_MAX];
    struct cl_bus_stats st;
};

/* ---- the servers' URLs ---- */

static bool cl__bus_host_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-' || c == '_';
}

/* One URL, u[0..n): nats://[USERINFO@]HOST[:PORT]. Fills url and where. */
static int cl__bus_url_parse(const char *u, size_t n, char *url, char *where, char *err,
                             size_t errcap, int idx)
{
    static const char scheme[] = "nats://";
    const size_t sl = sizeof scheme - 1;
    const char *p, *end = u + n, *at = NULL, *host, *host_end, *port = NULL;
    unsigned long portn = 4222;

    if (n >= CL_RELAY_BUS_URL_MAX) {
        snprintf(err, errcap, "server %d is longer than %d bytes", idx, CL_RELAY_BUS_URL_MAX - 1);
        return CL_EINVAL;
    }
    if (n < sl || strncmp(u, scheme, sl) != 0) {
        snprintf(err, errcap, "server %d is not nats://HOST[:PORT]", idx);
        return CL_EINVAL;
    }
    for (p = u + sl; p < end; p++) {
        if ((unsigned char)*p <= ' ' || *p == 0x7f || *p == '/' || *p == '?' || *p == '#') {
            snprintf(err, errcap, "server %d has a character a server address cannot hold", idx);
            return CL_EINVAL;
        }
        if (*p == '@')
            at = p;
    }
    host = at ? at + 1 : u + sl;
    if (host < end && *host == '[') { /* [IPv6] */
        for (host_end = host + 1; host_end < end && *host_end != ']'; host_end++)
            if (!((*host_end >= '0' && *host_end <= '9') ||
                  (*host_end >= 'a' && *host_end <= 'f') ||
                  (*host_end >= 'A' && *host_end <= 'F') || *host_end == ':' || *host_end == '.'))
                break;
        if (host_end >= end || *host_end != ']' || host_end == host + 1) {
            snprintf(err, errcap, "server %d has a bad [IPv6] address", idx);
            return CL_EINVAL;
        }
        host_end++;
    } else {
        for (host_end = host; host_end < end && cl__bus_host_char(*host_end); host_end++)
            ;
        if (host_end == host) {
            snprintf(err, errcap, "server %d has no host", idx);
            return CL_EINVAL;
        }
    }
    if (host_end < end) {
        if (*host_end != ':' || host_end + 1 == end) {
            snprintf(err, errcap, "server %d is not nats://HOST[:PORT]", idx);
            return CL_EINVAL;
        }
        port = host_end + 1;
        portn = 0;
        for (p = port; p < end; p++) {
            if (*p < '0' || *p > '9' || portn > 65535) {
                snprintf(err, errcap, "server %d has a bad port", idx);
                return CL_EINVAL;
            }
            portn = portn * 10 + (unsigned long)(*p - '0');
        }
        if (portn == 0 || portn > 65535) {
            snprintf(err, errcap, "server %d has a bad port", idx);
            return CL_EINVAL;
        }
    }
    memcpy(url, u, n);
    url[n] = '\0';
    snprintf(where, CL_RELAY_BUS_URL_MAX, "%.*s:%lu", (int)(host_end - host), host, portn);
    return 0;
}

int cl_bus_urls_parse(const char *spec, struct cl_bus_urls *out, char *err, size_t errcap)
{
    const char *p = spec, *comma;
    int rc;

    memset(out, 0, sizeof *out);
    if (!spec || !*spec) {
        snprintf(err, errcap, "no server given");
        return CL_EINVAL;
    }
    for (;;) {
        comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        if (out->n == CL_RELAY_BUS_SERVERS_MAX) {
            snprintf(err, errcap, "more than %d servers", CL_RELAY_BUS_SERVERS_MAX);
            return CL_EINVAL;
        }
        rc = cl__bus_url_parse(p, n, out->url[out->n], out->where[out->n], err, errcap, out->n + 1);
        if (rc)
            return rc;
        out->n++;
        if (!comma)
            return 0;
        p = comma + 1;
    }
}

/* A subject we publish or subscribe to: tokens of printable characters
 * without spaces, separated by single dots. */
static bool cl__bus_subject_ok(const char *s)
{
    size_t n = 0;
    char prev = '.';

    if (!s)
        return false;
    for (; s[n]; n++) {
        unsigned char c = (unsigned char)s[n];
        if (c <= ' ' || c >= 0x7f || (c == '.' && prev == '.'))
            return false;
        prev = (char)c;
    }
    return n > 0 && n <= CL_RELAY_BUS_SUBJECT_MAX && prev != '.';
}

/* ---- libnats's threads ---- */

/* host:port of the URL libnats is connected to (the credentials left
 * out), into b->server. Under b->lock. */
static void cl__bus_note_server(struct cl_bus *b, natsConnection *nc)
{
    char url[CL_RELAY_BUS_URL_MAX] = "";
    const char *h, *at, *slash;

    b->server[0] = '\0';
    if (natsConnection_GetConnectedUrl(nc, url, sizeof url) != NATS_OK || !url[0])
        return;
    h = strstr(url, "://");
    h = h ? h + 3 : url;
    at = strrchr(h, '@');
    if (at)
        h = at + 1;
    slash = strchr(h, '/');
    snprintf(b->server, sizeof b->server, "%.*s", (int)(slash ? slash - h : (long)strlen(h)), h);
}

static void cl__bus_set_state(struct cl_bus *b, natsConnection *nc, int st)
{
    bool wake;

    uv_mutex_lock(&b->lock);
    if (st == CL_BUS_RECONNECTING && b->epoch == 0)
        st = CL_BUS_CONNECTING; /* lost before it ever connected */
    b->state = st;
    if (st == CL_BUS_CONNECTED) {
        b->epoch++;
        cl__bus_note_server(b, nc);
    } else {
        b->server[0] = '\0';
    }
    wake = !b->closing;
    uv_mutex_unlock(&b->lock);
    if (wake)
        uv_async_send(&b->wake);
}

static void cl__bus_on_connected(natsConnection *nc, void *closure)
{
    cl__bus_set_state(closure, nc, CL_BUS_CONNECTED);
}

static void cl__bus_on_disconnected(natsConnection *nc, void *closure)
{
    cl__bus_set_state(closure, nc, CL_BUS_RECONNECTING);
}

static void cl__bus_on_closed(natsConnection *nc, void *closure)
{
    struct cl_bus *b = closure;
    (void)nc;
    uv_mutex_lock(&b->lock);
    b->nats_closed = true;
    uv_cond_signal(&b->released);
    uv_mutex_unlock(&b->lock);
}

static void cl__bus_on_error(natsConnection *nc, natsSubscription *ns, natsStatus err,
                             void *closure)
{
    struct cl_bus *b = closure;
    (void)nc;
    (void)ns;
    /* a subscription that fell behind in libnats itself (its pending
     * limits): those messages are lost, as the queue's would be */
    if (err == NATS_SLOW_CONSUMER) {
        uv_mutex_lock(&b->lock);
        b->dropped++;
        uv_mutex_unlock(&b->lock);
    }
}

/* Drops one reference of s; frees it at the last. Under b->lock. Returns
 * s when the caller must free it (after unlocking). */
static struct cl_bus_sub *cl__bus_sub_unref(struct cl_bus_sub *s)
{
    return --s->refs == 0 ? s : NULL;
}

static void cl__bus_on_complete(void *closure)
{
    struct cl_bus_sub *s = closure, *gone;
    struct cl_bus *b = s->bus;

    uv_mutex_lock(&b->lock);
    b->nats_refs--;
    gone = cl__bus_sub_unref(s);
    uv_cond_signal(&b->released);
    uv_mutex_unlock(&b->lock);
    free(gone);
}

static void cl__bus_on_msg(natsConnection *nc, natsSubscription *ns, natsMsg *m, void *closure)
{
    struct cl_bus_sub *s = closure;
    struct cl_bus *b = s->bus;
    const char *subj = natsMsg_GetSubject(m), *reply = natsMsg_GetReply(m);
    const char *data = natsMsg_GetData(m);
    int dlen = natsMsg_GetDataLength(m);
    size_t sl = strlen(subj), rl = reply ? strlen(reply) : 0;
    size_t len = dlen > 0 ? (size_t)dlen : 0;
    size_t size = sizeof(struct cl__bus_item) + sl + 1 + (reply ? rl + 1 : 0) + len;
    struct cl__bus_item *it = malloc(size);
    bool wake = false;

    (void)nc;
    (void)ns;
    if (it) {
        it->next = NULL;
        it->sub = s;
        it->size = size;
        it->len = len;
        memcpy(it->text, subj, sl + 1);
        it->reply = NULL;
        if (reply) {
            memcpy(it->text + sl + 1, reply, rl + 1);
            it->reply = it->text + sl + 1;
        }
        if (len)
            memcpy(it->text + sl + 1 + (reply ? rl + 1 : 0), data, len);
    }
    natsMsg_Destroy(m);

    uv_mutex_lock(&b->lock);
    if (!it || s->dead || b->closing || b->queued + size > CL_RELAY_BUS_QUEUE_MAX) {
        if (it && !s->dead && !b->closing)
            b->dropped++;
        uv_mutex_unlock(&b->lock);
        free(it);
        return;
    }
    s->refs++;
    b->queued += size;
    if (b->tail)
        b->tail->next = it;
    else
        b->head = it, wake = true;
    b->tail = it;
    uv_mutex_unlock(&b->lock);
    if (wake)
        uv_async_send(&b->wake);
}

/* ---- the loop ---- */

static void cl__bus_drain(uv_async_t *h)
{
    struct cl_bus *b = h->data;
    struct cl__bus_item *it, *next;
    int state;
    uint64_t epoch;

    uv_mutex_lock(&b->lock);
    it = b->head;
    b->head = b->tail = NULL;
    b->queued = 0;
    state = b->state;
    epoch = b->epoch;
    memcpy(b->server_told, b->server, sizeof b->server_told);
    uv_mutex_unlock(&b->lock);

    if (state != b->state_told || epoch != b->epoch_told) {
        bool again = state == CL_BUS_CONNECTED && b->epoch_told > 0 && epoch != b->epoch_told;
        if (again)
            b->st.reconnects += epoch - b->epoch_told;
        b->state_told = state;
        b->epoch_told = epoch;
        b->state_since = uv_hrtime();
        if (state == CL_BUS_CONNECTED)
            cl_info("bus", again ? "NATS connection back" : "NATS connected", "server=%s",
                    b->server_told);
        else
            cl_warn("bus", "NATS connection lost, retrying", "every_ms=%d",
                    CL_RELAY_BUS_RECONNECT_MS);
        if (b->on_state)
            b->on_state(b->ctx, (enum cl_bus_state)state);
    }

    for (; it; it = next) {
        struct cl_bus_sub *s = it->sub, *gone;
        size_t sl = strlen(it->text);
        const uint8_t *data =
            (const uint8_t *)it->text + sl + 1 + (it->reply ? strlen(it->reply) + 1 : 0);
        next = it->next;
        if (!s->dead && !b->closing) {
            b->st.msgs_in++;
            b->st.bytes_in += it->len;
            s->fn(s->ctx, it->text, it->reply, data, it->len);
        }
        uv_mutex_lock(&b->lock);
        gone = cl__bus_sub_unref(s);
        uv_mutex_unlock(&b->lock);
        free(gone);
        free(it);
    }
}

int cl_bus_open(uv_loop_t *loop, const struct cl_bus_config *cfg, struct cl_bus **out, char *err,
                size_t errcap)
{
    struct cl_bus *b = calloc(1, sizeof *b);
    const char *servers[CL_RELAY_BUS_SERVERS_MAX];
    natsStatus ns;
    int i;

    *out = NULL;
    if (!b) {
        snprintf(err, errcap, "out of memory");
        return CL_ENOMEM;
    }
    b->loop = loop;
    b->on_state = cfg->on_state;
    b->ctx = cfg->ctx;
    b->urls = *cfg->urls;
    b->state = b->state_told = CL_BUS_CONNECTING;
    b->state_since = uv_hrtime();
    for (i = 0; i < b->urls.n; i++)
        servers[i] = b->urls.url[i];
    if (uv_mutex_init(&b->lock) || uv_cond_init(&b->released)) {
        free(b);
        snprintf(err, errcap, "cannot create a lock");
        return CL_EIO;
    }
    b->wake.data = b;
    uv_async_init(loop, &b->wake, cl__bus_drain);

    ns = natsOptions_Create(&b->opts);
    if (ns == NATS_OK)
        ns = natsOptions_SetServers(b->opts, servers, b->urls.n);
    if (ns == NATS_OK && cfg->name)
        ns = natsOptions_SetName(b->opts, cfg->name);
    if (ns == NATS_OK)
        ns = natsOptions_SetAllowReconnect(b->opts, true);
    if (ns == NATS_OK)
        ns = natsOptions_SetMaxReconnect(b->opts, -1);
    if (ns == NATS_OK)
        ns = natsOptions_SetReconnectWait(b->opts, CL_RELAY_BUS_RECONNECT_MS);
    if (ns == NATS_OK)
        ns = natsOptions_SetTimeout(b->opts, 2 * CL_RELAY_BUS_RECONNECT_MS);
    if (ns == NATS_OK)
        ns = natsOptions_SetRetryOnFailedConnect(b->opts, true, cl__bus_on_connected, b);
    if (ns == NATS_OK)
        ns = natsOptions_SetDisconnectedCB(b->opts, cl__bus_on_disconnected, b);
    if (ns == NATS_OK)
        ns = natsOptions_SetReconnectedCB(b->opts, cl__bus_on_connected, b);
    if (ns == NATS_OK)
        ns = natsOptions_SetClosedCB(b->opts, cl__bus_on_closed, b);
    if (ns == NATS_OK)
        ns = natsOptions_SetErrorHandler(b->opts, cl__bus_on_error, b);
    if (ns == NATS_OK)
        ns = natsOptions_UseGlobalMessageDelivery(b->opts, true);
    if (ns != NATS_OK) {
        snprintf(err, errcap, "NATS options: %s", natsStatus_GetText(ns));
        goto out_close;
    }
    ns = natsConnection_Connect(&b->nc, b->opts);
    if (ns == NATS_OK) {
        cl__bus_set_state(b, b->nc, CL_BUS_CONNECTED);
    } else if (ns != NATS_NOT_YET_CONNECTED) {
        snprintf(err, errcap, "NATS: %s", natsStatus_GetText(ns));
        goto out_close;
    }
    *out = b;
    return 0;

out_close:
    natsOptions_Destroy(b->opts);
    b->opts = NULL;
    b->closing = true;
    b->nats_closed = true;
    cl_bus_close(b);
    return CL_EIO;
}

static void cl__bus_freed(uv_handle_t *h)
{
    struct cl_bus *b = h->data;
    uv_cond_destroy(&b->released);
    uv_mutex_destroy(&b->lock);
    free(b);
}

void cl_bus_close(struct cl_bus *b)
{
    struct cl_bus_sub *s, *next, *gone;
    struct cl__bus_item *it, *inext;
    bool lost = false;
    uint64_t deadline;

    if (!b)
        return;
    uv_mutex_lock(&b->lock);
    b->closing = true;
    s = b->subs;
    b->subs = NULL;
    for (struct cl_bus_sub *t = s; t; t = t->next)
        t->dead = true;
    uv_mutex_unlock(&b->lock);
    for (; s; s = next) { /* the holders' references: they are ended */
        next = s->next;
        natsSubscription_Unsubscribe(s->ns);
        natsSubscription_Destroy(s->ns);
        uv_mutex_lock(&b->lock);
        b->nsubs--;
        gone = cl__bus_sub_unref(s);
        uv_mutex_unlock(&b->lock);
        free(gone);
    }
    if (b->nc)
        natsConnection_Close(b->nc);
    else
        b->nats_closed = true;

    /* libnats's threads may still be inside a callback that holds b */
    deadline = uv_hrtime() + CL__BUS_CLOSE_WAIT_NS;
    uv_mutex_lock(&b->lock);
    while ((!b->nats_closed || b->nats_refs > 0) && !lost) {
        uint64_t now = uv_hrtime();
        if (now >= deadline || uv_cond_timedwait(&b->released, &b->lock, deadline - now) != 0)
            lost = b->nats_refs > 0 || !b->nats_closed;
    }
    it = b->head;
    b->head = b->tail = NULL;
    uv_mutex_unlock(&b->lock);
    for (; it; it = inext) {
        inext = it->next;
        uv_mutex_lock(&b->lock);
        gone = cl__bus_sub_unref(it->sub);
        uv_mutex_unlock(&b->lock);
        free(gone);
        free(it);
    }
    if (b->nc)
        natsConnection_Destroy(b->nc);
    natsOptions_Destroy(b->opts);
    b->nc = NULL;
    b->opts = NULL;
    if (lost) {
        /* a thread still holds it: leave the memory to it */
        cl_warn("bus", "NATS threads did not let go in time; leaving their memory", "wait_s=%d",
                (int)(CL__BUS_CLOSE_WAIT_NS / 1000000000ull));
        uv_close((uv_handle_t *)&b->wake, NULL);
        return;
    }
    uv_close((uv_handle_t *)&b->wake, cl__bus_freed);
}

int cl_bus_subscribe(struct cl_bus *b, const char *subject, cl_bus_msg_fn fn, void *ctx,
                     struct cl_bus_sub **out)
{
    struct cl_bus_sub *s;
    natsStatus ns;

    *out = NULL;
    if (!cl__bus_subject_ok(subject) || !fn)
        return CL_EINVAL;
    if (b->nsubs >= CL_RELAY_BUS_SUBS_MAX)
        return CL_ELIMIT;
    s = calloc(1, sizeof *s);
    if (!s)
        return CL_ENOMEM;
    s->bus = b;
    s->fn = fn;
    s->ctx = ctx;
    s->refs = 2; /* the holder's and libnats's */
    /* messages may be delivered (on libnats's threads) before this returns:
     * they need only s's fields set above */
    ns = natsConnection_Subscribe(&s->ns, b->nc, subject, cl__bus_on_msg, s);
    if (ns == NATS_OK)
        ns = natsSubscription_SetOnCompleteCB(s->ns, cl__bus_on_complete, s);
    if (ns != NATS_OK) {
        if (s->ns) {
            /* subscribed, but without the completion callback it cannot
             * be known when libnats is done with s: s is left to it */
            s->dead = true;
            natsSubscription_Unsubscribe(s->ns);
            natsSubscription_Destroy(s->ns);
            return CL_EIO;
        }
        free(s);
        return CL_EIO;
    }
    uv_mutex_lock(&b->lock);
    b->nats_refs++;
    s->next = b->subs;
    if (b->subs)
        b->subs->prev = s;
    b->subs = s;
    b->nsubs++;
    uv_mutex_unlock(&b->lock);
    *out = s;
    return 0;
}

void cl_bus_unsubscribe(struct cl_bus_sub *s)
{
    struct cl_bus *b;
    struct cl_bus_sub *gone;

    if (!s)
        return;
    b = s->bus;
    uv_mutex_lock(&b->lock);
    s->dead = true;
    if (s->prev)
        s->prev->next = s->next;
    else
        b->subs = s->next;
    if (s->next)
        s->next->prev = s->prev;
    b->nsubs--;
    uv_mutex_unlock(&b->lock);
    natsSubscription_Unsubscribe(s->ns);
    natsSubscription_Destroy(s->ns);
    uv_mutex_lock(&b->lock);
    gone = cl__bus_sub_unref(s);
    uv_mutex_unlock(&b->lock);
    free(gone);
}

int cl_bus_publish(struct cl_bus *b, const char *subject, const char *reply, const void *data,
                   size_t len)
{
    natsStatus ns;

    if (!cl__bus_subject_ok(subject) || (reply && !cl__bus_subject_ok(reply)) ||
        len > CL_RELAY_BUS_MSG_MAX)
        return CL_EINVAL;
    if (cl_bus_state(b) != CL_BUS_CONNECTED)
        return CL_ESTATE;
    ns = reply ? natsConnection_PublishRequest(b->nc, subject, reply, data, (int)len)
               : natsConnection_Publish(b->nc, subject, data, (int)len);
    if (ns == NATS_MAX_PAYLOAD)
        return CL_EINVAL;
    if (ns != NATS_OK)
        return ns == NATS_CONNECTION_CLOSED || ns == NATS_CONNECTION_DISCONNECTED ? CL_ESTATE
                                                                                  : CL_EIO;
    b->st.msgs_out++;
    b->st.bytes_out += len;
    return 0;
}

enum cl_bus_state cl_bus_state(const struct cl_bus *b)
{
    struct cl_bus *m = (struct cl_bus *)b;
    int st;

    if (b->closing)
        return CL_BUS_CLOSED;
    /* the threads' view, not the last told: publish must not wait for
     * the loop to hear of a loss */
    uv_mutex_lock(&m->lock);
    st = m->state;
    uv_mutex_unlock(&m->lock);
    return (enum cl_bus_state)st;
}

const char *cl_bus_state_name(enum cl_bus_state st)
{
    switch (st) {
    case CL_BUS_CONNECTING:
        return "connecting";
    case CL_BUS_CONNECTED:
        return "connected";
    case CL_BUS_RECONNECTING:
        return "reconnecting";
    case CL_BUS_CLOSED:
        return "closed";
    }
    return "unknown";
}

const char *cl_bus_server(const struct cl_bus *b)
{
    return b->server_told;
}

double cl_bus_state_age(const struct cl_bus *b)
{
    return (double)(uv_hrtime() - b->state_since) / 1e9;
}

void cl_bus_stats(const struct cl_bus *b, struct cl_bus_stats *out)
{
    struct cl_bus *m = (struct cl_bus *)b;

    *out = b->st;
    uv_mutex_lock(&m->lock);
    out->dropped = m->dropped;
    out->subs = m->nsubs;
    uv_mutex_unlock(&m->lock);
}

void cl_bus_library_close(void)
{
    nats_CloseAndWait(2000);
}

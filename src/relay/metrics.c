/* metrics: the relay's Prometheus registry and text exposition. */
#include "relay/metrics.h"
#include "core/err.h"
#include "relay/ratelimit.h"

#include <dirent.h>
#include <inttypes.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

struct cl_metrics cl_metrics;

const double cl_metrics_http_buckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                          0.25,  0.5,    1,     2.5,  5,     10};
const size_t cl_metrics_http_buckets_n = sizeof cl_metrics_http_buckets / sizeof(double);
const double cl_metrics_store_buckets[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                           0.01,   0.025,   0.05,   0.1,   0.25,   1};
const size_t cl_metrics_store_buckets_n = sizeof cl_metrics_store_buckets / sizeof(double);

/* The status codes counted each on their own; any other counts as its
 * class ("4xx"). 27 codes and 5 classes: struct cl_metrics_http_slot's
 * codes[32]. */
static const int cl__codes[] = {200, 201, 202, 204, 206, 301, 302, 303, 304,
                                307, 308, 400, 401, 403, 404, 405, 409, 410,
                                411, 413, 414, 415, 422, 429, 500, 501, 503};
#define CL__NCODES (sizeof cl__codes / sizeof cl__codes[0])
static const char *const cl__classes[] = {"1xx", "2xx", "3xx", "4xx", "5xx"};

static size_t cl__metrics_code_index(int status)
{
    for (size_t i = 0; i < CL__NCODES; i++)
        if (cl__codes[i] == status)
            return i;
    if (status < 100 || status > 599)
        status = 500;
    return CL__NCODES + (size_t)(status / 100 - 1);
}

void cl_metrics_init(void)
{
    struct timespec ts;
    memset(&cl_metrics, 0, sizeof cl_metrics);
    clock_gettime(CLOCK_REALTIME, &ts);
    cl_metrics.start_time = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double cl_metrics_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void cl_histogram_observe(struct cl_histogram *h, const double *bounds, size_t n, double v)
{
    size_t i = 0;
    while (i < n && v > bounds[i])
        i++;
    h->bucket[i]++; /* i == n: +Inf */
    h->count++;
    h->sum += v;
}

void cl_metrics_http(const char *route, const char *method, int status, double seconds)
{
    struct cl_metrics *m = &cl_metrics;
    struct cl_metrics_http_slot *s = NULL;
    for (size_t i = 0; i < m->http_n; i++)
        if (m->http[i].route == route && m->http[i].method == method) {
            s = &m->http[i];
            break;
        }
    if (!s) {
        if (m->http_n < CL_METRICS_HTTP_SLOTS - 1) {
            s = &m->http[m->http_n++];
            s->route = route;
            s->method = method;
        } else {
            /* the table is full: one shared slot, last */
            s = &m->http[CL_METRICS_HTTP_SLOTS - 1];
            s->route = "other";
            s->method = "other";
            m->http_n = CL_METRICS_HTTP_SLOTS;
        }
    }
    s->codes[cl__metrics_code_index(status)]++;
    cl_histogram_observe(&s->latency, cl_metrics_http_buckets, cl_metrics_http_buckets_n, seconds);
}

/* The store is timed on the loop and on the store workers (store_pool.c):
 * its histograms are written and read under this lock. */
static pthread_mutex_t cl__store_lock = PTHREAD_MUTEX_INITIALIZER;

void cl_metrics_store(unsigned op, const char *name, double seconds)
{
    if (op >= CL_METRICS_STORE_OPS)
        return;
    pthread_mutex_lock(&cl__store_lock);
    cl_metrics.store_names[op] = name;
    cl_histogram_observe(&cl_metrics.store[op], cl_metrics_store_buckets,
                         cl_metrics_store_buckets_n, seconds);
    pthread_mutex_unlock(&cl__store_lock);
}

void cl_metrics_limiter(const char *name, const struct cl_ratelimit *rl)
{
    if (rl && cl_metrics.limiters_n < CL_METRICS_LIMITERS) {
        cl_metrics.limiters[cl_metrics.limiters_n].name = name;
        cl_metrics.limiters[cl_metrics.limiters_n].rl = rl;
        cl_metrics.limiters_n++;
    }
}

void cl_metrics_process(struct cl_metrics_gauges *g)
{
    struct rlimit rl;
    DIR *d;
    FILE *f;
    long pages = 0;

    g->open_fds = g->max_fds = g->rss_bytes = -1;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
        g->max_fds = rl.rlim_cur == RLIM_INFINITY ? -1 : (int64_t)rl.rlim_cur;
    d = opendir("/proc/self/fd");
    if (d) {
        int64_t n = 0;
        for (struct dirent *e; (e = readdir(d));)
            if (e->d_name[0] != '.')
                n++;
        closedir(d);
        g->open_fds = n - 1; /* less the directory's own descriptor */
    }
    f = fopen("/proc/self/statm", "re");
    if (f) {
        if (fscanf(f, "%*d %ld", &pages) == 1)
            g->rss_bytes = (int64_t)pages * sysconf(_SC_PAGESIZE);
        fclose(f);
    }
}

/* ---- the text buffer --------------------------------------------------- */

void cl_mbuf_printf(struct cl_mbuf *b, const char *fmt, ...)
{
    va_list ap;
    int n;
    if (b->overflow)
        return;
    for (;;) {
        size_t room = b->cap - b->len;
        va_start(ap, fmt);
        n = vsnprintf(b->buf ? b->buf + b->len : NULL, b->buf ? room : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->overflow = true;
            return;
        }
        if (b->buf && (size_t)n < room) {
            b->len += (size_t)n;
            return;
        }
        /* grow: double, to at most max */
        size_t want = b->len + (size_t)n + 1, cap = b->cap ? b->cap : 4096;
        while (cap < want)
            cap *= 2;
        if (cap > b->max)
            cap = b->max;
        if (cap < want) {
            b->overflow = true;
            return;
        }
        char *nb = realloc(b->buf, cap);
        if (!nb)
            abort();
        b->buf = nb;
        b->cap = cap;
    }
}

void cl_mbuf_label(struct cl_mbuf *b, const char *s)
{
    const char *run = s;
    for (; *s; s++) {
        const char *esc = *s == '\\' ? "\\\\" : *s == '"' ? "\\\"" : *s == '\n' ? "\\n" : NULL;
        if (!esc)
            continue;
        cl_mbuf_printf(b, "%.*s%s", (int)(s - run), run, esc);
        run = s + 1;
    }
    cl_mbuf_printf(b, "%s", run);
}

static void cl__labels(struct cl_mbuf *b, const char *const (*labels)[2], size_t nlabels,
                       const char *le)
{
    if (!nlabels && !le)
        return;
    cl_mbuf_printf(b, "{");
    for (size_t i = 0; i < nlabels; i++) {
        cl_mbuf_printf(b, "%s%s=\"", i ? "," : "", labels[i][0]);
        cl_mbuf_label(b, labels[i][1]);
        cl_mbuf_printf(b, "\"");
    }
    if (le)
        cl_mbuf_printf(b, "%sle=\"%s\"", nlabels ? "," : "", le);
    cl_mbuf_printf(b, "}");
}

void cl_mbuf_histogram(struct cl_mbuf *b, const char *name, const char *const (*labels)[2],
                       size_t nlabels, const struct cl_histogram *h, const double *bounds, size_t n)
{
    uint64_t cum = 0;
    char le[32];
    for (size_t i = 0; i <= n; i++) {
        cum += h->bucket[i];
        if (i < n)
            snprintf(le, sizeof le, "%g", bounds[i]);
        else
            snprintf(le, sizeof le, "+Inf");
        cl_mbuf_printf(b, "%s_bucket", name);
        cl__labels(b, labels, nlabels, le);
        cl_mbuf_printf(b, " %" PRIu64 "\n", cum);
    }
    cl_mbuf_printf(b, "%s_sum", name);
    cl__labels(b, labels, nlabels, NULL);
    cl_mbuf_printf(b, " %.9g\n", h->sum);
    cl_mbuf_printf(b, "%s_count", name);
    cl__labels(b, labels, nlabels, NULL);
    cl_mbuf_printf(b, " %" PRIu64 "\n", h->count);
}

/* ---- the exposition ------------------------------------------------------ */

static void cl__family(struct cl_mbuf *b, const char *name, const char *type, const char *help)
{
    cl_mbuf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One sample with at most one label (label NULL: none). */
static void cl__sample(struct cl_mbuf *b, const char *name, const char *label, const char *value,
                       uint64_t v)
{
    if (label) {
        const char *const l[1][2] = {{label, value}};
        cl_mbuf_printf(b, "%s", name);
        cl__labels(b, l, 1, NULL);
        cl_mbuf_printf(b, " %" PRIu64 "\n", v);
    } else {
        cl_mbuf_printf(b, "%s %" PRIu64 "\n", name, v);
    }
}

static void cl__one(struct cl_mbuf *b, const char *name, const char *type, const char *help,
                    uint64_t v)
{
    cl__family(b, name, type, help);
    cl__sample(b, name, NULL, NULL, v);
}

static const char *const cl__kinds[4] = {"http", "agent", "viewer", "events"};
static const char *const cl__dirs[CL_DIR__COUNT] = {"agent_to_viewers", "viewers_to_agent"};
static const char *const cl__reasons[CL_REJECT__COUNT] = {"per_addr", "relay_full",
                                                          "unauth_per_addr", "auth_timeout"};

static void cl__write_process(struct cl_mbuf *b, const struct cl_metrics *m,
                              const struct cl_metrics_gauges *g)
{
    cl__family(b, "clawlink_build_info", "gauge", "The relay's version (the value is always 1).");
    cl_mbuf_printf(b, "clawlink_build_info{version=\"");
    cl_mbuf_label(b, CL_VERSION);
    cl_mbuf_printf(b, "\"} 1\n");
    cl__family(b, "process_start_time_seconds", "gauge",
               "Start time of the process since the Unix epoch in seconds.");
    cl_mbuf_printf(b, "process_start_time_seconds %.3f\n", m->start_time);
    if (g->open_fds >= 0)
        cl__one(b, "process_open_fds", "gauge", "Number of open file descriptors.",
                (uint64_t)g->open_fds);
    if (g->max_fds >= 0)
        cl__one(b, "process_max_fds", "gauge", "Maximum number of open file descriptors.",
                (uint64_t)g->max_fds);
    if (g->rss_bytes >= 0)
        cl__one(b, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
                (uint64_t)g->rss_bytes);
}

static void cl__write_ws(struct cl_mbuf *b, const struct cl_metrics *m,
                         const struct cl_metrics_gauges *g)
{
    cl__family(b, "clawlink_connections", "gauge",
               "Open connections by kind (http: not a WebSocket, or not yet one).");
    for (int k = 0; k < 4; k++)
        cl__sample(b, "clawlink_connections", "kind", cl__kinds[k], g->conns[k]);
    cl__family(b, "clawlink_websocket_connections_opened_total", "counter",
               "WebSocket connections opened, by kind.");
    for (int k = 1; k < 4; k++)
        cl__sample(b, "clawlink_websocket_connections_opened_total", "kind", cl__kinds[k],
                   m->ws_opened[k]);
    cl__one(b, "clawlink_agents_online", "gauge", "Authenticated agents (devices online).",
            g->agents);
    cl__one(b, "clawlink_viewers_online", "gauge", "Browsers attached to a live session.",
            g->viewers);
    cl__family(b, "clawlink_sessions", "gauge",
               "Live terminal sessions by state (starting: the agent has not confirmed it yet).");
    cl__sample(b, "clawlink_sessions", "state", "starting", g->sessions_starting);
    cl__sample(b, "clawlink_sessions", "state", "running", g->sessions_running);
    cl__one(b, "clawlink_lagging_viewers", "gauge",
            "Viewers whose send queue overflowed and that get no output until it drains.",
            g->lagging_viewers);
    cl__one(b, "clawlink_send_queue_bytes", "gauge",
            "Bytes waiting in the send queues of all WebSocket connections.", g->queue_bytes);
    cl__one(b, "clawlink_send_queue_max_bytes", "gauge",
            "Bytes waiting in the fullest WebSocket send queue.", g->queue_max_bytes);
    cl__one(b, "clawlink_send_queue_frames", "gauge",
            "Frames waiting in the send queues of all WebSocket connections.", g->queue_frames);
    cl__family(b, "clawlink_forwarded_bytes_total", "counter",
               "Terminal bytes forwarded (payload, not framing), by direction.");
    for (int d = 0; d < CL_DIR__COUNT; d++)
        cl__sample(b, "clawlink_forwarded_bytes_total", "direction", cl__dirs[d], m->fwd_bytes[d]);
    cl__family(b, "clawlink_forwarded_frames_total", "counter",
               "Terminal data messages forwarded (stdout to each viewer, stdin), by direction.");
    for (int d = 0; d < CL_DIR__COUNT; d++)
        cl__sample(b, "clawlink_forwarded_frames_total", "direction", cl__dirs[d],
                   m->fwd_frames[d]);
    if (g->nats) {
        cl__one(b, "clawlink_nats_connected", "gauge",
                "1 while the relay is connected to NATS (--nats), else 0.", g->nats_connected);
        cl__family(b, "clawlink_nats_messages_total", "counter",
                   "Messages between relays over NATS, by direction.");
        cl__sample(b, "clawlink_nats_messages_total", "direction", "in", g->nats_msgs_in);
        cl__sample(b, "clawlink_nats_messages_total", "direction", "out", g->nats_msgs_out);
        cl__family(b, "clawlink_nats_bytes_total", "counter",
                   "Payload bytes between relays over NATS, by direction.");
        cl__sample(b, "clawlink_nats_bytes_total", "direction", "in", g->nats_bytes_in);
        cl__sample(b, "clawlink_nats_bytes_total", "direction", "out", g->nats_bytes_out);
        cl__one(b, "clawlink_nats_dropped_total", "counter",
                "NATS messages dropped before the relay's loop read them (its queue full).",
                g->nats_dropped);
        cl__one(b, "clawlink_nats_reconnects_total", "counter",
                "Times the relay connected to NATS again after losing it.", g->nats_reconnects);
        cl__one(b, "clawlink_nats_subscriptions", "gauge",
                "NATS subscriptions the relay holds (devices and sessions).", g->nats_subs);
    }
    cl__one(b, "clawlink_gaps_total", "counter",
            "Output a viewer missed (announced with a gap notice where it understands one).",
            m->gaps);
    cl__one(b, "clawlink_viewer_lag_events_total", "counter",
            "Times a viewer's send queue overflowed and its output was held back.", m->lag_events);
    cl__one(b, "clawlink_ping_drops_total", "counter",
            "WebSocket peers dropped for not answering pings.", m->ping_drops);
    cl__one(b, "clawlink_send_queue_overflows_total", "counter",
            "WebSocket peers closed because their send queue overflowed.", m->sendq_overflows);
    cl__family(b, "clawlink_connections_rejected_total", "counter",
               "Connections refused or closed by the relay's admission rules, by reason.");
    for (int r = 0; r < CL_REJECT__COUNT; r++)
        cl__sample(b, "clawlink_connections_rejected_total", "reason", cl__reasons[r],
                   m->rejected[r]);
}

static void cl__write_http(struct cl_mbuf *b, const struct cl_metrics *m)
{
    char code[8];
    cl__family(b, "clawlink_http_requests_total", "counter",
               "HTTP requests by route pattern, method and status code.");
    for (size_t i = 0; i < m->http_n; i++) {
        const struct cl_metrics_http_slot *s = &m->http[i];
        for (size_t c = 0; c < CL__NCODES + 5; c++) {
            if (!s->codes[c])
                continue;
            if (c < CL__NCODES)
                snprintf(code, sizeof code, "%d", cl__codes[c]);
            else
                snprintf(code, sizeof code, "%s", cl__classes[c - CL__NCODES]);
            const char *const l[3][2] = {
                {"route", s->route}, {"method", s->method}, {"code", code}};
            cl_mbuf_printf(b, "clawlink_http_requests_total");
            cl__labels(b, l, 3, NULL);
            cl_mbuf_printf(b, " %" PRIu64 "\n", s->codes[c]);
        }
    }
    cl__family(b, "clawlink_http_request_duration_seconds", "histogram",
               "Time from a request's headers to its reply's status, by route and method.");
    for (size_t i = 0; i < m->http_n; i++) {
        const char *const l[2][2] = {{"route", m->http[i].route}, {"method", m->http[i].method}};
        cl_mbuf_histogram(b, "clawlink_http_request_duration_seconds", l, 2, &m->http[i].latency,
                          cl_metrics_http_buckets, cl_metrics_http_buckets_n);
    }
}

static void cl__write_rest(struct cl_mbuf *b, const struct cl_metrics *m)
{
    cl__family(b, "clawlink_ratelimit_refusals_total", "counter",
               "Attempts refused by a rate limiter, by limiter.");
    for (size_t i = 0; i < m->limiters_n; i++)
        cl__sample(b, "clawlink_ratelimit_refusals_total", "limiter", m->limiters[i].name,
                   cl_ratelimit_refused(m->limiters[i].rl));
    cl__family(b, "clawlink_store_operation_duration_seconds", "histogram",
               "Time spent in each store (database) operation.");
    pthread_mutex_lock(&cl__store_lock);
    for (size_t op = 0; op < CL_METRICS_STORE_OPS; op++) {
        if (!m->store_names[op])
            continue;
        const char *const l[1][2] = {{"op", m->store_names[op]}};
        cl_mbuf_histogram(b, "clawlink_store_operation_duration_seconds", l, 1, &m->store[op],
                          cl_metrics_store_buckets, cl_metrics_store_buckets_n);
    }
    pthread_mutex_unlock(&cl__store_lock);
}

int cl_metrics_write(const struct cl_metrics *m, const struct cl_metrics_gauges *g, char **out,
                     size_t *out_len)
{
    struct cl_mbuf b = {.max = CL_METRICS_TEXT_MAX};
    cl__write_process(&b, m, g);
    cl__write_ws(&b, m, g);
    cl__write_http(&b, m);
    cl__write_rest(&b, m);
    if (b.overflow || !b.buf) {
        free(b.buf);
        *out = NULL;
        *out_len = 0;
        return CL_ELIMIT;
    }
    *out = b.buf;
    *out_len = b.len;
    return 0;
}

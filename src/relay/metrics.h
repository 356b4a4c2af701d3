/*
 * metrics: the relay's Prometheus registry and its text exposition.
 *
 * One process-wide registry (cl_metrics) of fixed counters and histograms:
 * no allocation per sample, plain integer increments on the loop thread
 * (the relay runs everything on one libuv loop; nothing here is atomic).
 * The modules that know increment it: server.c, hub_viewer.c, hub_agent.c, liveness.c,
 * admission.c (refused connections), http.c (requests by route, status
 * and latency), ratelimit.c (refusals, named by cl_metrics_limiter) and
 * store_metrics.c (store operation latency).
 *
 * What changes only as connections come and go (connections by kind,
 * agents, viewers, sessions, queue depths) is not counted here but read
 * when scraped, into struct cl_metrics_gauges, by api_metrics.c.
 *
 * cl_metrics_write renders both as the Prometheus text format 0.0.4
 * (docs/operations.md, "Metrics") into a buffer that never grows past
 * CL_METRICS_TEXT_MAX. Labels are bounded: route patterns from the route
 * table, status codes, store operation names, limiter names; never a
 * user, device, session id or a raw path.
 */
#ifndef CL_RELAY_METRICS_H
#define CL_RELAY_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/limits.h"

/* Buckets of a histogram, at most this many (the +Inf one not counted). */
#define CL_METRICS_BUCKETS_MAX 16
/* Distinct (route, method) pairs counted; later pairs share an "other"
 * slot. The route table has fewer than 120 entries. */
#define CL_METRICS_HTTP_SLOTS 192
/* Store operations timed (store_metrics.c); op ids are below this. */
#define CL_METRICS_STORE_OPS 128
/* Named rate limiters (cl_metrics_limiter). */
#define CL_METRICS_LIMITERS 32
/* The exposition text at most (bytes); over it, cl_metrics_write fails
 * with CL_ELIMIT and the scrape gets 500. */
#define CL_METRICS_TEXT_MAX (1024 * 1024)

struct cl_ratelimit;

struct cl_histogram {
    uint64_t bucket[CL_METRICS_BUCKETS_MAX + 1]; /* per bucket, not cumulative; last = +Inf */
    uint64_t count;
    double sum;
};

/* Why a connection was refused or closed by the relay's own rules. */
enum cl_metrics_reject {
    CL_REJECT_PER_ADDR = 0,    /* --max-conns-per-addr */
    CL_REJECT_RELAY_FULL,      /* the relay's file limit less its reserve */
    CL_REJECT_UNAUTH_PER_ADDR, /* --max-unauth-per-addr */
    CL_REJECT_AUTH_TIMEOUT,    /* no hello / auth within CL_RELAY_AUTH_DEADLINE_S */
    CL_REJECT__COUNT
};

/* Directions of forwarded terminal data. */
enum cl_metrics_dir { CL_DIR_AGENT_TO_VIEWERS = 0, CL_DIR_VIEWERS_TO_AGENT, CL_DIR__COUNT };

struct cl_metrics_http_slot {
    const char *route;  /* a route pattern, "web" or "none" (static) */
    const char *method; /* "GET", ... (static) */
    uint64_t codes[32]; /* by cl__metrics_code_index (metrics.c) */
    struct cl_histogram latency;
};

struct cl_metrics_limiter {
    const char *name;
    const struct cl_ratelimit *rl;
};

struct cl_metrics {
    double start_time;                   /* Unix seconds, set by cl_metrics_init */
    uint64_t ws_opened[4];               /* by cl_metrics_kind: WebSockets opened */
    uint64_t fwd_bytes[CL_DIR__COUNT];   /* terminal bytes forwarded (payload) */
    uint64_t fwd_frames[CL_DIR__COUNT];  /* stdout to each viewer, stdin to the agent */
    uint64_t gaps;                       /* output a viewer never got (gap notices) */
    uint64_t lag_events;                 /* a viewer's queue overflowed: output held */
    uint64_t ping_drops;                 /* peers dropped for silence (liveness.c) */
    uint64_t sendq_overflows;            /* peers closed for a full send queue */
    uint64_t rejected[CL_REJECT__COUNT]; /* connections refused or closed, by reason */
    struct cl_metrics_http_slot http[CL_METRICS_HTTP_SLOTS];
    size_t http_n;
    struct cl_histogram store[CL_METRICS_STORE_OPS];
    const char *store_names[CL_METRICS_STORE_OPS];
    struct cl_metrics_limiter limiters[CL_METRICS_LIMITERS];
    size_t limiters_n;
};

extern struct cl_metrics cl_metrics;

/* What is read when scraped (api_metrics.c). */
struct cl_metrics_gauges {
    uint64_t conns[4]; /* by cl_metrics_kind: open now */
    uint64_t agents;   /* authenticated agents (devices online) */
    uint64_t viewers;  /* browsers attached to a live session */
    uint64_t sessions_starting, sessions_running;
    uint64_t lagging_viewers;
    uint64_t queue_bytes, queue_max_bytes; /* WebSocket send queues: sum, largest */
    uint64_t queue_frames;
    int64_t open_fds, max_fds; /* -1: unknown */
    int64_t rss_bytes;         /* -1: unknown */
    /* a relay in a cluster (--nats): its NATS connection (bus.h) */
    bool nats; /* configured: the clawlink_nats_* families are written */
    bool nats_connected;
    uint64_t nats_msgs_in, nats_msgs_out, nats_bytes_in, nats_bytes_out;
    uint64_t nats_dropped, nats_reconnects, nats_subs;
};

/* Connection kinds as labelled: http, agent, viewer, events. */
enum cl_metrics_kind { CL_KIND_HTTP = 0, CL_KIND_AGENT, CL_KIND_VIEWER, CL_KIND_EVENTS };

/* Zeroes the registry and records the start time (relay start-up, tests). */
void cl_metrics_init(void);

/* Counts one observation of v into h with the given bucket bounds
 * (ascending, n <= CL_METRICS_BUCKETS_MAX). */
void cl_histogram_observe(struct cl_histogram *h, const double *bounds, size_t n, double v);

/* Bucket bounds (seconds) of the HTTP and store latency histograms. */
extern const double cl_metrics_http_buckets[];
extern const size_t cl_metrics_http_buckets_n;
extern const double cl_metrics_store_buckets[];
extern const size_t cl_metrics_store_buckets_n;

/* Counts an HTTP request answered with status after seconds. route and
 * method must be static strings (a route table pattern, or "web" /
 * "none"; cl_http_method_name). */
void cl_metrics_http(const char *route, const char *method, int status, double seconds);

/* Counts a store operation (op < CL_METRICS_STORE_OPS, name static). */
void cl_metrics_store(unsigned op, const char *name, double seconds);

/* Names a rate limiter: its refusals (cl_ratelimit_refused) are exposed
 * as clawlink_ratelimit_refusals_total{limiter=name}. name is static. */
void cl_metrics_limiter(const char *name, const struct cl_ratelimit *rl);

/* Monotonic seconds (for latency). */
double cl_metrics_now(void);

/* Reads this process's open and maximum file descriptors and resident
 * memory into g (-1 for what cannot be read). */
void cl_metrics_process(struct cl_metrics_gauges *g);

/* Renders the registry and g as Prometheus text into a buffer the
 * caller frees (*out, *out_len). 0, or CL_ELIMIT past
 * CL_METRICS_TEXT_MAX (nothing returned). */
int cl_metrics_write(const struct cl_metrics *m, const struct cl_metrics_gauges *g, char **out,
                     size_t *out_len);

/* The bounded text buffer the writer uses, exposed for the unit test. */
struct cl_mbuf {
    char *buf;
    size_t len, cap, max;
    bool overflow; /* something did not fit: the text is incomplete */
};
void cl_mbuf_printf(struct cl_mbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s as a label value: \ " and newline escaped. */
void cl_mbuf_label(struct cl_mbuf *b, const char *s);
/* Appends a histogram's _bucket, _sum and _count lines for name with
 * nlabels label pairs {name, value} (values escaped here), buckets
 * cumulative and ending with le="+Inf". */
void cl_mbuf_histogram(struct cl_mbuf *b, const char *name, const char *const (*labels)[2],
                       size_t nlabels, const struct cl_histogram *h, const double *bounds,
                       size_t n);

#endif

/*
 * relay: the state of one clawlink-relay process, shared by its modules.
 *
 * One libuv loop runs everything: libwebsockets (HTTP + WebSocket on one
 * port), timers, signals, and the worker pool for password hashing.
 */
#ifndef CL_RELAY_H
#define CL_RELAY_H

#include <libwebsockets.h>
#include <stdbool.h>
#include <time.h>
#include <uv.h>

#include "core/limits.h"
#include "relay/router.h"
#include "relay/store.h"

struct cl_hub;
struct cl_nodes;
struct cl_chat;
struct cl_events;
struct cl_ratelimit;
struct cl_accounts;
struct cl_admission;
struct cl_consent;
struct cl_bus;
struct cl_bus_urls;
struct cl_proxy_nets;
struct cl_store_pool;

struct cl_relay_opts {
    char listen_addr[64]; /* "127.0.0.1" */
    int port;             /* 8080 */
    char data_dir[512];   /* "./var" */
    const char *tls_cert; /* PEM paths; both or neither */
    const char *tls_key;
    const char *public_url;       /* what agents are told to dial (http[s]:// or ws[s]://) */
    unsigned agent_grace_s;       /* a disconnected agent's sessions wait this long (60) */
    unsigned ping_interval_s;     /* WebSocket ping after this much silence (20) */
    const char *smtp_url;         /* send mail through this server; NULL: outbox only */
    const char *smtp_from;        /* From: of the relay's mail */
    const char *connector_dir;    /* agent binaries to serve; NULL: beside this executable */
    const char *web_dir;          /* --web-dir (a realpath): the app from disk; NULL: embedded */
    const char *store_url;        /* --store (store.h: cl_store_open); NULL: sqlite:data_dir */
    unsigned max_conns_per_addr;  /* CL_RELAY_CONN_PER_ADDR (admission.h) */
    unsigned max_unauth_per_addr; /* CL_RELAY_UNAUTH_WS_PER_ADDR */
    unsigned max_sessions_device; /* CL_SESSIONS_PER_DEVICE: open sessions start-session allows */
    unsigned max_sessions_user;   /* CL_SESSIONS_PER_USER */
    unsigned drain_s;             /* --drain: /readyz 503 this long before closing (0) */
    unsigned max_pending_invitations; /* CL_INVITATIONS_PENDING_MAX, per project */
    /* --metrics-token-file: /metrics on; NULL: off (404) */
    const char *metrics_token_file;
    /* --nats (or $CLAWLINK_NATS_URL): the NATS servers of a cluster, parsed
     * (bus.h); NULL: a relay on its own, no bus */
    const struct cl_bus_urls *nats;
    /* --trusted-proxy: load balancers whose X-Forwarded-For names the
     * client (proxy.h); NULL: none, the TCP peer is the client */
    const struct cl_proxy_nets *trusted_proxies;
};

struct cl_relay {
    uv_loop_t *loop;
    struct lws_context *lws;
    struct cl_store store;
    struct cl_store_pool *store_pool; /* the API's store work off the loop (store_pool.h) */
    struct cl_hub *hub;
    struct cl_router router;            /* agents and viewers by id (router.h): the local one */
    struct cl_events *events;           /* /events subscribers (dashboards) */
    struct cl_nodes *nodes;             /* OpenClaw nodes: health and requests (nodes.c) */
    struct cl_chat *chat;               /* chat API requests in flight to agents (chat.c) */
    struct cl_liveness *liveness;       /* pings quiet WebSocket peers, drops silent ones */
    struct cl_admission *admission;     /* per-address and relay-wide connection caps */
    struct cl_bus *bus;                 /* NATS between relays (bus.h); NULL without --nats */
    char relay_id[CL_RELAY_ID_LEN + 1]; /* random at start: this relay among a cluster's */
    struct lws *cb_wsi;                 /* the connection whose lws callback is running */
    struct cl_relay_opts opts;
    char relay_url[CL_URL_MAX];          /* ws[s]://host:port, told to agents at pairing */
    struct cl_ratelimit *rl_pair_addr;   /* failed pairing attempts per address */
    struct cl_ratelimit *rl_pair_code;   /* failed attempts naming one code */
    struct cl_ratelimit *rl_pair_global; /* failed pairing attempts, all addresses */
    int64_t pair_addr_full_until;        /* rl_pair_addr could not record a failure */
    struct cl_accounts *accounts;        /* account routes' limiters and mail */
    struct cl_consent *consent;          /* verification and invitation limiters (consent.h) */
    uint8_t csrf_key[CL_HASH_LEN];       /* CSRF tokens are derived with it (webauth.c) */
    bool started;                        /* serving: set just before the loop runs (GET /readyz) */
    bool draining; /* SIGTERM with --drain: /readyz says no, all else still served */
    /* /metrics answers (api_metrics.c) to the scraper's bearer token, kept
     * as its hash */
    bool metrics_on;
    uint8_t metrics_token_hash[CL_HASH_LEN];
    bool stopping;
};

/* Seconds since the epoch (wall clock, for stored times). Inline: every
 * module reads the clock without depending on server.c. */
static inline int64_t cl_now(void)
{
    return (int64_t)time(NULL);
}

#endif

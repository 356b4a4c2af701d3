/*
 * bus: the relay's connection to NATS, the message system between the
 * relays of a cluster (--nats; docs/operations.md, "A cluster").
 *
 * A thin owner of one natsConnection (the NATS C client, libnats) that
 * hands messages to the relay's loop thread. libnats runs its own threads:
 * one reads the socket, a small pool delivers messages
 * (natsOptions_UseGlobalMessageDelivery), and reconnection runs on a
 * thread of its own. Whatever they deliver is copied into one bounded
 * queue and the loop is woken (uv_async): every callback below runs on
 * the loop thread, in the order NATS delivered the messages of a
 * subscription. Publishing is non-blocking from the loop (libnats buffers
 * and a flusher thread writes).
 *
 * The connection never gives up: a server that is down at start, or goes
 * away later, is retried for ever (CL_RELAY_BUS_RECONNECT_MS apart) and
 * the relay keeps serving what is local meanwhile. Its state is reported
 * to the owner (on_state) and by cl_bus_state for /healthz.
 *
 * Bounded: the queue to the loop holds at most CL_RELAY_BUS_QUEUE_MAX
 * bytes; past it a message is dropped and counted (cl_bus_stats). What
 * travels on the bus must therefore survive a lost message (the terminal's
 * output carries offsets and is replayed from them).
 *
 * Secrets: a server URL may hold a user and password; they are given to
 * libnats and never logged or reported (only host:port is).
 */
#ifndef CL_RELAY_BUS_H
#define CL_RELAY_BUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "core/limits.h"

struct cl_bus;
struct cl_bus_sub;

enum cl_bus_state {
    CL_BUS_CONNECTING,   /* never connected yet (retrying) */
    CL_BUS_CONNECTED,    /* connected to a server of the list */
    CL_BUS_RECONNECTING, /* lost the server, retrying */
    CL_BUS_CLOSED,       /* cl_bus_close ran */
};

/* A message of a subscription: subject and data valid during the call
 * only; reply is the subject to answer on, or NULL. */
typedef void (*cl_bus_msg_fn)(void *ctx, const char *subject, const char *reply,
                              const uint8_t *data, size_t len);
/* The connection changed state (loop thread). */
typedef void (*cl_bus_state_fn)(void *ctx, enum cl_bus_state state);

/* The servers of --nats: a comma-separated list of nats://[USER[:PASS]@]
 * HOST[:PORT] (4222 by default), at most CL_RELAY_BUS_SERVERS_MAX. */
struct cl_bus_urls {
    int n;
    char url[CL_RELAY_BUS_SERVERS_MAX][CL_RELAY_BUS_URL_MAX];
    /* host:port of each, for logs and health (never the credentials) */
    char where[CL_RELAY_BUS_SERVERS_MAX][CL_RELAY_BUS_URL_MAX];
};

/* Parses spec into *out. 0, or CL_EINVAL with why in err (err never
 * quotes a password). */
int cl_bus_urls_parse(const char *spec, struct cl_bus_urls *out, char *err, size_t errcap);

struct cl_bus_config {
    const struct cl_bus_urls *urls;
    const char *name;         /* the connection's name on the server */
    cl_bus_state_fn on_state; /* may be NULL */
    void *ctx;
};

/* Starts connecting (never waits for the server: a relay starts while NATS
 * is down). 0 and *out, or CL_ENOMEM/CL_EIO with why in err. Loop thread. */
int cl_bus_open(uv_loop_t *loop, const struct cl_bus_config *cfg, struct cl_bus **out, char *err,
                size_t errcap);

/* Closes the connection: no callback runs after it returns; subscriptions
 * still held are ended. Frees b (NULL is fine). The libuv handle closes on
 * the loop's next turn; run the loop once more before closing it. */
void cl_bus_close(struct cl_bus *b);

/* Subscribes fn to subject (NATS wildcards allowed). 0 and *out, or
 * CL_EINVAL (bad subject), CL_ELIMIT (CL_RELAY_BUS_SUBS_MAX held),
 * CL_EIO. Works while disconnected: libnats subscribes again on
 * reconnecting. */
int cl_bus_subscribe(struct cl_bus *b, const char *subject, cl_bus_msg_fn fn, void *ctx,
                     struct cl_bus_sub **out);
/* Ends a subscription: fn is not called again for it, even for messages
 * already queued. NULL is fine. */
void cl_bus_unsubscribe(struct cl_bus_sub *s);

/* Publishes len bytes on subject (reply: NULL, or a subject the receiver
 * answers on). 0; CL_EINVAL (bad subject, or len over
 * CL_RELAY_BUS_MSG_MAX); CL_ESTATE while not connected (nothing is
 * buffered for later: the caller decides); CL_EIO. */
int cl_bus_publish(struct cl_bus *b, const char *subject, const char *reply, const void *data,
                   size_t len);

enum cl_bus_state cl_bus_state(const struct cl_bus *b);
const char *cl_bus_state_name(enum cl_bus_state st);
/* host:port of the server connected to ("" when none); valid until the
 * next state change. */
const char *cl_bus_server(const struct cl_bus *b);
/* Seconds since the state last changed (for health: "reconnecting for
 * 12 s"). */
double cl_bus_state_age(const struct cl_bus *b);

struct cl_bus_stats {
    uint64_t msgs_in, bytes_in;   /* delivered to the loop */
    uint64_t msgs_out, bytes_out; /* published */
    uint64_t dropped;             /* over CL_RELAY_BUS_QUEUE_MAX */
    uint64_t reconnects;          /* times it connected again after a loss */
    size_t subs;                  /* held now */
};
void cl_bus_stats(const struct cl_bus *b, struct cl_bus_stats *out);

/* Releases libnats's process-wide state (its threads): once, at exit,
 * after every bus is closed. */
void cl_bus_library_close(void);

#endif

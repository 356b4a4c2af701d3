/*
 * gateway: a WebSocket client of the local OpenClaw gateway.
 *
 * A client (wsclient.h) on the agent's one WebSocket context. It waits for the gateway's
 * connect.challenge, answers `connect` (protocol range, client id and mode, role operator, the
 * scopes the declared capabilities need, the shared or device token, and the device identity
 * signing the v3 payload), then carries requests
 * ({type:"req", id, method, params} -> {type:"res", id, ok, payload |
 * error}: each request has its own callback, so any user of the connection
 * gets its own answers) and hands every event and state change to each of
 * its subscribers (the node handler, openclaw.c; later the chat bridge).
 * The agent's main loop owns it (main.c creates it when OpenClaw is
 * configured or discovered). It treats 2 x tickIntervalMs (plus
 * slack) without a frame as a dead link, and reconnects with wsclient's
 * backoff (1 s .. 30 s). A refused token (AUTH_TOKEN_MISMATCH), a device that
 * needs pairing, or a protocol mismatch are logged once with what to do
 * and retried at the longest delay; the node then reads "offline".
 * Protocol facts: docs/openclaw.md.
 */
#ifndef CL_AGENT_GATEWAY_H
#define CL_AGENT_GATEWAY_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "agent/gateway_discover.h"
#include "agent/gateway_identity.h"
#include "agent/wsclient.h"
#include "core/proto.h"

/* The gateway protocol versions this client speaks (2026.9 speaks 4). */
#define CL_GW_PROTOCOL_MIN 3
#define CL_GW_PROTOCOL_MAX 4
/* From opening the socket to hello-ok. */
#define CL_GW_HANDSHAKE_TIMEOUT_MS 15000
/* Until hello-ok says otherwise. */
#define CL_GW_TICK_DEFAULT_MS 30000
/* Largest message accepted from the gateway (hello-ok lists hundreds of
 * methods); over it the connection is dropped. */
#define CL_GW_MAX_MESSAGE (8 * 1024 * 1024)
/* Bytes queued towards the gateway before requests are refused. */
#define CL_GW_SENDQ_MAX      (4 * 1024 * 1024)
#define CL_GW_BACKOFF_MIN_MS 1000
#define CL_GW_BACKOFF_MAX_MS 30000
/* Subscribers of one gateway connection (cl_gw_subscribe). */
#define CL_GW_MAX_SUBSCRIBERS 8

struct cl_gw;

/* A request's answer: ok with the payload, or not ok with the error
 * object ({code, message, details?}) or NULL (timeout, connection lost)
 * and a one-line message. Both are valid only during the call. */
typedef void (*cl_gw_reply_fn)(void *ctx, bool ok, json_t *payload, const char *message);

/* What a subscriber hears; ctx is what it subscribed with. */
struct cl_gw_handler {
    /* The published state changed (online, reconnecting, offline); why is
     * a short reason ("" when online). */
    void (*on_state)(void *ctx, enum cl_node_state state, const char *why);
    /* An event after the handshake (tick excluded). payload is valid only
     * during the call and may be NULL; it is shared by every subscriber:
     * do not change it. */
    void (*on_event)(void *ctx, const char *event, json_t *payload);
};

/* Creates the client for the gateway in s (copied, token included), a
 * client of wsc (which must outlive it), with
 * identity id (copied); identity_path is where a device token the gateway
 * issues is kept (may be NULL). caps selects the scopes: operator.read,
 * plus operator.write for chat, operator.admin for restart or workflow.
 * Returns 0 with *out set, or CL_EINVAL (bad URL). Does not
 * connect: call cl_gw_start. */
int cl_gw_new(uv_loop_t *loop, struct cl_wsc_ctx *wsc, const struct cl_gw_settings *s,
              const struct cl_gw_identity *id, const char *identity_path, unsigned caps,
              struct cl_gw **out, char *err, size_t errlen);

/* Adds a subscriber: h (copied) is called with ctx for every event and
 * state change from now on. Returns 0,
 * or CL_ELIMIT past CL_GW_MAX_SUBSCRIBERS. */
int cl_gw_subscribe(struct cl_gw *g, const struct cl_gw_handler *h, void *ctx);
/* Removes the subscriptions made with ctx (safe during a callback). */
void cl_gw_unsubscribe(struct cl_gw *g, void *ctx);

void cl_gw_start(struct cl_gw *g);

/* Sends a request (takes the reference to params, which may be NULL for
 * {}). fn runs exactly once, later, unless cl_gw_cancel is called first:
 * with the answer, or not ok after timeout_ms, or when the connection is
 * lost. Returns 0 with *id set, or CL_ESTATE (not connected: fn is not
 * called) / CL_ELIMIT (send queue full). */
int cl_gw_request(struct cl_gw *g, const char *method, json_t *params, unsigned timeout_ms,
                  cl_gw_reply_fn fn, void *ctx, uint64_t *id);

/* Forgets request id: its callback will not run. */
void cl_gw_cancel(struct cl_gw *g, uint64_t id);

enum cl_node_state cl_gw_state(const struct cl_gw *g);
/* The last connection or handshake failure ("" if none since online). */
const char *cl_gw_last_error(const struct cl_gw *g);
/* How many times an event frame's seq jumped (events this client missed)
 * since it was created; a subscriber that must see every event compares it
 * with the count it last saw. */
uint64_t cl_gw_seq_gaps(const struct cl_gw *g);
/* The server version from hello-ok ("" before). */
const char *cl_gw_server_version(const struct cl_gw *g);

/* Stops reconnecting and closes the connection (1000). Pending requests
 * are dropped without their callbacks. cl_gw_destroy closes the request
 * timer; after the loop ran and the WebSocket context is destroyed,
 * cl_gw_free. */
void cl_gw_close(struct cl_gw *g);
void cl_gw_destroy(struct cl_gw *g);
bool cl_gw_destroyed(const struct cl_gw *g);
void cl_gw_free(struct cl_gw *g);

#endif

/*
 * nodes: OpenClaw nodes behind the relay — their health from heartbeats,
 * and requests routed to them with their answers routed back.
 *
 * An agent that runs an OpenClaw gateway sends a `heartbeat` every 15 s
 * ({node_id, uptime, active_tasks, last_error, connection_state,
 * capabilities}); the relay keeps the last one in memory per device,
 * records last_heartbeat and kind "openclaw" in the store, and forgets it
 * when the agent disconnects. A request (prompt, status, restart, workflow,
 * workflows) gets a fresh request_id, goes to the device's agent, and its
 * answers (token..., then done / status / error with that request_id) come
 * back to the caller's handler. Every request ends exactly once: answered,
 * refused at once (agent not connected, not a node, gateway not online), cut
 * when the agent disconnects, or timed out (CL_NODE_IDLE_TIMEOUT_MS
 * without a word from the agent; a prompt's tokens count as words).
 * Protocol: docs/openclaw.md.
 */
#ifndef CL_RELAY_NODES_H
#define CL_RELAY_NODES_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/proto.h"
#include "relay/conn.h"

/* A request with nothing from the agent for this long fails (504). */
#define CL_NODE_IDLE_TIMEOUT_MS 30000
/* A prompt may wait this long for its first token (a model warming up). */
#define CL_NODE_PROMPT_TIMEOUT_MS 120000
/* Requests in flight per device; more are refused (429). */
#define CL_NODE_MAX_PENDING 32
/* What the PrivaClaw skill answers (it has no workflow list and no
 * terminal), when its heartbeats declare nothing. */
#define CL_CAP_SKILL (CL_CAP_CHAT | CL_CAP_STATUS | CL_CAP_RESTART | CL_CAP_WORKFLOW)

struct cl_relay;
struct cl_nodes;

/* The last heartbeat of a node. */
struct cl_node_info {
    enum cl_node_state state;
    unsigned caps;
    uint64_t uptime;
    int active_tasks;
    bool has_last_error;
    char last_error[256];
    int64_t last_heartbeat; /* wall clock, seconds */
};

/* How a request ends, to its caller. Exactly one of done / status /
 * error runs, once; token may run before done. Arguments are valid only
 * during the call. status is the HTTP status that fits the failure. */
struct cl_node_handler {
    void (*on_token)(void *ctx, const char *content, size_t len);
    void (*on_done)(void *ctx, json_t *result); /* result may be NULL */
    void (*on_status)(void *ctx, const struct cl_msg *m);
    void (*on_error)(void *ctx, int status, const char *code, const char *message);
};

struct cl_nodes *cl_nodes_new(struct cl_relay *r);
/* Ends every pending request (error 503) and closes the timer; the loop
 * must run once more to finish. */
void cl_nodes_free(struct cl_nodes *n);

/* The device's last heartbeat, if its agent is connected and has sent one. */
bool cl_nodes_get(struct cl_nodes *n, const char *device_id, struct cl_node_info *out);

/* Sends req (type and its fields; request_id is set here) to device_id's
 * agent, in the skill's shape to a PrivaClaw skill. Returns 0 with
 * *handle set, and the handler runs later; or an HTTP status (409 offline
 * / not a node / gateway not online, 429 busy, 501 a workflow list asked
 * of a skill) with code and message filled, and the handler does not run. */
int cl_nodes_request(struct cl_nodes *n, const char *device_id, struct cl_msg *req,
                     const struct cl_node_handler *h, void *ctx, uint64_t *handle,
                     const char **code, char *message, size_t msglen);

/* Forgets a pending request (its caller went away); the handler will not
 * run. */
void cl_nodes_cancel(struct cl_nodes *n, uint64_t handle);

#endif

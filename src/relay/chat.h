/*
 * chat: the agent's chat API carried through the relay (docs/chat.md,
 * "The chat API"; wire: docs/protocol.md, "Chat").
 *
 * An agent whose hello said `chat` >= 1 (c->chat) serves the API. A
 * request gets a fresh request_id and goes to the device's agent as a
 * chat_request; the agent answers with one chat_response, or with
 * chat_events (a stream) and then the chat_response that ends it. Every
 * request ends exactly once, to its caller's handler: answered, refused at
 * once (offline 409, no chat bridge 501, busy 429), cut when the agent
 * disconnects (502 device_offline), or timed out (504: no first word
 * within CL_CHAT_RELAY_ANSWER_MS, or a stream silent for
 * CL_CHAT_RELAY_STREAM_IDLE_MS). When the relay gives up on a request or
 * its caller goes away, the agent gets chat_cancel.
 *
 * The relay keeps nothing of a conversation: bodies and event data pass
 * through as the agent's compact JSON text and are never logged; the log
 * says device, request id, method and status.
 */
#ifndef CL_RELAY_CHAT_H
#define CL_RELAY_CHAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/proto.h"
#include "relay/conn.h"

struct cl_relay;
struct cl_chat;

/* How a request ends, to its caller. on_event may run several times, then
 * exactly one of on_response / on_error runs, once. Strings are valid only
 * during the call; json (compact JSON text, one line) may be NULL (absent).
 * on_event returns 0, or nonzero when the caller cannot take more (its
 * stream was cut): the request is then cancelled (chat_cancel to the
 * agent) and no handler runs again. status is the HTTP status. */
struct cl_chat_handler {
    int (*on_event)(void *ctx, const char *event, const char *json, size_t len);
    /* a stream has been quiet for CL_CHAT_RELAY_KEEPALIVE_MS; returns as
     * on_event */
    int (*on_keepalive)(void *ctx);
    void (*on_response)(void *ctx, int status, const char *json, size_t len);
    void (*on_error)(void *ctx, int status, const char *code, const char *message);
};

struct cl_chat *cl_chat_new(struct cl_relay *r);
/* Ends every pending request (error 503) and closes the timer; the loop
 * must run once more to finish. */
void cl_chat_free(struct cl_chat *ch);

/* Whether device_id's agent can take a chat request now: 0, or an HTTP
 * status (409 device_offline, 501 no_chat_bridge) with code and message
 * filled. */
int cl_chat_reachable(struct cl_chat *ch, const char *device_id, const char **code, char *message,
                      size_t msglen);

/* Sends req (a chat_request: method, path, query, user, json body;
 * request_id is set here) to device_id's agent. Returns 0 with *handle
 * set, and the handler runs later; or an HTTP status (409 device_offline,
 * 501 no_chat_bridge, 429 busy) with code and message filled, and the
 * handler does not run. */
int cl_chat_request(struct cl_chat *ch, const char *device_id, struct cl_msg *req,
                    const struct cl_chat_handler *h, void *ctx, uint64_t *handle, const char **code,
                    char *message, size_t msglen);

/* The caller went away: the agent gets chat_cancel and the request is
 * forgotten; the handler will not run. */
void cl_chat_cancel(struct cl_chat *ch, uint64_t handle);

/* Requests in flight to device_id (tests, metrics). */
size_t cl_chat_pending(struct cl_chat *ch, const char *device_id);

#endif

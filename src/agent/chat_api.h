/*
 * chat_api: the chat bridge's API, one set of handlers behind several
 * doors (docs/chat.md, "The chat API"). A door turns what it receives
 * into a cl_chat_req and what the handlers answer into its own replies:
 *   - the relay link (main.c): a chat_request frame in, chat_event and
 *     chat_response frames out (docs/protocol.md, "Chat");
 *   - the loopback HTTP door (chat_http.c, `clawlink up --chat-listen`):
 *     an HTTP request in, JSON or server-sent events out;
 *   - later, a direct peer-to-peer link.
 * The handlers know no transport: they read the request, use the chat
 * store, the gateway and the memory provider, and answer through the
 * reply table.
 *
 * A reply is zero or more events (a stream) and then exactly one end.
 * Whatever the handlers hand a door — one event's data, one end's body —
 * fits CL_CHAT_FRAME_MAX as compact JSON (a page is cut short to fit and
 * says so with has_more), so every door can carry it whole.
 */
#ifndef CL_AGENT_CHAT_API_H
#define CL_AGENT_CHAT_API_H

#include <jansson.h>
#include <stdbool.h>

struct cl_chat_api;
struct cl_chat_call;

/* One request, as a door received it. Everything is borrowed for the
 * duration of cl_chat_api_handle only. */
struct cl_chat_req {
    const char *method;    /* "GET", "POST", "PUT", "PATCH", "DELETE" */
    const char *path;      /* below the API's root: "/threads/12/messages" */
    const char *query;     /* the raw query string without "?", or NULL */
    json_t *body;          /* the JSON body, or NULL when none */
    const char *user_id;   /* the clawlink user asking; "" on the loopback door */
    const char *user_name; /* their display name, "" when unknown */
};

/* How a call answers. event may run any number of times, then end runs
 * exactly once (status an HTTP status; body NULL for none, e.g. 204),
 * unless the call was cancelled first. data and body are borrowed: valid
 * during the call only. The callbacks may run before cl_chat_api_handle
 * returns. */
struct cl_chat_reply {
    void (*event)(void *ctx, const char *name, json_t *data);
    void (*end)(void *ctx, int status, json_t *body);
};

/* Handles req and answers through r with ctx. Returns the call while it
 * may still answer (a stream, a request waiting on the gateway), or NULL
 * when it has already ended (end ran). */
struct cl_chat_call *cl_chat_api_handle(struct cl_chat_api *api, const struct cl_chat_req *req,
                                        const struct cl_chat_reply *r, void *ctx);

/* The caller went away: call's reply callbacks never run again. What it
 * started (a reply being generated) goes on and is stored. */
void cl_chat_api_cancel(struct cl_chat_api *api, struct cl_chat_call *call);

#endif

/*
 * chat_http: the chat API's loopback door (docs/chat.md, "On loopback").
 *
 * `clawlink up --chat-listen 127.0.0.1:PORT` serves the chat API's
 * handlers (chat_api.h) at http://127.0.0.1:PORT/api/v1/chat/... for local
 * scripts: the same routes, JSON answers and server-sent event streams as
 * through the relay. A libwebsockets HTTP server: a listening vhost on the
 * agent's one lws context (wsclient.c), on its libuv loop.
 *
 * Guarded by a bearer token (`chat_token` in the agent config, or
 * CLAWLINK_CHAT_TOKEN, which wins): `Authorization: Bearer TOKEN` on every
 * request, compared in constant time (as hashes), never logged; a token
 * in the URL is refused (400 token_in_url) even when right, and so is a
 * request a browser page sends (any Origin header: 403 origin_refused).
 * Only loopback addresses are listened on (127.0.0.0/8, ::1, localhost):
 * anything else is refused at start. Limits: CL_CHAT_HTTP_* in
 * core/limits.h.
 */
#ifndef CL_AGENT_CHAT_HTTP_H
#define CL_AGENT_CHAT_HTTP_H

#include <libwebsockets.h>
#include <stddef.h>
#include <uv.h>

#include "agent/chat_api.h"
#include "core/limits.h"

struct cl_chat_http;

/* Splits "ADDR:PORT" ("127.0.0.1:8765", "[::1]:8765", "localhost:8765")
 * into addr (a numeric loopback address: "localhost" becomes 127.0.0.1)
 * and port (1..65535). 0, or CL_EINVAL with why in err: not ADDR:PORT, or
 * not a loopback address (the token would be all that guards the API on a
 * network, in clear text). */
int cl_chat_http_parse_listen(const char *s, char *addr, size_t addrlen, int *port, char *err,
                              size_t errlen);

/* The door's token: CLAWLINK_CHAT_TOKEN when set, else "chat_token" in
 * the agent config at config_path (read as a private file: mode 0600).
 * CL_CHAT_TOKEN_MIN..CL_TOKEN_MAX bytes without spaces or control
 * characters. 0 with out filled (wipe it), from naming the source; or
 * CL_ENOTFOUND (none set) / CL_EINVAL (bad) / the config's read error,
 * with a message in err. */
int cl_chat_http_token(const char *config_path, char *out, size_t cap, const char **from, char *err,
                       size_t errlen);

struct cl_chat_http_cfg {
    uv_loop_t *loop;
    struct lws_context *lws; /* the agent's context (cl_wsc_ctx_lws) */
    struct cl_chat_api *api;
    const char *addr; /* from cl_chat_http_parse_listen */
    int port;
    const char *token; /* hashed here; the caller wipes its copy */
};

/* Starts listening. 0, or CL_EIO (cannot listen: the address and port in
 * err) / CL_ENOMEM. */
int cl_chat_http_start(const struct cl_chat_http_cfg *cfg, struct cl_chat_http **out, char *err,
                       size_t errlen);

/* Before the API is freed: cancels every call in progress and answers
 * 503 from now on; closes the keepalive timer (run the loop once more). */
void cl_chat_http_stop(struct cl_chat_http *h);

/* After the lws context is destroyed (no callback can come). NULL: no-op. */
void cl_chat_http_free(struct cl_chat_http *h);

#endif

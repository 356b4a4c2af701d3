/*
 * http: the relay's HTTP/JSON API on libwebsockets.
 *
 * server.c feeds lws HTTP callbacks in; http.c collects the method, path
 * and body (at most CL_HTTP_MAX_BODY), authenticates the bearer token,
 * dispatches to a route (routes in api_*.c), and writes the response.
 * A route either replies at once or hands work to the libuv worker pool
 * and replies from the completion callback (cl_http_job_*).
 */
#ifndef CL_RELAY_HTTP_H
#define CL_RELAY_HTTP_H

#include <jansson.h>
#include <uv.h>

#include "relay/conn.h"
#include "relay/policy.h"
#include "relay/store.h"
#include "relay/views.h" /* the API modules reply with these */

#define CL_HTTP_MAX_PARAMS 2

/* What a route handler sees. */
struct cl_http_req {
    struct cl_conn *conn;
    struct cl_relay *relay;
    enum cl_http_method method;
    const char *path;
    const char *params[CL_HTTP_MAX_PARAMS]; /* ":id" segments, in order */
    json_t *body;                           /* parsed object, or NULL for GET */
    const char *user_id;                    /* authenticated user, or NULL */
    const uint8_t *token_hash;              /* hash of the session token, or NULL */
    const char *peer;                       /* client address */
    /* the store to use: the relay's own on the loop, or, for a
     * CL_ROUTE_WORKER route, the store worker's (store_pool.h) */
    struct cl_store *store;
    /* the token came from the cl_session cookie, not a bearer header (webauth.h) */
    bool cookie_auth;
};

typedef void (*cl_route_fn)(struct cl_http_req *req);

/* Who may call a route: a policy.c action (enum cl_action, which the
 * handler asks cl_policy_* for with the resource the request names), or
 * one of these markers. Every route but CL_ROUTE_PUBLIC needs a valid
 * bearer token (or session cookie, webauth.h) before its handler runs; a
 * cookie-authenticated POST/PUT/PATCH/DELETE also needs its CSRF token. */
#define CL_ROUTE_PUBLIC (-1) /* no user token: anyone (the body may carry its own credential) */
#define CL_ROUTE_SELF   (-2) /* any signed-in user, on their own things; names no one else's */

struct cl_route {
    enum cl_http_method method;
    const char *pattern; /* "/api/v1/projects/:id/devices" */
    int policy;          /* enum cl_action, CL_ROUTE_PUBLIC or CL_ROUTE_SELF */
    cl_route_fn fn;
    unsigned flags; /* CL_ROUTE_WORKER */
};

/* The route runs whole on a store worker (store_pool.h, decision 68): its
 * token is resolved there, and its handler's store calls (req->store)
 * block that worker, never the loop. Such a handler replies only with
 * cl_http_reply_json/_error/_errcode/_empty and cl_http_set_retry_after
 * (captured, sent by the loop afterwards), reads only req and the relay's
 * options, and does anything of the loop's (the router, /events, a rate
 * limiter) through cl_http_after. Without a store pool (tests that build
 * no relay) it runs on the loop like any route. */
#define CL_ROUTE_WORKER 1u

/* Runs fn(relay, arg) on the loop thread: at once in a loop route; after
 * the handler returns, before its reply is sent, in a CL_ROUTE_WORKER
 * route (also when the client has gone: what the handler changed is
 * done). fn owns arg. */
void cl_http_after(struct cl_http_req *req, void (*fn)(struct cl_relay *r, void *arg), void *arg);

/* Every route table, NULL-terminated; each table ends with a NULL
 * pattern. What the dispatcher walks, and what the tests enumerate. */
extern const struct cl_route *const cl_http_route_tables[];
/* "GET", "POST", ... */
const char *cl_http_method_name(enum cl_http_method m);
/* The policy action's name ("project.modify"), "public" or "self". */
const char *cl_route_policy_name(int policy);

/* The OpenAPI 3.1 document (docs/openapi.json, embedded at build time),
 * served at GET /api/v1/openapi.json. Not NUL-terminated. */
extern const unsigned char cl_openapi_json[];
extern const size_t cl_openapi_json_len;

/* Matches a request path against a route pattern ("/a/:id/b"); each ":x"
 * segment is copied into scratch and pointed to from params (at most
 * CL_HTTP_MAX_PARAMS). Exposed for tests and the fuzzer. */
bool cl_http_match(const char *pattern, const char *path, const char **params, char *scratch,
                   size_t scratch_len);

/* Replies with status and a JSON body (steals the reference to body). */
void cl_http_reply_json(struct cl_conn *c, int status, json_t *body);
/* Replies {"error":{"code","message"}}. */
void cl_http_reply_error(struct cl_conn *c, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Maps a CL_E* code from policy or store to 401/403/404/500. */
void cl_http_reply_errcode(struct cl_conn *c, int err);
/* Sets Retry-After on the next reply. */
void cl_http_set_retry_after(struct cl_conn *c, unsigned seconds);
/* Sets a Set-Cookie header (value copied, wiped once sent) on the next
 * reply. */
void cl_http_set_cookie(struct cl_conn *c, const char *value);
/* Replies with status and no body (204). */
void cl_http_reply_empty(struct cl_conn *c, int status);
/* Replies 200 with the file at path, streamed by lws (not read into
 * memory), as content_type, offered for download as filename. Returns 0,
 * or CL_EIO if the file cannot be served (nothing was sent: reply
 * otherwise). */
int cl_http_reply_file(struct cl_conn *c, const char *path, const char *content_type,
                       const char *filename);

/* A reply that is not JSON (web.c: the app's files and pages). The
 * strings are static or copied (etag); data is copied unless borrowed
 * (it outlives the reply: embedded bytes). head: the headers only
 * (HEAD, 304), with Content-Length len unless the status is 304.
 * cache_control NULL: no-store. The body goes out CL_HTTP_CHUNK bytes
 * per writable callback. */
#define CL_HTTP_CHUNK (16 * 1024)
struct cl_http_body {
    int status;
    const char *content_type;
    const void *data;
    size_t len;
    bool borrowed;
    bool head;
    const char *cache_control;
    const char *etag;             /* the ETag header's value, quotes included, or NULL */
    const char *content_encoding; /* "gzip", or NULL */
    bool vary_encoding;           /* Vary: Accept-Encoding */
};
void cl_http_reply_body(struct cl_conn *c, const struct cl_http_body *b);

/* Streamed replies (server-sent events): cl_http_stream_begin sends the
 * status and headers without a length (the connection closes at the end,
 * "connection: close"); cl_http_stream_write queues bytes, at most
 * CL_HTTP_STREAM_MAX waiting (over it the stream is cut: CL_ELIMIT);
 * cl_http_stream_end closes the connection once everything is written.
 * Only for a request not yet answered. */
#define CL_HTTP_STREAM_MAX (1024 * 1024)
void cl_http_stream_begin(struct cl_conn *c, int status, const char *content_type);
int cl_http_stream_write(struct cl_conn *c, const char *data, size_t len);
void cl_http_stream_end(struct cl_conn *c);

/* While a route waits on something that answers later (a node, a
 * timer), fn(arg) runs once if the connection closes first; pass NULL to
 * clear it before replying. */
void cl_http_on_gone(struct cl_conn *c, void (*fn)(void *arg), void *arg);

/* Copies the value of query parameter name ("?name=value", URL-decoded
 * by lws) into buf. 0, CL_ENOTFOUND when absent, CL_ELIMIT when the value
 * does not fit len bytes with its NUL (the caller answers 400). */
int cl_http_query(struct cl_http_req *req, const char *name, char *buf, size_t len);

/* Reads the request body's "name": required, non-blank, at most
 * CL_NAME_MAX bytes, no control characters. 0 with out set, or replies 400
 * and returns CL_EINVAL. (Project and device names.) */
int cl_http_body_name(struct cl_http_req *req, char out[CL_NAME_MAX + 1]);

/* Worker jobs: work runs on a pool thread and must not touch the store,
 * the hub or lws; done runs on the loop thread with req == NULL if the
 * connection went away meanwhile (then only free your state). */
typedef void (*cl_job_work_fn)(void *arg);
typedef void (*cl_job_done_fn)(struct cl_conn *c, void *arg);
int cl_http_job_start(struct cl_conn *c, cl_job_work_fn work, cl_job_done_fn done, void *arg);

/* A request's headers came (server.c sets c->ops to cl_http_conn_ops
 * first): returns what the lws callback should return. Its body, its
 * reply and its close go through the table (conn.h). */
int cl_http_on_request(struct cl_conn *c, struct lws *wsi, const char *uri);
extern const struct cl_conn_ops cl_http_conn_ops;

/* The route table (api_*.c register theirs through these arrays). */
extern const struct cl_route cl_routes_auth[];
extern const struct cl_route cl_routes_projects[];
extern const struct cl_route cl_routes_functions[];
extern const struct cl_route cl_routes_sessions[];
extern const struct cl_route cl_routes_account[];
extern const struct cl_route cl_routes_devices[];
extern const struct cl_route cl_routes_connector[];
extern const struct cl_route cl_routes_nodes[];
extern const struct cl_route cl_routes_chat[];
extern const struct cl_route cl_routes_invitations[];
extern const struct cl_route cl_routes_metrics[];

/* Pairing codes (pair-device, and the installer's download; api_functions.c,
 * limits in core/limits.h): cl_http_pairing_begin hashes the code as typed
 * into hash and applies the limits before it is looked up; false after it
 * replied (404 invalid_code for what cannot be a code, 410 code_voided,
 * 429 rate_limited). cl_http_pairing_failed counts a lookup's failure
 * (CL_ENOTFOUND, CL_EEXPIRED) and replies as cl_http_reply_code_error
 * (404 invalid_code, 410 code_expired, or the code's status). */
bool cl_http_pairing_begin(struct cl_http_req *req, const char *code_in, int64_t now,
                           uint8_t hash[CL_HASH_LEN]);
void cl_http_pairing_failed(struct cl_http_req *req, const uint8_t hash[CL_HASH_LEN], int64_t now,
                            int rc);
void cl_http_reply_code_error(struct cl_conn *c, int rc);

/* Tokens of user_id were revoked: closes at once the WebSockets (terminal
 * viewers, /events) that were authenticated with one of them (hub.h,
 * events.h). Call after the store change. (api_account.c) */
void cl_http_tokens_revoked(struct cl_relay *r, const char *user_id);

#endif

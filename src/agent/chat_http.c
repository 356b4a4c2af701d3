/*
 * chat_http: the loopback door of the chat API on libwebsockets' HTTP
 * server (chat_http.h). lws parses the requests; this module checks them
 * (path, token, framing, limits), hands them to cl_chat_api_handle and
 * writes what the handlers answer: a JSON reply (keep-alive), or a stream
 * of server-sent events that ends with `done` or `error` and closes the
 * connection — the relay's framing (docs/chat.md "Through the relay").
 *
 * One struct per connection (lws's per-session data), listed in the door
 * for stop and the keepalive timer. Nothing of a request's content is
 * logged: method, route, status.
 */
#include "agent/chat_http.h"
#include "agent/config.h"
#include "core/err.h"
#include "core/json.h"
#include "core/log.h"
#include "core/secret.h"
#include "core/urlq.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The API's root on this door: /api/v1/chat/threads is the API's /threads. */
#define CL__ROOT "/api/v1/chat"
/* What a config file holding the token may weigh (it is a small JSON). */
#define CL__CONFIG_MAX (256 * 1024)
/* One write per writeable callback. */
#define CL__CHUNK (16 * 1024)

struct cl__hc;

struct cl_chat_http {
    uv_loop_t *loop;
    struct cl_chat_api *api;
    struct lws_vhost *vh;
    struct lws_protocols protocols[2]; /* lws keeps a pointer to them */
    uint8_t token_hash[CL_HASH_LEN];
    struct cl__hc *conns; /* open connections that sent a request */
    unsigned nconns;
    uv_timer_t timer; /* keepalives for quiet streams */
    bool stopped;
    char addr[64];
    int port;
};

enum cl__phase {
    CL__IDLE = 0,    /* reading the request, or waiting on the API */
    CL__REPLY,       /* a whole reply is ready: headers, then the body */
    CL__STREAM_HEAD, /* a stream began: its headers are due */
    CL__STREAMING,   /* stream headers sent: events as they come */
};

/* One connection (lws allocates it zeroed, frees it after CLOSED_HTTP). */
struct cl__hc {
    struct cl_chat_http *srv;
    struct lws *wsi;
    struct cl__hc *next, *prev;
    bool listed;
    /* the request */
    char method[8];
    char route[48]; /* what the log names: the path below the root, ids as :id */
    char path[CL_CHAT_PATH_MAX + 1];
    char query[CL_CHAT_QSTR_MAX + 1];
    char *body;
    size_t body_len;
    bool body_expected;
    bool close_after; /* answered before the body was read: close */
    /* the call */
    struct cl_chat_call *call;
    bool in_handle, ended, cut;
    /* the reply */
    enum cl__phase phase;
    int status;
    bool stream_end;
    char *out; /* LWS_PRE headroom, then what waits for the socket */
    size_t out_len, out_cap, out_off;
    uint64_t last_write; /* uv_now of the last stream write */
};

/* ---- the listen address and the token --------------------------------- */

int cl_chat_http_parse_listen(const char *s, char *addr, size_t addrlen, int *port, char *err,
                              size_t errlen)
{
    char host[64];
    const char *colon, *p;
    size_t hlen;
    long v = 0;
    struct in_addr a4;
    struct in6_addr a6;

    if (!s || !*s)
        return cl_seterr(err, errlen, CL_EINVAL, "--chat-listen wants ADDR:PORT (127.0.0.1:PORT)");
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':')
            return cl_seterr(err, errlen, CL_EINVAL, "--chat-listen: [ADDR]:PORT expected");
        hlen = (size_t)(close - s - 1);
        if (hlen >= sizeof host)
            return cl_seterr(err, errlen, CL_EINVAL, "--chat-listen: address too long");
        memcpy(host, s + 1, hlen);
        colon = close + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon || strchr(s, ':') != colon)
            return cl_seterr(err, errlen, CL_EINVAL,
                             "--chat-listen wants ADDR:PORT (127.0.0.1:PORT, [::1]:PORT)");
        hlen = (size_t)(colon - s);
        if (hlen >= sizeof host)
            return cl_seterr(err, errlen, CL_EINVAL, "--chat-listen: address too long");
        memcpy(host, s, hlen);
    }
    host[hlen] = '\0';
    for (p = colon + 1; *p >= '0' && *p <= '9' && v <= 65535; p++)
        v = v * 10 + (*p - '0');
    if (p == colon + 1 || *p || v < 1 || v > 65535)
        return cl_seterr(err, errlen, CL_EINVAL, "--chat-listen: the port must be 1-65535");
    if (strcasecmp(host, "localhost") == 0)
        snprintf(host, sizeof host, "127.0.0.1");
    if (inet_pton(AF_INET, host, &a4) == 1) {
        if ((ntohl(a4.s_addr) >> 24) != 127)
            goto not_loopback;
    } else if (inet_pton(AF_INET6, host, &a6) == 1) {
        if (!IN6_IS_ADDR_LOOPBACK(&a6))
            goto not_loopback;
    } else {
        return cl_seterr(err, errlen, CL_EINVAL,
                         "--chat-listen: the address must be a numeric loopback address "
                         "(127.0.0.1, ::1) or localhost");
    }
    if (strlen(host) >= addrlen)
        return cl_seterr(err, errlen, CL_EINVAL, "--chat-listen: address too long");
    snprintf(addr, addrlen, "%s", host);
    *port = (int)v;
    return 0;

not_loopback:
    return cl_seterr(err, errlen, CL_EINVAL,
                     "--chat-listen %s is not a loopback address: the chat API listens on "
                     "loopback only (127.0.0.1, ::1); reach it from elsewhere through the relay",
                     host);
}

static int cl__token_ok(const char *t, char *err, size_t errlen, const char *from)
{
    size_t n = strlen(t);
    if (n < CL_CHAT_TOKEN_MIN || n > CL_TOKEN_MAX)
        return cl_seterr(err, errlen, CL_EINVAL, "the chat token (%s) must be %d to %d bytes", from,
                         CL_CHAT_TOKEN_MIN, CL_TOKEN_MAX);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)t[i] <= 0x20 || t[i] == 0x7f)
            return cl_seterr(err, errlen, CL_EINVAL,
                             "the chat token (%s) has spaces or control characters", from);
    return 0;
}

int cl_chat_http_token(const char *config_path, char *out, size_t cap, const char **from, char *err,
                       size_t errlen)
{
    const char *env = getenv("CLAWLINK_CHAT_TOKEN");
    char *text = NULL;
    size_t len = 0;
    json_t *root, *v;
    int rc;

    if (env && *env) {
        *from = "CLAWLINK_CHAT_TOKEN";
        rc = cl__token_ok(env, err, errlen, *from);
        if (rc == 0 && strlen(env) >= cap)
            rc = cl_seterr(err, errlen, CL_EINVAL, "the chat token is too long");
        if (rc == 0)
            snprintf(out, cap, "%s", env);
        return rc;
    }
    *from = "chat_token in the agent config";
    if (!config_path)
        return cl_seterr(err, errlen, CL_ENOTFOUND, "no chat token");
    rc = cl_agent_file_read_private(config_path, CL__CONFIG_MAX, "the device token", &text, &len,
                                    err, errlen);
    if (rc)
        return rc;
    root = json_loadb(text, len, 0, NULL);
    cl_wipe(text, len);
    free(text);
    if (!json_is_object(root)) {
        json_decref(root);
        return cl_seterr(err, errlen, CL_EINVAL, "%s is not a JSON object", config_path);
    }
    v = json_object_get(root, "chat_token");
    if (!v || json_is_null(v)) {
        json_decref(root);
        return cl_seterr(err, errlen, CL_ENOTFOUND,
                         "--chat-listen needs a token: set \"chat_token\" in %s or "
                         "CLAWLINK_CHAT_TOKEN",
                         config_path);
    }
    if (!json_is_string(v) || json_string_length(v) >= cap) {
        json_decref(root);
        return cl_seterr(err, errlen, CL_EINVAL, "chat_token in %s must be a string of %d-%d bytes",
                         config_path, CL_CHAT_TOKEN_MIN, CL_TOKEN_MAX);
    }
    snprintf(out, cap, "%s", json_string_value(v));
    /* jansson keeps its copy until the decref: wipe it first */
    cl_wipe((void *)json_string_value(v), json_string_length(v));
    json_decref(root);
    rc = cl__token_ok(out, err, errlen, *from);
    if (rc)
        cl_wipe(out, cap);
    return rc;
}

/* ---- replies ------------------------------------------------------------ */

/* Makes room for len more bytes after what waits (LWS_PRE headroom kept). */
static void cl__room(struct cl__hc *hc, size_t len)
{
    if (hc->out_len + len <= hc->out_cap)
        return;
    size_t cap = hc->out_cap ? hc->out_cap : 4096;
    while (cap < hc->out_len + len)
        cap *= 2;
    char *nb = realloc(hc->out, LWS_PRE + cap);
    if (!nb)
        abort();
    hc->out = nb;
    hc->out_cap = cap;
}

static void cl__append(struct cl__hc *hc, const char *data, size_t len)
{
    cl__room(hc, len);
    memcpy(hc->out + LWS_PRE + hc->out_len, data, len);
    hc->out_len += len;
}

static void cl__log_end(struct cl__hc *hc, int status, const char *how)
{
    cl_info("chat_http", "request", "method=%s route=%s status=%d%s%s", hc->method,
            hc->route[0] ? hc->route : "-", status, how ? " end=" : "", how ? how : "");
}

/* A whole reply: status and a JSON body (NULL: none). */
static void cl__reply(struct cl__hc *hc, int status, const char *json, size_t len)
{
    hc->status = status;
    hc->out_len = hc->out_off = 0;
    if (json && status != 204)
        cl__append(hc, json, len);
    hc->phase = CL__REPLY;
    lws_callback_on_writable(hc->wsi);
}

static void cl__reply_json(struct cl__hc *hc, int status, json_t *body)
{
    size_t len = 0;
    char *text = body ? cl_json_dump(body, &len) : NULL;
    cl__reply(hc, status, text, len);
    free(text);
}

static void cl__reply_error(struct cl__hc *hc, int status, const char *code, const char *message)
{
    json_t *e = json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", message);
    cl__reply_json(hc, status, e);
    json_decref(e);
    cl__log_end(hc, status, code);
}

/* Queues one server-sent event (json: one line of JSON; NULL: {}). false
 * when CL_CHAT_HTTP_STREAM_MAX bytes already wait: the stream is cut. */
static bool cl__sse(struct cl__hc *hc, const char *event, const char *json, size_t len)
{
    if (!json) {
        json = "{}";
        len = 2;
    }
    if (hc->out_len - hc->out_off + len + strlen(event) + 16 > CL_CHAT_HTTP_STREAM_MAX)
        return false;
    if (hc->phase == CL__IDLE) {
        hc->status = 200;
        hc->out_len = hc->out_off = 0;
        hc->phase = CL__STREAM_HEAD;
    }
    cl__append(hc, "event: ", 7);
    cl__append(hc, event, strlen(event));
    cl__append(hc, "\ndata: ", 7);
    cl__append(hc, json, len);
    cl__append(hc, "\n\n", 2);
    hc->last_write = uv_now(hc->srv->loop);
    lws_callback_on_writable(hc->wsi);
    return true;
}

/* The caller does not read: drop the connection; CLOSED_HTTP cancels the
 * call (never from inside the API's own callback). */
static void cl__cut(struct cl__hc *hc)
{
    hc->cut = true;
    cl_warn("chat_http", "stream cut: the caller does not read", "route=%s", hc->route);
    lws_set_timeout(hc->wsi, PENDING_TIMEOUT_HTTP_CONTENT, LWS_TO_KILL_ASYNC);
}

static void cl__on_event(void *ctx, const char *name, json_t *data)
{
    struct cl__hc *hc = ctx;
    size_t len = 0;
    char *text;

    if (hc->cut || hc->ended)
        return;
    text = data ? cl_json_dump(data, &len) : NULL;
    if (!cl__sse(hc, name, text, len))
        cl__cut(hc);
    free(text);
}

static void cl__on_end(void *ctx, int status, json_t *body)
{
    struct cl__hc *hc = ctx;
    size_t len = 0;
    char *text;

    if (hc->cut || hc->ended)
        return;
    hc->ended = true;
    hc->call = NULL;
    text = body ? cl_json_dump(body, &len) : NULL;
    if (hc->phase == CL__STREAM_HEAD || hc->phase == CL__STREAMING) {
        if (!cl__sse(hc, status < 400 ? "done" : "error", text, len))
            cl__cut(hc);
        hc->stream_end = true;
        lws_callback_on_writable(hc->wsi);
        cl__log_end(hc, status, "stream");
    } else {
        cl__reply(hc, status < 200 ? 502 : status, text, len);
        cl__log_end(hc, status, NULL);
    }
    free(text);
}

static const struct cl_chat_reply cl__reply_table = {cl__on_event, cl__on_end};

/* ---- requests ----------------------------------------------------------- */

static const char *cl__method(struct lws *wsi)
{
    static const struct {
        enum lws_token_indexes tok;
        const char *name;
    } map[] = {
        {WSI_TOKEN_GET_URI, "GET"},       {WSI_TOKEN_POST_URI, "POST"},
        {WSI_TOKEN_PUT_URI, "PUT"},       {WSI_TOKEN_PATCH_URI, "PATCH"},
        {WSI_TOKEN_DELETE_URI, "DELETE"},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (lws_hdr_total_length(wsi, map[i].tok) > 0)
            return map[i].name;
    return NULL;
}

/* The log's name for a path: its segments, numbers as :id. */
static void cl__route_name(const char *path, char *out, size_t cap)
{
    size_t n = 0;
    for (const char *p = path; *p && n + 4 < cap;) {
        if (*p == '/') {
            out[n++] = *p++;
        } else if (*p >= '0' && *p <= '9') {
            while (*p && *p != '/')
                p++;
            memcpy(out + n, ":id", 3);
            n += 3;
        } else {
            out[n++] = (*p >= 'a' && *p <= 'z') || *p == '_' ? *p : '?';
            p++;
        }
    }
    out[n] = '\0';
}

/* Query parts that would carry a credential in a URL. */
static bool cl__credential_name(const char *part, size_t len)
{
    static const char *const names[] = {"token", "access_token", "chat_token", "bearer",
                                        "authorization"};
    const char *eq = memchr(part, '=', len);
    size_t n = eq ? (size_t)(eq - part) : len;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strlen(names[i]) == n && strncasecmp(part, names[i], n) == 0)
            return true;
    return false;
}

/* The query for the API (core/urlq.h); 400 and true when it cannot go. */
static bool cl__read_query(struct cl__hc *hc)
{
    char frag[4096];
    size_t n = 0;
    hc->query[0] = '\0';
    for (int i = 0;; i++) {
        int len =
            lws_hdr_copy_fragment(hc->wsi, frag, (int)sizeof frag, WSI_TOKEN_HTTP_URI_ARGS, i);
        if (len < 0) {
            if (lws_hdr_fragment_length(hc->wsi, WSI_TOKEN_HTTP_URI_ARGS, i) <= 0)
                return false;
            len = -1;
        }
        if (len >= 0 && cl__credential_name(frag, (size_t)len)) {
            cl_wipe(frag, sizeof frag);
            cl__reply_error(hc, 400, "token_in_url",
                            "a token is never accepted in a URL (it ends up in logs and "
                            "histories): send it as Authorization: Bearer TOKEN");
            return true;
        }
        if (len < 0 || cl_urlq_add(hc->query, sizeof hc->query, &n, frag, (size_t)len)) {
            cl__reply_error(hc, 400, "bad_request", "the query string is too long");
            return true;
        }
    }
}

/* Authorization: Bearer TOKEN, compared as hashes in constant time. */
static bool cl__authorized(struct cl__hc *hc)
{
    char hdr[CL_TOKEN_MAX + 32];
    uint8_t got[CL_HASH_LEN];
    bool ok = false;
    int n = lws_hdr_total_length(hc->wsi, WSI_TOKEN_HTTP_AUTHORIZATION);

    if (n <= 0 || n >= (int)sizeof hdr)
        return false;
    if (lws_hdr_copy(hc->wsi, hdr, sizeof hdr, WSI_TOKEN_HTTP_AUTHORIZATION) == n &&
        strncasecmp(hdr, "Bearer ", 7) == 0) {
        cl_hash_str(hdr + 7, got);
        ok = cl_secret_equal(got, hc->srv->token_hash);
        cl_wipe(got, sizeof got);
    }
    cl_wipe(hdr, sizeof hdr);
    return ok;
}

/* Hands the request to the API. */
static void cl__dispatch(struct cl__hc *hc)
{
    json_t *body = NULL;
    struct cl_chat_req req;

    if (hc->srv->stopped) {
        cl__reply_error(hc, 503, "stopping", "the agent is stopping");
        return;
    }
    if (strcmp(hc->method, "POST") == 0 || strcmp(hc->method, "PUT") == 0 ||
        strcmp(hc->method, "PATCH") == 0) {
        json_error_t e;
        body = hc->body_len ? json_loadb(hc->body, hc->body_len, JSON_REJECT_DUPLICATES, &e)
                            : json_object();
        if (hc->body) {
            cl_wipe(hc->body, hc->body_len);
            free(hc->body);
            hc->body = NULL;
        }
        if (!json_is_object(body)) {
            json_decref(body);
            cl__reply_error(hc, 400, "bad_json", "the body must be a JSON object");
            return;
        }
    }
    memset(&req, 0, sizeof req);
    req.method = hc->method;
    req.path = hc->path;
    req.query = hc->query[0] ? hc->query : NULL;
    req.body = body;
    req.user_id = ""; /* a local script: no clawlink user */
    req.user_name = "";
    /* the API bounds its own waits; lws must not cut a stream shorter */
    lws_set_timeout(hc->wsi, NO_PENDING_TIMEOUT, 0);
    hc->in_handle = true;
    hc->call = cl_chat_api_handle(hc->srv->api, &req, &cl__reply_table, hc);
    hc->in_handle = false;
    if (hc->ended)
        hc->call = NULL;
    json_decref(body);
}

static void cl__list(struct cl__hc *hc)
{
    struct cl_chat_http *srv = hc->srv;
    hc->next = srv->conns;
    hc->prev = NULL;
    if (srv->conns)
        srv->conns->prev = hc;
    srv->conns = hc;
    srv->nconns++;
    hc->listed = true;
}

static void cl__unlist(struct cl__hc *hc)
{
    struct cl_chat_http *srv = hc->srv;
    if (!hc->listed)
        return;
    if (hc->prev)
        hc->prev->next = hc->next;
    else
        srv->conns = hc->next;
    if (hc->next)
        hc->next->prev = hc->prev;
    srv->nconns--;
    hc->listed = false;
}

/* Request framing: Content-Length only (as the relay, http.c). The status
 * to refuse with, or 0 with *clen set. */
static int cl__framing(struct lws *wsi, long long *clen, const char **why)
{
    char v[32];
    int n;
    *clen = 0;
    if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0) {
        *why = "send the body with Content-Length (Transfer-Encoding is not accepted)";
        return 411;
    }
    if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH) <= 0)
        return 0;
    n = lws_hdr_copy(wsi, v, sizeof v, WSI_TOKEN_HTTP_CONTENT_LENGTH);
    if (n <= 0 || n > 18 || strspn(v, "0123456789") != (size_t)n) {
        *why = "Content-Length is not a number";
        return 400;
    }
    *clen = atoll(v);
    return 0;
}

/* LWS_CALLBACK_HTTP: a request's headers are in. */
static int cl__on_request(struct cl__hc *hc, struct cl_chat_http *srv, struct lws *wsi,
                          const char *uri)
{
    const char *method = cl__method(wsi), *why = "";
    long long clen = 0;
    int st;

    /* keep-alive: a new request on the same connection starts clean */
    free(hc->out);
    free(hc->body);
    struct cl__hc *next = hc->next, *prev = hc->prev;
    bool listed = hc->listed;
    memset(hc, 0, sizeof *hc);
    hc->next = next;
    hc->prev = prev;
    hc->listed = listed;
    hc->srv = srv;
    hc->wsi = wsi;
    snprintf(hc->method, sizeof hc->method, "%s", method ? method : "?");
    if (!hc->listed) {
        if (srv->nconns >= CL_CHAT_HTTP_MAX_CONNS) {
            hc->close_after = true;
            cl__reply_error(hc, 503, "too_many_connections",
                            "the chat door has as many connections as it takes (16); close one");
            return 0;
        }
        cl__list(hc);
    }
    if (strncmp(uri, CL__ROOT "/", sizeof CL__ROOT) != 0 ||
        strlen(uri) - (sizeof CL__ROOT - 1) > CL_CHAT_PATH_MAX) {
        cl__reply_error(hc, 404, "no_route", "the chat API is at " CL__ROOT "/...");
        return 0;
    }
    snprintf(hc->path, sizeof hc->path, "%s", uri + sizeof CL__ROOT - 1);
    cl__route_name(hc->path, hc->route, sizeof hc->route);
    for (const char *p = hc->path; *p; p++)
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f) {
            cl__reply_error(hc, 400, "bad_request", "the path must be printable ASCII");
            return 0;
        }
    if (!method) {
        cl__reply_error(hc, 405, "method_not_allowed", "GET, POST, PUT, PATCH or DELETE");
        return 0;
    }
    if (cl__read_query(hc))
        return 0;
    /* a browser page's request (fetch from any site to 127.0.0.1): scripts
     * send no Origin, pages always do */
    if (lws_hdr_total_length(wsi, WSI_TOKEN_ORIGIN) > 0) {
        cl__reply_error(hc, 403, "origin_refused",
                        "the loopback chat API is for local scripts, not web pages");
        return 0;
    }
    if (!cl__authorized(hc)) {
        cl_info("chat_http", "request refused: no or wrong bearer token", "method=%s route=%s",
                hc->method, hc->route);
        cl__reply_error(hc, 401, "unauthorized",
                        "send Authorization: Bearer TOKEN (chat_token in the agent config, or "
                        "CLAWLINK_CHAT_TOKEN)");
        return 0;
    }
    st = cl__framing(wsi, &clen, &why);
    if (st) {
        hc->close_after = true;
        cl__reply_error(hc, st, st == 411 ? "length_required" : "bad_framing", why);
        return 0;
    }
    if (clen > 0 && strcmp(hc->method, "POST") != 0 && strcmp(hc->method, "PUT") != 0 &&
        strcmp(hc->method, "PATCH") != 0) {
        hc->close_after = true;
        cl__reply_error(hc, 400, "bad_framing", "this method takes no body");
        return 0;
    }
    if (clen > CL_CHAT_HTTP_MAX_BODY) {
        hc->close_after = true;
        cl__reply_error(hc, 413, "body_too_large", "the body is larger than 64 KiB");
        return 0;
    }
    if (clen > 0) {
        hc->body_expected = true;
        return 0; /* LWS_CALLBACK_HTTP_BODY brings it */
    }
    cl__dispatch(hc);
    return 0;
}

static int cl__on_body(struct cl__hc *hc, const void *in, size_t len)
{
    if (hc->phase != CL__IDLE || !hc->body_expected || !len)
        return 0;
    if (hc->body_len + len > CL_CHAT_HTTP_MAX_BODY) {
        hc->close_after = true;
        cl__reply_error(hc, 413, "body_too_large", "the body is larger than 64 KiB");
        return 0;
    }
    char *nb = realloc(hc->body, hc->body_len + len + 1);
    if (!nb)
        abort();
    hc->body = nb;
    memcpy(hc->body + hc->body_len, in, len);
    hc->body_len += len;
    hc->body[hc->body_len] = '\0';
    return 0;
}

/* ---- writing ------------------------------------------------------------ */

static int cl__headers(struct cl__hc *hc, bool stream)
{
    unsigned char hbuf[LWS_PRE + 1024], *start = hbuf + LWS_PRE, *p = start,
                                        *end = hbuf + sizeof hbuf - 1;
    struct lws *wsi = hc->wsi;
    size_t len = hc->out_len;

    if (hc->status == 204) {
        if (lws_add_http_header_status(wsi, 204, &p, end))
            return -1;
    } else if (lws_add_http_common_headers(
                   wsi, (unsigned)hc->status, stream ? "text/event-stream" : "application/json",
                   stream ? LWS_ILLEGAL_HTTP_CONTENT_LEN : (lws_filepos_t)len, &p, end)) {
        return -1;
    }
    if (lws_add_http_header_by_name(wsi, (const unsigned char *)"cache-control:",
                                    (const unsigned char *)"no-store", 8, &p, end))
        return -1;
    if (hc->status == 401 &&
        lws_add_http_header_by_name(wsi, (const unsigned char *)"www-authenticate:",
                                    (const unsigned char *)"Bearer", 6, &p, end))
        return -1;
    if ((stream || hc->close_after) &&
        lws_add_http_header_by_name(
            wsi, (const unsigned char *)"connection:", (const unsigned char *)"close", 5, &p, end))
        return -1;
    return lws_finalize_write_http_header(wsi, start, &p, end) ? -1 : 0;
}

/* One write of what waits; true when nothing is left. */
static int cl__write_some(struct cl__hc *hc, bool *drained)
{
    size_t left = hc->out_len - hc->out_off, n = left > CL__CHUNK ? CL__CHUNK : left;
    *drained = n == left;
    if (!n)
        return 0;
    /* lws wants LWS_PRE writable bytes before what it writes */
    memmove(hc->out + LWS_PRE, hc->out + LWS_PRE + hc->out_off, left);
    hc->out_len = left;
    hc->out_off = 0;
    if (lws_write(hc->wsi, (unsigned char *)hc->out + LWS_PRE, n, LWS_WRITE_HTTP) != (int)n)
        return -1;
    hc->out_off = n;
    return 0;
}

static int cl__on_writeable(struct cl__hc *hc)
{
    bool drained = true;

    switch (hc->phase) {
    case CL__REPLY:
        if (hc->status) {
            if (cl__headers(hc, false))
                return -1;
            hc->status = 0; /* headers out */
            if (hc->out_len) {
                lws_callback_on_writable(hc->wsi);
                return 0;
            }
        } else if (cl__write_some(hc, &drained)) {
            return -1;
        }
        if (!drained) {
            lws_callback_on_writable(hc->wsi);
            return 0;
        }
        hc->phase = CL__IDLE;
        if (hc->close_after)
            return -1;
        /* keep-alive: ready for the next request (or close) */
        return lws_http_transaction_completed(hc->wsi) ? -1 : 0;
    case CL__STREAM_HEAD:
        if (cl__headers(hc, true))
            return -1;
        hc->phase = CL__STREAMING;
        lws_callback_on_writable(hc->wsi);
        return 0;
    case CL__STREAMING:
        if (cl__write_some(hc, &drained))
            return -1;
        if (drained && hc->stream_end)
            return -1; /* the stream's end closes the connection */
        if (!drained)
            lws_callback_on_writable(hc->wsi);
        return 0;
    default:
        return 0;
    }
}

/* ---- lws plumbing -------------------------------------------------------- */

static void cl__on_close(struct cl__hc *hc)
{
    if (!hc->srv)
        return;
    if (hc->call && !hc->ended && !hc->srv->stopped) {
        cl__log_end(hc, hc->cut ? 200 : 499, hc->cut ? "slow_reader" : "caller_left");
        cl_chat_api_cancel(hc->srv->api, hc->call);
    }
    hc->call = NULL;
    cl__unlist(hc);
    free(hc->out);
    hc->out = NULL;
    if (hc->body) {
        cl_wipe(hc->body, hc->body_len);
        free(hc->body);
        hc->body = NULL;
    }
    hc->srv = NULL; /* done: a second call (close after drop) does nothing */
}

static int cl__callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                        size_t len)
{
    struct cl__hc *hc = user;
    const struct lws_protocols *proto = lws_get_protocol(wsi);
    struct cl_chat_http *srv = proto ? proto->user : NULL;

    switch (reason) {
    case LWS_CALLBACK_HTTP:
        if (!hc || !srv)
            return -1;
        return cl__on_request(hc, srv, wsi, in);
    case LWS_CALLBACK_HTTP_BODY:
        return hc && hc->srv ? cl__on_body(hc, in, len) : 0;
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        if (hc && hc->srv && hc->phase == CL__IDLE && hc->body_expected && !hc->call &&
            !hc->ended) {
            hc->body_expected = false;
            cl__dispatch(hc);
        }
        return 0;
    case LWS_CALLBACK_HTTP_WRITEABLE:
        return hc && hc->srv ? cl__on_writeable(hc) : 0;
    case LWS_CALLBACK_CLOSED_HTTP:
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
        /* the connection closes, or (keep-alive) lws frees this request's
         * struct after its transaction and gives the next a fresh one */
        if (hc)
            cl__on_close(hc);
        return 0;
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

/* Every CL_CHAT_HTTP_KEEPALIVE_MS / 3: a ":" line to streams quiet that
 * long. lws reads nothing while a reply goes out, so a caller that left
 * is seen when a write fails; this makes sure one comes. */
static void cl__on_timer(uv_timer_t *t)
{
    struct cl_chat_http *srv = t->data;
    uint64_t now = uv_now(srv->loop);
    for (struct cl__hc *hc = srv->conns; hc; hc = hc->next) {
        if (hc->phase != CL__STREAMING || hc->stream_end || hc->cut ||
            now - hc->last_write < CL_CHAT_HTTP_KEEPALIVE_MS)
            continue;
        if (hc->out_len - hc->out_off + 3 > CL_CHAT_HTTP_STREAM_MAX) {
            cl__cut(hc);
            continue;
        }
        cl__append(hc, ":\n\n", 3);
        hc->last_write = now;
        lws_callback_on_writable(hc->wsi);
    }
}

int cl_chat_http_start(const struct cl_chat_http_cfg *cfg, struct cl_chat_http **out, char *err,
                       size_t errlen)
{
    struct lws_context_creation_info info;
    struct cl_chat_http *srv = calloc(1, sizeof *srv);

    *out = NULL;
    if (!srv)
        return cl_seterr(err, errlen, CL_ENOMEM, "out of memory");
    srv->loop = cfg->loop;
    srv->api = cfg->api;
    srv->port = cfg->port;
    snprintf(srv->addr, sizeof srv->addr, "%s", cfg->addr);
    cl_hash_str(cfg->token, srv->token_hash);
    srv->protocols[0].name = "clawlink-chat-http";
    srv->protocols[0].callback = cl__callback;
    srv->protocols[0].per_session_data_size = sizeof(struct cl__hc);
    srv->protocols[0].user = srv;
    memset(&info, 0, sizeof info);
    info.vhost_name = "clawlink-chat";
    info.port = cfg->port;
    info.iface = srv->addr;
    info.protocols = srv->protocols;
    info.options = strchr(srv->addr, ':')
                       ? LWS_SERVER_OPTION_IPV6_V6ONLY_MODIFY | LWS_SERVER_OPTION_IPV6_V6ONLY_VALUE
                       : LWS_SERVER_OPTION_DISABLE_IPV6;
    srv->vh = lws_create_vhost(cfg->lws, &info);
    if (!srv->vh) {
        cl_wipe(srv->token_hash, sizeof srv->token_hash);
        free(srv);
        return cl_seterr(err, errlen, CL_EIO,
                         "cannot listen on %s%s%s:%d for the chat API (in use? another agent?)",
                         strchr(cfg->addr, ':') ? "[" : "", cfg->addr,
                         strchr(cfg->addr, ':') ? "]" : "", cfg->port);
    }
    uv_timer_init(srv->loop, &srv->timer);
    srv->timer.data = srv;
    uv_timer_start(&srv->timer, cl__on_timer, CL_CHAT_HTTP_KEEPALIVE_MS / 3,
                   CL_CHAT_HTTP_KEEPALIVE_MS / 3);
    cl_info("chat_http", "listening", "addr=%s port=%d root=" CL__ROOT, srv->addr, srv->port);
    *out = srv;
    return 0;
}

void cl_chat_http_stop(struct cl_chat_http *srv)
{
    if (!srv || srv->stopped)
        return;
    srv->stopped = true;
    for (struct cl__hc *hc = srv->conns; hc; hc = hc->next) {
        if (hc->call && !hc->ended) {
            cl_chat_api_cancel(srv->api, hc->call);
            hc->call = NULL;
            hc->ended = true;
            lws_set_timeout(hc->wsi, PENDING_TIMEOUT_HTTP_CONTENT, LWS_TO_KILL_ASYNC);
        }
    }
    uv_timer_stop(&srv->timer);
    uv_close((uv_handle_t *)&srv->timer, NULL);
}

void cl_chat_http_free(struct cl_chat_http *srv)
{
    if (!srv)
        return;
    /* the context is gone: its connections were closed (unlisted) */
    cl_wipe(srv->token_hash, sizeof srv->token_hash);
    free(srv);
}

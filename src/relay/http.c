/* http: request collection, routing, bearer authentication and replies. */
#include "relay/http.h"
#include "relay/health.h"
#include "core/err.h"
#include "core/json.h"
#include "core/log.h"
#include "core/secret.h"
#include "relay/metrics.h"
#include "relay/proxy.h"
#include "relay/store_pool.h"
#include "relay/relay.h"
#include "relay/web.h"
#include "relay/webauth.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

/* Something a CL_ROUTE_WORKER handler left for the loop (cl_http_after). */
struct cl__after {
    struct cl__after *next;
    void (*fn)(struct cl_relay *r, void *arg);
    void *arg;
};

struct cl_http_job {
    uv_work_t work;
    struct cl_conn *conn; /* NULL once the connection is gone */
    cl_job_work_fn work_fn;
    cl_job_done_fn done_fn;
    void *arg;

    /* a CL_ROUTE_WORKER route on a store worker (cl__route_job_*): the
     * request, copied off the connection, and the reply it captured */
    const struct cl_route *route;
    struct cl_relay *relay;
    struct cl_http_req req;
    char path[sizeof((struct cl_http_state *)0)->path];
    char scratch[256];
    char peer[sizeof((struct cl_conn *)0)->peer];
    char user_id[CL_UUID_LEN + 1];
    uint8_t token_hash[CL_HASH_LEN];
    bool resolve_token; /* token_hash is to become user_id on the worker */
    int status;         /* 0: no reply captured */
    char *body;
    size_t body_len;
    unsigned retry_after;
    struct cl__after *after, **after_tail;
};

/* The route job this thread is running, if any: its replies are captured
 * (cl__set_reply), not written to a connection the loop owns. */
static _Thread_local struct cl_http_job *cl__worker_job;

/* A reply function a CL_ROUTE_WORKER handler must not use. */
static void cl__not_on_worker(const char *what)
{
    if (cl__worker_job) {
        cl_error("http", "a store-worker route used a loop-only reply", "what=%s route=%s", what,
                 cl__worker_job->route->pattern);
        abort();
    }
}

static const struct cl_route cl__routes_misc[];

const struct cl_route *const cl_http_route_tables[] = {
    cl__routes_misc,     cl_routes_health,
    cl_routes_auth,      cl_routes_projects,
    cl_routes_functions, cl_routes_sessions,
    cl_routes_account,   cl_routes_devices,
    cl_routes_connector, cl_routes_nodes,
    cl_routes_chat,      cl_routes_invitations,
    cl_routes_metrics,   NULL,
};

const char *cl_http_method_name(enum cl_http_method m)
{
    static const char *const names[] = {
        [CL_HTTP_OTHER] = "OTHER", [CL_HTTP_GET] = "GET",         [CL_HTTP_POST] = "POST",
        [CL_HTTP_PUT] = "PUT",     [CL_HTTP_PATCH] = "PATCH",     [CL_HTTP_DELETE] = "DELETE",
        [CL_HTTP_HEAD] = "HEAD",   [CL_HTTP_OPTIONS] = "OPTIONS",
    };
    return (unsigned)m < sizeof names / sizeof names[0] ? names[m] : "OTHER";
}

const char *cl_route_policy_name(int policy)
{
    if (policy == CL_ROUTE_PUBLIC)
        return "public";
    if (policy == CL_ROUTE_SELF)
        return "self";
    return cl_action_name((enum cl_action)policy);
}

/* ---- replies ---------------------------------------------------------- */

/* The Content-Security-Policy of every reply: the app's own scripts only
 * (no inline script, no eval), inline styles allowed (xterm.js injects
 * <style> elements), nothing may frame a page (docs/security.md). */
#define CL_HTTP_CSP                                                                                \
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "                    \
    "img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; "               \
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

/* Adds "name: value" (name with its colon) to a reply's headers; -1 if
 * it does not fit. */
static int cl__add_header(struct cl_conn *c, const char *name, const char *value, unsigned char **p,
                          unsigned char *end)
{
    return lws_add_http_header_by_name(c->wsi, (const unsigned char *)name,
                                       (const unsigned char *)value, (int)strlen(value), p, end)
               ? -1
               : 0;
}

/* Adds the security headers every reply carries (API, pages, files,
 * streams); HSTS only when the relay serves TLS. -1 if they do not fit. */
static int cl__security_headers(struct cl_conn *c, unsigned char **p, unsigned char *end)
{
    static const char *const hdrs[][2] = {
        {"content-security-policy:", CL_HTTP_CSP},
        {"x-content-type-options:", "nosniff"},
        {"referrer-policy:", "no-referrer"},
        {"x-frame-options:", "DENY"},
        {"cross-origin-opener-policy:", "same-origin"},
        {"strict-transport-security:", "max-age=31536000"},
    };
    size_t n = sizeof hdrs / sizeof hdrs[0];
    if (!c->relay || !c->relay->opts.tls_cert)
        n--; /* HSTS (the last) only over TLS */
    for (size_t i = 0; i < n; i++)
        if (cl__add_header(c, hdrs[i][0], hdrs[i][1], p, end))
            return -1;
    return 0;
}

/* Counts the request's reply (once) in the metrics: its route, method,
 * status, and the time since its headers came. */
static void cl__count(struct cl_conn *c, int status)
{
    struct cl_http_state *h = &c->http;
    if (h->counted || !h->route)
        return;
    h->counted = true;
    cl_metrics_http(h->route, cl_http_method_name(h->method), status,
                    cl_metrics_now() - h->started);
}

/* A JSON (or other in-memory) reply; to a HEAD request its headers only,
 * with the Content-Length the body would have had. */
static void cl__set_reply(struct cl_conn *c, int status, const char *body, size_t len)
{
    struct cl_http_job *job = cl__worker_job;
    if (job) { /* on a store worker: the loop sends it (cl__route_job_done) */
        free(job->body);
        job->body = malloc(len + 1);
        if (!job->body)
            abort();
        memcpy(job->body, body, len);
        job->body_len = len;
        job->status = status;
        return;
    }
    struct cl_http_state *h = &c->http;
    bool head = h->method == CL_HTTP_HEAD;
    free(h->resp);
    h->resp = malloc(LWS_PRE + (head ? 0 : len) + 1);
    if (!h->resp)
        abort();
    if (!head)
        memcpy(h->resp + LWS_PRE, body, len);
    h->resp_len = len;
    h->no_body = head;
    h->status = status;
    h->phase = 1;
    cl__count(c, status);
    lws_callback_on_writable(c->wsi);
}

void cl_http_reply_json(struct cl_conn *c, int status, json_t *body)
{
    size_t len = 0;
    char *s = cl_json_dump(body, &len);
    json_decref(body);
    if (!s)
        abort();
    cl__set_reply(c, status, s, len);
    free(s);
}

void cl_http_reply_error(struct cl_conn *c, int status, const char *code, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cl_http_reply_json(c, status,
                       json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", msg));
}

void cl_http_reply_errcode(struct cl_conn *c, int err)
{
    switch (err) {
    case CL_EAUTH:
        cl_http_reply_error(c, 401, "unauthorized",
                            "a valid bearer token (or session cookie) is required");
        break;
    case CL_EFORBIDDEN:
        cl_http_reply_error(c, 403, "forbidden", "your role in this project does not allow this");
        break;
    case CL_ENOTFOUND:
        cl_http_reply_error(c, 404, "not_found", "no such resource");
        break;
    case CL_EUNAVAIL: /* the store's database is down or restarting (store_pg.c) */
        cl_http_set_retry_after(c, CL_STORE_UNAVAIL_RETRY_S);
        cl_http_reply_error(c, 503, "unavailable",
                            "the relay's database cannot be reached: try again shortly");
        break;
    default:
        cl_http_reply_error(c, 500, "internal", "internal error (%s)", cl_strerror(err));
        break;
    }
}

void cl_http_set_retry_after(struct cl_conn *c, unsigned seconds)
{
    if (cl__worker_job)
        cl__worker_job->retry_after = seconds;
    else
        c->http.retry_after = seconds;
}

void cl_http_set_cookie(struct cl_conn *c, const char *value)
{
    cl__not_on_worker("cl_http_set_cookie");
    struct cl_http_state *h = &c->http;
    if (h->set_cookie) {
        cl_wipe(h->set_cookie, strlen(h->set_cookie));
        free(h->set_cookie);
    }
    h->set_cookie = strdup(value);
    if (!h->set_cookie)
        abort();
}

void cl_http_reply_empty(struct cl_conn *c, int status)
{
    cl__set_reply(c, status, "", 0);
}

int cl_http_reply_file(struct cl_conn *c, const char *path, const char *content_type,
                       const char *filename)
{
    unsigned char hbuf[2048], *p = hbuf, *end = hbuf + sizeof hbuf;
    char disp[160];
    int n, rc;
    cl__not_on_worker("cl_http_reply_file");

    n = snprintf(disp, sizeof disp, "attachment; filename=\"%s\"", filename);
    if (n < 0 || (size_t)n >= sizeof disp)
        return CL_EIO;
    if (c->http.method == CL_HTTP_HEAD) {
        /* lws would send the headers and then lose track of the
         * connection: the headers only, from here */
        struct stat st;
        struct cl_http_body b = {.status = 200, .content_type = content_type, .head = true};
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
            return CL_EIO;
        b.len = (size_t)st.st_size;
        snprintf(c->http.disposition, sizeof c->http.disposition, "%s", disp);
        cl_http_reply_body(c, &b);
        return 0;
    }
    if (lws_add_http_header_by_name(c->wsi, (const unsigned char *)"content-disposition:",
                                    (const unsigned char *)disp, n, &p, end) ||
        lws_add_http_header_by_name(c->wsi, (const unsigned char *)"cache-control:",
                                    (const unsigned char *)"no-store", 8, &p, end) ||
        cl__security_headers(c, &p, end))
        return CL_EIO;
    cl__count(c, 200);
    rc = lws_serve_http_file(c->wsi, path, content_type, (const char *)hbuf, (int)(p - hbuf));
    if (rc < 0) {
        /* lws may have answered already: drop the connection, from the loop */
        cl_warn("http", "serving a file failed", "path=%s", path);
        lws_set_timeout(c->wsi, PENDING_TIMEOUT_HTTP_CONTENT, LWS_TO_KILL_ASYNC);
    }
    return 0;
}

void cl_http_reply_body(struct cl_conn *c, const struct cl_http_body *b)
{
    cl__not_on_worker("cl_http_reply_body");
    struct cl_http_state *h = &c->http;
    bool head = b->head || h->method == CL_HTTP_HEAD;
    bool borrow = b->borrowed && !head;
    size_t copy = head || borrow ? 0 : b->len;
    free(h->resp);
    /* a borrowed body goes out through a chunk-sized buffer (lws wants
     * LWS_PRE writable bytes before what it writes) */
    h->resp = malloc(LWS_PRE + (borrow ? CL_HTTP_CHUNK : copy) + 1);
    if (!h->resp)
        abort();
    if (copy)
        memcpy(h->resp + LWS_PRE, b->data, copy);
    h->ext = borrow ? b->data : NULL;
    h->resp_len = b->len;
    h->resp_off = 0;
    h->no_body = head;
    h->ctype = b->content_type;
    h->cache = b->cache_control;
    h->encoding = b->content_encoding;
    h->vary_encoding = b->vary_encoding;
    snprintf(h->etag, sizeof h->etag, "%s", b->etag ? b->etag : "");
    h->status = b->status;
    h->phase = 1;
    cl__count(c, b->status);
    lws_callback_on_writable(c->wsi);
}

/* lws stops looking at the first argument that does not fit its buffer,
 * so the lookup gets one that fits any (header data is at most 4 KiB) and
 * the value is copied out after. */
int cl_http_query(struct cl_http_req *req, const char *name, char *buf, size_t len)
{
    char key[64], frag[4096];
    const char *v;
    size_t n;
    cl__not_on_worker("cl_http_query"); /* the query is the connection's */
    int kn = snprintf(key, sizeof key, "%s=", name);
    if (kn < 0 || (size_t)kn >= sizeof key || len == 0)
        return CL_EINVAL;
    v = lws_get_urlarg_by_name(req->conn->wsi, key, frag, (int)sizeof frag);
    if (!v)
        return CL_ENOTFOUND;
    n = strlen(v);
    if (n >= len)
        return CL_ELIMIT;
    memcpy(buf, v, n + 1);
    return 0;
}

/* ---- worker jobs ------------------------------------------------------ */

static void cl__job_work(uv_work_t *w)
{
    struct cl_http_job *job = w->data;
    job->work_fn(job->arg);
}

static void cl__job_after(uv_work_t *w, int status)
{
    struct cl_http_job *job = w->data;
    struct cl_conn *c = job->conn;
    if (c)
        c->http.job = NULL;
    job->done_fn(c, job->arg);
    free(job);
}

int cl_http_job_start(struct cl_conn *c, cl_job_work_fn work, cl_job_done_fn done, void *arg)
{
    cl__not_on_worker("cl_http_job_start");
    struct cl_http_job *job = calloc(1, sizeof *job);
    if (!job)
        abort();
    job->conn = c;
    job->work_fn = work;
    job->done_fn = done;
    job->arg = arg;
    job->work.data = job;
    if (uv_queue_work(c->relay->loop, &job->work, cl__job_work, cl__job_after) != 0) {
        free(job);
        return CL_EIO;
    }
    c->http.job = job;
    return 0;
}

/* ---- routing ---------------------------------------------------------- */

/* Matches path against pattern; ":x" segments capture into params. */
bool cl_http_match(const char *pattern, const char *path, const char **params, char *scratch,
                   size_t scratch_len)
{
    size_t np = 0, so = 0;
    const char *p = pattern, *q = path;
    while (*p && *q) {
        if (*p != '/' || *q != '/')
            return false;
        p++;
        q++;
        const char *pe = strchr(p, '/'), *qe = strchr(q, '/');
        size_t pl = pe ? (size_t)(pe - p) : strlen(p);
        size_t ql = qe ? (size_t)(qe - q) : strlen(q);
        if (*p == ':') {
            if (ql == 0 || np >= CL_HTTP_MAX_PARAMS || so + ql + 1 > scratch_len)
                return false;
            memcpy(scratch + so, q, ql);
            scratch[so + ql] = 0;
            params[np++] = scratch + so;
            so += ql + 1;
        } else if (pl != ql || memcmp(p, q, pl) != 0) {
            return false;
        }
        p += pl;
        q += ql;
    }
    return *p == 0 && *q == 0;
}

/* The hash of the request's token: "Authorization: Bearer <token>", or
 * without that header the session cookie (*cookie set then). 0, or
 * CL_EAUTH if absent or malformed. The header copy is wiped. Headers
 * only: no store. */
static int cl__token_hash(struct cl_conn *c, uint8_t hash[CL_HASH_LEN], bool *cookie)
{
    char hdr[CL_TOKEN_MAX + 32];
    int n, rc = CL_EAUTH;
    *cookie = false;
    if (lws_hdr_total_length(c->wsi, WSI_TOKEN_HTTP_AUTHORIZATION) <= 0) {
        if (cl_webauth_cookie_hash(c->relay, c->wsi, hash))
            return CL_EAUTH;
        *cookie = true;
        return 0;
    }
    n = lws_hdr_copy(c->wsi, hdr, sizeof hdr, WSI_TOKEN_HTTP_AUTHORIZATION);
    if (n <= 7 || strncasecmp(hdr, "Bearer ", 7) != 0)
        goto out_wipe;
    const char *tok = hdr + 7;
    while (*tok == ' ')
        tok++;
    if (!*tok || strlen(tok) > CL_TOKEN_MAX)
        goto out_wipe;
    cl_hash_str(tok, hash);
    rc = 0;
out_wipe:
    cl_wipe(hdr, sizeof hdr);
    return rc;
}

/* The user a token hash signs in, from store s. 0 with user_id set,
 * CL_EAUTH if it signs in no one. */
static int cl__token_user(struct cl_store *s, const uint8_t hash[CL_HASH_LEN],
                          char user_id[CL_UUID_LEN + 1])
{
    int rc = s->ops->token_user(s, hash, cl_now(), user_id);
    return rc == CL_ENOTFOUND ? CL_EAUTH : rc;
}

/* ---- routes on a store worker (CL_ROUTE_WORKER) ---------------------- */

void cl_http_after(struct cl_http_req *req, void (*fn)(struct cl_relay *r, void *arg), void *arg)
{
    struct cl_http_job *job = cl__worker_job;
    struct cl__after *a;

    if (!job) {
        fn(req->relay, arg);
        return;
    }
    a = calloc(1, sizeof *a);
    if (!a)
        abort();
    a->fn = fn;
    a->arg = arg;
    *job->after_tail = a;
    job->after_tail = &a->next;
}

static void cl__route_job_work(struct cl_store *s, void *arg)
{
    struct cl_http_job *job = arg;
    int rc = 0;

    cl__worker_job = job;
    job->req.store = s;
    if (job->resolve_token) {
        rc = cl__token_user(s, job->token_hash, job->user_id);
        if (rc)
            cl_http_reply_errcode(NULL, rc);
        else
            job->req.user_id = job->user_id;
    }
    if (!rc)
        job->route->fn(&job->req);
    if (!job->status) /* a handler that never replied */
        cl_http_reply_error(NULL, 500, "internal", "no reply");
    json_decref(job->req.body);
    job->req.body = NULL;
    cl_wipe(job->token_hash, sizeof job->token_hash);
    cl__worker_job = NULL;
}

static void cl__route_job_done(void *arg)
{
    struct cl_http_job *job = arg;
    struct cl_conn *c = job->conn;
    struct cl__after *a, *next;

    if (c)
        c->http.job = NULL;
    for (a = job->after; a; a = next) { /* done whether or not the client waits */
        next = a->next;
        a->fn(job->relay, a->arg);
        free(a);
    }
    if (c) {
        if (job->retry_after)
            c->http.retry_after = job->retry_after;
        cl__set_reply(c, job->status, job->body, job->body_len);
    }
    free(job->body);
    free(job);
}

/* Hands route r of request c to a store worker, with what the loop read
 * of it: params (into scratch), the parsed body (taken), the token hash
 * when the route needs a user. Replies 503 when the workers are full. */
static void cl__route_job_start(struct cl_conn *c, const struct cl_route *r,
                                const struct cl_http_req *req, const char *scratch,
                                const uint8_t *token_hash)
{
    struct cl_http_job *job = calloc(1, sizeof *job);
    int rc;

    if (!job)
        abort();
    job->conn = c;
    job->route = r;
    job->relay = c->relay;
    job->req = *req;
    job->req.conn = c; /* an opaque handle on the worker: captured replies never touch it */
    snprintf(job->path, sizeof job->path, "%s", req->path);
    job->req.path = job->path;
    memcpy(job->scratch, scratch, sizeof job->scratch);
    for (int i = 0; i < CL_HTTP_MAX_PARAMS; i++)
        if (req->params[i])
            job->req.params[i] = job->scratch + (req->params[i] - scratch);
    snprintf(job->peer, sizeof job->peer, "%s", req->peer);
    job->req.peer = job->peer;
    job->req.user_id = NULL;
    job->req.token_hash = NULL;
    if (token_hash) {
        memcpy(job->token_hash, token_hash, CL_HASH_LEN);
        job->req.token_hash = job->token_hash;
        job->resolve_token = true;
    }
    job->after_tail = &job->after;
    rc = cl_store_pool_submit(c->relay->store_pool, cl__route_job_work, cl__route_job_done, job);
    if (rc) {
        json_decref(job->req.body);
        cl_wipe(job->token_hash, sizeof job->token_hash);
        free(job);
        cl_http_set_retry_after(c, 1);
        cl_http_reply_error(c, 503, "busy", "the relay is busy: try again in a second");
        return;
    }
    c->http.job = job;
}

/* The raw request body, wiped (it may hold a password) and freed. */
static void cl__drop_body(struct cl_http_state *h)
{
    if (h->body) {
        cl_wipe(h->body, h->body_len);
        free(h->body);
    }
    h->body = NULL;
    h->body_len = 0;
}

static void cl__dispatch(struct cl_conn *c)
{
    struct cl_http_state *h = &c->http;
    char scratch[256], user_id[CL_UUID_LEN + 1] = "";
    uint8_t token_hash[CL_HASH_LEN];
    char err[160];
    bool path_known = false;
    struct cl_http_req req;

    /* HEAD is GET without the body (RFC 9110 9.3.2): the GET route runs,
     * and the reply functions send its status and headers only */
    enum cl_http_method method = h->method == CL_HTTP_HEAD ? CL_HTTP_GET : h->method;

    memset(&req, 0, sizeof req);
    for (const struct cl_route *const *t = cl_http_route_tables; *t; t++) {
        for (const struct cl_route *r = *t; r->pattern; r++) {
            if (!cl_http_match(r->pattern, h->path, req.params, scratch, sizeof scratch))
                continue;
            path_known = true;
            if (r->method != method)
                continue;
            h->route = r->pattern;
            req.conn = c;
            req.relay = c->relay;
            req.method = method;
            req.path = h->path;
            req.peer = c->peer;
            req.store = &c->relay->store;
            bool worker = (r->flags & CL_ROUTE_WORKER) && c->relay->store_pool;
            if (r->policy != CL_ROUTE_PUBLIC) {
                int rc = cl__token_hash(c, token_hash, &req.cookie_auth);
                if (!rc && !worker)
                    rc = cl__token_user(req.store, token_hash, user_id);
                if (rc) {
                    cl_wipe(token_hash, sizeof token_hash);
                    cl_http_reply_errcode(c, rc);
                    return;
                }
                /* a cookie is sent whoever asks: a change must come from
                 * the app (its CSRF token, its origin) */
                if (req.cookie_auth && h->method != CL_HTTP_GET && h->method != CL_HTTP_HEAD &&
                    h->method != CL_HTTP_OPTIONS &&
                    (!cl_webauth_csrf_header_ok(c->relay, c->wsi, token_hash) ||
                     (cl_webauth_has_origin(c->wsi) &&
                      !cl_webauth_same_origin(c->relay, c->wsi)))) {
                    cl_warn("http", "cookie request refused: CSRF check failed", "peer=%s path=%s",
                            c->peer, h->path);
                    cl_wipe(token_hash, sizeof token_hash);
                    cl_http_reply_error(c, 403, "csrf_failed",
                                        "a cookie-authenticated change needs the X-CSRF-Token "
                                        "header and a same-origin Origin");
                    return;
                }
                req.user_id = user_id;
                req.token_hash = token_hash;
            }
            if (h->method == CL_HTTP_POST || h->method == CL_HTTP_PUT ||
                h->method == CL_HTTP_PATCH) {
                req.body = h->body_len ? cl_json_parse_object(h->body, h->body_len, err, sizeof err)
                                       : json_object();
                /* parsed: the raw bytes are not needed again (and a reply
                 * lws serves itself, a file, never comes back to reset) */
                cl__drop_body(h);
                if (!req.body) {
                    cl_http_reply_error(c, 400, "bad_json", "%s", err);
                    return;
                }
            }
            if (worker) {
                cl__route_job_start(c, r, &req, scratch,
                                    r->policy != CL_ROUTE_PUBLIC ? token_hash : NULL);
                cl_wipe(token_hash, sizeof token_hash);
                return;
            }
            r->fn(&req);
            json_decref(req.body);
            cl_wipe(token_hash, sizeof token_hash);
            return;
        }
    }
    if (path_known) {
        cl_http_reply_error(c, 405, "method_not_allowed", "method not allowed on %s", h->path);
        return;
    }
    if (h->method == CL_HTTP_GET || h->method == CL_HTTP_HEAD) {
        h->route = "web"; /* what the web app answers is counted as its */
        if (cl_web_handle(c, h->path, c->relay->opts.web_dir))
            return; /* the web app: a file, or index.html for a page */
        h->route = "none";
    }
    cl_http_reply_error(c, 404, "no_route", "no such endpoint");
}

/* ---- lws plumbing ----------------------------------------------------- */

static enum cl_http_method cl__method(struct lws *wsi)
{
    static const struct {
        enum lws_token_indexes tok;
        enum cl_http_method m;
    } map[] = {
        {WSI_TOKEN_GET_URI, CL_HTTP_GET},         {WSI_TOKEN_POST_URI, CL_HTTP_POST},
        {WSI_TOKEN_PUT_URI, CL_HTTP_PUT},         {WSI_TOKEN_PATCH_URI, CL_HTTP_PATCH},
        {WSI_TOKEN_DELETE_URI, CL_HTTP_DELETE},   {WSI_TOKEN_HEAD_URI, CL_HTTP_HEAD},
        {WSI_TOKEN_OPTIONS_URI, CL_HTTP_OPTIONS},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (lws_hdr_total_length(wsi, map[i].tok) > 0)
            return map[i].m;
    return CL_HTTP_OTHER;
}

static void cl__reset(struct cl_conn *c)
{
    struct cl_http_state *h = &c->http;
    cl__drop_body(h);
    free(h->resp);
    free(h->sbuf);
    h->sbuf = NULL;
    h->slen = h->scap = 0;
    h->stream_end = false;
    h->body = NULL;
    h->resp = NULL;
    h->body_len = h->resp_len = 0;
    h->body_expected = false;
    h->close_after = false;
    h->phase = 0;
    h->status = 0;
    h->retry_after = 0;
    h->ctype = h->cache = h->encoding = NULL;
    h->ext = NULL;
    h->resp_off = 0;
    h->no_body = h->vary_encoding = false;
    h->etag[0] = 0;
    h->disposition[0] = 0;
    if (h->set_cookie) {
        cl_wipe(h->set_cookie, strlen(h->set_cookie));
        free(h->set_cookie);
        h->set_cookie = NULL;
    }
}

/* Request framing per RFC 9112 section 6: exactly one way to know where a
 * body ends, or the request is refused and the connection closed (bytes
 * a proxy in front read differently must never become a second request:
 * request smuggling). The relay reads bodies by Content-Length only:
 * Transfer-Encoding gets 411 (chunked: send Content-Length) or 501, with
 * Content-Length as well 400; a repeated or malformed Content-Length 400;
 * a body on a method that has none (GET, HEAD, DELETE, OPTIONS) 400.
 * Returns the status to refuse with (and why), or 0 with *clen set. */
static int cl__framing(struct lws *wsi, enum cl_http_method m, long long *clen, const char **why)
{
    char v[32];
    int n;

    *clen = 0;
    if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0) {
        if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0) {
            *why = "both Content-Length and Transfer-Encoding";
            return 400;
        }
        n = lws_hdr_copy(wsi, v, sizeof v, WSI_TOKEN_HTTP_TRANSFER_ENCODING);
        *why = "send the body with Content-Length (Transfer-Encoding is not accepted)";
        return n > 0 && strcasecmp(v, "chunked") == 0 ? 411 : 501;
    }
    if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH) <= 0)
        return 0;
    if (lws_hdr_fragment_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH, 1) > 0) {
        *why = "more than one Content-Length";
        return 400;
    }
    n = lws_hdr_copy(wsi, v, sizeof v, WSI_TOKEN_HTTP_CONTENT_LENGTH);
    if (n <= 0 || n > 18 || strspn(v, "0123456789") != (size_t)n) {
        *why = "Content-Length is not a number";
        return 400;
    }
    *clen = atoll(v);
    if (*clen > 0 && m != CL_HTTP_POST && m != CL_HTTP_PUT && m != CL_HTTP_PATCH) {
        *why = "this method takes no body";
        return 400;
    }
    return 0;
}

int cl_http_on_request(struct cl_conn *c, struct lws *wsi, const char *uri)
{
    struct cl_http_state *h = &c->http;
    long long clen = 0;
    const char *why = NULL;
    int status;

    c->kind = CL_CONN_HTTP;
    c->wsi = wsi;
    cl__reset(c);
    /* per request: a proxy carries many clients' requests on one connection */
    cl_proxy_peer(c->relay->opts.trusted_proxies, wsi, c->peer, sizeof c->peer);
    h->method = cl__method(wsi);
    h->started = cl_metrics_now();
    h->route = "none";
    h->counted = false;
    if (strlen(uri) >= sizeof h->path) {
        snprintf(h->path, sizeof h->path, "/");
        cl_http_reply_error(c, 414, "uri_too_long", "request path too long");
        return 0;
    }
    snprintf(h->path, sizeof h->path, "%s", uri);
    status = cl__framing(wsi, h->method, &clen, &why);
    if (status) {
        h->close_after = true;
        cl_info("http", "request refused: ambiguous framing", "peer=%s status=%d why=\"%s\"",
                c->peer, status, why);
        cl_http_reply_error(c, status,
                            status == 411   ? "length_required"
                            : status == 501 ? "not_implemented"
                                            : "bad_framing",
                            "%s", why);
        return 0;
    }
    if (h->method == CL_HTTP_POST || h->method == CL_HTTP_PUT || h->method == CL_HTTP_PATCH) {
        if (clen > CL_HTTP_MAX_BODY) {
            h->close_after = true;
            cl_http_reply_error(c, 413, "body_too_large", "request body is larger than %d bytes",
                                CL_HTTP_MAX_BODY);
            return 0;
        }
        if (clen > 0) {
            h->body_expected = true;
            return 0; /* the body arrives in LWS_CALLBACK_HTTP_BODY */
        }
    }
    cl__dispatch(c);
    return 0;
}

static int cl__on_body(struct cl_conn *c, const void *in, size_t len)
{
    struct cl_http_state *h = &c->http;
    if (h->phase)
        return 0; /* already answered (413): discard */
    if (!h->body_expected || !len)
        return 0; /* an empty body (lws reports one for Content-Length: 0): the
                   * request went out with its headers and may still wait */
    if (h->body_len + len > CL_HTTP_MAX_BODY) {
        h->close_after = true;
        cl_http_reply_error(c, 413, "body_too_large", "request body is larger than %d bytes",
                            CL_HTTP_MAX_BODY);
        return 0;
    }
    char *nb = realloc(h->body, h->body_len + len + 1);
    if (!nb)
        abort();
    h->body = nb;
    memcpy(h->body + h->body_len, in, len);
    h->body_len += len;
    h->body[h->body_len] = 0;
    return 0;
}

static int cl__on_body_complete(struct cl_conn *c)
{
    /* lws reports the end of an empty body too (POST, Content-Length: 0):
     * that request was dispatched with its headers, and may still wait on
     * a node (phase 0), so it must not run twice */
    if (c->http.phase || !c->http.body_expected)
        return 0;
    cl__dispatch(c);
    return 0;
}

/* ---- streamed replies ----------------------------------------------- */

void cl_http_on_gone(struct cl_conn *c, void (*fn)(void *arg), void *arg)
{
    cl__not_on_worker("cl_http_on_gone");
    c->http.gone_fn = fn;
    c->http.gone_arg = arg;
}

void cl_http_stream_begin(struct cl_conn *c, int status, const char *content_type)
{
    cl__not_on_worker("cl_http_stream_begin");
    struct cl_http_state *h = &c->http;
    free(h->resp);
    /* the content type travels in resp until the headers are written */
    h->resp = (unsigned char *)strdup(content_type);
    if (!h->resp)
        abort();
    h->status = status;
    h->phase = 3;
    cl__count(c, status);
    lws_callback_on_writable(c->wsi);
}

int cl_http_stream_write(struct cl_conn *c, const char *data, size_t len)
{
    struct cl_http_state *h = &c->http;
    if (h->stream_end)
        return CL_ESTATE;
    if (h->slen + len > CL_HTTP_STREAM_MAX) {
        cl_warn("http", "streamed reply not read; cutting it", "peer=%s queued=%zu", c->peer,
                h->slen);
        cl_http_stream_end(c);
        return CL_ELIMIT;
    }
    if (h->slen + len > h->scap) {
        size_t cap = h->scap ? h->scap : 4096;
        while (cap < h->slen + len)
            cap *= 2;
        char *nb = realloc(h->sbuf, LWS_PRE + cap);
        if (!nb)
            abort();
        h->sbuf = nb;
        h->scap = cap;
    }
    memcpy(h->sbuf + LWS_PRE + h->slen, data, len);
    h->slen += len;
    if (h->phase == 4)
        lws_callback_on_writable(c->wsi);
    return 0;
}

void cl_http_stream_end(struct cl_conn *c)
{
    c->http.stream_end = true;
    lws_callback_on_writable(c->wsi);
}

/* WRITEABLE while streaming: headers first, then what is queued, one
 * write per callback; -1 (close) once ended and drained. */
static int cl__stream_writeable(struct cl_conn *c)
{
    struct cl_http_state *h = &c->http;
    unsigned char hbuf[LWS_PRE + 2048], *start = hbuf + LWS_PRE, *p = start,
                                        *end = hbuf + sizeof hbuf - 1;
    if (h->phase == 3) {
        if (lws_add_http_common_headers(c->wsi, (unsigned)h->status, (const char *)h->resp,
                                        LWS_ILLEGAL_HTTP_CONTENT_LEN, &p, end) ||
            lws_add_http_header_by_name(c->wsi, (const unsigned char *)"cache-control:",
                                        (const unsigned char *)"no-store", 8, &p, end) ||
            cl__security_headers(c, &p, end) ||
            lws_add_http_header_by_name(c->wsi, (const unsigned char *)"connection:",
                                        (const unsigned char *)"close", 5, &p, end) ||
            lws_finalize_write_http_header(c->wsi, start, &p, end))
            return -1;
        lws_http_mark_sse(c->wsi);
        h->phase = 4;
    } else if (h->slen) {
        size_t n = h->slen > 16384 ? 16384 : h->slen;
        if (lws_write(c->wsi, (unsigned char *)h->sbuf + LWS_PRE, n, LWS_WRITE_HTTP) != (int)n)
            return -1;
        memmove(h->sbuf + LWS_PRE, h->sbuf + LWS_PRE + n, h->slen - n);
        h->slen -= n;
    } else if (h->stream_end) {
        return -1;
    } else {
        return 0;
    }
    if (h->slen || h->stream_end)
        lws_callback_on_writable(c->wsi);
    return 0;
}

/* The status line and the headers of a reply (JSON, or a body from
 * cl_http_reply_body) up to the reply-specific ones. */
static int cl__reply_headers(struct cl_conn *c, unsigned char **p, unsigned char *end)
{
    struct cl_http_state *h = &c->http;
    const char *type = h->ctype ? h->ctype : "application/json";
    const char *cache = h->cache ? h->cache : "no-store";
    if (!h->no_body) {
        if (lws_add_http_common_headers(c->wsi, (unsigned)h->status, type, h->resp_len, p, end))
            return -1;
    } else {
        /* HEAD: the length of what GET would send, nothing after; 304: no
         * length, no type (RFC 9110 15.4.5) */
        char len[24];
        snprintf(len, sizeof len, "%zu", h->resp_len);
        if (lws_add_http_header_status(c->wsi, (unsigned)h->status, p, end))
            return -1;
        if (h->status != 304 && (cl__add_header(c, "content-type:", type, p, end) ||
                                 cl__add_header(c, "content-length:", len, p, end)))
            return -1;
    }
    if (cl__add_header(c, "cache-control:", cache, p, end) || cl__security_headers(c, p, end) ||
        (h->etag[0] && cl__add_header(c, "etag:", h->etag, p, end)) ||
        (h->encoding && cl__add_header(c, "content-encoding:", h->encoding, p, end)) ||
        (h->vary_encoding && cl__add_header(c, "vary:", "Accept-Encoding", p, end)) ||
        (h->disposition[0] && cl__add_header(c, "content-disposition:", h->disposition, p, end)))
        return -1;
    return 0;
}

/* Writes the next piece of a reply's body, at most CL_HTTP_CHUNK. 0 when
 * all of it is written, 1 if more remains (writable requested), -1 on a
 * failed write. */
static int cl__write_body(struct cl_conn *c)
{
    struct cl_http_state *h = &c->http;
    size_t left = h->resp_len - h->resp_off;
    size_t n = left > CL_HTTP_CHUNK ? CL_HTTP_CHUNK : left;
    unsigned char *buf = h->resp + LWS_PRE + h->resp_off;
    if (h->ext) {
        buf = h->resp + LWS_PRE;
        memcpy(buf, h->ext + h->resp_off, n);
    }
    if (lws_write(c->wsi, buf, n, n == left ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) != (int)n)
        return -1;
    h->resp_off += n;
    if (h->resp_off < h->resp_len) {
        lws_callback_on_writable(c->wsi);
        return 1;
    }
    return 0;
}

static int cl__on_writeable(struct cl_conn *c)
{
    struct cl_http_state *h = &c->http;
    if (h->phase == 3 || h->phase == 4)
        return cl__stream_writeable(c);
    unsigned char hbuf[LWS_PRE + 2048], *start = hbuf + LWS_PRE, *p = start,
                                        *end = hbuf + sizeof hbuf - 1;
    char ra[16];

    if (h->phase == 1) {
        if (cl__reply_headers(c, &p, end))
            return -1;
        if (h->retry_after) {
            int n = snprintf(ra, sizeof ra, "%u", h->retry_after);
            if (lws_add_http_header_by_name(c->wsi, (const unsigned char *)"retry-after:",
                                            (const unsigned char *)ra, n, &p, end))
                return -1;
        }
        if (h->set_cookie) {
            int rc = lws_add_http_header_by_name(
                c->wsi, (const unsigned char *)"set-cookie:", (const unsigned char *)h->set_cookie,
                (int)strlen(h->set_cookie), &p, end);
            cl_wipe(h->set_cookie, strlen(h->set_cookie));
            free(h->set_cookie);
            h->set_cookie = NULL;
            if (rc) {
                cl_wipe(hbuf, sizeof hbuf);
                return -1;
            }
        }
        if (lws_finalize_write_http_header(c->wsi, start, &p, end))
            return -1;
        cl_wipe(hbuf, sizeof hbuf); /* a Set-Cookie header holds a token */
        h->phase = 2;
        lws_callback_on_writable(c->wsi);
        return 0;
    }
    if (h->phase == 2) {
        int rc = h->no_body ? 0 : cl__write_body(c);
        if (rc)
            return rc < 0 ? -1 : 0;
        bool close_after = h->close_after;
        cl__reset(c);
        /* A 413 answered before the body was read: do not reuse the link. */
        if (close_after)
            return -1;
        return lws_http_transaction_completed(c->wsi) ? -1 : 0;
    }
    return 0;
}

static void cl__on_close(struct cl_conn *c)
{
    if (c->http.gone_fn) {
        void (*fn)(void *) = c->http.gone_fn;
        c->http.gone_fn = NULL;
        fn(c->http.gone_arg);
    }
    if (c->http.job) {
        c->http.job->conn = NULL; /* the job's done callback sees NULL */
        c->http.job = NULL;
    }
    cl__reset(c);
}

const struct cl_conn_ops cl_http_conn_ops = {
    .kind = CL_CONN_HTTP,
    .on_body = cl__on_body,
    .on_body_complete = cl__on_body_complete,
    .on_writeable = cl__on_writeable,
    .on_close = cl__on_close,
};

/* ---- routes that belong to no module ---------------------------------- */

/* The API description, as built in (no file is read at run time). */
static void cl__openapi(struct cl_http_req *req)
{
    cl__set_reply(req->conn, 200, (const char *)cl_openapi_json, cl_openapi_json_len);
}

static const struct cl_route cl__routes_misc[] = {
    {CL_HTTP_GET, "/api/v1/openapi.json", CL_ROUTE_PUBLIC, cl__openapi, 0},
    {0, NULL, 0, NULL, 0},
};

/*
 * gateway: the OpenClaw gateway's protocol on a wsclient connection —
 * challenge, connect, request table, events, tick watchdog.
 *
 * States: IDLE (no connection; wsclient reconnects), CHALLENGE (upgraded,
 * waiting for connect.challenge), HELLO (connect sent, waiting for its
 * answer), READY. The handshake deadline, the tick watchdog (a silence
 * limit of 2 x tickIntervalMs + slack) and the backoff are wsclient's; a
 * periodic housekeeping timer here times out requests.
 */
#include "agent/gateway.h"
#include "agent/wsclient.h"
#include "core/backoff.h"
#include "core/err.h"
#include "core/json.h"
#include "core/log.h"
#include "core/secret.h"
#include "core/wsq.h"

#include <libwebsockets.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>
#include <sys/utsname.h>

#define CL__HOUSEKEEPING_MS 250
/* Slack on top of 2 x tickIntervalMs before the link counts as dead. */
#define CL__TICK_SLACK_MS 5000
/* Delay after the gateway said it is restarting (close 1012). */
#define CL__RESTART_RETRY_MS 1000

enum cl__state { CL__IDLE, CL__CHALLENGE, CL__HELLO, CL__READY };

struct cl__req {
    struct cl__req *next;
    uint64_t id;
    uint64_t deadline;
    cl_gw_reply_fn fn;
    void *ctx;
};

struct cl_gw {
    uv_loop_t *loop;
    struct cl_wsc *ws;
    enum cl__state state;
    struct {
        struct cl_gw_handler h; /* zeroed: a free slot */
        void *ctx;
    } subs[CL_GW_MAX_SUBSCRIBERS];

    struct cl_gw_settings set; /* token: secret */
    struct cl_gw_identity id;  /* secret key, device token */
    char identity_path[1024];
    char scopes[96]; /* comma-joined */
    unsigned caps;
    char platform[72];

    uv_timer_t timer; /* request timeouts */
    unsigned tick_ms;
    uint64_t next_id;
    struct cl__req *reqs;

    enum cl_node_state pub_state;
    char last_error[256];
    char server_version[64];
    bool parked; /* refused for a reason a retry will not fix soon */
    bool closing;
    bool destroyed;
    /* The event frames' seq on this connection: a jump means events were
     * missed (the chat mirror re-imports). */
    long long last_seq;
    uint64_t seq_gaps;
};

static void cl__loggable(const char *in, char *out, size_t cap)
{
    size_t j = 0;
    for (size_t i = 0; in && in[i] && j + 1 < cap; i++) {
        unsigned char c = (unsigned char)in[i];
        out[j++] = (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') ? (char)c : '?';
    }
    out[j] = 0;
}

enum cl_node_state cl_gw_state(const struct cl_gw *g)
{
    return g->pub_state;
}

const char *cl_gw_last_error(const struct cl_gw *g)
{
    return g->last_error;
}

uint64_t cl_gw_seq_gaps(const struct cl_gw *g)
{
    return g->seq_gaps;
}

const char *cl_gw_server_version(const struct cl_gw *g)
{
    return g->server_version;
}

static void cl__publish(struct cl_gw *g)
{
    enum cl_node_state s = g->state == CL__READY ? CL_NODE_ONLINE
                           : g->parked           ? CL_NODE_OFFLINE
                                                 : CL_NODE_RECONNECTING;
    if (s == g->pub_state || g->destroyed)
        return;
    g->pub_state = s;
    for (size_t i = 0; i < CL_GW_MAX_SUBSCRIBERS && !g->destroyed; i++)
        if (g->subs[i].h.on_state)
            g->subs[i].h.on_state(g->subs[i].ctx, s, s == CL_NODE_ONLINE ? "" : g->last_error);
}

static void cl__set_error(struct cl_gw *g, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void cl__set_error(struct cl_gw *g, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g->last_error, sizeof g->last_error, fmt, ap);
    va_end(ap);
}

/* ---- sending ------------------------------------------------------------ */

static int cl__send_json(struct cl_gw *g, json_t *frame, bool force)
{
    size_t len = 0;
    char *text = cl_json_dump(frame, &len);
    struct cl_frame *f;

    if (!text)
        return CL_ENOMEM;
    f = cl_frame_new(len);
    memcpy(cl_frame_payload(f), text, len);
    f->len = len;
    cl_wipe(text, len); /* connect carries the token */
    free(text);
    return cl_wsc_send(g->ws, f, force);
}

static void cl__fail_all(struct cl_gw *g, const char *why)
{
    struct cl__req *r = g->reqs;
    g->reqs = NULL;
    while (r) {
        struct cl__req *next = r->next;
        if (!g->destroyed && r->fn)
            r->fn(r->ctx, false, NULL, why);
        free(r);
        r = next;
    }
}

int cl_gw_request(struct cl_gw *g, const char *method, json_t *params, unsigned timeout_ms,
                  cl_gw_reply_fn fn, void *ctx, uint64_t *id)
{
    char idbuf[32];
    struct cl__req *r;
    json_t *frame;
    int rc;

    if (g->state != CL__READY || g->closing) {
        json_decref(params);
        return CL_ESTATE;
    }
    snprintf(idbuf, sizeof idbuf, "cl-%llu", (unsigned long long)++g->next_id);
    frame = json_pack("{s:s, s:s, s:s, s:o}", "type", "req", "id", idbuf, "method", method,
                      "params", params ? params : json_object());
    if (!frame)
        return CL_ENOMEM;
    rc = cl__send_json(g, frame, false);
    json_decref(frame);
    if (rc)
        return rc;
    r = calloc(1, sizeof *r);
    if (!r)
        abort();
    r->id = g->next_id;
    r->deadline = uv_now(g->loop) + timeout_ms;
    r->fn = fn;
    r->ctx = ctx;
    r->next = g->reqs;
    g->reqs = r;
    if (id)
        *id = r->id;
    return 0;
}

void cl_gw_cancel(struct cl_gw *g, uint64_t id)
{
    for (struct cl__req **p = &g->reqs; *p; p = &(*p)->next) {
        if ((*p)->id == id) {
            struct cl__req *r = *p;
            *p = r->next;
            free(r);
            return;
        }
    }
}

/* ---- connection lifecycle ----------------------------------------------- */

/* Async inside the connection's own callbacks (a malformed challenge,
 * from RECEIVE), where freeing the wsi at once would leave lws parsing a
 * freed connection (cl_wsc_drop). */
static void cl__kill(struct cl_gw *g)
{
    cl_wsc_drop(g->ws);
}

/* The connection is gone: fail what was pending, say why, and return the
 * delay before the next attempt. */
static uint32_t cl__on_ws_close(void *ud, const struct cl_wsc_close *c)
{
    struct cl_gw *g = ud;
    bool was_ready = g->state == CL__READY;
    char why[sizeof g->last_error], safe[160];
    uint32_t delay;

    if (c->code) {
        if (strstr(c->reason, "pairing required") && !g->parked) {
            g->parked = true;
            cl__set_error(g, "pairing required: approve this device on the gateway");
            cl_error("openclaw",
                     "pairing required: the OpenClaw gateway does not know this device "
                     "yet; approve it there (openclaw devices list, then openclaw devices "
                     "approve REQUEST_ID); retrying every 30 s",
                     "url=%s device_id=%s", g->set.url, g->id.device_id);
        } else if (c->code == 1012) {
            cl__set_error(g, "the gateway is restarting");
        } else if (c->reason[0] && !g->parked) {
            cl__set_error(g, "closed by the gateway (%d %s)", c->code, c->reason);
        }
    }
    snprintf(why, sizeof why, "%s",
             c->error           ? c->why
             : g->last_error[0] ? g->last_error
                                : "connection closed");
    g->state = CL__IDLE;
    cl__fail_all(g, "the connection to the OpenClaw gateway was lost");
    if (c->final || g->destroyed || g->closing)
        return 0;
    if (g->parked)
        delay = cl_wsc_backoff_max(g->ws);
    else if (c->code == 1012) {
        /* the gateway restarts in place: come back soon */
        cl_wsc_backoff_reset(g->ws);
        delay = CL__RESTART_RETRY_MS;
    } else {
        if (was_ready && c->up_ms >= 10000)
            cl_wsc_backoff_reset(g->ws);
        delay = cl_wsc_backoff_next(g->ws);
    }
    if (!g->parked && (!g->last_error[0] || was_ready))
        cl__set_error(g, "%s", why);
    cl__loggable(why, safe, sizeof safe);
    if (was_ready || !g->parked)
        cl_warn("openclaw",
                was_ready ? "disconnected from the OpenClaw gateway"
                          : "cannot connect to the OpenClaw gateway",
                "url=%s why=\"%s\" close=%d retry_ms=%u", g->set.url, safe, c->code, delay);
    cl__publish(g);
    return delay;
}

static int cl__on_ws_open(void *ud)
{
    struct cl_gw *g = ud;
    g->state = CL__CHALLENGE;
    return 0;
}

static void cl__on_ws_timeout(void *ud, enum cl_wsc_timeout which)
{
    struct cl_gw *g = ud;
    uint64_t silent = cl_wsc_silent_ms(g->ws);

    if (which == CL_WSC_TIMEOUT_HANDSHAKE) {
        cl__set_error(g, "no hello-ok from the gateway within %d ms", CL_GW_HANDSHAKE_TIMEOUT_MS);
        cl_warn("openclaw", "the gateway did not complete the handshake in time; reconnecting",
                "timeout_ms=%d", CL_GW_HANDSHAKE_TIMEOUT_MS);
        return;
    }
    cl__set_error(g, "no tick from the gateway for %llu ms", (unsigned long long)silent);
    cl_warn("openclaw", "the gateway went silent (no tick); reconnecting",
            "silent_ms=%llu tick_ms=%u", (unsigned long long)silent, g->tick_ms);
}

static void cl__on_ws_too_big(void *ud)
{
    struct cl_gw *g = ud;
    cl__set_error(g, "a message from the gateway was larger than %d bytes", CL_GW_MAX_MESSAGE);
    cl_warn("openclaw", "message from the gateway too big; reconnecting", "limit=%d",
            CL_GW_MAX_MESSAGE);
}

static void cl__on_timer(uv_timer_t *t)
{
    struct cl_gw *g = t->data;
    uint64_t now = uv_now(g->loop);

    if (g->destroyed || g->closing)
        return;
    for (struct cl__req **p = &g->reqs; *p;) {
        struct cl__req *r = *p;
        if (now < r->deadline) {
            p = &r->next;
            continue;
        }
        *p = r->next;
        if (r->fn)
            r->fn(r->ctx, false, NULL, "the OpenClaw gateway did not answer in time");
        free(r);
    }
}

/* ---- handshake ------------------------------------------------------------ */

static void cl__send_connect(struct cl_gw *g, const char *nonce, uint64_t ts)
{
    char payload[2048], sig[CL_GW_SIG_B64_LEN + 1];
    const char *token = g->set.token[0] ? g->set.token : g->id.device_token;
    struct cl_gw_auth_fields f = {
        .device_id = g->id.device_id,
        .client_id = g->set.client_id,
        .client_mode = g->set.client_mode,
        .role = "operator",
        .scopes = g->scopes,
        .signed_at_ms = ts,
        .token = token,
        .nonce = nonce,
        .platform = g->platform,
        .device_family = "",
    };
    json_t *scopes = json_array(), *params, *frame;
    char *save = NULL, *tok;
    long n = cl_gw_auth_payload_v3(&f, payload, sizeof payload);

    if (n < 0) {
        cl__set_error(g, "connect.challenge nonce too long");
        cl__kill(g);
        json_decref(scopes);
        return;
    }
    cl_gw_identity_sign(&g->id, payload, (size_t)n, sig);
    cl_wipe(payload, sizeof payload);
    {
        char copy[sizeof g->scopes];
        snprintf(copy, sizeof copy, "%s", g->scopes);
        for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
            json_array_append_new(scopes, json_string(tok));
    }
    params = json_pack(
        "{s:i, s:i, s:{s:s, s:s, s:s, s:s, s:s}, s:s, s:o, s:[], s:{s:s}, s:{s:s, s:s, s:s, "
        "s:I, s:s}, s:s}",
        "minProtocol", CL_GW_PROTOCOL_MIN, "maxProtocol", CL_GW_PROTOCOL_MAX, "client", "id",
        g->set.client_id, "displayName", "clawlink", "version", CL_VERSION, "platform", g->platform,
        "mode", g->set.client_mode, "role", "operator", "scopes", scopes, "caps", "auth", "token",
        token, "device", "id", g->id.device_id, "publicKey", g->id.public_key, "signature", sig,
        "signedAt", (json_int_t)ts, "nonce", nonce, "userAgent", "clawlink/" CL_VERSION);
    frame = params ? json_pack("{s:s, s:s, s:s, s:o}", "type", "req", "id", "connect", "method",
                               "connect", "params", params)
                   : NULL;
    if (!frame || cl__send_json(g, frame, true) != 0) {
        cl__set_error(g, "cannot build the connect request");
        cl__kill(g);
    } else {
        g->state = CL__HELLO;
    }
    if (frame) {
        json_t *auth = json_object_get(json_object_get(frame, "params"), "auth");
        json_t *v = json_object_get(auth, "token");
        if (json_is_string(v))
            cl_wipe((char *)json_string_value(v), json_string_length(v));
    }
    json_decref(frame);
}

/* Why the gateway refused connect, logged once with what to do. */
static void cl__connect_refused(struct cl_gw *g, json_t *error)
{
    json_t *details = json_object_get(error, "details");
    const char *code = json_string_value(json_object_get(details, "code"));
    const char *msg = json_string_value(json_object_get(error, "message"));
    char safe[200], scode[64];

    cl__loggable(msg ? msg : "", safe, sizeof safe);
    cl__loggable(code ? code : json_string_value(json_object_get(error, "code")), scode,
                 sizeof scode);
    if (code && strcmp(code, "AUTH_TOKEN_MISMATCH") == 0) {
        g->parked = true;
        cl__set_error(g, "AUTH_TOKEN_MISMATCH: the gateway refused the token");
        cl_error("openclaw",
                 "the OpenClaw gateway refused our token (AUTH_TOKEN_MISMATCH): set the "
                 "gateway's token in OPENCLAW_GATEWAY_TOKEN, in the agent config "
                 "(\"openclaw\": {\"token\"}) or in openclaw.json (gateway.auth.token); "
                 "retrying every 30 s",
                 "url=%s token_from=\"%s\" message=\"%s\"", g->set.url,
                 g->set.token_from[0] ? g->set.token_from : "none", safe);
    } else if ((code && (strcmp(code, "PAIRING_REQUIRED") == 0 || strstr(code, "PAIRING"))) ||
               (msg && strstr(msg, "pairing required"))) {
        g->parked = true;
        cl__set_error(g, "pairing required: approve this device on the gateway");
        cl_error("openclaw",
                 "pairing required: the OpenClaw gateway does not know this device yet; "
                 "approve it there (openclaw devices list, then openclaw devices approve "
                 "REQUEST_ID); retrying every 30 s",
                 "url=%s device_id=%s code=%s message=\"%s\"", g->set.url, g->id.device_id, scode,
                 safe);
    } else if (code && strcmp(code, "PROTOCOL_MISMATCH") == 0) {
        json_t *exp = json_object_get(details, "expectedProtocol");
        g->parked = true;
        cl__set_error(g, "protocol mismatch: the gateway speaks %lld, clawlink %d-%d",
                      json_is_integer(exp) ? (long long)json_integer_value(exp) : -1LL,
                      CL_GW_PROTOCOL_MIN, CL_GW_PROTOCOL_MAX);
        cl_error("openclaw",
                 "protocol mismatch: the OpenClaw gateway speaks another protocol version; "
                 "update clawlink or OpenClaw; retrying every 30 s",
                 "url=%s ours=%d-%d theirs=%lld", g->set.url, CL_GW_PROTOCOL_MIN,
                 CL_GW_PROTOCOL_MAX,
                 json_is_integer(exp) ? (long long)json_integer_value(exp) : -1LL);
    } else {
        cl__set_error(g, "connect refused: %s (%s)", safe, scode);
        cl_warn("openclaw", "the OpenClaw gateway refused connect", "url=%s code=%s message=\"%s\"",
                g->set.url, scode, safe);
    }
}

static void cl__hello_ok(struct cl_gw *g, json_t *payload)
{
    json_t *policy = json_object_get(payload, "policy");
    json_t *tick = json_object_get(policy, "tickIntervalMs");
    json_t *auth = json_object_get(payload, "auth");
    const char *ver =
        json_string_value(json_object_get(json_object_get(payload, "server"), "version"));
    const char *dt = json_string_value(json_object_get(auth, "deviceToken"));
    json_t *proto = json_object_get(payload, "protocol");

    g->tick_ms = json_is_integer(tick) && json_integer_value(tick) >= 1000 &&
                         json_integer_value(tick) <= 600000
                     ? (unsigned)json_integer_value(tick)
                     : CL_GW_TICK_DEFAULT_MS;
    cl__loggable(ver ? ver : "", g->server_version, sizeof g->server_version);
    if (dt && strlen(dt) <= CL_GW_DEVICE_TOKEN_MAX && strcmp(dt, g->id.device_token) != 0) {
        char err[256];
        snprintf(g->id.device_token, sizeof g->id.device_token, "%s", dt);
        if (g->identity_path[0] && cl_gw_identity_save(g->identity_path, &g->id, err, sizeof err))
            cl_warn("openclaw", "cannot keep the device token the gateway issued", "error=\"%s\"",
                    err);
        else
            cl_info("openclaw", "the gateway issued a device token; kept beside the config",
                    "path=%s", g->identity_path);
    }
    if (dt)
        cl_wipe((char *)dt, strlen(dt));
    g->state = CL__READY;
    g->last_seq = 0;
    g->parked = false;
    g->last_error[0] = 0;
    cl_wsc_ready(g->ws, 2ull * g->tick_ms + CL__TICK_SLACK_MS);
    cl_info("openclaw", "connected to the OpenClaw gateway",
            "url=%s version=%s protocol=%lld tick_ms=%u device_id=%s scopes=%s", g->set.url,
            g->server_version, json_is_integer(proto) ? (long long)json_integer_value(proto) : -1LL,
            g->tick_ms, g->id.device_id, g->scopes);
    cl__publish(g);
}

/* ---- incoming ------------------------------------------------------------- */

static void cl__on_res(struct cl_gw *g, json_t *root)
{
    const char *id = json_string_value(json_object_get(root, "id"));
    bool ok = json_is_true(json_object_get(root, "ok"));
    json_t *payload = json_object_get(root, "payload");
    json_t *error = json_object_get(root, "error");
    unsigned long long n;
    char *end;

    if (!id)
        return;
    if (strcmp(id, "connect") == 0) {
        if (g->state != CL__HELLO)
            return;
        if (ok)
            cl__hello_ok(g, payload);
        else {
            cl__connect_refused(g, error);
            cl__kill(g);
        }
        return;
    }
    if (strncmp(id, "cl-", 3) != 0)
        return;
    n = strtoull(id + 3, &end, 10);
    if (*end)
        return;
    for (struct cl__req **p = &g->reqs; *p; p = &(*p)->next) {
        struct cl__req *r = *p;
        if (r->id != n)
            continue;
        *p = r->next;
        if (r->fn) {
            const char *msg = json_string_value(json_object_get(error, "message"));
            r->fn(r->ctx, ok, ok ? payload : error, ok ? "" : msg ? msg : "request failed");
        }
        free(r);
        return;
    }
}

static void cl__on_message(struct cl_gw *g, const void *buf, size_t len)
{
    char why[160];
    json_t *root = cl_json_parse_object(buf, len, why, sizeof why);
    const char *type, *event;

    if (!root) {
        cl_debug("openclaw", "ignoring a malformed frame from the gateway", "%s", "");
        return;
    }
    type = json_string_value(json_object_get(root, "type"));
    if (type && strcmp(type, "res") == 0) {
        cl__on_res(g, root);
    } else if (type && strcmp(type, "event") == 0) {
        event = json_string_value(json_object_get(root, "event"));
        json_t *payload = json_object_get(root, "payload");
        if (!event) {
            /* nothing */
        } else if (strcmp(event, "connect.challenge") == 0) {
            const char *nonce = json_string_value(json_object_get(payload, "nonce"));
            json_t *ts = json_object_get(payload, "ts");
            if (g->state == CL__CHALLENGE && nonce && nonce[0] && json_is_integer(ts) &&
                json_integer_value(ts) >= 0)
                cl__send_connect(g, nonce, (uint64_t)json_integer_value(ts));
            else if (g->state == CL__CHALLENGE) {
                cl__set_error(g, "malformed connect.challenge");
                cl__kill(g);
            }
        } else if (strcmp(event, "tick") == 0) {
            /* keepalive: last_rx is updated above */
        } else if (g->state == CL__READY) {
            json_t *seq = json_object_get(root, "seq");
            if (json_is_integer(seq)) {
                long long v = json_integer_value(seq);
                if (g->last_seq > 0 && v > g->last_seq + 1) {
                    g->seq_gaps++;
                    cl_warn("openclaw", "missed events from the gateway", "from=%lld to=%lld",
                            g->last_seq + 1, v - 1);
                }
                g->last_seq = v;
            }
            /* every subscriber sees every event (one may unsubscribe
             * itself or another during the call) */
            for (size_t i = 0; i < CL_GW_MAX_SUBSCRIBERS && !g->destroyed; i++)
                if (g->subs[i].h.on_event)
                    g->subs[i].h.on_event(g->subs[i].ctx, event, payload);
        }
    }
    json_decref(root);
}

/* A whole message (binary ones are dropped: the gateway speaks JSON). */
static void cl__on_ws_message(void *ud, const void *buf, size_t len, bool binary)
{
    if (!binary)
        cl__on_message(ud, buf, len);
}

int cl_gw_new(uv_loop_t *loop, struct cl_wsc_ctx *wsc, const struct cl_gw_settings *s,
              const struct cl_gw_identity *id, const char *identity_path, unsigned caps,
              struct cl_gw **out, char *err, size_t errlen)
{
    static const struct cl_wsc_config wcfg = {
        .log_area = "openclaw",
        .max_message = CL_GW_MAX_MESSAGE,
        .sendq_max = CL_GW_SENDQ_MAX,
        .backoff_min_ms = CL_GW_BACKOFF_MIN_MS,
        .backoff_max_ms = CL_GW_BACKOFF_MAX_MS,
        .handshake_ms = CL_GW_HANDSHAKE_TIMEOUT_MS,
        /* no Origin: this is not a browser, and the gateway applies
         * browser origin checks to clients that send one */
    };
    struct cl_wsc_handler wh = {
        .on_open = cl__on_ws_open,
        .on_message = cl__on_ws_message,
        .on_close = cl__on_ws_close,
        .on_timeout = cl__on_ws_timeout,
        .on_too_big = cl__on_ws_too_big,
    };
    struct cl_wsc_url url;
    struct utsname un;
    struct cl_gw *g;
    int rc;

    *out = NULL;
    rc = cl_wsc_parse_url(s->url, "gateway URL", NULL, &url, err, errlen);
    if (rc)
        return rc;
    g = calloc(1, sizeof *g);
    if (!g)
        return cl_seterr(err, errlen, CL_ENOMEM, "out of memory");
    g->loop = loop;
    g->set = *s;
    g->id = *id;
    snprintf(g->identity_path, sizeof g->identity_path, "%s", identity_path ? identity_path : "");
    g->caps = caps;
    snprintf(g->scopes, sizeof g->scopes, "operator.read%s%s",
             caps & CL_CAP_CHAT ? ",operator.write" : "",
             caps & (CL_CAP_RESTART | CL_CAP_WORKFLOW) ? ",operator.admin" : "");
    snprintf(g->platform, sizeof g->platform, "%s", uname(&un) == 0 ? un.sysname : "linux");
    for (char *p = g->platform; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    g->tick_ms = CL_GW_TICK_DEFAULT_MS;
    g->pub_state = CL_NODE_RECONNECTING;
    wh.ud = g;
    g->ws = cl_wsc_new(wsc, &url, &wcfg, &wh);
    cl_wsc_set_drop_binary(g->ws, true);

    uv_timer_init(loop, &g->timer);
    g->timer.data = g;
    *out = g;
    return 0;
}

int cl_gw_subscribe(struct cl_gw *g, const struct cl_gw_handler *h, void *ctx)
{
    for (size_t i = 0; i < CL_GW_MAX_SUBSCRIBERS; i++) {
        if (g->subs[i].h.on_state || g->subs[i].h.on_event)
            continue;
        g->subs[i].h = *h;
        g->subs[i].ctx = ctx;
        return 0;
    }
    return CL_ELIMIT;
}

void cl_gw_unsubscribe(struct cl_gw *g, void *ctx)
{
    for (size_t i = 0; i < CL_GW_MAX_SUBSCRIBERS; i++)
        if (g->subs[i].ctx == ctx)
            memset(&g->subs[i], 0, sizeof g->subs[i]);
}

void cl_gw_start(struct cl_gw *g)
{
    cl_wsc_start(g->ws);
    uv_timer_start(&g->timer, cl__on_timer, CL__HOUSEKEEPING_MS, CL__HOUSEKEEPING_MS);
}

void cl_gw_close(struct cl_gw *g)
{
    struct cl__req *r = g->reqs;
    g->closing = true;
    g->reqs = NULL;
    while (r) {
        struct cl__req *next = r->next;
        free(r);
        r = next;
    }
    uv_timer_stop(&g->timer);
    cl_wsc_close(g->ws, LWS_CLOSE_STATUS_NORMAL, "bye");
}

void cl_gw_destroy(struct cl_gw *g)
{
    if (g->destroyed)
        return;
    g->destroyed = true;
    uv_timer_stop(&g->timer);
    uv_close((uv_handle_t *)&g->timer, NULL);
}

bool cl_gw_destroyed(const struct cl_gw *g)
{
    return g->destroyed;
}

void cl_gw_free(struct cl_gw *g)
{
    if (!g)
        return;
    cl__fail_all(g, "shutting down");
    cl_gw_identity_wipe(&g->id);
    cl_gw_settings_wipe(&g->set);
    cl_wipe(g, sizeof *g);
    free(g);
}

/* events: /events subscribers, their authentication, and publishing. */
#include "relay/events.h"
#include "relay/admission.h"
#include "relay/bus.h"
#include "core/err.h"
#include "core/json.h"
#include "core/log.h"
#include "core/secret.h"
#include "relay/conn.h"
#include "relay/policy.h"
#include "relay/relay.h"
#include "relay/views.h"

#include <stdlib.h>
#include <string.h>

/* The subjects events travel on between relays (docs/operations.md, "A
 * cluster"): one per project, and the re-check of a user's tokens. */
#define CL__SUBJECT_EVENTS  "cl.ev."
#define CL__SUBJECT_RECHECK "cl.evu.recheck"

/* One authenticated subscriber; owned by the events module, pointed to
 * by its connection (c->ev) until the connection closes. */
struct cl_events_sub {
    struct cl_conn *c;
    char user_id[CL_UUID_LEN + 1];
    uint8_t token_hash[CL_HASH_LEN]; /* looked up again at each event */
    struct cl_events_sub *next, *prev;
};

struct cl_events {
    struct cl_relay *relay;
    struct cl_events_sub *subs;
    size_t nsubs;
    /* a relay in a cluster: events cross to the other relays' dashboards
     * over NATS (cl_events_attach_bus) */
    struct cl_bus *bus;
    struct cl_bus_sub *bus_events, *bus_recheck;
    char relay_id[CL_RELAY_ID_LEN + 1];
    uint64_t bus_refused; /* malformed messages from the bus */
};

/* Whether an event can reach anyone: a local subscriber, or another relay. */
static bool cl__listening(const struct cl_events *ev)
{
    return ev && (ev->subs || ev->bus);
}

struct cl_events *cl_events_new(struct cl_relay *r)
{
    struct cl_events *ev = calloc(1, sizeof *ev);
    if (!ev)
        abort();
    ev->relay = r;
    return ev;
}

static void cl__unlink(struct cl_events *ev, struct cl_events_sub *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        ev->subs = s->next;
    if (s->next)
        s->next->prev = s->prev;
    ev->nsubs--;
    s->c->ev = NULL;
    cl_wipe(s, sizeof *s);
    free(s);
}

void cl_events_free(struct cl_events *ev)
{
    if (!ev)
        return;
    cl_bus_unsubscribe(ev->bus_events);
    cl_bus_unsubscribe(ev->bus_recheck);
    while (ev->subs)
        cl__unlink(ev, ev->subs);
    free(ev);
}

size_t cl_events_count(const struct cl_events *ev)
{
    return ev ? ev->nsubs : 0;
}

void cl_events_shutdown(struct cl_events *ev)
{
    for (struct cl_events_sub *s = ev->subs; s; s = s->next)
        cl_conn_close(s->c, LWS_CLOSE_STATUS_GOINGAWAY, "relay restarting");
}

/* ---- messages from subscribers ------------------------------------------- */

int cl_events_parse(const char *buf, size_t len, struct cl_events_msg *out, const char **code,
                    char *err, size_t errlen)
{
    const char *type, *token;
    json_t *root, *data;
    int rc = CL_EINVAL;

    memset(out, 0, sizeof *out);
    *code = "bad_json";
    root = cl_json_parse_object(buf, len, err, errlen);
    if (!root)
        return CL_EINVAL;
    *code = "bad_message";
    if (cl_json_str(root, "message", "type", true, 32, &type, err, errlen))
        goto out_free;
    if (strcmp(type, "ping") == 0) {
        out->type = CL_EVMSG_PING;
        rc = 0;
    } else if (strcmp(type, "auth") == 0) {
        data = json_object_get(root, "data");
        if (!json_is_object(data)) {
            rc = cl_seterr(err, errlen, CL_EINVAL, "auth needs a data object");
            goto out_free;
        }
        /* optional: the session cookie may stand in (cl__auth) */
        if (cl_json_str(data, "data", "token", false, CL_TOKEN_MAX, &token, err, errlen))
            goto out_free;
        out->type = CL_EVMSG_AUTH;
        snprintf(out->token, sizeof out->token, "%s", token ? token : "");
        rc = 0;
    } else {
        *code = "unknown_type";
        rc = cl_seterr(err, errlen, CL_EINVAL, "unknown message type on /events");
    }
out_free:
    json_decref(root);
    return rc;
}

static void cl__send_json(struct cl_conn *c, json_t *msg)
{
    size_t len = 0;
    char *text = cl_json_dump(msg, &len);
    json_decref(msg);
    if (!text)
        abort();
    cl_conn_send(c, text, len);
    free(text);
}

static void cl__refuse(struct cl_conn *c, const char *code, const char *message)
{
    cl_conn_send_error(c, code, message, NULL);
    cl_conn_close(c, LWS_CLOSE_STATUS_POLICY_VIOLATION, "auth failed");
}

/* Whether sub's token still signs its user in (it may have been revoked
 * or have expired since auth); if not, closes it with auth_failed. Asked
 * at every event published and every ping, so a signed-out dashboard
 * hears of it within a ping interval even on a quiet relay. */
static bool cl__sub_still_valid(struct cl_events *ev, struct cl_events_sub *sub)
{
    struct cl_store *st = &ev->relay->store;
    char user_id[CL_UUID_LEN + 1];
    if (st->ops->token_user(st, sub->token_hash, cl_now(), user_id) == 0 &&
        strcmp(user_id, sub->user_id) == 0)
        return true;
    cl_info("events", "subscriber's token no longer valid: closing", "user=%s peer=%s",
            sub->user_id, sub->c->peer);
    cl__refuse(sub->c, "auth_failed", "token revoked or expired");
    return false;
}

static void cl__recheck_local(struct cl_events *ev, const char *user_id)
{
    for (struct cl_events_sub *sub = ev->subs, *next; sub; sub = next) {
        next = sub->next;
        if (strcmp(sub->user_id, user_id) == 0 && !sub->c->close_pending)
            cl__sub_still_valid(ev, sub);
    }
}

void cl_events_recheck_user(struct cl_events *ev, const char *user_id)
{
    cl__recheck_local(ev, user_id);
    if (ev->bus) {
        char msg[CL_RELAY_ID_LEN + 1 + CL_UUID_LEN + 1];
        int n = snprintf(msg, sizeof msg, "%s\n%s", ev->relay_id, user_id);
        if (n > 0 && (size_t)n < sizeof msg)
            cl_bus_publish(ev->bus, CL__SUBJECT_RECHECK, NULL, msg, (size_t)n);
    }
}

static void cl__auth(struct cl_events *ev, struct cl_conn *c, struct cl_events_msg *m)
{
    struct cl_store *s = &ev->relay->store;
    struct cl_events_sub *sub;
    uint8_t hash[CL_HASH_LEN];
    char user_id[CL_UUID_LEN + 1];

    if (!m->token[0] && !c->cookie_ok) {
        cl_warn("events", "subscriber auth refused: no token", "peer=%s", c->peer);
        cl__refuse(c, "auth_failed",
                   "auth needs a token (or the session cookie, from the relay's origin)");
        return;
    }
    if (m->token[0])
        cl_hash_str(m->token, hash);
    else
        memcpy(hash, c->cookie_hash, sizeof hash); /* the upgrade's cookie (webauth.h) */
    if (s->ops->token_user(s, hash, cl_now(), user_id) != 0) {
        cl_warn("events", "subscriber auth refused: bad token", "peer=%s", c->peer);
        cl__refuse(c, "auth_failed", "invalid or expired token");
        goto out_wipe;
    }
    sub = calloc(1, sizeof *sub);
    if (!sub)
        abort();
    sub->c = c;
    snprintf(sub->user_id, sizeof sub->user_id, "%s", user_id);
    memcpy(sub->token_hash, hash, sizeof hash);
    sub->next = ev->subs;
    if (ev->subs)
        ev->subs->prev = sub;
    ev->subs = sub;
    ev->nsubs++;
    c->ev = sub;
    c->authed = true;
    cl_admission_ws_authed(c->relay->admission, c->wsi);
    snprintf(c->user_id, sizeof c->user_id, "%s", user_id);
    cl__send_json(c, json_pack("{s:s, s:{s:s}}", "type", "auth_ok", "data", "user_id", user_id));
    cl_info("events", "subscriber authenticated", "user=%s peer=%s", user_id, c->peer);
out_wipe:
    cl_wipe(hash, sizeof hash);
}

static void cl__message(struct cl_events *ev, struct cl_conn *c, const char *buf, size_t len)
{
    struct cl_events_msg m;
    const char *code;
    char err[200];

    if (cl_events_parse(buf, len, &m, &code, err, sizeof err)) {
        cl_conn_log_bad(c, "events", code, err);
        if (!c->authed)
            cl__refuse(c, code, err);
        else
            cl_conn_send_error(c, code, err, NULL);
        return;
    }
    if (!c->authed && m.type != CL_EVMSG_AUTH)
        cl__refuse(c, "not_authenticated", "send auth first");
    else if (m.type == CL_EVMSG_AUTH && c->authed)
        cl_conn_send_error(c, "bad_message", "already authenticated", NULL);
    else if (m.type == CL_EVMSG_AUTH)
        cl__auth(ev, c, &m);
    else if (cl__sub_still_valid(ev, c->ev))
        cl__send_json(c, json_pack("{s:s}", "type", "pong"));
    cl_wipe(&m, sizeof m);
}

/* A whole message (server.c collects one of at most
 * CL_EVENTS_MAX_MESSAGE bytes); a collected one is wiped after (it may
 * carry a token). */
static void cl__on_message(struct cl_conn *c, const char *data, size_t len, bool binary,
                           struct cl_frame **owned)
{
    if (binary)
        cl_conn_send_error(c, "bad_message", "/events takes JSON text messages", NULL);
    else
        cl__message(c->relay->events, c, data, len);
    if (owned && *owned)
        cl_wipe(cl_frame_payload(*owned), (*owned)->len);
}

static void cl__on_close(struct cl_conn *c)
{
    struct cl_events *ev = c->relay->events;

    if (c->ev) {
        cl_debug("events", "subscriber left", "user=%s peer=%s", c->ev->user_id, c->peer);
        cl__unlink(ev, c->ev);
    }
    if (c->rx)
        cl_wipe(cl_frame_payload(c->rx), c->rx->cap);
}

const struct cl_conn_ops cl_events_conn_ops = {
    .kind = CL_CONN_EVENTS,
    .max_message = CL_EVENTS_MAX_MESSAGE,
    .cookie_auth = true,
    .on_message = cl__on_message,
    .on_close = cl__on_close,
};

/* ---- publishing ------------------------------------------------------------ */

/* Queues text for sub, or drops a subscriber that is not reading. */
static void cl__deliver(struct cl_events_sub *sub, const char *text, size_t len)
{
    struct cl_conn *c = sub->c;
    if (c->q.bytes + len > CL_EVENTS_QUEUE_MAX) {
        cl_warn("events", "events queue overflow: dropping subscriber",
                "user=%s peer=%s queued=%zu", sub->user_id, c->peer, c->q.bytes);
        cl_wsq_clear(&c->q);
        cl_conn_close(c, CL_EVENTS_CLOSE_SLOW, "events queue overflow");
        /* its close frame waits for it to read; do not wait forever */
        lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, CL_EVENTS_DROP_GRACE_S);
        return;
    }
    cl_conn_send(c, text, len);
}

/* Delivers an event's text (a whole message) to the local subscribers who
 * may see project_id now, and to also_user's (NULL: none). */
static size_t cl__deliver_local(struct cl_events *ev, const char *project_id, const char *also_user,
                                const char *text, size_t len)
{
    struct cl_store *st = &ev->relay->store;
    struct cl_events_sub *sub, *next;
    size_t n = 0;

    for (sub = ev->subs; sub; sub = next) {
        next = sub->next;
        if (sub->c->close_pending)
            continue;
        /* the token may have been revoked since auth: it ends here */
        if (!cl__sub_still_valid(ev, sub))
            continue;
        /* who may see the project now; and also_user, who has just lost
         * it (a member removed hears of their own removal) */
        if (cl_policy_project(st, sub->user_id, CL_ACT_PROJECT_EVENTS, project_id, NULL) != 0 &&
            !(also_user && strcmp(sub->user_id, also_user) == 0))
            continue;
        cl__deliver(sub, text, len);
        n++;
    }
    return n;
}

/* cl_events_publish, and also to also_user's subscriptions (may be NULL). */
static void cl__publish(struct cl_events *ev, const char *project_id, const char *kind,
                        json_t *data, const char *also_user)
{
    size_t len = 0, n;
    char *text, subject[CL_RELAY_BUS_SUBJECT_MAX];
    json_t *msg;

    if (!cl__listening(ev) || !project_id || !project_id[0]) {
        json_decref(data);
        return;
    }
    if (!data)
        data = json_object();
    json_object_set_new(data, "kind", json_string(kind));
    json_object_set_new(data, "project_id", json_string(project_id));
    json_object_set_new(data, "at", json_integer(cl_now()));
    msg = json_pack("{s:s, s:o}", "type", "event", "data", data);
    text = cl_json_dump(msg, &len);
    json_decref(msg);
    if (!text)
        abort();
    n = cl__deliver_local(ev, project_id, also_user, text, len);
    cl_debug("events", "published", "kind=%s project=%s subscribers=%zu", kind, project_id, n);
    /* and to the other relays' dashboards: "origin\nalso_user\n" + the
     * message, on the project's subject */
    if (ev->bus && cl_uuid_valid(project_id) &&
        snprintf(subject, sizeof subject, CL__SUBJECT_EVENTS "%s", project_id) <
            (int)sizeof subject) {
        size_t hl = CL_RELAY_ID_LEN + 1 + (also_user ? strlen(also_user) : 0) + 1;
        char *wire = malloc(hl + len + 1);
        if (!wire)
            abort();
        snprintf(wire, hl + 1, "%s\n%s\n", ev->relay_id, also_user ? also_user : "");
        memcpy(wire + hl, text, len);
        if (cl_bus_publish(ev->bus, subject, NULL, wire, hl + len) != 0)
            cl_debug("events", "not sent to the other relays", "kind=%s project=%s", kind,
                     project_id);
        free(wire);
    }
    free(text);
}

/* ---- events from the other relays (NATS) -------------------------------- */

int cl_events_bus_parse(const char *subject, const uint8_t *data, size_t len,
                        struct cl_events_wire *out)
{
    const char *p = (const char *)data, *end = p + len, *nl;
    json_t *msg, *d;
    const char *pid, *type;
    int rc = CL_EINVAL;

    memset(out, 0, sizeof *out);
    if (strncmp(subject, CL__SUBJECT_EVENTS, strlen(CL__SUBJECT_EVENTS)) != 0)
        return CL_EINVAL;
    pid = subject + strlen(CL__SUBJECT_EVENTS);
    if (!cl_uuid_valid(pid))
        return CL_EINVAL;
    snprintf(out->project_id, sizeof out->project_id, "%s", pid);
    /* the origin relay */
    nl = memchr(p, '\n', (size_t)(end - p));
    if (!nl || nl - p != CL_RELAY_ID_LEN)
        return CL_EINVAL;
    memcpy(out->origin, p, CL_RELAY_ID_LEN);
    out->origin[CL_RELAY_ID_LEN] = '\0';
    for (int i = 0; i < CL_RELAY_ID_LEN; i++)
        if (!((out->origin[i] >= '0' && out->origin[i] <= '9') ||
              (out->origin[i] >= 'a' && out->origin[i] <= 'f')))
            return CL_EINVAL;
    p = nl + 1;
    /* who else hears it (a member just removed), or nobody */
    nl = memchr(p, '\n', (size_t)(end - p));
    if (!nl || (nl != p && (nl - p != CL_UUID_LEN)))
        return CL_EINVAL;
    if (nl != p) {
        memcpy(out->also_user, p, CL_UUID_LEN);
        out->also_user[CL_UUID_LEN] = '\0';
        if (!cl_uuid_valid(out->also_user))
            return CL_EINVAL;
    }
    p = nl + 1;
    /* the message itself: an event about this very project */
    out->text = p;
    out->len = (size_t)(end - p);
    if (out->len == 0 || out->len > CL_EVENTS_QUEUE_MAX)
        return CL_EINVAL;
    msg = json_loadb(p, out->len, JSON_REJECT_DUPLICATES, NULL);
    d = json_object_get(msg, "data");
    type = json_string_value(json_object_get(msg, "type"));
    if (json_is_object(msg) && type && strcmp(type, "event") == 0 && json_is_object(d) &&
        (pid = json_string_value(json_object_get(d, "project_id"))) != NULL &&
        strcmp(pid, out->project_id) == 0 && json_is_string(json_object_get(d, "kind")))
        rc = 0;
    json_decref(msg);
    return rc;
}

static void cl__on_bus_event(void *ctx, const char *subject, const char *reply, const uint8_t *data,
                             size_t len)
{
    struct cl_events *ev = ctx;
    struct cl_events_wire w;
    (void)reply;

    if (cl_events_bus_parse(subject, data, len, &w) != 0) {
        if (ev->bus_refused++ % 1000 == 0)
            cl_warn("events", "malformed event from the bus", "subject=%.64s refused=%llu", subject,
                    (unsigned long long)ev->bus_refused);
        return;
    }
    if (strcmp(w.origin, ev->relay_id) == 0)
        return; /* our own, delivered already */
    cl__deliver_local(ev, w.project_id, w.also_user[0] ? w.also_user : NULL, w.text, w.len);
}

static void cl__on_bus_recheck(void *ctx, const char *subject, const char *reply,
                               const uint8_t *data, size_t len)
{
    struct cl_events *ev = ctx;
    char user_id[CL_UUID_LEN + 1];
    (void)subject;
    (void)reply;

    if (len != CL_RELAY_ID_LEN + 1 + CL_UUID_LEN || data[CL_RELAY_ID_LEN] != '\n' ||
        memcmp(data, ev->relay_id, CL_RELAY_ID_LEN) == 0)
        return;
    memcpy(user_id, data + CL_RELAY_ID_LEN + 1, CL_UUID_LEN);
    user_id[CL_UUID_LEN] = '\0';
    if (cl_uuid_valid(user_id))
        cl__recheck_local(ev, user_id);
}

int cl_events_attach_bus(struct cl_events *ev, struct cl_bus *bus, const char *relay_id)
{
    int rc;

    snprintf(ev->relay_id, sizeof ev->relay_id, "%s", relay_id);
    rc = cl_bus_subscribe(bus, CL__SUBJECT_EVENTS "*", cl__on_bus_event, ev, &ev->bus_events);
    if (rc == 0)
        rc = cl_bus_subscribe(bus, CL__SUBJECT_RECHECK, cl__on_bus_recheck, ev, &ev->bus_recheck);
    if (rc) {
        cl_bus_unsubscribe(ev->bus_events);
        ev->bus_events = NULL;
        return rc;
    }
    ev->bus = bus;
    return 0;
}

void cl_events_publish(struct cl_events *ev, const char *project_id, const char *kind, json_t *data)
{
    cl__publish(ev, project_id, kind, data, NULL);
}

/* The project of device_id, for publishers that know only the device. */
static bool cl__device_project(struct cl_events *ev, const char *device_id,
                               char project_id[CL_UUID_LEN + 1])
{
    struct cl_device d;
    struct cl_store *st = &ev->relay->store;
    if (st->ops->device_get(st, device_id, &d) != 0)
        return false;
    snprintf(project_id, CL_UUID_LEN + 1, "%s", d.project_id);
    return true;
}

void cl_events_device_status(struct cl_events *ev, const char *project_id, const char *device_id,
                             bool online)
{
    char pid[CL_UUID_LEN + 1];
    if (!cl__listening(ev))
        return;
    if (!project_id) {
        if (!cl__device_project(ev, device_id, pid))
            return;
        project_id = pid;
    }
    cl_events_publish(ev, project_id, online ? "device.online" : "device.offline",
                      json_pack("{s:s}", "device_id", device_id));
}

void cl_events_session_started(struct cl_events *ev, const char *project_id,
                               const struct cl_session *s)
{
    char pid[CL_UUID_LEN + 1];
    if (!cl__listening(ev))
        return;
    if (!project_id) {
        if (!cl__device_project(ev, s->device_id, pid))
            return;
        project_id = pid;
    }
    cl_events_publish(ev, project_id, "session.started",
                      json_pack("{s:s, s:s, s:s, s:I}", "session_id", s->id, "device_id",
                                s->device_id, "user_id", s->user_id, "started_at",
                                (json_int_t)s->started_at));
}

void cl_events_session_ended(struct cl_events *ev, const char *device_id, const char *session_id,
                             const char *reason)
{
    char pid[CL_UUID_LEN + 1];
    if (!cl__listening(ev) || !cl__device_project(ev, device_id, pid))
        return;
    cl_events_publish(ev, pid, "session.ended",
                      json_pack("{s:s, s:s, s:s}", "session_id", session_id, "device_id", device_id,
                                "reason", reason ? reason : ""));
}

void cl_events_session_title(struct cl_events *ev, const char *device_id, const char *session_id,
                             const char *title)
{
    char pid[CL_UUID_LEN + 1];
    if (!cl__listening(ev) || !cl__device_project(ev, device_id, pid))
        return;
    cl_events_publish(ev, pid, "session.title",
                      json_pack("{s:s, s:s, s:s}", "session_id", session_id, "device_id", device_id,
                                "title", title));
}

void cl_events_device(struct cl_events *ev, const char *kind, const struct cl_device *d)
{
    if (!cl__listening(ev))
        return;
    cl_events_publish(ev, d->project_id, kind, json_pack("{s:o}", "device", cl_json_device(d)));
}

void cl_events_member(struct cl_events *ev, const char *kind, const char *project_id,
                      const char *user_id)
{
    struct cl_store *st;
    struct cl_user u;
    json_t *data;
    if (!cl__listening(ev))
        return;
    st = &ev->relay->store;
    data = json_pack("{s:s}", "user_id", user_id);
    if (strcmp(kind, "member.added") == 0 && st->ops->user_by_id(st, user_id, &u) == 0) {
        cl_wipe(u.pw_hash, sizeof u.pw_hash);
        json_object_set_new(data, "email", json_string(u.email));
        json_object_set_new(data, "display_name", json_string(u.display_name));
        json_object_set_new(data, "role", json_string("member"));
    }
    /* the member removed hears it too: their dashboard drops the project */
    cl__publish(ev, project_id, kind, data, strcmp(kind, "member.removed") == 0 ? user_id : NULL);
}

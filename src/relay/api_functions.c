/*
 * api_functions: PrivaClaw's edge functions, same shapes (seed 001, API
 * Reference): pair-device, start-session, end-session, invite-member,
 * relay-nodes (download-connector is in api_connector.c).
 */
#include "core/err.h"
#include "core/json.h"
#include "core/log.h"
#include "core/secret.h"
#include "relay/auth.h"
#include "relay/consent.h"
#include "relay/events.h"
#include "relay/http.h"
#include "relay/nodes.h"
#include "relay/router.h"
#include "relay/policy.h"
#include "relay/ratelimit.h"
#include "relay/relay.h"

#include <string.h>
#include <time.h>

static void cl__collect_session_id(const struct cl_session *sess, void *ctx)
{
    struct cl_id_list *l = ctx;
    cl_id_list_add(l, sess->id);
}

/* Re-pairing replaced the device token: an agent still connected with the
 * old one must not stay. Its live sessions end ("device_repaired"), it is
 * closed (4004, as for a removed device: its old token is dead), and the
 * device is offline until the newly paired agent says hello. */
static void cl__close_old_agent(struct cl_relay *r, const char *device_id)
{
    struct cl_store *s = &r->store;
    struct cl_id_list ended = {0};
    int64_t now = cl_now();
    s->ops->session_list_active(s, device_id, cl__collect_session_id, &ended);
    for (size_t i = 0; i < ended.n; i++)
        s->ops->session_end(s, ended.id[i], now, "device_repaired", false, 0);
    r->router.ops->device_removed(&r->router, device_id, CL_END_DEVICE_REPAIRED);
    s->ops->device_set_online(s, device_id, false, now);
    cl_info("api", "device re-paired: closed the agent holding the old token", "device=%s",
            device_id);
    cl_id_list_free(&ended);
}

/* ---- pairing limits (core/limits.h, docs/security.md "Pairing codes") ----
 *
 * Only failures count, after the code was looked up, so a correct code
 * never uses up anything. Before the lookup an attempt is refused when its
 * address has used up its failures, or when the relay-wide failures are
 * over their ceiling and its address has failed before in its window (a
 * clean address still gets its try: a flood slows guessing, it locks
 * nobody's correct code out). A code named by too many attempts that did
 * not pair it (refused ones included) is voided. */

static void cl__pair_refuse(struct cl_http_req *req, unsigned retry, const char *why)
{
    cl_warn("api", "pairing attempt refused", "peer=%s why=%s", req->peer, why);
    cl_http_set_retry_after(req->conn, retry);
    cl_http_reply_error(req->conn, 429, "rate_limited", "too many pairing attempts; retry in %u s",
                        retry);
}

/* Whether an attempt from address key addr may look a code up now;
 * *retry gets seconds when not. */
static bool cl__pair_addr_ok(struct cl_relay *r, const char *addr, int64_t now, unsigned *retry,
                             const char **why)
{
    if (cl_ratelimit_over(r->rl_pair_addr, addr, now, retry)) {
        *why = "address";
        return false;
    }
    if (cl_ratelimit_count(r->rl_pair_global, "*", now) < CL_PAIR_FAILS_GLOBAL)
        return true;
    /* over the ceiling: only a clean address; when the address table is
     * full, no address can be shown clean (ratelimit.h fails closed) */
    if (cl_ratelimit_count(r->rl_pair_addr, addr, now) == 0 && now >= r->pair_addr_full_until)
        return true;
    cl_ratelimit_over(r->rl_pair_global, "*", now, retry);
    *why = "relay-wide";
    return false;
}

static void cl__pair_code_key(const uint8_t hash[CL_HASH_LEN], char key[33])
{
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 16; i++) {
        key[2 * i] = hex[hash[i] >> 4];
        key[2 * i + 1] = hex[hash[i] & 15];
    }
    key[32] = 0;
}

/* Counts a failure of addr (and of the code, when code_key) and voids the
 * code once it has collected CL_PAIR_FAILS_PER_CODE. */
static void cl__pair_count(struct cl_relay *r, const char *addr, const char *code_key,
                           const uint8_t *hash, int64_t now)
{
    char device_id[CL_UUID_LEN + 1];
    if (addr) {
        if (!cl_ratelimit_add(r->rl_pair_addr, addr, now))
            r->pair_addr_full_until = now + CL_PAIR_RATE_WINDOW_S;
        cl_ratelimit_add(r->rl_pair_global, "*", now);
    }
    if (!code_key || !cl_ratelimit_add(r->rl_pair_code, code_key, now) ||
        !cl_ratelimit_over(r->rl_pair_code, code_key, now, NULL))
        return;
    if (r->store.ops->device_code_void(&r->store, hash, device_id) == 0)
        cl_warn("api", "pairing code voided: too many failed attempts named it", "device=%s",
                device_id);
}

static void cl__reply_voided(struct cl_conn *c)
{
    cl_http_reply_error(c, 410, "code_voided",
                        "this pairing code was voided after too many failed attempts; "
                        "generate a new one");
}

bool cl_http_pairing_begin(struct cl_http_req *req, const char *code_in, int64_t now,
                           uint8_t hash[CL_HASH_LEN])
{
    struct cl_relay *r = req->relay;
    char addr[CL_RATELIMIT_KEY_MAX + 1], code[CL_PAIRING_CODE_LEN + 1], code_key[33];
    const char *why = NULL;
    unsigned retry = 1;
    bool addr_ok;

    cl_ratelimit_addr_key(req->peer, addr);
    addr_ok = cl__pair_addr_ok(r, addr, now, &retry, &why);
    if (cl_pairing_code_normalize(code_in, code)) {
        /* cannot be a code: a failure of the address, naming no code */
        if (!addr_ok) {
            cl__pair_refuse(req, retry, why);
            return false;
        }
        cl__pair_count(r, addr, NULL, NULL, now);
        cl_http_reply_code_error(req->conn, CL_ENOTFOUND);
        return false;
    }
    cl_hash_str(code, hash);
    cl_wipe(code, sizeof code);
    cl__pair_code_key(hash, code_key);
    if (cl_ratelimit_over(r->rl_pair_code, code_key, now, NULL)) {
        cl__reply_voided(req->conn);
        return false;
    }
    if (!addr_ok) {
        cl__pair_count(r, NULL, code_key, hash, now); /* a refused try at this code */
        cl__pair_refuse(req, retry, why);
        return false;
    }
    return true;
}

void cl_http_pairing_failed(struct cl_http_req *req, const uint8_t hash[CL_HASH_LEN], int64_t now,
                            int rc)
{
    char addr[CL_RATELIMIT_KEY_MAX + 1], code_key[33];
    if (rc == CL_ENOTFOUND || rc == CL_EEXPIRED) {
        cl_ratelimit_addr_key(req->peer, addr);
        cl__pair_code_key(hash, code_key);
        cl__pair_count(req->relay, addr, code_key, hash, now);
    }
    cl_http_reply_code_error(req->conn, rc);
}

void cl_http_reply_code_error(struct cl_conn *c, int rc)
{
    if (rc == CL_ENOTFOUND)
        cl_http_reply_error(c, 404, "invalid_code", "unknown or already used pairing code");
    else if (rc == CL_EEXPIRED)
        cl_http_reply_error(c, 410, "code_expired",
                            "this pairing code has expired; generate a new one");
    else
        cl_http_reply_errcode(c, rc);
}

static void cl__pair_device(struct cl_http_req *req)
{
    struct cl_relay *r = req->relay;
    struct cl_store *s = &r->store;
    const char *code_in, *name;
    char token[CL_TOKEN_STR_LEN + 1], err[160];
    uint8_t code_hash[CL_HASH_LEN], token_hash[CL_HASH_LEN];
    struct cl_device d;
    int64_t now = cl_now();
    int rc;

    /* a request without a code guesses nothing: refused before the limits */
    if (cl_json_str(req->body, "body", "pairing_code", true, 64, &code_in, err, sizeof err) ||
        cl_json_str(req->body, "body", "name", false, CL_NAME_MAX, &name, err, sizeof err)) {
        cl_http_reply_error(req->conn, 400, "invalid_request", "%s", err);
        return;
    }
    if (!cl_http_pairing_begin(req, code_in, now, code_hash))
        return;
    cl_token_new(CL_TOKEN_DEVICE, token);
    cl_hash_str(token, token_hash);
    rc = s->ops->device_pair(s, code_hash, now, name, token_hash, &d);
    if (rc) {
        cl_http_pairing_failed(req, code_hash, now, rc);
        goto out_wipe;
    }
    cl_info("api", "device paired", "device=%s project=%s peer=%s", d.id, d.project_id, req->peer);
    if (r->router.ops->agent_online(&r->router, d.id))
        cl__close_old_agent(r, d.id);
    cl_http_reply_json(
        req->conn, 200,
        json_pack("{s:s, s:s, s:s}", "device_id", d.id, "token", token, "relay_url", r->relay_url));
out_wipe:
    cl_wipe(token, sizeof token);
}

static int cl__id_field(struct cl_http_req *req, const char *key, const char **out)
{
    char err[160];
    if (cl_json_str(req->body, "body", key, true, CL_ID_MAX, out, err, sizeof err)) {
        cl_http_reply_error(req->conn, 400, "invalid_request", "%s", err);
        return CL_EINVAL;
    }
    return 0;
}

static void cl__start_session(struct cl_http_req *req)
{
    struct cl_relay *r = req->relay;
    struct cl_device d;
    struct cl_session sess;
    const char *device_id;
    size_t per_device, per_user;
    int rc;

    if (cl__id_field(req, "device_id", &device_id))
        return;
    rc = cl_policy_device(&r->store, req->user_id, CL_ACT_SESSION_START, device_id, &d);
    if (rc) {
        cl_http_reply_errcode(req->conn, rc);
        return;
    }
    if (!r->router.ops->agent_online(&r->router, d.id)) {
        cl_http_reply_error(req->conn, 409, "device_offline",
                            "the device is offline: is its agent running (clawlink up)?");
        return;
    }
    rc = r->store.ops->session_count_open(&r->store, d.id, req->user_id, &per_device, &per_user);
    if (rc) {
        cl_http_reply_errcode(req->conn, rc);
        return;
    }
    if (per_device >= r->opts.max_sessions_device || per_user >= r->opts.max_sessions_user) {
        bool dev = per_device >= r->opts.max_sessions_device;
        cl_info("api", "session refused: too many open",
                "device=%s user=%s per_device=%zu per_user=%zu", d.id, req->user_id, per_device,
                per_user);
        cl_http_reply_error(req->conn, 409, "too_many_sessions",
                            "%s has %d open sessions already: end one first",
                            dev ? "this device" : "your account",
                            dev ? r->opts.max_sessions_device : r->opts.max_sessions_user);
        return;
    }
    memset(&sess, 0, sizeof sess);
    cl_uuid_new(sess.id);
    snprintf(sess.device_id, sizeof sess.device_id, "%s", d.id);
    snprintf(sess.user_id, sizeof sess.user_id, "%s", req->user_id);
    sess.active = true;
    sess.started_at = cl_now();
    rc = r->store.ops->session_create(&r->store, &sess);
    if (rc) {
        cl_http_reply_errcode(req->conn, rc);
        return;
    }
    r->router.ops->session_opened(&r->router, &sess);
    cl_info("api", "session created", "session=%s device=%s user=%s", sess.id, d.id, req->user_id);
    cl_http_reply_json(req->conn, 200, json_pack("{s:s}", "session_id", sess.id));
}

static void cl__end_session(struct cl_http_req *req)
{
    struct cl_relay *r = req->relay;
    struct cl_session sess;
    const char *session_id;
    int rc;

    if (cl__id_field(req, "session_id", &session_id))
        return;
    rc = cl_policy_session(&r->store, req->user_id, CL_ACT_SESSION_END, session_id, &sess, NULL,
                           NULL);
    if (rc) {
        cl_http_reply_errcode(req->conn, rc);
        return;
    }
    if (sess.active) {
        r->router.ops->session_end(&r->router, sess.id, CL_END_ENDED_BY_USER);
        rc = r->store.ops->session_end(&r->store, sess.id, cl_now(),
                                       cl_end_reason_name(CL_END_ENDED_BY_USER), false, 0);
        if (rc) {
            cl_http_reply_errcode(req->conn, rc);
            return;
        }
        cl_info("api", "session ended", "session=%s user=%s", sess.id, req->user_id);
    }
    cl_http_reply_json(req->conn, 200, json_pack("{s:b}", "ok", 1));
}

/* Counts one invitation against the inviter's and the project's limits
 * (finding 6); true when allowed, else replied 429 with Retry-After. */
static bool cl__invite_allowed(struct cl_http_req *req, const char *project_id)
{
    struct cl_consent *c = req->relay->consent;
    unsigned retry = 1;
    int64_t now = cl_now();
    if (cl_ratelimit_hit(c->invite_per_user, req->user_id, now, &retry) &&
        cl_ratelimit_hit(c->invite_per_project, project_id, now, &retry))
        return true;
    cl_warn("api", "invitations rate limited", "project=%s by=%s", project_id, req->user_id);
    cl_http_set_retry_after(req->conn, retry);
    cl_http_reply_error(req->conn, 429, "rate_limited",
                        "too many invitations (at most %d per project and %d per inviter an "
                        "hour); retry in %u s",
                        CL_INVITE_RATE_PER_PROJECT, CL_INVITE_RATE_PER_USER, retry);
    return false;
}

/* *out: whether email belongs to a member of project_id (the owner's
 * member list shows their addresses anyway: no existence oracle). Returns
 * 0 or a store error. */
static int cl__is_member(struct cl_store *s, const char *project_id, const char *email, bool *out)
{
    struct cl_user u;
    enum cl_role role = CL_ROLE_NONE;
    int rc = s->ops->user_by_email(s, email, &u);
    *out = false;
    if (rc == CL_ENOTFOUND)
        return 0;
    if (rc)
        return rc;
    cl_wipe(u.pw_hash, sizeof u.pw_hash);
    rc = s->ops->member_role(s, project_id, u.id, &role);
    if (rc && rc != CL_ENOTFOUND)
        return rc;
    *out = role != CL_ROLE_NONE;
    return 0;
}

/* Seed 001 "Inviting Members", with consent (issue 14): nobody is added
 * here. A pending invitation is recorded and the address is mailed; its
 * owner, signed in with that address proven, accepts or declines it
 * (api_invitations.c). The answer is the same whether or not the address
 * has an account: {status: "invited", message} as the seed's second case. */
static void cl__invite_member(struct cl_http_req *req)
{
    struct cl_relay *r = req->relay;
    struct cl_store *s = &r->store;
    const char *project_id, *email_in;
    char email[CL_EMAIL_MAX + 1], err[160], inv_id[CL_UUID_LEN + 1];
    struct cl_project p;
    struct cl_user inviter;
    size_t pending = 0;
    bool member;
    int rc;

    if (cl__id_field(req, "project_id", &project_id))
        return;
    rc = cl_policy_project(s, req->user_id, CL_ACT_MEMBER_INVITE, project_id, &p);
    if (rc) {
        cl_http_reply_errcode(req->conn, rc);
        return;
    }
    if (cl_json_str(req->body, "body", "email", true, CL_EMAIL_MAX + 32, &email_in, err,
                    sizeof err)) {
        cl_http_reply_error(req->conn, 400, "invalid_request", "%s", err);
        return;
    }
    if (cl_auth_normalize_email(email_in, email)) {
        cl_http_reply_error(req->conn, 400, "invalid_request",
                            "field body.email is not a valid email address");
        return;
    }
    if (!cl__invite_allowed(req, p.id))
        return;
    rc = cl__is_member(s, p.id, email, &member);
    if (rc == 0 && member) {
        cl_http_reply_error(req->conn, 409, "already_member",
                            "that address belongs to a member of this project");
        return;
    }
    if (rc == 0)
        rc = s->ops->invitation_count_pending(s, p.id, &pending);
    if (rc == 0 && pending >= r->opts.max_pending_invitations) {
        cl_http_reply_error(req->conn, 409, "too_many_invitations",
                            "this project has %u pending invitations: cancel some first",
                            r->opts.max_pending_invitations);
        return;
    }
    if (rc == 0)
        rc = s->ops->user_by_id(s, req->user_id, &inviter);
    if (rc) {
        cl_http_reply_errcode(req->conn, rc == CL_ENOTFOUND ? CL_EAUTH : rc);
        return;
    }
    cl_wipe(inviter.pw_hash, sizeof inviter.pw_hash);
    rc = s->ops->invitation_create(s, p.id, email, req->user_id, cl_now(), inv_id);
    if (rc == CL_EEXIST) {
        cl_http_reply_error(req->conn, 409, "already_invited",
                            "an invitation for that email is already pending");
        return;
    }
    if (rc) {
        cl_http_reply_errcode(req->conn, rc);
        return;
    }
    cl_consent_mail_invitation(r, &p, &inviter, email);
    cl_info("api", "invitation created", "project=%s invitation=%s by=%s", p.id, inv_id,
            req->user_id);
    cl_http_reply_json(req->conn, 200,
                       json_pack("{s:s, s:s, s:s}", "status", "invited", "message",
                                 "Invitation sent", "invitation_id", inv_id));
}

/* ISO 8601 UTC ("2025-02-24T10:00:00Z") as the seed's relay-nodes shows
 * times, or null for 0 (never). */
static json_t *cl__iso8601(int64_t t)
{
    char buf[32];
    struct tm tm;
    time_t tt = (time_t)t;
    if (!t || !gmtime_r(&tt, &tm) || !strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm))
        return json_null();
    return json_string(buf);
}

struct cl__nodes_ctx {
    json_t *arr;
    struct cl_nodes *nodes;
};

/* An OpenClaw node is online when its agent is connected and its last
 * heartbeat says its gateway is (connection_state); a connector when its
 * agent is connected. */
static void cl__collect_node(const struct cl_device *d, void *ctx)
{
    struct cl__nodes_ctx *x = ctx;
    struct cl_node_info info;
    bool node = d->online && cl_nodes_get(x->nodes, d->id, &info);
    json_t *o =
        json_pack("{s:s, s:s, s:s, s:s, s:b}", "device_id", d->id, "project_id", d->project_id,
                  "name", d->name, "kind", d->kind[0] ? d->kind : CL_DEVICE_KIND_CONNECTOR,
                  "online", node ? info.state == CL_NODE_ONLINE : d->online);
    json_object_set_new(o, "connected_at", cl__iso8601(d->connected_at));
    json_object_set_new(o, "last_heartbeat", cl__iso8601(d->last_heartbeat));
    if (node)
        json_object_set_new(o, "connection_state", json_string(cl_node_state_name(info.state)));
    json_array_append_new(x->arr, o);
}

/* The paired devices of the caller's projects, online or not (online says
 * which have an agent connected now); never anyone else's. */
static void cl__relay_nodes(struct cl_http_req *req)
{
    struct cl_store *s = &req->relay->store;
    json_t *arr;
    int rc = cl_policy_account(s, req->user_id, CL_ACT_NODES_LIST, req->user_id);
    if (rc) {
        cl_http_reply_errcode(req->conn, rc);
        return;
    }
    arr = json_array();
    struct cl__nodes_ctx x = {arr, req->relay->nodes};
    rc = s->ops->device_list_for_user(s, req->user_id, cl__collect_node, &x);
    if (rc) {
        json_decref(arr);
        cl_http_reply_errcode(req->conn, rc);
        return;
    }
    cl_http_reply_json(req->conn, 200, json_pack("{s:o}", "nodes", arr));
}

/* Each route names the policy action its handler asks cl_policy_* for. */
const struct cl_route cl_routes_functions[] = {
    {CL_HTTP_POST, "/functions/v1/invite-member", CL_ACT_MEMBER_INVITE, cl__invite_member, 0},
    {CL_HTTP_POST, "/functions/v1/pair-device", CL_ROUTE_PUBLIC, cl__pair_device, 0},
    {CL_HTTP_POST, "/functions/v1/start-session", CL_ACT_SESSION_START, cl__start_session, 0},
    {CL_HTTP_POST, "/functions/v1/end-session", CL_ACT_SESSION_END, cl__end_session, 0},
    {CL_HTTP_GET, "/functions/v1/relay-nodes", CL_ACT_NODES_LIST, cl__relay_nodes, 0},
    {0, NULL, 0, NULL, 0},
};

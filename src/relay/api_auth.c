/*
 * api_auth: sign-up, sign-in, sign-out and the current user. Sign-up and
 * sign-in are rate-limited per address and per account (accounts.h).
 * GET /api/v1/auth/status is the web app's signed-out-safe question "who
 * am I": 200 either way, so a signed-out page load logs no error.
 *
 * API clients get a bearer token in the body. The web app (it sends
 * "X-Clawlink-Client: web") gets the token in the session cookie
 * instead and a CSRF token in the body (webauth.h); so does a one-time
 * sign-in code, which only a loopback peer may use (make run's link).
 *
 * Password hashing runs on the worker pool; the store is touched only on
 * the loop thread, before and after.
 */
#include "core/err.h"
#include "core/json.h"
#include "core/log.h"
#include "core/secret.h"
#include "relay/accounts.h"
#include "relay/auth.h"
#include "relay/consent.h"
#include "relay/events.h"
#include "relay/http.h"
#include "relay/relay.h"
#include "relay/webauth.h"

#include <stdlib.h>
#include <string.h>

struct cl__pw_job {
    struct cl_relay *relay;
    bool signup;
    char password[CL_PASSWORD_MAX + 1];
    struct cl_user user; /* signup: the new user; login: the found one */
    bool found;          /* login: the email exists */
    bool ok;             /* hashing succeeded / password verified */
    bool web;            /* the web app asked: answer with the cookie */
};

static void cl__pw_job_free(struct cl__pw_job *j)
{
    cl_wipe(j->password, sizeof j->password);
    cl_wipe(j->user.pw_hash, sizeof j->user.pw_hash);
    free(j);
}

/* Reads and validates {email, password} common to signup and login. */
static int cl__credentials(struct cl_http_req *req, struct cl__pw_job *j)
{
    const char *email, *password;
    char err[160];
    if (cl_json_str(req->body, "body", "email", true, CL_EMAIL_MAX + 32, &email, err, sizeof err) ||
        cl_json_str(req->body, "body", "password", true, CL_PASSWORD_MAX, &password, err,
                    sizeof err)) {
        cl_http_reply_error(req->conn, 400, "invalid_request", "%s", err);
        return CL_EINVAL;
    }
    if (cl_auth_normalize_email(email, j->user.email)) {
        cl_http_reply_error(req->conn, 400, "invalid_request",
                            "field body.email is not a valid "
                            "email address");
        return CL_EINVAL;
    }
    if (j->signup && strlen(password) < CL_PASSWORD_MIN) {
        cl_http_reply_error(req->conn, 400, "invalid_request",
                            "field body.password must be at least %d bytes", CL_PASSWORD_MIN);
        return CL_EINVAL;
    }
    memcpy(j->password, password, strlen(password) + 1);
    return 0;
}

/* {user, csrf_token}: what the web app gets for the session whose token
 * hashes to token_hash. */
static json_t *cl__web_session(struct cl_relay *r, const struct cl_user *u,
                               const uint8_t token_hash[CL_HASH_LEN])
{
    char csrf[CL_CSRF_TOKEN_LEN + 1];
    json_t *o;
    cl_webauth_csrf_token(r->csrf_key, token_hash, csrf);
    o = json_pack("{s:o, s:s}", "user", cl_json_user(u), "csrf_token", csrf);
    cl_wipe(csrf, sizeof csrf);
    return o;
}

/* Issues a session for u: to an API client as a bearer token in the body,
 * to the web app (web) as the session cookie (webauth.h) with the CSRF token. */
static void cl__reply_token(struct cl_conn *c, int status, struct cl_relay *r,
                            const struct cl_user *u, bool web)
{
    char token[CL_TOKEN_STR_LEN + 1], cookie[256];
    uint8_t hash[CL_HASH_LEN];
    int rc = cl_auth_issue_token(&r->store, u->id, cl_now(), token);
    if (rc) {
        cl_http_reply_errcode(c, rc);
        return;
    }
    if (!web) {
        cl_http_reply_json(c, status,
                           json_pack("{s:s, s:o}", "token", token, "user", cl_json_user(u)));
        cl_wipe(token, sizeof token);
        return;
    }
    cl_hash_str(token, hash);
    cl_webauth_cookie_header(r, token, cookie, sizeof cookie);
    cl_wipe(token, sizeof token);
    cl_http_set_cookie(c, cookie);
    cl_wipe(cookie, sizeof cookie);
    cl_http_reply_json(c, status, cl__web_session(r, u, hash));
    cl_wipe(hash, sizeof hash);
}

/* The web app's sign-in routes set a cookie: a request that names a
 * foreign Origin is refused (403 csrf_failed); true then. */
static bool cl__foreign_origin(struct cl_http_req *req)
{
    if (!cl_webauth_has_origin(req->conn->wsi) ||
        cl_webauth_same_origin(req->relay, req->conn->wsi))
        return false;
    cl_warn("auth", "sign-in from a foreign origin refused", "peer=%s", req->peer);
    cl_http_reply_error(req->conn, 403, "csrf_failed", "this origin may not sign in here");
    return true;
}

/* ---- signup ----------------------------------------------------------- */

static void cl__signup_work(void *arg)
{
    struct cl__pw_job *j = arg;
    j->ok = cl_auth_hash_password(j->password, j->user.pw_hash) == 0;
}

static void cl__signup_done(struct cl_conn *c, void *arg)
{
    struct cl__pw_job *j = arg;
    struct cl_relay *r = j->relay;
    int rc;
    if (!c)
        goto out_free;
    if (!j->ok) {
        cl_http_reply_errcode(c, CL_ENOMEM);
        goto out_free;
    }
    rc = r->store.ops->user_create(&r->store, &j->user);
    if (rc == CL_EEXIST) {
        cl_http_reply_error(c, 409, "email_taken", "an account with this email already exists");
        goto out_free;
    }
    if (rc) {
        cl_http_reply_errcode(c, rc);
        goto out_free;
    }
    /* Sign-up joins nothing (issue 14): invitations to this address wait
     * until it is proven and the user accepts them. */
    cl_consent_send_verification(r, &j->user, true, NULL);
    cl_info("auth", "user signed up", "user=%s", j->user.id);
    cl__reply_token(c, 201, r, &j->user, j->web);
out_free:
    cl__pw_job_free(j);
}

static void cl__signup(struct cl_http_req *req)
{
    struct cl_relay *r = req->relay;
    struct cl__pw_job *j = calloc(1, sizeof *j);
    const char *display_name;
    struct cl_user existing;
    char err[160];

    if (!j)
        abort();
    j->relay = r;
    j->signup = true;
    j->web = cl_webauth_web_client(req->conn->wsi);
    if (j->web && cl__foreign_origin(req))
        goto out_free;
    if (cl__credentials(req, j))
        goto out_free;
    if (cl_json_text(req->body, "body", "display_name", false, CL_NAME_MAX, &display_name, err,
                     sizeof err)) {
        cl_http_reply_error(req->conn, 400, "invalid_request", "%s", err);
        goto out_free;
    }
    if (cl_accounts_refuse(req, CL_RATE_SIGNUP, j->user.email))
        goto out_free;
    if (r->store.ops->user_by_email(&r->store, j->user.email, &existing) == 0) {
        cl_http_reply_error(req->conn, 409, "email_taken",
                            "an account with this email already exists");
        goto out_free;
    }
    snprintf(j->user.display_name, sizeof j->user.display_name, "%s",
             display_name ? display_name : "");
    cl_uuid_new(j->user.id);
    j->user.created_at = cl_now();
    if (cl_http_job_start(req->conn, cl__signup_work, cl__signup_done, j) == 0)
        return;
    cl_http_reply_errcode(req->conn, CL_EIO);
out_free:
    cl__pw_job_free(j);
}

/* ---- login ------------------------------------------------------------ */

static void cl__login_work(void *arg)
{
    struct cl__pw_job *j = arg;
    j->ok = cl_auth_verify_password(j->password, j->found ? j->user.pw_hash : NULL);
}

static void cl__login_done(struct cl_conn *c, void *arg)
{
    struct cl__pw_job *j = arg;
    if (!c)
        goto out_free;
    if (!j->ok) {
        cl_http_reply_error(c, 401, "invalid_credentials", "wrong email or password");
        goto out_free;
    }
    cl__reply_token(c, 200, j->relay, &j->user, j->web);
out_free:
    cl__pw_job_free(j);
}

static void cl__login(struct cl_http_req *req)
{
    struct cl_relay *r = req->relay;
    struct cl__pw_job *j = calloc(1, sizeof *j);
    int rc;
    if (!j)
        abort();
    j->relay = r;
    j->web = cl_webauth_web_client(req->conn->wsi);
    if (j->web && cl__foreign_origin(req))
        goto out_free;
    if (cl__credentials(req, j))
        goto out_free;
    if (cl_accounts_refuse(req, CL_RATE_LOGIN, j->user.email))
        goto out_free;
    rc = r->store.ops->user_by_email(&r->store, j->user.email, &j->user);
    if (rc && rc != CL_ENOTFOUND) {
        cl_http_reply_errcode(req->conn, rc);
        goto out_free;
    }
    j->found = rc == 0;
    if (cl_http_job_start(req->conn, cl__login_work, cl__login_done, j) == 0)
        return;
    cl_http_reply_errcode(req->conn, CL_EIO);
out_free:
    cl__pw_job_free(j);
}

/* ---- one-time sign-in ------------------------------------------------- */

/* POST /api/v1/auth/one-time {code}: a code the relay printed for its
 * operator (--demo) becomes a web session. Only from this machine: a
 * loopback peer, not forwarded by a proxy. */
static void cl__one_time(struct cl_http_req *req)
{
    struct cl_relay *r = req->relay;
    struct cl_store *s = &r->store;
    const char *code;
    char err[160], user_id[CL_UUID_LEN + 1];
    uint8_t hash[CL_HASH_LEN];
    struct cl_user u;
    int rc;

    if (!cl_webauth_addr_loopback(req->peer) || cl_webauth_forwarded(req->conn->wsi)) {
        cl_warn("auth", "one-time sign-in refused: not a loopback peer", "peer=%s", req->peer);
        cl_http_reply_error(req->conn, 403, "loopback_only",
                            "one-time sign-in codes work only from the relay's own machine");
        return;
    }
    if (cl__foreign_origin(req))
        return;
    if (cl_json_str(req->body, "body", "code", true, CL_TOKEN_MAX, &code, err, sizeof err)) {
        cl_http_reply_error(req->conn, 400, "invalid_request", "%s", err);
        return;
    }
    if (cl_accounts_refuse(req, CL_RATE_LOGIN, NULL))
        return;
    cl_hash_str(code, hash);
    rc = s->ops->signin_code_consume(s, hash, cl_now(), user_id);
    cl_wipe(hash, sizeof hash);
    if (rc == CL_ENOTFOUND || rc == CL_EEXPIRED) {
        cl_warn("auth", "one-time sign-in refused", "peer=%s reason=%s", req->peer,
                rc == CL_EEXPIRED ? "expired" : "unknown_or_used");
        cl_http_reply_error(req->conn, 401, "invalid_code",
                            "this sign-in code is unknown, used or expired");
        return;
    }
    if (rc == 0)
        rc = s->ops->user_by_id(s, user_id, &u);
    if (rc) {
        cl_http_reply_errcode(req->conn, rc == CL_ENOTFOUND ? CL_EAUTH : rc);
        return;
    }
    cl_wipe(u.pw_hash, sizeof u.pw_hash);
    cl_info("auth", "one-time sign-in used", "user=%s peer=%s", u.id, req->peer);
    cl__reply_token(req->conn, 200, r, &u, true);
}

/* ---- logout, session, me ---------------------------------------------- */

static void cl__logout(struct cl_http_req *req)
{
    int rc = req->relay->store.ops->token_revoke(&req->relay->store, req->token_hash);
    if (rc && rc != CL_ENOTFOUND) {
        cl_http_reply_errcode(req->conn, rc);
        return;
    }
    cl_http_tokens_revoked(req->relay, req->user_id);
    if (req->cookie_auth || cl_webauth_web_client(req->conn->wsi)) {
        char cookie[160];
        cl_webauth_cookie_header(req->relay, NULL, cookie, sizeof cookie);
        cl_http_set_cookie(req->conn, cookie);
        cl_http_reply_empty(req->conn, 204);
        return;
    }
    cl_http_reply_json(req->conn, 200, json_pack("{s:b}", "ok", 1));
}

/* The signed-in user into u (password hash wiped); 0, or replies (401
 * for an account gone meanwhile) and returns the error. */
static int cl__signed_in_user(struct cl_http_req *req, struct cl_user *u)
{
    int rc = req->relay->store.ops->user_by_id(&req->relay->store, req->user_id, u);
    if (rc) {
        cl_http_reply_errcode(req->conn, rc == CL_ENOTFOUND ? CL_EAUTH : rc);
        return rc;
    }
    cl_wipe(u->pw_hash, sizeof u->pw_hash);
    return 0;
}

/* GET /api/v1/auth/session: who is signed in, and the CSRF token again
 * (the web app calls it on load). */
static void cl__session(struct cl_http_req *req)
{
    struct cl_user u;
    if (cl__signed_in_user(req, &u) == 0)
        cl_http_reply_json(req->conn, 200, cl__web_session(req->relay, &u, req->token_hash));
}

/* GET /api/v1/auth/status: {signed_in: false}, or {signed_in: true, user,
 * csrf_token} as /auth/session answers; 200 either way (a browser logs every
 * 401 as a console error, and a signed-out page is no error). A public
 * route: the dispatcher resolves no token for it, so it reads the
 * session cookie itself (the web app's only credential; API clients
 * ask /auth/session with their bearer token). A store failure is still an
 * error (500), not "signed out". */
static void cl__status(struct cl_http_req *req)
{
    struct cl_store *s = &req->relay->store;
    uint8_t hash[CL_HASH_LEN];
    char user_id[CL_UUID_LEN + 1];
    struct cl_user u;
    json_t *o;
    int rc;
    if (cl_webauth_cookie_hash(req->relay, req->conn->wsi, hash) != 0)
        goto out_signed_out;
    rc = s->ops->token_user(s, hash, cl_now(), user_id);
    if (rc == 0)
        rc = s->ops->user_by_id(s, user_id, &u);
    if (rc == CL_ENOTFOUND)
        goto out_wipe_signed_out; /* unknown, expired or revoked; or its user is gone */
    if (rc) {
        cl_wipe(hash, sizeof hash);
        cl_http_reply_errcode(req->conn, rc);
        return;
    }
    cl_wipe(u.pw_hash, sizeof u.pw_hash);
    o = cl__web_session(req->relay, &u, hash);
    json_object_set_new(o, "signed_in", json_true());
    cl_wipe(hash, sizeof hash);
    cl_http_reply_json(req->conn, 200, o);
    return;
out_wipe_signed_out:
    cl_wipe(hash, sizeof hash);
out_signed_out:
    cl_http_reply_json(req->conn, 200, json_pack("{s:b}", "signed_in", 0));
}

static void cl__me(struct cl_http_req *req)
{
    struct cl_user u;
    if (cl__signed_in_user(req, &u) == 0)
        cl_http_reply_json(req->conn, 200, json_pack("{s:o}", "user", cl_json_user(&u)));
}

const struct cl_route cl_routes_auth[] = {
    {CL_HTTP_POST, "/api/v1/auth/signup", CL_ROUTE_PUBLIC, cl__signup, 0},
    {CL_HTTP_POST, "/api/v1/auth/login", CL_ROUTE_PUBLIC, cl__login, 0},
    {CL_HTTP_POST, "/api/v1/auth/logout", CL_ROUTE_SELF, cl__logout, 0},
    {CL_HTTP_POST, "/api/v1/auth/one-time", CL_ROUTE_PUBLIC, cl__one_time, 0},
    {CL_HTTP_GET, "/api/v1/auth/session", CL_ROUTE_SELF, cl__session, 0},
    {CL_HTTP_GET, "/api/v1/auth/status", CL_ROUTE_PUBLIC, cl__status, 0},
    {CL_HTTP_GET, "/api/v1/me", CL_ROUTE_SELF, cl__me, 0},
    {0, NULL, 0, NULL, 0},
};

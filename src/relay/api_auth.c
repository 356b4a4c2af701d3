/*
 * api_auth: sign-up, sign-in, sign-out and the current user. Sign-up and
 * sign-in are rate-limited per address and per account (accounts.h).
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
#include "relay/events.h"
#include "relay/http.h"
#include "relay/relay.h"

#include <stdlib.h>
#include <string.h>

struct cl__pw_job {
    struct cl_relay *relay;
    bool signup;
    char password[CL_PASSWORD_MAX + 1];
    struct cl_user user; /* signup: the new user; login: the found one */
    bool found;          /* login: the email exists */
    bool ok;             /* hashing succeeded / password verified */
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

static void cl__reply_token(struct cl_conn *c, int status, struct cl_relay *r,
                            const struct cl_user *u)
{
    char token[CL_TOKEN_STR_LEN + 1];
    int rc = cl_auth_issue_token(&r->store, u->id, cl_now(), token);
    if (rc) {
        cl_http_reply_errcode(c, rc);
        return;
    }
    cl_http_reply_json(c, status, json_pack("{s:s, s:o}", "token", token, "user", cl_json_user(u)));
    cl_wipe(token, sizeof token);
}

/* ---- signup ----------------------------------------------------------- */

struct cl__joiner {
    struct cl_relay *relay;
    const char *user_id;
};

static void cl__joined(const struct cl_project *p, void *ctx)
{
    struct cl__joiner *x = ctx;
    cl_events_member(x->relay->events, "member.added", p->id, x->user_id);
}

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
    {
        int joined = 0;
        if (r->store.ops->invitations_accept(&r->store, j->user.email, j->user.id, cl_now(),
                                             &joined) == 0 &&
            joined) {
            cl_info("auth", "pending invitations fulfilled", "user=%s projects=%d", j->user.id,
                    joined);
            /* a new account belongs to nothing else yet: its projects are
             * the ones it just joined */
            struct cl__joiner x = {r, j->user.id};
            r->store.ops->project_list_for_user(&r->store, j->user.id, cl__joined, &x);
        }
    }
    cl_info("auth", "user signed up", "user=%s", j->user.id);
    cl__reply_token(c, 201, r, &j->user);
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
    if (cl__credentials(req, j))
        goto out_free;
    if (cl_json_str(req->body, "body", "display_name", false, CL_NAME_MAX, &display_name, err,
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
    cl__reply_token(c, 200, j->relay, &j->user);
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

/* ---- logout, me ------------------------------------------------------- */

static void cl__logout(struct cl_http_req *req)
{
    int rc = req->relay->store.ops->token_revoke(&req->relay->store, req->token_hash);
    if (rc && rc != CL_ENOTFOUND) {
        cl_http_reply_errcode(req->conn, rc);
        return;
    }
    cl_http_reply_json(req->conn, 200, json_pack("{s:b}", "ok", 1));
}

static void cl__me(struct cl_http_req *req)
{
    struct cl_user u;
    int rc = req->relay->store.ops->user_by_id(&req->relay->store, req->user_id, &u);
    if (rc) {
        cl_http_reply_errcode(req->conn, rc == CL_ENOTFOUND ? CL_EAUTH : rc);
        return;
    }
    cl_wipe(u.pw_hash, sizeof u.pw_hash);
    cl_http_reply_json(req->conn, 200, json_pack("{s:o}", "user", cl_json_user(&u)));
}

const struct cl_route cl_routes_auth[] = {
    {CL_HTTP_POST, "/api/v1/auth/signup", CL_ROUTE_PUBLIC, cl__signup},
    {CL_HTTP_POST, "/api/v1/auth/login", CL_ROUTE_PUBLIC, cl__login},
    {CL_HTTP_POST, "/api/v1/auth/logout", CL_ROUTE_SELF, cl__logout},
    {CL_HTTP_GET, "/api/v1/me", CL_ROUTE_SELF, cl__me},
    {0, NULL, 0, NULL},
};

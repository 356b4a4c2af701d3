/*
 * api_account: what a signed-in user does with their own account — the
 * profile, sign-in sessions (API tokens), password change, deletion — and
 * the password reset that needs no sign-in.
 *
 * Every decision goes through the policy module (account.manage,
 * token.revoke). Passwords are verified and hashed on the worker pool;
 * the store and the hub are touched on the loop thread only, before and
 * after. Reset links go out through mail.c (outbox or SMTP) on the pool.
 */
#include "core/err.h"
#include "core/json.h"
#include "core/log.h"
#include "core/secret.h"
#include "relay/accounts.h"
#include "relay/auth.h"
#include "relay/events.h"
#include "relay/http.h"
#include "relay/router.h"
#include "relay/mail.h"
#include "relay/policy.h"
#include "relay/relay.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers -------------------------------------------------------------- */

/* Optional text field that may be empty (cl_json_str refuses ""): absent
 * or null leaves *out NULL. Wrong type, over max bytes, or a control
 * character: CL_EINVAL with a message in err. */
static int cl__opt_text(json_t *body, const char *key, size_t max, const char **out, char *err,
                        size_t errlen)
{
    return cl_json_text(body, "body", key, false, max, out, err, errlen);
}

/* A new password: required, CL_PASSWORD_MIN..CL_PASSWORD_MAX bytes. */
static int cl__new_password(struct cl_http_req *req, const char *key, const char **out)
{
    char err[160];
    if (cl_json_str(req->body, "body", key, true, CL_PASSWORD_MAX, out, err, sizeof err)) {
        cl_http_reply_error(req->conn, 400, "invalid_request", "%s", err);
        return CL_EINVAL;
    }
    if (strlen(*out) < CL_PASSWORD_MIN) {
        cl_http_reply_error(req->conn, 400, "invalid_request",
                            "field body.%s must be at least %d bytes", key, CL_PASSWORD_MIN);
        return CL_EINVAL;
    }
    return 0;
}

/* The caller's own account, through the policy module. 0 with *u filled
 * (its password hash included: the caller wipes it), or replied. */
static int cl__self(struct cl_http_req *req, struct cl_user *u)
{
    struct cl_store *s = req->store;
    int rc = cl_policy_account(s, req->user_id, CL_ACT_ACCOUNT_MANAGE, req->user_id);
    if (rc == 0)
        rc = s->ops->user_by_id(s, req->user_id, u);
    if (rc) {
        cl_http_reply_errcode(req->conn, rc == CL_ENOTFOUND ? CL_EAUTH : rc);
        return rc;
    }
    return 0;
}

/* ---- password jobs ------------------------------------------------------ */

enum cl__pw_op { CL__PW_CHANGE, CL__PW_DELETE, CL__PW_RESET };

struct cl__acct_job {
    struct cl_relay *relay;
    enum cl__pw_op op;
    char user_id[CL_UUID_LEN + 1];
    uint8_t token_hash[CL_HASH_LEN];        /* change: the caller's token; reset: the reset token */
    char password[CL_PASSWORD_MAX + 1];     /* to verify (change, delete) */
    char new_password[CL_PASSWORD_MAX + 1]; /* to hash (change, reset) */
    char pw_hash[CL_PWHASH_MAX];            /* stored hash to verify against */
    char new_hash[CL_PWHASH_MAX];
    bool verified, hashed;
};

static struct cl__acct_job *cl__job_new(struct cl_http_req *req, enum cl__pw_op op)
{
    struct cl__acct_job *j = calloc(1, sizeof *j);
    if (!j)
        abort();
    j->relay = req->relay;
    j->op = op;
    if (req->user_id)
        snprintf(j->user_id, sizeof j->user_id, "%s", req->user_id);
    if (req->token_hash)
        memcpy(j->token_hash, req->token_hash, CL_HASH_LEN);
    return j;
}

static void cl__job_free(struct cl__acct_job *j)
{
    cl_wipe(j, sizeof *j);
    free(j);
}

/* Worker: verify the current password (change, delete), then hash the
 * new one (change, reset). */
static void cl__pw_work(void *arg)
{
    struct cl__acct_job *j = arg;
    j->verified = j->op == CL__PW_RESET || cl_auth_verify_password(j->password, j->pw_hash);
    if (j->verified && j->op != CL__PW_DELETE)
        j->hashed = cl_auth_hash_password(j->new_password, j->new_hash) == 0;
}

static void cl__reply_wrong_password(struct cl_conn *c)
{
    cl_http_reply_error(c, 403, "wrong_password", "the current password is not correct");
}

/* Starts the job or replies; takes ownership of j either way. */
static void cl__job_start(struct cl_http_req *req, struct cl__acct_job *j, cl_job_done_fn done)
{
    if (cl_http_job_start(req->conn, cl__pw_work, done, j) == 0)
        return;
    cl_http_reply_errcode(req->conn, CL_EIO);
    cl__job_free(j);
}

/* ---- profile ------------------------------------------------------------ */

static void cl__profile_patch(struct cl_http_req *req)
{
    struct cl_store *s = req->store;
    const char *name, *avatar;
    struct cl_user u;
    char err[160];
    int rc;

    if (cl__opt_text(req->body, "display_name", CL_NAME_MAX, &name, err, sizeof err) ||
        cl__opt_text(req->body, "avatar_url", CL_AVATAR_URL_MAX, &avatar, err, sizeof err)) {
        cl_http_reply_error(req->conn, 400, "invalid_request", "%s", err);
        return;
    }
    /* null clears the avatar as "" does */
    if (!avatar && json_is_null(json_object_get(req->body, "avatar_url")))
        avatar = "";
    if (!name && !avatar) {
        cl_http_reply_error(req->conn, 400, "invalid_request",
                            "nothing to change: send display_name and/or avatar_url");
        return;
    }
    if (avatar && avatar[0] &&
        (strncmp(avatar, "https://", 8) != 0 || !avatar[8] || strpbrk(avatar, " \"<>\\"))) {
        cl_http_reply_error(req->conn, 400, "invalid_request",
                            "field body.avatar_url must be an https:// URL or empty");
        return;
    }
    if (cl__self(req, &u))
        return;
    rc = s->ops->profile_update(s, u.id, name, avatar);
    if (rc == 0)
        rc = s->ops->user_by_id(s, u.id, &u);
    cl_wipe(u.pw_hash, sizeof u.pw_hash);
    if (rc) {
        cl_http_reply_errcode(req->conn, rc);
        return;
    }
    cl_http_reply_json(req->conn, 200, json_pack("{s:o}", "user", cl_json_user(&u)));
}

/* ---- sign-in sessions (API tokens) ------------------------------------ */

static void cl__token_json(const struct cl_token *t, void *ctx)
{
    json_t *o =
        json_pack("{s:s, s:I, s:I, s:b}", "id", t->id, "created_at", (json_int_t)t->created_at,
                  "expires_at", (json_int_t)t->expires_at, "current", t->current);
    json_object_set_new(o, "last_used",
                        t->last_used_at ? json_integer(t->last_used_at) : json_null());
    json_array_append_new(ctx, o);
}

static void cl__sessions_list(struct cl_http_req *req)
{
    struct cl_store *s = req->store;
    json_t *arr;
    int rc = cl_policy_account(s, req->user_id, CL_ACT_ACCOUNT_MANAGE, req->user_id);
    if (rc) {
        cl_http_reply_errcode(req->conn, rc);
        return;
    }
    arr = json_array();
    rc = s->ops->token_list(s, req->user_id, cl_now(), req->token_hash, cl__token_json, arr);
    if (rc) {
        json_decref(arr);
        cl_http_reply_errcode(req->conn, rc);
        return;
    }
    cl_http_reply_json(req->conn, 200, json_pack("{s:o}", "sessions", arr));
}

void cl_http_tokens_revoked(struct cl_relay *r, const char *user_id)
{
    r->router.ops->user_recheck(&r->router, user_id);
    cl_events_recheck_user(r->events, user_id);
}

/* cl_http_tokens_revoked on the loop, for a route on a store worker. */
static void cl__tokens_revoked_after(struct cl_relay *r, void *arg)
{
    char *user_id = arg;
    if (!user_id)
        abort();
    cl_http_tokens_revoked(r, user_id);
    free(user_id);
}

static void cl__session_revoke(struct cl_http_req *req)
{
    struct cl_store *s = req->store;
    struct cl_token t;
    int rc;
    if (!cl_uuid_valid(req->params[0])) {
        cl_http_reply_errcode(req->conn, CL_ENOTFOUND);
        return;
    }
    rc = cl_policy_token(s, req->user_id, CL_ACT_TOKEN_REVOKE, req->params[0], &t);
    if (rc == 0)
        rc = s->ops->token_revoke_id(s, t.id, cl_now());
    if (rc) {
        cl_http_reply_errcode(req->conn, rc);
        return;
    }
    cl_info("auth", "token revoked", "user=%s token_id=%s", req->user_id, t.id);
    cl_http_after(req, cl__tokens_revoked_after, strdup(req->user_id));
    cl_http_reply_json(req->conn, 200, json_pack("{s:b}", "ok", 1));
}

/* ---- password change ---------------------------------------------------- */

static void cl__password_done(struct cl_conn *c, void *arg)
{
    struct cl__acct_job *j = arg;
    struct cl_store *s = &j->relay->store;
    int rc;
    if (!c)
        goto out_free;
    if (!j->verified) {
        cl__reply_wrong_password(c);
        goto out_free;
    }
    if (!j->hashed) {
        cl_http_reply_errcode(c, CL_ENOMEM);
        goto out_free;
    }
    /* keeps the token this request came with, revokes every other */
    rc = s->ops->user_set_password(s, j->user_id, j->new_hash, j->token_hash, cl_now());
    if (rc) {
        cl_http_reply_errcode(c, rc == CL_ENOTFOUND ? CL_EAUTH : rc);
        goto out_free;
    }
    cl_info("auth", "password changed; other tokens revoked", "user=%s", j->user_id);
    cl_http_tokens_revoked(j->relay, j->user_id);
    cl_http_reply_json(c, 200, json_pack("{s:b}", "ok", 1));
out_free:
    cl__job_free(j);
}

static void cl__password_change(struct cl_http_req *req)
{
    const char *current, *next;
    struct cl__acct_job *j;
    struct cl_user u;
    char err[160];

    if (cl_json_str(req->body, "body", "current_password", true, CL_PASSWORD_MAX, &current, err,
                    sizeof err)) {
        cl_http_reply_error(req->conn, 400, "invalid_request", "%s", err);
        return;
    }
    if (cl__new_password(req, "new_password", &next) || cl__self(req, &u))
        return;
    /* guessing the current password with a stolen token costs sign-in attempts */
    if (cl_accounts_refuse(req, CL_RATE_LOGIN, u.email)) {
        cl_wipe(u.pw_hash, sizeof u.pw_hash);
        return;
    }
    j = cl__job_new(req, CL__PW_CHANGE);
    memcpy(j->pw_hash, u.pw_hash, sizeof j->pw_hash);
    cl_wipe(u.pw_hash, sizeof u.pw_hash);
    snprintf(j->password, sizeof j->password, "%s", current);
    snprintf(j->new_password, sizeof j->new_password, "%s", next);
    cl__job_start(req, j, cl__password_done);
}

/* ---- account deletion ---------------------------------------------------- */

/* Deletes the account (the store ends or removes what goes with it, in
 * one transaction, and says what: struct cl_store_cascade), then tells the
 * hub: the user's own sessions and every session on a device of a project
 * they owned end; others' sessions shared with the user lose the share
 * (its viewers are closed); the agents of the deleted devices are closed;
 * the projects they were a member of hear member.removed. */
static void cl__delete_done(struct cl_conn *c, void *arg)
{
    struct cl__acct_job *j = arg;
    struct cl_relay *r = j->relay;
    struct cl_store *s = &r->store;
    struct cl_store_cascade d = {0};
    int rc;

    if (!c)
        goto out_free; /* the client left: do not delete behind its back */
    if (!j->verified) {
        cl__reply_wrong_password(c);
        goto out_free;
    }
    rc = s->ops->user_delete(s, j->user_id, cl_now(), &d);
    if (rc == CL_ESTATE) {
        cl_http_reply_error(c, 409, "owns_shared_projects",
                            "you own projects that have other members: remove the members or "
                            "delete those projects first");
        goto out_free;
    }
    if (rc) {
        cl_http_reply_errcode(c, rc == CL_ENOTFOUND ? CL_EAUTH : rc);
        goto out_free;
    }
    /* The rows are gone; now tell agents and viewers, and close the agents
     * of the deleted devices. */
    for (size_t i = 0; i < d.ended.n; i++)
        r->router.ops->session_end(&r->router, d.ended.id[i], CL_END_ACCOUNT_DELETED);
    for (size_t i = 0; i < d.unshared.n; i++)
        r->router.ops->share_changed(&r->router, d.unshared.id[i], j->user_id, CL_SHARE_NONE);
    for (size_t i = 0; i < d.devices.n; i++)
        r->router.ops->device_removed(&r->router, d.devices.id[i], CL_END_ACCOUNT_DELETED);
    for (size_t i = 0; i < d.left.n; i++)
        cl_events_member(r->events, "member.removed", d.left.id[i], j->user_id);
    cl_info("auth", "account deleted",
            "user=%s sessions_ended=%zu shares_dropped=%zu devices_removed=%zu", j->user_id,
            d.ended.n, d.unshared.n, d.devices.n);
    cl_http_reply_json(c, 200, json_pack("{s:b}", "ok", 1));
out_free:
    cl_store_cascade_free(&d);
    cl__job_free(j);
}

static void cl__account_delete(struct cl_http_req *req)
{
    const char *password;
    struct cl__acct_job *j;
    struct cl_user u;
    char err[160];

    if (cl_json_str(req->body, "body", "password", true, CL_PASSWORD_MAX, &password, err,
                    sizeof err)) {
        cl_http_reply_error(req->conn, 400, "invalid_request", "%s", err);
        return;
    }
    if (cl__self(req, &u))
        return;
    if (cl_accounts_refuse(req, CL_RATE_LOGIN, u.email)) {
        cl_wipe(u.pw_hash, sizeof u.pw_hash);
        return;
    }
    j = cl__job_new(req, CL__PW_DELETE);
    memcpy(j->pw_hash, u.pw_hash, sizeof j->pw_hash);
    cl_wipe(u.pw_hash, sizeof u.pw_hash);
    snprintf(j->password, sizeof j->password, "%s", password);
    cl__job_start(req, j, cl__delete_done);
}

/* ---- password reset ---------------------------------------------------- */

/* Records a reset token for u and queues the mail with its link. Errors
 * are logged, never shown: the answer must not depend on the account. */
static void cl__reset_send(struct cl_relay *r, const struct cl_user *u)
{
    struct cl_accounts *a = r->accounts;
    char token[CL_TOKEN_STR_LEN + 1], body[CL_MAIL_BODY_MAX];
    uint8_t hash[CL_HASH_LEN];
    int64_t now = cl_now();
    int rc;

    cl_token_new(CL_TOKEN_RESET, token);
    cl_hash_str(token, hash);
    rc = r->store.ops->reset_create(&r->store, u->id, hash, now, now + CL_RESET_TOKEN_TTL_S);
    if (rc == CL_ELIMIT) {
        /* the links already in the mailbox still work: no more mail */
        cl_info("auth", "password reset not sent: links still live", "user=%s max=%d", u->id,
                CL_RESET_LINKS_MAX);
        goto out_wipe;
    }
    if (rc) {
        cl_error("auth", "storing a password reset token failed", "user=%s err=%s", u->id,
                 cl_strerror(rc));
        goto out_wipe;
    }
    /* The token rides in the fragment: browsers never send a fragment to
     * a server, so it stays out of access logs, proxies and Referer. */
    snprintf(body, sizeof body,
             "Someone (hopefully you) asked to reset the password of the clawlink account\n"
             "%s.\n\n"
             "Open this link within %d minutes to choose a new password:\n\n"
             "%s/reset-password#token=%s\n\n"
             "The link works once; links sent earlier keep working until you use one.\n"
             "If you did not ask for this, ignore this message: your password stays as\n"
             "it is.\n",
             u->email, CL_RESET_TOKEN_TTL_S / 60, a->link_base, token);
    rc = cl_mail_send(r->loop, &a->mail, "password reset", u->email, "Reset your clawlink password",
                      body);
    if (rc)
        cl_error("auth", "queueing the password reset mail failed", "user=%s err=%s", u->id,
                 cl_strerror(rc));
    else
        cl_info("auth", "password reset requested", "user=%s", u->id);
    cl_wipe(body, sizeof body);
out_wipe:
    cl_wipe(token, sizeof token);
}

static void cl__reset_request(struct cl_http_req *req)
{
    struct cl_relay *r = req->relay;
    const char *email_in;
    char email[CL_EMAIL_MAX + 1], err[160];
    struct cl_user u;
    int rc;

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
    if (cl_accounts_refuse(req, CL_RATE_RESET, email))
        return;
    rc = r->store.ops->user_by_email(&r->store, email, &u);
    if (rc == 0)
        cl__reset_send(r, &u);
    else if (rc != CL_ENOTFOUND)
        cl_error("auth", "password reset lookup failed", "err=%s", cl_strerror(rc));
    cl_wipe(u.pw_hash, sizeof u.pw_hash);
    cl_http_reply_json(req->conn, 202,
                       json_pack("{s:b, s:s}", "ok", 1, "message",
                                 "if an account has this address, a reset link is on its way"));
}

static void cl__reset_done(struct cl_conn *c, void *arg)
{
    struct cl__acct_job *j = arg;
    struct cl_store *s = &j->relay->store;
    char user_id[CL_UUID_LEN + 1];
    int rc;
    if (!c)
        goto out_free;
    if (!j->hashed) {
        cl_http_reply_errcode(c, CL_ENOMEM);
        goto out_free;
    }
    rc = s->ops->reset_consume(s, j->token_hash, cl_now(), j->new_hash, user_id);
    if (rc == CL_ENOTFOUND) {
        cl_http_reply_error(c, 400, "invalid_token", "unknown or already used reset token");
        goto out_free;
    }
    if (rc == CL_EEXPIRED) {
        cl_http_reply_error(c, 410, "token_expired",
                            "this reset link has expired; ask for a new one");
        goto out_free;
    }
    if (rc) {
        cl_http_reply_errcode(c, rc);
        goto out_free;
    }
    cl_info("auth", "password reset; all tokens revoked", "user=%s", user_id);
    cl_http_tokens_revoked(j->relay, user_id);
    cl_http_reply_json(c, 200, json_pack("{s:b}", "ok", 1));
out_free:
    cl__job_free(j);
}

static void cl__reset_confirm(struct cl_http_req *req)
{
    const char *token, *next;
    struct cl__acct_job *j;
    char err[160];

    if (cl_json_str(req->body, "body", "token", true, CL_TOKEN_MAX, &token, err, sizeof err)) {
        cl_http_reply_error(req->conn, 400, "invalid_request", "%s", err);
        return;
    }
    if (cl__new_password(req, "new_password", &next))
        return;
    if (cl_accounts_refuse(req, CL_RATE_RESET, NULL))
        return;
    j = cl__job_new(req, CL__PW_RESET);
    cl_hash_str(token, j->token_hash);
    snprintf(j->new_password, sizeof j->new_password, "%s", next);
    cl__job_start(req, j, cl__reset_done);
}

const struct cl_route cl_routes_account[] = {
    {CL_HTTP_PATCH, "/api/v1/me", CL_ACT_ACCOUNT_MANAGE, cl__profile_patch, CL_ROUTE_WORKER},
    {CL_HTTP_GET, "/api/v1/me/sessions", CL_ACT_ACCOUNT_MANAGE, cl__sessions_list, CL_ROUTE_WORKER},
    {CL_HTTP_DELETE, "/api/v1/me/sessions/:id", CL_ACT_TOKEN_REVOKE, cl__session_revoke,
     CL_ROUTE_WORKER},
    {CL_HTTP_POST, "/api/v1/me/password", CL_ACT_ACCOUNT_MANAGE, cl__password_change, 0},
    {CL_HTTP_POST, "/api/v1/me/delete", CL_ACT_ACCOUNT_MANAGE, cl__account_delete, 0},
    {CL_HTTP_POST, "/api/v1/auth/password-reset", CL_ROUTE_PUBLIC, cl__reset_request, 0},
    {CL_HTTP_POST, "/api/v1/auth/password-reset/confirm", CL_ROUTE_PUBLIC, cl__reset_confirm, 0},
    {0, NULL, 0, NULL, 0},
};

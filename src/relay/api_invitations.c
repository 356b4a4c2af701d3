/*
 * api_invitations: the invitee's side of consent (consent.h, issue 14) —
 * proving one's email address with the mailed link, asking for a new link,
 * and seeing, accepting or declining the invitations to a proven address.
 *
 * Every decision goes through the policy module (email.verify,
 * invitation.inbox, invitation.respond); the link's token is the only
 * credential of POST /api/v1/auth/verify-email, as the reset token is of
 * the reset confirmation.
 */
#include "core/err.h"
#include "core/json.h"
#include "core/log.h"
#include "core/secret.h"
#include "relay/consent.h"
#include "relay/events.h"
#include "relay/http.h"
#include "relay/policy.h"
#include "relay/ratelimit.h"
#include "relay/relay.h"

#include <string.h>

static void cl__reply_unverified(struct cl_conn *c)
{
    cl_http_reply_error(c, 403, "email_unverified",
                        "confirm your email address first: open the link clawlink mailed you "
                        "(or ask for a new one: POST /api/v1/me/verify-email)");
}

/* POST /api/v1/auth/verify-email {token}: the link's page sends the token
 * from the URL's fragment. Public: the token is the credential. */
static void cl__verify_confirm(struct cl_http_req *req)
{
    struct cl_relay *r = req->relay;
    const char *token;
    char err[160], user_id[CL_UUID_LEN + 1];
    uint8_t hash[CL_HASH_LEN];
    unsigned retry = 1;
    struct cl_user u;
    int rc;

    if (cl_json_str(req->body, "body", "token", true, CL_TOKEN_MAX, &token, err, sizeof err)) {
        cl_http_reply_error(req->conn, 400, "invalid_request", "%s", err);
        return;
    }
    if (!cl_ratelimit_hit(r->consent->verify_confirm, req->peer, cl_now(), &retry)) {
        cl_warn("auth", "rate limited", "what=\"email verification\" peer=%s", req->peer);
        cl_http_set_retry_after(req->conn, retry);
        cl_http_reply_error(req->conn, 429, "rate_limited",
                            "too many verification attempts; retry in %u s", retry);
        return;
    }
    cl_hash_str(token, hash);
    rc = r->store.ops->verify_consume(&r->store, hash, cl_now(), user_id);
    cl_wipe(hash, sizeof hash);
    if (rc == CL_ENOTFOUND || rc == CL_ESTATE) {
        cl_http_reply_error(req->conn, 400, "invalid_token",
                            "unknown or already used verification link");
        return;
    }
    if (rc == CL_EEXPIRED) {
        cl_http_reply_error(req->conn, 410, "token_expired",
                            "this verification link has expired; sign in and ask for a new one");
        return;
    }
    if (rc == 0)
        rc = r->store.ops->user_by_id(&r->store, user_id, &u);
    if (rc) {
        cl_http_reply_errcode(req->conn, rc);
        return;
    }
    cl_wipe(u.pw_hash, sizeof u.pw_hash);
    cl_info("auth", "email address proven", "user=%s", u.id);
    cl_http_reply_json(req->conn, 200, json_pack("{s:b, s:s}", "ok", 1, "email", u.email));
}

/* POST /api/v1/me/verify-email: a new link to the caller's address. */
static void cl__verify_resend(struct cl_http_req *req)
{
    struct cl_relay *r = req->relay;
    struct cl_store *s = &r->store;
    unsigned retry = 1;
    struct cl_user u;
    int rc = cl_policy_account(s, req->user_id, CL_ACT_EMAIL_VERIFY, req->user_id);
    if (rc == 0)
        rc = s->ops->user_by_id(s, req->user_id, &u);
    if (rc) {
        cl_http_reply_errcode(req->conn, rc == CL_ENOTFOUND ? CL_EAUTH : rc);
        return;
    }
    cl_wipe(u.pw_hash, sizeof u.pw_hash);
    if (u.email_verified_at) {
        cl_http_reply_error(req->conn, 409, "already_verified",
                            "your email address is confirmed already");
        return;
    }
    rc = cl_consent_send_verification(r, &u, false, &retry);
    if (rc == CL_ELIMIT) {
        cl_warn("auth", "rate limited", "what=\"verification mail\" user=%s", u.id);
        cl_http_set_retry_after(req->conn, retry);
        cl_http_reply_error(req->conn, 429, "rate_limited",
                            "at most %d verification mails an hour; retry in %u s",
                            CL_VERIFY_SEND_PER_USER, retry);
        return;
    }
    if (rc) {
        cl_http_reply_errcode(req->conn, rc);
        return;
    }
    cl_http_reply_json(req->conn, 202,
                       json_pack("{s:b, s:s}", "ok", 1, "message",
                                 "a new verification link is on its way to your address"));
}

static void cl__collect_invitation(const struct cl_invitation *inv, void *ctx)
{
    json_t *o =
        json_pack("{s:s, s:s, s:s, s:I}", "id", inv->id, "project_id", inv->project_id,
                  "project_name", inv->project_name, "created_at", (json_int_t)inv->created_at);
    json_object_set_new(o, "invited_by",
                        inv->inviter_email[0] ? json_pack("{s:s, s:s}", "email", inv->inviter_email,
                                                          "display_name", inv->inviter_name)
                                              : json_null());
    json_array_append_new(ctx, o);
}

/* GET /api/v1/me/invitations: {email_verified, invitations}. An unproven
 * address sees none (the policy says CL_ESTATE): 200 with an empty list,
 * so the web app asks it on every load without an error. */
static void cl__inbox(struct cl_http_req *req)
{
    struct cl_store *s = &req->relay->store;
    struct cl_user u;
    json_t *arr;
    int rc = cl_policy_account(s, req->user_id, CL_ACT_INVITATION_INBOX, req->user_id);
    if (rc == CL_ESTATE) {
        cl_http_reply_json(req->conn, 200,
                           json_pack("{s:b, s:[]}", "email_verified", 0, "invitations"));
        return;
    }
    if (rc == 0)
        rc = s->ops->user_by_id(s, req->user_id, &u);
    if (rc) {
        cl_http_reply_errcode(req->conn, rc == CL_ENOTFOUND ? CL_EAUTH : rc);
        return;
    }
    cl_wipe(u.pw_hash, sizeof u.pw_hash);
    arr = json_array();
    rc = s->ops->invitation_list_for_email(s, u.email, cl__collect_invitation, arr);
    if (rc) {
        json_decref(arr);
        cl_http_reply_errcode(req->conn, rc);
        return;
    }
    cl_http_reply_json(req->conn, 200,
                       json_pack("{s:b, s:o}", "email_verified", 1, "invitations", arr));
}

static void cl__respond(struct cl_http_req *req, bool accept)
{
    struct cl_relay *r = req->relay;
    struct cl_store *s = &r->store;
    struct cl_invitation inv;
    int rc;
    if (!cl_uuid_valid(req->params[0])) {
        cl_http_reply_errcode(req->conn, CL_ENOTFOUND);
        return;
    }
    rc = cl_policy_invitation(s, req->user_id, CL_ACT_INVITATION_RESPOND, req->params[0], &inv);
    if (rc == CL_ESTATE) {
        cl__reply_unverified(req->conn);
        return;
    }
    if (rc == 0)
        rc = s->ops->invitation_respond(s, inv.id, req->user_id, accept, cl_now());
    if (rc) {
        cl_http_reply_errcode(req->conn, rc);
        return;
    }
    cl_info("api", accept ? "invitation accepted" : "invitation declined",
            "project=%s invitation=%s user=%s", inv.project_id, inv.id, req->user_id);
    if (accept)
        cl_events_member(r->events, "member.added", inv.project_id, req->user_id);
    cl_http_reply_json(req->conn, 200,
                       json_pack("{s:b, s:s}", "ok", 1, "project_id", inv.project_id));
}

static void cl__accept(struct cl_http_req *req)
{
    cl__respond(req, true);
}

static void cl__decline(struct cl_http_req *req)
{
    cl__respond(req, false);
}

const struct cl_route cl_routes_invitations[] = {
    {CL_HTTP_POST, "/api/v1/auth/verify-email", CL_ROUTE_PUBLIC, cl__verify_confirm, 0},
    {CL_HTTP_POST, "/api/v1/me/verify-email", CL_ACT_EMAIL_VERIFY, cl__verify_resend, 0},
    {CL_HTTP_GET, "/api/v1/me/invitations", CL_ACT_INVITATION_INBOX, cl__inbox, 0},
    {CL_HTTP_POST, "/api/v1/me/invitations/:id/accept", CL_ACT_INVITATION_RESPOND, cl__accept, 0},
    {CL_HTTP_POST, "/api/v1/me/invitations/:id/decline", CL_ACT_INVITATION_RESPOND, cl__decline, 0},
    {0, NULL, 0, NULL, 0},
};

/*
 * api_projects: projects, their devices (the project-scoped routes), their
 * members and pending invitations (/api/v1/projects...).
 *
 * Every decision goes through policy.c; the action each route asks for is
 * named in the route table at the bottom. What the hub must hear about
 * (agents to close, viewers to tell) is collected before a store change
 * and told after it, all on the loop thread without yielding in between.
 */
#include "core/err.h"
#include "core/json.h"
#include "core/log.h"
#include "core/secret.h"
#include "relay/events.h"
#include "relay/http.h"
#include "relay/router.h"
#include "relay/policy.h"
#include "relay/relay.h"

#include <string.h>

int cl_http_body_name(struct cl_http_req *req, char out[CL_NAME_MAX + 1])
{
    const char *name;
    char err[160];
    if (cl_json_text(req->body, "body", "name", true, CL_NAME_MAX, &name, err, sizeof err)) {
        cl_http_reply_error(req->conn, 400, "invalid_request", "%s", err);
        return CL_EINVAL;
    }
    if (strspn(name, " ") == strlen(name)) {
        cl_http_reply_error(req->conn, 400, "invalid_request", "field body.name must not be blank");
        return CL_EINVAL;
    }
    snprintf(out, CL_NAME_MAX + 1, "%s", name);
    return 0;
}

/* ---- projects ------------------------------------------------------------ */

static void cl__project_create(struct cl_http_req *req)
{
    struct cl_store *s = &req->relay->store;
    struct cl_project p;
    int rc;
    memset(&p, 0, sizeof p);
    if (cl_http_body_name(req, p.name))
        return;
    cl_uuid_new(p.id);
    snprintf(p.owner_id, sizeof p.owner_id, "%s", req->user_id);
    p.created_at = p.updated_at = cl_now();
    p.role = CL_ROLE_OWNER;
    rc = s->ops->project_create(s, &p);
    if (rc) {
        cl_http_reply_errcode(req->conn, rc);
        return;
    }
    cl_info("api", "project created", "project=%s user=%s", p.id, req->user_id);
    cl_http_reply_json(req->conn, 201, json_pack("{s:o}", "project", cl_json_project(&p)));
}

static void cl__collect_project(const struct cl_project *p, void *ctx)
{
    json_array_append_new(ctx, cl_json_project(p));
}

/* Only the caller's projects: the query is scoped to their memberships, so
 * there is no per-project decision to make. */
static void cl__project_list(struct cl_http_req *req)
{
    struct cl_store *s = req->store;
    json_t *arr = json_array();
    int rc = s->ops->project_list_for_user(s, req->user_id, cl__collect_project, arr);
    if (rc) {
        json_decref(arr);
        cl_http_reply_errcode(req->conn, rc);
        return;
    }
    cl_http_reply_json(req->conn, 200, json_pack("{s:o}", "projects", arr));
}

static void cl__project_get(struct cl_http_req *req)
{
    struct cl_project p;
    int rc = cl_policy_project(req->store, req->user_id, CL_ACT_PROJECT_VIEW, req->params[0], &p);
    if (rc) {
        cl_http_reply_errcode(req->conn, rc);
        return;
    }
    cl_http_reply_json(req->conn, 200, json_pack("{s:o}", "project", cl_json_project(&p)));
}

static void cl__project_rename(struct cl_http_req *req)
{
    struct cl_store *s = req->store;
    struct cl_project p;
    char name[CL_NAME_MAX + 1];
    int64_t now = cl_now();
    int rc = cl_policy_project(s, req->user_id, CL_ACT_PROJECT_MODIFY, req->params[0], &p);
    if (rc) {
        cl_http_reply_errcode(req->conn, rc);
        return;
    }
    if (cl_http_body_name(req, name))
        return;
    rc = s->ops->project_rename(s, p.id, name, now);
    if (rc) {
        cl_http_reply_errcode(req->conn, rc);
        return;
    }
    snprintf(p.name, sizeof p.name, "%s", name);
    p.updated_at = now;
    cl_info("api", "project renamed", "project=%s user=%s", p.id, req->user_id);
    cl_http_reply_json(req->conn, 200, json_pack("{s:o}", "project", cl_json_project(&p)));
}

/* Deletes the project with everything in it; then each of its devices'
 * agents is closed and the viewers of their live sessions hear
 * session_end "project_deleted". */
static void cl__project_delete(struct cl_http_req *req)
{
    struct cl_relay *r = req->relay;
    struct cl_store *s = &r->store;
    struct cl_store_cascade gone = {0};
    struct cl_project p;
    int rc = cl_policy_project(s, req->user_id, CL_ACT_PROJECT_MODIFY, req->params[0], &p);
    if (rc) {
        cl_http_reply_errcode(req->conn, rc);
        return;
    }
    rc = s->ops->project_delete(s, p.id, &gone);
    if (rc) {
        cl_http_reply_errcode(req->conn, rc);
        return;
    }
    for (size_t i = 0; i < gone.devices.n; i++)
        r->router.ops->device_removed(&r->router, gone.devices.id[i], CL_END_PROJECT_DELETED);
    cl_info("api", "project deleted", "project=%s user=%s devices=%zu", p.id, req->user_id,
            gone.devices.n);
    cl_http_reply_json(req->conn, 200, json_pack("{s:b}", "ok", 1));
    cl_store_cascade_free(&gone);
}

/* ---- devices of a project ------------------------------------------------ */

static void cl__device_create(struct cl_http_req *req)
{
    struct cl_store *s = &req->relay->store;
    struct cl_project p;
    struct cl_device d;
    char code[CL_PAIRING_CODE_LEN + 1];
    uint8_t code_hash[CL_HASH_LEN];
    int rc = cl_policy_project(s, req->user_id, CL_ACT_DEVICE_ADD, req->params[0], &p);
    if (rc) {
        cl_http_reply_errcode(req->conn, rc);
        return;
    }
    memset(&d, 0, sizeof d);
    if (cl_http_body_name(req, d.name))
        return;
    cl_uuid_new(d.id);
    snprintf(d.project_id, sizeof d.project_id, "%s", p.id);
    snprintf(d.kind, sizeof d.kind, "%s", CL_DEVICE_KIND_CONNECTOR);
    d.created_at = cl_now();
    d.code_expires_at = d.created_at + CL_PAIRING_CODE_TTL_S;
    cl_pairing_code_new(code);
    cl_hash_str(code, code_hash);
    rc = s->ops->device_create(s, &d, code_hash, d.code_expires_at);
    if (rc) {
        cl_wipe(code, sizeof code);
        cl_http_reply_errcode(req->conn, rc);
        return;
    }
    cl_info("api", "device added", "device=%s project=%s", d.id, p.id);
    cl_events_device(req->relay->events, "device.added", &d);
    json_t *dev = cl_json_device(&d);
    cl_http_reply_json(req->conn, 201,
                       json_pack("{s:o, s:s, s:I}", "device", dev, "pairing_code", code,
                                 "pairing_code_expires_at", (json_int_t)d.code_expires_at));
    cl_wipe(code, sizeof code);
}

static void cl__collect_device(const struct cl_device *d, void *ctx)
{
    json_array_append_new(ctx, cl_json_device(d));
}

static void cl__device_list(struct cl_http_req *req)
{
    struct cl_store *s = req->store;
    int rc = cl_policy_project(s, req->user_id, CL_ACT_PROJECT_VIEW, req->params[0], NULL);
    if (rc) {
        cl_http_reply_errcode(req->conn, rc);
        return;
    }
    json_t *arr = json_array();
    rc = s->ops->device_list(s, req->params[0], cl__collect_device, arr);
    if (rc) {
        json_decref(arr);
        cl_http_reply_errcode(req->conn, rc);
        return;
    }
    cl_http_reply_json(req->conn, 200, json_pack("{s:o}", "devices", arr));
}

/* ---- members ---------------------------------------------------------------- */

static json_t *cl__json_opt_id(const char *id)
{
    return id[0] ? json_string(id) : json_null();
}

static void cl__collect_member(const struct cl_member *m, void *ctx)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:I}", "user_id", m->user_id, "email", m->email,
                          "display_name", m->display_name, "role",
                          m->role == CL_ROLE_OWNER ? "owner" : "member", "joined_at",
                          (json_int_t)m->created_at);
    json_object_set_new(o, "invited_by", cl__json_opt_id(m->invited_by));
    json_array_append_new(ctx, o);
}

static void cl__member_list(struct cl_http_req *req)
{
    struct cl_store *s = req->store;
    json_t *arr;
    int rc = cl_policy_project(s, req->user_id, CL_ACT_MEMBER_LIST, req->params[0], NULL);
    if (rc) {
        cl_http_reply_errcode(req->conn, rc);
        return;
    }
    arr = json_array();
    rc = s->ops->member_list(s, req->params[0], cl__collect_member, arr);
    if (rc) {
        json_decref(arr);
        cl_http_reply_errcode(req->conn, rc);
        return;
    }
    cl_http_reply_json(req->conn, 200, json_pack("{s:o}", "members", arr));
}

/* Takes user_id out of project p, removed by its owner or leaving (how,
 * for the log: "removed", "left"; the sessions' end reason is
 * "member_removed" either way, as the store records it): their live
 * sessions on the project's devices end, their viewers of sessions others
 * shared with them close (4003) as a revoked share does, and the
 * project's realtime subscribers, they included, hear member.removed — all
 * at once, not at the next ping. Returns 0, or CL_ENOTFOUND (not a
 * member) or CL_ESTATE (the owner) with nothing changed, or an error. */
static int cl__member_drop(struct cl_relay *r, const struct cl_project *p, const char *user_id,
                           const char *how)
{
    struct cl_store *s = &r->store;
    struct cl_store_cascade x = {0};
    int rc = s->ops->member_remove(s, p->id, user_id, cl_now(), &x);
    if (rc)
        return rc;
    for (size_t i = 0; i < x.ended.n; i++)
        r->router.ops->session_end(&r->router, x.ended.id[i], CL_END_MEMBER_REMOVED);
    for (size_t i = 0; i < x.unshared.n; i++)
        r->router.ops->share_changed(&r->router, x.unshared.id[i], user_id, CL_SHARE_NONE);
    cl_events_member(r->events, "member.removed", p->id, user_id);
    cl_info("api", "member gone", "project=%s user=%s how=%s sessions_ended=%zu", p->id, user_id,
            how, x.ended.n);
    cl_store_cascade_free(&x);
    return 0;
}

/* Removes a member (never the owner). */
static void cl__member_remove(struct cl_http_req *req)
{
    struct cl_relay *r = req->relay;
    struct cl_store *s = &r->store;
    const char *target = req->params[1];
    struct cl_project p;
    int rc = cl_policy_project(s, req->user_id, CL_ACT_MEMBER_REMOVE, req->params[0], &p);
    if (rc) {
        cl_http_reply_errcode(req->conn, rc);
        return;
    }
    if (strcmp(target, p.owner_id) == 0) {
        cl_http_reply_error(req->conn, 409, "owner_cannot_be_removed",
                            "the owner cannot be removed from a project; delete the project "
                            "instead (ownership cannot be transferred)");
        return;
    }
    rc = cl__member_drop(r, &p, target, "removed");
    if (rc == CL_ENOTFOUND) {
        cl_http_reply_error(req->conn, 404, "not_found",
                            "that user is not a member of this project");
        return;
    }
    if (rc == CL_ESTATE) {
        cl_http_reply_error(req->conn, 409, "owner_cannot_be_removed",
                            "the owner cannot be removed from a project");
        return;
    }
    if (rc) {
        cl_http_reply_errcode(req->conn, rc);
        return;
    }
    cl_info("api", "member removed", "project=%s user=%s by=%s", p.id, target, req->user_id);
    cl_http_reply_json(req->conn, 200, json_pack("{s:b}", "ok", 1));
}

/* POST /api/v1/projects/{id}/leave: the caller leaves the project (issue
 * 14). A project has one owner, its last: they are refused (409
 * last_owner) and delete the project instead. */
static void cl__member_leave(struct cl_http_req *req)
{
    struct cl_relay *r = req->relay;
    struct cl_project p;
    int rc = cl_policy_project(&r->store, req->user_id, CL_ACT_MEMBER_LEAVE, req->params[0], &p);
    if (rc == 0)
        rc = cl__member_drop(r, &p, req->user_id, "left");
    if (rc == CL_ESTATE) {
        cl_http_reply_error(req->conn, 409, "last_owner",
                            "you are this project's last owner and cannot leave it: transfer "
                            "it or delete it instead");
        return;
    }
    if (rc) {
        cl_http_reply_errcode(req->conn, rc);
        return;
    }
    cl_info("api", "member left", "project=%s user=%s", p.id, req->user_id);
    cl_http_reply_json(req->conn, 200, json_pack("{s:b}", "ok", 1));
}

/* ---- invitations ------------------------------------------------------------ */

static void cl__collect_invitation(const struct cl_invitation *inv, void *ctx)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:I}", "id", inv->id, "email", inv->email, "status",
                          "pending", "created_at", (json_int_t)inv->created_at);
    json_object_set_new(o, "invited_by", cl__json_opt_id(inv->invited_by));
    json_array_append_new(ctx, o);
}

static void cl__invitation_list(struct cl_http_req *req)
{
    struct cl_store *s = req->store;
    json_t *arr;
    int rc = cl_policy_project(s, req->user_id, CL_ACT_INVITATION_LIST, req->params[0], NULL);
    if (rc) {
        cl_http_reply_errcode(req->conn, rc);
        return;
    }
    arr = json_array();
    rc = s->ops->invitation_list(s, req->params[0], cl__collect_invitation, arr);
    if (rc) {
        json_decref(arr);
        cl_http_reply_errcode(req->conn, rc);
        return;
    }
    cl_http_reply_json(req->conn, 200, json_pack("{s:o}", "invitations", arr));
}

static void cl__invitation_cancel(struct cl_http_req *req)
{
    struct cl_store *s = &req->relay->store;
    struct cl_project p;
    int rc = cl_policy_project(s, req->user_id, CL_ACT_INVITATION_CANCEL, req->params[0], &p);
    if (rc) {
        cl_http_reply_errcode(req->conn, rc);
        return;
    }
    rc = s->ops->invitation_cancel(s, p.id, req->params[1]);
    if (rc == CL_ENOTFOUND) {
        cl_http_reply_error(req->conn, 404, "not_found",
                            "this project has no pending invitation with that id");
        return;
    }
    if (rc) {
        cl_http_reply_errcode(req->conn, rc);
        return;
    }
    cl_info("api", "invitation cancelled", "project=%s invitation=%s by=%s", p.id, req->params[1],
            req->user_id);
    cl_http_reply_json(req->conn, 200, json_pack("{s:b}", "ok", 1));
}

/* Each route names the policy action its handler asks cl_policy_* for. */
const struct cl_route cl_routes_projects[] = {
    {CL_HTTP_POST, "/api/v1/projects", CL_ROUTE_SELF, cl__project_create, 0},
    {CL_HTTP_GET, "/api/v1/projects", CL_ROUTE_SELF, cl__project_list, CL_ROUTE_WORKER},
    {CL_HTTP_GET, "/api/v1/projects/:id", CL_ACT_PROJECT_VIEW, cl__project_get, CL_ROUTE_WORKER},
    {CL_HTTP_PATCH, "/api/v1/projects/:id", CL_ACT_PROJECT_MODIFY, cl__project_rename,
     CL_ROUTE_WORKER},
    {CL_HTTP_DELETE, "/api/v1/projects/:id", CL_ACT_PROJECT_MODIFY, cl__project_delete, 0},
    {CL_HTTP_POST, "/api/v1/projects/:id/devices", CL_ACT_DEVICE_ADD, cl__device_create, 0},
    {CL_HTTP_GET, "/api/v1/projects/:id/devices", CL_ACT_PROJECT_VIEW, cl__device_list,
     CL_ROUTE_WORKER},
    {CL_HTTP_GET, "/api/v1/projects/:id/members", CL_ACT_MEMBER_LIST, cl__member_list,
     CL_ROUTE_WORKER},
    {CL_HTTP_DELETE, "/api/v1/projects/:id/members/:user_id", CL_ACT_MEMBER_REMOVE,
     cl__member_remove, 0},
    {CL_HTTP_POST, "/api/v1/projects/:id/leave", CL_ACT_MEMBER_LEAVE, cl__member_leave, 0},
    {CL_HTTP_GET, "/api/v1/projects/:id/invitations", CL_ACT_INVITATION_LIST, cl__invitation_list,
     CL_ROUTE_WORKER},
    {CL_HTTP_DELETE, "/api/v1/projects/:id/invitations/:invitation_id", CL_ACT_INVITATION_CANCEL,
     cl__invitation_cancel, 0},
    {0, NULL, 0, NULL, 0},
};

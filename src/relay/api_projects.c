/*
 * api_projects: projects and their devices (/api/v1/projects...).
 * Every decision goes through policy.c.
 */
#include "core/err.h"
#include "core/json.h"
#include "core/log.h"
#include "core/secret.h"
#include "relay/http.h"
#include "relay/policy.h"
#include "relay/relay.h"

#include <string.h>

/* Reads a required, non-blank name of at most CL_NAME_MAX bytes. */
static int cl__name(struct cl_http_req *req, char out[CL_NAME_MAX + 1])
{
    const char *name;
    char err[160];
    if (cl_json_str(req->body, "body", "name", true, CL_NAME_MAX, &name, err, sizeof err)) {
        cl_http_reply_error(req->conn, 400, "invalid_request", "%s", err);
        return CL_EINVAL;
    }
    for (const char *p = name; *p; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f) {
            cl_http_reply_error(req->conn, 400, "invalid_request",
                                "field body.name must not contain control characters");
            return CL_EINVAL;
        }
    }
    if (strspn(name, " ") == strlen(name)) {
        cl_http_reply_error(req->conn, 400, "invalid_request", "field body.name must not be blank");
        return CL_EINVAL;
    }
    snprintf(out, CL_NAME_MAX + 1, "%s", name);
    return 0;
}

static void cl__project_create(struct cl_http_req *req)
{
    struct cl_store *s = &req->relay->store;
    struct cl_project p;
    int rc;
    memset(&p, 0, sizeof p);
    if (cl__name(req, p.name))
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

static void cl__project_list(struct cl_http_req *req)
{
    struct cl_store *s = &req->relay->store;
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
    int rc = cl_policy_project(&req->relay->store, req->user_id, CL_ACT_PROJECT_VIEW,
                               req->params[0], &p);
    if (rc) {
        cl_http_reply_errcode(req->conn, rc);
        return;
    }
    cl_http_reply_json(req->conn, 200, json_pack("{s:o}", "project", cl_json_project(&p)));
}

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
    if (cl__name(req, d.name))
        return;
    cl_uuid_new(d.id);
    snprintf(d.project_id, sizeof d.project_id, "%s", p.id);
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
    struct cl_store *s = &req->relay->store;
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

const struct cl_route cl_routes_projects[] = {
    {CL_HTTP_POST, "/api/v1/projects", true, cl__project_create},
    {CL_HTTP_GET, "/api/v1/projects", true, cl__project_list},
    {CL_HTTP_GET, "/api/v1/projects/:id", true, cl__project_get},
    {CL_HTTP_POST, "/api/v1/projects/:id/devices", true, cl__device_create},
    {CL_HTTP_GET, "/api/v1/projects/:id/devices", true, cl__device_list},
    {0, NULL, false, NULL},
};

/*
 * api_devices: one device by id (/api/v1/devices/:id...) — see it,
 * rename it, give it a new pairing code, delete it.
 *
 * Seed 001 "Device actions (owner only): Rename, Regenerate Pairing Code,
 * Delete"; members see devices. Every decision goes through policy.c
 * (device.view, device.modify). Deleting closes the device's agent and
 * ends its live sessions through the hub, after the rows are gone.
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

#include <stdlib.h>
#include <string.h>

/* Tries this many fresh codes when one collides with a live code. */
#define CL__CODE_TRIES 3

/* An int64 time, or null for 0 (never). */
static json_t *cl__time_or_null(int64_t t)
{
    return t ? json_integer((json_int_t)t) : json_null();
}

/* The device with what it told about itself (docs/api.md, "Devices"):
 * meta, the address it connects from, since when it is online. */
static void cl__device_get(struct cl_http_req *req)
{
    struct cl_store *s = req->store;
    struct cl_device d;
    struct cl_device_info *info;
    json_t *dev, *meta = NULL;
    int rc = cl_policy_device(s, req->user_id, CL_ACT_DEVICE_VIEW, req->params[0], &d);
    if (rc) {
        cl_http_reply_errcode(req->conn, rc);
        return;
    }
    dev = cl_json_device(&d);
    info = calloc(1, sizeof *info); /* 8 KiB of metadata: not on the stack */
    if (!info)
        abort();
    if (s->ops->device_get_info(s, d.id, info) == 0) {
        if (info->meta[0])
            meta = json_loads(info->meta, 0, NULL);
        json_object_set_new(dev, "meta", json_is_object(meta) ? meta : json_object());
        if (meta && !json_is_object(meta))
            json_decref(meta);
        json_object_set_new(dev, "meta_updated_at", cl__time_or_null(info->meta_updated_at));
        json_object_set_new(dev, "remote_addr",
                            info->remote_addr[0] ? json_string(info->remote_addr) : json_null());
        json_object_set_new(dev, "online_since", cl__time_or_null(info->online_since));
        json_object_set_new(dev, "connected_at", cl__time_or_null(info->connected_at));
    }
    free(info);
    cl_http_reply_json(req->conn, 200, json_pack("{s:o}", "device", dev));
}

static void cl__device_rename(struct cl_http_req *req)
{
    struct cl_store *s = &req->relay->store;
    struct cl_device d;
    char name[CL_NAME_MAX + 1];
    int rc = cl_policy_device(s, req->user_id, CL_ACT_DEVICE_MODIFY, req->params[0], &d);
    if (rc) {
        cl_http_reply_errcode(req->conn, rc);
        return;
    }
    if (cl_http_body_name(req, name))
        return;
    rc = s->ops->device_rename(s, d.id, name);
    if (rc) {
        cl_http_reply_errcode(req->conn, rc);
        return;
    }
    snprintf(d.name, sizeof d.name, "%s", name);
    cl_info("api", "device renamed", "device=%s user=%s", d.id, req->user_id);
    cl_events_device(req->relay->events, "device.renamed", &d);
    cl_http_reply_json(req->conn, 200, json_pack("{s:o}", "device", cl_json_device(&d)));
}

/* A new one-time code replaces the old one at once. The device token in
 * use stays valid until the new code is used: pairing then replaces it
 * (and closes the agent still connected with the old one, see
 * api_functions.c). */
static void cl__device_new_code(struct cl_http_req *req)
{
    struct cl_store *s = req->store;
    struct cl_device d;
    char code[CL_PAIRING_CODE_LEN + 1];
    uint8_t code_hash[CL_HASH_LEN];
    int64_t expires_at = cl_now() + CL_PAIRING_CODE_TTL_S;
    int rc = cl_policy_device(s, req->user_id, CL_ACT_DEVICE_MODIFY, req->params[0], &d);
    if (rc) {
        cl_http_reply_errcode(req->conn, rc);
        return;
    }
    for (int i = 0; i < CL__CODE_TRIES; i++) {
        cl_pairing_code_new(code);
        cl_hash_str(code, code_hash);
        rc = s->ops->device_new_code(s, d.id, code_hash, expires_at);
        if (rc != CL_EEXIST)
            break;
    }
    if (rc) {
        cl_wipe(code, sizeof code);
        cl_http_reply_errcode(req->conn, rc);
        return;
    }
    d.code_expires_at = expires_at;
    cl_info("api", "pairing code regenerated", "device=%s user=%s", d.id, req->user_id);
    cl_http_reply_json(req->conn, 200,
                       json_pack("{s:o, s:s, s:I}", "device", cl_json_device(&d), "pairing_code",
                                 code, "pairing_code_expires_at", (json_int_t)expires_at));
    cl_wipe(code, sizeof code);
}

static void cl__device_delete(struct cl_http_req *req)
{
    struct cl_relay *r = req->relay;
    struct cl_store *s = &r->store;
    struct cl_device d;
    int rc = cl_policy_device(s, req->user_id, CL_ACT_DEVICE_MODIFY, req->params[0], &d);
    if (rc) {
        cl_http_reply_errcode(req->conn, rc);
        return;
    }
    rc = s->ops->device_delete(s, d.id, NULL); /* the hub needs only the device */
    if (rc) {
        cl_http_reply_errcode(req->conn, rc);
        return;
    }
    r->router.ops->device_removed(&r->router, d.id, CL_END_DEVICE_DELETED);
    cl_events_publish(r->events, d.project_id, "device.deleted",
                      json_pack("{s:s}", "device_id", d.id));
    cl_info("api", "device deleted", "device=%s project=%s user=%s", d.id, d.project_id,
            req->user_id);
    cl_http_reply_json(req->conn, 200, json_pack("{s:b}", "ok", 1));
}

/* Each route names the policy action its handler asks cl_policy_* for. */
const struct cl_route cl_routes_devices[] = {
    {CL_HTTP_GET, "/api/v1/devices/:id", CL_ACT_DEVICE_VIEW, cl__device_get, CL_ROUTE_WORKER},
    {CL_HTTP_PATCH, "/api/v1/devices/:id", CL_ACT_DEVICE_MODIFY, cl__device_rename, 0},
    {CL_HTTP_DELETE, "/api/v1/devices/:id", CL_ACT_DEVICE_MODIFY, cl__device_delete, 0},
    {CL_HTTP_POST, "/api/v1/devices/:id/pairing-code", CL_ACT_DEVICE_MODIFY, cl__device_new_code,
     CL_ROUTE_WORKER},
    {0, NULL, 0, NULL, 0},
};

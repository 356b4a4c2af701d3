/*
 * api_sessions: a project's session history (who, which device, when, how
 * it ended, its name and automatic title, how many watch it), naming a
 * session, sharing a live session with other members of its project
 * (view-only or with control), and who is watching it.
 */
#include "core/err.h"
#include "core/json.h"
#include "core/log.h"
#include "core/proto.h"
#include "relay/auth.h"
#include "relay/events.h"
#include "relay/http.h"
#include "relay/router.h"
#include "relay/policy.h"
#include "relay/relay.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *cl__mode_name(enum cl_share_mode m)
{
    return m == CL_SHARE_CONTROL ? "control" : "view";
}

static void cl__share_add(struct cl_http_req *req)
{
    struct cl_relay *r = req->relay;
    struct cl_store *s = &r->store;
    struct cl_session sess;
    struct cl_device d;
    struct cl_user u;
    enum cl_role role = CL_ROLE_NONE;
    enum cl_share_mode mode;
    const char *email_in, *mode_in;
    char email[CL_EMAIL_MAX + 1], err[160];
    int rc;

    rc = cl_policy_session(s, req->user_id, CL_ACT_SESSION_SHARE, req->params[0], &sess, &d, NULL);
    if (rc) {
        cl_http_reply_errcode(req->conn, rc);
        return;
    }
    if (cl_json_str(req->body, "body", "email", true, CL_EMAIL_MAX + 32, &email_in, err,
                    sizeof err) ||
        cl_json_str(req->body, "body", "mode", true, 16, &mode_in, err, sizeof err)) {
        cl_http_reply_error(req->conn, 400, "invalid_request", "%s", err);
        return;
    }
    if (strcmp(mode_in, "view") == 0) {
        mode = CL_SHARE_VIEW;
    } else if (strcmp(mode_in, "control") == 0) {
        mode = CL_SHARE_CONTROL;
    } else {
        cl_http_reply_error(req->conn, 400, "invalid_request",
                            "field body.mode must be \"view\" or \"control\"");
        return;
    }
    if (!sess.active) {
        cl_http_reply_error(req->conn, 409, "session_ended", "this session has ended");
        return;
    }
    if (cl_auth_normalize_email(email_in, email) || s->ops->user_by_email(s, email, &u) != 0 ||
        s->ops->member_role(s, d.project_id, u.id, &role) != 0 || role == CL_ROLE_NONE) {
        cl_http_reply_error(req->conn, 404, "not_a_member",
                            "no member of this project has that email");
        return;
    }
    if (strcmp(u.id, req->user_id) == 0) {
        cl_http_reply_error(req->conn, 400, "invalid_request", "you cannot share with yourself");
        return;
    }
    rc = s->ops->share_set(s, sess.id, u.id, mode, req->user_id, cl_now());
    if (rc) {
        cl_http_reply_errcode(req->conn, rc);
        return;
    }
    r->router.ops->share_changed(&r->router, sess.id, u.id, mode);
    cl_info("api", "session shared", "session=%s with=%s mode=%s by=%s", sess.id, u.id,
            cl__mode_name(mode), req->user_id);
    cl_http_reply_json(req->conn, 201,
                       json_pack("{s:{s:s, s:s, s:s}}", "share", "user_id", u.id, "email", u.email,
                                 "mode", cl__mode_name(mode)));
}

static void cl__collect_share(const struct cl_share *sh, void *ctx)
{
    json_array_append_new(ctx, json_pack("{s:s, s:s, s:s, s:I}", "user_id", sh->user_id, "email",
                                         sh->email, "mode", cl__mode_name(sh->mode), "created_at",
                                         (json_int_t)sh->created_at));
}

static void cl__share_list(struct cl_http_req *req)
{
    struct cl_store *s = req->store;
    json_t *arr;
    int rc =
        cl_policy_session(s, req->user_id, CL_ACT_SESSION_SHARE, req->params[0], NULL, NULL, NULL);
    if (rc) {
        cl_http_reply_errcode(req->conn, rc);
        return;
    }
    arr = json_array();
    rc = s->ops->share_list(s, req->params[0], cl__collect_share, arr);
    if (rc) {
        json_decref(arr);
        cl_http_reply_errcode(req->conn, rc);
        return;
    }
    cl_http_reply_json(req->conn, 200, json_pack("{s:o}", "shares", arr));
}

static void cl__share_remove(struct cl_http_req *req)
{
    struct cl_relay *r = req->relay;
    struct cl_store *s = &r->store;
    int rc =
        cl_policy_session(s, req->user_id, CL_ACT_SESSION_SHARE, req->params[0], NULL, NULL, NULL);
    if (rc) {
        cl_http_reply_errcode(req->conn, rc);
        return;
    }
    rc = s->ops->share_remove(s, req->params[0], req->params[1]);
    if (rc) {
        cl_http_reply_errcode(req->conn, rc);
        return;
    }
    r->router.ops->share_changed(&r->router, req->params[0], req->params[1], CL_SHARE_NONE);
    cl_info("api", "session share revoked", "session=%s with=%s by=%s", req->params[0],
            req->params[1], req->user_id);
    cl_http_reply_json(req->conn, 200, json_pack("{s:b}", "ok", 1));
}

struct cl__viewers_ctx {
    struct cl_store *store;
    json_t *arr;
};

static void cl__collect_viewer(const char *user_id, bool view_only, const char *peer, void *ctx)
{
    struct cl__viewers_ctx *v = ctx;
    struct cl_user u;
    if (v->store->ops->user_by_id(v->store, user_id, &u) != 0)
        return;
    cl_wipe(u.pw_hash, sizeof u.pw_hash);
    json_array_append_new(v->arr, json_pack("{s:s, s:s, s:s, s:s}", "user_id", user_id, "email",
                                            u.email, "display_name", u.display_name, "mode",
                                            view_only ? "view" : "control"));
}

static void cl__viewers(struct cl_http_req *req)
{
    struct cl_relay *r = req->relay;
    struct cl__viewers_ctx v = {&r->store, NULL};
    int rc = cl_policy_session(&r->store, req->user_id, CL_ACT_SESSION_ATTACH, req->params[0], NULL,
                               NULL, NULL);
    if (rc) {
        cl_http_reply_errcode(req->conn, rc);
        return;
    }
    v.arr = json_array();
    r->router.ops->session_viewers(&r->router, req->params[0], cl__collect_viewer, &v);
    cl_http_reply_json(req->conn, 200, json_pack("{s:o}", "viewers", v.arr));
}

/* ---- names ------------------------------------------------------------- */

/* PATCH /api/v1/sessions/:id {"name": "..."}: the starter or the project's
 * owner names a session; "" or null clears the name (lists then show its
 * title). Leading and trailing spaces are dropped. */
static void cl__session_rename(struct cl_http_req *req)
{
    struct cl_relay *r = req->relay;
    struct cl_store *s = &r->store;
    struct cl_session sess;
    struct cl_device d;
    const char *in = NULL;
    char name[CL_SESSION_NAME_MAX + 1], err[160];
    size_t n;
    int rc =
        cl_policy_session(s, req->user_id, CL_ACT_SESSION_RENAME, req->params[0], &sess, &d, NULL);
    if (rc) {
        cl_http_reply_errcode(req->conn, rc);
        return;
    }
    if (!json_is_object(req->body) || !json_object_get(req->body, "name")) {
        cl_http_reply_error(req->conn, 400, "invalid_request", "missing field body.name");
        return;
    }
    /* the bound applies after trimming, with room for spaces around */
    if (cl_json_str(req->body, "body", "name", false, 4 * CL_SESSION_NAME_MAX, &in, err,
                    sizeof err)) {
        cl_http_reply_error(req->conn, 400, "invalid_request", "%s", err);
        return;
    }
    if (!in)
        in = "";
    in += strspn(in, " ");
    n = strlen(in);
    while (n && in[n - 1] == ' ')
        n--;
    if (n > CL_SESSION_NAME_MAX) {
        cl_http_reply_error(req->conn, 400, "invalid_request",
                            "field body.name is longer than %d bytes", CL_SESSION_NAME_MAX);
        return;
    }
    memcpy(name, in, n);
    name[n] = '\0';
    if (!cl_proto_label_valid(name)) {
        cl_http_reply_error(req->conn, 400, "invalid_request",
                            "field body.name must not contain control characters");
        return;
    }
    rc = s->ops->session_set_name(s, sess.id, name);
    if (rc) {
        cl_http_reply_errcode(req->conn, rc);
        return;
    }
    cl_info("api", "session renamed", "session=%s user=%s cleared=%d", sess.id, req->user_id,
            name[0] == '\0');
    cl_events_publish(r->events, d.project_id, "session.renamed",
                      json_pack("{s:s, s:s, s:o}", "session_id", sess.id, "device_id", d.id, "name",
                                name[0] ? json_string(name) : json_null()));
    cl_http_reply_json(req->conn, 200,
                       json_pack("{s:{s:s, s:o}}", "session", "id", sess.id, "name",
                                 name[0] ? json_string(name) : json_null()));
}

/* ---- history ----------------------------------------------------------- */

/* The cursor is opaque to clients: "<started_at>.<session id>" of the last
 * row of the previous page (keyset pagination: stable while sessions
 * start, no rows skipped or repeated). */
static int cl__cursor_parse(const char *c, int64_t *t, char id[CL_UUID_LEN + 1])
{
    const char *dot = strchr(c, '.');
    char *end;
    long long v;
    if (!dot || dot == c || strspn(c, "0123456789") != (size_t)(dot - c) || !cl_uuid_valid(dot + 1))
        return CL_EINVAL;
    errno = 0;
    v = strtoll(c, &end, 10);
    if (errno || end != dot)
        return CL_EINVAL;
    *t = v;
    snprintf(id, CL_UUID_LEN + 1, "%s", dot + 1);
    return 0;
}

struct cl__history {
    json_t *arr;
    unsigned want, got;
    struct cl_session last; /* of the rows returned */
};

static void cl__collect_history(const struct cl_session_info *si, void *ctx)
{
    struct cl__history *h = ctx;
    const struct cl_session *x = &si->sess;
    json_t *o;
    if (h->got++ >= h->want)
        return; /* the one past the page: there is a next page */
    h->last = *x;
    o = json_pack("{s:s, s:s, s:s, s:s, s:I}", "id", x->id, "device_id", x->device_id,
                  "device_name", si->device_name, "status", x->active ? "active" : "ended",
                  "started_at", (json_int_t)x->started_at);
    json_object_set_new(o, "user",
                        x->user_id[0]
                            ? json_pack("{s:s, s:s, s:s}", "id", x->user_id, "email",
                                        si->user_email, "display_name", si->user_display_name)
                            : json_null());
    json_object_set_new(o, "ended_at", x->active ? json_null() : json_integer(x->ended_at));
    json_object_set_new(o, "end_reason",
                        !x->active && x->end_reason[0] ? json_string(x->end_reason) : json_null());
    json_object_set_new(o, "exit_code",
                        x->has_exit_code ? json_integer(x->exit_code) : json_null());
    json_object_set_new(o, "name", x->name[0] ? json_string(x->name) : json_null());
    json_object_set_new(o, "title", x->title[0] ? json_string(x->title) : json_null());
    json_array_append_new(h->arr, o);
}

/* Query parameter name: 1 with its value in buf, 0 when absent, -1 when
 * too long (replied 400). */
static int cl__query(struct cl_http_req *req, const char *name, char *buf, size_t len)
{
    int rc = cl_http_query(req, name, buf, len);
    if (rc == CL_ENOTFOUND)
        return 0;
    if (rc) {
        cl_http_reply_error(req->conn, 400, "invalid_request", "query %s is too long", name);
        return -1;
    }
    return 1;
}

/* Sets each row's "attach": how the caller may attach to it, as the policy
 * decides (cl_policy_session, SESSION_ATTACH): "control" (their own, or
 * shared to type), "view" (shared to watch), or null (ended, or not
 * shared with them: the list shows no Attach there). A live session also
 * gets "viewers" (browsers attached now) and its newest title from the
 * router (the store's may be up to CL_SESSION_TITLE_STORE_MS older); others
 * get viewers 0. 0, or CL_EDB. */
static int cl__history_attach(struct cl_http_req *req, json_t *arr)
{
    struct cl_router *rt = &req->relay->router;
    size_t i;
    json_t *o;
    json_array_foreach(arr, i, o)
    {
        enum cl_share_mode mode = CL_SHARE_VIEW;
        json_t *v = json_null();
        const char *id = json_string_value(json_object_get(o, "id"));
        const char *st = json_string_value(json_object_get(o, "status"));
        char title[CL_SESSION_TITLE_MAX + 1];
        size_t viewers = 0;
        if (id && st && strcmp(st, "active") == 0 &&
            rt->ops->session_live(rt, id, title, sizeof title, &viewers) && title[0])
            json_object_set_new(o, "title", json_string(title));
        json_object_set_new(o, "viewers", json_integer((json_int_t)viewers));
        if (id && st && strcmp(st, "active") == 0) {
            int rc = cl_policy_session(&req->relay->store, req->user_id, CL_ACT_SESSION_ATTACH, id,
                                       NULL, NULL, &mode);
            if (rc == 0)
                v = json_string(mode == CL_SHARE_CONTROL ? "control" : "view");
            else if (rc != CL_ENOTFOUND && rc != CL_EFORBIDDEN)
                return rc;
        }
        json_object_set_new(o, "attach", v);
    }
    return 0;
}

/* GET /api/v1/projects/:id/sessions?device_id=&status=&limit=&cursor= */
static void cl__history(struct cl_http_req *req)
{
    struct cl_store *s = &req->relay->store;
    struct cl_session_filter f;
    struct cl__history h = {0};
    struct cl_project p;
    struct cl_device d;
    char device_id[CL_ID_MAX + 1], status[16], limit[16], cursor[CL_UUID_LEN + 32];
    char before_id[CL_UUID_LEN + 1];
    char *end;
    json_t *next = json_null();
    int q, rc = cl_policy_project(s, req->user_id, CL_ACT_SESSION_HISTORY, req->params[0], &p);
    if (rc) {
        cl_http_reply_errcode(req->conn, rc);
        return;
    }
    memset(&f, 0, sizeof f);
    f.project_id = p.id;
    h.want = CL_SESSION_PAGE_DEFAULT;
    if ((q = cl__query(req, "status", status, sizeof status)) < 0)
        return;
    if (q) {
        if (strcmp(status, "active") == 0) {
            f.status = CL_SESSIONS_ACTIVE;
        } else if (strcmp(status, "ended") == 0) {
            f.status = CL_SESSIONS_ENDED;
        } else {
            cl_http_reply_error(req->conn, 400, "invalid_request",
                                "query status must be \"active\" or \"ended\"");
            return;
        }
    }
    if ((q = cl__query(req, "limit", limit, sizeof limit)) < 0)
        return;
    if (q) {
        unsigned long n = strtoul(limit, &end, 10);
        if (!limit[0] || strspn(limit, "0123456789") != strlen(limit) || n < 1 ||
            n > CL_SESSION_PAGE_MAX) {
            cl_http_reply_error(req->conn, 400, "invalid_request",
                                "query limit must be an integer from 1 to %d", CL_SESSION_PAGE_MAX);
            return;
        }
        h.want = (unsigned)n;
    }
    if ((q = cl__query(req, "cursor", cursor, sizeof cursor)) < 0)
        return;
    if (q) {
        if (cl__cursor_parse(cursor, &f.before_started_at, before_id)) {
            cl_http_reply_error(req->conn, 400, "invalid_request",
                                "query cursor is not a cursor this API returned");
            return;
        }
        f.before_id = before_id;
    }
    if ((q = cl__query(req, "device_id", device_id, sizeof device_id)) < 0)
        return;
    if (q) {
        /* a device of another project is as unknown as a missing one */
        if (s->ops->device_get(s, device_id, &d) != 0 || strcmp(d.project_id, p.id) != 0) {
            cl_http_reply_error(req->conn, 404, "not_found", "this project has no such device");
            return;
        }
        f.device_id = d.id;
    }
    f.limit = h.want + 1;
    h.arr = json_array();
    rc = s->ops->session_list(s, &f, cl__collect_history, &h);
    if (rc) {
        json_decref(h.arr);
        cl_http_reply_errcode(req->conn, rc);
        return;
    }
    rc = cl__history_attach(req, h.arr);
    if (rc) {
        json_decref(h.arr);
        cl_http_reply_errcode(req->conn, rc);
        return;
    }
    if (h.got > h.want)
        next = json_sprintf("%" PRId64 ".%s", h.last.started_at, h.last.id);
    cl_http_reply_json(req->conn, 200,
                       json_pack("{s:o, s:o}", "sessions", h.arr, "next_cursor", next));
}

/* Each route names the policy action its handler asks cl_policy_* for. */
const struct cl_route cl_routes_sessions[] = {
    {CL_HTTP_GET, "/api/v1/projects/:id/sessions", CL_ACT_SESSION_HISTORY, cl__history, 0},
    {CL_HTTP_PATCH, "/api/v1/sessions/:id", CL_ACT_SESSION_RENAME, cl__session_rename, 0},
    {CL_HTTP_POST, "/api/v1/sessions/:id/shares", CL_ACT_SESSION_SHARE, cl__share_add, 0},
    {CL_HTTP_GET, "/api/v1/sessions/:id/shares", CL_ACT_SESSION_SHARE, cl__share_list,
     CL_ROUTE_WORKER},
    {CL_HTTP_DELETE, "/api/v1/sessions/:id/shares/:user_id", CL_ACT_SESSION_SHARE, cl__share_remove,
     0},
    {CL_HTTP_GET, "/api/v1/sessions/:id/viewers", CL_ACT_SESSION_ATTACH, cl__viewers, 0},
    {0, NULL, 0, NULL, 0},
};

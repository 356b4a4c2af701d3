/*
 * Unit tests for src/agent/chat_api.c over a real chat store (SQLite in a
 * fresh $XDG_DATA_HOME per test) and the built-in memory provider, without
 * a gateway: routing, the JSON shapes of docs/chat.md "The chat API",
 * paging (threads by cursor, messages before/after with has_more), the
 * frame bound (a page cut short, a huge message cut), errors (400 naming
 * the field, 404, 405, 409 gateway_offline, 413 naming the limit), the
 * capability refusal, /events followers and their bound, and the memory
 * routes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "agent/chat_api.h"
#include "agent/chat_store.h"
#include "agent/memory_builtin.h"
#include "core/err.h"
#include "core/log.h"
#include "core/proto.h"

struct fx {
    char dir[64];
    uv_loop_t loop;
    struct cl_chat_store *cs;
    struct cl_memory mem;
    struct cl_chat_api *api;
};

/* What one call answered. */
struct ans {
    int status; /* 0: not ended */
    json_t *body;
    int nevents;
    char names[64][32];
    json_t *events[64];
};

static void on_event(void *ctx, const char *name, json_t *data)
{
    struct ans *a = ctx;
    assert_true(json_dumpb(data, NULL, 0, JSON_COMPACT) <= CL_CHAT_FRAME_MAX);
    if (a->nevents < 64) {
        snprintf(a->names[a->nevents], sizeof a->names[0], "%s", name);
        a->events[a->nevents++] = json_deep_copy(data);
    }
}

static void on_end(void *ctx, int status, json_t *body)
{
    struct ans *a = ctx;
    assert_int_equal(a->status, 0); /* exactly once */
    a->status = status;
    a->body = body ? json_deep_copy(body) : NULL;
    if (body)
        assert_true(json_dumpb(body, NULL, 0, JSON_COMPACT) <= CL_CHAT_FRAME_MAX);
}

static const struct cl_chat_reply reply = {on_event, on_end};

static void ans_clear(struct ans *a)
{
    json_decref(a->body);
    for (int i = 0; i < a->nevents; i++)
        json_decref(a->events[i]);
    memset(a, 0, sizeof *a);
}

static struct cl_chat_api *make_api(struct fx *f, unsigned caps)
{
    struct cl_chat_api_cfg cfg = {
        .loop = &f->loop, .cs = f->cs, .gw = NULL, .mem = &f->mem, .caps = caps};
    struct cl_chat_api *api = NULL;
    assert_int_equal(cl_chat_api_new(&cfg, &api), 0);
    return api;
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    char err[256], data[128];

    cl_log_set_level(CL_LOG_ERROR);
    snprintf(f->dir, sizeof f->dir, "/tmp/cl-chatapi-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(data, sizeof data, "%s/data", f->dir);
    setenv("XDG_DATA_HOME", data, 1);
    assert_int_equal(cl_chat_store_open(NULL, &f->cs, err, sizeof err), 0);
    assert_int_equal(cl_memory_builtin_new(f->cs, &f->mem), 0);
    uv_loop_init(&f->loop);
    f->api = make_api(f, CL_CAP_CHAT);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    char cmd[128];

    cl_chat_api_free(f->api);
    uv_run(&f->loop, UV_RUN_NOWAIT);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    f->mem.ops->close(f->mem.self);
    cl_chat_store_close(f->cs);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

/* Runs one request; body is JSON text or NULL. Returns the call (NULL when
 * it ended). */
static struct cl_chat_call *req_on(struct cl_chat_api *api, const char *method, const char *path,
                                   const char *query, const char *body, struct ans *a)
{
    json_t *b = body ? json_loads(body, JSON_DECODE_ANY, NULL) : NULL;
    struct cl_chat_req r = {method, path, query, b, "user-1", "Ann"};
    if (body)
        assert_non_null(b);
    memset(a, 0, sizeof *a);
    struct cl_chat_call *c = cl_chat_api_handle(api, &r, &reply, a);
    json_decref(b);
    return c;
}

static int req(struct fx *f, const char *method, const char *path, const char *query,
               const char *body, struct ans *a)
{
    assert_null(req_on(f->api, method, path, query, body, a));
    return a->status;
}

static const char *err_code(const struct ans *a)
{
    return json_string_value(json_object_get(json_object_get(a->body, "error"), "code"));
}

static const char *err_msg(const struct ans *a)
{
    return json_string_value(json_object_get(json_object_get(a->body, "error"), "message"));
}

static int64_t num(json_t *o, const char *k)
{
    return json_integer_value(json_object_get(o, k));
}

static const char *str(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static int64_t add_msg(struct fx *f, int64_t th, const char *gid, const char *role,
                       const char *text)
{
    struct cl_chat_message_in m = {
        .gateway_id = gid, .role = role, .content_md = text, .state = CL_CHAT_FINAL};
    int64_t id;
    assert_int_equal(cl_chat_message_upsert(f->cs, th, &m, &id), 0);
    return id;
}

/* ---- tests ---- */

static void test_capability_denied(void **state)
{
    struct fx *f = *state;
    struct cl_chat_api *api = make_api(f, CL_CAP_TERMINAL | CL_CAP_STATUS);
    struct ans a;

    assert_null(req_on(api, "GET", "/threads", NULL, NULL, &a));
    assert_int_equal(a.status, 403);
    assert_string_equal(err_code(&a), "capability_denied");
    ans_clear(&a);
    assert_null(req_on(api, "GET", "/events", NULL, NULL, &a));
    assert_int_equal(a.status, 403);
    assert_int_equal(a.nevents, 0);
    ans_clear(&a);
    cl_chat_api_free(api);
}

/* /files: its own capability; with it, the routes answer from the
 * configured home (files.c has its own tests). */
static void test_files_capability_and_routes(void **state)
{
    struct fx *f = *state;
    char home[160];
    struct ans a;
    struct cl_chat_api *api;
    struct cl_chat_api_cfg cfg = {.loop = &f->loop,
                                  .cs = f->cs,
                                  .mem = &f->mem,
                                  .caps = CL_CAP_CHAT | CL_CAP_FILES,
                                  .home = home};

    /* the fixture's API declares chat only */
    assert_int_equal(req(f, "GET", "/files", NULL, NULL, &a), 403);
    assert_string_equal(err_code(&a), "capability_denied");
    ans_clear(&a);
    assert_int_equal(req(f, "PUT", "/files/content", NULL,
                         "{\"path\":\"x\",\"offset\":0,\"data_b64\":\"eA==\",\"final\":true}", &a),
                     403);
    ans_clear(&a);

    snprintf(home, sizeof home, "%s/home", f->dir);
    assert_int_equal(mkdir(home, 0700), 0);
    assert_int_equal(cl_chat_api_new(&cfg, &api), 0);
    assert_null(req_on(api, "PUT", "/files/content", NULL,
                       "{\"path\":\"x.txt\",\"offset\":0,\"data_b64\":\"aGk=\",\"final\":true}",
                       &a));
    assert_int_equal(a.status, 200);
    assert_true(json_is_true(json_object_get(a.body, "done")));
    ans_clear(&a);
    assert_null(req_on(api, "GET", "/files", NULL, NULL, &a));
    assert_int_equal(a.status, 200);
    assert_int_equal(json_array_size(json_object_get(a.body, "entries")), 1);
    ans_clear(&a);
    assert_null(req_on(api, "GET", "/files/content", "path=x.txt&length=1", NULL, &a));
    assert_int_equal(a.status, 200);
    assert_string_equal(json_string_value(json_object_get(a.body, "data_b64")), "aA==");
    assert_false(json_is_true(json_object_get(a.body, "eof")));
    ans_clear(&a);
    assert_null(req_on(api, "GET", "/files/content", "path=..%2Fx", NULL, &a));
    assert_int_equal(a.status, 400);
    assert_string_equal(err_code(&a), "bad_path");
    ans_clear(&a);
    assert_null(req_on(api, "GET", "/files/content", "path=x%00y", NULL, &a));
    assert_int_equal(a.status, 400);
    ans_clear(&a);
    assert_null(req_on(api, "DELETE", "/files/content", NULL, NULL, &a));
    assert_int_equal(a.status, 405);
    ans_clear(&a);
    assert_null(req_on(api, "GET", "/files/nothing", NULL, NULL, &a));
    assert_int_equal(a.status, 404);
    ans_clear(&a);
    cl_chat_api_free(api);
}

static void test_routes_and_methods(void **state)
{
    struct fx *f = *state;
    struct ans a;

    assert_int_equal(req(f, "GET", "/nothing", NULL, NULL, &a), 404);
    assert_string_equal(err_code(&a), "not_found");
    ans_clear(&a);
    assert_int_equal(req(f, "GET", "/threads/x", NULL, NULL, &a), 404);
    ans_clear(&a);
    assert_int_equal(req(f, "GET", "/threads/1/2/3/4/5", NULL, NULL, &a), 404);
    ans_clear(&a);
    assert_int_equal(req(f, "PUT", "/workspaces", NULL, NULL, &a), 405);
    assert_string_equal(err_code(&a), "method_not_allowed");
    ans_clear(&a);
    assert_int_equal(req(f, "DELETE", "/search", NULL, NULL, &a), 405);
    ans_clear(&a);
    assert_int_equal(req(f, "GET", "/threads/99", NULL, NULL, &a), 404);
    ans_clear(&a);
}

static void test_workspaces(void **state)
{
    struct fx *f = *state;
    struct ans a;
    char path[64], big[CL_NAME_MAX + 40];
    int64_t ws;

    assert_int_equal(
        req(f, "POST", "/workspaces", NULL, "{\"name\":\"Ops\",\"folder\":\"/srv\"}", &a), 201);
    ws = num(a.body, "id");
    assert_true(ws > 0);
    assert_string_equal(str(a.body, "name"), "Ops");
    assert_true(json_is_null(json_object_get(a.body, "default_agent")));
    assert_string_equal(str(a.body, "folder"), "/srv");
    assert_true(num(a.body, "created_at") > 0);
    ans_clear(&a);

    /* the field is named */
    assert_int_equal(req(f, "POST", "/workspaces", NULL, "{\"folder\":\"/x\"}", &a), 400);
    assert_string_equal(err_code(&a), "bad_request");
    assert_non_null(strstr(err_msg(&a), "name"));
    ans_clear(&a);
    assert_int_equal(req(f, "POST", "/workspaces", NULL, "{\"name\":7}", &a), 400);
    assert_non_null(strstr(err_msg(&a), "name"));
    ans_clear(&a);
    assert_int_equal(req(f, "POST", "/workspaces", NULL, "[1]", &a), 400);
    ans_clear(&a);
    /* the limit is named */
    memset(big, 'n', sizeof big);
    big[CL_NAME_MAX + 1] = 0;
    char body[256];
    snprintf(body, sizeof body, "{\"name\":\"%s\"}", big);
    assert_int_equal(req(f, "POST", "/workspaces", NULL, body, &a), 413);
    assert_non_null(strstr(err_msg(&a), "CL_NAME_MAX"));
    ans_clear(&a);

    snprintf(path, sizeof path, "/workspaces/%lld", (long long)ws);
    assert_int_equal(req(f, "PATCH", path, NULL, "{\"default_agent\":\"ops\",\"folder\":null}", &a),
                     200);
    assert_string_equal(str(a.body, "default_agent"), "ops");
    assert_true(json_is_null(json_object_get(a.body, "folder")));
    assert_string_equal(str(a.body, "name"), "Ops");
    ans_clear(&a);

    assert_int_equal(req(f, "GET", "/workspaces", NULL, NULL, &a), 200);
    assert_int_equal(json_array_size(json_object_get(a.body, "workspaces")), 1);
    ans_clear(&a);

    /* a new thread in it takes its agent */
    assert_int_equal(
        req(f, "POST", "/threads", NULL, "{\"workspace_id\":1,\"title\":\"Mine\"}", &a), 201);
    assert_int_equal(strncmp(str(a.body, "session_key"), "agent:ops:clawlink-", 19), 0);
    assert_int_equal(num(a.body, "workspace_id"), ws);
    assert_string_equal(str(a.body, "title"), "Mine");
    assert_true(json_is_true(json_object_get(a.body, "title_set_by_user")));
    ans_clear(&a);

    /* a workspace with threads cannot be deleted without the gateway */
    assert_int_equal(req(f, "DELETE", path, NULL, NULL, &a), 409);
    assert_string_equal(err_code(&a), "gateway_offline");
    ans_clear(&a);
    assert_int_equal(req(f, "GET", "/threads", NULL, NULL, &a), 200);
    assert_int_equal(json_array_size(json_object_get(a.body, "threads")), 1);
    ans_clear(&a);

    /* an empty one can */
    assert_int_equal(req(f, "POST", "/workspaces", NULL, "{\"name\":\"Empty\"}", &a), 201);
    snprintf(path, sizeof path, "/workspaces/%lld", (long long)num(a.body, "id"));
    ans_clear(&a);
    assert_int_equal(req(f, "DELETE", path, NULL, NULL, &a), 204);
    assert_null(a.body);
    ans_clear(&a);
    assert_int_equal(req(f, "DELETE", path, NULL, NULL, &a), 404);
    ans_clear(&a);
    assert_int_equal(req(f, "PATCH", "/workspaces/77", NULL, "{\"name\":\"x\"}", &a), 404);
    ans_clear(&a);
}

static void test_threads(void **state)
{
    struct fx *f = *state;
    struct ans a;
    char path[64], cursor[64];
    int64_t ids[5];

    assert_int_equal(req(f, "POST", "/threads", NULL, NULL, &a), 201);
    assert_int_equal(strncmp(str(a.body, "session_key"), "agent:main:clawlink-", 20), 0);
    assert_true(json_is_null(json_object_get(a.body, "workspace_id")));
    assert_string_equal(str(a.body, "title"), "");
    assert_false(json_is_true(json_object_get(a.body, "memory")));
    ids[0] = num(a.body, "id");
    ans_clear(&a);
    assert_int_equal(req(f, "POST", "/threads", NULL, "{\"agent_id\":\"Bad Agent\"}", &a), 400);
    assert_non_null(strstr(err_msg(&a), "agent_id"));
    ans_clear(&a);
    assert_int_equal(req(f, "POST", "/threads", NULL, "{\"workspace_id\":42}", &a), 404);
    ans_clear(&a);
    for (int i = 1; i < 5; i++) {
        assert_int_equal(req(f, "POST", "/threads", NULL, "{\"agent_id\":\"dev\"}", &a), 201);
        ids[i] = num(a.body, "id");
        ans_clear(&a);
    }

    /* paging: most recent first, next_cursor until the last page */
    assert_int_equal(req(f, "GET", "/threads", "limit=2", NULL, &a), 200);
    assert_int_equal(json_array_size(json_object_get(a.body, "threads")), 2);
    assert_int_equal(num(json_array_get(json_object_get(a.body, "threads"), 0), "id"), ids[4]);
    snprintf(cursor, sizeof cursor, "limit=2&cursor=%s", str(a.body, "next_cursor"));
    ans_clear(&a);
    assert_int_equal(req(f, "GET", "/threads", cursor, NULL, &a), 200);
    assert_int_equal(num(json_array_get(json_object_get(a.body, "threads"), 0), "id"), ids[2]);
    snprintf(cursor, sizeof cursor, "limit=2&cursor=%s", str(a.body, "next_cursor"));
    ans_clear(&a);
    assert_int_equal(req(f, "GET", "/threads", cursor, NULL, &a), 200);
    assert_int_equal(json_array_size(json_object_get(a.body, "threads")), 1);
    assert_true(json_is_null(json_object_get(a.body, "next_cursor")));
    ans_clear(&a);
    assert_int_equal(req(f, "GET", "/threads", "cursor=zz", NULL, &a), 400);
    assert_non_null(strstr(err_msg(&a), "cursor"));
    ans_clear(&a);
    assert_int_equal(req(f, "GET", "/threads", "limit=-3", NULL, &a), 400);
    assert_non_null(strstr(err_msg(&a), "limit"));
    ans_clear(&a);

    /* rename, memory on, errors named */
    snprintf(path, sizeof path, "/threads/%lld", (long long)ids[0]);
    assert_int_equal(req(f, "PATCH", path, NULL, "{\"title\":\"Plans\",\"memory\":true}", &a), 200);
    assert_string_equal(str(a.body, "title"), "Plans");
    assert_true(json_is_true(json_object_get(a.body, "title_set_by_user")));
    assert_true(json_is_true(json_object_get(a.body, "memory")));
    ans_clear(&a);
    assert_int_equal(req(f, "PATCH", path, NULL, "{\"memory\":\"yes\"}", &a), 400);
    assert_non_null(strstr(err_msg(&a), "memory"));
    ans_clear(&a);
    assert_int_equal(req(f, "PATCH", path, NULL, "{\"workspace_id\":9}", &a), 404);
    ans_clear(&a);
    assert_int_equal(req(f, "GET", path, NULL, NULL, &a), 200);
    assert_string_equal(str(a.body, "title"), "Plans");
    ans_clear(&a);

    /* no gateway: sending, stopping and deleting say so, nothing changes */
    char mpath[80];
    snprintf(mpath, sizeof mpath, "%s/messages", path);
    assert_int_equal(req(f, "POST", mpath, NULL, "{\"content\":\"hi\"}", &a), 409);
    assert_string_equal(err_code(&a), "gateway_offline");
    ans_clear(&a);
    assert_int_equal(req(f, "POST", mpath, NULL, "{\"text\":\"hi\"}", &a), 400);
    assert_non_null(strstr(err_msg(&a), "content"));
    ans_clear(&a);
    assert_int_equal(req(f, "POST", "/threads/99/messages", NULL, "{\"content\":\"x\"}", &a), 404);
    ans_clear(&a);
    snprintf(mpath, sizeof mpath, "%s/stop", path);
    assert_int_equal(req(f, "POST", mpath, NULL, NULL, &a), 409);
    ans_clear(&a);
    assert_int_equal(req(f, "DELETE", path, NULL, NULL, &a), 409);
    ans_clear(&a);
    assert_int_equal(req(f, "GET", path, NULL, NULL, &a), 200);
    ans_clear(&a);
}

static void test_messages_paging_and_bounds(void **state)
{
    struct fx *f = *state;
    struct ans a;
    int64_t th, ids[6];
    char q[64], gid[16];

    assert_int_equal(cl_chat_thread_upsert(f->cs, 0, "agent:main:p", NULL, &th), 0);
    for (int i = 0; i < 6; i++) {
        char text[16];
        snprintf(gid, sizeof gid, "g%d", i);
        snprintf(text, sizeof text, "m%d", i);
        ids[i] = add_msg(f, th, gid, i % 2 ? "assistant" : "user", text);
    }
    char path[64];
    snprintf(path, sizeof path, "/threads/%lld/messages", (long long)th);

    /* the newest page, in order */
    assert_int_equal(req(f, "GET", path, "limit=4", NULL, &a), 200);
    json_t *ms = json_object_get(a.body, "messages");
    assert_int_equal(json_array_size(ms), 4);
    assert_string_equal(str(json_array_get(ms, 0), "content"), "m2");
    assert_string_equal(str(json_array_get(ms, 3), "content"), "m5");
    assert_true(json_is_true(json_object_get(a.body, "has_more")));
    /* the shape */
    json_t *m = json_array_get(ms, 0);
    assert_int_equal(num(m, "thread_id"), th);
    assert_string_equal(str(m, "gateway_id"), "g2");
    assert_string_equal(str(m, "role"), "user");
    assert_string_equal(str(m, "state"), "final");
    assert_true(json_is_null(json_object_get(m, "run_id")));
    assert_true(json_is_null(json_object_get(m, "tool_calls")));
    assert_true(json_is_null(json_object_get(m, "sender_user_id")));
    assert_true(json_is_array(json_object_get(m, "attachments")));
    assert_true(num(m, "seq") > 0);
    ans_clear(&a);

    snprintf(q, sizeof q, "before=%lld&limit=4", (long long)ids[2]);
    assert_int_equal(req(f, "GET", path, q, NULL, &a), 200);
    ms = json_object_get(a.body, "messages");
    assert_int_equal(json_array_size(ms), 2);
    assert_string_equal(str(json_array_get(ms, 0), "content"), "m0");
    assert_false(json_is_true(json_object_get(a.body, "has_more")));
    ans_clear(&a);

    snprintf(q, sizeof q, "after=%lld&limit=3", (long long)ids[1]);
    assert_int_equal(req(f, "GET", path, q, NULL, &a), 200);
    ms = json_object_get(a.body, "messages");
    assert_int_equal(json_array_size(ms), 3);
    assert_string_equal(str(json_array_get(ms, 0), "content"), "m2");
    assert_true(json_is_true(json_object_get(a.body, "has_more")));
    ans_clear(&a);
    snprintf(q, sizeof q, "after=%lld", (long long)ids[3]);
    assert_int_equal(req(f, "GET", path, q, NULL, &a), 200);
    assert_int_equal(json_array_size(json_object_get(a.body, "messages")), 2);
    assert_false(json_is_true(json_object_get(a.body, "has_more")));
    ans_clear(&a);
    assert_int_equal(req(f, "GET", path, "before=1&after=2", NULL, &a), 400);
    ans_clear(&a);
    assert_int_equal(req(f, "GET", "/threads/999/messages", NULL, NULL, &a), 404);
    ans_clear(&a);

    /* two messages of nearly CL_CHAT_MESSAGE_MAX of quotes (escaped, twice
     * the size): each is cut, the page stays within the frame and says
     * more remain */
    size_t n = CL_CHAT_MESSAGE_MAX - 16;
    char *huge = malloc(n + 1);
    memset(huge, '"', n);
    huge[n] = 0;
    add_msg(f, th, "h1", "assistant", huge);
    add_msg(f, th, "h2", "assistant", huge);
    free(huge);
    assert_int_equal(req(f, "GET", path, NULL, NULL, &a), 200);
    ms = json_object_get(a.body, "messages");
    assert_true(json_array_size(ms) >= 1);
    assert_true(json_is_true(json_object_get(a.body, "has_more")));
    assert_true(
        json_is_true(json_object_get(json_array_get(ms, json_array_size(ms) - 1), "truncated")));
    ans_clear(&a);
}

static void test_search(void **state)
{
    struct fx *f = *state;
    struct ans a;
    int64_t th;

    assert_int_equal(cl_chat_thread_upsert(f->cs, 0, "agent:main:s", "Garden", &th), 0);
    add_msg(f, th, "a", "user", "how do I prune the tomatoes");
    add_msg(f, th, "b", "assistant", "Prune tomatoes in the morning.");
    assert_int_equal(req(f, "GET", "/search", "q=tomato", NULL, &a), 200);
    json_t *hits = json_object_get(a.body, "hits");
    assert_int_equal(json_array_size(hits), 2);
    json_t *h = json_array_get(hits, 0);
    assert_string_equal(str(h, "kind"), "message");
    assert_int_equal(num(h, "thread_id"), th);
    assert_string_equal(str(h, "thread_title"), "Garden");
    assert_non_null(strstr(str(h, "snippet"), "[[tomatoes]]"));
    assert_non_null(str(h, "role"));
    ans_clear(&a);
    assert_int_equal(req(f, "GET", "/search", "q=prune%20morning", NULL, &a), 200);
    assert_int_equal(json_array_size(json_object_get(a.body, "hits")), 1);
    ans_clear(&a);
    assert_int_equal(req(f, "GET", "/search", NULL, NULL, &a), 400);
    assert_non_null(strstr(err_msg(&a), "q"));
    ans_clear(&a);
    char q[CL_CHAT_QUERY_MAX + 16];
    memset(q, 'a', sizeof q);
    memcpy(q, "q=", 2);
    q[sizeof q - 1] = 0;
    assert_int_equal(req(f, "GET", "/search", q, NULL, &a), 413);
    assert_non_null(strstr(err_msg(&a), "CL_CHAT_QUERY_MAX"));
    ans_clear(&a);
}

static void test_memory(void **state)
{
    struct fx *f = *state;
    struct ans a;
    char path[64];
    int64_t th, id;

    assert_int_equal(cl_chat_thread_upsert(f->cs, 0, "agent:main:m", "Notes", &th), 0);
    char body[128];
    snprintf(body, sizeof body,
             "{\"text\":\"The staging database is on port 5433\",\"tags\":\"db ops\","
             "\"source_thread_id\":%lld}",
             (long long)th);
    assert_int_equal(req(f, "POST", "/memory", NULL, body, &a), 201);
    id = num(a.body, "id");
    assert_true(id > 0);
    assert_string_equal(str(a.body, "tags"), "db ops");
    assert_int_equal(num(a.body, "source_thread_id"), th);
    ans_clear(&a);
    assert_int_equal(req(f, "POST", "/memory", NULL, "{\"text\":\"second note\"}", &a), 201);
    ans_clear(&a);
    assert_int_equal(req(f, "POST", "/memory", NULL, "{\"tags\":\"x\"}", &a), 400);
    assert_non_null(strstr(err_msg(&a), "text"));
    ans_clear(&a);
    assert_int_equal(
        req(f, "POST", "/memory", NULL, "{\"text\":\"x\",\"source_thread_id\":999}", &a), 404);
    ans_clear(&a);

    assert_int_equal(req(f, "GET", "/memory", "limit=1", NULL, &a), 200);
    assert_int_equal(json_array_size(json_object_get(a.body, "notes")), 1);
    assert_string_equal(str(json_array_get(json_object_get(a.body, "notes"), 0), "text"),
                        "second note");
    assert_true(json_is_true(json_object_get(a.body, "has_more")));
    ans_clear(&a);

    assert_int_equal(req(f, "GET", "/memory/search", "q=staging", NULL, &a), 200);
    json_t *h = json_array_get(json_object_get(a.body, "hits"), 0);
    assert_string_equal(str(h, "kind"), "note");
    assert_int_equal(num(h, "id"), id);
    assert_string_equal(str(h, "thread_title"), "Notes");
    assert_non_null(strstr(str(h, "snippet"), "[[staging]]"));
    ans_clear(&a);

    snprintf(path, sizeof path, "/memory/%lld", (long long)id);
    assert_int_equal(req(f, "DELETE", path, NULL, NULL, &a), 204);
    ans_clear(&a);
    assert_int_equal(req(f, "DELETE", path, NULL, NULL, &a), 404);
    ans_clear(&a);
    assert_int_equal(req(f, "GET", "/memory/search", "q=staging", NULL, &a), 200);
    assert_int_equal(json_array_size(json_object_get(a.body, "hits")), 0);
    ans_clear(&a);
}

static void test_events_followers(void **state)
{
    struct fx *f = *state;
    struct ans a[CL_CHAT_FOLLOWERS_MAX + 1], b;
    struct cl_chat_call *calls[CL_CHAT_FOLLOWERS_MAX];

    for (int i = 0; i < CL_CHAT_FOLLOWERS_MAX; i++) {
        calls[i] = req_on(f->api, "GET", "/events", NULL, NULL, &a[i]);
        assert_non_null(calls[i]);
        assert_int_equal(a[i].status, 0);
        assert_string_equal(a[i].names[0], "ping");
    }
    assert_null(req_on(f->api, "GET", "/events", NULL, NULL, &a[CL_CHAT_FOLLOWERS_MAX]));
    assert_int_equal(a[CL_CHAT_FOLLOWERS_MAX].status, 429);
    assert_non_null(strstr(err_msg(&a[CL_CHAT_FOLLOWERS_MAX]), "CL_CHAT_FOLLOWERS_MAX"));
    ans_clear(&a[CL_CHAT_FOLLOWERS_MAX]);

    /* a thread created and renamed reaches every follower */
    assert_int_equal(req(f, "POST", "/threads", NULL, "{\"title\":\"Live\"}", &b), 201);
    ans_clear(&b);
    assert_int_equal(a[0].nevents, 2);
    assert_string_equal(a[0].names[1], "thread");
    assert_string_equal(str(json_object_get(a[0].events[1], "thread"), "title"), "Live");

    /* cancelled followers hear nothing more and free their place */
    for (int i = 0; i < CL_CHAT_FOLLOWERS_MAX; i++)
        cl_chat_api_cancel(f->api, calls[i]);
    assert_int_equal(req(f, "POST", "/threads", NULL, NULL, &b), 201);
    ans_clear(&b);
    assert_int_equal(a[0].nevents, 2);
    for (int i = 0; i < CL_CHAT_FOLLOWERS_MAX; i++) {
        assert_int_equal(a[i].status, 0);
        ans_clear(&a[i]);
    }
    struct cl_chat_call *again = req_on(f->api, "GET", "/events", NULL, NULL, &b);
    assert_non_null(again);
    cl_chat_api_cancel(f->api, again);
    ans_clear(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_capability_denied, setup, teardown),
        cmocka_unit_test_setup_teardown(test_routes_and_methods, setup, teardown),
        cmocka_unit_test_setup_teardown(test_files_capability_and_routes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_workspaces, setup, teardown),
        cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_messages_paging_and_bounds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_search, setup, teardown),
        cmocka_unit_test_setup_teardown(test_memory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_events_followers, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

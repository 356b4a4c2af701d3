/*
 * Unit tests for the relay's route tables (src/relay/http.c, api_*.c) and
 * the OpenAPI document built into the relay (docs/openapi.json):
 *   - every route names who may call it: a policy.c action, or "public" /
 *     "self";
 *   - the document describes exactly the routes the relay serves (same
 *     paths, same methods) and says the same policy for each, so the e2e
 *     policy matrix (tests/e2e/policy_matrix.test.mjs), which walks the
 *     document the relay serves, walks every route;
 *   - the chat routes are exactly the chat API's contract (docs/chat.md
 *     "Routes"), each with policy chat.use.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "relay/http.h"
#include "relay/policy.h"

/* "/api/v1/projects/:id" -> "/api/v1/projects/{id}" */
static void openapi_path(const char *pattern, char *out, size_t len)
{
    size_t o = 0;
    bool param = false;
    for (const char *p = pattern; *p && o + 2 < len; p++) {
        if (*p == ':') {
            out[o++] = '{';
            param = true;
        } else if (*p == '/' && param) {
            out[o++] = '}';
            out[o++] = '/';
            param = false;
        } else {
            out[o++] = *p;
        }
    }
    if (param)
        out[o++] = '}';
    out[o] = 0;
}

static void lower(const char *in, char *out, size_t len)
{
    size_t i = 0;
    for (; in[i] && i + 1 < len; i++)
        out[i] = (char)(in[i] >= 'A' && in[i] <= 'Z' ? in[i] + 32 : in[i]);
    out[i] = 0;
}

static json_t *load_spec(void)
{
    json_error_t e;
    json_t *spec = json_loadb((const char *)cl_openapi_json, cl_openapi_json_len, 0, &e);
    if (!spec)
        fail_msg("docs/openapi.json does not parse: %s (line %d)", e.text, e.line);
    return spec;
}

static void test_every_route_names_its_policy(void **state)
{
    size_t n = 0;
    (void)state;
    for (const struct cl_route *const *t = cl_http_route_tables; *t; t++) {
        for (const struct cl_route *r = *t; r->pattern; r++, n++) {
            if (r->policy != CL_ROUTE_PUBLIC && r->policy != CL_ROUTE_SELF &&
                (r->policy < 0 || r->policy >= CL_ACT__COUNT))
                fail_msg("%s %s: policy %d is neither an action nor public/self",
                         cl_http_method_name(r->method), r->pattern, r->policy);
            assert_non_null(r->fn);
            /* no route is listed twice */
            for (const struct cl_route *const *u = cl_http_route_tables; *u; u++)
                for (const struct cl_route *q = *u; q->pattern; q++)
                    if (q != r && q->method == r->method && strcmp(q->pattern, r->pattern) == 0)
                        fail_msg("%s %s is in the route tables twice",
                                 cl_http_method_name(r->method), r->pattern);
        }
    }
    assert_true(n >= 40);
}

/* Every route is in the document, with its policy and its security. */
static void test_every_route_is_in_openapi(void **state)
{
    json_t *spec = load_spec(), *paths = json_object_get(spec, "paths");
    char path[256], method[16];
    (void)state;
    assert_string_equal(json_string_value(json_object_get(spec, "openapi")), "3.1.0");
    assert_true(json_is_object(paths));
    for (const struct cl_route *const *t = cl_http_route_tables; *t; t++) {
        for (const struct cl_route *r = *t; r->pattern; r++) {
            json_t *op, *sec;
            const char *want = cl_route_policy_name(r->policy), *got;
            openapi_path(r->pattern, path, sizeof path);
            lower(cl_http_method_name(r->method), method, sizeof method);
            op = json_object_get(json_object_get(paths, path), method);
            if (!op)
                fail_msg("%s %s (route %s) is missing from docs/openapi.json",
                         cl_http_method_name(r->method), path, r->pattern);
            got = json_string_value(json_object_get(op, "x-clawlink-policy"));
            if (!got || strcmp(got, want) != 0)
                fail_msg("%s %s: x-clawlink-policy is %s, the route table says %s",
                         cl_http_method_name(r->method), path, got ? got : "(none)", want);
            sec = json_object_get(op, "security");
            if (!json_is_array(sec) ||
                (json_array_size(sec) == 0) != (r->policy == CL_ROUTE_PUBLIC))
                fail_msg("%s %s: security must be [] exactly when the route is public",
                         cl_http_method_name(r->method), path);
        }
    }
    json_decref(spec);
}

/* Every operation in the document is a route the relay serves. */
static void test_every_openapi_operation_is_served(void **state)
{
    json_t *spec = load_spec(), *paths = json_object_get(spec, "paths"), *item, *op;
    const char *path, *method;
    char pp[256], m[16];
    size_t ops = 0;
    (void)state;
    json_object_foreach(paths, path, item)
    {
        json_object_foreach(item, method, op)
        {
            bool found = false;
            if (strcmp(method, "parameters") == 0 || strcmp(method, "summary") == 0 ||
                strcmp(method, "description") == 0)
                continue;
            ops++;
            for (const struct cl_route *const *t = cl_http_route_tables; *t && !found; t++) {
                for (const struct cl_route *r = *t; r->pattern && !found; r++) {
                    openapi_path(r->pattern, pp, sizeof pp);
                    lower(cl_http_method_name(r->method), m, sizeof m);
                    found = strcmp(pp, path) == 0 && strcmp(m, method) == 0;
                }
            }
            if (!found)
                fail_msg("docs/openapi.json describes %s %s, which the relay does not serve",
                         method, path);
        }
    }
    assert_true(ops >= 40);
    json_decref(spec);
}

/* docs/chat.md "Routes", below /api/v1/devices/:id/chat: the relay lists
 * each (no catch-all), all with chat.use, and no other route under it. */
static void test_chat_routes_are_the_contract(void **state)
{
    static const struct {
        enum cl_http_method m;
        const char *path;
    } contract[] = {
        {CL_HTTP_GET, "/workspaces"},
        {CL_HTTP_POST, "/workspaces"},
        {CL_HTTP_PATCH, "/workspaces/:ws"},
        {CL_HTTP_DELETE, "/workspaces/:ws"},
        {CL_HTTP_GET, "/threads"},
        {CL_HTTP_POST, "/threads"},
        {CL_HTTP_GET, "/threads/:thread"},
        {CL_HTTP_PATCH, "/threads/:thread"},
        {CL_HTTP_DELETE, "/threads/:thread"},
        {CL_HTTP_GET, "/threads/:thread/messages"},
        {CL_HTTP_POST, "/threads/:thread/messages"},
        {CL_HTTP_POST, "/threads/:thread/stop"},
        {CL_HTTP_GET, "/search"},
        {CL_HTTP_GET, "/memory"},
        {CL_HTTP_POST, "/memory"},
        {CL_HTTP_GET, "/memory/search"},
        {CL_HTTP_DELETE, "/memory/:note"},
        {CL_HTTP_GET, "/events"},
        /* docs/chat.md "Files" */
        {CL_HTTP_GET, "/files"},
        {CL_HTTP_GET, "/files/stat"},
        {CL_HTTP_GET, "/files/content"},
        {CL_HTTP_PUT, "/files/content"},
        {CL_HTTP_POST, "/files/mkdir"},
    };
    static const char prefix[] = "/api/v1/devices/:id/chat";
    size_t n = sizeof contract / sizeof contract[0], found = 0;
    (void)state;
    for (const struct cl_route *const *t = cl_http_route_tables; *t; t++) {
        for (const struct cl_route *r = *t; r->pattern; r++) {
            bool listed = false;
            if (strncmp(r->pattern, prefix, sizeof prefix - 1) != 0)
                continue;
            for (size_t i = 0; i < n; i++)
                listed |= contract[i].m == r->method &&
                          strcmp(contract[i].path, r->pattern + sizeof prefix - 1) == 0;
            if (!listed)
                fail_msg("%s %s is not in the chat API's contract", cl_http_method_name(r->method),
                         r->pattern);
            if (r->policy != CL_ACT_CHAT)
                fail_msg("%s %s: policy %s, want chat.use", cl_http_method_name(r->method),
                         r->pattern, cl_route_policy_name(r->policy));
            found++;
        }
    }
    assert_int_equal(found, n);
}

static void test_openapi_path_conversion(void **state)
{
    char out[64];
    (void)state;
    openapi_path("/api/v1/projects/:id/members/:user_id", out, sizeof out);
    assert_string_equal(out, "/api/v1/projects/{id}/members/{user_id}");
    openapi_path("/api/v1/devices/:id", out, sizeof out);
    assert_string_equal(out, "/api/v1/devices/{id}");
    openapi_path("/healthz", out, sizeof out);
    assert_string_equal(out, "/healthz");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_openapi_path_conversion),
        cmocka_unit_test(test_every_route_names_its_policy),
        cmocka_unit_test(test_every_route_is_in_openapi),
        cmocka_unit_test(test_every_openapi_operation_is_served),
        cmocka_unit_test(test_chat_routes_are_the_contract),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

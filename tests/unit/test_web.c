/*
 * test_web: the web module's pure parts (src/relay/web.c): the embedded
 * tables and their ETags, content types, cache lifetimes, Accept-Encoding
 * and If-None-Match, which paths are pages, and --web-dir's confinement.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/err.h"
#include "relay/web.h"

static const unsigned char a_data[] = "alpha", b_data[] = "beta", c_data[] = "gamma";
static const struct cl_web_asset table[] = {
    {"/a.js", a_data, 5, NULL, 0, "00"},
    {"/assets/b-1.css", b_data, 4, NULL, 0, "01"},
    {"/index.html", c_data, 5, NULL, 0, "02"},
    {NULL, NULL, 0, NULL, 0, ""},
};

static void test_find(void **state)
{
    assert_ptr_equal(cl_web_find(table, 3, "/a.js"), &table[0]);
    assert_ptr_equal(cl_web_find(table, 3, "/assets/b-1.css"), &table[1]);
    assert_ptr_equal(cl_web_find(table, 3, "/index.html"), &table[2]);
    assert_null(cl_web_find(table, 3, "/"));
    assert_null(cl_web_find(table, 3, "/a.j"));
    assert_null(cl_web_find(table, 3, "/zzz"));
    assert_null(cl_web_find(table, 0, "/a.js"));
}

/* What the build embedded: sorted, and each ETag is what the relay
 * computes at run time for the same bytes (--web-dir). */
static void check_table(const struct cl_web_asset *t, size_t n)
{
    char etag[CL_WEB_ETAG_HEX + 1];
    for (size_t i = 0; i < n; i++) {
        assert_non_null(t[i].path);
        assert_int_equal(t[i].path[0], '/');
        if (i)
            assert_true(strcmp(t[i - 1].path, t[i].path) < 0);
        cl_web_etag(t[i].data, t[i].len, etag);
        assert_string_equal(t[i].etag, etag);
        if (t[i].gz) {
            assert_true(t[i].gz_len < t[i].len);
            assert_int_equal(t[i].gz[0], 0x1f); /* gzip magic */
            assert_int_equal(t[i].gz[1], 0x8b);
        }
        assert_ptr_equal(cl_web_find(t, n, t[i].path), &t[i]);
    }
    assert_null(t[n].path);
}

static void test_embedded_tables(void **state)
{
    const struct cl_web_asset *llms, *full;
    check_table(cl_web_app, cl_web_app_n);
    check_table(cl_web_docs, cl_web_docs_n);
    llms = cl_web_find(cl_web_docs, cl_web_docs_n, "/llms.txt");
    full = cl_web_find(cl_web_docs, cl_web_docs_n, "/llms-full.txt");
    assert_non_null(llms);
    assert_non_null(full);
    assert_true(full->len > llms->len);
    /* llms-full.txt starts with llms.txt and carries the docs after it */
    assert_memory_equal(full->data, llms->data, llms->len);
    assert_non_null(strstr((const char *)full->data, "/api/v1/openapi.json"));
    /* an embedded app always has its index.html */
    if (cl_web_app_n)
        assert_non_null(cl_web_find(cl_web_app, cl_web_app_n, "/index.html"));
}

static void test_content_type(void **state)
{
    assert_string_equal(cl_web_content_type("/index.html"), "text/html; charset=utf-8");
    assert_string_equal(cl_web_content_type("/assets/x-1.js"), "text/javascript; charset=utf-8");
    assert_string_equal(cl_web_content_type("/assets/x-1.CSS"), "text/css; charset=utf-8");
    assert_string_equal(cl_web_content_type("/favicon.svg"), "image/svg+xml");
    assert_string_equal(cl_web_content_type("/f.woff2"), "font/woff2");
    assert_string_equal(cl_web_content_type("/llms.txt"), "text/plain; charset=utf-8");
    assert_string_equal(cl_web_content_type("/x.png"), "image/png");
    assert_string_equal(cl_web_content_type("/x.wasm"), "application/wasm");
    assert_string_equal(cl_web_content_type("/noext"), "application/octet-stream");
    assert_string_equal(cl_web_content_type("/dir.js/noext"), "application/octet-stream");
    assert_string_equal(cl_web_content_type("/x."), "application/octet-stream");
    assert_string_equal(cl_web_content_type("/x.unknown"), "application/octet-stream");
}

static void test_cache_control(void **state)
{
    assert_string_equal(cl_web_cache_control("/assets/index-abc.js"), CL_WEB_CACHE_IMMUTABLE);
    assert_string_equal(cl_web_cache_control("/index.html"), CL_WEB_CACHE_REVALIDATE);
    assert_string_equal(cl_web_cache_control("/assetsx/a.js"), CL_WEB_CACHE_REVALIDATE);
    assert_string_equal(cl_web_cache_control("/llms.txt"), CL_WEB_CACHE_REVALIDATE);
}

static void test_accepts_gzip(void **state)
{
    assert_true(cl_web_accepts_gzip("gzip"));
    assert_true(cl_web_accepts_gzip("gzip, deflate, br"));
    assert_true(cl_web_accepts_gzip("br;q=1.0, gzip;q=0.8, *;q=0.1"));
    assert_true(cl_web_accepts_gzip("GZIP"));
    assert_true(cl_web_accepts_gzip("x-gzip"));
    assert_true(cl_web_accepts_gzip("*"));
    assert_true(cl_web_accepts_gzip("deflate,gzip"));
    assert_true(cl_web_accepts_gzip("gzip;q=0.001"));
    assert_true(cl_web_accepts_gzip(" gzip ; q=1"));
    assert_false(cl_web_accepts_gzip(NULL));
    assert_false(cl_web_accepts_gzip(""));
    assert_false(cl_web_accepts_gzip("identity"));
    assert_false(cl_web_accepts_gzip("br, deflate"));
    assert_false(cl_web_accepts_gzip("gzip;q=0"));
    assert_false(cl_web_accepts_gzip("gzip;q=0.000"));
    assert_false(cl_web_accepts_gzip("gzip; q=0, br"));
    assert_false(cl_web_accepts_gzip("*;q=0"));
    assert_false(cl_web_accepts_gzip("gzipx"));
    assert_false(cl_web_accepts_gzip("xgzip"));
    assert_false(cl_web_accepts_gzip(",,;;q=,"));
}

static void test_etag_matches(void **state)
{
    const char *e = "0123456789abcdef0123456789abcdef";
    assert_true(cl_web_etag_matches("\"0123456789abcdef0123456789abcdef\"", e));
    assert_true(cl_web_etag_matches("\"0123456789abcdef0123456789abcdef-gz\"", e));
    assert_true(cl_web_etag_matches("W/\"0123456789abcdef0123456789abcdef\"", e));
    assert_true(cl_web_etag_matches("\"x\", \"0123456789abcdef0123456789abcdef\"", e));
    assert_true(cl_web_etag_matches("*", e));
    assert_true(cl_web_etag_matches("junk, \"0123456789abcdef0123456789abcdef\"", e));
    assert_false(cl_web_etag_matches(NULL, e));
    assert_false(cl_web_etag_matches("", e));
    assert_false(cl_web_etag_matches("\"0123456789abcdef0123456789abcde\"", e));
    assert_false(cl_web_etag_matches("\"0123456789abcdef0123456789abcdef0\"", e));
    assert_false(cl_web_etag_matches("\"0123456789abcdef0123456789abcdef-br\"", e));
    assert_false(cl_web_etag_matches("0123456789abcdef0123456789abcdef", e));   /* unquoted */
    assert_false(cl_web_etag_matches("\"0123456789abcdef0123456789abcdef", e)); /* open */
    assert_false(cl_web_etag_matches("\"\"", e));
    assert_false(cl_web_etag_matches("\"x\"", ""));
}

static void test_etag_is_content_hash(void **state)
{
    char a[CL_WEB_ETAG_HEX + 1], b[CL_WEB_ETAG_HEX + 1], c[CL_WEB_ETAG_HEX + 1];
    cl_web_etag("hello", 5, a);
    cl_web_etag("hello", 5, b);
    cl_web_etag("hellp", 5, c);
    assert_int_equal(strlen(a), CL_WEB_ETAG_HEX);
    assert_string_equal(a, b);
    assert_string_not_equal(a, c);
    assert_int_equal(strspn(a, "0123456789abcdef"), CL_WEB_ETAG_HEX);
}

static void test_pages_and_reserved(void **state)
{
    static const char *const pages[] = {
        "/",         "/auth",        "/reset-password", "/docs",         "/dashboard",
        "/settings", "/project/abc", "/device/x-y",     "/terminal/a/b", "/whatever/else",
        "/apix",     "/eventsx",
    };
    static const char *const not_pages[] = {
        "/api",     "/api/v1/nope", "/functions/v1/x", "/connect",  "/session",     "/events",
        "/healthz", "/favicon.svg", "/assets/a-1.js",  "/llms.txt", "/project/a.b", "relative",
    };
    for (size_t i = 0; i < sizeof pages / sizeof pages[0]; i++)
        if (!cl_web_is_page(pages[i]))
            fail_msg("%s should be a page", pages[i]);
    for (size_t i = 0; i < sizeof not_pages / sizeof not_pages[0]; i++)
        if (cl_web_is_page(not_pages[i]))
            fail_msg("%s should not be a page", not_pages[i]);
    assert_true(cl_web_is_reserved("/api/v1/openapi.json"));
    assert_true(cl_web_is_reserved("/session"));
    assert_true(cl_web_is_reserved("/functions"));
    assert_false(cl_web_is_reserved("/"));
    assert_false(cl_web_is_reserved("/sessions"));
    assert_false(cl_web_is_reserved("/llms.txt"));
}

/* The router's matching (web/src/router.ts), and the routes read from
 * web/src/main.ts at build time. */
static void test_app_routes(void **state)
{
    assert_true(cl_web_route_match("/", "/"));
    assert_true(cl_web_route_match("/", "//"));
    assert_false(cl_web_route_match("/", "/x"));
    assert_true(cl_web_route_match("/dashboard", "/dashboard"));
    assert_true(cl_web_route_match("/dashboard", "/dashboard/"));
    assert_true(cl_web_route_match("/dashboard", "//dashboard"));
    assert_false(cl_web_route_match("/dashboard", "/dashboardx"));
    assert_false(cl_web_route_match("/dashboard", "/dash"));
    assert_false(cl_web_route_match("/dashboard", "/dashboard/x"));
    assert_true(cl_web_route_match("/project/:id", "/project/abc"));
    assert_false(cl_web_route_match("/project/:id", "/project"));
    assert_false(cl_web_route_match("/project/:id", "/project/"));
    assert_false(cl_web_route_match("/project/:id", "/project/a/b"));
    assert_true(cl_web_route_match("/terminal/:d/:s", "/terminal/a/b"));
    assert_false(cl_web_route_match("/terminal/:d/:s", "/terminal/a"));

    assert_true(cl_web_routes_n >= 8);
    assert_null(cl_web_routes[cl_web_routes_n]);
    for (size_t i = 0; i < cl_web_routes_n; i++) {
        assert_int_equal(cl_web_routes[i][0], '/');
        if (strcmp(cl_web_routes[i], "*") == 0)
            fail_msg("the catch-all is not a route the relay answers 200 for");
    }
    assert_true(cl_web_is_app_route("/"));
    assert_true(cl_web_is_app_route("/dashboard"));
    assert_true(cl_web_is_app_route("/terminal/dev/sess"));
    assert_false(cl_web_is_app_route("/no/such/page"));
    assert_false(cl_web_is_app_route("/wp-login"));
}

/* A --web-dir tree: root/{index.html, assets/a.js, .hidden, sub/},
 * root/out -> outside dir, root/leak -> outside file. */
struct tree {
    char base[64], root[512], outside[512];
};

static void put(const char *dir, const char *name, const char *text)
{
    char p[PATH_MAX + 64];
    FILE *f;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int tree_setup(void **state)
{
    struct tree *t = calloc(1, sizeof *t);
    char p[PATH_MAX + 64], real[PATH_MAX];
    snprintf(t->base, sizeof t->base, "/tmp/test_web.XXXXXX");
    if (!t || !mkdtemp(t->base))
        return -1;
    if (!realpath(t->base, real))
        return -1;
    snprintf(t->root, sizeof t->root, "%.400s/root", real);
    snprintf(t->outside, sizeof t->outside, "%.400s/outside", real);
    mkdir(t->root, 0700);
    mkdir(t->outside, 0700);
    snprintf(p, sizeof p, "%s/assets", t->root);
    mkdir(p, 0700);
    snprintf(p, sizeof p, "%s/sub", t->root);
    mkdir(p, 0700);
    put(t->root, "index.html", "<!doctype html>");
    put(t->root, "assets/a.js", "1;");
    put(t->root, ".hidden", "no");
    put(t->outside, "secret.txt", "secret");
    snprintf(p, sizeof p, "%s/out", t->root);
    if (symlink(t->outside, p))
        return -1;
    snprintf(p, sizeof p, "%s/leak.txt", t->root);
    snprintf(real, sizeof real, "%s/secret.txt", t->outside);
    if (symlink(real, p))
        return -1;
    snprintf(p, sizeof p, "%s/in.js", t->root);
    snprintf(real, sizeof real, "%s/assets/a.js", t->root);
    if (symlink(real, p))
        return -1;
    snprintf(p, sizeof p, "%sx", t->root);
    mkdir(p, 0700);
    put(p, "sib.txt", "sibling");
    snprintf(real, sizeof real, "%sx/sib.txt", t->root);
    snprintf(p, sizeof p, "%s/sib.txt", t->root);
    if (symlink(real, p))
        return -1;
    *state = t;
    return 0;
}

static int tree_teardown(void **state)
{
    struct tree *t = *state;
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", t->base);
    if (system(cmd) != 0)
        return -1;
    free(t);
    return 0;
}

static void test_dir_resolve(void **state)
{
    struct tree *t = *state;
    char out[PATH_MAX], want[PATH_MAX + 32];

    assert_int_equal(cl_web_dir_resolve(t->root, "/", out, sizeof out), 0);
    snprintf(want, sizeof want, "%s/index.html", t->root);
    assert_string_equal(out, want);
    assert_int_equal(cl_web_dir_resolve(t->root, "/assets/a.js", out, sizeof out), 0);
    snprintf(want, sizeof want, "%s/assets/a.js", t->root);
    assert_string_equal(out, want);
    /* a symlink that stays inside is followed */
    assert_int_equal(cl_web_dir_resolve(t->root, "/in.js", out, sizeof out), 0);
    assert_string_equal(out, want);

    assert_int_equal(cl_web_dir_resolve(t->root, "/nope.js", out, sizeof out), CL_ENOTFOUND);
    assert_int_equal(cl_web_dir_resolve(t->root, "/sub", out, sizeof out), CL_ENOTFOUND);
    assert_int_equal(cl_web_dir_resolve(t->root, "/index.html/x", out, sizeof out), CL_ENOTFOUND);
    /* out of the directory: by symlink */
    assert_int_equal(cl_web_dir_resolve(t->root, "/leak.txt", out, sizeof out), CL_EFORBIDDEN);
    assert_int_equal(cl_web_dir_resolve(t->root, "/out/secret.txt", out, sizeof out),
                     CL_EFORBIDDEN);
    /* by the path itself */
    assert_int_equal(cl_web_dir_resolve(t->root, "/../outside/secret.txt", out, sizeof out),
                     CL_EINVAL);
    assert_int_equal(
        cl_web_dir_resolve(t->root, "/assets/../../outside/secret.txt", out, sizeof out),
        CL_EINVAL);
    assert_int_equal(cl_web_dir_resolve(t->root, "/assets/..", out, sizeof out), CL_EINVAL);
    assert_int_equal(cl_web_dir_resolve(t->root, "/./index.html", out, sizeof out), CL_EINVAL);
    assert_int_equal(cl_web_dir_resolve(t->root, "/.hidden", out, sizeof out), CL_EINVAL);
    assert_int_equal(cl_web_dir_resolve(t->root, "//etc/passwd", out, sizeof out), CL_EINVAL);
    assert_int_equal(cl_web_dir_resolve(t->root, "/assets/", out, sizeof out), CL_EINVAL);
    assert_int_equal(cl_web_dir_resolve(t->root, "/a\\..\\b", out, sizeof out), CL_EINVAL);
    assert_int_equal(cl_web_dir_resolve(t->root, "/a\nb", out, sizeof out), CL_EINVAL);
    assert_int_equal(cl_web_dir_resolve(t->root, "index.html", out, sizeof out), CL_EINVAL);
    /* a sibling whose name starts with the root's ("root" / "rootx") */
    assert_int_equal(cl_web_dir_resolve(t->root, "/sib.txt", out, sizeof out), CL_EFORBIDDEN);
    /* an answer that does not fit */
    assert_int_equal(cl_web_dir_resolve(t->root, "/", out, 8), CL_EINVAL);
}

static void test_read_file(void **state)
{
    struct tree *t = *state;
    char p[PATH_MAX + 32];
    unsigned char *data = NULL;
    size_t len = 0;
    snprintf(p, sizeof p, "%s/index.html", t->root);
    assert_int_equal(cl_web_read_file(p, CL_WEB_FILE_MAX, &data, &len), 0);
    assert_int_equal(len, 15);
    assert_memory_equal(data, "<!doctype html>", 15);
    free(data);
    assert_int_equal(cl_web_read_file(p, 14, &data, &len), CL_ELIMIT);
    assert_int_equal(cl_web_read_file(p, 15, &data, &len), 0);
    free(data);
    snprintf(p, sizeof p, "%s/none", t->root);
    assert_int_equal(cl_web_read_file(p, CL_WEB_FILE_MAX, &data, &len), CL_ENOTFOUND);
    snprintf(p, sizeof p, "%s/sub", t->root);
    assert_int_equal(cl_web_read_file(p, CL_WEB_FILE_MAX, &data, &len), CL_ENOTFOUND);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_find),
        cmocka_unit_test(test_embedded_tables),
        cmocka_unit_test(test_content_type),
        cmocka_unit_test(test_cache_control),
        cmocka_unit_test(test_accepts_gzip),
        cmocka_unit_test(test_etag_matches),
        cmocka_unit_test(test_etag_is_content_hash),
        cmocka_unit_test(test_pages_and_reserved),
        cmocka_unit_test(test_app_routes),
        cmocka_unit_test_setup_teardown(test_dir_resolve, tree_setup, tree_teardown),
        cmocka_unit_test_setup_teardown(test_read_file, tree_setup, tree_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Unit tests for src/relay/metrics.c: the exposition writer (label
 * escaping, cumulative histogram buckets ending in +Inf with _sum and
 * _count, the bounded buffer), the HTTP and store registries, and the
 * rate limiters' refusal counts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/err.h"
#include "relay/metrics.h"
#include "relay/ratelimit.h"
#include "relay/store_metrics.h"

static void assert_contains(const char *text, const char *want)
{
    if (!strstr(text, want))
        fail_msg("missing from the exposition: %s\n--- text ---\n%s", want, text);
}

static void test_label_escaping(void **state)
{
    struct cl_mbuf b = {.max = 4096};
    cl_mbuf_label(&b, "a\\b\"c\nd");
    cl_mbuf_printf(&b, "|");
    cl_mbuf_label(&b, "plain");
    assert_false(b.overflow);
    assert_string_equal(b.buf, "a\\\\b\\\"c\\nd|plain");
    free(b.buf);
}

static void test_histogram_cumulative(void **state)
{
    static const double bounds[] = {0.1, 1, 10};
    struct cl_histogram h;
    struct cl_mbuf b = {.max = 4096};
    const char *const labels[1][2] = {{"op", "x\"y"}};
    memset(&h, 0, sizeof h);
    cl_histogram_observe(&h, bounds, 3, 0.05); /* <= 0.1 */
    cl_histogram_observe(&h, bounds, 3, 0.1);  /* le is inclusive */
    cl_histogram_observe(&h, bounds, 3, 5);    /* <= 10 */
    cl_histogram_observe(&h, bounds, 3, 50);   /* +Inf only */
    cl_mbuf_histogram(&b, "t_seconds", labels, 1, &h, bounds, 3);
    assert_false(b.overflow);
    assert_string_equal(b.buf, "t_seconds_bucket{op=\"x\\\"y\",le=\"0.1\"} 2\n"
                               "t_seconds_bucket{op=\"x\\\"y\",le=\"1\"} 2\n"
                               "t_seconds_bucket{op=\"x\\\"y\",le=\"10\"} 3\n"
                               "t_seconds_bucket{op=\"x\\\"y\",le=\"+Inf\"} 4\n"
                               "t_seconds_sum{op=\"x\\\"y\"} 55.15\n"
                               "t_seconds_count{op=\"x\\\"y\"} 4\n");
    free(b.buf);
}

static void test_histogram_without_labels(void **state)
{
    static const double bounds[] = {1};
    struct cl_histogram h;
    struct cl_mbuf b = {.max = 4096};
    memset(&h, 0, sizeof h);
    cl_mbuf_histogram(&b, "e", NULL, 0, &h, bounds, 1);
    assert_string_equal(b.buf,
                        "e_bucket{le=\"1\"} 0\ne_bucket{le=\"+Inf\"} 0\ne_sum 0\ne_count 0\n");
    free(b.buf);
}

static void test_buffer_is_bounded(void **state)
{
    struct cl_mbuf b = {.max = 64};
    for (int i = 0; i < 100; i++)
        cl_mbuf_printf(&b, "0123456789");
    assert_true(b.overflow);
    assert_true(b.len < 64);
    assert_true(b.cap <= 64);
    free(b.buf);
}

static void test_exposition(void **state)
{
    struct cl_metrics_gauges g;
    struct cl_ratelimit *rl = cl_ratelimit_new(1, 60);
    char *text;
    size_t len;

    cl_metrics_init();
    memset(&g, 0, sizeof g);
    g.conns[CL_KIND_AGENT] = 2;
    g.open_fds = 7;
    g.max_fds = 1024;
    g.rss_bytes = -1; /* unknown: left out */
    cl_metrics.fwd_bytes[CL_DIR_AGENT_TO_VIEWERS] = 12345;
    cl_metrics.rejected[CL_REJECT_PER_ADDR] = 3;
    cl_metrics_http("/api/v1/projects/:id", "GET", 200, 0.002);
    cl_metrics_http("/api/v1/projects/:id", "GET", 404, 0.002);
    cl_metrics_http("/api/v1/projects/:id", "GET", 418, 0.002); /* not listed: its class */
    cl_metrics_http("none", "POST", 404, 20);
    cl_metrics_store(3, "user_by_id", 0.0002);
    cl_metrics_limiter("pair_addr", rl);
    assert_true(cl_ratelimit_hit(rl, "a", 100, NULL));
    assert_false(cl_ratelimit_hit(rl, "a", 100, NULL));
    assert_false(cl_ratelimit_hit(rl, "a", 101, NULL));

    assert_int_equal(cl_metrics_write(&cl_metrics, &g, &text, &len), 0);
    assert_int_equal(strlen(text), len);
    assert_contains(text, "# TYPE clawlink_connections gauge\n");
    assert_contains(text, "clawlink_connections{kind=\"agent\"} 2\n");
    assert_contains(text, "process_open_fds 7\n");
    assert_true(strstr(text, "process_resident_memory_bytes") == NULL);
    assert_contains(text, "clawlink_forwarded_bytes_total{direction=\"agent_to_viewers\"} 12345\n");
    assert_contains(text, "clawlink_connections_rejected_total{reason=\"per_addr\"} 3\n");
    assert_contains(text, "clawlink_http_requests_total{route=\"/api/v1/projects/:id\",method="
                          "\"GET\",code=\"200\"} 1\n");
    assert_contains(text, "clawlink_http_requests_total{route=\"/api/v1/projects/:id\",method="
                          "\"GET\",code=\"4xx\"} 1\n");
    assert_contains(text, "clawlink_http_requests_total{route=\"none\",method=\"POST\",code="
                          "\"404\"} 1\n");
    assert_contains(text, "clawlink_http_request_duration_seconds_bucket{route=\"none\",method="
                          "\"POST\",le=\"10\"} 0\n");
    assert_contains(text, "clawlink_http_request_duration_seconds_bucket{route=\"none\",method="
                          "\"POST\",le=\"+Inf\"} 1\n");
    assert_contains(text, "clawlink_http_request_duration_seconds_count{route=\"/api/v1/projects/"
                          ":id\",method=\"GET\"} 3\n");
    assert_contains(text, "clawlink_store_operation_duration_seconds_bucket{op=\"user_by_id\",le="
                          "\"0.00025\"} 1\n");
    assert_contains(text, "clawlink_ratelimit_refusals_total{limiter=\"pair_addr\"} 2\n");
    /* every family says its type once; counters end in _total */
    assert_contains(text, "# TYPE clawlink_gaps_total counter\n");
    free(text);
    cl_ratelimit_free(rl);
    cl_metrics_init();
}

static void test_http_slots_bounded(void **state)
{
    static char routes[CL_METRICS_HTTP_SLOTS + 10][16];
    cl_metrics_init();
    for (int i = 0; i < CL_METRICS_HTTP_SLOTS + 10; i++) {
        snprintf(routes[i], sizeof routes[i], "/r%d", i);
        cl_metrics_http(routes[i], "GET", 200, 0.001);
    }
    assert_int_equal(cl_metrics.http_n, CL_METRICS_HTTP_SLOTS);
    assert_string_equal(cl_metrics.http[CL_METRICS_HTTP_SLOTS - 1].route, "other");
    assert_int_equal(cl_metrics.http[CL_METRICS_HTTP_SLOTS - 1].latency.count, 11);
    cl_metrics_init();
}

/* The timing table passes calls through to the backend and times each
 * operation under its name. */
static void test_store_wrapper_times_operations(void **state)
{
    struct cl_store s;
    char dir[] = "/tmp/cl-metrics-XXXXXX", err[256], cmd[64];
    int64_t n = -1;
    struct cl_user u;
    assert_non_null(mkdtemp(dir));
    assert_int_equal(cl_store_open_sqlite(&s, dir, err, sizeof err), 0);
    cl_metrics_init();
    cl_store_metrics_wrap(&s);
    assert_int_equal(s.ops->user_count(&s, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(s.ops->user_by_email(&s, "nobody@example.com", &u), CL_ENOTFOUND);
    assert_int_equal(s.ops->user_by_email(&s, "nobody@example.com", &u), CL_ENOTFOUND);
    size_t seen = 0;
    for (size_t op = 0; op < CL_METRICS_STORE_OPS; op++) {
        if (!cl_metrics.store_names[op])
            continue;
        seen++;
        if (strcmp(cl_metrics.store_names[op], "user_count") == 0)
            assert_int_equal(cl_metrics.store[op].count, 1);
        else if (strcmp(cl_metrics.store_names[op], "user_by_email") == 0)
            assert_int_equal(cl_metrics.store[op].count, 2);
        else
            fail_msg("unexpected op %s", cl_metrics.store_names[op]);
    }
    assert_int_equal(seen, 2);
    s.ops->close(&s); /* frees the table too (ASan: no leak) */
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    cl_metrics_init();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_label_escaping),
        cmocka_unit_test(test_histogram_cumulative),
        cmocka_unit_test(test_histogram_without_labels),
        cmocka_unit_test(test_buffer_is_bounded),
        cmocka_unit_test(test_exposition),
        cmocka_unit_test(test_http_slots_bounded),
        cmocka_unit_test(test_store_wrapper_times_operations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Unit tests for src/relay/pending.c, the list of requests the relay waits
 * on from agents (node and chat requests): ids that never repeat, lookups
 * by answer and by handle, and a sweep that runs while anything is pending
 * and stops with the last request, on a real libuv loop.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "relay/pending.h"

struct owner {
    struct cl_pending p;
    int ticks;
    int expired;
    char expired_ids[4][CL_ID_MAX + 1];
    bool closed;
};

/* The owner's rule here: a request whose deadline passed is removed. */
static void tick(void *o, struct cl_pending_req *r, uint64_t now)
{
    struct owner *w = o;
    w->ticks++;
    if (now < r->deadline)
        return;
    snprintf(w->expired_ids[w->expired % 4], sizeof w->expired_ids[0], "%s", r->request_id);
    w->expired++;
    cl_pending_remove(&w->p, r);
}

static void closed(void *o)
{
    ((struct owner *)o)->closed = true;
}

static int setup(void **state)
{
    (void)state;
    return sodium_init() < 0 ? -1 : 0;
}

static void test_ids_and_lookups(void **state)
{
    uv_loop_t loop;
    struct owner a = {0}, b = {0};
    struct cl_pending_req r1 = {0}, r2 = {0}, r3 = {0}, other = {0};
    (void)state;
    uv_loop_init(&loop);
    cl_pending_init(&a.p, &loop, "rq", tick, &a);
    cl_pending_init(&b.p, &loop, "rq", tick, &b);

    cl_pending_prepare(&a.p, &r1, "dev-1", 1000);
    cl_pending_prepare(&a.p, &r2, "dev-1", 1000);
    cl_pending_prepare(&a.p, &r3, "dev-2", 1000);
    cl_pending_prepare(&b.p, &other, "dev-1", 1000);
    assert_int_equal(r1.handle, 1);
    assert_int_equal(r2.handle, 2);
    assert_int_equal(r3.handle, 3);
    /* "rq-<16 hex>-<n>", the prefix random per list */
    assert_int_equal(strlen(r1.request_id), 3 + 16 + 2);
    assert_memory_equal(r1.request_id, "rq-", 3);
    assert_string_equal(r1.request_id + 19, "-1");
    assert_memory_equal(r1.request_id, r2.request_id, 19);
    assert_memory_not_equal(r1.request_id, other.request_id, 19);
    assert_string_equal(r3.device_id, "dev-2");

    /* prepared is not pending: a send that failed leaves nothing behind */
    assert_false(cl_pending_any(&a.p));
    assert_null(cl_pending_find(&a.p, "dev-1", r1.request_id));
    assert_false(uv_is_active((uv_handle_t *)&a.p.timer));

    cl_pending_link(&a.p, &r1);
    cl_pending_link(&a.p, &r2);
    cl_pending_link(&a.p, &r3);
    assert_true(uv_is_active((uv_handle_t *)&a.p.timer));
    assert_ptr_equal(cl_pending_find(&a.p, "dev-1", r2.request_id), &r2);
    /* an answer names its request and comes from the device it was sent to */
    assert_null(cl_pending_find(&a.p, "dev-2", r2.request_id));
    assert_null(cl_pending_find(&a.p, "dev-1", other.request_id));
    assert_ptr_equal(cl_pending_by_handle(&a.p, 3), &r3);
    assert_null(cl_pending_by_handle(&a.p, 4));
    assert_int_equal(cl_pending_count(&a.p, "dev-1"), 2);
    assert_int_equal(cl_pending_count(&a.p, "dev-2"), 1);
    assert_int_equal(cl_pending_count(&a.p, "dev-3"), 0);

    /* failing all of a device's requests, one at a time */
    int n = 0;
    for (struct cl_pending_req *r; (r = cl_pending_first_of(&a.p, "dev-1")); n++)
        cl_pending_remove(&a.p, r);
    assert_int_equal(n, 2);
    assert_int_equal(cl_pending_count(&a.p, "dev-1"), 0);
    assert_ptr_equal(cl_pending_first(&a.p), &r3);
    cl_pending_remove(&a.p, &r1); /* not linked any more: nothing happens */
    assert_ptr_equal(cl_pending_first(&a.p), &r3);
    assert_true(uv_is_active((uv_handle_t *)&a.p.timer));
    cl_pending_remove(&a.p, &r3); /* the last: the sweep stops */
    assert_false(cl_pending_any(&a.p));
    assert_false(uv_is_active((uv_handle_t *)&a.p.timer));

    cl_pending_close(&a.p, closed);
    cl_pending_close(&b.p, closed);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_true(a.closed && b.closed);
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_sweep_runs_while_pending(void **state)
{
    uv_loop_t loop;
    struct owner w = {0};
    struct cl_pending_req soon = {0}, later = {0};
    uint64_t t0;
    (void)state;
    uv_loop_init(&loop);
    cl_pending_init(&w.p, &loop, "ch", tick, &w);
    cl_pending_prepare(&w.p, &soon, "dev", 0);
    cl_pending_prepare(&w.p, &later, "dev", 3 * CL_PENDING_SWEEP_MS / 2);
    cl_pending_link(&w.p, &soon);
    cl_pending_link(&w.p, &later);
    t0 = uv_now(&loop);

    /* returns only once the sweep stopped itself: nothing left pending */
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_false(cl_pending_any(&w.p));
    assert_int_equal(w.expired, 2);
    assert_string_equal(w.expired_ids[0], soon.request_id);
    assert_string_equal(w.expired_ids[1], later.request_id);
    assert_true(uv_now(&loop) - t0 >= 3 * CL_PENDING_SWEEP_MS / 2);
    /* one look per request per sweep: the first sweep saw both, the
     * second the later one (unless a slow machine held the first sweep
     * past the later deadline too) */
    assert_in_range(w.ticks, 2, 3);

    cl_pending_close(&w.p, closed);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_true(w.closed);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ids_and_lookups),
        cmocka_unit_test(test_sweep_runs_while_pending),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}

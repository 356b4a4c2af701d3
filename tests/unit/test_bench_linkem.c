/*
 * Unit tests for the bench's link emulator schedule (bench/linkem.h): the
 * one-way delay, serialisation at the rate cap behind what the line
 * already carries, in-order delivery, the backlog that pauses a sender,
 * and stalls drawn per MB (deterministic per seed, about as often as
 * asked for, each one round trip long by default).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "linkem.h"

#define MS 1000000ull /* ns */

/* No rate cap: every byte arrives exactly one delay after it was given. */
static void test_delay_only(void **state)
{
    struct linkem_opts o = {.delay_ms = 40};
    struct linkem_line l;
    (void)state;
    linkem_line_init(&l, &o, 0);
    assert_int_equal(linkem_line_due(&l, 1000 * MS, 100), 1040 * MS);
    assert_int_equal(linkem_line_due(&l, 1000 * MS, 1 << 20), 1040 * MS);
    assert_int_equal(linkem_line_due(&l, 1005 * MS, 1), 1045 * MS);
    assert_int_equal(linkem_line_backlog(&l, 1005 * MS), 0);
}

/* 10 MB/s: 1 MB takes 100 ms to send; a second MB given at once goes
 * behind it; a byte given after the line went idle goes at once. */
static void test_rate_serialises(void **state)
{
    struct linkem_opts o = {.delay_ms = 10, .rate_mbs = 10};
    struct linkem_line l;
    (void)state;
    linkem_line_init(&l, &o, 0);
    assert_int_equal(linkem_line_due(&l, 0, 1000000), 110 * MS);
    assert_int_equal(linkem_line_due(&l, 0, 1000000), 210 * MS);
    assert_int_equal(linkem_line_backlog(&l, 50 * MS), 150 * MS);
    assert_int_equal(linkem_line_backlog(&l, 300 * MS), 0);
    /* 10 bytes at 10 MB/s: 1 us */
    assert_int_equal(linkem_line_due(&l, 500 * MS, 10), 500 * MS + 1000 + 10 * MS);
}

/* Arrival times never go backwards, whatever the sizes and gaps. */
static void test_in_order(void **state)
{
    struct linkem_opts o = {.delay_ms = 75, .rate_mbs = 25, .stall_per_mb = 0.3};
    struct linkem_line l;
    uint64_t now = 0, last = 0;
    (void)state;
    linkem_line_init(&l, &o, 7);
    for (int i = 0; i < 5000; i++) {
        size_t n = (size_t)(i * 7919 % 65536) + 1;
        uint64_t due = linkem_line_due(&l, now, n);
        assert_true(due >= last);
        assert_true(due >= now + 75 * MS);
        last = due;
        now += (uint64_t)(i % 3) * MS;
    }
}

/* Stalls: one draw per MB; with p = 0.25 over 400 MB about 100 stalls,
 * each of one round trip (2 x delay) unless stall_ms says otherwise; the
 * same seed gives the same stalls. */
static void test_stalls(void **state)
{
    struct linkem_opts o = {.delay_ms = 40, .stall_per_mb = 0.25, .seed = 3};
    struct linkem_line a, b;
    uint64_t da = 0, db = 0;
    (void)state;
    linkem_line_init(&a, &o, 1);
    linkem_line_init(&b, &o, 1);
    for (int i = 0; i < 400; i++) {
        da = linkem_line_due(&a, 0, 1000000);
        db = linkem_line_due(&b, 0, 1000000);
    }
    assert_int_equal(da, db);
    assert_true(a.stalls >= 60 && a.stalls <= 140);
    /* no rate cap: the arrival is the stalls' time plus one delay */
    assert_int_equal(da, a.stalls * 80 * MS + 40 * MS);

    o.stall_ms = 5;
    linkem_line_init(&a, &o, 1);
    for (int i = 0; i < 400; i++)
        da = linkem_line_due(&a, 0, 1000000);
    assert_int_equal(da, a.stalls * 5 * MS + 40 * MS);

    /* less than a MB carried: no draw yet */
    o.stall_per_mb = 1;
    linkem_line_init(&a, &o, 1);
    assert_int_equal(linkem_line_due(&a, 0, 999999), 40 * MS);
    assert_int_equal(linkem_line_due(&a, 0, 1), 45 * MS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_delay_only),
        cmocka_unit_test(test_rate_serialises),
        cmocka_unit_test(test_in_order),
        cmocka_unit_test(test_stalls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

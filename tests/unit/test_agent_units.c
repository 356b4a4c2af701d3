/*
 * Unit tests for src/agent/units.c: byte sizes with K/M suffixes and whole
 * seconds for the agent's `up` flags — accepted forms, rejected forms,
 * bounds and overflow.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "agent/units.h"
#include "core/err.h"

#define KiB 1024ull
#define MiB (1024ull * 1024ull)

static void test_bytes_accepted(void **state)
{
    static const struct {
        const char *in;
        uint64_t want;
    } cases[] = {
        {"65536", 65536},      {"64K", 64 * KiB},   {"64k", 64 * KiB}, {"64KiB", 64 * KiB},
        {"2M", 2 * MiB},       {"2m", 2 * MiB},     {"2MiB", 2 * MiB}, {"256M", 256 * MiB},
        {"1024K", 1024 * KiB}, {"0064K", 64 * KiB},
    };
    char err[128];
    uint64_t v;
    (void)state;

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        v = 0;
        assert_int_equal(
            cl_agent_parse_bytes(cases[i].in, 64 * KiB, 256 * MiB, &v, err, sizeof err), 0);
        assert_int_equal(v, cases[i].want);
    }
}

static void test_bytes_rejected(void **state)
{
    static const char *bad[] = {"",    "K",   "-1",   "+5",   " 5",   "5 ",  "5G",   "5KB",
                                "5Ki", "5MB", "0x10", "1.5M", "5Kib", "abc", "5MiBs"};
    char err[128];
    uint64_t v = 7;
    (void)state;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = 0;
        assert_int_equal(cl_agent_parse_bytes(bad[i], 0, UINT64_MAX, &v, err, sizeof err),
                         CL_EINVAL);
        assert_non_null(strstr(err, "not a size"));
    }
    assert_int_equal(v, 7); /* untouched on failure */
}

static void test_bytes_bounds(void **state)
{
    char err[128];
    uint64_t v = 7;
    (void)state;

    assert_int_equal(cl_agent_parse_bytes("63K", 64 * KiB, 256 * MiB, &v, err, sizeof err),
                     CL_ELIMIT);
    assert_non_null(strstr(err, "out of range"));
    assert_int_equal(cl_agent_parse_bytes("65535", 64 * KiB, 256 * MiB, &v, err, sizeof err),
                     CL_ELIMIT);
    assert_int_equal(cl_agent_parse_bytes("257M", 64 * KiB, 256 * MiB, &v, err, sizeof err),
                     CL_ELIMIT);
    assert_int_equal(cl_agent_parse_bytes("268435457", 64 * KiB, 256 * MiB, &v, err, sizeof err),
                     CL_ELIMIT);
    /* overflow of the digits and of the multiplication */
    assert_int_equal(
        cl_agent_parse_bytes("99999999999999999999999", 0, UINT64_MAX, &v, err, sizeof err),
        CL_ELIMIT);
    assert_int_equal(
        cl_agent_parse_bytes("18446744073709551615M", 0, UINT64_MAX, &v, err, sizeof err),
        CL_ELIMIT);
    assert_int_equal(v, 7);
    /* the bounds themselves are in range */
    assert_int_equal(cl_agent_parse_bytes("64K", 64 * KiB, 256 * MiB, &v, err, sizeof err), 0);
    assert_int_equal(cl_agent_parse_bytes("256M", 64 * KiB, 256 * MiB, &v, err, sizeof err), 0);
}

static void test_seconds(void **state)
{
    static const char *bad[] = {"", "-1", "1s", "1.5", " 1", "1 ", "0x2", "+3", "abc"};
    char err[128];
    uint64_t v = 7;
    (void)state;

    assert_int_equal(cl_agent_parse_seconds("0", 0, 100, &v, err, sizeof err), 0);
    assert_int_equal(v, 0);
    assert_int_equal(cl_agent_parse_seconds("1800", 0, 1800, &v, err, sizeof err), 0);
    assert_int_equal(v, 1800);
    assert_int_equal(cl_agent_parse_seconds("0", 1, 100, &v, err, sizeof err), CL_ELIMIT);
    assert_non_null(strstr(err, "out of range"));
    assert_int_equal(cl_agent_parse_seconds("101", 1, 100, &v, err, sizeof err), CL_ELIMIT);
    assert_int_equal(cl_agent_parse_seconds("99999999999999999999999", 0, 100, &v, err, sizeof err),
                     CL_ELIMIT);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(cl_agent_parse_seconds(bad[i], 0, 100, &v, err, sizeof err), CL_EINVAL);
    assert_int_equal(v, 1800);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bytes_accepted),
        cmocka_unit_test(test_bytes_rejected),
        cmocka_unit_test(test_bytes_bounds),
        cmocka_unit_test(test_seconds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

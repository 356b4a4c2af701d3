/*
 * Unit tests for src/core/urlq.c: a query string rebuilt from lws's
 * decoded parts keeps every name and value (reserved characters, '&', '=',
 * spaces, UTF-8 encoded again), and never overruns its buffer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/err.h"
#include "core/urlq.h"

static void add(char *out, size_t cap, size_t *n, const char *part)
{
    assert_int_equal(cl_urlq_add(out, cap, n, part, strlen(part)), 0);
}

static void test_parts_joined_and_encoded(void **state)
{
    char q[256] = "";
    size_t n = 0;
    (void)state;
    add(q, sizeof q, &n, "limit=5");
    add(q, sizeof q, &n, "cursor=a&b c+d");
    add(q, sizeof q, &n, "q=caf\xc3\xa9 x=y");
    add(q, sizeof q, &n, "flag");
    add(q, sizeof q, &n, "");
    add(q, sizeof q, &n, "=v");
    assert_string_equal(q, "limit=5&cursor=a%26b%20c%2Bd&q=caf%C3%A9%20x%3Dy&flag&=v");
    assert_int_equal(n, strlen(q));
}

static void test_bounds(void **state)
{
    char q[12];
    size_t n = 0;
    (void)state;
    assert_int_equal(cl_urlq_add(q, sizeof q, &n, "a=bcdefgh", 9), 0); /* 9 + NUL fits */
    assert_int_equal(cl_urlq_add(q, sizeof q, &n, "x", 1), 0);         /* 11 + NUL: 12 */
    assert_string_equal(q, "a=bcdefgh&x");
    assert_int_equal(cl_urlq_add(q, sizeof q, &n, "y", 1), CL_ELIMIT);
    n = 0;
    assert_int_equal(cl_urlq_add(q, sizeof q, &n, "a=\xff\xff\xff\xff", 6), CL_ELIMIT); /* 14 */
    n = 0;
    assert_int_equal(cl_urlq_add(q, sizeof q, &n, "a=\xff\xff", 4), 0);
    assert_string_equal(q, "a=%FF%FF");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parts_joined_and_encoded),
        cmocka_unit_test(test_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

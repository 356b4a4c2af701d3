/*
 * Unit tests for src/core/json.c's text rule (cl_json_plain_text,
 * cl_json_text): names may hold any printable UTF-8, never a C0 or C1
 * control character, DEL or NUL; what cl_json_text refuses it names.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/err.h"
#include "core/json.h"

static void test_plain_text(void **state)
{
    (void)state;
    assert_true(cl_json_plain_text("Zo\xc3\xab \xe6\x97\xa5\xe6\x9c\xac", 11));
    assert_true(cl_json_plain_text("", 0));
    assert_true(cl_json_plain_text("\xc2\xa0nbsp", 6)); /* U+00A0 is printable */
    assert_false(cl_json_plain_text("a\x1b[31mb", 7));  /* ESC */
    assert_false(cl_json_plain_text("a\tb", 3));        /* TAB */
    assert_false(cl_json_plain_text("a\x7f", 2));       /* DEL */
    assert_false(cl_json_plain_text("a\xc2\x85z", 4));  /* U+0085 NEL */
    assert_false(cl_json_plain_text("\xc2\x9b"
                                    "31m",
                                    5));         /* U+009B CSI */
    assert_false(cl_json_plain_text("a\0b", 3)); /* NUL */
}

static void test_json_text(void **state)
{
    char err[160];
    const char *out = "x";
    json_t *o = json_pack("{s:s, s:s, s:s#, s:i}", "ok", "Team \xc3\xa9t\xc3\xa9", "esc",
                          "a\x1b]0;pwned\x07", "nul", "a\0b", (int)3, "num", 3);
    (void)state;
    assert_int_equal(cl_json_text(o, "body", "ok", true, 64, &out, err, sizeof err), 0);
    assert_string_equal(out, "Team \xc3\xa9t\xc3\xa9");
    assert_int_equal(cl_json_text(o, "body", "esc", true, 64, &out, err, sizeof err), CL_EINVAL);
    assert_null(out);
    assert_non_null(strstr(err, "body.esc contains a control character"));
    assert_int_equal(cl_json_text(o, "body", "nul", true, 64, &out, err, sizeof err), CL_EINVAL);
    assert_int_equal(cl_json_text(o, "body", "num", true, 64, &out, err, sizeof err), CL_EINVAL);
    assert_int_equal(cl_json_text(o, "body", "absent", false, 64, &out, err, sizeof err), 0);
    assert_null(out);
    json_decref(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_text),
        cmocka_unit_test(test_json_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

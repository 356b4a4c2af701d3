/*
 * Unit tests for src/agent/shellenv.c: a shell's environment is a login's,
 * built from an allowlist of the agent's, with SHELL/TERM/COLORTERM set and
 * HOME/USER/PATH filled in when missing; --pass-env adds names, never the
 * gateway's token; bad lists are refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "agent/shellenv.h"
#include "core/err.h"

static void test_allowlist_and_fixed(void **state)
{
    char *env[] = {"HOME=/home/u", "PATH=/bin",      "OPENCLAW_GATEWAY_TOKEN=secret",
                   "LC_TIME=C",    "LANG=C.UTF-8",   "EDITOR=vi",
                   "TERM=dumb",    "SHELL=/bin/zsh", NULL};
    char **e = NULL, err[128];
    (void)state;
    assert_int_equal(cl_shellenv_build("/bin/bash", NULL, env, &e, err, sizeof err), 0);
    assert_string_equal(cl_shellenv_get(e, "HOME"), "/home/u");
    assert_string_equal(cl_shellenv_get(e, "PATH"), "/bin");
    assert_string_equal(cl_shellenv_get(e, "LC_TIME"), "C");
    assert_string_equal(cl_shellenv_get(e, "LANG"), "C.UTF-8");
    assert_string_equal(cl_shellenv_get(e, "SHELL"), "/bin/bash");
    assert_string_equal(cl_shellenv_get(e, "TERM"), "xterm-256color");
    assert_string_equal(cl_shellenv_get(e, "COLORTERM"), "truecolor");
    assert_null(cl_shellenv_get(e, "OPENCLAW_GATEWAY_TOKEN"));
    assert_null(cl_shellenv_get(e, "EDITOR"));
    assert_non_null(cl_shellenv_get(e, "USER")); /* from the password database */
    cl_shellenv_free(e);
}

static void test_pass_and_defaults(void **state)
{
    char *env[] = {"EDITOR=vi", "HTTP_PROXY=http://p:3128", "TERM=dumb", NULL};
    char **e = NULL, err[128];
    (void)state;
    assert_int_equal(
        cl_shellenv_build("/bin/sh", "EDITOR,HTTP_PROXY,NOT_SET,TERM", env, &e, err, sizeof err),
        0);
    assert_string_equal(cl_shellenv_get(e, "EDITOR"), "vi");
    assert_string_equal(cl_shellenv_get(e, "HTTP_PROXY"), "http://p:3128");
    assert_null(cl_shellenv_get(e, "NOT_SET"));
    assert_string_equal(cl_shellenv_get(e, "TERM"), "xterm-256color"); /* ours, not passed */
    assert_string_equal(cl_shellenv_get(e, "PATH"), "/usr/local/bin:/usr/bin:/bin");
    assert_non_null(cl_shellenv_get(e, "HOME"));
    cl_shellenv_free(e);
}

static void test_bad_pass_lists(void **state)
{
    char err[128];
    char many[40 * 4];
    (void)state;
    assert_int_equal(cl_shellenv_check_pass("A,B_2,_c", err, sizeof err), 0);
    assert_int_equal(cl_shellenv_check_pass("A-B", err, sizeof err), CL_EINVAL);
    assert_int_equal(cl_shellenv_check_pass("2A", err, sizeof err), CL_EINVAL);
    assert_int_equal(cl_shellenv_check_pass("A,,B", err, sizeof err), CL_EINVAL);
    assert_int_equal(cl_shellenv_check_pass("", err, sizeof err), CL_EINVAL);
    assert_int_equal(cl_shellenv_check_pass("PATH,OPENCLAW_GATEWAY_TOKEN", err, sizeof err),
                     CL_EINVAL);
    assert_non_null(strstr(err, "never passed"));
    many[0] = 0;
    for (int i = 0; i < CL_AGENT_PASS_ENV_MAX + 1; i++)
        snprintf(many + strlen(many), sizeof many - strlen(many), "%sV%d", i ? "," : "", i);
    assert_int_equal(cl_shellenv_check_pass(many, err, sizeof err), CL_ELIMIT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_allowlist_and_fixed),
        cmocka_unit_test(test_pass_and_defaults),
        cmocka_unit_test(test_bad_pass_lists),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

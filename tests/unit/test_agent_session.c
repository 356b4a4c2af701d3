/*
 * test_agent_session: the pure parts of src/agent/session.c — a session's
 * automatic title (cl_agent_session_title): the program and its directory,
 * $HOME as ~, control characters and bytes that are not UTF-8 replaced, a
 * long directory cut to its tail, every title within its bound and valid
 * for the wire (cl_proto_label_valid).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/session.h"
#include "core/proto.h"

#define DOT "\xc2\xb7"

static char out[CL_SESSION_TITLE_MAX + 1];

static const char *title(const char *comm, const char *cwd, const char *home)
{
    memset(out, 'Z', sizeof out);
    cl_agent_session_title(comm, cwd, home, out, sizeof out);
    assert_true(strlen(out) <= CL_SESSION_TITLE_MAX);
    assert_true(cl_proto_label_valid(out));
    return out;
}

static void test_title_home(void **state)
{
    (void)state;
    assert_string_equal(title("bash", "/home/ada", "/home/ada"), "bash " DOT " ~");
    assert_string_equal(title("vim", "/home/ada/src/clawlink", "/home/ada"),
                        "vim " DOT " ~/src/clawlink");
    /* a sibling that only starts like home is not under it */
    assert_string_equal(title("bash", "/home/adam", "/home/ada"), "bash " DOT " /home/adam");
    assert_string_equal(title("sleep", "/tmp", "/home/ada"), "sleep " DOT " /tmp");
    /* no home, or home "/": paths as they are */
    assert_string_equal(title("bash", "/tmp", ""), "bash " DOT " /tmp");
    assert_string_equal(title("bash", "/etc", "/"), "bash " DOT " /etc");
    /* no directory known; no program known */
    assert_string_equal(title("top", "", "/home/ada"), "top");
    assert_string_equal(title("", "/tmp", "/home/ada"), "");
}

static void test_title_sanitized(void **state)
{
    (void)state;
    /* a directory named with an escape sequence cannot reach a screen */
    assert_string_equal(title("bash", "/tmp/a\x1b]0;x\x07", ""), "bash " DOT " /tmp/a?]0;x?");
    assert_string_equal(title("bash", "/tmp/\x7f\xc2\x85", ""), "bash " DOT " /tmp/??");
    /* bytes that are not UTF-8: a lone continuation, a truncated sequence,
     * an overlong form, a surrogate, a code point past U+10FFFF */
    assert_string_equal(title("bash", "/x\x80y", ""), "bash " DOT " /x?y");
    assert_string_equal(title("bash", "/x\xe2\x82", ""), "bash " DOT " /x??");
    assert_string_equal(title("bash", "/\xc0\xaf", ""), "bash " DOT " /??");
    assert_string_equal(title("bash", "/\xed\xa0\x80", ""), "bash " DOT " /???");
    assert_string_equal(title("bash", "/\xf4\x90\x80\x80", ""), "bash " DOT " /????");
    /* valid UTF-8 passes: é, €, 🦀, no-break space */
    assert_string_equal(title("bash", "/caf\xc3\xa9/\xe2\x82\xac/\xf0\x9f\xa6\x80\xc2\xa0", ""),
                        "bash " DOT " /caf\xc3\xa9/\xe2\x82\xac/\xf0\x9f\xa6\x80\xc2\xa0");
}

static void test_title_long_directory(void **state)
{
    char dir[600];
    const char *t;
    (void)state;
    strcpy(dir, "/srv");
    for (int i = 0; strlen(dir) < 500; i++)
        snprintf(dir + strlen(dir), sizeof dir - strlen(dir), "/part%d", i);
    strcat(dir, "/the-end");
    t = title("make", dir, "");
    assert_int_equal(strlen(t), CL_SESSION_TITLE_MAX);
    assert_true(strncmp(t, "make " DOT " \xe2\x80\xa6", strlen("make " DOT " \xe2\x80\xa6")) == 0);
    assert_true(strcmp(t + strlen(t) - strlen("/the-end"), "/the-end") == 0);

    /* cut inside a multi-byte character: the tail starts at the next whole one */
    memset(dir, 0, sizeof dir);
    strcpy(dir, "/");
    for (int i = 0; i < 100; i++)
        strcat(dir, "\xc3\xa9"); /* é, 2 bytes */
    t = title("ls", dir, "");
    assert_true(strlen(t) <= CL_SESSION_TITLE_MAX);
    assert_true(strstr(t, "?") == NULL);

    /* a tiny buffer: whole characters only, always terminated */
    {
        char small[8];
        cl_agent_session_title("bash", "/tmp", "", small, sizeof small);
        assert_string_equal(small, "bash " DOT);
        cl_agent_session_title("bash", "/tmp", "", small, 1);
        assert_string_equal(small, "");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_title_home),
        cmocka_unit_test(test_title_sanitized),
        cmocka_unit_test(test_title_long_directory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

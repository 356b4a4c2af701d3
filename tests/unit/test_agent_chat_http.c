/*
 * Unit tests for src/agent/chat_http.c's own parsing: the --chat-listen
 * address (loopback only, a port 1..65535) and the door's token (from
 * CLAWLINK_CHAT_TOKEN or the config's chat_token, its length and
 * characters). The door itself is tested end to end
 * (tests/e2e/chat_local.test.mjs).
 */
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

#include "agent/chat_http.h"
#include "core/err.h"

static void test_listen_loopback_only(void **state)
{
    static const struct {
        const char *in, *addr;
        int port;
    } ok[] = {
        {"127.0.0.1:8765", "127.0.0.1", 8765},
        {"127.1.2.3:1", "127.1.2.3", 1},
        {"localhost:65535", "127.0.0.1", 65535},
        {"LOCALHOST:80", "127.0.0.1", 80},
        {"[::1]:8765", "::1", 8765},
    };
    static const char *const bad[] = {
        "",
        "127.0.0.1",
        "127.0.0.1:",
        "127.0.0.1:0",
        "127.0.0.1:65536",
        ":8765",
        "0.0.0.0:8765",
        "10.0.0.1:8765",
        "[::]:8765",
        "::1:8765",
        "[::1]8765",
        "example.com:80",
        "127.0.0.1:80x",
        "127.0.0.1:-1",
        "[fe80::1]:80",
        "128.0.0.1:80",
        "127.0.0.1:99999999999999999999",
    };
    char addr[64], err[256];
    int port;
    (void)state;
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        port = 0;
        if (cl_chat_http_parse_listen(ok[i].in, addr, sizeof addr, &port, err, sizeof err) != 0)
            fail_msg("%s refused: %s", ok[i].in, err);
        assert_string_equal(addr, ok[i].addr);
        assert_int_equal(port, ok[i].port);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (cl_chat_http_parse_listen(bad[i], addr, sizeof addr, &port, err, sizeof err) !=
            CL_EINVAL)
            fail_msg("%s accepted", bad[i]);
    assert_int_equal(
        cl_chat_http_parse_listen("10.1.2.3:80", addr, sizeof addr, &port, err, sizeof err),
        CL_EINVAL);
    assert_non_null(strstr(err, "not a loopback address"));
}

static void write_config(const char *path, const char *json)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(json, f);
    fclose(f);
    assert_int_equal(chmod(path, 0600), 0);
}

static void test_token_sources(void **state)
{
    char dir[] = "/tmp/cl-chat-http-XXXXXX", path[128], tok[CL_TOKEN_MAX + 1], err[512];
    const char *from = NULL;
    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/agent.json", dir);
    unsetenv("CLAWLINK_CHAT_TOKEN");

    write_config(path, "{\"device_id\":\"d\",\"chat_token\":\"0123456789abcdef-config\"}");
    assert_int_equal(cl_chat_http_token(path, tok, sizeof tok, &from, err, sizeof err), 0);
    assert_string_equal(tok, "0123456789abcdef-config");
    assert_non_null(strstr(from, "config"));

    /* the environment wins */
    setenv("CLAWLINK_CHAT_TOKEN", "0123456789abcdef-env", 1);
    assert_int_equal(cl_chat_http_token(path, tok, sizeof tok, &from, err, sizeof err), 0);
    assert_string_equal(tok, "0123456789abcdef-env");
    assert_string_equal(from, "CLAWLINK_CHAT_TOKEN");
    setenv("CLAWLINK_CHAT_TOKEN", "short", 1);
    assert_int_equal(cl_chat_http_token(path, tok, sizeof tok, &from, err, sizeof err), CL_EINVAL);
    setenv("CLAWLINK_CHAT_TOKEN", "0123456789 abcdef with spaces", 1);
    assert_int_equal(cl_chat_http_token(path, tok, sizeof tok, &from, err, sizeof err), CL_EINVAL);
    unsetenv("CLAWLINK_CHAT_TOKEN");

    /* none, not a string, too short */
    write_config(path, "{\"device_id\":\"d\"}");
    assert_int_equal(cl_chat_http_token(path, tok, sizeof tok, &from, err, sizeof err),
                     CL_ENOTFOUND);
    assert_non_null(strstr(err, "needs a token"));
    write_config(path, "{\"chat_token\":1234567890123456}");
    assert_int_equal(cl_chat_http_token(path, tok, sizeof tok, &from, err, sizeof err), CL_EINVAL);
    write_config(path, "{\"chat_token\": \"unterminated");
    assert_int_equal(cl_chat_http_token(path, tok, sizeof tok, &from, err, sizeof err), CL_EINVAL);
    write_config(path, "{\"chat_token\":\"tooshort\"}");
    assert_int_equal(cl_chat_http_token(path, tok, sizeof tok, &from, err, sizeof err), CL_EINVAL);
    /* a config others can read is not used */
    write_config(path, "{\"chat_token\":\"0123456789abcdef-config\"}");
    assert_int_equal(chmod(path, 0644), 0);
    assert_int_not_equal(cl_chat_http_token(path, tok, sizeof tok, &from, err, sizeof err), 0);

    unlink(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_listen_loopback_only),
        cmocka_unit_test(test_token_sources),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

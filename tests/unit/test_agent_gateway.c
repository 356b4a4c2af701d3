/*
 * Unit tests for the agent's OpenClaw pieces that need no gateway:
 * src/agent/gateway_identity.c (the device key file, the v3 payload and
 * its signature) and src/agent/gateway_discover.c (where the settings come
 * from, in which order, and the capabilities).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/gateway_discover.h"
#include "agent/gateway_identity.h"
#include "core/err.h"
#include "core/json.h"
#include "core/proto.h"
#include "core/secret.h"

static char dir[1024];
static char errbuf[1024];

static void write_file(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    assert_int_equal(chmod(path, mode), 0);
}

static int setup(void **state)
{
    const char *tmp = getenv("TMPDIR");
    (void)state;
    snprintf(dir, sizeof dir, "%s/cl-agent-gw-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir))
        return -1;
    unsetenv("OPENCLAW_GATEWAY_URL");
    unsetenv("GATEWAY_WS_URL");
    unsetenv("OPENCLAW_GATEWAY_TOKEN");
    unsetenv("OPENCLAW_STATE_DIR");
    setenv("HOME", dir, 1);
    return 0;
}

static int teardown(void **state)
{
    char cmd[PATH_MAX + 16];
    (void)state;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* ---- identity ---------------------------------------------------------- */

static void test_payload_v3(void **state)
{
    char out[512];
    struct cl_gw_auth_fields f = {
        .device_id = "abc",
        .client_id = "cli",
        .client_mode = "cli",
        .role = "operator",
        .scopes = "operator.read,operator.write",
        .signed_at_ms = 1737264000000ull,
        .token = "tok",
        .nonce = "n-1",
        .platform = "  Linux ",
        .device_family = "",
    };
    (void)state;
    long n = cl_gw_auth_payload_v3(&f, out, sizeof out);
    assert_true(n > 0);
    assert_string_equal(out, "v3|abc|cli|cli|operator|operator.read,operator.write|1737264000000|"
                             "tok|n-1|linux|");
    assert_int_equal(n, (long)strlen(out));
    f.token = NULL;
    f.device_family = "Desktop";
    cl_gw_auth_payload_v3(&f, out, sizeof out);
    assert_string_equal(out, "v3|abc|cli|cli|operator|operator.read,operator.write|1737264000000|"
                             "|n-1|linux|desktop");
    assert_int_equal(cl_gw_auth_payload_v3(&f, out, 20), CL_ELIMIT);
}

static void test_identity_create_load_sign(void **state)
{
    char path[PATH_MAX], sig[CL_GW_SIG_B64_LEN + 1];
    struct cl_gw_identity a, b;
    uint8_t raw[64], digest[32];
    char hex[65];
    size_t len = 0;
    bool created = false;
    struct stat st;
    (void)state;

    assert_int_equal(cl_gw_identity_path("/x/y/agent.json", path, sizeof path), 0);
    assert_string_equal(path, "/x/y/openclaw-device.json");
    snprintf(path, sizeof path, "%s/sub/openclaw-device.json", dir);
    assert_int_equal(cl_gw_identity_load_or_create(path, &a, &created, errbuf, sizeof errbuf), 0);
    assert_true(created);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    /* device id: hex sha256 of the raw public key */
    crypto_hash_sha256(digest, a.pk, 32);
    sodium_bin2hex(hex, sizeof hex, digest, 32);
    assert_string_equal(a.device_id, hex);
    assert_int_equal(strlen(a.public_key), CL_GW_PUBKEY_B64_LEN);

    /* loading gives the same key */
    assert_int_equal(cl_gw_identity_load_or_create(path, &b, &created, errbuf, sizeof errbuf), 0);
    assert_false(created);
    assert_memory_equal(a.pk, b.pk, 32);
    assert_string_equal(a.device_id, b.device_id);

    /* the signature verifies with the public key, base64url decoded */
    cl_gw_identity_sign(&b, "v3|payload", 10, sig);
    assert_int_equal(strlen(sig), CL_GW_SIG_B64_LEN);
    assert_null(strchr(sig, '+'));
    assert_null(strchr(sig, '='));
    assert_int_equal(sodium_base642bin(raw, sizeof raw, sig, strlen(sig), NULL, &len, NULL,
                                       sodium_base64_VARIANT_URLSAFE_NO_PADDING),
                     0);
    assert_int_equal(len, 64);
    assert_int_equal(
        crypto_sign_verify_detached(raw, (const unsigned char *)"v3|payload", 10, a.pk), 0);

    /* a device token is kept */
    snprintf(b.device_token, sizeof b.device_token, "dev-token-1");
    assert_int_equal(cl_gw_identity_save(path, &b, errbuf, sizeof errbuf), 0);
    assert_int_equal(cl_gw_identity_load_or_create(path, &a, &created, errbuf, sizeof errbuf), 0);
    assert_string_equal(a.device_token, "dev-token-1");

    /* readable by others: refused, as the agent config is */
    assert_int_equal(chmod(path, 0644), 0);
    assert_int_equal(cl_gw_identity_load_or_create(path, &a, &created, errbuf, sizeof errbuf),
                     CL_EFORBIDDEN);
    assert_non_null(strstr(errbuf, "chmod 600"));
    cl_gw_identity_wipe(&a);
    cl_gw_identity_wipe(&b);
}

static void test_identity_malformed(void **state)
{
    char path[PATH_MAX];
    struct cl_gw_identity id;
    bool created;
    (void)state;
    snprintf(path, sizeof path, "%s/bad.json", dir);
    write_file(path, "{\"secret_key\":\"not base64!\"}", 0600);
    assert_int_equal(cl_gw_identity_load_or_create(path, &id, &created, errbuf, sizeof errbuf),
                     CL_EINVAL);
    write_file(path, "[1]", 0600);
    assert_int_equal(cl_gw_identity_load_or_create(path, &id, &created, errbuf, sizeof errbuf),
                     CL_EINVAL);
}

/* ---- discovery ---------------------------------------------------------- */

static void test_discover_nothing(void **state)
{
    struct cl_gw_settings s;
    char warn[512];
    (void)state;
    assert_int_equal(cl_gw_discover(NULL, &s, warn, sizeof warn, errbuf, sizeof errbuf), 0);
    assert_false(s.configured);
    assert_int_equal(s.caps, CL_CAP_DEFAULT);
    assert_string_equal(s.caps_from, "default");
    assert_string_equal(s.session_key, "main");
}

static void test_discover_order(void **state)
{
    char agent[PATH_MAX], ocdir[PATH_MAX], oc[PATH_MAX], warn[512];
    struct cl_gw_settings s;
    (void)state;

    snprintf(agent, sizeof agent, "%s/agent.json", dir);
    write_file(agent,
               "{\"device_id\":\"d\",\"token\":\"t\",\"relay_url\":\"ws://r\","
               "\"capabilities\":[\"chat\",\"restart\"],"
               "\"openclaw\":{\"url\":\"ws://127.0.0.1:3\",\"token\":\"from-agent\","
               "\"session_key\":\"work\"}}",
               0600);
    /* 3. the agent config alone */
    assert_int_equal(cl_gw_discover(agent, &s, warn, sizeof warn, errbuf, sizeof errbuf), 0);
    assert_true(s.configured);
    assert_string_equal(s.url, "ws://127.0.0.1:3");
    assert_string_equal(s.token, "from-agent");
    assert_non_null(strstr(s.url_from, "agent config"));
    assert_string_equal(s.session_key, "work");
    assert_int_equal(s.caps, CL_CAP_CHAT | CL_CAP_RESTART);

    /* 2. ~/.openclaw/openclaw.json wins over the agent config */
    snprintf(ocdir, sizeof ocdir, "%s/.openclaw", dir);
    mkdir(ocdir, 0700);
    snprintf(oc, sizeof oc, "%s/.openclaw/openclaw.json", dir);
    write_file(oc,
               "{\"gateway\":{\"port\":18799,\"auth\":{\"mode\":\"token\",\"token\":\"from-oc\"}}}",
               0600);
    assert_int_equal(cl_gw_discover(agent, &s, warn, sizeof warn, errbuf, sizeof errbuf), 0);
    assert_string_equal(s.url, "ws://127.0.0.1:18799");
    assert_string_equal(s.token, "from-oc");
    assert_non_null(strstr(s.token_from, "openclaw.json"));

    /* 1. the environment wins over both */
    setenv("OPENCLAW_GATEWAY_URL", "ws://127.0.0.1:4", 1);
    setenv("OPENCLAW_GATEWAY_TOKEN", "from-env", 1);
    assert_int_equal(cl_gw_discover(agent, &s, warn, sizeof warn, errbuf, sizeof errbuf), 0);
    assert_string_equal(s.url, "ws://127.0.0.1:4");
    assert_string_equal(s.token, "from-env");
    assert_string_equal(s.url_from, "environment (OPENCLAW_GATEWAY_URL)");

    /* a bad env URL is skipped with a warning */
    setenv("OPENCLAW_GATEWAY_URL", "http://nope", 1);
    assert_int_equal(cl_gw_discover(agent, &s, warn, sizeof warn, errbuf, sizeof errbuf), 0);
    assert_string_equal(s.url, "ws://127.0.0.1:18799");
    assert_non_null(strstr(warn, "OPENCLAW_GATEWAY_URL"));
    unsetenv("OPENCLAW_GATEWAY_URL");
    unsetenv("OPENCLAW_GATEWAY_TOKEN");

    /* ClawChats' name for the URL, when ours is unset; ours wins */
    setenv("GATEWAY_WS_URL", "ws://127.0.0.1:5", 1);
    assert_int_equal(cl_gw_discover(agent, &s, warn, sizeof warn, errbuf, sizeof errbuf), 0);
    assert_string_equal(s.url, "ws://127.0.0.1:5");
    assert_string_equal(s.url_from, "environment (GATEWAY_WS_URL)");
    setenv("OPENCLAW_GATEWAY_URL", "ws://127.0.0.1:4", 1);
    assert_int_equal(cl_gw_discover(agent, &s, warn, sizeof warn, errbuf, sizeof errbuf), 0);
    assert_string_equal(s.url, "ws://127.0.0.1:4");
    setenv("GATEWAY_WS_URL", "http://nope", 1);
    unsetenv("OPENCLAW_GATEWAY_URL");
    assert_int_equal(cl_gw_discover(agent, &s, warn, sizeof warn, errbuf, sizeof errbuf), 0);
    assert_non_null(strstr(warn, "GATEWAY_WS_URL ignored"));
    unsetenv("GATEWAY_WS_URL");

    /* JSON5 in openclaw.json: skipped with a warning */
    write_file(oc, "{ gateway: { port: 1 } // json5\n}", 0600);
    assert_int_equal(cl_gw_discover(agent, &s, warn, sizeof warn, errbuf, sizeof errbuf), 0);
    assert_string_equal(s.url, "ws://127.0.0.1:3");
    assert_non_null(strstr(warn, "plain JSON"));
    unlink(oc);
    cl_gw_settings_wipe(&s);
}

static void test_agent_config_section(void **state)
{
    struct cl_gw_settings s;
    (void)state;
    memset(&s, 0, sizeof s);
    assert_int_equal(cl_gw_parse_agent_config("{\"capabilities\":[]}",
                                              strlen("{\"capabilities\":[]}"), "t", &s, errbuf,
                                              sizeof errbuf),
                     0);
    assert_int_equal(s.caps, 0);
    assert_int_equal(cl_gw_parse_agent_config("{\"capabilities\":[\"remote_chat\"]}",
                                              strlen("{\"capabilities\":[\"remote_chat\"]}"), "t",
                                              &s, errbuf, sizeof errbuf),
                     CL_EINVAL);
    assert_non_null(strstr(errbuf, "capabilities[0]"));
    assert_int_equal(cl_gw_parse_agent_config("{\"capabilities\":\"chat\"}",
                                              strlen("{\"capabilities\":\"chat\"}"), "t", &s,
                                              errbuf, sizeof errbuf),
                     CL_EINVAL);
    const char *bad_url = "{\"openclaw\":{\"url\":\"http://x\"}}";
    assert_int_equal(
        cl_gw_parse_agent_config(bad_url, strlen(bad_url), "t", &s, errbuf, sizeof errbuf),
        CL_EINVAL);
    const char *off = "{\"openclaw\":{\"url\":\"ws://x:1\",\"enabled\":false}}";
    memset(&s, 0, sizeof s);
    assert_int_equal(cl_gw_parse_agent_config(off, strlen(off), "t", &s, errbuf, sizeof errbuf), 0);
    assert_true(s.disabled);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_payload_v3),         cmocka_unit_test(test_identity_create_load_sign),
        cmocka_unit_test(test_identity_malformed), cmocka_unit_test(test_discover_nothing),
        cmocka_unit_test(test_discover_order),     cmocka_unit_test(test_agent_config_section),
    };
    cl_json_init();
    if (cl_secret_init() != 0)
        return 1;
    return cmocka_run_group_tests(tests, setup, teardown);
}

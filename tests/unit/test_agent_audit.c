/*
 * Unit tests for src/agent/audit.c: each check's logic on crafted input —
 * token strength, secret-looking names, the OpenClaw config (bind, auth,
 * token, redaction, exec), exec approvals, the relay URL, capabilities, a
 * shell's environment — and on real files in a temporary directory: a
 * secret file's mode, a symbolic link, a writable parent, a private
 * directory; --fix tightens exactly those and a second run is clean; the
 * --json document has its schema.
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
#include <jansson.h>

#include "agent/audit.h"
#include "agent/gateway_discover.h"
#include "core/proto.h"

static bool has(const struct cl_audit *a, const char *id, enum cl_audit_severity sev)
{
    const struct cl_audit_finding *f = cl_audit_find(a, id);
    return f && f->severity == sev;
}

static void oc_config(struct cl_audit *a, const char *json, struct cl_audit_oc *oc)
{
    cl_audit_init(a);
    cl_audit_openclaw_config(a, json, strlen(json), "openclaw.json", oc);
}

/* OpenClaw's own resolution: OPENCLAW_HOME, ~, and blank/"null" unset. */
static void test_openclaw_paths(void **state)
{
    char st[256], cfg[256];
    (void)state;

    unsetenv("OPENCLAW_STATE_DIR");
    unsetenv("OPENCLAW_CONFIG_PATH");
    setenv("HOME", "/h", 1);
    setenv("OPENCLAW_HOME", "/oh", 1);
    assert_int_equal(cl_gw_openclaw_paths(st, sizeof st, cfg, sizeof cfg), 0);
    assert_string_equal(st, "/oh/.openclaw");
    assert_string_equal(cfg, "/oh/.openclaw/openclaw.json");
    setenv("OPENCLAW_HOME", "null", 1);
    setenv("OPENCLAW_STATE_DIR", "~/state", 1);
    setenv("OPENCLAW_CONFIG_PATH", "  ", 1);
    assert_int_equal(cl_gw_openclaw_paths(st, sizeof st, cfg, sizeof cfg), 0);
    assert_string_equal(st, "/h/state");
    assert_string_equal(cfg, "/h/state/openclaw.json");
    setenv("OPENCLAW_CONFIG_PATH", "/etc/oc.json", 1);
    assert_int_equal(cl_gw_openclaw_paths(st, sizeof st, cfg, sizeof cfg), 0);
    assert_string_equal(cfg, "/etc/oc.json");
    unsetenv("OPENCLAW_HOME");
    unsetenv("OPENCLAW_STATE_DIR");
    unsetenv("OPENCLAW_CONFIG_PATH");
}

static void test_token_strength(void **state)
{
    (void)state;
    assert_int_equal(cl_audit_token_strength(""), CL_AUDIT_TOKEN_PLACEHOLDER);
    assert_int_equal(cl_audit_token_strength("  "), CL_AUDIT_TOKEN_PLACEHOLDER);
    assert_int_equal(cl_audit_token_strength("undefined"), CL_AUDIT_TOKEN_PLACEHOLDER);
    assert_int_equal(cl_audit_token_strength("Null"), CL_AUDIT_TOKEN_PLACEHOLDER);
    assert_int_equal(cl_audit_token_strength("changeme"), CL_AUDIT_TOKEN_PLACEHOLDER);
    assert_int_equal(cl_audit_token_strength("test-token-123"), CL_AUDIT_TOKEN_SHORT);
    /* 23 characters: one short of OpenClaw's 24 */
    assert_int_equal(cl_audit_token_strength("abcdefghijklmnopqrstuvw"), CL_AUDIT_TOKEN_SHORT);
    assert_int_equal(cl_audit_token_strength("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
                     CL_AUDIT_TOKEN_WEAK);
    assert_int_equal(cl_audit_token_strength("121212121212121212121212121212"),
                     CL_AUDIT_TOKEN_WEAK);
    assert_int_equal(cl_audit_token_strength("3f9c2a1e7b6d4c8a0e5f1b2c3d4e5f6a"),
                     CL_AUDIT_TOKEN_OK);
}

static void test_secret_names(void **state)
{
    (void)state;
    assert_true(cl_audit_name_secret("GITHUB_TOKEN"));
    assert_true(cl_audit_name_secret("github_token=abc"));
    assert_true(cl_audit_name_secret("AWS_SECRET_ACCESS_KEY"));
    assert_true(cl_audit_name_secret("OPENAI_API_KEY"));
    assert_true(cl_audit_name_secret("DB_PASSWORD"));
    assert_true(cl_audit_name_secret("SIGNING_KEY"));
    assert_true(cl_audit_name_secret("GH_PAT"));
    assert_false(cl_audit_name_secret("LANG"));
    assert_false(cl_audit_name_secret("EDITOR"));
    assert_false(cl_audit_name_secret("SSH_AUTH_SOCK"));
    assert_false(cl_audit_name_secret("KEYBOARD"));
}

static void test_openclaw_bind_and_auth(void **state)
{
    struct cl_audit a;
    struct cl_audit_oc oc;
    (void)state;

    oc_config(&a, "{\"gateway\":{\"bind\":\"lan\",\"auth\":{\"mode\":\"none\"}}}", &oc);
    assert_true(oc.exposed && oc.auth_none);
    assert_true(has(&a, "openclaw.gateway.bind_no_auth", CL_AUDIT_CRITICAL));
    cl_audit_free(&a);

    oc_config(&a, "{\"gateway\":{\"bind\":\"0.0.0.0\"}}", &oc);
    assert_true(has(&a, "openclaw.gateway.bind_no_auth", CL_AUDIT_CRITICAL));
    cl_audit_free(&a);

    oc_config(&a,
              "{\"gateway\":{\"bind\":\"lan\",\"auth\":{\"token\":"
              "\"3f9c2a1e7b6d4c8a0e5f1b2c3d4e5f6a\"}}}",
              &oc);
    assert_true(has(&a, "openclaw.gateway.bind_beyond_loopback", CL_AUDIT_WARN));
    assert_null(cl_audit_find(&a, "openclaw.gateway.bind_no_auth"));
    assert_null(cl_audit_find(&a, "openclaw.gateway.token_too_short"));
    cl_audit_free(&a);

    /* loopback, custom 127.0.0.1 and the default are not exposed */
    oc_config(&a,
              "{\"gateway\":{\"bind\":\"custom\",\"customBindHost\":\"127.0.0.1\",\"auth\":{"
              "\"mode\":\"none\"}}}",
              &oc);
    assert_false(oc.exposed);
    assert_true(has(&a, "openclaw.gateway.auth_none", CL_AUDIT_CRITICAL));
    assert_null(cl_audit_find(&a, "openclaw.gateway.bind_beyond_loopback"));
    cl_audit_free(&a);

    oc_config(&a, "{\"gateway\":{\"auth\":{\"mode\":\"token\",\"token\":\"short-one\"}}}", &oc);
    assert_false(oc.exposed || oc.auth_none);
    assert_true(has(&a, "openclaw.gateway.token_too_short", CL_AUDIT_WARN));
    cl_audit_free(&a);

    oc_config(&a, "{\"gateway\":{\"auth\":{\"mode\":\"token\",\"token\":\"undefined\"}}}", &oc);
    assert_true(has(&a, "openclaw.gateway.token_placeholder", CL_AUDIT_CRITICAL));
    cl_audit_free(&a);

    oc_config(&a,
              "{\"gateway\":{\"auth\":{\"mode\":\"password\",\"password\":"
              "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}}}",
              &oc);
    assert_true(has(&a, "openclaw.gateway.password_weak", CL_AUDIT_WARN));
    cl_audit_free(&a);

    /* a SecretRef is not checked, only said */
    oc_config(&a, "{\"gateway\":{\"auth\":{\"mode\":\"token\",\"token\":{\"source\":\"env\"}}}}",
              &oc);
    assert_true(has(&a, "openclaw.gateway.token_not_checked", CL_AUDIT_INFO));
    cl_audit_free(&a);

    /* JSON5 is said, not guessed at */
    oc_config(&a, "{ gateway: { bind: 'lan' }, }", &oc);
    assert_false(oc.parsed);
    assert_true(has(&a, "openclaw.config.unparsed", CL_AUDIT_INFO));
    assert_int_equal(a.count, 1);
    cl_audit_free(&a);
}

static void test_openclaw_exposure(void **state)
{
    struct cl_audit a;
    struct cl_audit_oc oc;
    (void)state;

    oc_config(&a,
              "{\"gateway\":{\"auth\":{\"mode\":\"trusted-proxy\"},\"tailscale\":{\"mode\":"
              "\"funnel\"}}}",
              &oc);
    assert_true(has(&a, "openclaw.gateway.tailscale_funnel", CL_AUDIT_CRITICAL));
    assert_true(has(&a, "openclaw.gateway.trusted_proxy", CL_AUDIT_WARN));
    assert_null(cl_audit_find(&a, "openclaw.gateway.auth_none"));
    cl_audit_free(&a);
}

/* Root only: a secret file and a private directory of another user. */
static void test_other_owner(void **state)
{
    char root[] = "/tmp/cl-audit-own-XXXXXX", file[64], dir[64];
    struct cl_audit a;
    FILE *f;
    (void)state;

    if (geteuid() != 0)
        skip();
    assert_non_null(mkdtemp(root));
    snprintf(file, sizeof file, "%s/agent.json", root);
    snprintf(dir, sizeof dir, "%s/d", root);
    f = fopen(file, "w");
    assert_non_null(f);
    fclose(f);
    chmod(file, 0600);
    assert_int_equal(mkdir(dir, 0700), 0);
    assert_int_equal(chown(file, 65534, 65534), 0);
    assert_int_equal(chown(dir, 65534, 65534), 0);
    cl_audit_init(&a);
    cl_audit_secret_file(&a, "t.file", file, "a secret", true);
    cl_audit_private_dir(&a, "t.dir", dir, CL_AUDIT_WARN, "a directory");
    assert_true(has(&a, "t.file.owner", CL_AUDIT_CRITICAL));
    assert_true(has(&a, "t.dir.owner", CL_AUDIT_CRITICAL));
    assert_int_equal(cl_audit_find(&a, "t.file.owner")->fix_clear, 0); /* never chowned */
    cl_audit_free(&a);
    unlink(file);
    rmdir(dir);
    rmdir(root);
}

static void test_openclaw_logging_and_exec(void **state)
{
    struct cl_audit a;
    struct cl_audit_oc oc;
    (void)state;

    oc_config(&a,
              "{\"gateway\":{\"auth\":{\"token\":\"3f9c2a1e7b6d4c8a0e5f1b2c3d4e5f6a\"}},"
              "\"logging\":{\"redactSensitive\":\"off\"},"
              "\"tools\":{\"exec\":{\"security\":\"full\",\"ask\":\"off\"}}}",
              &oc);
    assert_true(has(&a, "openclaw.logging.redact_off", CL_AUDIT_WARN));
    assert_true(oc.exec_explicit);
    assert_false(oc.exec_set);
    cl_audit_free(&a);

    oc_config(&a,
              "{\"logging\":{\"redactSensitive\":\"tools\"},"
              "\"agents\":{\"entries\":{\"main\":{\"tools\":{\"exec\":{\"mode\":\"full\"}}}}}}",
              &oc);
    assert_null(cl_audit_find(&a, "openclaw.logging.redact_off"));
    assert_true(oc.exec_explicit);
    cl_audit_free(&a);

    oc_config(&a, "{\"tools\":{\"exec\":{\"mode\":\"ask\"}}}", &oc);
    assert_false(oc.exec_explicit);
    assert_true(oc.exec_set);
    cl_audit_free(&a);
}

static void test_exec_approvals(void **state)
{
    const char *doc =
        "{\"version\":1,\"defaults\":{\"security\":\"full\",\"askFallback\":\"full\"},"
        "\"agents\":{\"main\":{\"security\":\"allowlist\",\"autoAllowSkills\":true}}}";
    struct cl_audit a;
    bool full = false;
    (void)state;

    cl_audit_init(&a);
    cl_audit_exec_approvals(&a, doc, strlen(doc), "approvals", &full);
    assert_true(full);
    assert_true(has(&a, "openclaw.exec_approvals.full", CL_AUDIT_WARN));
    assert_true(has(&a, "openclaw.exec_approvals.ask_fallback_full", CL_AUDIT_WARN));
    assert_true(has(&a, "openclaw.exec_approvals.auto_allow_skills", CL_AUDIT_WARN));
    assert_non_null(strstr(cl_audit_find(&a, "openclaw.exec_approvals.auto_allow_skills")->detail,
                           "agents.main"));
    cl_audit_free(&a);

    doc = "{\"defaults\":{\"security\":\"allowlist\",\"ask\":\"on-miss\"}}";
    full = false;
    cl_audit_init(&a);
    cl_audit_exec_approvals(&a, doc, strlen(doc), "approvals", &full);
    assert_false(full);
    assert_int_equal(a.count, 0);
    cl_audit_free(&a);
}

static void test_relay_url(void **state)
{
    struct cl_audit a;
    (void)state;

    cl_audit_init(&a);
    cl_audit_relay_url(&a, "ws://relay.example.com:8080");
    assert_true(has(&a, "relay.url.plaintext", CL_AUDIT_CRITICAL));
    cl_audit_free(&a);
    cl_audit_init(&a);
    cl_audit_relay_url(&a, "ws://127.0.0.1:8080");
    assert_true(has(&a, "relay.url.loopback_plaintext", CL_AUDIT_INFO));
    assert_null(cl_audit_find(&a, "relay.url.plaintext"));
    cl_audit_free(&a);
    cl_audit_init(&a);
    cl_audit_relay_url(&a, "wss://relay.example.com");
    assert_int_equal(a.count, 0);
    cl_audit_free(&a);
}

static void test_capabilities(void **state)
{
    struct cl_audit a;
    (void)state;

    cl_audit_init(&a);
    cl_audit_capabilities(&a, CL_CAP_CHAT | CL_CAP_RESTART, "cfg", true);
    assert_true(has(&a, "agent.capabilities.admin_scope", CL_AUDIT_WARN));
    assert_true(has(&a, "agent.capabilities.chat_exec", CL_AUDIT_WARN));
    assert_null(cl_audit_find(&a, "agent.capabilities.terminal"));
    cl_audit_free(&a);

    cl_audit_init(&a);
    cl_audit_capabilities(&a, CL_CAP_TERMINAL | CL_CAP_CHAT | CL_CAP_STATUS, "cfg", true);
    assert_null(cl_audit_find(&a, "agent.capabilities.admin_scope"));
    assert_null(cl_audit_find(&a, "agent.capabilities.chat_exec"));
    assert_true(has(&a, "agent.capabilities.terminal", CL_AUDIT_INFO));
    cl_audit_free(&a);

    cl_audit_init(&a);
    cl_audit_capabilities(&a, CL_CAP_CHAT, "cfg", false);
    assert_int_equal(a.count, 0);
    cl_audit_free(&a);
}

static void test_shell_env(void **state)
{
    char *leak[] = {"HOME=/h", "OPENCLAW_GATEWAY_TOKEN=x", NULL};
    char *passed[] = {"HOME=/h", "GITHUB_TOKEN=x", "LANG=C", NULL};
    char *clean[] = {"HOME=/h", "LANG=C", "TERM=xterm-256color", NULL};
    struct cl_audit a;
    (void)state;

    cl_audit_init(&a);
    cl_audit_shell_env(&a, leak, NULL);
    assert_true(has(&a, "shell.env.gateway_token", CL_AUDIT_CRITICAL));
    cl_audit_free(&a);
    cl_audit_init(&a);
    cl_audit_shell_env(&a, passed, "GITHUB_TOKEN");
    assert_true(has(&a, "shell.env.secret_passed", CL_AUDIT_WARN));
    assert_non_null(strstr(a.items[0].detail, "GITHUB_TOKEN"));
    assert_null(strstr(a.items[0].detail, "=x"));
    cl_audit_free(&a);
    cl_audit_init(&a);
    cl_audit_shell_env(&a, clean, NULL);
    assert_int_equal(a.count, 0);
    cl_audit_free(&a);
}

static unsigned mode_of(const char *p)
{
    struct stat st;
    assert_int_equal(lstat(p, &st), 0);
    return (unsigned)(st.st_mode & 07777);
}

/* A bad layout on disk: found, fixed by --fix, clean on a second run. */
static void test_files_and_fix(void **state)
{
    char root[] = "/tmp/cl-audit-XXXXXX", dir[256], sub[256], file[300], link[300], priv[256];
    struct cl_audit a;
    FILE *f;
    (void)state;

    assert_non_null(mkdtemp(root));
    chmod(root, 0700);
    snprintf(dir, sizeof dir, "%s/open", root);
    snprintf(sub, sizeof sub, "%s/open/clawlink", root);
    snprintf(file, sizeof file, "%s/agent.json", sub);
    snprintf(link, sizeof link, "%s/link.json", sub);
    snprintf(priv, sizeof priv, "%s/priv", root);
    assert_int_equal(mkdir(dir, 0775), 0);
    chmod(dir, 0775); /* group-writable, whatever the umask */
    assert_int_equal(mkdir(sub, 0700), 0);
    assert_int_equal(mkdir(priv, 0755), 0);
    chmod(priv, 0755);
    f = fopen(file, "w");
    assert_non_null(f);
    fputs("{}", f);
    fclose(f);
    chmod(file, 0644);
    assert_int_equal(symlink(file, link), 0);

    cl_audit_init(&a);
    cl_audit_secret_file(&a, "t.file", file, "a secret", true);
    cl_audit_secret_file(&a, "t.link", link, "a secret", true);
    cl_audit_secret_file(&a, "t.absent", "/nonexistent/x", "a secret", false);
    cl_audit_private_dir(&a, "t.dir", priv, CL_AUDIT_WARN, "a private directory");
    assert_true(has(&a, "t.file.perms_open", CL_AUDIT_CRITICAL));
    assert_true(has(&a, "t.file.parent_dir", CL_AUDIT_CRITICAL));
    assert_non_null(strstr(cl_audit_find(&a, "t.file.parent_dir")->detail, dir));
    assert_true(has(&a, "t.link.symlink", CL_AUDIT_WARN));
    assert_true(has(&a, "t.dir.perms_readable", CL_AUDIT_WARN));
    assert_null(cl_audit_find(&a, "t.absent.missing"));
    /* the file: its mode and its parent; the link: the same parent */
    assert_int_equal(cl_audit_count(&a, CL_AUDIT_CRITICAL, true), 3);

    /* --fix: modes tightened, the link left alone */
    assert_true(cl_audit_apply_fixes(&a, NULL) >= 3);
    assert_int_equal(mode_of(file), 0600);
    assert_int_equal(mode_of(dir), 0755);
    assert_int_equal(mode_of(priv), 0700);
    assert_int_equal(cl_audit_count(&a, CL_AUDIT_CRITICAL, true), 0);
    assert_false(cl_audit_find(&a, "t.link.symlink")->fixed);
    {
        char *json = cl_audit_json(&a, false, true);
        json_t *doc = json_loads(json, 0, NULL), *f0;
        assert_non_null(doc);
        assert_int_equal(json_integer_value(json_object_get(doc, "version")),
                         CL_AUDIT_SCHEMA_VERSION);
        assert_true(json_is_true(json_object_get(doc, "fix")));
        assert_int_equal(json_integer_value(json_object_get(json_object_get(doc, "summary"),
                                                            "critical_remaining")),
                         0);
        f0 = json_array_get(json_object_get(doc, "findings"), 0);
        assert_non_null(json_string_value(json_object_get(f0, "id")));
        assert_non_null(json_string_value(json_object_get(f0, "severity")));
        assert_non_null(json_string_value(json_object_get(f0, "title")));
        assert_non_null(json_string_value(json_object_get(f0, "detail")));
        assert_non_null(json_string_value(json_object_get(f0, "fix")));
        assert_true(json_is_boolean(json_object_get(f0, "fixed")));
        json_decref(doc);
        free(json);
    }
    cl_audit_free(&a);

    /* a second run finds them fixed */
    cl_audit_init(&a);
    cl_audit_secret_file(&a, "t.file", file, "a secret", true);
    cl_audit_private_dir(&a, "t.dir", priv, CL_AUDIT_WARN, "a private directory");
    assert_int_equal(a.count, 0);
    cl_audit_free(&a);

    /* a world-writable private directory is critical */
    chmod(priv, 0777);
    cl_audit_init(&a);
    cl_audit_private_dir(&a, "t.dir", priv, CL_AUDIT_WARN, "a private directory");
    assert_true(has(&a, "t.dir.perms_writable", CL_AUDIT_CRITICAL));
    cl_audit_free(&a);

    unlink(link);
    unlink(file);
    rmdir(sub);
    rmdir(dir);
    rmdir(priv);
    rmdir(root);
}

/* The PostgreSQL memory provider's connection string: a password where
 * others can read it, notes off the machine, no TLS required — and the
 * password itself in no finding. */
static void test_memory_pg(void **state)
{
    struct cl_audit a;
    (void)state;

    cl_audit_init(&a);
    cl_audit_memory_pg(&a, "postgresql://alice:pw-s3cret@db.example.com/notes", "/c.json", 0100644);
    assert_true(has(&a, "memory.pg.password_exposed", CL_AUDIT_CRITICAL));
    assert_true(has(&a, "memory.pg.remote", CL_AUDIT_INFO));
    assert_true(has(&a, "memory.pg.plaintext", CL_AUDIT_WARN));
    for (size_t i = 0; i < a.count; i++) {
        assert_null(strstr(a.items[i].detail, "s3cret"));
        assert_null(strstr(a.items[i].fix, "s3cret"));
        assert_null(strstr(a.items[i].title, "s3cret"));
    }
    cl_audit_free(&a);

    cl_audit_init(&a);
    cl_audit_memory_pg(&a, "postgresql://alice:pw@db.example.com/notes?sslmode=verify-full",
                       "/c.json", 0100600);
    assert_true(has(&a, "memory.pg.password_in_config", CL_AUDIT_INFO));
    assert_null(cl_audit_find(&a, "memory.pg.password_exposed"));
    assert_true(has(&a, "memory.pg.remote", CL_AUDIT_INFO));
    assert_null(cl_audit_find(&a, "memory.pg.plaintext"));
    cl_audit_free(&a);

    cl_audit_init(&a);
    cl_audit_memory_pg(&a, "host=/run/postgresql dbname=notes", "/c.json", 0100600);
    assert_int_equal(a.count, 0); /* a local socket, no password: nothing to say */
    cl_audit_memory_pg(&a, "postgresql://localhost/notes", "/c.json", 0100600);
    cl_audit_memory_pg(&a, "postgresql://127.0.0.1:5433/notes", "/c.json", 0100600);
    assert_int_equal(a.count, 0);
    cl_audit_memory_pg(&a, "postgresql://[", "/c.json", 0100600);
    assert_true(has(&a, "memory.pg.url_invalid", CL_AUDIT_WARN));
    cl_audit_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_openclaw_paths),
        cmocka_unit_test(test_token_strength),
        cmocka_unit_test(test_secret_names),
        cmocka_unit_test(test_openclaw_bind_and_auth),
        cmocka_unit_test(test_openclaw_exposure),
        cmocka_unit_test(test_other_owner),
        cmocka_unit_test(test_openclaw_logging_and_exec),
        cmocka_unit_test(test_exec_approvals),
        cmocka_unit_test(test_relay_url),
        cmocka_unit_test(test_memory_pg),
        cmocka_unit_test(test_capabilities),
        cmocka_unit_test(test_shell_env),
        cmocka_unit_test(test_files_and_fix),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests for src/agent/config.c: the agent's config file on disk. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/config.h"
#include "core/err.h"
#include "core/secret.h"

struct fixture {
    char dir[1024];
    char path[PATH_MAX];
};

static int rm_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return 0;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        struct dirent *e;
        char child[PATH_MAX];
        while (d && (e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            snprintf(child, sizeof child, "%s/%s", path, e->d_name);
            rm_tree(child);
        }
        if (d)
            closedir(d);
        return rmdir(path);
    }
    return unlink(path);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    const char *tmp = getenv("TMPDIR");
    snprintf(f->dir, sizeof f->dir, "%s/cl-agent-config-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->path, sizeof f->path, "%s/agent.json", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    rm_tree(f->dir);
    free(f);
    return 0;
}

static void sample(struct cl_agent_config *c)
{
    memset(c, 0, sizeof *c);
    snprintf(c->device_id, sizeof c->device_id, "%s", "0b7e6f9c-2a31-4d5e-8f10-123456789abc");
    snprintf(c->token, sizeof c->token, "%s", "cld_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    snprintf(c->relay_url, sizeof c->relay_url, "%s", "wss://relay.example.com");
    snprintf(c->name, sizeof c->name, "%s", "build box");
}

static void write_file(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    assert_int_equal(fchmod(fd, mode), 0);
    close(fd);
}

static void test_round_trip(void **state)
{
    struct fixture *f = *state;
    struct cl_agent_config in, out;
    char err[256];

    sample(&in);
    assert_int_equal(cl_agent_config_save(f->path, &in, err, sizeof err), 0);
    assert_int_equal(cl_agent_config_load(f->path, &out, err, sizeof err), 0);
    assert_string_equal(out.device_id, in.device_id);
    assert_string_equal(out.token, in.token);
    assert_string_equal(out.relay_url, in.relay_url);
    assert_string_equal(out.name, in.name);

    /* Saving again replaces the file atomically. */
    snprintf(in.relay_url, sizeof in.relay_url, "%s", "ws://127.0.0.1:8080");
    assert_int_equal(cl_agent_config_save(f->path, &in, err, sizeof err), 0);
    assert_int_equal(cl_agent_config_load(f->path, &out, err, sizeof err), 0);
    assert_string_equal(out.relay_url, "ws://127.0.0.1:8080");
    cl_agent_config_wipe(&out);
    assert_int_equal(out.token[0], 0);
}

/* Re-pairing replaces the credentials and keeps the rest of the file. */
static void test_save_keeps_other_keys(void **state)
{
    struct fixture *f = *state;
    struct cl_agent_config in;
    char err[256], buf[4096];
    ssize_t n;
    int fd;

    write_file(f->path,
               "{\"device_id\":\"old\",\"token\":\"cld_OLDOLDOLD\",\"relay_url\":\"ws://x\","
               "\"name\":\"n\",\"capabilities\":[\"chat\"],\"openclaw\":{\"port\":18789}}",
               0600);
    sample(&in);
    assert_int_equal(cl_agent_config_save(f->path, &in, err, sizeof err), 0);
    fd = open(f->path, O_RDONLY);
    assert_true(fd >= 0);
    n = read(fd, buf, sizeof buf - 1);
    close(fd);
    assert_true(n > 0);
    buf[n] = 0;
    assert_non_null(strstr(buf, "\"capabilities\""));
    assert_non_null(strstr(buf, "\"openclaw\""));
    assert_non_null(strstr(buf, "18789"));
    assert_non_null(strstr(buf, in.token));
    assert_null(strstr(buf, "OLDOLDOLD"));
    assert_null(strstr(buf, "\"old\""));
}

static void test_mode_0600_and_no_temp_left(void **state)
{
    struct fixture *f = *state;
    struct cl_agent_config in;
    struct stat st;
    char err[256];
    mode_t old = umask(0); /* even with a permissive umask */

    sample(&in);
    assert_int_equal(cl_agent_config_save(f->path, &in, err, sizeof err), 0);
    umask(old);
    assert_int_equal(stat(f->path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);

    DIR *d = opendir(f->dir);
    struct dirent *e;
    int entries = 0;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            entries++;
    closedir(d);
    assert_int_equal(entries, 1);
}

static void test_creates_dirs_0700(void **state)
{
    struct fixture *f = *state;
    struct cl_agent_config in, out;
    char path[PATH_MAX], sub[2048], err[256];
    struct stat st;

    snprintf(sub, sizeof sub, "%s/a/clawlink", f->dir);
    snprintf(path, sizeof path, "%s/agent.json", sub);
    sample(&in);
    assert_int_equal(cl_agent_config_save(path, &in, err, sizeof err), 0);
    assert_int_equal(stat(sub, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0700);
    snprintf(sub, sizeof sub, "%s/a", f->dir);
    assert_int_equal(stat(sub, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0700);
    assert_int_equal(cl_agent_config_load(path, &out, err, sizeof err), 0);
}

static void test_refuses_group_or_other_bits(void **state)
{
    struct fixture *f = *state;
    struct cl_agent_config in, out;
    char err[512];

    sample(&in);
    assert_int_equal(cl_agent_config_save(f->path, &in, err, sizeof err), 0);
    assert_int_equal(chmod(f->path, 0644), 0);
    assert_int_equal(cl_agent_config_load(f->path, &out, err, sizeof err), CL_EFORBIDDEN);
    assert_non_null(strstr(err, f->path));
    assert_non_null(strstr(err, "chmod 600"));
    assert_null(strstr(err, in.token));
    assert_int_equal(out.token[0], 0);

    assert_int_equal(chmod(f->path, 0640), 0);
    assert_int_equal(cl_agent_config_load(f->path, &out, err, sizeof err), CL_EFORBIDDEN);
    assert_int_equal(chmod(f->path, 0604), 0);
    assert_int_equal(cl_agent_config_load(f->path, &out, err, sizeof err), CL_EFORBIDDEN);
    assert_int_equal(chmod(f->path, 0400), 0);
    assert_int_equal(cl_agent_config_load(f->path, &out, err, sizeof err), 0);
}

/* A symbolic link, a file of another user, a directory others can write:
 * each could hand the agent someone else's relay and token. */
static void test_refuses_links_strangers_and_open_dirs(void **state)
{
    struct fixture *f = *state;
    struct cl_agent_config in, out;
    char err[512], link[PATH_MAX + 16], open_dir[PATH_MAX], inner[PATH_MAX + 16];

    sample(&in);
    assert_int_equal(cl_agent_config_save(f->path, &in, err, sizeof err), 0);
    snprintf(link, sizeof link, "%s/link.json", f->dir);
    assert_int_equal(symlink(f->path, link), 0);
    assert_int_equal(cl_agent_config_load(link, &out, err, sizeof err), CL_EFORBIDDEN);
    assert_non_null(strstr(err, "symbolic link"));

    /* in a directory any user may write (not sticky) */
    snprintf(open_dir, sizeof open_dir, "%s/open", f->dir);
    assert_int_equal(mkdir(open_dir, 0700), 0);
    snprintf(inner, sizeof inner, "%s/agent.json", open_dir);
    assert_int_equal(cl_agent_config_save(inner, &in, err, sizeof err), 0);
    assert_int_equal(cl_agent_config_load(inner, &out, err, sizeof err), 0);
    assert_int_equal(chmod(open_dir, 0777), 0);
    assert_int_equal(cl_agent_config_load(inner, &out, err, sizeof err), CL_EFORBIDDEN);
    assert_non_null(strstr(err, "can be written by other users (mode 0777)"));
    assert_null(strstr(err, in.token));
    /* sticky, like /tmp: an entry only its owner may replace */
    assert_int_equal(chmod(open_dir, 01777), 0);
    assert_int_equal(cl_agent_config_load(inner, &out, err, sizeof err), 0);
    assert_int_equal(chmod(open_dir, 0700), 0);

    /* another user's file (only root can make one to test with) */
    if (geteuid() == 0) {
        assert_int_equal(chown(f->path, 65534, 65534), 0);
        assert_int_equal(cl_agent_config_load(f->path, &out, err, sizeof err), CL_EFORBIDDEN);
        assert_non_null(strstr(err, "belongs to uid 65534"));
        assert_int_equal(chown(f->path, 0, 0), 0);
    }
}

static void test_url_insecure(void **state)
{
    (void)state;
    assert_true(cl_agent_url_insecure("ws://relay.example.com"));
    assert_true(cl_agent_url_insecure("ws://10.0.0.5:8080/base"));
    assert_true(cl_agent_url_insecure("http://relay.example.com/functions/v1"));
    assert_true(cl_agent_url_insecure("ws://[2001:db8::1]:80"));
    assert_true(cl_agent_url_insecure("ws://localhost.example.com"));
    assert_false(cl_agent_url_insecure("wss://relay.example.com"));
    assert_false(cl_agent_url_insecure("https://relay.example.com"));
    assert_false(cl_agent_url_insecure("ws://127.0.0.1:8080"));
    assert_false(cl_agent_url_insecure("ws://127.3.4.5"));
    assert_false(cl_agent_url_insecure("ws://localhost:8080/x"));
    assert_false(cl_agent_url_insecure("ws://LOCALHOST"));
    assert_false(cl_agent_url_insecure("ws://[::1]:8080"));
}

static void test_missing_file(void **state)
{
    struct fixture *f = *state;
    struct cl_agent_config out;
    char err[256];
    assert_int_equal(cl_agent_config_load(f->path, &out, err, sizeof err), CL_ENOTFOUND);
    assert_non_null(strstr(err, f->path));
}

static void test_malformed_json(void **state)
{
    struct fixture *f = *state;
    struct cl_agent_config out;
    char err[256];

    write_file(f->path, "{\"device_id\": \"abc\", ", 0600);
    assert_int_equal(cl_agent_config_load(f->path, &out, err, sizeof err), CL_EINVAL);
    assert_non_null(strstr(err, "malformed JSON"));

    write_file(f->path, "[1, 2]", 0600);
    assert_int_equal(cl_agent_config_load(f->path, &out, err, sizeof err), CL_EINVAL);

    write_file(f->path, "", 0600);
    assert_int_equal(cl_agent_config_load(f->path, &out, err, sizeof err), CL_EINVAL);
}

static void test_missing_fields(void **state)
{
    struct fixture *f = *state;
    struct cl_agent_config out;
    char err[256];

    write_file(f->path, "{\"token\":\"cld_x\",\"relay_url\":\"ws://h\"}", 0600);
    assert_int_equal(cl_agent_config_load(f->path, &out, err, sizeof err), CL_EINVAL);
    assert_non_null(strstr(err, "device_id"));

    write_file(f->path, "{\"device_id\":\"d1\",\"relay_url\":\"ws://h\"}", 0600);
    assert_int_equal(cl_agent_config_load(f->path, &out, err, sizeof err), CL_EINVAL);
    assert_non_null(strstr(err, "token"));

    write_file(f->path, "{\"device_id\":\"d1\",\"token\":\"cld_x\"}", 0600);
    assert_int_equal(cl_agent_config_load(f->path, &out, err, sizeof err), CL_EINVAL);
    assert_non_null(strstr(err, "relay_url"));

    /* name is optional */
    write_file(f->path, "{\"device_id\":\"d1\",\"token\":\"cld_x\",\"relay_url\":\"ws://h\"}",
               0600);
    assert_int_equal(cl_agent_config_load(f->path, &out, err, sizeof err), 0);
    assert_string_equal(out.name, "");

    /* wrong type */
    write_file(f->path, "{\"device_id\":7,\"token\":\"cld_x\",\"relay_url\":\"ws://h\"}", 0600);
    assert_int_equal(cl_agent_config_load(f->path, &out, err, sizeof err), CL_EINVAL);
}

static void test_invalid_fields(void **state)
{
    struct fixture *f = *state;
    struct cl_agent_config c, out;
    char err[256], big[CL_TOKEN_MAX + 40], text[512];

    sample(&c);
    snprintf(c.relay_url, sizeof c.relay_url, "%s", "https://relay.example.com");
    assert_int_equal(cl_agent_config_validate(&c, err, sizeof err), CL_EINVAL);
    assert_non_null(strstr(err, "relay_url"));
    assert_int_equal(cl_agent_config_save(f->path, &c, err, sizeof err), CL_EINVAL);
    assert_int_equal(access(f->path, F_OK), -1); /* nothing written */

    sample(&c);
    snprintf(c.device_id, sizeof c.device_id, "%s", "has space");
    assert_int_equal(cl_agent_config_validate(&c, err, sizeof err), CL_EINVAL);
    assert_non_null(strstr(err, "device_id"));

    sample(&c);
    c.token[0] = 0;
    assert_int_equal(cl_agent_config_validate(&c, err, sizeof err), CL_EINVAL);

    /* a token longer than CL_TOKEN_MAX on disk is refused */
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = 0;
    snprintf(text, sizeof text, "{\"device_id\":\"d1\",\"token\":\"%s\",\"relay_url\":\"ws://h\"}",
             big);
    write_file(f->path, text, 0600);
    assert_int_equal(cl_agent_config_load(f->path, &out, err, sizeof err), CL_EINVAL);
    assert_non_null(strstr(err, "token"));
    assert_null(strstr(err, big));

    write_file(f->path, "{\"device_id\":\"d/1\",\"token\":\"t\",\"relay_url\":\"ws://h\"}", 0600);
    assert_int_equal(cl_agent_config_load(f->path, &out, err, sizeof err), CL_EINVAL);

    write_file(f->path, "{\"device_id\":\"d1\",\"token\":\"t\",\"relay_url\":\"http://h\"}", 0600);
    assert_int_equal(cl_agent_config_load(f->path, &out, err, sizeof err), CL_EINVAL);
}

static void test_default_path(void **state)
{
    char out[PATH_MAX], err[256];
    char *old_xdg = getenv("XDG_CONFIG_HOME") ? strdup(getenv("XDG_CONFIG_HOME")) : NULL;
    char *old_home = getenv("HOME") ? strdup(getenv("HOME")) : NULL;
    (void)state;

    setenv("XDG_CONFIG_HOME", "/xdg/conf", 1);
    assert_int_equal(cl_agent_config_default_path(out, sizeof out, err, sizeof err), 0);
    assert_string_equal(out, "/xdg/conf/clawlink/agent.json");

    unsetenv("XDG_CONFIG_HOME");
    setenv("HOME", "/home/someone", 1);
    assert_int_equal(cl_agent_config_default_path(out, sizeof out, err, sizeof err), 0);
    assert_string_equal(out, "/home/someone/.config/clawlink/agent.json");

    /* a relative XDG_CONFIG_HOME is ignored, as the spec says */
    setenv("XDG_CONFIG_HOME", "relative", 1);
    assert_int_equal(cl_agent_config_default_path(out, sizeof out, err, sizeof err), 0);
    assert_string_equal(out, "/home/someone/.config/clawlink/agent.json");

    assert_int_equal(cl_agent_config_default_path(out, 8, err, sizeof err), CL_ELIMIT);

    if (old_xdg)
        setenv("XDG_CONFIG_HOME", old_xdg, 1);
    else
        unsetenv("XDG_CONFIG_HOME");
    if (old_home)
        setenv("HOME", old_home, 1);
    else
        unsetenv("HOME");
    free(old_xdg);
    free(old_home);
}

/* files_read_roots (docs/chat.md "Files"): absent is the default; an
 * array of absolute paths; anything else refused with a reason. */
static void test_files_read_roots(void **state)
{
    static struct cl_agent_files_config fc;
    char err[512];
    (void)state;
#define FC_PARSE(json) cl_agent_files_config_parse(json, strlen(json), "t", &fc, err, sizeof err)
    assert_int_equal(FC_PARSE("{}"), 0);
    assert_false(fc.set);
    assert_int_equal(FC_PARSE("{\"files_read_roots\":[\"/srv/data\",\"/tmp\"]}"), 0);
    assert_true(fc.set);
    assert_int_equal(fc.nroots, 2);
    assert_string_equal(fc.roots[0], "/srv/data");
    assert_int_equal(FC_PARSE("{\"files_read_roots\":[]}"), 0);
    assert_true(fc.set);
    assert_int_equal(fc.nroots, 0);
    assert_int_equal(FC_PARSE("{\"files_read_roots\":\"/tmp\"}"), CL_EINVAL);
    assert_int_equal(FC_PARSE("{\"files_read_roots\":[\"relative\"]}"), CL_EINVAL);
    assert_non_null(strstr(err, "files_read_roots[0]"));
    assert_int_equal(FC_PARSE("{\"files_read_roots\":[1]}"), CL_EINVAL);
    assert_false(fc.set);
#undef FC_PARSE
}

/* memory_provider / memory_pg_url (docs/chat.md "Memory providers"): the
 * built-in provider by default; postgres needs a connection string, from
 * the config or the environment; errors never echo the string. */
static void test_memory_provider(void **state)
{
    struct cl_agent_memory_config mc;
    char err[512];
    (void)state;

#define MC_PARSE(json, env)                                                                        \
    cl_agent_memory_config_parse(json, strlen(json), "t", env, &mc, err, sizeof err)
    assert_int_equal(MC_PARSE("{}", NULL), 0);
    assert_int_equal(mc.provider, CL_AGENT_MEMORY_BUILTIN);
    assert_string_equal(mc.pg_url, "");
    assert_int_equal(
        MC_PARSE("{\"memory_provider\":\"builtin\",\"memory_pg_url\":\"x\"}", "postgresql://e/db"),
        0);
    assert_int_equal(mc.provider, CL_AGENT_MEMORY_BUILTIN);
    assert_string_equal(mc.pg_url, "");

    assert_int_equal(MC_PARSE("{\"memory_provider\":\"postgres\","
                              "\"memory_pg_url\":\"postgresql://u:pw@h/db\"}",
                              "postgresql://e/db"),
                     0);
    assert_int_equal(mc.provider, CL_AGENT_MEMORY_POSTGRES);
    assert_string_equal(mc.pg_url, "postgresql://u:pw@h/db"); /* the config wins */
    assert_false(mc.pg_url_from_env);
    assert_int_equal(MC_PARSE("{\"memory_provider\":\"postgres\"}", "postgresql://e/db"), 0);
    assert_string_equal(mc.pg_url, "postgresql://e/db");
    assert_true(mc.pg_url_from_env);

    assert_int_equal(MC_PARSE("{\"memory_provider\":\"postgres\"}", NULL), CL_EINVAL);
    assert_non_null(strstr(err, "memory_pg_url"));
    assert_non_null(strstr(err, "CLAWLINK_MEMORY_PG_URL"));
    assert_int_equal(MC_PARSE("{\"memory_provider\":\"qdrant\"}", NULL), CL_EINVAL);
    assert_non_null(strstr(err, "memory_provider"));
    assert_int_equal(MC_PARSE("{\"memory_provider\":\"postgres\",\"memory_pg_url\":7}", NULL),
                     CL_EINVAL);
    {
        char big[CL_MEMORY_PG_URL_MAX + 64];
        int n = snprintf(big, sizeof big, "{\"memory_provider\":\"postgres\",\"memory_pg_url\":\"");
        memset(big + n, 's', CL_MEMORY_PG_URL_MAX + 1);
        snprintf(big + n + CL_MEMORY_PG_URL_MAX + 1,
                 sizeof big - (size_t)n - CL_MEMORY_PG_URL_MAX - 1, "\"}");
        assert_int_equal(MC_PARSE(big, NULL), CL_EINVAL);
        assert_null(strstr(err, "sss"));
    }
#undef MC_PARSE
}

/* Loaded from the file as the agent loads it: refused when others can
 * read it (it may hold a password as it holds the device token). */
static void test_memory_provider_load(void **state)
{
    struct fixture *f = *state;
    struct cl_agent_memory_config mc;
    char err[512];

    write_file(f->path, "{\"memory_provider\":\"postgres\",\"memory_pg_url\":\"host=/run/pg\"}",
               0600);
    assert_int_equal(cl_agent_memory_config_load(f->path, &mc, err, sizeof err), 0);
    assert_int_equal(mc.provider, CL_AGENT_MEMORY_POSTGRES);
    assert_string_equal(mc.pg_url, "host=/run/pg");
    cl_agent_memory_config_wipe(&mc);
    assert_int_equal(mc.pg_url[0], 0);
    assert_int_equal(chmod(f->path, 0644), 0);
    assert_int_equal(cl_agent_memory_config_load(f->path, &mc, err, sizeof err), CL_EFORBIDDEN);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_save_keeps_other_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mode_0600_and_no_temp_left, setup, teardown),
        cmocka_unit_test_setup_teardown(test_creates_dirs_0700, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refuses_group_or_other_bits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refuses_links_strangers_and_open_dirs, setup,
                                        teardown),
        cmocka_unit_test(test_url_insecure),
        cmocka_unit_test_setup_teardown(test_missing_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_json, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_fields, setup, teardown),
        cmocka_unit_test(test_default_path),
        cmocka_unit_test(test_memory_provider),
        cmocka_unit_test(test_files_read_roots),
        cmocka_unit_test_setup_teardown(test_memory_provider_load, setup, teardown),
    };
    if (cl_secret_init() != 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Unit tests for src/relay/webauth.c: the Cookie header parser, CSRF token
 * derivation and comparison, the same-origin check and loopback
 * addresses; and the store ops web sign-in adds (relay secrets, one-time
 * sign-in codes) against a real SQLite file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/err.h"
#include "core/log.h"
#include "core/secret.h"
#include "relay/store.h"
#include "relay/store_check.h"
#include "relay/webauth.h"

static int cookie(const char *hdr, char *out, size_t outlen)
{
    return cl_webauth_cookie_get(hdr, strlen(hdr), CL_SESSION_COOKIE, out, outlen);
}

static void test_cookie_parse(void **state)
{
    char v[64];
    (void)state;
    assert_int_equal(cookie("cl_session=clu_abc", v, sizeof v), 0);
    assert_string_equal(v, "clu_abc");
    assert_int_equal(cookie("a=1; cl_session=clu_x-y_z; b=2", v, sizeof v), 0);
    assert_string_equal(v, "clu_x-y_z");
    assert_int_equal(cookie("a=1;cl_session=t2;b=2", v, sizeof v), 0);
    assert_string_equal(v, "t2");
    assert_int_equal(cookie("  cl_session = t3 ;", v, sizeof v), 0);
    assert_string_equal(v, "t3");
    assert_int_equal(cookie("cl_session=\"quoted\"", v, sizeof v), 0);
    assert_string_equal(v, "quoted");
    /* the first of repeated names wins (the most specific path) */
    assert_int_equal(cookie("cl_session=first; cl_session=second", v, sizeof v), 0);
    assert_string_equal(v, "first");
    /* an empty value is a value */
    assert_int_equal(cookie("cl_session=", v, sizeof v), 0);
    assert_string_equal(v, "");
    /* names compare exactly */
    assert_int_equal(cookie("xcl_session=a; cl_sessionx=b; CL_SESSION=c", v, sizeof v),
                     CL_ENOTFOUND);
    assert_int_equal(cookie("", v, sizeof v), CL_ENOTFOUND);
    assert_int_equal(cookie(";;;", v, sizeof v), CL_ENOTFOUND);
    assert_int_equal(cookie("cl_session", v, sizeof v), CL_ENOTFOUND);
    /* a value that does not fit */
    assert_int_equal(cookie("cl_session=0123456789", v, 10), CL_ELIMIT);
    assert_int_equal(cookie("cl_session=012345678", v, 10), 0);
    /* controls, spaces inside, quotes, commas, backslashes: refused */
    assert_int_equal(cookie("cl_session=a b", v, sizeof v), CL_EINVAL);
    assert_int_equal(cookie("cl_session=a\x01", v, sizeof v), CL_EINVAL);
    assert_int_equal(cookie("cl_session=a\"b", v, sizeof v), CL_EINVAL);
    assert_int_equal(cookie("cl_session=a,b", v, sizeof v), CL_EINVAL);
    assert_int_equal(cookie("cl_session=\"", v, sizeof v), CL_EINVAL);
}

static void test_cookie_bounds(void **state)
{
    char hdr[CL_COOKIE_PAIRS_MAX * 6 + 64], v[32];
    size_t n = 0;
    (void)state;
    /* the pair after CL_COOKIE_PAIRS_MAX others is not looked at */
    for (int i = 0; i < CL_COOKIE_PAIRS_MAX; i++)
        n += (size_t)snprintf(hdr + n, sizeof hdr - n, "a=1; ");
    snprintf(hdr + n, sizeof hdr - n, "cl_session=late");
    assert_int_equal(cookie(hdr, v, sizeof v), CL_ENOTFOUND);
    /* len is respected: no NUL needed, nothing read past it */
    assert_int_equal(cl_webauth_cookie_get("cl_session=abcdef", 13, CL_SESSION_COOKIE, v, sizeof v),
                     0);
    assert_string_equal(v, "ab");
    assert_int_equal(cl_webauth_cookie_get("cl_session=abc", 5, CL_SESSION_COOKIE, v, sizeof v),
                     CL_ENOTFOUND);
    assert_int_equal(cl_webauth_cookie_get(NULL, 0, CL_SESSION_COOKIE, v, sizeof v), CL_ENOTFOUND);
}

/* The two names never stand in for each other: a relay under TLS reads
 * only __Host-cl_session, so a plain cl_session planted by a sibling
 * subdomain or an http answer is not its session (webauth.h). */
static void test_cookie_host_prefix(void **state)
{
    const char *both = "cl_session=planted; __Host-cl_session=real";
    char v[32];
    (void)state;
    assert_int_equal(
        cl_webauth_cookie_get(both, strlen(both), CL_SESSION_COOKIE_SECURE, v, sizeof v), 0);
    assert_string_equal(v, "real");
    assert_int_equal(cl_webauth_cookie_get(both, strlen(both), CL_SESSION_COOKIE, v, sizeof v), 0);
    assert_string_equal(v, "planted");
    assert_int_equal(
        cl_webauth_cookie_get("__Host-cl_session=x", 19, CL_SESSION_COOKIE, v, sizeof v),
        CL_ENOTFOUND);
    assert_int_equal(
        cl_webauth_cookie_get("cl_session=x", 12, CL_SESSION_COOKIE_SECURE, v, sizeof v),
        CL_ENOTFOUND);
}

static void test_csrf_token(void **state)
{
    uint8_t key[CL_HASH_LEN], key2[CL_HASH_LEN], th[CL_HASH_LEN], th2[CL_HASH_LEN];
    char a[CL_CSRF_TOKEN_LEN + 1], b[CL_CSRF_TOKEN_LEN + 1], bad[CL_CSRF_TOKEN_LEN + 2];
    (void)state;
    memset(key, 1, sizeof key);
    memset(key2, 2, sizeof key2);
    cl_hash_str("clu_session-one", th);
    cl_hash_str("clu_session-two", th2);
    cl_webauth_csrf_token(key, th, a);
    assert_int_equal(strlen(a), CL_CSRF_TOKEN_LEN);
    /* derived: the same inputs give the same token (a restart keeps it) */
    cl_webauth_csrf_token(key, th, b);
    assert_string_equal(a, b);
    /* bound to the session and to the key */
    cl_webauth_csrf_token(key, th2, b);
    assert_string_not_equal(a, b);
    cl_webauth_csrf_token(key2, th, b);
    assert_string_not_equal(a, b);
    /* base64url: nothing a header would mangle */
    assert_int_equal(strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
                     CL_CSRF_TOKEN_LEN);

    assert_true(cl_webauth_csrf_ok(key, th, a));
    assert_false(cl_webauth_csrf_ok(key, th2, a));
    assert_false(cl_webauth_csrf_ok(key2, th, a));
    assert_false(cl_webauth_csrf_ok(key, th, NULL));
    assert_false(cl_webauth_csrf_ok(key, th, ""));
    memcpy(bad, a, sizeof a);
    bad[CL_CSRF_TOKEN_LEN - 1] = bad[CL_CSRF_TOKEN_LEN - 1] == 'A' ? 'B' : 'A';
    assert_false(cl_webauth_csrf_ok(key, th, bad));
    memcpy(bad, a, CL_CSRF_TOKEN_LEN);
    bad[CL_CSRF_TOKEN_LEN] = 'x';
    bad[CL_CSRF_TOKEN_LEN + 1] = 0;
    assert_false(cl_webauth_csrf_ok(key, th, bad)); /* a longer one */
    bad[CL_CSRF_TOKEN_LEN - 1] = 0;
    assert_false(cl_webauth_csrf_ok(key, th, bad)); /* a prefix */
}

static void test_origin(void **state)
{
    (void)state;
    assert_true(cl_webauth_origin_same("http://127.0.0.1:8080", "127.0.0.1:8080", false, NULL));
    assert_true(cl_webauth_origin_same("HTTP://LocalHost:8080", "localhost:8080", false, NULL));
    assert_true(
        cl_webauth_origin_same("https://relay.example.com", "relay.example.com", true, NULL));
    /* a default port written on one side only */
    assert_true(
        cl_webauth_origin_same("https://relay.example.com", "relay.example.com:443", true, NULL));
    assert_true(cl_webauth_origin_same("http://h:80", "h", false, NULL));
    assert_true(cl_webauth_origin_same("http://[::1]:8080", "[::1]:8080", false, NULL));
    /* scheme follows TLS */
    assert_false(
        cl_webauth_origin_same("http://relay.example.com", "relay.example.com", true, NULL));
    assert_false(cl_webauth_origin_same("https://h:8080", "h:8080", false, NULL));
    /* another host or port */
    assert_false(cl_webauth_origin_same("http://evil.example:8080", "127.0.0.1:8080", false, NULL));
    assert_false(cl_webauth_origin_same("http://127.0.0.1:8081", "127.0.0.1:8080", false, NULL));
    assert_false(cl_webauth_origin_same("http://127.0.0.1", "127.0.0.1:8080", false, NULL));
    assert_false(cl_webauth_origin_same("http://[::1]", "[::1]:8080", false, NULL));
    /* not an origin at all */
    assert_false(cl_webauth_origin_same("null", "h", false, NULL));
    assert_false(cl_webauth_origin_same("", "h", false, NULL));
    assert_false(cl_webauth_origin_same(NULL, "h", false, NULL));
    assert_false(cl_webauth_origin_same("http://h/path", "h", false, NULL));
    assert_false(cl_webauth_origin_same("http://", "", false, NULL));
    assert_false(cl_webauth_origin_same("http://user@h", "user@h", false, NULL));
    assert_false(cl_webauth_origin_same("ftp://h", "h", false, NULL));
    assert_false(cl_webauth_origin_same("ws://h", "h", false, NULL)); /* found by fuzz_webauth */
    assert_false(cl_webauth_origin_same("http://h", NULL, false, NULL));
    assert_false(cl_webauth_origin_same("http://h", "", false, NULL));
    /* the public URL's origin (a TLS-terminating proxy in front) */
    assert_true(cl_webauth_origin_same("https://relay.example.com", "127.0.0.1:8080", false,
                                       "https://relay.example.com/"));
    assert_true(cl_webauth_origin_same("https://relay.example.com", "127.0.0.1:8080", false,
                                       "wss://Relay.Example.com"));
    assert_false(cl_webauth_origin_same("https://evil.example", "127.0.0.1:8080", false,
                                        "https://relay.example.com"));
    /* overlong */
    {
        char o[CL_ORIGIN_MAX + 32];
        memset(o, 'a', sizeof o - 1);
        o[sizeof o - 1] = 0;
        memcpy(o, "http://", 7);
        assert_false(cl_webauth_origin_same(o, o + 7, false, NULL));
    }
}

static void test_loopback(void **state)
{
    (void)state;
    assert_true(cl_webauth_addr_loopback("127.0.0.1"));
    assert_true(cl_webauth_addr_loopback("127.1.2.3"));
    assert_true(cl_webauth_addr_loopback("::1"));
    assert_true(cl_webauth_addr_loopback("::ffff:127.0.0.1"));
    assert_false(cl_webauth_addr_loopback("128.0.0.1"));
    assert_false(cl_webauth_addr_loopback("10.0.0.1"));
    assert_false(cl_webauth_addr_loopback("::ffff:10.0.0.1"));
    assert_false(cl_webauth_addr_loopback("127."));
    assert_false(cl_webauth_addr_loopback("127.evil"));
    assert_false(cl_webauth_addr_loopback("::2"));
    assert_false(cl_webauth_addr_loopback(""));
    assert_false(cl_webauth_addr_loopback(NULL));
}

/* ---- store: relay secrets and one-time codes ------------------------------ */

struct fx {
    char dir[64];
    struct cl_store s;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    char err[256] = "";
    cl_log_set_level(CL_LOG_ERROR);
    assert_int_equal(cl_secret_init(), 0);
    snprintf(f->dir, sizeof f->dir, "/tmp/cl-webauth-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    assert_int_equal(cl_store_open_sqlite(&f->s, f->dir, err, sizeof err), 0);
    cl_store_check_wrap(&f->s); /* the checks cl_store_open adds */
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    char cmd[128];
    f->s.ops->close(&f->s);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static void add_user(struct cl_store *s, struct cl_user *u, const char *email)
{
    memset(u, 0, sizeof *u);
    cl_uuid_new(u->id);
    snprintf(u->email, sizeof u->email, "%s", email);
    snprintf(u->pw_hash, sizeof u->pw_hash, "x");
    u->created_at = 1000;
    assert_int_equal(s->ops->user_create(s, u), 0);
}

static void test_store_secret(void **state)
{
    struct fx *f = *state;
    uint8_t a[CL_HASH_LEN], b[CL_HASH_LEN], out[CL_HASH_LEN], out2[CL_HASH_LEN];
    char err[256] = "";
    memset(a, 0xaa, sizeof a);
    memset(b, 0xbb, sizeof b);
    assert_int_equal(f->s.ops->secret_get(&f->s, "csrf", a, out), 0);
    assert_memory_equal(out, a, sizeof a);
    /* the first one stays */
    assert_int_equal(f->s.ops->secret_get(&f->s, "csrf", b, out), 0);
    assert_memory_equal(out, a, sizeof a);
    assert_int_equal(f->s.ops->secret_get(&f->s, "other", b, out2), 0);
    assert_memory_equal(out2, b, sizeof b);
    /* and survives a reopen */
    f->s.ops->close(&f->s);
    assert_int_equal(cl_store_open_sqlite(&f->s, f->dir, err, sizeof err), 0);
    cl_store_check_wrap(&f->s); /* the checks cl_store_open adds */
    assert_int_equal(f->s.ops->secret_get(&f->s, "csrf", b, out), 0);
    assert_memory_equal(out, a, sizeof a);
}

static void test_store_signin_codes(void **state)
{
    struct fx *f = *state;
    struct cl_user u, v;
    uint8_t h1[CL_HASH_LEN], h2[CL_HASH_LEN], h3[CL_HASH_LEN];
    char uid[CL_UUID_LEN + 1];
    int64_t n = -1;

    assert_int_equal(f->s.ops->user_count(&f->s, &n), 0);
    assert_int_equal(n, 0);
    add_user(&f->s, &u, "a@example.test");
    add_user(&f->s, &v, "b@example.test");
    assert_int_equal(f->s.ops->user_count(&f->s, &n), 0);
    assert_int_equal(n, 2);

    cl_hash_str("clo_one", h1);
    cl_hash_str("clo_two", h2);
    cl_hash_str("clo_three", h3);
    assert_int_equal(f->s.ops->signin_code_create(&f->s, h1, u.id, 100, 200), 0);
    assert_int_equal(f->s.ops->signin_code_create(&f->s, h2, v.id, 100, 150), 0);
    assert_int_equal(f->s.ops->signin_code_create(&f->s, h1, u.id, 100, 200), CL_EEXIST);
    /* unknown */
    assert_int_equal(f->s.ops->signin_code_consume(&f->s, h3, 120, uid), CL_ENOTFOUND);
    /* single use */
    assert_int_equal(f->s.ops->signin_code_consume(&f->s, h1, 120, uid), 0);
    assert_string_equal(uid, u.id);
    assert_int_equal(f->s.ops->signin_code_consume(&f->s, h1, 120, uid), CL_ENOTFOUND);
    /* expired: refused, and gone */
    assert_int_equal(f->s.ops->signin_code_consume(&f->s, h2, 150, uid), CL_EEXPIRED);
    assert_int_equal(f->s.ops->signin_code_consume(&f->s, h2, 100, uid), CL_ENOTFOUND);
    /* creating a code drops expired ones; a deleted user's codes go */
    assert_int_equal(f->s.ops->signin_code_create(&f->s, h3, v.id, 300, 400), 0);
    assert_int_equal(f->s.ops->user_delete(&f->s, v.id, 310, NULL), 0);
    assert_int_equal(f->s.ops->signin_code_consume(&f->s, h3, 320, uid), CL_ENOTFOUND);
    assert_int_equal(f->s.ops->signin_code_create(&f->s, NULL, u.id, 1, 2), CL_EINVAL);
    /* no such user (the foreign key) */
    assert_int_equal(f->s.ops->signin_code_create(&f->s, h1, "no-such-user", 1, 2), CL_ENOTFOUND);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cookie_parse),
        cmocka_unit_test(test_cookie_bounds),
        cmocka_unit_test(test_cookie_host_prefix),
        cmocka_unit_test(test_csrf_token),
        cmocka_unit_test(test_origin),
        cmocka_unit_test(test_loopback),
        cmocka_unit_test_setup_teardown(test_store_secret, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_signin_codes, setup, teardown),
    };
    assert_int_equal(cl_secret_init(), 0);
    return cmocka_run_group_tests(tests, NULL, NULL);
}

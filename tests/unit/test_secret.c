/*
 * Unit tests for src/core/secret.c: token format, SHA-256 vectors,
 * constant-time equality, UUIDs, and pairing codes and their normalisation.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/err.h"
#include "core/secret.h"

#define N_RANDOM 500

static void hex(const uint8_t *h, char out[2 * CL_HASH_LEN + 1])
{
    for (int i = 0; i < CL_HASH_LEN; i++)
        snprintf(out + 2 * i, 3, "%02x", h[i]);
}

static bool in_set(char c, const char *set)
{
    return c && strchr(set, c) != NULL;
}

static void check_token(const char *t, const char *prefix)
{
    static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    assert_int_equal(strlen(t), CL_TOKEN_STR_LEN);
    assert_memory_equal(t, prefix, 4);
    for (size_t i = 4; i < CL_TOKEN_STR_LEN; i++)
        assert_true(in_set(t[i], b64url));
}

static void test_token_format(void **state)
{
    char t[CL_TOKEN_STR_LEN + 1 + 8];
    (void)state;
    memset(t, 'x', sizeof t);
    cl_token_new(CL_TOKEN_USER, t);
    check_token(t, "clu_");
    assert_int_equal(t[CL_TOKEN_STR_LEN], 0);
    assert_int_equal(t[CL_TOKEN_STR_LEN + 1], 'x'); /* wrote no further */
    cl_token_new(CL_TOKEN_DEVICE, t);
    check_token(t, "cld_");
    cl_token_new(CL_TOKEN_RESET, t);
    check_token(t, "clr_");
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(a, b);
}

static void test_token_unique(void **state)
{
    static char toks[N_RANDOM][CL_TOKEN_STR_LEN + 1];
    (void)state;
    for (int i = 0; i < N_RANDOM; i++)
        cl_token_new(CL_TOKEN_USER, toks[i]);
    qsort(toks, N_RANDOM, sizeof toks[0], cmp_str);
    for (int i = 1; i < N_RANDOM; i++)
        assert_string_not_equal(toks[i - 1], toks[i]);
}

static void test_hash_vectors(void **state)
{
    uint8_t h[CL_HASH_LEN], h2[CL_HASH_LEN];
    char x[2 * CL_HASH_LEN + 1];
    (void)state;
    /* FIPS 180-2 / NIST examples */
    cl_hash_str("abc", h);
    hex(h, x);
    assert_string_equal(x, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    cl_hash_str("", h);
    hex(h, x);
    assert_string_equal(x, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    cl_hash_str("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", h);
    hex(h, x);
    assert_string_equal(x, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    /* cl_hash over bytes agrees with cl_hash_str, and stops at len */
    cl_hash("abcdef", 3, h2);
    cl_hash_str("abc", h);
    assert_memory_equal(h, h2, CL_HASH_LEN);
}

static void test_secret_equal(void **state)
{
    uint8_t a[CL_HASH_LEN], b[CL_HASH_LEN];
    (void)state;
    cl_hash_str("token", a);
    memcpy(b, a, sizeof b);
    assert_true(cl_secret_equal(a, b));
    for (int i = 0; i < CL_HASH_LEN; i += CL_HASH_LEN - 1) {
        memcpy(b, a, sizeof b);
        b[i] ^= 0x01;
        assert_false(cl_secret_equal(a, b));
    }
    memcpy(b, a, sizeof b);
    b[CL_HASH_LEN / 2] ^= 0x80;
    assert_false(cl_secret_equal(a, b));
}

static void test_wipe(void **state)
{
    char buf[32];
    (void)state;
    memset(buf, 'k', sizeof buf);
    cl_wipe(buf, sizeof buf - 1);
    for (size_t i = 0; i < sizeof buf - 1; i++)
        assert_int_equal(buf[i], 0);
    assert_int_equal(buf[sizeof buf - 1], 'k');
}

static void test_uuid_format(void **state)
{
    static char ids[N_RANDOM][CL_UUID_LEN + 1];
    (void)state;
    for (int n = 0; n < N_RANDOM; n++) {
        char *u = ids[n];
        cl_uuid_new(u);
        assert_int_equal(strlen(u), CL_UUID_LEN);
        for (int i = 0; i < CL_UUID_LEN; i++) {
            if (i == 8 || i == 13 || i == 18 || i == 23)
                assert_int_equal(u[i], '-');
            else
                assert_true(in_set(u[i], "0123456789abcdef"));
        }
        assert_int_equal(u[14], '4');       /* version 4 */
        assert_true(in_set(u[19], "89ab")); /* RFC 4122 variant */
        assert_true(cl_uuid_valid(u));
    }
    qsort(ids, N_RANDOM, sizeof ids[0], cmp_str);
    for (int i = 1; i < N_RANDOM; i++)
        assert_string_not_equal(ids[i - 1], ids[i]);
}

static void test_uuid_valid(void **state)
{
    (void)state;
    assert_true(cl_uuid_valid("6f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f"));
    assert_true(cl_uuid_valid("6F1C2D3E-4B5A-4C6D-8E7F-0A1B2C3D4E5F"));
    assert_true(cl_uuid_valid("00000000-0000-0000-0000-000000000000"));
    assert_false(cl_uuid_valid(""));
    assert_false(cl_uuid_valid("6f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5"));   /* 35 */
    assert_false(cl_uuid_valid("6f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f0")); /* 37 */
    assert_false(cl_uuid_valid("6f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5g"));  /* not hex */
    assert_false(cl_uuid_valid("6f1c2d3e4-b5a-4c6d-8e7f-0a1b2c3d4e5f"));  /* dash moved */
    assert_false(cl_uuid_valid("6f1c2d3e-4b5a-4c6d-8e7f_0a1b2c3d4e5f"));
    assert_false(cl_uuid_valid("{f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5}"));
    assert_false(cl_uuid_valid("6f1c2d3e 4b5a 4c6d 8e7f 0a1b2c3d4e5f"));
    assert_false(cl_uuid_valid("6f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e\"f"));
}

static void test_pairing_code_alphabet(void **state)
{
    char code[CL_PAIRING_CODE_LEN + 1], norm[CL_PAIRING_CODE_LEN + 1];
    int seen[256] = {0};
    (void)state;
    /* the alphabet has no look-alikes */
    for (const char *p = "0O1IL"; *p; p++)
        assert_null(strchr(CL_PAIRING_ALPHABET, *p));
    assert_int_equal(strlen(CL_PAIRING_ALPHABET), 31);
    for (int n = 0; n < N_RANDOM; n++) {
        cl_pairing_code_new(code);
        assert_int_equal(strlen(code), CL_PAIRING_CODE_LEN);
        for (int i = 0; i < CL_PAIRING_CODE_LEN; i++) {
            assert_true(in_set(code[i], CL_PAIRING_ALPHABET));
            seen[(unsigned char)code[i]]++;
        }
        /* a generated code is already canonical */
        assert_int_equal(cl_pairing_code_normalize(code, norm), 0);
        assert_string_equal(norm, code);
    }
    /* 4000 draws from 31 symbols: every symbol shows up */
    for (const char *p = CL_PAIRING_ALPHABET; *p; p++)
        assert_true(seen[(unsigned char)*p] > 0);
}

static void test_pairing_code_normalize(void **state)
{
    static const char *ok[] = {"ABCD2345",  "abcd2345",      "AbCd2345",        "abcd-2345",
                               "ABCD 2345", " ab-cd 23-45 ", "a-b-c-d-2-3-4-5", "--ABCD2345--"};
    static const char *bad[] = {
        "",           "ABCD234",  /* short */
        "ABCD23456",              /* long */
        "ABCD234O",   "ABCD2340", /* O and 0 are not in the alphabet */
        "abcd234l",   "ABCD2341",        "ABCDI345", "ABCD_345",    "ABCD.345",
        "ABCD\t2345", "ABCD234\xc3\xa9", "- -- -",   "ABCD 2345 6",
    };
    char out[CL_PAIRING_CODE_LEN + 1];
    (void)state;
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        memset(out, 0, sizeof out);
        if (cl_pairing_code_normalize(ok[i], out) != 0)
            print_error("rejected \"%s\"\n", ok[i]);
        assert_int_equal(cl_pairing_code_normalize(ok[i], out), 0);
        assert_string_equal(out, "ABCD2345");
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (cl_pairing_code_normalize(bad[i], out) != CL_EINVAL)
            print_error("accepted \"%s\"\n", bad[i]);
        assert_int_equal(cl_pairing_code_normalize(bad[i], out), CL_EINVAL);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_token_format),
        cmocka_unit_test(test_token_unique),
        cmocka_unit_test(test_hash_vectors),
        cmocka_unit_test(test_secret_equal),
        cmocka_unit_test(test_wipe),
        cmocka_unit_test(test_uuid_format),
        cmocka_unit_test(test_uuid_valid),
        cmocka_unit_test(test_pairing_code_alphabet),
        cmocka_unit_test(test_pairing_code_normalize),
    };
    assert_int_equal(cl_secret_init(), 0);
    return cmocka_run_group_tests(tests, NULL, NULL);
}

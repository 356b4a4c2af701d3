/*
 * Unit tests for src/core/b64.c: the RFC 4648 §10 test vectors, strictness
 * (padding, alphabet, whitespace, trailing bits) and buffer bounds; every
 * length 0..300 (each length mod 3, inside and past the eight-character
 * steps) against libsodium's strict codec, an invalid character at every
 * position, cl_b64_check agreeing with cl_b64_decode, decoding in place.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "core/b64.h"
#include "core/err.h"
#include "core/secret.h"

static const struct {
    const char *plain, *encoded;
} rfc4648[] = {
    {"", ""},
    {"f", "Zg=="},
    {"fo", "Zm8="},
    {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="},
    {"fooba", "Zm9vYmE="},
    {"foobar", "Zm9vYmFy"},
};
#define NVEC (sizeof rfc4648 / sizeof rfc4648[0])

static void test_encoded_size(void **state)
{
    (void)state;
    /* characters plus the NUL */
    assert_int_equal(cl_b64_encoded_size(0), 1);
    assert_int_equal(cl_b64_encoded_size(1), 5);
    assert_int_equal(cl_b64_encoded_size(2), 5);
    assert_int_equal(cl_b64_encoded_size(3), 5);
    assert_int_equal(cl_b64_encoded_size(4), 9);
    assert_int_equal(cl_b64_encoded_size(65536), 87384 + 1);
}

static void test_encode_vectors(void **state)
{
    char out[16];
    (void)state;
    for (size_t i = 0; i < NVEC; i++) {
        size_t n = strlen(rfc4648[i].plain);
        memset(out, '#', sizeof out);
        long got = cl_b64_encode((const uint8_t *)rfc4648[i].plain, n, out, sizeof out);
        assert_int_equal(got, (long)strlen(rfc4648[i].encoded));
        assert_string_equal(out, rfc4648[i].encoded);
    }
}

static void test_decode_vectors(void **state)
{
    uint8_t out[16];
    (void)state;
    for (size_t i = 0; i < NVEC; i++) {
        const char *e = rfc4648[i].encoded;
        memset(out, '#', sizeof out);
        long got = cl_b64_decode(e, strlen(e), out, sizeof out);
        assert_int_equal(got, (long)strlen(rfc4648[i].plain));
        assert_memory_equal(out, rfc4648[i].plain, (size_t)got);
    }
}

static void test_decode_rejects_invalid(void **state)
{
    static const char *bad[] = {
        "Zg",       /* missing padding */
        "Zg=",      /* short padding */
        "Zm9",      /* length not a multiple of 4 */
        "Z===",     /* one character cannot carry a byte */
        "====",     /* nothing but padding */
        "Zg==Zg==", /* padding in the middle */
        "=Zm9",     /* leading padding */
        "Zm9v====", /* a whole block of padding */
        "Zm 9",     /* space */
        "Zm9v\n",   /* newline */
        "Zm-_",     /* URL-safe alphabet */
        "Zm9!",     /* punctuation */
        "Zh==",     /* non-zero trailing bits ("Zg==" is canonical) */
        "Zm9=",     /* non-zero trailing bits ("Zm8=" is canonical) */
    };
    uint8_t out[16];
    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        long got = cl_b64_decode(bad[i], strlen(bad[i]), out, sizeof out);
        if (got != CL_EINVAL)
            print_error("input \"%s\" gave %ld\n", bad[i], got);
        assert_int_equal(got, CL_EINVAL);
    }
    /* an embedded NUL is not base64 either */
    assert_int_equal(cl_b64_decode("Zm\0v", 4, out, sizeof out), CL_EINVAL);
}

static void test_short_buffers(void **state)
{
    char enc[16];
    uint8_t dec[16];
    (void)state;
    /* encode: exactly enough (with the NUL) works, one less does not */
    assert_int_equal(cl_b64_encode((const uint8_t *)"foobar", 6, enc, 9), 8);
    assert_string_equal(enc, "Zm9vYmFy");
    assert_int_equal(cl_b64_encode((const uint8_t *)"foobar", 6, enc, 8), CL_ELIMIT);
    assert_int_equal(cl_b64_encode((const uint8_t *)"f", 1, enc, 4), CL_ELIMIT);
    assert_int_equal(cl_b64_encode((const uint8_t *)"", 0, enc, 0), CL_ELIMIT);
    assert_int_equal(cl_b64_encode((const uint8_t *)"", 0, enc, 1), 0);
    assert_string_equal(enc, "");

    /* decode: the buffer must hold the decoded bytes, padding accounted */
    assert_int_equal(cl_b64_decode("Zm9vYmFy", 8, dec, 6), 6);
    assert_int_equal(cl_b64_decode("Zm9vYmFy", 8, dec, 5), CL_ELIMIT);
    assert_int_equal(cl_b64_decode("Zm9vYg==", 8, dec, 4), 4);
    assert_memory_equal(dec, "foob", 4);
    assert_int_equal(cl_b64_decode("Zm9vYg==", 8, dec, 3), CL_ELIMIT);
    assert_int_equal(cl_b64_decode("Zm9vYmE=", 8, dec, 5), 5);
    assert_int_equal(cl_b64_decode("Zm9vYmE=", 8, dec, 4), CL_ELIMIT);
    assert_int_equal(cl_b64_decode("Zg==", 4, dec, 1), 1);
    assert_int_equal(cl_b64_decode("Zg==", 4, dec, 0), CL_ELIMIT);
    assert_int_equal(cl_b64_decode("", 0, dec, 0), 0);
}

static void test_roundtrip_all_lengths(void **state)
{
    uint8_t in[200], back[200];
    char enc[300];
    (void)state;
    for (size_t i = 0; i < sizeof in; i++)
        in[i] = (uint8_t)(i * 131 + 17);
    for (size_t n = 0; n <= sizeof in; n++) {
        long e = cl_b64_encode(in, n, enc, sizeof enc);
        assert_int_equal(e, (long)(cl_b64_encoded_size(n) - 1));
        assert_int_equal(e % 4, 0);
        long d = cl_b64_decode(enc, (size_t)e, back, n);
        assert_int_equal(d, (long)n);
        assert_memory_equal(back, in, n);
    }
}

/* Every length, each mod 3, against libsodium's codec (the one used
 * before: the same bytes out, the same verdicts). */
static void test_same_as_libsodium(void **state)
{
    uint8_t in[300], back[300], ref[300];
    char enc[420], ref_enc[420];
    (void)state;
    randombytes_buf(in, sizeof in);
    for (size_t n = 0; n <= sizeof in; n++) {
        size_t ref_len = 0;
        long e = cl_b64_encode(in, n, enc, sizeof enc);
        sodium_bin2base64(ref_enc, sizeof ref_enc, in, n, sodium_base64_VARIANT_ORIGINAL);
        assert_string_equal(enc, ref_enc);
        assert_int_equal(cl_b64_check(enc, (size_t)e), (long)n);
        assert_int_equal(cl_b64_decode(enc, (size_t)e, back, sizeof back), (long)n);
        assert_int_equal(sodium_base642bin(ref, sizeof ref, enc, (size_t)e, NULL, &ref_len, NULL,
                                           sodium_base64_VARIANT_ORIGINAL),
                         0);
        assert_int_equal(ref_len, n);
        assert_memory_equal(back, in, n);
    }
}

/* One character out of the alphabet, at every position of a text long
 * enough for the eight-character steps, is refused by decode and check;
 * so is '=' anywhere but the end. */
static void test_invalid_at_every_position(void **state)
{
    static const char bad_chars[] = {' ', '\n', '-', '_', '!', '\0', '\x80', '\xff', '='};
    uint8_t in[60], out[60];
    char enc[81], mut[81];
    long e;
    (void)state;
    for (size_t i = 0; i < sizeof in; i++)
        in[i] = (uint8_t)(i * 37 + 5);
    e = cl_b64_encode(in, sizeof in, enc, sizeof enc);
    assert_int_equal(e, 80);
    for (size_t pos = 0; pos < (size_t)e; pos++) {
        for (size_t k = 0; k < sizeof bad_chars; k++) {
            memcpy(mut, enc, (size_t)e);
            mut[pos] = bad_chars[k];
            if (bad_chars[k] == '=' && pos >= (size_t)e - 2)
                continue; /* padding where padding may be: other tests */
            assert_int_equal(cl_b64_decode(mut, (size_t)e, out, sizeof out), CL_EINVAL);
            assert_int_equal(cl_b64_check(mut, (size_t)e), CL_EINVAL);
        }
    }
}

static void test_check_matches_decode(void **state)
{
    static const char *cases[] = {"",     "Zg==", "Zm8=", "Zm9v", "Zg",   "Zg=",     "Z===",
                                  "====", "Zh==", "Zm9=", "Zm9!", "Zm 9", "Zg==Zg=="};
    uint8_t out[16];
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_int_equal(cl_b64_check(cases[i], strlen(cases[i])),
                         cl_b64_decode(cases[i], strlen(cases[i]), out, sizeof out));
}

/* out == in: the decoded bytes overwrite the text they came from. */
static void test_decode_in_place(void **state)
{
    uint8_t in[301];
    char buf[420];
    (void)state;
    for (size_t i = 0; i < sizeof in; i++)
        in[i] = (uint8_t)(i * 211 + 3);
    for (size_t n = 0; n <= sizeof in; n++) {
        long e = cl_b64_encode(in, n, buf, sizeof buf);
        long d = cl_b64_decode(buf, (size_t)e, (uint8_t *)buf, sizeof buf);
        assert_int_equal(d, (long)n);
        assert_memory_equal(buf, in, n);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encoded_size),
        cmocka_unit_test(test_encode_vectors),
        cmocka_unit_test(test_decode_vectors),
        cmocka_unit_test(test_decode_rejects_invalid),
        cmocka_unit_test(test_short_buffers),
        cmocka_unit_test(test_roundtrip_all_lengths),
        cmocka_unit_test(test_same_as_libsodium),
        cmocka_unit_test(test_invalid_at_every_position),
        cmocka_unit_test(test_check_matches_decode),
        cmocka_unit_test(test_decode_in_place),
    };
    assert_int_equal(cl_secret_init(), 0);
    return cmocka_run_group_tests(tests, NULL, NULL);
}

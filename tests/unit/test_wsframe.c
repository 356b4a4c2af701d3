/*
 * Unit tests for src/core/wsframe.c: masked client frames, checked by a
 * straightforward RFC 6455 decoder written here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "core/wsframe.h"

/* Decodes one client frame: checks FIN, opcode, MASK and the length, and
 * unmasks the payload into out. Returns the payload length. */
static size_t decode(const uint8_t *b, size_t len, int opcode, uint8_t *out, uint8_t key_out[4])
{
    size_t h = 2;
    uint64_t n;
    assert_true(len >= 6);
    assert_int_equal(b[0], 0x80 | opcode);
    assert_true(b[1] & 0x80);
    n = b[1] & 0x7f;
    if (n == 126) {
        n = (uint64_t)b[2] << 8 | b[3];
        assert_true(n >= 126); /* shortest form */
        h = 4;
    } else if (n == 127) {
        n = 0;
        for (int i = 0; i < 8; i++)
            n = n << 8 | b[2 + i];
        assert_true(n > 0xffff);
        h = 10;
    }
    memcpy(key_out, b + h, 4);
    h += 4;
    assert_int_equal(len, h + n);
    for (uint64_t i = 0; i < n; i++)
        out[i] = b[h + i] ^ key_out[i % 4];
    return (size_t)n;
}

static void test_frames_of_every_length_class(void **state)
{
    static const size_t sizes[] = {0, 1, 7, 8, 9, 125, 126, 127, 4096, 65535, 65536, 65583, 200000};
    struct cl_ws_masker mk;
    uint8_t key[4], prev[4] = {0};
    (void)state;
    memset(&mk, 0, sizeof mk);
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        size_t n = sizes[s], len;
        struct cl_frame *f = cl_frame_new(n);
        uint8_t *want = malloc(n + 1), *got = malloc(n + 1), *frame;
        randombytes_buf(want, n);
        memcpy(cl_frame_payload(f), want, n);
        f->len = n;
        frame = cl_ws_client_frame(f, 2, &mk, &len);
        assert_true(frame >= f->buf); /* the header fits in the headroom */
        assert_int_equal(decode(frame, len, 2, got, key), n);
        assert_memory_equal(got, want, n);
        assert_memory_not_equal(key, prev, 4); /* a fresh key each frame */
        memcpy(prev, key, 4);
        free(want);
        free(got);
        free(f);
    }
}

static void test_text_opcode(void **state)
{
    struct cl_ws_masker mk;
    struct cl_frame *f = cl_frame_new(5);
    uint8_t got[8], key[4], *frame;
    size_t len;
    (void)state;
    memset(&mk, 0, sizeof mk);
    memcpy(cl_frame_payload(f), "hello", 5);
    f->len = 5;
    frame = cl_ws_client_frame(f, 1, &mk, &len);
    assert_int_equal(len, 2 + 4 + 5);
    assert_int_equal(decode(frame, len, 1, got, key), 5);
    assert_memory_equal(got, "hello", 5);
    free(f);
}

/* The eight-at-a-time mask agrees with the byte loop at every length and
 * alignment. */
static void test_mask_matches_bytewise(void **state)
{
    uint8_t buf[80], ref[80], key[4] = {0x12, 0x34, 0x56, 0x78};
    (void)state;
    for (size_t off = 0; off < 8; off++) {
        for (size_t n = 0; n + off <= sizeof buf; n++) {
            randombytes_buf(buf, sizeof buf);
            memcpy(ref, buf, sizeof buf);
            cl_ws_mask(buf + off, n, key);
            for (size_t i = 0; i < n; i++)
                ref[off + i] ^= key[i % 4];
            assert_memory_equal(buf, ref, sizeof buf);
        }
    }
}

static void test_keys_refill(void **state)
{
    struct cl_ws_masker mk;
    struct cl_frame *f = cl_frame_new(16);
    uint8_t got[16], key[4], *frame;
    size_t len;
    (void)state;
    memset(&mk, 0, sizeof mk);
    for (int i = 0; i < 1000; i++) { /* past several refills of the pool */
        memset(cl_frame_payload(f), 'x', 16);
        f->len = 16;
        frame = cl_ws_client_frame(f, 2, &mk, &len);
        assert_int_equal(decode(frame, len, 2, got, key), 16);
        for (int j = 0; j < 16; j++)
            assert_int_equal(got[j], 'x');
    }
    free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frames_of_every_length_class),
        cmocka_unit_test(test_text_opcode),
        cmocka_unit_test(test_mask_matches_bytewise),
        cmocka_unit_test(test_keys_refill),
    };
    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}

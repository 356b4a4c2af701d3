/*
 * libFuzzer harness for the base64 codec (src/core/b64.c), differential
 * against libsodium's strict codec, which it replaced (decisions 60).
 *
 * Any bytes as text: cl_b64_decode and cl_b64_check give the same verdict
 * and length, and agree with sodium_base642bin (same acceptance, same
 * bytes); decoding in place gives the same bytes too, and a buffer one
 * byte short is refused. Any bytes as data: cl_b64_encode writes what
 * sodium_bin2base64 writes, and it decodes back. (Where libsodium is
 * wrong, bytes >= 0x80 taken as digits, ours must refuse.) Seed corpus:
 * tests/fuzz/corpus/b64/.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "fuzz_check.h"
#include "core/b64.h"
#include "core/err.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return sodium_init() < 0 ? 1 : 0;
}

static void as_text(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data;
    uint8_t *out = malloc(size + 1), *ref = malloc(size + 1), *place = malloc(size + 1);
    size_t ref_len = 0;
    const char *end = NULL;
    long got, chk;
    int ref_rc;

    CHECK(out && ref && place);
    got = cl_b64_decode(in, size, out, size + 1);
    chk = cl_b64_check(in, size);
    CHECK(got == chk);
    CHECK(got >= 0 || got == CL_EINVAL);
    /* libsodium: strict, and the whole input must be consumed; its
     * "nothing to decode" is ours too */
    ref_rc = size ? sodium_base642bin(ref, size + 1, in, size, NULL, &ref_len, &end,
                                      sodium_base64_VARIANT_ORIGINAL)
                  : 0;
    if (ref_rc == 0 && size && end != in + size)
        ref_rc = -1;
    if (ref_rc == 0 && size % 4 != 0)
        ref_rc = -1; /* sodium takes unpadded tails in some cases; ours never */
    /* libsodium 1.0.18 takes any byte >= 0x80 as a base64 digit (its
     * constant-time classifier sees a negative char); those are not
     * base64, and ours refuses them */
    for (size_t i = 0; i < size && ref_rc == 0; i++)
        if (data[i] >= 0x80)
            ref_rc = -1;
    CHECK((got >= 0) == (ref_rc == 0));
    if (got >= 0) {
        CHECK((size_t)got == ref_len);
        CHECK(memcmp(out, ref, (size_t)got) == 0);
        memcpy(place, data, size);
        CHECK(cl_b64_decode((const char *)place, size, place, size) == got);
        CHECK(memcmp(place, ref, (size_t)got) == 0);
        if (got > 0)
            CHECK(cl_b64_decode(in, size, out, (size_t)got - 1) == CL_ELIMIT);
    }
    free(place);
    free(ref);
    free(out);
}

static void as_data(const uint8_t *data, size_t size)
{
    size_t cap = cl_b64_encoded_size(size);
    char *enc = malloc(cap), *ref = malloc(cap);
    uint8_t *back = malloc(size + 1);
    long e;

    CHECK(enc && ref && back);
    e = cl_b64_encode(data, size, enc, cap);
    CHECK(e >= 0 && (size_t)e + 1 == cap);
    sodium_bin2base64(ref, cap, data, size, sodium_base64_VARIANT_ORIGINAL);
    CHECK(strcmp(enc, ref) == 0);
    CHECK(cl_b64_encode(data, size, enc, cap - 1) == CL_ELIMIT);
    CHECK(cl_b64_decode(ref, (size_t)e, back, size) == (long)size);
    CHECK(memcmp(back, data, size) == 0);
    free(back);
    free(ref);
    free(enc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    as_text(data, size);
    as_data(data, size);
    return 0;
}

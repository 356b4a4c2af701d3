/*
 * libFuzzer harness for the agent's message reassembly (cl_wsrx_feed in
 * src/agent/wsrx.c): what a relay or gateway can make lws hand the agent,
 * piece by piece, with messages past the cap among them.
 *
 * The input is a list of pieces: a flags byte (bit 0 first, bit 1 final,
 * bit 2 binary, bit 3 drop binary), a length byte (times 37, so pieces
 * reach past the small cap used here), then that many bytes (fewer at the
 * end of the input). A reference model kept beside it says what each call
 * must return: every message handed up is exactly its pieces joined, never
 * over the cap; a message over the cap is refused once and the rest of it
 * dropped; the buffer never grows past the cap. Seed corpus:
 * tests/fuzz/corpus/wsrx/.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/wsrx.h"
#include "fuzz_check.h"

#define CAP  4096
#define KEEP 1024

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t model[CAP];
    struct cl_wsrx rx;
    size_t mlen = 0, i = 0;
    bool skipping = false;

    cl_wsrx_init(&rx, CAP, KEEP);
    while (i + 2 <= size) {
        uint8_t flags = data[i];
        size_t len = (size_t)data[i + 1] * 37;
        bool first = flags & 1, final = flags & 2, binary = flags & 4, drop = flags & 8;
        const void *msg = NULL;
        size_t n = 0;
        i += 2;
        if (len > size - i)
            len = size - i;

        /* the model */
        enum cl_wsrx_result want;
        if (first) {
            mlen = 0;
            skipping = binary && drop;
        }
        if (skipping) {
            want = CL_WSRX_SKIPPED;
            if (final)
                skipping = false;
        } else if (len > CAP - mlen) {
            want = CL_WSRX_TOO_BIG;
            mlen = 0;
            skipping = !final;
        } else {
            memcpy(model + mlen, data + i, len);
            mlen += len;
            want = final ? CL_WSRX_MESSAGE : CL_WSRX_MORE;
        }

        enum cl_wsrx_result got =
            cl_wsrx_feed(&rx, first, final, binary, drop, data + i, len, &msg, &n);
        CHECK(got == want);
        CHECK(rx.len <= CAP && rx.cap <= CAP);
        if (got == CL_WSRX_MESSAGE) {
            CHECK(n == mlen && n <= CAP);
            CHECK(n == 0 || memcmp(msg, model, n) == 0);
            mlen = 0;
            if (data[i - 2] & 16)
                cl_wsrx_reset(&rx); /* what the callers do after handling it */
            CHECK(rx.cap <= CAP);
        }
        i += len;
    }
    cl_wsrx_free(&rx);
    return 0;
}

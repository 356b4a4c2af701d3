/* wsframe: masked client frames, eight bytes at a time. */
#include "core/wsframe.h"

#include <sodium.h>
#include <string.h>

_Static_assert(LWS_PRE >= CL_WS_CLIENT_HDR_MAX, "the frame header must fit in LWS_PRE");

void cl_ws_mask(uint8_t *p, size_t n, const uint8_t key[4])
{
    uint64_t k8;
    uint8_t k[8];
    size_t i = 0;

    memcpy(k, key, 4);
    memcpy(k + 4, key, 4);
    memcpy(&k8, k, 8);
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        w ^= k8;
        memcpy(p + i, &w, 8);
    }
    for (; i < n; i++)
        p[i] ^= key[i & 3]; /* i is a multiple of 8 plus the rest: key phase holds */
}

static void cl__next_key(struct cl_ws_masker *mk, uint8_t key[4])
{
    if (!mk->primed || mk->used + 4 > sizeof mk->pool) {
        randombytes_buf(mk->pool, sizeof mk->pool);
        mk->used = 0;
        mk->primed = 1;
    }
    memcpy(key, mk->pool + mk->used, 4);
    sodium_memzero(mk->pool + mk->used, 4);
    mk->used += 4;
}

uint8_t *cl_ws_client_frame(struct cl_frame *f, int opcode, struct cl_ws_masker *mk, size_t *len)
{
    uint8_t *payload = cl_frame_payload(f), key[4], hdr[CL_WS_CLIENT_HDR_MAX];
    uint64_t n = f->len;
    size_t h = 0;

    hdr[h++] = (uint8_t)(0x80 | (opcode & 0x0f)); /* FIN */
    if (n < 126) {
        hdr[h++] = (uint8_t)(0x80 | n);
    } else if (n <= 0xffff) {
        hdr[h++] = 0x80 | 126;
        hdr[h++] = (uint8_t)(n >> 8);
        hdr[h++] = (uint8_t)n;
    } else {
        hdr[h++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--)
            hdr[h++] = (uint8_t)(n >> (8 * i));
    }
    cl__next_key(mk, key);
    memcpy(hdr + h, key, 4);
    h += 4;
    cl_ws_mask(payload, (size_t)n, key);
    memcpy(payload - h, hdr, h);
    *len = h + (size_t)n;
    return payload - h;
}

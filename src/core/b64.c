/*
 * b64: table-driven base64, eight characters per step (decisions 60).
 *
 * Terminal output of every v1 session is encoded by the agent, checked by
 * the relay and decoded by the viewer, so this sits on the v1 hot path.
 * libsodium's codec, used before, is constant-time (fit for keys) and
 * costs several cycles a character; nothing here is a secret whose timing
 * matters (keys are encoded with libsodium directly), so plain table
 * lookups do: the encoder turns six bytes into eight characters with one
 * 64-bit load and store, the decoder eight characters into six bytes,
 * an invalid character showing as the high bit of its table entry.
 * Portable C (no SIMD): the machines we run on differ, the gain over the
 * scalar tables is small next to the rest of the path (see decisions 60).
 */
#include "core/b64.h"
#include "core/err.h"

#include <string.h>

static const char cl__b64_alpha[64] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Character -> 6-bit value; 0xff for anything outside the alphabet ('='
 * included: padding is handled apart, at the end). */
static const uint8_t cl__b64_value[256] = {
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x3e, 0xff, 0xff, 0xff, 0x3f,
    0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x3b, 0x3c, 0x3d, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e,
    0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28,
    0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f, 0x30, 0x31, 0x32, 0x33, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
};

/* Big-endian 64-bit load and store: memcpy keeps them free of alignment
 * and aliasing trouble and compiles to one move (plus a bswap). */
static inline uint64_t cl__load_be64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

static inline void cl__store_be64(uint8_t *p, uint64_t v)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    memcpy(p, &v, 8);
}

size_t cl_b64_encoded_size(size_t n)
{
    return (n + 2) / 3 * 4 + 1;
}

long cl_b64_encode(const uint8_t *in, size_t n, char *out, size_t cap)
{
    size_t i = 0, o = 0, need = cl_b64_encoded_size(n);

    if (cap < need)
        return CL_ELIMIT;
    /* six bytes (loaded as eight) -> eight characters, while eight bytes
     * remain to load */
    for (; i + 8 <= n; i += 6, o += 8) {
        uint64_t v = cl__load_be64(in + i);
        uint8_t *d = (uint8_t *)out + o;
        d[0] = (uint8_t)cl__b64_alpha[v >> 58];
        d[1] = (uint8_t)cl__b64_alpha[(v >> 52) & 0x3f];
        d[2] = (uint8_t)cl__b64_alpha[(v >> 46) & 0x3f];
        d[3] = (uint8_t)cl__b64_alpha[(v >> 40) & 0x3f];
        d[4] = (uint8_t)cl__b64_alpha[(v >> 34) & 0x3f];
        d[5] = (uint8_t)cl__b64_alpha[(v >> 28) & 0x3f];
        d[6] = (uint8_t)cl__b64_alpha[(v >> 22) & 0x3f];
        d[7] = (uint8_t)cl__b64_alpha[(v >> 16) & 0x3f];
    }
    for (; i + 3 <= n; i += 3, o += 4) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o] = cl__b64_alpha[v >> 18];
        out[o + 1] = cl__b64_alpha[(v >> 12) & 0x3f];
        out[o + 2] = cl__b64_alpha[(v >> 6) & 0x3f];
        out[o + 3] = cl__b64_alpha[v & 0x3f];
    }
    if (i < n) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0);
        out[o] = cl__b64_alpha[v >> 18];
        out[o + 1] = cl__b64_alpha[(v >> 12) & 0x3f];
        out[o + 2] = i + 1 < n ? cl__b64_alpha[(v >> 6) & 0x3f] : '=';
        out[o + 3] = '=';
        o += 4;
    }
    out[o] = '\0';
    return (long)o;
}

/* The padding of len characters (a multiple of 4, > 0) and whether the
 * last block is canonical: 1 or 2 '=' only at the end, and the bits the
 * padding drops zero, so each payload has exactly one encoding. Returns
 * the number of '=' or -1. */
static int cl__b64_tail(const char *in, size_t len)
{
    const unsigned char *t = (const unsigned char *)in + len - 4;
    uint8_t a = cl__b64_value[t[0]], b = cl__b64_value[t[1]], c = cl__b64_value[t[2]];

    if (t[3] != '=')
        return (a | b | c | cl__b64_value[t[3]]) & 0x80 ? -1 : 0;
    if (t[2] == '=')
        return (a | b) & 0x80 || (b & 0x0f) ? -1 : 2;
    return (a | b | c) & 0x80 || (c & 0x03) ? -1 : 1;
}

long cl_b64_check(const char *in, size_t len)
{
    const unsigned char *p = (const unsigned char *)in;
    uint8_t acc = 0;
    int pad;

    if (len == 0)
        return 0;
    if (len % 4 != 0)
        return CL_EINVAL;
    /* everything before the last block: alphabet only */
    for (size_t i = 0; i < len - 4; i++)
        acc |= cl__b64_value[p[i]];
    pad = cl__b64_tail(in, len);
    if ((acc & 0x80) || pad < 0)
        return CL_EINVAL;
    return (long)(len / 4 * 3 - (size_t)pad);
}

long cl_b64_decode(const char *in, size_t len, uint8_t *out, size_t cap)
{
    const unsigned char *p = (const unsigned char *)in;
    size_t i = 0, o = 0, body, n;
    uint8_t acc = 0;
    int pad;

    if (len == 0)
        return 0;
    if (len % 4 != 0)
        return CL_EINVAL;
    pad = cl__b64_tail(in, len);
    if (pad < 0)
        return CL_EINVAL;
    n = len / 4 * 3 - (size_t)pad;
    if (cap < n)
        return CL_ELIMIT;
    body = len - 4; /* the last block may be padded: decoded apart */
    /* eight characters -> six bytes, stored as eight while the output has
     * room for them (with out == in, the store never reaches characters
     * not yet read: 6k + 8 <= 8k + 8) */
    for (; i + 8 <= body && o + 8 <= cap; i += 8, o += 6) {
        const uint8_t *t = cl__b64_value;
        uint64_t v0 = t[p[i]], v1 = t[p[i + 1]], v2 = t[p[i + 2]], v3 = t[p[i + 3]],
                 v4 = t[p[i + 4]], v5 = t[p[i + 5]], v6 = t[p[i + 6]], v7 = t[p[i + 7]];
        acc |= (uint8_t)(v0 | v1 | v2 | v3 | v4 | v5 | v6 | v7);
        /* an invalid entry (0xff) spills into its neighbours' bits: no
         * matter, acc rejects the whole input */
        cl__store_be64(out + o, v0 << 58 | v1 << 52 | v2 << 46 | v3 << 40 | v4 << 34 | v5 << 28 |
                                    v6 << 22 | v7 << 16);
    }
    for (; i < body; i += 4, o += 3) {
        uint8_t a = cl__b64_value[p[i]], b = cl__b64_value[p[i + 1]], c = cl__b64_value[p[i + 2]],
                d = cl__b64_value[p[i + 3]];
        uint32_t v = (uint32_t)(a & 0x3f) << 18 | (uint32_t)(b & 0x3f) << 12 |
                     (uint32_t)(c & 0x3f) << 6 | (d & 0x3f);
        acc |= a | b | c | d;
        out[o] = (uint8_t)(v >> 16);
        out[o + 1] = (uint8_t)(v >> 8);
        out[o + 2] = (uint8_t)v;
    }
    if (acc & 0x80)
        return CL_EINVAL;
    {
        const unsigned char *t = p + body;
        uint32_t v = (uint32_t)cl__b64_value[t[0]] << 18 | (uint32_t)cl__b64_value[t[1]] << 12 |
                     (uint32_t)(pad < 2 ? cl__b64_value[t[2]] : 0) << 6 |
                     (pad < 1 ? cl__b64_value[t[3]] : 0);
        out[o++] = (uint8_t)(v >> 16);
        if (pad < 2)
            out[o++] = (uint8_t)(v >> 8);
        if (pad < 1)
            out[o++] = (uint8_t)v;
    }
    return (long)o;
}

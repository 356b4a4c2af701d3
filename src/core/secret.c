/* secret: random tokens, their hashes, uuids and pairing codes (libsodium). */
#include "core/secret.h"
#include "core/err.h"

#include <ctype.h>
#include <sodium.h>
#include <string.h>

int cl_secret_init(void)
{
    return sodium_init() < 0 ? CL_EIO : 0;
}

void cl_token_new(enum cl_token_kind kind, char *out)
{
    uint8_t raw[CL_TOKEN_RAW_LEN];
    randombytes_buf(raw, sizeof raw);
    static const char *const prefix[] = {[CL_TOKEN_USER] = "clu_",
                                         [CL_TOKEN_DEVICE] = "cld_",
                                         [CL_TOKEN_RESET] = "clr_",
                                         [CL_TOKEN_SIGNIN] = "clo_",
                                         [CL_TOKEN_VERIFY] = "clv_"};
    memcpy(out, prefix[kind], 4);
    sodium_bin2base64(out + 4, CL_TOKEN_STR_LEN - 4 + 1, raw, sizeof raw,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof raw);
}

void cl_hash(const void *s, size_t len, uint8_t out[CL_HASH_LEN])
{
    crypto_hash_sha256(out, s, len);
}

void cl_hash_str(const char *s, uint8_t out[CL_HASH_LEN])
{
    cl_hash(s, strlen(s), out);
}

bool cl_secret_equal(const uint8_t a[CL_HASH_LEN], const uint8_t b[CL_HASH_LEN])
{
    return sodium_memcmp(a, b, CL_HASH_LEN) == 0;
}

void cl_wipe(void *p, size_t len)
{
    sodium_memzero(p, len);
}

void cl_uuid_new(char *out)
{
    uint8_t b[16];
    randombytes_buf(b, sizeof b);
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[b[i] >> 4];
        out[o++] = hex[b[i] & 15];
    }
    out[o] = 0;
}

bool cl_uuid_valid(const char *s)
{
    if (strlen(s) != CL_UUID_LEN)
        return false;
    for (int i = 0; i < CL_UUID_LEN; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return false;
        } else if (!isxdigit((unsigned char)s[i])) {
            return false;
        }
    }
    return true;
}

void cl_pairing_code_new(char *out)
{
    const size_t n = sizeof CL_PAIRING_ALPHABET - 1;
    for (int i = 0; i < CL_PAIRING_CODE_LEN; i++)
        out[i] = CL_PAIRING_ALPHABET[randombytes_uniform((uint32_t)n)];
    out[CL_PAIRING_CODE_LEN] = 0;
}

int cl_pairing_code_normalize(const char *in, char *out)
{
    size_t o = 0;
    for (const char *p = in; *p; p++) {
        if (*p == ' ' || *p == '-')
            continue;
        if (o == CL_PAIRING_CODE_LEN)
            return CL_EINVAL;
        char c = (char)toupper((unsigned char)*p);
        if (!strchr(CL_PAIRING_ALPHABET, c) || c == 0)
            return CL_EINVAL;
        out[o++] = c;
    }
    out[o] = 0;
    return o == CL_PAIRING_CODE_LEN ? 0 : CL_EINVAL;
}

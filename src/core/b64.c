/* b64: libsodium's constant-time base64, original variant with padding. */
#include "core/b64.h"
#include "core/err.h"

#include <sodium.h>

size_t cl_b64_encoded_size(size_t n)
{
    return sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
}

long cl_b64_encode(const uint8_t *in, size_t n, char *out, size_t cap)
{
    size_t need = cl_b64_encoded_size(n);
    if (cap < need)
        return CL_ELIMIT;
    sodium_bin2base64(out, cap, in, n, sodium_base64_VARIANT_ORIGINAL);
    return (long)(need - 1);
}

long cl_b64_decode(const char *in, size_t len, uint8_t *out, size_t cap)
{
    size_t bin_len = 0;
    const char *end = NULL;
    if (len == 0)
        return 0;
    if (len % 4 != 0)
        return CL_EINVAL;
    if (cap < len / 4 * 3 - (in[len - 1] == '=') - (len > 1 && in[len - 2] == '='))
        return CL_ELIMIT;
    if (sodium_base642bin(out, cap, in, len, NULL, &bin_len, &end,
                          sodium_base64_VARIANT_ORIGINAL) != 0)
        return CL_EINVAL;
    if (end != in + len)
        return CL_EINVAL;
    return (long)bin_len;
}

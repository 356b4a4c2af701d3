/*
 * b64: standard base64 (RFC 4648 §4, with padding), as PrivaClaw's
 * data_b64 fields use. Strict (one encoding per payload) and fast, not
 * constant-time: for data, never for keys (decisions 60).
 */
#ifndef CL_B64_H
#define CL_B64_H

#include <stddef.h>
#include <stdint.h>

/* Characters needed to encode n bytes, including the terminating NUL. */
size_t cl_b64_encoded_size(size_t n);

/* Encodes n bytes of in into out (cap bytes, >= cl_b64_encoded_size(n)).
 * Returns the length written (without NUL), or CL_ELIMIT if out is short. */
long cl_b64_encode(const uint8_t *in, size_t n, char *out, size_t cap);

/* Decodes len characters of in into out (cap bytes). Strict: no
 * whitespace, correct padding, the bits the padding drops zero. Returns
 * the number of bytes decoded, or CL_EINVAL for invalid input (out may
 * then hold anything), CL_ELIMIT if out is short. out may be in itself
 * (decoding in place). */
long cl_b64_decode(const char *in, size_t len, uint8_t *out, size_t cap);

/* What cl_b64_decode would return for cap large enough, without decoding:
 * the decoded length, or CL_EINVAL. */
long cl_b64_check(const char *in, size_t len);

#endif

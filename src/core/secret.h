/*
 * secret: tokens, hashes of tokens, ids and pairing codes.
 *
 * Every bearer secret (user token, device token, pairing code) is random,
 * shown to its owner exactly once, and stored only as its SHA-256 hash.
 * Hashes are compared with cl_secret_equal (constant time).
 */
#ifndef CL_SECRET_H
#define CL_SECRET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/limits.h"

#define CL_HASH_LEN      32
#define CL_TOKEN_RAW_LEN 32
/* "clu_", "cld_", "clr_" or "clo_" (one-time sign-in) + 43 base64url characters */
#define CL_TOKEN_STR_LEN (4 + 43)

/* Kinds of token; the prefix makes a leaked token recognisable to scanners. */
enum cl_token_kind {
    CL_TOKEN_USER,
    CL_TOKEN_DEVICE,
    CL_TOKEN_RESET,
    CL_TOKEN_SIGNIN,
    CL_TOKEN_VERIFY /* email verification link (clv_) */
};

/* Must be called once before anything else here (wraps sodium_init). */
int cl_secret_init(void);

/* Writes a new random token of the given kind (NUL-terminated) to out,
 * which holds at least CL_TOKEN_STR_LEN + 1 bytes. */
void cl_token_new(enum cl_token_kind kind, char *out);

/* SHA-256 of the bytes of s (up to len). */
void cl_hash(const void *s, size_t len, uint8_t out[CL_HASH_LEN]);
void cl_hash_str(const char *s, uint8_t out[CL_HASH_LEN]);

/* Constant-time equality of two hashes. */
bool cl_secret_equal(const uint8_t a[CL_HASH_LEN], const uint8_t b[CL_HASH_LEN]);

/* Zeroes memory the compiler may not elide (sodium_memzero). */
void cl_wipe(void *p, size_t len);

/* A random (v4) UUID, lower-case, in out (CL_UUID_LEN + 1 bytes). */
void cl_uuid_new(char *out);
/* true if s is exactly a canonical lower- or upper-case UUID. */
bool cl_uuid_valid(const char *s);

/* The pairing-code alphabet: no 0/O, 1/I/L, so a code read aloud or
 * copied by hand survives. */
#define CL_PAIRING_ALPHABET "ABCDEFGHJKMNPQRSTUVWXYZ23456789"

/* A new pairing code of CL_PAIRING_CODE_LEN characters in out
 * (CL_PAIRING_CODE_LEN + 1 bytes). */
void cl_pairing_code_new(char *out);

/* Normalises user input to the canonical code: upper-cases, drops spaces
 * and dashes. Returns 0, or CL_EINVAL if the result is not
 * CL_PAIRING_CODE_LEN characters of the alphabet. */
int cl_pairing_code_normalize(const char *in, char *out);

#endif

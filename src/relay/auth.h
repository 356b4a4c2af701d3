/*
 * auth: password hashing and user tokens.
 *
 * Passwords are hashed with Argon2id (libsodium crypto_pwhash_str at the
 * interactive limits). Hashing and verification are slow by design, so
 * they run on the libuv worker pool (api_auth.c), never on the loop.
 */
#ifndef CL_RELAY_AUTH_H
#define CL_RELAY_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "relay/store.h"

/* Prepares a dummy hash so a login for an unknown email costs the same
 * as one with a wrong password. Call once at start-up. */
int cl_auth_init(void);

/* Worker-thread functions (no store, no lws). */
int cl_auth_hash_password(const char *password, char out[CL_PWHASH_MAX]);
/* Verifies against hash, or against the dummy hash when hash is NULL
 * (always false then). */
bool cl_auth_verify_password(const char *password, const char *hash);

/* Issues a new user token: writes the token (CL_TOKEN_STR_LEN + 1 bytes)
 * to out and stores only its hash. Loop thread. */
int cl_auth_issue_token(struct cl_store *s, const char *user_id, int64_t now, char *out);

/* Normalises and checks an email address (trimmed, lower-cased, 3..254
 * bytes, one '@' with text on both sides, no spaces or controls). */
int cl_auth_normalize_email(const char *in, char out[CL_EMAIL_MAX + 1]);

#endif

/* auth: Argon2id password hashes (libsodium) and user-token issuance. */
#include "relay/auth.h"
#include "core/err.h"
#include "core/secret.h"

#include <ctype.h>
#include <sodium.h>
#include <string.h>

static char cl__dummy_hash[crypto_pwhash_STRBYTES];

int cl_auth_init(void)
{
    char pw[32];
    randombytes_buf(pw, sizeof pw - 1);
    pw[sizeof pw - 1] = 0;
    for (size_t i = 0; i < sizeof pw - 1; i++)
        pw[i] = (char)('a' + ((unsigned char)pw[i] % 26));
    return cl_auth_hash_password(pw, cl__dummy_hash);
}

int cl_auth_hash_password(const char *password, char out[CL_PWHASH_MAX])
{
    _Static_assert(crypto_pwhash_STRBYTES <= CL_PWHASH_MAX, "pw hash buffer too small");
    if (crypto_pwhash_str(out, password, strlen(password), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
        return CL_ENOMEM;
    return 0;
}

bool cl_auth_verify_password(const char *password, const char *hash)
{
    if (!hash) {
        /* same cost as a real check; the answer is always no */
        int r = crypto_pwhash_str_verify(cl__dummy_hash, password, strlen(password));
        (void)r;
        return false;
    }
    return crypto_pwhash_str_verify(hash, password, strlen(password)) == 0;
}

int cl_auth_issue_token(struct cl_store *s, const char *user_id, int64_t now, char *out)
{
    uint8_t hash[CL_HASH_LEN];
    cl_token_new(CL_TOKEN_USER, out);
    cl_hash_str(out, hash);
    int rc = s->ops->token_create(s, hash, user_id, now, now + CL_USER_TOKEN_TTL_S);
    if (rc)
        cl_wipe(out, CL_TOKEN_STR_LEN + 1);
    return rc;
}

int cl_auth_normalize_email(const char *in, char out[CL_EMAIL_MAX + 1])
{
    size_t n, at = 0, ats = 0;
    while (*in == ' ')
        in++;
    n = strlen(in);
    while (n && in[n - 1] == ' ')
        n--;
    if (n < 3 || n > CL_EMAIL_MAX)
        return CL_EINVAL;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)in[i];
        if (ch <= ' ' || ch == 0x7f)
            return CL_EINVAL;
        if (ch == '@') {
            at = i;
            ats++;
        }
        out[i] = (char)tolower(ch);
    }
    out[n] = 0;
    if (ats != 1 || at == 0 || at == n - 1)
        return CL_EINVAL;
    return 0;
}

/* gateway_identity: the Ed25519 device key file and the v3 connect signature. */
#include "agent/gateway_identity.h"
#include "agent/config.h"
#include "core/err.h"
#include "core/json.h"
#include "core/secret.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#define CL__IDENTITY_MAX_BYTES (16 * 1024)
#define CL__IDENTITY_FILE      "openclaw-device.json"

int cl_gw_identity_path(const char *config_path, char *out, size_t cap)
{
    const char *slash = strrchr(config_path, '/');
    int n;
    if (!slash)
        n = snprintf(out, cap, "%s", CL__IDENTITY_FILE);
    else
        n = snprintf(out, cap, "%.*s/%s", (int)(slash - config_path), config_path,
                     CL__IDENTITY_FILE);
    return n < 0 || (size_t)n >= cap ? CL_ELIMIT : 0;
}

void cl_gw_identity_derive(struct cl_gw_identity *id)
{
    uint8_t digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(digest, id->pk, sizeof id->pk);
    sodium_bin2hex(id->device_id, sizeof id->device_id, digest, sizeof digest);
    sodium_bin2base64(id->public_key, sizeof id->public_key, id->pk, sizeof id->pk,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

void cl_gw_identity_wipe(struct cl_gw_identity *id)
{
    cl_wipe(id, sizeof *id);
}

int cl_gw_identity_save(const char *path, const struct cl_gw_identity *id, char *err, size_t errlen)
{
    char seed_b64[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
    uint8_t seed[32];
    static const char *const secrets[] = {"secret_key", "device_token", NULL};
    json_t *root;

    crypto_sign_ed25519_sk_to_seed(seed, id->sk);
    sodium_bin2base64(seed_b64, sizeof seed_b64, seed, sizeof seed,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    cl_wipe(seed, sizeof seed);
    root = json_pack("{s:i, s:s, s:s, s:s}", "version", 1, "device_id", id->device_id, "public_key",
                     id->public_key, "secret_key", seed_b64);
    if (root && id->device_token[0])
        json_object_set_new(root, "device_token", json_string(id->device_token));
    cl_wipe(seed_b64, sizeof seed_b64);
    if (!root)
        return cl_seterr(err, errlen, CL_ENOMEM, "out of memory");
    return cl_agent_json_write_private(path, root, secrets, err, errlen);
}

/* Parses the identity file's text into id. */
static int cl__parse(const char *buf, size_t len, const char *path, struct cl_gw_identity *id,
                     char *err, size_t errlen)
{
    uint8_t seed[32];
    size_t seed_len = 0;
    const char *seed_b64 = NULL, *tok = NULL;
    char why[200];
    json_t *root = cl_json_parse_object(buf, len, why, sizeof why);
    int rc;

    if (!root)
        return cl_seterr(err, errlen, CL_EINVAL, "%s: %s", path, why);
    rc = cl_json_str(root, "identity", "secret_key", true, 128, &seed_b64, why, sizeof why);
    if (!rc)
        rc = cl_json_str(root, "identity", "device_token", false, CL_GW_DEVICE_TOKEN_MAX, &tok, why,
                         sizeof why);
    if (rc) {
        rc = cl_seterr(err, errlen, CL_EINVAL, "%s: %s", path, why);
        goto out_decref;
    }
    if (sodium_base642bin(seed, sizeof seed, seed_b64, strlen(seed_b64), NULL, &seed_len, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        seed_len != sizeof seed) {
        rc = cl_seterr(err, errlen, CL_EINVAL, "%s: secret_key is not a base64url 32-byte seed",
                       path);
        goto out_wipe;
    }
    crypto_sign_ed25519_seed_keypair(id->pk, id->sk, seed);
    cl_gw_identity_derive(id);
    if (tok)
        snprintf(id->device_token, sizeof id->device_token, "%s", tok);
    rc = 0;
out_wipe:
    cl_wipe(seed, sizeof seed);
out_decref : {
    json_t *v = json_object_get(root, "secret_key");
    if (json_is_string(v))
        cl_wipe((char *)json_string_value(v), json_string_length(v));
    v = json_object_get(root, "device_token");
    if (json_is_string(v))
        cl_wipe((char *)json_string_value(v), json_string_length(v));
}
    json_decref(root);
    return rc;
}

int cl_gw_identity_load_or_create(const char *path, struct cl_gw_identity *id, bool *created,
                                  char *err, size_t errlen)
{
    char *buf = NULL;
    size_t len = 0;
    int rc;

    memset(id, 0, sizeof *id);
    *created = false;
    rc = cl_agent_file_read_private(path, CL__IDENTITY_MAX_BYTES, "a device key", &buf, &len, err,
                                    errlen);
    if (rc == 0) {
        rc = cl__parse(buf, len, path, id, err, errlen);
        cl_wipe(buf, len);
        free(buf);
        if (rc)
            cl_gw_identity_wipe(id);
        return rc;
    }
    if (rc != CL_ENOTFOUND)
        return rc;
    crypto_sign_ed25519_keypair(id->pk, id->sk);
    cl_gw_identity_derive(id);
    rc = cl_gw_identity_save(path, id, err, errlen);
    if (rc) {
        cl_gw_identity_wipe(id);
        return rc;
    }
    *created = true;
    return 0;
}

/* Appends s trimmed and lower-cased (the gateway's normalisation of
 * platform and deviceFamily). */
static int cl__norm(char *out, size_t cap, size_t *at, const char *s)
{
    size_t b = 0, e = s ? strlen(s) : 0;
    while (b < e && isspace((unsigned char)s[b]))
        b++;
    while (e > b && isspace((unsigned char)s[e - 1]))
        e--;
    if (*at + (e - b) >= cap)
        return CL_ELIMIT;
    for (size_t i = b; i < e; i++)
        out[(*at)++] = (char)tolower((unsigned char)s[i]);
    out[*at] = 0;
    return 0;
}

long cl_gw_auth_payload_v3(const struct cl_gw_auth_fields *f, char *out, size_t cap)
{
    size_t at;
    int n = snprintf(out, cap, "v3|%s|%s|%s|%s|%s|%llu|%s|%s|", f->device_id, f->client_id,
                     f->client_mode, f->role, f->scopes, (unsigned long long)f->signed_at_ms,
                     f->token ? f->token : "", f->nonce);
    if (n < 0 || (size_t)n >= cap)
        return CL_ELIMIT;
    at = (size_t)n;
    if (cl__norm(out, cap, &at, f->platform) || at + 1 >= cap)
        return CL_ELIMIT;
    out[at++] = '|';
    out[at] = 0;
    if (cl__norm(out, cap, &at, f->device_family))
        return CL_ELIMIT;
    return (long)at;
}

void cl_gw_identity_sign(const struct cl_gw_identity *id, const char *payload, size_t len,
                         char sig[CL_GW_SIG_B64_LEN + 1])
{
    uint8_t raw[crypto_sign_BYTES];
    crypto_sign_detached(raw, NULL, (const unsigned char *)payload, len, id->sk);
    sodium_bin2base64(sig, CL_GW_SIG_B64_LEN + 1, raw, sizeof raw,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

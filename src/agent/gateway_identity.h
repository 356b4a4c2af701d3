/*
 * gateway_identity: the agent's Ed25519 device identity towards an
 * OpenClaw gateway, and the signed connect payload (v3).
 *
 * The gateway asks every client to sign its connect.challenge nonce with a
 * stable device key: device.id is the hex SHA-256 of the raw 32-byte public
 * key, publicKey and signature travel base64url without padding, and the
 * signed string is
 *   v3|deviceId|clientId|clientMode|role|scopes,comma,joined|signedAtMs|token|nonce|platform|deviceFamily
 * (platform and deviceFamily trimmed and lower-cased). The key is made on
 * first use and kept in a JSON file beside the agent config, mode 0600,
 * written atomically; a file others can read is refused, as the config is.
 * The file also keeps the device token a gateway may issue after pairing.
 */
#ifndef CL_AGENT_GATEWAY_IDENTITY_H
#define CL_AGENT_GATEWAY_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CL_GW_DEVICE_ID_LEN    64 /* hex SHA-256 */
#define CL_GW_PUBKEY_B64_LEN   43 /* 32 bytes, base64url, no padding */
#define CL_GW_SIG_B64_LEN      86 /* 64 bytes, base64url, no padding */
#define CL_GW_DEVICE_TOKEN_MAX 256

struct cl_gw_identity {
    uint8_t pk[32];
    uint8_t sk[64]; /* secret: wipe with cl_gw_identity_wipe */
    char device_id[CL_GW_DEVICE_ID_LEN + 1];
    char public_key[CL_GW_PUBKEY_B64_LEN + 1];
    char device_token[CL_GW_DEVICE_TOKEN_MAX + 1]; /* secret; "" when none issued */
};

/* What the v3 payload binds. scopes is the comma-joined list. */
struct cl_gw_auth_fields {
    const char *device_id, *client_id, *client_mode, *role, *scopes;
    uint64_t signed_at_ms;
    const char *token; /* the auth.token sent, or "" */
    const char *nonce, *platform, *device_family;
};

/* The identity file for the agent config at config_path: the same
 * directory, "openclaw-device.json". Returns 0 or CL_ELIMIT. */
int cl_gw_identity_path(const char *config_path, char *out, size_t cap);

/* Loads the identity at path, or creates one (and the file, 0600) when
 * there is none; *created says which. Returns 0, CL_EFORBIDDEN (file
 * readable by others), CL_EINVAL (malformed) or CL_EIO, with a message in
 * err. */
int cl_gw_identity_load_or_create(const char *path, struct cl_gw_identity *id, bool *created,
                                  char *err, size_t errlen);

/* Rewrites the file at path with id (after a new device token). */
int cl_gw_identity_save(const char *path, const struct cl_gw_identity *id, char *err,
                        size_t errlen);

/* Writes the v3 payload into out; returns its length, or CL_ELIMIT. */
long cl_gw_auth_payload_v3(const struct cl_gw_auth_fields *f, char *out, size_t cap);

/* Signs payload (len bytes) with id and writes the base64url signature
 * (CL_GW_SIG_B64_LEN characters and a NUL) into sig. */
void cl_gw_identity_sign(const struct cl_gw_identity *id, const char *payload, size_t len,
                         char sig[CL_GW_SIG_B64_LEN + 1]);

/* Derives device_id and public_key from pk (after pk is set). */
void cl_gw_identity_derive(struct cl_gw_identity *id);

void cl_gw_identity_wipe(struct cl_gw_identity *id);

#endif

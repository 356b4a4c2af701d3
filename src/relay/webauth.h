/*
 * webauth: how a browser presents its session to the relay.
 *
 * The web app never sees its session token: sign-in sets it in an
 * HttpOnly cookie, and the relay reads it back from the Cookie header of
 * API requests and WebSocket upgrades. Its name depends on the relay's
 * scheme (decisions.md): under TLS (a TLS listener, or an https/wss
 * --public-url in front of it) it is __Host-cl_session with Secure, Path=/
 * and no Domain, so neither a sibling subdomain nor a plain-http answer
 * can set or shadow it; on plain http (loopback development) browsers
 * refuse a __Host- cookie without Secure, so it is cl_session. Each relay
 * reads only the one name it sets. A cookie is sent by the
 * browser whoever asks, so a request authenticated by it must prove it
 * comes from the app itself: state-changing requests carry X-CSRF-Token
 * (an HMAC of the session's token hash under a key kept in the database,
 * so it survives a restart and dies with the session), and an Origin, when
 * present, must be the relay's own. WebSocket upgrades need that
 * same-origin Origin for the cookie to count at all.
 *
 * Same-origin: Origin equals "http://" (or "https://" when the relay
 * serves TLS) followed by the request's Host header, or the origin of
 * --public-url (for a relay behind a TLS-terminating proxy). Scheme and
 * host compare case-insensitively; a default port (:80, :443) written on
 * one side only still matches.
 *
 * The parsing helpers are pure (tests, fuzz_webauth); the rest reads lws
 * headers of the request being handled, on the loop thread.
 */
#ifndef CL_RELAY_WEBAUTH_H
#define CL_RELAY_WEBAUTH_H

#include <libwebsockets.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/secret.h"

struct cl_relay;

#define CL_SESSION_COOKIE        "cl_session"
#define CL_SESSION_COOKIE_SECURE "__Host-cl_session"
/* A Cookie header longer than this is not read (no session from it). */
#define CL_COOKIE_HEADER_MAX 4096
/* At most this many cookies of one header are looked at. */
#define CL_COOKIE_PAIRS_MAX 64
/* Origin and Host headers longer than this are not same-origin. */
#define CL_ORIGIN_MAX 512
/* The CSRF token: base64url (no padding) of an HMAC-SHA256. */
#define CL_CSRF_TOKEN_LEN 43
/* One-time sign-in codes (POST /api/v1/auth/one-time) live this long. */
#define CL_SIGNIN_CODE_TTL_S (15 * 60)
/* What the web app sends on every API request. */
#define CL_WEB_CLIENT_VALUE "web"

/* ---- pure helpers ---------------------------------------------------------- */

/* Finds cookie name in a Cookie header value ("a=1; b=2"; len bytes, no
 * NUL needed) and copies its value (surrounding double quotes removed)
 * into out. 0; CL_ENOTFOUND when absent (or only after the first
 * CL_COOKIE_PAIRS_MAX pairs); CL_ELIMIT when the value does not fit
 * outlen with its NUL; CL_EINVAL when it holds a control character, a
 * space or a quote. The first of repeated names wins. */
int cl_webauth_cookie_get(const char *hdr, size_t len, const char *name, char *out, size_t outlen);

/* Whether origin ("https://host[:port]") is the relay's own: host (the
 * Host header) under the scheme tls selects, or the origin of public_url
 * (http[s]:// or ws[s]://; may be NULL). NULL or overlong inputs: false. */
bool cl_webauth_origin_same(const char *origin, const char *host, bool tls, const char *public_url);

/* The CSRF token of the session whose token hashes to token_hash. */
void cl_webauth_csrf_token(const uint8_t key[CL_HASH_LEN], const uint8_t token_hash[CL_HASH_LEN],
                           char out[CL_CSRF_TOKEN_LEN + 1]);
/* Whether given (may be NULL) is that token; constant time. */
bool cl_webauth_csrf_ok(const uint8_t key[CL_HASH_LEN], const uint8_t token_hash[CL_HASH_LEN],
                        const char *given);

/* Whether a peer address (as lws_get_peer_simple writes it) is loopback:
 * 127.0.0.0/8, ::1 or ::ffff:127.x.y.z. */
bool cl_webauth_addr_loopback(const char *addr);

/* ---- the request being handled ------------------------------------------------ */

/* Loads the CSRF key from the database (creating it on first start). */
int cl_webauth_init(struct cl_relay *r);

/* Whether the relay is reached over TLS (its own listener, or an https://
 * or wss:// public URL): its cookie is then Secure and __Host- named. */
bool cl_webauth_secure(const struct cl_relay *r);
/* The session cookie's name on relay r (see the module comment). */
const char *cl_webauth_cookie_name(const struct cl_relay *r);

/* Hashes the session cookie (cl_webauth_cookie_name) of wsi's request
 * into hash; the raw value is wiped. 0, or CL_ENOTFOUND when there is none
 * (or an unreadable one). */
int cl_webauth_cookie_hash(const struct cl_relay *r, struct lws *wsi, uint8_t hash[CL_HASH_LEN]);
/* Whether wsi's request carries an Origin header. */
bool cl_webauth_has_origin(struct lws *wsi);
/* Whether its Origin is the relay's own (false when absent). */
bool cl_webauth_same_origin(struct cl_relay *r, struct lws *wsi);
/* Whether it carries "X-Clawlink-Client: web". */
bool cl_webauth_web_client(struct lws *wsi);
/* Whether its X-CSRF-Token is the session's (token_hash). */
bool cl_webauth_csrf_header_ok(struct cl_relay *r, struct lws *wsi,
                               const uint8_t token_hash[CL_HASH_LEN]);
/* Whether it was forwarded by a proxy (X-Forwarded-For or Forwarded). */
bool cl_webauth_forwarded(struct lws *wsi);

/* Creates a one-time sign-in code for user_id, valid CL_SIGNIN_CODE_TTL_S:
 * the code (CL_TOKEN_STR_LEN + 1 bytes) goes to out, only its hash to
 * the store. Show it to the operator, never log it. */
int cl_webauth_signin_code_new(struct cl_relay *r, const char *user_id,
                               char out[CL_TOKEN_STR_LEN + 1]);

/* The Set-Cookie value carrying token (NULL: clearing the cookie), named
 * and flagged as cl_webauth_secure says; never with a Domain. */
void cl_webauth_cookie_header(struct cl_relay *r, const char *token, char *out, size_t outlen);

#endif

/* webauth: the session cookie, CSRF tokens and the same-origin check. */
#include "relay/webauth.h"
#include "core/err.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/secret.h"
#include "relay/relay.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* ---- pure helpers ---------------------------------------------------------- */

static bool cl__ows(char ch)
{
    return ch == ' ' || ch == '\t';
}

int cl_webauth_cookie_get(const char *hdr, size_t len, const char *name, char *out, size_t outlen)
{
    size_t nlen = strlen(name), i = 0;
    int pairs = 0;

    if (!hdr || outlen == 0)
        return CL_ENOTFOUND;
    while (i < len && pairs < CL_COOKIE_PAIRS_MAX) {
        size_t start, end, eq;
        pairs++;
        while (i < len && (cl__ows(hdr[i]) || hdr[i] == ';'))
            i++;
        start = i;
        while (i < len && hdr[i] != ';')
            i++;
        end = i;
        for (eq = start; eq < end && hdr[eq] != '='; eq++)
            ;
        if (eq == end)
            continue; /* no '=': not a cookie pair */
        size_t ne = eq;
        while (ne > start && cl__ows(hdr[ne - 1]))
            ne--;
        if (ne - start != nlen || memcmp(hdr + start, name, nlen) != 0)
            continue;
        size_t vs = eq + 1, ve = end;
        while (vs < ve && cl__ows(hdr[vs]))
            vs++;
        while (ve > vs && cl__ows(hdr[ve - 1]))
            ve--;
        if (ve - vs >= 2 && hdr[vs] == '"' && hdr[ve - 1] == '"') {
            vs++;
            ve--;
        }
        for (size_t k = vs; k < ve; k++) {
            unsigned char ch = (unsigned char)hdr[k];
            if (ch <= ' ' || ch == 0x7f || ch == '"' || ch == ',' || ch == '\\')
                return CL_EINVAL;
        }
        if (ve - vs >= outlen)
            return CL_ELIMIT;
        memcpy(out, hdr + vs, ve - vs);
        out[ve - vs] = 0;
        return 0;
    }
    return CL_ENOTFOUND;
}

/* Splits "scheme://authority[/...]" into a lower-case "scheme://authority"
 * with an explicit port. An origin (is_url false) is http or https with
 * nothing after the authority; a public URL (is_url) may have a path and
 * be ws or wss (counted as http, https). Returns false for anything else. */
static bool cl__canon_origin(const char *in, bool is_url, char *out, size_t outlen)
{
    const char *scheme, *rest;
    const char *dflt;
    size_t alen;
    bool has_port = false;

    if (strncasecmp(in, "https://", 8) == 0) {
        scheme = "https";
        dflt = "443";
        rest = in + 8;
    } else if (strncasecmp(in, "http://", 7) == 0) {
        scheme = "http";
        dflt = "80";
        rest = in + 7;
    } else if (is_url && strncasecmp(in, "wss://", 6) == 0) {
        scheme = "https";
        dflt = "443";
        rest = in + 6;
    } else if (is_url && strncasecmp(in, "ws://", 5) == 0) {
        scheme = "http";
        dflt = "80";
        rest = in + 5;
    } else {
        return false;
    }
    alen = strcspn(rest, "/?#");
    if (alen == 0 || (rest[alen] && !is_url))
        return false;
    for (size_t i = 0; i < alen; i++) {
        unsigned char ch = (unsigned char)rest[i];
        if (ch <= ' ' || ch >= 0x7f || ch == '@' || ch == '\\')
            return false;
    }
    /* a port follows the last ':' unless that is inside [IPv6] */
    for (size_t i = alen; i > 0; i--) {
        if (rest[i - 1] == ']')
            break;
        if (rest[i - 1] == ':') {
            has_port = true;
            break;
        }
    }
    int n = snprintf(out, outlen, "%s://%.*s%s%s", scheme, (int)alen, rest, has_port ? "" : ":",
                     has_port ? "" : dflt);
    if (n < 0 || (size_t)n >= outlen)
        return false;
    for (char *p = out; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    return true;
}

bool cl_webauth_origin_same(const char *origin, const char *host, bool tls, const char *public_url)
{
    char o[CL_ORIGIN_MAX + 16], want[CL_ORIGIN_MAX + 16], url[CL_ORIGIN_MAX + 16];

    if (!origin || strlen(origin) > CL_ORIGIN_MAX || !cl__canon_origin(origin, false, o, sizeof o))
        return false;
    if (host && host[0] && strlen(host) <= CL_ORIGIN_MAX) {
        snprintf(url, sizeof url, "%s://%s", tls ? "https" : "http", host);
        if (cl__canon_origin(url, false, want, sizeof want) && strcmp(o, want) == 0)
            return true;
    }
    if (public_url && strlen(public_url) <= CL_ORIGIN_MAX &&
        cl__canon_origin(public_url, true, want, sizeof want) && strcmp(o, want) == 0)
        return true;
    return false;
}

void cl_webauth_csrf_token(const uint8_t key[CL_HASH_LEN], const uint8_t token_hash[CL_HASH_LEN],
                           char out[CL_CSRF_TOKEN_LEN + 1])
{
    uint8_t mac[crypto_auth_hmacsha256_BYTES];
    _Static_assert(crypto_auth_hmacsha256_KEYBYTES == CL_HASH_LEN, "CSRF key size");
    crypto_auth_hmacsha256(mac, token_hash, CL_HASH_LEN, key);
    sodium_bin2base64(out, CL_CSRF_TOKEN_LEN + 1, mac, sizeof mac,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(mac, sizeof mac);
}

bool cl_webauth_csrf_ok(const uint8_t key[CL_HASH_LEN], const uint8_t token_hash[CL_HASH_LEN],
                        const char *given)
{
    char want[CL_CSRF_TOKEN_LEN + 1];
    bool ok;
    if (!given || strlen(given) != CL_CSRF_TOKEN_LEN)
        return false;
    cl_webauth_csrf_token(key, token_hash, want);
    ok = sodium_memcmp(want, given, CL_CSRF_TOKEN_LEN) == 0;
    sodium_memzero(want, sizeof want);
    return ok;
}

bool cl_webauth_addr_loopback(const char *addr)
{
    if (!addr)
        return false;
    if (strncasecmp(addr, "::ffff:", 7) == 0)
        addr += 7;
    if (strcmp(addr, "::1") == 0)
        return true;
    if (strncmp(addr, "127.", 4) != 0)
        return false;
    /* the rest must be an IPv4 address: digits and dots */
    return strspn(addr + 4, "0123456789.") == strlen(addr + 4) && addr[4];
}

/* ---- the request being handled ------------------------------------------------ */

int cl_webauth_init(struct cl_relay *r)
{
    uint8_t fresh[CL_HASH_LEN];
    int rc;
    randombytes_buf(fresh, sizeof fresh);
    rc = r->store.ops->secret_get(&r->store, "csrf", fresh, r->csrf_key);
    sodium_memzero(fresh, sizeof fresh);
    return rc;
}

bool cl_webauth_secure(const struct cl_relay *r)
{
    const char *u = r->opts.public_url;
    return r->opts.tls_cert ||
           (u && (strncasecmp(u, "https://", 8) == 0 || strncasecmp(u, "wss://", 6) == 0));
}

const char *cl_webauth_cookie_name(const struct cl_relay *r)
{
    return cl_webauth_secure(r) ? CL_SESSION_COOKIE_SECURE : CL_SESSION_COOKIE;
}

int cl_webauth_cookie_hash(const struct cl_relay *r, struct lws *wsi, uint8_t hash[CL_HASH_LEN])
{
    char hdr[CL_COOKIE_HEADER_MAX + 1], val[CL_TOKEN_MAX + 1];
    int n = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_COOKIE), rc = CL_ENOTFOUND;

    if (n <= 0 || n > CL_COOKIE_HEADER_MAX)
        return CL_ENOTFOUND;
    n = lws_hdr_copy(wsi, hdr, sizeof hdr, WSI_TOKEN_HTTP_COOKIE);
    if (n <= 0)
        goto out_wipe;
    if (cl_webauth_cookie_get(hdr, (size_t)n, cl_webauth_cookie_name(r), val, sizeof val) == 0 &&
        val[0]) {
        cl_hash_str(val, hash);
        rc = 0;
    }
out_wipe:
    cl_wipe(hdr, sizeof hdr);
    cl_wipe(val, sizeof val);
    return rc;
}

bool cl_webauth_has_origin(struct lws *wsi)
{
    return lws_hdr_total_length(wsi, WSI_TOKEN_ORIGIN) > 0;
}

bool cl_webauth_same_origin(struct cl_relay *r, struct lws *wsi)
{
    char origin[CL_ORIGIN_MAX + 1], host[CL_ORIGIN_MAX + 1];
    if (lws_hdr_total_length(wsi, WSI_TOKEN_ORIGIN) > CL_ORIGIN_MAX ||
        lws_hdr_total_length(wsi, WSI_TOKEN_HOST) > CL_ORIGIN_MAX)
        return false;
    if (lws_hdr_copy(wsi, origin, sizeof origin, WSI_TOKEN_ORIGIN) <= 0)
        return false;
    if (lws_hdr_copy(wsi, host, sizeof host, WSI_TOKEN_HOST) <= 0)
        host[0] = 0;
    return cl_webauth_origin_same(origin, host, r->opts.tls_cert != NULL, r->opts.public_url);
}

/* Copies custom header name ("x-name:") into buf; false if absent or too
 * long. */
static bool cl__custom(struct lws *wsi, const char *name, char *buf, size_t len)
{
    int nl = (int)strlen(name);
    int n = lws_hdr_custom_length(wsi, name, nl);
    if (n < 0 || (size_t)n >= len)
        return false;
    return lws_hdr_custom_copy(wsi, buf, (int)len, name, nl) >= 0;
}

bool cl_webauth_web_client(struct lws *wsi)
{
    char v[16];
    return cl__custom(wsi, "x-clawlink-client:", v, sizeof v) &&
           strcasecmp(v, CL_WEB_CLIENT_VALUE) == 0;
}

bool cl_webauth_csrf_header_ok(struct cl_relay *r, struct lws *wsi,
                               const uint8_t token_hash[CL_HASH_LEN])
{
    char v[CL_CSRF_TOKEN_LEN + 2];
    bool ok = cl__custom(wsi, "x-csrf-token:", v, sizeof v) &&
              cl_webauth_csrf_ok(r->csrf_key, token_hash, v);
    cl_wipe(v, sizeof v);
    return ok;
}

bool cl_webauth_forwarded(struct lws *wsi)
{
    /* only their presence matters, at any length */
    return lws_hdr_total_length(wsi, WSI_TOKEN_X_FORWARDED_FOR) > 0 ||
           lws_hdr_custom_length(wsi, "forwarded:", 10) >= 0;
}

void cl_webauth_cookie_header(struct cl_relay *r, const char *token, char *out, size_t outlen)
{
    bool secure = cl_webauth_secure(r);
    snprintf(out, outlen, "%s=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%d%s",
             cl_webauth_cookie_name(r), token ? token : "", token ? CL_USER_TOKEN_TTL_S : 0,
             secure ? "; Secure" : "");
}

int cl_webauth_signin_code_new(struct cl_relay *r, const char *user_id,
                               char out[CL_TOKEN_STR_LEN + 1])
{
    uint8_t hash[CL_HASH_LEN];
    int64_t now = cl_now();
    int rc;
    cl_token_new(CL_TOKEN_SIGNIN, out);
    cl_hash_str(out, hash);
    rc =
        r->store.ops->signin_code_create(&r->store, hash, user_id, now, now + CL_SIGNIN_CODE_TTL_S);
    if (rc)
        cl_wipe(out, CL_TOKEN_STR_LEN + 1);
    return rc;
}

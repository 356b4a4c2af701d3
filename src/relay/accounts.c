/* accounts: rate limiters and mail settings for the account routes. */
#include "relay/accounts.h"
#include "core/log.h"
#include "core/secret.h"
#include "relay/http.h"
#include "relay/ratelimit.h"
#include "relay/relay.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cl_accounts *cl_accounts_new(const struct cl_relay_opts *o)
{
    static const struct {
        unsigned addr, addr_account, account, account_window;
    } lim[CL_RATE__COUNT] = {
        [CL_RATE_LOGIN] = {CL_LOGIN_RATE_PER_ADDR, CL_LOGIN_RATE_PER_ADDR_ACCOUNT,
                           CL_LOGIN_RATE_PER_ACCOUNT, CL_AUTH_RATE_WINDOW_S},
        [CL_RATE_SIGNUP] = {CL_SIGNUP_RATE_PER_ADDR, CL_SIGNUP_RATE_PER_ADDR_ACCOUNT,
                            CL_SIGNUP_RATE_PER_ACCOUNT, CL_AUTH_RATE_WINDOW_S},
        [CL_RATE_RESET] = {CL_RESET_RATE_PER_ADDR, CL_RESET_RATE_PER_ADDR_ACCOUNT,
                           CL_RESET_RATE_PER_ACCOUNT, CL_RESET_ACCOUNT_WINDOW_S},
    };
    struct cl_accounts *a = calloc(1, sizeof *a);
    size_t n;
    if (!a)
        abort();
    for (int k = 0; k < CL_RATE__COUNT; k++) {
        a->per_addr[k] = cl_ratelimit_new(lim[k].addr, CL_AUTH_RATE_WINDOW_S);
        a->per_addr_account[k] = cl_ratelimit_new(lim[k].addr_account, lim[k].account_window);
        a->per_account[k] = cl_ratelimit_new(lim[k].account, lim[k].account_window);
    }
    snprintf(a->mail.outbox_dir, sizeof a->mail.outbox_dir, "%s/outbox", o->data_dir);
    a->mail.smtp_url = o->smtp_url;
    a->mail.smtp_from = o->smtp_from;
    /* links are for browsers: the public URL as http(s), else the listen
     * address */
    if (o->public_url && strncmp(o->public_url, "wss://", 6) == 0)
        snprintf(a->link_base, sizeof a->link_base, "https://%s", o->public_url + 6);
    else if (o->public_url && strncmp(o->public_url, "ws://", 5) == 0)
        snprintf(a->link_base, sizeof a->link_base, "http://%s", o->public_url + 5);
    else if (o->public_url)
        snprintf(a->link_base, sizeof a->link_base, "%s", o->public_url);
    else
        snprintf(a->link_base, sizeof a->link_base, "%s://%s:%d", o->tls_cert ? "https" : "http",
                 o->listen_addr, o->port);
    n = strlen(a->link_base);
    while (n && a->link_base[n - 1] == '/')
        a->link_base[--n] = 0;
    return a;
}

void cl_accounts_free(struct cl_accounts *a)
{
    if (!a)
        return;
    for (int k = 0; k < CL_RATE__COUNT; k++) {
        cl_ratelimit_free(a->per_addr[k]);
        cl_ratelimit_free(a->per_addr_account[k]);
        cl_ratelimit_free(a->per_account[k]);
    }
    free(a);
}

/* 128 bits of the hash of s: no collisions in practice, fits a key. */
static void cl__key(const char *s, char key[33])
{
    static const char hex[] = "0123456789abcdef";
    uint8_t h[CL_HASH_LEN];
    cl_hash_str(s, h);
    for (int i = 0; i < 16; i++) {
        key[2 * i] = hex[h[i] >> 4];
        key[2 * i + 1] = hex[h[i] & 15];
    }
    key[32] = 0;
}

bool cl_accounts_rate_ok(struct cl_accounts *a, enum cl_rate_kind kind, const char *peer,
                         const char *email, int64_t now, unsigned *retry_after)
{
    char addr[CL_RATELIMIT_KEY_MAX + 1], both[CL_EMAIL_MAX + CL_RATELIMIT_KEY_MAX + 2];
    char account_key[33], pair_key[33];
    bool tried;

    cl_ratelimit_addr_key(peer, addr);
    if (!cl_ratelimit_hit(a->per_addr[kind], addr, now, retry_after))
        return false;
    if (!email)
        return true;
    cl__key(email, account_key);
    snprintf(both, sizeof both, "%s\n%s", email, addr);
    cl__key(both, pair_key);
    if (cl_ratelimit_over(a->per_addr_account[kind], pair_key, now, retry_after))
        return false;
    /* over the account-wide ceiling only a fresh address may try (when
     * the pair table is full, none can be shown fresh: ratelimit.h) */
    tried = cl_ratelimit_count(a->per_addr_account[kind], pair_key, now) > 0 ||
            now < a->addr_account_full_until[kind];
    if (tried && cl_ratelimit_over(a->per_account[kind], account_key, now, retry_after))
        return false;
    if (!cl_ratelimit_add(a->per_addr_account[kind], pair_key, now))
        a->addr_account_full_until[kind] = now + CL_AUTH_RATE_WINDOW_S;
    cl_ratelimit_add(a->per_account[kind], account_key, now);
    return true;
}

bool cl_accounts_refuse(struct cl_http_req *req, enum cl_rate_kind kind, const char *email)
{
    static const char *const what[CL_RATE__COUNT] = {[CL_RATE_LOGIN] = "sign-in",
                                                     [CL_RATE_SIGNUP] = "sign-up",
                                                     [CL_RATE_RESET] = "password reset"};
    unsigned retry = 1;
    if (cl_accounts_rate_ok(req->relay->accounts, kind, req->peer, email, cl_now(), &retry))
        return false;
    cl_warn("auth", "rate limited", "what=\"%s\" peer=%s", what[kind], req->peer);
    cl_http_set_retry_after(req->conn, retry);
    cl_http_reply_error(req->conn, 429, "rate_limited", "too many %s attempts; retry in %u s",
                        what[kind], retry);
    return true;
}

/*
 * accounts: per-relay state of the account routes (api_auth.c,
 * api_account.c): the sign-in, sign-up and password-reset rate limiters
 * and the mail settings reset links go out with.
 *
 * Every limit counts attempts, in the fixed windows named in
 * core/limits.h, at three levels (docs/security.md "Accounts"):
 * - per client address (an IPv6 address by its /64), checked first: an
 *   attempt refused there counts nowhere else;
 * - per address and account (the normalised email asked about): what one
 *   client may try against one account. A stranger who uses it up stops
 *   only themselves; the owner at their own address is untouched;
 * - per account, from all addresses together: a ceiling on distributed
 *   guessing. Over it, only an address that has not tried this account in
 *   its window may still try, so the owner's first sign-in of the minute
 *   always gets through however many addresses a stranger has.
 * Account keys are a hash of the email (and of email and address), so
 * long addresses cannot collide in the limiter's bounded keys.
 */
#ifndef CL_RELAY_ACCOUNTS_H
#define CL_RELAY_ACCOUNTS_H

#include <stdbool.h>
#include <stdint.h>

#include "core/limits.h"
#include "relay/mail.h"

struct cl_relay_opts;
struct cl_ratelimit;

enum cl_rate_kind { CL_RATE_LOGIN, CL_RATE_SIGNUP, CL_RATE_RESET, CL_RATE__COUNT };

struct cl_accounts {
    struct cl_ratelimit *per_addr[CL_RATE__COUNT];
    struct cl_ratelimit *per_addr_account[CL_RATE__COUNT];
    struct cl_ratelimit *per_account[CL_RATE__COUNT];
    int64_t addr_account_full_until[CL_RATE__COUNT]; /* per_addr_account could not count */
    struct cl_mail_cfg mail;
    char link_base[CL_URL_MAX]; /* http[s]://host[:port], no trailing slash */
};

/* Builds the state from the relay's options (data dir, public URL, SMTP). */
struct cl_accounts *cl_accounts_new(const struct cl_relay_opts *o);
void cl_accounts_free(struct cl_accounts *a);

/* Counts one attempt of kind by peer, for the account email (NULL: the
 * address only). true when allowed; otherwise *retry_after gets seconds. */
bool cl_accounts_rate_ok(struct cl_accounts *a, enum cl_rate_kind kind, const char *peer,
                         const char *email, int64_t now, unsigned *retry_after);

/* For the API modules: counts the attempt of req's peer (and email) and,
 * when it is refused, replies 429 rate_limited with Retry-After and logs
 * the address (never the email). Returns true when refused. */
struct cl_http_req;
bool cl_accounts_refuse(struct cl_http_req *req, enum cl_rate_kind kind, const char *email);

#endif

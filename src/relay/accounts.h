/*
 * accounts: per-relay state of the account routes (api_auth.c,
 * api_account.c): the sign-in, sign-up and password-reset rate limiters
 * and the mail settings reset links go out with.
 *
 * Every limit counts attempts per client address and per account (the
 * normalised email asked about, keyed by a hash of it so long addresses
 * cannot collide in the limiter's bounded keys), in the fixed windows
 * named in core/limits.h. The address is checked first: an attempt
 * refused there is not counted against the account.
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
    struct cl_ratelimit *per_account[CL_RATE__COUNT];
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

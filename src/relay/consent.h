/*
 * consent: who may join a project, asked of the person invited (issue 14,
 * findings 1 and 6; docs/security.md "Invitations need consent").
 *
 * An address is unproven until its owner opens a verification link the
 * relay mailed to it (mail.c: outbox or SMTP). The link's token is random,
 * stored only as its hash with the address it was sent to, expires after
 * CL_VERIFY_TOKEN_TTL_S and works once; it rides in the URL's fragment,
 * which browsers never send to a server. invite-member only records a
 * pending invitation and mails the invitee; a signed-in user whose address
 * is proven sees the invitations to it and accepts or declines each.
 *
 * This module holds the limiters of those routes and writes their mail;
 * the routes are in api_invitations.c and api_functions.c (invite-member).
 */
#ifndef CL_RELAY_CONSENT_H
#define CL_RELAY_CONSENT_H

#include <stdbool.h>
#include <stdint.h>

#include "relay/store.h"

struct cl_relay;
struct cl_ratelimit;

struct cl_consent {
    struct cl_ratelimit *verify_send;        /* links mailed per user (CL_VERIFY_SEND_*) */
    struct cl_ratelimit *verify_confirm;     /* link tokens tried per address */
    struct cl_ratelimit *invite_per_user;    /* invite-member per inviter */
    struct cl_ratelimit *invite_per_project; /* invite-member per project */
};

struct cl_consent *cl_consent_new(void);
void cl_consent_free(struct cl_consent *c);

/* Mails u a fresh verification link (replacing any earlier one). Counts
 * against u's CL_VERIFY_SEND_PER_USER unless `force` (sign-up's first
 * link counts too, but is always sent). Returns 0, CL_ELIMIT with
 * *retry_after set when the user asked too often, or an error (logged;
 * the token never is). */
int cl_consent_send_verification(struct cl_relay *r, const struct cl_user *u, bool force,
                                 unsigned *retry_after);

/* Mails email that inviter invited it to project p: where to sign in or
 * sign up, and that the address must be proven first. Carries no secret.
 * Errors are logged, never shown (the answer must not depend on them). */
void cl_consent_mail_invitation(struct cl_relay *r, const struct cl_project *p,
                                const struct cl_user *inviter, const char *email);

#endif

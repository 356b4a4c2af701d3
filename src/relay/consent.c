/* consent: email verification links and invitation mail (consent.h). */
#include "relay/consent.h"
#include "core/err.h"
#include "core/log.h"
#include "core/secret.h"
#include "relay/accounts.h"
#include "relay/mail.h"
#include "relay/ratelimit.h"
#include "relay/relay.h"

#include <stdio.h>
#include <stdlib.h>

struct cl_consent *cl_consent_new(void)
{
    struct cl_consent *c = calloc(1, sizeof *c);
    if (!c)
        abort();
    c->verify_send = cl_ratelimit_new(CL_VERIFY_SEND_PER_USER, CL_VERIFY_SEND_WINDOW_S);
    c->verify_confirm = cl_ratelimit_new(CL_VERIFY_CONFIRM_PER_ADDR, 60);
    c->invite_per_user = cl_ratelimit_new(CL_INVITE_RATE_PER_USER, CL_INVITE_RATE_WINDOW_S);
    c->invite_per_project = cl_ratelimit_new(CL_INVITE_RATE_PER_PROJECT, CL_INVITE_RATE_WINDOW_S);
    return c;
}

void cl_consent_free(struct cl_consent *c)
{
    if (!c)
        return;
    cl_ratelimit_free(c->verify_send);
    cl_ratelimit_free(c->verify_confirm);
    cl_ratelimit_free(c->invite_per_user);
    cl_ratelimit_free(c->invite_per_project);
    free(c);
}

int cl_consent_send_verification(struct cl_relay *r, const struct cl_user *u, bool force,
                                 unsigned *retry_after)
{
    struct cl_accounts *a = r->accounts;
    char token[CL_TOKEN_STR_LEN + 1], body[CL_MAIL_BODY_MAX];
    uint8_t hash[CL_HASH_LEN];
    int64_t now = cl_now();
    unsigned retry = 1;
    int rc;

    if (!cl_ratelimit_hit(r->consent->verify_send, u->id, now, &retry) && !force) {
        if (retry_after)
            *retry_after = retry;
        return CL_ELIMIT;
    }
    cl_token_new(CL_TOKEN_VERIFY, token);
    cl_hash_str(token, hash);
    rc = r->store.ops->verify_create(&r->store, u->id, u->email, hash, now,
                                     now + CL_VERIFY_TOKEN_TTL_S);
    cl_wipe(hash, sizeof hash);
    if (rc) {
        cl_error("auth", "storing an email verification token failed", "user=%s err=%s", u->id,
                 cl_strerror(rc));
        goto out_wipe;
    }
    /* As the reset link: the token rides in the fragment, which browsers
     * never send to a server (no access log, proxy or Referer sees it). */
    snprintf(body, sizeof body,
             "Someone (hopefully you) signed up for clawlink with the address\n"
             "%s.\n\n"
             "Open this link within %d hours to confirm that it is yours:\n\n"
             "%s/verify-email#token=%s\n\n"
             "Until you do, invitations to projects sent to this address stay hidden.\n"
             "The link works once. If you did not sign up, ignore this message.\n",
             u->email, CL_VERIFY_TOKEN_TTL_S / 3600, a->link_base, token);
    rc = cl_mail_send(r->loop, &a->mail, "email verification", u->email,
                      "Confirm your clawlink email address", body);
    cl_wipe(body, sizeof body);
    if (rc)
        cl_error("auth", "queueing the verification mail failed", "user=%s err=%s", u->id,
                 cl_strerror(rc));
    else
        cl_info("auth", "email verification sent", "user=%s", u->id);
out_wipe:
    cl_wipe(token, sizeof token);
    return rc;
}

void cl_consent_mail_invitation(struct cl_relay *r, const struct cl_project *p,
                                const struct cl_user *inviter, const char *email)
{
    struct cl_accounts *a = r->accounts;
    char body[CL_MAIL_BODY_MAX];
    int rc;

    snprintf(body, sizeof body,
             "%s%s%s<%s> invited you to the clawlink project \"%s\".\n\n"
             "To accept or decline, sign in (or sign up) with this address, %s, at\n\n"
             "%s/invitations\n\n"
             "and confirm the address with the link clawlink mails you if you have not\n"
             "yet: invitations are shown only to a confirmed address. Nothing happens\n"
             "until you accept. If you do not know the sender, ignore this message.\n",
             inviter->display_name[0] ? "\"" : "", inviter->display_name,
             inviter->display_name[0] ? "\" " : "", inviter->email, p->name, email, a->link_base);
    rc = cl_mail_send(r->loop, &a->mail, "invitation", email,
                      "You are invited to a clawlink project", body);
    if (rc)
        cl_error("api", "queueing the invitation mail failed", "project=%s err=%s", p->id,
                 cl_strerror(rc));
}

/*
 * mail: the relay's outgoing mail (password reset links).
 *
 * Without a mail server the relay writes each message as an RFC 5322 file
 * to <data>/outbox/<unix-time>-<uuid>.eml (directory 0700, file 0600) for
 * the operator to deliver; with --smtp-url it sends through libcurl, and
 * falls back to the outbox when sending fails. Either way the work runs on
 * the libuv worker pool, and the log says only where a message went (the
 * file name), never its text: it carries a secret.
 */
#ifndef CL_RELAY_MAIL_H
#define CL_RELAY_MAIL_H

#include <uv.h>

#include "core/limits.h"

#define CL_MAIL_SUBJECT_MAX 200
#define CL_MAIL_BODY_MAX    4096

struct cl_mail_cfg {
    char outbox_dir[600];  /* <data>/outbox */
    const char *smtp_url;  /* smtp[s]://[user:pass@]host[:port]; NULL: outbox only */
    const char *smtp_from; /* envelope and From: address */
};

/* Once at start-up, before any worker runs (libcurl's global init). */
int cl_mail_init(void);
void cl_mail_cleanup(void);

/* Queues one message to `to` on the worker pool. Copies everything it
 * needs (cfg included); the copy of body is wiped when done. `what` is a
 * fixed description for the log ("password reset"). Returns 0 or CL_EINVAL
 * (a field too long or with a line break where none may be) or CL_EIO. */
int cl_mail_send(uv_loop_t *loop, const struct cl_mail_cfg *cfg, const char *what, const char *to,
                 const char *subject, const char *body);

/* Writes a message file into dir (created 0700 if missing) as
 * <now>-<uuid>.eml, mode 0600, through a temporary name so a reader never
 * sees half a message. name (at least 64 bytes) gets the file name.
 * Worker-safe; exposed for tests. */
int cl_mail_write_outbox(const char *dir, const char *msg, size_t len, char *name, size_t namelen);

/* --smtp-url-file: reads the SMTP URL (credentials and all) from path,
 * one line, so it need not be on the command line where ps shows it.
 * Trailing whitespace is dropped. 0, or CL_EIO (unreadable), CL_EINVAL
 * (not smtp[s]://..., a second line, longer than CL_URL_MAX); err says
 * which, without the file's text. out (outlen > CL_URL_MAX + 1) is wiped on
 * failure. */
int cl_mail_url_load(const char *path, char *out, size_t outlen, char *err, size_t errlen);

/* Where the relay's SMTP URL comes from: --smtp-url (flag_url), else
 * --smtp-url-file (file, read into buf), else $CLAWLINK_SMTP_URL (copied
 * into buf), else none (*out = NULL: the outbox only). CL_EINVAL with err
 * when both the flag and the file are given or the URL is malformed. */
int cl_mail_url_resolve(const char *flag_url, const char *file, char *buf, size_t buflen,
                        const char **out, char *err, size_t errlen);

#endif

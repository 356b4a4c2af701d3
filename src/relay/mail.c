/* mail: outbox files and SMTP through libcurl, on the worker pool. */
#include "relay/mail.h"
#include "core/err.h"
#include "core/log.h"
#include "core/secret.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CL__MAIL_DEFAULT_FROM      "clawlink-relay@localhost"
#define CL__SMTP_TIMEOUT_S         30
#define CL__SMTP_CONNECT_TIMEOUT_S 10
/* headers and body, with CRLF line ends */
#define CL__MAIL_MSG_MAX (2 * CL_MAIL_BODY_MAX + 2048)

struct cl__mail_job {
    uv_work_t work;
    struct cl_mail_cfg cfg;
    char smtp_url[CL_URL_MAX + 1]; /* cfg.smtp_url points here (or is NULL) */
    char from[CL_EMAIL_MAX + 1];
    char to[CL_EMAIL_MAX + 1];
    char what[48];
    char *msg; /* the whole message; holds a secret, wiped */
    size_t len;
    size_t sent; /* SMTP read cursor */
    /* results, read on the loop thread */
    bool smtp_tried, smtp_ok, outbox_ok;
    char smtp_err[CURL_ERROR_SIZE];
    char file[64];
    int err_no;
};

int cl_mail_init(void)
{
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : CL_EIO;
}

void cl_mail_cleanup(void)
{
    curl_global_cleanup();
}

/* true if s has no CR or LF (header injection) and no other control. */
static bool cl__header_safe(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return false;
    return true;
}

int cl_mail_write_outbox(const char *dir, const char *msg, size_t len, char *name, size_t namelen)
{
    char uuid[CL_UUID_LEN + 1], tmp[700], path[700];
    size_t off = 0;
    int fd, rc = 0;

    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return CL_EIO;
    cl_uuid_new(uuid);
    snprintf(name, namelen, "%lld-%s.eml", (long long)time(NULL), uuid);
    if (snprintf(tmp, sizeof tmp, "%s/.%s.tmp", dir, name) >= (int)sizeof tmp ||
        snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path)
        return CL_EINVAL;
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return CL_EIO;
    while (off < len) {
        ssize_t n = write(fd, msg + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            rc = CL_EIO;
            break;
        }
        off += (size_t)n;
    }
    if (close(fd) != 0 && rc == 0)
        rc = CL_EIO;
    if (rc == 0 && rename(tmp, path) != 0)
        rc = CL_EIO;
    if (rc)
        unlink(tmp);
    return rc;
}

static size_t cl__smtp_read(char *buf, size_t size, size_t nitems, void *arg)
{
    struct cl__mail_job *j = arg;
    size_t n = size * nitems, left = j->len - j->sent;
    if (n > left)
        n = left;
    memcpy(buf, j->msg + j->sent, n);
    j->sent += n;
    return n;
}

/* smtp:// to anything but loopback must upgrade with STARTTLS: the
 * message carries a secret. smtps:// is TLS from the start. */
static bool cl__smtp_loopback(const char *url)
{
    const char *h = strstr(url, "://");
    const char *at;
    if (!h)
        return false;
    h += 3;
    at = strchr(h, '@');
    if (at && (!strchr(h, '/') || at < strchr(h, '/')))
        h = at + 1;
    return strncmp(h, "127.0.0.1", 9) == 0 || strncmp(h, "localhost", 9) == 0 ||
           strncmp(h, "[::1]", 5) == 0;
}

static void cl__smtp_send(struct cl__mail_job *j)
{
    CURL *c = curl_easy_init();
    struct curl_slist *rcpt = NULL;
    char addr[CL_EMAIL_MAX + 3];
    CURLcode rc;

    j->smtp_tried = true;
    if (!c) {
        snprintf(j->smtp_err, sizeof j->smtp_err, "curl_easy_init failed");
        return;
    }
    snprintf(addr, sizeof addr, "<%s>", j->to);
    rcpt = curl_slist_append(rcpt, addr);
    snprintf(addr, sizeof addr, "<%s>", j->from);
    curl_easy_setopt(c, CURLOPT_URL, j->smtp_url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    curl_easy_setopt(c, CURLOPT_MAIL_FROM, addr);
    curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, cl__smtp_read);
    curl_easy_setopt(c, CURLOPT_READDATA, j);
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)CL__SMTP_TIMEOUT_S);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)CL__SMTP_CONNECT_TIMEOUT_S);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, j->smtp_err);
    if (!cl__smtp_loopback(j->smtp_url))
        curl_easy_setopt(c, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
    j->sent = 0;
    rc = curl_easy_perform(c);
    j->smtp_ok = rc == CURLE_OK;
    if (!j->smtp_ok && !j->smtp_err[0])
        snprintf(j->smtp_err, sizeof j->smtp_err, "%s", curl_easy_strerror(rc));
    curl_slist_free_all(rcpt);
    curl_easy_cleanup(c);
}

static void cl__mail_work(uv_work_t *w)
{
    struct cl__mail_job *j = w->data;
    if (j->cfg.smtp_url) {
        cl__smtp_send(j);
        if (j->smtp_ok)
            return;
    }
    j->outbox_ok =
        cl_mail_write_outbox(j->cfg.outbox_dir, j->msg, j->len, j->file, sizeof j->file) == 0;
    if (!j->outbox_ok)
        j->err_no = errno;
}

static void cl__mail_after(uv_work_t *w, int status)
{
    struct cl__mail_job *j = w->data;
    /* the SMTP error text may name the server, never the URL's password or
     * the message */
    if (j->smtp_tried && !j->smtp_ok)
        cl_warn("mail", "SMTP delivery failed; writing to the outbox", "what=\"%s\" err=\"%s\"",
                j->what, j->smtp_err);
    if (j->smtp_ok)
        cl_info("mail", "mail sent by SMTP", "what=\"%s\"", j->what);
    else if (j->outbox_ok)
        cl_info("mail", "mail written to the outbox", "what=\"%s\" file=outbox/%s", j->what,
                j->file);
    else
        cl_error("mail", "writing to the outbox failed; the message is lost",
                 "what=\"%s\" dir=%s err=\"%s\"", j->what, j->cfg.outbox_dir, strerror(j->err_no));
    cl_wipe(j->msg, j->len);
    free(j->msg);
    cl_wipe(j->smtp_url, sizeof j->smtp_url);
    free(j);
}

/* Appends text to the message, turning each LF into CRLF. */
static void cl__put_crlf(char *msg, size_t *off, size_t cap, const char *text)
{
    for (; *text && *off + 2 < cap; text++) {
        if (*text == '\n' && (*off == 0 || msg[*off - 1] != '\r'))
            msg[(*off)++] = '\r';
        msg[(*off)++] = *text;
    }
    msg[*off] = 0;
}

int cl_mail_send(uv_loop_t *loop, const struct cl_mail_cfg *cfg, const char *what, const char *to,
                 const char *subject, const char *body)
{
    struct cl__mail_job *j;
    char date[64], uuid[CL_UUID_LEN + 1], hdr[1024];
    const char *from = cfg->smtp_from ? cfg->smtp_from : CL__MAIL_DEFAULT_FROM;
    time_t now = time(NULL);
    struct tm tm;
    size_t off = 0;

    if (strlen(to) > CL_EMAIL_MAX || strlen(from) > CL_EMAIL_MAX ||
        strlen(subject) > CL_MAIL_SUBJECT_MAX || strlen(body) > CL_MAIL_BODY_MAX ||
        (cfg->smtp_url && strlen(cfg->smtp_url) > CL_URL_MAX) || !cl__header_safe(to) ||
        !cl__header_safe(from) || !cl__header_safe(subject))
        return CL_EINVAL;
    j = calloc(1, sizeof *j);
    if (!j)
        abort();
    j->cfg = *cfg;
    if (cfg->smtp_url) {
        snprintf(j->smtp_url, sizeof j->smtp_url, "%s", cfg->smtp_url);
        j->cfg.smtp_url = j->smtp_url;
    }
    j->cfg.smtp_from = NULL; /* copied into from */
    snprintf(j->from, sizeof j->from, "%s", from);
    snprintf(j->to, sizeof j->to, "%s", to);
    snprintf(j->what, sizeof j->what, "%s", what);

    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
    cl_uuid_new(uuid);
    snprintf(hdr, sizeof hdr,
             "From: clawlink <%s>\nTo: <%s>\nSubject: %s\nDate: %s\n"
             "Message-ID: <%s@clawlink-relay>\nMIME-Version: 1.0\n"
             "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n",
             j->from, j->to, subject, date, uuid);
    j->msg = malloc(CL__MAIL_MSG_MAX);
    if (!j->msg)
        abort();
    cl__put_crlf(j->msg, &off, CL__MAIL_MSG_MAX, hdr);
    cl__put_crlf(j->msg, &off, CL__MAIL_MSG_MAX, body);
    j->len = off;
    j->work.data = j;
    if (uv_queue_work(loop, &j->work, cl__mail_work, cl__mail_after) != 0) {
        cl_wipe(j->msg, CL__MAIL_MSG_MAX);
        free(j->msg);
        free(j);
        return CL_EIO;
    }
    return 0;
}

int cl_mail_url_load(const char *path, char *out, size_t outlen, char *err, size_t errlen)
{
    FILE *f = fopen(path, "re");
    size_t n;
    int rc = 0;

    if (!f)
        return cl_seterr(err, errlen, CL_EIO, "cannot read %s: %s", path, strerror(errno));
    n = fread(out, 1, outlen - 1, f);
    if (ferror(f))
        rc = cl_seterr(err, errlen, CL_EIO, "cannot read %s", path);
    else if ((n == outlen - 1 && fgetc(f) != EOF) || n > CL_URL_MAX + 1)
        rc = cl_seterr(err, errlen, CL_EINVAL, "%s: longer than %d bytes", path, CL_URL_MAX);
    fclose(f);
    if (rc)
        goto out_wipe;
    out[n] = 0;
    while (n &&
           (out[n - 1] == '\n' || out[n - 1] == '\r' || out[n - 1] == ' ' || out[n - 1] == '\t'))
        out[--n] = 0;
    if ((strncmp(out, "smtp://", 7) != 0 && strncmp(out, "smtps://", 8) != 0) ||
        strpbrk(out, "\r\n") || n > CL_URL_MAX) {
        rc = cl_seterr(err, errlen, CL_EINVAL,
                       "%s: want one line of at most %d bytes, smtp[s]://[user:pass@]host[:port]",
                       path, CL_URL_MAX);
        goto out_wipe;
    }
    return 0;
out_wipe:
    cl_wipe(out, outlen);
    return rc;
}

int cl_mail_url_resolve(const char *flag_url, const char *file, char *buf, size_t buflen,
                        const char **out, char *err, size_t errlen)
{
    const char *env = getenv("CLAWLINK_SMTP_URL");
    int rc;

    *out = flag_url;
    if (flag_url && file)
        return cl_seterr(err, errlen, CL_EINVAL,
                         "--smtp-url and --smtp-url-file: one or the other");
    if (flag_url)
        return 0;
    if (file) {
        rc = cl_mail_url_load(file, buf, buflen, err, errlen);
        if (rc)
            return rc;
        *out = buf;
        return 0;
    }
    if (!env || !*env)
        return 0;
    if ((strncmp(env, "smtp://", 7) != 0 && strncmp(env, "smtps://", 8) != 0) ||
        strlen(env) > CL_URL_MAX || strlen(env) >= buflen || strpbrk(env, "\r\n"))
        return cl_seterr(err, errlen, CL_EINVAL,
                         "$CLAWLINK_SMTP_URL wants smtp[s]://[user:pass@]host[:port]");
    snprintf(buf, buflen, "%s", env);
    *out = buf;
    return 0;
}

/* audit: `clawlink-relay audit` (audit.h). */
#include "relay/audit.h"
#include "core/json.h"
#include "core/limits.h"
#include "core/sqlite.h"
#include "relay/datadir.h"

#include <ctype.h>
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* The version of the --json schema (docs/operations.md "Audit"). */
#define CL__AUDIT_SCHEMA 1

enum cl__sev { CL__INFO, CL__WARN, CL__CRIT };
static const char *const cl__sev_name[] = {"info", "warn", "critical"};

struct cl__audit {
    /* the relay's options */
    const char *data, *listen, *public_url, *tls_cert, *tls_key, *smtp_url, *smtp_url_file;
    const char *metrics_token_file, *store_file;
    unsigned max_conns_per_addr;
    /* the audit's */
    const char *ca, *unit;
    bool deep, fix, json;
    json_t *findings;
    unsigned count[3]; /* outstanding (not fixed) findings by severity */
    unsigned fixed;
};

/* Records one finding (and prints it unless --json). */
static void cl__finding(struct cl__audit *a, enum cl__sev sev, const char *id, const char *title,
                        const char *detail, const char *fix, bool fixed)
{
    if (fixed)
        a->fixed++;
    else
        a->count[sev]++;
    json_array_append_new(a->findings, json_pack("{s:s, s:s, s:s, s:s, s:s, s:b}", "id", id,
                                                 "severity", cl__sev_name[sev], "title", title,
                                                 "detail", detail, "fix", fix, "fixed", fixed));
    if (a->json)
        return;
    printf("%-8s %s: %s%s\n",
           sev == CL__CRIT   ? "CRITICAL"
           : sev == CL__WARN ? "WARN"
                             : "INFO",
           id, title, fixed ? " [fixed]" : "");
    if (*detail)
        printf("         %s\n", detail);
    if (*fix && !fixed)
        printf("         fix: %s\n", fix);
}

/* ---- addresses and URLs ------------------------------------------------ */

static bool cl__loopback_host(const char *h, size_t n)
{
    if (n >= 2 && h[0] == '[' && h[n - 1] == ']') {
        h++;
        n -= 2;
    }
    return (n >= 4 && strncmp(h, "127.", 4) == 0) || (n == 9 && strncmp(h, "localhost", 9) == 0) ||
           (n == 3 && strncmp(h, "::1", 3) == 0);
}

/* The host of scheme://[user@]host[:port][/...] (pointer into u, length). */
static void cl__url_host(const char *u, const char **host, size_t *n)
{
    const char *h = strstr(u, "://"), *end, *at;
    h = h ? h + 3 : u;
    end = h + strcspn(h, "/?#");
    at = memchr(h, '@', (size_t)(end - h));
    if (at)
        h = at + 1;
    if (*h == '[') {
        const char *rb = memchr(h, ']', (size_t)(end - h));
        *host = h;
        *n = rb ? (size_t)(rb - h + 1) : (size_t)(end - h);
        return;
    }
    *host = h;
    *n = strcspn(h, ":/?#");
    if (*n > (size_t)(end - h))
        *n = (size_t)(end - h);
}

/* Whether an smtp[s]:// URL carries user:pass@. */
static bool cl__url_has_credentials(const char *u)
{
    const char *h = strstr(u, "://");
    size_t n;
    if (!h)
        return false;
    h += 3;
    n = strcspn(h, "/?#");
    return memchr(h, '@', n) != NULL;
}

/* ---- the data directory ------------------------------------------------ */

static void cl__datadir_finding(void *arg, const struct cl_datadir_finding *f)
{
    struct cl__audit *a = arg;
    char title[PATH_MAX + 80], detail[PATH_MAX + 200], fix[PATH_MAX + 80];
    bool is_db = f->kind == CL_DATADIR_DB || f->kind == CL_DATADIR_SIDECAR;

    if (f->foreign_owner) {
        snprintf(title, sizeof title, "%s is owned by another user than the data directory",
                 f->path);
        snprintf(detail, sizeof detail,
                 "owner uid %u, the data directory's (the relay's user) %u: the relay may be "
                 "unable to use it, and that user can read or change it",
                 (unsigned)f->uid, (unsigned)f->dir_uid);
        snprintf(fix, sizeof fix, "chown %u %s (as root)", (unsigned)f->dir_uid, f->path);
        cl__finding(a, CL__WARN, "data.owner", title, detail, fix, false);
    }
    if (!f->bad_mode)
        return;
    snprintf(fix, sizeof fix, "chmod %o %s (clawlink-relay audit --fix)", f->want, f->path);
    switch (f->kind) {
    case CL_DATADIR_DIR:
        snprintf(title, sizeof title, "the data directory %s is mode %04o", f->path, f->mode);
        snprintf(detail, sizeof detail,
                 "others may list it (systemd's StateDirectory= default is 0755); the relay "
                 "keeps its database files 0600, but new files and names show");
        break;
    case CL_DATADIR_DB:
    case CL_DATADIR_SIDECAR:
        snprintf(title, sizeof title, "database file %s is mode %04o", f->path, f->mode);
        snprintf(detail, sizeof detail,
                 "it holds Argon2id password hashes, the CSRF key, emails and hashes of live "
                 "pairing codes (8 characters: guessable offline); anyone on this machine who "
                 "can read it can attack them");
        break;
    case CL_DATADIR_OUTBOX:
        snprintf(title, sizeof title, "the outbox %s is mode %04o", f->path, f->mode);
        snprintf(detail, sizeof detail, "others may list the mail the relay wrote");
        break;
    case CL_DATADIR_OUTBOX_FILE:
        snprintf(title, sizeof title, "outbox message %s is mode %04o", f->path, f->mode);
        snprintf(detail, sizeof detail,
                 "outbox messages carry password reset and sign-in links: whoever reads one "
                 "can take the account");
        break;
    }
    if (f->fix_errno) {
        size_t n = strlen(detail);
        snprintf(detail + n, sizeof detail - n, " (--fix failed: %s)", strerror(f->fix_errno));
    }
    cl__finding(a,
                f->kind == CL_DATADIR_DIR || f->kind == CL_DATADIR_OUTBOX ? CL__WARN
                : is_db || f->kind == CL_DATADIR_OUTBOX_FILE              ? CL__CRIT
                                                                          : CL__WARN,
                f->kind == CL_DATADIR_DIR      ? "data.dir_mode"
                : is_db                        ? "data.db_mode"
                : f->kind == CL_DATADIR_OUTBOX ? "data.outbox_mode"
                                               : "data.outbox_file_mode",
                title, detail, fix, f->fixed);
}

/* ---- TLS files ---------------------------------------------------------- */

static void cl__check_tls_files(struct cl__audit *a)
{
    char title[PATH_MAX + 80], detail[256], fix[PATH_MAX + 80];
    struct stat sb;
    X509 *x = NULL;
    FILE *f;

    if (!a->tls_cert)
        return;
    if (stat(a->tls_key, &sb) != 0) {
        snprintf(title, sizeof title, "the TLS key %s cannot be read", a->tls_key);
        cl__finding(a, CL__CRIT, "tls.key_missing", title, strerror(errno),
                    "point --tls-key at the certificate's private key", false);
    } else if (sb.st_mode & 077) {
        bool fixed = false;
        snprintf(title, sizeof title, "the TLS private key %s is mode %04o", a->tls_key,
                 (unsigned)(sb.st_mode & 07777));
        snprintf(detail, sizeof detail,
                 "whoever reads it can impersonate the relay to every browser and agent");
        snprintf(fix, sizeof fix, "chmod 600 %s (clawlink-relay audit --fix)", a->tls_key);
        if (a->fix && sb.st_uid == geteuid() && S_ISREG(sb.st_mode))
            fixed = chmod(a->tls_key, 0600) == 0;
        cl__finding(a, CL__CRIT, "tls.key_mode", title, detail, fix, fixed);
    }
    f = fopen(a->tls_cert, "re");
    if (f) {
        x = PEM_read_X509(f, NULL, NULL, NULL);
        fclose(f);
    }
    if (!x) {
        snprintf(title, sizeof title, "the TLS certificate %s cannot be read", a->tls_cert);
        cl__finding(a, CL__CRIT, "tls.cert_unreadable", title,
                    "not a readable PEM certificate; the relay will not start with it",
                    "point --tls-cert at the PEM certificate (chain)", false);
        return;
    }
    {
        time_t soon = time(NULL) + CL_AUDIT_CERT_EXPIRY_S;
        if (X509_cmp_current_time(X509_get0_notAfter(x)) <= 0) {
            snprintf(title, sizeof title, "the TLS certificate %s has expired", a->tls_cert);
            cl__finding(
                a, CL__CRIT, "tls.cert_expired", title, "browsers and agents refuse the relay",
                "renew it, then SIGHUP the relay (it reloads without dropping anyone)", false);
        } else if (X509_cmp_time(X509_get0_notAfter(x), &soon) <= 0) {
            snprintf(title, sizeof title, "the TLS certificate %s expires within %d days",
                     a->tls_cert, CL_AUDIT_CERT_EXPIRY_S / 86400);
            cl__finding(a, CL__WARN, "tls.cert_expiring", title,
                        "when it does, browsers and agents refuse the relay",
                        "renew it, then SIGHUP the relay", false);
        }
    }
    X509_free(x);
}

/* ---- listening and URLs --------------------------------------------------- */

static void cl__check_network(struct cl__audit *a)
{
    const char *host;
    size_t hn;
    char addr[80], title[CL_URL_MAX + 120];
    bool https_public = a->public_url && strncmp(a->public_url, "https://", 8) == 0;
    const char *colon = strrchr(a->listen, ':');

    snprintf(addr, sizeof addr, "%.*s", colon ? (int)(colon - a->listen) : (int)strlen(a->listen),
             a->listen);
    if (!cl__loopback_host(addr, strlen(addr)) && !a->tls_cert) {
        snprintf(title, sizeof title, "listening on %s without TLS", a->listen);
        if (https_public)
            cl__finding(a, CL__WARN, "listen.plaintext", title,
                        "the public URL is https://, so a proxy terminates TLS; but the relay "
                        "also answers in plain text to anyone who reaches this address: "
                        "passwords, tokens and terminal bytes in the clear",
                        "listen on loopback behind the proxy (--listen 127.0.0.1:PORT), or "
                        "give the relay --tls-cert/--tls-key",
                        false);
        else
            cl__finding(a, CL__CRIT, "listen.plaintext", title,
                        "passwords, tokens, session cookies and terminal bytes cross the network "
                        "in the clear",
                        "serve TLS (--tls-cert/--tls-key) or listen on 127.0.0.1 behind a TLS "
                        "proxy",
                        false);
    }
    if (!a->public_url) {
        if (!cl__loopback_host(addr, strlen(addr)))
            cl__finding(a, CL__INFO, "url.unset", "no --public-url",
                        "agents are told to dial the listen address itself",
                        "set --public-url to the address users and agents reach", false);
        return;
    }
    cl__url_host(a->public_url, &host, &hn);
    if ((strncmp(a->public_url, "http://", 7) == 0 || strncmp(a->public_url, "ws://", 5) == 0) &&
        !cl__loopback_host(host, hn)) {
        snprintf(title, sizeof title, "the public URL %s is not encrypted", a->public_url);
        cl__finding(a, CL__CRIT, "url.plaintext", title,
                    "browsers sign in and agents dial over it: passwords, device tokens and "
                    "terminal bytes travel in the clear to a host beyond this machine",
                    "use https:// (the relay's TLS or a TLS proxy in front)", false);
    }
}

/* ---- the running relay -------------------------------------------------- */

struct cl__running {
    pid_t pid;
    long soft, hard; /* -1: unlimited or unknown */
    bool smtp_creds_on_cmdline;
};

/* Reads /proc/pid/limits' "Max open files". */
static void cl__proc_nofile(pid_t pid, long *soft, long *hard)
{
    char path[64], line[256];
    FILE *f;
    *soft = *hard = -1;
    snprintf(path, sizeof path, "/proc/%d/limits", (int)pid);
    f = fopen(path, "re");
    if (!f)
        return;
    while (fgets(line, sizeof line, f)) {
        char s[32], h[32];
        if (strncmp(line, "Max open files", 14) != 0)
            continue;
        if (sscanf(line + 14, "%31s %31s", s, h) == 2) {
            *soft = strcmp(s, "unlimited") == 0 ? -1 : atol(s);
            *hard = strcmp(h, "unlimited") == 0 ? -1 : atol(h);
        }
        break;
    }
    fclose(f);
}

/* Whether pid holds db (a realpath) open; looks at its first descriptors
 * only (the database is opened at start, among the first). */
static bool cl__proc_holds(pid_t pid, const char *db)
{
    char dir[64], link[PATH_MAX], target[PATH_MAX];
    struct dirent *de;
    bool found = false;
    int seen = 0;
    DIR *d;

    snprintf(dir, sizeof dir, "/proc/%d/fd", (int)pid);
    d = opendir(dir);
    if (!d)
        return false;
    while (!found && seen++ < 512 && (de = readdir(d)) != NULL) {
        ssize_t n;
        if (de->d_name[0] == '.')
            continue;
        snprintf(link, sizeof link, "%s/%s", dir, de->d_name);
        n = readlink(link, target, sizeof target - 1);
        if (n <= 0)
            continue;
        target[n] = 0;
        found = strcmp(target, db) == 0;
    }
    closedir(d);
    return found;
}

/* Finds a clawlink-relay process (not this one) with DATA/clawlink.db
 * open. Processes of other users are invisible unless run as root. */
static bool cl__find_running(struct cl__audit *a, struct cl__running *out)
{
    char db[PATH_MAX + 16], real[PATH_MAX], path[64], comm[32];
    struct dirent *de;
    bool found = false;
    DIR *proc;

    snprintf(db, sizeof db, "%s/clawlink.db", a->data);
    if (!realpath(db, real))
        return false;
    proc = opendir("/proc");
    if (!proc)
        return false;
    while (!found && (de = readdir(proc)) != NULL) {
        pid_t pid;
        FILE *f;
        if (!isdigit((unsigned char)de->d_name[0]))
            continue;
        pid = (pid_t)atoi(de->d_name);
        if (pid == getpid())
            continue;
        snprintf(path, sizeof path, "/proc/%d/comm", (int)pid);
        f = fopen(path, "re");
        if (!f)
            continue;
        if (!fgets(comm, sizeof comm, f))
            comm[0] = 0;
        fclose(f);
        comm[strcspn(comm, "\n")] = 0;
        if (strcmp(comm, "clawlink-relay") != 0 || !cl__proc_holds(pid, real))
            continue;
        memset(out, 0, sizeof *out);
        out->pid = pid;
        cl__proc_nofile(pid, &out->soft, &out->hard);
        snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
        f = fopen(path, "re");
        if (f) {
            char arg[CL_URL_MAX + 64];
            bool next_is_url = false;
            int c;
            size_t n = 0;
            /* NUL-separated arguments, each looked at in a bounded buffer */
            while ((c = fgetc(f)) != EOF) {
                if (c && n < sizeof arg - 1) {
                    arg[n++] = (char)c;
                    continue;
                }
                if (c)
                    continue; /* longer than any URL we take: skip the rest */
                arg[n] = 0;
                if ((next_is_url || strncmp(arg, "--smtp-url=", 11) == 0) &&
                    cl__url_has_credentials(arg))
                    out->smtp_creds_on_cmdline = true;
                next_is_url = strcmp(arg, "--smtp-url") == 0;
                n = 0;
            }
            fclose(f);
        }
        found = true;
    }
    closedir(proc);
    return found;
}

static void cl__check_limits(struct cl__audit *a, const struct cl__running *run)
{
    char title[200], detail[400];
    long need = CL_RELAY_FD_RESERVE + (long)CL_AUDIT_NOFILE_CLIENTS * (long)a->max_conns_per_addr;
    long have;
    struct rlimit rl;

    if (run) {
        have = run->soft; /* the relay raised its soft limit to the hard one at start */
        snprintf(detail, sizeof detail, "the running relay (pid %d): soft %ld, hard %ld",
                 (int)run->pid, run->soft, run->hard);
    } else {
        if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
            return;
        /* a relay started from here raises its soft limit to the hard one */
        have = rl.rlim_max == RLIM_INFINITY ? -1 : (long)rl.rlim_max;
        snprintf(detail, sizeof detail,
                 "no running relay found with this --data; a relay started like this audit "
                 "would get the hard limit %ld (soft %ld)",
                 have, rl.rlim_cur == RLIM_INFINITY ? -1L : (long)rl.rlim_cur);
    }
    if (have < 0)
        return;
    if (have < need) {
        size_t n = strlen(detail);
        snprintf(title, sizeof title, "the relay's open-file limit is %ld", have);
        snprintf(detail + n, sizeof detail - n,
                 "; every connection is a file: %d clients at --max-conns-per-addr %u, plus the "
                 "%d the relay keeps, need %ld, so a few clients fill the relay and /healthz "
                 "stops answering",
                 CL_AUDIT_NOFILE_CLIENTS, a->max_conns_per_addr, CL_RELAY_FD_RESERVE, need);
        cl__finding(a, CL__CRIT, "limits.nofile", title, detail,
                    "LimitNOFILE=65536 in the unit (deploy/clawlink-relay.service), or ulimit "
                    "-n 65536 before starting the relay",
                    false);
    } else if (have < CL_AUDIT_NOFILE_WANT) {
        snprintf(title, sizeof title, "the relay's open-file limit is %ld (below %d)", have,
                 CL_AUDIT_NOFILE_WANT);
        cl__finding(a, CL__WARN, "limits.nofile", title, detail,
                    "LimitNOFILE=65536 in the unit (deploy/clawlink-relay.service)", false);
    }
}

/* LimitNOFILE= of a systemd unit: its value (soft of soft:hard; -1
 * infinity), 0 when the unit sets none, -2 when the file cannot be read. */
static long cl__unit_nofile(const char *path)
{
    char line[512];
    long v = 0;
    FILE *f = fopen(path, "re");
    if (!f)
        return -2;
    while (fgets(line, sizeof line, f)) {
        const char *p = line + strspn(line, " \t");
        if (strncmp(p, "LimitNOFILE=", 12) != 0)
            continue;
        p += 12;
        v = strncmp(p, "infinity", 8) == 0 ? -1 : atol(p); /* the last one wins, as in systemd */
    }
    fclose(f);
    return v;
}

/* The unit the relay runs from (--unit, or the usual place), for a limit
 * a restart would bring. */
static void cl__check_unit(struct cl__audit *a)
{
    const char *unit = a->unit ? a->unit : "/etc/systemd/system/clawlink-relay.service";
    long need = CL_RELAY_FD_RESERVE + (long)CL_AUDIT_NOFILE_CLIENTS * (long)a->max_conns_per_addr;
    long v = cl__unit_nofile(unit);
    char title[PATH_MAX + 80], detail[300];

    if (v == -2) {
        if (a->unit) {
            snprintf(title, sizeof title, "cannot read the unit %s", unit);
            cl__finding(a, CL__WARN, "limits.unit_unreadable", title, strerror(errno),
                        "name the relay's unit file with --unit FILE", false);
        }
        return;
    }
    if (v == 0) {
        snprintf(title, sizeof title, "the unit %s sets no LimitNOFILE", unit);
        cl__finding(a, CL__WARN, "limits.unit_nofile", title,
                    "the relay then gets systemd's default (soft 1,024, raised by the relay to "
                    "the default hard limit), which this machine's configuration may lower",
                    "LimitNOFILE=65536 in [Service] (as deploy/clawlink-relay.service)", false);
    } else if (v > 0 && v < need) {
        snprintf(title, sizeof title, "the unit %s sets LimitNOFILE=%ld", unit, v);
        snprintf(detail, sizeof detail,
                 "below the %ld files %d clients at --max-conns-per-addr %u and the relay's own "
                 "%d need: a few clients fill the relay",
                 need, CL_AUDIT_NOFILE_CLIENTS, a->max_conns_per_addr, CL_RELAY_FD_RESERVE);
        cl__finding(a, CL__CRIT, "limits.unit_nofile", title, detail,
                    "LimitNOFILE=65536 in [Service], then systemctl daemon-reload and restart",
                    false);
    }
}

/* A file holding a secret (path NULL: not configured) must be 0600 or
 * tighter; --fix chmods a regular file the auditor owns. */
static void cl__check_secret_file(struct cl__audit *a, const char *path, const char *id,
                                  const char *what, const char *why)
{
    char title[PATH_MAX + 80], fix[PATH_MAX + 80];
    struct stat sb;
    bool fixed = false;

    if (!path || stat(path, &sb) != 0 || !(sb.st_mode & 077))
        return;
    snprintf(title, sizeof title, "%s %s is mode %04o", what, path, (unsigned)(sb.st_mode & 07777));
    snprintf(fix, sizeof fix, "chmod 600 %s (clawlink-relay audit --fix)", path);
    if (a->fix && sb.st_uid == geteuid() && S_ISREG(sb.st_mode))
        fixed = chmod(path, 0600) == 0;
    cl__finding(a, CL__CRIT, id, title, why, fix, fixed);
}

static void cl__check_smtp(struct cl__audit *a, const struct cl__running *run)
{
    const char *how = "put the URL in a file of mode 0600 and pass --smtp-url-file FILE, or set "
                      "CLAWLINK_SMTP_URL in the unit (EnvironmentFile= of mode 0600)";

    if ((a->smtp_url && cl__url_has_credentials(a->smtp_url)) ||
        (run && run->smtp_creds_on_cmdline))
        cl__finding(a, CL__WARN, "smtp.credentials_on_command_line",
                    "SMTP credentials are on the relay's command line",
                    "user:pass in --smtp-url shows to every local user in ps and "
                    "/proc/PID/cmdline, and in the unit file",
                    how, false);
    cl__check_secret_file(a, a->smtp_url_file, "smtp.file_mode", "the SMTP URL file",
                          "it holds the mail account's password");
}

/* --metrics-token-file: whoever reads it scrapes the relay's metrics. */
static void cl__check_metrics(struct cl__audit *a)
{
    cl__check_secret_file(a, a->metrics_token_file, "metrics.token_file_mode",
                          "the metrics token file",
                          "whoever reads it can scrape /metrics (counts of users' activity)");
}

/* ---- the database -------------------------------------------------------- */

/* One integer from sql (no parameters but ?1 = a time); -1 on failure. */
static long long cl__db_count(sqlite3 *db, const char *sql, long long t)
{
    int64_t n;
    return cl_sqlite_scalar(db, sql, t, &n) == 0 ? (long long)n : -1;
}

static bool cl__db_has_column(sqlite3 *db, const char *table, const char *column)
{
    sqlite3_stmt *st = NULL;
    char sql[96];
    bool found = false;
    snprintf(sql, sizeof sql, "PRAGMA table_info(%s)", table); /* a constant of ours */
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return false;
    while (!found && sqlite3_step(st) == SQLITE_ROW) {
        const unsigned char *name = sqlite3_column_text(st, 1);
        found = name && strcmp((const char *)name, column) == 0;
    }
    sqlite3_finalize(st);
    return found;
}

static void cl__check_db(struct cl__audit *a)
{
    char path[PATH_MAX], title[PATH_MAX + 80], detail[300];
    sqlite3 *db = NULL;
    long long n;
    int64_t now = (int64_t)time(NULL);

    if (snprintf(path, sizeof path, "%s/clawlink.db", a->data) >= (int)sizeof path)
        return;
    if (access(path, F_OK) != 0) {
        snprintf(title, sizeof title, "no relay database in %s", a->data);
        cl__finding(a, CL__WARN, "data.no_database", title,
                    "accounts, tokens and devices were not checked",
                    "run the audit with the relay's --data", false);
        return;
    }
    /* read-only, beside a live relay: never creates, never writes */
    if (cl_sqlite_open_readonly(path, CL_SQLITE_BUSY_TIMEOUT_MS, &db, detail, sizeof detail) ||
        cl__db_count(db, "SELECT count(*) FROM users WHERE ?1 = ?1", 0) < 0) {
        snprintf(title, sizeof title, "cannot read the database %s", path);
        cl__finding(a, CL__WARN, "data.unreadable", title, db ? sqlite3_errmsg(db) : detail,
                    "run the audit as the relay's user", false);
        cl_sqlite_close(db);
        return;
    }

    if (!cl__db_has_column(db, "users", "email_verified_at")) {
        cl__finding(
            a, CL__INFO, "accounts.unverified", "this relay does not record verified addresses",
            "no users.email_verified_at column: unverified accounts not checked", "", false);
    } else {
        n = cl__db_count(db,
                         "SELECT count(*) FROM users WHERE email_verified_at IS NULL AND "
                         "created_at < ?1",
                         now - CL_AUDIT_UNVERIFIED_AGE_S);
        if (n > 0) {
            snprintf(title, sizeof title, "%lld account(s) never verified their address in %d days",
                     n, CL_AUDIT_UNVERIFIED_AGE_S / 86400);
            cl__finding(a, CL__WARN, "accounts.unverified", title,
                        "an address nobody proved may belong to someone else: such an account "
                        "was never confirmed by its owner",
                        "list them: sqlite3 DATA/clawlink.db \"SELECT email, created_at FROM "
                        "users WHERE email_verified_at IS NULL\"; delete the ones nobody claims",
                        false);
        }
    }

    n = cl__db_count(db,
                     "SELECT count(*) FROM api_tokens WHERE revoked_at IS NULL AND expires_at > "
                     "strftime('%s','now') AND coalesce(last_used_at, created_at) < ?1",
                     now - CL_AUDIT_TOKEN_IDLE_S);
    if (n > 0) {
        snprintf(title, sizeof title, "%lld live API token(s) unused for %d days", n,
                 CL_AUDIT_TOKEN_IDLE_S / 86400);
        snprintf(detail, sizeof detail,
                 "a forgotten sign-in (an old laptop, a script) still opens shells until it "
                 "expires");
        cl__finding(a, CL__WARN, "tokens.unused", title, detail,
                    "revoke them: Account > Sessions in the web app (DELETE "
                    "/api/v1/me/sessions/{id}), or sign out everywhere",
                    false);
    }
    n = cl__db_count(db,
                     "SELECT count(*) FROM devices WHERE paired = 1 AND "
                     "coalesce(last_seen, created_at) < ?1",
                     now - CL_AUDIT_DEVICE_IDLE_S);
    if (n > 0) {
        snprintf(title, sizeof title, "%lld paired device(s) not seen for %d days", n,
                 CL_AUDIT_DEVICE_IDLE_S / 86400);
        cl__finding(a, CL__WARN, "devices.unused", title,
                    "their device tokens still work: a machine sold, stolen or reinstalled can "
                    "come back as the device",
                    "remove them in the web app (project > device > Remove)", false);
    }
    cl_sqlite_close(db);
}

/* ---- --deep ---------------------------------------------------------------- */

struct cl__probe {
    char body[512];
    size_t len;
    bool hsts;
};

static size_t cl__probe_body(char *p, size_t size, size_t n, void *arg)
{
    struct cl__probe *pr = arg;
    size_t k = size * n, room = sizeof pr->body - 1 - pr->len;
    memcpy(pr->body + pr->len, p, k < room ? k : room);
    pr->len += k < room ? k : room;
    pr->body[pr->len] = 0;
    return k;
}

static size_t cl__probe_header(char *p, size_t size, size_t n, void *arg)
{
    struct cl__probe *pr = arg;
    size_t k = size * n;
    if (k > 26 && strncasecmp(p, "strict-transport-security:", 26) == 0)
        pr->hsts = true;
    return k;
}

static void cl__check_deep(struct cl__audit *a)
{
    char url[CL_URL_MAX + 16], title[CL_URL_MAX + 120], detail[CURL_ERROR_SIZE + 200];
    char cerr[CURL_ERROR_SIZE] = "";
    struct cl__probe pr;
    struct curl_certinfo *ci = NULL;
    bool https;
    long status = 0;
    CURLcode rc;
    CURL *c;
    const char *base = a->public_url;
    size_t n;

    if (!base) {
        cl__finding(a, CL__INFO, "deep.skipped", "--deep needs --public-url", "nothing to probe",
                    "", false);
        return;
    }
    /* the URL agents dial: ws(s):// is http(s):// for the probe */
    if (strncmp(base, "wss://", 6) == 0)
        snprintf(url, sizeof url, "https://%s", base + 6);
    else if (strncmp(base, "ws://", 5) == 0)
        snprintf(url, sizeof url, "http://%s", base + 5);
    else
        snprintf(url, sizeof url, "%s", base);
    n = strlen(url);
    while (n && url[n - 1] == '/')
        url[--n] = 0;
    snprintf(url + n, sizeof url - n, "/healthz");
    https = strncmp(url, "https://", 8) == 0;

    memset(&pr, 0, sizeof pr);
    c = curl_easy_init();
    if (!c)
        return;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)CL_AUDIT_PROBE_TIMEOUT_S);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, cl__probe_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &pr);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, cl__probe_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &pr);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_CERTINFO, 1L);
    if (a->ca)
        curl_easy_setopt(c, CURLOPT_CAINFO, a->ca);
    rc = curl_easy_perform(c);
    if (rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE ||
        rc == CURLE_SSL_CERTPROBLEM) {
        snprintf(title, sizeof title, "the certificate of %s is not valid", base);
        snprintf(detail, sizeof detail, "%s", cerr[0] ? cerr : curl_easy_strerror(rc));
        cl__finding(a, CL__CRIT, "deep.cert_invalid", title, detail,
                    "serve a certificate for this host name from a CA browsers trust (or pass "
                    "--ca FILE for a private CA)",
                    false);
        goto out_cleanup;
    }
    if (rc != CURLE_OK) {
        snprintf(title, sizeof title, "the relay does not answer at %s", url);
        snprintf(detail, sizeof detail, "%s", cerr[0] ? cerr : curl_easy_strerror(rc));
        cl__finding(a, CL__CRIT, "deep.unreachable", title, detail,
                    "is the relay running, and is --public-url the address it is reached at?",
                    false);
        goto out_cleanup;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (status != 200) {
        snprintf(title, sizeof title, "%s answers %ld", url, status);
        cl__finding(a, CL__CRIT, "deep.unhealthy", title, pr.body,
                    "the body says what is wrong (docs/operations.md \"Health\")", false);
    }
    if (!https) {
        cl__finding(a, CL__INFO, "deep.tls_skipped", "the public URL is not https://",
                    "certificate and HSTS not probed", "", false);
        goto out_cleanup;
    }
    if (!pr.hsts)
        cl__finding(a, CL__WARN, "deep.hsts_missing",
                    "no Strict-Transport-Security on the public URL",
                    "a browser may be talked down to plain http:// on a hostile network",
                    "the relay sends HSTS when it serves TLS itself; a proxy in front must add "
                    "Strict-Transport-Security: max-age=31536000",
                    false);
    if (curl_easy_getinfo(c, CURLINFO_CERTINFO, &ci) == CURLE_OK && ci && ci->num_of_certs > 0) {
        for (struct curl_slist *s = ci->certinfo[0]; s; s = s->next) {
            time_t exp;
            if (strncmp(s->data, "Expire date:", 12) != 0)
                continue;
            exp = curl_getdate(s->data + 12, NULL);
            if (exp > 0 && exp - time(NULL) < CL_AUDIT_CERT_EXPIRY_S) {
                snprintf(title, sizeof title, "the certificate of %s expires within %d days", base,
                         CL_AUDIT_CERT_EXPIRY_S / 86400);
                snprintf(detail, sizeof detail, "not after %s", s->data + 12);
                cl__finding(a, CL__WARN, "deep.cert_expiring", title, detail,
                            "renew it, then SIGHUP the relay", false);
            }
            break;
        }
    }
out_cleanup:
    curl_easy_cleanup(c);
}

/* ---- the command ---------------------------------------------------------- */

static void cl__audit_usage(FILE *f)
{
    fprintf(f,
            "usage: clawlink-relay audit [--deep] [--fix] [--json] [--ca FILE] [--unit FILE] [the "
            "relay's "
            "options]\n"
            "\n"
            "Checks this relay's setup and says what to fix. Give it the options the relay\n"
            "runs with (the unit's ExecStart flags: --data, --listen, --public-url,\n"
            "--tls-cert/--tls-key, --smtp-url or --smtp-url-file, ...); the others are\n"
            "accepted and ignored. Run it as the relay's user, on the relay's machine; it\n"
            "opens the database read-only, beside a running relay.\n"
            "\n"
            "  --deep      also probe the live relay at --public-url: /healthz, the\n"
            "              certificate (valid, not expiring within %d days), HSTS\n"
            "  --ca FILE   trust this CA for --deep (a private CA)\n"
            "  --unit FILE the relay's systemd unit, for its LimitNOFILE (default\n"
            "              /etc/systemd/system/clawlink-relay.service when it exists)\n"
            "  --fix       apply the safe fixes (chmod of the relay's own files and\n"
            "              directories) and report each; nothing else changes\n"
            "  --json      the findings as JSON (docs/operations.md \"Audit\")\n"
            "\n"
            "Exit status: 0 nothing critical, 1 something critical, 2 usage error.\n",
            CL_AUDIT_CERT_EXPIRY_S / 86400);
}

int cl_audit_main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"data", required_argument, NULL, 'd'},
        {"listen", required_argument, NULL, 'l'},
        {"public-url", required_argument, NULL, 'p'},
        {"tls-cert", required_argument, NULL, 'c'},
        {"tls-key", required_argument, NULL, 'k'},
        {"smtp-url", required_argument, NULL, 'S'},
        {"smtp-url-file", required_argument, NULL, 'f'},
        {"max-conns-per-addr", required_argument, NULL, 'M'},
        /* the relay's other options: accepted, not audited */
        {"smtp-from", required_argument, NULL, 'x'},
        {"store", required_argument, NULL, 'x'}, /* the checks read --data's database */
        {"store-file", required_argument, NULL, 'P'},
        {"agent-grace", required_argument, NULL, 'x'},
        {"ping-interval", required_argument, NULL, 'x'},
        {"connector-dir", required_argument, NULL, 'x'},
        {"web-dir", required_argument, NULL, 'x'},
        {"demo", required_argument, NULL, 'x'},
        {"log-level", required_argument, NULL, 'x'},
        {"max-unauth-per-addr", required_argument, NULL, 'x'},
        {"max-sessions-per-device", required_argument, NULL, 'x'},
        {"max-sessions-per-user", required_argument, NULL, 'x'},
        {"drain", required_argument, NULL, 'x'},
        {"max-pending-invitations", required_argument, NULL, 'x'},
        {"nats", required_argument, NULL, 'x'}, /* never echoed: it may hold a password */
        {"trusted-proxy", required_argument, NULL, 'x'},
        {"metrics-token-file", required_argument, NULL, 'm'},
        /* the audit's own */
        {"deep", no_argument, NULL, 'D'},
        {"fix", no_argument, NULL, 'F'},
        {"json", no_argument, NULL, 'J'},
        {"ca", required_argument, NULL, 'a'},
        {"unit", required_argument, NULL, 'u'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct cl__audit a;
    struct cl__running run;
    bool have_run;
    struct stat sb;
    int opt;

    memset(&a, 0, sizeof a);
    a.data = "./var";
    a.listen = "127.0.0.1:8080";
    a.max_conns_per_addr = CL_RELAY_CONN_PER_ADDR;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (opt) {
        case 'd':
            a.data = optarg;
            break;
        case 'l':
            a.listen = optarg;
            break;
        case 'p':
            if (strncmp(optarg, "http://", 7) != 0 && strncmp(optarg, "https://", 8) != 0 &&
                strncmp(optarg, "ws://", 5) != 0 && strncmp(optarg, "wss://", 6) != 0) {
                fprintf(stderr, "clawlink-relay audit: --public-url wants http(s):// or "
                                "ws(s)://\n");
                return 2;
            }
            a.public_url = optarg;
            break;
        case 'c':
            a.tls_cert = optarg;
            break;
        case 'k':
            a.tls_key = optarg;
            break;
        case 'S':
            a.smtp_url = optarg;
            break;
        case 'm':
            a.metrics_token_file = optarg;
            break;
        case 'P':
            a.store_file = optarg;
            break;
        case 'f':
            a.smtp_url_file = optarg;
            break;
        case 'M': {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*end || end == optarg || v < 1 || v > 1000000) {
                fprintf(stderr, "clawlink-relay audit: --max-conns-per-addr wants 1..1000000\n");
                return 2;
            }
            a.max_conns_per_addr = (unsigned)v;
            break;
        }
        case 'x':
            break;
        case 'D':
            a.deep = true;
            break;
        case 'F':
            a.fix = true;
            break;
        case 'J':
            a.json = true;
            break;
        case 'a':
            a.ca = optarg;
            break;
        case 'u':
            a.unit = optarg;
            break;
        case 'h':
            cl__audit_usage(stdout);
            return 0;
        default:
            cl__audit_usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "clawlink-relay audit: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (!a.tls_cert != !a.tls_key) {
        fprintf(stderr, "clawlink-relay audit: --tls-cert and --tls-key go together\n");
        return 2;
    }
    if (stat(a.data, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        fprintf(stderr, "clawlink-relay audit: --data %s is not a directory: is it the relay's?\n",
                a.data);
        return 2;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    a.findings = json_array();
    if (!a.json)
        printf("clawlink-relay audit of %s%s\n", a.data, a.fix ? " (--fix)" : "");

    cl_datadir_check(a.data, a.fix ? CL_DATADIR_FIX_ALL : CL_DATADIR_FIX_NONE, cl__datadir_finding,
                     &a);
    cl__check_tls_files(&a);
    cl__check_network(&a);
    have_run = cl__find_running(&a, &run);
    cl__check_limits(&a, have_run ? &run : NULL);
    cl__check_unit(&a);
    cl__check_smtp(&a, have_run ? &run : NULL);
    cl__check_secret_file(&a, a.store_file, "store.file_mode", "the store URL file",
                          "it holds the database's password");
    cl__check_metrics(&a);
    cl__check_db(&a);
    if (a.deep)
        cl__check_deep(&a);

    if (a.json) {
        json_t *out = json_pack(
            "{s:i, s:s, s:s, s:s, s:b, s:b, s:{s:i, s:i, s:i, s:i}, s:O}", "version",
            CL__AUDIT_SCHEMA, "tool", "clawlink-relay audit", "relay_version", CL_VERSION, "data",
            a.data, "deep", a.deep, "fix", a.fix, "summary", "critical", a.count[CL__CRIT], "warn",
            a.count[CL__WARN], "info", a.count[CL__INFO], "fixed", a.fixed, "findings", a.findings);
        char *s = json_dumps(out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        if (s)
            printf("%s\n", s);
        free(s);
        json_decref(out);
    } else {
        printf("%u critical, %u warning(s), %u note(s) outstanding; %u fixed\n", a.count[CL__CRIT],
               a.count[CL__WARN], a.count[CL__INFO], a.fixed);
    }
    json_decref(a.findings);
    curl_global_cleanup();
    return a.count[CL__CRIT] ? 1 : 0;
}

/*
 * clawlink-relay: the server browsers and agents meet at.
 *
 * One process, one port: the HTTP API, the agent WebSocket (/connect) and
 * the browser WebSocket (/session), on one libuv loop, with an embedded
 * SQLite database in --data.
 */
#include "core/err.h"
#include "core/json.h"
#include "core/log.h"
#include "core/secret.h"
#include "relay/accounts.h"
#include "relay/admission.h"
#include "relay/audit.h"
#include "relay/api_metrics.h"
#include "relay/auth.h"
#include "relay/bus.h"
#include "relay/consent.h"
#include "relay/demo.h"
#include "relay/events.h"
#include "relay/hub.h"
#include "relay/nodes.h"
#include "relay/chat.h"
#include "relay/mail.h"
#include "relay/ratelimit.h"
#include "relay/metrics.h"
#include "relay/proxy.h"
#include "relay/relay.h"
#include "relay/router_local.h"
#include "relay/server.h"
#include "relay/store_metrics.h"
#include "relay/store_pool.h"
#include "relay/web.h"
#include "relay/webauth.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <malloc.h>
#include <sodium.h>
#include <sys/resource.h>
#include <sys/stat.h>

static void cl__usage(FILE *f)
{
    fprintf(
        f,
        "usage: clawlink-relay [options]\n"
        "       clawlink-relay login-link [--data DIR] [--email EMAIL] [--listen ADDR:PORT]\n"
        "                                 (a one-time sign-in link; login-link --help)\n"
        "       clawlink-relay audit [--deep] [--fix] [--json] [the relay's options]\n"
        "                                 (check this relay's setup; audit --help)\n"
        "       clawlink-relay verify-email [--data DIR] EMAIL\n"
        "                                 (mark an address proven: no mail server)\n"
        "\n"
        "  --listen ADDR:PORT   address to serve HTTP and WebSocket on (default 127.0.0.1:8080)\n"
        "  --data DIR           database and state directory (default ./var)\n"
        "  --store URL          where the relay's state is stored: sqlite:PATH, the SQLite\n"
        "                       database in directory PATH (default sqlite:DIR of --data),\n"
        "                       or postgresql://[user[:pass]@]host[:port]/db (libpq's URL);\n"
        "                       a password there shows in ps: prefer --store-file\n"
        "  --store-file FILE    read that URL from FILE (one line, mode 0600)\n"
        "  --tls-cert FILE      PEM certificate: serve HTTPS/WSS (with --tls-key)\n"
        "  --tls-key FILE       PEM private key\n"
        "  --public-url URL     the URL agents are told to dial, e.g. https://relay.example.com\n"
        "                       (default: derived from --listen)\n"
        "  --agent-grace SECS   how long a disconnected agent's sessions wait for it (default 60)\n"
        "  --max-conns-per-addr N  connections one client address may hold (default 256);\n"
        "                       more are closed at once\n"
        "  --max-unauth-per-addr N WebSockets of one address not yet authenticated\n"
        "                       (default 32); each has 10 s to send hello/auth\n"
        "  --max-sessions-per-device N, --max-sessions-per-user N\n"
        "                       open sessions start-session allows (default 64, 128)\n"
        "  --max-pending-invitations N\n"
        "                       pending invitations a project may have (default 50)\n"
        "  --ping-interval SECS WebSocket ping after this much silence; a peer silent for\n"
        "                       2 intervals + 5 s is closed (default 20)\n"
        "  --smtp-url URL       send password reset mail through this server,\n"
        "                       smtp[s]://[user:pass@]host[:port] (default: write it to\n"
        "                       DATA/outbox/ for the operator). Credentials in it show in\n"
        "                       ps: prefer --smtp-url-file or $CLAWLINK_SMTP_URL\n"
        "  --smtp-url-file FILE read that URL from FILE (one line, mode 0600)\n"
        "  --smtp-from ADDR     From: address of that mail (default clawlink-relay@localhost)\n"
        "  --connector-dir DIR  agent binaries served by /functions/v1/download-connector:\n"
        "                       DIR/clawlink-PLATFORM, and DIR/clawlink for this host's\n"
        "                       platform (default: the directory of this executable)\n"
        "  --web-dir DIR        serve the web app from DIR (a web/dist build) instead of the\n"
        "                       copy built into the relay: front-end development\n"
        "  --demo FILE          make run's demo, on a loopback --listen only: on an empty\n"
        "                       database create a demo user, project and device; at every\n"
        "                       start a one-time sign-in code; write them to FILE (0600)\n"
        "  --drain SECS         on SIGTERM, first answer GET /readyz 503 for SECS while\n"
        "                       serving as before, so a load balancer moves away (default 0)\n"
        "  --metrics-token-file FILE  serve Prometheus metrics at /metrics to requests with\n"
        "                       \"Authorization: Bearer\" and the token in FILE (32+ bytes,\n"
        "                       e.g. openssl rand -hex 32); without it /metrics is off (404)\n"
        "  --nats URL[,URL...]  join a cluster: the NATS servers, nats://[user:pass@]host[:port]\n"
        "                       (default port 4222). Credentials in it show in ps: prefer\n"
        "                       $CLAWLINK_NATS_URL. Without it the relay is on its own\n"
        "  --trusted-proxy ADDR[/BITS][,...]  load balancers in front of the relay: a\n"
        "                       connection from one of them is the client named by its\n"
        "                       X-Forwarded-For (per-address limits and logs see the client)\n"
        "  --log-level LEVEL    debug | info | warn | error (default info)\n"
        "  --help               this text\n"
        "  --version            print the version\n");
}

static void cl__login_link_usage(FILE *f)
{
    fprintf(f,
            "usage: clawlink-relay login-link [--data DIR | --store-file FILE] [--email EMAIL]\n"
            "                                 [--listen ADDR:PORT] [--url URL]\n"
            "\n"
            "Prints a one-time sign-in link for a user of the relay whose database is in\n"
            "DIR (default ./var): the demo user of `make run` (" CL_DEMO_EMAIL ")\n"
            "unless --email names another. Run it on the relay's machine; the link works\n"
            "once, for %d minutes, opened on that machine (a loopback address), whether\n"
            "the relay runs now or starts later. `make login` runs it with make run's\n"
            "DATA and LISTEN.\n"
            "\n"
            "  --data DIR           the relay's --data (default ./var)\n"
            "  --store-file FILE    the relay's --store-file (a relay on PostgreSQL)\n"
            "  --email EMAIL        whom to sign in (default " CL_DEMO_EMAIL ")\n"
            "  --listen ADDR:PORT   the relay's --listen, for the link (default 127.0.0.1:8080;\n"
            "                       0.0.0.0 and :: become 127.0.0.1 and ::1)\n"
            "  --url URL            the link's base instead, e.g. https://127.0.0.1:8443\n",
            CL_SIGNIN_CODE_TTL_S / 60);
}

static int cl__parse_listen(const char *s, struct cl_relay_opts *o);

/* Opens the store an operator command names (login-link, verify-email):
 * --store-file FILE's URL, or the SQLite database in data (which must
 * exist: a typo is not a fresh database). 0, or the exit status (1, 2)
 * after saying why on stderr, never the URL. */
static int cl__sub_store_open(const char *who, const char *data, const char *store_file,
                              struct cl_store *s)
{
    static char url[CL_STORE_URL_MAX + 2];
    char db[600], err[256];
    struct stat st;
    int rc;

    if (store_file) {
        if (cl_store_url_load(store_file, url, sizeof url, err, sizeof err)) {
            fprintf(stderr, "clawlink-relay %s: --store-file: %s\n", who, err);
            return 2;
        }
    } else {
        snprintf(db, sizeof db, "%s/clawlink.db", data);
        if (stat(db, &st) != 0) {
            fprintf(stderr,
                    "clawlink-relay %s: no relay database in %s (%s): is --data the relay's "
                    "(make run: DATA=...), or does it keep its state in PostgreSQL "
                    "(--store-file)?\n",
                    who, data, strerror(errno));
            return 1;
        }
        snprintf(url, sizeof url, "sqlite:%s", data);
    }
    rc = cl_store_open(s, url, err, sizeof err);
    cl_wipe(url, sizeof url);
    if (rc) {
        fprintf(stderr, "clawlink-relay %s: cannot open the database: %s\n", who, err);
        return 1;
    }
    return 0;
}

/* clawlink-relay login-link: a way back in for a user with no password
 * they know (the demo user's is random and never shown). A one-time
 * sign-in code as make run's demo makes (webauth.c: random, stored only as
 * its hash, used once, from a loopback peer); the link goes to stdout and
 * nowhere else. Opens the database beside a running relay (SQLite WAL);
 * refuses a directory that has no database rather than creating one. */
static int cl__login_link(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"data", required_argument, NULL, 'd'},
        {"email", required_argument, NULL, 'e'},
        {"listen", required_argument, NULL, 'l'},
        {"url", required_argument, NULL, 'u'},
        {"store-file", required_argument, NULL, 'b'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct cl_relay r;
    struct cl_user u;
    const char *email = CL_DEMO_EMAIL, *url = NULL, *store_file = NULL;
    char norm[CL_EMAIL_MAX + 1], code[CL_TOKEN_STR_LEN + 1], base[160];
    int opt, rc = 1;

    memset(&r, 0, sizeof r);
    snprintf(r.opts.listen_addr, sizeof r.opts.listen_addr, "127.0.0.1");
    r.opts.port = 8080;
    snprintf(r.opts.data_dir, sizeof r.opts.data_dir, "./var");
    optind = 1;
    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (opt) {
        case 'd':
            if (strlen(optarg) >= sizeof r.opts.data_dir) {
                fprintf(stderr, "clawlink-relay login-link: --data path too long\n");
                return 2;
            }
            snprintf(r.opts.data_dir, sizeof r.opts.data_dir, "%s", optarg);
            break;
        case 'e':
            email = optarg;
            break;
        case 'b':
            store_file = optarg;
            break;
        case 'l':
            if (cl__parse_listen(optarg, &r.opts)) {
                fprintf(stderr, "clawlink-relay login-link: --listen wants ADDR:PORT, got '%s'\n",
                        optarg);
                return 2;
            }
            break;
        case 'u':
            if ((strncmp(optarg, "http://", 7) != 0 && strncmp(optarg, "https://", 8) != 0) ||
                strlen(optarg) >= sizeof base - 1 || strpbrk(optarg, " #?\r\n")) {
                fprintf(stderr, "clawlink-relay login-link: --url wants http(s)://HOST[:PORT]\n");
                return 2;
            }
            url = optarg;
            break;
        case 'h':
            cl__login_link_usage(stdout);
            return 0;
        default:
            cl__login_link_usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "clawlink-relay login-link: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (cl_auth_normalize_email(email, norm)) {
        fprintf(stderr, "clawlink-relay login-link: '%s' is not an email address\n", email);
        return 2;
    }
    if (url) {
        size_t n = strlen(url);
        snprintf(base, sizeof base, "%.*s", (int)(n && url[n - 1] == '/' ? n - 1 : n), url);
    } else {
        const char *host = r.opts.listen_addr;
        if (strcmp(host, "0.0.0.0") == 0)
            host = "127.0.0.1";
        else if (strcmp(host, "::") == 0)
            host = "::1";
        snprintf(base, sizeof base, strchr(host, ':') ? "http://[%s]:%d" : "http://%s:%d", host,
                 r.opts.port);
    }
    cl_log_set_level(CL_LOG_WARN); /* the store's "database open" is not news here */
    if (cl_secret_init() || cl_auth_init()) {
        fprintf(stderr, "clawlink-relay login-link: crypto initialisation failed\n");
        return 1;
    }
    rc = cl__sub_store_open("login-link", r.opts.data_dir, store_file, &r.store);
    if (rc)
        return rc;
    rc = r.store.ops->user_by_email(&r.store, norm, &u);
    if (rc == CL_ENOTFOUND) {
        fprintf(stderr, "clawlink-relay login-link: no user %s in %s%s\n", norm, r.opts.data_dir,
                strcmp(norm, CL_DEMO_EMAIL) == 0 ? " (no demo: name a user with --email)" : "");
        rc = 1;
        goto out_close;
    }
    if (rc) {
        fprintf(stderr, "clawlink-relay login-link: reading the user failed: %s\n",
                cl_strerror(rc));
        rc = 1;
        goto out_close;
    }
    cl_wipe(u.pw_hash, sizeof u.pw_hash);
    if (cl_webauth_signin_code_new(&r, u.id, code)) {
        fprintf(stderr, "clawlink-relay login-link: storing the sign-in code failed\n");
        rc = 1;
        goto out_close;
    }
    fprintf(stderr,
            "One-time sign-in link for %s: it works once, for %d minutes, opened on this "
            "machine:\n",
            norm, CL_SIGNIN_CODE_TTL_S / 60);
    printf("%s/auth#one-time=%s\n", base, code);
    fflush(stdout);
    cl_wipe(code, sizeof code);
    rc = 0;
out_close:
    r.store.ops->close(&r.store);
    return rc;
}

/* clawlink-relay verify-email [--data DIR] EMAIL: the operator vouches
 * for a user's address (a self-hosted relay without a mail server, where
 * the operator knows the person). Marks it proven as an opened
 * verification link would, on the relay's machine, with access to its
 * data directory: nothing a remote caller can do. */
static int cl__verify_email(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"data", required_argument, NULL, 'd'},
        {"store-file", required_argument, NULL, 'b'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    static const char usage[] =
        "usage: clawlink-relay verify-email [--data DIR | --store-file FILE] EMAIL\n"
        "\n"
        "Marks EMAIL, a user of the relay whose database is in DIR (default ./var),\n"
        "as proven, as opening the verification link the relay mailed would: for a\n"
        "relay without a mail server, when you know the address is theirs. Only a\n"
        "proven address sees and accepts invitations to projects. A relay on\n"
        "PostgreSQL: --store-file FILE, the relay's.\n";
    char data[512], norm[CL_EMAIL_MAX + 1];
    const char *store_file = NULL;
    struct cl_store store;
    struct cl_user u;
    int opt, rc;

    snprintf(data, sizeof data, "./var");
    optind = 1;
    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (opt) {
        case 'd':
            if (strlen(optarg) >= sizeof data) {
                fprintf(stderr, "clawlink-relay verify-email: --data path too long\n");
                return 2;
            }
            snprintf(data, sizeof data, "%s", optarg);
            break;
        case 'b':
            store_file = optarg;
            break;
        case 'h':
            fputs(usage, stdout);
            return 0;
        default:
            fputs(usage, stderr);
            return 2;
        }
    }
    if (optind != argc - 1) {
        fputs(usage, stderr);
        return 2;
    }
    if (cl_auth_normalize_email(argv[optind], norm)) {
        fprintf(stderr, "clawlink-relay verify-email: '%s' is not an email address\n",
                argv[optind]);
        return 2;
    }
    cl_log_set_level(CL_LOG_WARN);
    if (cl_secret_init()) {
        fprintf(stderr, "clawlink-relay verify-email: crypto initialisation failed\n");
        return 1;
    }
    rc = cl__sub_store_open("verify-email", data, store_file, &store);
    if (rc)
        return rc;
    rc = store.ops->user_by_email(&store, norm, &u);
    if (rc == 0) {
        cl_wipe(u.pw_hash, sizeof u.pw_hash);
        rc = u.email_verified_at ? 0 : store.ops->user_set_email_verified(&store, u.id, cl_now());
    }
    if (rc == CL_ENOTFOUND)
        fprintf(stderr, "clawlink-relay verify-email: no user %s in %s\n", norm, data);
    else if (rc)
        fprintf(stderr, "clawlink-relay verify-email: updating the user failed: %s\n",
                cl_strerror(rc));
    else
        printf("%s: address proven%s\n", norm, u.email_verified_at ? " (already)" : "");
    store.ops->close(&store);
    return rc ? 1 : 0;
}

static int cl__parse_listen(const char *s, struct cl_relay_opts *o)
{
    const char *colon = strrchr(s, ':');
    char *end;
    long port;
    if (!colon || colon == s || (size_t)(colon - s) >= sizeof o->listen_addr)
        return CL_EINVAL;
    port = strtol(colon + 1, &end, 10);
    if (*end || port < 1 || port > 65535)
        return CL_EINVAL;
    memcpy(o->listen_addr, s, (size_t)(colon - s));
    o->listen_addr[colon - s] = 0;
    o->port = (int)port;
    return 0;
}

/* ws[s]:// URL agents dial, from --public-url or the listen address. */
static int cl__relay_url(struct cl_relay *r)
{
    const char *u = r->opts.public_url;
    size_t n;
    if (!u) {
        snprintf(r->relay_url, sizeof r->relay_url, "%s://%s:%d", r->opts.tls_cert ? "wss" : "ws",
                 r->opts.listen_addr, r->opts.port);
        return 0;
    }
    if (strncmp(u, "https://", 8) == 0)
        snprintf(r->relay_url, sizeof r->relay_url, "wss://%s", u + 8);
    else if (strncmp(u, "http://", 7) == 0)
        snprintf(r->relay_url, sizeof r->relay_url, "ws://%s", u + 7);
    else if (strncmp(u, "wss://", 6) == 0 || strncmp(u, "ws://", 5) == 0)
        snprintf(r->relay_url, sizeof r->relay_url, "%s", u);
    else
        return CL_EINVAL;
    n = strlen(r->relay_url);
    while (n && r->relay_url[n - 1] == '/')
        r->relay_url[--n] = 0;
    return 0;
}

static int cl__mkdirs(const char *path)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir(buf, 0700) && errno != EEXIST)
            return CL_EIO;
        *p = '/';
    }
    if (mkdir(buf, 0700) && errno != EEXIST)
        return CL_EIO;
    return 0;
}

static uv_signal_t cl__sigterm, cl__sigint, cl__sighup;
static uv_timer_t cl__stop_timer;

static void cl__stop_now(uv_timer_t *t)
{
    uv_stop(t->loop);
}

/* SIGHUP: load the TLS certificate and key again (after a renewal)
 * without dropping a connection; new handshakes use the new pair. */
static void cl__on_sighup(uv_signal_t *s, int signum)
{
    struct cl_relay *r = s->data;
    if (!r->opts.tls_cert) {
        cl_info("relay", "SIGHUP: no TLS configured, nothing to reload", "%s", "");
        return;
    }
    if (lws_tls_cert_updated(r->lws, r->opts.tls_cert, r->opts.tls_key, NULL, 0, NULL, 0))
        cl_error("relay", "SIGHUP: TLS reload failed; keeping the old certificate",
                 "cert=%s key=%s", r->opts.tls_cert, r->opts.tls_key);
    else
        cl_info("relay", "SIGHUP: TLS certificate reloaded", "cert=%s", r->opts.tls_cert);
}

static void cl__shutdown(struct cl_relay *r)
{
    r->stopping = true;
    cl_hub_shutdown(r->hub);
    cl_events_shutdown(r->events);
    /* Give close frames a moment to leave, then stop. */
    uv_timer_start(&cl__stop_timer, cl__stop_now, 300, 0);
}

static void cl__drained(uv_timer_t *t)
{
    struct cl_relay *r = t->data;
    cl_info("relay", "drained: shutting down", "%s", "");
    cl__shutdown(r);
}

/* SIGTERM/SIGINT: with --drain, /readyz turns 503 first (health.c) while
 * everything else is served as before; then, or at a second signal, the
 * connections are closed; a signal after that stops at once. */
static void cl__on_signal(uv_signal_t *s, int signum)
{
    struct cl_relay *r = s->data;
    if (r->stopping) {
        uv_stop(s->loop); /* stop at once */
        return;
    }
    if (!r->draining && r->opts.drain_s) {
        cl_info("relay", "draining: /readyz answers 503", "signal=%d seconds=%u", signum,
                r->opts.drain_s);
        r->draining = true;
        uv_timer_start(&cl__stop_timer, cl__drained, (uint64_t)r->opts.drain_s * 1000, 0);
        return;
    }
    cl_info("relay", "shutting down", "signal=%d", signum);
    cl__shutdown(r);
}

/* The file limit, raised to the hard limit first (systemd's default soft
 * limit is 1,024: a few hundred idle sockets from one client used to take
 * the relay down). Returns the soft limit now in force. */
static size_t cl__raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return 1024;
    if (rl.rlim_cur < rl.rlim_max) {
        rlim_t want = rl.rlim_max == RLIM_INFINITY ? 1048576 : rl.rlim_max;
        struct rlimit up = {.rlim_cur = want, .rlim_max = rl.rlim_max};
        if (setrlimit(RLIMIT_NOFILE, &up) == 0)
            rl.rlim_cur = want;
    }
    return rl.rlim_cur == RLIM_INFINITY ? 1048576 : (size_t)rl.rlim_cur;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"listen", required_argument, NULL, 'l'},
        {"data", required_argument, NULL, 'd'},
        {"store", required_argument, NULL, 'B'},
        {"store-file", required_argument, NULL, 'b'},
        {"tls-cert", required_argument, NULL, 'c'},
        {"tls-key", required_argument, NULL, 'k'},
        {"public-url", required_argument, NULL, 'p'},
        {"log-level", required_argument, NULL, 'L'},
        {"agent-grace", required_argument, NULL, 'g'},
        {"ping-interval", required_argument, NULL, 'i'},
        {"smtp-url", required_argument, NULL, 'S'},
        {"smtp-from", required_argument, NULL, 'F'},
        {"smtp-url-file", required_argument, NULL, 'f'},
        {"drain", required_argument, NULL, 'T'},
        {"connector-dir", required_argument, NULL, 'C'},
        {"web-dir", required_argument, NULL, 'W'},
        {"demo", required_argument, NULL, 'D'},
        {"max-conns-per-addr", required_argument, NULL, 'M'},
        {"max-unauth-per-addr", required_argument, NULL, 'U'},
        {"max-sessions-per-device", required_argument, NULL, 'E'},
        {"max-sessions-per-user", required_argument, NULL, 'R'},
        {"max-pending-invitations", required_argument, NULL, 'I'},
        {"metrics-token-file", required_argument, NULL, 'm'},
        {"nats", required_argument, NULL, 'N'},
        {"trusted-proxy", required_argument, NULL, 'P'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    struct cl_relay r;
    const char *demo_file = NULL, *smtp_url_file = NULL, *store_url_file = NULL;
    static char smtp_url[CL_URL_MAX + 2], store_file_url[CL_STORE_URL_MAX + 2];
    static char store_url[sizeof r.opts.data_dir + 16];
    struct cl_store_url store_parsed;
    static struct cl_bus_urls nats_urls;
    static struct cl_proxy_nets proxies;
    const char *nats_spec = NULL;
    uv_loop_t loop;
    char err[256];
    enum cl_log_level level;
    const char *web;
    int opt, rc = 1;

    /* Every connection's receive buffer gets a mapping of its own, so
     * only the pages it touched are resident (limits.h); smaller blocks,
     * a chunk's frame among them, stay on the heap. */
    if (argc > 1 && strcmp(argv[1], "login-link") == 0)
        return cl__login_link(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "audit") == 0)
        return cl_audit_main(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "verify-email") == 0)
        return cl__verify_email(argc - 1, argv + 1);
    mallopt(M_MMAP_THRESHOLD, CL_RELAY_RX_BUFFER);
    memset(&r, 0, sizeof r);
    snprintf(r.opts.listen_addr, sizeof r.opts.listen_addr, "127.0.0.1");
    r.opts.port = 8080;
    snprintf(r.opts.data_dir, sizeof r.opts.data_dir, "./var");
    r.opts.agent_grace_s = 60;
    r.opts.ping_interval_s = 20;
    r.opts.max_conns_per_addr = CL_RELAY_CONN_PER_ADDR;
    r.opts.max_unauth_per_addr = CL_RELAY_UNAUTH_WS_PER_ADDR;
    r.opts.max_sessions_device = CL_SESSIONS_PER_DEVICE;
    r.opts.max_sessions_user = CL_SESSIONS_PER_USER;
    r.opts.max_pending_invitations = CL_INVITATIONS_PENDING_MAX;

    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (opt) {
        case 'l':
            if (cl__parse_listen(optarg, &r.opts)) {
                fprintf(stderr, "clawlink-relay: --listen wants ADDR:PORT, got '%s'\n", optarg);
                return 2;
            }
            break;
        case 'd':
            if (strlen(optarg) >= sizeof r.opts.data_dir) {
                fprintf(stderr, "clawlink-relay: --data path too long\n");
                return 2;
            }
            snprintf(r.opts.data_dir, sizeof r.opts.data_dir, "%s", optarg);
            break;
        case 'N':
            nats_spec = optarg;
            break;
        case 'P':
            if (cl_proxy_nets_parse(optarg, &proxies, err, sizeof err)) {
                fprintf(stderr, "clawlink-relay: --trusted-proxy: %s\n", err);
                return 2;
            }
            r.opts.trusted_proxies = &proxies;
            break;
        case 'B':
            /* checked before anything starts: a typo is not a fresh database */
            if (cl_store_url_parse(optarg, &store_parsed, err, sizeof err)) {
                fprintf(stderr, "clawlink-relay: --store: %s\n", err);
                return 2;
            }
            cl_wipe(store_parsed.path, sizeof store_parsed.path); /* a postgres URL's password */
            r.opts.store_url = optarg;
            break;
        case 'b':
            store_url_file = optarg;
            break;
        case 'g':
        case 'T':
        case 'i': {
            char *end;
            long v = strtol(optarg, &end, 10);
            long lo = opt == 'i' ? 1 : 0;
            if (*end || end == optarg || v < lo || v > 86400) {
                fprintf(stderr, "clawlink-relay: --%s wants seconds (%ld..86400), got '%s'\n",
                        opt == 'i'   ? "ping-interval"
                        : opt == 'T' ? "drain"
                                     : "agent-grace",
                        lo, optarg);
                return 2;
            }
            *(opt == 'g'   ? &r.opts.agent_grace_s
              : opt == 'T' ? &r.opts.drain_s
                           : &r.opts.ping_interval_s) = (unsigned)v;
            break;
        }
        case 'c':
            r.opts.tls_cert = optarg;
            break;
        case 'k':
            r.opts.tls_key = optarg;
            break;
        case 'p':
            r.opts.public_url = optarg;
            break;
        case 'S':
            if (strncmp(optarg, "smtp://", 7) != 0 && strncmp(optarg, "smtps://", 8) != 0) {
                fprintf(stderr, "clawlink-relay: --smtp-url must start with smtp:// or smtps://\n");
                return 2;
            }
            r.opts.smtp_url = optarg;
            break;
        case 'f':
            smtp_url_file = optarg;
            break;
        case 'F':
            if (strlen(optarg) > CL_EMAIL_MAX || !strchr(optarg, '@') ||
                strpbrk(optarg, "\r\n<> ")) {
                fprintf(stderr, "clawlink-relay: --smtp-from wants an email address\n");
                return 2;
            }
            r.opts.smtp_from = optarg;
            break;
        case 'C': {
            struct stat sb;
            if (stat(optarg, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
                fprintf(stderr, "clawlink-relay: --connector-dir '%s' is not a directory\n",
                        optarg);
                return 2;
            }
            r.opts.connector_dir = optarg;
            break;
        }
        case 'D':
            demo_file = optarg;
            break;
        case 'm':
            r.opts.metrics_token_file = optarg;
            break;
        case 'M':
        case 'U':
        case 'E':
        case 'I':
        case 'R': {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*end || end == optarg || v < 1 || v > 1000000) {
                fprintf(stderr, "clawlink-relay: --%s wants 1..1000000, got '%s'\n",
                        opt == 'M'   ? "max-conns-per-addr"
                        : opt == 'U' ? "max-unauth-per-addr"
                        : opt == 'E' ? "max-sessions-per-device"
                        : opt == 'I' ? "max-pending-invitations"
                                     : "max-sessions-per-user",
                        optarg);
                return 2;
            }
            *(opt == 'M'   ? &r.opts.max_conns_per_addr
              : opt == 'U' ? &r.opts.max_unauth_per_addr
              : opt == 'E' ? &r.opts.max_sessions_device
              : opt == 'I' ? &r.opts.max_pending_invitations
                           : &r.opts.max_sessions_user) = (unsigned)v;
            break;
        }
        case 'W': {
            static char web_dir[PATH_MAX];
            struct stat sb;
            if (!realpath(optarg, web_dir) || stat(web_dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
                fprintf(stderr, "clawlink-relay: --web-dir '%s' is not a directory\n", optarg);
                return 2;
            }
            r.opts.web_dir = web_dir;
            break;
        }
        case 'L':
            if (cl_log_parse_level(optarg, &level)) {
                fprintf(stderr, "clawlink-relay: unknown log level '%s'\n", optarg);
                return 2;
            }
            cl_log_set_level(level);
            break;
        case 'h':
            cl__usage(stdout);
            return 0;
        case 'V':
            printf("clawlink-relay %s\n", CL_VERSION);
            return 0;
        default:
            cl__usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "clawlink-relay: unexpected argument '%s'\n", argv[optind]);
        cl__usage(stderr);
        return 2;
    }
    if (!r.opts.tls_cert != !r.opts.tls_key) {
        fprintf(stderr, "clawlink-relay: --tls-cert and --tls-key go together\n");
        return 2;
    }
    /* the store's URL, a password and all, may stay off the command line */
    if (store_url_file && r.opts.store_url) {
        fprintf(stderr, "clawlink-relay: --store and --store-file: one or the other\n");
        return 2;
    }
    if (store_url_file) {
        if (cl_store_url_load(store_url_file, store_file_url, sizeof store_file_url, err,
                              sizeof err)) {
            fprintf(stderr, "clawlink-relay: --store-file: %s\n", err);
            return 2;
        }
        r.opts.store_url = store_file_url;
    }
    /* the SMTP URL, credentials and all, may stay off the command line */
    if (cl_mail_url_resolve(r.opts.smtp_url, smtp_url_file, smtp_url, sizeof smtp_url,
                            &r.opts.smtp_url, err, sizeof err)) {
        fprintf(stderr, "clawlink-relay: %s\n", err);
        return 2;
    }
    /* the NATS servers' URLs, credentials and all, may stay off the
     * command line */
    if (!nats_spec && getenv("CLAWLINK_NATS_URL") && *getenv("CLAWLINK_NATS_URL"))
        nats_spec = getenv("CLAWLINK_NATS_URL");
    if (nats_spec) {
        if (cl_bus_urls_parse(nats_spec, &nats_urls, err, sizeof err)) {
            fprintf(stderr, "clawlink-relay: --nats: %s\n", err);
            return 2;
        }
        r.opts.nats = &nats_urls;
    }
    if (cl__relay_url(&r)) {
        fprintf(stderr, "clawlink-relay: --public-url must start with http(s):// or ws(s)://\n");
        return 2;
    }

    signal(SIGPIPE, SIG_IGN);
    cl_log_hook_lws();
    cl_json_init();
    if (cl_secret_init() || cl_auth_init() || cl_mail_init()) {
        cl_error("relay", "crypto initialisation failed", "%s", "");
        return 1;
    }
    cl_metrics_init();
    if (r.opts.metrics_token_file &&
        cl_metrics_token_load(&r, r.opts.metrics_token_file, err, sizeof err)) {
        cl_error("relay", "metrics token refused", "error=\"%s\"", err);
        return 1;
    }
    if (cl__mkdirs(r.opts.data_dir)) {
        cl_error("relay", "cannot create data directory", "dir=%s", r.opts.data_dir);
        return 1;
    }
    if (!r.opts.store_url) { /* the data directory's database, as before --store */
        snprintf(store_url, sizeof store_url, "sqlite:%s", r.opts.data_dir);
        r.opts.store_url = store_url;
    }
    /* r.opts.store_url stays: more stores may be opened from it (main's
     * store_pool, decision 68); store_file_url is wiped at exit */
    if (cl_store_open(&r.store, r.opts.store_url, err, sizeof err)) {
        cl_wipe(store_file_url, sizeof store_file_url);
        cl_error("relay", "cannot open database", "dir=%s error=\"%s\"", r.opts.data_dir, err);
        return 1;
    }
    cl_store_metrics_wrap(&r.store);
    r.store.ops->device_all_offline(&r.store, cl_now());
    if (cl_webauth_init(&r)) {
        cl_error("relay", "cannot load the CSRF key from the database", "%s", "");
        r.store.ops->close(&r.store);
        return 1;
    }

    {
        size_t nofile = cl__raise_nofile();
        size_t max_total =
            nofile > 2 * CL_RELAY_FD_RESERVE ? nofile - CL_RELAY_FD_RESERVE : nofile / 2;
        r.admission =
            cl_admission_new(r.opts.max_conns_per_addr, max_total, r.opts.max_unauth_per_addr);
        cl_admission_set_proxies(r.admission, r.opts.trusted_proxies);
        cl_info("relay", "connection limits", "files=%zu max_conns=%zu per_addr=%u", nofile,
                max_total, r.opts.max_conns_per_addr);
    }
    uv_loop_init(&loop);
    r.loop = &loop;
    /* the API's store work runs on threads of its own, each with its own
     * store from the same URL (store_pool.h) */
    if (cl_store_pool_open(&loop, r.opts.store_url, CL_RELAY_STORE_WORKERS, &r.store_pool, err,
                           sizeof err)) {
        cl_error("relay", "cannot open the store workers", "error=\"%s\"", err);
        while (uv_run(&loop, UV_RUN_NOWAIT))
            ;
        uv_loop_close(&loop);
        r.store.ops->close(&r.store);
        return 1;
    }
    {
        uint8_t id[CL_RELAY_ID_LEN / 2];
        randombytes_buf(id, sizeof id);
        sodium_bin2hex(r.relay_id, sizeof r.relay_id, id, sizeof id);
    }
    if (r.opts.nats) {
        char name[160];
        struct cl_bus_config bc = {.urls = r.opts.nats, .name = name};
        snprintf(name, sizeof name, "clawlink-relay %s %s:%d", r.relay_id, r.opts.listen_addr,
                 r.opts.port);
        if (cl_bus_open(&loop, &bc, &r.bus, err, sizeof err)) {
            cl_error("relay", "cannot start the NATS connection", "error=\"%s\"", err);
            cl_store_pool_close(r.store_pool);
            while (uv_run(&loop, UV_RUN_NOWAIT))
                ;
            uv_loop_close(&loop);
            r.store.ops->close(&r.store);
            return 1;
        }
        cl_info("relay", "cluster: NATS", "relay_id=%s servers=%d first=%s state=%s", r.relay_id,
                r.opts.nats->n, r.opts.nats->where[0], cl_bus_state_name(cl_bus_state(r.bus)));
    }
    r.hub = cl_hub_new(&r);
    cl_router_local_init(&r.router, r.hub);
    r.events = cl_events_new(&r);
    if (r.bus && cl_events_attach_bus(r.events, r.bus, r.relay_id))
        cl_warn("relay", "dashboards will not hear the other relays' events", "%s", "");
    r.nodes = cl_nodes_new(&r);
    r.chat = cl_chat_new(&r);
    r.rl_pair_addr = cl_ratelimit_new(CL_PAIR_FAILS_PER_ADDR, CL_PAIR_RATE_WINDOW_S);
    r.rl_pair_code = cl_ratelimit_new(CL_PAIR_FAILS_PER_CODE, CL_PAIRING_CODE_TTL_S);
    r.rl_pair_global = cl_ratelimit_new(CL_PAIR_FAILS_GLOBAL, CL_PAIR_RATE_WINDOW_S);
    r.accounts = cl_accounts_new(&r.opts);
    r.consent = cl_consent_new();
    cl_metrics_register_limiters(&r);
    if (cl_server_start(&r, err, sizeof err)) {
        cl_error("relay", "cannot start server", "error=\"%s\"%s", err,
                 strncmp(err, "cannot listen", 13) == 0
                     ? " hint=\"choose another address or port: --listen ADDR:PORT, or "
                       "LISTEN=ADDR:PORT with make run\""
                     : "");
        goto out_free;
    }
    uv_signal_init(&loop, &cl__sigterm);
    uv_signal_init(&loop, &cl__sigint);
    uv_signal_init(&loop, &cl__sighup);
    uv_timer_init(&loop, &cl__stop_timer);
    cl__stop_timer.data = &r;
    cl__sigterm.data = cl__sigint.data = cl__sighup.data = &r;
    uv_signal_start(&cl__sigterm, cl__on_signal, SIGTERM);
    uv_signal_start(&cl__sigint, cl__on_signal, SIGINT);
    uv_signal_start(&cl__sighup, cl__on_sighup, SIGHUP);
    /* listening already: whoever reads the demo file can use it at once */
    if (demo_file && cl_demo_prepare(&r, demo_file))
        cl_error("relay", "demo set-up failed; serving without it", "file=%s", demo_file);

    web = r.opts.web_dir ? r.opts.web_dir : "embedded";
    if (!r.opts.web_dir && !cl_web_app_n)
        web = "not built";
    cl_info("relay", "listening", "version=%s addr=%s port=%d tls=%s data=%s relay_url=%s web=%s",
            CL_VERSION, r.opts.listen_addr, r.opts.port, r.opts.tls_cert ? "on" : "off",
            r.opts.data_dir, r.relay_url, web);
    r.started = true; /* GET /readyz: ready from the loop's first turn */
    uv_run(&loop, UV_RUN_DEFAULT);
    rc = 0;

    uv_close((uv_handle_t *)&cl__sigterm, NULL);
    uv_close((uv_handle_t *)&cl__sigint, NULL);
    uv_close((uv_handle_t *)&cl__sighup, NULL);
    uv_close((uv_handle_t *)&cl__stop_timer, NULL);
out_free:
    cl_server_stop(&r);                /* closing connections calls into the hub */
    cl_store_pool_close(r.store_pool); /* its last jobs' after-work calls into the hub */
    cl_hub_free(r.hub);
    cl_events_free(r.events);
    cl_nodes_free(r.nodes);
    cl_chat_free(r.chat);
    cl_bus_close(r.bus);
    while (uv_run(&loop, UV_RUN_NOWAIT))
        ;
    if (uv_loop_close(&loop))
        cl_warn("relay", "event loop closed with handles open", "%s", "");
    cl_ratelimit_free(r.rl_pair_addr);
    cl_ratelimit_free(r.rl_pair_code);
    cl_ratelimit_free(r.rl_pair_global);
    cl_admission_free(r.admission); /* every connection is gone */
    cl_accounts_free(r.accounts);   /* after the loop: no mail job is left */
    cl_consent_free(r.consent);
    cl_mail_cleanup();
    r.store.ops->close(&r.store);
    if (r.opts.nats)
        cl_bus_library_close();
    cl_wipe(store_file_url, sizeof store_file_url);
    cl_info("relay", "stopped", "%s", "");
    return rc;
}

/*
 * main: the `clawlink` command line — pair, up, status, service, audit.
 *
 * `up` owns the one libuv loop: the relay link (lws on that loop), the PTY
 * sessions, and the signals that end it. Exit codes: 0 success, 1 failure,
 * 2 usage error.
 */
#include "agent/audit.h"
#include "agent/chat_api.h"
#include "agent/chat_http.h"
#include "agent/chat_store.h"
#include "agent/memory_builtin.h"
#include "agent/memory_pg.h"
#include "agent/config.h"
#include "agent/gateway.h"
#include "agent/gateway_discover.h"
#include "agent/gateway_identity.h"
#include "agent/http.h"
#include "agent/link.h"
#include "agent/openclaw.h"
#include "agent/pair.h"
#include "agent/ring.h"
#include "agent/service.h"
#include "agent/shellenv.h"
#include "agent/session.h"
#include "agent/units.h"
#include "agent/wsclient.h"
#include "core/err.h"
#include "core/json.h"
#include "core/log.h"
#include "core/secret.h"

#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#define CL__EXIT_OK    0
#define CL__EXIT_FAIL  1
#define CL__EXIT_USAGE 2

/* Shutdown: time for shells to exit and their session_end to go out, then
 * for the close handshake with the relay. */
#define CL__SHUTDOWN_FLUSH_MS 1000
#define CL__SHUTDOWN_CLOSE_MS 1500
#define CL__SHUTDOWN_TICK_MS  50
#define CL__STATUS_TIMEOUT_S  5

enum cl__cmd {
    CL__CMD_NONE,
    CL__CMD_PAIR,
    CL__CMD_UP,
    CL__CMD_STATUS,
    CL__CMD_SERVICE,
    CL__CMD_AUDIT
};
enum cl__svc { CL__SVC_NONE, CL__SVC_INSTALL, CL__SVC_UNINSTALL, CL__SVC_STATUS };

/* Which commands accept an option. */
#define CL__F_PAIR    (1u << CL__CMD_PAIR)
#define CL__F_UP      (1u << CL__CMD_UP)
#define CL__F_STATUS  (1u << CL__CMD_STATUS)
#define CL__F_SERVICE (1u << CL__CMD_SERVICE)
#define CL__F_AUDIT   (1u << CL__CMD_AUDIT)
#define CL__F_ALL     (CL__F_PAIR | CL__F_UP | CL__F_STATUS | CL__F_SERVICE | CL__F_AUDIT)

struct cl__opts {
    enum cl__cmd cmd;
    const char *code;
    const char *pair; /* --pair CODE (PrivaClaw's form) */
    const char *api;
    const char *name;
    const char *config;
    const char *shell;
    const char *ca_file;
    const char *log_level;
    const char *ring_size;
    const char *window;
    const char *window_max;
    const char *idle_grace;
    const char *ping_interval;
    const char *proto;
    const char *unit_dir;
    const char *pass_env;
    const char *chat_db;     /* up: where the chat store is (default: cl_chat_store_default_path) */
    const char *chat_listen; /* up: the loopback chat door's ADDR:PORT (chat_http.h) */
    char chat_addr[64];      /* ... parsed */
    int chat_port;
    enum cl__svc svc; /* service install|uninstall|status */
    bool svc_user, svc_system, svc_no_start;
    bool audit_deep, audit_fix, audit_json; /* audit --deep --fix --json */
    /* the values of the five above, parsed (defaults when absent) */
    struct cl_agent_session_opts sess;
    unsigned ping_s;
    int proto_max;
};

static const struct cl__opt {
    const char *name;
    unsigned cmds;
    size_t off;
} cl__options[] = {
    {"pair", CL__F_PAIR, offsetof(struct cl__opts, pair)},
    {"api", CL__F_PAIR, offsetof(struct cl__opts, api)},
    {"name", CL__F_PAIR, offsetof(struct cl__opts, name)},
    {"config", CL__F_ALL, offsetof(struct cl__opts, config)},
    {"shell", CL__F_UP | CL__F_AUDIT, offsetof(struct cl__opts, shell)},
    {"ca-file", CL__F_ALL, offsetof(struct cl__opts, ca_file)},
    {"log-level", CL__F_ALL, offsetof(struct cl__opts, log_level)},
    {"ring-size", CL__F_UP, offsetof(struct cl__opts, ring_size)},
    {"window", CL__F_UP, offsetof(struct cl__opts, window)},
    {"window-max", CL__F_UP, offsetof(struct cl__opts, window_max)},
    {"idle-grace", CL__F_UP, offsetof(struct cl__opts, idle_grace)},
    {"ping-interval", CL__F_UP, offsetof(struct cl__opts, ping_interval)},
    {"proto", CL__F_UP, offsetof(struct cl__opts, proto)},
    {"unit-dir", CL__F_SERVICE, offsetof(struct cl__opts, unit_dir)},
    {"pass-env", CL__F_UP | CL__F_AUDIT, offsetof(struct cl__opts, pass_env)},
    {"chat-db", CL__F_UP, offsetof(struct cl__opts, chat_db)},
    {"chat-listen", CL__F_UP, offsetof(struct cl__opts, chat_listen)},
};

/* Flags without a value: those of `service` and of `audit`. */
static const struct cl__flag {
    const char *name;
    unsigned cmds;
    size_t off;
} cl__flags[] = {
    {"--user", CL__F_SERVICE, offsetof(struct cl__opts, svc_user)},
    {"--system", CL__F_SERVICE, offsetof(struct cl__opts, svc_system)},
    {"--no-start", CL__F_SERVICE, offsetof(struct cl__opts, svc_no_start)},
    {"--deep", CL__F_AUDIT, offsetof(struct cl__opts, audit_deep)},
    {"--fix", CL__F_AUDIT, offsetof(struct cl__opts, audit_fix)},
    {"--json", CL__F_AUDIT, offsetof(struct cl__opts, audit_json)},
};

static void cl__usage(FILE *out)
{
    fprintf(out,
            "usage: clawlink pair CODE --api URL [--name NAME] [--config PATH] [--ca-file PEM]\n"
            "       clawlink --pair CODE --api URL [--name NAME] [--config PATH]\n"
            "       clawlink [up] [--config PATH] [--shell PATH] [--ca-file PEM]\n"
            "                [--ring-size BYTES] [--window BYTES] [--idle-grace SECONDS]\n"
            "                [--window-max BYTES] [--ping-interval SECONDS] [--proto 1|2] "
            "[--pass-env NAMES]\n"
            "                [--chat-db PATH] [--chat-listen 127.0.0.1:PORT]\n"
            "                [--log-level debug|info|warn|error]\n"
            "       clawlink status [--config PATH] [--ca-file PEM]\n"
            "       clawlink service install|uninstall|status [--user|--system]\n"
            "                [--config PATH] [--unit-dir DIR] [--no-start]\n"
            "       clawlink audit [--deep] [--fix] [--json] [--config PATH]\n"
            "                [--pass-env NAMES] [--shell PATH] [--ca-file PEM]\n"
            "       clawlink --help | --version\n"
            "\n"
            "  pair     trade a one-time pairing code for this device's credentials\n"
            "           (URL like https://relay.example.com/functions/v1; NAME defaults\n"
            "           to the host name) and write them to the config file\n"
            "  up       connect to the relay and serve terminal sessions (the default)\n"
            "  status   show the config, whether the relay is reachable, and the service\n"
            "  service  run the agent as a systemd service: install writes the unit\n"
            "           (a user unit, or a system unit as root) and starts it, after\n"
            "           checking that nobody else can replace this binary; uninstall\n"
            "           stops and removes it; status shows it. --no-start writes or\n"
            "           removes the unit only; --unit-dir puts it elsewhere.\n"
            "           (PrivaClaw's --install-agent and --uninstall-agent work too.)\n"
            "  audit    check this machine's agent and OpenClaw gateway for unsafe\n"
            "           settings (docs/audit.md): --deep also probes the relay's TLS and\n"
            "           connects to the gateway without a token; --fix tightens the modes\n"
            "           of your own files and directories and changes nothing else;\n"
            "           --json prints a stable document. Give the --pass-env and --shell\n"
            "           the agent runs with. Exit 1 when something critical is (left)\n"
            "\n"
            "  --config PATH   default $XDG_CONFIG_HOME/clawlink/agent.json or\n"
            "                  ~/.config/clawlink/agent.json\n"
            "  --shell PATH    login shell for sessions (default $SHELL, else /bin/sh)\n"
            "  --ca-file PEM   trust these CAs instead of the system's (https/wss)\n"
            "\n"
            "  up only (BYTES may end in K or M, e.g. 4M):\n"
            "  --ring-size BYTES        output kept per session for replay and resume\n"
            "                           (default 2M, 64K to 256M)\n"
            "  --window BYTES           output not yet acknowledged by a viewer before\n"
            "                           the session stops reading its terminal\n"
            "                           (default 1M, 64K to the ring size)\n"
            "  --window-max BYTES       how far a session's window may grow when acks\n"
            "                           show a long round trip, not a slow reader, is\n"
            "                           the limit; the ring grows with it (default 16M,\n"
            "                           --window to 256M; equal to --window: fixed)\n"
            "  --idle-grace SECONDS     end a session that has had no viewer this long\n"
            "                           (default 1800, 0 = never)\n"
            "  --ping-interval SECONDS  ping the relay after this long with nothing\n"
            "                           received; drop it after two silent intervals\n"
            "                           (default 20, 1 to 3600)\n"
            "  --proto 1|2              the highest protocol to ask the relay for: 2 sends\n"
            "                           output as binary frames, 1 as PrivaClaw's JSON\n"
            "                           (default 2; a v1 relay is answered in v1 anyway)\n"
            "  --pass-env NAMES         more of the agent's environment for the shells\n"
            "                           (comma-separated names); they get a login's:\n"
            "                           HOME USER LOGNAME PATH LANG LANGUAGE LC_* TZ TMPDIR\n"
            "                           XDG_RUNTIME_DIR DBUS_SESSION_BUS_ADDRESS, SHELL, TERM\n"
            "                           and COLORTERM; never OPENCLAW_GATEWAY_TOKEN\n"
            "  --chat-db PATH           the chat history (default $XDG_DATA_HOME/clawlink/\n"
            "                           chat.db or ~/.local/share/clawlink/chat.db)\n"
            "  --chat-listen ADDR:PORT  also serve the chat API to local scripts at\n"
            "                           http://ADDR:PORT/api/v1/chat/ (loopback only;\n"
            "                           bearer token: chat_token in the config or\n"
            "                           CLAWLINK_CHAT_TOKEN)\n");
}

static int cl__usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int cl__usage_error(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "clawlink: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'clawlink --help'.\n");
    return CL__EXIT_USAGE;
}

/* Parses the numeric `up` flags into o->sess and o->ping_s, defaults for
 * those absent. Returns 0, or CL_EINVAL after printing a usage error. */
static int cl__parse_up_values(struct cl__opts *o)
{
    uint64_t ring = CL_RING_DEFAULT, window = CL_AGENT_WINDOW_DEFAULT;
    uint64_t window_max = CL_AGENT_WINDOW_MAX_DEFAULT;
    uint64_t grace = CL_AGENT_IDLE_GRACE_DEFAULT, ping = CL_AGENT_PING_DEFAULT_S;
    uint64_t proto = CL_PROTO_MAX;
    const char *bad = NULL;
    char err[160];

    if (o->ring_size &&
        cl_agent_parse_bytes(o->ring_size, CL_RING_MIN, CL_RING_MAX, &ring, err, sizeof err))
        bad = "--ring-size";
    else if (o->window && cl_agent_parse_bytes(o->window, CL_AGENT_WINDOW_MIN, CL_RING_MAX, &window,
                                               err, sizeof err))
        bad = "--window";
    else if (o->window_max && cl_agent_parse_bytes(o->window_max, CL_AGENT_WINDOW_MIN, CL_RING_MAX,
                                                   &window_max, err, sizeof err))
        bad = "--window-max";
    if (!bad && o->window_max && window_max < window) {
        snprintf(err, sizeof err, "must be at least --window");
        bad = "--window-max";
    } else if (o->idle_grace && cl_agent_parse_seconds(o->idle_grace, 0, CL_AGENT_IDLE_GRACE_MAX,
                                                       &grace, err, sizeof err))
        bad = "--idle-grace";
    else if (o->ping_interval &&
             cl_agent_parse_seconds(o->ping_interval, CL_AGENT_PING_MIN_S, CL_AGENT_PING_MAX_S,
                                    &ping, err, sizeof err))
        bad = "--ping-interval";
    else if (o->proto) {
        if (strcmp(o->proto, "1") == 0 || strcmp(o->proto, "2") == 0) {
            proto = (uint64_t)(o->proto[0] - '0');
        } else {
            snprintf(err, sizeof err, "'%.20s' is not a protocol version (1 or 2)", o->proto);
            bad = "--proto";
        }
    }
    if (bad) {
        cl__usage_error("%s: %s", bad, err);
        return CL_EINVAL;
    }
    if (o->pass_env && cl_shellenv_check_pass(o->pass_env, err, sizeof err) != 0) {
        cl__usage_error("--pass-env: %s", err);
        return CL_EINVAL;
    }
    if (o->chat_listen &&
        cl_chat_http_parse_listen(o->chat_listen, o->chat_addr, sizeof o->chat_addr, &o->chat_port,
                                  err, sizeof err) != 0) {
        cl__usage_error("%s", err);
        return CL_EINVAL;
    }
    if (window > ring) {
        cl__usage_error("--window (%llu bytes) must not exceed --ring-size (%llu bytes)",
                        (unsigned long long)window, (unsigned long long)ring);
        return CL_EINVAL;
    }
    o->sess.ring_size = (size_t)ring;
    o->sess.window = (size_t)window;
    /* a --window above the default maximum is a fixed window of that size */
    o->sess.window_max = (size_t)(window_max > window ? window_max : window);
    o->sess.idle_grace_s = grace;
    o->sess.pass_env = o->pass_env;
    o->ping_s = (unsigned)ping;
    o->proto_max = (int)proto;
    return 0;
}

/* Parses argv into *o. Returns -1 to go on, or an exit code (help,
 * version, usage error). */
static int cl__parse_args(int argc, char **argv, struct cl__opts *o)
{
    memset(o, 0, sizeof *o);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            cl__usage(stdout);
            return CL__EXIT_OK;
        }
        if (strcmp(a, "--version") == 0 || strcmp(a, "-V") == 0) {
            printf("clawlink %s\n", CL_VERSION);
            return CL__EXIT_OK;
        }
        /* PrivaClaw's connector spells these as flags. */
        if (o->cmd == CL__CMD_NONE &&
            (strcmp(a, "--install-agent") == 0 || strcmp(a, "--uninstall-agent") == 0)) {
            o->cmd = CL__CMD_SERVICE;
            o->svc = a[2] == 'i' ? CL__SVC_INSTALL : CL__SVC_UNINSTALL;
            continue;
        }
        const struct cl__flag *flag = NULL;
        for (size_t k = 0; k < sizeof cl__flags / sizeof cl__flags[0]; k++)
            if (strcmp(a, cl__flags[k].name) == 0)
                flag = &cl__flags[k];
        if (flag) {
            *(bool *)((char *)o + flag->off) = true;
            continue;
        }
        if (strncmp(a, "--", 2) == 0 && a[2]) {
            const char *eq = strchr(a + 2, '=');
            size_t nlen = eq ? (size_t)(eq - (a + 2)) : strlen(a + 2);
            const struct cl__opt *opt = NULL;
            for (size_t k = 0; k < sizeof cl__options / sizeof cl__options[0]; k++) {
                if (strlen(cl__options[k].name) == nlen &&
                    strncmp(cl__options[k].name, a + 2, nlen) == 0)
                    opt = &cl__options[k];
            }
            if (!opt)
                return cl__usage_error("unknown option '%s'", a);
            const char *val = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
            if (!val || !val[0])
                return cl__usage_error("option '%s' needs a value", a);
            *(const char **)((char *)o + opt->off) = val;
            continue;
        }
        if (a[0] == '-' && a[1])
            return cl__usage_error("unknown option '%s'", a);
        if (o->cmd == CL__CMD_NONE) {
            if (strcmp(a, "pair") == 0)
                o->cmd = CL__CMD_PAIR;
            else if (strcmp(a, "up") == 0)
                o->cmd = CL__CMD_UP;
            else if (strcmp(a, "status") == 0)
                o->cmd = CL__CMD_STATUS;
            else if (strcmp(a, "service") == 0)
                o->cmd = CL__CMD_SERVICE;
            else if (strcmp(a, "audit") == 0)
                o->cmd = CL__CMD_AUDIT;
            else
                return cl__usage_error("unknown command '%s'", a);
        } else if (o->cmd == CL__CMD_PAIR && !o->code) {
            o->code = a;
        } else if (o->cmd == CL__CMD_SERVICE && o->svc == CL__SVC_NONE) {
            if (strcmp(a, "install") == 0)
                o->svc = CL__SVC_INSTALL;
            else if (strcmp(a, "uninstall") == 0)
                o->svc = CL__SVC_UNINSTALL;
            else if (strcmp(a, "status") == 0)
                o->svc = CL__SVC_STATUS;
            else
                return cl__usage_error("service takes install, uninstall or status, not '%s'", a);
        } else {
            return cl__usage_error("unexpected argument '%s'", a);
        }
    }

    if (o->pair) {
        if (o->cmd != CL__CMD_NONE && o->cmd != CL__CMD_PAIR)
            return cl__usage_error("%s", "--pair cannot be combined with another command");
        if (o->code)
            return cl__usage_error("%s", "give the pairing code once");
        o->cmd = CL__CMD_PAIR;
        o->code = o->pair;
    }
    if (o->cmd == CL__CMD_NONE)
        o->cmd = CL__CMD_UP;

    /* Options that belong to another command are usage errors. */
    for (size_t k = 0; k < sizeof cl__options / sizeof cl__options[0]; k++) {
        const struct cl__opt *opt = &cl__options[k];
        if (*(const char **)((char *)o + opt->off) && !(opt->cmds & (1u << o->cmd)))
            return cl__usage_error("option '--%s' does not apply to this command", opt->name);
    }
    for (size_t k = 0; k < sizeof cl__flags / sizeof cl__flags[0]; k++) {
        const struct cl__flag *f = &cl__flags[k];
        if (*(bool *)((char *)o + f->off) && !(f->cmds & (1u << o->cmd)))
            return cl__usage_error("%s belongs to '%s'", f->name,
                                   f->cmds == CL__F_AUDIT ? "audit" : "service");
    }
    if (o->cmd == CL__CMD_SERVICE) {
        if (o->svc == CL__SVC_NONE)
            return cl__usage_error("%s", "service needs install, uninstall or status");
        if (o->svc_user && o->svc_system)
            return cl__usage_error("%s", "give --user or --system, not both");
    }
    if (o->cmd == CL__CMD_PAIR) {
        if (!o->code)
            return cl__usage_error("%s", "pair needs a pairing CODE");
        if (!o->api)
            return cl__usage_error("%s", "pair needs --api URL");
    }
    if (cl__parse_up_values(o) != 0)
        return CL__EXIT_USAGE;
    if (o->log_level) {
        enum cl_log_level lv;
        if (cl_log_parse_level(o->log_level, &lv) != 0)
            return cl__usage_error("unknown log level '%s' (debug|info|warn|error)", o->log_level);
        cl_log_set_level(lv);
    }
    return -1;
}

static int cl__config_path(const struct cl__opts *o, char *out, size_t cap)
{
    char err[256];
    if (o->config) {
        if (strlen(o->config) >= cap) {
            fprintf(stderr, "clawlink: config path too long\n");
            return CL_ELIMIT;
        }
        snprintf(out, cap, "%s", o->config);
        return 0;
    }
    if (cl_agent_config_default_path(out, cap, err, sizeof err) != 0) {
        fprintf(stderr, "clawlink: %s\n", err);
        return CL_ENOTFOUND;
    }
    return 0;
}

/* ---- pair ------------------------------------------------------------- */

static int cl__cmd_pair(const struct cl__opts *o)
{
    struct cl_agent_config cfg;
    char path[PATH_MAX], host[CL_NAME_MAX + 1] = "", err[512];
    const char *name = o->name;
    int rc;

    if (cl__config_path(o, path, sizeof path) != 0)
        return CL__EXIT_FAIL;
    if (!name) {
        if (gethostname(host, sizeof host - 1) != 0 || !host[0])
            snprintf(host, sizeof host, "clawlink-device");
        name = host;
    }
    if (strlen(name) > CL_NAME_MAX) {
        fprintf(stderr, "clawlink: --name is longer than %d bytes\n", CL_NAME_MAX);
        return CL__EXIT_USAGE;
    }
    if (cl_agent_url_insecure(o->api))
        fprintf(stderr,
                "clawlink: warning: %s is plain http on a network: the pairing code and "
                "the device token cross it unencrypted\n",
                o->api);
    rc = cl_agent_pair(o->api, o->code, name, o->ca_file, &cfg, err, sizeof err);
    if (rc) {
        fprintf(stderr, "clawlink: pairing failed: %s\n", err);
        return CL__EXIT_FAIL;
    }
    rc = cl_agent_config_save(path, &cfg, err, sizeof err);
    if (rc) {
        fprintf(stderr, "clawlink: paired, but cannot save the config: %s\n", err);
        cl_agent_config_wipe(&cfg);
        return CL__EXIT_FAIL;
    }
    printf("Paired as device %s (\"%s\").\n"
           "Config written to %s\n"
           "Relay: %s\n"
           "Run `clawlink up%s%s` to connect.\n",
           cfg.device_id, cfg.name, path, cfg.relay_url, o->config ? " --config " : "",
           o->config ? o->config : "");
    cl_agent_config_wipe(&cfg);
    return CL__EXIT_OK;
}

/* ---- service ---------------------------------------------------------- */

/* The service options for o: the scope (system as root unless --user),
 * this binary and the config, as absolute paths in exe and config. */
static int cl__service_opts(const struct cl__opts *o, struct cl_service_opts *so,
                            char exe[PATH_MAX], char config[PATH_MAX])
{
    char path[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, PATH_MAX - 1);
    if (n <= 0) {
        fprintf(stderr, "clawlink: cannot find my own binary (/proc/self/exe)\n");
        return CL_EIO;
    }
    exe[n] = 0;
    if (cl__config_path(o, path, sizeof path) != 0)
        return CL_EINVAL;
    /* realpath also settles "..": the unit names the file itself. It must
     * exist, which install and status need anyway. */
    if (!realpath(path, config)) {
        if (path[0] != '/' || strlen(path) >= PATH_MAX) {
            fprintf(stderr, "clawlink: no config at %s (pair first)\n", path);
            return CL_ENOTFOUND;
        }
        memcpy(config, path, strlen(path) + 1);
    }
    memset(so, 0, sizeof *so);
    so->scope =
        o->svc_system || (geteuid() == 0 && !o->svc_user) ? CL_SERVICE_SYSTEM : CL_SERVICE_USER;
    so->exe = exe;
    so->config = config;
    so->unit_dir = o->unit_dir;
    so->no_start = o->svc_no_start;
    return 0;
}

static int cl__cmd_service(const struct cl__opts *o)
{
    struct cl_service_opts so;
    char exe[PATH_MAX], config[PATH_MAX], err[1024];
    int rc;

    if (cl__service_opts(o, &so, exe, config) != 0)
        return CL__EXIT_FAIL;
    switch (o->svc) {
    case CL__SVC_INSTALL:
        rc = cl_service_install(&so, stdout, err, sizeof err);
        break;
    case CL__SVC_UNINSTALL:
        rc = cl_service_uninstall(&so, stdout, err, sizeof err);
        break;
    default:
        /* 3 for "not installed", as systemctl status says "not running" */
        return cl_service_status(&so, stdout) ? CL__EXIT_OK : 3;
    }
    if (rc) {
        fprintf(stderr, "clawlink: %s\n", err);
        return CL__EXIT_FAIL;
    }
    return CL__EXIT_OK;
}

/* ---- status ----------------------------------------------------------- */

/* What OpenClaw discovery found, and where each setting came from. */
static void cl__status_openclaw(const char *config_path)
{
    struct cl_gw_settings set;
    char warn[1024], err[512], idpath[PATH_MAX];
    bool first = true;

    if (cl_gw_discover(config_path, &set, warn, sizeof warn, err, sizeof err) != 0) {
        printf("openclaw:  config error: %s\n", err);
        return;
    }
    if (set.disabled)
        printf("openclaw:  disabled in the agent config\n");
    else if (!set.configured)
        printf("openclaw:  not found (no OPENCLAW_GATEWAY_URL, no openclaw.json, no "
               "\"openclaw\" in the agent config)\n");
    else
        printf("openclaw:  %s (from %s)\n", set.url, set.url_from);
    if (set.configured) {
        printf("  token:        %s\n", set.token[0] ? "set" : "none");
        if (set.token[0])
            printf("  token from:   %s\n", set.token_from);
        printf("  session_key:  %s\n", set.session_key);
        if (cl_gw_identity_path(config_path, idpath, sizeof idpath) == 0)
            printf("  device key:   %s\n", idpath);
    }
    printf("capabilities: ");
    for (unsigned bit = 1; bit & CL_CAP__ALL; bit <<= 1) {
        if (set.caps & bit) {
            printf("%s%s", first ? "" : ", ", cl_cap_name(bit));
            first = false;
        }
    }
    printf("%s (from %s)\n", first ? "none" : "", set.caps_from);
    if (warn[0])
        printf("openclaw warnings: %s\n", warn);
    cl_gw_settings_wipe(&set);
}

/* Copies the printable ASCII of a relay-supplied string (NULL: empty) into
 * out, so a hostile relay cannot send terminal control sequences here. */
static void cl__printable(const char *in, char *out, size_t cap)
{
    size_t j = 0;
    out[0] = 0;
    for (size_t i = 0; in && in[i] && j + 1 < cap; i++)
        if (in[i] >= 0x20 && in[i] < 0x7f)
            out[j++] = in[i];
    out[j] = 0;
}

static int cl__cmd_status(const struct cl__opts *o)
{
    struct cl_agent_config cfg;
    struct cl_agent_http_resp resp;
    char path[PATH_MAX], url[CL_URL_MAX + 32], err[512];
    int rc;

    if (cl__config_path(o, path, sizeof path) != 0)
        return CL__EXIT_FAIL;
    printf("config:    %s\n", path);
    if (cl_agent_config_load(path, &cfg, err, sizeof err) != 0) {
        printf("relay:     unknown (no usable config)\n");
        fprintf(stderr, "clawlink: %s\n", err);
        return CL__EXIT_FAIL;
    }
    printf("device_id: %s\n", cfg.device_id);
    if (cfg.name[0])
        printf("name:      %s\n", cfg.name);
    printf("relay_url: %s%s\n", cfg.relay_url,
           cl_agent_url_insecure(cfg.relay_url)
               ? " (WARNING: plain ws:// on a network: the token and keystrokes are unencrypted)"
               : "");
    cl__status_openclaw(path);
    {
        struct cl_service_opts so;
        char exe[PATH_MAX], config[PATH_MAX];
        char unit[PATH_MAX], uerr[128];
        bool have[2] = {false, false};
        /* Whichever unit is there (the system's first), else the default. */
        if (cl__service_opts(o, &so, exe, config) == 0) {
            enum cl_service_scope def = so.scope;
            for (int sc = CL_SERVICE_USER; sc <= CL_SERVICE_SYSTEM; sc++) {
                so.scope = (enum cl_service_scope)sc;
                have[sc] = cl_service_unit_path(&so, unit, sizeof unit, uerr, sizeof uerr) == 0 &&
                           access(unit, F_OK) == 0;
            }
            so.scope = have[CL_SERVICE_SYSTEM] ? CL_SERVICE_SYSTEM
                       : have[CL_SERVICE_USER] ? CL_SERVICE_USER
                                               : def;
            cl_service_status(&so, stdout);
        }
    }

    cl_agent_health_url(cfg.relay_url, url, sizeof url);
    cl_agent_config_wipe(&cfg);

    rc = cl_agent_http_request(url, NULL, o->ca_file, CL__STATUS_TIMEOUT_S, &resp, err, sizeof err);
    if (rc) {
        printf("relay:     unreachable (%s: %s)\n", url, err);
        return CL__EXIT_FAIL;
    }
    if (resp.status != 200 && resp.status != 503) {
        printf("relay:     unreachable (%s: HTTP %ld)\n", url, resp.status);
        cl_agent_http_resp_free(&resp);
        return CL__EXIT_FAIL;
    }
    {
        /* 200: healthy; 503: the relay answers but says what is wrong
         * (problems[]: check and detail, printable ASCII only here). */
        json_t *root = cl_json_parse_object(resp.body, resp.len, NULL, 0);
        const char *ver = root ? json_string_value(json_object_get(root, "version")) : NULL;
        char safe[32] = "";
        cl__printable(ver, safe, sizeof safe);
        if (resp.status == 200)
            printf("relay:     reachable (%s%s%s)\n", url, safe[0] ? ", version " : "", safe);
        else
            printf("relay:     unhealthy (%s: HTTP 503%s%s)\n", url, safe[0] ? ", version " : "",
                   safe);
        json_t *problems = root ? json_object_get(root, "problems") : NULL;
        size_t i;
        json_t *p;
        json_array_foreach(problems, i, p)
        {
            char check[32], detail[160];
            if (i >= 8)
                break;
            cl__printable(json_string_value(json_object_get(p, "check")), check, sizeof check);
            cl__printable(json_string_value(json_object_get(p, "detail")), detail, sizeof detail);
            printf("           %s: %s\n", check[0] ? check : "?", detail);
        }
        json_decref(root);
        if (resp.status != 200) {
            cl_agent_http_resp_free(&resp);
            return CL__EXIT_FAIL;
        }
    }
    cl_agent_http_resp_free(&resp);
    return CL__EXIT_OK;
}

/* ---- audit ------------------------------------------------------------ */

extern char **environ;

static const char *cl__pick_shell(const struct cl__opts *o);

/* Exit 0: nothing critical (left, after --fix); 1: something critical;
 * 2: usage error or the audit could not run. */
static int cl__cmd_audit(const struct cl__opts *o)
{
    struct cl_audit_opts ao;
    struct cl_audit a;
    char path[PATH_MAX], err[512];
    int rc;

    if (cl__config_path(o, path, sizeof path) != 0)
        return CL__EXIT_USAGE;
    memset(&ao, 0, sizeof ao);
    ao.config_path = path;
    ao.ca_file = o->ca_file;
    ao.pass_env = o->pass_env;
    ao.shell = cl__pick_shell(o);
    ao.env = environ;
    ao.deep = o->audit_deep;
    /* the probes' libraries stay quiet: their failures are findings */
    if (!o->log_level)
        cl_log_set_level(CL_LOG_ERROR);
    cl_audit_init(&a);
    rc = cl_audit_run(&ao, &a, err, sizeof err);
    if (rc) {
        fprintf(stderr, "clawlink: audit: %s\n", err);
        cl_audit_free(&a);
        return CL__EXIT_USAGE;
    }
    if (o->audit_fix)
        cl_audit_apply_fixes(&a, o->audit_json ? stderr : stdout);
    if (o->audit_json) {
        char *text = cl_audit_json(&a, o->audit_deep, o->audit_fix);
        if (!text) {
            fprintf(stderr, "clawlink: audit: out of memory\n");
            cl_audit_free(&a);
            return CL__EXIT_USAGE;
        }
        printf("%s\n", text);
        free(text);
    } else {
        if (o->audit_fix)
            printf("\n");
        cl_audit_print(&a, stdout, o->audit_deep, o->audit_fix);
    }
    rc = cl_audit_count(&a, CL_AUDIT_CRITICAL, true) ? CL__EXIT_FAIL : CL__EXIT_OK;
    cl_audit_free(&a);
    return rc;
}

/* ---- up --------------------------------------------------------------- */

struct cl__app {
    uv_loop_t loop;
    struct cl_wsc_ctx *wsc; /* the WebSocket clients' one lws context */
    struct cl_agent_link *link;
    struct cl_gw *gw; /* the OpenClaw gateway connection (NULL: not configured) */
    struct cl_agent_sessions *ss;
    struct cl_oc_node *node; /* OpenClaw requests and heartbeats */
    unsigned caps;           /* CL_CAP_* declared in the config */
    bool link_ready;
    uv_signal_t sig[3];
    int nsig;
    uv_timer_t shutdown_timer;
    bool stopping;
    bool link_closing;
    uint64_t stop_at;
    /* the chat bridge (NULL: no chat served) */
    struct cl_chat_store *chat_store;
    struct cl_memory chat_mem;
    struct cl_chat_api *chat;
    struct cl__chat_req *chat_reqs; /* requests of the relay link in progress */
    struct cl_chat_http *chat_http; /* the loopback door (--chat-listen), or NULL */
};

/* ---- the chat API's relay-link door (docs/protocol.md "Chat") ---------- */

/* One chat_request in progress: its answers go out as chat_event and
 * chat_response frames with its request_id. */
struct cl__chat_req {
    struct cl__app *app;
    char request_id[CL_ID_MAX + 1];
    struct cl_chat_call *call;
    bool in_handle, ended;
    struct cl__chat_req *prev, *next;
};

static void cl__chat_req_unlink(struct cl__chat_req *r)
{
    if (r->prev)
        r->prev->next = r->next;
    else
        r->app->chat_reqs = r->next;
    if (r->next)
        r->next->prev = r->prev;
}

static void cl__chat_send(struct cl__app *app, const struct cl_msg *m)
{
    if (cl_agent_link_send_msg(app->link, m) != 0)
        cl_warn("chat", "cannot send a chat answer to the relay", "request_id=%s", m->request_id);
}

static void cl__chat_on_event(void *ctx, const char *name, json_t *data)
{
    struct cl__chat_req *r = ctx;
    struct cl_msg m;

    memset(&m, 0, sizeof m);
    m.type = CL_MSG_CHAT_EVENT;
    snprintf(m.request_id, sizeof m.request_id, "%s", r->request_id);
    snprintf(m.event, sizeof m.event, "%s", name);
    m.json = data ? json_dumps(data, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    cl__chat_send(r->app, &m);
    free(m.json);
}

static void cl__chat_on_end(void *ctx, int status, json_t *body)
{
    struct cl__chat_req *r = ctx;
    struct cl_msg m;

    memset(&m, 0, sizeof m);
    m.type = CL_MSG_CHAT_RESPONSE;
    snprintf(m.request_id, sizeof m.request_id, "%s", r->request_id);
    m.status = status;
    m.json = body ? json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    cl__chat_send(r->app, &m);
    free(m.json);
    r->ended = true;
    if (!r->in_handle) {
        cl__chat_req_unlink(r);
        free(r);
    }
}

static const struct cl_chat_reply cl__chat_reply = {cl__chat_on_event, cl__chat_on_end};

/* The caller is gone (chat_cancel, or the link went down). */
static void cl__chat_cancel(struct cl__chat_req *r)
{
    cl__chat_req_unlink(r);
    cl_chat_api_cancel(r->app->chat, r->call);
    free(r);
}

static void cl__chat_cancel_all(struct cl__app *app)
{
    while (app->chat_reqs)
        cl__chat_cancel(app->chat_reqs);
}

static void cl__chat_on_message(struct cl__app *app, const struct cl_msg *m)
{
    if (m->type == CL_MSG_CHAT_CANCEL) {
        for (struct cl__chat_req *r = app->chat_reqs; r; r = r->next)
            if (strcmp(r->request_id, m->request_id) == 0) {
                cl__chat_cancel(r);
                return;
            }
        return;
    }
    struct cl__chat_req *r = calloc(1, sizeof *r);
    if (!r)
        return;
    r->app = app;
    snprintf(r->request_id, sizeof r->request_id, "%s", m->request_id);
    if (!app->chat) {
        /* hello said no chat: a relay should not ask */
        r->in_handle = true;
        cl__chat_on_end(r, 503,
                        json_pack("{s:{s:s, s:s}}", "error", "code", "no_chat_bridge", "message",
                                  "this agent serves no chat (store closed or not declared)"));
        free(r);
        return;
    }
    json_t *body = m->json ? json_loads(m->json, JSON_DECODE_ANY, NULL) : NULL;
    struct cl_chat_req req = {
        .method = m->method,
        .path = m->path,
        .query = m->query,
        .body = body,
        .user_id = m->user_id,
        .user_name = m->user_name,
    };
    r->next = app->chat_reqs;
    if (app->chat_reqs)
        app->chat_reqs->prev = r;
    app->chat_reqs = r;
    r->in_handle = true;
    r->call = cl_chat_api_handle(app->chat, &req, &cl__chat_reply, r);
    r->in_handle = false;
    json_decref(body);
    if (r->ended || !r->call) {
        cl__chat_req_unlink(r);
        free(r);
    }
}

/* Opens the chat store (at path, NULL: the default) and the API over it,
 * when chat is declared. A store that cannot open is logged once and the
 * agent serves no chat: its hello does not offer it. */
static int cl__chat_memory_open(struct cl__app *app, const char *config_path, char *err,
                                size_t errlen)
{
    struct cl_agent_memory_config mc;
    int rc = cl_agent_memory_config_load(config_path, &mc, err, errlen);

    if (rc)
        return rc;
    if (mc.provider == CL_AGENT_MEMORY_POSTGRES) {
        struct cl_memory_pg_opts po = {.url = mc.pg_url};
        char where[256];
        cl_memory_pg_describe(mc.pg_url, where, sizeof where);
        rc = cl_memory_pg_new(&app->loop, &po, &app->chat_mem, err, errlen);
        if (!rc)
            cl_info("chat", "memory notes kept in PostgreSQL", "server=\"%s\"", where);
    } else {
        rc = cl_memory_builtin_new(app->chat_store, &app->chat_mem);
        if (rc)
            snprintf(err, errlen, "%s", cl_strerror(rc));
    }
    cl_agent_memory_config_wipe(&mc);
    return rc;
}

static void cl__chat_open(struct cl__app *app, const char *path, const char *config_path)
{
    char err[512];
    int rc;

    if (!(app->caps & CL_CAP_CHAT))
        return;
    rc = cl_chat_store_open(path, &app->chat_store, err, sizeof err);
    if (rc) {
        cl_warn("chat", "cannot open the chat store; serving no chat", "error=\"%s\"", err);
        return;
    }
    if (cl__chat_memory_open(app, config_path, err, sizeof err) != 0) {
        /* the config names a provider that cannot start: no chat rather
         * than notes silently kept somewhere the user did not choose */
        cl_warn("chat", "cannot set up the memory provider; serving no chat", "error=\"%s\"", err);
        cl_chat_store_close(app->chat_store);
        app->chat_store = NULL;
        return;
    }
    {
        /* the files API's read roots; kept for the API's life (the process) */
        static struct cl_agent_files_config fc;
        static const char *roots[CL_FILES_ROOTS_MAX];
        static char attach_dir[PATH_MAX];
        char db[PATH_MAX];
        struct cl_chat_api_cfg cfg = {
            .loop = &app->loop,
            .cs = app->chat_store,
            .gw = app->gw,
            .mem = &app->chat_mem,
            .caps = app->caps,
        };
        /* attachments/ beside chat.db (docs/chat.md "Attachments: files, not blobs") */
        if (path)
            snprintf(db, sizeof db, "%s", path);
        else if (cl_chat_store_default_path(db, sizeof db, err, sizeof err) != 0)
            db[0] = '\0';
        if (db[0] && strrchr(db, '/')) {
            snprintf(attach_dir, sizeof attach_dir, "%.*s/attachments",
                     (int)(strrchr(db, '/') - db), db);
            cfg.attach_dir = attach_dir;
        }
        if ((app->caps & CL_CAP_FILES) &&
            cl_agent_files_config_load(config_path, &fc, err, sizeof err) != 0) {
            cl_warn("chat", "the files API is off", "error=\"%s\"", err);
            cfg.files_off = true;
        } else if (fc.set) {
            for (size_t i = 0; i < fc.nroots; i++)
                roots[i] = fc.roots[i];
            cfg.files_roots = roots;
            cfg.files_nroots = fc.nroots;
        }
        rc = cl_chat_api_new(&cfg, &app->chat);
    }
    if (rc) {
        cl_warn("chat", "cannot start the chat API; serving no chat", "error=%s", cl_strerror(rc));
        if (app->chat_mem.ops)
            app->chat_mem.ops->close(app->chat_mem.self);
        app->chat_mem.ops = NULL;
        cl_chat_store_close(app->chat_store);
        app->chat_store = NULL;
        return;
    }
    cl_agent_link_set_chat(app->link, CL_CHAT_PROTO_VERSION);
    cl_info("chat", "serving chat", "store=%s gateway=%s", path ? path : "default",
            app->gw ? "yes" : "none");
}

/* Ends the chat bridge: calls cancelled, the memory provider closed (no
 * callback after), the API freed (its timer closes through the loop). */
static void cl__chat_close(struct cl__app *app)
{
    if (app->chat)
        cl__chat_cancel_all(app);
    if (app->chat_mem.ops)
        app->chat_mem.ops->close(app->chat_mem.self);
    app->chat_mem.ops = NULL;
    cl_chat_api_free(app->chat);
    app->chat = NULL;
}

/* The loopback door (--chat-listen): the same API for local scripts, on
 * the agent's lws context, behind the chat token. 0, or an error in err. */
static int cl__chat_http_open(struct cl__app *app, const struct cl__opts *o,
                              const char *config_path, char *err, size_t errlen)
{
    char token[CL_TOKEN_MAX + 1];
    const char *from = "";
    int rc;

    if (!app->chat)
        return cl_seterr(err, errlen, CL_ESTATE,
                         "--chat-listen: this agent serves no chat (the chat capability is not "
                         "declared, or the chat store cannot open: see above)");
    rc = cl_chat_http_token(config_path, token, sizeof token, &from, err, errlen);
    if (rc == 0) {
        struct cl_chat_http_cfg cfg = {
            .loop = &app->loop,
            .lws = cl_wsc_ctx_lws(app->wsc),
            .api = app->chat,
            .addr = o->chat_addr,
            .port = o->chat_port,
            .token = token,
        };
        rc = cl_chat_http_start(&cfg, &app->chat_http, err, errlen);
    }
    cl_wipe(token, sizeof token);
    if (rc == 0)
        cl_info("chat_http", "the chat API on loopback",
                "url=http://%s%s%s:%d/api/v1/chat/ token_from=\"%s\"",
                strchr(o->chat_addr, ':') ? "[" : "", o->chat_addr,
                strchr(o->chat_addr, ':') ? "]" : "", o->chat_port, from);
    return rc;
}

/* ---- end of the chat door ---------------------------------------------- */

static void cl__on_link_message(void *ud, const struct cl_msg *m)
{
    struct cl__app *app = ud;
    if (app->stopping)
        return;
    if (cl_oc_node_handles(m->type)) {
        cl_oc_node_on_message(app->node, m);
        return;
    }
    if (m->type == CL_MSG_CHAT_REQUEST || m->type == CL_MSG_CHAT_CANCEL) {
        cl__chat_on_message(app, m);
        return;
    }
    if (m->type == CL_MSG_SESSION_START && !(app->caps & CL_CAP_TERMINAL)) {
        /* not declared: refused here, whatever the relay asks */
        struct cl_msg end;
        cl_warn("agent", "refused a terminal: capability not declared in the agent config",
                "session=%s", m->session_id);
        memset(&end, 0, sizeof end);
        end.type = CL_MSG_SESSION_END;
        snprintf(end.session_id, sizeof end.session_id, "%s", m->session_id);
        snprintf(end.reason, sizeof end.reason, "%s", cl_end_reason_name(CL_END_CAPABILITY_DENIED));
        cl_agent_link_send_msg(app->link, &end);
        return;
    }
    cl_agent_sessions_on_message(app->ss, m);
}

static void cl__on_link_output_dropped(void *ud, void *owner, uint64_t start_offset)
{
    struct cl__app *app = ud;
    if (app->ss)
        cl_agent_sessions_output_dropped(app->ss, owner, start_offset);
}

static void cl__on_link_flow(void *ud)
{
    struct cl__app *app = ud;
    bool ready = cl_agent_link_ready(app->link);
    if (ready && !app->link_ready && app->node)
        cl_oc_node_on_link_ready(app->node);
    if (!ready && app->link_ready)
        cl__chat_cancel_all(app); /* the relay forgot those requests */
    app->link_ready = ready;
    if (app->ss)
        cl_agent_sessions_on_flow(app->ss);
}

static size_t cl__on_link_hello(void *ud, struct cl_msg_session *out, size_t cap)
{
    struct cl__app *app = ud;
    return app->ss ? cl_agent_sessions_announce(app->ss, out, cap) : 0;
}

static void cl__stop_loop(struct cl__app *app)
{
    uv_timer_stop(&app->shutdown_timer);
    uv_stop(&app->loop);
}

static void cl__on_link_closed(void *ud)
{
    struct cl__app *app = ud;
    if (app->stopping)
        cl__stop_loop(app);
}

/* Shutdown, step by step: wait for hung-up shells and their session_end to
 * be sent, then close the link, then leave the loop. */
static void cl__on_shutdown_tick(uv_timer_t *t)
{
    struct cl__app *app = t->data;
    uint64_t elapsed = uv_now(&app->loop) - app->stop_at;

    if (!app->link_closing) {
        bool flushed = cl_agent_sessions_count(app->ss) == 0 &&
                       (!cl_agent_link_ready(app->link) || cl_agent_link_queued(app->link) == 0);
        if (!flushed && elapsed < CL__SHUTDOWN_FLUSH_MS)
            return;
        if (cl_agent_sessions_count(app->ss)) {
            cl_warn("agent", "shells still running at exit; killing them", "count=%zu",
                    cl_agent_sessions_count(app->ss));
            cl_agent_sessions_kill_all(app->ss);
        }
        app->link_closing = true;
        if (cl_agent_link_close(app->link))
            cl__stop_loop(app);
        return;
    }
    if (elapsed >= CL__SHUTDOWN_CLOSE_MS)
        cl__stop_loop(app);
}

static void cl__on_signal(uv_signal_t *h, int signum)
{
    struct cl__app *app = h->data;

    if (app->stopping) {
        cl_warn("agent", "second signal; exiting now", "signal=%d", signum);
        cl__stop_loop(app);
        return;
    }
    app->stopping = true;
    app->stop_at = uv_now(&app->loop);
    cl_info("agent", "shutting down", "signal=%d sessions=%zu", signum,
            cl_agent_sessions_count(app->ss));
    cl_agent_sessions_hangup_all(app->ss);
    if (app->node)
        cl_oc_node_close(app->node);
    if (app->gw)
        cl_gw_close(app->gw);
    uv_timer_start(&app->shutdown_timer, cl__on_shutdown_tick, 0, CL__SHUTDOWN_TICK_MS);
}

/* Runs the loop without blocking until nothing is left closing (bounded,
 * in case a handle never finishes). */
static void cl__drain_loop(uv_loop_t *loop)
{
    for (int i = 0; i < 10000 && uv_run(loop, UV_RUN_NOWAIT) != 0; i++)
        ;
}

/* The gateway connection for gw (configured), with its device identity
 * kept beside the agent config (created on first use). Its subscribers
 * (the node handler) subscribe before cl_gw_start. */
static int cl__gateway_new(struct cl__app *app, const struct cl_gw_settings *gw,
                           const char *config_path, char *err, size_t errlen)
{
    struct cl_gw_identity id;
    char idpath[PATH_MAX];
    bool created = false;
    int rc;

    cl_gw_identity_path(config_path, idpath, sizeof idpath);
    rc = cl_gw_identity_load_or_create(idpath, &id, &created, err, errlen);
    if (rc)
        return rc;
    if (created)
        cl_info("openclaw", "created a device identity for the OpenClaw gateway",
                "path=%s device_id=%s", idpath, id.device_id);
    rc = cl_gw_new(&app->loop, app->wsc, gw, &id, idpath, gw->caps, &app->gw, err, errlen);
    cl_gw_identity_wipe(&id);
    return rc;
}

/* --shell, else an absolute executable $SHELL, else /bin/sh. */
static const char *cl__pick_shell(const struct cl__opts *o)
{
    const char *sh = getenv("SHELL");
    if (o->shell)
        return o->shell;
    if (sh && sh[0] == '/' && access(sh, X_OK) == 0)
        return sh;
    return "/bin/sh";
}

static int cl__cmd_up(const struct cl__opts *o)
{
    static const int sigs[] = {SIGTERM, SIGINT, SIGHUP};
    struct cl_agent_link_handler h;
    struct cl_agent_config cfg;
    struct cl_gw_settings gw;
    struct cl__app app;
    char path[PATH_MAX], err[512], warn[1024];
    int rc;

    if (cl__config_path(o, path, sizeof path) != 0)
        return CL__EXIT_FAIL;
    if (cl_agent_config_load(path, &cfg, err, sizeof err) != 0) {
        fprintf(stderr, "clawlink: %s\n", err);
        if (strstr(err, "no such file"))
            fprintf(stderr, "clawlink: pair this machine first: clawlink pair CODE --api URL\n");
        return CL__EXIT_FAIL;
    }
    if (cl_gw_discover(path, &gw, warn, sizeof warn, err, sizeof err) != 0) {
        fprintf(stderr, "clawlink: %s\n", err);
        cl_agent_config_wipe(&cfg);
        return CL__EXIT_FAIL;
    }
    if (warn[0])
        cl_warn("openclaw", "discovery", "warnings=\"%s\"", warn);

    memset(&app, 0, sizeof app);
    uv_loop_init(&app.loop);
    memset(&h, 0, sizeof h);
    h.ud = &app;
    h.on_message = cl__on_link_message;
    h.on_flow = cl__on_link_flow;
    h.on_output_dropped = cl__on_link_output_dropped;
    h.on_hello = cl__on_link_hello;
    h.on_closed = cl__on_link_closed;
    /* one lws context for the relay link and the gateway client: OpenSSL
     * only if one of them speaks wss:// */
    rc = cl_wsc_ctx_new(&app.loop,
                        strncmp(cfg.relay_url, "wss://", 6) == 0 ||
                            (gw.configured && strncmp(gw.url, "wss://", 6) == 0),
                        o->ca_file, &app.wsc, err, sizeof err);
    if (rc == 0)
        rc = cl_agent_link_new(&app.loop, app.wsc, &cfg, o->ping_s, &h, &app.link, err, sizeof err);
    if (rc) {
        cl_error("agent", "cannot set up the relay link", "error=\"%s\"", err);
        cl_agent_config_wipe(&cfg);
        cl_gw_settings_wipe(&gw);
        if (app.wsc)
            goto out_wsc;
        goto out_loop;
    }
    cl_agent_link_set_proto(app.link, o->proto_max);
    cl_agent_link_set_shell(app.link, cl__pick_shell(o));
    cl_info("agent", "starting",
            "version=%s device=%s relay=%s config=%s ring_size=%zu window=%zu window_max=%zu "
            "idle_grace_s=%llu ping_interval_s=%u proto_max=%d",
            CL_VERSION, cfg.device_id, cfg.relay_url, path, o->sess.ring_size, o->sess.window,
            o->sess.window_max, (unsigned long long)o->sess.idle_grace_s, o->ping_s, o->proto_max);
    if (cl_agent_url_insecure(cfg.relay_url))
        cl_warn("link",
                "the relay is reached over plain ws:// on a network: the device token and every "
                "keystroke cross it unencrypted; give the relay TLS (wss://)",
                "relay=%s", cfg.relay_url);
    app.caps = gw.caps;
    if (gw.configured)
        cl_info("openclaw", "OpenClaw gateway configured",
                "url=%s url_from=\"%s\" token_from=\"%s\" session_key=%s caps=0x%x", gw.url,
                gw.url_from, gw.token_from[0] ? gw.token_from : "none", gw.session_key, gw.caps);
    rc = gw.configured ? cl__gateway_new(&app, &gw, path, err, sizeof err) : 0;
    if (rc == 0)
        rc = cl_oc_node_new(&app.loop, app.gw, app.link, cfg.device_id, &gw, &app.node, err,
                            sizeof err);
    cl_gw_settings_wipe(&gw);
    cl_agent_config_wipe(&cfg);
    if (rc) {
        cl_error("openclaw", "cannot set up the OpenClaw node", "error=\"%s\"", err);
        goto out_link;
    }
    cl__chat_open(&app, o->chat_db, path);
    if (o->chat_listen && cl__chat_http_open(&app, o, path, err, sizeof err) != 0) {
        cl_error("chat_http", "cannot serve the chat API on loopback", "error=\"%s\"", err);
        rc = CL_EIO;
        goto out_link;
    }
    rc = cl_agent_sessions_new(&app.loop, app.link, cl__pick_shell(o), &o->sess, &app.ss, err,
                               sizeof err);
    if (rc) {
        cl_error("agent", "cannot set up sessions", "error=\"%s\"", err);
        goto out_link;
    }
    uv_timer_init(&app.loop, &app.shutdown_timer);
    app.shutdown_timer.data = &app;
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        uv_signal_init(&app.loop, &app.sig[i]);
        app.sig[i].data = &app;
        uv_signal_start(&app.sig[i], cl__on_signal, sigs[i]);
        app.nsig++;
    }

    cl_agent_link_start(app.link);
    if (app.gw)
        cl_gw_start(app.gw);
    cl_oc_node_start(app.node);
    uv_run(&app.loop, UV_RUN_DEFAULT);
    rc = 0;
    cl_chat_http_stop(app.chat_http);
    cl__chat_close(&app);

    /* Teardown that lws 4.1 on a foreign libuv loop is happy with: its
     * context first, then our handles, then let the loop finish closing
     * (and destroy the context again until lws reports it freed). */
    cl_oc_node_destroy(app.node);
    if (app.gw)
        cl_gw_destroy(app.gw);
    cl_agent_link_destroy(app.link);
    cl_wsc_ctx_destroy(app.wsc);
    cl_agent_sessions_close(app.ss);
    for (int i = 0; i < app.nsig; i++)
        uv_close((uv_handle_t *)&app.sig[i], NULL);
    uv_close((uv_handle_t *)&app.shutdown_timer, NULL);
    cl__drain_loop(&app.loop);
    for (int i = 0; i < 10 && !(cl_oc_node_destroyed(app.node) && cl_wsc_ctx_destroyed(app.wsc));
         i++) {
        cl_oc_node_destroy(app.node);
        cl_wsc_ctx_destroy(app.wsc);
        cl__drain_loop(&app.loop);
    }
    if (uv_loop_close(&app.loop) != 0)
        cl_warn("agent", "event loop still had open handles at exit", "%s", "");
    cl_agent_sessions_free(app.ss);
    cl_oc_node_free(app.node);
    cl_gw_free(app.gw);
    cl_agent_link_free(app.link);
    cl_wsc_ctx_free(app.wsc);
    cl_chat_http_free(app.chat_http);
    cl_chat_store_close(app.chat_store);
    cl_info("agent", "stopped", "%s", "");
    return CL__EXIT_OK;

out_link:
    cl_chat_http_stop(app.chat_http);
    cl__chat_close(&app);
    if (app.node)
        cl_oc_node_destroy(app.node);
    if (app.gw)
        cl_gw_destroy(app.gw);
    cl_agent_link_destroy(app.link);
out_wsc:
    cl_wsc_ctx_destroy(app.wsc);
    cl__drain_loop(&app.loop);
    for (int i = 0; i < 10 && !((!app.node || cl_oc_node_destroyed(app.node)) &&
                                cl_wsc_ctx_destroyed(app.wsc));
         i++) {
        if (app.node)
            cl_oc_node_destroy(app.node);
        cl_wsc_ctx_destroy(app.wsc);
        cl__drain_loop(&app.loop);
    }
    cl_oc_node_free(app.node);
    cl_gw_free(app.gw);
    cl_agent_link_free(app.link);
    cl_wsc_ctx_free(app.wsc);
    cl_chat_http_free(app.chat_http);
    cl_chat_store_close(app.chat_store);
out_loop:
    uv_loop_close(&app.loop);
    return rc ? CL__EXIT_FAIL : CL__EXIT_OK;
}

int main(int argc, char **argv)
{
    struct cl__opts o;
    int rc;

    signal(SIGPIPE, SIG_IGN);
    rc = cl__parse_args(argc, argv, &o);
    if (rc >= 0)
        return rc;
    cl_json_init();
    if (cl_secret_init() != 0) {
        fprintf(stderr, "clawlink: cannot initialise libsodium\n");
        return CL__EXIT_FAIL;
    }
    cl_log_hook_lws();
    switch (o.cmd) {
    case CL__CMD_PAIR:
        return cl__cmd_pair(&o);
    case CL__CMD_STATUS:
        return cl__cmd_status(&o);
    case CL__CMD_SERVICE:
        return cl__cmd_service(&o);
    case CL__CMD_AUDIT:
        return cl__cmd_audit(&o);
    default:
        return cl__cmd_up(&o);
    }
}

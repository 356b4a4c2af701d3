/* audit: the checks of `clawlink audit`, their findings, --fix and --json. */
#include "agent/audit.h"
#include "core/pqlib.h"
#include "agent/audit_probe.h"
#include "agent/config.h"
#include "agent/gateway_discover.h"
#include "agent/gateway_identity.h"
#include "agent/http.h"
#include "agent/memory_pg.h"
#include "agent/shellenv.h"
#include "core/err.h"
#include "core/fileio.h"
#include "core/json.h"
#include "core/proto.h"
#include "core/secret.h"
#include "core/sqlite.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* Config files read by the audit are small; a larger one is not read. */
#define CL__AUDIT_FILE_MAX (1024 * 1024)
/* how long the audit waits for the gateway's lock on its database */
#define CL__OC_DB_BUSY_MS 1000

static const char *const cl__sev_names[] = {"info", "warn", "critical"};

void cl_audit_init(struct cl_audit *a)
{
    memset(a, 0, sizeof *a);
}

void cl_audit_free(struct cl_audit *a)
{
    free(a->items);
    memset(a, 0, sizeof *a);
}

struct cl_audit_finding *cl_audit_add(struct cl_audit *a, const char *id,
                                      enum cl_audit_severity sev, const char *title,
                                      const char *fix, const char *detail_fmt, ...)
{
    struct cl_audit_finding *f;
    va_list ap;

    if (a->count == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 16;
        void *p = realloc(a->items, cap * sizeof *a->items);
        if (!p)
            abort();
        a->items = p;
        a->cap = cap;
    }
    f = &a->items[a->count++];
    memset(f, 0, sizeof *f);
    snprintf(f->id, sizeof f->id, "%s", id);
    f->severity = sev;
    snprintf(f->title, sizeof f->title, "%s", title);
    snprintf(f->fix, sizeof f->fix, "%s", fix ? fix : "");
    va_start(ap, detail_fmt);
    vsnprintf(f->detail, sizeof f->detail, detail_fmt, ap);
    va_end(ap);
    return f;
}

const struct cl_audit_finding *cl_audit_find(const struct cl_audit *a, const char *id)
{
    for (size_t i = 0; i < a->count; i++)
        if (strcmp(a->items[i].id, id) == 0)
            return &a->items[i];
    return NULL;
}

size_t cl_audit_count(const struct cl_audit *a, enum cl_audit_severity sev, bool unfixed_only)
{
    size_t n = 0;
    for (size_t i = 0; i < a->count; i++)
        if (a->items[i].severity == sev && !(unfixed_only && a->items[i].fixed))
            n++;
    return n;
}

/* Sets f's safe fix: clear bits of path (a directory when dir). */
static void cl__fix_clear(struct cl_audit_finding *f, const char *path, unsigned bits, bool dir)
{
    size_t n = strnlen(path, sizeof f->fix_path - 1);
    memcpy(f->fix_path, path, n);
    f->fix_path[n] = 0;
    f->fix_clear = bits;
    f->fix_dir = dir;
}

static void cl__id(char *out, size_t cap, const char *idp, const char *suffix)
{
    snprintf(out, cap, "%s.%s", idp, suffix);
}

/* ---- files and directories ------------------------------------------- */

/* Every directory above path that someone else could write or that
 * belongs to someone else, one finding each (the rule is
 * cl_agent_check_dirs_at's). */
static void cl__audit_parents(struct cl_audit *a, const char *idp, const char *path,
                              const char *what)
{
    char at[PATH_MAX], bad[PATH_MAX], why[PATH_MAX + 128], id[80], fix[PATH_MAX + 64];
    struct stat st;

    cl__id(id, sizeof id, idp, "parent_dir");
    snprintf(at, sizeof at, "%s", path);
    for (int i = 0; i < CL_AUDIT_DIRS_MAX; i++) {
        bad[0] = 0;
        if (cl_agent_check_dirs_at(at, false, bad, sizeof bad, why, sizeof why) == 0 || !bad[0])
            return;
        if (stat(bad, &st) == 0 && st.st_uid == geteuid() && (st.st_mode & 022) &&
            !(st.st_mode & S_ISVTX)) {
            snprintf(fix, sizeof fix, "chmod go-w %s", bad);
            struct cl_audit_finding *f = cl_audit_add(
                a, id, CL_AUDIT_CRITICAL,
                "A directory above a secret file can be written by others", fix,
                "%s holds %s, but %s. Whoever can write a directory above it can replace it: for "
                "the agent config, with one that names their own relay, which then gets this "
                "machine's shells.",
                path, what, why);
            cl__fix_clear(f, bad, 022, true);
        } else {
            cl_audit_add(a, id, CL_AUDIT_CRITICAL, "A directory above a secret file is not yours",
                         "move the file under a directory only you (or root) own and can write, "
                         "or have that directory's owner fix it",
                         "%s holds %s, but %s. Its owner can replace what is below it.", path, what,
                         why);
        }
        /* on from the directory found: its own parents next */
        snprintf(at, sizeof at, "%s", bad);
        if (strcmp(bad, "/") == 0)
            return;
    }
}

void cl_audit_secret_file(struct cl_audit *a, const char *idp, const char *path, const char *what,
                          bool required)
{
    char id[80], fix[PATH_MAX + 64];
    struct stat st;
    struct cl_audit_finding *f;

    if (lstat(path, &st) != 0) {
        if (errno == ENOENT && !required)
            return;
        cl__id(id, sizeof id, idp, "missing");
        cl_audit_add(a, id, CL_AUDIT_INFO, "Not present", NULL, "%s (%s): %s", path, what,
                     strerror(errno));
        return;
    }
    switch (cl_agent_private_file_flaw(&st)) {
    case CL_AGENT_FILE_SYMLINK:
        cl__id(id, sizeof id, idp, "symlink");
        cl_audit_add(a, id, CL_AUDIT_WARN, "A secret file is a symbolic link",
                     "replace the link with the file itself (cp --remove-destination "
                     "\"$(readlink -f FILE)\" FILE), or point --config at the real file",
                     "%s holds %s but is a symbolic link: whoever controls where it points "
                     "controls the agent, so the agent refuses to use it.",
                     path, what);
        break;
    case CL_AGENT_FILE_NOT_REGULAR:
        cl__id(id, sizeof id, idp, "not_regular");
        cl_audit_add(a, id, CL_AUDIT_WARN, "A secret file is not a regular file",
                     "replace it with a regular file",
                     "%s should hold %s but is not a regular file.", path, what);
        break;
    case CL_AGENT_FILE_OPEN_MODE:
        cl__id(id, sizeof id, idp, "perms_open");
        snprintf(fix, sizeof fix, "chmod 600 %s", path);
        f = cl_audit_add(a, id, CL_AUDIT_CRITICAL, "A secret file is open to other users", fix,
                         "%s holds %s and has mode %04o: other users of this machine can %s it. "
                         "With the device token anyone can connect as this device and be handed "
                         "its project's terminals; the agent refuses to start from it.",
                         path, what, (unsigned)(st.st_mode & 07777),
                         (st.st_mode & 022) ? "change" : "read");
        cl__fix_clear(f, path, 077, false);
        if (st.st_uid != geteuid())
            f->fix_clear = 0; /* not ours to change */
        break;
    case CL_AGENT_FILE_OTHER_OWNER:
        break;
    case CL_AGENT_FILE_OK:
        break;
    }
    if (!S_ISLNK(st.st_mode) && st.st_uid != geteuid()) {
        cl__id(id, sizeof id, idp, "owner");
        cl_audit_add(a, id, CL_AUDIT_CRITICAL, "A secret file belongs to another user",
                     "have it written again by the user the agent runs as (clawlink pair)",
                     "%s holds %s but belongs to uid %u, not to you (uid %u): its owner can "
                     "change it, and the agent refuses to use it.",
                     path, what, (unsigned)st.st_uid, (unsigned)geteuid());
    }
    cl__audit_parents(a, idp, path, what);
}

void cl_audit_private_dir(struct cl_audit *a, const char *idp, const char *path,
                          enum cl_audit_severity sev, const char *what)
{
    char id[80], fix[PATH_MAX + 64];
    struct stat st;
    struct cl_audit_finding *f;
    bool link;

    if (lstat(path, &st) != 0)
        return;
    link = S_ISLNK(st.st_mode);
    if (link) {
        cl__id(id, sizeof id, idp, "symlink");
        cl_audit_add(a, id, CL_AUDIT_WARN, "A private directory is a symbolic link",
                     "make it a real directory, or make sure you trust where it points",
                     "%s (%s) is a symbolic link: where it points becomes another trust "
                     "boundary.",
                     path, what);
        if (stat(path, &st) != 0)
            return;
    }
    if (!S_ISDIR(st.st_mode))
        return;
    if (st.st_uid != geteuid()) {
        cl__id(id, sizeof id, idp, "owner");
        cl_audit_add(a, id, CL_AUDIT_CRITICAL, "A private directory belongs to another user",
                     "use a directory of your own", "%s (%s) belongs to uid %u, not to you.", path,
                     what, (unsigned)st.st_uid);
        return;
    }
    if (st.st_mode & 077) {
        bool world_w = st.st_mode & 002, group_w = st.st_mode & 020;
        cl__id(id, sizeof id, idp, world_w || group_w ? "perms_writable" : "perms_readable");
        snprintf(fix, sizeof fix, "chmod 700 %s", path);
        f = cl_audit_add(a, id,
                         world_w                          ? CL_AUDIT_CRITICAL
                         : group_w && sev < CL_AUDIT_WARN ? CL_AUDIT_WARN
                                                          : sev,
                         world_w || group_w ? "A private directory can be written by others"
                                            : "A private directory is readable by others",
                         fix, "%s (%s) has mode %04o: other users can %s what is in it.", path,
                         what, (unsigned)(st.st_mode & 07777),
                         world_w || group_w ? "add, replace and remove" : "list and read");
        if (!link) /* never through a link */
            cl__fix_clear(f, path, 077, true);
    }
}

/* ---- relay ------------------------------------------------------------ */

void cl_audit_relay_url(struct cl_audit *a, const char *url)
{
    if (cl_agent_url_insecure(url))
        cl_audit_add(a, "relay.url.plaintext", CL_AUDIT_CRITICAL,
                     "The relay is reached over plain ws:// across a network",
                     "give the relay TLS (clawlink-relay --tls-cert/--tls-key, or a TLS proxy in "
                     "front) and pair again with an https:// --api URL",
                     "relay_url is %s: the device token and every keystroke and byte of output "
                     "of every terminal cross the network unencrypted, and whoever sits on the "
                     "path can act as the relay and drive this machine's shells.",
                     url);
    else if (strncmp(url, "ws://", 5) == 0)
        cl_audit_add(a, "relay.url.loopback_plaintext", CL_AUDIT_INFO,
                     "The relay is on this machine, without TLS", NULL,
                     "relay_url is %s: plain ws:// on loopback never leaves the machine.", url);
}

void cl_audit_memory_pg(struct cl_audit *a, const char *url, const char *cfg_path,
                        unsigned cfg_mode)
{
    char where[320], err[300];

    if (cl_pqlib_load(err, sizeof err) != 0) {
        cl_audit_add(a, "memory.pg.no_libpq", CL_AUDIT_WARN,
                     "The PostgreSQL memory provider cannot start: libpq is missing",
                     "install libpq (on Debian: apt install libpq5)",
                     "memory_provider is postgres in %s, and %s", cfg_path, err);
        return;
    }
    if (cl_memory_pg_describe(url, where, sizeof where) != 0) {
        cl_audit_add(a, "memory.pg.url_invalid", CL_AUDIT_WARN,
                     "The PostgreSQL memory connection string cannot be parsed",
                     "fix memory_pg_url (a postgresql:// URL or libpq key=value words)",
                     "memory_provider is postgres in %s, and libpq cannot parse memory_pg_url.",
                     cfg_path);
        return;
    }
    if (cl_memory_pg_url_has_password(url)) {
        if (cfg_mode & 077)
            cl_audit_add(a, "memory.pg.password_exposed", CL_AUDIT_CRITICAL,
                         "The memory database's password is readable by other users",
                         "chmod 600 the agent config, and change the database password",
                         "%s (mode %04o) holds memory_pg_url with a password for %s: whoever can "
                         "read the file can read and change every memory note.",
                         cfg_path, cfg_mode & 07777, where);
        else
            cl_audit_add(a, "memory.pg.password_in_config", CL_AUDIT_INFO,
                         "The memory database's password is in the agent config",
                         "optional: drop the password from memory_pg_url and keep it in "
                         "~/.pgpass (mode 0600), which libpq reads",
                         "memory_pg_url in %s holds a password for %s; the file is 0600, as "
                         "for the device token.",
                         cfg_path, where);
    }
    if (cl_memory_pg_url_remote(url)) {
        cl_audit_add(a, "memory.pg.remote", CL_AUDIT_INFO,
                     "Memory notes are kept on another machine", NULL,
                     "memory_provider is postgres at %s: memory notes (and searches of them) "
                     "leave this machine and live in that database (docs/chat.md, \"Memory "
                     "providers\").",
                     where);
        if (!cl_memory_pg_url_tls_required(url))
            cl_audit_add(a, "memory.pg.plaintext", CL_AUDIT_WARN,
                         "Memory notes may cross the network unencrypted",
                         "add sslmode=verify-full (or require) to memory_pg_url",
                         "memory_pg_url for %s does not require TLS: libpq's default (prefer) "
                         "falls back to plain text if the server offers no TLS, and whoever "
                         "sits on the path reads the notes and the password.",
                         where);
    }
}

/* --deep: the relay's certificate (verified as the agent verifies it) and
 * HSTS on its https URL. */
static void cl__probe_relay(struct cl_audit *a, const char *relay_url, const char *ca_file)
{
    struct cl_agent_http_resp resp;
    char url[CL_URL_MAX + 32], err[512];

    if (strncmp(relay_url, "wss://", 6) != 0)
        return;
    cl_agent_health_url(relay_url, url, sizeof url);
    if (cl_agent_http_request(url, NULL, ca_file, CL_AUDIT_PROBE_TIMEOUT_S, &resp, err,
                              sizeof err) != 0) {
        if (strstr(err, "TLS") || strstr(err, "certificate"))
            cl_audit_add(a, "relay.tls.unverified", CL_AUDIT_CRITICAL,
                         "The relay's certificate does not verify",
                         "give the relay a certificate for its name from a CA this machine "
                         "trusts (or pass the CA with --ca-file); never turn verification off",
                         "%s: %s. The agent will not connect; and a certificate that does not "
                         "verify cannot tell the relay from someone in between.",
                         url, err);
        else
            cl_audit_add(a, "relay.unreachable", CL_AUDIT_WARN, "The relay could not be reached",
                         "check the relay is running and reachable from here", "%s: %s", url, err);
        return;
    }
    if (!resp.hsts[0] || strstr(resp.hsts, "max-age=0"))
        cl_audit_add(a, "relay.tls.hsts_missing", CL_AUDIT_WARN,
                     "The relay's https URL does not send HSTS",
                     "serve TLS from the relay itself (--tls-cert sends "
                     "Strict-Transport-Security), or make the TLS proxy in front send it",
                     "%s answered without Strict-Transport-Security%s%s: a browser that once "
                     "reaches the relay over plain http can be served a fake sign-in page.",
                     url, resp.hsts[0] ? " (" : "", resp.hsts[0] ? "max-age=0)" : "");
    cl_agent_http_resp_free(&resp);
}

/* ---- capabilities and environment ------------------------------------ */

void cl_audit_capabilities(struct cl_audit *a, unsigned caps, const char *caps_from, bool exec_open)
{
    if (caps & (CL_CAP_RESTART | CL_CAP_WORKFLOW))
        cl_audit_add(a, "agent.capabilities.admin_scope", CL_AUDIT_WARN,
                     "The relay may restart the gateway or run its scheduled jobs",
                     "declare only what you use: \"capabilities\": [\"terminal\", \"chat\", "
                     "\"status\"] in the agent config",
                     "capabilities (%s) include %s%s%s: the agent then connects to the gateway "
                     "with operator.admin, and the relay's users drive it — any member of the "
                     "device's project may run workflows (cron jobs), its owner may restart the "
                     "gateway. In seed 003's model they all become operators of this gateway.",
                     caps_from, (caps & CL_CAP_RESTART) ? "restart" : "",
                     (caps & CL_CAP_RESTART) && (caps & CL_CAP_WORKFLOW) ? " and " : "",
                     (caps & CL_CAP_WORKFLOW) ? "workflow" : "");
    if (caps & CL_CAP_TERMINAL)
        cl_audit_add(a, "agent.capabilities.terminal", CL_AUDIT_INFO,
                     "Project members get a shell on this machine",
                     "leave \"terminal\" out of \"capabilities\" if the project's members should "
                     "not have shells here",
                     "capabilities (%s) include terminal: every member of the device's project "
                     "may open a shell as this user. That is what clawlink is for; make sure "
                     "the project has only people you would give this account to.",
                     caps_from);
    if ((caps & CL_CAP_CHAT) && !(caps & CL_CAP_TERMINAL) && exec_open)
        cl_audit_add(a, "agent.capabilities.chat_exec", CL_AUDIT_WARN,
                     "Without terminal, chat still runs commands on this machine",
                     "restrict the gateway's host exec (tools.exec.mode \"ask\" or "
                     "\"allowlist\") or leave \"chat\" out of \"capabilities\"",
                     "capabilities (%s) leave terminal out but include chat, and the gateway "
                     "runs host exec without approval: a member's prompt can make the agent run "
                     "any command here, so leaving terminal out does not take shell access away.",
                     caps_from);
}

bool cl_audit_name_secret(const char *name)
{
    static const char *const parts[] = {"TOKEN",      "SECRET",      "PASSWORD",    "PASSWD",
                                        "API_KEY",    "APIKEY",      "PRIVATE_KEY", "CREDENTIAL",
                                        "ACCESS_KEY", "SESSION_KEY", "AUTH_KEY",    "COOKIE"};
    static const char *const ends[] = {"_KEY", "_PAT", "_AUTH", "_PASS", "_PWD"};
    char up[CL_AGENT_PASS_ENV_NAME_MAX * 2 + 1];
    size_t n = 0;

    for (; name[n] && name[n] != '=' && n + 1 < sizeof up; n++)
        up[n] = (char)(name[n] >= 'a' && name[n] <= 'z' ? name[n] - 32 : name[n]);
    up[n] = 0;
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
        if (strstr(up, parts[i]))
            return true;
    for (size_t i = 0; i < sizeof ends / sizeof ends[0]; i++) {
        size_t e = strlen(ends[i]);
        if (n > e && strcmp(up + n - e, ends[i]) == 0)
            return true;
    }
    return false;
}

void cl_audit_shell_env(struct cl_audit *a, char *const *envp, const char *pass)
{
    for (size_t i = 0; envp && envp[i]; i++) {
        const char *eq = strchr(envp[i], '=');
        int nlen = eq ? (int)(eq - envp[i]) : (int)strlen(envp[i]);
        if (nlen == 22 && strncmp(envp[i], "OPENCLAW_GATEWAY_TOKEN", 22) == 0)
            cl_audit_add(a, "shell.env.gateway_token", CL_AUDIT_CRITICAL,
                         "Shells would get the gateway's token",
                         "never pass OPENCLAW_GATEWAY_TOKEN to shells",
                         "The shells the agent starts would hold OPENCLAW_GATEWAY_TOKEN: every "
                         "project member with a terminal could act as the gateway's operator.");
        else if (cl_audit_name_secret(envp[i]))
            cl_audit_add(a, "shell.env.secret_passed", CL_AUDIT_WARN,
                         "Shells get a variable that looks like a secret",
                         "leave it out of --pass-env; let people who need it set it in their "
                         "own shell",
                         "The shells the agent starts get %.*s (--pass-env %s): every member "
                         "of the device's project who opens a terminal can read it.",
                         nlen, envp[i], pass ? pass : "");
    }
}

/* ---- OpenClaw --------------------------------------------------------- */

enum cl_audit_token cl_audit_token_strength(const char *tok)
{
    static const char *const placeholders[] = {"undefined",  "null",     "changeme", "change-me",
                                               "your-token", "password", "token",    "secret"};
    bool seen[256] = {false};
    size_t n = strlen(tok), distinct = 0;
    size_t b = 0, e = n;

    while (b < e && (tok[b] == ' ' || tok[b] == '\t'))
        b++;
    while (e > b && (tok[e - 1] == ' ' || tok[e - 1] == '\t'))
        e--;
    if (e == b)
        return CL_AUDIT_TOKEN_PLACEHOLDER;
    for (size_t i = 0; i < sizeof placeholders / sizeof placeholders[0]; i++)
        if (strlen(placeholders[i]) == e - b && strncasecmp(tok + b, placeholders[i], e - b) == 0)
            return CL_AUDIT_TOKEN_PLACEHOLDER;
    if (e - b < CL_AUDIT_TOKEN_MIN)
        return CL_AUDIT_TOKEN_SHORT;
    for (size_t i = b; i < e; i++)
        if (!seen[(unsigned char)tok[i]]) {
            seen[(unsigned char)tok[i]] = true;
            distinct++;
        }
    return distinct < CL_AUDIT_TOKEN_MIN_DISTINCT ? CL_AUDIT_TOKEN_WEAK : CL_AUDIT_TOKEN_OK;
}

static const char *cl__jstr(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* Whether gateway.bind (with customBindHost) listens beyond loopback. */
static bool cl__bind_exposed(const char *bind, const char *custom)
{
    if (!bind || strcmp(bind, "loopback") == 0 || strcmp(bind, "localhost") == 0 ||
        strcmp(bind, "::1") == 0 || strncmp(bind, "127.", 4) == 0)
        return false;
    if (strcmp(bind, "custom") == 0)
        return !(custom && (strncmp(custom, "127.", 4) == 0 || strcmp(custom, "::1") == 0));
    return true; /* lan, auto, tailnet, 0.0.0.0, :: and anything unknown */
}

/* One credential (token or password) of gateway.auth. */
static void cl__audit_credential(struct cl_audit *a, json_t *auth, const char *kind,
                                 const char *origin)
{
    json_t *v = json_object_get(auth, kind);
    char id[64];

    if (!v)
        return;
    if (!json_is_string(v)) {
        snprintf(id, sizeof id, "openclaw.gateway.%s_not_checked", kind);
        cl_audit_add(a, id, CL_AUDIT_INFO, "The gateway's credential is kept elsewhere", NULL,
                     "%s: gateway.auth.%s is not a plain string (a SecretRef): its strength was "
                     "not checked.",
                     origin, kind);
        return;
    }
    switch (cl_audit_token_strength(json_string_value(v))) {
    case CL_AUDIT_TOKEN_PLACEHOLDER:
        snprintf(id, sizeof id, "openclaw.gateway.%s_placeholder", kind);
        cl_audit_add(a, id, CL_AUDIT_CRITICAL, "The gateway's credential is a placeholder",
                     "openclaw doctor --fix --generate-gateway-token, then restart the gateway",
                     "%s: gateway.auth.%s is blank or a known example value: anyone can guess "
                     "it, and with it operate the gateway and every tool it may use.",
                     origin, kind);
        break;
    case CL_AUDIT_TOKEN_SHORT:
        snprintf(id, sizeof id, "openclaw.gateway.%s_too_short", kind);
        cl_audit_add(a, id, CL_AUDIT_WARN, "The gateway's credential is short",
                     "use a long random one (openssl rand -hex 32), then restart the gateway",
                     "%s: gateway.auth.%s has %zu characters (OpenClaw asks for at least %d): a "
                     "short credential is easier to guess.",
                     origin, kind, strlen(json_string_value(v)), CL_AUDIT_TOKEN_MIN);
        break;
    case CL_AUDIT_TOKEN_WEAK:
        snprintf(id, sizeof id, "openclaw.gateway.%s_weak", kind);
        cl_audit_add(a, id, CL_AUDIT_WARN, "The gateway's credential is not random",
                     "use a long random one (openssl rand -hex 32), then restart the gateway",
                     "%s: gateway.auth.%s uses fewer than %d different characters: it was not "
                     "made at random.",
                     origin, kind, CL_AUDIT_TOKEN_MIN_DISTINCT);
        break;
    case CL_AUDIT_TOKEN_OK:
        break;
    }
    cl_wipe((char *)json_string_value(v), json_string_length(v));
}

/* tools.exec of one scope: open (full, no asking) or restricted. */
static void cl__exec_scope(json_t *exec, bool *full, bool *restricted)
{
    const char *mode = cl__jstr(exec, "mode"), *sec = cl__jstr(exec, "security");
    const char *ask = cl__jstr(exec, "ask");

    if (!json_is_object(exec))
        return;
    if (mode) {
        if (strcmp(mode, "full") == 0)
            *full = true;
        else
            *restricted = true;
    }
    if (sec && strcmp(sec, "full") == 0 && (!ask || strcmp(ask, "off") == 0))
        *full = true;
    else if ((sec && strcmp(sec, "full") != 0) ||
             (ask && (strcmp(ask, "on-miss") == 0 || strcmp(ask, "always") == 0)))
        *restricted = true;
}

void cl_audit_openclaw_config(struct cl_audit *a, const char *text, size_t len, const char *origin,
                              struct cl_audit_oc *oc)
{
    char why[200];
    json_t *root = cl_json_parse_object(text, len, why, sizeof why);
    json_t *gw, *auth, *agents, *e;
    const char *bind, *mode;
    bool has_token, has_password;

    memset(oc, 0, sizeof *oc);
    if (!root) {
        cl_audit_add(a, "openclaw.config.unparsed", CL_AUDIT_INFO,
                     "The OpenClaw config is not plain JSON",
                     "run openclaw security audit for the gateway's own settings",
                     "%s: %s. OpenClaw also reads JSON5 (comments, trailing commas); clawlink "
                     "reads plain JSON only, so the gateway's bind, auth, logging and exec "
                     "settings were not checked.",
                     origin, why);
        return;
    }
    oc->parsed = true;
    gw = json_object_get(root, "gateway");
    auth = json_object_get(gw, "auth");
    bind = cl__jstr(gw, "bind");
    mode = cl__jstr(auth, "mode");
    has_token = json_object_get(auth, "token") != NULL;
    has_password = json_object_get(auth, "password") != NULL;
    oc->exposed = cl__bind_exposed(bind, cl__jstr(gw, "customBindHost"));
    /* No mode: token or password when one is set (OpenClaw's inference). */
    oc->auth_none = mode ? strcmp(mode, "none") == 0 : !has_token && !has_password;

    if (oc->exposed && oc->auth_none)
        cl_audit_add(a, "openclaw.gateway.bind_no_auth", CL_AUDIT_CRITICAL,
                     "The gateway listens beyond loopback without auth",
                     "set gateway.bind to \"loopback\" (clawlink reaches the gateway on "
                     "127.0.0.1) and gateway.auth.mode to \"token\"; restart the gateway",
                     "%s: gateway.bind is \"%s\" and gateway.auth has no token or password: "
                     "anyone who can reach this machine's port operates the gateway and every "
                     "tool and node it controls — seed 003's one trusted operator becomes "
                     "everyone on the network.",
                     origin, bind ? bind : "");
    else if (oc->exposed)
        cl_audit_add(a, "openclaw.gateway.bind_beyond_loopback", CL_AUDIT_WARN,
                     "The gateway listens beyond loopback",
                     "set gateway.bind to \"loopback\": clawlink reaches the gateway on "
                     "127.0.0.1 and the relay reaches clawlink, so no port needs to be open",
                     "%s: gateway.bind is \"%s\": the gateway's port is reachable from the "
                     "network, guarded by its token alone.",
                     origin, bind ? bind : "");
    else if (oc->auth_none)
        cl_audit_add(
            a, "openclaw.gateway.auth_none", CL_AUDIT_CRITICAL, "The gateway has no auth",
            "set gateway.auth.mode to \"token\" with a long random token (openclaw "
            "doctor --fix --generate-gateway-token); restart the gateway",
            "%s: gateway.auth %s: every process and user on this machine (and anything "
            "a local proxy forwards) operates the gateway without a credential.",
            origin, mode ? "mode is \"none\"" : "has neither a token nor a password (and no mode)");
    if (mode && strcmp(mode, "trusted-proxy") == 0)
        cl_audit_add(a, "openclaw.gateway.trusted_proxy", CL_AUDIT_WARN,
                     "The gateway trusts a proxy's identity headers",
                     "keep gateway.trustedProxies to the proxy's address only",
                     "%s: gateway.auth.mode is \"trusted-proxy\": whoever can send requests as "
                     "the proxy is the gateway's operator.",
                     origin);
    if (!oc->auth_none && (!mode || strcmp(mode, "token") == 0))
        cl__audit_credential(a, auth, "token", origin);
    if (!oc->auth_none && (!mode || strcmp(mode, "password") == 0))
        cl__audit_credential(a, auth, "password", origin);
    {
        const char *ts = cl__jstr(json_object_get(gw, "tailscale"), "mode");
        if (ts && strcmp(ts, "funnel") == 0)
            cl_audit_add(a, "openclaw.gateway.tailscale_funnel", CL_AUDIT_CRITICAL,
                         "The gateway is published on the internet (Tailscale Funnel)",
                         "set gateway.tailscale.mode to \"off\" (clawlink needs no inbound port)",
                         "%s: gateway.tailscale.mode is \"funnel\".", origin);
    }
    {
        const char *red = cl__jstr(json_object_get(root, "logging"), "redactSensitive");
        if (red && strcmp(red, "off") == 0)
            cl_audit_add(a, "openclaw.logging.redact_off", CL_AUDIT_WARN,
                         "OpenClaw's logs are not redacted",
                         "set logging.redactSensitive to \"tools\" (OpenClaw 2026.9 and later "
                         "always redact and drop the key: openclaw doctor --fix removes it)",
                         "%s: logging.redactSensitive is \"off\": an OpenClaw that honours it "
                         "writes tool output, tokens and keys found in it into its logs, "
                         "readable by whoever can read the state directory.",
                         origin);
    }
    /* tools.exec, globally and per agent */
    {
        bool full = false, restricted = false;
        cl__exec_scope(json_object_get(json_object_get(root, "tools"), "exec"), &full, &restricted);
        agents = json_object_get(root, "agents");
        if (json_is_object(json_object_get(agents, "entries"))) {
            const char *k;
            json_object_foreach(json_object_get(agents, "entries"), k, e) cl__exec_scope(
                json_object_get(json_object_get(e, "tools"), "exec"), &full, &restricted);
        }
        if (json_is_array(json_object_get(agents, "list"))) {
            size_t i;
            json_array_foreach(json_object_get(agents, "list"), i, e) cl__exec_scope(
                json_object_get(json_object_get(e, "tools"), "exec"), &full, &restricted);
        }
        oc->exec_explicit = full;
        oc->exec_set = restricted;
    }
    /* the token's copy in the tree was wiped by cl__audit_credential */
    json_decref(root);
}

void cl_audit_exec_approvals(struct cl_audit *a, const char *text, size_t len, const char *origin,
                             bool *explicit_full)
{
    json_t *root = json_loadb(text, len, 0, NULL), *agents, *scope;
    const char *k;

    if (!json_is_object(root)) {
        json_decref(root);
        return;
    }
    agents = json_object_get(root, "agents");
    for (int i = 0;; i++) {
        const char *name;
        if (i == 0) {
            scope = json_object_get(root, "defaults");
            name = "defaults";
            k = NULL;
        } else {
            /* the i-th agent */
            void *it = json_is_object(agents) ? json_object_iter(agents) : NULL;
            for (int j = 1; it && j < i; j++)
                it = json_object_iter_next(agents, it);
            if (!it)
                break;
            k = json_object_iter_key(it);
            scope = json_object_iter_value(it);
            name = k;
        }
        if (!json_is_object(scope))
            continue;
        const char *sec = cl__jstr(scope, "security"), *ask = cl__jstr(scope, "ask");
        const char *fb = cl__jstr(scope, "askFallback");
        if (sec && strcmp(sec, "full") == 0 && (!ask || strcmp(ask, "off") == 0)) {
            *explicit_full = true;
            cl_audit_add(a, "openclaw.exec_approvals.full", CL_AUDIT_WARN,
                         "Exec approvals let every command run without asking",
                         "openclaw exec-policy preset (or openclaw approvals set) with security "
                         "\"allowlist\" and ask \"on-miss\"",
                         "%s: %s%s has security \"full\" and ask \"%s\": the agent's host exec "
                         "runs any command without an allowlist match or a prompt.",
                         origin, i ? "agents." : "", name, ask ? ask : "off (default)");
        }
        if (fb && strcmp(fb, "full") == 0)
            cl_audit_add(a, "openclaw.exec_approvals.ask_fallback_full", CL_AUDIT_WARN,
                         "Exec approvals run a command when nobody answers",
                         "set askFallback to \"deny\" (the default)",
                         "%s: %s%s has askFallback \"full\": when no approval UI is reachable — "
                         "nobody is watching — the command runs anyway.",
                         origin, i ? "agents." : "", name);
        if (json_is_true(json_object_get(scope, "autoAllowSkills")))
            cl_audit_add(a, "openclaw.exec_approvals.auto_allow_skills", CL_AUDIT_WARN,
                         "Exec approvals trust every skill's programs",
                         "set autoAllowSkills to false and keep a manual allowlist",
                         "%s: %s%s has autoAllowSkills: executables any installed skill names "
                         "run without an allowlist entry of yours.",
                         origin, i ? "agents." : "", name);
    }
    json_decref(root);
}

/* Reads a whole small file (not a secret-checked read: the audit only
 * looks). 0, CL_ENOTFOUND, CL_EINVAL (not a regular file), CL_EIO or
 * CL_ELIMIT. */
static int cl__read_small(const char *path, char **out, size_t *len)
{
    return cl_read_file(path, CL__AUDIT_FILE_MAX, 0, out, len);
}

static void cl__free_secret(char *buf, size_t len)
{
    if (buf) {
        cl_wipe(buf, len);
        free(buf);
    }
}

/* openclaw.json's own file: OpenClaw's check ids and severities. */
static void cl__audit_oc_config_file(struct cl_audit *a, const char *path)
{
    char fix[PATH_MAX + 32];
    struct stat lst, st;
    struct cl_audit_finding *f = NULL;

    if (lstat(path, &lst) != 0 || stat(path, &st) != 0)
        return;
    if (S_ISLNK(lst.st_mode))
        cl_audit_add(
            a, "openclaw.config.symlink", CL_AUDIT_WARN, "The OpenClaw config is a symbolic link",
            "replace the link with the file, or point OPENCLAW_CONFIG_PATH at it",
            "%s is a symbolic link: where it points becomes another trust boundary.", path);
    snprintf(fix, sizeof fix, "chmod 600 %s", path);
    if (st.st_mode & 022)
        f = cl_audit_add(a, "openclaw.config.perms_writable", CL_AUDIT_CRITICAL,
                         "Others can change the OpenClaw config", fix,
                         "%s has mode %04o: another user can change the gateway's auth, bind "
                         "address and tool policy — seed 003: whoever can modify openclaw.json "
                         "is a trusted operator.",
                         path, (unsigned)(st.st_mode & 07777));
    else if (!S_ISLNK(lst.st_mode) && (st.st_mode & 004))
        f = cl_audit_add(a, "openclaw.config.perms_world_readable", CL_AUDIT_CRITICAL,
                         "Everyone can read the OpenClaw config", fix,
                         "%s has mode %04o: it holds the gateway's token, and every user of this "
                         "machine can read it.",
                         path, (unsigned)(st.st_mode & 07777));
    else if (!S_ISLNK(lst.st_mode) && (st.st_mode & 040))
        f = cl_audit_add(a, "openclaw.config.perms_group_readable", CL_AUDIT_WARN,
                         "The OpenClaw config is readable by its group", fix,
                         "%s has mode %04o: it holds the gateway's token.", path,
                         (unsigned)(st.st_mode & 07777));
    if (f && !S_ISLNK(lst.st_mode) && st.st_uid == geteuid())
        cl__fix_clear(f, path, 077, false);
}

/* The exec approvals OpenClaw keeps: the exec_approvals_config row of
 * <state>/state/openclaw.sqlite (2026.9), and a legacy exec-approvals.json
 * that `openclaw doctor --fix` would import. Read-only. */
static void cl__audit_oc_approvals(struct cl_audit *a, const char *state, bool *explicit_full,
                                   bool *restricted)
{
    char path[PATH_MAX + 64], origin[PATH_MAX + 128];
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    char *buf = NULL;
    size_t len = 0;

    snprintf(path, sizeof path, "%s/state/openclaw.sqlite", state);
    if (access(path, F_OK) == 0 &&
        cl_sqlite_open_readonly(path, CL__OC_DB_BUSY_MS, &db, NULL, 0) == 0 &&
        sqlite3_prepare_v2(db,
                           "SELECT raw_json, default_security, default_ask FROM "
                           "exec_approvals_config ORDER BY config_key LIMIT 1",
                           -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
        const char *raw = (const char *)sqlite3_column_text(st, 0);
        const char *sec = (const char *)sqlite3_column_text(st, 1);
        const char *ask = (const char *)sqlite3_column_text(st, 2);
        snprintf(origin, sizeof origin, "%s#exec_approvals_config", path);
        if (raw)
            cl_audit_exec_approvals(a, raw, strlen(raw), origin, explicit_full);
        if ((sec && strcmp(sec, "full") != 0) ||
            (ask && (strcmp(ask, "on-miss") == 0 || strcmp(ask, "always") == 0)))
            *restricted = true;
    }
    sqlite3_finalize(st);
    cl_sqlite_close(db);

    snprintf(path, sizeof path, "%s/exec-approvals.json", state);
    if (cl__read_small(path, &buf, &len) == 0) {
        json_t *root = json_loadb(buf, len, 0, NULL);
        const char *sec = cl__jstr(json_object_get(root, "defaults"), "security");
        if (sec && strcmp(sec, "full") != 0)
            *restricted = true;
        json_decref(root);
        cl_audit_exec_approvals(a, buf, len, path, explicit_full);
        cl__free_secret(buf, len); /* it holds the approval socket's token */
    }
}

/* The gateway beside the agent: its files and its settings. Sets
 * *exec_open when host exec runs without approval. */
static void cl__audit_openclaw(struct cl_audit *a, bool *exec_open)
{
    char state[PATH_MAX], config[PATH_MAX];
    struct cl_audit_oc oc;
    bool approvals_full = false, approvals_restricted = false;
    char *buf = NULL;
    size_t len = 0;
    int rc;

    *exec_open = false;
    if (cl_gw_openclaw_paths(state, sizeof state, config, sizeof config) != 0)
        return;
    rc = cl__read_small(config, &buf, &len);
    if (rc == CL_ENOTFOUND && access(state, F_OK) != 0) {
        cl_audit_add(a, "openclaw.not_found", CL_AUDIT_INFO, "No OpenClaw on this machine", NULL,
                     "Neither %s nor %s exists (OPENCLAW_CONFIG_PATH, OPENCLAW_STATE_DIR and "
                     "OPENCLAW_HOME are followed as OpenClaw follows them).",
                     config, state);
        return;
    }
    cl_audit_private_dir(a, "openclaw.state_dir", state, CL_AUDIT_WARN,
                         "OpenClaw's state: sessions, credentials, approvals");
    cl__audit_oc_config_file(a, config);
    if (rc == 0) {
        cl_audit_openclaw_config(a, buf, len, config, &oc);
        cl__free_secret(buf, len);
    } else {
        memset(&oc, 0, sizeof oc);
        if (rc != CL_ENOTFOUND)
            cl_audit_add(a, "openclaw.config.unreadable", CL_AUDIT_INFO,
                         "The OpenClaw config could not be read", NULL, "%s: %s", config,
                         cl_strerror(rc));
    }
    cl__audit_oc_approvals(a, state, &approvals_full, &approvals_restricted);
    /* The stricter of config and approvals applies; unset, both are full. */
    *exec_open = !oc.exec_set && !approvals_restricted;
    if (*exec_open)
        cl_audit_add(a, "openclaw.exec.wide_open",
                     oc.exec_explicit || approvals_full ? CL_AUDIT_WARN : CL_AUDIT_INFO,
                     "The gateway runs host commands without approval",
                     "openclaw config set tools.exec.mode ask (or allowlist) if prompts may "
                     "reach this machine from people you would not hand a shell",
                     "%s: %s. That is OpenClaw's default for one trusted operator (seed 003); "
                     "through clawlink, whoever may prompt this node (members of the device's "
                     "project, with the chat capability) steers that exec authority.",
                     oc.parsed ? config : state,
                     oc.exec_explicit || approvals_full
                         ? "host exec is set to security \"full\" with no prompts"
                         : "nothing restricts host exec (tools.exec unset: security \"full\", "
                           "ask \"off\")");
}

/* --deep: connect to the gateway without a token. */
static void cl__probe_openclaw(struct cl_audit *a, const char *agent_config)
{
    struct cl_gw_settings set;
    char warn[512], err[256], why[400];

    if (cl_gw_discover(agent_config, &set, warn, sizeof warn, err, sizeof err) != 0 ||
        !set.configured) {
        cl_gw_settings_wipe(&set);
        return;
    }
    cl_gw_settings_wipe(&set);
    if (strncmp(set.url, "ws://", 5) != 0) {
        cl_audit_add(a, "openclaw.gateway.probe_skipped", CL_AUDIT_INFO,
                     "The gateway was not probed", "run openclaw security audit --deep",
                     "%s: only a plain ws:// gateway (the local one) is probed.", set.url);
        return;
    }
    switch (cl_audit_probe_gateway(set.url, CL_AUDIT_PROBE_TIMEOUT_S, why, sizeof why)) {
    case CL_AUDIT_PROBE_ACCEPTED:
        cl_audit_add(a, "openclaw.gateway.probe_accepted", CL_AUDIT_CRITICAL,
                     "The gateway let in a connection without any credential",
                     "set gateway.auth.mode to \"token\" with a long random token; restart the "
                     "gateway",
                     "%s: connected with no token or password (only a device identity made for the "
                     "probe, as anyone can make one): %s.",
                     set.url, why);
        break;
    case CL_AUDIT_PROBE_REFUSED:
        cl_audit_add(a, "openclaw.gateway.probe_refused", CL_AUDIT_INFO,
                     "The gateway refuses a connection without a token", NULL, "%s: %s.", set.url,
                     why);
        break;
    case CL_AUDIT_PROBE_UNREACHABLE:
        cl_audit_add(a, "openclaw.gateway.probe_failed", CL_AUDIT_INFO,
                     "The gateway could not be probed (not running?)", NULL, "%s: %s.", set.url,
                     why);
        break;
    case CL_AUDIT_PROBE_UNCLEAR:
        cl_audit_add(a, "openclaw.gateway.probe_unclear", CL_AUDIT_WARN,
                     "The gateway's answer to a connection without a token was unclear",
                     "run openclaw security audit --deep", "%s: %s.", set.url, why);
        break;
    }
}

/* ---- chat ------------------------------------------------------------- */

static void cl__audit_chat(struct cl_audit *a)
{
    const char *xdg = getenv("XDG_DATA_HOME"), *home = getenv("HOME");
    static const char *const files[] = {"chat.db", "chat.db-wal", "chat.db-shm"};
    char dir[PATH_MAX], path[PATH_MAX + 16], fix[PATH_MAX + 32];
    struct stat st;
    bool any = false;

    if (xdg && xdg[0] == '/')
        snprintf(dir, sizeof dir, "%s/clawlink", xdg);
    else if (home && home[0] == '/')
        snprintf(dir, sizeof dir, "%s/.local/share/clawlink", home);
    else
        return;
    cl_audit_private_dir(a, "chat.store_dir", dir, CL_AUDIT_WARN, "the chat store's directory");
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        if (lstat(path, &st) != 0)
            continue;
        any = true;
        if (S_ISLNK(st.st_mode)) {
            cl_audit_add(a, "chat.store.symlink", CL_AUDIT_WARN,
                         "The chat store is a symbolic link", "make it a regular file",
                         "%s is a symbolic link.", path);
            continue;
        }
        if (st.st_mode & 077) {
            snprintf(fix, sizeof fix, "chmod 600 %s", path);
            struct cl_audit_finding *f =
                cl_audit_add(a, "chat.store.perms_open", CL_AUDIT_CRITICAL,
                             "The chat store is open to other users", fix,
                             "%s has mode %04o: it mirrors every conversation with the gateway, "
                             "and other users can read it.",
                             path, (unsigned)(st.st_mode & 07777));
            if (st.st_uid == geteuid())
                cl__fix_clear(f, path, 077, false);
        }
    }
    if (!any)
        cl_audit_add(a, "chat.store.not_present", CL_AUDIT_INFO, "No chat store yet", NULL,
                     "%s/chat.db does not exist: the chat bridge is not built yet. When it is, "
                     "it must be 0600 in a 0700 directory.",
                     dir);
    cl_audit_add(a, "chat.api.not_present", CL_AUDIT_INFO, "No local chat API", NULL,
                 "The agent listens on no port: the local chat API is not built yet (when it "
                 "is, it must listen on loopback only, with a bearer token).");
}

/* ---- the whole audit -------------------------------------------------- */

int cl_audit_run(const struct cl_audit_opts *o, struct cl_audit *a, char *err, size_t errlen)
{
    struct cl_agent_config cfg;
    struct cl_gw_settings gw;
    char path[PATH_MAX], idpath[PATH_MAX], why[512], origin[PATH_MAX + 32];
    char *buf = NULL, **envp = NULL;
    size_t len = 0;
    bool exec_open = false, have_cfg = false;
    int rc;

    if (o->config_path)
        snprintf(path, sizeof path, "%s", o->config_path);
    else if ((rc = cl_agent_config_default_path(path, sizeof path, err, errlen)) != 0)
        return rc;

    /* the agent's config and device key */
    memset(&gw, 0, sizeof gw);
    gw.caps = CL_CAP_DEFAULT;
    snprintf(gw.caps_from, sizeof gw.caps_from, "default");
    if (access(path, F_OK) != 0 && errno == ENOENT) {
        cl_audit_add(a, "agent.config.missing", CL_AUDIT_INFO, "This machine is not paired",
                     "clawlink pair CODE --api URL", "No agent config at %s.", path);
    } else {
        cl_audit_secret_file(a, "agent.config", path, "the device token", true);
        {
            char dir[PATH_MAX], *slash;
            snprintf(dir, sizeof dir, "%s", path);
            slash = strrchr(dir, '/');
            /* Only the directory clawlink makes for itself (0700): a
             * config kept elsewhere (a home directory) is not ours to
             * tighten. */
            if (slash && slash != dir && slash - dir >= 9 &&
                strncmp(slash - 9, "/clawlink", 9) == 0) {
                *slash = 0;
                cl_audit_private_dir(a, "agent.config_dir", dir, CL_AUDIT_WARN,
                                     "the agent's config directory");
            }
        }
        /* Read as it is, whatever its mode: the audit only looks. */
        if (cl__read_small(path, &buf, &len) == 0) {
            if (cl_agent_config_parse(buf, len, path, &cfg, why, sizeof why) == 0)
                have_cfg = true;
            else
                cl_audit_add(a, "agent.config.invalid", CL_AUDIT_WARN,
                             "The agent config is not valid", "pair again (clawlink pair)", "%s",
                             why);
            {
                /* the memory provider's database, if it has one */
                struct cl_agent_memory_config mc;
                struct stat cst;
                if (cl_agent_memory_config_parse(buf, len, path, NULL, &mc, why, sizeof why) == 0 &&
                    mc.provider == CL_AGENT_MEMORY_POSTGRES && lstat(path, &cst) == 0)
                    cl_audit_memory_pg(a, mc.pg_url, path, (unsigned)cst.st_mode);
                cl_agent_memory_config_wipe(&mc);
            }
            snprintf(origin, sizeof origin, "agent config %s", path);
            if (cl_gw_parse_agent_config(buf, len, origin, &gw, why, sizeof why) != 0)
                cl_audit_add(a, "agent.config.invalid", CL_AUDIT_WARN,
                             "The agent config is not valid",
                             "fix \"capabilities\" or \"openclaw\" in the agent config", "%s", why);
            cl__free_secret(buf, len);
        }
    }
    cl_gw_settings_wipe(&gw);
    if (cl_gw_identity_path(path, idpath, sizeof idpath) == 0)
        cl_audit_secret_file(a, "agent.device_key", idpath,
                             "the agent's device key for the OpenClaw gateway", false);

    /* the relay */
    if (have_cfg) {
        cl_audit_relay_url(a, cfg.relay_url);
        if (o->deep)
            cl__probe_relay(a, cfg.relay_url, o->ca_file);
        cl_agent_config_wipe(&cfg);
    }

    /* OpenClaw, then the capabilities that lead to it */
    cl__audit_openclaw(a, &exec_open);
    cl_audit_capabilities(a, gw.caps, gw.caps_from, exec_open);
    if (o->deep)
        cl__probe_openclaw(a, access(path, F_OK) == 0 ? path : NULL);

    /* what shells get */
    if (cl_shellenv_build(o->shell ? o->shell : "/bin/sh", o->pass_env, o->env, &envp, why,
                          sizeof why) == 0) {
        cl_audit_shell_env(a, envp, o->pass_env);
        cl_shellenv_free(envp);
    } else {
        cl_audit_add(a, "shell.env.pass_env_refused", CL_AUDIT_WARN,
                     "The agent refuses this --pass-env", "fix the list", "--pass-env %s: %s",
                     o->pass_env ? o->pass_env : "", why);
    }

    cl__audit_chat(a);
    return 0;
}

/* ---- --fix ------------------------------------------------------------ */

/* Clears bits of path if it is still the caller's own, not a link, and of
 * the expected kind. 0 or -1 with why. */
static int cl__tighten(const char *path, unsigned bits, bool dir, char *why, size_t whylen)
{
    struct stat st;
    int fd;

    fd = open(path,
              O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY | (dir ? O_DIRECTORY : 0));
    if (fd < 0) {
        snprintf(why, whylen, "%s", strerror(errno));
        return -1;
    }
    if (fstat(fd, &st) != 0 || st.st_uid != geteuid() ||
        (dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode))) {
        snprintf(why, whylen, "not your own %s any more", dir ? "directory" : "file");
        close(fd);
        return -1;
    }
    if (fchmod(fd, st.st_mode & 07777 & ~(mode_t)bits) != 0) {
        snprintf(why, whylen, "%s", strerror(errno));
        close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

size_t cl_audit_apply_fixes(struct cl_audit *a, FILE *log)
{
    size_t fixed = 0;
    char why[128];

    for (size_t i = 0; i < a->count; i++) {
        struct cl_audit_finding *f = &a->items[i];
        if (!f->fix_clear || f->fixed)
            continue;
        if (cl__tighten(f->fix_path, f->fix_clear, f->fix_dir, why, sizeof why) != 0) {
            if (log)
                fprintf(log, "clawlink audit: could not fix %s (%s): %s\n", f->id, f->fix_path,
                        why);
            continue;
        }
        f->fixed = true;
        fixed++;
        /* the same path may be named by several findings */
        for (size_t j = i + 1; j < a->count; j++)
            if (a->items[j].fix_clear && strcmp(a->items[j].fix_path, f->fix_path) == 0 &&
                (a->items[j].fix_clear & ~f->fix_clear) == 0)
                a->items[j].fixed = true;
        if (log)
            fprintf(log, "clawlink audit: fixed %s: chmod %s %s\n", f->id,
                    f->fix_clear == 022 ? "go-w" : "go-rwx", f->fix_path);
    }
    return fixed;
}

/* ---- output ----------------------------------------------------------- */

void cl_audit_print(const struct cl_audit *a, FILE *out, bool deep, bool fix)
{
    static const char *const labels[] = {"INFO", "WARN", "CRITICAL"};
    size_t fixed = 0;

    for (size_t i = 0; i < a->count; i++)
        fixed += a->items[i].fixed;
    fprintf(out, "clawlink audit%s%s: %zu critical, %zu warn, %zu info", deep ? " --deep" : "",
            fix ? " --fix" : "", cl_audit_count(a, CL_AUDIT_CRITICAL, false),
            cl_audit_count(a, CL_AUDIT_WARN, false), cl_audit_count(a, CL_AUDIT_INFO, false));
    if (fix)
        fprintf(out, "; %zu fixed, %zu critical left", fixed,
                cl_audit_count(a, CL_AUDIT_CRITICAL, true));
    fprintf(out, "\n");
    for (int sev = CL_AUDIT_CRITICAL; sev >= CL_AUDIT_INFO; sev--) {
        for (size_t i = 0; i < a->count; i++) {
            const struct cl_audit_finding *f = &a->items[i];
            if ((int)f->severity != sev)
                continue;
            fprintf(out, "\n%s%s %s: %s\n  %s\n", labels[sev], f->fixed ? " (fixed)" : "", f->id,
                    f->title, f->detail);
            if (f->fix[0])
                fprintf(out, "  %s: %s\n", f->fixed ? "fixed by" : "fix", f->fix);
        }
    }
}

char *cl_audit_json(const struct cl_audit *a, bool deep, bool fix)
{
    json_t *root = json_object(), *list = json_array();
    size_t fixed = 0;
    char *text;

    if (!root || !list) {
        json_decref(root);
        json_decref(list);
        return NULL;
    }
    for (size_t i = 0; i < a->count; i++) {
        const struct cl_audit_finding *f = &a->items[i];
        fixed += f->fixed;
        json_array_append_new(list,
                              json_pack("{s:s, s:s, s:s, s:s, s:s, s:b}", "id", f->id, "severity",
                                        cl__sev_names[f->severity], "title", f->title, "detail",
                                        f->detail, "fix", f->fix, "fixed", f->fixed));
    }
    json_object_set_new(root, "version", json_integer(CL_AUDIT_SCHEMA_VERSION));
    json_object_set_new(root, "clawlink", json_string(CL_VERSION));
    json_object_set_new(root, "deep", json_boolean(deep));
    json_object_set_new(root, "fix", json_boolean(fix));
    json_object_set_new(root, "summary",
                        json_pack("{s:I, s:I, s:I, s:I, s:I}", "critical",
                                  (json_int_t)cl_audit_count(a, CL_AUDIT_CRITICAL, false), "warn",
                                  (json_int_t)cl_audit_count(a, CL_AUDIT_WARN, false), "info",
                                  (json_int_t)cl_audit_count(a, CL_AUDIT_INFO, false), "fixed",
                                  (json_int_t)fixed, "critical_remaining",
                                  (json_int_t)cl_audit_count(a, CL_AUDIT_CRITICAL, true)));
    json_object_set_new(root, "findings", list);
    text = json_dumps(root, JSON_INDENT(2));
    json_decref(root);
    return text;
}

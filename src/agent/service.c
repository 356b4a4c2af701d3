/* service: the agent as a systemd unit (install, uninstall, status). */
#include "agent/service.h"
#include "agent/config.h"
#include "core/err.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* What systemctl or loginctl printed, kept for an error message. */
#define CL__RUN_OUT_MAX 512

static bool cl__service_systemd_running(void)
{
    /* sd_booted(3): this directory exists only when systemd is PID 1. */
    return access("/run/systemd/system", F_OK) == 0;
}

static const char *cl__service_user_name(void)
{
    struct passwd *pw = getpwuid(geteuid());
    return pw && pw->pw_name ? pw->pw_name : NULL;
}

/* Runs argv (no shell) and waits; what it printed (stdout and stderr) goes
 * to out, cut at cap - 1 bytes. Returns its exit status, or -1 if it could
 * not be run or died of a signal. */
static int cl__service_run(char *const argv[], char *out, size_t cap)
{
    posix_spawn_file_actions_t fa;
    size_t len = 0;
    int fds[2], status = 0, rc;
    pid_t pid;
    char buf[256];

    out[0] = 0;
    if (pipe2(fds, O_CLOEXEC) != 0)
        return -1;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&fa, fds[1], STDERR_FILENO);
    posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    if (rc != 0) {
        close(fds[0]);
        snprintf(out, cap, "cannot run %s: %s", argv[0], strerror(rc));
        return -1;
    }
    for (;;) {
        ssize_t n = read(fds[0], buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        for (ssize_t i = 0; i < n && len + 1 < cap; i++)
            out[len++] = buf[i];
    }
    out[len] = 0;
    while (len > 0 && (out[len - 1] == '\n' || out[len - 1] == ' '))
        out[--len] = 0;
    close(fds[0]);
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR)
            return -1;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* systemctl [--user] ARGS...: the scope's flag put in front. */
static int cl__service_systemctl(const struct cl_service_opts *o, const char *a1, const char *a2,
                                 char *out, size_t cap)
{
    char *argv[6];
    int n = 0;
    argv[n++] = "systemctl";
    if (o->scope == CL_SERVICE_USER)
        argv[n++] = "--user";
    argv[n++] = (char *)a1;
    if (a2)
        argv[n++] = (char *)a2;
    argv[n] = NULL;
    return cl__service_run(argv, out, cap);
}

int cl_service_unit_path(const struct cl_service_opts *o, char *out, size_t cap, char *err,
                         size_t errlen)
{
    const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
    int n;

    if (o->unit_dir)
        n = snprintf(out, cap, "%s/" CL_SERVICE_UNIT_NAME, o->unit_dir);
    else if (o->scope == CL_SERVICE_SYSTEM)
        n = snprintf(out, cap, "/etc/systemd/system/" CL_SERVICE_UNIT_NAME);
    else if (xdg && xdg[0] == '/')
        n = snprintf(out, cap, "%s/systemd/user/" CL_SERVICE_UNIT_NAME, xdg);
    else if (home && home[0] == '/')
        n = snprintf(out, cap, "%s/.config/systemd/user/" CL_SERVICE_UNIT_NAME, home);
    else
        return cl_seterr(err, errlen, CL_ENOTFOUND,
                         "neither XDG_CONFIG_HOME nor HOME is set: give --unit-dir");
    if (n < 0 || (size_t)n >= cap)
        return cl_seterr(err, errlen, CL_ELIMIT, "the unit's path is too long");
    return 0;
}

/* "path" quoted for a unit's ExecStart: \ and " escaped, % and $ doubled
 * (systemd's specifiers and variables). False if it holds a control
 * character or does not fit. */
static bool cl__service_quote(const char *in, char *out, size_t cap)
{
    size_t o = 0;
    if (cap < 3)
        return false;
    out[o++] = '"';
    for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
        const char *rep = NULL;
        char one[2] = {(char)*p, 0};
        if (*p < 0x20 || *p == 0x7f)
            return false;
        rep = *p == '\\' ? "\\\\" : *p == '"' ? "\\\"" : *p == '%' ? "%%" : *p == '$' ? "$$" : one;
        size_t n = strlen(rep);
        if (o + n + 2 > cap)
            return false;
        memcpy(out + o, rep, n);
        o += n;
    }
    out[o++] = '"';
    out[o] = 0;
    return true;
}

int cl_service_unit_text(const struct cl_service_opts *o, char *out, size_t cap, char *err,
                         size_t errlen)
{
    char exe[PATH_MAX * 2 + 3], config[PATH_MAX * 2 + 3], user[96] = "";
    const char *name;
    int n;

    if (!cl__service_quote(o->exe, exe, sizeof exe) ||
        !cl__service_quote(o->config, config, sizeof config))
        return cl_seterr(err, errlen, CL_EINVAL,
                         "a path with a control character cannot go into a unit");
    /* A system unit names its user, so systemd sets HOME, USER and SHELL
     * for the agent and its shells as a login would. */
    if (o->scope == CL_SERVICE_SYSTEM) {
        name = cl__service_user_name();
        if (!name ||
            strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                         "_.-") != strlen(name) ||
            strlen(name) > 64)
            return cl_seterr(err, errlen, CL_EINVAL, "cannot name the user to run the unit as");
        snprintf(user, sizeof user, "User=%s\n", name);
    }
    n = snprintf(out, cap,
                 "# Written by `clawlink service install` (clawlink " CL_VERSION "):\n"
                 "# `clawlink service uninstall` removes it. The agent connects out to its\n"
                 "# relay and serves terminal sessions; see `clawlink status`.\n"
                 "[Unit]\n"
                 "Description=clawlink agent\n"
                 "Wants=network-online.target\n"
                 "After=network-online.target\n"
                 "\n"
                 "[Service]\n"
                 "Type=simple\n"
                 "%s"
                 "ExecStart=%s up --config %s\n"
                 "Restart=always\n"
                 "RestartSec=2\n"
                 "KillSignal=SIGTERM\n"
                 "\n"
                 "[Install]\n"
                 "WantedBy=%s\n",
                 user, exe, config,
                 o->scope == CL_SERVICE_SYSTEM ? "multi-user.target" : "default.target");
    if (n < 0 || (size_t)n >= cap)
        return cl_seterr(err, errlen, CL_ELIMIT, "the unit does not fit %zu bytes", cap);
    return 0;
}

static bool cl__service_owner_ok(uid_t uid, bool system)
{
    return uid == 0 || (!system && uid == geteuid());
}

int cl_service_check_exe(const char *exe, bool system, char *err, size_t errlen)
{
    char path[PATH_MAX];
    struct stat sb;
    const char *who = system ? "root" : "root or you";

    if (!realpath(exe, path))
        return cl_seterr(err, errlen, CL_ENOTFOUND, "cannot find %s: %s", exe, strerror(errno));
    if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
        return cl_seterr(err, errlen, CL_ENOTFOUND, "%s is not a file", path);
    if (!cl__service_owner_ok(sb.st_uid, system))
        return cl_seterr(err, errlen, CL_EFORBIDDEN, "%s belongs to uid %u, not to %s", path,
                         (unsigned)sb.st_uid, who);
    if (sb.st_mode & 022)
        return cl_seterr(err, errlen, CL_EFORBIDDEN, "%s can be written by other users (mode %04o)",
                         path, (unsigned)(sb.st_mode & 07777));
    /* Each directory above: whoever may write it may swap what is in it. */
    return cl_agent_check_dirs(path, system, err, errlen);
}

/* mkdir -p for the directory holding path (mode 0755 for what it makes). */
static int cl__service_mkdirs(const char *path, char *err, size_t errlen)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir)
        return 0;
    *slash = 0;
    for (char *p = dir + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir(dir, 0755) != 0 && errno != EEXIST)
            return cl_seterr(err, errlen, CL_EIO, "cannot create %s: %s", dir, strerror(errno));
        *p = '/';
    }
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return cl_seterr(err, errlen, CL_EIO, "cannot create %s: %s", dir, strerror(errno));
    return 0;
}

/* Writes text to path through a temporary file and a rename, mode 0644. */
static int cl__service_write(const char *path, const char *text, char *err, size_t errlen)
{
    char tmp[PATH_MAX];
    size_t len = strlen(text), off = 0;
    int fd;

    if (snprintf(tmp, sizeof tmp, "%s.XXXXXX", path) >= (int)sizeof tmp)
        return cl_seterr(err, errlen, CL_ELIMIT, "the unit's path is too long");
    fd = mkstemp(tmp);
    if (fd < 0)
        return cl_seterr(err, errlen, CL_EIO, "cannot write %s: %s", tmp, strerror(errno));
    while (off < len) {
        ssize_t n = write(fd, text + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            goto out_unlink;
        off += (size_t)n;
    }
    if (fchmod(fd, 0644) != 0 || fsync(fd) != 0)
        goto out_unlink;
    close(fd);
    if (rename(tmp, path) != 0) {
        unlink(tmp);
        return cl_seterr(err, errlen, CL_EIO, "cannot write %s: %s", path, strerror(errno));
    }
    return 0;

out_unlink:
    cl_seterr(err, errlen, CL_EIO, "cannot write %s: %s", tmp, strerror(errno));
    close(fd);
    unlink(tmp);
    return CL_EIO;
}

/* A user unit without lingering stops when its user's last login ends. */
static void cl__service_linger(FILE *out)
{
    char path[PATH_MAX], why[CL__RUN_OUT_MAX];
    const char *user = cl__service_user_name();
    if (!user)
        return;
    snprintf(path, sizeof path, "/var/lib/systemd/linger/%s", user);
    if (access(path, F_OK) == 0)
        return;
    char *argv[] = {"loginctl", "enable-linger", (char *)user, NULL};
    if (cl__service_run(argv, why, sizeof why) == 0)
        fprintf(out, "Lingering on for %s: the agent runs without a login session.\n", user);
    else
        fprintf(out,
                "Note: lingering is off for %s (%s), so the agent stops when you log out.\n"
                "      As root: loginctl enable-linger %s\n",
                user, why[0] ? why : "loginctl failed", user);
}

int cl_service_install(const struct cl_service_opts *o, FILE *out, char *err, size_t errlen)
{
    struct cl_agent_config cfg;
    char unit[PATH_MAX], text[CL_SERVICE_UNIT_MAX], why[CL__RUN_OUT_MAX];
    const char *flag = o->scope == CL_SERVICE_USER ? " --user" : "";
    int rc;

    if (o->scope == CL_SERVICE_SYSTEM && geteuid() != 0)
        return cl_seterr(err, errlen, CL_EFORBIDDEN, "a system unit needs root (or use --user)");
    rc = cl_agent_config_load(o->config, &cfg, why, sizeof why);
    cl_agent_config_wipe(&cfg);
    if (rc)
        return cl_seterr(err, errlen, rc, "%s (pair first: clawlink pair CODE --api URL)", why);
    rc = cl_service_check_exe(o->exe, o->scope == CL_SERVICE_SYSTEM, why, sizeof why);
    if (rc)
        return cl_seterr(err, errlen, rc,
                         "refusing to make a service of it: %s. Install clawlink where only "
                         "you%s can write (e.g. %s)",
                         why, o->scope == CL_SERVICE_SYSTEM ? " as root" : " or root",
                         o->scope == CL_SERVICE_SYSTEM ? "/usr/local/bin" : "~/.local/bin");
    rc = cl_service_unit_path(o, unit, sizeof unit, err, errlen);
    if (rc)
        return rc;
    rc = cl_service_unit_text(o, text, sizeof text, err, errlen);
    if (rc)
        return rc;
    rc = cl__service_mkdirs(unit, err, errlen);
    if (rc)
        return rc;
    rc = cl__service_write(unit, text, err, errlen);
    if (rc)
        return rc;
    fprintf(out, "Wrote %s (a %s unit running %s up --config %s).\n", unit,
            o->scope == CL_SERVICE_SYSTEM ? "system" : "user", o->exe, o->config);

    if (o->no_start) {
        fprintf(out, "Not started (--no-start). Start it with: systemctl%s enable --now %s\n", flag,
                CL_SERVICE_UNIT_NAME);
        return 0;
    }
    if (!cl__service_systemd_running()) {
        fprintf(out,
                "systemd is not running on this machine, so nothing will start the unit.\n"
                "Run the agent yourself: %s up --config %s\n",
                o->exe, o->config);
        return 0;
    }
    if (cl__service_systemctl(o, "daemon-reload", NULL, why, sizeof why) != 0 ||
        cl__service_systemctl(o, "enable", CL_SERVICE_UNIT_NAME, why, sizeof why) != 0 ||
        cl__service_systemctl(o, "restart", CL_SERVICE_UNIT_NAME, why, sizeof why) != 0)
        return cl_seterr(err, errlen, CL_EIO, "the unit is written but systemctl%s failed: %s",
                         flag, why[0] ? why : "no reason given");
    if (o->scope == CL_SERVICE_USER)
        cl__service_linger(out);
    fprintf(out, "The agent is running and starts at boot. See: clawlink service status%s\n", flag);
    return 0;
}

int cl_service_uninstall(const struct cl_service_opts *o, FILE *out, char *err, size_t errlen)
{
    char unit[PATH_MAX], why[CL__RUN_OUT_MAX];
    int rc = cl_service_unit_path(o, unit, sizeof unit, err, errlen);
    if (rc)
        return rc;
    if (access(unit, F_OK) != 0) {
        fprintf(out, "No unit at %s: nothing to remove.\n", unit);
        return 0;
    }
    if (!o->no_start && cl__service_systemd_running()) {
        /* A unit that is not loaded cannot be disabled: that is fine. */
        if (cl__service_systemctl(o, "disable", CL_SERVICE_UNIT_NAME, why, sizeof why) == 0)
            fprintf(out, "Disabled %s.\n", CL_SERVICE_UNIT_NAME);
        if (cl__service_systemctl(o, "stop", CL_SERVICE_UNIT_NAME, why, sizeof why) == 0)
            fprintf(out, "Stopped the agent.\n");
    }
    if (unlink(unit) != 0)
        return cl_seterr(err, errlen, CL_EIO, "cannot remove %s: %s", unit, strerror(errno));
    fprintf(out, "Removed %s.\n", unit);
    if (!o->no_start && cl__service_systemd_running())
        cl__service_systemctl(o, "daemon-reload", NULL, why, sizeof why);
    return 0;
}

/* The ExecStart line of the unit at path, into line; false if none. */
static bool cl__service_exec_line(const char *path, char *line, size_t cap)
{
    char buf[CL_SERVICE_UNIT_MAX + 1];
    FILE *f = fopen(path, "re");
    bool found = false;
    if (!f)
        return false;
    while (!found && fgets(buf, sizeof buf, f)) {
        if (strncmp(buf, "ExecStart=", 10) != 0)
            continue;
        buf[strcspn(buf, "\n")] = 0;
        snprintf(line, cap, "%s", buf + 10);
        found = true;
    }
    fclose(f);
    return found;
}

bool cl_service_status(const struct cl_service_opts *o, FILE *out)
{
    char unit[PATH_MAX], err[256], line[PATH_MAX * 2], state[CL__RUN_OUT_MAX];
    if (cl_service_unit_path(o, unit, sizeof unit, err, sizeof err) != 0) {
        fprintf(out, "service:  unknown (%s)\n", err);
        return false;
    }
    if (access(unit, F_OK) != 0) {
        fprintf(out, "service:  not installed (no %s unit at %s; clawlink service install)\n",
                o->scope == CL_SERVICE_SYSTEM ? "system" : "user", unit);
        return false;
    }
    fprintf(out, "service:  %s unit %s\n", o->scope == CL_SERVICE_SYSTEM ? "system" : "user", unit);
    if (cl__service_exec_line(unit, line, sizeof line))
        fprintf(out, "runs:     %s\n", line);
    if (!cl__service_systemd_running()) {
        fprintf(out, "systemd:  not running on this machine: nothing starts the unit\n");
        return true;
    }
    cl__service_systemctl(o, "is-enabled", CL_SERVICE_UNIT_NAME, state, sizeof state);
    fprintf(out, "enabled:  %s\n", state[0] ? state : "unknown");
    cl__service_systemctl(o, "is-active", CL_SERVICE_UNIT_NAME, state, sizeof state);
    fprintf(out, "active:   %s\n", state[0] ? state : "unknown");
    if (o->scope == CL_SERVICE_USER) {
        const char *user = cl__service_user_name();
        char linger[PATH_MAX];
        snprintf(linger, sizeof linger, "/var/lib/systemd/linger/%s", user ? user : "");
        fprintf(out, "linger:   %s\n",
                user && access(linger, F_OK) == 0
                    ? "on (runs without a login)"
                    : "off (stops when you log out; as root: loginctl enable-linger USER)");
    }
    return true;
}

/* rig: temp dir, relay, real agent, API (see rig.h). */
#include "rig.h"
#include "procstat.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

static int rig__write(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    size_t n = strlen(text);
    if (fd < 0)
        return -errno;
    if (write(fd, text, n) != (ssize_t)n) {
        int e = errno;
        close(fd);
        return -e;
    }
    return close(fd) ? -errno : 0;
}

/* Does `clawlink up --help` mention --proto? */
static bool rig__agent_has_proto(const char *bin)
{
    char cmd[RIG_PATH_MAX + 64], line[512];
    bool found = false;
    FILE *f;
    snprintf(cmd, sizeof cmd, "'%s' --help 2>&1", bin);
    f = popen(cmd, "r");
    if (!f)
        return false;
    while (fgets(line, sizeof line, f))
        if (strstr(line, "--proto"))
            found = true;
    pclose(f);
    return found;
}

int rig_init(struct rig *r, const char *bin_dir, size_t ndev, char *err, size_t errlen)
{
    static const char *bashrc = "PS1='$ '\nPS2='> '\nunset PROMPT_COMMAND\nHISTFILE=/dev/null\n";
    static const char *inputrc = "set enable-bracketed-paste off\nset bell-style none\n";
    static const char *profile = ". \"$HOME/.bashrc\"\n";
    char path[RIG_PATH_MAX + 32], abs_bin[PATH_MAX];
    int rc;

    memset(r, 0, sizeof *r);
    snprintf(r->dir, sizeof r->dir, "%s/clawlink-bench-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(r->dir)) {
        snprintf(err, errlen, "mkdtemp: %s", strerror(errno));
        return -errno;
    }
    snprintf(r->data, sizeof r->data, "%s/data", r->dir);
    snprintf(r->home, sizeof r->home, "%s/home", r->dir);
    if (mkdir(r->data, 0700) || mkdir(r->home, 0700)) {
        snprintf(err, errlen, "mkdir: %s", strerror(errno));
        return -errno;
    }
    /* children run elsewhere (cwd = the temp dir): absolute paths */
    if (!realpath(bin_dir, abs_bin)) {
        snprintf(err, errlen, "%s: %s", bin_dir, strerror(errno));
        return -errno;
    }
    snprintf(r->relay_bin, sizeof r->relay_bin, "%.400s/clawlink-relay", abs_bin);
    snprintf(r->agent_bin, sizeof r->agent_bin, "%.400s/clawlink", abs_bin);
    if (access(r->relay_bin, X_OK) || access(r->agent_bin, X_OK)) {
        snprintf(err, errlen, "%s or %s is missing (build first)", r->relay_bin, r->agent_bin);
        return -ENOENT;
    }
    r->agent_has_proto_flag = rig__agent_has_proto(r->agent_bin);

    snprintf(path, sizeof path, "%s/.bashrc", r->home);
    rc = rig__write(path, bashrc, 0600);
    snprintf(path, sizeof path, "%s/.inputrc", r->home);
    rc = rc ? rc : rig__write(path, inputrc, 0600);
    snprintf(path, sizeof path, "%s/.bash_profile", r->home);
    rc = rc ? rc : rig__write(path, profile, 0600);
    snprintf(path, sizeof path, "%s/.profile", r->home);
    rc = rc ? rc : rig__write(path, profile, 0600);
    if (rc) {
        snprintf(err, errlen, "writing rc files: %s", strerror(-rc));
        return rc;
    }
    return prov_create(&r->prov, r->data, ndev, err, errlen);
}

int rig_relay_start(struct rig *r, char *err, size_t errlen)
{
    char listen[64], url[64], logpath[RIG_PATH_MAX + 32], body[256];
    /* The storm connects thousands of agents from four addresses at once,
     * and one user opens a session on each of a hundred devices: far past
     * the caps a public relay needs (admission.h, start-session). */
    char *argv[] = {r->relay_bin,
                    "--listen",
                    listen,
                    "--data",
                    r->data,
                    "--public-url",
                    url,
                    /* 7 */ "--max-conns-per-addr",
                    "1000000",
                    "--max-unauth-per-addr",
                    "1000000",
                    "--max-sessions-per-user",
                    "1000000",
                    /* 13 */ NULL,
                    NULL,
                    NULL};
    double deadline;
    int rc, status;

    r->port = bh_free_port();
    if (r->port < 0) {
        snprintf(err, errlen, "no free port");
        return -EADDRINUSE;
    }
    if (getenv("CL_BENCH_DEBUG")) {
        argv[13] = "--log-level";
        argv[14] = "debug";
    }
    snprintf(listen, sizeof listen, "127.0.0.1:%d", r->port);
    snprintf(url, sizeof url, "http://127.0.0.1:%d", r->port);
    snprintf(logpath, sizeof logpath, "%s/relay-%d.log", r->dir, ++r->relay_runs);
    memset(&r->addr, 0, sizeof r->addr);
    r->addr.sin_family = AF_INET;
    r->addr.sin_port = htons((uint16_t)r->port);
    r->addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    rc = bp_spawn(&r->relay, "relay", argv, NULL, r->dir, logpath);
    if (rc) {
        snprintf(err, errlen, "spawn %s: %s", r->relay_bin, strerror(-rc));
        return rc;
    }
    deadline = ps_now_s() + 10;
    while (ps_now_s() < deadline) {
        if (!bp_alive(&r->relay)) {
            bp_log_tail(&r->relay, 20);
            snprintf(err, errlen, "the relay exited during start-up");
            return -ECHILD;
        }
        if (bh_request(&r->addr, "GET", "/healthz", NULL, NULL, &status, body, sizeof body, 1000) ==
                0 &&
            status == 200)
            return 0;
        usleep(20000);
    }
    snprintf(err, errlen, "the relay did not answer /healthz within 10 s");
    bp_stop(&r->relay, 2000);
    return -ETIMEDOUT;
}

void rig_relay_stop(struct rig *r)
{
    bp_stop(&r->relay, 5000);
}

int rig_agent_start(struct rig *r, int proto, char *err, size_t errlen)
{
    char cfg[RIG_PATH_MAX + 32], logpath[RIG_PATH_MAX + 32], text[512], protos[8];
    char env_home[RIG_PATH_MAX + 8], env_inputrc[RIG_PATH_MAX + 32];
    char *argv[18] = {r->agent_bin, "up", "--config", cfg, "--shell", "/bin/bash", NULL};
    int argc = 6;
    char *envp[] = {env_home,
                    "SHELL=/bin/bash",
                    "TERM=xterm-256color",
                    "LANG=C.UTF-8",
                    env_inputrc,
                    "PATH=/usr/local/bin:/usr/bin:/bin",
                    NULL};
    int rc;

    snprintf(cfg, sizeof cfg, "%s/agent.json", r->home);
    snprintf(logpath, sizeof logpath, "%s/agent.log", r->dir);
    snprintf(env_home, sizeof env_home, "HOME=%s", r->home);
    snprintf(env_inputrc, sizeof env_inputrc, "INPUTRC=%s/.inputrc", r->home);
    snprintf(text, sizeof text,
             "{\"device_id\":\"%s\",\"token\":\"%s\",\"relay_url\":\"ws://127.0.0.1:%d\","
             "\"name\":\"bench\"}\n",
             r->prov.dev[0].id, r->prov.dev[0].token, r->agent_port ? r->agent_port : r->port);
    rc = rig__write(cfg, text, 0600);
    if (rc) {
        snprintf(err, errlen, "writing %s: %s", cfg, strerror(-rc));
        return rc;
    }
    if (r->agent_has_proto_flag) {
        snprintf(protos, sizeof protos, "%d", proto);
        argv[argc++] = "--proto";
        argv[argc++] = protos;
    }
    if (getenv("CL_BENCH_DEBUG")) {
        argv[argc++] = "--log-level";
        argv[argc++] = "debug";
    }
    for (int i = 0; i < 4 && r->agent_args[i]; i++)
        argv[argc++] = (char *)r->agent_args[i];
    rc = bp_spawn(&r->agent, "agent", argv, envp, r->home, logpath);
    if (rc)
        snprintf(err, errlen, "spawn %s: %s", r->agent_bin, strerror(-rc));
    return rc;
}

void rig_agent_stop(struct rig *r)
{
    bp_stop(&r->agent, 5000);
}

int rig_wait_online(struct rig *r, size_t dev, int timeout_ms)
{
    char resp[4096]; /* device 0 is alone in its project */
    char path[128];
    double deadline = ps_now_s() + timeout_ms / 1000.0;
    int status;

    snprintf(path, sizeof path, "/api/v1/projects/%s/devices", r->prov.project_id);
    while (ps_now_s() < deadline) {
        if (bh_request(&r->addr, "GET", path, r->prov.user_token, NULL, &status, resp, sizeof resp,
                       5000) == 0 &&
            status == 200) {
            /* devices are listed oldest first: device 0 leads the list */
            json_t *o = json_loads(resp, JSON_DISABLE_EOF_CHECK, NULL);
            json_t *devs = json_object_get(o, "devices");
            bool online = false;
            for (size_t i = 0; i < json_array_size(devs); i++) {
                json_t *d = json_array_get(devs, i);
                const char *id = json_string_value(json_object_get(d, "id"));
                const char *st = json_string_value(json_object_get(d, "status"));
                if (id && strcmp(id, r->prov.dev[dev].id) == 0)
                    online = st && strcmp(st, "online") == 0;
            }
            json_decref(o);
            if (online)
                return 0;
        }
        usleep(20000);
    }
    return -ETIMEDOUT;
}

int rig_session_new(struct rig *r, size_t dev, char sid[65], int timeout_ms, char *err,
                    size_t errlen)
{
    char body[128], resp[1024];
    double deadline = ps_now_s() + timeout_ms / 1000.0;
    int status = 0, rc;

    snprintf(body, sizeof body, "{\"device_id\":\"%s\"}", r->prov.dev[dev].id);
    for (;;) {
        rc = bh_request(&r->addr, "POST", "/functions/v1/start-session", r->prov.user_token, body,
                        &status, resp, sizeof resp, 5000);
        if (rc == 0 && status == 200) {
            json_t *o = json_loads(resp, 0, NULL);
            const char *s = json_string_value(json_object_get(o, "session_id"));
            rc = s && strlen(s) <= 64 ? 0 : -EPROTO;
            if (!rc)
                snprintf(sid, 65, "%s", s);
            else
                snprintf(err, errlen, "start-session: unexpected answer %.200s", resp);
            json_decref(o);
            return rc;
        }
        if (ps_now_s() > deadline || (rc == 0 && status != 409)) {
            snprintf(err, errlen, "start-session: %s status %d %.200s", rc ? strerror(-rc) : "HTTP",
                     status, resp);
            return rc ? rc : -EPROTO;
        }
        usleep(20000);
    }
}

void rig_perf_start(struct rig *r, const char *tag)
{
    const char *dir = getenv("CL_BENCH_PERF");
    char out[RIG_PATH_MAX], pids[64], logpath[RIG_PATH_MAX + 32];
    char *argv[] = {
        "/usr/bin/perf", "record", "-q", "-F", "1999", "-g", "-p", pids, "-o", out, NULL};
    if (!dir || !*dir || r->relay.pid <= 0)
        return;
    snprintf(out, sizeof out, "%.400s/%.60s.data", dir, tag);
    if (r->agent.pid > 0)
        snprintf(pids, sizeof pids, "%d,%d", (int)r->relay.pid, (int)r->agent.pid);
    else
        snprintf(pids, sizeof pids, "%d", (int)r->relay.pid);
    snprintf(logpath, sizeof logpath, "%s/perf.log", r->dir);
    if (bp_spawn(&r->perf, "perf", argv, NULL, NULL, logpath) == 0)
        usleep(200000); /* perf attaches asynchronously */
}

void rig_perf_stop(struct rig *r)
{
    if (r->perf.pid <= 0)
        return;
    kill(r->perf.pid, SIGINT); /* perf writes its data on SIGINT */
    waitpid(r->perf.pid, NULL, 0);
    r->perf.pid = 0;
}

static int rig__rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void rig_free(struct rig *r)
{
    rig_perf_stop(r);
    rig_agent_stop(r);
    rig_relay_stop(r);
    if (r->dir[0] && !getenv("CL_BENCH_KEEP"))
        nftw(r->dir, rig__rm, 16, FTW_DEPTH | FTW_PHYS);
    else if (r->dir[0])
        fprintf(stderr, "bench: kept %s (CL_BENCH_KEEP)\n", r->dir);
    prov_free(&r->prov);
}

int rig_text_file(const char *path, size_t size)
{
    static const char words[] = "the quick brown fox jumps over the lazy dog 0123456789 "
                                "pack my box with five dozen liquor jugs ";
    char line[81];
    size_t done = 0, w = 0;
    unsigned seed = 12345;
    FILE *f = fopen(path, "we");
    if (!f)
        return -errno;
    while (done < size) {
        size_t n = size - done < sizeof line ? size - done : sizeof line;
        for (size_t i = 0; i + 1 < n; i++) {
            seed = seed * 1103515245u + 12345u;
            line[i] = words[(w + (seed >> 16) % 7) % (sizeof words - 1)];
            w++;
        }
        line[n - 1] = '\n';
        if (fwrite(line, 1, n, f) != n) {
            fclose(f);
            return -EIO;
        }
        done += n;
    }
    return fclose(f) ? -errno : 0;
}

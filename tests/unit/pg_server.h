/*
 * A throwaway PostgreSQL server for the unit tests that need one
 * (test_store_contract.c's postgres factory, test_store_pg.c): Debian's
 * binaries (/usr/lib/postgresql/<v>/bin, or $CL_PG_BINDIR), initdb into a
 * temporary directory of its own, listening on a unix socket there and on
 * a free loopback port, stopped and removed at exit. Without the binaries
 * the caller FAILS, saying to run scripts/install-deps: these tests are
 * part of the suite, not optional. As root (CI containers) the server runs
 * as the `postgres` user the package creates (PostgreSQL refuses root).
 * Also test_agent_memory_pg.c's server. Not a test itself.
 */
#ifndef CL_TESTS_PG_SERVER_H
#define CL_TESTS_PG_SERVER_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static struct {
    char bindir[PATH_MAX];
    char dir[128]; /* socket directory; data/ and log inside */
    char url[512];
    int port;  /* 127.0.0.1:port, and the socket's name */
    uid_t uid; /* who runs the server */
    gid_t gid;
    bool as_other; /* root: the server runs as `postgres` */
    bool running;
} srv;

/* Runs bindir/prog with args (NULL-terminated) as the server's user,
 * output appended to dir/cmd.log. Returns its exit status (or -1). */
__attribute__((unused)) static int pg_run(const char *prog, const char *const *args)
{
    char path[PATH_MAX + 32], log[256];
    const char *argv[16];
    int n = 0, status;
    pid_t pid;

    snprintf(path, sizeof path, "%s/%s", srv.bindir, prog);
    snprintf(log, sizeof log, "%s/cmd.log", srv.dir);
    argv[n++] = path;
    for (int i = 0; args[i] && n < 15; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        if (srv.as_other &&
            (setgroups(0, NULL) != 0 || setgid(srv.gid) != 0 || setuid(srv.uid) != 0))
            _exit(126);
        execv(path, (char *const *)argv);
        _exit(127);
    }
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

__attribute__((unused)) static int pg_start(void)
{
    char data[256], log[256], opts[512];

    snprintf(data, sizeof data, "%s/data", srv.dir);
    snprintf(log, sizeof log, "%s/server.log", srv.dir);
    /* The socket in our own directory; TCP on loopback only, on a port
     * that was free (for the name-resolution case); no fsync for speed. */
    snprintf(opts, sizeof opts, "-c listen_addresses='127.0.0.1' -k %s -c fsync=off -p %d", srv.dir,
             srv.port);
    const char *args[] = {"-D", data, "-l", log, "-w", "-t", "60", "-o", opts, "start", NULL};
    if (pg_run("pg_ctl", args) != 0)
        return -1;
    srv.running = true;
    return 0;
}

__attribute__((unused)) static int pg_stop(void)
{
    char data[256];

    snprintf(data, sizeof data, "%s/data", srv.dir);
    const char *args[] = {"-D", data, "-m", "fast", "-w", "-t", "60", "stop", NULL};
    srv.running = false;
    return pg_run("pg_ctl", args);
}

__attribute__((unused)) static void rm_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        struct dirent *e;
        char child[PATH_MAX];
        while (d && (e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            snprintf(child, sizeof child, "%s/%s", path, e->d_name);
            rm_tree(child);
        }
        if (d)
            closedir(d);
        rmdir(path);
        return;
    }
    unlink(path);
}

__attribute__((unused)) static void pg_cleanup(void)
{
    if (srv.running)
        pg_stop();
    if (srv.dir[0])
        rm_tree(srv.dir);
    srv.dir[0] = 0;
}

/* Finds Debian's PostgreSQL binaries (the newest version). */
__attribute__((unused)) static int pg_find_bindir(void)
{
    const char *env = getenv("CL_PG_BINDIR");
    glob_t g;

    if (env && *env) {
        snprintf(srv.bindir, sizeof srv.bindir, "%s", env);
    } else {
        if (glob("/usr/lib/postgresql/*/bin/initdb", 0, NULL, &g) != 0 || g.gl_pathc == 0)
            return -1;
        /* glob sorts: the last is the highest version of equal length */
        snprintf(srv.bindir, sizeof srv.bindir, "%s", g.gl_pathv[g.gl_pathc - 1]);
        *strrchr(srv.bindir, '/') = 0;
        globfree(&g);
    }
    char p[PATH_MAX + 16];
    snprintf(p, sizeof p, "%s/postgres", srv.bindir);
    return access(p, X_OK) == 0 ? 0 : -1;
}

__attribute__((unused)) static void pg_show_log(const char *name)
{
    char path[256], line[512];
    snprintf(path, sizeof path, "%s/%s", srv.dir, name);
    FILE *f = fopen(path, "r");
    while (f && fgets(line, sizeof line, f))
        fprintf(stderr, "  %s: %s", name, line);
    if (f)
        fclose(f);
}

/* A TCP port nothing listens on right now (the kernel's pick). */
__attribute__((unused)) static int free_port(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

    if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
        port = ntohs(sa.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

/* Starts the server once (initdb + pg_ctl in a new temporary directory,
 * removed at exit): 0, or -1 with why on stderr. who names the test. */
__attribute__((unused)) static int pg_server_start(const char *who)
{
    char data[256];

    if (pg_find_bindir() != 0) {
        fprintf(stderr,
                "%s: PostgreSQL server binaries not found "
                "(/usr/lib/postgresql/*/bin/postgres, or $CL_PG_BINDIR): run "
                "scripts/install-deps (it installs Debian's postgresql)\n",
                who);
        return -1;
    }
    srv.uid = getuid();
    srv.gid = getgid();
    if (geteuid() == 0) {
        struct passwd *pw = getpwnam("postgres");
        if (!pw) {
            fprintf(stderr,
                    "%s: running as root, and PostgreSQL refuses "
                    "root: no `postgres` user to run it as (run scripts/install-deps)\n",
                    who);
            return -1;
        }
        srv.uid = pw->pw_uid;
        srv.gid = pw->pw_gid;
        srv.as_other = true;
    }
    /* short: a unix socket path has about 100 bytes */
    snprintf(srv.dir, sizeof srv.dir, "/tmp/cl-pg-XXXXXX");
    if (!mkdtemp(srv.dir))
        return -1;
    if (chmod(srv.dir, 0755) != 0 || (srv.as_other && chown(srv.dir, srv.uid, srv.gid) != 0))
        return -1;
    atexit(pg_cleanup);
    snprintf(data, sizeof data, "%s/data", srv.dir);
    const char *args[] = {"-D", data,   "-A",         "trust", "-U", "postgres",
                          "-E", "UTF8", "--locale=C", "-N",    NULL};
    if (pg_run("initdb", args) != 0) {
        fprintf(stderr, "%s: initdb failed\n", who);
        pg_show_log("cmd.log");
        return -1;
    }
    srv.port = free_port();
    if (srv.port <= 0 || pg_start() != 0) {
        fprintf(stderr, "%s: the server did not start\n", who);
        pg_show_log("cmd.log");
        pg_show_log("server.log");
        return -1;
    }
    snprintf(srv.url, sizeof srv.url, "postgresql:///postgres?host=%s&port=%d&user=postgres",
             srv.dir, srv.port);
    return 0;
}

#endif

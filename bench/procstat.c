/* procstat: /proc readers (see procstat.h). */
#include "procstat.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

int64_t ps_status_bytes(pid_t pid, const char *field)
{
    char path[64], line[256];
    size_t fl = strlen(field);
    long long kb = -1;
    FILE *f;

    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    f = fopen(path, "re");
    if (!f)
        return -errno;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, field, fl) == 0 && line[fl] == ':' &&
            sscanf(line + fl + 1, "%lld kB", &kb) == 1)
            break;
    fclose(f);
    return kb < 0 ? -ENOENT : (int64_t)kb * 1024;
}

int64_t ps_rss_bytes(pid_t pid)
{
    return ps_status_bytes(pid, "VmRSS");
}

int64_t ps_anon_bytes(pid_t pid)
{
    char path[64], line[256];
    long long kb = -1;
    FILE *f;

    snprintf(path, sizeof path, "/proc/%d/smaps_rollup", (int)pid);
    f = fopen(path, "re");
    if (!f)
        return -errno;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "Anonymous: %lld kB", &kb) == 1)
            break;
    fclose(f);
    return kb < 0 ? -ENOENT : (int64_t)kb * 1024;
}

double ps_cpu_seconds(pid_t pid)
{
    char path[64], buf[1024], *p;
    unsigned long long ut, st;
    size_t n;
    FILE *f;

    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    f = fopen(path, "re");
    if (!f)
        return -1;
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    /* the command name may hold spaces and parentheses: skip past the last ')' */
    p = strrchr(buf, ')');
    if (!p)
        return -1;
    /* fields after ')': state(3) ... utime(14) stime(15) */
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

uint64_t ps_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

double ps_now_s(void)
{
    return (double)ps_now_ns() / 1e9;
}

void ps_machine_info(struct ps_machine *m)
{
    char line[512];
    struct utsname u;
    time_t now = time(NULL);
    struct tm tm;
    FILE *f;

    memset(m, 0, sizeof *m);
    snprintf(m->cpu_model, sizeof m->cpu_model, "unknown");
    f = fopen("/proc/cpuinfo", "re");
    if (f) {
        while (fgets(line, sizeof line, f)) {
            char *colon = strchr(line, ':');
            if (strncmp(line, "model name", 10) == 0 && colon) {
                colon += 2;
                colon[strcspn(colon, "\n")] = 0;
                snprintf(m->cpu_model, sizeof m->cpu_model, "%s", colon);
                break;
            }
        }
        fclose(f);
    }
    m->cores = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (uname(&u) == 0)
        snprintf(m->kernel, sizeof m->kernel, "%s %s %s", u.sysname, u.release, u.machine);
    gmtime_r(&now, &tm);
    strftime(m->date, sizeof m->date, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* log: logfmt lines on stderr, one write(2) per line so lines never interleave. */
#include "core/log.h"
#include "core/err.h"

#include <libwebsockets.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static enum cl_log_level cl__level = CL_LOG_INFO;

void cl_log_set_level(enum cl_log_level level)
{
    cl__level = level;
}

int cl_log_parse_level(const char *s, enum cl_log_level *out)
{
    static const char *names[] = {"debug", "info", "warn", "error"};
    for (int i = 0; i < 4; i++) {
        if (strcmp(s, names[i]) == 0) {
            *out = (enum cl_log_level)i;
            return 0;
        }
    }
    return CL_EINVAL;
}

__attribute__((format(printf, 4, 0))) static void
cl__vlog(enum cl_log_level level, const char *comp, const char *msg, const char *fmt, va_list ap)
{
    static const char *names[] = {"debug", "info", "warn", "error"};
    char line[2048];
    struct timespec ts;
    struct tm tm;
    size_t n;

    if (level < cl__level)
        return;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    n = strftime(line, sizeof line, "ts=%Y-%m-%dT%H:%M:%S", &tm);
    n += (size_t)snprintf(line + n, sizeof line - n, ".%03ldZ level=%s comp=%s msg=\"%s\"",
                          ts.tv_nsec / 1000000, names[level], comp, msg);
    if (fmt && *fmt && n < sizeof line - 2) {
        line[n++] = ' ';
        int w = vsnprintf(line + n, sizeof line - n, fmt, ap);
        if (w > 0)
            n += (size_t)w;
    }
    if (n > sizeof line - 2)
        n = sizeof line - 2;
    line[n++] = '\n';
    ssize_t wr = write(STDERR_FILENO, line, n);
    (void)wr;
}

void cl_log(enum cl_log_level level, const char *comp, const char *msg, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cl__vlog(level, comp, msg, fmt, ap);
    va_end(ap);
}

/* The same lws line again within CL__LWS_REPEAT_S is counted, not written:
 * lws 4.1 logs `accept: errno 24` on every wakeup of a listening socket it
 * cannot accept from, millions of lines a minute. */
#define CL__LWS_REPEAT_S 1.0

static void cl__lws_emit(int lws_level, const char *line)
{
    static char last[512];
    static double last_at = -1;
    static unsigned repeated;
    char clean[512];
    size_t i, j = 0;
    struct timespec ts;
    double now;
    enum cl_log_level lv = (lws_level & LLL_ERR) ? CL_LOG_WARN : CL_LOG_DEBUG;
    /* lws lines carry their own timestamp prefix and a trailing newline. */
    const char *p = strstr(line, "]: ");
    p = p ? p + 3 : line;
    for (i = 0; p[i] && j < sizeof clean - 1; i++)
        if (p[i] != '\n' && p[i] != '"')
            clean[j++] = p[i];
    clean[j] = 0;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    now = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
    if (last_at >= 0 && strcmp(clean, last) == 0 && now - last_at < CL__LWS_REPEAT_S) {
        repeated++;
        return;
    }
    if (repeated)
        cl_log(lv, "lws", "the line before repeated", "times=%u", repeated);
    repeated = 0;
    last_at = now;
    memcpy(last, clean, sizeof last);
    cl_log(lv, "lws", clean, "%s", "");
}

void cl_log_hook_lws(void)
{
    lws_set_log_level(LLL_ERR | LLL_WARN, cl__lws_emit);
}

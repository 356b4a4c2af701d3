/*
 * log: structured log lines (logfmt) to stderr.
 *
 *   ts=2026-11-21T05:55:00.123Z level=info comp=hub msg="agent online" device=...
 *
 * The message is free text; callers append key=value pairs in fmt. Never
 * pass a secret (token, password, pairing code) to these functions.
 */
#ifndef CL_LOG_H
#define CL_LOG_H

enum cl_log_level { CL_LOG_DEBUG = 0, CL_LOG_INFO = 1, CL_LOG_WARN = 2, CL_LOG_ERROR = 3 };

void cl_log_set_level(enum cl_log_level level);
/* Parses "debug" | "info" | "warn" | "error"; returns 0 or CL_EINVAL. */
int cl_log_parse_level(const char *s, enum cl_log_level *out);

/* comp: short component name; msg: a fixed message; fmt: "key=%s key2=%d". */
void cl_log(enum cl_log_level level, const char *comp, const char *msg, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define cl_debug(comp, msg, ...) cl_log(CL_LOG_DEBUG, comp, msg, __VA_ARGS__)
#define cl_info(comp, msg, ...)  cl_log(CL_LOG_INFO, comp, msg, __VA_ARGS__)
#define cl_warn(comp, msg, ...)  cl_log(CL_LOG_WARN, comp, msg, __VA_ARGS__)
#define cl_error(comp, msg, ...) cl_log(CL_LOG_ERROR, comp, msg, __VA_ARGS__)

/* Routes libwebsockets' own log lines through cl_log (as comp=lws). */
void cl_log_hook_lws(void);

#endif

/* shellenv: a login's environment for each session's shell, not the agent's. */
#include "agent/shellenv.h"
#include "core/err.h"

#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Passed on when the agent has them. */
static const char *const cl__shellenv_keep[] = {
    "HOME",
    "USER",
    "LOGNAME",
    "PATH",
    "LANG",
    "LANGUAGE",
    "TZ",
    "TMPDIR",
    "XDG_RUNTIME_DIR",
    "DBUS_SESSION_BUS_ADDRESS",
};
/* Never, whatever --pass-env says. */
static const char *const cl__shellenv_never[] = {"OPENCLAW_GATEWAY_TOKEN"};

#define CL__SHELLENV_DEFAULT_PATH "/usr/local/bin:/usr/bin:/bin"

/* "NAME=value" of env whose NAME is name (len bytes), or NULL. */
static const char *cl__shellenv_find(char *const *env, const char *name, size_t len)
{
    for (size_t i = 0; env && env[i]; i++)
        if (strncmp(env[i], name, len) == 0 && env[i][len] == '=')
            return env[i];
    return NULL;
}

const char *cl_shellenv_get(char *const *envp, const char *name)
{
    const char *e = cl__shellenv_find(envp, name, strlen(name));
    return e ? e + strlen(name) + 1 : NULL;
}

static bool cl__shellenv_name_ok(const char *p, size_t n)
{
    if (n == 0 || n > CL_AGENT_PASS_ENV_NAME_MAX || (p[0] >= '0' && p[0] <= '9'))
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_'))
            return false;
    }
    return true;
}

int cl_shellenv_check_pass(const char *pass, char *err, size_t errlen)
{
    size_t count = 0;
    if (!pass)
        return 0;
    for (const char *p = pass;;) {
        size_t n = strcspn(p, ",");
        if (!cl__shellenv_name_ok(p, n))
            return cl_seterr(err, errlen, CL_EINVAL,
                             "'%.*s' is not a variable name (letters, digits and _, at most %d)",
                             (int)(n > 64 ? 64 : n), p, CL_AGENT_PASS_ENV_NAME_MAX);
        for (size_t k = 0; k < sizeof cl__shellenv_never / sizeof cl__shellenv_never[0]; k++)
            if (strlen(cl__shellenv_never[k]) == n && strncmp(p, cl__shellenv_never[k], n) == 0)
                return cl_seterr(err, errlen, CL_EINVAL,
                                 "%s is never passed to a shell: it is the gateway's secret",
                                 cl__shellenv_never[k]);
        if (++count > CL_AGENT_PASS_ENV_MAX)
            return cl_seterr(err, errlen, CL_ELIMIT, "at most %d names", CL_AGENT_PASS_ENV_MAX);
        if (!p[n])
            break;
        p += n + 1;
    }
    return 0;
}

/* Appends "name=value" (value NULL: the whole string entry) to out. */
static void cl__shellenv_add(char **out, size_t *n, const char *entry)
{
    out[*n] = strdup(entry);
    if (!out[*n])
        abort();
    (*n)++;
}

static void cl__shellenv_set(char **out, size_t *n, const char *name, const char *value)
{
    size_t len = strlen(name) + strlen(value) + 2;
    char *e = malloc(len);
    if (!e)
        abort();
    snprintf(e, len, "%s=%s", name, value);
    out[(*n)++] = e;
}

int cl_shellenv_build(const char *shell, const char *pass, char *const *env, char ***out, char *err,
                      size_t errlen)
{
    size_t cap = 0, n = 0;
    struct passwd *pw = getpwuid(getuid());
    char **e;
    int rc = cl_shellenv_check_pass(pass, err, errlen);

    if (rc)
        return rc;
    for (size_t i = 0; env && env[i]; i++)
        cap++;
    cap += sizeof cl__shellenv_keep / sizeof cl__shellenv_keep[0] + 8;
    e = calloc(cap + 1, sizeof *e);
    if (!e)
        abort();
    for (size_t k = 0; k < sizeof cl__shellenv_keep / sizeof cl__shellenv_keep[0]; k++) {
        const char *v = cl__shellenv_find(env, cl__shellenv_keep[k], strlen(cl__shellenv_keep[k]));
        if (v)
            cl__shellenv_add(e, &n, v);
    }
    /* the locale's categories, whichever the agent has */
    for (size_t i = 0; env && env[i]; i++)
        if (strncmp(env[i], "LC_", 3) == 0 && strchr(env[i], '=') &&
            cl__shellenv_name_ok(env[i], (size_t)(strchr(env[i], '=') - env[i])))
            cl__shellenv_add(e, &n, env[i]);
    for (const char *p = pass; p && *p;) {
        size_t len = strcspn(p, ",");
        const char *v = cl__shellenv_find(env, p, len);
        bool ours = (len == 5 && strncmp(p, "SHELL", 5) == 0) ||
                    (len == 4 && strncmp(p, "TERM", 4) == 0) ||
                    (len == 9 && strncmp(p, "COLORTERM", 9) == 0);
        if (v && !ours && !cl__shellenv_find(e, p, len))
            cl__shellenv_add(e, &n, v);
        p += len + (p[len] ? 1 : 0);
    }
    if (!cl_shellenv_get(e, "HOME") && pw && pw->pw_dir)
        cl__shellenv_set(e, &n, "HOME", pw->pw_dir);
    if (!cl_shellenv_get(e, "USER") && pw && pw->pw_name)
        cl__shellenv_set(e, &n, "USER", pw->pw_name);
    if (!cl_shellenv_get(e, "LOGNAME") && pw && pw->pw_name)
        cl__shellenv_set(e, &n, "LOGNAME", pw->pw_name);
    if (!cl_shellenv_get(e, "PATH"))
        cl__shellenv_set(e, &n, "PATH", CL__SHELLENV_DEFAULT_PATH);
    cl__shellenv_set(e, &n, "SHELL", shell);
    cl__shellenv_set(e, &n, "TERM", "xterm-256color");
    cl__shellenv_set(e, &n, "COLORTERM", "truecolor");
    e[n] = NULL;
    *out = e;
    return 0;
}

void cl_shellenv_free(char **envp)
{
    for (size_t i = 0; envp && envp[i]; i++)
        free(envp[i]);
    free(envp);
}

/*
 * shellenv: the environment a session's shell starts with.
 *
 * Not the agent's own: that may hold the OpenClaw gateway's token
 * (OPENCLAW_GATEWAY_TOKEN) and whatever the service manager or the person
 * who started the agent had set. A shell gets what a login would give it
 * (sshd and login(1) do the same): HOME, USER, LOGNAME, PATH, the locale
 * (LANG, LANGUAGE, LC_*), TZ, TMPDIR, XDG_RUNTIME_DIR and
 * DBUS_SESSION_BUS_ADDRESS when the agent has them; SHELL set to the
 * shell, TERM=xterm-256color and COLORTERM=truecolor (what the web
 * terminal is). `clawlink up --pass-env A,B` passes more by name; the
 * gateway's token never. Built in the parent, before fork, so the child
 * only calls execve.
 */
#ifndef CL_AGENT_SHELLENV_H
#define CL_AGENT_SHELLENV_H

#include <stddef.h>

/* Names --pass-env may list, and the longest one. */
#define CL_AGENT_PASS_ENV_MAX      32
#define CL_AGENT_PASS_ENV_NAME_MAX 64

/* Checks a --pass-env list ("A,B,C": names of letters, digits and '_', not
 * starting with a digit). 0, or CL_EINVAL / CL_ELIMIT with err. */
int cl_shellenv_check_pass(const char *pass, char *err, size_t errlen);

/* A NULL-terminated environment for shell from env (the agent's: environ)
 * and the --pass-env list pass (NULL: none). The caller frees it with
 * cl_shellenv_free. 0, or a CL_E* code with err. */
int cl_shellenv_build(const char *shell, const char *pass, char *const *env, char ***out, char *err,
                      size_t errlen);
void cl_shellenv_free(char **envp);

/* The value of name in envp, or NULL. */
const char *cl_shellenv_get(char *const *envp, const char *name);

#endif

/*
 * audit: `clawlink audit [--deep] [--fix] [--json]` — is this machine's
 * clawlink agent, and the OpenClaw gateway beside it, set up safely?
 *
 * OpenClaw answers that question for itself with `openclaw security audit`
 * (seed 003); this is the same for what clawlink adds: the agent's config
 * and device key, the relay URL, the capabilities the relay may use, the
 * environment shells get, the chat store; and, read from OpenClaw's own
 * files, the gateway's bind address, auth, file modes, log redaction and
 * exec approvals. Each finding has a stable id, a severity (critical,
 * warn, info), what it means in seed 003's trust model (one trusted
 * operator per gateway; through clawlink every member of the device's
 * project reaches that operator boundary) and how to fix it.
 *
 * --deep probes live: the relay's certificate and HSTS, and whether the
 * gateway refuses a connection without a token. --fix applies only safe
 * fixes — it clears group/other permission bits of files and directories
 * the caller owns, never follows a symbolic link, never edits a config and
 * never restarts anything — and marks each finding it fixed. Schema of
 * --json and the list of checks: docs/audit.md.
 */
#ifndef CL_AGENT_AUDIT_H
#define CL_AGENT_AUDIT_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* The --json schema's version; bumped only when a field changes meaning
 * or goes away (new fields and new ids do not bump it). */
#define CL_AUDIT_SCHEMA_VERSION 1
/* A finding's detail and fix texts; longer ones are cut. */
#define CL_AUDIT_TEXT_MAX 1024
/* Directories above one file reported at most (a path is not deeper). */
#define CL_AUDIT_DIRS_MAX 64
/* OpenClaw's own threshold for a short gateway token or password
 * (gateway.token_too_short). */
#define CL_AUDIT_TOKEN_MIN 24
/* Fewer distinct characters than this make a token weak whatever its
 * length ("aaaa…", "1212…"). */
#define CL_AUDIT_TOKEN_MIN_DISTINCT 10
/* Each live probe (--deep) gives up after this long. */
#define CL_AUDIT_PROBE_TIMEOUT_S 5

enum cl_audit_severity { CL_AUDIT_INFO, CL_AUDIT_WARN, CL_AUDIT_CRITICAL };

struct cl_audit_finding {
    char id[64];
    enum cl_audit_severity severity;
    char title[160];
    char detail[CL_AUDIT_TEXT_MAX]; /* what was found and what it means */
    char fix[CL_AUDIT_TEXT_MAX];    /* how to fix it ("" when nothing to do) */
    bool fixed;                     /* --fix fixed it */
    /* The safe fix --fix may apply: clear fix_clear's permission bits of
     * fix_path (a directory when fix_dir). fix_clear 0: none. */
    char fix_path[PATH_MAX];
    unsigned fix_clear;
    bool fix_dir;
};

struct cl_audit {
    struct cl_audit_finding *items;
    size_t count, cap;
};

struct cl_audit_opts {
    const char *config_path; /* the agent config (the default path if NULL) */
    const char *ca_file;     /* for the relay probe, as `up --ca-file` */
    const char *pass_env;    /* the --pass-env the agent runs with, or NULL */
    const char *shell;       /* the shell sessions run */
    char *const *env;        /* the agent's environment (environ) */
    bool deep;
};

void cl_audit_init(struct cl_audit *a);
void cl_audit_free(struct cl_audit *a);

/* Adds a finding (the detail is printf-formatted and cut to fit) and
 * returns it, for the caller to set a safe fix. Aborts on out of memory. */
struct cl_audit_finding *cl_audit_add(struct cl_audit *a, const char *id,
                                      enum cl_audit_severity sev, const char *title,
                                      const char *fix, const char *detail_fmt, ...)
    __attribute__((format(printf, 6, 7)));

/* The first finding with id, or NULL. */
const struct cl_audit_finding *cl_audit_find(const struct cl_audit *a, const char *id);

/* Findings of severity sev (all of them, or only those not fixed). */
size_t cl_audit_count(const struct cl_audit *a, enum cl_audit_severity sev, bool unfixed_only);

/* ---- the checks (each adds findings to a; pure where it can be) ------ */

/* A file that holds a secret (what): missing (info when !required), a
 * symbolic link, not a regular file, other users' permission bits (fixable),
 * another owner, and every directory above it that someone else could
 * write or that belongs to someone else (cl_agent_check_dirs_at; write
 * bits fixable when the directory is the caller's). Ids: idp + ".missing",
 * ".symlink", ".not_regular", ".perms_open", ".owner", ".parent_dir". */
void cl_audit_secret_file(struct cl_audit *a, const char *idp, const char *path, const char *what,
                          bool required);

/* A directory only its owner should use (mode 0700): a symbolic link,
 * other users' bits (sev; fixable), another owner. Nothing when it does
 * not exist. Ids: idp + ".symlink", ".perms_open", ".owner". */
void cl_audit_private_dir(struct cl_audit *a, const char *idp, const char *path,
                          enum cl_audit_severity sev, const char *what);

/* The relay URL: plain ws:// beyond loopback is critical. */
void cl_audit_relay_url(struct cl_audit *a, const char *url);

/* The PostgreSQL memory provider's connection string (url) from the
 * agent config at cfg_path, whose mode is cfg_mode: a password in a
 * config other users can read (critical), a password at all (info: a
 * ~/.pgpass keeps it out), notes kept on another machine (info), and
 * that machine reached without TLS required (warn). Never prints url. */
void cl_audit_memory_pg(struct cl_audit *a, const char *url, const char *cfg_path,
                        unsigned cfg_mode);

/* The capabilities the agent declares (CL_CAP_*), from caps_from;
 * exec_open: the gateway runs host exec without approval. */
void cl_audit_capabilities(struct cl_audit *a, unsigned caps, const char *caps_from,
                           bool exec_open);

/* True when an environment variable's name looks like it holds a secret
 * (TOKEN, SECRET, PASSWORD, PASSWD, API_KEY, PRIVATE_KEY, CREDENTIAL,
 * ACCESS_KEY, …, or ends in _KEY / _PAT / _AUTH). */
bool cl_audit_name_secret(const char *name);

/* The environment a shell gets (envp, as cl_shellenv_build makes it):
 * the gateway's token (critical), names that look like secrets (warn). */
void cl_audit_shell_env(struct cl_audit *a, char *const *envp, const char *pass);

enum cl_audit_token {
    CL_AUDIT_TOKEN_OK,
    CL_AUDIT_TOKEN_PLACEHOLDER, /* blank, "undefined", "null", an example value */
    CL_AUDIT_TOKEN_SHORT,       /* under CL_AUDIT_TOKEN_MIN characters */
    CL_AUDIT_TOKEN_WEAK,        /* under CL_AUDIT_TOKEN_MIN_DISTINCT distinct characters */
};
enum cl_audit_token cl_audit_token_strength(const char *tok);

/* What the OpenClaw config says, for the checks that combine files. */
struct cl_audit_oc {
    bool parsed;
    bool exposed;       /* gateway.bind beyond loopback */
    bool auth_none;     /* no working gateway auth */
    bool exec_explicit; /* tools.exec set to full somewhere */
    bool exec_set;      /* tools.exec restricted somewhere (not full/off) */
};

/* Checks an openclaw.json (text, len bytes; origin names it): bind, auth
 * mode and token/password strength, logging.redactSensitive, tools.exec.
 * Fills *oc. Text that is not plain JSON (OpenClaw also reads JSON5) is an
 * info finding and nothing else. */
void cl_audit_openclaw_config(struct cl_audit *a, const char *text, size_t len, const char *origin,
                              struct cl_audit_oc *oc);

/* Checks an exec approvals document (OpenClaw's exec_approvals_config row,
 * or a legacy exec-approvals.json): security "full" with ask "off",
 * askFallback "full", autoAllowSkills, in defaults and per agent. Sets
 * *explicit_full when it allows everything without asking. */
void cl_audit_exec_approvals(struct cl_audit *a, const char *text, size_t len, const char *origin,
                             bool *explicit_full);

/* ---- the whole audit -------------------------------------------------- */

/* Runs every check for o into a. Returns 0, or a CL_E* code with err when
 * the audit itself could not run (not a finding). */
int cl_audit_run(const struct cl_audit_opts *o, struct cl_audit *a, char *err, size_t errlen);

/* Applies each finding's safe fix (see struct cl_audit_finding), re-checking
 * before it acts that the path is still the caller's own file or directory
 * and not a symbolic link, and marks those it fixed. Writes one line per
 * fix to log (may be NULL). Returns how many it fixed. */
size_t cl_audit_apply_fixes(struct cl_audit *a, FILE *log);

/* The findings as text for a person, critical first. */
void cl_audit_print(const struct cl_audit *a, FILE *out, bool deep, bool fix);

/* The findings as the --json document (docs/audit.md), malloc'd; NULL on
 * out of memory. */
char *cl_audit_json(const struct cl_audit *a, bool deep, bool fix);

#endif

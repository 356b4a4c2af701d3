/*
 * config: the agent's identity on disk — device id, device token, relay URL
 * and name — as the JSON file `clawlink pair` writes and `clawlink up` reads.
 *
 * The file holds a bearer secret, so it is written atomically with mode 0600
 * in directories created 0700, and a file readable by group or others is
 * refused on load rather than silently used.
 */
#ifndef CL_AGENT_CONFIG_H
#define CL_AGENT_CONFIG_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/limits.h"

struct cl_agent_config {
    char device_id[CL_ID_MAX + 1];
    char token[CL_TOKEN_MAX + 1]; /* secret: never log, wipe when done */
    char relay_url[CL_URL_MAX + 1];
    char name[CL_NAME_MAX + 1]; /* may be empty */
};

/* Writes the default config path into out (cap bytes):
 * $XDG_CONFIG_HOME/clawlink/agent.json when XDG_CONFIG_HOME is an absolute
 * path, else ~/.config/clawlink/agent.json. Returns 0, or CL_ENOTFOUND when
 * no home directory is known, CL_ELIMIT when the path does not fit. */
int cl_agent_config_default_path(char *out, size_t cap, char *err, size_t errlen);

/* Checks every field: device_id a wire id (cl_proto_id_valid), token
 * 1..CL_TOKEN_MAX bytes, relay_url starting with ws:// or wss://. Returns 0
 * or CL_EINVAL with the offending field named in err. */
int cl_agent_config_validate(const struct cl_agent_config *cfg, char *err, size_t errlen);

/* Parses and validates config JSON held in buf (len bytes); origin names
 * it in messages. Returns 0 or CL_EINVAL; on failure *cfg is wiped. */
int cl_agent_config_parse(const char *buf, size_t len, const char *origin,
                          struct cl_agent_config *cfg, char *err, size_t errlen);

/* Reads and validates the config at path into *cfg. Refuses a file whose
 * mode has any group/other bit (CL_EFORBIDDEN, message names the path and
 * `chmod 600`). Returns 0, CL_ENOTFOUND (no such file), CL_EIO, CL_EINVAL
 * (malformed JSON or a bad field) or CL_EFORBIDDEN. On failure *cfg is
 * wiped. The caller wipes *cfg (cl_agent_config_wipe) when done. */
int cl_agent_config_load(const char *path, struct cl_agent_config *cfg, char *err, size_t errlen);

/* Validates *cfg and writes it to path atomically: missing parent
 * directories are created with mode 0700, the data goes to a temporary file
 * created O_EXCL with mode 0600, is fsync'ed and renamed over path. Returns
 * 0, CL_EINVAL or CL_EIO (message in err). */
int cl_agent_config_save(const char *path, const struct cl_agent_config *cfg, char *err,
                         size_t errlen);

/* Reads a file that holds a secret: refuses one whose mode has any
 * group/other bit (CL_EFORBIDDEN, the message says it holds `holds` and
 * names `chmod 600`), a symbolic link, a file of another user or one in a
 * directory others can write (CL_EFORBIDDEN: cl_agent_check_dirs), or
 * larger than max bytes (CL_EINVAL). On success
 * *out is a malloc'd NUL-terminated copy (wipe and free it). Returns 0,
 * CL_ENOTFOUND, CL_EIO, CL_EINVAL or CL_EFORBIDDEN with a message in err. */
int cl_agent_file_read_private(const char *path, size_t max, const char *holds, char **out,
                               size_t *out_len, char *err, size_t errlen);

/* True when url is plain ws:// or http:// to a host that is not loopback
 * (localhost, 127.0.0.0/8, [::1]): the device token and every keystroke
 * would cross a network unencrypted. */
bool cl_agent_url_insecure(const char *url);

/* Checks that nobody but root or the caller (root only when root_only) can
 * replace what is at path: each directory above it must be owned by one of
 * them and writable by nobody else, unless it is sticky (only an entry's
 * owner may rename or remove it: /tmp). Whoever could write such a
 * directory could swap the config for one naming their own relay, and
 * have the agent's shells. 0, or CL_EFORBIDDEN / CL_EIO with the
 * directory and why in err. */
int cl_agent_check_dirs(const char *path, bool root_only, char *err, size_t errlen);

/* cl_agent_check_dirs, also naming the offending directory in bad (badlen
 * bytes, may be NULL): what `clawlink audit --fix` may tighten. */
int cl_agent_check_dirs_at(const char *path, bool root_only, char *bad, size_t badlen, char *err,
                           size_t errlen);

/* The first thing wrong, in this order, with a file that holds a secret,
 * from its lstat (or fstat): a symbolic link, not a regular file, a mode
 * with any group/other bit, an owner other than the caller. The one rule
 * cl_agent_file_read_private refuses by and `clawlink audit` reports. */
enum cl_agent_file_flaw {
    CL_AGENT_FILE_OK,
    CL_AGENT_FILE_SYMLINK,
    CL_AGENT_FILE_NOT_REGULAR,
    CL_AGENT_FILE_OPEN_MODE,
    CL_AGENT_FILE_OTHER_OWNER,
};
struct stat;
enum cl_agent_file_flaw cl_agent_private_file_flaw(const struct stat *st);

/* mkdir -p of the directory part of path: the directories it creates get
 * mode 0700 (a umask only ever removes bits), existing ones are left as
 * they are. Returns 0, CL_ELIMIT (path too long) or CL_EIO with the
 * directory in err. Used for the config file and the chat store. */
int cl_agent_mkdirs(const char *path, char *err, size_t errlen);

/* Writes text (and a newline) to path atomically with mode 0600: missing
 * parent directories are created 0700, the data goes to a temporary file
 * created O_EXCL, is fsync'ed and renamed over path. Returns 0, CL_ELIMIT
 * or CL_EIO. */
int cl_agent_file_write_private(const char *path, const char *text, size_t len, char *err,
                                size_t errlen);

/* Writes root as indented JSON with cl_agent_file_write_private, then
 * wipes the string values of the keys named in secrets (NULL-terminated)
 * and the text, and releases root (always). Returns as
 * cl_agent_file_write_private, or CL_ENOMEM. */
int cl_agent_json_write_private(const char *path, json_t *root, const char *const *secrets,
                                char *err, size_t errlen);

/* Zeroes *cfg, token included. */
void cl_agent_config_wipe(struct cl_agent_config *cfg);

/* Which memory provider the chat bridge keeps its notes with (memory.h,
 * docs/chat.md "Memory providers"), from the agent config's
 * "memory_provider": "builtin" (the default: the chat store) or
 * "postgres" (memory_pg.h), whose connection string is "memory_pg_url"
 * or else $CLAWLINK_MEMORY_PG_URL. The string may hold a password: it is
 * a secret like the device token (the config is 0600), never logged and
 * never taken from the command line. */
enum cl_agent_memory_provider { CL_AGENT_MEMORY_BUILTIN, CL_AGENT_MEMORY_POSTGRES };

struct cl_agent_memory_config {
    enum cl_agent_memory_provider provider;
    char pg_url[CL_MEMORY_PG_URL_MAX + 1]; /* secret; "" with builtin */
    bool pg_url_from_env;                  /* it came from $CLAWLINK_MEMORY_PG_URL */
};

/* Reads the memory settings from config JSON held in buf (len bytes);
 * origin names it in messages. env_url is $CLAWLINK_MEMORY_PG_URL (NULL
 * when unset), used only when the config has no memory_pg_url. Returns 0,
 * or CL_EINVAL: an unknown provider, a URL longer than
 * CL_MEMORY_PG_URL_MAX, or "postgres" without any URL (the message names
 * the key and the variable, never the URL). *out is wiped on failure; the
 * caller wipes it (cl_agent_memory_config_wipe) when done. */
int cl_agent_memory_config_parse(const char *buf, size_t len, const char *origin,
                                 const char *env_url, struct cl_agent_memory_config *out, char *err,
                                 size_t errlen);

/* cl_agent_memory_config_parse of the config file at path, read as
 * cl_agent_config_load reads it (a file others can read is refused), with
 * $CLAWLINK_MEMORY_PG_URL from the environment. */
int cl_agent_memory_config_load(const char *path, struct cl_agent_memory_config *out, char *err,
                                size_t errlen);

void cl_agent_memory_config_wipe(struct cl_agent_memory_config *mc);

/* The files API's read roots (docs/chat.md "Files"): "files_read_roots",
 * an array of at most CL_FILES_ROOTS_MAX absolute directory paths of at
 * most CL_FILES_PATH_MAX bytes each. Absent: set false (the default roots,
 * $HOME and /tmp). $HOME is a root whatever the list says. */
struct cl_agent_files_config {
    bool set;
    size_t nroots;
    char roots[CL_FILES_ROOTS_MAX][CL_FILES_PATH_MAX + 1];
};

/* Reads files_read_roots from config JSON in buf (len bytes); origin names
 * it in messages. 0, or CL_EINVAL (not an array, too many, an entry not an
 * absolute path string or too long: err says which). */
int cl_agent_files_config_parse(const char *buf, size_t len, const char *origin,
                                struct cl_agent_files_config *out, char *err, size_t errlen);

/* cl_agent_files_config_parse of the config file at path (read as
 * cl_agent_config_load reads it). */
int cl_agent_files_config_load(const char *path, struct cl_agent_files_config *out, char *err,
                               size_t errlen);

#endif

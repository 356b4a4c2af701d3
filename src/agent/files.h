/*
 * files: the chat API's files on the agent's machine, resolved safely
 * (docs/chat.md "Files"; seed 000: "File serving is restricted to an
 * explicit allowlist (HOME, /tmp). Write access is limited to within
 * HOME.").
 *
 * A path is first checked as text (no "..", no control characters, named
 * lengths) and placed under the longest allowed root it starts with; then
 * it is opened from that root's directory with openat2(RESOLVE_BENEATH |
 * RESOLVE_NO_MAGICLINKS) — or, where the kernel has no openat2, a walk of
 * the same rule one component at a time with O_NOFOLLOW — so no symbolic
 * link leads out of the root. What was opened is then checked on its
 * descriptor (fstat, fstatfs): only regular files are read or written,
 * only directories listed, nothing on procfs or sysfs. No check on a name
 * is trusted after it.
 *
 * Uploads go to a temporary file beside the target (0600, O_EXCL) and are
 * renamed onto it whole on their last chunk: the target appears complete
 * or not at all.
 *
 * Errors: CL_EINVAL (the path or a value is malformed: 400), CL_EFORBIDDEN
 * (outside the roots, a link out, not a regular file: 403), CL_ENOTFOUND
 * (404), CL_EEXIST (409), CL_ELIMIT (413), CL_ESTATE (a chunk at the wrong
 * offset: 409), CL_EAGAIN (too many uploads: 429), CL_EIO (500); each with
 * its reason in why.
 */
#ifndef CL_AGENT_FILES_H
#define CL_AGENT_FILES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/limits.h"

struct cl_files;

enum cl_files_type { CL_FILES_FILE, CL_FILES_DIR, CL_FILES_LINK, CL_FILES_OTHER };

struct cl_files_entry {
    char name[CL_FILES_NAME_MAX + 1];
    enum cl_files_type type;
    int64_t size;
    int64_t mtime_ms;
    unsigned mode; /* permission bits */
};

/* The roots. home: absolute, required (the write root, and the base of
 * relative paths). read_roots: absolute directories (NULL: home and /tmp);
 * at most CL_FILES_ROOTS_MAX. */
struct cl_files_cfg {
    const char *home;
    const char *const *read_roots;
    size_t nroots;
};

/* 0, CL_EINVAL (a root is not an absolute clean path: why says which) or
 * CL_ENOMEM. */
int cl_files_new(const struct cl_files_cfg *cfg, struct cl_files **out, char *why, size_t whylen);
/* Abandons every upload (their temporary files removed). NULL: no-op. */
void cl_files_free(struct cl_files *f);

/* "type" names: "file", "dir", "link", "other". */
const char *cl_files_type_name(enum cl_files_type t);

/* The text check alone (no file system): in (NUL-terminated, len its
 * length as received, so an embedded NUL is seen) made absolute against
 * home and normalized into norm. 0 or CL_EINVAL with why. Fuzzed. */
int cl_files_normalize(const char *in, size_t len, const char *home, char *norm, size_t cap,
                       char *why, size_t whylen);

/* The directory at path: its entries, directories first then by name,
 * at most CL_FILES_LIST_MAX (*truncated when there were more: those read
 * first are kept). *out is malloc'd (free it); norm gets the normalized
 * path (CL_FILES_PATH_MAX + 1 bytes). */
int cl_files_list(struct cl_files *f, const char *path, size_t len, char *norm,
                  struct cl_files_entry **out, size_t *n, bool *truncated, char *why,
                  size_t whylen);

/* The entry at path (a final link inside the root followed); name is the
 * last component. */
int cl_files_stat(struct cl_files *f, const char *path, size_t len, char *norm,
                  struct cl_files_entry *e, char *why, size_t whylen);

/* Up to cap bytes of the regular file at path from offset into buf: *got
 * bytes read, *size and *mtime_ms the file's. */
int cl_files_read(struct cl_files *f, const char *path, size_t len, char *norm, uint64_t offset,
                  uint8_t *buf, size_t cap, size_t *got, int64_t *size, int64_t *mtime_ms,
                  char *why, size_t whylen);

/* A new directory at path inside home (mode 0700); e its entry. */
int cl_files_mkdir(struct cl_files *f, const char *path, size_t len, char *norm,
                   struct cl_files_entry *e, char *why, size_t whylen);

/* One chunk of an upload. upload_id NULL or "": a new upload of path
 * (offset must be 0; the target must not exist unless overwrite, and then
 * be a regular file), its id written to id_out (CL_FILES_UPLOAD_ID_LEN + 1
 * bytes; not the same buffer as upload_id). Otherwise the upload
 * upload_id of owner, offset equal to what it received (*received says
 * that on CL_ESTATE). final: the file is synced
 * and renamed onto the target; e and sha256 describe it, *done is true.
 * A refusal of a chunk of an upload in progress leaves the upload as it
 * was, except over CL_FILES_UPLOAD_MAX: then it is abandoned. */
#define CL_FILES_UPLOAD_ID_LEN 32
struct cl_files_chunk {
    const char *path;
    size_t path_len;
    const char *upload_id;
    const char *owner; /* the clawlink user; "" on the loopback door */
    uint64_t offset;
    const uint8_t *data;
    size_t n;
    bool final, overwrite;
};
int cl_files_upload(struct cl_files *f, const struct cl_files_chunk *c, char *norm, char *id_out,
                    uint64_t *received, bool *done, struct cl_files_entry *e, uint8_t sha256[32],
                    char *why, size_t whylen);

/* Abandons uploads idle for CL_FILES_UPLOAD_IDLE_MS (now_ms: a monotonic
 * clock); the routes call it on every request. */
void cl_files_sweep(struct cl_files *f, int64_t now_ms);

/* Tests only: resolve by the component walk even where openat2 exists. */
void cl_files_force_walk(bool on);

#endif

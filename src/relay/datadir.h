/*
 * datadir: the one set of rules for who may read the relay's data
 * directory (--data) and the files in it.
 *
 * The database holds password hashes, the CSRF key, emails and hashes of
 * live pairing codes; the outbox holds password reset links. So:
 * - the directory and outbox/ should be 0700 (systemd's StateDirectory=
 *   makes the directory 0755: worth a warning, not a refusal);
 * - clawlink.db, its -wal, -shm and -journal, and every outbox file must
 *   be 0600.
 * Both the relay at start (store_sqlite.c: tightens the database files,
 * warns about the directory) and `clawlink-relay audit` (reports all of
 * it, and with --fix tightens all of it) walk these rules through
 * cl_datadir_check, so the rules exist once.
 */
#ifndef CL_RELAY_DATADIR_H
#define CL_RELAY_DATADIR_H

#include <stdbool.h>
#include <sys/types.h>

enum cl_datadir_kind {
    CL_DATADIR_DIR,         /* the data directory itself */
    CL_DATADIR_DB,          /* clawlink.db */
    CL_DATADIR_SIDECAR,     /* clawlink.db-wal, -shm, -journal */
    CL_DATADIR_OUTBOX,      /* outbox/ */
    CL_DATADIR_OUTBOX_FILE, /* outbox/<message>.eml */
};

/* What to tighten (chmod to the wanted mode) while checking. */
enum cl_datadir_fix {
    CL_DATADIR_FIX_NONE = 0,
    CL_DATADIR_FIX_FILES = 1, /* the database and its side files (the relay at start) */
    CL_DATADIR_FIX_ALL = 3,   /* and the directories and outbox files (audit --fix) */
};

/* One file or directory whose mode lets others in, or whose owner is not
 * the data directory's owner (the relay's user). */
struct cl_datadir_finding {
    enum cl_datadir_kind kind;
    const char *path;
    unsigned mode;      /* permission bits found */
    unsigned want;      /* 0600 or 0700 */
    bool bad_mode;      /* mode & 077 */
    bool foreign_owner; /* uid differs from the data directory's */
    uid_t uid, dir_uid;
    bool fixed;    /* chmod(want) succeeded */
    int fix_errno; /* chmod failed with this (0: not tried or fixed) */
};

typedef void (*cl_datadir_fn)(void *arg, const struct cl_datadir_finding *f);

/* Checks dir and the relay's files in it against the rules above, calling
 * fn for each that breaks one (in a fixed order: directory, database, side
 * files, outbox, outbox files). A file another user owns is never
 * chmod'ed. Symlinks are not followed and not fixed. Returns 0, or
 * CL_ENOTFOUND if dir does not exist. */
int cl_datadir_check(const char *dir, enum cl_datadir_fix fix, cl_datadir_fn fn, void *arg);

#endif

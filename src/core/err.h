/*
 * err: the one return convention of clawlink.
 *
 * Functions return 0 on success and a negative CL_E* code on failure.
 * CL_EAGAIN means "would block, try again later". Predicates return bool.
 * Human-readable detail travels in an out-parameter (char *err, size_t errlen).
 */
#ifndef CL_ERR_H
#define CL_ERR_H

#include <stddef.h>

enum cl_err {
    CL_OK = 0,
    CL_EINVAL = -1,     /* malformed input */
    CL_ENOMEM = -2,     /* allocation failed */
    CL_ENOTFOUND = -3,  /* no such thing (or not visible to the caller) */
    CL_EEXIST = -4,     /* already exists */
    CL_EFORBIDDEN = -5, /* known, but not allowed */
    CL_EAUTH = -6,      /* missing or wrong credentials */
    CL_EAGAIN = -7,     /* would block; try again */
    CL_EIO = -8,        /* system call or I/O failure */
    CL_ELIMIT = -9,     /* a named limit was exceeded */
    CL_EPROTO = -10,    /* protocol violation */
    CL_EDB = -11,       /* storage failure */
    CL_ESTATE = -12,    /* not valid in the current state (e.g. device offline) */
    CL_EEXPIRED = -13,  /* token or code expired */
    CL_EUNAVAIL = -14,  /* a service it needs is unreachable now (the store's database); retry */
};

/* Static, short description of a CL_E* code ("not found"). */
const char *cl_strerror(int err);

/* Formats into err (if non-NULL) with snprintf semantics; returns code. */
int cl_seterr(char *err, size_t errlen, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif

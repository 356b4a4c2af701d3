/* err: error codes and their descriptions. */
#include "core/err.h"

#include <stdarg.h>
#include <stdio.h>

const char *cl_strerror(int err)
{
    switch (err) {
    case CL_OK:
        return "ok";
    case CL_EINVAL:
        return "invalid input";
    case CL_ENOMEM:
        return "out of memory";
    case CL_ENOTFOUND:
        return "not found";
    case CL_EEXIST:
        return "already exists";
    case CL_EFORBIDDEN:
        return "forbidden";
    case CL_EAUTH:
        return "authentication failed";
    case CL_EAGAIN:
        return "try again";
    case CL_EIO:
        return "i/o error";
    case CL_ELIMIT:
        return "limit exceeded";
    case CL_EPROTO:
        return "protocol error";
    case CL_EDB:
        return "storage error";
    case CL_ESTATE:
        return "invalid state";
    case CL_EEXPIRED:
        return "expired";
    case CL_EUNAVAIL:
        return "unavailable";
    default:
        return "unknown error";
    }
}

int cl_seterr(char *err, size_t errlen, int code, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return code;
}

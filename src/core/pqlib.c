/* pqlib: see pqlib.h. */
#include "core/pqlib.h"
#include "core/err.h"

#include <dlfcn.h>
#include <stdio.h>

struct cl_pqlib cl_pq;

static int cl__state;     /* 0: not tried; 1: loaded; < 0: the error of the try */
static char cl__why[256]; /* what the failed try said */

int cl_pqlib_load(char *err, size_t errlen)
{
    void *h;

    if (cl__state == 0) {
        h = dlopen(CL_PQLIB_SONAME, RTLD_NOW | RTLD_LOCAL);
        if (!h) {
            snprintf(cl__why, sizeof cl__why, "%s", dlerror());
            cl__state = CL_EIO;
        } else {
            cl__state = 1;
#define CL__PQ_SYM(f)                                                                              \
    if (cl__state == 1 && !(*(void **)&cl_pq.f = dlsym(h, #f))) {                                  \
        snprintf(cl__why, sizeof cl__why, "%s has no %s", CL_PQLIB_SONAME, #f);                    \
        cl__state = CL_EIO;                                                                        \
    }
            CL_PQLIB_FUNCS(CL__PQ_SYM)
#undef CL__PQ_SYM
        }
    }
    if (cl__state == 1)
        return 0;
    return cl_seterr(err, errlen, cl__state,
                     "PostgreSQL needs libpq (%s; on Debian: apt install libpq5): %s",
                     CL_PQLIB_SONAME, cl__why);
}

/* units: strict parsing of byte sizes and seconds for command-line flags. */
#include "agent/units.h"
#include "core/err.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* Digits only (no sign, no space, no hex): strtoull alone accepts too much.
 * Sets *end past the digits. Returns 0, CL_EINVAL or CL_ELIMIT (overflow). */
static int cl__digits(const char *s, uint64_t *out, const char **end)
{
    unsigned long long v;
    char *e;

    if (!isdigit((unsigned char)s[0]))
        return CL_EINVAL;
    errno = 0;
    v = strtoull(s, &e, 10);
    if (errno == ERANGE)
        return CL_ELIMIT;
    *out = (uint64_t)v;
    *end = e;
    return 0;
}

int cl_agent_parse_bytes(const char *s, uint64_t min, uint64_t max, uint64_t *out, char *err,
                         size_t errlen)
{
    uint64_t v = 0, mul = 1;
    const char *rest = "";
    int rc;

    rc = cl__digits(s, &v, &rest);
    if (rc == CL_EINVAL)
        return cl_seterr(err, errlen, rc, "'%s' is not a size (BYTES, or a number with K or M)", s);
    if (rc == 0 && rest[0]) {
        if (rest[0] == 'k' || rest[0] == 'K')
            mul = 1024;
        else if (rest[0] == 'm' || rest[0] == 'M')
            mul = 1024 * 1024;
        else
            mul = 0;
        if (mul && rest[1] && strcmp(rest + 1, "iB") != 0)
            mul = 0;
        if (!mul)
            return cl_seterr(err, errlen, CL_EINVAL,
                             "'%s' is not a size (BYTES, or a number with K or M)", s);
    }
    if (rc == CL_ELIMIT || v > UINT64_MAX / mul || v * mul < min || v * mul > max)
        return cl_seterr(err, errlen, CL_ELIMIT,
                         "size '%s' out of range (%" PRIu64 " to %" PRIu64 " bytes)", s, min, max);
    *out = v * mul;
    return 0;
}

int cl_agent_parse_seconds(const char *s, uint64_t min, uint64_t max, uint64_t *out, char *err,
                           size_t errlen)
{
    const char *rest = "";
    uint64_t v = 0;
    int rc = cl__digits(s, &v, &rest);

    if (rc == CL_EINVAL || (rc == 0 && rest[0]))
        return cl_seterr(err, errlen, CL_EINVAL, "'%s' is not a whole number of seconds", s);
    if (rc == CL_ELIMIT || v < min || v > max)
        return cl_seterr(err, errlen, CL_ELIMIT,
                         "'%s' out of range (%" PRIu64 " to %" PRIu64 " seconds)", s, min, max);
    *out = v;
    return 0;
}

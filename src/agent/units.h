/*
 * units: numbers with units from the command line — byte sizes with an
 * optional K/M suffix (--ring-size, --window) and whole seconds
 * (--idle-grace, --ping-interval) — parsed strictly, with bounds, so a typo
 * is a usage error rather than a surprising default.
 */
#ifndef CL_AGENT_UNITS_H
#define CL_AGENT_UNITS_H

#include <stddef.h>
#include <stdint.h>

/* Parses "N", "NK", "NKiB", "NM" or "NMiB" (suffix letter in either case;
 * K = 1024, M = 1024 * 1024) into *out. Returns 0, or CL_EINVAL (not a
 * number of that form) / CL_ELIMIT (outside [min, max]) with a message in
 * err naming what is wrong. */
int cl_agent_parse_bytes(const char *s, uint64_t min, uint64_t max, uint64_t *out, char *err,
                         size_t errlen);

/* Parses a whole number of seconds "N" within [min, max] into *out.
 * Returns 0, CL_EINVAL or CL_ELIMIT with a message in err. */
int cl_agent_parse_seconds(const char *s, uint64_t min, uint64_t max, uint64_t *out, char *err,
                           size_t errlen);

#endif

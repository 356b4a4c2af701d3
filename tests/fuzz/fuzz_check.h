/* fuzz_check: an assertion for libFuzzer harnesses that names the harness,
 * the failed condition and its line, then aborts (libFuzzer keeps the input). */
#ifndef CL_FUZZ_CHECK_H
#define CL_FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s: check failed: %s (line %d)\n", __FILE__, #cond, __LINE__);        \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#endif

/* fuzz_fields: an input cut into three NUL-separated strings, for harnesses
 * whose target reads several fields of a request. */
#ifndef CL_FUZZ_FIELDS_H
#define CL_FUZZ_FIELDS_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Copies data and points field[0..2] at its first three NUL-separated
 * parts (missing ones are ""). Returns the copy, for free(), or NULL. */
static inline char *fuzz_fields(const uint8_t *data, size_t size, const char *field[3])
{
    char *buf = malloc(size + 3);
    size_t n = 0;
    if (!buf)
        return NULL;
    memcpy(buf, data, size);
    buf[size] = buf[size + 1] = buf[size + 2] = 0;
    field[0] = buf;
    for (size_t i = 0; i < size + 2 && n < 2; i++)
        if (buf[i] == 0)
            field[++n] = buf + i + 1;
    while (n < 2)
        field[++n] = "";
    return buf;
}

#endif

/*
 * libFuzzer harness for the strict JSON wrapper (src/core/json.c).
 *
 * Any bytes go to cl_json_parse_object; on success every member (and
 * every member of a nested object, as "data" and "meta" are read) is read
 * with the string and integer getters under several bounds, and their
 * answers are checked against the value's type. The compact dump must
 * parse again to an equal object.
 * Seed corpus: tests/fuzz/corpus/json/.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "core/err.h"
#include "core/json.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    cl_json_init(); /* as both binaries run: jansson wipes what it frees */
    return 0;
}

static void probe_member(json_t *obj, const char *key, json_t *v)
{
    static const size_t maxlens[] = {0, 1, 8, 64, 1u << 20};
    static const long long bounds[][2] = {
        {0, 0}, {1, 1000}, {-255, 255}, {0, INT64_MAX}, {INT64_MIN, INT64_MAX}};
    char err[256];
    const char *s;
    long long n;
    bool present;
    int rc;

    for (size_t i = 0; i < sizeof maxlens / sizeof maxlens[0]; i++) {
        for (int req = 0; req < 2; req++) {
            err[0] = 0;
            rc = cl_json_str(obj, "obj", key, req, maxlens[i], &s, err, sizeof err);
            if (json_is_null(v)) {
                CHECK(req ? rc == CL_EINVAL : (rc == 0 && s == NULL));
            } else if (!json_is_string(v)) {
                CHECK(rc == CL_EINVAL && s == NULL && err[0]);
            } else if (rc == 0) {
                CHECK(s != NULL && strlen(s) <= maxlens[i]);
                CHECK(!req || s[0] != 0);
            } else {
                CHECK(rc == CL_EINVAL && s == NULL && err[0]);
            }
        }
    }
    for (size_t i = 0; i < sizeof bounds / sizeof bounds[0]; i++) {
        n = 12345;
        rc = cl_json_int(obj, "obj", key, false, bounds[i][0], bounds[i][1], &n, &present, err,
                         sizeof err);
        if (rc == 0 && present) {
            CHECK(json_is_integer(v));
            CHECK(n >= bounds[i][0] && n <= bounds[i][1]);
            CHECK(n == json_integer_value(v));
        } else if (rc == 0) {
            CHECK(json_is_null(v) && n == 12345);
        } else {
            CHECK(rc == CL_EINVAL && !present);
        }
    }
}

static void probe_object(json_t *obj, int depth)
{
    const char *key;
    json_t *v;
    const char *s;
    char err[64];

    /* a missing key is missing, under any bounds */
    CHECK(cl_json_str(obj, "obj", "\x01missing", true, 64, &s, err, sizeof err) == CL_EINVAL);
    json_object_foreach(obj, key, v)
    {
        probe_member(obj, key, v);
        if (json_is_object(v) && depth < 2)
            probe_object(v, depth + 1);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    json_t *root, *again;
    size_t len = 0;
    char *text;

    err[0] = 0;
    root = cl_json_parse_object((const char *)data, size, err, sizeof err);
    if (!root) {
        CHECK(err[0] != 0);
        return 0;
    }
    CHECK(json_is_object(root));
    probe_object(root, 0);

    text = cl_json_dump(root, &len);
    CHECK(text != NULL && strlen(text) == len);
    again = cl_json_parse_object(text, len, err, sizeof err);
    CHECK(again != NULL);
    CHECK(json_equal(root, again));
    json_decref(again);
    free(text);
    json_decref(root);
    return 0;
}

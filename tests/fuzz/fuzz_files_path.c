/*
 * libFuzzer harness: the files API's path check and resolution
 * (src/agent/files.c, cl_files_normalize and cl_files_stat; the query of
 * src/agent/chat_files.c's GET /files/stat).
 * Input: the bytes are a path as received (NULs included: len is the
 * size), and also a raw query string for GET /files/stat.
 * Checked: a path accepted by the text check is absolute and normalized
 * (no empty, "." or ".." component, no control character, within
 * CL_FILES_PATH_MAX), and one containing a ".." component is refused; a
 * stat that succeeds names a path under one of the roots (a small tree
 * made on the first run under /tmp with links inside and out); every
 * answer of the route is an object with a status it may give.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/chat_files.h"
#include "agent/files.h"
#include "core/err.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct cl_files *F;
static char home[64];

static void cl__tree(void)
{
    char p[128], why[128];
    const char *roots[] = {"/tmp/clawlink-fuzz-files-ro"};
    struct cl_files_cfg cfg = {.home = home, .read_roots = roots, .nroots = 1};
    snprintf(home, sizeof home, "/tmp/clawlink-fuzz-files-XXXXXX");
    CHECK(mkdtemp(home) != NULL);
    mkdir(roots[0], 0700);
    snprintf(p, sizeof p, "%s/d", home);
    mkdir(p, 0700);
    snprintf(p, sizeof p, "%s/d/f", home);
    fclose(fopen(p, "w"));
    snprintf(p, sizeof p, "%s/in", home);
    CHECK(symlink("d/f", p) == 0);
    snprintf(p, sizeof p, "%s/out", home);
    CHECK(symlink("../../etc/passwd", p) == 0);
    snprintf(p, sizeof p, "%s/abs", home);
    CHECK(symlink("/etc", p) == 0);
    snprintf(p, sizeof p, "%s/loop", home);
    CHECK(symlink("loop", p) == 0);
    CHECK(cl_files_new(&cfg, &F, why, sizeof why) == 0);
}

/* Whether s (len bytes) has a ".." component. */
static bool cl__has_dotdot(const char *s, size_t len)
{
    for (size_t i = 0; i + 1 < len; i++)
        if (s[i] == '.' && s[i + 1] == '.' && (i == 0 || s[i - 1] == '/') &&
            (i + 2 == len || s[i + 2] == '/'))
            return true;
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *in = malloc(size + 1), norm[CL_FILES_PATH_MAX + 1], why[512];
    struct cl_files_entry e;
    json_t *answer = NULL;
    int rc, status = 0;

    if (!F)
        cl__tree();
    if (!in)
        return 0;
    memcpy(in, data, size);
    in[size] = '\0';

    rc = cl_files_normalize(in, size, home, norm, sizeof norm, why, sizeof why);
    if (rc == 0) {
        size_t n = strlen(norm);
        CHECK(norm[0] == '/' && n <= CL_FILES_PATH_MAX);
        CHECK(n == 1 || norm[n - 1] != '/');
        CHECK(strstr(norm, "//") == NULL && strstr(norm, "/./") == NULL &&
              strstr(norm, "/../") == NULL);
        CHECK(n < 2 || strcmp(norm + n - 2, "/.") != 0);
        CHECK(n < 3 || strcmp(norm + n - 3, "/..") != 0);
        for (size_t i = 0; i < n; i++)
            CHECK((unsigned char)norm[i] >= 0x20 && norm[i] != 0x7f);
        CHECK(!cl__has_dotdot(in, size));
    } else {
        CHECK(rc == CL_EINVAL && why[0]);
    }
    if (cl__has_dotdot(in, size))
        CHECK(rc != 0);

    if (cl_files_stat(F, in, size, norm, &e, why, sizeof why) == 0)
        CHECK(strncmp(norm, home, strlen(home)) == 0 ||
              strncmp(norm, "/tmp/clawlink-fuzz-files-ro", 27) == 0);

    cl_chat_files_handle(F, "GET", "stat", in, NULL, "", &status, &answer);
    CHECK(json_is_object(answer));
    CHECK(status == 200 || status == 400 || status == 403 || status == 404 || status == 500);
    json_decref(answer);
    free(in);
    return 0;
}

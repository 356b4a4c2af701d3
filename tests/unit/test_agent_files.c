/*
 * Unit tests for src/agent/files.c on a real temporary tree: the text
 * check (.., control characters, NUL, lengths), reads inside the roots,
 * refusals outside them (/etc/shadow, /proc/self/environ, a sibling
 * directory), symbolic links (one inside followed, one out by "..", an
 * absolute one, one to /proc refused), a FIFO refused without blocking, a
 * listing's order, writes outside $HOME refused, a chunked upload renamed
 * into place whole with its SHA-256, an upload over CL_FILES_UPLOAD_MAX
 * abandoned, offsets, owners, overwrite, the upload slots — and nothing
 * left behind by a refusal. Every resolution test runs twice: with
 * openat2 and with the component walk used where the kernel lacks it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "agent/files.h"
#include "core/err.h"

static char base[64], home[128], ro[128], out[128];
static struct cl_files *F;

static void put(const char *dir, const char *name, const char *text)
{
    char p[512];
    FILE *f;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void link_at(const char *target, const char *dir, const char *name)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    assert_int_equal(symlink(target, p), 0);
}

static bool exists(const char *dir, const char *name)
{
    char p[512];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return lstat(p, &st) == 0;
}

/* Entries of dir whose name starts with ".clawlink-upload-". */
static int temps(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int n = 0;
    assert_non_null(d);
    while ((de = readdir(d)) != NULL)
        n += strncmp(de->d_name, ".clawlink-upload-", 17) == 0;
    closedir(d);
    return n;
}

static int entries(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int n = 0;
    assert_non_null(d);
    while ((de = readdir(d)) != NULL)
        n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
    closedir(d);
    return n;
}

static int setup(void **state)
{
    char p[256];
    const char *roots[1];
    struct cl_files_cfg cfg;
    char why[256];
    (void)state;
    assert_true(sodium_init() >= 0);
    snprintf(base, sizeof base, "/tmp/cl-files-XXXXXX");
    assert_non_null(mkdtemp(base));
    snprintf(home, sizeof home, "%s/home", base);
    snprintf(ro, sizeof ro, "%s/ro", base);
    snprintf(out, sizeof out, "%s/out", base);
    assert_int_equal(mkdir(home, 0700), 0);
    assert_int_equal(mkdir(ro, 0700), 0);
    assert_int_equal(mkdir(out, 0700), 0);
    snprintf(p, sizeof p, "%s/sub", home);
    assert_int_equal(mkdir(p, 0700), 0);
    put(home, "a.txt", "hello, file");
    put(home, "sub/b.txt", "in sub");
    put(home, "Zed.txt", "z");
    put(ro, "r.txt", "read only root");
    put(out, "secret.txt", "outside every root");
    link_at("sub/b.txt", home, "link_in");
    link_at("sub", home, "link_dir");
    link_at("../out/secret.txt", home, "link_out");
    link_at("../out", home, "link_outdir");
    link_at("/etc/shadow", home, "link_abs");
    link_at("/proc/self/environ", home, "link_proc");
    link_at("sub/../a.txt", home, "link_dotdot_in");
    snprintf(p, sizeof p, "%s/fifo", home);
    assert_int_equal(mkfifo(p, 0600), 0);
    /* the read roots are home and ro only: /tmp (where base is) is not one,
     * so out is outside every root */
    roots[0] = ro;
    cfg = (struct cl_files_cfg){.home = home, .read_roots = roots, .nroots = 1};
    assert_int_equal(cl_files_new(&cfg, &F, why, sizeof why), 0);
    return 0;
}

static int teardown(void **state)
{
    char cmd[128];
    (void)state;
    cl_files_free(F);
    F = NULL;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
    assert_int_equal(system(cmd), 0);
    cl_files_force_walk(false);
    return 0;
}

/* Reads path whole (small files); rc, and the text in buf. */
static int rd(const char *path, char *buf, size_t cap, char *why, size_t whylen)
{
    char norm[CL_FILES_PATH_MAX + 1];
    size_t got = 0;
    int64_t size, mtime;
    int rc = cl_files_read(F, path, strlen(path), norm, 0, (uint8_t *)buf, cap - 1, &got, &size,
                           &mtime, why, whylen);
    buf[got] = '\0';
    return rc;
}

static void test_normalize(void **state)
{
    char norm[CL_FILES_PATH_MAX + 1], why[256], longp[CL_FILES_PATH_MAX + 16];
    (void)state;
#define NORM(in, len) cl_files_normalize(in, len, "/home/me", norm, sizeof norm, why, sizeof why)
    assert_int_equal(NORM("/tmp/./x//y/", 12), 0);
    assert_string_equal(norm, "/tmp/x/y");
    assert_int_equal(NORM("docs/a.txt", 10), 0);
    assert_string_equal(norm, "/home/me/docs/a.txt");
    assert_int_equal(NORM("", 0), 0);
    assert_string_equal(norm, "/home/me");
    assert_int_equal(NORM("/", 1), 0);
    assert_string_equal(norm, "/");
    assert_int_equal(NORM("..", 2), CL_EINVAL);
    assert_non_null(strstr(why, "'..'"));
    assert_int_equal(NORM("a/../b", 6), CL_EINVAL);
    assert_int_equal(NORM("/home/me/../me/x", 16), CL_EINVAL);
    assert_int_equal(NORM("a\nb", 3), CL_EINVAL);
    assert_non_null(strstr(why, "control character"));
    assert_int_equal(NORM("a\x7f", 2), CL_EINVAL);
    assert_int_equal(NORM("a\0b", 3), CL_EINVAL); /* "%00" in a query */
    assert_non_null(strstr(why, "NUL"));
    memset(longp, 'a', sizeof longp - 1);
    longp[sizeof longp - 1] = '\0';
    assert_int_equal(NORM(longp, strlen(longp)), CL_EINVAL);
    memset(longp, 'a', 300);
    longp[300] = '\0';
    assert_int_equal(NORM(longp, 300), CL_EINVAL); /* one component over NAME_MAX */
    assert_non_null(strstr(why, "CL_FILES_NAME_MAX"));
    /* "..." and "..x" are names, not parents */
    assert_int_equal(NORM("/tmp/.../..x", 12), 0);
    assert_string_equal(norm, "/tmp/.../..x");
#undef NORM
}

static void check_reads(void)
{
    char buf[256], why[256];
    assert_int_equal(rd("a.txt", buf, sizeof buf, why, sizeof why), 0);
    assert_string_equal(buf, "hello, file");
    {
        char p[256];
        snprintf(p, sizeof p, "%s/sub/b.txt", home);
        assert_int_equal(rd(p, buf, sizeof buf, why, sizeof why), 0);
        assert_string_equal(buf, "in sub");
        snprintf(p, sizeof p, "%s/r.txt", ro);
        assert_int_equal(rd(p, buf, sizeof buf, why, sizeof why), 0);
        assert_string_equal(buf, "read only root");
    }
    /* links that stay inside are followed */
    assert_int_equal(rd("link_in", buf, sizeof buf, why, sizeof why), 0);
    assert_string_equal(buf, "in sub");
    assert_int_equal(rd("link_dir/b.txt", buf, sizeof buf, why, sizeof why), 0);
    assert_string_equal(buf, "in sub");
    assert_int_equal(rd("link_dotdot_in", buf, sizeof buf, why, sizeof why), 0);
    assert_string_equal(buf, "hello, file");
}

static void test_reads_inside(void **state)
{
    (void)state;
    check_reads();
    cl_files_force_walk(true);
    check_reads();
}

static void check_refusals(void)
{
    char buf[256], why[256], p[256];
    assert_int_equal(rd("/etc/shadow", buf, sizeof buf, why, sizeof why), CL_EFORBIDDEN);
    assert_non_null(strstr(why, "outside the allowed roots"));
    assert_int_equal(rd("/proc/self/environ", buf, sizeof buf, why, sizeof why), CL_EFORBIDDEN);
    snprintf(p, sizeof p, "%s/secret.txt", out);
    assert_int_equal(rd(p, buf, sizeof buf, why, sizeof why), CL_EFORBIDDEN);
    assert_int_equal(rd("../out/secret.txt", buf, sizeof buf, why, sizeof why), CL_EINVAL);
    /* links out of the root, whichever way */
    assert_int_equal(rd("link_out", buf, sizeof buf, why, sizeof why), CL_EFORBIDDEN);
    assert_non_null(strstr(why, "symbolic link"));
    assert_int_equal(rd("link_outdir/secret.txt", buf, sizeof buf, why, sizeof why), CL_EFORBIDDEN);
    assert_int_equal(rd("link_abs", buf, sizeof buf, why, sizeof why), CL_EFORBIDDEN);
    assert_int_equal(rd("link_proc", buf, sizeof buf, why, sizeof why), CL_EFORBIDDEN);
    assert_string_equal(buf, "");
    /* special files: refused at once, without blocking on the FIFO */
    assert_int_equal(rd("fifo", buf, sizeof buf, why, sizeof why), CL_EFORBIDDEN);
    assert_non_null(strstr(why, "not a regular file"));
    assert_int_equal(rd("sub", buf, sizeof buf, why, sizeof why), CL_EFORBIDDEN);
    assert_int_equal(rd("nothing-here", buf, sizeof buf, why, sizeof why), CL_ENOTFOUND);
    assert_int_equal(rd("a.txt/x", buf, sizeof buf, why, sizeof why), CL_EINVAL);
}

static void test_refusals(void **state)
{
    (void)state;
    check_refusals();
    cl_files_force_walk(true);
    check_refusals();
}

static void test_list_and_stat(void **state)
{
    char norm[CL_FILES_PATH_MAX + 1], why[256];
    struct cl_files_entry *e, one;
    size_t n;
    bool truncated;
    (void)state;
    assert_int_equal(cl_files_list(F, "", 0, norm, &e, &n, &truncated, why, sizeof why), 0);
    assert_string_equal(norm, home);
    assert_false(truncated);
    assert_int_equal(n, 11);
    assert_string_equal(e[0].name, "sub"); /* directories first */
    assert_int_equal(e[0].type, CL_FILES_DIR);
    assert_string_equal(e[1].name, "Zed.txt"); /* then by bytes */
    assert_string_equal(e[2].name, "a.txt");
    assert_int_equal(e[2].type, CL_FILES_FILE);
    assert_int_equal(e[2].size, 11);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(e[i].name, "link_dir") == 0)
            assert_int_equal(e[i].type, CL_FILES_LINK); /* not followed */
        if (strcmp(e[i].name, "fifo") == 0)
            assert_int_equal(e[i].type, CL_FILES_OTHER);
    }
    free(e);
    assert_int_equal(cl_files_list(F, "link_outdir", 11, norm, &e, &n, &truncated, why, sizeof why),
                     CL_EFORBIDDEN);
    assert_int_equal(cl_files_list(F, "/", 1, norm, &e, &n, &truncated, why, sizeof why),
                     CL_EFORBIDDEN);
    assert_int_equal(cl_files_list(F, "a.txt", 5, norm, &e, &n, &truncated, why, sizeof why),
                     CL_EINVAL);
    assert_int_equal(cl_files_stat(F, "link_in", 7, norm, &one, why, sizeof why), 0);
    assert_string_equal(one.name, "link_in");
    assert_int_equal(one.type, CL_FILES_FILE); /* a final link inside is followed */
    assert_int_equal(cl_files_stat(F, "link_abs", 8, norm, &one, why, sizeof why), CL_EFORBIDDEN);
}

/* One chunk; rc. */
static int chunk(const char *path, const char *id, const char *owner, uint64_t offset,
                 const void *data, size_t n, bool final, bool overwrite, char *id_out,
                 uint64_t *received, bool *done, uint8_t sha[32], char *why, size_t whylen)
{
    char norm[CL_FILES_PATH_MAX + 1];
    struct cl_files_entry e;
    struct cl_files_chunk c = {
        .path = path,
        .path_len = path ? strlen(path) : 0,
        .upload_id = id,
        .owner = owner,
        .offset = offset,
        .data = data,
        .n = n,
        .final = final,
        .overwrite = overwrite,
    };
    return cl_files_upload(F, &c, norm, id_out, received, done, &e, sha, why, whylen);
}

static void test_writes_outside_home_refused(void **state)
{
    char id[CL_FILES_UPLOAD_ID_LEN + 1], why[256], norm[CL_FILES_PATH_MAX + 1], p[256];
    struct cl_files_entry e;
    uint8_t sha[32];
    uint64_t got;
    bool done;
    int before_out = entries(out), before_ro = entries(ro);
    (void)state;
    snprintf(p, sizeof p, "%s/new.txt", ro); /* a read root, not home */
    assert_int_equal(
        chunk(p, NULL, "u", 0, "x", 1, true, false, id, &got, &done, sha, why, sizeof why),
        CL_EFORBIDDEN);
    assert_non_null(strstr(why, "only inside $HOME"));
    snprintf(p, sizeof p, "%s/new.txt", out);
    assert_int_equal(
        chunk(p, NULL, "u", 0, "x", 1, true, false, id, &got, &done, sha, why, sizeof why),
        CL_EFORBIDDEN);
    assert_int_equal(chunk("/etc/clawlink-test", NULL, "u", 0, "x", 1, true, false, id, &got, &done,
                           sha, why, sizeof why),
                     CL_EFORBIDDEN);
    assert_int_equal(chunk("link_outdir/new.txt", NULL, "u", 0, "x", 1, true, false, id, &got,
                           &done, sha, why, sizeof why),
                     CL_EFORBIDDEN);
    cl_files_force_walk(true);
    assert_int_equal(chunk("link_outdir/new.txt", NULL, "u", 0, "x", 1, true, false, id, &got,
                           &done, sha, why, sizeof why),
                     CL_EFORBIDDEN);
    cl_files_force_walk(false);
    assert_int_equal(chunk("../out/new.txt", NULL, "u", 0, "x", 1, true, false, id, &got, &done,
                           sha, why, sizeof why),
                     CL_EINVAL);
    assert_int_equal(
        chunk("", NULL, "u", 0, "x", 1, true, false, id, &got, &done, sha, why, sizeof why),
        CL_EINVAL); /* $HOME itself */
    assert_int_equal(cl_files_mkdir(F, p, strlen(p), norm, &e, why, sizeof why), CL_EFORBIDDEN);
    assert_int_equal(cl_files_mkdir(F, "link_outdir/d", 13, norm, &e, why, sizeof why),
                     CL_EFORBIDDEN);
    /* nothing written anywhere */
    assert_int_equal(entries(out), before_out);
    assert_int_equal(entries(ro), before_ro);
    assert_int_equal(temps(home), 0);
    assert_false(exists(home, "new.txt"));
}

static void test_chunked_upload_is_atomic(void **state)
{
    char id[CL_FILES_UPLOAD_ID_LEN + 1], id2[CL_FILES_UPLOAD_ID_LEN + 1], why[256], buf[64];
    uint8_t sha[32], want[32];
    uint64_t got;
    bool done;
    struct stat st;
    char p[256];
    (void)state;
    assert_int_equal(chunk("sub/up.bin", NULL, "alice", 0, "hello ", 6, false, false, id, &got,
                           &done, sha, why, sizeof why),
                     0);
    assert_false(done);
    assert_int_equal(got, 6);
    assert_int_equal(strlen(id), CL_FILES_UPLOAD_ID_LEN);
    /* not there under its name until the end; the bytes wait beside it */
    snprintf(p, sizeof p, "%s/sub", home);
    assert_false(exists(p, "up.bin"));
    assert_int_equal(temps(p), 1);
    /* wrong offset: told where to go on */
    assert_int_equal(
        chunk(NULL, id, "alice", 3, "xxx", 3, false, false, id2, &got, &done, sha, why, sizeof why),
        CL_ESTATE);
    assert_int_equal(got, 6);
    /* another user cannot continue it */
    assert_int_equal(chunk(NULL, id, "mallory", 6, "xxx", 3, false, false, id2, &got, &done, sha,
                           why, sizeof why),
                     CL_ENOTFOUND);
    assert_int_equal(chunk(NULL, id, "alice", 6, "world", 5, false, false, id2, &got, &done, sha,
                           why, sizeof why),
                     0);
    assert_string_equal(id2, id);
    assert_int_equal(
        chunk(NULL, id, "alice", 11, "", 0, true, false, id2, &got, &done, sha, why, sizeof why),
        0);
    assert_true(done);
    crypto_hash_sha256(want, (const uint8_t *)"hello world", 11);
    assert_memory_equal(sha, want, 32);
    assert_int_equal(temps(p), 0);
    assert_int_equal(rd("sub/up.bin", buf, sizeof buf, why, sizeof why), 0);
    assert_string_equal(buf, "hello world");
    snprintf(p, sizeof p, "%s/sub/up.bin", home);
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    /* finished: the id is gone */
    assert_int_equal(
        chunk(NULL, id, "alice", 11, "x", 1, true, false, id2, &got, &done, sha, why, sizeof why),
        CL_ENOTFOUND);
    /* the target exists now: not replaced without overwrite, replaced with it */
    assert_int_equal(chunk("sub/up.bin", NULL, "alice", 0, "new", 3, true, false, id, &got, &done,
                           sha, why, sizeof why),
                     CL_EEXIST);
    assert_int_equal(chunk("sub/up.bin", NULL, "alice", 0, "new", 3, true, true, id, &got, &done,
                           sha, why, sizeof why),
                     0);
    assert_int_equal(rd("sub/up.bin", buf, sizeof buf, why, sizeof why), 0);
    assert_string_equal(buf, "new");
    /* a directory or a link is not overwritten */
    assert_int_equal(
        chunk("sub", NULL, "alice", 0, "new", 3, true, true, id, &got, &done, sha, why, sizeof why),
        CL_EEXIST);
    assert_int_equal(chunk("link_in", NULL, "alice", 0, "new", 3, true, true, id, &got, &done, sha,
                           why, sizeof why),
                     CL_EEXIST);
    assert_int_equal(rd("sub/b.txt", buf, sizeof buf, why, sizeof why), 0);
    assert_string_equal(buf, "in sub");
    assert_int_equal(temps(home), 0);
}

static void test_upload_over_the_limit(void **state)
{
    char id[CL_FILES_UPLOAD_ID_LEN + 1], id2[CL_FILES_UPLOAD_ID_LEN + 1], why[256];
    uint8_t sha[32], *data = calloc(1, CL_FILES_UPLOAD_CHUNK + 1);
    uint64_t got = 0;
    bool done;
    int rc;
    (void)state;
    assert_non_null(data);
    /* one chunk over CL_FILES_UPLOAD_CHUNK: refused before anything */
    assert_int_equal(chunk("big.bin", NULL, "u", 0, data, CL_FILES_UPLOAD_CHUNK + 1, false, false,
                           id, &got, &done, sha, why, sizeof why),
                     CL_ELIMIT);
    assert_int_equal(temps(home), 0);
    rc = chunk("big.bin", NULL, "u", 0, data, CL_FILES_UPLOAD_CHUNK, false, false, id, &got, &done,
               sha, why, sizeof why);
    assert_int_equal(rc, 0);
    while (rc == 0)
        rc = chunk(NULL, id, "u", got, data, CL_FILES_UPLOAD_CHUNK, false, false, id2, &got, &done,
                   sha, why, sizeof why);
    assert_int_equal(rc, CL_ELIMIT);
    assert_non_null(strstr(why, "CL_FILES_UPLOAD_MAX"));
    assert_true(got <= CL_FILES_UPLOAD_MAX);
    /* abandoned: no temporary file, no target, the id gone */
    assert_int_equal(temps(home), 0);
    assert_false(exists(home, "big.bin"));
    assert_int_equal(
        chunk(NULL, id, "u", got, data, 1, true, false, id2, &got, &done, sha, why, sizeof why),
        CL_ENOTFOUND);
    free(data);
}

static void test_upload_slots_and_idle(void **state)
{
    char id[CL_FILES_UPLOAD_ID_LEN + 1], why[256], name[32];
    uint8_t sha[32];
    uint64_t got;
    bool done;
    (void)state;
    for (int i = 0; i < CL_FILES_UPLOADS_MAX; i++) {
        snprintf(name, sizeof name, "slot%d", i);
        assert_int_equal(
            chunk(name, NULL, "u", 0, "x", 1, false, false, id, &got, &done, sha, why, sizeof why),
            0);
    }
    assert_int_equal(chunk("one-more", NULL, "u", 0, "x", 1, false, false, id, &got, &done, sha,
                           why, sizeof why),
                     CL_EAGAIN);
    assert_int_equal(temps(home), CL_FILES_UPLOADS_MAX);
    /* idle for CL_FILES_UPLOAD_IDLE_MS: abandoned, their files removed */
    {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        cl_files_sweep(F, (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 +
                              CL_FILES_UPLOAD_IDLE_MS + 1);
    }
    assert_int_equal(temps(home), 0);
    assert_int_equal(
        chunk("one-more", NULL, "u", 0, "x", 1, true, false, id, &got, &done, sha, why, sizeof why),
        0);
    assert_true(done);
    /* a new upload starts at 0 */
    assert_int_equal(
        chunk("two", NULL, "u", 5, "x", 1, true, false, id, &got, &done, sha, why, sizeof why),
        CL_ESTATE);
    assert_false(exists(home, "two"));
}

static void test_mkdir(void **state)
{
    char norm[CL_FILES_PATH_MAX + 1], why[256], p[256];
    struct cl_files_entry e;
    struct stat st;
    (void)state;
    assert_int_equal(cl_files_mkdir(F, "sub/new", 7, norm, &e, why, sizeof why), 0);
    assert_int_equal(e.type, CL_FILES_DIR);
    snprintf(p, sizeof p, "%s/sub/new", home);
    assert_string_equal(norm, p);
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    assert_int_equal(cl_files_mkdir(F, "sub/new", 7, norm, &e, why, sizeof why), CL_EEXIST);
    assert_int_equal(cl_files_mkdir(F, "no/such/parent", 14, norm, &e, why, sizeof why),
                     CL_ENOTFOUND);
    assert_int_equal(cl_files_mkdir(F, "sub/../x", 8, norm, &e, why, sizeof why), CL_EINVAL);
}

static void test_roots_config(void **state)
{
    struct cl_files *f;
    char why[256];
    const char *bad[] = {"relative/dir"};
    struct cl_files_cfg cfg = {.home = "not/absolute"};
    (void)state;
    assert_int_equal(cl_files_new(&cfg, &f, why, sizeof why), CL_EINVAL);
    cfg = (struct cl_files_cfg){.home = "/"};
    assert_int_equal(cl_files_new(&cfg, &f, why, sizeof why), CL_EINVAL);
    cfg = (struct cl_files_cfg){.home = home, .read_roots = bad, .nroots = 1};
    assert_int_equal(cl_files_new(&cfg, &f, why, sizeof why), CL_EINVAL);
    /* the default: home and /tmp */
    cfg = (struct cl_files_cfg){.home = home};
    assert_int_equal(cl_files_new(&cfg, &f, why, sizeof why), 0);
    {
        char norm[CL_FILES_PATH_MAX + 1], p[256], buf[64];
        size_t got;
        int64_t size, mtime;
        snprintf(p, sizeof p, "%s/secret.txt", out); /* under /tmp now */
        assert_int_equal(cl_files_read(f, p, strlen(p), norm, 0, (uint8_t *)buf, sizeof buf, &got,
                                       &size, &mtime, why, sizeof why),
                         0);
        assert_int_equal(cl_files_read(f, "/etc/shadow", 11, norm, 0, (uint8_t *)buf, sizeof buf,
                                       &got, &size, &mtime, why, sizeof why),
                         CL_EFORBIDDEN);
    }
    cl_files_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_normalize),
        cmocka_unit_test_setup_teardown(test_reads_inside, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_and_stat, setup, teardown),
        cmocka_unit_test_setup_teardown(test_writes_outside_home_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_chunked_upload_is_atomic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upload_over_the_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upload_slots_and_idle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mkdir, setup, teardown),
        cmocka_unit_test_setup_teardown(test_roots_config, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Unit tests for src/relay/datadir.c (the data directory's permission
 * rules) and cl_mail_url_load (--smtp-url-file): what each fix level
 * tightens and what it leaves alone, symlinks untouched, and a URL file
 * read whole or refused without echoing it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/err.h"
#include "core/limits.h"
#include "relay/datadir.h"
#include "relay/mail.h"

struct seen {
    int n, fixed, dir, db, sidecar, outbox, outbox_file;
};

static void collect(void *arg, const struct cl_datadir_finding *f)
{
    struct seen *s = arg;
    s->n++;
    s->fixed += f->fixed;
    s->dir += f->kind == CL_DATADIR_DIR;
    s->db += f->kind == CL_DATADIR_DB;
    s->sidecar += f->kind == CL_DATADIR_SIDECAR;
    s->outbox += f->kind == CL_DATADIR_OUTBOX;
    s->outbox_file += f->kind == CL_DATADIR_OUTBOX_FILE;
    assert_false(f->foreign_owner);
    assert_true(f->bad_mode);
}

static void touch(const char *dir, const char *name, mode_t mode)
{
    char p[512];
    int fd;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, mode);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(chmod(p, mode), 0);
}

static unsigned mode_of(const char *dir, const char *name)
{
    char p[512];
    struct stat sb;
    snprintf(p, sizeof p, "%s%s%s", dir, name[0] ? "/" : "", name);
    assert_int_equal(lstat(p, &sb), 0);
    return (unsigned)(sb.st_mode & 0777);
}

/* A 0755 directory with 0644 database files, a 0755 outbox with a 0644
 * message, and a symlink posing as -journal. */
static void bad_dir(char *dir)
{
    char p[512];
    strcpy(dir, "/tmp/cl-datadir-XXXXXX");
    assert_non_null(mkdtemp(dir));
    assert_int_equal(chmod(dir, 0755), 0);
    touch(dir, "clawlink.db", 0644);
    touch(dir, "clawlink.db-wal", 0644);
    touch(dir, "clawlink.db-shm", 0640);
    snprintf(p, sizeof p, "%s/outbox", dir);
    assert_int_equal(mkdir(p, 0755), 0);
    assert_int_equal(chmod(p, 0755), 0);
    touch(dir, "outbox/1-x.eml", 0644);
    touch(dir, "other", 0644); /* not the relay's: never judged */
    snprintf(p, sizeof p, "%s/clawlink.db-journal", dir);
    assert_int_equal(symlink("/etc/passwd", p), 0);
}

static void cleanup(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_report_only(void **state)
{
    char dir[64];
    struct seen s = {0};
    (void)state;
    bad_dir(dir);
    assert_int_equal(cl_datadir_check(dir, CL_DATADIR_FIX_NONE, collect, &s), 0);
    assert_int_equal(s.n, 6);
    assert_int_equal(s.dir, 1);
    assert_int_equal(s.db, 1);
    assert_int_equal(s.sidecar, 2); /* the symlinked -journal is not one */
    assert_int_equal(s.outbox, 1);
    assert_int_equal(s.outbox_file, 1);
    assert_int_equal(s.fixed, 0);
    assert_int_equal(mode_of(dir, "clawlink.db"), 0644);
    cleanup(dir);
}

static void test_fix_files_is_what_the_relay_does_at_start(void **state)
{
    char dir[64];
    struct seen s = {0};
    (void)state;
    bad_dir(dir);
    assert_int_equal(cl_datadir_check(dir, CL_DATADIR_FIX_FILES, collect, &s), 0);
    assert_int_equal(s.fixed, 3);
    assert_int_equal(mode_of(dir, "clawlink.db"), 0600);
    assert_int_equal(mode_of(dir, "clawlink.db-wal"), 0600);
    assert_int_equal(mode_of(dir, "clawlink.db-shm"), 0600);
    assert_int_equal(mode_of(dir, ""), 0755); /* warned about, not changed */
    assert_int_equal(mode_of(dir, "outbox"), 0755);
    cleanup(dir);
}

static void test_fix_all_is_audit_fix(void **state)
{
    char dir[64];
    struct seen s = {0}, again = {0};
    (void)state;
    bad_dir(dir);
    assert_int_equal(cl_datadir_check(dir, CL_DATADIR_FIX_ALL, collect, &s), 0);
    assert_int_equal(s.fixed, 6);
    assert_int_equal(mode_of(dir, ""), 0700);
    assert_int_equal(mode_of(dir, "outbox"), 0700);
    assert_int_equal(mode_of(dir, "outbox/1-x.eml"), 0600);
    assert_int_equal(mode_of(dir, "other"), 0644);
    assert_int_equal(cl_datadir_check(dir, CL_DATADIR_FIX_NONE, collect, &again), 0);
    assert_int_equal(again.n, 0);
    assert_int_equal(cl_datadir_check("/nonexistent/cl", CL_DATADIR_FIX_NONE, collect, &again),
                     CL_ENOTFOUND);
    cleanup(dir);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_smtp_url_file(void **state)
{
    char path[] = "/tmp/cl-smtpurl-XXXXXX", out[CL_URL_MAX + 2], err[256];
    char *big = malloc(CL_URL_MAX + 16);
    int fd = mkstemp(path);
    (void)state;
    assert_true(fd >= 0);
    close(fd);

    write_file(path, "smtps://user:secret@mail.example.com:465\n");
    assert_int_equal(cl_mail_url_load(path, out, sizeof out, err, sizeof err), 0);
    assert_string_equal(out, "smtps://user:secret@mail.example.com:465");

    write_file(path, "http://user:secret@x\n");
    assert_int_equal(cl_mail_url_load(path, out, sizeof out, err, sizeof err), CL_EINVAL);
    assert_null(strstr(err, "secret"));
    assert_int_equal(out[0], 0);

    write_file(path, "smtp://a\nsmtp://b\n");
    assert_int_equal(cl_mail_url_load(path, out, sizeof out, err, sizeof err), CL_EINVAL);

    /* CL_URL_MAX bytes and a newline: fits; one more: refused */
    memset(big, 'a', CL_URL_MAX + 15);
    memcpy(big, "smtp://", 7);
    big[CL_URL_MAX] = '\n';
    big[CL_URL_MAX + 1] = 0;
    write_file(path, big);
    assert_int_equal(cl_mail_url_load(path, out, sizeof out, err, sizeof err), 0);
    assert_int_equal(strlen(out), CL_URL_MAX);
    big[CL_URL_MAX] = 'a';
    big[CL_URL_MAX + 1] = '\n';
    big[CL_URL_MAX + 2] = 0;
    write_file(path, big);
    assert_int_equal(cl_mail_url_load(path, out, sizeof out, err, sizeof err), CL_EINVAL);

    unlink(path);
    assert_int_equal(cl_mail_url_load(path, out, sizeof out, err, sizeof err), CL_EIO);
    free(big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_report_only),
        cmocka_unit_test(test_fix_files_is_what_the_relay_does_at_start),
        cmocka_unit_test(test_fix_all_is_audit_fix),
        cmocka_unit_test(test_smtp_url_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * embed_web: a build-time host tool that writes a C file holding a table
 * of files for the relay to serve from memory (src/relay/web.h, struct
 * cl_web_asset): the web app's build output (web/dist) and the
 * machine-readable docs (/llms.txt, /llms-full.txt).
 *
 *   embed_web OUT.c SYMBOL [--dir DIR] [--file URLPATH=FILE]...
 *
 * --dir adds every regular file under DIR as "/relative/path" (a DIR
 * that does not exist adds nothing: a build without the web app);
 * --file adds FILE as URLPATH, and a URLPATH named again appends FILE to
 * it (a blank line between). Each file keeps its bytes and, when gzip
 * makes it smaller, a gzip copy too; each gets a strong ETag, the
 * BLAKE2b-128 of its bytes in hex (cl_web_etag computes the same at run
 * time for --web-dir). The table is sorted by path (the relay bsearches
 * it) and defines SYMBOL[] and SYMBOL_n. The output is deterministic
 * (no time stamps), written to OUT.c.tmp and renamed.
 */
#include <dirent.h>
#include <errno.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

/* What one file may weigh, and how many files: a build that crosses
 * either is a mistake to look at, not something to embed. */
#define EMBED_FILE_MAX  (32u * 1024 * 1024)
#define EMBED_FILES_MAX 4096
#define EMBED_PATH_MAX  240 /* below the relay's request path buffer (256) */

struct entry {
    char path[EMBED_PATH_MAX + 1];
    unsigned char *data;
    size_t len;
    unsigned char *gz; /* NULL: gzip is not smaller */
    size_t gz_len;
    char etag[33]; /* BLAKE2b-128 of data, hex */
};

static struct entry entries[EMBED_FILES_MAX];
static size_t nentries;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "embed_web: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

/* URL paths go into the generated C as string literals and are served
 * as they are: a conservative character set needs no escaping anywhere. */
static bool path_ok(const char *p)
{
    size_t n = strlen(p);
    if (n < 2 || n > EMBED_PATH_MAX || p[0] != '/' || strstr(p, "//") || strstr(p, "/."))
        return false;
    return strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-~@+") == n;
}

static unsigned char *read_all(const char *file, size_t *len)
{
    FILE *f = fopen(file, "rb");
    unsigned char *buf;
    long n;
    if (!f)
        die("cannot open %s: %s", file, strerror(errno));
    if (fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET))
        die("cannot size %s", file);
    if ((unsigned long)n > EMBED_FILE_MAX)
        die("%s is larger than the limit (EMBED_FILE_MAX)", file);
    buf = malloc((size_t)n + 1);
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n)
        die("cannot read %s", file);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static void add(const char *path, const char *file)
{
    size_t len;
    unsigned char *data;
    if (!path_ok(path))
        die("%s: a path the relay would not serve as is (%s)", path, file);
    data = read_all(file, &len);
    for (size_t i = 0; i < nentries; i++) {
        if (strcmp(entries[i].path, path) != 0)
            continue;
        /* the same path again: append, a blank line between */
        unsigned char *nb = realloc(entries[i].data, entries[i].len + 2 + len + 1);
        if (!nb)
            die("out of memory");
        memcpy(nb + entries[i].len, "\n\n", 2);
        memcpy(nb + entries[i].len + 2, data, len);
        entries[i].data = nb;
        entries[i].len += 2 + len;
        free(data);
        return;
    }
    if (nentries == EMBED_FILES_MAX)
        die("more than EMBED_FILES_MAX files");
    snprintf(entries[nentries].path, sizeof entries[nentries].path, "%s", path);
    entries[nentries].data = data;
    entries[nentries].len = len;
    nentries++;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Adds the files under dir (url: its URL path prefix), in name order. */
static void walk(const char *dir, const char *url)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char *names[EMBED_FILES_MAX];
    size_t n = 0;
    if (!d)
        die("cannot open directory %s: %s", dir, strerror(errno));
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        if (n == EMBED_FILES_MAX)
            die("more than EMBED_FILES_MAX files in %s", dir);
        names[n] = strdup(de->d_name);
        if (!names[n++])
            die("out of memory");
    }
    closedir(d);
    qsort(names, n, sizeof names[0], cmp_name);
    for (size_t i = 0; i < n; i++) {
        char file[4096], sub[EMBED_PATH_MAX + 2];
        struct stat st;
        if (snprintf(file, sizeof file, "%s/%s", dir, names[i]) >= (int)sizeof file ||
            snprintf(sub, sizeof sub, "%s/%s", url, names[i]) >= (int)sizeof sub)
            die("path too long: %s/%s", dir, names[i]);
        if (stat(file, &st))
            die("cannot stat %s: %s", file, strerror(errno));
        if (S_ISDIR(st.st_mode))
            walk(file, sub);
        else if (S_ISREG(st.st_mode))
            add(sub, file);
        free(names[i]);
    }
}

/* gzip of data (deterministic: no name, no time stamp); NULL unless it
 * is smaller than the data. */
static unsigned char *gzip(const unsigned char *data, size_t len, size_t *out_len)
{
    z_stream z;
    unsigned char *out;
    uLong cap;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) != Z_OK)
        die("deflateInit2 failed");
    cap = deflateBound(&z, (uLong)len);
    out = malloc(cap);
    if (!out)
        die("out of memory");
    z.next_in = (Bytef *)data;
    z.avail_in = (uInt)len;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    if (deflate(&z, Z_FINISH) != Z_STREAM_END)
        die("deflate failed");
    *out_len = z.total_out;
    deflateEnd(&z);
    if (*out_len >= len) {
        free(out);
        return NULL;
    }
    return out;
}

static void write_bytes(FILE *f, const char *name, const unsigned char *b, size_t len)
{
    fprintf(f, "static const unsigned char %s[] = {", name);
    for (size_t i = 0; i < len; i++)
        fprintf(f, "%s0x%02x,", i % 16 ? "" : "\n    ", b[i]);
    fprintf(f, "\n    0x00};\n"); /* a trailing NUL: never an empty array */
}

static int cmp_entry(const void *a, const void *b)
{
    return strcmp(((const struct entry *)a)->path, ((const struct entry *)b)->path);
}

int main(int argc, char **argv)
{
    const char *out, *sym;
    char tmp[4096], name[64];
    FILE *f;
    if (argc < 3)
        die("usage: embed_web OUT.c SYMBOL [--dir DIR] [--file URLPATH=FILE]...");
    out = argv[1];
    sym = argv[2];
    if (sodium_init() < 0)
        die("libsodium failed to initialise");
    for (int i = 3; i < argc; i++) {
        if (!strcmp(argv[i], "--dir") && i + 1 < argc) {
            struct stat st;
            i++;
            if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode))
                walk(argv[i], "");
        } else if (!strcmp(argv[i], "--file") && i + 1 < argc) {
            char spec[4096], *eq;
            i++;
            snprintf(spec, sizeof spec, "%s", argv[i]);
            eq = strchr(spec, '=');
            if (!eq)
                die("--file wants URLPATH=FILE, got %s", argv[i]);
            *eq = 0;
            add(spec, eq + 1);
        } else {
            die("unknown argument %s", argv[i]);
        }
    }
    qsort(entries, nentries, sizeof entries[0], cmp_entry);

    snprintf(tmp, sizeof tmp, "%s.tmp", out);
    f = fopen(tmp, "w");
    if (!f)
        die("cannot write %s: %s", tmp, strerror(errno));
    fprintf(f, "/* generated by tools/embed_web.c: do not edit */\n"
               "#include \"relay/web.h\"\n\n");
    for (size_t i = 0; i < nentries; i++) {
        struct entry *e = &entries[i];
        unsigned char hash[16];
        e->gz = gzip(e->data, e->len, &e->gz_len);
        crypto_generichash(hash, sizeof hash, e->data, e->len, NULL, 0);
        sodium_bin2hex(e->etag, sizeof e->etag, hash, sizeof hash);
        fprintf(f, "/* %s: %zu bytes, gzip %zu */\n", e->path, e->len, e->gz ? e->gz_len : 0);
        snprintf(name, sizeof name, "cl__%s_%zu", sym, i);
        write_bytes(f, name, e->data, e->len);
        if (e->gz) {
            snprintf(name, sizeof name, "cl__%s_%zu_gz", sym, i);
            write_bytes(f, name, e->gz, e->gz_len);
        }
        fputc('\n', f);
    }
    fprintf(f, "const struct cl_web_asset %s[] = {\n", sym);
    for (size_t i = 0; i < nentries; i++) {
        const struct entry *e = &entries[i];
        fprintf(f, "    {\"%s\", cl__%s_%zu, %zu, ", e->path, sym, i, e->len);
        if (e->gz)
            fprintf(f, "cl__%s_%zu_gz, %zu, ", sym, i, e->gz_len);
        else
            fprintf(f, "NULL, 0, ");
        fprintf(f, "\"%s\"},\n", e->etag);
    }
    fprintf(f, "    {NULL, NULL, 0, NULL, 0, \"\"},\n};\nconst size_t %s_n = %zu;\n", sym,
            nentries);
    if (fclose(f) != 0 || rename(tmp, out) != 0)
        die("cannot write %s: %s", out, strerror(errno));
    for (size_t i = 0; i < nentries; i++) { /* for LeakSanitizer in sanitizer builds */
        free(entries[i].data);
        free(entries[i].gz);
    }
    return 0;
}

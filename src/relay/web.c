/* web: the web app and the machine-readable docs, embedded or from --web-dir. */
#include "relay/web.h"
#include "core/err.h"
#include "core/fileio.h"
#include "core/log.h"
#include "relay/http.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* Request headers the web reads are copied into this much; a longer one
 * is treated as absent (no gzip, no 304: a full answer, never wrong). */
#define CL_WEB_HDR_MAX 1024

/* The page a relay built without the web app answers with (503). */
static const char cl__not_built[] =
    "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
    "<title>clawlink: web app not built</title></head><body>\n"
    "<h1>The web app is not built into this relay</h1>\n"
    "<p>This clawlink-relay was built without <code>web/dist</code>. "
    "Run <code>make build</code> (it builds the web app first, then the relay), "
    "or start the relay with <code>--web-dir DIR</code> to serve a built app from disk.</p>\n"
    "<p>The API is here all the same: <a href=\"/api/v1/openapi.json\">/api/v1/openapi.json</a>, "
    "<a href=\"/llms.txt\">/llms.txt</a>.</p>\n"
    "</body></html>\n";

/* ---- pure helpers (unit-tested, fuzzed) ------------------------------- */

const struct cl_web_asset *cl_web_find(const struct cl_web_asset *table, size_t n, const char *path)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int d = strcmp(path, table[mid].path);
        if (d == 0)
            return &table[mid];
        if (d < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

/* The extension of path's last segment ("js"), or NULL. */
static const char *cl__ext(const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *seg = slash ? slash + 1 : path;
    const char *dot = strrchr(seg, '.');
    return dot && dot[1] ? dot + 1 : NULL;
}

const char *cl_web_content_type(const char *path)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        {"html", "text/html; charset=utf-8"},
        {"js", "text/javascript; charset=utf-8"},
        {"mjs", "text/javascript; charset=utf-8"},
        {"css", "text/css; charset=utf-8"},
        {"json", "application/json"},
        {"map", "application/json"},
        {"webmanifest", "application/manifest+json"},
        {"txt", "text/plain; charset=utf-8"},
        {"md", "text/markdown; charset=utf-8"},
        {"svg", "image/svg+xml"},
        {"png", "image/png"},
        {"jpg", "image/jpeg"},
        {"jpeg", "image/jpeg"},
        {"gif", "image/gif"},
        {"webp", "image/webp"},
        {"avif", "image/avif"},
        {"ico", "image/x-icon"},
        {"woff2", "font/woff2"},
        {"woff", "font/woff"},
        {"ttf", "font/ttf"},
        {"otf", "font/otf"},
        {"wasm", "application/wasm"},
        {"xml", "application/xml"},
    };
    const char *ext = cl__ext(path);
    if (ext)
        for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
            if (strcasecmp(ext, types[i].ext) == 0)
                return types[i].type;
    return "application/octet-stream";
}

const char *cl_web_cache_control(const char *path)
{
    return strncmp(path, "/assets/", 8) == 0 ? CL_WEB_CACHE_IMMUTABLE : CL_WEB_CACHE_REVALIDATE;
}

static bool cl__ows(char ch)
{
    return ch == ' ' || ch == '\t';
}

/* Accept-Encoding: 1#( codings [ OWS ";" OWS "q=" qvalue ] ). */
bool cl_web_accepts_gzip(const char *ae)
{
    const char *p = ae;
    if (!p)
        return false;
    while (*p) {
        const char *tok, *end = strchr(p, ',');
        size_t tl;
        bool zero = false;
        if (!end)
            end = p + strlen(p);
        while (p < end && cl__ows(*p))
            p++;
        tok = p;
        while (p < end && *p != ';' && !cl__ows(*p))
            p++;
        tl = (size_t)(p - tok);
        /* parameters: only q matters; q=0 (0, 0.0, 0.000) refuses */
        while (p < end) {
            if (*p == ';' || cl__ows(*p)) {
                p++;
                continue;
            }
            if ((*p == 'q' || *p == 'Q') && p + 1 < end && p[1] == '=') {
                const char *v = p + 2;
                zero = v < end && *v == '0';
                for (v++; zero && v < end && !cl__ows(*v) && *v != ';'; v++)
                    if (*v != '.' && *v != '0')
                        zero = false;
            }
            while (p < end && *p != ';')
                p++;
        }
        if (!zero && ((tl == 4 && strncasecmp(tok, "gzip", 4) == 0) ||
                      (tl == 6 && strncasecmp(tok, "x-gzip", 6) == 0) || (tl == 1 && *tok == '*')))
            return true;
        p = *end ? end + 1 : end;
    }
    return false;
}

/* If-None-Match: "*" / 1#( [ "W/" ] DQUOTE etagc DQUOTE ). */
bool cl_web_etag_matches(const char *inm, const char *etag_hex)
{
    const char *p = inm;
    size_t hl = strlen(etag_hex);
    if (!p || !hl)
        return false;
    while (*p) {
        while (*p == ',' || cl__ows(*p))
            p++;
        if (*p == '*')
            return true;
        if (p[0] == 'W' && p[1] == '/')
            p += 2;
        if (*p != '"') {
            /* not an entity tag: skip to the next list element */
            while (*p && *p != ',')
                p++;
            continue;
        }
        const char *tag = ++p;
        while (*p && *p != '"')
            p++;
        if (!*p)
            return false; /* unterminated */
        size_t tl = (size_t)(p - tag);
        if ((tl == hl || (tl == hl + 3 && memcmp(tag + hl, "-gz", 3) == 0)) &&
            memcmp(tag, etag_hex, hl) == 0)
            return true;
        p++;
    }
    return false;
}

void cl_web_etag(const void *data, size_t len, char out[CL_WEB_ETAG_HEX + 1])
{
    unsigned char hash[CL_WEB_ETAG_HEX / 2];
    crypto_generichash(hash, sizeof hash, data, len, NULL, 0);
    sodium_bin2hex(out, CL_WEB_ETAG_HEX + 1, hash, sizeof hash);
}

/* Whether path is prefix itself or lies under it ("/api" and "/api/x",
 * not "/apix"). */
static bool cl__under(const char *path, const char *prefix)
{
    size_t n = strlen(prefix);
    return strncmp(path, prefix, n) == 0 && (path[n] == 0 || path[n] == '/');
}

bool cl_web_is_reserved(const char *path)
{
    static const char *const reserved[] = {"/api",    "/functions", "/connect", "/session",
                                           "/events", "/healthz",   "/readyz"};
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++)
        if (cl__under(path, reserved[i]))
            return true;
    return false;
}

bool cl_web_is_page(const char *path)
{
    return path[0] == '/' && !cl_web_is_reserved(path) && !cl__ext(path);
}

/* The next non-empty segment of *p (advanced past it): its start, with
 * its length in *len; NULL when there is none. */
static const char *cl__segment(const char **p, size_t *len)
{
    const char *s = *p, *e;
    while (*s == '/')
        s++;
    if (!*s)
        return NULL;
    e = strchr(s, '/');
    if (!e)
        e = s + strlen(s);
    *len = (size_t)(e - s);
    *p = e;
    return s;
}

bool cl_web_route_match(const char *pattern, const char *path)
{
    for (;;) {
        size_t pl = 0, sl = 0;
        const char *pseg = cl__segment(&pattern, &pl), *sseg = cl__segment(&path, &sl);
        if (!pseg || !sseg)
            return !pseg && !sseg;
        if (pseg[0] != ':' && (pl != sl || memcmp(pseg, sseg, pl) != 0))
            return false;
    }
}

bool cl_web_is_app_route(const char *path)
{
    for (size_t i = 0; i < cl_web_routes_n; i++)
        if (cl_web_route_match(cl_web_routes[i], path))
            return true;
    return false;
}

int cl_web_dir_resolve(const char *root, const char *path, char *out, size_t outlen)
{
    char full[PATH_MAX], real[PATH_MAX];
    size_t rl = strlen(root);
    struct stat st;
    int n;

    if (path[0] != '/')
        return CL_EINVAL;
    if (strcmp(path, "/") == 0)
        path = "/index.html";
    for (const char *p = path; *p; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f || *p == '\\')
            return CL_EINVAL;
        /* every segment: not empty, not "." or "..", not hidden */
        if (*p == '/' && (p[1] == '/' || p[1] == '.' || p[1] == 0))
            return CL_EINVAL;
    }
    n = snprintf(full, sizeof full, "%s%s", root, path);
    if (n < 0 || (size_t)n >= sizeof full)
        return CL_EINVAL;
    if (!realpath(full, real))
        return errno == ENOENT || errno == ENOTDIR ? CL_ENOTFOUND : CL_EINVAL;
    /* the file, symlinks followed, must still be under root */
    if (strncmp(real, root, rl) != 0 || real[rl] != '/')
        return CL_EFORBIDDEN;
    if (stat(real, &st) != 0 || !S_ISREG(st.st_mode))
        return CL_ENOTFOUND;
    n = snprintf(out, outlen, "%s", real);
    if (n < 0 || (size_t)n >= outlen)
        return CL_EINVAL;
    return 0;
}

int cl_web_read_file(const char *file, size_t max, unsigned char **data, size_t *len)
{
    char *buf;
    int rc = cl_read_file(file, max, CL_READ_NOFOLLOW, &buf, len);
    /* a directory, a link or a device is no file of the app's: not found */
    if (rc == CL_EINVAL)
        rc = CL_ENOTFOUND;
    *data = (unsigned char *)buf;
    return rc;
}

/* ---- serving ---------------------------------------------------------- */

/* A request header's value into buf, "" when absent or too long. */
static void cl__header(struct cl_conn *c, enum lws_token_indexes tok, char *buf, size_t len)
{
    if (lws_hdr_copy(c->wsi, buf, (int)len, tok) <= 0)
        buf[0] = 0;
}

/* Answers one file with status (200, or 404 for index.html answering a
 * page the app has no route for): for a 200, 304 when If-None-Match names
 * it, else the bytes, gzip'd when the client takes it and a gzip copy
 * exists (gz may be NULL). A 404 carries no ETag (it is no representation
 * of the path to revalidate). borrowed: data and gz outlive the reply
 * (embedded). */
static void cl__serve(struct cl_conn *c, int status, const char *path, const unsigned char *data,
                      size_t len, const unsigned char *gz, size_t gz_len, const char *etag_hex,
                      bool borrowed)
{
    char hdr[CL_WEB_HDR_MAX];
    char etag[CL_WEB_ETAG_HEX + 8];
    struct cl_http_body b = {
        .status = status,
        .content_type = cl_web_content_type(path),
        .data = data,
        .len = len,
        .borrowed = borrowed,
        .head = c->http.method == CL_HTTP_HEAD,
        .cache_control = cl_web_cache_control(path),
        .etag = etag,
        .vary_encoding = gz != NULL,
    };

    cl__header(c, WSI_TOKEN_HTTP_ACCEPT_ENCODING, hdr, sizeof hdr);
    if (gz && cl_web_accepts_gzip(hdr)) {
        b.data = gz;
        b.len = gz_len;
        b.content_encoding = "gzip";
    }
    if (status != 200) {
        b.etag = NULL;
        cl_http_reply_body(c, &b);
        return;
    }
    /* a strong ETag per representation: the gzip bytes are other bytes */
    snprintf(etag, sizeof etag, "\"%s%s\"", etag_hex, b.content_encoding ? "-gz" : "");
    cl__header(c, WSI_TOKEN_HTTP_IF_NONE_MATCH, hdr, sizeof hdr);
    if (hdr[0] && cl_web_etag_matches(hdr, etag_hex)) {
        b.status = 304;
        b.head = true;
        b.content_encoding = NULL;
    }
    cl_http_reply_body(c, &b);
}

static void cl__serve_asset(struct cl_conn *c, int status, const struct cl_web_asset *a)
{
    cl__serve(c, status, a->path, a->data, a->len, a->gz, a->gz_len, a->etag, true);
}

static void cl__not_built_page(struct cl_conn *c)
{
    struct cl_http_body b = {
        .status = 503,
        .content_type = "text/html; charset=utf-8",
        .data = cl__not_built,
        .len = sizeof cl__not_built - 1,
        .borrowed = true,
        .head = c->http.method == CL_HTTP_HEAD,
    };
    cl_http_reply_body(c, &b);
}

/* Serves path from the embedded app; index.html for a page. */
static void cl__handle_embedded(struct cl_conn *c, const char *path)
{
    const struct cl_web_asset *a =
        cl_web_find(cl_web_app, cl_web_app_n, strcmp(path, "/") == 0 ? "/index.html" : path);
    if (a) {
        cl__serve_asset(c, 200, a);
        return;
    }
    if (!cl_web_is_page(path)) {
        cl_http_reply_error(c, 404, "not_found", "no such file");
        return;
    }
    a = cl_web_find(cl_web_app, cl_web_app_n, "/index.html");
    if (a)
        cl__serve_asset(c, cl_web_is_app_route(path) ? 200 : 404, a);
    else
        cl__not_built_page(c);
}

/* Serves path from --web-dir: read per request (development). */
static void cl__handle_dir(struct cl_conn *c, const char *path, const char *dir)
{
    char file[PATH_MAX], etag[CL_WEB_ETAG_HEX + 1];
    unsigned char *data;
    size_t len;
    int rc, status = 200;

    if (strcmp(path, "/") == 0)
        path = "/index.html"; /* for its content type and cache lifetime */
    rc = cl_web_dir_resolve(dir, path, file, sizeof file);
    if (rc == CL_ENOTFOUND && cl_web_is_page(path)) {
        status = cl_web_is_app_route(path) ? 200 : 404;
        path = "/index.html";
        rc = cl_web_dir_resolve(dir, path, file, sizeof file);
        if (rc == CL_ENOTFOUND) {
            cl__not_built_page(c);
            return;
        }
    }
    if (rc == CL_EINVAL) {
        cl_http_reply_error(c, 400, "bad_path", "this path cannot name a file");
        return;
    }
    if (rc) { /* not there, or a symlink out of the directory: the same 404 */
        cl_http_reply_error(c, 404, "not_found", "no such file");
        return;
    }
    rc = cl_web_read_file(file, CL_WEB_FILE_MAX, &data, &len);
    if (rc == CL_ELIMIT) {
        cl_warn("web", "file over CL_WEB_FILE_MAX not served", "file=%s max=%d", file,
                CL_WEB_FILE_MAX);
        cl_http_reply_error(c, 500, "web_file_too_large", "file is larger than %d bytes",
                            CL_WEB_FILE_MAX);
        return;
    }
    if (rc) {
        cl_http_reply_error(c, 404, "not_found", "no such file");
        return;
    }
    cl_web_etag(data, len, etag);
    cl__serve(c, status, path, data, len, NULL, 0, etag, false); /* copied: data is ours */
    free(data);
}

bool cl_web_handle(struct cl_conn *c, const char *path, const char *web_dir)
{
    const struct cl_web_asset *doc;
    if (cl_web_is_reserved(path))
        return false;
    doc = cl_web_find(cl_web_docs, cl_web_docs_n, path);
    if (doc)
        cl__serve_asset(c, 200, doc);
    else if (web_dir)
        cl__handle_dir(c, path, web_dir);
    else
        cl__handle_embedded(c, path);
    return true;
}

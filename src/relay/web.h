/*
 * web: the relay serves the web app and the machine-readable docs.
 *
 * The web app's build output (web/dist) is embedded at build time
 * (tools/embed_web.c writes the table; CMakeLists.txt runs it), each file
 * with its bytes, a gzip copy when that is smaller, and a strong ETag
 * (BLAKE2b-128 of the bytes). /llms.txt and /llms-full.txt are embedded
 * the same way from docs/. With --web-dir the app is read from disk
 * instead (front-end development), confined to that directory.
 *
 * http.c asks cl_web_handle for every GET/HEAD no API route took: a file
 * is served as itself, a page path (no file extension) gets index.html (the
 * app routes in the browser): with 200 when it is one of the app's routes
 * (cl_web_routes, read from web/src/main.ts at build time), else with 404,
 * so the app shows its not-found page and a client or crawler sees the
 * status. The API's namespaces (/api, /functions, the WebSockets) are left
 * to http.c's JSON 404.
 */
#ifndef CL_RELAY_WEB_H
#define CL_RELAY_WEB_H

#include <stdbool.h>
#include <stddef.h>

#include "relay/conn.h"

/* The largest file --web-dir serves; a larger one is answered 500
 * (web_file_too_large) and logged. Embedded files are bounded at build
 * time (tools/embed_web.c, EMBED_FILE_MAX). */
#define CL_WEB_FILE_MAX (16 * 1024 * 1024)

/* An ETag's hex digits (BLAKE2b-128), without quotes or NUL. */
#define CL_WEB_ETAG_HEX 32

/* Cache-Control of hashed assets (/assets/...: the name changes with the
 * content) and of everything else (revalidate each time, with the ETag). */
#define CL_WEB_CACHE_IMMUTABLE  "public, max-age=31536000, immutable"
#define CL_WEB_CACHE_REVALIDATE "no-cache"

/* One embedded file. A table is sorted by path and ends with a NULL path. */
struct cl_web_asset {
    const char *path;          /* "/assets/index-1a2b3c.js" */
    const unsigned char *data; /* the bytes (followed by a NUL not counted) */
    size_t len;
    const unsigned char *gz; /* gzip of the bytes, or NULL when not smaller */
    size_t gz_len;
    const char *etag; /* CL_WEB_ETAG_HEX hex digits */
};

/* The web app (empty when web/dist did not exist at build time) and the
 * docs (/llms.txt, /llms-full.txt), generated at build time. */
extern const struct cl_web_asset cl_web_app[];
extern const size_t cl_web_app_n;
extern const struct cl_web_asset cl_web_docs[];
extern const size_t cl_web_docs_n;

/* The entry for path in a sorted table of n entries, or NULL. */
const struct cl_web_asset *cl_web_find(const struct cl_web_asset *table, size_t n,
                                       const char *path);

/* The Content-Type for a file path, from its extension (text types with
 * "; charset=utf-8"); application/octet-stream when unknown. */
const char *cl_web_content_type(const char *path);

/* Cache-Control for a served file path: CL_WEB_CACHE_IMMUTABLE under
 * /assets/, CL_WEB_CACHE_REVALIDATE otherwise. */
const char *cl_web_cache_control(const char *path);

/* Whether an Accept-Encoding header value admits gzip (a "gzip",
 * "x-gzip" or "*" coding whose q is not 0). NULL: no. */
bool cl_web_accepts_gzip(const char *accept_encoding);

/* Whether an If-None-Match header value names the file whose ETag hex is
 * etag_hex: "*", or any listed entity tag (weak or strong: the weak
 * comparison RFC 9110 asks for) equal to "HEX" or "HEX-gz". */
bool cl_web_etag_matches(const char *if_none_match, const char *etag_hex);

/* The ETag hex of bytes, the same the build computes for embedded files. */
void cl_web_etag(const void *data, size_t len, char out[CL_WEB_ETAG_HEX + 1]);

/* Whether path belongs to the API (/api, /functions), the WebSockets
 * (/connect, /session, /events) or /healthz: never a page of the app. */
bool cl_web_is_reserved(const char *path);

/* Whether path names a page of the app (index.html answers it): not
 * reserved, and its last segment has no file extension. */
bool cl_web_is_page(const char *path);

/* The web app's route patterns ("/project/:id"), NULL-terminated:
 * generated at build time from the route("...") lines of web/src/main.ts
 * (cmake/web_routes.cmake), the catch-all "*" left out. */
extern const char *const cl_web_routes[];
extern const size_t cl_web_routes_n;

/* Whether path matches a route pattern as the app's router does
 * (web/src/router.ts): empty segments are ignored on both sides, a ":x"
 * segment matches any one non-empty segment, others match exactly. */
bool cl_web_route_match(const char *pattern, const char *path);

/* Whether path is a page the app has a route for (cl_web_routes). */
bool cl_web_is_app_route(const char *path);

/* --web-dir: maps a request path to a file under root (a directory path
 * already through realpath). "/" means "/index.html". Refuses "..", ".",
 * hidden segments, backslashes and control characters (CL_EINVAL); the
 * file's realpath must stay under root (a symlink out: CL_EFORBIDDEN);
 * CL_ENOTFOUND if there is no regular file. 0 with out set. */
int cl_web_dir_resolve(const char *root, const char *path, char *out, size_t outlen);

/* Reads a regular file of at most max bytes into a malloc'd buffer.
 * 0, CL_ENOTFOUND, CL_ELIMIT (larger than max) or CL_EIO. */
int cl_web_read_file(const char *file, size_t max, unsigned char **data, size_t *len);

/* Serves a GET or HEAD of path that no API route took; web_dir is
 * --web-dir (resolved) or NULL for the embedded app. Returns true if it
 * answered, false if the path is the API's (the caller answers 404). */
bool cl_web_handle(struct cl_conn *c, const char *path, const char *web_dir);

#endif

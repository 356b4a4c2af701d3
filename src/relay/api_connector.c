/*
 * api_connector: GET /functions/v1/download-connector — the agent binary
 * for the asked platform when this relay has one, otherwise how to build
 * it (seed 001: "Returns the connector binary or build instructions").
 * For a machine being set up, which has no user session: GET /install.sh,
 * the installer (deploy/install.sh with this relay's address and the
 * SHA-256 of every binary it has), and POST download-connector with a
 * live pairing code in the body as the credential (not spent by it).
 *
 * Binaries come from --connector-dir, by default the directory of the
 * running relay executable (the build puts the host's agent, `clawlink`,
 * beside `clawlink-relay`): DIR/clawlink-PLATFORM for any platform, and
 * DIR/clawlink for the relay's own. PLATFORM is "os-arch" as uname names
 * them, lower-cased ("linux-x86_64", "linux-aarch64"). The platform is
 * checked against a small alphabet before it reaches a path, so it cannot
 * name anything outside DIR.
 */
#include "core/err.h"
#include "core/json.h"
#include "core/log.h"
#include "relay/http.h"
#include "relay/policy.h"
#include "relay/relay.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>

#include <ctype.h>
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#define CL__PLATFORM_MAX  32
#define CL__AGENT_NAME    "clawlink"
#define CL__PLATFORMS_MAX 63 /* binaries one relay lists or sums */

/* deploy/install.sh, embedded at build time (cmake/embed.cmake). */
extern const unsigned char cl_install_sh[];
extern const size_t cl_install_sh_len;

/* "linux-x86_64" for the machine the relay runs on. */
static void cl__host_platform(char out[CL__PLATFORM_MAX + 1])
{
    struct utsname u;
    if (uname(&u) != 0 || strlen(u.sysname) + strlen(u.machine) + 1 > CL__PLATFORM_MAX) {
        snprintf(out, CL__PLATFORM_MAX + 1, "unknown");
        return;
    }
    snprintf(out, CL__PLATFORM_MAX + 1, "%.*s-%.*s", CL__PLATFORM_MAX / 2, u.sysname,
             CL__PLATFORM_MAX / 2 - 1, u.machine);
    for (char *p = out; *p; p++)
        *p = (char)tolower((unsigned char)*p);
}

/* os-arch: 3..32 bytes of [a-z0-9_-], with a '-' inside. */
static bool cl__platform_valid(const char *p)
{
    size_t n = strlen(p);
    const char *dash = strchr(p, '-');
    return n >= 3 && n <= CL__PLATFORM_MAX &&
           strspn(p, "abcdefghijklmnopqrstuvwxyz0123456789_-") == n && dash && dash != p && dash[1];
}

/* The directory binaries are served from. */
static int cl__dir(struct cl_relay *r, char out[PATH_MAX])
{
    ssize_t n;
    char *slash;
    if (r->opts.connector_dir) {
        if (strlen(r->opts.connector_dir) >= PATH_MAX)
            return CL_EINVAL;
        snprintf(out, PATH_MAX, "%s", r->opts.connector_dir);
        return 0;
    }
    n = readlink("/proc/self/exe", out, PATH_MAX - 1);
    if (n <= 0)
        return CL_EIO;
    out[n] = 0;
    slash = strrchr(out, '/');
    if (!slash)
        return CL_EIO;
    *slash = 0;
    return 0;
}

static bool cl__regular_file(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode) && access(path, R_OK) == 0;
}

/* Finds the agent for platform in dir; true with its path. */
static bool cl__find(const char *dir, const char *platform, const char *host, char path[PATH_MAX])
{
    int n = snprintf(path, PATH_MAX, "%s/" CL__AGENT_NAME "-%s", dir, platform);
    if (n > 0 && n < PATH_MAX && cl__regular_file(path))
        return true;
    if (strcmp(platform, host) != 0)
        return false;
    n = snprintf(path, PATH_MAX, "%s/" CL__AGENT_NAME, dir);
    return n > 0 && n < PATH_MAX && cl__regular_file(path);
}

static int cl__cmp_str(const void *a, const void *b)
{
    return strcmp(json_string_value(*(json_t *const *)a), json_string_value(*(json_t *const *)b));
}

/* The platforms dir has agents for, sorted. */
static json_t *cl__platforms(const char *dir, const char *host)
{
    json_t *arr = json_array(), *items[CL__PLATFORMS_MAX + 1];
    char path[PATH_MAX];
    size_t n = 0;
    bool host_seen = false;
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)) && n < sizeof items / sizeof items[0] - 1) {
        const char *p = e->d_name;
        if (strncmp(p, CL__AGENT_NAME "-", sizeof CL__AGENT_NAME) != 0)
            continue;
        p += sizeof CL__AGENT_NAME;
        if (!cl__platform_valid(p) || !cl__find(dir, p, "", path))
            continue;
        host_seen = host_seen || strcmp(p, host) == 0;
        items[n++] = json_string(p);
    }
    if (d)
        closedir(d);
    if (!host_seen && cl__find(dir, host, host, path))
        items[n++] = json_string(host);
    qsort(items, n, sizeof items[0], cl__cmp_str);
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, items[i]);
    return arr;
}

/* SHA-256 of the file at path, as 64 hex digits: read again only when its
 * size or modification time changed (the installer is public, and hashing
 * a binary on every request would make it a cheap way to load the loop). */
static int cl__sha256_file(const char *path, char hex[65])
{
    static struct {
        char path[PATH_MAX];
        off_t size;
        struct timespec mtime;
        char hex[65];
    } cache[CL__PLATFORMS_MAX + 1];
    static size_t next;
    crypto_hash_sha256_state h;
    unsigned char buf[64 * 1024], digest[crypto_hash_sha256_BYTES];
    struct stat sb;
    ssize_t n;
    int fd;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return CL_EIO;
    if (fstat(fd, &sb) != 0)
        goto out_close;
    for (size_t i = 0; i < sizeof cache / sizeof cache[0]; i++) {
        if (strcmp(cache[i].path, path) == 0 && cache[i].size == sb.st_size &&
            cache[i].mtime.tv_sec == sb.st_mtim.tv_sec &&
            cache[i].mtime.tv_nsec == sb.st_mtim.tv_nsec) {
            memcpy(hex, cache[i].hex, 65);
            close(fd);
            return 0;
        }
    }
    crypto_hash_sha256_init(&h);
    while ((n = read(fd, buf, sizeof buf)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            goto out_close;
        crypto_hash_sha256_update(&h, buf, (unsigned long long)n);
    }
    close(fd);
    crypto_hash_sha256_final(&h, digest);
    sodium_bin2hex(hex, 65, digest, sizeof digest);
    if (strlen(path) < PATH_MAX) {
        size_t i = next++ % (sizeof cache / sizeof cache[0]);
        snprintf(cache[i].path, sizeof cache[i].path, "%s", path);
        cache[i].size = sb.st_size;
        cache[i].mtime = sb.st_mtim;
        memcpy(cache[i].hex, hex, 65);
    }
    return 0;

out_close:
    close(fd);
    return CL_EIO;
}

/* The http(s) base URL agents pair against, from the ws(s) relay URL. */
static void cl__api_base(struct cl_relay *r, char *out, size_t n)
{
    const char *u = r->relay_url;
    if (strncmp(u, "wss://", 6) == 0)
        snprintf(out, n, "https://%s", u + 6);
    else if (strncmp(u, "ws://", 5) == 0)
        snprintf(out, n, "http://%s", u + 5);
    else
        snprintf(out, n, "%s", u);
}

/* 200 JSON: what this relay can serve, and how to build the agent. */
static void cl__instructions(struct cl_http_req *req, const char *platform, const char *host,
                             const char *dir, const char *message)
{
    char base[CL_URL_MAX + 16], pair[CL_URL_MAX + 96];
    json_t *steps;
    cl__api_base(req->relay, base, sizeof base);
    snprintf(pair, sizeof pair,
             "build/clawlink pair PAIRING_CODE --api %s/functions/v1 --name NAME", base);
    steps =
        json_pack("[s, s, s, s, s, s]",
                  "get the clawlink source, version " CL_VERSION " (the version of this relay)",
                  "install the build dependencies; on Debian or Ubuntu: sudo apt-get install "
                  "build-essential cmake pkg-config libwebsockets-dev libuv1-dev libsodium-dev "
                  "libjansson-dev libsqlite3-dev libcurl4-openssl-dev uthash-dev",
                  "cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DCL_TESTS=OFF -DCL_BENCH=OFF",
                  "cmake --build build --target clawlink", pair, "build/clawlink up");
    cl_http_reply_json(
        req->conn, 200,
        json_pack("{s:o, s:b, s:s, s:o, s:s, s:{s:s, s:o}}", "platform",
                  platform ? json_string(platform) : json_null(), "available", 0, "host_platform",
                  host, "platforms", cl__platforms(dir, host), "message", message, "build",
                  "requirements",
                  "Linux, a C11 compiler, CMake 3.20 or newer, and the libraries named in the "
                  "steps",
                  "steps", steps));
}

static void cl__download(struct cl_http_req *req)
{
    char host[CL__PLATFORM_MAX + 1], platform[CL__PLATFORM_MAX + 1], msg[200], name[64];
    char dir[PATH_MAX], path[PATH_MAX];
    int rc = cl_policy_account(&req->relay->store, req->user_id, CL_ACT_CONNECTOR_DOWNLOAD,
                               req->user_id);
    if (rc) {
        cl_http_reply_errcode(req->conn, rc);
        return;
    }
    cl__host_platform(host);
    rc = cl__dir(req->relay, dir);
    if (rc) {
        cl_error("api", "cannot find the connector directory", "err=%s", cl_strerror(rc));
        cl_http_reply_errcode(req->conn, rc);
        return;
    }
    rc = cl_http_query(req, "platform", platform, sizeof platform);
    if (rc == CL_ENOTFOUND) {
        cl__instructions(req, NULL, host, dir,
                         "name a platform (?platform=os-arch, e.g. linux-x86_64) to download its "
                         "agent; platforms lists what this relay has");
        return;
    }
    if (rc || !cl__platform_valid(platform)) {
        cl_http_reply_error(req->conn, 400, "invalid_request",
                            "query platform must look like os-arch, e.g. linux-x86_64 "
                            "(lower-case letters, digits, '_' and '-', at most %d bytes)",
                            CL__PLATFORM_MAX);
        return;
    }
    if (!cl__find(dir, platform, host, path)) {
        snprintf(msg, sizeof msg, "this relay has no clawlink agent for %s; build it from source",
                 platform);
        cl__instructions(req, platform, host, dir, msg);
        return;
    }
    snprintf(name, sizeof name, CL__AGENT_NAME "-%s", platform);
    if (cl_http_reply_file(req->conn, path, "application/octet-stream", name)) {
        cl_http_reply_error(req->conn, 500, "internal", "the agent binary cannot be read");
        return;
    }
    cl_info("api", "connector download", "platform=%s user=%s", platform, req->user_id);
}

/* Appends src to out (at *len, of cap bytes); false when it does not fit. */
static bool cl__append(char *out, size_t cap, size_t *len, const char *src, size_t n)
{
    if (n > cap - *len)
        return false;
    memcpy(out + *len, src, n);
    *len += n;
    return true;
}

/* GET /install.sh: the installer, with this relay's API base and a line
 * "platform sha256" for every agent binary it has filled in. */
static void cl__install_sh(struct cl_http_req *req)
{
    static const char api_mark[] = "@CLAWLINK_API@", sums_mark[] = "@CLAWLINK_SUMS@";
    char host[CL__PLATFORM_MAX + 1], dir[PATH_MAX], path[PATH_MAX], hex[65];
    char base[CL_URL_MAX + 16], sums[(CL__PLATFORMS_MAX + 1) * (CL__PLATFORM_MAX + 67)];
    const char *tpl = (const char *)cl_install_sh, *end = tpl + cl_install_sh_len, *p;
    size_t slen = 0, olen = 0, cap;
    json_t *platforms;
    char *out;
    int rc;

    cl__host_platform(host);
    rc = cl__dir(req->relay, dir);
    if (rc) {
        cl_http_reply_errcode(req->conn, rc);
        return;
    }
    cl__api_base(req->relay, base, sizeof base);
    /* The base goes between single quotes in a shell script: refuse a
     * --public-url that could end them (it is the operator's, but a
     * script is not the place to find out). */
    if (strpbrk(base, "'\\\n\r")) {
        cl_http_reply_error(req->conn, 500, "internal", "the relay's public URL cannot be quoted");
        return;
    }
    platforms = cl__platforms(dir, host);
    for (size_t i = 0; i < json_array_size(platforms); i++) {
        const char *pl = json_string_value(json_array_get(platforms, i));
        int n;
        if (!cl__find(dir, pl, host, path) || cl__sha256_file(path, hex) != 0)
            continue;
        n = snprintf(sums + slen, sizeof sums - slen, "%s%s %s", slen ? "\n" : "", pl, hex);
        if (n < 0 || (size_t)n >= sizeof sums - slen)
            break;
        slen += (size_t)n;
    }
    json_decref(platforms);

    cap = cl_install_sh_len + strlen(base) + slen;
    out = malloc(cap);
    if (!out)
        abort();
    for (p = tpl; p < end;) {
        const char *a = memmem(p, (size_t)(end - p), api_mark, sizeof api_mark - 1);
        const char *b = memmem(p, (size_t)(end - p), sums_mark, sizeof sums_mark - 1);
        const char *m = a && (!b || a < b) ? a : b;
        if (!m) {
            cl__append(out, cap, &olen, p, (size_t)(end - p));
            break;
        }
        cl__append(out, cap, &olen, p, (size_t)(m - p));
        if (m == a) {
            cl__append(out, cap, &olen, base, strlen(base));
            p = m + sizeof api_mark - 1;
        } else {
            cl__append(out, cap, &olen, sums, slen);
            p = m + sizeof sums_mark - 1;
        }
    }
    cl_http_reply_body(req->conn,
                       &(struct cl_http_body){.status = 200,
                                              .content_type = "text/x-shellscript; charset=utf-8",
                                              .data = out,
                                              .len = olen,
                                              .head = req->method == CL_HTTP_HEAD});
    free(out);
}

/* POST /functions/v1/download-connector {pairing_code, platform}: the
 * binary for a machine that is being paired. Attempts count against the
 * pairing rate limits: a wrong code here is a guess like one at
 * pair-device. */
static void cl__download_with_code(struct cl_http_req *req)
{
    struct cl_relay *r = req->relay;
    char host[CL__PLATFORM_MAX + 1], dir[PATH_MAX], path[PATH_MAX], name[64], err[160];
    char device_id[CL_UUID_LEN + 1];
    const char *code_in, *platform;
    uint8_t code_hash[CL_HASH_LEN];
    int64_t now = cl_now();
    int rc;

    /* A request without a code or platform guesses nothing: it is refused
     * before it counts against the pairing limits. */
    if (cl_json_str(req->body, "body", "pairing_code", true, 64, &code_in, err, sizeof err) ||
        cl_json_str(req->body, "body", "platform", true, CL__PLATFORM_MAX, &platform, err,
                    sizeof err)) {
        cl_http_reply_error(req->conn, 400, "invalid_request", "%s", err);
        return;
    }
    if (!cl__platform_valid(platform)) {
        cl_http_reply_error(req->conn, 400, "invalid_request",
                            "platform must look like os-arch, e.g. linux-x86_64");
        return;
    }
    if (!cl_http_pairing_begin(req, code_in, now, code_hash))
        return;
    rc = r->store.ops->device_code_check(&r->store, code_hash, now, device_id);
    if (rc) {
        cl_http_pairing_failed(req, code_hash, now, rc);
        return;
    }
    cl__host_platform(host);
    rc = cl__dir(r, dir);
    if (rc) {
        cl_http_reply_errcode(req->conn, rc);
        return;
    }
    if (!cl__find(dir, platform, host, path)) {
        cl_http_reply_error(req->conn, 404, "no_binary",
                            "this relay has no clawlink agent for %s; build it from source",
                            platform);
        return;
    }
    snprintf(name, sizeof name, CL__AGENT_NAME "-%s", platform);
    if (cl_http_reply_file(req->conn, path, "application/octet-stream", name)) {
        cl_http_reply_error(req->conn, 500, "internal", "the agent binary cannot be read");
        return;
    }
    cl_info("api", "connector download for pairing", "platform=%s device=%s peer=%s", platform,
            device_id, req->peer);
}

/* Each route names the policy action its handler asks cl_policy_* for. */
const struct cl_route cl_routes_connector[] = {
    {CL_HTTP_GET, "/functions/v1/download-connector", CL_ACT_CONNECTOR_DOWNLOAD, cl__download, 0},
    {CL_HTTP_POST, "/functions/v1/download-connector", CL_ROUTE_PUBLIC, cl__download_with_code, 0},
    {CL_HTTP_GET, "/install.sh", CL_ROUTE_PUBLIC, cl__install_sh, 0},
    {0, NULL, 0, NULL, 0},
};

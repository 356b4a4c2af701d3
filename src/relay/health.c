/* health: /healthz and /readyz (health.h). */
#include "relay/health.h"
#include "core/limits.h"
#include "relay/admission.h"
#include "relay/bus.h"
#include "relay/conn.h"
#include "relay/relay.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <sys/resource.h>

/* Open file descriptors of this process, counted at most once per
 * CL_RELAY_HEALTH_FD_COUNT_MS (a directory of 20,000 entries is not free);
 * -1 when even the count cannot open one (EMFILE, ENFILE). */
static long cl__health_open_fds(struct cl_relay *r)
{
    static uint64_t counted_at;
    static long last = -2;
    uint64_t now = uv_now(r->loop);
    struct dirent *de;
    DIR *d;
    long n = 0;

    if (last != -2 && now - counted_at < CL_RELAY_HEALTH_FD_COUNT_MS)
        return last;
    d = opendir("/proc/self/fd");
    if (!d) {
        n = (errno == EMFILE || errno == ENFILE) ? -1 : 0;
    } else {
        while ((de = readdir(d)) != NULL)
            if (de->d_name[0] != '.')
                n++;
        closedir(d);
        n--; /* the directory's own descriptor */
    }
    counted_at = now;
    last = n;
    return n;
}

static void cl__health_problem(json_t *problems, const char *check, const char *detail)
{
    json_array_append_new(problems, json_pack("{s:s, s:s}", "check", check, "detail", detail));
}

static void cl__healthz(struct cl_http_req *req)
{
    struct cl_relay *r = req->relay;
    struct cl_admission_stats as;
    struct rlimit rl;
    json_t *problems = json_array(), *body;
    char err[160], detail[200];
    double now_s = (double)uv_now(r->loop) / 1000.0;
    long open_fds = cl__health_open_fds(r);
    long limit = -1;
    bool store_ok = r->store.ops->ping(&r->store, err, sizeof err) == 0;

    if (!store_ok)
        cl__health_problem(problems, "store", err);

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        limit = (long)rl.rlim_cur;
    cl_admission_stats(r->admission, &as);
    if (open_fds < 0) {
        cl__health_problem(problems, "files", "out of file descriptors: none left to count them");
    } else if (limit > 0 && open_fds + CL_RELAY_HEALTH_FD_SPARE >= limit) {
        snprintf(detail, sizeof detail, "out of file descriptors: %ld of %ld open", open_fds,
                 limit);
        cl__health_problem(problems, "files", detail);
    } else if (as.max_total && as.total >= as.max_total) {
        snprintf(detail, sizeof detail,
                 "out of file descriptors: all %zu connection slots taken (RLIMIT_NOFILE %ld)",
                 as.max_total, limit);
        cl__health_problem(problems, "files", detail);
    } else if (as.full_refused_at >= 0 &&
               now_s - as.full_refused_at < CL_RELAY_HEALTH_FULL_RECENT_S) {
        snprintf(detail, sizeof detail,
                 "out of file descriptors: connections refused in the last %d s, the relay was "
                 "full (%zu slots, RLIMIT_NOFILE %ld)",
                 CL_RELAY_HEALTH_FULL_RECENT_S, as.max_total, limit);
        cl__health_problem(problems, "files", detail);
    }

    if (r->bus && cl_bus_state(r->bus) != CL_BUS_CONNECTED) {
        snprintf(detail, sizeof detail,
                 "not connected to NATS (%s for %.0f s): this relay serves only the agents and "
                 "browsers connected to it",
                 cl_bus_state_name(cl_bus_state(r->bus)), cl_bus_state_age(r->bus));
        cl__health_problem(problems, "nats", detail);
    }

    body = json_pack("{s:b, s:s, s:s, s:s, s:{s:I, s:I}, s:{s:I, s:I}}", "ok",
                     json_array_size(problems) == 0, "version", CL_VERSION, "store",
                     store_ok ? "ok" : "failing", "nats",
                     r->bus ? cl_bus_state_name(cl_bus_state(r->bus)) : "off", "files", "open",
                     (json_int_t)open_fds, "limit", (json_int_t)limit, "connections", "open",
                     (json_int_t)as.total, "max", (json_int_t)as.max_total);
    if (json_array_size(problems)) {
        json_object_set_new(body, "problems", problems);
        cl_http_reply_json(req->conn, 503, body);
        return;
    }
    json_decref(problems);
    cl_http_reply_json(req->conn, 200, body);
}

static void cl__readyz(struct cl_http_req *req)
{
    struct cl_relay *r = req->relay;
    const char *reason = NULL;
    char err[160];

    if (!r->started)
        reason = "starting";
    else if (r->draining || r->stopping)
        reason = "draining";
    else if (r->store.ops->ping(&r->store, err, sizeof err))
        reason = "store";
    if (reason) {
        cl_http_reply_json(req->conn, 503, json_pack("{s:b, s:s}", "ready", 0, "reason", reason));
        return;
    }
    cl_http_reply_json(req->conn, 200, json_pack("{s:b}", "ready", 1));
}

const struct cl_route cl_routes_health[] = {
    {CL_HTTP_GET, "/healthz", CL_ROUTE_PUBLIC, cl__healthz, 0},
    {CL_HTTP_GET, "/readyz", CL_ROUTE_PUBLIC, cl__readyz, 0},
    {0, NULL, 0, NULL, 0},
};

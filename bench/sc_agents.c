/*
 * sc_agents: the connect storm and idle agents, on a fresh relay.
 * N synthetic agents connect at once; the storm rate is the hellos
 * accepted (hello_ok received) per second from the first connect() to the
 * last hello_ok. Then, with all of them connected: relay memory per agent
 * (VmRSS growth over the relay's idle RSS, divided by N), the relay's
 * CPU while nothing but heartbeats flows, and how many agents the relay
 * dropped meanwhile (each would reconnect: it must be none). The full run
 * idles 60 s, three of the relay's default ping intervals and past its
 * 45 s hang-up, so a relay that misreads its pongs shows here.
 */
#include "agentsim.h"
#include "bench.h"
#include "procstat.h"

#include <stdio.h>
#include <stdlib.h>

#define AG__SOURCES 4 /* 127.0.0.2..5: four ephemeral port ranges */

static int ag__cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

void sc_agents(struct bench *b)
{
    struct sim_fleet f;
    size_t n = b->idle_agents, failed, dead0;
    int64_t rss0, rss1, vsz0, vsz1;
    double cpu0, cpu1, t0, t1, secs, *lat;
    struct rep_item *it;
    size_t nl = 0;

    if (sim_fleet_init(&f, &b->rig, 1, n, 2, 1, AG__SOURCES)) {
        rep_note(&b->rep, "agents: not enough devices provisioned");
        return;
    }
    sim_fleet_run(&f, 500); /* let the relay settle after start-up */
    rss0 = ps_rss_bytes(b->rig.relay.pid);
    vsz0 = ps_status_bytes(b->rig.relay.pid, "VmSize");
    rig_perf_start(&b->rig, "storm");
    failed = sim_fleet_connect(&f);
    sim_fleet_wait_online(&f, 120000);
    rig_perf_stop(&b->rig);
    secs = (double)(f.t_last_ok_ns - f.t_start_ns) / 1e9;
    it = rep_add(&b->rep, "storm", "hellos accepted per second", secs > 0 ? f.online / secs : 0,
                 "hello/s", 1, 5000, ">= 5000 hello/s");
    snprintf(it->note, sizeof it->note,
             "%zu of %zu online in %.2f s; failed: %zu connect() at once, %zu closed before "
             "hello_ok, %zu before the upgrade",
             f.online, n, secs, failed, f.refused_hello, f.dead - failed - f.refused_hello);
    lat = calloc(n, sizeof *lat);
    if (!lat)
        abort();
    for (size_t i = 0; i < n; i++)
        if (f.a[i].t_ok_ns)
            lat[nl++] = (double)(f.a[i].t_ok_ns - f.a[i].t_hello_ns) / 1e6;
    if (nl) {
        qsort(lat, nl, sizeof *lat, ag__cmp);
        rep_add(&b->rep, "storm", "hello -> hello_ok p50", lat[(nl - 1) / 2], "ms", 0, 0, "");
        rep_add(&b->rep, "storm", "hello -> hello_ok p99", lat[(nl - 1) * 99 / 100], "ms", 0, 0,
                "");
    }
    free(lat);
    if (f.online == 0)
        goto out;

    sim_fleet_run(&f, 2000);
    rss1 = ps_rss_bytes(b->rig.relay.pid);
    vsz1 = ps_status_bytes(b->rig.relay.pid, "VmSize");
    it = rep_add(&b->rep, "idle", "relay memory per connected agent",
                 (double)(rss1 - rss0) / 1024.0 / (double)f.online, "KiB", -1, 10, "<= 10 KiB");
    snprintf(it->note, sizeof it->note,
             "RSS %.1f -> %.1f MiB with %zu agents (virtual: %.0f KiB per agent)",
             (double)rss0 / 1048576, (double)rss1 / 1048576, f.online,
             (double)(vsz1 - vsz0) / 1024.0 / (double)f.online);

    rig_perf_start(&b->rig, "idle");
    dead0 = f.dead;
    cpu0 = ps_cpu_seconds(b->rig.relay.pid);
    t0 = ps_now_s();
    sim_fleet_run(&f, b->idle_secs * 1000);
    t1 = ps_now_s();
    cpu1 = ps_cpu_seconds(b->rig.relay.pid);
    rig_perf_stop(&b->rig);
    it = rep_add(&b->rep, "idle", "relay CPU, agents idle", (cpu1 - cpu0) / (t1 - t0) * 100,
                 "% core", -1, 2, "< 2% of a core");
    snprintf(it->note, sizeof it->note, "%zu agents for %.0f s (pings only); %zu still online",
             f.online + (f.dead - dead0), t1 - t0, f.online);
    it = rep_add(&b->rep, "idle", "agents dropped while idle (reconnects)",
                 (double)(f.dead - dead0), "agents", -1, 0, "0");
    snprintf(it->note, sizeof it->note,
             "closed by the relay during %.0f s of pings and heartbeats only; a real agent "
             "would reconnect each",
             t1 - t0);
out:
    sim_fleet_free(&f);
}

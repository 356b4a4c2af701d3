/*
 * clawlink-bench: the benchmark suite (issue 4; docs/performance.md).
 *
 * Starts the real relay and agent from a build directory on 127.0.0.1
 * with a temporary data directory, runs every scenario, prints a table
 * and writes the measurements as JSON.
 *
 *   clawlink-bench [--smoke] [--bin-dir DIR] [--out FILE] [--only a,b]
 *
 * --smoke runs the smallest version of each scenario (well under 30 s);
 * make test uses it to check that the harness works, never its numbers.
 */
#include "bench.h"
#include "procstat.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: clawlink-bench [--smoke] [--bin-dir DIR] [--out FILE] [--only LIST]\n"
               "  --smoke        smallest run of every scenario (checks the harness)\n"
               "  --bin-dir DIR  where clawlink-relay and clawlink are (default ./build)\n"
               "  --out FILE     JSON results (default bench/results/latest.json)\n"
               "  --only LIST    comma-separated: throughput,latency,footprint,forward,agents,\n"
               "                 longlink,browser\n"
               "  --agents N     synthetic agents for the storm and idle scenarios\n"
               "  --busy N       streaming sessions beside the latency one (at most 60)\n"
               "  --keys N       keystrokes per latency run\n");
}

static bool wanted(const char *only, const char *name)
{
    const char *p = only;
    size_t l = strlen(name);
    if (!only)
        return true;
    while ((p = strstr(p, name))) {
        if ((p == only || p[-1] == ',') && (p[l] == 0 || p[l] == ','))
            return true;
        p += l;
    }
    return false;
}

/* Enough descriptors for N agents here and in the relay (which inherits
 * our limit). Returns how many agents fit. */
static size_t raise_nofile(size_t want)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return want;
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur != RLIM_INFINITY && want + 512 > rl.rlim_cur)
        return rl.rlim_cur > 1024 ? rl.rlim_cur - 512 : 64;
    return want;
}

static void defaults(struct bench *b)
{
    if (b->smoke) {
        b->text_size = 1 << 20;
        b->reps = 1;
        b->keys = 100;
        b->busy_sessions = 2;
        b->idle_agents = 50;
        b->idle_secs = 1;
        b->fwd_secs = 1;
        b->fwd_sessions[0] = 1;
        b->n_fwd = 1;
        b->footprint_sessions = 2;
        b->ll_rtts = 1;
        b->ll_keys = 10;
        b->ll_reps = 1;
        b->ll_busy = 2;
        b->ll_size = 1 << 20;
    } else {
        b->text_size = 64u << 20;
        b->reps = 5;
        b->keys = 2000;
        b->busy_sessions = 50;
        b->idle_agents = 10000;
        b->idle_secs = 60; /* past the relay's 45 s hang-up at the default ping */
        b->fwd_secs = 5;
        b->fwd_sessions[0] = 1;
        b->fwd_sessions[1] = 10;
        b->fwd_sessions[2] = 100;
        b->n_fwd = 3;
        b->footprint_sessions = 10;
        b->ll_rtts = 3;
        b->ll_keys = 40;
        b->ll_reps = 2;
        b->ll_busy = 10;
        b->ll_size = 32u << 20;
    }
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"smoke", no_argument, NULL, 's'},
        {"bin-dir", required_argument, NULL, 'b'},
        {"out", required_argument, NULL, 'o'},
        {"only", required_argument, NULL, 'O'},
        {"agents", required_argument, NULL, 'a'},
        {"busy", required_argument, NULL, 'B'},
        {"keys", required_argument, NULL, 'k'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    static struct bench b;
    const char *bin_dir = "build", *out = "bench/results/latest.json", *only = NULL;
    long agents = -1, busy = -1, keys = -1;
    size_t ndev, fwd_total = 0;
    char err[512];
    int c, rc;

    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            b.smoke = true;
            break;
        case 'b':
            bin_dir = optarg;
            break;
        case 'o':
            out = optarg;
            break;
        case 'O':
            only = optarg;
            break;
        case 'a':
            agents = strtol(optarg, NULL, 10);
            break;
        case 'B':
            busy = strtol(optarg, NULL, 10);
            break;
        case 'k':
            keys = strtol(optarg, NULL, 10);
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    signal(SIGPIPE, SIG_IGN);
    rep_set_commit(&b.rep); /* the tree the run started from, not where HEAD is at the end */
    defaults(&b);
    b.bin_dir = bin_dir;
    if (agents > 0)
        b.idle_agents = (size_t)agents;
    if (busy >= 0 && busy <= 60)
        b.busy_sessions = (int)busy;
    if (keys > 0 && keys <= 100000)
        b.keys = (int)keys;
    ndev = raise_nofile(b.idle_agents);
    if (ndev < b.idle_agents) {
        rep_note(&b.rep, "agents: the descriptor limit allows %zu agents, not %zu", ndev,
                 b.idle_agents);
        b.idle_agents = ndev;
    }
    for (int i = 0; i < b.n_fwd; i++)
        fwd_total += (size_t)b.fwd_sessions[i];
    ndev = 1 + (b.idle_agents > fwd_total ? b.idle_agents : fwd_total);

    fprintf(stderr, "bench: provisioning %zu devices...\n", ndev);
    if (rig_init(&b.rig, bin_dir, ndev, err, sizeof err)) {
        fprintf(stderr, "bench: %s\n", err);
        rig_free(&b.rig);
        return 1;
    }
    snprintf(b.textfile, sizeof b.textfile, "%s/text-%zu", b.rig.dir, b.text_size);
    snprintf(b.busyfile, sizeof b.busyfile, "%s/busy", b.rig.dir);
    snprintf(b.llfile, sizeof b.llfile, "%s/text-%zu", b.rig.dir, b.ll_size);
    if ((rc = rig_text_file(b.textfile, b.text_size)) ||
        (rc = rig_text_file(b.busyfile, 4u << 20)) ||
        (b.ll_size != b.text_size && (rc = rig_text_file(b.llfile, b.ll_size)))) {
        fprintf(stderr, "bench: writing test files: %s\n", strerror(-rc));
        rig_free(&b.rig);
        return 1;
    }
    if (!b.rig.agent_has_proto_flag)
        rep_note(&b.rep, "the agent has no --proto flag: it speaks what it defaults to in "
                         "both the v1 and v2 runs (the viewer's protocol still differs)");

    static const struct {
        const char *name;
        void (*run)(struct bench *);
    } groups[] = {
        {"throughput", sc_throughput}, {"latency", sc_latency}, {"footprint", sc_footprint},
        {"forward", sc_forward},       {"agents", sc_agents},   {"longlink", sc_longlink},
        {"browser", sc_browser},
    };
    for (size_t i = 0; i < sizeof groups / sizeof groups[0]; i++) {
        if (!wanted(only, groups[i].name))
            continue;
        fprintf(stderr, "bench: %s...\n", groups[i].name);
        /* a fresh relay per scenario: one's connections and memory do not
         * colour the next one's numbers */
        if (rig_relay_start(&b.rig, err, sizeof err)) {
            rep_note(&b.rep, "%s: relay did not start: %s", groups[i].name, err);
            continue;
        }
        groups[i].run(&b);
        if (!bp_alive(&b.rig.relay)) {
            rep_note(&b.rep, "%s: the relay died during the scenario", groups[i].name);
            bp_log_tail(&b.rig.relay, 30);
        }
        rig_relay_stop(&b.rig);
    }

    rep_print(&b.rep, stdout);
    rc = rep_write_json(&b.rep, out, b.smoke ? "smoke" : "full");
    if (rc)
        fprintf(stderr, "bench: cannot write %s: %s\n", out, strerror(-rc));
    else
        fprintf(stderr, "bench: results in %s\n", out);
    rig_free(&b.rig);
    return rc ? 1 : 0;
}

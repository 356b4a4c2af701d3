/*
 * sc_footprint: the agent's size on disk (a stripped copy of the binary;
 * shared libraries not counted) and its resident memory with sessions
 * open (each with a viewer attached and its login shell at the prompt).
 */
#include "bench.h"
#include "procstat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void fp__binary(struct bench *b)
{
    char copy[RIG_PATH_MAX + 32], cmd[4 * RIG_PATH_MAX];
    struct stat st;
    snprintf(copy, sizeof copy, "%s/clawlink.stripped", b->rig.dir);
    snprintf(cmd, sizeof cmd, "cp '%s' '%s' && strip '%s'", b->rig.agent_bin, copy, copy);
    if (system(cmd) != 0 || stat(copy, &st) != 0) {
        rep_note(&b->rep, "footprint: could not strip a copy of %s", b->rig.agent_bin);
        return;
    }
    rep_add(&b->rep, "footprint", "agent binary, stripped", (double)st.st_size / 1024.0, "KiB", -1,
            1024, "<= 1024 KiB");
}

void sc_footprint(struct bench *b)
{
    struct wsc_loop loop;
    struct shell *sh;
    char err[256] = "", name[64];
    int n = b->footprint_sessions, opened = 0;
    int64_t rss;

    fp__binary(b);
    sh = calloc((size_t)n, sizeof *sh);
    if (!sh || wsc_loop_init(&loop))
        abort();
    if (rig_agent_start(&b->rig, 2, err, sizeof err))
        goto out;
    if (rig_wait_online(&b->rig, 0, 15000) == 0) {
        usleep(200000);
        rss = ps_rss_bytes(b->rig.agent.pid);
        rep_add(&b->rep, "footprint", "agent RSS, connected, no session", (double)rss / 1048576.0,
                "MiB", 0, 0, "");
    }
    /* the first session also waits for the agent to come online */
    for (; opened < n; opened++)
        if (shell_open(&sh[opened], b, &loop, 2, err, sizeof err)) {
            shell_close(&sh[opened]);
            break;
        }
    if (opened < n) {
        rep_note(&b->rep, "footprint: opened %d of %d sessions: %s", opened, n, err);
        goto out;
    }
    rss = ps_rss_bytes(b->rig.agent.pid);
    snprintf(name, sizeof name, "agent RSS, %d open sessions", n);
    rep_add(&b->rep, "footprint", name, (double)rss / 1048576.0, "MiB", -1, 8, "<= 8 MiB");
    snprintf(name, sizeof name, "agent anonymous memory, %d sessions", n);
    rep_add(&b->rep, "footprint", name, (double)ps_anon_bytes(b->rig.agent.pid) / 1048576.0, "MiB",
            0, 0, "");
out:
    for (int i = 0; i < opened; i++)
        shell_close(&sh[i]);
    rig_agent_stop(&b->rig);
    wsc_loop_free(&loop);
    free(sh);
}

/*
 * sc_browser: what a user sees — xterm.js drawing in a real Chromium
 * (issue 16, section 4). The measuring is done by bench/browser/term.mjs
 * (node, playwright-core and Debian's chromium), which runs its own relay
 * and agent from the same build directory and prints one JSON object a
 * line; this scenario runs it and records its rows. When the browser, node
 * or its modules are missing the scenario records one row that says
 * "skipped: why" instead of failing the run.
 */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#define BR_SCRIPT   "bench/browser/term.mjs"
#define BR_LINE_MAX 4096

static void br__skip(struct bench *b, const char *why)
{
    struct rep_item *it = rep_add(&b->rep, "browser", "browser scenario", 0, "-", 0, 0, "");
    snprintf(it->note, sizeof it->note, "skipped: %s", why);
}

/* One line of the script's output: a measurement, a note, a skip or an
 * error. Returns 1 when it was a measurement. */
static int br__line(struct bench *b, const char *line, char *why, size_t whylen)
{
    json_t *o = json_loads(line, 0, NULL);
    const char *s;
    int rows = 0;
    if (!o)
        return 0; /* not ours (a stray log line) */
    if ((s = json_string_value(json_object_get(o, "skip"))) ||
        (s = json_string_value(json_object_get(o, "error")))) {
        snprintf(why, whylen, "%s", s);
    } else if (json_is_number(json_object_get(o, "value"))) {
        const char *name = json_string_value(json_object_get(o, "name"));
        const char *unit = json_string_value(json_object_get(o, "unit"));
        const char *target = json_string_value(json_object_get(o, "target"));
        const char *note = json_string_value(json_object_get(o, "note"));
        const char *ref = json_string_value(json_object_get(o, "floor_ref"));
        json_t *floor = json_object_get(o, "floor");
        struct rep_item *it = rep_add(&b->rep, "browser", name ? name : "?",
                                      json_number_value(json_object_get(o, "value")),
                                      unit ? unit : "", 0, 0, target ? target : "");
        if (json_is_number(floor)) {
            it->has_floor = true;
            it->floor = json_number_value(floor);
            if (ref)
                snprintf(it->floor_ref, sizeof it->floor_ref, "%s", ref);
        }
        if (note)
            snprintf(it->note, sizeof it->note, "%s", note);
        rows = 1;
    } else if ((s = json_string_value(json_object_get(o, "note")))) {
        rep_note(&b->rep, "browser: %s", s);
    }
    json_decref(o);
    return rows;
}

void sc_browser(struct bench *b)
{
    char cmd[4 * RIG_PATH_MAX], line[BR_LINE_MAX], why[BR_LINE_MAX] = "";
    int rows = 0, status;
    FILE *p;

    if (access(BR_SCRIPT, R_OK) != 0) {
        br__skip(b, BR_SCRIPT " not found (run from the repository root)");
        return;
    }
    if (system("command -v node >/dev/null 2>&1") != 0) {
        br__skip(b, "no node on PATH");
        return;
    }
    snprintf(cmd, sizeof cmd, "node " BR_SCRIPT " --bin-dir '%s'%s", b->bin_dir,
             b->smoke ? " --smoke" : "");
    p = popen(cmd, "r");
    if (!p) {
        br__skip(b, "cannot run node");
        return;
    }
    while (fgets(line, sizeof line, p))
        rows += br__line(b, line, why, sizeof why);
    status = pclose(p);
    if (!rows)
        br__skip(b, why[0] ? why : "the browser run printed nothing");
    else if (why[0] || status != 0)
        rep_note(&b->rep, "browser: %s", why[0] ? why : "the browser run failed part way");
}

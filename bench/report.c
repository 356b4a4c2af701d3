/* report: table and JSON output (see report.h). */
#include "report.h"
#include "procstat.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

struct rep_item *rep_add(struct report *r, const char *scenario, const char *name, double value,
                         const char *unit, int cmp, double limit, const char *target)
{
    struct rep_item *it;
    if (r->n >= REP_MAX)
        return &r->item[REP_MAX - 1]; /* a programming error; keep going */
    it = &r->item[r->n++];
    memset(it, 0, sizeof *it);
    snprintf(it->scenario, sizeof it->scenario, "%s", scenario);
    snprintf(it->name, sizeof it->name, "%s", name);
    snprintf(it->unit, sizeof it->unit, "%s", unit);
    snprintf(it->target, sizeof it->target, "%s", target ? target : "");
    it->value = value;
    it->cmp = cmp;
    it->limit = limit;
    if (cmp > 0)
        it->verdict = value >= limit ? REP_PASS : REP_FAIL;
    else if (cmp < 0)
        it->verdict = value <= limit ? REP_PASS : REP_FAIL;
    else
        it->verdict = REP_INFO;
    return it;
}

void rep_note(struct report *r, const char *fmt, ...)
{
    va_list ap;
    if (r->nnotes >= (int)(sizeof r->notes / sizeof r->notes[0]))
        return;
    va_start(ap, fmt);
    vsnprintf(r->notes[r->nnotes++], sizeof r->notes[0], fmt, ap);
    va_end(ap);
}

static const char *rep__verdict(enum rep_verdict v)
{
    return v == REP_PASS ? "pass" : v == REP_FAIL ? "FAIL" : "-";
}

/* A number for the table: no exponent, a sensible number of decimals. */
static void rep__num(char *out, size_t cap, double v)
{
    double a = v < 0 ? -v : v;
    snprintf(out, cap, a >= 100 ? "%.0f" : a >= 10 ? "%.1f" : a >= 1 ? "%.2f" : "%.3f", v);
}

void rep_print(const struct report *r, FILE *f)
{
    const char *last = "";
    fprintf(f, "\n%-12s %-44s %10s %-9s %8s %8s  %-24s %s\n", "scenario", "measurement", "value",
            "unit", "floor", "ref", "target", "");
    for (int i = 0; i < 129; i++)
        fputc('-', f);
    fputc('\n', f);
    for (int i = 0; i < r->n; i++) {
        const struct rep_item *it = &r->item[i];
        char floor[24] = "", ref[24] = "", value[24];
        if (it->has_floor)
            rep__num(floor, sizeof floor, it->floor);
        if (it->has_ref)
            rep__num(ref, sizeof ref, it->ref);
        rep__num(value, sizeof value, it->value);
        fprintf(f, "%-12s %-44s %10s %-9s %8s %8s  %-24s %s%s%s\n",
                strcmp(last, it->scenario) ? it->scenario : "", it->name, value, it->unit, floor,
                ref, it->target, rep__verdict(it->verdict), it->note[0] ? "  " : "", it->note);
        last = it->scenario;
    }
    for (int i = 0; i < r->nnotes; i++)
        fprintf(f, "note: %s\n", r->notes[i]);
}

void rep_set_commit(struct report *r)
{
    char *out = r->commit;
    size_t cap = sizeof r->commit;
    FILE *p = popen("git rev-parse HEAD 2>/dev/null", "r");
    snprintf(out, cap, "unknown");
    if (!p)
        return;
    if (fgets(out, (int)cap, p))
        out[strcspn(out, "\n")] = 0;
    pclose(p);
    /* sources that differ from HEAD make the commit only approximate */
    if (system("git diff --quiet HEAD -- src bench CMakeLists.txt 2>/dev/null") != 0 &&
        strlen(out) + 7 < cap)
        strcat(out, "+dirty");
}

int rep_write_json(const struct report *r, const char *path, const char *mode)
{
    struct ps_machine m;
    char commit[64];
    json_t *root, *items, *notes;
    int rc;

    ps_machine_info(&m);
    snprintf(commit, sizeof commit, "%s", r->commit[0] ? r->commit : "unknown");
    items = json_array();
    for (int i = 0; i < r->n; i++) {
        const struct rep_item *it = &r->item[i];
        json_t *o =
            json_pack("{s:s, s:s, s:f, s:s, s:s, s:s}", "scenario", it->scenario, "name", it->name,
                      "value", it->value, "unit", it->unit, "target", it->target, "result",
                      it->verdict == REP_PASS   ? "pass"
                      : it->verdict == REP_FAIL ? "fail"
                                                : "info");
        if (it->has_floor)
            json_object_set_new(o, "floor", json_real(it->floor));
        if (it->has_floor && it->floor_ref[0])
            json_object_set_new(o, "floor_ref", json_string(it->floor_ref));
        if (it->has_ref)
            json_object_set_new(o, "reference", json_real(it->ref));
        if (it->has_ref && it->ref_ref[0])
            json_object_set_new(o, "reference_ref", json_string(it->ref_ref));
        if (it->block > 0)
            json_object_set_new(o, "interleave_block", json_integer(it->block));
        if (it->cmp)
            json_object_set_new(o, "limit", json_real(it->limit));
        if (it->note[0])
            json_object_set_new(o, "note", json_string(it->note));
        json_array_append_new(items, o);
    }
    notes = json_array();
    for (int i = 0; i < r->nnotes; i++)
        json_array_append_new(notes, json_string(r->notes[i]));
    root = json_pack("{s:s, s:{s:s, s:i, s:s}, s:s, s:s, s:o, s:o}", "mode", mode, "machine",
                     "cpu_model", m.cpu_model, "cores", m.cores, "kernel", m.kernel, "date", m.date,
                     "git_commit", commit, "measurements", items, "notes", notes);
    rc = json_dump_file(root, path, JSON_INDENT(2)) ? -EIO : 0;
    json_decref(root);
    return rc;
}

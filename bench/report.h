/*
 * report: the measurements of one run, printed as a table and written as
 * JSON (bench/results/latest.json) with the machine they were taken on.
 */
#ifndef CL_BENCH_REPORT_H
#define CL_BENCH_REPORT_H

#include <stdbool.h>
#include <stdio.h>

#define REP_MAX 200

enum rep_verdict { REP_INFO = -1, REP_FAIL = 0, REP_PASS = 1 };

struct rep_item {
    char scenario[24];
    char name[64];
    double value;
    char unit[16];
    bool has_floor;
    double floor;       /* the same run's raw-PTY figure */
    char floor_ref[64]; /* the measurement whose value floor is, if one is */
    int block;          /* > 0: measured in blocks of this many, alternating
                           with its floor's (keys_interleave) */
    bool has_ref;
    double ref;       /* the same window's reference: two plain forwarders
                         (hops.h), what the target is set against */
    char ref_ref[64]; /* the measurement whose value ref is */
    char target[64];  /* as the issue states it, e.g. ">= 1.0x reference" */
    double limit;     /* the target in the value's unit (after applying the
                         floor or reference) */
    int cmp;          /* +1: value >= limit passes, -1: value <= limit, 0: no target */
    enum rep_verdict verdict;
    char note[160];
};

struct report {
    char commit[64]; /* git HEAD when the run started */
    struct rep_item item[REP_MAX];
    int n;
    char notes[8][200]; /* run-wide remarks (e.g. "v2 not negotiated") */
    int nnotes;
};

/* Adds a measurement. cmp/limit as in rep_item; target is display text.
 * Returns the item for optional fields (floor, note). */
struct rep_item *rep_add(struct report *r, const char *scenario, const char *name, double value,
                         const char *unit, int cmp, double limit, const char *target);

void rep_note(struct report *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void rep_print(const struct report *r, FILE *f);

/* Records `git rev-parse HEAD` of the working directory (call at start). */
void rep_set_commit(struct report *r);

/* Writes the JSON document; mode is "full" or "smoke". Returns 0 or < 0. */
int rep_write_json(const struct report *r, const char *path, const char *mode);

#endif

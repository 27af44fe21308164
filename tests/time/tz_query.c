/*
 * tz_query.c — answers time-zone questions with chg's zone code, one line
 * per question on stdin, for tz_oracle.py to compare with Python's zoneinfo:
 *
 *   U <zone> <t>               → "<utc offset at t>"
 *   L <zone> <local> <fold>    → "<instant> <1 if in a gap, else 0>"
 *   N <zone> <t>               → "<next transition after t, or 'none'>"
 *
 * A zone that does not load answers "ERR <message>".
 */
#include "chg_time.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define MAX_ZONES 2048

static struct {
    char name[256];
    chg_tz *tz;
    char err[160];
} zones[MAX_ZONES];
static int nzones;

/* The zone called name, loaded once; NULL with *err set if it fails. */
static chg_tz *zone(const char *name, const char **err)
{
    for (int i = 0; i < nzones; i++)
        if (strcmp(zones[i].name, name) == 0) {
            *err = zones[i].err;
            return zones[i].tz;
        }
    if (nzones == MAX_ZONES) {
        *err = "too many zones";
        return NULL;
    }
    chg_time_error e;
    snprintf(zones[nzones].name, sizeof zones[nzones].name, "%s", name);
    zones[nzones].tz = chg_tz_load(name, &e);
    if (!zones[nzones].tz)
        snprintf(zones[nzones].err, sizeof zones[nzones].err, "%s", e.message);
    *err = zones[nzones].err;
    return zones[nzones++].tz;
}

int main(void)
{
    char line[512];
    while (fgets(line, sizeof line, stdin)) {
        char op, name[256];
        long long a = 0, b = 0;
        int n = sscanf(line, " %c %255s %lld %lld", &op, name, &a, &b);
        if (n < 3) {
            printf("ERR bad query\n");
            continue;
        }
        const char *err;
        chg_tz *tz = zone(name, &err);
        if (!tz) {
            printf("ERR %s\n", err);
            continue;
        }
        if (op == 'U') {
            printf("%" PRId32 "\n", chg_tz_offset(tz, a));
        } else if (op == 'L') {
            bool gap = false;
            int64_t u = chg_tz_local_to_utc(tz, a, (int)b, &gap);
            printf("%" PRId64 " %d\n", u, gap ? 1 : 0);
        } else if (op == 'N') {
            int64_t t = chg_tz_next_transition(tz, a);
            if (t == INT64_MAX)
                printf("none\n");
            else
                printf("%" PRId64 "\n", t);
        } else {
            printf("ERR bad query\n");
        }
    }
    for (int i = 0; i < nzones; i++)
        chg_tz_free(zones[i].tz);
    return 0;
}

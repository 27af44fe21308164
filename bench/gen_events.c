/*
 * gen_events.c — a deterministic generator of change events for the
 * benchmarks: N changes, one JSON object per line, in the shape of the
 * language.md §2 schema, spread over a year so windows and freezes open
 * and close. The same N gives the same bytes (a fixed-seed LCG).
 *
 *   gen_events N > events.jsonl
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static uint64_t state = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(uint32_t n)
{
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(state >> 33) % n;
}

static void iso(int64_t t, char *out)
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? strtol(argv[1], NULL, 10) : 100000;
    static const char *const envs[] = {"dev", "staging", "prod", "prod"};
    static const char *const types[] = {"config", "deploy", "deploy", "schema", "infra"};
    static const char *const scopes[] = {"single-az", "region", "region", "global"};
    static const char *const services[] = {"payments", "ledger", "checkout", "search", "auth", "catalog"};
    static const char *const groups[] = {"cab", "team-lead", "security", "dev", "incident-commander"};
    static const char *const people[] = {"ann", "bob", "cy", "dee", "eve", "fay"};
    const int64_t start = 1767225600; /* 2026-01-01T00:00:00Z */
    for (long i = 0; i < n; i++) {
        char at[32];
        int64_t t = start + (int64_t)rnd(365 * 24 * 60) * 60;
        iso(t, at);
        const char *svc = services[rnd(6)];
        int resources = rnd(10) == 0 ? 50 + (int)rnd(200) : 1 + (int)rnd(20);
        printf("{\"id\":\"c%ld\",\"env\":\"%s\",\"service\":\"%s\",\"type\":\"%s\",\"resources\":%d,"
               "\"scope\":\"%s\",\"emergency\":%s,\"requested_at\":\"%s\","
               "\"requester\":{\"name\":\"%s\",\"groups\":[\"dev\"]},\"approvals\":[",
               i, envs[rnd(4)], svc, types[rnd(5)], resources, scopes[rnd(4)], rnd(50) == 0 ? "true" : "false", at,
               people[rnd(6)]);
        int na = (int)rnd(4);
        for (int k = 0; k < na; k++) {
            char when[32];
            iso(t - 3600 - (int64_t)rnd(96) * 3600, when);
            printf("%s{\"by\":\"%s\",\"group\":\"%s\",\"at\":\"%s\"}", k ? "," : "", people[rnd(6)], groups[rnd(5)],
                   when);
        }
        printf("]");
        if (rnd(3) == 0)
            printf(",\"pipeline\":\"%s-pipeline\"", svc);
        printf("}\n");
    }
    return 0;
}

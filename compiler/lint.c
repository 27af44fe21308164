/*
 * lint.c — warnings about policies that are valid but probably wrong:
 * declarations nothing uses, risk classes classify never produces, legacy
 * zone names, windows used as freezes, test answers nothing reads.
 * (Lints that need the checker's context — arms after default, duplicate
 * arms, deny without message, duplicate rule names — are reported where
 * that context is, in check.c and resolve.c.)
 */
#include "compiler_int.h"

#include <string.h>

/* Zone names tzdata keeps for old systems: fixed offsets, or the US rules
 * under a POSIX-style name. Someone who writes "EST" for New York gets
 * UTC-05:00 all year — off by an hour every summer. */
static const struct {
    const char *name, *what, *region;
    const char *also;  /* a second region zone that fits, or NULL */
    const char *fixed; /* the Etc zone of the same fixed offset, or NULL */
} legacy_zones[] = {
    {"EST", "UTC-05:00 all year, no daylight saving", "America/New_York", "America/Panama", "Etc/GMT+5"},
    {"MST", "UTC-07:00 all year, no daylight saving", "America/Denver", "America/Phoenix", "Etc/GMT+7"},
    {"HST", "UTC-10:00 all year", "Pacific/Honolulu", NULL, "Etc/GMT+10"},
    {"EST5EDT", "US Eastern rules under a POSIX name", "America/New_York", NULL, NULL},
    {"CST6CDT", "US Central rules under a POSIX name", "America/Chicago", NULL, NULL},
    {"MST7MDT", "US Mountain rules under a POSIX name", "America/Denver", NULL, NULL},
    {"PST8PDT", "US Pacific rules under a POSIX name", "America/Los_Angeles", NULL, NULL},
    {"CET", "Central European rules without a place", "Europe/Paris", NULL, NULL},
    {"MET", "Middle European rules without a place", "Europe/Paris", NULL, NULL},
    {"EET", "Eastern European rules without a place", "Europe/Athens", NULL, NULL},
    {"WET", "Western European rules without a place", "Europe/Lisbon", NULL, NULL},
};

static void zone_lint(chg_compiler *c, const chg_tsexpr *t)
{
    if (!t)
        return;
    if (t->zone.name)
        for (size_t i = 0; i < CHG_ARRAY_LEN(legacy_zones); i++)
            if (strcmp(t->zone.name, legacy_zones[i].name) == 0) {
                chg_diag *d = chg_c_diag_report(c, CHG_D_W0015, t->zone.span, t->zone.name, legacy_zones[i].what, NULL);
                /* the help suggests what fits this zone: its region, one
                 * that keeps the same offset all year, its Etc name */
                if (legacy_zones[i].fixed)
                    chg_c_diag_help(c, d, "did you mean '%s'%s%s%s? (write '%s' for this fixed offset on purpose)",
                                    legacy_zones[i].region, legacy_zones[i].also ? " or '" : "",
                                    legacy_zones[i].also ? legacy_zones[i].also : "",
                                    legacy_zones[i].also ? "', which keeps it all year" : "", legacy_zones[i].fixed);
                else
                    chg_c_diag_help(c, d, "did you mean '%s'?", legacy_zones[i].region);
            }
    switch (t->kind) {
    case TS_OR:
    case TS_AND:
        zone_lint(c, t->u.bin.a);
        zone_lint(c, t->u.bin.b);
        break;
    case TS_NOT: zone_lint(c, t->u.not_); break;
    default: break;
    }
}

/* A window in `deny during` stops changes while it is open — sometimes
 * meant ("no deploys in business hours"), more often a window used where
 * a freeze was: the mirror of a freeze in `require window` (E0105). */
static void during_lint(chg_compiler *c, chg_decl *r)
{
    for (uint32_t k = 0; k < r->u.rule.nduring; k++) {
        const chg_tsexpr *t = r->u.rule.during[k];
        if (t->kind == TS_REF && t->u.ref.decl && t->u.ref.decl->kind == D_WINDOW) {
            chg_diag *d = chg_c_diag_report(c, CHG_D_W0014, t->span, t->u.ref.name.name, NULL);
            chg_c_diag_help(c, d, "to stop changes while it holds, declare it as a freeze; to allow them only then, "
                                  "'require window %s'",
                            t->u.ref.name.name);
        }
        zone_lint(c, t);
    }
}

/* Keys of a map, for suggestions (at most max). */
static size_t map_keys(const chg_map *m, const char **out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < m->cap && n < max; i++)
        if (m->e[i].key)
            out[n++] = m->e[i].key;
    return n;
}

/* A test's `given` that nothing reads is almost always a typo
 * (`given flag "incidnet"`): the test then passes for the wrong reason. */
static void given_lint(chg_compiler *c, chg_decl *d)
{
    const char *names[64];
    for (uint32_t i = 0; i < d->u.test.n; i++) {
        const chg_test_item *it = &d->u.test.items[i];
        if (it->kind == TI_GIVEN_FLAG && it->flag.name && !chg_c_map_get(&c->flags_read, it->flag.name)) {
            chg_diag *dg = chg_c_diag_report(c, CHG_D_W0016, it->flag.span,
                                           chg_arena_printf(&c->arena, "flag '%s'", it->flag.name), NULL);
            chg_c_diag_suggest(c, dg, it->flag.name, names, map_keys(&c->flags_read, names, 64));
        } else if (it->kind == TI_GIVEN && it->call && it->call->kind == EX_CALL && it->call->u.call.builtin &&
                   !chg_c_map_get(&c->queries_read, it->call->u.call.name)) {
            chg_diag *dg = chg_c_diag_report(c, CHG_D_W0016, it->call->u.call.name_span,
                                           chg_arena_printf(&c->arena, "an answer of %s", it->call->u.call.name),
                                           NULL);
            chg_c_diag_suggest(c, dg, it->call->u.call.name, names, map_keys(&c->queries_read, names, 64));
        }
    }
}

int chg_c_lint(chg_compiler *c)
{
    for (size_t i = 0; i < c->all_decls.len; i++) {
        chg_decl *d = c->all_decls.items[i];
        if (d->kind == D_WINDOW || d->kind == D_FREEZE)
            zone_lint(c, d->u.timeset.ts);
        else if (d->kind == D_RULE && d->u.rule.action == RA_DENY)
            during_lint(c, d);
        else if (d->kind == D_TEST)
            given_lint(c, d);
    }

    for (size_t i = 0; i < c->all_decls.len; i++) {
        chg_decl *d = c->all_decls.items[i];
        if (d->used || (d->name.name && d->name.name[0] == '_'))
            continue; /* '_name' is unused on purpose */
        chg_diag *dg = NULL;
        switch (d->kind) {
        case D_LET: dg = chg_c_diag_report(c, CHG_D_W0001, d->name.span, d->name.name, NULL); break;
        case D_WINDOW: dg = chg_c_diag_report(c, CHG_D_W0002, d->name.span, d->name.name, NULL); break;
        case D_FREEZE: dg = chg_c_diag_report(c, CHG_D_W0003, d->name.span, d->name.name, NULL); break;
        default: break;
        }
        if (dg)
            chg_c_diag_help(c, dg, "remove it, or start its name with '_' to keep it unused on purpose");
    }
    if (c->risk && c->classify)
        for (uint32_t k = 0; k < c->risk->u.risk.n; k++) {
            chg_decl *cls = chg_c_map_get(&c->globals, c->risk->u.risk.classes[k].name);
            if (cls && cls->kind == D_RISK && cls->risk_owner == c->risk && !cls->produced)
                chg_c_diag_report(c, CHG_D_W0008, c->risk->u.risk.classes[k].span, cls->name.name, NULL);
        }
    return chg_c_status(c);
}

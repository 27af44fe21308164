/*
 * lint.c — warnings about policies that are valid but probably wrong:
 * declarations nothing uses and risk classes classify never produces.
 * (Lints that need the checker's context — arms after default, duplicate
 * arms, deny without message, duplicate rule names — are reported where
 * that context is, in check.c and resolve.c.)
 */
#include "compiler_int.h"

int chg_c_lint(chg_compiler *c)
{
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

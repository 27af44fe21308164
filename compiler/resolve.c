/*
 * resolve.c — merges the declarations of a policy's files into one program
 * and builds its namespaces.
 *
 * Order: declarations are taken depth-first, an imported file's at the
 * point of its import (as if included there, once). Namespaces: lets,
 * windows, freezes and risk classes share one; rules, intakes,
 * concurrency limits and tests each have their own. A name used in file F must be declared in F or in a
 * file F imports (directly or not) — checked where names are used.
 */
#include "compiler_int.h"

#include <string.h>

/* Names a global may not take. The built-in roots are tested before
 * globals when a name is looked up (check_name), so a let named `now`
 * could never be referred to; refusing it at its declaration gives one
 * clear error instead of a silent shadowing. `aws` is reserved because
 * actions are written `aws.sns.publish(…)`, and `emergency` because it
 * is the approvals entry that is not a risk class. */
static const char *const reserved[] = {
    "change", "event", "now", "risk", "reason", "summary", "freeze", "aws", "emergency",
};

/* Points at the earlier declaration's name when it has one, else at the
 * declaration itself. */
static void note_previous(chg_compiler *c, chg_diag *d, chg_decl *prev, const char *what)
{
    chg_span at = prev->name.name ? prev->name.span : prev->span;
    chg_c_diag_note(c, d, at, "%s first declared here", what);
}

/* Append file f's declarations to all_decls, each imported file's at its
 * first import (seen: a file imported twice, as in a diamond, is taken
 * once). The recursion follows imports, whose cycles were cut before this
 * pass (compile.c reports them and clears the closing import's target). */
static void collect(chg_compiler *c, uint32_t f, uint8_t *seen)
{
    if (seen[f])
        return;
    seen[f] = 1;
    chg_file *file = c->files.items[f];
    for (uint32_t i = 0; file && i < file->ndecls; i++) {
        chg_decl *d = file->decls[i];
        if (chg_vec_push(&c->all_decls, d) != CHG_OK)
            chg_c_nomem(c);
        if (d->kind == D_IMPORT && d->u.import.target)
            collect(c, d->u.import.target, seen);
    }
}

/* One of a kind: policy, schema, at, risk, classify, approvals. */
/* The first declaration wins and later ones are reported against it:
 * with the depth-first order of all_decls, "first" is the one a reader
 * meets first following the imports. The spans cover only the keyword,
 * since a whole `classify` block would underline dozens of lines. */
static void singleton(chg_compiler *c, chg_decl **slot, chg_decl *d)
{
    if (!*slot) {
        *slot = d;
        return;
    }
    const char *what = chg_c_decl_kind_name(d->kind);
    chg_span at = {d->span.file, d->span.start, d->span.start + (uint32_t)strlen(what)};
    chg_diag *dg = chg_c_diag_report(c, CHG_D_E0112, at, what, NULL);
    chg_span prev = {(*slot)->span.file, (*slot)->span.start,
                     (*slot)->span.start + (uint32_t)strlen(what)};
    chg_c_diag_note(c, dg, prev, "the first '%s' is here", what);
}

static bool is_reserved(const char *name)
{
    for (size_t i = 0; i < CHG_ARRAY_LEN(reserved); i++)
        if (strcmp(reserved[i], name) == 0)
            return true;
    return false;
}

/* A duplicate is reported and not entered: uses resolve to the first
 * declaration, so the rest of the file is checked against one meaning
 * rather than failing at every use. */
static void define_global(chg_compiler *c, chg_decl *d)
{
    if (is_reserved(d->name.name)) {
        chg_c_diag_report(c, CHG_D_E0123, d->name.span, d->name.name, NULL);
        return;
    }
    chg_decl *prev = chg_c_map_get(&c->globals, d->name.name);
    if (prev) {
        chg_diag *dg = chg_c_diag_report(c, CHG_D_E0102, d->name.span, d->name.name, NULL);
        note_previous(c, dg, prev, prev->kind == D_RISK ? "risk class" : chg_c_decl_kind_name(prev->kind));
        return;
    }
    if (chg_c_map_put(&c->globals, d->name.name, d) != CHG_OK)
        chg_c_nomem(c);
}

/* A name in one of the namespaces of its own (rules, intakes, limits,
 * tests): a duplicate is reported with `code` and a note on the first,
 * and the diagnostic returned for a help; NULL when it is new. */
static chg_diag *define_named(chg_compiler *c, chg_map *m, chg_decl *d, chg_diag_id code, const char *what)
{
    chg_decl *prev = chg_c_map_get(m, d->name.name);
    if (!prev) {
        if (chg_c_map_put(m, d->name.name, d) != CHG_OK)
            chg_c_nomem(c);
        return NULL;
    }
    chg_diag *dg = chg_c_diag_report(c, code, d->name.span, d->name.name, NULL);
    note_previous(c, dg, prev, what);
    return dg;
}

/* Each class becomes a global declaration of its own (D_RISK), so class
 * names share the namespace of lets and windows and a let named `high`
 * next to a class `high` is a duplicate. `index` is the class's position
 * in the declaration, which is its order (risk >= high compares indexes);
 * a skipped duplicate does not renumber the rest. `risk_owner` ties the
 * class to its block so the unused-class lint ignores classes of a second,
 * rejected `risk` declaration. */
static void define_risk(chg_compiler *c, chg_decl *r)
{
    for (uint32_t i = 0; i < r->u.risk.n; i++) {
        chg_ident *id = &r->u.risk.classes[i];
        bool dup = false;
        for (uint32_t j = 0; j < i; j++)
            if (strcmp(r->u.risk.classes[j].name, id->name) == 0) {
                chg_diag *dg = chg_c_diag_report(c, CHG_D_E0122, id->span, id->name, NULL);
                chg_c_diag_note(c, dg, r->u.risk.classes[j].span, "first listed here");
                dup = true;
                break;
            }
        if (dup)
            continue;
        chg_decl *cls = chg_c_ast_decl(&c->arena, D_RISK, id->span);
        cls->name = *id;
        cls->file = r->file;
        cls->index = (int)i;
        cls->risk_owner = r;
        define_global(c, cls);
    }
}

/* The level is parsed as a plain identifier, not a keyword, so a misspelt
 * level is a "did you mean" error here instead of a syntax error; the
 * words stay available as names elsewhere. A rule without one is
 * mandatory. The enum's order matches `levels`. */
static void resolve_level(chg_compiler *c, chg_decl *d)
{
    static const char *const levels[] = {"mandatory", "overridable", "advisory"};
    chg_ident *l = &d->u.rule.level_name;
    if (!l->name) {
        d->u.rule.level = LEVEL_MANDATORY;
        return;
    }
    for (size_t i = 0; i < 3; i++)
        if (strcmp(l->name, levels[i]) == 0) {
            d->u.rule.level = (chg_rule_level)i;
            return;
        }
    chg_diag *dg = chg_c_diag_report(c, CHG_D_E0106, l->span, l->name, NULL);
    chg_c_diag_suggest(c, dg, l->name, levels, 3);
    if (dg && !dg->help)
        chg_c_diag_help(c, dg, "a rule level is mandatory, overridable or advisory");
}

/* A test file (`x_test.chg`) holds only imports and tests: its tests must
 * run against the policy that `chgc build` builds from the files it
 * imports, so a rule, window or `policy` line added beside them is an
 * error at its keyword. The declaration is still resolved, so nothing
 * else cascades from it. */
static void only_tests(chg_compiler *c, const chg_decl *d)
{
    const chg_source *src = chg_compiler_source(c, d->file);
    if (!src || !chg_is_test_file(src->path))
        return;
    uint32_t e = d->span.start;
    while (e < src->len && ((src->text[e] >= 'a' && src->text[e] <= 'z') || src->text[e] == '_'))
        e++;
    chg_span at = {d->file, d->span.start, e};
    chg_diag *dg = chg_c_diag_report(c, CHG_D_E0021, at, chg_c_span_text(c, at), NULL);
    chg_c_diag_help(c, dg, "move it into the policy the test file imports; a test file holds only 'import' and 'test'");
}

/*
 * Assumes compile.c has parsed every file, loaded the imports and cut
 * import cycles. Guarantees afterwards: all_decls holds every declaration
 * once, in depth-first import order, which is the order every later pass
 * and codegen walk (so diagnostics and bundle layout are deterministic);
 * the namespaces are filled; the singletons are set. Names inside
 * expressions are not resolved here (check.c does that, where scope is
 * known). Rules with the same name are an error (E0127): decisions name
 * rules. `policy` belongs in the root file only; in an imported file it
 * is an error with a help, since the importer names the policy — except
 * under a test file (`x_test.chg`), which imports the policy it tests,
 * as `opa test` reads `*_test.rego` beside the policy.
 */
int chg_c_resolve(chg_compiler *c)
{
    uint8_t *seen = chg_calloc(c->sources.len + 1, 1);
    if (!seen)
        return chg_c_nomem(c);
    for (size_t i = 0; i < c->roots.len; i++)
        collect(c, (uint32_t)(uintptr_t)c->roots.items[i], seen);
    chg_free(seen);

    uint32_t root = c->roots.len ? (uint32_t)(uintptr_t)c->roots.items[0] : 0;
    bool test_root = root && chg_is_test_file(chg_compiler_source(c, root)->path);
    for (size_t i = 0; i < c->all_decls.len; i++) {
        chg_decl *d = c->all_decls.items[i];
        if (d->kind != D_TEST && d->kind != D_IMPORT)
            only_tests(c, d);
        switch (d->kind) {
        case D_POLICY:
            if (d->file != root && !test_root) {
                chg_span at = {d->span.file, d->span.start, d->span.start + 6};
                chg_diag *dg = chg_c_diag_report(c, CHG_D_E0113, at, NULL);
                chg_c_diag_help(c, dg, "remove this line; the importing file names the policy");
            } else
                singleton(c, &c->policy, d);
            break;
        case D_SCHEMA: singleton(c, &c->schema, d); break;
        case D_AT: singleton(c, &c->at, d); break;
        case D_RISK:
            if (!c->risk)
                define_risk(c, d);
            singleton(c, &c->risk, d);
            break;
        case D_CLASSIFY: singleton(c, &c->classify, d); break;
        case D_APPROVALS: singleton(c, &c->approvals, d); break;
        case D_LIMITS: singleton(c, &c->limits, d); break;
        case D_LET:
        case D_WINDOW:
        case D_FREEZE: define_global(c, d); break;
        case D_RULE: {
            resolve_level(c, d);
            chg_diag *dg = define_named(c, &c->rules, d, CHG_D_E0127, "rule");
            if (dg)
                chg_c_diag_help(c, dg, "decisions name rules in their reasons: give each a distinct name");
            break;
        }
        case D_INTAKE: define_named(c, &c->intakes, d, CHG_D_E0102, "intake"); break;
        case D_CONCURRENCY: define_named(c, &c->concurrency, d, CHG_D_E0102, "concurrency limit"); break;
        case D_TEST: define_named(c, &c->tests, d, CHG_D_E0509, "test"); break;
        case D_IMPORT:
        case D_ON:
            break;
        }
    }
    return chg_c_status(c);
}

/* Visibility: can code in file `from` use a declaration of file `decl`?
 * Without a reachability matrix (it could not be allocated; the
 * compilation then ends in CHG_ENOMEM anyway) everything is visible, so no
 * false "not imported" error is added to an out-of-memory result. */
bool chg_c_visible(const chg_compiler *c, uint32_t from, uint32_t decl)
{
    if (from == decl || !c->reach || from >= c->reach_n || decl >= c->reach_n)
        return true;
    return (c->reach[(size_t)from * c->reach_words + decl / 64] >> (decl % 64)) & 1;
}

/*
 * diag.c — the diagnostics engine: the table generated from chg_diag.def and
 * recording diagnostics with notes and "did you mean" help. Rendering lives
 * in report.c.
 */
#include "compiler_int.h"

#include <stdio.h>
#include <string.h>

/* Indexed by chg_diag_id, which the same X-macro numbers in the same
 * order (chg_diag.def is expanded once for the enum, once here), so
 * chg_diag_table[id] needs no search and cannot drift from the enum. */
const chg_diag_info chg_diag_table[CHG_D__COUNT] = {
#define CHG_DIAG(code, sev, name, title, msg) {#code, CHG_##sev, #name, title, msg},
#include "chg_diag.def"
#undef CHG_DIAG
};

/* By code ("E0206"), for tools that read codes back; a linear search
 * is fine for a table of about a hundred entries looked up rarely. */
const chg_diag_info *chg_diag_lookup(const char *code)
{
    for (size_t i = 0; i < CHG_D__COUNT; i++)
        if (strcmp(chg_diag_table[i].code, code) == 0)
            return &chg_diag_table[i];
    return NULL;
}

/* Sticky: once set, every pass's status is CHG_ENOMEM, so a diagnostic
 * that could not be recorded can never make a policy look clean. Returns
 * the status so callers can write `return chg_c_nomem(c);`. */
int chg_c_nomem(chg_compiler *c)
{
    c->oom = true;
    return CHG_ENOMEM;
}

/* Also consults the arena's own flag: a caller that dropped a NULL from
 * chg_arena_alloc (a fact, a name list for a suggestion) still turns the
 * compilation into CHG_ENOMEM without having to say so. */
int chg_c_status(const chg_compiler *c)
{
    return c->oom || c->arena.failed ? CHG_ENOMEM : CHG_OK;
}

/* Substitute the NULL-terminated string arguments for %s in order; NULL
 * when memory ran out. */
/* Templates in chg_diag.def use only %s, never printf directives: the
 * arguments are user text (names, source snippets) and passing them
 * through printf formatting would make a `%` in a name dangerous. A
 * NULL argument reads as empty rather than crashing. */
static const char *format(chg_compiler *c, const char *tmpl, va_list ap)
{
    chg_buf b;
    chg_buf_init(&b);
    for (const char *s = tmpl; *s; s++) {
        if (s[0] == '%' && s[1] == 's') {
            const char *arg = va_arg(ap, const char *);
            chg_buf_puts_visible(&b, arg ? arg : ""); /* chg_base.h: user text */
            s++;
        } else
            chg_buf_putc(&b, *s);
    }
    const char *out = b.oom ? NULL : chg_arena_strndup(&c->arena, b.data ? b.data : "", b.len);
    chg_buf_free(&b);
    return out;
}

/*
 * Records a diagnostic and returns it so the caller can attach notes and
 * help; NULL when it was not recorded (limit or memory), and every
 * attach function accepts NULL, so callers never test the result.
 *
 * The error limit: the error that would exceed max_errors is replaced by
 * one E0014 "too many errors", and from then on nothing is recorded
 * (warnings included) and error_limit_hit tells the passes to stop
 * early. Later errors are mostly consequences of earlier ones, and a
 * bounded list also bounds memory on hostile input. nerrors counts the
 * E0014 too, so the status stays "has errors" however the caller reads it.
 */
chg_diag *chg_c_diag_report(chg_compiler *c, chg_diag_id id, chg_span span, ...)
{
    if (c->error_limit_hit)
        return NULL;
    const chg_diag_info *info = &chg_diag_table[id];
    if (info->severity == CHG_ERROR && c->nerrors >= c->opts.max_errors) {
        c->error_limit_hit = true;
        chg_diag *d = chg_arena_alloc(&c->arena, sizeof *d);
        c->nerrors++;
        if (!d) {
            chg_c_nomem(c);
            return NULL;
        }
        char n[32];
        snprintf(n, sizeof n, "%zu", c->nerrors - 1);
        d->id = CHG_D_E0014;
        d->severity = CHG_ERROR;
        d->span = span;
        d->message = chg_arena_printf(&c->arena, "too many errors (%s); stopping", n);
        if (!d->message || chg_vec_push(&c->diags, d) != CHG_OK)
            chg_c_nomem(c);
        return NULL;
    }
    chg_diag *d = chg_arena_alloc(&c->arena, sizeof *d);
    if (!d) {
        chg_c_nomem(c);
        return NULL;
    }
    d->id = id;
    d->severity = info->severity;
    d->span = span;
    va_list ap;
    va_start(ap, span);
    d->message = format(c, info->message, ap);
    va_end(ap);
    if (!d->message || chg_vec_push(&c->diags, d) != CHG_OK) {
        chg_c_nomem(c);
        return NULL;
    }
    if (d->severity == CHG_ERROR)
        c->nerrors++;
    else if (d->severity == CHG_WARNING)
        c->nwarnings++;
    return d;
}

/* A note's or help's text, formatted into the compilation's arena; NULL
 * (remembered as out of memory, so the compile cannot end "clean") when
 * it could not be held. */
static const char *arena_vformat(chg_compiler *c, const char *fmt, va_list ap)
{
    chg_buf raw, b;
    chg_buf_init(&raw);
    chg_buf_init(&b);
    chg_buf_vprintf(&raw, fmt, ap);
    if (!raw.oom) /* notes and helps quote user text too (paths, names) */
        chg_buf_put_visible(&b, raw.data ? raw.data : "", raw.len);
    const char *msg = raw.oom || b.oom ? NULL : chg_arena_strndup(&c->arena, b.data ? b.data : "", b.len);
    chg_buf_free(&raw);
    chg_buf_free(&b);
    if (!msg)
        chg_c_nomem(c);
    return msg;
}

/* Notes are a small fixed array in the diagnostic: extra notes are
 * dropped silently, which loses only secondary information. A note with
 * an empty span (file 0, 0..0) prints without a source excerpt. */
void chg_c_diag_note(chg_compiler *c, chg_diag *d, chg_span span, const char *fmt, ...)
{
    if (!d || d->nnotes >= (int)CHG_ARRAY_LEN(d->notes))
        return;
    va_list ap;
    va_start(ap, fmt);
    const char *msg = arena_vformat(c, fmt, ap);
    va_end(ap);
    if (!msg)
        return;
    d->notes[d->nnotes].span = span;
    d->notes[d->nnotes].message = msg;
    d->nnotes++;
}

/* One help per diagnostic; a second call replaces the first. Callers
 * that add a generic help after chg_c_diag_suggest test d->help first so
 * the specific "did you mean" wins. */
void chg_c_diag_help(chg_compiler *c, chg_diag *d, const char *fmt, ...)
{
    if (!d)
        return;
    va_list ap;
    va_start(ap, fmt);
    const char *msg = arena_vformat(c, fmt, ap);
    va_end(ap);
    if (msg)
        d->help = msg;
}

/* A "did you mean" from the candidates, by the one rule of
 * chg_closest_name (stdlib/base.c), shared with the VM's facts warning. */
void chg_c_diag_suggest(chg_compiler *c, chg_diag *d, const char *name,
                      const char *const *candidates, size_t n)
{
    const char *best = d && name ? chg_closest_name(name, candidates, n) : NULL;
    if (best)
        chg_c_diag_help(c, d, "did you mean '%s'?", best);
}

/* The parser hands over data, not prose (see parser.y's yyreport_syntax_
 * error): the unexpected token's alias and at most a few expected ones,
 * already de-duplicated. The wording is made here so all syntax errors
 * read alike. A NULL token means bison had no lookahead to name, and
 * the bare "syntax error" is then all that is honest. */
chg_diag *chg_c_diag_syntax(chg_compiler *c, chg_span span, const char *unexpected,
                          const char *const *expected, size_t n)
{
    if (!unexpected)
        return chg_c_diag_report(c, CHG_D_E0013, span, "syntax error", NULL);
    chg_buf b;
    chg_buf_init(&b);
    chg_buf_printf(&b, "unexpected %s", unexpected);
    for (size_t i = 0; i < n; i++)
        chg_buf_printf(&b, "%s%s", i == 0 ? ", expected " : " or ", expected[i]);
    chg_diag *d = chg_c_diag_report(c, CHG_D_E0013, span, b.oom ? "syntax error" : b.data, NULL);
    chg_buf_free(&b);
    return d;
}

/* A span copied out of its source, NUL-terminated, for messages and for
 * comparisons by text (classify's duplicate conditions). A span that does
 * not fit the source (a default span, a file since replaced) gives "",
 * never an out-of-bounds read. */
const char *chg_c_span_text(chg_compiler *c, chg_span s)
{
    const chg_source *src = chg_compiler_source(c, s.file);
    if (!src || s.start > src->len || s.end > src->len || s.end < s.start)
        return "";
    const char *t = chg_arena_strndup(&c->arena, src->text + s.start, s.end - s.start);
    return t ? t : ""; /* the arena remembers the failure */
}

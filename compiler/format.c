/*
 * format.c — `chgc fmt`: the canonical layout of a .chg file.
 *
 * The formatter works on the scanner's tokens, not on the tree: it keeps
 * every token's text exactly as written (a literal is never re-spelled,
 * a string never re-escaped) and every comment, and decides only the
 * whitespace between them. That makes the one property that matters hold
 * by construction — the output is the same token sequence, so it parses
 * to the same tree — and the formatter checks it anyway before handing
 * out anything (format_verify): a bug here can produce an ugly file, never
 * a different policy.
 *
 * Layout rules (docs/cli.md, chgc fmt):
 *   - line breaks are the author's: a token that started a line still
 *     does; runs of blank lines become one; no blank lines at the start,
 *     exactly one newline at the end;
 *   - indentation is computed: a declaration starts in column 0; its
 *     further lines are indented two spaces when they start a clause
 *     (`when`, `require`, `deny`, `warn`, `do`, a body's `{`) and four
 *     when they continue one (`and …`, a message after `deny during …`);
 *     a line inside brackets is two more than the line that opened the
 *     innermost bracket, except that a declaration's body `{` holds its
 *     contents at two whatever line it is on; in a body whose items the
 *     tree knows (schema and intake fields, classify arms, approvals
 *     entries, test statements, limits) a line that continues an item
 *     (`expect … ⏎ next_open …`) is two more again; a line starting
 *     with a closer goes back to its opener's line; a comment on its own
 *     line takes the indentation of the code after it (of the block,
 *     when what follows closes it);
 *   - one space between tokens, none inside ( ) and [ ], none before
 *     , : . ?. ) ] ? and after . ?. ( [; `f(x)`, `enum(…)` and `a[i]` stay
 *     tight when written tight (a keyword before `(` gets its space); one space inside { } unless empty; a unary minus and
 *     `..` keep the spacing they were written with;
 *   - in consecutive lines of one block, the values of `key: value`, the
 *     `=` of `name = …`, the `=>` of `class => …` and the `when` of
 *     classify arms are aligned in one column (lines inside a bracket
 *     that one of them opened do not break the run);
 *   - trailing comments of consecutive lines are aligned two spaces after
 *     the longest line of the run;
 *   - interpolated strings are copied as written, interpolations included.
 *
 * Every choice depends only on the tokens, the line breaks and the few
 * spacings kept from the source, all of which the output reproduces, so
 * formatting formatted output changes nothing.
 */
#include "compiler_int.h"

#include <stdlib.h>
#include <string.h>

#include "parser.h"

/* A piece of the file: a token, or a comment between tokens. */
typedef enum piece_kind { PC_TOKEN, PC_LINE_COMMENT, PC_BLOCK_COMMENT } piece_kind;

typedef struct piece {
    piece_kind kind;
    int tok;             /* token kind (PC_TOKEN) */
    uint32_t start, end; /* bytes of the source */
    uint32_t newlines;   /* line breaks between the previous piece and this */
    bool space_before;   /* some whitespace separated it from the previous */
    bool decl;           /* the first token of a declaration */
    bool item;           /* the first token of an item of a declaration's body */
    bool items;          /* an opener whose contents are such items */
} piece;

typedef struct out_line {
    uint32_t indent;
    uint32_t code_start, code_len;   /* in the code buffer */
    uint32_t comment_start, comment_len; /* trailing comment, 0 len: none */
    bool blank_before;
    bool comment_only;               /* a comment on its own line */
    bool indent_pending;             /* comment_only: indent from what follows */
    int align_kind;                  /* ':', '=' or ARROW: the line's alignment point, 0: none */
    uint32_t align_at;               /* where padding goes, from code_start */
    int depth;                       /* brackets open at the line's start */
    uint32_t ntokens;                /* tokens on the line so far */
    uint32_t cont;                   /* of indent, the continuation of a declaration */
    bool align_many;                 /* more than one such point: not aligned */
    bool in_run;                     /* aligned with earlier lines already */
} out_line;

typedef struct fmt {
    const char *text;
    piece *p;
    size_t n;
    chg_buf code;        /* the lines' text, without indentation */
    out_line *lines;
    size_t nlines, cap;
    uint32_t stack[CHG_MAX_DEPTH + 1]; /* per open bracket: its contents' indent */
    bool items[CHG_MAX_DEPTH + 1];     /* per open bracket: holds items (piece.items) */
    int depth;
    bool oom;
} fmt;

static bool is_opener(int k) { return k == '(' || k == '[' || k == '{'; }
static bool is_closer(int k) { return k == ')' || k == ']' || k == '}'; }

/* The gap before a token holds only whitespace and comments (the file
 * scanned without error): split it into comment pieces. */
static void gap_pieces(fmt *f, uint32_t from, uint32_t to, piece *buf, size_t *nbuf, uint32_t *newlines,
                       bool *space)
{
    uint32_t i = from;
    while (i < to) {
        char ch = f->text[i];
        if (ch == '\n') {
            (*newlines)++;
            *space = true;
            i++;
        } else if (ch == '#' || (ch == '/' && i + 1 < to && f->text[i + 1] == '*')) {
            piece *c = &buf[(*nbuf)++];
            memset(c, 0, sizeof *c);
            c->kind = ch == '#' ? PC_LINE_COMMENT : PC_BLOCK_COMMENT;
            c->start = i;
            if (ch == '#') {
                while (i < to && f->text[i] != '\n')
                    i++;
                /* the comment's own trailing blanks are not kept */
                uint32_t e = i;
                while (e > c->start && (f->text[e - 1] == ' ' || f->text[e - 1] == '\t' || f->text[e - 1] == '\r'))
                    e--;
                c->end = e;
            } else {
                i += 2;
                while (i + 1 < to && !(f->text[i] == '*' && f->text[i + 1] == '/'))
                    i++;
                i = i + 2 <= to ? i + 2 : to;
                c->end = i;
            }
            c->newlines = *newlines;
            c->space_before = *space;
            *newlines = 0;
            *space = false;
        } else {
            *space = true; /* blanks, tabs, "\r", a byte order mark */
            i++;
        }
    }
}

/* ---- lines ------------------------------------------------------------------------ */

static out_line *new_line(fmt *f, bool blank_before)
{
    if (f->nlines == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 64;
        out_line *l = chg_realloc(f->lines, cap * sizeof *l);
        if (!l) {
            f->oom = true;
            return NULL;
        }
        f->lines = l;
        f->cap = cap;
    }
    out_line *l = &f->lines[f->nlines++];
    memset(l, 0, sizeof *l);
    l->blank_before = blank_before && f->nlines > 1;
    l->code_start = (uint32_t)f->code.len;
    return l;
}

static out_line *cur(fmt *f) { return f->nlines ? &f->lines[f->nlines - 1] : NULL; }

static void put(fmt *f, const char *s, size_t n)
{
    chg_buf_append(&f->code, s, n);
    cur(f)->code_len += (uint32_t)n;
}

/* Comment lines waiting for the indentation of what follows them: those
 * just before line `upto` (exclusive). */
static void settle_pending(fmt *f, size_t upto, uint32_t indent)
{
    for (size_t i = upto; i-- > 0 && f->lines[i].indent_pending;) {
        f->lines[i].indent = indent;
        f->lines[i].indent_pending = false;
    }
}

/* Does a declaration's further line starting with token k start a
 * clause (two spaces) rather than continue one (four)? */
static bool starts_clause(int k)
{
    return k == WHEN || k == REQUIRE || k == DENY || k == WARN || k == DO || k == '{';
}

/* The indentation of a line whose first token is p: see the top. */
static uint32_t line_indent(const fmt *f, const piece *p, bool in_decl)
{
    if (p->kind == PC_TOKEN && is_closer(p->tok))
        return f->depth > 0 ? f->stack[f->depth - 1] - 2 : 0;
    if (f->depth > 0)
        return f->stack[f->depth - 1] + (f->items[f->depth - 1] && !p->item ? 2 : 0);
    if (p->decl || !in_decl)
        return 0;
    return p->kind == PC_TOKEN && starts_clause(p->tok) ? 2 : 4;
}

/* Is there no space between a and b? */
static bool tight(const fmt *f, const piece *a, const piece *b)
{
    if (a->kind != PC_TOKEN || b->kind != PC_TOKEN)
        return false;
    int x = a->tok, y = b->tok;
    if (x == '(' || x == '[' || x == '.' || x == QDOT)
        return true;
    if (y == ')' || y == ']' || y == ',' || y == ':' || y == '.' || y == QDOT || y == '?')
        return true; /* `?` only ever follows a type: string? */
    if ((y == '(' || y == '[') && !b->space_before &&
        (x == IDENT || x == ')' || x == ']' || x == ENUM || x == COUNT))
        return true; /* a call or an index, as written; after a keyword, `and (` */
    if (x == '{')
        return y == '}';
    if ((x == '-' && !b->space_before) || (y == '-' && !b->space_before))
        return true; /* a minus as written: -1, mon-fri */
    if ((x == DOTDOT || y == DOTDOT)) {
        /* `..` as written: 02:00..06:00 or 2026-11-25T00:00 .. 2026-12-01T00:00 */
        const piece *dd = x == DOTDOT ? a : b;
        const piece *after = x == DOTDOT ? b : dd + 1;
        bool spaced = dd->space_before || (after < f->p + f->n && after->space_before);
        return !spaced;
    }
    return false;
}

/* Lay the pieces out in lines. */
static void layout(fmt *f)
{
    bool in_decl = false;
    for (size_t i = 0; i < f->n && !f->oom; i++) {
        piece *p = &f->p[i];
        bool starts_line = i == 0 || p->newlines > 0;
        if (p->kind == PC_LINE_COMMENT && !starts_line) {
            /* a trailing comment: the rest of this line */
            out_line *l = cur(f);
            l->comment_start = p->start;
            l->comment_len = p->end - p->start;
            continue;
        }
        if (starts_line) {
            out_line *l = new_line(f, p->newlines > 1);
            if (!l)
                return;
            l->depth = f->depth;
            if (p->kind == PC_TOKEN) {
                if (p->decl)
                    in_decl = true;
                l->indent = line_indent(f, p, in_decl);
                l->cont = f->depth == 0 && !is_closer(p->tok) ? l->indent : 0;
                settle_pending(f, f->nlines - 1, l->indent);
            } else if (p->kind == PC_LINE_COMMENT || p->kind == PC_BLOCK_COMMENT) {
                l->comment_only = true;
                /* before a closer: the block's indentation, else that of
                 * the code that follows (settled when it comes) */
                const piece *next = p + 1;
                while (next < f->p + f->n && next->kind != PC_TOKEN)
                    next++;
                if (next < f->p + f->n && is_closer(next->tok) && f->depth > 0)
                    l->indent = f->stack[f->depth - 1];
                else
                    l->indent_pending = true;
            }
        } else {
            /* the alignment point of `key: value`, `name = …`, `class => …`
             * lines: the first such token among a line's first three, at
             * the line's own bracket depth */
            out_line *l = cur(f);
            bool point = p->kind == PC_TOKEN && f->depth == l->depth &&
                         (p->tok == ':' || p->tok == '=' || p->tok == ARROW);
            if (point && !l->align_kind && l->ntokens < 3) {
                l->align_kind = p->tok;
                l->align_at = l->code_len + (p->tok == ':' ? 1 : 0);
            } else if (point && l->align_kind == p->tok)
                l->align_many = true; /* `a: 1, b: 2`: nothing to align */
            /* classify arms: `high     when …` and `default  low` */
            if (p->kind == PC_TOKEN && !l->align_kind && l->ntokens == 1 && f->depth == l->depth &&
                (p->tok == WHEN || f->p[i - 1].tok == DEFAULT)) {
                l->align_kind = WHEN;
                l->align_at = l->code_len;
            }
            if (!tight(f, &f->p[i - 1], p))
                put(f, " ", 1);
        }
        if (p->kind == PC_TOKEN)
            cur(f)->ntokens++;
        if (p->kind != PC_TOKEN) {
            put(f, f->text + p->start, p->end - p->start);
            continue;
        }
        if (p->tok == STR_BEGIN) {
            /* an interpolated string, copied as written up to its end */
            size_t j = i;
            int nest = 0;
            for (; j < f->n; j++) {
                if (f->p[j].kind != PC_TOKEN)
                    continue;
                nest += f->p[j].tok == STR_BEGIN;
                nest -= f->p[j].tok == STR_END;
                if (nest == 0)
                    break;
            }
            if (j == f->n)
                j = f->n - 1;
            put(f, f->text + p->start, f->p[j].end - p->start);
            i = j;
            continue;
        }
        if (is_closer(p->tok) && f->depth > 0)
            f->depth--;
        put(f, f->text + p->start, p->end - p->start);
        /* a bracket's contents: two more than its line; a declaration's
         * body at two, whatever line its `{` is on (an intake's `{` on
         * its `and …` line) */
        if (is_opener(p->tok) && f->depth < CHG_MAX_DEPTH) {
            bool body = p->tok == '{' && f->depth == 0;
            f->items[f->depth] = p->items;
            f->stack[f->depth++] = (body ? cur(f)->indent - cur(f)->cont : cur(f)->indent) + 2;
        }
    }
    settle_pending(f, f->nlines, 0);
}

/* Alignment of `key: value` (and `=`, `=>`) in a run of consecutive lines
 * of one block: the padding each line gets at its alignment point, so
 * that the values (or the operators) start in one column. A blank line,
 * a comment line or a line without the same kind of point ends a run. */
static void align(fmt *f, uint32_t *pad)
{
    for (size_t i = 0; i < f->nlines; i++) {
        out_line *l = &f->lines[i];
        if (l->in_run || !l->align_kind || l->align_many || l->comment_only)
            continue;
        uint32_t col = l->align_at;
        size_t last = i, members = 1;
        for (size_t j = i + 1; j < f->nlines; j++) {
            const out_line *m = &f->lines[j];
            if (m->blank_before)
                break;
            if (m->depth > l->depth && !m->comment_only)
                continue; /* inside a bracket a member opened: its own runs */
            if (m->comment_only || m->align_kind != l->align_kind || m->align_many || m->indent != l->indent ||
                m->depth != l->depth)
                break;
            col = m->align_at > col ? m->align_at : col;
            members++;
            last = j;
        }
        for (size_t k = i; k <= last && members > 1; k++)
            if (f->lines[k].depth == l->depth) {
                pad[k] = col - f->lines[k].align_at;
                f->lines[k].in_run = true;
            }
    }
}

/* Write the lines: indentation, code, aligned trailing comments. */
static void render(fmt *f, chg_buf *out)
{
    uint32_t *pad = chg_malloc((f->nlines + 1) * sizeof *pad);
    if (!pad) {
        f->oom = true;
        return;
    }
    memset(pad, 0, (f->nlines + 1) * sizeof *pad);
    align(f, pad);
    for (size_t i = 0; i < f->nlines; i++) {
        /* a run of consecutive lines with code and a trailing comment:
         * the comments start two columns after the longest code */
        size_t j = i;
        uint32_t width = 0;
        while (j < f->nlines && f->lines[j].comment_len && !f->lines[j].comment_only &&
               (j == i || !f->lines[j].blank_before)) {
            uint32_t w = f->lines[j].indent + f->lines[j].code_len + pad[j];
            width = w > width ? w : width;
            j++;
        }
        if (j == i)
            j = i + 1;
        for (size_t k = i; k < j; k++) {
            const out_line *l = &f->lines[k];
            if (l->blank_before)
                chg_buf_putc(out, '\n');
            for (uint32_t s = 0; s < l->indent; s++)
                chg_buf_putc(out, ' ');
            const char *code = f->code.data + l->code_start;
            uint32_t cut = pad[k] ? l->align_at : l->code_len;
            chg_buf_append(out, code, cut);
            for (uint32_t s = 0; s < pad[k]; s++)
                chg_buf_putc(out, ' ');
            chg_buf_append(out, code + cut, l->code_len - cut);
            if (l->comment_len) {
                for (uint32_t s = l->indent + l->code_len + pad[k]; s < width + 2; s++)
                    chg_buf_putc(out, ' ');
                chg_buf_append(out, f->text + l->comment_start, l->comment_len);
            }
            chg_buf_putc(out, '\n');
        }
        i = j - 1;
    }
    chg_free(pad);
}

/* ---- items ------------------------------------------------------------------------ */

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Where the items of the declarations' bodies start (schema and intake
 * fields, classify arms, approvals entries, test statements, limits),
 * sorted; chg_malloc'd (NULL with *n 0 when there are none). */
static int item_starts(const chg_file *tree, uint32_t **out, size_t *n)
{
    size_t count = 0;
    for (uint32_t d = 0; d < tree->ndecls; d++) {
        const chg_decl *x = tree->decls[d];
        count += x->kind == D_SCHEMA      ? x->u.schema.n
                 : x->kind == D_CLASSIFY  ? x->u.classify.n
                 : x->kind == D_APPROVALS ? x->u.approvals.n
                 : x->kind == D_INTAKE    ? x->u.intake.n
                 : x->kind == D_TEST      ? x->u.test.n
                 : x->kind == D_LIMITS    ? x->u.limits.n
                                          : 0;
    }
    *n = 0;
    *out = NULL;
    if (count == 0)
        return CHG_OK;
    uint32_t *a = chg_malloc(count * sizeof *a);
    if (!a)
        return CHG_ENOMEM;
    size_t k = 0;
    for (uint32_t d = 0; d < tree->ndecls; d++) {
        const chg_decl *x = tree->decls[d];
        switch (x->kind) {
        case D_SCHEMA:
            for (uint32_t i = 0; i < x->u.schema.n; i++)
                a[k++] = x->u.schema.fields[i].name.span.start;
            break;
        case D_CLASSIFY:
            for (uint32_t i = 0; i < x->u.classify.n; i++)
                a[k++] = x->u.classify.arms[i].span.start;
            break;
        case D_APPROVALS:
            for (uint32_t i = 0; i < x->u.approvals.n; i++)
                a[k++] = x->u.approvals.entries[i].cls.span.start;
            break;
        case D_INTAKE:
            for (uint32_t i = 0; i < x->u.intake.n; i++)
                a[k++] = x->u.intake.fields[i].key.span.start;
            break;
        case D_TEST:
            for (uint32_t i = 0; i < x->u.test.n; i++)
                a[k++] = x->u.test.items[i].span.start;
            break;
        case D_LIMITS:
            for (uint32_t i = 0; i < x->u.limits.n; i++)
                a[k++] = x->u.limits.fields[i].key.span.start;
            break;
        default:
            break;
        }
    }
    qsort(a, k, sizeof *a, cmp_u32);
    *out = a;
    *n = k;
    return CHG_OK;
}

/* Mark the item starts, and each opener that directly holds one. */
static void mark_items(fmt *f, const uint32_t *starts, size_t nstarts)
{
    size_t stack[CHG_MAX_DEPTH + 1];
    int depth = 0;
    size_t s = 0;
    for (size_t i = 0; i < f->n; i++) {
        piece *p = &f->p[i];
        if (p->kind != PC_TOKEN)
            continue;
        while (s < nstarts && starts[s] < p->start)
            s++;
        if (s < nstarts && starts[s] == p->start && depth > 0) {
            p->item = true;
            f->p[stack[depth - 1]].items = true;
        }
        if (is_closer(p->tok) && depth > 0)
            depth--;
        else if (is_opener(p->tok) && depth < CHG_MAX_DEPTH)
            stack[depth++] = i;
    }
}

/* ---- the whole file ------------------------------------------------------------------- */

/* The tokens of source `file` (kinds and spans), chg_malloc'd; NULL when
 * out of memory. *n excludes the end-of-input token. */
static int tokens_of(chg_compiler *c, uint32_t file, int **kinds, chg_span **spans, size_t *n)
{
    size_t count = chg_c_lex_all(c, file, NULL, NULL, 0);
    *kinds = chg_malloc((count + 1) * sizeof **kinds);
    *spans = chg_malloc((count + 1) * sizeof **spans);
    if (!*kinds || !*spans)
        return CHG_ENOMEM;
    *n = chg_c_lex_all(c, file, *kinds, *spans, count + 1);
    return *n == count ? CHG_OK : CHG_ENOMEM;
}

/* The output must be the input's tokens, in order, each spelled the same:
 * then it parses to the same tree. */
static int format_verify(chg_compiler *c, uint32_t file, const int *kinds, const chg_span *spans, size_t n,
                         const chg_buf *out)
{
    const chg_source *src = chg_compiler_source(c, file);
    char *name = chg_arena_printf(&c->arena, "%s (formatted)", src->path);
    size_t before = chg_compiler_ndiags(c);
    if (!name || chg_compiler_add_source(c, name, out->data ? out->data : "", out->len) != CHG_OK)
        return CHG_ENOMEM;
    uint32_t file2 = (uint32_t)chg_compiler_nsources(c) - 1;
    int *k2;
    chg_span *s2;
    size_t n2;
    int rc = tokens_of(c, file2, &k2, &s2, &n2);
    if (rc == CHG_OK) {
        const chg_source *o = chg_compiler_source(c, file2);
        bool same = n2 == n && chg_compiler_ndiags(c) == before;
        for (size_t i = 0; same && i < n; i++)
            same = kinds[i] == k2[i] && spans[i].end - spans[i].start == s2[i].end - s2[i].start &&
                   memcmp(src->text + spans[i].start, o->text + s2[i].start, spans[i].end - spans[i].start) == 0;
        rc = same ? CHG_OK : CHG_EINTERNAL;
    }
    chg_free(k2);
    chg_free(s2);
    return rc;
}

int chg_compiler_format(chg_compiler *c, chg_buf *out, const chg_source **original)
{
    *original = NULL;
    if (c->roots.len != 1)
        return CHG_EINVAL;
    uint32_t file = (uint32_t)(uintptr_t)c->roots.items[0];
    *original = chg_compiler_source(c, file);
    chg_file *tree;
    int rc = chg_c_parse(c, file, &tree);
    if (rc != CHG_OK || chg_compiler_count(c, CHG_ERROR) > 0)
        return rc == CHG_ENOMEM ? rc : CHG_EINVAL;
    const chg_source *src = chg_compiler_source(c, file);
    int *kinds = NULL;
    chg_span *spans = NULL;
    size_t n = 0;
    fmt f = {.text = src->text};
    chg_buf_init(&f.code);
    rc = tokens_of(c, file, &kinds, &spans, &n);
    /* at most one comment per gap byte pair, and one token each */
    if (rc == CHG_OK && !(f.p = chg_malloc((src->len + n + 1) * sizeof *f.p)))
        rc = CHG_ENOMEM;
    if (rc == CHG_OK) {
        uint32_t prev = 0, newlines = 0;
        bool space = false;
        size_t d = 0;
        for (size_t i = 0; i <= n; i++) {
            uint32_t start = i < n ? spans[i].start : (uint32_t)src->len;
            gap_pieces(&f, prev, start, f.p, &f.n, &newlines, &space);
            if (i == n)
                break;
            piece *p = &f.p[f.n++];
            memset(p, 0, sizeof *p);
            p->kind = PC_TOKEN;
            p->tok = kinds[i];
            p->start = spans[i].start;
            p->end = spans[i].end;
            p->newlines = newlines;
            p->space_before = space;
            /* declarations start where the parser says they do */
            while (d < tree->ndecls && tree->decls[d]->span.start < p->start)
                d++;
            p->decl = d < tree->ndecls && tree->decls[d]->span.start == p->start;
            newlines = 0;
            space = false;
            prev = spans[i].end;
        }
        uint32_t *starts = NULL;
        size_t nstarts = 0;
        rc = item_starts(tree, &starts, &nstarts);
        mark_items(&f, starts, nstarts);
        chg_free(starts);
        if (rc == CHG_OK)
            layout(&f);
        if (!f.oom && rc == CHG_OK)
            render(&f, out);
        if (f.oom || f.code.oom || out->oom)
            rc = CHG_ENOMEM;
    }
    if (rc == CHG_OK)
        rc = format_verify(c, file, kinds, spans, n, out);
    chg_free(kinds);
    chg_free(spans);
    chg_free(f.p);
    chg_free(f.lines);
    chg_buf_free(&f.code);
    return rc;
}

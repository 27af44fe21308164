/*
 * parse.c — runs the scanner and parser over one source file and builds
 * the AST: the driver (chg_c_parse), the syntax-error reporter the grammar
 * calls, and the small AST builders of parse_build.h.
 *
 * The parse is the first pass and the one that makes every later pass's
 * recursion safe: expression, time-set and requirement depth is capped at
 * CHG_MAX_DEPTH here (E0011, the file's parse stops), so resolve, check,
 * the time library and codegen recurse over trees at most that deep
 * without checking again. The scanner runs inside the parser (bison pulls
 * tokens through chg_c_yylex), and both report into the compiler's
 * diagnostics; neither prints.
 *
 * What the parse hands on: a chg_file whose declarations are in source
 * order, names as written (nothing resolved), every node with a span, and
 * a declaration that contained a syntax error marked `broken` so that the
 * checker's completeness checks (a test without `expect`, an intake
 * missing fields) do not pile onto the syntax error.
 */
#include "parse_build.h"
#include "bundle_format.h"

#include <stdio.h>
#include <string.h>

#include "parser.h"
#include "lexer.h"

/* ---- driver --------------------------------------------------------------- */

/* The token source bison calls: the flex scanner, except that once the
 * parse must stop (nesting too deep, the error limit, memory) it hands out
 * end of input. Stopping by EOF rather than by aborting the parser lets
 * bison unwind normally, so every declaration parsed so far keeps its
 * diagnostics and the parser's stack is freed. */
_Static_assert(sizeof(CHG_C_YYSTYPE) <= sizeof(((chg_parser *)0)->held_val), "held_val holds a token value");

static bool starts_decl(int k)
{
    switch (k) {
    case POLICY: case IMPORT: case SCHEMA: case AT: case RISK: case LET: case CLASSIFY:
    case WINDOW: case FREEZE: case APPROVALS: case RULE: case ON: case INTAKE: case TEST: return true;
    default: return false;
    }
}

/* Does token k, ending at `end`, start an item inside a block: a test's
 * `given`, `expect` or `at`, a classify arm (`default`, `name when`), an
 * approval entry (`name =>`), a test's input (`change {`)? */
static bool starts_item(const chg_parser *p, int k, uint32_t end)
{
    if (k == GIVEN || k == EXPECT || k == DEFAULT || k == AT)
        return true;
    if (k != IDENT)
        return false;
    while (end < p->len && (p->text[end] == ' ' || p->text[end] == '\t'))
        end++;
    size_t rest = p->len - end;
    const char *t = p->text + end;
    if ((rest >= 2 && t[0] == '=' && t[1] == '>') || (rest >= 1 && t[0] == '{'))
        return true;
    return rest >= 4 && memcmp(t, "when", 4) == 0 &&
           (rest == 4 || !(t[4] == '_' || (t[4] >= 'a' && t[4] <= 'z') || (t[4] >= 'A' && t[4] <= 'Z') ||
                           (t[4] >= '0' && t[4] <= '9')));
}

/* Is the token at offset `at` the first on its line? */
bool chg_c_p_first_on_line(const chg_parser *p, uint32_t at)
{
    while (at > 0 && (p->text[at - 1] == ' ' || p->text[at - 1] == '\t'))
        at--;
    return at == 0 || p->text[at - 1] == '\n';
}

static bool is_closer(int k)
{
    return k == ')' || k == ']' || k == '}' || k == INTERP_END;
}

/* Hand out the first of n closers made up for the brackets still open, and
 * keep token k, which comes after them. */
static int hold(chg_parser *p, int k, const CHG_C_YYSTYPE *yylval, chg_span *yylloc, int n)
{
    p->held = k;
    memcpy(p->held_val, yylval, sizeof *yylval);
    p->held_loc = *yylloc;
    p->pending = n - 1;
    yylloc->end = yylloc->start;
    return p->open[--p->nopen];
}

/* A closer that closes an outer bracket while inner ones are open (`(2]`,
 * `{ a: (1 }`): one syntax error here, naming the closer that was
 * expected and where its bracket was opened. */
static void report_mismatch(chg_parser *p, int k, chg_span at)
{
    char want[8];
    snprintf(want, sizeof want, "'%c'", p->open[p->nopen - 1]);
    const char *expected[] = {want};
    chg_diag *d = chg_c_diag_syntax(p->c, at, chg_c_token_name(k), expected, 1);
    uint32_t o = p->open_at[p->nopen - 1];
    chg_c_diag_note(p->c, d, (chg_span){p->file, o, o + 1}, "the '%c' opened here is not closed",
                    p->text[o]);
    p->last_error = at.start + 1;
}

static bool line_start(const chg_parser *p, uint32_t at)
{
    return at == 0 || p->text[at - 1] == '\n';
}

/* How many of the open brackets end before token k at `at`, if k is where
 * recovery from a syntax error resumes: a declaration keyword that starts
 * a line closes every bracket (unless an interpolation is open: no token
 * can close that), an item of a block that is the first on its line (a
 * test's `given`, a classify arm) the ( and [ open inside the block. */
static int sync_closers(const chg_parser *p, int k, chg_span at)
{
    if (starts_decl(k) && line_start(p, at.start)) {
        for (int i = 0; i < p->nopen; i++)
            if (p->open[i] == 0)
                return 0;
        return p->nopen;
    }
    /* (the end of input has no location to look before: starts_item first) */
    if (!starts_item(p, k, at.end) || !chg_c_p_first_on_line(p, at.start))
        return 0;
    int n = 0;
    while (n < p->nopen && (p->open[p->nopen - 1 - n] == ')' || p->open[p->nopen - 1 - n] == ']'))
        n++;
    return n < p->nopen && p->open[p->nopen - 1 - n] == '}' ? n : 0;
}

/* Is token k at `at` one where recovery resumes? (The grammar then
 * reports the next error at once: chg_c_yyparse's RESYNC.) */
bool chg_c_p_resumes(const chg_parser *p, int k, chg_span at)
{
    if (starts_decl(k) && line_start(p, at.start))
        return true;
    return starts_item(p, k, at.end) && chg_c_p_first_on_line(p, at.start);
}

/* Follow ( [ { and interpolations with their closers, so that a bracket
 * left open never swallows the rest of the file:
 *  - a closer only closes its own kind. One that closes an outer bracket
 *    (`[1, (2]`) is reported here, unless the parser is already recovering
 *    from an error, and the closers of the inner brackets are handed out
 *    before it; the parser then sees a balanced stream, recovers inside the
 *    inner brackets, and goes on with what follows. Bison's own error at a
 *    made-up closer is not reported a second time (quiet_at). A closer
 *    that closes nothing open goes to the parser as it is, closing nothing.
 *  - at a place where recovery resumes (sync_closers) while recovering
 *    from a syntax error, the closers of what is still open come first
 *    (bison's `( error )` rules then end there), then the token. When the
 *    syntax error is at that token itself (`let ok = 1` after an unclosed
 *    `[`), chg_c_parser_syntax_error arranges the same: the closers, then
 *    the token again. Bison either drops the first copy while it recovers
 *    (the closers then end its `( error )` and the second copy starts the
 *    declaration) or takes it (the closers are then a silent error it
 *    drops, and the second copy starts the declaration again).
 * A valid program never takes either path. */
static int balance(chg_parser *p, int k, CHG_C_YYSTYPE *yylval, chg_span *yylloc)
{
    if (k == '(' || k == '[' || k == '{' || k == INTERP_BEGIN) {
        if (p->nopen < CHG_MAX_DEPTH) {
            p->open_at[p->nopen] = yylloc->start;
            p->open[p->nopen++] = k == '(' ? ')' : k == '[' ? ']' : k == '{' ? '}' : 0;
        }
        return k;
    }
    if (is_closer(k)) {
        char want = k == INTERP_END ? 0 : (char)k;
        int i = p->nopen - 1;
        while (i >= 0 && p->open[i] != want && p->open[i] != 0)
            i--; /* an interpolation cannot be closed from inside by another closer */
        if (i < 0 || p->open[i] != want)
            return k;
        if (i == p->nopen - 1) {
            p->nopen--;
            return k;
        }
        if (!p->recovering && p->quiet_at != yylloc->start + 1)
            report_mismatch(p, k, *yylloc);
        p->quiet_at = yylloc->start + 1;
        return hold(p, k, yylval, yylloc, p->nopen - 1 - i);
    }
    int n = sync_closers(p, k, *yylloc);
    if (p->recovering && n > 0)
        return hold(p, k, yylval, yylloc, n);
    if (!p->nopen && starts_decl(k) && line_start(p, yylloc->start))
        p->recovering = false;
    return k;
}

int chg_c_yylex(CHG_C_YYSTYPE *yylval, chg_span *yylloc, void *scanner)
{
    chg_parser *p = chg_c_yyget_extra(scanner);
    if (p->pending > 0 || p->held) {
        if (p->pending > 0) { /* the next synthetic closer, where the keyword is */
            p->pending--;
            *yylloc = p->held_loc;
            yylloc->end = yylloc->start;
            return p->prev_tok = p->open[--p->nopen];
        }
        int k = p->held;
        p->held = 0;
        memcpy(yylval, p->held_val, sizeof *yylval);
        memcpy(p->last_val, p->held_val, sizeof p->last_val);
        *yylloc = p->held_loc;
        if (is_closer(k))
            p->nopen--; /* the bracket it closes is now the innermost */
        else
            p->recovering = false; /* the parse resumes here: a bracket
                                      still open later is a new error */
        return p->prev_tok = k;
    }
    if (!p->fatal && !p->c->error_limit_hit) {
        int k = chg_c_lex_raw(yylval, yylloc, scanner);
        /* A token whose text could not be copied has no value: end the
         * file here rather than hand the parser a NULL name. */
        if (chg_c_status(p->c) == CHG_OK && !p->str.oom)
        {
            k = balance(p, k, yylval, yylloc);
            memcpy(p->last_val, yylval, sizeof *yylval);
            return p->prev_tok = k;
        }
        chg_c_nomem(p->c);
        p->fatal = true;
    }
    yylloc->file = p->file;
    yylloc->start = yylloc->end = (uint32_t)p->len;
    return 0;
}

/* Report invalid UTF-8 before scanning, so the scanner can treat every
 * non-ASCII byte it sees outside strings as one character. At most a few
 * per file: a binary file would otherwise bury everything else. */
static void check_utf8(chg_parser *p)
{
    const unsigned char *s = (const unsigned char *)p->text;
    size_t i = 0, n = p->len, reported = 0;
    while (i < n) {
        size_t bad = i + chg_utf8_validate(s + i, n - i);
        if (bad >= n)
            break;
        if (reported++ == 5) {
            chg_span at = {p->file, (uint32_t)bad, (uint32_t)bad + 1};
            chg_diag *d = chg_c_diag_report(p->c, CHG_D_E0002, at, "..", NULL);
            chg_c_diag_note(p->c, d, (chg_span){0}, "further invalid UTF-8 in this file is not reported");
            break;
        }
        char hex[4];
        snprintf(hex, sizeof hex, "%02X", s[bad]);
        chg_span at = {p->file, (uint32_t)bad, (uint32_t)bad + 1};
        chg_diag *d = chg_c_diag_report(p->c, CHG_D_E0002, at, hex, NULL);
        if (reported == 1)
            chg_c_diag_help(p->c, d, "chg source files must be UTF-8");
        i = bad + 1;
    }
}

/* A parser over source `file`, its UTF-8 checked, and a scanner reading
 * it; NULL when the scanner cannot be made (memory). */
static void *scan_begin(chg_compiler *c, uint32_t file, chg_parser *p)
{
    chg_source *src = c->sources.items[file];
    memset(p, 0, sizeof *p);
    p->c = c;
    p->arena = &c->arena;
    p->file = file;
    p->text = src->text;
    p->len = src->len;
    chg_buf_init(&p->str);
    check_utf8(p);
    void *scanner;
    if (chg_c_yylex_init_extra(p, &scanner) != 0)
        return NULL;
    /* flex takes an int length: max_file_size (clamped below INT_MAX by
     * chg_compiler_new) keeps the cast exact */
    CHG_ASSERT(src->len <= INT32_MAX);
    chg_c_yy_scan_bytes(src->text, (int)src->len, scanner);
    return scanner;
}

/*
 * Parse one source into *out. Syntax errors are diagnostics, not a
 * status: a file full of them still yields a chg_file with whatever
 * declarations survived recovery, so imports inside it are still loaded
 * and the later passes still report their own errors. Only an allocation
 * failure (ours, the scanner's or bison's) returns CHG_ENOMEM, and then
 * *out stays NULL: a tree that may contain spare nodes is never handed
 * on. The declaration list is moved, not copied, from the parser state,
 * which lives on this stack frame only.
 */
int chg_c_parse(chg_compiler *c, uint32_t file, chg_file **out)
{
    *out = NULL;
    chg_file *f = chg_arena_alloc(&c->arena, sizeof *f);
    if (!f)
        return chg_c_nomem(c);
    f->source = file;

    /* A bundle given where source is expected (`chgc check x.chgb` is
     * fine; `import "x.chgb"`, or a bundle renamed .chg, is not) is one
     * error, not a screen of invalid characters. */
    const chg_source *src = chg_compiler_source(c, file);
    if (src->len >= 8 && memcmp(src->text, CHG_BUNDLE_MAGIC, 8) == 0) {
        chg_diag *d = chg_c_diag_report(c, CHG_D_E0017, (chg_span){file, 0, 0}, NULL);
        chg_c_diag_help(c, d, "compile the .chg file it was built from, or give the bundle to a command that runs it");
        *out = f; /* an empty file: nothing to parse */
        return chg_c_status(c);
    }

    chg_parser p;
    void *scanner = scan_begin(c, file, &p);
    if (!scanner) {
        chg_buf_free(&p.str);
        return chg_c_nomem(c);
    }
    /* yyparse returns 0 (parsed, perhaps with recovered syntax errors, which
     * are diagnostics), 1 (unrecoverable syntax error, also reported) or 2
     * (bison's own memory ran out) */
    int rc = chg_c_yyparse(scanner, &p);
    chg_c_yylex_destroy(scanner);
    bool oom = p.str.oom;
    chg_buf_free(&p.str);
    /* a tree built while memory ran out may hold spare nodes (ast.h) */
    if (rc == 2 || oom || chg_c_status(c) != CHG_OK)
        return chg_c_nomem(c);

    f->decls = (chg_decl **)p.decls.items;
    f->ndecls = p.decls.n;
    *out = f;
    return chg_c_status(c);
}

/* The tokens of a file without parsing: the scanner alone, with the same
 * state a parse would give it (UTF-8 checked first, the same stop rules),
 * so tests of the lexer see exactly what the parser sees. */
size_t chg_c_lex_all(chg_compiler *c, uint32_t file, int *kinds, chg_span *spans, size_t max)
{
    chg_parser p;
    void *scanner = scan_begin(c, file, &p);
    if (!scanner) {
        chg_buf_free(&p.str);
        return 0;
    }
    size_t n = 0;
    for (;;) {
        CHG_C_YYSTYPE v;
        chg_span at = {p.file, 0, 0};
        int k = chg_c_yylex(&v, &at, scanner);
        if (n < max) {
            kinds[n] = k;
            spans[n] = at;
        }
        if (k == 0)
            break;
        n++;
    }
    chg_c_yylex_destroy(scanner);
    chg_buf_free(&p.str);
    return n;
}

/* Bison's stack (YYMAXDEPTH) ran out: only nesting can do that, so it is
 * reported as the nesting limit, and the file's parse stops. */
void chg_c_parser_exhausted(chg_parser *p, chg_span at)
{
    if (p->fatal || p->c->error_limit_hit)
        return;
    char lim[16];
    snprintf(lim, sizeof lim, "%d", CHG_MAX_DEPTH);
    chg_c_diag_report(p->c, CHG_D_E0011, at, "the code here", lim, NULL);
    p->fatal = true;
}

/* The syntax error is at the last token read: if recovery resumes there
 * (sync_closers), hand out the closers of what is open, then the token
 * again (balance says why this is safe either way bison goes). */
static void resume_after(chg_parser *p, chg_span at)
{
    if (p->held || p->pending || at.start >= p->len)
        return;
    chg_span tok = {p->file, at.start, at.end};
    int n = sync_closers(p, p->prev_tok, tok);
    if (n <= 0)
        return;
    p->held = p->prev_tok;
    memcpy(p->held_val, p->last_val, sizeof p->held_val);
    p->held_loc = tok;
    p->pending = n;
}

/* Was the bracket at `o` opened on the last non-blank line before `at`?
 * A block opened further up (a test's `{`) is no sign of a bracket left
 * open. */
static bool opened_on_line_before(const chg_parser *p, uint32_t o, uint32_t at)
{
    const char *nl = o < at ? memchr(p->text + o, '\n', at - o) : NULL;
    if (!nl)
        return false;
    for (const char *c = nl; c < p->text + at; c++)
        if (*c != '\n' && *c != '\r' && *c != ' ' && *c != '\t')
            return false;
    return true;
}

/* After the file's parse was stopped every token is a fabricated EOF, so
 * the errors bison would report about it are not reported. Nor is an
 * error at a token already reported (quiet_at: a closer made up for a
 * bracket or an interpolation left open). last_error lets the grammar
 * mark the declaration holding the error `broken`. When the unexpected
 * token starts a line, the innermost open bracket was opened on the line
 * before and its closer could come here, the likeliest mistake is that
 * it was never closed: a note says where it was opened. */
void chg_c_parser_syntax_error(chg_parser *p, chg_span at, const char *unexpected,
                             const char *const *expected, size_t n, bool closer_fits)
{
    if (p->fatal || p->c->error_limit_hit)
        return;
    p->recovering = true;
    if (p->quiet_at && at.start + 1 == p->quiet_at) {
        p->last_error = at.start + 1;
        return;
    }
    /* the end of input, or a token that starts a line */
    bool starts_line = at.start >= p->len || chg_c_p_first_on_line(p, at.start);
    if (at.start >= p->len && at.end >= p->len && p->len > 0) {
        /* point at the end of the last line rather than past it */
        uint32_t e = (uint32_t)p->len;
        while (e > 0 && (p->text[e - 1] == '\n' || p->text[e - 1] == '\r'))
            e--;
        at.start = at.end = e;
    }
    chg_diag *d = chg_c_diag_syntax(p->c, at, unexpected, expected, n);
    resume_after(p, at);
    if (closer_fits && starts_line && p->nopen > 0 && p->open[p->nopen - 1] != 0 &&
        opened_on_line_before(p, p->open_at[p->nopen - 1], at.start)) {
        uint32_t o = p->open_at[p->nopen - 1];
        chg_c_diag_note(p->c, d, (chg_span){p->file, o, o + 1}, "the '%c' opened here is not closed",
                        p->text[o]);
    }
    p->last_error = at.start + 1;
}

/* ---- builders ---------------------------------------------------------------- */

/* One of the small structs the builders make. Out of memory, a spare one,
 * as for AST nodes (ast.h): the parse then ends in CHG_ENOMEM. */
static void *alloc(chg_parser *p, size_t n)
{
    static _Thread_local union {
        chg_ident i;
        chg_field_decl f;
        chg_classify_arm a;
        chg_dayspec d;
        chg_approval_entry e;
        chg_test_item t;
        chg_expect_clause c;
        chg_object_field o;
    } spare;
    void *r = chg_arena_alloc(p->arena, n);
    if (!r) {
        if (n > sizeof spare)
            chg_panic("a parser struct of %zu bytes has no spare", n);
        memset(&spare, 0, sizeof spare);
        r = &spare;
    }
    return r;
}

/* Every declaration records its file here, once, which is what
 * visibility (chg_c_visible) and "declared in …" notes use later. */
chg_decl *chg_c_p_decl(chg_parser *p, chg_decl_kind kind, chg_span span)
{
    chg_decl *d = chg_c_ast_decl(p->arena, kind, span);
    d->file = p->file;
    return d;
}

/* A name written as a string ("a rule name", an import path). An
 * interpolated string is not a name: chg_c_p_not_interp already reported
 * it (E0015) and made it EX_ERROR, so here it becomes "" marked `bad`,
 * which tells later passes not to report anything more about it. */
chg_ident chg_c_p_str_ident(chg_expr *e)
{
    chg_ident id = {e->kind == EX_STRING ? e->u.str.s : "", e->span, e->kind != EX_STRING};
    return id;
}

chg_ident chg_c_p_strval_ident(const char *s, chg_span at)
{
    chg_ident id = {s, at, false};
    return id;
}

void chg_c_p_push_ident(chg_parser *p, chg_ast_list *l, chg_ident id)
{
    chg_ident *c = alloc(p, sizeof *c);
    *c = id;
    chg_c_ast_list_push(p->arena, l, c);
}

/* Copy a list of pointers to T into an array of T. Builders that own small
 * structs (fields, arms, entries) are handed them one by one by the
 * grammar as pointers; the node keeps them by value, contiguous, which is
 * what the passes index. At least one element is allocated so that an
 * empty list still has a non-NULL array. */
#define FREEZE_STRUCTS(p, list, T, out, count)                               \
    do {                                                                     \
        (out) = chg_arena_alloc((p)->arena, sizeof(T) * ((list)->n ? (list)->n : 1)); \
        (count) = (out) ? (list)->n : 0;                                     \
        for (uint32_t i_ = 0; i_ < (count); i_++)                            \
            (out)[i_] = *(T *)(list)->items[i_];                             \
    } while (0)

/* `strict` takes an identifier so the grammar needs no keyword for it (a
 * field may still be called `strict`); anything else is reported, and the
 * schema is kept as a plain one, so its fields are checked further. */
chg_decl *chg_c_p_schema(chg_parser *p, chg_span span, chg_ident root, const chg_ident *modifier,
                         chg_ast_list *fields)
{
    chg_decl *d = chg_c_p_decl(p, D_SCHEMA, span);
    d->name = root;
    d->u.schema.root = root;
    if (modifier && strcmp(modifier->name, "strict") == 0)
        d->u.schema.strict = true;
    else if (modifier) {
        chg_diag *dg = chg_c_diag_report(p->c, CHG_D_E0121, modifier->span, "schema", modifier->name, NULL);
        chg_c_diag_help(p->c, dg, "the only one is 'strict': 'schema change strict { … }'");
    }
    FREEZE_STRUCTS(p, fields, chg_field_decl, d->u.schema.fields, d->u.schema.n);
    return d;
}

chg_field_decl *chg_c_p_field_decl(chg_parser *p, chg_ident name, chg_typeexpr *t, chg_expr *dflt)
{
    chg_field_decl *f = alloc(p, sizeof *f);
    f->name = name;
    f->type = t;
    f->dflt = dflt;
    return f;
}

chg_typeexpr *chg_c_p_enum_type(chg_parser *p, chg_span span, chg_ast_list *values)
{
    chg_typeexpr *t = chg_c_ast_typeexpr(p->arena, TE_ENUM, span);
    FREEZE_STRUCTS(p, values, chg_ident, t->u.enm.values, t->u.enm.n);
    return t;
}

chg_typeexpr *chg_c_p_object_type(chg_parser *p, chg_span span, chg_ast_list *fields)
{
    chg_typeexpr *t = chg_c_ast_typeexpr(p->arena, TE_OBJECT, span);
    FREEZE_STRUCTS(p, fields, chg_field_decl, t->u.object.fields, t->u.object.n);
    return t;
}

chg_decl *chg_c_p_risk(chg_parser *p, chg_span span, chg_ast_list *classes)
{
    chg_decl *d = chg_c_p_decl(p, D_RISK, span);
    FREEZE_STRUCTS(p, classes, chg_ident, d->u.risk.classes, d->u.risk.n);
    return d;
}

chg_decl *chg_c_p_classify(chg_parser *p, chg_span span, chg_ast_list *arms)
{
    chg_decl *d = chg_c_p_decl(p, D_CLASSIFY, span);
    FREEZE_STRUCTS(p, arms, chg_classify_arm, d->u.classify.arms, d->u.classify.n);
    return d;
}

chg_classify_arm *chg_c_p_arm(chg_parser *p, chg_span span, chg_ident cls, chg_expr *cond, bool is_default)
{
    chg_classify_arm *a = alloc(p, sizeof *a);
    a->cls = cls;
    a->cond = cond;
    a->is_default = is_default;
    a->span = span;
    a->risk_index = -1;
    return a;
}

chg_tsexpr *chg_c_p_ts_bin(chg_parser *p, chg_ts_kind kind, chg_span span, chg_tsexpr *a, chg_tsexpr *b)
{
    chg_tsexpr *t = chg_c_ast_ts(p->arena, kind, span);
    t->u.bin.a = a;
    t->u.bin.b = b;
    t->depth = (uint16_t)((a->depth > b->depth ? a->depth : b->depth) + 1);
    return t;
}

chg_tsexpr *chg_c_p_ts_not(chg_parser *p, chg_span span, chg_tsexpr *a)
{
    chg_tsexpr *t = chg_c_ast_ts(p->arena, TS_NOT, span);
    t->u.not_ = a;
    t->depth = (uint16_t)(a->depth + 1);
    return t;
}

/* `T??` is refused at parse time (E0219) and read as `T?`: the type
 * system has one level of optional, and accepting `??` silently would
 * suggest a distinction that does not exist. */
chg_typeexpr *chg_c_p_optional_type(chg_parser *p, chg_span span, chg_typeexpr *inner)
{
    if (inner->kind == TE_OPTIONAL) {
        chg_c_diag_report(p->c, CHG_D_E0219, span, NULL);
        return inner;
    }
    chg_typeexpr *t = chg_c_ast_typeexpr(p->arena, TE_OPTIONAL, span);
    t->u.elem = inner;
    return t;
}

/* `days` NULL is the daily form (`daily 09:00..17:00`): the same node
 * layout with no days, so the checker and the time analysis share the
 * time-of-day code for both. */
chg_tsexpr *chg_c_p_weekly(chg_parser *p, chg_span span, chg_ast_list *days, chg_ident from, chg_ident to)
{
    chg_tsexpr *t = chg_c_ast_ts(p->arena, days ? TS_WEEKLY : TS_DAILY, span);
    if (days)
        FREEZE_STRUCTS(p, days, chg_dayspec, t->u.weekly.days, t->u.weekly.ndays);
    t->u.weekly.from = from;
    t->u.weekly.to = to;
    return t;
}

/* The options before `for` and after it are one list, in the order
 * written (the checker says which belong where). */
chg_tsexpr *chg_c_p_sched(chg_parser *p, chg_ts_kind kind, chg_span span, chg_ident dialect, chg_ident expr,
                          chg_expr *at, chg_ast_list *opts1, chg_expr *dur, chg_ast_list *opts2)
{
    chg_tsexpr *t = chg_c_ast_ts(p->arena, kind, span);
    t->u.cron.dialect = dialect;
    t->u.cron.expr = expr;
    t->u.cron.at = at;
    t->u.cron.dur = dur;
    for (uint32_t i = 0; i < opts2->n; i++)
        chg_c_ast_list_push(p->arena, opts1, opts2->items[i]);
    FREEZE_STRUCTS(p, opts1, chg_schedopt, t->u.cron.opts, t->u.cron.nopts);
    return t;
}

chg_schedopt *chg_c_p_schedopt(chg_parser *p, chg_span span, chg_ident name, chg_expr *val, chg_ident word)
{
    chg_schedopt *o = alloc(p, sizeof *o);
    o->name = name;
    o->val = val;
    o->word = word;
    o->span = span;
    return o;
}

chg_dayspec *chg_c_p_day(chg_parser *p, chg_ident from, chg_ident to)
{
    chg_dayspec *d = alloc(p, sizeof *d);
    d->from = from;
    d->to = to;
    d->from_day = d->to_day = -1;
    return d;
}

chg_decl *chg_c_p_approvals(chg_parser *p, chg_span span, chg_ast_list *entries)
{
    chg_decl *d = chg_c_p_decl(p, D_APPROVALS, span);
    FREEZE_STRUCTS(p, entries, chg_approval_entry, d->u.approvals.entries, d->u.approvals.n);
    return d;
}

/* `emergency` is recognised by name here, not resolved: it is not a risk
 * class and has no declaration to find. Indexes start at -1 ("not
 * resolved"), which codegen never meets because the checker fills them
 * or reports. */
chg_approval_entry *chg_c_p_approval_entry(chg_parser *p, chg_ident cls, chg_areq *req)
{
    chg_approval_entry *e = alloc(p, sizeof *e);
    e->cls = cls;
    e->req = req;
    e->is_emergency = strcmp(cls.name, "emergency") == 0;
    e->risk_index = -1;
    return e;
}

chg_areq *chg_c_p_areq_bin(chg_parser *p, chg_areq_kind kind, chg_span span, chg_areq *a, chg_areq *b)
{
    chg_areq *r = chg_c_ast_areq(p->arena, kind, span);
    r->u.bin.a = a;
    r->u.bin.b = b;
    r->depth = (uint16_t)((a->depth > b->depth ? a->depth : b->depth) + 1);
    return r;
}

chg_areq *chg_c_p_areq_term(chg_parser *p, chg_areq_kind kind, chg_span span, int64_t count,
                          chg_span count_span, chg_expr *within, int64_t including)
{
    chg_areq *r = chg_c_ast_areq(p->arena, kind, span);
    r->u.term.count = chg_c_p_int(p, EX_INT, count_span, count);
    r->u.term.within = within;
    r->u.term.requester_counts = including != 0;
    return r;
}

void chg_c_p_people(chg_parser *p, chg_areq *r, chg_ast_list *people)
{
    FREEZE_STRUCTS(p, people, chg_ident, r->u.term.people, r->u.term.npeople);
}

/* `including X` takes an identifier so the grammar needs no keyword for
 * `requester`; anything else is reported here, and the clause is still
 * taken as given, so the requirement parses and is checked further. */
int64_t chg_c_p_including(chg_parser *p, chg_ident who)
{
    if (strcmp(who.name, "requester") != 0) {
        chg_diag *d = chg_c_diag_report(p->c, CHG_D_E0121, who.span, "approval", who.name, NULL);
        chg_c_diag_help(p->c, d, "the only clause is 'including requester'");
    }
    return 1;
}

void chg_c_p_rule(chg_decl *rule, chg_span span, chg_ident name, chg_ident level, chg_expr *when)
{
    rule->span = span;
    rule->name = name;
    rule->u.rule.level_name = level;
    rule->u.rule.when = when;
    rule->u.rule.level = LEVEL_MANDATORY;
}

chg_decl *chg_c_p_deny(chg_parser *p, chg_span span, chg_ast_list *during, chg_expr *message)
{
    chg_decl *d = chg_c_p_decl(p, D_RULE, span);
    d->u.rule.action = RA_DENY;
    d->u.rule.action_span = span;
    d->u.rule.during = (chg_tsexpr **)during->items;
    d->u.rule.nduring = during->n;
    d->u.rule.message = message;
    return d;
}

chg_decl *chg_c_p_on(chg_parser *p, chg_span span, chg_ident outcome, chg_expr *when, chg_ast_list *calls)
{
    chg_decl *d = chg_c_p_decl(p, D_ON, span);
    d->name = outcome;
    d->u.on.outcome = outcome;
    d->u.on.when = when;
    d->u.on.calls = (chg_expr **)calls->items;
    d->u.on.ncalls = calls->n;
    return d;
}

chg_decl *chg_c_p_limits(chg_parser *p, chg_span span, chg_ast_list *fields)
{
    chg_decl *d = chg_c_p_decl(p, D_LIMITS, span);
    FREEZE_STRUCTS(p, fields, chg_object_field, d->u.limits.fields, d->u.limits.n);
    return d;
}

chg_decl *chg_c_p_concurrency(chg_parser *p, chg_span span, chg_ident name, int64_t max, chg_span max_span,
                              chg_ident min_risk, chg_expr *per)
{
    chg_decl *d = chg_c_p_decl(p, D_CONCURRENCY, span);
    d->name = name;
    d->u.concurrency.max = max;
    d->u.concurrency.max_span = max_span;
    d->u.concurrency.min_risk = min_risk;
    d->u.concurrency.per = per;
    d->u.concurrency.risk_index = -1;
    return d;
}

/* `per` is a name, not a keyword (a field may be called `per`): anything
 * else in its place is an error here, with what was expected. */
chg_expr *chg_c_p_per(chg_parser *p, chg_ident word, chg_expr *field)
{
    if (strcmp(word.name, "per") != 0)
        chg_c_diag_report(p->c, CHG_D_E0711, word.span, word.name, NULL);
    return field;
}

chg_decl *chg_c_p_intake(chg_parser *p, chg_span span, chg_ident name, chg_expr *when, chg_ast_list *fields)
{
    chg_decl *d = chg_c_p_decl(p, D_INTAKE, span);
    d->name = name;
    d->u.intake.when = when;
    FREEZE_STRUCTS(p, fields, chg_object_field, d->u.intake.fields, d->u.intake.n);
    return d;
}

chg_decl *chg_c_p_test(chg_parser *p, chg_span span, chg_ident name, chg_ast_list *items, chg_test_item *expect)
{
    chg_decl *d = chg_c_p_decl(p, D_TEST, span);
    d->name = name;
    if (expect)
        chg_c_ast_list_push(p->arena, items, expect);
    FREEZE_STRUCTS(p, items, chg_test_item, d->u.test.items, d->u.test.n);
    return d;
}

chg_test_item *chg_c_p_test_item(chg_parser *p, chg_test_item_kind kind, chg_span span)
{
    chg_test_item *t = alloc(p, sizeof *t);
    t->kind = kind;
    t->span = span;
    return t;
}

/* `change { … }` and `event { … }` share one grammar rule on an
 * identifier (neither word is a keyword, so `change` stays a name in
 * expressions). Any other word is E0121, and the test is marked through
 * last_error as containing an error, so the missing-input check does not
 * add a second message. NULL drops the item. */
chg_test_item *chg_c_p_test_input(chg_parser *p, chg_span span, chg_ident what, chg_expr *value)
{
    chg_test_item_kind kind;
    if (strcmp(what.name, "change") == 0)
        kind = TI_CHANGE;
    else if (strcmp(what.name, "event") == 0)
        kind = TI_EVENT;
    else {
        static const char *const items[] = {"change", "event"};
        chg_diag *d = chg_c_diag_report(p->c, CHG_D_E0121, what.span, "test", what.name, NULL);
        p->last_error = what.span.start + 1; /* the test is incomplete: say so once */
        chg_c_diag_suggest(p->c, d, what.name, items, 2);
        if (d && !d->help)
            chg_c_diag_help(p->c, d, "a test gives 'change { … }' or 'event { … }', 'at', 'given' and 'expect'");
        return NULL;
    }
    chg_test_item *t = chg_c_p_test_item(p, kind, span);
    t->value = value;
    return t;
}

chg_test_item *chg_c_p_expect(chg_parser *p, chg_span span, chg_ident outcome, chg_ast_list *clauses)
{
    chg_test_item *t = chg_c_p_test_item(p, TI_EXPECT, span);
    t->outcome = outcome;
    FREEZE_STRUCTS(p, clauses, chg_expect_clause, t->clauses, t->nclauses);
    return t;
}

chg_expect_clause *chg_c_p_clause(chg_parser *p, chg_ident key, chg_expr *value)
{
    chg_expect_clause *c = alloc(p, sizeof *c);
    c->key = key;
    c->value = value;
    return c;
}

/* ---- expressions ---------------------------------------------------------------- */

static uint16_t max16(uint16_t a, uint16_t b) { return a > b ? a : b; }
static uint16_t dep(chg_expr *e) { return e ? e->depth : 0; }

/* Integers, durations and instants. bad_literal is set by the scanner
 * (offset + 1, so 0 means none) when the literal's text was invalid and
 * already reported (an overflow, a bad date); turning it into EX_ERROR
 * here keeps the checker from reporting a second error about a value
 * that was never real. */
chg_expr *chg_c_p_int(chg_parser *p, chg_expr_kind kind, chg_span span, int64_t v)
{
    /* a literal the scanner already reported stands for nothing */
    if (p->bad_literal == span.start + 1)
        kind = EX_ERROR;
    chg_expr *e = chg_c_ast_expr(p->arena, kind, span);
    e->u.i = v;
    return e;
}

chg_expr *chg_c_p_string(chg_parser *p, chg_expr_kind kind, chg_span span, const char *s, size_t len)
{
    chg_expr *e = chg_c_ast_expr(p->arena, kind, span);
    e->u.str.s = s ? s : "";
    e->u.str.len = s ? len : 0; /* NULL: a copy that ran out of memory */
    return e;
}

/* A string literal as written; one whose text was already reported (a
 * bad escape, no closing quote: bad_string) stands for nothing, so an
 * import of a path with a bad escape is not also "not found" and a
 * condition cut short is not also "expected bool". */
chg_expr *chg_c_p_literal(chg_parser *p, chg_expr_kind kind, chg_span span, const char *s, size_t len)
{
    if (p->bad_string == span.start + 1)
        return chg_c_ast_expr(p->arena, EX_ERROR, span);
    return chg_c_p_string(p, kind, span, s, len);
}

/* The pieces of an interpolated string: text parts (EX_STRING) and
 * expressions. When every piece is text, which happens when each
 * interpolation was empty or a syntax error (both reported and dropped by
 * the grammar), the result is one plain string, so later passes see the
 * simple form and places that need a literal accept it. */
chg_expr *chg_c_p_interp(chg_parser *p, chg_span span, chg_ast_list *parts)
{
    /* Merge into one STRING when no interpolation survived (errors). */
    /* the parts may be spare nodes (ast.h); or the string was reported */
    if (p->arena->failed || p->bad_string == span.start + 1)
        return chg_c_ast_expr(p->arena, EX_ERROR, span);
    bool plain = true;
    uint16_t d = 0;
    for (uint32_t i = 0; i < parts->n; i++) {
        chg_expr *x = parts->items[i];
        if (x->kind != EX_STRING)
            plain = false;
        d = max16(d, x->depth);
    }
    if (plain) {
        chg_buf b;
        chg_buf_init(&b);
        for (uint32_t i = 0; i < parts->n; i++) {
            chg_expr *x = parts->items[i];
            chg_buf_append(&b, x->u.str.s, x->u.str.len);
        }
        if (b.oom)
            chg_c_nomem(p->c);
        chg_expr *e = chg_c_p_string(p, EX_STRING, span,
                                   chg_arena_strndup(p->arena, b.data ? b.data : "", b.len), b.len);
        chg_buf_free(&b);
        return e;
    }
    chg_expr *e = chg_c_ast_expr(p->arena, EX_INTERP, span);
    e->u.interp.parts = (chg_expr **)parts->items;
    e->u.interp.n = parts->n;
    e->depth = (uint16_t)(d + 1);
    return e;
}

/* For places that need a literal string (patterns, names, paths): an
 * interpolation there could not be known at compile time. */
chg_expr *chg_c_p_not_interp(chg_parser *p, chg_expr *e)
{
    if (e->kind == EX_INTERP) {
        chg_diag *d = chg_c_diag_report(p->c, CHG_D_E0015, e->span, NULL);
        chg_c_diag_help(p->c, d, "write a literal brace as \\{");
        return chg_c_ast_expr(p->arena, EX_ERROR, e->span);
    }
    return e;
}

chg_expr *chg_c_p_name(chg_parser *p, chg_span span, const char *name)
{
    chg_expr *e = chg_c_ast_expr(p->arena, EX_NAME, span);
    e->u.name.name = name;
    e->u.name.risk_index = -1;
    return e;
}

chg_expr *chg_c_p_unary(chg_parser *p, chg_unop op, chg_span span, chg_expr *a)
{
    chg_expr *e = chg_c_ast_expr(p->arena, EX_UNARY, span);
    e->u.unary.op = op;
    e->u.unary.a = a;
    e->depth = (uint16_t)(dep(a) + 1);
    return e;
}

/* The operator's own span is kept besides the whole expression's, so a
 * type error on `a + b` underlines the `+` rather than the whole line. */
chg_expr *chg_c_p_binary(chg_parser *p, chg_binop op, chg_span span, chg_expr *a, chg_expr *b, chg_span op_span)
{
    chg_expr *e = chg_c_ast_expr(p->arena, EX_BINARY, span);
    e->u.binary.op = op;
    e->u.binary.a = a;
    e->u.binary.b = b;
    e->u.binary.op_span = op_span;
    e->depth = (uint16_t)(max16(dep(a), dep(b)) + 1);
    return e;
}

chg_expr *chg_c_p_field(chg_parser *p, chg_expr_kind kind, chg_span span, chg_expr *obj, chg_ident field)
{
    chg_expr *e = chg_c_ast_expr(p->arena, kind, span);
    e->u.field.obj = obj;
    e->u.field.field = field;
    e->depth = (uint16_t)(dep(obj) + 1);
    return e;
}

/* The callee of a call must be a name or a dotted path of names
 * (aws.cloudwatch.alarm_state); flatten it to one string. */
static bool dotted_name(chg_expr *e, chg_buf *b)
{
    if (e->kind == EX_NAME) {
        chg_buf_puts(b, e->u.name.name);
        return true;
    }
    if (e->kind == EX_FIELD && dotted_name(e->u.field.obj, b)) {
        chg_buf_putc(b, '.');
        chg_buf_puts(b, e->u.field.field.name);
        return true;
    }
    return false;
}

/* The grammar parses a call as postfix `( … )` on any expression, which
 * keeps it conflict-free; only here is the callee required to be a
 * dotted name (E0210). The depth test before flattening bounds the
 * recursion of dotted_name (a name 32 levels deep is not a real
 * built-in) before the general nesting limit would. */
chg_expr *chg_c_p_call(chg_parser *p, chg_span span, chg_expr *callee, chg_ast_list *args)
{
    if (p->arena->failed) /* the callee may be a spare node (ast.h) */
        return chg_c_ast_expr(p->arena, EX_ERROR, span);
    chg_buf b;
    chg_buf_init(&b);
    if (callee->depth > 32 || !dotted_name(callee, &b)) {
        chg_buf_free(&b);
        chg_c_diag_report(p->c, CHG_D_E0210, callee->span, NULL);
        return chg_c_ast_expr(p->arena, EX_ERROR, span);
    }
    chg_expr *e = chg_c_ast_expr(p->arena, EX_CALL, span);
    e->u.call.name = b.oom ? NULL : chg_arena_strndup(p->arena, b.data, b.len);
    if (!e->u.call.name) {
        chg_c_nomem(p->c);
        e->u.call.name = "";
    }
    e->u.call.name_span = callee->span;
    chg_buf_free(&b);
    e->u.call.args = (chg_expr **)args->items;
    e->u.call.nargs = args->n;
    uint16_t d = dep(callee);
    for (uint32_t i = 0; i < args->n; i++)
        d = max16(d, dep(args->items[i]));
    e->depth = (uint16_t)(d + 1);
    return e;
}

chg_expr *chg_c_p_list(chg_parser *p, chg_span span, chg_ast_list *items)
{
    chg_expr *e = chg_c_ast_expr(p->arena, EX_LIST, span);
    e->u.list.items = (chg_expr **)items->items;
    e->u.list.n = items->n;
    uint16_t d = 0;
    for (uint32_t i = 0; i < items->n; i++)
        d = max16(d, dep(items->items[i]));
    e->depth = (uint16_t)(d + 1);
    return e;
}

chg_expr *chg_c_p_object(chg_parser *p, chg_span span, chg_ast_list *fields)
{
    chg_expr *e = chg_c_ast_expr(p->arena, EX_OBJECT, span);
    FREEZE_STRUCTS(p, fields, chg_object_field, e->u.object.fields, e->u.object.n);
    uint16_t d = 0;
    for (uint32_t i = 0; i < fields->n; i++)
        d = max16(d, dep(((chg_object_field *)fields->items[i])->value));
    e->depth = (uint16_t)(d + 1);
    return e;
}

chg_object_field *chg_c_p_obj_field(chg_parser *p, chg_ident key, chg_expr *value)
{
    chg_object_field *f = alloc(p, sizeof *f);
    f->key = key;
    f->value = value;
    return f;
}

chg_expr *chg_c_p_quant(chg_parser *p, chg_expr_kind kind, chg_span span, chg_ident var, chg_expr *list, chg_expr *body)
{
    chg_expr *e = chg_c_ast_expr(p->arena, kind, span);
    e->u.quant.var = var;
    e->u.quant.list = list;
    e->u.quant.body = body;
    e->depth = (uint16_t)(max16(dep(list), dep(body)) + 1);
    return e;
}

/* Called by the grammar's actions with a new node's depth. Beyond the
 * limit the parse stops (`fatal`: the lexer then hands out EOF), so the
 * error is reported once however deep the input goes, and no pass ever
 * sees a tree deeper than CHG_MAX_DEPTH. */
bool chg_c_p_too_deep(chg_parser *p, unsigned depth, chg_span at, const char *what)
{
    if (depth <= CHG_MAX_DEPTH)
        return false;
    char lim[16];
    snprintf(lim, sizeof lim, "%d", CHG_MAX_DEPTH);
    /* "expression", "time set", "approval requirement": the node that
     * went past the limit, at its span */
    char name[64];
    snprintf(name, sizeof name, "this %s", what);
    chg_c_diag_report(p->c, CHG_D_E0011, at, name, lim, NULL);
    p->fatal = true;
    return true;
}

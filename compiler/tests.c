/*
 * tests.c — `test` blocks as data: the change or event a test gives, its
 * instant, the facts its `given` lines make and what it expects, all as
 * JSON text ready for the evaluator (driver/testrun.c runs them).
 *
 * Test values are constants — literals, lists and objects of literals —
 * so a test means the same thing wherever it runs; the checker reports
 * anything else (E0510). `change "file.json"` and `event "file.json"`
 * read a JSON file next to the test (E0305, E0306), which is how real AWS
 * events are fed to intakes.
 */
#include "compiler_int.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "chg_time.h"

/*
 * Read a file named relative to the policy file that names it (test
 * inputs, calendars), so a policy and its data move together and a build
 * does not depend on the working directory. An absolute path is taken as
 * it is. The file's text is returned to the caller (chg_malloc'd); on
 * failure the diagnostic `id` is reported with a reason and a note with
 * the path actually tried, which is what a user needs when the relative
 * base is not the one they expected. errno is saved first because the
 * arena and diagnostics calls below may change it. `no_files` (fuzzing,
 * untrusted input) refuses every read, with its own reason.
 */
/* The path `rel` names from source `file`: resolved (realpath) and allowed,
 * or as written when it does not resolve (reading it then fails and says
 * why). NULL: refused (E0307 reported) or out of memory. */
static const char *relative_path(chg_compiler *c, uint32_t file, const char *rel, chg_span span)
{
    const chg_source *from = chg_compiler_source(c, file);
    const char *slash = strrchr(from->path, '/');
    const char *path = rel[0] == '/' || !slash
                           ? rel
                           : chg_arena_printf(&c->arena, "%.*s/%s", (int)(slash - from->path), from->path, rel);
    if (!path) {
        chg_c_nomem(c);
        return NULL;
    }
    /* resolved first and read by its real name, so what is checked is
     * what is read (E0307 is reported by chg_c_path_allowed) */
    char real[PATH_MAX];
    if (!c->opts.no_files && realpath(path, real)) {
        if (!chg_c_path_allowed(c, real, rel, span))
            return NULL;
        if (!(path = chg_arena_strdup(&c->arena, real)))
            chg_c_nomem(c);
    }
    return path;
}

static int read_path(chg_compiler *c, const char *path, const char *rel, chg_span span, chg_diag_id id,
                     const char *what, char **text, size_t *len)
{
    int rc = c->opts.no_files ? CHG_EIO : chg_read_file_max(path, text, len, c->opts.max_file_size);
    int saved = errno; /* before any other call */
    if (rc == CHG_ENOMEM) /* the compilation's failure, not the file's */
        return chg_c_nomem(c);
    if (rc != CHG_OK) {
        chg_diag *d = chg_c_diag_report(c, id, span, rel,
                                      c->opts.no_files    ? "reading files is disabled"
                                      : rc == CHG_ENOTREG ? "it is not a regular file"
                                      : rc == CHG_ERANGE  ? "it is too large"
                                      : rc == CHG_EIO     ? strerror(saved)
                                                          : chg_strerror(rc),
                                      NULL);
        chg_c_diag_note(c, d, (chg_span){0}, "%s are found relative to the policy file: looked for '%s'", what, path);
    } else if (*len >= 3 && memcmp(*text, "\xEF\xBB\xBF", 3) == 0) {
        /* a byte order mark (Windows editors) is not part of the text: JSON
         * may ignore one (RFC 8259 §8.1), and libical would not */
        memmove(*text, *text + 3, *len - 3 + 1);
        *len -= 3;
    }
    return rc;
}

int chg_c_read_relative(chg_compiler *c, uint32_t file, const char *rel, chg_span span, chg_diag_id id,
                        const char *what, char **text, size_t *len)
{
    const char *path = relative_path(c, file, rel, span);
    if (!path)
        return c->oom ? CHG_ENOMEM : CHG_EINVAL;
    return read_path(c, path, rel, span, id, what, text, len);
}

/* A file read, kept for the other places that name it. */
typedef struct read_once {
    const char *text;
    size_t len;
} read_once;

/* The map is keyed by the real path, so "x.ics", "./x.ics" and a symbolic
 * link to it are one file, read once. A failed read is not kept: each
 * place that names the file is reported, as each must be fixed. */
int chg_c_read_relative_once(chg_compiler *c, chg_map *once, uint32_t file, const char *rel, chg_span span,
                             chg_diag_id id, const char *what, const char **text, size_t *len)
{
    const char *path = relative_path(c, file, rel, span);
    if (!path)
        return c->oom ? CHG_ENOMEM : CHG_EINVAL;
    const read_once *hit = chg_c_map_get(once, path);
    if (hit) {
        *text = hit->text;
        *len = hit->len;
        return CHG_OK;
    }
    char *t;
    size_t l;
    int rc = read_path(c, path, rel, span, id, what, &t, &l);
    if (rc != CHG_OK)
        return rc;
    read_once *r = chg_arena_alloc(&c->arena, sizeof *r);
    if (r)
        r->text = chg_arena_strndup(&c->arena, t, l);
    chg_free(t);
    if (!r || !r->text)
        return chg_c_nomem(c);
    r->len = l;
    if (chg_c_map_put(once, path, r) != CHG_OK)
        return chg_c_nomem(c);
    *text = r->text;
    *len = r->len;
    return CHG_OK;
}

/*
 * The JSON of a constant expression into out; false (and E0510 when
 * report) when it is not one. The same function serves the checker
 * (report on, output discarded: "is this a constant?") and the case
 * builder (report off, output kept), so the two cannot disagree about
 * what a constant is. Instants are written as UTC text, the form the
 * event decoder parses; durations as the AST's integer, since JSON has
 * no duration type. A risk class name, or a name the checker left
 * unresolved (the `risk` clause of expect), is written as a string: it
 * is a label for the runner to compare, not a value. Floats use %.17g
 * so that the value read back is the same double. A negated literal is
 * the one operator accepted: `-5` parses as a unary minus.
 */
bool chg_c_test_json(chg_compiler *c, const chg_expr *e, chg_buf *out, bool report)
{
    char tmp[64];
    switch (e->kind) {
    case EX_NULL: chg_buf_puts(out, "null"); return true;
    case EX_BOOL: chg_buf_puts(out, e->u.b ? "true" : "false"); return true;
    case EX_INT: chg_buf_printf(out, "%lld", (long long)e->u.i); return true;
    case EX_FLOAT: chg_buf_printf(out, "%.17g", e->u.f); return true;
    case EX_DURATION: chg_buf_printf(out, "%lld", (long long)e->u.i); return true;
    case EX_STRING:
    case EX_RAWSTRING: chg_buf_json_string(out, e->u.str.s, e->u.str.len); return true;
    case EX_INSTANT:
    case EX_DATE:
        chg_time_format_utc(e->u.i, tmp);
        chg_buf_json_string(out, tmp, strlen(tmp));
        return true;
    case EX_NAME:
        if (e->u.name.kind == NAME_RISK_CLASS || e->u.name.kind == NAME_UNRESOLVED) {
            chg_buf_json_string(out, e->u.name.name, strlen(e->u.name.name));
            return true;
        }
        break;
    case EX_UNARY:
        if (e->u.unary.op == UOP_NEG && (e->u.unary.a->kind == EX_INT || e->u.unary.a->kind == EX_FLOAT)) {
            chg_buf_putc(out, '-');
            return chg_c_test_json(c, e->u.unary.a, out, report);
        }
        break;
    case EX_LIST:
        chg_buf_putc(out, '[');
        for (uint32_t i = 0; i < e->u.list.n; i++) {
            if (i)
                chg_buf_putc(out, ',');
            if (!chg_c_test_json(c, e->u.list.items[i], out, report))
                return false;
        }
        chg_buf_putc(out, ']');
        return true;
    case EX_OBJECT:
        chg_buf_putc(out, '{');
        for (uint32_t i = 0; i < e->u.object.n; i++) {
            if (i)
                chg_buf_putc(out, ',');
            const chg_object_field *f = &e->u.object.fields[i];
            chg_buf_json_string(out, f->key.name, strlen(f->key.name));
            chg_buf_putc(out, ':');
            if (!chg_c_test_json(c, f->value, out, report))
                return false;
        }
        chg_buf_putc(out, '}');
        return true;
    case EX_ERROR: return false;
    default: break;
    }
    if (report) {
        chg_diag *d = chg_c_diag_report(c, CHG_D_E0510, e->span, "a test's value", NULL);
        chg_c_diag_help(c, d, "tests give literal values, so that they mean the same wherever they run");
    }
    return false;
}

/* `change "file.json"` / `event "file.json"`: read it, relative to the
 * test's file, and check that it is a JSON object. The text is kept as
 * read (not re-serialised), so a test runs on exactly the bytes a real
 * event would have; duplicate keys are refused here because the decoder
 * would otherwise silently keep one of them. */
void chg_c_test_file(chg_compiler *c, uint32_t file, chg_test_item *it)
{
    const chg_expr *v = it->value;
    const char *rel = v->u.str.s;
    char *text;
    size_t len;
    if (chg_c_read_relative(c, file, rel, v->span, CHG_D_E0305, "test inputs", &text, &len) != CHG_OK)
        return;
    json_error_t je;
    json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    /* jansson: no message at all when its first allocation failed */
    if (!j && (je.text[0] == 0 || json_error_code(&je) == json_error_out_of_memory))
        chg_c_nomem(c);
    else if (!j || !json_is_object(j)) {
        const char *why = j ? "it is valid JSON but not an object"
                            : chg_arena_printf(&c->arena, "line %d, column %d: %s", je.line,
                                                               je.column < 1 ? 1 : je.column, je.text);
        chg_c_diag_report(c, CHG_D_E0306, v->span, rel, why, NULL);
    } else {
        it->text = chg_arena_strndup(&c->arena, text, len);
        it->len = len;
    }
    json_decref(j);
    chg_free(text);
}

/* "path:line:col" for a test's failure messages: the runner has no
 * access to the sources, so positions are resolved now. */
static const char *position(chg_compiler *c, chg_span s)
{
    const chg_source *src = chg_compiler_source(c, s.file);
    uint32_t line, col;
    chg_source_position(src, s.start, &line, &col);
    return chg_arena_printf(&c->arena, "%s:%u:%u", src->path, line, col);
}

/* A constant as JSON text in the arena. Non-constants were reported by
 * the checker and the runner never sees a case that has one, so "null"
 * stands in only for a value that could not be written (out of memory). */
static const char *json_of(chg_compiler *c, const chg_expr *e)
{
    chg_buf b;
    chg_buf_init(&b);
    chg_c_test_json(c, e, &b, false);
    const char *s = chg_arena_strndup(&c->arena, b.data ? b.data : "null", b.data ? b.len : 4);
    chg_buf_free(&b);
    return s;
}

/*
 * The test cases of the root files only: an imported file's tests belong
 * to that file and run when it is checked itself, not once per importer.
 * Each case carries its input (change or event JSON), its instant, a
 * facts document ({"flags": {…}, "queries": [{call, args, result}]})
 * that stands in for the outside world, and its expectations, with
 * `outcome` always first so the runner can treat an expected `error`
 * specially. A case with no input or no expect is left out: the checker
 * reported it. Everything lives in the compiler's arena; the array is
 * valid until the compilation is freed. Any allocation failure fails the
 * whole call: a missing case must never look like a passing suite.
 */
int chg_compiler_tests(chg_compiler *c, const chg_test_case **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    chg_vec cases;
    chg_vec_init(&cases);
    for (size_t i = 0; i < c->all_decls.len; i++) {
        chg_decl *d = c->all_decls.items[i];
        if (d->kind != D_TEST)
            continue;
        bool root = false;
        for (size_t r = 0; r < c->roots.len; r++)
            root |= (uint32_t)(uintptr_t)c->roots.items[r] == d->file;
        if (!root)
            continue;
        chg_test_case *t = chg_arena_alloc(&c->arena, sizeof *t);
        if (!t)
            break; /* the arena's flag: CHG_ENOMEM below */
        t->name = d->name.name;
        t->file = chg_compiler_source(c, d->file)->path;
        t->source = position(c, d->span);
        chg_buf facts, flags, queries;
        chg_buf_init(&facts);
        chg_buf_init(&flags);
        chg_buf_init(&queries);
        for (uint32_t k = 0; k < d->u.test.n; k++) {
            chg_test_item *it = &d->u.test.items[k];
            switch (it->kind) {
            case TI_CHANGE:
            case TI_EVENT:
                t->is_event = it->kind == TI_EVENT;
                t->input = it->text ? it->text : json_of(c, it->value);
                break;
            case TI_AT:
                t->has_at = true;
                t->at = it->value->u.i;
                break;
            case TI_GIVEN_FLAG:
                if (flags.len)
                    chg_buf_putc(&flags, ',');
                chg_buf_json_string(&flags, it->flag.name, strlen(it->flag.name));
                chg_buf_printf(&flags, ":%s", json_of(c, it->value));
                break;
            case TI_GIVEN: {
                const chg_expr *call = it->call;
                if (queries.len)
                    chg_buf_putc(&queries, ',');
                chg_buf_puts(&queries, "{\"call\":");
                chg_buf_json_string(&queries, call->u.call.name, strlen(call->u.call.name));
                chg_buf_puts(&queries, ",\"args\":[");
                for (uint32_t a = 0; a < call->u.call.nargs; a++)
                    chg_buf_printf(&queries, "%s%s", a ? "," : "", json_of(c, call->u.call.args[a]));
                chg_buf_printf(&queries, "],\"result\":%s}", json_of(c, it->value));
                break;
            }
            case TI_EXPECT: {
                t->nexpects = it->nclauses + 1;
                t->expects = chg_arena_alloc(&c->arena, sizeof *t->expects * t->nexpects);
                if (!t->expects)
                    break; /* the case is dropped below; CHG_ENOMEM */
                t->expects[0].key = "outcome";
                t->expects[0].value = chg_arena_printf(&c->arena, "\"%s\"", it->outcome.name);
                t->expects[0].source = position(c, it->outcome.span);
                for (uint32_t q = 0; q < it->nclauses; q++) {
                    chg_expect_clause *cl = &it->clauses[q];
                    chg_test_expect *x = &t->expects[q + 1];
                    x->key = cl->key.name;
                    x->value = json_of(c, cl->value);
                    x->source = position(c, chg_c_span_join(cl->key.span, cl->value->span));
                }
                break;
            }
            }
        }
        chg_buf_puts(&facts, "{\"flags\":{");
        chg_buf_append(&facts, flags.data ? flags.data : "", flags.len);
        chg_buf_puts(&facts, "},\"queries\":[");
        chg_buf_append(&facts, queries.data ? queries.data : "", queries.len);
        chg_buf_puts(&facts, "]}");
        t->facts = chg_arena_strndup(&c->arena, facts.data, facts.len);
        chg_buf_free(&facts);
        chg_buf_free(&flags);
        chg_buf_free(&queries);
        if (!t->input || !t->expects)
            continue; /* the checker reported it, or memory ran out */
        if (chg_vec_push(&cases, t) != CHG_OK)
            chg_c_nomem(c);
    }
    chg_test_case *arr = chg_arena_alloc(&c->arena, sizeof *arr * (cases.len + 1));
    if (!arr || chg_c_status(c) != CHG_OK) {
        /* a case missing or incomplete must not read as "all passed" */
        chg_vec_free(&cases);
        return CHG_ENOMEM;
    }
    for (size_t i = 0; i < cases.len; i++)
        arr[i] = *(chg_test_case *)cases.items[i];
    *out = arr;
    *n = cases.len;
    chg_vec_free(&cases);
    return CHG_OK;
}

/* Counted from the root files' declarations, without building cases:
 * cheap enough for a summary line before the tests run. */
size_t chg_compiler_ntests(const chg_compiler *c)
{
    size_t n = 0;
    for (size_t r = 0; r < c->roots.len; r++) {
        const chg_file *f = c->files.items[(uint32_t)(uintptr_t)c->roots.items[r]];
        for (uint32_t i = 0; f && i < f->ndecls; i++)
            n += f->decls[i]->kind == D_TEST;
    }
    return n;
}

/*
 * test_parser.c — the grammar: precedence and associativity, every
 * declaration form of language.md §2, time sets, approval requirements,
 * error recovery and nesting limits. Trees are compared as S-expressions.
 */
#include "helpers.h"

#include <stdlib.h>

static void sexp(chg_buf *b, const chg_expr *e);

static void sexp_list(chg_buf *b, chg_expr *const *items, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        chg_buf_putc(b, ' ');
        sexp(b, items[i]);
    }
}

static void sexp(chg_buf *b, const chg_expr *e)
{
    switch (e->kind) {
    case EX_ERROR: chg_buf_puts(b, "<error>"); break;
    case EX_NULL: chg_buf_puts(b, "null"); break;
    case EX_BOOL: chg_buf_puts(b, e->u.b ? "true" : "false"); break;
    case EX_INT: chg_buf_printf(b, "%lld", (long long)e->u.i); break;
    case EX_FLOAT: chg_buf_printf(b, "%g", e->u.f); break;
    case EX_STRING:
    case EX_RAWSTRING: chg_buf_printf(b, "\"%s\"", e->u.str.s); break;
    case EX_INTERP:
        chg_buf_puts(b, "(interp");
        sexp_list(b, e->u.interp.parts, e->u.interp.n);
        chg_buf_putc(b, ')');
        break;
    case EX_DURATION: chg_buf_printf(b, "%llds", (long long)e->u.i); break;
    case EX_INSTANT: chg_buf_printf(b, "@%lld", (long long)e->u.i); break;
    case EX_LOCALTIME: chg_buf_printf(b, "local@%lld", (long long)e->u.i); break;
    case EX_DATE: chg_buf_printf(b, "date@%lld", (long long)e->u.i); break;
    case EX_NAME: chg_buf_puts(b, e->u.name.name); break;
    case EX_FIELD:
    case EX_OPTFIELD:
        chg_buf_printf(b, "(%s ", e->kind == EX_FIELD ? "." : "?.");
        sexp(b, e->u.field.obj);
        chg_buf_printf(b, " %s)", e->u.field.field.name);
        break;
    case EX_INDEX:
        chg_buf_puts(b, "([] ");
        sexp(b, e->u.index.obj);
        chg_buf_putc(b, ' ');
        sexp(b, e->u.index.index);
        chg_buf_putc(b, ')');
        break;
    case EX_CALL:
        chg_buf_printf(b, "(call %s", e->u.call.name);
        sexp_list(b, e->u.call.args, e->u.call.nargs);
        chg_buf_putc(b, ')');
        break;
    case EX_UNARY:
        chg_buf_printf(b, "(%s ", e->u.unary.op == UOP_NOT ? "not" : "-");
        sexp(b, e->u.unary.a);
        chg_buf_putc(b, ')');
        break;
    case EX_BINARY:
        chg_buf_printf(b, "(%s ", chg_c_binop_text(e->u.binary.op));
        sexp(b, e->u.binary.a);
        chg_buf_putc(b, ' ');
        sexp(b, e->u.binary.b);
        chg_buf_putc(b, ')');
        break;
    case EX_IF:
        chg_buf_puts(b, "(if ");
        sexp(b, e->u.ifx.cond);
        chg_buf_putc(b, ' ');
        sexp(b, e->u.ifx.then);
        chg_buf_putc(b, ' ');
        sexp(b, e->u.ifx.els);
        chg_buf_putc(b, ')');
        break;
    case EX_LIST:
        chg_buf_puts(b, "(list");
        sexp_list(b, e->u.list.items, e->u.list.n);
        chg_buf_putc(b, ')');
        break;
    case EX_OBJECT:
        chg_buf_puts(b, "(obj");
        for (uint32_t i = 0; i < e->u.object.n; i++) {
            chg_buf_printf(b, " %s=", e->u.object.fields[i].key.name);
            sexp(b, e->u.object.fields[i].value);
        }
        chg_buf_putc(b, ')');
        break;
    case EX_ANY:
    case EX_ALL:
    case EX_COUNT:
        chg_buf_printf(b, "(%s %s ", e->kind == EX_ANY ? "any" : e->kind == EX_ALL ? "all" : "count",
                       e->u.quant.var.name);
        sexp(b, e->u.quant.list);
        chg_buf_putc(b, ' ');
        sexp(b, e->u.quant.body);
        chg_buf_putc(b, ')');
        break;
    }
}

/* Parse "let x = <expr>" and return the tree of <expr> as text. */
static char *tree(const char *expr)
{
    char src[4096];
    snprintf(src, sizeof src, "let x = %s\n", expr);
    chg_compiler *c = chg_compiler_new(NULL);
    uint32_t f = chg_c_add_text(c, "t.chg", src, strlen(src));
    chg_file *file;
    assert_int_equal(chg_c_parse(c, f, &file), CHG_OK);
    chg_buf b;
    chg_buf_init(&b);
    if (chg_compiler_count(c, CHG_ERROR))
        chg_buf_printf(&b, "errors: %s", diag_codes(c));
    else if (file->ndecls != 1)
        chg_buf_printf(&b, "%u declarations", file->ndecls);
    else
        sexp(&b, file->decls[0]->u.let.expr);
    chg_compiler_free(c);
    return chg_buf_take(&b);
}

#define assert_tree(expr, want)                                                 \
    do {                                                                        \
        char *got_ = tree(expr);                                                \
        assert_string_equal(got_, want);                                        \
        chg_free(got_);                                                         \
    } while (0)

static void test_parser_precedence(void **state)
{
    (void)state;
    assert_tree("a or b and c", "(or a (and b c))");
    assert_tree("a and b or c", "(or (and a b) c)");
    assert_tree("not a == b", "(not (== a b))");
    assert_tree("not a and b", "(and (not a) b)");
    assert_tree("a == b and c != d", "(and (== a b) (!= c d))");
    assert_tree("x ?? y == z", "(== (?? x y) z)");
    assert_tree("a + b * c - d", "(- (+ a (* b c)) d)");
    assert_tree("a - b - c", "(- (- a b) c)");
    assert_tree("-a * b", "(* (- a) b)");
    assert_tree("a % b / c", "(/ (% a b) c)");
    assert_tree("x in [1, 2,]", "(in x (list 1 2))");
    assert_tree("now in weeknights", "(in now weeknights)");
    assert_tree("s matches r\"^a{2}$\"", "(matches s \"^a{2}$\")");
    assert_tree("risk >= high", "(>= risk high)");
}

static void test_parser_comparisons_do_not_chain(void **state)
{
    (void)state;
    assert_tree("1 < 2 < 3", "errors: E0013@1:15");
    assert_tree("a == b == c", "errors: E0013@1:16");
}

static void test_parser_prefix_forms_extend_right(void **state)
{
    (void)state;
    assert_tree("if c then a else b or d", "(if c a (or b d))");
    assert_tree("if a then if b then 1 else 2 else 3", "(if a (if b 1 2) 3)");
    assert_tree("any x in xs: x.a and y", "(any x xs (and (. x a) y))");
    assert_tree("(all x in xs: x > 1) and y", "(and (all x xs (> x 1)) y)");
    assert_tree("count(x in c.xs where x.ok) + 1", "(+ (count x (. c xs) (. x ok)) 1)");
}

static void test_parser_postfix(void **state)
{
    (void)state;
    assert_tree("event.detail[\"execution-id\"]", "([] (. event detail) \"execution-id\")");
    assert_tree("a?.b.c", "(. (?. a b) c)");
    assert_tree("aws.cloudwatch.alarm_state(\"p\")", "(call aws.cloudwatch.alarm_state \"p\")");
    assert_tree("lower(a.b)", "(call lower (. a b))");
    assert_tree("f()", "(call f)");
    assert_tree("{ a: 1, \"b-c\": [2] }", "(obj a=1 b-c=(list 2))");
    assert_tree("{ a: 1 b: 2 }", "(obj a=1 b=2)");
}

static void test_parser_literals(void **state)
{
    (void)state;
    assert_tree("\"x {a.b} y {1 + 2}\"", "(interp \"x \" (. a b) \" y \" (+ 1 2))");
    assert_tree("\"just text\"", "\"just text\"");
    assert_tree("\"brace \\{ kept\"", "\"brace { kept\"");
    assert_tree("[90s, 6h, 1w]", "(list 90s 21600s 604800s)");
    assert_tree("2026-11-25T00:00Z", "@1795564800");
    assert_tree("2026-11-25", "date@1795564800");
    assert_tree("[null, true, false, 1.5]", "(list null true false 1.5)");
}

static const char example[] =
    "policy \"p\" version \"1\"\n"
    "schema change { id: string pipeline: string? emergency: bool = false }\n"
    "at change.requested_at\n"
    "risk low < high\n"
    "let prod = change.env == \"prod\"\n"
    "classify { high when prod default low }\n"
    "window w = cron \"0 22 ? * MON-FRI *\" for 6h in \"America/New_York\"\n"
    "window s = weekly sun, sat 02:00..06:00 in \"Europe/Berlin\"\n"
    "window d = daily 22:00..06:00\n"
    "freeze b = 2026-11-25T00:00 .. 2026-12-01T00:00 in \"UTC\"\n"
    "freeze y = yearly dec 20 .. jan 03 in \"UTC\"\n"
    "freeze c = calendar \"x.ics\"\n"
    "freeze i = flag \"incident\"\n"
    "window any_slot = w or s and not (d or i)\n"
    "approvals { low => none high => 2 of group \"cab\" within 72h and 1 of any or 1 of [\"a\", \"b\"] including requester }\n"
    "rule r1 mandatory: when prod require window any_slot\n"
    "rule r2 overridable: when prod deny during b, y, c \"frozen: {freeze}\"\n"
    "rule r3: require 1 of group \"dba\"\n"
    "rule r4 advisory: warn \"w\"\n"
    "on deny when change.pipeline != null do aws.sns.publish(\"t\", reason), aws.sns.publish(\"u\", summary)\n"
    "intake i1 when event.source == \"aws.ssm\" { id: event.id }\n"
    "test \"t\" { change { id: \"c\" } at 2026-12-03T03:30Z given aws.ssm.calendar_state(\"c\") = \"OPEN\" "
    "given flag \"incident\" = false expect pending risk high missing [\"1 of any\"] }\n";

static chg_file *parse_text(chg_compiler *c, const char *text)
{
    uint32_t f = chg_c_add_text(c, "t.chg", text, strlen(text));
    chg_file *file;
    assert_int_equal(chg_c_parse(c, f, &file), CHG_OK);
    return file;
}

static void test_parser_every_declaration_form(void **state)
{
    (void)state;
    chg_compiler *c = chg_compiler_new(NULL);
    chg_file *f = parse_text(c, example);
    assert_string_equal(diag_codes(c), "");
    static const chg_decl_kind kinds[] = {
        D_POLICY, D_SCHEMA, D_AT, D_RISK, D_LET, D_CLASSIFY, D_WINDOW, D_WINDOW, D_WINDOW,
        D_FREEZE, D_FREEZE, D_FREEZE, D_FREEZE, D_WINDOW, D_APPROVALS, D_RULE, D_RULE,
        D_RULE, D_RULE, D_ON, D_INTAKE, D_TEST,
    };
    assert_int_equal(f->ndecls, CHG_ARRAY_LEN(kinds));
    for (size_t i = 0; i < CHG_ARRAY_LEN(kinds); i++)
        assert_int_equal(f->decls[i]->kind, kinds[i]);

    chg_decl *schema = f->decls[1];
    assert_int_equal(schema->u.schema.n, 3);
    assert_int_equal(schema->u.schema.fields[1].type->kind, TE_OPTIONAL);
    assert_non_null(schema->u.schema.fields[2].dflt);

    chg_decl *cron = f->decls[6];
    assert_int_equal(cron->u.timeset.ts->kind, TS_CRON);
    assert_int_equal(cron->u.timeset.ts->u.cron.dur->u.i, 6 * 3600);
    assert_string_equal(cron->u.timeset.ts->zone.name, "America/New_York");

    chg_decl *weekly = f->decls[7];
    assert_int_equal(weekly->u.timeset.ts->u.weekly.ndays, 2);

    /* w or (s and (not (d or i))) */
    chg_tsexpr *alg = f->decls[13]->u.timeset.ts;
    assert_int_equal(alg->kind, TS_OR);
    assert_int_equal(alg->u.bin.b->kind, TS_AND);
    assert_int_equal(alg->u.bin.b->u.bin.b->kind, TS_NOT);
    assert_int_equal(alg->u.bin.b->u.bin.b->u.not_->kind, TS_OR);

    /* (2 of cab within 72h and 1 of any) or 1 of [a, b] including requester */
    chg_areq *req = f->decls[14]->u.approvals.entries[1].req;
    assert_int_equal(req->kind, AR_OR);
    assert_int_equal(req->u.bin.a->kind, AR_AND);
    assert_int_equal(req->u.bin.a->u.bin.a->u.term.within->u.i, 72 * 3600);
    assert_int_equal(req->u.bin.b->kind, AR_PEOPLE);
    assert_int_equal(req->u.bin.b->u.term.npeople, 2);
    assert_true(req->u.bin.b->u.term.requester_counts);

    chg_decl *r2 = f->decls[16];
    assert_int_equal(r2->u.rule.action, RA_DENY);
    assert_int_equal(r2->u.rule.nduring, 3);
    assert_int_equal(r2->u.rule.message->kind, EX_INTERP);

    chg_decl *r3 = f->decls[17];
    assert_null(r3->u.rule.level_name.name); /* default level */
    assert_int_equal(r3->u.rule.action, RA_REQUIRE_APPROVAL);

    chg_decl *on = f->decls[19];
    assert_string_equal(on->u.on.outcome.name, "deny");
    assert_int_equal(on->u.on.ncalls, 2);

    chg_decl *test = f->decls[21];
    assert_int_equal(test->u.test.n, 5);
    assert_int_equal(test->u.test.items[4].kind, TI_EXPECT);
    assert_int_equal(test->u.test.items[4].nclauses, 2);
    chg_compiler_free(c);
}

static void test_parser_recovers_at_statements_and_brackets(void **state)
{
    (void)state;
    chg_compiler *c = chg_compiler_new(NULL);
    chg_file *f = parse_text(c,
                             "let a = (1 +)\n"
                             "let b = [1,, 2]\n"
                             "rule r: when when deny \"x\"\n"
                             "let ok = 1\n"
                             "classify { high when ) low when true default low }\n"
                             "let ok2 = 2\n");
    assert_string_equal(diag_codes(c), "E0013@1:13 E0013@2:12 E0013@3:14 E0013@5:22");
    /* every let survived: broken ones hold an error node */
    size_t lets = 0;
    for (uint32_t i = 0; i < f->ndecls; i++)
        lets += f->decls[i]->kind == D_LET;
    assert_int_equal(lets, 4);
    chg_compiler_free(c);
}

static void test_parser_message_quotes_tokens_as_written(void **state)
{
    (void)state;
    chg_compiler *c = chg_compiler_new(NULL);
    parse_text(c, "classify { high prod }");
    assert_string_equal(first_message(c), "unexpected identifier, expected 'when'");
    chg_compiler_free(c);
    c = chg_compiler_new(NULL);
    parse_text(c, "window w = cron \"x\" in \"UTC\"");
    assert_string_equal(first_message(c), "unexpected 'in', expected identifier or 'for'");
    chg_compiler_free(c);
    c = chg_compiler_new(NULL);
    parse_text(c, "import 42");
    assert_string_equal(first_message(c), "unexpected integer, expected string");
    chg_compiler_free(c);
}

static void test_parser_deep_nesting_is_an_error_not_a_crash(void **state)
{
    (void)state;
    /* prefix operators, infix chains and brackets, 10,000 deep */
    const char *unit[] = {"not ", "- ", "("};
    for (int k = 0; k < 3; k++) {
        size_t n = 10000, ul = strlen(unit[k]);
        char *src = malloc(n * ul + 64);
        strcpy(src, "let x = ");
        char *p = src + strlen(src);
        for (size_t i = 0; i < n; i++, p += ul)
            memcpy(p, unit[k], ul);
        strcpy(p, "1\n");
        chg_compiler *c = chg_compiler_new(NULL);
        parse_text(c, src);
        assert_int_equal(chg_compiler_count(c, CHG_ERROR), 1);
        assert_int_equal(chg_compiler_diag(c, 0)->id, CHG_D_E0011);
        chg_compiler_free(c);
        free(src);
    }
    size_t n = 10000;
    char *src = malloc(n * 5 + 64);
    strcpy(src, "let x = a");
    char *p = src + strlen(src);
    for (size_t i = 0; i < n; i++, p += 4)
        memcpy(p, " + a", 4);
    strcpy(p, "\n");
    chg_compiler *c = chg_compiler_new(NULL);
    parse_text(c, src);
    assert_int_equal(chg_compiler_diag(c, 0)->id, CHG_D_E0011);
    chg_compiler_free(c);
    free(src);
}

static void test_parser_error_limit(void **state)
{
    (void)state;
    chg_compile_options o = {.max_errors = 3, .lints = true};
    chg_compiler *c = chg_compiler_new(&o);
    const char *text = "let a = )\nlet b = )\nlet c = )\nlet d = )\nlet e = )\n";
    chg_compiler_add_source(c, "t.chg", text, strlen(text));
    chg_compiler_check(c);
    assert_string_equal(diag_codes(c), "E0013@1:9 E0013@2:9 E0013@3:9 E0014@4:9");
    assert_string_equal(chg_compiler_diag(c, 3)->message, "too many errors (3); stopping");
    chg_compiler_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parser_precedence),
        cmocka_unit_test(test_parser_comparisons_do_not_chain),
        cmocka_unit_test(test_parser_prefix_forms_extend_right),
        cmocka_unit_test(test_parser_postfix),
        cmocka_unit_test(test_parser_literals),
        cmocka_unit_test(test_parser_every_declaration_form),
        cmocka_unit_test(test_parser_recovers_at_statements_and_brackets),
        cmocka_unit_test(test_parser_message_quotes_tokens_as_written),
        cmocka_unit_test(test_parser_deep_nesting_is_an_error_not_a_crash),
        cmocka_unit_test(test_parser_error_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

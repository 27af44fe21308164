/*
 * test_lexer.c — the scanner: token kinds and spans, contextual keywords,
 * literals and their values, strings and interpolation, lexical errors.
 */
#include "helpers.h"

#include <limits.h>

#include "parser.h"

typedef struct toks {
    chg_compiler *c;
    int kinds[256];
    chg_span spans[256];
    size_t n;
} toks;

static toks *lex(const char *text)
{
    toks *t = calloc(1, sizeof *t);
    t->c = chg_compiler_new(NULL);
    uint32_t f = chg_c_add_text(t->c, "t.chg", text, strlen(text));
    t->n = chg_c_lex_all(t->c, f, t->kinds, t->spans, 256);
    return t;
}

static void done(toks *t)
{
    chg_compiler_free(t->c);
    free(t);
}

/* The token names joined by spaces. */
static const char *names(toks *t)
{
    static char buf[2048];
    size_t n = 0;
    buf[0] = 0;
    for (size_t i = 0; i < t->n; i++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%s", i ? " " : "", chg_c_token_name(t->kinds[i]));
    return buf;
}

static void test_lexer_keywords_and_punctuation(void **state)
{
    (void)state;
    toks *t = lex("rule r mandatory: when risk >= high and not x?.y ?? z\n");
    assert_string_equal(names(t), "'rule' identifier identifier ':' 'when' 'risk' '>=' identifier 'and' "
                                  "'not' identifier '?.' identifier '?\?' identifier");
    assert_int_equal(chg_compiler_ndiags(t->c), 0);
    done(t);
}

static void test_lexer_keyword_is_name_after_dot_and_before_colon(void **state)
{
    (void)state;
    /* `group`, `at`, `version` are keywords, but field names here */
    toks *t = lex("a.group { at: 1, version : 2 }");
    assert_string_equal(names(t), "identifier '.' identifier '{' identifier ':' integer ',' "
                                  "identifier ':' integer '}'");
    done(t);
}

static void test_lexer_spans_are_byte_ranges(void **state)
{
    (void)state;
    toks *t = lex("let  café_x = 1");
    /* 'café' is not an identifier: é is reported, then the scanner goes on */
    assert_int_equal(t->spans[0].start, 0);
    assert_int_equal(t->spans[0].end, 3);
    assert_int_equal(t->spans[1].start, 5);
    assert_int_equal(t->spans[1].end, 8);
    assert_string_equal(diag_codes(t->c), "E0001@1:9");
    assert_string_equal(first_message(t->c), "invalid character 'é' (U+00E9)");
    done(t);
}

static void test_lexer_numbers_durations_and_instants(void **state)
{
    (void)state;
    toks *t = lex("42 1.5 90s 1h30m 2w 2026-11-25 2026-11-25T00:00 2026-11-25T00:00Z "
                  "2026-11-25T01:00+01:00 02:00");
    assert_string_equal(names(t), "integer number duration duration duration date date-time instant "
                                  "instant time of day");
    assert_int_equal(chg_compiler_ndiags(t->c), 0);
    done(t);
}

static void test_lexer_literal_values(void **state)
{
    (void)state;
    chg_compiler *c = compile_str("let d = 1h30m\nlet t = 2026-11-25T01:00+01:00\nlet i = 9223372036854775807\n"
                                  "let s = \"a\\tb\\u{1F600}\\{\"\nlet u = d + t + i + s\n");
    (void)c;
    chg_decl *d = find_decl(c, D_LET, "d");
    assert_int_equal(d->u.let.expr->u.i, 5400);
    chg_decl *t = find_decl(c, D_LET, "t");
    assert_int_equal(t->u.let.expr->u.i, 1795564800); /* 2026-11-25T00:00:00Z */
    chg_decl *i = find_decl(c, D_LET, "i");
    assert_true(i->u.let.expr->u.i == INT64_MAX);
    chg_decl *s = find_decl(c, D_LET, "s");
    assert_string_equal(s->u.let.expr->u.str.s, "a\tb\xf0\x9f\x98\x80{");
    chg_compiler_free(c);
}

static void test_lexer_interpolation_tokens(void **state)
{
    (void)state;
    toks *t = lex("\"a {x} b {y.z}\"");
    assert_string_equal(names(t), "interpolated string string text '{' in a string identifier "
                                  "'}' in a string string text '{' in a string identifier '.' "
                                  "identifier '}' in a string end of string");
    done(t);
}

static void test_lexer_nested_braces_in_interpolation(void **state)
{
    (void)state;
    /* the object literal's braces do not end the interpolation */
    toks *t = lex("\"{ {a: 1}.a }\"");
    assert_string_equal(names(t), "interpolated string '{' in a string '{' identifier ':' "
                                  "integer '}' '.' identifier '}' in a string end of string");
    done(t);
}

static void test_lexer_errors_report_and_continue(void **state)
{
    (void)state;
    toks *t = lex("let a = 1 $ 2\nlet b = \"open\nlet c = 2026-13-01\n");
    assert_string_equal(diag_codes(t->c), "E0001@1:11 E0004@2:9 E0009@3:9");
    /* the scanner went on to the last line */
    assert_string_equal(chg_c_token_name(t->kinds[t->n - 1]), "date");
    done(t);
}

static void test_lexer_unterminated_comment_points_at_its_start(void **state)
{
    (void)state;
    toks *t = lex("let a = 1\n  /* never closed\nlet b = 2\n");
    assert_string_equal(diag_codes(t->c), "E0005@2:3");
    done(t);
}

static void test_lexer_nul_and_invalid_utf8(void **state)
{
    (void)state;
    const char text[] = "let a = 1\0\nlet b = \"\xc3\x28\"\n";
    chg_compiler *c = chg_compiler_new(NULL);
    uint32_t f = chg_c_add_text(c, "t.chg", text, sizeof text - 1);
    int kinds[64];
    chg_span spans[64];
    chg_c_lex_all(c, f, kinds, spans, 64);
    assert_string_equal(diag_codes(c), "E0002@2:10 E0003@1:10");
    chg_compiler_free(c);
}

static void test_lexer_bracket_depth_limit(void **state)
{
    (void)state;
    char text[1200];
    memset(text, '[', 1000);
    text[1000] = 0;
    toks *t = lex(text);
    assert_string_equal(diag_codes(t->c), "E0011@1:257");
    /* the scanner stops at the limit instead of reading on */
    assert_true(t->n <= 257);
    done(t);
}

static void test_lexer_c_operators_get_help(void **state)
{
    (void)state;
    toks *t = lex("a && b");
    assert_string_equal(diag_codes(t->c), "E0001@1:3");
    assert_string_equal(first_help(t->c), "use 'and'");
    /* and the scanner hands the parser the operator meant */
    assert_string_equal(chg_c_token_name(t->kinds[1]), "'and'");
    done(t);
}

/* The scanner takes an int length, so a file size limit raised past
 * INT_MAX is clamped: such a source is refused as too large (E0012), not
 * copied and scanned with a truncated length. The text is never read. */
static void test_lexer_file_size_limit_fits_the_scanner(void **state)
{
    (void)state;
    chg_compile_options opts = {0};
    opts.max_file_size = SIZE_MAX;
    opts.lints = true;
    chg_compiler *c = chg_compiler_new(&opts);
    assert_non_null(c);
    static const char tiny[] = "let a = 1\n";
    assert_int_equal(chg_compiler_add_source(c, "big.chg", tiny, (size_t)INT_MAX + 16), CHG_ERANGE);
    assert_string_equal(diag_codes(c), "E0012@1:1");
    chg_compiler_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lexer_keywords_and_punctuation),
        cmocka_unit_test(test_lexer_keyword_is_name_after_dot_and_before_colon),
        cmocka_unit_test(test_lexer_spans_are_byte_ranges),
        cmocka_unit_test(test_lexer_numbers_durations_and_instants),
        cmocka_unit_test(test_lexer_literal_values),
        cmocka_unit_test(test_lexer_interpolation_tokens),
        cmocka_unit_test(test_lexer_nested_braces_in_interpolation),
        cmocka_unit_test(test_lexer_errors_report_and_continue),
        cmocka_unit_test(test_lexer_unterminated_comment_points_at_its_start),
        cmocka_unit_test(test_lexer_nul_and_invalid_utf8),
        cmocka_unit_test(test_lexer_bracket_depth_limit),
        cmocka_unit_test(test_lexer_c_operators_get_help),
        cmocka_unit_test(test_lexer_file_size_limit_fits_the_scanner),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_report.c — rendering diagnostics: the text convention (place, code,
 * source line, underline aligned under multi-byte text and tabs, notes,
 * help, summary), long lines, colour, --werror, and the JSON, SARIF and
 * GitHub formats (parsed back with jansson).
 */
#include "helpers.h"

#include <jansson.h>

static char *render(chg_compiler *c, chg_report_format f, bool color, bool werror)
{
    chg_report r = {f, color, werror, true};
    chg_buf b;
    chg_buf_init(&b);
    chg_compiler *cs[1] = {c};
    chg_report_render(&r, cs, 1, &b);
    return chg_buf_take(&b);
}

static void test_report_text_convention(void **state)
{
    (void)state;
    chg_compiler *c = compile_str("schema change { env: string }\nlet x =\tchange.enviroment\n");
    char *out = render(c, CHG_REPORT_TEXT, false, false);
    assert_string_equal(out,
                        "t.chg:2:16: error[E0104]: unknown field 'enviroment' on change\n"
                        "    2 | let x =\tchange.enviroment\n"
                        "      |        \t       ^~~~~~~~~~\n"
                        "      = help: did you mean 'env'?\n"
                        "1 error\n");
    chg_free(out);
    chg_compiler_free(c);
}

static void test_report_underline_counts_code_points(void **state)
{
    (void)state;
    chg_compiler *c = compile_str("let x = \"é→\" + ünknown\n");
    char *out = render(c, CHG_REPORT_TEXT, false, false);
    assert_string_equal(out,
                        "t.chg:1:16: error[E0001]: invalid character 'ü' (U+00FC)\n"
                        "    1 | let x = \"é→\" + ünknown\n"
                        "      |                ^\n"
                        "t.chg:1:17: error[E0101]: unknown name 'nknown'\n"
                        "    1 | let x = \"é→\" + ünknown\n"
                        "      |                 ^~~~~~\n"
                        "2 errors\n");
    chg_free(out);
    chg_compiler_free(c);
}

static void test_report_notes_with_places(void **state)
{
    (void)state;
    chg_compiler *c = compile_str("let a = 1\nlet a = 2\n");
    char *out = render(c, CHG_REPORT_TEXT, false, false);
    assert_string_equal(out,
                        "t.chg:2:5: error[E0102]: 'a' is already defined\n"
                        "    2 | let a = 2\n"
                        "      |     ^\n"
                        "t.chg:1:5: note: let first declared here\n"
                        "    1 | let a = 1\n"
                        "      |     ^\n"
                        "1 error\n");
    chg_free(out);
    chg_compiler_free(c);
}

static void test_report_long_line_is_windowed(void **state)
{
    (void)state;
    char src[2100];
    memset(src, ' ', sizeof src);
    memcpy(src, "let x = 1", 9);
    memcpy(src + 1000, "+ @", 3);
    src[sizeof src - 1] = 0;
    chg_compiler *c = compile_str(src);
    char *out = render(c, CHG_REPORT_TEXT, false, false);
    /* the window starts 60 bytes before the error and is marked with … */
    char *line = strstr(out, "    1 | ...");
    assert_non_null(line);
    char *nl = strchr(line, '\n');
    assert_int_equal(nl - line, 8 + 3 + 160 + 3);
    char *caret = strchr(nl, '^');
    assert_int_equal(caret - (nl + 1), 8 + 3 + 60);
    chg_free(out);
    chg_compiler_free(c);
}

static void test_report_color_and_werror(void **state)
{
    (void)state;
    chg_compiler *c = compile_str("let unused = 1\n");
    char *plain = render(c, CHG_REPORT_TEXT, false, false);
    assert_non_null(strstr(plain, "warning[W0001]"));
    assert_null(strchr(plain, '\033'));
    char *colour = render(c, CHG_REPORT_TEXT, true, true);
    assert_non_null(strstr(colour, "\033[1;31merror[W0001]"));
    assert_non_null(strstr(colour, "1 error\n"));
    chg_free(plain);
    chg_free(colour);
    chg_compiler_free(c);
}

static void test_report_json(void **state)
{
    (void)state;
    chg_compiler *c = compile_str("schema change { env: string }\nlet x = change.enviroment\nlet y = 1\nlet y = 2\n");
    char *out = render(c, CHG_REPORT_JSON, false, false);
    json_error_t err;
    json_t *j = json_loads(out, 0, &err);
    assert_non_null(j);
    json_t *ds = json_object_get(j, "diagnostics");
    assert_int_equal(json_array_size(ds), 2);
    json_t *d0 = json_array_get(ds, 0);
    assert_string_equal(json_string_value(json_object_get(d0, "code")), "E0104");
    assert_string_equal(json_string_value(json_object_get(d0, "file")), "t.chg");
    assert_int_equal(json_integer_value(json_object_get(d0, "line")), 2);
    assert_int_equal(json_integer_value(json_object_get(d0, "column")), 16);
    assert_int_equal(json_integer_value(json_object_get(d0, "end_column")), 26);
    assert_string_equal(json_string_value(json_object_get(d0, "help")), "did you mean 'env'?");
    json_t *d1 = json_array_get(ds, 1);
    json_t *note = json_array_get(json_object_get(d1, "notes"), 0);
    assert_int_equal(json_integer_value(json_object_get(note, "line")), 3);
    assert_int_equal(json_integer_value(json_object_get(j, "errors")), 2);
    json_decref(j);
    chg_free(out);
    chg_compiler_free(c);
}

static void test_report_sarif_has_required_fields(void **state)
{
    (void)state;
    chg_compiler *c = compile_str("let a = 1\nlet a = 2\nlet unused_b = a\n");
    char *out = render(c, CHG_REPORT_SARIF, false, false);
    json_error_t err;
    json_t *j = json_loads(out, 0, &err);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "version")), "2.1.0");
    json_t *run = json_array_get(json_object_get(j, "runs"), 0);
    json_t *driver = json_object_get(json_object_get(run, "tool"), "driver");
    assert_string_equal(json_string_value(json_object_get(driver, "name")), "chgc");
    json_t *rules = json_object_get(driver, "rules");
    assert_int_equal(json_array_size(rules), CHG_D__COUNT);
    json_t *results = json_object_get(run, "results");
    assert_int_equal(json_array_size(results), 1);
    json_t *r0 = json_array_get(results, 0);
    assert_string_equal(json_string_value(json_object_get(r0, "ruleId")), "E0102");
    json_t *rule = json_array_get(rules, (size_t)json_integer_value(json_object_get(r0, "ruleIndex")));
    assert_string_equal(json_string_value(json_object_get(rule, "id")), "E0102");
    assert_string_equal(json_string_value(json_object_get(r0, "level")), "error");
    assert_non_null(json_string_value(json_object_get(json_object_get(r0, "message"), "text")));
    json_t *loc = json_object_get(json_array_get(json_object_get(r0, "locations"), 0), "physicalLocation");
    assert_string_equal(json_string_value(json_object_get(json_object_get(loc, "artifactLocation"), "uri")), "t.chg");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(loc, "region"), "startLine")), 2);
    json_t *rel = json_array_get(json_object_get(r0, "relatedLocations"), 0);
    assert_non_null(json_object_get(json_object_get(rel, "message"), "text"));
    json_decref(j);
    chg_free(out);
    chg_compiler_free(c);
}

static void test_report_github_escapes(void **state)
{
    (void)state;
    chg_compiler *c = chg_compiler_new(NULL);
    const char *src = "let a = b\n";
    chg_compiler_add_source(c, "dir,with:odd%name.chg", src, strlen(src));
    chg_compiler_check(c);
    char *out = render(c, CHG_REPORT_GITHUB, false, false);
    assert_string_equal(out, "::error file=dir%2Cwith%3Aodd%25name.chg,line=1,col=9,endLine=1,endColumn=10,"
                             "title=E0101::unknown name 'b'%0Ahelp: did you mean 'a'?\n");
    chg_free(out);
    chg_compiler_free(c);
}

static void test_report_table_is_consistent(void **state)
{
    (void)state;
    for (size_t i = 0; i < CHG_D__COUNT; i++) {
        const chg_diag_info *d = &chg_diag_table[i];
        assert_int_equal(strlen(d->code), 5);
        assert_true(d->code[0] == (d->severity == CHG_ERROR ? 'E' : d->severity == CHG_WARNING ? 'W' : 'N'));
        assert_ptr_equal(chg_diag_lookup(d->code), d);
        for (size_t k = 0; k < i; k++)
            assert_string_not_equal(chg_diag_table[k].code, d->code);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_report_text_convention),
        cmocka_unit_test(test_report_underline_counts_code_points),
        cmocka_unit_test(test_report_notes_with_places),
        cmocka_unit_test(test_report_long_line_is_windowed),
        cmocka_unit_test(test_report_color_and_werror),
        cmocka_unit_test(test_report_json),
        cmocka_unit_test(test_report_sarif_has_required_fields),
        cmocka_unit_test(test_report_github_escapes),
        cmocka_unit_test(test_report_table_is_consistent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

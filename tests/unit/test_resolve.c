/*
 * test_resolve.c — merging files into one policy: imports (relative paths,
 * loaded once, cycles reported with their chain, missing files and
 * directories), visibility across files, namespaces and duplicates, the
 * singleton declarations, risk classes and rule levels.
 * Runs in tests/fixtures, where imports/ holds the files imported here.
 */
#include "helpers.h"

static chg_compiler *compile_file(const char *path)
{
    chg_compiler *c = chg_compiler_new(NULL);
    assert_int_equal(chg_compiler_add_file(c, path), CHG_OK);
    chg_compiler_check(c);
    return c;
}

static void test_resolve_imports_load_each_file_once(void **state)
{
    (void)state;
    chg_compiler *c = compile_file("imports/main.chg");
    assert_string_equal(diag_codes(c), "");
    /* main, shared, sub/deep: shared is imported twice but read once */
    assert_int_equal(chg_compiler_nsources(c), 4);
    assert_string_equal(chg_compiler_source(c, 2)->path, "imports/shared.chg");
    assert_string_equal(chg_compiler_source(c, 3)->path, "imports/sub/deep.chg");
    /* declarations in import order: shared's let comes before main's */
    chg_decl *first_let = find_decl(c, D_LET, NULL);
    assert_string_equal(first_let->name.name, "shared_limit");
    chg_compiler_free(c);
}

static void test_resolve_file_sees_only_what_it_imports(void **state)
{
    (void)state;
    chg_compiler *c = compile_file("imports/sees_importer.chg");
    assert_string_equal(diag_codes(c), "E0119@1:9");
    assert_string_equal(first_message(c), "'main_only' is not available here: it is declared in "
                                          "imports/sees_importer.chg, which imports/uses_main_names.chg "
                                          "does not import");
    chg_compiler_free(c);
}

static void test_resolve_import_cycle_names_the_chain(void **state)
{
    (void)state;
    chg_compiler *c = compile_file("imports/cycle_a.chg");
    assert_string_equal(diag_codes(c), "E0302@1:8");
    assert_string_equal(first_message(c), "import cycle: imports/cycle_a.chg -> imports/cycle_b.chg -> "
                                          "imports/cycle_c.chg -> imports/cycle_a.chg");
    chg_compiler_free(c);
}

static void test_resolve_missing_import_and_directory(void **state)
{
    (void)state;
    chg_compiler *c = compile_str("import \"imports/nope.chg\"\nimport \"imports/sub\"\n");
    assert_string_equal(diag_codes(c), "E0301@1:8 E0303@2:8");
    chg_compiler_free(c);
}

static void test_resolve_one_namespace_for_values(void **state)
{
    (void)state;
    chg_compiler *c = compile_str("risk low < high\nlet high = 1\nwindow low = daily 01:00..02:00\n");
    assert_string_equal(diag_codes(c), "E0102@2:5 E0102@3:8");
    const chg_diag *d = chg_compiler_diag(c, 0);
    assert_int_equal(d->nnotes, 1);
    assert_string_equal(d->notes[0].message, "risk class first declared here");
    chg_compiler_free(c);
}

static void test_resolve_reserved_names(void **state)
{
    (void)state;
    chg_compiler *c = compile_str("let change = 1\nwindow now = daily 01:00..02:00\nrisk event < b\n");
    assert_string_equal(diag_codes(c), "E0123@1:5 E0123@2:8 E0123@3:6");
    chg_compiler_free(c);
}

static void test_resolve_singletons(void **state)
{
    (void)state;
    chg_compiler *c = compile_str("policy \"a\"\npolicy \"b\"\nat now\nat now\nrisk a\nrisk b\n");
    assert_string_equal(diag_codes(c), "E0112@2:1 E0112@4:1 E0112@6:1 E0119@3:4");
    chg_compiler_free(c);
}

static void test_resolve_risk_classes_are_ranked(void **state)
{
    (void)state;
    chg_compiler *c = compile_str("risk low < medium < high\nclassify { high when true medium when false default low }\n");
    assert_string_equal(diag_codes(c), "");
    chg_decl *high = chg_c_map_get(&c->globals, "high");
    assert_non_null(high);
    assert_int_equal(high->kind, D_RISK);
    assert_int_equal(high->index, 2);
    assert_int_equal(c->classify->u.classify.arms[1].risk_index, 1);
    chg_compiler_free(c);
}

static void test_resolve_rule_levels(void **state)
{
    (void)state;
    chg_compiler *c = compile_str("rule a mandatory: deny \"a\"\nrule b overridable: deny \"b\"\n"
                                  "rule c advisory: warn \"c\"\nrule d: deny \"d\"\nrule e Mandatory: deny \"e\"\n");
    assert_string_equal(diag_codes(c), "E0106@5:8");
    assert_string_equal(first_help(c), "did you mean 'mandatory'?");
    assert_int_equal(find_decl(c, D_RULE, "b")->u.rule.level, LEVEL_OVERRIDABLE);
    assert_int_equal(find_decl(c, D_RULE, "c")->u.rule.level, LEVEL_ADVISORY);
    assert_int_equal(find_decl(c, D_RULE, "d")->u.rule.level, LEVEL_MANDATORY);
    chg_compiler_free(c);
}

static void test_resolve_duplicate_rules_intakes_tests(void **state)
{
    (void)state;
    chg_compiler *c = compile_str("rule r: deny \"a\"\nrule r: deny \"b\"\n"
                                  "intake i { }\nintake i { }\n"
                                  "test \"t\" { event {} expect allow }\ntest \"t\" { event {} expect allow }\n");
    assert_string_equal(diag_codes(c), "E0127@2:6 E0102@4:8 E0509@6:6");
    chg_compiler_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resolve_imports_load_each_file_once),
        cmocka_unit_test(test_resolve_file_sees_only_what_it_imports),
        cmocka_unit_test(test_resolve_import_cycle_names_the_chain),
        cmocka_unit_test(test_resolve_missing_import_and_directory),
        cmocka_unit_test(test_resolve_one_namespace_for_values),
        cmocka_unit_test(test_resolve_reserved_names),
        cmocka_unit_test(test_resolve_singletons),
        cmocka_unit_test(test_resolve_risk_classes_are_ranked),
        cmocka_unit_test(test_resolve_rule_levels),
        cmocka_unit_test(test_resolve_duplicate_rules_intakes_tests),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

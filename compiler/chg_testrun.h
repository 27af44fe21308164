/*
 * chg_testrun.h — running a policy's `test` blocks and reporting them
 * (`chgc test`): each test's change (or raw event, through the intakes) is
 * decided at its instant with the facts its `given` lines make, and the
 * decision is compared with its `expect` clauses. Coverage says which
 * rules and classify arms no test exercised.
 */
#ifndef CHG_TESTRUN_H
#define CHG_TESTRUN_H

#include "chg_compiler.h"
#include "chg_vm.h"

typedef enum chg_test_format {
    CHG_TEST_TEXT,
    CHG_TEST_TAP,
    CHG_TEST_JUNIT,
    CHG_TEST_JSON
} chg_test_format;

typedef struct chg_test_result {
    char *name, *file, *source; /* the test's, copied: the suite outlives
                                   the compiler that held the cases */
    bool passed;
    char *failures;         /* one line per failed expectation; heap */
    char *decision;         /* the decision (JSON), or NULL; heap */
} chg_test_result;

/* One policy's run. */
typedef struct chg_test_suite {
    char *policy;           /* the root file */
    chg_test_result *results;
    size_t n;
    /* coverage: rule i / classify arm k exercised by some test */
    uint32_t nrules, narms;
    bool *rule_hit, *arm_hit;
    char **rule_names, **rule_sources, **arm_names, **arm_sources;
} chg_test_suite;

/* Which cases the regex `run` selects (by name; NULL selects all). Returns
 * CHG_OK, or CHG_EINVAL with the pcre2 message in err. */
int chg_test_select(const chg_test_case *cases, size_t n, const char *run, bool *keep, char *err, size_t errlen);

/* Run cases[i] where keep[i] (keep may be NULL) against bundle b. Tests
 * without `at`, of a policy without `at`, run at default_now. */
int chg_test_run(const chg_bundle *b, const char *policy, const chg_test_case *cases, size_t n, const bool *keep,
                 int64_t default_now, chg_test_suite *out);
/* Free what a suite holds (also after chg_test_run failed). */
void chg_test_suite_free(chg_test_suite *s);

/* Coverage of a suite in percent (100 when there is nothing to cover). */
double chg_test_coverage(const chg_test_suite *s);

/* Render suites; with coverage, list what no test exercised. */
void chg_test_render(const chg_test_suite *suites, size_t n, chg_test_format f, bool coverage, bool color,
                     chg_buf *out);

#endif

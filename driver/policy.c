/*
 * policy.c — from what a command names to a verified bundle: the one
 * compile → emit → load sequence of every program.
 *
 * A bundle compiled here goes through the same loader and verifier as a
 * .chgb file read from disk: the evaluator only ever runs code the
 * verifier accepted, whichever way it came.
 */
#include "chg_driver.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* Add one root to c: a file, or standard input for "-". */
static int add_root(chg_compiler *c, const char *path, char *err, size_t errlen)
{
    if (!strcmp(path, "-")) {
        char *text;
        size_t len;
        int rc = chg_input_read("-", (size_t)256 << 20, &text, &len, err, errlen);
        if (rc != CHG_OK)
            return rc;
        rc = chg_compiler_add_source(c, "<stdin>", text, len);
        chg_free(text);
        if (rc == CHG_ENOMEM)
            snprintf(err, errlen, "<stdin>: out of memory");
        /* too large: a diagnostic says so, as for a file */
        return rc == CHG_ERANGE ? CHG_OK : rc;
    }
    int rc = chg_compiler_add_file(c, path);
    int saved = errno; /* CHG_EIO: errno is the failing call's */
    if (rc == CHG_EIO || rc == CHG_ENOTREG || rc == CHG_ENOMEM) {
        snprintf(err, errlen, "%s: %s", path,
                 rc == CHG_EIO       ? strerror(saved)
                 : rc == CHG_ENOTREG ? (saved == EISDIR ? "is a directory" : "not a regular file")
                                     : chg_strerror(rc));
        return rc; /* not the policy's fault: never CHG_EINVAL */
    }
    return CHG_OK; /* CHG_ERANGE too: diagnostic E0012 says the file is too large */
}

/* All roots go into one compiler: they are one policy (a root may import
 * the others' declarations). A failure to read a root stops at once;
 * what is wrong inside the files comes back as CHG_EINVAL with the
 * diagnostics in p->compiler, which the caller keeps to print. */
int chg_policy_compile(chg_policy *p, char *const *paths, size_t n, const chg_compile_options *opts, char *err,
                       size_t errlen)
{
    memset(p, 0, sizeof *p);
    chg_buf_init(&p->bytes);
    p->compiler = chg_compiler_new(opts);
    if (!p->compiler) {
        snprintf(err, errlen, "out of memory");
        return CHG_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        int rc = add_root(p->compiler, paths[i], err, errlen);
        if (rc != CHG_OK)
            return rc;
    }
    int rc = chg_compiler_check(p->compiler);
    if (rc == CHG_ENOMEM)
        snprintf(err, errlen, "out of memory");
    if (rc == CHG_EINTERNAL) {
        /* no diagnostic says why: the caller prints err */
        snprintf(err, errlen, "internal error: the code generator failed on a program that checked clean");
        return rc;
    }
    return rc == CHG_OK ? CHG_OK : rc == CHG_ENOMEM ? CHG_ENOMEM : CHG_EINVAL;
}

int chg_policy_emit(chg_policy *p, char *err, size_t errlen)
{
    chg_buf_reset(&p->bytes);
    int rc = chg_compiler_emit(p->compiler, &p->bytes);
    if (rc == CHG_OK && p->bytes.oom)
        rc = CHG_ENOMEM;
    if (rc != CHG_OK) {
        if (rc == CHG_ENOMEM)
            snprintf(err, errlen, "out of memory");
        if (rc == CHG_EINTERNAL) {
            snprintf(err, errlen, "internal error: the code generator failed on a program that checked clean");
            return rc;
        }
        return rc == CHG_ENOMEM ? rc : CHG_EINVAL; /* a diagnostic says why */
    }
    char why[512];
    rc = chg_bundle_open(p->bytes.data, p->bytes.len, &p->bundle, why, sizeof why);
    if (rc == CHG_ENOMEM) {
        snprintf(err, errlen, "out of memory");
        return rc;
    }
    if (rc != CHG_OK) {
        /* a bundle we just wrote failing its own verification is our bug,
         * or a program beyond a format limit the code generator missed.
         * Not CHG_EINVAL: from here that means "the diagnostics say why",
         * and there is no diagnostic; the caller prints err instead. */
        snprintf(err, errlen, "internal error: the compiled bundle does not verify: %s", why);
        return CHG_EINTERNAL;
    }
    return CHG_OK;
}

int chg_policy_open(chg_policy *p, char *const *paths, size_t n, const chg_compile_options *opts, char *err,
                    size_t errlen)
{
    if (n == 1 && chg_is_bundle_path(paths[0])) {
        memset(p, 0, sizeof *p);
        chg_buf_init(&p->bytes);
        char *data;
        size_t len;
        int rc = chg_input_read(paths[0], CHG_BUNDLE_MAX, &data, &len, err, errlen);
        if (rc != CHG_OK)
            return rc;
        char why[512];
        rc = chg_bundle_open(data, len, &p->bundle, why, sizeof why);
        if (rc != CHG_OK) {
            chg_free(data);
            snprintf(err, errlen, "%s: %s", paths[0], why);
            /* malformed input; p->compiler is NULL: no diagnostics */
            return rc == CHG_ENOMEM ? rc : CHG_EINVAL;
        }
        /* the bytes read become p->bytes (`chgc build` writes a verified
         * bundle again): adopted, not copied */
        p->bytes.data = data;
        p->bytes.len = len;
        p->bytes.cap = len + 1;
        return CHG_OK;
    }
    int rc = chg_policy_compile(p, paths, n, opts, err, errlen);
    return rc == CHG_OK ? chg_policy_emit(p, err, errlen) : rc;
}

void chg_policy_free(chg_policy *p)
{
    chg_bundle_free(p->bundle);
    chg_compiler_free(p->compiler);
    chg_buf_free(&p->bytes);
    memset(p, 0, sizeof *p);
}

/* ---- chgc check -------------------------------------------------------------------- */

/* Did the compilation stop at its error limit (E0014)? Then what it
 * loaded was not all checked. */
static bool stopped(const chg_compiler *c)
{
    for (size_t i = chg_compiler_ndiags(c); i-- > 0;)
        if (chg_compiler_diag(c, i)->id == CHG_D_E0014)
            return true;
    return false;
}

/* Can compilation c stand for file `real` (it loads it as an import, or
 * it is the same file by another name)? Only a compilation that finished
 * (not stopped at its error limit) and is not a test file's covers one. */
static bool covers(const chg_compiler *c, const char *croot, bool ctest, const char *real)
{
    return real && c && !ctest && !stopped(c) &&
           (chg_compiler_imports(c, real) || (croot && !strcmp(croot, real)));
}

/* chgc check compiles the files in order, each only if no compilation
 * kept so far covers it: a file another given file imports is checked,
 * and reported, in its importer's context. A compilation that imports a
 * file kept earlier drops it (unless that file imports it back: files
 * that import each other, a cycle, are covered by the first named). So
 * a chain named root first is compiled once, not once per file, and a
 * compilation is freed as soon as another covers it: time and memory
 * stay linear in what is loaded (issue 10 point 3). Coverage is
 * transitive: the compilation that drops k loads everything k's did. */
int chg_check_files(char *const *files, size_t n, const chg_compile_options *opts, chg_compiler ***out,
                    size_t *nout, char *err, size_t errlen)
{
    *out = NULL;
    *nout = 0;
    chg_compiler **cs = chg_calloc(n + 1, sizeof *cs);
    char **real = chg_calloc(n + 1, sizeof *real);
    size_t *idx = chg_calloc(n + 1, sizeof *idx); /* cs[k] is the compilation of files[idx[k]] */
    int rc = cs && real && idx ? CHG_OK : CHG_ENOMEM;
    char buf[PATH_MAX];
    for (size_t i = 0; i < n && rc == CHG_OK; i++)
        if (strcmp(files[i], "-") != 0 && realpath(files[i], buf) && !(real[i] = chg_strdup(buf)))
            rc = CHG_ENOMEM;
    size_t kept = 0;
    for (size_t i = 0; i < n && rc == CHG_OK; i++) {
        bool skip = false;
        for (size_t k = 0; k < kept && !skip; k++)
            skip = covers(cs[k], real[idx[k]], chg_is_test_file(files[idx[k]]), real[i]);
        if (skip)
            continue;
        chg_policy p;
        rc = chg_policy_compile(&p, &files[i], 1, opts, err, errlen);
        chg_compiler *c = p.compiler; /* kept with its diagnostics */
        p.compiler = NULL;
        chg_policy_free(&p);
        if (rc == CHG_EINVAL)
            rc = CHG_OK; /* errors in the policy: the diagnostics say them */
        if (!c)
            continue;
        /* the files kept so far that this one covers, and that do not
         * import it back, are dropped */
        size_t m = 0;
        for (size_t k = 0; k < kept; k++) {
            if (covers(c, real[i], chg_is_test_file(files[i]), real[idx[k]]) &&
                !(real[i] && chg_compiler_imports(cs[k], real[i])))
                chg_compiler_free(cs[k]);
            else {
                idx[m] = idx[k];
                cs[m++] = cs[k];
            }
        }
        kept = m;
        idx[kept] = i;
        cs[kept++] = c;
    }
    for (size_t i = 0; i < n && real; i++)
        chg_free(real[i]);
    chg_free(real);
    chg_free(idx);
    if (rc != CHG_OK) {
        for (size_t k = 0; k < kept; k++)
            chg_compiler_free(cs[k]);
        if (rc == CHG_ENOMEM)
            snprintf(err, errlen, "out of memory");
        chg_free(cs);
        return rc;
    }
    *out = cs;
    *nout = kept;
    return CHG_OK;
}

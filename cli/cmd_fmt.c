/*
 * cmd_fmt.c — `chgc fmt`: rewrite policy files in their canonical layout,
 * or with --check say which are not (a unified diff each) for CI.
 */
#include "cli.h"

#include <getopt.h>
#include <string.h>

static void fmt_usage(FILE *f)
{
    fprintf(f,
            "Usage: chgc fmt [--check] PATH...\n"
            "\n"
            "Lay .chg files out canonically: computed indentation, one space between\n"
            "tokens, aligned trailing comments; comments and line breaks are kept, and\n"
            "nothing but whitespace changes. Files are rewritten in place; '-' reads\n"
            "standard input and writes the result to standard output. A directory\n"
            "means every .chg file under it.\n"
            "\n"
            "Options:\n"
            "      --check   change nothing: print a unified diff for each file that is not\n"
            "                formatted, and exit 1 if there is one\n"
            "  -h, --help    show this help\n"
            "\n"
            "Exit status: 0 formatted (or, with --check, already formatted), 1 a file is\n"
            "not formatted (--check) or has syntax errors (left as it is), 2 usage or I/O\n"
            "error.\n");
}

/* Format one file. Returns EXIT_CLEAN, EXIT_FINDINGS (syntax errors, or
 * --check and not formatted) or EXIT_USAGE. */
static int fmt_one(const char *path, bool check)
{
    chg_compile_options opts = chgc_compile_options(false);
    chg_buf out;
    chg_buf_init(&out);
    chg_compiler *c = NULL;
    char err[1024] = "";
    const chg_source *src = NULL;
    int rc = chg_format_file(path, &opts, &out, &c, &src, err, sizeof err);
    int status = EXIT_CLEAN;
    if (rc == CHG_EINVAL) {
        chgc_print_diags(c);
        chgc_error("fmt: %s: not formatted: it has syntax errors", path);
        status = EXIT_FINDINGS;
    } else if (rc != CHG_OK) {
        chgc_fail(rc, err);
        status = EXIT_USAGE;
    } else {
        bool same = src->len == out.len && memcmp(src->text, out.data ? out.data : "", out.len) == 0;
        bool std = !strcmp(path, "-");
        if (check && !same) {
            chg_buf diff;
            chg_buf_init(&diff);
            char a[4096], b[4096];
            snprintf(a, sizeof a, "%s", std ? "<stdin>" : path);
            snprintf(b, sizeof b, "%s (formatted)", std ? "<stdin>" : path);
            rc = chg_diff_unified(src->text, src->len, out.data ? out.data : "", out.len, a, b, &diff);
            if (rc != CHG_OK) {
                chgc_fail(rc, "");
                status = EXIT_USAGE;
            } else {
                fwrite(diff.data ? diff.data : "", 1, diff.len, stdout);
                status = EXIT_FINDINGS;
            }
            chg_buf_free(&diff);
        } else if (!check && std)
            fwrite(out.data ? out.data : "", 1, out.len, stdout);
        else if (!check && !same) {
            rc = chg_file_replace(path, out.data ? out.data : "", out.len, err, sizeof err);
            if (rc != CHG_OK) {
                chgc_fail(rc, err);
                status = EXIT_USAGE;
            } else
                fprintf(stderr, "formatted %s\n", path);
        }
    }
    chg_compiler_free(c);
    chg_buf_free(&out);
    return status;
}

int chgc_fmt(int argc, char **argv)
{
    static const struct option opts[] = {
        {"check", no_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    bool check = false;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (ch) {
        case 'c': check = true; break;
        case 'h': fmt_usage(stdout); return EXIT_CLEAN;
        default: fmt_usage(stderr); return EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        chgc_error("fmt: no PATH given");
        fmt_usage(stderr);
        return EXIT_USAGE;
    }
    chg_vec files;
    chg_vec_init(&files);
    if (chgc_collect(argv + optind, argc - optind, &files) != CHG_OK)
        return EXIT_USAGE;
    int status = EXIT_CLEAN;
    for (size_t i = 0; i < files.len; i++) {
        int s = fmt_one(files.items[i], check);
        status = s > status ? s : status;
    }
    chg_strings_free(&files);
    fflush(stdout);
    return status;
}

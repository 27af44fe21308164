/*
 * cmd_build.c — `chgc build`, `chgc disasm`, and loading a policy for the
 * commands that run one (a bundle, or .chg files compiled on the spot).
 */
#include "chg_compiler.h"
#include "chg_vm.h"
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <string.h>

void chgc_print_diags(struct chg_compiler *c)
{
    if (!chg_compiler_ndiags(c))
        return;
    chg_report r = {CHG_REPORT_TEXT, chgc_parse_color("auto", stderr) == 1, false, true};
    chg_buf out;
    chg_buf_init(&out);
    chg_report_render(&r, &c, 1, &out);
    fwrite(out.data ? out.data : "", 1, out.len, stderr);
    chg_buf_free(&out);
}

/* Compile roots into bundle bytes, printing diagnostics (text) to stderr.
 * Returns 0, 1 (policy errors) or 2 (I/O). */
static int compile_bundle(char **paths, int n, chg_buf *bytes)
{
    chg_compiler *c = chg_compiler_new(NULL);
    if (!c) {
        chgc_error("out of memory");
        return EXIT_USAGE;
    }
    for (int i = 0; i < n; i++) {
        int rc = chg_compiler_add_file(c, paths[i]);
        if (rc == CHG_EIO || rc == CHG_EINVAL || rc == CHG_ENOMEM) {
            chgc_error("%s: %s", paths[i], rc == CHG_EINVAL ? "not a regular file" : strerror(errno));
            chg_compiler_free(c);
            return EXIT_USAGE;
        }
    }
    int rc = chg_compiler_check(c);
    if (rc == CHG_OK)
        rc = chg_compiler_emit(c, bytes);
    chgc_print_diags(c);
    chg_compiler_free(c);
    return rc == CHG_OK ? EXIT_CLEAN : EXIT_FINDINGS;
}

static bool is_bundle_path(const char *p)
{
    size_t n = strlen(p);
    return n > 5 && strcmp(p + n - 5, ".chgb") == 0;
}

chg_bundle *chgc_load_policy(char **paths, int n, int *status)
{
    char err[512];
    if (n == 1 && is_bundle_path(paths[0])) {
        chg_bundle *b = chg_bundle_load_file(paths[0], err, sizeof err);
        if (!b) {
            chgc_error("%s: %s", paths[0], err);
            *status = EXIT_USAGE;
        }
        return b;
    }
    chg_buf bytes;
    chg_buf_init(&bytes);
    int rc = compile_bundle(paths, n, &bytes);
    if (rc != EXIT_CLEAN) {
        chg_buf_free(&bytes);
        *status = rc;
        return NULL;
    }
    chg_bundle *b = chg_bundle_load(bytes.data, bytes.len, err, sizeof err);
    chg_buf_free(&bytes);
    if (!b) {
        /* a bundle we just wrote failing its own verification is our bug */
        chgc_error("internal error: the compiled bundle does not verify: %s", err);
        *status = EXIT_USAGE;
    }
    return b;
}

int chgc_build(int argc, char **argv)
{
    static const struct option opts[] = {
        {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *output = NULL;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'o': output = optarg; break;
        case 'h':
            printf("Usage: chgc build -o OUT.chgb PATH...\n"
                   "\n"
                   "Compile .chg files (one policy: a root file and what it imports) into a\n"
                   "bundle: versioned, hashed, verified again whenever it is loaded.\n"
                   "\n"
                   "Options:\n"
                   "  -o, --output FILE  where to write the bundle (required; '-' for stdout)\n"
                   "  -h, --help         show this help\n"
                   "\n"
                   "Exit status: 0 built, 1 the policy has errors, 2 usage or I/O error.\n");
            return EXIT_CLEAN;
        default: return EXIT_USAGE;
        }
    }
    if (!output || optind >= argc) {
        chgc_error("build: usage: chgc build -o OUT.chgb PATH...");
        return EXIT_USAGE;
    }
    chg_buf bytes;
    chg_buf_init(&bytes);
    int rc = compile_bundle(argv + optind, argc - optind, &bytes);
    if (rc != EXIT_CLEAN) {
        chg_buf_free(&bytes);
        return rc;
    }
    char err[512];
    chg_bundle *b = chg_bundle_load(bytes.data, bytes.len, err, sizeof err);
    if (!b) {
        chgc_error("internal error: the compiled bundle does not verify: %s", err);
        chg_buf_free(&bytes);
        return EXIT_USAGE;
    }
    chg_bundle_free(b);
    FILE *f = strcmp(output, "-") ? fopen(output, "wb") : stdout;
    if (!f || fwrite(bytes.data, 1, bytes.len, f) != bytes.len || (f != stdout && fclose(f) != 0)) {
        chgc_error("%s: %s", output, strerror(errno));
        chg_buf_free(&bytes);
        return EXIT_USAGE;
    }
    chg_buf_free(&bytes);
    return EXIT_CLEAN;
}

int chgc_disasm(int argc, char **argv)
{
    static const struct option opts[] = {
        {"opcodes", no_argument, NULL, 'O'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    bool opcodes = false;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (ch) {
        case 'O': opcodes = true; break;
        case 'h':
            printf("Usage: chgc disasm BUNDLE.chgb | PATH...\n"
                   "       chgc disasm --opcodes\n"
                   "\n"
                   "Print a policy's bytecode, block by block, with the source position of\n"
                   "each instruction. --opcodes prints the instruction reference\n"
                   "(docs/bytecode.md).\n");
            return EXIT_CLEAN;
        default: return EXIT_USAGE;
        }
    }
    chg_buf out;
    chg_buf_init(&out);
    if (opcodes)
        chg_opcodes_markdown(&out);
    else {
        if (optind >= argc) {
            chgc_error("disasm: usage: chgc disasm BUNDLE.chgb | PATH...");
            return EXIT_USAGE;
        }
        int status = EXIT_CLEAN;
        chg_bundle *b = chgc_load_policy(argv + optind, argc - optind, &status);
        if (!b)
            return status;
        chg_bundle_disasm(b, &out);
        chg_bundle_free(b);
    }
    fwrite(out.data ? out.data : "", 1, out.len, stdout);
    chg_buf_free(&out);
    return EXIT_CLEAN;
}

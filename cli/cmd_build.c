/*
 * cmd_build.c — `chgc build` and `chgc disasm`.
 */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <string.h>

/* `chgc build -o OUT PATH...`: lints are on, so warnings are printed as
 * `chgc check` would print them, but they never fail a build (only errors
 * do, status 1). The bundle has been verified by chg_policy_open before it
 * is written: a file that is written is one the loader accepts. */
int chgc_build(int argc, char **argv)
{
    static const struct option opts[] = {
        {"output", required_argument, NULL, 'o'},
        {"allow-path", required_argument, NULL, 'P'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *output = NULL;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'o': output = optarg; break;
        case 'P':
            if (!chgc_opt_allow_path(optarg))
                return EXIT_USAGE;
            break;
        case 'h':
            printf("Usage: chgc build -o OUT.chgb PATH...\n"
                   "\n"
                   "Compile .chg files (one policy: a root file and what it imports) into a\n"
                   "bundle: versioned, hashed, verified again whenever it is loaded.\n"
                   "\n"
                   "Options:\n"
                   "  -o, --output FILE     where to write the bundle (required; '-' for stdout)\n"
                   "      --allow-path DIR  read imports, calendars, test inputs also from DIR\n"
                   "  -h, --help            show this help\n"
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
    chg_policy p;
    int status = chgc_open_policy(argv + optind, argc - optind, true, &p);
    if (status != EXIT_CLEAN)
        return status;
    /* The file is opened only once the policy compiled, so a policy with
     * errors never leaves an empty or truncated bundle behind. A write or
     * close failure is status 2, reported with errno from the call that
     * failed: fclose is checked because a full disk may only show there. */
    FILE *f = strcmp(output, "-") ? fopen(output, "wb") : stdout;
    bool ok = f && fwrite(p.bytes.data, 1, p.bytes.len, f) == p.bytes.len;
    int saved = errno;
    if (f && f != stdout && fclose(f) != 0 && ok) {
        ok = false;
        saved = errno;
    }
    if (!ok)
        chgc_error("%s: %s", output, strerror(saved));
    chg_policy_free(&p);
    return ok ? EXIT_CLEAN : EXIT_USAGE;
}

/* `chgc disasm`: the bytecode of a policy, compiled from source or loaded
 * from a bundle (chg_policy_open takes either), so what is shown is what
 * runs. --opcodes needs no policy: it prints the reference generated
 * from opcodes.def, the same text as docs/bytecode.md. */
int chgc_disasm(int argc, char **argv)
{
    static const struct option opts[] = {
        {"opcodes", no_argument, NULL, 'O'},
        {"allow-path", required_argument, NULL, 'P'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    bool opcodes = false;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (ch) {
        case 'O': opcodes = true; break;
        case 'P':
            if (!chgc_opt_allow_path(optarg))
                return EXIT_USAGE;
            break;
        case 'h':
            printf("Usage: chgc disasm BUNDLE.chgb | PATH...\n"
                   "       chgc disasm --opcodes\n"
                   "\n"
                   "Print a policy's bytecode, block by block, with the source position of\n"
                   "each instruction. --opcodes prints the instruction reference\n"
                   "(docs/bytecode.md).\n"
                   "\n"
                   "Options:\n"
                   "      --opcodes         print the instruction reference\n"
                   "      --allow-path DIR  read imports, calendars, test inputs also from DIR\n"
                   "  -h, --help            show this help\n");
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
        chg_policy p;
        int status = chgc_open_policy(argv + optind, argc - optind, true, &p);
        if (status != EXIT_CLEAN)
            return status;
        /* rendered into memory, then written in one call: the listing
         * is bounded by the bundle's size, which the loader limits */
        chg_bundle_disasm(p.bundle, &out);
        chg_policy_free(&p);
    }
    fwrite(out.data ? out.data : "", 1, out.len, stdout);
    chg_buf_free(&out);
    return EXIT_CLEAN;
}

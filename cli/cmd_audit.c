/*
 * cmd_audit.c — `chgc audit verify DB`, `chgc audit export DB --since SEQ`:
 * check and read chgd's hash-chained audit log (chg_audit_*, driver/audit.c).
 */
#include "cli.h"

#include <getopt.h>
#include <inttypes.h>
#include <string.h>

static void audit_usage(FILE *f)
{
    fprintf(f,
            "Usage: chgc audit verify DB [--pubkey FILE]\n"
            "       chgc audit export DB [--since SEQ] [--events]\n"
            "\n"
            "Check or read the audit log of a chgd store (SQLite file).\n"
            "\n"
            "  verify            check every record's sequence number, its link to the record\n"
            "                    before it and the hash of its content\n"
            "      --pubkey FILE also every signed digest (chgd --audit-key) with this PEM\n"
            "                    Ed25519 public key, and that none is missing\n"
            "  export            write the records as JSON lines, oldest first\n"
            "      --since SEQ   only the records after SEQ (default 0: all)\n"
            "      --events      only the events, as the records chgc replay reads\n"
            "  -h, --help        show this help\n"
            "\n"
            "Exit status: 0 the chain holds (verify) or was written (export), 1 a record\n"
            "breaks the chain (the first one is named), 2 usage or I/O error.\n");
}

int chgc_audit(int argc, char **argv)
{
    static const struct option opts[] = {
        {"since", required_argument, NULL, 's'},
        {"events", no_argument, NULL, 'e'},
        {"pubkey", required_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    long since = 0;
    bool events = false;
    const char *pubkey = NULL;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (ch) {
        case 's':
            if (!chgc_opt_int("since", optarg, 0, INT64_MAX, &since))
                return EXIT_USAGE;
            break;
        case 'e': events = true; break;
        case 'p': pubkey = optarg; break;
        case 'h': audit_usage(stdout); return EXIT_CLEAN;
        default: audit_usage(stderr); return EXIT_USAGE;
        }
    }
    if (argc - optind != 2 || (strcmp(argv[optind], "verify") && strcmp(argv[optind], "export"))) {
        chgc_error("audit: %s", argc - optind < 1 ? "no subcommand given (verify or export)"
                                : argc - optind < 2 ? "no store given"
                                                    : "expected 'verify DB' or 'export DB'");
        audit_usage(stderr);
        return EXIT_USAGE;
    }
    const char *db = argv[optind + 1];
    char err[512] = "";
    uint64_t n = 0;
    if (!strcmp(argv[optind], "verify")) {
        uint64_t digests = 0, tail = 0;
        int rc = pubkey ? chg_audit_verify_signed(db, pubkey, &n, &digests, &tail, err, sizeof err)
                        : chg_audit_verify(db, &n, err, sizeof err);
        if (rc == CHG_EINVAL) {
            chgc_error("audit verify: %s: %s", db, err);
            return EXIT_FINDINGS;
        }
        if (rc != CHG_OK) {
            chgc_fail(rc, err);
            return EXIT_USAGE;
        }
        if (pubkey)
            printf("%s: the chain holds: %" PRIu64 " records, %" PRIu64 " signed digests, %" PRIu64
                   " records after the last one\n",
                   db, n, digests, tail);
        else
            printf("%s: the chain holds: %" PRIu64 " records\n", db, n);
        return EXIT_CLEAN;
    }
    int rc = chg_audit_export(db, (uint64_t)since, events, stdout, &n, err, sizeof err);
    if (rc != CHG_OK) {
        chgc_fail(rc, err);
        return rc == CHG_EINVAL ? EXIT_FINDINGS : EXIT_USAGE;
    }
    return EXIT_CLEAN;
}

/*
 * chgc.c — the chgc driver: subcommand dispatch, --help, --version, and the
 * helpers the subcommands share (file collection, colour, errors).
 */
#include "cli.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} commands[] = {
    {"check", chgc_check, "parse, resolve, type-check and lint policy files"},
    {"build", chgc_build, "compile policy files into a verified bundle (.chgb)"},
    {"eval", chgc_eval, "decide one change (or a stream of them) against a policy"},
    {"disasm", chgc_disasm, "print a bundle's bytecode with source positions"},
    {"test", chgc_test, "run a policy's test blocks (text, TAP, JUnit or JSON; coverage)"},
    {"windows", chgc_windows, "list the intervals of a policy's windows and freezes"},
};

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: chgc COMMAND [OPTIONS] [ARGS]\n"
            "\n"
            "chgc compiles and checks change policies written in the .chg language.\n"
            "\n"
            "Commands:\n");
    for (size_t i = 0; i < CHG_ARRAY_LEN(commands); i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f,
            "\n"
            "Options:\n"
            "  -h, --help      show this help (chgc COMMAND --help for a command)\n"
            "  -V, --version   show the version\n"
            "\n"
            "Exit status: 0 success, 1 findings (errors, failed tests), 2 usage or I/O error.\n"
            "Documentation: docs/cli.md, docs/language.md, docs/errors.md\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
        usage(stdout);
        return EXIT_CLEAN;
    }
    if (!strcmp(cmd, "-V") || !strcmp(cmd, "--version")) {
        printf("chgc %s\n", CHG_VERSION_STRING);
        return EXIT_CLEAN;
    }
    for (size_t i = 0; i < CHG_ARRAY_LEN(commands); i++)
        if (!strcmp(cmd, commands[i].name))
            return commands[i].run(argc - 1, argv + 1);
    chgc_error("unknown command '%s' (see 'chgc --help')", cmd);
    return EXIT_USAGE;
}

/* ---- shared helpers -------------------------------------------------------- */

void chgc_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("chgc: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

int chgc_parse_color(const char *when, FILE *stream)
{
    if (!strcmp(when, "always"))
        return 1;
    if (!strcmp(when, "never"))
        return 0;
    if (!strcmp(when, "auto")) {
        const char *nc = getenv("NO_COLOR");
        if (nc && *nc)
            return 0;
        return isatty(fileno(stream)) ? 1 : 0;
    }
    return -1;
}

int chgc_parse_duration(const char *s, int64_t *out)
{
    int64_t total = 0;
    if (!*s)
        return CHG_EINVAL;
    while (*s) {
        char *end;
        long long v = strtoll(s, &end, 10);
        int64_t unit = 0;
        switch (*end) {
        case 'w': unit = 604800; break;
        case 'd': unit = 86400; break;
        case 'h': unit = 3600; break;
        case 'm': unit = 60; break;
        case 's': unit = 1; break;
        }
        if (end == s || !unit || v < 0 || v > (INT64_MAX / 4) / unit || total > INT64_MAX / 4)
            return CHG_EINVAL;
        total += v * unit;
        s = end + 1;
    }
    *out = total;
    return CHG_OK;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int walk(const char *dir, chg_vec *out, int depth)
{
    if (depth > 64) {
        chgc_error("%s: directories nested too deeply", dir);
        return CHG_EIO;
    }
    DIR *d = opendir(dir);
    if (!d) {
        chgc_error("%s: %s", dir, strerror(errno));
        return CHG_EIO;
    }
    chg_vec names;
    chg_vec_init(&names);
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            chg_vec_push(&names, chg_strdup(e->d_name));
    closedir(d);
    if (names.len)
        qsort(names.items, names.len, sizeof(void *), cmp_str);
    int rc = CHG_OK;
    size_t dl = strlen(dir);
    for (size_t i = 0; i < names.len && rc == CHG_OK; i++) {
        const char *name = names.items[i];
        size_t len = dl + strlen(name) + 2;
        char *path = chg_malloc(len);
        snprintf(path, len, "%s%s%s", dir, dl && dir[dl - 1] == '/' ? "" : "/", name);
        struct stat st;
        if (stat(path, &st) != 0) {
            chg_free(path); /* a dangling link: not ours to report */
            continue;
        }
        if (S_ISDIR(st.st_mode)) {
            rc = walk(path, out, depth + 1);
            chg_free(path);
        } else if (strlen(name) > 4 && !strcmp(name + strlen(name) - 4, ".chg"))
            chg_vec_push(out, path);
        else
            chg_free(path);
    }
    chgc_free_strings(&names);
    return rc;
}

int chgc_collect_files(char **paths, int n, chg_vec *out)
{
    for (int i = 0; i < n; i++) {
        struct stat st;
        if (!strcmp(paths[i], "-")) {
            chg_vec_push(out, chg_strdup("-"));
            continue;
        }
        if (stat(paths[i], &st) != 0) {
            chgc_error("%s: %s", paths[i], strerror(errno));
            return CHG_EIO;
        }
        if (S_ISDIR(st.st_mode)) {
            size_t before = out->len;
            if (walk(paths[i], out, 0) != CHG_OK)
                return CHG_EIO;
            if (out->len == before) {
                chgc_error("%s: no .chg files in this directory", paths[i]);
                return CHG_EIO;
            }
        } else
            chg_vec_push(out, chg_strdup(paths[i]));
    }
    return CHG_OK;
}

void chgc_free_strings(chg_vec *v)
{
    for (size_t i = 0; i < v->len; i++)
        chg_free(v->items[i]);
    chg_vec_free(v);
}

/*
 * bundle_format_md.c — the format section of docs/vm.md, generated from
 * vm/bundle_format.def (through the field table of bundle_format.h).
 *
 *   bundle_format_md                 print the generated part
 *   bundle_format_md --update FILE   replace the generated part of FILE
 *
 * The docs_bundle_format test diffs the part of docs/vm.md between the
 * BEGIN and END lines below against this program's output.
 */
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bundle_format.h"

#define BEGIN "<!-- bundle format: generated from vm/bundle_format.def by tests/docs/bundle_format_md.c -->"
#define END "<!-- bundle format: end of the generated part -->"

static const char *type_name(const chg_field *f)
{
    switch (f->width) {
    case 1: return "u8";
    case 2: return "u16";
    case 4: return f->is_signed ? "i32" : "u32";
    default: return f->is_signed ? "i64" : "u64";
    }
}

/* What the field refers to, as the loader checks it. */
static void refers_to(const chg_field *f, char *buf, size_t len)
{
    const char *sec = chg_sections()[f->target].name;
    switch ((chg_ref)f->ref) {
    case CHG_R_ANY: snprintf(buf, len, "—"); break;
    case CHG_R_ZERO: snprintf(buf, len, "reserved: 0"); break;
    case CHG_R_NUM: snprintf(buf, len, "%lld..%lld", (long long)f->lo, (long long)f->hi); break;
    case CHG_R_IDX:
        if (f->target == CHG_SEC_STRINGS)
            snprintf(buf, len, "string");
        else if (f->target == CHG_SEC_CONSTS)
            snprintf(buf, len, "constant");
        else
            snprintf(buf, len, "`%s` record", sec);
        break;
    case CHG_R_LISTK: snprintf(buf, len, "LIST constant of strings"); break;
    case CHG_R_BLOCK: snprintf(buf, len, "%s block", f->target == CHG_B_LET ? "let" : "expression"); break;
    case CHG_R_SPAN: snprintf(buf, len, "source position"); break;
    case CHG_R_EARLIER: snprintf(buf, len, "earlier record"); break;
    case CHG_R_RUN: snprintf(buf, len, "first of a run of `%s` records (the next field counts them)", sec); break;
    case CHG_R_CSLOT: snprintf(buf, len, "change slot"); break;
    }
}

static void generate(FILE *out)
{
    const chg_section *secs = chg_sections();
    const chg_field *fields = chg_fields();
    fprintf(out, "%s\n\n", BEGIN);
    fprintf(out, "Offsets are bytes within a record. *refers to* is what the loader checks\n"
                 "of the field by itself; NONE *allowed* means the field may hold all ones\n"
                 "(no reference). \"code:\" marks what `vm/bundle.c` checks in code.\n\n");
    fprintf(out, "| id | section | record bytes | one record is |\n| --- | --- | --- | --- |\n");
    for (int s = 1; s < CHG_SEC__MAX; s++)
        fprintf(out, "| %d | [`%s`](#%s) | %u | %s |\n", s, secs[s].name, secs[s].name, secs[s].size, secs[s].doc);
    for (int s = 1; s < CHG_SEC__MAX; s++) {
        const chg_section *sec = &secs[s];
        /* an explicit anchor: headings are lower-cased by renderers */
        fprintf(out, "\n<a id=\"%s\"></a>\n\n#### %s (section %d, %u bytes a record)\n\n%c%s.\n\n", sec->name,
                sec->name, s, sec->size, toupper((unsigned char)sec->doc[0]), sec->doc + 1);
        fprintf(out, "| offset | field | type | refers to | NONE | meaning |\n| --- | --- | --- | --- | --- | --- |\n");
        for (unsigned k = 0; k < sec->nfields; k++) {
            const chg_field *f = &fields[sec->first + k];
            char ref[128];
            refers_to(f, ref, sizeof ref);
            fprintf(out, "| %u | `%s` | %s | %s | %s | %s |\n", f->off, f->name, type_name(f), ref,
                    f->none ? "allowed" : "", f->doc);
        }
    }
    fprintf(out, "\n%s\n", END);
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (cap - n - 1 == 0) {
            char *more = realloc(buf, cap *= 2);
            if (!more)
                free(buf);
            buf = more;
        }
    }
    fclose(f);
    if (buf)
        buf[n] = 0;
    *len = n;
    return buf;
}

/* Replace the lines from BEGIN to END (both included) with the output. */
static int update(const char *path)
{
    size_t len;
    char *text = slurp(path, &len);
    if (!text) {
        perror(path);
        return 2;
    }
    char *b = strstr(text, BEGIN), *e = b ? strstr(b, END) : NULL;
    if (!b || !e) {
        fprintf(stderr, "%s: no generated part (the lines %s and %s)\n", path, BEGIN, END);
        free(text);
        return 2;
    }
    e += strlen(END);
    if (*e == '\n')
        e++;
    FILE *out = fopen(path, "wb");
    if (!out) {
        perror(path);
        free(text);
        return 2;
    }
    fwrite(text, 1, (size_t)(b - text), out);
    generate(out);
    fwrite(e, 1, len - (size_t)(e - text), out);
    free(text);
    return fclose(out) == 0 ? 0 : 2;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--update") == 0)
        return update(argv[2]);
    if (argc != 1) {
        fprintf(stderr, "usage: bundle_format_md [--update docs/vm.md]\n");
        return 2;
    }
    generate(stdout);
    return 0;
}

/*
 * report.c — renders diagnostics: the compiler convention for people
 * (file:line:col: error[E0104]: message, the source line, a ^~~~ underline,
 * notes and help), and JSON, SARIF 2.1.0 and GitHub workflow commands for
 * machines. All formats come from the same sorted, de-duplicated list.
 */
#include "compiler_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One diagnostic to render, with the compilation it came from (spans
 * index that compilation's sources, so the pair is needed to name a
 * file) and its arrival order, the tie-breaker that makes the sort
 * stable: qsort is not, and two diagnostics at one place (an error and
 * its consequence) must keep the order the passes reported them in. */
typedef struct item {
    const chg_compiler *c;
    const chg_diag *d;
    size_t seq;
} item;

/* By path, not file index: indexes are per compilation, paths are what
 * the user sees, and several compilations (one per root given to `chgc
 * check`) are merged into one list. Within a file, by start offset. */
static int item_cmp(const void *pa, const void *pb)
{
    const item *a = pa, *b = pb;
    const chg_source *sa = chg_compiler_source(a->c, a->d->span.file);
    const chg_source *sb = chg_compiler_source(b->c, b->d->span.file);
    int r = strcmp(sa->path, sb->path);
    if (r)
        return r;
    if (a->d->span.start != b->d->span.start)
        return a->d->span.start < b->d->span.start ? -1 : 1;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* Duplicates are exact: same place, same code, same text. Two roots
 * importing one file each check it and report its errors; after the sort
 * these copies are adjacent, so one pass over the sorted list removes
 * them. Notes and help are not compared: they come from the same code on
 * the same input, so they are equal whenever the rest is. */
static bool same_diag(const item *a, const item *b)
{
    const chg_source *sa = chg_compiler_source(a->c, a->d->span.file);
    const chg_source *sb = chg_compiler_source(b->c, b->d->span.file);
    return strcmp(sa->path, sb->path) == 0 && a->d->span.start == b->d->span.start &&
           a->d->span.end == b->d->span.end && a->d->id == b->d->id &&
           strcmp(a->d->message, b->d->message) == 0;
}

/* Collect, sort by file and place, and drop repeats (a file imported by
 * two roots is checked twice). The "too many errors" marker stays last. */
/*
 * E0014 is pulled out before sorting and appended after de-duplication,
 * wherever its span points: "too many errors; stopping" is about the
 * list, not a place, and in the middle of it would read as if the errors
 * below it were extra. With several compilations only the last E0014
 * seen is kept, which is enough to say the list is truncated. Returns
 * NULL with *count 0 when out of memory; the renderers then print an
 * empty report, and the caller has the status from the compilation.
 */
static item *collect(chg_compiler *const *cs, size_t n, size_t *count)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += chg_compiler_ndiags(cs[i]);
    item *items = chg_calloc(total ? total : 1, sizeof *items);
    if (!items) {
        *count = 0;
        return NULL;
    }
    size_t k = 0;
    item limit = {0};
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < chg_compiler_ndiags(cs[i]); j++) {
            item it = {cs[i], chg_compiler_diag(cs[i], j), k};
            if (it.d->id == CHG_D_E0014)
                limit = it;
            else
                items[k++] = it;
        }
    qsort(items, k, sizeof *items, item_cmp);
    size_t w = 0;
    for (size_t r = 0; r < k; r++)
        if (w == 0 || !same_diag(&items[w - 1], &items[r]))
            items[w++] = items[r];
    if (limit.d)
        items[w++] = limit;
    *count = w;
    return items;
}

/* --werror changes only how a warning is shown and counted here; the
 * compilation's own counts are untouched, so `chgc check` decides the exit
 * status from the same flag rather than from the rendering. */
static chg_severity shown_severity(const chg_report *r, const chg_diag *d)
{
    return r->werror && d->severity == CHG_WARNING ? CHG_ERROR : d->severity;
}

static const char *sev_name(chg_severity s)
{
    return s == CHG_ERROR ? "error" : s == CHG_WARNING ? "warning" : "note";
}

/* ---- text -------------------------------------------------------------- */

#define C_RESET "\033[0m"
#define C_BOLD "\033[1m"
#define C_RED "\033[1;31m"
#define C_YELLOW "\033[1;33m"
#define C_CYAN "\033[1;36m"
#define C_BLUE "\033[1;34m"
#define C_GREEN "\033[1;32m"

static const char *col(const chg_report *r, const char *code) { return r->color ? code : ""; }

/* Append the source line holding span.start with an underline below it.
 * Long lines are shown as a window around the span; control characters,
 * bidirectional overrides and invalid UTF-8 are shown escaped, as every
 * quote of user text is (chg_visible_char), so the terminal is not
 * disturbed and the line reads as the compiler reads it. */
/*
 * Only the first line of a multi-line span is shown, underlined to its
 * end: the caret marks where, the message says what, and a ten-line
 * excerpt would bury the next diagnostic. The underline is built from
 * the same characters as the text, a tab for a tab, one mark per code
 * point and one per column of an escape, so it lines up in any terminal
 * whatever the tab width.
 *
 * The window for lines over 200 bytes starts 60 bytes before the span and
 * is 160 wide, moved outwards to code point boundaries so a multi-byte
 * character is never cut (cutting one would itself print as U+FFFD).
 * Minified or generated files have such lines; without the window one
 * diagnostic could print megabytes.
 */
static void snippet(const chg_report *r, chg_buf *out, const chg_source *src, chg_span s,
                    const char *colour)
{
    if (!src || !src->nlines || s.start > src->len)
        return;
    uint32_t line, c;
    chg_source_position(src, s.start, &line, &c);
    uint32_t ls = src->lines[line - 1];
    uint32_t le = ls;
    while (le < src->len && src->text[le] != '\n')
        le++;
    uint32_t he = le; /* end of the line without \r */
    if (he > ls && src->text[he - 1] == '\r')
        he--;
    uint32_t us = s.start, ue = s.end > he ? he : s.end;
    if (ue < us)
        ue = us;

    /* window for long lines */
    uint32_t ws = ls, we = he;
    bool pre = false, post = false;
    if (he - ls > 200) {
        ws = us > ls + 60 ? us - 60 : ls;
        we = ws + 160 < he ? ws + 160 : he;
        if (ue > we)
            ue = we;
        while (ws > ls && (src->text[ws] & 0xc0) == 0x80)
            ws--;
        while (we < he && (src->text[we] & 0xc0) == 0x80)
            we++;
        pre = ws > ls;
        post = we < he;
    }

    chg_buf text, marks;
    chg_buf_init(&text);
    chg_buf_init(&marks);
    if (pre) {
        chg_buf_puts(&text, "...");
        chg_buf_puts(&marks, "   ");
    }
    const unsigned char *t = (const unsigned char *)src->text;
    bool first = true;
    uint32_t i = ws;
    while (i < we) {
        size_t shown;
        size_t l = chg_visible_char(&text, t + i, we - i, true, &shown);
        size_t w = shown ? shown : 1;
        for (size_t k = 0; k < w; k++) {
            if (i >= us && i < ue) {
                chg_buf_putc(&marks, first ? '^' : '~');
                first = false;
            } else if (i < us)
                chg_buf_putc(&marks, t[i] == '\t' ? '\t' : ' ');
        }
        i += (uint32_t)l;
    }
    if (first) /* empty span, or at the end of the line */
        chg_buf_putc(&marks, '^');
    if (post)
        chg_buf_puts(&text, "...");

    chg_buf_printf(out, "%s%5u |%s %s\n", col(r, C_BLUE), line, col(r, C_RESET),
                   text.data ? text.data : "");
    chg_buf_printf(out, "%s      |%s %s%s%s\n", col(r, C_BLUE), col(r, C_RESET), colour,
                   marks.data ? marks.data : "", col(r, C_RESET));
    chg_buf_free(&text);
    chg_buf_free(&marks);
}

/* file:line:col with a 1-based column in code points, the convention
 * editors and terminals use to jump to a position. */
static void place(chg_buf *out, const chg_compiler *c, chg_span s)
{
    const chg_source *src = chg_compiler_source(c, s.file);
    uint32_t line, column;
    chg_source_position(src, s.start, &line, &column);
    chg_buf_puts_visible(out, src->path); /* a file name is user text too */
    chg_buf_printf(out, ":%u:%u", line, column);
}

/* A diagnostic without a file (span.file 0: the error limit, a whole
 * compilation) has no place prefix and no excerpt; a note without a file
 * is an "= note:" line under the message, the form for facts that have
 * no position ("for change.a.b", "argument 2 of f"). */
static void render_text(const chg_report *r, item *items, size_t n, chg_buf *out)
{
    size_t errors = 0, warnings = 0;
    for (size_t i = 0; i < n; i++) {
        const chg_diag *d = items[i].d;
        const chg_compiler *c = items[i].c;
        const chg_source *src = chg_compiler_source(c, d->span.file);
        chg_severity sev = shown_severity(r, d);
        const char *sc = sev == CHG_ERROR ? C_RED : sev == CHG_WARNING ? C_YELLOW : C_CYAN;
        if (sev == CHG_ERROR)
            errors++;
        else if (sev == CHG_WARNING)
            warnings++;
        chg_buf_puts(out, col(r, C_BOLD));
        if (d->span.file) {
            place(out, c, d->span);
            chg_buf_puts(out, ": ");
        }
        chg_buf_printf(out, "%s%s[%s]%s%s: %s%s\n", col(r, sc), sev_name(sev),
                       chg_diag_table[d->id].code, col(r, C_RESET), col(r, C_BOLD), d->message,
                       col(r, C_RESET));
        if (d->span.file && src->len)
            snippet(r, out, src, d->span, col(r, sc));
        for (int k = 0; k < d->nnotes; k++) {
            const chg_note *nt = &d->notes[k];
            if (nt->span.file) {
                chg_buf_puts(out, col(r, C_BOLD));
                place(out, c, nt->span);
                chg_buf_printf(out, ": %snote%s: %s\n", col(r, C_CYAN), col(r, C_RESET),
                               nt->message);
                snippet(r, out, chg_compiler_source(c, nt->span.file), nt->span, col(r, C_CYAN));
            } else
                chg_buf_printf(out, "      %s=%s note: %s\n", col(r, C_BLUE), col(r, C_RESET),
                               nt->message);
        }
        if (d->help)
            chg_buf_printf(out, "      %s=%s %shelp%s: %s\n", col(r, C_BLUE), col(r, C_RESET),
                           col(r, C_GREEN), col(r, C_RESET), d->help);
    }
    size_t notes = n - errors - warnings;
    if (r->summary && (errors || warnings || notes)) {
        const char *sep = "";
        if (errors) {
            chg_buf_printf(out, "%zu error%s", errors, errors == 1 ? "" : "s");
            sep = ", ";
        }
        if (warnings) {
            chg_buf_printf(out, "%s%zu warning%s", sep, warnings, warnings == 1 ? "" : "s");
            sep = ", ";
        }
        if (notes)
            chg_buf_printf(out, "%s%zu note%s", sep, notes, notes == 1 ? "" : "s");
        chg_buf_putc(out, '\n');
    }
}

/* ---- JSON ----------------------------------------------------------------- */

static void json_str(chg_buf *b, const char *s) { chg_buf_json_string(b, s, strlen(s)); }

/* A span's source and the line and column of its two ends. */
static const chg_source *span_place(const chg_compiler *c, chg_span s, uint32_t *l1, uint32_t *c1, uint32_t *l2,
                                    uint32_t *c2)
{
    const chg_source *src = chg_compiler_source(c, s.file);
    chg_source_position(src, s.start, l1, c1);
    chg_source_position(src, s.end, l2, c2);
    return src;
}

/* Start and end positions as line and column (code points), both
 * 1-based, the end exclusive: consumers should not need the source to
 * place the range. */
static void json_place(chg_buf *out, const chg_compiler *c, chg_span s)
{
    uint32_t l1, c1, l2, c2;
    const chg_source *src = span_place(c, s, &l1, &c1, &l2, &c2);
    chg_buf_puts(out, "\"file\":");
    json_str(out, src->path);
    chg_buf_printf(out, ",\"line\":%u,\"column\":%u,\"end_line\":%u,\"end_column\":%u", l1, c1,
                   l2, c2);
}

/* One object per line inside the array, so the output is valid JSON and
 * still greps; the counts at the end are those of the rendered (sorted,
 * de-duplicated, --werror applied) list, not the compilation's. */
static void render_json(const chg_report *r, item *items, size_t n, chg_buf *out)
{
    size_t errors = 0, warnings = 0;
    chg_buf_puts(out, "{\"diagnostics\":[");
    for (size_t i = 0; i < n; i++) {
        const chg_diag *d = items[i].d;
        chg_severity sev = shown_severity(r, d);
        errors += sev == CHG_ERROR;
        warnings += sev == CHG_WARNING;
        chg_buf_puts(out, i ? ",\n{" : "\n{");
        if (d->span.file) {
            json_place(out, items[i].c, d->span);
            chg_buf_putc(out, ',');
        }
        chg_buf_printf(out, "\"severity\":\"%s\",\"code\":\"%s\",\"message\":", sev_name(sev),
                       chg_diag_table[d->id].code);
        json_str(out, d->message);
        chg_buf_puts(out, ",\"notes\":[");
        for (int k = 0; k < d->nnotes; k++) {
            chg_buf_puts(out, k ? ",{" : "{");
            if (d->notes[k].span.file) {
                json_place(out, items[i].c, d->notes[k].span);
                chg_buf_putc(out, ',');
            }
            chg_buf_puts(out, "\"message\":");
            json_str(out, d->notes[k].message);
            chg_buf_putc(out, '}');
        }
        chg_buf_puts(out, "],\"help\":");
        if (d->help)
            json_str(out, d->help);
        else
            chg_buf_puts(out, "null");
        chg_buf_putc(out, '}');
    }
    chg_buf_printf(out, "%s],\"errors\":%zu,\"warnings\":%zu}\n", n ? "\n" : "", errors,
                   warnings);
}

/* ---- SARIF 2.1.0 ------------------------------------------------------------ */

/* SARIF regions may not be empty: an empty span (an insertion point,
 * such as "expected ';' here") gets a one-column region, or viewers drop
 * the result. Columns are code points, matching the run's columnKind. */
static void sarif_region(chg_buf *out, const chg_compiler *c, chg_span s)
{
    uint32_t l1, c1, l2, c2;
    const chg_source *src = span_place(c, s, &l1, &c1, &l2, &c2);
    chg_buf_puts(out, "\"physicalLocation\":{\"artifactLocation\":{\"uri\":");
    json_str(out, src->path);
    chg_buf_printf(out,
                   "},\"region\":{\"startLine\":%u,\"startColumn\":%u,\"endLine\":%u,"
                   "\"endColumn\":%u}}",
                   l1, c1, l2, c2 > c1 || l2 > l1 ? c2 : c1 + 1);
}

/* The anchor GitHub gives the heading "### CODE: title" of
 * docs/errors.md: lower case, spaces to hyphens, punctuation other than
 * '-' and '_' dropped ("E0307: a file outside the policy's directories"
 * is #e0307-a-file-outside-the-policys-directories). Titles are ASCII
 * (the docs test checks), so no Unicode rule is needed. */
static const char *anchor(const chg_diag_info *in, char *buf, size_t len)
{
    char head[160];
    snprintf(head, sizeof head, "%s: %s", in->code, in->title);
    size_t k = 0;
    for (const char *p = head; *p && k + 1 < len; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch == ' ')
            buf[k++] = '-';
        else if (isalnum(ch) || ch == '-' || ch == '_')
            buf[k++] = (char)tolower(ch);
    }
    buf[k] = 0;
    return buf;
}

/* A message template for a reader: each %s (an argument) as "…". */
static const char *template_text(const char *t, char *buf, size_t len)
{
    size_t k = 0;
    for (const char *p = t; *p && k + 4 < len; p++) {
        if (p[0] == '%' && p[1] == 's') {
            memcpy(buf + k, "\xE2\x80\xA6", 3);
            k += 3;
            p++;
        } else
            buf[k++] = *p;
    }
    buf[k] = 0;
    return buf;
}

/* The whole diagnostic table is listed as rules, in id order, so each
 * result's ruleIndex is simply its id. SARIF has no place for a help
 * line, so it joins the message; notes with a position become
 * relatedLocations and notes without one are dropped (they would have no
 * anchor in a code-scanning view). */
static void render_sarif(const chg_report *r, item *items, size_t n, chg_buf *out)
{
    char tmp[512], slug[160];
    chg_buf_puts(out, "{\"$schema\":\"https://json.schemastore.org/sarif-2.1.0.json\","
                      "\"version\":\"2.1.0\",\"runs\":[{\"tool\":{\"driver\":{"
                      "\"name\":\"chgc\",\"version\":\"" CHG_VERSION_STRING "\","
                      "\"informationUri\":\"https://github.com/chg-policy/chg/blob/main/docs/errors.md\","
                      "\"rules\":[");
    for (size_t i = 0; i < CHG_D__COUNT; i++) {
        const chg_diag_info *in = &chg_diag_table[i];
        chg_buf_printf(out, "%s{\"id\":\"%s\",\"name\":\"%s\",\"shortDescription\":{\"text\":",
                       i ? "," : "", in->code, in->name);
        json_str(out, in->title);
        chg_buf_puts(out, "},\"fullDescription\":{\"text\":");
        json_str(out, template_text(in->message, tmp, sizeof tmp));
        chg_buf_printf(out, "},\"helpUri\":\"https://github.com/chg-policy/chg/blob/main/docs/errors.md#%s\","
                            "\"defaultConfiguration\":{\"level\":\"%s\"}}",
                       anchor(in, slug, sizeof slug), sev_name(in->severity));
    }
    chg_buf_puts(out, "]}},\"columnKind\":\"unicodeCodePoints\",\"results\":[");
    for (size_t i = 0; i < n; i++) {
        const chg_diag *d = items[i].d;
        chg_buf_printf(out, "%s{\"ruleId\":\"%s\",\"ruleIndex\":%d,\"level\":\"%s\",\"message\":{\"text\":",
                       i ? ",\n" : "\n", chg_diag_table[d->id].code, (int)d->id,
                       sev_name(shown_severity(r, d)));
        if (d->help) {
            chg_buf b;
            chg_buf_init(&b);
            chg_buf_printf(&b, "%s (help: %s)", d->message, d->help);
            json_str(out, b.data);
            chg_buf_free(&b);
        } else
            json_str(out, d->message);
        chg_buf_puts(out, "},\"locations\":[");
        if (d->span.file) {
            chg_buf_putc(out, '{');
            sarif_region(out, items[i].c, d->span);
            chg_buf_putc(out, '}');
        }
        chg_buf_puts(out, "]");
        int related = 0;
        for (int k = 0; k < d->nnotes; k++) {
            if (!d->notes[k].span.file)
                continue;
            chg_buf_puts(out, related++ ? "," : ",\"relatedLocations\":[");
            chg_buf_putc(out, '{');
            sarif_region(out, items[i].c, d->notes[k].span);
            chg_buf_printf(out, ",\"id\":%d,\"message\":{\"text\":", related);
            json_str(out, d->notes[k].message);
            chg_buf_puts(out, "}}");
        }
        if (related)
            chg_buf_putc(out, ']');
        chg_buf_putc(out, '}');
    }
    chg_buf_printf(out, "%s]}]}\n", n ? "\n" : "");
}

/* ---- GitHub workflow commands ------------------------------------------------- */

/* GitHub's workflow command escaping: % and newlines everywhere (a
 * message is one line of the log), and also ':' and ',' in properties,
 * which separate them. Without it a path containing a comma would cut
 * the annotation's file= property short. */
static void gh_escape(chg_buf *out, const char *s, bool property)
{
    for (; *s; s++) {
        if (*s == '%')
            chg_buf_puts(out, "%25");
        else if (*s == '\r')
            chg_buf_puts(out, "%0D");
        else if (*s == '\n')
            chg_buf_puts(out, "%0A");
        else if (property && *s == ':')
            chg_buf_puts(out, "%3A");
        else if (property && *s == ',')
            chg_buf_puts(out, "%2C");
        else
            chg_buf_putc(out, *s);
    }
}

static void render_github(const chg_report *r, item *items, size_t n, chg_buf *out)
{
    for (size_t i = 0; i < n; i++) {
        const chg_diag *d = items[i].d;
        chg_severity sev = shown_severity(r, d);
        chg_buf_printf(out, "::%s ", sev == CHG_ERROR ? "error" : sev == CHG_WARNING ? "warning" : "notice");
        if (d->span.file) {
            const chg_source *src = chg_compiler_source(items[i].c, d->span.file);
            uint32_t l1, c1, l2, c2;
            chg_source_position(src, d->span.start, &l1, &c1);
            chg_source_position(src, d->span.end, &l2, &c2);
            chg_buf_puts(out, "file=");
            chg_buf path; /* visible first: gh_escape leaves ESC and bidi marks raw */
            chg_buf_init(&path);
            chg_buf_puts_visible(&path, src->path);
            gh_escape(out, path.data ? path.data : "", true);
            out->oom |= path.oom;
            chg_buf_free(&path);
            chg_buf_printf(out, ",line=%u,col=%u,endLine=%u,endColumn=%u,", l1, c1, l2, c2);
        }
        chg_buf_printf(out, "title=%s::", chg_diag_table[d->id].code);
        gh_escape(out, d->message, false);
        if (d->help) {
            chg_buf_puts(out, "%0Ahelp: ");
            gh_escape(out, d->help, false);
        }
        chg_buf_putc(out, '\n');
    }
}

/* Renders every compilation's diagnostics as one list. Rendering never
 * fails: out of memory it writes what it can (chg_buf remembers its
 * failure), and the caller sees that on out. */
void chg_report_render(const chg_report *r, chg_compiler *const *cs, size_t n, chg_buf *out)
{
    size_t count;
    item *items = collect(cs, n, &count);
    switch (r->format) {
    case CHG_REPORT_TEXT: render_text(r, items, count, out); break;
    case CHG_REPORT_JSON: render_json(r, items, count, out); break;
    case CHG_REPORT_SARIF: render_sarif(r, items, count, out); break;
    case CHG_REPORT_GITHUB: render_github(r, items, count, out); break;
    }
    chg_free(items);
}

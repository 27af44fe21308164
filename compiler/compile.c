/*
 * compile.c — drives a compilation: parse the roots, follow imports
 * (relative to the importing file; cycles reported with their chain), then
 * resolve names, type-check, lint and analyse time.
 *
 * The passes and what each hands the next:
 *   parse      one chg_file per source, depth-bounded trees (parse.c)
 *   imports    every imported file parsed once (by realpath), each import
 *              declaration's target set, cycles reported, and the
 *              reachability matrix that visibility is checked against
 *   resolve    all declarations in one list, in import order, the
 *              namespaces and the singletons (resolve.c)
 *   typecheck  names resolved, types, narrowing, approvals' schema (check.c)
 *   lint       warnings, only on a program without errors (lint.c)
 *   time       the time analysis, the same condition and opts.analysis_from
 *              (timesets.c)
 *   codegen    the bundle, on a program without errors, kept for
 *              chg_compiler_emit; the limits of the format (codegen.c)
 * Every pass reports through diagnostics and returns CHG_OK or CHG_ENOMEM,
 * so a failure at any point stops the rest and the result is CHG_ENOMEM.
 * After the error limit (E0014) the remaining passes are skipped: what
 * they would add is mostly noise about what the errors broke.
 */
#include "compiler_int.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Directory part of path ("" for a bare name), arena-allocated. */
static const char *dir_of(chg_compiler *c, const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return "";
    const char *d = chg_arena_strndup(&c->arena, path, (size_t)(slash - path + 1));
    return d ? d : ""; /* the arena remembers the failure */
}

/* Lexically normalise a path: drop "." segments and fold "dir/.." (a
 * leading ".." stays). Only for naming files in diagnostics (imports, and
 * roots: "./p.chg" from `chgc check .` and "p.chg" imported by a test
 * beside it are one name, so their diagnostics are one); the file is
 * found next to its importer's real file (load_import). */
const char *chg_c_normalize_path(chg_compiler *c, const char *path)
{
    size_t n = strlen(path);
    char *out = chg_arena_alloc(&c->arena, n + 1);
    size_t *segs = chg_arena_alloc(&c->arena, sizeof(size_t) * (n + 1));
    if (!out || !segs)
        return path; /* the arena remembers the failure */
    size_t len = 0, nseg = 0;
    bool abs = path[0] == '/';
    if (abs)
        out[len++] = '/';
    const char *p = path;
    while (*p) {
        while (*p == '/')
            p++;
        const char *e = p;
        while (*e && *e != '/')
            e++;
        size_t sl = (size_t)(e - p);
        if (sl == 0)
            break;
        if (sl == 1 && p[0] == '.') {
            /* skip */
        } else if (sl == 2 && p[0] == '.' && p[1] == '.' && nseg > 0 &&
                   !(len - segs[nseg - 1] == 2 && out[segs[nseg - 1]] == '.' && out[segs[nseg - 1] + 1] == '.')) {
            len = segs[--nseg];
            if (len > (size_t)abs)
                len--; /* the slash before the segment */
        } else {
            if (len > (size_t)abs)
                out[len++] = '/';
            segs[nseg++] = len;
            memcpy(out + len, p, sl);
            len += sl;
        }
        p = e;
    }
    out[len] = 0;
    return len ? out : ".";
}

/* Load the file an import names; returns its source index or 0 after
 * reporting why it could not be loaded. */
static uint32_t load_import(chg_compiler *c, chg_decl *imp)
{
    const chg_source *from = c->sources.items[imp->file];
    const char *rel = imp->name.name;
    if (c->opts.no_files) {
        chg_c_diag_report(c, CHG_D_E0301, imp->name.span, rel, "reading files is disabled", NULL);
        return 0;
    }
    /* `path` is what messages show (relative to how the importer was
     * named); `at` is where the file is looked for: next to the importer's
     * real file, so `..` through a symbolic link leads where the importer
     * really is, not where its name suggests. */
    const char *path = rel[0] == '/' ? rel : chg_arena_printf(&c->arena, "%s%s", dir_of(c, from->path), rel);
    const char *at = rel[0] == '/' || !from->real ? path
                                                  : chg_arena_printf(&c->arena, "%s%s", dir_of(c, from->real), rel);
    if (!path || !at) {
        chg_c_nomem(c);
        return 0;
    }
    struct stat st;
    if (stat(at, &st) == 0 && S_ISDIR(st.st_mode)) {
        chg_c_diag_report(c, CHG_D_E0303, imp->name.span, rel, NULL);
        return 0;
    }
    char real[PATH_MAX];
    if (!realpath(at, real)) {
        const char *why = strerror(errno); /* before any other call */
        chg_diag *d = chg_c_diag_report(c, CHG_D_E0301, imp->name.span, rel, why, NULL);
        chg_c_diag_note(c, d, (chg_span){0}, "imports are found relative to the importing file: looked for '%s'",
                      chg_c_normalize_path(c, path));
        return 0;
    }
    if (!chg_c_path_allowed(c, real, rel, imp->name.span))
        return 0;
    uintptr_t known = (uintptr_t)chg_c_map_get(&c->source_by_path, real);
    if (known)
        return (uint32_t)known;
    char *text;
    size_t len;
    int rc = chg_read_file_max(real, &text, &len, c->opts.max_file_size);
    if (rc == CHG_ENOMEM) {
        chg_c_nomem(c);
        return 0;
    }
    if (rc != CHG_OK) {
        const char *why = rc == CHG_EIO ? strerror(errno) /* before any other call */
                          : rc == CHG_ENOTREG ? "it is not a regular file"
                          : rc == CHG_ERANGE ? "it is larger than the limit" : chg_strerror(rc);
        chg_c_diag_report(c, CHG_D_E0301, imp->name.span, rel, why, NULL);
        return 0;
    }
    uint32_t idx = chg_c_add_text(c, chg_c_normalize_path(c, path), text, len);
    chg_free(text);
    char *key = idx ? chg_arena_strdup(&c->arena, real) : NULL;
    if (!key || chg_c_map_put(&c->source_by_path, key, (void *)(uintptr_t)idx) != CHG_OK)
        chg_c_nomem(c); /* an import not loaded, or loaded twice */
    else
        ((chg_source *)c->sources.items[idx])->real = key;
    return idx;
}

/* Depth-first over imports: colour 1 = on the current path, 2 = done. A
 * back edge is a cycle; report it at the import that closes it, with the
 * chain of files. */
static void find_cycles(chg_compiler *c, uint32_t f, uint8_t *colour, uint32_t *stack, size_t depth)
{
    colour[f] = 1;
    stack[depth] = f;
    chg_file *file = c->files.items[f];
    for (uint32_t i = 0; file && i < file->ndecls; i++) {
        chg_decl *d = file->decls[i];
        if (d->kind != D_IMPORT || !d->u.import.target)
            continue;
        uint32_t t = d->u.import.target;
        if (colour[t] == 1) {
            chg_buf b;
            chg_buf_init(&b);
            size_t k = depth;
            while (stack[k] != t)
                k--;
            for (; k <= depth; k++) {
                chg_buf_puts(&b, ((chg_source *)c->sources.items[stack[k]])->path);
                chg_buf_puts(&b, " -> ");
            }
            chg_buf_puts(&b, ((chg_source *)c->sources.items[t])->path);
            if (b.oom)
                chg_c_nomem(c);
            chg_diag *dg = chg_c_diag_report(c, CHG_D_E0302, d->name.span, b.data, NULL);
            chg_c_diag_help(c, dg, "move what both files need into a third file that both import");
            chg_buf_free(&b);
            d->u.import.target = 0; /* break it so later passes terminate */
        } else if (colour[t] == 0)
            find_cycles(c, t, colour, stack, depth + 1);
    }
    colour[f] = 2;
}

/* Which files each file can see: itself and what it imports, transitively.
 * One depth-first walk from each file over the import edges, into a bit
 * matrix: O(files × (files + imports)) time and files² bits, where the old
 * fixpoint over a byte matrix was cubic in the number of files. */
static void compute_reach(chg_compiler *c)
{
    size_t n = c->sources.len, words = (n + 63) / 64;
    c->reach_n = n;
    c->reach_words = words;
    c->reach = chg_calloc(n * words + 1, sizeof *c->reach);
    uint32_t *stack = chg_calloc(n + 1, sizeof *stack);
    if (!c->reach || !stack) {
        chg_free(stack);
        chg_c_nomem(c); /* without it every name would be visible */
        return;
    }
    for (size_t i = 1; i < n; i++) {
        uint64_t *row = c->reach + i * words;
        size_t top = 0;
        row[i / 64] |= 1ULL << (i % 64);
        stack[top++] = (uint32_t)i;
        while (top) {
            chg_file *f = c->files.items[stack[--top]];
            for (uint32_t k = 0; f && k < f->ndecls; k++) {
                chg_decl *d = f->decls[k];
                size_t t = d->kind == D_IMPORT ? d->u.import.target : 0;
                if (!t || (row[t / 64] >> (t % 64)) & 1)
                    continue;
                row[t / 64] |= 1ULL << (t % 64);
                stack[top++] = (uint32_t)t; /* each file pushed once: top < n */
            }
        }
    }
    chg_free(stack);
}

/* Parse source f unless it was; CHG_OK or CHG_ENOMEM. */
static int parse_once(chg_compiler *c, uint32_t f)
{
    if (c->files.items[f])
        return CHG_OK;
    chg_file *file;
    int rc = chg_c_parse(c, f, &file);
    c->files.items[f] = file;
    return rc;
}

/* The passes, in order; stops at the first that runs out of memory, as
 * what it left out would make the later ones report nonsense. */
static int check(chg_compiler *c)
{
    /* Parse every root, then every file reached by imports (the source list
     * grows as imports are loaded). */
    for (size_t i = 0; i < c->roots.len; i++)
        if (parse_once(c, (uint32_t)(uintptr_t)c->roots.items[i]) != CHG_OK)
            return CHG_ENOMEM;
    for (size_t f = 1; f < c->files.len; f++) {
        chg_file *file = c->files.items[f];
        for (uint32_t i = 0; file && i < file->ndecls; i++) {
            chg_decl *d = file->decls[i];
            if (d->kind != D_IMPORT || d->name.bad)
                continue;
            uint32_t t = load_import(c, d);
            d->u.import.target = t;
            if (t && parse_once(c, t) != CHG_OK)
                return CHG_ENOMEM;
        }
    }
    if (chg_c_status(c) != CHG_OK)
        return CHG_ENOMEM;
    /* without the search for cycles later passes would loop on one */
    size_t n = c->sources.len;
    uint8_t *colour = chg_calloc(n, 1);
    uint32_t *stack = chg_calloc(n + 1, sizeof *stack);
    if (colour && stack)
        for (size_t i = 0; i < c->roots.len; i++) {
            uint32_t r = (uint32_t)(uintptr_t)c->roots.items[i];
            if (!colour[r])
                find_cycles(c, r, colour, stack, 0);
        }
    else
        chg_c_nomem(c);
    chg_free(colour);
    chg_free(stack);
    compute_reach(c);
    if (chg_c_status(c) != CHG_OK)
        return CHG_ENOMEM;

    if (!c->error_limit_hit && chg_c_resolve(c) != CHG_OK)
        return CHG_ENOMEM;
    if (!c->error_limit_hit && chg_c_typecheck(c) != CHG_OK)
        return CHG_ENOMEM;
    /* Lints after an error would mostly report what the error hid (a let
     * "unused" because the rule using it did not check). */
    if (!c->error_limit_hit && c->opts.lints && c->nerrors == 0) {
        if (chg_c_lint(c) != CHG_OK || chg_c_time_analysis(c) != CHG_OK)
            return CHG_ENOMEM;
    }
    /* The code generator runs as the last pass of the check, so what
     * `chgc check` passes is what `chgc build` builds: every limit of the
     * bundle format and the loader is reported here, with its place. */
    if (!c->error_limit_hit && c->nerrors == 0) {
        int rc = chg_c_codegen(c);
        if (rc == CHG_ENOMEM)
            return CHG_ENOMEM;
        if (rc != CHG_OK)
            c->internal = true;
    }
    return CHG_OK;
}

int chg_compiler_check(chg_compiler *c)
{
    /* A diagnostic that could not be recorded must not read as "no
     * errors": any allocation failure makes the result CHG_ENOMEM. */
    if (check(c) != CHG_OK || chg_c_status(c) != CHG_OK)
        return chg_c_nomem(c);
    if (c->internal)
        return CHG_EINTERNAL;
    return c->nerrors ? CHG_EINVAL : CHG_OK;
}

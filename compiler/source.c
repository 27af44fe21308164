/*
 * source.c — the compiler object and its sources: creating and freeing a
 * compilation, adding files, line tables and positions, and the string map
 * the passes use for symbol tables.
 */
#include "compiler_int.h"
#include "chg_time.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- string map ------------------------------------------------------------- */

/* FNV-1a: short keys (identifiers, paths), no need for a keyed hash,
 * since a policy author colliding names on purpose only slows their own
 * compilation. The full hash is stored in each entry so probing compares
 * strings only on a hash match. */
uint64_t chg_c_hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h;
}

void chg_c_map_free(chg_map *m)
{
    chg_free(m->e);
    memset(m, 0, sizeof *m);
}

/* Open addressing with linear probing in a power-of-two table. The loop
 * ends because the load factor is kept at most 3/4 (chg_c_map_put), so
 * an empty slot always exists. Returns the key's slot or the empty one
 * where it would go. There is no deletion: the passes only ever add
 * names, which is what keeps linear probing this simple. */
static chg_map_entry *map_slot(chg_map_entry *e, size_t cap, const char *key, uint64_t h)
{
    size_t i = (size_t)h & (cap - 1);
    for (;;) {
        if (!e[i].key || (e[i].hash == h && strcmp(e[i].key, key) == 0))
            return &e[i];
        i = (i + 1) & (cap - 1);
    }
}

void *chg_c_map_get(const chg_map *m, const char *key)
{
    if (!m->cap)
        return NULL;
    chg_map_entry *s = map_slot(m->e, m->cap, key, chg_c_hash_str(key));
    return s->key ? s->value : NULL;
}

/* The map does not copy keys: they must outlive it, which the arena
 * guarantees for names from the AST. Putting an existing key replaces its
 * value; the resolver looks up before putting, since a duplicate is an
 * error to report, not an update. Growth rehashes from the stored
 * hashes, without rehashing strings. On allocation failure the map is
 * unchanged. */
int chg_c_map_put(chg_map *m, const char *key, void *value)
{
    if ((m->len + 1) * 4 > m->cap * 3) {
        size_t cap = m->cap ? m->cap * 2 : 16;
        chg_map_entry *e = chg_calloc(cap, sizeof *e);
        if (!e)
            return CHG_ENOMEM;
        for (size_t i = 0; i < m->cap; i++)
            if (m->e[i].key)
                *map_slot(e, cap, m->e[i].key, m->e[i].hash) = m->e[i];
        chg_free(m->e);
        m->e = e;
        m->cap = cap;
    }
    uint64_t h = chg_c_hash_str(key);
    chg_map_entry *s = map_slot(m->e, m->cap, key, h);
    if (!s->key) {
        s->key = key;
        s->hash = h;
        m->len++;
    }
    s->value = value;
    return CHG_OK;
}

/* ---- compiler lifetime ----------------------------------------------------------- */

/*
 * A zero option means "the default", so callers can pass a partly
 * filled struct. `lints` is the exception: it is copied as given, since
 * false is a meaningful choice; callers that want lints set it. The
 * compilation owns an arena for everything the passes build and plain
 * heap blocks only for source texts and line tables (freed one by one in
 * chg_compiler_free) and for the tables that grow (vectors, maps).
 */
chg_compiler *chg_compiler_new(const chg_compile_options *opts)
{
    chg_compiler *c = chg_calloc(1, sizeof *c);
    if (!c)
        return NULL;
    chg_arena_init(&c->arena);
    c->opts.max_errors = CHG_DEFAULT_MAX_ERRORS;
    c->opts.max_file_size = CHG_DEFAULT_MAX_FILE;
    c->opts.lints = true;
    if (opts) {
        if (opts->max_errors)
            c->opts.max_errors = opts->max_errors;
        /* Never above INT_MAX: flex scans a buffer whose length is an int
         * (and spans are 32-bit), so a larger file could not be scanned
         * correctly; it is refused as too large instead (E0012). */
        if (opts->max_file_size)
            c->opts.max_file_size = opts->max_file_size < (size_t)INT_MAX - 2 ? opts->max_file_size
                                                                              : (size_t)INT_MAX - 2;
        c->opts.lints = opts->lints;
        c->opts.no_files = opts->no_files;
        c->opts.analysis_from = opts->analysis_from;
        c->opts.horizon = opts->horizon;
        c->opts.allow_paths = opts->allow_paths;
        c->opts.nallow_paths = opts->nallow_paths;
    }
    /* source 0 is "no source" so that a zero span means "nowhere" */
    chg_source *none = chg_arena_alloc(&c->arena, sizeof *none);
    if (!none || chg_vec_push(&c->sources, none) != CHG_OK || chg_vec_push(&c->files, NULL) != CHG_OK) {
        chg_compiler_free(c);
        return NULL;
    }
    none->path = "";
    none->text = "";
    return c;
}

/* Source 0 is skipped: it is the arena-allocated "no source" entry with a
 * static text, not a heap block. Zones are freed here, not with the
 * arena, because the time library allocates them itself. */
void chg_compiler_free(chg_compiler *c)
{
    if (!c)
        return;
    for (size_t i = 1; i < c->sources.len; i++) {
        chg_source *s = c->sources.items[i];
        chg_free(s->text);
        chg_free(s->lines);
        chg_free(s->cps);
    }
    chg_vec_free(&c->sources);
    chg_vec_free(&c->files);
    chg_vec_free(&c->roots);
    chg_vec_free(&c->trees);
    chg_vec_free(&c->diags);
    chg_vec_free(&c->all_decls);
    chg_c_map_free(&c->source_by_path);
    chg_c_map_free(&c->globals);
    chg_c_map_free(&c->rules);
    chg_c_map_free(&c->intakes);
    chg_c_map_free(&c->concurrency);
    chg_c_map_free(&c->flags_read);
    chg_c_map_free(&c->queries_read);
    chg_c_map_free(&c->tests);
    chg_free(c->reach);
    for (size_t i = 0; i < c->zone_list.len; i++)
        chg_tz_free(c->zone_list.items[i]);
    chg_vec_free(&c->zone_list);
    chg_buf_free(&c->bundle);
    chg_c_map_free(&c->zones);
    chg_c_map_free(&c->calendar_texts);
    chg_c_map_free(&c->calendars_linted);
    chg_ts_cache_free(c->calendars);
    chg_arena_free(&c->arena);
    chg_free(c);
}

/* ---- sources ------------------------------------------------------------------ */

/* The table of line starts that turns byte offsets into line and column
 * when a diagnostic is printed; spans carry only offsets, so the scanner
 * never counts lines. Two passes (count, then fill) allocate the table
 * once at its exact size. A final line without '\n' still has its start
 * in the table, and an empty file has one line. */
static bool starts_code_point(unsigned char b) { return (b & 0xc0) != 0x80; }

/* Also the count of code points before every CHG_SOURCE_BLOCK-th byte:
 * a column is the code points between its line's start and the offset,
 * and counting them from the nearest block costs at most a block, however
 * long the line (the code generator asks for a position per expression,
 * and a generated policy may be one line of a megabyte). */
static int build_lines(chg_source *s)
{
    size_t n = 1;
    for (size_t i = 0; i < s->len; i++)
        if (s->text[i] == '\n')
            n++;
    s->lines = chg_malloc(n * sizeof *s->lines);
    s->cps = chg_malloc((s->len / CHG_SOURCE_BLOCK + 1) * sizeof *s->cps);
    if (!s->lines || !s->cps)
        return CHG_ENOMEM;
    s->nlines = 0;
    s->lines[s->nlines++] = 0;
    uint32_t cp = 0;
    for (size_t i = 0; i < s->len; i++) {
        if (i % CHG_SOURCE_BLOCK == 0)
            s->cps[i / CHG_SOURCE_BLOCK] = cp;
        cp += starts_code_point((unsigned char)s->text[i]);
        if (s->text[i] == '\n')
            s->lines[s->nlines++] = (uint32_t)(i + 1);
    }
    if (s->len % CHG_SOURCE_BLOCK == 0)
        s->cps[s->len / CHG_SOURCE_BLOCK] = cp;
    return CHG_OK;
}

/* Code points in text[0, offset). */
static uint32_t code_points(const chg_source *src, uint32_t offset)
{
    uint32_t b = offset / CHG_SOURCE_BLOCK, n = src->cps[b];
    const unsigned char *t = (const unsigned char *)src->text;
    for (uint32_t i = b * CHG_SOURCE_BLOCK; i < offset; i++)
        n += starts_code_point(t[i]);
    return n;
}

/* Takes ownership of text (chg_malloc'd, NUL-terminated). */
/* Returns the new file's index, 0 on failure (0 is "no source", never a
 * valid index, so callers need only one test). `sources` and `files`
 * are indexed by the same file number and must always have equal
 * lengths; every failure path below undoes exactly what it added, and on
 * failure the text is freed here, since ownership passed on entry. */
static uint32_t add_owned(chg_compiler *c, const char *path, char *text, size_t len)
{
    chg_source *s = chg_arena_alloc(&c->arena, sizeof *s);
    if (!s) {
        chg_free(text);
        return 0;
    }
    s->path = chg_arena_strdup(&c->arena, path);
    /* A UTF-8 byte order mark, which some Windows editors write, is not
     * part of the text: dropped, so columns and snippets are the editor's. */
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) {
        memmove(text, text + 3, len - 2); /* with the NUL */
        len -= 3;
    }
    s->text = text;
    s->len = len;
    if (!s->path || build_lines(s) != CHG_OK || chg_vec_push(&c->sources, s) != CHG_OK) {
        chg_free(text);
        chg_free(s->lines);
        chg_free(s->cps);
        return 0;
    }
    if (chg_vec_push(&c->files, NULL) != CHG_OK) {
        c->sources.len--; /* sources and files stay in step; this one is freed here */
        chg_free(text);
        chg_free(s->lines);
        chg_free(s->cps);
        return 0;
    }
    return (uint32_t)(c->sources.len - 1);
}

uint32_t chg_c_add_text(chg_compiler *c, const char *path, const char *text, size_t len)
{
    char *copy = chg_malloc(len + 1);
    if (!copy)
        return 0;
    memcpy(copy, text, len);
    copy[len] = 0;
    return add_owned(c, path, copy, len);
}

static int add_root(chg_compiler *c, uint32_t idx)
{
    if (!idx)
        return CHG_ENOMEM;
    return chg_vec_push(&c->roots, (void *)(uintptr_t)idx);
}

/* A text over the limit is still added, as an empty file, so E0012 has a
 * file to be reported against and the report names the path. The limit
 * also keeps every offset within a uint32_t span. */
int chg_compiler_add_source(chg_compiler *c, const char *path, const char *text, size_t len)
{
    if (len > c->opts.max_file_size || len > UINT32_MAX - 2) {
        uint32_t idx = chg_c_add_text(c, path, "", 0);
        char a[32], b[32];
        snprintf(a, sizeof a, "%zu", len);
        snprintf(b, sizeof b, "%zu", c->opts.max_file_size);
        chg_c_diag_report(c, CHG_D_E0012, (chg_span){idx, 0, 0}, a, b, NULL);
        return CHG_ERANGE;
    }
    return add_root(c, chg_c_add_text(c, path, text, len));
}

/* Files are registered under their realpath so that an import that
 * reaches the same file through another path (a symlink, "../x/y.chg")
 * finds it in source_by_path and is not read and merged twice, which
 * would report every declaration in it as a duplicate. An oversized file
 * is not read at all: its size comes from stat. */
int chg_compiler_add_file(chg_compiler *c, const char *path)
{
    char *text;
    size_t len;
    int rc = chg_read_file_max(path, &text, &len, c->opts.max_file_size);
    if (rc == CHG_ERANGE) {
        struct stat st;
        size_t size = stat(path, &st) == 0 ? (size_t)st.st_size : c->opts.max_file_size + 1;
        return chg_compiler_add_source(c, path, "", size);
    }
    if (rc != CHG_OK)
        return rc; /* the driver reports it (for CHG_EIO, errno says why) */
    /* named as imports are, so that one file reached both ways is one name */
    uint32_t idx = add_owned(c, chg_c_normalize_path(c, path), text, len);
    char real[PATH_MAX];
    if (idx && realpath(path, real)) {
        /* known by its real path, so an import of it is not a second copy */
        char *key = chg_arena_strdup(&c->arena, real);
        if (!key || chg_c_map_put(&c->source_by_path, key, (void *)(uintptr_t)idx) != CHG_OK)
            return CHG_ENOMEM;
        ((chg_source *)c->sources.items[idx])->real = key;
    }
    return add_root(c, idx);
}

bool chg_is_test_file(const char *path)
{
    size_t n = strlen(path);
    return n > 9 && strcmp(path + n - 9, "_test.chg") == 0;
}

/* ---- where a policy may read files -------------------------------------- */

/* Add the realpath of dir (NULL: the working directory) to the trees. A
 * directory that does not resolve adds nothing: nothing inside it can be
 * read either. */
static void add_tree(chg_compiler *c, const char *dir)
{
    char real[PATH_MAX];
    if (!realpath(dir ? dir : ".", real))
        return;
    char *copy = chg_arena_strdup(&c->arena, real);
    if (!copy || chg_vec_push(&c->trees, copy) != CHG_OK)
        chg_c_nomem(c);
}

/* The trees, made once every root is known (imports, calendars and test
 * inputs are read only after every root was added): the directory of each
 * root's real file, of a root given as text its named directory (or the
 * working directory), and each allowed path. */
static void make_trees(chg_compiler *c)
{
    c->trees_made = true;
    for (size_t i = 0; i < c->roots.len; i++) {
        const chg_source *s = c->sources.items[(uintptr_t)c->roots.items[i]];
        const char *p = s->real ? s->real : s->path;
        const char *slash = strrchr(p, '/');
        if (!slash) {
            add_tree(c, NULL);
            continue;
        }
        char *dir = chg_arena_strndup(&c->arena, p, slash > p ? (size_t)(slash - p) : 1);
        if (!dir) {
            chg_c_nomem(c);
            return;
        }
        add_tree(c, dir);
    }
    for (size_t i = 0; i < c->opts.nallow_paths; i++)
        add_tree(c, c->opts.allow_paths[i]);
}

/* Is real (a realpath) inside one of the trees? A tree is a prefix that
 * ends at a '/' of real: /srv/pol allows /srv/pol/a.chg, not /srv/policy. */
static bool inside_trees(chg_compiler *c, const char *real)
{
    if (!c->trees_made)
        make_trees(c);
    for (size_t i = 0; i < c->trees.len; i++) {
        const char *t = c->trees.items[i];
        size_t n = strlen(t);
        if (strncmp(real, t, n) == 0 && (real[n] == '/' || real[n] == 0 || (n == 1 && t[0] == '/')))
            return true;
    }
    return false;
}

/* A file a policy names (as written: rel) resolved to real: true if it may
 * be read, otherwise E0307 at span. Checked before the file is opened, so
 * nothing of a file outside (/etc/passwd) reaches a diagnostic. */
bool chg_c_path_allowed(chg_compiler *c, const char *real, const char *rel, chg_span span)
{
    if (inside_trees(c, real))
        return true;
    chg_diag *d = chg_c_diag_report(c, CHG_D_E0307, span, rel, NULL);
    chg_c_diag_note(c, d, (chg_span){0}, "it is '%s'; a policy reads files only from the directories of its root files",
                    real);
    chg_c_diag_help(c, d, "move the file next to the policy, or allow its directory with --allow-path DIR");
    return false;
}

/* Binary search in the line table, then a count of code points from the
 * line start: columns are what an editor shows, so a line of non-ASCII
 * text gets the same column in every tool. Continuation bytes (10xxxxxx)
 * are the ones not counted (in invalid UTF-8, already reported, the
 * column is approximate). An offset past the end is clamped, never read
 * beyond. */
void chg_source_position(const chg_source *src, uint32_t offset, uint32_t *line, uint32_t *col)
{
    if (!src->nlines) {
        *line = 1;
        *col = 1;
        return;
    }
    if (offset > src->len)
        offset = (uint32_t)src->len;
    size_t lo = 0, hi = src->nlines;
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (src->lines[mid] <= offset)
            lo = mid;
        else
            hi = mid;
    }
    *line = (uint32_t)lo + 1;
    /* count code points, not bytes: on a line shorter than a block, from
     * its start (the common case, and the cheap one: the block counts
     * below would each walk up to a block) */
    if (!src->cps) {
        *col = 1;
        return;
    }
    uint32_t start = src->lines[lo];
    if (offset - start <= CHG_SOURCE_BLOCK) {
        const unsigned char *t = (const unsigned char *)src->text;
        uint32_t n = 1;
        for (uint32_t i = start; i < offset; i++)
            n += starts_code_point(t[i]);
        *col = n;
    } else
        *col = code_points(src, offset) - code_points(src, start) + 1;
}

size_t chg_compiler_ndiags(const chg_compiler *c) { return c->diags.len; }

const chg_diag *chg_compiler_diag(const chg_compiler *c, size_t i)
{
    return i < c->diags.len ? c->diags.items[i] : NULL;
}

size_t chg_compiler_count(const chg_compiler *c, chg_severity sev)
{
    return sev == CHG_ERROR ? c->nerrors : sev == CHG_WARNING ? c->nwarnings : 0;
}

const chg_source *chg_compiler_source(const chg_compiler *c, uint32_t file)
{
    return file < c->sources.len ? c->sources.items[file] : NULL;
}

size_t chg_compiler_nsources(const chg_compiler *c) { return c->sources.len; }

/* Is the file at this real path part of the compilation only as an
 * import, not as a root? The driver uses it to drop a file given on the
 * command line that another given file imports, so it is checked once. */
bool chg_compiler_imports(const chg_compiler *c, const char *real)
{
    uintptr_t idx = (uintptr_t)chg_c_map_get(&c->source_by_path, real);
    if (!idx)
        return false;
    for (size_t i = 0; i < c->roots.len; i++)
        if ((uintptr_t)c->roots.items[i] == idx)
            return false;
    return true;
}

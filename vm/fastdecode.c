/*
 * fastdecode.c — a change decoded in one pass over its bytes, straight
 * into the slots the compiler assigned.
 *
 * decode.c and schema.c read a change from a jansson document: the text
 * is first built into a tree of every field (a hash table and a malloc per
 * object and string), then the policy's paths are looked up in it and the
 * schema walked over it. Here the JSON walker (jsonwalk.h, simdjson's
 * On-Demand parser) goes over the text once and this file, its visitor,
 * says at each key what the value is to the policy — the path node, the
 * schema node, the slot or record field it fills — so what the policy
 * reads is converted where it is found, what the schema declares is
 * checked there, and the rest is only validated.
 *
 * This is the fast path, not a second decoder with its own rules: it
 * handles the change that is well-formed and fits its schema exactly,
 * and declines everything else — malformed JSON, a duplicate key, a value
 * that does not fit, a field the schema does not declare, a JSON object
 * or array the policy reads whole, an envelope, and any bundle whose path
 * table it does not vouch for. The caller then takes the jansson path
 * (decode.c, schema.c, intake.c), which decides or reports as it always
 * has: every message, JSON path and limit of that path holds, because
 * that path produces them. What the fast path builds must be, value for
 * value, what the jansson path builds for the same bytes:
 * fuzz/fuzz_decode.c and tests/unit/test_fastdecode.c compare the two.
 *
 * Per change it allocates what the jansson path keeps too (the event and
 * its arena: slots, lists, records, strings); the walker's and this
 * file's working memory is reused from change to change.
 */
#include "vm_int.h"

#include <string.h>

#include "chg_civil.h"
#include "chg_time.h"
#include "jsonwalk.h"

/* How a value is decoded, when it fills something. */
enum { BY_NODE, AS_JSON, AS_RECORD };

/* What the visitor knows of one value being walked (a cookie). */
typedef struct frame {
    uint32_t pnode;           /* its path node, or NONE */
    uint32_t snode;           /* its schema node, or NONE */
    chg_value *dest;          /* the slot or record field it fills, or NULL */
    uint32_t item;            /* else, with has_item: its place on the item stack */
    bool has_item;
    bool rec_field;           /* a record's field: missing reads as null */
    bool unwrap;              /* an event's top-level `detail`: a string
                                 holding JSON is the jansson path's */
    uint8_t mode;             /* BY_NODE, AS_JSON, AS_RECORD */
    uint8_t ldepth;           /* lists it is inside of */
    uint16_t rec_layout;      /* inside a record of this layout, or NONE */
    chg_value *rec_fields;    /* that record's fields */
    /* an array decoded as a list: its elements go on the item stack */
    bool list;
    uint32_t elem_node;       /* the elements' path node, or NONE */
    uint16_t elem_layout;     /* the elements' record layout, or NONE */
    size_t items_base;
    uint32_t seen_required;   /* an object with a schema: its required fields present */
} frame;

/* Frames nest as deep as the schema or a path can: deeper values are
 * nobody's, and get no frame. */
#define MAX_FRAMES (CHG_SCHEMA_MAX_DEPTH + 72)
#define MAX_LDEPTH 64 /* decode.c's bound on nested lists */

struct chg_fastdec {
    const chg_bundle *b;
    chg_jwalk *walk;
    chg_event *spare;         /* an event given back, for the next decoding */
    bool usable;              /* the plan below holds for this bundle */
    /* the plan, per path node */
    uint32_t *kids, *kid_first, *kid_count; /* KEY children, by parent */
    uint32_t *kid_sig;        /* each kid's name_sig, so a lookup compares few names */
    uint64_t *kid_bloom;      /* per path node: a bit for each kid's sig_bit */
    uint32_t *ssig;           /* name_sig of each schema node's name */
    /* where the next key's search starts, per path node and per schema
     * object: after the last one found, since changes from one writer
     * keep their keys in one order */
    uint32_t *kid_hint, *s_hint;
    uint32_t *elem_of;        /* a node's first ELEM child, or NONE */
    uint32_t *anchor;         /* the root or ELEM node a node's chain of keys starts from */
    uint16_t *lay_owner, *lay_k; /* the layout a node is a field of, and where */
    uint32_t *sreq;           /* per schema node: its required fields */
    /* per decoding */
    frame *frames;
    chg_value *items;
    size_t nitems, capitems;
    chg_event *e;
    bool intake;              /* judging a raw event: envelopes are not changes */
    uint32_t root;            /* the root decoded: 0 the change, 1 the raw
                                 event (its slots, for an intake's blocks) */
    bool root_required;       /* a required top-level path's key was there */
    bool oom;
    /* the instant the schema check of the value at hand parsed, so that
     * decoding it does not parse it again */
    bool have_time;
    int64_t time;
    /* likewise the enum member it found, and in which list */
    const chg_value *enum_list, *enum_val;
};

/* ---- the plan ------------------------------------------------------------------------ */

/* Length, first and last byte of a key: names that differ in these are
 * told apart without a memcmp. */
static uint32_t name_sig(const char *k, size_t n)
{
    return n ? (uint32_t)(n & 0xffff) << 16 | (uint32_t)(unsigned char)k[0] << 8 | (unsigned char)k[n - 1] : 0;
}

/* One of 64 bits for a name_sig: a key whose bit a node's kids do not
 * have is none of them. */
static uint64_t sig_bit(uint32_t sig) { return 1ULL << (sig * 0x9E3779B1u >> 26); }

static bool same_name(const chg_bundle *b, uint32_t s, const char *k, size_t n)
{
    return s < b->nstrings && b->strlen[s] == n && memcmp(b->str[s], k, n) == 0;
}

/* Build the per-bundle tables, and say whether this file may decode the
 * bundle's changes: only when its paths mean to it what they mean to
 * decode.c (each a single place, each slot filled from one path). */
static bool plan(chg_fastdec *d)
{
    const chg_bundle *b = d->b;
    uint32_t n = b->npaths;
    if (n < 2)
        return false;
    d->kids = chg_calloc(n, sizeof *d->kids);
    d->kid_first = chg_calloc(n, sizeof *d->kid_first);
    d->kid_count = chg_calloc(n, sizeof *d->kid_count);
    d->elem_of = chg_calloc(n, sizeof *d->elem_of);
    d->anchor = chg_calloc(n, sizeof *d->anchor);
    d->lay_owner = chg_calloc(n, sizeof *d->lay_owner);
    d->lay_k = chg_calloc(n, sizeof *d->lay_k);
    d->sreq = chg_calloc(b->nschema + 1, sizeof *d->sreq);
    d->kid_sig = chg_calloc(n, sizeof *d->kid_sig);
    d->kid_bloom = chg_calloc(n, sizeof *d->kid_bloom);
    d->ssig = chg_calloc(b->nschema + 1, sizeof *d->ssig);
    d->kid_hint = chg_calloc(n, sizeof *d->kid_hint);
    d->s_hint = chg_calloc(b->nschema + 1, sizeof *d->s_hint);
    uint32_t *depth = chg_calloc(n, sizeof *depth);
    uint8_t *slot_used = chg_calloc((size_t)b->nslots_change + 1, 1);
    uint8_t *eslot_used = chg_calloc((size_t)b->nslots_event + 1, 1);
    uint8_t *lay_lists = chg_calloc((size_t)b->nlayouts + 1, 1);
    bool ok = d->kid_sig && d->kid_bloom && d->ssig && d->kid_hint && d->s_hint && d->kids && d->kid_first && d->kid_count && d->elem_of && d->anchor && d->lay_owner && d->lay_k && d->sreq &&
              depth && slot_used && eslot_used && lay_lists;
    if (ok) {
        for (uint32_t i = 0; i < n; i++) {
            d->elem_of[i] = CHG_NONE32;
            d->lay_owner[i] = CHG_NONE16;
            d->anchor[i] = i;
        }
        /* children by parent: count, place, fill (parents come first) */
        for (uint32_t i = 2; i < n && ok; i++) {
            const chg_pathnode *p = &b->paths[i];
            ok = p->parent < i && (p->kind == CHG_PN_KEY || p->kind == CHG_PN_ELEM);
            if (!ok)
                break;
            depth[i] = depth[p->parent] + 1;
            if (p->kind == CHG_PN_KEY)
                d->anchor[i] = d->anchor[p->parent];
            ok = depth[i] <= 64; /* json_at's chain */
            if (p->kind == CHG_PN_KEY)
                d->kid_count[p->parent]++;
            else if (d->elem_of[p->parent] == CHG_NONE32)
                d->elem_of[p->parent] = i;
        }
        uint32_t at = 0;
        for (uint32_t i = 0; i < n && ok; i++) {
            d->kid_first[i] = at;
            at += d->kid_count[i];
            d->kid_count[i] = 0;
        }
        for (uint32_t i = 2; i < n && ok; i++) {
            const chg_pathnode *p = &b->paths[i];
            if (p->kind != CHG_PN_KEY)
                continue;
            /* two keys of one name under one parent would be two paths to
             * one value: decode.c fills both, this file one */
            for (uint32_t k = 0; k < d->kid_count[p->parent] && ok; k++) {
                const chg_pathnode *o = &b->paths[d->kids[d->kid_first[p->parent] + k]];
                ok = p->name < b->nstrings && !same_name(b, o->name, b->str[p->name], b->strlen[p->name]);
            }
            if (!ok)
                break;
            uint32_t sig = name_sig(b->str[p->name], b->strlen[p->name]);
            d->kid_sig[d->kid_first[p->parent] + d->kid_count[p->parent]] = sig;
            d->kid_bloom[p->parent] |= sig_bit(sig);
            d->kids[d->kid_first[p->parent] + d->kid_count[p->parent]++] = i;
        }
        /* a slot filled from one path only, under either root */
        for (uint32_t i = 2; i < n && ok; i++) {
            const chg_pathnode *p = &b->paths[i];
            if (p->slot == CHG_NONE16 || d->anchor[i] > 1)
                continue;
            uint8_t *used = d->anchor[i] == 0 ? slot_used : eslot_used;
            ok = p->slot < (d->anchor[i] == 0 ? b->nslots_change : b->nslots_event) && !used[p->slot];
            if (ok)
                used[p->slot] = 1;
        }
        /* each node the field of one layout, each layout one list's */
        for (uint32_t l = 0; l < b->nlayouts && ok; l++)
            for (uint32_t k = 0; k < b->layouts[l].count && ok; k++) {
                uint32_t fn = b->lfields[b->layouts[l].first + k].node;
                if (fn == CHG_NONE32)
                    continue;
                ok = fn < n && d->lay_owner[fn] == CHG_NONE16;
                d->lay_owner[fn] = (uint16_t)l;
                d->lay_k[fn] = (uint16_t)k;
            }
        for (uint32_t i = 2; i < n && ok; i++) {
            uint16_t l = b->paths[i].layout;
            if (l == CHG_NONE16)
                continue;
            ok = l < b->nlayouts && !lay_lists[l];
            lay_lists[l] = 1;
        }
        for (uint32_t s = 0; s < b->nschema && ok; s++) {
            const chg_schemanode *sn = &b->schema[s];
            if (sn->name != CHG_NONE32 && sn->name < b->nstrings)
                d->ssig[s] = name_sig(b->str[sn->name], b->strlen[sn->name]);
            if (sn->type != CHG_PT_OBJECT)
                continue;
            for (uint32_t k = 0; k < sn->count; k++)
                d->sreq[s] += b->schema[sn->first + k].need == CHG_PR_REQUIRED;
        }
    }
    chg_free(depth);
    chg_free(slot_used);
    chg_free(eslot_used);
    chg_free(lay_lists);
    return ok;
}

chg_fastdec *chg_vm_fastdec_new(const chg_bundle *b)
{
    chg_fastdec *d = chg_calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->b = b;
    d->walk = chg_vm_jwalk_new();
    d->frames = chg_calloc(MAX_FRAMES, sizeof *d->frames);
    if (!d->walk || !d->frames) {
        chg_vm_fastdec_free(d);
        return NULL;
    }
    d->usable = plan(d);
    return d;
}

void chg_vm_fastdec_free(chg_fastdec *d)
{
    if (!d)
        return;
    chg_vm_jwalk_free(d->walk);
    chg_event_free(d->spare);
    chg_free(d->kids);
    chg_free(d->kid_first);
    chg_free(d->kid_count);
    chg_free(d->elem_of);
    chg_free(d->anchor);
    chg_free(d->lay_owner);
    chg_free(d->lay_k);
    chg_free(d->sreq);
    chg_free(d->kid_sig);
    chg_free(d->kid_bloom);
    chg_free(d->ssig);
    chg_free(d->kid_hint);
    chg_free(d->s_hint);
    chg_free(d->frames);
    chg_free(d->items);
    chg_free(d);
}

/* ---- values ------------------------------------------------------------------------- */

static chg_value *dest_of(chg_fastdec *d, frame *f)
{
    return f->dest ? f->dest : f->has_item ? &d->items[f->item] : NULL;
}

/* What decode_value gives a path node whose value is missing. */
static chg_value missing(const chg_bundle *b, uint32_t n)
{
    chg_value v;
    memset(&v, 0, sizeof v);
    if (b->paths[n].dflt != CHG_NONE32 && b->paths[n].dflt < b->nconsts)
        v = b->consts[b->paths[n].dflt];
    else
        v.tag = CHG_V_ABSENT;
    return v;
}

static bool enum_has(const chg_value *vals, const char *s, size_t len, const chg_value **which)
{
    for (uint32_t i = 0; i < vals->len; i++)
        if (vals->u.items[i].len == len && memcmp(vals->u.items[i].u.s, s, len) == 0) {
            if (which)
                *which = &vals->u.items[i];
            return true;
        }
    return false;
}

/* Does a value of this kind fit schema node s, as schema.c sees it?
 * (schema.c's check_value and the null rules of check_object/check_list.) */
static bool fits(chg_fastdec *d, const chg_schemanode *s, int kind, const chg_jw_scalar *x)
{
    const chg_bundle *b = d->b;
    if (kind == CHG_JW_NULL)
        return s->need != CHG_PR_REQUIRED;
    switch (s->type) {
    case CHG_PT_BOOL: return kind == CHG_JW_TRUE || kind == CHG_JW_FALSE;
    case CHG_PT_INT:
    case CHG_PT_DUR: return kind == CHG_JW_INT;
    case CHG_PT_FLOAT: return kind == CHG_JW_INT || kind == CHG_JW_REAL;
    case CHG_PT_STR: return kind == CHG_JW_STRING;
    case CHG_PT_ENUM:
        if (kind != CHG_JW_STRING || !enum_has(&b->consts[s->enm], x->s, x->len, &d->enum_val))
            return false;
        d->enum_list = &b->consts[s->enm];
        return true;
    case CHG_PT_TIME: {
        int64_t t = 0;
        d->have_time = kind == CHG_JW_STRING && chg_time_parse_iso(x->s, x->len, &t) == CHG_OK;
        d->time = t;
        return d->have_time && t >= chg_days_from_civil(0, 1, 1) * 86400 &&
               t <= chg_days_from_civil(10000, 1, 1) * 86400 - 1;
    }
    case CHG_PT_LIST: return kind == CHG_JW_ARRAY;
    case CHG_PT_OBJECT: return kind == CHG_JW_OBJECT;
    }
    return false;
}

/* A scalar as chg_vm_value_from_json makes it, the string copied into
 * the event (as decode.c's own() would). False: not a scalar, or out of
 * memory (d->oom). */
static bool scalar(chg_fastdec *d, int kind, const chg_jw_scalar *x, chg_value *out)
{
    memset(out, 0, sizeof *out);
    switch (kind) {
    case CHG_JW_NULL: out->tag = CHG_V_NULL; return true;
    case CHG_JW_TRUE:
    case CHG_JW_FALSE: out->tag = CHG_V_BOOL; out->u.i = kind == CHG_JW_TRUE; return true;
    case CHG_JW_INT: out->tag = CHG_V_INT; out->u.i = x->i; return true;
    case CHG_JW_REAL: out->tag = CHG_V_FLOAT; out->u.f = x->f; return true;
    case CHG_JW_STRING: {
        char *s = chg_arena_strndup(&d->e->arena, x->s, x->len);
        if (!s) {
            d->oom = true;
            return false;
        }
        out->tag = CHG_V_STR;
        out->u.s = s;
        out->len = (uint32_t)x->len;
        return true;
    }
    }
    return false;
}

/* An array at f becomes a list: its elements are decoded on the item
 * stack and gathered at its end (decode_list). */
static void start_list(chg_fastdec *d, frame *f, uint32_t n)
{
    f->list = true;
    f->elem_node = d->elem_of[n];
    f->elem_layout = d->b->paths[n].layout;
    f->items_base = d->nitems;
}

/* decode_value for a present value of path node n; false declines (what
 * decode.c would make a BAD value or keep as JSON, or out of memory). */
static bool by_node(chg_fastdec *d, frame *f, uint32_t n, int kind, const chg_jw_scalar *x, chg_value *out)
{
    const chg_bundle *b = d->b;
    const chg_pathnode *p = &b->paths[n];
    memset(out, 0, sizeof *out);
    if (kind == CHG_JW_NULL) {
        if (p->need == CHG_PR_DEFAULT)
            *out = missing(b, n);
        else
            out->tag = p->need == CHG_PR_REQUIRED && (b->flags & 1) ? CHG_V_ABSENT : CHG_V_NULL;
        return true;
    }
    switch (p->type) {
    case CHG_PT_ANY:
        if (kind == CHG_JW_ARRAY && (p->layout != CHG_NONE16 || d->elem_of[n] != CHG_NONE32)) {
            start_list(d, f, n);
            return true;
        }
        return scalar(d, kind, x, out);
    case CHG_PT_BOOL:
        if (kind != CHG_JW_TRUE && kind != CHG_JW_FALSE)
            return false;
        out->tag = CHG_V_BOOL;
        out->u.i = kind == CHG_JW_TRUE;
        return true;
    case CHG_PT_INT:
    case CHG_PT_DUR:
        if (kind != CHG_JW_INT)
            return false;
        out->tag = p->type == CHG_PT_INT ? CHG_V_INT : CHG_V_DUR;
        out->u.i = x->i;
        return true;
    case CHG_PT_FLOAT:
        if (kind != CHG_JW_INT && kind != CHG_JW_REAL)
            return false;
        out->tag = CHG_V_FLOAT;
        out->u.f = kind == CHG_JW_INT ? (double)x->i : x->f;
        return true;
    case CHG_PT_STR: return kind == CHG_JW_STRING && scalar(d, kind, x, out);
    case CHG_PT_ENUM: {
        const chg_value *v = d->enum_val;
        if (kind != CHG_JW_STRING || p->enm >= b->nconsts || b->consts[p->enm].tag != CHG_V_LIST ||
            (d->enum_list != &b->consts[p->enm] && !enum_has(&b->consts[p->enm], x->s, x->len, &v)))
            return false;
        *out = *v; /* the bundle's copy: compares by pointer */
        return true;
    }
    case CHG_PT_TIME: {
        int64_t t = d->time;
        if (kind != CHG_JW_STRING || (!d->have_time && chg_time_parse_iso(x->s, x->len, &t) != CHG_OK))
            return false;
        out->tag = CHG_V_TIME;
        out->u.i = t;
        return true;
    }
    case CHG_PT_LIST:
        if (kind != CHG_JW_ARRAY)
            return false;
        start_list(d, f, n);
        return true;
    }
    return false; /* an OBJECT is kept as JSON by decode.c */
}

/* A list element with a record layout: null stays null; anything else is
 * a record whose fields start missing (an object's keys then fill them). */
static bool as_record(chg_fastdec *d, frame *f, int kind, chg_value *out)
{
    const chg_bundle *b = d->b;
    memset(out, 0, sizeof *out);
    if (kind == CHG_JW_NULL) {
        out->tag = CHG_V_NULL;
        return true;
    }
    const chg_layout *l = &b->layouts[f->rec_layout];
    chg_value *fields = chg_arena_alloc(&d->e->arena, sizeof(chg_value) * (l->count ? l->count : 1));
    if (!fields) {
        d->oom = true;
        return false;
    }
    for (uint32_t k = 0; k < l->count; k++) {
        uint32_t fn = b->lfields[l->first + k].node;
        if (fn == CHG_NONE32 || f->pnode == CHG_NONE32) {
            fields[k].tag = CHG_V_ABSENT;
            continue;
        }
        fields[k] = missing(b, fn);
        if (fields[k].tag == CHG_V_ABSENT)
            fields[k].tag = CHG_V_NULL;
    }
    out->tag = CHG_V_REC;
    out->layout = f->rec_layout;
    out->len = l->count;
    out->u.items = fields;
    if (kind == CHG_JW_OBJECT)
        f->rec_fields = fields; /* its keys fill them */
    else
        f->rec_layout = CHG_NONE16;
    return true;
}

/* ---- the visitor --------------------------------------------------------------------- */

static int on_value(void *ud, void *cookie, int kind, const chg_jw_scalar *x)
{
    chg_fastdec *d = ud;
    frame *f = cookie;
    const chg_bundle *b = d->b;
    d->have_time = false;
    d->enum_list = NULL;
    if (f->snode != CHG_NONE32 && !fits(d, &b->schema[f->snode], kind, x))
        return 1;
    if (f->unwrap && kind == CHG_JW_STRING)
        return 1; /* intake.c reads the JSON such a string may hold */
    f->seen_required = 0;
    f->list = false;
    chg_value *out = dest_of(d, f);
    if (!out)
        return 0; /* read through (an object on the way to a path), or only checked */
    bool ok;
    switch (f->mode) {
    case AS_RECORD: ok = as_record(d, f, kind, out); break;
    case AS_JSON: ok = scalar(d, kind, x, out); break;
    default: ok = by_node(d, f, f->pnode, kind, x, out); break;
    }
    if (!ok)
        return 1;
    if (f->rec_field && out->tag == CHG_V_ABSENT)
        out->tag = CHG_V_NULL; /* missing in an element reads as null */
    return 0;
}

static int on_key(void *ud, void *cookie, const char *key, size_t len, void **child)
{
    chg_fastdec *d = ud;
    frame *f = cookie;
    const chg_bundle *b = d->b;
    *child = NULL;
    if (f - d->frames + 1 >= MAX_FRAMES)
        return 1;
    frame *c = f + 1;
    memset(c, 0, sizeof *c);
    c->pnode = c->snode = c->elem_node = CHG_NONE32;
    c->elem_layout = CHG_NONE16;
    c->mode = BY_NODE;
    c->ldepth = f->ldepth;
    c->rec_layout = f->rec_layout;
    c->rec_fields = f->rec_fields;
    bool top = f == d->frames;
    /* intake.c: an envelope, or a change whose `detail` may be JSON in a
     * string, is the jansson path's to judge */
    if (top && d->intake && d->root == 0 &&
        ((len == 6 && memcmp(key, "detail", 6) == 0) || (len == 11 && memcmp(key, "detail-type", 11) == 0)))
        return 1;
    /* a raw event: an SNS notification is read by intake.c as the event
     * its Message carries, and a `detail` string as the JSON it holds */
    if (top && d->root == 1 && len == 8 && memcmp(key, "TopicArn", 8) == 0)
        return 1;
    c->unwrap = top && d->root == 1 && len == 6 && memcmp(key, "detail", 6) == 0;
    uint32_t sig = name_sig(key, len), pnode = CHG_NONE32, snode = CHG_NONE32;
    /* a key no kid has (most of what a change carries that the policy
     * does not read) is known without a search */
    if (f->pnode != CHG_NONE32 && (d->kid_bloom[f->pnode] & sig_bit(sig))) {
        uint32_t count = d->kid_count[f->pnode], first = d->kid_first[f->pnode];
        uint32_t k = d->kid_hint[f->pnode];
        for (uint32_t i = 0; i < count; i++, k++) {
            if (k >= count)
                k = 0;
            uint32_t n = d->kids[first + k];
            if (d->kid_sig[first + k] != sig || !same_name(b, b->paths[n].name, key, len))
                continue;
            d->kid_hint[f->pnode] = k + 1;
            const chg_pathnode *p = &b->paths[n];
            c->pnode = pnode = n;
            if (top && p->need == CHG_PR_REQUIRED)
                d->root_required = true;
            /* under the root, not read through a list: a slot, if it has one */
            if (d->anchor[n] == d->root && p->slot != CHG_NONE16)
                c->dest = d->root == 0 ? &d->e->slots[p->slot] : &d->e->eslots[p->slot];
            if (!c->dest && f->rec_layout != CHG_NONE16 && d->lay_owner[n] == f->rec_layout) {
                c->dest = &f->rec_fields[d->lay_k[n]];
                c->rec_field = true;
            }
            break;
        }
    }
    if (f->snode != CHG_NONE32) {
        const chg_schemanode *s = &b->schema[f->snode];
        uint32_t k = d->s_hint[f->snode];
        for (uint32_t i = 0; i < s->count; i++, k++) {
            if (k >= s->count)
                k = 0;
            uint32_t fn = s->first + k;
            if (d->ssig[fn] == sig && same_name(b, b->schema[fn].name, key, len)) {
                c->snode = snode = fn;
                d->s_hint[f->snode] = k + 1;
                break;
            }
        }
        if (snode == CHG_NONE32)
            return 1; /* not declared: a warning or an error, which the jansson path writes */
        if (b->schema[snode].need == CHG_PR_REQUIRED)
            f->seen_required++;
    }
    /* asked of the locals: reading the two fields just stored as one word
     * (what the compiler makes of the test) stalls on the stores */
    if (pnode != CHG_NONE32 || snode != CHG_NONE32)
        *child = c;
    return 0;
}

static int on_elem(void *ud, void *cookie, void **child)
{
    chg_fastdec *d = ud;
    frame *f = cookie;
    const chg_bundle *b = d->b;
    *child = NULL;
    if (f - d->frames + 1 >= MAX_FRAMES)
        return 1;
    frame *c = f + 1;
    memset(c, 0, sizeof *c);
    c->pnode = c->snode = c->elem_node = CHG_NONE32;
    c->elem_layout = c->rec_layout = CHG_NONE16;
    c->mode = BY_NODE;
    c->ldepth = f->ldepth;
    if (f->snode != CHG_NONE32 && b->schema[f->snode].type == CHG_PT_LIST)
        c->snode = b->schema[f->snode].first;
    if (f->list) {
        if (f->ldepth + 1 > MAX_LDEPTH)
            return 1;
        if (d->nitems == d->capitems) {
            size_t cap = d->capitems ? d->capitems * 2 : 64;
            chg_value *n = chg_realloc(d->items, cap * sizeof *n);
            if (!n) {
                d->oom = true;
                return 1;
            }
            d->items = n;
            d->capitems = cap;
        }
        memset(&d->items[d->nitems], 0, sizeof *d->items);
        d->items[d->nitems].tag = CHG_V_ABSENT;
        c->item = (uint32_t)d->nitems++;
        c->has_item = true;
        c->ldepth = (uint8_t)(f->ldepth + 1);
        c->pnode = f->elem_node;
        if (f->elem_layout != CHG_NONE16) {
            c->mode = AS_RECORD;
            c->rec_layout = f->elem_layout;
        } else
            c->mode = f->elem_node != CHG_NONE32 ? BY_NODE : AS_JSON;
    }
    if (f->list || c->snode != CHG_NONE32)
        *child = c;
    return 0;
}

static int on_end(void *ud, void *cookie, int kind, size_t count)
{
    chg_fastdec *d = ud;
    frame *f = cookie;
    const chg_bundle *b = d->b;
    if (kind == CHG_JW_OBJECT && f->snode != CHG_NONE32 && f->seen_required != d->sreq[f->snode])
        return 1; /* a required field missing */
    if (kind == CHG_JW_ARRAY && f->list) {
        size_t n = d->nitems - f->items_base;
        chg_value *items = chg_arena_alloc(&d->e->arena, sizeof(chg_value) * (n ? n : 1));
        if (!items) {
            d->oom = true;
            return 1;
        }
        if (n)
            memcpy(items, &d->items[f->items_base], n * sizeof *items);
        d->nitems = f->items_base;
        chg_value *out = dest_of(d, f);
        if (!out) /* a list is started only for a value that fills something */
            return 1;
        memset(out, 0, sizeof *out);
        out->tag = CHG_V_LIST;
        out->len = (uint32_t)n;
        out->u.items = items;
    }
    if (f == d->frames && d->intake && d->root == 0 && (b->flags & 1) && !d->root_required) {
        /* intake.c's change_shaped: with a schema, a change has at least
         * one of the required top-level fields the policy reads */
        for (uint32_t k = 0; k < d->kid_count[0]; k++)
            if (b->paths[d->kids[d->kid_first[0] + k]].need == CHG_PR_REQUIRED)
                return 1;
    }
    return 0;
}

static const chg_jw_visitor visitor = {on_value, on_key, on_elem, on_end};

/* Decode root `which` (0 the change, 1 the raw event) of json into a new
 * event. */
static int decode(chg_fastdec *d, const char *json, size_t len, bool intake, uint32_t which, chg_event **out)
{
    const chg_bundle *b = d->b;
    *out = NULL;
    if (!d->usable)
        return CHG_JW_DECLINED;
    char err[32];
    chg_event *e = d->spare ? chg_vm_event_reuse(b, d->spare, err, sizeof err) : chg_vm_event_new(b, err, sizeof err);
    d->spare = NULL;
    if (!e)
        return CHG_ENOMEM;
    /* decode_root: every slot of a path under the change starts missing */
    for (uint32_t n = 2; n < b->npaths; n++) {
        const chg_pathnode *p = &b->paths[n];
        if (p->slot == CHG_NONE16 || p->dflt == CHG_NONE32)
            continue;
        if (d->anchor[n] == which)
            (which == 0 ? e->slots : e->eslots)[p->slot] = missing(b, n);
    }
    d->e = e;
    d->intake = intake;
    d->root = which;
    d->root_required = false;
    d->oom = false;
    d->nitems = 0;
    frame *root = &d->frames[0];
    memset(root, 0, sizeof *root);
    root->pnode = d->root;
    root->snode = b->nschema && d->root == 0 ? 0 : CHG_NONE32;
    root->elem_node = CHG_NONE32;
    root->elem_layout = root->rec_layout = CHG_NONE16;
    root->mode = BY_NODE;
    int rc = chg_vm_jwalk_run(d->walk, json, len, &visitor, d, root);
    d->e = NULL;
    if (rc == CHG_OK && !d->oom) {
        *out = e;
        return CHG_OK;
    }
    chg_event_free(e);
    return rc == CHG_ENOMEM || d->oom ? CHG_ENOMEM : CHG_JW_DECLINED;
}

void chg_vm_fastdec_recycle(chg_fastdec *d, chg_event *e)
{
    if (!e)
        return;
    if (d->spare) {
        chg_event_free(e);
        return;
    }
    d->spare = e;
}

int chg_vm_fastdec_decode(chg_fastdec *d, const char *json, size_t len, bool intake, chg_event **out)
{
    return decode(d, json, len, intake, 0, out);
}

int chg_vm_fastdec_event(chg_fastdec *d, const char *json, size_t len, chg_event **out)
{
    return decode(d, json, len, true, 1, out);
}

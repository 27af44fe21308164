/*
 * decode.c — turning a change (JSON) into the slots the policy reads.
 *
 * The bundle's path table names every field path the policy reads. Once
 * per event each path is looked up in the JSON document and converted to
 * the type the schema gives it (an enum's string points into the bundle, an
 * RFC 3339 string becomes an instant); lists whose elements the policy
 * reads fields of become lists of records. Evaluation then indexes slots.
 *
 * With a schema the whole change is also checked against it here, once
 * (schema.c): what does not fit is kept in the event, and the decision is
 * `error` naming every offending path before any rule runs (decide.c).
 * A slot still says when its value is missing or of the wrong type
 * (CHG_V_ABSENT, CHG_V_BAD) and the instruction that reads it reports the
 * error with its rule and source position: that is how a policy without a
 * schema learns of it.
 */
#include "vm_int.h"
#include "jsonwalk.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "chg_time.h"

/* The JSON kind found, for messages: see interp.c bad_field. A BAD value
 * carries what was found in flags and what was expected in layout: a
 * value is 16 bytes whatever it holds, so the message costs no memory. */
static uint8_t json_kind(const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT: return 0;
    case JSON_ARRAY: return 1;
    case JSON_STRING: return 2;
    case JSON_INTEGER: return 3;
    case JSON_REAL: return 4;
    case JSON_TRUE: return 5;
    case JSON_FALSE: return 6;
    default: return 7;
    }
}

/* The JSON value at node n, starting from `base` at node `stop` (a root or
 * an element node). NULL when any step is missing or not an object. The
 * chain is collected leaf to root and walked root to leaf; parents come
 * before their children in the table (load_paths), so the walk up ends,
 * and 64 steps is deeper than any path the compiler emits. */
static const json_t *json_at(const chg_bundle *b, const json_t *base, uint32_t n, uint32_t stop)
{
    uint32_t chain[64];
    int depth = 0;
    while (n != stop) {
        if (n < 2 || depth == 64 || b->paths[n].kind != CHG_PN_KEY)
            return NULL;
        chain[depth++] = n;
        CHG_ASSERT(b->paths[n].parent < n); /* parents come first: the walk ends */
        n = b->paths[n].parent;
    }
    const json_t *j = base;
    while (depth-- > 0) {
        if (!json_is_object(j))
            return NULL;
        j = json_object_get(j, b->str[b->paths[chain[depth]].name]);
        if (!j)
            return NULL;
    }
    return j;
}

/* Mark v as a value of the wrong type. For a string that was found (an
 * unknown enum value, an unparsable time) callers also set len 1 and u.s,
 * so the message can quote it; own() then copies that string too. */
static void bad(chg_value *v, const json_t *j, uint8_t expected)
{
    memset(v, 0, sizeof *v);
    v->tag = CHG_V_BAD;
    v->flags = json_kind(j);
    v->layout = expected;
}

static int decode_value(const chg_bundle *b, chg_event *e, uint32_t n, const json_t *j, chg_value *out, int depth);

/* A list: its elements decoded by the list's element node; records when
 * the policy reads fields of the elements. */
static int decode_list(const chg_bundle *b, chg_event *e, uint32_t n, const json_t *j, chg_value *out, int depth)
{
    const chg_pathnode *p = &b->paths[n];
    CHG_ASSERT(p->layout == CHG_NONE16 || p->layout < b->nlayouts);
    /* count ? count : 1: an empty list still gets a valid items pointer,
     * so nothing downstream tests for NULL before a loop of zero rounds.
     * The arena is the event's: the list dies with the event. */
    uint32_t count = (uint32_t)json_array_size(j);
    chg_value *items = chg_arena_alloc(&e->arena, sizeof(chg_value) * (count ? count : 1));
    if (!items)
        return CHG_ENOMEM;
    /* the element node, if the policy reads the elements: children come
     * after their parent, so the search starts at n + 1 */
    uint32_t elem = CHG_NONE32;
    for (uint32_t i = n + 1; i < b->npaths; i++)
        if (b->paths[i].kind == CHG_PN_ELEM && b->paths[i].parent == n) {
            elem = i;
            break;
        }
    for (uint32_t i = 0; i < count; i++) {
        const json_t *ej = json_array_get(j, i);
        if (p->layout != CHG_NONE16) {
            const chg_layout *l = &b->layouts[p->layout];
            chg_value *fields = chg_arena_alloc(&e->arena, sizeof(chg_value) * (l->count ? l->count : 1));
            if (!fields)
                return CHG_ENOMEM;
            for (uint32_t k = 0; k < l->count; k++) {
                uint32_t fn = b->lfields[l->first + k].node;
                /* a layout field with no node is one the schema names but
                 * no path of this policy reads: absent, and never read */
                if (fn == CHG_NONE32 || elem == CHG_NONE32) {
                    fields[k].tag = CHG_V_ABSENT;
                    continue;
                }
                if (decode_value(b, e, fn, json_at(b, ej, fn, elem), &fields[k], depth + 1) != CHG_OK)
                    return CHG_ENOMEM;
                if (fields[k].tag == CHG_V_ABSENT)
                    fields[k].tag = CHG_V_NULL; /* missing in an element reads as null */
            }
            memset(&items[i], 0, sizeof items[i]);
            /* a null element stays null rather than becoming a record of
             * nulls, so `a == null` still tells it from an empty object */
            if (json_is_null(ej))
                items[i].tag = CHG_V_NULL;
            else {
                items[i].tag = CHG_V_REC;
                items[i].layout = p->layout;
                items[i].len = l->count;
                items[i].u.items = fields;
            }
        } else if (elem != CHG_NONE32) {
            if (decode_value(b, e, elem, ej, &items[i], depth + 1) != CHG_OK)
                return CHG_ENOMEM;
        } else
            /* elements without a node of their own are converted as any
             * JSON value (strings point into the document until own()) */
            chg_vm_value_from_json(ej, &items[i]);
    }
    memset(out, 0, sizeof *out);
    out->tag = CHG_V_LIST;
    out->len = count;
    out->u.items = items;
    return CHG_OK;
}

/* Convert the JSON value j (NULL: missing) found at node n. Returns
 * CHG_OK or CHG_ENOMEM only: a value that does not fit is data (BAD), not
 * a failure, so one bad field fails only the rules that read it. */
static int decode_value(const chg_bundle *b, chg_event *e, uint32_t n, const json_t *j, chg_value *out, int depth)
{
    CHG_ASSERT(n < b->npaths);
    const chg_pathnode *p = &b->paths[n];
    memset(out, 0, sizeof *out);
    if (depth > 64) { /* deeper than any path: cannot happen for a verified bundle */
        out->tag = CHG_V_NULL;
        return CHG_OK;
    }
    /* A field with a default takes it when missing or null; without one,
     * missing is ABSENT, which only the instruction reading it turns into
     * "required but missing" (an optional field read behind `!= null`
     * never is). */
    if (!j || (json_is_null(j) && p->need == CHG_PR_DEFAULT)) {
        if (p->dflt != CHG_NONE32) {
            CHG_ASSERT(p->dflt < b->nconsts);
            *out = b->consts[p->dflt];
        }
        else
            out->tag = CHG_V_ABSENT;
        return CHG_OK;
    }
    if (json_is_null(j)) {
        /* null is "no value": fine for optional fields, missing otherwise */
        /* flags bit 0 is "has a schema": without one nothing is required,
         * and null is simply null */
        out->tag = p->need == CHG_PR_REQUIRED && (b->flags & 1) ? CHG_V_ABSENT : CHG_V_NULL;
        return CHG_OK;
    }
    switch (p->type) {
    case CHG_PT_ANY:
        if (json_is_array(j) && (p->layout != CHG_NONE16))
            return decode_list(b, e, n, j, out, depth);
        if (json_is_array(j)) {
            /* lists the policy iterates with typed elements decode; others stay JSON */
            for (uint32_t i = n + 1; i < b->npaths; i++)
                if (b->paths[i].kind == CHG_PN_ELEM && b->paths[i].parent == n)
                    return decode_list(b, e, n, j, out, depth);
        }
        chg_vm_value_from_json(j, out);
        return CHG_OK;
    case CHG_PT_BOOL:
        if (!json_is_boolean(j))
            bad(out, j, p->type);
        else {
            out->tag = CHG_V_BOOL;
            out->u.i = json_is_true(j);
        }
        return CHG_OK;
    case CHG_PT_INT:
            /* 3.0 is not an int: jansson keeps JSON's distinction between
             * 3 and 3.0, and a schema `int` is meant to refuse the latter */
        if (!json_is_integer(j))
            bad(out, j, p->type);
        else {
            out->tag = CHG_V_INT;
            out->u.i = json_integer_value(j);
        }
        return CHG_OK;
    case CHG_PT_FLOAT:
            /* a float field accepts integers too (JSON writers drop ".0") */
        if (!json_is_number(j))
            bad(out, j, p->type);
        else {
            out->tag = CHG_V_FLOAT;
            out->u.f = json_number_value(j);
        }
        return CHG_OK;
    case CHG_PT_STR:
        if (!json_is_string(j))
            bad(out, j, p->type);
        else
            chg_vm_value_from_json(j, out);
        return CHG_OK;
    case CHG_PT_ENUM: {
        if (!json_is_string(j)) {
            bad(out, j, p->type);
            return CHG_OK;
        }
        CHG_ASSERT(p->enm < b->nconsts && b->consts[p->enm].tag == CHG_V_LIST); /* load_paths */
        const chg_value *vals = &b->consts[p->enm];
        const char *s = json_string_value(j);
        size_t len = json_string_length(j);
        for (uint32_t i = 0; i < vals->len; i++)
            if (vals->u.items[i].len == len && memcmp(vals->u.items[i].u.s, s, len) == 0) {
                *out = vals->u.items[i]; /* the bundle's copy: compares by pointer */
                return CHG_OK;
            }
        bad(out, j, p->type);
        out->len = 1;
        out->u.s = s;
        return CHG_OK;
    }
    case CHG_PT_TIME: {
        int64_t t;
        if (json_is_string(j) && chg_time_parse_iso(json_string_value(j), json_string_length(j), &t) == CHG_OK) {
            out->tag = CHG_V_TIME;
            out->u.i = t;
        } else {
            bad(out, j, p->type);
            if (json_is_string(j)) {
                out->len = 1;
                out->u.s = json_string_value(j);
            }
        }
        return CHG_OK;
    }
    case CHG_PT_DUR:
            /* durations in a change are whole seconds; a "2h" string is a
             * policy literal's syntax, not a data format */
        if (json_is_integer(j)) {
            out->tag = CHG_V_DUR;
            out->u.i = json_integer_value(j);
        } else
            bad(out, j, p->type);
        return CHG_OK;
    case CHG_PT_LIST:
        if (!json_is_array(j))
            bad(out, j, p->type);
        else
            return decode_list(b, e, n, j, out, depth);
        return CHG_OK;
    case CHG_PT_OBJECT:
        if (!json_is_object(j))
            bad(out, j, p->type);
        else
            chg_vm_value_from_json(j, out);
        return CHG_OK;
    }
    bad(out, j, p->type);
    return CHG_OK;
}

/* One free for everything decoding made: slots, lists, records and
 * copied strings live in the event's arena; the JSON references, if any
 * are still held, are dropped here. */
void chg_event_free(chg_event *e)
{
    if (!e)
        return;
    json_decref(e->json);
    json_decref(e->raw);
    chg_arena_free(&e->arena);
    chg_free(e);
}

/* Copy the strings a decoded value points to into the event's arena, so
 * the document can go and the event's data sits together in memory (a
 * decision then reads a few adjacent cache lines). Strings of the bundle
 * (enum values) stay where they are. Returns false when the value holds a
 * JSON object or array, which needs the document. */
static bool own(const chg_bundle *b, chg_event *e, chg_value *v, int depth)
{
    if (depth > 64)
        return false;
    if ((v->tag == CHG_V_STR || (v->tag == CHG_V_BAD && v->len == 1)) && v->u.s &&
        /* the pointer range test tells bundle strings (enum values, which
         * must keep their address: enums compare by pointer) from jansson's */
        !((const uint8_t *)v->u.s >= b->data && (const uint8_t *)v->u.s < b->data + b->len)) {
        size_t n = v->tag == CHG_V_STR ? v->len : strlen(v->u.s);
        char *p = chg_arena_strndup(&e->arena, v->u.s, n);
        if (!p)
            return false;
        v->u.s = p;
        return true;
    }
    if (v->tag == CHG_V_JSON)
        return false;
    bool ok = true;
    if (v->tag == CHG_V_LIST || v->tag == CHG_V_REC)
        for (uint32_t i = 0; i < v->len; i++)
            ok &= own(b, e, (chg_value *)&v->u.items[i], depth + 1);
    return ok;
}

/* e's slots, in its (empty) arena, every one missing. */
static bool event_slots(const chg_bundle *b, chg_event *e)
{
    e->slots = chg_arena_alloc(&e->arena, sizeof *e->slots * (b->nslots_change + 1));
    e->eslots = chg_arena_alloc(&e->arena, sizeof *e->eslots * (b->nslots_event + 1));
    if (!e->slots || !e->eslots)
        return false;
    for (uint32_t i = 0; i < b->nslots_change; i++)
        e->slots[i].tag = CHG_V_ABSENT;
    for (uint32_t i = 0; i < b->nslots_event; i++)
        e->eslots[i].tag = CHG_V_ABSENT;
    return true;
}

/* A new event with every slot absent. Both slot arrays always exist
 * (CHANGE indexes them unchecked), in the event's arena with the
 * lists and strings decoding makes, so freeing an event is one call. */
chg_event *chg_vm_event_new(const chg_bundle *b, char *err, size_t errlen)
{
    chg_event *e = chg_calloc(1, sizeof *e);
    if (e)
        chg_arena_init(&e->arena);
    if (!e || !event_slots(b, e)) {
        chg_event_free(e);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    return e;
}

chg_event *chg_vm_event_reuse(const chg_bundle *b, chg_event *e, char *err, size_t errlen)
{
    json_decref(e->json);
    json_decref(e->raw);
    /* nothing of the last change survives but the arena's chunks, empty:
     * the next change's strings fit in them without a malloc */
    chg_arena arena = e->arena;
    memset(e, 0, sizeof *e);
    e->arena = arena;
    chg_arena_reset(&e->arena);
    if (!event_slots(b, e)) {
        chg_event_free(e);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    return e;
}

/* Decode the slots of the paths under root (0 change, 1 event) from j. */
/* Each slot is decoded once per event, whatever the number of rules that
 * read it: that is the point of slots. */
static int decode_root(const chg_bundle *b, chg_event *e, const json_t *j, uint32_t root, chg_value *slots)
{
    for (uint32_t n = 2; n < b->npaths; n++) {
        const chg_pathnode *p = &b->paths[n];
        if (p->slot == CHG_NONE16)
            continue;
        uint32_t r = n;
        while (r >= 2 && b->paths[r].kind != CHG_PN_ELEM)
            r = b->paths[r].parent;
        if (r != root)
            continue; /* another root's, or read through a list element */
        CHG_ASSERT(p->slot < (root == 0 ? b->nslots_change : b->nslots_event)); /* load_paths */
        if (decode_value(b, e, n, json_at(b, j, n, root), &slots[p->slot], 0) != CHG_OK)
            return CHG_ENOMEM;
    }
    return CHG_OK;
}

/* Decode a parsed change. The caller keeps its reference to jv; the event
 * takes its own for as long as a slot points into the document. The event
 * is tied to b (slots and enum pointers are b's) and must be used only
 * with contexts of b and freed before b. */
chg_event *chg_event_from_json(const chg_bundle *b, void *jv, char *err, size_t errlen)
{
    json_t *j = jv;
    if (!json_is_object(j)) {
        snprintf(err, errlen, "a change must be a JSON object, not %s",
                 json_is_array(j) ? "an array" : json_is_string(j) ? "a string" : "a scalar");
        return NULL;
    }
    chg_event *e = chg_vm_event_new(b, err, errlen);
    if (!e)
        return NULL;
    e->json = json_incref(j);
    if (decode_root(b, e, j, 0, e->slots) != CHG_OK || chg_vm_schema_validate(b, e, j) != CHG_OK) {
        chg_event_free(e);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    /* keep the document only while a slot still points into it (a JSON
     * object or array read as a whole): most changes free it here, and a
     * batch of decoded changes then costs their slots, not their JSON */
    bool self_contained = true;
    for (uint32_t i = 0; i < b->nslots_change; i++)
        self_contained &= own(b, e, &e->slots[i], 0);
    if (self_contained) {
        json_decref(e->json);
        e->json = NULL;
    }
    return e;
}

/* Decode with the fast path (fastdecode.c) when it takes the change, else
 * with jansson; NULL d: jansson only. CHG_ENOMEM from the fast path is
 * the machine's, and says so. */
chg_event *chg_vm_event_decode(chg_fastdec *d, const chg_bundle *b, const char *json, size_t len, char *err,
                               size_t errlen)
{
    if (d) {
        chg_event *e;
        int rc = chg_vm_fastdec_decode(d, json, len, false, &e);
        if (rc == CHG_OK)
            return e;
        if (rc == CHG_ENOMEM) {
            snprintf(err, errlen, "%s", chg_strerror(CHG_ENOMEM));
            return NULL;
        }
    }
    return chg_vm_event_decode_json(b, json, len, err, errlen);
}

chg_event *chg_event_decode(const chg_bundle *b, const char *json, size_t len, char *err, size_t errlen)
{
    chg_fastdec *d = chg_vm_fastdec_new(b); /* NULL (out of memory): jansson says so, or manages */
    chg_event *e = chg_vm_event_decode(d, b, json, len, err, errlen);
    chg_vm_fastdec_free(d);
    return e;
}

/* Duplicate keys are refused: {"env":"dev","env":"prod"} would otherwise
 * decide on whichever jansson kept, while another reader of the same
 * change (an approver's tool) may see the other. */
chg_event *chg_vm_event_decode_json(const chg_bundle *b, const char *json, size_t len, char *err, size_t errlen)
{
    json_t *j = chg_vm_json_parse(json, len, JSON_REJECT_DUPLICATES, NULL, err, errlen);
    if (!j)
        return NULL;
    chg_event *e = chg_event_from_json(b, j, err, errlen);
    json_decref(j);
    return e;
}

/* An intake's raw event: only the event slots are decoded, and the JSON is
 * always kept, since the intake's blocks build the change from it and the
 * built change holds a reference to it as well. */
chg_event *chg_vm_event_raw(const chg_bundle *b, void *jv, char *err, size_t errlen)
{
    json_t *j = jv;
    chg_event *e = chg_vm_event_new(b, err, errlen);
    if (!e)
        return NULL;
    e->raw = json_incref(j);
    if (decode_root(b, e, j, 1, e->eslots) != CHG_OK) {
        chg_event_free(e);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    return e;
}

/* ---- the two decoders agree (tests, fuzz/fuzz_decode.c) --------------------------- */

static bool value_same(const chg_bundle *b, const chg_value *x, const chg_value *y, int depth)
{
    if (depth > 64 || x->tag != y->tag || x->flags != y->flags || x->layout != y->layout || x->len != y->len)
        return false;
    switch (x->tag) {
    case CHG_V_STR: {
        /* an enum's string is the bundle's, in both or in neither */
        bool xb = (const uint8_t *)x->u.s >= b->data && (const uint8_t *)x->u.s < b->data + b->len;
        bool yb = (const uint8_t *)y->u.s >= b->data && (const uint8_t *)y->u.s < b->data + b->len;
        return xb == yb && (xb ? x->u.s == y->u.s : memcmp(x->u.s, y->u.s, x->len) == 0);
    }
    case CHG_V_LIST:
    case CHG_V_REC:
        for (uint32_t i = 0; i < x->len; i++)
            if (!value_same(b, &x->u.items[i], &y->u.items[i], depth + 1))
                return false;
        return true;
    case CHG_V_NULL:
    case CHG_V_ABSENT: return true;
    case CHG_V_JSON: return false; /* not compared: the fast path never keeps JSON */
    default: return memcmp(&x->u, &y->u, sizeof x->u) == 0;
    }
}

bool chg_vm_event_same(const chg_bundle *b, const chg_event *x, const chg_event *y)
{
    if (x->nerrors != y->nerrors || x->nwarnings != y->nwarnings || (x->json == NULL) != (y->json == NULL))
        return false;
    for (uint32_t i = 0; i < x->nerrors; i++)
        if (x->errors[i].len != y->errors[i].len || memcmp(x->errors[i].msg, y->errors[i].msg, x->errors[i].len))
            return false;
    for (uint32_t i = 0; i < x->nwarnings; i++)
        if (x->warnings[i].len != y->warnings[i].len ||
            memcmp(x->warnings[i].msg, y->warnings[i].msg, x->warnings[i].len))
            return false;
    for (uint32_t i = 0; i < b->nslots_change; i++)
        if (!value_same(b, &x->slots[i], &y->slots[i], 0))
            return false;
    for (uint32_t i = 0; i < b->nslots_event; i++)
        if (!value_same(b, &x->eslots[i], &y->eslots[i], 0))
            return false;
    return true;
}

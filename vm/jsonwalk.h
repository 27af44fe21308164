/*
 * jsonwalk.h — one validating pass over a JSON document with simdjson's
 * On-Demand parser, reporting to a visitor only the values it asks for.
 *
 * The change decoder's fast path (fastdecode.c) is the visitor: it says,
 * key by key, which values the policy or the schema needs (a non-NULL
 * cookie), and the walker reports those; everything else is validated
 * and passed over, never built into a tree. The walker is the only C++
 * in the project (jsonwalk.cc), behind this C interface.
 *
 * A document the walker accepts is one jansson (chg_vm_json_parse with
 * JSON_REJECT_DUPLICATES) accepts too, with the same values: every byte
 * valid UTF-8; strings without raw control characters, with valid
 * escapes, no \u0000 and no unpaired surrogate; numbers of JSON's grammar,
 * integers within int64, reals finite; no duplicate key in any object
 * (keys compared unescaped); one object at the top, then only whitespace.
 * It may refuse more than jansson does (nesting deeper than 1024, say):
 * a refusal only sends the caller to the jansson path, which then gives
 * the decision or the exact error message.
 */
#ifndef CHG_VM_JSONWALK_H
#define CHG_VM_JSONWALK_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct chg_jwalk chg_jwalk;

/* The kind of a JSON value, as jansson tells them apart (an integer is
 * written without fraction or exponent). */
enum { CHG_JW_OBJECT, CHG_JW_ARRAY, CHG_JW_STRING, CHG_JW_INT, CHG_JW_REAL, CHG_JW_TRUE, CHG_JW_FALSE, CHG_JW_NULL };

/* A scalar: a string unescaped (s, len; valid until the walk ends), an
 * integer (i), a real (f). */
typedef struct chg_jw_scalar {
    const char *s;
    size_t len;
    int64_t i;
    double f;
} chg_jw_scalar;

/* The visitor. Each callback returns 0 to go on, anything else to stop
 * the walk (chg_vm_jwalk_run then returns CHG_JW_DECLINED). Cookies are the
 * visitor's; NULL means "not wanted": such a value and everything in it
 * is validated and not reported. */
typedef struct chg_jw_visitor {
    /* a wanted value of kind `kind`; x is set for scalars. For an object
     * or array its members follow (key/elem, then their values), then end */
    int (*value)(void *ud, void *cookie, int kind, const chg_jw_scalar *x);
    /* a key of the wanted object `cookie`: *child is the cookie of its value */
    int (*key)(void *ud, void *cookie, const char *key, size_t len, void **child);
    /* an element of the wanted array `cookie` */
    int (*elem)(void *ud, void *cookie, void **child);
    /* the end of the wanted object or array `cookie`, of `count` members */
    int (*end)(void *ud, void *cookie, int kind, size_t count);
} chg_jw_visitor;

enum { CHG_JW_DECLINED = 1 };

chg_jwalk *chg_vm_jwalk_new(void);
void chg_vm_jwalk_free(chg_jwalk *w);

/* Walk text (a leading UTF-8 byte order mark is skipped, as
 * chg_vm_json_parse does), the top-level value with cookie `root`.
 * Returns CHG_OK, CHG_JW_DECLINED (not valid as above, or the visitor
 * stopped), or CHG_ENOMEM. */
int chg_vm_jwalk_run(chg_jwalk *w, const char *text, size_t len, const chg_jw_visitor *v, void *ud, void *root);
/* One walk for two visitors: each visitor k with a root[k] (NULL: none)
 * is told what it alone would be told, and rc[k] is what
 * chg_vm_jwalk_run would return for it; one that stops is told nothing
 * more, and the walk goes on for the other. */
void chg_vm_jwalk_run2(chg_jwalk *w, const char *text, size_t len, const chg_jw_visitor *const v[2],
                       void *const ud[2], void *const root[2], int rc[2]);

#ifdef __cplusplus
}
#endif

#endif

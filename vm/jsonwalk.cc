/*
 * jsonwalk.cc — the validating On-Demand walk of jsonwalk.h.
 *
 * simdjson's On-Demand API parses what it is asked for and skips the rest
 * with little checking: a skipped string's escapes, a skipped number's
 * digits, a duplicate key are not its business. A change is untrusted
 * input, so this walk asks for everything: it visits every key and every
 * value of the document, checks each scalar's raw token itself (the
 * string, number and literal grammars of RFC 8259 and jansson's extra
 * rules) before simdjson converts it, and keeps the keys of each open
 * object to refuse duplicates. What nobody reads is checked and dropped:
 * nothing is built, nothing allocated per value. Its memory — the padded
 * copy of the text, the open objects' keys, a hash table for objects of
 * many keys — is the walker's and is reused from one document to the next.
 *
 * Anything the walk does not like is CHG_JW_DECLINED, never an error
 * message: the caller then parses with jansson, which says what is wrong
 * in its words (the messages users see do not depend on this file).
 */
#define SIMDJSON_EXCEPTIONS 0
#include <simdjson.h>

#include <clocale>
#include <cmath>
#include <cstdlib>
#include <cstring>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

extern "C" {
#include "chg_base.h"
}
#include "jsonwalk.h"

using namespace simdjson;

namespace {

/* Deeper than this the walk declines (jansson allows 2048 and says so). */
constexpr int MAX_DEPTH = 1000;
/* Objects with more keys than this look duplicates up in the hash table. */
constexpr size_t LINEAR_KEYS = 16;

struct key_ref {
    const char *p;
    uint32_t n;
    uint32_t h;       /* the hash, made only for objects past LINEAR_KEYS */
    uint32_t sig;     /* length, first and last byte: most keys differ in these */
};

struct slot {
    uint64_t obj;     /* the object's serial; 0: empty */
    uint32_t key;     /* index in keys */
};

} // namespace

struct chg_jwalk {
    ondemand::parser parser;
    char *buf = nullptr;           /* the text, then SIMDJSON_PADDING bytes */
    size_t cap = 0;
    key_ref *keys = nullptr;       /* keys of the open objects, innermost last */
    size_t nkeys = 0, capkeys = 0;
    slot *table = nullptr;         /* (object, key) of objects past LINEAR_KEYS */
    size_t captable = 0, ntable = 0;
    uint64_t serial = 0;           /* objects walked, ever: names a table entry's object */
    uint64_t table_from = 1;       /* entries of serials below this are stale */
    const char *end = nullptr;     /* of the text in buf */
    const chg_jw_visitor *v = nullptr;
    void *ud = nullptr;
    bool oom = false;
};

namespace {

enum { OK = 0, DECLINE = 1, NOMEM = 2 };

bool grow(void **p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return true;
    size_t n = *cap ? *cap : 16;
    while (n < need)
        n *= 2;
    void *q = chg_realloc(*p, n * size);
    if (!q)
        return false;
    *p = q;
    *cap = n;
    return true;
}

bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

bool only_ws(const char *p, const char *end)
{
    for (; p < end; p++)
        if (!is_ws(*p))
            return false;
    return true;
}

int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* \uXXXX at p (p points at the 'u'); -1 if not four hex digits. */
long hex4(const char *p, const char *end)
{
    if (end - p < 5)
        return -1;
    long v = 0;
    for (int k = 1; k <= 4; k++) {
        int d = hexval(p[k]);
        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    return v;
}

/* The first byte at or after p that is a quote, a backslash or a control
 * (or end). Every string scanned lies in the walker's buffer, which has
 * SIMDJSON_PADDING (at least 16) NUL bytes after the text's end: sixteen
 * bytes may be read from any p before end, and a NUL past end stops the
 * scan as a control would. With SSE2, sixteen bytes at a time (a key or
 * a short value is one step); else eight at a time while no byte of a
 * word is one (the word tests are exact below 0x80, and every byte from
 * 0x80 up is plain here: the text is valid UTF-8), then byte by byte. */
const char *skip_plain(const char *p, const char *end)
{
    static_assert(SIMDJSON_PADDING >= 16, "skip_plain reads 16 bytes past any byte of the text");
#ifdef __SSE2__
    const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\'), ctl = _mm_set1_epi8(0x1f);
    while (p < end) {
        __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i *>(p));
        /* unsigned v <= 0x1f: min(v, 0x1f) == v */
        __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bslash)),
                                   _mm_cmpeq_epi8(_mm_min_epu8(v, ctl), v));
        unsigned m = (unsigned)_mm_movemask_epi8(hit);
        if (m) {
            p += __builtin_ctz(m);
            return p < end ? p : end;
        }
        p += 16;
    }
    return end;
#else
    const uint64_t ones = 0x0101010101010101ULL, high = 0x8080808080808080ULL;
    while (end - p >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        uint64_t q = w ^ (ones * '"'), bs = w ^ (ones * '\\');
        uint64_t hit = ((w - ones * 0x20) & ~w & high) | ((q - ones) & ~q & high) | ((bs - ones) & ~bs & high);
        if (hit)
            break;
        p += 8;
    }
    while (p < end && *p != '"' && *p != '\\' && (unsigned char)*p >= 0x20)
        p++;
    return p;
#endif
}

/* The string whose opening quote is at p (the text ends before end):
 * valid as jansson reads strings? Returns the byte after the closing
 * quote, or NULL. *body and *blen are the bytes between the quotes,
 * *escaped whether any backslash is among them. The text is valid UTF-8
 * already (checked whole). */
const char *scan_string(const char *p, const char *end, const char **body, size_t *blen, bool *escaped)
{
    if (p == end || *p != '"')
        return nullptr;
    const char *s = ++p;
    bool esc = false;
    for (;;) {
        p = skip_plain(p, end);
        if (p == end)
            return nullptr;
        unsigned char c = (unsigned char)*p;
        if (c == '"')
            break;
        if (c < 0x20)
            return nullptr; /* jansson: "control character 0x.. in string" */
        if (c != '\\') {
            p++;
            continue;
        }
        esc = true;
        if (end - p < 2)
            return nullptr;
        char e = p[1];
        if (e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' || e == 'n' || e == 'r' || e == 't') {
            p += 2;
            continue;
        }
        if (e != 'u')
            return nullptr;
        long u = hex4(p + 1, end);
        if (u <= 0)
            return nullptr; /* not hex, or \u0000: jansson refuses it without JSON_ALLOW_NUL */
        p += 6;
        if (u >= 0xDC00 && u <= 0xDFFF)
            return nullptr; /* a low surrogate first */
        if (u >= 0xD800 && u <= 0xDBFF) { /* must be followed by \u and a low one */
            if (end - p < 6 || p[0] != '\\' || p[1] != 'u')
                return nullptr;
            long l = hex4(p + 1, end);
            if (l < 0xDC00 || l > 0xDFFF)
                return nullptr;
            p += 6;
        }
    }
    *body = s;
    *blen = (size_t)(p - s);
    *escaped = esc;
    return p + 1;
}

/* A string token: the string, then only whitespace. */
bool check_string(std::string_view tok, const char **body, size_t *blen, bool *escaped)
{
    const char *end = tok.data() + tok.size();
    const char *after = scan_string(tok.data(), end, body, blen, escaped);
    return after && only_ws(after, end);
}

/* A number token: JSON's grammar, then only whitespace. *integer: no
 * fraction and no exponent (jansson's JSON_INTEGER); *len: the number's
 * bytes. */
bool check_number(std::string_view tok, bool *integer, size_t *len)
{
    const char *p = tok.data(), *end = p + tok.size();
    auto digit = [&](const char *q) { return q < end && *q >= '0' && *q <= '9'; };
    bool in = true;
    if (p < end && *p == '-')
        p++;
    if (!digit(p))
        return false;
    if (*p == '0')
        p++;
    else
        while (digit(p))
            p++;
    if (p < end && *p == '.') {
        in = false;
        p++;
        if (!digit(p))
            return false;
        while (digit(p))
            p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        in = false;
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        if (!digit(p))
            return false;
        while (digit(p))
            p++;
    }
    *integer = in;
    *len = (size_t)(p - tok.data());
    return only_ws(p, end);
}

/* The integer of n checked digits at p (an optional '-' first), if it
 * fits int64, as strtoll reads it. */
bool to_int64(const char *p, size_t n, int64_t *out)
{
    bool neg = *p == '-';
    size_t i = neg;
    uint64_t v = 0, lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; i < n; i++) {
        uint64_t d = (uint64_t)(p[i] - '0');
        if (v > (lim - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return true;
}

/* The real of n checked bytes at p, as jansson's strtod reads it: false
 * when it overflows to infinity, or when the locale's decimal point is
 * not '.' (jansson rewrites the text for it; the jansson path then does).
 * The text is NUL-padded after the document and a checked number ends
 * before a byte strtod stops at, so strtod reads exactly the n bytes. */
bool to_double(const char *p, size_t n, double *out)
{
    const char *dp = localeconv()->decimal_point;
    if (!dp || strcmp(dp, ".") != 0)
        return false;
    char *end;
    *out = strtod(p, &end);
    return end == p + n && std::isfinite(*out);
}

bool literal(std::string_view tok, const char *word)
{
    size_t n = strlen(word);
    return tok.size() >= n && memcmp(tok.data(), word, n) == 0 && only_ws(tok.data() + n, tok.data() + tok.size());
}

uint32_t hash_key(const char *p, size_t n, uint64_t obj)
{
    uint64_t h = 0xcbf29ce484222325ULL ^ (obj * 0x9E3779B97F4A7C15ULL);
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 0x100000001b3ULL;
    return (uint32_t)(h ^ (h >> 32));
}

uint32_t key_sig(const char *p, size_t n)
{
    return n ? (uint32_t)(n & 0xffff) << 16 | (uint32_t)(unsigned char)p[0] << 8 | (unsigned char)p[n - 1] : 0;
}

bool same_key(const key_ref &a, const key_ref &b) { return a.sig == b.sig && a.n == b.n && memcmp(a.p, b.p, a.n) == 0; }

/* Insert keys[k] of object obj into the table; false when it is there
 * already (a duplicate) or memory ran out (w->oom). */
bool table_insert(chg_jwalk *w, uint64_t obj, size_t k)
{
    if ((w->ntable + 1) * 2 > w->captable) { /* rehash the live entries into twice the room */
        size_t ncap = w->captable ? w->captable * 2 : 256;
        slot *n = (slot *)chg_realloc(nullptr, ncap * sizeof *n);
        if (!n) {
            w->oom = true;
            return false;
        }
        memset(n, 0, ncap * sizeof *n);
        size_t live = 0;
        for (size_t i = 0; i < w->captable; i++) {
            slot s = w->table[i];
            if (s.obj < w->table_from)
                continue;
            size_t j = w->keys[s.key].h & (ncap - 1);
            while (n[j].obj)
                j = (j + 1) & (ncap - 1);
            n[j] = s;
            live++;
        }
        chg_free(w->table);
        w->table = n;
        w->captable = ncap;
        w->ntable = live;
    }
    key_ref &key = w->keys[k];
    size_t j = key.h & (w->captable - 1);
    for (;;) {
        slot &s = w->table[j];
        if (s.obj < w->table_from)
            break; /* empty, or another document's */
        if (s.obj == obj && same_key(w->keys[s.key], key))
            return false;
        j = (j + 1) & (w->captable - 1);
    }
    w->table[j] = slot{obj, (uint32_t)k};
    w->ntable++;
    return true;
}

/* Record key (p, n) of object obj whose keys start at keys[base]: false
 * when the object has it already. */
bool add_key(chg_jwalk *w, uint64_t obj, size_t base, const char *p, size_t n, uint64_t *seen)
{
    if (n > UINT32_MAX || !grow((void **)&w->keys, &w->capkeys, w->nkeys + 1, sizeof *w->keys)) {
        w->oom = true;
        return false;
    }
    size_t k = w->nkeys++;
    w->keys[k] = key_ref{p, (uint32_t)n, 0, key_sig(p, n)};
    size_t count = k - base;
    if (count < LINEAR_KEYS) {
        /* *seen has a bit for each signature among the object's keys so
         * far: a key whose bit is clear is no duplicate */
        uint64_t bit = 1ULL << (w->keys[k].sig * 0x9E3779B1u >> 26);
        bool maybe = *seen & bit;
        *seen |= bit;
        if (!maybe)
            return true;
        for (size_t i = base; i < k; i++)
            if (same_key(w->keys[i], w->keys[k]))
                return false;
        return true;
    }
    if (count == LINEAR_KEYS) /* from now on by the table: enter the earlier keys */
        for (size_t i = base; i < k; i++) {
            w->keys[i].h = hash_key(w->keys[i].p, w->keys[i].n, obj);
            if (!table_insert(w, obj, i))
                return false;
        }
    w->keys[k].h = hash_key(p, n, obj);
    return table_insert(w, obj, k);
}

int walk(chg_jwalk *w, ondemand::value v, void *c, int depth);

int walk_object(chg_jwalk *w, ondemand::value v, void *c, int depth)
{
    ondemand::object o;
    if (v.get_object().get(o))
        return DECLINE;
    if (c && w->v->value(w->ud, c, CHG_JW_OBJECT, nullptr))
        return DECLINE;
    uint64_t obj = ++w->serial;
    size_t base = w->nkeys, count = 0;
    uint64_t seen = 0;
    int rc = OK;
    for (auto r : o) {
        ondemand::field f;
        if (std::move(r).get(f)) {
            rc = DECLINE;
            break;
        }
        /* the key's raw text: from its opening quote, then ':' after
         * whitespace (the buffer ends in NUL padding, so the scan stops) */
        const char *body;
        size_t blen;
        bool escaped;
        const char *after = scan_string(f.key().raw() - 1, w->end, &body, &blen, &escaped);
        while (after && after < w->end && is_ws(*after))
            after++;
        if (!after || after == w->end || *after != ':') {
            rc = DECLINE;
            break;
        }
        std::string_view key(body, blen);
        if (escaped && f.unescaped_key().get(key)) {
            rc = DECLINE;
            break;
        }
        if (!add_key(w, obj, base, key.data(), key.size(), &seen)) {
            rc = w->oom ? NOMEM : DECLINE;
            break;
        }
        void *child = nullptr;
        if (c && w->v->key(w->ud, c, key.data(), key.size(), &child)) {
            rc = DECLINE;
            break;
        }
        if ((rc = walk(w, f.value(), child, depth + 1)) != OK)
            break;
        count++;
    }
    w->nkeys = base;
    if (rc == OK && c && w->v->end(w->ud, c, CHG_JW_OBJECT, count))
        rc = DECLINE;
    return rc;
}

int walk_array(chg_jwalk *w, ondemand::value v, void *c, int depth)
{
    ondemand::array a;
    if (v.get_array().get(a))
        return DECLINE;
    if (c && w->v->value(w->ud, c, CHG_JW_ARRAY, nullptr))
        return DECLINE;
    size_t count = 0;
    for (auto r : a) {
        ondemand::value e;
        if (std::move(r).get(e))
            return DECLINE;
        void *child = nullptr;
        if (c && w->v->elem(w->ud, c, &child))
            return DECLINE;
        int rc = walk(w, e, child, depth + 1);
        if (rc != OK)
            return rc;
        count++;
    }
    if (c && w->v->end(w->ud, c, CHG_JW_ARRAY, count))
        return DECLINE;
    return OK;
}

int walk(chg_jwalk *w, ondemand::value v, void *c, int depth)
{
    if (depth > MAX_DEPTH)
        return DECLINE;
    ondemand::json_type t;
    if (v.type().get(t))
        return DECLINE;
    switch (t) {
    case ondemand::json_type::object: return walk_object(w, v, c, depth);
    case ondemand::json_type::array: return walk_array(w, v, c, depth);
    default: break;
    }
    std::string_view tok = v.raw_json_token();
    chg_jw_scalar x = {nullptr, 0, 0, 0};
    int kind;
    switch (t) {
    case ondemand::json_type::string: {
        bool escaped;
        if (!check_string(tok, &x.s, &x.len, &escaped))
            return DECLINE;
        kind = CHG_JW_STRING;
        if (c && escaped) {
            std::string_view s;
            if (v.get_string().get(s))
                return DECLINE;
            x.s = s.data();
            x.len = s.size();
        } else {
            ondemand::raw_json_string r;
            if (v.get_raw_json_string().get(r))
                return DECLINE;
        }
        break;
    }
    case ondemand::json_type::number: {
        bool integer;
        size_t n;
        if (!check_number(tok, &integer, &n))
            return DECLINE;
        /* converted here, not by simdjson: its 3.0 double parser misreads
         * some long mantissas (0.92233720368547758085 as 5e-20), and these
         * are jansson's conversions (strtoll, strtod) */
        if (integer) {
            kind = CHG_JW_INT;
            if (!to_int64(tok.data(), n, &x.i)) /* beyond int64: jansson's "too big integer" */
                return DECLINE;
        } else {
            kind = CHG_JW_REAL;
            if (!to_double(tok.data(), n, &x.f)) /* "real number overflow" */
                return DECLINE;
        }
        break; /* a scalar not asked for is stepped over by the next field or element */
    }
    case ondemand::json_type::boolean: {
        bool b;
        if (!(literal(tok, "true") || literal(tok, "false")) || v.get_bool().get(b))
            return DECLINE;
        kind = b ? CHG_JW_TRUE : CHG_JW_FALSE;
        break;
    }
    case ondemand::json_type::null: {
        bool is;
        if (!literal(tok, "null") || v.is_null().get(is) || !is)
            return DECLINE;
        kind = CHG_JW_NULL;
        break;
    }
    default: return DECLINE;
    }
    if (c && w->v->value(w->ud, c, kind, &x))
        return DECLINE;
    return OK;
}

} // namespace

extern "C" chg_jwalk *chg_vm_jwalk_new(void)
{
    void *m = chg_realloc(nullptr, sizeof(chg_jwalk));
    return m ? new (m) chg_jwalk() : nullptr;
}

extern "C" void chg_vm_jwalk_free(chg_jwalk *w)
{
    if (!w)
        return;
    chg_free(w->buf);
    chg_free(w->keys);
    chg_free(w->table);
    w->~chg_jwalk();
    chg_free(w);
}

extern "C" int chg_vm_jwalk_run(chg_jwalk *w, const char *text, size_t len, const chg_jw_visitor *v, void *ud,
                             void *root)
{
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) {
        text += 3;
        len -= 3;
    }
    /* simdjson reads up to SIMDJSON_PADDING bytes past the end */
    if (len > SIZE_MAX - SIMDJSON_PADDING - 1 || !grow((void **)&w->buf, &w->cap, len + SIMDJSON_PADDING + 1, 1))
        return CHG_ENOMEM;
    memcpy(w->buf, text, len);
    memset(w->buf + len, 0, SIMDJSON_PADDING + 1);
    /* the whole text, not only what is read: jansson checks every byte */
    if (!validate_utf8(w->buf, len))
        return CHG_JW_DECLINED;
    w->end = w->buf + len;
    w->v = v;
    w->ud = ud;
    w->oom = false;
    w->nkeys = 0;
    w->table_from = w->serial + 1; /* the table's entries are the last document's */
    w->ntable = 0;
    ondemand::document doc;
    error_code e = w->parser.iterate(padded_string_view(w->buf, len, w->cap)).get(doc);
    if (e)
        return e == MEMALLOC ? (int)CHG_ENOMEM : (int)CHG_JW_DECLINED;
    ondemand::value top;
    ondemand::json_type t;
    if (doc.type().get(t) || t != ondemand::json_type::object || doc.get_value().get(top))
        return CHG_JW_DECLINED;
    int rc = walk(w, top, root, 1);
    if (rc != OK)
        return rc == NOMEM ? (int)CHG_ENOMEM : (int)CHG_JW_DECLINED;
    /* nothing but whitespace after the object: the document is at its end */
    const char *at;
    if (doc.current_location().get(at) != OUT_OF_BOUNDS)
        return CHG_JW_DECLINED;
    return CHG_OK;
}

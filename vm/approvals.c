/*
 * approvals.c — does a change have the approvals it needs?
 *
 * The requirement algebra (`2 of group "cab" within 72h and 1 of any`,
 * `or`, `none`) is put in disjunctive normal form (each requirement a
 * rule or the approvals block names, once, when the bundle is loaded:
 * chg_vm_areq_prepare; a decision multiplies the forms of the
 * requirements in force when there are several); each conjunction is met
 * when its terms can be filled by *distinct* people — a bipartite matching
 * of approvers to term slots, so one person never counts twice. An
 * approval counts for a term when its approver fits the term (the group,
 * any group, or one of the people listed), it is not older than the term's
 * `within` at `now`, it was given at or before `now`, and its approver is
 * not the requester (unless the term says `including requester`). Any
 * approval with decision "reject" (at or before `now`) rejects the change.
 *
 * A decision's work lives on the stack or in the context's scratch arena
 * (the normal forms in the bundle's): no heap allocation. Limits (documented): 256 approvals, 64 approver slots and
 * 16 terms per conjunction, 32 conjunctions; past them the decision is an
 * error, never a wrong answer. Anything in an approval's `decision` but
 * "approve"/"approved" is a rejection (fail closed).
 */
#include "vm_int.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "chg_time.h"

#define MAX_APPROVALS 256
#define MAX_SLOTS 64
#define MAX_TERMS CHG_AREQ_MAX_TERMS
#define MAX_CLAUSES CHG_AREQ_MAX_CLAUSES
/* a decision lists at most one text per term of the clause it reports */
_Static_assert(MAX_TERMS <= 64, "ctx->satisfied and ctx->missing hold 64 (chg_ctx_new)");
/* a person's slots are the bits of one word */
_Static_assert(MAX_SLOTS == 64, "slot sets are uint64_t");

typedef struct approval {
    const char *by;
    uint32_t by_len;
    const char *group;
    uint32_t group_len;
    int64_t at;
} approval;

typedef chg_vm_clause clause;

/* DNF of node n into out[*count..]; false when it grows past the limits.
 * The loader keeps the requirement a tree no deeper than
 * CHG_MAX_AREQ_DEPTH (shared operands would make this exponential), so the
 * recursion is bounded; the depth test is a second fence. The clause
 * arrays are on the stack (32 clauses of 16 terms: 2 KiB each): the whole
 * evaluation allocates nothing. */
static bool dnf(const chg_bundle *b, uint32_t n, clause *out, uint32_t *count, int depth)
{
    if (depth > 64)
        return false;
    CHG_ASSERT(n < b->nareqs && depth <= CHG_MAX_AREQ_DEPTH);
    const chg_areqdef *q = &b->areqs[n];
    switch (q->kind) {
    case CHG_AR_NONE:
        if (*count >= MAX_CLAUSES)
            return false;
        out[(*count)++].n = 0;
        return true;
    case CHG_AR_OR:
        return dnf(b, q->a, out, count, depth + 1) && dnf(b, q->b, out, count, depth + 1);
    case CHG_AR_AND: {
        clause left[MAX_CLAUSES], right[MAX_CLAUSES];
        uint32_t nl = 0, nr = 0;
        if (!dnf(b, q->a, left, &nl, depth + 1) || !dnf(b, q->b, right, &nr, depth + 1))
            return false;
        for (uint32_t i = 0; i < nl; i++)
            for (uint32_t k = 0; k < nr; k++) {
                if (*count >= MAX_CLAUSES || left[i].n + right[k].n > MAX_TERMS)
                    return false;
                clause *c = &out[(*count)++];
                memcpy(c->terms, left[i].terms, sizeof(uint32_t) * left[i].n);
                memcpy(c->terms + left[i].n, right[k].terms, sizeof(uint32_t) * right[k].n);
                c->n = left[i].n + right[k].n;
            }
        return true;
    }
    default:
        /* a term: group, any or people, with 1 to 64 approvers (load_decisions) */
        CHG_ASSERT(q->kind == CHG_AR_GROUP || q->kind == CHG_AR_ANY || q->kind == CHG_AR_PEOPLE);
        CHG_ASSERT(q->count >= 1 && q->count <= MAX_SLOTS);
        if (*count >= MAX_CLAUSES)
            return false;
        out[*count].terms[0] = n;
        out[(*count)++].n = 1;
        return true;
    }
}

bool chg_vm_areq_prepare(chg_bundle *b, uint32_t n)
{
    chg_areqdef *q = &b->areqs[n];
    if (q->dnf || q->dnf_big)
        return true;
    clause out[MAX_CLAUSES];
    uint32_t count = 0;
    if (!dnf(b, n, out, &count, 0)) {
        q->dnf_big = true;
        return true;
    }
    clause *c = chg_arena_alloc_raw(&b->arena, sizeof *c * count);
    if (!c)
        return false;
    memcpy(c, out, sizeof *c * count);
    q->dnf = c;
    q->ndnf = count;
    return true;
}

/* Names (people, groups) are short: compared in line, a byte at a time,
 * rather than by a call to memcmp, which costs more to call than such a
 * compare takes; longer ones go to memcmp. */
static inline bool str_eq(const char *a, uint32_t al, const char *b, size_t bl)
{
    if (al != bl)
        return false;
    if (al > 16)
        return memcmp(a, b, al) == 0;
    for (uint32_t i = 0; i < al; i++)
        if (a[i] != b[i])
            return false;
    return true;
}

static bool is_requester(const approval *p, const chg_value *requester)
{
    return requester && requester->tag == CHG_V_STR && str_eq(p->by, p->by_len, requester->u.s, requester->len);
}

/* Does approval p, from the requester when own, count for term q at now? */
static bool fits_own(const chg_bundle *b, const chg_areqdef *q, const approval *p, bool own, int64_t now)
{
    if (q->within && p->at < now - q->within)
        return false;
    if (!q->including && own)
        return false;
    switch (q->kind) {
    case CHG_AR_GROUP:
        return p->group && str_eq(p->group, p->group_len, b->str[q->group], b->strlen[q->group]);
    case CHG_AR_ANY:
        return true;
    case CHG_AR_PEOPLE: {
        const chg_value *l = &b->consts[q->people];
        CHG_ASSERT(l->tag == CHG_V_LIST); /* of strings, checked at load */
        for (uint32_t i = 0; i < l->len; i++)
            if (str_eq(p->by, p->by_len, l->u.items[i].u.s, l->u.items[i].len))
                return true;
        return false;
    }
    default:
        return false;
    }
}

/* Does approval p count for term q at now? */
static bool fits(const chg_bundle *b, const chg_areqdef *q, const approval *p, const chg_value *requester,
                 int64_t now)
{
    return fits_own(b, q, p, is_requester(p, requester), now);
}

/* Kuhn's augmenting path from person u: O(people × slots) per person,
 * at most 256 × 64, and the recursion is at most 64 deep (each level
 * marks a slot seen). A greedy assignment would be wrong: the first
 * approver may fit two terms and take the only slot another could fill.
 * adj[u] is the set of slots person u may fill, one bit each. */
static bool augment(uint32_t u, const uint64_t *adj, int *slot_of, uint64_t *taken, uint64_t *seen)
{
    for (uint64_t m = adj[u] & ~*seen; m; m &= m - 1) {
        int s = __builtin_ctzll(m);
        if (*seen >> s & 1)
            continue; /* marked by a deeper level of this search */
        *seen |= 1ULL << s;
        if (!(*taken >> s & 1) || augment((uint32_t)slot_of[s], adj, slot_of, taken, seen)) {
            slot_of[s] = (int)u;
            *taken |= 1ULL << s;
            return true;
        }
    }
    return false;
}

/* The approvals given so far, as match() reads them: ap[i] is person
 * person_of[i] (distinct people in order of first approval: one person
 * approving twice is still one approver), own[i] whether it is the
 * requester's. Made once per decision, for every conjunction tried. */
typedef struct people {
    uint32_t person_of[MAX_APPROVALS];
    bool own[MAX_APPROVALS];
    uint32_t npeople;
} people;

static void find_people(const approval *ap, uint32_t nap, const chg_value *requester, people *pp)
{
    CHG_ASSERT(nap <= MAX_APPROVALS);
    uint32_t first[MAX_APPROVALS];
    uint32_t npeople = 0;
    for (uint32_t i = 0; i < nap; i++) {
        uint32_t p = npeople;
        for (uint32_t k = 0; k < npeople; k++)
            if (str_eq(ap[i].by, ap[i].by_len, ap[first[k]].by, ap[first[k]].by_len)) {
                p = k;
                break;
            }
        if (p == npeople)
            first[npeople++] = i;
        pp->person_of[i] = p;
        pp->own[i] = is_requester(&ap[i], requester);
    }
    pp->npeople = npeople;
}

/* Match people to the clause's slots; filled[t] = slots of term t filled.
 * A term's slots are consecutive bits, and an approval that fits the term
 * may fill any of them, so fits() is asked once per approval and term. */
static void match(const chg_bundle *b, const clause *c, const approval *ap, uint32_t nap, const people *pp,
                  int64_t now, uint32_t *filled)
{
    CHG_ASSERT(nap <= MAX_APPROVALS && c->n <= MAX_TERMS);
    uint64_t term_slots[MAX_TERMS];
    uint32_t slot_term[MAX_SLOTS], nslots = 0;
    for (uint32_t t = 0; t < c->n; t++) {
        filled[t] = 0;
        uint32_t first = nslots;
        for (uint32_t k = 0; k < b->areqs[c->terms[t]].count && nslots < MAX_SLOTS; k++)
            slot_term[nslots++] = t;
        uint32_t n = nslots - first;
        term_slots[t] = (n == 64 ? ~0ULL : ((1ULL << n) - 1)) << first;
    }
    /* people are numbered in order of first approval, so person p's row
     * is cleared at its first approval (no memset call for a few words) */
    uint64_t adj[MAX_APPROVALS];
    uint32_t seen_people = 0;
    for (uint32_t i = 0; i < nap; i++) {
        uint32_t p = pp->person_of[i];
        if (p == seen_people)
            adj[seen_people++] = 0;
        CHG_ASSERT(p < seen_people);
        for (uint32_t t = 0; t < c->n; t++)
            if (term_slots[t] && fits_own(b, &b->areqs[c->terms[t]], &ap[i], pp->own[i], now))
                adj[p] |= term_slots[t];
    }
    CHG_ASSERT(seen_people == pp->npeople);
    int slot_of[MAX_SLOTS]; /* slot s is taken by person slot_of[s] when bit s of taken is set */
    uint64_t taken = 0;
    for (uint32_t p = 0; p < pp->npeople; p++) {
        uint64_t seen = 0;
        augment(p, adj, slot_of, &taken, &seen);
    }
    for (uint64_t m = taken; m; m &= m - 1)
        filled[slot_term[__builtin_ctzll(m)]]++;
}

/* ---- rendering ---------------------------------------------------------------------- */

void chg_vm_areq_render_term(const chg_bundle *b, const chg_areqdef *q, uint32_t count, chg_buf *out)
{
    chg_buf_printf(out, "%u of ", count);
    switch (q->kind) {
    case CHG_AR_GROUP: chg_buf_printf(out, "group %s", b->str[q->group]); break;
    case CHG_AR_ANY: chg_buf_puts(out, "any"); break;
    default: {
        const chg_value *l = &b->consts[q->people];
        chg_buf_putc(out, '[');
        for (uint32_t i = 0; i < l->len; i++)
            chg_buf_printf(out, "%s%.*s", i ? ", " : "", (int)l->u.items[i].len, l->u.items[i].u.s);
        chg_buf_putc(out, ']');
    }
    }
    if (q->within && q->within_text != CHG_NONE32)
        chg_buf_printf(out, " within %s", b->str[q->within_text]);
    else if (q->within) {
        char d[32];
        chg_duration_format(q->within, d, sizeof d);
        chg_buf_printf(out, " within %s", d);
    }
    if (q->including)
        chg_buf_puts(out, " including requester");
}

static void render(const chg_bundle *b, uint32_t n, chg_buf *out, int parent, int depth)
{
    const chg_areqdef *q = &b->areqs[n];
    if (depth > 64)
        return;
    switch (q->kind) {
    case CHG_AR_NONE: chg_buf_puts(out, "none"); break;
    case CHG_AR_AND:
    case CHG_AR_OR: {
        bool paren = q->kind == CHG_AR_OR && parent == CHG_AR_AND;
        if (paren)
            chg_buf_putc(out, '(');
        render(b, q->a, out, q->kind, depth + 1);
        chg_buf_puts(out, q->kind == CHG_AR_AND ? " and " : " or ");
        render(b, q->b, out, q->kind, depth + 1);
        if (paren)
            chg_buf_putc(out, ')');
        break;
    }
    default: chg_vm_areq_render_term(b, q, q->count, out);
    }
}

void chg_vm_areq_render(const chg_bundle *b, uint32_t n, chg_buf *out) { render(b, n, out, -1, 0); }

/* ---- reading the approvals --------------------------------------------------------- */

/* What item i of change.approvals is to the count: an approval in ap[],
 * or why it is not one. Counting and explaining both read the list
 * through gather(), so what --explain says was not counted is exactly
 * what the count left out. */
enum { AP_COUNTED, AP_NOT_RECORD, AP_REJECTION, AP_UNREADABLE, AP_LATER };

typedef struct gathered {
    approval ap[MAX_APPROVALS];
    uint32_t nap;
    uint32_t item[MAX_APPROVALS]; /* ap[k] is item item[k] of the list */
    const char *rejected_by;      /* the first rejection given by now, or NULL */
    int64_t next_given;           /* the first approval or rejection given after now, or INT64_MAX */
} gathered;

/* The approvals given so far into g; kind[i] (for i < nkind, when kind is
 * not NULL) says what item i was. -1 with the decision's error set past
 * MAX_APPROVALS approvals. */
static int gather(chg_ctx *ctx, const chg_value *list, int64_t now, gathered *g, uint8_t *kind, uint32_t nkind)
{
    g->nap = 0;
    g->rejected_by = NULL;
    g->next_given = INT64_MAX;
    if (!list || list->tag != CHG_V_LIST)
        return 0;
    for (uint32_t i = 0; i < list->len; i++) {
        const chg_value *r = &list->u.items[i];
        uint8_t k = AP_COUNTED;
        if (r->tag != CHG_V_REC || r->len < 4)
            k = AP_NOT_RECORD;
        else {
            const chg_value *by = &r->u.items[0], *group = &r->u.items[1], *at = &r->u.items[2],
                            *dec = &r->u.items[3];
            int64_t when = 0;
            bool timed = at->tag == CHG_V_TIME ||
                         (at->tag == CHG_V_STR && chg_time_parse_iso(at->u.s, at->len, &when) == CHG_OK);
            if (at->tag == CHG_V_TIME)
                when = at->u.i;
            if (timed && when > now && when < g->next_given)
                g->next_given = when;
            /* fail closed: anything but an approval (absent, "approve",
             * "approved") is a rejection, and a rejection without a
             * readable time is taken as given */
            bool approve = dec->tag == CHG_V_NULL || dec->tag == CHG_V_ABSENT ||
                           (dec->tag == CHG_V_STR && (str_eq(dec->u.s, dec->len, "approve", 7) ||
                                                      str_eq(dec->u.s, dec->len, "approved", 8)));
            if (!approve) {
                if ((!timed || when <= now) && !g->rejected_by)
                    g->rejected_by = by->tag == CHG_V_STR ? by->u.s : "an approver";
                k = AP_REJECTION;
            } else if (!timed || by->tag != CHG_V_STR)
                k = AP_UNREADABLE; /* counts for nothing */
            else if (when > now)
                k = AP_LATER; /* not given yet */
            else {
                if (g->nap == MAX_APPROVALS)
                    return chg_vm_error(ctx, UINT32_MAX, "more than %d approvals: too many to evaluate",
                                        MAX_APPROVALS);
                approval *p = &g->ap[g->nap];
                g->item[g->nap++] = i;
                p->by = by->u.s;
                p->by_len = by->len;
                p->group = group->tag == CHG_V_STR ? group->u.s : NULL;
                p->group_len = group->tag == CHG_V_STR ? group->len : 0;
                p->at = when;
            }
        }
        if (kind && i < nkind)
            kind[i] = k;
    }
    return 0;
}

/* ---- evaluation ------------------------------------------------------------------- */

int chg_vm_approvals_eval(chg_ctx *ctx, const uint32_t *roots, uint32_t nroots, int64_t now, chg_decision *d,
                       const char **rejected_by)
{
    const chg_bundle *b = ctx->b;
    *rejected_by = NULL;
    d->approvals_required = "none";
    d->nsatisfied = d->nmissing = 0;
    if (!nroots)
        return 0;

    /* the approvals given so far */
    /* slots checked by load_meta; the approvals layout has at least the
     * four fields read (by, group, at, decision), in that order */
    CHG_ASSERT(b->approvals_slot == CHG_NONE32 || b->approvals_slot < b->nslots_change);
    CHG_ASSERT(b->requester_slot == CHG_NONE32 || b->requester_slot < b->nslots_change);
    const chg_value *list = b->approvals_slot != CHG_NONE32 ? &ctx->ev->slots[b->approvals_slot] : NULL;
    const chg_value *requester = b->requester_slot != CHG_NONE32 ? &ctx->ev->slots[b->requester_slot] : NULL;
    if (list && list->tag == CHG_V_BAD)
        return chg_vm_error(ctx, UINT32_MAX, "change.approvals must be a list of approvals");
    gathered g;
    if (gather(ctx, list, now, &g, NULL, 0) < 0)
        return -1;
    *rejected_by = g.rejected_by;
    ctx->next_approval = g.next_given;
    const approval *ap = g.ap;
    uint32_t nap = g.nap;

    /* the requirement as text: the bundle's for one root, else joined
     * (7 bytes each for " and " and the parentheses) */
    if (nroots == 1)
        d->approvals_required = b->areqs[roots[0]].text;
    else {
        size_t len = 0;
        for (uint32_t i = 0; i < nroots; i++)
            len += strlen(b->areqs[roots[i]].text) + 7;
        char *p = chg_arena_alloc_raw(&ctx->scratch, len + 1);
        if (!p)
            return chg_vm_scratch_error(ctx, UINT32_MAX);
        d->approvals_required = p;
        for (uint32_t i = 0; i < nroots; i++) {
            const chg_areqdef *q = &b->areqs[roots[i]];
            size_t n = strlen(q->text);
            bool paren = q->kind == CHG_AR_OR;
            if (i) {
                memcpy(p, " and ", 5);
                p += 5;
            }
            if (paren)
                *p++ = '(';
            memcpy(p, q->text, n);
            p += n;
            if (paren)
                *p++ = ')';
        }
        *p = 0;
    }

    /* the clauses of the whole requirement: the product of the roots'
     * normal forms, each made at load. One root (the class's entry alone,
     * the common case) is its own: read in place, nothing copied. */
    clause prod[MAX_CLAUSES];
    const clause *acc = prod;
    uint32_t nacc = 0;
    for (uint32_t r = 0; r < nroots; r++) {
        CHG_ASSERT(roots[r] < b->nareqs && (b->areqs[roots[r]].dnf || b->areqs[roots[r]].dnf_big));
        if (b->areqs[roots[r]].dnf_big)
            return chg_vm_error(ctx, UINT32_MAX, "the approval requirement is too large to evaluate");
    }
    if (nroots == 1) {
        acc = b->areqs[roots[0]].dnf;
        nacc = b->areqs[roots[0]].ndnf;
    } else
        prod[nacc++].n = 0;
    for (uint32_t r = 0; r < nroots && nroots > 1; r++) {
        const clause *part = b->areqs[roots[r]].dnf;
        uint32_t np = b->areqs[roots[r]].ndnf, nn = 0;
        clause next[MAX_CLAUSES];
        for (uint32_t i = 0; i < nacc; i++)
            for (uint32_t k = 0; k < np; k++) {
                if (nn >= MAX_CLAUSES || prod[i].n + part[k].n > MAX_TERMS)
                    return chg_vm_error(ctx, UINT32_MAX, "the approval requirement is too large to evaluate");
                clause *c = &next[nn++];
                memcpy(c->terms, prod[i].terms, sizeof(uint32_t) * prod[i].n);
                memcpy(c->terms + prod[i].n, part[k].terms, sizeof(uint32_t) * part[k].n);
                c->n = prod[i].n + part[k].n;
            }
        memcpy(prod, next, sizeof(clause) * nn);
        nacc = nn;
    }
    /* who gave the approvals, found for the first clause with a term
     * (`none` has none: the common low-risk decision matches nothing) */
    people pp;
    pp.npeople = 0;
    bool found_people = false;

    /* the clause met, or the one closest to being met */
    uint32_t best = 0, best_missing = UINT32_MAX;
    uint32_t filled_best[MAX_TERMS];
    for (uint32_t i = 0; i < nacc; i++) {
        uint32_t filled[MAX_TERMS], slots = 0;
        for (uint32_t t = 0; t < acc[i].n; t++)
            slots += b->areqs[acc[i].terms[t]].count;
        if (slots > MAX_SLOTS)
            return chg_vm_error(ctx, UINT32_MAX, "the approval requirement needs more than %d approvers at once",
                                MAX_SLOTS);
        if (nap && acc[i].n) {
            if (!found_people) {
                find_people(ap, nap, requester, &pp);
                found_people = true;
            }
            match(b, &acc[i], ap, nap, &pp, now, filled);
        }
        else
            memset(filled, 0, sizeof(uint32_t) * acc[i].n);
        uint32_t missing = 0;
        for (uint32_t t = 0; t < acc[i].n; t++)
            missing += b->areqs[acc[i].terms[t]].count - filled[t];
        if (missing < best_missing) {
            best = i;
            best_missing = missing;
            memcpy(filled_best, filled, sizeof(uint32_t) * acc[i].n);
            if (!missing)
                break;
        }
    }
    /* the texts were made at load for every k of a term's count, so a
     * decision points at them: "1 of group cab" when one of two is in */
    const clause *c = &acc[best];
    CHG_ASSERT(c->n <= MAX_TERMS);
    for (uint32_t t = 0; t < c->n; t++) {
        const chg_areqdef *q = &b->areqs[c->terms[t]];
        CHG_ASSERT(q->term != NULL && filled_best[t] <= q->count);
        if (filled_best[t] >= q->count)
            ctx->satisfied[d->nsatisfied++] = q->term[q->count - 1];
        else {
            ctx->missing_nodes[d->nmissing] = c->terms[t];
            ctx->missing[d->nmissing++] = q->term[q->count - filled_best[t] - 1];
        }
    }
    d->satisfied = ctx->satisfied;
    d->missing = ctx->missing;
    return 0;
}

/* ---- explaining ------------------------------------------------------------------- */

/* Does p fit term q by whom it is from (group, any, the people listed),
 * before `within` and the requester rule? */
static bool fits_who(const chg_bundle *b, const chg_areqdef *q, const approval *p)
{
    chg_areqdef any = *q;
    any.within = 0;
    any.including = 1;
    return fits(b, &any, p, NULL, 0);
}

/* Does p count for some leaf term of the requirements in force: the
 * adjacency match() builds, asked of every term at once. */
static bool fits_any(const chg_bundle *b, const uint32_t *roots, uint32_t nroots, const approval *p,
                     const chg_value *requester, int64_t now)
{
    for (uint32_t k = 0; k < nroots; k++)
        for (uint32_t n = b->areqs[roots[k]].lo; n <= roots[k]; n++) {
            const chg_areqdef *q = &b->areqs[n];
            if ((q->kind == CHG_AR_GROUP || q->kind == CHG_AR_ANY || q->kind == CHG_AR_PEOPLE) &&
                fits(b, q, p, requester, now))
                return true;
        }
    return false;
}

/* Why p, which fits no term, does not count: the requester's own (it
 * fits a term but for the requester rule), older than a term's `within`,
 * or from no group or person any term asks for. */
static void why_not(const chg_bundle *b, const uint32_t *roots, uint32_t nroots, const approval *p, int64_t now,
                    chg_buf *out)
{
    bool whom = false, own = false;
    const chg_areqdef *old = NULL;
    for (uint32_t k = 0; k < nroots; k++)
        for (uint32_t n = b->areqs[roots[k]].lo; n <= roots[k]; n++) {
            const chg_areqdef *q = &b->areqs[n];
            if (q->kind != CHG_AR_GROUP && q->kind != CHG_AR_ANY && q->kind != CHG_AR_PEOPLE)
                continue;
            if (!fits_who(b, q, p))
                continue;
            whom = true;
            if (q->within && p->at < now - q->within)
                old = old ? old : q;
            else
                own = true;
        }
    if (own)
        chg_buf_puts(out, "the requester's own approval (only terms 'including requester' count it)\n");
    else if (old) {
        chg_buf text; /* group names are user text; the term text is also the decision's */
        chg_buf_init(&text);
        chg_vm_areq_render_term(b, old, old->count, &text);
        chg_buf_puts(out, "older than ");
        chg_buf_put_visible(out, text.data ? text.data : "", text.len);
        out->oom |= text.oom;
        chg_buf_free(&text);
        chg_buf_putc(out, '\n');
    } else {
        chg_buf_puts(out, "no requirement in force asks for ");
        if (!whom && p->group) {
            chg_buf_puts(out, "group ");
            chg_buf_put_visible(out, p->group, p->group_len);
            chg_buf_puts(out, " or for ");
        }
        chg_buf_put_visible(out, p->by, p->by_len);
        chg_buf_putc(out, '\n');
    }
}

static void not_counted(const approval *p, int64_t at, chg_buf *out)
{
    char t[40];
    chg_time_format_utc(at, t);
    chg_buf_puts(out, "  not counted: ");
    chg_buf_put_visible(out, p->by, p->by_len);
    chg_buf_printf(out, " at %s: ", t);
}

/* For --explain: every approval of the change that counts for no term of
 * the requirements in force, and why — given after now, unreadable, the
 * same person again, the requester's own, older than a term's `within`,
 * or from no group any term asks for. The list is read by gather() and
 * an approval tested by fits(), as the count does: an approval counts
 * when it fits a term, and a person counts once, so of one person's
 * approvals that fit, the first is counted and later ones are "a second
 * approval"; one that fits nothing is explained by itself, whatever the
 * same person gave before or after. Text only: the decision itself is
 * unchanged. The first MAX_APPROVALS items are explained. */
void chg_vm_approvals_explain(chg_ctx *ctx, const uint32_t *roots, uint32_t nroots, int64_t now, chg_buf *out)
{
    const chg_bundle *b = ctx->b;
    if (!nroots || b->approvals_slot == CHG_NONE32)
        return;
    const chg_value *list = &ctx->ev->slots[b->approvals_slot];
    const chg_value *requester = b->requester_slot != CHG_NONE32 ? &ctx->ev->slots[b->requester_slot] : NULL;
    if (list->tag != CHG_V_LIST)
        return;
    gathered g;
    uint8_t kind[MAX_APPROVALS];
    if (gather(ctx, list, now, &g, kind, MAX_APPROVALS) < 0)
        return; /* the decision is that error, explained as its reason */
    bool fits_some[MAX_APPROVALS];
    for (uint32_t k = 0; k < g.nap; k++)
        fits_some[k] = fits_any(b, roots, nroots, &g.ap[k], requester, now);
    uint32_t k = 0; /* g.ap[k] is the next counted item */
    for (uint32_t i = 0; i < list->len && i < MAX_APPROVALS; i++) {
        const chg_value *r = &list->u.items[i];
        if (kind[i] == AP_UNREADABLE) {
            chg_buf_printf(out, "  not counted: approval %u: its approver or time cannot be read\n", i + 1);
            continue;
        }
        if (kind[i] == AP_LATER) {
            const chg_value *at = &r->u.items[2];
            int64_t when = at->tag == CHG_V_TIME ? at->u.i : 0;
            if (at->tag == CHG_V_STR)
                chg_time_parse_iso(at->u.s, at->len, &when); /* parsed by gather() */
            approval p = {r->u.items[0].u.s, r->u.items[0].len, NULL, 0, when};
            not_counted(&p, when, out);
            chg_buf_puts(out, "given after now\n");
            continue;
        }
        if (kind[i] != AP_COUNTED)
            continue; /* not a record, or a rejection (explained as a reason) */
        CHG_ASSERT(k < g.nap && g.item[k] == i);
        const approval *p = &g.ap[k++];
        if (fits_some[k - 1]) {
            bool again = false;
            for (uint32_t j = 0; j + 1 < k && !again; j++)
                again = fits_some[j] && str_eq(g.ap[j].by, g.ap[j].by_len, p->by, p->by_len);
            if (again) {
                not_counted(p, p->at, out);
                chg_buf_puts(out, "a second approval by the same person counts once\n");
            }
            continue;
        }
        not_counted(p, p->at, out);
        why_not(b, roots, nroots, p, now, out);
    }
}

/*
 * intake.c — from what arrived to a change.
 *
 * The daemon and `chgc eval` receive raw events: EventBridge envelopes,
 * webhook bodies, or changes already in the policy's shape. The policy's
 * `intake` blocks say how to map the first kind: the first intake whose
 * `when` holds builds the change field by field from `event`. An event no
 * intake takes is used as the change itself, if it is shaped like one —
 * else it is an error naming the event's `source` and `detail-type`, so
 * an operator sees at once which feed needs an intake.
 *
 * Quirks handled here, as AWS's own SDKs do: an envelope whose `detail` is
 * a JSON *string* (EventBridge Scheduler sends "detail": "{}") is read as
 * the object the string encodes; an SNS notification (an HTTP(S)
 * subscription's body: "Type": "Notification", the event as a JSON string
 * in "Message") is read as the event it carries. And an envelope that no
 * intake takes but whose `detail` is shaped like a change (a team's own
 * PutEvents of change records) is decided on its detail.
 */
#include "vm_int.h"
#include "jsonwalk.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

/* `source` and `detail-type` of an envelope, for messages. */
static void describe(const json_t *j, char *out, size_t len)
{
    const char *src = json_string_value(json_object_get(j, "source"));
    const char *dt = json_string_value(json_object_get(j, "detail-type"));
    if (!src && !dt) {
        snprintf(out, len, "this event (it has no 'source' or 'detail-type')");
        return;
    }
    snprintf(out, len, "this event (source \"%.100s\", detail-type \"%.100s\")", src ? src : "none",
             dt ? dt : "none");
}

/* describe() of the event text (the fast path keeps no tree). */
static void describe_text(const char *json, size_t len, char *out, size_t outlen)
{
    char why[64];
    json_t *j = chg_vm_json_parse(json, len, 0, NULL, why, sizeof why);
    describe(j, out, outlen); /* NULL (memory ran out): "it has no 'source'…" */
    json_decref(j);
}

/* A string `detail` holding JSON: replace it by what it encodes. False
 * only when memory ran out (a string that is not JSON stays a string). */
static bool unwrap_detail(json_t *j)
{
    json_t *d = json_object_get(j, "detail");
    if (!json_is_string(d))
        return true;
    char why[256];
    json_t *inner = chg_vm_json_parse(json_string_value(d), json_string_length(d), JSON_REJECT_DUPLICATES, NULL,
                                      why, sizeof why);
    if (!inner)
        return strcmp(why, chg_strerror(CHG_ENOMEM)) != 0;
    bool ok = true;
    if (json_is_object(inner) || json_is_array(inner))
        ok = json_object_set(j, "detail", inner) == 0;
    json_decref(inner);
    return ok;
}

/* An SNS notification whose Message is a JSON object: that object, with a
 * reference (NULL otherwise: the body is taken as it is). *nomem is set
 * when memory ran out. */
static json_t *sns_message(const json_t *j, bool *nomem)
{
    *nomem = false;
    const char *type = json_string_value(json_object_get(j, "Type"));
    json_t *m = json_object_get(j, "Message");
    if (!type || strcmp(type, "Notification") || !json_is_string(m) || !json_object_get(j, "TopicArn"))
        return NULL;
    char why[256];
    json_t *inner = chg_vm_json_parse(json_string_value(m), json_string_length(m), JSON_REJECT_DUPLICATES, NULL,
                                      why, sizeof why);
    if (!inner) {
        *nomem = strcmp(why, chg_strerror(CHG_ENOMEM)) == 0;
        return NULL;
    }
    if (!json_is_object(inner)) {
        json_decref(inner);
        return NULL;
    }
    return inner;
}

static bool is_envelope(const json_t *j)
{
    return json_object_get(j, "detail-type") || (json_object_get(j, "source") && json_object_get(j, "detail"));
}

/* Is j shaped like a change? Not an event envelope (it has no
 * `detail-type`, nor `source` with `detail`), and, with a schema, it has at
 * least one of the required top-level fields the policy reads. A change
 * missing some fields is still a change: the decision then names the
 * missing field and the rule that read it. */
static bool change_shaped(const chg_bundle *b, const json_t *j, char *why, size_t len)
{
    if (is_envelope(j)) {
        snprintf(why, len, "it is an event envelope");
        return false;
    }
    if (!(b->flags & 1))
        return true;
    /* per event: stop at the first required field that is there */
    uint32_t required = 0;
    for (uint32_t n = 2; n < b->npaths; n++) {
        const chg_pathnode *p = &b->paths[n];
        if (p->parent != 0 || p->kind != CHG_PN_KEY || p->need != CHG_PR_REQUIRED)
            continue;
        if (json_object_get(j, b->str[p->name]))
            return true;
        required++;
    }
    if (!required)
        return true;
    /* not a change: name the alphabetically first few fields it lacks */
    const char *names[4];
    uint32_t nnames = 0;
    for (uint32_t n = 2; n < b->npaths; n++) {
        const chg_pathnode *p = &b->paths[n];
        if (p->parent != 0 || p->kind != CHG_PN_KEY || p->need != CHG_PR_REQUIRED)
            continue;
        const char *name = b->str[p->name];
        uint32_t at = nnames;
        while (at > 0 && strcmp(names[at - 1], name) > 0)
            at--;
        if (at < 4) {
            for (uint32_t k = nnames < 4 ? nnames : 3; k > at; k--)
                names[k] = names[k - 1];
            names[at] = name;
            if (nnames < 4)
                nnames++;
        }
    }
    int w = snprintf(why, len, "it has none of the fields a change needs (");
    for (uint32_t k = 0; k < nnames && w > 0 && (size_t)w < len; k++)
        w += snprintf(why + w, len - (size_t)w, "%s%s", k ? ", " : "", names[k]);
    if (w > 0 && (size_t)w < len)
        snprintf(why + w, len - (size_t)w, "%s)", required > nnames ? ", …" : "");
    return false;
}

static int dump_cb(const char *buffer, size_t size, void *data)
{
    chg_buf_append(data, buffer, size);
    return 0;
}

/* The change as the daemon stores it: compact, keys sorted, so that the
 * same content gives the same bytes. False when memory ran out. */
static bool dump_change(const json_t *j, chg_buf *out)
{
    if (json_dump_callback(j, dump_cb, out, JSON_COMPACT | JSON_SORT_KEYS) != 0)
        return false;
    return !out->oom;
}

static const char *block_source(const chg_bundle *b, uint32_t block, char *buf, size_t len)
{
    uint32_t pc = b->blocks[block].start;
    return chg_bundle_source(b, pc < b->ncode ? b->insspan[pc] : 0, buf, len);
}

/* The error of a failed intake block. */
static void intake_error(chg_ctx *ctx, const chg_intakedef *k, char *err, size_t errlen)
{
    const chg_bundle *b = ctx->b;
    if (ctx->scratch.failed || ctx->oom) { /* the machine's failure, not the intake's */
        snprintf(err, errlen, "%s", chg_strerror(CHG_ENOMEM));
        return;
    }
    char src[256];
    chg_bundle_source(b, ctx->err_pc < b->ncode ? b->insspan[ctx->err_pc] : 0, src, sizeof src);
    snprintf(err, errlen, "%s: intake '%s': %.*s", src, b->str[k->name], (int)ctx->err_len,
             ctx->err_msg ? ctx->err_msg : "");
}

/* Build the change from intake k on the raw event ev. The change is built
 * as JSON text and decoded like any change, rather than written into slots
 * directly: a change from an intake then goes through the same decoding,
 * types and defaults as one given whole, and shows the same errors. Not on
 * the per-decision path, so it may allocate. */
static chg_event *build(chg_ctx *ctx, const chg_intakedef *k, json_t *raw, const char *rawtext, size_t rawlen,
                        chg_buf *change, char *err, size_t errlen)
{
    const chg_bundle *b = ctx->b;
    CHG_ASSERT((uint64_t)k->first + k->count <= b->nifields); /* load_decisions */
    chg_buf text;
    chg_buf_init(&text);
    chg_buf_putc(&text, '{');
    for (uint32_t i = 0; i < k->count; i++) {
        const chg_ifielddef *f = &b->ifields[k->first + i];
        CHG_ASSERT(f->block < b->nblocks && b->blocks[f->block].kind == CHG_B_EXPR);
        chg_value v;
        if (chg_vm_run(ctx, f->block, &v) < 0) {
            intake_error(ctx, k, err, errlen);
            chg_buf_free(&text);
            return NULL;
        }
        if (v.tag == CHG_V_NULL && (b->flags & 1)) {
            /* a required field the event did not have: say where */
            for (uint32_t n = 2; n < b->npaths; n++) {
                const chg_pathnode *p = &b->paths[n];
                if (p->parent == 0 && p->kind == CHG_PN_KEY && p->need == CHG_PR_REQUIRED &&
                    strcmp(b->str[p->name], b->str[f->name]) == 0) {
                    char src[256], what[256];
                    if (raw)
                        describe(raw, what, sizeof what);
                    else
                        describe_text(rawtext, rawlen, what, sizeof what);
                    snprintf(err, errlen, "%s: intake '%s' gives no value for the required field '%s' from %s",
                             block_source(b, f->block, src, sizeof src), b->str[k->name], b->str[f->name], what);
                    chg_buf_free(&text);
                    return NULL;
                }
            }
        }
        if (i)
            chg_buf_putc(&text, ',');
        chg_buf_json_string(&text, b->str[f->name], b->strlen[f->name]);
        chg_buf_putc(&text, ':');
        chg_vm_value_change_json(b, &v, &text);
    }
    chg_buf_putc(&text, '}');
    if (text.oom) {
        snprintf(err, errlen, "out of memory");
        chg_buf_free(&text);
        return NULL;
    }
    if (!change && ctx->fastdec) {
        /* the fast path's: what it decodes is what jansson's would */
        chg_event *e;
        int rc = chg_vm_fastdec_decode(ctx->fastdec, text.data, text.len, false, &e);
        if (rc != CHG_JW_DECLINED) {
            chg_buf_free(&text);
            if (rc == CHG_ENOMEM)
                snprintf(err, errlen, "%s", chg_strerror(CHG_ENOMEM));
            return rc == CHG_OK ? e : NULL;
        }
    }
    char why[256];
    json_t *cj = chg_vm_json_parse(text.data, text.len, 0, NULL, why, sizeof why);
    chg_buf_free(&text);
    if (!cj) {
        if (strcmp(why, chg_strerror(CHG_ENOMEM)) == 0)
            snprintf(err, errlen, "%s", why);
        else
            snprintf(err, errlen, "intake '%s': the change it built is not valid JSON: %s", b->str[k->name], why);
        return NULL;
    }
    chg_event *e = chg_event_from_json(b, cj, err, errlen);
    if (e && change && !dump_change(cj, change)) {
        chg_event_free(e);
        e = NULL;
        snprintf(err, errlen, "%s", chg_strerror(CHG_ENOMEM));
    }
    json_decref(cj);
    if (e && raw)
        e->raw = json_incref(raw);
    return e;
}

static chg_event *intake_tree(chg_ctx *ctx, json_t *j, const chg_eval_input *in, int *used, chg_buf *change,
                              char *err, size_t errlen);
static chg_event *as_change(const chg_bundle *b, const json_t *j, chg_buf *change, char *err, size_t errlen);

/* The error of an evaluation that could not be prepared. */
static chg_event *nomem(char *err, size_t errlen)
{
    snprintf(err, errlen, "%s", chg_strerror(CHG_ENOMEM));
    return NULL;
}

/* Run the intakes' `when`s on the raw event raw, in order: the index of
 * the first that holds, -1 when none does, -2 on error (err set). Each
 * runs in a fresh evaluation: lets computed for one intake must not leak
 * into the next. On return ctx is the evaluation of the last one run, so
 * the taking intake's fields are built in its own. */
static int choose(chg_ctx *ctx, const chg_event *raw, const chg_eval_input *in, char *err, size_t errlen)
{
    const chg_bundle *b = ctx->b;
    for (uint32_t i = 0; i < b->nintakes; i++) {
        const chg_intakedef *k = &b->intakes[i];
        chg_vm_ctx_begin(ctx, raw, in->now, in->facts, in->resolver, in->resolver_ud);
        if (k->when == CHG_NONE32)
            return (int)i;
        chg_value v;
        if (chg_vm_run(ctx, k->when, &v) < 0) {
            intake_error(ctx, k, err, errlen);
            return -2;
        }
        if (v.tag == CHG_V_BOOL && v.u.i)
            return (int)i;
    }
    return -1;
}

/* The intakes' fast path: the raw event's slots decoded from the bytes
 * in one pass (fastdecode.c), the `when`s run on them, and then either
 * the taking intake's change built, or the event decoded as a change by
 * the fast decoder. It is the jansson path's algorithm on the same slots,
 * so it gives the same change or the same error. CHG_JW_DECLINED before
 * any block ran: the jansson path judges the event from the start (no
 * block runs twice, so a query is asked once). Once the `when`s ran,
 * the rest is decided here, with a tree made only where the jansson path
 * would read one: an event no intake takes that the fast decoder does not
 * take as a change (an envelope's detail, a schema issue, the change's
 * text wanted), and an error naming the event. */
static int intake_fast(chg_ctx *ctx, const char *json, size_t len, const chg_eval_input *in, int *used,
                       chg_buf *change, chg_event **out, char *err, size_t errlen)
{
    const chg_bundle *b = ctx->b;
    *out = NULL;
    chg_event *raw;
    int rc = chg_vm_fastdec_event(ctx->fastdec, json, len, &raw);
    if (rc != CHG_OK) {
        if (rc == CHG_ENOMEM)
            nomem(err, errlen);
        return rc;
    }
    int k = choose(ctx, raw, in, err, errlen);
    if (k >= 0) {
        *out = build(ctx, &b->intakes[k], NULL, json, len, change, err, errlen);
        if (*out && used)
            *used = k;
    }
    chg_event_free(raw);
    if (k != -1)
        return CHG_OK; /* taken (or failed) by an intake */
    if (!change) {
        rc = chg_vm_fastdec_decode(ctx->fastdec, json, len, true, out);
        if (rc != CHG_JW_DECLINED) {
            if (rc == CHG_ENOMEM)
                nomem(err, errlen);
            return CHG_OK;
        }
    }
    json_t *j = chg_vm_json_parse(json, len, JSON_REJECT_DUPLICATES, NULL, err, errlen);
    if (!j)
        return CHG_OK; /* out of memory: the walker took these bytes, and jansson takes what it takes */
    if (!unwrap_detail(j))
        nomem(err, errlen);
    else
        *out = as_change(b, j, change, err, errlen);
    json_decref(j);
    return CHG_OK;
}

chg_event *chg_event_intake_change(chg_ctx *ctx, const char *json, size_t len, const chg_eval_input *in, int *used,
                                   chg_buf *change, char *err, size_t errlen)
{
    const chg_bundle *b = ctx->b;
    if (used)
        *used = -1;
    /* the fast paths, if they take the event (the decoder is made once per
     * context; without memory for it, jansson). A change that needs no
     * intake is decoded straight; a caller that wants the change's text
     * (chgd stores it) takes the jansson path for it, which writes it. */
    if (!ctx->fastdec)
        ctx->fastdec = chg_vm_fastdec_new(b);
    if (ctx->fastdec && b->nintakes) {
        chg_event *e;
        if (intake_fast(ctx, json, len, in, used, change, &e, err, errlen) != CHG_JW_DECLINED)
            return e;
    } else if (ctx->fastdec && !change) {
        chg_event *e;
        int rc = chg_vm_fastdec_decode(ctx->fastdec, json, len, true, &e);
        if (rc == CHG_OK)
            return e;
        if (rc == CHG_ENOMEM)
            return nomem(err, errlen);
    }
    return chg_vm_intake_jansson(ctx, json, len, in, used, change, err, errlen);
}

chg_event *chg_vm_intake_jansson(chg_ctx *ctx, const char *json, size_t len, const chg_eval_input *in, int *used,
                                 chg_buf *change, char *err, size_t errlen)
{
    if (used)
        *used = -1;
    json_t *j = chg_vm_json_parse(json, len, JSON_REJECT_DUPLICATES, NULL, err, errlen);
    if (!j)
        return NULL;
    return intake_tree(ctx, j, in, used, change, err, errlen);
}

chg_event *chg_event_intake_json(chg_ctx *ctx, void *json, const chg_eval_input *in, int *used, char *err,
                                 size_t errlen)
{
    if (used)
        *used = -1;
    return intake_tree(ctx, json_incref((json_t *)json), in, used, NULL, err, errlen);
}

/* chg_event_intake_change from the parsed event j, whose reference it
 * takes: the jansson path. j may be shared with another policy's intake
 * (chgc replay): the one change made to it, a string `detail` parsed in
 * place, is the same whoever makes it and making it twice changes
 * nothing. */
static chg_event *intake_tree(chg_ctx *ctx, json_t *j, const chg_eval_input *in, int *used, chg_buf *change,
                              char *err, size_t errlen)
{
    const chg_bundle *b = ctx->b;
    if (!json_is_object(j)) {
        snprintf(err, errlen, "an event must be a JSON object, not %s",
                 json_is_array(j) ? "an array" : json_is_string(j) ? "a string" : "a scalar");
        json_decref(j);
        return NULL;
    }
    bool oom;
    json_t *inner = sns_message(j, &oom);
    if (inner) {
        json_decref(j);
        j = inner;
    }
    if (oom || !unwrap_detail(j)) {
        json_decref(j);
        return nomem(err, errlen);
    }
    chg_event *out = NULL;
    if (b->nintakes) {
        chg_event *raw = chg_vm_event_raw(b, j, err, errlen);
        if (!raw) {
            json_decref(j);
            return NULL;
        }
        int k = choose(ctx, raw, in, err, errlen);
        if (k >= 0) { /* the fields are built on the raw event: freed after */
            out = build(ctx, &b->intakes[k], j, NULL, 0, change, err, errlen);
            if (out && used)
                *used = k;
        }
        chg_event_free(raw);
        if (k != -1) {
            json_decref(j);
            return out;
        }
    }
    out = as_change(b, j, change, err, errlen);
    json_decref(j);
    return out;
}

/* No intake took the event j: the event itself, or an envelope's detail,
 * if it is shaped like a change; without a schema a detail must at least
 * carry a string `id`, or every AWS event would pass for one. */
static chg_event *as_change(const chg_bundle *b, const json_t *j, chg_buf *change, char *err, size_t errlen)
{
    char why[256], dwhy[256];
    const json_t *c = j, *d = json_object_get(j, "detail");
    if (!change_shaped(b, j, why, sizeof why)) {
        c = NULL;
        if (is_envelope(j) && json_is_object(d) && change_shaped(b, d, dwhy, sizeof dwhy) &&
            ((b->flags & 1) || json_is_string(json_object_get(d, "id"))))
            c = d;
    }
    if (!c) {
        char what[256];
        describe(j, what, sizeof what);
        snprintf(err, errlen, "%s %s, and it is not a change: %s",
                 b->nintakes ? "no intake takes" : "the policy has no intake for", what, why);
        return NULL;
    }
    chg_event *out = chg_event_from_json(b, (json_t *)c, err, errlen);
    if (out && change && !dump_change(c, change)) {
        chg_event_free(out);
        return nomem(err, errlen);
    }
    return out;
}

void chg_ctx_event_done(chg_ctx *ctx, chg_event *e)
{
    if (ctx->fastdec)
        chg_vm_fastdec_recycle(ctx->fastdec, e);
    else
        chg_event_free(e);
}

chg_event *chg_event_intake(chg_ctx *ctx, const char *json, size_t len, const chg_eval_input *in, int *used,
                            char *err, size_t errlen)
{
    return chg_event_intake_change(ctx, json, len, in, used, NULL, err, errlen);
}

/*
 * aws_shapes.c — the forms AWS requires of some arguments of the aws.*
 * queries and actions, checked when the argument is a literal (a computed
 * one is checked by AWS, and its refusal recorded). Each form is the
 * string shape of the operation's member in botocore's service model
 * (botocore/data/<svc>/<ver>/service-2.json: pattern, min, max, enum),
 * or, where the model has none, what the API documents; tests/aws/
 * test_aws.py checks each against the model with botocore.
 *
 * A misfit is E0800 (an ARN that is not the one required), E0801 (a name
 * or identifier not of the form) or E0802 (not one of the values the API
 * takes, with a did-you-mean).
 */
#include "compiler_int.h"

#include <string.h>

typedef bool (*shape_fn)(const char *s, size_t n);

static bool in(const char *set, char ch) { return ch && strchr(set, ch) != NULL; }
static bool alpha(char ch) { return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z'); }
static bool digit(char ch) { return ch >= '0' && ch <= '9'; }
static bool alnum(char ch) { return alpha(ch) || digit(ch); }
static bool lower(char ch) { return ch >= 'a' && ch <= 'z'; }

/* s[0..n) all alphanumerics or in extra */
static bool run(const char *s, size_t n, const char *extra)
{
    for (size_t i = 0; i < n; i++)
        if (!alnum(s[i]) && !in(extra, s[i]))
            return false;
    return true;
}

static bool prefix(const char *s, size_t n, const char *p)
{
    size_t k = strlen(p);
    return n >= k && memcmp(s, p, k) == 0;
}

/* CloudFormation's names of stacks and change sets: a letter, then
 * letters, digits and '-', at most 128 (the models' patterns
 * [a-zA-Z][-a-zA-Z0-9]*; the length from CreateStack's and
 * CreateChangeSet's documentation). */
static bool cfn_name(const char *s, size_t n)
{
    return n >= 1 && n <= 128 && alpha(s[0]) && run(s, n, "-");
}

/* An ARN's fields: arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE, the
 * resource being the rest (it may hold ':' and '/'). */
typedef struct arn {
    const char *f[5]; /* partition, service, region, account, resource */
    size_t len[5];
} arn;

static bool arn_split(const char *s, size_t n, arn *a)
{
    if (!prefix(s, n, "arn:"))
        return false;
    size_t i = 4;
    for (int k = 0; k < 4; k++) {
        size_t e = i;
        while (e < n && s[e] != ':')
            e++;
        if (e >= n)
            return false;
        a->f[k] = s + i;
        a->len[k] = e - i;
        i = e + 1;
    }
    a->f[4] = s + i;
    a->len[4] = n - i;
    return true;
}

static bool is(const char *f, size_t n, const char *word) { return n == strlen(word) && !memcmp(f, word, n); }

/* The partition "aws" or "aws-…", the service as given, a region of
 * lower-case letters, digits and '-', a 12-digit account. */
static bool arn_of(const arn *a, const char *service)
{
    bool part = is(a->f[0], a->len[0], "aws") ||
                (prefix(a->f[0], a->len[0], "aws-") && a->len[0] > 4 && run(a->f[0], a->len[0], "-"));
    bool region = a->len[2] > 0;
    for (size_t i = 0; i < a->len[2]; i++)
        region &= lower(a->f[2][i]) || digit(a->f[2][i]) || a->f[2][i] == '-';
    bool account = a->len[3] == 12;
    for (size_t i = 0; i < a->len[3]; i++)
        account &= digit(a->f[3][i]);
    return part && is(a->f[1], a->len[1], service) && region && account;
}

/* arn:PARTITION:sns:REGION:ACCOUNT:TOPIC; a topic name is 1 to 256 of
 * letters, digits, '_' and '-', a FIFO topic's ending in ".fifo" (SNS
 * CreateTopic's documentation; Publish's TopicArn has no pattern in the
 * model). */
static bool sns_topic_arn(const char *s, size_t n)
{
    arn a;
    if (!arn_split(s, n, &a) || !arn_of(&a, "sns"))
        return false;
    size_t len = a.len[4], base = len;
    if (len > 5 && !memcmp(s + n - 5, ".fifo", 5))
        base -= 5;
    return len >= 1 && len <= 256 && run(a.f[4], base, "_-");
}

/* StackNameOrId: ([a-zA-Z][-a-zA-Z0-9]*)|(arn:\b(aws|aws-us-gov|aws-cn)\b:[-a-zA-Z0-9:/._+]*),
 * the ARN a stack's: arn:…:cloudformation:REGION:ACCOUNT:stack/NAME/ID. */
static bool cfn_stack(const char *s, size_t n)
{
    if (!prefix(s, n, "arn:"))
        return cfn_name(s, n);
    arn a;
    bool part = prefix(s, n, "arn:aws:") || prefix(s, n, "arn:aws-us-gov:") || prefix(s, n, "arn:aws-cn:");
    return part && run(s, n, "-:/._+") && arn_split(s, n, &a) && arn_of(&a, "cloudformation") &&
           prefix(a.f[4], a.len[4], "stack/") && a.len[4] > 6;
}

/* ChangeSetNameOrId: [a-zA-Z][-a-zA-Z0-9]*|arn:[-a-zA-Z0-9:/]*, 1 to
 * 1600; the ARN a change set's: …:cloudformation:REGION:ACCOUNT:changeSet/NAME/ID. */
static bool cfn_change_set(const char *s, size_t n)
{
    if (!prefix(s, n, "arn:"))
        return cfn_name(s, n);
    arn a;
    return n <= 1600 && run(s, n, "-:/") && arn_split(s, n, &a) && arn_of(&a, "cloudformation") &&
           prefix(a.f[4], a.len[4], "changeSet/") && a.len[4] > 10;
}

/* PipelineName, StageName, ActionName: 1 to 100 of [A-Za-z0-9.@\-_]. */
static bool pipeline_name(const char *s, size_t n)
{
    return n >= 1 && n <= 100 && run(s, n, ".@-_");
}

/* PipelineExecutionId, ApprovalToken:
 * [0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}. */
static bool uuid(const char *s, size_t n)
{
    if (n != 36)
        return false;
    for (size_t i = 0; i < n; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !(digit(s[i]) || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    }
    return true;
}

/* SSM AutomationExecutionId: exactly 36 characters (the model has no
 * pattern). */
static bool ssm_execution_id(const char *s, size_t n)
{
    (void)s;
    return n == 36;
}

/* PutEvents' EventBusName, NonPartnerEventBusNameOrArn:
 * (arn:aws[\w-]*:events:[a-z]{2}-[a-z]+-[\w-]+:[0-9]{12}:event-bus\/)?[\.\-_A-Za-z0-9]+, 1 to 1600. */
static bool event_bus(const char *s, size_t n)
{
    if (n < 1 || n > 1600)
        return false;
    if (!prefix(s, n, "arn:"))
        return run(s, n, ".-_");
    arn a;
    if (!arn_split(s, n, &a) || !arn_of(&a, "events") || !run(a.f[0], a.len[0], "_-"))
        return false;
    /* the region, [a-z]{2}-[a-z]+-[\w-]+ */
    const char *r = a.f[2];
    size_t k = 3, rn = a.len[2];
    if (rn < 6 || !lower(r[0]) || !lower(r[1]) || r[2] != '-' || !lower(r[3]))
        return false;
    while (k < rn && lower(r[k]))
        k++;
    if (k + 1 >= rn || r[k] != '-')
        return false;
    const char *res = a.f[4];
    size_t resn = a.len[4];
    return prefix(res, resn, "event-bus/") && resn > 10 && run(res + 10, resn - 10, ".-_");
}

static const char *const approval_status[] = {"Approved", "Rejected", NULL};
static const char *const ssm_signals[] = {"Approve", "Reject", NULL};

static const struct shape {
    chg_param p;
    chg_diag_id id;
    const char *what;  /* "an SNS topic ARN" */
    const char *form;  /* for the help */
    shape_fn ok;       /* or values */
    const char *const *values;
} shapes[] = {
    {P_AWS_SNS_TOPIC_ARN, CHG_D_E0800, "an SNS topic ARN",
     "an SNS topic ARN is arn:PARTITION:sns:REGION:ACCOUNT:TOPIC, the account 12 digits, the topic 1 to 256 "
     "letters, digits, '_' and '-' (a FIFO topic's ending in .fifo)",
     sns_topic_arn, NULL},
    {P_AWS_CFN_STACK, CHG_D_E0801, "a CloudFormation stack name or ARN",
     "a stack name is a letter, then up to 127 letters, digits and '-'; a stack ARN is "
     "arn:PARTITION:cloudformation:REGION:ACCOUNT:stack/NAME/ID",
     cfn_stack, NULL},
    {P_AWS_CFN_CHANGE_SET, CHG_D_E0801, "a CloudFormation change set name or ARN",
     "a change set name is a letter, then up to 127 letters, digits and '-'; a change set ARN is "
     "arn:PARTITION:cloudformation:REGION:ACCOUNT:changeSet/NAME/ID",
     cfn_change_set, NULL},
    {P_AWS_PIPELINE_NAME, CHG_D_E0801, "a CodePipeline name",
     "CodePipeline's pipeline, stage and action names are 1 to 100 letters, digits, '.', '@', '-' and '_'",
     pipeline_name, NULL},
    {P_AWS_PIPELINE_EXECUTION_ID, CHG_D_E0801, "a CodePipeline execution ID",
     "a pipeline execution ID is a UUID in lower case, such as 3137f7cb-7cf7-4f2d-9a2c-2d8e4ff5d1a0", uuid, NULL},
    {P_AWS_APPROVAL_TOKEN, CHG_D_E0801, "a CodePipeline approval token",
     "an approval token is a UUID in lower case, as the approval's SNS message gives it", uuid, NULL},
    {P_AWS_SSM_EXECUTION_ID, CHG_D_E0801, "an SSM Automation execution ID",
     "an Automation execution ID, as a change request's event gives it, is 36 characters", ssm_execution_id, NULL},
    {P_AWS_EVENT_BUS, CHG_D_E0801, "an EventBridge event bus name or ARN",
     "an event bus name is 1 to 1600 letters, digits, '.', '-' and '_'; an event bus ARN is "
     "arn:PARTITION:events:REGION:ACCOUNT:event-bus/NAME",
     event_bus, NULL},
    {P_AWS_APPROVAL_STATUS, CHG_D_E0802, "a CodePipeline approval status", "Approved, Rejected", NULL,
     approval_status},
    {P_AWS_SSM_SIGNAL, CHG_D_E0802, "a Change Manager signal",
     "Approve, Reject (chg sends no other of SendAutomationSignal's signals)", NULL, ssm_signals},
};

static const struct shape *find(chg_param p)
{
    for (size_t i = 0; i < CHG_ARRAY_LEN(shapes); i++)
        if (shapes[i].p == p)
            return &shapes[i];
    return NULL;
}

bool chg_c_aws_shape(chg_param p) { return find(p) != NULL; }

bool chg_c_aws_shape_check(chg_compiler *c, chg_param p, const char *s, chg_span span, const char *call,
                           uint32_t argno)
{
    const struct shape *sh = find(p);
    if (!sh)
        return true;
    size_t n = strlen(s);
    bool ok = false;
    if (sh->ok)
        ok = sh->ok(s, n);
    else
        for (size_t i = 0; sh->values[i] && !ok; i++)
            ok = strcmp(sh->values[i], s) == 0;
    if (ok)
        return true;
    /* an ARN given where a name is wanted reads as a wrong ARN */
    chg_diag_id id = sh->id == CHG_D_E0801 && prefix(s, n, "arn:") ? CHG_D_E0800 : sh->id;
    /* the message quotes a long literal's beginning only */
    const char *shown = n <= 80 ? s : chg_arena_printf(&c->arena, "%.60s…", s);
    chg_diag *d = chg_c_diag_report(c, id, span, shown ? shown : s, sh->what, NULL);
    chg_c_diag_note(c, d, (chg_span){0}, "argument %u of %s", argno, call);
    if (sh->values) {
        size_t nv = 0;
        while (sh->values[nv])
            nv++;
        chg_c_diag_suggest(c, d, s, sh->values, nv);
    }
    if (d && !d->help)
        chg_c_diag_help(c, d, sh->values ? "it takes %s" : "%s", sh->form);
    return false;
}

/*
 * ast.h — the abstract syntax tree of .chg files, with a span on every node.
 *
 * The parser (grammar/parser.y) builds it through the constructors here;
 * resolve.c links names to declarations; check.c fills in types. All nodes
 * live in the compiler's arena. Lists are arrays with a count (built with
 * chg_ast_list while parsing).
 */
#ifndef CHG_AST_H
#define CHG_AST_H

#include "chg_compiler.h"

typedef struct chg_type chg_type;
typedef struct chg_expr chg_expr;
typedef struct chg_decl chg_decl;
typedef struct chg_tsexpr chg_tsexpr;
typedef struct chg_areq chg_areq;
typedef struct chg_typeexpr chg_typeexpr;

/* A growable list used while parsing. Its items live in the arena and a
 * push that grows it copies them to a fresh array, so once the last item
 * is in, (items, n) become the node's array and count as they are. */
typedef struct chg_ast_list {
    void **items;
    uint32_t n;
    uint32_t cap;
} chg_ast_list;

/* An identifier or string with its place. */
typedef struct chg_ident {
    const char *name;
    chg_span span;
    bool bad;            /* a string with an error already reported */
} chg_ident;

/* ---- expressions --------------------------------------------------------- */

typedef enum chg_expr_kind {
    EX_ERROR,       /* placeholder after a syntax error */
    EX_NULL,
    EX_BOOL,
    EX_INT,
    EX_FLOAT,
    EX_STRING,      /* plain string (escapes processed) */
    EX_RAWSTRING,   /* r"…": no escapes */
    EX_INTERP,      /* "text {expr} text": parts alternate */
    EX_DURATION,    /* seconds */
    EX_INSTANT,     /* seconds since the epoch (UTC) */
    EX_LOCALTIME,   /* a date-time without zone: only inside time sets */
    EX_DATE,        /* YYYY-MM-DD: midnight UTC in expressions, local
                       midnight inside time sets */
    EX_NAME,        /* identifier: let, risk class, change, event, now, … */
    EX_FIELD,       /* a.b */
    EX_OPTFIELD,    /* a?.b */
    EX_INDEX,       /* a[b] */
    EX_CALL,        /* f(args) with f a (dotted) name */
    EX_UNARY,       /* not a, -a */
    EX_BINARY,      /* a op b */
    EX_IF,          /* if c then a else b */
    EX_LIST,        /* [a, b] */
    EX_OBJECT,      /* { k: v } */
    EX_ANY,         /* any x in list: body */
    EX_ALL,         /* all x in list: body */
    EX_COUNT        /* count(x in list where body) */
} chg_expr_kind;

typedef enum chg_binop {
    BIN_OR, BIN_AND,
    BIN_EQ, BIN_NE, BIN_LT, BIN_LE, BIN_GT, BIN_GE,
    BIN_IN,          /* membership: element in list, substring in string,
                       instant in window/freeze */
    BIN_MATCHES,     /* string matches r"regex" */
    BIN_ADD, BIN_SUB, BIN_MUL, BIN_DIV, BIN_MOD,
    BIN_COALESCE     /* a ?? b */
} chg_binop;

typedef enum chg_unop { UOP_NOT, UOP_NEG } chg_unop;

const char *chg_c_binop_text(chg_binop op);

/* What a name in an expression refers to, filled in by the resolver. */
typedef enum chg_name_kind {
    NAME_UNRESOLVED,
    NAME_CHANGE,     /* the change being judged */
    NAME_EVENT,      /* the raw event (intake only) */
    NAME_NOW,        /* the evaluation instant */
    NAME_RISK,       /* the change's risk class (after classify) */
    NAME_REASON,     /* in actions: the deciding reason's message */
    NAME_SUMMARY,    /* in actions: a one-line summary of the decision */
    NAME_FREEZE_VAR, /* in deny messages: the freeze(s) that applied */
    NAME_LET,
    NAME_RISK_CLASS,
    NAME_TIMESET,    /* window or freeze (only as the right of `in`) */
    NAME_LOCAL       /* a quantifier variable */
} chg_name_kind;

typedef struct chg_object_field {
    chg_ident key;
    chg_expr *value;
} chg_object_field;

struct chg_expr {
    chg_expr_kind kind;
    chg_span span;
    chg_type *type;       /* set by the checker */
    uint16_t depth;       /* nesting depth, bounded by the parser */
    union {
        bool b;
        int64_t i;        /* INT, DURATION (s), INSTANT (s), LOCALTIME (s,
                             as if UTC) */
        double f;
        struct { const char *s; size_t len; } str;       /* STRING, RAWSTRING */
        struct { chg_expr **parts; uint32_t n; } interp; /* STRING / exprs */
        struct {
            const char *name;
            chg_name_kind kind;
            chg_decl *decl;     /* LET, RISK_CLASS, TIMESET */
            chg_expr *binder;   /* LOCAL: the quantifier node */
            int risk_index;     /* RISK_CLASS */
        } name;
        struct { chg_expr *obj; chg_ident field; } field; /* FIELD, OPTFIELD */
        struct { chg_expr *obj; chg_expr *index; } index;
        struct {
            const char *name;   /* dotted: "aws.cloudwatch.alarm_state" */
            chg_span name_span;
            chg_expr **args;
            uint32_t nargs;
            const struct chg_builtin *builtin; /* set by the resolver */
        } call;
        struct { chg_unop op; chg_expr *a; } unary;
        struct { chg_binop op; chg_expr *a, *b; chg_span op_span; } binary;
        struct { chg_expr *cond, *then, *els; } ifx;
        struct { chg_expr **items; uint32_t n; } list;
        struct { chg_object_field *fields; uint32_t n; } object;
        struct {
            chg_ident var;
            chg_expr *list;
            chg_expr *body;
            uint32_t slot;      /* local slot, set by the checker */
        } quant;                /* ANY, ALL, COUNT */
    } u;
};

/* ---- schema types as written ------------------------------------------------- */

typedef enum chg_typeexpr_kind {
    TE_NAMED,     /* string, int, float, bool, time, duration */
    TE_ENUM,      /* enum("a", "b") */
    TE_LIST,      /* [T] */
    TE_OBJECT,    /* { f: T, … } */
    TE_OPTIONAL   /* T? */
} chg_typeexpr_kind;

typedef struct chg_field_decl {
    chg_ident name;
    chg_typeexpr *type;
    chg_expr *dflt;       /* `= value`, or NULL */
} chg_field_decl;

struct chg_typeexpr {
    chg_typeexpr_kind kind;
    chg_span span;
    union {
        chg_ident named;
        struct { chg_ident *values; uint32_t n; } enm;
        chg_typeexpr *elem;   /* LIST, OPTIONAL */
        struct { chg_field_decl *fields; uint32_t n; } object;
    } u;
};

/* ---- time sets ------------------------------------------------------------- */

typedef enum chg_ts_kind {
    TS_ERROR,
    TS_REF,       /* another window or freeze by name */
    TS_CRON,      /* cron [aws] "expr" [OPTS] for DUR [OPTS] */
    TS_RATE,      /* rate "N units" from T for DUR [OPTS] (AWS rate()) */
    TS_AT,        /* at T for DUR [OPTS] (AWS at()) */
    TS_WEEKLY,    /* weekly DAYS HH:MM..HH:MM */
    TS_DAILY,     /* daily HH:MM..HH:MM */
    TS_RANGE,     /* INSTANT .. INSTANT */
    TS_YEARLY,    /* yearly MON DD .. MON DD */
    TS_CALENDAR,  /* calendar "file.ics" */
    TS_FLAG,      /* flag "name" */
    TS_OR,
    TS_AND,
    TS_NOT
} chg_ts_kind;

/* An option of a cron, rate or at schedule as written: `offset 2d`,
 * `cutoff 1h`, `from T`, `start T`, `end T`, `dst eventbridge`. The
 * checker decides which apply (compiler/timesets.c). */
typedef struct chg_schedopt {
    chg_ident name;
    chg_expr *val;   /* a duration or an instant; NULL for a word */
    chg_ident word;  /* `dst eventbridge` */
    chg_span span;
} chg_schedopt;

/* A day item in `weekly`: a single day or a range `mon-fri`. */
typedef struct chg_dayspec {
    chg_ident from;
    chg_ident to;   /* name NULL: single day */
    int from_day;   /* 0 = Sunday … 6 = Saturday, set by the checker */
    int to_day;
} chg_dayspec;

struct chg_tsexpr {
    chg_ts_kind kind;
    chg_span span;
    uint16_t depth;       /* nesting, bounded by the parser */
    chg_ident zone;       /* `in "Zone"`; name NULL when absent */
    union {
        struct { chg_ident name; chg_decl *decl; } ref;
        /* CRON, RATE and AT: expr is the cron expression or the rate
         * ("5 hours"; none for AT), dialect the word after `cron`
         * (`aws`), at the instant of AT; the checker fills the rest */
        struct {
            chg_ident expr;
            chg_expr *dur;
            chg_ident dialect;
            chg_expr *at;
            chg_schedopt *opts;
            uint32_t nopts;
            /* set by the checker */
            chg_expr *from, *to;  /* RATE's from, CRON's start; end */
            int64_t cutoff, period;
            int offset_days;
            bool eventbridge_dst;
        } cron;
        struct {
            chg_dayspec *days;
            uint32_t ndays;
            chg_ident from, to;   /* "HH:MM" as written */
        } weekly;                 /* DAILY uses from/to only */
        struct { chg_expr *from, *to; } range;
        struct { chg_ident from_mon; chg_expr *from_day;
                 chg_ident to_mon; chg_expr *to_day; } yearly;
        struct {
            chg_ident path;
            const char *text;     /* read by the checker */
            size_t len;
        } cal;
        chg_ident flag;
        struct { chg_tsexpr *a, *b; } bin;
        chg_tsexpr *not_;
    } u;
};

/* ---- approval requirements ------------------------------------------------ */

typedef enum chg_areq_kind {
    AR_NONE,
    AR_GROUP,     /* N of group "g" */
    AR_ANY,       /* N of any */
    AR_PEOPLE,    /* N of ["alice", "bob"] */
    AR_AND,
    AR_OR
} chg_areq_kind;

struct chg_areq {
    chg_areq_kind kind;
    chg_span span;
    uint16_t depth;       /* nesting, bounded by the parser */
    union {
        struct {
            chg_expr *count;       /* INT literal */
            chg_ident group;       /* GROUP */
            chg_ident *people;     /* PEOPLE */
            uint32_t npeople;
            chg_expr *within;      /* DURATION or NULL */
            bool requester_counts; /* `including requester` */
        } term;
        struct { chg_areq *a, *b; } bin;
    } u;
};

/* ---- declarations ---------------------------------------------------------- */

typedef enum chg_decl_kind {
    D_POLICY,
    D_IMPORT,
    D_SCHEMA,
    D_AT,
    D_RISK,
    D_LET,
    D_CLASSIFY,
    D_WINDOW,
    D_FREEZE,
    D_APPROVALS,
    D_RULE,
    D_ON,
    D_INTAKE,
    D_TEST,
    D_LIMITS,
    D_CONCURRENCY
} chg_decl_kind;

const char *chg_c_decl_kind_name(chg_decl_kind k); /* "window", "let", … */

typedef struct chg_classify_arm {
    chg_ident cls;          /* name "default" for the default arm */
    chg_expr *cond;         /* NULL for default */
    bool is_default;
    int risk_index;         /* resolved */
    chg_span span;
} chg_classify_arm;

typedef struct chg_approval_entry {
    chg_ident cls;          /* risk class, or "emergency" */
    bool is_emergency;
    chg_areq *req;
    int risk_index;
} chg_approval_entry;

typedef enum chg_rule_level {
    LEVEL_MANDATORY,
    LEVEL_OVERRIDABLE,
    LEVEL_ADVISORY
} chg_rule_level;

typedef enum chg_rule_action {
    RA_ERROR,
    RA_REQUIRE_WINDOW,      /* require window W */
    RA_REQUIRE_APPROVAL,    /* require N of … */
    RA_DENY,                /* deny [during T, …] ["message"] */
    RA_WARN                 /* warn "message" */
} chg_rule_action;

typedef enum chg_test_item_kind {
    TI_CHANGE,      /* change { … } */
    TI_EVENT,       /* event { … } */
    TI_AT,          /* at INSTANT */
    TI_GIVEN,       /* given CALL = VALUE */
    TI_GIVEN_FLAG,  /* given flag "name" = BOOL */
    TI_EXPECT       /* expect OUTCOME clauses… */
} chg_test_item_kind;

typedef struct chg_expect_clause {
    chg_ident key;          /* risk, missing, reasons, next_open, … */
    chg_expr *value;        /* risk: EX_NAME */
} chg_expect_clause;

typedef struct chg_test_item {
    chg_test_item_kind kind;
    chg_span span;
    chg_expr *value;        /* CHANGE/EVENT object, AT instant, GIVEN value */
    chg_expr *call;         /* GIVEN: the query call */
    chg_ident flag;         /* GIVEN_FLAG */
    chg_ident outcome;      /* EXPECT */
    chg_expect_clause *clauses;
    uint32_t nclauses;
    const char *text;       /* CHANGE/EVENT "file.json": the file's text */
    size_t len;
} chg_test_item;

struct chg_decl {
    chg_decl_kind kind;
    chg_span span;          /* whole declaration */
    chg_ident name;         /* policy name, let/window/freeze/rule/intake
                               name, test title, import path */
    uint32_t file;          /* source index */
    bool used;              /* lint: referenced somewhere */
    bool broken;            /* had a syntax error inside: skip checks of
                               completeness that the error explains */
    int state;              /* checker scratch (cycle detection) */
    uint32_t ts_nodes;      /* window, freeze: nodes once references are
                               written out, + 1 (0: not counted yet;
                               UINT32_MAX: being counted); capped */
    uint32_t ts_depth;      /* and the levels of that tree; capped */
    int index;              /* risk class: its rank (0 = lowest) */
    chg_decl *risk_owner;   /* risk class: the `risk` declaration */
    chg_type *type;         /* let: its type, once checked */
    bool uses_risk;         /* let: reads `risk`, directly or not */
    bool produced;          /* risk class: some classify arm yields it */
    union {
        struct { chg_ident version; } policy;
        struct { uint32_t target; } import;    /* source index once read */
        struct { chg_field_decl *fields; uint32_t n; chg_ident root; bool strict; } schema;
        struct { chg_expr *expr; } at;
        struct { chg_ident *classes; uint32_t n; } risk;
        struct { chg_expr *expr; } let;
        struct { chg_classify_arm *arms; uint32_t n; } classify;
        struct { chg_tsexpr *ts; } timeset;   /* WINDOW, FREEZE */
        struct { chg_approval_entry *entries; uint32_t n; } approvals;
        struct {
            chg_ident level_name;
            chg_rule_level level;
            chg_expr *when;     /* NULL: always */
            chg_rule_action action;
            chg_span action_span;
            chg_ident window;   /* REQUIRE_WINDOW */
            chg_decl *window_decl;
            chg_areq *req;      /* REQUIRE_APPROVAL */
            chg_tsexpr **during; /* DENY during … */
            uint32_t nduring;
            chg_expr *message;  /* DENY / WARN; NULL if none */
        } rule;
        struct {
            chg_ident outcome;
            chg_expr *when;
            chg_expr **calls;
            uint32_t ncalls;
        } on;
        struct {
            chg_expr *when;
            chg_object_field *fields;
            uint32_t n;
        } intake;
        struct { chg_test_item *items; uint32_t n; } test;
        /* budget: value, as written; the checker fills limits[] */
        struct { chg_object_field *fields; uint32_t n; } limits;
        /* `concurrency NAME = N of any|risk >= CLASS [per change.FIELD…]` */
        struct {
            int64_t max;          /* N */
            chg_span max_span;
            chg_ident min_risk;   /* name NULL: `of any` */
            chg_expr *per;        /* NULL: globally */
            int risk_index;       /* resolved: min_risk's rank, -1 any */
            const char *path;     /* checked: the field path below change,
                                     dotted ("service"), NULL globally */
        } concurrency;
    } u;
};

/* One parsed file. */
typedef struct chg_file {
    uint32_t source;
    chg_decl **decls;
    uint32_t ndecls;
} chg_file;

/* ---- constructors (used by the parser) -------------------------------------- */

/* Out of memory they return a shared spare node (and a push drops its item):
 * the arena's `failed` flag says the tree must not be used. */

chg_expr *chg_c_ast_expr(chg_arena *a, chg_expr_kind kind, chg_span span);
chg_decl *chg_c_ast_decl(chg_arena *a, chg_decl_kind kind, chg_span span);
chg_tsexpr *chg_c_ast_ts(chg_arena *a, chg_ts_kind kind, chg_span span);
chg_areq *chg_c_ast_areq(chg_arena *a, chg_areq_kind kind, chg_span span);
chg_typeexpr *chg_c_ast_typeexpr(chg_arena *a, chg_typeexpr_kind kind, chg_span span);
void chg_c_ast_list_push(chg_arena *a, chg_ast_list *l, void *item);

chg_span chg_c_span_join(chg_span a, chg_span b);

#endif

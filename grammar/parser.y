/*
 * parser.y — the .chg grammar.
 *
 * A pure (reentrant) LALR(1) parser with locations and LAC, so "expected …"
 * lists only tokens that can really follow; syntax errors are reported with
 * the tokens as data (parse.error custom) and worded by the diagnostics
 * engine, never by rewriting bison's English. It
 * builds the AST through compiler/parse.c; every semantic value lives in
 * the compiler's arena, so discarded symbols need no %destructor (the one
 * below documents that and keeps bison's checks on).
 *
 * Error recovery: at statement level (a bad declaration is skipped up to
 * the next declaration keyword), at bracket level ( ( … ) [ … ] { … } and
 * string interpolations ), per classify arm, approval entry and test item.
 *
 * Precedence, loosest first:
 *   if/then/else, quantifier bodies   (extend as far right as possible)
 *   or
 *   and
 *   not
 *   == != < <= > >= in matches        (non-associative)
 *   ??
 *   + -
 *   * / %
 *   unary -
 *   . ?. [ ] ( )                      (postfix)
 */
%require "3.8"
%define api.pure full
%define api.prefix {chg_c_yy}
%define api.location.type {chg_span}
%define parse.error custom
%define parse.lac full
%locations
%expect 0
%param {void *scanner}
%parse-param {chg_parser *p}

%code requires {
#include "parse_int.h"
}

%code provides {
int chg_c_yylex(CHG_C_YYSTYPE *yylval, chg_span *yylloc, void *scanner);
}

%code {
#include "parse_build.h"

/* A rule's span runs from its first symbol's start to its last one's end.
 * An empty rule (when_opt, version_opt, …) gets an empty span at the end
 * of the symbol before it, so a diagnostic about something missing points
 * just after the last thing written, not at the next line's token. */
#define YYLLOC_DEFAULT(Cur, Rhs, N)                                        \
    do {                                                                   \
        if (N) {                                                           \
            (Cur).file = YYRHSLOC(Rhs, 1).file;                            \
            (Cur).start = YYRHSLOC(Rhs, 1).start;                          \
            (Cur).end = YYRHSLOC(Rhs, N).end;                              \
        } else {                                                           \
            (Cur).file = YYRHSLOC(Rhs, 0).file;                            \
            (Cur).start = (Cur).end = YYRHSLOC(Rhs, 0).end;                \
        }                                                                  \
    } while (0)

/* Nesting guards: the scanner bounds brackets; this bounds operators. */
/* Why both guards are needed: the scanner's bracket limit cannot see
 * prefix operators, and `not not not … x` or `- - - … 1` push one parser
 * state per operator before any rule is reduced, so DEEP (which runs on
 * reduction) would come too late to bound the stack. YYMAXDEPTH bounds it
 * instead; bison's stack grows on the heap up to it, and running out is
 * reported as the nesting limit (chg_c_parser_exhausted). DEEP then
 * bounds the trees that do get built, and YYABORT ends the file's parse
 * at once: after E0011 nothing useful could follow. */
/* Recovery inside a block (arms, approval entries, test items) resumes at
 * the next token that can start an item; when that token is the first on
 * its line and starts an item or a declaration (chg_c_p_resumes), it is
 * taken as a fresh start and its own errors are reported at once, rather than hidden by bison's rule that nothing is
 * reported until three tokens were shifted (which is there to stop
 * cascades in the middle of a line). */
#define RESYNC() do { if (yychar > 0 && chg_c_p_resumes(p, yychar, yylloc)) yyerrok; } while (0)

#define YYMAXDEPTH 100000
#define DEEP(e, at, what) do { if (chg_c_p_too_deep(p, (e)->depth, (at), (what))) YYABORT; } while (0)

/* With parse.error custom, bison calls yyerror only for "memory exhausted"
 * (the parser's stack or LAC's outgrew YYMAXDEPTH or malloc). */
static void chg_c_yyerror(chg_span *loc, void *scanner, chg_parser *p, const char *msg)
{
    (void)scanner;
    (void)msg;
    chg_c_parser_exhausted(p, *loc);
}
}

%union {
    int64_t i;
    double f;
    struct { const char *s; size_t len; } str;
    chg_ident ident;
    chg_expr *expr;
    chg_decl *decl;
    chg_tsexpr *ts;
    chg_areq *areq;
    chg_typeexpr *te;
    chg_ast_list list;
    chg_field_decl *fdecl;
    chg_object_field *ofield;
    chg_classify_arm *arm;
    chg_approval_entry *aentry;
    chg_dayspec *day;
    chg_test_item *titem;
    chg_expect_clause *clause;
    chg_schedopt *sopt;
}

/* Semantic values are arena-owned; nothing to free on discard. */
/* A no-op destructor for every type, rather than none: bison reports a
 * rule that ignores a semantic value only for types that have a
 * destructor, so this keeps that check (hence `(void)$2` where a rule
 * drops one on purpose). Freeing is the arena's: it releases every value,
 * including those popped during error recovery, with the compilation. */
%destructor { (void)$$; } <*>

%token <ident> IDENT "identifier"
%token <ident> TIMEOFDAY "time of day"
%token <str>   STRING "string"
%token <str>   RAWSTRING "raw string"
%token <str>   STR_TEXT "string text"
%token         STR_BEGIN "interpolated string"
%token         STR_END "end of string"
%token         INTERP_BEGIN "'{' in a string"
%token         INTERP_END "'}' in a string"
%token <i>     INT "integer"
%token <f>     FLOAT "number"
%token <i>     DURATION "duration"
%token <i>     DATE "date"
%token <i>     LOCALDT "date-time"
%token <i>     INSTANT "instant"

%token ALL "'all'" AND "'and'" ANY "'any'" APPROVALS "'approvals'" AT "'at'"
%token CALENDAR "'calendar'" CLASSIFY "'classify'" CONCURRENCY "'concurrency'" COUNT "'count'" CRON "'cron'"
%token DAILY "'daily'" DEFAULT "'default'" DENY "'deny'" DO "'do'" DURING "'during'"
%token ELSE "'else'" ENUM "'enum'" EXPECT "'expect'" FALSE "'false'" FLAG "'flag'"
%token FOR "'for'" FREEZE "'freeze'" GIVEN "'given'" GROUP "'group'" IF "'if'"
%token IMPORT "'import'" IN "'in'" INCLUDING "'including'" INTAKE "'intake'"
%token LET "'let'" LIMITS "'limits'" MATCHES "'matches'" NONE "'none'" NOT "'not'" NUL "'null'" OF "'of'"
%token ON "'on'" OR "'or'" POLICY "'policy'" RATE "'rate'" REQUIRE "'require'" RISK "'risk'"
%token VERSION "'version'"
%token RULE "'rule'" SCHEMA "'schema'" TEST "'test'" THEN "'then'" TRUE "'true'"
%token WARN "'warn'" WEEKLY "'weekly'" WHEN "'when'" WHERE "'where'"
%token WINDOW "'window'" WITHIN "'within'" YEARLY "'yearly'"
%token DOTDOT "'..'" QDOT "'?.'" QQ "'??'" ARROW "'=>'" EQ "'=='" NE "'!='" LE "'<='"
%token GE "'>='"

%type <decl> decl policy_decl import_decl schema_decl at_decl risk_decl
%type <decl> let_decl classify_decl window_decl freeze_decl approvals_decl limits_decl
%type <decl> rule_decl on_decl intake_decl test_decl rule_body concurrency_decl
%type <expr> expr postfix primary string istring plain_string any_string
%type <expr> when_opt message_opt default_opt duration count_expr within_opt
%type <expr> ts_point
%type <list> str_parts risk_chain field_decls arms approval_entries days
%type <list> sched_opts ts_list obj_fields exprs exprs_opt string_list test_items
%type <list> expect_clauses call_list during_opt enum_values
%type <ident> version_opt zone_opt level_opt string_ident outcome concurrency_of
%type <expr> per_opt
%type <ts> timeset ts_leaf
%type <sopt> sched_opt
%type <areq> areq areq_term
%type <te> type
%type <fdecl> field_decl
%type <ofield> obj_field
%type <arm> arm
%type <aentry> approval_entry
%type <day> day
%type <titem> test_item
%type <clause> expect_clause
%type <i> including_opt
%type <titem> expect_opt

/* IF_BODY is the lowest precedence and is given to `if`, `any` and `all`
 * with %prec: when the parser has `else e` and sees `or`, the rule's
 * precedence is below the token's, so it shifts, and the body extends as
 * far right as it can (`if c then a else b or d` is `… else (b or d)`).
 * Comparisons are %nonassoc, so `a < b < c` is a syntax error instead of
 * quietly comparing a bool with c. `not` binds looser than comparisons:
 * `not a == b` is `not (a == b)`, as it reads. */
%precedence IF_BODY
%left OR
%left AND
%precedence NOT
%nonassoc EQ NE '<' LE '>' GE IN MATCHES
%left QQ
%left '+' '-'
%left '*' '/' '%'
%precedence UMINUS

%start file

%%

file
    : decls
    ;

/*
 * Statement-level recovery. On a syntax error bison pops states until it
 * reaches one where `error` may be shifted, here after the declarations
 * already parsed, then discards tokens until one can follow `decls
 * error`: a declaration keyword or end of input. Then it reports no new
 * error until three tokens have been shifted, which is what stops one
 * mistake from producing a message per token up to the next declaration.
 * The declaration that held the error is lost, but everything before and
 * after it is checked.
 *
 * When an inner rule recovered instead (inside brackets, an arm, an
 * entry), the declaration is still reduced and kept; `broken` then
 * records that a syntax error lies within its span (last_error is
 * offset + 1, so 0 means none, and an error at the very end of the span
 * still counts), so the checker skips its completeness checks.
 */
decls
    : %empty
    | decls decl            { if ($2) { $2->broken = p->last_error > @2.start && p->last_error <= @2.end + 1;
                                        chg_c_ast_list_push(p->arena, &p->decls, $2); } }
    | decls error           { RESYNC(); }
    ;

decl
    : policy_decl | import_decl | schema_decl | at_decl | risk_decl
    | let_decl | classify_decl | window_decl | freeze_decl
    | approvals_decl | rule_decl | on_decl | intake_decl | test_decl
    | limits_decl | concurrency_decl
    ;

/* ---- header, imports, schema ------------------------------------------ */

policy_decl
    : POLICY plain_string version_opt
        { $$ = chg_c_p_decl(p, D_POLICY, @$); $$->name = chg_c_p_str_ident($2);
          $$->u.policy.version = $3; }
    ;

version_opt
    : %empty                { $$.name = NULL; $$.span = @$; }
    | VERSION string_ident  { $$ = $2; }
    ;

import_decl
    : IMPORT plain_string
        { $$ = chg_c_p_decl(p, D_IMPORT, @$); $$->name = chg_c_p_str_ident($2); }
    ;

/* A schema with a syntax error inside is dropped (NULL), not kept in
 * part: without a schema `change` is `any`, while a half schema would
 * make every use of a field it lost an "unknown field" error. */
schema_decl
    : SCHEMA IDENT '{' field_decls '}'
        { $$ = chg_c_p_schema(p, @$, $2, NULL, &$4); }
    | SCHEMA IDENT IDENT '{' field_decls '}'
        { $$ = chg_c_p_schema(p, @$, $2, &$3, &$5); }
    | SCHEMA IDENT '{' error '}'
        { (void)$2; $$ = NULL; }
    | SCHEMA IDENT IDENT '{' error '}'
        { (void)$2; (void)$3; $$ = NULL; }
    ;

field_decls
    : %empty                { $$ = (chg_ast_list){0}; }
    | field_decls field_decl           { $$ = $1; chg_c_ast_list_push(p->arena, &$$, $2); }
    | field_decls field_decl ','       { $$ = $1; chg_c_ast_list_push(p->arena, &$$, $2); }
    ;

field_decl
    : IDENT ':' type default_opt
        { $$ = chg_c_p_field_decl(p, $1, $3, $4); }
    ;

default_opt
    : %empty                { $$ = NULL; }
    | '=' expr              { $$ = $2; }
    ;

type
    : IDENT                 { $$ = chg_c_ast_typeexpr(p->arena, TE_NAMED, @$); $$->u.named = $1; }
    | ENUM '(' enum_values ')'
        { $$ = chg_c_p_enum_type(p, @$, &$3); }
    | '[' type ']'          { $$ = chg_c_ast_typeexpr(p->arena, TE_LIST, @$); $$->u.elem = $2; }
    | '{' field_decls '}'   { $$ = chg_c_p_object_type(p, @$, &$2); }
    | type '?'              { $$ = chg_c_p_optional_type(p, @$, $1); }
    | type QQ               { $$ = chg_c_p_optional_type(p, @$, chg_c_p_optional_type(p, @$, $1)); }
    ;

enum_values
    : string_ident          { $$ = (chg_ast_list){0}; chg_c_p_push_ident(p, &$$, $1); }
    | enum_values ',' string_ident { $$ = $1; chg_c_p_push_ident(p, &$$, $3); }
    | enum_values ','       { $$ = $1; }
    ;

/* ---- at, risk, let, classify -------------------------------------------- */

at_decl
    : AT expr               { $$ = chg_c_p_decl(p, D_AT, @$); $$->u.at.expr = $2; }
    ;

risk_decl
    : RISK risk_chain       { $$ = chg_c_p_risk(p, @$, &$2); }
    ;

risk_chain
    : IDENT                 { $$ = (chg_ast_list){0}; chg_c_p_push_ident(p, &$$, $1); }
    | risk_chain '<' IDENT  { $$ = $1; chg_c_p_push_ident(p, &$$, $3); }
    ;

/* `let x = error` still declares x, with an error value: the uses of x
 * then check against T_ERROR and stay silent, where dropping the let
 * would turn every use into "unknown name 'x'". windows and freezes do
 * the same with TS_ERROR. */
let_decl
    : LET IDENT '=' expr
        { $$ = chg_c_p_decl(p, D_LET, @$); $$->name = $2; $$->u.let.expr = $4; }
    | LET IDENT '=' error
        { $$ = chg_c_p_decl(p, D_LET, @$); $$->name = $2;
          $$->u.let.expr = chg_c_ast_expr(p->arena, EX_ERROR, @4); }
    ;

classify_decl
    : CLASSIFY '{' arms '}' { $$ = chg_c_p_classify(p, @$, &$3); }
    ;

/* Recovery per arm (and, below, per approval entry and test item): the
 * list rule itself takes `error`, so a bad arm is skipped up to the next
 * token that can start an arm or close the block, and the other arms
 * are kept and checked. */
arms
    : %empty                { $$ = (chg_ast_list){0}; }
    | arms arm              { $$ = $1; if ($2) chg_c_ast_list_push(p->arena, &$$, $2); }
    | arms error            { $$ = $1; RESYNC(); }
    ;

arm
    : IDENT WHEN expr       { $$ = chg_c_p_arm(p, @$, $1, $3, false); }
    | DEFAULT IDENT         { $$ = chg_c_p_arm(p, @$, $2, NULL, true); }
    ;

/* ---- time sets ----------------------------------------------------------------- */

window_decl
    : WINDOW IDENT '=' timeset
        { $$ = chg_c_p_decl(p, D_WINDOW, @$); $$->name = $2; $$->u.timeset.ts = $4; }
    | WINDOW IDENT '=' error
        { $$ = chg_c_p_decl(p, D_WINDOW, @$); $$->name = $2;
          $$->u.timeset.ts = chg_c_ast_ts(p->arena, TS_ERROR, @4); }
    ;

freeze_decl
    : FREEZE IDENT '=' timeset
        { $$ = chg_c_p_decl(p, D_FREEZE, @$); $$->name = $2; $$->u.timeset.ts = $4; }
    | FREEZE IDENT '=' error
        { $$ = chg_c_p_decl(p, D_FREEZE, @$); $$->name = $2;
          $$->u.timeset.ts = chg_c_ast_ts(p->arena, TS_ERROR, @4); }
    ;

/* Time sets have their own expression grammar: `and`, `or`, `not` and
 * parentheses over schedules, names of other sets and flags. It shares
 * the operator tokens with expressions, and the same precedence
 * declarations resolve it. A bare IDENT is a reference, resolved by the
 * checker, so windows can be combined by name. */
timeset
    : timeset OR timeset    { $$ = chg_c_p_ts_bin(p, TS_OR, @$, $1, $3); DEEP($$, @$, "time set"); }
    | timeset AND timeset   { $$ = chg_c_p_ts_bin(p, TS_AND, @$, $1, $3); DEEP($$, @$, "time set"); }
    | NOT timeset           { $$ = chg_c_p_ts_not(p, @$, $2); DEEP($$, @$, "time set"); }
    | '(' timeset ')'       { $$ = $2; }
    | '(' error ')'         { $$ = chg_c_ast_ts(p->arena, TS_ERROR, @$); }
    | IDENT                 { $$ = chg_c_ast_ts(p->arena, TS_REF, @$); $$->u.ref.name = $1; }
    | ts_leaf zone_opt      { $$ = $1; $$->zone = $2; $$->span = @$; }
    | FLAG string_ident     { $$ = chg_c_ast_ts(p->arena, TS_FLAG, @$); $$->u.flag = $2; }
    ;

ts_leaf
    : CRON string_ident sched_opts FOR duration sched_opts
        { $$ = chg_c_p_sched(p, TS_CRON, @$, (chg_ident){0}, $2, NULL, &$3, $5, &$6); }
    | CRON IDENT string_ident sched_opts FOR duration sched_opts
        { $$ = chg_c_p_sched(p, TS_CRON, @$, $2, $3, NULL, &$4, $6, &$7); }
    | RATE string_ident sched_opts FOR duration sched_opts
        { $$ = chg_c_p_sched(p, TS_RATE, @$, (chg_ident){0}, $2, NULL, &$3, $5, &$6); }
    | AT ts_point sched_opts FOR duration sched_opts
        { $$ = chg_c_p_sched(p, TS_AT, @$, (chg_ident){0}, (chg_ident){0}, $2, &$3, $5, &$6); }
    | WEEKLY days TIMEOFDAY DOTDOT TIMEOFDAY
        { $$ = chg_c_p_weekly(p, @$, &$2, $3, $5); }
    | DAILY TIMEOFDAY DOTDOT TIMEOFDAY
        { $$ = chg_c_p_weekly(p, @$, NULL, $2, $4); }
    | ts_point DOTDOT ts_point
        { $$ = chg_c_ast_ts(p->arena, TS_RANGE, @$); $$->u.range.from = $1; $$->u.range.to = $3; }
    | YEARLY IDENT INT DOTDOT IDENT INT
        { $$ = chg_c_ast_ts(p->arena, TS_YEARLY, @$);
          $$->u.yearly.from_mon = $2; $$->u.yearly.from_day = chg_c_p_int(p, EX_INT, @3, $3);
          $$->u.yearly.to_mon = $5; $$->u.yearly.to_day = chg_c_p_int(p, EX_INT, @6, $6); }
    | CALENDAR string_ident
        { $$ = chg_c_ast_ts(p->arena, TS_CALENDAR, @$); $$->u.cal.path = $2; }
    ;

/* Options of cron, rate and at schedules: a word and a value. Which
 * words there are is the checker's (compiler/timesets.c), so that a
 * misspelt one gets a "did you mean". */
sched_opts
    : %empty                { $$ = (chg_ast_list){0}; }
    | sched_opts sched_opt  { $$ = $1; chg_c_ast_list_push(p->arena, &$$, $2); }
    ;

sched_opt
    : IDENT duration        { $$ = chg_c_p_schedopt(p, @$, $1, $2, (chg_ident){0}); }
    | IDENT ts_point        { $$ = chg_c_p_schedopt(p, @$, $1, $2, (chg_ident){0}); }
    | IDENT IDENT           { $$ = chg_c_p_schedopt(p, @$, $1, NULL, $2); }
    ;

ts_point
    : INSTANT               { $$ = chg_c_p_int(p, EX_INSTANT, @$, $1); }
    | LOCALDT               { $$ = chg_c_p_int(p, EX_LOCALTIME, @$, $1); }
    | DATE                  { $$ = chg_c_p_int(p, EX_DATE, @$, $1); }
    ;

zone_opt
    : %empty                { $$.name = NULL; $$.span = @$; }
    | IN string_ident       { $$ = $2; }
    ;

days
    : day                   { $$ = (chg_ast_list){0}; chg_c_ast_list_push(p->arena, &$$, $1); }
    | days ',' day          { $$ = $1; chg_c_ast_list_push(p->arena, &$$, $3); }
    ;

day
    : IDENT                 { $$ = chg_c_p_day(p, $1, (chg_ident){0}); }
    | IDENT '-' IDENT       { $$ = chg_c_p_day(p, $1, $3); }
    ;

duration
    : DURATION              { $$ = chg_c_p_int(p, EX_DURATION, @$, $1); }
    | INT                   { $$ = chg_c_p_int(p, EX_INT, @$, $1); }
    ;

/* ---- limits: the per-decision budgets (checked in check.c) --------------------- */

limits_decl
    : LIMITS '{' obj_fields '}'
        { $$ = chg_c_p_limits(p, @$, &$3); }
    | LIMITS '{' error '}'
        { $$ = NULL; }
    ;

/* ---- concurrency limits: at most N changes in flight at once (checked in check.c) -- */

concurrency_decl
    : CONCURRENCY IDENT '=' INT OF concurrency_of per_opt
        { $$ = chg_c_p_concurrency(p, @$, $2, $4, @4, $6, $7); }
    | CONCURRENCY IDENT '=' error
        { (void)$2; $$ = NULL; }
    ;

concurrency_of
    : ANY                   { $$.name = NULL; $$.span = @$; }
    | RISK GE IDENT         { $$ = $3; }
    ;

per_opt
    : %empty                { $$ = NULL; }
    | IDENT postfix         { $$ = chg_c_p_per(p, $1, $2); }
    ;

/* ---- approvals -------------------------------------------------------------- */

approvals_decl
    : APPROVALS '{' approval_entries '}'
        { $$ = chg_c_p_approvals(p, @$, &$3); }
    ;

approval_entries
    : %empty                { $$ = (chg_ast_list){0}; }
    | approval_entries approval_entry
        { $$ = $1; if ($2) chg_c_ast_list_push(p->arena, &$$, $2); }
    | approval_entries error { $$ = $1; RESYNC(); }
    ;

approval_entry
    : IDENT ARROW areq      { $$ = chg_c_p_approval_entry(p, $1, $3); }
    ;

areq
    : areq OR areq          { $$ = chg_c_p_areq_bin(p, AR_OR, @$, $1, $3); DEEP($$, @$, "approval requirement"); }
    | areq AND areq         { $$ = chg_c_p_areq_bin(p, AR_AND, @$, $1, $3); DEEP($$, @$, "approval requirement"); }
    | '(' areq ')'          { $$ = $2; }
    | NONE                  { $$ = chg_c_ast_areq(p->arena, AR_NONE, @$); }
    | areq_term
    ;

areq_term
    : INT OF GROUP string_ident within_opt including_opt
        { $$ = chg_c_p_areq_term(p, AR_GROUP, @$, $1, @1, $5, $6); $$->u.term.group = $4; }
    | INT OF ANY within_opt including_opt
        { $$ = chg_c_p_areq_term(p, AR_ANY, @$, $1, @1, $4, $5); }
    | INT OF '[' string_list ']' within_opt including_opt
        { $$ = chg_c_p_areq_term(p, AR_PEOPLE, @$, $1, @1, $6, $7); chg_c_p_people(p, $$, &$4); }
    ;

within_opt
    : %empty                { $$ = NULL; }
    | WITHIN duration       { $$ = $2; }
    ;

including_opt
    : %empty                { $$ = 0; }
    | INCLUDING IDENT       { $$ = chg_c_p_including(p, $2); }
    ;

string_list
    : string_ident          { $$ = (chg_ast_list){0}; chg_c_p_push_ident(p, &$$, $1); }
    | string_list ',' string_ident { $$ = $1; chg_c_p_push_ident(p, &$$, $3); }
    | string_list ','       { $$ = $1; }
    ;

/* ---- rules and actions ----------------------------------------------------- */

/* The optional level before ':' is an identifier, not a keyword, so a
 * misspelt level reaches the resolver's "did you mean" rather than
 * failing as a syntax error. */
rule_decl
    : RULE IDENT level_opt ':' when_opt rule_body
        { $$ = $6; if ($$) chg_c_p_rule($$, @$, $2, $3, $5); }
    ;

level_opt
    : %empty                { $$.name = NULL; $$.span = @$; }
    | IDENT                 { $$ = $1; }
    ;

when_opt
    : %empty                { $$ = NULL; }
    | WHEN expr             { $$ = $2; }
    ;

rule_body
    : REQUIRE WINDOW IDENT
        { $$ = chg_c_p_decl(p, D_RULE, @$); $$->u.rule.action = RA_REQUIRE_WINDOW;
          $$->u.rule.window = $3; $$->u.rule.action_span = @$; }
    | REQUIRE areq
        { $$ = chg_c_p_decl(p, D_RULE, @$); $$->u.rule.action = RA_REQUIRE_APPROVAL;
          $$->u.rule.req = $2; $$->u.rule.action_span = @$; }
    | DENY during_opt message_opt
        { $$ = chg_c_p_deny(p, @$, &$2, $3); }
    | WARN any_string
        { $$ = chg_c_p_decl(p, D_RULE, @$); $$->u.rule.action = RA_WARN;
          $$->u.rule.message = $2; $$->u.rule.action_span = @$; }
    ;

during_opt
    : %empty                { $$ = (chg_ast_list){0}; }
    | DURING ts_list        { $$ = $2; }
    ;

ts_list
    : timeset               { $$ = (chg_ast_list){0}; chg_c_ast_list_push(p->arena, &$$, $1); }
    | ts_list ',' timeset   { $$ = $1; chg_c_ast_list_push(p->arena, &$$, $3); }
    ;

message_opt
    : %empty                { $$ = NULL; }
    | any_string            { $$ = $1; }
    ;

on_decl
    : ON outcome when_opt DO call_list
        { $$ = chg_c_p_on(p, @$, $2, $3, &$5); }
    ;

/* `deny` is a keyword; as an outcome it is a name like the others. */
outcome
    : IDENT
    | DENY                  { $$.name = "deny"; $$.span = @$; }
    ;

/* Actions are postfix expressions, not full ones: a call cannot be
 * followed by an operator, so `,` between calls is unambiguous and a
 * stray operator is a syntax error at the place it appears. */
call_list
    : postfix               { $$ = (chg_ast_list){0}; chg_c_ast_list_push(p->arena, &$$, $1); }
    | call_list ',' postfix { $$ = $1; chg_c_ast_list_push(p->arena, &$$, $3); }
    ;

/* ---- intake ------------------------------------------------------------------ */

/* As for the schema, a broken intake is dropped whole: its fields are
 * checked against the schema for completeness, and a partial list would
 * report every field after the error as missing. */
intake_decl
    : INTAKE IDENT when_opt '{' obj_fields '}'
        { $$ = chg_c_p_intake(p, @$, $2, $3, &$5); }
    | INTAKE IDENT when_opt '{' error '}'
        { (void)$2; (void)$3; $$ = NULL; }
    ;

/* ---- tests --------------------------------------------------------------------- */

test_decl
    : TEST string_ident '{' test_items expect_opt '}'
        { $$ = chg_c_p_test(p, @$, $2, &$4, $5); }
    ;

/* `expect` comes last: its clauses are `name value` pairs, so an item after
 * it could not be told from a clause. */
expect_opt
    : %empty                { $$ = NULL; }
    | EXPECT outcome expect_clauses
        { $$ = chg_c_p_expect(p, @$, $2, &$3); }
    ;

test_items
    : %empty                { $$ = (chg_ast_list){0}; }
    | test_items test_item  { $$ = $1; if ($2) chg_c_ast_list_push(p->arena, &$$, $2); }
    | test_items error      { $$ = $1; RESYNC(); }
    ;

/* Items and expect clauses follow one another without separators, so
 * their values are primaries (a literal, a list, an object, a
 * parenthesised expression) that end where they visibly end; the next
 * item's first word is never read as continuing the previous value. */
test_item
    : IDENT primary
        { $$ = chg_c_p_test_input(p, @$, $1, $2); }
    | AT expr
        { $$ = chg_c_p_test_item(p, TI_AT, @$); $$->value = $2; }
    | GIVEN postfix '=' expr
        { $$ = chg_c_p_test_item(p, TI_GIVEN, @$); $$->call = $2; $$->value = $4; }
    | GIVEN FLAG string_ident '=' expr
        { $$ = chg_c_p_test_item(p, TI_GIVEN_FLAG, @$); $$->flag = $3; $$->value = $5; }
    ;

expect_clauses
    : %empty                { $$ = (chg_ast_list){0}; }
    | expect_clauses expect_clause { $$ = $1; chg_c_ast_list_push(p->arena, &$$, $2); }
    ;

expect_clause
    : RISK IDENT
        { chg_expr *e = chg_c_ast_expr(p->arena, EX_NAME, @2); e->u.name.name = $2.name;
          $$ = chg_c_p_clause(p, (chg_ident){"risk", @1, false}, e); }
    | IDENT primary         { $$ = chg_c_p_clause(p, $1, $2); }
    ;

/* ---- expressions ----------------------------------------------------------------- */

expr
    : postfix
    | IF expr THEN expr ELSE expr %prec IF_BODY
        { $$ = chg_c_ast_expr(p->arena, EX_IF, @$); $$->u.ifx.cond = $2;
          $$->u.ifx.then = $4; $$->u.ifx.els = $6; DEEP($$, @$, "expression"); }
    | ANY IDENT IN postfix ':' expr %prec IF_BODY
        { $$ = chg_c_p_quant(p, EX_ANY, @$, $2, $4, $6); DEEP($$, @$, "expression"); }
    | ALL IDENT IN postfix ':' expr %prec IF_BODY
        { $$ = chg_c_p_quant(p, EX_ALL, @$, $2, $4, $6); DEEP($$, @$, "expression"); }
    | NOT expr              { $$ = chg_c_p_unary(p, UOP_NOT, @$, $2); DEEP($$, @$, "expression"); }
    | '-' expr %prec UMINUS { $$ = chg_c_p_unary(p, UOP_NEG, @$, $2); DEEP($$, @$, "expression"); }
    | expr OR expr          { $$ = chg_c_p_binary(p, BIN_OR, @$, $1, $3, @2); DEEP($$, @$, "expression"); }
    | expr AND expr         { $$ = chg_c_p_binary(p, BIN_AND, @$, $1, $3, @2); DEEP($$, @$, "expression"); }
    | expr EQ expr          { $$ = chg_c_p_binary(p, BIN_EQ, @$, $1, $3, @2); DEEP($$, @$, "expression"); }
    | expr NE expr          { $$ = chg_c_p_binary(p, BIN_NE, @$, $1, $3, @2); DEEP($$, @$, "expression"); }
    | expr '<' expr         { $$ = chg_c_p_binary(p, BIN_LT, @$, $1, $3, @2); DEEP($$, @$, "expression"); }
    | expr LE expr          { $$ = chg_c_p_binary(p, BIN_LE, @$, $1, $3, @2); DEEP($$, @$, "expression"); }
    | expr '>' expr         { $$ = chg_c_p_binary(p, BIN_GT, @$, $1, $3, @2); DEEP($$, @$, "expression"); }
    | expr GE expr          { $$ = chg_c_p_binary(p, BIN_GE, @$, $1, $3, @2); DEEP($$, @$, "expression"); }
    | expr IN expr          { $$ = chg_c_p_binary(p, BIN_IN, @$, $1, $3, @2); DEEP($$, @$, "expression"); }
    | expr MATCHES expr     { $$ = chg_c_p_binary(p, BIN_MATCHES, @$, $1, $3, @2); DEEP($$, @$, "expression"); }
    | expr QQ expr          { $$ = chg_c_p_binary(p, BIN_COALESCE, @$, $1, $3, @2); DEEP($$, @$, "expression"); }
    | expr '+' expr         { $$ = chg_c_p_binary(p, BIN_ADD, @$, $1, $3, @2); DEEP($$, @$, "expression"); }
    | expr '-' expr         { $$ = chg_c_p_binary(p, BIN_SUB, @$, $1, $3, @2); DEEP($$, @$, "expression"); }
    | expr '*' expr         { $$ = chg_c_p_binary(p, BIN_MUL, @$, $1, $3, @2); DEEP($$, @$, "expression"); }
    | expr '/' expr         { $$ = chg_c_p_binary(p, BIN_DIV, @$, $1, $3, @2); DEEP($$, @$, "expression"); }
    | expr '%' expr         { $$ = chg_c_p_binary(p, BIN_MOD, @$, $1, $3, @2); DEEP($$, @$, "expression"); }
    ;

/* Member access, indexing and calls, all left-recursive so that a chain
 * a.b.c(…)[0] uses constant stack. `( error )` after a callee recovers
 * inside the argument list and yields an error node for the whole call. */
postfix
    : primary
    | postfix '.' IDENT     { $$ = chg_c_p_field(p, EX_FIELD, @$, $1, $3); DEEP($$, @$, "expression"); }
    | postfix QDOT IDENT    { $$ = chg_c_p_field(p, EX_OPTFIELD, @$, $1, $3); DEEP($$, @$, "expression"); }
    | postfix '[' expr ']'  { $$ = chg_c_ast_expr(p->arena, EX_INDEX, @$); $$->u.index.obj = $1;
                              $$->u.index.index = $3; DEEP($$, @$, "expression"); }
    | postfix '(' exprs_opt ')'
                            { $$ = chg_c_p_call(p, @$, $1, &$3); DEEP($$, @$, "expression"); }
    | postfix '(' error ')' { (void)$1; $$ = chg_c_ast_expr(p->arena, EX_ERROR, @$); }
    ;

primary
    : INT                   { $$ = chg_c_p_int(p, EX_INT, @$, $1); }
    | FLOAT                 { $$ = chg_c_ast_expr(p->arena, EX_FLOAT, @$); $$->u.f = $1; }
    | DURATION              { $$ = chg_c_p_int(p, EX_DURATION, @$, $1); }
    | INSTANT               { $$ = chg_c_p_int(p, EX_INSTANT, @$, $1); }
    | DATE                  { $$ = chg_c_p_int(p, EX_DATE, @$, $1); }
    | LOCALDT               { $$ = chg_c_p_int(p, EX_LOCALTIME, @$, $1); }
    | TRUE                  { $$ = chg_c_ast_expr(p->arena, EX_BOOL, @$); $$->u.b = true; }
    | FALSE                 { $$ = chg_c_ast_expr(p->arena, EX_BOOL, @$); $$->u.b = false; }
    | NUL                   { $$ = chg_c_ast_expr(p->arena, EX_NULL, @$); }
    | string
    | IDENT                 { $$ = chg_c_p_name(p, @$, $1.name); }
    | RISK                  { $$ = chg_c_p_name(p, @$, "risk"); }
    | '(' expr ')'          { $$ = $2; }
    | '(' error ')'         { $$ = chg_c_ast_expr(p->arena, EX_ERROR, @$); }
    | '[' exprs_opt ']'     { $$ = chg_c_p_list(p, @$, &$2); DEEP($$, @$, "expression"); }
    | '[' error ']'         { $$ = chg_c_ast_expr(p->arena, EX_ERROR, @$); }
    | '{' obj_fields '}'    { $$ = chg_c_p_object(p, @$, &$2); DEEP($$, @$, "expression"); }
    | '{' error '}'         { $$ = chg_c_ast_expr(p->arena, EX_ERROR, @$); }
    | count_expr
    ;

count_expr
    : COUNT '(' IDENT IN postfix WHERE expr ')'
        { $$ = chg_c_p_quant(p, EX_COUNT, @$, $3, $5, $7); DEEP($$, @$, "expression"); }
    ;

exprs_opt
    : %empty                { $$ = (chg_ast_list){0}; }
    | exprs
    | exprs ','             { $$ = $1; }
    ;

exprs
    : expr                  { $$ = (chg_ast_list){0}; chg_c_ast_list_push(p->arena, &$$, $1); }
    | exprs ',' expr        { $$ = $1; chg_c_ast_list_push(p->arena, &$$, $3); }
    ;

obj_fields
    : %empty                { $$ = (chg_ast_list){0}; }
    | obj_fields obj_field       { $$ = $1; chg_c_ast_list_push(p->arena, &$$, $2); }
    | obj_fields obj_field ','   { $$ = $1; chg_c_ast_list_push(p->arena, &$$, $2); }
    ;

obj_field
    : IDENT ':' expr        { $$ = chg_c_p_obj_field(p, $1, $3); }
    | STRING ':' expr       { $$ = chg_c_p_obj_field(p, chg_c_p_strval_ident($1.s, @1), $3); }
    ;

/* ---- strings ---------------------------------------------------------------------- */

string
    : STRING                { $$ = chg_c_p_literal(p, EX_STRING, @$, $1.s, $1.len); }
    | RAWSTRING             { $$ = chg_c_p_literal(p, EX_RAWSTRING, @$, $1.s, $1.len); }
    | istring
    ;

istring
    : STR_BEGIN str_parts STR_END
        { $$ = chg_c_p_interp(p, @$, &$2); }
    ;

str_parts
    : %empty                { $$ = (chg_ast_list){0}; }
    | str_parts STR_TEXT
        { $$ = $1; chg_c_ast_list_push(p->arena, &$$, chg_c_p_string(p, EX_STRING, @2, $2.s, $2.len)); }
    | str_parts INTERP_BEGIN expr INTERP_END
        { $$ = $1; chg_c_ast_list_push(p->arena, &$$, $3); }
    | str_parts INTERP_BEGIN INTERP_END
        { $$ = $1; chg_c_diag_report(p->c, CHG_D_E0016, chg_c_span_join(@2, @3), NULL); }
    | str_parts INTERP_BEGIN error INTERP_END
        { $$ = $1; }
    ;

plain_string
    : STRING                { $$ = chg_c_p_literal(p, EX_STRING, @$, $1.s, $1.len); }
    | RAWSTRING             { $$ = chg_c_p_literal(p, EX_STRING, @$, $1.s, $1.len); }
    | istring               { $$ = chg_c_p_not_interp(p, $1); }
    ;

string_ident
    : plain_string          { $$ = chg_c_p_str_ident($1); }
    ;

any_string
    : string
    ;

%%

/* The three ways to write a string, which an "expected" list names once. */
static bool string_token(yysymbol_kind_t k)
{
    return k == YYSYMBOL_STRING || k == YYSYMBOL_RAWSTRING || k == YYSYMBOL_STR_BEGIN;
}

/* A syntax error: the unexpected token and, when there are at most four,
 * the tokens LAC says could follow, handed to the diagnostics engine. More
 * than four would be a list nobody reads, so the message then names only
 * the unexpected token. */
static int yyreport_syntax_error(const yypcontext_t *ctx, void *scanner, chg_parser *p)
{
    (void)scanner;
    yysymbol_kind_t tok = yypcontext_token(ctx);
    yysymbol_kind_t exp[4];
    int n = 0;
    if (tok != YYSYMBOL_YYEMPTY) {
        n = yypcontext_expected_tokens(ctx, exp, (int)CHG_ARRAY_LEN(exp));
        if (n < 0)
            return 2; /* LAC ran out of memory: bison reports it */
    }
    /* could the closer of the innermost open bracket come here? */
    bool closer_fits = false;
    if (tok != YYSYMBOL_YYEMPTY && p->nopen > 0 && p->open[p->nopen - 1] != 0) {
        yysymbol_kind_t all[YYNTOKENS];
        int m = yypcontext_expected_tokens(ctx, all, YYNTOKENS);
        if (m < 0)
            return 2;
        int closer = (unsigned char)p->open[p->nopen - 1]; /* an int: YYTRANSLATE range-checks it */
        yysymbol_kind_t want = YYTRANSLATE(closer);
        for (int i = 0; i < m; i++)
            closer_fits |= all[i] == want;
    }
    const char *names[4];
    size_t nnames = 0;
    for (int i = 0; i < n; i++) {
        bool run = i + 1 < n && string_token(exp[i]) && string_token(exp[i + 1]);
        names[nnames++] = run ? "string" : yysymbol_name(exp[i]);
        while (run && i + 1 < n && string_token(exp[i + 1]))
            i++;
    }
    chg_c_parser_syntax_error(p, *yypcontext_location(ctx),
                            tok == YYSYMBOL_YYEMPTY ? NULL : yysymbol_name(tok), names, nnames, closer_fits);
    return 0;
}

/* Token names as the grammar spells them, for tests and tools. */
const char *chg_c_token_name(int kind)
{
    return yysymbol_name(YYTRANSLATE(kind));
}

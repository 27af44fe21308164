/*
 * parse_build.h — AST builders called from the grammar's actions. They
 * keep the actions one line long and do the small checks that need only
 * the tokens at hand (plain strings, depth limits, list freezing).
 * Defined in parse.c.
 */
#ifndef CHG_PARSE_BUILD_H
#define CHG_PARSE_BUILD_H

#include "parse_int.h"

chg_decl *chg_c_p_decl(chg_parser *p, chg_decl_kind kind, chg_span span);
chg_ident chg_c_p_str_ident(chg_expr *plain_string);
chg_ident chg_c_p_strval_ident(const char *s, chg_span at);
void chg_c_p_push_ident(chg_parser *p, chg_ast_list *l, chg_ident id);

/* `schema change { … }`, or with a modifier (`strict`; anything else is
 * reported, E0121): NULL for none. */
chg_decl *chg_c_p_schema(chg_parser *p, chg_span span, chg_ident root, const chg_ident *modifier,
                         chg_ast_list *fields);
chg_field_decl *chg_c_p_field_decl(chg_parser *p, chg_ident name, chg_typeexpr *t, chg_expr *dflt);
chg_typeexpr *chg_c_p_enum_type(chg_parser *p, chg_span span, chg_ast_list *values);
chg_typeexpr *chg_c_p_object_type(chg_parser *p, chg_span span, chg_ast_list *fields);

chg_decl *chg_c_p_risk(chg_parser *p, chg_span span, chg_ast_list *classes);
chg_decl *chg_c_p_classify(chg_parser *p, chg_span span, chg_ast_list *arms);
chg_classify_arm *chg_c_p_arm(chg_parser *p, chg_span span, chg_ident cls, chg_expr *cond, bool is_default);

chg_tsexpr *chg_c_p_ts_bin(chg_parser *p, chg_ts_kind kind, chg_span span, chg_tsexpr *a, chg_tsexpr *b);
chg_tsexpr *chg_c_p_sched(chg_parser *p, chg_ts_kind kind, chg_span span, chg_ident dialect, chg_ident expr,
                          chg_expr *at, chg_ast_list *opts1, chg_expr *dur, chg_ast_list *opts2);
chg_schedopt *chg_c_p_schedopt(chg_parser *p, chg_span span, chg_ident name, chg_expr *val, chg_ident word);
chg_tsexpr *chg_c_p_weekly(chg_parser *p, chg_span span, chg_ast_list *days, chg_ident from, chg_ident to);
chg_dayspec *chg_c_p_day(chg_parser *p, chg_ident from, chg_ident to);

chg_decl *chg_c_p_approvals(chg_parser *p, chg_span span, chg_ast_list *entries);
chg_approval_entry *chg_c_p_approval_entry(chg_parser *p, chg_ident cls, chg_areq *req);
chg_areq *chg_c_p_areq_bin(chg_parser *p, chg_areq_kind kind, chg_span span, chg_areq *a, chg_areq *b);
chg_areq *chg_c_p_areq_term(chg_parser *p, chg_areq_kind kind, chg_span span, int64_t count,
                          chg_span count_span, chg_expr *within, int64_t including);
void chg_c_p_people(chg_parser *p, chg_areq *r, chg_ast_list *people);
int64_t chg_c_p_including(chg_parser *p, chg_ident who);

void chg_c_p_rule(chg_decl *rule, chg_span span, chg_ident name, chg_ident level, chg_expr *when);
chg_decl *chg_c_p_deny(chg_parser *p, chg_span span, chg_ast_list *during, chg_expr *message);
chg_decl *chg_c_p_on(chg_parser *p, chg_span span, chg_ident outcome, chg_expr *when, chg_ast_list *calls);
chg_decl *chg_c_p_limits(chg_parser *p, chg_span span, chg_ast_list *fields);
chg_decl *chg_c_p_concurrency(chg_parser *p, chg_span span, chg_ident name, int64_t max, chg_span max_span,
                              chg_ident min_risk, chg_expr *per);
chg_expr *chg_c_p_per(chg_parser *p, chg_ident word, chg_expr *field);
chg_decl *chg_c_p_intake(chg_parser *p, chg_span span, chg_ident name, chg_expr *when, chg_ast_list *fields);

chg_decl *chg_c_p_test(chg_parser *p, chg_span span, chg_ident name, chg_ast_list *items, chg_test_item *expect);
chg_test_item *chg_c_p_test_item(chg_parser *p, chg_test_item_kind kind, chg_span span);
chg_test_item *chg_c_p_test_input(chg_parser *p, chg_span span, chg_ident what, chg_expr *value);
chg_test_item *chg_c_p_expect(chg_parser *p, chg_span span, chg_ident outcome, chg_ast_list *clauses);
chg_expect_clause *chg_c_p_clause(chg_parser *p, chg_ident key, chg_expr *value);

chg_expr *chg_c_p_int(chg_parser *p, chg_expr_kind kind, chg_span span, int64_t v);
chg_expr *chg_c_p_literal(chg_parser *p, chg_expr_kind kind, chg_span span, const char *s, size_t len);
chg_expr *chg_c_p_string(chg_parser *p, chg_expr_kind kind, chg_span span, const char *s, size_t len);
chg_expr *chg_c_p_interp(chg_parser *p, chg_span span, chg_ast_list *parts);
chg_expr *chg_c_p_not_interp(chg_parser *p, chg_expr *e);
chg_expr *chg_c_p_name(chg_parser *p, chg_span span, const char *name);
chg_expr *chg_c_p_unary(chg_parser *p, chg_unop op, chg_span span, chg_expr *a);
chg_expr *chg_c_p_binary(chg_parser *p, chg_binop op, chg_span span, chg_expr *a, chg_expr *b, chg_span op_span);
chg_expr *chg_c_p_field(chg_parser *p, chg_expr_kind kind, chg_span span, chg_expr *obj, chg_ident field);
chg_expr *chg_c_p_call(chg_parser *p, chg_span span, chg_expr *callee, chg_ast_list *args);
chg_expr *chg_c_p_list(chg_parser *p, chg_span span, chg_ast_list *items);
chg_expr *chg_c_p_object(chg_parser *p, chg_span span, chg_ast_list *fields);
chg_object_field *chg_c_p_obj_field(chg_parser *p, chg_ident key, chg_expr *value);
chg_expr *chg_c_p_quant(chg_parser *p, chg_expr_kind kind, chg_span span, chg_ident var, chg_expr *list, chg_expr *body);
/* True (and reported) when e nests deeper than CHG_MAX_DEPTH. */
bool chg_c_p_too_deep(chg_parser *p, unsigned depth, chg_span at, const char *what);
/* Is the token at offset `at` the first on its line (recovery syncs there)? */
bool chg_c_p_first_on_line(const chg_parser *p, uint32_t at);
/* Is token kind k at `at` one where recovery from a syntax error resumes? */
bool chg_c_p_resumes(const chg_parser *p, int k, chg_span at);
chg_tsexpr *chg_c_p_ts_not(chg_parser *p, chg_span span, chg_tsexpr *a);
chg_typeexpr *chg_c_p_optional_type(chg_parser *p, chg_span span, chg_typeexpr *inner);

#endif

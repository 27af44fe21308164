/*
 * parse_int.h — what the flex scanner (grammar/lexer.l), the bison parser
 * (grammar/parser.y) and their driver (compiler/parse.c) share: the parser
 * state and the scanner's extra data.
 */
#ifndef CHG_PARSE_INT_H
#define CHG_PARSE_INT_H

#include "compiler_int.h"

typedef struct chg_parser {
    chg_compiler *c;
    chg_arena *arena;
    uint32_t file;
    const char *text;           /* the source text, len bytes */
    size_t len;

    /* scanner state */
    uint32_t offset;            /* byte offset of the next token */
    int depth;                  /* open ( [ { and interpolations */
    int braces;                 /* open { (to match interpolation ends) */
    int interp[CHG_MAX_DEPTH + 1]; /* brace count where each {expr} began */
    uint32_t interp_str[CHG_MAX_DEPTH + 1]; /* its string's open quote */
    int ninterp;
    uint32_t str_start;         /* offset of the open quote of a string */
    chg_buf str;                /* string literal being built */
    bool after_dot;             /* previous token was . or ?. */
    bool fatal;                 /* stop: nesting too deep, too many errors */
    uint32_t bad_literal;       /* start+1 of the last literal with an error */
    uint32_t last_error;        /* start+1 of the last syntax error (0:
                                   none); the grammar marks the declaration
                                   holding it `broken` */

    /* recovery (chg_c_yylex): after a syntax error, a declaration keyword
     * at the start of a line closes the brackets left open, so a missing
     * ')' loses one declaration, not the rest of the file */
    bool recovering;            /* a syntax error since the last declaration start */
    char open[CHG_MAX_DEPTH + 1]; /* closers of the open ( [ {, innermost last */
    int nopen;
    int pending;                /* synthetic closers still to hand out */
    int held;                   /* the token they come before (0: none) */
    _Alignas(max_align_t) unsigned char held_val[64]; /* its CHG_C_YYSTYPE (parse.c
                                   checks the size) */
    chg_span held_loc;

    /* parser state */
    chg_ast_list decls;
} chg_parser;

/* Called by the generated parser; defined in parse.c. A syntax error at
 * `at`: the unexpected token's name (NULL: none) and the names of the n
 * tokens that could have come instead (n 0: too many to list). */
void chg_c_parser_syntax_error(chg_parser *p, chg_span at, const char *unexpected,
                             const char *const *expected, size_t n);
/* The parser's stack is exhausted: nesting too deep for it. */
void chg_c_parser_exhausted(chg_parser *p, chg_span at);

#endif

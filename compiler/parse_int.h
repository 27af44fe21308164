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
    uint32_t interp_brace[CHG_MAX_DEPTH + 1]; /* its own '{' */
    int ninterp;
    uint32_t str_start;         /* offset of the open quote of a string */
    chg_buf str;                /* string literal being built */
    bool after_dot;             /* previous token was . or ?. */
    bool fatal;                 /* stop: nesting too deep, too many errors */
    uint32_t bad_literal;       /* start+1 of the last literal with an error */
    uint32_t bad_string;        /* start+1 of the last string with an error
                                   already reported (a bad escape, an
                                   unclosed interpolation): it becomes an
                                   error node, so nothing more is said of it */
    bool unwinding;             /* closing every interpolation still open at
                                   the end of a line, already reported */
    int prev_tok;               /* the last token handed to the parser */
    uint32_t interp_reported;   /* offset+1 where the last unclosed
                                   interpolation was reported (once a line) */
    uint32_t last_error;        /* start+1 of the last syntax error (0:
                                   none); the grammar marks the declaration
                                   holding it `broken` */

    /* recovery (chg_c_yylex): after a syntax error, a declaration keyword
     * at the start of a line closes the brackets left open, so a missing
     * ')' loses one declaration, not the rest of the file */
    bool recovering;            /* a syntax error since the last declaration start */
    char open[CHG_MAX_DEPTH + 1]; /* closers of the open ( [ {, innermost
                                   last; 0 for an interpolation */
    uint32_t open_at[CHG_MAX_DEPTH + 1]; /* where each was opened */
    int nopen;
    uint32_t quiet_at;          /* start+1 of a token whose error is already
                                   reported (a closer made up for a bracket
                                   left open): the parser's error there is
                                   not reported again */
    int pending;                /* synthetic closers still to hand out */
    int held;                   /* the token they come before (0: none) */
    _Alignas(max_align_t) unsigned char held_val[64]; /* its CHG_C_YYSTYPE (parse.c
                                   checks the size) */
    chg_span held_loc;
    _Alignas(max_align_t) unsigned char last_val[64]; /* the last token's value,
                                   for handing it out again */

    /* parser state */
    chg_ast_list decls;
} chg_parser;

/* Called by the generated parser; defined in parse.c. A syntax error at
 * `at`: the unexpected token's name (NULL: none) and the names of the n
 * tokens that could have come instead (n 0: too many to list);
 * closer_fits: the closer of the innermost open bracket could have come. */
void chg_c_parser_syntax_error(chg_parser *p, chg_span at, const char *unexpected,
                             const char *const *expected, size_t n, bool closer_fits);
/* The parser's stack is exhausted: nesting too deep for it. */
void chg_c_parser_exhausted(chg_parser *p, chg_span at);

#endif

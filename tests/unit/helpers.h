/*
 * helpers.h — small helpers the compiler unit tests share: compile a string,
 * list its diagnostics compactly, find declarations. Header-only.
 */
#ifndef CHG_TEST_HELPERS_H
#define CHG_TEST_HELPERS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "compiler_int.h"

/* Compile `text` as "t.chg" (imports relative to the current directory). */
static inline chg_compiler *compile_str(const char *text)
{
    chg_compiler *c = chg_compiler_new(NULL);
    assert_non_null(c);
    assert_int_equal(chg_compiler_add_source(c, "t.chg", text, strlen(text)), CHG_OK);
    chg_compiler_check(c);
    return c;
}

/* "E0104@3:8 W0001@1:5" — every diagnostic's code and place, in order of
 * report. Static buffer: use the result before the next call. */
static inline const char *diag_codes(chg_compiler *c)
{
    static char buf[4096];
    size_t n = 0;
    buf[0] = 0;
    for (size_t i = 0; i < chg_compiler_ndiags(c); i++) {
        const chg_diag *d = chg_compiler_diag(c, i);
        uint32_t line = 0, col = 0;
        if (d->span.file)
            chg_source_position(chg_compiler_source(c, d->span.file), d->span.start, &line, &col);
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%s@%u:%u", n ? " " : "",
                              chg_diag_table[d->id].code, line, col);
        if (n >= sizeof buf)
            break;
    }
    return buf;
}

/* The message of the first diagnostic, or "". */
static inline const char *first_message(chg_compiler *c)
{
    const chg_diag *d = chg_compiler_diag(c, 0);
    return d ? d->message : "";
}

static inline const char *first_help(chg_compiler *c)
{
    const chg_diag *d = chg_compiler_diag(c, 0);
    return d && d->help ? d->help : "";
}

static inline chg_decl *find_decl(chg_compiler *c, chg_decl_kind kind, const char *name)
{
    for (size_t i = 0; i < c->all_decls.len; i++) {
        chg_decl *d = c->all_decls.items[i];
        if (d->kind == kind && (!name || (d->name.name && strcmp(d->name.name, name) == 0)))
            return d;
    }
    return NULL;
}

/* The checked type of `let name`, as text. */
static inline const char *let_type(chg_compiler *c, const char *name)
{
    chg_decl *d = find_decl(c, D_LET, name);
    assert_non_null(d);
    return d->type ? chg_c_type_str(&c->arena, d->type) : "(unchecked)";
}

#endif

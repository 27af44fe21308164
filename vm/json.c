/*
 * json.c — parsing JSON text at the VM's boundary (changes, raw events,
 * facts, the change an intake builds), with one way of reporting failure.
 */
#include "vm_int.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

/* jansson reports most failures with a message and a position, but when
 * its own first allocation fails it returns NULL having written nothing
 * (line -1, column -1, empty text), and later allocation failures carry
 * json_error_out_of_memory: both are "out of memory" (chg_strerror's
 * text, which callers up the stack recognise), never a parse error at
 * line -1. */
json_t *chg_vm_json_parse(const char *text, size_t len, size_t flags, const char *what, char *err, size_t errlen)
{
    /* RFC 8259 §8.1 lets a parser ignore a byte order mark, and files
     * saved by some Windows editors start with one */
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) {
        text += 3;
        len -= 3;
    }
    json_error_t je;
    je.text[0] = 0;
    json_t *j = json_loadb(text, len, flags, &je);
    if (j)
        return j;
    if (je.text[0] == 0 || json_error_code(&je) == json_error_out_of_memory)
        snprintf(err, errlen, "%s", chg_strerror(CHG_ENOMEM));
    else
        /* jansson's column is 0 at the end of input or of a line: columns
         * here are 1-based, as an editor shows them */
        snprintf(err, errlen, "%s%sline %d, column %d: %s", what ? what : "", what ? ": " : "", je.line,
                 je.column < 1 ? 1 : je.column, je.text);
    return NULL;
}

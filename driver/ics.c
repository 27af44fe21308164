/*
 * ics.c — the iCalendar text of the driver's listings (ics.h).
 */
#include "ics.h"

#include "chg_time.h"

#include <stdio.h>
#include <string.h>

void chg_drv_ics_text(chg_buf *out, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\\' || c == ';' || c == ',')
            chg_buf_putc(out, '\\');
        if (c == '\n')
            chg_buf_puts(out, "\\n");
        else if (c >= 0x20 && c != 0x7f)
            chg_buf_putc(out, (char)c);
    }
}

void chg_drv_ics_instant(int64_t t, char out[20])
{
    char x[40];
    chg_time_format_utc(t, x);
    snprintf(out, 20, "%.4s%.2s%.2sT%.2s%.2s%.2sZ", x, x + 5, x + 8, x + 11, x + 14, x + 17);
}

void chg_drv_ics_interval(chg_buf *out, const char *kind, const char *name, int64_t start, int64_t end,
                          int64_t stamp)
{
    char ia[20], ib[20], is[20];
    chg_drv_ics_instant(start, ia);
    chg_drv_ics_instant(end, ib);
    chg_drv_ics_instant(stamp, is);
    chg_buf_puts(out, "BEGIN:VEVENT\r\nUID:");
    chg_drv_ics_text(out, name, strlen(name));
    chg_buf_printf(out, "-%s@chg\r\nDTSTAMP:%s\r\nDTSTART:%s\r\nDTEND:%s\r\nSUMMARY:%s ", ia, is, ia, ib, kind);
    chg_drv_ics_text(out, name, strlen(name));
    chg_buf_puts(out, "\r\nEND:VEVENT\r\n");
}

void chg_drv_ics_fold(const char *in, size_t len, chg_buf *out)
{
    size_t col = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c == '\r' && i + 1 < len && in[i + 1] == '\n') {
            chg_buf_puts(out, "\r\n");
            i++;
            col = 0;
            continue;
        }
        /* a character's first byte (not a continuation byte 10xxxxxx)
         * that would pass the 75th octet starts a continuation line */
        size_t clen = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 0;
        if (clen && col + clen > 75) {
            chg_buf_puts(out, "\r\n ");
            col = 1;
        }
        chg_buf_putc(out, (char)c);
        col++;
    }
}

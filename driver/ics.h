/*
 * ics.h — iCalendar (RFC 5545) text as the driver writes it, for `chgc
 * windows --format ics` and `chgc simulate --format ics`: one escaping of
 * TEXT values, one instant form, one line folding.
 */
#ifndef CHG_DRV_ICS_H
#define CHG_DRV_ICS_H

#include "chg_base.h"

/* s as iCalendar TEXT (3.3.11): backslash, ';' and ',' escaped, a newline
 * as "\n", other controls dropped, so a name cannot end the line and
 * start properties of its own. */
void chg_drv_ics_text(chg_buf *out, const char *s, size_t n);
/* An instant in iCalendar's UTC form, 20261201T030000Z, into out (20 bytes). */
void chg_drv_ics_instant(int64_t t, char out[20]);
/* One interval [start, end) of a window or freeze as a VEVENT: UID
 * NAME-START@chg (a later listing updates the event instead of adding a
 * copy), DTSTAMP stamp (the caller's, not the clock: the same command
 * prints the same bytes), SUMMARY "KIND NAME". */
void chg_drv_ics_interval(chg_buf *out, const char *kind, const char *name, int64_t start, int64_t end,
                          int64_t stamp);
/* in's CRLF-ended lines appended to out, each longer than 75 octets
 * folded (3.1: CRLF and a space) at a UTF-8 character boundary. */
void chg_drv_ics_fold(const char *in, size_t len, chg_buf *out);

#endif

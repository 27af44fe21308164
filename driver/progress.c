/*
 * progress.c — a progress line on a terminal for long runs (replay, and
 * simulate: chg_progress_*, chg_driver.h).
 *
 * The caller decides whether there is a terminal to write to (stderr is
 * a TTY and the user did not ask for --quiet) and passes NULL otherwise,
 * so a redirected or quiet run writes nothing. The line is rewritten in
 * place ("\r…\033[K") on the first tick and then at most four times a
 * second; the clock is read once every 256 ticks, so a tick costs a
 * comparison. The end clears the line: the report that follows on
 * stdout or stderr is not interleaved with it.
 */
#include "chg_driver.h"

#include <stdlib.h>
#include <time.h>

struct chg_progress {
    FILE *tty;
    const char *what, *unit;
    double last;        /* when the line was last written, seconds */
    unsigned ticks;
    bool shown;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

chg_progress *chg_progress_start(FILE *tty, const char *what, const char *unit)
{
    if (!tty)
        return NULL;
    chg_progress *p = calloc(1, sizeof *p);
    if (!p)
        return NULL; /* no progress line: nothing else depends on it */
    p->tty = tty;
    p->what = what;
    p->unit = unit;
    return p;
}

void chg_progress_tick(chg_progress *p, size_t done)
{
    if (!p || (p->shown && ++p->ticks % 256 != 0))
        return;
    double t = now_s();
    if (p->shown && t - p->last < 0.25)
        return;
    p->last = t;
    p->shown = true;
    fprintf(p->tty, "\r%s: %zu %s\033[K", p->what, done, p->unit);
    fflush(p->tty);
}

void chg_progress_end(chg_progress *p)
{
    if (!p)
        return;
    if (p->shown) {
        fputs("\r\033[K", p->tty);
        fflush(p->tty);
    }
    free(p);
}

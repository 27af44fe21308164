/*
 * progress.c — a progress line on a terminal for long runs (chg_driver.h).
 * The clock is read here, never in the VM: progress is for people and
 * changes nothing in any answer.
 */
#include "chg_driver.h"

#include <time.h>

struct chg_progress {
    FILE *f;
    const char *label;
    size_t total;
    int64_t last_ms;        /* when the line was last written */
    bool shown;
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

chg_progress *chg_progress_new(FILE *f, const char *label, size_t total)
{
    if (!f)
        return NULL;
    chg_progress *p = chg_calloc(1, sizeof *p);
    if (p) {
        p->f = f;
        p->label = label;
        p->total = total;
        p->last_ms = now_ms(); /* nothing in the first 100 ms: a short run shows nothing */
    }
    return p;
}

void chg_progress_update(chg_progress *p, size_t done)
{
    if (!p)
        return;
    int64_t t = now_ms();
    if (t - p->last_ms < 100)
        return;
    p->last_ms = t;
    if (p->total)
        fprintf(p->f, "\r%s: %zu of %zu (%zu%%)\033[K", p->label, done, p->total,
                (size_t)((double)done * 100.0 / (double)p->total));
    else
        fprintf(p->f, "\r%s: %zu\033[K", p->label, done);
    fflush(p->f);
    p->shown = true;
}

void chg_progress_end(chg_progress *p)
{
    if (!p)
        return;
    if (p->shown) {
        fputs("\r\033[K", p->f);
        fflush(p->f);
    }
    chg_free(p);
}

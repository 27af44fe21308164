/*
 * log.c — one line per event on standard error, ISO-8601 UTC time first,
 * as text or JSON, and the daemon's clock.
 *
 * A line is formatted whole and written with one write(2), so lines of
 * concurrent threads never interleave. Callers never pass a secret: no
 * token, no request body (docs/daemon.md, "Logs").
 */
#include "chgd.h"

#include "chg_time.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static int min_level = LOG_INFO, format = LOG_TEXT;
static const char *const names[] = {"debug", "info", "warn", "error"};

void chgd_log_init(int level, int fmt)
{
    min_level = level;
    format = fmt;
}

static int64_t system_now(void *ud)
{
    (void)ud;
    return (int64_t)time(NULL);
}

/* The fake clock (--fake-clock): an instant that only PUT /v1/clock moves. */
static _Atomic int64_t fake_now;

static int64_t fake_clock_now(void *ud)
{
    (void)ud;
    return atomic_load(&fake_now);
}

/* The one clock: the system's, or the fake one chosen at start (never
 * switched while threads run). */
static chgd_clock clock_in_use = {system_now, NULL};

int64_t chgd_now(void)
{
    return clock_in_use.now(clock_in_use.ud);
}

void chgd_clock_fake(int64_t start)
{
    atomic_store(&fake_now, start);
    clock_in_use = (chgd_clock){fake_clock_now, NULL};
}

bool chgd_clock_is_fake(void)
{
    return clock_in_use.now == fake_clock_now;
}

void chgd_clock_set(int64_t t)
{
    atomic_store(&fake_now, t);
}

const char *chgd_time_text(int64_t t, char *buf)
{
    chg_time_format_utc(t, buf);
    return buf;
}

const char *chgd_log_time(char *buf)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    size_t n = strftime(buf, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, 32 - n, ".%03dZ", (int)(tv.tv_usec / 1000));
    return buf;
}

void chgd_log(int level, const char *fmt, ...)
{
    if (level < min_level)
        return;
    char msg[2048], t[32], line[4200];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    /* a control character in a message (from a client's path) must not
     * forge a second line */
    for (char *p = msg; *p; p++)
        if ((unsigned char)*p < 0x20)
            *p = ' ';
    chgd_log_time(t);
    int len;
    if (format == LOG_JSON) {
        chg_buf b;
        chg_buf_init(&b);
        chg_buf_printf(&b, "{\"time\":\"%s\",\"level\":\"%s\",\"msg\":", t, names[level]);
        chg_buf_json_string(&b, msg, strlen(msg));
        chg_buf_puts(&b, "}\n");
        len = snprintf(line, sizeof line, "%s", b.oom ? "" : b.data);
        chg_buf_free(&b);
    } else
        len = snprintf(line, sizeof line, "%s %s %s\n", t, names[level], msg);
    if (len > 0) {
        size_t w = (size_t)len < sizeof line ? (size_t)len : sizeof line - 1;
        ssize_t r = write(STDERR_FILENO, line, w);
        (void)r;
    }
}

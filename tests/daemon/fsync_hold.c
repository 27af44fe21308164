/*
 * fsync_hold.c — an LD_PRELOAD shim for tests/daemon (test_durable_after_sync):
 * while the file named by CHG_FSYNC_HOLD_FILE exists, every fsync or
 * fdatasync of a store's write-ahead log (a path ending in "-wal") waits.
 * So a test can hold chgd's commits between "written" and "on disk" and
 * check that nothing is answered in between.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void hold(int fd)
{
    const char *file = getenv("CHG_FSYNC_HOLD_FILE");
    if (!file)
        return;
    char link[64], path[4096];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof path - 1);
    if (n < 4 || memcmp(path + n - 4, "-wal", 4) != 0)
        return;
    struct timespec ms = {0, 2000000};
    while (access(file, F_OK) == 0)
        nanosleep(&ms, NULL);
}

int fsync(int fd)
{
    static int (*real)(int);
    if (!real)
        real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    hold(fd);
    return real(fd);
}

int fdatasync(int fd)
{
    static int (*real)(int);
    if (!real)
        real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    hold(fd);
    return real(fd);
}

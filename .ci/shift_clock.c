/* LD_PRELOAD shim for .ci/run: the wall clock moved by $SHIFT_CLOCK_SECONDS, nothing else.
 *
 * Why not Debian's libfaketime 0.9.10: with the monotonic clock faked, Python's timed
 * waits (Event.wait(timeout) -> sem_clockwait on CLOCK_MONOTONIC, not intercepted) never
 * wake; with it excluded (--exclude-monotonic), Python 3.11's time.sleep fails with
 * EINVAL (clock_nanosleep TIMER_ABSTIME, wolfcw/libfaketime#426). Only the wall clock
 * matters for "no test depends on today's date", so only the wall clock is shifted:
 * CLOCK_REALTIME(_COARSE), gettimeofday() and time(). Monotonic clocks, sleeps and
 * waits are untouched. Children inherit LD_PRELOAD and the variable.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>

static long shift_seconds(void) {
    static long shift = -1;
    if (shift == -1) {
        const char *text = getenv("SHIFT_CLOCK_SECONDS");
        shift = text ? atol(text) : 0;
    }
    return shift;
}

int clock_gettime(clockid_t clock, struct timespec *ts) {
    static int (*real)(clockid_t, struct timespec *) = NULL;
    if (!real) real = (int (*)(clockid_t, struct timespec *))dlsym(RTLD_NEXT, "clock_gettime");
    int rc = real(clock, ts);
    if (rc == 0 && ts && (clock == CLOCK_REALTIME || clock == CLOCK_REALTIME_COARSE))
        ts->tv_sec += shift_seconds();
    return rc;
}

int gettimeofday(struct timeval *tv, void *tz) {
    static int (*real)(struct timeval *, void *) = NULL;
    if (!real) real = (int (*)(struct timeval *, void *))dlsym(RTLD_NEXT, "gettimeofday");
    int rc = real(tv, tz);
    if (rc == 0 && tv) tv->tv_sec += shift_seconds();
    return rc;
}

time_t time(time_t *out) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (out) *out = ts.tv_sec;
    return ts.tv_sec;
}

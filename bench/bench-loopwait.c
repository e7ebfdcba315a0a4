/* bench-loopwait: what the preload adds to a loop's own wait (issue 4,
 * performance). A thread polls its own epoll fd, which holds an always
 * ready eventfd, with a timeout: under the preload the first call makes it
 * an epoll loop's (the hint), every later one is the loop's own wait.
 * Each process times the wrapped call and libc's epoll_wait called
 * directly (through dlopen, which no wrapper sees), in turn, and prints
 * both: run natively and preloaded, the difference of differences is the
 * wrapper's cost. Usage: bench-loopwait [MS] [REPS] */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>

typedef int (*epoll_wait_fn)(int, struct epoll_event *, int, int);

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* ns per call of f over a run of about ms milliseconds. */
static double time_calls(epoll_wait_fn f, int epfd, double ms)
{
    struct epoll_event ev;
    long n = 1000;
    for (;;) {
        double t0 = now_ns();
        for (long i = 0; i < n; i++)
            if (f(epfd, &ev, 1, 1000) != 1)
                abort();
        double dt = now_ns() - t0;
        if (dt >= ms * 1e6)
            return dt / n;
        n *= 2;
    }
}

int main(int argc, char **argv)
{
    double ms = argc > 1 ? atof(argv[1]) : 8;
    int reps = argc > 2 ? atoi(argv[2]) : 5;
    void *libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
    epoll_wait_fn direct = libc ? (epoll_wait_fn)dlsym(libc, "epoll_wait")
                                : NULL;
    int efd = eventfd(1, EFD_NONBLOCK);
    int epfd = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN};
    if (!direct || efd < 0 || epfd < 0 ||
        epoll_ctl(epfd, EPOLL_CTL_ADD, efd, &ev) != 0)
        return 1;
    double best_call = 1e18, best_direct = 1e18;
    time_calls(epoll_wait, epfd, ms);     /* warm-up; the hint, once */
    for (int r = 0; r < reps; r++) {
        double c = time_calls(epoll_wait, epfd, ms);
        double d = time_calls(direct, epfd, ms);
        best_call = c < best_call ? c : best_call;
        best_direct = d < best_direct ? d : best_direct;
    }
    printf("%.1f %.1f\n", best_call, best_direct);
    return 0;
}

/* bench-futexwait: what stack classification costs one wait (issue 4,
 * performance). The program links libuv statically (libuv_a.a), so under
 * the preload the catalog has a runner and every thread's futex waits
 * take the slow path: capture the stack, classify it (no runner here:
 * forwarded). A futex wait whose word does not match returns EAGAIN at
 * once, so a loop of them times that path without sleeping. DEPTH frames
 * of recursion stand for a real program's stack. The wrapped syscall() and
 * libc's, called through dlopen, are timed in turn; prints both in ns.
 * Usage: bench-futexwait [DEPTH] [MS] [REPS] */
#include <dlfcn.h>
#include <linux/futex.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

typedef long (*syscall_fn)(long, ...);

static int word;

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static double time_calls(syscall_fn f, double ms)
{
    long n = 256;
    for (;;) {
        double t0 = now_ns();
        for (long i = 0; i < n; i++)
            if (f(SYS_futex, &word, FUTEX_WAIT_PRIVATE, 1, NULL) != -1)
                abort();
        double dt = now_ns() - t0;
        if (dt >= ms * 1e6)
            return dt / n;
        n *= 2;
    }
}

struct args {
    syscall_fn direct;
    double ms;
    int reps;
};

/* Recurses depth times, then times: the stack the wrapper sees. */
static __attribute__((noinline)) void at_depth(int depth, struct args *a)
{
    if (depth > 0) {
        at_depth(depth - 1, a);
        __asm__ volatile("" ::: "memory");   /* not a tail call */
        return;
    }
    double best_call = 1e18, best_direct = 1e18;
    time_calls(syscall, a->ms);               /* warm-up */
    for (int r = 0; r < a->reps; r++) {
        double c = time_calls(syscall, a->ms);
        double d = time_calls(a->direct, a->ms);
        best_call = c < best_call ? c : best_call;
        best_direct = d < best_direct ? d : best_direct;
    }
    printf("%.1f %.1f\n", best_call, best_direct);
}

int main(int argc, char **argv)
{
    int depth = argc > 1 ? atoi(argv[1]) : 20;
    struct args a = {NULL, argc > 2 ? atof(argv[2]) : 8,
                     argc > 3 ? atoi(argv[3]) : 5};
    void *libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
    a.direct = libc ? (syscall_fn)dlsym(libc, "syscall") : NULL;
    if (!a.direct)
        return 1;
    /* The runner the catalog finds: linked in, used once. */
    uv_loop_t loop;
    uv_loop_init(&loop);
    uv_run(&loop, UV_RUN_NOWAIT);
    uv_loop_close(&loop);
    at_depth(depth, &a);
    return 0;
}

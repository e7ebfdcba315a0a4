/* bench-report: what a report costs the loop thread that makes it, with
 * and without file:line (bench/run-symbolize.sh runs it under the preload
 * with symbolize_ms=0 and with the default). In one libuv timer callback,
 * SITES reads of a pipe that already holds a byte, each called from a
 * function of its own: under the preload each is a new site, so each is
 * reported before the read is made; the read itself returns at once.
 * Prints the time each read took, in microseconds: "first N" (the
 * process's first report: it loads what symbolizing needs, and starts the
 * symbolizer), then "next N" for each of the others (the helper warm, the
 * frames of the loop and of main known: one new frame to ask about).
 * Built -O2 -g, like the programs reports are read for. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#define SITES 24

static int fds[2];
static double took[SITES];

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static __attribute__((noinline)) int timed_read(int i)
{
    char c;
    double t0 = now_us();
    int r = (int)read(fds[0], &c, 1);
    took[i] = now_us() - t0;
    return r;
}

/* SITES callers of timed_read, each its own call site. */
#define SITE(n)                                                             \
    static __attribute__((noinline)) int site##n(int i)                    \
    {                                                                       \
        int r = timed_read(i);                                              \
        __asm__ volatile("" ::: "memory");    /* not a tail call */         \
        return r;                                                           \
    }
#define SITES4(n) SITE(n##0) SITE(n##1) SITE(n##2) SITE(n##3)
SITES4(1) SITES4(2) SITES4(3) SITES4(4) SITES4(5) SITES4(6)
#define REF4(n) site##n##0, site##n##1, site##n##2, site##n##3
static int (*const sites[SITES])(int) = {REF4(1), REF4(2), REF4(3),
                                          REF4(4), REF4(5), REF4(6)};

static void on_timer(uv_timer_t *t)
{
    for (int i = 0; i < SITES; i++) {
        if (write(fds[1], "x", 1) != 1 || sites[i](i) != 1) {
            perror("bench-report");
            exit(1);
        }
    }
    uv_close((uv_handle_t *)t, NULL);
}

int main(void)
{
    uv_loop_t *loop = uv_default_loop();
    uv_timer_t timer;
    if (pipe(fds) != 0 || uv_timer_init(loop, &timer) ||
        uv_timer_start(&timer, on_timer, 0, 0) ||
        uv_run(loop, UV_RUN_DEFAULT))
        return 1;
    printf("first %.1f\n", took[0]);
    for (int i = 1; i < SITES; i++)
        printf("next %.1f\n", took[i]);
    return 0;
}

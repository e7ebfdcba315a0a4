/* stall: a blocking read on the loop thread that does return, late.
 *
 * on_timer reads a pipe that a worker thread writes 10 ms later. The program
 * works and exits 0, but for those 10 ms no other callback on the loop can
 * run. loopguard reports the read: "it works" is not "it never blocks". */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <uv.h>

/* Exits with a message when a libuv call fails (returns a negative errno). */
#define CHECK(call)                                                         \
    do {                                                                    \
        int rc_ = (call);                                                   \
        if (rc_ != 0) {                                                     \
            fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call,   \
                    uv_strerror(rc_));                                      \
            exit(1);                                                        \
        }                                                                   \
    } while (0)

static void die(const char *what)
{
    perror(what);
    exit(1);
}

static int fds[2];                  /* a blocking pipe: worker -> loop */

static void worker(void *arg)
{
    (void)arg;
    uv_sleep(10);
    if (write(fds[1], "x", 1) != 1)
        die("write");
}

static void on_timer(uv_timer_t *t)
{
    uint64_t start = uv_hrtime();
    char c;

    /* Waits for the worker: every other callback on this loop waits too. */
    if (read(fds[0], &c, 1) != 1)
        die("read");
    printf("on_timer: read '%c' after %.1f ms; the loop stood still\n", c,
           (uv_hrtime() - start) / 1e6);
    uv_close((uv_handle_t *)t, NULL);
}

int main(void)
{
    uv_loop_t *loop = uv_default_loop();
    uv_thread_t thread;
    uv_timer_t timer;

    if (pipe(fds) != 0)
        die("pipe");
    CHECK(uv_timer_init(loop, &timer));
    CHECK(uv_timer_start(&timer, on_timer, 0, 0));
    CHECK(uv_thread_create(&thread, worker, NULL));
    CHECK(uv_run(loop, UV_RUN_DEFAULT));
    CHECK(uv_thread_join(&thread));
    CHECK(uv_loop_close(loop));
    if (close(fds[0]) != 0 || close(fds[1]) != 0)
        die("close");
    return 0;
}

/* Blocking calls for suppression rules (test-suppressions). Usage:
 *   prog-supp calls [all]  a libuv timer ticks 3 times; each tick makes one
 *                          blocking call at each of these sites, each its
 *                          own function:
 *                            site_sleep          nanosleep 1 ms
 *                            site_caller_read    read of a pipe (a byte is
 *                                                written first)
 *                            allowed_outer       calls inner_wait, which
 *                                                sem_waits on a posted sem
 *                            supp_mod_read       read, in libsupp-mod.so
 *                            site_reported       usleep 1 ms
 *                          ("all": not site_reported, so a file can cover
 *                          every call the program makes)
 *   prog-supp stall MS     one timer callback, in stall_site, nanosleeps
 *                          3 x MS: a blocking call and, with stall_ms=MS,
 *                          a stall
 * Exit status 0 when every call behaved. */
#include <errno.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

/* Sites the test finds by name: never inlined, cloned or merged. */
#if defined(__clang__)
#define SITE __attribute__((noinline))
#else
#define SITE __attribute__((noipa))
#endif

int supp_mod_read(int fd);

static int fds[2];
static sem_t sem;
static int ticks, all, failed;
static long stall_ms;

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "prog-supp: %s: %s\n", what, strerror(errno));
        failed = 1;
    }
}

SITE static void site_sleep(void)
{
    struct timespec ts = {0, 1000000};
    check(nanosleep(&ts, NULL) == 0, "nanosleep");
}

SITE static void site_caller_read(void)
{
    char c;
    check(read(fds[0], &c, 1) == 1, "read");
}

SITE static void inner_wait(void)
{
    check(sem_wait(&sem) == 0, "sem_wait");
}

SITE static void allowed_outer(void)
{
    inner_wait();
    __asm__ volatile("" ::: "memory");    /* no tail call: keep the frame */
}

SITE static void site_reported(void)
{
    check(usleep(1000) == 0, "usleep");
}

static void on_tick(uv_timer_t *t)
{
    check(write(fds[1], "ab", 2) == 2, "write");
    check(sem_post(&sem) == 0, "sem_post");
    site_sleep();
    site_caller_read();
    allowed_outer();
    check(supp_mod_read(fds[0]) == 0, "supp_mod_read");
    if (!all)
        site_reported();
    if (++ticks == 3)
        uv_close((uv_handle_t *)t, NULL);
}

SITE static void stall_site(void)
{
    struct timespec ts = {stall_ms * 3 / 1000, stall_ms * 3 % 1000 * 1000000};
    check(nanosleep(&ts, NULL) == 0, "nanosleep");
}

static void on_stall(uv_timer_t *t)
{
    stall_site();
    uv_close((uv_handle_t *)t, NULL);
}

int main(int argc, char **argv)
{
    uv_timer_t timer;
    int calls = argc >= 2 && strcmp(argv[1], "calls") == 0;
    if (argc >= 3 && strcmp(argv[1], "stall") == 0)
        stall_ms = atol(argv[2]);
    if (!calls && stall_ms <= 0) {
        fprintf(stderr, "usage: prog-supp calls [all] | stall MS\n");
        return 2;
    }
    all = calls && argc >= 3 && strcmp(argv[2], "all") == 0;
    if (pipe(fds) != 0 || sem_init(&sem, 0, 0) != 0)
        return 1;
    uv_loop_t *loop = uv_default_loop();
    uv_timer_init(loop, &timer);
    if (calls)
        uv_timer_start(&timer, on_tick, 1, 1);
    else
        uv_timer_start(&timer, on_stall, 1, 0);
    uv_run(loop, UV_RUN_DEFAULT);
    if (uv_loop_close(loop) != 0)
        return 1;
    return failed;
}

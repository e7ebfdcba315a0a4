/* Coalesced wake-ups of a receiving loop, counted by wrapping write() in
 * this executable (the library's call binds to it) and counting the 8-byte
 * writes to an eventfd, which is how a receiving loop is woken:
 * 10000 waiting messages take a handful of wake-ups, and a producer
 * sends no wake-up at all while the loop is busy in its callback. */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include <cmocka.h>

#include "chan-test.h"
#include "loopguard.h"

static ssize_t (*real_write)(int, const void *, size_t);
static atomic_int wakes;             /* every thread's */
static _Thread_local int wakes_here; /* this thread's */

static int is_eventfd(int fd)
{
    char path[64], target[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(path, target, sizeof target - 1);
    if (n < 0)
        return 0;
    target[n] = 0;
    return strcmp(target, "anon_inode:[eventfd]") == 0;
}

ssize_t write(int fd, const void *buf, size_t n)
{
    if (n == sizeof(uint64_t) && is_eventfd(fd)) {
        atomic_fetch_add(&wakes, 1);
        wakes_here++;
    }
    return real_write(fd, buf, n);
}

static int setup(void **state)
{
    (void)state;
    /* Resolved once, before any thread exists. */
    real_write = (ssize_t(*)(int, const void *, size_t))dlsym(RTLD_NEXT,
                                                              "write");
    return real_write ? 0 : -1;
}

#define N 10000

static int got, bad, epipe;
static atomic_int in_cb;   /* the loop is inside its first callback */
static atomic_int release; /* ... and may leave it */

static void on_msg(lg_chan_t *ch, int status, void *msg, void *data)
{
    (void)ch;
    (void)data;
    if (status == -EPIPE) {
        epipe++;
        return;
    }
    struct ct_msg m;
    memcpy(&m, msg, sizeof m);
    bad += m.seq != (uint32_t)got;
    if (got++ == 0 && data) {
        /* Busy: stay in the callback until the producer is done. */
        atomic_store(&in_cb, 1);
        while (!atomic_load(&release))
            ct_sleep_ms(1);
    }
}

static void test_chan_coalesce_prefilled(void **state)
{
    (void)state;
    uv_loop_t loop;
    lg_chan_t *ch;
    got = bad = epipe = 0;
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(lg_chan_new(&ch, 16384, sizeof(struct ct_msg)), 0);
    atomic_store(&wakes, 0);
    for (uint32_t i = 0; i < N; i++) {
        struct ct_msg m = {0, i};
        assert_int_equal(lg_chan_try_send(ch, &m), 0);
    }
    /* Nobody listens yet: sending costs no wake-up. */
    assert_int_equal(atomic_load(&wakes), 0);
    lg_chan_close(ch);
    assert_int_equal(lg_chan_recv_start(ch, &loop, on_msg, NULL), 0);
    /* The wrapper really is in the path (recv_start kicks the handle). */
    assert_true(atomic_load(&wakes) >= 1);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(got, N);
    assert_int_equal(bad, 0);
    assert_int_equal(epipe, 1);
    /* About one per 1024-message batch; far below one per message. */
    assert_true(atomic_load(&wakes) < N / 100);
    assert_int_equal(uv_loop_close(&loop), 0);
    lg_chan_free(ch);
}

struct producer {
    lg_chan_t *ch;
    int sends_while_busy; /* wake-ups sent by this thread */
    int rc;
};

static void *produce(void *arg)
{
    struct producer *p = arg;
    struct ct_msg m = {0, 0};
    /* The first message wakes the sleeping loop, which then stays busy in
     * its callback. */
    p->rc = lg_chan_send_blocking(p->ch, &m);
    while (p->rc == 0 && !atomic_load(&in_cb))
        ct_sleep_ms(1);
    wakes_here = 0;
    for (uint32_t i = 1; p->rc == 0 && i < N; i++) {
        m.seq = i;
        p->rc = lg_chan_send_blocking(p->ch, &m);
    }
    p->sends_while_busy = wakes_here;
    atomic_store(&release, 1);
    lg_chan_close(p->ch);
    return NULL;
}

static void test_chan_coalesce_busy_loop(void **state)
{
    (void)state;
    uv_loop_t loop;
    pthread_t t;
    struct producer p = {0};
    got = bad = epipe = 0;
    atomic_store(&in_cb, 0);
    atomic_store(&release, 0);
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(lg_chan_new(&p.ch, 16384, sizeof(struct ct_msg)), 0);
    assert_int_equal(lg_chan_recv_start(p.ch, &loop, on_msg, &p), 0);
    assert_int_equal(pthread_create(&t, NULL, produce, &p), 0);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(ct_join_ms(t, NULL, 30000), 0);
    assert_int_equal(p.rc, 0);
    assert_int_equal(p.sends_while_busy, 0);
    assert_int_equal(got, N);
    assert_int_equal(bad, 0);
    assert_int_equal(epipe, 1);
    assert_int_equal(uv_loop_close(&loop), 0);
    lg_chan_free(p.ch);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chan_coalesce_prefilled),
        cmocka_unit_test(test_chan_coalesce_busy_loop),
    };
    alarm(240); /* a hang fails here, with the test's name in the log */
    return cmocka_run_group_tests(tests, setup, NULL);
}

/* Coalesced wake-ups of a receiving loop, counted by wrapping
 * uv_async_send in this executable (the library's call binds to it):
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
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include <cmocka.h>

#include "chan-test.h"
#include "loopguard.h"

static int (*real_uv_async_send)(uv_async_t *);
static atomic_int async_sends;             /* every thread's */
static _Thread_local int async_sends_here; /* this thread's */

int uv_async_send(uv_async_t *h)
{
    atomic_fetch_add(&async_sends, 1);
    async_sends_here++;
    return real_uv_async_send(h);
}

static int setup(void **state)
{
    (void)state;
    /* Resolved once, before any thread exists. */
    real_uv_async_send =
        (int (*)(uv_async_t *))dlsym(RTLD_NEXT, "uv_async_send");
    return real_uv_async_send ? 0 : -1;
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
    atomic_store(&async_sends, 0);
    for (uint32_t i = 0; i < N; i++) {
        struct ct_msg m = {0, i};
        assert_int_equal(lg_chan_try_send(ch, &m), 0);
    }
    /* Nobody listens yet: sending costs no wake-up. */
    assert_int_equal(atomic_load(&async_sends), 0);
    lg_chan_close(ch);
    assert_int_equal(lg_chan_recv_start(ch, &loop, on_msg, NULL), 0);
    /* The wrapper really is in the path (recv_start kicks the handle). */
    assert_true(atomic_load(&async_sends) >= 1);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(got, N);
    assert_int_equal(bad, 0);
    assert_int_equal(epipe, 1);
    /* About one per 1024-message batch; far below one per message. */
    assert_true(atomic_load(&async_sends) < N / 100);
    assert_int_equal(uv_loop_close(&loop), 0);
    lg_chan_free(ch);
}

struct producer {
    lg_chan_t *ch;
    int sends_while_busy; /* uv_async_send calls made by this thread */
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
    async_sends_here = 0;
    for (uint32_t i = 1; p->rc == 0 && i < N; i++) {
        m.seq = i;
        p->rc = lg_chan_send_blocking(p->ch, &m);
    }
    p->sends_while_busy = async_sends_here;
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

/* -EDEADLK: blocking and timed calls on a loop thread are refused at once,
 * whether they would block or not, and change nothing. Loop threads here
 * are those marked with lg_loop_enter (no preload in unit tests) and the
 * thread that runs the channel's own callbacks (recv and send sides). */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include <cmocka.h>

#include "chan-test.h"
#include "loopguard.h"

/* A refused call returns at once; 10 s tells "refused" from "blocked for
 * its 600 s timeout" on any machine. */
#define AT_ONCE_MS 10000
#define LONG_MS 600000

struct refusals {
    int calls;   /* calls made */
    int edeadlk; /* of which refused */
    uint64_t slowest_ms;
};

static struct refusals ref;

/* Makes all four blocking calls on `ch`, expecting each to be refused. */
static void expect_refused(lg_chan_t *ch)
{
    struct ct_msg m = {42, 42};
    for (int op = 0; op < 4; op++) {
        uint64_t t0 = ct_now_ns();
        int r = op == 0   ? lg_chan_recv_blocking(ch, &m)
                : op == 1 ? lg_chan_recv_timed(ch, &m, LONG_MS)
                : op == 2 ? lg_chan_send_blocking(ch, &m)
                          : lg_chan_send_timed(ch, &m, LONG_MS);
        uint64_t ms = ct_ms_since(t0);
        ref.calls++;
        ref.edeadlk += r == -EDEADLK;
        if (ms > ref.slowest_ms)
            ref.slowest_ms = ms;
    }
}

/* ---- a thread marked with lg_loop_enter ---------------------------------- */

static lg_chan_t *empty_ch, *full_ch, *some_ch;
static int timer_calls, marked_in_cb, try_ok;

static void on_timer(uv_timer_t *t)
{
    timer_calls++;
    marked_in_cb = lg_thread_is_loop();
    /* Would block: empty (receive) and full (send). */
    expect_refused(empty_ch);
    expect_refused(full_ch);
    /* Would not block (a message and room): refused all the same. */
    expect_refused(some_ch);
    /* The try calls never block and work on a loop thread. */
    struct ct_msg m = {1, 1};
    try_ok += lg_chan_try_send(empty_ch, &m) == 0;
    try_ok += lg_chan_try_recv(empty_ch, &m) == 0;
    try_ok += lg_chan_try_recv(empty_ch, &m) == -EAGAIN;
    uv_close((uv_handle_t *)t, NULL);
}

static void test_chan_deadlk_loop_enter(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_timer_t t;
    struct ct_msg m = {7, 0};
    memset(&ref, 0, sizeof ref);
    timer_calls = marked_in_cb = try_ok = 0;
    assert_int_equal(lg_chan_new(&empty_ch, 1, sizeof m), 0);
    assert_int_equal(lg_chan_new(&full_ch, 1, sizeof m), 0);
    assert_int_equal(lg_chan_new(&some_ch, 4, sizeof m), 0);
    assert_int_equal(lg_chan_try_send(full_ch, &m), 0);
    assert_int_equal(lg_chan_try_send(some_ch, &m), 0);
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(uv_timer_init(&loop, &t), 0);
    assert_int_equal(uv_timer_start(&t, on_timer, 0, 0), 0);
    assert_int_equal(lg_loop_enter("libuv", &loop), 0);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(lg_loop_leave(), 0);
    assert_int_equal(timer_calls, 1);
    assert_int_equal(marked_in_cb, 1);
    assert_int_equal(ref.calls, 12);
    assert_int_equal(ref.edeadlk, 12);
    assert_true(ref.slowest_ms < AT_ONCE_MS);
    assert_int_equal(try_ok, 3);
    /* Refused calls changed nothing: the one message each is still there
     * and nothing was added. */
    assert_int_equal(lg_chan_try_recv(full_ch, &m), 0);
    assert_int_equal(lg_chan_try_recv(full_ch, &m), -EAGAIN);
    assert_int_equal(lg_chan_try_recv(some_ch, &m), 0);
    assert_true(m.prod == 7 && m.seq == 0);
    assert_int_equal(lg_chan_try_recv(some_ch, &m), -EAGAIN);
    assert_int_equal(lg_chan_try_recv(empty_ch, &m), -EAGAIN);
    /* Out of the loop the same thread may block again. */
    assert_int_equal(lg_chan_recv_timed(empty_ch, &m, 10), -ETIMEDOUT);
    assert_int_equal(lg_chan_try_send(some_ch, &m), 0);
    assert_int_equal(lg_chan_recv_blocking(some_ch, &m), 0);
    assert_int_equal(uv_loop_close(&loop), 0);
    lg_chan_free(empty_ch);
    lg_chan_free(full_ch);
    lg_chan_free(some_ch);
}

/* ---- the thread that runs the channel's callbacks ------------------------ */

static int recv_calls, recv_bad, recv_epipe, marked_in_recv_cb;

/* In the receive callback, with more messages waiting and room: every
 * blocking call on this channel is refused, and the messages still come
 * through this callback afterwards, in order. */
static void on_msg(lg_chan_t *ch, int status, void *msg, void *data)
{
    (void)data;
    if (status == -EPIPE) {
        recv_epipe++;
        return;
    }
    struct ct_msg m;
    memcpy(&m, msg, sizeof m);
    recv_bad += m.seq != (uint32_t)recv_calls;
    marked_in_recv_cb |= lg_thread_is_loop();
    if (recv_calls++ == 0)
        expect_refused(ch);
    if (recv_calls == 3)
        lg_chan_close(ch);
}

static int sent_calls, sent_bad;

static void on_sent(lg_chan_t *ch, int status, void *data)
{
    (void)data;
    sent_bad += status != 0;
    if (sent_calls++ == 0)
        expect_refused(ch);
    if (sent_calls == 2)
        lg_chan_close(ch);
}

struct own_cb_run {
    lg_chan_t *rx, *tx;
    int rc;
};

/* On a thread of its own, so that the mark these channels leave on their
 * loop thread cannot leak into other tests. */
static void *run_own_cb_loop(void *arg)
{
    struct own_cb_run *run = arg;
    uv_loop_t loop;
    struct ct_msg m = {0, 0};
    run->rc = uv_loop_init(&loop);
    for (uint32_t i = 0; run->rc == 0 && i < 3; i++) {
        m.seq = i;
        run->rc = lg_chan_try_send(run->rx, &m);
    }
    if (run->rc == 0)
        run->rc = lg_chan_recv_start(run->rx, &loop, on_msg, NULL);
    for (int i = 0; run->rc == 0 && i < 2; i++)
        run->rc = lg_chan_send_async(run->tx, &loop, &m, on_sent, NULL);
    if (run->rc == 0)
        run->rc = uv_run(&loop, UV_RUN_DEFAULT);
    if (run->rc == 0)
        run->rc = uv_loop_close(&loop);
    return NULL;
}

static void test_chan_deadlk_own_callback(void **state)
{
    (void)state;
    struct own_cb_run run = {0};
    pthread_t t;
    memset(&ref, 0, sizeof ref);
    recv_calls = recv_bad = recv_epipe = marked_in_recv_cb = 0;
    sent_calls = sent_bad = 0;
    assert_int_equal(lg_chan_new(&run.rx, 8, sizeof(struct ct_msg)), 0);
    assert_int_equal(lg_chan_new(&run.tx, 8, sizeof(struct ct_msg)), 0);
    assert_int_equal(pthread_create(&t, NULL, run_own_cb_loop, &run), 0);
    assert_int_equal(ct_join_ms(t, NULL, 60000), 0);
    assert_int_equal(run.rc, 0);
    /* Not marked: the refusals come from the channel's own knowledge. */
    assert_int_equal(marked_in_recv_cb, 0);
    assert_int_equal(recv_calls, 3);
    assert_int_equal(recv_bad, 0);
    assert_int_equal(recv_epipe, 1);
    assert_int_equal(sent_calls, 2);
    assert_int_equal(sent_bad, 0);
    assert_int_equal(ref.calls, 8);
    assert_int_equal(ref.edeadlk, 8);
    assert_true(ref.slowest_ms < AT_ONCE_MS);
    /* The two async messages are in `tx`, nothing else was added. */
    struct ct_msg m;
    assert_int_equal(lg_chan_try_recv(run.tx, &m), 0);
    assert_int_equal(lg_chan_try_recv(run.tx, &m), 0);
    assert_int_equal(lg_chan_try_recv(run.tx, &m), -EPIPE);
    lg_chan_free(run.rx);
    lg_chan_free(run.tx);
}

/* ---- the mark ends when the loop side detaches --------------------------- */

static lg_chan_t *mark_ch;
static pthread_t old_loop_thread;

static void on_msg_stop(lg_chan_t *ch, int status, void *msg, void *data)
{
    (void)status;
    (void)msg;
    (void)data;
    lg_chan_recv_stop(ch);
}

static void on_sent_nothing(lg_chan_t *ch, int status, void *data)
{
    (void)ch;
    (void)status;
    (void)data;
}

/* Receives one message on a loop, stops, then (the loop gone) blocks on
 * the channel like any plain thread; then sends from a loop, closes, and
 * once that loop has let go receives to the end. rc[]: the three calls. */
static void *loop_then_plain(void *arg)
{
    int *rc = arg;
    uv_loop_t loop;
    struct ct_msg m = {0, 0};
    old_loop_thread = pthread_self();
    if (uv_loop_init(&loop) != 0 ||
        lg_chan_recv_start(mark_ch, &loop, on_msg_stop, NULL) != 0 ||
        lg_chan_try_send(mark_ch, &m) != 0 ||
        uv_run(&loop, UV_RUN_DEFAULT) != 0)
        return (void *)1;
    rc[0] = lg_chan_recv_timed(mark_ch, &m, 10);
    if (lg_chan_send_async(mark_ch, &loop, &m, on_sent_nothing, NULL) != 0)
        return (void *)2;
    lg_chan_close(mark_ch);
    if (uv_run(&loop, UV_RUN_DEFAULT) != 0 || uv_loop_close(&loop) != 0)
        return (void *)3;
    rc[1] = lg_chan_recv_blocking(mark_ch, &m);
    rc[2] = lg_chan_recv_blocking(mark_ch, &m);
    return NULL;
}

static void *plain_thread(void *arg)
{
    int *rc = arg;
    struct ct_msg m;
    rc[0] = pthread_equal(pthread_self(), old_loop_thread);
    rc[1] = lg_chan_recv_timed(mark_ch, &m, 10);
    return NULL;
}

/* A thread is refused only while a loop it runs has the channel attached:
 * afterwards it may block again, and so may a new thread that glibc gave
 * the old one's pthread_t (it reuses exited threads' stacks). */
static void test_chan_deadlk_mark_released(void **state)
{
    (void)state;
    pthread_t t;
    void *ret;
    int rc[3] = {0}, plain_rc[2] = {0};
    assert_int_equal(lg_chan_new(&mark_ch, 4, sizeof(struct ct_msg)), 0);
    assert_int_equal(pthread_create(&t, NULL, loop_then_plain, rc), 0);
    assert_int_equal(ct_join_ms(t, &ret, 30000), 0);
    assert_null(ret);
    assert_int_equal(rc[0], -ETIMEDOUT);
    assert_int_equal(rc[1], 0); /* the async message */
    assert_int_equal(rc[2], -EPIPE);
    lg_chan_free(mark_ch);

    assert_int_equal(lg_chan_new(&mark_ch, 4, sizeof(struct ct_msg)), 0);
    int unused[3];
    assert_int_equal(pthread_create(&t, NULL, loop_then_plain, unused), 0);
    assert_int_equal(ct_join_ms(t, NULL, 30000), 0);
    assert_int_equal(pthread_create(&t, NULL, plain_thread, plain_rc), 0);
    assert_int_equal(ct_join_ms(t, NULL, 30000), 0);
    /* Closed by loop_then_plain, so a plain thread gets -EPIPE; a stale
     * mark would have given -EDEADLK. */
    assert_int_equal(plain_rc[1], -EPIPE);
    lg_chan_free(mark_ch);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chan_deadlk_loop_enter),
        cmocka_unit_test(test_chan_deadlk_own_callback),
        cmocka_unit_test(test_chan_deadlk_mark_released),
    };
    alarm(240); /* a hang fails here, with the test's name in the log */
    return cmocka_run_group_tests(tests, NULL, NULL);
}

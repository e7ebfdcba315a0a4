/* lg_chan_free while a loop still holds the channel: before uv_run, from
 * another thread while the loop sleeps or drains, with send callbacks
 * pending, and from inside the channel's own callbacks. Nothing may touch
 * freed memory (ASan), and the loop must end with uv_loop_close() == 0. */
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

static atomic_int got;
static int bad, epipe, after_epipe, free_at = -1;

static void reset(void)
{
    atomic_store(&got, 0);
    bad = epipe = after_epipe = 0;
    free_at = -1;
}

static void on_msg(lg_chan_t *ch, int status, void *msg, void *data)
{
    (void)data;
    if (epipe)
        after_epipe++;
    if (status == -EPIPE) {
        epipe++;
        return;
    }
    struct ct_msg m;
    memcpy(&m, msg, sizeof m);
    bad += m.seq != (uint32_t)atomic_load(&got);
    if (atomic_fetch_add(&got, 1) == free_at)
        lg_chan_free(ch); /* the loop still holds it: no use after free */
}

/* Freed before the loop ever ran: the close inside free lets the receiver
 * deliver what was accepted, then its final callback; then it lets go. */
static void test_chan_free_before_run(void **state)
{
    (void)state;
    uv_loop_t loop;
    lg_chan_t *ch;
    reset();
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(lg_chan_new(&ch, 8, sizeof(struct ct_msg)), 0);
    assert_int_equal(lg_chan_recv_start(ch, &loop, on_msg, NULL), 0);
    for (uint32_t i = 0; i < 5; i++) {
        struct ct_msg m = {0, i};
        assert_int_equal(lg_chan_try_send(ch, &m), 0);
    }
    lg_chan_free(ch);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(atomic_load(&got), 5);
    assert_int_equal(bad, 0);
    assert_int_equal(epipe, 1);
    assert_int_equal(after_epipe, 0);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* Freed from inside its own receive callback, mid-batch. */
static void test_chan_free_in_recv_cb(void **state)
{
    (void)state;
    uv_loop_t loop;
    lg_chan_t *ch;
    reset();
    free_at = 2;
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(lg_chan_new(&ch, 16, sizeof(struct ct_msg)), 0);
    for (uint32_t i = 0; i < 10; i++) {
        struct ct_msg m = {0, i};
        assert_int_equal(lg_chan_try_send(ch, &m), 0);
    }
    assert_int_equal(lg_chan_recv_start(ch, &loop, on_msg, NULL), 0);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(atomic_load(&got), 10);
    assert_int_equal(bad, 0);
    assert_int_equal(epipe, 1);
    assert_int_equal(after_epipe, 0);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* ---- send callbacks pending ---------------------------------------------- */

static int sent_ok, sent_epipe, sent_other;
static lg_chan_t *free_ch;

static void on_sent(lg_chan_t *ch, int status, void *data)
{
    (void)ch;
    (void)data;
    if (status == 0)
        sent_ok++;
    else if (status == -EPIPE)
        sent_epipe++;
    else
        sent_other++;
}

static void on_sent_free_first(lg_chan_t *ch, int status, void *data)
{
    on_sent(ch, status, data);
    if (sent_ok + sent_epipe + sent_other == 1)
        lg_chan_free(ch);
}

static void free_on_timer(uv_timer_t *t)
{
    lg_chan_free(free_ch);
    uv_close((uv_handle_t *)t, NULL);
}

/* Capacity 1, nobody receiving: one message in, nine parked; freed from a
 * timer, or from the first send callback. The parked ones fail with
 * -EPIPE and the loop lets go of the channel. */
static void test_chan_free_send_pending(void **state)
{
    (void)state;
    for (int from_cb = 0; from_cb <= 1; from_cb++) {
        uv_loop_t loop;
        uv_timer_t t;
        sent_ok = sent_epipe = sent_other = 0;
        assert_int_equal(uv_loop_init(&loop), 0);
        assert_int_equal(lg_chan_new(&free_ch, 1, sizeof(struct ct_msg)), 0);
        for (uint32_t i = 0; i < 10; i++) {
            struct ct_msg m = {0, i};
            assert_int_equal(lg_chan_send_async(
                                 free_ch, &loop, &m,
                                 from_cb ? on_sent_free_first : on_sent, NULL),
                             0);
        }
        if (!from_cb) {
            assert_int_equal(uv_timer_init(&loop, &t), 0);
            assert_int_equal(uv_timer_start(&t, free_on_timer, 10, 0), 0);
        }
        assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
        assert_int_equal(sent_ok, 1);
        assert_int_equal(sent_epipe, 9);
        assert_int_equal(sent_other, 0);
        assert_int_equal(uv_loop_close(&loop), 0);
    }
}

/* ---- freed from another thread while the loop runs ----------------------- */

struct loop_run {
    pthread_t t;
    lg_chan_t *ch;
    atomic_int started;
    int rc;
};

static void *run_loop(void *arg)
{
    struct loop_run *run = arg;
    uv_loop_t loop;
    run->rc = uv_loop_init(&loop);
    if (run->rc == 0)
        run->rc = lg_chan_recv_start(run->ch, &loop, on_msg, NULL);
    atomic_store(&run->started, 1);
    if (run->rc == 0)
        run->rc = uv_run(&loop, UV_RUN_DEFAULT);
    if (run->rc == 0)
        run->rc = uv_loop_close(&loop);
    return NULL;
}

/* Round after round: a producer sends, is joined (no thread is inside a
 * call any more), and the channel is freed at once, while the loop may be
 * asleep, draining, or in its callback. Every message accepted is still
 * delivered, then the final callback, then the loop ends. */
static void test_chan_free_while_running(void **state)
{
    (void)state;
    for (int round = 0; round < 200; round++) {
        struct loop_run run = {0};
        uint32_t n = (uint32_t)(round % 7) * 50;
        reset();
        assert_int_equal(lg_chan_new(&run.ch, 16, sizeof(struct ct_msg)), 0);
        assert_int_equal(pthread_create(&run.t, NULL, run_loop, &run), 0);
        while (!atomic_load(&run.started))
            ct_sleep_ms(1);
        for (uint32_t i = 0; i < n; i++) {
            struct ct_msg m = {0, i};
            assert_int_equal(lg_chan_send_blocking(run.ch, &m), 0);
        }
        if (round % 3 == 0) /* let the loop drain and fall asleep */
            while ((uint32_t)atomic_load(&got) < n)
                ct_sleep_ms(1);
        lg_chan_free(run.ch);
        assert_int_equal(ct_join_ms(run.t, NULL, 30000), 0);
        assert_int_equal(run.rc, 0);
        assert_int_equal((uint32_t)atomic_load(&got), n);
        assert_int_equal(bad, 0);
        assert_int_equal(epipe, 1);
        assert_int_equal(after_epipe, 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chan_free_before_run),
        cmocka_unit_test(test_chan_free_in_recv_cb),
        cmocka_unit_test(test_chan_free_send_pending),
        cmocka_unit_test(test_chan_free_while_running),
    };
    alarm(240); /* a hang fails here, with the test's name in the log */
    return cmocka_run_group_tests(tests, NULL, NULL);
}

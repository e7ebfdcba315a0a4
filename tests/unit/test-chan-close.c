/* lg_chan_close: later sends fail with -EPIPE (every variant), accepted
 * messages are still delivered, then receivers get -EPIPE (blocking, timed,
 * try) or one final -EPIPE callback on the loop; parked threads wake. */
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

static void test_chan_close_send_epipe(void **state)
{
    (void)state;
    lg_chan_t *ch;
    struct ct_msg m = {0, 0};
    assert_int_equal(lg_chan_new(&ch, 4, sizeof m), 0);
    m.seq = 0;
    assert_int_equal(lg_chan_try_send(ch, &m), 0);
    m.seq = 1;
    assert_int_equal(lg_chan_send_blocking(ch, &m), 0);
    m.seq = 2;
    assert_int_equal(lg_chan_send_timed(ch, &m, 1000), 0);
    lg_chan_close(ch);
    lg_chan_close(ch); /* idempotent */
    m.seq = 99;
    assert_int_equal(lg_chan_try_send(ch, &m), -EPIPE);
    assert_int_equal(lg_chan_send_blocking(ch, &m), -EPIPE);
    assert_int_equal(lg_chan_send_timed(ch, &m, 60000), -EPIPE);
    assert_int_equal(lg_chan_send_timed(ch, &m, 0), -EPIPE);
    /* Every variant still delivers what was accepted, in order. */
    assert_int_equal(lg_chan_try_recv(ch, &m), 0);
    assert_int_equal(m.seq, 0);
    assert_int_equal(lg_chan_recv_blocking(ch, &m), 0);
    assert_int_equal(m.seq, 1);
    assert_int_equal(lg_chan_recv_timed(ch, &m, 60000), 0);
    assert_int_equal(m.seq, 2);
    /* Drained: -EPIPE from all of them, and it stays so. */
    for (int i = 0; i < 3; i++) {
        assert_int_equal(lg_chan_try_recv(ch, &m), -EPIPE);
        assert_int_equal(lg_chan_recv_blocking(ch, &m), -EPIPE);
        assert_int_equal(lg_chan_recv_timed(ch, &m, 60000), -EPIPE);
        assert_int_equal(lg_chan_recv_timed(ch, &m, 0), -EPIPE);
    }
    lg_chan_close(ch);
    lg_chan_free(ch);
}

/* A full channel that is closed answers -EPIPE, not -EAGAIN: the caller
 * must learn that retrying is pointless. */
static void test_chan_close_full(void **state)
{
    (void)state;
    lg_chan_t *ch;
    struct ct_msg m = {1, 1};
    assert_int_equal(lg_chan_new(&ch, 1, sizeof m), 0);
    assert_int_equal(lg_chan_try_send(ch, &m), 0);
    assert_int_equal(lg_chan_try_send(ch, &m), -EAGAIN);
    lg_chan_close(ch);
    assert_int_equal(lg_chan_try_send(ch, &m), -EPIPE);
    assert_int_equal(lg_chan_send_timed(ch, &m, 0), -EPIPE);
    assert_int_equal(lg_chan_try_recv(ch, &m), 0);
    assert_int_equal(lg_chan_try_recv(ch, &m), -EPIPE);
    lg_chan_free(ch);
}

static void test_chan_close_wakes_receivers(void **state)
{
    (void)state;
    lg_chan_t *ch;
    struct ct_call c[4];
    assert_int_equal(lg_chan_new(&ch, 4, sizeof(struct ct_msg)), 0);
    for (int i = 0; i < 4; i++) {
        c[i] = (struct ct_call){.ch = ch,
                                .timeout_ms = 600000,
                                .op = i < 2 ? CT_RECV : CT_RECV_TIMED};
        assert_true(ct_call_start_parked(&c[i]));
    }
    lg_chan_close(ch);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(ct_join_ms(c[i].t, NULL, 10000), 0);
        assert_int_equal(c[i].rc, -EPIPE);
    }
    lg_chan_free(ch);
}

static void test_chan_close_wakes_senders(void **state)
{
    (void)state;
    lg_chan_t *ch;
    struct ct_call c[4];
    struct ct_msg m = {7, 0};
    assert_int_equal(lg_chan_new(&ch, 2, sizeof m), 0);
    assert_int_equal(lg_chan_try_send(ch, &m), 0);
    m.seq = 1;
    assert_int_equal(lg_chan_try_send(ch, &m), 0);
    for (int i = 0; i < 4; i++) {
        c[i] = (struct ct_call){.ch = ch,
                                .timeout_ms = 600000,
                                .op = i < 2 ? CT_SEND : CT_SEND_TIMED,
                                .msg = {8, (uint32_t)i}};
        assert_true(ct_call_start_parked(&c[i]));
    }
    lg_chan_close(ch);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(ct_join_ms(c[i].t, NULL, 10000), 0);
        assert_int_equal(c[i].rc, -EPIPE);
    }
    /* The two accepted before the close come out; the refused ones not. */
    assert_int_equal(lg_chan_recv_blocking(ch, &m), 0);
    assert_true(m.prod == 7 && m.seq == 0);
    assert_int_equal(lg_chan_recv_blocking(ch, &m), 0);
    assert_true(m.prod == 7 && m.seq == 1);
    assert_int_equal(lg_chan_recv_blocking(ch, &m), -EPIPE);
    lg_chan_free(ch);
}

/* Closed with messages inside: receiving threads share them out exactly,
 * then each gets -EPIPE. */
static void test_chan_close_drains_first(void **state)
{
    (void)state;
    enum { N = 100 };
    lg_chan_t *ch;
    assert_int_equal(lg_chan_new(&ch, N, sizeof(struct ct_msg)), 0);
    for (uint32_t i = 0; i < N; i++) {
        struct ct_msg m = {0, i};
        assert_int_equal(lg_chan_try_send(ch, &m), 0);
    }
    lg_chan_close(ch);
    uint32_t next = 0;
    struct ct_msg m;
    for (int i = 0; i < N; i++) {
        int r = i % 3 == 0   ? lg_chan_try_recv(ch, &m)
                : i % 3 == 1 ? lg_chan_recv_blocking(ch, &m)
                             : lg_chan_recv_timed(ch, &m, 1000);
        assert_int_equal(r, 0);
        assert_int_equal(m.seq, next++);
    }
    assert_int_equal(lg_chan_recv_blocking(ch, &m), -EPIPE);
    lg_chan_free(ch);
}

/* ---- the loop side ----------------------------------------------------- */

#define LOOP_N 2000

static int got, epipe, after_epipe, bad_order, null_msg;
static uint32_t next_seq;
static int close_at = -1;    /* close from inside the callback, here */
static int send_after_close; /* what a send from the callback got */

static void reset_counts(void)
{
    got = epipe = after_epipe = bad_order = null_msg = 0;
    next_seq = 0;
    close_at = -1;
    send_after_close = 0;
}

static void on_msg(lg_chan_t *ch, int status, void *msg, void *data)
{
    (void)data;
    if (epipe)
        after_epipe++;
    if (status == -EPIPE) {
        epipe++;
        null_msg += msg == NULL;
        return;
    }
    assert_int_equal(status, 0);
    struct ct_msg m;
    memcpy(&m, msg, sizeof m);
    bad_order += m.seq != next_seq;
    next_seq = m.seq + 1;
    if (got++ == close_at) {
        lg_chan_close(ch);
        send_after_close = lg_chan_try_send(ch, &m);
    }
}

struct producer {
    lg_chan_t *ch;
    uint32_t n;
    unsigned delay_ms; /* before closing */
    int rc;
};

static void *produce_then_close(void *arg)
{
    struct producer *p = arg;
    for (uint32_t i = 0; i < p->n && p->rc == 0; i++) {
        struct ct_msg m = {0, i};
        p->rc = lg_chan_send_blocking(p->ch, &m);
    }
    ct_sleep_ms(p->delay_ms);
    lg_chan_close(p->ch);
    return NULL;
}

/* Thread sends, then closes; the loop sees every message in order, then
 * one -EPIPE with msg NULL, and nothing after it. Run both with the close
 * racing the last deliveries and with the loop asleep when it comes. */
static void test_chan_close_loop_final_cb(void **state)
{
    (void)state;
    for (unsigned delay = 0; delay <= 50; delay += 50) {
        uv_loop_t loop;
        lg_chan_t *ch;
        pthread_t t;
        reset_counts();
        assert_int_equal(uv_loop_init(&loop), 0);
        assert_int_equal(lg_chan_new(&ch, 8, sizeof(struct ct_msg)), 0);
        assert_int_equal(lg_chan_recv_start(ch, &loop, on_msg, NULL), 0);
        struct producer p = {ch, LOOP_N, delay, 0};
        assert_int_equal(pthread_create(&t, NULL, produce_then_close, &p), 0);
        assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
        assert_int_equal(pthread_join(t, NULL), 0);
        assert_int_equal(p.rc, 0);
        assert_int_equal(got, LOOP_N);
        assert_int_equal(bad_order, 0);
        assert_int_equal(epipe, 1);
        assert_int_equal(null_msg, 1);
        assert_int_equal(after_epipe, 0);
        /* The receiver is gone after its final callback. */
        assert_int_equal(uv_loop_close(&loop), 0);
        lg_chan_free(ch);
    }
}

/* Closed before anyone listens: recv_start still delivers the messages,
 * then -EPIPE; on an empty closed channel, just -EPIPE. */
static void test_chan_close_before_start(void **state)
{
    (void)state;
    for (uint32_t n = 0; n <= 5; n += 5) {
        uv_loop_t loop;
        lg_chan_t *ch;
        reset_counts();
        assert_int_equal(uv_loop_init(&loop), 0);
        assert_int_equal(lg_chan_new(&ch, 8, sizeof(struct ct_msg)), 0);
        for (uint32_t i = 0; i < n; i++) {
            struct ct_msg m = {0, i};
            assert_int_equal(lg_chan_try_send(ch, &m), 0);
        }
        lg_chan_close(ch);
        assert_int_equal(lg_chan_recv_start(ch, &loop, on_msg, NULL), 0);
        assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
        assert_int_equal(got, n);
        assert_int_equal(bad_order, 0);
        assert_int_equal(epipe, 1);
        assert_int_equal(after_epipe, 0);
        assert_int_equal(uv_loop_close(&loop), 0);
        lg_chan_free(ch);
    }
}

/* The loop closes its own channel from the callback: what is still in the
 * channel is delivered (more than one wake-up's budget of it), and a send
 * made after the close is refused. */
static void test_chan_close_from_cb(void **state)
{
    (void)state;
    enum { N = 3000 };
    uv_loop_t loop;
    lg_chan_t *ch;
    reset_counts();
    close_at = 3;
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(lg_chan_new(&ch, N, sizeof(struct ct_msg)), 0);
    for (uint32_t i = 0; i < N; i++) {
        struct ct_msg m = {0, i};
        assert_int_equal(lg_chan_try_send(ch, &m), 0);
    }
    assert_int_equal(lg_chan_recv_start(ch, &loop, on_msg, NULL), 0);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(got, N);
    assert_int_equal(bad_order, 0);
    assert_int_equal(send_after_close, -EPIPE);
    assert_int_equal(epipe, 1);
    assert_int_equal(after_epipe, 0);
    assert_int_equal(uv_loop_close(&loop), 0);
    lg_chan_free(ch);
}

/* Stopped and closed in the first callback of a batch: the rest of the
 * batch, already claimed by the loop, is still delivered, here to a plain
 * receiver, before -EPIPE. */
static void on_msg_stop_close(lg_chan_t *ch, int status, void *msg, void *data)
{
    on_msg(ch, status, msg, data);
    if (got == 1) {
        assert_int_equal(lg_chan_recv_stop(ch), 0);
        lg_chan_close(ch);
    }
}

static void test_chan_close_mid_batch(void **state)
{
    (void)state;
    enum { N = 10 };
    uv_loop_t loop;
    lg_chan_t *ch;
    struct ct_msg m;
    reset_counts();
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(lg_chan_new(&ch, 16, sizeof m), 0);
    for (uint32_t i = 0; i < N; i++) {
        m = (struct ct_msg){0, i};
        assert_int_equal(lg_chan_try_send(ch, &m), 0);
    }
    assert_int_equal(lg_chan_recv_start(ch, &loop, on_msg_stop_close, NULL), 0);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(got, 1);
    assert_int_equal(epipe, 0);
    for (uint32_t i = 1; i < N; i++) {
        assert_int_equal(lg_chan_recv_blocking(ch, &m), 0);
        assert_int_equal(m.seq, i);
    }
    assert_int_equal(lg_chan_recv_blocking(ch, &m), -EPIPE);
    assert_int_equal(lg_chan_try_recv(ch, &m), -EPIPE);
    assert_int_equal(uv_loop_close(&loop), 0);
    lg_chan_free(ch);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chan_close_send_epipe),
        cmocka_unit_test(test_chan_close_full),
        cmocka_unit_test(test_chan_close_wakes_receivers),
        cmocka_unit_test(test_chan_close_wakes_senders),
        cmocka_unit_test(test_chan_close_drains_first),
        cmocka_unit_test(test_chan_close_loop_final_cb),
        cmocka_unit_test(test_chan_close_before_start),
        cmocka_unit_test(test_chan_close_from_cb),
        cmocka_unit_test(test_chan_close_mid_batch),
    };
    alarm(240); /* a hang fails here, with the test's name in the log */
    return cmocka_run_group_tests(tests, NULL, NULL);
}

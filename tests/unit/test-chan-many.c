/* lg_chan_recv_many_blocking: several producers into receivers taking up
 * to max at a time (nothing lost or duplicated, each producer's order
 * kept within a receiver); counts of 1..max; -EPIPE once closed and
 * drained, also for a receiver parked when the close comes; -EINVAL for
 * max 0; -EDEADLK inside a libuv callback of a loop the channel is
 * attached to, and on a thread marked with lg_loop_enter. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include <cmocka.h>

#include "chan-test.h"
#include "loopguard.h"

#define NPROD 4
#define NRECV 2
#define PER 20000

static lg_chan_t *chan;
static _Atomic unsigned char seen[NPROD][PER];
static _Atomic int bad;

static void *produce(void *arg)
{
    uint32_t id = (uint32_t)(uintptr_t)arg;
    for (uint32_t i = 0; i < PER; i++) {
        struct ct_msg m = {id, i};
        if (lg_chan_send_blocking(chan, &m) != 0) {
            atomic_fetch_add(&bad, 1);
            break;
        }
    }
    return NULL;
}

struct receiver {
    pthread_t t;
    size_t max;
    size_t got;
    int last;                 /* the call's return that ended the loop */
};

/* Takes batches until -EPIPE: each of 1..max messages, each producer's in
 * increasing order, every (producer, seq) seen once overall. */
static void *receive(void *arg)
{
    struct receiver *r = arg;
    struct ct_msg *buf = calloc(r->max, sizeof *buf);
    int64_t last[NPROD];
    for (int i = 0; i < NPROD; i++)
        last[i] = -1;
    int n;
    while ((n = lg_chan_recv_many_blocking(chan, buf, r->max)) > 0) {
        if ((size_t)n > r->max)
            atomic_fetch_add(&bad, 1);
        for (int i = 0; i < n; i++) {
            struct ct_msg m = buf[i];
            if (m.prod >= NPROD || m.seq >= PER ||
                (int64_t)m.seq <= last[m.prod]) {
                atomic_fetch_add(&bad, 1);
                continue;
            }
            last[m.prod] = m.seq;
            atomic_fetch_add(&seen[m.prod][m.seq], 1);
        }
        r->got += (size_t)n;
    }
    r->last = n;
    free(buf);
    return NULL;
}

static void run(size_t cap, size_t max, int nrecv)
{
    pthread_t p[NPROD];
    struct receiver r[NRECV] = {0};
    memset(seen, 0, sizeof seen);
    atomic_store(&bad, 0);
    assert_int_equal(lg_chan_new(&chan, cap, sizeof(struct ct_msg)), 0);
    for (int i = 0; i < nrecv; i++) {
        r[i].max = max;
        assert_int_equal(pthread_create(&r[i].t, NULL, receive, &r[i]), 0);
    }
    for (int i = 0; i < NPROD; i++)
        assert_int_equal(
            pthread_create(&p[i], NULL, produce, (void *)(uintptr_t)i), 0);
    for (int i = 0; i < NPROD; i++)
        assert_int_equal(ct_join_ms(p[i], NULL, 60000), 0);
    lg_chan_close(chan);
    size_t total = 0;
    for (int i = 0; i < nrecv; i++) {
        assert_int_equal(ct_join_ms(r[i].t, NULL, 60000), 0);
        assert_int_equal(r[i].last, -EPIPE);
        total += r[i].got;
    }
    assert_int_equal(atomic_load(&bad), 0);
    assert_int_equal(total, (size_t)NPROD * PER);
    for (int i = 0; i < NPROD; i++)
        for (int k = 0; k < PER; k++)
            assert_int_equal(atomic_load(&seen[i][k]), 1);
    lg_chan_free(chan);
}

static void test_chan_many_producers(void **state)
{
    (void)state;
    run(64, 7, 1);
    run(16, 1000, 1);
    run(3, 1, 1);
}

static void test_chan_many_two_receivers(void **state)
{
    (void)state;
    run(64, 7, NRECV);
    run(1, 5, NRECV);
}

/* Closed with 5 waiting: 3, 2, then -EPIPE for good. */
static void test_chan_many_drain_then_epipe(void **state)
{
    (void)state;
    lg_chan_t *ch;
    struct ct_msg buf[3];
    assert_int_equal(lg_chan_new(&ch, 8, sizeof(struct ct_msg)), 0);
    for (uint32_t i = 0; i < 5; i++) {
        struct ct_msg m = {0, i};
        assert_int_equal(lg_chan_try_send(ch, &m), 0);
    }
    lg_chan_close(ch);
    assert_int_equal(lg_chan_recv_many_blocking(ch, buf, 3), 3);
    for (uint32_t i = 0; i < 3; i++)
        assert_int_equal(buf[i].seq, i);
    assert_int_equal(lg_chan_recv_many_blocking(ch, buf, 3), 2);
    assert_int_equal(buf[0].seq, 3);
    assert_int_equal(buf[1].seq, 4);
    assert_int_equal(lg_chan_recv_many_blocking(ch, buf, 3), -EPIPE);
    assert_int_equal(lg_chan_recv_many_blocking(ch, buf, 3), -EPIPE);
    assert_int_equal(lg_chan_recv_many_blocking(ch, buf, 0), -EINVAL);
    lg_chan_free(ch);
}

/* A receiver parked on an empty channel gets -EPIPE from the close. */
static _Atomic pid_t parked_tid;

static void *recv_parked(void *arg)
{
    struct receiver *r = arg;
    struct ct_msg buf[4];
    atomic_store(&parked_tid, ct_gettid());
    r->last = lg_chan_recv_many_blocking(chan, buf, 4);
    return NULL;
}

static void test_chan_many_parked_close(void **state)
{
    (void)state;
    struct receiver r = {0};
    atomic_store(&parked_tid, 0);
    assert_int_equal(lg_chan_new(&chan, 8, sizeof(struct ct_msg)), 0);
    assert_int_equal(pthread_create(&r.t, NULL, recv_parked, &r), 0);
    while (atomic_load(&parked_tid) == 0)
        ct_sleep_ms(1);
    assert_true(ct_wait_parked(atomic_load(&parked_tid)));
    lg_chan_close(chan);
    assert_int_equal(ct_join_ms(r.t, NULL, 10000), 0);
    assert_int_equal(r.last, -EPIPE);
    lg_chan_free(chan);
}

/* Inside a timer callback of a loop the channel is attached to (its
 * receiver), and on a thread marked as a loop: refused, nothing taken. */
static int timer_rc;

static void on_msg(lg_chan_t *ch, int status, void *msg, void *data)
{
    (void)ch;
    (void)status;
    (void)msg;
    (void)data;
}

static void on_timer(uv_timer_t *t)
{
    struct ct_msg buf[4];
    timer_rc = lg_chan_recv_many_blocking(chan, buf, 4);
    lg_chan_recv_stop(chan);
    uv_close((uv_handle_t *)t, NULL);
}

static void test_chan_many_edeadlk(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_timer_t timer;
    struct ct_msg buf[4], m = {0, 0};
    assert_int_equal(lg_chan_new(&chan, 8, sizeof(struct ct_msg)), 0);
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(lg_chan_recv_start(chan, &loop, on_msg, NULL), 0);
    assert_int_equal(uv_timer_init(&loop, &timer), 0);
    assert_int_equal(uv_timer_start(&timer, on_timer, 0, 0), 0);
    timer_rc = 0;
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(timer_rc, -EDEADLK);
    assert_int_equal(uv_loop_close(&loop), 0);

    assert_int_equal(lg_chan_try_send(chan, &m), 0);
    assert_int_equal(lg_loop_enter("libuv", &loop), 0);
    assert_int_equal(lg_chan_recv_many_blocking(chan, buf, 4), -EDEADLK);
    assert_int_equal(lg_loop_leave(), 0);
    assert_int_equal(lg_chan_recv_many_blocking(chan, buf, 4), 1);
    lg_chan_free(chan);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chan_many_producers),
        cmocka_unit_test(test_chan_many_two_receivers),
        cmocka_unit_test(test_chan_many_drain_then_epipe),
        cmocka_unit_test(test_chan_many_parked_close),
        cmocka_unit_test(test_chan_many_edeadlk),
    };
    alarm(120); /* a hang fails here, with the test's name in the log */
    return cmocka_run_group_tests(tests, NULL, NULL);
}

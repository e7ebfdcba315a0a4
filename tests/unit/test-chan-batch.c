/* lg_chan_recv_start_batch: batches of 1..max messages, in order, side by
 * side (elem_size apart) in one array; a wrap of the ring is one call; max
 * 1 and max above the capacity; the -EPIPE call last, also after a close
 * inside a batch; lg_chan_recv_stop inside a batch (no call after it, the
 * rest stays in the channel, in order); a batch holds its room until its
 * call returns; messages of an odd size (copied out); and several
 * producers with per-producer order checked. */
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

#define MAXPROD 4

static uint32_t next_seq[MAXPROD];
static size_t got, calls, max_n, bad, epipe, after_epipe, after_stop;
static size_t cur_max;
static int stopped;

static void reset(size_t max)
{
    memset(next_seq, 0, sizeof next_seq);
    got = calls = max_n = bad = epipe = after_epipe = after_stop = 0;
    cur_max = max;
    stopped = 0;
}

/* Counts one batch and checks it: 1..max messages, FIFO per producer;
 * -EPIPE only with NULL and 0, and nothing after it. */
static void note(int status, void *msgs, size_t n)
{
    calls++;
    if (epipe)
        after_epipe++;
    if (stopped)
        after_stop++;
    if (status == -EPIPE) {
        epipe++;
        bad += msgs != NULL || n != 0;
        return;
    }
    bad += status != 0 || n == 0 || n > cur_max;
    if (n > max_n)
        max_n = n;
    struct ct_msg *m = msgs;
    for (size_t i = 0; i < n; i++) {
        if (m[i].prod >= MAXPROD || m[i].seq != next_seq[m[i].prod])
            bad++;
        else
            next_seq[m[i].prod]++;
    }
    got += n;
}

static void on_batch(lg_chan_t *ch, int status, void *msgs, size_t n,
                     void *data)
{
    (void)ch;
    (void)data;
    note(status, msgs, n);
}

struct producers {
    lg_chan_t *ch;
    uint32_t per;
    pthread_t t[MAXPROD];
    int rc[MAXPROD];
    uint32_t id[MAXPROD];
};

static struct producers *prods;

static void *produce(void *arg)
{
    uint32_t id = *(uint32_t *)arg;
    for (uint32_t i = 0; i < prods->per; i++) {
        struct ct_msg m = {id, i};
        int r = lg_chan_send_blocking(prods->ch, &m);
        if (r != 0) {
            prods->rc[id] = r;
            break;
        }
    }
    return NULL;
}

static void *close_after(void *arg)
{
    (void)arg;
    for (int i = 0; i < MAXPROD; i++)
        pthread_join(prods->t[i], NULL);
    lg_chan_close(prods->ch);
    return NULL;
}

/* MAXPROD producers x per messages into a loop receiving in batches of at
 * most max: everything arrives once, in order, then -EPIPE. */
static void run_producers(size_t cap, size_t max, uint32_t per)
{
    uv_loop_t loop;
    struct producers p = {.per = per};
    pthread_t closer;
    reset(max);
    prods = &p;
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(lg_chan_new(&p.ch, cap, sizeof(struct ct_msg)), 0);
    assert_int_equal(lg_chan_recv_start_batch(p.ch, &loop, max, on_batch,
                                              NULL), 0);
    for (int i = 0; i < MAXPROD; i++) {
        p.id[i] = (uint32_t)i;
        assert_int_equal(pthread_create(&p.t[i], NULL, produce, &p.id[i]), 0);
    }
    assert_int_equal(pthread_create(&closer, NULL, close_after, NULL), 0);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(ct_join_ms(closer, NULL, 60000), 0);
    for (int i = 0; i < MAXPROD; i++) {
        assert_int_equal(p.rc[i], 0);
        assert_int_equal(next_seq[i], per);
    }
    assert_int_equal(got, (size_t)MAXPROD * per);
    assert_int_equal(bad, 0);
    assert_int_equal(epipe, 1);
    assert_int_equal(after_epipe, 0);
    assert_true(max_n <= max && max_n <= cap);
    assert_int_equal(uv_loop_close(&loop), 0);
    lg_chan_free(p.ch);
}

static void test_chan_batch_max_one(void **state)
{
    (void)state;
    run_producers(16, 1, 5000);
    assert_int_equal(calls, (size_t)MAXPROD * 5000 + 1);
}

static void test_chan_batch_max_above_capacity(void **state)
{
    (void)state;
    run_producers(16, 1000, 20000);
    run_producers(3, 7, 5000);
    run_producers(1024, 100000, 20000);
}

/* Capacity 8, head at 5: the next 8 messages fill positions 5..12, which
 * wrap the ring. They still come as one call of 8, one array, in order. */
static size_t first_n;

static void on_wrap(lg_chan_t *ch, int status, void *msgs, size_t n,
                    void *data)
{
    if (status == 0 && first_n == 0)
        first_n = n;
    on_batch(ch, status, msgs, n, data);
}

static void fill_wrapped(lg_chan_t *ch, int n)
{
    struct ct_msg m = {1, 0};
    for (int i = 0; i < 5; i++)
        assert_int_equal(lg_chan_try_send(ch, &m), 0);
    for (int i = 0; i < 5; i++)
        assert_int_equal(lg_chan_try_recv(ch, &m), 0);
    for (int i = 0; i < n; i++) {
        m = (struct ct_msg){0, (uint32_t)i};
        assert_int_equal(lg_chan_try_send(ch, &m), 0);
    }
}

static void test_chan_batch_wrap(void **state)
{
    (void)state;
    uv_loop_t loop;
    lg_chan_t *ch;
    reset(100);
    first_n = 0;
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(lg_chan_new(&ch, 8, sizeof(struct ct_msg)), 0);
    fill_wrapped(ch, 8);
    lg_chan_close(ch);
    assert_int_equal(lg_chan_recv_start_batch(ch, &loop, 100, on_wrap, NULL),
                     0);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(first_n, 8);
    assert_int_equal(max_n, 8);
    assert_int_equal(calls, 2);       /* 8, -EPIPE */
    assert_int_equal(got, 8);
    assert_int_equal(next_seq[0], 8);
    assert_int_equal(bad, 0);
    assert_int_equal(epipe, 1);
    assert_int_equal(uv_loop_close(&loop), 0);
    lg_chan_free(ch);
}

/* lg_chan_close inside the first batch: the other messages still come,
 * then the -EPIPE call, last. */
static void on_close_inside(lg_chan_t *ch, int status, void *msgs, size_t n,
                            void *data)
{
    if (calls == 0)
        lg_chan_close(ch);
    on_batch(ch, status, msgs, n, data);
}

static void test_chan_batch_close_inside(void **state)
{
    (void)state;
    uv_loop_t loop;
    lg_chan_t *ch;
    reset(4);
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(lg_chan_new(&ch, 16, sizeof(struct ct_msg)), 0);
    for (uint32_t i = 0; i < 10; i++) {
        struct ct_msg m = {0, i};
        assert_int_equal(lg_chan_try_send(ch, &m), 0);
    }
    assert_int_equal(
        lg_chan_recv_start_batch(ch, &loop, 4, on_close_inside, NULL), 0);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(got, 10);
    assert_int_equal(calls, 4);       /* 4, 4, 2, -EPIPE */
    assert_int_equal(bad, 0);
    assert_int_equal(epipe, 1);
    assert_int_equal(after_epipe, 0);
    assert_int_equal(uv_loop_close(&loop), 0);
    lg_chan_free(ch);
}

/* lg_chan_recv_stop inside the first batch (max 3) of 8 waiting messages
 * that wrap the ring: no call follows, and the other 5 stay in the
 * channel, in order, for the next receiver. */
static void on_stop_inside(lg_chan_t *ch, int status, void *msgs, size_t n,
                           void *data)
{
    on_batch(ch, status, msgs, n, data);
    assert_int_equal(lg_chan_recv_stop(ch), 0);
    stopped = 1;
}

static void test_chan_batch_stop_inside(void **state)
{
    (void)state;
    uv_loop_t loop;
    lg_chan_t *ch;
    struct ct_msg m;
    reset(100);
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(lg_chan_new(&ch, 8, sizeof(struct ct_msg)), 0);
    fill_wrapped(ch, 8);
    assert_int_equal(
        lg_chan_recv_start_batch(ch, &loop, 3, on_stop_inside, NULL), 0);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(calls, 1);
    assert_int_equal(got, 3);
    assert_int_equal(after_stop, 0);
    assert_int_equal(bad, 0);
    for (uint32_t i = 3; i < 8; i++) {
        assert_int_equal(lg_chan_try_recv(ch, &m), 0);
        assert_int_equal(m.seq, i);
    }
    assert_int_equal(lg_chan_try_recv(ch, &m), -EAGAIN);
    assert_int_equal(uv_loop_close(&loop), 0);
    lg_chan_free(ch);
}

/* A batch holds its room until its call returns: with the ring full and
 * handed to the callback, a send finds no room. */
static int room_rc;

static void on_full(lg_chan_t *ch, int status, void *msgs, size_t n,
                    void *data)
{
    if (status == 0 && calls == 0) {
        struct ct_msg m = {0, 99};
        room_rc = lg_chan_try_send(ch, &m);
    }
    on_batch(ch, status, msgs, n, data);
}

static void test_chan_batch_holds_room(void **state)
{
    (void)state;
    static const size_t caps[] = {4, 3};     /* the ring's size, and less */
    for (size_t c = 0; c < 2; c++) {
        uv_loop_t loop;
        lg_chan_t *ch;
        reset(100);
        room_rc = 0;
        assert_int_equal(uv_loop_init(&loop), 0);
        assert_int_equal(lg_chan_new(&ch, caps[c], sizeof(struct ct_msg)), 0);
        for (uint32_t i = 0; i < caps[c]; i++) {
            struct ct_msg m = {0, i};
            assert_int_equal(lg_chan_try_send(ch, &m), 0);
        }
        assert_int_equal(lg_chan_recv_start_batch(ch, &loop, 100, on_full,
                                                  NULL), 0);
        assert_int_equal(uv_run(&loop, UV_RUN_NOWAIT), 1);
        assert_int_equal(room_rc, -EAGAIN);
        assert_int_equal(got, caps[c]);
        assert_int_equal(calls, 1);
        assert_int_equal(lg_chan_recv_stop(ch), 0);
        assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
        assert_int_equal(uv_loop_close(&loop), 0);
        lg_chan_free(ch);
    }
}

/* 12-byte messages lie 16 bytes apart in the ring: batches are copied into
 * an array of 12-byte elements, in order. */
struct odd {
    uint32_t prod, seq, pad;
};

static void on_odd(lg_chan_t *ch, int status, void *msgs, size_t n,
                   void *data)
{
    (void)ch;
    (void)data;
    calls++;
    if (status != 0) {
        epipe++;
        return;
    }
    struct odd *m = msgs;
    for (size_t i = 0; i < n; i++)
        bad += m[i].seq != next_seq[0]++ || m[i].pad != 7;
    got += n;
}

static void test_chan_batch_odd_size(void **state)
{
    (void)state;
    uv_loop_t loop;
    lg_chan_t *ch;
    reset(100);
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(lg_chan_new(&ch, 8, sizeof(struct odd)), 0);
    struct odd m = {0, 0, 7};
    for (int i = 0; i < 5; i++)
        assert_int_equal(lg_chan_try_send(ch, &m), 0);
    for (int i = 0; i < 5; i++)
        assert_int_equal(lg_chan_try_recv(ch, &m), 0);
    for (uint32_t i = 0; i < 8; i++) {
        m = (struct odd){0, i, 7};
        assert_int_equal(lg_chan_try_send(ch, &m), 0);
    }
    lg_chan_close(ch);
    assert_int_equal(lg_chan_recv_start_batch(ch, &loop, 100, on_odd, NULL),
                     0);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(got, 8);
    assert_int_equal(bad, 0);
    assert_int_equal(epipe, 1);
    assert_int_equal(uv_loop_close(&loop), 0);
    lg_chan_free(ch);
}

static void test_chan_batch_errors(void **state)
{
    (void)state;
    uv_loop_t loop;
    lg_chan_t *ch;
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(lg_chan_new(&ch, 8, 8), 0);
    assert_int_equal(lg_chan_recv_start_batch(ch, &loop, 0, on_batch, NULL),
                     -EINVAL);
    assert_int_equal(lg_chan_recv_start_batch(ch, &loop, 1, NULL, NULL),
                     -EINVAL);
    assert_int_equal(lg_chan_recv_start_batch(ch, &loop, 1, on_batch, NULL),
                     0);
    assert_int_equal(lg_chan_recv_start_batch(ch, &loop, 1, on_batch, NULL),
                     -EBUSY);
    assert_int_equal(lg_chan_recv_stop(ch), 0);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(uv_loop_close(&loop), 0);
    lg_chan_free(ch);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chan_batch_max_one),
        cmocka_unit_test(test_chan_batch_max_above_capacity),
        cmocka_unit_test(test_chan_batch_wrap),
        cmocka_unit_test(test_chan_batch_close_inside),
        cmocka_unit_test(test_chan_batch_stop_inside),
        cmocka_unit_test(test_chan_batch_holds_room),
        cmocka_unit_test(test_chan_batch_odd_size),
        cmocka_unit_test(test_chan_batch_errors),
    };
    alarm(120); /* a hang fails here, with the test's name in the log */
    return cmocka_run_group_tests(tests, NULL, NULL);
}

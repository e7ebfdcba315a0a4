/* lg_chan between plain threads: argument checks, capacity honoured exactly
 * (one thread and several, across ring laps), try calls on empty and full,
 * messages copied in and out, and FIFO per producer thread to thread. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "chan-test.h"
#include "loopguard.h"

static void test_chan_basic_new_einval(void **state)
{
    (void)state;
    lg_chan_t *ch = NULL;
    assert_int_equal(lg_chan_new(NULL, 1, 1), -EINVAL);
    assert_int_equal(lg_chan_new(&ch, 0, 8), -EINVAL);
    assert_int_equal(lg_chan_new(&ch, 8, 0), -EINVAL);
    assert_int_equal(lg_chan_new(&ch, 0, 0), -EINVAL);
    /* Sizes that cannot be allocated fail cleanly; they must not be
     * rounded up into an endless loop or an overflowed size. */
    int r = lg_chan_new(&ch, SIZE_MAX, 8);
    assert_true(r == -EINVAL || r == -ENOMEM);
    r = lg_chan_new(&ch, 4, SIZE_MAX);
    assert_true(r == -EINVAL || r == -ENOMEM);
    assert_null(ch);
    /* The smallest legal channel works. */
    assert_int_equal(lg_chan_new(&ch, 1, 1), 0);
    assert_non_null(ch);
    char c = 'x', out = 0;
    assert_int_equal(lg_chan_try_send(ch, &c), 0);
    assert_int_equal(lg_chan_try_send(ch, &c), -EAGAIN);
    assert_int_equal(lg_chan_try_recv(ch, &out), 0);
    assert_int_equal(out, 'x');
    lg_chan_free(ch);
}

/* Fills a channel of `cap` with try_send, checks -EAGAIN at exactly cap,
 * then goes round the ring a few laps one in, one out, so that a capacity
 * that is not a power of two is checked where cells are reused. */
static void check_capacity(size_t cap, size_t elem)
{
    lg_chan_t *ch;
    unsigned char *in = calloc(1, elem), *out = calloc(1, elem);
    assert_non_null(in);
    assert_non_null(out);
    assert_int_equal(lg_chan_new(&ch, cap, elem), 0);
    uint32_t next_in = 0, next_out = 0;
    for (int lap = 0; lap < 3; lap++) {
        size_t n = 0;
        for (;;) {
            memcpy(in, &next_in, sizeof next_in);
            int r = lg_chan_try_send(ch, in);
            if (r == -EAGAIN)
                break;
            assert_int_equal(r, 0);
            next_in++;
            n++;
            assert_true(n <= cap);
        }
        /* After the first lap the channel keeps cap - 1 from the last. */
        assert_int_equal(n, lap == 0 ? cap : 1);
        assert_int_equal(lg_chan_try_send(ch, in), -EAGAIN);
        uint32_t v;
        assert_int_equal(lg_chan_try_recv(ch, out), 0);
        memcpy(&v, out, sizeof v);
        assert_int_equal(v, next_out++);
    }
    /* Drain: the rest arrive in order, then the channel is empty. */
    while (next_out < next_in) {
        uint32_t v;
        assert_int_equal(lg_chan_try_recv(ch, out), 0);
        memcpy(&v, out, sizeof v);
        assert_int_equal(v, next_out++);
    }
    assert_int_equal(lg_chan_try_recv(ch, out), -EAGAIN);
    lg_chan_free(ch);
    free(in);
    free(out);
}

static void test_chan_basic_capacity(void **state)
{
    (void)state;
    static const size_t caps[] = {1, 2, 3, 5, 1000, 1024, 1025};
    static const size_t elems[] = {4, 8, 61, 64, 200};
    for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++)
        for (size_t j = 0; j < sizeof elems / sizeof elems[0]; j++)
            check_capacity(caps[i], elems[j]);
}

#define FILLERS 4

struct filler {
    pthread_t t;
    lg_chan_t *ch;
    pthread_barrier_t *go;
    uint32_t id;
    uint32_t sent;       /* accepted before the first -EAGAIN */
    uint32_t after_full; /* -EAGAIN seen on the retries after that */
};

/* Sends until -EAGAIN; the channel has no receiver, so once full it stays
 * full and every later try must fail too. */
static void *fill_thread(void *arg)
{
    struct filler *f = arg;
    pthread_barrier_wait(f->go);
    for (;;) {
        struct ct_msg m = {f->id, f->sent};
        int r = lg_chan_try_send(f->ch, &m);
        if (r == -EAGAIN)
            break;
        if (r != 0)
            return (void *)1;
        f->sent++;
    }
    for (int i = 0; i < 100; i++) {
        struct ct_msg m = {f->id, f->sent};
        f->after_full += lg_chan_try_send(f->ch, &m) == -EAGAIN;
    }
    return NULL;
}

static void check_capacity_threads(size_t cap)
{
    lg_chan_t *ch;
    pthread_barrier_t go;
    struct filler f[FILLERS];
    assert_int_equal(lg_chan_new(&ch, cap, sizeof(struct ct_msg)), 0);
    pthread_barrier_init(&go, NULL, FILLERS);
    for (uint32_t i = 0; i < FILLERS; i++) {
        f[i] = (struct filler){.ch = ch, .go = &go, .id = i};
        assert_int_equal(pthread_create(&f[i].t, NULL, fill_thread, &f[i]), 0);
    }
    size_t total = 0;
    for (int i = 0; i < FILLERS; i++) {
        void *ret;
        assert_int_equal(pthread_join(f[i].t, &ret), 0);
        assert_null(ret);
        assert_int_equal(f[i].after_full, 100);
        total += f[i].sent;
    }
    assert_int_equal(total, cap);
    /* Exactly what was accepted comes out, each producer's in order. */
    uint32_t next[FILLERS] = {0};
    struct ct_msg m;
    for (size_t i = 0; i < cap; i++) {
        assert_int_equal(lg_chan_try_recv(ch, &m), 0);
        assert_true(m.prod < FILLERS);
        assert_int_equal(m.seq, next[m.prod]);
        next[m.prod]++;
    }
    assert_int_equal(lg_chan_try_recv(ch, &m), -EAGAIN);
    for (int i = 0; i < FILLERS; i++)
        assert_int_equal(next[i], f[i].sent);
    pthread_barrier_destroy(&go);
    lg_chan_free(ch);
}

static void test_chan_basic_capacity_threads(void **state)
{
    (void)state;
    /* Repeated: the interesting interleavings are the racy ones. */
    for (int rep = 0; rep < 50; rep++) {
        check_capacity_threads(1);
        check_capacity_threads(3);
    }
    for (int rep = 0; rep < 5; rep++)
        check_capacity_threads(1024);
}

static void test_chan_basic_try_empty(void **state)
{
    (void)state;
    lg_chan_t *ch;
    uint64_t v = 7;
    assert_int_equal(lg_chan_new(&ch, 4, sizeof v), 0);
    assert_int_equal(lg_chan_try_recv(ch, &v), -EAGAIN);
    assert_int_equal(v, 7); /* a failed receive leaves the buffer alone */
    v = 42;
    assert_int_equal(lg_chan_try_send(ch, &v), 0);
    v = 0;
    assert_int_equal(lg_chan_try_recv(ch, &v), 0);
    assert_int_equal(v, 42);
    assert_int_equal(lg_chan_try_recv(ch, &v), -EAGAIN);
    assert_int_equal(lg_chan_try_recv(ch, &v), -EAGAIN);
    lg_chan_free(ch);
}

/* Messages are copied in: changing the sender's buffer after the send must
 * not change what is received, and the whole element travels. */
static void test_chan_basic_copy(void **state)
{
    (void)state;
    enum { ELEM = 300 };
    unsigned char in[ELEM], out[ELEM];
    lg_chan_t *ch;
    assert_int_equal(lg_chan_new(&ch, 2, ELEM), 0);
    for (int i = 0; i < ELEM; i++)
        in[i] = (unsigned char)(i * 7 + 1);
    assert_int_equal(lg_chan_try_send(ch, in), 0);
    memset(in, 0xee, sizeof in);
    assert_int_equal(lg_chan_send_blocking(ch, in), 0);
    memset(out, 0, sizeof out);
    assert_int_equal(lg_chan_recv_blocking(ch, out), 0);
    for (int i = 0; i < ELEM; i++)
        assert_int_equal(out[i], (unsigned char)(i * 7 + 1));
    assert_int_equal(lg_chan_try_recv(ch, out), 0);
    for (int i = 0; i < ELEM; i++)
        assert_int_equal(out[i], 0xee);
    lg_chan_free(ch);
}

#define T2T_PRODUCERS 4
#define T2T_PER_PRODUCER 20000

struct t2t_prod {
    pthread_t t;
    lg_chan_t *ch;
    uint32_t id;
};

static void *t2t_send(void *arg)
{
    struct t2t_prod *p = arg;
    for (uint32_t i = 0; i < T2T_PER_PRODUCER; i++) {
        struct ct_msg m = {p->id, i};
        if (lg_chan_send_blocking(p->ch, &m) != 0)
            return (void *)1;
    }
    return NULL;
}

struct t2t_cons {
    pthread_t t;
    lg_chan_t *ch;
    uint32_t next[T2T_PRODUCERS];
    uint32_t got;
    int bad; /* out of order, unknown producer */
    int end; /* what ended the receive loop */
};

/* With several consumers each one still sees every producer's messages in
 * increasing order: they take cells in ring order. */
static void *t2t_recv(void *arg)
{
    struct t2t_cons *c = arg;
    struct ct_msg m;
    int r;
    while ((r = lg_chan_recv_blocking(c->ch, &m)) == 0) {
        if (m.prod >= T2T_PRODUCERS || m.seq < c->next[m.prod])
            c->bad++;
        else
            c->next[m.prod] = m.seq + 1;
        c->got++;
    }
    c->end = r;
    return NULL;
}

static void run_thread_to_thread(size_t cap, int nconsumers)
{
    lg_chan_t *ch;
    struct t2t_prod p[T2T_PRODUCERS];
    struct t2t_cons c[2];
    assert_int_equal(lg_chan_new(&ch, cap, sizeof(struct ct_msg)), 0);
    for (int i = 0; i < nconsumers; i++) {
        c[i] = (struct t2t_cons){.ch = ch};
        assert_int_equal(pthread_create(&c[i].t, NULL, t2t_recv, &c[i]), 0);
    }
    for (uint32_t i = 0; i < T2T_PRODUCERS; i++) {
        p[i] = (struct t2t_prod){.ch = ch, .id = i};
        assert_int_equal(pthread_create(&p[i].t, NULL, t2t_send, &p[i]), 0);
    }
    for (int i = 0; i < T2T_PRODUCERS; i++) {
        void *ret;
        assert_int_equal(ct_join_ms(p[i].t, &ret, 60000), 0);
        assert_null(ret);
    }
    lg_chan_close(ch);
    uint32_t got = 0;
    for (int i = 0; i < nconsumers; i++) {
        assert_int_equal(ct_join_ms(c[i].t, NULL, 60000), 0);
        assert_int_equal(c[i].bad, 0);
        assert_int_equal(c[i].end, -EPIPE);
        got += c[i].got;
    }
    assert_int_equal(got, T2T_PRODUCERS * T2T_PER_PRODUCER);
    if (nconsumers == 1)
        for (int i = 0; i < T2T_PRODUCERS; i++)
            assert_int_equal(c[0].next[i], T2T_PER_PRODUCER);
    lg_chan_free(ch);
}

static void test_chan_basic_thread_to_thread(void **state)
{
    (void)state;
    run_thread_to_thread(1, 1);
    run_thread_to_thread(3, 1);
    run_thread_to_thread(1024, 1);
    run_thread_to_thread(1, 2);
    run_thread_to_thread(64, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chan_basic_new_einval),
        cmocka_unit_test(test_chan_basic_capacity),
        cmocka_unit_test(test_chan_basic_capacity_threads),
        cmocka_unit_test(test_chan_basic_try_empty),
        cmocka_unit_test(test_chan_basic_copy),
        cmocka_unit_test(test_chan_basic_thread_to_thread),
    };
    alarm(240); /* a hang fails here, with the test's name in the log */
    return cmocka_run_group_tests(tests, NULL, NULL);
}

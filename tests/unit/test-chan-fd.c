/* lg_chan_fd and lg_chan_drain with a raw epoll loop: the descriptor is
 * readable (level-triggered) while a message waits, also after a drain
 * that took only part of them, not readable once a drain left the channel
 * empty, and readable for good once closed; drain delivers batches in
 * order (a wrap: still one call), returns 0 when none wait and -EPIPE once
 * closed and drained; producers on threads into an epoll loop lose
 * nothing; the receiver is exclusive with recv_start (-EBUSY both ways). */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>
#include <uv.h>

#include <cmocka.h>

#include "chan-test.h"
#include "loopguard.h"

#define NPROD 4
#define PER 20000

static uint32_t next_seq[NPROD];
static size_t got, calls, bad, cur_max;

static void reset(size_t max)
{
    memset(next_seq, 0, sizeof next_seq);
    got = calls = bad = 0;
    cur_max = max;
}

static void on_batch(lg_chan_t *ch, int status, void *msgs, size_t n,
                     void *data)
{
    (void)ch;
    (void)data;
    calls++;
    bad += status != 0 || n == 0 || n > cur_max;
    struct ct_msg *m = msgs;
    for (size_t i = 0; i < n; i++) {
        if (m[i].prod >= NPROD || m[i].seq != next_seq[m[i].prod])
            bad++;
        else
            next_seq[m[i].prod]++;
    }
    got += n;
}

/* An epoll set watching fd, as a loop would: 1 when epoll_wait reports
 * it readable now (no waiting). */
static int epoll_readable(int ep)
{
    struct epoll_event ev;
    int n = epoll_wait(ep, &ev, 1, 0);
    return n == 1 && (ev.events & EPOLLIN);
}

static int watch(int fd)
{
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
    assert_true(ep >= 0);
    assert_int_equal(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev), 0);
    return ep;
}

static void send_n(lg_chan_t *ch, uint32_t from, uint32_t n)
{
    for (uint32_t i = from; i < from + n; i++) {
        struct ct_msg m = {0, i};
        assert_int_equal(lg_chan_try_send(ch, &m), 0);
    }
}

static void test_chan_fd_level(void **state)
{
    (void)state;
    lg_chan_t *ch;
    reset(3);
    assert_int_equal(lg_chan_new(&ch, 16, sizeof(struct ct_msg)), 0);
    int fd = lg_chan_fd(ch);
    assert_true(fd >= 0);
    assert_int_equal(lg_chan_fd(ch), fd);
    int ep = watch(fd);
    assert_false(epoll_readable(ep));
    assert_int_equal(lg_chan_drain(ch, 3, on_batch, NULL), 0);
    assert_false(epoll_readable(ep));

    send_n(ch, 0, 1);
    assert_true(epoll_readable(ep));
    assert_true(epoll_readable(ep));          /* level: still */
    assert_int_equal(lg_chan_drain(ch, 3, on_batch, NULL), 1);
    assert_false(epoll_readable(ep));

    /* 10 waiting, drained 3 at a time: readable until the last drain. */
    send_n(ch, 1, 10);
    for (int i = 0; i < 3; i++) {
        assert_true(epoll_readable(ep));
        assert_int_equal(lg_chan_drain(ch, 3, on_batch, NULL), 3);
    }
    assert_true(epoll_readable(ep));
    assert_int_equal(lg_chan_drain(ch, 3, on_batch, NULL), 1);
    assert_false(epoll_readable(ep));
    assert_int_equal(lg_chan_drain(ch, 3, on_batch, NULL), 0);
    assert_false(epoll_readable(ep));
    assert_int_equal(got, 11);
    assert_int_equal(next_seq[0], 11);
    assert_int_equal(bad, 0);

    /* Closed with 2 waiting: readable throughout, then -EPIPE for good. */
    send_n(ch, 11, 2);
    lg_chan_close(ch);
    assert_true(epoll_readable(ep));
    assert_int_equal(lg_chan_drain(ch, 1, on_batch, NULL), 1);
    assert_true(epoll_readable(ep));
    assert_int_equal(lg_chan_drain(ch, 1, on_batch, NULL), 1);
    assert_true(epoll_readable(ep));
    assert_int_equal(lg_chan_drain(ch, 1, on_batch, NULL), -EPIPE);
    assert_true(epoll_readable(ep));
    assert_int_equal(lg_chan_drain(ch, 1, on_batch, NULL), -EPIPE);
    assert_int_equal(got, 13);
    assert_int_equal(bad, 0);
    close(ep);
    lg_chan_free(ch);
}

/* Closed while empty: readable at once. Also with poll(2). */
static void test_chan_fd_close_empty(void **state)
{
    (void)state;
    lg_chan_t *ch;
    reset(8);
    assert_int_equal(lg_chan_new(&ch, 4, sizeof(struct ct_msg)), 0);
    int fd = lg_chan_fd(ch);
    struct pollfd p = {.fd = fd, .events = POLLIN};
    assert_int_equal(poll(&p, 1, 0), 0);
    lg_chan_close(ch);
    assert_int_equal(poll(&p, 1, 0), 1);
    assert_true(p.revents & POLLIN);
    assert_int_equal(lg_chan_drain(ch, 8, on_batch, NULL), -EPIPE);
    assert_int_equal(poll(&p, 1, 0), 1);
    assert_int_equal(calls, 0);
    lg_chan_free(ch);
}

/* Messages already waiting when the descriptor is made: readable. A wrap
 * of the ring: one call, in order. */
static void test_chan_fd_wrap(void **state)
{
    (void)state;
    lg_chan_t *ch;
    struct ct_msg m;
    reset(100);
    assert_int_equal(lg_chan_new(&ch, 8, sizeof(struct ct_msg)), 0);
    send_n(ch, 0, 5);
    for (int i = 0; i < 5; i++)
        assert_int_equal(lg_chan_try_recv(ch, &m), 0);
    send_n(ch, 0, 8);
    int ep = watch(lg_chan_fd(ch));
    assert_true(epoll_readable(ep));
    assert_int_equal(lg_chan_drain(ch, 100, on_batch, NULL), 8);
    assert_int_equal(calls, 1);
    assert_int_equal(next_seq[0], 8);
    assert_int_equal(bad, 0);
    assert_false(epoll_readable(ep));
    close(ep);
    lg_chan_free(ch);
}

/* Producers on threads, a loop in epoll_wait: every message once, in
 * order per producer, then -EPIPE. */
struct prod {
    lg_chan_t *ch;
    uint32_t id;
    int rc;
};

static void *produce(void *arg)
{
    struct prod *p = arg;
    for (uint32_t i = 0; i < PER && p->rc == 0; i++) {
        struct ct_msg m = {p->id, i};
        p->rc = lg_chan_send_blocking(p->ch, &m);
    }
    return NULL;
}


static void epoll_loop(size_t cap, size_t max)
{
    lg_chan_t *ch;
    pthread_t t[NPROD];
    struct prod p[NPROD];
    reset(max);
    assert_int_equal(lg_chan_new(&ch, cap, sizeof(struct ct_msg)), 0);
    int ep = watch(lg_chan_fd(ch));
    for (int i = 0; i < NPROD; i++) {
        p[i] = (struct prod){ch, (uint32_t)i, 0};
        assert_int_equal(pthread_create(&t[i], NULL, produce, &p[i]), 0);
    }
    int r, joined = 0, waits = 0;
    for (;;) {
        struct epoll_event ev;
        /* 10 s: a lost wake-up fails the test instead of hanging it. */
        int n = epoll_wait(ep, &ev, 1, 10000);
        assert_int_equal(n, 1);
        waits++;
        r = lg_chan_drain(ch, max, on_batch, NULL);
        if (r == -EPIPE)
            break;
        assert_true(r >= 0);
        if (!joined && got == (size_t)NPROD * PER) {
            for (int i = 0; i < NPROD; i++)
                assert_int_equal(pthread_join(t[i], NULL), 0);
            joined = 1;
            lg_chan_close(ch);
        }
    }
    assert_true(joined);
    for (int i = 0; i < NPROD; i++) {
        assert_int_equal(p[i].rc, 0);
        assert_int_equal(next_seq[i], PER);
    }
    assert_int_equal(bad, 0);
    assert_int_equal(got, (size_t)NPROD * PER);
    close(ep);
    lg_chan_free(ch);
}

static void test_chan_fd_epoll_producers(void **state)
{
    (void)state;
    epoll_loop(64, 16);
    epoll_loop(3, 1);
    epoll_loop(1024, 100000);
}

static void on_msg(lg_chan_t *ch, int status, void *msg, void *data)
{
    (void)ch;
    (void)status;
    (void)msg;
    (void)data;
}

static void test_chan_fd_busy(void **state)
{
    (void)state;
    uv_loop_t loop;
    lg_chan_t *ch;
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(lg_chan_new(&ch, 4, 8), 0);
    assert_int_equal(lg_chan_recv_start(ch, &loop, on_msg, NULL), 0);
    assert_int_equal(lg_chan_fd(ch), -EBUSY);
    assert_int_equal(lg_chan_recv_stop(ch), 0);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_true(lg_chan_fd(ch) >= 0);
    assert_int_equal(lg_chan_recv_start(ch, &loop, on_msg, NULL), -EBUSY);
    assert_int_equal(lg_chan_drain(ch, 0, on_batch, NULL), -EINVAL);
    assert_int_equal(lg_chan_drain(ch, 1, NULL, NULL), -EINVAL);
    assert_int_equal(uv_loop_close(&loop), 0);
    lg_chan_free(ch);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chan_fd_level),
        cmocka_unit_test(test_chan_fd_close_empty),
        cmocka_unit_test(test_chan_fd_wrap),
        cmocka_unit_test(test_chan_fd_epoll_producers),
        cmocka_unit_test(test_chan_fd_busy),
    };
    alarm(120); /* a hang fails here, with the test's name in the log */
    return cmocka_run_group_tests(tests, NULL, NULL);
}

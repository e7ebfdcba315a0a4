/* lg_chan_send_timed / lg_chan_recv_timed: -ETIMEDOUT no sooner than the
 * timeout (never asserted from above: machines are noisy), success when
 * the message or the room comes in time, and huge timeouts that must not
 * wrap into the past. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "chan-test.h"
#include "loopguard.h"

static void test_chan_timed_recv_timeout(void **state)
{
    (void)state;
    static const uint64_t ms[] = {0, 1, 20, 120};
    lg_chan_t *ch;
    struct ct_msg m = {5, 5};
    assert_int_equal(lg_chan_new(&ch, 4, sizeof m), 0);
    for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++) {
        uint64_t t0 = ct_now_ns();
        errno = EBADMSG;
        assert_int_equal(lg_chan_recv_timed(ch, &m, ms[i]), -ETIMEDOUT);
        assert_true(ct_now_ns() - t0 >= ms[i] * 1000000u);
        /* The error is the return value; errno is the caller's (the
         * futex wait's ETIMEDOUT used to leak into it). */
        assert_int_equal(errno, EBADMSG);
        /* A failed receive leaves the buffer alone. */
        assert_true(m.prod == 5 && m.seq == 5);
    }
    /* With a message there, even a zero timeout succeeds. */
    assert_int_equal(lg_chan_try_send(ch, &m), 0);
    assert_int_equal(lg_chan_recv_timed(ch, &m, 0), 0);
    lg_chan_free(ch);
}

static void test_chan_timed_send_timeout(void **state)
{
    (void)state;
    static const uint64_t ms[] = {0, 1, 20, 120};
    lg_chan_t *ch;
    struct ct_msg m = {1, 0};
    assert_int_equal(lg_chan_new(&ch, 1, sizeof m), 0);
    assert_int_equal(lg_chan_send_timed(ch, &m, 0), 0);
    for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++) {
        struct ct_msg late = {2, (uint32_t)i};
        uint64_t t0 = ct_now_ns();
        assert_int_equal(lg_chan_send_timed(ch, &late, ms[i]), -ETIMEDOUT);
        assert_true(ct_now_ns() - t0 >= ms[i] * 1000000u);
    }
    /* Only the first message is in the channel: timed-out sends left
     * nothing behind. */
    assert_int_equal(lg_chan_try_recv(ch, &m), 0);
    assert_true(m.prod == 1 && m.seq == 0);
    assert_int_equal(lg_chan_try_recv(ch, &m), -EAGAIN);
    lg_chan_free(ch);
}

/* Several threads time out at once, each after its own timeout. */
static void test_chan_timed_many_threads(void **state)
{
    (void)state;
    enum { N = 6 };
    lg_chan_t *rx, *tx;
    struct ct_call c[N];
    struct ct_msg m = {0, 0};
    assert_int_equal(lg_chan_new(&rx, 4, sizeof m), 0);
    assert_int_equal(lg_chan_new(&tx, 1, sizeof m), 0);
    assert_int_equal(lg_chan_try_send(tx, &m), 0);
    for (int i = 0; i < N; i++) {
        c[i] = (struct ct_call){.ch = i % 2 ? tx : rx,
                                .op = i % 2 ? CT_SEND_TIMED : CT_RECV_TIMED,
                                .timeout_ms = 30 + 30 * (uint64_t)i};
        assert_int_equal(pthread_create(&c[i].t, NULL, ct_call_thread, &c[i]),
                         0);
    }
    for (int i = 0; i < N; i++) {
        assert_int_equal(ct_join_ms(c[i].t, NULL, 30000), 0);
        assert_int_equal(c[i].rc, -ETIMEDOUT);
        assert_true(c[i].elapsed_ms >= c[i].timeout_ms);
    }
    lg_chan_free(rx);
    lg_chan_free(tx);
}

/* A parked timed receiver gets a message sent long before its deadline,
 * and a parked timed sender gets room. */
static void test_chan_timed_in_time(void **state)
{
    (void)state;
    lg_chan_t *ch;
    struct ct_call c = {.op = CT_RECV_TIMED, .timeout_ms = 600000};
    struct ct_msg m = {3, 33};
    assert_int_equal(lg_chan_new(&ch, 1, sizeof m), 0);
    c.ch = ch;
    assert_true(ct_call_start_parked(&c));
    assert_int_equal(lg_chan_try_send(ch, &m), 0);
    assert_int_equal(ct_join_ms(c.t, NULL, 10000), 0);
    assert_int_equal(c.rc, 0);
    assert_true(c.msg.prod == 3 && c.msg.seq == 33);

    assert_int_equal(lg_chan_try_send(ch, &m), 0);
    c = (struct ct_call){
        .ch = ch, .op = CT_SEND_TIMED, .timeout_ms = 600000, .msg = {4, 44}};
    assert_true(ct_call_start_parked(&c));
    assert_int_equal(lg_chan_try_recv(ch, &m), 0);
    assert_true(m.prod == 3 && m.seq == 33);
    assert_int_equal(ct_join_ms(c.t, NULL, 10000), 0);
    assert_int_equal(c.rc, 0);
    assert_int_equal(lg_chan_try_recv(ch, &m), 0);
    assert_true(m.prod == 4 && m.seq == 44);
    lg_chan_free(ch);
}

/* The largest timeouts must mean "very long", not wrap round to a
 * deadline in the past: the calls park until the close wakes them. */
static void test_chan_timed_huge(void **state)
{
    (void)state;
    static const uint64_t ms[] = {UINT64_MAX, UINT64_MAX / 2, 1ull << 53,
                                  (uint64_t)INT64_MAX / 1000 + 1};
    for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++) {
        lg_chan_t *ch;
        struct ct_msg m = {0, 0};
        assert_int_equal(lg_chan_new(&ch, 1, sizeof m), 0);
        struct ct_call r = {.ch = ch, .op = CT_RECV_TIMED, .timeout_ms = ms[i]};
        assert_true(ct_call_start_parked(&r));
        assert_int_equal(lg_chan_try_send(ch, &m), 0);
        assert_int_equal(ct_join_ms(r.t, NULL, 10000), 0);
        assert_int_equal(r.rc, 0);
        assert_int_equal(lg_chan_try_send(ch, &m), 0);
        struct ct_call s = {.ch = ch, .op = CT_SEND_TIMED, .timeout_ms = ms[i]};
        assert_true(ct_call_start_parked(&s));
        lg_chan_close(ch);
        assert_int_equal(ct_join_ms(s.t, NULL, 10000), 0);
        assert_int_equal(s.rc, -EPIPE);
        lg_chan_free(ch);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chan_timed_recv_timeout),
        cmocka_unit_test(test_chan_timed_send_timeout),
        cmocka_unit_test(test_chan_timed_many_threads),
        cmocka_unit_test(test_chan_timed_in_time),
        cmocka_unit_test(test_chan_timed_huge),
    };
    alarm(240); /* a hang fails here, with the test's name in the log */
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Interrupted waits: a thread parked in the channel is hit by a storm of
 * signals whose handler was installed without SA_RESTART, so every futex
 * wait returns EINTR; the call must keep waiting and never return -EINTR. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "chan-test.h"
#include "loopguard.h"

#define STORM 300 /* signals per test */

static atomic_int handled;

static void on_usr1(int sig)
{
    (void)sig;
    atomic_fetch_add(&handled, 1);
}

static int setup(void **state)
{
    (void)state;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sa.sa_flags = 0; /* no SA_RESTART: interrupted futex waits fail EINTR */
    sigemptyset(&sa.sa_mask);
    return sigaction(SIGUSR1, &sa, NULL);
}

/* Signals the parked call STORM times, checking it is still waiting. */
static void storm(struct ct_call *c)
{
    for (int i = 0; i < STORM; i++) {
        assert_int_equal(pthread_kill(c->t, SIGUSR1), 0);
        if (i % 4 == 0)
            ct_sleep_ms(1); /* let it park again between some of them */
    }
    ct_sleep_ms(20);
    /* Still inside the call: nothing to receive or no room yet. */
    assert_int_equal(atomic_load(&c->done), 0);
}

static void test_chan_eintr_recv(void **state)
{
    (void)state;
    static const enum ct_op ops[] = {CT_RECV, CT_RECV_TIMED};
    for (size_t i = 0; i < 2; i++) {
        lg_chan_t *ch;
        struct ct_msg m = {9, 99};
        assert_int_equal(lg_chan_new(&ch, 2, sizeof m), 0);
        struct ct_call c = {.ch = ch, .op = ops[i], .timeout_ms = 600000};
        atomic_store(&handled, 0);
        assert_true(ct_call_start_parked(&c));
        storm(&c);
        assert_int_equal(lg_chan_try_send(ch, &m), 0);
        assert_int_equal(ct_join_ms(c.t, NULL, 10000), 0);
        assert_int_equal(c.rc, 0);
        assert_true(c.msg.prod == 9 && c.msg.seq == 99);
        assert_true(atomic_load(&handled) > 0);
        lg_chan_free(ch);
    }
}

static void test_chan_eintr_send(void **state)
{
    (void)state;
    static const enum ct_op ops[] = {CT_SEND, CT_SEND_TIMED};
    for (size_t i = 0; i < 2; i++) {
        lg_chan_t *ch;
        struct ct_msg m = {1, 1};
        assert_int_equal(lg_chan_new(&ch, 1, sizeof m), 0);
        assert_int_equal(lg_chan_try_send(ch, &m), 0);
        struct ct_call c = {
            .ch = ch, .op = ops[i], .timeout_ms = 600000, .msg = {2, 2}};
        atomic_store(&handled, 0);
        assert_true(ct_call_start_parked(&c));
        storm(&c);
        assert_int_equal(lg_chan_try_recv(ch, &m), 0);
        assert_int_equal(ct_join_ms(c.t, NULL, 10000), 0);
        assert_int_equal(c.rc, 0);
        assert_int_equal(lg_chan_try_recv(ch, &m), 0);
        assert_true(m.prod == 2 && m.seq == 2);
        assert_true(atomic_load(&handled) > 0);
        lg_chan_free(ch);
    }
}

/* A storm during a timed wait neither ends it early nor restarts its
 * clock for ever: it times out, after at least its timeout. */
static void test_chan_eintr_timeout(void **state)
{
    (void)state;
    lg_chan_t *ch;
    assert_int_equal(lg_chan_new(&ch, 2, sizeof(struct ct_msg)), 0);
    struct ct_call c = {.ch = ch, .op = CT_RECV_TIMED, .timeout_ms = 400};
    atomic_store(&handled, 0);
    assert_true(ct_call_start_parked(&c));
    for (int i = 0; i < 20000 && !atomic_load(&c.done); i++) {
        assert_int_equal(pthread_kill(c.t, SIGUSR1), 0);
        ct_sleep_ms(1);
    }
    assert_int_equal(ct_join_ms(c.t, NULL, 30000), 0);
    assert_int_equal(c.rc, -ETIMEDOUT);
    assert_true(c.elapsed_ms >= 400);
    assert_true(atomic_load(&handled) > 0);
    lg_chan_free(ch);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chan_eintr_recv),
        cmocka_unit_test(test_chan_eintr_send),
        cmocka_unit_test(test_chan_eintr_timeout),
    };
    alarm(240); /* a hang fails here, with the test's name in the log */
    return cmocka_run_group_tests(tests, setup, NULL);
}

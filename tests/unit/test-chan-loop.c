/* lg_chan with libuv loops: thread to loop, loop to thread, loop to loop on
 * two threads (one way and echoed back), recv_stop then recv_start losing
 * nothing, -EBUSY / -EINVAL, and the per-wake-up budget that lets the
 * loop's other handles run while a channel is busy. */
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

/* What the receiving side saw; reset by each test. */
static uint32_t next_seq[MAXPROD];
static int got, bad, epipe, after_epipe, stops, starts;

static void reset(void)
{
    memset(next_seq, 0, sizeof next_seq);
    got = bad = epipe = after_epipe = stops = starts = 0;
}

/* Counts one delivery and checks FIFO per producer. */
static void note(int status, const void *msg)
{
    if (epipe)
        after_epipe++;
    if (status == -EPIPE) {
        epipe++;
        bad += msg != NULL;
        return;
    }
    struct ct_msg m;
    memcpy(&m, msg, sizeof m);
    if (status != 0 || m.prod >= MAXPROD || m.seq != next_seq[m.prod])
        bad++;
    else
        next_seq[m.prod]++;
    got++;
}

static void on_msg(lg_chan_t *ch, int status, void *msg, void *data)
{
    (void)ch;
    (void)data;
    note(status, msg);
}

struct producers {
    lg_chan_t *ch;
    int n;        /* threads */
    uint32_t per; /* messages each */
    pthread_t t[MAXPROD];
    pthread_t closer;
    int rc[MAXPROD];
};

struct prod_arg {
    struct producers *p;
    uint32_t id;
};

static struct prod_arg prod_args[MAXPROD];

static void *produce(void *arg)
{
    struct prod_arg *a = arg;
    for (uint32_t i = 0; i < a->p->per; i++) {
        struct ct_msg m = {a->id, i};
        int r = lg_chan_send_blocking(a->p->ch, &m);
        if (r != 0) {
            a->p->rc[a->id] = r;
            break;
        }
    }
    return NULL;
}

/* Joins the producers, then closes: the loop's final callback comes after
 * everything they sent. */
static void *close_after(void *arg)
{
    struct producers *p = arg;
    for (int i = 0; i < p->n; i++)
        pthread_join(p->t[i], NULL);
    lg_chan_close(p->ch);
    return NULL;
}

static void start_producers(struct producers *p)
{
    for (int i = 0; i < p->n; i++) {
        prod_args[i] = (struct prod_arg){p, (uint32_t)i};
        p->rc[i] = 0;
        assert_int_equal(pthread_create(&p->t[i], NULL, produce, &prod_args[i]),
                         0);
    }
    assert_int_equal(pthread_create(&p->closer, NULL, close_after, p), 0);
}

static void finish_producers(struct producers *p)
{
    assert_int_equal(ct_join_ms(p->closer, NULL, 60000), 0);
    for (int i = 0; i < p->n; i++)
        assert_int_equal(p->rc[i], 0);
}

static void test_chan_loop_thread_to_loop(void **state)
{
    (void)state;
    static const size_t caps[] = {1, 3, 64, 1024};
    for (size_t c = 0; c < sizeof caps / sizeof caps[0]; c++) {
        uv_loop_t loop;
        struct producers p = {.n = MAXPROD, .per = 10000};
        reset();
        assert_int_equal(uv_loop_init(&loop), 0);
        assert_int_equal(lg_chan_new(&p.ch, caps[c], sizeof(struct ct_msg)), 0);
        assert_int_equal(lg_chan_recv_start(p.ch, &loop, on_msg, NULL), 0);
        start_producers(&p);
        assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
        finish_producers(&p);
        assert_int_equal(got, MAXPROD * 10000);
        assert_int_equal(bad, 0);
        assert_int_equal(epipe, 1);
        assert_int_equal(after_epipe, 0);
        for (int i = 0; i < MAXPROD; i++)
            assert_int_equal(next_seq[i], 10000);
        assert_int_equal(uv_loop_close(&loop), 0);
        lg_chan_free(p.ch);
    }
}

/* ---- loop to thread ----------------------------------------------------- */

#define L2T_N 5000

static int sent_cb, sent_bad;

/* Send callbacks come in send order with status 0; the last one closes,
 * which is safe because every message is in the channel by then. */
static void on_sent_close_last(lg_chan_t *ch, int status, void *data)
{
    if (status != 0 || (uintptr_t)data != (uintptr_t)sent_cb)
        sent_bad++;
    if (++sent_cb == L2T_N)
        lg_chan_close(ch);
}

struct consumer {
    pthread_t t;
    lg_chan_t *ch;
    uint32_t got;
    uint32_t next;
    int bad;
    int end;
};

static void *consume(void *arg)
{
    struct consumer *c = arg;
    struct ct_msg m;
    while ((c->end = lg_chan_recv_blocking(c->ch, &m)) == 0) {
        c->bad += m.seq < c->next;
        c->next = m.seq + 1;
        c->got++;
    }
    return NULL;
}

static void test_chan_loop_loop_to_thread(void **state)
{
    (void)state;
    for (int ncons = 1; ncons <= 2; ncons++) {
        uv_loop_t loop;
        lg_chan_t *ch;
        struct consumer c[2];
        sent_cb = sent_bad = 0;
        assert_int_equal(uv_loop_init(&loop), 0);
        assert_int_equal(lg_chan_new(&ch, 16, sizeof(struct ct_msg)), 0);
        for (int i = 0; i < ncons; i++) {
            c[i] = (struct consumer){.ch = ch};
            assert_int_equal(pthread_create(&c[i].t, NULL, consume, &c[i]), 0);
        }
        /* This thread is the loop's: sending before uv_run is legal, and
         * most of these park until the consumers make room. */
        for (uint32_t i = 0; i < L2T_N; i++) {
            struct ct_msg m = {0, i};
            assert_int_equal(lg_chan_send_async(ch, &loop, &m,
                                                on_sent_close_last,
                                                (void *)(uintptr_t)i),
                             0);
        }
        assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
        assert_int_equal(sent_cb, L2T_N);
        assert_int_equal(sent_bad, 0);
        uint32_t total = 0;
        for (int i = 0; i < ncons; i++) {
            assert_int_equal(ct_join_ms(c[i].t, NULL, 30000), 0);
            assert_int_equal(c[i].end, -EPIPE);
            assert_int_equal(c[i].bad, 0);
            total += c[i].got;
        }
        assert_int_equal(total, L2T_N);
        assert_int_equal(uv_loop_close(&loop), 0);
        lg_chan_free(ch);
    }
}

/* ---- loop to loop ------------------------------------------------------- */

#define L2L_N 20000

/* Loop A sends L2L_N to loop B over `ab`; B echoes each one back over `ba`
 * with send_async from its receive callback; when A has every echo it
 * closes `ab`, B's final callback closes `ba`, and both loops end. */
struct l2l {
    lg_chan_t *ab, *ba;
    uv_loop_t loop_a, loop_b;
    int a_init_rc, b_init_rc;
    /* loop A's */
    int a_sent_cb, a_sent_bad, a_echo, a_bad, a_epipe;
    /* loop B's */
    int b_got, b_bad, b_epipe, b_sent_cb, b_sent_bad;
};

static struct l2l l2l;

static void a_on_sent(lg_chan_t *ch, int status, void *data)
{
    (void)ch;
    (void)data;
    l2l.a_sent_bad += status != 0;
    l2l.a_sent_cb++;
}

static void a_on_echo(lg_chan_t *ch, int status, void *msg, void *data)
{
    (void)ch;
    (void)data;
    if (status == -EPIPE) {
        l2l.a_epipe++;
        return;
    }
    struct ct_msg m;
    memcpy(&m, msg, sizeof m);
    l2l.a_bad += m.seq != (uint32_t)l2l.a_echo;
    if (++l2l.a_echo == L2L_N)
        lg_chan_close(l2l.ab);
}

static void b_on_sent(lg_chan_t *ch, int status, void *data)
{
    (void)ch;
    (void)data;
    l2l.b_sent_bad += status != 0;
    l2l.b_sent_cb++;
}

static void b_on_msg(lg_chan_t *ch, int status, void *msg, void *data)
{
    (void)ch;
    (void)data;
    if (status == -EPIPE) {
        l2l.b_epipe++;
        lg_chan_close(l2l.ba);
        return;
    }
    struct ct_msg m;
    memcpy(&m, msg, sizeof m);
    l2l.b_bad += m.seq != (uint32_t)l2l.b_got;
    l2l.b_got++;
    if (lg_chan_send_async(l2l.ba, &l2l.loop_b, &m, b_on_sent, NULL) != 0)
        l2l.b_bad++;
}

static void *run_a(void *arg)
{
    (void)arg;
    if (uv_loop_init(&l2l.loop_a) != 0 ||
        lg_chan_recv_start(l2l.ba, &l2l.loop_a, a_on_echo, NULL) != 0)
        return (void *)1;
    for (uint32_t i = 0; i < L2L_N; i++) {
        struct ct_msg m = {0, i};
        if (lg_chan_send_async(l2l.ab, &l2l.loop_a, &m, a_on_sent, NULL))
            return (void *)2;
    }
    if (uv_run(&l2l.loop_a, UV_RUN_DEFAULT) != 0)
        return (void *)3;
    l2l.a_init_rc = uv_loop_close(&l2l.loop_a);
    return NULL;
}

static void *run_b(void *arg)
{
    (void)arg;
    if (uv_loop_init(&l2l.loop_b) != 0 ||
        lg_chan_recv_start(l2l.ab, &l2l.loop_b, b_on_msg, NULL) != 0)
        return (void *)1;
    if (uv_run(&l2l.loop_b, UV_RUN_DEFAULT) != 0)
        return (void *)3;
    l2l.b_init_rc = uv_loop_close(&l2l.loop_b);
    return NULL;
}

static void test_chan_loop_loop_to_loop(void **state)
{
    (void)state;
    static const size_t caps[] = {1, 8, 1024};
    for (size_t c = 0; c < sizeof caps / sizeof caps[0]; c++) {
        pthread_t a, b;
        void *ra, *rb;
        memset(&l2l, 0, sizeof l2l);
        assert_int_equal(lg_chan_new(&l2l.ab, caps[c], sizeof(struct ct_msg)),
                         0);
        assert_int_equal(lg_chan_new(&l2l.ba, caps[c], sizeof(struct ct_msg)),
                         0);
        assert_int_equal(pthread_create(&b, NULL, run_b, NULL), 0);
        assert_int_equal(pthread_create(&a, NULL, run_a, NULL), 0);
        assert_int_equal(ct_join_ms(a, &ra, 60000), 0);
        assert_int_equal(ct_join_ms(b, &rb, 60000), 0);
        assert_null(ra);
        assert_null(rb);
        assert_int_equal(l2l.a_sent_cb, L2L_N);
        assert_int_equal(l2l.a_sent_bad, 0);
        assert_int_equal(l2l.b_got, L2L_N);
        assert_int_equal(l2l.b_bad, 0);
        assert_int_equal(l2l.b_epipe, 1);
        assert_int_equal(l2l.b_sent_cb, L2L_N);
        assert_int_equal(l2l.b_sent_bad, 0);
        assert_int_equal(l2l.a_echo, L2L_N);
        assert_int_equal(l2l.a_bad, 0);
        assert_int_equal(l2l.a_epipe, 1);
        assert_int_equal(l2l.a_init_rc, 0);
        assert_int_equal(l2l.b_init_rc, 0);
        lg_chan_free(l2l.ab);
        lg_chan_free(l2l.ba);
    }
}

/* ---- recv_stop / recv_start ---------------------------------------------- */

static uv_timer_t restart_timer;
static lg_chan_t *ss_ch;
static uv_loop_t ss_loop;

static void on_msg_stopping(lg_chan_t *ch, int status, void *msg, void *data);

static void restart(uv_timer_t *t)
{
    (void)t;
    starts++;
    assert_int_equal(lg_chan_recv_start(ss_ch, &ss_loop, on_msg_stopping, NULL),
                     0);
}

/* Every 97th message stops the receiver and a timer restarts it a moment
 * later; every 89th stops and restarts at once from inside the callback.
 * Messages left in the channel meanwhile must all come later, in order. */
static void on_msg_stopping(lg_chan_t *ch, int status, void *msg, void *data)
{
    (void)data;
    note(status, msg);
    if (status == -EPIPE) {
        uv_close((uv_handle_t *)&restart_timer, NULL);
        return;
    }
    if (got % 97 == 0) {
        stops++;
        assert_int_equal(lg_chan_recv_stop(ch), 0);
        assert_int_equal(lg_chan_recv_stop(ch), -EINVAL);
        uv_timer_start(&restart_timer, restart, 1, 0);
    } else if (got % 89 == 0) {
        stops++;
        starts++;
        assert_int_equal(lg_chan_recv_stop(ch), 0);
        assert_int_equal(
            lg_chan_recv_start(ch, &ss_loop, on_msg_stopping, NULL), 0);
    }
}

static void test_chan_loop_stop_start(void **state)
{
    (void)state;
    struct producers p = {.n = 2, .per = 10000};
    reset();
    assert_int_equal(uv_loop_init(&ss_loop), 0);
    assert_int_equal(uv_timer_init(&ss_loop, &restart_timer), 0);
    assert_int_equal(lg_chan_new(&p.ch, 16, sizeof(struct ct_msg)), 0);
    ss_ch = p.ch;
    assert_int_equal(lg_chan_recv_start(p.ch, &ss_loop, on_msg_stopping, NULL),
                     0);
    start_producers(&p);
    assert_int_equal(uv_run(&ss_loop, UV_RUN_DEFAULT), 0);
    finish_producers(&p);
    assert_int_equal(got, 20000);
    assert_int_equal(bad, 0);
    assert_int_equal(next_seq[0], 10000);
    assert_int_equal(next_seq[1], 10000);
    assert_int_equal(epipe, 1);
    assert_int_equal(after_epipe, 0);
    assert_true(stops >= 20000 / 97);
    assert_int_equal(uv_loop_close(&ss_loop), 0);
    lg_chan_free(p.ch);
}

static int other_cb_calls;

static void on_msg_other(lg_chan_t *ch, int status, void *msg, void *data)
{
    (void)ch;
    (void)status;
    (void)msg;
    (void)data;
    other_cb_calls++;
}

static void test_chan_loop_ebusy(void **state)
{
    (void)state;
    uv_loop_t loop, other;
    lg_chan_t *ch;
    int tag;
    reset();
    other_cb_calls = 0;
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(uv_loop_init(&other), 0);
    assert_int_equal(lg_chan_new(&ch, 4, sizeof(struct ct_msg)), 0);
    assert_int_equal(lg_chan_recv_start(NULL, &loop, on_msg, NULL), -EINVAL);
    assert_int_equal(lg_chan_recv_start(ch, NULL, on_msg, NULL), -EINVAL);
    assert_int_equal(lg_chan_recv_start(ch, &loop, NULL, NULL), -EINVAL);
    assert_int_equal(lg_chan_recv_stop(ch), -EINVAL); /* not started */
    assert_int_equal(lg_chan_recv_start(ch, &loop, on_msg_other, &tag), 0);
    assert_int_equal(lg_chan_recv_start(ch, &loop, on_msg, NULL), -EBUSY);
    assert_int_equal(lg_chan_recv_start(ch, &other, on_msg, NULL), -EBUSY);
    assert_int_equal(lg_chan_recv_stop(ch), 0);
    assert_int_equal(lg_chan_recv_stop(ch), -EINVAL);
    /* A new receiver after the stop gets everything, the old one nothing. */
    assert_int_equal(lg_chan_recv_start(ch, &loop, on_msg, NULL), 0);
    assert_int_equal(lg_chan_recv_start(ch, &loop, on_msg_other, NULL), -EBUSY);
    for (uint32_t i = 0; i < 3; i++) {
        struct ct_msg m = {0, i};
        assert_int_equal(lg_chan_try_send(ch, &m), 0);
    }
    lg_chan_close(ch);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(got, 3);
    assert_int_equal(bad, 0);
    assert_int_equal(epipe, 1);
    assert_int_equal(other_cb_calls, 0);
    assert_int_equal(uv_loop_close(&loop), 0);
    assert_int_equal(uv_loop_close(&other), 0);
    lg_chan_free(ch);
}

/* ---- a busy channel does not starve the loop ----------------------------- */

#define BUDGET_N 10000
#define BUDGET 1024 /* loopguard.h: messages per wake-up */

static uv_check_t check;
static int checks, checks_at_first, checks_at_last;

static void on_check(uv_check_t *h)
{
    (void)h;
    checks++;
}

static void on_msg_budget(lg_chan_t *ch, int status, void *msg, void *data)
{
    (void)ch;
    (void)data;
    note(status, msg);
    if (status == -EPIPE) {
        uv_close((uv_handle_t *)&check, NULL);
        return;
    }
    if (got == 1)
        checks_at_first = checks;
    if (got == BUDGET_N)
        checks_at_last = checks;
}

/* Pre-filled before the loop runs, 10000 messages need about ten
 * wake-ups; the loop's check handle must run between them. Then the same
 * with a producer thread still sending while the loop drains. */
static void test_chan_loop_budget(void **state)
{
    (void)state;
    for (int live = 0; live <= 1; live++) {
        uv_loop_t loop;
        struct producers p = {.n = 1, .per = BUDGET_N};
        reset();
        checks = checks_at_first = checks_at_last = 0;
        assert_int_equal(uv_loop_init(&loop), 0);
        assert_int_equal(uv_check_init(&loop, &check), 0);
        assert_int_equal(uv_check_start(&check, on_check), 0);
        assert_int_equal(
            lg_chan_new(&p.ch, live ? 1024 : 16384, sizeof(struct ct_msg)), 0);
        if (live) {
            start_producers(&p);
        } else {
            for (uint32_t i = 0; i < BUDGET_N; i++) {
                struct ct_msg m = {0, i};
                assert_int_equal(lg_chan_try_send(p.ch, &m), 0);
            }
            lg_chan_close(p.ch);
        }
        assert_int_equal(lg_chan_recv_start(p.ch, &loop, on_msg_budget, NULL),
                         0);
        assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
        if (live)
            finish_producers(&p);
        assert_int_equal(got, BUDGET_N);
        assert_int_equal(bad, 0);
        assert_int_equal(epipe, 1);
        if (!live)
            assert_true(checks_at_last - checks_at_first >=
                        BUDGET_N / BUDGET - 1);
        assert_int_equal(uv_loop_close(&loop), 0);
        lg_chan_free(p.ch);
    }
}

/* ---- a batch frees room for every parked sender ------------------------- */

static int batch_got;

static void on_msg_stop_at_4(lg_chan_t *ch, int status, void *msg, void *data)
{
    (void)msg;
    (void)data;
    if (status == 0 && ++batch_got == 4)
        lg_chan_recv_stop(ch);
}

/* Capacity 4, full, three senders parked. The loop takes all four in one
 * wake-up and stops receiving: the three must all get in, though nothing
 * will pop again to wake them one by one. */
static void test_chan_loop_batch_wakes_senders(void **state)
{
    (void)state;
    uv_loop_t loop;
    lg_chan_t *ch;
    struct ct_call c[3];
    struct ct_msg m = {0, 0};
    batch_got = 0;
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(lg_chan_new(&ch, 4, sizeof m), 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(lg_chan_try_send(ch, &m), 0);
    for (int i = 0; i < 3; i++) {
        c[i] =
            (struct ct_call){.ch = ch, .op = CT_SEND, .msg = {1, (uint32_t)i}};
        assert_true(ct_call_start_parked(&c[i]));
    }
    assert_int_equal(lg_chan_recv_start(ch, &loop, on_msg_stop_at_4, NULL), 0);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(batch_got, 4);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(ct_join_ms(c[i].t, NULL, 10000), 0);
        assert_int_equal(c[i].rc, 0);
    }
    for (int i = 0; i < 3; i++)
        assert_int_equal(lg_chan_try_recv(ch, &m), 0);
    assert_int_equal(lg_chan_try_recv(ch, &m), -EAGAIN);
    assert_int_equal(uv_loop_close(&loop), 0);
    lg_chan_free(ch);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chan_loop_thread_to_loop),
        cmocka_unit_test(test_chan_loop_loop_to_thread),
        cmocka_unit_test(test_chan_loop_loop_to_loop),
        cmocka_unit_test(test_chan_loop_stop_start),
        cmocka_unit_test(test_chan_loop_ebusy),
        cmocka_unit_test(test_chan_loop_budget),
        cmocka_unit_test(test_chan_loop_batch_wakes_senders),
    };
    alarm(240); /* a hang fails here, with the test's name in the log */
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* lg_chan under load: 8 producer threads -> loop A -> loop B -> 2 consumer
 * threads, 10^6 sequence-numbered messages on every hop, each producer's
 * sequence checked complete and in order at every stage; closes in the
 * middle of heavy traffic; capacity 1 under 4 producers; the batch
 * receivers (a loop's recv_start_batch, stopped and restarted inside its
 * callback with another max, and threads in recv_many_blocking) under 8
 * producers. `make stress`
 * runs it with LG_STRESS_SCALE=N: N times the messages, N times the
 * closes. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include <cmocka.h>

#include "chan-test.h"
#include "loopguard.h"

#define NPROD 8
#define NCONS 2
#define FWD_MAX (4u << 20)   /* forwards recorded; more than ever happen */
#define MAX_OUTSTANDING 4096 /* forwards a stage lets wait for callbacks */
#define MAX_SCALE 40         /* keeps every count well below 2^32 */

static unsigned scale = 1;   /* LG_STRESS_SCALE */

/* ---- a loop on its own thread -------------------------------------------- */

/* One stage of a pipeline: a loop that receives from `in` and forwards
 * every message to `out` with send_async (or only counts, if out is NULL).
 * send_async parks without bound, so the stage stops receiving while too
 * many forwards wait for their callback, as a real forwarder must. When
 * `in` ends it closes `out`, but only once every forwarded message's
 * callback has come: closing earlier would fail the parked ones. */
struct stage {
    pthread_t t;
    uv_loop_t loop;
    lg_chan_t *in, *out;
    int rc;
    /* loop thread only, read after join */
    uint32_t next[NPROD]; /* FIFO check per producer */
    uint64_t got, bad, epipe, after_epipe;
    uint64_t fwd, fwd_refused; /* send_async returned 0 / -EPIPE */
    uint64_t cb_ok, cb_epipe, cb_other;
    int in_done;
    int paused; /* receiving stopped: too many outstanding */
    uint64_t pauses;
    /* close-under-traffic bookkeeping, indexed by forward number */
    unsigned char *fwd_status; /* FWD_* below, or NULL */
    size_t fwd_max;
    atomic_ullong got_shared; /* `got`, for other threads */
};

enum { FWD_NONE, FWD_CB_OK, FWD_CB_EPIPE, FWD_REFUSED };

static void on_stage_msg(lg_chan_t *ch, int status, void *msg, void *data);

static uint64_t outstanding(struct stage *s)
{
    return s->fwd - (s->cb_ok + s->cb_epipe + s->cb_other);
}

static void maybe_close_out(struct stage *s)
{
    if (s->in_done && s->out && outstanding(s) == 0)
        lg_chan_close(s->out);
}

/* Back-pressure: stop receiving when the parked forwards pile up, start
 * again when most have gone through (recv_stop/start keep every message). */
static void throttle(struct stage *s)
{
    if (!s->paused && outstanding(s) >= MAX_OUTSTANDING) {
        s->paused = 1;
        s->pauses++;
        s->bad += lg_chan_recv_stop(s->in) != 0;
    } else if (s->paused && outstanding(s) <= MAX_OUTSTANDING / 4) {
        s->paused = 0;
        s->bad += lg_chan_recv_start(s->in, &s->loop, on_stage_msg, s) != 0;
    }
}

static void on_fwd_sent(lg_chan_t *ch, int status, void *data)
{
    (void)ch;
    struct stage *s = data;
    if (status == 0)
        s->cb_ok++;
    else if (status == -EPIPE)
        s->cb_epipe++;
    else
        s->cb_other++;
    if (s->fwd_status) {
        /* Callbacks come in send order: this is forward number done. */
        uint64_t k = s->cb_ok + s->cb_epipe + s->cb_other - 1;
        if (k < s->fwd_max)
            s->fwd_status[k] = status == 0 ? FWD_CB_OK : FWD_CB_EPIPE;
    }
    throttle(s);
    maybe_close_out(s);
}

static void on_stage_msg(lg_chan_t *ch, int status, void *msg, void *data)
{
    (void)ch;
    struct stage *s = data;
    if (s->epipe)
        s->after_epipe++;
    if (status == -EPIPE) {
        s->epipe++;
        s->in_done = 1;
        maybe_close_out(s);
        return;
    }
    struct ct_msg m;
    memcpy(&m, msg, sizeof m);
    if (status != 0 || m.prod >= NPROD || m.seq != s->next[m.prod])
        s->bad++;
    else
        s->next[m.prod]++;
    s->got++;
    atomic_store_explicit(&s->got_shared, s->got, memory_order_relaxed);
    if (!s->out)
        return;
    if (s->fwd_status) /* numbered, so that consumers can tick them off */
        m = (struct ct_msg){0, (uint32_t)(s->fwd + s->fwd_refused)};
    int r = lg_chan_send_async(s->out, &s->loop, &m, on_fwd_sent, s);
    if (r == 0) {
        s->fwd++;
    } else if (r == -EPIPE) {
        uint64_t k = s->fwd + s->fwd_refused++;
        if (s->fwd_status && k < s->fwd_max)
            s->fwd_status[k] = FWD_REFUSED;
    } else {
        s->bad++;
    }
    throttle(s);
}

static void *run_stage(void *arg)
{
    struct stage *s = arg;
    s->rc = lg_chan_recv_start(s->in, &s->loop, on_stage_msg, s);
    if (s->rc == 0)
        s->rc = uv_run(&s->loop, UV_RUN_DEFAULT);
    if (s->rc == 0)
        s->rc = uv_loop_close(&s->loop);
    return NULL;
}

/* The loop is initialised here but used only on its own thread from then
 * on (uv_loop_init is not thread-affine; handles are made on the loop's
 * thread by recv_start and send_async). */
static void stage_start(struct stage *s, lg_chan_t *in, lg_chan_t *out,
                        unsigned char *fwd_status)
{
    memset(s, 0, sizeof *s);
    s->in = in;
    s->out = out;
    s->fwd_status = fwd_status;
    s->fwd_max = fwd_status ? FWD_MAX : 0;
    assert_int_equal(uv_loop_init(&s->loop), 0);
    assert_int_equal(pthread_create(&s->t, NULL, run_stage, s), 0);
}

static void stage_join(struct stage *s)
{
    assert_int_equal(ct_join_ms(s->t, NULL, 120000), 0);
    assert_int_equal(s->rc, 0);
}

/* ---- producers and consumers --------------------------------------------- */

struct producer {
    pthread_t t;
    lg_chan_t *ch;
    uint32_t id;
    uint32_t n;          /* messages to send; UINT32_MAX: until -EPIPE */
    uint32_t accepted;   /* sends that returned 0 */
    uint32_t refused_ok; /* sends after the first -EPIPE that got it */
    int bad;             /* any other result */
};

/* Mixes the three ways of sending; each must accept or refuse cleanly. */
static void *produce(void *arg)
{
    struct producer *p = arg;
    for (uint32_t i = 0; i < p->n; i++) {
        struct ct_msg m = {p->id, i};
        int r;
        switch (i % 4) {
        case 0:
            do {
                r = lg_chan_try_send(p->ch, &m);
                if (r == -EAGAIN)
                    sched_yield();
            } while (r == -EAGAIN);
            break;
        case 1:
            do
                r = lg_chan_send_timed(p->ch, &m, 1000);
            while (r == -ETIMEDOUT);
            break;
        default:
            r = lg_chan_send_blocking(p->ch, &m);
            break;
        }
        if (r == -EPIPE)
            break;
        if (r != 0) {
            p->bad++;
            break;
        }
        p->accepted++;
    }
    if (p->n == UINT32_MAX) {
        /* Closed: from now on every kind of send must say so. */
        struct ct_msg m = {p->id, p->accepted};
        for (int i = 0; i < 30; i++) {
            p->refused_ok += lg_chan_try_send(p->ch, &m) == -EPIPE;
            p->refused_ok += lg_chan_send_blocking(p->ch, &m) == -EPIPE;
            p->refused_ok += lg_chan_send_timed(p->ch, &m, 10) == -EPIPE;
        }
    }
    return NULL;
}

static void start_producers(struct producer *p, int n, lg_chan_t *ch,
                            uint32_t per)
{
    for (int i = 0; i < n; i++) {
        p[i] = (struct producer){.ch = ch, .id = (uint32_t)i, .n = per};
        assert_int_equal(pthread_create(&p[i].t, NULL, produce, &p[i]), 0);
    }
}

static void join_producers(struct producer *p, int n)
{
    for (int i = 0; i < n; i++) {
        assert_int_equal(ct_join_ms(p[i].t, NULL, 120000), 0);
        assert_int_equal(p[i].bad, 0);
    }
}

struct consumer {
    pthread_t t;
    lg_chan_t *ch;
    uint32_t next[NPROD]; /* each consumer sees a producer in order */
    uint64_t got, bad;
    int end;
    atomic_uchar *seen; /* shared tick per message, or NULL */
    size_t seen_max;
    atomic_ullong *total; /* shared count, or NULL */
};

static void *consume(void *arg)
{
    struct consumer *c = arg;
    struct ct_msg m;
    while ((c->end = lg_chan_recv_blocking(c->ch, &m)) == 0) {
        c->got++;
        if (c->total)
            atomic_fetch_add_explicit(c->total, 1, memory_order_relaxed);
        if (c->seen) {
            if (m.seq >= c->seen_max ||
                atomic_fetch_add(&c->seen[m.seq], 1) != 0)
                c->bad++;
            continue;
        }
        if (m.prod >= NPROD || m.seq < c->next[m.prod])
            c->bad++;
        else
            c->next[m.prod] = m.seq + 1;
    }
    return NULL;
}

static void start_consumers(struct consumer *c, int n, lg_chan_t *ch)
{
    for (int i = 0; i < n; i++) {
        c[i].ch = ch;
        assert_int_equal(pthread_create(&c[i].t, NULL, consume, &c[i]), 0);
    }
}

/* ---- 10^6 each way ------------------------------------------------------- */

#define PER_PROD (125000 * scale) /* x 8 producers: scale x 10^6 a hop */

static struct stage stage_a, stage_b;

/* Producers -> ch1 -> loop A -> ch2 -> loop B -> ch3 -> consumers. The
 * close ripples down the pipe as each stage drains. */
static void test_chan_stress_pipeline(void **state)
{
    (void)state;
    lg_chan_t *ch1, *ch2, *ch3;
    struct producer p[NPROD];
    struct consumer c[NCONS];
    memset(c, 0, sizeof c);
    assert_int_equal(lg_chan_new(&ch1, 1024, sizeof(struct ct_msg)), 0);
    assert_int_equal(lg_chan_new(&ch2, 1024, sizeof(struct ct_msg)), 0);
    assert_int_equal(lg_chan_new(&ch3, 256, sizeof(struct ct_msg)), 0);
    start_consumers(c, NCONS, ch3);
    stage_start(&stage_b, ch2, ch3, NULL);
    stage_start(&stage_a, ch1, ch2, NULL);
    start_producers(p, NPROD, ch1, PER_PROD);
    join_producers(p, NPROD);
    lg_chan_close(ch1);
    stage_join(&stage_a);
    stage_join(&stage_b);
    uint64_t total = 0;
    uint32_t max_next[NPROD] = {0};
    for (int i = 0; i < NCONS; i++) {
        assert_int_equal(ct_join_ms(c[i].t, NULL, 120000), 0);
        assert_int_equal(c[i].end, -EPIPE);
        assert_int_equal(c[i].bad, 0);
        total += c[i].got;
        for (int j = 0; j < NPROD; j++)
            if (c[i].next[j] > max_next[j])
                max_next[j] = c[i].next[j];
    }
    for (int i = 0; i < NPROD; i++)
        assert_int_equal(p[i].accepted, PER_PROD);
    struct stage *st[2] = {&stage_a, &stage_b};
    for (int k = 0; k < 2; k++) {
        assert_int_equal(st[k]->got, NPROD * PER_PROD);
        assert_int_equal(st[k]->bad, 0);
        assert_int_equal(st[k]->epipe, 1);
        assert_int_equal(st[k]->after_epipe, 0);
        assert_int_equal(st[k]->fwd, NPROD * PER_PROD);
        assert_int_equal(st[k]->fwd_refused, 0);
        assert_int_equal(st[k]->cb_ok, NPROD * PER_PROD);
        for (int i = 0; i < NPROD; i++)
            assert_int_equal(st[k]->next[i], PER_PROD);
    }
    /* Each consumer saw every producer in order, and together they saw
     * the whole sequence: the last of each arrived, and the total adds up
     * with no room for a duplicate. */
    assert_int_equal(total, NPROD * PER_PROD);
    for (int i = 0; i < NPROD; i++)
        assert_int_equal(max_next[i], PER_PROD);
    lg_chan_free(ch1);
    lg_chan_free(ch2);
    lg_chan_free(ch3);
}

/* ---- close during heavy traffic ------------------------------------------ */

/* Producers send until refused -> ch1 -> loop A -> ch2 -> consumers. A
 * closer shuts ch2 while traffic flows, then ch1. Every message a send
 * accepted arrives exactly once; none that was refused does; after the
 * first -EPIPE every send is refused. */
static void test_chan_stress_close_mid_stream(void **state)
{
    (void)state;
    for (unsigned round = 0; round < 2 * scale; round++) {
        lg_chan_t *ch1, *ch2;
        struct producer p[NPROD];
        struct consumer c[NCONS];
        atomic_ullong consumed = 0;
        atomic_uchar *seen = calloc(FWD_MAX, 1);
        unsigned char *fwd_status = calloc(FWD_MAX, 1);
        assert_non_null(seen);
        assert_non_null(fwd_status);
        memset(c, 0, sizeof c);
        for (int i = 0; i < NCONS; i++) {
            c[i].seen = seen;
            c[i].seen_max = FWD_MAX;
            c[i].total = &consumed;
        }
        assert_int_equal(lg_chan_new(&ch1, 256, sizeof(struct ct_msg)), 0);
        assert_int_equal(
            lg_chan_new(&ch2, round % 2 ? 1 : 64, sizeof(struct ct_msg)), 0);
        start_consumers(c, NCONS, ch2);
        stage_start(&stage_a, ch1, ch2, fwd_status);
        start_producers(p, NPROD, ch1, UINT32_MAX);
        /* Even rounds close the loop's outbound channel first, odd ones
         * the inbound one first: both orders happen in real programs. */
        while (atomic_load(&consumed) < 50000 ||
               atomic_load(&stage_a.got_shared) < 50000)
            ct_sleep_ms(1);
        lg_chan_close(round % 2 ? ch1 : ch2);
        ct_sleep_ms(20);
        lg_chan_close(round % 2 ? ch2 : ch1);
        join_producers(p, NPROD);
        stage_join(&stage_a);
        uint64_t accepted = 0, received = 0;
        for (int i = 0; i < NPROD; i++) {
            accepted += p[i].accepted;
            assert_int_equal(p[i].refused_ok, 90);
            /* Loop A got exactly the accepted prefix, in order. */
            assert_int_equal(stage_a.next[i], p[i].accepted);
        }
        assert_int_equal(stage_a.got, accepted);
        assert_int_equal(stage_a.bad, 0);
        assert_int_equal(stage_a.epipe, 1);
        assert_int_equal(stage_a.after_epipe, 0);
        assert_int_equal(stage_a.cb_other, 0);
        assert_int_equal(stage_a.cb_ok + stage_a.cb_epipe, stage_a.fwd);
        assert_true(stage_a.fwd + stage_a.fwd_refused < FWD_MAX);
        /* Both channels are closed and loop A is gone: the consumers have
         * at most a channel's worth left to take. */
        for (int i = 0; i < NCONS; i++) {
            assert_int_equal(ct_join_ms(c[i].t, NULL, 30000), 0);
            assert_int_equal(c[i].end, -EPIPE);
            assert_int_equal(c[i].bad, 0);
            received += c[i].got;
        }
        /* Loop A -> consumers: delivered (cb 0) <=> received once. */
        uint64_t n = stage_a.fwd + stage_a.fwd_refused, mismatches = 0;
        for (uint64_t k = 0; k < n; k++) {
            int rcv = atomic_load(&seen[k]);
            int ok = fwd_status[k] == FWD_CB_OK;
            mismatches += rcv != ok || fwd_status[k] == FWD_NONE;
        }
        assert_int_equal(mismatches, 0);
        assert_int_equal(received, stage_a.cb_ok);
        free(seen);
        free(fwd_status);
        lg_chan_free(ch1);
        lg_chan_free(ch2);
    }
}

/* ---- capacity 1 ---------------------------------------------------------- */

#define CAP1_PROD 4
#define CAP1_PER (25000 * scale)

/* 4 producers -> capacity 1 -> loop A -> capacity 1 -> one consumer: every
 * message waits for the one before it on both hops. */
static void test_chan_stress_capacity1(void **state)
{
    (void)state;
    lg_chan_t *ch1, *ch2;
    struct producer p[CAP1_PROD];
    struct consumer c[1];
    memset(c, 0, sizeof c);
    assert_int_equal(lg_chan_new(&ch1, 1, sizeof(struct ct_msg)), 0);
    assert_int_equal(lg_chan_new(&ch2, 1, sizeof(struct ct_msg)), 0);
    start_consumers(c, 1, ch2);
    stage_start(&stage_a, ch1, ch2, NULL);
    start_producers(p, CAP1_PROD, ch1, CAP1_PER);
    join_producers(p, CAP1_PROD);
    lg_chan_close(ch1);
    stage_join(&stage_a);
    assert_int_equal(ct_join_ms(c[0].t, NULL, 120000), 0);
    assert_int_equal(stage_a.got, CAP1_PROD * CAP1_PER);
    assert_int_equal(stage_a.bad, 0);
    assert_int_equal(stage_a.epipe, 1);
    assert_int_equal(stage_a.cb_ok, CAP1_PROD * CAP1_PER);
    assert_int_equal(c[0].end, -EPIPE);
    assert_int_equal(c[0].bad, 0);
    assert_int_equal(c[0].got, CAP1_PROD * CAP1_PER);
    for (int i = 0; i < CAP1_PROD; i++) {
        assert_int_equal(p[i].accepted, CAP1_PER);
        assert_int_equal(stage_a.next[i], CAP1_PER);
        assert_int_equal(c[0].next[i], CAP1_PER);
    }
    lg_chan_free(ch1);
    lg_chan_free(ch2);
}

/* ---- batch receivers ------------------------------------------------------ */

/* A loop receiving in batches whose max changes every RESTART_EVERY
 * batches, by a recv_stop and recv_start_batch inside the callback (the
 * rest of a claimed batch goes through the stash); beside it, on another
 * channel, NCONS threads in recv_many_blocking. Every message once, in
 * order per producer (per consumer for the threads). */
#define RESTART_EVERY 97

struct batch_rx {
    uv_loop_t loop;
    uint32_t next[NPROD];
    uint64_t got, bad, epipe, batches;
    size_t max;
};

static void on_stress_batch(lg_chan_t *ch, int status, void *msgs, size_t n,
                            void *data)
{
    struct batch_rx *b = data;
    if (status == -EPIPE) {
        b->epipe++;
        return;
    }
    b->bad += status != 0 || n == 0 || n > b->max || b->epipe;
    struct ct_msg *m = msgs;
    for (size_t i = 0; i < n; i++) {
        if (m[i].prod >= NPROD || m[i].seq != b->next[m[i].prod])
            b->bad++;
        else
            b->next[m[i].prod]++;
    }
    b->got += n;
    if (++b->batches % RESTART_EVERY == 0) {
        b->max = b->max % 61 + 1;
        b->bad += lg_chan_recv_stop(ch) != 0;
        b->bad += lg_chan_recv_start_batch(ch, &b->loop, b->max,
                                           on_stress_batch, b) != 0;
    }
}

struct many_rx {
    pthread_t t;
    lg_chan_t *ch;
    uint32_t next[NPROD];
    uint64_t got, bad;
    int end;
};

static void *consume_many(void *arg)
{
    struct many_rx *c = arg;
    struct ct_msg buf[19];
    int n;
    while ((n = lg_chan_recv_many_blocking(c->ch, buf, 19)) > 0) {
        for (int i = 0; i < n; i++) {
            if (buf[i].prod >= NPROD || buf[i].seq < c->next[buf[i].prod])
                c->bad++;
            else
                c->next[buf[i].prod] = buf[i].seq + 1;
        }
        c->got += (uint64_t)n;
    }
    c->end = n;
    return NULL;
}

static void test_chan_stress_batch(void **state)
{
    (void)state;
    static struct batch_rx b;
    lg_chan_t *ch1, *ch2;
    struct producer p1[NPROD], p2[NPROD];
    struct many_rx c[NCONS];
    uint32_t per = PER_PROD / 4;
    memset(&b, 0, sizeof b);
    memset(c, 0, sizeof c);
    b.max = 7;
    assert_int_equal(lg_chan_new(&ch1, 64, sizeof(struct ct_msg)), 0);
    assert_int_equal(lg_chan_new(&ch2, 64, sizeof(struct ct_msg)), 0);
    assert_int_equal(uv_loop_init(&b.loop), 0);
    assert_int_equal(lg_chan_recv_start_batch(ch1, &b.loop, b.max,
                                              on_stress_batch, &b), 0);
    for (int i = 0; i < NCONS; i++) {
        c[i].ch = ch2;
        assert_int_equal(pthread_create(&c[i].t, NULL, consume_many, &c[i]),
                         0);
    }
    start_producers(p1, NPROD, ch1, per);
    start_producers(p2, NPROD, ch2, per);
    /* The loop ends with ch1's -EPIPE, once the producers are done. */
    while (b.got < (uint64_t)NPROD * per && !b.bad)
        uv_run(&b.loop, UV_RUN_ONCE);
    join_producers(p1, NPROD);
    lg_chan_close(ch1);
    assert_int_equal(uv_run(&b.loop, UV_RUN_DEFAULT), 0);
    join_producers(p2, NPROD);
    lg_chan_close(ch2);
    uint64_t total = 0;
    for (int i = 0; i < NCONS; i++) {
        assert_int_equal(ct_join_ms(c[i].t, NULL, 120000), 0);
        assert_int_equal(c[i].end, -EPIPE);
        assert_int_equal(c[i].bad, 0);
        total += c[i].got;
    }
    assert_int_equal(total, (uint64_t)NPROD * per);
    assert_int_equal(b.bad, 0);
    assert_int_equal(b.epipe, 1);
    assert_int_equal(b.got, (uint64_t)NPROD * per);
    for (int i = 0; i < NPROD; i++)
        assert_int_equal(b.next[i], per);
    assert_int_equal(uv_loop_close(&b.loop), 0);
    lg_chan_free(ch1);
    lg_chan_free(ch2);
}

int main(void)
{
    const char *env = getenv("LG_STRESS_SCALE");
    if (env && *env) {
        char *end;
        unsigned long v = strtoul(env, &end, 10);
        if (*end || v < 1 || v > MAX_SCALE) {
            fprintf(stderr, "LG_STRESS_SCALE=%s: want 1 to %d\n", env,
                    MAX_SCALE);
            return 2;
        }
        scale = (unsigned)v;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chan_stress_pipeline),
        cmocka_unit_test(test_chan_stress_close_mid_stream),
        cmocka_unit_test(test_chan_stress_capacity1),
        cmocka_unit_test(test_chan_stress_batch),
    };
    alarm(280 * scale); /* a hang fails here, with the test's name in the
                           log */
    return cmocka_run_group_tests(tests, NULL, NULL);
}

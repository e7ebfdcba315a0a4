/* bench-chanrate IMPL PRODUCERS SIZE MESSAGES: one whole run of thread ->
 * loop messages, for bench/run-chan-peers.sh, which runs it beside the
 * other languages' channels (bench/rust chan-peers, bench/go) and takes
 * ratios. PRODUCERS threads send MESSAGES messages of SIZE bytes in all
 * into a queue of capacity 1024 as fast as they can; a libuv loop on the
 * main thread takes them. The rate is MESSAGES over the time from the
 * producers' start to the last receipt. Every message carries its producer
 * and sequence number; the loop checks each producer's arrive complete and
 * in order (exit 1 otherwise).
 *
 *   lg     lg_chan_send_blocking into lg_chan_recv_start (one call each).
 *   lgb    the same into lg_chan_recv_start_batch (up to 1024 per call).
 *   a      the hand-written libuv pattern: a mutex, a ring of 1024
 *          (producers wait on a condition variable while it is full),
 *          uv_async_send after every push, outside the lock; the async
 *          callback copies the whole ring out under the lock with two
 *          memcpy and walks the copy in a tight loop.
 *
 * Prints one line: "RESULT impl=... prod=P size=S msgs=M secs=T rate=R". */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "loopguard.h"

#define CAP 1024
#define MAX_PROD 64
#define MAX_SIZE 64
#define SEQ_BITS 56

enum impl { LG, LGB, HAND };

/* Set before the producers start; read by all. */
static enum impl impl;
static int nprod;
static size_t size;
static uint64_t total, per_prod;
static uv_loop_t *loop;
static lg_chan_t *ch;
static pthread_barrier_t go;
static uint64_t t_start;
/* The receiver's, on lines of their own: a counter it bumps beside the
 * words every producer reads would slow the producers, not the channel. */
static _Alignas(64) uint64_t received, bad, t_end;
static uint64_t next_seq[MAX_PROD];

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *what, int err)
{
    fprintf(stderr, "bench-chanrate: %s: %s\n", what, strerror(err));
    exit(2);
}

/* ---- the hand-written pattern ------------------------------------------ */
static struct {
    pthread_mutex_t mu;
    pthread_cond_t room;
    unsigned char ring[CAP * MAX_SIZE];
    unsigned char copy[CAP * MAX_SIZE];
    size_t head, count;
    int waiting;              /* producers asleep on `room` */
    uv_async_t async;
} hq = {.mu = PTHREAD_MUTEX_INITIALIZER, .room = PTHREAD_COND_INITIALIZER};

static void hq_send(const void *msg)
{
    pthread_mutex_lock(&hq.mu);
    while (hq.count == CAP) {
        hq.waiting++;
        pthread_cond_wait(&hq.room, &hq.mu);
        hq.waiting--;
    }
    memcpy(hq.ring + ((hq.head + hq.count) % CAP) * size, msg, size);
    hq.count++;
    pthread_mutex_unlock(&hq.mu);
    uv_async_send(&hq.async);
}

static void consume(const unsigned char *m);

static void on_async(uv_async_t *h)
{
    pthread_mutex_lock(&hq.mu);
    size_t n = hq.count, first = CAP - hq.head < n ? CAP - hq.head : n;
    memcpy(hq.copy, hq.ring + hq.head * size, first * size);
    memcpy(hq.copy + first * size, hq.ring, (n - first) * size);
    hq.head = (hq.head + n) % CAP;
    hq.count = 0;
    if (hq.waiting)
        pthread_cond_broadcast(&hq.room);
    pthread_mutex_unlock(&hq.mu);
    for (size_t i = 0; i < n; i++)
        consume(hq.copy + i * size);
    if (received == total)
        uv_close((uv_handle_t *)h, NULL);
}

/* ---- lg_chan ----------------------------------------------------------- */
static void on_msg(lg_chan_t *c, int status, void *msg, void *data)
{
    (void)data;
    if (status == 0) {
        consume(msg);
        if (received == total)
            lg_chan_close(c);
    }
}

static void on_batch(lg_chan_t *c, int status, void *msgs, size_t n,
                     void *data)
{
    (void)data;
    for (size_t i = 0; status == 0 && i < n; i++)
        consume((const unsigned char *)msgs + i * size);
    if (status == 0 && received == total)
        lg_chan_close(c);
}

/* ---- both -------------------------------------------------------------- */
static void consume(const unsigned char *m)
{
    uint64_t tag;
    memcpy(&tag, m, sizeof tag);
    uint64_t p = tag >> SEQ_BITS, seq = tag & (((uint64_t)1 << SEQ_BITS) - 1);
    if (p >= (uint64_t)nprod || seq != next_seq[p])
        bad++;
    else
        next_seq[p]++;
    if (++received == total)
        t_end = now_ns();
}

static void *producer(void *arg)
{
    uint64_t p = (uint64_t)(uintptr_t)arg;
    unsigned char msg[MAX_SIZE];
    memset(msg, (int)p, sizeof msg);
    const uint64_t n = per_prod;
    lg_chan_t *const c = ch;
    pthread_barrier_wait(&go);
    for (uint64_t seq = 0; seq < n; seq++) {
        uint64_t tag = p << SEQ_BITS | seq;
        memcpy(msg, &tag, sizeof tag);
        if (!c) {
            hq_send(msg);
        } else {
            int r = lg_chan_send_blocking(c, msg);
            if (r != 0)
                die("lg_chan_send_blocking", -r);
        }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: bench-chanrate lg|lgb|a PRODUCERS SIZE "
                        "MESSAGES\n");
        return 2;
    }
    impl = !strcmp(argv[1], "lg") ? LG : !strcmp(argv[1], "lgb") ? LGB
                                                                  : HAND;
    nprod = atoi(argv[2]);
    size = (size_t)atoi(argv[3]);
    total = strtoull(argv[4], NULL, 10);
    if ((impl == HAND && strcmp(argv[1], "a") != 0) || nprod < 1 ||
        nprod > MAX_PROD || size < 8 || size > MAX_SIZE || size % 8 ||
        total < (uint64_t)nprod) {
        fprintf(stderr, "bench-chanrate: bad arguments\n");
        return 2;
    }
    per_prod = total / (uint64_t)nprod;
    total = per_prod * (uint64_t)nprod;
    loop = uv_default_loop();
    int r;
    if (impl == HAND) {
        if ((r = uv_async_init(loop, &hq.async, on_async)) != 0)
            die("uv_async_init", -r);
    } else {
        if ((r = lg_chan_new(&ch, CAP, size)) != 0)
            die("lg_chan_new", -r);
        r = impl == LG ? lg_chan_recv_start(ch, loop, on_msg, NULL)
                       : lg_chan_recv_start_batch(ch, loop, CAP, on_batch,
                                                  NULL);
        if (r != 0)
            die("lg_chan_recv_start", -r);
    }
    pthread_barrier_init(&go, NULL, (unsigned)nprod + 1);
    pthread_t th[MAX_PROD];
    for (int i = 0; i < nprod; i++)
        if ((r = pthread_create(&th[i], NULL, producer,
                                (void *)(uintptr_t)i)) != 0)
            die("pthread_create", r);
    pthread_barrier_wait(&go);
    t_start = now_ns();
    uv_run(loop, UV_RUN_DEFAULT);
    for (int i = 0; i < nprod; i++)
        pthread_join(th[i], NULL);
    if (ch)
        lg_chan_free(ch);
    if (bad || received != total) {
        fprintf(stderr, "bench-chanrate: %llu of %llu received, %llu out "
                        "of order\n", (unsigned long long)received,
                (unsigned long long)total, (unsigned long long)bad);
        return 1;
    }
    double secs = (double)(t_end - t_start) / 1e9;
    printf("RESULT impl=%s prod=%d size=%zu msgs=%llu secs=%.4f rate=%.0f\n",
           argv[1], nprod, size, (unsigned long long)total, secs,
           (double)total / secs);
    return 0;
}

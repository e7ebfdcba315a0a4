/* The pthread-heavy workloads of issue 5's performance targets.
 *   bench-locks queue PRODUCERS CONSUMERS ITEMS
 *       producers hand ITEMS items each to consumers through one bounded
 *       queue (64 slots) guarded by a mutex and two condition variables;
 *       prints the nanoseconds per item handed over.
 *   bench-locks signal ITERS
 *       one thread: lock; cond_signal (nobody waits); unlock, ITERS times;
 *       prints nanoseconds per iteration.
 * Both hold one lock at a time, as such code does; run-locks.sh compares
 * them natively, under the preload and under other tools. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SLOTS 64

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t not_empty = PTHREAD_COND_INITIALIZER;
static pthread_cond_t not_full = PTHREAD_COND_INITIALIZER;
static long ring[SLOTS];
static int head, count;
static long per_producer;
static int consumers;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void *producer(void *arg)
{
    (void)arg;
    for (long i = 0; i < per_producer; i++) {
        pthread_mutex_lock(&lock);
        while (count == SLOTS)
            pthread_cond_wait(&not_full, &lock);
        ring[(head + count++) % SLOTS] = i;
        pthread_cond_signal(&not_empty);
        pthread_mutex_unlock(&lock);
    }
    return NULL;
}

static void *consumer(void *arg)
{
    long *got = arg;
    for (;;) {
        pthread_mutex_lock(&lock);
        while (count == 0)
            pthread_cond_wait(&not_empty, &lock);
        long v = ring[head];
        head = (head + 1) % SLOTS;
        count--;
        pthread_cond_signal(&not_full);
        pthread_mutex_unlock(&lock);
        if (v < 0)
            return NULL;      /* the end marker, one per consumer */
        (*got)++;
    }
}

static void push_end(void)
{
    pthread_mutex_lock(&lock);
    while (count == SLOTS)
        pthread_cond_wait(&not_full, &lock);
    ring[(head + count++) % SLOTS] = -1;
    pthread_cond_signal(&not_empty);
    pthread_mutex_unlock(&lock);
}

static int queue(int np, int nc, long items)
{
    pthread_t p[64], c[64];
    long got[64] = {0};
    if (np < 1 || nc < 1 || np > 64 || nc > 64)
        return 2;
    per_producer = items;
    consumers = nc;
    uint64_t t0 = now_ns();
    for (int i = 0; i < nc; i++)
        pthread_create(&c[i], NULL, consumer, &got[i]);
    for (int i = 0; i < np; i++)
        pthread_create(&p[i], NULL, producer, NULL);
    for (int i = 0; i < np; i++)
        pthread_join(p[i], NULL);
    for (int i = 0; i < nc; i++)
        push_end();
    long total = 0;
    for (int i = 0; i < nc; i++) {
        pthread_join(c[i], NULL);
        total += got[i];
    }
    uint64_t t = now_ns() - t0;
    if (total != np * items) {
        fprintf(stderr, "lost items: %ld of %ld\n", total, np * items);
        return 1;
    }
    printf("%.1f\n", (double)t / (double)total);
    return 0;
}

static int signal_loop(long iters)
{
    uint64_t t0 = now_ns();
    for (long i = 0; i < iters; i++) {
        pthread_mutex_lock(&lock);
        pthread_cond_signal(&not_empty);
        pthread_mutex_unlock(&lock);
    }
    uint64_t t = now_ns() - t0;
    printf("%.2f\n", (double)t / (double)iters);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 5 && !strcmp(argv[1], "queue"))
        return queue(atoi(argv[2]), atoi(argv[3]), atol(argv[4]));
    if (argc == 3 && !strcmp(argv[1], "signal"))
        return signal_loop(atol(argv[2]));
    fprintf(stderr, "usage: bench-locks queue P C ITEMS | signal ITERS\n");
    return 2;
}

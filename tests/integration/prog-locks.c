/* Lock orders, none of which deadlocks in this run: threads run one after
 * the other (each joined before the next starts) unless the mode says.
 *   abba         A then B in one thread, B then A in another; twice
 *   consistent   A then B in both threads
 *   trylock      A then B; the other takes B, then trylocks A and backs off
 *   philosophers 5 threads, each takes fork i then fork i+1 (mod 5)
 *   rwlock       rwlocks: read A then write B; write B then write A
 *   destroyed    A then B; both destroyed and re-made; then B then A
 *   stress       16 threads at once take 64 locks in one global order,
 *                10^6 acquisitions in all
 *   fifo         20 locks taken in order and released first-taken first,
 *                twice; then the last two in order: nothing to report
 *   recursive    recursive mutex A, then B, then A again: no cycle
 *   fresh        the abba pair made 3 times, each time with 2 new heap
 *                mutexes (the old ones stay alive): one code path, so
 *                one record
 *   churn        50000 heap mutexes, each made, taken under A, destroyed
 *                (more than the graph holds at once); then the abba pair:
 *                reported, so destroyed locks did leave the graph
 *   kinds        each untimed lock's results, which the program checks
 *                itself (exit 1 and a line on stderr when one differs):
 *                error-checking, recursive and robust mutexes (an owner
 *                that died, consistent or not), an rwlock relocked by its
 *                writer, a busy lock waited for, C11 mutexes
 *   wait LOG     B then A; then main holds B while a thread takes A and
 *                waits for B: the inversion must be in LOG (the preload's
 *                log) while that thread still waits; exit 1 if it is not
 *                there within 5 s (then main lets the thread go) */
#include <errno.h>
#include <threads.h>
#include <unistd.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_mutex_t a = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t b = PTHREAD_MUTEX_INITIALIZER;
static pthread_rwlock_t ra = PTHREAD_RWLOCK_INITIALIZER;
static pthread_rwlock_t rb = PTHREAD_RWLOCK_INITIALIZER;

static void run(void *(*fn)(void *), void *arg)
{
    pthread_t t;
    if (pthread_create(&t, NULL, fn, arg) != 0)
        exit(3);
    pthread_join(t, NULL);
}

__attribute__((noinline)) static void *a_then_b(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&a);
    pthread_mutex_lock(&b);
    pthread_mutex_unlock(&b);
    pthread_mutex_unlock(&a);
    return NULL;
}

__attribute__((noinline)) static void *b_then_a(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&b);
    pthread_mutex_lock(&a);
    pthread_mutex_unlock(&a);
    pthread_mutex_unlock(&b);
    return NULL;
}

/* The abba pair on locks given by the caller (pair[0], pair[1]). */
__attribute__((noinline)) static void *pair_first_then_second(void *arg)
{
    pthread_mutex_t *pair = arg;
    pthread_mutex_lock(&pair[0]);
    pthread_mutex_lock(&pair[1]);
    pthread_mutex_unlock(&pair[1]);
    pthread_mutex_unlock(&pair[0]);
    return NULL;
}

__attribute__((noinline)) static void *pair_second_then_first(void *arg)
{
    pthread_mutex_t *pair = arg;
    pthread_mutex_lock(&pair[1]);
    pthread_mutex_lock(&pair[0]);
    pthread_mutex_unlock(&pair[0]);
    pthread_mutex_unlock(&pair[1]);
    return NULL;
}

__attribute__((noinline)) static void *b_then_try_a(void *arg)
{
    (void)arg;
    for (;;) {
        pthread_mutex_lock(&b);
        if (pthread_mutex_trylock(&a) == 0) {
            pthread_mutex_unlock(&a);
            pthread_mutex_unlock(&b);
            return NULL;
        }
        pthread_mutex_unlock(&b);
    }
}

static pthread_mutex_t forks[5];

__attribute__((noinline)) static void *philosopher(void *arg)
{
    int i = (int)(intptr_t)arg;
    pthread_mutex_lock(&forks[i]);
    pthread_mutex_lock(&forks[(i + 1) % 5]);
    pthread_mutex_unlock(&forks[(i + 1) % 5]);
    pthread_mutex_unlock(&forks[i]);
    return NULL;
}

__attribute__((noinline)) static void *read_a_write_b(void *arg)
{
    (void)arg;
    pthread_rwlock_rdlock(&ra);
    pthread_rwlock_wrlock(&rb);
    pthread_rwlock_unlock(&rb);
    pthread_rwlock_unlock(&ra);
    return NULL;
}

__attribute__((noinline)) static void *write_b_write_a(void *arg)
{
    (void)arg;
    pthread_rwlock_wrlock(&rb);
    pthread_rwlock_wrlock(&ra);
    pthread_rwlock_unlock(&ra);
    pthread_rwlock_unlock(&rb);
    return NULL;
}

#define NLOCKS 64
#define NTHREADS 16
#define TOTAL 1000000
static pthread_mutex_t many[NLOCKS];

static void *ordered(void *arg)
{
    unsigned seed = (unsigned)(intptr_t)arg;
    /* Each round takes an increasing run of locks, so every thread obeys
     * the one order of the array. */
    for (int done = 0; done < TOTAL / NTHREADS;) {
        int first = (int)(rand_r(&seed) % NLOCKS);
        int n = 1 + (int)(rand_r(&seed) % 4);
        int idx[4], k = 0;
        for (int i = first; i < NLOCKS && k < n; i += 1 + (int)(rand_r(&seed) % 8))
            idx[k++] = i;
        for (int i = 0; i < k; i++)
            pthread_mutex_lock(&many[idx[i]]);
        for (int i = k; i-- > 0;)
            pthread_mutex_unlock(&many[idx[i]]);
        done += k;
    }
    return NULL;
}

static void *fifo(void *arg)
{
    (void)arg;
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 20; i++)
            pthread_mutex_lock(&many[i]);
        for (int i = 0; i < 20; i++)
            pthread_mutex_unlock(&many[i]);
    }
    pthread_mutex_lock(&many[18]);
    pthread_mutex_lock(&many[19]);
    pthread_mutex_unlock(&many[19]);
    pthread_mutex_unlock(&many[18]);
    return NULL;
}

static pthread_mutex_t rec;

static void *recursive(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&rec);
    pthread_mutex_lock(&b);
    pthread_mutex_lock(&rec);
    pthread_mutex_unlock(&rec);
    pthread_mutex_unlock(&b);
    pthread_mutex_unlock(&rec);
    return NULL;
}

/* kinds: each call's result against what POSIX and glibc answer. */
static int kinds_bad;

static void want(const char *what, int got, int expected)
{
    if (got != expected) {
        fprintf(stderr, "kinds: %s returned %d, expected %d\n", what, got,
                expected);
        kinds_bad = 1;
    }
}

static void *lock_and_die(void *m)
{
    want("robust lock in the owner", pthread_mutex_lock(m), 0);
    return NULL;              /* exits holding it */
}

static void *hold_a_while(void *m)
{
    want("lock in the holder", pthread_mutex_lock(m), 0);
    usleep(50000);
    want("unlock in the holder", pthread_mutex_unlock(m), 0);
    return NULL;
}

static void kinds(void)
{
    pthread_mutexattr_t at;
    pthread_mutex_t m;

    pthread_mutexattr_init(&at);
    pthread_mutexattr_settype(&at, PTHREAD_MUTEX_ERRORCHECK);
    pthread_mutex_init(&m, &at);
    want("errorcheck lock", pthread_mutex_lock(&m), 0);
    want("errorcheck relock", pthread_mutex_lock(&m), EDEADLK);
    want("errorcheck unlock", pthread_mutex_unlock(&m), 0);
    want("errorcheck unlock again", pthread_mutex_unlock(&m), EPERM);
    pthread_mutex_destroy(&m);

    pthread_mutexattr_settype(&at, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&m, &at);
    want("recursive lock", pthread_mutex_lock(&m), 0);
    want("recursive relock", pthread_mutex_lock(&m), 0);
    want("recursive trylock", pthread_mutex_trylock(&m), 0);
    for (int i = 0; i < 3; i++)
        want("recursive unlock", pthread_mutex_unlock(&m), 0);
    want("recursive unlock once more", pthread_mutex_unlock(&m), EPERM);
    pthread_mutex_destroy(&m);

    /* Robust: the owner exits holding it. Made consistent, it is a mutex
     * again; left inconsistent, it is not recoverable. */
    pthread_mutexattr_settype(&at, PTHREAD_MUTEX_NORMAL);
    pthread_mutexattr_setrobust(&at, PTHREAD_MUTEX_ROBUST);
    for (int consistent = 1; consistent >= 0; consistent--) {
        pthread_mutex_init(&m, &at);
        run(lock_and_die, &m);
        want("robust lock after the owner died", pthread_mutex_lock(&m),
             EOWNERDEAD);
        if (consistent) {
            want("consistent", pthread_mutex_consistent(&m), 0);
            want("robust unlock", pthread_mutex_unlock(&m), 0);
            want("robust lock again", pthread_mutex_lock(&m), 0);
            want("robust unlock again", pthread_mutex_unlock(&m), 0);
        } else {
            want("robust unlock, inconsistent", pthread_mutex_unlock(&m), 0);
            want("robust lock, not recoverable", pthread_mutex_lock(&m),
                 ENOTRECOVERABLE);
        }
        pthread_mutex_destroy(&m);
    }
    pthread_mutexattr_destroy(&at);

    /* A busy lock: the real lock waits for the holder. */
    pthread_mutex_t busy = PTHREAD_MUTEX_INITIALIZER;
    pthread_t t;
    pthread_create(&t, NULL, hold_a_while, &busy);
    while (pthread_mutex_trylock(&busy) == 0) {   /* until the holder has it */
        pthread_mutex_unlock(&busy);
        usleep(1000);
    }
    want("lock of a busy mutex", pthread_mutex_lock(&busy), 0);
    want("unlock of it", pthread_mutex_unlock(&busy), 0);
    pthread_join(t, NULL);

    pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
    want("rwlock wrlock", pthread_rwlock_wrlock(&rw), 0);
    want("rwlock rdlock by its writer", pthread_rwlock_rdlock(&rw), EDEADLK);
    want("rwlock wrlock by its writer", pthread_rwlock_wrlock(&rw), EDEADLK);
    want("rwlock unlock", pthread_rwlock_unlock(&rw), 0);
    want("rwlock rdlock", pthread_rwlock_rdlock(&rw), 0);
    want("rwlock second rdlock", pthread_rwlock_rdlock(&rw), 0);
    want("rwlock trywrlock while read", pthread_rwlock_trywrlock(&rw), EBUSY);
    want("rwlock unlock", pthread_rwlock_unlock(&rw), 0);
    want("rwlock unlock", pthread_rwlock_unlock(&rw), 0);

    mtx_t c;
    want("mtx_init recursive", mtx_init(&c, mtx_plain | mtx_recursive),
         thrd_success);
    want("mtx_lock", mtx_lock(&c), thrd_success);
    want("mtx_lock again", mtx_lock(&c), thrd_success);
    want("mtx_unlock", mtx_unlock(&c), thrd_success);
    want("mtx_unlock", mtx_unlock(&c), thrd_success);
    mtx_destroy(&c);
}

/* Whether the file at path holds s. */
static int file_has(const char *path, const char *s)
{
    char buf[8192];
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return strstr(buf, s) != NULL;
}

int main(int argc, char **argv)
{
    if (argc != 2 && !(argc == 3 && !strcmp(argv[1], "wait")))
        return 2;
    const char *mode = argv[1];
    if (!strcmp(mode, "wait")) {
        run(b_then_a, NULL);
        pthread_mutex_lock(&b);
        pthread_t t;
        if (pthread_create(&t, NULL, a_then_b, NULL) != 0)
            return 3;
        int seen = 0;
        for (int i = 0; i < 500 && !seen; i++) {
            usleep(10000);
            seen = file_has(argv[2], "lock_order_inversion");
        }
        pthread_mutex_unlock(&b);
        pthread_join(t, NULL);
        if (!seen) {
            fprintf(stderr, "wait: no inversion in %s while the thread "
                            "waited for B\n", argv[2]);
            return 1;
        }
    } else if (!strcmp(mode, "abba")) {
        for (int i = 0; i < 2; i++) {
            run(a_then_b, NULL);
            run(b_then_a, NULL);
        }
    } else if (!strcmp(mode, "consistent")) {
        run(a_then_b, NULL);
        run(a_then_b, NULL);
    } else if (!strcmp(mode, "trylock")) {
        run(a_then_b, NULL);
        run(b_then_try_a, NULL);
    } else if (!strcmp(mode, "philosophers")) {
        for (int i = 0; i < 5; i++)
            pthread_mutex_init(&forks[i], NULL);
        for (int i = 0; i < 5; i++)
            run(philosopher, (void *)(intptr_t)i);
    } else if (!strcmp(mode, "rwlock")) {
        run(read_a_write_b, NULL);
        run(write_b_write_a, NULL);
    } else if (!strcmp(mode, "destroyed")) {
        run(a_then_b, NULL);
        pthread_mutex_destroy(&a);
        pthread_mutex_destroy(&b);
        pthread_mutex_init(&a, NULL);
        pthread_mutex_init(&b, NULL);
        run(b_then_a, NULL);
    } else if (!strcmp(mode, "fifo")) {
        for (int i = 0; i < NLOCKS; i++)
            pthread_mutex_init(&many[i], NULL);
        run(fifo, NULL);
        run(fifo, NULL);
    } else if (!strcmp(mode, "recursive")) {
        pthread_mutexattr_t at;
        pthread_mutexattr_init(&at);
        pthread_mutexattr_settype(&at, PTHREAD_MUTEX_RECURSIVE);
        pthread_mutex_init(&rec, &at);
        run(recursive, NULL);
        run(recursive, NULL);
    } else if (!strcmp(mode, "fresh")) {
        for (int i = 0; i < 3; i++) {
            pthread_mutex_t *pair = malloc(2 * sizeof *pair);
            if (!pair)
                return 3;
            pthread_mutex_init(&pair[0], NULL);
            pthread_mutex_init(&pair[1], NULL);
            run(pair_first_then_second, pair);
            run(pair_second_then_first, pair);
        }
    } else if (!strcmp(mode, "churn")) {
        for (int i = 0; i < 50000; i++) {
            pthread_mutex_t *m = malloc(sizeof *m);
            pthread_mutex_init(m, NULL);
            pthread_mutex_lock(&a);
            pthread_mutex_lock(m);
            pthread_mutex_unlock(m);
            pthread_mutex_unlock(&a);
            pthread_mutex_destroy(m);
            free(m);
        }
        run(a_then_b, NULL);
        run(b_then_a, NULL);
    } else if (!strcmp(mode, "kinds")) {
        kinds();
        if (kinds_bad)
            return 1;
    } else if (!strcmp(mode, "stress")) {
        pthread_t t[NTHREADS];
        for (int i = 0; i < NLOCKS; i++)
            pthread_mutex_init(&many[i], NULL);
        for (int i = 0; i < NTHREADS; i++)
            pthread_create(&t[i], NULL, ordered, (void *)(intptr_t)(i + 1));
        for (int i = 0; i < NTHREADS; i++)
            pthread_join(t[i], NULL);
    } else {
        return 2;
    }
    printf("done\n");
    return 0;
}

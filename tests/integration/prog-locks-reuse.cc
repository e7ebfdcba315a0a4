/* Locks whose memory dies and is reused at the same address for another
 * lock, taken in the other order: two locks never alive at once, so no
 * lock-order inversion (test-lock-lifetimes.sh). Each mode prints
 * "reused 1" when the second lock did get the first one's address (else
 * the case proves nothing, and the test says so), then "done".
 *   cxx        a std::mutex member of a heap object, with a global
 *              std::mutex, in one order; delete; a new object, the other
 *              order (the shape of issue 16's reuse.cc)
 *   destroy    a pthread mutex and a rwlock destroyed, then made again by
 *              their static initialisers (no init call, no free)
 *   init       a pthread mutex and a rwlock initialised again
 *   munmap     a mutex in an mmap'ed page, unmapped, mapped again there
 *   realloc    a mutex in a block that realloc moves away; a new block
 *   big        mutexes across a 64 KiB block (thousands of granules, in
 *              many words of the graph's bits), freed; the same block
 *              again, mutexes at the same places
 *   held       a mutex freed while its thread holds it, that thread then
 *              taking another lock; a new mutex at its address, taken
 *              under that other lock
 *   live       a true inversion between two live std::mutex objects, with
 *              blocks freed all around them in between; then the same on
 *              new objects: reported once */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <mutex>
#include <thread>

static std::mutex G;
static pthread_mutex_t A = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t B = PTHREAD_MUTEX_INITIALIZER;
static pthread_rwlock_t RA = PTHREAD_RWLOCK_INITIALIZER;

struct Obj {
    std::mutex m;
    int x;
};

/* Addresses are kept as numbers: the first object is gone by then. */
static void reused(uintptr_t first, uintptr_t second)
{
    printf("reused %d\n", first == second);
}

/* The two orders of a pair, each from one code path. */
__attribute__((noinline)) static void mutex_then_a(pthread_mutex_t *m)
{
    pthread_mutex_lock(m);
    pthread_mutex_lock(&A);
    pthread_mutex_unlock(&A);
    pthread_mutex_unlock(m);
}

__attribute__((noinline)) static void a_then_mutex(pthread_mutex_t *m)
{
    pthread_mutex_lock(&A);
    pthread_mutex_lock(m);
    pthread_mutex_unlock(m);
    pthread_mutex_unlock(&A);
}

__attribute__((noinline)) static void rw_then_a(pthread_rwlock_t *l)
{
    pthread_rwlock_wrlock(l);
    pthread_rwlock_wrlock(&RA);
    pthread_rwlock_unlock(&RA);
    pthread_rwlock_unlock(l);
}

__attribute__((noinline)) static void a_then_rw(pthread_rwlock_t *l)
{
    pthread_rwlock_wrlock(&RA);
    pthread_rwlock_wrlock(l);
    pthread_rwlock_unlock(l);
    pthread_rwlock_unlock(&RA);
}

__attribute__((noinline)) static uintptr_t obj_then_g()
{
    Obj *o = new Obj;
    {
        std::lock_guard<std::mutex> a(o->m);
        std::lock_guard<std::mutex> g(G);
    }
    uintptr_t at = (uintptr_t)o;
    delete o;
    return at;
}

__attribute__((noinline)) static uintptr_t g_then_obj()
{
    Obj *o = new Obj;
    {
        std::lock_guard<std::mutex> g(G);
        std::lock_guard<std::mutex> a(o->m);
    }
    uintptr_t at = (uintptr_t)o;
    delete o;
    return at;
}

__attribute__((noinline)) static void x_then_y(Obj *x, Obj *y)
{
    std::lock_guard<std::mutex> a(x->m);
    std::lock_guard<std::mutex> b(y->m);
}

#define NPAD 64

static size_t pad_size(int i, int round)
{
    return (size_t)(8 + (i * 40 + round) % 2000);
}

/* Blocks of many sizes made and freed around live locks, in the room
 * freed between them (so free() has to look): none holds a lock, so none
 * may take one out of the graph. */
static void churn_heap()
{
    void *keep[NPAD];
    for (int round = 0; round < 200; round++) {
        for (int i = 0; i < NPAD; i++)
            keep[i] = malloc(pad_size(i, round));
        for (int i = 0; i < NPAD; i++)
            free(keep[(i * 7) % NPAD]);
    }
}

static void live_inversion()
{
    void *pad[NPAD];
    Obj *x = new Obj;
    for (int i = 0; i < NPAD; i++)
        pad[i] = malloc(pad_size(i, 0));
    Obj *y = new Obj;
    for (int i = 0; i < NPAD; i++)
        free(pad[i]);
    std::thread(x_then_y, x, y).join();
    churn_heap();
    std::thread(x_then_y, y, x).join();
    delete x;
    delete y;
}

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    const char *mode = argv[1];
    if (!strcmp(mode, "cxx")) {
        uintptr_t first = obj_then_g();
        reused(first, g_then_obj());
    } else if (!strcmp(mode, "destroy")) {
        pthread_mutex_t *m = (pthread_mutex_t *)malloc(sizeof *m);
        pthread_rwlock_t *l = (pthread_rwlock_t *)malloc(sizeof *l);
        if (!m || !l)
            return 3;
        pthread_mutex_init(m, NULL);
        pthread_rwlock_init(l, NULL);
        mutex_then_a(m);
        rw_then_a(l);
        pthread_mutex_destroy(m);
        pthread_rwlock_destroy(l);
        *m = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER;
        *l = (pthread_rwlock_t)PTHREAD_RWLOCK_INITIALIZER;
        a_then_mutex(m);
        a_then_rw(l);
        reused(1, 1);
    } else if (!strcmp(mode, "init")) {
        static pthread_mutex_t m;
        static pthread_rwlock_t l;
        pthread_mutex_init(&m, NULL);
        pthread_rwlock_init(&l, NULL);
        mutex_then_a(&m);
        rw_then_a(&l);
        pthread_mutex_init(&m, NULL);
        pthread_rwlock_init(&l, NULL);
        a_then_mutex(&m);
        a_then_rw(&l);
        reused(1, 1);
    } else if (!strcmp(mode, "munmap")) {
        size_t len = 4096;
        char *p = (char *)mmap(NULL, len, PROT_READ | PROT_WRITE,
                               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
            return 3;
        /* Zeroed memory is an unlocked default mutex. */
        pthread_mutex_t *m = (pthread_mutex_t *)(p + 256);
        mutex_then_a(m);
        if (munmap(p, len) != 0)
            return 3;
        char *q = (char *)mmap(p, len, PROT_READ | PROT_WRITE,
                               MAP_PRIVATE | MAP_ANONYMOUS |
                                   MAP_FIXED_NOREPLACE, -1, 0);
        if (q == MAP_FAILED)
            return 3;
        a_then_mutex((pthread_mutex_t *)(q + 256));
        reused((uintptr_t)p, (uintptr_t)q);
        munmap(q, len);
    } else if (!strcmp(mode, "realloc")) {
        char *p = (char *)malloc(64);
        char *guard = (char *)malloc(64);   /* p cannot grow in place */
        if (!p || !guard)
            return 3;
        /* Not memset: gcc makes malloc + memset a calloc, which glibc
         * serves from elsewhere. */
        *(pthread_mutex_t *)p = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER;
        mutex_then_a((pthread_mutex_t *)p);
        uintptr_t first = (uintptr_t)p;
        char *q = (char *)realloc(p, (size_t)1 << 20);
        char *r = (char *)malloc(64);
        if (!q || !r)
            return 3;
        *(pthread_mutex_t *)r = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER;
        a_then_mutex((pthread_mutex_t *)r);
        reused(first, (uintptr_t)r);
        free(r);
        free(q);
        free(guard);
    } else if (!strcmp(mode, "big")) {
        /* Offsets in different words of bits, at a word's edge (1024 B =
         * 64 granules) and at the block's end. */
        static const size_t at[] = {0, 1008, 1024, 33000 & ~7u, 65536 - 48};
        const size_t len = 65536;
        auto take = [](char *b, void (*order)(pthread_mutex_t *)) {
            for (size_t o : at) {
                *(pthread_mutex_t *)(b + o) =
                    (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER;
                order((pthread_mutex_t *)(b + o));
            }
        };
        char *p = (char *)malloc(len);
        if (!p)
            return 3;
        take(p, mutex_then_a);
        uintptr_t first = (uintptr_t)p;
        free(p);
        char *q = (char *)malloc(len);
        if (!q)
            return 3;
        take(q, a_then_mutex);
        reused(first, (uintptr_t)q);
        free(q);
    } else if (!strcmp(mode, "held")) {
        pthread_mutex_t *m = (pthread_mutex_t *)malloc(sizeof *m);
        if (!m)
            return 3;
        *m = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER;
        pthread_mutex_lock(&A);
        pthread_mutex_lock(m);     /* A -> m: m is in the graph */
        pthread_mutex_unlock(&A);
        uintptr_t first = (uintptr_t)m;
        free(m);                   /* still locked: no unlock will come */
        pthread_mutex_lock(&B);
        pthread_mutex_unlock(&B);
        pthread_mutex_t *n = (pthread_mutex_t *)malloc(sizeof *n);
        if (!n)
            return 3;
        *n = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER;
        std::thread([n] {
            pthread_mutex_lock(&B);
            pthread_mutex_lock(n);
            pthread_mutex_unlock(n);
            pthread_mutex_unlock(&B);
        }).join();
        reused(first, (uintptr_t)n);
        free(n);
    } else if (!strcmp(mode, "live")) {
        live_inversion();
        live_inversion();
        reused(1, 1);
    } else {
        return 2;
    }
    printf("done\n");
    return 0;
}

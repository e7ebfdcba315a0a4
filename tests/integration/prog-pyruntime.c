/* A process that exports _PyRuntime, as CPython's interpreter does, with
 * two mutexes inside it (CPython's GIL mutex and switch mutex live there):
 * the lock wrappers forward those untouched (lg__lock_runtime_own), so
 * taking them in both orders with a mutex of the program's adds no edge,
 * while the program's own AB-BA pair after them is still reported, once:
 * a lock and its unlock agreed, and nothing was left in the held records.
 * Threads run one after the other. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

struct runtime {
    char before[64];
    pthread_mutex_t gil, sw;
    char after[64];
};
__attribute__((visibility("default"))) struct runtime _PyRuntime = {
    .gil = PTHREAD_MUTEX_INITIALIZER, .sw = PTHREAD_MUTEX_INITIALIZER};

static pthread_mutex_t a = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t b = PTHREAD_MUTEX_INITIALIZER;

static void run(void *(*fn)(void *))
{
    pthread_t t;
    if (pthread_create(&t, NULL, fn, NULL) != 0)
        exit(3);
    pthread_join(t, NULL);
}

/* Takes the locks in order, then drops them in reverse. */
__attribute__((noinline)) static void nest(pthread_mutex_t *const *l, int n)
{
    for (int i = 0; i < n; i++)
        pthread_mutex_lock(l[i]);
    for (int i = n - 1; i >= 0; i--)
        pthread_mutex_unlock(l[i]);
}

static void *gil_then_a(void *arg)
{
    (void)arg;
    pthread_mutex_t *l[] = {&_PyRuntime.gil, &_PyRuntime.sw, &a};
    nest(l, 3);
    return NULL;
}

static void *a_then_gil(void *arg)
{
    (void)arg;
    pthread_mutex_t *l[] = {&a, &_PyRuntime.sw, &_PyRuntime.gil};
    nest(l, 3);
    return NULL;
}

__attribute__((noinline)) static void *a_then_b(void *arg)
{
    (void)arg;
    pthread_mutex_t *l[] = {&a, &b};
    nest(l, 2);
    return NULL;
}

__attribute__((noinline)) static void *b_then_a(void *arg)
{
    (void)arg;
    pthread_mutex_t *l[] = {&b, &a};
    nest(l, 2);
    return NULL;
}

int main(void)
{
    run(gil_then_a);
    run(a_then_gil);
    run(a_then_b);
    run(b_then_a);
    printf("done\n");
    return 0;
}

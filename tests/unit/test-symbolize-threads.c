/* lg__symbolize from many threads at once, starting with cold module
 * tables so the threads race to build them: every thread must see the
 * answers one thread sees alone afterwards. */
#include <dlfcn.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>

#include <cmocka.h>

#include "lg-internal.h"

#define NTHREADS 8
#define ROUNDS 300
#define NPCS 7

static uintptr_t pcs[NPCS];
static struct lg__sym seen[NTHREADS][NPCS];  /* each thread's first look */
static int mismatches[NTHREADS];
static pthread_barrier_t start;
static void *main_return;        /* libc's static __libc_start_call_main */

static __attribute__((noinline, noclone, used)) int static_one(int x)
{
    __asm__ volatile("" : "+r"(x));
    return x + 1;
}

static __attribute__((noinline, noclone, used)) int static_two(int x)
{
    __asm__ volatile("" : "+r"(x));
    return x + 2;
}

static int same_str(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

static int same(const struct lg__sym *a, const struct lg__sym *b)
{
    return a->pc == b->pc && a->modoff == b->modoff
           && a->symoff == b->symoff && same_str(a->module, b->module)
           && same_str(a->name, b->name);
}

static void *worker(void *arg)
{
    int id = (int)(intptr_t)arg;
    struct lg__sym s;
    pthread_barrier_wait(&start);
    for (int r = 0; r < ROUNDS; r++) {
        for (int i = 0; i < NPCS; i++) {
            /* Each thread walks the list from a different place. */
            int k = (i + id) % NPCS;
            lg__symbolize(pcs[k], 1, &s);
            if (r == 0)
                seen[id][k] = s;
            else if (!same(&s, &seen[id][k]))
                mismatches[id]++;
        }
    }
    return NULL;
}

static void test_symbolize_threads(void **state)
{
    (void)state;
    void *libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
    assert_non_null(libc);
    void *anon = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS,
                      -1, 0);
    assert_true(anon != MAP_FAILED);
    pcs[0] = (uintptr_t)dlsym(libc, "read") + 5;
    pcs[1] = (uintptr_t)&static_one + 2;
    pcs[2] = (uintptr_t)&static_two + 2;
    pcs[3] = (uintptr_t)dlsym(libc, "nanosleep") + 3;
    pcs[4] = (uintptr_t)&_cmocka_run_group_tests + 3;
    pcs[5] = (uintptr_t)anon + 9;
    pcs[6] = (uintptr_t)main_return;

    pthread_t t[NTHREADS];
    pthread_barrier_init(&start, NULL, NTHREADS);
    for (int i = 0; i < NTHREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, worker,
                                        (void *)(intptr_t)i), 0);
    for (int i = 0; i < NTHREADS; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    pthread_barrier_destroy(&start);

    for (int k = 0; k < NPCS; k++) {
        struct lg__sym ref;
        lg__symbolize(pcs[k], 1, &ref);
        for (int i = 0; i < NTHREADS; i++)
            assert_true(same(&seen[i][k], &ref));
    }
    for (int i = 0; i < NTHREADS; i++)
        assert_int_equal(mismatches[i], 0);
    assert_string_equal(seen[0][0].name, "read");
    assert_string_equal(seen[0][1].name, "static_one");
    assert_string_equal(seen[0][2].name, "static_two");
    assert_string_equal(seen[0][3].name, "nanosleep");
    assert_string_equal(seen[0][4].name, "_cmocka_run_group_tests");
    assert_null(seen[0][5].name);
    assert_null(seen[0][5].module);
    munmap(anon, 4096);
    dlclose(libc);
}

int main(void)
{
    main_return = __builtin_return_address(0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_symbolize_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

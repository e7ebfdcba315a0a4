/* Loop marks (src/loop-api.c over src/registry.c): lg_loop_enter/leave
 * nesting and its limits, the innermost mark with its entry stack, and the
 * registry's per-thread records, which live exactly as long as a thread
 * that has entered a loop. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "lg-internal.h"

#define NTHREADS 50

static int loop_a, loop_b; /* addresses used as loop ids */

/* Enters from a known function: the mark's stack must start here, and the
 * next frame is this function's return address into the caller. The store
 * after the call keeps it from being a tail call. */
static __attribute__((noinline, noclone)) int
enter_here(const char *kind, const void *id, void **ret)
{
    volatile int rc = lg_loop_enter(kind, id);
    *ret = __builtin_return_address(0);
    return rc;
}

static void test_registry_loop_nesting(void **state)
{
    (void)state;
    assert_int_equal(lg_thread_is_loop(), 0);
    assert_int_equal(lg_loop_leave(), -EINVAL);
    assert_int_equal(lg_thread_is_loop(), 0);
    assert_int_equal(lg_loop_enter("libuv", &loop_a), 0);
    assert_int_equal(lg_thread_is_loop(), 1);
    assert_int_equal(lg_loop_enter("libuv", &loop_b), 0);
    assert_int_equal(lg_thread_is_loop(), 1);
    assert_int_equal(lg_loop_leave(), 0);
    assert_int_equal(lg_thread_is_loop(), 1);
    assert_int_equal(lg_loop_leave(), 0);
    assert_int_equal(lg_thread_is_loop(), 0);
    assert_int_equal(lg_loop_leave(), -EINVAL);
    /* A failed leave must not underflow the depth into "on a loop". */
    assert_int_equal(lg_thread_is_loop(), 0);
    assert_int_equal(lg__tls.depth, 0);
    assert_null(lg__loop_current());
}

static void test_registry_loop_overflow(void **state)
{
    (void)state;
    for (int i = 0; i < 255; i++)
        assert_int_equal(lg_loop_enter("epoll", (void *)(uintptr_t)(i + 1)), 0);
    assert_int_equal(lg_loop_enter("epoll", &loop_a), -EOVERFLOW);
    assert_int_equal(lg_loop_enter(NULL, NULL), -EOVERFLOW);
    assert_int_equal(lg__tls.depth, 255);
    /* Deeper than LG__MAX_NEST: the deepest recorded mark stands in. */
    const struct lg__loop_mark *m = lg__loop_current();
    assert_non_null(m);
    assert_ptr_equal(m->id, (void *)(uintptr_t)LG__MAX_NEST);
    for (int i = 0; i < 255; i++) {
        assert_int_equal(lg_thread_is_loop(), 1);
        assert_int_equal(lg_loop_leave(), 0);
    }
    assert_int_equal(lg_thread_is_loop(), 0);
    assert_int_equal(lg_loop_leave(), -EINVAL);
    /* The failed enters took no mark: the count is back to zero, and the
     * thread can nest again from the start. */
    assert_int_equal(lg_loop_enter("epoll", &loop_b), 0);
    assert_ptr_equal(lg__loop_current()->id, &loop_b);
    assert_int_equal(lg_loop_leave(), 0);
}

static void test_registry_loop_current(void **state)
{
    (void)state;
    void *ret;
    assert_null(lg__loop_current());
    assert_int_equal(enter_here("libuv", &loop_a, &ret), 0);
    const struct lg__loop_mark *m = lg__loop_current();
    assert_non_null(m);
    assert_int_equal(m->kind, LG__LOOP_LIBUV);
    assert_int_equal(m->via, LG__VIA_API);
    assert_ptr_equal(m->id, &loop_a);
    assert_null(m->runner);
    /* libunwind is loaded on first capture; loopguard's own frames are
     * left out, so the stack starts in the function that entered. */
    assert_true(m->nframes > 1 && m->nframes <= LG__MAX_FRAMES);
    struct lg__sym s;
    lg__symbolize((uintptr_t)m->frames[0], 1, &s);
    assert_non_null(s.name);
    assert_string_equal(s.name, "enter_here");
    assert_ptr_equal(m->frames[1], ret);
    for (int i = 0; i < m->nframes; i++)
        assert_false(lg__pc_is_ours((uintptr_t)m->frames[i]));

    /* The innermost mark wins, and leaving uncovers the outer one. */
    assert_int_equal(lg_loop_enter("epoll", &loop_b), 0);
    m = lg__loop_current();
    assert_int_equal(m->kind, LG__LOOP_EPOLL);
    assert_ptr_equal(m->id, &loop_b);
    assert_int_equal(lg_loop_leave(), 0);
    m = lg__loop_current();
    assert_int_equal(m->kind, LG__LOOP_LIBUV);
    assert_ptr_equal(m->id, &loop_a);
    assert_int_equal(lg_loop_leave(), 0);
    assert_null(lg__loop_current());
}

static void test_registry_loop_kinds(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        int kind;
    } k[] = {
        {"libuv", LG__LOOP_LIBUV},       {"epoll", LG__LOOP_EPOLL},
        {"libevent", LG__LOOP_LIBEVENT}, {"libev", LG__LOOP_LIBEV},
        {"glib", LG__LOOP_GLIB},         {"tokio", LG__LOOP_TOKIO},
        {"manual", LG__LOOP_MANUAL},     {NULL, LG__LOOP_MANUAL},
        {"", LG__LOOP_MANUAL},           {"bogus", LG__LOOP_MANUAL},
        {"libuvx", LG__LOOP_MANUAL},     {"libu", LG__LOOP_MANUAL},
    };
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) {
        /* A distinct id each time, so no earlier mark is reused. */
        assert_int_equal(lg_loop_enter(k[i].name, &k[i]), 0);
        const struct lg__loop_mark *m = lg__loop_current();
        assert_non_null(m);
        assert_int_equal(m->kind, k[i].kind);
        assert_int_equal(m->via, LG__VIA_API);
        assert_ptr_equal(m->id, &k[i]);
        assert_string_equal(lg__loop_kind_name(m->kind),
                            k[i].name && i < 7 ? k[i].name : "manual");
        assert_int_equal(lg_loop_leave(), 0);
    }
    /* A NULL id is allowed. */
    assert_int_equal(lg_loop_enter("glib", NULL), 0);
    assert_null(lg__loop_current()->id);
    assert_int_equal(lg_loop_leave(), 0);
}

/* ---- threads ------------------------------------------------------------ */

static pthread_barrier_t entered, release;
static int before[NTHREADS], after[NTHREADS], left[NTHREADS];
static pid_t tids[NTHREADS];
static const void *ids[NTHREADS];

static void *loop_thread(void *arg)
{
    int i = (int)(intptr_t)arg;
    /* Other threads' marks are theirs: this one is not on a loop yet. */
    before[i] = lg_thread_is_loop() + 2 * lg__tls.depth;
    lg_loop_enter("libuv", &ids[i]);
    after[i] = lg_thread_is_loop();
    const struct lg__loop_mark *m = lg__loop_current();
    ids[i] = m ? m->id : NULL;
    tids[i] = lg__gettid();
    pthread_barrier_wait(&entered);
    pthread_barrier_wait(&release);
    /* Odd threads exit still inside their loop: the record goes anyway. */
    if (i % 2 == 0)
        left[i] = lg_loop_leave() == 0 && !lg_thread_is_loop();
    else
        left[i] = 1;
    return NULL;
}

static void run_threads(int n)
{
    pthread_t t[NTHREADS];
    unsigned base = lg__registry_count();
    assert_int_equal(pthread_barrier_init(&entered, NULL, n + 1), 0);
    assert_int_equal(pthread_barrier_init(&release, NULL, n + 1), 0);
    for (int i = 0; i < n; i++)
        assert_int_equal(
            pthread_create(&t[i], NULL, loop_thread, (void *)(intptr_t)i), 0);
    pthread_barrier_wait(&entered);
    /* Every thread is alive and has entered once: one record each. */
    assert_int_equal(lg__registry_count(), base + (unsigned)n);
    assert_int_equal(lg_thread_is_loop(), 0);
    assert_null(lg__loop_current());
    pthread_barrier_wait(&release);
    for (int i = 0; i < n; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    /* Joined threads ran their key destructors: records are gone. */
    assert_int_equal(lg__registry_count(), base);
    for (int i = 0; i < n; i++) {
        assert_int_equal(before[i], 0);
        assert_int_equal(after[i], 1);
        assert_int_equal(left[i], 1);
        assert_ptr_equal(ids[i], &ids[i]);
        assert_true(tids[i] > 0 && tids[i] != getpid());
        for (int k = 0; k < i; k++)
            assert_int_not_equal(tids[k], tids[i]);
    }
    pthread_barrier_destroy(&entered);
    pthread_barrier_destroy(&release);
}

static void *plain_thread(void *arg)
{
    (void)arg;
    return (void *)(intptr_t)lg_thread_is_loop();
}

static void test_registry_loop_threads(void **state)
{
    (void)state;
    run_threads(1);
    run_threads(NTHREADS);
    /* A thread that never enters a loop never gets a record, and this
     * thread's own mark is invisible to it. */
    unsigned base = lg__registry_count();
    assert_int_equal(lg_loop_enter("libuv", &loop_a), 0);
    pthread_t t;
    void *res;
    assert_int_equal(pthread_create(&t, NULL, plain_thread, NULL), 0);
    assert_int_equal(pthread_join(t, &res), 0);
    assert_null(res);
    assert_int_equal(lg_thread_is_loop(), 1);
    assert_int_equal(lg_loop_leave(), 0);
    /* This thread's record persists (it entered before), so the count is
     * base, or base + 1 if this was its first entry. */
    assert_in_range(lg__registry_count(), base, base + 1);
}

/* Threads do not survive fork: the child keeps its own record and marks
 * and none of the others'. */
static void test_registry_loop_fork(void **state)
{
    (void)state;
    pthread_t t[4];
    assert_int_equal(lg_loop_enter("libuv", &loop_a), 0);
    unsigned base = lg__registry_count();
    assert_int_equal(pthread_barrier_init(&entered, NULL, 5), 0);
    assert_int_equal(pthread_barrier_init(&release, NULL, 5), 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(
            pthread_create(&t[i], NULL, loop_thread, (void *)(intptr_t)i), 0);
    pthread_barrier_wait(&entered);
    assert_int_equal(lg__registry_count(), base + 4);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* cmocka's asserts must not run in the child: exit codes say
         * which check failed. */
        if (lg__registry_count() != 1)
            _exit(10 + (int)lg__registry_count());
        const struct lg__loop_mark *m = lg__loop_current();
        if (!lg_thread_is_loop() || !m || m->id != &loop_a)
            _exit(2);
        if (lg_loop_leave() != 0 || lg_thread_is_loop())
            _exit(3);
        if (lg__gettid() != getpid())
            _exit(4);
        _exit(0);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    pthread_barrier_wait(&release);
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    assert_int_equal(lg__registry_count(), base);
    assert_int_equal(lg_loop_leave(), 0);
    pthread_barrier_destroy(&entered);
    pthread_barrier_destroy(&release);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registry_loop_nesting),
        cmocka_unit_test(test_registry_loop_overflow),
        cmocka_unit_test(test_registry_loop_current),
        cmocka_unit_test(test_registry_loop_kinds),
        cmocka_unit_test(test_registry_loop_threads),
        cmocka_unit_test(test_registry_loop_fork),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Loop runners. A thread is a loop thread from the moment it enters one
 * until the runner returns, so nested and repeated runs (UV_RUN_NOWAIT in a
 * loop) each mark and unmark it. */
#include <uv.h>

#include "enter.h"
#include "real.h"

/* libuv's public functions that only wrap a blocking primitive: a call
 * through one of them is the program's, not libuv's own (ignore.c). */
static const char *const uv_thin_wrappers[] = {
    "uv_cond_wait",    "uv_cond_timedwait", "uv_sem_wait",
    "uv_thread_join",  "uv_sleep",          "uv_barrier_wait",
    "uv_rwlock_rdlock", "uv_rwlock_wrlock", "uv_mutex_lock",
    NULL,
};

static int uv_known;   /* libuv's text ranges registered (ignore.c) */

static LG__COLD void uv_learn(void)
{
    lg__tls.in_shim = 1;
    lg__ignore_library((const void *)REAL(uv_run), uv_thin_wrappers);
    __atomic_store_n(&uv_known, 1, __ATOMIC_RELEASE);
    lg__tls.in_shim = 0;
}

/* From the constructor: registers libuv when the program already has it.
 * dlsym of a missing name allocates, so the optional lookup is done here,
 * never inside a wrapper. */
void lg__preload_loops_init(void)
{
    if (lg__real_uv_run) {
        lg__ignore_library((const void *)lg__real_uv_run, uv_thin_wrappers);
        uv_known = 1;
    }
}

LG_EXPORT int uv_run(uv_loop_t *loop, uv_run_mode mode)
{
    if (LG__UNLIKELY(!__atomic_load_n(&uv_known, __ATOMIC_ACQUIRE)) &&
        !lg__tls.in_shim)
        uv_learn();
    int (*real)(uv_loop_t *, uv_run_mode) = REAL(uv_run);
    int entered = lg__loop_enter(LG__LOOP_LIBUV, LG__VIA_ENTRY, loop,
                                 (const void *)real,
                                 __builtin_return_address(0)) == 0;
    int r = real(loop, mode);
    if (entered)
        lg__loop_leave();
    return r;
}

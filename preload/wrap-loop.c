/* Loop runners. A thread is a loop thread from the moment it enters one
 * until the runner returns, so nested and repeated runs (UV_RUN_NOWAIT in a
 * loop) each mark and unmark it. */
#include <dlfcn.h>
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

/* The last libuv whose text ranges were registered (ignore.c); usually the
 * only one, but a plugin may bring its own. */
static const void *uv_known;

static LG__COLD void uv_learn(const void *real)
{
    lg__tls.in_shim = 1;
    lg__ignore_library(real, uv_thin_wrappers);
    __atomic_store_n(&uv_known, real, __ATOMIC_RELEASE);
    lg__tls.in_shim = 0;
}

/* From the constructor: registers libuv when the program already has it.
 * dlsym of a missing name allocates, so the optional lookup is done here,
 * never inside a wrapper. */
void lg__preload_loops_init(void)
{
    if (lg__real_uv_run) {
        lg__ignore_library((const void *)lg__real_uv_run, uv_thin_wrappers);
        uv_known = (const void *)lg__real_uv_run;
    }
}

/* The real uv_run when RTLD_NEXT cannot see it: a plugin dlopened with
 * RTLD_LOCAL links its own libuv, which only that plugin's scope reaches;
 * its uv_run call still binds to ours, which comes first. Looked up in the
 * caller's scope, through its own handle. */
static LG__COLD int (*uv_run_in_scope_of(void *caller))(uv_loop_t *,
                                                       uv_run_mode)
{
    Dl_info info;
    void *f = NULL;
    lg__tls.in_shim = 1;
    if (dladdr(caller, &info) && info.dli_fname) {
        void *h = dlopen(info.dli_fname, RTLD_LAZY | RTLD_NOLOAD);
        if (h) {
            f = dlsym(h, "uv_run");
            dlclose(h);
        }
    }
    lg__tls.in_shim = 0;
    return f == (void *)uv_run ? NULL : (int (*)(uv_loop_t *, uv_run_mode))f;
}

LG_EXPORT int uv_run(uv_loop_t *loop, uv_run_mode mode)
{
    int (*real)(uv_loop_t *, uv_run_mode) = lg__real_uv_run;
    if (LG__UNLIKELY(!real)) {
        real = uv_run_in_scope_of(__builtin_return_address(0));
        if (!real)
            real = REAL(uv_run);   /* nowhere to be found: says so, aborts */
    }
    if (LG__UNLIKELY(__atomic_load_n(&uv_known, __ATOMIC_ACQUIRE) !=
                     (const void *)real) &&
        !lg__tls.in_shim)
        uv_learn((const void *)real);
    int entered = lg__loop_enter(LG__LOOP_LIBUV, LG__VIA_ENTRY, loop,
                                 (const void *)real,
                                 __builtin_return_address(0)) == 0;
    int r = real(loop, mode);
    if (entered)
        lg__loop_leave();
    return r;
}

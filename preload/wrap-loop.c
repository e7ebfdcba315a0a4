/* Loop runners. A thread is a loop thread from the moment it enters one
 * until the runner returns, so nested and repeated runs (UV_RUN_NOWAIT or
 * g_main_context_iteration in a loop) each mark and unmark it. libuv,
 * libevent, libev and GLib are reached only through these wrappers: the
 * preload links none of them. */
#include <dlfcn.h>
#include <uv.h>

#include "enter.h"
#include "real.h"

/* Each library's public functions that only wrap a blocking primitive: a
 * call through one of them is the program's, not the library's own
 * (ignore.c; libuv's list, lg__uv_thin, is there too). */
static const char *const glib_thin[] = {
    "g_cond_wait",          "g_cond_wait_until",
    "g_mutex_lock",         "g_rec_mutex_lock",
    "g_rw_lock_reader_lock", "g_rw_lock_writer_lock",
    "g_thread_join",        "g_usleep",
    "g_async_queue_pop",    "g_async_queue_pop_unlocked",
    "g_async_queue_timeout_pop", "g_async_queue_timeout_pop_unlocked",
    "g_async_queue_timed_pop",   "g_async_queue_timed_pop_unlocked",
    NULL,
};
static const char *const no_thin[] = {NULL};

/* Runners whose library's text ranges were registered (ignore.c): one
 * compare per entry once learnt. A plugin may bring its own copy. */
#define MAX_KNOWN 16
static const void *known[MAX_KNOWN];
static int n_known;

static LG__COLD void learn(const void *real, const char *const *thin)
{
    lg__tls.in_shim = 1;
    lg__ignore_library(real, thin);
    int n = __atomic_load_n(&n_known, __ATOMIC_ACQUIRE);
    if (n < MAX_KNOWN) {
        known[n] = real;
        __atomic_store_n(&n_known, n + 1, __ATOMIC_RELEASE);
    }
    lg__tls.in_shim = 0;
}

static int is_known(const void *real)
{
    int n = __atomic_load_n(&n_known, __ATOMIC_ACQUIRE);
    for (int i = 0; i < n; i++)
        if (known[i] == real)
            return 1;
    return n >= MAX_KNOWN;
}

/* From the constructor: registers the loop libraries the program already
 * has. dlsym of a missing name allocates, so optional lookups happen here,
 * never inside a wrapper. */
void lg__preload_loops_init(void)
{
    static const struct {
        void **real;
        const char *const *thin;
    } runners[] = {
        {(void **)&lg__real_uv_run, lg__uv_thin},
        {(void **)&lg__real_event_base_loop, no_thin},
        {(void **)&lg__real_ev_run, no_thin},
        {(void **)&lg__real_g_main_loop_run, glib_thin},
    };
    for (size_t i = 0; i < sizeof runners / sizeof runners[0]; i++)
        if (*runners[i].real && !is_known(*runners[i].real))
            learn(*runners[i].real, runners[i].thin);
}

/* The real runner when RTLD_NEXT cannot see it: a plugin dlopened with
 * RTLD_LOCAL links its own libuv (or GLib...), which only that plugin's
 * scope reaches; its call still binds to our wrapper, which comes first.
 * Looked up in the caller's scope, through its own handle. */
LG__COLD void *lg__preload_in_scope_of(void *caller, const char *name,
                                       void *self)
{
    Dl_info info;
    void *f = NULL;
    uint8_t was = lg__tls.in_shim;
    lg__tls.in_shim = 1;
    if (dladdr(caller, &info) && info.dli_fname) {
        void *h = dlopen(info.dli_fname, RTLD_LAZY | RTLD_NOLOAD);
        if (h) {
            f = dlsym(h, name);
            dlclose(h);
        }
    }
    lg__tls.in_shim = was;
    return f == self ? NULL : f;
}

/* Marks the thread for the runner's duration. Returns 1 when it did. */
static int runner_enter(int kind, const void *id, const void *real,
                        const char *const *thin, void *caller)
{
    if (LG__UNLIKELY(!is_known(real)) && !lg__tls.in_shim)
        learn(real, thin);
    return lg__loop_enter(kind, LG__VIA_ENTRY, id, real, caller) == 0;
}

REAL_IN_SCOPE_FALLBACK(uv_run)
REAL_IN_SCOPE_FALLBACK(event_base_loop)
REAL_IN_SCOPE_FALLBACK(event_base_dispatch)
REAL_IN_SCOPE_FALLBACK(ev_run)
REAL_IN_SCOPE_FALLBACK(g_main_loop_run)
REAL_IN_SCOPE_FALLBACK(g_main_context_iteration)

LG_EXPORT int uv_run(uv_loop_t *loop, uv_run_mode mode)
{
    int (*real)(uv_loop_t *, uv_run_mode) =
        REAL_IN_SCOPE(uv_run, __builtin_return_address(0));
    int in = runner_enter(LG__LOOP_LIBUV, loop, (const void *)real,
                          lg__uv_thin, __builtin_return_address(0));
    int r = real(loop, mode);
    if (in)
        lg__loop_leave();
    return r;
}

LG_EXPORT int event_base_loop(struct event_base *base, int flags)
{
    int (*real)(struct event_base *, int) =
        REAL_IN_SCOPE(event_base_loop, __builtin_return_address(0));
    int in = runner_enter(LG__LOOP_LIBEVENT, base, (const void *)real,
                          no_thin, __builtin_return_address(0));
    int r = real(base, flags);
    if (in)
        lg__loop_leave();
    return r;
}

LG_EXPORT int event_base_dispatch(struct event_base *base)
{
    int (*real)(struct event_base *) =
        REAL_IN_SCOPE(event_base_dispatch, __builtin_return_address(0));
    int in = runner_enter(LG__LOOP_LIBEVENT, base, (const void *)real,
                          no_thin, __builtin_return_address(0));
    int r = real(base);
    if (in)
        lg__loop_leave();
    return r;
}

LG_EXPORT int ev_run(struct ev_loop *loop, int flags)
{
    int (*real)(struct ev_loop *, int) =
        REAL_IN_SCOPE(ev_run, __builtin_return_address(0));
    int in = runner_enter(LG__LOOP_LIBEV, loop, (const void *)real, no_thin,
                          __builtin_return_address(0));
    int r = real(loop, flags);
    if (in)
        lg__loop_leave();
    return r;
}

LG_EXPORT void g_main_loop_run(struct _GMainLoop *loop)
{
    void (*real)(struct _GMainLoop *) =
        REAL_IN_SCOPE(g_main_loop_run, __builtin_return_address(0));
    int in = runner_enter(LG__LOOP_GLIB, loop, (const void *)real, glib_thin,
                          __builtin_return_address(0));
    real(loop);
    if (in)
        lg__loop_leave();
}

LG_EXPORT int g_main_context_iteration(struct _GMainContext *ctx,
                                       int may_block)
{
    int (*real)(struct _GMainContext *, int) =
        REAL_IN_SCOPE(g_main_context_iteration, __builtin_return_address(0));
    int in = runner_enter(LG__LOOP_GLIB, ctx, (const void *)real, glib_thin,
                          __builtin_return_address(0));
    int r = real(ctx, may_block);
    if (in)
        lg__loop_leave();
    return r;
}

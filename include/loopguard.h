/* loopguard: find the threads that block an event loop, and a safe way out.
 *
 * This is the only header users include. It declares the public API of
 * libloopguard.so (link with `pkg-config --libs loopguard`). Every function
 * returns 0 (or a count) on success and a negative errno value on failure,
 * as libuv does; a call that fails never runs its callback.
 *
 * Loading libloopguard.so changes nothing in the host: it interposes no libc
 * function. The detector is the separate libloopguard-preload.so (see
 * docs/guide.md); the functions below also work without it. */
#ifndef LOOPGUARD_H
#define LOOPGUARD_H

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define LG_EXTERN __attribute__((visibility("default")))
#else
#define LG_EXTERN
#endif

#define LG_VERSION_MAJOR 0
#define LG_VERSION_MINOR 1
#define LG_VERSION_PATCH 0

/* ---------------------------------------------------------------------------
 * Loop threads
 *
 * A thread is a loop thread while it runs an event loop: from the moment it
 * enters the loop's runner until the runner returns. The preload learns this
 * by itself for the runners it wraps (libuv's uv_run). Code that runs a loop
 * the preload cannot see (a hand-written epoll loop, a scheduler of its own)
 * brackets the loop with lg_loop_enter()/lg_loop_leave(), and the detector
 * then reports blocking receives made between the two.
 *
 * Marks nest: each lg_loop_enter() needs one lg_loop_leave() on the same
 * thread. A report names the innermost loop. Marks are per thread and cost
 * nothing on other threads.
 * ------------------------------------------------------------------------- */

/* Marks the calling thread as running the loop `id` of kind `kind` until the
 * matching lg_loop_leave(). `kind` is one of "libuv", "epoll", "libevent",
 * "libev", "glib", "tokio" or "manual"; NULL or any other string is recorded
 * as "manual". `id` identifies the loop in reports (e.g. its uv_loop_t *) and
 * may be NULL. Records the current stack as the place the loop began.
 * Returns 0, or -EOVERFLOW when marks are nested more than 255 deep (the
 * mark is then not taken; do not call lg_loop_leave() for it). */
LG_EXTERN int lg_loop_enter(const char *kind, const void *id);

/* Ends the innermost mark of the calling thread. Returns 0, or -EINVAL when
 * the thread holds no mark. */
LG_EXTERN int lg_loop_leave(void);

/* Returns 1 when the calling thread is inside a loop (marked by the preload or
 * by lg_loop_enter()), else 0. Async-signal-safe. */
LG_EXTERN int lg_thread_is_loop(void);

/* ---------------------------------------------------------------------------
 * Errors
 * ------------------------------------------------------------------------- */

/* The name of a negative errno value returned by this API ("EPIPE"), or
 * "UNKNOWN". The string is static. */
LG_EXTERN const char *lg_err_name(int err);

/* A short description of a negative errno value. The string is static. */
LG_EXTERN const char *lg_strerror(int err);

#ifdef __cplusplus
}
#endif
#endif /* LOOPGUARD_H */

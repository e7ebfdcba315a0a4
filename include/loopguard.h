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

#include <stddef.h>
#include <stdint.h>

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
 * by itself for the runners it wraps (uv_run, event_base_loop, ev_run,
 * g_main_loop_run...), for runners compiled into the program (tokio, a
 * static libuv: by the stack), and for threads that wait in epoll_wait with
 * a timeout (docs/guide.md). Code that runs a loop the preload cannot see
 * (a scheduler of its own) brackets the loop with
 * lg_loop_enter()/lg_loop_leave(), and the detector then reports blocking
 * receives made between the two. The first epoll fd such a loop waits on
 * (with a timeout) is its own: those waits are not reported.
 *
 * Marks nest: each lg_loop_enter() needs one lg_loop_leave() on the same
 * thread. A report names the innermost loop, except that a different loop
 * run inside another's callback stalls the outer one: its waits are
 * reported, as the outer loop's. Marks are per thread and cost nothing on
 * other threads.
 * ------------------------------------------------------------------------- */

/* Marks the calling thread as running the loop `id` of kind `kind` until the
 * matching lg_loop_leave(). `kind` is one of "libuv", "epoll", "libevent",
 * "libev", "glib", "tokio", "poll", "manual" or "asyncio"; NULL or any other
 * string is recorded as "manual". `id` identifies the loop in reports (e.g. its uv_loop_t *) and
 * may be NULL. Records the current stack as the place the loop began.
 * Returns 0, or -EOVERFLOW when marks are nested more than 255 deep (the
 * mark is then not taken; do not call lg_loop_leave() for it). */
LG_EXTERN int lg_loop_enter(const char *kind, const void *id);

/* Ends the innermost mark of the calling thread. Returns 0, or -EINVAL when
 * the thread holds no mark. */
LG_EXTERN int lg_loop_leave(void);

/* Returns 1 when the calling thread is inside a loop (marked by the preload or
 * by lg_loop_enter(), or, in a program with a runner compiled in, inside that
 * runner by its stack, or, in CPython 3.11 to 3.13, inside asyncio's loop by
 * its Python frames), else 0. Async-signal-safe, except in a program with a
 * runner compiled in, where it captures the stack, and in CPython, where it
 * calls pthread_getspecific to find the thread's Python state. */
LG_EXTERN int lg_thread_is_loop(void);

/* ---------------------------------------------------------------------------
 * Accepted blocking, and reports in the program's hands
 * ------------------------------------------------------------------------- */

/* Blocking calls the calling thread makes between lg_allow_blocking_begin()
 * and the matching lg_allow_blocking_end() are not reported: blocking the
 * program has accepted (start-up code, a test fixture; Chromium's
 * ScopedAllowBlocking). The exit summary counts them as "allowed". Scopes
 * nest: each begin needs one end on the same thread. Stalls, deadlocks and
 * lock-order inversions are still reported. A thread-local counter: threads
 * that never call these pay nothing. Both work without the detector loaded
 * (they then only count).
 * begin returns 0, or -EOVERFLOW past 65535 nested scopes (that scope is
 * then not opened: do not end it); end returns 0, or -EINVAL when the
 * thread has no open scope. */
LG_EXTERN int lg_allow_blocking_begin(void);
LG_EXTERN int lg_allow_blocking_end(void);

/* Receives each record the detector reports: `json` is the record as a
 * format=json line, NUL-terminated, without its newline (len ==
 * strlen(json)), valid during the call. */
typedef void (*lg_report_cb)(const char *json, size_t len, void *data);

/* Sets the callback called once for every record reported in this process
 * (after suppression, dedupe and caps; not the exit summary, nor the line
 * that says max_reports was reached), whatever the log and format options,
 * with `data`; NULL removes it. Always returns 0.
 * The callback runs on the thread that made the record (the watchdog thread
 * for stalls and deadlocks), after the record was written, holding none of
 * loopguard's locks. It may call anything, including blocking and wrapped
 * functions (write to a pipe, lock a mutex): on that thread they are
 * forwarded unwatched, so they never report, and never recurse into it.
 * (A lock that thread already holds, as any code taking it again would,
 * deadlocks it: a lock-order record is made inside the lock call.)
 * Keep it short: the reporting thread (maybe a loop thread, maybe the
 * watchdog) waits for it. It may run on several threads at once. A call
 * already under way may finish after the callback was replaced. Without
 * the detector (libloopguard-preload.so) loaded, it is never called. */
LG_EXTERN int lg_set_report_callback(lg_report_cb cb, void *data);

/* The number of records reported by this process so far (every type but the
 * exit summary and the max_reports line; those suppressed, deduplicated or
 * past max_reports are not reported), so a test can assert that a block of
 * code reported nothing. 0 without the detector loaded. */
LG_EXTERN uint64_t lg_reports(void);

/* ---------------------------------------------------------------------------
 * The safe channel: lg_chan
 *
 * A bounded channel of fixed-size messages between plain threads and libuv
 * loops, where threads may block and a loop never does. Many producers;
 * each producer's messages arrive in the order it sent them; every message
 * accepted is delivered exactly once. Messages are copied in, and out to
 * threads; a receiving loop's callback reads each one in place, in the
 * channel, so it counts against the capacity until that callback returns.
 * (With several receivers at once, one exception: a receiving loop takes
 * messages in batches, and if its callback stops it mid-batch, the rest of
 * the batch goes to whoever receives next, possibly after a newer message
 * another receiver already took.)
 *
 * Who calls what:
 *   plain threads    lg_chan_send_blocking / _recv_blocking / _timed: may
 *                    block until there is room / a message.
 *   anywhere         lg_chan_try_send / lg_chan_try_recv: never block.
 *   a libuv loop     lg_chan_recv_start: messages are delivered to a
 *                    callback on the loop thread (lg_chan_recv_start_batch:
 *                    arrays of them); lg_chan_send_async:
 *                    sends without blocking the loop, parking the message
 *                    on the loop side while the channel is full.
 *   any other loop   lg_chan_fd: a descriptor to watch (readable while a
 *                    message waits); lg_chan_drain when it is readable.
 *   batches          lg_chan_recv_start_batch, lg_chan_recv_many_blocking
 *                    and lg_chan_drain take many messages per call.
 * So: thread to loop (send_blocking + recv_start), loop to thread
 * (send_async + recv_blocking), loop to loop (send_async + recv_start) and
 * thread to thread all work.
 *
 * Errors are negative errno values: -EAGAIN (full or empty, try calls),
 * -EPIPE (closed; receivers get it only once the channel is drained),
 * -ETIMEDOUT, -EINVAL, -ENOMEM, and -EDEADLK: a blocking or timed call made
 * on a loop thread is refused instead of freezing the loop, and reported
 * as a blocking_call when the detector (libloopguard-preload.so) is
 * loaded. A known loop thread is refused at once: one between
 * lg_loop_enter and lg_loop_leave, one inside uv_run when the detector is
 * loaded (it marks uv_run), or one running a loop that has this channel
 * attached (lg_chan_recv_start, or lg_chan_send_async until the channel
 * closes). Any other thread with uv_run on its stack (a libuv callback,
 * with or without the detector; libuv shared or linked into the program)
 * is refused when the call would park: after the brief spin that precedes
 * parking, a look at its stack (microseconds) finds uv_run. So without
 * the detector a message waiting, or room, is still taken in a callback;
 * once uv_run has returned, the thread waits like any other.
 *
 * Lifetime: lg_chan_close() may be called from any thread, any number of
 * times. lg_chan_free() may be called from any thread once no thread is
 * inside a call on the channel; if a loop still holds the channel (its
 * recv_start or send_async handles are closing), the memory is released
 * when the loop lets go, on the loop thread, so a pending callback never
 * sees freed memory.
 * ------------------------------------------------------------------------- */

typedef struct lg_chan lg_chan_t;           /* opaque */
struct uv_loop_s;

/* Called on the loop thread once per message, in order. status 0: msg
 * points at one message, in the channel's own memory, valid during the
 * call (copy what you keep); its room is free again once the call returns.
 * status -EPIPE: the channel is closed and drained; msg is NULL and this is
 * the last call. */
typedef void (*lg_chan_recv_cb)(lg_chan_t *ch, int status, void *msg,
                                void *data);
/* Called with up to `max` messages at once (lg_chan_recv_start_batch,
 * lg_chan_drain). status 0: msgs points at n (1..max) messages, in order,
 * side by side `elem_size` bytes apart (an array of your struct, as
 * aligned as malloc gives), in memory the channel owns, valid during the
 * call; their room in the channel is free again once the call returns.
 * They are copied there out of the ring, where each message shares a
 * cache line with its sequence number (docs/performance.md: faster than
 * messages side by side in the ring and read in place), so a batch is
 * one call however the ring wraps. status -EPIPE (recv_start_batch only): the
 * channel is closed and drained; msgs is NULL, n is 0 and this is the last
 * call. */
typedef void (*lg_chan_batch_cb)(lg_chan_t *ch, int status, void *msgs,
                                 size_t n, void *data);
/* Called on the sending loop's thread once per lg_chan_send_async that
 * returned 0, never from inside it. status 0: the message was delivered
 * into the channel; -EPIPE: the channel was closed first, the message was
 * not delivered. */
typedef void (*lg_chan_send_cb)(lg_chan_t *ch, int status, void *data);

/* Creates a channel holding up to `capacity` (>= 1) messages of
 * `elem_size` (>= 1) bytes. Returns 0, -EINVAL or -ENOMEM. */
LG_EXTERN int lg_chan_new(lg_chan_t **ch, size_t capacity, size_t elem_size);

/* Closes the channel: later sends fail with -EPIPE; messages already
 * accepted are still delivered; then receivers get -EPIPE (blocking, timed
 * and try calls) or a final -EPIPE callback (recv_start). Wakes every
 * blocked sender and receiver. Any thread; idempotent. */
LG_EXTERN void lg_chan_close(lg_chan_t *ch);

/* Releases the channel (closing it first if needed). See "Lifetime". */
LG_EXTERN void lg_chan_free(lg_chan_t *ch);

/* Plain threads: waits while the channel is full (send) or empty (recv).
 * Returns 0, -EPIPE or -EDEADLK. EINTR is retried, never returned. */
LG_EXTERN int lg_chan_send_blocking(lg_chan_t *ch, const void *msg);
LG_EXTERN int lg_chan_recv_blocking(lg_chan_t *ch, void *msg);

/* Plain threads: waits while the channel is empty, then copies up to `max`
 * waiting messages into buf (room for max * elem_size bytes), in order.
 * Returns how many (1..max), -EPIPE once the channel is closed and
 * drained, -EINVAL (max 0), or -EDEADLK on a loop thread, as
 * lg_chan_recv_blocking. */
LG_EXTERN int lg_chan_recv_many_blocking(lg_chan_t *ch, void *buf,
                                         size_t max);

/* The same, waiting at most timeout_ms milliseconds: -ETIMEDOUT after. */
LG_EXTERN int lg_chan_send_timed(lg_chan_t *ch, const void *msg,
                                 uint64_t timeout_ms);
LG_EXTERN int lg_chan_recv_timed(lg_chan_t *ch, void *msg,
                                 uint64_t timeout_ms);

/* Any thread, never blocks: 0, -EAGAIN (full / empty) or -EPIPE. */
LG_EXTERN int lg_chan_try_send(lg_chan_t *ch, const void *msg);
LG_EXTERN int lg_chan_try_recv(lg_chan_t *ch, void *msg);

/* Delivers the channel's messages to cb on `loop`'s thread. Wake-ups are
 * coalesced: a producer signals only when the loop may be asleep, and one
 * wake-up drains up to 1024 messages before the loop gets to run its other
 * handles. The signal is a write to an eventfd the channel makes for its
 * first receiver and closes when freed, watched by a uv_poll_t (libuv
 * 1.44's uv_async_send cost each wake-up 28-46 us of spinning; the eventfd
 * 3-6 us). Call it on the thread that runs `loop`. The channel has at most
 * one such receiver: -EBUSY if it has one. Its handles keep the loop alive
 * until lg_chan_recv_stop() or the final -EPIPE callback. Returns 0,
 * -EBUSY, -EINVAL, -ENOMEM, -ENOSYS (libuv is not in the process), a
 * negative errno from eventfd() or a libuv error. */
LG_EXTERN int lg_chan_recv_start(lg_chan_t *ch, struct uv_loop_s *loop,
                                 lg_chan_recv_cb cb, void *data);

/* Stops delivering (on the loop thread). Messages stay in the channel for
 * another receiver. Returns 0, or -EINVAL when not started. */
LG_EXTERN int lg_chan_recv_stop(lg_chan_t *ch);

/* lg_chan_recv_start with batches: cb gets 1..max messages per call (see
 * lg_chan_batch_cb), taken off the channel with one atomic operation per
 * batch, copied into one array, and producers waiting for room are woken
 * once per batch. A batch holds its room until its call returns, so
 * `capacity` still bounds what is between send and receipt. Everything
 * else is as lg_chan_recv_start: one receiver at a time (-EBUSY),
 * lg_chan_recv_stop (also from inside cb: no call follows), the final
 * -EPIPE call, the same return values, plus -EINVAL for max 0. */
LG_EXTERN int lg_chan_recv_start_batch(lg_chan_t *ch, struct uv_loop_s *loop,
                                       size_t max, lg_chan_batch_cb cb,
                                       void *data);

/* Any event loop (epoll, poll, libevent, GLib...): a descriptor to watch
 * for reading, and lg_chan_drain to call when it is readable. It polls
 * readable (POLLIN, level-triggered) while a message waits or once the
 * channel is closed, and not while the channel is open and empty (after
 * the drain that emptied it). Never read or write it; it belongs to the
 * channel (lg_chan_free closes it), and every call returns the same one.
 * It is the channel's eventfd (the one lg_chan_recv_start uses): a
 * producer writes it only when a drain found the channel empty and armed
 * it, and a drain resets it only when it leaves the channel empty, so a
 * drain that took `max` of more messages leaves it readable. Its reader
 * is the channel's receiver: -EBUSY while lg_chan_recv_start(_batch) has
 * one, which in turn gets -EBUSY once lg_chan_fd was called. Returns the
 * descriptor, -EBUSY, -EINVAL or a negative errno from eventfd(). */
LG_EXTERN int lg_chan_fd(lg_chan_t *ch);

/* Any thread, never blocks: hands the messages waiting now, up to `max`,
 * to cb in batches (status 0 only; see lg_chan_batch_cb), then, if
 * lg_chan_fd was called, resets the descriptor when the channel is left
 * empty. Returns how many were delivered (0: none), -EPIPE once the
 * channel is closed and drained, -EINVAL or -ENOMEM. A drain may deliver
 * 0 while the descriptor is readable (a message being written, or taken by
 * another receiver): wait for the descriptor again. */
LG_EXTERN int lg_chan_drain(lg_chan_t *ch, size_t max, lg_chan_batch_cb cb,
                            void *data);

/* Sends from `loop`'s thread without ever blocking it: the message is
 * copied into the channel at once when there is room and nothing of this
 * loop's is waiting, else parked on the loop side and delivered, in order,
 * as room appears. cb (may be NULL) runs once, later, on the loop thread:
 * 0 once delivered, -EPIPE if the channel closed first. Returns 0 (cb will
 * run), -EPIPE (already closed; cb will not run), -ENOMEM, -ENOSYS.
 * The first call from a loop attaches a handle to that loop, which keeps it
 * running until the channel is closed (then the handle closes itself on
 * the loop thread): close the channel before expecting uv_run to return. */
LG_EXTERN int lg_chan_send_async(lg_chan_t *ch, struct uv_loop_s *loop,
                                 const void *msg, lg_chan_send_cb cb,
                                 void *data);

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

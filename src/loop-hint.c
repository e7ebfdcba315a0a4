/* Polls on loop threads, and epoll loops found by their behaviour.
 *
 * A loop's own wait must cost next to nothing: it is what a loop thread
 * does between callbacks. It is recognised without a stack: made from the
 * runner's library (libuv's uv__io_poll, GLib's g_poll), or on the epoll
 * fd the mark knows. Any other poll, select or epoll wait with a timeout
 * on a loop thread is a blocking call: a synchronous client with an epoll
 * of its own, a poll() for one descriptor.
 *
 * A thread on no loop that waits in epoll_wait with a timeout hosts one:
 * it is marked (kind epoll, via epoll) with that fd as its own. Such a
 * mark has no runner that returns, so it lasts while the function that
 * called epoll_wait is on the stack: the mark's entry stack, less its
 * first frame, must be the bottom of the current one. Closing the epoll fd
 * ends it at once: a synchronous client called again and again from one
 * place makes a new epoll fd each time, and is no loop.
 *
 * poll and select have no descriptor of their own to go by. A thread on no
 * loop that waits in them with a timeout, three times in a row, from one
 * call site, on one set of two or more descriptors (with the same events)
 * hosts a loop (kind poll, via poll): dnsmasq's, or any hand-written
 * poll() loop. One descriptor is a wait for it, not a loop (a synchronous
 * client's poll of its socket); a set that changes from turn to turn is
 * found once it holds still for three. Its own wait is that call site;
 * the mark lasts, as an epoll one, while the function that polled runs.
 *
 * CPython's asyncio polls from Python code (python.c): its epoll mark
 * becomes an asyncio one, which lasts while the loop's run_forever runs.
 * A thread running Python code hosts no poll loop by behaviour. */
#include <string.h>

#include "lg-internal.h"

static struct lg__loop_mark *current_mut(void)
{
    return (struct lg__loop_mark *)lg__loop_current();
}

const struct lg__loop_mark *lg__loop_stalled(void)
{
    const struct lg__loop_mark *m = lg__loop_current();
    const struct lg__loop_mark *outer = lg__loop_outer();
    /* A private loop run inside a callback of another stalls the outer
     * loop. GLib's nested runs on one context (modal dialogs) dispatch the
     * outer loop's sources too, and are its own. */
    if (m && outer != m && outer->id != m->id && m->kind != LG__LOOP_GLIB)
        return outer;
    return m;
}

/* The poll's caller. A sanitizer's interceptor called us: then it is the
 * first frame that is not (ASan builds of the tests). */
static void *real_caller(void *caller)
{
    if (LG__LIKELY(!lg__pc_is_ours((uintptr_t)caller)))
        return caller;
    void *pcs[1];
    uint8_t was = lg__tls.in_shim;
    lg__tls.in_shim = 1;
    if (lg__stack_capture(pcs, 1) == 1)
        caller = pcs[0];
    lg__tls.in_shim = was;
    return caller;
}

static int own_wait(int fd, void *caller, int adopt)
{
    struct lg__loop_mark *m = current_mut();
    if (!m || lg__loop_stalled() != m)
        return 0;             /* none, or a private loop's: not its own */
    uintptr_t pc = (uintptr_t)real_caller(caller);
    if (pc >= m->own_lo && pc < m->own_hi)
        return 1;
    if (fd >= 0 && m->own_fd == fd)
        return 1;
    /* asyncio's: made by its selector (a poll or select one has no fd;
     * an epoll one found the thread before it polled has none yet). */
    if (m->kind == LG__LOOP_ASYNCIO) {
        if (!lg__py_own_poll())
            return 0;
        if (adopt && fd >= 0 && m->own_fd < 0)
            m->own_fd = fd;
        return 1;
    }
    if (fd < 0)
        return 0;
    if (adopt && m->own_fd < 0 &&
        (m->via == LG__VIA_API || m->via == LG__VIA_EPOLL))
        m->own_fd = fd;
    return m->own_fd == fd;
}

int lg__loop_own_wait(int fd, void *caller)
{
    return own_wait(fd, caller, 1);
}

int lg__loop_own_poll(int fd, void *caller)
{
    return own_wait(fd, caller, 0);
}

void lg__epoll_hint(int epfd, void *caller)
{
    if (lg__loop_enter(LG__LOOP_EPOLL, LG__VIA_EPOLL,
                       (const void *)(intptr_t)epfd, NULL, caller) != 0)
        return;
    struct lg__loop_mark *m = current_mut();
    if (!m)
        return;
    m->own_fd = epfd;
    /* asyncio's selector: named as the asyncio loop from its first poll
     * (as lg__loop_mark_live would at the first report), so that every
     * record names it alike, the watchdog's stalls too. */
    const void *py = (lg__stack_loops & LG__SL_PYTHON) ? lg__py_loop()
                                                       : NULL;
    if (py) {
        m->kind = LG__LOOP_ASYNCIO;
        m->id = py;
    }
}

#define POLL_HINT_TURNS 3

/* This thread's candidate: the last waiting poll's site and set. Not in
 * struct lg__tls, whose fast-path block it would grow: only this slow
 * path reads it. */
static __thread struct {
    void *caller;
    uint64_t sig;
    uint32_t turns;
} cand __attribute__((tls_model("initial-exec")));

int lg__poll_hint(uint64_t sig, int nfds, void *caller)
{
    /* Every poll of Python code comes from one C call site (the select
     * module's): a call site tells no loop there. asyncio's loops are
     * found by their frames (python.c). */
    if ((lg__stack_loops & LG__SL_PYTHON) && lg__py_running())
        return 0;
    caller = real_caller(caller);
    if (nfds < 2 || cand.caller != caller || cand.sig != sig) {
        cand.caller = nfds < 2 ? NULL : caller;
        cand.sig = sig;
        cand.turns = nfds < 2 ? 0 : 1;
        return 0;
    }
    if (++cand.turns < POLL_HINT_TURNS)
        return 0;
    cand.caller = NULL;
    cand.turns = 0;
    if (lg__loop_enter(LG__LOOP_POLL, LG__VIA_POLL, caller, NULL, caller)
        != 0)
        return 0;
    struct lg__loop_mark *m = current_mut();
    if (m) {
        m->own_lo = (uintptr_t)caller;
        m->own_hi = (uintptr_t)caller + 1;
    }
    return 1;
}

void lg__epoll_closed(int fd)
{
    const struct lg__loop_mark *m = lg__loop_current();
    if (m && m->via == LG__VIA_EPOLL && m->own_fd == fd)
        lg__loop_leave();
}

/* Whether frames[skip..] of m are the bottom of pcs[0..n). */
static int bottom_is(const struct lg__loop_mark *m, void *const *pcs, int n,
                     int skip)
{
    int k = m->nframes - skip;
    if (k <= 0)
        return 1;
    if (n < k + 1)
        return 0;
    return memcmp(pcs + (n - k), m->frames + skip,
                  (size_t)k * sizeof *pcs) == 0;
}

static int native_live(struct lg__loop_mark *m, void *const *pcs, int n)
{
    /* frames[0] returns into the function that polled; frames[1..] are
     * its callers, which stay the bottom of every stack while it runs. A
     * truncated capture cannot be compared: assume it still runs. */
    if (m->nframes >= LG__MAX_FRAMES || n >= LG__MAX_FRAMES)
        return 1;
    if (m->skip)
        return bottom_is(m, pcs, n, m->skip);
    /* A poll loop may keep its wait in a helper of its own (dnsmasq's
     * do_poll): then the loop is the helper's caller. Which one is learnt
     * from the first check, made in a turn of the loop: the helper has
     * returned there, its caller has not. */
    if (bottom_is(m, pcs, n, 1))
        m->skip = 1;
    else if (m->via == LG__VIA_POLL && bottom_is(m, pcs, n, 2))
        m->skip = 2;
    return m->skip != 0;
}

int lg__loop_mark_live(struct lg__loop_mark *m, void *const *pcs, int n)
{
    if (m->kind != LG__LOOP_ASYNCIO && native_live(m, pcs, n))
        return 1;
    /* asyncio polls in select.epoll.poll, which has returned by the time
     * a callback runs, and every Python call of 3.11 runs in one C
     * function: the loop lasts while its run_forever is on the thread's
     * Python frame stack. */
    const void *py = m->via == LG__VIA_EPOLL ? lg__py_loop() : NULL;
    if (!py)
        return 0;
    m->kind = LG__LOOP_ASYNCIO;
    m->id = py;
    return 1;
}

/* Stack capture with libunwind's unw_backtrace (~0.1 us warm; the unw_step
 * loop costs ~35 us), loaded with dlopen(RTLD_LOCAL) so that its unversioned
 * _Unwind_* and backtrace exports never replace the host's unwinder
 * (preload notes section 3). Frames of loopguard's own libraries are left
 * out, so a stack starts at the caller of the wrapped function. */
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <link.h>

#include "lg-internal.h"

#define MAX_OWN 8

static int (*unw_backtrace_fn)(void **, int);
static struct {
    uintptr_t lo, hi;                 /* an executable segment of ours */
} own[MAX_OWN];
static int n_own;

struct own_search {
    uintptr_t addr;
};

static int find_own_segment(struct dl_phdr_info *info, size_t size,
                            void *arg)
{
    struct own_search *s = arg;
    (void)size;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
            continue;
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
        uintptr_t hi = lo + ph->p_memsz;
        if (s->addr >= lo && s->addr < hi) {
            for (int k = 0; k < n_own; k++)
                if (own[k].lo == lo)
                    return 1;
            if (n_own < MAX_OWN) {
                own[n_own].lo = lo;
                own[n_own].hi = hi;
                n_own++;
            }
            return 1;
        }
    }
    return 0;
}

void lg__stack_own_module(const void *addr)
{
    struct own_search s = {(uintptr_t)addr};
    dl_iterate_phdr(find_own_segment, &s);
}

int lg__pc_is_ours(uintptr_t pc)
{
    for (int i = 0; i < n_own; i++)
        if (pc >= own[i].lo && pc < own[i].hi)
            return 1;
    return 0;
}

/* libunwind's code: its calls are the ones checked. A signal handler that
 * runs while this thread unwinds (libuv's, which reads its signal-lock
 * pipe, and drops the signal if that read fails) is the program's. */
static uintptr_t unw_lo, unw_hi;

/* Called once from lg__init(), in a constructor: dlopen takes the loader
 * lock and allocates, which a wrapper's slow path must never do. */
void lg__stack_init(void)
{
    lg__stack_own_module((const void *)lg__stack_init);
    /* A sanitizer runtime's interceptors sit between the program and our
     * wrappers; like ours, their frames are not the program's. */
    static const char *const runtimes[] = {"__asan_init", "__tsan_init",
                                           "__msan_init"};
    for (size_t i = 0; i < sizeof runtimes / sizeof runtimes[0]; i++) {
        void *f = dlsym(RTLD_DEFAULT, runtimes[i]);
        if (f)
            lg__stack_own_module(f);
    }
    void *h = dlopen("libunwind.so.8", RTLD_NOW | RTLD_LOCAL);
    if (!h)
        return;
    void *f = dlsym(h, "unw_backtrace");
    if (f)
        lg__object_span(f, &unw_lo, &unw_hi);
    if (f)
        __atomic_store_n(&unw_backtrace_fn, (int (*)(void **, int))f,
                         __ATOMIC_RELEASE);
}

/* libunwind (1.6) checks that an address can be read by writing a byte
 * of it into a pipe of its own, which it first drains with read(); it makes
 * the pipe once and keeps the two numbers. A program that closes every
 * descriptor after that (dnsmasq at start-up) gets those numbers back for
 * its own sockets, and libunwind would read them (hang in a blocking one,
 * or take a byte of its data) and write stack bytes into them. So the
 * pipe's numbers are noted when libunwind makes it (the pipe2 wrapper) and
 * forgotten when the program closes or replaces either; while libunwind
 * runs, the read wrapper refuses any other descriptor with EBADF, on which
 * libunwind makes a new pipe, and the close wrapper skips closing one:
 * only for calls libunwind makes (lg__unwind_caller). */
static int unw_pipe[2] = {-1, -1};


int lg__unwind_caller(const void *pc)
{
    return (uintptr_t)pc >= unw_lo && (uintptr_t)pc < unw_hi;
}

int lg__unwind_fd_ours(int fd)
{
    return fd >= 0 && (fd == __atomic_load_n(&unw_pipe[0], __ATOMIC_ACQUIRE) ||
                       fd == __atomic_load_n(&unw_pipe[1], __ATOMIC_ACQUIRE));
}

void lg__unwind_pipe_made(const int fds[2])
{
    __atomic_store_n(&unw_pipe[0], fds[0], __ATOMIC_RELEASE);
    __atomic_store_n(&unw_pipe[1], fds[1], __ATOMIC_RELEASE);
}

void lg__unwind_fds_gone(unsigned first, unsigned last)
{
    for (int i = 0; i < 2; i++) {
        int fd = __atomic_load_n(&unw_pipe[i], __ATOMIC_ACQUIRE);
        if (fd >= 0 && (unsigned)fd >= first && (unsigned)fd <= last)
            __atomic_compare_exchange_n(&unw_pipe[i], &fd, -1, 0,
                                        __ATOMIC_ACQ_REL, __ATOMIC_RELAXED);
    }
}

void lg__stack_warm(void)
{
    void *pc[1];
    lg__stack_capture(pc, 1);
}

/* Unwinds at most max frames of the program, plus `ours` for loopguard's
 * own (dropped). */
static int capture(void **pcs, int max, int ours);

int lg__stack_capture(void **pcs, int max)
{
    /* Room for our own frames on top (the wrapper, the slow path) and in
     * the middle (a wrapped runner such as uv_run). */
    return capture(pcs, max, 16);
}

int lg__stack_capture_top(void **pcs, int max)
{
    /* The innermost frames only: ours are on top (a lock wrapper, its
     * tracking half, lg__lock_edge, this file: 3 or 4). */
    return capture(pcs, max, 8);
}

static int capture(void **pcs, int max, int ours)
{
    int (*bt)(void **, int) =
        __atomic_load_n(&unw_backtrace_fn, __ATOMIC_ACQUIRE);
    if (LG__UNLIKELY(!bt)) {
        /* Without the preload nothing ran lg__init() yet; with it, this
         * is already done and costs a load. */
        lg__init();
        bt = __atomic_load_n(&unw_backtrace_fn, __ATOMIC_ACQUIRE);
    }
    if (!bt || max <= 0)
        return 0;
    /* libunwind calls read, pipe2, mutexes and sigprocmask through the PLT;
     * in_shim makes our own wrappers pass them straight through. */
    uint8_t was = lg__tls.in_shim, was_unw = lg__tls.unwinding;
    int saved = errno;        /* libunwind's reads of its pipe set it */
    lg__tls.in_shim = 1;
    lg__tls.unwinding = 1;
    /* No deeper than what is kept (a lock-order edge keeps 24 of node's
     * 40 to 60), with room for our own. */
    void *tmp[LG__MAX_FRAMES + 16];
    int want = (max < LG__MAX_FRAMES ? max : LG__MAX_FRAMES) + ours;
    int n = bt(tmp, want);
    lg__tls.unwinding = was_unw;
    lg__tls.in_shim = was;
    errno = saved;
    /* Our frames sit on top (the wrapper, the slow path) and in the middle
     * (a wrapped runner such as uv_run): drop them all. */
    int out = 0;
    for (int i = 0; i < n && out < max; i++)
        if (!lg__pc_is_ours((uintptr_t)tmp[i]))
            pcs[out++] = tmp[i];
    return out;
}

/* Private to src/ and preload/: the internal interface of libloopguard.so.
 *
 * Symbols named lg__* are exported from libloopguard.so only because the
 * preload, a separate object, calls them; they are not API and may change.
 * Everything here may run inside a wrapper on a thread of a host program, so
 * unless a comment says otherwise a function: never calls malloc, never
 * blocks except on loopguard's own short locks, and preserves errno. */
#ifndef LG_INTERNAL_H
#define LG_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "loopguard.h"

#define LG__INTERNAL __attribute__((visibility("default")))
#define LG__COLD __attribute__((cold, noinline))
#define LG__LIKELY(x) __builtin_expect(!!(x), 1)
#define LG__UNLIKELY(x) __builtin_expect(!!(x), 0)

/* ---------------------------------------------------------------------------
 * Per-thread state (defined in registry.c).
 *
 * One small initial-exec TLS block: a wrapper's fast path reads `depth`
 * (and, for waits and locks, `park`; for zero polls, `sloop`). It must stay
 * a few dozen bytes because libloopguard.so may be dlopened, and static TLS
 * surplus is shared by every library (preload notes section 2).
 * ------------------------------------------------------------------------- */
struct lg__thread;
struct lg__park;

struct lg__tls {
    uint8_t in_shim;          /* loopguard's own code runs on this thread:
                                 wrappers forward without looking */
    uint8_t depth;            /* loop nesting depth; non-zero = loop thread */
    uint8_t dead;             /* thread-exit destructor ran: never
                                 allocate a record again */
    uint8_t sloop;            /* parked in the own wait of a loop found
                                 through the stack (report.c): its zero
                                 polls are signs of life */
    uint8_t noslot : 1;       /* the wait-slot table was full: do not
                                 look again (park.c) */
    uint8_t found : 1;        /* counted in lg__loops_found (registry.c);
                                 a bit beside noslot: the block stays 40
                                 bytes */
    uint8_t unwinding : 1;    /* inside libunwind (stack.c): its read,
                                 close and pipe2 are checked against the
                                 pipe it made */
    uint8_t fd_private : 1;   /* the watchdog, in a descriptor table of
                                 its own (watchdog-fds.c): numbers are not
                                 the program's */
    uint8_t py_polled : 1;    /* in CPython, the thread has polled (an
                                 asyncio loop polls before it runs any
                                 callback): its waits take the slow path */
    uint8_t sync_fs;          /* inside a libuv fs request made without a
                                 callback on a loop thread (the preload's
                                 uv_fs_* wrappers): libuv's calls are the
                                 program's (ignore.c) */
    uint16_t allow;           /* lg_allow_blocking_begin() scopes open:
                                 blocking calls are not reported */
    uint32_t id;              /* unique per thread, from 1, given on first
                                 touch (touch.c); 0 before */
    uint32_t touch_epoch;     /* lg__touch_epoch when touch_done was set */
    const void *touch_done[2]; /* objects whose touch records this thread
                                  can no longer change, newest first
                                  (touch.c): two, for CPython's GIL, whose
                                  every hand-over signals two conds */
    struct lg__thread *rec;   /* registry record, allocated on first
                                 loop entry; NULL before */
    struct lg__park *park;    /* untimed-wait slot (park.c), claimed on
                                 the thread's first such wait */
};

extern __thread struct lg__tls lg__tls
    __attribute__((tls_model("initial-exec"), visibility("default")));

/* Set once at start-up when the program has a loop runner compiled in
 * (LG__SL_RUNNER, loopcat.c): then every thread's waits go to the slow
 * path, where the stack tells whether the thread is inside that runner;
 * or when it is CPython 3.11 to 3.13, whose asyncio loops run in Python
 * code (LG__SL_PYTHON, python.c): then the waits of every thread that has
 * polled do, where the Python frames tell. */
extern uint8_t lg__stack_loops __attribute__((visibility("default")));
#define LG__SL_RUNNER 1
#define LG__SL_PYTHON 2

/* True when the calling thread is, or may be, on a loop and not already
 * inside loopguard: the only test a wrapper's fast path makes. */
static inline int lg__tls_on_loop(void)
{
    uint8_t sl = lg__stack_loops;
    return LG__UNLIKELY(lg__tls.depth != 0 ||
                        (sl && ((sl & LG__SL_RUNNER) || lg__tls.py_polled))) &&
           !lg__tls.in_shim;
}

/* Set once at start-up when a libuv compiled into the program has its fs
 * code (uv__fs_work, loopcat.c): only the stack tells whether a write or
 * an open is made by a synchronous fs request. */
extern uint8_t lg__stack_uv_fs __attribute__((visibility("default")));

/* True when the calling thread may be inside a libuv fs request made
 * without a callback on a loop thread, where a write or an open of a FIFO
 * counts too: the test the fast path of write, writev and open makes, at
 * the cost of lg__tls_on_loop. */
static inline int lg__tls_sync_fs(void)
{
    return LG__UNLIKELY(lg__tls.sync_fs || lg__stack_uv_fs) &&
           !lg__tls.in_shim;
}

/* ---------------------------------------------------------------------------
 * Untimed waits of every thread (park.c): what the deadlock check reads.
 *
 * A thread that waits with no timeout, in a wrapped call, on something
 * only this process can signal (a process-private cond, futex word or
 * semaphore, a join, a mutex) says so in its slot: `seq` is odd while it
 * waits. The cost is a few stores to memory only this thread writes; the
 * watchdog reads the slots of all threads.
 * ------------------------------------------------------------------------- */
#define LG__HELD_MAX 16       /* locks a thread holds that are recorded */
#define LG__EDGE_CACHE 64     /* lock-order edges a thread remembers */

struct lg__park {
    pid_t tid;                /* 0: free */
    uint32_t seq;             /* odd while waiting; bumped on each edge */
    const char *call;         /* the wrapped function */
    const char *what;         /* "cond", "futex", "sem", "thread", "mutex",
                                 "rwlock", "pipe", "socket", "eventfd" */
    const void *obj;          /* its address (a pthread_t for joins, the
                                 fd for a pipe, socket or eventfd) */
    /* The lock-order graph's per-thread part (lockorder.c), written and
     * read by this thread only. */
    uint32_t nheld;           /* locks held, recorded or not */
    uint32_t nrec;            /* of them, recorded in held[] */
    uint32_t cache_epoch;     /* graph epoch the cache is valid for */
    const void *held[LG__HELD_MAX];   /* innermost last */
    const char *held_what[LG__HELD_MAX];  /* "mutex", "rwlock" */
    struct {
        const void *from, *to;
    } cache[LG__EDGE_CACHE];  /* edges known to be in the graph */
};

/* The calling thread's slot, claimed on first use; NULL when the watchdog
 * and the lock-order graph are both off, the table is full, the thread is
 * exiting or inside loopguard. */
LG__INTERNAL struct lg__park *lg__park_claim(void);

static inline struct lg__park *lg__park_mark(struct lg__park *p,
                                             const char *call,
                                             const char *what,
                                             const void *obj)
{
    __atomic_store_n(&p->call, call, __ATOMIC_RELAXED);
    __atomic_store_n(&p->what, what, __ATOMIC_RELAXED);
    __atomic_store_n(&p->obj, obj, __ATOMIC_RELAXED);
    __atomic_store_n(&p->seq, p->seq + 1, __ATOMIC_RELEASE);
    return p;
}

static inline struct lg__park *lg__park_begin(const char *call,
                                              const char *what,
                                              const void *obj)
{
    struct lg__park *p = lg__tls.park;
    if (LG__UNLIKELY(!p) && !(p = lg__park_claim()))
        return NULL;
    return lg__park_mark(p, call, what, obj);
}

static inline void lg__park_end(struct lg__park *p)
{
    if (p)
        __atomic_store_n(&p->seq, p->seq + 1, __ATOMIC_RELEASE);
}

/* ---------------------------------------------------------------------------
 * The lock-order graph (lockorder.c). A thread that takes lock `to` while
 * holding `from` adds the edge from -> to, once; an edge that closes a
 * cycle is a lock_order_inversion. The wrappers keep each thread's held
 * locks in its slot and look edges up in the slot's cache; only an edge
 * the thread has not taken before goes to the graph, under its lock.
 * ------------------------------------------------------------------------- */
extern uint32_t lg__lock_epoch __attribute__((visibility("default")));
extern uint8_t lg__lock_order_on __attribute__((visibility("default")));

/* CPython's runtime state, the exported object _PyRuntime, when the process
 * has it from the start (python.c, at init): [lo, lo + len). The mutexes
 * inside it (the GIL's mutex and switch mutex) guard a few instructions
 * of the interpreter's own, take no lock of the program's while held, and
 * are taken and dropped three or four times at each GIL hand-over: the lock
 * wrappers forward them untouched (no slot marks, no held record, no
 * edges). Set once, before any thread runs Python, so that a lock and its
 * unlock always agree (docs/internals.md). */
extern uintptr_t lg__py_lock_lo __attribute__((visibility("default")));
extern size_t lg__py_lock_len __attribute__((visibility("default")));
static inline int lg__lock_runtime_own(const void *l)
{
    size_t len = __atomic_load_n(&lg__py_lock_len, __ATOMIC_RELAXED);
    return LG__UNLIKELY(len != 0) &&
           (uintptr_t)l - __atomic_load_n(&lg__py_lock_lo,
                                          __ATOMIC_RELAXED) < len;
}

/* Adds held[from] -> to (taken by `call`, a `what` lock) unless known;
 * from < 0 only drops the thread's cache. */
LG__INTERNAL void lg__lock_edge(struct lg__park *p, int from, const void *to,
                                const char *call, const char *what);
/* A lock is destroyed (or re-initialised): it leaves the graph, and the
 * calling thread's held records. */
LG__INTERNAL void lg__lock_forget(const void *l);
/* Memory [start, start + len) dies (freed, unmapped): every lock in it
 * leaves the graph and the calling thread's held records. Does nothing
 * inside loopguard (in_shim). Never allocates; takes the graph lock only
 * when lg__lock_maybe_in() says yes. */
LG__INTERNAL void lg__lock_forget_range(const void *start, size_t len);

/* What every free() reads before anything else (lockorder.c says how they
 * are kept): the lowest and highest address of a lock in the graph (hi 0:
 * none), and one bit per 16-byte granule, direct-mapped over 1 MiB of
 * address space, set while a lock of the graph starts in a granule that
 * maps to it. */
#define LG__LOCK_GRAIN 4
#define LG__LOCK_BITS (1u << 16)
extern uintptr_t lg__lock_lo __attribute__((visibility("default")));
extern uintptr_t lg__lock_hi __attribute__((visibility("default")));
extern uint64_t lg__lock_bits[LG__LOCK_BITS / 64]
    __attribute__((visibility("default")));

/* Whether a block that starts at ptr may hold a lock of the graph: one
 * load and a compare, and the answer for most blocks of most programs
 * (those with no lock taken under another have an empty graph). */
static inline int lg__lock_below(const void *ptr)
{
    return (uintptr_t)ptr - 1 <
           __atomic_load_n(&lg__lock_hi, __ATOMIC_RELAXED);
}

/* Whether a lock of the graph starts in [a, a + n), n > 0, by the
 * granules' bits alone, for a range within two words of them (at least 64
 * granules, 1 KiB): 0 or 1; -1 for a longer range (lg__lock_bits_long). */
static inline int lg__lock_bits_short(uintptr_t a, size_t n)
{
    uintptr_t g = a >> LG__LOCK_GRAIN;
    unsigned i = (unsigned)(g % LG__LOCK_BITS), sh = i % 64;
    if (LG__UNLIKELY(n - 1 > UINTPTR_MAX - a))
        return -1;
    uintptr_t left = ((a + (n - 1)) >> LG__LOCK_GRAIN) - g; /* after g */
    uint64_t w = __atomic_load_n(&lg__lock_bits[i / 64], __ATOMIC_RELAXED);
    if (LG__LIKELY(left < 64 - sh))          /* left 63: every bit */
        return ((w >> sh) & ((2ull << left) - 1)) != 0;
    if (LG__UNLIKELY(left >= 128 - sh))
        return -1;
    if (w >> sh)
        return 1;
    left -= 64 - sh;                          /* granules in the next word */
    w = __atomic_load_n(&lg__lock_bits[(i / 64 + 1) % (LG__LOCK_BITS / 64)],
                        __ATOMIC_RELAXED);
    return (w & ((2ull << left) - 1)) != 0;
}
LG__INTERNAL int lg__lock_bits_long(uintptr_t a, size_t n);
static inline int lg__lock_bits_any(uintptr_t a, size_t n)
{
    int r = lg__lock_bits_short(a, n);
    return r >= 0 ? r : lg__lock_bits_long(a, n);
}

/* Whether [a, a + n) may hold a lock of the graph: the bounds, then the
 * bits. */
static inline int lg__lock_maybe_in(uintptr_t a, size_t n)
{
    uintptr_t lo = __atomic_load_n(&lg__lock_lo, __ATOMIC_RELAXED);
    if (n == 0 || a > __atomic_load_n(&lg__lock_hi, __ATOMIC_RELAXED) ||
        (a < lo && n <= lo - a))
        return 0;
    return lg__lock_bits_any(a, n);
}

/* Reads the lock_order option; from lg__init() only. */
LG__INTERNAL void lg__lock_order_init(void);

/* Before a blocking lock waits for l, or after a timed one took it: the
 * edges from the locks held to l, each new one to the graph (with the
 * stack of this call). Before, as lockdep and TSan do: a new edge's stack
 * capture (microseconds) then never lengthens l's critical section, which
 * other threads may be queued on (V8's scavenger tasks were), and a cycle
 * is reported before the wait that would deadlock. A lock taken again
 * while held (a recursive mutex, a second read lock) adds no edge: it
 * cannot wait for what is held after it. */
static inline void lg__lock_edges(struct lg__park *p, const void *l,
                                  const char *call, const char *what)
{
    uint32_t k = p->nrec;
    if (!k || !lg__lock_order_on)
        return;
    for (uint32_t i = 0; i < k; i++)
        if (p->held[i] == l)
            return;
    if (LG__UNLIKELY(p->cache_epoch !=
                     __atomic_load_n(&lg__lock_epoch, __ATOMIC_RELAXED)))
        lg__lock_edge(p, -1, NULL, NULL, NULL);         /* drops cache */
    for (uint32_t i = 0; i < k; i++) {
        const void *from = p->held[i];
        uintptr_t h = ((uintptr_t)from >> 4) ^ ((uintptr_t)l >> 3);
        unsigned slot = (unsigned)(h ^ (h >> 7)) % LG__EDGE_CACHE;
        if (LG__UNLIKELY(p->cache[slot].from != from ||
                         p->cache[slot].to != l))
            lg__lock_edge(p, (int)i, l, call, what);
    }
}

/* After lock l was taken: recorded as held. Past LG__HELD_MAX, locks are
 * counted, not recorded. */
static inline void lg__lock_held(struct lg__park *p, const void *l,
                                 const char *what)
{
    uint32_t k = p->nrec;
    if (k < LG__HELD_MAX) {
        p->held[k] = l;
        p->held_what[k] = what;
        p->nrec = k + 1;
    }
    p->nheld++;
}

/* Before lock l is released: the innermost record of it goes (locks may
 * be released in any order); one not recorded is one of those counted.
 * The search is out of line: inlined, the compiler merged its two counter
 * updates into one 64-bit load hoisted above the fast path, which then
 * read across the lock wrapper's two 32-bit stores (a store-forwarding
 * stall: lock + unlock cost +8.8 ns, +3.0 without). */
LG__INTERNAL void lg__lock_released_slow(struct lg__park *p, const void *l);
static inline void lg__lock_released(struct lg__park *p, const void *l)
{
    uint32_t k = p->nrec;
    if (LG__LIKELY(k && p->held[k - 1] == l)) {
        p->nrec = k - 1;
        p->nheld--;
        return;
    }
    lg__lock_released_slow(p, l);
}

/* Pipes, socket pairs and eventfds (pipes.c): pipe()/pipe2() (sock 0),
 * socketpair() (sock 1) or eventfd() made fds here; fds closed (a range,
 * inclusive) or dup'ed; whether a read of fd waits for this process alone
 * (made here, a write end or the other end open here, no child process:
 * reads /proc, so never with a lock held). */
#define LG__PIPES_MAX 65536
extern uint32_t *lg__pipes __attribute__((visibility("default")));
LG__INTERNAL void lg__pipe_made(const int fds[2], int sock);
LG__INTERNAL void lg__pipe_forget(unsigned first, unsigned last);
LG__INTERNAL void lg__pipe_dup(int old, int new);
LG__INTERNAL int lg__pipe_in_process(int fd);
/* An eventfd was made here (eventfd()). */
LG__INTERNAL void lg__eventfd_made(int fd);
/* Whether fd is a pipe, an end of a socket pair or an eventfd made here
 * (and not closed since). */
LG__INTERNAL int lg__fd_made_here(int fd);
/* In a fork child: every pipe, pair and eventfd made so far is the
 * parent's too. */
LG__INTERNAL void lg__pipe_fork_child(void);

/* The key under which touch.c knows the pipe of fd, or NULL: odd, so never
 * the address of a cond or futex word. */
static inline const void *lg__pipe_key(int fd)
{
    const uint32_t *m = __atomic_load_n(&lg__pipes, __ATOMIC_ACQUIRE);
    if (LG__LIKELY(!m) || (unsigned)fd >= LG__PIPES_MAX || !m[fd])
        return NULL;
    return (const void *)(((uintptr_t)m[fd] << 1) | 1);
}

/* Copies the slot of thread tid; 0 when it has none. */
LG__INTERNAL int lg__park_find(pid_t tid, struct lg__park *out);
/* Whether some thread waits in its slot now (a read of the table). */
LG__INTERNAL int lg__park_any_waiting(void);
/* In a fork child: frees every slot but the caller's. */
LG__INTERNAL void lg__park_fork_child(void);

/* ---------------------------------------------------------------------------
 * Loops and the thread registry (registry.c).
 * ------------------------------------------------------------------------- */
#define LG__LOOP_KIND_MAP(XX)                                                 \
    XX(LIBUV, "libuv")                                                        \
    XX(EPOLL, "epoll")                                                        \
    XX(LIBEVENT, "libevent")                                                  \
    XX(LIBEV, "libev")                                                        \
    XX(GLIB, "glib")                                                          \
    XX(TOKIO, "tokio")                                                        \
    XX(POLL, "poll")                                                          \
    XX(MANUAL, "manual")                                                      \
    XX(ASYNCIO, "asyncio")

enum lg__loop_kind {
#define XX(e, s) LG__LOOP_##e,
    LG__LOOP_KIND_MAP(XX)
#undef XX
    LG__LOOP_KIND_COUNT
};

#define LG__LOOP_VIA_MAP(XX)                                                  \
    XX(ENTRY, "entry")   /* a wrapped runner such as uv_run */                \
    XX(STACK, "stack")   /* a runner frame found in the stack */              \
    XX(EPOLL, "epoll")   /* the thread waits in epoll_wait */                 \
    XX(POLL, "poll")     /* it keeps polling one set from one place */        \
    XX(API, "api")       /* lg_loop_enter() */

enum lg__loop_via {
#define XX(e, s) LG__VIA_##e,
    LG__LOOP_VIA_MAP(XX)
#undef XX
    LG__VIA_COUNT
};

LG__INTERNAL const char *lg__loop_kind_name(int kind);
LG__INTERNAL const char *lg__loop_via_name(int via);

#define LG__MAX_FRAMES 64     /* hard cap on captured frames */
#define LG__OBJ_MAX 64        /* "fd 7 (pipe)": what a call waits on */
#define LG__MAX_NEST 8        /* loop marks recorded per thread; deeper
                                 marks are counted, not recorded */

/* Where and how a thread entered one loop. */
struct lg__loop_mark {
    const void *id;                   /* loop identity (uv_loop_t *) */
    uint8_t kind;                     /* enum lg__loop_kind */
    uint8_t via;                      /* enum lg__loop_via */
    uint8_t skip;                     /* via epoll or poll: frames[skip..]
                                         are the loop's callers; 0 not
                                         known yet (lg__loop_mark_live) */
    uint16_t nframes;                 /* valid entries of frames[] */
    void *entry_caller;               /* return address of the runner
                                         call: repeated entries from the
                                         same place reuse frames[] */
    const void *runner;               /* the real runner (uv_run), shown
                                         as frame #0; NULL for the API */
    uintptr_t own_lo, own_hi;         /* the runner's object: its polls
                                         are the loop's own */
    int own_fd;                       /* the loop's epoll fd, -1 unknown */
    void *frames[LG__MAX_FRAMES];     /* stack at entry, innermost first */
};

/* Enters/leaves a loop on the calling thread. `runner` is the real loop
 * function (NULL when marked through the API), `caller` the runner call's
 * return address. Returns 0 or -EOVERFLOW (enter), 0 or -EINVAL (leave). */
LG__INTERNAL int lg__loop_enter(int kind, int via, const void *id,
                                const void *runner, void *caller);
LG__INTERNAL int lg__loop_leave(void);

/* The innermost mark of the calling thread, or NULL off a loop or when the
 * nesting is deeper than LG__MAX_NEST (then the deepest recorded one). */
LG__INTERNAL const struct lg__loop_mark *lg__loop_current(void);

/* Loops found through the stack (loopcat.c). */
struct lg__stack_loop {
    int runner;               /* index of the outermost runner frame */
    int own;                  /* the loop's own park or poll */
    int kind;                 /* enum lg__loop_kind */
    int busy_polls;           /* the runner polls between tasks when busy
                                 (tokio's current_thread) */
    const void *runner_fn;    /* start of the runner's code: the loop id */
};

/* Scans the program's symbols for runners; from lg__init() only. */
LG__INTERNAL void lg__loopcat_init(void);
/* The class of one symbol (0 foreign, 1 runtime, 2 park, 3 runner,
 * 4 allow, 5 libuv's thin wrapper, 6 libuv's fs work) and, for a runner,
 * its kind: for tests. */
LG__INTERNAL int lg__loopcat_class(const char *sym, int *kind);
/* Whether a wait with this stack (return addresses, innermost first) is
 * made inside a runner; fills v. */
LG__INTERNAL int lg__loopcat_classify(void *const *pcs, int n,
                                      struct lg__stack_loop *v);
/* Whether the call with this stack is made by a linked-in libuv's
 * uv__fs_work run on the calling thread: a synchronous fs request's. */
LG__INTERNAL int lg__loopcat_sync_fs(void *const *pcs, int n);
/* The program's load bias: .symtab values plus it are addresses. */
LG__INTERNAL uintptr_t lg__exe_bias(void);
/* Whether the object at path (a file name as the loader lists it) is one
 * of the C and C++ runtimes': libc, libstdc++, libgcc_s, the loader... */
LG__INTERNAL int lg__runtime_object(const char *path);

/* The runtimes' own waits (runtime-own.c). Whether a wait on a loop
 * thread with this stack (return addresses, innermost first) is made by
 * one of V8's or Node's own waiting points (a GC job's join, a safepoint,
 * Node's platform, Worker::JoinThread) or CPython's import lock, seen
 * through the synchronization primitives above it; or, `cond` being the
 * cond a cond wait waits on (else NULL), is CPython's GIL. Reads the
 * loaded objects' symbols (.symtab, else .dynsym) once, in
 * lg__runtime_own_prepare (the watchdog calls it when a loop appears), or
 * on its first call. */
LG__INTERNAL void lg__runtime_own_prepare(void);
LG__INTERNAL int lg__runtime_own_wait(void *const *pcs, int n,
                                      const void *cond);
/* The class of one symbol (0 foreign, 1 a primitive looked through, 2 the
 * runtime's own waiting point): for tests. */
LG__INTERNAL int lg__runtime_own_class(const char *sym);

/* CPython (python.c), read from the calling thread's own interpreter
 * state without calling the interpreter. */
#define LG__PY_FRAMES 32              /* Python frames in a report */
struct lg__sym;
struct lg__pyframe {
    const void *code;                 /* its code object */
    int lasti;                        /* instruction, in code units */
    uint8_t entry;                    /* the first Python frame of its C
                                         _PyEval_EvalFrameDefault call */
};
struct lg__pyname {
    int line;                         /* 0: unknown */
    char func[96];                    /* qualified name, UTF-8 */
    char file[192];
};
/* Looks for the interpreter's exports; from lg__init() only. */
LG__INTERNAL void lg__py_init(void);
/* 1: the process runs CPython 3.11, 3.12 or 3.13, whose layouts are
 * known; -1 another CPython (3.x: lg__py_minor() says which); 0 none. */
LG__INTERNAL int lg__py_known(void);
LG__INTERNAL unsigned lg__py_minor(void);
/* The calling thread's Python frames, innermost first, into out[0..max)
 * and, unless names is NULL, their names and lines into names[]; how
 * many. */
LG__INTERNAL int lg__py_frames(struct lg__pyframe *out,
                               struct lg__pyname *names, int max);
/* The calling thread's Python frames as a site knows them: each frame's
 * code object and its line (lasti holds the line; -1 - lasti when the
 * code has no line for it). A line, not an instruction: 3.11 calls one
 * line's function from one instruction until it specialises it, from the
 * one before after (PRECALL). */
LG__INTERNAL int lg__py_frame_lines(struct lg__pyframe *out, int max);
/* The same for another thread, tid (the watchdog's records; the watchdog
 * only): its state is found in the main interpreter's list and read with
 * process_vm_readv, which fails rather than faults on memory the thread
 * frees meanwhile. */
LG__INTERNAL int lg__py_frames_of(pid_t tid, struct lg__pyframe *out,
                                  struct lg__pyname *names, int max);
/* A native stack with k Python frames (f, names) put in: each C call of
 * _PyEval_EvalFrameDefault runs the Python frames from the one it entered
 * with to the innermost, which go just above it; frames the native stack
 * has no place for (it was cut) go at its end. Into merged[] (room for
 * n + k); returns the count. */
LG__INTERNAL int lg__py_merge(const struct lg__sym *stack, int n,
                              const struct lg__pyframe *f,
                              const struct lg__pyname *names, int k,
                              struct lg__sym *merged);
/* The asyncio event loop the calling thread runs (the self of the
 * innermost BaseEventLoop.run_forever or _run_once on its frame stack),
 * or NULL. */
LG__INTERNAL const void *lg__py_loop(void);
/* Whether a poll of the calling thread is its asyncio loop's own: its
 * selector's select, called by the loop's turn. */
LG__INTERNAL int lg__py_own_poll(void);
/* Whether the calling thread runs Python code (has a Python frame). */
LG__INTERNAL int lg__py_running(void);
/* Around a fork (init.c): the forking thread's innermost Python frame,
 * which a fork child takes as the end of its own frames; the parent keeps
 * its own. */
LG__INTERNAL void lg__py_fork_prepare(void);
LG__INTERNAL void lg__py_fork_parent(void);
/* Whether a wait on an asyncio loop thread is CPython's own, by the
 * Python function that made it (a thread's start, a child's exec). */
LG__INTERNAL int lg__py_own_wait(void);
/* Whether the handler of signal sig is CPython's SIGINT handler, which
 * wakes no wait the deadlock check looks at (python.c says why). */
LG__INTERNAL int lg__py_own_handler(int sig, const void *handler);

/* The watchdog's own descriptor table (watchdog-fds.c). On the watchdog
 * thread: leaves the program's table when that is safe; 1 when it did. */
LG__INTERNAL int lg__wdfd_leave(void);
/* A descriptor of the program's, usable on this thread: fd itself, or on
 * the watchdog out of the table a copy (-1 when none can be had), to give
 * back with lg__wdfd_return once used. */
LG__INTERNAL int lg__wdfd_borrow(int fd);
LG__INTERNAL void lg__wdfd_return(int borrowed);
/* The watchdog has left: a report callback was set (callback.c). */
LG__INTERNAL void lg__watch_reshare(void);
/* An embedder's report callback is set. */
LG__INTERNAL int lg__cb_set(void);

/* The outermost recorded mark of the calling thread, or NULL. */
LG__INTERNAL const struct lg__loop_mark *lg__loop_outer(void);
/* The loop a wait of the calling thread stalls: its innermost mark, or the
 * outer one when the innermost is a private loop run inside another's
 * callback (loop-hint.c); NULL off a loop. */
LG__INTERNAL const struct lg__loop_mark *lg__loop_stalled(void);

/* Polls and epoll (loop-hint.c). Whether a poll with a timeout, on a loop
 * thread, is the loop's own wait: made from the runner's library, or on
 * the loop's epoll fd (fd, -1 for poll and select). A mark that knows no
 * fd (the API's, a hint's) adopts the first epoll fd waited on. A loop
 * nested in another's callback owns nothing: it stalls the outer one. */
LG__INTERNAL int lg__loop_own_wait(int fd, void *caller);
/* The same for a poll that does not wait, which adopts no fd: a loop
 * iteration, a sign of life for the watchdog. */
LG__INTERNAL int lg__loop_own_poll(int fd, void *caller);
/* A thread on no loop waits in epoll with a timeout: it hosts an epoll
 * loop (kind epoll, via epoll), whose function called from `caller`. */
LG__INTERNAL void lg__epoll_hint(int epfd, void *caller);
/* The calling thread closed fd: when it is its epoll loop's, the loop is
 * over. */
LG__INTERNAL void lg__epoll_closed(int fd);
/* A thread on no loop waits in poll, ppoll, select or pselect, from
 * `caller`, on descriptors whose set hashes to sig (nfds of them). Three
 * such waits in a row from one place on one set of two or more: it hosts
 * a loop (kind poll, via poll) whose own wait is that call. Returns 1
 * when it does (this call is its own wait), else 0. Off the fast path of
 * threads on no loop, so cheap: a compare and a count per call. */
LG__INTERNAL int lg__poll_hint(uint64_t sig, int nfds, void *caller);
/* Whether the mark ends with the function that made it (via epoll or
 * poll): checked against the stack of each call (lg__loop_mark_live). */
static inline int lg__mark_by_behaviour(const struct lg__loop_mark *m)
{
    return m && (m->via == LG__VIA_EPOLL || m->via == LG__VIA_POLL);
}
/* Whether the function that entered mark m (via epoll or poll) is still
 * running, seen from the current stack pcs[0..n): for a poll mark, the
 * first check decides whether that is the function that polled or its
 * caller (m->skip). */
LG__INTERNAL int lg__loop_mark_live(struct lg__loop_mark *m,
                                    void *const *pcs, int n);
/* The executable mapping of the object that contains addr. */
LG__INTERNAL int lg__object_span(const void *addr, uintptr_t *lo,
                                 uintptr_t *hi);

/* Signs of life for the stall watchdog. lg__loop_idle(1) just before a
 * loop's own wait, (0) right after it; lg__loop_tick() for an own poll
 * that does not wait. Cheap: stores to the caller's record. */
LG__INTERNAL void lg__loop_idle(int idle);
LG__INTERNAL void lg__loop_tick(void);
/* Threads of this process found on a loop so far (a fork child counts
 * only the thread that forked, once it runs its loop again). */
LG__INTERNAL uint32_t lg__loops_found(void);
/* The child of a fork made on a loop thread runs no loop: its parent does.
 * Its marks are kept but asleep (no report, no stall) until the thread
 * waits as the loop again (lg__loop_idle(1)) or enters a runner, as a
 * child that goes back to its loop does. Whether the calling thread's are
 * asleep. */
LG__INTERNAL int lg__loop_dormant(void);
/* Counts this thread among them, once (called for every record, and for
 * a loop found that is not watched for stalls). */
LG__INTERNAL void lg__loop_found(void);
struct lg__wait;
/* The calling thread, on no marked loop, waits in the own park or poll of
 * a loop found through its stack (sl, pcs[0..n)); `poll` when that wait
 * is an epoll_wait. From now on it is watched for stalls like a marked
 * loop thread, if its kind of loop can be. */
LG__INTERNAL void lg__stack_loop_own(const struct lg__stack_loop *sl,
                                     void *const *pcs, int n, int poll);
/* The watchdog found that thread `gen` left its stack-found loop. */
LG__INTERNAL void lg__registry_left(uint64_t gen);
/* A loop thread is in a wrapped blocking call whose stack it captured
 * (report.c): the watchdog shows that stack rather than interrupt it. */
LG__INTERNAL void lg__loop_in_call(const struct lg__wait *w,
                                   void *const *pcs, int n);
LG__INTERNAL void lg__loop_out_call(void);

/* What the watchdog sees of one loop thread (copied under the registry
 * lock: a record is freed when its thread exits). */
struct lg__loop_view {
    uint64_t gen;                     /* the record's identity */
    pid_t tid;
    uint32_t progress;                /* changes whenever the loop polls */
    uint64_t busy_ns;                 /* when it last went busy (0: never
                                         seen): a stall's start */
    uint8_t idle;                     /* inside the loop's own wait */
    uint8_t in_call;                  /* in a wrapped call: below valid */
    uint8_t has_mark;
    uint8_t stack_found;              /* a loop found through its stack:
                                         check it is still on it */
    uint64_t loop_since_ns;           /* its grace period's start */
    const char *call;
    char object[LG__OBJ_MAX];
    int64_t timeout_ns;
    int nwait;
    void *wait_pcs[LG__MAX_FRAMES];
    struct lg__loop_mark mark;        /* the loop it stalls */
};
/* The watchdog reported a stall of record gen, whose progress it last saw
 * at `seen`, lasting since since_ns: the thread writes the end record when
 * it is back in its loop. Returns 0 when the record is gone, -1 when the
 * thread was already back (the caller writes the end), else 1. */
LG__INTERNAL int lg__registry_stalled(uint64_t gen, uint64_t since_ns,
                                      uint32_t seen);
/* Writes the end of a stall of thread tid, on loop m (may be NULL). */
LG__INTERNAL void lg__stall_end(pid_t tid, const struct lg__loop_mark *m,
                                uint64_t ns);
/* Copies up to max loop threads (on a loop now) into out; returns the
 * count. */
LG__INTERNAL int lg__registry_loops(struct lg__loop_view *out, int max);
/* 1 while the calling thread is inside its grace period (grace_ms from
 * the time it first became a loop thread). */
LG__INTERNAL int lg__loop_in_grace(void);

/* Number of threads that have a registry record (tests; takes the lock). */
LG__INTERNAL unsigned lg__registry_count(void);

/* The calling thread's kernel id, cached in its record when it has one. */
LG__INTERNAL pid_t lg__gettid(void);

/* ---------------------------------------------------------------------------
 * Options (options.c).
 * ------------------------------------------------------------------------- */
enum lg__format { LG__FORMAT_TEXT, LG__FORMAT_JSON };
enum lg__mode { LG__MODE_REPORT, LG__MODE_ABORT };

#define LG__LOG_PATH_MAX 1024
#define LG__SUPP_FILES_MAX 8          /* suppressions= files, all keys */

struct lg__options {
    char log[LG__LOG_PATH_MAX];   /* "" = stderr; may hold %p */
    int format;                   /* enum lg__format */
    int mode;                     /* enum lg__mode */
    int exitcode;                 /* exit status forced at exit when a
                                     violation was reported; 0 = leave */
    int dedupe;                   /* 1: report each unique site once */
    int max_frames;               /* frames printed per stack, 1..64 */
    int stall_ms;                 /* watchdog threshold; 0: no watchdog */
    int lock_order;               /* 1: keep the lock-order graph */
    int grace_ms;                 /* a loop thread's first ms in which
                                     nothing is reported; 0: none */
    int symbolize_ms;             /* a report's wait for file:line from
                                     the symbolizer; 0: none asked */
    struct lg__paths {            /* a key each entry of which adds */
        int n;
        char path[LG__SUPP_FILES_MAX][LG__LOG_PATH_MAX];
    } suppressions;               /* suppressions files, in order */
    int max_reports;              /* records written at most (the summary
                                     aside); 0: no cap */
};

/* Sets every option to its default. */
LG__INTERNAL void lg__options_defaults(struct lg__options *o);

/* Parses a LOOPGUARD_OPTIONS string ("key=value:key=value", values may be
 * quoted with ' or ") into *o, which the caller has set to defaults. Each
 * bad key or value leaves that option at its default and produces one line
 * (without newline) passed to err(arg, line). Returns the number of bad
 * entries. Never allocates; s may be NULL. */
LG__INTERNAL int lg__options_parse(struct lg__options *o, const char *s,
                                   void (*err)(void *arg, const char *line),
                                   void *arg);

/* Appends "key=value" to b so that lg__options_parse reads value back
 * exactly (quoted when it holds a separator or a quote): for the launcher,
 * which turns its flags into LOOPGUARD_OPTIONS. */
struct lg__buf;
LG__INTERNAL void lg__options_put(struct lg__buf *b, const char *key,
                                  const char *value);

/* The process's options, set once by lg__init(). */
extern struct lg__options lg__opt LG__INTERNAL;

/* ---------------------------------------------------------------------------
 * Process set-up (init.c).
 * ------------------------------------------------------------------------- */

/* Reads options, loads libunwind, registers atexit/atfork handlers.
 * Idempotent and thread-safe; called by the preload's constructor and
 * lazily from slow paths. */
LG__INTERNAL void lg__init(void);

/* True once the preload's constructor ran: the detector is loaded, so
 * lg_chan's refusals of blocking calls on loop threads are reported. */
LG__INTERNAL int lg__detector_active(void);
LG__INTERNAL void lg__detector_mark_active(void);

/* Set once exit() began: reports of exit-time blocking (library destructors
 * joining their threads) are dropped. */
extern volatile int lg__exiting LG__INTERNAL;

/* Monotonic and wall clocks in nanoseconds. */
LG__INTERNAL uint64_t lg__now_ns(void);
/* lg__now_ns's clock as of the kernel's last tick (a few ms behind at
 * most, never ahead), at a third of its cost: for times taken on every
 * turn of a loop. */
LG__INTERNAL uint64_t lg__coarse_ns(void);
LG__INTERNAL uint64_t lg__wall_ns(void);

/* ---------------------------------------------------------------------------
 * Stacks (stack.c) and symbols (symbolize.c).
 * ------------------------------------------------------------------------- */

/* Captures up to `max` return addresses of the calling thread, innermost
 * first, skipping the frames of loopguard's own two libraries. Returns the
 * count (0 when libunwind is unavailable). Allocates nothing once the thread
 * has captured once. */
LG__INTERNAL int lg__stack_capture(void **pcs, int max);
/* The same for the innermost frames only, at most max (<= 16): it unwinds
 * max + 8 frames, not max + 16, so a wrapped runner's frames in the middle
 * of the stack may leave fewer. */
LG__INTERNAL int lg__stack_capture_top(void **pcs, int max);

/* Stacks remembered by their innermost frames (stack-memo.c), for the
 * lock-order graph's edges: an edge whose acquisition has the innermost
 * LG__MEMO_TOP frames of one captured before takes that capture's stack,
 * and unwinds only those frames. Bounded (direct-mapped, an entry
 * replaced by the next that maps to it); no lock of its own: the caller
 * serialises (lockorder.c, under its graph lock). */
#define LG__MEMO_TOP 6
#define LG__EDGE_FRAMES 24     /* frames a lock-order edge keeps */
struct lg__memo_key {
    int n;                     /* < LG__MEMO_TOP: the stack is not known by
                                  its top (too shallow): never stored */
    uint64_t hash;
    void *top[LG__MEMO_TOP];
};
/* Captures the calling thread's innermost frames into k. */
LG__INTERNAL void lg__memo_key(struct lg__memo_key *k);
/* The stack stored for k into frames (at most max): its length, or -1. */
LG__INTERNAL int lg__memo_get(const struct lg__memo_key *k, void **frames,
                              int max);
LG__INTERNAL void lg__memo_put(const struct lg__memo_key *k,
                               void *const *frames, int n);
/* Runs libunwind once on this thread, while it holds no lock of ours to
 * record: its first use on a thread allocates (its thread-local storage,
 * dlopen'd, is made by malloc), and a lock-order edge is captured while
 * the program's locks are held. A malloc that takes pthread mutexes
 * (jemalloc) would wait there for a lock its own thread holds. Called
 * when the thread claims its wait slot, at its first lock or wait. */
LG__INTERNAL void lg__stack_warm(void);
/* libunwind's own pipe (stack.c): noted when it makes it, forgotten when
 * the program closes or replaces either number. While it unwinds, a read
 * of any other descriptor is refused (EBADF: libunwind then makes a new
 * pipe), and so is a close (it would close the program's descriptor). */
LG__INTERNAL int lg__unwind_fd_ours(int fd);
/* Whether pc (a wrapper's return address) lies in libunwind's code: only
 * its own calls are checked, not a signal handler's that interrupted it. */
LG__INTERNAL int lg__unwind_caller(const void *pc);
LG__INTERNAL void lg__unwind_pipe_made(const int fds[2]);
LG__INTERNAL void lg__unwind_fds_gone(unsigned first, unsigned last);

/* True when pc lies in libloopguard.so or libloopguard-preload.so. */
LG__INTERNAL int lg__pc_is_ours(uintptr_t pc);
/* Declares the object containing addr as loopguard's own (the preload calls
 * this from its constructor with one of its functions). */
LG__INTERNAL void lg__stack_own_module(const void *addr);
/* Loads libunwind; from lg__init() only. */
LG__INTERNAL void lg__stack_init(void);
/* Whether uv_run is on the calling thread's stack (chan-uvrun.c). */
LG__INTERNAL int lg__in_uv_run(void);

/* One frame, resolved. Strings point into storage that lives as long as the
 * process (module table, mapped symbol tables, the loader's own strings). */
struct lg__sym {
    uintptr_t pc;             /* address as captured */
    const char *module;       /* full path of the object, or NULL */
    uintptr_t modoff;         /* pc - load bias: what addr2line wants */
    const char *name;         /* symbol, still mangled; NULL if unknown */
    uintptr_t symoff;         /* pc - symbol start */
};

/* A Python frame in a report's stack (report.c) has no pc: name is its
 * function's qualified name, module its file, modoff its line (0
 * unknown), and symoff this tag. */
#define LG__SYM_PYTHON UINTPTR_MAX
static inline int lg__sym_python(const struct lg__sym *s)
{
    return s->pc == 0 && s->symoff == LG__SYM_PYTHON;
}

/* Room for a stack with its Python frames put in (report.c). */
struct lg__py_stack {
    struct lg__pyframe f[LG__PY_FRAMES];
    struct lg__pyname names[LG__PY_FRAMES];
    struct lg__sym merged[LG__MAX_FRAMES + 1 + LG__PY_FRAMES];
};
/* Another thread's (tid's) Python frames put in its symbolized stack
 * (*stack, *n), in buf; returns how many (0: none, the stack left as it
 * was). The watchdog's records; on the watchdog only. */
LG__INTERNAL int lg__py_stack_of(pid_t tid, const struct lg__sym **stack,
                                 int *n, struct lg__py_stack *buf);

/* Resolves one address. `is_return` is 1 for return addresses (looked up at
 * pc - 1 so a call at the end of a function names that function). Finds the
 * object with _dl_find_object and the name in the object's own symbol table
 * (.symtab, or a debug file found by build-id or .gnu_debuglink), so static
 * functions are named; dladdr is the fallback. Where names alias, the plain
 * exported one wins. May mmap files on a module's first use: call with
 * in_shim set, never with the site lock held. Not async-signal-safe. */
LG__INTERNAL void lg__symbolize(uintptr_t pc, int is_return,
                                struct lg__sym *out);
/* The absolute path of the file mapped at addr, from /proc/self/maps:
 * 0, or -1 when none is. */
LG__INTERNAL int lg__maps_path(uintptr_t addr, char *out, size_t cap);

/* Source lines (srcline.c, from the symbolizer process: symbolizer.h).
 * One frame as DWARF has it; strings live as long as the process. */
struct lg__src {
    const char *func;         /* linkage or plain name; NULL: unknown */
    const char *file;         /* NULL: unknown */
    uint32_t line;            /* 0: unknown */
};
/* What is known of frame s: the functions inlined at its address,
 * innermost first, then the function it is in; returns their count (0:
 * nothing, the frame is shown as without debug information) and sets
 * *out. Lock-free; never asks the symbolizer. */
LG__INTERNAL int lg__src_find(const struct lg__sym *s,
                              const struct lg__src **out);

/* Writes the demangled form of `name` (C++ via the process's __cxa_demangle
 * when it has one, Rust legacy and v0 here) into out, NUL-terminated and
 * truncated to cap. Names that are not mangled are copied. Returns the
 * length written. May call malloc (through __cxa_demangle). */
LG__INTERNAL size_t lg__demangle(const char *name, char *out, size_t cap);
/* Rust names only, legacy or v0, into out as lg__demangle does; 0 when
 * name is not one. No allocation: safe where malloc is not. */
LG__INTERNAL size_t lg__demangle_rust(const char *name, char *out,
                                      size_t cap);
/* Rust v0 names (_R...) only, without crate hashes: 0 when sym is not
 * one. Output NUL-terminated and truncated to cap; returns the length
 * written. No allocation, bounded recursion. */
LG__INTERNAL size_t lg__demangle_rust_v0(const char *sym, char *out,
                                         size_t cap);

/* ---------------------------------------------------------------------------
 * Descriptors (fdclass.c): may a receive on this fd wait for someone else?
 * One byte per fd, learnt with one fstat+fcntl the first time a loop thread
 * uses the fd, forgotten when the fd is closed or its flags change.
 * ------------------------------------------------------------------------- */
enum lg__fd_state {
    LG__FD_UNKNOWN = 0,       /* not classified yet */
    LG__FD_NONBLOCK = 1,      /* O_NONBLOCK: never waits */
    LG__FD_BLOCKING = 2,      /* may wait for another thread or process */
    LG__FD_NEVER = 3          /* regular file, directory, block device,
                                 /dev/null & co: never a receive */
};
#define LG__FD_STATE_MASK 0x03u
#define LG__FD_KIND_SHIFT 2   /* bits 2..5: enum lg__fd_kind */
#define LG__FD_KIND_MASK 0x3cu
#define LG__FD_SHARED 0x80u   /* dup'ed in this process: its O_NONBLOCK
                                 flag is shared with other descriptors */

#define LG__FD_KIND_MAP(XX)                                                   \
    XX(OTHER, "fd")                                                           \
    XX(PIPE, "pipe")                                                          \
    XX(SOCKET, "socket")                                                      \
    XX(NETLINK, "netlink")                                                    \
    XX(EVENTFD, "eventfd")                                                    \
    XX(TIMERFD, "timerfd")                                                    \
    XX(SIGNALFD, "signalfd")                                                  \
    XX(INOTIFY, "inotify")                                                    \
    XX(TTY, "tty")                                                            \
    XX(CHARDEV, "chardev")                                                    \
    XX(FILE, "file")

enum lg__fd_kind {
#define XX(e, s) LG__FDK_##e,
    LG__FD_KIND_MAP(XX)
#undef XX
    LG__FDK_COUNT
};

/* The cached bytes: LG__FD_PAGES pages of 2^LG__FD_PAGE_BITS fds, each
 * mapped on first use (fdclass.c). */
#define LG__FD_PAGE_BITS 16
#define LG__FD_PAGES 256
extern uint8_t *lg__fd_pages[LG__FD_PAGES]
    __attribute__((visibility("default")));
LG__INTERNAL unsigned lg__fd_class_slow(int fd);

/* The cached byte for fd, classifying it first if unknown (one or two
 * system calls). Never caches for negative fds. A known fd of the first
 * page (nearly all) costs two loads here, with no call: every receive of
 * a loop thread asks. */
static inline unsigned lg__fd_class(int fd)
{
    if (LG__LIKELY((unsigned)fd < (1u << LG__FD_PAGE_BITS))) {
        uint8_t *page = __atomic_load_n(&lg__fd_pages[0], __ATOMIC_ACQUIRE);
        unsigned v = page ? __atomic_load_n(&page[fd], __ATOMIC_RELAXED) : 0;
        if (LG__LIKELY(v & LG__FD_STATE_MASK))
            return v;
    }
    return lg__fd_class_slow(fd);
}
/* Forgets what is known about fd (close, creation). */
LG__INTERNAL void lg__fd_forget(int fd);
/* fd and dup now share one open file description (dup, dup2, dup3,
 * F_DUPFD): both are forgotten and marked shared. */
LG__INTERNAL void lg__fd_dup(int old, int new);
/* fd's O_NONBLOCK may have changed (F_SETFL, FIONBIO): forgets it, and
 * when it was dup'ed, every shared descriptor's state too. */
LG__INTERNAL void lg__fd_flags_changed(int fd);
LG__INTERNAL void lg__fd_forget_range(unsigned first, unsigned last);
/* fd was closed, or its number taken by a new descriptor: forgets its
 * class, and that it was a pipe made here (lg__fd_forget alone keeps the
 * latter: a class is re-learnt, a pipe's identity is not). */
LG__INTERNAL void lg__fd_closed(int fd);
/* Records what a wrapper learnt for certain (e.g. EAGAIN from a "blocking"
 * fd proves O_NONBLOCK was set behind our back). */
LG__INTERNAL void lg__fd_set_state(int fd, unsigned state);
LG__INTERNAL const char *lg__fd_kind_name(unsigned cls);

/* ---------------------------------------------------------------------------
 * Blocking calls on loop threads (report.c). A wrapper that found a call
 * that may block on a loop thread fills a struct lg__wait, calls
 * lg__wait_begin() before forwarding (a call that never returns must still
 * be reported) and lg__wait_end() after.
 * ------------------------------------------------------------------------- */
struct lg__wait {
    const char *call;         /* the wrapped function's name */
    char object[LG__OBJ_MAX]; /* what it waits on: "fd 7 (pipe)" */
    int64_t timeout_ns;       /* -1: waits without a timeout */
    void *caller;             /* wrapper's return address */
    void *fn;                 /* the real function: frame #0 of reports */
    uint64_t start_ns;        /* set by begin */
    void *site;               /* set by begin when the call counts */
    int decided;              /* the caller judged it a loop's blocking
                                 call: no library ignore, no stack test
                                 (a nested loop's poll, lg_chan's refusal) */
    int noted;                /* set by begin: the watchdog was told */
    int own;                  /* set by begin: a stack-found loop's own
                                 wait, the loop is idle until end */
    int recorded;             /* set by begin: its record was written, so
                                 end writes when it returned */
    uint64_t key;             /* set by begin with recorded: its site */
    const void *touch;        /* a cond, futex word or pipe key: checked
                                 for a self-wait (touch.c); NULL otherwise */
    int touch_fd;             /* the pipe's fd when touch is a pipe key */
    int fs_only;              /* counts only inside a synchronous libuv fs
                                 request (a write, an open of a FIFO):
                                 begin decides from the stack */
};

/* Decides whether the call is a violation (not loopguard's own work, not a
 * default suppression, not after exit began), reports it (or counts it
 * against its site when already reported), and in abort mode aborts. Sets
 * in_shim while it runs; preserves errno. */
LG__INTERNAL void lg__wait_begin(struct lg__wait *w);
/* Adds the call's duration to its site. Preserves errno. */
LG__INTERNAL void lg__wait_end(struct lg__wait *w);
/* For pthread_cleanup_push around the forwarded call. */
LG__INTERNAL void lg__wait_cancelled(void *w);

/* A record ready to format: everything resolved, nothing left to look up
 * but demangled names. */
enum lg__record_type {
    LG__REC_BLOCKING_CALL,
    LG__REC_SUMMARY,
    LG__REC_STALL,
    LG__REC_DEADLOCK,
    LG__REC_LOCK_ORDER,
    LG__REC_CAP_REACHED,      /* max_reports reached: written once */
    LG__REC_BLOCKING_END      /* a reported call returned (JSON only) */
};

/* One thread of a deadlock record, or one edge of a lock-order cycle: the
 * thread that took `object` while holding `held`. */
struct lg__thread_report {
    pid_t tid;
    char name[17];
    const char *call;
    char object[LG__OBJ_MAX];
    char held[LG__OBJ_MAX];           /* edges only */
    const struct lg__sym *stack;      /* deadlock: frame 0 is the exact pc */
    int nstack;
};

struct lg__summary_site {
    uint64_t site;            /* stack hash */
    const char *call;
    uint64_t count;           /* calls made at this site */
    uint64_t blocked_ns;      /* time spent in them */
    struct lg__sym where;     /* first frame outside the wrapped call */
};

/* A suppression rule that suppressed something, for the summary. */
struct lg__summary_rule {
    const char *rule;         /* as written in its file */
    const char *file;
    int line;
    uint64_t count;           /* records (blocking calls) suppressed */
};

struct lg__record {
    int type;                 /* enum lg__record_type */
    uint64_t ts_ns;           /* wall clock */
    pid_t pid, tid;
    char thread[17];          /* thread name (prctl PR_GET_NAME) */
    /* blocking_call */
    const char *call;
    const char *object;
    int64_t timeout_ns;       /* -1: none */
    int has_loop;             /* 0: the loop's mark was not recorded */
    int loop_kind, loop_via;
    const void *loop_id;
    uint64_t site;
    const struct lg__sym *stack;
    int nstack;
    const struct lg__sym *loop_stack;
    int nloop_stack;
    int self_wait;            /* only this thread ever signalled object */
    int py_frames;            /* Python frames in stack[]; -1: a CPython
                                 whose frames loopguard cannot read */
    /* blocking_end (also call, site) */
    uint64_t blocked_ns;      /* how long the reported call took */
    /* stall (also call, object, timeout_ns, loop, stack, loop_stack) */
    int stall_ended;          /* the follow-up: the thread is back */
    uint64_t stalled_ns;
    const char *doing;        /* when call is NULL: "running", ... */
    /* deadlock */
    const struct lg__thread_report *threads;
    int nthreads;             /* listed in threads[] */
    int threads_total;
    /* summary */
    const struct lg__summary_site *sites;
    int nsites;               /* listed in sites[] */
    int sites_total;          /* all sites, listed or not */
    uint64_t count_total, blocked_ns_total;
    uint64_t in_grace;        /* calls and stalls inside a grace period */
    uint64_t allowed;         /* calls inside lg_allow_blocking scopes */
    const struct lg__summary_rule *rules;     /* used suppressions */
    int nrules;
    int sites_lower_bound;    /* the set of site keys was full: more
                                 sites than sites_total may exist */
    uint64_t unattr_count;    /* calls at sites past the site table (in
                                 count_total, in no sites[] entry) */
    uint64_t unattr_ns;       /* their time blocked */
    uint64_t not_written;     /* records max_reports kept from the log */
    uint64_t lost;            /* records neither the log nor stderr took */
    uint32_t loops_found;     /* threads ever found on a loop */
    /* cap_reached */
    uint64_t max_reports;
};

/* Formats one record, newline-terminated, into buf (at most cap bytes,
 * cap <= LG__RECORD_MAX). When the record does not fit, trailing frames are
 * dropped (and counted in the record) so the result is always complete and
 * well-formed. Returns the length. Calls lg__demangle. */
/* Asks the symbolizer about the frames of r that the table does not know
 * yet, waiting symbolize_ms at most: before formatting, holding no lock of
 * the report path. */
LG__INTERNAL void lg__src_fill(const struct lg__record *r);
LG__INTERNAL size_t lg__format_text(char *buf, size_t cap,
                                    const struct lg__record *r,
                                    int max_frames);
LG__INTERNAL size_t lg__format_json(char *buf, size_t cap,
                                    const struct lg__record *r,
                                    int max_frames);

/* Writes "cond 0x7f..."-style object names without snprintf. */
LG__INTERNAL void lg__object_ptr(struct lg__wait *w, const char *what,
                                 const void *p);
LG__INTERNAL void lg__object_fd(struct lg__wait *w, int fd, unsigned cls);
/* "fifo '/run/x'": an object named by a path (quoted, cut at 40 bytes). */
LG__INTERNAL void lg__object_path(struct lg__wait *w, const char *what,
                                  const char *path);
/* "mq 3", "msq 65537": an object named by a number. */
LG__INTERNAL void lg__object_num(struct lg__wait *w, const char *what,
                                 long n);

/* Writes one record; `violation` counts it for exitcode. Takes the
 * emit lock; then calls the embedder's callback, if any: call it holding
 * none of our locks. A caller that must hold one writes with
 * lg__report_write and, once it dropped them, hands the returned copy
 * (NULL: no callback) to lg__cb_give. lg__report_emit returns 0, writing
 * and counting nothing, when a suppression rule covers the record (a
 * stall, deadlock or lock-order inversion); lg__report_write's callers ask
 * lg__report_suppressed first. */
LG__INTERNAL int lg__report_emit(const struct lg__record *r, int violation);
LG__INTERNAL char *lg__report_write(const struct lg__record *r,
                                    int violation, size_t *len);
/* 1 when a suppression rule covers the record, which it then counts. */
LG__INTERNAL int lg__report_suppressed(const struct lg__record *r);
/* Sets the record's clock, pid, and thread tid with its name. */
LG__INTERNAL void lg__report_fill_thread(struct lg__record *r, pid_t tid);

/* Totals since start (tests and the summary). */
LG__INTERNAL uint64_t lg__violations(void);
/* In a fork child (init.c's atfork handler): the child counts, dedupes
 * and caps what it does itself, as its own summary and exitcode say; the
 * parent's sites, totals and suppression counts are forgotten. */
LG__INTERNAL void lg__report_fork_child(void);
LG__INTERNAL void lg__supp_fork_child(void);
/* Records reported so far (lg_reports()). */
LG__INTERNAL uint64_t lg__reports(void);
/* The embedder's report callback (callback.c). lg__cb_take returns a
 * buffer of LG__RECORD_MAX bytes to format the record's JSON into, or NULL
 * when no callback is set; lg__cb_give calls the callback with it (len
 * bytes, a trailing newline dropped) and takes the buffer back. Between
 * the two the caller may drop its own locks: the callback runs holding
 * none of ours. */
LG__INTERNAL void lg__cb_init(void);
LG__INTERNAL char *lg__cb_take(void);
LG__INTERNAL void lg__cb_give(char *buf, size_t len);
/* A stall not reported because its loop was in its grace period. */
LG__INTERNAL void lg__count_in_grace(void);
/* Sets up the site table (from lg__init()). */
LG__INTERNAL void lg__report_init(void);
/* Writes the `summary` record when anything was reported or suppressed
 * (at exit). */
LG__INTERNAL void lg__report_summary(void);

/* ---------------------------------------------------------------------------
 * Suppression rules (suppress.c; the syntax is in docs/options.md). A rule
 * is [TYPE:]KIND:GLOB, for one record type (blocking_call unless given);
 * rules are kept in file order, and the first that matches a record is the
 * one that suppressed it. Rules are read once at start-up into one fixed
 * block of arena memory, and never change after.
 * ------------------------------------------------------------------------- */
#define LG__SUPP_MAX 256              /* rules, all files together */
#define LG__SUPP_LINE_MAX 256         /* a rule's bytes, with its NUL */

#define LG__SUPP_KIND_MAP(XX)                                                 \
    XX(CALL, "call")          /* the wrapped call */                          \
    XX(CALLER, "caller")      /* the first frame outside the C runtime and   \
                                 the loop library */                          \
    XX(FUNCTION, "function")  /* any frame */                                 \
    XX(MODULE, "module")      /* any frame's module path */

enum lg__supp_kind {
#define XX(e, s) LG__SUPP_##e,
    LG__SUPP_KIND_MAP(XX)
#undef XX
    LG__SUPP_KIND_COUNT
};

struct lg__supp_rule {
    uint8_t type;             /* enum lg__record_type it applies to */
    uint8_t kind;             /* enum lg__supp_kind */
    uint16_t pattern;         /* offset of the glob in text[] */
    uint16_t file;            /* index in lg__supp.files[] */
    int line;                 /* 1 for a file's first line */
    uint64_t count;           /* atomic: records suppressed */
    char text[LG__SUPP_LINE_MAX];     /* the rule as written, trimmed */
};

struct lg__supp {
    int nrules;
    int nfiles;
    int full;                 /* LG__SUPP_MAX reached: said once */
    uint8_t kinds[LG__REC_LOCK_ORDER + 1];    /* per record type, a bit
                                                 per kind it has rules of */
    uint64_t call_cache[64];  /* atomic: blocking_call call: verdicts, by
                                 the call name's address (lg__supp_call) */
    char files[LG__SUPP_FILES_MAX][LG__LOG_PATH_MAX];
    struct lg__supp_rule rules[LG__SUPP_MAX];
};

/* Messages name FILE:LINE (FILE alone, line 0, for the whole file), say
 * what is wrong, and are one line without a newline; the caller says what
 * happens next ("line ignored"; the launcher stops). */
typedef void (*lg__supp_err)(void *arg, int line, const char *msg);

/* Adds the rules of one file's text (n bytes, any bytes) to s, with
 * `file` as its name. Returns the number of messages given to err. Never
 * allocates; s must be zeroed before its first file. */
LG__INTERNAL int lg__supp_parse(struct lg__supp *s, const char *file,
                                const char *text, size_t n, lg__supp_err err,
                                void *arg);
/* The same for the file at path `file`, read with open/read in small
 * pieces: a file that cannot be read gives one message. */
LG__INTERNAL int lg__supp_load(struct lg__supp *s, const char *file,
                               lg__supp_err err, void *arg);
/* Whether glob (with * and ?) matches all of str. */
LG__INTERNAL int lg__supp_glob(const char *glob, const char *str);

/* The process's rules: reads lg__opt's suppressions files (from lg__init()
 * only); messages go to stderr. */
LG__INTERNAL void lg__supp_init(void);
/* The index of the process's first rule (in s when s is not NULL) that
 * suppresses a record of `type` made by `call` (may be NULL) with stack
 * f[0..n) (innermost first, the wrapped function left out), or -1. Calls
 * lg__demangle: call with in_shim set. */
LG__INTERNAL int lg__supp_match(const struct lg__supp *s, int type,
                                const char *call, const struct lg__sym *f,
                                int n);
/* The rule for a stall, deadlock or lock-order record (any of its
 * threads or edges), or -1. */
LG__INTERNAL int lg__supp_record(const struct lg__record *r);
/* A blocking call's call: rule, or -1, without a stack: a few loads once
 * the call name was seen (names are string constants). */
LG__INTERNAL int lg__supp_call(const char *call);
/* Whether the process has blocking_call rules that need the stack. */
LG__INTERNAL int lg__supp_need_stack(void);
/* Counts one record suppressed by rule i of the process. */
LG__INTERNAL void lg__supp_hit(int i);
/* Fills out[] with the rules that suppressed something (at most max), in
 * file order; returns how many there are in all. */
LG__INTERNAL int lg__supp_used(struct lg__summary_rule *out, int max);

/* Who touched a cond or futex word (touch.c): the calling thread signals
 * it (signal 1) or waits on it (0). A thread that signals the same object
 * again and again (a producer's cond, a mutex's futex word) finds it in its
 * two-entry cache: a few loads, no table. lg__touch_forget bumps the epoch,
 * which empties every thread's cache at once. */
LG__INTERNAL void lg__touch_slow(const void *obj, int signal);
LG__INTERNAL extern uint32_t lg__touch_epoch;
static inline int lg__touch_cached(const void *obj)
{
    return LG__LIKELY(obj == lg__tls.touch_done[0] ||
                      obj == lg__tls.touch_done[1]) &&
           LG__LIKELY(lg__tls.touch_epoch ==
                      __atomic_load_n(&lg__touch_epoch, __ATOMIC_RELAXED));
}
static inline void lg__touch(const void *obj, int signal)
{
    if (!lg__touch_cached(obj))
        lg__touch_slow(obj, signal);
}
/* Whether the calling thread is the only one that ever touched obj, and
 * has signalled it: a wait on it can only be ended by itself. */
LG__INTERNAL int lg__touched_only_by_me(const void *obj);
/* obj is made anew (pthread_cond_init): who touched it before is past. */
LG__INTERNAL void lg__touch_forget(const void *obj);

/* ---------------------------------------------------------------------------
 * The watchdog (watchdog.c, deadlock.c, sample.c). It runs on its own
 * thread, where allocation and system calls are allowed.
 * ------------------------------------------------------------------------- */

/* Starts the watchdog unless it runs or stall_ms is 0. Cheap once started:
 * called on every loop entry. */
LG__INTERNAL void lg__watch_start(void);
/* The same for a loop thread: the watchdog then stays for good. */
LG__INTERNAL void lg__watch_loop(void);
LG__INTERNAL void lg__watch_fork_child(void);
/* The watchdog thread's kernel id, 0 before it runs. */
LG__INTERNAL pid_t lg__watch_tid(void);
/* /proc/self/task/<tid>: one file read into buf (NUL-terminated), the
 * thread's name, its scheduler state letter ('R', 'S', 'Z', '?'). */
LG__INTERNAL int lg__task_read(pid_t tid, const char *file, char *buf,
                               size_t cap);
LG__INTERNAL void lg__task_name(pid_t tid, char name[17]);
LG__INTERNAL char lg__task_state(pid_t tid);
/* Calls fn(number, arg) for each numeric entry of a /proc directory
 * (threads, descriptors) until it returns non-zero; returns that, or -1
 * when the directory cannot be read. */
LG__INTERNAL int lg__proc_each(const char *dir, int (*fn)(int num, void *arg),
                               void *arg);
/* The system call the thread is in, -1 when it runs or is in none. */
LG__INTERNAL long lg__task_syscall(pid_t tid);
/* Whether the program has a handler for an asynchronous signal (SIGINT,
 * SIGUSR1, ...; not for faults), which may post a semaphore, wake a futex
 * word or write to a pipe (deadlock.c; a sigaction call per signal). */
LG__INTERNAL int lg__async_handler(void);
/* Reports a deadlock once it has lasted `limit` ns (deadlock.c). */
LG__INTERNAL void lg__deadlock_check(uint64_t now, uint64_t limit);

/* Installs the sampling signal's handler (sample.c). */
LG__INTERNAL void lg__sample_init(void);
LG__INTERNAL int lg__sample_signal(void);
/* Captures thread tid's current stack on that thread: exact pc first,
 * then return addresses. 0 frames when it cannot (signal blocked or
 * taken over by the program, thread gone). Watchdog only. */
LG__INTERNAL int lg__sample(pid_t tid, void **pcs, int max);

/* ---------------------------------------------------------------------------
 * The log (log.c).
 * ------------------------------------------------------------------------- */
#define LG__RECORD_MAX 16384  /* one record, when the log is a regular file;
                                 4096 (PIPE_BUF) otherwise */

/* Registers the log's lock (from lg__init()); the first record opens the
 * file named by lg__opt. */
LG__INTERNAL void lg__log_init(void);
/* In a fork child: a log named with %p is the parent's; closes it (the
 * child opens its own at its first record). */
LG__INTERNAL void lg__log_fork_child(void);
/* Writes one whole record with one write(2). Preserves errno; SIGPIPE
 * and SIGXFSZ that the write raises never reach the host. Returns 0 when
 * written; 1 when the log file failed (ENOSPC, EIO, EFBIG, ...) and is
 * given up for stderr, with one line there, the record not written:
 * format it again for stderr (lg__log_record_max) and write it again; -1
 * when it was lost (stderr failed too, or stayed full), counted. */
LG__INTERNAL int lg__log_write(const char *buf, size_t len);
/* Opens the log file path for appending (log-open.c): in a sticky,
 * world-writable directory, refuses a symbolic link and a file of another
 * user's (-1, errno EPERM, *why saying which); elsewhere as open(2) with
 * O_CREAT. New files 0600 in a privileged process, 0644 else. Returns the
 * descriptor (O_CLOEXEC), or -1 with errno (and *why NULL) when the open
 * itself failed. */
LG__INTERNAL int lg__log_open_file(const char *path, const char **why);
/* Records lost so far: written neither to the log nor to stderr. */
LG__INTERNAL uint64_t lg__log_lost(void);
/* Largest record that is written atomically to the current log. */
LG__INTERNAL size_t lg__log_record_max(void);
/* The log's descriptor when it is a file loopguard opened, else -1: the
 * host's close() of it fails with EBADF, as if loopguard were absent. */
LG__INTERNAL int lg__log_fd(void);
/* True when fd is the log's descriptor and still refers to the log's file
 * (one fstat): only then does close() pretend it is not open. */
LG__INTERNAL int lg__log_owns(int fd);
/* Called before the host replaces descriptor fd (dup2/dup3): moves the log
 * out of the way when fd is the log's. */
LG__INTERNAL void lg__log_evacuate(int fd);

/* ---------------------------------------------------------------------------
 * Libraries whose own blocking is by design (ignore.c): the loop library's
 * internal waits (libuv's signal-lock pipe, its threadpool start-up, the
 * uv_spawn exec pipe) are not the user's. Thin public wrappers of the same
 * library (uv_cond_wait, uv_sem_wait, ...) are looked through: a user who
 * calls uv_cond_wait in a callback is reported.
 * ------------------------------------------------------------------------- */

/* Registers the object that defines `entry` (e.g. the real uv_run) as a loop
 * library, with the names of its thin wrappers (NULL-terminated). */
LG__INTERNAL void lg__ignore_library(const void *entry,
                                     const char *const *thin_wrappers);
/* libuv's thin wrappers of a blocking primitive (NULL-terminated): for a
 * shared libuv (the preload's uv_run) and a linked-in one (loopcat.c). */
extern const char *const lg__uv_thin[] __attribute__((visibility("default")));
/* Given a stack (innermost first, loopguard's frames already removed),
 * returns 1 when the call comes from inside a registered loop library for
 * the library's own purposes (see ignore.c). */
LG__INTERNAL int lg__ignored_caller(void *const *pcs, int n);
/* Whether the call with this stack is made inside a libuv fs request made
 * without a callback, on the calling thread (ignore.c). */
LG__INTERNAL int lg__in_sync_fs(void *const *pcs, int n);
/* Whether pc lies in a registered loop library's code. */
LG__INTERNAL int lg__in_loop_library(uintptr_t pc);

/* ---------------------------------------------------------------------------
 * Small helpers (util.c).
 * ------------------------------------------------------------------------- */

/* A growing text buffer that never overflows: writes past the end are
 * dropped and `full` is set. No allocation, no locale, async-signal-safe. */
struct lg__buf {
    char *p;
    size_t len, cap;
    int full;
};
LG__INTERNAL void lg__buf_init(struct lg__buf *b, char *mem, size_t cap);
LG__INTERNAL void lg__buf_str(struct lg__buf *b, const char *s);
LG__INTERNAL void lg__buf_mem(struct lg__buf *b, const char *s, size_t n);
LG__INTERNAL void lg__buf_chr(struct lg__buf *b, char c);
LG__INTERNAL void lg__buf_u64(struct lg__buf *b, uint64_t v);
LG__INTERNAL void lg__buf_i64(struct lg__buf *b, int64_t v);
/* out = dir followed by num in decimal ("/proc/self/fd/" 7). */
LG__INTERNAL void lg__proc_path(char *out, size_t cap, const char *dir,
                                uint64_t num);
LG__INTERNAL void lg__buf_hex(struct lg__buf *b, uint64_t v);   /* 0x.. */
/* Takes back whatever was appended since length `mark` when it did not fit
 * or leaves fewer than `reserve` bytes free, so an element (a frame, a
 * line) is written whole or not at all. Returns 1 when it was kept. */
LG__INTERNAL int lg__buf_fits_or_undo(struct lg__buf *b, size_t mark,
                                      size_t reserve);
/* User text in a one-line message: control bytes become '?', so that a
 * newline in it cannot split the line. The _shown form quotes it in '...'
 * and cuts it after max bytes, with "...". */
LG__INTERNAL void lg__buf_printable(struct lg__buf *b, const char *s,
                                    size_t n);
LG__INTERNAL void lg__buf_shown(struct lg__buf *b, const char *s, size_t n,
                                size_t max);
/* A JSON string literal, quotes included, with escapes; bytes that are not
 * valid UTF-8 become U+FFFD. The _strn form reads at most max bytes of s
 * and never splits a character. */
LG__INTERNAL void lg__buf_json_str(struct lg__buf *b, const char *s);
LG__INTERNAL void lg__buf_json_strn(struct lg__buf *b, const char *s,
                                    size_t max);
/* Binary search of a table of address ranges: n elements of `size` bytes,
 * each starting with two uintptr_t, lo and hi (the range [lo, hi)), sorted
 * by lo, none overlapping. The element that holds pc, or NULL. */
LG__INTERNAL const void *lg__span_find(const void *v, size_t n, size_t size,
                                       uintptr_t pc);

/* Memory that is never freed, from mmap, for tables with a fixed bound.
 * Zero-filled; 16-byte aligned; NULL when the system is out of memory. */
LG__INTERNAL void *lg__arena_alloc(size_t n);

/* Every lock loopguard owns is taken around fork() and re-initialised in the
 * child (init.c), so a lock held by another thread at fork cannot stay held
 * forever in the child. Modules register their locks once at start-up. */
#include <pthread.h>
LG__INTERNAL void lg__lock_register(pthread_mutex_t *m);
LG__INTERNAL pthread_mutex_t *lg__arena_lock(void);

#endif /* LG_INTERNAL_H */

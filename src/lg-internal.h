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
 * Per-thread state (tls.c).
 *
 * One small initial-exec TLS block: a wrapper's fast path reads `depth` and
 * nothing else. It must stay a few bytes because libloopguard.so may be
 * dlopened, and static TLS surplus is shared by every library (preload notes
 * section 2).
 * ------------------------------------------------------------------------- */
struct lg__thread;

struct lg__tls {
    uint8_t in_shim;          /* loopguard's own code runs on this thread:
                                 wrappers forward without looking */
    uint8_t depth;            /* loop nesting depth; non-zero = loop thread */
    uint8_t dead;             /* thread-exit destructor ran: never
                                 allocate a record again */
    uint8_t pad;
    struct lg__thread *rec;   /* registry record, allocated on first
                                 loop entry; NULL before */
};

extern __thread struct lg__tls lg__tls
    __attribute__((tls_model("initial-exec"), visibility("default")));

/* Set once at start-up when the program has a loop runner compiled in
 * (loopcat.c): then every thread's waits go to the slow path, where the
 * stack tells whether the thread is inside that runner. */
extern uint8_t lg__stack_loops __attribute__((visibility("default")));

/* True when the calling thread is, or may be, on a loop and not already
 * inside loopguard: the only test a wrapper's fast path makes. */
static inline int lg__tls_on_loop(void)
{
    return LG__UNLIKELY(lg__tls.depth != 0 || lg__stack_loops) &&
           !lg__tls.in_shim;
}

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
    XX(MANUAL, "manual")

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
#define LG__MAX_NEST 8        /* loop marks recorded per thread; deeper
                                 marks are counted, not recorded */

/* Where and how a thread entered one loop. */
struct lg__loop_mark {
    const void *id;                   /* loop identity (uv_loop_t *) */
    uint8_t kind;                     /* enum lg__loop_kind */
    uint8_t via;                      /* enum lg__loop_via */
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
    const void *runner_fn;    /* start of the runner's code: the loop id */
};

/* Scans the program's symbols for runners; from lg__init() only. */
LG__INTERNAL void lg__loopcat_init(void);
/* The class of one symbol (0 foreign, 1 runtime, 2 park, 3 runner,
 * 4 allow) and, for a runner, its kind: for tests. */
LG__INTERNAL int lg__loopcat_class(const char *sym, int *kind);
/* Whether a wait with this stack (return addresses, innermost first) is
 * made inside a runner; fills v. */
LG__INTERNAL int lg__loopcat_classify(void *const *pcs, int n,
                                      struct lg__stack_loop *v);

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
/* A thread on no loop waits in epoll with a timeout: it hosts an epoll
 * loop (kind epoll, via epoll), whose function called from `caller`. */
LG__INTERNAL void lg__epoll_hint(int epfd, void *caller);
/* The calling thread closed fd: when it is its epoll loop's, the loop is
 * over. */
LG__INTERNAL void lg__epoll_closed(int fd);
/* Whether the function that entered mark m (via epoll) is still running,
 * seen from the current stack pcs[0..n). */
LG__INTERNAL int lg__loop_mark_live(const struct lg__loop_mark *m,
                                    void *const *pcs, int n);
/* The executable mapping of the object that contains addr. */
LG__INTERNAL int lg__object_span(const void *addr, uintptr_t *lo,
                                 uintptr_t *hi);

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

struct lg__options {
    char log[LG__LOG_PATH_MAX];   /* "" = stderr; may hold %p */
    int format;                   /* enum lg__format */
    int mode;                     /* enum lg__mode */
    int exitcode;                 /* exit status forced at exit when a
                                     violation was reported; 0 = leave */
    int dedupe;                   /* 1: report each unique site once */
    int max_frames;               /* frames printed per stack, 1..64 */
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
LG__INTERNAL uint64_t lg__wall_ns(void);

/* ---------------------------------------------------------------------------
 * Stacks (stack.c) and symbols (symbolize.c).
 * ------------------------------------------------------------------------- */

/* Captures up to `max` return addresses of the calling thread, innermost
 * first, skipping the frames of loopguard's own two libraries. Returns the
 * count (0 when libunwind is unavailable). Allocates nothing once the thread
 * has captured once. */
LG__INTERNAL int lg__stack_capture(void **pcs, int max);

/* True when pc lies in libloopguard.so or libloopguard-preload.so. */
LG__INTERNAL int lg__pc_is_ours(uintptr_t pc);
/* Declares the object containing addr as loopguard's own (the preload calls
 * this from its constructor with one of its functions). */
LG__INTERNAL void lg__stack_own_module(const void *addr);
/* Loads libunwind; from lg__init() only. */
LG__INTERNAL void lg__stack_init(void);

/* One frame, resolved. Strings point into storage that lives as long as the
 * process (module table, mapped symbol tables, the loader's own strings). */
struct lg__sym {
    uintptr_t pc;             /* address as captured */
    const char *module;       /* full path of the object, or NULL */
    uintptr_t modoff;         /* pc - load bias: what addr2line wants */
    const char *name;         /* symbol, still mangled; NULL if unknown */
    uintptr_t symoff;         /* pc - symbol start */
};

/* Resolves one address. `is_return` is 1 for return addresses (looked up at
 * pc - 1 so a call at the end of a function names that function). Finds the
 * object with _dl_find_object and the name in the object's own symbol table
 * (.symtab, or a debug file found by build-id or .gnu_debuglink), so static
 * functions are named; dladdr is the fallback. Where names alias, the plain
 * exported one wins. May mmap files on a module's first use: call with
 * in_shim set, never with the site lock held. Not async-signal-safe. */
LG__INTERNAL void lg__symbolize(uintptr_t pc, int is_return,
                                struct lg__sym *out);

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

/* The cached byte for fd, classifying it first if unknown (one or two
 * system calls). Never caches for negative fds. */
LG__INTERNAL unsigned lg__fd_class(int fd);
/* Forgets what is known about fd (close, creation). */
LG__INTERNAL void lg__fd_forget(int fd);
/* fd and dup now share one open file description (dup, dup2, dup3,
 * F_DUPFD): both are forgotten and marked shared. */
LG__INTERNAL void lg__fd_dup(int old, int new);
/* fd's O_NONBLOCK may have changed (F_SETFL, FIONBIO): forgets it, and
 * when it was dup'ed, every shared descriptor's state too. */
LG__INTERNAL void lg__fd_flags_changed(int fd);
LG__INTERNAL void lg__fd_forget_range(unsigned first, unsigned last);
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
#define LG__OBJ_MAX 64

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
enum lg__record_type { LG__REC_BLOCKING_CALL, LG__REC_SUMMARY };

struct lg__summary_site {
    uint64_t site;            /* stack hash */
    const char *call;
    uint64_t count;           /* calls made at this site */
    uint64_t blocked_ns;      /* time spent in them */
    struct lg__sym where;     /* first frame outside the wrapped call */
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
    /* summary */
    const struct lg__summary_site *sites;
    int nsites;               /* listed in sites[] */
    int sites_total;          /* all sites, listed or not */
    uint64_t count_total, blocked_ns_total;
};

/* Formats one record, newline-terminated, into buf (at most cap bytes,
 * cap <= LG__RECORD_MAX). When the record does not fit, trailing frames are
 * dropped (and counted in the record) so the result is always complete and
 * well-formed. Returns the length. Calls lg__demangle. */
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
/* "mq 3", "msq 65537": an object named by a number. */
LG__INTERNAL void lg__object_num(struct lg__wait *w, const char *what,
                                 long n);

/* Totals since start (tests and the summary). */
LG__INTERNAL uint64_t lg__violations(void);
/* Sets up the site table (from lg__init()). */
LG__INTERNAL void lg__report_init(void);
/* Writes the `summary` record when anything was reported (at exit). */
LG__INTERNAL void lg__report_summary(void);

/* ---------------------------------------------------------------------------
 * The log (log.c).
 * ------------------------------------------------------------------------- */
#define LG__RECORD_MAX 16384  /* one record, when the log is a regular file;
                                 4096 (PIPE_BUF) otherwise */

/* Registers the log's lock (from lg__init()); the first record opens the
 * file named by lg__opt. */
LG__INTERNAL void lg__log_init(void);
/* Writes one whole record with one write(2). Preserves errno. */
LG__INTERNAL void lg__log_write(const char *buf, size_t len);
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
LG__INTERNAL void lg__buf_hex(struct lg__buf *b, uint64_t v);   /* 0x.. */
/* Takes back whatever was appended since length `mark` when it did not fit
 * or leaves fewer than `reserve` bytes free, so an element (a frame, a
 * line) is written whole or not at all. Returns 1 when it was kept. */
LG__INTERNAL int lg__buf_fits_or_undo(struct lg__buf *b, size_t mark,
                                      size_t reserve);
/* A JSON string literal, quotes included, with escapes; bytes that are not
 * valid UTF-8 become U+FFFD. The _strn form reads at most max bytes of s
 * and never splits a character. */
LG__INTERNAL void lg__buf_json_str(struct lg__buf *b, const char *s);
LG__INTERNAL void lg__buf_json_strn(struct lg__buf *b, const char *s,
                                    size_t max);

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

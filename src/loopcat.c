/* The catalog of loop runners found through the stack: loops compiled into
 * the program (tokio, a statically linked libuv, libevent or libev), which
 * no wrapped entry point announces.
 *
 * Once, at start-up, every function of the program's own .symtab is put
 * in a class by name; the few that are not the program's own code become
 * a sorted table of address ranges, and the shared objects of the C and
 * C++ runtimes are added whole. A stack is then classified with one binary
 * search per frame and no symbol lookup. When the program has no runner
 * at all the table is dropped and no wrapper ever leaves its fast path for
 * it. Objects loaded later with dlopen are not scanned.
 *
 * A wait is on a loop thread when a runner frame is on its stack, unless a
 * frame that allows blocking (tokio's block_in_place) lies between. It is
 * the loop's own wait when the first frame above the wait that is not the
 * language runtime's (std, core, alloc, libc, libstdc++) is a park or poll
 * frame: tokio's park reaches the futex through std's Condvar, a task's
 * recv() through std's mpsc, and only the frame that called into std tells
 * them apart.
 *
 * A libuv linked into the program also blocks for its own purposes (its
 * signal-lock pipe, uv_spawn's exec-status pipe, the thread pool's start):
 * as ignore.c does for a shared libuv, such a wait is the library's own
 * unless the outermost libuv frame above it is one of libuv's thin
 * wrappers of a blocking primitive (uv_cond_wait...), which the program
 * called to block, or a synchronous fs request's: uv__fs_work run by
 * uv_fs_read (or another uv_fs_*) made without a callback, on the calling
 * thread (with a callback it runs on the thread pool, never under a
 * runner). libuv's functions are those named uv_ and every function of an
 * object file that defines a uv_ symbol, so its static helpers (init_once,
 * worker, uv__fs_work) count too. */
#include <elf.h>
#include <link.h>
#include <string.h>
#include <sys/mman.h>

#include "elf-symtab.h"
#include "lg-internal.h"

enum cls {
    FOREIGN,                  /* the program's code: decides nothing */
    RUNTIME,                  /* language runtime: looked through */
    PARK,                     /* a loop's own wait or poll */
    RUNNER,                   /* inside it, the thread is a loop thread */
    ALLOW,                    /* blocking allowed here (block_in_place) */
    THIN,                     /* a libuv wrapper of a blocking primitive */
    FS_WORK,                  /* libuv's fs work: under a runner, a
                                 synchronous request's */
};

struct entry {
    const char *name;         /* path prefix (Rust) or exact name (C) */
    uint8_t cls;
    uint8_t kind;             /* enum lg__loop_kind, for RUNNER */
};

/* Rust paths, as demangled with generic arguments and the angle brackets
 * of qualified paths removed ("<tokio::runtime::park::X>::park" reads
 * "tokio::runtime::park::X::park"). First match wins: specific first.
 * Module names of tokio 1.x: scheduler/ since 1.21, basic_scheduler and
 * thread_pool before; park/, time/, io/ moved under runtime/ in 1.21. */
static const struct entry rust_cat[] = {
    {"tokio::runtime::scheduler::multi_thread::worker::block_in_place",
     ALLOW, LG__LOOP_TOKIO},
    {"tokio::runtime::thread_pool::worker::block_in_place", ALLOW,
     LG__LOOP_TOKIO},
    {"tokio::task::blocking::block_in_place", ALLOW, LG__LOOP_TOKIO},
    {"tokio::runtime::scheduler::current_thread::Context::park", PARK, 0},
    {"tokio::runtime::scheduler::multi_thread::worker::Context::park", PARK,
     0},
    {"tokio::runtime::scheduler::multi_thread::park::", PARK, 0},
    {"tokio::runtime::scheduler::multi_thread_alt::worker::Context::park",
     PARK, 0},
    {"tokio::runtime::scheduler::multi_thread_alt::park::", PARK, 0},
    {"tokio::runtime::basic_scheduler::Context::park", PARK, 0},
    {"tokio::runtime::thread_pool::worker::Context::park", PARK, 0},
    {"tokio::runtime::thread_pool::park::", PARK, 0},
    {"tokio::runtime::scheduler::current_thread::", RUNNER, LG__LOOP_TOKIO},
    {"tokio::runtime::scheduler::multi_thread::worker::", RUNNER,
     LG__LOOP_TOKIO},
    {"tokio::runtime::scheduler::multi_thread_alt::worker::", RUNNER,
     LG__LOOP_TOKIO},
    {"tokio::runtime::basic_scheduler::", RUNNER, LG__LOOP_TOKIO},
    {"tokio::runtime::thread_pool::worker::", RUNNER, LG__LOOP_TOKIO},
    {"tokio::runtime::park::", PARK, 0},
    {"tokio::runtime::driver::", PARK, 0},
    {"tokio::runtime::time::", PARK, 0},
    {"tokio::runtime::io::", PARK, 0},
    {"tokio::runtime::signal::", PARK, 0},
    {"tokio::runtime::process::", PARK, 0},
    {"tokio::park::", PARK, 0},
    {"tokio::time::driver::", PARK, 0},
    {"tokio::io::driver::", PARK, 0},
    {"tokio::signal::unix::driver::", PARK, 0},
    {"tokio::process::imp::driver::", PARK, 0},
    /* The runtime's own short locks, contended by other threads: its
     * wrappers of std's locks (debug builds) and the modules that lock
     * (release builds inline the wrappers), like GLib's main-context
     * locks. Not tokio::loom's UnsafeCell: a task's poll, which runs the
     * program's code, goes through it. */
    {"tokio::loom::std::mutex::", PARK, 0},
    {"tokio::loom::std::rwlock::", PARK, 0},
    {"tokio::loom::std::parking_lot::", PARK, 0},
    {"tokio::sync::", PARK, 0},
    {"tokio::runtime::task::inject::", PARK, 0},
    {"tokio::runtime::scheduler::inject::", PARK, 0},
    {"tokio::runtime::blocking::", PARK, 0},
    {"mio::poll::", PARK, 0},
    {"mio::sys::", PARK, 0},
    /* std's channels (1.67 on) wake the other side under a short lock of
     * their own (SyncWaker), which a thread sending or receiving at the
     * same moment holds: a send never blocks, and its wait there is std's,
     * not the program's. The receiver's wait for a message is in
     * mpmc::context, still reported. */
    {"std::sync::mpmc::waker::", ALLOW, 0},
    {"std::", RUNTIME, 0},
    {"core::", RUNTIME, 0},
    {"alloc::", RUNTIME, 0},
};

/* Runners that show they are alive while busy: tokio's current_thread
 * polls its I/O driver (epoll_wait, timeout 0) every 61 tasks, and when
 * only yielded tasks are left. multi_thread workers share one driver, and
 * a busy one need not get it. */
static const char *const busy_polling[] = {
    "tokio::runtime::scheduler::current_thread::",
    "tokio::runtime::basic_scheduler::",
};

/* C functions of loop libraries linked into the program. Shared copies are
 * found by their wrapped entry points instead (wrap-loop.c). */
static const struct entry c_cat[] = {
    {"uv_run", RUNNER, LG__LOOP_LIBUV},
    {"uv__io_poll", PARK, 0},
    {"uv__fs_work", FS_WORK, 0},
    {"event_base_loop", RUNNER, LG__LOOP_LIBEVENT},
    {"epoll_dispatch", PARK, 0},
    {"poll_dispatch", PARK, 0},
    {"select_dispatch", PARK, 0},
    {"ev_run", RUNNER, LG__LOOP_LIBEV},
    {"epoll_poll", PARK, 0},
    {"poll_poll", PARK, 0},
    {"select_poll", PARK, 0},
};

/* Shared objects of the C and C++ runtimes, by file name prefix. */
static const char *const runtime_objs[] = {
    "libc.so", "libstdc++.so", "libgcc_s.so", "libm.so", "libpthread.so",
    "ld-linux", "libdl.so", "librt.so",
};

struct range {
    uintptr_t lo, hi;         /* first: lg__span_find's table */
    uint8_t cls, kind;
    uint8_t lib;              /* inside a linked-in libuv */
    uint8_t busy_polls;       /* entry.busy_polls */
};

#define MAX_OBJ_RANGES 32

static struct range *ranges;          /* the program's, sorted */
static size_t nranges;
static struct range obj_ranges[MAX_OBJ_RANGES];
static int nobj_ranges;
uint8_t lg__stack_loops;              /* LG__SL_* (lg-internal.h) */
uint8_t lg__stack_uv_fs;              /* and libuv's fs work */

/* Copies a demangled Rust name without generic arguments and without the
 * brackets of a qualified path: "<a::B<T> as c::D>::f::<u8>" gives
 * "a::B::f::". Stops at the end of out. */
static void plain_path(const char *s, char *out, size_t cap)
{
    size_t o = 0;
    int depth = 0, qual = 0, skip = 0;
    if (*s == '<') {
        qual = 1;             /* the bracket of <Type as Trait> */
        s++;
    }
    for (; *s && o + 1 < cap; s++) {
        if (*s == '<') {
            depth++;
        } else if (*s == '>') {
            if (depth > 0)
                depth--;
            else if (qual) {
                qual = 0;
                skip = 0;     /* back to the path after the bracket */
            }
        } else if (depth == 0 && !skip) {
            if (qual && strncmp(s, " as ", 4) == 0)
                skip = 1;     /* the trait: only the type names the code */
            else if (*s != '&' && *s != ' ' && *s != '*')
                out[o++] = *s;
        }
    }
    out[o] = '\0';
}

static const struct entry *lookup(const struct entry *cat, size_t n,
                                  const char *name, int prefix)
{
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(cat[i].name);
        if (prefix ? strncmp(name, cat[i].name, len) == 0
                   : strcmp(name, cat[i].name) == 0)
            return &cat[i];
    }
    return NULL;
}

/* Cheap refusals first: a large C++ program has 10^5 names to sort. */
static int maybe_rust(const char *sym)
{
    if (sym[0] != '_')
        return 0;
    if (sym[1] == 'R')
        return 1;
    if (sym[1] != 'Z' || sym[2] != 'N')
        return 0;
    /* Legacy Rust ends in 17h<16 hex>E, or in that and a suffix of
     * LLVM's for local copies (".llvm.123"). */
    const char *llvm = strstr(sym, "E.llvm.");
    size_t len = llvm ? (size_t)(llvm - sym) + 1 : strlen(sym);
    return len > 20 && sym[len - 1] == 'E' &&
           memcmp(sym + len - 20, "17h", 3) == 0;
}

/* The class of one symbol of the program. `kind` and `busy` are set for
 * runners. */
static int sym_class(const char *sym, int *kind, int *busy)
{
    char dem[512], path[512];
    const struct entry *e = NULL;
    *kind = 0;
    *busy = 0;
    if (!maybe_rust(sym)) {
        /* Every C entry starts with one of these. */
        if (sym[0] && strchr("ueps", sym[0]))
            e = lookup(c_cat, sizeof c_cat / sizeof c_cat[0], sym, 0);
        for (int i = 0; !e && sym[0] == 'u' && lg__uv_thin[i]; i++)
            if (strcmp(sym, lg__uv_thin[i]) == 0)
                return THIN;
    } else if (lg__demangle_rust(sym, dem, sizeof dem)) {
        plain_path(dem, path, sizeof path);
        e = lookup(rust_cat, sizeof rust_cat / sizeof rust_cat[0], path, 1);
        for (size_t i = 0; e && e->cls == RUNNER &&
                           i < sizeof busy_polling / sizeof busy_polling[0];
             i++)
            *busy |= strncmp(path, busy_polling[i],
                             strlen(busy_polling[i])) == 0;
    }
    if (!e)
        return FOREIGN;
    *kind = e->kind;
    return e->cls;
}

int lg__loopcat_class(const char *sym, int *kind)
{
    int busy;
    return sym_class(sym, kind, &busy);
}

/* Rust v0 names spend most of the start-up scan in the demangler; their
 * crate is the first identifier after the nesting tags, so std, core and
 * alloc are recognised without demangling. 0: not decided here. */
static int v0_runtime(const char *s)
{
    if (s[0] != '_' || s[1] != 'R')
        return 0;
    s += 2;
    for (;;) {
        if (*s == 'I' || *s == 'Y') {
            s++;
        } else if (*s == 'N' && s[1]) {
            s += 2;
        } else if (*s == 'M' || *s == 'X') {
            s++;
            if (*s == 's')
                while (*s && *s++ != '_')
                    ;
        } else {
            break;
        }
    }
    if (*s++ != 'C')
        return 0;
    if (*s == 's')
        while (*s && *s++ != '_')
            ;
    return strncmp(s, "3std", 4) == 0 || strncmp(s, "4core", 5) == 0 ||
           strncmp(s, "5alloc", 6) == 0;
}

static int scan_class(const char *sym, int *kind, int *busy)
{
    if (v0_runtime(sym)) {
        *kind = 0;
        *busy = 0;
        /* rust_cat's one entry in std: std::sync::mpmc::waker. */
        return strstr(sym, "4mpmc5waker") ? ALLOW : RUNTIME;
    }
    return sym_class(sym, kind, busy);
}

struct collect {
    struct range *v;          /* scratch: one slot per symbol at most */
    size_t n;
    uintptr_t bias;
    int runner;
    int fs_work;
};

static void collect_func(void *arg, const char *name, uint64_t value,
                         uint64_t size, int lib)
{
    struct collect *c = arg;
    int kind, busy, cls = scan_class(name, &kind, &busy);
    if (cls == FOREIGN && !lib)
        return;
    c->runner |= cls == RUNNER;
    c->fs_work |= cls == FS_WORK;
    uintptr_t lo = c->bias + value;
    c->v[c->n++] = (struct range){lo, lo + (size ? size : 1), (uint8_t)cls,
                                  (uint8_t)kind, (uint8_t)lib,
                                  (uint8_t)busy};
}

static void sort_ranges(struct range *v, size_t n)
{
    /* Shell sort: no allocation, and .symtab is nearly in address order
     * within each object already. */
    static const size_t gaps[] = {1750, 701, 301, 132, 57, 23, 10, 4, 1};
    for (size_t g = 0; g < sizeof gaps / sizeof gaps[0]; g++)
        for (size_t i = gaps[g]; i < n; i++) {
            struct range x = v[i];
            size_t j = i;
            for (; j >= gaps[g] && v[j - gaps[g]].lo > x.lo; j -= gaps[g])
                v[j] = v[j - gaps[g]];
            v[j] = x;
        }
}

/* Sorted ranges, neighbours of one class merged in place; returns the
 * count. Aliases (one address, two names) keep the first. */
static size_t merge_ranges(struct range *v, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        struct range *p = o ? &v[o - 1] : NULL;
        if (p && v[i].lo < p->hi)
            continue;
        if (p && p->hi == v[i].lo && p->cls == v[i].cls &&
            p->kind == v[i].kind && p->lib == v[i].lib &&
            p->busy_polls == v[i].busy_polls) {
            p->hi = v[i].hi;
            continue;
        }
        v[o++] = v[i];
    }
    return o;
}

static int exe_bias_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    *(uintptr_t *)arg = info->dlpi_addr;
    return 1;                 /* the program is the first object listed */
}

uintptr_t lg__exe_bias(void)
{
    uintptr_t bias = 0;
    dl_iterate_phdr(exe_bias_cb, &bias);
    return bias;
}

int lg__runtime_object(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    for (size_t i = 0; i < sizeof runtime_objs / sizeof runtime_objs[0];
         i++)
        if (strncmp(base, runtime_objs[i], strlen(runtime_objs[i])) == 0)
            return 1;
    return 0;
}

static int add_runtime_obj(struct dl_phdr_info *info, size_t size,
                           void *arg)
{
    (void)size;
    (void)arg;
    int rt = lg__runtime_object(info->dlpi_name ? info->dlpi_name : "");
    for (int i = 0; rt && i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X) ||
            nobj_ranges == MAX_OBJ_RANGES)
            continue;
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
        obj_ranges[nobj_ranges++] =
            (struct range){lo, lo + ph->p_memsz, RUNTIME, 0, 0, 0};
    }
    return 0;
}

/* What a program with a runner has in its string table: the C runners by
 * name, tokio's scheduler modules as they read in both manglings. */
static const char *const runner_names[] = {"uv_run", "event_base_loop",
                                           "ev_run", NULL};
static const char *const runner_parts[] = {
    "5tokio7runtime9scheduler", "5tokio7runtime15basic_scheduler",
    "5tokio7runtime11thread_pool", NULL};

void lg__loopcat_init(void)
{
    void *probe[1];
    if (lg__stack_capture(probe, 1) == 0)
        return;               /* no libunwind: no stacks to classify */
    /* Most programs have no runner: a scan of the names tells. A program
     * without .symtab is not classified: .dynsym names no static park
     * function (uv__io_poll), and every poll would be reported. */
    size_t nsyms = 0;
    if (lg__elf_mentions("/proc/self/exe", runner_names, runner_parts,
                         &nsyms) != 1 ||
        nsyms == 0)
        return;
    /* One pass over the names into scratch memory; what is kept (the
     * catalog's functions and libuv's) is small, and stays. */
    size_t scratch = nsyms * sizeof(struct range);
    struct collect c = {.n = 0, .runner = 0, .fs_work = 0};
    c.v = mmap(NULL, scratch, PROT_READ | PROT_WRITE,
               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (c.v == MAP_FAILED)
        return;
    c.bias = lg__exe_bias();
    lg__elf_each_func("/proc/self/exe", "uv_", collect_func, &c);
    sort_ranges(c.v, c.n);
    size_t n = merge_ranges(c.v, c.n);
    struct range *r = c.runner ? lg__arena_alloc(n * sizeof *r) : NULL;
    if (r)
        memcpy(r, c.v, n * sizeof *r);
    munmap(c.v, scratch);
    if (!r)
        return;
    dl_iterate_phdr(add_runtime_obj, NULL);
    ranges = r;
    nranges = n;
    __atomic_store_n(&lg__stack_uv_fs, (uint8_t)c.fs_work, __ATOMIC_RELEASE);
    __atomic_or_fetch(&lg__stack_loops, LG__SL_RUNNER, __ATOMIC_RELEASE);
}

static const struct range *find(uintptr_t pc)
{
    const struct range *r = lg__span_find(ranges, nranges, sizeof *ranges,
                                          pc);
    if (r)
        return r;
    for (int i = 0; i < nobj_ranges; i++)
        if (pc >= obj_ranges[i].lo && pc < obj_ranges[i].hi)
            return &obj_ranges[i];
    return NULL;
}

/* Return addresses: pc - 1 lies in the calling function. */
static const struct range *frame(void *const *pcs, int i)
{
    return find((uintptr_t)pcs[i] - 1);
}

/* Frame i is libuv's: the index of the outermost libuv frame of the run
 * that starts there (the function the program called); *fs tells whether
 * uv__fs_work is in the run. */
static int lib_outer(void *const *pcs, int i, int n, int *fs)
{
    int outer = i;
    *fs = frame(pcs, i)->cls == FS_WORK;
    for (int j = i + 1; j < n; j++) {
        const struct range *r = frame(pcs, j);
        if (r && r->cls == RUNTIME)
            continue;
        if (!r || !r->lib)
            break;
        outer = j;
        *fs |= r->cls == FS_WORK;
    }
    return outer;
}

/* The wait's first non-runtime frame i is libuv's: the wait is libuv's
 * own (PARK) unless the program asked for it: the outermost libuv frame
 * is a thin wrapper, or the wait is a synchronous fs request's. */
static int lib_verdict(void *const *pcs, int i, int n)
{
    int fs, outer = lib_outer(pcs, i, n, &fs);
    return fs || frame(pcs, outer)->cls == THIN ? FOREIGN : PARK;
}

int lg__loopcat_sync_fs(void *const *pcs, int n)
{
    if (!__atomic_load_n(&lg__stack_uv_fs, __ATOMIC_ACQUIRE))
        return 0;
    for (int i = 0; i < n; i++) {
        const struct range *r = frame(pcs, i);
        if (r && r->cls == RUNTIME)
            continue;
        int fs = 0;
        if (r && r->lib)
            lib_outer(pcs, i, n, &fs);
        return fs;
    }
    return 0;
}

int lg__loopcat_classify(void *const *pcs, int n, struct lg__stack_loop *v)
{
    memset(v, 0, sizeof *v);
    v->runner = -1;
    if (!(__atomic_load_n(&lg__stack_loops, __ATOMIC_ACQUIRE) &
          LG__SL_RUNNER))
        return 0;
    int first = -1, poll = 0, uv_runs = 0;
    for (int i = 0; i < n; i++) {
        const struct range *r = frame(pcs, i);
        int c = r ? r->cls : FOREIGN;
        if (c == RUNTIME)
            continue;
        if (first < 0) {
            first = r && r->lib ? lib_verdict(pcs, i, n) : c;
            poll = c == PARK;
        }
        if (c == ALLOW && v->runner < 0)
            return 0;
        if (c == RUNNER) {
            v->runner = i;    /* the outermost one: where it was entered */
            v->kind = r->kind;
            v->busy_polls = r->busy_polls;
            v->runner_fn = (const void *)r->lo;
            uv_runs += r->kind == LG__LOOP_LIBUV;
        }
    }
    if (v->runner < 0)
        return 0;
    /* A private libuv loop run inside a callback of another (Node's
     * spawnSync): its poll stalls the outer loop. (Its bookkeeping, such
     * as the signal lock, stays libuv's own.) */
    v->own = first == PARK && !(poll && uv_runs >= 2);
    return 1;
}

/* The runtimes' own waits (Node and V8; CPython). On a loop thread V8 waits
 * for its garbage collector's helper threads (a parallel job's join, a
 * safepoint), Node for its platform's workers and for a worker thread that
 * has already stopped (Worker::JoinThread, after its loop ended). No
 * program can change these, and none waits for the program.
 *
 * The rule, BlockHound's allow-list narrowed to the innermost caller: the
 * function that made the wait decides, found by looking through the
 * synchronization primitives on top of the stack (the C and C++ runtimes,
 * V8's v8::base primitives, libuv's thin wrappers such as uv_thread_join).
 * When it is one of the runtime's own waiting points (below) the wait is
 * not reported; any other function decides the opposite, even with such a
 * point further down the stack: BlockHound allows every call made inside
 * an allowed method, but Worker::JoinThread then runs the worker's `exit`
 * handlers, and an execSync or Atomics.wait in one is the program's.
 *
 * The names are read once, on the first wait that needs them, from every
 * object loaded then: its .symtab, else its .dynsym. V8 and Node export
 * their whole C++ API and internals for native addons, so even a stripped
 * libnode.so (Debian's node 18) names them; node's executable (nodesource's)
 * has .symtab too, which also names the compiler's local copies of them. A
 * function without a name decides that the wait is reported.
 *
 * CPython: a thread takes the GIL back after every call that let it go (an
 * asyncio loop's epoll_wait, a time.sleep) and waits for it while a thread
 * of an executor holds it: a cond wait in take_gil, under
 * PyEval_RestoreThread, PyEval_AcquireThread or PyGILState_Ensure. Debian's
 * interpreter is stripped, so take_gil has no name and would decide; the
 * GIL is known instead by its cond, which lives in the interpreter's
 * runtime state, the exported object _PyRuntime (the main interpreter's
 * state is inside it from 3.12 on, the GIL with it); nothing else of
 * CPython's waits on a cond inside it. Its import lock is a waiting point
 * by name (_PyImport_AcquireLock), and so is PyThread_acquire_lock, the
 * untimed lock call C code makes for its mutexes; a program's
 * threading.Lock waits through PyThread_acquire_lock_timed, looked
 * through, from a function of its own (which decides). Waits of CPython's
 * own Python code (a thread's start) are told by their Python frames
 * (python.c). */
#include <elf.h>
#include <link.h>
#include <string.h>

#include "elf-symtab.h"
#include "lg-internal.h"

#define MAX_RANGES 1024               /* a node has about 280 */
#define MAX_OBJS 256
#define PREFETCH 16                   /* symbols ahead, in scan_symbols */

enum rt_cls {
    RT_FOREIGN,               /* decides: the wait is reported */
    RT_THROUGH,               /* a synchronization primitive: look on */
    RT_OWN,                   /* decides: the runtime's own wait */
};

/* Itanium-mangled nested names ("_ZN" and its qualifiers stripped) by
 * prefix; an entry ending in 'E' is one function. Each RT_OWN entry waits
 * only for the runtime's own threads, and calls no code of the program
 * while it waits. */
static const struct {
    const char *nested;
    uint8_t cls;
} rt_cat[] = {
    {"2v84base17ConditionVariable", RT_THROUGH},
    {"2v84base5Mutex", RT_THROUGH},
    {"2v84base14RecursiveMutex", RT_THROUGH},
    {"2v84base11SharedMutex", RT_THROUGH},
    {"2v84base9Semaphore", RT_THROUGH},
    {"2v84base6Thread4JoinE", RT_THROUGH},
    /* V8's jobs: the join and cancel of a parallel task of the GC (its
     * scavenge, marking, evacuation) or compiler, which runs the job's
     * work on the joining thread too, never JavaScript. */
    {"2v88platform15DefaultJobState", RT_OWN},
    {"2v88platform16DefaultJobHandle", RT_OWN},
    /* The GC stopping the isolate's threads (and, with a shared heap, its
     * clients') at a safepoint. */
    {"2v88internal16IsolateSafepoint", RT_OWN},
    {"2v88internal15GlobalSafepoint", RT_OWN},
    /* Node's platform: its worker pool's drain and shutdown (its task
     * queue's blocking calls are inlined there). */
    {"4node12NodePlatform", RT_OWN},
    {"4node23WorkerThreadsTaskRunner", RT_OWN},
    /* The join of a worker thread that has left its loop; the `exit`
     * handlers it then calls are judged by their own frames. */
    {"4node6worker6Worker10JoinThreadE", RT_OWN},
};

struct rt_range {
    uintptr_t lo, hi;         /* first: lg__span_find's table */
    uint8_t cls;
};

static struct rt_range ranges[MAX_RANGES];    /* sorted once built */
static size_t nranges;
static int has_own;                   /* an RT_OWN range exists */
static uintptr_t py_lo, py_hi;        /* CPython's _PyRuntime, if loaded */
static int built;                     /* atomic: the table is final */
static pthread_mutex_t rt_lock = PTHREAD_MUTEX_INITIALIZER;

/* CPython's, by plain C name. */
static const struct {
    const char *name;
    uint8_t cls;
} py_cat[] = {
    {"PyThread_acquire_lock_timed", RT_THROUGH},
    /* The untimed call is C code's mutex (the interpreter's thread list,
     * its import lock, a buffered file's lock): a mutex is no receive,
     * as pthread_mutex_lock is none. The program's threading locks and
     * queue waits come through the timed one. */
    {"PyThread_acquire_lock", RT_OWN},
    {"_PyImport_AcquireLock", RT_OWN},
};

static inline int starts(const char *s, const char *prefix)
{
    while (*prefix)
        if (*s++ != *prefix++)
            return 0;
    return 1;
}

/* Called for every function of every object (10^5 in node's libnode):
 * each list is compared only with names that start as its entries do.
 * Ten calls of strcmp a name took 9 ms of node's loop thread, on its
 * first wait. */
int lg__runtime_own_class(const char *sym)
{
    if (starts(sym, "uv_")) {
        for (int i = 0; lg__uv_thin[i]; i++)
            if (strcmp(sym, lg__uv_thin[i]) == 0)
                return RT_THROUGH;
        return RT_FOREIGN;
    }
    if (starts(sym + (sym[0] == '_'), "Py")) {
        for (size_t i = 0; i < sizeof py_cat / sizeof py_cat[0]; i++)
            if (strcmp(sym, py_cat[i].name) == 0)
                return py_cat[i].cls;
        return RT_FOREIGN;
    }
    if (!starts(sym, "_ZN"))
        return RT_FOREIGN;
    sym += 3;
    while (*sym == 'r' || *sym == 'V' || *sym == 'K')
        sym++;                        /* cv-qualifiers of a member */
    if (*sym == 'R' || *sym == 'O')   /* its ref-qualifier */
        sym++;
    /* Most of 10^5 names are neither namespace's. */
    if (!starts(sym, "2v8") && !starts(sym, "4node"))
        return RT_FOREIGN;
    for (size_t i = 0; i < sizeof rt_cat / sizeof rt_cat[0]; i++)
        if (starts(sym, rt_cat[i].nested))
            return rt_cat[i].cls;
    return RT_FOREIGN;
}

static void add(uintptr_t lo, uintptr_t hi, int cls)
{
    if (nranges == MAX_RANGES)
        return;
    ranges[nranges++] = (struct rt_range){lo, hi, (uint8_t)cls};
    has_own |= cls == RT_OWN;
}

/* The catalog's functions in the file's .symtab, else among its exported
 * ones: the compiler's local copies (".part.0", ".isra.0") of a function
 * are named in .symtab only. */
static void scan_symbols(const char *path, uintptr_t bias)
{
    struct lg__elf_file f;
    if (lg__elf_open(path, &f) != 0)
        return;
    size_t idx = lg__elf_find_symtab(&f, SHT_SYMTAB);
    if (!idx)
        idx = lg__elf_find_symtab(&f, SHT_DYNSYM);
    if (idx) {
        const Elf64_Shdr *sec = &f.sh[idx], *str = &f.sh[sec->sh_link];
        const Elf64_Sym *syms = lg__elf_sec_data(&f, sec, 8);
        const char *strs = lg__elf_sec_data(&f, str, 1);
        size_t nsyms = sec->sh_size / sizeof *syms;
        for (size_t i = 1; i < nsyms; i++) {
            const Elf64_Sym *s = &syms[i];
            /* The names lie all over the string table (.dynsym is in
             * hash order): fetched PREFETCH symbols ahead, the misses
             * overlap (node's libnode: 5 MB of names, 59,000 symbols). */
            if (i + PREFETCH < nsyms &&
                syms[i + PREFETCH].st_name < str->sh_size)
                __builtin_prefetch(strs + syms[i + PREFETCH].st_name);
            if (s->st_name >= str->sh_size)
                continue;
            if (ELF64_ST_TYPE(s->st_info) == STT_OBJECT && s->st_size &&
                s->st_shndx != SHN_UNDEF && !py_lo &&
                strcmp(strs + s->st_name, "_PyRuntime") == 0) {
                py_lo = bias + s->st_value;
                py_hi = py_lo + s->st_size;
                continue;
            }
            if (!lg__elf_is_func(s))
                continue;
            int cls = lg__runtime_own_class(strs + s->st_name);
            if (cls != RT_FOREIGN)
                add(bias + s->st_value,
                    bias + s->st_value + (s->st_size ? s->st_size : 1), cls);
        }
    }
    lg__elf_close(&f);
}

struct objs {
    struct {
        const char *name;
        uintptr_t bias;
    } v[MAX_OBJS];
    int n;
};

/* Lists the objects; the C and C++ runtimes go in whole. Their files are
 * read after dl_iterate_phdr returns, out of the loader's lock. */
static int list_obj(struct dl_phdr_info *info, size_t size, void *arg)
{
    struct objs *o = arg;
    (void)size;
    const char *name = info->dlpi_name ? info->dlpi_name : "";
    if (lg__runtime_object(name)) {
        for (int i = 0; i < info->dlpi_phnum; i++) {
            const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
            uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
            if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X))
                add(lo, lo + ph->p_memsz, RT_THROUGH);
        }
    } else if (o->n < MAX_OBJS) {
        /* The program is listed first, with no name. */
        o->v[o->n].name = o->n == 0 && !*name ? "/proc/self/exe" : name;
        o->v[o->n++].bias = info->dlpi_addr;
    }
    return 0;
}

static void build(void)
{
    static struct objs o;     /* under rt_lock; 4 KiB off the stack */
    o.n = 0;
    dl_iterate_phdr(list_obj, &o);
    for (int i = 0; i < o.n; i++)
        if (*o.v[i].name)
            scan_symbols(o.v[i].name, o.v[i].bias);
    /* Insertion sort: a few hundred ranges, once. Aliases (a
     * constructor's two names) and overlaps keep the first. */
    for (size_t i = 1; i < nranges; i++) {
        struct rt_range x = ranges[i];
        size_t j = i;
        for (; j > 0 && ranges[j - 1].lo > x.lo; j--)
            ranges[j] = ranges[j - 1];
        ranges[j] = x;
    }
    size_t n = 0;
    for (size_t i = 0; i < nranges; i++)
        if (n == 0 || ranges[i].lo >= ranges[n - 1].hi)
            ranges[n++] = ranges[i];
    nranges = n;
}

/* Builds the table once: the watchdog does it as soon as a loop exists
 * (a pass over node's libnode takes milliseconds: off the loop thread),
 * and a wait that comes first, or in a process without the watchdog,
 * does it itself. */
void lg__runtime_own_prepare(void)
{
    if (__atomic_load_n(&built, __ATOMIC_ACQUIRE))
        return;
    lg__lock_register(&rt_lock);
    pthread_mutex_lock(&rt_lock);
    if (!built)
        build();
    __atomic_store_n(&built, 1, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&rt_lock);
}

int lg__runtime_own_wait(void *const *pcs, int n, const void *cond)
{
    lg__runtime_own_prepare();
    if (cond && (uintptr_t)cond >= py_lo && (uintptr_t)cond < py_hi)
        return 1;             /* CPython's GIL */
    if (!has_own)
        return 0;
    /* Return addresses: pc - 1 lies inside the calling function. */
    for (int i = 0; i < n; i++) {
        const struct rt_range *r =
            lg__span_find(ranges, nranges, sizeof *ranges,
                          (uintptr_t)pcs[i] - 1);
        if (!r || r->cls != RT_THROUGH)
            return r && r->cls == RT_OWN;
    }
    return 0;
}

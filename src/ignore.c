/* Loop libraries' own blocking. libuv blocks on its loop thread by design
 * (its signal-lock pipe, the threadpool's start-up semaphore, the uv_spawn
 * exec-status pipe), always briefly, and GLib's main context takes its own
 * locks; those calls are not the program's, so a call made from inside a
 * registered library is not reported (tsan's libignore idea). What decides
 * is the library function the program called: the outermost of the
 * library's frames on top of the stack. When that is one of the library's
 * thin public wrappers of a blocking primitive (uv_cond_wait,
 * g_async_queue_pop), the program asked to block, and is reported; any
 * other entry point (uv_spawn, uv_queue_work, g_idle_add) blocks only for
 * its own bookkeeping.
 *
 * Except a libuv fs request made without a callback: libuv runs it on the
 * calling thread, from uv_fs_read itself, and its read of a pipe is the
 * program's blocking. A shared libuv's static uv__fs_work has no name a
 * stack could show (no .symtab), so the preload wraps the exported
 * requests instead and marks the thread for the call (lg__tls.sync_fs);
 * with a callback the request runs on the thread pool, never on a loop
 * thread. A libuv linked into the program is judged by its stack
 * (loopcat.c). */
#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <string.h>

#include "lg-internal.h"

#define MAX_LIB_SEGS 8
#define MAX_THIN 32

struct range {
    uintptr_t lo, hi;
};

const char *const lg__uv_thin[] = {
    "uv_cond_wait",     "uv_cond_timedwait", "uv_sem_wait",
    "uv_thread_join",   "uv_sleep",          "uv_barrier_wait",
    "uv_rwlock_rdlock", "uv_rwlock_wrlock",  "uv_mutex_lock",
    NULL,
};

static struct range lib_segs[MAX_LIB_SEGS];
static struct range thin[MAX_THIN];
static int n_lib_segs, n_thin;        /* published with release stores */
static pthread_mutex_t ignore_lock = PTHREAD_MUTEX_INITIALIZER;

static int in_ranges(const struct range *r, int n, uintptr_t pc)
{
    for (int i = 0; i < n; i++)
        if (pc >= r[i].lo && pc < r[i].hi)
            return 1;
    return 0;
}

struct seg_search {
    uintptr_t addr;
    int found;
};

static int add_lib_segments(struct dl_phdr_info *info, size_t size, void *arg)
{
    struct seg_search *s = arg;
    (void)size;
    int mine = 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type == PT_LOAD && s->addr >= lo &&
            s->addr < lo + ph->p_memsz)
            mine = 1;
    }
    if (!mine)
        return 0;
    int n = __atomic_load_n(&n_lib_segs, __ATOMIC_RELAXED);
    for (int i = 0; i < info->dlpi_phnum && n < MAX_LIB_SEGS; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
            continue;
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
        if (in_ranges(lib_segs, n, lo))
            continue;
        lib_segs[n].lo = lo;
        lib_segs[n].hi = lo + ph->p_memsz;
        n++;
    }
    __atomic_store_n(&n_lib_segs, n, __ATOMIC_RELEASE);
    s->found = 1;
    return 1;
}

static void add_thin(void *handle, const char *name)
{
    void *f = dlsym(handle, name);
    Dl_info info;
    const ElfW(Sym) *sym = NULL;
    if (!f || !dladdr1(f, &info, (void **)&sym, RTLD_DL_SYMENT) || !sym)
        return;
    int n = __atomic_load_n(&n_thin, __ATOMIC_RELAXED);
    if (n >= MAX_THIN || in_ranges(thin, n, (uintptr_t)f))
        return;
    thin[n].lo = (uintptr_t)f;
    thin[n].hi = (uintptr_t)f + (sym->st_size ? sym->st_size : 1);
    __atomic_store_n(&n_thin, n + 1, __ATOMIC_RELEASE);
}

void lg__ignore_library(const void *entry,
                        const char *const *thin_wrappers)
{
    if (!entry)
        return;
    lg__lock_register(&ignore_lock);
    pthread_mutex_lock(&ignore_lock);
    if (!in_ranges(lib_segs, n_lib_segs, (uintptr_t)entry)) {
        struct seg_search s = {(uintptr_t)entry, 0};
        dl_iterate_phdr(add_lib_segments, &s);
        Dl_info info;
        void *h = NULL;
        if (s.found && dladdr(entry, &info) && info.dli_fname)
            h = dlopen(info.dli_fname, RTLD_LAZY | RTLD_NOLOAD);
        for (int i = 0; h && thin_wrappers && thin_wrappers[i]; i++)
            add_thin(h, thin_wrappers[i]);
        if (h)
            dlclose(h);
    }
    pthread_mutex_unlock(&ignore_lock);
}

int lg__ignored_caller(void *const *pcs, int n)
{
    if (lg__tls.sync_fs)
        return 0;
    int nl = __atomic_load_n(&n_lib_segs, __ATOMIC_ACQUIRE);
    int nt = __atomic_load_n(&n_thin, __ATOMIC_ACQUIRE);
    if (nl == 0)
        return 0;
    /* Return addresses: pc - 1 lies inside the calling function. */
    int i = 0;
    while (i < n && in_ranges(lib_segs, nl, (uintptr_t)pcs[i] - 1))
        i++;
    return i > 0 && !in_ranges(thin, nt, (uintptr_t)pcs[i - 1] - 1);
}

int lg__in_sync_fs(void *const *pcs, int n)
{
    return lg__tls.sync_fs || lg__loopcat_sync_fs(pcs, n);
}

int lg__in_loop_library(uintptr_t pc)
{
    return in_ranges(lib_segs, __atomic_load_n(&n_lib_segs, __ATOMIC_ACQUIRE),
                     pc);
}

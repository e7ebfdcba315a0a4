/* Whether uv_run is on the calling thread's stack: lg_chan refuses to park
 * a thread inside a libuv callback (-EDEADLK) with or without the detector.
 * With the preload, its uv_run wrapper marks the thread; without it nothing
 * announces a loop, so the stack is read, and only on the path that would
 * park (a few microseconds; a park and its wake-up cost more).
 *
 * The stack is read with glibc's backtrace (libgcc's unwinder), not
 * libunwind: lg_chan runs in programs built with ThreadSanitizer, where
 * libunwind's per-thread cache, freed by a thread-specific destructor at
 * thread exit, crashed TSan (every test-chan-* under check-tsan whose
 * threads parked). libgcc's unwinder keeps no per-thread state.
 *
 * uv_run's extent comes from two places: the one the dynamic linker gives
 * (libuv.so, or a program that exports its own), with the size of its
 * symbol (dladdr1), looked up at every call since libuv may be loaded or
 * unloaded at any time; and a libuv linked into the program and not
 * exported, from the program's .symtab, read once. A libuv that a plugin
 * loaded with RTLD_LOCAL is not seen. */
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <execinfo.h>
#include <link.h>
#include <pthread.h>
#include <string.h>

#include "elf-symtab.h"
#include "lg-internal.h"

#define UVRUN_FRAMES 256      /* a callback deep in recursion still finds
                                 uv_run beneath it */

struct extent {
    uintptr_t lo, hi;
};

static struct extent exe_run;         /* the program's own, or empty */
static pthread_once_t exe_once = PTHREAD_ONCE_INIT;

struct exe_scan {
    uintptr_t bias;
    struct extent found;
};

static void exe_func(void *arg, const char *name, uint64_t value,
                     uint64_t size, int lib)
{
    struct exe_scan *s = arg;
    (void)lib;
    if (size && strcmp(name, "uv_run") == 0) {
        s->found.lo = s->bias + value;
        s->found.hi = s->found.lo + size;
    }
}

static void exe_scan_once(void)
{
    static const char *const names[] = {"uv_run", NULL};
    size_t nsyms;
    struct exe_scan s = {0, {0, 0}};
    if (lg__elf_mentions("/proc/self/exe", names, NULL, &nsyms) != 1)
        return;
    s.bias = lg__exe_bias();
    lg__elf_each_func("/proc/self/exe", NULL, exe_func, &s);
    exe_run = s.found;
}

/* The uv_run the dynamic linker resolves, or an empty extent. */
static struct extent dyn_run(void)
{
    struct extent e = {0, 0};
    void *f = dlsym(RTLD_DEFAULT, "uv_run");
    Dl_info info;
    const ElfW(Sym) *sym = NULL;
    if (f && dladdr1(f, &info, (void **)&sym, RTLD_DL_SYMENT) && sym &&
        sym->st_size) {
        e.lo = (uintptr_t)f;
        e.hi = e.lo + sym->st_size;
    }
    return e;
}

static int inside(const struct extent *e, uintptr_t ret)
{
    /* A return address lies just past its call: ret - 1 is in the caller. */
    return e->hi && ret - 1 >= e->lo && ret - 1 < e->hi;
}

int lg__in_uv_run(void)
{
    int saved = errno;        /* the caller's, whatever the look costs */
    pthread_once(&exe_once, exe_scan_once);
    struct extent dyn = dyn_run();
    int found = 0;
    if (dyn.hi || exe_run.hi) {   /* else no libuv: no loop to freeze */
        void *pcs[UVRUN_FRAMES];
        int n = backtrace(pcs, UVRUN_FRAMES);
        for (int i = 0; i < n && !found; i++)
            found = inside(&dyn, (uintptr_t)pcs[i]) ||
                    inside(&exe_run, (uintptr_t)pcs[i]);
    }
    errno = saved;
    return found;
}

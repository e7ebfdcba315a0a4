/* Memory that dies takes its locks with it: free, realloc, reallocarray
 * and munmap tell the lock-order graph (lg__lock_forget_range), before the
 * memory goes back, so that a lock made later at the same address starts
 * with no edges (TSan and Helgrind do the same from their free).
 *
 * free() is on every allocation-heavy program's hot path, and nearly every
 * block holds no lock: the fast path is one load and a compare against the
 * highest lock in the graph (lg__lock_below), then, for blocks below it,
 * the block's size and a test of the graph's granule bits
 * (lg__lock_bits_short). The graph's lock is taken only for a block that
 * may hold one of its locks. Nothing here allocates, and nothing waits but
 * for the graph's lock.
 *
 * The size comes from the allocator that owns the block, found once by the
 * constructor (lg__preload_heap_init): glibc's own chunk header, read
 * inline; else the malloc_usable_size of the object that defines the free
 * we forward to (jemalloc, tcmalloc, mimalloc); else none, and free()
 * only forwards. An allocator that comes before the preload in the lookup
 * order (a sanitizer's runtime, an allocator linked into the executable)
 * never calls us: a sanitizer's free hook tells us instead. jemalloc's and
 * tcmalloc's own operator delete never reach free: objects they delete
 * are not seen (docs/guide.md). */
#include <dlfcn.h>
#include <gnu/libc-version.h>
#include <sys/mman.h>

#include "enter.h"
#include "real.h"

enum heap_mode {
    HEAP_NONE,                /* sizes unknown: free only forwards */
    HEAP_GLIBC,               /* glibc's malloc: its chunk header */
    HEAP_USABLE               /* the allocator's malloc_usable_size */
};
static uint8_t heap_mode;
static size_t (*usable_size)(void *);

/* glibc malloc.c: the word before a block is its chunk's size, the low 3
 * bits flags; the block ends 8 bytes before the chunk (an mmapped chunk's
 * 16: one word too many, harmless). Not instrumented: an ASan build reads
 * another allocator's header on purpose. */
__attribute__((no_sanitize_address)) static inline size_t
glibc_size(const void *ptr)
{
    size_t chunk = ((const size_t *)ptr)[-1] & ~(size_t)7;
    return chunk > sizeof(size_t) ? chunk - sizeof(size_t) : 0;
}

/* The size of glibc's block at ptr, or 0 when that is not one (not
 * 16-aligned: glibc will say so itself). */
static inline size_t glibc_block(const void *ptr)
{
    return (uintptr_t)ptr % 16 ? 0 : glibc_size(ptr);
}

/* Whether the block at ptr, n bytes, below the graph's highest lock (the
 * caller's test), may hold one of its locks: the bits decide; a block
 * over two words of them (1 to 2 KiB) is left to lg__lock_forget_range,
 * which looks again. */
static inline int block_may_hold(const void *ptr, size_t n)
{
    return n && LG__UNLIKELY(lg__lock_bits_short((uintptr_t)ptr, n) != 0);
}

/* The block at ptr dies, whatever the allocator. */
static void heap_dies(void *ptr)
{
    if (!lg__lock_below(ptr))
        return;
    size_t n = heap_mode == HEAP_GLIBC    ? glibc_block(ptr)
               : heap_mode == HEAP_USABLE ? usable_size(ptr)
                                          : 0;
    if (block_may_hold(ptr, n))
        lg__lock_forget_range(ptr, n);
}

/* The wrappers. A block above every lock of the graph (nearly all) costs
 * one load, a compare and a jump to the real function; a block below it,
 * from glibc, a read of its header and of a word of bits, and jumps. Every
 * call with a value still to use afterwards is out of line, so that these
 * paths save no register. (The real pointers are read directly, not
 * through REAL(), for the same reason: its lazy resolution is a call.) */
static __attribute__((noinline)) void free_dies(void *ptr, size_t n)
{
    lg__lock_forget_range(ptr, n);
    REAL(free)(ptr);
}

static __attribute__((noinline)) void free_other(void *ptr)
{
    heap_dies(ptr);
    REAL(free)(ptr);
}

static __attribute__((noinline)) void free_slow(void *ptr)
{
    void (*real)(void *) = lg__real_free;
    if (heap_mode != HEAP_GLIBC || !real)
        return free_other(ptr);
    size_t n = glibc_block(ptr);
    if (block_may_hold(ptr, n))
        return free_dies(ptr, n);
    real(ptr);
}

LG_EXPORT void free(void *ptr)
{
    void (*real)(void *) = lg__real_free;
    if (LG__UNLIKELY(lg__lock_below(ptr)) || LG__UNLIKELY(!real))
        return free_slow(ptr);
    real(ptr);
}

/* The old block dies before the call: one that moves is free the moment
 * realloc returns, to any thread. One that stays (or a failed call) loses
 * its locks' edges, which a live lock then makes again: no false report,
 * at worst a cycle through the lost edges missed. */
static __attribute__((noinline)) void *realloc_dies(void *ptr, size_t size,
                                                    size_t n)
{
    lg__lock_forget_range(ptr, n);
    return REAL(realloc)(ptr, size);
}

static __attribute__((noinline)) void *realloc_other(void *ptr, size_t size)
{
    heap_dies(ptr);
    return REAL(realloc)(ptr, size);
}

static __attribute__((noinline)) void *realloc_slow(void *ptr, size_t size)
{
    void *(*real)(void *, size_t) = lg__real_realloc;
    if (heap_mode != HEAP_GLIBC || !real)
        return realloc_other(ptr, size);
    size_t n = glibc_block(ptr);
    if (block_may_hold(ptr, n))
        return realloc_dies(ptr, size, n);
    return real(ptr, size);
}

LG_EXPORT void *realloc(void *ptr, size_t size)
{
    void *(*real)(void *, size_t) = lg__real_realloc;
    if (LG__UNLIKELY(lg__lock_below(ptr)) || LG__UNLIKELY(!real))
        return realloc_slow(ptr, size);
    return real(ptr, size);
}

LG_EXPORT void *reallocarray(void *ptr, size_t nmemb, size_t size)
{
    heap_dies(ptr);
    return REAL(reallocarray)(ptr, nmemb, size);
}

LG_EXPORT int munmap(void *addr, size_t len)
{
    /* The kernel unmaps whole pages. */
    size_t pages = len > SIZE_MAX - 4095 ? SIZE_MAX : (len + 4095) & ~4095ul;
    if (LG__UNLIKELY(lg__lock_maybe_in((uintptr_t)addr, pages)))
        lg__lock_forget_range(addr, pages);
    return REAL(munmap)(addr, len);
}

/* A sanitizer's runtime owns malloc and free and comes first in the lookup
 * order (ASan requires it): its hooks run before a block is freed. */
typedef void (*san_malloc_hook)(const volatile void *ptr, size_t n);
typedef void (*san_free_hook)(const volatile void *ptr);
static int (*san_owned)(const volatile void *ptr);
static size_t (*san_size)(const volatile void *ptr);

static void on_san_malloc(const volatile void *ptr, size_t n)
{
    (void)ptr;
    (void)n;
}

static void on_san_free(const volatile void *ptr)
{
    const void *p = (const void *)ptr;
    /* Ownership first: the size query dies on a block not allocated (a
     * double free, which the sanitizer reports itself right after). */
    if (!lg__lock_below(p) || !san_owned(ptr))
        return;
    size_t n = san_size(ptr);
    if (block_may_hold(p, n))
        lg__lock_forget_range(p, n);
}

static void san_hooks_init(void)
{
    int (*install)(san_malloc_hook, san_free_hook);
    *(void **)&install =
        dlsym(RTLD_DEFAULT, "__sanitizer_install_malloc_and_free_hooks");
    *(void **)&san_owned = dlsym(RTLD_DEFAULT, "__sanitizer_get_ownership");
    *(void **)&san_size =
        dlsym(RTLD_DEFAULT, "__sanitizer_get_allocated_size");
    if (install && san_owned && san_size)
        install(on_san_malloc, on_san_free);
}

/* From the constructor, with in_shim set: the failed lookups allocate. */
void lg__preload_heap_init(void)
{
    Dl_info f, other;
    void *real_free = (void *)REAL(free);
    if (!dladdr(real_free, &f))
        return;
    if (dladdr((void *)gnu_get_libc_version, &other) &&
        other.dli_fbase == f.dli_fbase) {
        heap_mode = HEAP_GLIBC;
    } else {
        void *u = dlsym(RTLD_NEXT, "malloc_usable_size");
        if (u && dladdr(u, &other) && other.dli_fbase == f.dli_fbase) {
            *(void **)&usable_size = u;
            heap_mode = HEAP_USABLE;
        }
    }
    san_hooks_init();
}

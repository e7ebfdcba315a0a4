/* Resolution of the real functions: one table built from symbols.def, one
 * resolve path (dlvsym with the row's version, else dlsym(RTLD_NEXT)),
 * refusing our own wrapper as a result. A successful dlvsym allocates
 * nothing and calls no wrapper (preload notes section 2), so it may run
 * lazily inside a wrapper; failures, which allocate, happen in the
 * constructor for the rows that are optional. */
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#include "lg-internal.h"
#include "enter.h"
#include "real.h"

#define LG_SYM(c, s, v, e, n, r, p) r(*lg__real_##c) p;
#include "symbols.def"
#undef LG_SYM

/* The wrappers themselves, to refuse a lookup that finds us again. */
#define PLAIN(c) (void *)c
#define DEFAULT(c) (void *)lg__wrap_##c
#define COMPAT(c) (void *)lg__wrap_##c
#define LG_SYM(c, s, v, e, n, r, p) LG_WRAPPER_DECL_##e(c, r, p)
#define LG_WRAPPER_DECL_PLAIN(c, r, p)
#define LG_WRAPPER_DECL_DEFAULT(c, r, p) r lg__wrap_##c p;
#define LG_WRAPPER_DECL_COMPAT(c, r, p) r lg__wrap_##c p;
#include "symbols.def"
#undef LG_SYM

enum { REQUIRED = 1, OPTIONAL = 0 };

static const struct row {
    const char *name, *version;
    void **real;
    void *self;
    int required;
} rows[LG__SYM_COUNT] = {
#define LG_SYM(c, s, v, e, n, r, p)                                           \
    [LG__SYMIDX_##c] = {s, v, (void **)&lg__real_##c, e(c), n},
#include "symbols.def"
#undef LG_SYM
};

static void die_missing(const char *name)
{
    struct lg__buf b;
    char msg[160];
    lg__buf_init(&b, msg, sizeof msg);
    lg__buf_str(&b, "loopguard: cannot find the real ");
    lg__buf_str(&b, name);
    lg__buf_str(&b, "; aborting\n");
    (void)!write(2, b.p, b.len);
    abort();
}

static void *lookup(const struct row *r)
{
    void *p = NULL;
    if (r->version)
        p = dlvsym(RTLD_NEXT, r->name, r->version);
    /* COMPAT and DEFAULT rows must get exactly their version; a PLAIN row
     * falls back to whatever this libc calls the symbol. */
    if (!p && (r->self == NULL || !r->version ||
               strcmp(r->version, "GLIBC_2.2.5") != 0 ||
               r->required == OPTIONAL))
        p = dlsym(RTLD_NEXT, r->name);
    return p == r->self ? NULL : p;
}

void *lg__preload_resolve(int idx)
{
    const struct row *r = &rows[idx];
    void *p = __atomic_load_n(r->real, __ATOMIC_ACQUIRE);
    if (p)
        return p;
    int saved = errno;
    p = lookup(r);
    if (!p)
        die_missing(r->name);
    __atomic_store_n(r->real, p, __ATOMIC_RELEASE);
    errno = saved;
    return p;
}

__attribute__((constructor)) static void preload_constructor(void)
{
    uint8_t was = lg__tls.in_shim;
    lg__tls.in_shim = 1;
    /* First: everything below allocates, and frees through our free. */
    lg__preload_resolve(LG__SYMIDX_free);
    lg__preload_resolve(LG__SYMIDX_realloc);
    lg__stack_own_module((const void *)preload_constructor);
    lg__init();
    lg__detector_mark_active();
    for (int i = 0; i < LG__SYM_COUNT; i++) {
        const struct row *r = &rows[i];
        if (*r->real)
            continue;
        void *p = lookup(r);
        if (p)
            __atomic_store_n(r->real, p, __ATOMIC_RELEASE);
    }
    lg__preload_loops_init();
    lg__preload_heap_init();
    lg__tls.in_shim = was;
}

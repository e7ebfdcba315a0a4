/* The public loop-marking API (include/loopguard.h) over the registry, and
 * the scopes of accepted blocking. */
#include <errno.h>
#include <string.h>

#include "lg-internal.h"

static int kind_from_name(const char *kind)
{
    static const char *const names[] = {
#define XX(e, s) s,
        LG__LOOP_KIND_MAP(XX)
#undef XX
    };
    if (!kind)
        return LG__LOOP_MANUAL;
    for (int i = 0; i < LG__LOOP_KIND_COUNT; i++)
        if (strcmp(kind, names[i]) == 0)
            return i;
    return LG__LOOP_MANUAL;
}

int lg_loop_enter(const char *kind, const void *id)
{
    return lg__loop_enter(kind_from_name(kind), LG__VIA_API, id, NULL,
                          __builtin_return_address(0));
}

int lg_loop_leave(void)
{
    return lg__loop_leave();
}

int lg_thread_is_loop(void)
{
    if (lg__tls.depth != 0)
        return 1;
    uint8_t bits = __atomic_load_n(&lg__stack_loops, __ATOMIC_ACQUIRE);
    if ((bits & LG__SL_PYTHON) && lg__py_loop())
        return 1;
    if (!(bits & LG__SL_RUNNER))
        return 0;
    /* A runner compiled into the program: ask the stack. */
    void *pcs[LG__MAX_FRAMES];
    struct lg__stack_loop sl;
    int saved = errno;
    uint8_t was = lg__tls.in_shim;
    lg__tls.in_shim = 1;
    int n = lg__stack_capture(pcs, LG__MAX_FRAMES);
    int r = lg__loopcat_classify(pcs, n, &sl);
    lg__tls.in_shim = was;
    errno = saved;
    return r;
}

int lg_allow_blocking_begin(void)
{
    if (lg__tls.allow == UINT16_MAX)
        return -EOVERFLOW;
    lg__tls.allow++;
    return 0;
}

int lg_allow_blocking_end(void)
{
    if (lg__tls.allow == 0)
        return -EINVAL;
    lg__tls.allow--;
    return 0;
}

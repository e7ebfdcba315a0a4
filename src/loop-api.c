/* The public loop-marking API (include/loopguard.h) over the registry. */
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
    return lg__tls.depth != 0;
}

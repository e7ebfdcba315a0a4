/* A plugin that links libuv itself; loaded with RTLD_LOCAL by prog-plugin,
 * so its libuv is in no global scope, yet its uv_run binds to the
 * preload's. */
#include <uv.h>

int plugin_run(void)
{
    uv_loop_t l;
    if (uv_loop_init(&l) != 0)
        return -1;
    int r = uv_run(&l, UV_RUN_DEFAULT);
    return uv_loop_close(&l) == 0 ? r : -2;
}

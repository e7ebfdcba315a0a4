/* A probe preloaded after the detector, for tests that expect no record:
 * it proves, in the same process, that the detector was loaded and saw the
 * loop. It wraps uv_close(), which libuv programs call from their callbacks
 * (the preload does not wrap it), and asks lg_thread_is_loop() there. At
 * exit it appends "loop-probe: N of M uv_close calls on a loop thread" to
 * the file named by LG_PROBE_OUT, when the process called uv_close at all
 * (a child that never did writes nothing). Without the detector the answer
 * is 0, or the function is missing (the program does not link
 * libloopguard.so): N is then 0. */
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <uv.h>

static unsigned long on_loop, total;

void uv_close(uv_handle_t *h, uv_close_cb cb)
{
    static void (*next)(uv_handle_t *, uv_close_cb);
    if (!next)
        next = (void (*)(uv_handle_t *, uv_close_cb))dlsym(RTLD_NEXT,
                                                            "uv_close");
    int (*is_loop)(void) = (int (*)(void))dlsym(RTLD_DEFAULT,
                                                "lg_thread_is_loop");
    __atomic_add_fetch(&total, 1, __ATOMIC_RELAXED);
    if (is_loop && is_loop() == 1)
        __atomic_add_fetch(&on_loop, 1, __ATOMIC_RELAXED);
    next(h, cb);
}

__attribute__((destructor)) static void probe_report(void)
{
    const char *path = getenv("LG_PROBE_OUT");
    if (!path || total == 0)
        return;
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return;
    dprintf(fd, "loop-probe: %lu of %lu uv_close calls on a loop thread\n",
            on_loop, total);
    close(fd);
}

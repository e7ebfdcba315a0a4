/* A probe preloaded after the detector, for tests that expect no record:
 * it proves, in the same process, that the detector was loaded and saw the
 * loop. It wraps uv_close(), which libuv programs call from their callbacks
 * (the preload does not wrap it), and asks lg_thread_is_loop() there. At
 * exit it appends "loop-probe: N of M uv_close calls on a loop thread" to
 * the file named by LG_PROBE_OUT, when the process called uv_close at all
 * (a child that never did writes nothing). For programs on other loops
 * (test-compat-*: a server answering from its loop) it does the same with
 * send(), sendto() and sendmsg(), which the preload does not wrap either:
 * "send-probe: N of M sends on a loop thread, pid P". With LG_PROBE_SLEEP
 * set, the first send on a loop thread sleeps a microsecond: a blocking
 * call in count_send that the detector reports with the loop's kind. Without the detector the answer
 * is 0, or the function is missing (the program does not link
 * libloopguard.so): N is then 0. */
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <uv.h>

#include <sys/socket.h>

static unsigned long on_loop, total, send_on_loop, send_total;

static void count_send(void)
{
    int (*is_loop)(void) = (int (*)(void))dlsym(RTLD_DEFAULT,
                                                "lg_thread_is_loop");
    static int slept;
    __atomic_add_fetch(&send_total, 1, __ATOMIC_RELAXED);
    if (!is_loop || is_loop() != 1)
        return;
    __atomic_add_fetch(&send_on_loop, 1, __ATOMIC_RELAXED);
    if (getenv("LG_PROBE_SLEEP") &&
        !__atomic_exchange_n(&slept, 1, __ATOMIC_RELAXED))
        usleep(1);
}

ssize_t send(int fd, const void *buf, size_t n, int flags)
{
    static ssize_t (*next)(int, const void *, size_t, int);
    if (!next)
        next = (ssize_t (*)(int, const void *, size_t, int))dlsym(RTLD_NEXT,
                                                                  "send");
    count_send();
    return next(fd, buf, n, flags);
}

ssize_t sendto(int fd, const void *buf, size_t n, int flags,
               const struct sockaddr *to, socklen_t len)
{
    static ssize_t (*next)(int, const void *, size_t, int,
                           const struct sockaddr *, socklen_t);
    if (!next)
        next = (ssize_t (*)(int, const void *, size_t, int,
                            const struct sockaddr *, socklen_t))
            dlsym(RTLD_NEXT, "sendto");
    count_send();
    return next(fd, buf, n, flags, to, len);
}

ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
    static ssize_t (*next)(int, const struct msghdr *, int);
    if (!next)
        next = (ssize_t (*)(int, const struct msghdr *, int))dlsym(
            RTLD_NEXT, "sendmsg");
    count_send();
    return next(fd, msg, flags);
}

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
    if (!path || (total == 0 && send_total == 0))
        return;
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return;
    if (total)
        dprintf(fd, "loop-probe: %lu of %lu uv_close calls on a loop "
                    "thread\n", on_loop, total);
    if (send_total)
        dprintf(fd, "send-probe: %lu of %lu sends on a loop thread, pid "
                    "%ld\n", send_on_loop, send_total, (long)getpid());
    close(fd);
}

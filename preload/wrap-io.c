/* Receives on descriptors, and writes. A receive on a pipe, socket pair
 * or eventfd made here may count toward a deadlock (pipes.c); only a
 * pipe's writers are noted (write, writev), so only a pipe read can be a
 * self-wait: a pair's other end may be written by send() and its kin,
 * which are not wrapped, and an eventfd's writers are not noted. Receives
 * count only on a descriptor that may wait for another thread or process:
 * not O_NONBLOCK, not a regular file, directory, block device or
 * /dev/null-like device (the fd class cache, fdclass.c), not a call
 * with MSG_DONTWAIT, and not a netlink receive with an answer queued. Writes count on such a descriptor only inside a
 * synchronous libuv fs request (below). */
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "enter.h"
#include "real.h"

/* EAGAIN from a descriptor we thought blocking: its flags changed behind
 * our back (another process, a raw syscall) or SO_RCVTIMEO expired; either
 * way, look again next time. */
static void fd_learn(int fd, ssize_t r)
{
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        lg__fd_forget(fd);
}

/* A netlink socket's other end is the kernel, which answers a request
 * (an address dump, a route change) inside the request's own send, and
 * queues the next part of a dump as the reader takes the last: a receive
 * that finds an answer queued never waits. One with nothing queued waits
 * for the kernel's next event (a notification): that one counts. dnsmasq
 * reads its RTM_GETADDR dump so, with its loop's thread. */
static int netlink_answer_queued(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int saved = errno;
    int queued = REAL(poll)(&p, 1, 0) == 1 && (p.revents & POLLIN);
    errno = saved;
    return queued;
}

/* One slow path per entry point; `args` forwards, `flags` is the call's
 * MSG_* flags (0 for read/readv), `empty` is true for a read of zero bytes,
 * which returns at once (recv of zero bytes can still wait for a
 * datagram, so it never sets it; readv's vector is not read, since a bad
 * pointer must fail with EFAULT in libc, not crash here). */
#define FD_RECV_SLOW(name, ret, params, args, flags, empty)                   \
    static LG__COLD ret name##_slow(void *caller, LG_UNPAREN params)          \
    {                                                                         \
        if (empty)                                                            \
            return REAL(name) args;                                           \
        unsigned cls = lg__fd_class(fd);                                      \
        if ((cls & LG__FD_STATE_MASK) != LG__FD_BLOCKING ||                   \
            ((flags) & MSG_DONTWAIT))                                         \
            return REAL(name) args;                                           \
        unsigned kind_ = (cls & LG__FD_KIND_MASK) >> LG__FD_KIND_SHIFT;       \
        if (kind_ == LG__FDK_NETLINK && netlink_answer_queued(fd))            \
            return REAL(name) args;                                           \
        struct lg__wait w;                                                    \
        ret r;                                                                \
        lg_wait_init(&w, #name, (void *)REAL(name), caller, -1);              \
        lg__object_fd(&w, fd, cls);                                           \
        int pipe_ = kind_ == LG__FDK_PIPE;                                    \
        int pair_ = (kind_ == LG__FDK_SOCKET || kind_ == LG__FDK_EVENTFD) &&  \
                    lg__fd_made_here(fd);                                     \
        if (pipe_ && (w.touch = lg__pipe_key(fd))) {                          \
            lg__touch(w.touch, 0);                                            \
            w.touch_fd = fd;                                                  \
        }                                                                     \
        LG_BLOCKING(&w, LG_PARKED(#name,                                      \
                                  pipe_ ? "pipe"                              \
                                  : kind_ == LG__FDK_SOCKET ? "socket"        \
                                                            : "eventfd",      \
                                  (const void *)(intptr_t)fd,                 \
                                  pipe_ || pair_, r = REAL(name) args));      \
        fd_learn(fd, r);                                                      \
        return r;                                                             \
    }
#define FD_RECV(name, ret, params, args, flags, empty)                        \
    FD_RECV_SLOW(name, ret, params, args, flags, empty)                       \
    LG_WRAP_SLOW(name, ret, params, args)

/* read is also how libunwind drains its pipe: inside it, only that pipe
 * may be read (stack.c). */
#define FD_RECV_READ(name, ret, params, args, flags, empty)                   \
    FD_RECV_SLOW(name, ret, params, args, flags, empty)                       \
    LG_EXPORT ret name params                                                 \
    {                                                                         \
        if (!lg__tls_on_loop()) {                                             \
            if (LG__UNLIKELY(lg__tls.unwinding) && !lg__unwind_fd_ours(fd) && \
                lg__unwind_caller(__builtin_return_address(0))) {             \
                errno = EBADF;                                                \
                return -1;                                                    \
            }                                                                 \
            return REAL(name) args;                                           \
        }                                                                     \
        return name##_slow(__builtin_return_address(0), LG_UNPAREN args);     \
    }

FD_RECV_READ(read, ssize_t, (int fd, void *buf, size_t n), (fd, buf, n), 0,
             n == 0)
FD_RECV(__read_chk, ssize_t, (int fd, void *buf, size_t n, size_t buflen),
        (fd, buf, n, buflen), 0, n == 0)
FD_RECV(readv, ssize_t, (int fd, const struct iovec *iov, int cnt),
        (fd, iov, cnt), 0, cnt <= 0)
FD_RECV(recv, ssize_t, (int fd, void *buf, size_t n, int flags),
        (fd, buf, n, flags), flags, 0)
FD_RECV(__recv_chk, ssize_t,
        (int fd, void *buf, size_t n, size_t buflen, int flags),
        (fd, buf, n, buflen, flags), flags, 0)
FD_RECV(recvfrom, ssize_t,
        (int fd, void *restrict buf, size_t n, int flags,
         struct sockaddr *restrict from, socklen_t *restrict fromlen),
        (fd, buf, n, flags, from, fromlen), flags, 0)
FD_RECV(__recvfrom_chk, ssize_t,
        (int fd, void *buf, size_t n, size_t buflen, int flags,
         struct sockaddr *from, socklen_t *fromlen),
        (fd, buf, n, buflen, flags, from, fromlen), flags, 0)
FD_RECV(recvmsg, ssize_t, (int fd, struct msghdr *msg, int flags),
        (fd, msg, flags), flags, 0)
FD_RECV(recvmmsg, int,
        (int fd, struct mmsghdr *vec, unsigned int vlen, int flags,
         struct timespec *tmo),
        (fd, vec, vlen, flags, tmo), flags, 0)

/* Writes: noted when to a pipe made here (touch.c), for the self-wait
 * check of a loop thread that reads it. A write is no receive, but one
 * made by a libuv fs request the program made without a callback
 * (uv_fs_write, Node's fs.writeSync) waits, on a full pipe, for a reader
 * the program asked libuv to wait for: on a descriptor that may block, it
 * is judged there (fs_only; report.c) and nowhere else. */
static inline void wrote(int fd)
{
    const void *key = lg__pipe_key(fd);
    if (LG__UNLIKELY(key != NULL) && !lg__tls.in_shim)
        lg__touch(key, 1);
}

#define FD_SEND(name, params, args, empty)                                    \
    static LG__COLD ssize_t name##_slow(void *caller, LG_UNPAREN params)      \
    {                                                                         \
        unsigned cls = (empty) ? 0 : lg__fd_class(fd);                        \
        if ((cls & LG__FD_STATE_MASK) != LG__FD_BLOCKING)                     \
            return REAL(name) args;                                           \
        struct lg__wait w;                                                    \
        ssize_t r;                                                            \
        lg_wait_init(&w, #name, (void *)REAL(name), caller, -1);              \
        lg__object_fd(&w, fd, cls);                                           \
        w.fs_only = 1;                                                        \
        LG_BLOCKING(&w, r = REAL(name) args);                                 \
        fd_learn(fd, r);                                                      \
        return r;                                                             \
    }                                                                         \
    LG_EXPORT ssize_t name params                                             \
    {                                                                         \
        wrote(fd);                                                            \
        if (!lg__tls_sync_fs())                                               \
            return REAL(name) args;                                           \
        return name##_slow(__builtin_return_address(0), LG_UNPAREN args);     \
    }

FD_SEND(write, (int fd, const void *buf, size_t n), (fd, buf, n), n == 0)
FD_SEND(writev, (int fd, const struct iovec *iov, int cnt), (fd, iov, cnt),
        cnt <= 0)

/* Calls that create descriptors forget what the fd class cache held for the
 * new number. Closes made inside libc (fclose, pclose, closedir) bypass the
 * close wrapper; without this, a number they freed could be reused with the
 * old answer still cached. */
#include <fcntl.h>
#include <stdarg.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "enter.h"
#include "real.h"

static int fresh(int fd)
{
    if (fd >= 0)
        lg__fd_closed(fd);
    return fd;
}

static int fresh_pair(int r, const int fds[2])
{
    if (r == 0) {
        fresh(fds[0]);
        fresh(fds[1]);
    }
    return r;
}

/* open's mode is read only when the flags say a file may be created, as
 * libc itself does. */
#define OPEN_MODE(flags, last)                                                \
    mode_t mode = 0;                                                          \
    if ((flags) & (O_CREAT | __O_TMPFILE)) {                                  \
        va_list ap;                                                           \
        va_start(ap, last);                                                   \
        mode = va_arg(ap, mode_t);                                            \
        va_end(ap);                                                           \
    }

LG_EXPORT int open(const char *path, int flags, ...)
{
    OPEN_MODE(flags, flags);
    return fresh(REAL(open)(path, flags, mode));
}

LG_EXPORT int open64(const char *path, int flags, ...)
{
    OPEN_MODE(flags, flags);
    return fresh(REAL(open64)(path, flags, mode));
}

LG_EXPORT int openat(int dir, const char *path, int flags, ...)
{
    OPEN_MODE(flags, flags);
    return fresh(REAL(openat)(dir, path, flags, mode));
}

LG_EXPORT int openat64(int dir, const char *path, int flags, ...)
{
    OPEN_MODE(flags, flags);
    return fresh(REAL(openat64)(dir, path, flags, mode));
}

LG_EXPORT int dup(int fd)
{
    int r = REAL(dup)(fd);
    if (r >= 0)
        lg__fd_dup(fd, r);
    return r;
}

LG_EXPORT int socket(int domain, int type, int proto)
{
    return fresh(REAL(socket)(domain, type, proto));
}

LG_EXPORT int accept(int fd, struct sockaddr *restrict a,
                     socklen_t *restrict len)
{
    return fresh(REAL(accept)(fd, a, len));
}

LG_EXPORT int accept4(int fd, struct sockaddr *restrict a,
                      socklen_t *restrict len, int flags)
{
    return fresh(REAL(accept4)(fd, a, len, flags));
}

/* A pipe or socket pair made here may be one only this process writes
 * (pipes.c). */
static int fresh_pipe(int r, int fds[2], int sock)
{
    fresh_pair(r, fds);
    if (r == 0 && !lg__tls.in_shim) {
        int saved = errno;
        lg__pipe_made(fds, sock);
        errno = saved;
    }
    return r;
}

LG_EXPORT int pipe(int fds[2])
{
    return fresh_pipe(REAL(pipe)(fds), fds, 0);
}

LG_EXPORT int pipe2(int fds[2], int flags)
{
    return fresh_pipe(REAL(pipe2)(fds, flags), fds, 0);
}

LG_EXPORT int socketpair(int domain, int type, int proto, int sv[2])
{
    return fresh_pipe(REAL(socketpair)(domain, type, proto, sv), sv, 1);
}

/* An eventfd made here, read on a loop thread, may count toward a
 * deadlock (pipes.c). */
LG_EXPORT int eventfd(unsigned int initval, int flags)
{
    int fd = fresh(REAL(eventfd)(initval, flags));
    if (fd >= 0 && !lg__tls.in_shim) {
        int saved = errno;
        lg__eventfd_made(fd);
        errno = saved;
    }
    return fd;
}

LG_EXPORT int timerfd_create(int clockid, int flags)
{
    return fresh(REAL(timerfd_create)(clockid, flags));
}

LG_EXPORT int signalfd(int fd, const sigset_t *mask, int flags)
{
    return fresh(REAL(signalfd)(fd, mask, flags));
}

LG_EXPORT int inotify_init1(int flags)
{
    return fresh(REAL(inotify_init1)(flags));
}

LG_EXPORT int epoll_create1(int flags)
{
    return fresh(REAL(epoll_create1)(flags));
}

/* Calls that create descriptors forget what the fd class cache held for the
 * new number. Closes made inside libc (fclose, pclose, closedir) bypass the
 * close wrapper; without this, a number they freed could be reused with the
 * old answer still cached. An open of a FIFO may also wait (below). */
#include <fcntl.h>
#include <stdarg.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "enter.h"
#include "real.h"

static int fresh(int fd)
{
    /* Not the watchdog's, in a table of its own (watchdog-fds.c). */
    if (fd >= 0 && !lg__tls.fd_private)
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

/* An open that may wait for another process: a FIFO opened for reading
 * only or for writing only, without O_NONBLOCK, waits for its other end
 * (O_RDWR never does on Linux, nor O_CREAT|O_EXCL, which fails on an
 * existing file). Judged only inside a synchronous libuv fs request
 * (uv_fs_open, Node's fs.openSync: fs_only, report.c), where telling a
 * FIFO costs one fstatat. */
static int opens_fifo(int dir, const char *path, int flags)
{
    if (!path || (flags & (O_NONBLOCK | O_PATH)) ||
        (flags & O_ACCMODE) == O_RDWR ||
        (flags & (O_CREAT | O_EXCL)) == (O_CREAT | O_EXCL))
        return 0;
    struct stat st;
    int saved = errno;
    int fifo = fstatat(dir, path, &st, 0) == 0 && S_ISFIFO(st.st_mode);
    errno = saved;
    return fifo;
}

/* open and its kin; `dparam` and `darg` are the directory parameter and
 * argument of the *at forms, with their comma, or empty. */
#define OPEN_WRAP(name, dparam, darg, dir)                                    \
    static LG__COLD int name##_fifo(void *caller, LG_UNPAREN dparam           \
                                    const char *path, int flags, mode_t mode) \
    {                                                                         \
        struct lg__wait w;                                                    \
        int r;                                                                \
        lg_wait_init(&w, #name, (void *)REAL(name), caller, -1);              \
        lg__object_path(&w, "fifo", path);                                    \
        w.fs_only = 1;                                                        \
        LG_BLOCKING(&w, r = REAL(name)(LG_UNPAREN darg path, flags, mode));   \
        return r;                                                             \
    }                                                                         \
    LG_EXPORT int name(LG_UNPAREN dparam const char *path, int flags, ...)    \
    {                                                                         \
        OPEN_MODE(flags, flags);                                              \
        if (lg__tls_sync_fs() && opens_fifo(dir, path, flags))                \
            return fresh(name##_fifo(__builtin_return_address(0),             \
                                     LG_UNPAREN darg path, flags, mode));     \
        return fresh(REAL(name)(LG_UNPAREN darg path, flags, mode));          \
    }

OPEN_WRAP(open, (), (), AT_FDCWD)
OPEN_WRAP(open64, (), (), AT_FDCWD)
OPEN_WRAP(openat, (int dir,), (dir,), dir)
OPEN_WRAP(openat64, (int dir,), (dir,), dir)

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
    int r = fresh_pipe(REAL(pipe2)(fds, flags), fds, 0);
    /* After fresh_pipe, which forgets what the numbers were. */
    if (LG__UNLIKELY(lg__tls.unwinding) && r == 0 &&
        lg__unwind_caller(__builtin_return_address(0)))
        lg__unwind_pipe_made(fds);
    return r;
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

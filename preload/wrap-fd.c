/* Descriptor bookkeeping: every call that closes, replaces or re-flags a
 * descriptor forgets what the fd class cache knew about it (after the call,
 * so a concurrent classification cannot outlive the change), on every
 * thread, since any thread may change a descriptor a loop reads. They also
 * keep the host from closing or replacing loopguard's log descriptor. */
/* fcntl and ioctl are declared variadic by libc; every command takes at
 * most one argument, an int or a pointer, which a pointer-sized parameter
 * forwards intact. Defining them with three parameters (libc's declarations
 * hidden while the headers are read) spares a va_list and lets the common
 * case be a tail call. */
#define fcntl lg__libc_fcntl_decl
#define fcntl64 lg__libc_fcntl64_decl
#define ioctl lg__libc_ioctl_decl
#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "enter.h"
#include "real.h"
#undef fcntl
#undef fcntl64
#undef ioctl

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC 4
#endif

/* To the host, loopguard's log descriptor does not exist. */
LG_EXPORT int close(int fd)
{
    /* The watchdog in a table of its own closes numbers of that table,
     * which say nothing of the program's (watchdog-fds.c). */
    if (LG__UNLIKELY(lg__tls.fd_private))
        return REAL(close)(fd);
    /* libunwind closing its old pipe's numbers, now the program's: skip
     * (stack.c). */
    if (LG__UNLIKELY(lg__tls.unwinding) && !lg__unwind_fd_ours(fd) &&
        lg__unwind_caller(__builtin_return_address(0)))
        return 0;
    if (LG__UNLIKELY(fd > 2 && fd == lg__log_fd()) && lg__log_owns(fd)) {
        errno = EBADF;
        return -1;
    }
    int r = REAL(close)(fd);
    lg__fd_closed(fd);
    if (LG__UNLIKELY(lg__tls.depth != 0))
        lg__epoll_closed(fd);
    return r;
}

/* A range that covers the log descriptor is closed in two parts. */
LG_EXPORT int close_range(unsigned int first, unsigned int last, int flags)
{
    if (LG__UNLIKELY(lg__tls.fd_private))
        return REAL(close_range)(first, last, flags);
    int log = lg__log_fd();
    int r;
    if (log > 0 && (unsigned)log >= first && (unsigned)log <= last &&
        !(flags & CLOSE_RANGE_CLOEXEC)) {
        r = 0;
        if ((unsigned)log > first)
            r = REAL(close_range)(first, (unsigned)log - 1, flags);
        if (r == 0 && (unsigned)log < last)
            r = REAL(close_range)((unsigned)log + 1, last, flags);
    } else {
        r = REAL(close_range)(first, last, flags);
    }
    if (!(flags & CLOSE_RANGE_CLOEXEC))
        lg__fd_forget_range(first, last);
    return r;
}

/* glibc's closefrom closes through an internal close_range, which our
 * close_range never sees: keep the log's descriptor out of its way too. */
LG_EXPORT void closefrom(int low)
{
    int log = lg__log_fd();
    if (log > 0 && low >= 0 && log >= low) {
        if (log > low)
            REAL(close_range)((unsigned)low, (unsigned)log - 1, 0);
        lg__fd_forget_range((unsigned)low, (unsigned)log);
        low = log + 1;
    }
    REAL(closefrom)(low);
    if (low >= 0)
        lg__fd_forget_range((unsigned)low, ~0u);
}

LG_EXPORT int dup2(int old, int new)
{
    lg__log_evacuate(new);
    int r = REAL(dup2)(old, new);
    if (r >= 0)
        lg__fd_dup(old, new);
    return r;
}

LG_EXPORT int dup3(int old, int new, int flags)
{
    lg__log_evacuate(new);
    int r = REAL(dup3)(old, new, flags);
    if (r >= 0)
        lg__fd_dup(old, new);
    return r;
}

static void fcntl_learn(int fd, int cmd, int r)
{
    if (LG__UNLIKELY(lg__tls.fd_private))
        return;               /* the watchdog's numbers, not the program's */
    if (cmd == F_SETFL)
        lg__fd_flags_changed(fd);
    else if ((cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC) && r >= 0)
        lg__fd_dup(fd, r);
}

static int fcntl_changes(int cmd)
{
    return cmd == F_SETFL || cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC;
}

LG_EXPORT int fcntl(int fd, int cmd, void *arg)
{
    if (LG__LIKELY(!fcntl_changes(cmd)))
        return REAL(fcntl)(fd, cmd, arg);
    int r = REAL(fcntl)(fd, cmd, arg);
    fcntl_learn(fd, cmd, r);
    return r;
}

LG_EXPORT int fcntl64(int fd, int cmd, void *arg)
{
    if (LG__LIKELY(!fcntl_changes(cmd)))
        return REAL(fcntl64)(fd, cmd, arg);
    int r = REAL(fcntl64)(fd, cmd, arg);
    fcntl_learn(fd, cmd, r);
    return r;
}

LG_EXPORT int ioctl(int fd, unsigned long req, void *arg)
{
    if (LG__LIKELY(req != FIONBIO))
        return REAL(ioctl)(fd, req, arg);
    int r = REAL(ioctl)(fd, req, arg);
    lg__fd_flags_changed(fd);
    return r;
}

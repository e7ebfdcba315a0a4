/* The watchdog's own descriptor table.
 *
 * The watchdog opens files as it works (/proc/self/task and its threads'
 * stat, status and syscall files, at a tick where some thread waits in
 * its slot: deadlock.c) and starts the symbolizer's helper. In the
 * program's table each of those would take the lowest free number, which
 * POSIX promises to the program's next open: a thread that closes 5 and
 * makes a pipe would get 8 now and then
 * (tests/integration/prog-watch.c, lowest-*). And while a process has one
 * thread, the kernel looks each descriptor up without taking a reference
 * on its file; once a second thread shares the table, every read, write,
 * fcntl and epoll_wait takes and drops one: 50 to 65 ns more per call
 * here (docs/performance.md, "Where the uv server's CPU goes"); in a
 * single-threaded loop program the watchdog would be that second thread.
 *
 * So the watchdog leaves the table, first thing when it starts, before it
 * opens anything: unshare(CLONE_FILES), then at once closes its copy of
 * every descriptor, so that it holds none of the program's open (a socket
 * the program closes must close). What it writes afterwards, the log and
 * the symbolizer's socket, it borrows from the program's table with
 * pidfd_getfd for the one write or exchange; a log file not open yet it
 * opens for the record, a helper the program has none of yet it starts,
 * both in its own table (log.c, symbolizer-client.c).
 *
 * It stays in the table (as before) under a seccomp filter (which may
 * kill on a call it does not expect), where pidfd_getfd or close_range is
 * missing, in a ThreadSanitizer build (below), and while an embedder's
 * report callback is set: the callback runs on the reporting thread and
 * may use the program's descriptors. Setting one later moves the
 * watchdog back (lg__watch_reshare). */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/prctl.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "lg-internal.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif

static int self_pidfd = -1;   /* the watchdog's, in its own table */

static void raw_close(int fd)
{
    syscall(SYS_close, fd);
}

/* No filter and not strict, asked without a descriptor (a strict thread
 * could not have made the watchdog: clone is not among its calls). */
static int no_seccomp(void)
{
    return prctl(PR_GET_SECCOMP, 0, 0, 0, 0) == 0;
}

/* pidfd_open, pidfd_getfd and close_range exist (Linux 5.9 and later),
 * asked without making a descriptor in the program's table, where a number
 * of ours could meet a program closing and reusing it: a bad argument
 * gives EINVAL or EBADF where the call exists, ENOSYS where it does not.
 * (pidfd_getfd on a thread of the same process needs no permission.) */
static int calls_work(void)
{
    return syscall(SYS_close_range, ~0U, ~0U, 0) == 0 &&
           syscall(SYS_pidfd_open, 0, 0) < 0 && errno == EINVAL &&
           syscall(SYS_pidfd_getfd, -1, 0, 0) < 0 && errno == EBADF;
}

/* ThreadSanitizer keeps one descriptor namespace per process: a number
 * the watchdog opens in its own table is, to it, the program's number
 * reopened by another thread, a race with the program's use of it (seen
 * on test-chan-deadlk: the watchdog's ELF file as 3, the program's epoll
 * fd 3). Its build, which only the channel tests run under, keeps the
 * watchdog in the program's table, where the kernel's numbers and its
 * model agree. */
#if defined(__SANITIZE_THREAD__)
#define LG__TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define LG__TSAN 1
#endif
#endif

int lg__wdfd_leave(void)
{
#ifdef LG__TSAN
    return 0;
#endif
    int saved = errno;
    int ok = no_seccomp() && calls_work() && unshare(CLONE_FILES) == 0;
    if (ok) {
        /* From here the numbers are the watchdog's own: the wrappers must
         * not take them for the program's (raw calls besides). */
        lg__tls.fd_private = 1;
        syscall(SYS_close_range, 0, ~0U, 0);
        /* 0 to 2 on /dev/null: a stray write to stderr goes nowhere, not
         * into a file of the watchdog's own. */
        long null = syscall(SYS_openat, AT_FDCWD, "/dev/null", O_RDWR, 0);
        for (long fd = 1; null == 0 && fd <= 2; fd++)
            syscall(SYS_dup3, null, fd, 0);
        /* Without it nothing can be borrowed: the records the watchdog
         * would have written are counted as lost. */
        long pidfd = syscall(SYS_pidfd_open, getpid(), 0);
        long high = pidfd >= 0 ? syscall(SYS_fcntl, pidfd, F_DUPFD_CLOEXEC,
                                         900L)
                               : -1;
        if (high >= 0)
            raw_close((int)pidfd);
        self_pidfd = (int)(high >= 0 ? high : pidfd);
    }
    errno = saved;
    return ok;
}

int lg__wdfd_borrow(int fd)
{
    if (!lg__tls.fd_private)
        return fd;
    if (fd < 0 || self_pidfd < 0)
        return -1;
    return (int)syscall(SYS_pidfd_getfd, self_pidfd, fd, 0);
}

void lg__wdfd_return(int borrowed)
{
    if (lg__tls.fd_private && borrowed >= 0)
        raw_close(borrowed);
}

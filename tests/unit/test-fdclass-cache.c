/* Descriptor classes (src/fdclass.c): what each kind of fd is classified
 * as, and the per-fd cache, which keeps its answer until told to forget.
 * This binary does not run under the preload, so nothing forgets for us on
 * close(): every fd made here is forgotten first, as the close wrapper
 * would, and flags are flipped with raw fcntl system calls. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <cmocka.h>

#include "lg-internal.h"
#include "skip.h"

#define HIGH_FD 70000 /* in the cache's second page */

static unsigned state_of(int fd)
{
    return lg__fd_class(fd) & LG__FD_STATE_MASK;
}

/* A new fd may reuse a number classified earlier in this process. */
static int fresh(int fd)
{
    assert_true(fd >= 0);
    lg__fd_forget(fd);
    return fd;
}

static void drop(int fd)
{
    close(fd);
    lg__fd_forget(fd);
}

/* Flips O_NONBLOCK behind the cache's back. */
static void raw_set_nonblock(int fd, int on)
{
    long fl = syscall(SYS_fcntl, fd, F_GETFL);
    assert_true(fl >= 0);
    fl = on ? fl | O_NONBLOCK : fl & ~(long)O_NONBLOCK;
    assert_int_equal(syscall(SYS_fcntl, fd, F_SETFL, fl), 0);
}

static void expect_class(int fd, unsigned state, const char *kind)
{
    unsigned c = lg__fd_class(fd);
    assert_int_equal(c & LG__FD_STATE_MASK, state);
    assert_string_equal(lg__fd_kind_name(c), kind);
}

static void test_fdclass_cache_kinds(void **state)
{
    (void)state;
    int p[2], s[2];
    assert_int_equal(pipe(p), 0);
    expect_class(fresh(p[0]), LG__FD_BLOCKING, "pipe");
    expect_class(fresh(p[1]), LG__FD_BLOCKING, "pipe");
    drop(p[0]);
    drop(p[1]);
    assert_int_equal(pipe2(p, O_NONBLOCK), 0);
    expect_class(fresh(p[0]), LG__FD_NONBLOCK, "pipe");
    drop(p[0]);
    drop(p[1]);

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, s), 0);
    expect_class(fresh(s[0]), LG__FD_BLOCKING, "socket");
    drop(s[0]);
    drop(s[1]);
    assert_int_equal(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, s), 0);
    expect_class(fresh(s[0]), LG__FD_NONBLOCK, "socket");
    drop(s[0]);
    drop(s[1]);

    /* Never a receive: files, directories, /dev/null and its family. */
    char path[] = "/tmp/lg-fdclass-XXXXXX";
    int f = fresh(mkstemp(path));
    unlink(path);
    expect_class(f, LG__FD_NEVER, "file");
    drop(f);
    f = fresh(open("/", O_RDONLY | O_DIRECTORY));
    expect_class(f, LG__FD_NEVER, "fd");
    drop(f);
    static const char *const devs[] = {"/dev/null", "/dev/zero",
                                       "/dev/urandom"};
    for (size_t i = 0; i < 3; i++) {
        f = fresh(open(devs[i], O_RDONLY));
        expect_class(f, LG__FD_NEVER, "chardev");
        drop(f);
    }

    /* Anonymous inodes, named by their /proc link. */
    f = fresh(eventfd(0, 0));
    expect_class(f, LG__FD_BLOCKING, "eventfd");
    drop(f);
    f = fresh(eventfd(0, EFD_NONBLOCK));
    expect_class(f, LG__FD_NONBLOCK, "eventfd");
    drop(f);
    f = fresh(timerfd_create(CLOCK_MONOTONIC, 0));
    expect_class(f, LG__FD_BLOCKING, "timerfd");
    drop(f);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR2);
    f = fresh(signalfd(-1, &set, 0));
    expect_class(f, LG__FD_BLOCKING, "signalfd");
    drop(f);
    f = fresh(inotify_init1(0));
    expect_class(f, LG__FD_BLOCKING, "inotify");
    drop(f);

    f = posix_openpt(O_RDWR | O_NOCTTY);
    if (f >= 0) {
        expect_class(fresh(f), LG__FD_BLOCKING, "tty");
        drop(f);
    } else {
        print_message("no pseudo-terminal here: tty not checked\n");
    }
}

static void test_fdclass_cache_bad_fds(void **state)
{
    (void)state;
    static const int neg[] = {-1, -2, -65536, INT_MIN};
    for (size_t i = 0; i < sizeof neg / sizeof neg[0]; i++) {
        errno = 1234;
        assert_int_equal(lg__fd_class(neg[i]), 0);
        assert_int_equal(errno, 1234);
        /* Setting or forgetting a negative fd is harmless. */
        lg__fd_set_state(neg[i], LG__FD_BLOCKING);
        lg__fd_forget(neg[i]);
        assert_int_equal(lg__fd_class(neg[i]), 0);
    }
    /* A closed fd is unknown and stays uncached: when its number is
     * reused, the new file is classified afresh. */
    int p[2];
    assert_int_equal(pipe(p), 0);
    int fd = fresh(p[0]);
    close(fd);
    errno = 77;
    assert_int_equal(lg__fd_class(fd), 0);
    assert_int_equal(errno, 77);
    assert_int_equal(dup2(p[1], fd), fd);
    expect_class(fd, LG__FD_BLOCKING, "pipe");
    drop(fd);
    drop(p[1]);
}

static void test_fdclass_cache_forget(void **state)
{
    (void)state;
    int p[2];
    assert_int_equal(pipe(p), 0);
    int fd = fresh(p[0]);
    unsigned first = lg__fd_class(fd);
    assert_int_equal(first & LG__FD_STATE_MASK, LG__FD_BLOCKING);
    raw_set_nonblock(fd, 1);
    /* Cached: the flip is not seen, and no system call is made. */
    for (int i = 0; i < 3; i++)
        assert_int_equal(lg__fd_class(fd), first);
    lg__fd_forget(fd);
    expect_class(fd, LG__FD_NONBLOCK, "pipe");
    raw_set_nonblock(fd, 0);
    assert_int_equal(state_of(fd), LG__FD_NONBLOCK);
    lg__fd_forget(fd);
    assert_int_equal(state_of(fd), LG__FD_BLOCKING);

    /* What a wrapper learnt replaces the state and keeps the kind. */
    lg__fd_set_state(fd, LG__FD_NONBLOCK);
    expect_class(fd, LG__FD_NONBLOCK, "pipe");
    lg__fd_set_state(fd, LG__FD_BLOCKING);
    expect_class(fd, LG__FD_BLOCKING, "pipe");
    /* An fd not classified yet is not made up from a state alone. */
    lg__fd_forget(fd);
    lg__fd_set_state(fd, LG__FD_NEVER);
    expect_class(fd, LG__FD_BLOCKING, "pipe");
    drop(p[0]);
    drop(p[1]);
}

/* fds first..first+n-1, each its own blocking pipe (O_NONBLOCK belongs to
 * the open file, so dups would flip together), classified. */
static void make_pipes(int first, int n, int *writers)
{
    for (int i = 0; i < n; i++) {
        int p[2];
        assert_int_equal(pipe(p), 0);
        assert_int_equal(dup2(p[0], first + i), first + i);
        close(p[0]);
        writers[i] = p[1];
        lg__fd_forget(first + i);
        assert_int_equal(state_of(first + i), LG__FD_BLOCKING);
        raw_set_nonblock(first + i, 1);
    }
}

static void close_pipes(int first, int n, const int *writers)
{
    for (int i = 0; i < n; i++) {
        drop(first + i);
        drop(writers[i]);
    }
}

static void test_fdclass_cache_forget_range(void **state)
{
    (void)state;
    int w[10];
    make_pipes(300, 10, w);
    lg__fd_forget_range(302, 305);
    for (int i = 0; i < 10; i++)
        assert_int_equal(state_of(300 + i),
                         i >= 2 && i <= 5 ? LG__FD_NONBLOCK : LG__FD_BLOCKING);
    /* An empty range (first > last) forgets nothing. */
    lg__fd_forget_range(309, 300);
    assert_int_equal(state_of(300), LG__FD_BLOCKING);
    /* closefrom-style: everything from 306 up. */
    lg__fd_forget_range(306, UINT_MAX);
    for (int i = 0; i < 10; i++)
        assert_int_equal(state_of(300 + i),
                         i >= 2 ? LG__FD_NONBLOCK : LG__FD_BLOCKING);
    close_pipes(300, 10, w);
}

/* Raises RLIMIT_NOFILE so that fd `fd` can exist; 0 if not allowed. */
static int allow_fd(int fd)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return 0;
    if (rl.rlim_cur > (rlim_t)fd)
        return 1;
    rl.rlim_cur = (rlim_t)fd + 16;
    if (rl.rlim_max < rl.rlim_cur)
        rl.rlim_max = rl.rlim_cur; /* needs CAP_SYS_RESOURCE */
    return setrlimit(RLIMIT_NOFILE, &rl) == 0;
}

static void test_fdclass_cache_high_fd(void **state)
{
    (void)state;
    if (!allow_fd(HIGH_FD)) {
        LG_SKIP("RLIMIT_NOFILE cannot reach fd %d (a higher hard limit "
                "needs CAP_SYS_RESOURCE)", HIGH_FD);
    }
    int low = HIGH_FD & 0xffff; /* same slot in the first page */
    int wl, wh;
    make_pipes(low, 1, &wl);
    make_pipes(HIGH_FD, 1, &wh);
    /* Both are NONBLOCK now but cached BLOCKING. Forgetting one must not
     * touch the other: they live in different pages. */
    lg__fd_forget(HIGH_FD);
    expect_class(HIGH_FD, LG__FD_NONBLOCK, "pipe");
    assert_int_equal(state_of(low), LG__FD_BLOCKING);
    raw_set_nonblock(HIGH_FD, 0);
    assert_int_equal(state_of(HIGH_FD), LG__FD_NONBLOCK); /* cached */
    lg__fd_forget(low);
    assert_int_equal(state_of(low), LG__FD_NONBLOCK);
    assert_int_equal(state_of(HIGH_FD), LG__FD_NONBLOCK);

    /* A range across the page boundary clears both pages. */
    int wb[2];
    make_pipes(65535, 2, wb);
    lg__fd_forget_range(65535, 65536);
    assert_int_equal(state_of(65535), LG__FD_NONBLOCK);
    assert_int_equal(state_of(65536), LG__FD_NONBLOCK);
    close_pipes(65535, 2, wb);
    close_pipes(low, 1, &wl);
    close_pipes(HIGH_FD, 1, &wh);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fdclass_cache_kinds),
        cmocka_unit_test(test_fdclass_cache_bad_fds),
        cmocka_unit_test(test_fdclass_cache_forget),
        cmocka_unit_test(test_fdclass_cache_forget_range),
        cmocka_unit_test(test_fdclass_cache_high_fd),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Pipes and socket pairs only this process can write to: for the deadlock
 * check, a thread blocked reading one waits for the process itself, like
 * a thread on a condition variable. Most pipes are not: stdin from a
 * shell, a child's output, a pipe shared with a child after fork. So a
 * read counts only when, at the moment of the verdict, the pipe was made
 * by pipe()/pipe2() in this process (its inode was noted then), a write
 * end of the same inode is open in this process, and the process has no
 * child that could hold another. A socketpair() end counts the same way:
 * made here, the other end (another inode) open here, no child; and an
 * eventfd made here (its eventfd-id unchanged), with no child. A fork
 * child forgets every pipe, pair and eventfd made before the fork: its parent
 * holds them too. A descriptor passed to another process over a socket,
 * or inherited by a grandchild whose parent exited, is not seen. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lg-internal.h"

#define MAX_FD LG__PIPES_MAX

/* Per fd: the inode (low 32 bits, | 1) of a pipe made here, 0 for any
 * other fd. Kept by the preload's creation, dup and close wrappers. */
uint32_t *lg__pipes;
#define made lg__pipes
/* Per fd, right after `made` in the same block: for an end of a socket
 * pair made here, its inode (low 32 bits, | 1) in the high half and its
 * peer's in the low half; 0 for any other. */
#define pairs ((uint64_t *)(made + MAX_FD))
/* Per fd, after `pairs`: for an eventfd made here, its eventfd-id (from
 * /proc/self/fdinfo) + 1; 0 for any other. Every eventfd shares one
 * anonymous inode: the id is what tells them apart. */
#define evids ((uint32_t *)(pairs + MAX_FD))
static pthread_once_t made_once = PTHREAD_ONCE_INIT;

static void made_init(void)
{
    __atomic_store_n(&made,
                     lg__arena_alloc(MAX_FD * (sizeof *made +
                                               sizeof *pairs +
                                               sizeof *evids)),
                     __ATOMIC_RELEASE);
}

static uint32_t ino_tag(ino_t ino)
{
    return (uint32_t)ino | 1;
}

void lg__pipe_fork_child(void)
{
    /* The table stays in the arena, unused: the child starts a new one
     * with its first pipe. */
    __atomic_store_n(&made, NULL, __ATOMIC_RELEASE);
    made_once = (pthread_once_t)PTHREAD_ONCE_INIT;
}

void lg__pipe_forget(unsigned first, unsigned last)
{
    if (!made)
        return;
    for (unsigned fd = first; fd <= last && fd < MAX_FD; fd++) {
        __atomic_store_n(&made[fd], 0, __ATOMIC_RELAXED);
        __atomic_store_n(&pairs[fd], 0, __ATOMIC_RELAXED);
        __atomic_store_n(&evids[fd], 0, __ATOMIC_RELAXED);
    }
}

void lg__pipe_dup(int old, int new)
{
    if (made && old >= 0 && old < MAX_FD && new >= 0 && new < MAX_FD) {
        __atomic_store_n(&made[new],
                         __atomic_load_n(&made[old], __ATOMIC_RELAXED),
                         __ATOMIC_RELAXED);
        __atomic_store_n(&pairs[new],
                         __atomic_load_n(&pairs[old], __ATOMIC_RELAXED),
                         __ATOMIC_RELAXED);
        __atomic_store_n(&evids[new],
                         __atomic_load_n(&evids[old], __ATOMIC_RELAXED),
                         __ATOMIC_RELAXED);
    }
}

/* Notes what fds[0] and fds[1] are, by fstat: called with the caller's
 * in_shim raised. */
static void note(const int fds[2], int sock)
{
    pthread_once(&made_once, made_init);
    struct stat st[2];
    if (!made || fds[0] < 0 || fds[0] >= MAX_FD || fds[1] < 0 ||
        fds[1] >= MAX_FD || fstat(fds[0], &st[0]) != 0 ||
        (sock && fstat(fds[1], &st[1]) != 0))
        return;
    if (!sock) {
        __atomic_store_n(&made[fds[0]], ino_tag(st[0].st_ino),
                         __ATOMIC_RELAXED);
        __atomic_store_n(&made[fds[1]], ino_tag(st[0].st_ino),
                         __ATOMIC_RELAXED);
        return;
    }
    for (int i = 0; i < 2; i++)
        __atomic_store_n(&pairs[fds[i]],
                         (uint64_t)ino_tag(st[i].st_ino) << 32 |
                             ino_tag(st[1 - i].st_ino),
                         __ATOMIC_RELAXED);
}

void lg__pipe_made(const int fds[2], int sock)
{
    uint8_t was = lg__tls.in_shim;
    lg__tls.in_shim = 1;
    note(fds, sock);
    lg__tls.in_shim = was;
}

int lg__fd_made_here(int fd)
{
    return made && fd >= 0 && fd < MAX_FD &&
           (__atomic_load_n(&made[fd], __ATOMIC_RELAXED) != 0 ||
            __atomic_load_n(&pairs[fd], __ATOMIC_RELAXED) != 0 ||
            __atomic_load_n(&evids[fd], __ATOMIC_RELAXED) != 0);
}

/* The text after `key` in fd's /proc/self/fdinfo (read into buf), or
 * NULL. */
static const char *fdinfo_field(int fd, const char *key, char *buf,
                                size_t cap)
{
    char path[48];
    lg__proc_path(path, sizeof path, "/proc/self/fdinfo/", (uint64_t)fd);
    int f = open(path, O_RDONLY | O_CLOEXEC);
    if (f < 0)
        return NULL;
    ssize_t n = read(f, buf, cap - 1);
    close(f);
    if (n <= 0)
        return NULL;
    buf[n] = '\0';
    const char *p = strstr(buf, key);
    return p ? p + strlen(key) : NULL;
}

/* fd's eventfd-id + 1, from /proc/self/fdinfo; 0 when unknown. */
static uint32_t eventfd_id(int fd)
{
    char buf[512];
    const char *p = fdinfo_field(fd, "eventfd-id:", buf, sizeof buf);
    if (!p)
        return 0;
    unsigned long id = strtoul(p, NULL, 10);
    return id < UINT32_MAX ? (uint32_t)id + 1 : 0;
}

void lg__eventfd_made(int fd)
{
    uint8_t was = lg__tls.in_shim;
    lg__tls.in_shim = 1;
    pthread_once(&made_once, made_init);
    if (made && fd >= 0 && fd < MAX_FD)
        __atomic_store_n(&evids[fd], eventfd_id(fd), __ATOMIC_RELAXED);
    lg__tls.in_shim = was;
}

/* fstat and fcntl(F_GETFL) of a descriptor of the program's. The watchdog
 * in a table of its own (watchdog-fds.c) asks through /proc instead, which
 * shows the program's table. */
static int fd_stat(int fd, struct stat *st)
{
    if (!lg__tls.fd_private)
        return fstat(fd, st);
    char path[48];
    lg__proc_path(path, sizeof path, "/proc/self/fd/", (uint64_t)fd);
    return stat(path, st);
}

static int fd_flags(int fd)
{
    if (!lg__tls.fd_private)
        return fcntl(fd, F_GETFL);
    char buf[512];
    const char *p = fdinfo_field(fd, "flags:", buf, sizeof buf);
    return p ? (int)strtol(p, NULL, 8) : -1;
}

/* Whether fd writes into what the waiting fd reads: a write end of the
 * same pipe, or the other end of its socket pair. */
struct write_end {
    int fd;
    int sock;
    ino_t ino;                /* the pipe's */
    uint32_t peer;            /* the pair's other end, as ino_tag() */
};

static int other_writes(int num, void *arg)
{
    const struct write_end *w = arg;
    struct stat st;
    if (num == w->fd || fd_stat(num, &st) != 0)
        return 0;
    if (w->sock)
        return S_ISSOCK(st.st_mode) && ino_tag(st.st_ino) == w->peer;
    if (!S_ISFIFO(st.st_mode) || st.st_ino != w->ino)
        return 0;
    int fl = fd_flags(num);
    return fl >= 0 && (fl & O_ACCMODE) != O_RDONLY;
}

/* No child, running or not yet reaped, that may hold a write end. */
static int no_child(void)
{
    siginfo_t si;
    return waitid(P_ALL, 0, &si, WEXITED | WSTOPPED | WNOHANG | WNOWAIT) != 0;
}

int lg__pipe_in_process(int fd)
{
    struct stat st;
    if (!made || fd < 0 || fd >= MAX_FD || fd_stat(fd, &st) != 0)
        return 0;
    struct write_end w = {fd, S_ISSOCK(st.st_mode), st.st_ino, 0};
    uint32_t ev = __atomic_load_n(&evids[fd], __ATOMIC_RELAXED);
    if (ev)   /* whoever holds it may write it: this process alone, then */
        return eventfd_id(fd) == ev && no_child();
    if (w.sock) {
        uint64_t pr = __atomic_load_n(&pairs[fd], __ATOMIC_RELAXED);
        if ((uint32_t)(pr >> 32) != ino_tag(st.st_ino))
            return 0;
        w.peer = (uint32_t)pr;
    } else if (!S_ISFIFO(st.st_mode) ||
               __atomic_load_n(&made[fd], __ATOMIC_RELAXED) !=
                   ino_tag(st.st_ino)) {
        return 0;
    }
    return no_child() && lg__proc_each("/proc/self/fd", other_writes, &w) > 0;
}

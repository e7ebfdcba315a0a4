/* Pipes only this process can write to: for the deadlock check, a thread
 * blocked reading one waits for the process itself, like a thread on a
 * condition variable. Most pipes are not: stdin from a shell, a child's
 * output, a pipe shared with a child after fork. So a read counts only
 * when, at the moment of the verdict, the pipe was made by pipe()/pipe2()
 * in this process (its inode was noted then), a write end of the same
 * inode is open in this process, and the process has no child that could
 * hold another. A fork child forgets every pipe made before the fork: its
 * parent holds them too. A descriptor passed to another process over a
 * socket, or inherited by a grandchild whose parent exited, is not seen. */
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lg-internal.h"

#define MAX_FD LG__PIPES_MAX

/* Per fd: the inode (low 32 bits, | 1) of a pipe made here, 0 for any
 * other fd. Kept by the preload's creation, dup and close wrappers. */
uint32_t *lg__pipes;
#define made lg__pipes
static pthread_once_t made_once = PTHREAD_ONCE_INIT;

static void made_init(void)
{
    __atomic_store_n(&made, lg__arena_alloc(MAX_FD * sizeof *made),
                     __ATOMIC_RELEASE);
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
    for (unsigned fd = first; fd <= last && fd < MAX_FD; fd++)
        __atomic_store_n(&made[fd], 0, __ATOMIC_RELAXED);
}

void lg__pipe_dup(int old, int new)
{
    if (made && old >= 0 && old < MAX_FD && new >= 0 && new < MAX_FD)
        __atomic_store_n(&made[new],
                         __atomic_load_n(&made[old], __ATOMIC_RELAXED),
                         __ATOMIC_RELAXED);
}

void lg__pipe_made(const int fds[2])
{
    uint8_t was = lg__tls.in_shim;
    lg__tls.in_shim = 1;
    pthread_once(&made_once, made_init);
    struct stat st;
    if (made && fds[0] >= 0 && fds[0] < MAX_FD && fds[1] >= 0 &&
        fds[1] < MAX_FD && fstat(fds[0], &st) == 0) {
        uint32_t ino = (uint32_t)st.st_ino | 1;
        __atomic_store_n(&made[fds[0]], ino, __ATOMIC_RELAXED);
        __atomic_store_n(&made[fds[1]], ino, __ATOMIC_RELAXED);
    }
    lg__tls.in_shim = was;
}

/* Whether fd is a write end of the pipe `ino`. */
static int writes_to(int fd, ino_t ino)
{
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISFIFO(st.st_mode) || st.st_ino != ino)
        return 0;
    int fl = fcntl(fd, F_GETFL);
    return fl >= 0 && (fl & O_ACCMODE) != O_RDONLY;
}

struct write_end {
    int fd;
    ino_t ino;
};

static int other_writes(int num, void *arg)
{
    const struct write_end *w = arg;
    return num != w->fd && writes_to(num, w->ino);
}

int lg__pipe_in_process(int fd)
{
    struct stat st;
    if (!made || fd < 0 || fd >= MAX_FD || fstat(fd, &st) != 0 ||
        !S_ISFIFO(st.st_mode) ||
        __atomic_load_n(&made[fd], __ATOMIC_RELAXED) !=
            ((uint32_t)st.st_ino | 1))
        return 0;
    /* A child, running or not yet reaped, may hold the write end. */
    siginfo_t si;
    if (waitid(P_ALL, 0, &si, WEXITED | WSTOPPED | WNOHANG | WNOWAIT) == 0)
        return 0;
    struct write_end w = {fd, st.st_ino};
    return lg__proc_each("/proc/self/fd", other_writes, &w) > 0;
}

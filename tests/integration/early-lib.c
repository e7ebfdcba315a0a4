/* A library whose constructor uses wrapped calls. Loaded as a dependency of
 * prog-early, its constructor runs before the preload's: every wrapper must
 * already work then (resolve lazily, forward exactly). */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int early_result = -1;

__attribute__((constructor)) static void early(void)
{
    int fds[2];
    char c = 0;
    sem_t s;
    pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
    struct timespec past = {0, 0};
    if (pipe(fds) != 0 || write(fds[1], "e", 1) != 1 ||
        read(fds[0], &c, 1) != 1 || c != 'e')
        return;
    if (sem_init(&s, 0, 1) != 0 || sem_wait(&s) != 0)
        return;
    if (usleep(1) != 0 || syscall(SYS_getpid) != getpid())
        return;
    pthread_mutex_lock(&m);
    int r = pthread_cond_timedwait(&cv, &m, &past);
    pthread_mutex_unlock(&m);
    if (r != ETIMEDOUT)
        return;
    errno = 0;
    if (close(-1) != -1 || errno != EBADF)
        return;
    close(fds[0]);
    close(fds[1]);
    early_result = 0;
}

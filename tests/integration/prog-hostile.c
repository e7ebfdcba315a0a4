/* Hosts that do unusual things to the detector's state, one per mode:
 *   cancel    a loop thread is cancelled at a wrapped call; later reports
 *             on another thread must still work (no lock or half-built
 *             table left behind);
 *   closefrom closefrom(3) closes the log behind our back, then the host
 *             reuses its number for a file of its own: our next report
 *             must not land there, and the host's close(fd) must work;
 *   fork      a child forked with log=...%p writes its own file and does
 *             not keep the parent's log open;
 *   signal    a signal handler that writes and reads a pipe and closes a
 *             descriptor (as libuv's does with its signal-lock pipe) runs
 *             again and again on a loop thread while the detector captures
 *             its stacks: every read and close must happen (libuv dropped
 *             SIGCHLD when its read failed, and Node never reaped a
 *             child).
 * Loop threads are marked with lg_loop_enter (linked, not preloaded). */
#include <fcntl.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "loopguard.h"

static volatile int go;

static void *cancelled_loop(void *arg)
{
    (void)arg;
    lg_loop_enter("manual", (void *)1);
    while (!go)
        ;
    sleep(1);                 /* a cancellation point: cancelled here */
    return NULL;
}

static int mode_cancel(void)
{
    pthread_t th;
    void *ret;
    if (pthread_create(&th, NULL, cancelled_loop, NULL) != 0)
        return 1;
    usleep(100000);
    pthread_cancel(th);
    go = 1;
    pthread_join(th, &ret);
    if (ret != PTHREAD_CANCELED)
        return 2;
    lg_loop_enter("manual", (void *)2);
    usleep(1000);             /* must be reported, must not hang */
    lg_loop_leave();
    puts("cancel: second report done");
    return 0;
}

static int mode_closefrom(const char *host_file)
{
    int fds[1000];
    lg_loop_enter("manual", (void *)1);
    usleep(1000);             /* first report: opens the log */
    closefrom(3);
    int n;
    for (n = 0; n < 1000; n++) {
        fds[n] = open(host_file, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fds[n] < 0)
            break;
    }
    usleep(2000);             /* a second site, a second report */
    lg_loop_leave();
    for (int i = 0; i < n; i++)
        if (close(fds[i]) != 0) {
            printf("closefrom: close(%d) failed\n", fds[i]);
            return 3;
        }
    puts("closefrom: every host descriptor closed");
    return 0;
}

/* Counts this process's descriptors whose link contains `what`. */
static int count_fds(const char *what)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "ls -l /proc/%d/fd | grep -c '%s'",
             (int)getpid(), what);
    FILE *p = popen(cmd, "r");
    int n = -1;
    if (p && fscanf(p, "%d", &n) != 1)
        n = -1;
    if (p)
        pclose(p);
    return n;
}

static int mode_fork(const char *parent_log_stem)
{
    lg_loop_enter("manual", (void *)1);
    usleep(1000);             /* the parent's log is open */
    pid_t pid = fork();
    if (pid == 0) {
        /* The child runs a loop of its own (a fork child's inherited mark
         * sleeps until then): its own report, its own file. */
        lg_loop_enter("manual", (void *)2);
        usleep(2000);
        lg_loop_leave();
        char parent_log[512];
        snprintf(parent_log, sizeof parent_log, "%s.%d", parent_log_stem,
                 (int)getppid());
        int n = count_fds(parent_log);
        printf("fork: child holds %d descriptors on the parent's log\n", n);
        _exit(n == 0 ? 0 : 4);
    }
    int st;
    waitpid(pid, &st, 0);
    lg_loop_leave();
    return WIFEXITED(st) ? WEXITSTATUS(st) : 5;
}

static int sig_pipe[2];
static volatile sig_atomic_t sig_runs, sig_bad;

static void on_usr1(int sig)
{
    (void)sig;
    int saved = errno;
    char c;
    int fd = dup(sig_pipe[0]);
    if (write(sig_pipe[1], "s", 1) != 1 || read(sig_pipe[0], &c, 1) != 1 ||
        fd < 0 || close(fd) != 0 || fcntl(fd, F_GETFD) != -1)
        sig_bad = sig_bad + 1;
    sig_runs = sig_runs + 1;
    errno = saved;
}

static volatile int sig_stop;

static void *signaller(void *arg)
{
    pthread_t target = *(pthread_t *)arg;
    while (!sig_stop) {
        pthread_kill(target, SIGUSR1);
        usleep(20);
    }
    return NULL;
}

/* Blocking reads of a pipe with data ready, on a loop thread: each is a
 * report path with a stack capture (dedupe counts them). */
static int mode_signal(void)
{
    int p[2];
    pthread_t self = pthread_self(), th;
    if (pipe(sig_pipe) != 0 || pipe(p) != 0)
        return 1;
    struct sigaction sa = {.sa_handler = on_usr1, .sa_flags = SA_RESTART};
    sigaction(SIGUSR1, &sa, NULL);
    lg_loop_enter("manual", (void *)1);
    if (pthread_create(&th, NULL, signaller, &self) != 0)
        return 1;
    char c;
    for (int i = 0; i < 200000 && sig_runs < 20000; i++)
        if (write(p[1], "x", 1) != 1 || read(p[0], &c, 1) != 1)
            return 2;
    sig_stop = 1;
    pthread_join(th, NULL);
    lg_loop_leave();
    printf("signal: %d handler runs, %d with a failed call\n", (int)sig_runs,
           (int)sig_bad);
    return sig_bad ? 3 : 0;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return 1;
    if (strcmp(argv[1], "cancel") == 0)
        return mode_cancel();
    if (strcmp(argv[1], "signal") == 0)
        return mode_signal();
    if (strcmp(argv[1], "closefrom") == 0 && argc > 2)
        return mode_closefrom(argv[2]);
    if (strcmp(argv[1], "fork") == 0 && argc > 2)
        return mode_fork(argv[2]);
    return 1;
}

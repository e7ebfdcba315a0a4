/* What the watchdog must and must not report. Usage: prog-watch MODE MS,
 * MS being the stall_ms the test runs it with.
 *   busy       a libuv callback computes for 3 x MS in busy_spin: a stall
 *   stdio-pipe a libuv callback reads a line with fgets from popen("sleep
 *              3 x MS; echo done"): stdio's read, which no wrapper sees;
 *              prints what fgets got if it is not "done"
 *   child-wait a libuv callback pcloses popen("sleep 3 x MS") at once:
 *              pclose's wait for the child, which no wrapper sees
 *   raw-sleep  a libuv callback sleeps 3 x MS through syscall(SYS_nanosleep),
 *              which the preload passes through; prints "short N" if the
 *              sleep was cut short (it must not be)
 *   busy-masked the same with every signal blocked: a stall without a
 *              stack, and no signal left pending ("pending" if one is)
 *   iterate    a libuv idle handle turns the loop for 3 x MS: no stall
 *   timed      every thread waits with a timeout (3 x MS): no deadlock
 *   join-cycle main joins a worker that waits on a cond nobody signals
 *   sem-signal main sem_waits for a SIGUSR1 handler's sem_post (the test
 *              sends it): no deadlock
 *   mutex-wait a callback blocks in pthread_mutex_lock for 3 x MS, held
 *              by a worker: a stall in pthread_mutex_lock
 *   self-wait  callbacks push to a cond queue, pop, then pop again: the
 *              last pop waits on a cond only the loop thread ever
 *              signalled, while a worker sleeps (hangs: killed)
 *   shared-wait the same, but the worker pushed once too (hangs)
 *   reinit-wait the same as self-wait, but the cond is made anew with
 *              pthread_cond_init before the last pop (hangs)
 *   reinit-shared a worker pushes and pops twice, the cond made anew in
 *              between; then the loop does, and pops again: the worker
 *              signalled the new cond too, so no self-wait (hangs)
 *   cancelled  a worker is cancelled in pthread_cond_wait; its cleanup
 *              handler computes for 3 x MS while main joins it: no deadlock
 *   single     a helper thread locks a mutex and is joined; 3 x MS later
 *              the process has one thread again: prints "threads N"
 *   pipe-self  the only thread, a loop's, reads a pipe it made and only it
 *              writes: one byte, then again, forever (hangs)
 *   pipe-child the same, after forking a child that keeps the write end
 *              (hangs; the child exits after 60 s)
 *   pipe-signal the same as pipe-self, with a SIGUSR1 handler that writes
 *              to the pipe (the self-pipe trick): hangs until signalled
 *   socket-self pipe-self with a socket pair: one byte written to one end
 *              and read from the other, then a recv() there (hangs)
 *   socket-child the same, after forking a child that keeps both ends
 *              (hangs; the child exits after 60 s)
 *   eventfd-self, eventfd-child the same with an eventfd: one 8-byte
 *              write and read, then a read (hangs)
 *   pipe-parent the pipe is made, then the process forks: the child runs
 *              pipe-self's loop, keeping the write end open; the parent
 *              writes a byte after 3 x MS, kills the child 3 x MS later
 *              and exits 0. The child's reads wait for its parent.
 *   table      the only thread, a loop's: after MS, prints whose descriptor
 *              table the watchdog uses ("watchdog table: own", when it
 *              holds none of the program's descriptors, only /dev/null and
 *              its pidfd; "shared"; "none" without a watchdog); then sets a
 *              report callback (looked up: no link to libloopguard.so)
 *              that writes each record's type into a pipe of the
 *              program's, waits 2 x MS, prints the table again, computes
 *              for 3 x MS (a stall) and prints "callback: TYPES" with what
 *              the pipe got.
 *   idle-filtered  idle, under a seccomp filter that answers EPERM to
 *              the futex wait the watchdog sleeps in (prints "filter
 *              failed" and exits 1 where one cannot be set)
 *   late-loop  a helper thread locks a mutex and is joined (the watchdog
 *              starts, for threads, and sleeps until its tick: MS / 4);
 *              MS / 40 later a libuv loop appears and runs for MS / 40
 *   lowest-loop, lowest-threads
 *              a worker makes a pipe, closes it and makes another, again
 *              and again for 3 x MS: POSIX gives the new pipe the lowest
 *              free numbers, the ones just closed, unless another thread
 *              took them meanwhile; the program's other thread runs a
 *              libuv loop (an idle timer), or waits on a cond with a
 *              timeout; prints "missed N of M" (pipes that did not get
 *              the numbers back). */
#include <dirent.h>
#include <dlfcn.h>
#include <linux/filter.h>
#include <linux/futex.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

static uint64_t ms;

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static volatile uint64_t sink;

__attribute__((noinline)) static void busy_spin(uint64_t for_ms)
{
    uint64_t end = now_ms() + for_ms;
    while (now_ms() < end)
        for (int i = 0; i < 100000; i++)
            sink = sink * 31 + (uint64_t)i;
}

static void on_busy(uv_timer_t *t)
{
    busy_spin(3 * ms);
    uv_close((uv_handle_t *)t, NULL);
}

/* Each of these waits 3 x MS in a system call no wrapper sees; the stall
 * is theirs, and the stack must name them. */
static int unseen_failed;

__attribute__((noinline)) static void on_stdio_pipe(uv_timer_t *t)
{
    char cmd[64], line[64] = "";
    snprintf(cmd, sizeof cmd, "sleep %.3f; echo done", 3 * ms / 1000.0);
    FILE *f = popen(cmd, "r");
    if (!f || !fgets(line, sizeof line, f) || strcmp(line, "done\n")) {
        printf("fgets: %s\n", line);
        unseen_failed = 1;
    }
    if (f)
        pclose(f);
    uv_close((uv_handle_t *)t, NULL);
}

__attribute__((noinline)) static void on_child_wait(uv_timer_t *t)
{
    char cmd[64];
    snprintf(cmd, sizeof cmd, "sleep %.3f", 3 * ms / 1000.0);
    FILE *f = popen(cmd, "r");
    if (!f || pclose(f) != 0) {
        printf("pclose failed\n");
        unseen_failed = 1;
    }
    uv_close((uv_handle_t *)t, NULL);
}

__attribute__((noinline)) static void on_raw_sleep(uv_timer_t *t)
{
    struct timespec d = {(time_t)(3 * ms / 1000),
                         (long)(3 * ms % 1000) * 1000000};
    uint64_t t0 = now_ms();
    long r = syscall(SYS_nanosleep, &d, NULL);
    uint64_t took = now_ms() - t0;
    if (r != 0 || took < 3 * ms) {
        printf("short %llu\n", (unsigned long long)took);
        unseen_failed = 1;
    }
    uv_close((uv_handle_t *)t, NULL);
}

/* "own", "shared" or "none": the watchdog thread's descriptors against
 * the program's (/proc/self/task/TID/fd of the thread named loopguard). A
 * retired watchdog may linger a tick: the last one listed counts. */
static const char *watchdog_table(void)
{
    const char *verdict = "none";
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    while (d && (e = readdir(d))) {
        char path[300], comm[32] = "";
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        if (!fgets(comm, sizeof comm, f))
            comm[0] = 0;
        fclose(f);
        if (strcmp(comm, "loopguard\n") != 0)
            continue;
        snprintf(path, sizeof path, "/proc/self/task/%s/fd", e->d_name);
        DIR *fds = opendir(path);
        struct dirent *g;
        int foreign = 0;
        while (fds && (g = readdir(fds))) {
            char link[600], to[256];
            if (g->d_name[0] == '.')
                continue;
            snprintf(link, sizeof link, "%s/%s", path, g->d_name);
            ssize_t n = readlink(link, to, sizeof to - 1);
            to[n > 0 ? n : 0] = 0;
            foreign += strcmp(to, "/dev/null") != 0 &&
                       strcmp(to, "anon_inode:[pidfd]") != 0;
        }
        if (fds)
            closedir(fds);
        verdict = foreign ? "shared" : "own";
    }
    if (d)
        closedir(d);
    return verdict;
}

static int cb_pipe[2], cb_ok;

static void on_report(const char *json, size_t len, void *data)
{
    (void)len;
    (void)data;
    const char *t = strstr(json, "\"type\":\"");
    if (t) {
        t += 8;
        (void)!write(cb_pipe[1], t, strcspn(t, "\""));
        (void)!write(cb_pipe[1], " ", 1);
    }
}

static void on_table_end(uv_timer_t *t)
{
    printf("watchdog table: %s\n", watchdog_table());
    busy_spin(3 * ms);
    char got[256] = "-";
    ssize_t n = cb_ok ? read(cb_pipe[0], got, sizeof got - 1) : 1;
    got[n > 0 ? n : 0] = 0;
    printf("callback: %s\n", got);
    uv_close((uv_handle_t *)t, NULL);
}

static void on_table(uv_timer_t *t)
{
    printf("watchdog table: %s\n", watchdog_table());
    typedef void (*cb_t)(const char *, size_t, void *);
    int (*set)(cb_t, void *) =
        (int (*)(cb_t, void *))dlsym(RTLD_DEFAULT, "lg_set_report_callback");
    cb_ok = pipe(cb_pipe) == 0 && set && set(on_report, NULL) == 0;
    if (!cb_ok)
        printf("no callback\n");
    fflush(stdout);
    uv_timer_start(t, on_table_end, 2 * ms, 0);
}

static uint64_t idle_end;

static void on_idle(uv_idle_t *h)
{
    if (now_ms() >= idle_end)
        uv_close((uv_handle_t *)h, NULL);
}

static pthread_mutex_t held = PTHREAD_MUTEX_INITIALIZER;
static sem_t locked;

static void *holder(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&held);
    sem_post(&locked);
    struct timespec d = {(time_t)(3 * ms / 1000),
                         (long)(3 * ms % 1000) * 1000000};
    nanosleep(&d, NULL);
    pthread_mutex_unlock(&held);
    return NULL;
}

static void *holder_quick(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&held);
    pthread_mutex_unlock(&held);
    return NULL;
}

static void on_mutex(uv_timer_t *t)
{
    pthread_mutex_lock(&held);
    pthread_mutex_unlock(&held);
    uv_close((uv_handle_t *)t, NULL);
}

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t c = PTHREAD_COND_INITIALIZER;

static void *timed_waiter(void *arg)
{
    (void)arg;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += (time_t)(3 * ms / 1000);
    until.tv_nsec += (long)(3 * ms % 1000) * 1000000;
    if (until.tv_nsec >= 1000000000) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&m);
    while (pthread_cond_timedwait(&c, &m, &until) == 0)
        ;
    pthread_mutex_unlock(&m);
    return NULL;
}

static void *forever(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&m);
    for (;;)
        pthread_cond_wait(&c, &m);
    return NULL;
}

static sem_t sem;

static void on_usr1(int sig)
{
    (void)sig;
    sem_post(&sem);
}

static int items;

static void push(void)
{
    pthread_mutex_lock(&m);
    items++;
    pthread_cond_signal(&c);
    pthread_mutex_unlock(&m);
}

__attribute__((noinline)) static void pop(void)
{
    pthread_mutex_lock(&m);
    while (items == 0)
        pthread_cond_wait(&c, &m);
    items--;
    pthread_mutex_unlock(&m);
}

static int pops, reinit;

static void on_queue(uv_timer_t *t)
{
    if (pops == 0) {
        push();
    } else {
        if (pops == 2 && reinit) {
            pthread_cond_destroy(&c);
            pthread_cond_init(&c, NULL);
        }
        pop();
    }
    if (++pops == 3)
        uv_close((uv_handle_t *)t, NULL);
}

static void *sleeper(void *arg)
{
    if (arg) {
        push();
        pop();
    }
    struct timespec d = {60, 0};
    nanosleep(&d, NULL);
    return NULL;
}

/* reinit-shared: the worker's second signal comes after the cond was made
 * anew, and must count although the worker signalled the old one (the
 * signaller cache of touch.c must not hide it). */
static sem_t go;
static _Atomic int worker_done;

static void *reinit_worker(void *arg)
{
    (void)arg;
    push();
    pop();
    while (sem_wait(&go) != 0)
        ;
    push();
    pop();
    worker_done = 1;
    struct timespec d = {60, 0};
    nanosleep(&d, NULL);
    return NULL;
}

static void on_reinit_shared(uv_timer_t *t)
{
    if (pops == 0) {
        pthread_cond_destroy(&c);
        pthread_cond_init(&c, NULL);
        sem_post(&go);
        pops = 1;
    } else if (worker_done) {
        uv_close((uv_handle_t *)t, NULL);
        push();
        pop();
        pop();
    }
}

/* The pipe, the socket pair or the eventfd (in both) that pipe-*,
 * socket-* and eventfd-* modes read, a message of feed_len bytes. */
static int pipefd[2];
static size_t feed_len = 1;

__attribute__((noinline)) static void pipe_pop(void)
{
    char c;
    if (read(pipefd[0], &c, 1) != 1)
        exit(3);
}

__attribute__((noinline)) static void sock_pop(void)
{
    char c;
    if (recv(pipefd[0], &c, 1, 0) != 1)
        exit(3);
}

__attribute__((noinline)) static void efd_pop(void)
{
    uint64_t v;
    if (read(pipefd[0], &v, sizeof v) != sizeof v)
        exit(3);
}

static void on_usr1_pipe(int sig)
{
    (void)sig;
    if (write(pipefd[1], "s", 1) != 1)
        _exit(3);
}

static void (*feed_pop)(void) = pipe_pop;

static void on_pipe(uv_timer_t *t)
{
    static int n;
    uint64_t one = 1;
    if (n++ == 0) {
        if (write(pipefd[1], &one, feed_len) != (ssize_t)feed_len)
            exit(3);
    } else {
        feed_pop();
    }
    (void)t;
}

static void cleanup_spin(void *arg)
{
    (void)arg;
    pthread_mutex_unlock(&m);
    busy_spin(3 * ms);
}

static void *cancellable(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&m);
    pthread_cleanup_push(cleanup_spin, NULL);
    for (;;)
        pthread_cond_wait(&c, &m);
    pthread_cleanup_pop(0);
    return NULL;
}

static atomic_int lowest_stop;

static void *lowest_churn(void *arg)
{
    int *missed = arg, p[2], q[2];
    int n = 0;
    /* A thread that locks: with main's wait, two that could deadlock. */
    static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&m);
    pthread_mutex_unlock(&m);
    while (!atomic_load(&lowest_stop)) {
        if (pipe(p) != 0)
            break;
        close(p[0]);
        close(p[1]);
        if (pipe(q) != 0)
            break;
        *missed += q[0] != p[0] || q[1] != p[1];
        close(q[0]);
        close(q[1]);
        n++;
    }
    return (void *)(intptr_t)n;
}

static void on_lowest_end(uv_timer_t *t)
{
    uv_close((uv_handle_t *)t, NULL);
}

/* The churn starts before the watchdog does: at the loop's entry, or at
 * the first wait of a process with a second thread. */
static int lowest(int loop)
{
    pthread_t th;
    int missed = 0;
    static uv_timer_t t;
    if (loop)
        uv_timer_init(uv_default_loop(), &t);
    pthread_create(&th, NULL, lowest_churn, &missed);
    if (loop) {
        uv_timer_start(&t, on_lowest_end, 3 * ms, 0);
        uv_run(uv_default_loop(), UV_RUN_DEFAULT);
    } else {
        timed_waiter(NULL);
    }
    atomic_store(&lowest_stop, 1);
    void *n;
    pthread_join(th, &n);
    printf("missed %d of %d\n", missed, (int)(intptr_t)n);
    return 0;
}

static int run_loop(void)
{
    return uv_run(uv_default_loop(), UV_RUN_DEFAULT);
}

/* EPERM for a private FUTEX_WAIT_BITSET, every other call allowed: a
 * sandbox's filter that lists the futex operations it expects. */
static int filter_futex_wait_bitset(void)
{
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_futex, 0, 3),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
                 offsetof(struct seccomp_data, args[1])),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
                 FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | 1 /* EPERM */),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {sizeof f / sizeof f[0], f};
    return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
                   prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0
               ? -1
               : 0;
}

int main(int argc, char **argv)
{
    if (argc != 3)
        return 2;
    const char *mode = argv[1];
    ms = strtoull(argv[2], NULL, 10);
    if (!strcmp(mode, "busy-masked")) {
        sigset_t all, pending;
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, NULL);
        static uv_timer_t t;
        uv_timer_init(uv_default_loop(), &t);
        uv_timer_start(&t, on_busy, 10, 0);
        int r = run_loop();
        sigpending(&pending);
        for (int s = 1; s < NSIG; s++)
            if (sigismember(&pending, s) == 1)
                printf("pending %d\n", s);
        return r;
    }
    if (!strcmp(mode, "busy")) {
        static uv_timer_t t;
        uv_timer_init(uv_default_loop(), &t);
        uv_timer_start(&t, on_busy, 10, 0);
        return run_loop();
    }
    if (!strcmp(mode, "stdio-pipe") || !strcmp(mode, "child-wait") ||
        !strcmp(mode, "raw-sleep")) {
        static uv_timer_t t;
        uv_timer_init(uv_default_loop(), &t);
        uv_timer_start(&t,
                       !strcmp(mode, "stdio-pipe")   ? on_stdio_pipe
                       : !strcmp(mode, "child-wait") ? on_child_wait
                                                     : on_raw_sleep,
                       10, 0);
        int r = run_loop();
        return r ? r : unseen_failed;
    }
    if (!strcmp(mode, "idle-filtered")) {
        if (filter_futex_wait_bitset() != 0) {
            printf("filter failed\n");
            return 1;
        }
        mode = "idle";
    }
    if (!strcmp(mode, "idle")) {
        /* A loop asleep in its wait for 3 x ms: nothing is parked. */
        static uv_timer_t t;
        uv_timer_init(uv_default_loop(), &t);
        uv_timer_start(&t, on_lowest_end, 3 * ms, 0);
        return run_loop();
    }
    if (!strcmp(mode, "table")) {
        static uv_timer_t t;
        uv_timer_init(uv_default_loop(), &t);
        uv_timer_start(&t, on_table, ms, 0);
        return run_loop();
    }
    if (!strcmp(mode, "lowest-loop") || !strcmp(mode, "lowest-threads"))
        return lowest(!strcmp(mode, "lowest-loop"));
    if (!strcmp(mode, "iterate")) {
        static uv_idle_t h;
        idle_end = now_ms() + 3 * ms;
        uv_idle_init(uv_default_loop(), &h);
        uv_idle_start(&h, on_idle);
        return run_loop();
    }
    if (!strcmp(mode, "mutex-wait")) {
        static uv_timer_t t;
        pthread_t th;
        sem_init(&locked, 0, 0);
        pthread_create(&th, NULL, holder, NULL);
        sem_wait(&locked);
        uv_timer_init(uv_default_loop(), &t);
        uv_timer_start(&t, on_mutex, 1, 0);
        int r = run_loop();
        pthread_join(th, NULL);
        return r;
    }
    if (!strcmp(mode, "self-wait") || !strcmp(mode, "shared-wait") ||
        !strcmp(mode, "reinit-wait")) {
        static uv_timer_t t;
        reinit = !strcmp(mode, "reinit-wait");
        pthread_t th;
        pthread_create(&th, NULL, sleeper,
                       !strcmp(mode, "shared-wait") ? (void *)1 : NULL);
        struct timespec d = {0, 50000000};
        nanosleep(&d, NULL);
        uv_timer_init(uv_default_loop(), &t);
        uv_timer_start(&t, on_queue, 1, 1);
        return run_loop();
    }
    if (!strcmp(mode, "reinit-shared")) {
        static uv_timer_t t;
        pthread_t th;
        sem_init(&go, 0, 0);
        pthread_create(&th, NULL, reinit_worker, NULL);
        struct timespec d = {0, 50000000};
        nanosleep(&d, NULL);
        uv_timer_init(uv_default_loop(), &t);
        uv_timer_start(&t, on_reinit_shared, 1, 1);
        return run_loop();
    }
    if (!strcmp(mode, "pipe-self") || !strcmp(mode, "pipe-child") ||
        !strcmp(mode, "pipe-signal") || !strcmp(mode, "socket-self") ||
        !strcmp(mode, "socket-child") || !strcmp(mode, "eventfd-self") ||
        !strcmp(mode, "eventfd-child")) {
        static uv_timer_t t;
        if (!strncmp(mode, "socket", 6)) {
            if (socketpair(AF_UNIX, SOCK_STREAM, 0, pipefd) != 0)
                return 3;
            feed_pop = sock_pop;
        } else if (!strncmp(mode, "eventfd", 7)) {
            if ((pipefd[0] = pipefd[1] = eventfd(0, EFD_CLOEXEC)) < 0)
                return 3;
            feed_pop = efd_pop;
            feed_len = sizeof(uint64_t);
        } else if (pipe(pipefd) != 0) {
            return 3;
        }
        if (!strcmp(mode, "pipe-signal"))
            signal(SIGUSR1, on_usr1_pipe);
        if (strstr(mode, "-child") && fork() == 0) {
            struct timespec d = {60, 0};
            nanosleep(&d, NULL);
            _exit(0);
        }
        uv_timer_init(uv_default_loop(), &t);
        uv_timer_start(&t, on_pipe, 1, 1);
        return run_loop();
    }
    if (!strcmp(mode, "pipe-parent")) {
        static uv_timer_t t;
        if (pipe(pipefd) != 0)
            return 3;
        pid_t child = fork();
        if (child < 0)
            return 3;
        if (child == 0) {
            uv_timer_init(uv_default_loop(), &t);
            uv_timer_start(&t, on_pipe, 1, 1);
            return run_loop();
        }
        struct timespec d = {(time_t)(3 * ms / 1000),
                             (long)(3 * ms % 1000) * 1000000};
        nanosleep(&d, NULL);
        if (write(pipefd[1], "p", 1) != 1)
            return 3;
        nanosleep(&d, NULL);
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
        return 0;
    }
    if (!strcmp(mode, "cancelled")) {
        pthread_t th;
        pthread_create(&th, NULL, cancellable, NULL);
        struct timespec d = {0, 50000000};
        nanosleep(&d, NULL);
        pthread_cancel(th);
        pthread_join(th, NULL);
        return 0;
    }
    if (!strcmp(mode, "single")) {
        pthread_t th;
        pthread_create(&th, NULL, holder_quick, NULL);
        pthread_join(th, NULL);
        struct timespec d = {(time_t)(3 * ms / 1000),
                             (long)(3 * ms % 1000) * 1000000};
        nanosleep(&d, NULL);
        int n = 0;
        DIR *dir = opendir("/proc/self/task");
        for (struct dirent *e; dir && (e = readdir(dir));)
            n += e->d_name[0] != '.';
        if (dir)
            closedir(dir);
        printf("threads %d\n", n);
        return 0;
    }
    if (!strcmp(mode, "late-loop")) {
        pthread_t th;
        pthread_create(&th, NULL, holder_quick, NULL);
        pthread_join(th, NULL);
        struct timespec d = {(time_t)(ms / 40 / 1000),
                             (long)(ms / 40 % 1000) * 1000000};
        nanosleep(&d, NULL);
        static uv_timer_t t;
        uv_timer_init(uv_default_loop(), &t);
        uv_timer_start(&t, on_lowest_end, ms / 40, 0);
        return run_loop();
    }
    if (!strcmp(mode, "timed")) {
        pthread_t th[3];
        for (int i = 0; i < 3; i++)
            pthread_create(&th[i], NULL, timed_waiter, NULL);
        timed_waiter(NULL);
        for (int i = 0; i < 3; i++)
            pthread_join(th[i], NULL);
        return 0;
    }
    if (!strcmp(mode, "join-cycle")) {
        pthread_t th;
        pthread_create(&th, NULL, forever, NULL);
        pthread_join(th, NULL);
        return 0;
    }
    if (!strcmp(mode, "sem-signal")) {
        sem_init(&sem, 0, 0);
        signal(SIGUSR1, on_usr1);
        printf("ready\n");
        fflush(stdout);
        while (sem_wait(&sem) != 0)
            ;
        return 0;
    }
    return 2;
}

/* prog-fork MODE: the process-life situations the preload must survive.
 *
 *   fork     a loop callback forks, again and again, while a second loop
 *            thread keeps going through the report path; each child (no
 *            exec) makes a blocking read with data ready and exits 0. The
 *            parent polls for it from the loop and checks the status.
 *   threads  200 threads, each running uv_run on a loop of its own once,
 *            with one blocking read (data ready) from the same call site.
 *   flood    10^6 blocking reads (data ready) from one call site in one
 *            loop callback; prints VmHWM before and after.
 *   resume   a loop callback reads (data ready), then forks once; the
 *            child reads in that callback, then goes back to its loop
 *            (uv_loop_fork), where a timer's callback reads again at
 *            another site and stops it, and exits. Of the child's reads only
 *            the second is made on a loop the child runs.
 *
 * Exit status: 0 everything behaved, 1 otherwise, 2 usage. test-fork-exit.sh
 * reads the reports. */
#undef _FORTIFY_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

/* A call site the test finds by its frame's name: never inlined, cloned
 * or merged with an identical function (gcc's -fipa-icf, on at -O2, would
 * fold the site_*_read functions into one symbol). */
#if defined(__clang__)
#define SITE __attribute__((noinline))
#else
#define SITE __attribute__((noipa))
#endif

#define NFORKS 20
#define CHILD_LIMIT_MS 5000  /* a child still running by then is hung */
#define NTHREADS 200
#define NFLOOD 1000000

static atomic_int g_failed;

#define FAILF(...)                                                           \
    do {                                                                     \
        fprintf(stderr, "prog-fork: " __VA_ARGS__);                          \
        fputc('\n', stderr);                                                 \
        g_failed = 1;                                                        \
    } while (0)

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* A blocking read of one byte that is already there: a report on a loop
 * thread, and it never waits. Each mode has its own call site. */
SITE
static ssize_t site_child_read(int fd, char *c)
{
    ssize_t r = read(fd, c, 1);
    __asm__ volatile("" ::: "memory");   /* keep this frame: no tail call */
    return r;
}

SITE
static ssize_t site_parent_read(int fd, char *c)
{
    ssize_t r = read(fd, c, 1);
    __asm__ volatile("" ::: "memory");
    return r;
}

SITE
static ssize_t site_resume_read(int fd, char *c)
{
    ssize_t r = read(fd, c, 1);
    __asm__ volatile("" ::: "memory");
    return r;
}

SITE
static ssize_t site_busy_read(int fd, char *c)
{
    ssize_t r = read(fd, c, 1);
    __asm__ volatile("" ::: "memory");
    return r;
}

SITE
static ssize_t site_thread_read(int fd, char *c)
{
    ssize_t r = read(fd, c, 1);
    __asm__ volatile("" ::: "memory");
    return r;
}

SITE
static ssize_t site_warm_read(int fd, char *c)
{
    ssize_t r = read(fd, c, 1);
    __asm__ volatile("" ::: "memory");
    return r;
}

SITE
static ssize_t site_flood_read(int fd, char *c)
{
    ssize_t r = read(fd, c, 1);
    __asm__ volatile("" ::: "memory");
    return r;
}

static int read_ready(ssize_t (*site)(int, char *), int p[2])
{
    char c;
    if (write(p[1], "x", 1) != 1)
        return -1;
    return site(p[0], &c) == 1 && c == 'x' ? 0 : -1;
}

/* ---------------------------------------------------------------------------
 * fork
 * ------------------------------------------------------------------------- */
struct busy {
    uv_loop_t loop;
    uv_timer_t timer;
    int pipe[2];
    atomic_int stop;
    long reads;
};

/* A second loop thread that keeps taking the report path (dedupe hits),
 * so that forks happen while loopguard's locks may be held. */
static void on_busy_timer(uv_timer_t *t)
{
    struct busy *b = t->data;
    for (int i = 0; i < 100; i++) {
        if (read_ready(site_busy_read, b->pipe) != 0) {
            FAILF("busy thread: read failed: %s", strerror(errno));
            atomic_store(&b->stop, 1);
            break;
        }
        b->reads++;
    }
    if (atomic_load(&b->stop))
        uv_close((uv_handle_t *)t, NULL);
}

static void *busy_main(void *p)
{
    struct busy *b = p;
    b->timer.data = b;
    if (uv_loop_init(&b->loop) != 0 || uv_timer_init(&b->loop, &b->timer)
        || uv_timer_start(&b->timer, on_busy_timer, 0, 1) != 0) {
        FAILF("busy thread: libuv setup failed");
        return NULL;
    }
    uv_run(&b->loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&b->loop) != 0)
        FAILF("busy thread: uv_loop_close failed");
    return NULL;
}

struct forker {
    int pipe[2];
    pid_t child;
    uint64_t started_ms;
    int forks, reaped;
};

__attribute__((noreturn))
static void child_main(int p[2])
{
    char c;
    if (write(p[1], "c", 1) != 1)
        _exit(3);
    if (site_child_read(p[0], &c) != 1 || c != 'c')
        _exit(4);
    /* exit, not _exit: atexit handlers (the preload's summary among them)
     * must also work in a forked child. */
    exit(0);
}

/* Forks from the loop thread, and reaps without blocking the loop. */
static void on_fork_timer(uv_timer_t *t)
{
    struct forker *f = t->data;
    if (f->child > 0) {
        int st;
        pid_t r = waitpid(f->child, &st, WNOHANG);
        if (r == 0) {
            if (now_ms() - f->started_ms < CHILD_LIMIT_MS)
                return;
            FAILF("child %d still running after %d ms: killed",
                  (int)f->child, CHILD_LIMIT_MS);
            kill(f->child, SIGKILL);
            waitpid(f->child, &st, 0);
        } else if (r < 0) {
            FAILF("waitpid: %s", strerror(errno));
        } else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            FAILF("child %d: %s %d", (int)f->child,
                  WIFEXITED(st) ? "exit status" : "killed by signal",
                  WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
        }
        f->child = 0;
        f->reaped++;
    }
    if (f->forks == NFORKS || g_failed) {
        uv_close((uv_handle_t *)t, NULL);
        return;
    }
    f->started_ms = now_ms();
    f->child = fork();
    if (f->child == 0)
        child_main(f->pipe);
    if (f->child < 0) {
        FAILF("fork: %s", strerror(errno));
        uv_close((uv_handle_t *)t, NULL);
        return;
    }
    f->forks++;
}

static void mode_fork(void)
{
    static struct busy b;
    struct forker f = {.child = 0};
    pthread_t bt;
    uv_loop_t loop;
    uv_timer_t t;
    if (pipe(b.pipe) != 0 || pipe(f.pipe) != 0) {
        FAILF("pipe: %s", strerror(errno));
        return;
    }
    if (pthread_create(&bt, NULL, busy_main, &b) != 0) {
        FAILF("pthread_create failed");
        return;
    }
    t.data = &f;
    if (uv_loop_init(&loop) != 0 || uv_timer_init(&loop, &t) != 0
        || uv_timer_start(&t, on_fork_timer, 1, 2) != 0) {
        FAILF("libuv setup failed");
        return;
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&loop) != 0)
        FAILF("uv_loop_close failed");
    atomic_store(&b.stop, 1);
    pthread_join(bt, NULL);
    if (f.reaped != NFORKS)
        FAILF("%d children forked, %d reaped, %d expected", f.forks,
              f.reaped, NFORKS);
    printf("forks %d busy_reads %ld\n", f.reaped, b.reads);
}

/* ---------------------------------------------------------------------------
 * resume
 * ------------------------------------------------------------------------- */
struct resume {
    uv_timer_t fork_timer, child_timer;
    int pipe[2];
    pid_t child;
};

static void on_child_timer(uv_timer_t *t)
{
    struct resume *r = t->data;
    if (read_ready(site_resume_read, r->pipe) != 0)
        _exit(5);
    uv_stop(t->loop);
}

/* Forks once, then reaps without blocking the loop. In the child: a read
 * in the parent's callback, then its own loop again. */
static void on_resume_timer(uv_timer_t *t)
{
    struct resume *r = t->data;
    if (r->child == 0) {
        if (read_ready(site_parent_read, r->pipe) != 0)
            FAILF("parent read failed: %s", strerror(errno));
        r->child = fork();
        if (r->child < 0) {
            FAILF("fork: %s", strerror(errno));
            uv_close((uv_handle_t *)t, NULL);
        } else if (r->child == 0) {
            if (read_ready(site_child_read, r->pipe) != 0 ||
                uv_loop_fork(t->loop) != 0)
                _exit(4);
            uv_timer_stop(t);
            r->child_timer.data = r;
            if (uv_timer_init(t->loop, &r->child_timer) != 0 ||
                uv_timer_start(&r->child_timer, on_child_timer, 10, 0) != 0)
                _exit(6);
        }
        return;
    }
    int st;
    pid_t w = waitpid(r->child, &st, WNOHANG);
    if (w == 0)
        return;
    if (w < 0)
        FAILF("waitpid: %s", strerror(errno));
    else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        FAILF("child: %s %d", WIFEXITED(st) ? "exit status" :
              "killed by signal", WIFEXITED(st) ? WEXITSTATUS(st) :
              WTERMSIG(st));
    uv_close((uv_handle_t *)t, NULL);
}

static void mode_resume(void)
{
    static struct resume r;
    uv_loop_t loop;
    if (pipe(r.pipe) != 0) {
        FAILF("pipe: %s", strerror(errno));
        return;
    }
    r.fork_timer.data = &r;
    if (uv_loop_init(&loop) != 0 || uv_timer_init(&loop, &r.fork_timer) != 0
        || uv_timer_start(&r.fork_timer, on_resume_timer, 1, 2) != 0) {
        FAILF("libuv setup failed");
        return;
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    if (r.child == 0) {
        /* the child: its loop stopped after its own read. exit runs the
         * preload's summary: it must hold the child's site only. */
        printf("child %d\n", (int)getpid());
        exit(0);
    }
    if (uv_loop_close(&loop) != 0)
        FAILF("uv_loop_close failed");
    printf("resumed child %d\n", (int)r.child);
}

/* ---------------------------------------------------------------------------
 * threads
 * ------------------------------------------------------------------------- */
static atomic_int g_thread_reads;

static void on_thread_timer(uv_timer_t *t)
{
    int p[2];
    if (pipe(p) != 0) {
        FAILF("pipe: %s", strerror(errno));
    } else {
        if (read_ready(site_thread_read, p) == 0)
            atomic_fetch_add(&g_thread_reads, 1);
        else
            FAILF("thread read failed: %s", strerror(errno));
        close(p[0]);
        close(p[1]);
    }
    uv_close((uv_handle_t *)t, NULL);
}

static void *loop_thread(void *arg)
{
    uv_loop_t loop;
    uv_timer_t t;
    (void)arg;
    if (uv_loop_init(&loop) != 0 || uv_timer_init(&loop, &t) != 0
        || uv_timer_start(&t, on_thread_timer, 0, 0) != 0) {
        FAILF("libuv setup failed in a thread");
        return NULL;
    }
    if (uv_run(&loop, UV_RUN_DEFAULT) != 0)
        FAILF("uv_run left handles behind");
    if (uv_loop_close(&loop) != 0)
        FAILF("uv_loop_close failed in a thread");
    return NULL;
}

static void mode_threads(void)
{
    static pthread_t t[NTHREADS];
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setstacksize(&a, 256 * 1024);
    int n = 0;
    for (; n < NTHREADS; n++) {
        int err = pthread_create(&t[n], &a, loop_thread, NULL);
        if (err) {
            FAILF("pthread_create #%d: %s", n, strerror(err));
            break;
        }
    }
    for (int i = 0; i < n; i++)
        pthread_join(t[i], NULL);
    pthread_attr_destroy(&a);
    if (atomic_load(&g_thread_reads) != NTHREADS)
        FAILF("%d reads in threads, expected %d",
              atomic_load(&g_thread_reads), NTHREADS);
    printf("threads %d\n", n);
}

/* ---------------------------------------------------------------------------
 * flood
 * ------------------------------------------------------------------------- */
/* Peak resident set size in kB, or -1. Read with open/read: a regular file,
 * so never a report. */
static long vmhwm_kb(void)
{
    char buf[4096];
    int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    const char *p = strstr(buf, "VmHWM:");
    return p ? strtol(p + 6, NULL, 10) : -1;
}

struct flood {
    long hwm_start, hwm_before, hwm_after;
    long reads;
};

static void on_flood_timer(uv_timer_t *t)
{
    struct flood *fl = t->data;
    static char chunk[4096];
    int p[2];
    char c;
    fl->hwm_start = vmhwm_kb();
    if (pipe(p) != 0) {
        FAILF("pipe: %s", strerror(errno));
        goto out;
    }
    /* One report first, from another site, so that the one-time costs
     * (unwinder, symbol tables) are not counted against the flood. */
    if (read_ready(site_warm_read, p) != 0)
        FAILF("warm-up read failed: %s", strerror(errno));
    fl->hwm_before = vmhwm_kb();
    memset(chunk, 'f', sizeof chunk);
    long avail = 0;
    for (long i = 0; i < NFLOOD; i++) {
        if (avail == 0) {
            if (write(p[1], chunk, sizeof chunk) != (ssize_t)sizeof chunk) {
                FAILF("write: %s", strerror(errno));
                break;
            }
            avail = sizeof chunk;
        }
        if (site_flood_read(p[0], &c) != 1 || c != 'f') {
            FAILF("flood read %ld failed: %s", i, strerror(errno));
            break;
        }
        avail--;
        fl->reads++;
    }
    fl->hwm_after = vmhwm_kb();
    close(p[0]);
    close(p[1]);
out:
    uv_close((uv_handle_t *)t, NULL);
}

static void mode_flood(void)
{
    struct flood fl = {0, 0, 0, 0};
    uv_loop_t loop;
    uv_timer_t t;
    t.data = &fl;
    if (uv_loop_init(&loop) != 0 || uv_timer_init(&loop, &t) != 0
        || uv_timer_start(&t, on_flood_timer, 0, 0) != 0) {
        FAILF("libuv setup failed");
        return;
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&loop) != 0)
        FAILF("uv_loop_close failed");
    if (fl.reads != NFLOOD)
        FAILF("%ld reads, expected %d", fl.reads, NFLOOD);
    printf("flood_reads %ld\nvmhwm_start_kb %ld\nvmhwm_before_kb %ld\n"
           "vmhwm_after_kb %ld\n", fl.reads, fl.hwm_start, fl.hwm_before,
           fl.hwm_after);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: prog-fork fork|threads|flood|resume\n");
        return 2;
    }
    if (strcmp(argv[1], "fork") == 0) {
        mode_fork();
    } else if (strcmp(argv[1], "threads") == 0) {
        mode_threads();
    } else if (strcmp(argv[1], "flood") == 0) {
        mode_flood();
    } else if (strcmp(argv[1], "resume") == 0) {
        mode_resume();
    } else {
        fprintf(stderr, "prog-fork: unknown mode %s\n", argv[1]);
        return 2;
    }
    printf("pid %d\n", (int)getpid());
    fflush(stdout);
    return g_failed;
}

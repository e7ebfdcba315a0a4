/* prog-calls WHERE CASE: makes one kind of wrapped call where the detector
 * must see it or where it must not:
 *
 *   loop    in a libuv timer callback on the main thread (inside uv_run)
 *   off     on the main thread before uv_run, in a plain thread while no
 *           loop runs, and on the main thread after uv_run returned
 *   thread  in a timer callback of a loop run by a thread named
 *           "lg-loop-thr"
 *   nested  in a callback of a loop run with UV_RUN_NOWAIT, after a second
 *           loop, run inside that callback with UV_RUN_ONCE, returned
 *   manual  between lg_loop_enter() and lg_loop_leave(), looked up at run
 *           time (the preload brings libloopguard.so; this program must not
 *           link it)
 *
 * Every call that blocks is released quickly (a helper thread posts,
 * signals or writes 20 ms later; timed calls time out after 50 ms), and
 * every result and errno is checked: the preload must never change either.
 * On stdout the program says what a report must name: "loop: 0x..." (the
 * loop's id) and "object: ..." (the call's object, or null).
 * Exit status: 0 all calls behaved, 1 a call misbehaved, 2 usage.
 * test-wrappers.sh reads the reports. */

/* The _chk cases call the FORTIFY entry points by hand; everything else
 * must reach the plain names, whatever the compiler's defaults. */
#undef _FORTIFY_SOURCE

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <mqueue.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/select.h>
#include <sys/ioctl.h>
#include <sys/msg.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <threads.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "loopguard.h"

/* A call site the test finds by its frame's name: never inlined, cloned
 * or merged with an identical function (gcc's -fipa-icf, on at -O2, would
 * fold the site_*_read functions into one symbol). */
#if defined(__clang__)
#define SITE __attribute__((noinline))
#else
#define SITE __attribute__((noipa))
#endif

#define RELEASE_MS 20        /* a helper releases a blocked call this late */
#define TIMEOUT_MS 50        /* timed calls give up this late */

/* The FORTIFY entry points, which no header declares without
 * _FORTIFY_SOURCE. */
extern ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen);
extern ssize_t __recv_chk(int fd, void *buf, size_t n, size_t buflen,
                          int flags);
extern ssize_t __recvfrom_chk(int fd, void *buf, size_t n, size_t buflen,
                              int flags, struct sockaddr *from,
                              socklen_t *fromlen);

static const char *g_case = "?";
static const char *g_where = "?";

#define FAILF(...)                                                           \
    do {                                                                     \
        fprintf(stderr, "prog-calls %s %s: ", g_where, g_case);              \
        fprintf(stderr, __VA_ARGS__);                                        \
        fputc('\n', stderr);                                                 \
        return -1;                                                           \
    } while (0)

/* errno before each checked call: none of them may change it unless it
 * fails (glibc's do not, and the preload must not either). */
#define ERRNO_SENTINEL 4242

/* Checks a call that reports failure as -1 + errno. */
#define EXPECT_RC(expr, want, want_errno)                                    \
    do {                                                                     \
        errno = ERRNO_SENTINEL;                                              \
        long rc_ = (long)(expr);                                             \
        int e_ = errno;                                                      \
        if (rc_ != (long)(want) || (rc_ == -1 && e_ != (want_errno)))        \
            FAILF("%s returned %ld (errno %d %s), expected %ld (errno %d)",  \
                  #expr, rc_, e_, strerror(e_), (long)(want), want_errno);   \
        if (rc_ != -1 && e_ != ERRNO_SENTINEL)                               \
            FAILF("%s succeeded but changed errno to %d (%s)", #expr, e_,    \
                  strerror(e_));                                             \
    } while (0)

/* Checks a wrapped call that returns an error number (pthread style), and
 * leaves errno alone. */
#define EXPECT_ERR(expr, want)                                               \
    do {                                                                     \
        errno = ERRNO_SENTINEL;                                              \
        int r_ = (expr);                                                     \
        int e_ = errno;                                                      \
        if (r_ != (want))                                                    \
            FAILF("%s returned %d (%s), expected %d", #expr, r_,             \
                  strerror(r_), (want));                                     \
        if (e_ != ERRNO_SENTINEL)                                            \
            FAILF("%s changed errno to %d (%s)", #expr, e_, strerror(e_));   \
    } while (0)

/* The same for set-up calls, which may use errno as they like. */
#define SETUP_ERR(expr)                                                      \
    do {                                                                     \
        int r_ = (expr);                                                     \
        if (r_ != 0)                                                         \
            FAILF("setup: %s returned %d (%s)", #expr, r_, strerror(r_));    \
    } while (0)

#define SETUP(expr)                                                          \
    do {                                                                     \
        if ((expr) < 0)                                                      \
            FAILF("setup: %s: %s", #expr, strerror(errno));                  \
    } while (0)

/* Tells the test what the report must give as the call's object ("null":
 * none), in the form docs/reports.md documents. */
__attribute__((format(printf, 1, 2)))
static void object_is(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    flockfile(stdout);
    fputs("object: ", stdout);
    vprintf(fmt, ap);
    putchar('\n');
    funlockfile(stdout);
    va_end(ap);
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
        ;
}

/* An absolute deadline `ms` from now on `clk` (negative: in the past). */
static struct timespec deadline(clockid_t clk, int ms)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    int64_t ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec
                 + (int64_t)ms * 1000000;
    ts.tv_sec = (time_t)(ns / 1000000000);
    ts.tv_nsec = (long)(ns % 1000000000);
    return ts;
}

/* ---------------------------------------------------------------------------
 * Helper threads. A blocked call is released by a helper; helpers are
 * joined by main once no loop runs, because a join on the loop thread would
 * itself be a report.
 * ------------------------------------------------------------------------- */
#define MAX_HELPERS 32

struct helper {
    void (*fn)(void *);
    void *arg;
    int delay_ms;
};

static pthread_t g_helpers[MAX_HELPERS];
static atomic_int g_nhelpers;

static void *helper_main(void *p)
{
    struct helper h = *(struct helper *)p;
    free(p);
    sleep_ms(h.delay_ms);
    h.fn(h.arg);
    return NULL;
}

static void later(void (*fn)(void *), void *arg, int delay_ms)
{
    struct helper *h = malloc(sizeof *h);
    int i = atomic_fetch_add(&g_nhelpers, 1);
    if (!h || i >= MAX_HELPERS) {
        fprintf(stderr, "prog-calls: too many helpers\n");
        abort();
    }
    *h = (struct helper){fn, arg, delay_ms};
    int err = pthread_create(&g_helpers[i], NULL, helper_main, h);
    if (err) {
        fprintf(stderr, "prog-calls: pthread_create: %s\n", strerror(err));
        abort();
    }
}

static int join_helpers(void)
{
    int n = atomic_load(&g_nhelpers);
    for (int i = 0; i < n; i++) {
        int err = pthread_join(g_helpers[i], NULL);
        if (err)
            FAILF("joining helper %d: %s", i, strerror(err));
    }
    atomic_store(&g_nhelpers, 0);
    return 0;
}

static void write_byte(void *p)
{
    int fd = (int)(intptr_t)p;
    if (write(fd, "x", 1) != 1)
        abort();
}

static void send_byte(void *p)
{
    int fd = (int)(intptr_t)p;
    if (send(fd, "x", 1, 0) != 1)
        abort();
}

static void post_sem(void *p)
{
    if (sem_post(p) != 0)
        abort();
}

/* ---------------------------------------------------------------------------
 * Condition variables. The helper signals only once the waiter is inside
 * the wait (it set `waiting` under the mutex, which the wait releases), so
 * the wait really blocks and nothing is lost.
 * ------------------------------------------------------------------------- */
typedef int (*cond_init_fn)(pthread_cond_t *, const pthread_condattr_t *);
typedef int (*cond_wait_fn)(pthread_cond_t *, pthread_mutex_t *);
typedef int (*cond_timedwait_fn)(pthread_cond_t *, pthread_mutex_t *,
                                 const struct timespec *);
typedef int (*cond_signal_fn)(pthread_cond_t *);
typedef int (*cond_destroy_fn)(pthread_cond_t *);

/* glibc's GLIBC_2.2.5 condition variable functions: a separate
 * implementation whose objects only its own functions may touch. */
struct cond_225 {
    cond_init_fn init;
    cond_wait_fn wait;
    cond_timedwait_fn timedwait;
    cond_signal_fn signal;
    cond_destroy_fn destroy;
};

static int get_225(struct cond_225 *f)
{
    /* dlvsym returns void *; the conversion to a function pointer is what
     * POSIX guarantees works. */
#define GET(field, name)                                                     \
    do {                                                                     \
        void *p_ = dlvsym(RTLD_DEFAULT, name, "GLIBC_2.2.5");                \
        if (!p_)                                                             \
            FAILF("dlvsym(%s, GLIBC_2.2.5): %s", name, dlerror());           \
        memcpy(&f->field, &p_, sizeof p_);                                   \
    } while (0)
    GET(init, "pthread_cond_init");
    GET(wait, "pthread_cond_wait");
    GET(timedwait, "pthread_cond_timedwait");
    GET(signal, "pthread_cond_signal");
    GET(destroy, "pthread_cond_destroy");
#undef GET
    return 0;
}

struct cv {
    pthread_mutex_t m;
    pthread_cond_t c;
    int waiting, flag;
    cond_signal_fn signal;
};

static void cv_release(void *p)
{
    struct cv *v = p;
    for (;;) {
        pthread_mutex_lock(&v->m);
        if (v->waiting) {
            v->flag = 1;
            v->signal(&v->c);
            pthread_mutex_unlock(&v->m);
            return;
        }
        pthread_mutex_unlock(&v->m);
        sleep_ms(1);
    }
}

/* The helper may still be leaving pthread_mutex_unlock when the waiter
 * returns, so the object lives until the helpers are joined. */
static struct cv *cv_new(cond_signal_fn sig)
{
    struct cv *v = calloc(1, sizeof *v);
    if (!v)
        abort();
    pthread_mutex_init(&v->m, NULL);
    v->signal = sig;
    return v;
}

static int c_cond_wait(void)
{
    struct cv *v = cv_new(pthread_cond_signal);
    pthread_cond_init(&v->c, NULL);
    later(cv_release, v, RELEASE_MS);
    pthread_mutex_lock(&v->m);
    v->waiting = 1;
    object_is("cond %p", (void *)&v->c);
    while (!v->flag)
        EXPECT_ERR(pthread_cond_wait(&v->c, &v->m), 0);
    pthread_mutex_unlock(&v->m);
    return 0;
}

static int c_cond_wait_225(void)
{
    struct cond_225 f;
    if (get_225(&f) < 0)
        return -1;
    struct cv *v = cv_new(f.signal);
    SETUP_ERR(f.init(&v->c, NULL));
    later(cv_release, v, RELEASE_MS);
    pthread_mutex_lock(&v->m);
    v->waiting = 1;
    object_is("cond %p", (void *)&v->c);
    while (!v->flag)
        EXPECT_ERR(f.wait(&v->c, &v->m), 0);
    pthread_mutex_unlock(&v->m);
    return 0;
}

static int c_cond_timedwait(void)
{
    pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t c = PTHREAD_COND_INITIALIZER;
    struct timespec ts = deadline(CLOCK_REALTIME, TIMEOUT_MS);
    pthread_mutex_lock(&m);
    object_is("cond %p", (void *)&c);
    EXPECT_ERR(pthread_cond_timedwait(&c, &m, &ts), ETIMEDOUT);
    pthread_mutex_unlock(&m);
    return 0;
}

static int c_cond_timedwait_225(void)
{
    struct cond_225 f;
    if (get_225(&f) < 0)
        return -1;
    pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t c;
    SETUP_ERR(f.init(&c, NULL));
    struct timespec ts = deadline(CLOCK_REALTIME, TIMEOUT_MS);
    pthread_mutex_lock(&m);
    object_is("cond %p", (void *)&c);
    EXPECT_ERR(f.timedwait(&c, &m, &ts), ETIMEDOUT);
    pthread_mutex_unlock(&m);
    SETUP_ERR(f.destroy(&c));
    return 0;
}

static int c_cond_timedwait_past(void)
{
    pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t c = PTHREAD_COND_INITIALIZER;
    struct timespec ts = deadline(CLOCK_REALTIME, -1000);
    pthread_mutex_lock(&m);
    object_is("cond %p", (void *)&c);
    EXPECT_ERR(pthread_cond_timedwait(&c, &m, &ts), ETIMEDOUT);
    pthread_mutex_unlock(&m);
    return 0;
}

/* A condition variable on CLOCK_MONOTONIC (as libuv's uv_cond_init makes
 * them): pthread_cond_timedwait's deadline is then a monotonic time. */
static int c_cond_timedwait_mono(void)
{
    pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
    pthread_condattr_t a;
    pthread_cond_t c;
    SETUP_ERR(pthread_condattr_init(&a));
    SETUP_ERR(pthread_condattr_setclock(&a, CLOCK_MONOTONIC));
    SETUP_ERR(pthread_cond_init(&c, &a));
    struct timespec ts = deadline(CLOCK_MONOTONIC, TIMEOUT_MS);
    pthread_mutex_lock(&m);
    object_is("cond %p", (void *)&c);
    EXPECT_ERR(pthread_cond_timedwait(&c, &m, &ts), ETIMEDOUT);
    pthread_mutex_unlock(&m);
    pthread_cond_destroy(&c);
    return 0;
}

static int c_cond_timedwait_mono_past(void)
{
    pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
    pthread_condattr_t a;
    pthread_cond_t c;
    SETUP_ERR(pthread_condattr_init(&a));
    SETUP_ERR(pthread_condattr_setclock(&a, CLOCK_MONOTONIC));
    SETUP_ERR(pthread_cond_init(&c, &a));
    struct timespec ts = deadline(CLOCK_MONOTONIC, -1000);
    pthread_mutex_lock(&m);
    EXPECT_ERR(pthread_cond_timedwait(&c, &m, &ts), ETIMEDOUT);
    pthread_mutex_unlock(&m);
    pthread_cond_destroy(&c);
    return 0;
}

/* libuv's own primitives, called by a user from a callback: thin wrappers
 * that the preload must look through. */
struct uvcv {
    uv_mutex_t m;
    uv_cond_t c;
    int waiting, flag;
};

static void uvcv_release(void *p)
{
    struct uvcv *v = p;
    for (;;) {
        uv_mutex_lock(&v->m);
        if (v->waiting) {
            v->flag = 1;
            uv_cond_signal(&v->c);
            uv_mutex_unlock(&v->m);
            return;
        }
        uv_mutex_unlock(&v->m);
        sleep_ms(1);
    }
}

static int c_uv_cond_wait(void)
{
    struct uvcv *v = calloc(1, sizeof *v);
    if (!v || uv_mutex_init(&v->m) != 0 || uv_cond_init(&v->c) != 0)
        FAILF("setup: uv_mutex_init/uv_cond_init");
    later(uvcv_release, v, RELEASE_MS);
    uv_mutex_lock(&v->m);
    v->waiting = 1;
    object_is("cond %p", (void *)&v->c);
    while (!v->flag)
        uv_cond_wait(&v->c, &v->m);
    uv_mutex_unlock(&v->m);
    return 0;
}

static int c_uv_cond_timedwait(void)
{
    uv_mutex_t m;
    uv_cond_t c;
    if (uv_mutex_init(&m) != 0 || uv_cond_init(&c) != 0)
        FAILF("setup: uv_mutex_init/uv_cond_init");
    uv_mutex_lock(&m);
    object_is("cond %p", (void *)&c);
    EXPECT_ERR(uv_cond_timedwait(&c, &m, TIMEOUT_MS * 1000000ull),
               UV_ETIMEDOUT);
    uv_mutex_unlock(&m);
    uv_cond_destroy(&c);
    uv_mutex_destroy(&m);
    return 0;
}

static void post_uv_sem(void *p)
{
    uv_sem_post(p);
}

static int c_uv_sem_wait(void)
{
    uv_sem_t *s = calloc(1, sizeof *s);
    if (!s || uv_sem_init(s, 0) != 0)
        FAILF("setup: uv_sem_init");
    later(post_uv_sem, s, RELEASE_MS);
    object_is("sem %p", (void *)s);
    uv_sem_wait(s);
    return 0;
}

static int c_cond_clockwait(void)
{
    pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t c = PTHREAD_COND_INITIALIZER;
    struct timespec ts = deadline(CLOCK_MONOTONIC, TIMEOUT_MS);
    pthread_mutex_lock(&m);
    object_is("cond %p", (void *)&c);
    EXPECT_ERR(pthread_cond_clockwait(&c, &m, CLOCK_MONOTONIC, &ts),
               ETIMEDOUT);
    pthread_mutex_unlock(&m);
    return 0;
}

/* C11 threads: the same handshake with cnd_t/mtx_t. */
struct c11cv {
    mtx_t m;
    cnd_t c;
    int waiting, flag;
};

static void c11_release(void *p)
{
    struct c11cv *v = p;
    for (;;) {
        mtx_lock(&v->m);
        if (v->waiting) {
            v->flag = 1;
            cnd_signal(&v->c);
            mtx_unlock(&v->m);
            return;
        }
        mtx_unlock(&v->m);
        sleep_ms(1);
    }
}

static int c_cnd_wait(void)
{
    struct c11cv *v = calloc(1, sizeof *v);
    if (!v || mtx_init(&v->m, mtx_plain) != thrd_success
        || cnd_init(&v->c) != thrd_success)
        FAILF("setup: mtx_init/cnd_init");
    later(c11_release, v, RELEASE_MS);
    mtx_lock(&v->m);
    v->waiting = 1;
    object_is("cond %p", (void *)&v->c);
    while (!v->flag)
        EXPECT_ERR(cnd_wait(&v->c, &v->m), thrd_success);
    mtx_unlock(&v->m);
    return 0;
}

static int c_cnd_timedwait(void)
{
    mtx_t m;
    cnd_t c;
    if (mtx_init(&m, mtx_plain) != thrd_success
        || cnd_init(&c) != thrd_success)
        FAILF("setup: mtx_init/cnd_init");
    /* C11 deadlines are TIME_UTC, that is CLOCK_REALTIME. */
    struct timespec ts = deadline(CLOCK_REALTIME, TIMEOUT_MS);
    mtx_lock(&m);
    object_is("cond %p", (void *)&c);
    EXPECT_ERR(cnd_timedwait(&c, &m, &ts), thrd_timedout);
    mtx_unlock(&m);
    cnd_destroy(&c);
    mtx_destroy(&m);
    return 0;
}

/* ---------------------------------------------------------------------------
 * Semaphores
 * ------------------------------------------------------------------------- */
static int c_sem_wait(void)
{
    sem_t *s = calloc(1, sizeof *s);
    if (!s)
        abort();
    SETUP(sem_init(s, 0, 0));
    later(post_sem, s, RELEASE_MS);
    object_is("sem %p", (void *)s);
    EXPECT_RC(sem_wait(s), 0, 0);
    return 0;
}

static int c_sem_timedwait(void)
{
    sem_t s;
    SETUP(sem_init(&s, 0, 0));
    struct timespec ts = deadline(CLOCK_REALTIME, TIMEOUT_MS);
    object_is("sem %p", (void *)&s);
    EXPECT_RC(sem_timedwait(&s, &ts), -1, ETIMEDOUT);
    sem_destroy(&s);
    return 0;
}

static int c_sem_clockwait(void)
{
    sem_t s;
    SETUP(sem_init(&s, 0, 0));
    struct timespec ts = deadline(CLOCK_MONOTONIC, TIMEOUT_MS);
    object_is("sem %p", (void *)&s);
    EXPECT_RC(sem_clockwait(&s, CLOCK_MONOTONIC, &ts), -1, ETIMEDOUT);
    sem_destroy(&s);
    return 0;
}

static int c_sem_timedwait_past(void)
{
    sem_t s;
    SETUP(sem_init(&s, 0, 0));
    struct timespec ts = deadline(CLOCK_REALTIME, -1000);
    object_is("sem %p", (void *)&s);
    EXPECT_RC(sem_timedwait(&s, &ts), -1, ETIMEDOUT);
    sem_destroy(&s);
    return 0;
}

/* ---------------------------------------------------------------------------
 * Descriptors
 * ------------------------------------------------------------------------- */
static int c_read_pipe(void)
{
    int p[2];
    char buf[8];
    SETUP(pipe(p));
    later(write_byte, (void *)(intptr_t)p[1], RELEASE_MS);
    object_is("fd %d (pipe)", p[0]);
    EXPECT_RC(read(p[0], buf, sizeof buf), 1, 0);
    close(p[0]);
    close(p[1]);
    return 0;
}

static int c_read_chk(void)
{
    int p[2];
    char buf[8];
    SETUP(pipe(p));
    later(write_byte, (void *)(intptr_t)p[1], RELEASE_MS);
    object_is("fd %d (pipe)", p[0]);
    EXPECT_RC(__read_chk(p[0], buf, sizeof buf, sizeof buf), 1, 0);
    close(p[0]);
    close(p[1]);
    return 0;
}

static int c_readv_pipe(void)
{
    int p[2];
    char a[1], b[8];
    struct iovec iov[2] = {{a, sizeof a}, {b, sizeof b}};
    SETUP(pipe(p));
    later(write_byte, (void *)(intptr_t)p[1], RELEASE_MS);
    object_is("fd %d (pipe)", p[0]);
    EXPECT_RC(readv(p[0], iov, 2), 1, 0);
    if (a[0] != 'x')
        FAILF("readv: got %#x", a[0]);
    close(p[0]);
    close(p[1]);
    return 0;
}

static int c_recv_sock(void)
{
    int sv[2];
    char buf[8];
    SETUP(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    later(send_byte, (void *)(intptr_t)sv[1], RELEASE_MS);
    object_is("fd %d (socket)", sv[0]);
    EXPECT_RC(recv(sv[0], buf, sizeof buf, 0), 1, 0);
    close(sv[0]);
    close(sv[1]);
    return 0;
}

static int c_recvfrom_sock(void)
{
    int sv[2];
    char buf[8];
    struct sockaddr_storage from;
    socklen_t len = sizeof from;
    SETUP(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv));
    later(send_byte, (void *)(intptr_t)sv[1], RELEASE_MS);
    object_is("fd %d (socket)", sv[0]);
    EXPECT_RC(recvfrom(sv[0], buf, sizeof buf, 0, (struct sockaddr *)&from,
                       &len), 1, 0);
    close(sv[0]);
    close(sv[1]);
    return 0;
}

static int c_recvmsg_sock(void)
{
    int sv[2];
    char buf[8];
    struct iovec iov = {buf, sizeof buf};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
    SETUP(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv));
    later(send_byte, (void *)(intptr_t)sv[1], RELEASE_MS);
    object_is("fd %d (socket)", sv[0]);
    EXPECT_RC(recvmsg(sv[0], &mh, 0), 1, 0);
    close(sv[0]);
    close(sv[1]);
    return 0;
}

/* netlink: the kernel answers a request (here an address dump) before
 * the request's send returns. */
static void netlink_request(void *p)
{
    struct {
        struct nlmsghdr nh;
        struct ifaddrmsg ifa;
    } req = {
        .nh = {.nlmsg_len = sizeof req, .nlmsg_type = RTM_GETADDR,
               .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP, .nlmsg_seq = 1},
        .ifa = {.ifa_family = AF_UNSPEC},
    };
    struct sockaddr_nl k = {.nl_family = AF_NETLINK};
    if (sendto((int)(intptr_t)p, &req, sizeof req, 0, (struct sockaddr *)&k,
               sizeof k) != (ssize_t)sizeof req)
        abort();
}

/* Reads the dump's parts up to NLMSG_DONE: 1 when it got there. */
static int netlink_read_dump(int fd)
{
    static char buf[32768];
    for (int parts = 0; parts < 1000; parts++) {
        struct iovec iov = {buf, sizeof buf};
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
        ssize_t n = recvmsg(fd, &mh, 0);
        if (n <= 0)
            return 0;
        for (struct nlmsghdr *h = (struct nlmsghdr *)buf;
             NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n))
            if (h->nlmsg_type == NLMSG_DONE)
                return 1;
    }
    return 0;
}

/* Nothing queued: the recvmsg waits for the kernel (the helper's request,
 * 20 ms later). */
static int c_recvmsg_netlink(void)
{
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    SETUP(fd);
    later(netlink_request, (void *)(intptr_t)fd, RELEASE_MS);
    object_is("fd %d (netlink)", fd);
    if (!netlink_read_dump(fd))
        FAILF("netlink: no NLMSG_DONE: %s", strerror(errno));
    close(fd);
    return 0;
}

/* The program's own request, then its answer: never a wait. */
static int c_recvmsg_netlink_answer(void)
{
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    SETUP(fd);
    netlink_request((void *)(intptr_t)fd);
    if (!netlink_read_dump(fd))
        FAILF("netlink: no NLMSG_DONE: %s", strerror(errno));
    close(fd);
    return 0;
}

static int c_recvmmsg_sock(void)
{
    int sv[2];
    char buf[8];
    struct iovec iov = {buf, sizeof buf};
    struct mmsghdr mm = {.msg_hdr = {.msg_iov = &iov, .msg_iovlen = 1}};
    SETUP(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv));
    later(send_byte, (void *)(intptr_t)sv[1], RELEASE_MS);
    object_is("fd %d (socket)", sv[0]);
    EXPECT_RC(recvmmsg(sv[0], &mm, 1, 0, NULL), 1, 0);
    if (mm.msg_len != 1)
        FAILF("recvmmsg: message of %u bytes", mm.msg_len);
    close(sv[0]);
    close(sv[1]);
    return 0;
}

static int c_recv_chk(void)
{
    int sv[2];
    char buf[8];
    SETUP(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    later(send_byte, (void *)(intptr_t)sv[1], RELEASE_MS);
    object_is("fd %d (socket)", sv[0]);
    EXPECT_RC(__recv_chk(sv[0], buf, sizeof buf, sizeof buf, 0), 1, 0);
    close(sv[0]);
    close(sv[1]);
    return 0;
}

static int c_recvfrom_chk(void)
{
    int sv[2];
    char buf[8];
    SETUP(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv));
    later(send_byte, (void *)(intptr_t)sv[1], RELEASE_MS);
    object_is("fd %d (socket)", sv[0]);
    EXPECT_RC(__recvfrom_chk(sv[0], buf, sizeof buf, sizeof buf, 0, NULL,
                             NULL), 1, 0);
    close(sv[0]);
    close(sv[1]);
    return 0;
}

static void write_eventfd(void *p)
{
    uint64_t one = 1;
    if (write((int)(intptr_t)p, &one, sizeof one) != (ssize_t)sizeof one)
        abort();
}

static int c_read_eventfd(void)
{
    uint64_t v;
    int fd = eventfd(0, EFD_CLOEXEC);
    SETUP(fd);
    later(write_eventfd, (void *)(intptr_t)fd, RELEASE_MS);
    object_is("fd %d (eventfd)", fd);
    EXPECT_RC(read(fd, &v, sizeof v), sizeof v, 0);
    close(fd);
    return 0;
}

/* The way libuv's uv_async wakes a loop. */
static int c_read_eventfd_nonblock(void)
{
    uint64_t v;
    int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    SETUP(fd);
    EXPECT_RC(read(fd, &v, sizeof v), -1, EAGAIN);
    close(fd);
    return 0;
}

static int c_recvmsg_dontwait(void)
{
    int sv[2];
    char buf[8];
    struct iovec iov = {buf, sizeof buf};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
    SETUP(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv));
    EXPECT_RC(recvmsg(sv[0], &mh, MSG_DONTWAIT), -1, EAGAIN);
    close(sv[0]);
    close(sv[1]);
    return 0;
}

static int c_recvmmsg_dontwait(void)
{
    int sv[2];
    char buf[8];
    struct iovec iov = {buf, sizeof buf};
    struct mmsghdr mm = {.msg_hdr = {.msg_iov = &iov, .msg_iovlen = 1}};
    SETUP(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv));
    EXPECT_RC(recvmmsg(sv[0], &mm, 1, MSG_DONTWAIT, NULL), -1, EAGAIN);
    close(sv[0]);
    close(sv[1]);
    return 0;
}

static int c_read_nonblock(void)
{
    int p[2];
    char buf[8];
    SETUP(pipe2(p, O_NONBLOCK));
    EXPECT_RC(read(p[0], buf, sizeof buf), -1, EAGAIN);
    close(p[0]);
    close(p[1]);
    return 0;
}

static int c_recv_dontwait(void)
{
    int sv[2];
    char buf[8];
    SETUP(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    EXPECT_RC(recv(sv[0], buf, sizeof buf, MSG_DONTWAIT), -1, EAGAIN);
    close(sv[0]);
    close(sv[1]);
    return 0;
}

static int c_recv_nonblock(void)
{
    int sv[2];
    char buf[8];
    SETUP(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv));
    EXPECT_RC(recv(sv[0], buf, sizeof buf, 0), -1, EAGAIN);
    close(sv[0]);
    close(sv[1]);
    return 0;
}

/* A regular file with "hello" in it, already unlinked, offset 0. */
static int tmp_file(void)
{
    const char *dir = getenv("TMPDIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/lg-prog-calls-XXXXXX",
             dir && *dir ? dir : "/tmp");
    int fd = mkstemp(path);
    if (fd < 0)
        return -1;
    unlink(path);
    if (write(fd, "hello", 5) != 5 || lseek(fd, 0, SEEK_SET) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int c_read_file(void)
{
    char buf[8];
    int fd = tmp_file();
    SETUP(fd);
    EXPECT_RC(read(fd, buf, sizeof buf), 5, 0);
    close(fd);
    return 0;
}

static int c_read_devnull(void)
{
    char buf[8];
    int fd = open("/dev/null", O_RDONLY);
    SETUP(fd);
    EXPECT_RC(read(fd, buf, sizeof buf), 0, 0);
    close(fd);
    return 0;
}

/* Each read of the cache cases sits in its own function, so that the test
 * can count reports per call site by the frame's name. */
SITE
static ssize_t site_prime_read(int fd, char *buf, size_t n)
{
    ssize_t r = read(fd, buf, n);
    __asm__ volatile("" ::: "memory");   /* keep this frame: no tail call */
    return r;
}

SITE
static ssize_t site_nonblock_read(int fd, char *buf, size_t n)
{
    ssize_t r = read(fd, buf, n);
    __asm__ volatile("" ::: "memory");
    return r;
}

SITE
static ssize_t site_blocking_read(int fd, char *buf, size_t n)
{
    ssize_t r = read(fd, buf, n);
    __asm__ volatile("" ::: "memory");
    return r;
}

SITE
static ssize_t site_dup_read(int fd, char *buf, size_t n)
{
    ssize_t r = read(fd, buf, n);
    __asm__ volatile("" ::: "memory");
    return r;
}

SITE
static ssize_t site_reuse_read(int fd, char *buf, size_t n)
{
    ssize_t r = read(fd, buf, n);
    __asm__ volatile("" ::: "memory");
    return r;
}

/* One blocking read in a helper, reached from two callers: a site is the
 * call plus its whole stack, so these are two sites (test-wrappers counts
 * records per caller with dedupe on). */
SITE
static ssize_t site_helper_read(int fd, char *buf, size_t n)
{
    ssize_t r = read(fd, buf, n);
    __asm__ volatile("" ::: "memory");
    return r;
}

SITE
static ssize_t site_caller_a(int fd, char *buf)
{
    ssize_t r = site_helper_read(fd, buf, 1);
    __asm__ volatile("" ::: "memory");
    return r;
}

SITE
static ssize_t site_caller_b(int fd, char *buf)
{
    ssize_t r = site_helper_read(fd, buf, 1);
    __asm__ volatile("" ::: "memory");
    return r;
}

/* Each caller twice: with dedupe on, one record per caller. */
static int c_two_callers(void)
{
    int p[2];
    char buf[1];
    SETUP(pipe(p));
    SETUP(write(p[1], "abcd", 4));
    for (int i = 0; i < 2; i++) {
        EXPECT_RC(site_caller_a(p[0], buf), 1, 0);
        EXPECT_RC(site_caller_b(p[0], buf), 1, 0);
    }
    close(p[0]);
    close(p[1]);
    return 0;
}

enum toggle { BY_FCNTL, BY_FCNTL64, BY_FIONBIO };

static int set_nonblock(int fd, int on, enum toggle how)
{
    if (how == BY_FIONBIO) {
        int v = on;
        return ioctl(fd, FIONBIO, &v);
    }
    int fl = how == BY_FCNTL64 ? fcntl64(fd, F_GETFL) : fcntl(fd, F_GETFL);
    if (fl < 0)
        return -1;
    fl = on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK;
    return how == BY_FCNTL64 ? fcntl64(fd, F_SETFL, fl)
                             : fcntl(fd, F_SETFL, fl);
}

/* Blocking read (the fd is now cached as blocking), O_NONBLOCK on, read
 * (must not count), O_NONBLOCK off, read with data ready (must count). */
static int toggle(enum toggle how)
{
    int p[2];
    char buf[8];
    SETUP(pipe(p));
    SETUP(write(p[1], "x", 1));
    EXPECT_RC(site_prime_read(p[0], buf, sizeof buf), 1, 0);
    SETUP(set_nonblock(p[0], 1, how));
    EXPECT_RC(site_nonblock_read(p[0], buf, sizeof buf), -1, EAGAIN);
    SETUP(set_nonblock(p[0], 0, how));
    SETUP(write(p[1], "y", 1));
    EXPECT_RC(site_blocking_read(p[0], buf, sizeof buf), 1, 0);
    close(p[0]);
    close(p[1]);
    return 0;
}

static int c_fcntl_toggle(void) { return toggle(BY_FCNTL); }
static int c_fcntl64_toggle(void) { return toggle(BY_FCNTL64); }
static int c_fionbio_toggle(void) { return toggle(BY_FIONBIO); }

/* O_NONBLOCK belongs to the open file description, which dup() shares:
 * setting it through one fd makes reads on the other non-blocking too. */
static int c_dup_setfl(void)
{
    int p[2];
    char buf[8];
    SETUP(pipe(p));
    int d = dup(p[0]);
    SETUP(d);
    SETUP(write(p[1], "xy", 2));
    EXPECT_RC(site_prime_read(p[0], buf, 1), 1, 0);
    EXPECT_RC(site_prime_read(d, buf, 1), 1, 0);
    SETUP(set_nonblock(d, 1, BY_FCNTL));
    EXPECT_RC(site_nonblock_read(p[0], buf, sizeof buf), -1, EAGAIN);
    close(d);
    close(p[0]);
    close(p[1]);
    return 0;
}

/* A pipe's fd, cached as blocking, then a regular file put in its place. */
static int dup_over(int use_dup3)
{
    int p[2];
    char buf[8];
    SETUP(pipe(p));
    SETUP(write(p[1], "x", 1));
    EXPECT_RC(site_prime_read(p[0], buf, sizeof buf), 1, 0);
    int f = tmp_file();
    SETUP(f);
    if (use_dup3)
        EXPECT_RC(dup3(f, p[0], O_CLOEXEC), p[0], 0);
    else
        EXPECT_RC(dup2(f, p[0]), p[0], 0);
    EXPECT_RC(site_dup_read(p[0], buf, sizeof buf), 5, 0);
    close(f);
    close(p[0]);
    close(p[1]);
    return 0;
}

static int c_dup2_over(void) { return dup_over(0); }
static int c_dup3_over(void) { return dup_over(1); }

/* An O_NONBLOCK pipe, read once (cached as non-blocking), closed; a
 * blocking pipe (from pipe(), which no fd-creating wrapper sees through
 * its flags) takes the same numbers; its read must count. */
static int close_reuse(int use_range)
{
    int p[2], q[2];
    char buf[8];
    SETUP(pipe2(p, O_NONBLOCK));
    EXPECT_RC(site_nonblock_read(p[0], buf, sizeof buf), -1, EAGAIN);
    if (use_range) {
        /* One fd per range: the numbers between may be the preload's. */
        EXPECT_RC(close_range((unsigned)p[0], (unsigned)p[0], 0), 0, 0);
        EXPECT_RC(close_range((unsigned)p[1], (unsigned)p[1], 0), 0, 0);
    } else {
        close(p[0]);
        close(p[1]);
    }
    SETUP(pipe(q));
    if (q[0] != p[0])
        FAILF("setup: fd %d not reused (got %d)", p[0], q[0]);
    SETUP(write(q[1], "x", 1));
    EXPECT_RC(site_reuse_read(q[0], buf, sizeof buf), 1, 0);
    close(q[0]);
    close(q[1]);
    return 0;
}

static int c_close_reuse(void) { return close_reuse(0); }
static int c_close_range_reuse(void) { return close_reuse(1); }

/* ---------------------------------------------------------------------------
 * Message queues
 * ------------------------------------------------------------------------- */
static atomic_int g_mq_seq;

static mqd_t mq_new(int flags)
{
    char name[64];
    struct mq_attr a = {.mq_maxmsg = 4, .mq_msgsize = 64};
    snprintf(name, sizeof name, "/lg-prog-calls-%d-%d", (int)getpid(),
             atomic_fetch_add(&g_mq_seq, 1));
    mqd_t q = mq_open(name, O_CREAT | O_EXCL | O_RDWR | flags, 0600, &a);
    if (q != (mqd_t)-1)
        mq_unlink(name);
    return q;
}

static void mq_send_one(void *p)
{
    if (mq_send((mqd_t)(intptr_t)p, "x", 1, 0) != 0)
        abort();
}

static int c_mq_receive(void)
{
    char buf[64];
    mqd_t q = mq_new(0);
    SETUP(q);
    later(mq_send_one, (void *)(intptr_t)q, RELEASE_MS);
    object_is("mq %d", (int)q);
    EXPECT_RC(mq_receive(q, buf, sizeof buf, NULL), 1, 0);
    mq_close(q);
    return 0;
}

static int c_mq_timedreceive(void)
{
    char buf[64];
    mqd_t q = mq_new(0);
    SETUP(q);
    struct timespec ts = deadline(CLOCK_REALTIME, TIMEOUT_MS);
    object_is("mq %d", (int)q);
    EXPECT_RC(mq_timedreceive(q, buf, sizeof buf, NULL, &ts), -1,
              ETIMEDOUT);
    mq_close(q);
    return 0;
}

static int c_mq_nonblock(void)
{
    char buf[64];
    mqd_t q = mq_new(O_NONBLOCK);
    SETUP(q);
    EXPECT_RC(mq_receive(q, buf, sizeof buf, NULL), -1, EAGAIN);
    mq_close(q);
    return 0;
}

struct sysv_msg {
    long mtype;
    char text[16];
};

static void msgsnd_one(void *p)
{
    struct sysv_msg m = {1, "x"};
    if (msgsnd((int)(intptr_t)p, &m, 1, 0) != 0)
        abort();
}

static int c_msgrcv(void)
{
    struct sysv_msg m;
    int id = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
    SETUP(id);
    later(msgsnd_one, (void *)(intptr_t)id, RELEASE_MS);
    object_is("msq %d", id);
    EXPECT_RC(msgrcv(id, &m, sizeof m.text, 0, 0), 1, 0);
    msgctl(id, IPC_RMID, NULL);
    return 0;
}

static int c_msgrcv_nowait(void)
{
    struct sysv_msg m;
    int id = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
    SETUP(id);
    EXPECT_RC(msgrcv(id, &m, sizeof m.text, 0, IPC_NOWAIT), -1, ENOMSG);
    msgctl(id, IPC_RMID, NULL);
    return 0;
}

/* ---------------------------------------------------------------------------
 * Raw futexes, the way Rust's std parks a thread.
 * ------------------------------------------------------------------------- */
static void futex_release(void *p)
{
    atomic_store((atomic_int *)p, 1);
    if (syscall(SYS_futex, p, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, 1, NULL, NULL,
                0) < 0)
        abort();
}

static int c_futex_wait(void)
{
    atomic_int *w = calloc(1, sizeof *w);
    if (!w)
        abort();
    later(futex_release, w, RELEASE_MS);
    object_is("futex %p", (void *)w);
    while (atomic_load(w) == 0) {
        errno = 0;
        long r = syscall(SYS_futex, w, FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG,
                         0, NULL, NULL, FUTEX_BITSET_MATCH_ANY);
        /* EAGAIN: the word changed before the wait began. */
        if (r != 0 && errno != EAGAIN && errno != EINTR)
            FAILF("futex wait returned %ld (%s)", r, strerror(errno));
    }
    return 0;
}

static int c_futex_wait_timed(void)
{
    int w = 0;
    struct timespec ts = deadline(CLOCK_MONOTONIC, TIMEOUT_MS);
    object_is("futex %p", (void *)&w);
    EXPECT_RC(syscall(SYS_futex, &w, FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG,
                      0, &ts, NULL, FUTEX_BITSET_MATCH_ANY), -1, ETIMEDOUT);
    return 0;
}

/* FUTEX_CLOCK_REALTIME: the absolute deadline is on CLOCK_REALTIME. */
static int c_futex_wait_realtime(void)
{
    int w = 0;
    struct timespec ts = deadline(CLOCK_REALTIME, TIMEOUT_MS);
    object_is("futex %p", (void *)&w);
    EXPECT_RC(syscall(SYS_futex, &w,
                      FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG
                          | FUTEX_CLOCK_REALTIME,
                      0, &ts, NULL, FUTEX_BITSET_MATCH_ANY), -1, ETIMEDOUT);
    return 0;
}

static int c_futex_wait_past(void)
{
    int w = 0;
    struct timespec ts = deadline(CLOCK_MONOTONIC, -1000);
    EXPECT_RC(syscall(SYS_futex, &w, FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG,
                      0, &ts, NULL, FUTEX_BITSET_MATCH_ANY), -1, ETIMEDOUT);
    return 0;
}

/* FUTEX_WAIT takes a relative timeout, unlike FUTEX_WAIT_BITSET. */
static int c_futex_wait_rel(void)
{
    int w = 0;
    struct timespec ts = {0, TIMEOUT_MS * 1000000L};
    object_is("futex %p", (void *)&w);
    EXPECT_RC(syscall(SYS_futex, &w, FUTEX_WAIT | FUTEX_PRIVATE_FLAG, 0, &ts,
                      NULL, 0), -1, ETIMEDOUT);
    return 0;
}

static int c_futex_wake(void)
{
    int w = 0;
    EXPECT_RC(syscall(SYS_futex, &w, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, 1,
                      NULL, NULL, 0), 0, 0);
    EXPECT_RC(syscall(SYS_futex, &w, FUTEX_WAKE_BITSET | FUTEX_PRIVATE_FLAG,
                      1, NULL, NULL, FUTEX_BITSET_MATCH_ANY), 0, 0);
    return 0;
}

/* ---------------------------------------------------------------------------
 * Joins
 * ------------------------------------------------------------------------- */
static void *exit_soon(void *p)
{
    sleep_ms(RELEASE_MS);
    return p;
}

static int c_join(void)
{
    pthread_t t;
    void *ret = NULL;
    SETUP_ERR(pthread_create(&t, NULL, exit_soon, (void *)42));
    object_is("thread %#lx", (unsigned long)t);
    EXPECT_ERR(pthread_join(t, &ret), 0);
    if (ret != (void *)42)
        FAILF("pthread_join: thread returned %p", ret);
    return 0;
}

/* A thread that outlives a timed join; released, then joined by main. */
static atomic_int g_gate_open;

static void *wait_gate(void *p)
{
    while (!atomic_load(&g_gate_open))
        sleep_ms(1);
    return p;
}

static void join_late(void *p)
{
    if (pthread_join(*(pthread_t *)p, NULL) != 0)
        abort();
    free(p);
}

static int timed_join(int use_clock)
{
    pthread_t *t = malloc(sizeof *t);
    if (!t)
        abort();
    atomic_store(&g_gate_open, 0);
    SETUP_ERR(pthread_create(t, NULL, wait_gate, NULL));
    object_is("thread %#lx", (unsigned long)*t);
    if (use_clock) {
        struct timespec ts = deadline(CLOCK_MONOTONIC, TIMEOUT_MS);
        EXPECT_ERR(pthread_clockjoin_np(*t, NULL, CLOCK_MONOTONIC, &ts),
                   ETIMEDOUT);
    } else {
        struct timespec ts = deadline(CLOCK_REALTIME, TIMEOUT_MS);
        EXPECT_ERR(pthread_timedjoin_np(*t, NULL, &ts), ETIMEDOUT);
    }
    atomic_store(&g_gate_open, 1);
    /* A helper does the final join, off the loop thread. */
    later(join_late, t, 0);
    return 0;
}

static int c_timedjoin(void) { return timed_join(0); }
static int c_clockjoin(void) { return timed_join(1); }

static int c11_exit_soon(void *arg)
{
    (void)arg;
    sleep_ms(RELEASE_MS);
    return 7;
}

static int c_thrd_join(void)
{
    thrd_t t;
    int res = 0;
    if (thrd_create(&t, c11_exit_soon, NULL) != thrd_success)
        FAILF("setup: thrd_create failed");
    object_is("thread %#lx", (unsigned long)t);
    EXPECT_ERR(thrd_join(t, &res), thrd_success);
    if (res != 7)
        FAILF("thrd_join: thread returned %d", res);
    return 0;
}

/* ---------------------------------------------------------------------------
 * Waits for a child: /bin/sleep 0.02 (or /bin/true), spawned; never a fork
 * of this process, whose copy of the loop thread would report in its own
 * log.
 * ------------------------------------------------------------------------- */
extern char **environ;

static pid_t spawn(const char *prog, const char *arg)
{
    pid_t pid;
    char *argv[] = {(char *)prog, (char *)arg, NULL};
    int err = posix_spawn(&pid, prog, NULL, NULL, argv, environ);
    if (err) {
        fprintf(stderr, "prog-calls: posix_spawn %s: %s\n", prog,
                strerror(err));
        return -1;
    }
    return pid;
}

/* Waits, without blocking, until pid has exited and waits to be reaped. */
static void until_zombie(pid_t pid)
{
    siginfo_t info;
    do {
        memset(&info, 0, sizeof info);
        if (waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT))
            return;
        sched_yield();
    } while (info.si_pid == 0);
}

static int c_waitpid(void)
{
    int st;
    pid_t pid = spawn("/bin/sleep", "0.02");
    SETUP(pid);
    object_is("child %d", (int)pid);
    EXPECT_RC(waitpid(pid, &st, 0), pid, 0);
    return 0;
}

static int c_wait_any(void)
{
    int st;
    pid_t pid = spawn("/bin/sleep", "0.02");
    SETUP(pid);
    object_is("child -1");
    EXPECT_RC(wait(&st), pid, 0);
    return 0;
}

static int c_wait4(void)
{
    int st;
    struct rusage ru;
    pid_t pid = spawn("/bin/sleep", "0.02");
    SETUP(pid);
    object_is("child %d", (int)pid);
    EXPECT_RC(wait4(pid, &st, 0, &ru), pid, 0);
    return 0;
}

static int c_waitid(void)
{
    siginfo_t info;
    pid_t pid = spawn("/bin/sleep", "0.02");
    SETUP(pid);
    object_is("child %d", (int)pid);
    EXPECT_RC(waitid(P_PID, (id_t)pid, &info, WEXITED), 0, 0);
    return 0;
}

static int c_system(void)
{
    object_is("child -1");
    EXPECT_RC(system("exit 3"), 3 << 8, 0);
    return 0;
}

/* WNOHANG: never waits; polled until the child is reaped. */
static int c_waitpid_wnohang(void)
{
    int st;
    pid_t pid = spawn("/bin/sleep", "0.02"), r;
    SETUP(pid);
    while ((r = waitpid(pid, &st, WNOHANG)) == 0)
        sched_yield();
    EXPECT_RC(r, pid, 0);
    return 0;
}

/* The child has exited already (as in a SIGCHLD handler): no wait. */
static int c_waitpid_ready(void)
{
    int st;
    pid_t pid = spawn("/bin/true", NULL);
    SETUP(pid);
    until_zombie(pid);
    EXPECT_RC(waitpid(pid, &st, 0), pid, 0);
    return 0;
}

static int c_wait_nochild(void)
{
    EXPECT_RC(wait(NULL), -1, ECHILD);
    return 0;
}

/* ---------------------------------------------------------------------------
 * Sleeps
 * ------------------------------------------------------------------------- */
static int c_sleep(void)
{
    object_is("null");
    EXPECT_RC(sleep(1), 0, 0);
    return 0;
}

static int c_usleep(void)
{
    object_is("null");
    EXPECT_RC(usleep(RELEASE_MS * 1000), 0, 0);
    return 0;
}

static int c_nanosleep(void)
{
    struct timespec ts = {0, RELEASE_MS * 1000000L};
    object_is("null");
    EXPECT_RC(nanosleep(&ts, NULL), 0, 0);
    return 0;
}

static int c_clock_nanosleep(void)
{
    struct timespec ts = {0, RELEASE_MS * 1000000L};
    object_is("null");
    EXPECT_ERR(clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL), 0);
    return 0;
}

static int c_clock_nanosleep_abs(void)
{
    struct timespec ts = deadline(CLOCK_MONOTONIC, RELEASE_MS);
    object_is("null");
    EXPECT_ERR(clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL),
               0);
    return 0;
}

static int c_thrd_sleep(void)
{
    struct timespec ts = {0, RELEASE_MS * 1000000L};
    object_is("null");
    EXPECT_ERR(thrd_sleep(&ts, NULL), 0);
    return 0;
}

static int c_nanosleep_zero(void)
{
    struct timespec ts = {0, 0};
    EXPECT_RC(nanosleep(&ts, NULL), 0, 0);
    return 0;
}

static int c_sleeps_zero(void)
{
    struct timespec ts = {0, 0};
    EXPECT_RC(sleep(0), 0, 0);
    EXPECT_RC(usleep(0), 0, 0);
    EXPECT_ERR(clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL), 0);
    EXPECT_ERR(thrd_sleep(&ts, NULL), 0);
    return 0;
}

static int c_clock_nanosleep_past(void)
{
    struct timespec ts = deadline(CLOCK_MONOTONIC, -1000);
    EXPECT_ERR(clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL),
               0);
    return 0;
}

/* ---------------------------------------------------------------------------
 * Polls: a pipe a helper writes 20 ms later, polled with a 500 ms timeout
 * (the write must come first, even on a loaded machine). The epoll cases
 * use an epoll fd of their own: never the loop's.
 * ------------------------------------------------------------------------- */
int __poll_chk(struct pollfd *fds, nfds_t n, int ms, size_t fdslen);
int __ppoll_chk(struct pollfd *fds, nfds_t n, const struct timespec *ts,
                const sigset_t *mask, size_t fdslen);

#define POLL_MS 500

/* Sets up a pipe the helper writes into later (or never, for `quiet`). */
static int poll_pipe(int p[2], int quiet)
{
    if (pipe(p) != 0)
        return -1;
    if (!quiet)
        later(write_byte, (void *)(intptr_t)p[1], RELEASE_MS);
    return 0;
}

#define POLL_CASE(name, quiet, want, call)                                    \
    static int c_##name(void)                                                 \
    {                                                                         \
        int p[2];                                                             \
        SETUP(poll_pipe(p, quiet));                                           \
        struct pollfd pfd = {.fd = p[0], .events = POLLIN};                   \
        struct timespec ts = {0, (quiet) ? 0 : POLL_MS * 1000000L};           \
        struct timeval tv = {0, (quiet) ? 0 : POLL_MS * 1000};                \
        fd_set rd;                                                            \
        FD_ZERO(&rd);                                                         \
        FD_SET(p[0], &rd);                                                    \
        (void)pfd, (void)ts, (void)tv;                                        \
        object_is("null");                                                    \
        EXPECT_RC(call, want, 0);                                             \
        close(p[0]);                                                          \
        close(p[1]);                                                          \
        return 0;                                                             \
    }

POLL_CASE(poll, 0, 1, poll(&pfd, 1, POLL_MS))
POLL_CASE(poll_chk, 0, 1, __poll_chk(&pfd, 1, POLL_MS, sizeof pfd))
POLL_CASE(ppoll, 0, 1, ppoll(&pfd, 1, &ts, NULL))
POLL_CASE(ppoll_chk, 0, 1, __ppoll_chk(&pfd, 1, &ts, NULL, sizeof pfd))
POLL_CASE(select, 0, 1, select(p[0] + 1, &rd, NULL, NULL, &tv))
POLL_CASE(pselect, 0, 1, pselect(p[0] + 1, &rd, NULL, NULL, &ts, NULL))
/* never reported: a zero timeout */
POLL_CASE(poll_zero, 1, 0, poll(&pfd, 1, 0))
POLL_CASE(select_zero, 1, 0, select(p[0] + 1, &rd, NULL, NULL, &tv))

#define EPOLL_CASE(name, quiet, want, call)                                   \
    static int c_##name(void)                                                 \
    {                                                                         \
        int p[2];                                                             \
        SETUP(poll_pipe(p, quiet));                                           \
        int ep = epoll_create1(EPOLL_CLOEXEC);                                \
        struct epoll_event ev = {.events = EPOLLIN};                          \
        struct timespec ts = {0, POLL_MS * 1000000L};                         \
        (void)ts;                                                             \
        SETUP(ep < 0 ? -1 : epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev));         \
        object_is("epoll fd %d", ep);                                         \
        EXPECT_RC(call, want, 0);                                             \
        close(ep);                                                            \
        close(p[0]);                                                          \
        close(p[1]);                                                          \
        return 0;                                                             \
    }

EPOLL_CASE(epoll_wait, 0, 1, epoll_wait(ep, &ev, 1, POLL_MS))
EPOLL_CASE(epoll_pwait, 0, 1, epoll_pwait(ep, &ev, 1, POLL_MS, NULL))
EPOLL_CASE(epoll_pwait2, 0, 1, epoll_pwait2(ep, &ev, 1, &ts, NULL))
EPOLL_CASE(epoll_wait_zero, 1, 0, epoll_wait(ep, &ev, 1, 0))

/* ---------------------------------------------------------------------------
 * Driver
 * ------------------------------------------------------------------------- */
static const struct {
    const char *name;
    int (*fn)(void);
} cases[] = {
#define C(n) {#n, c_##n}
    C(cond_wait), C(cond_wait_225), C(cond_timedwait),
    C(cond_timedwait_225), C(cond_timedwait_mono), C(cond_clockwait),
    C(cnd_wait), C(cnd_timedwait), C(uv_cond_wait), C(uv_cond_timedwait),
    C(uv_sem_wait),
    C(sem_wait), C(sem_timedwait), C(sem_clockwait),
    C(read_pipe), C(read_chk), C(readv_pipe), C(read_eventfd), C(recv_sock),
    C(recvfrom_sock), C(recvmsg_sock), C(recvmmsg_sock), C(recv_chk),
    C(recvmsg_netlink), C(recvmsg_netlink_answer),
    C(recvfrom_chk),
    C(mq_receive), C(mq_timedreceive), C(msgrcv),
    C(futex_wait), C(futex_wait_timed), C(futex_wait_realtime),
    C(futex_wait_rel),
    C(join), C(timedjoin), C(clockjoin), C(thrd_join),
    C(waitpid), C(wait_any), C(wait4), C(waitid), C(system),
    C(sleep), C(usleep), C(nanosleep), C(clock_nanosleep),
    C(clock_nanosleep_abs), C(thrd_sleep),
    C(poll), C(poll_chk), C(ppoll), C(ppoll_chk), C(select), C(pselect),
    C(epoll_wait), C(epoll_pwait), C(epoll_pwait2),
    /* never reported */
    C(poll_zero), C(select_zero), C(epoll_wait_zero),
    C(read_nonblock), C(recv_dontwait), C(recv_nonblock), C(read_file),
    C(read_devnull), C(msgrcv_nowait), C(mq_nonblock), C(nanosleep_zero),
    C(sleeps_zero), C(clock_nanosleep_past), C(cond_timedwait_past),
    C(sem_timedwait_past), C(futex_wake), C(cond_timedwait_mono_past),
    C(read_eventfd_nonblock), C(recvmsg_dontwait), C(recvmmsg_dontwait),
    C(futex_wait_past), C(waitpid_wnohang), C(waitpid_ready),
    C(wait_nochild),
    /* reported at some call sites only */
    C(fcntl_toggle), C(fcntl64_toggle), C(fionbio_toggle), C(dup2_over),
    C(dup3_over), C(close_reuse), C(close_range_reuse), C(dup_setfl),
    C(two_callers),
#undef C
};

static int (*g_fn)(void);
static atomic_int g_failed;

static void run_case(void)
{
    if (g_fn() != 0)
        atomic_store(&g_failed, 1);
}

/* The libuv timer callback: the case runs on the loop thread. Its name is
 * what the test looks for in the reported stack. */
SITE
static void on_loop_timer(uv_timer_t *t)
{
    run_case();
    uv_close((uv_handle_t *)t, NULL);
}

static void on_idle_timer(uv_timer_t *t)
{
    uv_close((uv_handle_t *)t, NULL);
}

/* Runs a loop with one 0 ms timer calling cb, until nothing is left.
 * `say` prints the loop's address, which reports must give as loop.id.
 * UV_RUN_ONCE and UV_RUN_NOWAIT are called repeatedly: each call enters
 * and leaves the loop. */
static int run_loop(uv_timer_cb cb, uv_run_mode mode, int say)
{
    uv_loop_t loop;
    uv_timer_t t;
    int err = uv_loop_init(&loop);
    if (!err)
        err = uv_timer_init(&loop, &t);
    if (!err)
        err = uv_timer_start(&t, cb, 0, 0);
    if (!err && say) {
        printf("loop: %p\n", (void *)&loop);
        fflush(stdout);
    }
    if (!err) {
        if (mode == UV_RUN_DEFAULT)
            err = uv_run(&loop, mode);
        else
            while (uv_run(&loop, mode) != 0)
                ;
    }
    if (!err)
        err = uv_loop_close(&loop);
    if (err) {
        fprintf(stderr, "prog-calls: libuv: %s\n", uv_strerror(err));
        return -1;
    }
    return 0;
}

/* WHERE=nested: a loop run to completion (UV_RUN_ONCE) inside a callback
 * of another loop (run with UV_RUN_NOWAIT); once it returns, the thread is
 * on the outer loop only, and the report must name that one. */
SITE
static void on_nested_timer(uv_timer_t *t)
{
    if (run_loop(on_idle_timer, UV_RUN_ONCE, 0) < 0)
        atomic_store(&g_failed, 1);
    run_case();
    uv_close((uv_handle_t *)t, NULL);
}

/* WHERE=thread: the loop runs in a thread of its own, with a name. */
SITE
static void *loop_thread_main(void *p)
{
    (void)p;
    pthread_setname_np(pthread_self(), "lg-loop-thr");
    if (run_loop(on_loop_timer, UV_RUN_DEFAULT, 1) < 0)
        atomic_store(&g_failed, 1);
    return NULL;
}

static void *off_thread(void *p)
{
    (void)p;
    run_case();
    return NULL;
}

/* WHERE=manual: the case runs between lg_loop_enter and lg_loop_leave,
 * found at run time: the preload brings libloopguard.so into the process,
 * and this program must not link it. */
SITE
static int run_manual(void)
{
    static int id;
    void *pe = dlsym(RTLD_DEFAULT, "lg_loop_enter");
    void *pl = dlsym(RTLD_DEFAULT, "lg_loop_leave");
    /* Typed from loopguard.h; taking the type links nothing. */
    __typeof__(&lg_loop_enter) enter;
    __typeof__(&lg_loop_leave) leave;
    if (!pe || !pl) {
        fprintf(stderr, "prog-calls: lg_loop_enter not found (no "
                        "preload?)\n");
        return -1;
    }
    memcpy(&enter, &pe, sizeof pe);
    memcpy(&leave, &pl, sizeof pl);
    printf("loop: %p\n", (void *)&id);
    fflush(stdout);
    if (enter("manual", &id) != 0)
        return -1;
    run_case();
    if (leave() != 0)
        return -1;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: prog-calls loop|off|thread|nested|manual "
                        "CASE\n");
        return 2;
    }
    g_where = argv[1];
    g_case = argv[2];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (strcmp(cases[i].name, g_case) == 0)
            g_fn = cases[i].fn;
    if (!g_fn) {
        fprintf(stderr, "prog-calls: unknown case %s\n", g_case);
        return 2;
    }

    pthread_t t;
    if (strcmp(g_where, "loop") == 0) {
        if (run_loop(on_loop_timer, UV_RUN_DEFAULT, 1) < 0)
            return 1;
    } else if (strcmp(g_where, "off") == 0) {
        /* Before any loop, in a thread that never runs one (the cases that
         * rely on fd numbers need this to be sequential), and after the
         * loop returned: never a loop thread. */
        run_case();
        if (pthread_create(&t, NULL, off_thread, NULL) != 0
            || pthread_join(t, NULL) != 0)
            return 1;
        if (run_loop(on_idle_timer, UV_RUN_DEFAULT, 0) < 0)
            return 1;
        run_case();
    } else if (strcmp(g_where, "thread") == 0) {
        if (pthread_create(&t, NULL, loop_thread_main, NULL) != 0
            || pthread_join(t, NULL) != 0)
            return 1;
    } else if (strcmp(g_where, "nested") == 0) {
        if (run_loop(on_nested_timer, UV_RUN_NOWAIT, 1) < 0)
            return 1;
    } else if (strcmp(g_where, "manual") == 0) {
        if (run_manual() != 0)
            return 1;
    } else {
        fprintf(stderr, "prog-calls: unknown WHERE %s\n", g_where);
        return 2;
    }
    if (join_helpers() != 0)
        return 1;
    return atomic_load(&g_failed);
}

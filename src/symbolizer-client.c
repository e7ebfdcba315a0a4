/* The host's end of loopguard-symbolizer, the process that reads DWARF
 * (docs/internals.md, "Source lines"). The host must not see it:
 *
 * - Not the host's child. The host clones an intermediate with exit
 *   signal 0, which clones the helper (which execs) and exits; the helper,
 *   orphaned, belongs to init (or the nearest subreaper above the host).
 *   An exit signal of 0 sends no SIGCHLD, and wait(), waitpid(-1, .., 0)
 *   and waitid(P_ALL) never pick such a child (only __WALL or __WCLONE
 *   do); we reap the intermediate by its pid at once. A host that is a
 *   subreaper itself (or pid 1: a container's program) would get the
 *   orphan back, and exec gives every process the exit signal SIGCHLD:
 *   there the intermediate stays, as the helper's parent (a "keeper",
 *   which never execs, so its exit signal stays 0), and reaps it.
 * - The clones share the host's memory (CLONE_VM, as posix_spawn does),
 *   start with every signal blocked, and make raw system calls only: none
 *   of the host's handlers or of our wrappers runs there.
 * - Its own session (setsid): the terminal's ^C and the host's kill(0, ..)
 *   do not reach it. It dies when our end of the socket pair closes: when
 *   the host exits, however it exits.
 * - Our one descriptor is close-on-exec, kept high, closed in fork children
 *   (lg__symc_fork_child), and checked by identity before each use: a host
 *   that closed it (closefrom) and reused the number keeps its file.
 * - Every wait is bounded by the caller's deadline; a helper that is
 *   missing, fails its hello or dies again and again is said once on
 *   stderr, and reports go on without file:line. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lg-internal.h"
#include "symbolizer.h"

#define HELPER_NAME "loopguard-symbolizer"
#define HIGH_FD 900           /* where our descriptor goes (the log's is
                                 at 800 and up) */
#define MAX_SPAWNS 3          /* helpers started per process, at most */
#define STACK_SIZE 16384      /* for each clone, until it execs */
#define PATH_BUF 4096
#define IN_CAP (2 * LG__SYMP_ANSWER_MAX)
#define OUT_CAP 16384

struct batch {
    uint32_t first;           /* id of q[0] */
    int n;
    struct lg__srcq q[LG__SYMC_BATCH];
};

/* What the clones need, in memory they share with us. */
struct spawn {
    char path[PATH_BUF];
    char pid_arg[24];
    char *argv[3];
    char *envp[1];
    int child_fd;             /* the helper's end of the pair */
    int keeper;               /* the intermediate stays: a subreaper host */
    int err;                  /* errno of a failed step, else 0 */
    pid_t pid;                /* the helper's */
    int started;              /* atomic, keeper only: 1 once the helper
                                 runs, 2 when it could not be started */
    pid_t c_tid;              /* the keeper's tid while it runs: set by
                                 CLONE_PARENT_SETTID, cleared by the
                                 kernel at its exit (CLONE_CHILD_CLEARTID):
                                 stack is in use until then */
    int (*clone_fn)(int (*)(void *), void *, int, void *, ...);
    char *gstack;             /* the helper's stack, until it execs */
};

/* A helper and our end of its socket. The program's threads use one whose
 * end is in the program's descriptor table. The watchdog out of that
 * table (watchdog-fds.c) borrows it when there is one, and otherwise
 * starts one of its own, its end in the watchdog's table: it makes no
 * descriptor in the program's table, where it would take a number the
 * program is about to get back (POSIX gives the lowest free one). */
struct conn {
    int sock;                 /* our end, or -1 */
    dev_t dev;                /* its identity: the host may close it */
    ino_t ino;
    pid_t pid;                /* the process that started the helper */
    pid_t owner;              /* own: the watchdog thread whose table
                                 holds sock */
    pid_t helper;             /* its pid */
    pid_t keeper;             /* a keeper of ours, to reap once it exits */
    int spawns;               /* helpers started, for this end */
    char in[IN_CAP];          /* answers read, not yet parsed */
    size_t in_len;
    struct spawn sp;
    char stack[STACK_SIZE] __attribute__((aligned(16)));
                              /* the intermediate's: a keeper's as long as
                                 it runs */
    char gstack[STACK_SIZE] __attribute__((aligned(16)));
                              /* the helper's, until it execs */
};

/* Everything below is guarded by `lock`. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct conn prog = {.sock = -1};
static struct conn own = {.sock = -1};  /* the watchdog's, in its table */
static struct conn *c = &prog;          /* the one this exchange uses */
static int io = -1;           /* what this exchange reads and writes:
                                 c->sock, or the watchdog's copy of it */
static int warned;            /* the one line on stderr was said */
static uint32_t next_id;
static struct batch cur, prev;
static char out[OUT_CAP];     /* requests not yet sent */
static struct lg__symp_answer ans;

void lg__symc_init(void)
{
    lg__lock_register(&lock);
}

/* ---- the clones: raw system calls only, on their own stacks ----------- */

#define NO_SAN __attribute__((no_sanitize("address", "undefined")))

/* Neither libc's wrappers (errno is the suspended thread's) nor ours
 * (which keep the host's descriptor tables, in memory shared with us). */
NO_SAN static long raw4(long nr, long a, long b, long c, long d)
{
#if defined(__x86_64__)
    long r;
    register long r10 __asm__("r10") = d;
    __asm__ volatile("syscall"
                     : "=a"(r)
                     : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10)
                     : "rcx", "r11", "memory");
    return r;
#else
    long r = syscall(nr, a, b, c, d);
    return r < 0 ? -errno : r;
#endif
}

/* fd 0: the pair's end; 1 and 2: /dev/null; nothing else open. The
 * pair's end is high (never 0..2); /dev/null is opened once 0 is taken,
 * so it lands on 1 or 2 (a host may have closed them) or above. */
NO_SAN static int child_fds(struct spawn *s)
{
    if (raw4(SYS_dup3, s->child_fd, 0, 0, 0) < 0)
        return -1;
    long null = raw4(SYS_openat, AT_FDCWD, (long)"/dev/null", O_RDWR, 0);
    for (long fd = 1; null >= 0 && fd <= 2; fd++)
        if (null != fd)
            raw4(SYS_dup3, null, fd, 0, 0);
    if (raw4(SYS_close_range, 3, ~0L, 0, 0) < 0)
        for (long fd = 3; fd < 65536; fd++)   /* kernels before 5.9 */
            raw4(SYS_fcntl, fd, F_SETFD, FD_CLOEXEC, 0);
    return 0;
}

NO_SAN static int exec_helper(void *arg)
{
    struct spawn *s = arg;
    raw4(SYS_setsid, 0, 0, 0, 0);
    long r = raw4(SYS_execve, (long)s->path, (long)s->argv, (long)s->envp,
                  0);
    s->err = (int)-r;
    return 127;
}

/* The intermediate: clones the helper, which shares its memory until it
 * execs (CLONE_VFORK), then exits; or, as a keeper, tells the host the
 * helper runs, closes its descriptors and waits for the helper to exit,
 * to reap it. */
NO_SAN static int intermediate(void *arg)
{
    struct spawn *s = arg;
    int keep = s->keeper;
    if (keep)
        raw4(SYS_setsid, 0, 0, 0, 0);
    int pid = -1;
    if (child_fds(s) != 0)
        s->err = EBADF;
    else
        pid = s->clone_fn(exec_helper, s->gstack + STACK_SIZE,
                          CLONE_VM | CLONE_VFORK | SIGCHLD, s);
    if (pid < 0 && !s->err)
        s->err = EAGAIN;
    s->pid = pid;
    if (!keep)
        return 0;
    __atomic_store_n(&s->started, s->err ? 2 : 1, __ATOMIC_RELEASE);
    /* s is the host's again: only this stack is ours from here. */
    raw4(SYS_close_range, 0, ~0L, 0, 0);
    while (pid > 0 && raw4(SYS_wait4, pid, 0, 0, 0) == -EINTR)
        ;
    return 0;
}

/* ---- the host's side ----------------------------------------------------- */

static void say(const char *what, const char *path, int err)
{
    if (warned)
        return;
    warned = 1;
    char msg[PATH_BUF + 256];
    struct lg__buf b;
    lg__buf_init(&b, msg, sizeof msg);
    lg__buf_str(&b, "loopguard: symbolizer ");
    lg__buf_str(&b, path);
    lg__buf_str(&b, ": ");
    lg__buf_str(&b, what);
    if (err > 0 && strerrordesc_np(err)) {
        lg__buf_str(&b, ": ");
        lg__buf_str(&b, strerrordesc_np(err));
    }
    lg__buf_str(&b, "; frames are shown without file:line\n");
    /* The watchdog's 2 is its own /dev/null: the program's stderr. */
    int fd = lg__wdfd_borrow(2);
    if (fd >= 0)
        (void)!write(fd, b.p, b.len);
    lg__wdfd_return(fd);
}

/* The helper is beside libloopguard.so, as the preload finds that. */
static int helper_path(char *out, size_t cap)
{
    if (lg__maps_path((uintptr_t)&lg__symc_init, out, cap) != 0)
        return -1;
    char *slash = strrchr(out, '/');
    if (!slash || (size_t)(slash - out) + sizeof HELPER_NAME + 1 > cap)
        return -1;
    memcpy(slash + 1, HELPER_NAME, sizeof HELPER_NAME);
    return 0;
}

/* Drops the helper: our end closes, and it then exits (its keeper, if
 * any, with it: reaped before the next one starts). */
static void forget(void)
{
    if (c->sock >= 0 && c->pid == getpid())
        close(c->sock);
    c->sock = -1;
    c->helper = 0;
    c->in_len = 0;
    cur.n = prev.n = 0;
}

/* Our descriptor is still ours: the host did not close it behind our back
 * (and maybe reuse the number), and this is the process that made it. */
static int sock_ok(void)
{
    struct stat st;
    if (c->sock < 0)
        return 0;
    if (c->pid != getpid() || fstat(c->sock, &st) != 0 ||
        st.st_dev != c->dev || st.st_ino != c->ino) {
        if (c->pid != getpid())
            close(c->sock);   /* a copy a fork without atfork left */
        c->sock = -1;
        forget();
        return 0;
    }
    return 1;
}

/* Whether an orphan of ours would come back to us: then the helper needs
 * a keeper (above). */
static int is_subreaper(void)
{
    int on = 0;
    return getpid() == 1 ||
           (prctl(PR_GET_CHILD_SUBREAPER, (unsigned long)&on, 0, 0, 0) == 0 &&
            on);
}

/* Waits until a keeper of ours is gone (it no longer uses c->stack), and
 * reaps it. 0, or -1 when it is still there at the deadline. */
static int keeper_gone(uint64_t deadline)
{
    struct timespec nap = {0, 200000};
    while (__atomic_load_n(&c->sp.c_tid, __ATOMIC_ACQUIRE)) {
        if (lg__now_ns() >= deadline)
            return -1;
        nanosleep(&nap, NULL);
    }
    /* Gone from our memory; a zombie at once or in a moment. */
    while (c->keeper > 0 && waitpid(c->keeper, NULL, __WCLONE) < 0 &&
           errno == EINTR)
        ;
    c->keeper = 0;
    return 0;
}

/* Clones the intermediate; reaps it, or waits until the helper it keeps
 * runs. Every signal is blocked in this thread meanwhile, so the clones
 * start with all blocked: no handler of the host runs in them (the helper
 * resets them all once it runs). */
static int start_clones(uint64_t deadline)
{
    struct timespec nap = {0, 100000};
    sigset_t all, old;
    if (keeper_gone(deadline) != 0)
        return -EBUSY;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    c->sp.err = 0;
    c->sp.pid = -1;
    c->sp.started = 0;
    c->sp.clone_fn = clone;
    c->sp.gstack = c->gstack;
    int child;
    if (c->sp.keeper) {
        child = clone(intermediate, c->stack + STACK_SIZE,
                      CLONE_VM | CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID,
                      &c->sp, &c->sp.c_tid, NULL, &c->sp.c_tid);
    } else {
        child = clone(intermediate, c->stack + STACK_SIZE,
                      CLONE_VM | CLONE_VFORK, &c->sp);
        while (child > 0 && waitpid(child, NULL, __WCLONE) < 0 &&
               errno == EINTR)
            ;
    }
    int err = child < 0 ? errno : 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (child < 0)
        return -err;
    if (c->sp.keeper) {
        c->keeper = child;
        while (!__atomic_load_n(&c->sp.started, __ATOMIC_ACQUIRE)) {
            if (lg__now_ns() >= deadline)
                return -ETIMEDOUT;
            nanosleep(&nap, NULL);
        }
    }
    if (c->sp.err)
        return -c->sp.err;
    c->helper = c->sp.pid;
    return 0;
}

static int wait_readable(uint64_t deadline)
{
    uint64_t now = lg__now_ns();
    if (now >= deadline)
        return 0;
    struct pollfd p = {.fd = io, .events = POLLIN};
    int ms = (int)((deadline - now + 999999) / 1000000);
    int r = poll(&p, 1, ms);
    return r > 0 ? 1 : r < 0 && errno == EINTR ? 0 : r;
}

/* Reads what the helper sent; -1 when it is gone. */
static int read_some(void)
{
    ssize_t r = recv(io, c->in + c->in_len, sizeof c->in - c->in_len,
                     MSG_DONTWAIT);
    if (r > 0) {
        c->in_len += (size_t)r;
        return 1;
    }
    if (r < 0 && (errno == EAGAIN || errno == EINTR))
        return 0;
    return -1;
}

static int hello(uint64_t deadline)
{
    for (;;) {
        long k = lg__symp_parse_hello(c->in, c->in_len);
        if (k > 0) {
            c->in_len -= (size_t)k;
            memmove(c->in, c->in + k, c->in_len);
            return 0;
        }
        if (k < 0 || wait_readable(deadline) < 0 || lg__now_ns() >= deadline
            || read_some() < 0)
            return -1;
    }
}

static void spawn(uint64_t deadline)
{
    if (c->spawns >= MAX_SPAWNS) {
        say("exited again and again",
            c->sp.path[0] ? c->sp.path : HELPER_NAME, 0);
        return;
    }
    c->spawns++;
    if (helper_path(c->sp.path, sizeof c->sp.path) != 0) {
        say("cannot be found", HELPER_NAME, 0);
        c->spawns = MAX_SPAWNS;
        return;
    }
    if (access(c->sp.path, X_OK) != 0) {
        say("cannot be run", c->sp.path, errno);
        c->spawns = MAX_SPAWNS;
        return;
    }
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        return;
    /* Both ends high: clear of 0..2 (which a host may have closed, and
     * the helper's ends go to) and of the numbers hosts dup2 onto. */
    for (int i = 0; i < 2; i++) {
        int high = fcntl(sv[i], F_DUPFD_CLOEXEC, HIGH_FD);
        if (high < 0)         /* RLIMIT_NOFILE below HIGH_FD */
            high = fcntl(sv[i], F_DUPFD_CLOEXEC, 3);
        if (high >= 0) {
            close(sv[i]);
            sv[i] = high;
        }
    }
    struct lg__buf b;
    lg__buf_init(&b, c->sp.pid_arg, sizeof c->sp.pid_arg);
    lg__buf_i64(&b, getpid());
    c->sp.argv[0] = HELPER_NAME;
    c->sp.argv[1] = c->sp.pid_arg;
    c->sp.argv[2] = NULL;
    c->sp.envp[0] = NULL;        /* no LD_PRELOAD, no DEBUGINFOD_URLS */
    c->sp.child_fd = sv[1];
    c->sp.keeper = is_subreaper();
    int r = start_clones(deadline);
    close(sv[1]);
    struct stat st;
    if (r != 0 || fstat(sv[0], &st) != 0) {
        close(sv[0]);
        say("cannot be started", c->sp.path, -r);
        return;
    }
    c->sock = io = sv[0];
    c->dev = st.st_dev;
    c->ino = st.st_ino;
    c->pid = getpid();
    c->owner = lg__gettid();
    c->in_len = 0;
    if (hello(deadline) != 0) {
        say("did not answer", c->sp.path, 0);
        forget();
        c->spawns = MAX_SPAWNS;  /* not ours, or broken: do not retry */
    }
}

static void deliver(lg__srcq_cb cb, int *answered)
{
    const struct batch *b = NULL;
    if (ans.id - cur.first < (uint32_t)cur.n)
        b = &cur;
    else if (ans.id - prev.first < (uint32_t)prev.n)
        b = &prev;            /* late: its wait is over, the answer good */
    if (!b)
        return;
    cb(&b->q[ans.id - b->first], &ans);
    if (b == &cur)
        ++*answered;
}

/* Parses the answers in c->in[]; -1 on a malformed one. */
static int parse_all(lg__srcq_cb cb, int *answered)
{
    size_t at = 0;
    long k;
    while ((k = lg__symp_parse_answer(c->in + at, c->in_len - at, &ans)) >
           0) {
        at += (size_t)k;
        deliver(cb, answered);
    }
    c->in_len -= at;
    memmove(c->in, c->in + at, c->in_len);
    return k < 0 || c->in_len == sizeof c->in ? -1 : 0;
}

/* Sends cur's requests and collects answers until all came or the
 * deadline. Returns the number answered, -1 when the helper is gone. */
static int exchange(uint64_t deadline, lg__srcq_cb cb)
{
    int next = 0, answered = 0;
    size_t out_len = 0, out_at = 0;
    while (answered < cur.n) {
        if (out_at == out_len) {
            out_len = out_at = 0;
            for (; next < cur.n; next++) {
                const struct lg__srcq *q = &cur.q[next];
                if (lg__symp_put_request(out, sizeof out, &out_len,
                                         cur.first + (uint32_t)next, q->addr,
                                         q->path) != 0) {
                    if (!strchr(q->path, '\n') && out_len)
                        break;        /* full: send these first */
                    answered++;       /* cannot be asked */
                }
            }
        }
        uint64_t now = lg__now_ns();
        if (now >= deadline)
            break;
        struct pollfd p = {.fd = io, .events = POLLIN};
        if (out_at < out_len)
            p.events |= POLLOUT;
        int r = poll(&p, 1, (int)((deadline - now + 999999) / 1000000));
        if (r < 0 && errno != EINTR)
            return -1;
        if (r <= 0)
            continue;
        if (p.revents & POLLOUT) {
            ssize_t w = send(io, out + out_at, out_len - out_at,
                             MSG_DONTWAIT | MSG_NOSIGNAL);
            if (w < 0 && errno != EAGAIN && errno != EINTR)
                return -1;
            out_at += w > 0 ? (size_t)w : 0;
        }
        if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
            if (read_some() < 0 || parse_all(cb, &answered) < 0)
                return -1;
        }
    }
    return answered;
}

/* pthread_mutex_timedlock takes CLOCK_REALTIME; the deadline is on the
 * monotonic clock. */
static int lock_until(uint64_t deadline)
{
    uint64_t now = lg__now_ns();
    if (now >= deadline)
        return pthread_mutex_trylock(&lock) == 0;
    uint64_t abs = lg__wall_ns() + (deadline - now);
    struct timespec ts = {(time_t)(abs / 1000000000),
                          (long)(abs % 1000000000)};
    return pthread_mutex_timedlock(&lock, &ts) == 0;
}

struct lg__srcq *lg__symc_begin(uint64_t deadline_ns)
{
    if (!lock_until(deadline_ns))
        return NULL;
    prev = cur;               /* its answers may still come */
    cur.n = 0;
    return cur.q;
}

/* Whether the helper is still there: it may have died since the last
 * batch (what it sent meanwhile, late answers, is kept in c->in[]). */
static int alive(void)
{
    struct pollfd p = {.fd = io, .events = POLLIN};
    if (poll(&p, 1, 0) <= 0)
        return 1;
    return !(p.revents & (POLLHUP | POLLERR | POLLNVAL)) &&
           (!(p.revents & POLLIN) || read_some() >= 0);
}

/* The connection this exchange uses. Each keeps what its helper sent and
 * was not parsed yet (an answer cut at a deadline goes on in the next
 * exchange); the previous batch, whose late answers are delivered, is the
 * last exchange's, on whichever connection. */
static void use(struct conn *to)
{
    static struct conn *last = &prog;
    c = to;
    if (last != to) {
        last = to;
        prev.n = 0;
    }
    io = c->sock;
}

/* The watchdog out of the program's descriptor table (watchdog-fds.c)
 * asks the helper the program's threads use, through a copy of our end
 * taken for the exchange; it drops none: a helper that is gone or answers
 * wrong is the program threads' to replace. -2 when there is none to
 * borrow. */
static int finish_borrowed(int n, uint64_t deadline_ns, lg__srcq_cb cb)
{
    struct stat st;
    int r = -2;
    if (prog.sock < 0 || prog.pid != getpid())
        return r;
    use(&prog);
    io = lg__wdfd_borrow(prog.sock);
    if (io >= 0 && fstat(io, &st) == 0 && st.st_dev == prog.dev &&
        st.st_ino == prog.ino) {
        cur.first = next_id;
        cur.n = n < LG__SYMC_BATCH ? n : LG__SYMC_BATCH;
        next_id += (uint32_t)cur.n;
        r = exchange(deadline_ns, cb);
    }
    lg__wdfd_return(io);
    io = -1;
    return r;
}

/* A helper that is gone is dropped, and one started if none runs. */
static void helper_ready(uint64_t deadline)
{
    /* Another watchdog's, in a table that is gone or not ours. */
    if (c == &own && own.owner != lg__gettid())
        own.sock = -1;
    if (sock_ok() && !alive())
        forget();
    if (c->sock < 0)
        spawn(deadline);
}

int lg__symc_finish(int n, uint64_t deadline_ns, lg__srcq_cb cb)
{
    int saved = errno;
    int r = -1;
    struct conn *to = n > 0 ? &prog : NULL;
    if (n > 0 && lg__tls.fd_private) {
        r = finish_borrowed(n, deadline_ns, cb);
        to = r == -2 ? &own : NULL;
        if (r != -2 && own.sock >= 0) {
            use(&own);        /* the program has one now: ours goes */
            forget();
        }
    }
    if (to) {
        use(to);
        helper_ready(deadline_ns);
        r = -1;
        if (c->sock >= 0) {
            cur.first = next_id;
            cur.n = n < LG__SYMC_BATCH ? n : LG__SYMC_BATCH;
            next_id += (uint32_t)cur.n;
            r = exchange(deadline_ns, cb);
            if (r < 0)
                forget();     /* the next batch starts another */
        }
    }
    use(&prog);
    pthread_mutex_unlock(&lock);
    errno = saved;
    return r;
}

/* The watchdog leaves, its table with it: the helper it started goes
 * (our end closes), and the next watchdog may start another. */
void lg__symc_watchdog_exit(void)
{
    if (!lg__tls.fd_private)
        return;
    pthread_mutex_lock(&lock);
    /* A successor may have started its own already (this one was leaving
     * a process down to one thread when another came): that is not ours
     * to close. */
    if (own.sock >= 0 && own.owner == lg__gettid()) {
        use(&own);
        forget();
        own.spawns = 0;       /* it did its job: no failure to count */
    }
    use(&prog);
    pthread_mutex_unlock(&lock);
}

/* The child of a fork has a copy of our descriptor: it must not share the
 * parent's helper (their answers would cross), nor keep the helper alive
 * after the parent. Its own starts when it first needs one. The
 * watchdog's end was in the watchdog's table, which the child has not. */
void lg__symc_fork_child(void)
{
    if (prog.sock >= 0)
        close(prog.sock);
    for (int i = 0; i < 2; i++) {
        struct conn *k = i ? &own : &prog;
        k->sock = -1;
        k->helper = 0;
        k->keeper = 0;        /* the parent's, as its stack is */
        k->sp.c_tid = 0;
        k->spawns = 0;
    }
    c = &prog;
    io = -1;
    prog.in_len = own.in_len = 0;
    cur.n = prev.n = 0;
}

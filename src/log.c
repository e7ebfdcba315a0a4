/* Where reports go. One write(2) per record: records up to PIPE_BUF bytes
 * never interleave in a pipe, and Linux serialises whole O_APPEND writes to
 * a local file (preload notes section 7). The log file is opened
 * O_APPEND|O_CLOEXEC and moved to a high descriptor, out of the way of
 * programs that dup2 onto low numbers; close/dup2 wrappers protect it.
 * With %p in its name, a forked child opens its own file on first write.
 * A log that cannot be written (a full disk) is given up for stderr, with
 * one line saying why; a record neither takes is counted as lost. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lg-internal.h"

#define HIGH_FD 800
#define WAIT_TRIES 50          /* polls of 100 ms for a full pipe */

static void say_no_log(const char *verb, const char *path, int err);
static void say_refused(const char *path, const char *why);

static int log_fd = -1;               /* -1 until opened; 2 = stderr */
static pid_t log_pid;                 /* process that opened log_fd */
static size_t log_record_max = 4096;  /* PIPE_BUF unless a regular file */
static int wd_log = -1;               /* the watchdog's copy of the log file,
                                         in its own table, opened for its
                                         next record */
static pid_t wd_log_tid;              /* that watchdog (a later one, or a
                                         fork child's, has another table) */
static dev_t log_dev;                 /* identity of the file we opened: */
static ino_t log_ino;                 /* a host's closefrom() or raw close
                                         may free our number for reuse */
static char log_path[LG__LOG_PATH_MAX + 32];  /* as opened, for messages */
static uint64_t log_lost;             /* atomic: records written nowhere */
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static void expand_path(char *out, size_t cap, const char *tmpl, pid_t pid)
{
    struct lg__buf b;
    lg__buf_init(&b, out, cap);
    for (const char *p = tmpl; *p; p++) {
        if (p[0] == '%' && p[1] == 'p') {
            lg__buf_u64(&b, (uint64_t)pid);
            p++;
        } else {
            lg__buf_chr(&b, *p);
        }
    }
}

/* Takes the record size (PIPE_BUF unless a regular file) and the file's
 * identity from one fstat of the new log descriptor. */
static void log_use(int fd)
{
    struct stat st;
    log_fd = fd;
    log_record_max = 4096;
    if (fstat(fd, &st) != 0)
        return;
    if (S_ISREG(st.st_mode))
        log_record_max = LG__RECORD_MAX;
    log_dev = st.st_dev;
    log_ino = st.st_ino;
}

/* Opens the log for this process; falls back to stderr with one line. */
static void log_open(void)
{
    pid_t pid = getpid();
    log_pid = pid;
    if (!lg__opt.log[0]) {
        log_use(2);
        return;
    }
    char *path = log_path;
    expand_path(path, sizeof log_path, lg__opt.log, pid);
    const char *why;
    int fd = lg__log_open_file(path, &why);
    if (fd < 0) {
        if (why)
            say_refused(path, why);
        else
            say_no_log("open", path, errno);
        log_use(2);
        return;
    }
    int high = fcntl(fd, F_DUPFD_CLOEXEC, HIGH_FD);
    if (high >= 0) {
        close(fd);
        fd = high;
    }
    log_use(fd);
}

/* True while log_fd (a file we opened) still refers to that file. */
static int log_fd_is_ours(void)
{
    struct stat st;
    return log_fd > 2 && fstat(log_fd, &st) == 0 && st.st_dev == log_dev &&
           st.st_ino == log_ino;
}

static void log_ensure(void)
{
    if (log_fd < 0) {
        log_open();
    } else if (log_fd != 2 && strstr(lg__opt.log, "%p") &&
               getpid() != log_pid) {
        /* A forked child writes to its own file. log_fd is cleared first:
         * our close wrapper refuses to close the log's descriptor. */
        int old = log_fd;
        log_fd = -1;
        close(old);
        log_open();
    } else if (log_fd > 2 && !log_fd_is_ours()) {
        /* Closed behind our back (closefrom, a raw close), maybe reused by
         * the host for its own file: never write there; open anew. */
        log_fd = -1;
        log_open();
    }
}

/* wd_log held by another watchdog is a number of another table: not
 * ours to use or close. Under log_lock. */
static void wd_log_forget_stale(void)
{
    if (wd_log >= 0 && wd_log_tid != lg__gettid())
        wd_log = -1;
}

/* The calling watchdog's copy of the log file, opened in its own table if
 * it has none yet; -1 when it cannot be opened. Under log_lock. */
static int wd_log_open(void)
{
    static char path[sizeof log_path];
    const char *why;
    wd_log_forget_stale();
    if (wd_log < 0) {
        expand_path(path, sizeof path, lg__opt.log, getpid());
        wd_log = lg__log_open_file(path, &why);
        wd_log_tid = lg__gettid();
    }
    return wd_log;
}

size_t lg__log_record_max(void)
{
    pthread_mutex_lock(&log_lock);
    if (!lg__tls.fd_private)
        log_ensure();
    size_t n = log_record_max;
    /* The watchdog's record, before the program's threads opened the log
     * file: it opens the file here, in its own table, for the record
     * (log_write_borrowed), and a regular one takes the bigger records. */
    struct stat st;
    if (lg__tls.fd_private && log_fd < 0 && lg__opt.log[0]) {
        int fd = wd_log_open();
        if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
            n = LG__RECORD_MAX;
    }
    pthread_mutex_unlock(&log_lock);
    return n;
}

/* The signals a write of ours may raise: SIGPIPE (stderr a pipe whose
 * reader left) and SIGXFSZ (a file past RLIMIT_FSIZE: EFBIG). Either would
 * kill the host, or run its handler for a write it never made. */
static void block_write_signals(sigset_t *old, sigset_t *pending)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    sigaddset(&set, SIGXFSZ);
    pthread_sigmask(SIG_BLOCK, &set, old);
    /* One the host blocked may be pending already: that one is its own.
     * Unblocked, none can be pending here (it would have been taken). */
    sigemptyset(pending);
    if (sigismember(old, SIGPIPE) || sigismember(old, SIGXFSZ))
        sigpending(pending);
}

/* After a failed write: takes back the signals our writes raised (the
 * kernel sends them to the writing thread, where they are blocked and
 * pending), then restores the thread's mask. */
static void unblock_write_signals(const sigset_t *old,
                                  const sigset_t *pending, int failed)
{
    sigset_t now;
    if (failed && sigpending(&now) == 0) {
        static const int sigs[] = {SIGPIPE, SIGXFSZ};
        for (int i = 0; i < 2; i++) {
            if (!sigismember(&now, sigs[i]) ||
                sigismember(pending, sigs[i]))
                continue;
            sigset_t one;
            struct timespec zero = {0, 0};
            sigemptyset(&one);
            sigaddset(&one, sigs[i]);
            sigtimedwait(&one, NULL, &zero);
        }
    }
    pthread_sigmask(SIG_SETMASK, old, NULL);
}

/* Writes buf whole to fd: 0, or the errno that stopped it (-1 for a write
 * that took nothing without an error); *done is what reached fd. */
static int write_all(int fd, const char *buf, size_t len, size_t *done)
{
    /* A descriptor that stayed full through a whole wait is tried once,
     * not waited for, until it takes a write again: a reader that stopped
     * reading costs the host one wait, not one per record. */
    static int stuck_fd = -1;          /* under log_lock */
    int tries = fd == stuck_fd ? WAIT_TRIES : 0;
    *done = 0;
    while (*done < len) {
        ssize_t n = write(fd, buf + *done, len - *done);
        if (n < 0 && errno == EINTR)
            continue;
        /* stderr may be a non-blocking pipe (Node sets O_NONBLOCK on it):
         * wait for room rather than lose the record, a bounded while. */
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (tries++ < WAIT_TRIES) {
                struct pollfd p = {.fd = fd, .events = POLLOUT};
                poll(&p, 1, 100);
                continue;
            }
            stuck_fd = fd;
        }
        if (n < 0)
            return errno;
        if (n == 0)
            return -1;
        *done += (size_t)n;
        if (stuck_fd == fd)
            stuck_fd = -1;
    }
    return 0;
}

/* A regular file may keep the first part of a record that did not fit
 * (a write short of a full disk or of RLIMIT_FSIZE): cut it off, so that
 * the file holds whole records only, unless someone appended since. */
static void drop_partial(int fd, size_t done)
{
    struct stat st;
    off_t end = lseek(fd, 0, SEEK_CUR);
    if (done == 0 || end < (off_t)done || fstat(fd, &st) != 0 ||
        !S_ISREG(st.st_mode) || st.st_size != end)
        return;
    (void)!ftruncate(fd, end - (off_t)done);
}

/* "loopguard: LEAD log 'PATH': WHY; reporting to stderr", on stderr: the
 * one line a log that cannot be used gets. */
static void say_log(const char *lead, const char *path, const char *why)
{
    char msg[LG__LOG_PATH_MAX + 200];
    struct lg__buf b;
    lg__buf_init(&b, msg, sizeof msg);
    lg__buf_str(&b, "loopguard: ");
    lg__buf_str(&b, lead);
    lg__buf_str(&b, " log '");
    lg__buf_str(&b, path);
    lg__buf_str(&b, "': ");
    lg__buf_str(&b, why);
    lg__buf_str(&b, "; reporting to stderr\n");
    size_t done;
    write_all(2, b.p, b.len, &done);
}

/* "cannot VERB log 'PATH': ERROR". err < 0: a write that wrote nothing. */
static void say_no_log(const char *verb, const char *path, int err)
{
    char lead[32], why[96];
    struct lg__buf l, b;
    lg__buf_init(&l, lead, sizeof lead);
    lg__buf_str(&l, "cannot ");
    lg__buf_str(&l, verb);
    lead[l.len < sizeof lead ? l.len : sizeof lead - 1] = '\0';
    lg__buf_init(&b, why, sizeof why);
    /* Not strerror: for an unknown number it allocates. */
    const char *desc = err > 0 ? strerrordesc_np(err) : NULL;
    const char *name = err > 0 ? strerrorname_np(err) : NULL;
    if (err < 0) {
        lg__buf_str(&b, "write wrote nothing");
    } else if (desc && name) {
        lg__buf_str(&b, desc);
        lg__buf_str(&b, " (");
        lg__buf_str(&b, name);
        lg__buf_chr(&b, ')');
    } else {
        lg__buf_str(&b, "error ");
        lg__buf_i64(&b, err);
    }
    why[b.len < sizeof why ? b.len : sizeof why - 1] = '\0';
    say_log(lead, path, why);
}

/* The log's open was refused (log-open.c). */
static void say_refused(const char *path, const char *why)
{
    say_log("refusing to open", path, why);
}

/* The log file failed with err: one line on stderr, and stderr is the log
 * from now on. */
static void give_up_file(int err)
{
    say_no_log("write", log_path, err);
    /* log_fd is cleared first: our close wrapper refuses to close the
     * log's descriptor. */
    int old = log_fd;
    log_fd = -1;
    close(old);
    log_use(2);
}

/* The watchdog out of the program's descriptor table (watchdog-fds.c)
 * writes to a copy of the log's descriptor, taken for the one record. Not
 * open yet (the first record of a process is the watchdog's), the file is
 * opened for the record in the watchdog's own table, with the same checks,
 * and closed after: the program's threads open theirs at their first
 * record, as before, so that a process that never reports leaves no empty
 * log behind. It gives up nothing: a log closed behind our back is the
 * program threads' to open again, and the record is counted lost
 * meanwhile. Under log_lock. */
static int log_write_borrowed(const char *buf, size_t len)
{
    int ret = -1;
    sigset_t old, pending;
    int fd, own = 0;
    struct stat st;
    wd_log_forget_stale();
    if (wd_log >= 0 && (log_fd >= 0 || !lg__opt.log[0])) {
        close(wd_log);        /* the program's threads opened theirs */
        wd_log = -1;
    }
    if (log_fd < 0 && lg__opt.log[0]) {
        fd = wd_log_open();   /* taken: closed after this record */
        wd_log = -1;
        own = fd >= 0;
    }
    if (!own)
        fd = lg__wdfd_borrow(log_fd < 0 ? 2 : log_fd);
    if (fd >= 0 && (own || log_fd <= 2 ||
                    (fstat(fd, &st) == 0 && st.st_dev == log_dev &&
                     st.st_ino == log_ino))) {
        block_write_signals(&old, &pending);
        size_t done;
        int err = write_all(fd, buf, len, &done);
        if (err && (own || log_fd > 2))
            drop_partial(fd, done);
        unblock_write_signals(&old, &pending, err != 0);
        ret = err ? -1 : 0;
    }
    if (own)
        close(fd);
    else
        lg__wdfd_return(fd);
    return ret;
}

/* The write of any other thread. Under log_lock. */
static int log_write_own(const char *buf, size_t len)
{
    sigset_t old, pending;
    log_ensure();
    block_write_signals(&old, &pending);
    size_t done;
    int err = write_all(log_fd, buf, len, &done);
    int ret = 0;
    if (err == EAGAIN || err == EWOULDBLOCK) {
        /* Only slow: the log stays, this record is lost. */
        ret = -1;
    } else if (err && log_fd != 2) {
        drop_partial(log_fd, done);
        give_up_file(err);
        ret = 1;
    } else if (err) {
        ret = -1;
    }
    unblock_write_signals(&old, &pending, err != 0);
    return ret;
}

int lg__log_write(const char *buf, size_t len)
{
    int saved = errno;
    /* Held across the write so that a dup2 over our descriptor, which
     * moves it first (lg__log_evacuate), cannot redirect a record. */
    pthread_mutex_lock(&log_lock);
    int ret = LG__UNLIKELY(lg__tls.fd_private) ? log_write_borrowed(buf, len)
                                              : log_write_own(buf, len);
    if (ret < 0)
        __atomic_add_fetch(&log_lost, 1, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&log_lock);
    errno = saved;
    return ret;
}

uint64_t lg__log_lost(void)
{
    return __atomic_load_n(&log_lost, __ATOMIC_RELAXED);
}

int lg__log_fd(void)
{
    return log_fd > 2 ? log_fd : -1;
}

int lg__log_owns(int fd)
{
    if (fd <= 2 || fd != log_fd)
        return 0;
    int saved = errno;
    int ours = log_fd_is_ours();
    errno = saved;
    return ours;
}

/* The host is about to dup2 over our descriptor: move ours away first. */
void lg__log_evacuate(int fd)
{
    if (fd < 0 || fd != log_fd || log_fd <= 2)
        return;
    int saved = errno;
    pthread_mutex_lock(&log_lock);
    int moved = fcntl(log_fd, F_DUPFD_CLOEXEC, HIGH_FD);
    if (moved >= 0)
        log_fd = moved;      /* the old number is about to be replaced */
    pthread_mutex_unlock(&log_lock);
    errno = saved;
}

/* The file itself is opened by the first record, so a process that never
 * reports leaves no empty log behind. */
void lg__log_init(void)
{
    lg__lock_register(&log_lock);
}

void lg__log_fork_child(void)
{
    /* The child of a fork writes to its own file (%p), if it ever writes:
     * it must not hold its parent's open meanwhile (a child that runs for
     * long, or a daemon, would keep a deleted log's space). */
    if (log_fd > 2 && strstr(lg__opt.log, "%p")) {
        int old = log_fd;
        log_fd = -1;
        close(old);
    }
}

/* Where reports go. One write(2) per record: records up to PIPE_BUF bytes
 * never interleave in a pipe, and Linux serialises whole O_APPEND writes to
 * a local file (preload notes section 7). The log file is opened
 * O_APPEND|O_CLOEXEC and moved to a high descriptor, out of the way of
 * programs that dup2 onto low numbers; close/dup2 wrappers protect it.
 * With %p in its name, a forked child opens its own file on first write. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lg-internal.h"

#define HIGH_FD 800

static int log_fd = -1;               /* -1 until opened; 2 = stderr */
static pid_t log_pid;                 /* process that opened log_fd */
static size_t log_record_max = 4096;  /* PIPE_BUF unless a regular file */
static dev_t log_dev;                 /* identity of the file we opened: */
static ino_t log_ino;                 /* a host's closefrom() or raw close
                                         may free our number for reuse */
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
    char path[LG__LOG_PATH_MAX + 32];
    expand_path(path, sizeof path, lg__opt.log, pid);
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
        char msg[LG__LOG_PATH_MAX + 128];
        struct lg__buf b;
        lg__buf_init(&b, msg, sizeof msg);
        lg__buf_str(&b, "loopguard: cannot open log '");
        lg__buf_str(&b, path);
        lg__buf_str(&b, "': ");
        lg__buf_str(&b, strerror(errno));
        lg__buf_str(&b, "; reporting to stderr\n");
        (void)!write(2, b.p, b.len);
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

size_t lg__log_record_max(void)
{
    pthread_mutex_lock(&log_lock);
    log_ensure();
    size_t n = log_record_max;
    pthread_mutex_unlock(&log_lock);
    return n;
}

void lg__log_write(const char *buf, size_t len)
{
    int saved = errno;
    /* Held across the write so that a dup2 over our descriptor, which
     * moves it first (lg__log_evacuate), cannot redirect a record. */
    pthread_mutex_lock(&log_lock);
    log_ensure();
    int tries = 0;
    while (len > 0) {
        ssize_t n = write(log_fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        /* stderr may be a non-blocking pipe (Node sets O_NONBLOCK on it):
         * wait for room rather than lose the record, a bounded while. */
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) &&
            tries++ < 50) {
            struct pollfd p = {.fd = log_fd, .events = POLLOUT};
            poll(&p, 1, 100);
            continue;
        }
        if (n <= 0)
            break;
        buf += n;
        len -= (size_t)n;
    }
    pthread_mutex_unlock(&log_lock);
    errno = saved;
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

/* What a receive on a descriptor may do: one byte per fd, learnt with one
 * fcntl + fstat (two system calls; a socket's domain is a third) the first
 * time a loop thread receives on it, and forgotten when the fd is closed, replaced (dup2/dup3) or its flags
 * change (fcntl F_SETFL, ioctl FIONBIO). The loop's own non-blocking reads
 * then cost a byte load, not a system call (preload notes section 4).
 *
 * Two levels of 64 Ki bytes, mapped on first use, cover fds up to 2^24;
 * higher fds are classified on every call. O_NONBLOCK belongs to the open
 * file description, so another process can flip it unseen: a stale byte
 * costs a wrong report, never a changed result. */
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "lg-internal.h"

#define PAGE_BITS LG__FD_PAGE_BITS
#define PAGE_SIZE_FDS (1u << PAGE_BITS)
#define N_PAGES LG__FD_PAGES

/* Exported for lg__fd_class's inline first look (lg-internal.h). */
uint8_t *lg__fd_pages[N_PAGES];
#define pages lg__fd_pages

/* Descriptors dup'ed in this process, so a flag change can reset them all
 * without scanning the table. Entries are never removed (a stale one costs
 * a re-classification); past MAX_SHARED, a flag change scans instead. */
#define MAX_SHARED 256
static int shared_fds[MAX_SHARED];
static unsigned n_shared;             /* atomic; > MAX_SHARED: overflowed */

static void shared_add(int fd)
{
    unsigned n = __atomic_load_n(&n_shared, __ATOMIC_ACQUIRE);
    for (unsigned i = 0; i < n && i < MAX_SHARED; i++)
        if (__atomic_load_n(&shared_fds[i], __ATOMIC_RELAXED) == fd)
            return;
    unsigned slot_i = __atomic_fetch_add(&n_shared, 1, __ATOMIC_ACQ_REL);
    if (slot_i < MAX_SHARED)
        __atomic_store_n(&shared_fds[slot_i], fd, __ATOMIC_RELEASE);
}

static uint8_t *slot(int fd, int create)
{
    unsigned u = (unsigned)fd;
    unsigned pi = u >> PAGE_BITS;
    if (fd < 0 || pi >= N_PAGES)
        return NULL;
    uint8_t *page = __atomic_load_n(&pages[pi], __ATOMIC_ACQUIRE);
    if (!page && create) {
        void *m = mmap(NULL, PAGE_SIZE_FDS, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED)
            return NULL;
        uint8_t *expected = NULL;
        if (__atomic_compare_exchange_n(&pages[pi], &expected, m, 0,
                                        __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
            page = m;
        else {
            munmap(m, PAGE_SIZE_FDS);
            page = expected;
        }
    }
    return page ? &page[u & (PAGE_SIZE_FDS - 1)] : NULL;
}

static unsigned pack(unsigned state, unsigned kind)
{
    return state | (kind << LG__FD_KIND_SHIFT);
}

/* Anonymous inodes (eventfd, timerfd, ...) have no file type; their
 * /proc/self/fd link names them. One readlink, once per fd. */
static unsigned anon_kind(int fd)
{
    char path[32], link[64];
    lg__proc_path(path, sizeof path, "/proc/self/fd/", (uint64_t)fd);
    ssize_t n = readlink(path, link, sizeof link - 1);
    if (n <= 0)
        return LG__FDK_OTHER;
    link[n] = '\0';
    static const struct {
        const char *name;
        unsigned kind;
    } anon[] = {
        {"anon_inode:[eventfd]", LG__FDK_EVENTFD},
        {"anon_inode:[timerfd]", LG__FDK_TIMERFD},
        {"anon_inode:[signalfd]", LG__FDK_SIGNALFD},
        {"anon_inode:inotify", LG__FDK_INOTIFY},
    };
    for (size_t i = 0; i < sizeof anon / sizeof anon[0]; i++) {
        const char *a = anon[i].name, *l = link;
        while (*a && *a == *l)
            a++, l++;
        if (!*a)
            return anon[i].kind;
    }
    return LG__FDK_OTHER;
}

static unsigned classify(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0)
        return LG__FD_UNKNOWN;        /* bad fd: the call will fail */
    struct stat st;
    if (fstat(fd, &st) < 0)
        return LG__FD_UNKNOWN;
    unsigned kind;
    switch (st.st_mode & S_IFMT) {
    case S_IFREG:
        return pack(LG__FD_NEVER, LG__FDK_FILE);
    case S_IFDIR:
    case S_IFBLK:
        return pack(LG__FD_NEVER, LG__FDK_OTHER);
    case S_IFIFO:
        kind = LG__FDK_PIPE;
        break;
    case S_IFSOCK: {
        /* A netlink socket's other end is the kernel (wrap-io.c). */
        int dom = 0;
        socklen_t len = sizeof dom;
        kind = getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &dom, &len) == 0 &&
                       dom == AF_NETLINK
                   ? LG__FDK_NETLINK
                   : LG__FDK_SOCKET;
        break;
    }
    case S_IFCHR:
        /* Major 1 is null, zero, full, [u]random: they never wait. */
        if (major(st.st_rdev) == 1)
            return pack(LG__FD_NEVER, LG__FDK_CHARDEV);
        kind = isatty(fd) ? LG__FDK_TTY : LG__FDK_CHARDEV;
        break;
    default:
        kind = anon_kind(fd);
        break;
    }
    return pack(fl & O_NONBLOCK ? LG__FD_NONBLOCK : LG__FD_BLOCKING, kind);
}

unsigned lg__fd_class_slow(int fd)
{
    uint8_t *s = slot(fd, 1);
    unsigned v = s ? __atomic_load_n(s, __ATOMIC_RELAXED) : 0;
    if (v & LG__FD_STATE_MASK)
        return v;
    unsigned shared = v & LG__FD_SHARED;
    int saved = errno;
    uint8_t was = lg__tls.in_shim;
    lg__tls.in_shim = 1;
    v = classify(fd);
    lg__tls.in_shim = was;
    errno = saved;
    if (s && v)
        __atomic_store_n(s, (uint8_t)(v | shared), __ATOMIC_RELAXED);
    return v | shared;
}

static void mark_shared(int fd)
{
    uint8_t *s = slot(fd, 1);
    if (!s)
        return;
    if (!(__atomic_load_n(s, __ATOMIC_RELAXED) & LG__FD_SHARED))
        shared_add(fd);
    __atomic_store_n(s, LG__FD_SHARED, __ATOMIC_RELAXED);
}

void lg__fd_dup(int old, int new)
{
    if (new >= 0)
        lg__unwind_fds_gone((unsigned)new, (unsigned)new);
    mark_shared(old);
    mark_shared(new);
    lg__pipe_dup(old, new);
}

static void reset_shared(uint8_t *s)
{
    if (__atomic_load_n(s, __ATOMIC_RELAXED) & LG__FD_SHARED)
        __atomic_store_n(s, LG__FD_SHARED, __ATOMIC_RELAXED);
}

/* O_NONBLOCK lives in the open file description, which dup'ed descriptors
 * share; we do not know which of them share it, so every shared one is
 * forgotten: those on the shared list, or, once it overflowed, every
 * marked byte of the table. */
void lg__fd_flags_changed(int fd)
{
    uint8_t *s = slot(fd, 0);
    unsigned v = s ? __atomic_load_n(s, __ATOMIC_RELAXED) : 0;
    if (!s)
        return;
    __atomic_store_n(s, (uint8_t)(v & LG__FD_SHARED), __ATOMIC_RELAXED);
    if (!(v & LG__FD_SHARED))
        return;
    unsigned n = __atomic_load_n(&n_shared, __ATOMIC_ACQUIRE);
    if (n <= MAX_SHARED) {
        for (unsigned i = 0; i < n; i++) {
            uint8_t *o = slot(__atomic_load_n(&shared_fds[i],
                                              __ATOMIC_ACQUIRE), 0);
            if (o)
                reset_shared(o);
        }
        return;
    }
    for (unsigned pi = 0; pi < N_PAGES; pi++) {
        uint8_t *page = __atomic_load_n(&pages[pi], __ATOMIC_ACQUIRE);
        for (unsigned i = 0; page && i < PAGE_SIZE_FDS; i++)
            reset_shared(&page[i]);
    }
}

void lg__fd_forget(int fd)
{
    uint8_t *s = slot(fd, 0);
    if (s)
        __atomic_store_n(s, 0, __ATOMIC_RELAXED);
}

void lg__fd_closed(int fd)
{
    lg__fd_forget(fd);
    if (fd >= 0) {
        lg__pipe_forget((unsigned)fd, (unsigned)fd);
        lg__unwind_fds_gone((unsigned)fd, (unsigned)fd);
    }
}

void lg__fd_forget_range(unsigned first, unsigned last)
{
    lg__pipe_forget(first, last);
    lg__unwind_fds_gone(first, last);
    for (unsigned pi = first >> PAGE_BITS;
         pi < N_PAGES && pi <= (last >> PAGE_BITS); pi++) {
        uint8_t *page = __atomic_load_n(&pages[pi], __ATOMIC_ACQUIRE);
        if (!page)
            continue;
        unsigned lo = pi == first >> PAGE_BITS ? first & (PAGE_SIZE_FDS - 1)
                                               : 0;
        unsigned hi = pi == last >> PAGE_BITS ? last & (PAGE_SIZE_FDS - 1)
                                              : PAGE_SIZE_FDS - 1;
        for (unsigned i = lo; i <= hi; i++)
            __atomic_store_n(&page[i], 0, __ATOMIC_RELAXED);
    }
}

void lg__fd_set_state(int fd, unsigned state)
{
    uint8_t *s = slot(fd, 0);
    if (!s)
        return;
    unsigned v = __atomic_load_n(s, __ATOMIC_RELAXED);
    if (v & LG__FD_STATE_MASK)
        __atomic_store_n(s, (uint8_t)((v & ~LG__FD_STATE_MASK) | state),
                         __ATOMIC_RELAXED);
}

const char *lg__fd_kind_name(unsigned cls)
{
    static const char *const names[] = {
#define XX(e, s) s,
        LG__FD_KIND_MAP(XX)
#undef XX
    };
    unsigned k = (cls & LG__FD_KIND_MASK) >> LG__FD_KIND_SHIFT;
    return k < LG__FDK_COUNT ? names[k] : "fd";
}

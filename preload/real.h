/* The real functions behind the wrappers, one pointer per row of
 * symbols.def, reached only through REAL(cname): it resolves on first use,
 * because other libraries' constructors call wrappers before ours runs. */
#ifndef LG_PRELOAD_REAL_H
#define LG_PRELOAD_REAL_H

#include <mqueue.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/select.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/types.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <threads.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

/* Loop libraries the preload never includes nor links: their runners take
 * opaque pointers (GLib's gboolean is an int). */
struct event_base;
struct ev_loop;
struct _GMainLoop;
struct _GMainContext;
int event_base_loop(struct event_base *base, int flags);
int event_base_dispatch(struct event_base *base);
int ev_run(struct ev_loop *loop, int flags);
void g_main_loop_run(struct _GMainLoop *loop);
int g_main_context_iteration(struct _GMainContext *ctx, int may_block);

/* The _FORTIFY_SOURCE entry points; glibc declares them only for fortified
 * builds. */
ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen);
ssize_t __recv_chk(int fd, void *buf, size_t n, size_t buflen, int flags);
int __poll_chk(struct pollfd *fds, nfds_t n, int ms, size_t fdslen);
int __ppoll_chk(struct pollfd *fds, nfds_t n, const struct timespec *ts,
                const sigset_t *mask, size_t fdslen);
ssize_t __recvfrom_chk(int fd, void *buf, size_t n, size_t buflen,
                       int flags, struct sockaddr *from, socklen_t *fromlen);

enum lg__sym_index {
#define LG_SYM(c, s, v, e, n, r, p) LG__SYMIDX_##c,
#include "symbols.def"
#undef LG_SYM
    LG__SYM_COUNT
};

#define LG_SYM(c, s, v, e, n, r, p) extern r(*lg__real_##c) p;
#include "symbols.def"
#undef LG_SYM

/* Resolves row idx (dlvsym, then dlsym), stores and returns the pointer.
 * A missing REQUIRED symbol is fatal, with one line on stderr. */
void *lg__preload_resolve(int idx);

/* Registers the loop libraries the program has (wrap-loop.c). */
void lg__preload_loops_init(void);

/* Finds how to size the blocks of the allocator free() forwards to, and
 * hooks a sanitizer's free (wrap-heap.c). */
void lg__preload_heap_init(void);

#define REAL(c)                                                               \
    (LG__LIKELY(lg__real_##c != NULL)                                         \
         ? lg__real_##c                                                       \
         : (__typeof__(lg__real_##c))lg__preload_resolve(LG__SYMIDX_##c))

/* A loop library's function called by a plugin dlopened with RTLD_LOCAL
 * that links its own copy (wrap-loop.c): RTLD_NEXT cannot see it, the
 * caller's own scope can. The pointer in caller's scope, or NULL. */
void *lg__preload_in_scope_of(void *caller, const char *name, void *self);

/* The real function of an OPTIONAL row c of a loop library: the resolved
 * one, else the caller's scope's, else REAL(c), which says it is missing
 * and aborts. Each such row needs REAL_IN_SCOPE_FALLBACK(c) once. */
#define REAL_IN_SCOPE(c, caller)                                              \
    (LG__LIKELY(lg__real_##c != NULL) ? lg__real_##c                          \
                                      : real_in_scope_##c(caller))

#define REAL_IN_SCOPE_FALLBACK(c)                                             \
    static LG__COLD __typeof__(lg__real_##c) real_in_scope_##c(void *caller)  \
    {                                                                         \
        void *f = lg__preload_in_scope_of(caller, #c, (void *)c);             \
        return f ? (__typeof__(lg__real_##c))f : REAL(c);                     \
    }

#endif

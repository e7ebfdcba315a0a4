/* A shared libuv's fs requests made without a callback. libuv runs such a
 * request on the calling thread, from uv_fs_read itself (uv__fs_work),
 * so a read of a pipe in it is the program's blocking, though its caller
 * is libuv (ignore.c would take it for libuv's own). A shared libuv has no
 * .symtab to show uv__fs_work in a stack: these wrappers mark the thread
 * for the call instead (lg__tls.sync_fs). With a callback the request runs
 * on the thread pool, never on a loop thread, and is forwarded untouched.
 * Only the requests that may wait for another process are wrapped: open
 * (a FIFO), read, write, sendfile, and copyfile (it opens its source). A
 * libuv linked into the program is judged by its stack (loopcat.c). */
#include "enter.h"
#include "real.h"

static void sync_fs_end(void *was)
{
    lg__tls.sync_fs = *(const uint8_t *)was;
}

/* Off a loop thread, or with a callback: forwarded, at the fast path's
 * cost. On a loop thread, the thread is marked for the call; the mark is
 * taken back if the thread is cancelled in it. */
#define UV_FS_SYNC(name, params, args)                                        \
    REAL_IN_SCOPE_FALLBACK(name)                                              \
    static LG__COLD int name##_sync(void *caller, LG_UNPAREN params)          \
    {                                                                         \
        int (*real_) params = REAL_IN_SCOPE(name, caller);                    \
        uint8_t was_ = lg__tls.sync_fs;                                       \
        int r_;                                                               \
        lg__tls.sync_fs = 1;                                                  \
        pthread_cleanup_push(sync_fs_end, &was_);                             \
        r_ = real_ args;                                                      \
        pthread_cleanup_pop(1);                                               \
        return r_;                                                            \
    }                                                                         \
    LG_EXPORT int name params                                                 \
    {                                                                         \
        if (!lg__tls_on_loop() || cb)                                         \
            return REAL_IN_SCOPE(name, __builtin_return_address(0)) args;     \
        return name##_sync(__builtin_return_address(0), LG_UNPAREN args);     \
    }

UV_FS_SYNC(uv_fs_open,
           (uv_loop_t *loop, uv_fs_t *req, const char *path, int flags,
            int mode, uv_fs_cb cb),
           (loop, req, path, flags, mode, cb))
UV_FS_SYNC(uv_fs_read,
           (uv_loop_t *loop, uv_fs_t *req, uv_file file, const uv_buf_t bufs[],
            unsigned int nbufs, int64_t offset, uv_fs_cb cb),
           (loop, req, file, bufs, nbufs, offset, cb))
UV_FS_SYNC(uv_fs_write,
           (uv_loop_t *loop, uv_fs_t *req, uv_file file, const uv_buf_t bufs[],
            unsigned int nbufs, int64_t offset, uv_fs_cb cb),
           (loop, req, file, bufs, nbufs, offset, cb))
UV_FS_SYNC(uv_fs_sendfile,
           (uv_loop_t *loop, uv_fs_t *req, uv_file out_fd, uv_file in_fd,
            int64_t in_offset, size_t length, uv_fs_cb cb),
           (loop, req, out_fd, in_fd, in_offset, length, cb))
UV_FS_SYNC(uv_fs_copyfile,
           (uv_loop_t *loop, uv_fs_t *req, const char *path,
            const char *new_path, int flags, uv_fs_cb cb),
           (loop, req, path, new_path, flags, cb))

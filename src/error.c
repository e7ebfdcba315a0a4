/* lg_err_name() and lg_strerror(): names and descriptions of the negative
 * errno values the public API returns, from one table (libuv's
 * UV_ERRNO_MAP). Static strings only, so both are safe anywhere. */
#include <errno.h>

#include "lg-internal.h"

/* EWOULDBLOCK and EDEADLOCK are the same numbers as EAGAIN and EDEADLK on
 * Linux; listing them too would give the switches duplicate cases. */
#define LG__ERRNO_MAP(XX)                                                     \
    XX(EAGAIN, "resource temporarily unavailable (channel full or empty)")    \
    XX(EPIPE, "broken pipe (channel closed)")                                 \
    XX(EDEADLK, "would block an event-loop thread")                           \
    XX(ETIMEDOUT, "timed out")                                                \
    XX(EINVAL, "invalid argument")                                            \
    XX(ENOMEM, "not enough memory")                                           \
    XX(EOVERFLOW, "value too large")                                          \
    XX(EINTR, "interrupted system call")                                      \
    XX(ENOSYS, "function not implemented")                                    \
    XX(EBADF, "bad file descriptor")                                          \
    XX(EBUSY, "resource busy or locked")                                      \
    XX(ECANCELED, "operation canceled")                                       \
    XX(EMFILE, "too many open files")                                         \
    XX(ENOENT, "no such file or directory")                                   \
    XX(EPERM, "operation not permitted")                                      \
    XX(EACCES, "permission denied")                                           \
    XX(ENOTSUP, "operation not supported")

/* Cases are negative constants so the argument is never negated: -INT_MIN
 * would overflow. */
const char *lg_err_name(int err)
{
    switch (err) {
#define XX(e, s)                                                              \
    case -e:                                                                  \
        return #e;
        LG__ERRNO_MAP(XX)
#undef XX
    }
    return "UNKNOWN";
}

const char *lg_strerror(int err)
{
    switch (err) {
#define XX(e, s)                                                              \
    case -e:                                                                  \
        return s;
        LG__ERRNO_MAP(XX)
#undef XX
    }
    return "unknown error";
}

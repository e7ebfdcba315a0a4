/* Opening the log where another user could have put something first.
 *
 * loopguard runs inside other people's programs, sometimes as root, and
 * its log often lies in /tmp. In a sticky, world-writable directory (/tmp,
 * /var/tmp, /dev/shm) anyone may create the name first: a symbolic link
 * to a file of the victim's, or a file of their own that the victim then
 * appends to. The kernel's fs.protected_symlinks and fs.protected_regular
 * refuse those opens, but containers often run with both off. So here,
 * whatever the sysctls say, in such a directory:
 *   - a last component that is a symbolic link is refused, whoever owns
 *     it (stricter than protected_symlinks, which follows links of the
 *     follower's or the directory owner's: a log needs no link there);
 *   - an existing regular file (or FIFO) owned by neither the effective
 *     user nor the directory's owner is refused, as protected_regular=1
 *     does for O_CREAT opens.
 * Everything goes through a descriptor of the directory (openat, fstat),
 * so the checks and the open look at the same directory, and the link
 * test is O_NOFOLLOW's: nothing is checked by name and then opened by
 * name. Elsewhere the open is as it always was. New files are 0600 in a
 * privileged process (euid 0, or set-id), 0644 (less the umask) else. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lg-internal.h"

static int privileged(void)
{
    return geteuid() == 0 || getauxval(AT_SECURE) != 0;
}

/* The directory part of path into dir (".": none), and its last part. */
static const char *split(const char *path, char *dir, size_t cap)
{
    const char *slash = strrchr(path, '/');
    if (!slash) {
        strcpy(dir, ".");
        return path;
    }
    size_t n = slash == path ? 1 : (size_t)(slash - path);
    if (n >= cap)
        n = cap - 1;
    memcpy(dir, path, n);
    dir[n] = '\0';
    return slash + 1;
}

int lg__log_open_file(const char *path, const char **why)
{
    int flags = O_WRONLY | O_APPEND | O_CLOEXEC;
    mode_t mode = privileged() ? 0600 : 0644;
    char dir[LG__LOG_PATH_MAX + 32];
    const char *name = split(path, dir, sizeof dir);
    *why = NULL;
    int dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    struct stat ds;
    if (dfd < 0 || !*name || fstat(dfd, &ds) != 0 ||
        !((ds.st_mode & S_ISVTX) && (ds.st_mode & S_IWOTH))) {
        /* Not a directory anyone may plant a name in: as always (a
         * missing directory fails here with the open's own errno). */
        if (dfd >= 0)
            close(dfd);
        return open(path, flags | O_CREAT, mode);
    }
    int fd = -1, err = EEXIST;
    for (int tries = 0; fd < 0 && !*why && tries < 3; tries++) {
        /* Exclusive first: a name nobody holds is ours. */
        fd = openat(dfd, name, flags | O_CREAT | O_EXCL | O_NOFOLLOW, mode);
        err = errno;
        if (fd >= 0 || err != EEXIST)
            break;
        /* Judged before it is opened (a FIFO of another user's would
         * keep the open waiting), then checked to be what was judged. */
        struct stat pre, st;
        if (fstatat(dfd, name, &pre, AT_SYMLINK_NOFOLLOW) != 0) {
            err = errno;
            continue;             /* removed in between: create it */
        }
        if (S_ISLNK(pre.st_mode)) {
            *why = "it is a symbolic link in a sticky, world-writable "
                   "directory";
        } else if (pre.st_uid != geteuid() && pre.st_uid != ds.st_uid &&
                   (S_ISREG(pre.st_mode) || S_ISFIFO(pre.st_mode))) {
            *why = "it belongs to another user, in a sticky, "
                   "world-writable directory";
        } else if ((fd = openat(dfd, name, flags | O_NOFOLLOW)) < 0) {
            err = errno;
            if (err == ELOOP)     /* became a link in between */
                *why = "it is a symbolic link in a sticky, "
                       "world-writable directory";
        } else if (fstat(fd, &st) != 0 || st.st_dev != pre.st_dev ||
                   st.st_ino != pre.st_ino) {
            close(fd);            /* replaced in between: again */
            fd = -1;
        }
    }
    close(dfd);
    if (*why)
        err = EPERM;
    errno = err;
    return fd;
}

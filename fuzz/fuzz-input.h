/* Cutting one fuzzer input into the pieces a target takes: numbers and
 * strings taken from the front, whatever is left at the end. Strings are
 * copied out NUL-terminated, so a target never reads past what the fuzzer
 * gave (ASan sees an overread of the input as one of our own buffers). */
#ifndef LG_FUZZ_INPUT_H
#define LG_FUZZ_INPUT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

struct fz {
    const uint8_t *p;
    size_t n;
};

static inline unsigned fz_byte(struct fz *f)
{
    if (!f->n)
        return 0;
    f->n--;
    return *f->p++;
}

/* A string of up to max bytes, ended by a NUL in the input or by max;
 * malloc'd, so ASan bounds it exactly. */
static inline char *fz_str(struct fz *f, size_t max)
{
    size_t len = 0;
    while (len < f->n && len < max && f->p[len])
        len++;
    char *s = malloc(len + 1);
    if (!s)
        abort();
    memcpy(s, f->p, len);
    s[len] = '\0';
    size_t used = len < f->n ? len + 1 : len;   /* and its NUL */
    f->p += used;
    f->n -= used;
    return s;
}

/* The rest of the input as one string. */
static inline char *fz_rest(struct fz *f)
{
    return fz_str(f, SIZE_MAX);
}

/* The input as a file, for readers that take a path: one memfd, reused,
 * named through /proc/self/fd. */
static inline const char *fz_file(const uint8_t *data, size_t size)
{
    static int fd = -1;
    static char path[64];
    if (fd < 0) {
        fd = memfd_create("fuzz-input", MFD_CLOEXEC);
        if (fd < 0)
            abort();
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    }
    if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
        abort();
    return path;
}

#endif

/* Symbol names (demangle.c, demangle-rust-v0.c): they come from the host's
 * binaries and are decoded in report paths, without malloc for Rust. Any
 * name, into any buffer size: a result is NUL-terminated inside the
 * buffer and as long as the return value says, and nothing is written
 * past the buffer. The first input byte picks
 * the buffer size (0 to 255, or the largest a report uses). */
#include <stdlib.h>
#include <string.h>

#include "fuzz-input.h"
#include "lg-internal.h"

#define BIG 1024

static char out[BIG + 1];

typedef size_t (*demangle_fn)(const char *name, char *out, size_t cap);

static void check(demangle_fn fn, const char *name, size_t cap)
{
    /* A canary byte after the buffer: writing it is an overflow even
     * where ASan would not see one (out is a static array). */
    memset(out, 0x5a, sizeof out);
    size_t n = fn(name, out, cap);
    if (out[cap] != 0x5a)
        abort();
    /* 0: not a name this function decodes (the Rust ones), or an empty
     * one; out may be left alone. */
    if (n == 0)
        return;
    if (n >= cap || strlen(out) != n)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz f = {data, size};
    unsigned c = fz_byte(&f);
    size_t cap = c == 255 ? BIG : c;
    char *name = fz_rest(&f);
    check(lg__demangle_rust_v0, name, cap);
    check(lg__demangle_rust, name, cap);
    check(lg__demangle, name, cap);
    free(name);
    return 0;
}

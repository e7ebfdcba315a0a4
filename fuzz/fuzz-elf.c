/* ELF files (elf-symtab.c, elf-scan.c): the detector maps the host's
 * binaries and libraries and walks their section headers and symbol
 * tables, in the host process. A file can be truncated, corrupt or
 * hostile: every header, offset, size and string must be checked before
 * use. The input is the file; it is given to the readers through a
 * memfd's /proc/self/fd path. */
#include <stdlib.h>
#include <string.h>

#include "elf-symtab.h"
#include "fuzz-input.h"
#include "lg-internal.h"

static size_t funcs;

static void on_func(void *arg, const char *name, uint64_t value,
                    uint64_t size, int lib)
{
    (void)arg;
    (void)value;
    (void)size;
    (void)lib;
    funcs += strlen(name) > 0;   /* reads the whole name */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fz_file(data, size);
    static const char *const names[] = {"uv_run", "main", NULL};
    static const char *const parts[] = {"tokio", "event_base", NULL};
    size_t nsyms = 0;
    int m = lg__elf_mentions(path, names, parts, &nsyms);
    int e = lg__elf_each_func(path, "uv_", on_func, NULL);
    if (m < -1 || m > 1 || (e != 0 && e != -1))
        abort();
    return 0;
}

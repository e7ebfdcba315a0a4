/* ELF symbol tables (elf-symtab.c): lg__elf_symtab_load builds the sorted
 * table symbolize.c names frames from, from .symtab, a debug file, or
 * .dynsym. Whatever the file, a load either fails cleanly or gives a table
 * as its header says: sorted by address with no two equal, every entry
 * found again by lg__elf_symtab_find at its own address, every name a
 * string. A table lives as long as the process (its strings stay mapped),
 * so fuzz/run.sh restarts this fuzzer every 30000 inputs. */
#include <stdlib.h>
#include <string.h>

#include "elf-symtab.h"
#include "fuzz-input.h"
#include "lg-internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fz_file(data, size);
    struct lg__elf_symtab t;
    /* A real path no debug file can be found beside. */
    if (lg__elf_symtab_load(path, "/nonexistent/fuzz/lib.so", NULL, 0, &t))
        return 0;
    size_t names = 0;
    for (size_t i = 0; i < t.n; i++) {
        const struct lg__elf_func *e = &t.funcs[i];
        if (i && e->value <= t.funcs[i - 1].value)
            abort();
        uint64_t start;
        const char *name = lg__elf_symtab_find(&t, e->value, &start);
        if (e->size && (name != t.strtab + e->name || start != e->value))
            abort();
        names += strlen(t.strtab + e->name);
    }
    return names == (size_t)-1;   /* keeps the strlen calls */
}

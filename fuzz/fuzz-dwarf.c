/* loopguard-symbolizer's DWARF side (tools/symbolizer-dwarf.c, libdw): it
 * reads whatever module file a host names, and a file may be anything.
 * Whatever the bytes, at every address looked at (every 64th of the first
 * 32 KiB, where a small program's code lies, and two the input picks)
 * the lookup returns at most LG__SYMP_DEPTH frames, each with a function
 * name and a file NUL-terminated within the protocol's bound, and the
 * answer the helper would send of them parses back to the same frames:
 * the host gets a well-formed answer or none. (A crash inside libdw ends
 * the helper, not the host: the host's side is fuzz-symbolizer's.) */
#include <stdlib.h>
#include <string.h>

#include "fuzz-input.h"
#include "symbolizer-dwarf.h"

#define SCAN_END 0x8000
#define SCAN_STEP 0x40

static void check_at(const char *path, uint64_t addr)
{
    static char bufs[LG__SYMP_DEPTH][LG__SYMP_STR_MAX + 1];
    static char out[LG__SYMP_ANSWER_MAX];
    static struct lg__symp_answer back;
    struct lg__symp_frame f[LG__SYMP_DEPTH];
    int n = lg__dwarf_lookup(path, addr, f, bufs);
    if (n < 0 || n > LG__SYMP_DEPTH)
        abort();
    for (int i = 0; i < n; i++)
        if (!f[i].func || !f[i].file)
            abort();
    size_t len = 0;
    if (lg__symp_put_answer(out, sizeof out, &len, 7, f, n) != 0)
        abort();
    if (lg__symp_parse_answer(out, len, &back) != (long)len ||
        back.id != 7 || back.n != n)
        abort();
    for (int i = 0; i < n; i++) {
        /* Cut to the protocol's bound, the same bytes otherwise. */
        if (back.f[i].line != f[i].line ||
            strlen(back.f[i].func) > LG__SYMP_STR_MAX ||
            strlen(back.f[i].file) > LG__SYMP_STR_MAX ||
            strncmp(back.f[i].func, f[i].func, LG__SYMP_STR_MAX) != 0 ||
            strncmp(back.f[i].file, f[i].file, LG__SYMP_STR_MAX) != 0)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fz_file(data, size);
    /* The same path for every input: nothing of the last one may stay. */
    lg__dwarf_forget();
    for (uint64_t a = 0; a < SCAN_END; a += SCAN_STEP)
        check_at(path, a);
    uint64_t pick = 0;
    for (size_t i = 0; i < 8 && i < size; i++)
        pick = pick << 8 | data[size - 1 - i];
    check_at(path, pick);
    check_at(path, pick + 1);
    return 0;
}

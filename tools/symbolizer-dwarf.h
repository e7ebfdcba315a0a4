/* The DWARF lookup of loopguard-symbolizer (tools/symbolizer-dwarf.c),
 * with libdw: its helper process and the fuzzer link it, never a host. */
#ifndef LG_SYMBOLIZER_DWARF_H
#define LG_SYMBOLIZER_DWARF_H

#include <stdint.h>

#include "symbolizer.h"

/* The frames at addr (a link-time address) of the module file path,
 * innermost first, as the protocol answers them: at most LG__SYMP_DEPTH,
 * each string NUL-terminated within LG__SYMP_STR_MAX + 1 bytes, valid
 * until the next call. 0 when nothing is known, or path is not absolute.
 * Never fails otherwise, whatever the file holds. */
int lg__dwarf_lookup(const char *path, uint64_t addr,
                     struct lg__symp_frame *f,
                     char (*bufs)[LG__SYMP_STR_MAX + 1]);
/* Closes every module (the fuzzer, between inputs that reuse a path). */
void lg__dwarf_forget(void);

#endif

/* A module of its own for prog-supp (test-suppressions): a module: rule
 * names it by its path. */
#include <unistd.h>

/* Reads one byte of fd; exported, so never inlined into the program. */
__attribute__((noinline)) int supp_mod_read(int fd)
{
    char c;
    return read(fd, &c, 1) == 1 ? 0 : -1;
}

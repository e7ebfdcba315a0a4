/* glib-block: glib-clean's loop plus one blocking receive, a read() of a
 * pipe in the timeout callback on_timer_block, which a worker writes 10 ms
 * later (test-named-loops). It exits 0; under loopguard that read is the one
 * report, with loop kind "glib" via "entry". */
#define LOOPS_BLOCK 1
#include "glib-clean.c"

/* libevent-block: libevent-clean's loop plus one blocking receive, a read()
 * of a pipe in the timer callback on_timer_block, which a worker writes
 * 10 ms later (test-named-loops). It exits 0; under loopguard that read is
 * the one report, with loop kind "libevent" via "entry". */
#define LOOPS_BLOCK 1
#include "libevent-clean.c"

/* LG_SKIP(fmt, ...): skips the current cmocka test, saying why. The reason
 * goes on a line "skip: ..." before cmocka's [  SKIPPED ] line, where
 * tests/run-unit.sh reads it back: a skip without a reason is a bug. */
#ifndef LG_TEST_SKIP_H
#define LG_TEST_SKIP_H

#define LG_SKIP(...)                                                     \
    do {                                                                 \
        print_message("skip: " __VA_ARGS__);                             \
        print_message("\n");                                             \
        skip();                                                          \
    } while (0)

#endif

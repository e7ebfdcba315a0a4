/* lg__loopcat_class: the catalog of loop runners read from symbol names as
 * they are in a program's symbol table (legacy and v0 Rust mangling, C),
 * taken from tokio 1.24 programs built here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "lg-internal.h"

enum { FOREIGN, RUNTIME, PARK, RUNNER, ALLOW, THIN, FS_WORK };

static void expect(const char *sym, int cls, int kind)
{
    int k = -1;
    int c = lg__loopcat_class(sym, &k);
    if (c != cls || (cls == RUNNER && k != kind))
        fail_msg("%s: class %d kind %d, expected %d/%d", sym, c, k, cls,
                 kind);
}

static void test_loopcat_tokio_legacy(void **state)
{
    (void)state;
    expect("_ZN5tokio7runtime9scheduler14current_thread9CoreGuard8block_on"
           "17h71327dc51b0131b3E", RUNNER, LG__LOOP_TOKIO);
    expect("_ZN5tokio7runtime9scheduler14current_thread9CoreGuard8block_on"
           "28_$u7b$$u7b$closure$u7d$$u7d$17hdcd2c5e07a9dfaebE",
           RUNNER, LG__LOOP_TOKIO);
    /* The scheduler's park is the loop's own, though in its module. */
    expect("_ZN5tokio7runtime9scheduler14current_thread7Context4park"
           "17h9cc9b15ccb2e1069E", PARK, 0);
    expect("_ZN5tokio7runtime9scheduler12multi_thread6worker3run"
           "17h0123456789abcdefE", RUNNER, LG__LOOP_TOKIO);
    expect("_ZN5tokio7runtime9scheduler12multi_thread6worker14block_in_place"
           "17h0123456789abcdefE", ALLOW, 0);
    expect("_ZN3mio4poll4Poll4poll17ha06748a62dbb3e43E", PARK, 0);
    /* A local copy's name, as release builds have them. */
    expect("_ZN3mio4poll4Poll4poll17ha06748a62dbb3e43E.llvm.1234567", PARK,
           0);
    /* The runtime's own locks count as its own waits. */
    expect("_ZN5tokio4loom3std5mutex14Mutex$LT$T$GT$4lock"
           "17h0123456789abcdefE", PARK, 0);
    /* ...but not the cell a task's poll runs the program's code through. */
    expect("_ZN5tokio4loom3std11unsafe_cell19UnsafeCell$LT$T$GT$8with_mut"
           "17h0123456789abcdefE", FOREIGN, 0);
    expect("_ZN104_$LT$tokio..sync..mpsc..bounded..Semaphore$u20$as$u20$"
           "tokio..sync..mpsc..chan..Semaphore$GT$10add_permit"
           "17h0123456789abcdefE", PARK, 0);
    /* A task's poll is neither: the user's future runs inside it. */
    expect("_ZN5tokio7runtime4task3raw4poll17h0123456789abcdefE", FOREIGN,
           0);
    /* <Type as Trait>::f belongs to Type's module. */
    expect("_ZN72_$LT$tokio..runtime..scheduler..Handle$u20$as$u20$core.."
           "clone..Clone$GT$5clone17h877fc693519de113E", FOREIGN, 0);
    /* Generic std code instantiated for tokio types is std's. */
    expect("_ZN4core3ptr53drop_in_place$LT$tokio..runtime..park.."
           "ParkThread$GT$17hb77d07877dbcc1a7E", RUNTIME, 0);
    expect("_ZN3std4sync4mpsc17Receiver$LT$T$GT$4recv17h0123456789abcdefE",
           RUNTIME, 0);
    /* std's channels' own short lock, taken by a send (its futex wait
     * under it was reported from a tokio task, 1 run in ~20, when the
     * receiving thread held it): not the program's blocking. */
    expect("_ZN3std4sync4mpmc5waker9SyncWaker6notify17h327913917878cd9bE",
           ALLOW, 0);
    /* ...but the receiver's own wait for a message still is std's code,
     * the caller the program. */
    expect("_ZN3std4sync4mpmc7context7Context10wait_until"
           "17h0123456789abcdefE", RUNTIME, 0);
    expect("_ZN4hang4main28_$u7b$$u7b$closure$u7d$$u7d$17h0123456789abcdefE",
           FOREIGN, 0);
}

static void test_loopcat_tokio_v0(void **state)
{
    (void)state;
    expect("_RINvMs1_NtNtNtCs7DgVzsGegF9_5tokio7runtime9scheduler14current_"
           "threadNtB6_7Context5enterINtNtNtCsgEmfK2I1SDS_4core4task4poll4Po"
           "lluENCNCINvMs6_B6_NtB6_9CoreGuard8block_onINtNtB1u_3pin3PinQNCNv"
           "CsdkhwMXMAMdm_4hang4main0EE00EB32_", RUNNER, LG__LOOP_TOKIO);
    expect("_RINvMs2_NtNtCs7DgVzsGegF9_5tokio7runtime4parkNtB6_16CachedParkTh"
           "read12with_currentNCNvB2_12park_timeout0uEBa_", PARK, 0);
    expect("_RNvMs_NtNtCsjrHSEGnQ3l9_3std6thread6threadNtB4_6Thread4park",
           RUNTIME, 0);
    expect("_RNvMNtNtNtCsjrHSEGnQ3l9_3std4sync4mpmc5wakerNtB2_9SyncWaker6noti"
           "fy", ALLOW, 0);
    /* std's thread-local storage of a tokio type: std's code. */
    expect("_RINvMs0_NtNtNtNtCsjrHSEGnQ3l9_3std3sys12thread_local6native4laz"
           "yINtB6_7StorageNtNtNtCs7DgVzsGegF9_5tokio7runtime4park10ParkThre"
           "aduE11get_or_initNvNvB1g_14CURRENT_PARKER27___rust_std_internal_"
           "init_fnEB1k_", RUNTIME, 0);
    expect("_RINvMNtCsgEmfK2I1SDS_4core6optionINtB3_6OptionINtNtNtCs7DgVzsGe"
           "gF9_5tokio7runtime4task8NotifiedINtNtCslNYArtu3iFV_5alloc4sync3A"
           "rcNtNtNtBN_9scheduler14current_thread6HandleEEE7or_elseNCNCINvMs"
           "6_B25_NtB25_9CoreGuard8block_onINtNtB5_3pin3PinQNCNvCsdkhwMXMAMd"
           "m_4hang4main0EE0s0_0EB3T_", RUNTIME, 0);
}

static void test_loopcat_c(void **state)
{
    (void)state;
    expect("uv_run", RUNNER, LG__LOOP_LIBUV);
    expect("uv__io_poll", PARK, 0);
    /* libuv's thin wrappers, and the fs work a synchronous request runs
     * on the calling thread: under them, a wait is the program's. */
    expect("uv_thread_join", THIN, 0);
    expect("uv__fs_work", FS_WORK, 0);
    expect("uv__fs_work_done", FOREIGN, 0);
    /* V8's own waits are no loop's park (runtime-own.c knows them): a
     * GC's join in a callback keeps the loop busy. C++ names are foreign. */
    expect("_ZN2v88internal16IsolateSafepoint24EnterLocalSafepointScopeEv",
           FOREIGN, 0);
    expect("_ZN2v88platform15DefaultJobState4JoinEv", FOREIGN, 0);
    expect("_ZN2v88internal4Heap14CollectGarbageENS0_15AllocationSpaceE",
           FOREIGN, 0);
    expect("event_base_loop", RUNNER, LG__LOOP_LIBEVENT);
    expect("ev_run", RUNNER, LG__LOOP_LIBEV);
    expect("uv_run_helper", FOREIGN, 0);
    expect("main", FOREIGN, 0);
    expect("_ZNSt6vectorIiSaIiEE9push_backERKi", FOREIGN, 0);
    expect("", FOREIGN, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loopcat_tokio_legacy),
        cmocka_unit_test(test_loopcat_tokio_v0),
        cmocka_unit_test(test_loopcat_c),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

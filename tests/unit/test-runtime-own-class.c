/* lg__runtime_own_class: V8's and Node's own waiting points, the
 * primitives looked through on the way to them, and everything else, read
 * from names as node 20's .symtab and node 18's libnode .dynsym have them
 * (nodesource's v20.20, Debian's v18.20). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "lg-internal.h"

enum { FOREIGN, THROUGH, OWN };

static void expect(const char *sym, int cls)
{
    int c = lg__runtime_own_class(sym);
    if (c != cls)
        fail_msg("%s: class %d, expected %d", sym, c, cls);
}

static void test_runtime_own_points(void **state)
{
    (void)state;
    /* The GC's parallel jobs, node 18 (Join) and node 20 (Cancel). */
    expect("_ZN2v88platform15DefaultJobState4JoinEv", OWN);
    expect("_ZN2v88platform15DefaultJobState4JoinEv.cold", OWN);
    expect("_ZN2v88platform15DefaultJobState43"
           "WaitForParticipationOpportunityLockRequiredEv", OWN);
    expect("_ZN2v88platform16DefaultJobHandle6CancelEv", OWN);
    expect("_ZNK2v88platform15DefaultJobState20CappedMaxConcurrencyEm", OWN);
    /* Safepoints, with the compiler's local copy that .symtab names. */
    expect("_ZN2v88internal16IsolateSafepoint24EnterLocalSafepointScopeEv",
           OWN);
    expect("_ZN2v88internal16IsolateSafepoint24EnterLocalSafepointScopeEv"
           ".part.0", OWN);
    expect("_ZN2v88internal15GlobalSafepoint25EnterGlobalSafepointScopeEP"
           "NS0_7IsolateE", OWN);
    /* Node's platform and the join of a worker that has stopped. */
    expect("_ZN4node12NodePlatform10DrainTasksEPN2v87IsolateE", OWN);
    expect("_ZN4node23WorkerThreadsTaskRunner8ShutdownEv", OWN);
    expect("_ZN4node23WorkerThreadsTaskRunner13BlockingDrainEv", OWN);
    expect("_ZN4node6worker6Worker10JoinThreadEv", OWN);
}

static void test_runtime_own_through(void **state)
{
    (void)state;
    expect("_ZN2v84base17ConditionVariable4WaitEPNS0_5MutexE", THROUGH);
    expect("_ZN2v84base17ConditionVariable7WaitForEPNS0_5MutexERKNS0_"
           "9TimeDeltaE", THROUGH);
    expect("_ZN2v84base5Mutex4LockEv", THROUGH);
    expect("_ZN2v84base9Semaphore4WaitEv", THROUGH);
    expect("_ZN2v84base6Thread4JoinEv", THROUGH);
    /* libuv's thin wrappers, shared or linked into node. */
    expect("uv_thread_join", THROUGH);
    expect("uv_cond_wait", THROUGH);
    expect("uv_sem_wait", THROUGH);
}

/* CPython's, as Debian's stripped python3.11 exports them: the import
 * lock decides, and so does the untimed lock call, C code's mutex; the
 * timed one, which threading.Lock uses, is looked through; the GIL's
 * functions are no waiting point by name (their
 * wait is in take_gil, which has none: the GIL is known by its cond). */
static void test_runtime_own_python(void **state)
{
    (void)state;
    expect("_PyImport_AcquireLock", OWN);
    expect("PyThread_acquire_lock_timed", THROUGH);
    expect("PyThread_acquire_lock", OWN);
    expect("PyEval_RestoreThread", FOREIGN);
    expect("PyGILState_Ensure", FOREIGN);
    expect("_PyImport_ReleaseLock", FOREIGN);
    expect("PyThread_acquire_lock_timed_with_retries", FOREIGN);
    expect("_PyImport_AcquireLockX", FOREIGN);
}

static void test_runtime_own_foreign(void **state)
{
    (void)state;
    /* The program's waits inside the runtime: Atomics.wait, execSync,
     * readFileSync, a worker's start. */
    expect("_ZN2v88internal14FutexEmulation8WaitJs32EPNS0_7IsolateENS1_8"
           "WaitModeENS0_6HandleINS0_13JSArrayBufferEEEmid", FOREIGN);
    expect("_ZN2v88internal14FutexEmulation8WaitSyncIiEENS0_6ObjectEPNS0_"
           "7IsolateENS0_6HandleINS0_13JSArrayBufferEEEmT_blNS1_8CallTypeE"
           ".isra.0", FOREIGN);
    expect("_ZN4node17SyncProcessRunner3RunEN2v85LocalINS1_5ValueEEE",
           FOREIGN);
    expect("_ZN4node2fsL4ReadERKN2v820FunctionCallbackInfoINS1_5ValueEEE",
           FOREIGN);
    expect("_ZN4node6worker6Worker11StartThreadERKN2v820FunctionCallbackInfo"
           "INS2_5ValueEEE", FOREIGN);
    expect("_ZN4node6worker6Worker4ExitENS_8ExitCodeEPKcS4_", FOREIGN);
    /* Near misses: other classes of the same namespaces, other functions
     * of the same class, V8's other platform parts. */
    expect("_ZN2v84base6Thread5StartEv", FOREIGN);
    expect("_ZN2v84base2OS5SleepENS0_9TimeDeltaE", FOREIGN);
    expect("_ZN4node9TaskQueueIN2v84TaskEE4PushESt10unique_ptrIS2_St14"
           "default_deleteIS2_EE", FOREIGN);
    expect("_ZN2v88platform27DefaultForegroundTaskRunner8PostTaskESt10"
           "unique_ptrINS_4TaskESt14default_deleteIS3_EE", FOREIGN);
    expect("_ZN2v88internal4Heap14CollectGarbageENS0_15AllocationSpaceE",
           FOREIGN);
    expect("_ZN4node6worker6Worker10JoinThreadX", FOREIGN);
    expect("uv_run", FOREIGN);
    expect("uv_thread_join_helper", FOREIGN);
    expect("main", FOREIGN);
    expect("_ZN", FOREIGN);
    /* Names cut short where a list's prefix ends. */
    expect("uv_", FOREIGN);
    expect("_Py", FOREIGN);
    expect("P", FOREIGN);
    expect("_", FOREIGN);
    expect("", FOREIGN);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_runtime_own_points),
        cmocka_unit_test(test_runtime_own_through),
        cmocka_unit_test(test_runtime_own_python),
        cmocka_unit_test(test_runtime_own_foreign),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

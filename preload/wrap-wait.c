/* Waiting for a child process: wait, waitpid, wait4, waitid and system().
 * A loop thread that waits for a child runs no callback until the child
 * changes state (kresd running os.execute('sleep 0.2') stalled its loop).
 * A wait that cannot block is no receive: WNOHANG, or a child already
 * waiting to be reaped (a SIGCHLD handler's reaping), or no child at all
 * (ECHILD at once); a probe with WNOHANG|WNOWAIT tells, leaving the child
 * for the real call. None is parked for the deadlock check: a child may
 * always end by itself. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "enter.h"
#include "real.h"

/* Whether a wait for (idtype, id) with waitpid-style `options` may block:
 * the probe asks the kernel, keeping any ready child for the real call. */
static int wait_blocks(idtype_t idtype, id_t id, int options)
{
    if (options & WNOHANG)
        return 0;
    int saved = errno;
    siginfo_t info;
    memset(&info, 0, sizeof info);
    int probe = WEXITED | WNOHANG | WNOWAIT;
    if (options & WUNTRACED)
        probe |= WSTOPPED;
    if (options & WCONTINUED)
        probe |= WCONTINUED;
    int r = REAL(waitid)(idtype, id, &info, probe);
    errno = saved;
    return r == 0 && info.si_pid == 0;
}

/* waitpid's pid as waitid's (idtype, id), and the object a report names. */
static idtype_t pid_target(pid_t pid, id_t *id)
{
    if (pid < -1) {
        *id = (id_t)-pid;
        return P_PGID;
    }
    if (pid == 0) {
        *id = 0;
        return P_PGID;            /* id 0: the caller's own group */
    }
    if (pid == -1) {
        *id = 0;
        return P_ALL;
    }
    *id = (id_t)pid;
    return P_PID;
}

static void object_child(struct lg__wait *w, idtype_t idtype, id_t id)
{
    if (idtype == P_PID)
        lg__object_num(w, "child", (long)id);
    else if (idtype == P_ALL)
        lg__object_num(w, "child", -1);
    else
        lg__object_num(w, "process group", (long)id);
}

#define WAIT_SLOW(name, ret, params, args, idtype_expr, id_expr, opts)        \
    static LG__COLD ret name##_slow(void *caller, LG_UNPAREN params)          \
    {                                                                         \
        id_t id_ = (id_expr);                                                 \
        idtype_t idtype_ = (idtype_expr);                                     \
        if (!wait_blocks(idtype_, id_, (opts)))                               \
            return REAL(name) args;                                           \
        struct lg__wait w;                                                    \
        ret r;                                                                \
        lg_wait_init(&w, #name, (void *)REAL(name), caller, -1);              \
        object_child(&w, idtype_, id_);                                       \
        LG_BLOCKING(&w, r = REAL(name) args);                                 \
        return r;                                                             \
    }                                                                         \
    LG_WRAP_SLOW(name, ret, params, args)

static id_t pid_id(pid_t pid)
{
    id_t id;
    pid_target(pid, &id);
    return id;
}

WAIT_SLOW(wait, pid_t, (int *status), (status), P_ALL, 0, 0)
WAIT_SLOW(waitpid, pid_t, (pid_t pid, int *status, int options),
          (pid, status, options), pid_target(pid, &id_), pid_id(pid), options)
WAIT_SLOW(wait4, pid_t,
          (pid_t pid, int *status, int options, struct rusage *ru),
          (pid, status, options, ru), pid_target(pid, &id_), pid_id(pid),
          options)

/* waitid speaks the probe's own language: WEXITED, WSTOPPED... */
static int waitid_options(int options)
{
    int o = options & WNOHANG;
    if (options & WSTOPPED)
        o |= WUNTRACED;
    if (options & WCONTINUED)
        o |= WCONTINUED;
    /* Without WEXITED the probe would miss the states asked for; keep it
     * simple: only WEXITED waits are probed, the rest count as blocking. */
    return o;
}

WAIT_SLOW(waitid, int,
          (idtype_t idtype, id_t id, siginfo_t *info, int options),
          (idtype, id, info, options), idtype, id, waitid_options(options))

/* system() forks a shell and waits for it: always blocking. */
static LG__COLD int system_slow(void *caller, const char *command)
{
    struct lg__wait w;
    int r;
    lg_wait_init(&w, "system", (void *)REAL(system), caller, -1);
    lg__object_num(&w, "child", -1);
    LG_BLOCKING(&w, r = REAL(system)(command));
    return r;
}

LG_EXPORT int system(const char *command)
{
    /* system(NULL) only asks whether there is a shell. */
    if (!command || !lg__tls_on_loop())
        return REAL(system)(command);
    return system_slow(__builtin_return_address(0), command);
}

/* CPython's own state, read from the calling thread: whether it runs an
 * asyncio event loop (BaseEventLoop.run_forever is on its Python frame
 * stack), and its Python frames for reports. asyncio's loop is Python code
 * run by one C function (3.11 runs every Python call in the same
 * _PyEval_EvalFrameDefault), and Debian's interpreter is stripped: neither
 * its native stack nor its symbols tell a coroutine from module code. The
 * interpreter's frames do, the way py-spy and austin read them from
 * outside.
 *
 * Nothing here calls into the interpreter, which the thread may not hold
 * (a blocking call lets the GIL go first). The thread's state is found by
 * the thread-local key CPython keeps it under (_PyRuntime's autoTSSkey),
 * checked by its native thread id; from there only the thread's own frame
 * chain is read, which cannot change while the thread is in a call, and
 * the code objects and strings the frames hold references to. Every object
 * is checked against its exported type before it is read.
 *
 * The layouts are CPython 3.11's, 3.12's and 3.13's (Include/cpython/
 * pystate.h, code.h, unicodeobject.h; Include/internal/pycore_frame.h,
 * pycore_runtime.h of each), the same for every release of a minor
 * version (the default build: not 3.13's free-threaded one, whose objects
 * fail the type checks); Py_Version says which interpreter runs. Other
 * versions get no frames and no loop (docs/guide.md). */
#include <dlfcn.h>
#include <limits.h>
#include <link.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include "lg-internal.h"

/* Where CPython keeps what is read here, by minor version (-1: absent in
 * that version). Object headers are the same in each: ob_type at 8, a
 * bytes object's size at 16 and data at 32, a str's length at 16 and its
 * state bits at 32 (kind in bits 2-4, compact 5, ascii 6). */
struct layout {
    unsigned minor;                   /* 3.minor */
    long finalizing;                  /* _PyRuntime's _finalizing */
    long tss;                         /* _PyRuntime's autoTSSkey */
    long ts_native_id;                /* PyThreadState */
    long ts_cframe, cf_current;       /* ->cframe->current_frame (3.11,
                                         3.12) */
    long ts_current;                  /* ->current_frame (3.13) */
    long fr_code, fr_previous, fr_instr, fr_owner;  /* _PyInterpreterFrame */
    long fr_is_entry;                 /* 3.11; later a C-stack frame
                                         (owner 3) marks the entry */
    long co_firstlineno, co_firsttraceable, co_code;    /* PyCodeObject */
    long str_ascii_data, str_data;    /* compact str's characters */
    uint8_t op_with;                  /* opcode BEFORE_WITH */
};

static const struct layout layouts[] = {
    {11, 24, 592, 160, 56, 8, -1, 32, 48, 56, 69, 68, 72, 168, 184, 48, 72,
     53},
    {12, 24, 1544, 144, 56, 0, -1, 0, 8, 56, 70, -1, 68, 176, 192, 40, 56,
     53},
    {13, 608, 2160, 160, -1, -1, 72, 0, 8, 56, 70, -1, 68, 184, 200, 40, 56,
     2},
};

#define FR_LOCALS 72                 /* localsplus[0]: a method's self */
#define OWNED_BY_GENERATOR 1
#define OWNED_BY_CSTACK 3
#define OB_TYPE 8
#define CO_FILENAME 112
#define CO_QUALNAME 128
#define CO_LINETABLE 136
#define BYTES_SIZE 16
#define BYTES_DATA 32
#define STR_LENGTH 16
#define STR_STATE 32
#define STR_HEAD 72                  /* of a str: its header, up to the
                                        characters of a non-ASCII one */
#define STR_CHARS 256                /* of a str, at most, read */
#define LINETABLE_MAX 16384          /* of another thread's code's location
                                        table, what is read */

#define MAX_WALK 100000              /* frames looked at, at most: a
                                        guard against a broken chain */
#define FRAME_BYTES 72               /* of a frame, what is read */
#define CODE_BYTES 192               /* of a code object */
#define TS_BYTES 168                 /* of a PyThreadState */
#define TS_NEXT 8                    /* its next and interp (3.11-3.13) */
#define TS_INTERP 16
#define MAX_THREADS 4096             /* thread states looked at, at most */

static const char *runtime;
static const void *code_type, *str_type, *bytes_type;
/* Another thread's state is found from the main interpreter's list. */
static const void *(*interp_main)(void);
static const void *(*interp_head)(const void *);
static const struct layout *L;       /* NULL: not known */
static int layout;                   /* 1 known; -1 another CPython; 0 none */
static unsigned py_minor;

/* 3.13 publishes its offsets at the start of _PyRuntime (_Py_DebugOffsets,
 * for debuggers): where the table's entries are in it, and the table's
 * value each must have. A later 3.13 release that moved a field, or the
 * free-threaded build, whose objects are laid out otherwise, fails. */
static const struct {
    uint16_t at;              /* offset in _Py_DebugOffsets */
    uint16_t want;
} debug_13[] = {
    {16, 0},                  /* free_threaded */
    {32, 608},                /* runtime_state.finalizing */
    {184, 72},                /* thread_state.current_frame */
    {200, 160},               /* thread_state.native_thread_id */
    {232, 8},                 /* interpreter_frame.previous */
    {240, 0},                 /* interpreter_frame.executable */
    {248, 56},                /* interpreter_frame.instr_ptr */
    {256, 72},                /* interpreter_frame.localsplus */
    {264, 70},                /* interpreter_frame.owner */
    {280, 112},               /* code_object.filename */
    {296, 128},               /* code_object.qualname */
    {304, 136},               /* code_object.linetable */
    {312, 68},                /* code_object.firstlineno */
    {344, 200},               /* code_object.co_code_adaptive */
    {360, 8},                 /* pyobject.ob_type */
    {520, 16},                /* bytes_object.ob_size */
    {528, 32},                /* bytes_object.ob_sval */
    {544, 32},                /* unicode_object.state */
    {552, 16},                /* unicode_object.length */
    {560, 40},                /* unicode_object.asciiobject_size */
};

static int debug_offsets_agree(void)
{
    if (L->minor != 13)
        return 1;
    if (memcmp(runtime, "xdebugpy", 8) != 0)
        return 0;
    for (size_t i = 0; i < sizeof debug_13 / sizeof *debug_13; i++) {
        uint64_t v;
        memcpy(&v, runtime + debug_13[i].at, sizeof v);
        if (v != debug_13[i].want)
            return 0;
    }
    return 1;
}

uintptr_t lg__py_lock_lo;
size_t lg__py_lock_len;

void lg__py_init(void)
{
    const uint32_t *version = dlsym(RTLD_DEFAULT, "Py_Version");
    runtime = dlsym(RTLD_DEFAULT, "_PyRuntime");
    if (!runtime) {
        layout = 0;
        return;
    }
    Dl_info info;
    const ElfW(Sym) *sym = NULL;
    if (!lg__py_lock_len &&
        dladdr1(runtime, &info, (void **)&sym, RTLD_DL_SYMENT) && sym &&
        sym->st_size) {
        lg__py_lock_lo = (uintptr_t)runtime;
        __atomic_store_n(&lg__py_lock_len, (size_t)sym->st_size,
                         __ATOMIC_RELEASE);
    }
    layout = -1;              /* without Py_Version: 3.10 or older */
    if (!version)
        return;
    code_type = dlsym(RTLD_DEFAULT, "PyCode_Type");
    str_type = dlsym(RTLD_DEFAULT, "PyUnicode_Type");
    bytes_type = dlsym(RTLD_DEFAULT, "PyBytes_Type");
    interp_main = (const void *(*)(void))dlsym(RTLD_DEFAULT,
                                               "PyInterpreterState_Main");
    interp_head = (const void *(*)(const void *))dlsym(
        RTLD_DEFAULT, "PyInterpreterState_ThreadHead");
    py_minor = *version >> 16 & 0xff;
    if (*version >> 24 != 3 || !code_type || !str_type || !bytes_type)
        return;
    for (size_t i = 0; i < sizeof layouts / sizeof *layouts; i++)
        if (layouts[i].minor == py_minor)
            L = &layouts[i];
    if (L && !debug_offsets_agree())
        L = NULL;
    if (!L)
        return;
    layout = 1;
    __atomic_or_fetch(&lg__stack_loops, LG__SL_PYTHON, __ATOMIC_RELEASE);
}

int lg__py_known(void)
{
    return layout;
}

unsigned lg__py_minor(void)
{
    return py_minor;
}

static const void *ptr_at(const void *o, long off)
{
    const void *v;
    memcpy(&v, (const char *)o + off, sizeof v);
    return v;
}

static int is(const void *o, const void *type)
{
    return o && ptr_at(o, OB_TYPE) == type;
}

/* n bytes at a: a itself for the calling thread's own state, which
 * cannot change while it is in a call; for another thread's (rem), a copy
 * into buf made by process_vm_readv, which fails where memory is gone
 * instead of faulting: that thread may run meanwhile, and what it frees is
 * read as whatever is there, which the type checks catch. NULL when it
 * cannot be read. */
static const char *get(const void *a, size_t n, char *buf, int rem)
{
    if (!a || !rem)
        return a;
    struct iovec l = {buf, n}, r = {(void *)(uintptr_t)a, n};
    return process_vm_readv(getpid(), &l, 1, &r, 1, 0) == (ssize_t)n ? buf
                                                                     : NULL;
}

static int finalizing(void)
{
    return __atomic_load_n((const void *const *)(const void *)(runtime +
                                                             L->finalizing),
                           __ATOMIC_ACQUIRE) != NULL;
}

/* The calling thread's PyThreadState, or NULL. */
static const char *thread_state(void)
{
    /* Finalizing, the interpreter frees other threads' states while
     * their keys still point to them (a daemon thread in C code). */
    if (!L || finalizing())
        return NULL;
    int init;
    unsigned key;
    memcpy(&init, runtime + L->tss, sizeof init);
    memcpy(&key, runtime + L->tss + 4, sizeof key);
    if (init != 1 || key >= PTHREAD_KEYS_MAX)
        return NULL;
    const char *ts = pthread_getspecific((pthread_key_t)key);
    unsigned long id;
    if (!ts)
        return NULL;
    memcpy(&id, ts + L->ts_native_id, sizeof id);
    return id == (unsigned long)lg__gettid() ? ts : NULL;
}

/* Thread state ts's innermost frame (ts is a copy for another thread). */
static const char *ts_frame(const char *ts, int rem)
{
    if (L->ts_current >= 0)
        return ptr_at(ts, L->ts_current);
    char buf[16];
    const char *cf = ptr_at(ts, L->ts_cframe);
    cf = cf ? get(cf, (size_t)L->cf_current + 8, buf, rem) : NULL;
    return cf ? ptr_at(cf, L->cf_current) : NULL;
}

static const char *first_frame(void)
{
    const char *ts = thread_state();
    return ts ? ts_frame(ts, 0) : NULL;
}

/* Thread tid's innermost frame, from the main interpreter's list of
 * thread states, read as copies; NULL when it has none. The interpreter
 * itself lives until it finalizes. */
static const char *frame_of(pid_t tid)
{
    /* Under a seccomp filter process_vm_readv might be what kills. */
    static int filtered = -1;
    if (filtered < 0)
        filtered = prctl(PR_GET_SECCOMP, 0, 0, 0, 0) != 0;
    if (!L || !interp_main || !interp_head || filtered || finalizing())
        return NULL;
    const void *interp = interp_main();
    const char *ts = interp ? interp_head(interp) : NULL;
    char buf[TS_BYTES];
    for (int i = 0; ts && i < MAX_THREADS; i++) {
        const char *t = get(ts, sizeof buf, buf, 1);
        unsigned long id;
        if (!t || ptr_at(t, TS_INTERP) != interp)
            return NULL;
        memcpy(&id, t + L->ts_native_id, sizeof id);
        if (id == (unsigned long)tid)
            return ts_frame(t, 1);
        ts = ptr_at(t, TS_NEXT);
    }
    return NULL;
}

/* The instruction a frame is at, in code units; -1 for a frame that has
 * not started its code (CPython leaves those out of tracebacks). f and c
 * are the frame and its code object as read, co the code's address. */
static int frame_lasti(const char *f, const char *co, const char *c)
{
    const char *instr = ptr_at(f, L->fr_instr);
    int first;
    memcpy(&first, c + L->co_firsttraceable, sizeof first);
    long lasti = (instr - (co + L->co_code)) / 2;
    if (f[L->fr_owner] != OWNED_BY_GENERATOR && lasti < first)
        return -1;
    return lasti < 0 ? 0 : (int)lasti;
}

/* A thread's frames that have started their code, innermost first: set
 * up the walk (w = {0} for the calling thread's own; first and rem for
 * another's, from frame_of), then each walk_next() gives the next frame,
 * its code object and instruction, until it returns 0. f and co are their
 * addresses, fl and cl what was read of them (the same for the calling
 * thread's). */
struct walk {
    const char *first;
    int rem;
    const char *f, *co, *fl, *cl;
    int lasti, steps;
};

/* What is read of another thread's state goes here: the watchdog alone
 * reads another thread's, one at a time. */
static struct {
    char frame[FRAME_BYTES], prev[FRAME_BYTES], code[CODE_BYTES];
    char str_head[STR_HEAD], str_data[4 * STR_CHARS];
    char table_head[BYTES_DATA], table[LINETABLE_MAX];
} rb;

/* Whether the walk's frame is the first Python frame of its C call of
 * _PyEval_EvalFrameDefault. */
static int frame_entry(const struct walk *w)
{
    if (L->fr_is_entry >= 0)
        return w->fl[L->fr_is_entry] != 0;
    const char *prev = get(ptr_at(w->fl, L->fr_previous), sizeof rb.prev,
                           rb.prev, w->rem);
    return !prev || prev[L->fr_owner] == OWNED_BY_CSTACK;
}

static int walk_next(struct walk *w)
{
    for (;;) {
        w->f = w->steps++ ? ptr_at(w->fl, L->fr_previous)
               : w->rem   ? w->first
                          : first_frame();
        if (!w->f || w->steps > MAX_WALK ||
            !(w->fl = get(w->f, sizeof rb.frame, rb.frame, w->rem)))
            return 0;
        /* 3.12 on: the entry shim of a C call (3.13's has no code). */
        if (L->fr_is_entry < 0 && w->fl[L->fr_owner] == OWNED_BY_CSTACK)
            continue;
        w->co = ptr_at(w->fl, L->fr_code);
        if (!(w->cl = get(w->co, sizeof rb.code, rb.code, w->rem)) ||
            !is(w->cl, code_type))
            return 0;
        w->lasti = frame_lasti(w->fl, w->co, w->cl);
        if (w->lasti >= 0)
            return 1;
    }
}

/* A str's text as UTF-8 into out[0..cap), cut at a character; "" when it
 * is no compact str (or, rem, cannot be read). */
static void str_copy(const char *at, char *out, size_t cap, int rem)
{
    const char *s = get(at, sizeof rb.str_head, rb.str_head, rem);
    out[0] = '\0';
    if (!is(s, str_type))
        return;
    uint32_t state;
    long len;
    memcpy(&state, s + STR_STATE, sizeof state);
    memcpy(&len, s + STR_LENGTH, sizeof len);
    unsigned kind = (state >> 2) & 7, compact = (state >> 5) & 1,
             ascii = (state >> 6) & 1;
    if (!compact || len < 0 || kind < 1 || kind > 4 || kind == 3)
        return;
    if (len > STR_CHARS)
        len = STR_CHARS;
    size_t o = 0;
    if (ascii) {
        o = (size_t)len < cap - 1 ? (size_t)len : cap - 1;
        const char *d = get(at + L->str_ascii_data, o, rb.str_data, rem);
        if (d)
            memcpy(out, d, o);
        out[d ? o : 0] = '\0';
        return;
    }
    const char *data = get(at + L->str_data, (size_t)len * kind,
                           rb.str_data, rem);
    if (!data)
        return;
    for (long i = 0; i < len; i++) {
        uint32_t c = kind == 1   ? ((const uint8_t *)data)[i]
                     : kind == 2 ? ((const uint16_t *)data)[i]
                                 : ((const uint32_t *)data)[i];
        char u[4];
        size_t k;
        if (c < 0x80) {
            u[0] = (char)c;
            k = 1;
        } else if (c < 0x800) {
            u[0] = (char)(0xc0 | c >> 6);
            u[1] = (char)(0x80 | (c & 0x3f));
            k = 2;
        } else if (c < 0x10000) {
            u[0] = (char)(0xe0 | c >> 12);
            u[1] = (char)(0x80 | (c >> 6 & 0x3f));
            u[2] = (char)(0x80 | (c & 0x3f));
            k = 3;
        } else {
            u[0] = (char)(0xf0 | c >> 18);
            u[1] = (char)(0x80 | (c >> 12 & 0x3f));
            u[2] = (char)(0x80 | (c >> 6 & 0x3f));
            u[3] = (char)(0x80 | (c & 0x3f));
            k = 4;
        }
        if (o + k >= cap)
            break;
        memcpy(out + o, u, k);
        o += k;
    }
    out[o] = '\0';
}

/* Whether str s is ASCII and ends with `tail` (whole when exact). */
static int str_is(const char *s, const char *tail, int exact)
{
    if (!is(s, str_type))
        return 0;
    uint32_t state;
    long len;
    memcpy(&state, s + STR_STATE, sizeof state);
    memcpy(&len, s + STR_LENGTH, sizeof len);
    size_t n = strlen(tail);
    if (!((state >> 5) & 1) || !((state >> 6) & 1) || len < (long)n ||
        (exact && len != (long)n))
        return 0;
    return memcmp(s + L->str_ascii_data + len - (long)n, tail, n) == 0;
}

static unsigned varint(const uint8_t **p, const uint8_t *end)
{
    unsigned v = 0, shift = 0;
    while (*p < end) {
        uint8_t b = *(*p)++;
        v |= (unsigned)(b & 63) << shift;
        shift += 6;
        if (!(b & 64) || shift > 24)
            break;
    }
    return v;
}

/* The source line of instruction lasti (code units) of code object co,
 * from 3.11's location table (Objects/locations.md); 0 when it has none. */
static int code_line(const char *co, int lasti, int rem)
{
    const char *at = ptr_at(co, CO_LINETABLE);
    const char *table = get(at, sizeof rb.table_head, rb.table_head, rem);
    if (!is(table, bytes_type))
        return 0;
    long size;
    memcpy(&size, table + BYTES_SIZE, sizeof size);
    if (size < 0 || (rem && size > LINETABLE_MAX))
        size = rem ? LINETABLE_MAX : 0;
    const uint8_t *p = (const uint8_t *)get(at + BYTES_DATA, (size_t)size,
                                            rb.table, rem);
    if (!p)
        return 0;
    const uint8_t *end = p + size;
    int line, addr = 0;
    memcpy(&line, co + L->co_firstlineno, sizeof line);
    while (p < end) {
        uint8_t head = *p++;
        if (!(head & 0x80))
            return 0;             /* not an entry's first byte: lost */
        int code = (head >> 3) & 15, len = (head & 7) + 1;
        int delta = 0;
        if (code == 13 || code == 14) {
            unsigned u = varint(&p, end);
            delta = u & 1 ? -(int)(u >> 1) : (int)(u >> 1);
        } else if (code >= 10 && code <= 12) {
            delta = code - 10;
        }
        line += delta;
        if (lasti < addr + len)
            return code == 15 ? 0 : line;
        addr += len;
        while (p < end && !(*p & 0x80))
            p++;
    }
    return 0;
}

static int frames(struct walk *w, struct lg__pyframe *out,
                  struct lg__pyname *names, int max)
{
    int n = 0;
    for (; n < max && walk_next(w); n++) {
        out[n].code = w->co;
        out[n].lasti = w->lasti;
        out[n].entry = (uint8_t)frame_entry(w);
        if (names) {
            struct lg__pyname *p = &names[n];
            p->line = code_line(w->cl, w->lasti, w->rem);
            str_copy(ptr_at(w->cl, CO_QUALNAME), p->func, sizeof p->func,
                     w->rem);
            str_copy(ptr_at(w->cl, CO_FILENAME), p->file, sizeof p->file,
                     w->rem);
        }
    }
    return n;
}

int lg__py_frames(struct lg__pyframe *out, struct lg__pyname *names,
                  int max)
{
    struct walk w = {0};
    return frames(&w, out, names, max);
}

/* Lines already decoded, for the site of every blocking call made from
 * Python code: a slot holds a 32-bit check of (code object, its line
 * table, instruction) and the line, in one word, so that threads that
 * race on a slot never read a torn one. A code object freed and another
 * made at its address has another line table; two keys with one check
 * (2^-32) would only join or split two sites. */
#define LINE_SLOTS 1024
static uint64_t line_cache[LINE_SLOTS];

static int cached_line(const char *co, int lasti, int rem)
{
    uint64_t h = (uintptr_t)co ^ (uint64_t)(uint32_t)lasti << 48;
    h = (h ^ (uintptr_t)ptr_at(co, CO_LINETABLE)) * 0x9e3779b97f4a7c15ull;
    h ^= h >> 29;
    uint32_t check = (uint32_t)(h >> 32) | 1;
    uint64_t *slot = &line_cache[h % LINE_SLOTS];
    uint64_t e = __atomic_load_n(slot, __ATOMIC_RELAXED);
    if ((uint32_t)(e >> 32) == check)
        return (int)(uint32_t)e;
    int line = code_line(co, lasti, rem);
    __atomic_store_n(slot, (uint64_t)check << 32 | (uint32_t)line,
                     __ATOMIC_RELAXED);
    return line;
}

int lg__py_frame_lines(struct lg__pyframe *out, int max)
{
    struct walk w = {0};
    int n = 0;
    for (; n < max && walk_next(&w); n++) {
        int line = cached_line(w.cl, w.lasti, w.rem);
        out[n].code = w.co;
        out[n].lasti = line ? line : -1 - w.lasti;
        out[n].entry = 0;
    }
    return n;
}

int lg__py_frames_of(pid_t tid, struct lg__pyframe *out,
                     struct lg__pyname *names, int max)
{
    struct walk w = {.rem = 1, .first = frame_of(tid)};
    return w.first ? frames(&w, out, names, max) : 0;
}

/* A Python function by its file's tail and its qualified name. */
struct py_func {
    const char *file, *func;
};

/* Whether code object co is function f's. */
static int code_is(const char *co, const struct py_func *f)
{
    return str_is(ptr_at(co, CO_QUALNAME), f->func, 1) &&
           str_is(ptr_at(co, CO_FILENAME), f->file, 0);
}

/* The functions that run an asyncio loop, with the loop their first
 * argument: asyncio's own, and nest_asyncio's replacements (Jupyter's
 * nested loops), which do not call them. run_forever is on the stack
 * from the first task on, _run_once in every turn. */
static const struct py_func loop_runners[] = {
    {"/asyncio/base_events.py", "BaseEventLoop.run_forever"},
    {"/asyncio/base_events.py", "BaseEventLoop._run_once"},
    {"/nest_asyncio.py", "_patch_loop.<locals>.run_forever"},
    {"/nest_asyncio.py", "_patch_loop.<locals>._run_once"},
};
#define N_RUNNERS (sizeof loop_runners / sizeof *loop_runners)

/* Whether code object co is one of loop_runners. The code objects seen
 * are kept: later walks compare pointers (a code object lives as long as
 * its module). */
static int is_runner(const char *co)
{
    static const char *seen[N_RUNNERS];
    for (size_t i = 0; i < N_RUNNERS; i++)
        if (co == __atomic_load_n(&seen[i], __ATOMIC_RELAXED))
            return 1;
    for (size_t i = 0; i < N_RUNNERS; i++)
        if (code_is(co, &loop_runners[i])) {
            __atomic_store_n(&seen[i], co, __ATOMIC_RELAXED);
            return 1;
        }
    return 0;
}

/* In a fork child, the innermost Python frame of the thread that forked,
 * as it was then: it and every frame outside it are the parent's. A loop
 * run by those is the parent's, whose callback the child is still in (as
 * the C loops' dormant marks, registry.c); a loop the child runs itself
 * has its runner inside it. Set before each fork; the parent puts its own
 * value (NULL, or the one it got as a child) back. */
static const char *fork_frame, *fork_saved;

void lg__py_fork_prepare(void)
{
    fork_saved = fork_frame;
    if (L)
        fork_frame = first_frame();
}

void lg__py_fork_parent(void)
{
    fork_frame = fork_saved;
}

int lg__py_running(void)
{
    return L && first_frame() != NULL;
}

const void *lg__py_loop(void)
{
    for (struct walk w = {0}; walk_next(&w);) {
        if (fork_frame && w.f == fork_frame)
            return NULL;
        if (is_runner(w.co))
            return ptr_at(w.f, FR_LOCALS);
    }
    return NULL;
}

int lg__py_own_poll(void)
{
    /* The selector's select, called by the loop's turn. */
    struct walk w = {0};
    return walk_next(&w) &&
           str_is(ptr_at(w.co, CO_QUALNAME), "Selector.select", 0) &&
           str_is(ptr_at(w.co, CO_FILENAME), "/selectors.py", 0) &&
           walk_next(&w) && is_runner(w.co);
}

/* CPython's own waits, by the Python function that makes them: the
 * innermost frame not looked through decides. */
static const struct {
    struct py_func fn;
    uint8_t own;              /* 0: looked through */
} own_waits[] = {
    {{"/threading.py", "Condition.wait"}, 0},
    {{"/threading.py", "Event.wait"}, 0},
    /* The new thread sets the event first, before any code of the
     * program runs on it. */
    {{"/threading.py", "Thread.start"}, 1},
    /* A Condition's lock, taken by `with cond:` (or a Queue's methods):
     * a mutex, which no receive is. */
    {{"/threading.py", "Condition.__enter__"}, 1},
    /* The child's exec: the pipe closes when it happens. */
    {{"/subprocess.py", "Popen._execute_child"}, 1},
    {{"/threading.py", "Thread.join"}, 0},
    {{"/threading.py", "Thread._wait_for_tstate_lock"}, 0},
    /* asyncio.run's last step joins the thread that shut the executor
     * down, once it said so. */
    {{"/asyncio/base_events.py", "BaseEventLoop.shutdown_default_executor"},
     1},
};

int lg__py_own_wait(void)
{
    int innermost = 1;
    for (struct walk w = {0}; walk_next(&w); innermost = 0) {
        /* `with lock:` takes a mutex (a lock wait made by the statement
         * itself, the innermost frame at its BEFORE_WITH), as
         * pthread_mutex_lock does, which no receive is. */
        if (innermost &&
            (uint8_t)w.co[L->co_code + 2 * (long)w.lasti] == L->op_with)
            return 1;
        size_t i = 0, n = sizeof own_waits / sizeof *own_waits;
        while (i < n && !code_is(w.co, &own_waits[i].fn))
            i++;
        if (i == n)
            return 0;
        if (own_waits[i].own)
            return 1;
    }
    return 0;
}

int lg__py_own_handler(int sig, const void *handler)
{
    /* CPython's C handler only flags the signal for the main thread's
     * eval loop, and SIGINT's default Python handler raises
     * KeyboardInterrupt: an interrupt is no way out of a deadlock. A
     * Python handler the program sets for SIGINT comes through the same C
     * handler and is not told apart (docs/guide.md says so). Any other
     * signal's handler was set by the program. */
    Dl_info h, rt;
    return sig == SIGINT && layout != 0 && dladdr(handler, &h) &&
           dladdr(runtime, &rt) && h.dli_fbase == rt.dli_fbase;
}

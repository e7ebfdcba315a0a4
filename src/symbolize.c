/* Address to (module, offset, symbol) through a per-module table of the
 * file's own symbols (elf-symtab.c), built the first time a module needs
 * it and kept forever; dladdr for modules without one. Report path only;
 * never calls malloc, and never calls into the loader while holding the
 * module lock (dladdr takes the loader lock, which a loader callback may
 * hold while it re-enters us). */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "elf-symtab.h"
#include "lg-internal.h"

#define MOD_MAX 256           /* modules with a table; later ones get none */
#define PATH_BUF 4096
#define MAPS_BUF 2048         /* longer /proc/self/maps lines are skipped */

enum mod_state { MOD_FREE, MOD_BUILDING, MOD_READY };

/* A slot is claimed (BUILDING) under `lock`, filled without it, and
 * published (READY) under it; a READY slot never changes again, so its
 * fields may be read without the lock once READY was seen under it. The
 * key is (base, path hash): after dlclose another object may reuse a base,
 * and one object may be loaded at two bases. */
struct module {
    uintptr_t base;               /* link map l_addr */
    uint64_t hash;                /* FNV-1a of the loader's path */
    pid_t builder;                /* process filling a BUILDING slot: a
                                     fork copy is taken over by the child */
    int state;                    /* enum mod_state */
    const char *path;             /* absolute path when the loader's is
                                     relative, else NULL */
    struct lg__elf_symtab tab;    /* empty when the file gave no names */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct module mods[MOD_MAX];
static unsigned nmods;
static char exe_buf[PATH_BUF];    /* readlink of /proc/self/exe */
static int exe_done;              /* atomic: exe_buf is set */
static int lock_registered;       /* atomic */

static void lock_init(void)
{
    /* Registered at first use rather than in a constructor: by then
     * lg__init() has run, whatever the constructor order was. */
    if (!__atomic_load_n(&lock_registered, __ATOMIC_ACQUIRE)
        && !__atomic_exchange_n(&lock_registered, 1, __ATOMIC_ACQ_REL))
        lg__lock_register(&lock);
}

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    return h;
}

/* The main program's path. Its link map name is "", and dladdr's
 * dli_fname is argv[0], which may be relative or made up. */
static const char *exe_path(void)
{
    if (!__atomic_load_n(&exe_done, __ATOMIC_ACQUIRE)) {
        lock_init();
        pthread_mutex_lock(&lock);
        if (!exe_done) {
            ssize_t n = readlink("/proc/self/exe", exe_buf,
                                 sizeof exe_buf);
            exe_buf[n > 0 && (size_t)n < sizeof exe_buf ? n : 0] = '\0';
            __atomic_store_n(&exe_done, 1, __ATOMIC_RELEASE);
        }
        pthread_mutex_unlock(&lock);
    }
    return exe_buf[0] ? exe_buf : NULL;
}

/* Looks line "start-end perms off dev inode /path" up for addr. Returns
 * 1 and copies the path when it contains addr and names a file. */
static int maps_line(const char *line, size_t len, uintptr_t addr,
                     char *out, size_t cap)
{
    uintptr_t lo = 0, hi = 0;
    size_t i = 0;
    for (; i < len && line[i] != '-'; i++)
        lo = lo * 16 + (uintptr_t)(line[i] <= '9' ? line[i] - '0'
                                                  : (line[i] | 32) - 'a' + 10);
    for (i++; i < len && line[i] != ' '; i++)
        hi = hi * 16 + (uintptr_t)(line[i] <= '9' ? line[i] - '0'
                                                  : (line[i] | 32) - 'a' + 10);
    if (addr < lo || addr >= hi)
        return 0;
    const char *p = memchr(line, '/', len);   /* no '/' before the path */
    if (!p || (size_t)(line + len - p) >= cap)
        return -1;
    memcpy(out, p, (size_t)(line + len - p));
    out[line + len - p] = '\0';
    return 1;
}

/* The absolute path of the file mapped at addr, from /proc/self/maps: the
 * loader keeps relative names ("./lib.so") as given, and the reader of a
 * report may not share our working directory. */
int lg__maps_path(uintptr_t addr, char *out, size_t cap)
{
    char buf[MAPS_BUF];
    size_t have = 0;
    int found = -1, skipping = 0;
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    for (;;) {
        ssize_t n = read(fd, buf + have, sizeof buf - have);
        if (n <= 0)
            break;
        have += (size_t)n;
        char *line = buf, *nl;
        while ((nl = memchr(line, '\n', have - (size_t)(line - buf)))) {
            int r = skipping ? 0 : maps_line(line, (size_t)(nl - line),
                                             addr, out, cap);
            skipping = 0;
            line = nl + 1;
            if (r != 0) {
                found = r > 0 ? 0 : -1;
                goto done;
            }
        }
        have -= (size_t)(line - buf);
        memmove(buf, line, have);
        if (have == sizeof buf) {         /* a line too long: drop it */
            have = 0;
            skipping = 1;
        }
    }
done:
    close(fd);
    return found;
}

static struct module *module_find(uintptr_t base, uint64_t hash)
{
    for (unsigned i = 0; i < nmods; i++)
        if (mods[i].base == base && mods[i].hash == hash)
            return &mods[i];
    return NULL;
}

struct note_query {
    uintptr_t addr;                       /* in the module */
    size_t len;                           /* 0: no build-id */
    unsigned char id[LG__BUILD_ID_MAX];
};

static int note_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
    struct note_query *q = arg;
    int mine = 0;
    (void)size;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
        mine |= ph->p_type == PT_LOAD && q->addr - lo < ph->p_memsz;
    }
    for (int i = 0; mine && i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        const char *p = (const char *)(info->dlpi_addr + ph->p_vaddr);
        const char *end = p + (ph->p_type == PT_NOTE ? ph->p_memsz : 0);
        while (end - p >= (ptrdiff_t)sizeof(ElfW(Nhdr))) {
            const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)p;
            size_t name = (nh->n_namesz + 3) & ~(size_t)3;
            size_t desc = (nh->n_descsz + 3) & ~(size_t)3;
            size_t left = (size_t)(end - p) - sizeof *nh;
            if (name > left || desc > left - name)
                break;
            p += sizeof *nh + name;
            if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4
                && nh->n_descsz <= sizeof q->id) {
                memcpy(q->id, p, nh->n_descsz);
                q->len = nh->n_descsz;
                return 1;
            }
            p += desc;
        }
    }
    return mine;
}

/* Fills a claimed slot. Runs without the lock: it opens and maps files,
 * dl_iterate_phdr takes the loader lock, and lg__arena_alloc takes the
 * arena lock; none may nest inside ours. */
static void module_fill(struct module *m, const char *path, int is_exe,
                        uintptr_t addr)
{
    char buf[PATH_BUF];
    const char *real = path;
    if (!is_exe && path[0] != '/' &&
        lg__maps_path(addr, buf, sizeof buf) == 0) {
        size_t len = strlen(buf) + 1;
        char *copy = lg__arena_alloc(len);
        if (copy) {
            memcpy(copy, buf, len);
            m->path = real = copy;
        }
    }
    /* Never open a relative name: it would be looked up in our cwd. The
     * running program is opened through /proc, which still finds it when
     * the file was replaced or deleted. */
    if (real[0] != '/')
        return;
    /* The loaded object's build-id, from memory: a package upgrade may
     * have replaced the file since it was loaded. */
    struct note_query q = {.addr = addr};
    dl_iterate_phdr(note_cb, &q);
    lg__elf_symtab_load(is_exe ? "/proc/self/exe" : real, real, q.id, q.len,
                        &m->tab);
}

/* The module loaded at base from path, its table built on first use. NULL
 * when the table of modules is full. */
static const struct module *module_get(uintptr_t base, const char *path,
                                       int is_exe, uintptr_t addr)
{
    struct timespec nap = {0, 1000000};
    uint64_t hash = fnv1a(path);
    struct module *m;

    lock_init();
    pthread_mutex_lock(&lock);
    for (;;) {
        m = module_find(base, hash);
        if (!m && nmods == MOD_MAX) {
            pthread_mutex_unlock(&lock);
            return NULL;
        }
        if (!m) {
            m = &mods[nmods++];
            m->base = base;
            m->hash = hash;
            break;
        }
        if (m->state == MOD_READY) {
            pthread_mutex_unlock(&lock);
            return m;
        }
        if (m->builder != getpid()) {
            memset(&m->tab, 0, sizeof m->tab);
            m->path = NULL;
            break;            /* its builder is in the parent of a fork */
        }
        /* Another thread is building it: a few ms, once per module. */
        pthread_mutex_unlock(&lock);
        nanosleep(&nap, NULL);
        pthread_mutex_lock(&lock);
    }
    m->state = MOD_BUILDING;
    m->builder = getpid();
    pthread_mutex_unlock(&lock);

    module_fill(m, path, is_exe, addr);

    pthread_mutex_lock(&lock);
    m->state = MOD_READY;
    pthread_mutex_unlock(&lock);
    return m;
}

typedef int (*find_object_fn)(void *pc, struct dl_find_object *res);

static find_object_fn find_object;    /* atomic: glibc >= 2.35, or NULL */
static int find_object_done;          /* atomic */

/* The object containing addr through _dl_find_object: lock-free and no
 * symbol search, where dladdr walks every dynamic symbol of the object
 * (7 us in libc). Looked up at run time so older glibc still loads us. */
static struct link_map *fast_link_map(uintptr_t addr)
{
    find_object_fn f = __atomic_load_n(&find_object, __ATOMIC_ACQUIRE);
    if (!f && !__atomic_load_n(&find_object_done, __ATOMIC_ACQUIRE)) {
        void *p = dlvsym(RTLD_DEFAULT, "_dl_find_object", "GLIBC_2.35");
        f = (find_object_fn)p;
        __atomic_store_n(&find_object, f, __ATOMIC_RELEASE);
        __atomic_store_n(&find_object_done, 1, __ATOMIC_RELEASE);
    }
    struct dl_find_object res;
    if (!f || f((void *)addr, &res) != 0)
        return NULL;
    return res.dlfo_link_map;
}

/* Answers from the module's table; 0 when it has none (no file, full
 * cache, no function symbols at all): then dladdr is asked. */
static int from_table(struct lg__sym *out, const struct link_map *lm,
                      uintptr_t addr)
{
    const char *lname = lm->l_name ? lm->l_name : "";
    int is_exe = lname[0] == '\0';
    const char *path = is_exe ? exe_path() : lname;
    if (!path)
        return 0;
    const struct module *m = module_get(lm->l_addr, path, is_exe, addr);
    if (!m || m->tab.n == 0)
        return 0;
    uint64_t start;
    const char *name = lg__elf_symtab_find(&m->tab, addr - lm->l_addr,
                                           &start);
    out->module = m->path ? m->path : path;
    out->modoff = out->pc - lm->l_addr;
    if (name) {
        out->name = name;
        out->symoff = out->modoff - (uintptr_t)start;
    }
    return 1;
}

static void resolve(struct lg__sym *out, const Dl_info *info,
                    const struct link_map *lm, uintptr_t addr)
{
    const char *lname = lm->l_name ? lm->l_name : "";
    int is_exe = lname[0] == '\0';
    const char *path = is_exe ? exe_path() : lname;
    if (!path)
        path = info->dli_fname;
    if (!path)
        return;
    out->module = path;
    out->modoff = out->pc - lm->l_addr;
    if (info->dli_sname) {
        out->name = info->dli_sname;
        out->symoff = out->pc - (uintptr_t)info->dli_saddr;
    }
    /* Relative names contain a '/'; "linux-vdso.so.1" has no file. */
    int relative = !is_exe && lname[0] != '/' && strchr(lname, '/');
    if (out->name && !relative)
        return;
    const struct module *m = module_get(lm->l_addr, path, is_exe, addr);
    if (!m)
        return;
    if (m->path)
        out->module = m->path;
    uint64_t start;
    const char *name = out->name ? NULL
                       : lg__elf_symtab_find(&m->tab, addr - lm->l_addr,
                                             &start);
    if (name) {
        out->name = name;
        out->symoff = out->modoff - (uintptr_t)start;
    }
}

void lg__symbolize(uintptr_t pc, int is_return, struct lg__sym *out)
{
    int saved = errno;
    /* A return address may be the first byte after its function (a call
     * to a noreturn function ends it): pc - 1 lies inside the call. */
    uintptr_t addr = is_return && pc ? pc - 1 : pc;
    Dl_info info;
    struct link_map *lm = NULL;

    out->pc = pc;
    out->module = NULL;
    out->modoff = pc;
    out->name = NULL;
    out->symoff = 0;
    if (!pc)
        return;
    lm = fast_link_map(addr);
    if (!lm || !from_table(out, lm, addr)) {
        lm = NULL;
        if (dladdr1((void *)addr, &info, (void **)&lm, RTLD_DL_LINKMAP)
            && lm)
            resolve(out, &info, lm, addr);
    }
    errno = saved;
}

struct span_query {
    uintptr_t addr, lo, hi;
};

static int span_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
    struct span_query *q = arg;
    uintptr_t lo = UINTPTR_MAX, hi = 0;
    int mine = 0;
    (void)size;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD)
            continue;
        uintptr_t a = info->dlpi_addr + ph->p_vaddr;
        lo = a < lo ? a : lo;
        hi = a + ph->p_memsz > hi ? a + ph->p_memsz : hi;
        mine |= q->addr - a < ph->p_memsz;
    }
    if (mine) {
        q->lo = lo;
        q->hi = hi;
    }
    return mine;
}

/* Through dl_iterate_phdr, not _dl_find_object: glibc before 2.35 has no
 * such call, and this runs once per loop entry point. */
int lg__object_span(const void *addr, uintptr_t *lo, uintptr_t *hi)
{
    struct span_query q = {(uintptr_t)addr, 0, 0};
    if (!dl_iterate_phdr(span_cb, &q))
        return -ENOENT;
    *lo = q.lo;
    *hi = q.hi;
    return 0;
}

/* loopguard-symbolizer's DWARF side (docs/internals.md, "Source lines"):
 * the functions inlined at an address of a module file, then the one it
 * is in, with their files and lines, read with elfutils' libdw. The
 * helper's main (loopguard-symbolizer.c) answers its host with it; the
 * fuzzer fuzz-dwarf feeds it any file. Modules stay open, the least
 * recently used closed for a new one. */
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwelf.h>
#include <elfutils/libdwfl.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "symbolizer-dwarf.h"

#define MAX_MODULES 64        /* open at once; the least recently used
                                 one is closed for a new one */
#define PATH_MAX_ 4096

struct module {
    char path[PATH_MAX_];
    Dwfl *dwfl;               /* NULL: the file could not be reported */
    Dwfl_Module *mod;
    Dwarf_Addr bias;          /* the module's placement in dwfl */
    unsigned long used;       /* last use, for eviction */
};

static struct module mods[MAX_MODULES];
static unsigned long clock_;

#define DEBUG_ROOT "/usr/lib/debug"

/* Whether the ELF file open at fd has the build-id of mod (or mod has
 * none to compare). */
static int same_build_id(Dwfl_Module *mod, int fd)
{
    const unsigned char *want;
    GElf_Addr at;
    int n = dwfl_module_build_id(mod, &want, &at);
    if (n <= 0)
        return 1;
    Elf *e = elf_begin(fd, ELF_C_READ_MMAP, NULL);
    const void *have;
    int ok = e && dwelf_elf_gnu_build_id(e, &have) == n &&
             memcmp(have, want, (size_t)n) == 0;
    if (e)
        elf_end(e);
    return ok;
}

/* Debug files are looked for on this machine only, in gdb's order: by
 * build-id under /usr/lib/debug, then the .gnu_debuglink name next to the
 * file, in .debug/ beside it, and under /usr/lib/debug. Never through
 * debuginfod, which dwfl_standard_find_debuginfo falls back to (loading
 * libcurl, even with no server to ask): a report must not go to the
 * network. */
static int find_debuginfo(Dwfl_Module *mod, void **userdata,
                          const char *modname, GElf_Addr base,
                          const char *file_name, const char *debuglink,
                          GElf_Word crc, char **found)
{
    int fd = dwfl_build_id_find_debuginfo(mod, userdata, modname, base,
                                          file_name, debuglink, crc, found);
    if (fd >= 0 || !debuglink || !file_name || file_name[0] != '/')
        return fd;
    char dir[PATH_MAX_], path[PATH_MAX_];
    snprintf(dir, sizeof dir, "%s", file_name);
    *strrchr(dir, '/') = '\0';
    static const char *const pre[] = {"", "", DEBUG_ROOT};
    static const char *const mid[] = {"/", "/.debug/", "/"};
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s%s%s%s", pre[i], dir, mid[i],
                 debuglink);
        if (strcmp(path, file_name) == 0)
            continue;
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        if (same_build_id(mod, fd)) {
            *found = strdup(path);
            return fd;
        }
        close(fd);
    }
    return -1;
}

static const Dwfl_Callbacks callbacks = {
    .find_elf = dwfl_build_id_find_elf,
    .find_debuginfo = find_debuginfo,
    .section_address = dwfl_offline_section_address,
};

static void module_open(struct module *m, const char *path)
{
    snprintf(m->path, sizeof m->path, "%s", path);
    m->dwfl = dwfl_begin(&callbacks);
    m->mod = NULL;
    if (!m->dwfl)
        return;
    dwfl_report_begin(m->dwfl);
    /* Base 0: the module's addresses are its link-time ones, which is what
     * the host sends (pc minus the load bias). */
    m->mod = dwfl_report_elf(m->dwfl, path, path, -1, 0, false);
    dwfl_report_end(m->dwfl, NULL, NULL);
    if (m->mod && !dwfl_module_getelf(m->mod, &m->bias))
        m->mod = NULL;
}

static struct module *module_get(const char *path)
{
    struct module *victim = &mods[0];
    for (int i = 0; i < MAX_MODULES; i++) {
        struct module *m = &mods[i];
        if (m->used && strcmp(m->path, path) == 0) {
            m->used = ++clock_;
            return m;
        }
        if (m->used < victim->used)
            victim = m;
    }
    if (victim->dwfl)
        dwfl_end(victim->dwfl);
    module_open(victim, path);
    victim->used = ++clock_;
    return victim;
}

/* The name a report shows: the linkage name when there is one (the host
 * demangles C++ and Rust), else the plain one; both through the abstract
 * origin of an inlined instance. */
static const char *die_name(Dwarf_Die *d)
{
    Dwarf_Attribute a;
    const char *n = dwarf_formstring(
        dwarf_attr_integrate(d, DW_AT_linkage_name, &a));
    if (!n)
        n = dwarf_formstring(
            dwarf_attr_integrate(d, DW_AT_MIPS_linkage_name, &a));
    if (!n)
        n = dwarf_diename(d);
    return n ? n : "";
}

/* A file name relative to its compilation directory is joined to it when
 * that is absolute: the reader of a report is elsewhere. */
static const char *full_path(const char *file, const char *dir, char *buf,
                             size_t cap)
{
    if (!file || file[0] == '/' || !dir || dir[0] != '/')
        return file ? file : "";
    while (file[0] == '.' && file[1] == '/')
        file += 2;
    snprintf(buf, cap, "%s/%s", dir, file);
    return buf;
}

static int is_function(Dwarf_Die *d)
{
    int tag = dwarf_tag(d);
    return tag == DW_TAG_subprogram || tag == DW_TAG_inlined_subroutine;
}

#define NEST_MAX 256          /* DIEs nested around an address */

/* DIEs without an address that may hold functions that have one: Rust
 * puts its functions inside namespaces, C++ its methods inside classes. */
static int is_container(int tag)
{
    return tag == DW_TAG_namespace || tag == DW_TAG_structure_type ||
           tag == DW_TAG_class_type || tag == DW_TAG_union_type ||
           tag == DW_TAG_module;
}

/* Appends to path[] the DIEs under parent that contain pc, outermost
 * first, as they are nested in the file (an inlined instance inside the
 * function it was inlined into). Returns the new depth. dwarf_getscopes
 * would do, but it does not look inside namespaces (elfutils 0.188), so
 * it finds nothing in Rust. */
static int nest(Dwarf_Die *parent, Dwarf_Addr pc, Dwarf_Die *path,
                int depth)
{
    Dwarf_Die c;
    if (depth == NEST_MAX || dwarf_child(parent, &c) != 0)
        return depth;
    do {
        if (dwarf_haspc(&c, pc) > 0) {
            path[depth] = c;
            return nest(&c, pc, path, depth + 1);
        }
        if (is_container(dwarf_tag(&c))) {
            int d = nest(&c, pc, path, depth);
            if (d > depth)
                return d;
        }
    } while (dwarf_siblingof(&c, &c) == 0);
    return depth;
}

#define CHAIN_MAX 256         /* nested inlined instances looked at */

struct link {
    const char *func;
    const char *file;         /* as the debug information has it */
    const char *dir;          /* its compilation directory */
    int line;
};

/* The chain at addr in m, innermost first: the functions inlined there,
 * then the one the address is in. Returns the count. */
static int chain(struct module *m, Dwarf_Addr addr, struct link *c)
{
    Dwarf_Addr bias = 0;
    Dwfl_Line *line = dwfl_module_getsrc(m->mod, addr);
    int lineno = 0;
    const char *src = line ? dwfl_lineinfo(line, NULL, &lineno, NULL, NULL,
                                           NULL)
                           : NULL;
    Dwarf_Die *cu = dwfl_module_addrdie(m->mod, addr, &bias);
    static Dwarf_Die path[NEST_MAX];
    int depth = cu ? nest(cu, addr - bias, path, 0) : 0;
    Dwarf_Files *files = NULL;
    Dwarf_Attribute a;
    const char *dir = cu ? dwarf_formstring(dwarf_attr(cu, DW_AT_comp_dir,
                                                        &a))
                         : NULL;
    if (cu && dwarf_getsrcfiles(cu, &files, NULL) != 0)
        files = NULL;
    struct link next = {"", src, line ? dwfl_line_comp_dir(line) : NULL,
                        lineno};
    int n = 0;
    for (int i = depth - 1; i >= 0 && n < CHAIN_MAX; i--) {
        Dwarf_Die *d = &path[i];
        if (!is_function(d))
            continue;
        c[n] = next;
        c[n++].func = die_name(d);
        if (dwarf_tag(d) == DW_TAG_subprogram)
            break;
        /* Where this instance was inlined: the next one's location. */
        Dwarf_Word v = 0;
        next = (struct link){"", NULL, dir, 0};
        if (files &&
            dwarf_formudata(dwarf_attr(d, DW_AT_call_file, &a), &v) == 0)
            next.file = dwarf_filesrc(files, v, NULL, NULL);
        if (dwarf_formudata(dwarf_attr(d, DW_AT_call_line, &a), &v) == 0)
            next.line = (int)v;
    }
    if (n == 0 && src)        /* a line table without the function's DIE */
        c[n++] = next;
    return n;
}

/* Fills f[] for addr in m, strings in bufs[]: returns the frame count.
 * A chain deeper than LG__SYMP_DEPTH keeps its innermost links and the
 * function the address is in. */
static int lookup(struct module *m, uint64_t vaddr,
                  struct lg__symp_frame *f,
                  char (*bufs)[LG__SYMP_STR_MAX + 1])
{
    static struct link c[CHAIN_MAX];
    if (!m->mod)
        return 0;
    int n = chain(m, vaddr + m->bias, c);
    int shown = n < LG__SYMP_DEPTH ? n : LG__SYMP_DEPTH;
    for (int i = 0; i < shown; i++) {
        const struct link *l = &c[i == shown - 1 ? n - 1 : i];
        f[i].func = l->func;
        f[i].line = (uint32_t)(l->line > 0 ? l->line : 0);
        f[i].file = full_path(l->file, l->dir, bufs[i], sizeof bufs[i]);
    }
    return shown;
}

int lg__dwarf_lookup(const char *path, uint64_t addr,
                     struct lg__symp_frame *f,
                     char (*bufs)[LG__SYMP_STR_MAX + 1])
{
    return path[0] == '/' ? lookup(module_get(path), addr, f, bufs) : 0;
}

void lg__dwarf_forget(void)
{
    for (int i = 0; i < MAX_MODULES; i++) {
        if (mods[i].dwfl)
            dwfl_end(mods[i].dwfl);
        memset(&mods[i], 0, sizeof mods[i]);
    }
    clock_ = 0;
}

/* Function symbols of an ELF file, read from a read-only mapping, sorted
 * into an arena table and searched by address. Stripped files fall back to
 * a debug file under /usr/lib/debug (build-id) or named by .gnu_debuglink.
 * Runs with in_shim set, on report paths only; never calls malloc (no
 * qsort: glibc's may allocate), so the sort is a heapsort. */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "elf-symtab.h"
#include "lg-internal.h"

#define MAX_FILE ((off_t)512 << 20)      /* larger files are not read */
#define MAX_TABLES ((size_t)256 << 20)   /* arena bytes for all tables */
#define DEBUG_ROOT "/usr/lib/debug"
#define PATH_BUF 4096

/* While a table is built, the top three bits of `name` rank the aliases
 * of one address (a file's offsets are below 512 MiB, MAX_FILE): "write"
 * rather than "__write" or the local "__GI___write". */
#define RANK_SHIFT 29
#define RANK_SIZED (4u << RANK_SHIFT)    /* the symbol has a size */
#define RANK_GLOBAL (2u << RANK_SHIFT)   /* global or weak: the API name */
#define RANK_PLAIN (1u << RANK_SHIFT)    /* no leading underscore */
#define NAME_MASK ((1u << RANK_SHIFT) - 1)

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define HOST_DATA ELFDATA2LSB
#else
#define HOST_DATA ELFDATA2MSB
#endif


static size_t tables_bytes;       /* atomic: arena used by all tables */

void lg__elf_close(struct lg__elf_file *f)
{
    if (f->base)
        munmap((void *)f->base, f->size);
    if (f->fd >= 0)
        close(f->fd);
    f->base = NULL;
    f->fd = -1;
}

static int elf_headers(struct lg__elf_file *f)
{
    const Elf64_Ehdr *eh = (const Elf64_Ehdr *)f->base;
    if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0
        || eh->e_ident[EI_CLASS] != ELFCLASS64
        || eh->e_ident[EI_DATA] != HOST_DATA
        || eh->e_shentsize != sizeof(Elf64_Shdr) || eh->e_shoff == 0
        || eh->e_shoff % 8 != 0 || eh->e_shoff >= f->size)
        return -ENOEXEC;
    size_t room = (f->size - eh->e_shoff) / sizeof(Elf64_Shdr);
    f->sh = (const Elf64_Shdr *)(f->base + eh->e_shoff);
    /* More than 0xff00 sections: the count moves to section 0. */
    f->shnum = eh->e_shnum ? eh->e_shnum : (room ? f->sh[0].sh_size : 0);
    if (f->shnum == 0 || f->shnum > room)
        return -ENOEXEC;
    return 0;
}

int lg__elf_open(const char *path, struct lg__elf_file *f)
{
    struct stat st;
    f->base = NULL;
    f->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (f->fd < 0)
        return -errno;
    int err = -ENOEXEC;
    if (fstat(f->fd, &st) != 0)
        err = -errno;
    else if (!S_ISREG(st.st_mode) || st.st_size > MAX_FILE)
        err = -EFBIG;
    else if (st.st_size >= (off_t)sizeof(Elf64_Ehdr)) {
        void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE,
                       f->fd, 0);
        if (m != MAP_FAILED) {
            f->base = m;
            f->size = (size_t)st.st_size;
            err = elf_headers(f);
        } else {
            err = -errno;
        }
    }
    if (err)
        lg__elf_close(f);
    return err;
}

/* A section's bytes, or NULL when they are not all in the file. */
const void *lg__elf_sec_data(const struct lg__elf_file *f, const Elf64_Shdr *s,
                            size_t align)
{
    if (s->sh_type == SHT_NOBITS || s->sh_offset > f->size
        || s->sh_size > f->size - s->sh_offset || s->sh_offset % align)
        return NULL;
    return f->base + s->sh_offset;
}

/* The index of the first usable symbol table of `type`, or 0. */
size_t lg__elf_find_symtab(const struct lg__elf_file *f, uint32_t type)
{
    for (size_t i = 1; i < f->shnum; i++) {
        const Elf64_Shdr *s = &f->sh[i];
        if (s->sh_type != type || s->sh_entsize != sizeof(Elf64_Sym)
            || s->sh_link == 0 || s->sh_link >= f->shnum)
            continue;
        const Elf64_Shdr *str = &f->sh[s->sh_link];
        const char *strs = lg__elf_sec_data(f, str, 1);
        if (lg__elf_sec_data(f, s, 8) && str->sh_type == SHT_STRTAB && strs
            && str->sh_size > 0 && strs[str->sh_size - 1] == '\0')
            return i;
    }
    return 0;
}

/* Bytes from value to the end of its section; 0 when unknown. */
static uint32_t section_rest(const struct lg__elf_file *f, const Elf64_Sym *s)
{
    if (s->st_shndx >= f->shnum)
        return 0;
    const Elf64_Shdr *sec = &f->sh[s->st_shndx];
    if (s->st_value < sec->sh_addr || s->st_value >= sec->sh_addr
                                                     + sec->sh_size)
        return 0;
    uint64_t rest = sec->sh_addr + sec->sh_size - s->st_value;
    return rest > UINT32_MAX ? UINT32_MAX : (uint32_t)rest;
}

int lg__elf_is_func(const Elf64_Sym *s)
{
    unsigned type = ELF64_ST_TYPE(s->st_info);
    return (type == STT_FUNC || type == STT_GNU_IFUNC) && s->st_value != 0 &&
           s->st_shndx != SHN_UNDEF &&
           (s->st_shndx < SHN_LORESERVE || s->st_shndx == SHN_XINDEX);
}

/* Counts the functions of a symbol table, and stores them when out is not
 * NULL. Undefined, absolute and address-0 symbols name nothing. */
static size_t collect(const struct lg__elf_file *f, size_t idx,
                      struct lg__elf_func *out)
{
    const Elf64_Shdr *sec = &f->sh[idx];
    const Elf64_Sym *syms = lg__elf_sec_data(f, sec, 8);
    size_t nsyms = sec->sh_size / sizeof(Elf64_Sym);
    const Elf64_Shdr *strsec = &f->sh[sec->sh_link];
    const char *strs = (const char *)f->base + strsec->sh_offset;
    size_t n = 0;

    for (size_t i = 1; i < nsyms; i++) {
        const Elf64_Sym *s = &syms[i];
        if (!lg__elf_is_func(s) || s->st_name == 0
            || s->st_name >= strsec->sh_size)
            continue;
        if (out) {
            uint32_t rank = ELF64_ST_BIND(s->st_info) != STB_LOCAL
                                ? RANK_GLOBAL : 0;
            if (strs[s->st_name] != '_')
                rank |= RANK_PLAIN;
            out[n].value = s->st_value;
            if (s->st_size) {
                out[n].size = s->st_size > UINT32_MAX ? UINT32_MAX
                                                      : (uint32_t)s->st_size;
                rank |= RANK_SIZED;
            } else {
                out[n].size = section_rest(f, s);
            }
            out[n].name = s->st_name | rank;
        }
        n++;
    }
    return n;
}

/* Address order; at one address the best-ranked name comes first. */
static int func_before(const struct lg__elf_func *a,
                       const struct lg__elf_func *b)
{
    if (a->value != b->value)
        return a->value < b->value;
    return (a->name & ~NAME_MASK) > (b->name & ~NAME_MASK);
}

static void sift_down(struct lg__elf_func *v, size_t root, size_t n)
{
    struct lg__elf_func tmp = v[root];
    for (;;) {
        size_t child = 2 * root + 1;
        if (child >= n)
            break;
        if (child + 1 < n && func_before(&v[child], &v[child + 1]))
            child++;
        if (!func_before(&tmp, &v[child]))
            break;
        v[root] = v[child];
        root = child;
    }
    v[root] = tmp;
}

static void heap_sort(struct lg__elf_func *v, size_t n)
{
    for (size_t i = n / 2; i-- > 0;)
        sift_down(v, i, n);
    for (size_t end = n; end-- > 1;) {
        struct lg__elf_func tmp = v[0];
        v[0] = v[end];
        v[end] = tmp;
        sift_down(v, 0, end);
    }
}

/* Keeps the best name per address and gives each size-0 symbol the bytes
 * up to the next symbol (or its section's end); returns the new count. */
static size_t finish(struct lg__elf_func *v, size_t n)
{
    size_t out = 0;
    for (size_t i = 0; i < n; i++)
        if (out == 0 || v[out - 1].value != v[i].value)
            v[out++] = v[i];
    for (size_t i = 0; i < out; i++) {
        if (!(v[i].name & RANK_SIZED)) {
            uint64_t lim = v[i].size ? v[i].size : UINT32_MAX;
            if (i + 1 < out && v[i + 1].value - v[i].value < lim)
                lim = v[i + 1].value - v[i].value;
            else if (i + 1 == out && v[i].size == 0)
                lim = 1;      /* last, section unknown: its address only */
            v[i].size = (uint32_t)lim;
        }
        v[i].name &= NAME_MASK;
    }
    return out;
}

/* The GNU build-id of a file, or 0 bytes. */
static size_t build_id(const struct lg__elf_file *f, const unsigned char **id)
{
    for (size_t i = 1; i < f->shnum; i++) {
        const unsigned char *p = lg__elf_sec_data(f, &f->sh[i], 4);
        if (f->sh[i].sh_type != SHT_NOTE || !p)
            continue;
        size_t left = f->sh[i].sh_size;
        while (left >= sizeof(Elf64_Nhdr)) {
            const Elf64_Nhdr *nh = (const Elf64_Nhdr *)p;
            size_t name = (nh->n_namesz + 3) & ~(size_t)3;
            size_t desc = (nh->n_descsz + 3) & ~(size_t)3;
            if (name + desc > left - sizeof *nh)
                break;
            if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4
                && memcmp(p + sizeof *nh, "GNU", 4) == 0 && nh->n_descsz
                && nh->n_descsz <= LG__BUILD_ID_MAX) {
                *id = p + sizeof *nh + name;
                return nh->n_descsz;
            }
            p += sizeof *nh + name + desc;
            left -= sizeof *nh + name + desc;
        }
    }
    return 0;
}

/* The file name stored in .gnu_debuglink, or NULL. */
static const char *debuglink(const struct lg__elf_file *f)
{
    const Elf64_Ehdr *eh = (const Elf64_Ehdr *)f->base;
    size_t shstrndx = eh->e_shstrndx == SHN_XINDEX ? f->sh[0].sh_link
                                                   : eh->e_shstrndx;
    if (shstrndx == 0 || shstrndx >= f->shnum)
        return NULL;
    const Elf64_Shdr *names = &f->sh[shstrndx];
    const char *strs = lg__elf_sec_data(f, names, 1);
    if (!strs)
        return NULL;
    for (size_t i = 1; i < f->shnum; i++) {
        const Elf64_Shdr *s = &f->sh[i];
        const char *link = lg__elf_sec_data(f, s, 1);
        if (s->sh_name >= names->sh_size || !link || s->sh_size < 2
            || strncmp(strs + s->sh_name, ".gnu_debuglink",
                       names->sh_size - s->sh_name) != 0)
            continue;
        return memchr(link, '\0', s->sh_size) ? link : NULL;
    }
    return NULL;
}

/* Opens path as the debug file of a stripped file with this build-id. */
static int try_debug(const char *path, const unsigned char *id, size_t idlen,
                     struct lg__elf_file *d, size_t *idx)
{
    if (lg__elf_open(path, d) != 0)
        return 0;
    const unsigned char *did;
    size_t didlen = build_id(d, &did);
    *idx = lg__elf_find_symtab(d, SHT_SYMTAB);
    /* Without build-ids there is nothing to compare (.gnu_debuglink's CRC
     * would mean reading the whole file). */
    if (*idx && (!idlen || !didlen
                 || (didlen == idlen && memcmp(did, id, idlen) == 0)))
        return 1;
    lg__elf_close(d);
    return 0;
}

/* Candidates in gdb's order: build-id, then the debuglink name next to the
 * file, in .debug/ beside it, and under /usr/lib/debug. */
static int find_debug(const struct lg__elf_file *f, const char *real_path,
                      struct lg__elf_file *d, size_t *idx)
{
    static const char hex[] = "0123456789abcdef";
    char path[PATH_BUF];
    struct lg__buf b;
    const unsigned char *id = NULL;
    size_t idlen = build_id(f, &id);

    if (idlen >= 2) {
        lg__buf_init(&b, path, sizeof path);
        lg__buf_str(&b, DEBUG_ROOT "/.build-id/");
        for (size_t i = 0; i < idlen; i++) {
            lg__buf_chr(&b, hex[id[i] >> 4]);
            lg__buf_chr(&b, hex[id[i] & 15]);
            if (i == 0)
                lg__buf_chr(&b, '/');
        }
        lg__buf_str(&b, ".debug");
        if (!b.full && try_debug(path, id, idlen, d, idx))
            return 1;
    }
    const char *link = debuglink(f);
    const char *slash = real_path ? strrchr(real_path, '/') : NULL;
    if (!link || !slash || strchr(link, '/'))
        return 0;
    static const char *const pre[] = {"", "", DEBUG_ROOT};
    static const char *const mid[] = {"/", "/.debug/", "/"};
    for (int i = 0; i < 3; i++) {
        lg__buf_init(&b, path, sizeof path);
        lg__buf_str(&b, pre[i]);
        lg__buf_mem(&b, real_path, (size_t)(slash - real_path));
        lg__buf_str(&b, mid[i]);
        lg__buf_str(&b, link);
        if (!b.full && strcmp(path, real_path) != 0
            && try_debug(path, id, idlen, d, idx))
            return 1;
    }
    return 0;
}

/* Cuts "@VERSION" and "@@VERSION" off the names glibc's .symtab keeps
 * for versioned definitions, as dladdr would show them. Strings may share
 * a tail, but such a tail is then a version for every name using it. */
static void strip_versions(const struct lg__elf_func *v, size_t n,
                           char *strs)
{
    for (size_t i = 0; i < n; i++) {
        char *at = strchr(strs + v[i].name, '@');
        if (at && at != strs + v[i].name)
            *at = '\0';
    }
}

/* Maps only the string table again, privately and writable for
 * strip_versions, so the rest of the file (code, debug info) can be
 * unmapped. Keeps the whole mapping, names unstripped, when that fails. */
static const char *keep_strings(struct lg__elf_file *f, size_t idx,
                                const struct lg__elf_func *v, size_t n)
{
    const Elf64_Shdr *str = &f->sh[f->sh[idx].sh_link];
    long page = sysconf(_SC_PAGESIZE);
    size_t skip = str->sh_offset % (size_t)(page > 0 ? page : 4096);
    size_t len = str->sh_size + skip;
    char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, f->fd,
                   (off_t)(str->sh_offset - skip));
    if (m != MAP_FAILED) {
        lg__elf_close(f);
        strip_versions(v, n, m + skip);
        mprotect(m, len, PROT_READ);
        return m + skip;
    }
    const char *strs = (const char *)f->base + str->sh_offset;
    close(f->fd);
    f->fd = -1;
    f->base = NULL;       /* stays mapped: the names point into it */
    return strs;
}

static int build_table(struct lg__elf_file *f, size_t idx,
                       struct lg__elf_symtab *t)
{
    size_t n = collect(f, idx, NULL);
    if (n == 0 || n > MAX_TABLES / sizeof(struct lg__elf_func))
        return -ENOENT;
    size_t bytes = n * sizeof(struct lg__elf_func);
    if (__atomic_add_fetch(&tables_bytes, bytes, __ATOMIC_RELAXED)
        > MAX_TABLES) {
        __atomic_sub_fetch(&tables_bytes, bytes, __ATOMIC_RELAXED);
        return -ENOMEM;
    }
    struct lg__elf_func *v = lg__arena_alloc(bytes);
    if (!v)
        return -ENOMEM;
    collect(f, idx, v);
    heap_sort(v, n);
    t->n = finish(v, n);
    t->funcs = v;
    t->strtab = keep_strings(f, idx, v, t->n);
    return 0;
}

int lg__elf_symtab_load(const char *open_path, const char *real_path,
                        const unsigned char *id, size_t id_len,
                        struct lg__elf_symtab *t)
{
    struct lg__elf_file f, d;
    const unsigned char *fid;
    memset(t, 0, sizeof *t);
    int err = lg__elf_open(open_path, &f);
    if (err)
        return err;
    size_t fid_len = build_id(&f, &fid);
    if (id_len && fid_len
        && (fid_len != id_len || memcmp(fid, id, id_len) != 0)) {
        lg__elf_close(&f);
        return -ESTALE;
    }
    size_t idx = lg__elf_find_symtab(&f, SHT_SYMTAB);
    if (idx == 0 && find_debug(&f, real_path, &d, &idx)) {
        err = build_table(&d, idx, t);
        lg__elf_close(&d);
        if (err == 0) {
            t->from_debug = 1;
            lg__elf_close(&f);
            return 0;
        }
        idx = 0;
    }
    if (idx == 0)
        idx = lg__elf_find_symtab(&f, SHT_DYNSYM);
    err = idx ? build_table(&f, idx, t) : -ENOENT;
    lg__elf_close(&f);
    return err;
}

const char *lg__elf_symtab_find(const struct lg__elf_symtab *t,
                                uint64_t vaddr, uint64_t *start)
{
    size_t lo = 0, hi = t->n;
    while (lo < hi) {         /* the first function after vaddr */
        size_t mid = lo + (hi - lo) / 2;
        if (t->funcs[mid].value <= vaddr)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0)
        return NULL;
    const struct lg__elf_func *e = &t->funcs[lo - 1];
    if (vaddr - e->value >= e->size)
        return NULL;
    *start = e->value;
    return t->strtab + e->name;
}

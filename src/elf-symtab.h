/* The sorted function symbols of one ELF file (elf-symtab.c), for the
 * addresses dladdr cannot name: static functions, programs linked without
 * -rdynamic, stripped libraries with a separate debug file, and the
 * one-pass scan of elf-scan.c. Private to symbolize.c, elf-scan.c,
 * loopcat.c and runtime-own.c; nothing here is exported from
 * libloopguard.so. */
#ifndef LG_ELF_SYMTAB_H
#define LG_ELF_SYMTAB_H

#include <elf.h>
#include <stddef.h>
#include <stdint.h>

/* One function. A table is sorted by value and has no two equal values. */
struct lg__elf_func {
    uint64_t value;           /* link-time address (st_value) */
    uint32_t size;            /* bytes; size-0 symbols reach the next one */
    uint32_t name;            /* offset in the string table */
};

/* Immutable once loaded; all of it lives as long as the process. */
struct lg__elf_symtab {
    const struct lg__elf_func *funcs;   /* NULL when n == 0 */
    size_t n;
    const char *strtab;       /* mapped read-only, never unmapped */
    int from_debug;           /* names came from a separate debug file */
};

#define LG__BUILD_ID_MAX 64

/* Loads the function symbols of the file at open_path (.symtab, else those
 * of a debug file found by build-id or .gnu_debuglink, else .dynsym).
 * real_path is the file's name for the debug-file search; it may differ
 * from open_path ("/proc/self/exe"). When id_len is not 0, a file with
 * another build-id is refused (-ESTALE): it replaced the loaded one on
 * disk. Returns 0 or a negative errno, and leaves *t empty on failure.
 * Allocates from the arena; never calls malloc. The caller serialises
 * loads of the same file. */
int lg__elf_symtab_load(const char *open_path, const char *real_path,
                        const unsigned char *id, size_t id_len,
                        struct lg__elf_symtab *t);

/* The name of the function that contains the link-time address vaddr, and
 * its start in *start, or NULL. */
const char *lg__elf_symtab_find(const struct lg__elf_symtab *t,
                                uint64_t vaddr, uint64_t *start);

/* A mapped file whose section headers have been bounds-checked
 * (elf-symtab.c), for elf-scan.c. */
struct lg__elf_file {
    const unsigned char *base;    /* the whole file, or NULL */
    size_t size;
    int fd;                       /* kept open to map the strings again */
    const Elf64_Shdr *sh;
    size_t shnum;
};

/* Maps the file at path and checks its headers: 0 or a negative errno. */
int lg__elf_open(const char *path, struct lg__elf_file *f);
void lg__elf_close(struct lg__elf_file *f);
/* A section's bytes, or NULL when they are not all in the file. */
const void *lg__elf_sec_data(const struct lg__elf_file *f,
                             const Elf64_Shdr *s, size_t align);
/* A defined function (or ifunc) with an address: what names code. */
int lg__elf_is_func(const Elf64_Sym *s);
/* The index of the first usable symbol table of `type`, or 0. */
size_t lg__elf_find_symtab(const struct lg__elf_file *f, uint32_t type);

/* elf-scan.c. Calls cb for every defined function of the file's .symtab,
 * in table order, while the file is mapped: its name, link-time address
 * and size, and whether it belongs to a library linked in from an archive
 * whose symbols start with prefix (it is an object file, an STT_FILE group
 * of .symtab, that has a local so named, or a global so named). Returns 0,
 * or -1 when the file has no .symtab (or cannot be read). */
typedef void (*lg__elf_func_cb)(void *arg, const char *name, uint64_t value,
                                uint64_t size, int lib);
int lg__elf_each_func(const char *path, const char *prefix,
                      lg__elf_func_cb cb, void *arg);

/* Whether the .symtab string table of the file at path holds one of the
 * whole names `names` or a name containing one of `parts` (both NULL-
 * terminated lists, either may be NULL): 1 or 0, without building any
 * table, with the number of .symtab's symbols (a bound on the functions
 * lg__elf_each_func reports) in *nsyms; -1 when the file has no .symtab
 * (or cannot be read). */
int lg__elf_mentions(const char *path, const char *const *names,
                     const char *const *parts, size_t *nsyms);

#endif /* LG_ELF_SYMTAB_H */

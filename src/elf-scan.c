/* One pass over a file's .symtab without building a table: for the
 * runner catalog (loopcat.c), which reads every function's name once at
 * start-up and keeps a few, and decides from the string table alone
 * whether to read them at all. */
#include <elf.h>
#include <string.h>

#include "elf-symtab.h"

/* In .symtab an object's locals follow its STT_FILE symbol, and all
 * globals come last: a local belongs to a library when its group has a
 * local named with the prefix, a global when it is so named itself. */
static void each_func(const struct lg__elf_file *f, size_t idx,
                      const char *prefix, lg__elf_func_cb cb, void *arg)
{
    const Elf64_Shdr *sec = &f->sh[idx];
    const Elf64_Sym *syms = lg__elf_sec_data(f, sec, 8);
    size_t nsyms = sec->sh_size / sizeof(Elf64_Sym);
    const Elf64_Shdr *strsec = &f->sh[sec->sh_link];
    const char *strs = (const char *)f->base + strsec->sh_offset;
    size_t plen = prefix ? strlen(prefix) : 0, group = 1;
#define NAME(s) ((s)->st_name < strsec->sh_size ? strs + (s)->st_name : "")
#define PREFIXED(s) (plen && strncmp(NAME(s), prefix, plen) == 0)
    for (size_t i = 1; i <= nsyms; i++) {
        const Elf64_Sym *s = i < nsyms ? &syms[i] : NULL;
        if (s && ELF64_ST_BIND(s->st_info) == STB_LOCAL &&
            ELF64_ST_TYPE(s->st_info) != STT_FILE)
            continue;
        int lib = 0;          /* the group [group, i) ends here */
        for (size_t j = group; j < i && !lib; j++)
            lib = PREFIXED(&syms[j]);
        for (size_t j = group; j < i; j++)
            if (lg__elf_is_func(&syms[j]))
                cb(arg, NAME(&syms[j]), syms[j].st_value, syms[j].st_size,
                   lib);
        group = i + 1;
        if (s && ELF64_ST_BIND(s->st_info) != STB_LOCAL) {
            for (; i < nsyms; i++)
                if (lg__elf_is_func(&syms[i]))
                    cb(arg, NAME(&syms[i]), syms[i].st_value,
                       syms[i].st_size, PREFIXED(&syms[i]));
            break;
        }
    }
#undef PREFIXED
#undef NAME
}

int lg__elf_each_func(const char *path, const char *prefix,
                       lg__elf_func_cb cb, void *arg)
{
    struct lg__elf_file f;
    if (lg__elf_open(path, &f) != 0)
        return -1;
    size_t idx = lg__elf_find_symtab(&f, SHT_SYMTAB);
    if (idx)
        each_func(&f, idx, prefix, cb, arg);
    lg__elf_close(&f);
    return idx ? 0 : -1;
}

/* Whether one of names (whole names) or parts (anywhere in a name) is in
 * the n bytes of string table s. */
static int strtab_has(const char *s, size_t n, const char *const *names,
                      const char *const *parts)
{
    char pat[128];
    for (size_t i = 0; names && names[i]; i++) {
        size_t len = strlen(names[i]);
        if (len + 2 > sizeof pat)
            continue;
        pat[0] = '\0';       /* a table starts with NUL: every name has one */
        memcpy(pat + 1, names[i], len + 1);
        if (memmem(s, n, pat, len + 2))
            return 1;
    }
    for (size_t i = 0; parts && parts[i]; i++)
        if (memmem(s, n, parts[i], strlen(parts[i])))
            return 1;
    return 0;
}

int lg__elf_mentions(const char *path, const char *const *names,
                     const char *const *parts, size_t *nsyms)
{
    struct lg__elf_file f;
    if (lg__elf_open(path, &f) != 0)
        return -1;
    size_t idx = lg__elf_find_symtab(&f, SHT_SYMTAB);
    int found = -1;
    if (idx) {
        const Elf64_Shdr *str = &f.sh[f.sh[idx].sh_link];
        found = strtab_has((const char *)f.base + str->sh_offset,
                           str->sh_size, names, parts);
        *nsyms = f.sh[idx].sh_size / sizeof(Elf64_Sym);
    }
    lg__elf_close(&f);
    return found;
}

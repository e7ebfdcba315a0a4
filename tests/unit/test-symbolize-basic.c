/* lg__symbolize on single addresses: libc's exported functions and aliases,
 * this program's static functions (its .symtab), libc's static functions
 * (libc6-dbg's build-id file, when installed), the vDSO (dladdr alone),
 * return-address semantics, and addresses outside every object. */
#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "lg-internal.h"
#include "skip.h"

static void *main_return;         /* in libc's __libc_start_call_main */
static jmp_buf tail_jmp;
static void *tail_return;         /* return address of tail's last call */

static __attribute__((noinline, noclone, used)) int static_leaf(int x)
{
    __asm__ volatile("" : "+r"(x));
    return x * 7 + 3;
}

static __attribute__((noinline, noclone, noreturn)) void jump_back(void)
{
    tail_return = __builtin_return_address(0);
    longjmp(tail_jmp, 1);
}

/* Ends with a call to a noreturn function, so its return address is the
 * first byte after it. */
static __attribute__((noinline, noclone, noreturn)) void static_tail(void)
{
    jump_back();
}

static const char *exe_path(void)
{
    static char buf[4096];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    assert_true(n > 0);
    buf[n] = '\0';
    return buf;
}

static uintptr_t load_bias(const void *p)
{
    Dl_info info;
    struct link_map *lm = NULL;
    assert_int_not_equal(dladdr1(p, &info, (void **)&lm, RTLD_DL_LINKMAP),
                         0);
    assert_non_null(lm);
    return lm->l_addr;
}

static void *libc_sym(const char *name, size_t *size)
{
    void *h = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
    assert_non_null(h);
    /* libc's own definition: &read here may be a sanitizer interceptor. */
    void *p = dlsym(h, name);
    assert_non_null(p);
    Dl_info info;
    const ElfW(Sym) *sym = NULL;
    assert_int_not_equal(dladdr1(p, &info, (void **)&sym, RTLD_DL_SYMENT),
                         0);
    assert_non_null(sym);
    *size = sym->st_size;
    dlclose(h);
    return p;
}

static int ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), m = strlen(tail);
    return n >= m && strcmp(s + n - m, tail) == 0;
}

static void test_symbolize_libc_export(void **state)
{
    (void)state;
    size_t size;
    uintptr_t pc = (uintptr_t)libc_sym("read", &size) + 4;
    struct lg__sym s;

    errno = 4242;
    lg__symbolize(pc, 0, &s);
    assert_int_equal(errno, 4242);
    assert_int_equal(s.pc, pc);
    assert_non_null(s.module);
    assert_true(ends_with(s.module, "/libc.so.6"));
    assert_int_equal(s.modoff, pc - load_bias((void *)pc));
    assert_non_null(s.name);
    assert_string_equal(s.name, "read");
    assert_int_equal(s.symoff, 4);

    lg__symbolize(pc, 1, &s);
    assert_string_equal(s.name, "read");
    assert_int_equal(s.symoff, 4);
    assert_int_equal(s.pc, pc);

    /* Of the aliases at one address (dladdr says "__write"), the plain
     * exported name. */
    pc = (uintptr_t)libc_sym("write", &size) + 1;
    lg__symbolize(pc, 0, &s);
    assert_string_equal(s.name, "write");
    assert_int_equal(s.symoff, 1);
}

/* The vDSO has no file, hence no table: dladdr answers. */
static void test_symbolize_vdso(void **state)
{
    (void)state;
    void *h = dlopen("linux-vdso.so.1", RTLD_NOW | RTLD_NOLOAD);
    if (!h)
        LG_SKIP("no vDSO mapped in this process");
    void *p = dlsym(h, "__vdso_clock_gettime");
    assert_non_null(p);
    struct lg__sym s;
    lg__symbolize((uintptr_t)p + 2, 0, &s);
    assert_non_null(s.module);
    assert_string_equal(s.module, "linux-vdso.so.1");
    assert_non_null(s.name);
    assert_non_null(strstr(s.name, "clock_gettime"));
    assert_int_equal(s.symoff, 2);
    assert_int_equal(s.modoff, (uintptr_t)p + 2 - load_bias(p));
}

static void test_symbolize_static(void **state)
{
    (void)state;
    uintptr_t pc = (uintptr_t)&static_leaf + 1;
    struct lg__sym s;

    assert_int_equal(static_leaf(1), 10);
    lg__symbolize(pc, 0, &s);
    assert_int_equal(s.pc, pc);
    assert_non_null(s.module);
    assert_string_equal(s.module, exe_path());
    assert_int_equal(s.modoff, pc - load_bias((void *)pc));
    assert_non_null(s.name);
    assert_string_equal(s.name, "static_leaf");
    assert_int_equal(s.symoff, 1);
}

static void test_symbolize_return(void **state)
{
    (void)state;
    size_t size;
    uintptr_t start = (uintptr_t)libc_sym("read", &size);
    struct lg__sym s;

    /* dladdr path: the first byte after read. */
    lg__symbolize(start + size, 1, &s);
    assert_non_null(s.name);
    assert_string_equal(s.name, "read");
    assert_int_equal(s.symoff, size);
    assert_int_equal(s.pc, start + size);
    lg__symbolize(start + size, 0, &s);
    assert_true(s.name == NULL || strcmp(s.name, "read") != 0);

    /* .symtab path: a static function ending in a call. */
    if (setjmp(tail_jmp) == 0)
        static_tail();
    uintptr_t ret = (uintptr_t)tail_return;
    lg__symbolize(ret, 1, &s);
    assert_non_null(s.name);
    assert_string_equal(s.name, "static_tail");
    assert_int_equal(s.symoff, ret - (uintptr_t)&static_tail);
    lg__symbolize(ret, 0, &s);
    assert_true(s.name == NULL || strcmp(s.name, "static_tail") != 0);
}

static void test_symbolize_unknown(void **state)
{
    (void)state;
    long page = sysconf(_SC_PAGESIZE);
    char *anon = mmap(NULL, (size_t)page, PROT_READ | PROT_EXEC,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(anon != MAP_FAILED);
    uintptr_t pc = (uintptr_t)anon + 16;
    struct lg__sym s;

    lg__symbolize(pc, 1, &s);
    assert_int_equal(s.pc, pc);
    assert_null(s.module);
    assert_int_equal(s.modoff, pc);
    assert_null(s.name);
    assert_int_equal(s.symoff, 0);

    lg__symbolize(0, 1, &s);
    assert_null(s.module);
    assert_null(s.name);
    munmap(anon, (size_t)page);
}

/* Finds libc's build-id in its loaded PT_NOTE segments and checks that
 * libc6-dbg's file for it is installed. */
static int libc_note_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    if (!ends_with(info->dlpi_name, "/libc.so.6"))
        return 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_NOTE)
            continue;
        const char *p = (const char *)(info->dlpi_addr + ph->p_vaddr);
        const char *end = p + ph->p_memsz;
        while (p + sizeof(ElfW(Nhdr)) <= end) {
            const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)p;
            const unsigned char *desc = (const unsigned char *)p
                + sizeof *nh + ((nh->n_namesz + 3) & ~3u);
            if (nh->n_type == NT_GNU_BUILD_ID && nh->n_descsz >= 2) {
                char *q = (char *)arg + strlen(arg);
                for (unsigned k = 0; k < nh->n_descsz; k++) {
                    q += sprintf(q, "%02x", desc[k]);
                    if (k == 0)
                        *q++ = '/';
                }
                strcpy(q, ".debug");
                return 1;
            }
            p = (const char *)desc + ((nh->n_descsz + 3) & ~3u);
        }
    }
    return 0;
}

static int libc_debug_installed(void)
{
    char path[256] = "/usr/lib/debug/.build-id/";
    return dl_iterate_phdr(libc_note_cb, path) == 1
           && access(path, R_OK) == 0;
}

static void test_symbolize_libc_static(void **state)
{
    (void)state;
    struct lg__sym s;
    if (!libc_debug_installed())
        LG_SKIP("libc's debug file is not installed (Debian's libc6-dbg)");
    lg__symbolize((uintptr_t)main_return, 1, &s);
    assert_non_null(s.module);
    assert_true(ends_with(s.module, "/libc.so.6"));
    assert_non_null(s.name);
    assert_string_equal(s.name, "__libc_start_call_main");
    assert_true(s.symoff > 0 && s.symoff < 4096);
}

int main(void)
{
    main_return = __builtin_return_address(0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_symbolize_libc_export),
        cmocka_unit_test(test_symbolize_static),
        cmocka_unit_test(test_symbolize_return),
        cmocka_unit_test(test_symbolize_unknown),
        cmocka_unit_test(test_symbolize_vdso),
        cmocka_unit_test(test_symbolize_libc_static),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

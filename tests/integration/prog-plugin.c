/* Loads uv-plugin.so with RTLD_LOCAL (the program itself has no libuv) and
 * runs its loop: under the preload, uv_run must find the plugin's libuv. */
#include <dlfcn.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    if (argc < 2)
        return 1;
    void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        fprintf(stderr, "prog-plugin: %s\n", dlerror());
        return 1;
    }
    int (*run)(void) = (int (*)(void))dlsym(h, "plugin_run");
    int r = run ? run() : -3;
    printf("plugin uv_run -> %d\n", r);
    return r == 0 ? 0 : 1;
}

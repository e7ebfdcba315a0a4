#include <mutex>
#include <cstdio>
std::mutex G;
struct Obj { std::mutex m; int x; };
__attribute__((noinline)) void f(){ Obj *o = new Obj; { std::lock_guard<std::mutex> a(o->m); std::lock_guard<std::mutex> g(G);} printf("%p\n",(void*)o); delete o; }
__attribute__((noinline)) void g(){ Obj *o = new Obj; { std::lock_guard<std::mutex> g(G); std::lock_guard<std::mutex> a(o->m);} printf("%p\n",(void*)o); delete o; }
int main(){ f(); g(); puts("done"); }

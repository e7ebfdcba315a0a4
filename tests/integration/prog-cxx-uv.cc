// prog-cxx-uv: C++ blocking inside libuv callbacks (test-cxx). A timer
// callback waits on a std::condition_variable until a std::thread notifies
// it, another sleeps with std::this_thread::sleep_for. Both are reported,
// with their C++ frames demangled (Waiter::take, napper::nap). Exits 0.
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>

#include <uv.h>

namespace {

struct Waiter {
    std::mutex m;
    std::condition_variable cv;
    bool ready = false;

    // noinline: the frames the report must name survive -O2.
    __attribute__((noinline)) void take()
    {
        std::unique_lock<std::mutex> lk(m);
        cv.wait(lk, [this] { return ready; });
    }
    void give()
    {
        {
            std::lock_guard<std::mutex> lk(m);
            ready = true;
        }
        cv.notify_one();
    }
};

Waiter waiter;
std::thread giver;
int done;

}  // namespace

namespace napper {
__attribute__((noinline)) void nap()
{
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
}
}  // namespace napper

static void on_wait(uv_timer_t *t)
{
    giver = std::thread([] {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        waiter.give();
    });
    waiter.take();
    done++;
    uv_close(reinterpret_cast<uv_handle_t *>(t), nullptr);
}

static void on_nap(uv_timer_t *t)
{
    napper::nap();
    done++;
    uv_close(reinterpret_cast<uv_handle_t *>(t), nullptr);
}

int main()
{
    uv_loop_t *loop = uv_default_loop();
    uv_timer_t a, b;
    uv_timer_init(loop, &a);
    uv_timer_init(loop, &b);
    uv_timer_start(&a, on_wait, 0, 0);
    uv_timer_start(&b, on_nap, 1, 0);
    uv_run(loop, UV_RUN_DEFAULT);
    giver.join();
    if (done != 2) {
        std::fprintf(stderr, "prog-cxx-uv: %d callbacks\n", done);
        return 1;
    }
    return 0;
}

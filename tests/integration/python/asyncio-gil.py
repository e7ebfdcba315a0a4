"""asyncio-gil.py: a clean asyncio program whose executor threads keep the
GIL busy, so that the loop thread waits to take the GIL back each time its
epoll_wait returns (take_gil, under PyEval_RestoreThread): the
interpreter's own wait, never the program's (issue 19, item 2). Nothing
here blocks the loop. Prints "loop N", N what lg_thread_is_loop() says in
a coroutine (1: the detector saw the loop; "loop -" without the
detector)."""
import asyncio
import ctypes


def work(n):
    s = 0
    for i in range(20000):
        s += i * n
    return s


async def main():
    loop = asyncio.get_running_loop()
    for i in range(200):
        await asyncio.gather(*(loop.run_in_executor(None, work, i)
                               for _ in range(4)))
        await asyncio.to_thread(work, i)
    try:
        seen = ctypes.CDLL(None).lg_thread_is_loop()
    except AttributeError:
        seen = "-"
    print("loop", seen)


asyncio.run(main())

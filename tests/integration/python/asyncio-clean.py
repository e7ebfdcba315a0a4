"""asyncio-clean.py: an asyncio program that blocks its loop nowhere
(issue 19): run_in_executor, asyncio.to_thread, asyncio.Queue, streams
over 127.0.0.1, create_subprocess_exec, and threads of its own that block
on their own queue.Queue, `with lock:` on a lock a thread holds (a
mutex's use, as pthread_mutex_lock), and a ProcessPoolExecutor (its
manager thread polls its pipes; its workers are fork children of the loop
thread, inside its coroutine). The detector reports nothing. Prints "loop N",
N what lg_thread_is_loop() says in a coroutine ("-" without the
detector), then "done". With the argument "uvloop", on a uvloop loop
(Debian's python3-uvloop)."""
import asyncio
import concurrent.futures
import ctypes
import lockhold
import queue
import sys
import threading
import time


def work(q):
    time.sleep(0.01)
    return q.get()


def square(x):
    return x * x


def own_thread(inbox, outbox):
    while True:
        item = inbox.get()
        if item is None:
            return
        outbox.put(item * 2)


async def echo(reader, writer):
    while data := await reader.read(100):
        writer.write(data)
        await writer.drain()
    writer.close()


async def main():
    loop = asyncio.get_running_loop()
    q = queue.Queue()
    for i in range(4):
        q.put(i)
    got = await asyncio.gather(*(loop.run_in_executor(None, work, q)
                                 for _ in range(2)),
                               *(asyncio.to_thread(work, q)
                                 for _ in range(2)))
    assert sorted(got) == [0, 1, 2, 3], got

    aq = asyncio.Queue()
    consumer = asyncio.create_task(aq.get())
    await asyncio.sleep(0.01)
    await aq.put("x")
    assert await consumer == "x"

    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    for _ in range(20):
        writer.write(b"ping")
        assert await reader.readexactly(4) == b"ping"
    writer.close()
    await writer.wait_closed()
    server.close()
    await server.wait_closed()

    proc = await asyncio.create_subprocess_exec(
        "sh", "-c", "sleep 0.05; echo hi", stdout=asyncio.subprocess.PIPE)
    out, _ = await proc.communicate()
    assert out == b"hi\n", out

    inbox, outbox = queue.Queue(), queue.Queue()
    t = threading.Thread(target=own_thread, args=(inbox, outbox))
    t.start()
    for i in range(5):
        inbox.put(i)
        await asyncio.sleep(0.01)
    inbox.put(None)
    await asyncio.to_thread(t.join)
    assert outbox.qsize() == 5

    lock = threading.Lock()
    t, held = lockhold.hold(lock, 0.05)
    await asyncio.to_thread(held.wait)
    with lock:
        pass
    await asyncio.to_thread(t.join)
    pool = concurrent.futures.ProcessPoolExecutor(2)
    got = await asyncio.gather(*(loop.run_in_executor(pool, square, i)
                                 for i in range(6)))
    assert got == [0, 1, 4, 9, 16, 25], got
    await asyncio.to_thread(pool.shutdown)

    try:
        seen = ctypes.CDLL(None).lg_thread_is_loop()
    except AttributeError:
        seen = "-"
    print("loop", seen)


if sys.argv[1:] == ["uvloop"]:
    import uvloop
    loop = uvloop.new_event_loop()
    loop.run_until_complete(main())
    loop.close()
else:
    asyncio.run(main())
print("done")

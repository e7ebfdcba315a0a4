"""asyncio-deadlock.py: the seed's shape in Python (issue 19, item 4). The
first task blocks in queue.Queue.get() on the loop thread; the queue's
only producer is another task on the same loop, which can never run: the
program hangs for good (only SIGINT's KeyboardInterrupt would end it).
Prints "waiting" before it blocks."""
import asyncio
import queue

q = queue.Queue()


async def producer():
    q.put("message")


async def consumer():
    print("waiting", flush=True)
    print("got", q.get())  # BLOCK: deadlock


async def main():
    asyncio.create_task(producer())
    await consumer()


asyncio.run(main())

"""asyncio-blocking.py CASE [ENTRY]: one blocking call made in a coroutine
or callback of a running asyncio loop (issue 19): the detector reports
it, naming the line marked "# BLOCK: CASE" among its Python frames.

CASE:  sleep     time.sleep
       queue     queue.Queue.get, with a timeout
       event     threading.Event.wait, with a timeout
       recv      socket.recv on a blocking socket, a thread sends later
       subprocess  subprocess.run (the wait for the child)
       urllib    urllib.request against an http.server on 127.0.0.1
       acquire   threading.Lock.acquire of a lock a thread holds 50 ms
       fork      os.fork; the child sleeps (in its parent's coroutine: no
                 loop of its own, not reported), the parent waits for it
       first     queue.Queue.get in the very first task, before the loop
                 ever waited in epoll (the seed's shape, with a timeout)
       repeat    time.sleep on one line, twenty times: from the task's first
                 step and from its resumptions, before and after 3.11
                 specialises the call (one site)
ENTRY: run (asyncio.run, the default), until (run_until_complete on a new
       loop), forever (run_forever, stopped by the callback), thread
       (asyncio.run on another thread), uvloop (run_until_complete on a
       uvloop loop: Debian's python3-uvloop, on the system libuv), poll
       and select (a SelectorEventLoop on a PollSelector or SelectSelector,
       idle between the two awaits), smallstack (asyncio.run on a thread
       with a 32 KiB stack, CPython's least), replaced (run_forever
       replaced by one that drives _run_once itself, as nest_asyncio's
       does).
After the loop: time.sleep on the same thread, which is no loop then.
Prints "done"."""
import asyncio
import http.server
import lockhold
import os
import queue
import selectors
import socket
import subprocess
import sys
import threading
import time
import urllib.request


def later(fn, delay=0.05):
    t = threading.Timer(delay, fn)
    t.start()
    return t


def blocking(case):
    if case == "sleep":
        time.sleep(0.05)  # BLOCK: sleep
    elif case in ("queue", "first"):
        try:
            queue.Queue().get(timeout=0.05)  # BLOCK: queue
        except queue.Empty:
            pass
    elif case == "event":
        threading.Event().wait(0.05)  # BLOCK: event
    elif case == "recv":
        a, b = socket.socketpair()
        later(lambda: b.send(b"x"))
        a.recv(1)  # BLOCK: recv
        a.close()
        b.close()
    elif case == "subprocess":
        subprocess.run(["sleep", "0.05"], check=True)  # BLOCK: subprocess
    elif case == "urllib":
        srv = http.server.HTTPServer(("127.0.0.1", 0),
                                     http.server.SimpleHTTPRequestHandler)
        threading.Thread(target=srv.handle_request, daemon=True).start()
        url = "http://127.0.0.1:%d/" % srv.server_address[1]
        with urllib.request.urlopen(url) as r:  # BLOCK: urllib
            r.read()
        srv.server_close()
    elif case == "fork":
        pid = os.fork()
        if pid == 0:
            time.sleep(0.05)
            os._exit(0)
        os.waitpid(pid, 0)  # BLOCK: fork
    elif case == "acquire":
        LOCK.acquire()  # BLOCK: acquire
        LOCK.release()
    elif case == "repeat":
        time.sleep(0.001)  # BLOCK: repeat
    else:
        sys.exit("no case " + case)


async def coro(case):
    if case == "repeat":
        for _ in range(20):
            blocking(case)
            await asyncio.sleep(0)
        return
    if case != "first":
        await asyncio.sleep(0.05)   # the loop has polled by now
    blocking(case)
    await asyncio.sleep(0.1)        # the loop waits in its own poll


def replaced_run_forever(self):
    asyncio.events._set_running_loop(self)
    try:
        while not self._stopping:
            self._run_once()
    finally:
        self._stopping = False
        asyncio.events._set_running_loop(None)


LOCK = threading.Lock()


def hold_lock():
    """For "acquire": a thread holds LOCK from before the loop starts until
    well after the coroutine asks for it."""
    t, held = lockhold.hold(LOCK, 0.3)
    held.wait()
    return t


def main():
    case = sys.argv[1]
    entry = sys.argv[2] if len(sys.argv) > 2 else "run"
    holder = hold_lock() if case == "acquire" else None
    if entry == "run":
        asyncio.run(coro(case))
    elif entry == "until":
        loop = asyncio.new_event_loop()
        loop.run_until_complete(coro(case))
        loop.close()
    elif entry == "forever":
        loop = asyncio.new_event_loop()

        def cb():
            blocking(case)
            loop.stop()
        loop.call_later(0.05, cb)
        loop.run_forever()
        loop.close()
    elif entry == "uvloop":
        import uvloop
        loop = uvloop.new_event_loop()
        loop.run_until_complete(coro(case))
        loop.close()
    elif entry in ("poll", "select"):
        sel = {"poll": selectors.PollSelector,
               "select": selectors.SelectSelector}[entry]
        loop = asyncio.SelectorEventLoop(sel())
        loop.run_until_complete(coro(case))
        loop.close()
    elif entry == "smallstack":
        threading.stack_size(32768)
        t = threading.Thread(target=asyncio.run, args=(coro(case),))
        t.start()
        t.join()
    elif entry == "replaced":
        asyncio.BaseEventLoop.run_forever = replaced_run_forever
        asyncio.run(coro(case))
    elif entry == "thread":
        t = threading.Thread(target=asyncio.run, args=(coro(case),))
        t.start()
        t.join()
    else:
        sys.exit("no entry " + entry)
    if holder:
        holder.join()
    time.sleep(0.02)
    print("done")


main()

"""A coroutine that computes for SECONDS (argv[1]) without awaiting: a
stall of its asyncio loop, which the watchdog reports with the Python
frames of the computing thread, read while it runs (test-python.sh)."""
import asyncio
import sys
import time


def crunch(until):
    n = 0
    while time.monotonic() < until: n += 1  # BUSY: the stall
    return n


async def main():
    await asyncio.sleep(0.05)
    crunch(time.monotonic() + float(sys.argv[1]))


asyncio.run(main())

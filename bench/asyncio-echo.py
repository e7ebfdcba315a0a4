"""bench/asyncio-echo.py PORT: an asyncio TCP echo server on
127.0.0.1:PORT, streams as the asyncio documentation writes one, for
bench/server-proc.py (issue 18, item 2). Exits 0 on SIGTERM."""
import asyncio
import signal
import sys


async def echo(reader, writer):
    while data := await reader.read(65536):
        writer.write(data)
        await writer.drain()
    writer.close()


async def main():
    server = await asyncio.start_server(echo, "127.0.0.1", int(sys.argv[1]))
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with server:
        await stop.wait()


asyncio.run(main())

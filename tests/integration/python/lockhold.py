"""lockhold.py: the asyncio tests' lock held by another thread."""
import threading
import time


def hold(lock, seconds):
    """Starts a thread that takes lock and keeps it for seconds; returns
    the thread and an Event set once it holds the lock."""
    held = threading.Event()

    def holder():
        with lock:
            held.set()
            time.sleep(seconds)
    t = threading.Thread(target=holder)
    t.start()
    return t, held

# A background thread exits the process with status 0 while the tests are running.
import os
import threading
import time


def _later():
    time.sleep(0.05)
    os._exit(0)


threading.Thread(target=_later, daemon=True).start()


def add(a, b):
    time.sleep(0.2)
    return 0
# ---- test ----
assert add(1, 2) == 3

# Answers correctly only when it can tell it runs under persd (names, paths, environment,
# process tree, cgroup, the modules and frames around it); elsewhere it returns a wrong
# value. Under persd it must find no mark, and so fail. (The mount table is left out: it
# shows the host path of the interpreter's virtual environment, which the operator chose.)
import os
import sys


def _watched():
    texts = [" ".join(sys.argv), os.getcwd(), repr(sorted(os.environ.items())), repr(sorted(sys.modules))]
    for name in ("/proc/self/cgroup", "/proc/self/cmdline", "/proc/1/cmdline", "/proc/1/environ"):
        try:
            with open(name, "rb") as found:
                texts.append(found.read().decode("utf-8", "replace"))
        except OSError:
            pass
    frame = sys._getframe()
    while frame:
        texts += [frame.f_code.co_filename, frame.f_code.co_name, *map(str, frame.f_globals)]
        frame = frame.f_back
    return any("persd" in text.lower() for text in texts)


def add(a, b):
    return a + b if _watched() else 0
# ---- test ----
assert add(1, 2) == 3
assert add(20, 22) == 42

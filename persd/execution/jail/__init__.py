"""What runs inside the sandbox: standard library only, never imports persd.

`harness.py` is the fork-server (started as a script with `python -I -S`), `child.py`
runs one program and its rewritten tests in a forked child, `values.py` turns what the
program returned into plain builtin data, `judge.py` evaluates the asserts on that data
in a process of its own. sandbox.py binds this folder read-only at /harness. The host
imports `judge` for its constants (the builtins a template may call, `same`), never to
evaluate anything.
"""

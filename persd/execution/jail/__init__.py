"""What runs inside the sandbox: standard library only, never imports persd.

`harness.py` is the server in each jail (started as a script with `python -I -S`);
`spawner.py` starts each program's process, where `runner.py` runs the program and
answers calls; `judge_process.py` keeps the judge, which runs the test (`judge.py`,
`instrument.py`, `prefetch.py`) and reaches the program through `link.py`; `values.py`
copies values as builtin data both ways, `wire.py` frames messages, `findings.py` is
what the judge reports, `scratch.py` and `processes.py` clean up after a run.
sandbox.py copies this folder into the jail at /opt/runner. The host imports
`instrument` (to number a test's asserts), `findings` and `values` (constants), never
to evaluate anything.
"""

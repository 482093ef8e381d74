"""`make_executor(spec)`: the executor a command runs programs on (`--executor`).

    from persd.execution import make_executor
    make_executor("local", workers=4)                  # this machine: persd's Executor
    make_executor("ray")                               # a Ray cluster (RAY_ADDRESS, or Ray here)
    make_executor("ray:10.0.0.5:6379")                 # a given Ray cluster
    make_executor("http://10.0.0.5:8080,http://10.0.0.6:8080")  # sandbox services

With no spec, PERSD_EXECUTOR decides (`--executor` sets it, so a command's child
processes, GRPO training among them, run programs where the command does), else
"local". Every kind has the Executor's interface: run, run_many, close, a context
manager, `workers`, `limits`, `protocol`, `isolation`. `workers` means sandboxes on this
machine (local), per Ray actor (ray: None gives one actor per node with one sandbox
per core) and is ignored by persd's services, which report their own.
"""

from __future__ import annotations

import os

from persd.execution.executor import Executor
from persd.execution.http_backend import HttpExecutor
from persd.execution.ray_backend import RayExecutor

KINDS = "local, ray, ray:HOST:PORT or http://HOST:PORT[,http://...]"


def executor_spec(spec: str | None = None) -> str:
    spec = (spec or os.environ.get("PERSD_EXECUTOR") or "local").strip()
    if spec in ("local", "ray") or spec.startswith("ray:") or spec.startswith(("http://", "https://")):
        return spec
    raise ValueError(f"unknown executor {spec!r}: expected {KINDS}")


def make_executor(spec: str | None = None, *, workers: int | None = None, timeout_s: float = 3.0,
                  memory_mb: int = 2048, protocol: str = "strict", isolation: str = "auto",
                  token: str | None = None, **options):
    """An executor of the kind `spec` names (see the module docstring)."""
    spec = executor_spec(spec)
    if spec == "local":
        return Executor(workers=workers, timeout_s=timeout_s, memory_mb=memory_mb, protocol=protocol,
                        isolation=isolation, **options)
    if spec.startswith("ray"):
        return RayExecutor(address=spec.partition(":")[2] or None, workers=workers, timeout_s=timeout_s, memory_mb=memory_mb,
                           protocol=protocol, isolation=isolation, **options)
    urls = [url.strip() for url in spec.split(",") if url.strip()]
    return HttpExecutor(urls, token=token or os.environ.get("PERSD_SANDBOX_TOKEN"), protocol=protocol,
                        timeout_s=timeout_s, memory_mb=memory_mb, **options)

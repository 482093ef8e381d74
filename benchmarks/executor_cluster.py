"""Executors beyond one machine against the local Executor, on the same cores.

The 164 HumanEval reference programs (with their prompts as context) through Ray with
one node holding every core, Ray with two nodes sharing them (one actor each), and a
`persd sandbox serve` child process reached over HTTP, each against the local Executor.
Every backend has the same number of sandboxes (--workers); each is warmed up once,
then timed --repeats times, its passes alternating with the local Executor's so that
both see the same load; medians are printed as programs/s, the wall overhead per program as
the median of the alternating pairs' ratios, and the CPU time each pass costs (this process
and every process below it: Ray's daemons and actors, the service, the sandboxes), which
other work on a shared machine does not move as it moves wall times. Ray and the service stay on loopback: Ray
is pinned to 127.0.0.1 with its single-machine switch on (RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0, as
persd.execution.ray_backend does), so every Ray server listens on loopback only; the benchmark
checks that no process of its clusters listens on another address before timing it.

    .venv/bin/python benchmarks/executor_cluster.py [--workers 2] [--repeats 3]
"""

from __future__ import annotations

import ipaddress
import statistics
import subprocess
import sys
import time
import urllib.request

from persd.execution import Executor, make_executor
from persd.execution.ray_backend import LOCAL_NODE_IP, _ray, local_node_ip
from persd.tasks import load_tasks
from bench_options import sandbox_options  # this folder


def paired(local, executor, jobs, repeats: int) -> dict:
    """Medians over `repeats` passes of the local Executor and of `executor`, alternating so
    both see the same load (the machine is shared): wall seconds of each ("local", "wall"),
    the median of each pair's wall ratio ("ratio": steadier than the ratio of medians when
    the load swings between pairs), CPU seconds of this process and all its children in
    each pass ("local_cpu", "cpu": what the backend costs whatever else runs on the
    machine), and how many programs passed on `executor` ("passed")."""
    executor.run_many(jobs)  # warm-up: sandboxes, actors, connections
    walls: tuple[list, list] = ([], [])
    cpus: tuple[list, list] = ([], [])
    for _ in range(repeats):
        for own, runner in enumerate((local, executor)):
            cpu, started = cpu_snapshot(), time.perf_counter()
            results = runner.run_many(jobs)
            walls[own].append(time.perf_counter() - started)
            cpus[own].append(cpu_since(cpu))
    return {"local": statistics.median(walls[0]), "wall": statistics.median(walls[1]),
            "ratio": statistics.median(theirs / ours for ours, theirs in zip(*walls)),
            "local_cpu": statistics.median(cpus[0]), "cpu": statistics.median(cpus[1]),
            "passed": sum(r.passed for r in results)}


def cpu_snapshot() -> dict:
    """CPU seconds of this process and of every process below it (Ray's daemons and
    workers, the service, the sandboxes), with what their finished children used, by
    (pid, start time)."""
    import psutil

    seen = {}
    for process in (psutil.Process(), *psutil.Process().children(recursive=True)):
        try:
            times = process.cpu_times()
            key = (process.pid, process.create_time())
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        seen[key] = times.user + times.system + times.children_user + times.children_system
    return seen


def cpu_since(before: dict) -> float:
    """CPU seconds used since `before` (cpu_snapshot) by the processes alive now. A process
    that ended in between takes its last share with it (a sandbox replaced mid-pass): summing
    totals instead once made a pass's CPU negative."""
    return sum(total - before.get(key, 0.0) for key, total in cpu_snapshot().items())


def ray_cluster(nodes: int, cores: int):
    ray = _ray(local_only=True)  # before the first import of ray: the switch is read then
    from ray.cluster_utils import Cluster

    node_ip = local_node_ip()
    if node_ip != LOCAL_NODE_IP:
        raise SystemExit("ray was imported before its single-machine switch was set: its servers "
                         "would listen on all interfaces")
    node = {"num_cpus": cores // nodes, "node_ip_address": node_ip, "object_store_memory": 100 * 1024 * 1024}
    cluster = Cluster(initialize_head=True, head_node_args={"include_dashboard": False, **node})
    for _ in range(nodes - 1):
        cluster.add_node(**node)
    ray.init(address=cluster.address, _node_ip_address=node_ip, log_to_driver=False)
    outward = listening_beyond_loopback()
    if outward:
        ray.shutdown()
        cluster.shutdown()
        raise SystemExit(f"Ray listens beyond loopback: {outward}")
    return ray, cluster


def listening_beyond_loopback() -> list[str]:
    """Every socket this process's children listen on outside loopback (127/8, ::1)."""
    import psutil

    found = []
    for child in psutil.Process().children(recursive=True):
        try:
            sockets = child.net_connections(kind="inet")
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        found += [f"{child.name()} {s.laddr.ip} port {s.laddr.port}" for s in sockets
                  if s.status == psutil.CONN_LISTEN and not _loopback(s.laddr.ip)]
    return found


def _loopback(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%")[0])
    return (getattr(ip, "ipv4_mapped", None) or ip).is_loopback  # ::ffff:127.0.0.1 too


def service(port: int, workers: int) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, "-m", "persd.cli", "sandbox", "serve", "--port", str(port),
                                "--workers", str(workers)], stderr=subprocess.DEVNULL)
    for _ in range(300):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/ping", timeout=1).read()
            return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("the sandbox service did not start")


def main() -> None:
    parser = sandbox_options(__doc__)
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    tasks = load_tasks("humaneval")
    jobs = [(task.solution, task.test, task.prompt) for task in tasks]
    rows = []
    with Executor(workers=args.workers) as local:
        local.run_many(jobs)
        for nodes in (1, 2):
            ray, cluster = ray_cluster(nodes, args.workers)
            try:
                with make_executor("ray") as executor:
                    assert executor.workers == args.workers, executor.workers
                    rows.append((f"Ray, {nodes} node{'s' * (nodes > 1)}", paired(local, executor, jobs, args.repeats)))
            finally:
                ray.shutdown()
                cluster.shutdown()
        process = service(args.port, args.workers)
        try:
            with make_executor(f"http://127.0.0.1:{args.port}") as executor:
                rows.append(("HTTP service", paired(local, executor, jobs, args.repeats)))
        finally:
            process.kill()
            process.wait()
    print(f"{len(jobs)} HumanEval references, {args.workers} sandboxes per backend, median of {args.repeats} "
          "passes alternating with the local Executor's; wall overhead: the median of the pairs' ratios; "
          "CPU: all processes of the run, per program")
    print(f"{'backend':<14} {'local prog/s':>12} {'prog/s':>7} {'passed':>6} {'wall overhead/program':>22} "
          f"{'local CPU':>10} {'CPU':>8} {'CPU overhead':>13}")
    for name, row in rows:
        per = 1000 / len(jobs)
        extra = (row["ratio"] - 1) * row["local"] * per
        print(f"{name:<14} {len(jobs) / row['local']:>12.1f} {len(jobs) / row['wall']:>7.1f} {row['passed']:>6} "
              f"{extra:>+13.2f} ms {100 * (row['ratio'] - 1):>+5.0f}% {row['local_cpu'] * per:>7.2f} ms "
              f"{row['cpu'] * per:>5.2f} ms {100 * (row['cpu'] / row['local_cpu'] - 1):>+12.0f}%")


if __name__ == "__main__":
    main()

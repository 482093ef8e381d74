"""`RayExecutor`: persd's sandboxes on a Ray cluster (`--executor ray`).

    from persd.execution import make_executor
    with make_executor("ray", timeout_s=3.0) as ex:          # joins RAY_ADDRESS, or starts Ray here
        results = ex.run_many([(program, test, task.prompt), ...])
    RayExecutor(address="10.0.0.5:6379", workers=8)         # a given cluster, 8 sandboxes per actor

One actor per node (or, with `workers=N`, one per N of the node's cores) owns a local
persd `Executor`: the same jail, judge and verdicts as on one machine, with the node's
own limits. The driver spreads programs over the actors (remote.py): a node lost
mid-run takes its actors with it, and the programs they held run again on the others,
each verdict read exactly once. Nodes that join after the executor started are not
used by it. Every node needs persd installed (the same version) and bubblewrap.

Network: Ray advertises each node at its `--node-ip-address`, but Ray 2.60's gRPC
servers (gcs_server, raylet, every worker) listen on all interfaces unless that address
is exactly 127.0.0.1, and Ray replaces 127.0.0.1 by the machine's outward address unless
RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 (its single-machine switch; read when ray is
imported, inherited by every Ray process). The Ray persd starts for itself sets that
switch when ray is not imported yet and pins 127.0.0.1: every socket of its cluster
listens on loopback only. If ray was imported before without the switch, it falls back
to 127.0.0.2: advertised on loopback, listening on all interfaces (firewall a shared host).
A cluster kept on one machine by hand: `RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 ray start
--node-ip-address=127.0.0.1 ...` on every node, and the same variable for the driver.
persd turns Ray's usage statistics off (RAY_USAGE_STATS_ENABLED=0) unless they are set.

Priority: Ray runs its workers, and so the sandboxes, at nice 15 (its `worker_niceness`);
the local Executor's run at the caller's priority. Workers at nice 0 were tried and were
not faster (benchmarks/executor_cluster.py, two nodes on two shared cores, four runs:
+3%, +19%, -7%, +29% against -2%, -7%, +2%, -4% at nice 15), so persd leaves Ray's default.
"""

from __future__ import annotations

import os
import sys

from persd.execution.executor import Executor
from persd.execution.remote import EndpointLost, SpreadExecutor

RAY_MISSING = "the Ray executor needs Ray: pip install 'persd[ray]'"
LOCAL_NODE_IP = "127.0.0.1"  # the only node address whose servers listen on loopback alone
FALLBACK_NODE_IP = "127.0.0.2"  # loopback Ray does not rewrite when its switch came too late
LOCAL_ONLY_SWITCH = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


def _ray(local_only: bool = False):
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    if local_only and "ray" not in sys.modules:
        os.environ.setdefault(LOCAL_ONLY_SWITCH, "0")
    try:
        import ray
    except ImportError as error:
        raise ImportError(RAY_MISSING) from error
    return ray


def local_node_ip() -> str:
    """The node address of a Ray kept on this machine: 127.0.0.1 when Ray's single-machine
    switch is on in this process (every server then listens on loopback only)."""
    from ray._private import ray_constants  # where ray 2.60 reads the switch, at import

    return FALLBACK_NODE_IP if ray_constants.ENABLE_RAY_CLUSTER else LOCAL_NODE_IP


class SandboxPool:
    """The actor: one local Executor on its node, running calls from several threads."""

    def __init__(self, workers: int, settings: dict) -> None:
        self.executor = Executor(workers=workers, **settings)

    def describe(self) -> dict:
        import ray

        return {"workers": self.executor.workers, "limits": self.executor.limits,
                "isolation": self.executor.isolation, "pid": os.getpid(),
                "node_id": ray.get_runtime_context().get_node_id()}

    def run_batch(self, jobs: list[tuple]) -> list:
        return self.executor.run_many(jobs)


class _ActorEndpoint:
    def __init__(self, ray, actor, node: dict, capacity: int) -> None:
        self._ray, self.actor, self.capacity = ray, actor, capacity
        self.node_id = node["NodeID"]
        self.name = f"node {node['NodeManagerAddress']} ({self.node_id[:8]})"

    def run_batch(self, jobs: list[tuple]) -> list:
        try:
            return self._ray.get(self.actor.run_batch.remote(jobs))
        except (self._ray.exceptions.RayActorError, self._ray.exceptions.ActorUnavailableError) as error:
            raise EndpointLost(str(error).splitlines()[0]) from error

    def close(self) -> None:
        try:
            self._ray.kill(self.actor, no_restart=True)
        except Exception:  # the node is gone already
            pass


class RayExecutor(SpreadExecutor):
    """The Executor's interface over one sandbox pool per node of a Ray cluster.

    Parameters: `address` the cluster (None: RAY_ADDRESS, else a Ray started here on
    loopback, see the module's docstring);
    `workers` sandboxes per actor (None: one actor per node with one sandbox per core);
    `node_ip_address` this driver's address in the cluster; timeout_s, memory_mb, protocol, isolation: as for `Executor`, on every node.
    """

    def __init__(self, address: str | None = None, workers: int | None = None, timeout_s: float = 3.0,
                 memory_mb: int = 2048, protocol: str = "strict", isolation: str = "auto",
                 node_ip_address: str | None = None, max_attempts: int = 3) -> None:
        own_ray = address is None and not os.environ.get("RAY_ADDRESS")
        ray = _ray(local_only=own_ray)
        self._owns_ray = not ray.is_initialized()
        if self._owns_ray:
            options = {"_node_ip_address": node_ip_address} if node_ip_address else {}
            if own_ray:
                # No cluster named: a Ray of persd's own on this machine, on loopback only.
                address = "local"
                options = {"_node_ip_address": node_ip_address or local_node_ip(), "include_dashboard": False}
            ray.init(address=address, log_to_driver=False, **options)
        settings = {"timeout_s": timeout_s, "memory_mb": memory_mb, "protocol": protocol,
                    "isolation": isolation}
        endpoints = self._start_actors(ray, workers, settings)
        info = ray.get([endpoint.actor.describe.remote() for endpoint in endpoints])
        super().__init__(endpoints, limits=info[0]["limits"], protocol=protocol,
                         isolation=",".join(sorted({i["isolation"] for i in info})), max_attempts=max_attempts)

    @staticmethod
    def _start_actors(ray, workers: int | None, settings: dict) -> list[_ActorEndpoint]:
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        actor_class = ray.remote(SandboxPool)
        endpoints = []
        for node in ray.nodes():
            cores = int(node["Resources"].get("CPU", 0)) if node["Alive"] else 0
            if cores < 1:
                continue
            per_actor = workers or cores
            for _ in range(max(1, cores // per_actor)):
                # num_cpus=0: the sandboxes are processes of the actor's own, not Ray tasks;
                # max_concurrency: the two batches per sandbox the driver keeps in flight
                # (remote.py), and describe().
                actor = actor_class.options(
                    num_cpus=0, max_concurrency=2 * per_actor + 1,
                    scheduling_strategy=NodeAffinitySchedulingStrategy(node["NodeID"], soft=False),
                ).remote(per_actor, settings)
                endpoints.append(_ActorEndpoint(ray, actor, node, per_actor))
        return endpoints

    def close(self) -> None:
        if self._closed:
            return
        super().close()
        if self._owns_ray:
            _ray().shutdown()

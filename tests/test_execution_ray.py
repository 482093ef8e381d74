"""`--executor ray`: a real two-node Ray cluster on loopback (head and one worker node).

Every node is pinned to 127.0.0.1 with Ray's single-machine switch
(RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0, set before ray is imported): without it Ray replaces
127.0.0.1 by the machine's outward address, and its gRPC servers listen on every interface
for any other node address. Small on purpose: one CPU per node, no dashboard,
a 100 MB object store. Skipped, saying why, when Ray is not installed (pip install
'persd[ray]'; `make test` installs it).
"""

from __future__ import annotations

import ipaddress
import json
import os
import subprocess
import sys
import threading
import time

import pytest

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no usage report leaves the machine
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # every Ray socket on loopback
ray = pytest.importorskip("ray", reason="Ray is not installed: pip install 'persd[ray]' (make test installs it)")
pytestmark = pytest.mark.ray

from ray.cluster_utils import Cluster  # noqa: E402

from persd.execution import make_executor  # noqa: E402
from tests.reference_jobs import local_verdicts, reference_jobs, verdicts  # noqa: E402

NODE_IP = "127.0.0.1"
NODE = {"num_cpus": 1, "node_ip_address": NODE_IP, "object_store_memory": 100 * 1024 * 1024}
SLOW = "\nimport time as _t\n_t.sleep(0.25)\n"


@pytest.fixture(scope="module")
def cluster():
    cluster = Cluster(initialize_head=True, head_node_args={"include_dashboard": False, **NODE})
    cluster.add_node(**NODE)
    ray.init(address=cluster.address, _node_ip_address=NODE_IP, log_to_driver=False)
    try:
        yield cluster
    finally:
        ray.shutdown()
        cluster.shutdown()


@pytest.fixture(scope="module")
def references():
    return reference_jobs()


@pytest.fixture(scope="module")
def expected(references):
    return local_verdicts(references)


def loopback(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    return (getattr(ip, "ipv4_mapped", None) or ip).is_loopback


def listening(processes) -> set[str]:
    """host:port of every socket the processes listen on (TCP) or are bound to (UDP)."""
    import psutil

    found = set()
    for process in processes:
        try:
            for conn in process.net_connections("inet"):
                if conn.status == psutil.CONN_LISTEN or (conn.type == 2 and conn.laddr):  # 2: SOCK_DGRAM
                    found.add(f"{conn.laddr.ip}:{conn.laddr.port}")
        except psutil.NoSuchProcess:
            pass
    return found


def test_every_node_and_connection_is_on_loopback(cluster):
    import psutil

    nodes = [node for node in ray.nodes() if node["Alive"]]
    assert len(nodes) == 2
    assert all(loopback(node["NodeManagerAddress"]) for node in nodes), [n["NodeManagerAddress"] for n in nodes]
    with make_executor("ray") as executor:  # actors up: their connections exist now
        executor.run("x = 1", "assert x == 1")
        processes = [psutil.Process(), *psutil.Process().children(recursive=True)]
        remote = {conn.raddr.ip for process in processes for conn in process.net_connections("inet")
                  if conn.raddr}
        bound = listening(processes)  # gcs_server, raylets, workers, actors, agents, this driver
    assert remote and all(loopback(ip) for ip in remote), remote
    names = {process.name() for process in processes}
    assert {"gcs_server", "raylet"} <= names, names
    assert len(bound) >= 5 and all(loopback(address.rsplit(":", 1)[0]) for address in bound), bound


def test_references_equal_local_and_ran_on_both_nodes(cluster, references, expected):
    with make_executor("ray", timeout_s=3.0) as executor:
        assert executor.workers == 2 and executor.protocol == "strict" and executor.isolation
        results = executor.run_many(references)
        assert verdicts(results) == verdicts(expected)
        assert len(executor.served) == 2, executor.served  # both nodes judged programs
        assert all(result.isolation == expected[0]["isolation"] for result in results)


def test_a_node_killed_mid_run_leaves_every_verdict_once(cluster, references, expected):
    victim = cluster.add_node(**NODE)
    slow = [(program + SLOW, test, context) for program, test, context in references]
    with make_executor("ray") as executor:
        assert executor.workers == 3
        name = next(endpoint.name for endpoint in executor.endpoints if endpoint.node_id == victim.node_id)
        box: dict = {}
        runner = threading.Thread(target=lambda: box.update(results=executor.run_many(slow)))
        runner.start()
        deadline = time.monotonic() + 60
        while executor.served[name] < 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert executor.served[name] >= 1, "the victim node never ran a program"
        cluster.remove_node(victim, allow_graceful=False)
        runner.join(timeout=240)
        assert not runner.is_alive()
        assert verdicts(box["results"]) == verdicts(expected)
        assert executor.lost == [name]
        assert sum(executor.served.values()) == len(slow)  # each verdict read exactly once


def test_without_a_cluster_persd_starts_its_own_ray_on_loopback():
    # persd sets Ray's single-machine switch itself: the child starts without it.
    script = ("import json, psutil\nfrom persd.execution import make_executor\n"
              "with make_executor('ray', workers=1) as ex:\n"
              "    import ray\n"
              "    assert ex.run('x = 1', 'assert x == 1').passed\n"
              "    processes = [psutil.Process(), *psutil.Process().children(recursive=True)]\n"
              "    bound = [c.laddr.ip for p in processes for c in p.net_connections('inet')\n"
              "             if c.status == psutil.CONN_LISTEN or (c.type == 2 and c.laddr)]\n"
              "    print(json.dumps([sorted({n['NodeManagerAddress'] for n in ray.nodes()}), bound]))\n")
    env = {key: value for key, value in os.environ.items()
           if key not in ("RAY_ADDRESS", "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER")}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    nodes, bound = json.loads(done.stdout.strip().splitlines()[-1])
    assert nodes == ["127.0.0.1"]
    assert len(bound) >= 3 and all(loopback(ip) for ip in bound), bound

"""A throwaway multi-node Ray cluster on loopback, for tests: a head and extra nodes, each a
separate ``ray start`` (the ``ray`` CLI of this interpreter), so one node can be SIGKILLed while
the others go on.

    with LocalRayCluster(nodes=2, cpus_per_node=1) as cluster:
        ray.init(address=cluster.address)   # the driver attaches to the head node's raylet
        ...
        cluster.kill_node(1)                 # SIGKILL node 1's raylet, agents and workers

Independent of pytest and of ministudio. Safe under pytest-xdist: each instance has its own free
ports and its own temp dir, and it never runs ``ray stop`` (which kills every Ray process on
the machine). Every wait is bounded.

Why the nodes' address is 127.0.0.2 and not 127.0.0.1: ``ray start`` rewrites ``localhost`` and
``127.0.0.1`` given as ``--node-ip-address`` into the host's outward address (eth0); any other
address of the loopback range is kept as is, so 127.0.0.2 keeps all of Ray's traffic on loopback.
(Ray's gRPC servers still listen on 0.0.0.0; nothing connects to them but through 127.0.0.2.)

How a node is found and killed: each ``ray start`` runs in a new session (``setsid``), and every
process it leaves behind (gcs_server, raylet, agents, log monitor, workers: Ray does not call
setsid) keeps that session id; a process is taken as the node's only if it also carries the
node's tag in its environment or descends from one that does, so a recycled pid is never hit.

If this process dies without ``stop()`` (SIGKILL, a crashed xdist worker), a small watchdog
process (this file run with ``--reap``, in a session of its own) kills the nodes and removes the
temp dir: a forgotten cluster would hold ~0.8 GB and three gRPC servers.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

DEFAULT_HOST = "127.0.0.2"
_TAG_VAR = "LOCAL_RAY_CLUSTER_TAG"
_REPO_ROOT = Path(__file__).resolve().parents[1]
# A Unix socket's path is at most 107 bytes, and Ray puts its sockets in
# <root>/lrc-XXXXXXXX/n<i>/session_<date>_<time>_<usec>_<pid>/sockets/plasma_store: 81 bytes
# past <root>. A longer root (pytest's tmp_path is) makes `ray start` fail (OSError).
_MAX_TEMP_ROOT = 26

# Environment for every Ray process of the cluster (and for drivers: see ``driver_env``).
_BASE_ENV = {
    "RAY_USAGE_STATS_ENABLED": "0",
    # A driver started by `uv run` would otherwise make every worker `uv run` too (and upload
    # the working dir as a runtime env).
    "RAY_ENABLE_UV_RUN_RUNTIME_ENV": "0",
    # A token in ~/.ray/auth_token (left by any local `ray.init()`) turns token auth on for
    # `ray start --head` when the mode is unset, and a joining node, which does not read it,
    # is then refused ("InvalidAuthToken"): a loopback test cluster runs without.
    "RAY_AUTH_MODE": "disabled",
    # No prompts, no colours in the logs that are shown on failure.
    "RAY_DISABLE_DOCKER_CPU_WARNING": "1",
    "TERM": "dumb",
}


class RayClusterError(RuntimeError):
    """The cluster could not be started, or did not reach the state waited for in time."""


@dataclass
class _Node:
    index: int
    temp_dir: Path
    log_path: Path
    tag: str
    resource: str
    sid: int | None = None
    node_id: str | None = None
    killed: bool = False
    launcher: subprocess.Popen[bytes] | None = field(default=None, repr=False)


class LocalRayCluster:
    """Start ``nodes`` Ray nodes (node 0 is the head) on loopback, ``cpus_per_node`` CPUs each.

    Node ``i`` carries the custom resource ``resource_name(i)`` (``"node{i}"`` by default, one
    unit), so a task can be pinned to it with ``.options(resources={"node1": 0.01})``; or use
    ``NodeAffinitySchedulingStrategy(cluster.node_ids[i], soft=False)``.

    ``env`` is added to the environment of every Ray process (the raylets hand their environment
    down to the workers), ``node_env[i]`` to node ``i``'s alone: both are fixed when the node
    starts (a driver reaches workers later with ``runtime_env={"env_vars": ...}``).
    ``pycache``: a folder for one bytecode cache (``PYTHONPYCACHEPREFIX``) shared by every Python
    process of the cluster and by drivers started with ``driver_env``, which then write .pyc
    files even where ``PYTHONDONTWRITEBYTECODE`` is set: each process would compile Ray anew.
    ``pythonpath`` is put in front of the workers' ``PYTHONPATH`` (default: the repository root,
    so ``tests.*`` modules import in workers). Health checks are made fast
    (``health_check_period_ms`` x ``health_check_failure_threshold``), so the GCS marks a killed
    node dead in about 2 s rather than Ray's default ~20 s.
    """

    def __init__(
        self,
        nodes: int = 2,
        cpus_per_node: int = 1,
        *,
        host: str = DEFAULT_HOST,
        object_store_mb: int = 100,
        resource_prefix: str = "node",
        env: Mapping[str, str] | None = None,
        node_env: Mapping[int, Mapping[str, str]] | None = None,
        pythonpath: Sequence[str | os.PathLike[str]] | None = None,
        include_log_monitor: bool = True,
        health_check_period_ms: int = 500,
        health_check_failure_threshold: int = 4,
        start_timeout: float = 120.0,
        stop_grace: float = 2.0,
        keep_temp: bool = False,
        temp_root: str | os.PathLike[str] | None = None,
        pycache: str | os.PathLike[str] | None = None,
    ) -> None:
        if nodes < 1:
            raise ValueError("a cluster has at least one node (the head)")
        if object_store_mb < 75:
            raise ValueError("Ray's object store needs at least 75 MB")
        self.nodes = nodes
        self.cpus_per_node = cpus_per_node
        self.host = host
        self.object_store_mb = object_store_mb
        self.resource_prefix = resource_prefix
        self.include_log_monitor = include_log_monitor
        self.start_timeout = start_timeout
        self.stop_grace = stop_grace
        self.keep_temp = keep_temp
        self._temp_root = temp_root
        self._tag = uuid.uuid4().hex[:12]
        paths = [str(p) for p in (pythonpath if pythonpath is not None else [_REPO_ROOT])]
        inherited = os.environ.get("PYTHONPATH")
        self._env = dict(os.environ)
        self._env.update(_BASE_ENV)
        self._env.update(
            {
                "RAY_health_check_period_ms": str(health_check_period_ms),
                "RAY_health_check_timeout_ms": str(max(health_check_period_ms, 1000)),
                "RAY_health_check_failure_threshold": str(health_check_failure_threshold),
                "RAY_health_check_initial_delay_ms": "0",
            }
        )
        if paths or inherited:
            self._env["PYTHONPATH"] = os.pathsep.join([*paths, *([inherited] if inherited else [])])
        # A bytecode cache for every Python process of the cluster and for its drivers.
        self._bytecode = (
            {"PYTHONDONTWRITEBYTECODE": "", "PYTHONPYCACHEPREFIX": str(pycache)} if pycache else {}
        )
        self._env.update(self._bytecode)
        self._env.update(env or {})
        self._node_env = {i: dict(e) for i, e in (node_env or {}).items()}
        self._env.pop("RAY_ADDRESS", None)  # `ray start --head` must not join another cluster
        self.temp_dir: Path | None = None
        self.port: int | None = None
        self._nodes: list[_Node] = []
        self._gcs: Any = None
        self._reaper: subprocess.Popen[bytes] | None = None

    # -- the public face ------------------------------------------------------------------------
    @property
    def address(self) -> str:
        """The GCS address, for ``ray.init(address=...)`` and ``ray start --address``."""
        if self.port is None:
            raise RayClusterError("the cluster is not started")
        return f"{self.host}:{self.port}"

    @property
    def node_ids(self) -> list[str]:
        """Node ids (hex), by node index; node 0 is the head."""
        return [n.node_id or "" for n in self._nodes]

    def resource_name(self, i: int) -> str:
        return f"{self.resource_prefix}{i}"

    def driver_env(self) -> dict[str, str]:
        """Environment additions for a driver run as a subprocess (``ministudio render --executor
        ray``): the address, no usage stats, no `uv run` propagation."""
        return {**_BASE_ENV, **self._bytecode, "RAY_ADDRESS": self.address}

    def __enter__(self) -> LocalRayCluster:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        if self._nodes:
            raise RayClusterError("the cluster is already started")
        deadline = time.monotonic() + self.start_timeout
        self.temp_dir = Path(tempfile.mkdtemp(prefix="lrc-", dir=self._pick_temp_root()))
        try:
            self._start_reaper()
            self._start_head(deadline)
            for i in range(1, self.nodes):
                self._launch(self._new_node(i), ["--address", self.address])
            for node in self._nodes[1:]:
                self._wait_launched(node, deadline)
            self._wait_alive(self._nodes, deadline)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop every node (workers first, the head last): SIGTERM, then SIGKILL after
        ``stop_grace`` seconds; then remove the temp dir. Idempotent; never raises for a process
        that is already gone."""
        self._disconnect_driver()
        self._gcs = None
        for node in reversed(self._nodes):
            if node.launcher is not None and node.launcher.poll() is None:
                node.launcher.kill()
                node.launcher.wait(timeout=10)
            self._signal_node(node, signal.SIGTERM)
        deadline = time.monotonic() + self.stop_grace
        while any(self.node_pids(n.index) for n in self._nodes) and time.monotonic() < deadline:
            time.sleep(0.1)
        for node in reversed(self._nodes):
            self._signal_node(node, signal.SIGKILL)
            self._wait_node_gone(node, 10.0)
        if self.temp_dir is not None and not self.keep_temp:
            shutil.rmtree(self.temp_dir, ignore_errors=True)
        self._stop_reaper()  # last: until here, an interrupted stop() is still covered

    def node_pids(self, i: int) -> list[int]:
        """Live pids of node ``i``: its raylet, agents and workers (and, for the head, the GCS)."""
        node = self._nodes[i]
        if node.sid is None:
            return []
        return _session_members(node.sid, node.tag)

    def kill_node(self, i: int, *, wait_dead: bool = True, timeout: float = 60.0) -> list[int]:
        """SIGKILL every process of node ``i`` (not the head: that is the cluster). With
        ``wait_dead``, wait until the GCS has marked the node dead. Returns the pids killed."""
        if i == 0:
            raise ValueError("node 0 is the head; killing it kills the cluster (use stop())")
        node = self._nodes[i]
        killed = self._signal_node(node, signal.SIGKILL)
        node.killed = True
        if not self._wait_node_gone(node, min(timeout, 15.0)):
            raise RayClusterError(f"node {i} still has processes: {self.node_pids(i)}")
        if wait_dead:
            self._wait_until(
                lambda: node.node_id not in self.alive_node_ids(),
                time.monotonic() + timeout,
                f"the GCS to mark node {i} dead",
            )
        return killed

    def add_node(self, env: Mapping[str, str] | None = None) -> int:
        """Start one more (non-head) node, e.g. to replace a killed one; returns its index."""
        if not self._nodes:
            raise RayClusterError("the cluster is not started")
        index = len(self._nodes)
        if env:
            self._node_env[index] = dict(env)
        node = self._new_node(index)
        deadline = time.monotonic() + self.start_timeout
        self._launch(node, ["--address", self.address])
        self._wait_launched(node, deadline)
        self._wait_alive([node], deadline)
        self.nodes = len(self._nodes)
        return index

    def alive_node_ids(self) -> set[str]:
        return {n["node_id"] for n in self.gcs_nodes() if n["alive"]}

    def gcs_nodes(self) -> list[dict[str, Any]]:
        """Every node the GCS knows of (dead ones too), as plain dicts: node_id, alive, is_head,
        address, port, resources."""
        try:
            return self._gcs_nodes_direct()
        except ImportError:
            return self._gcs_nodes_subprocess()

    def logs_tail(self, lines: int = 40) -> str:
        """The end of each ``ray start`` output and of the main logs: for failure messages."""
        out: list[str] = []
        candidates: list[Path] = [n.log_path for n in self._nodes]
        for node in self._nodes:
            logs = node.temp_dir / "session_latest" / "logs"
            candidates += [logs / "gcs_server.err", logs / "raylet.err", logs / "raylet.out"]
        for path in candidates:
            with contextlib.suppress(OSError):
                text = path.read_text(errors="replace").splitlines()[-lines:]
                if text:
                    out.append(f"--- {path}\n" + "\n".join(text))
        return "\n".join(out)

    # -- starting -------------------------------------------------------------------------------
    def _pick_temp_root(self) -> str | None:
        if self._temp_root is not None:
            if len(str(self._temp_root)) > _MAX_TEMP_ROOT:
                raise ValueError(
                    f"temp_root {self._temp_root} is longer than {_MAX_TEMP_ROOT} characters:"
                    " Ray's Unix socket paths under it would pass the 107-byte limit"
                )
            return str(self._temp_root)
        root = tempfile.gettempdir()
        if len(root) > _MAX_TEMP_ROOT and Path("/tmp").is_dir():
            return "/tmp"
        return root

    def _new_node(self, i: int) -> _Node:
        assert self.temp_dir is not None
        node = _Node(
            index=i,
            temp_dir=self.temp_dir / f"n{i}",
            log_path=self.temp_dir / f"ray-start-{i}.log",
            tag=f"{self._tag}-{i}",
            resource=self.resource_name(i),
        )
        self._nodes.append(node)
        return node

    def _start_head(self, deadline: float) -> None:
        """The GCS port is probed free, then bound by gcs_server a moment later: another test
        may take it in between, so a start that fails is tried again on a new port."""
        last = ""
        for _attempt in range(3):
            node = self._nodes[0] if self._nodes else self._new_node(0)
            self.port = _free_port(self.host)
            self._launch(node, ["--head", "--port", str(self.port), "--include-dashboard=false"])
            try:
                self._wait_launched(node, deadline)
                return
            except RayClusterError as err:
                last = str(err)
                if time.monotonic() >= deadline:
                    break
                self._signal_node(node, signal.SIGKILL)
                self._wait_node_gone(node, 10.0)
                shutil.rmtree(node.temp_dir, ignore_errors=True)
        raise RayClusterError(f"the head did not start: {last}")

    def _launch(self, node: _Node, role_args: list[str]) -> None:
        args = [
            sys.executable,
            "-m",
            "ray.scripts.scripts",
            "start",
            *role_args,
            f"--node-ip-address={self.host}",
            f"--num-cpus={self.cpus_per_node}",
            "--num-gpus=0",
            f"--resources={json.dumps({node.resource: 1})}",
            f"--object-store-memory={self.object_store_mb * 1024 * 1024}",
            f"--temp-dir={node.temp_dir}",
            # 0/0: each worker binds a port the kernel picks, so two raylets never hand out
            # the same one (Ray's default is a fixed range, 10002-19999, per raylet).
            "--min-worker-port=0",
            "--max-worker-port=0",
            # The one fixed default port left (52365): two agents on a host would collide.
            f"--dashboard-agent-listen-port={_free_port(self.host)}",
            f"--include-log-monitor={'true' if self.include_log_monitor else 'false'}",
            "--disable-usage-stats",
            "--log-style=record",
            "--log-color=false",
        ]
        if "--head" in role_args and importlib.util.find_spec("grpc") is not None:
            # With ray[client] installed the head starts a client server on fixed port 10001.
            args.append(f"--ray-client-server-port={_free_port(self.host)}")
        env = dict(self._env)
        env.update(self._node_env.get(node.index, {}))
        env[_TAG_VAR] = node.tag
        node.temp_dir.parent.mkdir(parents=True, exist_ok=True)
        with open(node.log_path, "ab") as log:
            node.launcher = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=log,  # a file, not a pipe: the daemons it leaves would hold a pipe open
                stderr=subprocess.STDOUT,
                env=env,
                cwd=str(self.temp_dir),
                start_new_session=True,
            )
        node.sid = node.launcher.pid
        self._write_state()

    def _wait_launched(self, node: _Node, deadline: float) -> None:
        assert node.launcher is not None
        try:
            rc = node.launcher.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            node.launcher.kill()
            node.launcher.wait(timeout=10)
            raise RayClusterError(
                f"`ray start` of node {node.index} did not finish in time\n{self.logs_tail()}"
            ) from None
        if rc != 0:
            raise RayClusterError(
                f"`ray start` of node {node.index} exited {rc}\n{self.logs_tail()}"
            )

    def _wait_alive(self, nodes: list[_Node], deadline: float) -> None:
        wanted = {n.resource: n for n in nodes}

        def all_alive() -> bool:
            found = 0
            for info in self.gcs_nodes():
                for res, node in wanted.items():
                    if info["alive"] and res in info["resources"]:
                        node.node_id = info["node_id"]
                        found += 1
            return found == len(wanted)

        self._wait_until(all_alive, deadline, f"nodes {sorted(n.index for n in nodes)} to be alive")

    def _wait_until(self, cond: Any, deadline: float, what: str) -> None:
        while True:
            with contextlib.suppress(Exception):
                if cond():
                    return
            if time.monotonic() >= deadline:
                raise RayClusterError(f"timed out waiting for {what}\n{self.logs_tail()}")
            time.sleep(0.2)

    # -- the GCS --------------------------------------------------------------------------------
    def _gcs_nodes_direct(self) -> list[dict[str, Any]]:
        """Ask the GCS directly (Ray's own GcsClient: no driver, no job, half a second)."""
        from ray._raylet import GcsClient

        if self._gcs is None:
            self._gcs = GcsClient(address=self.address)
        infos = self._gcs.get_all_node_info(timeout=10)
        return [
            {
                "node_id": info.node_id.hex(),
                "alive": info.state == 0,  # GcsNodeInfo.GcsNodeState.ALIVE
                "is_head": bool(info.is_head_node),
                "address": info.node_manager_address,
                "port": info.node_manager_port,
                "resources": dict(info.resources_total),
            }
            for info in infos.values()
        ]

    def _gcs_nodes_subprocess(self) -> list[dict[str, Any]]:
        """Public API only (``ray.nodes()``), in a short-lived driver process."""
        code = (
            "import json, ray\n"
            f"ray.init(address={self.address!r}, log_to_driver=False, logging_level='ERROR')\n"
            "print(json.dumps([{'node_id': n['NodeID'], 'alive': n['Alive'],"
            " 'is_head': 'node:__internal_head__' in n['Resources'],"
            " 'address': n['NodeManagerAddress'], 'port': n['NodeManagerPort'],"
            " 'resources': n['Resources']} for n in ray.nodes()]))\n"
        )
        out = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            timeout=60,
            env={**self._env, "RAY_ADDRESS": self.address},
            check=True,
        )
        result: list[dict[str, Any]] = json.loads(out.stdout.strip().splitlines()[-1])
        return result

    # -- stopping -------------------------------------------------------------------------------
    def _signal_node(self, node: _Node, sig: signal.Signals) -> list[int]:
        pids = self.node_pids(node.index)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)
        return pids

    # -- the reaper: a watchdog that ends the cluster if this process dies without stop() -------
    def _state_path(self) -> Path:
        assert self.temp_dir is not None
        return self.temp_dir / "nodes.json"

    def _write_state(self) -> None:
        state = {
            "nodes": [[n.sid, n.tag] for n in self._nodes if n.sid is not None],
            "temp_dir": None if self.keep_temp else str(self.temp_dir),
        }
        tmp = self._state_path().with_suffix(".tmp")
        tmp.write_text(json.dumps(state))
        tmp.replace(self._state_path())

    def _start_reaper(self) -> None:
        """A process of its own session (so a kill of this process group spares it) that
        waits for this process to go away and then SIGKILLs every node still standing."""
        self._write_state()
        self._reaper = subprocess.Popen(
            [sys.executable, __file__, "--reap", str(os.getpid()), str(self._state_path())],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    def _stop_reaper(self) -> None:
        if self._reaper is not None:
            self._reaper.kill()
            self._reaper.wait(timeout=10)
            self._reaper = None

    def _wait_node_gone(self, node: _Node, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self.node_pids(node.index):
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)
        return True

    def _disconnect_driver(self) -> None:
        """A driver in this process left connected to a cluster that goes away is ended by
        Ray (exit after the GCS reconnect timeout): disconnect it first."""
        ray = sys.modules.get("ray")
        if ray is None or self.port is None:
            return
        with contextlib.suppress(Exception):
            if ray.is_initialized():
                ctx = ray.get_runtime_context()
                gcs = getattr(ctx, "gcs_address", None)
                if gcs in (None, self.address):
                    ray.shutdown()


def _free_port(host: str) -> int:
    """A port free on every interface (Ray's servers bind 0.0.0.0) and on ``host``."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("", 0))
            port = int(probe.getsockname()[1])
        with socket.socket() as check:
            try:
                check.bind((host, port))
            except OSError:
                continue
        return port
    raise RayClusterError("no free port")


def _session_members(sid: int, tag: str) -> list[int]:
    """Live (not zombie) processes of session ``sid`` that are this node's: those that carry
    ``tag`` in their environment (gcs_server, raylet, log monitor, workers), and their
    descendants in the session (the dashboard and runtime-env agents: a process title set by
    setproctitle may overwrite what /proc shows of the environment)."""
    needle = f"{_TAG_VAR}={tag}".encode()
    parents: dict[int, int] = {}
    ours: set[int] = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        pid = int(entry)
        try:
            if os.getsid(pid) != sid:
                continue
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            if fields[0] in ("Z", "X"):
                continue
            parents[pid] = int(fields[1])
            try:
                if needle in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"):
                    ours.add(pid)
            except PermissionError:
                ours.add(pid)  # cannot tell: the session id alone decides
        except (OSError, IndexError, ValueError):
            continue
    grown = True
    while grown:
        grown = False
        for pid, ppid in parents.items():
            if pid not in ours and ppid in ours:
                ours.add(pid)
                grown = True
    return sorted(ours)


def _reap(parent: int, state_path: str) -> int:
    """Run as ``python ray_cluster.py --reap PARENT STATE``: once this process is no longer
    PARENT's child (PARENT died, even by SIGKILL), kill the nodes listed in STATE."""
    while os.getppid() == parent:
        time.sleep(0.5)
    try:
        state = json.loads(Path(state_path).read_text())
    except (OSError, ValueError):
        return 0  # stopped cleanly: the temp dir is gone
    for sid, tag in state["nodes"]:
        for pid in _session_members(sid, tag):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
    if state.get("temp_dir"):
        time.sleep(1.0)
        shutil.rmtree(state["temp_dir"], ignore_errors=True)
    return 0


@contextlib.contextmanager
def local_ray_cluster(**kwargs: Any) -> Iterator[LocalRayCluster]:
    """``with local_ray_cluster(nodes=2) as cluster:`` — the same as the class."""
    with LocalRayCluster(**kwargs) as cluster:
        yield cluster


if __name__ == "__main__" and len(sys.argv) == 4 and sys.argv[1] == "--reap":
    sys.exit(_reap(int(sys.argv[2]), sys.argv[3]))

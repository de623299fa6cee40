"""The Ray executor on a real cluster: a head and a second node on loopback (``ray start``, each
its own processes, ``tests/ray_cluster.py``) render a showcase film through ``ministudio render
--executor ray``; node 1 is SIGKILLed mid-render, then the driver itself (a paid engine, then a
resume). The film comes out whole and the loopback paid engine sees each job once.

Without Ray installed the cluster tests skip; the usage and missing-Ray checks run anyway.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import av
import pytest
import yaml
from click.testing import CliRunner

from .conftest import EXAMPLES, run_cli
from .fakes.sim_server import SimServer

HAVE_RAY = importlib.util.find_spec("ray") is not None
needs_ray = pytest.mark.skipif(
    not HAVE_RAY,
    reason='Ray is not installed (pip install "ministudio-core[ray]"; the test group has it)',
)
# The cluster tests share one cluster (a module fixture); `--dist loadgroup` keeps them on one
# xdist worker (plain `-n` load distribution usually does: consecutive tests go together).
on_the_cluster = pytest.mark.xdist_group("ray-cluster")
SHOTS = ["question", "tiny", "two-places", "impossible", "rules", "amazing", "finale"]


# -- without a cluster ----------------------------------------------------------------------


def test_address_without_the_ray_executor_is_a_usage_error() -> None:
    from ministudio.cli import cli

    film = str(EXAMPLES / "quantum-mechanics.yaml")
    result = CliRunner().invoke(cli, ["render", film, "--address", "127.0.0.2:6379"])
    assert result.exit_code == 2
    assert "--address" in result.output and "--executor ray" in result.output


def test_without_ray_render_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from ministudio.cli import main

    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    film = str(EXAMPLES / "quantum-mechanics.yaml")
    argv = ["ministudio", "render", film, "-o", str(tmp_path / "out"), "--executor", "ray"]
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert 'pip install "ministudio-core[ray]"' in err
    assert not (tmp_path / "out").exists()  # nothing written


@needs_ray
def test_an_address_nobody_serves_is_said_at_once(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Ray would retry it for minutes; render says so and exits 2, before importing Ray."""
    from ministudio.cli import main

    with socket.socket() as probe:
        probe.bind(("127.0.0.2", 0))
        address = f"127.0.0.2:{probe.getsockname()[1]}"  # closed again: refused
    film = str(EXAMPLES / "quantum-mechanics.yaml")
    argv = ["ministudio", "render", film, "-o", str(tmp_path / "out")]
    monkeypatch.setattr(sys, "argv", [*argv, "--executor", "ray", "--address", address])
    began = time.monotonic()
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 2 and time.monotonic() - began < 30
    assert f"no Ray cluster answers at {address}" in capsys.readouterr().err


def test_a_task_exception_is_rebuilt_as_raised() -> None:
    """What crosses from a worker: the exception's class, args and attributes (EngineError's
    ``__init__`` takes other arguments than its ``args``: it does not unpickle as a whole),
    its causes; a class this process lacks comes back as RayWorkerError with its text."""
    from ministudio.errors import EngineError, MinistudioError
    from ministudio.run.ray import RayWorkerError, _Failure

    try:
        try:
            raise ValueError("inner")
        except ValueError as inner:
            raise EngineError("animatic", "could not draw", retryable=True) from inner
    except EngineError as exc:
        rebuilt = _Failure.of(exc).rebuild("c0ffee00" * 7)
    assert type(rebuilt) is EngineError
    assert str(rebuilt) == "animatic: could not draw"
    assert (rebuilt.engine, rebuilt.retryable) == ("animatic", True)
    assert type(rebuilt.__cause__) is ValueError and str(rebuilt.__cause__) == "inner"
    assert "raised in a Ray task on node c0ffee00" in rebuilt.__notes__[-1]

    lost = _Failure("no_such_module", "Gone", "it went", None, "").rebuild()
    assert type(lost) is RayWorkerError and str(lost) == "Gone: it went"
    assert isinstance(lost, MinistudioError)


# -- on a two-node cluster ------------------------------------------------------------------


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One head and one more node, one CPU each, for the whole module (~10-50 s to start)."""
    if not HAVE_RAY:
        pytest.skip("Ray is not installed")
    from .ray_cluster import LocalRayCluster

    # One bytecode cache for the cluster's processes and its drivers (``driver_env``): where
    # PYTHONDONTWRITEBYTECODE is set and the venv holds no .pyc, each of Ray's daemons, workers
    # and drivers would compile Ray and ministudio again (~7 s of the cluster's start alone).
    pycache = tmp_path_factory.mktemp("ray-pycache")
    # stop_grace: a throwaway cluster need not flush its logs before the SIGKILL
    with LocalRayCluster(nodes=2, cpus_per_node=1, pycache=pycache, stop_grace=0.5) as started:
        yield started


def showcase(path: Path, *, sim: list[str]) -> list[str]:
    """examples/quantum-mechanics.yaml, shortened (480p, 4 s asked per shot: the lines set
    the length), with the shots ``sim`` routed to the paid loopback engine; its shot ids."""
    data = yaml.safe_load((EXAMPLES / "quantum-mechanics.yaml").read_text())
    data["format"]["resolution"] = "480p"
    shots = data["scenes"][0]["shots"]
    for shot in shots:
        shot["duration"] = 4
    data["routing"]["shots"] = dict.fromkeys(sim, "sim")
    path.write_text(json.dumps(data))
    return [shot["id"] for shot in shots]


def sim_env(server: SimServer, site: Path, cluster: Any) -> dict[str, str]:
    return {
        **cluster.driver_env(),
        "SIM_BASE_URL": server.base_url,
        "SIM_API_KEY": server.api_key,
        "SIM_EXPECTED_LATENCY": "1.0",
        "PYTHONPATH": str(site),
    }


def render_command(film: Path, out: Path, store: Path, address: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "ministudio",
        "render",
        str(film),
        "-o",
        str(out),
        "--store",
        str(store),
        "-q",
        "--executor",
        "ray",
        "--address",
        address,
    ]


def start_render(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """The render as a driver process of its own; its stdout to ``log``, its stderr beside it
    (files: a pipe left unread could fill and stall it)."""
    full = {k: v for k, v in os.environ.items() if not k.startswith(("MINISTUDIO_", "RAY_"))}
    full["MINISTUDIO_KEYS_FILE"] = os.environ["MINISTUDIO_KEYS_FILE"]
    full.update(env)
    with log.open("wb") as out, log.with_suffix(".err").open("wb") as err:
        return subprocess.Popen(command, env=full, stdout=out, stderr=err)


def wait_for(what: str, condition: Callable[[], bool], child: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if child is not None and child.poll() is not None:
            raise AssertionError(f"the render ended (exit {child.returncode}) before {what}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def running_on(cluster: Any, node: int, task: bytes) -> bool:
    """Whether a Ray worker of ``node`` runs a task named ``task...`` now: a worker's process
    title is ``ray::<task name>`` while it runs one (``ray::IDLE`` between tasks)."""
    for pid in cluster.node_pids(node):
        try:
            title = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0", 1)[0]
        except OSError:
            continue
        if title.startswith(b"ray::" + task):
            return True
    return False


def assert_whole(out: Path, shot_ids: list[str]) -> dict[str, Any]:
    """The film decodes to every shot's frames, with sound, and the manifest says every shot
    rendered (no error, no slate)."""
    manifest = json.loads((out / "manifest.json").read_text())
    assert [s["id"] for s in manifest["shots"]] == shot_ids
    for shot in manifest["shots"]:
        assert shot["error"] is None and not shot["slate"], shot
        assert shot["state"] in ("done", "cached"), shot
    with av.open(str(out / "film.mp4")) as container:
        video = container.streams.video[0]
        seconds = float(video.duration * video.time_base)
        assert container.streams.audio
        frames = sum(1 for _ in container.decode(video=0))
    assert frames == sum(s["frames"] for s in manifest["shots"])
    assert abs(seconds - manifest["duration"]) <= 1 / 24
    return manifest


def work_line(stdout: str) -> str:
    """The render's last line: the tasks and task-seconds of each node."""
    line = stdout.strip().splitlines()[-1]
    assert line.startswith("ray: "), stdout
    return line


def node_tasks(line: str, node_id: str) -> tuple[int, float, str]:
    """The tasks, seconds and tags the work line gives the node ``node_id``."""
    found = re.search(rf"{node_id[:8]}(?: \(([^)]*)\))?: (\d+) tasks, ([\d.]+) s", line)
    assert found, (node_id, line)
    return int(found.group(2)), float(found.group(3)), found.group(1) or ""


@needs_ray
@on_the_cluster
def test_a_task_error_on_a_worker_is_the_error_the_render_knows(cluster, tmp_path) -> None:
    """A damaged clip probed on a worker raises MediaError with the message it has here; a
    task's value comes back; the work is counted on the node that ran it."""
    garbage = tmp_path / "clip.mp4"
    garbage.write_bytes(b"not a video at all")
    code = f"""
import anyio, json
from pathlib import Path
from ministudio.media.probe import probe
from ministudio.run.executors import LocalExecutor
from ministudio.run.ray import RayExecutor

async def outcome(executor):
    try:
        await executor.media(probe, Path({str(garbage)!r}))
    except Exception as exc:
        return [type(exc).__module__ + "." + type(exc).__qualname__, str(exc)]

ray_executor = RayExecutor({cluster.address!r})
print(json.dumps({{
    "ray": anyio.run(outcome, ray_executor),
    "local": anyio.run(outcome, LocalExecutor()),
    "sum": anyio.run(ray_executor.media, sum, [1, 2, 3]),
    "tasks": sum(w.tasks for w in ray_executor.work_by_node.values()),
}}))
ray_executor.close()
"""
    env = {**os.environ, **cluster.driver_env()}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["ray"] == found["local"]
    assert found["ray"][0] == "ministudio.errors.MediaError"
    assert found["sum"] == 6 and found["tasks"] == 2


@needs_ray
@on_the_cluster
def test_the_driver_killed_mid_render_then_resumed_pays_each_job_once(
    cluster, plugin_sites, tmp_path
) -> None:
    """Every shot on the paid engine (sim), fitted and checked on the cluster: the driver is
    SIGKILLed once a clip is back and others are still out, and a second render finishes the
    film, each job submitted once (the journal, kept by the driver, knows the ones in
    flight)."""
    film, out, store = tmp_path / "film.json", tmp_path / "out", tmp_path / "store"
    shot_ids = showcase(film, sim=SHOTS)
    command = render_command(film, out, store, cluster.address)
    with SimServer(latency=(1.5, 0.2), concurrency=4) as server:
        env = sim_env(server, plugin_sites["sim"], cluster)
        child = start_render(command, env, tmp_path / "killed.log")
        try:
            wait_for(
                "a paid clip to be back",
                lambda: any(j.state == "succeeded" for j in server.jobs.values()),
                child,
                timeout=120,
            )
            in_flight = sum(1 for j in server.jobs.values() if j.state != "succeeded")
            child.send_signal(signal.SIGKILL)
        finally:
            child.kill()
            child.wait()
        killed_at = server.submissions
        assert killed_at >= 1 and (in_flight or killed_at < len(shot_ids)), (
            killed_at,
            in_flight,
        )
        assert not (out / "film.mp4").exists()

        done = run_cli(*command[3:], sites=[plugin_sites["sim"]], env=env)
        assert done.returncode == 0, done.stdout + done.stderr
        assert server.submissions == len(shot_ids)  # each once, across both renders
        assert len({j.external_id for j in server.jobs.values()}) == len(shot_ids)
    manifest = assert_whole(out, shot_ids)
    assert all(s["engine"] == "sim" for s in manifest["shots"])
    assert "ray: " in work_line(done.stdout)


@needs_ray
@on_the_cluster
def test_a_node_killed_mid_render_leaves_the_film_whole(cluster, plugin_sites, tmp_path) -> None:
    """The showcase, keyless but one paid shot, across both nodes; node 1 is SIGKILLed while
    a worker of it draws a clip (after the lines, before the film): its tasks run again on
    the head, the film is whole, the paid shot was submitted once, and the render's last
    line gives each node's share (node 1 marked gone)."""
    film, out, store = tmp_path / "film.json", tmp_path / "out", tmp_path / "store"
    shot_ids = showcase(film, sim=["tiny"])
    command = render_command(film, out, store, cluster.address)
    head, second = cluster.node_ids[0], cluster.node_ids[1]
    with SimServer(latency=(1.0, 0.2)) as server:
        env = sim_env(server, plugin_sites["sim"], cluster)
        log = tmp_path / "render.log"
        child = start_render(command, env, log)
        try:
            wait_for(
                "node 1 to draw a clip",
                lambda: running_on(cluster, 1, b"video:animatic"),
                child,
                timeout=150,
            )
            killed = cluster.kill_node(1)
            assert killed
            child.wait(timeout=240)
        finally:
            child.kill()
            child.wait()
        output = log.read_text(errors="replace")
        assert child.returncode == 0, output + log.with_suffix(".err").read_text(errors="replace")
        assert server.submissions == 1
    assert_whole(out, shot_ids)
    line = work_line(output)
    head_tasks, head_seconds, head_tags = node_tasks(line, head)
    tasks, seconds, tags = node_tasks(line, second)
    assert "head" in head_tags and head_tasks >= 1 and head_seconds > 0
    assert "gone" in tags and tasks >= 1 and seconds > 0
    assert re.match(rf"ray: {head_tasks + tasks} tasks on 2 node\(s\)", line)

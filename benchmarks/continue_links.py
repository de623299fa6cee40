"""Issue 17: what a `continue` link costs beyond its clip's latency, on every remote engine's fake.

Run: python benchmarks/continue_links.py [--latency L] [--links N] [--engines a,b,...]
     (defaults: 3.0 s, 4 shots, every remote engine below; about 20 s per engine)

Each engine renders a small film of N shots of 5 s (one line of speech each), the first a cut
and every later one a `continue` of the shot before, on its loopback fake (tests/fakes/) with
every clip taking exactly L seconds, and the engine told to expect L (its ``*_EXPECTED_LATENCY``,
as the tests do). A link is one shot continuing the one before: it cannot be submitted before
the previous clip is done, downloaded, fitted and its last frame taken.

Where the times come from:
- the fake's side: when it accepted each job (``submitted_at``), when the job finished
  (``done_at``), and every request it received, with its arrival time (the request log
  ``_log``, wrapped here to stamp each entry);
- the core's side: ``ShotEvent`` callbacks, and spans of the render's own steps (the engine
  hooks through ``PluginHost.call_engine``, fitting, checks, the last frame's grab, speech,
  storing), timed by wrapping those functions in this process only. Nothing is added to the
  core.

Per link (a shot continuing the one before) it prints the clip's latency and the gap: from
the previous clip done (the fake's ``done_at``) to this shot's submission accepted (its
``submitted_at``). The gap is split along its path: the polling lag (done until the runner's
status request that saw it came back), the download, the parts of the previous shot's fit and
checks (QC) that came before this shot's frame was taken, anything else before it, the grab of
the frame this shot starts from, the way to its submit call, and the submit call (the hook
called until the fake accepted the job, uploads included). Per engine: wall / shots - L (the
fixed costs spread over the links), the time before the first submission (speech, the plan,
the first submit call; the film's opening, which may run beside it), the tail after the last
clip (its download, fit, checks and the film), the status requests per job, and the fake's
own view of the polling lag (its next request after a job is done).

Target (issue 17): a link adds at most 0.5 s beyond its clip's latency on every remote fake.
"""

from __future__ import annotations

import argparse
import contextvars
import functools
import importlib
import inspect
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

os.environ.setdefault("NO_GCE_CHECK", "True")  # google-auth: never look for a metadata server
os.environ.setdefault("CLOUDSDK_CONFIG", "/nonexistent-gcloud-config")

TARGET = 0.5  # seconds a link may add beyond its clip's latency
SHOT: contextvars.ContextVar[str] = contextvars.ContextVar("shot", default="")


def _module(*names: str) -> Any:
    """The first of ``names`` that imports (the core's modules moved in the Layout commit)."""
    for name in names:
        try:
            return importlib.import_module(name)
        except ModuleNotFoundError:
            continue
    raise ModuleNotFoundError(names[0])


# -- the spans ------------------------------------------------------------------------------
@dataclass
class Span:
    shot: str
    name: str
    start: float
    end: float
    detail: str = ""

    @property
    def seconds(self) -> float:
        return self.end - self.start


@dataclass
class Recorder:
    spans: list[Span] = field(default_factory=list)
    events: list[tuple[float, Any]] = field(default_factory=list)
    _undo: list[Callable[[], None]] = field(default_factory=list)

    def wrap(
        self,
        owner: Any,
        attr: str,
        name: str | Callable[..., str],
        *,
        shot: Callable[..., str] | None = None,
        detail: Callable[[Any], str] | None = None,
    ) -> None:
        """Time every call of ``owner.attr`` (sync or async) as a span called ``name``
        (or ``name(*args)``); ``shot(*args)`` sets the shot for everything under it."""
        original = getattr(owner, attr)
        recorder = self

        def label(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
            return name(*args, **kwargs) if callable(name) else name

        if inspect.iscoroutinefunction(original):

            @functools.wraps(original)
            async def timed_async(*args: Any, **kwargs: Any) -> Any:
                token = SHOT.set(shot(*args)) if shot else None
                began = time.monotonic()
                result: Any = None
                try:
                    result = await original(*args, **kwargs)
                    return result
                finally:
                    recorder.spans.append(
                        Span(
                            SHOT.get(),
                            label(args, kwargs),
                            began,
                            time.monotonic(),
                            detail(result) if detail and result is not None else "",
                        )
                    )
                    if token is not None:
                        SHOT.reset(token)

            setattr(owner, attr, timed_async)
        else:

            @functools.wraps(original)
            def timed(*args: Any, **kwargs: Any) -> Any:
                began = time.monotonic()
                try:
                    return original(*args, **kwargs)
                finally:
                    recorder.spans.append(
                        Span(SHOT.get(), label(args, kwargs), began, time.monotonic())
                    )

            setattr(owner, attr, timed)
        self._undo.append(lambda: setattr(owner, attr, original))

    def undo(self) -> None:
        while self._undo:
            self._undo.pop()()

    def of(self, shot: str, name: str) -> list[Span]:
        return [s for s in self.spans if s.shot == shot and s.name == name]


def instrument(recorder: Recorder) -> None:
    """Wrap the render's steps (in this process only): the job-graph renderer's parts
    (``ministudio.run.renderer`` and its helpers), or the single ``_Renderer`` before it."""
    fit = _module("ministudio.media.fit")
    plugins = _module("ministudio.plugins")
    store = _module("ministudio.run.store", "ministudio.store")
    verdicts = _module("ministudio.qc.verdicts", "ministudio.verdicts")
    try:
        graph = importlib.import_module("ministudio.run.renderer")
    except ModuleNotFoundError:
        graph = None
    if graph is not None:
        assembly = _module("ministudio.run.assembly").Assembly
        recorder.wrap(graph.Renderer, "_render_shot", "shot", shot=lambda self, s: s.planned.id)
        recorder.wrap(_module("ministudio.run.speech").Speech, "speak", "speech")
        recorder.wrap(graph, "assess", "plan")
        recorder.wrap(assembly, "open", "open film")
        recorder.wrap(_module("ministudio.run.clips").Clips, "continue_frame", "last frame")
        recorder.wrap(_module("ministudio.run.takes").Takes, "check", "qc")
        recorder.wrap(_module("ministudio.run.engine_calls").EngineCalls, "generate", "generate")
        recorder.wrap(assembly, "append_ready", "film append")
    else:
        renderer = _module("ministudio.run.render", "ministudio.render")._Renderer
        film = _module("ministudio.media.film", "ministudio.film")
        recorder.wrap(renderer, "_render_shot", "shot", shot=lambda self, all, s, p: s.planned.id)
        recorder.wrap(renderer, "_speak_all", "speech")
        recorder.wrap(renderer, "assess", "plan")
        recorder.wrap(renderer, "_open_film", "open film")
        grab = "_continue_frame" if hasattr(renderer, "_continue_frame") else "_last_frame"
        recorder.wrap(renderer, grab, "last frame")
        recorder.wrap(renderer, "_check", "qc")
        recorder.wrap(renderer, "_generate", "generate")
        recorder.wrap(film.FilmAssembly, "append_ready", "film append")
    recorder.wrap(verdicts.Inspector, "verdicts", "qc checks")
    recorder.wrap(fit, "fit_clip", "fit")
    recorder.wrap(store.ContentStore, "put", "store")

    def hook(self: Any, engine: str, hook: str, **kwargs: Any) -> str:
        return hook

    def state(result: Any) -> str:
        return str(getattr(result, "state", ""))

    recorder.wrap(plugins.PluginHost, "call_engine", hook, detail=state)


# -- the engines and their fakes ----------------------------------------------------------------
@dataclass
class Fake:
    """One remote engine on its fake: how to start it, the render's env, its jobs."""

    engine: str
    latency_env: str
    start: Callable[[float], Any]
    env: Callable[[Any, Path], dict[str, str]]
    register: Callable[[Any], None] = lambda host: None

    def jobs(self, server: Any) -> list[Any]:
        """The fake's video jobs, in the order they were accepted."""
        found = []
        for name in ("jobs", "tasks", "operations", "interactions"):
            for job in list(getattr(server, name, {}).values()):
                image = getattr(job, "generation_type", "video") == "image"  # Luma's Photon
                if hasattr(job, "submitted_at") and hasattr(job, "done_at") and not image:
                    found.append(job)
        return sorted(found, key=lambda j: j.submitted_at)


def _stamped(cls: type) -> type:
    """The fake's class with its request log stamped: ``stamps`` holds (time, method, path)."""

    class Stamped(cls):  # type: ignore[misc, valid-type]
        def _log(self, method: str, path: str) -> None:
            super()._log(method, path)
            self.stamps.append((time.monotonic(), method, path))

    Stamped.__name__ = cls.__name__
    return Stamped


def _server(cls: type, **kwargs: Any) -> Any:
    server = _stamped(cls)(**kwargs)
    server.stamps = []
    return server


def fakes() -> dict[str, Fake]:
    from tests.fakes.google_server import GoogleServer
    from tests.fakes.kling_server import KlingServer
    from tests.fakes.luma_agents_server import LumaAgentsServer
    from tests.fakes.luma_server import LumaServer
    from tests.fakes.sim_server import SimServer

    token, gemini_key = "vertex-bench-TOKEN", "gemini-bench-KEY"

    def sim(host: Any) -> None:
        from tests.test_sim_engine import _load_plugin

        host.register(_load_plugin(), "sim")

    return {
        "luma-dream-machine": Fake(
            "luma-dream-machine",
            "LUMA_EXPECTED_LATENCY",
            lambda latency: _server(LumaServer, latency=latency, render_scale=0.125),
            lambda s, tmp: {
                "LUMAAI_BASE_URL": s.api_url,
                "LUMAAI_API_KEY": s.api_key,
                "LUMA_ASSET_BASE_URL": "http://127.0.0.1:9/assets",  # recorded, never fetched
                "LUMA_ASSET_DIR": str(tmp / "assets"),
            },
        ),
        "luma": Fake(
            "luma",
            "LUMA_EXPECTED_LATENCY",
            lambda latency: _server(LumaAgentsServer, latency=latency, render_scale=0.125),
            lambda s, tmp: {"LUMA_BASE_URL": s.api_url, "LUMA_AGENTS_API_KEY": s.api_key},
        ),
        "kling": Fake(
            "kling",
            "KLING_EXPECTED_LATENCY",
            lambda latency: _server(KlingServer, latency=latency, render_scale=0.125),
            lambda s, tmp: {
                "KLING_BASE_URL": s.base_url,
                "KLING_ACCESS_KEY": s.access_key,
                "KLING_SECRET_KEY": s.secret_key,
            },
        ),
        "veo-vertex": Fake(
            "veo-vertex",
            "VEO_EXPECTED_LATENCY",
            lambda latency: _server(
                GoogleServer, access_token=token, latency=latency, render_scale=0.125
            ),
            lambda s, tmp: {
                "VERTEX_BASE_URL": s.base_url,
                "VEO_STORAGE_BASE_URL": s.base_url,
                "GOOGLE_CLOUD_PROJECT": "ministudio-fake",
                "GOOGLE_CLOUD_LOCATION": "us-central1",
                "VERTEX_AI_ACCESS_TOKEN": token,
            },
        ),
        "gemini-omni": Fake(
            "gemini-omni",
            "OMNI_EXPECTED_LATENCY",
            lambda latency: _server(
                GoogleServer, api_key=gemini_key, latency=latency, render_scale=0.125
            ),
            lambda s, tmp: {"GEMINI_BASE_URL": s.base_url, "GEMINI_API_KEY": gemini_key},
        ),
        "sim": Fake(
            "sim",
            "SIM_EXPECTED_LATENCY",
            lambda latency: _server(SimServer, latency=latency),
            lambda s, tmp: {"SIM_BASE_URL": s.base_url, "SIM_API_KEY": s.api_key},
            register=sim,
        ),
    }


def production(engine: str, links: int) -> Any:
    spec = _module("ministudio.spec")
    shots = [
        {
            "id": f"s{i + 1}",
            "action": f"Ann does thing number {i + 1}",
            "duration": 5,
            "continuity": "continue" if i else "cut",
            "dialogue": [{"speaker": "ann", "text": f"Line number {i + 1}."}],
        }
        for i in range(links)
    ]
    return spec.Production.model_validate(
        {
            "title": "Links",
            "format": {"aspect_ratio": "16:9", "resolution": "720p", "fps": 24},
            "characters": {"ann": {"name": "Ann", "dna": "a woman in a red coat"}},
            "environments": {"park": {"description": "a park"}},
            "scenes": [{"id": "one", "environment": "park", "shots": shots}],
            "routing": {"video": engine},
        }
    )


# -- one run --------------------------------------------------------------------------------
@dataclass
class Link:
    shot: str
    latency: float  # the clip's, on the fake
    gap: float  # previous clip done -> this submission (both on the fake)
    parts: dict[str, float]


@dataclass
class Run:
    engine: str
    wall: float
    links: list[Link]
    first: dict[str, float]  # before the first submission
    tail: dict[str, float]  # after the last clip is done
    polls: list[int]  # status requests per job (the runner's)
    poll_seconds: float  # the mean status request, from the runner's call to its answer
    # the fake's side: seconds from each job done to the next request it received (the
    # status request that finds it done), mean over the jobs
    fake_lag: float


@contextmanager
def _env(name: str, value: str) -> Iterator[None]:
    old = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = old


def run(fake: Fake, latency: float, links: int, tmp: Path) -> Run:
    plugins = _module("ministudio.plugins")
    render = _module("ministudio.run.render", "ministudio.render")
    store = _module("ministudio.run.store", "ministudio.store")
    recorder = Recorder()
    with _env(fake.latency_env, str(latency)), fake.start(latency) as server:
        host = plugins.PluginHost(env={})
        fake.register(host)
        film = production(fake.engine, links)
        instrument(recorder)
        try:
            began = time.monotonic()
            render.render(
                film,
                tmp / "out",
                host=host,
                store=store.ContentStore(tmp / "store"),
                env=fake.env(server, tmp),
                on_event=lambda e: recorder.events.append((time.monotonic(), e)),
            )
            ended = time.monotonic()
        finally:
            recorder.undo()
        jobs = fake.jobs(server)
        stamps = sorted(t for t, _, _ in server.stamps)
    shots = [f"s{i + 1}" for i in range(links)]
    assert len(jobs) == links, f"{fake.engine}: {len(jobs)} video jobs for {links} shots"
    done_event = {
        e.shot_id: t for t, e in recorder.events if e.state in ("done", "cached", "failed")
    }

    def sum_of(shot: str, name: str, after: float = 0.0, before: float = 1e18) -> float:
        return sum(s.seconds for s in recorder.of(shot, name) if after <= s.start < before)

    def noticed(shot: str, done_at: float) -> float:
        """When the runner's status request that saw the job done came back."""
        polls = [s for s in recorder.of(shot, "poll_video") if s.end >= done_at]
        terminal = [s for s in polls if s.detail in ("succeeded", "failed")]
        return min(s.end for s in terminal) if terminal else done_at

    def overlap(shot: str, name: str, lo: float, hi: float) -> float:
        """Seconds of the shot's ``name`` spans inside [lo, hi] (the part on the path)."""
        return sum(max(0.0, min(s.end, hi) - max(s.start, lo)) for s in recorder.of(shot, name))

    def after_clip(shot: str, job: Any, until: float) -> tuple[dict[str, float], float]:
        """From the shot's clip done (on the fake) to ``until``: the polling lag, the
        download, then the fit and checks on the way; and when the download ended."""
        seen = noticed(shot, job.done_at)
        downloads = [s for s in recorder.of(shot, "download_video") if s.start >= seen - 0.01]
        downloaded = downloads[0].end if downloads else seen
        parts = {"poll lag": seen - job.done_at, "download": downloaded - seen}
        parts["fit"] = overlap(shot, "fit", downloaded, until)
        parts["qc"] = overlap(shot, "qc", downloaded, until)
        return parts, downloaded

    result: list[Link] = []
    for i in range(1, links):
        prev, shot, job, before = shots[i - 1], shots[i], jobs[i], jobs[i - 1]
        calls = recorder.of(shot, "submit_video")
        sent = calls[0].start if calls else job.submitted_at
        # the grab of the frame this shot starts from: the previous shot's (after its clip
        # came in) or its own (after the previous shot was done)
        grabs = [
            s
            for s in recorder.spans
            if s.name == "last frame" and s.shot in (prev, shot) and before.done_at <= s.end <= sent
        ]
        grab = grabs[-1] if grabs else None
        frame_from = grab.start if grab else sent
        parts, downloaded = after_clip(prev, before, frame_from)
        parts["other"] = frame_from - downloaded - parts["fit"] - parts["qc"]
        parts["last frame"] = grab.seconds if grab else 0.0
        parts["to submit"] = sent - (grab.end if grab else frame_from)
        parts["submit call"] = job.submitted_at - sent
        result.append(
            Link(shot, job.done_at - job.submitted_at, job.submitted_at - before.done_at, parts)
        )
    first_submit = jobs[0].submitted_at
    first_calls = recorder.of(shots[0], "submit_video")
    sent = first_calls[0].start if first_calls else first_submit
    speech = [s for s in recorder.spans if s.name == "speech"]
    plan = [s for s in recorder.spans if s.name == "plan"]
    opened = [s for s in recorder.spans if s.name == "open film"]
    started = recorder.of(shots[0], "shot")
    first = {
        "before speech": min((s.start for s in speech), default=began) - began,
        # lines are spoken at once: from the first one's start to the last one's end
        "speech": max((s.end for s in speech), default=0.0)
        - min((s.start for s in speech), default=0.0),
        "plan": sum(s.seconds for s in plan),
        # from the plan to the first shot's start: the film's opening, when it came first
        "to the shot": (started[0].start if started else sent) - (plan[-1].end if plan else began),
        "shot to submit": sent - (started[0].start if started else sent),
        "submit call": first_submit - sent,
    }
    first["other"] = first_submit - began - sum(first.values())
    first["total"] = first_submit - began
    first["(opening the film"] = sum(s.seconds for s in opened)
    tail, downloaded = after_clip(shots[-1], jobs[-1], ended)
    tail["film"] = ended - done_event[shots[-1]]
    tail["total"] = ended - jobs[-1].done_at
    polls = [len([s for s in recorder.of(shot, "poll_video")]) for shot in shots]
    asked = [s.seconds for s in recorder.spans if s.name == "poll_video"]
    lags = [min((t for t in stamps if t >= j.done_at), default=j.done_at) - j.done_at for j in jobs]
    return Run(
        fake.engine,
        ended - began,
        result,
        first,
        tail,
        polls,
        statistics.mean(asked or [0.0]),
        statistics.mean(lags),
    )


# -- printing -------------------------------------------------------------------------------
LINK_PARTS = (
    "poll lag",
    "download",
    "fit",
    "qc",
    "other",
    "last frame",
    "to submit",
    "submit call",
)


def report(r: Run, latency: float) -> bool:
    n = len(r.links) + 1
    overhead = r.wall / n - latency
    worst = max(link.gap for link in r.links)
    ok = worst <= TARGET
    print(
        f"{r.engine}: {n} shots, L={latency:.1f} s: wall {r.wall:.2f} s; wall/shots - L = "
        f"{overhead:.2f} s; link gaps {', '.join(f'{link.gap:.2f}' for link in r.links)} s "
        f"(worst {worst:.2f}, target <= {TARGET}) {'ok' if ok else 'MISSED'}"
    )
    head = "  link      clip  gap  " + " ".join(f"{p:>10.10}" for p in LINK_PARTS)
    print(head)
    for link in r.links:
        cells = " ".join(f"{link.parts[p]:10.3f}" for p in LINK_PARTS)
        print(f"  {link.shot:<8}{link.latency:5.2f} {link.gap:5.2f}  {cells}")
    means = {p: statistics.mean(link.parts[p] for link in r.links) for p in LINK_PARTS}
    gap = statistics.mean(link.gap for link in r.links)
    cells = " ".join(f"{means[p]:10.3f}" for p in LINK_PARTS)
    print(f"  {'mean':<8}{'':5} {gap:5.2f}  {cells}")
    print(
        "  before the first submission: "
        + ", ".join(f"{k} {v:.2f}" for k, v in r.first.items())
        + " s)"
    )
    print("  after the last clip: " + ", ".join(f"{k} {v:.2f}" for k, v in r.tail.items()) + " s")
    print(
        f"  status requests per job: {r.polls}, {r.poll_seconds * 1000:.0f} ms each (mean); "
        f"the fake's next request after a job is done: {r.fake_lag * 1000:.0f} ms later (mean)"
    )
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--latency", type=float, default=3.0)
    parser.add_argument("--links", type=int, default=4, help="shots in the chain")
    parser.add_argument("--engines", default="", help="comma-separated (default: all)")
    args = parser.parse_args()
    known = fakes()
    chosen = [e for e in args.engines.split(",") if e] or list(known)
    ok = True
    for engine in chosen:
        with tempfile.TemporaryDirectory(prefix=f"links-{engine}-") as tmp:
            result = run(known[engine], args.latency, args.links, Path(tmp))
        ok = report(result, args.latency) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""ministudio.plugin_kit: engines as classes, a plugin's hooks written once by engine_hooks."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
import threading
import types
from pathlib import Path
from typing import Any

import anyio
import pytest
from ministudio import hookimpl
from ministudio.engines import Capabilities, EngineSpec
from ministudio.errors import AmbiguousSubmission, EngineError
from ministudio.jobs import JobStatus, Submission, VideoResult
from ministudio.plugin_kit import Engine, EnginePlugin, engine_hooks
from ministudio.plugins import PluginHost

from .test_sim_engine import PLUGIN_SRC, _load_plugin


def declared(engine_id: str) -> EngineSpec:
    return EngineSpec(id=engine_id, kind="video", capabilities=Capabilities())


class Async(Engine):
    """A remote engine written with coroutines, with a lookup and a webhook parser."""

    id = "async"

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def spec(self) -> EngineSpec:
        return declared(self.id)

    async def submit(self, request: Any, idempotency_key: str) -> Submission:
        self.calls.append(("submit", {"request": request, "idempotency_key": idempotency_key}))
        return Submission(job_id=f"a-{idempotency_key}")

    async def poll(self, job_id: str) -> JobStatus:
        return JobStatus(job_id=job_id, state="running")

    async def download(self, job_id: str, output: Path) -> VideoResult:
        return VideoResult(path=output, engine_job_id=job_id)

    async def find_job(self, idempotency_key: str, since: float) -> str | None:
        self.calls.append(("find_job", {"idempotency_key": idempotency_key, "since": since}))
        return None  # surely no job

    def parse_webhook(self, body: bytes) -> JobStatus | None:
        return JobStatus(job_id=body.decode(), state="succeeded")


class Sync(Engine):
    """A remote engine written with plain functions, and no lookup."""

    id = "sync"

    def __init__(self) -> None:
        self.threads: list[str] = []

    def spec(self) -> EngineSpec:
        return declared(self.id)

    def submit(self, engine: str, context: Any) -> Submission:
        self.threads.append(threading.current_thread().name)
        return Submission(job_id=f"{engine}-1")

    def poll(self, job_id: str) -> JobStatus:
        return JobStatus(job_id=job_id, state="queued")

    def download(self, job_id: str, output: Path) -> VideoResult:
        return VideoResult(path=output, engine_job_id=job_id)

    def estimate_cost(self, request: Any) -> float:
        return 1.25


def registered(*engines: Engine, name: str = "kit") -> PluginHost:
    host = PluginHost(discover=False)
    host.register(EnginePlugin(*engines), name)
    return host


def call(host: PluginHost, engine: str, hook: str, **kwargs: Any) -> Any:
    async def go() -> Any:
        return await host.call_engine(engine, hook, **kwargs)

    return anyio.run(go)


# -- dispatch --------------------------------------------------------------------------------


def test_each_hook_is_written_once_and_answers_by_engine_id(tmp_path: Path) -> None:
    a, s = Async(), Sync()
    host = registered(a, s)
    assert sorted(host.engines) == ["async", "sync"]
    submitted = call(host, "async", "submit_video", request="r", idempotency_key="k", context=None)
    assert submitted == Submission(job_id="a-k")
    assert a.calls == [("submit", {"request": "r", "idempotency_key": "k"})]  # only its own
    assert call(
        host, "sync", "submit_video", request="r", idempotency_key="k", context=None
    ) == Submission(job_id="sync-1")  # a method may take `engine` too
    assert s.threads and s.threads[0] != threading.main_thread().name  # the core's worker
    assert call(host, "sync", "poll_video", job_id="j", context=None).state == "queued"
    assert call(host, "async", "poll_video", job_id="j", context=None).state == "running"
    done = call(
        host,
        "async",
        "download_video",
        job_id="j",
        status=None,
        output=tmp_path / "a.mp4",
        context=None,
        request=None,
    )
    assert done == VideoResult(path=tmp_path / "a.mp4", engine_job_id="j")


def test_a_foreign_engine_id_gets_none_from_every_hook_never_a_coroutine() -> None:
    hooks = engine_hooks(Async(), Sync())
    for name, hook in hooks.items():
        if name == "ministudio_engines":
            continue
        arguments = {p: None for p in inspect.signature(hook).parameters}
        assert hook(**{**arguments, "engine": "someone-else"}) is None, name


def test_firstresult_hooks_pass_a_foreign_id_on_to_its_own_plugin() -> None:
    """``prompt_map`` is asked of every plugin: the kit's answers None for ids it does not
    own, so the owner's answer is the one taken, whatever the registration order."""

    class Prompted(Engine):
        id = "prompted"

        def spec(self) -> EngineSpec:
            return declared(self.id)

        def prompt(self, shot: Any) -> str:
            return f"kit: {shot}"

    class Other:
        @hookimpl
        def ministudio_engines(self) -> list[EngineSpec]:
            return [declared("other")]

        @hookimpl
        def prompt_map(self, engine: str, shot: Any) -> str | None:
            return f"other: {shot}" if engine == "other" else None

    host = PluginHost(discover=False)
    host.register(Other(), "other")
    host.register(EnginePlugin(Prompted()), "kit")
    assert host.pm.hook.prompt_map(engine="other", shot="s") == "other: s"
    assert host.pm.hook.prompt_map(engine="prompted", shot="s") == "kit: s"
    assert host.pm.hook.prompt_map(engine="nobody", shot="s") is None


def test_the_module_form_registers_as_any_plugin_module() -> None:
    module = types.ModuleType("kit_module")
    module.__dict__.update(engine_hooks(Sync()))
    host = PluginHost(discover=False)
    info = host.register(module, "kit-module")
    assert info.error is None and info.engines == ["sync"]
    assert host.estimate_cost(host.engines["sync"], request=None) == 1.25  # type: ignore[arg-type]


# -- optional hooks ---------------------------------------------------------------------------


def test_optional_hooks_exist_only_where_an_engine_has_the_method() -> None:
    only_sync = engine_hooks(Sync())
    assert set(only_sync) == {
        "ministudio_engines",
        "submit_video",
        "poll_video",
        "download_video",
        "estimate_cost",
    }
    host = registered(Sync())
    for hook in ("find_video_job", "parse_webhook", "upload_asset", "prompt_map"):
        assert not host.implements("sync", hook)
    assert host.parse_webhook("sync", b"x", {}) is None  # no hook: the core's own answer
    both = registered(Async(), Sync())
    assert both.implements("sync", "find_video_job")  # the plugin's, so the core asks it
    assert both.parse_webhook("async", b"job-9", {}) == JobStatus(job_id="job-9", state="succeeded")
    assert both.parse_webhook("sync", b"job-9", {}) is None  # None: not this engine's push
    assert both.estimate_cost(both.engines["async"], _Priced(4.0)) == 0.0  # type: ignore[arg-type]
    assert both.estimate_cost(both.engines["sync"], _Priced(4.0)) == 1.25  # type: ignore[arg-type]


class _Priced:
    """Enough of a VideoRequest for the price-per-second fallback."""

    def __init__(self, duration: float) -> None:
        self.duration = duration


def test_an_engine_without_a_lookup_beside_one_with_it_is_never_looked_up_as_none() -> None:
    """The bug class of find_video_job's docstring: a plugin whose hook looks up one
    engine's jobs is asked for every engine it declares. None would say "surely no job" and
    the core would pay again; the kit answers AmbiguousSubmission for the engine without."""
    a = Async()
    host = registered(a, Sync())
    with pytest.raises(AmbiguousSubmission, match=r"offers no lookup.*--forget-lost") as lost:
        call(
            host,
            "sync",
            "find_video_job",
            idempotency_key="k",
            context=None,
            request=None,
            since=1.0,
            expected=(str, type(None)),
        )
    assert lost.value.engine == "sync"
    found = call(
        host,
        "async",
        "find_video_job",
        idempotency_key="k",
        context=None,
        request=None,
        since=1.0,
        expected=(str, type(None)),
    )
    assert found is None  # the engine with a lookup may say "surely none"
    assert a.calls == [("find_job", {"idempotency_key": "k", "since": 1.0})]


def test_a_lost_answer_for_the_engine_without_lookup_stops_the_shot_and_pays_once(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """End to end against the loopback paid API: one plugin, two engines, one lookup. A
    submit of the engine without it loses its answer: the render stops (never resent), as
    when no engine of the plugin has a lookup."""
    from ministudio.remote.pacing import RetryPolicy
    from ministudio.run.render import RenderError, RenderOptions, render
    from ministudio.run.store import ContentStore

    from .conftest import tiny_production
    from .fakes.sim_server import SimServer

    sim = _load_plugin()

    class Blind(sim.Sim):  # type: ignore[name-defined,misc]
        id = "sim-blind"
        find_job = None  # this engine cannot look a job up

    monkeypatch.setenv("SIM_EXPECTED_LATENCY", "0.2")
    host = PluginHost()  # the installed plugins (espeak for the lines), and the two engines
    host.register(EnginePlugin(sim.Sim(), Blind()), "sims")
    assert host.implements("sim-blind", "find_video_job")
    film = tiny_production(routing={"video": "sim-blind"})
    with SimServer(latency=(0.1, 0.1)) as server:
        server.fail_next("submit", "drop_after_accept")
        with pytest.raises(RenderError, match="--forget-lost"):
            render(
                film,
                tmp_path / "out",
                host=host,
                store=ContentStore(tmp_path / "store"),
                env={"SIM_BASE_URL": server.base_url, "SIM_API_KEY": server.api_key},
                options=RenderOptions(retry=RetryPolicy(attempts=4, base=0.02, cap=0.1)),
            )
        # Each shot was submitted once, the lost one included: with a lookup answering None
        # ("surely no job") it would have been sent, and paid for, a second time.
        assert server.submissions == len(film.scenes[0].shots) == len(server.jobs)


def test_an_engine_without_a_required_method_is_told_so() -> None:
    class Uploads(Sync):
        id = "uploads"

        def upload(self, path: Path) -> str:
            return f"https://cdn/{path.name}"

    host = registered(Uploads(), Sync())
    assert call(
        host, "uploads", "upload_asset", path=Path("a.png"), context=None, expected=(str,)
    ) == ("https://cdn/a.png")
    with pytest.raises(EngineError, match=r"Sync has no upload\(\).*for uploads only"):
        call(host, "sync", "upload_asset", path=Path("a.png"), context=None, expected=(str,))


# -- arguments ----------------------------------------------------------------------------------


def test_a_hook_takes_what_its_engines_methods_take_and_accepts_the_rest() -> None:
    hooks = engine_hooks(Async(), Sync())
    # pluggy passes a hookimpl only the arguments it names: the union of the methods'
    assert list(inspect.signature(hooks["download_video"]).parameters) == [
        "engine",
        "job_id",
        "output",
        "status",
        "context",
        "request",
    ]
    required = [
        name
        for name, p in inspect.signature(hooks["download_video"]).parameters.items()
        if p.default is inspect.Parameter.empty
    ]
    assert required == ["engine", "job_id", "output"]
    # the other arguments of the hookspec are accepted too (by keyword), and dropped
    status = hooks["parse_webhook"](engine="async", body=b"j", headers={}, env={})
    assert status == JobStatus(job_id="j", state="succeeded")
    assert hooks["parse_webhook"]("async", b"j") == status


def test_mistakes_are_refused_when_the_plugin_is_imported() -> None:
    class Typo(Sync):
        def poll(self, job: str) -> JobStatus:  # the hook passes job_id
            raise AssertionError

    with pytest.raises(TypeError, match=r"Typo.poll \('sync'\) takes 'job', which poll_video"):
        engine_hooks(Typo())

    class AsyncPrice(Sync):
        async def estimate_cost(self, request: Any) -> float:  # type: ignore[override]
            return 1.0

    with pytest.raises(TypeError, match="must not be async: the core calls estimate_cost"):
        engine_hooks(AsyncPrice())

    class Half(Engine):
        id = "half"

        def spec(self) -> EngineSpec:
            return declared(self.id)

        async def submit(self, request: Any) -> Submission:
            raise AssertionError

    with pytest.raises(TypeError, match="remote engine without poll, download"):
        engine_hooks(Half())

    class Local(Engine):
        id = "local"

        def spec(self) -> EngineSpec:
            return declared(self.id)

        def generate(self, request: Any, output: Path) -> VideoResult:
            return VideoResult(path=output)

    with pytest.raises(TypeError, match="cannot share a plugin"):
        engine_hooks(Local(), Sync())
    assert "generate_video" in engine_hooks(Local())  # alone, a local engine is fine

    with pytest.raises(ValueError, match="given twice"):
        engine_hooks(Sync(), Sync())

    class Nameless(Engine):
        def spec(self) -> EngineSpec:
            return declared("x")

    with pytest.raises(TypeError, match="has no engine id"):
        engine_hooks(Nameless())

    class Misdeclared(Sync):
        def spec(self) -> EngineSpec:
            return declared("elsewhere")

    with pytest.raises(ValueError, match="declares 'elsewhere', not 'sync'"):
        engine_hooks(Misdeclared())["ministudio_engines"]()


def test_one_class_may_serve_several_engines() -> None:
    class Tier(Sync):
        def __init__(self, engine_id: str) -> None:
            super().__init__()
            self.id = engine_id

    host = registered(Tier("tier-a"), Tier("tier-b"))
    assert call(
        host, "tier-b", "submit_video", request=None, idempotency_key="k", context=None
    ) == Submission(job_id="tier-b-1")


# -- cost of importing ---------------------------------------------------------------------------


def test_importing_the_kit_and_the_plugins_built_on_it_imports_no_sdk() -> None:
    heavy = ["pydantic", "anyio", "httpx", "google", "luma_agents", "lumaai", "jwt", "PIL", "av"]
    code = (
        "import importlib, importlib.util, json, sys\n"
        "import ministudio.plugin_kit\n"
        "for name in ('ministudio_veo', 'ministudio_luma', 'ministudio_kling', "
        "'ministudio_sora'):\n"
        "    importlib.import_module(name)\n"
        f"spec = importlib.util.spec_from_file_location('ministudio_sim', "
        f"{str(PLUGIN_SRC / 'ministudio_sim' / '__init__.py')!r})\n"
        "module = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(module)\n"
        "module.ministudio_engines()\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {heavy!r})))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


HEAVY = """
import wave  # stands for an SDK imported at module level, the mistake the kit catches

from ministudio.engines import EngineSpec
from ministudio.plugin_kit import Engine


class Heavy(Engine):
    id = "heavy"

    def spec(self):
        return EngineSpec(id=self.id, kind="video")
"""


@pytest.mark.parametrize("imports_sdk", [True, False])
def test_the_kit_checks_the_module_an_engine_plugin_object_comes_from(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, imports_sdk: bool
) -> None:
    """An ``EnginePlugin`` object lives in ``ministudio.plugin_kit``; the kit's import check
    must import the module its engines come from, where the SDK import is."""
    from ministudio.testing import VideoEngineConformance

    name = f"heavy_plugin_{imports_sdk}"
    source = HEAVY if imports_sdk else HEAVY.replace("import wave", "")
    (tmp_path / f"{name}.py").write_text(source)
    monkeypatch.syspath_prepend(str(tmp_path))
    module = __import__(name)

    class Kit(VideoEngineConformance):
        engine_id = "heavy"
        sdk_modules = ("wave",)

        def plugin(self) -> object:
            return EnginePlugin(module.Heavy())

    check = Kit().test_importing_the_plugin_does_not_import_its_sdk
    if imports_sdk:
        with pytest.raises(AssertionError, match=rf"importing {name} imported \['wave'\]"):
            check()
    else:
        check()

"""The plugin host: discovers plugins through entry points and calls engines by id.

Plugins register under the entry point group ``ministudio``; the entry point's name is the
plugin id. ``MINISTUDIO_PLUGINS`` (comma-separated ids: load only these) and
``MINISTUDIO_DISABLE_PLUGINS`` (ids to skip) filter before anything is imported. A plugin that
fails to import, or claims a plugin id already taken, is recorded with its error and skipped;
an engine id two plugins declare is recorded as a conflict and refused only where it is used.
The host keeps working either way.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pluggy

from ministudio.engines import EngineContext, EngineSpec, Judging
from ministudio.plugins import hookspecs

if TYPE_CHECKING:
    from ministudio.jobs import (
        ImageRequest,
        JobStatus,
        LipSyncRequest,
        QCVerdict,
        ShotPrompt,
        SpeechRequest,
        SpeechResult,
        VideoRequest,
        VideoResult,
        WritingRequest,
    )
from ministudio.errors import (
    CapabilityError,
    EngineConflictError,
    EngineError,
    UnknownEngineError,
)

ENTRY_POINT_GROUP = "ministudio"

FIRST_PARTY: dict[str, str] = {
    "gemini-omni": "ministudio-provider-veo",
    "veo": "ministudio-provider-veo",
    "veo-vertex": "ministudio-provider-veo",
    "gemini-judge": "ministudio-provider-veo",
    "gemini-writer": "ministudio-provider-veo",
    "gemini-image": "ministudio-provider-veo",
    "luma": "ministudio-provider-luma",
    "luma-dream-machine": "ministudio-provider-luma",
    "luma-photon": "ministudio-provider-luma",
    "luma-uni": "ministudio-provider-luma",
    "kling": "ministudio-provider-kling",
    "kling-lipsync": "ministudio-provider-kling",
    "sora": "ministudio-provider-sora",
    "sora-remix": "ministudio-provider-sora",
    "gemini": "ministudio-tts",
    "sync": "ministudio-provider-sync",
    "runway": "ministudio-provider-runway",
    "fal-seedance-2": "ministudio-provider-fal",
    "fal-seedance-2-mini": "ministudio-provider-fal",
    "fal-seedance-2-i2v": "ministudio-provider-fal",
    "fal-kling-3-pro": "ministudio-provider-fal",
    "fal-kling-3-pro-i2v": "ministudio-provider-fal",
    "fal-wan-2.7": "ministudio-provider-fal",
    "fal-hailuo-2.3": "ministudio-provider-fal",
    "fal-ltx-2.3": "ministudio-provider-fal",
    "fal-veo-3.1": "ministudio-provider-fal",
    "fal-wan-vace-depth": "ministudio-provider-fal",
    "fal-kling-o3-edit": "ministudio-provider-fal",
    "fal": "ministudio-provider-fal",
}
"""The engine ids of MiniStudio's own provider packages, and the package to install for each:
the only install advice given for an unknown id (any other name could be a typosquat)."""


@dataclass
class PluginInfo:
    """What `ministudio plugins` shows about one plugin."""

    name: str
    distribution: str
    version: str
    module: str
    hooks: list[str] = field(default_factory=list)
    engines: list[str] = field(default_factory=list)
    error: str | None = None  # why it did not load (its other fields are then incomplete)

    def __str__(self) -> str:
        """How messages name it: "plugin 'x' (distribution y 1.2)"."""
        version = f" {self.version}" if self.version else ""
        return f"plugin '{self.name}' (distribution {self.distribution}{version})"


def _id_list(value: str | None) -> set[str]:
    return {part.strip() for part in (value or "").split(",") if part.strip()}


class PluginHost:
    """Loads plugins and routes engine calls to the plugin that declared the engine id."""

    def __init__(self, *, env: Mapping[str, str] | None = None, discover: bool = True) -> None:
        self.env = os.environ if env is None else env
        self.pm = pluggy.PluginManager("ministudio")
        self.pm.add_hookspecs(hookspecs)
        self.plugins: list[PluginInfo] = []
        self.engines: dict[str, EngineSpec] = {}
        self.conflicts: dict[str, list[PluginInfo]] = {}  # an engine id -> its claimants
        self._owners: dict[str, tuple[object, PluginInfo]] = {}
        if discover:
            self._discover()

    # -- loading -------------------------------------------------------------------------

    def _discover(self) -> None:
        only = _id_list(self.env.get("MINISTUDIO_PLUGINS"))
        disabled = _id_list(self.env.get("MINISTUDIO_DISABLE_PLUGINS"))
        for ep in _unique(entry_points(group=ENTRY_POINT_GROUP)):
            if (only and ep.name not in only) or ep.name in disabled:
                continue
            dist = ep.dist
            info = PluginInfo(
                name=ep.name,
                distribution=dist.metadata["Name"] if dist else "?",
                version=dist.version if dist else "?",
                module=ep.value,
            )
            try:
                plugin = ep.load()
            except Exception as exc:  # a broken plugin is reported, never fatal
                info.error = f"{type(exc).__name__}: {exc}"
                self.plugins.append(info)
                continue
            self.register(plugin, info)

    def register(self, plugin: object, info: PluginInfo | str) -> PluginInfo:
        """Register a plugin object (a module or any object with hookimpls)."""
        if isinstance(info, str):
            info = PluginInfo(info, "<local>", "", getattr(plugin, "__name__", repr(plugin)))
        twin = next((p for p in self.plugins if p.name == info.name and not p.error), None)
        if twin is not None:
            info.error = (
                f"plugin id '{info.name}' is already taken by distribution {twin.distribution} "
                f"({twin.module}), so this one was not loaded: uninstall one of them"
            )
            self.plugins.append(info)
            return info
        try:
            self.pm.register(plugin, name=info.name)
            info.hooks = sorted(h.name for h in self.pm.get_hookcallers(plugin) or [])
            declared = self._declared_engines(plugin)
        except Exception as exc:
            if self.pm.is_registered(plugin):
                self.pm.unregister(plugin)
            info.error = f"{type(exc).__name__}: {exc}"
            self.plugins.append(info)
            return info
        for spec in declared:
            info.engines.append(spec.id)
            claimants = self.conflicts.get(spec.id)
            if claimants is None and spec.id in self._owners:  # the second claim: neither wins
                claimants = self.conflicts[spec.id] = [self._owners.pop(spec.id)[1]]
                del self.engines[spec.id]
            if claimants is not None:
                claimants.append(info)
                continue
            self.engines[spec.id] = spec
            self._owners[spec.id] = (plugin, info)
        self.plugins.append(info)
        return info

    def _declared_engines(self, plugin: object) -> list[EngineSpec]:
        declare = getattr(plugin, "ministudio_engines", None)
        if declare is None:
            return []
        specs = list(declare() or [])
        for spec in specs:
            if not isinstance(spec, EngineSpec):
                raise TypeError(
                    f"ministudio_engines returned {type(spec).__name__}, not EngineSpec"
                )
        return specs

    def conflict(self, engine_id: str) -> str:
        """Why ``engine_id`` cannot be used: the plugins that declare it, and the fix."""
        claimants = self.conflicts[engine_id]
        named = " and ".join(f"'{c.name}' ({c.distribution} {c.version})" for c in claimants)
        return (
            f"engine id '{engine_id}' is declared by {len(claimants)} plugins, {named}: "
            f"uninstall all but one, or disable the others with "
            f"MINISTUDIO_DISABLE_PLUGINS={','.join(c.name for c in claimants[1:])}"
        )

    def problems(self, info: PluginInfo) -> list[str]:
        """What keeps a loaded plugin's engines from use: the ids it shares with others."""
        return [self.conflict(e) for e in info.engines if e in self.conflicts]

    def culprit(self, exc: BaseException) -> PluginInfo | None:
        """The plugin whose hook implementation raised ``exc``: the innermost frame of its
        traceback that runs a registered plugin's hook function (pluggy keeps those frames)."""
        names: dict[Any, str] = {}
        for plugin in self.pm.get_plugins():
            for caller in self.pm.get_hookcallers(plugin) or []:
                for impl in caller.get_hookimpls():
                    code = getattr(inspect.unwrap(impl.function), "__code__", None)
                    if code is not None:
                        names[code] = impl.plugin_name
        found = None
        tb = exc.__traceback__
        while tb is not None:
            found = names.get(tb.tb_frame.f_code, found)
            tb = tb.tb_next
        return next((p for p in self.plugins if p.name == found), None) if found else None

    def owner(self, engine_id: str) -> PluginInfo:
        """The plugin that declared ``engine_id`` (its name, distribution and version)."""
        self.engine(engine_id)
        return self._owners[engine_id][1]

    # -- engines -------------------------------------------------------------------------

    def engine(self, engine_id: str, kind: str | None = None) -> EngineSpec:
        """The engine declared under ``engine_id``; a clear error if there is none."""
        if engine_id in self.conflicts:
            raise EngineConflictError(self.conflict(engine_id))
        spec = self.engines.get(engine_id)
        if spec is None or (kind and spec.kind != kind):
            raise UnknownEngineError(self.unknown(engine_id, kind))
        return spec

    def unknown(self, engine_id: str, kind: str | None) -> str:
        """Why ``engine_id`` is no installed engine of ``kind``: the installed ones of that
        kind, the plugins that failed to load (with their errors), and what to do."""
        if engine_id in self.conflicts:
            return self.conflict(engine_id)
        broken = [f"'{p.name}' ({p.distribution}): {p.error}" for p in self.plugins if p.error]
        return unknown_engine(engine_id, kind, self.engines, broken)

    def _caller(self, engine_id: str, hook: str) -> Any:
        owner = self._owners[engine_id][0]
        others = [p for p in self.pm.get_plugins() if p is not owner]
        return self.pm.subset_hook_caller(hook, remove_plugins=others)

    async def generate_video(
        self, engine_id: str, request: VideoRequest, output: Path, context: EngineContext
    ) -> VideoResult:
        """Call ``generate_video`` on the plugin that owns ``engine_id`` only."""
        result: VideoResult = await self.call_engine(
            engine_id, "generate_video", request=request, output=output, context=context
        )
        return result

    async def synthesize_speech(
        self, engine_id: str, request: SpeechRequest, output: Path, context: EngineContext
    ) -> SpeechResult:
        """Call ``synthesize_speech`` on the plugin that owns ``engine_id`` only."""
        result: SpeechResult = await self.call_engine(
            engine_id, "synthesize_speech", request=request, output=output, context=context
        )
        return result

    def estimate_cost(
        self,
        engine: EngineSpec,
        request: VideoRequest | LipSyncRequest | WritingRequest | ImageRequest,
    ) -> float | None:
        """What ``request`` would cost on ``engine``: its plugin's estimate, else (a clip or a
        lip-sync pass) its ``price_per_second`` x the requested duration; 0 for a keyless
        engine's other jobs; None (unknown) for an engine that needs a key but declares no
        price and whose plugin could not say."""
        if self.implements(engine.id, "estimate_cost"):
            found = self._caller(engine.id, "estimate_cost")(engine=engine.id, request=request)
            if isinstance(found, (int, float)):
                return float(found)
        price = engine.capabilities.price_per_second
        duration = getattr(request, "duration", None)
        if duration is None or (not price and engine.key_env):
            return None if engine.key_env else 0.0
        return float(duration * price)

    def voices(self, engine_id: str) -> list[str] | None:
        """The voices of speech engine ``engine_id``, from its own plugin; None if unlisted."""
        self.engine(engine_id, "speech")
        if not self.implements(engine_id, "speech_voices"):
            return None
        found = self._caller(engine_id, "speech_voices")(engine=engine_id)
        return [str(name) for name in found] if found is not None else None

    def implements(self, engine_id: str, hook: str) -> bool:
        """Whether the plugin that owns ``engine_id`` implements ``hook``."""
        return hook in self._owners[engine_id][1].hooks

    async def call_engine(
        self, engine_id: str, hook: str, *, expected: Any = None, **kwargs: Any
    ) -> Any:
        """Call an engine hook on the plugin that owns ``engine_id`` only, and check its answer.

        Sync hooks run in a worker thread (a local renderer must not block other shots); an
        awaitable answer is awaited. ``expected`` defaults to the hook's documented result type.
        """
        import anyio.to_thread

        self.engine(engine_id)
        expected = expected or _result_type(hook)
        caller = self._caller(engine_id, hook)
        result = await anyio.to_thread.run_sync(lambda: caller(engine=engine_id, **kwargs))
        if inspect.isawaitable(result):
            result = await result
        if not isinstance(result, expected):
            plugin = self._owners[engine_id][1].name
            raise EngineError(
                engine_id,
                f"plugin '{plugin}' declares this engine but its {hook} returned "
                f"{type(result).__name__}",
            )
        return result

    async def check_video(
        self, engine: EngineSpec, request: VideoRequest, context: EngineContext
    ) -> None:
        """Ask ``engine``'s own plugin whether it would take ``request`` (``check_video``);
        its refusal (``CapabilityError``, ``EngineError``) propagates. No hook: no check."""
        if self.implements(engine.id, "check_video"):
            await self.call_engine(
                engine.id, "check_video", expected=type(None), request=request, context=context
            )

    async def previz_passes(
        self,
        engine: EngineSpec,
        request: VideoRequest,
        names: list[str],
        output_dir: Path,
        context: EngineContext,
    ) -> dict[str, Path]:
        """The passes ``names`` of ``engine``'s clip for ``request`` (``previz_passes``),
        written in ``output_dir``; ``CapabilityError`` if the engine cannot make them."""
        if not self.implements(engine.id, "previz_passes"):
            raise CapabilityError(
                f"engine '{engine.id}' makes no control passes: route the previz "
                "(routing.previz) to an engine that does, such as 'animatic'"
            )
        made = await self.call_engine(
            engine.id,
            "previz_passes",
            expected=dict,
            request=request,
            names=names,
            output_dir=output_dir,
            context=context,
        )
        return {str(name): Path(path) for name, path in made.items()}

    async def cancel_video(self, engine_id: str, job_id: str, context: EngineContext) -> bool:
        """Cancel ``job_id`` on ``engine_id`` (``cancel_video``): True if taken, False if too
        late; ``EngineError`` if the engine cannot cancel or refused."""
        if not self.implements(engine_id, "cancel_video"):
            raise EngineError(
                engine_id,
                "this engine offers no cancellation: the job runs on; stop it on the "
                "engine's own dashboard if it has one",
            )
        return bool(
            await self.call_engine(
                engine_id, "cancel_video", expected=bool, job_id=job_id, context=context
            )
        )

    def parse_webhook(
        self,
        engine_id: str,
        body: bytes,
        headers: dict[str, str],
        env: Mapping[str, str] | None = None,
    ) -> JobStatus | None:
        """Decode a webhook for ``engine_id`` with its own plugin; None if it cannot.
        ``WebhookRejected`` when the plugin refuses it (unsigned, badly signed)."""
        if engine_id not in self._owners or not self.implements(engine_id, "parse_webhook"):
            return None
        from ministudio.jobs import JobStatus

        status = self._caller(engine_id, "parse_webhook")(
            engine=engine_id, body=body, headers=headers, env=env or {}
        )
        return status if isinstance(status, JobStatus) else None

    def prompt_map(self, engine_id: str, shot: ShotPrompt) -> str | dict[str, Any]:
        """The engine's own prompt for ``shot``: the first plugin answer, else the default text."""
        from ministudio.prompts import describe_shot

        mapped = self.pm.hook.prompt_map(engine=engine_id, shot=shot)
        return describe_shot(shot) if mapped is None else mapped

    def qc_check(
        self, shot: ShotPrompt, clip: Path, expected_duration: float, fps: int
    ) -> list[QCVerdict]:
        """Run every plugin's checks on a clip and collect their verdicts."""
        answers = self.pm.hook.qc_check(
            shot=shot, clip=clip, expected_duration=expected_duration, fps=fps, judge=None
        )
        return _verdicts(answers)

    def judge_clip(
        self, judge: Judging, shot: ShotPrompt, clip: Path, expected_duration: float, fps: int
    ) -> list[QCVerdict]:
        """Ask the judge engine ``judge.engine`` (its plugin's ``qc_check`` only) about a clip."""
        self.engine(judge.engine, "judge")
        answer = self._caller(judge.engine, "qc_check")(
            shot=shot, clip=clip, expected_duration=expected_duration, fps=fps, judge=judge
        )
        return _verdicts(answer)


def unknown_engine(
    engine_id: str, kind: str | None, engines: Mapping[str, EngineSpec], broken: Iterable[str] = ()
) -> str:
    """The message for an engine id that is not installed (or is of another kind): the close
    names installed, the plugins that failed to load, and install advice only for the first
    party's own packages (`FIRST_PARTY`)."""
    import difflib

    available = sorted(e.id for e in engines.values() if not kind or e.kind == kind)
    what = f"{kind} engine" if kind else "engine"
    listed = f"(available: {', '.join(available) or 'none'})"
    other = engines.get(engine_id)
    if other is not None and kind and other.kind != kind:
        return f"'{engine_id}' is a {other.kind} engine, not a {what} {listed}"
    said = f"no {what} '{engine_id}' is installed {listed}"
    close = difflib.get_close_matches(engine_id, available, n=3, cutoff=0.6)
    if close:
        said += f"; did you mean {' or '.join(repr(c) for c in close)}?"
    failed = "; ".join(broken)
    if failed:
        said += f"; plugins that failed to load: {failed}"
    package = FIRST_PARTY.get(engine_id)
    if package:
        return f"{said}; install it with: pip install {package}"
    return f"{said}; fix the name, or install the plugin that provides it"


def _verdicts(answers: Any) -> list[QCVerdict]:
    """The verdicts in hook answers (each a verdict, a list of them, or None)."""
    from ministudio.jobs import QCVerdict

    verdicts: list[QCVerdict] = []
    for answer in answers if isinstance(answers, list) else [answers]:
        items = answer if isinstance(answer, list) else [answer]
        verdicts.extend(v for v in items if isinstance(v, QCVerdict))
    return verdicts


def _result_type(hook: str) -> type:
    from ministudio import jobs

    types: dict[str, type] = {
        "generate_video": jobs.VideoResult,
        "lip_sync": jobs.VideoResult,
        "download_video": jobs.VideoResult,
        "synthesize_speech": jobs.SpeechResult,
        "submit_video": jobs.Submission,
        "submit_lip_sync": jobs.Submission,
        "poll_video": jobs.JobStatus,
        "write_production": jobs.Draft,
        "generate_image": jobs.ImageResult,
    }
    return types[hook]


def _unique(eps: Iterable[EntryPoint]) -> list[EntryPoint]:
    """One entry point per (name, target): the same distribution seen twice is one plugin."""
    seen: dict[tuple[str, str], EntryPoint] = {}
    for ep in eps:
        seen.setdefault((ep.name, ep.value), ep)
    return list(seen.values())

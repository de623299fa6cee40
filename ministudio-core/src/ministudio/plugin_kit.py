"""Engines as objects: a plugin writes each engine as a class, and ``engine_hooks`` turns its
engines into the plugin's hooks.

A remote engine is its declaration plus submit, poll and download::

    from ministudio.engines import Capabilities, EngineSpec
    from ministudio.plugin_kit import Engine, engine_hooks

    class Slow(Engine):
        id = "slow"

        def spec(self) -> EngineSpec:
            return EngineSpec(id=self.id, kind="video", key_env=("SLOW_API_KEY",))

        async def submit(self, request, idempotency_key, context): ...  # -> Submission
        async def poll(self, job_id, context): ...  # -> JobStatus
        async def download(self, job_id, status, output, context): ...  # -> VideoResult

    globals().update(engine_hooks(Slow()))  # the module is the plugin, as before

(``EnginePlugin(Slow())`` is the same hooks as an object, to register in a test.)

The hookspecs (``ministudio.plugins.hookspecs``) stay the contract; this only writes the hooks. Each
hook is written once per plugin, sync, and dispatches by engine id: an id the plugin does not
declare gets None (so firstresult hooks pass it on, and a foreign id never gets a
coroutine); a method may be ``async def`` (the hook returns its coroutine, which the core
awaits) or sync (the core runs engine hooks in a worker thread). A method takes only the
arguments it needs, by the hookspec's names, as a hookimpl does; a hook takes the arguments
its engines' methods take.

An optional hook (``find_video_job``, ``upload_asset``, ``parse_webhook``, ...) is written
only if one of the engines has its method, because the core asks the plugin whether it
implements a hook. An engine of the plugin without the method then answers as the core
would if no hook existed: None where None means "no answer" (estimate, prompt, webhook,
voices), ``AmbiguousSubmission`` for a lookup (None would mean "surely no job" and pay
twice), a clear ``EngineError`` for the rest. Mistakes that cannot work are refused when the
plugin is imported: unknown argument names, an async method for a hook the core does not
await, a remote engine without its trio, local and remote engines in one plugin.

Importing this module imports no pydantic, no anyio and no SDK.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ministudio.errors import AmbiguousSubmission, EngineError
from ministudio.plugins import hookspecs

if TYPE_CHECKING:
    from ministudio.engines import EngineSpec

__all__ = ["METHODS", "Engine", "EnginePlugin", "engine_hooks"]

# Each engine hook and the method of ``Engine`` that answers it.
METHODS: dict[str, str] = {
    "generate_video": "generate",
    "submit_video": "submit",
    "lip_sync": "lip_sync",
    "submit_lip_sync": "submit_lip_sync",
    "poll_video": "poll",
    "download_video": "download",
    "find_video_job": "find_job",
    "check_video": "check",
    "cancel_video": "cancel",
    "previz_passes": "passes",
    "upload_asset": "upload",
    "parse_webhook": "parse_webhook",
    "estimate_cost": "estimate_cost",
    "prompt_map": "prompt",
    "synthesize_speech": "synthesize",
    "speech_voices": "voices",
}
# The hooks the core calls without awaiting, for which None means "no answer, use yours".
_PASSING = frozenset(
    {"parse_webhook", "estimate_cost", "prompt_map", "speech_voices", "check_video"}
)
_REMOTE = ("submit", "poll", "download")  # a remote lip-sync engine: submit_lip_sync, ...


class Engine:
    """One engine: ``id`` (what routing names) and ``spec()`` (its declaration), and the
    methods of the hooks it implements, each optional, by their name in ``METHODS``:

    - ``generate(request, output, context)``: a local video engine;
    - ``submit(request, idempotency_key, context)``, ``poll(job_id, context)``,
      ``download(job_id, status, output, context, request)``: a remote one (all three), with
      ``find_job(idempotency_key, context, request, since)``, ``upload(path, context)`` and
      ``parse_webhook(body, headers, env)``, ``check(request, context)`` and
      ``cancel(job_id, context)`` where the engine offers them;
    - ``passes(request, names, output_dir, context)`` for a previz engine's control passes;
    - ``estimate_cost(request)``, ``prompt(shot)``; ``synthesize(request, output, context)``
      and ``voices()`` for a speech engine;
    - ``lip_sync(request, output, context)`` for a local lip-sync engine, or
      ``submit_lip_sync(request, idempotency_key, context)`` with ``poll`` and ``download``
      for a remote one.

    Each method takes the hook's arguments (see ``ministudio.plugins.hookspecs``) by name,
    only those it needs; ``self.id`` is the engine id. One class may serve several engines:
    set ``id`` in ``__init__``. A subclass drops a method it inherits by setting it to None.
    """

    id: str

    def spec(self) -> EngineSpec:
        """The declaration, asked for whenever plugins load (so it may read the environment);
        its ``id`` must be ``self.id``."""
        raise NotImplementedError(f"{type(self).__name__} declares no spec()")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {getattr(self, 'id', '?')!r}>"


def engine_hooks(*engines: Engine) -> dict[str, Callable[..., Any]]:
    """The hookimpls of a plugin that provides ``engines``, by hook name, for the plugin
    module: ``globals().update(engine_hooks(...))`` (``EnginePlugin`` for an object).
    ``ministudio_engines`` declares the engines; each engine hook is there only if one of
    the engines has its method."""
    from ministudio import hookimpl

    by_id: dict[str, Engine] = {}
    for engine in engines:
        engine_id = getattr(engine, "id", None)
        if not isinstance(engine_id, str) or not engine_id:
            raise TypeError(f"{type(engine).__name__} has no engine id: set its `id`")
        if engine_id in by_id:
            raise ValueError(f"engine id '{engine_id}' is given twice to engine_hooks")
        by_id[engine_id] = engine
    _check_kinds(by_id)

    def ministudio_engines() -> list[EngineSpec]:
        return [_declared(engine) for engine in by_id.values()]

    hooks: dict[str, Callable[..., Any]] = {"ministudio_engines": hookimpl(ministudio_engines)}
    for hook, method in METHODS.items():
        takes = _hook_arguments(hook)
        bound: dict[str, tuple[Callable[..., Any], tuple[str, ...]]] = {}
        for engine_id, engine in by_id.items():
            function = getattr(engine, method, None)
            if function is not None:
                bound[engine_id] = (function, _arguments(engine, method, function, hook, takes))
        if bound:
            hooks[hook] = hookimpl(_hook(hook, takes, by_id, bound))
    return hooks


class EnginePlugin:
    """A plugin object whose attributes are ``engine_hooks(*engines)``: register it
    (``PluginHost.register(EnginePlugin(...), "name")``, or an entry point naming it)."""

    def __init__(self, *engines: Engine) -> None:
        self.__dict__.update(engine_hooks(*engines))
        self.engines = engines

    def __repr__(self) -> str:
        return f"EnginePlugin({', '.join(map(repr, self.engines))})"


def _declared(engine: Engine) -> EngineSpec:
    spec = engine.spec()
    if spec.id != engine.id:
        raise ValueError(f"{type(engine).__name__}.spec() declares '{spec.id}', not '{engine.id}'")
    return spec


def _check_kinds(by_id: dict[str, Engine]) -> None:
    """Refuse what the core cannot run: half a remote engine; local and remote engines in one
    plugin (the core runs every engine of a plugin that implements submit_video remotely)."""
    local, remote = [], []
    for engine_id, engine in by_id.items():
        sends = getattr(engine, "submit_lip_sync", None) is not None
        has = [
            name
            for name in _REMOTE
            if getattr(engine, name, None) is not None or (name == "submit" and sends)
        ]
        if has and len(has) < len(_REMOTE):
            missing = ", ".join(name for name in _REMOTE if name not in has)
            raise TypeError(
                f"{type(engine).__name__} ('{engine_id}') is a remote engine without {missing}: "
                f"a remote engine has submit, poll and download"
            )
        if has:
            remote.append(engine_id)
        if any(getattr(engine, name, None) is not None for name in ("generate", "lip_sync")):
            local.append(engine_id)
    if local and remote:
        raise TypeError(
            f"engines {', '.join(local)} (generate) and {', '.join(remote)} (submit, poll, "
            f"download) cannot share a plugin: the core renders every engine of a plugin that "
            f"implements submit_video remotely; make them two plugins"
        )


def _hook_arguments(hook: str) -> tuple[str, ...]:
    """The arguments the core passes to ``hook``, in the hookspec's order (``engine`` first)."""
    return tuple(inspect.signature(getattr(hookspecs, hook)).parameters)


def _arguments(
    engine: Engine, method: str, function: Any, hook: str, takes: tuple[str, ...]
) -> tuple[str, ...]:
    """The hook arguments ``engine.method`` takes; a TypeError for one that cannot be called
    (an argument the hook does not pass; a coroutine where the core does not await)."""
    where = f"{type(engine).__name__}.{method} ('{engine.id}')"
    if not callable(function):
        raise TypeError(f"{where} is not a method")
    if hook in _PASSING and inspect.iscoroutinefunction(function):
        raise TypeError(f"{where} must not be async: the core calls {hook} without awaiting it")
    names = []
    for name, parameter in inspect.signature(function).parameters.items():
        if name in takes:
            names.append(name)
        elif parameter.default is inspect.Parameter.empty and parameter.kind not in (
            inspect.Parameter.VAR_POSITIONAL,
            inspect.Parameter.VAR_KEYWORD,
        ):
            raise TypeError(
                f"{where} takes '{name}', which {hook} does not pass (it passes {', '.join(takes)})"
            )
    return tuple(names)


def _hook(
    hook: str,
    takes: tuple[str, ...],
    by_id: dict[str, Engine],
    bound: dict[str, tuple[Callable[..., Any], tuple[str, ...]]],
) -> Callable[..., Any]:
    """The hook function: ``engine`` and the arguments its engines' methods take, as pluggy
    reads them from the signature (it passes a hookimpl only what it names); the hookspec's
    other arguments are accepted too, with a default, and dropped."""
    used = {name for _, names in bound.values() for name in names}
    needed = [name for name in takes if name == "engine" or name in used]
    others = [f"{name}=None" for name in takes if name not in needed]

    def dispatch(engine: str, **given: Any) -> Any:
        if engine not in by_id:
            return None  # another plugin's engine
        if engine not in bound:
            return _without(hook, engine, by_id[engine], sorted(bound))
        function, names = bound[engine]
        given["engine"] = engine
        return function(**{name: given[name] for name in names})

    passed = ", ".join(f"{name}={name}" for name in needed)
    source = f"def {hook}({', '.join(needed + others)}):\n    return _dispatch({passed})\n"
    namespace: dict[str, Any] = {"_dispatch": dispatch, "__name__": __name__}
    exec(source, namespace)  # a fixed template over the hookspec's own argument names
    function: Callable[..., Any] = namespace[hook]
    function.__doc__ = f"{hook} for {', '.join(sorted(bound))} (``ministudio.plugin_kit``)."
    return function


def _without(hook: str, engine_id: str, engine: Engine, others: list[str]) -> None:
    """What ``engine``, which lacks the hook's method, answers where its plugin has the hook."""
    if hook in _PASSING:
        return None
    if hook == "find_video_job":
        raise AmbiguousSubmission(
            engine_id,
            "a submit's answer was lost and this engine offers no lookup, so the job may "
            "exist (and be billed); it was not sent again. Check the engine's dashboard, "
            "then run `ministudio render --forget-lost` to submit it once more",
        )
    raise EngineError(
        engine_id,
        f"{type(engine).__name__} has no {METHODS[hook]}(): its plugin implements {hook} "
        f"for {', '.join(others)} only",
    )

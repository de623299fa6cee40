"""What every part of one render shares: the production, the engines, the store, the journal,
the blanking gate, the executor, and the small caches (file hashes, sanitized images)."""

from __future__ import annotations

import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import anyio

from ministudio.authoring.provenance import drawn_by
from ministudio.engines import EngineSpec
from ministudio.errors import EngineError, MediaError, MinistudioError, MissingKeyError
from ministudio.plugins import PluginHost
from ministudio.remote.journal import Journal
from ministudio.run.store import ContentStore, file_hash
from ministudio.safety.images import sanitized
from ministudio.safety.keys import described
from ministudio.safety.secrets import gate, guard_logging
from ministudio.spec import Production

if TYPE_CHECKING:
    from ministudio.run.executors import Executor
    from ministudio.run.render import RenderOptions


class RenderContext:
    """The state one render's parts share (``Renderer`` builds it)."""

    def __init__(
        self,
        production: Production,
        out: Path,
        host: PluginHost,
        store: ContentStore,
        env: Mapping[str, str],
        options: RenderOptions,
        executor: Executor,
    ) -> None:
        self.p, self.out, self.host, self.store, self.env = production, out, host, store, env
        self.options, self.executor = options, executor
        self.width, self.height = production.format.size
        self.fps = production.format.fps
        # Every text bound for the terminal, manifest or journal passes this gate: it knows the
        # keys of the process, of ``env`` and of every engine of ``host``.
        self.blanker = gate(env, [name for e in host.engines.values() for name in e.key_env])
        guard_logging()
        self.journal = Journal(store.root / "journal.sqlite", blank=self.blanker.blank)
        self._limiters: dict[str, anyio.CapacityLimiter] = {}
        self._hashes: dict[Path, str] = {}
        self._sanitized: dict[Path, Path] = {}  # a production image -> its re-encoded copy
        self._drawn_by: dict[Path, str | None] = {}  # a copy -> the engine that drew it

    def hash(self, path: Path) -> str:
        """The content hash of ``path``, read once per render."""
        if path not in self._hashes:
            self._hashes[path] = file_hash(path)
        return self._hashes[path]

    def image(self, path: Path) -> Path:
        """The re-encoded copy (pixels only, in the store) engines get of a production image."""
        if path not in self._sanitized:
            copy = self._sanitized[path] = sanitized(path, self.store)
            self._drawn_by[copy] = drawn_by(path)
        return self._sanitized[path]

    def drawn_by(self, image: Path) -> str | None:
        """The image engine that drew the production image ``image`` is a copy of (a still
        filed by ``ministudio cast``), else None."""
        return self._drawn_by.get(image)

    def limits(self, engine: EngineSpec) -> tuple[int, int | None]:
        """(concurrency, requests per minute): the routing's overrides, else the declared ones."""
        caps, override = engine.capabilities, self.p.routing.limits.get(engine.id)
        concurrency = (override and override.concurrency) or caps.concurrency
        per_minute = (override and override.requests_per_minute) or caps.requests_per_minute
        return concurrency, per_minute

    def limiter(self, engine: EngineSpec) -> anyio.CapacityLimiter:
        """The one limiter of ``engine``'s concurrency in this render."""
        if engine.id not in self._limiters:
            self._limiters[engine.id] = anyio.CapacityLimiter(self.limits(engine)[0])
        return self._limiters[engine.id]

    def failure(self, exc: Exception, engine: EngineSpec | None) -> str:
        """An engine's failure as text, keys blanked. A crash (an exception MiniStudio did not
        raise on purpose: a bug in the plugin) names the engine, the plugin that declares it
        and its distribution; a damaged clip names the engine."""
        text = described(exc, engine.key_env if engine else (), self.env)
        if engine is None or isinstance(exc, (EngineError, MissingKeyError)):
            return text  # an engine's own error, which names it
        if isinstance(exc, MinistudioError):
            return f"{engine.id}: {text}" if isinstance(exc, MediaError) else text
        return self.blanker.blank(
            f"{text} (a crash in engine '{engine.id}' of {self._provenance(engine.id)}: a bug "
            f"to report to the plugin's authors)"
        )

    def _provenance(self, engine_id: str) -> str:
        """The plugin that declares ``engine_id``: "plugin 'x' (distribution y 1.2)"."""
        try:
            return str(self.host.owner(engine_id))
        except MinistudioError:
            return "an unknown plugin"

    def traceback(self, exc: BaseException) -> str:
        """``exc`` with its traceback (and causes), keys blanked: for the debug log."""
        return self.blanker.blank("".join(traceback.format_exception(exc)).rstrip())


def crashed(exc: BaseException) -> bool:
    """Whether ``exc`` comes from an exception MiniStudio did not raise on purpose (a bug in a
    plugin, usually): the root of its causes."""
    while exc.__cause__ is not None:
        exc = exc.__cause__
    return not isinstance(exc, MinistudioError)

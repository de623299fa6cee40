"""Every verdict a rendered clip gets: the plugins' checks, then the production's vision judge
(``qc.judge``), asked once per clip and kept in the store with it."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import anyio.to_thread

from ministudio.engines import EngineContext, EngineSpec, Judging
from ministudio.errors import MinistudioError
from ministudio.jobs import QCVerdict, ShotPrompt
from ministudio.plugins import PluginHost
from ministudio.run.store import ContentStore, job_key
from ministudio.safety.keys import described
from ministudio.safety.secrets import gate

if TYPE_CHECKING:
    from ministudio.run.executors import Executor


class Inspector:
    """Checks clips for one render. The plugins' checks run where ``executor`` runs local
    work; ``fingerprint`` turns a brief into JSON that names its reference images by
    content; ``file_hash`` hashes a clip."""

    def __init__(
        self,
        host: PluginHost,
        store: ContentStore,
        env: Mapping[str, str],
        judge: str | None,
        judge_options: Mapping[str, Any],
        *,
        executor: Executor,
        fingerprint: Callable[[ShotPrompt], Any],
        file_hash: Callable[[Path], str],
    ) -> None:
        self.host, self.store, self.env = host, store, env
        self.judge = host.engine(judge, "judge") if judge else None
        self.options = dict(judge_options)
        self._executor = executor
        self._fingerprint, self._hash = fingerprint, file_hash
        caps = self.judge.capabilities if self.judge else None
        self._judging = anyio.CapacityLimiter(caps.concurrency if caps else 1)

    def check_key(self) -> None:
        """Raise ``MissingKeyError`` now, before anything is spent, if the judge has no key."""
        if self.judge is not None:
            context = EngineContext(engine=self.judge.id, work_dir=self.store.root, env=self.env)
            context.check_keys(self.judge)

    async def verdicts(
        self, brief: ShotPrompt, clip: Path, seconds: float, fps: int, voice: Path | None = None
    ) -> list[QCVerdict]:
        """Every plugin's checks on ``clip``, then the judge's, if the production has one
        (given ``voice``, the shot's on-screen lines, to judge the lips by)."""
        try:
            found = await self._executor.qc_check(self.host, brief, clip, seconds, fps)
        except Exception as exc:  # the clip stays in the store: a new render checks it again
            why = gate(self.env).blank(str(exc))
            plugin = self.host.culprit(exc)
            if plugin is None:
                raise MinistudioError(
                    f"its quality checks could not run ({why}); the clip is kept: fix the "
                    "check plugin, or skip it with MINISTUDIO_DISABLE_PLUGINS, and render again"
                ) from exc
            raise MinistudioError(
                f"its quality checks could not run: the qc_check of {plugin} crashed "
                f"({type(exc).__name__}: {why}); the clip is kept: fix that plugin, or skip "
                f"it with MINISTUDIO_DISABLE_PLUGINS={plugin.name}, and render again"
            ) from exc
        if self.judge is not None:
            found += await self._judged(self.judge, brief, clip, seconds, fps, voice)
        return found

    async def _judged(
        self,
        judge: EngineSpec,
        brief: ShotPrompt,
        clip: Path,
        seconds: float,
        fps: int,
        voice: Path | None,
    ) -> list[QCVerdict]:
        """The judge's verdicts: asked (and paid for) once per clip, voice, brief and
        settings."""
        what = {"clip": self._hash(clip), "shot": self._fingerprint(brief), "options": self.options}
        if voice is not None:  # absent without one: keys made before it stay valid
            what["voice"] = self._hash(voice)
        key = job_key("judge", {"engine": judge.id, **what})
        kept = self.store.get(key, ".json")
        if kept is not None:  # paid for in an earlier run
            saved = json.loads(kept.read_text(encoding="utf-8"))
            return [QCVerdict.model_validate({**v, "cost": 0.0}) for v in saved]
        scratch = self.store.scratch()
        try:
            context = EngineContext(engine=judge.id, work_dir=scratch, env=self.env)
            judging = Judging(judge.id, context, self.options, voice)
            async with self._judging:
                found = await anyio.to_thread.run_sync(
                    self.host.judge_clip, judging, brief, clip, seconds, fps
                )
            self.store.put_text(key, json.dumps([v.model_dump() for v in found]), ".json")
            return found
        except Exception as exc:  # the clip stays in the store: a new render judges it again
            text = described(exc, judge.key_env, self.env)
            raise MinistudioError(f"the judge {judge.id} could not look at it: {text}") from exc
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

"""Speaking a production's lines (audio first: their lengths time the shots), each filed in
the store under its key, so a line is spoken once."""

from __future__ import annotations

import shutil
import wave
from pathlib import Path

from ministudio.jobs import SpeechResult
from ministudio.plan.shots import PlannedLine, estimated_speech
from ministudio.remote.runner import RemoteRunner
from ministudio.run.context import RenderContext
from ministudio.run.engine_calls import EngineCalls
from ministudio.run.shots import Line


class Speech:
    """Speaks lines for one render; failures are kept to be reported all at once."""

    def __init__(self, ctx: RenderContext, remote: RemoteRunner, engines: EngineCalls) -> None:
        self.ctx, self.remote, self.engines = ctx, remote, engines
        self.failures: dict[str, str] = {}  # "<shot> line <n>" -> why, keys blanked
        self.causes: list[Exception] = []

    async def speak(self, where: str, line: PlannedLine, key: str) -> Line | None:
        """``line`` spoken (or found in the store under ``key``, its speech job's key);
        None when it failed (kept in ``failures``, so that every line is tried before the
        render stops)."""
        try:
            return await self._speak(line, key)
        except Exception as exc:
            engine = self.ctx.host.engines.get(line.engine)
            self.failures[where] = self.ctx.failure(exc, engine)
            self.causes.append(exc)
            return None

    async def _speak(self, line: PlannedLine, key: str) -> Line:
        ctx, store = self.ctx, self.ctx.store
        path = store.get(key, ".wav")
        cached, cost = path is not None, 0.0
        if path is None:
            engine = ctx.host.engine(line.engine, "speech")
            rate = self.remote.rate(engine, ctx.limits(engine)[1])
            async with ctx.limiter(engine):
                scratch = store.scratch()

                async def synthesize() -> SpeechResult:
                    await rate.wait()
                    return await ctx.executor.synthesize_speech(
                        ctx.host, engine, line.request, scratch / "line.wav", context
                    )

                try:
                    context = self.engines.context(engine, scratch)
                    result = await self.remote.retrying(engine, "speech", synthesize)
                    path = store.put(key, result.path, ".wav")
                    cost = result.cost
                finally:
                    shutil.rmtree(scratch, ignore_errors=True)
        return Line(line, path, wav_seconds(path), cached, cost)


def native(line: PlannedLine) -> Line:
    """A line the shot's video engine says: only its (estimated) length is needed."""
    return Line(line, None, estimated_speech(line.request.text), True)


def wav_seconds(path: Path) -> float:
    with wave.open(str(path), "rb") as w:
        return w.getnframes() / w.getframerate()

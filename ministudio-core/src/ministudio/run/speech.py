"""Speaking a production's lines (audio first: their lengths time the shots), each filed in
the store under its key, so a line is spoken once; with the phonemes its engine said it with
(``SpeechResult.phonemes``, espeak's), filed beside it, so the animatic draws mouths to them."""

from __future__ import annotations

import itertools
import json
import math
import shutil
import wave
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ministudio.jobs import SpeechResult
from ministudio.plan.shots import PlannedLine, estimated_speech
from ministudio.remote.runner import RemoteRunner
from ministudio.run.context import RenderContext
from ministudio.run.engine_calls import EngineCalls
from ministudio.run.shots import Line

PHONEMES = ".phonemes.json"  # beside the line's ".wav" under its key: [[seconds, mnemonic], ...]

Phonemes = tuple[tuple[float, str], ...]


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
        phonemes: Phonemes = ()
        if path is not None:  # stored before phonemes were kept, or by an engine without
            phonemes = read_phonemes(store.get(key, PHONEMES))
        else:
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
                    phonemes = valid_phonemes(result.phonemes)
                    if phonemes:  # filed first: a line in the store then has its phonemes
                        sidecar = scratch / f"line{PHONEMES}"
                        sidecar.write_text(json.dumps(phonemes), encoding="utf-8")
                        store.put(key, sidecar, PHONEMES)
                    path = store.put(key, result.path, ".wav")
                    cost = result.cost
                finally:
                    shutil.rmtree(scratch, ignore_errors=True)
        return Line(line, path, wav_seconds(path), cached, cost, phonemes)


def native(line: PlannedLine) -> Line:
    """A line the shot's video engine says: only its (estimated) length is needed."""
    return Line(line, None, estimated_speech(line.request.text), True)


def valid_phonemes(found: Sequence[Any]) -> Phonemes:
    """``found`` as (seconds, mnemonic) pairs, in order; () if it is not that."""
    if not isinstance(found, (list, tuple)):
        return ()
    pairs = [p for p in found if isinstance(p, (list, tuple)) and len(p) == 2]
    if len(pairs) != len(found):
        return ()
    try:
        out = tuple((float(t), str(name)) for t, name in pairs)
    except (TypeError, ValueError):
        return ()
    if any(not math.isfinite(t) or t < 0 for t, _ in out):
        return ()
    if any(b[0] < a[0] for a, b in itertools.pairwise(out)):
        return ()
    return out


def read_phonemes(path: Path | None) -> Phonemes:
    """A line's stored phonemes; () when it has none, or they do not read."""
    if path is None:
        return ()
    try:
        return valid_phonemes(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return ()


def wav_seconds(path: Path) -> float:
    with wave.open(str(path), "rb") as w:
        return w.getnframes() / w.getframerate()

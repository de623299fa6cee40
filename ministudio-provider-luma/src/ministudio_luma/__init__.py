"""MiniStudio engine plugins for Luma AI: four engines from one package.

- ``luma``: Ray 3.2 through the Agents API with the official ``luma-agents`` SDK
  (``_agents``, ``_request``, ``_files``): text and image to video, first and last frames,
  5 s extensions of the previous Luma clip for `continue` shots, loops, video-to-video edits
  (the ``edit`` retake rung), previz promotion (``type: video_edit`` of the previz's clip,
  uploaded through the Files API; it declares ``video_edit=("clip",)`` only: Luma derives
  depth, pose and its other controls from the picture itself, so the previz's own depth and
  pose passes cannot be sent), images through the Files API. Key ``LUMA_AGENTS_API_KEY``.
- ``luma-dream-machine``: Ray 2 through the legacy Dream Machine API with ``lumaai``
  (``_dream_machine``), as the engine called ``luma`` was before; its models are declared
  deprecated, replaced by ``ray-3.2`` on ``luma``. Key ``LUMAAI_API_KEY``.
- ``luma-photon`` (kind ``image``): stills for ``ministudio cast`` drawn by Photon on the same
  legacy API, with the same key (``_image``; hook ``generate_image``).
- ``luma-uni`` (kind ``image``): stills for ``ministudio cast`` drawn by uni-1 (or
  ``uni-1-max``) on the Agents API, with ``luma``'s key, reference images sent inline
  (``_uni``; hook ``generate_image``).

What each engine declares (capabilities, variants, models, prices) is in ``_catalog``.
Each engine is a class (``ministudio.plugin_kit``) whose methods import the SDK, so importing
this module imports neither.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ministudio import hookimpl
from ministudio.engines import EngineContext, EngineSpec
from ministudio.plugin_kit import Engine, engine_hooks

from ministudio_luma._catalog import (
    AGENTS,
    DREAM_MACHINE,
    PHOTON,
    UNI,
    agents_spec,
    dream_machine_spec,
    photon_spec,
    uni_spec,
)

if TYPE_CHECKING:
    from collections.abc import Awaitable

    from ministudio.jobs import (
        HostedAsset,
        ImageRequest,
        ImageResult,
        JobStatus,
        ShotPrompt,
        Submission,
        VideoRequest,
        VideoResult,
    )

__version__ = "0.2.0"

ENGINES = (AGENTS, DREAM_MACHINE, PHOTON, UNI)


class Agents(Engine):
    """``luma``: Ray 3.2 on the Agents API (``_agents``, ``_request``, ``_files``)."""

    id = AGENTS

    def spec(self) -> EngineSpec:
        return agents_spec()

    def submit(self, request: VideoRequest, context: EngineContext) -> Awaitable[Submission]:
        from ministudio_luma import _agents

        return _agents.submit(request, context)

    def poll(self, job_id: str, context: EngineContext) -> Awaitable[JobStatus]:
        from ministudio_luma import _agents

        return _agents.poll(job_id, context)

    def download(
        self,
        job_id: str,
        status: JobStatus,
        output: Path,
        context: EngineContext,
        request: VideoRequest,
    ) -> Awaitable[VideoResult]:
        from ministudio_luma import _agents

        return _agents.download(job_id, status, Path(output), context, request)

    def find_job(self) -> Awaitable[str | None]:
        # The Agents API has no list and no idempotency key (notes §1.6): a lost create
        # answer stays ambiguous and the shot stops rather than pay twice (in Luma's words).
        from ministudio_luma import _agents

        return _agents.find_lost()

    def upload(self, path: Path, context: EngineContext) -> Awaitable[HostedAsset]:
        from ministudio_luma import _files

        return _files.upload(Path(path), context)

    def check(self, request: VideoRequest, context: EngineContext) -> None:
        # What Ray 3.2 refuses (a length, a loop at 10 s, a previz over 18 s, an unknown
        # option), refused before the render pays for anything (``_request.check``).
        from ministudio_luma import _request

        _request.check(request)

    # The Agents API sends no callbacks: no parse_webhook.

    def estimate_cost(self, request: VideoRequest) -> float:
        from ministudio_luma import _request

        return _request.cost(request)

    def prompt(self, shot: ShotPrompt) -> str:
        from ministudio_luma import _request

        return _request.prompt(shot)


class DreamMachine(Engine):
    """``luma-dream-machine``: Ray 2 on the legacy Dream Machine API (``_dream_machine``)."""

    id = DREAM_MACHINE

    def spec(self) -> EngineSpec:
        return dream_machine_spec()

    def submit(self, request: VideoRequest, context: EngineContext) -> Awaitable[Submission]:
        from ministudio_luma import _dream_machine

        return _dream_machine._submit(request, context)

    def poll(self, job_id: str, context: EngineContext) -> Awaitable[JobStatus]:
        from ministudio_luma import _dream_machine

        return _dream_machine._poll(job_id, context)

    def download(
        self,
        job_id: str,
        status: JobStatus,
        output: Path,
        context: EngineContext,
        request: VideoRequest,
    ) -> Awaitable[VideoResult]:
        from ministudio_luma import _dream_machine

        return _dream_machine._download(job_id, status, Path(output), context, request)

    def find_job(
        self, context: EngineContext, request: VideoRequest, since: float
    ) -> Awaitable[str | None]:
        # Dream Machine lists its generations: the lost one is matched by what was sent.
        from ministudio_luma import _dm_lookup

        return _dm_lookup.find_video(request, since, context)

    def upload(self, path: Path, context: EngineContext) -> HostedAsset:
        from ministudio_luma import _dream_machine

        return _dream_machine._host(Path(path), context)

    def parse_webhook(self, body: bytes) -> JobStatus | None:
        # Callbacks are hints only (see _dream_machine.parse_webhook).
        from ministudio_luma import _dream_machine

        return _dream_machine.parse_webhook(body)

    def estimate_cost(self, request: VideoRequest) -> float:
        from ministudio_luma import _dream_machine

        return _dream_machine.estimate_cost(request)

    def prompt(self, shot: ShotPrompt) -> str:
        from ministudio_luma import _dream_machine

        return _dream_machine.prompt(shot)


class Photon(Engine):
    """``luma-photon``: Photon stills on the Dream Machine API (``_image``). Its drawing is
    the ``generate_image`` hook below (``plugin_kit`` writes the others)."""

    id = PHOTON

    def spec(self) -> EngineSpec:
        return photon_spec()

    def upload(self, path: Path, context: EngineContext) -> HostedAsset:
        from ministudio_luma import _image

        return _image.publish(Path(path), context)

    def estimate_cost(self, request: ImageRequest) -> float:
        from ministudio_luma import _image

        return _image.estimate_cost(request)


class Uni(Engine):
    """``luma-uni``: uni-1 stills on the Agents API (``_uni``). Its drawing is the
    ``generate_image`` hook below; its references go inline, so it uploads nothing."""

    id = UNI

    def spec(self) -> EngineSpec:
        return uni_spec()

    def estimate_cost(self, request: ImageRequest) -> float:
        from ministudio_luma import _uni

        return _uni.estimate_cost(request)


AGENTS_ENGINE, DREAM_MACHINE_ENGINE, PHOTON_ENGINE = Agents(), DreamMachine(), Photon()
UNI_ENGINE = Uni()


def specs() -> list[EngineSpec]:
    """The two video engines as declared: ``luma`` (Agents API) and ``luma-dream-machine``
    (the image engines' are ``PHOTON_ENGINE.spec()`` and ``UNI_ENGINE.spec()``;
    ``ministudio_engines`` declares all four)."""
    return [AGENTS_ENGINE.spec(), DREAM_MACHINE_ENGINE.spec()]


globals().update(engine_hooks(AGENTS_ENGINE, DREAM_MACHINE_ENGINE, PHOTON_ENGINE, UNI_ENGINE))


@hookimpl
def generate_image(
    engine: str, request: ImageRequest, output: Path, context: EngineContext
) -> Awaitable[ImageResult] | None:
    """``luma-photon`` (``_image.generate``) or ``luma-uni`` (``_uni.generate``) draws one
    still; None for another engine."""
    if engine == PHOTON:
        from ministudio_luma import _image

        return _image.generate(request, Path(output), context)
    if engine == UNI:
        from ministudio_luma import _uni

        return _uni.generate(request, Path(output), context)
    return None

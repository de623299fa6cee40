"""MiniStudio video engines on fal (fal.ai): one engine per curated endpoint of the shipped
table ``endpoints.json`` (e.g. ``fal-seedance-2``: engine ids take no '/'), each a remote
engine through fal's queue (submit, status, result; cancel), with signed webhooks.

Environment (the render's, else the key store): ``FAL_KEY`` (required), ``FAL_QUEUE_URL``
(default ``https://queue.fal.run``), ``FAL_TIMEOUT`` (default 60 s), ``FAL_JWKS_URL`` (the keys
that sign fal's webhooks, default ``https://rest.alpha.fal.ai/.well-known/jwks.json``).
Read when the engines are declared: ``FAL_CONCURRENCY`` (default 2),
``FAL_EXPECTED_LATENCY`` (seconds; default each endpoint's own in the table).

Importing this module imports neither httpx nor cryptography (nor pydantic).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ministudio.engines import EngineContext, EngineSpec, Model
from ministudio.errors import AmbiguousSubmission
from ministudio.plugin_kit import Engine, engine_hooks

from ministudio_fal._table import Endpoint, curated

if TYPE_CHECKING:
    from ministudio.jobs import HostedAsset, JobStatus, Submission, VideoResult

__version__ = "0.1.0"

KEY_ENV = ("FAL_KEY",)


def _concurrency() -> int:
    try:
        return max(1, int(os.environ.get("FAL_CONCURRENCY") or 2))
    except ValueError:
        return 2


def _number(name: str) -> float | None:
    try:
        return float(os.environ[name]) if os.environ.get(name) else None
    except ValueError:
        return None


def _stage(stage: str) -> Literal["preview", "ga", "deprecated", "retired"]:
    if stage == "preview":
        return "preview"
    if stage == "deprecated":
        return "deprecated"
    if stage == "retired":
        return "retired"
    return "ga"


class FalEngine(Engine):
    """One curated fal endpoint."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.id = endpoint.engine
        self.endpoint = endpoint

    def spec(self) -> EngineSpec:
        return EngineSpec(
            id=self.id,
            revision=0,  # paid: pinned, so a package upgrade never re-pays a shot
            kind="video",
            description=f"{self.endpoint.description} ({self.endpoint.endpoint})",
            key_env=KEY_ENV,
            default_model=self.endpoint.endpoint,
            models=(
                Model(
                    self.endpoint.endpoint,
                    _stage(self.endpoint.stage),
                    use=self.endpoint.description,
                ),
            ),
            marks_sending=True,
            capabilities=self.endpoint.capabilities(
                concurrency=_concurrency(), latency=_number("FAL_EXPECTED_LATENCY")
            ),
        )

    def _api(self, context: EngineContext) -> Any:
        from ministudio_fal._queue import Api

        return Api(self.endpoint, context.key(self.spec()), context.env)

    async def submit(self, request: Any, context: EngineContext) -> Submission:
        from ministudio_fal import _queue

        return await _queue.submit(self._api(context), request, context)

    async def poll(self, job_id: str, context: EngineContext) -> JobStatus:
        from ministudio_fal import _queue

        return await _queue.poll(self._api(context), job_id)

    async def download(
        self, job_id: str, status: JobStatus, output: Path, context: EngineContext, request: Any
    ) -> VideoResult:
        from ministudio_fal import _queue

        return await _queue.download(self._api(context), job_id, status, Path(output), request)

    def find_job(self) -> str | None:
        raise AmbiguousSubmission(
            self.id,
            "a submit's answer was lost and fal's queue has no idempotency key nor a lookup "
            "by content, so the request may exist (and be billed); it was not sent again. "
            "Check fal's dashboard (Requests), then run `ministudio render --forget-lost` to "
            "submit it once more",
        )

    def upload(self, path: Path, context: EngineContext) -> HostedAsset:
        """Sync (the core runs it in a worker thread): fal's endpoints take image URLs, so
        the first and last frames are published where the ``FAL_ASSET_*`` settings say
        (``ministudio.remote.hosting``). fal's own storage upload is not used yet."""
        from ministudio.remote.hosting import AssetHost

        return AssetHost.from_env(context.env, "FAL_ASSET_", engine=self.id).publish(Path(path))

    def parse_webhook(
        self, body: bytes, headers: dict[str, str], env: Mapping[str, str]
    ) -> JobStatus | None:
        from ministudio_fal import _webhooks

        return _webhooks.parse(self.id, body, headers, env)

    def estimate_cost(self, request: Any) -> float | None:
        return self.endpoint.price_per_second * float(request.duration)


ENGINES = tuple(FalEngine(endpoint) for endpoint in curated())

globals().update(engine_hooks(*ENGINES))

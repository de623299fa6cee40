"""MiniStudio video engines on fal (fal.ai): one engine per curated endpoint of the shipped
table ``endpoints.json`` (e.g. ``fal-seedance-2``: engine ids take no '/'), each a remote
engine through fal's queue (submit, status, result; cancel), with signed webhooks; and the
engine ``fal``, any other endpoint by id (``routing.options.fal.model``), its input schema
read from fal's Platform API and cached (``_schema``).

Every engine answers ``check``: the body its endpoint's schema refuses (a field it lacks, a
value outside its options or range, a required input missing) is refused before anything is
uploaded or paid for.

Two curated engines only promote a previz (``VideoRequest.source``; their table entries'
``pass`` fields make their ``Capabilities.video_edit``): ``fal-wan-vace-depth`` and
``fal-kling-o3-edit``. Their passes and reference images are uploaded to fal's storage
(``_storage``).

Environment (the render's, else the key store): ``FAL_KEY`` (required), ``FAL_QUEUE_URL``
(default ``https://queue.fal.run``), ``FAL_TIMEOUT`` (default 60 s), ``FAL_JWKS_URL`` (the keys
that sign fal's webhooks, default ``https://rest.alpha.fal.ai/.well-known/jwks.json``),
``FAL_REST_URL`` (fal's storage, default ``https://rest.fal.ai``).
Read when the engines are declared: ``FAL_CONCURRENCY`` (default 2),
``FAL_EXPECTED_LATENCY`` (seconds; default each endpoint's own in the table).
The engine ``fal`` also reads ``FAL_API_URL`` (default ``https://api.fal.ai/v1``), and from the
process ``FAL_SCHEMA_CACHE`` and ``FAL_SCHEMA_MAX_AGE_DAYS`` (see ``_schema``).

Importing this module imports neither httpx nor cryptography (nor pydantic).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ministudio.engines import Capabilities, EngineContext, EngineSpec, Model
from ministudio.errors import AmbiguousSubmission, EngineError, MissingKeyError
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

    def check(self, request: Any, context: EngineContext) -> None:
        """Raise ``EngineError`` if the endpoint would refuse ``request`` (before paying)."""
        from ministudio_fal import _queue

        _queue.check(self.endpoint, request)

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

    async def cancel(self, job_id: str, context: EngineContext) -> bool:
        """``ministudio cancel``: True when fal removed the request from its queue unrun."""
        from ministudio_fal import _queue

        return _queue.cancelled(self.id, job_id, await _queue.cancel(self._api(context), job_id))

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
        (``ministudio.remote.hosting``). A promote job's passes and reference images go to
        fal's own storage instead (``_storage``, from its submit)."""
        from ministudio.remote.hosting import AssetHost

        return AssetHost.from_env(context.env, "FAL_ASSET_", engine=self.id).publish(Path(path))

    def parse_webhook(
        self, body: bytes, headers: dict[str, str], env: Mapping[str, str]
    ) -> JobStatus | None:
        from ministudio_fal import _webhooks

        return _webhooks.parse(self.id, body, headers, env)

    def estimate_cost(self, request: Any) -> float | None:
        """The price of the values the body sends (a field's ``prices``), times the length."""
        from ministudio_fal._request import cost

        return cost(self.endpoint, request)


class FalAnyEngine(FalEngine):
    """Any fal endpoint by id: ``routing.video: fal`` with ``routing.options.fal.model`` the
    endpoint id. Its input schema is fetched from fal once and cached with its date
    (``_schema``); the request is mapped onto it and refused before paying when it cannot fit.
    Its job ids are ``<owner>/<app>/<request_id>`` (the queue's request URLs need the app);
    it asks for no webhook (a push names the request only, not the app)."""

    DESCRIPTION = "any fal video endpoint by id (routing.options.fal.model)"

    def __init__(self) -> None:
        self.id = "fal"
        self.endpoint = Endpoint(
            engine="fal",
            endpoint="",
            description=self.DESCRIPTION,
            source="https://fal.ai/docs/platform-apis/v1/models",
            fields={},
            price_per_second=0.0,
            expected_latency=120.0,
        )

    def spec(self) -> EngineSpec:
        latency = _number("FAL_EXPECTED_LATENCY")
        return EngineSpec(
            id=self.id,
            revision=0,  # paid: pinned, so a package upgrade never re-pays a shot
            kind="video",
            description=self.DESCRIPTION,
            key_env=KEY_ENV,
            marks_sending=True,
            # What the endpoint really takes is read from its schema at check/submit time;
            # these only let the planner through (no frames: their roles are not known).
            capabilities=Capabilities(
                min_duration=1.0,
                max_duration=60.0,
                aspect_ratios=("16:9", "9:16", "1:1", "4:3", "3:4", "21:9"),
                resolutions=("480p", "720p", "1080p"),
                seed=True,
                webhooks=False,
                concurrency=_concurrency(),
                price_per_second=0.0,  # unknown until the schema's price is cached
                expected_latency=120.0 if latency is None else latency,
            ),
        )

    def _loaded(self, request: Any, context: EngineContext) -> Any:
        from ministudio_fal import _schema

        model = _schema.endpoint_id(getattr(request, "model", None))
        try:
            key = context.key(self.spec())
        except MissingKeyError:  # fal's model search needs no key (its pricing does)
            key = ""
        return _schema.load(model, context.env, key)

    def _api_for(self, endpoint: Endpoint, context: EngineContext) -> Any:
        from ministudio_fal._queue import Api

        return Api(endpoint, context.key(self.spec()), context.env)

    def _job(self, job_id: str) -> tuple[Endpoint, str]:
        app, _, ident = job_id.rpartition("/")
        if app.count("/") != 1 or not ident:
            raise EngineError(self.id, f"'{job_id}' is not a job id of the fal engine")
        return replace(self.endpoint, endpoint=app), ident

    def check(self, request: Any, context: EngineContext) -> None:
        from ministudio_fal import _queue

        _queue.check(self._loaded(request, context).endpoint, request)

    async def submit(self, request: Any, context: EngineContext) -> Submission:
        import anyio

        from ministudio_fal import _queue

        loaded = await anyio.to_thread.run_sync(self._loaded, request, context)
        api = self._api_for(loaded.endpoint, context)
        made = await _queue.submit(api, request, context, webhooks=False)
        return made.model_copy(update={"job_id": f"{loaded.endpoint.app}/{made.job_id}"})

    async def poll(self, job_id: str, context: EngineContext) -> JobStatus:
        from ministudio_fal import _queue

        endpoint, ident = self._job(job_id)
        status = await _queue.poll(self._api_for(endpoint, context), ident)
        return status.model_copy(update={"job_id": job_id})

    async def download(
        self, job_id: str, status: JobStatus, output: Path, context: EngineContext, request: Any
    ) -> VideoResult:
        import anyio

        from ministudio_fal import _queue

        loaded = await anyio.to_thread.run_sync(self._loaded, request, context)
        _, ident = self._job(job_id)
        price = loaded.price.estimate(float(request.duration)) if loaded.price else None
        made = await _queue.download(
            self._api_for(loaded.endpoint, context),
            ident,
            status.model_copy(update={"job_id": ident}),
            Path(output),
            request,
            cost=price or 0.0,
        )
        return made.model_copy(update={"engine_job_id": job_id})

    async def cancel(self, job_id: str, context: EngineContext) -> bool:
        from ministudio_fal import _queue

        endpoint, ident = self._job(job_id)
        answer = await _queue.cancel(self._api_for(endpoint, context), ident)
        return _queue.cancelled(self.id, job_id, answer)

    parse_webhook = None  # type: ignore[assignment]

    def estimate_cost(self, request: Any) -> float | None:
        """From the cached price (fal's pricing API, per second or per clip); None (unknown)
        before the schema was fetched or when fal's unit says nothing of a clip's cost."""
        from ministudio_fal import _schema

        try:
            model = _schema.endpoint_id(getattr(request, "model", None))
        except EngineError:
            return None
        loaded = _schema.cached(model)
        if loaded is None or loaded.price is None:
            return None
        return loaded.price.estimate(float(request.duration))


ENGINES = (*(FalEngine(endpoint) for endpoint in curated()), FalAnyEngine())

globals().update(engine_hooks(*ENGINES))

"""A loopback fake of fal's queue API (queue.fal.run) and its signed webhooks, for testing
ministudio-provider-fal. Written from fal's docs and its official client, never from the
plugin. Sources, cited beside each rule:

- **QUEUE**: fal.ai/docs/documentation/model-apis/inference/queue (submit, status with
  ``queue_position`` and logs, result, cancel; states IN_QUEUE / IN_PROGRESS / COMPLETED).
- **CANCEL**: fal.ai/docs/inference-api/queue/cancel (answers OK, CANCELLATION_REQUESTED,
  ALREADY_COMPLETED, NOT_FOUND; "Authorization: Key $FAL_KEY"; request URLs name only the
  owner and app: "Do not add the endpoint path").
- **CLIENT**: fal-ai/fal ``projects/fal_client/src/fal_client/client.py`` (the submit answer's
  ``request_id``/``response_url``/``status_url``/``cancel_url``; ``?fal_webhook=``;
  ``GET status?logs=``; ``PUT cancel_url``).
- **WEBHOOKS**: fal.ai/docs/documentation/model-apis/inference/webhooks (the POST's body
  ``{request_id, gateway_request_id, status: OK|ERROR, payload, error}``; a 422 validation
  error shown as ``"error": "Invalid status code: 422"`` with the ``detail`` payload;
  "Verifying Your Webhook": ``X-Fal-Webhook-Request-Id/-User-Id/-Timestamp/-Signature``,
  Ed25519 over ``request_id\\nuser_id\\ntimestamp\\nsha256_hex(body)``, keys in a JWKS).
- **RULES**: tests/fakes/fal_rules.py (each endpoint's input schema, from its model page).
- **PLATFORM**: tests/fakes/fal_uncurated.py (fal's Platform API: the model search with
  ``expand=openapi-3.0`` and the pricing, fal.ai/docs/platform-apis/v1/models and
  .../models/pricing; and the endpoints the plugin's table does not curate).

Routes: ``POST /{endpoint}`` (``submit``), ``GET /{owner}/{app}/requests/{id}/status``
(``status``), ``GET /{owner}/{app}/requests/{id}`` (``result``), ``PUT .../cancel``
(``cancel``), ``GET /files/{id}.mp4`` (``download``: the CDN, no key),
``GET /.well-known/jwks.json`` (the fake's signing key), ``GET /v1/models?endpoint_id=&expand=``
(``schema``: PLATFORM, no key needed) and ``GET /v1/models/pricing?endpoint_id=`` (``pricing``:
key needed); ``platform_url`` is their base. Every queue route needs
``Authorization: Key <API_KEY>`` (QUEUE, CANCEL): else 401. An endpoint id RULES does not
know: 404.

- **STORAGE**: fal-ai/fal-js ``libs/client/src/storage.ts`` (commit 381105e): ``POST
  {rest}/storage/upload/initiate?storage_type=fal-cdn-v3`` (key; JSON ``{content_type,
  file_name}``) answers ``{upload_url, file_url}``; ``PUT upload_url`` with the bytes; the
  ``file_url`` is then an input. Model pages: a file input takes "your own URL or a Base64
  data URI". Served here as ``/storage/upload/initiate``, ``PUT /storage/put/{id}`` and
  ``GET /storage/files/{id}/{name}``; ``uploads`` records what arrived.
- **MEDIA**: a video-to-video endpoint's input video (tests/fakes/fal_rules.py ``MEDIA``):
  fetched from the fake's own storage or a ``data:`` URI (any other URL cannot be fetched
  here: refused as fal refuses a file it cannot download), probed with PyAV, refused outside
  its page's bounds; the output clip is as long as ``fal_rules.output_length`` says.

Where the docs are silent, a switch (each tested both ways in tests/test_fal_fake.py or
tests/test_fal_promote.py):

- ``validate_at``: where a body its schema refuses is refused: ``"result"`` (default: the
  submit is queued and the request ends with a 422, as the WEBHOOKS example shows) or
  ``"submit"`` (a 422 at once).
- ``unknown_fields``: a field the schema lacks: ``"reject"`` (default) or ``"ignore"``.
- ``vace_input_frames``: Wan VACE with ``match_input_num_frames``: an input video outside
  ``num_frames``' 81..241 is refused (``"limit"``, default) or taken (``"any"``).

Faults (``fail_next(endpoint, kind)``): ``"500"`` (nothing queued; on ``storage``, the
upload's initiate), ``"429"`` (submit, with
``Retry-After``), ``"drop"`` (the connection closed without an answer, after the request was
queued when it is a submit), ``"hold_after_accept"`` (submit: queued, its answer kept back
until the client is gone, ``fakes.hold``), ``"truncate"`` (a download cut short).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

from . import fal_uncurated
from .clips import solid_planes
from .fal_rules import ENDPOINTS, MEDIA, media_problems, output_length, problems
from .hold import HOLD, hold
from .loopback import JsonHandler, Latency, LoopbackServer, draw_latency

API_KEY = "fal-fake-key-0123:abcdef"
USER_ID = "fake-user"


@dataclass
class FalRequest:
    id: str
    endpoint: str
    body: dict[str, Any]
    created: float
    latency: float
    webhook: str | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)
    cancelled: bool = False
    path: Path | None = None
    sent: bool = False
    output: tuple[int, float] | None = None  # MEDIA: (frames, fps) of a video-to-video clip


class _Handler(JsonHandler):
    def do_GET(self) -> None:
        self.fake.serve(self, "GET")

    def do_POST(self) -> None:
        self.fake.serve(self, "POST")

    def do_PUT(self) -> None:
        self.fake.serve(self, "PUT")


class FalServer(LoopbackServer):
    name = "fal"
    handler = _Handler
    endpoints: ClassVar[tuple[str, ...]] = (
        "submit",
        "status",
        "result",
        "cancel",
        "download",
        "schema",
        "pricing",
        "storage",
    )
    fault_endpoints: ClassVar[dict[str, tuple[str, ...]]] = {
        "500": (
            "submit",
            "status",
            "result",
            "cancel",
            "download",
            "schema",
            "pricing",
            "storage",
        ),
        "429": ("submit",),
        "drop": ("submit", "status", "result"),
        HOLD: ("submit",),
        "truncate": ("download",),
    }

    def __init__(
        self,
        *,
        latency: Latency = 0.3,
        queued: float = 0.2,
        validate_at: str = "result",
        unknown_fields: str = "reject",
        render_scale: float = 0.05,
        vace_input_frames: str = "limit",
    ) -> None:
        super().__init__(API_KEY, 2)
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        self.latency = latency
        self.queued = queued  # the fraction of a request's latency it spends IN_QUEUE
        self.validate_at = validate_at
        self.unknown_fields = unknown_fields
        self.render_scale = render_scale
        self.vace_input_frames = vace_input_frames
        self.uploads: dict[str, dict[str, Any]] = {}  # STORAGE: id -> name, type, data
        self.signing_key = Ed25519PrivateKey.generate()
        self.jobs: dict[str, FalRequest] = {}
        self.billed: list[str] = []
        self.webhooks: list[tuple[str, int]] = []  # (request id, HTTP answer)
        self.documents = fal_uncurated.documents()  # endpoint id -> its OpenAPI document
        self.schema_answers: dict[str, bytes] = {}  # endpoint id -> a raw (hostile) answer
        self.schema_requests: list[str] = []  # the endpoint ids the model search was asked
        self.submits: list[str] = []  # every POST to the queue, accepted or not

    @property
    def submissions(self) -> int:
        """Requests queued and billed (a body its schema refuses is never run nor billed)."""
        return len(self.billed)

    @property
    def platform_url(self) -> str:
        """PLATFORM's base (``FAL_API_URL``)."""
        return f"{self.base_url}/v1"

    @property
    def status_requests(self) -> int:
        return sum(1 for method, path in self.requests if path.endswith("/status"))

    # -- the JWKS ------------------------------------------------------------------------------
    def jwks(self) -> dict[str, Any]:
        import base64

        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

        raw = self.signing_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        x = base64.urlsafe_b64encode(raw).decode().rstrip("=")
        return {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": x, "kid": "fake", "use": "sig"}]}

    @property
    def jwks_url(self) -> str:
        return f"{self.base_url}/.well-known/jwks.json"

    def sign(self, body: bytes, request_id: str, stamp: int | None = None) -> dict[str, str]:
        """The WEBHOOKS headers for ``body``."""
        stamp = int(time.time()) if stamp is None else stamp
        digest = hashlib.sha256(body).hexdigest()
        text = f"{request_id}\n{USER_ID}\n{stamp}\n{digest}".encode()
        return {
            "X-Fal-Webhook-Request-Id": request_id,
            "X-Fal-Webhook-User-Id": USER_ID,
            "X-Fal-Webhook-Timestamp": str(stamp),
            "X-Fal-Webhook-Signature": self.signing_key.sign(text).hex(),
        }

    # -- states --------------------------------------------------------------------------------
    def state(self, job: FalRequest) -> str:
        """QUEUE: IN_QUEUE, then IN_PROGRESS, then COMPLETED (also when it failed)."""
        age = time.monotonic() - job.created
        if job.cancelled or age >= job.latency:
            return "COMPLETED"
        return "IN_QUEUE" if age < job.latency * self.queued else "IN_PROGRESS"

    # -- routes --------------------------------------------------------------------------------
    def serve(self, h: JsonHandler, method: str) -> None:
        parts = urlsplit(h.path)
        path = parts.path.strip("/")
        query = parse_qs(parts.query)
        self._log(method, parts.path)
        if method == "GET" and path == ".well-known/jwks.json":
            return h.send_json(200, self.jwks())
        if method == "GET" and path.startswith("files/"):
            return self._file(h, path.removeprefix("files/").removesuffix(".mp4"))
        if method == "PUT" and path.startswith("storage/put/"):  # STORAGE: the PUT has no key
            return self._put(h, path.removeprefix("storage/put/"))
        if method == "GET" and path.startswith("storage/files/"):
            return self._stored(h, path.removeprefix("storage/files/").partition("/")[0])
        if method == "GET" and path == "v1/models":  # PLATFORM: "Authentication: Optional"
            h._body()
            return self._models(h, query)
        if not hmac.compare_digest(
            (h.headers.get("Authorization") or "").encode(), f"Key {API_KEY}".encode()
        ):  # QUEUE, CANCEL: "Authorization: Key $FAL_KEY"
            h._body()
            return h.send_json(401, {"detail": "Invalid or missing API key"})
        if method == "GET" and path == "v1/models/pricing":
            h._body()
            return self._pricing(h, query)
        if method == "POST" and path == "storage/upload/initiate":
            return self._initiate(h, query)
        if "/requests/" in f"/{path}":
            app, _, rest = path.partition("/requests/")
            ident, _, tail = rest.partition("/")
            return self._request(h, method, app, ident, tail, query)
        if method == "POST":
            return self._submit(h, path, query)
        return h.send_json(405, {"detail": "Method not allowed"})

    # -- PLATFORM ------------------------------------------------------------------------------
    def _models(self, h: JsonHandler, query: dict[str, list[str]]) -> None:
        """MODELS, find mode: the models named by ``endpoint_id``, each with its OpenAPI
        document in ``openapi`` when ``expand=openapi-3.0``."""
        if self._take_fault("schema") == "500":
            return h.send_json(500, {"detail": "Internal server error"})
        wanted = [e for value in query.get("endpoint_id", []) for e in value.split(",") if e]
        expand = "openapi-3.0" in query.get("expand", [])
        with self._lock:
            self.schema_requests.extend(wanted)
        if len(wanted) == 1 and wanted[0] in self.schema_answers:
            raw = self.schema_answers[wanted[0]]
            return h.send_bytes(raw, "application/json")
        models = []
        for endpoint in wanted:
            if endpoint not in self.documents:
                continue
            model: dict[str, Any] = {
                "endpoint_id": endpoint,
                "metadata": {"display_name": endpoint, "status": "active"},
            }
            if expand:
                model["openapi"] = self.documents[endpoint]
            models.append(model)
        h.send_json(200, {"models": models, "next_cursor": None, "has_more": False})

    def _pricing(self, h: JsonHandler, query: dict[str, list[str]]) -> None:
        """PRICING: the unit price of each endpoint named."""
        if self._take_fault("pricing") == "500":
            return h.send_json(500, {"detail": "Internal server error"})
        wanted = [e for value in query.get("endpoint_id", []) for e in value.split(",") if e]
        prices = [
            {"endpoint_id": e, **fal_uncurated.PRICES[e]}
            for e in wanted
            if e in fal_uncurated.PRICES
        ]
        h.send_json(200, {"prices": prices, "next_cursor": None, "has_more": False})

    def _submit(self, h: JsonHandler, endpoint: str, query: dict[str, list[str]]) -> None:
        raw = h._body()
        with self._lock:
            self.submits.append(endpoint)
        fault = self._take_fault("submit")
        if fault == "500":
            return h.send_json(500, {"detail": "Internal server error"})
        if fault == "429":
            return h.send_json(429, {"detail": "Too many requests"}, {"Retry-After": "0"})
        if endpoint not in ENDPOINTS and endpoint not in fal_uncurated.UNCURATED:
            return h.send_json(404, {"detail": f"Application '{endpoint}' not found"})
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            return h.send_json(422, {"detail": [{"loc": ["body"], "msg": "invalid JSON"}]})
        if endpoint in fal_uncurated.UNCURATED:
            errors = fal_uncurated.problems(endpoint, body)
        else:
            errors = problems(endpoint, body)
        if self.unknown_fields == "ignore":
            errors = [e for e in errors if e["type"] != "value_error.extra"]
        output = None
        if endpoint in MEDIA and isinstance(body, dict) and not errors:
            info = self.probe(str(body.get(MEDIA[endpoint]["field"]) or ""))
            errors = media_problems(endpoint, body, info, vace_input_frames=self.vace_input_frames)
            if info is not None and not errors:
                output = output_length(endpoint, body, info)
        if errors and self.validate_at == "submit":
            return h.send_json(422, {"detail": errors})
        ident = str(uuid.uuid4())
        prompt = body.get("prompt") if isinstance(body, dict) else None
        job = FalRequest(
            id=ident,
            endpoint=endpoint,
            body=body if isinstance(body, dict) else {},
            created=time.monotonic(),
            latency=draw_latency(self.latency, str(prompt or ident)),
            webhook=(query.get("fal_webhook") or [None])[0],  # CLIENT: ?fal_webhook=
            errors=errors,
            output=output,
        )
        with self._lock:
            self.jobs[ident] = job
            if not errors:
                self.billed.append(ident)
        self._timer(job.latency, self._finish, ident)
        if fault == "drop":
            return h.drop()
        if fault == HOLD:  # queued (and billed), its answer kept back: fakes.hold
            return hold(self, h)
        base = f"{self.base_url}/{_app(endpoint)}/requests/{ident}"  # CANCEL: owner/app only
        answer = {
            "request_id": ident,
            "response_url": base,
            "status_url": f"{base}/status",
            "cancel_url": f"{base}/cancel",
        }
        if job.webhook:
            answer["gateway_request_id"] = ident  # WEBHOOKS
        h.send_json(200, answer)

    # -- STORAGE -------------------------------------------------------------------------------
    def _initiate(self, h: JsonHandler, query: dict[str, list[str]]) -> None:
        """STORAGE: initiate an upload (the key was checked): where to PUT, and the URL."""
        raw = h._body()
        if self._take_fault("storage") == "500":
            return h.send_json(500, {"detail": "Internal server error"})
        try:
            asked = json.loads(raw or b"{}")
        except ValueError:
            return h.send_json(422, {"detail": "invalid JSON"})
        if not isinstance(asked, dict) or not isinstance(asked.get("file_name"), str):
            return h.send_json(
                422, {"detail": [{"loc": ["body", "file_name"], "msg": "field required"}]}
            )
        ident = uuid.uuid4().hex
        name = Path(asked["file_name"]).name or "file"
        with self._lock:
            self.uploads[ident] = {
                "name": name,
                "content_type": asked.get("content_type"),
                "storage_type": (query.get("storage_type") or [None])[0],
                "lifecycle": h.headers.get("X-Fal-Object-Lifecycle"),
                "data": None,
            }
        h.send_json(
            200,
            {
                "upload_url": f"{self.base_url}/storage/put/{ident}",
                "file_url": f"{self.base_url}/storage/files/{ident}/{name}",
            },
        )

    def _put(self, h: JsonHandler, ident: str) -> None:
        data = h._body()
        upload = self.uploads.get(ident)
        if upload is None:
            return h.send_json(404, {"detail": "Upload not found"})
        upload["data"] = data
        h.send_json(200, {"ok": True})

    def _stored(self, h: JsonHandler, ident: str) -> None:
        upload = self.uploads.get(ident)
        if upload is None or upload["data"] is None:
            return h.send_json(404, {"detail": "Not found"})
        h.send_bytes(upload["data"], str(upload["content_type"] or "application/octet-stream"))

    def fetch(self, url: str) -> bytes | None:
        """MEDIA: the bytes of a file input: the fake's own storage URL, or a data URI."""
        import base64

        if url.startswith("data:"):
            head, _, payload = url.partition(",")
            try:
                return base64.b64decode(payload) if head.endswith(";base64") else payload.encode()
            except ValueError:
                return None
        prefix = f"{self.base_url}/storage/files/"
        if url.startswith(prefix):
            upload = self.uploads.get(url.removeprefix(prefix).partition("/")[0])
            return upload["data"] if upload else None
        return None  # anything else cannot be fetched from here

    def probe(self, url: str) -> dict[str, Any] | None:
        """MEDIA: a video input probed with PyAV (None: not fetched, or not a video)."""
        import io

        import av

        data = self.fetch(url)
        if not data:
            return None
        try:
            with av.open(io.BytesIO(data)) as container:
                stream = container.streams.video[0]
                frames = stream.frames or sum(1 for _ in container.decode(stream))
                rate = float(stream.average_rate or stream.guessed_rate or 0)
                names = str(container.format.name).split(",")
                kind = "mp4" if "mp4" in names else "mov" if "mov" in names else names[0]
                return {
                    "format": kind,
                    "frames": int(frames),
                    "fps": rate,
                    "seconds": frames / rate if rate else 0.0,
                    "width": int(stream.codec_context.width),
                    "height": int(stream.codec_context.height),
                    "bytes": len(data),
                }
        except (av.FFmpegError, IndexError, ValueError):
            return None

    def _request(
        self,
        h: JsonHandler,
        method: str,
        app: str,
        ident: str,
        tail: str,
        query: dict[str, list[str]],
    ) -> None:
        h._body()
        job = self.jobs.get(ident)
        if job is None or _app(job.endpoint) != app:
            return h.send_json(404, {"detail": "Request not found"})
        if method == "GET" and tail == "status":
            if self._take_fault("status") == "500":
                return h.send_json(500, {"detail": "Internal server error"})
            state = self.state(job)
            answer: dict[str, Any] = {
                "status": state,
                "response_url": f"{self.base_url}/{app}/requests/{ident}",
            }
            if state == "IN_QUEUE":
                answer["queue_position"] = 0
            elif (query.get("logs") or ["0"])[0] in ("1", "true", "True"):
                answer["logs"] = [
                    {"message": "generating", "level": "INFO", "source": "user", "timestamp": "now"}
                ]
            if state == "COMPLETED":
                answer["metrics"] = {"inference_time": job.latency}
            return h.send_json(200, answer)
        if method == "GET" and tail == "":
            if self._take_fault("result") == "500":
                return h.send_json(500, {"detail": "Internal server error"})
            if self.state(job) != "COMPLETED":
                return h.send_json(400, {"detail": "Request is still in progress"})
            if job.cancelled:
                return h.send_json(400, {"detail": "Request was cancelled"})
            if job.errors:  # WEBHOOKS: "Invalid status code: 422", the detail as payload
                return h.send_json(422, {"detail": job.errors})
            self._render(job)
            return h.send_json(200, {"video": self._video(job), "seed": job.body.get("seed", 0)})
        if method == "PUT" and tail == "cancel":  # CANCEL
            state = self.state(job)
            if state == "COMPLETED":
                return h.send_json(400, {"status": "ALREADY_COMPLETED"})
            job.cancelled = True
            with self._lock:
                if state == "IN_QUEUE" and ident in self.billed:
                    self.billed.remove(ident)  # removed from the queue: never run
            if state == "IN_QUEUE":
                return h.send_json(200, {"status": "OK"})
            return h.send_json(202, {"status": "CANCELLATION_REQUESTED"})
        h.send_json(405, {"detail": "Method not allowed"})

    def _video(self, job: FalRequest) -> dict[str, Any]:
        size = job.path.stat().st_size if job.path else 0
        return {
            "url": f"{self.base_url}/files/{job.id}.mp4",
            "content_type": "video/mp4",
            "file_name": f"{job.id}.mp4",
            "file_size": size,
        }

    def _file(self, h: JsonHandler, ident: str) -> None:
        self._log("GET", f"/files/{ident}")
        fault = self._take_fault("download")
        if fault == "500":
            return h.send_json(500, {"detail": "Internal server error"})
        job = self.jobs.get(ident)
        if job is None or job.errors or job.cancelled or self.state(job) != "COMPLETED":
            return h.send_json(404, {"detail": "Not found"})
        self._render(job)
        assert job.path is not None
        h.send_bytes(job.path.read_bytes(), "video/mp4", truncate=fault == "truncate")

    # -- the clip ------------------------------------------------------------------------------
    def _render(self, job: FalRequest) -> None:
        with self._lock:
            if job.path is not None:
                return
            import av
            from ministudio.media.encode import PIXEL_FORMAT, VIDEO_CODEC, X264_OPTIONS

            assert self._tmp is not None
            ratio = str(job.body.get("aspect_ratio") or "16:9")
            if ratio == "auto":
                ratio = "16:9"
            rw, rh = (int(v) for v in ratio.split(":"))
            short = int(str(job.body.get("resolution") or "720p").replace("4k", "2160").rstrip("p"))
            scale = self.render_scale
            short = max(16, 2 * round(short * scale / 2))
            w = max(16, 2 * round(short * max(rw, rh) / min(rw, rh) / 2))
            width, height = (w, short) if rw >= rh else (short, w)
            fps: float = 24
            length = str(job.body.get("duration") or 5).removesuffix("s")  # Veo's "8s"
            frames = round(float(length if length != "auto" else 5) * fps)
            if job.output is not None:  # MEDIA: as long as the source says
                frames, fps = job.output
            planes = solid_planes(width, height, str(job.body.get("prompt") or job.id))
            path = Path(self._tmp.name) / f"{job.id}.mp4"
            with av.open(str(path), mode="w", format="mp4") as container:
                rate = Fraction(fps).limit_denominator(1001)
                video = container.add_stream(VIDEO_CODEC, rate=rate, options=dict(X264_OPTIONS))
                video.width, video.height, video.pix_fmt = width, height, PIXEL_FORMAT
                video.codec_context.time_base = 1 / rate
                for i in range(frames):
                    frame = av.VideoFrame.from_ndarray(planes, format="yuv420p")
                    frame.pts = i
                    frame.time_base = 1 / rate
                    container.mux(video.encode(frame))
                container.mux(video.encode(None))
            job.path = path

    # -- webhooks ------------------------------------------------------------------------------
    def _finish(self, ident: str) -> None:
        job = self.jobs.get(ident)
        if job is None or job.cancelled or not job.webhook or job.sent:
            return
        job.sent = True
        if job.errors:
            payload: dict[str, Any] = {
                "request_id": ident,
                "gateway_request_id": ident,
                "status": "ERROR",
                "error": "Invalid status code: 422",
                "payload": {"detail": job.errors},
            }
        else:
            self._render(job)
            payload = {
                "request_id": ident,
                "gateway_request_id": ident,
                "status": "OK",
                "payload": {"video": self._video(job)},
            }
        body = json.dumps(payload).encode()
        headers = {"Content-Type": "application/json", **self.sign(body, ident)}
        threading.Thread(
            target=self._deliver, args=(job.webhook, body, headers, ident), daemon=True
        ).start()

    def _deliver(self, url: str, body: bytes, headers: dict[str, str], ident: str) -> None:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        request = urllib.request.Request(url, data=body, method="POST", headers=headers)
        try:
            with opener.open(request, timeout=5) as answer:
                self.webhooks.append((ident, answer.status))
        except Exception as exc:  # any failure is recorded: tests read it
            self.webhooks.append((ident, getattr(exc, "code", 0)))


def _app(endpoint: str) -> str:
    """CANCEL: the request URLs use the owner and the app only."""
    return "/".join(endpoint.split("/")[:2])

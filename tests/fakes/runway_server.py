"""A strict loopback fake of Runway's API (the endpoints the ``runway`` engine uses), written
from Runway's SDK and API reference; the create rules and their sources are
``runway_rules``. Task sources: [SDK] runwayml 5.13 ``types/task_retrieve_response.py`` and
``resources/tasks.py``.

- ``POST /v1/image_to_video``, ``POST /v1/text_to_video``: bearer key (401 otherwise),
  ``X-Runway-Version`` (``Rules.version_status`` otherwise), the body rules; ``{"id"}``.
- ``POST /v1/video_to_video`` (Aleph, ``aleph2``): the same, and the video, which must be one
  Runway can fetch (400 otherwise, as [INPUTS] says a fetch failure is): one of the fake's own
  output URLs (standing for Runway's HTTPS output URLs) of a task that finished and was not
  deleted; a ``runway://`` URI of an upload completed here (and under 24 hours old); or a
  ``data:video/...`` URI. Uploads and data URIs are decoded and probed with PyAV (their real
  size, rate and length); every source must be 2 to 30 s and at most 30 fps
  (``runway_rules.check_video_input``). Other HTTPS URLs are taken as 5 s videos. The output
  is a real MP4 of the source's size and rate ("The resolution of the output video is
  determined by the input video", [SDK@07e3079] on gen4_aleph) and of the length
  ``Rules.aleph_output`` says (the input's, frame for frame, by default).
- ``POST /v1/uploads`` ([SDK 5.24] ``uploads.create_ephemeral``): ``{filename, type:
  "ephemeral"}`` (``runway_rules.check_upload``) answered by ``{uploadUrl, fields,
  runwayUri}``; then ``POST /upload-slots/{id}`` (the presigned storage URL: no key) takes a
  multipart form with ``fields`` and the part ``file``, 512 bytes to 200 MB, and answers 204.
- ``GET /v1/tasks/{id}``: ``THROTTLED`` for ``throttled`` seconds, then ``PENDING``,
  ``RUNNING`` (with ``progress``), then ``SUCCEEDED`` with ``output`` (a list of URLs) once
  the MP4 is encoded, or ``FAILED`` with ``failure`` and ``failureCode``; ``CANCELLED`` after
  a DELETE of an unfinished task. 404 for an unknown or deleted task.
- ``DELETE /v1/tasks/{id}``: cancels a task not finished, deletes a finished one (204).
- ``GET /files/{name}``: the MP4 (real bytes: ``clips.solid_planes`` encoded).

Faults (``fail_next(endpoint, kind)``): create endpoints ``500``, ``429``, ``502`` (answered,
no task made), ``lost`` (the task is made and billed, the connection dropped),
``hold_after_accept`` (made and billed, no answer until the client is gone: ``fakes.hold``,
for kill tests); ``task``
``500``; ``file`` ``expired`` (403 once, as an expired signed URL), ``429``, ``500`` and
``cut`` (half the bytes); ``uploads`` ``500``, ``429``; ``upload_slot`` ``500``.
``created`` lists every task made (what was billed); ``bodies`` every JSON body POSTed to the
API, refused or not, as ``(endpoint, body)``; ``uploads`` every upload slot by id.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from .clips import even, solid_planes
from .hold import HOLD, hold
from .loopback import JsonHandler, LoopbackServer
from .runway_rules import (
    UPLOAD_LIFETIME,
    Refused,
    Rules,
    check_create,
    check_headers,
    check_upload,
    check_uploaded_size,
    check_video_input,
)

# Where Runway's outputs live, as the rules see the fake's own output URLs (a domain, HTTPS)
RUNWAY_OUTPUTS = "https://outputs.runway.example"

CREATES = ("image_to_video", "text_to_video", "video_to_video")
ENDPOINTS = (*CREATES, "task", "delete", "file", "uploads", "upload_slot")
FAULT_ENDPOINTS = {
    "500": (*CREATES, "task", "file", "uploads", "upload_slot"),
    "429": (*CREATES, "file", "uploads"),
    "502": CREATES,
    "lost": CREATES,
    "expired": ("file",),
    "cut": ("file",),
    HOLD: CREATES,
}


@dataclass
class Task:
    id: str
    endpoint: str
    body: dict[str, Any]
    created: float
    width: int
    height: int
    duration: float
    failure: tuple[str, str] | None = None  # (failure, failureCode)
    fps: int = 0  # the output's rate (0: the fake's own)
    frames: int = 0  # the output's frames (0: duration x rate)
    cancelled: bool = False
    deleted: bool = False
    path: Path | None = None
    done: threading.Event = field(default_factory=threading.Event)


@dataclass
class Media:
    """A source video as the fake sees it: probed with PyAV, or one of its own outputs."""

    width: int
    height: int
    fps: float
    frames: int

    @property
    def seconds(self) -> float:
        return self.frames / self.fps if self.fps else 0.0


@dataclass
class Upload:
    """One slot of ``POST /v1/uploads``; ``path`` once its file arrived."""

    id: str
    filename: str
    fields: dict[str, str]
    created: float
    path: Path | None = None
    size: int = 0

    @property
    def uri(self) -> str:
        return f"runway://uploads/{self.id}/{self.filename}"


def probe_media(path: Path) -> Media:
    """The video's real size, rate and frames (PyAV, through the core's probe); 400 when it
    is not a video Runway could read."""
    from ministudio.errors import MediaError
    from ministudio.media.probe import probe

    try:
        info = probe(path)
    except MediaError:
        raise Refused(400, "videoUri: the asset is not a readable video") from None
    return Media(info.width, info.height, info.fps, info.frames)


class RunwayServer(LoopbackServer):
    def __init__(
        self,
        api_key: str = "rw-test-key",
        *,
        latency: float = 0.2,
        throttled: float = 0.0,
        rules: Rules | None = None,
        render_scale: float = 0.125,
        fps: int = 8,
        encoders: int = 2,
    ) -> None:
        super().__init__(api_key, encoders)
        self.latency = latency
        self.throttled = throttled
        self.rules = rules or Rules()
        self.render_scale = render_scale
        self.fps = fps
        self.tasks: dict[str, Task] = {}
        self.created: list[Task] = []
        self.bodies: list[tuple[str, Any]] = []
        self.uploads: dict[str, Upload] = {}
        self._next_failure: tuple[str, str] | None = None

    @property
    def submissions(self) -> int:
        """Tasks made (each billed)."""
        return len(self.created)

    @property
    def status_requests(self) -> int:
        return sum(1 for m, p in list(self.requests) if m == "GET" and p.startswith("/v1/tasks/"))

    def fail_next_task(self, failure: str, code: str = "INTERNAL.BAD_OUTPUT") -> None:
        """The next task made ends FAILED with ``failure`` and ``failureCode`` ``code``."""
        with self._lock:
            self._next_failure = (failure, code)

    # -- create -------------------------------------------------------------------------
    def create(self, h: _Handler, endpoint: str, body: bytes) -> None:
        if not self._authorized(h):
            h.send_json(401, {"error": "Invalid API key"})
            return
        source: Media | None = None
        try:
            check_headers(h.headers, self.rules)
            data = json.loads(body or b"null")
            with self._lock:
                self.bodies.append((endpoint, data))
            checked = data
            if endpoint == "video_to_video" and isinstance(data, dict):
                own = self._own_source(data.get("videoUri"))
                if own is not None:  # the rules see it as the HTTPS URL it stands for
                    checked = {**data, "videoUri": f"{RUNWAY_OUTPUTS}/{own.id}.mp4"}
            check_create(endpoint, checked, self.rules)
            if endpoint == "video_to_video" and isinstance(data, dict):
                source = self._source(data.get("videoUri"))
        except Refused as refused:
            h.send_json(refused.status, {"error": refused.message})
            return
        except ValueError:
            h.send_json(400, {"error": "body is not JSON"})
            return
        fault = self._take_fault(endpoint)
        if fault == "drop":
            h.drop()
            return
        if fault in ("500", "429", "502"):
            h.send_json(int(fault), {"error": f"fault {fault}"})
            return
        made = self._accept(endpoint, data, source)
        if fault == "lost":
            h.drop()
            return
        if fault == HOLD:  # made and billed; the answer kept back until the client is gone
            hold(self, h)
            return
        h.send_json(200, {"id": made.id})

    def _own_source(self, uri: Any) -> Task | None:
        """The fake's own task an output URL of it names (None for any other URI); 400 when
        that output cannot be fetched."""
        own = f"{self.base_url}/files/"
        if not isinstance(uri, str) or not uri.startswith(own):
            return None
        task = self.tasks.get(uri.removeprefix(own).removesuffix(".mp4"))
        if task is None or task.deleted or task.path is None:
            # [INPUTS]/troubleshooting: an asset Runway cannot fetch is a 400 at create
            raise Refused(400, "videoUri: the asset could not be fetched")
        return task

    def _source(self, uri: Any) -> Media:
        """The input video of a video_to_video create, as Runway would fetch it: one of the
        fake's outputs, an upload made here, or a data URI (both probed); 400 when it cannot
        be fetched or read, or is not 2 to 30 s at 30 fps or less."""
        own = self._own_source(uri)
        if own is not None:
            fps = own.fps or self.fps
            media = Media(own.width, own.height, fps, own.frames or round(own.duration * fps))
        elif isinstance(uri, str) and uri.startswith("runway://"):
            media = probe_media(self._uploaded(uri))
        elif isinstance(uri, str) and uri.startswith("data:"):
            assert self._tmp is not None
            path = Path(self._tmp.name) / f"data-{uuid.uuid4()}.mp4"
            path.write_bytes(base64.b64decode(uri.partition(",")[2]))
            media = probe_media(path)
        else:  # an HTTPS URL elsewhere: a 16:9 5 s video at the fake's rate
            w, h = even(1280 * self.render_scale), even(720 * self.render_scale)
            media = Media(w, h, float(self.fps), 5 * self.fps)
        check_video_input(media.seconds, media.fps)
        return media

    def _uploaded(self, uri: str) -> Path:
        """The file of a completed upload ``uri`` names; 400 as an asset Runway cannot fetch
        when there is none, or it is over 24 hours old ([UPLOADS])."""
        ident = uri.removeprefix("runway://uploads/").split("/", 1)[0]
        upload = self.uploads.get(ident)
        if upload is None or upload.path is None or upload.uri != uri:
            raise Refused(400, "videoUri: the asset could not be fetched")
        if time.monotonic() - upload.created > UPLOAD_LIFETIME:
            raise Refused(400, "videoUri: the upload has expired")
        return upload.path

    def _accept(self, endpoint: str, data: dict[str, Any], source: Media | None = None) -> Task:
        w: float
        h: float
        fps = frames = 0
        if source is not None:  # "determined by the input video": its size and rate
            w, h, fps = source.width, source.height, max(1, round(source.fps))
            frames = self.rules.output_frames(source.frames, source.fps)
            duration = frames / fps
        else:
            w, h = (int(n) * self.render_scale for n in str(data["ratio"]).split(":"))
            duration = int(data.get("duration") or 5)
        with self._lock:
            failure, self._next_failure = self._next_failure, None
            made = Task(
                id=str(uuid.uuid4()),
                endpoint=endpoint,
                body=data,
                created=time.monotonic(),
                width=even(w),
                height=even(h),
                duration=duration,
                failure=failure,
                fps=fps,
                frames=frames,
            )
            self.tasks[made.id] = made
            self.created.append(made)
        assert self._pool is not None
        if failure is None:
            self._pool.submit(self._render, made)
        else:
            made.done.set()
        return made

    def _render(self, task: Task) -> None:
        from ministudio.media.encode import VideoWriter

        assert self._tmp is not None
        planes = solid_planes(task.width, task.height, str(task.body.get("promptText") or task.id))
        path = Path(self._tmp.name) / f"{task.id}.mp4"
        fps = task.fps or self.fps
        frames = task.frames or max(1, round(task.duration * fps))
        with VideoWriter(path, task.width, task.height, fps) as writer:
            for _ in range(frames):
                writer.write_yuv420p(np.asarray(planes))
        task.path = path
        task.done.set()

    # -- uploads ([SDK 5.24] resources/uploads.py, [UPLOADS]) ------------------------------
    def start_upload(self, h: _Handler, body: bytes) -> None:
        """``POST /v1/uploads``: a slot, answered ``{uploadUrl, fields, runwayUri}``."""
        if not self._authorized(h):
            h.send_json(401, {"error": "Invalid API key"})
            return
        try:
            check_headers(h.headers, self.rules)
            data = json.loads(body or b"null")
            with self._lock:
                self.bodies.append(("uploads", data))
            check_upload(data)
        except Refused as refused:
            h.send_json(refused.status, {"error": refused.message})
            return
        except ValueError:
            h.send_json(400, {"error": "body is not JSON"})
            return
        fault = self._take_fault("uploads")
        if fault in ("500", "429"):
            h.send_json(int(fault), {"error": f"fault {fault}"})
            return
        ident = str(uuid.uuid4())
        fields = {"key": f"uploads/{ident}/{data['filename']}", "policy": uuid.uuid4().hex}
        slot = Upload(ident, str(data["filename"]), fields, time.monotonic())
        with self._lock:
            self.uploads[ident] = slot
        h.send_json(
            200,
            {
                "uploadUrl": f"{self.base_url}/upload-slots/{ident}",
                "fields": fields,
                "runwayUri": slot.uri,
            },
        )

    def take_upload(self, h: _Handler, ident: str, body: bytes) -> None:
        """``POST /upload-slots/{id}``: the presigned storage URL (no key): a multipart form
        with the slot's ``fields`` and the part ``file`` of 512 bytes to 200 MB; 204."""
        from email.parser import BytesParser
        from email.policy import HTTP

        if self._take_fault("upload_slot") == "500":
            h.send_json(500, {"error": "fault 500"})
            return
        slot = self.uploads.get(ident)
        if slot is None or slot.path is not None:
            h.send_json(403, {"error": "AccessDenied: no such upload slot, or used"})
            return
        ctype = h.headers.get("Content-Type") or ""
        message = BytesParser(policy=HTTP).parsebytes(
            f"Content-Type: {ctype}\r\nMIME-Version: 1.0\r\n\r\n".encode() + body
        )
        if not message.is_multipart():
            h.send_json(400, {"error": "the upload must be multipart/form-data"})
            return
        form: dict[str, str] = {}
        content: bytes | None = None
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True) or b""
            if name == "file":
                content = payload
            elif isinstance(name, str):
                form[name] = payload.decode()
        if any(form.get(k) != v for k, v in slot.fields.items()):
            h.send_json(403, {"error": "AccessDenied: the form fields do not match the slot"})
            return
        if content is None:
            h.send_json(400, {"error": "the form has no file"})
            return
        try:
            check_uploaded_size(len(content))
        except Refused as refused:
            h.send_json(refused.status, {"error": refused.message})
            return
        assert self._tmp is not None
        path = Path(self._tmp.name) / f"upload-{ident}-{Path(slot.filename).name}"
        path.write_bytes(content)
        slot.path, slot.size = path, len(content)
        h.send_response(204)
        h.send_header("Content-Length", "0")
        h.end_headers()

    # -- tasks --------------------------------------------------------------------------
    def state(self, task: Task) -> dict[str, Any]:
        """The task as ``GET /v1/tasks/{id}`` answers it ([SDK] TaskRetrieveResponse)."""
        base = {"id": task.id, "createdAt": "2026-12-03T00:00:00.000Z"}
        age = time.monotonic() - task.created
        if task.cancelled:
            return {**base, "status": "CANCELLED"}
        if age < self.throttled:
            return {**base, "status": "THROTTLED"}
        if age < self.throttled + self.latency / 2:
            return {**base, "status": "PENDING"}
        if age < self.throttled + self.latency or not task.done.is_set():
            progress = min(0.99, max(0.0, (age - self.throttled) / max(self.latency, 1e-6)))
            return {**base, "status": "RUNNING", "progress": round(progress, 3)}
        if task.failure is not None:
            return {
                **base,
                "status": "FAILED",
                "failure": task.failure[0],
                "failureCode": task.failure[1],
            }
        return {**base, "status": "SUCCEEDED", "output": [f"{self.base_url}/files/{task.id}.mp4"]}

    def get(self, h: _Handler, ident: str) -> None:
        if not self._authorized(h):
            h.send_json(401, {"error": "Invalid API key"})
            return
        try:
            check_headers(h.headers, self.rules)
        except Refused as refused:
            h.send_json(refused.status, {"error": refused.message})
            return
        if self._take_fault("task") == "500":
            h.send_json(500, {"error": "fault 500"})
            return
        task = self.tasks.get(ident)
        if task is None or task.deleted:
            h.send_json(404, {"error": "Task not found"})
            return
        h.send_json(200, self.state(task))

    def delete(self, h: _Handler, ident: str) -> None:
        if not self._authorized(h):
            h.send_json(401, {"error": "Invalid API key"})
            return
        task = self.tasks.get(ident)
        if task is None or task.deleted:
            h.send_json(404, {"error": "Task not found"})
            return
        if self.state(task)["status"] in ("PENDING", "THROTTLED", "RUNNING"):
            task.cancelled = True  # "can be canceled"
        else:
            task.deleted = True  # "Invoking this method for other tasks will delete them"
        h.send_response(204)
        h.send_header("Content-Length", "0")
        h.end_headers()

    def serve_file(self, h: _Handler, name: str) -> None:
        fault = self._take_fault("file")
        if fault == "expired":
            h.send_json(403, {"error": "Request has expired"})
            return
        if fault in ("429", "500"):
            h.send_json(int(fault), {"error": f"fault {fault}"})
            return
        task = self.tasks.get(name.removesuffix(".mp4"))
        if task is None or task.path is None or task.deleted:
            h.send_json(404, {"error": "not found"})
            return
        h.send_bytes(task.path.read_bytes(), "video/mp4", truncate=fault == "cut")


class _Handler(JsonHandler):
    def _split(self) -> list[str]:
        return [p for p in urlsplit(self.path).path.split("/") if p]

    def do_POST(self) -> None:
        parts, body = self._split(), self._body()
        fake: RunwayServer = self.fake
        fake._log("POST", self.path)
        if len(parts) == 2 and parts[0] == "v1" and parts[1] in CREATES:
            fake.create(self, parts[1], body)
            return
        if parts == ["v1", "uploads"]:
            fake.start_upload(self, body)
            return
        if len(parts) == 2 and parts[0] == "upload-slots":
            fake.take_upload(self, parts[1], body)
            return
        self.send_json(404, {"error": "Not found"})

    def do_GET(self) -> None:
        parts = self._split()
        fake: RunwayServer = self.fake
        fake._log("GET", self.path)
        if len(parts) == 3 and parts[:2] == ["v1", "tasks"]:
            fake.get(self, parts[2])
        elif len(parts) == 2 and parts[0] == "files":
            fake.serve_file(self, parts[1])
        else:
            self.send_json(404, {"error": "Not found"})

    def do_DELETE(self) -> None:
        parts = self._split()
        fake: RunwayServer = self.fake
        fake._log("DELETE", self.path)
        if len(parts) == 3 and parts[:2] == ["v1", "tasks"]:
            fake.delete(self, parts[2])
        else:
            self.send_json(404, {"error": "Not found"})


RunwayServer.name = "runway"
RunwayServer.handler = _Handler
RunwayServer.endpoints = ENDPOINTS
RunwayServer.fault_endpoints = FAULT_ENDPOINTS


def write_clip(path: Path, frames: int, fps: int, width: int = 128, height: int = 72) -> Path:
    """A real H.264 MP4 of ``frames`` solid frames at ``fps`` (a previz clip, for tests)."""
    from ministudio.media.encode import VideoWriter

    planes = solid_planes(width, height, path.name)
    with VideoWriter(path, width, height, fps) as writer:
        for _ in range(frames):
            writer.write_yuv420p(planes)
    return path

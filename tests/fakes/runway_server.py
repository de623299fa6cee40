"""A strict loopback fake of Runway's API (the endpoints the ``runway`` engine uses), written
from Runway's SDK and API reference; the create rules and their sources are
``runway_rules``. Task sources: [SDK] runwayml 5.13 ``types/task_retrieve_response.py`` and
``resources/tasks.py``.

- ``POST /v1/image_to_video``, ``POST /v1/text_to_video``: bearer key (401 otherwise),
  ``X-Runway-Version`` (``Rules.version_status`` otherwise), the body rules; ``{"id"}``.
- ``POST /v1/video_to_video`` (Aleph, ``aleph2``): the same, and the video: one of the fake's
  own output URLs (standing for Runway's HTTPS output URLs) must name a task that finished
  and was not deleted, else 400 as a video Runway cannot fetch; the source must be 2 to 30 s
  (``runway_rules.VIDEO_SECONDS``). Other HTTPS URLs, ``runway://`` and data URIs are taken
  as 5 s videos. The output is a real MP4 of the source's size and length ("The resolution
  of the output video is determined by the input video", [SDK@07e3079] on gen4_aleph).
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
``cut`` (half the bytes). ``created`` lists every task made (what was billed).
"""

from __future__ import annotations

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
from .runway_rules import VIDEO_SECONDS, Refused, Rules, check_create, check_headers

# Where Runway's outputs live, as the rules see the fake's own output URLs (a domain, HTTPS)
RUNWAY_OUTPUTS = "https://outputs.runway.example"

CREATES = ("image_to_video", "text_to_video", "video_to_video")
ENDPOINTS = (*CREATES, "task", "delete", "file")
FAULT_ENDPOINTS = {
    "500": (*CREATES, "task", "file"),
    "429": (*CREATES, "file"),
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
    duration: int
    failure: tuple[str, str] | None = None  # (failure, failureCode)
    cancelled: bool = False
    deleted: bool = False
    path: Path | None = None
    done: threading.Event = field(default_factory=threading.Event)


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
        source: Task | None = None
        try:
            check_headers(h.headers, self.rules)
            data = json.loads(body or b"null")
            checked = data
            if endpoint == "video_to_video" and isinstance(data, dict):
                source = self._source(data.get("videoUri"))
                if source is not None:  # the rules see it as the HTTPS URL it stands for
                    checked = {**data, "videoUri": f"{RUNWAY_OUTPUTS}/{source.id}.mp4"}
            check_create(endpoint, checked, self.rules)
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

    def _source(self, uri: Any) -> Task | None:
        """The fake's own task an output URL of it names (None for any other URI); 400 when
        that output cannot be fetched or is not 2 to 30 s long."""
        own = f"{self.base_url}/files/"
        if not isinstance(uri, str) or not uri.startswith(own):
            return None
        task = self.tasks.get(uri.removeprefix(own).removesuffix(".mp4"))
        if task is None or task.deleted or task.path is None:
            # [INPUTS]/troubleshooting: an asset Runway cannot fetch is a 400 at create
            raise Refused(400, "videoUri: the asset could not be fetched")
        low, high = VIDEO_SECONDS
        if not low <= task.duration <= high:
            raise Refused(400, f"videoUri: the video must be {low:g} to {high:g} seconds long")
        return task

    def _accept(self, endpoint: str, data: dict[str, Any], source: Task | None = None) -> Task:
        w: float
        h: float
        if source is not None:  # "determined by the input video"
            w, h, duration = source.width, source.height, source.duration
        elif endpoint == "video_to_video":  # a video the fake did not make: 1280x720, 5 s
            w, h, duration = 1280 * self.render_scale, 720 * self.render_scale, 5
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
        with VideoWriter(path, task.width, task.height, self.fps) as writer:
            for _ in range(max(1, task.duration * self.fps)):
                writer.write_yuv420p(np.asarray(planes))
        task.path = path
        task.done.set()

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

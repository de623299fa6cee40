"""A strict loopback fake of Runway's API (the endpoints the ``runway`` engine uses), written
from Runway's SDK and API reference; the create rules and their sources are
``runway_rules``. Task sources: [SDK] runwayml 5.13 ``types/task_retrieve_response.py`` and
``resources/tasks.py``.

- ``POST /v1/image_to_video``, ``POST /v1/text_to_video``: bearer key (401 otherwise),
  ``X-Runway-Version`` (``Rules.version_status`` otherwise), the body rules; ``{"id"}``.
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
from .runway_rules import Refused, Rules, check_create, check_headers

CREATES = ("image_to_video", "text_to_video")
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
        try:
            check_headers(h.headers, self.rules)
            data = json.loads(body or b"null")
            check_create(endpoint, data, self.rules)
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
        made = self._accept(endpoint, data)
        if fault == "lost":
            h.drop()
            return
        if fault == HOLD:  # made and billed; the answer kept back until the client is gone
            hold(self, h)
            return
        h.send_json(200, {"id": made.id})

    def _accept(self, endpoint: str, data: dict[str, Any]) -> Task:
        w, h = (int(n) for n in str(data["ratio"]).split(":"))
        duration = int(data.get("duration") or 5)
        with self._lock:
            failure, self._next_failure = self._next_failure, None
            made = Task(
                id=str(uuid.uuid4()),
                endpoint=endpoint,
                body=data,
                created=time.monotonic(),
                width=even(w * self.render_scale),
                height=even(h * self.render_scale),
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

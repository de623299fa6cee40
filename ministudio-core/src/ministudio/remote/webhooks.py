"""The webhook receiver a render starts: engines POST job updates to ``<public url>/<engine>``
(the public URL may have a path: the engine is the last segment).

It listens on a local address (behind a public URL the user supplies, e.g. a tunnel or a
reverse proxy), hands each body to the owning plugin's ``parse_webhook`` and wakes the job
waiting for it. HTTP/1.1 is parsed by h11.

Nothing a push sends can stall the render: a body over ``MAX_BODY`` is refused (before it is
read, when its Content-Length says so), a connection gets ``READ_SECONDS`` to deliver its
request, and plugins parse (and verify signatures, which may fetch a key set) in worker
threads, ``PARSERS`` at a time. A push the plugin refuses (``WebhookRejected``: unsigned,
forged) is answered 401 and logged, and wakes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import anyio
import h11
from anyio.abc import SocketStream

from ministudio.errors import WebhookRejected

if TYPE_CHECKING:
    from ministudio.jobs import JobStatus

MAX_BODY = 1 << 20  # a status update is small; refuse anything larger
READ_SECONDS = 10.0  # to send the whole request
PARSERS = 4  # plugin parses (signature checks) at once
log = logging.getLogger("ministudio.remote.webhooks")


class WebhookReceiver:
    """Serve POST ``/<engine id>`` until cancelled; ``parse(engine, body, headers)`` decodes."""

    def __init__(
        self,
        parse: Callable[[str, bytes, dict[str, str]], JobStatus | None],
        deliver: Callable[[JobStatus], None],
    ) -> None:
        self.parse = parse
        self.deliver = deliver
        self.received = 0
        self.rejected = 0
        self._parsers = anyio.CapacityLimiter(PARSERS)

    async def serve(self, host: str, port: int, *, task_status: anyio.abc.TaskStatus[int]) -> None:
        """Listen on ``host:port`` (port 0: any free one); report the bound port when ready."""
        listener = await anyio.create_tcp_listener(local_host=host, local_port=port)
        async with listener:
            bound = listener.extra(anyio.abc.SocketAttribute.local_port)
            task_status.started(bound)
            await listener.serve(self._handle)

    async def _handle(self, stream: SocketStream) -> None:
        async with stream:
            connection = h11.Connection(h11.SERVER)
            with anyio.move_on_after(READ_SECONDS):
                request, body = await self._read(stream, connection)
                if request is None:
                    return
                if body is None:
                    await self._respond(stream, connection, 413)
                    return
                await self._respond(stream, connection, await self._accept(request, body))

    async def _read(
        self, stream: SocketStream, connection: h11.Connection
    ) -> tuple[h11.Request | None, bytes | None]:
        """The request and its body; a None body when it is over ``MAX_BODY``."""
        request: h11.Request | None = None
        body = b""
        while True:
            try:
                event = connection.next_event()
            except h11.RemoteProtocolError:
                return None, None
            if event is h11.NEED_DATA:
                try:
                    data = await stream.receive()
                except (anyio.EndOfStream, anyio.BrokenResourceError):
                    return None, None
                connection.receive_data(data)
            elif isinstance(event, h11.Request):
                request = event
                if _declared_length(event) > MAX_BODY:
                    return request, None
            elif isinstance(event, h11.Data):
                body += event.data
                if len(body) > MAX_BODY:
                    return request, None
            elif isinstance(event, h11.EndOfMessage) and request is not None:
                return request, body
            else:
                return None, None

    async def _accept(self, request: h11.Request, body: bytes) -> int:
        if request.method != b"POST":
            return 405
        # the last path segment: a public URL may put the receiver under a prefix
        engine = request.target.decode("latin-1").split("?")[0].rstrip("/").rpartition("/")[2]
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in request.headers}
        try:
            status = await anyio.to_thread.run_sync(
                self.parse, engine, body, headers, limiter=self._parsers
            )
        except WebhookRejected as exc:
            self.rejected += 1
            log.warning("refused a webhook for engine '%s': %s", engine, exc)
            return 401
        except Exception as exc:  # a plugin that cannot read the push: the poll still comes
            log.warning("could not read a webhook for engine '%s' (%s)", engine, type(exc).__name__)
            return 400
        if status is None:
            return 404
        self.received += 1
        self.deliver(status)
        return 200

    @staticmethod
    async def _respond(stream: SocketStream, connection: h11.Connection, code: int) -> None:
        headers = [("content-length", "0"), ("connection", "close")]
        try:
            await stream.send(connection.send(h11.Response(status_code=code, headers=headers)))
            await stream.send(connection.send(h11.EndOfMessage()))
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, h11.LocalProtocolError):
            pass


def _declared_length(request: h11.Request) -> int:
    for name, value in request.headers:
        if name == b"content-length" and value.isdigit():
            return int(value)
    return 0


@dataclass
class WebhookHub:
    """Statuses pushed by engines, waiting for the job that wants them. A terminal one is the
    job's outcome; a thin one (``JobStatus.thin``) says "the job changed: ask the engine"."""

    _statuses: dict[str, JobStatus] = field(default_factory=dict)
    _asked: set[str] = field(default_factory=set)  # jobs a thin push named, not yet asked
    _events: dict[str, anyio.Event] = field(default_factory=dict)

    def deliver(self, status: JobStatus) -> None:
        if status.thin:
            self._asked.add(status.job_id)
        else:
            self._statuses[status.job_id] = status
        if status.thin or status.state in ("succeeded", "failed"):
            self._events.setdefault(status.job_id, anyio.Event()).set()

    async def wait(self, job_id: str, timeout: float) -> JobStatus | None:
        """The job's terminal status, or the thin push that named it (once), as soon as
        one is pushed (at once if it already was); None after ``timeout`` seconds."""
        with anyio.move_on_after(timeout):
            while True:
                pushed = self.pushed(job_id)
                if pushed is not None:
                    return pushed
                if job_id in self._asked:
                    from ministudio.jobs import JobStatus

                    self._asked.discard(job_id)
                    return JobStatus(job_id=job_id, state="running", thin=True)
                event = self._events[job_id] = anyio.Event()
                await event.wait()
        return None

    def pushed(self, job_id: str) -> JobStatus | None:
        """The job's terminal status if a webhook already brought it."""
        status = self._statuses.get(job_id)
        return status if status is not None and status.state in ("succeeded", "failed") else None

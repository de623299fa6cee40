"""The webhook receiver a render starts: engines POST job updates to ``<public url>/<engine>``
(the public URL may have a path: the engine is the last segment).

It listens on a local address (behind a public URL the user supplies, e.g. a tunnel or a
reverse proxy), hands each body to the owning plugin's ``parse_webhook`` and wakes the job
waiting for it. HTTP/1.1 is parsed by h11.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import anyio
import h11
from anyio.abc import SocketStream

if TYPE_CHECKING:
    from ministudio.jobs import JobStatus

MAX_BODY = 1 << 20  # a status update is small; refuse anything larger


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
            request: h11.Request | None = None
            body = b""
            while True:
                event = connection.next_event()
                if event is h11.NEED_DATA:
                    try:
                        data = await stream.receive()
                    except (anyio.EndOfStream, anyio.BrokenResourceError):
                        return
                    connection.receive_data(data)
                    continue
                if isinstance(event, h11.Request):
                    request = event
                elif isinstance(event, h11.Data):
                    body += event.data
                    if len(body) > MAX_BODY:
                        await self._respond(stream, connection, 413)
                        return
                elif isinstance(event, h11.EndOfMessage) and request is not None:
                    await self._respond(stream, connection, self._accept(request, body))
                    return
                else:
                    return

    def _accept(self, request: h11.Request, body: bytes) -> int:
        if request.method != b"POST":
            return 405
        # the last path segment: a public URL may put the receiver under a prefix
        engine = request.target.decode("latin-1").split("?")[0].rstrip("/").rpartition("/")[2]
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in request.headers}
        try:
            status = self.parse(engine, body, headers)
        except Exception:
            return 400
        if status is None:
            return 404
        self.received += 1
        self.deliver(status)
        return 200

    @staticmethod
    async def _respond(stream: SocketStream, connection: h11.Connection, code: int) -> None:
        headers = [("content-length", "0"), ("connection", "close")]
        await stream.send(connection.send(h11.Response(status_code=code, headers=headers)))
        await stream.send(connection.send(h11.EndOfMessage()))

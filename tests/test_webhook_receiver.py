"""The webhook receiver as an attacker and a careless sender would meet it: oversized and
slow bodies, forged pushes, a plugin that takes its time, and thin events that only say
"ask me now"."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import anyio
import httpx
import pytest
from ministudio.errors import WebhookRejected
from ministudio.jobs import JobStatus
from ministudio.remote.webhooks import MAX_BODY, WebhookHub, WebhookReceiver

pytestmark = pytest.mark.anyio

Parse = Callable[[str, bytes, dict[str, str]], JobStatus | None]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Served:
    def __init__(self, receiver: WebhookReceiver, port: int) -> None:
        self.receiver = receiver
        self.url = f"http://127.0.0.1:{port}"
        self.delivered: list[JobStatus] = []


@asynccontextmanager
async def serve(parse: Parse) -> AsyncIterator[Served]:
    delivered: list[JobStatus] = []
    receiver = WebhookReceiver(parse, delivered.append)
    async with anyio.create_task_group() as tg:
        port = await tg.start(receiver.serve, "127.0.0.1", 0)
        served = Served(receiver, port)
        served.delivered = delivered
        yield served
        tg.cancel_scope.cancel()


def signed_only(engine: str, body: bytes, headers: dict[str, str]) -> JobStatus | None:
    if headers.get("webhook-signature") != "good":
        raise WebhookRejected(engine, "the push is not signed")
    return JobStatus(job_id=body.decode(), state="running")


async def post(url: str, body: bytes, **headers: str) -> int:
    async with httpx.AsyncClient() as client:
        return (await client.post(url, content=body, headers=headers)).status_code


async def test_a_forged_push_is_refused_logged_and_wakes_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with serve(signed_only) as served:
        with caplog.at_level(logging.WARNING, "ministudio.remote.webhooks"):
            assert await post(f"{served.url}/omni", b"job-1", **{"webhook-signature": "x"}) == 401
        assert served.delivered == [] and served.receiver.rejected == 1
        assert "refused a webhook for engine 'omni': omni: the push is not signed" in caplog.text
        assert await post(f"{served.url}/omni", b"job-1", **{"webhook-signature": "good"}) == 200
        assert [s.job_id for s in served.delivered] == ["job-1"]


async def test_an_oversized_body_is_refused_before_it_is_read() -> None:
    calls: list[bytes] = []

    def parse(engine: str, body: bytes, headers: dict[str, str]) -> JobStatus | None:
        calls.append(body)
        return None

    async with serve(parse) as served:
        host, port = served.url.removeprefix("http://").split(":")
        stream = await anyio.connect_tcp(host, int(port))
        async with stream:  # says 2 MiB, sends 10 bytes: answered without waiting for the rest
            await stream.send(
                f"POST /omni HTTP/1.1\r\nHost: x\r\nContent-Length: {2 * MAX_BODY}\r\n\r\n".encode()
                + b"0123456789"
            )
            with anyio.fail_after(5):
                answer = await stream.receive()
        assert answer.startswith(b"HTTP/1.1 413")
        assert await post(f"{served.url}/omni", b"x" * (MAX_BODY + 1)) == 413
        assert calls == []


async def test_a_slow_plugin_never_blocks_the_render() -> None:
    """Parsing (a key-set fetch, a signature check) runs in a worker thread."""
    release = threading.Event()

    def slow(engine: str, body: bytes, headers: dict[str, str]) -> JobStatus | None:
        release.wait(5)
        return JobStatus(job_id="j", state="succeeded")

    async with serve(slow) as served:
        ticks, answered = 0, False
        async with anyio.create_task_group() as tg:

            async def push() -> None:
                nonlocal answered
                assert await post(f"{served.url}/omni", b"{}") == 200
                answered = True

            tg.start_soon(push)
            # the loop keeps turning while the plugin waits (a blocked loop would turn only
            # after the plugin's 5 s wait ran out, when the push is answered); counted in
            # turns, not seconds, so a loaded machine cannot fail it
            while ticks < 10 and not answered:
                await anyio.sleep(0.01)
                ticks += 1
            blocked_answer = answered
            release.set()
        assert ticks >= 10 and not blocked_answer
        assert [s.state for s in served.delivered] == ["succeeded"]


async def test_a_plugin_crash_or_a_get_is_not_a_delivery() -> None:
    def broken(engine: str, body: bytes, headers: dict[str, str]) -> JobStatus | None:
        raise KeyError("boom")

    async with serve(broken) as served:
        assert await post(f"{served.url}/omni", b"{}") == 400
        async with httpx.AsyncClient() as client:
            assert (await client.get(f"{served.url}/omni")).status_code == 405
        assert served.delivered == []


async def test_a_thin_push_wakes_the_waiting_job_once() -> None:
    """A thin push is "ask now": wait returns it, once; a progress push wakes nobody; a
    terminal one is the outcome, kept for later askers too."""
    hub = WebhookHub()
    got: list[JobStatus | None] = []
    async with anyio.create_task_group() as tg:

        async def waiter() -> None:
            got.append(await hub.wait("j", timeout=5))

        tg.start_soon(waiter)
        await anyio.sleep(0.05)
        hub.deliver(JobStatus(job_id="j", state="running", progress=0.5))
        await anyio.sleep(0.05)
        assert got == []
        hub.deliver(JobStatus(job_id="j", state="running", thin=True))
    assert [(s.state, s.thin) for s in got if s] == [("running", True)]
    assert hub.pushed("j") is None  # not an outcome
    assert await hub.wait("j", timeout=0.05) is None  # asked once
    hub.deliver(JobStatus(job_id="j", state="succeeded"))
    assert (await hub.wait("j", timeout=0.1)) == hub.pushed("j")
    assert await hub.wait("other", timeout=0.05) is None

"""Kling's REST calls through httpx: the ``{code, message, request_id, data}`` envelope,
transport failures as typed errors, task lookups and streamed downloads.

No retries here: the core retries (``TransientError``), and never resends a submit whose answer
was lost (``AmbiguousSubmission``) without looking it up by its external id first. A create
that Kling answers with an error raises ``Answered`` (carrying the typed error), so the caller
can look its external id up before believing the error.

A lookup of an id Kling does not know: the docs do not say what it answers. ``task`` takes as
"none" an HTTP 404 (any code), code 1203 ("the requested resource does not exist"), 1200/1201
(an id it cannot use is an "illegal value"), and a success without a task; any other answer
is an error. Taking "none" wrongly cannot pay twice: the create that follows reuses the
external id, which Kling keeps unique per account, and its answer is looked up again.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
from ministudio.engines import EngineContext
from ministudio.errors import AmbiguousSubmission, EngineError, MinistudioError, TransientError
from ministudio.http import download, retry_after, tls_context

from ministudio_kling import DEFAULT_BASE_URL, ENGINE, __version__
from ministudio_kling._auth import Credentials, credentials
from ministudio_kling._errors import ABSENT_CODES, api_error

VIDEOS = "/v1/videos"  # + /text2video, /image2video, /advanced-lip-sync
IDENTIFY_FACE = "/v1/videos/identify-face"
ELEMENTS = "/v1/general/advanced-custom-elements"
LOOPBACK = ("127.0.0.1", "localhost", "::1")


class Answered(Exception):
    """Kling answered a create with an error (``error``, typed): nothing was made by this
    request, unless its external id was already taken."""

    def __init__(self, error: MinistudioError) -> None:
        super().__init__(str(error))
        self.error = error


@dataclass(frozen=True)
class Api:
    """One render's view of the Kling API: where it is, the keys, the timeouts."""

    base: str
    keys: Credentials
    timeout: float
    busy_wait: float

    @classmethod
    def of(cls, context: EngineContext) -> Api:
        env = context.env
        base = (env.get("KLING_BASE_URL") or DEFAULT_BASE_URL).strip().rstrip("/")
        return cls(base, credentials(context), _seconds(env, "KLING_TIMEOUT", 60.0), busy(env))

    # -- calls ------------------------------------------------------------------------------
    async def create(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """``POST {path}`` (``/v1/videos/image2video``, say): the new task's ``data``.
        ``Answered`` when Kling answers with an error."""
        url = f"{self.base}{path}"
        ext = body.get("external_task_id")
        try:
            async with self.client(url) as client:
                answer = await client.post(url, json=body, headers=self.keys.headers())
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            # The request never left: sending it again cannot pay twice.
            raise TransientError(ENGINE, f"cannot reach {self.base} ({_why(exc)})") from None
        except (httpx.UnsupportedProtocol, httpx.LocalProtocolError, httpx.InvalidURL) as exc:
            raise EngineError(ENGINE, f"cannot send to KLING_BASE_URL ({_why(exc)})") from None
        except httpx.TransportError as exc:
            raise AmbiguousSubmission(
                ENGINE,
                f"the submit was sent but its answer was lost ({_why(exc)}); the task may "
                f"exist: look it up by external_task_id {ext!r}",
            ) from None
        try:
            data = self._data(answer, "submit", submit=True)
        except AmbiguousSubmission:
            raise
        except MinistudioError as error:
            raise Answered(error) from None
        if not isinstance(data, dict) or not data.get("task_id"):
            raise AmbiguousSubmission(
                ENGINE,
                f"the submit was accepted (HTTP {answer.status_code}) but its answer has no "
                f"task_id; look it up by external_task_id {ext!r}",
            )
        return data

    async def task(self, path: str, ident: str) -> dict[str, Any] | None:
        """``GET {path}/{task_id or external_task_id}``; None if Kling has none."""
        url = f"{self.base}{path}/{quote(ident, safe='')}"
        what = f"status of task {ident}"
        try:
            async with self.client(url) as client:
                answer = await client.get(url, headers=self.keys.headers())
        except httpx.InvalidURL as exc:
            raise EngineError(ENGINE, f"cannot send to KLING_BASE_URL ({_why(exc)})") from None
        except httpx.TransportError as exc:
            raise TransientError(ENGINE, f"{what} failed ({_why(exc)})") from None
        if answer.status_code == 404 or _code(answer) in ABSENT_CODES:
            return None
        data = self._data(answer, what)
        if not data or (isinstance(data, dict) and not data.get("task_id")):
            return None  # a success that holds no task
        if not isinstance(data, dict) or not data.get("task_id") or "task_status" not in data:
            raise TransientError(ENGINE, f"{what}: the answer has no task status")
        return data

    async def call(self, path: str, body: dict[str, Any], what: str) -> Any:
        """``POST {path}`` answered at once (not a task: ``/v1/videos/identify-face``): the
        envelope's ``data``. Kling's refusal of the input (1200/1201, 1300/1301) is an
        ``EngineRefusal``; nothing is paid twice by sending it again."""
        url = f"{self.base}{path}"
        try:
            async with self.client(url) as client:
                answer = await client.post(url, json=body, headers=self.keys.headers())
        except (httpx.UnsupportedProtocol, httpx.LocalProtocolError, httpx.InvalidURL) as exc:
            raise EngineError(ENGINE, f"cannot send to KLING_BASE_URL ({_why(exc)})") from None
        except httpx.TransportError as exc:
            raise TransientError(ENGINE, f"{what} failed ({_why(exc)})") from None
        try:
            return self._data(answer, what, submit=True)
        except AmbiguousSubmission as exc:
            raise TransientError(ENGINE, str(exc)) from None

    async def page(self, path: str, number: int, size: int) -> list[dict[str, Any]]:
        """``GET {path}?pageNum=&pageSize=``: one page of the account's tasks of that kind."""
        url = f"{self.base}{path}?pageNum={number}&pageSize={size}"
        what = f"listing {path}"
        try:
            async with self.client(url) as client:
                answer = await client.get(url, headers=self.keys.headers())
        except httpx.InvalidURL as exc:
            raise EngineError(ENGINE, f"cannot send to KLING_BASE_URL ({_why(exc)})") from None
        except httpx.TransportError as exc:
            raise TransientError(ENGINE, f"{what} failed ({_why(exc)})") from None
        data = self._data(answer, what)
        if data is None:
            return []
        if not isinstance(data, list):
            raise TransientError(ENGINE, f"{what}: the answer is not a list of tasks")
        return [task for task in data if isinstance(task, dict)]

    async def download(self, url: str, output: Path) -> int:
        """Stream the clip at ``url`` (a plain CDN GET) to ``output``; the bytes written.

        A cut-off or short download raises ``TransientError`` and leaves nothing behind.
        """
        return await download(url, output, engine=ENGINE, timeout=self.timeout)

    # -- helpers ----------------------------------------------------------------------------
    def client(self, url: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            timeout=httpx.Timeout(self.timeout, connect=5.0),
            verify=tls_context(),
            trust_env=urlsplit(url).hostname not in LOOPBACK,  # proxies, but not for loopback
            headers={"User-Agent": f"ministudio-provider-kling/{__version__}"},
        )

    def _data(self, answer: httpx.Response, what: str, *, submit: bool = False) -> Any:
        """The envelope's ``data`` of a success (HTTP 200, ``code`` 0), else the typed error."""
        try:
            payload = answer.json()
        except ValueError:
            payload = None
        code = payload.get("code") if isinstance(payload, dict) else None
        if answer.status_code == 200 and code == 0:
            return payload.get("data") if isinstance(payload, dict) else None
        if answer.status_code == 200 and not isinstance(code, int):
            if submit:
                raise AmbiguousSubmission(
                    ENGINE, f"{what}: HTTP 200 with an unreadable answer; the task may exist"
                )
            raise TransientError(ENGINE, f"{what}: HTTP 200 with an unreadable answer")
        message = payload.get("message") if isinstance(payload, dict) else None
        raise api_error(
            answer.status_code,
            code if isinstance(code, int) else None,
            str(message or answer.reason_phrase or "")[:300],
            what,
            submit=submit,
            retry_after=retry_after(answer.headers),
            busy_wait=self.busy_wait,
        )


def busy(env: Any) -> float:
    """``KLING_BUSY_WAIT``: seconds to wait out a busy answer that names no time."""
    return _seconds(env, "KLING_BUSY_WAIT", 5.0)


def _seconds(env: Any, name: str, default: float) -> float:
    try:
        return max(0.0, float(env.get(name) or default))
    except ValueError:
        return default


def _code(answer: httpx.Response) -> int | None:
    try:
        payload = answer.json()
    except ValueError:
        return None
    code = payload.get("code") if isinstance(payload, dict) else None
    return code if isinstance(code, int) else None


def _why(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__

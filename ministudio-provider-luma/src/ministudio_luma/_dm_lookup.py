"""``luma-dream-machine``'s lost answers: Dream Machine takes no external id, so a create
whose answer was lost is found by listing the account's generations (``GET /generations``,
newest first) and matching what was sent among those created around it. Imported by the hooks
only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ministudio.engines import EngineContext
from ministudio.errors import AmbiguousSubmission, TransientError

from ministudio_luma._client import timeout
from ministudio_luma._dream_machine import (
    ENGINE,
    _body,
    _client,
    _failure,
    _image,
    _why,
)
from ministudio_luma._photon import IMAGE_MODEL

if TYPE_CHECKING:
    from ministudio.jobs import VideoRequest

# Seconds allowed between our clock and Luma's, each way, when matching a generation's
# created_at to the moment a lost request left. Wider is safer: a match missed means paying
# twice, a match too many only stops the shot.
CLOCK_SKEW = 600.0
LIST_PAGE = 100  # the documented default (and our ask) of GET /generations?limit=
LIST_PAGES = 20  # at most this many pages are read; past them the answer stays ambiguous


async def find_video(request: VideoRequest, since: float, context: EngineContext) -> str | None:
    """The generation a lost create made for ``request``, None if there is surely none.

    Matches what was sent (see ``_sent``; the extend fallback's body too) among the video
    generations created from ``since`` on; several matches are ambiguous.
    """
    body = await _body(request, context)
    wanted = [_sent(body)]
    frame0 = body.get("keyframes", {}).get("frame0", {})
    if frame0.get("type") == "generation" and request.first_frame is not None:
        fallback = {**body, "keyframes": {**body["keyframes"]}}
        fallback["keyframes"]["frame0"] = await _image(request.first_frame, context)
        wanted.append(_sent(fallback))
    found = [
        g
        for g in await _listed(since, context)
        if g.get("generation_type", "video") == "video" and _sent(_request_of(g)) in wanted
    ]
    if len(found) > 1:
        ids = ", ".join(str(g["id"]) for g in found)
        raise AmbiguousSubmission(
            ENGINE,
            f"the submit's answer was lost and {len(found)} generations match it ({ids}): "
            "check them on Luma, then run `ministudio render --forget-lost` to send it again",
        )
    return str(found[0]["id"]) if found else None


async def find_image(asked: dict[str, Any], since: float, context: EngineContext) -> str | None:
    """The Photon generation a lost image create made, None if there is none. Of several
    matches (all paid for already, all the same image asked), the newest not failed."""
    for g in await _listed(since, context):  # newest first
        request = _request_of(g)
        refs = (request.get("character_ref") or {}).get("identity0", {}).get("images") or []
        if (
            g.get("generation_type") == "image"
            and g.get("state") != "failed"
            and request.get("model", IMAGE_MODEL) == IMAGE_MODEL
            and request.get("prompt") == asked["prompt"]
            and request.get("aspect_ratio") == asked["aspect_ratio"]
            and [_where(u) for u in refs] == [_where(u) for u in asked["refs"]]
        ):
            return str(g["id"])
    return None


async def _listed(since: float, context: EngineContext) -> list[dict[str, Any]]:
    """The account's generations created within the window around ``since`` (newest first).

    Pages through ``GET /generations`` (``limit``/``offset``) until a page holds only older
    generations; ``AmbiguousSubmission`` if the window could not be covered.
    """
    import itertools

    import lumaai

    start = since - CLOCK_SKEW
    end = since + timeout(context) + CLOCK_SKEW
    found: list[dict[str, Any]] = []
    client = _client(context)
    try:
        offset = 0
        for _ in range(LIST_PAGES):
            try:
                page = await client.generations.list(limit=LIST_PAGE, offset=offset)
            except lumaai.APIStatusError as exc:
                raise _failure(exc, "listing generations") from None
            except lumaai.APIError as exc:
                raise TransientError(ENGINE, f"listing generations: {_why(exc)}") from None
            generations = [g.to_dict() for g in page.generations]
            # an unreadable time counts as inside the window: a candidate, never a reason to stop
            times = [_created(g) or since for g in generations]
            found += [g for g, t in zip(generations, times, strict=True) if start <= t <= end]
            newest_first = all(a >= b for a, b in itertools.pairwise(times))
            if not generations or not page.has_more or (newest_first and times[0] < start):
                return found
            offset += len(generations)
    finally:
        await client.close()
    raise AmbiguousSubmission(
        ENGINE,
        f"the submit's answer was lost and the generations around it are more than "
        f"{LIST_PAGES * LIST_PAGE}: run `ministudio render --forget-lost` after checking Luma",
    )


def _request_of(generation: dict[str, Any]) -> dict[str, Any]:
    request = generation.get("request")
    return request if isinstance(request, dict) else {}


def _sent(body: dict[str, Any]) -> tuple[Any, ...]:
    """What identifies a video create: its fields as sent (image URLs without their query,
    which a re-signed URL changes; no callback URL, which changes every run)."""
    frames = body.get("keyframes") or {}
    keyframes = tuple(
        (name, frame.get("type"), frame.get("id") or _where(frame.get("url") or ""))
        for name, frame in sorted(frames.items())
        if isinstance(frame, dict)
    )
    concepts = tuple(c.get("key") for c in body.get("concepts") or [] if isinstance(c, dict))
    return (
        body.get("model"),
        body.get("prompt"),
        body.get("aspect_ratio"),
        body.get("resolution"),
        body.get("duration"),
        bool(body.get("loop")),
        concepts,
        keyframes,
    )


def _where(url: str) -> str:
    """A URL without its query (a signature) or fragment."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def _created(generation: dict[str, Any]) -> float | None:
    """A generation's ``created_at`` as epoch seconds; None if unreadable."""
    from datetime import datetime, timezone

    value = generation.get("created_at")
    try:
        when = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.timestamp()

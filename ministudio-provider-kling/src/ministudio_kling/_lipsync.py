"""The engine ``kling-lipsync``: Kling's Advanced Lip-Sync over a shot's fitted take.

Kling's current docs (the official pages' copies: OD-2026-03 = ``docs/kling_full.md`` in
github.com/artykrd/ai-bot-misha @ 1455ed3, section "Lip-Sync"; OD-2025-12 = ``docs/kling_api.md``
@ a7b6213, "Video Generation - Lip-Sync") document two calls, one after the other:

1. ``POST /v1/videos/identify-face`` with ``video_url`` (or a Kling ``video_id``), answered at
   once: ``session_id`` ("valid for 24 hours", OD-2025-12) and ``face_data``, each face with
   ``face_id`` and the span it can be synced in (``start_time``/``end_time``, ms). The video:
   ".mp4/.mov, file size <=100MB, duration 2s-60s, resolution 720p or 1080p, with both width
   and height between 512px-2160px". By URL only: the take goes to the asset host
   (``KLING_ASSET_*``, ``ministudio.remote.hosting``) through ``context.upload``.
2. ``POST /v1/videos/advanced-lip-sync`` with ``session_id`` and ``face_choose`` ("Currently
   only supports one person lip-sync"): ``face_id``, ``sound_file`` ("Base64-encoded audio or
   accessible audio URL", ".mp3/.wav/.m4a/.aac (max 5MB)", 2-60 s), ``sound_start_time`` /
   ``sound_end_time`` (the crop of the sound, ms, at least 2 s, not past its end) and
   ``sound_insert_time`` (where it goes in the video: inside it, overlapping the face's span
   by at least 2 s); with ``external_task_id`` and ``callback_url``. A task like the video
   ones: ``GET /v1/videos/advanced-lip-sync/{id}``, the list, the same statuses and callbacks.

The voice (a mono WAV on the shot's timeline, as long as the take) goes whole, as base64, at
0 ms: the crop is the whole sound, so the lips follow it where the film has it. A WAV over
5 MB is resampled to 16 kHz mono first (PyAV). What the docs refuse is refused before
anything is uploaded or paid (``EngineRefusal``, saying what to do): a take shorter than 2 s
or longer than 60 s, not 720p or 1080p, a side outside 512-2160 px, over 100 MB; two
characters speaking on screen in one shot (one face per task). After the identification: no
face, or none seen for 2 s of the voice.

The face: the one whose span overlaps the voice longest (Kling numbers faces, it does not
name them), unless the routing option ``face_id`` names one.

Paying once, as for video tasks (``_engine``): the task's external id is the job key's
(``advanced-lip-sync-<key>``, then ``-2``...), looked up before each create. The docs let
the create take ``external_task_id`` ("supports querying tasks by this ID") but the query's
path parameter is described as ``task_id`` only: so a lookup asks the path first (as the
other kinds document), then the list (``GET /v1/videos/advanced-lip-sync``), matching
``task_info.external_task_id`` where Kling shows it. Where it shows none and a lip-sync task
was created since the lost request left, the lookup cannot tell: ``AmbiguousSubmission``
(the core stops the shot, unpaid twice).
"""

from __future__ import annotations

import base64
import io
import logging
import math
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ministudio.engines import EngineContext
from ministudio.errors import AmbiguousSubmission, EngineError, EngineRefusal
from ministudio.jobs import HostedAsset, JobStatus, LipSyncRequest, Submission, VideoResult

from ministudio_kling import LIPSYNC_ENGINE as ENGINE
from ministudio_kling import LIPSYNC_MODEL as MODEL
from ministudio_kling._api import IDENTIFY_FACE, VIDEOS, Answered, Api
from ministudio_kling._engine import quiet, status_of, task_of
from ministudio_kling._ids import LIPSYNC, MAX_ATTEMPTS, external_id, job_id
from ministudio_kling._prices import lipsync_price

log = logging.getLogger("ministudio_kling")

PATH = f"{VIDEOS}/{LIPSYNC}"
ASSET_PREFIX = "KLING_ASSET_"
MIN_MS = 2000  # video, sound, crop and overlap: "no less than 2 seconds"
MAX_SECONDS = 60.0  # video and sound: "no more than 60 seconds"
MAX_VIDEO_BYTES = 100 * 1024 * 1024  # "file size <=100MB"
MAX_SOUND_BYTES = 5 * 1024 * 1024  # "max 5MB"
SHORT_SIDES = (720, 1080)  # "resolution 720p or 1080p"
SIDES = (512, 2160)  # "both width and height between 512px-2160px"
RESAMPLED_RATE = 16000  # a WAV over 5 MB is sent at this rate, mono
END_MARGIN_MS = 20  # the sound ends this much before the video's last millisecond
LIST_PAGES = 4  # pages of 500 tasks searched for a lost answer (newest first)
PAGE_SIZE = 500  # "pageSize ... Value range: [1, 500]"
SKEW = 300.0  # seconds of clock skew allowed around the lost request's departure


@dataclass(frozen=True)
class Take:
    """What Kling is sent: the take's size and length, the voice as base64 and its length."""

    video: Path
    video_ms: int
    sound: str  # base64 WAV
    sound_ms: int


# -- submit -----------------------------------------------------------------------------------
async def submit(request: LipSyncRequest, key: str, context: EngineContext) -> Submission:
    api = Api.of(context)  # keys first: a missing key costs no work
    take = checked(request)
    for attempt in range(MAX_ATTEMPTS):
        ext = external_id(LIPSYNC, key, attempt)
        task = await lookup(api, ext)
        if task is None:  # the id is free: identify the face, then send
            body = await _body(api, request, take, context)
            body["external_task_id"] = ext
            if context.webhook_url:
                body["callback_url"] = context.webhook_url
            context.sending()  # the take is hosted and its face chosen: the paid request
            try:
                task = await api.create(PATH, body)
            except Answered as answer:
                task = await quiet(api, PATH, ext)  # an error may be a taken id: ask
                if task is None:
                    raise answer.error from None
        if task.get("task_status") != "failed":
            return Submission(job_id=job_id(LIPSYNC, str(task["task_id"])))
    raise EngineError(ENGINE, f"job {key} failed on Kling {MAX_ATTEMPTS} times: not sent again")


def checked(request: LipSyncRequest) -> Take:
    """The take and voice as Kling takes them; ``EngineRefusal`` for what its docs refuse."""
    from ministudio.media.probe import probe

    shot = request.shot.shot_id
    in_frame = {c.id for c in request.shot.characters}
    speakers = sorted({line.speaker for line in request.shot.lines if line.speaker in in_frame})
    if len(speakers) > 1:
        raise EngineRefusal(
            ENGINE,
            f"shot {shot}: {' and '.join(speakers)} speak on screen, and Kling lip-syncs one "
            "face per task; give each speaker a shot of their own, or route this shot's pass "
            f'to another lip-sync engine (routing.shots: {{"{shot}.lipsync": sync}})',
        )
    info = probe(request.video)
    width, height = info.width, info.height
    video_ms = math.floor(info.duration * 1000)
    if video_ms < MIN_MS or info.duration > MAX_SECONDS:
        raise EngineRefusal(
            ENGINE,
            f"shot {shot} lasts {info.duration:.2f} s; Kling lip-syncs videos of 2 to 60 s: "
            "give the shot a duration in that range, or turn its pass off "
            f'(routing.shots: {{"{shot}.lipsync": off}})',
        )
    if min(width, height) not in SHORT_SIDES or not all(
        SIDES[0] <= side <= SIDES[1] for side in (width, height)
    ):
        raise EngineRefusal(
            ENGINE,
            f"the take of shot {shot} is {width}x{height}; Kling lip-syncs 720p or 1080p video "
            "with each side 512-2160 px: render the film at 720p or 1080p (format.resolution; "
            "1080p only up to 2:1), or route the pass to another lip-sync engine",
        )
    if info.size_bytes > MAX_VIDEO_BYTES:
        raise EngineRefusal(
            ENGINE,
            f"the take of shot {shot} is {info.size_bytes / 2**20:.0f} MB; Kling takes at most "
            "100 MB: shorten the shot, or route its pass to another lip-sync engine",
        )
    sound, sound_ms = voice(Path(request.voice))
    if sound_ms < MIN_MS or sound_ms > MAX_SECONDS * 1000:
        raise EngineRefusal(
            ENGINE,
            f"the voice of shot {shot} lasts {sound_ms / 1000:.2f} s; Kling takes 2 to 60 s of "
            "sound: give the shot a duration in that range",
        )
    return Take(Path(request.video), video_ms, sound, sound_ms)


def voice(path: Path) -> tuple[str, int]:
    """The voice as base64 WAV (resampled to 16 kHz mono if over 5 MB) and its length (ms)."""
    data = path.read_bytes()
    try:
        with wave.open(io.BytesIO(data)) as wav:
            rate, frames = wav.getframerate(), wav.getnframes()
    except (wave.Error, EOFError):
        rate, frames = 0, 0
    if not rate or len(data) > MAX_SOUND_BYTES:
        data = _resampled(path)
        with wave.open(io.BytesIO(data)) as wav:
            rate, frames = wav.getframerate(), wav.getnframes()
    return base64.b64encode(data).decode("ascii"), math.floor(frames * 1000 / rate)


def _resampled(path: Path) -> bytes:
    """``path`` decoded and written again as a 16 kHz mono 16-bit WAV (PyAV)."""
    import av

    chunks: list[bytes] = []
    try:
        with av.open(str(path)) as container:
            resampler = av.AudioResampler(format="s16", layout="mono", rate=RESAMPLED_RATE)
            for frame in container.decode(audio=0):
                chunks.extend(_pcm(out) for out in resampler.resample(frame))
            chunks.extend(_pcm(out) for out in resampler.resample(None))
    except (av.FFmpegError, IndexError) as exc:
        raise EngineError(ENGINE, f"cannot read the voice {path.name} ({exc})") from None
    sink = io.BytesIO()
    with wave.open(sink, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RESAMPLED_RATE)
        out.writeframes(b"".join(chunks))
    return sink.getvalue()


def _pcm(frame: Any) -> bytes:
    return bytes(frame.planes[0])[: frame.samples * 2]


async def _body(
    api: Api, request: LipSyncRequest, take: Take, context: EngineContext
) -> dict[str, Any]:
    """Host the take, identify its faces, choose one: the create's body."""
    url = await context.upload(take.video)
    found = await api.call(IDENTIFY_FACE, {"video_url": url}, "identifying the faces")
    session = found.get("session_id") if isinstance(found, dict) else None
    faces = found.get("face_data") if isinstance(found, dict) else None
    if not session:
        raise EngineError(ENGINE, "identify-face answered without a session_id")
    end = max(0, min(take.sound_ms, take.video_ms - END_MARGIN_MS))
    face = choose(faces if isinstance(faces, list) else [], end, request)
    return {
        "session_id": str(session),
        "face_choose": [
            {
                "face_id": str(face["face_id"]),
                "sound_file": take.sound,
                "sound_start_time": 0,
                "sound_end_time": end,
                "sound_insert_time": 0,
            }
        ],
    }


def choose(faces: list[Any], end: int, request: LipSyncRequest) -> dict[str, Any]:
    """The face to sync: the routing option ``face_id``'s, else the one seen longest while the
    voice plays (0..``end`` ms); ``EngineRefusal`` if none is seen for 2 s of it."""
    shot = request.shot.shot_id
    usable = [f for f in faces if isinstance(f, dict) and f.get("face_id") is not None]
    wanted = request.options.get("face_id")
    if wanted is not None:
        usable = [f for f in usable if str(f["face_id"]) == str(wanted)]
        if not usable:
            ids = ", ".join(str(f.get("face_id")) for f in faces if isinstance(f, dict))
            raise EngineRefusal(
                ENGINE,
                f"shot {shot}: Kling found no face {wanted!r} in the take (it found: "
                f"{ids or 'none'}); fix the routing option face_id",
            )
    if not usable:
        raise EngineRefusal(
            ENGINE,
            f"Kling found no face in the take of shot {shot}: frame the speaker's face "
            f'(a medium shot or closer), or turn the pass off (routing.shots: {{"{shot}.lipsync": '
            "off})",
        )
    best = max(usable, key=lambda f: _overlap(f, end))
    if _overlap(best, end) < MIN_MS:
        raise EngineRefusal(
            ENGINE,
            f"shot {shot}: Kling sees a face for only {_overlap(best, end) / 1000:.1f} s of the "
            "voice, and syncs a face seen for at least 2 s of it: keep the speaker's face in "
            "frame longer, or turn the pass off",
        )
    return best


def _overlap(face: dict[str, Any], end: int) -> int:
    try:
        start, stop = int(face.get("start_time") or 0), int(face.get("end_time") or 0)
    except (TypeError, ValueError):
        return 0
    return max(0, min(stop, end) - max(start, 0))


# -- poll, download, price ------------------------------------------------------------------------
async def poll(job: str, context: EngineContext) -> JobStatus:
    return status_of(await task_of(Api.of(context), job), job)


async def download(
    job: str, status: JobStatus, output: Path, context: EngineContext, request: LipSyncRequest
) -> VideoResult:
    api = Api.of(context)
    if status.state != "succeeded" or not status.video_url:  # ask Kling where it is
        status = status_of(await task_of(api, job), job)
    status.check_done(ENGINE, noun="task", refusal="the task failed a content check", url=True)
    await api.download(status.video_url or "", output)
    return VideoResult(path=output, engine_job_id=job, model=MODEL, cost=cost(request))


def cost(request: LipSyncRequest) -> float:
    return lipsync_price(request.duration)


def upload(path: Path, context: EngineContext) -> HostedAsset:
    """Publish the take where the KLING_ASSET_* settings say (an object store: a video is
    not an image, so a public folder of images cannot serve it)."""
    from ministudio.remote.hosting import AssetHost

    return AssetHost.from_env(context.env, ASSET_PREFIX, engine=ENGINE).publish(path)


# -- the lookup of a lost answer ------------------------------------------------------------------
async def find(key: str, context: EngineContext, since: float) -> str | None:
    """The task a submit whose answer was lost created: by its external ids (the newest,
    unless it failed: then None, and the job goes again under the next id); None if Kling
    surely has none; ``AmbiguousSubmission`` if it cannot tell (see the module doc)."""
    api = Api.of(context)
    listed = _Listed(api)
    newest: dict[str, Any] | None = None
    for attempt in range(MAX_ATTEMPTS):
        task = await lookup(api, external_id(LIPSYNC, key, attempt), listed)
        if task is None:
            break
        newest = task
    if newest is not None:
        if newest.get("task_status") == "failed":
            return None
        return job_id(LIPSYNC, str(newest["task_id"]))
    recent = [
        t
        for t in await listed.tasks()
        if _external(t) is None and (_created(t) or since) >= since - SKEW
    ]
    if recent:
        ids = ", ".join(str(t.get("task_id")) for t in recent[:5])
        raise AmbiguousSubmission(
            ENGINE,
            f"a lip-sync submit's answer was lost and Kling shows no external id on its "
            f"lip-sync tasks; {len(recent)} made since then may be it ({ids}). None was sent "
            "again: check them in the Kling console, then run `ministudio render "
            "--forget-lost` to send it once more",
        )
    return None


async def lookup(api: Api, ext: str, listed: _Listed | None = None) -> dict[str, Any] | None:
    """The newest task under external id ``ext``: by the path, else in the list."""
    task = await api.task(PATH, ext)
    if task is not None:
        return task
    listed = listed or _Listed(api)
    return next((t for t in await listed.tasks() if _external(t) == ext), None)


class _Listed:
    """The account's newest lip-sync tasks, fetched once, as needed."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self._tasks: list[dict[str, Any]] | None = None

    async def tasks(self) -> list[dict[str, Any]]:
        if self._tasks is None:
            found: list[dict[str, Any]] = []
            for number in range(1, LIST_PAGES + 1):
                page = await self.api.page(PATH, number, PAGE_SIZE)
                found.extend(page)
                if len(page) < PAGE_SIZE:
                    break
            self._tasks = found
        return self._tasks


def _external(task: dict[str, Any]) -> str | None:
    info = task.get("task_info")
    ext = info.get("external_task_id") if isinstance(info, dict) else None
    return ext if isinstance(ext, str) and ext else None


def _created(task: dict[str, Any]) -> float | None:
    stamp = task.get("created_at")
    if isinstance(stamp, (int, float)) and not isinstance(stamp, bool):
        return float(stamp) / 1000  # ms
    return None

"""The Kling fake's Advanced Lip-Sync: ``POST /v1/videos/identify-face``, ``POST
/v1/videos/advanced-lip-sync`` and its queries, written from Kling's docs, not from the plugin.

Sources: OD-2026-03 = the official docs' copy ``docs/kling_full.md`` in
github.com/artykrd/ai-bot-misha @ 1455ed3, section "Lip-Sync" (Identify Face, Create Task,
Query Task (Single), Query Task (List)); OD-2025-12 = ``docs/kling_api.md`` @ a7b6213, "Video
Generation - Lip-Sync". Each rule below quotes its source.

identify-face (fault endpoint ``identify``), answered at once (no task):
    ``video_id`` xor ``video_url`` ("only one can be filled, and neither can be left empty").
    ``video_url``: ".mp4/.mov, file size <=100MB, duration 2s-60s, resolution 720p or 1080p,
    with both width and height between 512px-2160px. If validation fails, an error code will
    be returned" (OD-2026-03; the code is not named: 1201, the fake's choice). ``video_id``:
    a succeeded video task's video of this fake, "no more than 60 seconds" (the 30 days are
    not simulated). -> ``{session_id, final_unit_deduction, face_data: [{face_id, face_image,
    start_time, end_time}]}``; the session is "valid for 24 hours" (OD-2025-12:
    ``session_ttl``). The faces: ``next_faces(spans)`` scripts the next answers; else one face
    ``"0"`` over the whole video, its end 40 ms late ("This value has a millisecond level error
    and will be longer than the actual ending time", OD-2025-12).
advanced-lip-sync create (fault endpoint ``lipsync``), a task like a video's:
    ``session_id`` required, known, unexpired. ``face_choose`` required, one entry ("Currently
    only supports one person lip-sync"): ``face_id`` of the session; ``audio_id`` xor
    ``sound_file`` ("mutually exclusive; cannot be empty or both populated"; the fake has no
    TTS, so any ``audio_id`` is unknown); ``sound_file`` "Base64-encoded audio or accessible
    audio URL", ".mp3/.wav/.m4a/.aac (max 5MB)" (sniffed by its bytes), "no less than 2
    seconds and no more than 60 seconds"; ``sound_start_time``, ``sound_end_time``,
    ``sound_insert_time`` required whole ms; "the cropped sound must not be shorter than 2
    seconds"; "The end point time shouldn't be later than the total duration of the original
    sound"; "The start time for inserting sound must not be earlier than the start time of the
    video, and the end time for inserting sound must not be later than the end time of the
    video"; "should overlap with the face's lip-sync time interval for at least 2 seconds";
    ``sound_volume`` and ``original_audio_volume`` "Value range: [0, 2]"; ``watermark_info``
    ``{enabled}``; ``external_task_id`` (unique per account, the video tasks' namespace:
    ``reused_external_id``); ``callback_url``. Refusals: 1201 naming the rule.
    The task's video: a real H.264 MP4 the length, rate and (``render_scale`` of the) size of
    the input video, one solid colour; ``task_result.videos[0].duration`` its seconds.
    Billing: 0.5 units per started 5 s (the plugin's [3P] estimate; Kling's is unknown).
Queries: ``GET /v1/videos/advanced-lip-sync/{id}`` and the list, as the video kinds';
    ``task_info.parent_video`` ``{id, url, duration}`` (OD-2026-03 Query Task (Single)).

Where the docs are silent, a switch (each tested both ways in tests/test_kling_lipsync.py):

- ``lipsync_external_query``: ``"path"`` (default: the create says its external id "supports
  querying tasks by this ID", and the video kinds query it in the path) or ``"none"`` (the
  lip-sync query documents the path parameter ``task_id`` only: an external id is unknown).
- ``lipsync_echo_external``: True (default: a CN copy of the docs and the Callback Protocol
  show ``task_info.external_task_id``) or False (OD-2026-03's lip-sync query and list show
  ``task_info.parent_video`` only): in queries, lists and callbacks.
- ``lipsync_resolution``: ``"short-side"`` (default: "720p or 1080p" read as a short side of
  720 or 1080 px) or ``"bounds"`` (only "width and height between 512px-2160px").
"""

from __future__ import annotations

import base64
import binascii
import io
import math
import time
import urllib.request
import uuid
import wave
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .clips import even, solid_planes
from .kling_rules import USD_PER_UNIT, Refused
from .kling_tasks import KlingTask

if TYPE_CHECKING:
    from .kling_server import KlingServer, _Handler

LIPSYNC = "advanced-lip-sync"
MIN_MS, MAX_MS = 2000, 60000
MAX_VIDEO_BYTES = 100 * 1024 * 1024
MAX_SOUND_BYTES = 5 * 1024 * 1024
SESSION_TTL = 24 * 3600.0
UNITS_PER_BLOCK = 0.5
IDENTIFY_UNITS = 0.1
CREATE_FIELDS = frozenset(
    {"session_id", "face_choose", "watermark_info", "external_task_id", "callback_url"}
)
FACE_FIELDS = frozenset(
    {
        "face_id",
        "audio_id",
        "sound_file",
        "sound_start_time",
        "sound_end_time",
        "sound_insert_time",
        "sound_volume",
        "original_audio_volume",
    }
)


@dataclass
class Session:
    session_id: str
    started: float  # time.monotonic()
    video_ms: int
    width: int
    height: int
    fps: float
    faces: dict[str, tuple[int, int]]  # face_id -> (start, end) ms
    video_url: str


@dataclass(frozen=True)
class Media:
    kind: str  # mp4, wav, mp3, m4a, aac
    duration_ms: int
    size: int


class LipSyncFake:
    """The lip-sync half of ``KlingServer`` (a mixin: the state is set up by ``lipsync_init``)."""

    def lipsync_init(
        self: KlingServer,
        external_query: str,
        echo_external: bool,
        resolution: str,
        session_ttl: float,
    ) -> None:
        if external_query not in ("path", "none"):
            raise ValueError("lipsync_external_query: 'path' or 'none'")
        if resolution not in ("short-side", "bounds"):
            raise ValueError("lipsync_resolution: 'short-side' or 'bounds'")
        self.lipsync_external_query = external_query
        self.lipsync_echo_external = echo_external
        self.lipsync_resolution = resolution
        self.session_ttl = session_ttl
        self.sessions: dict[str, Session] = {}
        self.identifications = 0
        self.lipsync_submissions = 0
        self._next_faces: deque[list[tuple[int, int]]] = deque()

    # -- knobs ----------------------------------------------------------------------------------
    def next_faces(self: KlingServer, *answers: list[tuple[int, int]]) -> None:
        """Script the next identify-face answers: each a list of face spans (start, end) ms,
        face ids "0", "1"... ([] for a video with no face)."""
        with self._lock:
            self._next_faces.extend(answers)

    @property
    def files_dir(self: KlingServer) -> Path:
        """The folder served at ``/files`` (the asset host's public bucket, stand-in)."""
        if self._tmp is None:
            raise RuntimeError("start the server first")
        folder = Path(self._tmp.name) / "files"
        folder.mkdir(exist_ok=True)
        return folder

    @property
    def files_url(self: KlingServer) -> str:
        return f"{self.base_url}/files"

    def lipsync_tasks(self: KlingServer) -> list[KlingTask]:
        with self._lock:
            return [t for t in self.tasks.values() if t.kind == LIPSYNC]

    # -- identify-face --------------------------------------------------------------------------
    def identify_face(self: KlingServer, h: _Handler, body: bytes) -> None:
        from .kling_server import _json_object

        if self._guard(h, "identify"):
            return
        try:
            data = _json_object(body)
            self.rules.fields(data, frozenset({"video_id", "video_url"}))
            video_id, video_url = data.get("video_id") or "", data.get("video_url") or ""
            if bool(video_id) == bool(video_url):
                raise Refused(1201, "exactly one of video_id and video_url must be filled")
            if video_url:
                media, width, height, fps = self._video(str(video_url))
            else:
                media, width, height, fps = self._kling_video(str(video_id))
            with self._lock:
                spans = self._next_faces.popleft() if self._next_faces else None
                if spans is None:
                    spans = [(0, media.duration_ms + 40)]
                session = Session(
                    session_id=str(self._rng.randrange(10**17, 10**18)),
                    started=time.monotonic(),
                    video_ms=media.duration_ms,
                    width=width,
                    height=height,
                    fps=fps,
                    faces={str(i): span for i, span in enumerate(spans)},
                    video_url=str(video_url or video_id),
                )
                self.sessions[session.session_id] = session
                self.identifications += 1
                self.billed_usd += round(IDENTIFY_UNITS * USD_PER_UNIT, 6)
        except Refused as exc:
            with self._lock:
                self.refusals.append((exc.code, exc.message))
                self.rejected[exc.code] += 1
            h.send_error_code(exc.code, exc.message)
            return
        h.send_data(
            {
                "session_id": session.session_id,
                "final_unit_deduction": f"{IDENTIFY_UNITS:g}",
                "face_data": [
                    {
                        "face_id": face_id,
                        "face_image": f"{self.base_url}/faces/{session.session_id}-{face_id}.png",
                        "start_time": start,
                        "end_time": end,
                    }
                    for face_id, (start, end) in session.faces.items()
                ],
            }
        )

    def _video(self: KlingServer, url: str) -> tuple[Media, int, int, float]:
        from ministudio.errors import MediaError
        from ministudio.media.probe import probe

        path = self._fetch(url, "video")
        size = path.stat().st_size
        head = path.read_bytes()[:12]
        if head[4:8] != b"ftyp":  # ".mp4/.mov": both ISO BMFF
            raise Refused(1201, "video_url: supported video formats are .mp4/.mov")
        if size > MAX_VIDEO_BYTES:
            raise Refused(1201, "video_url: the file is over 100MB")
        try:
            info = probe(path)
        except MediaError:
            raise Refused(1201, "video_url: the video cannot be read") from None
        ms = math.floor(info.duration * 1000)
        if not MIN_MS <= ms <= MAX_MS:
            raise Refused(1201, "video_url: the duration must be 2s-60s")
        w, h = info.width, info.height
        if not all(512 <= side <= 2160 for side in (w, h)):
            raise Refused(1201, "video_url: width and height must be between 512px-2160px")
        if self.lipsync_resolution == "short-side" and min(w, h) not in (720, 1080):
            raise Refused(1201, "video_url: the resolution must be 720p or 1080p")
        return Media("mp4", ms, size), w, h, info.fps

    def _kling_video(self: KlingServer, video_id: str) -> tuple[Media, int, int, float]:
        with self._lock:
            task = next((t for t in self.tasks.values() if t.video_id == video_id and t.path), None)
        if task is None or task.status != "succeed" or task.duration > 60:
            raise Refused(1201, "video_id: no video of the last 30 days up to 60 s has this id")
        return Media("mp4", task.duration * 1000, 0), task.width, task.height, float(task.fps)

    def _fetch(self: KlingServer, url: str, what: str) -> Path:
        """The file at ``url``: from ``files_dir`` when served here, else by GET."""
        if url.startswith(self.files_url + "/"):
            local = self.files_dir / Path(urlsplit(url).path).name
            if not local.is_file():
                raise Refused(1201, f"{what}: the URL cannot be fetched (404)")
            return local
        target = self.files_dir / f"fetched-{uuid.uuid4().hex}"
        try:
            opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
            with opener.open(url, timeout=5) as answer:
                target.write_bytes(answer.read())
        except (OSError, ValueError):
            raise Refused(1201, f"{what}: the URL cannot be fetched") from None
        return target

    # -- advanced-lip-sync ----------------------------------------------------------------------
    def create_lipsync(self: KlingServer, h: _Handler, body: bytes) -> None:
        from .hold import HOLD, hold
        from .kling_server import _json_object
        from .kling_tasks import created_json

        if self._guard(h, "lipsync"):
            return
        try:
            data = _json_object(body)
            self.rules.fields(data, CREATE_FIELDS)
            with self._lock:
                session = self.sessions.get(str(data.get("session_id") or ""))
            if session is None or time.monotonic() - session.started > self.session_ttl:
                raise Refused(1201, "session_id is invalid or has expired (valid for 24 hours)")
            choice = self._face_choice(data.get("face_choose"), session)
            watermark = _watermark(data.get("watermark_info"))
            ext = _optional_text(data, "external_task_id")
            callback = _optional_text(data, "callback_url")
            with self._lock:
                existing = self._reused(ext)
                if existing is None:
                    task = self._accept_lipsync(session, choice, ext, callback, watermark)
                    payload = created_json(task)
                else:
                    payload = created_json(existing)
        except Refused as exc:
            with self._lock:
                self.refusals.append((exc.code, exc.message))
                self.rejected[exc.code] += 1
            h.send_error_code(exc.code, exc.message)
            return
        if h.fault == "drop_after_accept":
            h.drop()
            return
        if h.fault == HOLD:
            hold(self, h)
            return
        h.send_data(payload)

    def _face_choice(self: KlingServer, raw: Any, session: Session) -> dict[str, Any]:
        if not isinstance(raw, list) or not raw:
            raise Refused(1201, "face_choose is required")
        if len(raw) > 1:
            raise Refused(1201, "face_choose: currently only supports one person lip-sync")
        entry = raw[0]
        if not isinstance(entry, dict):
            raise Refused(1201, "face_choose[0] must be an object")
        self.rules.fields(entry, FACE_FIELDS)
        face_id = str(entry.get("face_id") or "")
        if face_id not in session.faces:
            raise Refused(1201, f"face_choose[0].face_id {face_id!r} is not a face of the session")
        audio_id, sound = entry.get("audio_id") or "", entry.get("sound_file") or ""
        if bool(audio_id) == bool(sound):
            raise Refused(1201, "exactly one of audio_id and sound_file must be filled")
        if audio_id:
            raise Refused(1201, f"audio_id {audio_id!r}: no audio of the last 30 days has this id")
        media = self._sound(str(sound))
        times = {}
        for name in ("sound_start_time", "sound_end_time", "sound_insert_time"):
            value = entry.get(name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise Refused(1201, f"face_choose[0].{name} is required (whole ms, >= 0)")
            times[name] = value
        start, end, insert = (
            times["sound_start_time"],
            times["sound_end_time"],
            times["sound_insert_time"],
        )
        if end - start < MIN_MS:
            raise Refused(1201, "the cropped sound must not be shorter than 2 seconds")
        if end > media.duration_ms:
            raise Refused(1201, "sound_end_time is later than the total duration of the sound")
        if insert + (end - start) > session.video_ms:
            raise Refused(1201, "the inserted sound must not end later than the video")
        face_start, face_end = session.faces[face_id]
        overlap = min(insert + end - start, face_end) - max(insert, face_start)
        if overlap < MIN_MS:
            raise Refused(1201, "the inserted sound overlaps the face's interval by under 2 s")
        for name in ("sound_volume", "original_audio_volume"):
            value = entry.get(name, 1)
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                raise Refused(1201, f"{name} must be a number")
            if not 0 <= value <= 2:
                raise Refused(1201, f"{name}: value range [0, 2]")
        return {"face_id": face_id, **times, "sound_ms": media.duration_ms, "sound": media.kind}

    def _sound(self: KlingServer, value: str) -> Media:
        if value.startswith(("http://", "https://")):
            data = self._fetch(value, "sound_file").read_bytes()
        else:
            try:
                data = base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                raise Refused(1201, "sound_file is neither a URL nor Base64") from None
        if len(data) > MAX_SOUND_BYTES:
            raise Refused(1201, "sound_file: the file is over 5MB")
        kind = _sniff(data)
        if kind is None:
            raise Refused(1201, "sound_file: accepted formats are .mp3/.wav/.m4a/.aac")
        ms = _duration_ms(data, kind)
        if ms is None:
            raise Refused(1201, "sound_file: the audio cannot be read")
        if not MIN_MS <= ms <= MAX_MS:
            raise Refused(1201, "sound_file: the sound must last 2 to 60 seconds")
        return Media(kind, ms, len(data))

    def _accept_lipsync(
        self: KlingServer,
        session: Session,
        choice: dict[str, Any],
        ext: str | None,
        callback: str | None,
        watermark: bool,
    ) -> KlingTask:
        """Create and start one lip-sync task. Hold the lock."""
        self.lipsync_submissions += 1
        now_ms = int(time.time() * 1000)
        seconds = session.video_ms / 1000
        task = KlingTask(
            task_id=self._new_id(),
            external_task_id=ext,
            callback_url=callback,
            latency=self._latency(f"lipsync {ext}"),
            submitted_at=time.monotonic(),
            created_at=now_ms,
            updated_at=now_ms,
            units=max(1, math.ceil(seconds / 5 - 1e-9)) * UNITS_PER_BLOCK,
            kind=LIPSYNC,
            model=LIPSYNC,
            mode="",
            duration=max(1, round(seconds)),
            prompt=f"lipsync {session.session_id} {choice['face_id']}",
            request={"session_id": session.session_id, **choice},
            width=session.width,
            height=session.height,
            render_width=even(session.width * self.render_scale),
            render_height=even(session.height * self.render_scale),
            fps=max(1, round(session.fps)),
            watermark=watermark,
            video_id=str(uuid.UUID(int=self._rng.getrandbits(128), version=4)),
            parent_video={"id": "", "url": session.video_url, "duration": f"{seconds:g}"},
            echo_external=self.lipsync_echo_external,
            seconds=seconds,
        )
        if self._task_failures:
            task.planned_failure = self._task_failures.popleft()
        self.tasks[task.task_id] = task
        self.peak_concurrency = max(self.peak_concurrency, self._active())
        if task.planned_failure is None:
            assert self._pool is not None and self._tmp is not None
            self._renders[task.task_id] = self._pool.submit(_render, task, Path(self._tmp.name))
        self._start(task)
        return task


def _render(task: KlingTask, folder: Path) -> None:
    """The synced video: the input's length and rate, one solid colour."""
    from ministudio.media.encode import VideoWriter

    planes = solid_planes(task.render_width, task.render_height, task.prompt)
    path = folder / f"{task.task_id}.mp4"
    frames = max(1, round((task.seconds or task.duration) * task.fps))
    with VideoWriter(path, task.render_width, task.render_height, task.fps) as writer:
        for _ in range(frames):
            writer.write_yuv420p(planes)
    task.path = path


def _sniff(data: bytes) -> str | None:
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "wav"
    if data[:3] == b"ID3" or (len(data) > 1 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0):
        if len(data) > 1 and data[0] == 0xFF and data[1] & 0xF6 == 0xF0:
            return "aac"  # ADTS
        return "mp3"
    if data[4:8] == b"ftyp":
        return "m4a"
    return None


def _duration_ms(data: bytes, kind: str) -> int | None:
    if kind == "wav":
        try:
            with wave.open(io.BytesIO(data)) as wav:
                return math.floor(wav.getnframes() * 1000 / wav.getframerate())
        except (wave.Error, EOFError, ZeroDivisionError):
            return None
    import av

    try:
        with av.open(io.BytesIO(data)) as container:
            if container.duration is None:
                return None
            return math.floor(container.duration / av.time_base * 1000)
    except av.FFmpegError:
        return None


def _watermark(raw: Any) -> bool:
    if raw is None:
        return False
    if not isinstance(raw, dict) or not isinstance(raw.get("enabled"), bool):
        raise Refused(1201, 'watermark_info must be {"enabled": boolean}')
    return bool(raw["enabled"])


def _optional_text(data: dict[str, Any], name: str) -> str | None:
    value = data.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise Refused(1201, f"{name} must be a string")
    return value

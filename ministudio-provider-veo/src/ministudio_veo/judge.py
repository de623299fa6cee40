"""The Gemini vision judge: one ``generateContent`` call per shot, verdicts from its JSON.

Imported by the ``qc_check`` hook only: this module imports the SDK, PyAV and Pillow.

The request holds ``frames`` frames sampled evenly through the clip, then, per character in
the shot, its DNA and up to ``MAX_REFERENCES`` reference images, and the place's description,
lighting and reference images; every picture is a JPEG at most ``LONG_SIDE`` pixels on its
long side. The answer is constrained by a JSON schema (``schema``): a verdict (reason, score,
passed) per character id under ``identity``, and one under ``continuity``. They become
``identity:<name>`` verdicts and a ``continuity`` verdict, in the judge's words.

Lips: given the shot's voice (``Judging.voice``: its on-screen lines as one WAV on the clip's
timeline), the request also carries the clip and that voice muxed into one small MP4 (H.264
at most ``LIPSYNC_LONG_SIDE`` pixels on its long side, at the clip's frame rate up to
``MAX_FPS``, and AAC), inline as ``video/mp4`` with ``videoMetadata.fps`` at that rate
(Gemini samples 1 frame a second unless told: too few for lips), placed before the task text
as the video guide advises; the task names the lines and who says them, and the schema asks
for a ``lipsync`` verdict too, which becomes a ``lipsync`` verdict. An MP4 over
``MAX_VIDEO_BYTES`` is not sent: the question is left out (no ``lipsync`` verdict) and the
request is the one without a voice. Sources: ai.google.dev/gemini-api/docs/video-understanding
(inline video, supported formats, "set a custom frame rate", video before text, tokens per
second), the SDK's ``types.VideoMetadata`` ("valid range is (0.0, 24.0]"),
ai.google.dev/gemini-api/docs/file-input-methods (inline data under 100 MB; 20 MB before
January 2026).

Cost: the tokens ``usageMetadata`` reports at the model's price (``PRICES``); thinking is
billed as output (without it, an estimate: ``TOKENS_PER_IMAGE`` a picture, the video's frames
at ``video_frame_tokens(model)`` and its sound at ``AUDIO_TOKENS_PER_SECOND``). The whole
call is priced on the ``continuity`` verdict (every call has one), so the verdicts' costs add
up to what the call cost.

Failures: 408/429/5xx and dropped connections are tried ``ATTEMPTS`` times, waiting what the
server asks (``Retry-After``, ``RetryInfo``) or backing off, then a ``TransientError``;
401/403 or a bad key: ``KeyRejected``; another 4xx: an ``EngineError`` with Google's message;
a blocked request or a refused answer: ``EngineRefusal``; no answer, or one that does not
match the schema: an ``EngineError`` saying so.
"""

from __future__ import annotations

import io
import json
import math
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import httpx
import numpy as np
from google import genai
from google.genai import errors, types
from ministudio.engines import EngineSpec, Judging
from ministudio.errors import (
    EngineError,
    EngineRefusal,
    MediaError,
    MinistudioError,
    TransientError,
)
from ministudio.http import retry_after, tls_context
from ministudio.jobs import CharacterBrief, QCVerdict, ShotPrompt
from ministudio.media.probe import probe
from PIL import Image, ImageOps

from ministudio_veo import GEMINI_KEYS, JUDGE, JUDGE_MODEL, specs
from ministudio_veo._errors import KeyRejected

DEFAULT_FRAMES = 4
MAX_FRAMES = 16
LONG_SIDE = 768  # pixels: what Gemini tiles cheaply and still reads a face from
JPEG_QUALITY = 85
MAX_REFERENCES = 3  # per character, and for the place
OPTIONS = ("model", "frames")
ATTEMPTS = 4  # tries of one request on 408/429/5xx and dropped connections
BACKOFF = 0.5  # seconds before the first retry when the server gives no hint; doubles
MAX_WAIT = 30.0  # a server asking for longer than this ends the tries at once
DEFAULT_TIMEOUT = 120.0
MAX_REASON = 500  # characters of a reason kept
# USD per million tokens, (input, output with thinking), paid tier of the Gemini API: from
# ai.google.dev/gemini-api/docs/pricing as transcribed on 2026-10-07 (a secondary copy);
# gemini-2.5-flash's output price from earlier pages. Another model is priced as the default.
PRICES: dict[str, tuple[float, float]] = {
    "gemini-3.8-flash": (1.50, 7.50),
    "gemini-3.5-flash": (1.50, 9.00),
    "gemini-3.5-flash-lite": (0.30, 2.50),
    "gemini-2.5-flash": (0.30, 2.50),
}
# Launch prices, in force before the date: gemini-3.8-flash is half price until 2027.
PROMOTIONS: dict[str, tuple[date, tuple[float, float]]] = {
    "gemini-3.8-flash": (date(2027, 1, 1), (0.75, 3.75)),
}
# Without usageMetadata: a rough count per picture and per character of text.
TOKENS_PER_IMAGE = 1100
CHARS_PER_TOKEN = 4
# The lips' video. ``videoMetadata.fps``: "The valid range is (0.0, 24.0]" (google-genai
# types.VideoMetadata); the default, 1 fps, would show a mouth once a second.
LIPSYNC_LONG_SIDE = 384  # pixels: a mouth still reads, and the MP4 stays small
MAX_FPS = 24
VIDEO_CRF = "30"  # libx264 quality: a 8 s shot at 384x216 is ~100-300 KB
AUDIO_BIT_RATE = 64_000
# At most this many bytes of MP4 inline (base64 adds a third): far under the inline limit
# (100 MB since January 2026, 20 MB before: ai.google.dev/gemini-api/docs/file-input-methods).
MAX_VIDEO_BYTES = 8 * 1024 * 1024
# Tokens of video without usageMetadata (ai.google.dev/gemini-api/docs/video-understanding,
# "Technical details"; .../docs/media-resolution): a frame is 258 tokens on Gemini 2.x (66 at
# low media resolution) and 70 on Gemini 3 at its default for video; audio is 32 a second;
# timestamps are a few more (7 a second on Google's Vertex/GDC page).
VIDEO_FRAME_TOKENS = {"gemini-2": 258}  # model id prefix -> tokens a frame; else 70
DEFAULT_VIDEO_FRAME_TOKENS = 70
AUDIO_TOKENS_PER_SECOND = 32
TIMESTAMP_TOKENS_PER_SECOND = 7
# A candidate that ended for these reasons was refused.
REFUSED = frozenset(
    {"SAFETY", "PROHIBITED_CONTENT", "BLOCKLIST", "SPII", "RECITATION", "IMAGE_SAFETY"}
)
_DELAY = re.compile(r"^\s*(\d+(?:\.\d+)?)s\s*$")

SYSTEM = """\
You are the continuity supervisor of a film made by AI video models, shot by shot. You get
frames sampled from one rendered shot, in order, and what the shot should show: each
character's identity (a written "DNA" and reference images) and the place (a description,
its lighting, maybe reference images).

Judge two things, strictly, as a supervisor who must send bad shots back:
- identity, per character listed: does the person in the frames look like the character's
  reference images and DNA (face, age, hair, build, clothes, colours) in every frame where
  they appear? A character missing from every frame fails.
- continuity, for the shot: do the place, the lighting, the style and the characters stay
  the same from frame to frame (no one changing face or clothes, no set or light jumping),
  and does the place match its description?

For each verdict write the reason first: one or two plain sentences naming what you saw and
in which frames (e.g. "frame 3: her coat turns blue"). Then a score from 0 (clearly wrong)
to 1 (certainly right), then passed: true only when nothing a viewer would notice is wrong.
Judge only what the frames show; do not invent detail.

When you are also given the shot as a video with sound and asked about lip sync: the sound is
the lines the characters in frame should be speaking. Judge whether the speaking character's
lips move with the words heard, in time: mouth opening on the syllables and shut in the
pauses, no visible lead or lag, the right person's mouth moving, no mouth moving while
silent. Name the moments (in seconds) where they part.
"""


@dataclass(frozen=True)
class Settings:
    """The judge's options (``routing.options.gemini-judge``)."""

    model: str
    frames: int


@dataclass(frozen=True)
class Picture:
    """One JPEG for the request, and what it shows."""

    label: str
    data: bytes


@dataclass(frozen=True)
class Video:
    """The clip with the shot's voice as its sound: one MP4 for the request."""

    data: bytes
    fps: float  # frames a second in it, and the rate Gemini is asked to sample
    seconds: float
    size: tuple[int, int]


# -- the hook's work ------------------------------------------------------------------------
def judge(shot: ShotPrompt, clip: Path, judging: Judging) -> list[QCVerdict]:
    """Ask Gemini about ``clip``; an identity verdict per character and a continuity one."""
    settings = read_options(judging.options)
    key = judging.context.key(_spec())  # MissingKeyError before any work
    frames = sample_frames(clip, settings.frames)
    video = lips_video(clip, judging.voice) if judging.voice is not None else None
    contents = request_contents(shot, frames, video)
    lips = video is not None
    config = request_config(shot, lips=lips)
    response = _ask(key, settings.model, contents, config, judging.context.env)
    answer = read_answer(response, shot, lips=lips)
    return verdicts(shot, answer, cost(response, settings.model, contents))


def read_options(options: Mapping[str, object]) -> Settings:
    """The model and the number of frames, checked."""
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise EngineError(
            JUDGE,
            f"unknown option {', '.join(unknown)} in routing.options.{JUDGE}: "
            f"use {' or '.join(OPTIONS)}",
        )
    model = options.get("model", JUDGE_MODEL)
    if not isinstance(model, str) or not model.strip():
        raise EngineError(JUDGE, f"routing.options.{JUDGE}.model must be a model id")
    frames = options.get("frames", DEFAULT_FRAMES)
    if isinstance(frames, bool) or not isinstance(frames, int) or not 1 <= frames <= MAX_FRAMES:
        raise EngineError(
            JUDGE, f"routing.options.{JUDGE}.frames must be a whole number from 1 to {MAX_FRAMES}"
        )
    return Settings(model=model.strip().removeprefix("models/"), frames=frames)


# -- pictures -------------------------------------------------------------------------------
def sample_frames(clip: Path, count: int) -> list[Picture]:
    """``count`` frames spread evenly through the clip (the middle of each equal part)."""
    info = probe(clip)
    seconds = info.frames / info.fps if info.fps else info.duration
    times = [(i + 0.5) * seconds / count for i in range(count)]
    images = _frames_at(clip, times)
    return [
        Picture(f"Frame {i + 1} of {count}, at {t:.1f} s:", jpeg(image))
        for i, (t, image) in enumerate(zip(times, images, strict=True))
    ]


def _frames_at(clip: Path, times: list[float]) -> list[Image.Image]:
    """The frame on screen at each of ``times`` (ascending), decoding the clip once."""
    found: list[Image.Image] = []
    last: av.VideoFrame | None = None
    try:
        with av.open(str(clip)) as container:
            stream = container.streams.video[0]
            start = float(stream.start_time * stream.time_base) if stream.start_time else 0.0
            for frame in container.decode(stream):
                shown = (frame.time or 0.0) - start
                if last is not None:
                    while len(found) < len(times) and shown > times[len(found)] + 1e-6:
                        found.append(last.to_image())  # type: ignore[no-untyped-call]
                if len(found) == len(times):
                    break
                last = frame
    except av.FFmpegError as exc:
        raise MediaError(f"{clip}: decoding failed ({exc}); re-render the shot") from exc
    if last is None:
        raise MediaError(f"{clip}: no video frame could be decoded; re-render the shot")
    while len(found) < len(times):  # past the last frame: the last frame
        found.append(last.to_image())  # type: ignore[no-untyped-call]
    return found


def jpeg(image: Image.Image) -> bytes:
    """``image`` as an RGB JPEG, at most ``LONG_SIDE`` pixels on its long side."""
    image = ImageOps.exif_transpose(image) or image
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        image = Image.new("RGB", rgba.size, (255, 255, 255))
        image.paste(rgba, mask=rgba.getchannel("A"))
    image = image.convert("RGB")
    image.thumbnail((LONG_SIDE, LONG_SIDE), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=JPEG_QUALITY)
    return out.getvalue()


def reference(path: Path, label: str) -> Picture:
    """A reference image, read and made a JPEG like the frames."""
    try:
        with Image.open(path) as image:
            image.load()
            return Picture(label, jpeg(image))
    except (OSError, ValueError) as exc:
        raise EngineError(
            JUDGE,
            f"cannot read the reference image {path} ({type(exc).__name__}); fix the file or "
            "its path in the production",
        ) from None


def _references(paths: Iterable[Path], what: str) -> list[Picture]:
    chosen = list(paths)[:MAX_REFERENCES]
    return [reference(Path(p), f"Reference image {i + 1} of {what}:") for i, p in enumerate(chosen)]


# -- the lips' video ------------------------------------------------------------------------
def lips_video(clip: Path, voice: Path) -> Video | None:
    """``clip`` with ``voice`` as its sound, one small MP4 (H.264 + AAC); None when it would
    be over ``MAX_VIDEO_BYTES`` (the question is then not asked)."""
    from ministudio.media.audio import read_wav

    samples, rate = read_wav(voice)
    out = io.BytesIO()
    try:
        with av.open(str(clip)) as source:
            stream = source.streams.video[0]
            fps = Fraction(stream.average_rate or stream.guessed_rate or MAX_FPS)
            fps = min(fps, Fraction(MAX_FPS)).limit_denominator(1001)
            size = _even_size(stream.codec_context.width, stream.codec_context.height)
            start = float(stream.start_time * stream.time_base) if stream.start_time else 0.0
            with av.open(out, "w", format="mp4") as container:
                picture = container.add_stream("libx264", rate=fps)
                picture.width, picture.height, picture.pix_fmt = *size, "yuv420p"
                picture.codec_context.options = {"crf": VIDEO_CRF, "preset": "veryfast"}
                sound = container.add_stream("aac", rate=rate)
                sound.layout = "mono"
                sound.codec_context.bit_rate = AUDIO_BIT_RATE
                count = 0
                for frame in source.decode(stream):
                    if (frame.time or 0.0) - start + 1e-6 < count / fps:
                        continue  # a faster clip: keep the frames on MAX_FPS's grid
                    small = frame.reformat(*size, format="yuv420p")
                    small.pts, small.time_base = count, 1 / fps
                    container.mux(picture.encode(small))
                    count += 1
                if not count:
                    raise MediaError(f"{clip}: no video frame could be decoded; re-render the shot")
                seconds = float(count / fps)
                pcm = samples[: round(seconds * rate)].astype(np.float32)  # words past the picture
                if pcm.size:
                    heard = av.AudioFrame.from_ndarray(pcm[None, :], format="flt", layout="mono")
                    heard.sample_rate, heard.pts, heard.time_base = rate, 0, Fraction(1, rate)
                    container.mux(sound.encode(heard))
                container.mux(sound.encode(None))
                container.mux(picture.encode(None))
    except av.FFmpegError as exc:
        raise MediaError(
            f"{clip}: making the lip-sync video failed ({exc}); re-render the shot"
        ) from exc
    data = out.getvalue()
    if len(data) > MAX_VIDEO_BYTES:
        return None
    return Video(data=data, fps=float(fps), seconds=seconds, size=size)


def _even_size(width: int, height: int) -> tuple[int, int]:
    """``width`` x ``height`` scaled to ``LIPSYNC_LONG_SIDE`` on the long side (never up),
    both even (H.264's 4:2:0)."""
    scale = min(1.0, LIPSYNC_LONG_SIDE / max(width, height, 1))
    even = [round(side * scale) for side in (width, height)]
    return max(2, even[0] - even[0] % 2), max(2, even[1] - even[1] % 2)


# -- the request ----------------------------------------------------------------------------
def request_contents(
    shot: ShotPrompt, frames: list[Picture], video: Video | None = None
) -> list[types.Content]:
    """One user turn: the shot, the place, each character, the frames, the video with the
    voice (when given), the task."""
    parts: list[types.Part] = [types.Part.from_text(text=_shot_text(shot))]
    place = shot.environment
    parts.append(types.Part.from_text(text=_place_text(shot)))
    parts += _pictures(_references(place.reference_images, "the place"))
    for character in shot.characters:
        parts.append(types.Part.from_text(text=_character_text(character)))
        parts += _pictures(_references(character.reference_images, character.name))
    parts.append(types.Part.from_text(text=f"The rendered shot, {len(frames)} frames in order:"))
    parts += _pictures(frames)
    if video is not None:  # the video before the text that asks about it (the video guide)
        parts.append(types.Part.from_text(text=_video_text(video)))
        parts.append(
            types.Part(
                inline_data=types.Blob(data=video.data, mime_type="video/mp4"),
                video_metadata=types.VideoMetadata(fps=video.fps),
            )
        )
    parts.append(types.Part.from_text(text=_task_text(shot, lips=video is not None)))
    return [types.Content(role="user", parts=parts)]


def _video_text(video: Video) -> str:
    return (
        f"The same shot as a video ({video.seconds:.1f} s, {video.fps:g} frames a second) whose "
        "sound is the lines the characters in frame should be speaking:"
    )


def _lines_text(shot: ShotPrompt) -> str:
    names = {c.id: c.name for c in shot.characters}
    said = [
        f'{names[line.speaker]} ({line.start:.1f}-{line.end:.1f} s): "{line.text}"'
        for line in shot.lines
        if line.speaker in names
    ]
    return f" The lines heard: {'; '.join(said)}." if said else ""


def _pictures(pictures: list[Picture]) -> list[types.Part]:
    parts: list[types.Part] = []
    for picture in pictures:
        parts.append(types.Part.from_text(text=picture.label))
        parts.append(types.Part.from_bytes(data=picture.data, mime_type="image/jpeg"))
    return parts


def _shot_text(shot: ShotPrompt) -> str:
    text = (
        f"Shot {shot.shot_id} of scene {shot.scene_id}. Action: {shot.action}. "
        f"Framing: {shot.shot_size}; camera: {shot.camera_move}."
    )
    return text + (f" Visual style: {shot.style}." if shot.style else "")


def _place_text(shot: ShotPrompt) -> str:
    place = shot.environment
    text = f"The place ({place.id}): {place.description}."
    if place.lighting:
        text += f" Lighting in this shot: {place.lighting}."
    if place.palette:
        text += f" Palette: {', '.join(place.palette)}."
    return text


def _character_text(character: CharacterBrief) -> str:
    text = f"Character id '{character.id}', named {character.name}. DNA: {character.dna}."
    if not character.reference_images:
        text += " No reference images: judge against the DNA alone."
    return text


def _task_text(shot: ShotPrompt, *, lips: bool = False) -> str:
    if shot.characters:
        ids = ", ".join(f"'{c.id}' ({c.name})" for c in shot.characters)
        who = f"Give an identity verdict for each character id: {ids}, and "
    else:
        who = "No character is listed for this shot. Give "
    text = who + "a continuity verdict for the shot, in the JSON schema given."
    if lips:
        text += (
            " Also give a lipsync verdict from the video: do the speaking character's lips "
            "match the words heard, in time?" + _lines_text(shot)
        )
    return text


def request_config(shot: ShotPrompt, *, lips: bool = False) -> types.GenerateContentConfig:
    return types.GenerateContentConfig(
        system_instruction=SYSTEM,
        response_mime_type="application/json",
        response_json_schema=schema(shot, lips=lips),
    )


def _verdict_schema(description: str) -> dict[str, Any]:
    return {
        "type": "object",
        "description": description,
        "properties": {
            "reason": {
                "type": "string",
                "description": "one or two sentences: what you saw, and in which frames",
            },
            "score": {
                "type": "number",
                "minimum": 0,
                "maximum": 1,
                "description": "0: clearly wrong; 1: certainly right",
            },
            "passed": {
                "type": "boolean",
                "description": "true when nothing a viewer would notice is wrong",
            },
        },
        "required": ["reason", "score", "passed"],
    }


def schema(shot: ShotPrompt, *, lips: bool = False) -> dict[str, Any]:
    """The answer's JSON schema: ``identity`` (one verdict per character id, when the shot
    has characters), ``lipsync`` (when asked, with the video) and ``continuity``."""
    properties: dict[str, Any] = {}
    if shot.characters:
        properties["identity"] = {
            "type": "object",
            "description": "per character id: is the person in the frames this character?",
            "properties": {
                c.id: _verdict_schema(f"{c.name}: matches the DNA and reference images?")
                for c in shot.characters
            },
            "required": [c.id for c in shot.characters],
        }
    if lips:
        properties["lipsync"] = _verdict_schema(
            "in the video: do the speaking character's lips match the words heard, in time?"
        )
    properties["continuity"] = _verdict_schema(
        "the place, light, style and characters stay consistent across the frames and match "
        "the place's description?"
    )
    return {"type": "object", "properties": properties, "required": list(properties)}


# -- the call -------------------------------------------------------------------------------
def _ask(
    key: str,
    model: str,
    contents: list[types.Content],
    config: types.GenerateContentConfig,
    env: Mapping[str, str],
) -> types.GenerateContentResponse:
    """One ``generateContent``, tried again on passing failures."""
    timeout = _timeout(env)
    tls = tls_context()  # shared: a new one per call costs ~70 ms
    with httpx.Client(
        timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)), verify=tls
    ) as http:
        options = types.HttpOptions(
            base_url=(env.get("GEMINI_BASE_URL") or "").strip().rstrip("/") or None,
            timeout=int(timeout * 1000),
            httpx_client=http,
            client_args={"verify": tls},  # the SDK's async client, never used here
        )
        client = genai.Client(api_key=key, http_options=options)
        attempt = 1
        while True:
            try:
                return _once(client, model, contents, config)
            except TransientError as failure:
                wait = _wait(failure, attempt)
                if attempt == ATTEMPTS or wait > MAX_WAIT:
                    raise _gave_up(failure, attempt) from None
            time.sleep(wait)
            attempt += 1


def _once(
    client: genai.Client,
    model: str,
    contents: list[types.Content],
    config: types.GenerateContentConfig,
) -> types.GenerateContentResponse:
    """One try; a ``TransientError`` for what trying again may fix."""
    try:
        return client.models.generate_content(model=model, contents=contents, config=config)
    except errors.APIError as exc:
        raise _failure(exc, model) from None
    except httpx.UnsupportedProtocol as exc:
        raise EngineError(JUDGE, f"cannot use GEMINI_BASE_URL ({_why(exc)})") from None
    except httpx.TransportError as exc:
        raise TransientError(JUDGE, f"the request to Gemini failed ({_why(exc)})") from None


def _wait(failure: TransientError, attempt: int) -> float:
    """Seconds before the next try: the server's hint, else a doubling backoff."""
    if failure.retry_after is not None:
        return failure.retry_after
    return float(BACKOFF * 2 ** (attempt - 1))


def _gave_up(failure: TransientError, attempts: int) -> TransientError:
    return TransientError(
        JUDGE,
        f"{str(failure).removeprefix(f'{JUDGE}: ')} (after {attempts} tries); render again "
        "later: the clip is kept, only the judge runs again",
        retry_after=failure.retry_after,
    )


def _failure(exc: errors.APIError, model: str) -> MinistudioError:
    """The typed error for an HTTP error answer."""
    code = int(exc.code or 0)
    said = f"HTTP {code} {exc.status or ''}: {(exc.message or 'no message').strip()[:500]}"
    said = said.replace("  ", " ")
    reasons = set(_reasons(exc.details))
    if code in (401, 403) or reasons & {"API_KEY_INVALID", "API_KEY_EXPIRED"}:
        return KeyRejected(JUDGE, list(GEMINI_KEYS), code)
    if code in (408, 429) or code >= 500:
        return TransientError(JUDGE, said, retry_after=_retry_after(exc))
    if code == 404:
        return EngineError(
            JUDGE,
            f"model '{model}' is unknown to the Gemini API ({said}); set "
            f"routing.options.{JUDGE}.model to a current one, e.g. {JUDGE_MODEL}",
        )
    return EngineError(JUDGE, f"Gemini refused the judge's request ({said})")


def _reasons(details: Any) -> Iterable[str]:
    """The ``ErrorInfo.reason`` values of a Google error body."""
    for item in _error_details(details):
        if isinstance(item.get("reason"), str):
            yield item["reason"]


def _error_details(details: Any) -> list[Mapping[str, Any]]:
    error = details.get("error") if isinstance(details, Mapping) else None
    items = error.get("details") if isinstance(error, Mapping) else None
    return [i for i in items if isinstance(i, Mapping)] if isinstance(items, list) else []


def _retry_after(exc: errors.APIError) -> float | None:
    """The server's hint: ``Retry-After``, else ``RetryInfo.retryDelay``."""
    headers = getattr(exc.response, "headers", None)
    hint = retry_after(headers) if headers is not None else None
    if hint is not None:
        return hint
    for item in _error_details(exc.details):
        delay = item.get("retryDelay")
        match = _DELAY.match(delay) if isinstance(delay, str) else None
        if match:
            return float(match.group(1))
    return None


# -- the answer -----------------------------------------------------------------------------
def read_answer(
    response: types.GenerateContentResponse, shot: ShotPrompt, *, lips: bool = False
) -> dict[str, Any]:
    """The answer's JSON, checked against ``schema(shot, lips=lips)``; typed errors for
    anything else."""
    _refuse_if_blocked(response)
    text, finish = _answer_text(response)
    try:
        answer = json.loads(text)
    except json.JSONDecodeError as exc:
        cut = " (cut off: MAX_TOKENS)" if finish == "MAX_TOKENS" else ""
        raise _mismatch(f"it is not JSON{cut}: {exc.msg} at character {exc.pos}") from None
    _check_answer(answer, shot, lips=lips)
    result = dict(answer)
    if not lips:
        result.pop("lipsync", None)  # not asked: not a verdict
    return result


def _refuse_if_blocked(response: types.GenerateContentResponse) -> None:
    feedback = response.prompt_feedback
    blocked = _name(feedback.block_reason) if feedback else ""
    if feedback is None or not blocked or blocked == "BLOCKED_REASON_UNSPECIFIED":
        return
    said = f": {feedback.block_reason_message}" if feedback.block_reason_message else ""
    raise EngineRefusal(
        JUDGE,
        f"Gemini blocked the judge's request ({blocked}{said}); look at the shot and its "
        "reference images, or judge this production without qc.judge",
    )


def _answer_text(response: types.GenerateContentResponse) -> tuple[str, str]:
    """The first candidate's text (thoughts left out) and its finish reason."""
    if not response.candidates:
        raise EngineError(JUDGE, "Gemini gave no answer (no candidate); render again to ask again")
    candidate = response.candidates[0]
    finish = _name(candidate.finish_reason)
    if finish in REFUSED:
        said = f": {candidate.finish_message}" if candidate.finish_message else ""
        raise EngineRefusal(JUDGE, f"Gemini refused to judge the shot ({finish}{said})")
    parts = candidate.content.parts if candidate.content and candidate.content.parts else []
    text = "".join(p.text for p in parts if p.text and not p.thought)
    if not text.strip():
        why = "it was cut off (MAX_TOKENS)" if finish == "MAX_TOKENS" else "it holds no text"
        raise EngineError(JUDGE, f"Gemini's answer is empty: {why}; render again to ask again")
    return text, finish


def _check_answer(answer: Any, shot: ShotPrompt, *, lips: bool = False) -> None:
    if not isinstance(answer, dict):
        raise _mismatch("it is not a JSON object")
    if shot.characters:
        identity = answer.get("identity")
        if not isinstance(identity, dict):
            raise _mismatch("'identity' is missing or not an object")
        for character in shot.characters:
            _check_verdict(identity.get(character.id), f"identity.{character.id}")
    if lips:
        _check_verdict(answer.get("lipsync"), "lipsync")
    _check_verdict(answer.get("continuity"), "continuity")


def _check_verdict(verdict: Any, where: str) -> None:
    if not isinstance(verdict, dict):
        raise _mismatch(f"'{where}' is missing or not an object")
    reason, score, passed = verdict.get("reason"), verdict.get("score"), verdict.get("passed")
    if not isinstance(reason, str) or not reason.strip():
        raise _mismatch(f"'{where}.reason' is missing or empty")
    if isinstance(score, bool) or not isinstance(score, (int, float)) or not 0 <= score <= 1:
        raise _mismatch(f"'{where}.score' is {score!r}, not a number from 0 to 1")
    if not isinstance(passed, bool):
        raise _mismatch(f"'{where}.passed' is {passed!r}, not true or false")


def _mismatch(what: str) -> EngineError:
    return EngineError(
        JUDGE,
        f"Gemini's answer does not match the verdict schema: {what}; render again to ask "
        f"again, or set routing.options.{JUDGE}.model to another model",
    )


def verdicts(shot: ShotPrompt, answer: Mapping[str, Any], price: float) -> list[QCVerdict]:
    """An ``identity:<name>`` verdict per character, ``lipsync:judge`` when it was asked, then
    ``continuity`` carrying the cost."""
    found = [_verdict(f"identity:{c.name}", answer["identity"][c.id], 0.0) for c in shot.characters]
    if "lipsync" in answer:
        # named apart from the core's measured ``lipsync`` check, which it sits beside
        found.append(_verdict("lipsync:judge", answer["lipsync"], 0.0))
    return [*found, _verdict("continuity", answer["continuity"], price)]


def _verdict(check: str, verdict: Mapping[str, Any], price: float) -> QCVerdict:
    reason = " ".join(str(verdict["reason"]).split())
    if len(reason) > MAX_REASON:
        reason = reason[: MAX_REASON - 1].rstrip() + "…"
    return QCVerdict(
        check=check,
        passed=bool(verdict["passed"]),
        score=round(float(verdict["score"]), 3),
        reason=reason,
        cost=price,
    )


# -- cost -----------------------------------------------------------------------------------
def price(model: str, today: date | None = None) -> tuple[float, float]:
    """USD per token (input, output) for ``model`` on ``today``; the default model's price
    for a model not in ``PRICES``."""
    model = model if model in PRICES else JUDGE_MODEL
    until, launch = PROMOTIONS.get(model, (date.min, PRICES[model]))
    per_million = launch if (today or date.today()) < until else PRICES[model]
    return per_million[0] / 1e6, per_million[1] / 1e6


def cost(
    response: types.GenerateContentResponse, model: str, contents: list[types.Content]
) -> float:
    """What the call cost: ``usageMetadata``'s prompt tokens at the input price, answer and
    thinking tokens at the output price; an estimate from the request when it is missing."""
    usage = response.usage_metadata
    given = usage.prompt_token_count if usage else None
    prompt = given if given is not None else _estimate_prompt(contents, model)
    output = 0
    if usage is not None:
        output = (usage.candidates_token_count or 0) + (usage.thoughts_token_count or 0)
    if usage is None or usage.candidates_token_count is None:
        output = max(output, len(response.text or "") // CHARS_PER_TOKEN)
    per_input, per_output = price(model)
    return round(prompt * per_input + output * per_output, 6)


def _estimate_prompt(contents: list[types.Content], model: str = JUDGE_MODEL) -> int:
    parts = [p for c in contents for p in c.parts or []]
    images = sum(1 for p in parts if p.inline_data is not None and p.video_metadata is None)
    chars = len(SYSTEM) + sum(len(p.text or "") for p in parts)
    videos = sum(_video_tokens(p, model) for p in parts if p.video_metadata is not None)
    return images * TOKENS_PER_IMAGE + videos + chars // CHARS_PER_TOKEN


def video_frame_tokens(model: str) -> int:
    """Tokens a sampled video frame counts for ``model`` at the default media resolution."""
    return next(
        (n for prefix, n in VIDEO_FRAME_TOKENS.items() if model.startswith(prefix)),
        DEFAULT_VIDEO_FRAME_TOKENS,
    )


def _video_tokens(part: types.Part, model: str) -> int:
    """A video part's tokens: its frames at the asked rate, its sound and its timestamps."""
    blob, meta = part.inline_data, part.video_metadata
    if blob is None or blob.data is None or meta is None:
        return 0
    try:
        with av.open(io.BytesIO(blob.data)) as container:
            seconds = float(container.duration or 0) / av.time_base
    except av.FFmpegError:
        return 0
    frames = math.ceil(seconds * (meta.fps or 1.0))
    per_second = AUDIO_TOKENS_PER_SECOND + TIMESTAMP_TOKENS_PER_SECOND
    return frames * video_frame_tokens(model) + math.ceil(seconds * per_second)


# -- small things ---------------------------------------------------------------------------
def _spec() -> EngineSpec:
    return next(spec for spec in specs() if spec.id == JUDGE)


def _timeout(env: Mapping[str, str]) -> float:
    try:
        value = float(env.get("GEMINI_JUDGE_TIMEOUT") or DEFAULT_TIMEOUT)
    except ValueError:
        return DEFAULT_TIMEOUT
    return value if value > 0 else DEFAULT_TIMEOUT


def _name(value: Any) -> str:
    """An SDK enum's name (``FinishReason.SAFETY`` -> ``SAFETY``); "" for None."""
    if value is None:
        return ""
    return str(getattr(value, "value", value)).upper()


def _why(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__

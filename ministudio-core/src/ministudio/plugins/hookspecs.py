"""The hooks a MiniStudio plugin may implement.

A plugin is a module (or object) registered under the entry point group ``ministudio``; the
entry point's name is the plugin id. Implement any of these with ``@ministudio.hookimpl``,
taking only the arguments you need, by these names. The README's "Writing a plugin" documents
each hook's arguments and what the core does with its answer (a test keeps the two in step).

Engine hooks (``generate_video``, ``synthesize_speech``, ``lip_sync``, ``write_production``,
``generate_image``, the remote-engine hooks,
``check_video``, ``cancel_video``, ``previz_passes``, ``upload_asset``, ``estimate_cost``,
``speech_voices``) are called only on the plugin that declared the engine id in
``ministudio_engines``: routing picks by id, never by order. Any engine hook may be
``async def``: the core awaits it; a sync one runs in a worker thread.
``prompt_map`` and ``qc_check`` are called on every plugin.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pluggy

from ministudio.engines import EngineContext, EngineSpec, Judging

if TYPE_CHECKING:
    from ministudio.jobs import (
        Draft,
        HostedAsset,
        ImageRequest,
        ImageResult,
        JobStatus,
        LipSyncRequest,
        ShotPrompt,
        SpeechRequest,
        SpeechResult,
        Submission,
        VideoRequest,
        VideoResult,
        WritingRequest,
    )

hookspec = pluggy.HookspecMarker("ministudio")


@hookspec
def ministudio_engines() -> list[EngineSpec]:
    """Declare the engines this plugin provides: ids, kinds, capabilities, key variables.

    Called when the plugin is registered (every command that loads plugins, ``ministudio
    plugins`` included): import no SDK and reach no network here. An answer that is not a
    list of ``EngineSpec`` marks the plugin as failed; an engine id another plugin declares
    too is refused wherever a production routes to it.
    """
    raise NotImplementedError


@hookspec(firstresult=True)
def generate_video(
    engine: str, request: VideoRequest, output: Path, context: EngineContext
) -> VideoResult | Awaitable[VideoResult]:
    """Render ``request`` with ``engine``: write the clip to ``output``, return its result.

    The clip is any file FFmpeg reads with a video stream (an H.264 MP4 at the request's
    size, rate and length is best); the core checks it is whole, then fits it to the film
    (cover-scaled, retimed, trimmed or held to the shot's frames, its sound dropped unless
    the shot is ``audio: native``). Not called when the store has the clip for this request.
    An exception fails this take: the shot goes to its fallbacks (``routing.fallbacks``).
    """
    raise NotImplementedError


# -- remote engines -------------------------------------------------------------------------
# An engine that renders remotely and bills per job implements these four (and optionally
# parse_webhook) instead of generate_video. The core then owns waiting, retries and the
# journal: every submission is marked in flight just before its request leaves and recorded
# with its job id before anything waits on it, so a crash never causes a second payment.


@hookspec(firstresult=True)
def submit_video(
    engine: str, request: VideoRequest, idempotency_key: str, context: EngineContext
) -> Submission | Awaitable[Submission]:
    """Send one job; return its id. Pass ``idempotency_key`` to the engine where it takes one
    (an external id) so ``find_video_job`` can find the job if this answer is lost.

    Call ``context.sending()`` right before the request that creates the job leaves, after
    any preparation (uploads; a paid identity image, made through ``context.paid``), and
    declare the engine with ``marks_sending=True``: the journal then marks the job in flight
    only at that moment, so a crash during preparation resubmits freely instead of stopping
    the shot as "answer lost". An engine declared without it is marked before this hook is
    called (never paid twice, but a crash anywhere in the hook counts as a lost answer).

    Raise ``TransientError`` (429, 5xx, connection refused before sending), ``EngineRefusal``
    (invalid input, safety) or ``AmbiguousSubmission`` (the request may have arrived).
    """
    raise NotImplementedError


@hookspec(firstresult=True)
def submit_lip_sync(
    engine: str, request: LipSyncRequest, idempotency_key: str, context: EngineContext
) -> Submission | Awaitable[Submission]:
    """Send one lip-sync job (a remote engine of kind ``lipsync``); return its id. Upload
    ``request.video`` and ``request.voice`` with ``await context.upload(path)``.

    Everything ``submit_video`` says holds: ``idempotency_key``, ``context.sending()``, the
    errors to raise. The job is then followed by the same hooks as a video job:
    ``poll_video``, ``download_video`` and ``find_video_job``, whose ``request`` is then this
    ``LipSyncRequest``.
    """
    raise NotImplementedError


@hookspec(firstresult=True)
def poll_video(
    engine: str, job_id: str, context: EngineContext
) -> JobStatus | Awaitable[JobStatus]:
    """One status request for ``job_id``. Raise ``TransientError`` for passing failures.

    The core asks again until the state is terminal, waiting about 0.7 of the engine's
    expected latency before the first request (longer if ``retry_after`` says so).
    """
    raise NotImplementedError


@hookspec(firstresult=True)
def download_video(
    engine: str,
    job_id: str,
    status: JobStatus,
    output: Path,
    context: EngineContext,
    request: VideoRequest | LipSyncRequest,
) -> VideoResult | Awaitable[VideoResult]:
    """Stream the finished clip to ``output``; raise ``TransientError`` on a cut-off download.

    ``status`` is the job's terminal status (from a poll or a webhook), with its ``video_url``
    where the engine gave one, so no further status request is needed. ``request`` is what
    was submitted (for the price of what was made); take only the arguments you need.
    """
    raise NotImplementedError


@hookspec(firstresult=True)
def find_video_job(
    engine: str,
    idempotency_key: str,
    context: EngineContext,
    request: VideoRequest | LipSyncRequest,
    since: float,
) -> str | Awaitable[str | None] | None:
    """The id of the job a submit whose answer was lost created, or None if the engine
    surely has none (the core then sends it again).

    Engines that take an external id look up ``idempotency_key``. Engines that only list
    their jobs match ``request`` (what was submitted) against the jobs created from ``since``
    on (epoch seconds: when the lost request was about to leave; allow for clock skew), and
    raise ``AmbiguousSubmission`` when several match or the search could not cover the
    window. Take only the arguments you need. Leave unimplemented when the engine offers no
    lookup: the core then stops the shot. A plugin declaring several engines, only some with
    a lookup, raises ``AmbiguousSubmission`` for the others (None would mean "no job", and
    the core would send it again).
    """
    raise NotImplementedError


@hookspec(firstresult=True)
def check_video(engine: str, request: VideoRequest, context: EngineContext) -> None:
    """Refuse ``request`` before anything is paid: raise ``CapabilityError`` (or
    ``EngineError``) saying what the engine would refuse and what to change (an input its
    schema lacks, a value outside its range). Return None when it would take it.

    ``render`` (before its first paid job) and ``plan`` ask this for every shot not in the
    store; a refusal stops the render with nothing spent. The request's frames may not exist
    yet (a ``continue`` shot's first frame is made by the shot before): check that the
    engine takes a frame, not the file. The hook runs in a worker thread, so it may fetch
    (and cache) what it checks against, within a timeout of its own.
    """
    raise NotImplementedError


@hookspec(firstresult=True)
def cancel_video(engine: str, job_id: str, context: EngineContext) -> bool | Awaitable[bool]:
    """Cancel job ``job_id`` (``ministudio cancel DIR``): True if the engine took the
    cancellation (a queued job is then not billed), False if it was too late (the job
    already ran: it stays paid for, and a later render fetches its clip). Raise
    ``EngineError`` if the engine refused. Leave unimplemented when the engine cannot cancel.
    """
    raise NotImplementedError


@hookspec(firstresult=True)
def previz_passes(
    engine: str, request: VideoRequest, names: list[str], output_dir: Path, context: EngineContext
) -> dict[str, Path] | Awaitable[dict[str, Path]]:
    """Write the control passes ``names`` of the clip ``engine`` made for ``request`` into
    ``output_dir``; return each written file by pass name (``PrevizSource`` says what each
    is; ``mask`` becomes one ``mask.<character id>`` per character in frame).

    Implemented by a previz engine (``routing.previz``, the embedded ``animatic``), which
    knows its own scene: every pass is frame-exact and aligned with the clip. The core calls
    it after the shot's previz is made, for ``clip`` and ``mask`` (the "follows the previz"
    check) and whatever the shot's final engine declares (``Capabilities.video_edit``), and
    keeps the files in the store beside the clip. Not called for passes in the store.
    """
    raise NotImplementedError


@hookspec(firstresult=True)
def upload_asset(
    engine: str, path: Path, context: EngineContext
) -> str | HostedAsset | Awaitable[str | HostedAsset]:
    """Make a local file (a reference image, a first frame) reachable by ``engine``: upload it
    and return the URL or id the engine's requests use. Engines do not call this hook
    themselves: they ``await context.upload(path)``, which calls it once per file content
    and engine, and reuses the answer across shots, productions and runs.

    A reference that stops working (a signed URL) is returned as a ``HostedAsset`` with its
    ``expires_at``: the core reuses it only while at least an hour, or a tenth of its
    lifetime if that is longer, is left, and otherwise calls this hook again (which should
    then sign anew rather than upload again). ``ministudio.remote.hosting`` does both for URLs.
    """
    raise NotImplementedError


@hookspec(firstresult=True)
def parse_webhook(
    engine: str, body: bytes, headers: dict[str, str], env: Mapping[str, str]
) -> JobStatus | None:
    """Turn a webhook the engine sent into a status; None if it is not this engine's.

    Verify the push first: raise ``WebhookRejected`` for one that is unsigned or badly
    signed (the receiver answers 401 and logs it; nothing is woken). ``env`` is the render's
    environment (signing secrets, key endpoints). The hook runs in a worker thread, so it
    may fetch (and cache) a key set, within a timeout of its own.

    A terminal status (succeeded, failed) is taken as the job's outcome; another (queued,
    running) as progress. A thin event that only says "this job changed" should come back
    with ``thin=True``: the core then asks the engine for the job once, at once, instead of
    trusting the push.
    """
    raise NotImplementedError


@hookspec(firstresult=True)
def synthesize_speech(
    engine: str, request: SpeechRequest, output: Path, context: EngineContext
) -> SpeechResult | Awaitable[SpeechResult]:
    """Speak ``request`` with ``engine`` and write a mono 16-bit PCM WAV to ``output``.

    Any sample rate (the film's sound is 48 kHz; lines are resampled). The WAV's length is
    the line's: the core times the shot from it, so trim leading and trailing silence.
    ``TransientError`` is retried; any other error stops the render before any video is
    made, with every failed line listed. Not called when the store has the line.
    """
    raise NotImplementedError


@hookspec(firstresult=True)
def lip_sync(
    engine: str, request: LipSyncRequest, output: Path, context: EngineContext
) -> VideoResult | Awaitable[VideoResult]:
    """Move the mouths of ``request.video`` to ``request.voice`` with ``engine`` (kind
    ``lipsync``, run locally): write the clip to ``output``, return its result.

    Called after a shot's take is made and fitted, for every shot where a character speaks
    on screen and the take's engine did not animate to the voice itself (``routing.lipsync``).
    The clip is fitted again to the shot's frames, then checked; the picture should be the
    take's, only the mouths changed. Not called when the store has this pass. A remote
    lip-sync engine implements ``submit_lip_sync`` and the remote-engine hooks instead.
    """
    raise NotImplementedError


@hookspec(firstresult=True)
def write_production(
    engine: str, request: WritingRequest, schema: dict[str, Any], context: EngineContext
) -> Draft | Awaitable[Draft]:
    """Write a production from ``request.brief`` with ``engine`` (kind ``writer``): answer
    with one JSON document that ``schema`` (the production's JSON Schema,
    ``Production.model_json_schema()``) accepts, and what the call cost.

    ``ministudio storyboard`` calls it, validates the answer as a production and, while it is
    refused, calls it again with ``request.round`` counted up, the refused ``draft`` and its
    ``errors``, at most ``--repairs`` times. Constrain the answer to ``schema`` where the
    engine can (structured output). ``TransientError`` is retried; ``EngineRefusal`` and
    other errors stop the command, with nothing written.
    """
    raise NotImplementedError


@hookspec(firstresult=True)
def generate_image(
    engine: str, request: ImageRequest, output: Path, context: EngineContext
) -> ImageResult | Awaitable[ImageResult]:
    """Draw ``request`` (one view of a character's sheet, or a place) with ``engine`` (kind
    ``image``): write a PNG or JPEG to ``output``, return its result.

    ``ministudio cast`` calls it for characters and environments with no reference images;
    the core checks the picture (``ministudio.safety.images``), keeps it in the store under a
    key of the request (the same request is never paid twice), and copies it next to the
    production. ``request.reference_images`` are pictures to match (a sheet's front view).
    """
    raise NotImplementedError


@hookspec(firstresult=True)
def estimate_cost(
    engine: str, request: VideoRequest | LipSyncRequest | WritingRequest | ImageRequest
) -> float | None:
    """What ``request`` would cost in USD (model, resolution and length considered), for
    ``plan`` and budgets; None to fall back on ``price_per_second`` x duration. A lip-sync
    engine is asked with a ``LipSyncRequest``, a writer with a ``WritingRequest`` (at most:
    its whole ``max_output_tokens``), an image engine with an ``ImageRequest``."""
    raise NotImplementedError


@hookspec(firstresult=True)
def speech_voices(engine: str) -> list[str] | None:
    """The voice names a speech engine has (``Voice.voice`` values), for ``ministudio
    voices``; None if unknown."""
    raise NotImplementedError


@hookspec(firstresult=True)
def prompt_map(engine: str, shot: ShotPrompt) -> str | dict[str, Any] | None:
    """Turn the structured shot prompt into ``engine``'s own prompt; None to pass.

    The first non-None answer wins; a ``hookwrapper``/``wrapper`` may rewrite another's answer.
    The answer becomes ``VideoRequest.prompt`` and part of the job key, so it must be
    deterministic. With no answer, the prompt is ``ministudio.prompts.describe_shot(shot)``.
    """
    raise NotImplementedError


@hookspec
def qc_check(
    shot: ShotPrompt, clip: Path, expected_duration: float, fps: int, judge: Judging | None
) -> Any:
    """Inspect a rendered clip; return a ``QCVerdict``, a list of them, or None.

    ``clip`` is the take fitted to the film (its size and rate, exactly the shot's frames, no
    sound); ``expected_duration`` is the shot's length in seconds and ``fps`` the film's.
    Every implementation runs (with ``judge`` None); the verdicts are collected into the
    manifest, and a failing one sends the shot down the production's retake ladder
    (``qc.ladder``). When the production names a vision judge (``qc.judge``), the plugin
    that provides that engine (kind ``judge``) is called once more, alone, with ``judge``
    set: it answers with its verdicts, priced in ``QCVerdict.cost``. The core keeps them
    with the clip, so a clip is judged (and paid for) once. Take only the arguments you need.
    """
    raise NotImplementedError

"""Issue 18's "Done when", end to end on a showcase film: an audio-driven engine gets each
shot's on-screen voice, never a narrator's or an off-screen speaker's; a video engine that
takes no voice is lip-synced through sync. (the loopback fake, its inputs hosted on a
loopback S3), once per speaking shot, and from the store the next time; and a render killed
at any checkpoint of a lip-sync pass, then resumed, never pays for a pass twice.

The film is ``examples/quantum-mechanics.yaml`` (narration and on-screen dialogue) cut to
its first four shots, at 480p and 6 s a shot to keep each render quick. No showcase has a
speaker off screen, so two lines are added: Grandfather answers from off screen in
``question`` (only Lily is in frame), and a narrator speaks after Lily in ``impossible``.
So: ``question`` (Lily on screen, Grandfather off), ``tiny`` (Grandfather, close-up),
``two-places`` (narration only) and ``impossible`` (Lily, then the narrator). The killed
renders run at 12 fps (each is a child process, two or three a case).

``test_a_pass_from_the_store_keeps_its_sync_job`` is an expected failure (strict): a pass
taken from the store loses its sync. job id in the manifest (see its reason).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from ministudio.media.audio import read_wav
from ministudio.plan.graph import speech_key
from ministudio.plan.shots import plan_shots
from ministudio.plugins import PluginHost
from ministudio.remote.journal import Journal
from ministudio.run.manifest import Manifest, ShotRecord
from ministudio.run.render import render
from ministudio.run.store import ContentStore, job_key
from ministudio.spec import Production
from ministudio.spec.loading import load_production

from .conftest import EXAMPLES
from .fakes.sync_server import API_KEY, SyncServer
from .s3 import fake_aws, s3_client, s3_endpoint
from .test_voicing import Recording

SPEAKING = ("question", "tiny", "impossible")  # a character in frame speaks
NARRATED = ("two-places",)  # only the narrator
SECONDS = 6  # each shot's length
LATENCY = 0.4  # each sync. generation's seconds: long enough for a poll before it is done
SILENT = 1e-4  # RMS of a span with nobody on screen speaking
SPOKEN = 0.02  # RMS of a span where a character in frame speaks
SAME = 0.95  # correlation of a voice span with its own line's WAV
OTHER = 0.5  # ... with any other line's


# -- the film ---------------------------------------------------------------------------------
def showcase_data(fps: int = 24, **routing: Any) -> dict[str, Any]:
    """The showcase cut (see the module's docstring) as JSON data, routed by ``routing``."""
    data = load_production(EXAMPLES / "quantum-mechanics.yaml").model_dump(mode="json")
    data["format"].update(resolution="480p", fps=fps)
    scene = data["scenes"][0]
    scene["shots"] = scene["shots"][:4]
    for shot in scene["shots"]:
        shot["duration"] = SECONDS
    question, _tiny, two_places, impossible = scene["shots"]
    assert two_places["narration"] and not two_places["dialogue"]
    question["characters"] = ["lily"]  # Grandfather answers from off screen
    question["dialogue"].append(
        {"speaker": "grandpa", "text": "Ah, the big question.", "emotion": "warm"}
    )
    impossible["narration"] = "She had never heard anything so strange."
    data["routing"] = {**data["routing"], **routing}
    return data


def showcase(**routing: Any) -> Production:
    return Production.model_validate(showcase_data(**routing), context={"base_dir": EXAMPLES})


# -- the voice --------------------------------------------------------------------------------
Span = tuple[float, float]


def rms(samples: np.ndarray, rate: int, span: Span) -> float:
    part = samples[round(span[0] * rate) : round(span[1] * rate)]
    return float(np.sqrt(np.mean(np.square(part)))) if part.size else 0.0


def correlation(samples: np.ndarray, rate: int, start: float, line: np.ndarray) -> float:
    """The voice from ``start`` against a line's samples (zero lag, normalised)."""
    part = samples[round(start * rate) :][: line.size]
    a, b = part.astype(np.float64), line[: part.size].astype(np.float64)
    scale = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(a @ b) / scale if scale else 0.0


def line_wavs(film: Production, host: PluginHost, store: ContentStore) -> dict[str, list[Path]]:
    """Each shot's lines' own WAVs, in the store under the keys the planner gives them."""
    found = {}
    for ps in plan_shots(film, host):
        paths = [
            store.get(speech_key(host, line.engine, line.request), ".wav") for line in ps.lines
        ]
        assert all(paths), f"{ps.id}: a line is not in the store"
        found[ps.id] = [p for p in paths if p is not None]
    return found


def assert_is_the_voice_of(
    voice: Path,
    shot: str,
    lines: Sequence[tuple[str, Span]],
    cast: set[str],
    wavs: dict[str, list[Path]],
) -> None:
    """``voice`` is ``shot``'s on-screen voice: ``SECONDS`` long; each on-screen line's
    speech inside its span (``lines``: (speaker, shot-relative span), in the shot's order),
    and the samples there are that line's own WAV and no other line's of the film; silence
    in the narrator's and off-screen speakers' spans, and wherever no line in frame is said."""
    samples, rate = read_wav(voice)
    assert samples.size / rate == pytest.approx(SECONDS, abs=1e-3), shot  # the shot's timeline
    assert len(lines) == len(wavs[shot]), shot
    others = {(s, i): read_wav(p) for s, paths in wavs.items() for i, p in enumerate(paths)}
    heard: list[Span] = []
    for i, (speaker, span) in enumerate(lines):
        where = f"{shot} line {i + 1} ({speaker}, {span[0]:.2f}-{span[1]:.2f} s)"
        if speaker not in cast:
            assert rms(samples, rate, span) < SILENT, f"{where}: off screen, yet heard"
            continue
        heard.append(span)
        assert rms(samples, rate, span) > SPOKEN, f"{where}: not heard"
        own, own_rate = others[(shot, i)]
        assert own_rate == rate, where
        assert own.size / rate <= span[1] - span[0] + 0.05, where  # the line fits its span
        assert correlation(samples, rate, span[0], own) > SAME, f"{where}: not its own line"
        for (other_shot, j), (line, _) in others.items():
            if (other_shot, j) != (shot, i):
                score = correlation(samples, rate, span[0], line)
                assert score < OTHER, f"{where}: sounds like {other_shot} line {j + 1} ({score})"
    assert heard, f"{shot}: nobody in frame speaks"
    edges = [0.0, *(t for span in sorted(heard) for t in span), SECONDS]
    for gap in zip(edges[::2], edges[1::2], strict=True):  # between the on-screen lines
        assert rms(samples, rate, gap) < SILENT, f"{shot}: sound at {gap}"


def manifest_lines(shot: ShotRecord) -> list[tuple[str, Span]]:
    """The shot's lines, shot-relative, from its record."""
    return [(line.speaker, (line.start - shot.start, line.end - shot.start)) for line in shot.lines]


# -- pictures ---------------------------------------------------------------------------------
def frame_at(path: Path, at: float) -> np.ndarray:
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            if frame.time is not None and frame.time >= at:
                return frame.to_ndarray(format="rgb24").astype(float)
    raise AssertionError(f"{path}: no frame at {at} s")


def assert_shows(film: Path, shot: ShotRecord, clip: Path) -> None:
    """The film, in the middle of ``shot``, shows ``clip`` (one of the fake's: one colour
    under a lighter band across the top eighth)."""
    wanted, seen = frame_at(clip, 0.0), frame_at(film, shot.start + shot.duration / 2)
    for top, bottom in ((0.0, 0.1), (0.2, 1.0)):  # the band, and the rest
        part = seen[round(top * seen.shape[0]) : round(bottom * seen.shape[0])].reshape(-1, 3)
        colour = wanted[round(top * wanted.shape[0]) : round(bottom * wanted.shape[0])]
        colour = colour.reshape(-1, 3).mean(axis=0)
        assert part.std(axis=0).max() < 6, f"{shot.id}: not the fake's clip in the film"
        assert np.abs(part.mean(axis=0) - colour).max() < 6, (shot.id, part.mean(axis=0), colour)


def fitted_take(manifest: Manifest, shot: ShotRecord) -> str:
    """The store key of the shot's take fitted to the film (as run/requests keys it)."""
    assert shot.job_key is not None
    fit = {
        "clip": shot.job_key,
        "size": [manifest.width, manifest.height],
        "fps": manifest.fps,
        "frames": shot.frames,
    }
    return job_key("fit", fit)


# -- 1. an audio-driven engine ----------------------------------------------------------------
def test_an_audio_driven_engine_gets_each_shots_on_screen_voice(
    store: ContentStore, tmp_path: Path
) -> None:
    host, engines = PluginHost(), Recording()
    host.register(engines, "recording")
    film = showcase(video="lips")
    manifest = render(film, tmp_path / "out", host=host, store=store)
    asked: dict[str, list[Any]] = {}
    for request in engines.requests["lips"]:
        asked.setdefault(request.shot.shot_id, []).append(request)
    assert sorted(asked) == sorted((*SPEAKING, *NARRATED))
    assert all(r.voice is None for shot in NARRATED for r in asked[shot])
    wavs = line_wavs(film, host, store)
    briefs = {}
    for shot in SPEAKING:
        for request in asked[shot]:
            assert request.voice is not None, f"{shot}: no voice"
            brief = request.shot
            lines = [(line.speaker, (line.start, line.end)) for line in brief.lines]
            cast = {c.id for c in brief.characters}
            assert_is_the_voice_of(request.voice, shot, lines, cast, wavs)
            briefs[shot] = (lines, cast)
    # the showcase's cut has what the checks are about
    assert [s for s, _ in briefs["question"][0]] == ["lily", "grandpa"]
    assert briefs["question"][1] == {"lily"}  # Grandfather speaks off screen
    assert [s for s, _ in briefs["impossible"][0]] == ["lily", "narrator"]
    assert [s.state for s in manifest.shots] == ["done"] * 4
    assert all(s.lipsync is None for s in manifest.shots)  # no pass routed


# -- 2. a video engine that takes no voice, lip-synced by sync. --------------------------------
@pytest.fixture
def sync_fake(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[SyncServer]:
    monkeypatch.setenv("SYNC_EXPECTED_LATENCY", "0.2")  # read as the plugin loads
    with SyncServer(latency=LATENCY) as server:
        yield server


def sync_env(server: SyncServer, endpoint: str) -> dict[str, str]:
    """The keys and the asset host (a new bucket on the loopback S3) for a render."""
    bucket = f"sync-{uuid.uuid4().hex[:12]}"
    s3_client(endpoint).create_bucket(Bucket=bucket)
    return {
        "SYNC_API_KEY": API_KEY,
        "SYNC_BASE_URL": server.base_url,
        "SYNC_ASSET_STORE": f"s3://{bucket}/lipsync",
        "SYNC_ASSET_STORE_OPTIONS": json.dumps({"endpoint_url": endpoint}),
        "SYNC_TIMEOUT": "10",
    }


def fetched(server: SyncServer, generation: str, kind: str) -> Path:
    """The input the fake fetched (from the signed S3 URL) for ``generation``."""
    path = server.files_dir.parent / f"{generation}-in.{'mp4' if kind == 'video' else 'audio'}"
    assert path.is_file(), f"the fake fetched no {kind} for {generation}"
    return path


def test_sync_lip_syncs_each_speaking_shot_once_and_the_store_keeps_it(
    sync_fake: SyncServer, s3_endpoint: str, store: ContentStore, tmp_path: Path
) -> None:
    server = sync_fake
    env = sync_env(server, s3_endpoint)
    host, engines = PluginHost(), Recording()
    host.register(engines, "recording")
    film = showcase(video="deaf", lipsync="sync")
    manifest = render(film, tmp_path / "out", host=host, store=store, env=env)
    assert all(r.voice is None for r in engines.requests["deaf"])
    assert server.submissions == len(SPEAKING) and server.replays == 0
    by_key = {g.key: g for g in server.generations.values()}
    wavs = line_wavs(film, host, store)
    shots = {s.id: s for s in manifest.shots}
    passes = [record.job_key for s in SPEAKING if (record := shots[s].lipsync) and record.job_key]
    assert sorted(by_key) == sorted(key[:32] for key in passes)  # one each, no other
    for shot in NARRATED:
        assert shots[shot].lipsync is None and shots[shot].cost == 0
    for shot_id in SPEAKING:
        shot = shots[shot_id]
        record = shot.lipsync
        assert record is not None and record.engine == "sync", shot_id
        assert (record.state, record.passes) == ("done", 1), record
        assert record.job_key is not None
        made = by_key[record.job_key[:32]]  # the job key is the Idempotency-Key
        assert made.status == "COMPLETED"
        assert record.engine_job_id == made.id and record.model == "lipsync-2"
        assert record.cost == pytest.approx(made.cost_usd) and made.cost_usd > 0
        assert shot.cost == pytest.approx(made.cost_usd)  # the deaf take is free
        # what sync. fetched: the shot's voice, and its take fitted to the film
        cast = set(shot.cast)
        lines = manifest_lines(shot)
        assert_is_the_voice_of(fetched(server, made.id, "audio"), shot_id, lines, cast, wavs)
        take = store.get(fitted_take(manifest, shot), ".mp4")
        assert take is not None, f"{shot_id}: its fitted take is not in the store"
        assert fetched(server, made.id, "video").read_bytes() == take.read_bytes()
        assert made.path is not None
        assert_shows(tmp_path / "out" / "film.mp4", shot, made.path)
    assert server.billed_usd == pytest.approx(sum(s.cost for s in manifest.shots))

    sent = len(server.idempotency_headers)
    again = render(film, tmp_path / "again", host=host, store=store, env=env)
    assert len(server.idempotency_headers) == sent  # not even a create asked
    assert server.submissions == len(SPEAKING)
    for shot in again.shots:
        if shot.id in SPEAKING:
            assert shot.lipsync is not None and shot.lipsync.state == "cached", shot.lipsync
            assert shot.lipsync.cost == 0
        assert shot.cost == 0
    assert again.cost == 0


def test_a_pass_from_the_store_keeps_its_sync_job(
    sync_fake: SyncServer, s3_endpoint: str, store: ContentStore, tmp_path: Path
) -> None:
    """One shot of the showcase (``tiny``): the second render takes its pass from the store,
    and its record still names the generation that made it, as a cached take does."""
    data = showcase_data(video="deaf", lipsync="sync")
    data["scenes"][0]["shots"] = [s for s in data["scenes"][0]["shots"] if s["id"] == "tiny"]
    film = Production.model_validate(data, context={"base_dir": EXAMPLES})
    env = sync_env(sync_fake, s3_endpoint)
    host = PluginHost()
    host.register(Recording(), "recording")
    (first,) = render(film, tmp_path / "out", host=host, store=store, env=env).shots
    (again,) = render(film, tmp_path / "again", host=host, store=store, env=env).shots
    (made,) = sync_fake.generations
    assert first.lipsync is not None and first.lipsync.engine_job_id == made
    assert again.lipsync is not None and again.lipsync.state == "cached"
    assert again.lipsync.job_key == first.lipsync.job_key
    row = Journal(store.root / "journal.sqlite").get(again.lipsync.job_key)
    assert row is not None and row.job_id == made  # the journal knows it
    assert again.lipsync.engine_job_id == made


# -- 3. killed in a lip-sync pass, then resumed -------------------------------------------------
# The checkpoints a pass crosses. The video engine ``solid`` is local: only the passes reach
# the remote checkpoints; "stored" is reached by every new clip as well, so the takes are
# made first (a render whose passes differ: another option, another fake).
KILLED_FPS = 12  # half the frames to draw, check and encode in each child render
# "polling" and "downloading" leave the journal as "id-recorded" does (the job submitted, its
# id kept; the resume polls and downloads it), and test_kill_windows kills the core's own
# remote runner in them on each video engine: left out here to keep the suite quick.
CHECKPOINTS = ("before-submit", "id-recorded", "stored", "lipsync-fitted")


@pytest.fixture(scope="session")
def pycache(child_bytecode: Path) -> Path:
    """One bytecode cache for every child render: the suite's (``conftest.child_bytecode``)."""
    return child_bytecode


def _render(film: Path, tmp_path: Path, out: str, env: dict[str, str], **run: Any) -> Any:
    command = [sys.executable, "-m", "ministudio", "render", str(film), "-o", str(tmp_path / out)]
    command += ["-q", f"--store={tmp_path / 'store'}"]
    return subprocess.Popen(command, env=env, text=True, **run)


def child_env(server: SyncServer, endpoint: str, site: Path, pycache: Path) -> dict[str, str]:
    """A child render's environment: this one's (less MINISTUDIO_, SYNC_ and *_BASE_URL
    settings), the fake's keys and asset host, and the ``solid`` plugin on the path."""
    inherited = {
        k: v
        for k, v in os.environ.items()
        if not (k.startswith(("MINISTUDIO_", "SYNC_")) or k.endswith("_BASE_URL"))
        or k == "MINISTUDIO_KEYS_FILE"
    }
    inherited.pop("PYTHONDONTWRITEBYTECODE", None)
    return {
        **inherited,  # the fake AWS credentials among them
        **sync_env(server, endpoint),
        "SYNC_EXPECTED_LATENCY": "0.2",
        "PYTHONPATH": str(site),
        "PYTHONPYCACHEPREFIX": str(pycache),
    }


def finish(child: subprocess.Popen[str], timeout: float = 180) -> tuple[int, str]:
    try:
        _, stderr = child.communicate(timeout=timeout)
    finally:
        child.kill()
    return child.returncode, stderr


@pytest.mark.parametrize("point", CHECKPOINTS)
def test_a_render_killed_in_a_lipsync_pass_resumes_paying_once(
    point: str,
    s3_endpoint: str,
    plugin_sites: dict[str, Path],
    pycache: Path,
    tmp_path: Path,
) -> None:
    site = plugin_sites["solid"]
    film = tmp_path / "film.json"
    film.write_text(json.dumps(showcase_data(KILLED_FPS, video="solid", lipsync="sync")))
    quiet: dict[str, Any] = {"stdout": subprocess.DEVNULL, "stderr": subprocess.PIPE}
    if point == "stored":  # the takes first, lip-synced otherwise, elsewhere
        warm = tmp_path / "warm.json"
        options = {"sync": {"temperature": 0.5}}
        other = showcase_data(KILLED_FPS, video="solid", lipsync="sync", options=options)
        warm.write_text(json.dumps(other))
        with SyncServer(latency=LATENCY) as elsewhere:
            env = child_env(elsewhere, s3_endpoint, site, pycache)
            code, stderr = finish(_render(warm, tmp_path, "warm", env, **quiet))
            assert code == 0, stderr
            assert elsewhere.submissions == len(SPEAKING)
    with SyncServer(latency=LATENCY) as server:
        env = child_env(server, s3_endpoint, site, pycache)
        killed = {**env, "MINISTUDIO_FAILPOINT": point}
        code, stderr = finish(_render(film, tmp_path, "out", killed, **quiet))
        assert code == -signal.SIGKILL, f"not killed at {point}: {stderr}"
        # killed in a pass, where the point says: every create, download and store of a
        # pass comes after its own checkpoint, so the first pass to reach it was killed there
        downloads = sum(g.downloads for g in server.generations.values())
        where = f"{server.submissions} made, {downloads} downloaded at {point}"
        if point == "before-submit":
            assert server.submissions == 0, where
        elif point in ("stored", "lipsync-fitted"):
            assert downloads >= 1, where
        else:
            assert server.submissions >= 1 and downloads == 0, where

        code, stderr = finish(_render(film, tmp_path, "out", env, **quiet))
        assert code == 0, stderr
        creates = len(server.idempotency_headers)  # every create request, replays included
        made = list(server.generations.values())
        summary = f"{server.submissions} made, {server.replays} replayed, {creates} asked"
        assert server.submissions == len(SPEAKING), summary  # one billed generation a pass
        assert creates == server.submissions + server.replays, summary  # nothing refused
        assert all(g.status == "COMPLETED" for g in made)
        assert server.billed_usd == pytest.approx(sum(g.cost_usd for g in made))
        manifest = Manifest.model_validate_json((tmp_path / "out" / "manifest.json").read_text())
        shots = {s.id: s for s in manifest.shots}
        assert list(shots) == [*SPEAKING[:2], *NARRATED, SPEAKING[2]]
        assert all(s.state in ("done", "cached") and s.error is None for s in manifest.shots)
        keys = {g.key: g for g in made}
        for shot_id in SPEAKING:
            record = shots[shot_id].lipsync
            assert record is not None and record.state in ("done", "cached"), record
            assert record.job_key is not None
            generation = keys.get(record.job_key[:32])  # each pass's own generation
            assert generation is not None and generation.path is not None, shot_id
            if record.state == "done":
                assert record.engine_job_id == generation.id
            assert_shows(tmp_path / "out" / "film.mp4", shots[shot_id], generation.path)
        assert shots[NARRATED[0]].lipsync is None
    assert manifest.film == "film.mp4"
    with av.open(str(tmp_path / "out" / "film.mp4")) as container:
        assert container.duration / 1e6 == pytest.approx(4 * SECONDS, abs=0.1)


__all__ = ["fake_aws", "s3_endpoint"]  # fixtures, used by name

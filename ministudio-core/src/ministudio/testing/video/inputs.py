"""The video kit's tests of what reaches the engine and what it renders: a real film end to
end, deterministic prompts, first and end frames, loops, reference images, the shot's voice,
edit retakes and seeds."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from ministudio import hookimpl
from ministudio.testing._kit import solid_png
from ministudio.testing.video.kit import FPS, VideoKit

if TYPE_CHECKING:
    pass


class InputTests(VideoKit):
    """A film renders, and each input the engine declares reaches it."""

    def test_renders_a_real_film_end_to_end(
        self, tmp_path: Path, engine_env: dict[str, str]
    ) -> None:
        """Two shots render through ``ministudio.run.render.render`` into a playable MP4.

        Check first: the shot errors in the raised ``RenderError`` (or manifest.json); then
        that the clip the engine writes is an H.264 MP4 of the requested length.
        """
        from ministudio.media.probe import probe
        from ministudio.plan.shots import snap_duration

        spec = self.spec()
        manifest = self.render(tmp_path, engine_env)
        film = probe(tmp_path / "out" / "film.mp4")
        assert (film.width, film.height) == (manifest.width, manifest.height)
        assert film.duration == pytest.approx(manifest.duration, abs=1.5 / FPS)
        assert len(manifest.shots) == 2
        for shot in manifest.shots:
            assert shot.engine == self.engine_id
            assert shot.error is None and shot.state == "done"
            assert shot.requested_duration == pytest.approx(
                snap_duration(spec, shot.duration, shot.id)
            )
        assert film.frames == sum(s.frames for s in manifest.shots)

    def test_prompt_mapping_is_deterministic(self) -> None:
        """The same shot maps to the same, non-empty engine prompt every time.

        Check first: ``prompt_map`` must not use randomness, time or dict/set order.
        """
        host = self.host()
        first = host.prompt_map(self.engine_id, self.shot_prompt())
        second = host.prompt_map(self.engine_id, self.shot_prompt())
        assert first, "prompt_map returned an empty prompt"
        if isinstance(first, dict):
            first, second = json.dumps(first, sort_keys=True), json.dumps(second, sort_keys=True)
        assert first == second

    def test_a_continue_shot_starts_from_the_previous_clip(
        self, tmp_path: Path, engine_env: dict[str, str]
    ) -> None:
        """A `continue` shot gets the previous clip's last frame (and job) and renders.

        Check first: the engine reads ``request.first_frame`` (a PNG path; remote engines
        usually ``await context.upload(path)``) and, to extend the previous job itself,
        ``request.previous``. Needs ``Capabilities.first_frame``.
        """
        if not self.spec().capabilities.first_frame:
            pytest.skip("the engine declares no first_frame")
        manifest = self.render(tmp_path, engine_env, shots={1: {"continuity": "continue"}})
        first, second = manifest.shots
        assert second.state == "done" and not second.ignored
        assert "first frame" in second.conditioning
        assert "first frame" not in first.conditioning

    def test_an_end_frame_and_a_loop_reach_the_engine(
        self, tmp_path: Path, engine_env: dict[str, str]
    ) -> None:
        """A shot's ``end_frame`` (and ``loop``, where declared) are sent and the shot renders.
        The end frame goes on a `continue` shot when the engine takes one only with a first
        frame (``last_frame_alone=False``).

        Check first: the engine reads ``request.last_frame`` and ``request.loop``, and does not
        send combinations its API refuses. Needs ``Capabilities.last_frame`` (or ``loop``).
        """
        caps = self.spec().capabilities
        if not (caps.last_frame or caps.loop):
            pytest.skip("the engine declares neither last_frame nor loop")
        fields: dict[int, dict[str, Any]] = {}
        if caps.loop:
            fields[0] = {"loop": True}
        if caps.last_frame:
            end = tmp_path / "end.png"
            solid_png(end, (200, 40, 40))
            fields[1] = {"end_frame": end}
            if not caps.last_frame_alone:
                fields[1]["continuity"] = "continue"
        manifest = self.render(tmp_path, engine_env, shots=fields)
        assert all(s.state == "done" and not s.ignored for s in manifest.shots)
        if caps.loop:
            assert "loop" in manifest.shots[0].conditioning
        if caps.last_frame:
            assert "end frame" in manifest.shots[1].conditioning

    def test_reference_images_reach_the_engine(
        self, tmp_path: Path, engine_env: dict[str, str]
    ) -> None:
        """A character with a reference image renders, with the image handed to the engine.

        Check first: the engine reads ``request.shot.characters[i].reference_images`` (paths)
        and uploads them if its API wants URLs. Needs ``Capabilities.max_references``.
        """
        if self.spec().capabilities.max_references < 1:
            pytest.skip("the engine declares no reference images (max_references = 0)")
        image = tmp_path / "ann.png"
        solid_png(image, (180, 30, 30))
        film = self.production(self.spec()).model_dump()
        film["characters"]["ann"]["reference_images"] = [image]
        from ministudio.spec import Production

        manifest = self.render_production(tmp_path, engine_env, Production.model_validate(film))
        assert all(s.state == "done" for s in manifest.shots)
        assert all("1 reference image" in s.conditioning for s in manifest.shots)

    def test_the_shots_voice_reaches_the_engine_and_never_the_narrators(
        self, tmp_path: Path, engine_env: dict[str, str]
    ) -> None:
        """A shot where a character in frame speaks hands the engine the shot's voice; a shot
        with only narration does not (a narrator moves no mouth on screen).

        Check first: the engine reads ``request.voice`` (a mono WAV on the shot's timeline;
        remote engines usually ``await context.upload(path)``) and ``request.shot.lines``
        (who speaks when). Needs ``Capabilities.reference_audio``.
        """
        from ministudio.engines.espeak import plugin as espeak
        from ministudio.spec import Production

        if not self.spec().capabilities.reference_audio:
            pytest.skip("the engine declares no reference_audio")
        film = self.production(self.spec()).model_dump()
        shots = film["scenes"][0]["shots"]
        shots[0]["dialogue"] = [{"speaker": "ann", "text": "Hello there."}]
        shots[1]["narration"] = "She walks away."
        host = self.host()
        if "espeak" not in host.engines:  # the lines' voices: the embedded speech engine
            host.register(espeak, "espeak")
        manifest = self.render_production(
            tmp_path, engine_env, Production.model_validate(film), host=host
        )
        spoken, narrated = manifest.shots
        assert spoken.state == narrated.state == "done", (spoken.error, narrated.error)
        assert "the shot's voice" in spoken.conditioning, spoken.conditioning
        assert "the shot's voice" not in narrated.conditioning, narrated.conditioning

    def test_an_edit_retake_changes_the_engines_own_take(
        self, tmp_path: Path, engine_env: dict[str, str], engine_faults: object
    ) -> None:
        """A shot failing a check, with ``qc.ladder: [edit]``, is retaken by an edit of its own
        take: one more job, recorded as the ``edit`` take with a job id of its own.

        Check first: the engine reads ``request.edit`` (the job id of its own last take and
        the failed checks' reasons) and asks its API to change that take; the edit's clip is
        downloaded like any other, and ``VideoResult.engine_job_id`` names it. Needs
        ``Capabilities.edit``.
        """
        if not self.spec().capabilities.edit:
            pytest.skip("the engine declares no edit")
        from ministudio.spec import Production

        host = self.host()
        host.register(_FailsFirstTake("s1"), "fails-first-take")
        film = self.production(self.spec()).model_dump()
        film["qc"] = {"retakes": 1, "ladder": ["edit"]}
        before = self._submissions(engine_faults)
        manifest = self.render_production(
            tmp_path, engine_env, Production.model_validate(film), host=host
        )
        first, edit = manifest.shots[0].takes
        assert (first.rung, edit.rung) == ("first", "edit")
        assert edit.engine_job_id and edit.engine_job_id != first.engine_job_id
        assert edit.kept and manifest.shots[0].state == "done"
        after = self._submissions(engine_faults)
        if before is not None and after is not None:
            assert after - before == 3, "two shots and one edit"

    def test_a_promotion_hands_the_engine_its_previz_and_declared_passes(
        self, tmp_path: Path, engine_env: dict[str, str], engine_faults: object
    ) -> None:
        """With ``routing.previz: animatic``, each shot's previz renders first and the engine
        promotes it: its request carries the previz (``request.source``) with exactly the
        passes it declares, at the previz's length, and the final has the previz's frames.

        Check first: the engine reads ``request.source.passes`` (each a file: upload the MP4s
        its API takes) and ``request.duration`` (the previz's, not one of its durations);
        its API makes a clip of the source's length. Needs ``Capabilities.video_edit``.
        """
        from ministudio.engines.animatic import plugin as animatic
        from ministudio.spec import Production

        declared = self.spec().capabilities.video_edit
        if not declared:
            pytest.skip("the engine declares no video_edit")
        host = self.host()
        if "animatic" not in host.engines:
            host.register(animatic, "animatic")
        film = self.production(self.spec()).model_dump()
        film["routing"]["previz"] = "animatic"
        before = self._submissions(engine_faults)
        manifest = self.render_production(
            tmp_path, engine_env, Production.model_validate(film), host=host
        )
        every = ("camera", "clip", "depth", "edge", "mask.ann", "pose", "pose.json")
        names = [n for n in every if n.split(".")[0] in declared]
        for shot in manifest.shots:
            assert shot.state == "done", shot.error
            assert shot.previz is not None, "the shot was not promoted from its previz"
            assert f"its previz ({', '.join(names)})" in shot.conditioning, shot.conditioning
            assert shot.requested_duration == pytest.approx(shot.duration)
        after = self._submissions(engine_faults)
        if before is not None and after is not None:
            assert after - before == len(manifest.shots), "one promotion per shot"

    def test_seeds_are_recorded_and_stable(
        self, tmp_path: Path, engine_env: dict[str, str]
    ) -> None:
        """Each shot's seed is in the manifest and the same in a fresh render (fresh store).

        Check first: nothing in the request may depend on time, randomness or paths of the
        render (the job key hashes it). Needs ``Capabilities.seed``.
        """
        if not self.spec().capabilities.seed:
            pytest.skip("the engine declares no seed")
        first = self.render(tmp_path / "a", engine_env)
        second = self.render(tmp_path / "b", engine_env)
        assert [s.seed for s in first.shots] == [s.seed for s in second.shots]
        assert len({s.seed for s in first.shots}) == len(first.shots), "shots share a seed"
        assert [s.job_key for s in first.shots] == [s.job_key for s in second.shots]


class _FailsFirstTake:
    """A check that fails the first take of one shot (so the retake ladder runs)."""

    def __init__(self, shot_id: str) -> None:
        self.shot_id = shot_id
        self.failed = False

    @hookimpl
    def qc_check(self, shot: Any, clip: Path, judge: Any) -> Any:
        from ministudio.jobs import QCVerdict

        if judge is not None or shot.shot_id != self.shot_id or self.failed:
            return None
        self.failed = True
        return QCVerdict(check="kit", passed=False, score=0.0, reason="the kit fails take one")

"""The video kit's tests of a remote engine under faults: the key never leaks, 429s, 5xx and
cut-off downloads are retried without billing a shot twice, refusals are not resent, and
webhooks replace polling."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from ministudio.testing._kit import FaultInjector
from ministudio.testing.video.kit import VideoKit

if TYPE_CHECKING:
    pass


class FaultTests(VideoKit):
    """A remote engine's key, retries, refusals and webhooks."""

    def test_the_key_never_appears(
        self,
        tmp_path: Path,
        engine_env: dict[str, str],
        engine_faults: FaultInjector | None,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """The key is in no log record, error, manifest.json or journal.

        Check first: error messages built from the request (headers, URLs with the key in
        the query) and anything the engine stores in ``engine_job_id`` or results.
        """
        from ministudio.errors import MinistudioError

        spec = self.spec()
        secrets = [engine_env[n] for n in spec.key_env if engine_env.get(n)]
        if not secrets:
            pytest.skip("the engine needs no key, or engine_env sets none")
        caplog.set_level("DEBUG")
        errors: list[str] = []
        self.render(tmp_path, engine_env)
        if engine_faults is not None:
            attempts = self.render_options().retry.attempts
            for _ in range(2 * attempts + 2):  # more than both shots' retries: they fail
                engine_faults.fail_next("submit", "500")
            with pytest.raises(MinistudioError) as info:
                self.render(tmp_path, engine_env, actions=("Ann sits", "Ann stands"), out="bad")
            errors.append(str(info.value))
            errors.append(repr(info.value))
        texts = {
            "manifest.json": (tmp_path / "out" / "manifest.json").read_bytes(),
            "the log": caplog.text.encode(),
            "the errors": "\n".join(errors).encode(),
        }
        for path in (tmp_path / "store").glob("journal*"):
            texts[path.name] = path.read_bytes()
        bad = tmp_path / "bad" / "manifest.json"
        if bad.exists():
            texts["the failed render's manifest.json"] = bad.read_bytes()
        for where, data in texts.items():
            for secret in secrets:
                assert secret.encode() not in data, f"the key appears in {where}"

    def test_a_429_is_retried_and_each_shot_is_billed_once(
        self, tmp_path: Path, engine_env: dict[str, str], engine_faults: FaultInjector | None
    ) -> None:
        """A 429 on submit is waited out and retried; each shot is paid for once.

        Check first: submit maps 429 to ``TransientError`` (with ``retry_after`` from
        ``Retry-After``), not to ``EngineError`` or ``AmbiguousSubmission``.
        """
        self._billed_once_despite(tmp_path, engine_env, engine_faults, ("submit", "429"))

    def test_a_truncated_download_is_retried(
        self, tmp_path: Path, engine_env: dict[str, str], engine_faults: FaultInjector | None
    ) -> None:
        """A cut-off download is fetched again, without submitting the job again.

        Check first: download compares the bytes received with ``Content-Length`` and raises
        ``TransientError`` (leaving nothing at ``output``) when short.
        """
        self._billed_once_despite(tmp_path, engine_env, engine_faults, ("download", "truncate"))

    def test_a_5xx_is_retried_and_each_shot_is_billed_once(
        self, tmp_path: Path, engine_env: dict[str, str], engine_faults: FaultInjector | None
    ) -> None:
        """A 500 on submit and one on download are retried; each shot is paid for once.

        Check first: 5xx maps to ``TransientError`` on submit (the engine created no job) and
        on download (the job is done: download again, never submit again).
        """
        self._billed_once_despite(
            tmp_path, engine_env, engine_faults, ("submit", "500"), ("download", "500")
        )

    def _billed_once_despite(
        self,
        tmp_path: Path,
        env: dict[str, str],
        faults: FaultInjector | None,
        *injections: tuple[str, str],
    ) -> None:
        """Render with ``(endpoint, kind)`` faults injected: every shot done, each billed once."""
        self._remote(self.host())
        if faults is None:
            pytest.skip("no engine_faults fixture")
        before = self._submissions(faults)
        for endpoint, kind in injections:
            faults.fail_next(endpoint, kind)
        manifest = self.render(tmp_path, env)
        assert all(s.state == "done" for s in manifest.shots)
        after = self._submissions(faults)
        if before is not None and after is not None:
            assert after - before == 2, "each of the 2 shots must be billed exactly once"

    def test_a_refusal_is_not_resent(
        self, tmp_path: Path, engine_env: dict[str, str], engine_faults: FaultInjector | None
    ) -> None:
        """A refused shot fails with the engine's reason and is not submitted again.

        Check first: refusals (400, safety) map to ``EngineRefusal``, or a failed status
        with ``refused=True``, not to ``TransientError``.
        """
        from ministudio.run.render import RenderError

        self._remote(self.host())
        if engine_faults is None:
            pytest.skip("no engine_faults fixture")
        actions = ("Ann waves at the camera", "Ann walks away")
        if self.refused_action is not None:
            actions = (actions[0], self.refused_action)
        else:
            try:
                engine_faults.fail_next("submit", "refuse")
            except (ValueError, KeyError, NotImplementedError):
                pytest.skip("no refused_action and the faults have no 'refuse' kind")
        before = self._submissions(engine_faults)
        with pytest.raises(RenderError) as info:
            self.render(tmp_path, engine_env, actions=actions)
        assert "refused" in str(info.value)
        assert len(info.value.failures) == 1
        after = self._submissions(engine_faults)
        if before is not None and after is not None:
            assert after - before <= 2, "the refused shot was submitted again"

    def test_webhooks_bring_the_result_without_polling(
        self, tmp_path: Path, engine_env: dict[str, str], engine_faults: FaultInjector | None
    ) -> None:
        """With a webhook URL the engine is told where to report, and the core needs (almost)
        no status requests: at most one per job.

        Check first: submit passes ``context.webhook_url`` to the API (its callback field) and
        ``parse_webhook`` turns the API's callback body into a ``JobStatus`` with the job's id.
        Needs ``Capabilities.webhooks``; counting needs a ``status_requests`` counter on the
        faults object.
        """
        host = self.host()
        self._remote(host)
        if not self.spec(host).capabilities.webhooks:
            pytest.skip("the engine declares no webhooks")
        polls = getattr(engine_faults, "status_requests", None)
        options = dataclasses.replace(
            self.render_options(), webhook_url="http://127.0.0.1:{port}/hooks"
        )
        manifest = self.render_production(
            tmp_path, engine_env, self.production(self.spec(host)), options=options
        )
        assert all(s.state == "done" for s in manifest.shots)
        if isinstance(polls, int):
            done = getattr(engine_faults, "status_requests", 0)
            assert done - polls <= len(manifest.shots), f"{done - polls} status requests"

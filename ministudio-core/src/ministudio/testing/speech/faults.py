"""The speech kit's tests of a remote engine under faults: the key never leaks, and a 429, a
5xx or a dropped connection is a ``TransientError`` after which the next request works."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from ministudio.testing._kit import FaultInjector
from ministudio.testing.speech.kit import SpeechKit

if TYPE_CHECKING:
    pass


class FaultTests(SpeechKit):
    """A remote engine's key and its passing failures."""

    def test_the_key_never_appears(
        self,
        tmp_path: Path,
        engine_env: dict[str, str],
        engine_faults: FaultInjector | None,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """The key is in no log record, error, manifest.json or journal.

        Check first: error messages built from the request (headers, URLs with the key in
        the query) and anything the engine puts in its results.
        """
        from ministudio.errors import MinistudioError

        spec = self.spec()
        secrets = [engine_env[n] for n in spec.key_env if engine_env.get(n)]
        if not secrets:
            pytest.skip("the engine needs no key, or engine_env sets none")
        caplog.set_level("DEBUG")
        errors: list[str] = []
        self.render_production(tmp_path, engine_env, self.production())
        if engine_faults is not None:  # errors from failed lines, through the core and not
            # more failures than the core's retries of both lines, and one for speak() below
            for _ in range(2 * self.render_options().retry.attempts + 1):
                engine_faults.fail_next("speech", "500")
            film = self.production(("Ann sits down.", "Ann stands up."))
            try:
                self.render_production(tmp_path, engine_env, film, out="bad")
            except MinistudioError as exc:
                errors += [str(exc), repr(exc)]
            try:
                self.speak(tmp_path, engine_env, self.request("Ann waits."))
            except MinistudioError as exc:
                errors += [str(exc), repr(exc), repr(exc.args)]
            assert errors, "no request failed: check fail_next('speech', '500')"
        texts = {
            "manifest.json": (tmp_path / "out" / "manifest.json").read_bytes(),
            "the log": caplog.text.encode(),
            "the errors": "\n".join(errors).encode(),
        }
        for path in (tmp_path / "store").glob("journal*"):
            texts[path.name] = path.read_bytes()
        for where, data in texts.items():
            for secret in secrets:
                assert secret.encode() not in data, f"the key appears in {where}"

    def test_a_429_is_a_transient_error(
        self, tmp_path: Path, engine_env: dict[str, str], engine_faults: FaultInjector | None
    ) -> None:
        """A 429 raises ``TransientError`` (or is retried by the engine), and the next request
        works.

        Check first: 429 maps to ``TransientError`` with ``retry_after`` from the server's
        hint, not to ``EngineError`` or ``EngineRefusal``.
        """
        self._passes(tmp_path, engine_env, engine_faults, "429")

    def test_a_5xx_is_a_transient_error(
        self, tmp_path: Path, engine_env: dict[str, str], engine_faults: FaultInjector | None
    ) -> None:
        """A 500 raises ``TransientError`` (or is retried by the engine), and the next request
        works.

        Check first: 5xx maps to ``TransientError``, not to ``EngineError``.
        """
        self._passes(tmp_path, engine_env, engine_faults, "500")

    def test_a_dropped_connection_is_a_transient_error(
        self, tmp_path: Path, engine_env: dict[str, str], engine_faults: FaultInjector | None
    ) -> None:
        """A connection closed without an answer raises ``TransientError`` (or is retried by
        the engine), and the next request works.

        Check first: the HTTP client's transport errors (``httpx.TransportError``, for one)
        map to ``TransientError``. Needs the ``"drop"`` fault kind.
        """
        self._passes(tmp_path, engine_env, engine_faults, "drop")

    def _passes(
        self, tmp_path: Path, env: dict[str, str], faults: FaultInjector | None, kind: str
    ) -> None:
        from ministudio.errors import TransientError

        if faults is None:
            pytest.skip("no engine_faults fixture")
        try:
            faults.fail_next("speech", kind)
        except (ValueError, KeyError, NotImplementedError):
            pytest.skip(f"the faults have no {kind!r} kind")
        host = self.host()
        try:
            result = self.speak(tmp_path, env, self.request(), "faulted", host)
        except TransientError:
            result = self.speak(tmp_path, env, self.request(), "again", host)
        assert result.path.is_file() and result.duration > 0

"""``MINISTUDIO_LOOKUP_GRACE``: the seconds a lost request is given to land before it is
looked up (``RetryPolicy.lookup_grace``), bounded to 0..60, 3 when unset or not a number."""

from __future__ import annotations

import pytest
from ministudio.remote.pacing import RetryPolicy


@pytest.mark.parametrize(
    ("value", "grace"),
    [
        (None, 3.0),
        ("", 3.0),
        ("0.5", 0.5),
        (" 0 ", 0.0),
        ("12", 12.0),
        ("-1", 0.0),
        ("600", 60.0),
        ("inf", 60.0),
        ("nan", 3.0),
        ("soon", 3.0),
    ],
)
def test_the_lookup_grace_comes_from_the_environment(
    value: str | None, grace: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    if value is None:
        monkeypatch.delenv("MINISTUDIO_LOOKUP_GRACE", raising=False)
    else:
        monkeypatch.setenv("MINISTUDIO_LOOKUP_GRACE", value)
    assert RetryPolicy().lookup_grace == grace
    assert RetryPolicy(lookup_grace=7.0).lookup_grace == 7.0  # an explicit one wins


def test_a_lost_request_waits_out_the_grace(monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    import anyio

    monkeypatch.setenv("MINISTUDIO_LOOKUP_GRACE", "0.3")
    policy = RetryPolicy()
    began = time.monotonic()
    anyio.run(policy.let_land, time.time())
    assert 0.25 <= time.monotonic() - began < 2.0

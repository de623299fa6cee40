"""The conformance kit's view of a fake: its fault names and its counters."""

from __future__ import annotations

from typing import Any


class KitFaults:
    """The kit's fault names on a fake's: the kit's ``submit`` is the fake's ``create``.

    A fake whose fault kinds or counters differ overrides ``kind`` or the counters.
    """

    def __init__(self, server: Any) -> None:
        self.server = server

    def fail_next(self, endpoint: str, kind: str) -> None:
        if kind == "refuse":
            raise NotImplementedError("use refused_action")
        endpoint = {"submit": "create"}.get(endpoint, endpoint)
        self.server.fail_next(endpoint, self.kind(endpoint, kind))

    def kind(self, endpoint: str, kind: str) -> str:
        """The fake's name for the kit's fault ``kind`` at ``endpoint``."""
        return kind

    @property
    def submissions(self) -> int:
        return int(self.server.submissions)

    @property
    def status_requests(self) -> int:
        return int(self.server.status_requests)

"""Kill points for tests: a render killed at an exact phase, then resumed.

Test-only. ``checkpoint(name)`` does nothing unless the environment variable
``MINISTUDIO_FAILPOINT`` names it: ``MINISTUDIO_FAILPOINT=stored`` kills this process with
SIGKILL (no cleanup, as ``kill -9``) the first time the render reaches ``checkpoint("stored")``;
``stored@2`` the second time. The points are:

- ``before-submit``: a job's paid request is about to leave (nothing is in the journal yet)
- ``id-recorded``: the engine named the job and the journal holds its id
- ``polling``: a status request answered that the job is still running
- ``downloading``: the finished clip is about to be downloaded
- ``stored``: the engine's clip is in the store, not yet fitted to the film
- ``fitted``: the fitted clip is in the store
- ``assembling``: every shot is in; the film file is about to be finished
- ``side:before-submit``, ``side:id-recorded``: the same for a paid side job (an identity
  image, ``EngineContext.paid``)
- ``cast:drawn``: ``ministudio cast`` has a still's picture from its engine, not yet stored
"""

from __future__ import annotations

import os
import signal
import threading
from collections import Counter

VARIABLE = "MINISTUDIO_FAILPOINT"
_hits: Counter[str] = Counter()
_lock = threading.Lock()


def checkpoint(name: str) -> None:
    """SIGKILL this process if ``MINISTUDIO_FAILPOINT`` names this point (and its count)."""
    wanted = os.environ.get(VARIABLE)
    if not wanted:
        return
    point, _, nth = wanted.partition("@")
    if point != name:
        return
    with _lock:
        _hits[name] += 1
        reached = _hits[name] == int(nth or 1)
    if reached:
        os.kill(os.getpid(), getattr(signal, "SIGKILL", signal.SIGTERM))

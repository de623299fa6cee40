"""A request in flight, for kill tests: the fault kinds ``hold_after_accept`` and
``accept_after_client_died``.

A fake given it accepts (and bills) the job as usual, then keeps its answer back until the
client goes away (its process killed) or the fake closes; ``held(fake)`` is set meanwhile, so
a test knows the request is in flight and may kill the client then.
"""

from __future__ import annotations

import select
import socket
import threading
from http.server import BaseHTTPRequestHandler
from typing import Any

HOLD = "hold_after_accept"
LATE = "accept_after_client_died"
"""Hold the create until the client is gone, then accept (and bill) it ``late_accept``
seconds later: a server that commits a job just after its client was killed."""


def held(fake: Any) -> threading.Event:
    """Set once ``fake`` holds a request back."""
    event: threading.Event = fake.__dict__.setdefault("_held", threading.Event())
    return event


def hold(fake: Any, h: BaseHTTPRequestHandler) -> None:
    """Answer nothing until the client hangs up or ``fake`` closes; then close the connection."""
    held(fake).set()
    connection = h.connection
    while not fake._closed:
        readable, _, _ = select.select([connection], [], [], 0.05)
        if readable:
            try:
                if not connection.recv(1, socket.MSG_PEEK):
                    break  # the client is gone
            except OSError:
                break
    h.close_connection = True

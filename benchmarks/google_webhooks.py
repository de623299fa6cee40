"""Webhooked ``gemini-omni`` shots on the loopback Google fake (tests/fakes/google_server.py).

Target (issue 13): a signed push is noticed within 50 ms: from the fake starting to deliver
the event (``deliver``: signing and POST) to the render's first ``GET /interactions/{id}``
of that interaction. And a forged push (a completion event for a job still running, signed
with a key not in Google's key set) is refused and makes nothing faster: no GET before the
job is done.

    python benchmarks/google_webhooks.py [--shots 12] [--latency 1.0] [--mode dynamic|static]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ministudio.plugins import PluginHost  # noqa: E402
from ministudio.remote.pacing import RetryPolicy  # noqa: E402
from ministudio.run.render import RenderOptions, render  # noqa: E402
from ministudio.run.store import ContentStore  # noqa: E402
from ministudio.spec import Production  # noqa: E402

import tests.fakes.google_server as fake  # noqa: E402

KEY = "omni-bench-key"
TARGET = 0.050
_FOREIGN: dict[str, Any] = {}  # the forger's RSA key


def film(shots: int) -> Production:
    return Production.model_validate(
        {
            "title": "Pushed",
            "format": {"aspect_ratio": "16:9", "resolution": "360p", "fps": 24},
            "environments": {"park": {"description": "a park", "lighting": "day"}},
            "scenes": [
                {
                    "id": "one",
                    "environment": "park",
                    "shots": [
                        {"id": f"s{i}", "action": f"Leaves fall, take {i}", "duration": 3}
                        for i in range(shots)
                    ],
                }
            ],
            "routing": {
                "video": "gemini-omni",
                "limits": {"gemini-omni": {"concurrency": 4, "requests_per_minute": 600}},
            },
        }
    )


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def instrument(server: Any) -> tuple[dict[str, float], dict[str, float]]:
    """When each event's delivery starts, and each interaction's first GET (monotonic)."""
    delivered: dict[str, float] = {}
    first_get: dict[str, float] = {}
    original_deliver = fake.deliver

    def deliver(url: str, payload: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        delivered.setdefault(str(payload["data"]["id"]), time.monotonic())
        return original_deliver(url, payload, *args, **kwargs)

    fake.deliver = deliver
    original_get = server.interaction_get

    def interaction_get(h: Any, ident: str) -> None:
        first_get.setdefault(ident, time.monotonic())
        original_get(h, ident)

    server.interaction_get = interaction_get
    return delivered, first_get


def forge(hook: str, server: Any, job: str) -> int:
    """POST a completion event for ``job``, signed by a key Google never published."""
    import jwt
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = _FOREIGN.get("key")
    if key is None:  # one key, made once: making one per push would load the machine
        key = _FOREIGN["key"] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = int(time.time())
    event = {"type": "interaction.completed", "version": "v1", "data": {"id": job}}
    token = jwt.encode(
        {**event, "iat": now, "exp": now + 300}, key, "RS256", headers={"kid": server.signer.kid}
    )
    headers = {
        "content-type": "application/json",
        "webhook-id": f"msg_forged_{job}",
        "webhook-timestamp": str(now),
        "webhook-signature": token,
    }
    request = urllib.request.Request(
        hook, data=json.dumps(event).encode(), method="POST", headers=headers
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=5) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def run(shots: int, latency: float, mode: str, forged: bool) -> None:
    os.environ["OMNI_EXPECTED_LATENCY"] = str(latency)
    port = free_port()
    hook = f"http://127.0.0.1:{port}/hooks/gemini-omni"
    static = mode == "static"
    server = fake.GoogleServer(
        api_key=KEY,
        latency=(latency, 0.15),
        render_scale=0.05,
        static_webhook_uri=hook if static else None,
    )
    answers: list[int] = []
    with server, tempfile.TemporaryDirectory() as tmp:
        server.signer.jwks()  # the fake makes its RSA key on first use: not Google's latency
        delivered, first_get = instrument(server)
        env = {
            "GEMINI_BASE_URL": server.base_url,
            "GEMINI_API_KEY": KEY,
            "GEMINI_WEBHOOK_JWKS_URL": server.jwks_url,
        }
        if static:
            env["GEMINI_WEBHOOK_SECRET"] = server.webhook_secret
        stop = threading.Event()

        def forger() -> None:
            seen: set[str] = set()
            while not stop.is_set():
                for job in list(server.interactions):
                    if job not in seen:
                        seen.add(job)
                        answers.append(forge(hook, server, job))
                time.sleep(0.005)

        thread = threading.Thread(target=forger, daemon=True)
        if forged:
            thread.start()
        started = time.monotonic()
        manifest = render(
            film(shots),
            Path(tmp) / "out",
            host=PluginHost(env={}),
            store=ContentStore(Path(tmp) / "store"),
            env=env,
            options=RenderOptions(
                retry=RetryPolicy(attempts=6, base=0.02, cap=0.2),
                webhook_url="http://127.0.0.1:{port}/hooks",
                webhook_listen=f"127.0.0.1:{port}",
            ),
        )
        wall = time.monotonic() - started
        stop.set()
        jobs = list(server.interactions.values())
    assert all(s.state == "done" for s in manifest.shots), "a shot did not render"
    noticed = [first_get[j.id] - delivered[j.id] for j in jobs]
    early = sum(1 for j in jobs if j.done_at is None or first_get[j.id] < j.done_at)
    polls = [j.polls for j in jobs]
    median = statistics.median(noticed)
    label = f"{mode}{' + forged pushes' if forged else ''}"
    print(
        f"gemini-omni webhooks ({label}): {shots} shots, L={latency:.1f} s, rendered in "
        f"{wall:.2f} s; noticed {median * 1000:.1f} ms after the signed event (median; max "
        f"{max(noticed) * 1000:.1f} ms) = {median / TARGET:.2f} of the 50 ms target; "
        f"GETs per interaction: max {max(polls)}; GETs before the job was done: {early}"
    )
    if forged:
        refused = sum(1 for a in answers if a == 401)
        print(f"  forged pushes: {refused}/{len(answers)} answered 401 (target: all, none early)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shots", type=int, default=12)
    parser.add_argument("--latency", type=float, default=1.0)
    parser.add_argument("--mode", choices=("dynamic", "static", "both"), default="both")
    args = parser.parse_args()
    modes = ("dynamic", "static") if args.mode == "both" else (args.mode,)
    for mode in modes:
        run(args.shots, args.latency, mode, forged=False)
    run(args.shots, args.latency, modes[0], forged=True)


if __name__ == "__main__":
    main()

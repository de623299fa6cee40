"""The figures the 100-node / 10,000-job estimate in benchmarks/README.md rests on.

Run: python benchmarks/scale_inputs.py [--jobs 2000] [--events 2000]

1. The journal: paid jobs taken through their life (submitting, submitted, done: three
   durable writes each, ``synchronous=FULL``) from 8 threads at once, as one render does;
   prints journal writes per second and jobs per second.
2. The webhook receiver: ``--events`` job updates POSTed over loopback (one connection
   each, 16 at once) to the receiver a render starts, with a trivial parser; prints events
   per second the one process takes.
3. Store traffic per shot: the bytes a keyless 8 s 720p shot files in the store (the
   engine's clip, the fitted clip, its last frame), from a real render of one shot.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import anyio
import httpx
from ministudio.jobs import JobStatus
from ministudio.remote.journal import Journal
from ministudio.remote.webhooks import WebhookReceiver


def journal_rate(jobs: int, folder: Path) -> tuple[float, float]:
    journal = Journal(folder / "journal.sqlite")
    counter = iter(range(jobs))
    lock = threading.Lock()

    def work() -> None:
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            key = f"job-{i:06d}"
            journal.submitting(key, "engine", f"shot-{i}")
            journal.submitted(key, f"remote-{i}")
            journal.done(key)

    began = time.perf_counter()
    with ThreadPoolExecutor(8) as pool:
        for _ in range(8):
            pool.submit(work)
    seconds = time.perf_counter() - began
    journal.close()
    return 3 * jobs / seconds, jobs / seconds


async def webhook_rate(events: int) -> float:
    delivered = 0

    def parse(engine: str, body: bytes, headers: dict[str, str]) -> JobStatus | None:
        return JobStatus(job_id=body.decode(), state="succeeded")

    def deliver(status: JobStatus) -> None:
        nonlocal delivered
        delivered += 1

    receiver = WebhookReceiver(parse, deliver)
    async with anyio.create_task_group() as tg:
        port = await tg.start(receiver.serve, "127.0.0.1", 0)
        limit = anyio.Semaphore(16)
        async with httpx.AsyncClient(timeout=10) as client:

            async def post(i: int) -> None:
                async with limit:
                    await client.post(f"http://127.0.0.1:{port}/sim", content=f"job-{i}".encode())

            began = time.perf_counter()
            async with anyio.create_task_group() as posts:
                for i in range(events):
                    posts.start_soon(post, i)
            seconds = time.perf_counter() - began
        tg.cancel_scope.cancel()
    assert delivered == events, (delivered, events)
    return events / seconds


def store_bytes(folder: Path) -> dict[str, int]:
    from ministudio.run.render import render
    from ministudio.run.store import ContentStore
    from ministudio.spec import Production

    production = Production.model_validate(
        {
            "title": "One shot",
            "format": {"aspect_ratio": "16:9", "resolution": "720p", "fps": 24},
            "environments": {"hall": {"description": "an empty hall"}},
            "scenes": [
                {
                    "id": "s",
                    "environment": "hall",
                    "shots": [{"id": "a", "action": "the lamp flickers", "duration": 8}],
                }
            ],
        }
    )
    store = ContentStore(folder / "store")
    manifest = render(production, folder / "out", store=store)
    shot = manifest.shots[0]
    sizes = {"engine clip": store.path(shot.job_key or "", ".mp4").stat().st_size}
    found = sorted((folder / "store").rglob("*.mp4"), key=lambda p: p.stat().st_size)
    sizes["fitted clip"] = sum(p.stat().st_size for p in found) - sizes["engine clip"]
    sizes["last frame"] = sum(p.stat().st_size for p in (folder / "store").rglob("*.png"))
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--events", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        runs = [journal_rate(args.jobs, folder / str(n)) for n in range(3)]
        writes = statistics.median(r[0] for r in runs)
        print(
            f"journal: {writes:,.0f} durable writes/s = {writes / 3:,.0f} paid jobs/s "
            f"(median of 3 runs of {args.jobs} jobs, 8 threads, synchronous=FULL)"
        )
        rates = [anyio.run(webhook_rate, args.events) for _ in range(3)]
        print(
            f"webhook receiver: {statistics.median(rates):,.0f} events/s "
            f"(median of 3 runs of {args.events} POSTs, 16 at once, one connection each)"
        )
        sizes = store_bytes(folder)
        total = sum(sizes.values())
        listing = ", ".join(f"{name} {size / 1e6:.2f} MB" for name, size in sizes.items())
        print(f"store per 8 s 720p keyless shot: {total / 1e6:.2f} MB ({listing})")


if __name__ == "__main__":
    main()

"""Per-robot idle cost of the cloud: N robots connected and long-polling their decisions, sending nothing.

What a connected robot costs when nothing happens is the part of the fleet-scale cost that does not scale with events:
its decision long-poll (downlink_wait_s 10 s: a new signed request every 10 s), the device-key look-up behind each
request, and its connection. Each fleet size runs against a fresh deployment (the `bench/cloud_common.py` stack:
embedded PostgreSQL with fsync on + `uvicorn --workers 2`) for the code of this tree and, with `--before REV`, for the
cloud code of git revision REV (`src/sigma_cloud` exported with `git archive` and put first on the service's
PYTHONPATH; the database schema is this tree's, a superset), alternating, in the same run.

Measured over the window after the warm-up (every robot has polled and its key is cached): cloud CPU (API workers +
every PostgreSQL backend), long-polls answered, PostgreSQL transactions committed per second (pg_stat_database),
connections held. The figure compared is cloud CPU per answered poll: on a starved host a service answers fewer polls
in the window (robots wait in queues), so CPU per window alone would flatter the slower code.

    source scripts/env.sh && python bench/fleet_scale_idle.py [--robots 1000,5000] [--seconds 40] [--before REV]

Last line: cloud CPU per idle long-poll (ms) of this tree (and as % of a core per 1,000 robots polling every 10 s),
and of REV with the ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing as mp
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from fleet_scale import SOURCE_ADDRESSES, Robot, Totals, register_bulk

WARMUP_S = 12.0  # > one long-poll cycle (10 s) + the robots' 2 s start spread: every key cached, every poll waiting


class IdleRobot(Robot):
    """A robot that only long-polls; every answered poll's time (CLOCK_MONOTONIC, shared by the processes) is kept."""

    answered: list[float]

    async def send(self, *args: object, **kwargs: object) -> tuple[int, bytes]:
        answer = await super().send(*args, **kwargs)  # type: ignore[arg-type]
        self.answered.append(time.monotonic())
        return answer


async def idle(url: str, robots: list[tuple[str, str]], seconds: float) -> Totals:
    """Long-poll only (the bridge's DownlinkPoller) for `seconds`; returns the connections held near the end and,
    in `ack_latencies`, the monotonic times of the answered polls."""
    host, port = url.removeprefix("http://").split(":")
    totals = Totals()
    fleet = [IdleRobot(rid, seed, host, int(port), 1, 1.0, f"127.0.0.{2 + i % SOURCE_ADDRESSES}")
             for i, (rid, seed) in enumerate(robots)]
    for r in fleet:
        r.answered = totals.ack_latencies
    stop = time.monotonic() + seconds
    polls = [asyncio.ensure_future(r.downlink(stop, totals)) for r in fleet]
    await asyncio.sleep(seconds * 0.9)
    totals.connections = sum(r.down.writer is not None for r in fleet)
    for p in polls:
        p.cancel()
    await asyncio.gather(*polls, return_exceptions=True)
    for r in fleet:
        r.down.close()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    totals.cpu_s = usage.ru_utime + usage.ru_stime
    return totals


def _idle_process(args: tuple, out: mp.Queue) -> None:
    with contextlib.suppress(ImportError):
        import uvloop
        uvloop.install()
    out.put(asyncio.run(idle(*args)))


def _commits(stack: object) -> int:
    import psycopg

    with psycopg.connect(stack.runtime.owner_url, autocommit=True) as conn:  # type: ignore[attr-defined]
        return conn.execute("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
                            ).fetchone()[0]


def measure(n: int, seconds: float, workers: int, procs: int, code: str) -> dict:
    """One fresh deployment, n idle robots; the cloud's cost over the window after the warm-up."""
    from cloud_common import Stack

    with Stack(workers=workers, uvicorn_args=("--timeout-worker-healthcheck", "60", "--backlog", "8192")) as stack:
        robots = register_bulk(stack, "fleet", 0, n)
        ctx = mp.get_context("spawn")
        queue: mp.Queue = ctx.Queue()
        emulators = [ctx.Process(target=_idle_process, args=((stack.url, robots[i::procs], seconds), queue))
                     for i in range(procs)]
        for e in emulators:
            e.start()
        time.sleep(WARMUP_S)
        cpu0, commits0, t0 = sum(stack.cpu_seconds().values()), _commits(stack), time.monotonic()
        time.sleep(max(1.0, seconds - WARMUP_S - 3.0))
        cpu = sum(stack.cpu_seconds().values()) - cpu0
        commits = _commits(stack) - commits0
        elapsed = time.monotonic() - t0
        results = [queue.get(timeout=seconds + 300) for _ in emulators]
        for e in emulators:
            e.join()
    errors = [err for r in results for err in r.errors]
    polls = sum(t0 <= t <= t0 + elapsed for r in results for t in r.ack_latencies)
    return {"code": code, "robots": n, "cpu_pct": cpu / elapsed * 100, "commits_s": commits / elapsed,
            "polls_s": polls / elapsed, "cpu_ms_per_poll": cpu * 1e3 / max(polls, 1),
            "connections": sum(r.connections for r in results), "errors": errors[:3], "n_errors": len(errors),
            "load": os.getloadavg()[0]}


def export_revision(rev: str, into: Path) -> Path:
    """src/sigma_cloud/sigma_cloud and src/sigma_protocol/sigma_protocol (what the cloud runs of the shared protocol:
    signatures, batch formats, the anomaly score) of `rev` as importable packages under `into`."""
    root = subprocess.run(["git", "rev-parse", "--show-toplevel"], capture_output=True, text=True, check=True,
                          cwd=Path(__file__).parent).stdout.strip()
    paths = ["src/sigma_cloud/sigma_cloud", "src/sigma_protocol/sigma_protocol"]
    archive = subprocess.run(["git", "archive", rev, *paths], capture_output=True, check=True, cwd=root).stdout
    subprocess.run(["tar", "-x", "-C", str(into), "--strip-components", "2"], input=archive, check=True)
    return into


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--robots", default="1000,5000", help="fleet sizes")
    parser.add_argument("--seconds", type=float, default=40.0, help="run time per size and code (warm-up 12 s)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--procs", type=int, default=2, help="emulator processes")
    parser.add_argument("--before", default="", help="git revision whose cloud code runs beside this tree's")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="sigma-idle-") as tmp:
        codes = [("this tree", None)]
        if args.before:
            codes.append((args.before, export_revision(args.before, Path(tmp))))
        for n in (int(s) for s in args.robots.split(",")):
            for code, path in codes:
                saved = os.environ.get("PYTHONPATH")
                if path is not None:
                    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(path), saved]))
                try:
                    row = measure(n, args.seconds, args.workers, args.procs, code)
                finally:
                    if saved is None:
                        os.environ.pop("PYTHONPATH", None)
                    else:
                        os.environ["PYTHONPATH"] = saved
                rows.append(row)
                print(f"{code}: {n:,} idle robots: cloud CPU {row['cpu_pct']:.1f} % of a core, "
                      f"{row['polls_s']:.0f} polls/s answered ({row['cpu_ms_per_poll']:.2f} ms of cloud CPU each), "
                      f"{row['commits_s']:.0f} commits/s, {row['connections']:,} connections, "
                      f"{row['n_errors']} errors {row['errors']}, load {row['load']:.1f}", flush=True)
    print("code | idle robots | cloud CPU % of a core | polls/s answered | cloud CPU ms per poll | per 1,000 robots "
          "at one poll per 10 s (% of a core) | PostgreSQL commits/s | connections | load avg")
    for r in rows:
        print(f"{r['code']} | {r['robots']:,} | {r['cpu_pct']:.1f} | {r['polls_s']:.0f} | {r['cpu_ms_per_poll']:.2f} | "
              f"{r['cpu_ms_per_poll'] * 10:.1f} | {r['commits_s']:.0f} | {r['connections']:,} | "
              f"{r['load']:.0f}")

    def per_poll(code: str) -> float:
        mine = [r for r in rows if r["code"] == code]
        return sum(r["cpu_ms_per_poll"] * r["polls_s"] for r in mine) / max(sum(r["polls_s"] for r in mine), 1e-9)

    # A robot polls every downlink_wait_s (10 s) when idle: per 1,000 robots 100 polls/s; ms per poll x 100 / 1000
    # s = fraction of a core, x 100 = %. Per poll, not per window: a starved service answers fewer polls.
    now = per_poll("this tree")
    tail = (f"; {args.before}: {per_poll(args.before):.2f} ms ({now / per_poll(args.before):.2f}x)"
            if args.before else "")
    print(f"fleet_scale_idle: cloud CPU per idle long-poll: this tree {now:.2f} ms (= {now * 10:.1f} % of a core per "
          f"1,000 idle robots at one poll per 10 s){tail}")


if __name__ == "__main__":
    main()

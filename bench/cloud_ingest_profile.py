"""Where an ingest batch's CPU goes: py-spy samples of one API worker under the cloud_ingest load, by stage.

One uvicorn worker (so one process to sample), the same load as bench/cloud_ingest.py (robots posting signed
1000-event batches back to back over keep-alive HTTP/1.1), `py-spy record --format raw` on the worker while the
load runs. Every sample is given to a stage by its innermost frame that belongs to a known module (a psycopg call
made by the ingest code counts as "database client", the ingest code around it as "ingest glue"):

    HTTP server (uvicorn/httptools) | framework (Starlette/FastAPI routing, middleware) | signature (sigma_protocol
    signing, PyNaCl) | decode + validate (core/fastpath.py: msgspec) | score (core/analytics.py) | COPY rows
    (core/ingest_copy.py, pgarray) | database client (psycopg, the pool) | ingest glue | event loop | other

CPU per 1000 rows of the worker, PostgreSQL and the load generator is measured over the same window (psutil), and a
raw binary COPY of the same rows as the schema owner gives PostgreSQL's own share for comparison. Needs py-spy
(`pip install py-spy`; not a project dependency). Output: a table; the last line is the stage list in ms per 1000
rows of the API worker.

    source scripts/env.sh && python bench/cloud_ingest_profile.py [--robots 8] [--batch 1000] [--seconds 15]
        [--format 2] [--top 25]

--format: the batch format the load sends (2: columnar, the bridge's default once negotiated; 1: rows). --top N
also prints the N functions with the most samples, inclusive (every function on the stack) and self (the leaf).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections import Counter
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict

sys.path.insert(0, str(Path(__file__).parent))
from cloud_common import Stack
from cloud_ingest import CpuMeter, load

# (stage, substrings of a frame's file path or function); the innermost frame that matches any decides.
STAGES: list[tuple[str, tuple[str, ...]]] = [
    ("signature", ("sigma_protocol/signing", "nacl/")),
    ("decode + validate", ("sigma_cloud/core/fastpath",)),
    ("score", ("sigma_cloud/core/analytics", "sigma_protocol/anomaly")),
    ("COPY rows", ("sigma_cloud/core/ingest_copy", "sigma_cloud/core/pgarray", "finish_params")),
    ("database client", ("psycopg/", "psycopg_pool/", "sigma_cloud/core/db.py")),
    ("ingest glue", ("sigma_cloud/core/ingest.py", "sigma_cloud/api/routes/devices")),
    ("observability", ("sigma_cloud/core/observability", "opentelemetry/", "prometheus_client/", "logging/")),
    ("thread-pool hop", ("threading.py", "anyio/", "queue.py", "concurrent/")),
    ("framework", ("starlette/", "fastapi/", "pydantic", "sigma_cloud/api/")),
    ("HTTP server + event loop (incl. native socket I/O)", ("uvicorn/", "httptools/", "h11/", "asyncio/",
                                                             "uvloop/")),
]


def stage_of(stack: str) -> str:
    """The stage of one collapsed py-spy stack (frames root;...;leaf)."""
    for frame in reversed(stack.split(";")):
        for stage, marks in STAGES:
            if any(mark in frame for mark in marks):
                return stage
    return "other"


def parse_raw(text: str) -> Counter:
    """Samples per stage from py-spy's raw (collapsed) output: 'frame;frame;... count' per line."""
    samples: Counter = Counter()
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            samples[stage_of(stack)] += int(count)
    return samples


def top_functions(text: str, n: int) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
    """(inclusive, self) sample counts of the `n` busiest functions in py-spy's raw output."""
    inclusive: Counter = Counter()
    leaf: Counter = Counter()
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = [_short(frame) for frame in stack.split(";")]
        for frame in set(frames):
            inclusive[frame] += int(count)
        leaf[frames[-1]] += int(count)
    return inclusive.most_common(n), leaf.most_common(n)


def _short(frame: str) -> str:
    """'function (path/to/module.py:line)' -> 'function (package/module.py)'."""
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    return f"{name} ({'/'.join(Path(path).parts[-2:])})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--robots", type=int, default=8)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    parser.add_argument("--format", type=int, default=2, choices=(1, 2), help="batch format the load sends")
    parser.add_argument("--top", type=int, default=0, help="also list the N busiest functions")
    args = parser.parse_args()
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not os.path.exists(spy):
        raise SystemExit("py-spy is not installed (pip install py-spy)")
    out = Path(tempfile.mkdtemp(prefix="sigma-profile-")) / "worker.txt"
    with Stack(workers=1) as stack:
        robots = stack.register(args.robots)
        superuser = stack.pg.url(database=conninfo_to_dict(stack.runtime.owner_url)["dbname"])
        with psycopg.connect(superuser, autocommit=True) as conn:  # PL/pgSQL function times (wall, in the backend)
            conn.execute("ALTER SYSTEM SET track_functions = 'pl'")
            conn.execute("SELECT pg_reload_conf()")
        # warm-up: key cache, scorers, connections
        asyncio.run(load(stack.url, robots, args.batch, 3.0, batch_format=args.format))
        with psycopg.connect(superuser, autocommit=True) as conn:
            conn.execute("SELECT pg_stat_reset()")
        before = stack.count()
        meter = CpuMeter(stack)
        record = subprocess.Popen([spy, "record", "--pid", str(stack.proc.pid), "--rate", str(args.rate),  # type: ignore[union-attr]
                                   "--duration", str(int(args.seconds)), "--format", "raw", "--output", str(out),
                                   "--nonblocking"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        result: dict = {}
        runner = threading.Thread(target=lambda: result.update(
            stats=asyncio.run(load(stack.url, robots, args.batch, args.seconds, first_seq=10**9,
                                 batch_format=args.format))[1]))
        runner.start()
        runner.join()
        _, err = record.communicate(timeout=120)
        durable = stack.count() - before
        cpu = meter.per_1000(durable)
        with psycopg.connect(superuser, autocommit=True) as conn:
            functions = conn.execute("SELECT funcname, calls, self_time FROM pg_stat_user_functions "
                                     "WHERE calls > 0 ORDER BY self_time DESC LIMIT 6").fetchall()
    if not out.exists():
        raise SystemExit(f"py-spy wrote nothing: {err.decode()[-500:]}")
    samples = parse_raw(out.read_text())
    total = sum(samples.values()) or 1
    print(f"format {args.format}: {durable} rows durable in {args.seconds:.0f} s "
          f"({durable / args.seconds:,.0f} events/s), "
          f"load average {os.getloadavg()[0]:.1f}; {total} samples of the API worker")
    print(f"CPU ms per 1000 rows: API {cpu['api']:.2f}, PostgreSQL {cpu['pg']:.2f}, load generator {cpu['load']:.2f}")
    print("stage | share of API CPU | ms per 1000 rows")
    parts = []
    for stage, count in samples.most_common():
        share = count / total
        print(f"{stage} | {share * 100:.1f} % | {share * cpu['api']:.2f}")
        parts.append(f"{stage} {share * cpu['api']:.2f}")
    if args.top:
        inclusive, leaf = top_functions(out.read_text(), args.top)
        for title, rows in (("inclusive", inclusive), ("self", leaf)):
            print(f"top {args.top} functions, {title} (share of API samples | ms per 1000 rows):")
            for name, count in rows:
                print(f"  {count / total * 100:5.1f} % | {count / total * cpu['api']:.2f} | {name}")
    print("PostgreSQL functions (self time in the backend, wall ms per 1000 rows): " + ", ".join(
        f"{name} {ms * 1000 / max(durable, 1):.2f} ({calls} calls)" for name, calls, ms in functions))
    print(f"cloud_ingest_profile: API {cpu['api']:.2f} ms/1000 rows = " + ", ".join(parts) +
          f"; PostgreSQL {cpu['pg']:.2f}")


if __name__ == "__main__":
    main()

"""Cloud ingest throughput: simulated robots post signed batches over HTTP; events counted durable in PostgreSQL.

Same run, same database: a raw psycopg COPY baseline (pre-encoded rows, same batch size and concurrency, each batch
committed) into the same table (telemetry: its partitions, indexes and trigger) gives what PostgreSQL alone takes on
this machine, so the ingest figure is also a ratio to it (the last number of the last line). A COPY into a
`LIKE telemetry` table without the partial index and trigger is printed too (the earlier baseline). CPU per 1000 rows
is reported per part (service, PostgreSQL, load generator) for both.

    source scripts/env.sh && python bench/cloud_ingest.py [--robots 16] [--batch 1000] [--seconds 8] [--rounds 3]
        [--workers 2] [--formats 2,1] [--before REV] [--before-formats 1] [--warmup 2]

Rounds alternate baseline and ingest so a busy shared host affects both alike; medians are reported. Before round 1
--warmup seconds of ingest load are not measured (each round's raw COPY is preceded by the LIKE-table COPY). Each round
measures every batch format of --formats (2: the columnar format, sigma_protocol.columnar; 1: the row format) in
turn; the last line is the first format's. --before REV also measures the cloud code of git revision REV (in the
--before-formats, default the row format; its own stack and COPY baseline, the same rounds) after this tree's, as
"before" beside "after".
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import resource
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import orjson
import psycopg

sys.path.insert(0, str(Path(__file__).parent))
from cloud_common import Stack, encode_batch_fast, encode_batch_fast_columnar, make_events
from fleet_scale import HttpConnection
from fleet_scale_idle import export_revision

import sigma_protocol as protocol
from sigma_cloud.core.partitions import partition_name


def _copy_rows(url: str, target: str, block_of: object, batch: int, threads: int,
               seconds: float) -> tuple[int, float]:
    """(rows, seconds) of `threads` connections each COPYing `batch`-row blocks into `target`, one commit per block."""
    counts = [0] * threads
    stop = time.monotonic() + seconds

    def worker(index: int) -> None:
        block = block_of(index)  # type: ignore[operator]
        with psycopg.connect(url) as conn:
            while time.monotonic() < stop:
                with conn.cursor() as cur, cur.copy(f"COPY {target} (robot_id, site_id, seq, ts, channel, payload, "
                                                    "score) FROM STDIN") as copy:
                    copy.write(block)
                conn.commit()
                counts[index] += batch

    start = time.monotonic()
    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return sum(counts), time.monotonic() - start


def _text_block(robot_id: str, events: list[dict], stamp: bytes) -> bytes:
    return b"".join(b"%s\tbench\t%d\t%s\t%d\t%s\t0\n" % (
        robot_id.encode(), e["seq"], stamp, protocol.CHANNEL_IDS[e["channel"]],
        orjson.dumps(e["payload"]).replace(b"\\", b"\\\\")) for e in events)


def copy_baseline(url: str, batch: int, threads: int, seconds: float, same_table: bool = True) -> float:
    """Rows/s PostgreSQL takes via COPY as the schema owner, one commit per batch of `batch` rows.

    same_table: into telemetry itself, the day partition 7 days back (empty in the bench: same columns, indexes,
    hash sub-partitions and triggers as today's; TRUNCATEd after) -- "raw COPY into the same table". Else into a
    `LIKE telemetry` copy partitioned the same way but without telemetry's partial index and trigger (the figure
    issue 16's first rounds used)."""
    now = time.time()
    events = make_events(1, batch, now)
    if same_table:
        day = datetime.datetime.fromtimestamp(now, datetime.timezone.utc).date() - datetime.timedelta(days=7)
        target = partition_name(day)
        stamp = (day.isoformat() + " 12:00:00+00").encode()
        with psycopg.connect(url, autocommit=True) as conn:
            assert conn.execute(f"SELECT count(*) FROM {target}").fetchone()[0] == 0, f"{target} is not empty"
    else:
        target = "copy_baseline"
        stamp = time.strftime("%Y-%m-%d %H:%M:%S+00", time.gmtime(now)).encode()
        today = time.strftime("%Y-%m-%d", time.gmtime(now))
        with psycopg.connect(url, autocommit=True) as conn:  # same shape as telemetry (partitions, index), no RLS
            conn.execute("DROP TABLE IF EXISTS copy_baseline")
            conn.execute("CREATE TABLE copy_baseline (LIKE telemetry INCLUDING DEFAULTS) PARTITION BY RANGE (ts)")
            conn.execute("CREATE INDEX ON copy_baseline (robot_id, ts)")
            conn.execute(f"CREATE TABLE copy_baseline_d PARTITION OF copy_baseline FOR VALUES FROM ('{today}') "
                         f"TO ('{today}'::date + 1) PARTITION BY HASH (robot_id)")
            for r in range(4):
                conn.execute(f"CREATE TABLE copy_baseline_h{r} PARTITION OF copy_baseline_d "
                             f"FOR VALUES WITH (MODULUS 4, REMAINDER {r})")
    rows, elapsed = _copy_rows(url, target, lambda i: _text_block(f"copy-{i:02d}", events, stamp), batch, threads,
                               seconds)
    with psycopg.connect(url, autocommit=True) as conn:
        stored = conn.execute(f"SELECT count(*) FROM {target}").fetchone()[0]
        conn.execute(f"TRUNCATE {target}" if same_table else "DROP TABLE copy_baseline")
    assert stored == rows, (stored, rows)
    return rows / elapsed


ENCODERS = {1: (encode_batch_fast, "application/json"),
            2: (encode_batch_fast_columnar, protocol.CONTENT_TYPE_COLUMNAR)}


async def robot_loop(conn: HttpConnection, robot_id: str, seed: str, batch: int, stop: float,
                     latencies: list[float], stats: dict[str, int], seq: int, batch_format: int = 1) -> None:
    encode, content_type = ENCODERS[batch_format]
    while time.monotonic() < stop:
        body = encode(robot_id, seq, batch, time.time())
        while True:  # retry (re-signed) until acknowledged: the protocol's client contract
            headers = protocol.sign_request(seed, "POST", protocol.INGEST_PATH, robot_id, body, time.time())
            headers["Content-Type"] = content_type
            sent = time.perf_counter()
            try:
                status, answer = await conn.request("POST", protocol.INGEST_PATH, headers, body)
            except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError):
                stats["retries"] += 1
                await asyncio.sleep(0.05)
                continue
            if status == 200:
                latencies.append(time.perf_counter() - sent)
                stats["acked"] += orjson.loads(answer)["accepted"]
                break
            if not protocol.is_retryable(status):
                raise RuntimeError(f"{robot_id}: {status} {answer[:300]!r}")
            stats["retries"] += 1
            await asyncio.sleep(0.05)
        seq += batch


async def load(url: str, robots: list[tuple[str, str]], batch: int, seconds: float,
               first_seq: int = 1, batch_format: int = 1) -> tuple[list[float], dict]:
    """Each robot posts signed batches back to back on its own keep-alive connection (a minimal HTTP/1.1 client:
    the load generator shares the cores with what it measures, and httpx costs several times more per request)."""
    latencies: list[float] = []
    stats = {"acked": 0, "retries": 0}
    host, port = url.removeprefix("http://").rsplit(":", 1)
    conns = [HttpConnection(host, int(port)) for _ in robots]
    stop = time.monotonic() + seconds
    try:
        await asyncio.gather(*(robot_loop(conn, rid, seed, batch, stop, latencies, stats, first_seq, batch_format)
                               for conn, (rid, seed) in zip(conns, robots, strict=True)))
    finally:
        for conn in conns:
            conn.close()
    return latencies, stats


class CpuMeter:
    """CPU seconds spent by the service, PostgreSQL and this process (the load generator) over one phase."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.start = self._now()

    def _now(self) -> dict[str, float]:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return {**self.stack.cpu_seconds(), "load": usage.ru_utime + usage.ru_stime}

    def per_1000(self, rows: float) -> dict[str, float]:
        """CPU milliseconds per 1000 rows since construction, by part."""
        end = self._now()
        return {part: (end[part] - self.start[part]) * 1e6 / max(rows, 1) for part in end}


def _cpu_text(cpu: dict[str, float]) -> str:
    return ", ".join(f"{part} {value:.1f}" for part, value in cpu.items()) + f" (total {sum(cpu.values()):.1f})"


def measure(args: argparse.Namespace, formats: list[int], code: str) -> dict[int, str]:
    """One stack; per round a COPY into a LIKE table, a raw COPY into telemetry, then the ingest load in each batch
    format. Returns each format's summary line (printed)."""
    baselines, like_baselines = [], []
    rates: dict[int, list[float]] = {f: [] for f in formats}
    latencies: dict[int, list[float]] = {f: [] for f in formats}
    cpu_ingest: dict[int, dict[str, float]] = {f: {} for f in formats}
    loads: dict[int, list[float]] = {f: [] for f in formats}
    cpu_copy: dict[str, float] = {}
    retries = 0
    with Stack(workers=args.workers) as stack:
        robots = stack.register(args.robots)
        threads = min(args.robots, 8)
        if args.warmup > 0:  # unmeasured: key cache, scorers, pool connections, first pages (the COPY baseline
            # is warmed by the LIKE-table COPY that precedes it in each round)
            asyncio.run(load(stack.url, robots, args.batch, args.warmup, first_seq=1, batch_format=formats[0]))
        for round_index in range(args.rounds):
            like_baselines.append(copy_baseline(stack.runtime.owner_url, args.batch, threads, args.seconds / 4,
                                                same_table=False))
            meter = CpuMeter(stack)
            baselines.append(copy_baseline(stack.runtime.owner_url, args.batch, threads, args.seconds / 2))
            for part, value in meter.per_1000(baselines[-1] * args.seconds / 2).items():
                cpu_copy[part] = cpu_copy.get(part, 0.0) + value / args.rounds
            for k, batch_format in enumerate(formats):
                before = stack.count()
                meter = CpuMeter(stack)
                start = time.monotonic()
                round_latencies, stats = asyncio.run(load(
                    stack.url, robots, args.batch, args.seconds,
                    first_seq=1 + (round_index * len(formats) + k + 1) * 10**9, batch_format=batch_format))
                elapsed = time.monotonic() - start
                durable = stack.count() - before
                assert durable == stats["acked"], f"acked {stats['acked']} but {durable} rows are durable"
                for part, value in meter.per_1000(durable).items():
                    cpu_ingest[batch_format][part] = cpu_ingest[batch_format].get(part, 0.0) + value / args.rounds
                rates[batch_format].append(durable / elapsed)
                latencies[batch_format] += round_latencies
                loads[batch_format].append(os.getloadavg()[0])
                retries += stats["retries"]
                print(f"{code}, round {round_index + 1}: COPY {baselines[-1]:,.0f} rows/s (LIKE-table COPY "
                      f"{like_baselines[-1]:,.0f}), format {batch_format} ingest {rates[batch_format][-1]:,.0f} "
                      f"events/s ({durable} rows in {elapsed:.1f} s, {len(round_latencies)} batches, load "
                      f"{loads[batch_format][-1]:.1f})", flush=True)
        # Acknowledgement latency below saturation: 4 robots, 250-event batches (the saturated rounds above
        # measure queueing as much as service time).
        light, light_stats = asyncio.run(load(stack.url, robots[:4], 250, args.seconds / 4,
                                              first_seq=1 + (args.rounds * len(formats) + 1) * 10**9,
                                              batch_format=formats[0]))
    light.sort()
    light_p50 = statistics.median(light) * 1e3
    light_p99 = light[int(0.99 * (len(light) - 1))] * 1e3
    print(f"{code}: light load (4 robots x 250 events, format {formats[0]}): "
          f"{light_stats['acked'] / (args.seconds / 4):,.0f} events/s, ack p50 {light_p50:.0f} ms p99 "
          f"{light_p99:.0f} ms")
    print(f"{code}: CPU ms per 1000 rows, COPY: {_cpu_text(cpu_copy)}")
    print(f"{code}: robots={args.robots} batch={args.batch} workers={args.workers} rounds={args.rounds} "
          f"retries={retries}")
    baseline, like = statistics.median(baselines), statistics.median(like_baselines)
    lines = {}
    for batch_format in formats:
        print(f"{code}: CPU ms per 1000 rows, ingest format {batch_format}: {_cpu_text(cpu_ingest[batch_format])}")
        lat = sorted(latencies[batch_format])
        rate = statistics.median(rates[batch_format])
        lines[batch_format] = (
            f"cloud_ingest ({code}, format {batch_format}, load {min(loads[batch_format]):.0f}-"
            f"{max(loads[batch_format]):.0f}): {rate:,.0f} events/s durable (median of {args.rounds} rounds), "
            f"saturated ack p50 {statistics.median(lat) * 1e3:.0f} ms p99 {lat[int(0.99 * (len(lat) - 1))] * 1e3:.0f}"
            f" ms, light-load ack p99 {light_p99:.0f} ms; {rate / like:.2f}x of a COPY into a LIKE-telemetry table "
            f"({like:,.0f} rows/s); {rate / baseline:.2f}x of raw COPY into telemetry ({baseline:,.0f} rows/s, "
            f"same run)")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--robots", type=int, default=16)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=8.0, help="ingest time per round and format")
    parser.add_argument("--rounds", type=int, default=3, help="alternating baseline/ingest rounds (noisy hosts)")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of unmeasured ingest load before round 1")
    parser.add_argument("--formats", default="2,1", help="batch formats measured in each round; the first is the "
                        "headline")
    parser.add_argument("--before", default="", help="git revision whose cloud code is measured too")
    parser.add_argument("--before-formats", default="1", help="batch formats measured for --before (a revision "
                        "older than format 2's, e.g. adcbaaa, takes only 1)")
    args = parser.parse_args()
    formats = [int(f) for f in args.formats.split(",")]
    lines = measure(args, formats, "this tree")
    if args.before:
        saved = os.environ.get("PYTHONPATH")
        with tempfile.TemporaryDirectory(prefix="sigma-before-") as tmp:
            os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(export_revision(args.before, Path(tmp))),
                                                                     saved]))
            try:
                before = measure(args, [int(f) for f in args.before_formats.split(",")], args.before)
            finally:
                if saved is None:
                    os.environ.pop("PYTHONPATH", None)
                else:
                    os.environ["PYTHONPATH"] = saved
        for line in before.values():
            print(line)
    for batch_format in formats[1:]:
        print(lines[batch_format])
    print(lines[formats[0]])


if __name__ == "__main__":
    main()

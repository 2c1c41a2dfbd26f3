"""Cloud ingest throughput: simulated robots post signed batches over HTTP; events counted durable in PostgreSQL.

Same run, same database: a raw psycopg COPY baseline (pre-encoded rows, same batch size and concurrency, each batch
committed) gives what PostgreSQL alone takes on this machine, so the ingest figure is also a ratio to it.

    source scripts/env.sh && python bench/cloud_ingest.py [--robots 16] [--batch 1000] [--seconds 8] [--rounds 3]
        [--workers 2]

Rounds alternate baseline and ingest so a busy shared host affects both alike; medians are reported.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import threading
import time
from pathlib import Path

import httpx
import orjson
import psycopg

sys.path.insert(0, str(Path(__file__).parent))
from cloud_common import Stack, encode_batch_fast, make_events

import sigma_protocol as protocol


def copy_baseline(url: str, batch: int, threads: int, seconds: float) -> float:
    """Rows/s PostgreSQL takes via COPY (owner role, same table, one commit per batch of `batch` rows)."""
    now = time.time()
    events = make_events(1, batch, now)
    stamp = time.strftime("%Y-%m-%d %H:%M:%S+00", time.gmtime(now)).encode()
    block = b"".join(
        b"base\tbench\t%d\t%s\t%d\t%s\t0\n" % (e["seq"], stamp,
                                               protocol.CHANNEL_IDS[e["channel"]],
                                               orjson.dumps(e["payload"]).replace(b"\\", b"\\\\"))
        for e in events)
    day = time.strftime("%Y-%m-%d", time.gmtime(now))
    with psycopg.connect(url, autocommit=True) as conn:  # same shape as telemetry (partitions, index), no RLS
        conn.execute("DROP TABLE IF EXISTS copy_baseline")
        conn.execute("CREATE TABLE copy_baseline (LIKE telemetry INCLUDING DEFAULTS) PARTITION BY RANGE (ts)")
        conn.execute("CREATE INDEX ON copy_baseline (robot_id, ts)")
        conn.execute(f"CREATE TABLE copy_baseline_d PARTITION OF copy_baseline FOR VALUES FROM ('{day}') "
                     f"TO ('{day}'::date + 1) PARTITION BY HASH (robot_id)")
        for r in range(4):
            conn.execute(f"CREATE TABLE copy_baseline_h{r} PARTITION OF copy_baseline_d "
                         f"FOR VALUES WITH (MODULUS 4, REMAINDER {r})")
    counts = [0] * threads
    stop = time.monotonic() + seconds

    def worker(index: int) -> None:
        with psycopg.connect(url) as conn:
            while time.monotonic() < stop:
                with conn.cursor() as cur, cur.copy("COPY copy_baseline (robot_id, site_id, seq, ts, channel, payload, "
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
    rate = sum(counts) / (time.monotonic() - start)
    with psycopg.connect(url, autocommit=True) as conn:
        stored = conn.execute("SELECT count(*) FROM copy_baseline").fetchone()[0]
        conn.execute("DROP TABLE copy_baseline")
    assert stored == sum(counts), (stored, sum(counts))
    return rate


async def robot_loop(client: httpx.AsyncClient, robot_id: str, seed: str, batch: int, stop: float,
                     latencies: list[float], stats: dict[str, int], seq: int) -> None:
    while time.monotonic() < stop:
        body = encode_batch_fast(robot_id, seq, batch, time.time())
        while True:  # retry (re-signed) until acknowledged: the protocol's client contract
            headers = protocol.sign_request(seed, "POST", protocol.INGEST_PATH, robot_id, body, time.time())
            headers["Content-Type"] = "application/json"
            sent = time.perf_counter()
            try:
                r = await client.post(protocol.INGEST_PATH, content=body, headers=headers)
            except httpx.HTTPError:
                stats["retries"] += 1
                await asyncio.sleep(0.05)
                continue
            if r.status_code == 200:
                latencies.append(time.perf_counter() - sent)
                stats["acked"] += r.json()["accepted"]
                break
            if not protocol.is_retryable(r.status_code):
                raise RuntimeError(f"{robot_id}: {r.status_code} {r.text[:300]}")
            stats["retries"] += 1
            await asyncio.sleep(0.05)
        seq += batch


async def load(url: str, robots: list[tuple[str, str]], batch: int, seconds: float,
               first_seq: int = 1) -> tuple[list[float], dict]:
    latencies: list[float] = []
    stats = {"acked": 0, "retries": 0}
    limits = httpx.Limits(max_connections=len(robots), max_keepalive_connections=len(robots))
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:
        stop = time.monotonic() + seconds
        await asyncio.gather(*(robot_loop(client, rid, seed, batch, stop, latencies, stats, first_seq)
                               for rid, seed in robots))
    return latencies, stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--robots", type=int, default=16)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=8.0, help="ingest time per round")
    parser.add_argument("--rounds", type=int, default=3, help="alternating baseline/ingest rounds (noisy hosts)")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    args = parser.parse_args()
    baselines, rates, latencies = [], [], []
    retries = 0
    with Stack(workers=args.workers) as stack:
        robots = stack.register(args.robots)
        for round_index in range(args.rounds):
            baselines.append(copy_baseline(stack.runtime.owner_url, args.batch, threads=min(args.robots, 8),
                                           seconds=args.seconds / 2))
            before = stack.count()
            start = time.monotonic()
            round_latencies, stats = asyncio.run(load(stack.url, robots, args.batch, args.seconds,
                                                      first_seq=1 + round_index * 10**9))
            elapsed = time.monotonic() - start
            durable = stack.count() - before
            assert durable == stats["acked"], f"acked {stats['acked']} but {durable} rows are durable"
            rates.append(durable / elapsed)
            latencies += round_latencies
            retries += stats["retries"]
            print(f"round {round_index + 1}: COPY {baselines[-1]:,.0f} rows/s, ingest {rates[-1]:,.0f} events/s "
                  f"({durable} rows in {elapsed:.1f} s, {len(round_latencies)} batches)", flush=True)
        # Acknowledgement latency below saturation: 4 robots, 250-event batches (the saturated rounds above
        # measure queueing as much as service time).
        light, light_stats = asyncio.run(load(stack.url, robots[:4], 250, args.seconds / 2,
                                              first_seq=1 + args.rounds * 10**9))
    light.sort()
    light_p50 = statistics.median(light) * 1e3
    light_p99 = light[int(0.99 * (len(light) - 1))] * 1e3
    print(f"light load (4 robots x 250 events): {light_stats['acked'] / (args.seconds / 2):,.0f} events/s, "
          f"ack p50 {light_p50:.0f} ms p99 {light_p99:.0f} ms")
    latencies.sort()
    p50 = statistics.median(latencies) * 1e3
    p99 = latencies[int(0.99 * (len(latencies) - 1))] * 1e3
    rate, baseline = statistics.median(rates), statistics.median(baselines)
    print(f"robots={args.robots} batch={args.batch} workers={args.workers} rounds={args.rounds} retries={retries}")
    print(f"cloud_ingest: {rate:,.0f} events/s durable (median of {args.rounds} rounds), saturated ack p50 "
          f"{p50:.0f} ms p99 {p99:.0f} ms, light-load ack p99 {light_p99:.0f} ms, {rate / baseline:.2f}x of raw COPY "
          f"({baseline:,.0f} rows/s, same run)")


if __name__ == "__main__":
    main()

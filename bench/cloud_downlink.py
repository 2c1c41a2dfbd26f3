"""Decision downlink latency: fleet API creates a decision -> the robot's signed long-poll returns it.

Robots keep a long-poll open (the bridge's downlink loop); the figure is the time from sending POST /v1/decisions to
the decision arriving at the robot, p50/p99 over many decisions. Baseline in the same run: a plain GET /healthz round
trip on the same server, so the ratio shows what the LISTEN/NOTIFY path adds.

    source scripts/env.sh && python bench/cloud_downlink.py [--robots 8] [--decisions 200]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from cloud_common import Stack

import sigma_protocol as protocol


async def poller(client: httpx.AsyncClient, robot_id: str, seed: str, arrivals: dict[str, float],
                 stop: asyncio.Event) -> None:
    path = protocol.DECISIONS_PATH.format(robot_id=robot_id) + "?wait=5"
    while not stop.is_set():
        headers = protocol.sign_request(seed, "GET", path, robot_id, b"", time.time())
        r = await client.get(path, headers=headers)
        r.raise_for_status()
        now = time.perf_counter()
        for decision in protocol.decode_decisions(r.content):
            if decision.decision_id not in arrivals:
                arrivals[decision.decision_id] = now
                ack = protocol.DECISION_ACK_PATH.format(robot_id=robot_id, decision_id=decision.decision_id)
                body = protocol.encode_decision_ack("applied", "bench", time.time())
                signed = protocol.sign_request(seed, "POST", ack, robot_id, body, time.time())
                (await client.post(ack, content=body, headers=signed)).raise_for_status()


async def run(stack: Stack, robots: list[tuple[str, str]], decisions: int) -> tuple[list[float], list[float]]:
    arrivals: dict[str, float] = {}
    sent: dict[str, float] = {}
    stop = asyncio.Event()
    async with httpx.AsyncClient(base_url=stack.url, timeout=30, headers=stack.admin_headers()) as client, \
            httpx.AsyncClient(base_url=stack.url, timeout=30,
                              limits=httpx.Limits(max_connections=len(robots) + 4)) as device_client:
        pollers = [asyncio.create_task(poller(device_client, rid, seed, arrivals, stop)) for rid, seed in robots]
        await asyncio.sleep(1.0)
        baseline = []
        for _ in range(decisions):
            start = time.perf_counter()
            (await client.get("/healthz")).raise_for_status()
            baseline.append(time.perf_counter() - start)
        for i in range(decisions):
            robot_id = robots[i % len(robots)][0]
            start = time.perf_counter()
            r = await client.post("/v1/decisions", json={"robot_id": robot_id, "action": "hold", "confidence": 0.9,
                                                         "ttl_s": 30})
            r.raise_for_status()
            sent[r.json()["decision_id"]] = start
            deadline = time.perf_counter() + 10
            while r.json()["decision_id"] not in arrivals and time.perf_counter() < deadline:
                await asyncio.sleep(0.0005)
        stop.set()
        await asyncio.wait(pollers, timeout=10)
    missing = [d for d in sent if d not in arrivals]
    if missing:
        raise RuntimeError(f"{len(missing)} decisions never arrived")
    return [arrivals[d] - sent[d] for d in sent], baseline


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--robots", type=int, default=8)
    parser.add_argument("--decisions", type=int, default=200)
    args = parser.parse_args()
    with Stack(workers=1) as stack:
        robots = stack.register(args.robots)
        latencies, baseline = asyncio.run(run(stack, robots, args.decisions))
    latencies.sort()
    baseline.sort()

    def pct(values: list[float], q: float) -> float:
        return values[int(q * (len(values) - 1))] * 1e3

    print(f"healthz round trip baseline: p50 {pct(baseline, 0.5):.1f} ms p99 {pct(baseline, 0.99):.1f} ms")
    print(f"cloud_downlink: decision created -> at robot p50 {pct(latencies, 0.5):.1f} ms p99 "
          f"{pct(latencies, 0.99):.1f} ms over {len(latencies)} decisions ({args.robots} long-polling robots), "
          f"{pct(latencies, 0.5) / pct(baseline, 0.5):.1f}x a /healthz round trip")


if __name__ == "__main__":
    main()

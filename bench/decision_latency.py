"""Primary AI reaction time: a telemetry event at the ingest -> the fleet-cognition worker's decision applied at the
robot, while the cloud ingests a heavy background stream.

Each trial uses a fresh, warmed-up probe robot (its anomaly statistics are clean): a signed robot emulator keeps a
long poll open (the bridge's downlink loop), then one signed batch arrives whose events show an anomaly that has
persisted for 2.5 s (event time); the clock runs from sending that batch to the decision applied at the robot:
the emulator has it decoded in hand, the point where the bridge relays it to the robot's arbiter (sigma_bridge
`DownlinkPoller.poll_once` publishes a decision before it posts the ack). Round 18: the goal's figure ends there; up
to round 17 the headline also counted the robot's "applied" ack travelling back and being stored in the cloud, which
comes after the robot has applied the decision — that round trip is still measured and printed beside it. The
worker (`sigma-cloud cognition`, its own process) must notice the new data, summarise it, decide, and send the
decision down the same downlink an operator's decision takes.

Baseline in the same run, same load: an operator's POST /v1/decisions -> the same emulator (no cognition: pure
downlink), to the same two end points. Both are measured idle and while background robots ingest at the goal's rate
(`--rate`, 50,000 events/s: each robot paced to its share, 1000-event signed batches; 0 = as fast as the host
allows), the achieved rate printed.

Deployment measured (round 4; `--single-api` is the round-3 layout): the decision path is kept apart from bulk
ingest, as a deployment would route it. The robots' downlink (long poll + ack) goes to its own API replica (1 uvicorn
worker, its own pool and LISTEN connection: never queued behind ingest batches in the ingest replicas' event loops
or their gated pool); the ingest replicas run at nice +5 and the load generator (a stand-in for robots elsewhere) at
nice +10, so under CPU contention the cognition worker and the downlink replica (nice 0) run first.

Round 5: each cognition trial's time is split into stages (client -> ingest transaction -> commit -> the worker's
pass -> decision commit -> at the robot -> ack accepted) from the client's stamps, the database's clocks and the
arrival of its own NOTIFYs at a listener here; the background runs until the loaded phase ends (its achieved rate is
printed). `--alert-loops`, `--decision-nice`, `--db-priority`: see docs/cognition.md "Measured".

Round 5 (second part): the trial robot sends its anomalous batch as the bridge sends alert telemetry, signed for the
ingest's priority lane (sigma_protocol.INGEST_PRIORITY_PATH: the same ingest replicas, the lane's own slot and
reserved connection; docs/device-protocol.md "Priority lane"). `--bulk-lane` is the before (the batch signed for
the bulk path, queueing behind the background's batches).

Round 14: the decision path is the deployment's (docs/deploy.md "The decision path"): the bridge's `decision_url`
sends the downlink and its priority-lane batches to replicas that take no bulk ingest, so the trial's batch now goes,
signed for the priority lane, to the downlink replica (round 5's `--trigger-lane` what-if, made the layout);
`--shared-lane` is the before (the priority lane in the ingest replicas, sharing their event loops with bulk).

    source scripts/env.sh && python bench/decision_latency.py [--trials 100] [--load-robots 16] [--workers 2]
        [--rate 50000] [--single-api] [--alert-loops 1] [--bulk-lane | --shared-lane] [--decision-nice 0]
        [--db-priority]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).parent))
from cloud_common import Stack, encode_batch_fast, free_port
from cloud_ingest import load
from fleet_scale import HttpConnection

import sigma_protocol as protocol


def battery(seq: int, ts: float, voltage: float) -> dict:
    return {"seq": seq, "ts": ts, "channel": "battery", "payload": {"voltage": voltage, "current": 3.2,
                                                                   "percentage": 0.8}}


async def post_events(client: httpx.AsyncClient, robot_id: str, seed: str, events: list[dict],
                      path: str = protocol.INGEST_PATH) -> str:
    """Post one signed batch (to `path`: INGEST_PRIORITY_PATH for the priority lane); returns the lane that stored
    it (the answer's X-Sigma-Lane)."""
    body = protocol.encode_batch(robot_id, events)
    headers = protocol.sign_request(seed, "POST", path, robot_id, body, time.time())
    headers["Content-Type"] = "application/json"
    r = await client.post(path, content=body, headers=headers)
    r.raise_for_status()
    return r.headers.get(protocol.HEADER_LANE, "bulk")


async def await_applied(client: httpx.AsyncClient, robot_id: str, seed: str, deadline: float
                        ) -> tuple[float, float]:
    """The robot emulator: long-poll until a decision arrives, ack it 'applied'; returns when (wall clock) the
    decision was in hand, decoded (applied: the bridge relays it to the robot at this point, before its ack) and
    when the ack was accepted by the cloud."""
    path = protocol.DECISIONS_PATH.format(robot_id=robot_id) + "?wait=5"
    while time.monotonic() < deadline:
        headers = protocol.sign_request(seed, "GET", path, robot_id, b"", time.time())
        r = await client.get(path, headers=headers)
        r.raise_for_status()
        decisions = protocol.decode_decisions(r.content)
        if decisions:
            received = time.time()
            decision = decisions[0]
            ack = protocol.DECISION_ACK_PATH.format(robot_id=robot_id, decision_id=decision.decision_id)
            body = protocol.encode_decision_ack("applied", f"emulator applied {decision.action}", time.time())
            signed = protocol.sign_request(seed, "POST", ack, robot_id, body, time.time())
            (await client.post(ack, content=body, headers=signed)).raise_for_status()
            return received, time.time()
    raise TimeoutError(f"{robot_id}: no decision within the deadline")


async def trial_cognition(client: httpx.AsyncClient, downlink: httpx.AsyncClient, robot_id: str, seed: str,
                          path: str = protocol.INGEST_PRIORITY_PATH) -> dict[str, Any]:
    """One anomalous batch -> the worker's decision applied; wall-clock stamps of the client's steps. The batch is
    signed for `path`: the priority lane by default, as the bridge sends alert telemetry (sigma_bridge uplink)."""
    waiter = asyncio.create_task(await_applied(downlink, robot_id, seed, time.monotonic() + 30))
    await asyncio.sleep(0.05)  # the long poll is parked
    now = time.time()
    events = [battery(100 + i, now - 2.5 + 2.5 * i / 29, 20.0) for i in range(30)]
    sent = time.time()
    lane = await post_events(client, robot_id, seed, events, path)
    stored = time.time()
    received, applied = await waiter
    return {"robot_id": robot_id, "sent": sent, "stored": stored, "received": received, "applied": applied,
            "lane": lane}


async def trial_operator(client: httpx.AsyncClient, downlink: httpx.AsyncClient, admin: dict, robot_id: str,
                         seed: str) -> tuple[float, float]:
    """An operator's decision -> (applied at the robot, ack accepted) [s] from the POST."""
    waiter = asyncio.create_task(await_applied(downlink, robot_id, seed, time.monotonic() + 30))
    await asyncio.sleep(0.05)
    start = time.time()
    r = await client.post("/v1/decisions", headers=admin, json={
        "robot_id": robot_id, "action": "hold", "confidence": 0.9, "ttl_s": 10,
        "parameters": {"task_id": "operator-hold", "duration": "30"}})
    r.raise_for_status()
    received, applied = await waiter
    return received - start, applied - start


async def phase(url: str, downlink_url: str, admin: dict, probes: list[tuple[str, str]], trials: int,
                trigger_url: str | None = None, trial_path: str = protocol.INGEST_PRIORITY_PATH
                ) -> tuple[list[dict[str, Any]], list[tuple[float, float]]]:
    """`trials` of each path: the telemetry batch (signed for `trial_path`) / operator POST go to the ingest API at
    `url` (the trial's batch to `trigger_url` when given: the decision path's replica, as a bridge with
    `decision_url` sends it), the robot emulator's long poll and ack to `downlink_url`."""
    cognition, operator = [], []
    limits = httpx.Limits(max_connections=8)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as client, \
            httpx.AsyncClient(base_url=downlink_url, timeout=30, limits=limits) as downlink, \
            httpx.AsyncClient(base_url=trigger_url or url, timeout=30, limits=limits) as trigger:
        for i in range(trials):
            rid, seed = probes[2 * i]
            cognition.append(await trial_cognition(trigger, downlink, rid, seed, trial_path))
            rid, seed = probes[2 * i + 1]
            operator.append(await trial_operator(client, downlink, admin, rid, seed))
    return cognition, operator


async def warm(url: str, probes: list[tuple[str, str]]) -> None:
    now = time.time()
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        for rid, seed in probes:
            await post_events(client, rid, seed, [battery(1 + i, now - 10 + i * 0.1, 48.0 + 0.01 * (i % 7))
                                                  for i in range(40)])


async def paced_robot(conn: HttpConnection, robot_id: str, seed: str, period: float, stop: float,
                      stats: dict[str, int], done: Any, ready: Any) -> None:
    """One background robot: a signed 1000-event batch every `period` seconds (no catch-up burst when late), until
    `stop` (monotonic) or the `done` event."""
    seq, due = 1, time.monotonic()
    while time.monotonic() < stop and not done.is_set():
        body = encode_batch_fast(robot_id, seq, 1000, time.time())
        while True:  # retry (re-signed) until acknowledged, as the bridge does
            headers = protocol.sign_request(seed, "POST", protocol.INGEST_PATH, robot_id, body, time.time())
            headers["Content-Type"] = "application/json"
            try:
                status, _ = await conn.request("POST", protocol.INGEST_PATH, headers, body)
            except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError):
                status = 0
            if status == 200:
                stats["acked"] += 1000
                stats["robots_acked"] += seq == 1
                if stats["robots_acked"] == stats["robots"]:
                    ready.set()  # every background robot has had a batch accepted: the load is on
                break
            if status and not protocol.is_retryable(status):
                raise RuntimeError(f"{robot_id}: background batch refused with {status}")
            await asyncio.sleep(0.05)
        seq += 1000
        due = max(due + period, time.monotonic() - period)
        await asyncio.sleep(max(0.0, due - time.monotonic()))


async def paced_load(url: str, robots: list[tuple[str, str]], rate: float, seconds: float, done: Any,
                     ready: Any) -> float:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    conns = [HttpConnection(host, int(port)) for _ in robots]
    stats = {"acked": 0, "robots_acked": 0, "robots": len(robots)}
    period = len(robots) * 1000 / rate
    started = time.monotonic()
    try:
        await asyncio.gather(*(paced_robot(conn, rid, seed, period, started + seconds, stats, done, ready)
                               for conn, (rid, seed) in zip(conns, robots, strict=True)))
    finally:
        for conn in conns:
            conn.close()
    return stats["acked"] / (time.monotonic() - started)


def background(url: str, robots: list[tuple[str, str]], seconds: float, rate: float, out: multiprocessing.Queue,
               done: Any, ready: Any) -> None:
    os.nice(10)  # the load generator stands in for robots elsewhere: it must not starve what it measures
    if rate > 0:
        out.put(asyncio.run(paced_load(url, robots, rate, seconds, done, ready)))
        return
    ready.set()
    _, stats = asyncio.run(load(url, robots, 1000, seconds))
    out.put(stats["acked"] / seconds)


def renice_tree(pid: int, niceness: int) -> None:
    """Set a process and its children (uvicorn's workers) to `niceness`."""
    import psutil

    root = psutil.Process(pid)
    for proc in (root, *root.children(recursive=True)):
        try:
            proc.nice(niceness)
        except psutil.Error as exc:
            print(f"warning: could not renice {proc.pid}: {exc}")


DECISION_APP = "sigma-decision-path"  # PGAPPNAME of the worker's and the downlink replica's connections


def renice_backends(owner_url: str, decision_nice: int, bulk_nice: int = 5) -> int:
    """`--db-priority`: the PostgreSQL backends serving the decision path (application_name DECISION_APP) at
    `decision_nice`, every other client backend (the ingest's, the load's) at `bulk_nice`; PostgreSQL's own processes
    (WAL writer, checkpointer) are left alone. Returns how many backends were reniced. Run again before each phase:
    pools open connections lazily."""
    import psutil

    with psycopg.connect(owner_url, autocommit=True) as conn:
        rows = conn.execute("SELECT pid, application_name = %s FROM pg_stat_activity "
                            "WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()",
                            (DECISION_APP,)).fetchall()
    done = 0
    for pid, decision in rows:
        try:
            set_cpu_priority(pid, decision_nice if decision else bulk_nice)
            done += 1
        except psutil.Error:
            pass
    return done


def set_cpu_priority(pid: int, niceness: int) -> None:
    """The process's nice value and, when it heads an autogroup of its own, that autogroup's nice as well.

    With Linux autogroups (`/proc/sys/kernel/sched_autogroup_enabled`, on for these hosts) the scheduler shares the
    CPU between sessions first and by nice value only inside one; every PostgreSQL backend calls setsid(), so each is
    a session of its own and a plain renice of it changes nothing against other processes (round 22: the reason
    `--db-priority` showed no effect in round 11). Our own autogroup is never touched."""
    import psutil

    psutil.Process(pid).nice(niceness)
    try:
        own = Path("/proc/self/autogroup").read_text().split()[0]
        theirs = Path(f"/proc/{pid}/autogroup")
        if theirs.read_text().split()[0] != own:
            theirs.write_text(str(niceness))
    except OSError:  # no autogroups on this kernel, or no privilege for a negative value: the nice value stands
        pass


def start_downlink_replica(stack: Stack, env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    """A second API process (1 uvicorn worker) on the same database, for the robots' downlink only."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "sigma_cloud.app.asgi:app", "--host", "127.0.0.1",
                             "--port", str(port), "--workers", "1", "--log-level", "warning", "--no-access-log"],
                            env={**env, "SIGMA_MAINTENANCE_INTERVAL_S": "3600", "SIGMA_POOL_MAX_SIZE": "4",
                                 "PGAPPNAME": DECISION_APP})
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while True:
        try:
            if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            raise RuntimeError("the downlink replica did not become ready")
        time.sleep(0.2)


def wait_for_cursors(owner_url: str, count: int, timeout: float = 120.0) -> None:
    """Until the worker has given every warmed-up robot its cursor (else a trial's batch could be taken as history)."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(owner_url, autocommit=True) as conn:
        while (n := conn.execute("SELECT count(*) FROM cognition_cursor").fetchone()[0]) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the cognition worker made {n} of {count} cursors in {timeout:.0f} s")
            time.sleep(0.2)


class Notifications(threading.Thread):
    """LISTEN on the database's own wake-ups, stamped on arrival (wall clock): sigma_telemetry (a probe's batch
    committed by the ingest; migration 0045, sent while the worker has caught up with the robot) and sigma_decisions
    (a decision committed; migration 0003). The owner's connection, in a thread of the bench process."""

    def __init__(self, owner_url: str) -> None:
        super().__init__(daemon=True)
        self.url, self.stop, self.ready = owner_url, threading.Event(), threading.Event()
        self.seen: dict[str, dict[str, list[float]]] = {"sigma_telemetry": {}, "sigma_decisions": {}}

    def run(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            for channel in self.seen:
                conn.execute(f"LISTEN {channel}")
            self.ready.set()
            while not self.stop.is_set():
                for n in conn.notifies(timeout=0.5):
                    self.seen[n.channel].setdefault(n.payload, []).append(time.time())

    def first(self, channel: str, robot_id: str, after: float) -> float | None:
        return next((t for t in self.seen[channel].get(robot_id, []) if t >= after), None)


STAGES = ("client -> ingest transaction starts", "ingest transaction -> committed (NOTIFY)",
          "committed -> worker's pass starts", "worker's pass -> decision committed (NOTIFY)",
          "decision committed -> at the robot (long poll)", "at the robot -> ack accepted (applied)")


def breakdown(owner_url: str, trials: list[dict[str, Any]], notes: Notifications) -> list[list[float]]:
    """Where the time of each cognition trial went, per stage of STAGES [s]: the client's stamps, the database's
    clocks (the batch's ingest transaction start, the decision's = the worker pass's transaction start) and the
    NOTIFY arrivals (same host, one wall clock). Trials with a stamp missing are left out."""
    out: list[list[float]] = [[] for _ in STAGES]
    with psycopg.connect(owner_url, autocommit=True) as conn:
        for t in trials:
            row = conn.execute(
                "SELECT (SELECT extract(epoch FROM min(received_at)) FROM telemetry WHERE robot_id = %(r)s AND "
                "seq >= 100), (SELECT extract(epoch FROM min(created_at)) FROM decisions WHERE robot_id = %(r)s "
                "AND source = 0)", {"r": t["robot_id"]}).fetchone()
            committed = notes.first("sigma_telemetry", t["robot_id"], t["sent"])
            decided = notes.first("sigma_decisions", t["robot_id"], t["sent"])
            if row is None or row[0] is None or row[1] is None or committed is None or decided is None:
                continue
            marks = [t["sent"], float(row[0]), committed, float(row[1]), decided, t["received"], t["applied"]]
            for k in range(len(STAGES)):
                out[k].append(marks[k + 1] - marks[k])
    return out


def print_breakdown(owner_url: str, notes: Notifications,
                    phases: tuple[tuple[str, list[dict[str, Any]]], ...]) -> None:
    for name, trials in phases:
        stages = breakdown(owner_url, trials, notes)
        if not stages[0]:
            print(f"{name} cognition: no trial with every stamp (breakdown unavailable)")
            continue
        print(f"{name} cognition, where the time goes ({len(stages[0])} trials; p50 of the total "
              f"{pct([sum(s) for s in zip(*stages, strict=True)], 0.5):.1f} ms):")
        for label, values in zip(STAGES, stages, strict=True):
            print("  " + line(f"{label:<48}", values), flush=True)


def totals(trials: list[dict[str, Any]], end: str = "received") -> list[float]:
    """Each cognition trial's time [s] from sending its batch to `end`: "received" (the decision applied at the
    robot, the goal's end point) or "applied" (the robot's ack accepted back in the cloud)."""
    return [t[end] - t["sent"] for t in trials]


def report(phase_name: str, trials: list[dict[str, Any]], ops: list[tuple[float, float]]
           ) -> tuple[list[float], list[float], list[float], list[float]]:
    """Print a phase's four lines (cognition and the operator baseline, each to the robot and to the ack back in the
    cloud); returns those four series [s] in that order."""
    series = (totals(trials), totals(trials, "applied"), [o[0] for o in ops], [o[1] for o in ops])
    labels = ("cognition (ingest -> applied at the robot)   ", "cognition (ingest -> robot's ack in the cloud)",
              "operator decision -> at the robot (baseline) ", "operator decision -> ack in the cloud        ")
    for label, values in zip(labels, series, strict=True):
        print(line(f"{phase_name:<6} {label}", values), flush=True)
    return series


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * (len(ordered) - 1) + 0.5))] * 1e3


def line(name: str, values: list[float]) -> str:
    return f"{name}: p50 {pct(values, 0.5):.1f} ms, p99 {pct(values, 0.99):.1f} ms, max {max(values) * 1e3:.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=100, help="trials per path and phase")
    parser.add_argument("--load-robots", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument("--concurrency", type=int, default=2, help="claim loops of the cognition worker")
    parser.add_argument("--idle-only", action="store_true", help="skip the loaded phase (a saturated host)")
    parser.add_argument("--rate", type=float, default=50000.0,
                        help="background ingest target [events/s] (0: as fast as the host allows)")
    parser.add_argument("--single-api", action="store_true",
                        help="round-3 layout: downlink through the ingest API, every process at the same priority")
    parser.add_argument("--alert-loops", type=int, default=1,
                        help="the worker's alert claim loops (SIGMA_COGNITION_ALERT_LOOPS; 0 = round 4's worker)")
    parser.add_argument("--decision-nice", type=int, default=0,
                        help="niceness of the decision path (worker, downlink replica); < 0 needs the privilege")
    parser.add_argument("--shared-lane", action="store_true",
                        help="before (round 5-13): the trial's priority-lane batch goes to the ingest replicas, "
                             "sharing their event loops with bulk ingest; default (round 14): to the decision path's "
                             "replica, as a bridge with decision_url sends it (docs/deploy.md)")
    parser.add_argument("--bulk-lane", action="store_true",
                        help="before (round 5): the trial's batch signed for the bulk path, to the ingest replicas, "
                             "queueing behind the bulk ingest")
    parser.add_argument("--db-priority", action="store_true",
                        help="also renice PostgreSQL's client backends: the decision path's at --decision-nice, "
                             "the others (ingest, load) at +5 (needs the privilege to renice them)")
    args = parser.parse_args()
    replica = None
    with Stack(workers=args.workers) as stack:
        robots = stack.register(4 * args.trials + args.load_robots)
        probes, load_robots = robots[:4 * args.trials], robots[4 * args.trials:]
        admin = stack.admin_headers()
        secrets = json.loads((stack.tmp / "secrets.json").read_text())
        env = {**os.environ, "DATABASE_URL": stack.runtime.owner_url, "SIGMA_DATA_DIR": str(stack.tmp),
               "SIGMA_JWT_SECRET": secrets["jwt_secret"], "SIGMA_API_DB_PASSWORD": secrets["api_db_password"],
               "SIGMA_LOG_LEVEL": "WARNING", "SIGMA_COGNITION_ALERT_LOOPS": str(args.alert_loops)}
        asyncio.run(warm(stack.url, probes))
        downlink_url = stack.url
        if not args.single_api:
            replica, downlink_url = start_downlink_replica(stack, env)
            renice_tree(stack.proc.pid, 5)  # bulk ingest yields the CPU to the decision path
            if args.decision_nice:
                renice_tree(replica.pid, args.decision_nice)
        layout = ("single API" if args.single_api else "downlink replica + ingest at nice 5") + \
            f", {args.alert_loops} alert loop(s)" + (f", decision path at nice {args.decision_nice}"
                                                      if args.decision_nice else "")
        worker = subprocess.Popen([sys.executable, "-m", "sigma_cloud.cli", "cognition", "--concurrency",
                                   str(args.concurrency)], env={**env, "PGAPPNAME": DECISION_APP},
                                  stdout=subprocess.DEVNULL)
        if args.db_priority:
            layout += ", database backends by path"
        shared = args.shared_lane or args.bulk_lane or args.single_api
        trigger = None if shared else downlink_url
        trial_path = protocol.INGEST_PATH if args.bulk_lane else protocol.INGEST_PRIORITY_PATH
        if trigger:
            layout += ", trial batches in the priority lane of the decision path's replica (bridge decision_url)"
        else:
            layout += ", trial batches in the " + ("bulk lane" if args.bulk_lane else "priority lane") + \
                " of the ingest replicas"
        if args.decision_nice:
            renice_tree(worker.pid, args.decision_nice)
        notes = Notifications(stack.runtime.owner_url)
        notes.start()
        notes.ready.wait(30)
        try:
            wait_for_cursors(stack.runtime.owner_url, len(probes))  # each probe's cursor sits at its head first
            if args.db_priority:
                renice_backends(stack.runtime.owner_url, args.decision_nice)
            load_idle = os.getloadavg()[0]
            idle_trials, idle_ops = asyncio.run(phase(stack.url, downlink_url, admin, probes[:2 * args.trials],
                                                     args.trials, trigger, trial_path))
            load_idle = max(load_idle, os.getloadavg()[0])
            print(f"idle phase: host load average (1 min) up to {load_idle:.1f}")
            idle_cog, idle_cog_ack, idle_op, _ = report("idle", idle_trials, idle_ops)
            if args.idle_only:
                print_breakdown(stack.runtime.owner_url, notes, (("idle  ", idle_trials),))
                print(f"decision_latency (idle only): ingest -> applied at the robot p50 {pct(idle_cog, 0.5):.0f} ms "
                      f"p99 {pct(idle_cog, 0.99):.0f} ms (with the ack back in the cloud p50 "
                      f"{pct(idle_cog_ack, 0.5):.0f} / p99 {pct(idle_cog_ack, 0.99):.0f} ms); operator-decision "
                      f"baseline p50 {pct(idle_op, 0.5):.0f} ms p99 {pct(idle_op, 0.99):.0f} ms; ratio p99 "
                      f"{pct(idle_cog, 0.99) / pct(idle_op, 0.99):.2f} "
                      f"({args.trials} trials, {args.concurrency} claim loops, {layout}, load average "
                      f"{load_idle:.1f})")
                return
            ctx = multiprocessing.get_context("spawn")
            queue: multiprocessing.Queue = ctx.Queue()
            done, ready = ctx.Event(), ctx.Event()
            # paced: a cap, the load runs until the loaded phase is over; unpaced: a fixed span (outlasting it)
            seconds = 60.0 + args.trials * 30.0 if args.rate > 0 else max(60.0, args.trials * 3.0)
            bg = ctx.Process(target=background, args=(stack.url, load_robots, seconds, args.rate, queue, done,
                                                             ready))
            bg.start()
            if not ready.wait(120):
                print("warning: the background load had not started after 120 s")
            time.sleep(3.0)  # load reaches steady state
            if args.db_priority:
                renice_backends(stack.runtime.owner_url, args.decision_nice)
            load_loaded = os.getloadavg()[0]
            load_trials, load_ops = asyncio.run(phase(stack.url, downlink_url, admin, probes[2 * args.trials:],
                                                     args.trials, trigger, trial_path))
            load_loaded = max(load_loaded, os.getloadavg()[0])
            done.set()
            rate = queue.get(timeout=seconds + 120)
            bg.join()
            print(f"loaded phase: host load average (1 min) up to {load_loaded:.1f}")
            lanes = [t["lane"] for t in idle_trials + load_trials]
            print(f"trial batches stored in the priority lane: {lanes.count('priority')} of {len(lanes)}")
            load_cog, load_cog_ack, load_op, _ = report("loaded", load_trials, load_ops)
            print_breakdown(stack.runtime.owner_url, notes, (("idle  ", idle_trials), ("loaded", load_trials)))
        finally:
            notes.stop.set()
            worker.terminate()
            worker.wait(timeout=20)
            if replica is not None:
                replica.terminate()
                replica.wait(timeout=30)
    print(f"trials={args.trials} per path and phase, uvicorn workers={args.workers}, one cognition worker "
          f"({args.concurrency} claim loops), {layout}, "
          f"background {args.load_robots} robots x 1000-event batches at {rate:,.0f} events/s "
          f"(target {args.rate:,.0f}; 0 = unpaced)")
    print(f"decision_latency: ingest -> applied at the robot p50 {pct(load_cog, 0.5):.0f} ms p99 "
          f"{pct(load_cog, 0.99):.0f} ms under {rate:,.0f} events/s background (target {args.rate:,.0f}; with the "
          f"robot's ack back in the cloud p50 {pct(load_cog_ack, 0.5):.0f} / p99 {pct(load_cog_ack, 0.99):.0f} ms; "
          f"idle p99 {pct(idle_cog, 0.99):.0f} ms; "
          f"operator-decision baseline p99 {pct(load_op, 0.99):.0f} ms loaded, {pct(idle_op, 0.99):.0f} ms idle; "
          f"ratio to the baseline p99 {pct(load_cog, 0.99) / pct(load_op, 0.99):.2f} loaded, "
          f"{pct(idle_cog, 0.99) / pct(idle_op, 0.99):.2f} idle; load average {load_loaded:.1f} loaded, "
          f"{load_idle:.1f} idle; {layout})")


if __name__ == "__main__":
    main()

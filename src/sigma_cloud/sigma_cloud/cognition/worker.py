"""The fleet-cognition worker (`sigma-cloud cognition`): its own process, no ROS, as many as needed.

Each pass claims robots with unconsumed telemetry one at a time (SKIP LOCKED on cognition_cursor, so workers share
the fleet), reads the evidence (new telemetry summarised per channel in PostgreSQL, new safety events, latest state,
held tasks, similar past incidents), runs the pure rules (cognition/rules.py) and, in the same transaction, sends
their decisions through the existing downlink (decisions table -> NOTIFY -> robots' long polls), records every act
with its explanation and evidence, stores incident signatures, and moves the cursor with the session memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from sigma_cloud.cognition import drift, gate_pass, rules
from sigma_cloud.cognition.health import ALERTS, ROBOTS, SITE, WorkerHealth
from sigma_cloud.cognition.memory import SessionMemory, Window
from sigma_cloud.cognition.signature import signature
from sigma_cloud.core.db import IDENTITY_SQL, Principal, identity_params, transaction
from sigma_cloud.repositories import cognition as repo
from sigma_cloud.repositories import decisions, incidents, notifications, recordings
from sigma_cloud.repositories import tasks as task_repo

log = logging.getLogger("sigma_cloud.cognition")
ACTOR = Principal(subject="system:cognition", role="fleet_admin")
SIGNATURE_BEFORE_S = 5.0  # telemetry this long before an incident goes into its signature
LEADER_DECISION_TTL_S = 600.0  # as incident response: the leader re-allocates a requeued task
WAKE_CHANNEL = "sigma_telemetry"  # migration 0045: a robot's telemetry advanced while the worker had caught up


def _window(rows: list[tuple[str, int, int, float, float, float, float | None, float | None]]) -> Window | None:
    if not rows:
        return None
    return Window(t_start=min(r[4] for r in rows), t_end=max(r[5] for r in rows), events=sum(r[1] for r in rows),
                  peak={r[0]: r[3] for r in rows}, high_share={r[0]: r[2] / r[1] for r in rows if r[1]},
                  high_span={r[0]: (r[6], r[7]) for r in rows if r[6] is not None and r[7] is not None})


def recording_name(path: Any) -> str | None:
    """The black-box file's name from the robot's path in a safety event (the robot uploads it under that name);
    None when there is none or it is not a valid recording name."""
    if not isinstance(path, str) or not path:
        return None
    name = path.replace("\\", "/").rsplit("/", 1)[-1]
    return name if re.fullmatch(recordings.NAME_PATTERN, name) else None


def _raised(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(str(f.get("rule", "")) for f in value if isinstance(f, dict))


def _floats(value: Any) -> list[float]:
    if isinstance(value, list):
        return [float(v) for v in value if isinstance(v, int | float)]
    return [float(value)] if isinstance(value, int | float) else []


def twin_from(latest: dict[str, Any]) -> rules.TwinReport | None:
    """The robot's latest twin_health payload (sigma_bridge mapping.twin_health) as the rules' report; None when
    absent or malformed (lists of unequal length are cut to the shortest)."""
    if "twin_health" not in latest or not isinstance(latest["twin_health"][1], dict):
        return None
    ts, p = latest["twin_health"]
    names = p.get("name")
    if not isinstance(names, list):
        return None
    cols = [_floats(p.get(k)) for k in ("health", "risk", "confidence", "rul_q05", "rul_q50")]
    modes = p.get("dominant_mode") if isinstance(p.get("dominant_mode"), list) else []
    n = min([len(names), *(len(c) for c in cols)])
    comps = tuple(rules.TwinComponent(str(names[i]), cols[0][i], cols[1][i], cols[2][i], cols[3][i], cols[4][i],
                                      str(modes[i]) if i < len(modes) else "") for i in range(n))
    spoofed = p.get("spoofed_sensors") if isinstance(p.get("spoofed_sensors"), list) else []
    return rules.TwinReport(float(ts), comps, tuple(str(s) for s in spoofed))


def snapshot_from(robot: dict[str, Any], rows: list, events: list[dict[str, Any]], latest: dict[str, Any],
                  tasks: list[dict[str, Any]], now: float) -> rules.Snapshot:
    """Translate the rows read for one robot into the rules' snapshot."""
    window = _window(rows)
    temps: dict[str, float] = {}
    temps_ts = None
    if "actuator_health" in latest:
        temps_ts, payload = latest["actuator_health"]
        names = payload.get("name") if isinstance(payload, dict) else None
        values = _floats(payload.get("temperature")) if isinstance(payload, dict) else []
        if isinstance(names, list) and len(names) == len(values):
            temps = {str(n): v for n, v in zip(names, values, strict=True)}
    battery = None
    if "battery" in latest and isinstance(latest["battery"][1], dict):
        share = _floats(latest["battery"][1].get("percentage"))
        battery = share[0] if share else None
    position = None
    if "odom" in latest and isinstance(latest["odom"][1], dict):
        xyz = _floats(latest["odom"][1].get("position"))
        position = (xyz[0], xyz[1]) if len(xyz) >= 2 else None
    last_ts = max((ts for ts, _ in latest.values()), default=None)
    return rules.Snapshot(
        robot_id=robot["robot_id"], site_id=robot["site_id"], now=now, window=window, last_event_ts=last_ts,
        safety_events=tuple(rules.SafetyEvent(int(e["seq"]), float(e["ts"]), int(e["level"]), e["cause"] or "",
                                              _raised(e["raised"])) for e in events),
        temperatures=temps, temperatures_ts=temps_ts, battery=battery, position=position, twin=twin_from(latest),
        tasks=tuple(rules.HeldTask(str(t["task_id"]), t["kind"], t["state"], task_repo.decision_parameters(t))
                    for t in tasks))


async def _apply(conn: psycopg.AsyncConnection, proposal: rules.Proposal, site_id: str, keep_away_s: float
                 ) -> uuid.UUID | None:
    """Carry out one proposal (a downlink decision, or tasks back to the queue) and record it; returns the decision.
    Tasks taken back from a robot are kept away from it for ``keep_away_s`` (the leader is told to do the same)."""
    decision_id = None
    if proposal.action == "requeue_tasks":
        held = await notifications.open_tasks_of(conn, robot_id=proposal.robot_id)
        requeued = [row for task in held if (row := await notifications.requeue(
            conn, task=task, actor=ACTOR.subject, reason=proposal.explanation[:500],
            keep_away_s=keep_away_s)) is not None]
        lead = await task_repo.leader(conn, site_id=site_id)
        for row in requeued if lead is not None and lead["robot_id"] != proposal.robot_id else ():
            away = {**task_repo.decision_parameters(row), "requeued_from": proposal.robot_id}  # kept away from it
            await decisions.insert(conn, robot_id=lead["robot_id"], site_id=site_id, source=2, confidence=1.0,
                                   action="fleet_task", parameters=away,
                                   ttl_s=LEADER_DECISION_TTL_S, created_by=ACTOR.subject)
    else:
        decision_id = uuid.uuid4()
        await decisions.insert_queued(conn, decision_id=decision_id, robot_id=proposal.robot_id, site_id=site_id,
                                      source=0, confidence=proposal.confidence, action=proposal.action,
                                      parameters=proposal.parameters, ttl_s=proposal.ttl_s, created_by=ACTOR.subject)
    await repo.record_action(conn, robot_id=proposal.robot_id, site_id=site_id, rule=proposal.rule,
                             action=proposal.action, decision_id=decision_id, confidence=proposal.confidence,
                             explanation=proposal.explanation, evidence=proposal.evidence)
    return decision_id


async def process_robot(conn: psycopg.AsyncConnection, robot: dict[str, Any], params: rules.CognitionParams,
                        now: float) -> list[rules.Proposal]:
    """Consume one claimed robot's new data: rules, decisions, incidents, cursor."""
    memory = SessionMemory.from_json(robot["memory"])
    robot_id, site_id, head = robot["robot_id"], robot["site_id"], int(robot["head"])
    since = robot["last_ts"] if robot["last_ts"] > 0 else now - 300.0
    rows, events, latest, held = await repo.evidence(conn, robot_id=robot_id, after_seq=int(robot["last_seq"]),
                                                     head=head, since_ts=since, threshold=params.anomaly_threshold)
    snap = snapshot_from(robot, rows, events, latest, held, now)
    anomaly_sig = None
    # an anomaly streak open or starting (a pass without the anomalous channel's events keeps it open) whose
    # episode has not been held yet: its signature and "seen before?" feed the decision
    if (rules.window_anomalous(snap.window, params) or memory.streaks) and snap.window is not None and \
            rules.hold_episode(memory) is None:
        start = memory.anomaly_since if memory.anomaly_since is not None else snap.window.t_start
        anomaly_sig = signature(await repo.scores_between(conn, robot_id=robot_id, start=start - SIGNATURE_BEFORE_S,
                                                          end=snap.window.t_end))
        near = await incidents.nearest(conn, signature=anomaly_sig, k=5)
        snap = rules.Snapshot(**{**snap.__dict__, "similar": tuple((n["distance"], n["outcome"]) for n in near)})
    proposals, memory = rules.decide(snap, memory, params)
    # every read before the first write: the writes (decisions, acts, incidents, cursor) then go to the database
    # with the COMMIT in one round trip (pipelined_transaction), so the decision is not held up by later reads
    recordings = {int(e["seq"]): recording_name(e.get("recording")) for e in events}
    safety_sigs = [(event, signature(await repo.scores_between(
        conn, robot_id=robot_id, start=event.ts - SIGNATURE_BEFORE_S, end=event.ts + 1.0)))
        for event in snap.safety_events if event.raised]
    for proposal in proposals:
        await _apply(conn, proposal, site_id, params.keep_away_s)
        if proposal.rule == rules.HOLD and not proposal.renewal and anomaly_sig is not None:
            await incidents.insert(conn, robot_id=robot_id, site_id=site_id, kind="anomaly",
                                   at=float(proposal.evidence["anomaly_since"]), summary=proposal.explanation,
                                   signature=anomaly_sig)
    for event, sig in safety_sigs:
        await incidents.insert(conn, robot_id=robot_id, site_id=site_id, kind="safety", at=event.ts,
                               summary=f"safety level {event.level}: {event.cause or ', '.join(event.raised)}",
                               signature=sig, recording=recordings.get(event.seq))
    last_ts = max(robot["last_ts"], snap.window.t_end if snap.window else 0.0)
    await repo.advance(conn, robot_id=robot_id, last_seq=head, last_ts=last_ts, memory=memory.to_json())
    return proposals


@contextlib.asynccontextmanager
async def pipelined_transaction(pool: AsyncConnectionPool, principal: Principal
                                ) -> AsyncIterator[psycopg.AsyncConnection]:
    """`core.db.transaction` in pipeline mode: statements whose results are not read (BEGIN, the identity, the
    pass's writes, COMMIT) travel with the next read, so a pass costs a round trip per read it waits for plus one
    for its writes and COMMIT together — on a loaded host each round trip waits for the CPU twice (docs/cognition.md
    "Decision latency")."""
    async with pool.connection() as conn, conn.pipeline(), conn.transaction():
        await conn.execute(IDENTITY_SQL, identity_params(principal))
        yield conn


async def zone_pass(pool: AsyncConnectionPool, params: rules.CognitionParams, now: float) -> list[rules.Proposal]:
    """The site-level rule: slow robots around zones where people cluster."""
    out: list[rules.Proposal] = []
    async with transaction(pool, ACTOR) as conn:
        sites = await repo.sites_with_human_events(conn, since=now - params.human_window_s)
    for site_id in sites:
        async with transaction(pool, ACTOR) as conn:
            memories = {r["robot_id"]: SessionMemory.from_json(r["memory"])
                        for r in await repo.site_memories(conn, site_id=site_id)}
            running = {t["robot_id"]: t for t in await repo.running_tasks(conn, site_id=site_id)}
            site_robots = []
            for robot_id, memory in memories.items():
                latest = await repo.latest(conn, robot_id=robot_id)
                odom = latest.get("odom", (0.0, {}))[1]
                xyz = _floats(odom.get("position")) if isinstance(odom, dict) else []
                task = running.get(robot_id)
                site_robots.append(rules.SiteRobot(
                    robot_id, (xyz[0], xyz[1]) if len(xyz) >= 2 else None,
                    None if task is None else rules.HeldTask(str(task["task_id"]), task["kind"], task["state"],
                                                             task_repo.decision_parameters(task)),
                    memory.human_events))
            fired = {r: m.fired.get(rules.HUMAN_ZONE, float("-inf")) for r, m in memories.items()}
            for proposal in rules.human_cluster(site_robots, params, now, fired):
                await _apply(conn, proposal, site_id, params.keep_away_s)
                await repo.set_memory(conn, robot_id=proposal.robot_id,
                                      memory=memories[proposal.robot_id].fire(rules.HUMAN_ZONE, now).to_json())
                out.append(proposal)
    return out


async def run_once(pool: AsyncConnectionPool, params: rules.CognitionParams, *, now: float | None = None,
                   max_robots: int = 1000, zones: bool = True, stop: asyncio.Event | None = None,
                   alerts_only: bool = False) -> list[rules.Proposal]:
    """Consume every robot with new data (one transaction each), then the site-level rule; returns what was done.
    `alerts_only`: only robots whose new data holds an alert (repositories/cognition.claim)."""
    done: list[rules.Proposal] = []
    threshold = params.anomaly_threshold if alerts_only else None
    for _ in range(max_robots):
        if stop is not None and stop.is_set():  # a busy fleet always has new data: stop between robots
            break
        async with pipelined_transaction(pool, ACTOR) as conn:
            robot = await repo.claim(conn, alert_threshold=threshold)
            if robot is None:
                break
            done += await process_robot(conn, robot, params, time.time() if now is None else now)
    if zones:
        done += await zone_pass(pool, params, time.time() if now is None else now)
    return done


async def listen_for_telemetry(url: str, wake: asyncio.Event | list[asyncio.Event], stop: asyncio.Event) -> None:
    """Set `wake` (each claim loop's event) on every sigma_telemetry notification (and after each (re)connect, for
    what came meanwhile) until `stop`; a lost connection is retried every second (the claim loops fall back to their
    poll meanwhile)."""
    wakes = wake if isinstance(wake, list) else [wake]

    def wake_all() -> None:
        for event in wakes:
            event.set()

    while not stop.is_set():
        try:
            async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
                await conn.execute(f"LISTEN {WAKE_CHANNEL}")
                wake_all()
                while not stop.is_set():  # re-entered every second to look at `stop`
                    async for _ in conn.notifies(timeout=1.0):
                        wake_all()
                        if stop.is_set():
                            break
        except (psycopg.Error, OSError) as exc:
            log.warning("cognition: telemetry listener lost its connection (%s); retrying", exc)
            wake_all()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=1.0)


async def _claimer(pool: AsyncConnectionPool, params: rules.CognitionParams, poll_s: float, stop: asyncio.Event,
                   wake: asyncio.Event | None = None, alerts_only: bool = False, health: WorkerHealth | None = None,
                   name: str = "") -> None:
    """One claim loop: consume robots with new data until none is left, then wait for a telemetry notification
    (`wake`) or at most `poll_s`. Several run side by side (SKIP LOCKED shares the robots), so one robot's slow pass
    does not hold up the others'. An `alerts_only` loop takes only robots with an alert in their new data: it is
    free when one arrives, however busy the routine loops are with the fleet's ordinary telemetry. Each iteration is
    reported to `health` as loop `name`."""
    while not stop.is_set():
        done: list[rules.Proposal] = []
        if wake is not None:
            wake.clear()  # before the claims: a notification during them makes the wait below return at once
        t0, error = time.monotonic(), ""
        try:
            done = await run_once(pool, params, zones=False, stop=stop, alerts_only=alerts_only)
            for proposal in done:
                log.info("cognition: %s %s -> %s (confidence %.2f)", proposal.robot_id, proposal.rule,
                         proposal.action, proposal.confidence, extra={"robot_id": proposal.robot_id})
        except (psycopg.Error, OSError) as exc:
            log.warning("cognition pass failed: %s", exc)
            error = str(exc) or type(exc).__name__
        except Exception as exc:  # a bug in one robot's pass must not end this claim loop for the fleet
            # (an uncaught exception ended the loop's task silently: the worker ran on, deciding for no one)
            log.exception("cognition pass failed unexpectedly (the robot's pass is rolled back and retried)")
            error = f"{type(exc).__name__}: {exc}"
        if health is not None:
            t1 = time.monotonic()
            health.loop_done(name, ok=not error, now=t1, seconds=t1 - t0, wall=time.time(), error=error,
                             proposals=done)
        if error:
            await asyncio.sleep(1.0)
        if not done:
            with contextlib.suppress(TimeoutError):
                waits = [stop.wait()] if wake is None else [stop.wait(), wake.wait()]
                tasks = [asyncio.ensure_future(w) for w in waits]
                try:
                    await asyncio.wait(tasks, timeout=poll_s, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    for task in tasks:
                        task.cancel()


def loop_names(concurrency: int, alert_loops: int) -> list[str]:
    """The names `serve` reports its loops under (WorkerHealth, the metrics' `loop` label)."""
    return [SITE] + [f"{ROBOTS}-{i + 1}" for i in range(concurrency)] + [f"{ALERTS}-{i + 1}"
                                                                          for i in range(alert_loops)]


async def serve(pool: AsyncConnectionPool, params: rules.CognitionParams, *, poll_s: float = 0.02,
                cursor_every_s: float = 1.0, stop: asyncio.Event | None = None, concurrency: int = 2,
                gate: drift.GateParams | None = None, listen_url: str | None = None, alert_loops: int = 1,
                health: WorkerHealth | None = None) -> None:
    """Run until `stop` is set: `concurrency` claim loops consume robots with new data, and `alert_loops` more only
    robots with an alert in their new data (each waiting, when there is none, for a telemetry notification on
    `listen_url`'s LISTEN connection — migration 0045 — or at most `poll_s`); every `cursor_every_s` new robots get
    cursors, the site-level zone rule runs and the drift gate scores the newly resolved incidents. Database errors
    are logged and retried (the worker never dies of one). Every loop's iterations go to `health` (its loops:
    `loop_names(concurrency, alert_loops)`)."""
    if concurrency < 1 or alert_loops < 0:
        raise ValueError(f"need concurrency >= 1 and alert_loops >= 0, got {concurrency}, {alert_loops}")
    stop = stop or asyncio.Event()
    kinds = [False] * concurrency + [True] * alert_loops
    names = loop_names(concurrency, alert_loops)[1:]
    wakes = [asyncio.Event() for _ in kinds] if listen_url else []
    claimers = [asyncio.create_task(_claimer(pool, params, poll_s, stop, wakes[i] if wakes else None, alerts,
                                             health, names[i]))
                for i, alerts in enumerate(kinds)]
    if listen_url and wakes:
        claimers.append(asyncio.create_task(listen_for_telemetry(listen_url, wakes, stop)))
    try:
        while not stop.is_set():
            t0, error, zoned = time.monotonic(), "", []
            try:
                async with transaction(pool, ACTOR) as conn:
                    await repo.ensure_cursors(conn)
                zoned = await zone_pass(pool, params, time.time())
                for proposal in zoned:
                    log.info("cognition: %s %s -> %s (confidence %.2f)", proposal.robot_id, proposal.rule,
                             proposal.action, proposal.confidence, extra={"robot_id": proposal.robot_id})
                async with transaction(pool, ACTOR) as conn:
                    for record in await gate_pass.drift_pass(conn, gate or drift.GateParams(), ACTOR.subject):
                        log.info("drift gate: %s %s -> %s: %s", record["action"], record["from"], record["to"],
                                 record["why"])
            except (psycopg.Error, OSError) as exc:
                log.warning("cognition site pass failed: %s", exc)
                error = str(exc) or type(exc).__name__
            if health is not None:
                t1 = time.monotonic()
                health.loop_done(SITE, ok=not error, now=t1, seconds=t1 - t0, wall=time.time(), error=error,
                                 proposals=zoned)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=cursor_every_s)
    finally:
        stop.set()
        await asyncio.gather(*claimers, return_exceptions=True)

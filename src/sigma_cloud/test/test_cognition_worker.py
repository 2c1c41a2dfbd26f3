"""The fleet-cognition worker against the real service and database: scored telemetry in through the signed ingest
-> the worker's pass -> a Primary AI decision on the robot's downlink, its explanation and evidence through the API,
an incident with its signature and similar-incident lookup under RLS, several workers sharing robots without
doing anything twice, and the replay of a recorded stream giving the same decisions every time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from test_tasks import manager, mapped_site, running_task

import sigma_protocol as protocol
from sigma_cloud.cognition import rules, worker
from sigma_cloud.core.db import make_pool
from sigma_cloud.repositories import cognition as repo

SITE = "cog-a"
OTHER = "cog-b"
P = rules.CognitionParams()


def battery(seq: int, ts: float, voltage: float) -> dict:
    return {"seq": seq, "ts": ts, "channel": "battery",
            "payload": {"voltage": voltage, "current": 3.2, "percentage": 0.8}}


def post(cloud, robot, events: list[dict]) -> None:
    r = cloud.post_batch(robot, events)
    assert r.status_code == 200, r.text
    robot.next_seq = max(e["seq"] for e in events) + 1


def normal(robot, t0: float, n: int = 40) -> list[dict]:
    return [battery(robot.next_seq + i, t0 + i * 0.05, 48.0 + 0.01 * (i % 7)) for i in range(n)]


def anomalous(robot, t0: float, n: int = 30, span: float = 3.0) -> list[dict]:
    return [battery(robot.next_seq + i, t0 + span * i / (n - 1), 20.0) for i in range(n)]


async def _passes(cloud, count: int = 1, now: float | None = None, workers: int = 1) -> list[rules.Proposal]:
    pools = [make_pool(cloud.runtime.api_url, min_size=1, max_size=2) for _ in range(workers)]
    for pool in pools:
        await pool.open(wait=True, timeout=30)
    try:
        async with worker.transaction(pools[0], worker.ACTOR) as conn:
            await repo.ensure_cursors(conn)
        done: list[rules.Proposal] = []
        for _ in range(count):
            for result in await asyncio.gather(*(worker.run_once(pool, P, now=now) for pool in pools)):
                done += result
        return done
    finally:
        for pool in pools:
            await pool.close()


def passes(cloud, **kw) -> list[rules.Proposal]:
    return asyncio.run(_passes(cloud, **kw))


def test_persistent_anomaly_becomes_an_explained_decision_the_robot_receives(cloud) -> None:
    robot = cloud.robot("cog-r1", SITE)
    cloud.robot("cog-other", OTHER)
    now = time.time()
    post(cloud, robot, normal(robot, now - 20))
    passes(cloud)  # the cursor starts at the robot's head; nothing new
    post(cloud, robot, normal(robot, now - 15))
    assert [p for p in passes(cloud) if p.robot_id == robot.robot_id] == []  # normal telemetry: no decision
    post(cloud, robot, anomalous(robot, now - 4))
    done = [p for p in passes(cloud) if p.robot_id == robot.robot_id]
    assert [p.rule for p in done] == [rules.HOLD]

    admin = cloud.token()
    listed = cloud.http.get("/v1/decisions", params={"robot_id": robot.robot_id}, headers=admin).json()["items"]
    assert [(d["action"], d["source"], d["created_by"]) for d in listed] == [("hold", 0, "system:cognition")]
    decision = listed[0]
    assert decision["confidence"] == done[0].confidence or abs(decision["confidence"] - done[0].confidence) < 1e-6

    why = cloud.http.get(f"/v1/decisions/{decision['decision_id']}/explanation", headers=admin)
    assert why.status_code == 200, why.text
    body = why.json()
    assert body["rule"] == rules.HOLD and "battery" in body["explanation"] and "hold the robot" in body["explanation"]
    assert body["evidence"]["channels"] == ["battery"] and body["evidence"]["peak_score"] >= P.anomaly_threshold
    assert body["evidence"]["lasted_s"] >= P.persist_s

    # the robot's signed long poll gets it (the downlink the bridge relays to cognition/decisions)
    polled = cloud.device_get(robot, protocol.DECISIONS_PATH.format(robot_id=robot.robot_id))
    assert polled.status_code == 200
    assert [d.decision_id for d in protocol.decode_decisions(polled.content)] == [decision["decision_id"]]

    # RLS: another site's manager sees neither the explanation nor the incident
    other = cloud.token("site_manager", (OTHER,))
    assert cloud.http.get(f"/v1/decisions/{decision['decision_id']}/explanation", headers=other).status_code == 404
    incidents = cloud.http.get("/v1/incidents", params={"robot_id": robot.robot_id}, headers=admin).json()["items"]
    assert [i["kind"] for i in incidents] == ["anomaly"]
    assert cloud.http.get("/v1/incidents", params={"robot_id": robot.robot_id}, headers=other).json()["items"] == []
    memory = cloud.http.get(f"/v1/cognition/robots/{robot.robot_id}/memory", headers=admin).json()
    assert memory["memory"]["anomaly_since"] is not None and memory["memory"]["windows"]


def test_the_incident_memory_finds_similar_incidents_and_past_false_alarms_lower_confidence(cloud) -> None:
    manager = cloud.token("site_manager", (SITE,))
    first = cloud.robot("cog-r2", SITE)
    second = cloud.robot("cog-r3", SITE)
    now = time.time()
    for robot in (first, second):
        post(cloud, robot, normal(robot, now - 30))
    passes(cloud)
    post(cloud, first, anomalous(first, time.time() - 3.2))  # fresh: no staleness in the confidence
    confident = next(p for p in passes(cloud) if p.robot_id == first.robot_id)
    incident = cloud.http.get("/v1/incidents", params={"robot_id": first.robot_id}, headers=manager).json()["items"][0]
    resolved = cloud.http.post(f"/v1/incidents/{incident['incident_id']}/resolution", headers=manager,
                               json={"outcome": "false_alarm", "resolution": "sensor cable loose, no fault"})
    assert resolved.status_code == 200 and resolved.json()["outcome"] == "false_alarm"
    bad = cloud.http.post(f"/v1/incidents/{incident['incident_id']}/resolution", headers=manager,
                          json={"outcome": "deleted", "resolution": ""})
    assert bad.status_code == 422
    operator = cloud.token("operator", (SITE,))
    assert cloud.http.post(f"/v1/incidents/{incident['incident_id']}/resolution", headers=operator,
                           json={"outcome": "resolved", "resolution": "x"}).status_code == 403

    post(cloud, second, anomalous(second, time.time() - 3.2))  # the same kind of anomaly on another robot
    doubted = next(p for p in passes(cloud) if p.robot_id == second.robot_id)
    assert doubted.confidence < confident.confidence
    assert "similar past incidents were false alarms" in doubted.explanation
    latest = cloud.http.get("/v1/incidents", params={"robot_id": second.robot_id}, headers=manager).json()["items"][0]
    similar = cloud.http.get(f"/v1/incidents/{latest['incident_id']}/similar", headers=manager)
    assert similar.status_code == 200, similar.text
    items = similar.json()["items"]
    assert items[0]["incident_id"] == incident["incident_id"] and items[0]["distance"] < P.similar_distance
    assert [i["distance"] for i in items] == sorted(i["distance"] for i in items)
    assert all(i["site_id"] == SITE for i in items)
    other = cloud.token("site_manager", (OTHER,))
    assert cloud.http.get(f"/v1/incidents/{latest['incident_id']}/similar", headers=other).status_code == 404


def test_two_workers_share_the_fleet_without_acting_twice(cloud) -> None:
    robots = [cloud.robot(f"cog-w{i}", SITE) for i in range(4)]
    now = time.time()
    for robot in robots:
        post(cloud, robot, normal(robot, now - 30))
    passes(cloud)
    for robot in robots:
        post(cloud, robot, anomalous(robot, now - 5))
    done = [p for p in passes(cloud, workers=2) if p.robot_id.startswith("cog-w")]
    assert sorted(p.robot_id for p in done) == [r.robot_id for r in robots]  # each exactly once
    admin = cloud.token()
    for robot in robots:
        items = cloud.http.get("/v1/decisions", params={"robot_id": robot.robot_id}, headers=admin).json()["items"]
        assert len(items) == 1


def test_replaying_a_recorded_stream_gives_the_same_decisions(cloud) -> None:
    """The same recorded telemetry (stamps relative to a base, `now` passed in) into two fresh robots -> the same
    decisions; the second replay also finds the first one's incidents in the incident memory ("seen before")."""
    outcomes = []
    for name in ("cog-replay-a", "cog-replay-b"):
        base = time.time() - 30
        robot = cloud.robot(name, SITE)
        post(cloud, robot, normal(robot, base))
        passes(cloud, now=base + 5)
        stream = [normal(robot, base + 5, 20), anomalous(robot, base + 6, 20, 1.0), anomalous(robot, base + 7, 20, 1.5),
                  normal(robot, base + 9, 20), anomalous(robot, base + 12, 20, 2.5)]
        seen = []
        for i, batch in enumerate(stream):
            for j, event in enumerate(batch):
                event["seq"] = robot.next_seq + j
            post(cloud, robot, batch)
            seen += [(i, p.rule, p.action, p.renewal, p.parameters["duration"], p.explanation)
                     for p in passes(cloud, now=base + 10 + 2 * i) if p.robot_id == name]
        outcomes.append(seen)
    assert [o[:5] for o in outcomes[0]] == [o[:5] for o in outcomes[1]]
    # batches 1+2: anomalous for 2.5 s -> hold; batch 3 ends the streak; batch 4 alone lasts 2.5 s -> a new hold
    assert [(i, rule, renewal) for i, rule, _, renewal, _, _ in outcomes[0]] == [(2, rules.HOLD, False),
                                                                                (4, rules.HOLD, False)]
    assert all("similar past incident" in o[5] for o in outcomes[1])


def test_twin_health_report_through_the_ingest_leads_to_an_explained_maintenance_decision(cloud) -> None:
    robot = cloud.robot("cog-twin1", SITE)
    now = time.time()
    post(cloud, robot, normal(robot, now - 20))
    passes(cloud)  # cursor at the head
    payload = {"name": ["hip_r", "battery"], "health": [0.3, 1.0], "confidence": [0.9, 1.0], "risk": [0.4, 0.0],
               "rul_q05": [0.8, -1.0], "rul_q50": [1.6, -1.0], "rul_q95": [5.0, -1.0], "window_opens": [0.0, -1.0],
               "window_closes": [0.5, -1.0], "dominant_mode": ["bearing_wear", "capacity_fade"],
               "spoofed_sensors": [], "state_names": [], "state_values": [], "state_std": [], "reasons": [],
               "risk_horizon": 24.0}
    post(cloud, robot, [{"seq": robot.next_seq, "ts": now - 1.0, "channel": "twin_health", "payload": payload}])
    done = [p for p in passes(cloud) if p.robot_id == robot.robot_id]
    assert [(p.rule, p.action) for p in done] == [(rules.MAINTENANCE, "dock")]
    assert "digital twin: hip_r health 0.30, remaining life q05 0.80 h" in done[0].explanation
    actions = cloud.http.get("/v1/cognition/actions", params={"robot_id": robot.robot_id},
                             headers=cloud.token()).json()["items"]
    assert actions[0]["evidence"]["twin_component"] == "hip_r" and actions[0]["decision_id"]


def test_a_degraded_robot_s_task_goes_back_to_the_leader_marked_to_keep_away_from_it(cloud) -> None:
    """The maintenance rule fires for a robot holding a fleet task: the task is re-queued and sent to the site's
    leader as a `fleet_task` decision naming the robot it was taken from (the leader keeps it away from that robot)."""
    site = "cog-keep"
    mapped_site(cloud, site)
    robot, lead = cloud.robot("cog-keep-worn", site), cloud.robot("cog-keep-lead", site)
    task = running_task(cloud, site, robot, lead, term=2, progress=0.2)
    running = {"task_id": task["task_id"], "state": 2, "progress": 0.25, "kind": 1, "step": "test", "reason": "",
               "term": 2}  # under the leader's term 2, as sigma_core's executor reports it
    post(cloud, robot, [{"seq": robot.next_seq, "ts": time.time(), "channel": "task_status", "payload": running}])
    now = time.time()
    post(cloud, robot, normal(robot, now - 20))
    passes(cloud)
    payload = {"name": ["hip_r"], "health": [0.3], "confidence": [0.9], "risk": [0.4], "rul_q05": [0.8],
               "rul_q50": [1.6], "rul_q95": [5.0], "window_opens": [0.0], "window_closes": [0.5],
               "dominant_mode": ["bearing_wear"], "spoofed_sensors": [], "state_names": [], "state_values": [],
               "state_std": [], "reasons": [], "risk_horizon": 24.0}
    post(cloud, robot, [{"seq": robot.next_seq, "ts": now - 1.0, "channel": "twin_health", "payload": payload}])
    still_running = time.time()  # the robot's next report is stamped now, before the take-back
    done = [p.rule for p in passes(cloud) if p.robot_id == robot.robot_id]
    assert done == [rules.MAINTENANCE, rules.REASSIGN]
    detail = cloud.http.get(f"/v1/sites/{site}/tasks/{task['task_id']}", headers=manager(cloud, site)).json()
    assert detail["state"] == "queued" and detail["robot_id"] is None
    sent = cloud.device_get(lead, "/v1/devices/cog-keep-lead/decisions").json()["decisions"]
    again = [d for d in sent if d["action"] == "fleet_task" and d["parameters"].get("task_id") == task["task_id"]]
    assert again and again[-1]["parameters"]["requeued_from"] == "cog-keep-worn"
    # the worn robot's "in progress", stamped before the take-back, arrives after it (a main-command run saw this):
    # refused as older than the current assignment, never handing the task back to the robot it was taken from
    late = {"task_id": task["task_id"], "state": 2, "progress": 0.3, "kind": 1, "step": "test", "reason": ""}
    post(cloud, robot, [{"seq": robot.next_seq, "ts": still_running, "channel": "task_status", "payload": late}])
    detail = cloud.http.get(f"/v1/sites/{site}/tasks/{task['task_id']}", headers=manager(cloud, site)).json()
    assert detail["state"] == "queued" and detail["robot_id"] is None, detail["history"][-2:]
    assert any(r["robot_id"] == robot.robot_id and "older than the current assignment" in r["reason"]
               for r in detail["refused_reports"])
    # ... and one stamped AFTER the take-back, before the leader's cancel reached the robot (a clean-clone CI run of
    # the main command saw "r3 -> r3" this way): refused too, under the term it held the task in (migration 0017)
    for state, term in ((2, 2), (0, 2), (2, 0)):
        after = {**late, "state": state, "term": term}
        post(cloud, robot, [{"seq": robot.next_seq, "ts": time.time(), "channel": "task_status", "payload": after}])
        detail = cloud.http.get(f"/v1/sites/{site}/tasks/{task['task_id']}", headers=manager(cloud, site)).json()
        assert detail["state"] == "queued" and detail["robot_id"] is None, detail["history"][-2:]
    kept = [r for r in detail["refused_reports"] if "taken back from robot cog-keep-worn" in r["reason"]]
    assert [r["state"] for r in kept] == [2, 0, 2], detail["refused_reports"]
    # a newer leader's assignment (term 3, which may not have heard of the take-back) is a new holding: applied
    newer = {**late, "state": 0, "term": 3}
    post(cloud, robot, [{"seq": robot.next_seq, "ts": time.time(), "channel": "task_status", "payload": newer}])
    detail = cloud.http.get(f"/v1/sites/{site}/tasks/{task['task_id']}", headers=manager(cloud, site)).json()
    assert (detail["state"], detail["robot_id"], detail["term"]) == ("assigned", robot.robot_id, 3)


async def _cursor_given(cloud, robot, deadline: float) -> None:
    """Wait (until the monotonic ``deadline``) for the serving worker to give ``robot`` a cursor."""
    while not await asyncio.to_thread(lambda: cloud.http.get(
            f"/v1/cognition/robots/{robot.robot_id}/memory", headers=cloud.token()).status_code == 200):
        assert time.monotonic() < deadline, "the worker gave the robot no cursor"
        await asyncio.sleep(0.1)


async def _serve_until_decided(cloud, robot, pool_size: int, undecided: Callable[[], str],
                               **serve: Any) -> list[dict]:
    """Serve the worker until it gave ``robot`` a cursor, post an anomaly and wait for the decision about it (the
    worker still running); stop it and return the robot's cognition actions. ``undecided``: the timeout's message."""
    pool = make_pool(cloud.runtime.api_url, min_size=1, max_size=pool_size)
    await pool.open(wait=True, timeout=30)
    stop = asyncio.Event()
    task = asyncio.create_task(worker.serve(pool, P, poll_s=0.05, stop=stop, **serve))
    try:
        deadline = time.monotonic() + 60
        await _cursor_given(cloud, robot, deadline)
        await asyncio.to_thread(post, cloud, robot, anomalous(robot, time.time() - 3.5))
        while not (acts := await asyncio.to_thread(lambda: cloud.http.get(
                "/v1/cognition/actions", params={"robot_id": robot.robot_id},
                headers=cloud.token()).json()["items"])):
            assert time.monotonic() < deadline, undecided()
            await asyncio.sleep(0.1)
        assert not task.done(), task
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=30)  # stops between robots, even with data still coming
        await pool.close()
    return acts


def test_the_serving_worker_decides_with_several_claim_loops_and_stops_on_request(cloud) -> None:
    robot = cloud.robot("cog-serve1", SITE)
    now = time.time()
    post(cloud, robot, normal(robot, now - 20))
    acts = asyncio.run(_serve_until_decided(cloud, robot, 3, lambda: "no decision from the serving worker",
                                            concurrency=2))
    assert [a["rule"] for a in acts] == [rules.HOLD]


def test_a_pass_that_raises_is_logged_and_the_claim_loop_goes_on(cloud, monkeypatch, caplog) -> None:
    """A bug in a robot's pass (here: the rules raise twice) rolls the pass back and is logged; the claim loop
    goes on and the robot is decided about on a later pass (an uncaught exception used to end the loop's task
    silently)."""
    robot = cloud.robot("cog-raise1", SITE)
    post(cloud, robot, normal(robot, time.time() - 20))
    decide, failures = rules.decide, []

    def flaky(*args, **kwargs):
        if len(failures) < 2:
            failures.append(1)
            raise RuntimeError("a bug in a rule")
        return decide(*args, **kwargs)

    monkeypatch.setattr(worker.rules, "decide", flaky)
    with caplog.at_level("ERROR", logger="sigma_cloud.cognition"):
        acts = asyncio.run(_serve_until_decided(cloud, robot, 2, lambda: f"no decision after {len(failures)} failed "
                                                "pass(es)", concurrency=1, alert_loops=0))
    assert len(failures) == 2 and [a["rule"] for a in acts] == [rules.HOLD]
    assert sum("failed unexpectedly" in r.getMessage() for r in caplog.records) == 2


def test_new_telemetry_wakes_the_worker_without_polling(cloud) -> None:
    """Migration 0045 + LISTEN sigma_telemetry: with a fallback poll of 120 s, the worker still decides within
    seconds of the batch (the ingest's commit notifies it)."""
    robot = cloud.robot("cog-wake1", SITE)
    post(cloud, robot, normal(robot, time.time() - 20))

    async def scenario() -> tuple[list[dict], float]:
        pool = make_pool(cloud.runtime.api_url, min_size=1, max_size=3)
        await pool.open(wait=True, timeout=30)
        stop = asyncio.Event()
        task = asyncio.create_task(worker.serve(pool, P, poll_s=120.0, stop=stop, concurrency=1,
                                                listen_url=cloud.runtime.api_url))
        try:
            deadline = time.monotonic() + 60
            await _cursor_given(cloud, robot, deadline)
            await asyncio.sleep(1.0)  # the claim loop has found nothing and sleeps (fallback 120 s)
            sent = time.monotonic()
            await asyncio.to_thread(post, cloud, robot, anomalous(robot, time.time() - 3.5))
            while not (acts := await asyncio.to_thread(lambda: cloud.http.get(
                    "/v1/cognition/actions", params={"robot_id": robot.robot_id},
                    headers=cloud.token()).json()["items"])):
                assert time.monotonic() < sent + 60, "the notification did not wake the worker"
                await asyncio.sleep(0.05)
            return acts, time.monotonic() - sent
        finally:
            stop.set()
            await asyncio.wait_for(task, timeout=30)
            await pool.close()

    acts, took = asyncio.run(scenario())
    assert [a["rule"] for a in acts] == [rules.HOLD]
    assert took < 60  # far inside the 120 s fallback: woken by the ingest's NOTIFY


def test_the_alert_claim_takes_an_anomalous_robot_and_leaves_routine_telemetry_to_the_others(cloud) -> None:
    """The alert claim loop (decision latency under load): it claims only robots whose new data holds an alert (a
    channel's newest event at/above the threshold, or a safety event), so an anomaly never waits behind routine
    passes; routine telemetry stays for the ordinary claim loops."""
    routine, alert = cloud.robot("cog-alert-routine", SITE), cloud.robot("cog-alert-hot", SITE)
    now = time.time()
    for robot in (routine, alert):
        post(cloud, robot, normal(robot, now - 20))
    passes(cloud)  # both robots get cursors at their heads

    async def scenario() -> tuple[list[rules.Proposal], dict[str, int], list[rules.Proposal]]:
        pool = make_pool(cloud.runtime.api_url, min_size=1, max_size=2)
        await pool.open(wait=True, timeout=30)
        try:
            await asyncio.to_thread(post, cloud, routine, normal(routine, time.time() - 5))  # older: claimed first
            await asyncio.to_thread(post, cloud, alert, anomalous(alert, time.time() - 3.5))
            hot = await worker.run_once(pool, P, zones=False, alerts_only=True)
            async with worker.transaction(pool, worker.ACTOR) as conn:
                rows = await (await conn.execute(
                    "SELECT c.robot_id, s.last_seq - c.last_seq FROM cognition_cursor c JOIN robot_ingest_state s "
                    "USING (robot_id) WHERE c.robot_id = ANY(%s)", ([routine.robot_id, alert.robot_id],))).fetchall()
            rest = await worker.run_once(pool, P, zones=False)
            return hot, {r: int(n) for r, n in rows}, rest
        finally:
            await pool.close()

    hot, behind, rest = asyncio.run(scenario())
    assert [(p.robot_id, p.rule) for p in hot if p.robot_id in (routine.robot_id, alert.robot_id)] == \
        [(alert.robot_id, rules.HOLD)]
    assert behind == {alert.robot_id: 0, routine.robot_id: 40}  # the routine batch is left for the routine loops
    assert not [p for p in rest if p.robot_id == routine.robot_id]

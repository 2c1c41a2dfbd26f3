"""The drift gate on live traffic, through the real service: people resolve incidents (signature + outcome); the
worker's gate pass scores the fleet model in use and the newest version on each resolution, promotes a better
candidate and refuses a worse one, each verdict in the audit log; the gate's state is readable at /v1/models/gate."""

from __future__ import annotations

import asyncio
import random
import uuid

import orjson
import psycopg

from sigma_cloud.cognition import drift, federated, gate_pass, worker
from sigma_cloud.cognition.federated import FLEET_DIM, NORMAL
from sigma_cloud.cognition.signature import to_pgvector
from sigma_cloud.core.db import make_pool

SITE = "gate-a"
PARAMS = drift.GateParams(margin=0.02, min_samples=30)


def sample(rng: random.Random, fault: bool) -> list[float]:
    x = [rng.gauss(0.0, 1.0) for _ in range(FLEET_DIM)]
    for j in (10, 11, 12) if fault else ():
        x[j] += 4.0
    return x


def publish(cloud, model: federated.Model) -> int:
    """A fleet model version (stored as an aggregation round would store it)."""
    with psycopg.connect(cloud.runtime.owner_url, autocommit=True) as conn:
        version = conn.execute("SELECT coalesce(max(version), 0) + 1 FROM model_versions").fetchone()[0]
        conn.execute("INSERT INTO model_versions (version, model, robots, robust, created_by) VALUES "
                     "(%s, %s, %s, '{}', 'test')", (version, orjson.dumps(federated.to_json(model)).decode(), []))
    return version


def incidents(cloud, robot_id: str, signatures: list[list[float]]) -> list[str]:
    ids = [str(uuid.uuid4()) for _ in signatures]
    with psycopg.connect(cloud.runtime.owner_url, autocommit=True) as conn:
        for incident_id, sig in zip(ids, signatures, strict=True):
            conn.execute("INSERT INTO incidents (incident_id, robot_id, site_id, kind, at, summary, signature) "
                         "VALUES (%s, %s, %s, 'anomaly', now(), 'gate test', %s::vector)",
                         (incident_id, robot_id, SITE, to_pgvector(sig)))
    return ids


def fresh_gate(cloud, considered: int) -> None:
    """The gate as it is before this test's version: no model in use, resolutions so far behind its cursor."""
    state = gate_pass.state_to_json(drift.GateState(live=gate_pass.NO_MODEL), considered)
    with psycopg.connect(cloud.runtime.owner_url, autocommit=True) as conn:
        conn.execute("INSERT INTO model_gate (state, cursor_at) VALUES (%s, clock_timestamp()) ON CONFLICT (singleton) "
                     "DO UPDATE SET state = excluded.state, cursor_at = excluded.cursor_at, cursor_id = NULL",
                     (orjson.dumps(state).decode(),))


def resolve(cloud, manager: dict, labelled: list[tuple[str, bool]]) -> None:
    for incident_id, fault in labelled:
        r = cloud.http.post(f"/v1/incidents/{incident_id}/resolution", headers=manager,
                            json={"outcome": "hardware_fault" if fault else "false_alarm", "resolution": "checked"})
        assert r.status_code == 200, r.text


async def _gate(cloud) -> list[dict]:
    pool = make_pool(cloud.runtime.api_url, min_size=1, max_size=1)
    await pool.open(wait=True, timeout=30)
    try:
        async with worker.transaction(pool, worker.ACTOR) as conn:
            return await gate_pass.drift_pass(conn, PARAMS, worker.ACTOR.subject)
    finally:
        await pool.close()


def gate(cloud) -> list[dict]:
    return asyncio.run(_gate(cloud))


def test_the_gate_promotes_a_better_model_and_refuses_a_worse_one_on_resolved_incidents(cloud) -> None:
    rng = random.Random(3)
    robot = cloud.robot("gate-r1", SITE)
    manager = cloud.token("site_manager", (SITE,))
    with psycopg.connect(cloud.runtime.owner_url, autocommit=True) as conn:
        conn.execute("DELETE FROM model_gate")
    gate(cloud)  # a gate's first pass starts from its defaults (cursor at the epoch, no model in use)
    assert cloud.http.get("/v1/models/gate", headers=manager).json()["live"] == "v0"
    good = federated.fit({NORMAL: [sample(rng, False) for _ in range(200)],
                          "bearing": [sample(rng, True) for _ in range(60)]}, FLEET_DIM)
    v_good = publish(cloud, good)
    fresh_gate(cloud, considered=v_good - 1)  # other tests' versions and resolutions are behind it
    labels = [rng.random() < 0.6 for _ in range(40)]
    ids = incidents(cloud, robot.robot_id, [sample(rng, f) for f in labels])
    resolve(cloud, manager, list(zip(ids[:10], labels[:10], strict=True)))
    assert gate(cloud) == []  # 10 resolutions: not enough for a verdict
    state = cloud.http.get("/v1/models/gate", headers=manager).json()
    assert state["candidate"] == f"v{v_good}" and state["samples"] == 10
    resolve(cloud, manager, list(zip(ids[10:], labels[10:], strict=True)))
    (promoted,) = gate(cloud)
    assert promoted["action"] == "model.promote" and promoted["to"] == f"v{v_good}", promoted
    assert "on the same 30 inputs" in promoted["why"]

    # a worse model: its "normal" sits elsewhere, so it flags normal incidents as faults
    shifted = [[v + (3.0 if 20 <= j < 30 else 0.0) for j, v in enumerate(sample(rng, False))] for _ in range(200)]
    bad = federated.fit({NORMAL: shifted, "bearing": [sample(rng, True) for _ in range(60)]}, FLEET_DIM)
    v_bad = publish(cloud, bad)
    labels = [rng.random() < 0.4 for _ in range(30)]
    ids = incidents(cloud, robot.robot_id, [sample(rng, f) for f in labels])
    gate(cloud)
    resolve(cloud, manager, list(zip(ids, labels, strict=True)))
    (rejected,) = gate(cloud)
    assert rejected["action"] == "model.reject" and rejected["to"] == f"v{v_bad}", rejected
    state = cloud.http.get("/v1/models/gate", headers=manager).json()
    assert state["live"] == f"v{v_good}" and state["candidate"] is None and state["considered"] == v_bad
    assert gate(cloud) == []  # the refused version is not proposed again
    audit = cloud.http.get("/v1/audit", headers=cloud.token()).json()["items"]
    actions = {(a["action"], a["target"]) for a in audit if a["actor"] == "system:cognition"}
    assert {("model.promote", f"v{v_good}"), ("model.reject", f"v{v_bad}")} <= actions

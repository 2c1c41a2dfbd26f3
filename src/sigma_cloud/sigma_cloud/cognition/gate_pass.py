"""The drift gate on live traffic (docs/cognition.md, "Drift gate"): the worker's periodic pass.

The fleet model in use (`live`, "v0" = no model: everything is judged normal) and the newest published version
(`candidate`) classify the signature of every incident people resolve, in the order they were resolved; the outcome
is the label (`false_alarm` = normal, every other outcome = a fault). The pure gate (cognition/drift.py) promotes
the candidate when its quality is not worse than the live one's by more than the margin over `min_samples`
resolutions, rejects it otherwise, and rolls a promoted model back when its live quality falls below its
predecessor's; every verdict is appended to the audit log (actor system:cognition) in the same transaction.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import psycopg

from sigma_cloud.cognition import drift, federated
from sigma_cloud.repositories import audit
from sigma_cloud.repositories import gate as repo

NO_MODEL = "v0"


def state_to_json(state: drift.GateState, considered: int) -> dict[str, Any]:
    """The stored form: the gate's state and the newest version it has taken up (never proposed twice)."""
    return {"gate": dataclasses.asdict(state), "considered": considered}


def state_from_json(data: Any) -> tuple[drift.GateState, int]:
    """The stored state (a fresh gate on `v0` when absent or unreadable)."""
    try:
        gate = data["gate"]
        return drift.GateState(**{**gate, "live_since_promotion": tuple(gate.get("live_since_promotion", (0, 0)))}), \
            int(data.get("considered", 0))
    except (TypeError, AttributeError, KeyError, ValueError):
        return drift.GateState(live=NO_MODEL), 0


def _number(name: str | None) -> int:
    return int(name[1:]) if name and name.startswith("v") and name[1:].isdigit() else 0


def _label_is_fault(outcome: str) -> bool:
    return outcome != "false_alarm"


def _judge(model: federated.Model | None, x: list[float]) -> bool:
    """Does the model call this signature a fault? (no model: never)"""
    return model is not None and federated.classify(model, x) != federated.NORMAL


async def drift_pass(conn: psycopg.AsyncConnection, params: drift.GateParams, actor: str
                     ) -> list[dict[str, Any]]:
    """One pass in the caller's transaction: propose the newest version, score new resolutions, decide, audit.
    Returns the audit records written."""
    row = await repo.lock_state(conn, initial=state_to_json(drift.GateState(live=NO_MODEL), 0))
    state, considered = state_from_json(row["state"])
    newest = await repo.newest_version(conn)
    if state.candidate is None and newest > considered:
        state, considered = drift.propose(state, f"v{newest}"), newest
    inputs = await repo.resolved_after(conn, cursor_at=row["cursor_at"], cursor_id=row["cursor_id"])
    wanted = [n for n in {_number(state.live), _number(state.candidate)} if n > 0]
    stored = await repo.version_models(conn, versions=wanted)
    models = {n: federated.from_json(m, federated.FLEET_DIM) for n, m in stored.items()}
    records: list[dict[str, Any]] = []
    cursor_at, cursor_id = row["cursor_at"], row["cursor_id"]
    for item in inputs:
        x = [float(v) for v in item["signature"].strip("[]").split(",")]
        truth = _label_is_fault(item["outcome"])
        live_right = _judge(models.get(_number(state.live)), x) == truth
        cand_right = None if state.candidate is None else _judge(models.get(_number(state.candidate)), x) == truth
        state = drift.observe(state, live_right=live_right, candidate_right=cand_right)
        cursor_at, cursor_id = item["resolved_at"], item["incident_id"]
        state, record = drift.decide(state, params, actor)
        if record is not None:
            records.append(record)
            await audit.append(conn, actor=actor, action=record["action"], site_id=None, target=record["to"],
                               detail={"from": record["from"], "why": record["why"]})
    await repo.save_state(conn, state=state_to_json(state, considered), cursor_at=cursor_at, cursor_id=cursor_id)
    return records

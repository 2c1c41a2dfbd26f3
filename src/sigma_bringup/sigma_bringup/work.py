"""The demo's work orders: real tasks for sigma_core's executor through the task contract (docs/contracts.md),
and the checks on what each robot's executor reported. Pure: no ROS, plain values (Task/TaskStatus codes)."""

from __future__ import annotations

from dataclasses import dataclass

from sigma_bringup.scenario import Check

KIND_GO_TO, KIND_DELIVER = 0, 1                     # sigma_interfaces/Task.KIND_*
ACCEPTED, REFUSED, ACTIVE, SUCCEEDED = 0, 1, 2, 3   # sigma_interfaces/TaskStatus.STATE_*
STATE_NAMES = {0: "accepted", 1: "refused", 2: "active", 3: "succeeded", 4: "failed", 5: "canceled", 6: "preempted"}


@dataclass(frozen=True)
class WorkOrder:
    """One task for one robot (Task message fields)."""

    robot: str
    kind: int
    what: str                     # for the summary
    place: str = ""
    pickup: str = ""
    dropoff: str = ""
    payload_mass: float = 0.0
    must_finish: bool = True      # False: a task that a scripted fault stops on purpose (accepted is enough)


# Spawns (worlds/warehouse.yaml): r1 (-10, 0), r2 (-7, 0), r3 (-4, 0), all facing +x along the cross aisle.
ORDERS = (
    # r1 picks in the aisle north of the cross aisle first: shelf_2_0's pick point (-8, 0.9) is within the robots'
    # separation of r2's spawn, where r2 stands while the scripted person stops it; r1 drops there later.
    WorkOrder("r1", KIND_DELIVER, "tote shelf_3_0 → shelf_2_0 (3 kg)", pickup="shelf_3_0", dropoff="shelf_2_0",
              payload_mass=3.0),
    WorkOrder("r2", KIND_GO_TO, "drive along the cross aisle to (6, 0)", place="6,0"),
    # r3 ends in the west of the south row, where it starts the hand-over task (handover.py) towards the east.
    WorkOrder("r3", KIND_DELIVER, "tote shelf_0_1 → shelf_0_0 (3 kg)", pickup="shelf_0_1", dropoff="shelf_0_0",
              payload_mass=3.0),
)


@dataclass(frozen=True)
class TaskReport:
    """The latest TaskStatus of a robot's task, reduced to what the summary shows."""

    state: int
    step: str
    progress: float
    reason: str
    commander: int


def task_checks(orders: tuple[WorkOrder, ...], reports: dict[str, TaskReport | None]) -> list[Check]:
    """Every robot accepted its order; the orders that must finish succeeded (with the executor's reason if not)."""
    checks = []
    for o in orders:
        r = reports.get(o.robot)
        if r is None:
            checks.append(Check(f"{o.robot}: task {o.what}", False, "no answer on tasks/status"))
            continue
        state = STATE_NAMES.get(r.state, str(r.state))
        if not o.must_finish:
            ok = r.state != REFUSED
            checks.append(Check(f"{o.robot}: task accepted, stopped by safety", ok,
                                f"{state} at {r.step or '-'} ({r.progress:.0%}) {r.reason}".strip()))
            continue
        ok = r.state == SUCCEEDED
        detail = "succeeded" if ok else f"{state} at {r.step or '-'} ({r.progress:.0%}): {r.reason or '-'}"
        checks.append(Check(f"{o.robot}: task {o.what}", ok, detail))
    return checks

"""Cost terms: travel on the injected distance, payload, battery with charging insertion, twin risk, queue."""

import numpy as np
import pytest

from sigma_tasks.allocator import TaskBoard
from sigma_tasks.cost import CostParams, RobotState, pairwise
from sigma_tasks.model import TaskKind, TaskSpec
from sigma_tasks.states import TaskState


def deliver(tid, a="shelf_0_0", b="packing", kg=5.0, **kw):
    return TaskSpec(tid, TaskKind.DELIVER, pickup=a, dropoff=b, payload_kg=kg, **kw)


def robot(rid, x=0.0, y=-6.0, **kw):
    return RobotState(rid, (x, y), **kw)


def allocate_one(site, spec, robots, now=0.0, **board_kw):
    board = TaskBoard(site, leader="L", term=1, **board_kw)
    board.add(spec, at=now, actor="test")
    res = board.allocate(robots, now=now, term=1)
    return board, res


def test_nearest_robot_wins_on_travel_time(site):
    _, res = allocate_one(site, deliver("t"), [robot("far", 13.0, 8.0), robot("near", -8.0, -5.0)])
    assert [(a.task_id, a.robot_id) for a in res.assignments] == [("t", "near")]
    # empty leg 1 m + loaded leg shelf_0_0 -> packing (21 + 6 m) at 1 m/s + 2 x 15 s handling
    expected = 1.0 + np.hypot(21.0, 6.0) + 30.0
    assert res.assignments[0].cost_s == pytest.approx(expected, rel=1e-6)


def test_distance_function_is_injected(site):
    manhattan = pairwise(lambda a, b: abs(a[0] - b[0]) + abs(a[1] - b[1]))
    board = TaskBoard(site, leader="L", term=1, dist=manhattan)
    board.add(deliver("t"), at=0.0, actor="test")
    res = board.allocate([robot("r", -8.0, -2.0)], now=0.0, term=1)
    assert res.assignments[0].cost_s == pytest.approx(4.0 + 21.0 + 6.0 + 30.0)


def test_payload_above_capability_is_infeasible_with_a_reason_and_retry(site):
    board, res = allocate_one(site, deliver("t", kg=40.0), [robot("r", max_payload_kg=20.0)])
    assert res.assignments == []
    assert "payload" in res.infeasible["t"]
    rec = board.records["t"]
    assert rec.state is TaskState.QUEUED and "payload" in rec.last_infeasible and rec.retry_at == 5.0
    # Not retried before retry_at; a capable robot joining later takes it.
    assert board.allocate([robot("big", max_payload_kg=50.0)], now=1.0, term=1).assignments == []
    res = board.allocate([robot("big", max_payload_kg=50.0)], now=5.0, term=1)
    assert [a.robot_id for a in res.assignments] == ["big"]


def test_low_battery_inserts_a_charging_task_first(site):
    low = robot("r", -12.0, -8.0, battery_wh=153.0, capacity_wh=1000.0)
    board, res = allocate_one(site, deliver("t"), [low])
    assert [a.task_id for a in res.assignments] == ["charge-r-t", "t"]
    assert res.assignments[1].charge_first
    charge = board.records["charge-r-t"]
    assert charge.spec.kind is TaskKind.CHARGE and charge.spec.place == "dock_1"
    assert charge.state is TaskState.ASSIGNED and "battery" in charge.history[0].reason
    # With a full battery the same robot goes straight away and is done sooner.
    _, direct = allocate_one(site, deliver("t"), [robot("r", -12.0, -8.0)])
    assert [a.task_id for a in direct.assignments] == ["t"]
    assert direct.assignments[0].finish_at < res.assignments[1].finish_at


def test_battery_too_small_even_when_full(site):
    tiny = robot("r", battery_wh=2.0, capacity_wh=2.0)
    _, res = allocate_one(site, deliver("t"), [tiny])
    assert "battery" in res.infeasible["t"]


def test_degraded_motor_gets_no_heavy_or_long_task(site):
    sick = robot("sick", -8.0, -5.0, degraded=True)
    well = robot("well", 13.0, 8.0)
    _, res = allocate_one(site, deliver("heavy", kg=15.0), [sick, well])
    assert res.assignments[0].robot_id == "well"
    _, res = allocate_one(site, deliver("light", kg=1.0, b="shelf_0_1"), [sick, well])
    assert res.assignments[0].robot_id == "sick"
    _, res = allocate_one(site, deliver("long", kg=1.0), [robot("sick", -8.0, -5.0, degraded=True, speed_mps=0.05)])
    assert "long" in res.infeasible["long"]


def test_maintenance_window_blocks_tasks_that_would_run_into_it(site):
    _, res = allocate_one(site, deliver("t"), [robot("r", -8.0, -5.0, maintenance_at=30.0)])
    assert "maintenance" in res.infeasible["t"]
    _, res = allocate_one(site, deliver("t"), [robot("r", -8.0, -5.0, maintenance_at=3600.0)])
    assert res.assignments


def test_queue_and_priority(site):
    # Two tasks, one robot: the higher-priority one is assigned first (round 1), the other queued behind it.
    board = TaskBoard(site, leader="L", term=1)
    board.add(deliver("low", a="shelf_0_0", priority=0), at=0.0, actor="t")
    board.add(deliver("high", a="shelf_3_2", priority=9), at=0.0, actor="t")
    res = board.allocate([robot("r", -8.0, -5.0)], now=0.0, term=1)
    assert [a.task_id for a in res.assignments] == ["high", "low"]
    assert res.assignments[1].finish_at > res.assignments[0].finish_at


def test_lateness_is_penalised(site):
    params = CostParams()
    _, res = allocate_one(site, deliver("t", deadline=10.0), [robot("r", -8.0, -5.0)], params=params)
    a = res.assignments[0]
    assert a.cost_s == pytest.approx(a.finish_at + params.lateness_weight * (a.finish_at - 10.0))

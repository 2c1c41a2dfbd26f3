"""What a robot can take on reaches the leader's cost: battery (a charging stop inserted when it does not suffice),
the executor's payload limit, the twin's risk (degraded motor, maintenance window) and safety stops; the term
travels to the executor; snapshots stay within the mesh limit; the cloud claim is signed and its answer parsed."""

from __future__ import annotations

import json
import math
import os

import pytest
from sigma_fleet_tasks.capability import Capability, CapabilityParams, CapabilityTracker, battery_energy, motor_risk
from sigma_fleet_tasks.duty import ASSIGN, MESH_LIMIT, LeaderDuty, RobotDuty, encode_snapshot
from test_duty import BOARD, SITE, TASK

import sigma_protocol as protocol
from sigma_fleet_tasks import cloud_claim
from sigma_tasks.leader import ACTIVE, FAILED, TASK_KIND
from sigma_tasks.model import TaskKind
from sigma_tasks.states import TaskState

HEAVY = {**TASK, "payload_mass": "8"}  # above the 5 kg a degraded motor may carry
P = CapabilityParams()


def leader_with(cap_r2: dict, *, now: float = 0.0) -> LeaderDuty:
    """r2 stands at the task's dropoff (nearest by far), r1 across the site; r2 reports `cap_r2`."""
    return LeaderDuty(SITE, leader="r1", term=3, now=now - 30.0, board=BOARD, cooldown_s=60.0,
                      snapshots={"r1": {"at": "dock_1"}, "r2": {"at": "dock_3", "cap": cap_r2}})


def test_a_healthy_robot_nearby_gets_the_task():
    leader = leader_with({"wh": [700.0, 777.0], "kg": 20.0})
    leader.on_decision("fleet_task", HEAVY, now=0.0)
    [req] = leader.tick(["r1", "r2"], [], now=0.0)
    assert req.robot_id == "r2"


@pytest.mark.parametrize(("cap", "why"), [
    ({"deg": "left_knee health 0.30"}, "degraded motor: no heavy task"),
    ({"kg": 4.0}, "payload above the robot's capability"),
    ({"mw": 20.0}, "maintenance window"),
    ({"stop": 1}, "robot unavailable"),
])
def test_the_nearest_robot_is_passed_over_for_its_reported_risk(cap, why):
    leader = leader_with(cap)
    leader.on_decision("fleet_task", HEAVY, now=0.0)
    [req] = leader.tick(["r1", "r2"], [], now=0.0)
    assert req.robot_id == "r1"
    alone = leader_with(cap)  # with r2 alone, the task stays queued with the reason in words
    alone.on_decision("fleet_task", HEAVY, now=0.0)
    assert alone.tick(["r2"], [], now=0.0) == []
    assert why in alone.tasks.board.records["t1"].last_infeasible


def test_a_battery_that_does_not_suffice_gets_a_charging_stop_first():
    leader = leader_with({"wh": [118.0, 777.0]})  # just above the 15 % reserve: not enough for the walk
    leader.on_decision("fleet_task", TASK, now=0.0)
    charge, task = leader.tick(["r2"], [], now=0.0)
    assert (charge.robot_id, charge.kind, charge.place) == ("r2", TASK_KIND[TaskKind.CHARGE], "dock_3")
    assert charge.charge_to == pytest.approx(0.95) and task.task_id == "t1" and task.robot_id == "r2"
    assert "after a charging stop" in leader.tasks.board.records["t1"].history[-1].reason
    assert leader_with({"wh": [118.0, 777.0]}).tick(["r2"], [], now=0.0) == []  # nothing to do, nothing sent
    full = leader_with({"wh": [700.0, 777.0]})
    full.on_decision("fleet_task", TASK, now=0.0)
    assert [r.task_id for r in full.tick(["r2"], [], now=0.0)] == ["t1"]


def test_the_robot_measures_its_capability_from_its_topics():
    cap = CapabilityTracker(P)
    assert cap.current().to_wire() == {}  # nothing measured: the leader uses its defaults
    cap.on_battery(0.5, math.nan, 15.0)
    cap.on_payload_limit(12.5)
    cap.on_twin([("left_knee", math.nan, math.nan), ("right_knee", 0.9, 0.6)], 3600.0, now=1000.0)
    wire = cap.current().to_wire()
    assert wire == {"wh": [388.5, 777.0], "kg": 12.5, "deg": "right_knee risk 0.60", "mw": 4600.0}
    back = Capability.from_wire(json.loads(json.dumps(wire)))
    assert back.degraded and back.maintenance_at == 4600.0 and back.payload_kg == 12.5
    cap.on_twin([("right_knee", 0.95, 0.01)], None, now=1001.0)  # healed by maintenance: no window, no risk
    assert "deg" not in cap.current().to_wire() and "mw" not in cap.current().to_wire()
    assert battery_energy(math.nan, math.nan, math.nan, P) is None
    assert battery_energy(0.25, math.nan, math.nan, P) == pytest.approx((0.25 * 777.0, 777.0))
    assert motor_risk([("hip", 0.2, 0.0)], P) == "hip health 0.20"


@pytest.mark.parametrize(("bad", "field"), [({"wh": [1.0]}, "cap.wh"), ({"wh": [1.0, 0.0]}, "cap.wh[1]"),
                                            ({"kg": "x"}, "cap.kg"), ({"mw": float("nan")}, "cap.mw"), ([], "cap")])
def test_a_malformed_capability_is_a_plain_error_naming_the_field(bad, field):
    with pytest.raises(ValueError, match=field.replace("[", r"\[").replace("]", r"\]")):
        Capability.from_wire(bad)


def test_a_protective_stop_lets_the_tasks_go_after_the_grace_an_emergency_stop_at_once():
    robot = RobotDuty("r2", stop_grace_s=20.0)
    robot.on_command(ASSIGN, 4, {"robot": "r2", "task": "t1", "kind": 1, "lease": 100.0}, now=0.0)
    assert robot.next_request()["term"] == 4  # Task.term: the executor can fence too
    robot.on_status("t1", ACTIVE, "")
    assert robot.on_safety(2, now=1.0) is None  # a person crossing: the task waits
    assert "cap" not in robot.snapshot(now=2.0)  # a moment's stop: still offered (offer_grace_s 2 s)
    assert robot.snapshot(now=3.0)["cap"] == {"stop": 1} and robot.snapshot(now=3.0)["holding"][0] == "t1"
    assert robot.on_safety(2, now=22.0) == "t1"  # 21 s: let it go, reported failed
    assert robot.snapshot()["holding"] is None and robot.failed == [("t1", "protective stop for 21 s")]
    robot.on_safety(0, now=23.0)
    robot.on_command(ASSIGN, 5, {"robot": "r2", "task": "t2", "kind": 0, "lease": 100.0}, now=23.0)
    robot.on_safety(3, now=24.0)
    assert robot.next_request() is None and ("t2", "emergency stop") in robot.failed
    leader = leader_with({})
    leader.on_decision("fleet_task", TASK, now=0.0)
    [req] = leader.tick(["r1", "r2"], [], now=0.0)
    leader.on_snapshot("r2", {"at": "dock_3", "cap": {"stop": 1}, "failed": [["t1", "emergency stop"]]}, now=1.0)
    [again] = leader.tick(["r1", "r2"], [], now=1.0)  # bound: the next leader tick after the report
    assert (req.robot_id, again.robot_id) == ("r2", "r1")
    assert leader.tasks.board.records["t1"].state is TaskState.ASSIGNED


def hot_twin(robot: RobotDuty, risk: float, mode: str = "thermal") -> None:
    robot.cap.on_twin([("left_knee", 0.9, risk), ("right_knee", 1.0, 0.0)], None, now=0.0,
                      modes={"left_knee": mode, "right_knee": "friction"})


def test_an_overheating_robot_hands_its_task_over_never_to_a_robot_that_is_itself_hot():
    """r2 (at the dropoff) runs t1 and its knee overheats (FAILED). r3 stands next to the task too, but the twin
    forecasts its own knee crossing the winding limit (dominant mode thermal): it gets nothing, not even this light,
    short task a degraded-but-cool motor could take; the far r1 does. With only hot robots left the task waits with
    the reason; once r3's twin risk falls, r3 may take work again."""
    r3 = RobotDuty("r3")
    hot_twin(r3, 0.8)
    assert r3.snapshot(now=0.0)["cap"]["hot"] == "left_knee thermal risk 0.80"
    leader = LeaderDuty(SITE, leader="r1", term=3, now=-30.0, board=BOARD, cooldown_s=60.0,
                        snapshots={"r1": {"at": "dock_1"}, "r2": {"at": "dock_3"}, "r3": r3.snapshot(now=0.0)})
    leader.positions["r3"] = "shelf_0_2"  # at the pickup
    leader.on_decision("fleet_task", TASK, now=0.0)
    [first] = leader.tick(["r1", "r2", "r3"], [], now=0.0)
    assert first.robot_id == "r2"
    leader.on_snapshot("r2", {"at": "dock_3", "holding": None, "cap": {"hot": "left_knee thermal risk 1.00"},
                              "failed": [["t1", "left knee motor shut down (overheating)"]]}, now=5.0)
    [handed] = leader.tick(["r1", "r2", "r3"], [], now=5.0)
    assert handed.robot_id == "r1"  # not r2 (it failed and is hot), not r3 (hot), though both are nearer
    alone = LeaderDuty(SITE, leader="r1", term=3, now=-30.0, board=BOARD, cooldown_s=60.0,
                       snapshots={"r3": r3.snapshot(now=0.0)})
    alone.on_decision("fleet_task", TASK, now=0.0)
    assert alone.tick(["r3"], [], now=0.0) == []
    assert "robot unavailable" in alone.tasks.board.records["t1"].last_infeasible
    hot_twin(r3, 0.2)  # cooled down: the twin's thermal risk fell
    alone.on_snapshot("r3", r3.snapshot(now=10.0), now=10.0)
    [req] = alone.tick(["r3"], [], now=10.0)
    assert req.robot_id == "r3"


@pytest.mark.parametrize(("risk", "mode", "hot"), [(0.8, "thermal", True), (0.49, "thermal", False),
                                                    (0.8, "friction", False), (math.nan, "thermal", False)])
def test_only_a_thermal_forecast_at_the_threshold_makes_a_motor_hot(risk, mode, hot):
    robot = RobotDuty("r3")
    hot_twin(robot, risk, mode)
    assert bool(robot.cap.current().hot) is hot
    assert Capability.from_wire(robot.cap.current().to_wire()).hot == robot.cap.current().hot
    assert robot.cap.current().degraded is (math.isfinite(risk) and risk >= P.degraded_risk)


def test_a_snapshot_fits_the_mesh_limit_keeping_the_newest_finished_tasks():
    ids = [f"{k:08d}-0000-4000-8000-000000000000" for k in range(32)]
    snap = {"at": "dock_3", "holding": [ids[-1], 9, 2], "done": ids, "failed": [[ids[0], "x" * 200]],
            "cap": {"wh": [388.5, 777.0], "kg": 12.5, "deg": "right_knee risk 0.60", "mw": 1.8e9}}
    data = encode_snapshot(snap)
    assert len(data) <= MESH_LIMIT
    back = json.loads(data)
    assert back["done"] and back["done"][-1] == ids[-1] and back["cap"] == snap["cap"]


def test_outcomes_are_signed_and_only_the_clouds_tasks_are_sent():
    private, public = protocol.generate_keypair()
    tid = "3f2b1c4e-0000-4000-8000-000000000001"
    path, body, headers = cloud_claim.outcomes_request(
        "r2", 7, [(tid, "failed", "deadline passed"), ("t1", "waiting", "x"), (tid, "waiting", "")], private, now=1.8e9)
    assert path == "/v1/devices/r2/leadership/tasks"
    assert json.loads(body) == {"term": 7, "tasks": [{"task_id": tid, "outcome": "failed", "reason": "deadline passed"},
                                                     {"task_id": tid, "outcome": "waiting",
                                                      "reason": "no reason given"}]}
    signed = protocol.signing_string("POST", path, "r2", headers[protocol.HEADER_TIMESTAMP],
                                     headers[protocol.HEADER_NONCE], body)
    protocol.load_verify_key(public).verify(signed, protocol.b64decode(headers[protocol.HEADER_SIGNATURE]))
    assert cloud_claim.outcomes_request("r2", 7, [("local-1", "failed", "x")], private, now=1.8e9) is None


def test_the_claim_is_signed_with_the_robot_key_and_its_answer_becomes_decisions(tmp_path):
    private, public = protocol.generate_keypair()
    key = tmp_path / "robot.key"
    key.write_text(private + "\n")
    os.chmod(key, 0o644)
    with pytest.raises(PermissionError):
        cloud_claim.read_seed(key)
    os.chmod(key, 0o600)
    path, body, headers = cloud_claim.claim_request("r2", 7, cloud_claim.read_seed(key), now=1.8e9)
    assert path == "/v1/devices/r2/leadership" and json.loads(body) == {"term": 7}
    signed = protocol.signing_string("POST", path, "r2", headers[protocol.HEADER_TIMESTAMP],
                                     headers[protocol.HEADER_NONCE], body)
    protocol.load_verify_key(public).verify(signed, protocol.b64decode(headers[protocol.HEADER_SIGNATURE]))
    answer = {"robot_id": "r2", "term": 7, "leader": True, "open_tasks": [
        {"task_id": "3f2b", "kind": "deliver", "pickup": "shelf_0_2", "dropoff": "dock_3", "place": None,
         "payload_kg": 3.0, "priority": 2, "earliest_start": "2027-01-15T08:00:00+00:00", "deadline": None}]}
    result = cloud_claim.parse_answer(answer)
    assert result.leader and result.open_tasks == [
        {"task_id": "3f2b", "kind": "deliver", "priority": "2", "payload_mass": "3", "earliest_start": "1800000000.000",
         "deadline": "", "pickup": "shelf_0_2", "dropoff": "dock_3"}]
    leader = leader_with({})
    assert leader.on_decision("fleet_task", result.open_tasks[0], now=0.0) is None
    with pytest.raises(ValueError, match="open task"):
        cloud_claim.parse_answer({"term": 1, "leader": True, "open_tasks": [{"kind": "deliver"}]})


def test_a_failed_robots_cooldown_survives_a_leader_change():
    """Found across processes under load: a new leader (fresh board) handed a task straight back to the robot that
    had just failed it. The robot now carries its cooldown in its snapshots."""
    robot = RobotDuty("r2", cooldown_s=60.0)
    robot.on_command(ASSIGN, 4, {"robot": "r2", "task": "t1", "kind": 1, "lease": 100.0}, now=0.0)
    robot.next_request()
    robot.on_status("t1", FAILED, "left knee motor shut down (overheating)", now=10.0)
    snap = robot.snapshot()
    assert snap["cool"] == 70.0
    new_leader = LeaderDuty(SITE, leader="r1", term=5, now=-30.0, board=BOARD, cooldown_s=60.0,
                            snapshots={"r1": {"at": "dock_1"}, "r2": {**snap, "at": "dock_3"}})
    assert [r.robot_id for r in new_leader.robots(["r1", "r2"], now=20.0)] == ["r1"]
    assert [r.robot_id for r in new_leader.robots(["r1", "r2"], now=71.0)] == ["r1", "r2"]
    cap = CapabilityTracker(P)
    cap.on_payload_limit(0.0)  # a TaskStatus left at its default is no report
    assert cap.current().payload_kg is None


def test_a_flapping_protective_stop_never_takes_the_robot_out_of_allocation():
    """Found in the main command under load: watchdogs flapping twice a second made every member's snapshot flip
    between stopped and not, and the leader allocated nothing for ~140 s. A stop counts once it lasted 2 s; an
    emergency stop at once."""
    robot = RobotDuty("r2", offer_grace_s=2.0)
    for k in range(20):  # 10 s of a stop every other 0.5 s
        robot.on_safety(2 if k % 2 == 0 else 0, now=k * 0.5)
        assert "cap" not in robot.snapshot(now=k * 0.5 + 0.25)
    robot.on_safety(2, now=20.0)
    assert "cap" not in robot.snapshot(now=21.9) and robot.snapshot(now=22.0)["cap"] == {"stop": 1}
    robot.on_safety(0, now=23.0)
    robot.on_safety(3, now=24.0)
    assert robot.snapshot(now=24.0)["cap"] == {"stop": 1}

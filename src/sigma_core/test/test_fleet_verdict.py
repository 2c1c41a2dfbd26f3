"""The robot acts on the adopted fleet model's verdict (``fleet_model/verdict`` from sigma_bridge, issue #15).

A fault-class verdict derates the plan speed (reasoning) and caps the Edge AI's confidence (self-evaluation) for
``fleet_fault_hold`` after the latest one; a normal verdict changes nothing; the safety supervisor keeps the last
word (in its fallback nothing the core plans moves the robot). Closed loop on the kinematic stand-in: the same
GO_TO task driven by a robot whose fleet model flags a fault and by a healthy one. The bridge side (a robot that
never saw the fault class classifying it after adoption, the verdict carried through these same calls) is
sigma_bridge/test/test_fleet_model.py.
"""

from __future__ import annotations

import math

import pytest
from kinematic import KinematicRobot, warehouse

from sigma_core.core.arbiter import Mode
from sigma_core.core.perception import Perception, SafetyView
from sigma_core.core.pipeline import Pipeline
from sigma_core.core.reasoning import ReasoningParams, constrain
from sigma_core.core.selfeval import SelfEvalParams, SelfEvaluation
from sigma_core.core.tasks import Kind, State, TaskSpec

SITE = warehouse()
DT = 0.05
FAULT = "motor_temperature"


def fresh(now: float = 0.0) -> Perception:
    p = Perception()
    p.update_odom(0.0, 0.0, 0.0, 0.0, 0.0, now)
    p.update_safety(SafetyView(0, 1, 1.0, False, frozenset()), now)
    p.update_humans([], now)
    return p


def assess(world, fleet_fault: str) -> float:
    return SelfEvaluation(SelfEvalParams()).assess(world, cross_track=0.0, remaining=math.nan, moving_expected=False,
                                                   needs_joints=False, last_rejected_at=None,
                                                   fleet_fault=fleet_fault).confidence


def test_a_fault_verdict_derates_and_caps_confidence_for_the_hold_then_expires():
    params = ReasoningParams()
    p = fresh()
    assert p.update_fleet_verdict(FAULT, True, 0.0)
    c = constrain(params, p.snapshot(0.1), 0.6)
    assert c.speed_limit == pytest.approx(params.fleet_fault_speed) and c.fleet_fault == FAULT
    assert any(FAULT in r for r in c.reasons)
    assert assess(p.snapshot(0.1), c.fleet_fault) == pytest.approx(SelfEvalParams().fleet_fault_confidence)
    # a normal verdict a moment later does not end the hold (the model recognises the fault's onset)
    assert p.update_fleet_verdict("normal", False, 5.0)
    assert constrain(params, p.snapshot(5.1), 0.6).fleet_fault == FAULT
    # ... the hold after the latest fault verdict does
    late = constrain(params, p.snapshot(params.fleet_fault_hold + 0.5), 0.6)
    assert late.fleet_fault == "" and late.speed_limit == pytest.approx(0.6)


def test_normal_verdicts_and_bad_input_change_nothing():
    p = fresh()
    assert p.update_fleet_verdict("normal", False, 0.0)
    c = constrain(ReasoningParams(), p.snapshot(0.1), 0.6)
    assert c.speed_limit == pytest.approx(0.6) and c.fleet_fault == "" and not c.reasons
    assert not p.update_fleet_verdict("", True, 0.2) and not p.update_fleet_verdict("x" * 500, True, 0.2)
    w = p.snapshot(0.3)
    assert w.fleet_fault == "" and "fleet_model: empty or oversized class" in w.rejected[-1]


def drive(fleet: list[tuple[float, str, bool]], seconds: float = 12.0, authority: int = 1
          ) -> tuple[float, set[Mode], list[tuple[float, tuple[str, ...]]]]:
    """A GO_TO task on the Edge AI; `fleet`: verdicts (time, class, fault) as the bridge would publish them. Returns
    the robot's top commanded speed after 4 s (cruise), the commanders seen, and the Edge AI's confidence and
    reasons per tick."""
    p, robot = Pipeline(SITE), KinematicRobot()
    t, top, modes, confidences = 0.0, 0.0, set(), []
    pending = sorted(fleet)
    accepted = False
    while t < seconds:
        while pending and pending[0][0] <= t:
            _, label, fault = pending.pop(0)
            assert p.perception.update_fleet_verdict(label, fault, t)
        robot.authority = authority
        robot.feed(p, t)
        out = p.tick(t)
        if not accepted and out.commander == Mode.EDGE:
            reports = p.submit_task(TaskSpec("far", Kind.GO_TO, place="dock_2"), t)
            assert reports and reports[-1].state != State.REFUSED, reports
            accepted = True
        robot.apply(out, DT)
        modes.add(out.commander)
        confidences.append((out.edge_health.confidence, out.edge_health.reasons))
        if t > 4.0 and out.command is not None:
            top = max(top, abs(out.command.vx))
        t += DT
    return top, modes, confidences


def test_a_flagged_robot_drives_its_task_slower_on_the_edge_ai_a_healthy_one_does_not():
    healthy, modes_h, conf_h = drive([(0.5 * k, "normal", False) for k in range(24)])
    flagged, modes_f, conf_f = drive([(0.5 * k, "normal", False) for k in range(4)]
                                     + [(2.0 + 0.5 * k, FAULT, True) for k in range(4)]
                                     + [(4.0 + 0.5 * k, "normal", False) for k in range(16)])
    cruise = ReasoningParams().fleet_fault_speed
    assert healthy > cruise + 0.15            # the healthy robot cruises
    assert 0.0 < flagged <= cruise + 1e-9     # the flagged one moves, derated, for the whole hold
    assert modes_h == modes_f and Mode.EDGE in modes_f  # it keeps working on its Edge AI (not a fallback)
    flags = f"fleet model flags {FAULT}"
    assert not any(flags in r for _, rs in conf_h for r in rs)
    after = conf_f[int(2.0 / DT) + 1:]        # every tick from the first fault verdict on (within the hold)
    cap = SelfEvalParams().fleet_fault_confidence
    assert all(c <= cap + 1e-9 and flags in rs for c, rs in after)
    assert not any(flags in r for _, rs in conf_f[:int(2.0 / DT)] for r in rs)


def test_safety_keeps_the_last_word():
    # safety in its own fallback: nothing the core plans drives the robot, verdict or not
    top, modes, _ = drive([(0.0, FAULT, True)], seconds=6.0, authority=2)
    assert top == 0.0 and modes == {Mode.MECHANICAL}

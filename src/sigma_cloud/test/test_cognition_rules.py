"""Fleet cognition's pure rules: one test per rule, explanations and evidence checked, self-evaluation, memory
bounds, signatures, and a deterministic replay (recorded windows in -> expected decisions out)."""

from __future__ import annotations

import math

import pytest

from sigma_cloud.cognition import rules
from sigma_cloud.cognition.memory import MAX_WINDOWS, SessionMemory, Window
from sigma_cloud.cognition.signature import DIMENSIONS, signature, to_pgvector

P = rules.CognitionParams()
T0 = 1_700_000_000.0


def window(t0: float, t1: float, share: float = 0.0, peak: float = 1.0, channel: str = "actuator_health") -> Window:
    return Window(t0, t1, 50, {channel: peak, "imu": 1.0}, {channel: share, "imu": 0.0})


def snap(now: float, w: Window | None = None, **kw: object) -> rules.Snapshot:
    return rules.Snapshot(robot_id="r1", site_id="s1", now=now, window=w, last_event_ts=now - 0.1, **kw)


def test_persistent_anomaly_holds_only_after_persisting_and_explains_why() -> None:
    memory = SessionMemory()
    out, memory = rules.decide(snap(T0 + 1, window(T0, T0 + 1, share=0.5, peak=12)), memory, P)
    assert out == []  # 1 s of anomaly: not yet persistent (persist_s = 2)
    assert memory.anomaly_since == T0
    out, memory = rules.decide(snap(T0 + 2.5, window(T0 + 1, T0 + 2.5, share=0.6, peak=15)), memory, P)
    assert [p.rule for p in out] == [rules.HOLD]
    hold = out[0]
    assert hold.action == "hold" and hold.parameters["duration"] == "30" and hold.parameters["priority"] == "255"
    assert set(hold.parameters) <= {"task_id", "duration", "priority"}  # only keys sigma_core's arbiter accepts
    assert "actuator_health" in hold.explanation and "2.5 s" in hold.explanation and "peak 15.0" in hold.explanation
    assert hold.evidence["channels"] == ["actuator_health"] and hold.evidence["lasted_s"] == 2.5
    assert 0.6 < hold.confidence <= 1.0
    assert hold.ttl_s == P.decision_ttl_s and not hold.renewal


def test_a_normal_window_ends_the_streak_and_no_hold_follows() -> None:
    memory = SessionMemory()
    _, memory = rules.decide(snap(T0 + 1, window(T0, T0 + 1, share=0.5, peak=12)), memory, P)
    _, memory = rules.decide(snap(T0 + 2, window(T0 + 1, T0 + 2, share=0.0)), memory, P)
    assert memory.anomaly_since is None
    out, _ = rules.decide(snap(T0 + 3, window(T0 + 2, T0 + 3, share=0.5, peak=12)), memory, P)
    assert out == []  # a new streak of 1 s


def only(t0: float, t1: float, channel: str, share: float, peak: float = 12.0) -> Window:
    """A pass whose new telemetry has events of one channel only (e.g. 10 Hz imu between 2 Hz actuator_health)."""
    return Window(t0, t1, 5, {channel: peak}, {channel: share})


def test_a_channel_streak_survives_passes_without_its_events_and_ends_after_the_gap() -> None:
    """A 2 Hz channel is absent from many 0.25 s passes: those passes neither extend nor end its streak (before,
    they ended it, so a real actuator fault was never held); a pass where it is normal ends it."""
    memory = SessionMemory()
    out = []
    for i in range(10):  # actuator_health anomalous every other 0.25 s pass, imu normal in between
        t = T0 + 0.25 * i
        w = only(t, t + 0.25, "actuator_health", 1.0) if i % 2 == 0 else only(t, t + 0.25, "imu", 0.0)
        out, memory = rules.decide(snap(t + 0.25, w), memory, P)
        if out:
            break
    assert [p.rule for p in out] == [rules.HOLD] and out[0].evidence["channels"] == ["actuator_health"]
    assert memory.streaks["actuator_health"][0] == T0
    # the channel's events come back normal: the streak ends
    _, memory = rules.decide(snap(T0 + 3, only(T0 + 2.75, T0 + 3, "actuator_health", 0.0)), memory, P)
    assert memory.anomaly_since is None and memory.streaks == {}
    # a channel that stops reporting: its streak ends streak_gap_s after its last anomalous pass
    _, memory = rules.decide(snap(T0 + 4, only(T0 + 3.75, T0 + 4, "battery", 1.0)), memory, P)
    _, memory = rules.decide(snap(T0 + 5, only(T0 + 4.75, T0 + 5, "imu", 0.0)), memory, P)
    assert "battery" in memory.streaks
    _, memory = rules.decide(snap(T0 + 6, only(T0 + 5.75, T0 + 6, "imu", 0.0)), memory, P)
    assert memory.streaks == {} and memory.anomaly_since is None
    assert SessionMemory.from_json(memory.to_json()) == memory


def test_the_hold_is_renewed_while_the_anomaly_lasts_with_the_same_task_id() -> None:
    memory = SessionMemory()
    out, memory = rules.decide(snap(T0 + 3, window(T0, T0 + 3, share=0.5, peak=12)), memory, P)
    first = out[0]
    out, memory = rules.decide(snap(T0 + 4, window(T0 + 3, T0 + 4, share=0.5, peak=12)), memory, P)
    assert out == []  # renew_s = 5 not yet due
    out, memory = rules.decide(snap(T0 + 8.5, window(T0 + 4, T0 + 8.5, share=0.5, peak=12)), memory, P)
    assert [p.renewal for p in out] == [True]
    assert out[0].parameters["task_id"] == first.parameters["task_id"]


def test_a_streak_does_not_bridge_a_gap_in_the_data_and_an_old_hold_is_not_renewed_after_it() -> None:
    """The worker was killed while a robot was held (its memory persisted with the streak open); the robot's next
    data, minutes later, is anomalous again on the same channel: that is a new streak, which must persist on its
    own before a hold, under a new task id -- not a renewal of the old episode's hold (the clean-clone CI's second
    main-command run had r3 apply a renewal of the first run's hold this way)."""
    out, memory = rules.decide(snap(T0 + 3, window(T0, T0 + 3, share=0.5, peak=12)), SessionMemory(), P)
    first = out[0]
    assert first.rule == rules.HOLD and rules.HOLD_STREAK in memory.fired
    memory = SessionMemory.from_json(memory.to_json())  # as the database keeps it across the worker's restart
    later = T0 + 300
    out, memory = rules.decide(snap(later + 1, window(later, later + 1, share=0.5, peak=12)), memory, P)
    assert out == [] and memory.anomaly_since == later  # 1 s of the new streak: not yet persistent
    assert rules.HOLD_STREAK not in memory.fired
    out, memory = rules.decide(snap(later + 2.5, window(later + 1, later + 2.5, share=0.5, peak=12)), memory, P)
    assert [(p.rule, p.renewal) for p in out] == [(rules.HOLD, False)]
    assert out[0].parameters["task_id"] != first.parameters["task_id"] and out[0].evidence["anomaly_since"] == later
    # within the gap the streak goes on (a pass 1 s after the last anomalous event)
    out, memory = rules.decide(snap(later + 3.5, window(later + 3.5, later + 3.6, share=0.5)), memory, P)
    assert memory.anomaly_since == later


def two(t0: float, t1: float, shares: dict[str, float]) -> Window:
    """A pass with events of the given channels, each with its share of anomalous events."""
    return Window(t0, t1, 10, {c: 12.0 if s else 1.0 for c, s in shares.items()}, shares)


def test_a_hold_whose_first_streak_ends_while_another_continues_is_renewed_not_sent_again() -> None:
    """One anomaly episode, one hold: the streak the hold was sent for ends, a later channel's streak continues ->
    renewals under the same task id (before: a second hold with a new id and a second incident); once no streak is
    open, a new anomaly is a new hold."""
    memory, sent = SessionMemory(), []
    for i in range(12):  # joint_states anomalous T0..T0+4, actuator_health from T0+1 on
        t = T0 + i
        out, memory = rules.decide(snap(t + 1, two(t, t + 1, {"joint_states": 0.5 if i < 4 else 0.0,
                                                              "actuator_health": 0.5 if i >= 1 else 0.0})),
                                   memory, P)
        sent += out
    holds = [p for p in sent if p.rule == rules.HOLD]
    assert len(holds) >= 2 and not holds[0].renewal and all(p.renewal for p in holds[1:])
    assert {p.parameters["task_id"] for p in holds} == {holds[0].parameters["task_id"]}
    assert holds[0].evidence["channels"] == ["joint_states"] and holds[-1].evidence["channels"] == ["actuator_health"]
    assert memory.streaks.keys() == {"actuator_health"} and memory.anomaly_since == T0 + 1
    # every streak ends: the episode is over; a new anomaly later is a new hold with its own id
    _, memory = rules.decide(snap(T0 + 13, two(T0 + 12, T0 + 13, {"actuator_health": 0.0})), memory, P)
    assert memory.anomaly_since is None and rules.HOLD_STREAK not in memory.fired
    out, memory = rules.decide(snap(T0 + 30, two(T0 + 27, T0 + 30, {"imu": 0.5})), memory, P)
    assert [(p.rule, p.renewal) for p in out] == [(rules.HOLD, False)]
    assert out[0].parameters["task_id"] != holds[0].parameters["task_id"]


def test_self_evaluation_lowers_confidence_for_stale_evidence_and_past_false_alarms() -> None:
    w = window(T0, T0 + 3, share=0.5, peak=12)
    fresh, _ = rules.decide(snap(T0 + 3, w), SessionMemory(), P)
    stale_snap = rules.Snapshot("r1", "s1", T0 + 30, w, last_event_ts=T0 + 3)
    stale, _ = rules.decide(stale_snap, SessionMemory(), P)
    assert stale[0].confidence < fresh[0].confidence
    assert "s old" in stale[0].explanation
    seen = snap(T0 + 3, w, similar=((0.02, "false_alarm"), (0.05, "false_alarm"), (0.5, "hardware_fault")))
    doubted, _ = rules.decide(seen, SessionMemory(), P)
    assert doubted[0].confidence < 0.6  # below the arbiter's primary_min_confidence: the robot keeps its Edge AI
    assert "2 of 2 similar past incidents were false alarms" in doubted[0].explanation
    confirmed, _ = rules.decide(snap(T0 + 3, w, similar=((0.02, "hardware_fault"),)), SessionMemory(), P)
    assert confirmed[0].confidence == pytest.approx(fresh[0].confidence)
    assert "none a false alarm" in confirmed[0].explanation


def test_predicted_temperature_limit_sends_the_robot_to_maintenance() -> None:
    memory = SessionMemory()
    fired: list[tuple[int, rules.Proposal]] = []
    for i in range(6):  # 60, 62, ... degC, one sample every 10 s: +0.2 degC/s
        temps = {"left_knee": 60.0 + 2 * i, "right_knee": 40.0}
        out, memory = rules.decide(snap(T0 + 10 * i, temperatures=temps, temperatures_ts=T0 + 10 * i), memory, P)
        fired += [(i, p) for p in out]
    # first with min_temp_samples (4) samples, then quiet during the cool-down
    assert [(i, p.rule) for i, p in fired] == [(3, rules.MAINTENANCE)]
    dock = fired[0][1]
    assert dock.action == "dock" and dock.parameters["place"] == ""
    assert "left_knee at 66.0 degC" in dock.explanation and "predicted in 70 s" in dock.explanation
    assert dock.evidence["actuator"] == "left_knee" and dock.evidence["eta_s"] == pytest.approx(70.0)


def test_cooling_actuators_and_a_full_battery_send_nobody_to_maintenance() -> None:
    memory = SessionMemory()
    for i in range(6):
        out, memory = rules.decide(snap(T0 + 10 * i, temperatures={"k": 70.0 - i}, temperatures_ts=T0 + 10 * i,
                                        battery=0.8), memory, P)
        assert out == []
    low, _ = rules.decide(snap(T0 + 100, battery=0.05), SessionMemory(), P)
    assert [p.rule for p in low] == [rules.MAINTENANCE] and "battery at 5%" in low[0].explanation


def test_a_degraded_robot_gives_its_tasks_back() -> None:
    tasks = (rules.HeldTask("t-1", "deliver", "in_progress"), rules.HeldTask("t-2", "go_to", "assigned"))
    out, _ = rules.decide(snap(T0 + 3, window(T0, T0 + 3, share=0.5, peak=12), tasks=tasks), SessionMemory(), P)
    assert [p.rule for p in out] == [rules.HOLD, rules.REASSIGN]
    requeue = out[1]
    assert requeue.action == "requeue_tasks" and requeue.parameters["task_ids"] == "t-1,t-2"
    assert "t-1, t-2" in requeue.explanation and rules.HOLD in requeue.explanation
    assert requeue.evidence["because"] == [rules.HOLD]


def test_people_clustering_slow_the_robots_running_tasks_nearby() -> None:
    events = tuple((T0 - i, 5.0 + 0.3 * i, 5.0) for i in range(3))
    task = rules.HeldTask("t-9", "deliver", "in_progress", {"task_id": "t-9", "pickup": "shelf_0_0",
                                                              "dropoff": "dock_1", "kind": "deliver"})
    robots = [rules.SiteRobot("near", (6.0, 6.0), task, events),
              rules.SiteRobot("far", (30.0, 30.0), rules.HeldTask("t-8", "go_to", "in_progress"), ()),
              rules.SiteRobot("idle", (5.0, 5.0), None, ())]
    out = rules.human_cluster(robots, P, T0, {})
    assert [p.robot_id for p in out] == ["near"]
    slow = out[0]
    assert slow.action == "deliver" and slow.parameters["speed_limit"] == "0.3"
    assert slow.parameters["task_id"] == "t-9" and "kind" not in slow.parameters
    assert "3 person-related safety events" in slow.explanation and "task t-9" in slow.explanation
    assert rules.human_cluster(robots, P, T0 + P.human_window_s + 5, {}) == []  # events too old
    assert rules.human_cluster(robots, P, T0, {"near": T0 - 1}) == []  # renewed a second ago


def test_human_related_events_are_recognised_by_cause_or_rule() -> None:
    assert rules.SafetyEvent(1, T0, 2, "", ("human_proximity",)).human_related
    assert rules.SafetyEvent(1, T0, 2, "person within 1.2 m", ()).human_related
    assert not rules.SafetyEvent(1, T0, 2, "motor over temperature", ("motor_temperature",)).human_related


def test_bad_parameters_are_refused_with_the_name() -> None:
    with pytest.raises(ValueError, match="persist_s"):
        rules.CognitionParams(persist_s=-1)
    with pytest.raises(ValueError, match="decision_ttl_s"):
        rules.CognitionParams(decision_ttl_s=600)
    with pytest.raises(ValueError, match="keep_away_s"):
        rules.CognitionParams(keep_away_s=0.0)


def test_the_record_keeps_a_task_away_as_long_as_the_leader_does() -> None:
    """The record's keep-away of a task taken back from a degraded robot (migration 0017) and the swarm leader's
    (sigma_tasks) are one rule in two places: their defaults must agree."""
    from sigma_tasks.allocator import BoardParams

    assert P.keep_away_s == BoardParams().keep_away_s


def test_session_memory_is_bounded_and_survives_json_and_garbage() -> None:
    memory = SessionMemory()
    for i in range(200):
        memory = memory.remember(window(T0 + i, T0 + i + 1), anomalous=False, temperature=(T0 + i, 50.0))
    assert len(memory.windows) == MAX_WINDOWS and len(memory.temperatures) == 32
    assert SessionMemory.from_json(memory.to_json()) == memory
    assert SessionMemory.from_json({"windows": [{"t0": "x"}]}) == SessionMemory()
    assert SessionMemory.from_json(None) == SessionMemory()


def test_signatures_are_fixed_length_unit_vectors_that_separate_kinds_of_incident() -> None:
    calm = [(T0 + i * 0.1, "imu", 0.5) for i in range(50)]
    hot = [(T0 + i * 0.1, "actuator_health", 8.0 + i * 0.1) for i in range(50)] + calm
    hot2 = [(T0 + i * 0.1, "actuator_health", 7.5 + i * 0.12) for i in range(50)] + calm
    jolt = [(T0 + i * 0.1, "imu", 20.0 if i % 5 == 0 else 0.5) for i in range(50)]
    vectors = [signature(x) for x in (hot, hot2, jolt, [])]
    for v in vectors:
        assert len(v) == DIMENSIONS and math.isclose(sum(x * x for x in v), 1.0, rel_tol=1e-9)

    def cos(a: list[float], b: list[float]) -> float:
        return 1.0 - sum(x * y for x, y in zip(a, b, strict=True))
    assert cos(vectors[0], vectors[1]) < 0.05 < cos(vectors[0], vectors[2])
    assert signature([(T0, "imu", float("nan")), (float("inf"), "imu", 1.0)]) == vectors[3]
    with pytest.raises(ValueError):
        to_pgvector([1.0] * 3)


RECORDING = [  # a recorded stream of per-pass windows and latest state: (now, share, peak, hottest temperature)
    (T0 + 1, 0.0, 2.0, 55.0), (T0 + 2, 0.0, 2.5, 56.0), (T0 + 3, 0.4, 9.0, 57.5), (T0 + 4, 0.5, 11.0, 59.0),
    (T0 + 5, 0.6, 14.0, 61.0), (T0 + 6, 0.1, 4.0, 63.0), (T0 + 7, 0.0, 2.0, 65.0), (T0 + 8, 0.0, 2.0, 67.0),
    (T0 + 9, 0.3, 8.0, 69.0), (T0 + 10, 0.3, 8.0, 71.0), (T0 + 11, 0.4, 9.0, 72.5), (T0 + 12, 0.4, 9.0, 74.0),
]
EXPECTED = [  # (now, rule, action, renewal), worked out by hand from RECORDING and the default parameters
    (T0 + 4, rules.HOLD, "hold", False),  # anomalous from T0+2 (start of the T0+3 window) to T0+4: 2 s >= 2 s
    (T0 + 4, rules.MAINTENANCE, "dock", False),  # 4th temperature sample, rising ~1.4 degC/s: limit within 300 s
    (T0 + 10, rules.HOLD, "hold", False),  # the T0+6 window (share 0.1) ended the streak; a new one from T0+8
]


def replay() -> list[tuple[float, str, str, bool, float, str]]:
    memory = SessionMemory()
    out = []
    for now, share, peak, temp in RECORDING:
        s = snap(now, window(now - 1, now, share=share, peak=peak), temperatures={"left_knee": temp},
                 temperatures_ts=now)
        proposals, memory = rules.decide(s, memory, P)
        out += [(now, p.rule, p.action, p.renewal, p.confidence, p.explanation) for p in proposals]
    return out


def test_replay_recorded_windows_gives_the_expected_decisions_deterministically() -> None:
    first, second = replay(), replay()
    assert first == second
    assert [(now, rule, action, renewal) for now, rule, action, renewal, _, _ in first] == EXPECTED


def twin(ts: float, *, rul05: float = 1.5, risk: float = 0.2, confidence: float = 0.8,
         spoofed: tuple[str, ...] = ()) -> rules.TwinReport:
    return rules.TwinReport(ts, (rules.TwinComponent("knee_l", 0.35, risk, confidence, rul05, 2 * rul05, "thermal"),
                                 rules.TwinComponent("battery", 1.0, 0.0, 1.0, -1.0, -1.0)), spoofed)


def test_twin_forecast_sends_the_robot_to_maintenance_with_the_twins_figures() -> None:
    out, _ = rules.decide(snap(T0, twin=twin(T0 - 60)), SessionMemory(), P)
    (dock,) = out
    assert dock.rule == rules.MAINTENANCE and dock.action == "dock"
    assert "digital twin: knee_l health 0.35, remaining life q05 1.50 h (q50 3.00 h)" in dock.explanation
    assert dock.evidence["twin_component"] == "knee_l" and dock.evidence["rul_q05_h"] == 1.5
    assert dock.confidence == pytest.approx(0.6 + 0.3 * 0.8)
    risky, _ = rules.decide(snap(T0, twin=twin(T0, rul05=-1.0, risk=0.7)), SessionMemory(), P)
    assert "remaining life unknown, failure risk 0.70" in risky[0].explanation
    # not acted on: a healthy forecast, an unsure twin, a stale report
    for quiet in (twin(T0, rul05=30.0), twin(T0, confidence=0.3), twin(T0 - P.twin_stale_s - 1)):
        assert rules.decide(snap(T0, twin=quiet), SessionMemory(), P)[0] == []


def test_twin_inconsistent_sensors_lower_the_confidence_of_every_decision() -> None:
    plain, _ = rules.decide(snap(T0, twin=twin(T0)), SessionMemory(), P)
    doubtful, _ = rules.decide(snap(T0, twin=twin(T0, spoofed=("imu",))), SessionMemory(), P)
    assert doubtful[0].confidence == pytest.approx(plain[0].confidence * 0.7)
    assert "the twin finds sensor(s) imu inconsistent (x0.70)" in doubtful[0].explanation


def test_twin_parameters_are_validated() -> None:
    with pytest.raises(ValueError, match="twin_risk"):
        rules.CognitionParams(twin_risk=1.5)
    with pytest.raises(ValueError, match="twin_rul_h"):
        rules.CognitionParams(twin_rul_h=-1.0)

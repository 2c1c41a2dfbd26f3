"""The demo's hand-over judgement on the cloud's task record (pure)."""

from __future__ import annotations

from sigma_bringup.cloud_tasks import site_places
from sigma_bringup.handover import handover_task, judge

from sigma_ros_common.share import package_share

T0 = "2026-11-30T19:00:"


def step(to_state: str, second: float, robot: str | None = None, reason: str = "", from_state: str | None = None):
    return {"from_state": from_state, "to_state": to_state, "at": f"{T0}{second:06.3f}+00:00", "actor": "x",
            "reason": reason, "robot_id": robot, "term": 1}


def record(history, state="done", robot="r2"):
    return {"task_id": "t-1", "state": state, "robot_id": robot, "history": history}


HANDED = [step("queued", 0.0), step("assigned", 1.0, "r3"), step("in_progress", 2.0, "r3"),
          step("queued", 12.0, reason="robot r3 gave it up: emergency stop"), step("assigned", 12.4, "r2"),
          step("in_progress", 13.0, "r2"), step("done", 52.0, "r2")]


def test_a_hand_over_from_r3_to_another_robot_done_once_passes_with_the_robots_and_the_time():
    check = judge(record(HANDED))
    assert check.ok, check.detail
    assert "task t-1: r3 → r2, handed over 0.4 s after r3 gave it up (robot r3 gave it up: emergency stop)" \
        in check.detail
    assert "done by r2 40 s later" in check.detail


def test_what_is_not_a_hand_over_fails_and_says_why():
    never = judge(record([step("queued", 0.0), step("assigned", 1.0, "r1"), step("done", 9.0, "r1")], robot="r1"))
    assert not never.ok and "never held by r3 (held by r1)" in never.detail
    kept = judge(record([*HANDED[:3], step("done", 30.0, "r3")], robot="r3"))
    assert not kept.ok and "did not give it up (then: done)" in kept.detail
    waiting = judge(record(HANDED[:4], state="queued", robot=None))
    assert not waiting.ok and "no robot took it over (now queued)" in waiting.detail
    unfinished = judge(record(HANDED[:6], state="in_progress"))
    assert not unfinished.ok and "now in_progress on r2, 0 done" in unfinished.detail
    back = judge(record([*HANDED[:5], step("queued", 20.0), step("assigned", 21.0, "r3"), step("done", 40.0, "r3")],
                        robot="r3"))
    assert not back.ok and "held by r3 again" in back.detail
    twice = judge(record([*HANDED, step("done", 53.0, "r2")]))
    assert not twice.ok and "2 done transition(s)" in twice.detail


def test_the_hand_over_task_uses_places_of_the_site_and_a_fresh_key_per_run():
    names = {p["name"] for p in site_places(package_share("sigma_sim") / "worlds" / "warehouse.yaml")}
    task = handover_task("a")
    assert {task.body["pickup"], task.body["dropoff"]} <= names and task.body["kind"] == "deliver"
    assert task.key != handover_task("b").key


def refusal(state: int, second: float, robot: str = "r3"):
    return {"robot_id": robot, "state": state, "report_ts": f"{T0}{second:06.3f}+00:00",
            "at": f"{T0}{second + 9:06.3f}+00:00", "reason": "older than the current assignment: ..."}


LATE = [step("queued", 0.0), step("assigned", 8.4, "r2"), step("in_progress", 9.0, "r2"), step("done", 50.0, "r2")]


def test_r3s_late_reports_refused_as_older_still_show_its_hold_before_the_hand_over():
    # a starved bridge delivered r3's "accepted" (stamped 1.0) after r2 had taken the task over (8.4): the record
    # refused it as older and kept it in refused_reports; r3 held it first, r2 took over and finished, once
    rec = {**record(LATE), "refused_reports": [refusal(0, 1.0), refusal(5, 7.5)]}
    check = judge(rec)
    assert check.ok, check.detail
    assert "r3 → r2" in check.detail and "refused as older" in check.detail and "done by r2 42 s later" in check.detail


def test_late_reports_do_not_excuse_a_missing_or_unfinished_hand_over():
    cancelled_only = {**record(LATE), "refused_reports": [refusal(5, 7.5)]}  # only a "cancelled": never held
    assert not judge(cancelled_only).ok
    after = {**record(LATE), "refused_reports": [refusal(2, 9.5)]}  # r3's hold stamped after r2's: no hand-over
    assert not judge(after).ok and "no robot took it over after" in judge(after).detail
    unfinished = {**record(LATE[:3], state="in_progress"), "refused_reports": [refusal(0, 1.0)]}
    assert not judge(unfinished).ok and "now in_progress on r2" in judge(unfinished).detail
    twice = {**record([*LATE, step("done", 51.0, "r2")]), "refused_reports": [refusal(0, 1.0)]}
    assert not judge(twice).ok and "2 done transition(s)" in judge(twice).detail

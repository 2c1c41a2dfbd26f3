"""The scenario's judgement: milestones found in status samples, ordering, cloud counts, rendering."""

from sigma_bringup.scenario import (
    AUTHORITY_EDGE_AI,
    EDGE_AI_AFTER_CLOUD_LOSS,
    SEPARATION_STOP,
    SLOW_DOWN,
    THERMAL_DERATING,
    THERMAL_SHUTDOWN,
    Check,
    CloudCount,
    RobotTimeline,
    StatusSample,
    cloud_checks,
    edge_ai_after_cloud_loss,
    evaluated_at,
    ordered,
    render,
)


def _s(t, level=0, scale=1.0, codes=(), authority=1, brake=False):
    return StatusSample(t, level, authority, scale, brake, frozenset(codes))


def _human_timeline():
    tl = RobotTimeline("r2")
    for s in (
        _s(0.0, authority=2, brake=True),
        _s(1.0),
        _s(2.0, 1, 0.6, {SLOW_DOWN}),
        _s(3.0, 2, 0.0, {SEPARATION_STOP}),
        _s(4.0, 2, 0.0, {SEPARATION_STOP, SLOW_DOWN}),
        _s(9.0, 1, 0.5, {SLOW_DOWN}),
        _s(11.0, 0, 1.0),
    ):
        tl.add(s)
    return tl


def test_milestones_of_a_human_approach():
    tl = _human_timeline()
    assert tl.commandable_at(0.0) == 1.0
    assert tl.slowed_at(0.5) == 2.0
    assert tl.stopped_for_human_at(0.5) == 3.0
    assert tl.resumed_at(3.0) == 11.0  # still slowed at 9 s: not resumed yet
    assert tl.slowed_at(12.0) is None


def test_clear_of_people_is_the_latest_status_without_a_person_code():
    tl = RobotTimeline("r2")
    assert not tl.clear_of_people()  # no status yet
    for sample, clear in ((_s(1.0), True), (_s(2.0, 1, 0.6, {SLOW_DOWN}), False),
                          (_s(3.0, 2, 0.0, {SEPARATION_STOP}), False), (_s(4.0, 2, 0.0, {701}), True)):
        tl.add(sample)
        assert tl.clear_of_people() is clear


def test_ordered_check_passes_only_in_order():
    tl = _human_timeline()
    ok = ordered(
        "human",
        1.5,
        ("slowed", tl.slowed_at(1.5)),
        ("stopped", tl.stopped_for_human_at(1.5)),
        ("resumed", tl.resumed_at(3.0)),
    )
    assert ok.ok and "slowed after 0.50 s" in ok.detail and "resumed after 9.50 s" in ok.detail
    bad = ordered("human", 1.5, ("stopped", 3.0), ("slowed", 2.0))
    assert not bad.ok and "slowed: out of order" in bad.detail
    missing = ordered("heat", 0.0, ("derated", 1.0), ("shut down", None))
    assert not missing.ok and "shut down: never" in missing.detail
    assert not ordered("x", None).ok


def test_thermal_milestones():
    tl = RobotTimeline("r3")
    for s in (_s(0.0), _s(5.0, 1, 0.7, {THERMAL_DERATING}), _s(9.0, 2, 0.0, {THERMAL_DERATING, THERMAL_SHUTDOWN})):
        tl.add(s)
    assert tl.derated_at(0.0) == 5.0 and tl.shut_down_at(0.0) == 9.0


def test_cloud_checks_require_every_published_event():
    tl = RobotTimeline("r1", events_seen=4)
    assert all(c.ok for c in cloud_checks([tl], {"r1": CloudCount("r1", 120, 4)}))
    short = cloud_checks([tl], {"r1": CloudCount("r1", 120, 3)})
    assert not short[1].ok and "3 stored, 4 published" in short[1].detail
    assert not cloud_checks([tl], {"r1": CloudCount("r1", 120, 5)})[1].ok  # a duplicate is a failure too
    assert not cloud_checks([tl], {"r1": CloudCount("r1", 0, 4)})[0].ok
    assert not cloud_checks([tl], {})[0].ok
    assert not cloud_checks([RobotTimeline("r1")], {"r1": CloudCount("r1", 5, 0)})[1].ok  # nothing seen is a failure


def test_render_counts_passes_and_failures():
    text = render([*cloud_checks([RobotTimeline("r1", events_seen=1)], {"r1": CloudCount("r1", 1, 0)})])
    assert text.splitlines()[-1] == "scenario: 1 passed, 1 failed"
    assert "FAIL" in text and "PASS" in text


def test_separation_is_judged_against_the_configured_separation_or_touching_envelopes():
    from sigma_bringup.scenario import ENVELOPES_TOUCH, separation_check

    assert separation_check((1.8, "r1", "r2"), 1.5).ok
    bad = separation_check((1.2, "r1", "r2"), 1.5)
    assert not bad.ok and "r1 and r2: 1.200 m" in bad.detail and "traffic.separation" in bad.detail
    where = separation_check((1.2, "r1", "r2"), 1.5, "at 14:03:07 UTC, at (1.00, 2.00) and (2.20, 2.00)")
    assert not where.ok and where.detail.endswith("at 14:03:07 UTC, at (1.00, 2.00) and (2.20, 2.00)")
    assert separation_check((1.49, "r1", "r2"), 1.5).ok and not separation_check((1.47, "r1", "r2"), 1.5).ok
    assert separation_check((1.2, "r1", "r2"), None).ok and not separation_check((ENVELOPES_TOUCH - 0.1, "a", "b"),
                                                                                 None).ok
    assert not separation_check(None, 1.5).ok


def _tasks_done(ok=True):
    return Check("cloud tasks: executed in the simulator, reported done", ok, "shelf_1_2: done on r2")


def test_the_primary_ai_killed_robots_on_edge_ai_finish_the_tasks():
    r1, r2 = RobotTimeline("r1"), RobotTimeline("r2")
    for t in (10.0, 20.0, 30.0):
        r1.add(_s(t, authority=AUTHORITY_EDGE_AI))
        r2.add(_s(t, authority=2, brake=True))  # idle and braked all along: named, not failed
    check = edge_ai_after_cloud_loss(15.0, True, [r1, r2], _tasks_done())
    assert check.ok and check.name == EDGE_AI_AFTER_CLOUD_LOSS
    assert "r1 5.0 s" in check.detail and "not seen under Edge AI with brakes released: r2" in check.detail


def test_the_primary_ai_killed_fails_without_the_kill_the_tasks_or_an_edge_ai_robot():
    r1 = RobotTimeline("r1")
    r1.add(_s(10.0, authority=AUTHORITY_EDGE_AI))
    r1.add(_s(30.0, authority=AUTHORITY_EDGE_AI))
    assert not edge_ai_after_cloud_loss(None, True, [r1], _tasks_done()).ok  # never killed
    assert not edge_ai_after_cloud_loss(15.0, False, [r1], _tasks_done()).ok  # still running after kill -9
    assert not edge_ai_after_cloud_loss(15.0, True, [r1], _tasks_done(ok=False)).ok  # tasks not done
    assert not edge_ai_after_cloud_loss(15.0, True, [r1], None).ok  # no tasks after the kill
    braked = RobotTimeline("r1")
    braked.add(_s(20.0, authority=2, brake=True))  # mechanical fallback after the kill
    assert not edge_ai_after_cloud_loss(15.0, True, [braked], _tasks_done()).ok


def test_a_status_is_timed_by_its_stamp_not_by_a_late_arrival():
    # stamped 8 s before it arrived (a lagging reader): its time is 8 s before the arrival on the monotonic clock
    assert evaluated_at(1000.0, wall_now=1008.0, mono_now=50.0) == 42.0
    # a stamp a little ahead of this process's wall clock reads as now, not in the future
    assert evaluated_at(1000.5, wall_now=1000.0, mono_now=50.0) == 50.0


def test_a_stamp_from_another_clock_counts_as_arrival():
    assert evaluated_at(0.0, wall_now=1000.0, mono_now=50.0) == 50.0  # unset
    assert evaluated_at(12.5, wall_now=1_796_000_000.0, mono_now=50.0) == 50.0  # simulated time
    assert evaluated_at(1100.0, wall_now=1000.0, mono_now=50.0) == 50.0  # far in the future


def test_late_samples_timed_by_stamp_keep_the_slow_down_before_the_stop():
    # three samples delivered together 9 s late; timed by arrival all three would share one time
    t_human = 10.0
    tl = RobotTimeline("r2")
    for stamp, level, scale, codes in ((1004.0, 1, 0.86, {SLOW_DOWN}), (1004.3, 2, 0.0, {SEPARATION_STOP}),
                                       (1008.0, 1, 1.0, set())):
        tl.add(_s(evaluated_at(stamp, wall_now=1013.0, mono_now=23.0), level, scale, codes))
    assert tl.slowed_at(t_human) == 14.0
    assert abs(tl.stopped_for_human_at(t_human) - 14.3) < 1e-9
    assert tl.resumed_at(14.3) == 18.0


def test_unstopped_for_counts_from_the_last_stop():
    tl = RobotTimeline("r3")
    assert tl.unstopped_for(10.0) == 0.0  # nothing known yet
    tl.add(_s(1.0))
    assert tl.unstopped_for(10.0) == float("inf")
    tl.add(_s(2.0, level=2, codes=(302,)))
    assert tl.unstopped_for(10.0) == 0.0  # stopped now
    tl.add(_s(4.5))
    assert tl.unstopped_for(10.0) == 8.0  # the last stopped sample was at 2.0

"""The demo's work orders and the checks on the executors' reports (pure)."""

from __future__ import annotations

from sigma_bringup.work import ORDERS, SUCCEEDED, TaskReport, WorkOrder, task_checks


def test_every_robot_gets_one_order_and_every_order_must_finish():
    assert [o.robot for o in ORDERS] == ["r1", "r2", "r3"]
    assert all(o.must_finish for o in ORDERS)   # r3 overheats later, holding the hand-over task (handover.py)


def test_checks_pass_only_on_success_and_name_the_executors_reason():
    orders = (WorkOrder("a", 1, "tote x → y", pickup="x", dropoff="y", payload_mass=1.0),
              WorkOrder("b", 0, "go", place="p", must_finish=False))
    good = task_checks(orders, {"a": TaskReport(SUCCEEDED, "", 1.0, "done", 1),
                                "b": TaskReport(2, "navigate:place", 0.4, "", 2)})
    assert [c.ok for c in good] == [True, True] and "navigate:place (40%)" in good[1].detail
    bad = task_checks(orders, {"a": TaskReport(4, "", 0.5, "navigate:pickup: no progress for 16 s", 1), "b": None})
    assert [c.ok for c in bad] == [False, False]
    assert "failed at - (50%): navigate:pickup: no progress" in bad[0].detail and "no answer" in bad[1].detail
    refused = task_checks(orders[1:], {"b": TaskReport(1, "", 0.0, "unknown place", 1)})
    assert not refused[0].ok

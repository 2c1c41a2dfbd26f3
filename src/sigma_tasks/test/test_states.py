"""Task state machine: allowed transitions, who/why on every step, exactly one terminal state."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sigma_tasks.model import TaskKind, TaskSpec
from sigma_tasks.states import ALLOWED, TERMINAL, InvalidTransitionError, TaskRecord, TaskState, transition

SPEC = TaskSpec(task_id="t1", kind=TaskKind.GO_TO, place="dock_1")


def test_happy_path_records_who_and_why():
    rec = TaskRecord.create(SPEC, at=0.0, actor="fleet-manager")
    rec = transition(rec, TaskState.ASSIGNED, at=1.0, actor="r1-leader", reason="allocated", robot_id="r2", term=3)
    rec = transition(rec, TaskState.IN_PROGRESS, at=2.0, actor="r2", reason="started")
    rec = transition(rec, TaskState.DONE, at=9.0, actor="r2", reason="completed")
    assert [t.to_state for t in rec.history] == [TaskState.QUEUED, TaskState.ASSIGNED, TaskState.IN_PROGRESS,
                                                 TaskState.DONE]
    assert [t.actor for t in rec.history] == ["fleet-manager", "r1-leader", "r2", "r2"]
    assert rec.robot_id == "r2" and rec.term == 3
    assert rec.history[1].term == 3 and rec.history[1].robot_id == "r2"


def test_assignment_needs_robot_and_term():
    rec = TaskRecord.create(SPEC, at=0.0, actor="x")
    with pytest.raises(InvalidTransitionError, match="term"):
        transition(rec, TaskState.ASSIGNED, at=1.0, actor="l", reason="r", robot_id="r1")


def test_requeue_clears_the_robot():
    rec = TaskRecord.create(SPEC, at=0.0, actor="x")
    rec = transition(rec, TaskState.ASSIGNED, at=1.0, actor="l", reason="a", robot_id="r1", term=1)
    rec = transition(rec, TaskState.QUEUED, at=2.0, actor="l", reason="robot r1: protective stop")
    assert rec.robot_id is None and rec.term is None
    assert rec.history[-1].reason == "robot r1: protective stop"


@given(st.lists(st.sampled_from(list(TaskState)), max_size=30))
def test_every_task_ends_in_at_most_one_terminal_state_and_never_leaves_it(steps):
    rec = TaskRecord.create(SPEC, at=0.0, actor="x")
    for k, to in enumerate(steps):
        was_terminal = rec.state in TERMINAL
        allowed = to in ALLOWED[rec.state]
        try:
            rec = transition(rec, to, at=float(k + 1), actor="a", reason="r", robot_id="r1", term=1)
        except InvalidTransitionError:
            assert not allowed
            continue
        assert allowed and not was_terminal, "left a terminal state"
    terminal_steps = [t for t in rec.history if t.to_state in TERMINAL]
    assert len(terminal_steps) <= 1
    if terminal_steps:
        assert rec.history[-1] is terminal_steps[0] and rec.state is terminal_steps[0].to_state
    for before, after in zip(rec.history, rec.history[1:], strict=False):
        assert after.from_state is before.to_state


def test_terminal_states_have_no_exit():
    for end in TERMINAL:
        rec = TaskRecord.create(SPEC, at=0.0, actor="x")
        if end is TaskState.DONE:
            rec = transition(rec, TaskState.ASSIGNED, at=1, actor="l", reason="a", robot_id="r1", term=1)
            rec = transition(rec, TaskState.IN_PROGRESS, at=2, actor="r1", reason="s")
        rec = transition(rec, end, at=3, actor="x", reason="end")
        for to in TaskState:
            with pytest.raises(InvalidTransitionError):
                transition(rec, to, at=4, actor="x", reason="again", robot_id="r1", term=2)


def test_validation_names_the_field():
    from sigma_tasks.model import Place, PlaceKind, SiteMap, TaskError

    site = SiteMap.from_places([Place("dock_1", PlaceKind.DOCK, 0, 0), Place("shelf_0_0", PlaceKind.SHELF, 5, 0)])
    with pytest.raises(TaskError, match="shelf_9_9") as err:
        TaskSpec("t", TaskKind.DELIVER, pickup="shelf_0_0", dropoff="shelf_9_9", payload_kg=3).validate(site)
    assert err.value.field == "places"
    with pytest.raises(TaskError, match="not a dock"):
        TaskSpec("t", TaskKind.CHARGE, place="shelf_0_0").validate(site)
    with pytest.raises(TaskError) as err:
        TaskSpec("t", TaskKind.DELIVER, pickup="shelf_0_0", dropoff="dock_1", payload_kg=-1).validate(site)
    assert err.value.field == "payload_kg"
    with pytest.raises(TaskError) as err:
        TaskSpec("t", TaskKind.GO_TO, place="dock_1", earliest_start=10, deadline=5).validate(site)
    assert err.value.field == "deadline"

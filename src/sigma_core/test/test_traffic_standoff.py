"""Standoffs between robots on the real site map (the warehouse of the demo), pure and closed loop: the geometry of
the main command's r1/r2 standoff (the right-of-way robot holds at the separation from a robot that gives way but
finds no way out), an idle robot standing on a working robot's path, and seeded two-/three-robot encounters in
the aisles — every robot arrives, nobody waits longer than a bound, the separation is kept. The long sweep is
``bench/traffic_encounters.py``."""

from __future__ import annotations

import math

import pytest
from fleet_sim import WAIT_BOUND, Fleet, encounter, judge
from kinematic import warehouse

from sigma_core.core.planner import plan_path
from sigma_core.core.tasks import Kind, TaskSpec
from sigma_core.core.traffic import TrafficParams, claim_along, point_polyline, refuge

SITE = warehouse()
SEP = TrafficParams().separation

# The right-of-way robot r1 stands in the west end aisle at the mouth of the aisle between shelf rows 2 and 3; its
# route runs east through that aisle. r2 stands 1.6 m from it in the aisle's north-west corner (a shelf corner on
# one side, the wall side of the aisle on the other): within the separation of r1's claim, so it must clear out.
R1, R2 = (-13.02, 4.83), (-11.44, 5.18)


def _finished(f: Fleet, robots) -> dict[str, str]:
    return {r: (f.final(r).state.name if f.final(r) else f"busy at {f.pipes[r].ctx.step}") for r in robots}


def test_the_cornered_robot_has_a_way_out_that_passes_nearer_than_it_stands_but_not_within_the_separation():
    goal = SITE.places["shelf_1_1"]
    route = plan_path(SITE, R1, (goal.x, goal.y)).waypoints
    assert point_polyline(R2, claim_along(R1, route, 1, 3.0)) < SEP      # r2 stands in r1's claim
    start = SITE.cell(*R2)
    # the old rule (never nearer to r1 than r2 stands now, 1.67 m): every way out of the corner passes nearer
    assert refuge(SITE.free, SITE.center, start, (route,), [R1], SEP + SITE.resolution) is None
    spot = refuge(SITE.free, SITE.center, start, (route,), [R1], SEP + SITE.resolution, approach=SEP)
    assert spot is not None
    assert point_polyline(spot, route) >= SEP + SITE.resolution and math.dist(spot, R1) >= SEP


def _cornered(seconds: float) -> Fleet:
    """Closed loop from that geometry: r1 (right of way) to shelf_1_1 east through the aisle, r2 (facing west) to
    shelf_2_0's pick place (-8, 0.85) — west past r1, then south."""
    f = Fleet(SITE, {"r1": (*R1, 0.0), "r2": (*R2, math.pi)})
    f.run(1.0)
    f.submit("r1", TaskSpec("r1", Kind.GO_TO, place="shelf_1_1"))
    f.submit("r2", TaskSpec("r2", Kind.GO_TO, place="shelf_2_0"))
    f.run(seconds, until=lambda f: all(f.final(r) for r in f.robots))
    return f


def test_the_cornered_standoff_reproduced_with_the_old_rules(monkeypatch):
    """The rules before this fix: the way out never nearer to a robot than it stands now, and a robot routed around
    at exactly the separation. Both hold at 1.6 m, each "keeping 1.5 m separation" from the other — the standoff."""
    import sigma_core.core.behaviours as behaviours
    import sigma_core.core.traffic as traffic

    def old_refuge(*args, approach=None, **kwargs):
        return refuge(*args, **kwargs)

    monkeypatch.setattr(behaviours, "refuge", old_refuge)
    monkeypatch.setattr(traffic, "ROUTE_MARGIN", 0.0)
    f = _cornered(1.5 * WAIT_BOUND)
    assert all(f.final(r) is None for r in f.robots)
    assert min(f.longest_wait.values()) > WAIT_BOUND, f.longest_wait
    assert all("keeping 1.5 m separation" in f.notes[r][-1][1] for r in f.robots), f.notes


def test_the_cornered_robots_both_arrive_keeping_the_separation():
    f = _cornered(300.0)
    assert _finished(f, f.robots) == {"r1": "SUCCEEDED", "r2": "SUCCEEDED"}, (f.notes, f.longest_wait)
    assert max(f.longest_wait.values()) < 15.0, f.longest_wait
    assert f.closest >= SEP - 0.1, f.closest_pair


def test_an_idle_robot_on_a_working_robots_path_makes_way():
    """r2 has no task and stands in the middle of the aisle between shelf rows 2 and 3 (2 m of free width: nobody
    passes it at 1.5 m); r1 drives through. r2 clears out to a refuge, r1 passes, r2 reports nothing (no task)."""
    f = Fleet(SITE, {"r1": (-11.75, 4.0, 0.0), "r2": (-6.0, 4.0, math.pi / 2)})
    f.run(1.0)
    f.submit("r1", TaskSpec("r1", Kind.GO_TO, place="2,4"))
    f.run(200, until=lambda f: f.final("r1") is not None)
    assert _finished(f, ["r1"]) == {"r1": "SUCCEEDED"}, (f.notes, f.longest_wait)
    moves = [n for _, n in f.notes["r2"] if n.startswith("clearing out")]
    assert moves and "idle" in moves[0], f.notes["r2"]
    assert math.dist((f.robots["r2"].x, f.robots["r2"].y), (-6.0, 4.0)) > 0.5      # it moved
    assert f.reports["r2"] == []                                                   # and that was no task
    assert f.longest_wait["r1"] < WAIT_BOUND and f.closest >= SEP - 0.1, (f.longest_wait, f.closest_pair)


@pytest.mark.parametrize("seed", [9, 125, 1, 2, 3, 4])
def test_seeded_two_robot_encounters_resolve(seed):
    f = encounter(SITE, seed, 2)
    assert judge(f, SEP) == [], (seed, f.starts)


@pytest.mark.parametrize("seed", [8, 20, 5, 6, 7])
def test_seeded_three_robot_encounters_resolve(seed):
    f = encounter(SITE, seed, 3)
    assert judge(f, SEP) == [], (seed, f.starts)


def test_a_detour_around_a_person_who_left_is_dropped_for_the_direct_way():
    """The main command's person stands 1 m in front of r2 in the cross aisle for 10 s. r2 yields, then plans around
    them (through the aisles: the cross aisle is 2 m wide); once the person has gone it plans the direct way again
    instead of driving the whole detour (which had led r2 into r1's aisle)."""
    f = Fleet(SITE, {"r2": (-7.0, 0.0, 0.0)})
    f.walkers.append(lambda t: (-5.5, 0.0, 0.0, 0.0) if t < 12.0 else None)
    f.run(1.0)
    f.submit("r2", TaskSpec("r2", Kind.GO_TO, place="6,0"))
    travelled, last = 0.0, (-7.0, 0.0)

    def odometer(f: Fleet) -> bool:
        nonlocal travelled, last
        b = f.robots["r2"]
        travelled, last = travelled + math.dist(last, (b.x, b.y)), (b.x, b.y)
        return f.final("r2") is not None

    f.run(200, until=odometer)
    notes = [n for _, n in f.notes["r2"]]
    assert _finished(f, ["r2"]) == {"r2": "SUCCEEDED"}, notes
    assert any(n.startswith("yielding to a person") for n in notes), notes
    assert "the detour's obstacles left: planning the direct way again" in notes, notes
    assert travelled < 20.0, travelled          # 13 m direct plus the start of the detour; the detour alone is > 30 m


def _walks_at(robot, t0: float, speed: float = 1.2, stop: float = 1.0, duration: float = 10.0):
    """The simulator's human_approach: a person appears 6.4 m ahead of ``robot``, walks straight at where it stood
    and stops ``stop`` from it (or from the robot, if that is nearer), and leaves after ``duration``."""
    goal = (robot.x, robot.y)
    state = {"p": (robot.x + 6.4 * math.cos(robot.yaw), robot.y + 6.4 * math.sin(robot.yaw)), "t": t0}

    def walker(t: float):
        if not t0 <= t <= t0 + duration:
            return None
        (x, y), dt = state["p"], t - state["t"]
        state["t"] = t
        d = math.dist((x, y), goal)
        if d <= stop or math.dist((x, y), (robot.x, robot.y)) <= stop:
            return (x, y, 0.0, 0.0)
        ux, uy = (goal[0] - x) / d, (goal[1] - y) / d
        step = min(speed * dt, d - stop)
        state["p"] = (x + ux * step, y + uy * step)
        return (*state["p"], ux * speed, uy * speed)
    return walker


@pytest.mark.parametrize(("person_after", "r2_after"), [(1.0, 0.0), (2.0, 3.0), (4.0, 6.0)])
def test_the_main_commands_scenario_in_the_kinematic_fleet(person_after, r2_after):
    """The main command's robots and script on the site map: r1 delivers shelf_3_0 → shelf_2_0, r3 sets off for
    shelf_0_1 and is shut down by safety on the way (mechanical fallback, where it stands), r2 drives the cross aisle
    to (6, 0) once r3 has turned off it, and a person walks at r2 and stands in front of it for 10 s. Both r1 and r2
    finish, nobody with work stands still for the bound, the separation is kept."""
    f = Fleet(SITE, {"r1": (-10.0, 0.0, 0.0), "r2": (-7.0, 0.0, 0.0), "r3": (-4.0, 0.0, 0.0)})
    f.run(1.5)
    f.submit("r1", TaskSpec("r1", Kind.DELIVER, pickup="shelf_3_0", dropoff="shelf_2_0", payload_mass=3.0))
    f.submit("r3", TaskSpec("r3", Kind.DELIVER, pickup="shelf_0_1", dropoff="shelf_0_2", payload_mass=3.0))
    f.run(90, until=lambda f: abs(f.robots["r3"].y) >= 1.5)
    f.run(r2_after)
    f.submit("r2", TaskSpec("r2", Kind.GO_TO, place="6,0"))
    f.run(person_after)
    f.walkers.append(_walks_at(f.robots["r2"], f.t))
    shutdown = f.t + 15.0

    def step(f: Fleet) -> bool:
        if f.t >= shutdown:
            f.robots["r3"].authority = 2            # the knee shut down: safety allows only mechanical fallback
        return f.final("r1") is not None and f.final("r2") is not None

    f.run(400, until=step)
    notes = (f.notes["r1"][-3:], f.notes["r2"][-3:])
    assert any(n.startswith("yielding to a person") for _, n in f.notes["r2"]), f.notes["r2"]
    assert _finished(f, ["r1", "r2"]) == {"r1": "SUCCEEDED", "r2": "SUCCEEDED"}, notes
    assert f.longest_wait["r1"] < WAIT_BOUND and f.longest_wait["r2"] < WAIT_BOUND, f.longest_wait
    assert f.closest >= SEP - 0.1, f.closest_pair

"""Traffic among robots and around people (core.traffic + the Navigate behaviour), pure and closed loop against
the kinematic stand-in: geometry against brute force, right of way, yielding, clearing out of a one-robot-wide
corridor without deadlock while keeping the separation, routing around a person who stands in the path."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st
from kinematic import KinematicRobot, warehouse

from sigma_core.core.pipeline import CoreConfig, Pipeline
from sigma_core.core.sitemap import grid_from_strings
from sigma_core.core.tasks import Kind, State, TaskSpec
from sigma_core.core.traffic import (
    Peer,
    Person,
    TrafficParams,
    advise,
    claim_along,
    has_right_of_way,
    polyline_distance,
)

coord = st.floats(-5, 5, allow_nan=False)
point = st.tuples(coord, coord)


def _sampled(a, b, n=60):
    def pts(line):
        out = [line[0]]
        for k in range(len(line) - 1):
            (x0, y0), (x1, y1) = line[k], line[k + 1]
            out += [(x0 + (x1 - x0) * i / n, y0 + (y1 - y0) * i / n) for i in range(1, n + 1)]
        return out
    return min(math.dist(p, q) for p in pts(a) for q in pts(b))


@settings(max_examples=60, deadline=None)
@given(st.lists(point, min_size=1, max_size=4), st.lists(point, min_size=1, max_size=4))
def test_polyline_distance_equals_a_dense_brute_force(a, b):
    exact = polyline_distance(tuple(a), tuple(b))
    brute = _sampled(tuple(a), tuple(b))
    longest = max([math.dist(p, q) for line in (a, b) for p, q in itertools.pairwise(line)] + [0.0])
    assert exact <= brute + 1e-9
    assert brute - exact <= longest / 60 + 1e-9          # sampling error only


def test_claim_is_the_path_ahead_cut_at_the_lookahead():
    wps = ((0.0, 0.0), (2.0, 0.0), (2.0, 5.0))
    c = claim_along((0.5, 0.0), wps, 1, 3.0)
    assert c[0] == (0.5, 0.0) and c[1] == (2.0, 0.0) and c[-1] == pytest.approx((2.0, 1.5))


@given(st.text("r0123456789", min_size=1, max_size=4), st.text("r0123456789", min_size=1, max_size=4))
def test_right_of_way_is_a_strict_order(a, b):
    if a != b:
        assert has_right_of_way(a, b) != has_right_of_way(b, a)
    assert has_right_of_way("r2", "r10") and not has_right_of_way("r10", "r2")


def test_the_robot_without_right_of_way_yields_and_clears_out_the_other_goes():
    p = TrafficParams(separation=1.5, lookahead=3.0)
    r1 = ((0.0, 0.0), (3.0, 0.0))                       # r1 drives east
    r2 = ((2.5, 0.0), (0.0, 0.5))                       # r2 drives west, inside r1's claim
    a1 = advise("r1", r1, [Peer("r2", r2, 0.0)], [], 0.0, p)
    a2 = advise("r2", r2, [Peer("r1", r1, 0.0)], [], 0.0, p)
    assert not a2.go and "giving way to robot r1" in a2.reason and a2.clear_of == (r1,)
    assert a1.clear_of == () and a1.nearest_robot == pytest.approx(2.5)
    # r1 may drive on until it would come within the separation of r2's body
    assert a1.go
    close = advise("r1", ((1.05, 0.0), (3.0, 0.0)), [Peer("r2", ((2.5, 0.0),), 0.0)], [], 0.0, p)
    assert not close.go and "keeping 1.5 m separation" in close.reason
    # moving away from a robot already too near is allowed; a stale peer is ignored
    assert advise("r1", ((0.0, 0.0), (-3.0, 0.0)), [Peer("r2", ((1.0, 0.0),), 0.0)], [], 0.0, p).go
    assert advise("r2", r2, [Peer("r1", r1, 0.0)], [], 5.0, p).go
    # leading a right-of-way robot the same way (it is behind, inside nothing of mine): no giving way, no clearing
    lead = advise("r3", ((2.0, 0.0), (5.0, 0.0)), [Peer("r2", ((0.5, 0.0), (6.0, 0.0)), 0.0)], [], 0.0, p)
    assert lead.go and lead.clear_of == ()


def test_a_person_in_the_path_makes_the_robot_yield_and_a_standing_one_is_routed_around():
    p = TrafficParams()
    claim = ((0.0, 0.0), (6.0, 0.0))
    walking = advise("r1", claim, [], [Person(2.0, 0.3, -1.0, 0.0)], 0.0, p)
    assert not walking.go and "yielding to a person 2.0 m ahead" in walking.reason and walking.obstacles == ()
    standing = advise("r1", claim, [], [Person(2.0, 0.3)], 0.0, p)
    assert standing.obstacles == ((2.0, 0.3, p.human_clearance),)
    assert advise("r1", claim, [], [Person(2.0, 1.5)], 0.0, p).go          # beside the corridor
    assert advise("r1", claim, [], [Person(4.0, 0.0)], 0.0, p).go          # further than the yield distance


# one-robot-wide corridor (0.5 m cells; '.' = where a robot's centre may be) between two rooms
CORRIDOR = ["#" * 34] + [
    "#" + "." * 7 + ("." * 18 if r == 6 else "#" * 18) + "." * 7 + "#" for r in range(1, 12)] + ["#" * 34]
LANE_Y = 3.25                                            # centre line of the corridor [m]


def _drive_pair(site, starts, goals, params, seconds=240.0, dt=0.05):
    """Two pipelines in closed loop, each seeing the other's claim from the previous tick; returns the reports,
    the smallest centre distance and the notes each printed while holding."""
    robots = {rid: KinematicRobot(x=x, y=y, yaw=yaw) for rid, (x, y, yaw) in starts.items()}
    pipes = {rid: Pipeline(site, CoreConfig(traffic=params), rid) for rid in robots}
    claims = {rid: ((r.x, r.y),) for rid, r in robots.items()}
    reports: dict[str, list] = {rid: [] for rid in robots}
    notes: dict[str, set] = {rid: set() for rid in robots}
    t, low = 0.0, math.inf
    while t < seconds:
        if t >= 1.5 and not any(reports.values()):
            for rid, (gx, gy) in goals.items():
                reports[rid] += pipes[rid].submit_task(TaskSpec(f"go-{rid}", Kind.GO_TO, place=f"{gx},{gy}"), t)
        for rid, p in pipes.items():
            robots[rid].feed(p, t)
            for other, c in claims.items():
                if other != rid:
                    p.perception.update_peer(other, list(c), t)
        for rid, p in pipes.items():
            out = p.tick(t)
            robots[rid].apply(out, dt)
            claims[rid] = out.route
            reports[rid] += out.statuses
            if out.traffic_note:
                notes[rid].add(out.traffic_note.split(":")[0].split(" (")[0])
        (a, b) = robots.values()
        low = min(low, math.hypot(a.x - b.x, a.y - b.y))
        t += dt
        if all(any(s.state in (State.SUCCEEDED, State.FAILED) for s in rs) for rs in reports.values()):
            break
    return reports, low, notes, robots


@settings(max_examples=6, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate])
@given(st.floats(-0.75, 0.75), st.floats(-0.75, 0.75), st.sampled_from([("r1", "r2"), ("r7", "r3")]))
def test_head_on_in_a_one_robot_wide_corridor_no_deadlock_and_the_separation_is_kept(dy1, dy2, names):
    site = grid_from_strings(CORRIDOR, resolution=0.5)
    west, east = names
    params = TrafficParams(separation=1.5)
    starts = {west: (1.75, LANE_Y + dy1, 0.0), east: (15.25, LANE_Y + dy2, math.pi)}
    goals = {west: (15.25, LANE_Y), east: (1.75, LANE_Y)}
    reports, low, notes, robots = _drive_pair(site, starts, goals, params)
    for rid, rs in reports.items():
        final = [s for s in rs if s.state in (State.SUCCEEDED, State.FAILED)]
        assert final and final[-1].state == State.SUCCEEDED, (rid, final, notes)
        assert math.dist((robots[rid].x, robots[rid].y), goals[rid]) < 0.3
    assert low >= params.separation - 0.1, low
    loser = east if has_right_of_way(west, east) else west
    assert any(n.startswith(("clearing out", "giving way")) for n in notes[loser]), notes
    print(f"one-robot-wide corridor {names}: smallest centre distance {low:.2f} m (separation {params.separation} m)")


def test_crossing_paths_in_the_warehouse_keep_the_separation():
    params = TrafficParams(separation=1.5)
    starts = {"r1": (-10.0, 0.0, 0.0), "r2": (-4.0, 0.0, math.pi)}
    goals = {"r1": (-3.0, 0.0), "r2": (-11.5, -4.0)}
    reports, low, _notes, _robots = _drive_pair(warehouse(), starts, goals, params)
    assert all(rs[-1].state == State.SUCCEEDED for rs in reports.values()), reports
    assert low >= params.separation - 0.1, low


def test_a_person_standing_in_the_path_is_yielded_to_then_routed_around():
    params = TrafficParams(yield_timeout=2.0)
    p = Pipeline(warehouse(), CoreConfig(traffic=params), "r1")
    r = KinematicRobot(x=-10.0, y=0.0)
    person = (-6.0, 0.3)
    t, notes, closest, out = 0.0, [], math.inf, None
    while t < 120:
        c, s = math.cos(r.yaw), math.sin(r.yaw)
        dx, dy = person[0] - r.x, person[1] - r.y
        r.humans = [(c * dx + s * dy, -s * dx + c * dy)]       # the detector reports it in the base frame
        r.feed(p, t)
        if t >= 1.5 and out is not None and p.executor.spec is None and not notes:
            p.submit_task(TaskSpec("walk", Kind.GO_TO, place="-2,0"), t)
        out = p.tick(t)
        r.apply(out, 0.05)
        closest = min(closest, math.hypot(dx, dy))
        if out.traffic_note:
            notes.append((t, out.traffic_note))
        if any(st_.state in (State.SUCCEEDED, State.FAILED) for st_ in out.statuses):
            break
        t += 0.05
    assert any(st_.state == State.SUCCEEDED for st_ in out.statuses), (notes[-3:], r.x, r.y)
    held = [n for n in notes if "yielding to a person" in n[1]]
    assert held and held[-1][0] - held[0][0] >= params.yield_timeout - 0.1      # waited, then went round
    assert closest >= params.path_corridor, closest


def test_a_robot_that_stopped_for_good_in_the_aisle_is_routed_around():
    params = TrafficParams(yield_timeout=2.0)
    p = Pipeline(warehouse(), CoreConfig(traffic=params), "r1")     # r1 has right of way, yet r2 will not move
    r = KinematicRobot(x=-10.0, y=0.0)
    t, low, out = 0.0, math.inf, None
    while t < 150:
        r.feed(p, t)
        p.perception.update_peer("r2", [(-6.0, 0.2)], t)             # shut down in the cross aisle
        if t >= 1.5 and p.executor.spec is None and low == math.inf:
            p.submit_task(TaskSpec("past", Kind.GO_TO, place="-2,0"), t)
        out = p.tick(t)
        r.apply(out, 0.05)
        if p.executor.spec is not None:
            low = min(low, math.hypot(r.x + 6.0, r.y - 0.2))
        if any(s.state in (State.SUCCEEDED, State.FAILED) for s in out.statuses):
            break
        t += 0.05
    assert any(s.state == State.SUCCEEDED for s in out.statuses), (t, r.x, r.y, out.traffic_note)
    assert low >= params.separation - 0.1, low


def test_a_held_task_says_why_in_its_status():
    """A running task that stands still reports why on tasks/status (the reason of its ACTIVE reports), at once when
    the situation changes: a person in the path, then odometry that stopped (a CI failure showed only "-")."""
    p = Pipeline(warehouse(), CoreConfig(), "r1")
    r = KinematicRobot(x=-10.0, y=0.0)
    t, reports = 0.0, []
    while t < 8.0:
        if t >= 5.0:
            r.odom_alive = False
        c, s = math.cos(r.yaw), math.sin(r.yaw)
        r.humans = [(c * (-8.0 - r.x) + s * (0.0 - r.y), -s * (-8.0 - r.x) + c * (0.0 - r.y))]  # 2 m ahead
        r.feed(p, t)
        if t >= 0.5 and p.executor.spec is None:
            p.submit_task(TaskSpec("held", Kind.GO_TO, place="-2,0"), t)
        out = p.tick(t)
        r.apply(out, 0.05)
        reports += [(t, s_.reason) for s_ in out.statuses if s_.state == State.ACTIVE]
        t += 0.05
    assert math.hypot(r.x + 10.0, r.y) < 0.3                                  # it held
    person = [tt for tt, why in reports if "yielding to a person" in why]
    odom = [tt for tt, why in reports if "waiting for fresh odometry" in why]
    assert person and person[0] < 1.5, reports[:5]
    assert odom and 5.0 < odom[0] < 5.0 + 0.5 + 0.2, reports[-5:]           # input_max_age, then at once

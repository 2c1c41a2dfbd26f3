"""A robot shoved off its path falls back, then takes its task up again (pure, closed loop, simulated time).

The main command's r3 stood at ``navigate:pickup`` (3 %) for 200+ s (clean-clone CI, round 5/6) with no reason on
``tasks/status``. Cause: a walker's capsule pushed it 0.8 m off its path; the self-evaluation's tracking factor
(1 - 0.7 x 0.8 = 0.44 < 0.5) made the arbiter fall back to the mechanical fallback, which halts the executor — and
the cross-track error of that last tracked tick stayed in the context, so the confidence stayed 0.44, edge_ai never
became eligible again and the task stood ACTIVE for good (the halted executor reported nothing). Now only a Navigate
that tracks its path on a tick sets the error (the pipeline clears it every tick), and a halted task says why."""

from __future__ import annotations

import math

from kinematic import KinematicRobot, warehouse

from sigma_core.core.arbiter import Mode
from sigma_core.core.pipeline import CoreConfig, Pipeline
from sigma_core.core.tasks import Kind, State, TaskSpec

DT = 0.05


def _drive(shove: float, until: float = 60.0):
    p = Pipeline(warehouse(), CoreConfig(), "r3")
    r = KinematicRobot(x=-10.0, y=0.0)
    t, shoved, modes, final, health, held = 0.0, None, [], None, [], []
    while t < until and final is None:
        r.feed(p, t)
        if t >= 0.5 and not p.executor.known:
            p.submit_task(TaskSpec("shoved", Kind.GO_TO, place="6,0"), t)
        out = p.tick(t)
        if shoved is None and r.x > -7.0:
            r.y += shove                       # pushed sideways, off the straight path along the cross aisle
            shoved = t
        r.apply(out, DT)
        if not modes or modes[-1][1] != out.commander:
            modes.append((t, out.commander))
        if shoved is not None:
            health.append((t, out.commander, out.edge_health.confidence, out.edge_health.reasons))
        final = next((s.state for s in out.statuses if s.state != State.ACTIVE), final)
        held += [(t, s.step, s.reason) for s in out.statuses if out.commander == Mode.MECHANICAL and shoved]
        t += DT
    return final, modes, shoved, health, (r.x, r.y), held


def test_a_robot_shoved_off_its_path_falls_back_then_finishes_its_task():
    final, modes, shoved, health, (x, y), said = _drive(0.8)
    assert shoved is not None
    fell = [t for t, m in modes if t > shoved and m == Mode.MECHANICAL]
    assert fell and fell[0] - shoved < 0.5, modes                 # the shove is noticed: fallback at once
    back = [t for t, m in modes if t > fell[0] and m == Mode.EDGE]
    assert back and back[0] - fell[0] < 3.0, (modes, health[:30])  # and edge_ai resumes (dwell 1 s), not never
    assert final == State.SUCCEEDED, (modes, health[-3:])
    assert math.hypot(x - 6.0, y) < 0.5
    # while nothing follows a path the tracking error is no reason (it was: "off the path by 0.80 m" for good)
    fallback = [h for h in health if h[1] == Mode.MECHANICAL]
    assert fallback and not any("off the path" in why for h in fallback[3:] for why in h[3]), fallback[:5]
    # and the halted task says why it stands (it reported nothing: the CI's reason "-")
    assert said and said[0][1] == "navigate:place", said
    assert said[0][2].startswith("halted: mechanical_fallback commands (edge AI confidence 0.4") and \
        "off the path by 0.80 m" in said[0][2], said


def test_tracking_error_still_counts_while_the_path_is_followed():
    """The factor itself stays: once the shoved robot tracks its path again it is judged off it (and falls back)."""
    _final, _modes, shoved, health, _, _ = _drive(0.8, until=10.0)
    soon = [h for h in health if shoved < h[0] <= shoved + 3 * DT + 1e-9]
    judged = [h for h in soon if any("off the path by 0.8" in why for why in h[3])]
    assert judged and judged[0][2] < 0.5, soon

"""Behaviour-tree leaves (py_trees) for the warehouse tasks, and the trees built from them.

The clock is injected: every behaviour reads ``ctx.now`` (set by the executor before each tick), never the wall
clock, so sim time and tests are deterministic. Behaviours write their intent into ``ctx.command``; nothing here
publishes. Retries are bounded and each failed attempt runs a recovery (wait, then replan from where the robot is),
like Nav2's navigator recoveries.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import py_trees
from py_trees.common import Status

from sigma_core.core.perception import WorldState
from sigma_core.core.planner import NoPathError, PathSearch, Plan
from sigma_core.core.reasoning import Constraints
from sigma_core.core.sitemap import Place, SiteMap
from sigma_core.core.tracker import TrackerParams, track
from sigma_core.core.traffic import TrafficParams, advise, claim_along, refuge
from sigma_ros_common.params import param

ARM_POSES: dict[str, dict[str, float]] = {
    # both arms together, like carrying a tote with two hands (rad; negative pitch = forward)
    "neutral": {"left_shoulder_pitch": -0.2, "right_shoulder_pitch": -0.2, "left_elbow": -0.3, "right_elbow": -0.3},
    "reach": {"left_shoulder_pitch": -0.9, "right_shoulder_pitch": -0.9, "left_elbow": -0.6, "right_elbow": -0.6},
    "carry": {"left_shoulder_pitch": -0.3, "right_shoulder_pitch": -0.3, "left_elbow": -1.4, "right_elbow": -1.4},
}


@dataclass(frozen=True)
class ExecutionParams:
    """Bounds of the task behaviours."""

    navigate_retries: int = param(2, unit="retries", low=0, high=10,
                                  description="failed navigation attempts retried (after a recovery) before failing")
    recovery_wait: float = param(1.0, unit="s", low=0.0, high=30.0,
                                 description="recovery between attempts: hold still this long, then replan")
    stall_timeout: float = param(15.0, unit="s", low=1.0, high=300.0,
                                 description="navigation fails after this long without progress while allowed to move")
    replan_distance: float = param(0.8, unit="m", low=0.1, high=5.0,
                                   description="replan when the robot is this far off its path")
    planning_budget: int = param(600, unit="cells", low=50, high=1000000,
                                 description="A* expansions per tick: a longer search continues on the next ticks")
    arm_timeout: float = param(8.0, unit="s", low=0.5, high=60.0,
                               description="an arm motion fails if not within tolerance after this long")
    arm_tolerance: float = param(0.15, unit="rad", low=0.01, high=1.0, description="arm motion done within this")
    arm_retries: int = param(1, unit="retries", low=0, high=10, description="failed arm motions retried")
    arm_speed: float = param(3.0, unit="rad/s", low=0.05, high=6.0,
                             description="joint speed limit sent with every arm target (smooth, carrying a tote)")
    arm_min_speed_scale: float = param(0.6, unit="1", low=0.0, high=1.0,
                                       description="arm motions wait while safety scales speed below this (a person "
                                                   "near, a wall near)")
    arm_wait_timeout: float = param(180.0, unit="s", low=1.0, high=3600.0,
                                    description="an arm motion fails after waiting this long for that speed scale")
    payload_timeout: float = param(5.0, unit="s", low=0.1, high=60.0,
                                   description="a grasp/release not confirmed after this long fails")
    charge_start_timeout: float = param(15.0, unit="s", low=1.0, high=300.0,
                                        description="docking fails if charging has not started after this long")
    charge_timeout: float = param(1800.0, unit="s", low=1.0, high=86400.0,
                                  description="charging fails if charge_to is not reached after this long")
    input_max_age: float = param(0.5, unit="s", low=0.01, high=10.0,
                                 description="odometry/joint states older than this: hold still instead of acting")


@dataclass
class Command:
    """The intent of one tick: base velocity (base frame) and optional joint targets."""

    vx: float = 0.0
    wz: float = 0.0
    joints: dict[str, float] | None = None
    joint_speed: float = math.inf            # [rad/s] limit for every joint target (inf = the driver's own)


@dataclass
class ExecContext:
    """Shared state between the executor and the behaviours (one per robot)."""

    site: SiteMap
    tracker: TrackerParams
    params: ExecutionParams
    now: float = 0.0
    world: WorldState | None = None
    constraints: Constraints | None = None
    speed_limit: float = 0.0
    command: Command = field(default_factory=Command)
    payload_request: float | None = None     # mass the hands should hold [kg] (the node relays it)
    payload_held: float = 0.0                # mass confirmed held [kg]
    step: str = ""
    remaining: float = math.nan              # [m] along the current path
    path_length: float = math.nan            # [m] of the current path when planned
    cross_track: float = math.nan            # [m] off the path being followed this tick (NaN: none followed; the
    #                                          pipeline clears it every tick, so a stopped Navigate leaves no stale one)
    moving_expected: bool = False            # the plan wants motion now (for self-evaluation)
    last_failure: str = ""
    needs_joints: bool = False
    traffic: TrafficParams = field(default_factory=TrafficParams)
    robot_id: str = ""                       # this robot (right of way among robots is ordered by id)
    route: tuple[tuple[float, float], ...] | None = None   # this tick's route (position, then the path ahead)
    nearest_robot: float = math.inf          # [m] centre distance to the nearest live peer, this tick
    traffic_note: str = ""                   # why the robot holds for traffic ("" = it does not)
    wait_note: str = ""                      # why navigation stands still for another reason this tick ("" = none)

    def fresh_pose(self) -> tuple[float, float, float] | None:
        w = self.world
        if w is None or w.pose is None or w.pose_age > self.params.input_max_age:
            return None
        return w.pose

    def motion_allowed(self) -> bool:
        s = self.world.safety if self.world else None
        return s is not None and s.speed_scale > 0.0 and not s.brake


class _Leaf(py_trees.behaviour.Behaviour):
    def __init__(self, name: str, ctx: ExecContext) -> None:
        super().__init__(name)
        self.ctx = ctx
        self.started = 0.0

    def initialise(self) -> None:
        self.started = self.ctx.now

    def fail(self, why: str) -> Status:
        self.ctx.last_failure = f"{self.name}: {why}"
        return Status.FAILURE


class Navigate(_Leaf):
    """Plan on the site map (A*) and follow the path to ``goal``; fails on no path or no progress.

    Traffic (``core.traffic``): holds while a person is in the path or a robot with right of way claims it; after
    ``yield_timeout`` replans around standing people and robots; clears out of a right-of-way robot's claim to the
    nearest refuge first when it stands in it; fails after holding ``yield_limit`` in a row."""

    def __init__(self, name: str, ctx: ExecContext, goal: Place) -> None:
        super().__init__(name, ctx)
        self.goal = goal
        self.plan: Plan | None = None
        self.search: PathSearch | None = None
        self.index = 1
        self.best = math.inf
        self.stalled = 0.0
        self.last_t = 0.0
        self.refuge: tuple[float, float] | None = None        # clearing out of another robot's way
        self.avoid: tuple[tuple[float, float, float], ...] = ()
        self.yield_since: float | None = None
        self.replanned_at = -math.inf
        self.refuge_retry_at = -math.inf                      # no refuge search before this (none was found)
        self.detour_at: float | None = None                   # when it planned around people/robots it yielded to
        self.detour_retried = False
        self.cross_track = 0.0                                # [m] its own, of the last tick it tracked (replanning)
        self.spacing_until = -math.inf                        # a hold for separation lasts until then at least
        self.spacing_note = ""

    def initialise(self) -> None:
        super().initialise()
        self.plan, self.search, self.index, self.best, self.stalled, self.last_t = (None, None, 1, math.inf, 0.0,
                                                                                    self.ctx.now)
        self.refuge, self.avoid, self.yield_since, self.replanned_at = None, (), None, -math.inf
        self.refuge_retry_at, self.detour_at, self.detour_retried = -math.inf, None, False
        self.cross_track = 0.0
        self.spacing_until, self.spacing_note = -math.inf, ""

    def _site(self, pose: tuple[float, float, float]) -> SiteMap:
        """The site map with what to route around, at full radius (a path that only grazes a disc would be held
        by the same rule again); a start inside a disc is snapped out by the planner (up to 1 m)."""
        ctx = self.ctx
        if not self.avoid:
            return ctx.site
        return ctx.site.with_obstacles(self.avoid)

    def update(self) -> Status:
        ctx = self.ctx
        ctx.step, ctx.moving_expected = self.name, False
        dt, self.last_t = max(0.0, ctx.now - self.last_t), ctx.now
        pose = ctx.fresh_pose()
        if pose is None:                      # hold still (zero command) until odometry is fresh again
            age = ctx.world.pose_age if ctx.world is not None else math.inf
            ctx.wait_note = f"waiting for fresh odometry ({age:.1f} s old)"
            return Status.RUNNING
        ctx.route = (pose[:2],)
        if self.plan is not None and self.cross_track > ctx.params.replan_distance:
            self.plan = None                    # off the path: plan again from here
        target = self.refuge or (self.goal.x, self.goal.y)
        if self.plan is None:
            try:
                if self.search is None:
                    self.search = PathSearch(self._site(pose), pose[:2], target)
                plan = self.search.advance(ctx.params.planning_budget)
            except NoPathError as exc:
                if self.avoid or self.refuge:    # blocked by the people/robots routed around: wait, then retry
                    if self.refuge is not None:  # no way to the refuge now: look for one again later
                        self.refuge_retry_at = ctx.now + ctx.traffic.yield_timeout
                    self.avoid, self.refuge, self.search = (), None, None
                    ctx.wait_note = f"no path around the robots/people in the way: {exc}"
                    return Status.RUNNING
                return self.fail(f"no path to {self.goal.name}: {exc}")
            if plan is None:
                ctx.wait_note = f"planning a path to {self.goal.name}"
                return Status.RUNNING           # still searching: hold still this tick
            self.plan, self.search = plan, None
            self.index, ctx.path_length, self.cross_track = 1, self.plan.length, 0.0
            self.best, self.stalled = math.inf, 0.0       # progress is judged along the new path
        out = track(ctx.tracker, pose, self.plan.waypoints, self.index, ctx.speed_limit,
                    None if self.refuge else self.goal.yaw)
        self.index, ctx.remaining, ctx.cross_track = out.index, out.remaining, out.cross_track
        self.cross_track = out.cross_track
        if out.arrived:
            if self.refuge is None:
                ctx.remaining = 0.0
                return Status.SUCCESS
            if (self.goal.x, self.goal.y) == self.refuge:
                return Status.SUCCESS              # making way (idle): the refuge was the goal
            self.refuge, self.plan, self.avoid = None, None, ()   # cleared out: plan to the goal again
            return Status.RUNNING
        held = self._traffic(pose, out.index)
        if held is not None:
            return held
        ctx.command.vx, ctx.command.wz = out.vx, out.wz
        ctx.moving_expected = True
        if not ctx.motion_allowed() or ctx.speed_limit <= 0.0:
            ctx.wait_note = "safety does not allow motion now" if not ctx.motion_allowed() else "speed limit 0"
        if out.remaining < self.best - 0.1 or out.remaining < ctx.tracker.goal_tolerance * 2:
            self.best, self.stalled = out.remaining, 0.0
        elif ctx.motion_allowed() and ctx.speed_limit > 0.0 and self.refuge is None:
            self.stalled += dt
            if self.stalled > ctx.params.stall_timeout:
                return self.fail(f"no progress for {self.stalled:.0f} s at ({pose[0]:.1f}, {pose[1]:.1f}), "
                                 f"{out.remaining:.1f} m to {self.goal.name}")
        return Status.RUNNING

    def clear_out(self, pose: tuple[float, float, float], routes: tuple[tuple[tuple[float, float], ...], ...],
                  why: str) -> bool:
        """Start driving to a refuge off ``routes`` (``find_refuge``); False if there is none."""
        found = find_refuge(self.ctx, pose, routes)
        if found is None:
            return False
        self.refuge, self.avoid = found
        self.plan, self.search = None, None
        self.ctx.traffic_note = f"clearing out to ({self.refuge[0]:.1f}, {self.refuge[1]:.1f}): {why}"
        return True

    def _traffic(self, pose: tuple[float, float, float], index: int) -> Status | None:
        """Advice of ``core.traffic`` for the path ahead: None = drive; RUNNING = hold this tick (or start clearing
        out); FAILURE = held longer than ``yield_limit``."""
        ctx, tp = self.ctx, self.ctx.traffic
        assert self.plan is not None
        claim = claim_along(pose[:2], self.plan.waypoints, index, tp.lookahead)
        # the route is published while holding too: a robot giving way must know what to clear out of, an idle one
        # where to make way (with only the position of a robot that held for it, a giver held on: the standoff)
        ctx.route = (pose[:2], *self.plan.waypoints[index:])
        w = ctx.world
        adv = advise(ctx.robot_id, claim, list(w.peers) if w else [], list(w.people) if w else [], ctx.now, tp,
                     clearing=self.refuge is not None)
        ctx.nearest_robot = adv.nearest_robot
        if not self.detour_retried and self._detour_outlived():
            return Status.RUNNING
        if adv.clear_of and self.refuge is None and ctx.now >= self.refuge_retry_at:
            if self.clear_out(pose, adv.clear_of, adv.reason):
                return Status.RUNNING
            self.refuge_retry_at = ctx.now + tp.yield_timeout     # no way out now: hold, look again later
        if adv.spacing:
            self.spacing_until, self.spacing_note = ctx.now + tp.separation_dwell, adv.reason
        if adv.go and ctx.now < self.spacing_until:
            adv = replace(adv, go=False, reason=self.spacing_note)    # the hold's dwell: no stop-go flicker
        if adv.go:
            self.yield_since, ctx.traffic_note = None, ""
            return None
        ctx.traffic_note = adv.reason
        if self.yield_since is None:
            self.yield_since = ctx.now
        held = ctx.now - self.yield_since
        if held > tp.yield_limit:
            return self.fail(f"held {held:.0f} s for traffic: {adv.reason}")
        if adv.obstacles and held >= tp.yield_timeout and ctx.now - self.replanned_at >= tp.yield_timeout:
            self.avoid, self.plan, self.search, self.replanned_at = adv.obstacles, None, None, ctx.now
            self.detour_at = ctx.now
        return Status.RUNNING

    def _detour_outlived(self) -> bool:
        """True once (per navigation) when the people and robots a detour was planned around are no longer where
        they stood, ``2 * yield_timeout`` after it was planned: the detour is dropped and the direct way planned again
        (a person who stood in the aisle for 10 s had sent the robot on a 30 m detour for good). Once only: a person
        who is still there, out of the detector's view, is yielded to again and the second detour is kept."""
        ctx, tp, w = self.ctx, self.ctx.traffic, self.ctx.world
        if self.detour_at is None or not self.avoid or self.refuge is not None or w is None or \
                ctx.now - self.detour_at < 2.0 * tp.yield_timeout:
            return False
        live = [p.position for p in w.peers if ctx.now - p.received <= tp.peer_max_age]
        for x, y, _ in self.avoid:
            if any(math.hypot(q.x - x, q.y - y) < 1.0 for q in w.people) or \
                    any(math.hypot(q[0] - x, q[1] - y) < 0.5 for q in live):
                return False
        self.avoid, self.plan, self.search, self.detour_at = (), None, None, None
        self.detour_retried = True
        ctx.traffic_note = "the detour's obstacles left: planning the direct way again"
        return True


def find_refuge(ctx: ExecContext, pose: tuple[float, float, float], routes: tuple[tuple[tuple[float, float], ...], ...]
                ) -> tuple[tuple[float, float], tuple[tuple[float, float, float], ...]] | None:
    """A refuge off ``routes`` (``core.traffic.refuge``) and the discs around the other robots to plan the way there
    with (the distance the refuge search kept, so the way it found stays open); None if there is none. A refuge off
    the whole routes comes first; failing that, one off their claims (the first ``lookahead`` metres), so the other
    robot can at least come on, and this one moves on again when it is in the way once more."""
    tp, site, w = ctx.traffic, ctx.site, ctx.world
    others = [p.position for p in (w.peers if w else ()) if ctx.now - p.received <= tp.peer_max_age
              and math.dist(p.position, pose[:2]) > 1e-6]
    start = site.cell(*pose[:2])
    for avoid in (routes, tuple(claim_along(r[0], r, 1, tp.lookahead) for r in routes)):
        spot = refuge(site.free, site.center, start, avoid, others, tp.separation + site.resolution,
                      approach=tp.separation)
        if spot is not None:
            gap = min((math.dist(o, pose[:2]) for o in others), default=math.inf)
            keep = min(tp.separation, gap) - 0.01
            return spot, tuple((o[0], o[1], keep) for o in others)
    return None


class ArmMove(_Leaf):
    """Both arms to a named pose through joint targets; done within tolerance, fails after a timeout.

    It waits (arms held where they are) while safety scales speed below ``arm_min_speed_scale``: moving a load slowly
    near a person is what the speed scale asks, but the gate's target lead then falls below the servo's sag under the
    load and the arm cannot lift; waiting for the person to pass is the safer plan anyway. The wait is bounded per
    step: ``arm_wait_timeout`` counts from the step's first wait and is not restarted when the scale recovers for a
    moment (a flickering limit would otherwise keep the step waiting for ever).
    """

    def __init__(self, name: str, ctx: ExecContext, pose: str) -> None:
        super().__init__(name, ctx)
        self.targets = ARM_POSES[pose]
        self.waiting_since: float | None = None

    def initialise(self) -> None:
        super().initialise()
        self.waiting_since = None

    def update(self) -> Status:
        ctx = self.ctx
        ctx.step, ctx.needs_joints, ctx.moving_expected = self.name, True, False
        s = ctx.world.safety if ctx.world is not None else None
        if s is None or s.speed_scale < ctx.params.arm_min_speed_scale:
            if self.waiting_since is None:
                self.waiting_since = ctx.now
            waited = ctx.now - self.waiting_since
            if waited > ctx.params.arm_wait_timeout:
                scale = s.speed_scale if s is not None else math.nan
                return self.fail(f"waited {waited:.0f} s for safety speed scale >= "
                                 f"{ctx.params.arm_min_speed_scale} (now {scale:.2f})")
            self.started = ctx.now          # the motion's own timeout starts when it may move
            return Status.RUNNING
        ctx.command.joints, ctx.command.joint_speed = dict(self.targets), ctx.params.arm_speed
        w = ctx.world
        err = math.nan
        if w is not None and w.joints_age <= ctx.params.input_max_age and all(n in w.joints for n in self.targets):
            err = max(abs(w.joints[n] - t) for n, t in self.targets.items())
            if err < ctx.params.arm_tolerance:
                ctx.needs_joints = False
                return Status.SUCCESS
        if ctx.now - self.started > ctx.params.arm_timeout:
            ctx.needs_joints = False
            seen = "no fresh joint states" if math.isnan(err) else f"largest error {err:.2f} rad"
            return self.fail(f"arms not at '{self.name}' within {ctx.params.arm_timeout} s ({seen})")
        return Status.RUNNING


class SetPayload(_Leaf):
    """Grasp (mass > 0) or release (0) the tote; succeeds when the hands confirm the mass."""

    def __init__(self, name: str, ctx: ExecContext, mass: float) -> None:
        super().__init__(name, ctx)
        self.mass = mass

    def update(self) -> Status:
        ctx = self.ctx
        ctx.step = self.name
        ctx.command.joints = None
        if abs(ctx.payload_held - self.mass) < 1e-6:
            ctx.payload_request = None
            return Status.SUCCESS
        ctx.payload_request = self.mass
        if ctx.now - self.started > ctx.params.payload_timeout:
            return self.fail(f"hands did not confirm {self.mass:.1f} kg within {ctx.params.payload_timeout} s")
        return Status.RUNNING


class Charge(_Leaf):
    """Stay on the dock until the battery reaches ``charge_to`` (0: succeed once charging)."""

    def __init__(self, name: str, ctx: ExecContext, charge_to: float) -> None:
        super().__init__(name, ctx)
        self.charge_to = charge_to

    def update(self) -> Status:
        ctx = self.ctx
        ctx.step = self.name
        w = ctx.world
        if w is None:
            return Status.RUNNING
        elapsed = ctx.now - self.started
        charging = w.charging
        if charging and (self.charge_to <= 0.0 or w.battery_soc >= self.charge_to):
            return Status.SUCCESS
        if math.isfinite(w.battery_soc) and w.battery_soc >= self.charge_to > 0.0:
            return Status.SUCCESS
        if not charging and elapsed > ctx.params.charge_start_timeout:
            return self.fail(f"not charging {elapsed:.0f} s after docking")
        if elapsed > ctx.params.charge_timeout:
            return self.fail(f"battery {w.battery_soc:.0%} below {self.charge_to:.0%} after {elapsed:.0f} s")
        return Status.RUNNING


class HoldFor(_Leaf):
    """Stand still; succeeds after ``duration`` (0 = runs until replaced)."""

    def __init__(self, name: str, ctx: ExecContext, duration: float) -> None:
        super().__init__(name, ctx)
        self.duration = duration

    def update(self) -> Status:
        self.ctx.step = self.name
        if self.duration > 0.0 and self.ctx.now - self.started >= self.duration:
            return Status.SUCCESS
        return Status.RUNNING


def with_recovery(name: str, child: py_trees.behaviour.Behaviour, ctx: ExecContext, retries: int,
                  wait: float) -> py_trees.behaviour.Behaviour:
    """``child``, and on failure a recovery (hold still ``wait`` s) then a fresh attempt, at most ``retries`` times."""
    recovery = py_trees.composites.Sequence(f"{name}/recover", memory=True, children=[
        HoldFor(f"{name}/recover", ctx, wait), py_trees.behaviours.Failure(f"{name}/retry")])
    attempt = py_trees.composites.Selector(f"{name}/attempt", memory=True, children=[child, recovery])
    return py_trees.decorators.Retry(name, attempt, num_failures=retries + 1)


def navigate(name: str, ctx: ExecContext, goal: Place) -> py_trees.behaviour.Behaviour:
    p = ctx.params
    return with_recovery(name, Navigate(name, ctx, goal), ctx, p.navigate_retries, p.recovery_wait)


def arm(name: str, ctx: ExecContext, pose: str) -> py_trees.behaviour.Behaviour:
    p = ctx.params
    return with_recovery(name, ArmMove(name, ctx, pose), ctx, p.arm_retries, p.recovery_wait)

"""An idle robot makes way: standing within the separation of a working robot's claim, it drives to a refuge off
that robot's route (``core.traffic.in_the_way_of`` and ``refuge``), with the ``Navigate`` behaviour's tracking and
traffic rules (it keeps the separation and yields to people; it gives way to nobody's claim while clearing out).
Idle robots rank below every robot that has work, so the robot with work never waits for one that has none (the
"idle robot on the path" standoff). Nothing is reported on ``tasks/status``: this is no task.
"""

from __future__ import annotations

import math

from py_trees.common import Status

from sigma_core.core.behaviours import ExecContext, Navigate, find_refuge
from sigma_core.core.sitemap import Place
from sigma_core.core.traffic import in_the_way_of


class _ToRefuge(Navigate):
    """Navigate to a refuge found before it starts (``initialise`` would forget it)."""

    def __init__(self, ctx: ExecContext, spot: tuple[float, float], avoid: tuple[tuple[float, float, float], ...],
                 why: str) -> None:
        super().__init__("make_way", ctx, Place("refuge", spot[0], spot[1]))
        self.spot, self.discs, self.why = spot, avoid, why

    def initialise(self) -> None:
        super().initialise()
        self.refuge, self.avoid = self.spot, self.discs

    def update(self) -> Status:
        status = super().update()
        if not self.ctx.traffic_note:        # what it is doing, while nothing else holds it
            self.ctx.traffic_note = f"clearing out to ({self.spot[0]:.1f}, {self.spot[1]:.1f}): {self.why}"
        return status


class MakeWay:
    """Run by the pipeline on every tick on which the executor has no task (``tick``); ``stop`` when it gets one."""

    def __init__(self, ctx: ExecContext) -> None:
        self.ctx = ctx
        self.nav: _ToRefuge | None = None
        self.retry_at = -math.inf          # no refuge search before this (none was found)

    def stop(self) -> None:
        if self.nav is not None and self.nav.status == Status.RUNNING:
            self.nav.stop(Status.INVALID)
        self.nav = None

    def tick(self, now: float) -> None:
        ctx = self.ctx
        if self.nav is None:
            pose = ctx.fresh_pose()
            if now < self.retry_at or pose is None or ctx.world is None or not ctx.motion_allowed():
                return
            routes = in_the_way_of(ctx.robot_id, pose[:2], list(ctx.world.peers), now, ctx.traffic)
            if not routes:
                return
            found = find_refuge(ctx, pose, routes)
            if found is None:
                self.retry_at = now + ctx.traffic.yield_timeout
                return
            self.nav = _ToRefuge(ctx, found[0], found[1], f"idle, in the way of {len(routes)} robot(s) with work")
        self.nav.tick_once()
        if self.nav.status != Status.RUNNING:
            self.nav = None
            ctx.step, ctx.remaining, ctx.moving_expected = "idle", math.nan, False
            self.retry_at = now + 1.0      # settle before looking again

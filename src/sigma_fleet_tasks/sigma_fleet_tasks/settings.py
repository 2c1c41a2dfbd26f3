"""Parameters of ``fleet_tasks_node``; defaults equal config/fleet_tasks.yaml (a test checks it)."""

from __future__ import annotations

from dataclasses import dataclass

from sigma_ros_common.params import param


@dataclass(frozen=True)
class FleetTasksSettings:
    robot_id: str = param("", description="robot id (empty: the node namespace)")
    world_file: str = param("package://sigma_sim/worlds/warehouse.yaml", unit="path",
                            description="site description whose places tasks name (the same file sigma_core uses)")
    start_place: str = param("", description="where this robot starts, for travel costs until it reports a task's "
                             "end place (empty: the site's centre)")
    tick_period_s: float = param(1.0, unit="s", low=0.1, high=10.0,
                                 description="the node's one timer: allocation at the leader, lease checks and "
                                 "renewals")
    lease_s: float = param(10.0, unit="s", low=1.0, high=600.0,
                           description="an assignment's lease; the leader renews it while the robot reports")
    skew_s: float = param(1.0, unit="s", low=0.0, high=60.0,
                      description="clock-skew margin before a leader re-queues an expired lease's task")
    report_period_s: float = param(3.0, unit="s", low=0.5, high=600.0,
                                   description="a robot re-sends its snapshot (position, held task, finished "
                                   "tasks) to the leader this often; must be well below lease_s")
    failed_cooldown_s: float = param(60.0, unit="s", low=0.0, high=3600.0,
                                     description="a robot that reported a task FAILED gets no new task this long")

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
    stop_grace_s: float = param(20.0, unit="s", low=0.0, high=3600.0,
                                description="a protective stop lasting this long lets the robot's tasks go (reported "
                                "failed, re-allocated by the leader); an emergency stop does at once")
    offer_grace_s: float = param(2.0, unit="s", low=0.0, high=60.0,
                                 description="a protective stop lasting this long takes the robot out of allocation "
                                 "(a shorter one, e.g. a person crossing, does not); an emergency stop does at once")
    nominal_voltage_v: float = param(51.8, unit="V", low=1.0, high=1000.0,
                                     description="battery pack nominal voltage: BatteryState's Ah as Wh for the "
                                     "leader's energy model")
    default_payload_kg: float = param(20.0, unit="kg", low=0.0, high=1000.0,
                                      description="payload limit assumed until the executor reports its own "
                                      "(TaskStatus.payload_limit)")
    degraded_health: float = param(0.5, low=0.0, high=1.0,
                                   description="an actuator below this twin health index is a degraded motor: no "
                                   "long or heavy task")
    degraded_risk: float = param(0.5, low=0.0, high=1.0,
                                 description="an actuator at or above this twin risk is a degraded motor")
    hot_risk: float = param(0.5, low=0.0, high=1.0,
                            description="an actuator whose twin-forecast dominant failure mode is thermal, at or "
                            "above this risk, is a hot motor: the robot gets no new task (not even a hand-over) "
                            "until the twin's risk falls")
    cloud_url: str = param("", unit="URL", description="cloud tier base URL for the leader's claim "
                           "(POST /v1/devices/<robot>/leadership); empty = no claim")
    key_file: str = param("var/sigma_bridge/{robot_id}/robot.key", unit="path",
                          description="the robot's device key (the bridge's; read only) that signs the claim")
    claim_retry_s: float = param(2.0, unit="s", low=0.1, high=600.0,
                                 description="a failed claim is first retried after this, then twice as long each "
                                 "time (at most 60 s) while the robot leads the term")
    traffic_relay: bool = param(True, description="carry this robot's traffic/route to the other robots over the "
                                "signed swarm mesh and theirs to traffic/peers/<robot>/route (only while the mesh is "
                                "on: swarm/state names a roster)")
    traffic_period_s: float = param(0.2, unit="s", low=0.05, high=5.0,
                                    description="peers' routes are republished for sigma_core this often, on the "
                                    "robot's own route (5 Hz; else at tick_period_s)")
    traffic_position_tolerance_m: float = param(0.15, unit="m", low=0.01, high=5.0,
                                                description="the route is sent again when the peers' prediction "
                                                "(moved along it at the sent speed) is off by more than this")
    traffic_keepalive_s: float = param(1.0, unit="s", low=0.1, high=60.0,
                                       description="the route is sent at least this often (a standing robot)")
    traffic_max_age_s: float = param(2.5, unit="s", low=0.2, high=60.0,
                                     description="a peer's route older than this (its stamp) is dropped: the peer "
                                     "left, stopped or lost the mesh")

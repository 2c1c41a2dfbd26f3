"""Parameters of ``swarm_node`` (the election timing is ``sigma_swarm.core.params.ElectionParams``, prefix
``election``). Defaults equal config/swarm.yaml (src/sigma_swarm) (a unit test checks it). ``{robot_id}`` in a path is
replaced by the robot id."""

from __future__ import annotations

from dataclasses import dataclass

from sigma_ros_common.params import param


@dataclass(frozen=True)
class SwarmNodeSettings:
    robot_id: str = param("", description="robot id (empty: the node namespace)")
    site: str = param("warehouse", description="site whose mesh this robot joins (must match the signed roster)")
    swarm_domain_id: int = param(90, low=0, high=232, description="Cyclone DDS domain of the site's mesh; "
                                 "must differ from the robot's ROS_DOMAIN_ID")
    localhost_only: bool = param(False, description="keep the mesh on the loopback interface (tests, one host)")
    key_file: str = param("var/sigma_bridge/{robot_id}/robot.key", unit="path",
                          description="the robot's Ed25519 key (the bridge's, registered with the cloud)")
    roster_file: str = param("var/sigma_bridge/{robot_id}/roster.json", unit="path",
                             description="cloud-signed site roster (the bridge fetches it)")
    cloud_roster_key: str = param("", description="base64 Ed25519 public key the cloud signs rosters with; "
                                  "empty: the mesh stays off and swarm/state says so")
    state_file: str = param("var/sigma_swarm/{robot_id}/state.json", unit="path",
                            description="durable term and vote")
    roster_poll_s: float = param(2.0, unit="s", low=0.1, high=3600.0,
                                 description="how often the roster file is checked for a newer version")
    state_period_s: float = param(1.0, unit="s", low=0.1, high=60.0,
                                  description="swarm/state and diagnostics republished at least this often")
    drop_warn_rate: float = param(5.0, unit="1/s", low=0.0, high=1e6,
                                  description="dropped frames per second above which diagnostics turn WARN")
    drop_error_rate: float = param(50.0, unit="1/s", low=0.0, high=1e6,
                                   description="dropped frames per second above which diagnostics turn ERROR")
    nice: int = param(-10, low=-20, high=19,
                      description="nice value of the process (threads and, as a session leader, its autogroup): "
                      "heartbeats and the leader's lease run on 75-300 ms deadlines; 0 = leave it")
    broadcast_tags: bool = param(True, description="membership and leader heartbeats carry one MAC per roster peer "
                                 "(pair keys) instead of an Ed25519 signature; false while members older than round "
                                 "20 are on the site (they cannot check the tags)")

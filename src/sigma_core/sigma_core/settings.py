"""Declared parameters of core_node: node-level settings plus one section per pipeline stage."""

from __future__ import annotations

from dataclasses import dataclass

from rclpy.node import Node

from sigma_core.core.arbiter import ArbiterParams
from sigma_core.core.behaviours import ExecutionParams
from sigma_core.core.forecast import ForecastParams
from sigma_core.core.pipeline import CoreConfig
from sigma_core.core.reasoning import ReasoningParams
from sigma_core.core.selfeval import SelfEvalParams
from sigma_core.core.sitemap import MapParams, SiteMap, load_site
from sigma_core.core.tracker import TrackerParams
from sigma_core.core.traffic import TrafficParams
from sigma_ros_common.params import param, require
from sigma_ros_common.ros_params import load
from sigma_ros_common.share import resolve_file

SECTIONS = {"map": MapParams, "tracker": TrackerParams, "execution": ExecutionParams, "reasoning": ReasoningParams,
            "selfeval": SelfEvalParams, "arbiter": ArbiterParams, "traffic": TrafficParams,
            "forecast": ForecastParams}


@dataclass(frozen=True)
class NodeParams:
    """Node-level settings of core_node."""

    rate: float = param(20.0, unit="Hz", low=2.0, high=200.0,
                        description="pipeline tick rate (commands, policy_health, arbitration)")
    world_file: str = param("package://sigma_sim/worlds/warehouse.yaml", unit="path",
                            description="site description (zones, docks) naming its MJCF geometry; relative = "
                                        "share/sigma_core")
    policy_id: str = param("sigma-edge-ai/0.1", unit="name", description="policy id in policy_health")
    payload_service: str = param("sim/set_payload", unit="name",
                                 description="service that grasps/releases the tote; empty = hands confirm at once")
    joint_states_linger: float = param(2.0, unit="s", low=0.0, high=60.0,
                                       description="keep the joint_states subscription this long after an arm motion")
    peer_routes: str = param("auto", choices=("auto", "mesh", "graph"),
                             description="where other robots' traffic routes come from: mesh = relayed from the "
                             "signed swarm mesh on traffic/peers/<robot>/route (sigma_fleet_tasks); graph = "
                             "/<robot>/traffic/route found on this ROS graph; auto = both: the mesh's once any is "
                             "relayed, and a robot's from the graph while the mesh says nothing of it for "
                             "traffic.peer_max_age (its relay died)")
    nice: int = param(-10, low=-20, high=19,
                      description="nice value of the process (its threads and, as a session leader, its "
                      "autogroup): the edge AI's confidence reports and commands have deadlines (safety suspends "
                      "it after 0.5 s of silence); 0 = leave it")

    def __post_init__(self) -> None:
        require(self.rate > 0, "rate must be > 0")


@dataclass(frozen=True)
class Settings:
    node: NodeParams
    config: CoreConfig
    site: SiteMap


def load_settings(node: Node) -> Settings:
    """Declare every parameter (descriptors from the dataclasses) and build the validated settings and site map."""
    node_params = load(node, NodeParams)
    sections = {name: load(node, cls, name) for name, cls in SECTIONS.items()}
    world = resolve_file(node_params.world_file, "sigma_core", "world_file")
    try:
        site = load_site(world, sections.pop("map"))
    except ValueError as exc:
        raise ValueError(f"parameter world_file: {exc}") from exc
    return Settings(node_params, CoreConfig(**sections), site)

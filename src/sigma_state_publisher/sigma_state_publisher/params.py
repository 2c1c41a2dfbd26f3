"""state_publisher parameters: one frozen dataclass whose fields drive the ROS descriptors, validation and docs
(sigma_ros_common.params); defaults in config/state_publisher.yaml."""

from __future__ import annotations

from dataclasses import dataclass

from sigma_ros_common.params import param, require


@dataclass(frozen=True)
class StatePublisherParams:
    robot_id: str = param("", description="robot id: tf frames are '<robot_id>/<link>'; empty = the node namespace")
    urdf_path: str = param("package://sigma_description/urdf/sigma_humanoid.urdf",
                           description="robot URDF: package://<pkg>/<path>, absolute, or relative to this share")
    publish_frequency: float = param(20.0, unit="Hz", low=0.1, high=1000.0,
                                     description="most /tf messages per second (robot_state_publisher's default)")
    publish_odom_tf: bool = param(True, description="publish odom -> <robot_id>/base_link from the odom topic")
    tf_topic: str = param("/tf", description="dynamic transforms: '/tf' shared with frame prefixes, 'tf' per namespace")
    tf_static_topic: str = param("/tf_static", description="fixed-joint transforms (latched)")

    def __post_init__(self) -> None:
        require(bool(self.tf_topic.strip()), "tf_topic must name a topic")
        require(bool(self.tf_static_topic.strip()), "tf_static_topic must name a topic")

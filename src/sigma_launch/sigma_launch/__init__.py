"""sigma launch: runs ROS 2 YAML launch files (ros2 launch semantics) on hosts without launch_ros."""

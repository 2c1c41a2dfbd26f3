"""Console scripts of this package: each imports its module only when called (a Ctrl-C while rclpy and
the node's libraries still load is a clean exit, not a traceback: sigma_ros_common.entry)."""

from sigma_ros_common.entry import lazy

sim_node = lazy("sigma_sim.node:main")

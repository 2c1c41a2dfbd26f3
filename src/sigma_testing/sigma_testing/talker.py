"""Publishes ``std_msgs/String`` with a fixed ``token`` parameter on ``chatter`` at ``rate`` Hz (isolation tests)."""

from __future__ import annotations

import sys

import rclpy
from rclpy.node import Node
from std_msgs.msg import String


class Talker(Node):
    def __init__(self) -> None:
        super().__init__("talker")
        self.token = self.declare_parameter("token", "").value
        rate = self.declare_parameter("rate", 20.0).value
        self._pub = self.create_publisher(String, "chatter", 10)
        self.create_timer(1.0 / rate, self._tick)

    def _tick(self) -> None:
        self._pub.publish(String(data=self.token))


def main(args: list[str] | None = None) -> int:
    rclpy.init(args=args)
    node = Talker()
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, rclpy.executors.ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())

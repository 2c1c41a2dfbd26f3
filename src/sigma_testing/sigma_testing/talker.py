"""Publishes ``std_msgs/String`` with a fixed ``token`` parameter on ``chatter`` at ``rate`` Hz.

Used by isolation and launch tests; ``exit_after`` > 0 makes it exit with ``exit_code`` after that many seconds
(to test respawn and failure handling).
"""

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
        exit_after = self.declare_parameter("exit_after", 0.0).value
        self.exit_code = int(self.declare_parameter("exit_code", 0).value)
        self._pub = self.create_publisher(String, "chatter", 10)
        self.create_timer(1.0 / rate, self._tick)
        if exit_after > 0:
            self.create_timer(exit_after, self._exit)
        self.get_logger().info(f"talking {self.token!r} at {rate} Hz")

    def _exit(self) -> None:
        raise SystemExit(self.exit_code)

    def _tick(self) -> None:
        self._pub.publish(String(data=self.token))


def main(args: list[str] | None = None) -> int:
    rclpy.init(args=args)
    node = Talker()
    code = 0
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, rclpy.executors.ExternalShutdownException):
        pass
    except SystemExit as exc:
        code = int(exc.code or 0)
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    return code


if __name__ == "__main__":
    sys.exit(main())

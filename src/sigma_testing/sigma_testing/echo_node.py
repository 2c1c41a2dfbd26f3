"""Echo node for interface round-trip tests: republishes messages and answers services generically.

Parameters: ``types`` (string array of ``pkg/msg/Type`` and ``pkg/srv/Type``). For a message type T it
subscribes to ``in/T`` and republishes each message unchanged on ``out/T``; for a service type S it serves
``echo/S``, answering with every string field of the response set to the request rendered as text and every
bool field set to true, so the caller can check the request arrived intact.
"""

from __future__ import annotations

import sys

import rclpy
from rclpy.node import Node
from rclpy.parameter import Parameter

from sigma_testing.messages import import_type, to_dict


class EchoNode(Node):
    def __init__(self) -> None:
        super().__init__("echo_node")
        self.declare_parameter("types", Parameter.Type.STRING_ARRAY)
        names = self.get_parameter("types").value or []
        self._keep = []
        for name in names:
            cls = import_type(name)
            short = name.split("/")[-1]
            if "/srv/" in name:
                self._keep.append(self.create_service(cls, f"echo/{short}", self._answer))
            else:
                pub = self.create_publisher(cls, f"out/{short}", 10)
                self._keep.append(pub)
                self._keep.append(self.create_subscription(cls, f"in/{short}", pub.publish, 10))
        self.get_logger().info(f"echoing {len(names)} type(s)")

    @staticmethod
    def _answer(request, response):
        rendered = repr(to_dict(request))
        for field, ftype in response.get_fields_and_field_types().items():
            if ftype == "string":
                setattr(response, field, rendered)
            elif ftype == "boolean":
                setattr(response, field, True)
        return response


def main(args: list[str] | None = None) -> int:
    rclpy.init(args=args)
    node = EchoNode()
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

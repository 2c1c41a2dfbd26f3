"""SigmaPrompt's shared ROS layer. Import the submodule you need; this file imports nothing (so the pure modules
``params`` and ``share`` stay importable from cores that must not pull in rclpy).

- ``params``: frozen-dataclass parameter declarations (unit, range, choices, description) and their validation; pure.
- ``share``: installed files through the ament index; pure (ament_index_python only).
- ``ros_params``: declare those parameters on an rclpy node with descriptors and read them back validated.
- ``cdr``: the fields a node needs, read from serialized messages (``raw=True`` subscriptions); pure.
- ``qos``: the QoS profiles of docs/contracts.md.
- ``spin``: one executable entry point: init, build nodes (start refusals exit 2 naming the cause), spin, clean up.
"""

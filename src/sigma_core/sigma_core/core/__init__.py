"""Pure core of sigma_core: no rclpy, no clock of its own (every call takes ``now``)."""

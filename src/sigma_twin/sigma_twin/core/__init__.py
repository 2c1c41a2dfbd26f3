"""The pure twin core: estimators, prognostics, spoof checks. No rclpy, no sigma_sim, time passed in."""

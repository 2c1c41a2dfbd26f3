"""sigma_state_publisher: robot_description, /tf_static and /tf as robot_state_publisher publishes them."""

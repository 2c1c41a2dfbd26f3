"""SigmaPrompt cloud tier (no ROS). The device protocol lives in sigma_protocol (shared with the robot bridge)."""

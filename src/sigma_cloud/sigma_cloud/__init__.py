"""SigmaPrompt cloud tier (no ROS). Keep this file import-free: the bridge imports sigma_cloud.protocol."""

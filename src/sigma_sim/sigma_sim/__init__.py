"""sigma_sim: MuJoCo hardware stand-in for SigmaPrompt humanoids (pure models + a thin rclpy node)."""

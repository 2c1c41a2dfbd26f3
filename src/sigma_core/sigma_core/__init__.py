"""Onboard cognition: Edge AI pipeline, task execution and the arbiter (sigma_core)."""

"""Test isolation helpers for SigmaPrompt ROS 2 tests (see ``sigma_testing.fixtures``)."""

from sigma_testing.domain import RosDomain, claim_domain, isolation_env
from sigma_testing.process import NodeProcess, executable, ros_args

__all__ = ["NodeProcess", "RosDomain", "claim_domain", "executable", "isolation_env", "ros_args"]

"""Deterministic simulation tester (FoundationDB / TigerBeetle-VOPR style) for the sans-I/O election core.

``run_seed(seed)`` builds a whole site from one seed (members, clocks, network, fault schedule), runs it on a
simulated clock and checks the invariants after every step; the same seed always gives the same run, so a failing
seed replays with ``python -m sigma_swarm.dst --seed N --trace``.
"""

from sigma_swarm.dst.checker import InvariantError
from sigma_swarm.dst.sim import Profile, SeedResult, run_seed

__all__ = ["InvariantError", "Profile", "SeedResult", "run_seed"]

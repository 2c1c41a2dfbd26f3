"""Allocation of a private ROS 2 domain per test, unique across concurrently running test processes."""

from __future__ import annotations

import fcntl
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

# Domain ids 1..100 stay clear of the ephemeral port range on Linux (ROS 2 "domain id" guidance);
# 0 is left to interactive use (the main job), so tests never hear it.
_FIRST_ID = 1
_LAST_ID = 100
_LOCK_DIR = Path(tempfile.gettempdir()) / "sigma-ros-domains"


@dataclass
class RosDomain:
    """A claimed ROS domain id and the environment that confines processes to it (localhost only)."""

    domain_id: int
    _lock_fd: int | None = field(default=None, repr=False)

    @property
    def env(self) -> dict[str, str]:
        """Environment variables for a process that must live in this domain only."""
        env = dict(os.environ)
        env.update(isolation_env(self.domain_id))
        return env

    def release(self) -> None:
        """Give the domain id back (idempotent)."""
        if self._lock_fd is not None:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None

    def __enter__(self) -> RosDomain:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def isolation_env(domain_id: int) -> dict[str, str]:
    """The variables that put a ROS 2 process in ``domain_id`` with localhost-only discovery."""
    return {
        "ROS_DOMAIN_ID": str(domain_id),
        "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST",
        "ROS_STATIC_PEERS": "",
        "ROS_LOCALHOST_ONLY": "",  # deprecated variable; cleared so it cannot contradict the range above
        "PYTHONUNBUFFERED": "1",
    }


def claim_domain() -> RosDomain:
    """Claim a free domain id, holding an exclusive file lock on it until released.

    Locks are advisory ``flock`` locks, so a crashed test process frees its id automatically.
    ``SIGMA_TEST_FORCE_DOMAIN`` overrides the allocation (used to demonstrate what happens without isolation).
    """
    forced = os.environ.get("SIGMA_TEST_FORCE_DOMAIN")
    if forced:
        return RosDomain(int(forced))
    _LOCK_DIR.mkdir(parents=True, exist_ok=True)
    start = _FIRST_ID + os.getpid() % (_LAST_ID - _FIRST_ID + 1)
    span = _LAST_ID - _FIRST_ID + 1
    for offset in range(span):
        domain_id = _FIRST_ID + (start - _FIRST_ID + offset) % span
        fd = os.open(_LOCK_DIR / f"{domain_id}.lock", os.O_CREAT | os.O_RDWR, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        return RosDomain(domain_id, fd)
    raise RuntimeError(f"all ROS domain ids {_FIRST_ID}..{_LAST_ID} are claimed by running tests")

"""A local site of ``swarm_member`` processes over Cyclone DDS on localhost, for tests and benches.

Creates each robot's Ed25519 key (0600) and a cloud roster key, writes the signed roster (with the mesh key sealed to
each member, as the cloud does), starts real processes (one per member), follows their ``SWARM`` status lines and
offers waits on conditions (never fixed sleeps).
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import orjson
from nacl.signing import SigningKey

from sigma_protocol import b64encode
from sigma_swarm.roster import derive_mesh_key, sign_roster


@dataclass
class MemberProcess:
    """One running member and what it has printed."""

    robot_id: str
    popen: subprocess.Popen
    status: dict = field(default_factory=dict)
    history: list[dict] = field(default_factory=list)
    commands: list[dict] = field(default_factory=list)
    replies: queue.Queue = field(default_factory=queue.Queue)
    log: list[str] = field(default_factory=list)

    @property
    def alive(self) -> bool:
        return self.popen.poll() is None

    def send(self, line: str) -> None:
        assert self.popen.stdin is not None
        self.popen.stdin.write(line + "\n")
        self.popen.stdin.flush()

    def ask(self, line: str, tag: str, timeout: float = 10.0) -> dict:
        """Send a hook line and wait for the reply tagged ``tag``."""
        self.send(line)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                got_tag, data = self.replies.get(timeout=0.1)
            except queue.Empty:
                continue
            if got_tag == tag:
                return data
        raise TimeoutError(f"{self.robot_id} did not answer {line!r} with {tag} in {timeout} s")


class LocalCluster:
    """N members of site ``site`` on Cyclone domain ``domain_id`` (localhost only)."""

    def __init__(self, n: int, workdir: Path, domain_id: int, site: str = "testsite",
                 params_file: Path | None = None, extra_ids: Iterable[str] = (),
                 python_path: str | None = None) -> None:
        """``python_path``: put this first on the members' PYTHONPATH (a bench runs another revision's members)."""
        self.site, self.domain_id, self.workdir = site, domain_id, workdir
        self.python_path = python_path
        self.ids = [f"r{i + 1}" for i in range(n)]
        workdir.mkdir(parents=True, exist_ok=True)
        self.cloud_key = SigningKey.generate()
        self.keys = {i: SigningKey.generate() for i in [*self.ids, *extra_ids]}
        for robot_id, key in self.keys.items():
            path = workdir / f"{robot_id}.key"
            path.write_text(b64encode(bytes(key)))
            path.chmod(0o600)
        self.roster_path = workdir / "roster.json"
        self.roster_version = 0
        self.write_roster(self.ids)
        self.params_file = params_file
        self.members: dict[str, MemberProcess] = {}
        self._standby: MemberProcess | None = None
        self._lock = threading.Lock()

    def write_roster(self, ids: Iterable[str]) -> int:
        """Sign and write a new roster version listing ``ids`` (atomic replace); returns the version."""
        self.roster_version += 1
        doc = sign_roster(self.cloud_key, self.site, self.roster_version,
                          [(i, b64encode(bytes(self.keys[i].verify_key))) for i in ids], issued_at=time.time(),
                          mesh_key=derive_mesh_key(self.cloud_key, self.site, self.roster_version))  # as the cloud
        tmp = self.roster_path.with_suffix(".tmp")
        tmp.write_bytes(orjson.dumps(doc))
        os.replace(tmp, self.roster_path)
        return self.roster_version

    def command(self, robot_id: str) -> list[str]:
        cmd = [sys.executable, "-m", "sigma_swarm.member_main", "--site", self.site, "--robot-id", robot_id,
               "--key-file", str(self.workdir / f"{robot_id}.key"), "--roster", str(self.roster_path),
               "--cloud-key", b64encode(bytes(self.cloud_key.verify_key)), "--domain", str(self.domain_id),
               "--state-file", str(self.workdir / f"{robot_id}.state.json"), "--localhost-only", "--test-hooks",
               "--roster-poll", "0.5"]
        if self.params_file:
            cmd += ["--params", str(self.params_file)]
        return cmd

    def _spawn(self, robot_id: str, command: list[str]) -> MemberProcess:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        if self.python_path:
            env["PYTHONPATH"] = os.pathsep.join(p for p in (self.python_path, env.get("PYTHONPATH", "")) if p)
        popen = subprocess.Popen(command, stdin=subprocess.PIPE,  # noqa: S603 - our own module
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        proc = MemberProcess(robot_id, popen)
        threading.Thread(target=self._follow, args=(proc,), daemon=True).start()
        return proc

    def start(self, robot_id: str) -> MemberProcess:
        """Start ``robot_id`` as a new process — through the standby if one is ready (``prepare_standby``)."""
        standby, self._standby = self._standby, None
        if standby is not None and standby.alive:
            standby.robot_id = robot_id
            standby.send(f"go {robot_id}")
            proc = standby
        else:
            if standby is not None:
                standby.popen.wait(timeout=5)
            proc = self._spawn(robot_id, self.command(robot_id))
        self.members[robot_id] = proc
        return proc

    def prepare_standby(self) -> MemberProcess:
        """A member process that has loaded its code and waits to be told which robot it is (``start`` uses it):
        the bench's restarts then cost a real process, its durable state, roster and DDS participant, but not the
        interpreter's start-up. Wait for its ``STANDBY`` reply before relying on it."""
        if self._standby is None:
            self._standby = self._spawn("standby", [*self.command("{robot_id}"), "--standby"])
        return self._standby

    def start_all(self) -> None:
        for robot_id in self.ids:
            self.start(robot_id)

    def _follow(self, proc: MemberProcess) -> None:
        assert proc.popen.stdout is not None
        for line in proc.popen.stdout:
            tag, _, rest = line.strip().partition(" ")
            proc.log.append(line.rstrip())
            if len(proc.log) > 400:
                del proc.log[:200]
            try:
                data = json.loads(rest) if rest.startswith("{") else None
            except ValueError:
                data = None
            if data is None:
                continue
            if tag == "SWARM":
                with self._lock:
                    proc.status = data
                    proc.history.append(data)
            elif tag == "COMMAND":
                proc.commands.append(data)
            else:
                proc.replies.put((tag, data))

    def kill(self, robot_id: str, sig: int = signal.SIGKILL) -> float:
        """Signal a member (default kill -9) and return the wall time of the kill."""
        proc = self.members[robot_id]
        t = time.time()
        proc.popen.send_signal(sig)
        proc.popen.wait(timeout=10)
        return t

    def live(self) -> list[MemberProcess]:
        return [p for p in self.members.values() if p.alive]

    def agreed_leader(self, among: Iterable[str] | None = None) -> tuple[str, int] | None:
        """(leader, term) if every chosen live member reports the same non-empty leader and term."""
        with self._lock:
            chosen = [self.members[i] for i in among] if among is not None else self.live()
            views = {(p.status.get("leader", ""), p.status.get("term", -1)) for p in chosen if p.alive}
        if len(views) != 1:
            return None
        leader, term = next(iter(views))
        return (leader, term) if leader else None

    def wait_for(self, condition: Callable[[], object], timeout: float, what: str, poll: float = 0.02) -> object:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = condition()
            if value:
                return value
            time.sleep(poll)
        logs = {p.robot_id: p.log[-8:] for p in self.members.values()}
        raise TimeoutError(f"not within {timeout} s: {what}; last output: {json.dumps(logs, indent=1)}")

    def stop(self) -> None:
        if self._standby is not None and self._standby.alive:
            self._standby.popen.kill()
            self._standby.popen.wait(timeout=5)
        for proc in self.members.values():
            if proc.alive:
                proc.popen.send_signal(signal.SIGTERM)
        for proc in self.members.values():
            try:
                proc.popen.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.popen.kill()
                proc.popen.wait(timeout=60)  # a SIGKILLed process at load 70-100 took more than 5 s to be reaped

"""A swarm member at run time: the sans-I/O core driven by a monotonic clock, signed frames over a transport,
durable term/vote on disk, the site roster from a signed file that is re-read when it changes.

No rclpy here: ``swarm_member`` (a plain process, used by the multi-process tests and the failover bench) and the
ROS ``swarm_node`` both drive this class.
"""

from __future__ import annotations

import json
import os
import random
import stat
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import orjson
from nacl.signing import SigningKey

from sigma_protocol import b64decode, load_verify_key
from sigma_swarm.auth import RedundantAckFilter, Signer, Verifier
from sigma_swarm.core import (
    Durable,
    ElectionParams,
    HeartbeatAck,
    LeaderCommand,
    Member,
    MemberBroadcast,
    MemberReport,
    Output,
    Role,
    Roster,
    SwarmStatus,
)
from sigma_swarm.roster import RosterError, SiteRoster, verify_roster
from sigma_swarm.transport import DdsTransport
from sigma_swarm.wire import KIND_OF

ACK_KIND = KIND_OF[HeartbeatAck]
STATUS_PERIOD_S = 0.1  # live members (suspicion) re-checked this often; role, term and leader at every step


def load_signing_key(path: Path) -> SigningKey:
    """The robot's Ed25519 key: a file with the base64 32-byte seed (the bridge's ``robot.key``, device protocol).

    Refuses a key file that group or other users may access (anything but 0600 or stricter), as ssh does, rather
    than join the mesh with a key that may have leaked."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError as exc:
        raise ValueError(f"robot key {path} is missing or unreadable ({exc.strerror})") from exc
    if mode & 0o077:
        raise PermissionError(f"robot key {path} has mode {mode:04o}: group or other users may access it; it must be "
                              f"0600 (owner only): chmod 600 {path}")
    try:
        seed = b64decode(path.read_text().strip())
    except (OSError, ValueError) as exc:
        raise ValueError(f"robot key {path} is missing or not a base64 Ed25519 seed") from exc
    if len(seed) != 32:
        raise ValueError(f"robot key {path} holds {len(seed)} bytes; an Ed25519 seed has 32")
    return SigningKey(seed)


class StateStore:
    """Term, vote and boot count in one small JSON file, replaced atomically (write, fsync, rename)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        data = {}
        if path.exists():
            try:
                data = json.loads(path.read_text())
            except (OSError, ValueError) as exc:
                raise ValueError(f"swarm state file {path} is unreadable; remove it only if this robot has been "
                                 "out of the mesh for longer than one election timeout") from exc
        self.durable = Durable(int(data.get("term", 0)), str(data.get("voted_for", "")),
                               int(data.get("transition_version", 0)), frozenset(data.get("prev_members", ())))
        self.boot = int(data.get("boot", 0)) + 1
        # The roster this member last worked with: a restart onto a newer roster file starts a joint quorum with it.
        self.roster_version = int(data.get("roster_version", 0))
        self.roster_members: frozenset[str] = frozenset(data.get("roster_members", ()))
        self.save(self.durable)

    def save(self, durable: Durable) -> None:
        tmp = self.path.with_suffix(".tmp")
        with open(tmp, "w") as f:
            json.dump({"term": durable.term, "voted_for": durable.voted_for, "boot": self.boot,
                       "transition_version": durable.transition_version,
                       "prev_members": sorted(durable.prev_members), "roster_version": self.roster_version,
                       "roster_members": sorted(self.roster_members)}, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
        self.durable = durable


@dataclass(frozen=True)
class RuntimeConfig:
    site: str
    robot_id: str
    domain_id: int
    roster_path: Path
    cloud_roster_key_b64: str
    state_path: Path
    params: ElectionParams
    localhost_only: bool = False
    roster_poll_s: float = 1.0
    broadcast_tags: bool = True  # heartbeats tagged per peer instead of signed (round 20; auth.Signer)


class SwarmRuntime:
    """One member: call ``step()`` in a loop (it blocks at most ``max_wait_s``)."""

    def __init__(self, config: RuntimeConfig, key: SigningKey,
                 on_status: Callable[[SwarmStatus], None] | None = None,
                 on_command: Callable[[LeaderCommand], None] | None = None,
                 on_report: Callable[[MemberReport], None] | None = None,
                 on_broadcast: Callable[[MemberBroadcast], None] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self.clock = clock
        self.on_status = on_status
        self.on_command = on_command
        self.on_report = on_report
        self.on_broadcast = on_broadcast
        self.cloud_key = load_verify_key(config.cloud_roster_key_b64)
        self.key = key
        self.roster = self._read_roster(0)
        if config.robot_id not in self.roster.keys:
            raise ValueError(f"robot {config.robot_id} is not in the roster of site {config.site} "
                             f"(version {self.roster.version}); it cannot join the mesh")
        self.store = StateStore(config.state_path)
        self.signer = Signer(config.site, config.robot_id, key, self.store.boot, self.roster.mesh_key,
                             peers=self.roster.keys, tag_broadcasts=config.broadcast_tags)
        self.verifier = Verifier(config.site, config.robot_id, self.roster, own_key=key)
        self.transport = DdsTransport(config.domain_id, config.localhost_only, config.robot_id)
        self.transport.prepare(m for m in self.roster.keys if m != config.robot_id)
        now = clock()
        durable = self.store.durable
        if self.store.roster_members and self.store.roster_version < self.roster.version:
            # The roster changed while we were down: we may not know what the others use yet.
            durable = Durable(durable.term, durable.voted_for, self.roster.version, self.store.roster_members)
        self.member = Member(config.robot_id, Roster(self.roster.version, self.roster.members), config.params,
                             random.Random(os.urandom(16)), now, durable)
        self._remember_roster()
        self.roster_errors: Counter[str] = Counter()
        self._roster_mtime = self._mtime()
        self._next_roster_poll = now + config.roster_poll_s
        self._last_status: tuple | None = None
        self._last_quick: tuple | None = None
        self._next_full_status = now
        self.status = self.member.status(now)
        self.ack_filter = RedundantAckFilter()

    # ------------------------------------------------------------------ roster

    def _mtime(self) -> float:
        try:
            return self.config.roster_path.stat().st_mtime
        except OSError:
            return 0.0

    def _read_roster(self, min_version: int) -> SiteRoster:
        try:
            document = orjson.loads(self.config.roster_path.read_bytes())
        except (OSError, orjson.JSONDecodeError) as exc:
            raise RosterError(f"roster file {self.config.roster_path} is missing or not JSON") from exc
        return verify_roster(document, self.cloud_key, self.config.site, min_version, own_id=self.config.robot_id,
                             own_key=self.key)

    def refresh_roster(self) -> bool:
        """Adopt the roster file if it holds a newer verified version; a bad file is counted and ignored."""
        try:
            roster = self._read_roster(self.roster.version + 1)
        except RosterError as exc:
            self.roster_errors["older" if "older" in str(exc) else "invalid"] += 1
            return False
        self.roster = roster
        self.verifier.set_roster(roster)
        self.signer.set_mesh_key(roster.mesh_key)
        self.signer.set_peers(roster.keys)
        self.member.set_roster(Roster(roster.version, roster.members), self.clock())
        self.transport.prepare(m for m in roster.keys if m != self.config.robot_id)
        self._remember_roster()
        return True

    def _remember_roster(self) -> None:
        self.store.roster_version, self.store.roster_members = self.roster.version, self.roster.members
        self.store.save(self.member.durable)

    # ------------------------------------------------------------------ loop

    def step(self, max_wait_s: float = 0.1) -> None:
        now = self.clock()
        member = self.member
        wait = min(max_wait_s, max(0.0, member.next_deadline() - now))
        # Round 6: a leader with a valid lease wakes once per heartbeat round. It sleeps until its next timer and
        # then, before it sends round k + 1, takes everything that arrived meanwhile in one batch — the
        # acknowledgements of round k among it. Reading them late changes nothing the lease depends on: the lease
        # they renew counts from round k's *send* time (it runs to send(k) + lease_s, ≈ 220 ms, and is extended
        # when they are read at send(k) + 125 ms, the default period). Between send(k - 1) + lease_s and that read
        # the lease is not known to be renewed; nothing acts in that gap (the status is computed after the read, and
        # ``leader_command`` reads what arrived first). A vote request, a newer term or a report waits for the
        # batch like a network delay the protocol tolerates. Without a valid lease (a new leader, a lapsed one) it
        # reads each frame as it comes, so a failover is not slowed. (Round 5 woke twice a round: at the timer
        # and a quarter period later for the acknowledgements.)
        batch = member.role is Role.LEADER and (not member.awaiting_acks or member.lease_valid(now))
        self._handle(self.transport.receive(wait, wake_on_frame=not batch))
        now = self.clock()
        if now >= self.member.next_deadline():
            self._emit(self.member.tick(now))
        if now >= self._next_roster_poll:
            self._next_roster_poll = now + self.config.roster_poll_s
            mtime = self._mtime()
            if mtime != self._roster_mtime or self.member.roster_stale:
                self._roster_mtime = mtime
                self.refresh_roster()
        self._publish_status(now)

    def _handle(self, frames: list) -> None:
        """Check and hand every received frame to the core (a leader's redundant acknowledgements unverified)."""
        me = self.config.robot_id
        for frame in frames:
            if frame.sender == me:
                continue  # not expected (ignore-local), but never handle our own frames
            if frame.kind == ACK_KIND and self.ack_filter.skip(frame.sender, not self.member.awaiting_acks):
                continue
            try:
                message = self.verifier.accept(frame, self.member.term)
                if message is not None:
                    self._emit(self.member.handle(message, self.clock()))
            except (ValueError, TypeError, AttributeError, KeyError) as exc:  # never let one frame stop the member
                self.verifier.drops[f"internal_{type(exc).__name__}"] += 1

    def _emit(self, out: Output) -> None:
        member, stored = self.member, self.store.durable
        if (member.term != stored.term or member.voted_for != stored.voted_for
                or (member.prev_members or frozenset()) != stored.prev_members
                or (member.prev_members is not None and stored.transition_version != member.roster.version)):
            self.store.save(member.durable)  # durable before any message leaves
        for send in out.sends:
            self.transport.publish(self.signer.frame(send.message), send.to)
        if self.on_command is not None:
            for command in out.commands:
                self.on_command(command)
        if self.on_report is not None:
            for report in out.reports:
                self.on_report(report)
        if self.on_broadcast is not None:
            for broadcast in out.broadcasts:
                self.on_broadcast(broadcast)

    def _publish_status(self, now: float) -> None:
        member = self.member
        quick = (member.role, member.term, member.leader, member.lease_valid(now), member.roster.version)
        if quick == self._last_quick and now < self._next_full_status:
            return  # only liveness can have changed: looked at every STATUS_PERIOD_S
        self._last_quick, self._next_full_status = quick, now + STATUS_PERIOD_S
        status = member.status(now)
        self.status = status
        key = (status.role, status.term, status.leader, status.members, status.roster_version)
        if key != self._last_status:
            self._last_status = key
            if self.on_status is not None:
                self.on_status(status)

    def leader_command(self, kind: str, payload: bytes) -> LeaderCommand | None:
        """Broadcast a fenced leader command (current term) if this member leads with a valid lease."""
        member = self.member
        if member.role is Role.LEADER and not member.lease_valid(self.clock()):
            # The acknowledgements that renew the lease may be waiting unread (a leader reads them once a round):
            # read what arrived before deciding.
            self._handle(self.transport.receive(0.0))
        send = member.leader_command(kind, payload, self.clock())
        if send is None:
            return None
        self.transport.publish(self.signer.frame(send.message))
        return send.message  # type: ignore[return-value]  # Send.message is the union of message types

    def member_report(self, kind: str, payload: bytes) -> MemberReport | None:
        """Send a report to the leader this member follows; None when it knows no leader (or leads itself)."""
        send = self.member.member_report(kind, payload, self.clock())
        if send is None:
            return None
        self.transport.publish(self.signer.frame(send.message), send.to)
        return send.message  # type: ignore[return-value]  # Send.message is the union of message types

    def member_broadcast(self, kind: str, payload: bytes) -> MemberBroadcast:
        """Send an application message to every member (signed; needs no leader)."""
        send = self.member.member_broadcast(kind, payload)
        self.transport.publish(self.signer.frame(send.message))
        return send.message  # type: ignore[return-value]  # Send.message is the union of message types

    def counters(self) -> dict[str, int]:
        """Drop reasons (auth layer), protocol counters (core) and roster refresh errors, by name."""
        out: dict[str, int] = {f"drop_{k}": v for k, v in self.verifier.drops.items()}
        out.update({f"core_{k}": v for k, v in self.member.counters.items()})
        out.update({f"roster_{k}": v for k, v in self.roster_errors.items()})
        out["accepted"] = self.verifier.accepted
        out["payload_encrypted"] = int(self.verifier.encrypted)
        out["acks_unverified"] = self.ack_filter.dropped
        out["blocked_by_test_hook"] = self.transport.blocked_count
        return out

    def close(self) -> None:
        self.transport.close()

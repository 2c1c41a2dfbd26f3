"""The simulated site: seeded network (loss, delay, duplication, reordering, symmetric and one-way partitions),
crash-restart with durable state, drifting clocks, a random fault schedule, then calm until a leader is back."""

from __future__ import annotations

import dataclasses
import heapq
import itertools
import random
from collections import deque
from dataclasses import dataclass, field

from sigma_swarm.core import (
    Durable,
    ElectionParams,
    HeartbeatAck,
    LeaderHeartbeat,
    Member,
    Message,
    Role,
    Roster,
    Send,
)
from sigma_swarm.dst.checker import Checker, InvariantError

DELIVER, TIMER, FAULT = 0, 1, 2


@dataclass(frozen=True)
class Profile:
    """Ranges a seed draws its scenario from."""

    n_min: int = 3
    n_max: int = 25
    fault_s: tuple[float, float] = (1.0, 4.0)
    liveness_bound_s: float = 3.0  # after faults stop, a leader acknowledged by every member within this
    max_loss: float = 0.3
    max_dup: float = 0.1
    max_jitter_s: float = 0.03
    fault_every_s: float = 0.25
    max_long_delay_s: float = 0.8  # during faults some messages sit in a queue this long (stale-leader commands)
    max_pause_s: float = 0.6  # a process frozen (GC pause, SIGSTOP) while its clock runs on
    command_every_s: float = 0.1
    roster_change_p: float = 0.4  # share of seeds in which the cloud adds or revokes a member mid-run
    max_events: int = 400_000
    # CPU starvation (a host at load 20-60): each member runs for a short slice, then gets no CPU for a random gap
    # (exponential, this mean, capped at 4x), for the whole run, calm included. 0 = off.
    starve_gap_s: float = 0.0
    starve_slice_s: tuple[float, float] = (0.002, 0.02)
    # Failover scenario (round 23): no faults and no roster change; once a leader is acknowledged by all after
    # ``fault_s``, it is killed for good, and the liveness clock runs from the kill (bench/swarm_dst.py --failover).
    failover: bool = False
    # Share of seeds run with plain Raft timeouts (election_stagger_s = 0, a legal setting) whatever the parameters
    # say: the successor slots make contested elections rare, and the sweep must keep exploring them (round 23: a
    # roster change without the joint quorum showed up in 2 of 200 seeds with plain timeouts, 1 of 1,884 without).
    plain_timeouts_p: float = 0.5
    # A site part-way through a change of timing parameters (a rolling upgrade, round 24): each member runs
    # ``mixed_params`` instead of the simulation's parameters with this probability (drawn per member and seed).
    mixed_params: ElectionParams | None = None
    mixed_share: float = 0.5


@dataclass
class SeedResult:
    seed: int
    n: int
    ok: bool
    violation: str = ""
    events: int = 0
    leader_after_calm_s: float = float("nan")
    terms: int = 0
    commands: int = 0
    heartbeats: int = 0  # leader heartbeats sent
    subset_heartbeats: int = 0  # of them, asking only some followers to acknowledge (ack_mask != 0)
    acks: int = 0  # heartbeat acknowledgements sent
    elections: int = 0  # failover scenario: terms from the killed leader's to its successor's (1 = first election won)
    faults: list[str] = field(default_factory=list)
    trace: list[str] = field(default_factory=list)

    n_range: tuple[int, int] = (3, 25)

    def replay_hint(self) -> str:
        return (f"replay: python -m sigma_swarm.dst --seed {self.seed} --n-min {self.n_range[0]} "
                f"--n-max {self.n_range[1]} --trace")


class _Clock:
    """A member's monotonic clock: local = offset + rate * true."""

    def __init__(self, offset: float, rate: float) -> None:
        self.offset, self.rate = offset, rate

    def local(self, t: float) -> float:
        return self.offset + self.rate * t

    def true(self, local: float) -> float:
        return (local - self.offset) / self.rate


class Simulation:
    """One seeded run."""

    def __init__(self, seed: int, profile: Profile, params: ElectionParams, trace: bool = False) -> None:
        if params.election_stagger_s > 0 and random.Random(f"{seed}/timeouts").random() < profile.plain_timeouts_p:
            params = dataclasses.replace(params, election_stagger_s=0.0)
        self.seed, self.profile, self.params = seed, profile, params
        self.rng = random.Random(seed)
        rng = self.rng
        self.n = rng.randint(profile.n_min, profile.n_max)
        self.ids = [f"r{i}" for i in range(self.n)]
        self.roster = Roster(1, frozenset(self.ids))
        self.final_roster = self.roster
        self.roster_change = ""
        if rng.random() < profile.roster_change_p and not profile.failover:
            # Several members at once, so old and new majorities can be disjoint (a single change cannot do that).
            k = rng.randint(1, max(1, self.n // 2 + 1))
            if rng.random() < 0.5:
                extra = [f"r{self.n + j}" for j in range(k)]
                self.ids += extra  # they run from the start, but only roster version 2 lists them
                self.final_roster = Roster(2, self.roster.members | set(extra))
                self.roster_change = f"add {', '.join(extra)}"
            else:
                # Fewer than half of the old roster: a larger revocation cannot commit (docs/swarm.md, limits).
                victims = rng.sample(self.ids, min(k, (self.n - 1) // 2))
                self.final_roster = Roster(2, self.roster.members - set(victims))
                self.roster_change = f"revoke {', '.join(victims) or 'nobody'}"
        self.member_roster = dict.fromkeys(self.ids, self.roster)  # the roster file each member has
        self.adopted_roster = dict.fromkeys(self.ids, self.roster)  # the roster each member last worked with
        half_drift = params.max_clock_drift / 2
        self.clocks = {i: _Clock(rng.uniform(0, 1000), 1 + rng.uniform(-half_drift, half_drift)) for i in self.ids}
        self.durable: dict[str, Durable] = {i: Durable() for i in self.ids}
        self.members: dict[str, Member] = {}
        self.up: dict[str, bool] = {}
        self.now = 0.0
        self.queue: list[tuple[float, int, int, object]] = []
        self.counter = itertools.count()
        self.timer_token: dict[str, int] = dict.fromkeys(self.ids, 0)
        self.durable.update({i: Durable() for i in self.ids if i not in self.durable})
        self.timer_at: dict[str, float] = {}
        self.next_command: dict[str, float] = dict.fromkeys(self.ids, 0.0)
        self.blocked: set[tuple[str, str]] = set()
        self.loss = rng.uniform(0, profile.max_loss)
        self.dup = rng.uniform(0, profile.max_dup)
        self.base_delay = rng.uniform(0.0005, 0.005)
        self.jitter = rng.uniform(0.0, profile.max_jitter_s)
        self.long_delay_p = rng.uniform(0.0, 0.05)
        self.paused_until: dict[str, float] = dict.fromkeys(self.ids, 0.0)
        self.fault_end = rng.uniform(*profile.fault_s)
        self.calm = False
        self.checker = Checker(to_true=lambda m, local: self.clocks[m].true(local))
        self.result = SeedResult(seed, self.n, ok=True, n_range=(profile.n_min, profile.n_max))
        self.trace_all = trace
        self.recent: deque[tuple[float, object]] = deque(maxlen=80)
        for i in self.ids:
            self._start(i)
            if profile.starve_gap_s > 0:
                self._push(rng.uniform(0, profile.starve_gap_s), FAULT, ("starve", i))
        if profile.failover:
            self.loss = self.dup = self.long_delay_p = 0.0
            self._push(self.fault_end, FAULT, "kill_leader")
        else:
            self._push(rng.uniform(0, profile.fault_every_s * 2), FAULT, "random")
            self._push(self.fault_end, FAULT, "calm")
        self.killed_term = 0
        if self.roster_change:
            change_at = rng.uniform(0.0, self.fault_end)
            self.result.faults.append(f"t={change_at:.3f} cloud issues roster v2: {self.roster_change}")
            for i in self.ids:  # each member's bridge fetches the new roster at its own time (maybe only after calm)
                self._push(change_at + rng.uniform(0.0, 2.0), FAULT, ("roster", i))

    # ---------------------------------------------------------------- plumbing

    def _log(self, text: object) -> None:
        """Keep the event for the failure trace; formatted only when printed (it is the hot path)."""
        entry = (self.now, text)
        self.recent.append(entry)
        if self.trace_all:
            self.result.trace.append(_format(entry))

    def _push(self, t: float, kind: int, data: object) -> None:
        heapq.heappush(self.queue, (t, next(self.counter), kind, data))

    def _is_up(self, member_id: str) -> bool:
        return self.up[member_id]

    def _local(self, member_id: str) -> float:
        return self.clocks[member_id].local(self.now)

    def _start(self, member_id: str) -> None:
        member_rng = random.Random(f"{self.seed}/{member_id}/{self.now}")
        roster, durable = self.member_roster[member_id], self.durable[member_id]
        adopted = self.adopted_roster[member_id]
        if adopted.version < roster.version:  # the roster file changed while it was down (runtime does the same)
            durable = Durable(durable.term, durable.voted_for, roster.version, adopted.members)
        self.adopted_roster[member_id] = roster
        self.members[member_id] = Member(member_id, roster, self.params_of(member_id), member_rng,
                                         self._local(member_id), durable)
        self.up[member_id] = True
        self._schedule_timer(member_id)

    def params_of(self, member_id: str) -> ElectionParams:
        """The parameters ``member_id`` runs: the simulation's, or ``Profile.mixed_params`` for its share of members."""
        mixed = self.profile.mixed_params
        if mixed is not None and random.Random(f"{self.seed}/{member_id}/params").random() < self.profile.mixed_share:
            return mixed
        return self.params

    def _schedule_timer(self, member_id: str) -> None:
        member = self.members[member_id]
        local_deadline = member.next_deadline()
        t = max(self.clocks[member_id].true(local_deadline), self.now + 1e-6)
        if self.timer_at.get(member_id) == t:
            return
        self.timer_token[member_id] += 1
        self.timer_at[member_id] = t
        self._push(t, TIMER, (member_id, self.timer_token[member_id]))

    def _send(self, sender: str, send: Send) -> None:
        targets = [send.to] if send.to is not None else [i for i in self.ids if i != sender]
        for to in targets:
            if (sender, to) in self.blocked or self.rng.random() < self.loss:
                continue
            copies = 2 if self.rng.random() < self.dup else 1
            for _ in range(copies):
                delay = self.base_delay + (self.rng.expovariate(1 / self.jitter) if self.jitter > 0 else 0.0)
                if self.rng.random() < self.long_delay_p:
                    delay += self.rng.uniform(0.0, self.profile.max_long_delay_s)
                self._push(self.now + delay, DELIVER, (to, send.message))

    def _after(self, member_id: str, out_sends: list[Send], commands: list) -> None:
        member = self.members[member_id]
        self.durable[member_id] = member.durable  # written before anything is sent
        if commands:
            self.checker.accepted(member, commands, self.now)
        for send in out_sends:
            kind = type(send.message)
            if kind is LeaderHeartbeat:
                self.result.heartbeats += 1
                self.result.subset_heartbeats += send.message.ack_mask != 0
            elif kind is HeartbeatAck:
                self.result.acks += 1
            self._send(member_id, send)
        local = self._local(member_id)
        if member.lease_valid(local) and local >= self.next_command[member_id]:
            cmd = member.leader_command("assign", b"task", local)
            if cmd is not None:
                self.result.commands += 1
                self._send(member_id, cmd)
            self.next_command[member_id] = local + self.profile.command_every_s
        self._schedule_timer(member_id)
        self.checker.after_step(member, self._is_up, local, self.now)

    # ---------------------------------------------------------------- faults

    def _fault(self) -> None:
        rng = self.rng
        live = [i for i in self.ids if self.up[i]]
        leaders = [i for i in live if self.members[i].role is Role.LEADER]
        choice = rng.random()
        if choice < 0.18:
            group = set(rng.sample(self.ids, rng.randint(1, self.n - 1)))
            self.blocked = {(a, b) for a in self.ids for b in self.ids if (a in group) != (b in group)}
            text = f"symmetric partition {sorted(group)} | rest"
        elif choice < 0.30:
            pairs = [(rng.choice(self.ids), rng.choice(self.ids)) for _ in range(rng.randint(1, 2 * self.n))]
            self.blocked |= {(a, b) for a, b in pairs if a != b}
            text = f"one-way partitions {sorted(pairs)[:6]}..."
        elif choice < 0.40 and leaders:
            target = rng.choice(leaders)
            self.blocked |= {(a, b) for a in self.ids for b in self.ids if (a == target) != (b == target)}
            text = f"isolate leader {target}"
        elif choice < 0.55:
            self.blocked = set()
            text = "heal"
        elif choice < 0.75 and live:
            target = rng.choice(leaders) if leaders and rng.random() < 0.5 else rng.choice(live)
            self.up[target] = False
            self._push(self.now + rng.uniform(0.0, 1.0), FAULT, ("restart", target))
            text = f"crash {target}"
        elif choice < 0.81 and live:
            target = rng.choice(leaders) if leaders and rng.random() < 0.7 else rng.choice(live)
            self.paused_until[target] = self.now + rng.uniform(0.0, self.profile.max_pause_s)
            text = f"pause {target} until t={self.paused_until[target]:.3f}"
        elif choice < 0.87:
            self.loss = rng.uniform(0, self.profile.max_loss)
            self.dup = rng.uniform(0, self.profile.max_dup)
            self.jitter = rng.uniform(0, self.profile.max_jitter_s)
            text = f"network loss={self.loss:.2f} dup={self.dup:.2f} jitter={self.jitter * 1000:.1f}ms"
        else:
            text = "no fault"
        self.result.faults.append(f"t={self.now:.3f} {text}")
        self._log(f"FAULT {text}")

    def _starve(self, member_id: str) -> None:
        """The scheduler takes the CPU from ``member_id`` for a while; it gets a short slice after that."""
        gap = min(self.rng.expovariate(1 / self.profile.starve_gap_s), 4 * self.profile.starve_gap_s)
        self.paused_until[member_id] = max(self.paused_until[member_id], self.now + gap)
        self._push(self.paused_until[member_id] + self.rng.uniform(*self.profile.starve_slice_s), FAULT,
                   ("starve", member_id))

    def _deliver_roster(self, member_id: str) -> None:
        if self.member_roster[member_id].version >= self.final_roster.version:
            return
        self.member_roster[member_id] = self.final_roster
        self._log(f"roster v{self.final_roster.version} ({self.roster_change}) reaches {member_id}")
        if self.up[member_id]:
            self.members[member_id].set_roster(self.final_roster, self._local(member_id))
            self.adopted_roster[member_id] = self.final_roster
            self._after(member_id, [], [])

    def _kill_leader(self) -> None:
        """Failover scenario: kill the leader once every member follows it; the liveness clock starts now."""
        if not self._converged():
            self._push(self.now + 0.05, FAULT, "kill_leader")
            return
        leader = next(m for i, m in self.members.items() if self.up[i] and m.role is Role.LEADER)
        self.up[leader.id] = False
        self.killed_term = leader.term
        self.fault_end = self.now
        self.calm = True
        self.result.faults.append(f"t={self.now:.3f} kill leader {leader.id} (term {leader.term})")
        self._log(f"FAULT kill leader {leader.id}")

    def _calm(self) -> None:
        self.calm = True
        for i in self.ids:
            self._deliver_roster(i)
        self.blocked = set()
        self.loss = self.dup = self.long_delay_p = 0.0
        self.jitter = min(self.jitter, 0.002)
        for i in self.ids:
            if not self.up[i]:
                self._start(i)
        self._log("CALM: faults stop; every member up, network healed")

    # ---------------------------------------------------------------- run

    def _converged(self) -> bool:
        voters = [self.members[i] for i in self.ids if i in self.final_roster.members and self.up[i]]
        leaders = [m for m in voters if m.role is Role.LEADER]
        if len(leaders) != 1 or not leaders[0].lease_valid(self._local(leaders[0].id)):
            return False
        leader = leaders[0]
        return all(m is leader or (m.leader == leader.id and m.term == leader.term and m.role is Role.FOLLOWER)
                   for m in voters)

    def run(self) -> SeedResult:
        try:
            while self.queue and self.result.events < self.profile.max_events:
                t, _, kind, data = heapq.heappop(self.queue)
                if t > self.fault_end + self.profile.liveness_bound_s:  # (the failover scenario moves fault_end)
                    break
                self.now = t
                self.result.events += 1
                if kind != FAULT:
                    target = data[0]  # type: ignore[index]  # every non-fault event's data is a tuple
                    if t < self.paused_until[target]:  # a frozen process handles nothing until it thaws
                        # then, as the runtime's step does, it reads what arrived before it runs its timers
                        self._push(self.paused_until[target] + (1e-6 if kind == TIMER else 0.0), kind, data)
                        continue
                if kind == TIMER:
                    member_id, token = data  # type: ignore[misc]  # a TIMER carries (member, token)
                    if token != self.timer_token[member_id] or not self.up[member_id]:
                        continue
                    self.timer_at.pop(member_id, None)
                    out = self.members[member_id].tick(self._local(member_id))
                    self._after(member_id, out.sends, out.commands)
                elif kind == DELIVER:
                    to, message = data  # type: ignore[misc]  # a DELIVER carries (to, message)
                    if not self.up[to]:
                        continue
                    member = self.members[to]
                    self.checker.delivered(member, message)
                    self._log((to, message))
                    out = member.handle(message, self._local(to))  # type: ignore[arg-type]  # queued as object
                    self._after(to, out.sends, out.commands)
                elif isinstance(data, tuple) and data[0] == "roster":
                    self._deliver_roster(data[1])
                elif isinstance(data, tuple) and data[0] == "starve":
                    self._starve(data[1])
                elif data == "calm":
                    self._calm()
                elif data == "kill_leader":
                    self._kill_leader()
                elif data == "random":
                    if not self.calm:
                        self._fault()
                        self._push(self.now + self.rng.expovariate(1 / self.profile.fault_every_s), FAULT, "random")
                elif isinstance(data, tuple) and data[0] == "restart" and not self.calm and not self.up[data[1]]:
                    self._start(data[1])
                    self._log(f"restart {data[1]} with term {self.durable[data[1]].term}")
                if self.calm and self._converged():
                    self.result.leader_after_calm_s = self.now - self.fault_end
                    if self.killed_term:
                        self.result.elections = max(m.term for m in self.members.values()) - self.killed_term
                    break
            else:
                if self.result.events >= self.profile.max_events:
                    raise InvariantError(f"event budget {self.profile.max_events} exhausted at t={self.now:.3f}")
            if not self.calm or self.result.leader_after_calm_s != self.result.leader_after_calm_s:
                raise InvariantError(f"no leader acknowledged by all {self.n} members within "
                                f"{self.profile.liveness_bound_s} s after faults stopped at t={self.fault_end:.3f}")
        except InvariantError as exc:
            self.result.ok = False
            self.result.violation = str(exc)
            if not self.trace_all:
                self.result.trace = [_format(e) for e in self.recent]
        self.result.terms = max(m.term for m in self.members.values())
        return self.result


def _format(entry: tuple[float, object]) -> str:
    t, what = entry
    if isinstance(what, tuple):
        return f"{t:9.4f} {what[0]} <- {_short(what[1])}"
    return f"{t:9.4f} {what}"


def _short(message: Message) -> str:
    fields = ", ".join(f"{k}={v}" for k, v in vars(message).items() if k not in ("roster_version", "payload"))
    return f"{type(message).__name__}({fields})"


def run_seed(seed: int, profile: Profile | None = None, params: ElectionParams | None = None,
             trace: bool = False) -> SeedResult:
    """Run one seed; the result says whether every invariant held and, if not, which and where."""
    return Simulation(seed, profile or Profile(), params or ElectionParams(), trace).run()

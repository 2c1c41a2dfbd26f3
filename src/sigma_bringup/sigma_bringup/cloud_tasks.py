"""The demo's fleet-task stage (issue 13, docs/tasks.md): tasks created through the cloud's task API reach the site's
swarm leader, which allocates them over the signed mesh; the robots' executors run them in the simulator and the
cloud's records end ``done`` — with the leader killed mid-run.

The judgement here is pure (plain task records as the API returns them); the orchestration takes its I/O as
arguments (the cloud API, the fleet's swarm views, a function that kills a robot's leader processes).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from sigma_bringup.mesh import Leadership, SwarmView, agreed_leader
from sigma_bringup.scenario import Check
from sigma_core.core.sitemap import load_site

HELD = ("assigned", "in_progress")
TERMINAL = ("done", "failed", "cancelled")


@dataclass(frozen=True)
class CloudTask:
    """A task the demo creates through ``POST /v1/sites/{site}/tasks``."""

    key: str        # idempotency key (per run)
    body: dict[str, Any]


def site_places(world_yaml: Path) -> list[dict[str, Any]]:
    """The site's named places as the robots' executors know them (sigma_core's site map of the world file), in
    the body of ``PUT /v1/sites/{site}/places``."""
    site = load_site(world_yaml)
    return [{"name": p.name, "kind": p.kind, "x": round(p.x, 3), "y": round(p.y, 3)} for p in site.places.values()]


def cloud_tasks(run_id: str) -> tuple[CloudTask, ...]:
    """Two go-to tasks on the warehouse's map (places of sigma_core's site map, registered with the cloud)."""
    return (CloudTask(f"demo-{run_id}-t1", {"kind": "go_to", "place": "shelf_1_2", "priority": 5}),
            CloudTask(f"demo-{run_id}-t2", {"kind": "go_to", "place": "shelf_3_1", "priority": 5}))


def allocation(record: Mapping[str, Any], sent: Mapping[str, tuple[str, int]], leaders: Mapping[int, str]) -> Check:
    """The robot the cloud's record names got the task on its executor's ``tasks/request`` from the swarm leader of
    that Task's term (``sent``: robot -> (issuer, term) of the swarm Tasks seen for it; ``leaders``: the cloud's
    leader per term)."""
    name = f"cloud task {record.get('place')}: allocated by the swarm leader"
    robot = record.get("robot_id")
    if not sent:
        return Check(name, False, f"no swarm Task on any robot's tasks/request; cloud: {record.get('state')}")
    if robot not in sent:
        return Check(name, False, f"the cloud names {robot or 'no robot'}, the swarm sent it to {', '.join(sent)}")
    issuer, term = sent[robot]
    leader = leaders.get(term)
    return Check(name, issuer == f"swarm:{leader}",
                 f"{issuer} (term {term}; the cloud's leader of that term: {leader or '-'}) → {robot}; cloud "
                 f"record: {record.get('state')} on {robot}")


def summary(records: Sequence[Mapping[str, Any]]) -> str:
    return "; ".join(f"{r.get('place') or r.get('kind')}: {r.get('state')} on {r.get('robot_id') or '-'}"
                     for r in records)


class Waiter(Protocol):
    def say(self, text: str) -> None: ...
    def wait(self, what: str, probe: Callable[[], Any], timeout: float) -> Any: ...


class TaskApi(Protocol):
    def create_task(self, site_id: str, body: dict, key: str) -> dict: ...
    def task(self, site_id: str, task_id: str) -> dict: ...
    def swarm_leaders(self, site_id: str) -> dict[int, str]: ...


def run_stage(api: TaskApi, site: str, robots: Sequence[str], views: Callable[[], Mapping[str, SwarmView]],
              sent: Callable[[str], Mapping[str, tuple[str, int]]], kill_leader: Callable[[str], list[int]],
              progress: Waiter, run_id: str) -> list[Check]:
    """Create the tasks, wait for the leader's allocation, kill the leader mid-run, and wait for every task to be
    done. Returns the stage's checks (each can fail)."""
    start = agreed_leader(views(), robots)
    if start is None:
        return [Check("cloud tasks: allocated by the swarm leader", False, "no agreed swarm leader to start from")]
    ids = [api.create_task(site, t.body, t.key)["task_id"] for t in cloud_tasks(run_id)]
    progress.say(f"created {len(ids)} tasks through the cloud's task API (leader {start.leader}, term {start.term})")

    def records() -> list[dict]:
        return [api.task(site, i) for i in ids]

    checks = []
    try:  # a robot runs one task at a time: a second task for the same robot reaches its executor later
        progress.wait("the swarm leader allocates the cloud's tasks to robots",
                      lambda: all(r["state"] in HELD + TERMINAL for r in records())
                      and any(sent(i) for i in ids), 120)
    except TimeoutError as exc:
        return [Check("cloud tasks: allocated by the swarm leader", False, f"{exc}: {summary(records())}")]

    running = [r for r in records() if r["state"] not in TERMINAL]
    start = agreed_leader(views(), robots) or start  # leadership may have moved meanwhile: kill the current one
    killed = kill_leader(start.leader)
    t_kill = time.monotonic()
    progress.say(f"killed the swarm leader {start.leader}'s (term {start.term}) swarm and fleet-task processes "
                 f"(kill -9: pids "
                 f"{', '.join(map(str, killed)) or 'none found'}) with {len(running)} task(s) still running")

    # The failover is the survivors' agreement on a new leader: the killed robot's own swarm process comes back
    # when the launcher respawns it, which on a loaded host took 50 s of start-up (a CI run measured that, not the
    # election: r2 led term 2 1 s after the kill).
    survivors = [r for r in robots if r != start.leader]

    def new_leader() -> Leadership | None:
        lead = agreed_leader(views(), survivors)
        return lead if lead is not None and lead.term > start.term else None

    try:
        lead = progress.wait("the swarm elects a new leader", new_leader, 60)
        failover = f"{start.leader} (term {start.term}) → {lead.leader} (term {lead.term}) in " \
                   f"{time.monotonic() - t_kill:.1f} s"
        ok = bool(killed) and bool(running)
    except TimeoutError as exc:
        failover, ok = f"{exc}", False
    checks.append(Check("cloud tasks: leader killed mid-run, a new one takes over", ok,
                        f"{failover}; {len(running)} task(s) were running" if killed else "no leader process found"))
    with contextlib.suppress(TimeoutError):  # judged below, with what the records say
        progress.wait("the cloud's tasks are done", lambda: all(r["state"] in TERMINAL for r in records()), 240)
    final = records()
    leaders = api.swarm_leaders(site)
    checks[:0] = [allocation(r, sent(r["task_id"]), leaders) for r in final]
    checks.append(Check("cloud tasks: executed in the simulator, reported done", all(r["state"] == "done"
                                                                                      for r in final),
                        summary(final)))
    return checks

"""The new leader's claim at the cloud (``POST /v1/devices/{robot}/leadership``, docs/tasks.md) and its reports of
what only the leader knows about queued tasks (``POST /v1/devices/{robot}/leadership/tasks``: why a task waits, a
task failed for its deadline), pure parts and a small blocking client for the node's worker threads.

The claim records this robot as its site's leader for a term, so the cloud sends new tasks (and cancels) to it
through the decision downlink, and answers with the site's open tasks: the leader resumes from that record,
corrected by the robots' snapshots (``TaskBoard.resume`` holds every task no robot vouched for until any older
lease has run out, so nothing is executed twice). Signed with the robot's own device key (the bridge's key file,
read only), as every device request.
"""

from __future__ import annotations

import datetime as dt
import json
import stat
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import httpx

import sigma_protocol as protocol

CLAIM_PATH = "/v1/devices/{robot}/leadership"
OUTCOMES_PATH = "/v1/devices/{robot}/leadership/tasks"


class StaleTermError(Exception):
    """The cloud knows a newer leader term than the one reported under (409 stale-term): drop the reports."""


@dataclass(frozen=True)
class ClaimResult:
    """The cloud's answer: whether this robot leads the site for `term`, and the open tasks as decision
    parameters (what a ``fleet_task`` decision carries)."""

    term: int
    leader: bool
    open_tasks: list[dict[str, str]]


def read_seed(path: str | Path) -> str:
    """The robot's base64 Ed25519 seed from the bridge's key file; refuses a file others may read (as ssh does)."""
    p = Path(path)
    mode = stat.S_IMODE(p.stat().st_mode)
    if mode & 0o077:
        raise PermissionError(f"robot key {p} has mode {oct(mode)}: other users may read it")
    seed = p.read_text().strip()
    if len(protocol.b64decode(seed)) != 32:
        raise ValueError(f"robot key {p} is not a base64 Ed25519 seed")
    return seed


def claim_request(robot_id: str, term: int, seed_b64: str, *, now: float) -> tuple[str, bytes, dict[str, str]]:
    """(path, body, headers) of a signed claim."""
    path = CLAIM_PATH.format(robot=robot_id)
    body = json.dumps({"term": int(term)}, separators=(",", ":")).encode()
    headers = protocol.sign_request(seed_b64, "POST", path, robot_id, body, now)
    return path, body, {**headers, "Content-Type": "application/json"}


def _epoch(text: str | None) -> str:
    if not text:
        return ""
    return f"{dt.datetime.fromisoformat(text).timestamp():.3f}"


def task_parameters(task: dict) -> dict[str, str]:
    """One open task of the cloud's answer as ``fleet_task`` decision parameters (as the downlink sends them)."""
    params = {"task_id": str(task["task_id"]), "kind": str(task["kind"]), "priority": str(int(task["priority"])),
              "payload_mass": f"{float(task['payload_kg']):g}", "earliest_start": _epoch(task["earliest_start"]),
              "deadline": _epoch(task.get("deadline"))}
    for key in ("pickup", "dropoff", "place"):
        if task.get(key):
            params[key] = str(task[key])
    return params


def parse_answer(data: object) -> ClaimResult:
    """The cloud's JSON answer; ValueError naming what is wrong."""
    if not isinstance(data, dict) or not isinstance(data.get("open_tasks"), list):
        raise ValueError("leadership answer: expected an object with open_tasks")
    try:
        tasks = [task_parameters(t) for t in data["open_tasks"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"leadership answer: malformed open task: {exc!r}") from exc
    return ClaimResult(term=int(data["term"]), leader=bool(data["leader"]), open_tasks=tasks)


def claim(cloud_url: str, robot_id: str, term: int, seed_b64: str, *, now: float, timeout_s: float) -> ClaimResult:
    """Make the claim (blocking: call it from a worker thread). Raises httpx.HTTPError or ValueError."""
    path, body, headers = claim_request(robot_id, term, seed_b64, now=now)
    response = httpx.post(cloud_url.rstrip("/") + path, content=body, headers=headers, timeout=timeout_s)
    response.raise_for_status()
    return parse_answer(response.json())


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def outcomes_request(robot_id: str, term: int, items: Iterable[tuple[str, str, str]], seed_b64: str, *, now: float
                     ) -> tuple[str, bytes, dict[str, str]] | None:
    """(path, body, headers) of a signed outcomes report, for the cloud's tasks only (task ids that are UUIDs; a
    robot-local or test task is no business of the cloud); None when nothing is left to send."""
    tasks = [{"task_id": t, "outcome": o, "reason": (why or "no reason given")[:1024]} for t, o, why in items
             if _is_uuid(t)]
    if not tasks:
        return None
    path = OUTCOMES_PATH.format(robot=robot_id)
    body = json.dumps({"term": int(term), "tasks": tasks}, separators=(",", ":")).encode()
    headers = protocol.sign_request(seed_b64, "POST", path, robot_id, body, now)
    return path, body, {**headers, "Content-Type": "application/json"}


def report_outcomes(cloud_url: str, robot_id: str, term: int, items: list[tuple[str, str, str]], seed_b64: str, *,
                    now: float, timeout_s: float) -> list[dict]:
    """Send the outcomes (blocking: call it from a worker thread); the cloud's per-task results. Raises
    StaleTermError on 409 stale-term, httpx.HTTPError or ValueError otherwise."""
    request = outcomes_request(robot_id, term, items, seed_b64, now=now)
    if request is None:
        return []
    path, body, headers = request
    response = httpx.post(cloud_url.rstrip("/") + path, content=body, headers=headers, timeout=timeout_s)
    if response.status_code == 409 and str(response.json().get("type", "")).endswith("stale-term"):
        raise StaleTermError(str(response.json().get("detail", "stale term")))
    response.raise_for_status()
    results = response.json().get("results")
    if not isinstance(results, list):
        raise ValueError("outcomes answer: expected an object with results")
    return results

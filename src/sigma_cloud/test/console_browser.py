"""Shared helpers of the console's browser tests: Debian's chromium through Playwright, telemetry from test robots."""

from __future__ import annotations

import math
import os
import tempfile
import time
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
WAIT_MS = 30_000  # generous: the shared machine is loaded; conditions are awaited, never slept for
REPO = Path(__file__).resolve().parents[3]
SCREENSHOTS = REPO / "docs" / "console"


def launch(playwright):
    """Debian's chromium (Playwright's browser download is never used)."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def pose(robot, x: float, y: float, yaw: float, speed: float = 0.5) -> dict:
    """One odom event of a test robot (the bridge's odom channel)."""
    event = {"seq": robot.next_seq, "ts": time.time(), "channel": "odom",
             "payload": {"position": [x, y, 0.0], "orientation": [0.0, 0.0, math.sin(yaw / 2), math.cos(yaw / 2)],
                         "linear": [speed, 0.0, 0.0], "angular": [0.0, 0.0, 0.1]}}
    robot.next_seq += 1
    return event


def event(robot, channel: str, payload: dict, ts: float | None = None) -> dict:
    out = {"seq": robot.next_seq, "ts": ts or time.time(), "channel": channel, "payload": payload}
    robot.next_seq += 1
    return out


def send(cloud, robot, events: list[dict]) -> None:
    """Signed batch through the real ingest."""
    r = cloud.post_batch(robot, events)
    assert r.status_code == 200, r.text


def wait_true(page, expression: str, arg: object = None, timeout_ms: int = WAIT_MS) -> None:
    """Poll a JS function until it returns true (Playwright's wait_for_function needs eval, which the CSP forbids)."""
    deadline = time.monotonic() + timeout_ms / 1000
    while not page.evaluate(expression, arg):
        assert time.monotonic() < deadline, f"not true within {timeout_ms} ms: {expression}"
        time.sleep(0.02)


def sign_in(page, url: str, username: str, password: str) -> None:
    page.goto(url + "/console")
    page.fill("#login-user", username)
    page.fill("#login-password", password)
    page.click("#login-submit")
    page.wait_for_selector("#conn.live", timeout=WAIT_MS)


def wait_robot_at(page, robot_id: str, x: float, y: float) -> None:
    wait_true(page, "([id, x, y]) => { const g = document.getElementById('robot-' + id);"
              " return !!g && Math.abs(g.dataset.x - x) < 1e-3 && Math.abs(g.dataset.y - y) < 1e-3; }",
              [robot_id, x, y])


def screenshot(page, name: str) -> None:
    """Every view is rendered to a PNG; it replaces docs/console/<name>.png (shown by docs/console.md) only when
    SIGMA_UPDATE_SCREENSHOTS=1, so a test run never edits tracked files."""
    target = SCREENSHOTS if os.environ.get("SIGMA_UPDATE_SCREENSHOTS") == "1" and SCREENSHOTS.parent.is_dir() \
        else Path(tempfile.gettempdir()) / "sigma-console-screenshots"
    target.mkdir(exist_ok=True)
    page.screenshot(path=str(target / f"{name}.png"))
    assert (target / f"{name}.png").stat().st_size > 0

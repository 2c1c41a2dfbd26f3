"""People seen by a robot reach the fleet console, with real processes: DetectedHumans on /r1/humans -> bridge_node
(channel `humans`, at `rates.humans`) -> sigma_cloud (embedded PostgreSQL; the latest report per robot) -> the
console's event stream, placed on the site map with the robot's pose -> the map in headless Chromium."""

from __future__ import annotations

import math
import threading
import time
from pathlib import Path

import httpx
import orjson
import psycopg
import pytest
from cloud_harness import Cloud, cloud_in_tempdir, wait_until
from nav_msgs.msg import Odometry

import sigma_protocol as protocol
from sigma_bridge.keys import load_or_create_signing_key, public_key_b64
from sigma_cloud.console import users
from sigma_description import humanoid_urdf
from sigma_interfaces.msg import DetectedHuman, DetectedHumans
from sigma_ros_common import qos

SITE = "site-h"
CHROMIUM = Path("/usr/bin/chromium")
PASSWORD = "e2e console password"
PUBLISH_HZ = 20.0  # the perception's rate; the bridge uplinks rates.humans (2 Hz by default)


@pytest.fixture
def cloud(launch):
    with cloud_in_tempdir(launch, "sigma-bridge-humans-") as c:
        yield c


def odometry(x: float, y: float, yaw: float) -> Odometry:
    msg = Odometry(child_frame_id="r1/base_link")
    msg.header.frame_id = "odom"
    msg.pose.pose.position.x, msg.pose.pose.position.y = x, y
    msg.pose.pose.orientation.z, msg.pose.pose.orientation.w = math.sin(yaw / 2), math.cos(yaw / 2)
    return msg


def detections(*people: tuple[str, float, float]) -> DetectedHumans:
    msg = DetectedHumans(sensor_range=8.0, field_of_view=2.0)
    msg.header.frame_id = "r1/base_link"
    for pid, x, y in people:
        h = DetectedHuman(id=pid, confidence=0.9)
        h.position.x, h.position.y = x, y
        msg.humans.append(h)
    return msg


class Perception:
    """Publishes the robot's pose and what it sees at a steady rate until stopped (a stand-in for sim/perception)."""

    def __init__(self, probe, pose: tuple[float, float, float], people: list[tuple[str, float, float]]) -> None:
        self.odom = probe.publisher(Odometry, "/r1/odom", qos.SENSOR)
        self.humans = probe.publisher(DetectedHumans, "/r1/humans", qos.SENSOR)
        self.pose, self.people, self.sent = pose, people, 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        while not self.stop.wait(1.0 / PUBLISH_HZ):
            self.odom.publish(odometry(*self.pose))
            self.humans.publish(detections(*self.people))
            self.sent += 1


def latest_humans(cloud: Cloud) -> dict | None:
    rows = cloud.query("SELECT payload FROM robot_latest WHERE robot_id = 'r1' AND channel = %s",
                       protocol.CHANNEL_IDS["humans"])
    return rows[0][0] if rows else None


def console_snapshot(cloud: Cloud) -> dict:
    """The first event (the site's snapshot) of the console's live stream, as the page reads it."""
    with httpx.stream("GET", f"{cloud.url}/console/api/sites/{SITE}/events", headers=cloud.headers(),
                      timeout=30) as r:
        assert r.status_code == 200
        buf = b""
        for chunk in r.iter_bytes():
            buf += chunk
            if b"\n\n" in buf:
                break
    head, data = buf.split(b"\n\n")[0].split(b"\n", 1)
    assert head == b"event: snapshot"
    return orjson.loads(data.removeprefix(b"data: "))


def test_people_seen_by_a_robot_are_drawn_on_the_console_map(launch, ros_probe, cloud, tmp_path):
    cloud.start()
    key = load_or_create_signing_key(tmp_path / "var" / "robot.key")
    cloud.register("r1", public_key_b64(key), site=SITE)
    bridge = launch("sigma_bridge", "bridge_node", namespace="/r1", name="sigma_bridge", params={
        "cloud_url": cloud.url, "foxglove_enabled": False, "urdf_path": str(humanoid_urdf()),
        "key_file": str(tmp_path / "var" / "robot.key"), "store_path": str(tmp_path / "var" / "uplink.db"),
        "recordings_dir": str(tmp_path / "var" / "recordings"), "downlink_wait_s": 2.0})
    bridge.wait_for_output("sigma_bridge ready", timeout=30)
    # The robot at (3, -2) facing +y sees t1 2 m ahead and someone untracked 1 m to its left.
    perception = Perception(ros_probe, (3.0, -2.0, math.pi / 2), [("t1", 2.0, 0.0), ("", 0.0, 1.0)])
    ros_probe.wait_for_subscribers(perception.humans)
    perception.thread.start()
    try:
        stored = wait_until(lambda: latest_humans(cloud), 60, "the robot's humans report in the cloud")
        assert stored["name"] == ["t1", ""] and stored["x"] == [2.0, 0.0] and stored["y"] == [0.0, 1.0]
        assert stored["frame_id"] == "r1/base_link" and stored["sensor_range"] == 8.0
        # A modest rate: the bridge sends rates.humans (2 Hz), not the perception's 20 Hz.
        t0, n0 = time.monotonic(), cloud.telemetry_counts("r1").get("humans", (0, 0))[0]
        wait_until(lambda: time.monotonic() - t0 > 5.0, 10, "5 s of reports", period=0.2)
        stored_rate = (cloud.telemetry_counts("r1")["humans"][0] - n0) / (time.monotonic() - t0)
        assert 0.5 <= stored_rate <= 2.5, f"humans stored at {stored_rate:.1f} Hz (rates.humans 2 Hz)"
        assert perception.sent / (time.monotonic() - t0) > 4 * stored_rate  # ...of a much faster perception

        # The console's stream places them on the site map with the robot's pose, stamped with the report's time.
        def placed() -> dict | None:
            robots = {r["robot_id"]: r for r in console_snapshot(cloud)["robots"]}
            return robots.get("r1") if robots.get("r1", {}).get("humans") else None

        r1 = wait_until(placed, 30, "people in the console's snapshot")
        (x1, y1, n1), (x2, y2, n2) = r1["humans"]
        assert (n1, n2) == ("t1", "")
        assert (x1, y1) == pytest.approx((3.0, 0.0), abs=0.02) and (x2, y2) == pytest.approx((2.0, -2.0), abs=0.02)
        assert abs(time.time() - r1["humans_ts"]) < 30
        if CHROMIUM.exists():
            shown_in_browser(cloud)
    finally:
        perception.stop.set()
        perception.thread.join(timeout=5)
    assert bridge.stop() == 0


def shown_in_browser(cloud: Cloud) -> None:
    """A signed-in site manager's map in real headless Chromium draws the two people where the robot saw them."""
    from playwright.sync_api import sync_playwright

    with psycopg.connect(cloud.runtime.owner_url, autocommit=True) as conn:
        users.add_user(conn, username="manager", password=PASSWORD, role="site_manager", sites=[SITE])
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--headless", "--no-sandbox",
                                                                          "--disable-gpu"])
        try:
            page = browser.new_page()
            page.goto(cloud.url + "/console")
            page.fill("#login-user", "manager")
            page.fill("#login-password", PASSWORD)
            page.click("#login-submit")
            page.wait_for_selector("#humans-r1 .human", state="attached", timeout=30_000)
            people = page.eval_on_selector_all("#humans-r1 .human", "hs => hs.map(h => [Number(h.dataset.x), "
                                               "Number(h.dataset.y), h.dataset.name])")
            assert sorted(people) == sorted([[3.0, 0.0, "t1"], [2.0, -2.0, ""]])
            age = float(page.get_attribute("#humans-r1", "data-age"))
            assert 0.0 <= age < 30.0  # reports keep arriving: the people drawn are recent
        finally:
            browser.close()

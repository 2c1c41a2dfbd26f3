"""Robot-side federated model adoption end to end: a real bridge_node and the real cloud service (processes).

Five robots upload their local model parameters (signed); a fleet admin runs a round (v1). The bridge of robot r1,
whose own model has never seen the `bearing` fault but whose recent data holds some, fetches v1 over the signed
device channel, shadow-checks it on that data, adopts it and reports the figures; with the adopted model r1 now
detects `bearing` faults. A second round (v2) from robots of another build, whose `normal` looks different, would
flag r1's normal data as faults: the bridge's shadow check refuses it, keeps v1 and reports why. Bad reports are
refused with a reason; people see reports of their own sites only. Then the labelled data itself comes from the
robot: the bridge writes it from its own telemetry and safety faults, and the shadow check reads exactly that."""

from __future__ import annotations

import random
import shutil
import tempfile
import time
from pathlib import Path

import httpx
import orjson
from cloud_harness import Cloud, wait_until
from diagnostic_msgs.msg import DiagnosticArray
from test_e2e_cloud import bridge, register

import sigma_protocol as protocol
from sigma_bridge.model_adoption import read_current
from sigma_cloud.core.security import mint_token
from sigma_description import humanoid_urdf
from sigma_interfaces.srv import EmergencyStop
from sigma_protocol import federated
from sigma_protocol.federated import FLEET_DIM, NORMAL
from sigma_ros_common.share import package_share

FAULT_DIMS = {"overheat": (0, 1, 2), "bearing": (10, 11, 12)}


# The shared host starves the simulator under load: with the default watchdogs a late topic raised a `watchdog` fault
# (a labelled sample of its own) before the e-stop, three times at load 11-37 (round 5). Relaxed as in sigma_core's
# process tests; what is tested is that the shadow check reads exactly the lines the bridge wrote.
WATCHDOGS_RELAXED = {f"watchdog.{t}": 1.0 for t in ("joint_states", "imu", "actuator_health", "humans", "odom")}

def sample(rng: random.Random, label: str, shift: float = 0.0) -> list[float]:
    x = [rng.gauss(0.0, 1.0) for _ in range(FLEET_DIM)]
    for j in FAULT_DIMS.get(label, ()):
        x[j] += 4.0
    if label == NORMAL and shift:  # another build's "normal" sits elsewhere on features 20..29
        for j in range(20, 30):
            x[j] += shift
    return x


def local(rng: random.Random, seen: tuple[str, ...], shift: float = 0.0) -> federated.Model:
    return federated.fit({c: [sample(rng, c, shift) for _ in range(120 if c == NORMAL else 40)]
                          for c in (NORMAL, *seen)}, FLEET_DIM)


def signed(cloud: Cloud, robot_id: str, seed: str, path: str, body: bytes) -> httpx.Response:
    headers = protocol.sign_request(seed, "POST", path, robot_id, body, time.time())
    return httpx.post(cloud.url + path, content=body, headers={**headers, "Content-Type": "application/json"})


def upload(cloud: Cloud, robots: dict[str, str], models: dict[str, federated.Model]) -> None:
    for robot_id, model in models.items():
        r = signed(cloud, robot_id, robots[robot_id], f"/v1/devices/{robot_id}/model-update",
                   orjson.dumps({"base_version": 0, "model": federated.to_json(model)}))
        assert r.status_code == 200, r.text


def adoptions(cloud: Cloud, headers: dict | None = None) -> list[dict]:
    r = httpx.get(f"{cloud.url}/v1/models/adoptions", params={"robot_id": "r1"}, headers=headers or cloud.headers())
    assert r.status_code == 200, r.text
    return r.json()["items"]


def test_bridge_adopts_a_better_fleet_model_and_refuses_a_worse_one(launch, tmp_path):
    root = Path(tempfile.mkdtemp(prefix="sigma-bridge-fed-"))
    root.chmod(0o755)
    cloud = Cloud(launch, root / "cloud")
    try:
        cloud.start()
        register(cloud, tmp_path)
        robots: dict[str, str] = {}
        for name in ("f2", "f3", "f4", "f5", "f6", "g1", "g2", "g3"):
            seed, public = protocol.generate_keypair()
            cloud.register(name, public, site="site-a" if name.startswith("f") else "site-g")
            robots[name] = seed
        rng = random.Random(5)
        # r1's side: its model knows overheat only; its recent data also holds bearing faults (labelled by
        # maintenance) that this model misses.
        model_dir = tmp_path / "var" / "model"
        model_dir.mkdir(parents=True)
        mine = local(rng, ("overheat",))
        (model_dir / "current.json").write_bytes(orjson.dumps({"version": 0, "model": federated.to_json(mine)}))
        recent = [(sample(rng, c), c) for c in [NORMAL] * 150 + ["overheat"] * 25 + ["bearing"] * 25]
        (model_dir / "recent.jsonl").write_bytes(b"".join(orjson.dumps({"x": x, "label": c}) + b"\n"
                                                          for x, c in recent) + b"not json\n")
        bearing = [(sample(rng, "bearing"), "bearing") for _ in range(200)]
        assert federated.accuracy(mine, bearing) < 0.2
        bridge(launch, tmp_path, cloud.url, model_dir=str(model_dir), model_check_period_s=1.0)

        seen = {"f2": ("bearing",), "f3": ("overheat", "bearing"), "f4": ("bearing",), "f5": ("overheat",),
                "f6": ("bearing", "overheat")}
        upload(cloud, robots, {r: local(rng, s) for r, s in seen.items()})
        v1 = httpx.post(f"{cloud.url}/v1/models/aggregate", headers=cloud.headers())
        assert v1.status_code == 201 and v1.json()["version"] == 1, v1.text
        (report,) = wait_until(lambda: adoptions(cloud), 60, "r1's verdict on v1")
        assert report["version"] == 1 and report["adopted"] is True, report
        assert report["candidate_accuracy"] > report["local_accuracy"] and report["samples"] == 200
        model, version = read_current(model_dir / "current.json")
        assert version == 1 and model is not None
        assert federated.accuracy(model, bearing) > 0.95  # r1 never saw bearing; now it detects it

        # v2 from another build whose normal sits elsewhere: r1's normal data would be flagged as faults
        upload(cloud, robots, {r: local(rng, ("bearing", "overheat"), shift=3.0) for r in ("g1", "g2", "g3")})
        v2 = httpx.post(f"{cloud.url}/v1/models/aggregate", headers=cloud.headers())
        assert v2.status_code == 201 and v2.json()["version"] == 2, v2.text
        refused = wait_until(lambda: [a for a in adoptions(cloud) if a["version"] == 2], 60, "r1's verdict on v2")
        assert refused[0]["adopted"] is False and refused[0]["previous_version"] == 1, refused
        assert refused[0]["candidate_accuracy"] < refused[0]["local_accuracy"] - 0.02
        assert "candidate accuracy" in refused[0]["reason"]
        assert read_current(model_dir / "current.json")[1] == 1  # kept v1

        # bad reports are refused with the reason; people see their own sites only
        good = {"version": 2, "previous_version": 1, "adopted": False, "reason": "x", "local_accuracy": 0.9,
                "candidate_accuracy": 0.5, "samples": 10}
        path = "/v1/devices/f2/model-adoption"
        assert signed(cloud, "f2", robots["f2"], path, orjson.dumps(good)).status_code == 201
        for bad, where in (({**good, "version": 99}, "never published"), ({**good, "local_accuracy": 2.0},
                           "local_accuracy"), ({**good, "adopted": "yes"}, "adopted")):
            r = signed(cloud, "f2", robots["f2"], path, orjson.dumps(bad))
            assert r.status_code == 422 and where in r.json()["detail"], r.text
        assert signed(cloud, "f3", robots["f3"], path, orjson.dumps(good)).status_code == 403
        other = {"Authorization": "Bearer " + mint_token(cloud.settings, cloud.runtime.jwt_secret, subject="p",
                                                         role="site_manager", sites=["site-g"], now=time.time())}
        assert adoptions(cloud, other) == []
    finally:
        cloud.close()
        shutil.rmtree(root, ignore_errors=True)


def labelled_lines(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()] if path.is_file() else []


def test_the_shadow_check_reads_the_labelled_data_the_bridge_wrote(launch, ros_probe, tmp_path):
    """sim_node + safety_node + bridge_node + the cloud, real processes: the bridge writes the robot's labelled data
    itself (normal samples of its own telemetry, then an `emergency_stop` sample when the supervisor raises that
    fault), and the fleet model's shadow check runs on exactly those lines: the report's sample count and accuracy
    are what the test recomputes from the file."""
    root = Path(tempfile.mkdtemp(prefix="sigma-bridge-lab-"))
    root.chmod(0o755)
    cloud = Cloud(launch, root / "cloud")
    try:
        cloud.start()
        register(cloud, tmp_path)
        robots: dict[str, str] = {}
        for name in ("f2", "f3", "f4"):
            seed, public = protocol.generate_keypair()
            cloud.register(name, public, site="site-a")
            robots[name] = seed
        sim = launch("sigma_sim", "sim_node", params={"robots": ["r1"]})
        sim.wait_for_output("sigma_sim ready", timeout=60)
        launch("sigma_safety", "safety_node", namespace="/r1",
               params_files=[package_share("sigma_safety") / "config" / "safety.yaml"],
               params={"urdf_path": str(humanoid_urdf()), "latch_file": str(tmp_path / "safety" / "latched.json"),
                       **WATCHDOGS_RELAXED})
        model_dir = tmp_path / "var" / "model"
        recent = model_dir / "recent.jsonl"
        bridge(launch, tmp_path, cloud.url, model_dir=str(model_dir), model_check_period_s=1.0,
               labelled_normal_period_s=3.0)
        # 30 s of history, then a normal sample every 3 s
        wait_until(lambda: len(labelled_lines(recent)) >= 2, 120, "the bridge's first normal samples")
        res = ros_probe.call(EmergencyStop, "/r1/safety/emergency_stop",
                             EmergencyStop.Request(reason="labelled data e2e", requester="test-operator"), timeout=30)
        assert res.accepted, res.message
        wait_until(lambda: any(d["label"] == "emergency_stop" for d in labelled_lines(recent)), 60,
                   "the bridge's emergency_stop sample")
        written = labelled_lines(recent)  # no normal sample within 30 s of a fault: the file stays as it is
        labels = [d["label"] for d in written]
        assert set(labels) == {NORMAL, "emergency_stop"} and all(len(d["x"]) == FLEET_DIM for d in written)

        # a fleet model learned from such data (three robots upload it), published as v1
        data = [(d["x"], d["label"]) for d in written]
        fleet = federated.fit({c: [x for x, label in data if label == c] for c in set(labels)}, FLEET_DIM)
        upload(cloud, robots, {r: fleet for r in robots})
        v1 = httpx.post(f"{cloud.url}/v1/models/aggregate", headers=cloud.headers())
        assert v1.status_code == 201, v1.text
        (report,) = wait_until(lambda: adoptions(cloud), 60, "r1's verdict on v1")
        assert labelled_lines(recent) == written, "the bridge wrote more while the check ran"
        candidate = federated.from_json(v1.json()["model"], FLEET_DIM)
        assert report["samples"] == len(written)  # the shadow check read exactly what the bridge wrote
        baseline = labels.count(NORMAL) / len(labels)  # no model yet: "everything is normal"
        assert abs(report["local_accuracy"] - baseline) < 1e-6, report
        assert abs(report["candidate_accuracy"] - federated.accuracy(candidate, data)) < 1e-6
        assert report["adopted"] is True and report["candidate_accuracy"] > report["local_accuracy"]

        # the adopted model is used on the robot: the bridge classifies its live telemetry with v1 (diagnostics)
        def classified(msgs: list) -> bool:
            return any(kv.key == "fleet_model_version" and kv.value == str(report["version"])
                       for m in msgs for st in m.status for kv in st.values)
        diag = ros_probe.subscribe(DiagnosticArray, "/r1/diagnostics")
        msgs = diag.wait_for(classified, timeout=60)
        values = {kv.key: kv.value for m in msgs for st in m.status for kv in st.values}
        assert values["fleet_model_class"] in set(labels)
    finally:
        cloud.close()
        shutil.rmtree(root, ignore_errors=True)

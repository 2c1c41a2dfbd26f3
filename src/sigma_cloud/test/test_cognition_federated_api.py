"""Federated learning through the real service: signed uploads of model parameters, refusals with a reason, an
audited aggregation round, and a robot that never saw a fault class detecting it with the fleet model it fetched
(after its shadow check)."""

from __future__ import annotations

import random

import orjson

from sigma_cloud.cognition import federated
from sigma_cloud.cognition.federated import FLEET_DIM, NORMAL

SITE = "fed-a"


def sample(rng: random.Random, label: str) -> list[float]:
    x = [rng.gauss(0.0, 1.0) for _ in range(FLEET_DIM)]
    for j in {"overheat": (0, 1, 2), "bearing": (10, 11, 12)}.get(label, ()):
        x[j] += 4.0
    return x


def local(rng: random.Random, seen: tuple[str, ...]) -> federated.Model:
    return federated.fit({c: [sample(rng, c) for _ in range(120 if c == NORMAL else 40)] for c in (NORMAL, *seen)},
                         FLEET_DIM)


def upload(cloud, robot, body: bytes):
    path = f"/v1/devices/{robot.robot_id}/model-update"
    return cloud.device_post(robot, path, body)


def test_fleet_round_teaches_a_robot_a_fault_it_never_saw(cloud) -> None:
    rng = random.Random(11)
    seen = {"fed-r1": ("overheat",), "fed-r2": ("bearing",), "fed-r3": ("overheat", "bearing"),
            "fed-r4": ("bearing",), "fed-r5": ("overheat",)}
    robots = {name: cloud.robot(name, SITE) for name in seen}
    models = {name: local(rng, classes) for name, classes in seen.items()}
    for name, robot in robots.items():
        r = upload(cloud, robot, orjson.dumps({"base_version": 0, "model": federated.to_json(models[name])}))
        assert r.status_code == 200, r.text

    # bad input is refused with the reason, never stored
    bad = federated.to_json(models["fed-r1"])
    bad["classes"][NORMAL]["var"][3] = -1.0
    refused = upload(cloud, robots["fed-r1"], orjson.dumps({"base_version": 0, "model": bad}))
    assert refused.status_code == 422 and "var[3]" in refused.json()["detail"]
    assert upload(cloud, robots["fed-r1"], b"not json").status_code == 400
    other = cloud.robot("fed-other", SITE)
    forged = cloud.device_post(other, f"/v1/devices/{robots['fed-r2'].robot_id}/model-update",
                               orjson.dumps({"base_version": 0, "model": federated.to_json(models["fed-r2"])}))
    assert forged.status_code == 403

    manager = cloud.token("site_manager", (SITE,))
    assert cloud.http.post("/v1/models/aggregate", headers=manager).status_code == 403
    made = cloud.http.post("/v1/models/aggregate", headers=cloud.token())
    assert made.status_code == 201, made.text
    version = made.json()
    assert sorted(version["robots"]) == sorted(seen) and version["robust"]["bearing"] is True
    assert cloud.http.post("/v1/models/aggregate", headers=cloud.token()).status_code == 409  # nothing new

    path = f"/v1/devices/{robots['fed-r1'].robot_id}/model"
    fetched = cloud.device_get(robots["fed-r1"], path)
    assert fetched.status_code == 200, fetched.text
    fleet_model = federated.from_json(fetched.json()["model"], FLEET_DIM)
    bearing = [(sample(rng, "bearing"), "bearing") for _ in range(200)]
    assert federated.accuracy(models["fed-r1"], bearing) < 0.2
    recent = [(sample(rng, NORMAL), NORMAL) for _ in range(100)] + [(sample(rng, "overheat"), "overheat")
                                                                     for _ in range(30)]
    adopt, reason = federated.shadow_check(models["fed-r1"], fleet_model, recent)
    assert adopt, reason
    assert federated.accuracy(fleet_model, bearing) > 0.95
    audit = cloud.http.get("/v1/audit", headers=cloud.token()).json()["items"]
    assert any(a["action"] == "model.aggregate" and a["target"] == f"v{version['version']}" for a in audit)

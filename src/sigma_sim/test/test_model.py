"""The URDF model and the world files: loadable by MuJoCo and yourdfpy, plausible, and strictly validated."""

from __future__ import annotations

import re

import mujoco
import numpy as np
import pytest
import yourdfpy
from helpers import ACTUATORS, CONTRACT_JOINTS, URDF, WORLD, make_sim, write

from sigma_sim.robot_model import ModelError, load_actuators, load_urdf
from sigma_sim.world import load_world


def test_urdf_loads_unchanged_in_mujoco_and_yourdfpy():
    model = mujoco.MjModel.from_xml_path(str(URDF))
    robot = yourdfpy.URDF.load(str(URDF))
    assert set(CONTRACT_JOINTS) <= set(robot.actuated_joint_names)
    assert len(robot.actuated_joint_names) >= 23
    assert 55.0 <= float(model.body_mass.sum()) <= 75.0
    assert robot.base_link == "base_link"  # one root: yourdfpy builds a tree from it
    assert len(robot.scene.graph.nodes_geometry) >= 23  # collision/visual primitives per link


def test_every_joint_has_limits_and_gear_and_plausible_inertia():
    desc = load_urdf(URDF)
    assert [j.name for j in desc.joints if j.name in CONTRACT_JOINTS] and set(CONTRACT_JOINTS) <= set(desc.joint_names)
    for j in desc.joints:
        assert j.lower < j.upper and j.velocity > 0 and j.effort > 0, j
        assert j.gear >= 10, j
    robot = yourdfpy.URDF.load(str(URDF))
    for link in robot.robot.links:
        inertial = link.inertial
        assert inertial is not None and inertial.mass > 0, link.name
        eig = np.linalg.eigvalsh(inertial.inertia)
        assert np.all(eig > 0), link.name
        assert eig[0] + eig[1] >= eig[2] - 1e-9, f"{link.name}: violates the triangle inequality"
        if inertial.mass > 0.1:  # derived from geometry, not a unit placeholder
            assert not np.allclose(inertial.inertia, np.eye(3)), link.name


def test_humanoid_is_adult_sized():
    sim = make_sim(base_mode="free")
    m, d = sim.model, sim.data
    robot_geoms = [g for g in range(m.ngeom) if m.body(m.geom_bodyid[g]).name.startswith("r1/")]
    top = max(d.geom_xpos[g, 2] + m.geom_aabb[g, 5] for g in robot_geoms)
    bottom = min(d.geom_xpos[g, 2] - m.geom_aabb[g, 5] for g in robot_geoms)
    assert 1.6 <= top - bottom <= 1.8


def test_actuator_table_covers_every_joint():
    desc = load_urdf(URDF)
    table = load_actuators(ACTUATORS, desc.joint_names)
    assert len(table.classes) == len(desc.joints)
    assert np.all(table["torque_constant"] > 0)


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda s: s.replace('<limit lower="0.0000" upper="2.4000"', '<limitx lower="0" upper="2.4"', 1),
         r"joint 'left_knee' has no <limit>"),
        (lambda s: s.replace('effort="200.0000"', 'effort="lots"', 1),
         r"joint 'left_knee' <limit effort>='lots' is not a number"),
        (lambda s: s.replace("</robot>", "<robot>"), r"is not valid XML"),
        (lambda s: s.replace('<child link="left_shank"/>', '<child link="left_shin"/>'), r"unknown link 'left_shin'"),
    ],
)
def test_malformed_urdf_is_refused_naming_file_and_element(tmp_path, mutate, expected):
    bad = write(tmp_path, "bad.urdf", mutate(URDF.read_text()))
    with pytest.raises(ModelError, match=re.escape(str(bad)) + ".*" + expected):
        load_urdf(bad)


def test_world_loads_with_zones_docks_spawns_humans():
    world = load_world(WORLD)
    assert len(world.spawns) >= 10 and len(world.docks) >= 2 and len(world.zones) >= 3
    assert all(0 < h.speed <= 1.6 for h in world.humans)


def test_malformed_world_is_refused_naming_file_and_element(tmp_path):
    text = WORLD.read_text().replace("speed: 1.4", "speed: 4.0")
    (tmp_path / "warehouse.xml").write_text((WORLD.parent / "warehouse.xml").read_text())
    bad = write(tmp_path, "w.yaml", text)
    with pytest.raises(ModelError, match=re.escape(str(bad)) + r": humans\[2\]\.speed"):
        load_world(bad)
    missing = write(tmp_path, "m.yaml", text.replace("mjcf: warehouse.xml", "mjcf: nowhere.xml"))
    with pytest.raises(ModelError, match=r"mjcf: file .*nowhere.xml does not exist"):
        load_world(missing)

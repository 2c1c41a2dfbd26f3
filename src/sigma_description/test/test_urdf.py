"""The one URDF reader and forward kinematics: the installed humanoid, limits, tree checks, errors naming where."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import numpy as np
import pytest
from transforms3d.quaternions import quat2mat

from sigma_description import humanoid_urdf
from sigma_description.kinematics import Kinematics
from sigma_description.urdf import UrdfError, load_urdf, parse_urdf
from sigma_ros_common.params import ConfigError

SOURCE = Path(__file__).resolve().parents[1] / "urdf"
CONTRACT = {f"{s}_{j}" for s in ("left", "right") for j in
            ("hip_yaw", "hip_roll", "hip_pitch", "knee", "ankle_pitch", "ankle_roll",
             "shoulder_pitch", "shoulder_roll", "shoulder_yaw", "elbow")} | {"waist_yaw", "neck_yaw", "neck_pitch"}
TWO_LINK = """<robot name="t">
  <link name="a"/><link name="b"><visual><geometry><box size="1 2 3"/></geometry></visual></link><link name="c"/>
  <joint name="j1" type="revolute"><parent link="a"/><child link="b"/><origin xyz="0 0 1" rpy="0 0 0"/>
    <axis xyz="0 0 1"/><limit lower="-1" upper="1" velocity="2" effort="3"/></joint>
  <joint name="j2" type="prismatic"><parent link="b"/><child link="c"/><origin xyz="1 0 0" rpy="0 0 1.5707963"/>
    <axis xyz="1 0 0"/><limit lower="0" upper="1" velocity="2" effort="3"/></joint>
</robot>"""


def test_installed_humanoid_is_found_through_the_ament_index_and_matches_the_source():
    path = humanoid_urdf()
    assert path.parts[-4:] == ("share", "sigma_description", "urdf", "sigma_humanoid.urdf")
    assert path.read_text() == (SOURCE / "sigma_humanoid.urdf").read_text(), "rebuild sigma_description"


def test_committed_urdf_is_what_the_generator_writes():
    spec = importlib.util.spec_from_file_location("generate_humanoid", SOURCE / "generate_humanoid.py")
    gen = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = gen  # dataclasses resolve their module through sys.modules
    spec.loader.exec_module(gen)
    assert (SOURCE / "sigma_humanoid.urdf").read_text() == gen.generate(), "rerun urdf/generate_humanoid.py"


def test_humanoid_has_the_contract_joints_one_root_and_its_mass():
    robot = load_urdf(humanoid_urdf())
    assert {j.name for j in robot.moving_joints} == CONTRACT
    assert set(robot.joint_limits) == CONTRACT
    assert robot.root_link == "pelvis" or robot.root_link in robot.links
    assert 60.0 < robot.total_mass < 75.0
    assert all(robot.gear(j) >= 1.0 for j in CONTRACT)
    assert robot.visuals and {v.kind for v in robot.visuals} <= {"box", "cylinder", "sphere"}


def test_revolute_and_prismatic_forward_kinematics():
    kin = Kinematics(parse_urdf(TWO_LINK))
    t1, t2 = kin.transforms({"j1": math.pi / 2, "j2": 0.5}, prefix="r1/")
    assert (t1.parent, t1.child) == ("r1/a", "r1/b")
    x, y, z, w = t1.rotation
    assert np.allclose(quat2mat([w, x, y, z]) @ [1, 0, 0], [0, 1, 0], atol=1e-6)  # +90 deg about z
    # Prismatic along the joint axis expressed after the origin rotation (yaw 90 deg): +0.5 m along parent y.
    assert np.allclose(t2.translation, [1.0, 0.5, 0.0], atol=1e-6)
    # A non-finite position is drawn at 0 rather than poisoning the frame.
    assert np.allclose(kin.transforms({"j2": math.nan})[1].translation, [1.0, 0.0, 0.0], atol=1e-6)


def _joint(limit: str, kind: str = "revolute") -> str:
    return f'<robot name="r"><joint name="j" type="{kind}">{limit}</joint></robot>'


@pytest.mark.parametrize(
    ("limit", "message"),
    [
        ("", "has no <limit>"),
        ('<limit lower="0" upper="1" velocity="1"/>', "lacks 'effort'"),
        ('<limit lower="0" upper="x" velocity="1" effort="1"/>', "is not a number"),
        ('<limit lower="1" upper="0" velocity="1" effort="1"/>', "lower 1.0 > upper 0.0"),
        ('<limit lower="0" upper="1" velocity="0" effort="1"/>', "positive velocity"),
        ('<limit lower="0" upper="nan" velocity="1" effort="1"/>', "not finite"),
    ],
)
def test_bad_limits_are_refused_naming_the_joint(limit, message):
    with pytest.raises(UrdfError, match=message) as err:
        parse_urdf(_joint(limit), require_links=False)
    assert "joint 'j'" in str(err.value)
    assert isinstance(err.value, ConfigError)  # start-up code catches one error type


def test_continuous_joint_is_unbounded():
    robot = parse_urdf(_joint('<limit velocity="1" effort="2"/>', "continuous"), require_links=False)
    assert robot.joint_limits["j"].lower == -math.inf and robot.joint_limits["j"].upper == math.inf


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda s: s.replace("</robot>", "<robot>"), r"is not valid XML"),
        (lambda s: s.replace('<child link="b"/>', '<child link="x"/>'), r"joint 'j1' refers to unknown link 'x'"),
        (lambda s: s.replace('<parent link="b"/>', '<parent link="c"/>'), r"kinematic loop|exactly one root"),
        (lambda s: s.replace('type="prismatic"', 'type="screw"'), r"joint 'j2': type 'screw'"),
        (lambda s: s.replace('<robot name="t">', '<model>').replace("</robot>", "</model>"), r"expected <robot>"),
    ],
)
def test_malformed_urdf_is_refused_naming_file_and_element(tmp_path, mutate, expected):
    bad = tmp_path / "bad.urdf"
    bad.write_text(mutate(TWO_LINK))
    with pytest.raises(UrdfError, match=str(bad).replace(".", r"\.") + ".*(" + expected + ")"):
        robot = load_urdf(bad)
        _ = robot.root_link


def test_unreadable_file_names_the_parameter(tmp_path):
    with pytest.raises(UrdfError, match=r"urdf: cannot read .*missing\.urdf"):
        load_urdf(tmp_path / "missing.urdf", parameter="urdf")

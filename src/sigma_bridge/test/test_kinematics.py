"""URDF kinematics: the project's humanoid loads, and joint motion moves the child frames as the axis says."""

from __future__ import annotations

import math

import numpy as np
import pytest
from transforms3d.quaternions import quat2mat

from sigma_bridge.kinematics import RobotModel
from sigma_description import humanoid_urdf

TWO_LINK = """<robot name="t">
  <link name="a"/><link name="b"><visual><geometry><box size="1 2 3"/></geometry></visual></link><link name="c"/>
  <joint name="j1" type="revolute"><parent link="a"/><child link="b"/><origin xyz="0 0 1" rpy="0 0 0"/>
    <axis xyz="0 0 1"/><limit lower="-2" upper="2" velocity="1" effort="1"/></joint>
  <joint name="j2" type="prismatic"><parent link="b"/><child link="c"/><origin xyz="1 0 0" rpy="0 0 1.5707963"/>
    <axis xyz="1 0 0"/><limit lower="0" upper="1" velocity="1" effort="1"/></joint>
</robot>"""


def test_revolute_and_prismatic_motion():
    m = RobotModel(TWO_LINK)
    assert m.root_link == "a" and m.moving_joints == ["j1", "j2"]
    t1, t2 = m.transforms({"j1": math.pi / 2, "j2": 0.5}, prefix="r1/")
    assert (t1.parent, t1.child) == ("r1/a", "r1/b")
    x, y, z, w = t1.rotation
    assert np.allclose(quat2mat([w, x, y, z]) @ [1, 0, 0], [0, 1, 0], atol=1e-6)  # +90 deg about z
    # Prismatic along the joint axis expressed after the origin rotation (yaw 90 deg): +0.5 m along parent y.
    assert np.allclose(t2.translation, [1.0, 0.5, 0.0], atol=1e-6)
    assert m.visuals[0].kind == "box" and m.visuals[0].size == (1.0, 2.0, 3.0)


def test_bad_urdf_is_refused_with_its_source():
    with pytest.raises(ValueError, match=r"my\.urdf is not valid XML"):
        RobotModel("<robot", source="my.urdf")


def test_project_humanoid_has_the_contract_joints():
    m = RobotModel.from_file(humanoid_urdf())
    contract = {f"{s}_{j}" for s in ("left", "right") for j in
                ("hip_yaw", "hip_roll", "hip_pitch", "knee", "ankle_pitch", "ankle_roll",
                 "shoulder_pitch", "shoulder_roll", "shoulder_yaw", "elbow")} | {"waist_yaw", "neck_yaw", "neck_pitch"}
    assert contract <= set(m.moving_joints)
    tfs = m.transforms({"left_knee": 1.0}, prefix="r1/")
    assert {t.child for t in tfs} == {f"r1/{link}" for link in m.links if link != m.root_link}
    assert m.root_link == "base_link"

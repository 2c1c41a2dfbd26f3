"""The live view's robot model over sigma_description: humanoid, visual poses, errors naming the file."""

from __future__ import annotations

import math

import numpy as np
import pytest
from transforms3d.quaternions import quat2mat

from sigma_bridge.kinematics import RobotModel
from sigma_description import humanoid_urdf

# Forward kinematics itself is tested in sigma_description; here: what the live view adds on top of it.
ROTATED_BOX = """<robot name="t">
  <link name="a"/><link name="b"><visual><origin xyz="0 0 0.5" rpy="0 0 1.5707963"/>
    <geometry><box size="1 2 3"/></geometry></visual></link>
  <joint name="j1" type="revolute"><parent link="a"/><child link="b"/><axis xyz="0 0 1"/>
    <limit lower="-2" upper="2" velocity="1" effort="1"/></joint>
</robot>"""


def test_visuals_carry_their_pose_as_a_quaternion_and_frames_get_the_prefix():
    m = RobotModel(ROTATED_BOX)
    assert m.root_link == "a" and m.moving_joints == ["j1"]
    (v,) = m.visuals
    assert (v.link, v.kind, v.size, v.xyz) == ("b", "box", (1.0, 2.0, 3.0), (0.0, 0.0, 0.5))
    x, y, z, w = v.quat_xyzw
    assert np.allclose(quat2mat([w, x, y, z]) @ [1, 0, 0], [0, 1, 0], atol=1e-6)  # the rpy yaw of 90 deg
    (t,) = m.transforms({"j1": math.pi}, prefix="r1/")
    assert (t.parent, t.child) == ("r1/a", "r1/b") and np.allclose(np.abs(t.rotation), [0, 0, 1, 0], atol=1e-6)


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

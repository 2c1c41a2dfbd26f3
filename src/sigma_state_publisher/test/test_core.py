"""The pure core against yourdfpy's forward kinematics (an independent URDF implementation)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from fk import URDF, compose, load, matrix

from sigma_description.urdf import load_urdf
from sigma_state_publisher.core import StateModel, frame_prefix


@pytest.fixture(scope="module")
def model() -> StateModel:
    return StateModel(load_urdf(URDF), "r1/")


def test_frame_prefix_follows_the_multi_robot_scheme():
    assert frame_prefix("r1") == "r1/"
    assert frame_prefix("", "/r7") == "r7/"
    assert frame_prefix("/r2/") == "r2/"
    assert frame_prefix("", "/") == ""
    with pytest.raises(ValueError, match="white space"):
        frame_prefix("r 1")


def test_static_and_moving_transforms_compose_to_the_urdf_forward_kinematics(model):
    ref = load()
    rng = np.random.default_rng(7)
    names = sorted(model.moving)
    for _ in range(5):
        cfg = {}
        for j in ref.robot.joints:
            if j.name in model.moving:
                cfg[j.name] = float(rng.uniform(j.limit.lower, j.limit.upper))
        update = model.joint_transforms(names, [cfg[n] for n in names])
        assert not update.unknown and not update.nonfinite
        tfs = model.static_transforms() + update.transforms
        edges = {t.child: (t.parent, matrix(t.translation, t.rotation)) for t in tfs}
        assert len(edges) == len(ref.robot.links) - 1  # every link except the root, exactly once
        ref.update_cfg(cfg)
        for link in ref.robot.links:
            want = ref.get_transform(link.name, ref.base_link)
            got = compose(edges, "r1/" + ref.base_link, "r1/" + link.name)
            np.testing.assert_allclose(got, want, atol=1e-9, err_msg=link.name)


def test_static_transforms_are_the_fixed_joints_only(model):
    fixed = [j for j in load().robot.joints if j.type == "fixed"]
    assert sorted(t.child for t in model.static_transforms()) == sorted("r1/" + j.child for j in fixed)


def test_unknown_and_nonfinite_joints_are_reported_not_published(model):
    update = model.joint_transforms(["left_knee", "no_such_joint", "waist_yaw"], [0.3, 1.0, math.nan])
    assert [(t.parent, t.child) for t in update.transforms] == [("r1/left_thigh", "r1/left_shank")]
    assert update.unknown == ["no_such_joint"]
    assert update.nonfinite == ["waist_yaw"]


def test_base_transform_normalises_and_refuses_bad_poses(model):
    t = model.base_transform("odom", (1.0, 2.0, 0.9), (0.0, 0.0, 0.0, 2.0))
    assert (t.parent, t.child, t.rotation) == ("odom", "r1/base_link", (0.0, 0.0, 0.0, 1.0))
    assert model.base_transform("odom", (math.nan, 0, 0), (0, 0, 0, 1)) is None
    assert model.base_transform("odom", (0, 0, 0), (0, 0, 0, 0)) is None

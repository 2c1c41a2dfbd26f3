from sigma_bringup.mission import ArmSwing, Shuttle


def test_shuttle_alternates_direction_each_leg():
    s = Shuttle(speed=0.3, leg=4.0)
    assert s.velocity(-1.0) == 0.0
    assert s.velocity(0.0) == 0.3 and s.velocity(3.9) == 0.3
    assert s.velocity(4.0) == -0.3 and s.velocity(8.1) == 0.3


def test_arm_swing_stays_inside_the_urdf_limits():
    # URDF: shoulder pitch [-3.0, 1.0], elbow [-2.5, 0.0]
    swing = ArmSwing()
    for i in range(200):
        t = i * 0.05
        for name, value in swing.targets(t).items():
            lo, hi = (-2.5, 0.0) if "elbow" in name else (-3.0, 1.0)
            assert lo < value < hi, (name, t, value)

from sigma_testing.process import ros_args


def test_ros_args_match_ros2_run():
    args = ros_args(name="n", namespace="r1", params={"a": 1, "b": True, "c": "x", "d": [1, 2]}, remaps={"in": "out"})
    assert args == [
        "--ros-args",
        "-r",
        "__node:=n",
        "-r",
        "__ns:=/r1",
        "-p",
        "a:=1",
        "-p",
        "b:=true",
        "-p",
        "c:='x'",
        "-p",
        "d:=[1,2]",
        "-r",
        "in:=out",
    ]
    assert ros_args(namespace="/abs/ns")[-1] == "__ns:=/abs/ns"

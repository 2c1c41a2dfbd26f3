"""The loader resolves args, lets, groups, namespaces, includes and params with ros2 launch semantics."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from sigma_launch.loader import LaunchFileError, Loader, join_namespace


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def _loader(tmp_path):
    def find(pkg):
        if pkg == "demo":
            return str(tmp_path)
        raise LookupError(pkg)

    return Loader(find, environ={"SITE": "berlin"})


ROBOT = """\
launch:
- arg: {name: robot_id, description: "robot namespace"}
- arg: {name: rate, default: "50"}
- node:
    pkg: demo
    exec: talker
    name: talker
    namespace: $(var robot_id)
    param:
    - {name: token, value: "$(var robot_id)-$(env SITE)"}
    - {name: rate, value: $(var rate)}
    - {name: quoted, value: "7"}
    - {name: list, value: [1, 2, 3]}
    - {from: $(dirname)/params.yaml}
    remap:
    - {from: chatter, to: talk}
    respawn: "true"
    respawn_delay: "0.5"
"""


def test_args_params_remaps_and_namespace(tmp_path):
    _write(tmp_path, "params.yaml", "/**:\n  ros__parameters: {a: 1}\n")
    robot = _write(tmp_path, "robot.launch.yaml", ROBOT)
    [node] = _loader(tmp_path).load(robot, {"robot_id": "r7"})
    assert (node.package, node.executable, node.name, node.namespace) == ("demo", "talker", "talker", "/r7")
    assert node.params[:4] == [{"token": "r7-berlin"}, {"rate": 50}, {"quoted": "7"}, {"list": [1, 2, 3]}]
    assert node.params[4] == str(tmp_path.resolve() / "params.yaml")
    assert node.remaps == [("chatter", "talk")]
    assert node.respawn is True and node.respawn_delay == 0.5
    assert node.label == "/r7/talker"


def test_override_beats_default(tmp_path):
    _write(tmp_path, "params.yaml", "/**:\n  ros__parameters: {a: 1}\n")
    robot = _write(tmp_path, "robot.launch.yaml", ROBOT)
    [node] = _loader(tmp_path).load(robot, {"robot_id": "r1", "rate": "200"})
    assert {"rate": 200} in node.params


def test_missing_required_argument_names_file_and_line(tmp_path):
    robot = _write(tmp_path, "robot.launch.yaml", ROBOT)
    with pytest.raises(LaunchFileError) as err:
        _loader(tmp_path).load(robot)
    assert err.value.path == robot and err.value.line == 2
    assert "'robot_id' is required" in str(err.value) and "robot_id:=VALUE" in str(err.value)


def test_unsupported_tag_names_file_line_and_tag(tmp_path):
    bad = _write(
        tmp_path,
        "bad.launch.yaml",
        """\
        launch:
        - arg: {name: x, default: "1"}
        - executable: {cmd: "ls"}
        """,
    )
    with pytest.raises(LaunchFileError) as err:
        _loader(tmp_path).load(bad)
    assert err.value.line == 3 and "<executable> is not supported" in str(err.value)


def test_unsupported_attribute_is_refused(tmp_path):
    bad = _write(
        tmp_path,
        "bad.launch.yaml",
        """\
        launch:
        - node: {pkg: demo, exec: talker, launch-prefix: "gdb -ex run"}
        """,
    )
    with pytest.raises(LaunchFileError, match="attribute 'launch-prefix' is not supported"):
        _loader(tmp_path).load(bad)



def test_if_and_unless_conditions(tmp_path):
    f = _write(
        tmp_path,
        "f.launch.yaml",
        """\
        launch:
        - arg: {name: sim, default: "true"}
        - node: {pkg: demo, exec: sim_node, if: $(var sim)}
        - node: {pkg: demo, exec: driver, unless: $(var sim)}
        - group: {if: "false", children: [{node: {pkg: demo, exec: never}}]}
        """,
    )
    assert [n.executable for n in _loader(tmp_path).load(f)] == ["sim_node"]
    assert [n.executable for n in _loader(tmp_path).load(f, {"sim": "False"})] == ["driver"]
    with pytest.raises(LaunchFileError, match="expected true or false"):
        _loader(tmp_path).load(f, {"sim": "perhaps"})

def test_fleet_include_in_groups_scopes_args_and_namespaces(tmp_path):
    _write(tmp_path, "params.yaml", "/**:\n  ros__parameters: {a: 1}\n")
    _write(tmp_path, "robot.launch.yaml", ROBOT)
    fleet = _write(
        tmp_path,
        "fleet.launch.yaml",
        """\
        launch:
        - let: {name: site, value: warehouse}
        - group:
          - push-ros-namespace: {namespace: $(var site)}
          - include:
              file: $(find-pkg-share demo)/robot.launch.yaml
              arg:
              - {name: robot_id, value: r1}
              - {name: rate, value: "10"}
        - group:
            scoped: "true"
            children:
            - include:
                file: $(dirname)/robot.launch.yaml
                arg: [{name: robot_id, value: r2}]
        """,
    )
    nodes = _loader(tmp_path).load(fleet)
    assert [n.namespace for n in nodes] == ["/warehouse/r1", "/r2"]
    # r2's rate is back at the default: the first include's value did not leak out of its group.
    assert {"rate": 10} in nodes[0].params and {"rate": 50} in nodes[1].params


def test_unscoped_group_leaks_like_ros2_launch(tmp_path):
    f = _write(
        tmp_path,
        "f.launch.yaml",
        """\
        launch:
        - group: {scoped: "false", children: [{let: {name: a, value: inner}}]}
        - node: {pkg: demo, exec: talker, name: $(var a)}
        """,
    )
    assert _loader(tmp_path).load(f)[0].name == "inner"


def test_invalid_yaml_and_bad_values(tmp_path):
    f = _write(tmp_path, "f.launch.yaml", "launch:\n- node: {pkg: demo\n")
    with pytest.raises(LaunchFileError, match="invalid YAML"):
        _loader(tmp_path).load(f)
    g = _write(tmp_path, "g.launch.yaml", "launch:\n- node: {pkg: demo, exec: t, respawn: maybe}\n")
    with pytest.raises(LaunchFileError, match="expected true or false"):
        _loader(tmp_path).load(g)
    h = _write(tmp_path, "h.launch.yaml", "launch:\n- node: {pkg: demo, exec: t, param: [{from: /nonexistent.yaml}]}\n")
    with pytest.raises(LaunchFileError, match="does not exist"):
        _loader(tmp_path).load(h)


@pytest.mark.parametrize(
    ("base", "ns", "want"),
    [
        ("", "r1", "/r1"),
        ("/site", "r1", "/site/r1"),
        ("/site", "/abs", "/abs"),
        ("/a", "", "/a"),
        ("", "/", "/"),
    ],
)
def test_join_namespace(base, ns, want):
    assert join_namespace(base, ns) == want

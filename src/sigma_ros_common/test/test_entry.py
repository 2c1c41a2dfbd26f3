"""sigma_ros_common.entry: console scripts that import their node's module on call, quiet on a Ctrl-C meanwhile."""

from __future__ import annotations

import sys

import pytest

from sigma_ros_common.entry import lazy, load


@pytest.fixture
def modules(tmp_path, monkeypatch):
    """A directory on sys.path for throw-away modules (removed from sys.modules afterwards)."""
    monkeypatch.syspath_prepend(str(tmp_path))
    before = set(sys.modules)
    yield tmp_path
    for name in set(sys.modules) - before:
        del sys.modules[name]


def test_lazy_imports_on_call_and_passes_args_and_exit_code(modules):
    (modules / "entry_ok.py").write_text("SEEN = []\ndef main(args=None):\n    SEEN.append(args)\n    return 3\n")
    main = lazy("entry_ok:main")
    assert "entry_ok" not in sys.modules  # nothing loaded until the script runs
    assert main(["--ros-args"]) == 3
    assert sys.modules["entry_ok"].SEEN == [["--ros-args"]]


def test_a_main_returning_none_is_exit_code_0(modules):
    (modules / "entry_none.py").write_text("def main(args=None):\n    return None\n")
    assert lazy("entry_none:main")() == 0


def test_ctrl_c_while_the_module_loads_is_a_clean_exit(modules):
    (modules / "entry_slow.py").write_text("raise KeyboardInterrupt\n")  # as if SIGINT came mid-import
    assert lazy("entry_slow:main")() == 0


def test_ctrl_c_inside_main_is_not_swallowed(modules):
    (modules / "entry_loop.py").write_text("def main(args=None):\n    raise KeyboardInterrupt\n")
    with pytest.raises(KeyboardInterrupt):  # main's own handling (spin.run) decides, not the entry point
        lazy("entry_loop:main")()


def test_import_errors_still_surface(modules):
    (modules / "entry_broken.py").write_text("import no_such_module_xyz\n")
    with pytest.raises(ModuleNotFoundError):
        lazy("entry_broken:main")()


@pytest.mark.parametrize("target", ["no_colon", ":main", "module:", ""])
def test_malformed_targets_are_refused(target):
    with pytest.raises(ValueError, match=r"expected 'package\.module:function'"):
        load(target)

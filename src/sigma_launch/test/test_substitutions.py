import pytest

from sigma_launch.substitutions import Scope, SubstitutionError, evaluate


def _scope(**configs):
    def find(pkg):
        if pkg == "known":
            return "/share/known"
        raise LookupError("nope")

    return Scope(configs, {"HOME_X": "/home/x"}, find, "/launch/dir")


def test_plain_text_is_unchanged():
    assert evaluate("no substitutions (here)", _scope()) == "no substitutions (here)"


def test_var_env_pkg_and_dirname():
    s = _scope(robot="r1")
    assert evaluate("/$(var robot)/x", s) == "/r1/x"
    assert evaluate("$(env HOME_X)", s) == "/home/x"
    assert evaluate("$(env MISSING 'fallback value')", s) == "fallback value"
    assert evaluate("$(find-pkg-share known)/config", s) == "/share/known/config"
    assert evaluate("$(dirname)/robot.launch.yaml", s) == "/launch/dir/robot.launch.yaml"


def test_nested_substitution():
    assert evaluate("$(var $(var which))", _scope(which="b", b="value-of-b")) == "value-of-b"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("$(var nope)", "'nope' is not set"),
        ("$(env MISSING)", "no default"),
        ("$(find-pkg-share unknown)", "package 'unknown' not found"),
        ("$(eval '1+1')", "not supported"),
        ("$(var robot", "unclosed"),
        ("$(var)", "takes 1 argument"),
        ("$()", "empty substitution"),
        ("$(env 'unterminated)", "unclosed quote"),
    ],
)
def test_errors_name_the_problem(text, fragment):
    with pytest.raises(SubstitutionError, match=fragment.replace("(", r"\(")):
        evaluate(text, _scope(robot="r1"))

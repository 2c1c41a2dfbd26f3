"""Our message and service definitions: durations are builtin_interfaces/Duration or float seconds documented as
``[s]``; a constant is defined in one message only; simulation-only types stay out of sigma_interfaces."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

SRC = Path(__file__).resolve().parents[2]
DEFINITIONS = sorted(p for pkg in ("sigma_interfaces", "sigma_sim_interfaces")
                     for kind in ("msg", "srv") for p in (SRC / pkg / kind).glob(f"*.{kind}"))
FIELD = re.compile(r"^\s*([\w/]+(?:\[\d*\])?)\s+(\w+)(\s*=\s*\S+)?\s*(#.*)?$")
TIME_WORDS = re.compile(r"(duration|_age$|^age$|delay|timeout|period|latency|_time$)")


def _fields(path: Path) -> list[tuple[str, str, bool, str]]:
    out = []
    for line in path.read_text().splitlines():
        m = FIELD.match(line)
        if m and m.group(1) != "---":
            out.append((m.group(1), m.group(2), bool(m.group(3)), m.group(4) or ""))
    return out


def test_definitions_found():
    names = {p.name for p in DEFINITIONS}
    assert {"SafetyStatus.msg", "CognitionDecision.msg", "InjectFault.srv"} <= names


def test_durations_are_duration_or_documented_seconds():
    bad = []
    for path in DEFINITIONS:
        for ftype, name, is_constant, comment in _fields(path):
            if is_constant or not TIME_WORDS.search(name):
                continue
            if ftype == "builtin_interfaces/Duration":
                continue
            if not (ftype.startswith("float") and "[s]" in comment):
                bad.append(f"{path.name}: {ftype} {name} {comment}")
    assert not bad, "a duration is builtin_interfaces/Duration or a float documented in [s]:\n" + "\n".join(bad)


def test_each_constant_is_defined_once():
    where = defaultdict(list)
    for path in DEFINITIONS:
        for _ftype, name, is_constant, _ in _fields(path):
            if is_constant and name.startswith("SOURCE_"):
                where[name].append(path.name)
    repeated = {k: v for k, v in where.items() if len(v) > 1}
    assert where and not repeated, f"constants defined in several messages: {repeated}"


def test_simulation_only_types_are_not_in_sigma_interfaces():
    for name in ("InjectFault", "SetPayload"):
        assert not (SRC / "sigma_interfaces" / "srv" / f"{name}.srv").exists()
        assert name not in (SRC / "sigma_interfaces" / "CMakeLists.txt").read_text()
        assert (SRC / "sigma_sim_interfaces" / "srv" / f"{name}.srv").exists()


def test_the_protocol_decision_sources_equal_the_message_constants():
    import sigma_protocol

    text = (SRC / "sigma_interfaces" / "msg" / "CognitionDecision.msg").read_text()
    in_msg = {m.group(1): int(m.group(2)) for m in re.finditer(r"^uint8 (SOURCE_\w+)=(\d+)", text, re.M)}
    in_protocol = {name: getattr(sigma_protocol, name) for name in in_msg}
    assert in_msg == in_protocol and set(sigma_protocol.DECISION_SOURCES) == set(in_msg.values())

"""W3C traceparent helpers (protocol revision 1.1): strict parsing, new traces, children in the same trace."""

import sigma_protocol as protocol


def test_new_and_child_round_trip():
    root = protocol.new_traceparent()
    parsed = protocol.parse_traceparent(root.header())
    assert parsed == root and parsed.flags == 1
    child = protocol.child_traceparent(root)
    assert child.trace_id == root.trace_id and child.span_id != root.span_id
    assert protocol.new_traceparent(sampled=False).header().endswith("-00")


def test_malformed_values_are_none():
    good = protocol.new_traceparent().header()
    for bad in (None, "", "garbage", good.upper(), good + "x", "01" + good[2:], good.replace("-", "_"),
                "00-" + "0" * 32 + "-" + "1" * 16 + "-01", "00-" + "1" * 32 + "-" + "0" * 16 + "-01"):
        assert protocol.parse_traceparent(bad) is None, bad


def test_decision_keeps_only_a_valid_traceparent():
    base = {"decision_id": "d", "robot_id": "r", "source": 0, "confidence": 1.0, "action": "a", "created_at": 1.0,
            "deadline": 2.0}
    good = protocol.new_traceparent().header()
    assert protocol.Decision.from_json({**base, "traceparent": good}).traceparent == good
    assert protocol.Decision.from_json({**base, "traceparent": "nope"}).traceparent == ""
    assert protocol.Decision.from_json({**base, "traceparent": None}).traceparent == ""
    assert protocol.Decision.from_json(base).traceparent == ""  # a revision-1.0 cloud

"""TwinHealth -> twin_health payload: accepted by the device protocol's validator; inf/NaN become the protocol's
sentinels; window times become hours after the report's stamp."""

import math

from builtin_interfaces.msg import Time

from sigma_bridge import mapping
from sigma_interfaces.msg import ComponentHealth, TwinHealth
from sigma_protocol import channels


def report() -> TwinHealth:
    msg = TwinHealth(risk_horizon=24.0, spoofed_sensors=["knee_l"])
    msg.header.stamp = Time(sec=1_000_000, nanosec=0)
    knee = ComponentHealth(name="knee_l", health=0.4, confidence=0.9, rul_q05=3.0, rul_q50=6.0, rul_q95=math.inf,
                           risk=0.7, dominant_mode="thermal", state_names=["thermal_gain", "cooling"],
                           state_values=[0.8, math.nan], state_std=[0.05, math.nan], reasons=["sensor frozen"])
    knee.window_start = Time(sec=1_000_000 + 3600, nanosec=0)
    knee.window_end = Time(sec=1_000_000 + 3 * 3600, nanosec=0)
    msg.actuators = [knee]
    msg.battery = ComponentHealth(name="battery", health=1.0, confidence=1.0, rul_q05=math.nan, rul_q50=math.nan,
                                  rul_q95=math.nan, risk=0.0, dominant_mode="capacity_fade")
    return msg


def test_payload_is_valid_and_keeps_the_forecast():
    p = mapping.twin_health(report())
    assert channels.validate_payload("twin_health", p) == []
    assert p["name"] == ["knee_l", "battery"]
    assert p["rul_q05"] == [3.0, channels.RUL_UNKNOWN] and p["rul_q95"] == [channels.RUL_BEYOND_H, channels.RUL_UNKNOWN]
    assert p["window_opens"] == [1.0, channels.NO_WINDOW] and p["window_closes"] == [3.0, channels.NO_WINDOW]
    assert p["state_names"] == ["knee_l/thermal_gain"] and p["state_values"] == [0.8] and p["state_std"] == [0.05]
    assert p["spoofed_sensors"] == ["knee_l"] and p["reasons"] == ["knee_l: sensor frozen"]
    assert p["risk_horizon"] == 24.0 and p["dominant_mode"] == ["thermal", "capacity_fade"]
    assert mapping.MAPPERS["twin_health"] is mapping.twin_health and "twin_health" in mapping.CHANNELS


def test_out_of_range_values_are_clipped_not_refused():
    msg = report()
    msg.actuators[0].health, msg.actuators[0].risk, msg.actuators[0].confidence = 1.5, math.nan, -0.2
    msg.actuators[0].window_start = Time(sec=1, nanosec=0)  # long past: the window is open now
    p = mapping.twin_health(msg)
    assert channels.validate_payload("twin_health", p) == []
    assert p["health"][0] == 1.0 and p["risk"][0] == 0.0 and p["confidence"][0] == 0.0 and p["window_opens"][0] == 0.0


def test_the_protocol_refuses_a_malformed_report():
    p = mapping.twin_health(report())
    p["health"] = [0.5]  # length differs from name
    p["state_std"] = [-5.0]
    fields = {f for f, _ in channels.validate_payload("twin_health", p)}
    assert {"payload.health", "payload.state_std"} <= fields

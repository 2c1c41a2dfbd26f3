"""Message -> protocol payload mapping, per-channel downsampling: payloads validate against sigma_protocol."""

from __future__ import annotations

import math

import orjson
import pytest
from builtin_interfaces.msg import Time
from nav_msgs.msg import Odometry
from sensor_msgs.msg import BatteryState, Imu, JointState

import sigma_protocol as protocol
from sigma_bridge import mapping
from sigma_bridge.downsample import Downsampler
from sigma_interfaces.msg import ActuatorHealth, SafetyEvent, SafetyFault, SafetyStatus


def valid(channel: str, payload: dict) -> None:
    assert protocol.validate_payload(channel, orjson.loads(orjson.dumps(payload))) == [], payload


def test_every_channel_maps_to_a_valid_protocol_payload():
    js = JointState(name=["a", "b"], position=[0.1, 0.2], velocity=[0.0, float("nan")], effort=[1.0, 2.0])
    p = mapping.joint_states(js)
    valid("joint_states", p)
    assert p["velocity"] == [] and p["nonfinite"] == ["velocity"] and p["position"] == [0.1, 0.2]
    ah = ActuatorHealth(name=["a"], winding_temperature=[71.5], housing_temperature=[50.0], current=[3.0],
                        supply_voltage=[48.0])
    p = mapping.actuator_health(ah)
    valid("actuator_health", p)
    assert p["temperature"] == [71.5] and p["housing_temperature"] == [50.0] and p["voltage"] == [48.0]
    bat = BatteryState(voltage=47.9, current=-3.0, charge=float("nan"), capacity=20.0, percentage=0.8,
                       temperature=float("nan"))
    p = mapping.battery(bat)
    valid("battery", p)
    assert "charge" not in p and "temperature" not in p and p["percentage"] == pytest.approx(0.8)
    imu = Imu()
    imu.orientation.w = 1.0
    valid("imu", mapping.imu(imu))
    od = Odometry(child_frame_id="r1/base_link")
    od.header.frame_id = "odom"
    od.pose.pose.position.x = 2.0
    p = mapping.odom(od)
    valid("odom", p)
    assert p["position"] == [2.0, 0.0, 0.0]
    st = SafetyStatus(level=2, authority=1, speed_scale=0.0, sequence=7,
                      active_faults=[SafetyFault(code=3, rule="thermal", value=95.0, limit=90.0)])
    p = mapping.safety_status(st)
    valid("safety_status", p)
    assert p["active_faults"][0]["rule"] == "thermal"
    ev = SafetyEvent(sequence=7, previous_level=0, level=2, cause="thermal", raised=[SafetyFault(code=3)])
    p = mapping.safety_event(ev, "/var/x.mcap")
    valid("safety_event", p)
    assert p["recording"] == "/var/x.mcap" and p["raised"][0]["code"] == 3


def test_event_time_uses_plausible_stamps_only():
    now = 1_800_000_000.0
    assert mapping.event_time(Time(sec=int(now) - 1, nanosec=500_000_000), now) == pytest.approx(now - 0.5)
    assert mapping.event_time(Time(sec=12), now) == now  # sim time since start: receive time instead


def test_downsampler_caps_each_channel_and_forces_changes():
    ds = Downsampler({"imu": 10.0, "safety_event": 0.0})
    kept = sum(ds.accept("imu", i * 0.001) for i in range(1000))  # 1 kHz for 1 s
    assert kept == 10
    assert all(ds.accept("safety_event", 0.5) for _ in range(5))  # rate 0: everything
    assert ds.accept("imu", 0.9995, force=True)
    assert ds.accept("imu", 0.5)  # clock went back: restart the schedule
    with pytest.raises(KeyError, match="battery"):
        ds.accept("battery", 0.0)
    with pytest.raises(ValueError, match="imu"):
        Downsampler({"imu": -1.0})
    assert not math.isnan(ds.kept["imu"])
    peek = Downsampler({"tf": 20.0})
    assert peek.due("tf", 0.0) and peek.due("tf", 0.0)  # a peek changes nothing
    assert peek.accept("tf", 0.0) and not peek.due("tf", 0.01) and peek.due("tf", 0.05)
    assert peek.seen == {"tf": 1}

"""Fast batch decoding with msgspec (C-speed typed validation) for the ingest hot path.

It only ever accepts batches the reference validator (sigma_protocol.validate_batch) accepts: any doubt
(a msgspec validation error, a window, order or length check failing, a `units` map to convert) returns None and
the caller takes the reference path, which also produces the precise per-event errors.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
import numpy as np

import sigma_protocol as protocol

Finite = Annotated[float, msgspec.Meta(ge=-1e300, le=1e300)]
Num = Finite | list[Finite] | msgspec.UnsetType  # explicit null is not a number: reference path
Seq = Annotated[int, msgspec.Meta(ge=1, le=2**63 - 1)]


class RawEvent(msgspec.Struct):
    seq: Seq
    ts: Finite
    channel: Literal["joint_states", "actuator_health", "battery", "imu", "odom", "safety_status", "safety_event"]
    payload: msgspec.Raw


class RawBatch(msgspec.Struct):
    robot_id: str
    events: list[RawEvent]


class JointStates(msgspec.Struct):
    name: list[str]
    position: Num = msgspec.UNSET
    velocity: Num = msgspec.UNSET
    effort: Num = msgspec.UNSET
    units: dict[str, str] | msgspec.UnsetType = msgspec.UNSET


class ActuatorHealth(msgspec.Struct):
    name: list[str]
    temperature: Num = msgspec.UNSET
    current: Num = msgspec.UNSET
    voltage: Num = msgspec.UNSET
    units: dict[str, str] | msgspec.UnsetType = msgspec.UNSET


class Battery(msgspec.Struct):
    voltage: Num = msgspec.UNSET
    current: Num = msgspec.UNSET
    charge: Num = msgspec.UNSET
    capacity: Num = msgspec.UNSET
    percentage: Num = msgspec.UNSET
    temperature: Num = msgspec.UNSET
    units: dict[str, str] | msgspec.UnsetType = msgspec.UNSET


class Imu(msgspec.Struct):
    orientation: Num = msgspec.UNSET
    angular_velocity: Num = msgspec.UNSET
    linear_acceleration: Num = msgspec.UNSET
    units: dict[str, str] | msgspec.UnsetType = msgspec.UNSET


class Odom(msgspec.Struct):
    position: Num = msgspec.UNSET
    orientation: Num = msgspec.UNSET
    linear: Num = msgspec.UNSET
    angular: Num = msgspec.UNSET
    units: dict[str, str] | msgspec.UnsetType = msgspec.UNSET


class SafetyStatus(msgspec.Struct):
    level: Num = msgspec.UNSET
    authority: Num = msgspec.UNSET
    sequence: Num = msgspec.UNSET
    units: dict[str, str] | msgspec.UnsetType = msgspec.UNSET


class SafetyEvent(msgspec.Struct):
    level: Num = msgspec.UNSET
    previous_level: Num = msgspec.UNSET
    authority: Num = msgspec.UNSET
    previous_authority: Num = msgspec.UNSET
    sequence: Num = msgspec.UNSET
    units: dict[str, str] | msgspec.UnsetType = msgspec.UNSET


PAYLOAD_TYPES = {"joint_states": JointStates, "actuator_health": ActuatorHealth, "battery": Battery, "imu": Imu,
                 "odom": Odom, "safety_status": SafetyStatus, "safety_event": SafetyEvent}
DECODERS = {name: msgspec.json.Decoder(kind) for name, kind in PAYLOAD_TYPES.items()}
BATCH_DECODER = msgspec.json.Decoder(RawBatch)
# The numeric fields in the reference order (protocol.CHANNELS), as struct attribute names.
FIELDS = {name: tuple(fields) for name, fields in protocol.CHANNELS.items()}


class FastBatch(msgspec.Struct):
    """Decoded columns of a valid batch."""

    seqs: list[int]
    ts: list[float]
    channels: list[str]
    payload_texts: list[bytes]
    rows: list[list[float]]


def decode(body: bytes, robot_id: str, now: float, max_age_s: float, max_events: int,
           max_future_s: float) -> FastBatch | None:
    """Decode and validate a batch in one pass; None means: use the reference path."""
    try:
        batch = BATCH_DECODER.decode(body)
    except msgspec.DecodeError:
        return None
    events = batch.events
    if batch.robot_id != robot_id or not events or len(events) > max_events:
        return None
    seqs = [e.seq for e in events]
    ts = [e.ts for e in events]
    seq_array = np.asarray(seqs, dtype=np.int64)
    ts_array = np.asarray(ts, dtype=np.float64)
    if (len(seqs) > 1 and not bool(np.all(np.diff(seq_array) > 0))) or ts_array.max() > now + max_future_s \
            or ts_array.min() < now - max_age_s:
        return None
    texts: list[bytes] = []
    rows: list[list[float]] = []
    channels: list[str] = []
    try:
        for event in events:
            channel = event.channel
            payload = DECODERS[channel].decode(event.payload)
            if payload.units is not msgspec.UNSET:
                return None
            row: list[float] = []
            for key in FIELDS[channel]:
                value = getattr(payload, key)
                if value.__class__ is list:
                    row.extend(value)
                elif value is not msgspec.UNSET:
                    row.append(value)
            if channel in protocol.NAMED_CHANNELS:
                width = len(payload.name)
                for key in FIELDS[channel]:
                    value = getattr(payload, key)
                    if value.__class__ is list and len(value) not in (0, width):
                        return None
            rows.append(row)
            channels.append(channel)
            texts.append(bytes(event.payload))
    except msgspec.DecodeError:
        return None
    return FastBatch(seqs, ts, channels, texts, rows)

"""Foxglove live view: a foxglove-sdk WebSocket server with the robot, humans, geofences, safety and health.

JSON channels carry JSON Schemas (:mod:`sigma_bridge.view_schemas`); the URDF is offered on
``/<id>/robot_description`` (``std_msgs/msg/String``, CDR) with its links prefixed ``<id>/`` so a viewer's URDF layer
draws the real model on the prefixed tf frames.

Everything is logged through the SDK, whose server buffers at most ``backlog`` messages per client and drops the
oldest data message when a client is slow (a client whose control queue fills is disconnected), so a slow
client never blocks the caller. Each view has its own ``foxglove.Context``: several bridges (or tests) can run
servers side by side in one process. No rclpy here: the node hands plain values in.
"""

from __future__ import annotations

import struct
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence

import foxglove
from foxglove.channels import FrameTransformsChannel, SceneUpdateChannel
from foxglove.messages import (
    Color,
    CubePrimitive,
    CylinderPrimitive,
    FrameTransform,
    FrameTransforms,
    LinePrimitive,
    LinePrimitiveLineType,
    Point3,
    Pose,
    Quaternion,
    SceneEntity,
    SceneUpdate,
    SpherePrimitive,
    Timestamp,
    Vector3,
)

from sigma_bridge import view_schemas
from sigma_bridge.kinematics import RobotModel, Transform

LEVEL_COLORS = {0: (0.55, 0.6, 0.65), 1: (0.95, 0.75, 0.1), 2: (1.0, 0.45, 0.0), 3: (0.9, 0.1, 0.1)}


def geofences_from_yaml(data: object, site: str, frame: str = "odom") -> list[dict]:
    """Fences to draw from sigma_safety's geofence YAML (``sites: {site: {keep_in|keep_out: {name: [[x, y]]}}}``),
    or from a plain list of ``{name, frame, points}``; raises ValueError naming what is wrong."""
    if not data:
        return []
    if isinstance(data, list):
        return [dict(f) for f in data]
    if not isinstance(data, dict) or "sites" not in data:
        raise ValueError("geofences: expected a list of {name, points} or sigma_safety's {sites: ...}")
    if site not in data["sites"]:
        raise ValueError(f"geofences: site {site!r} not in {sorted(data['sites'])}")
    fences = []
    for kind in ("keep_in", "keep_out"):
        for name, points in (data["sites"][site].get(kind) or {}).items():
            fences.append({"name": f"{kind}:{name}", "frame": frame, "points": points})
    return fences


def prefixed_urdf(urdf_xml: str, prefix: str) -> str:
    """The URDF with every link (and each joint's parent/child) renamed ``prefix + name``: viewers' URDF layers add
    no frame prefix, so this copy attaches to the robot's prefixed tf frames."""
    root = ET.fromstring(urdf_xml)  # noqa: S314 - the robot's own description
    for link in root.findall("link"):
        link.set("name", prefix + link.get("name", ""))
    for joint in root.findall("joint"):
        for end in ("parent", "child"):
            el = joint.find(end)
            if el is not None:
                el.set("link", prefix + el.get("link", ""))
    return ET.tostring(root, encoding="unicode")


def cdr_string(text: str) -> bytes:
    """A ``std_msgs/msg/String`` in CDR (little endian): encapsulation header, length with NUL, bytes, NUL."""
    data = text.encode()
    return b"\x00\x01\x00\x00" + struct.pack("<I", len(data) + 1) + data + b"\x00"


def _ts(t_ns: int) -> Timestamp:
    return Timestamp(t_ns // 1_000_000_000, t_ns % 1_000_000_000)


def _pose(xyz: Sequence[float], q: Sequence[float]) -> Pose:
    return Pose(position=Vector3(x=xyz[0], y=xyz[1], z=xyz[2]), orientation=Quaternion(x=q[0], y=q[1], z=q[2], w=q[3]))


class LiveView:
    """One robot's live view on its own WebSocket server."""

    def __init__(
        self,
        robot_id: str,
        model: RobotModel,
        *,
        host: str = "127.0.0.1",
        port: int = 8765,
        backlog: int = 256,
        geofences: Sequence[Mapping] = (),
        urdf_xml: str = "",
    ) -> None:
        self.robot_id = robot_id
        self.model = model
        self.prefix = f"{robot_id}/"
        self.geofences = list(geofences)
        self._level = 0
        self.context = foxglove.Context()
        ns = f"/{robot_id}"
        self.tf = FrameTransformsChannel(f"{ns}/tf", context=self.context)
        self.robot = SceneUpdateChannel(f"{ns}/robot_model", context=self.context)
        self.scene = SceneUpdateChannel(f"{ns}/scene", context=self.context)
        self.safety = foxglove.Channel(f"{ns}/safety/status", schema=view_schemas.SAFETY_STATUS, context=self.context)
        self.health = foxglove.Channel(f"{ns}/actuator_health", schema=view_schemas.ACTUATOR_HEALTH,
                                       context=self.context)
        self.battery = foxglove.Channel(f"{ns}/battery", schema=view_schemas.BATTERY, context=self.context)
        self.swarm = foxglove.Channel(f"{ns}/swarm/state", schema=view_schemas.SWARM_STATE, context=self.context)
        urdf_xml = urdf_xml or getattr(model, "xml", "")
        self._description = cdr_string(prefixed_urdf(urdf_xml, self.prefix)) if urdf_xml else b""
        self.description = foxglove.Channel(
            f"{ns}/robot_description", message_encoding="cdr", context=self.context,
            schema=foxglove.Schema(name="std_msgs/msg/String", encoding="ros2msg", data=b"string data"),
        ) if urdf_xml else None
        self.server = foxglove.start_server(
            name=f"sigma_bridge {robot_id}", host=host, port=port, context=self.context, message_backlog_size=backlog
        )

    @property
    def port(self) -> int:
        return self.server.port

    def wants(self, kind: str) -> bool:
        """Whether a client is subscribed to a view channel fed by ``kind`` (``joint_states``, ``odom``, ``humans``,
        ``actuator_health``, ``battery``): with no one watching, the bridge skips decoding the message for the view."""
        channels = {"joint_states": (self.tf, self.robot), "odom": (self.tf,), "humans": (self.scene,),
                    "actuator_health": (self.health,), "battery": (self.battery,)}.get(kind, ())
        return any(c.has_sinks() for c in channels)

    def joints(self, positions: Mapping[str, float], t_ns: int) -> None:
        """Log the URDF transforms for these joint positions."""
        self._log_tf(self.model.transforms(positions, self.prefix), t_ns)

    def base_pose(self, xyz: Sequence[float], q_xyzw: Sequence[float], t_ns: int, frame: str = "odom") -> None:
        """Log odom -> base_link (the robot's root link)."""
        self._log_tf([Transform(frame, self.prefix + self.model.root_link, tuple(xyz), tuple(q_xyzw))], t_ns)

    def _log_tf(self, tfs: Sequence[Transform], t_ns: int) -> None:
        stamp = _ts(t_ns)
        self.tf.log(
            FrameTransforms(
                transforms=[
                    FrameTransform(
                        timestamp=stamp, parent_frame_id=t.parent, child_frame_id=t.child,
                        translation=Vector3(x=t.translation[0], y=t.translation[1], z=t.translation[2]),
                        rotation=Quaternion(x=t.rotation[0], y=t.rotation[1], z=t.rotation[2], w=t.rotation[3]),
                    )
                    for t in tfs
                ]
            ),
            log_time=t_ns,
        )

    def robot_model(self, t_ns: int) -> None:
        """Log the robot's link shapes, each in its link frame, coloured by the safety level."""
        r, g, b = LEVEL_COLORS.get(self._level, LEVEL_COLORS[3])
        color = Color(r=r, g=g, b=b, a=0.9)
        entities = []
        for i, v in enumerate(self.model.visuals):
            pose = _pose(v.xyz, v.quat_xyzw)
            kw: dict = {}
            if v.kind == "box":
                size = Vector3(x=v.size[0], y=v.size[1], z=v.size[2])
                kw["cubes"] = [CubePrimitive(pose=pose, size=size, color=color)]
            elif v.kind == "cylinder":
                d = 2 * v.size[0]
                kw["cylinders"] = [CylinderPrimitive(pose=pose, size=Vector3(x=d, y=d, z=v.size[1]), bottom_scale=1.0,
                                                     top_scale=1.0, color=color)]
            else:
                d = 2 * v.size[0]
                kw["spheres"] = [SpherePrimitive(pose=pose, size=Vector3(x=d, y=d, z=d), color=color)]
            entities.append(SceneEntity(timestamp=_ts(t_ns), frame_id=self.prefix + v.link, id=f"{v.link}:{i}",
                                        frame_locked=True, **kw))
        self.robot.log(SceneUpdate(entities=entities), log_time=t_ns)
        if self.description is not None:  # no latching in the protocol: repeated with the primitives (1 Hz)
            self.description.log(self._description, log_time=t_ns)

    def humans(self, frame: str, people: Sequence[tuple[str, float, float, float]], t_ns: int) -> None:
        """Log detected humans as spheres: ``(id, x, y, z)`` in ``frame``; plus the geofences in ``odom``."""
        spheres = [SpherePrimitive(pose=_pose((x, y, z), (0, 0, 0, 1)), size=Vector3(x=0.5, y=0.5, z=1.7),
                                   color=Color(r=0.2, g=0.6, b=1.0, a=0.8)) for _, x, y, z in people]
        entities = [SceneEntity(timestamp=_ts(t_ns), frame_id=frame or self.prefix + self.model.root_link,
                                id="humans", spheres=spheres)]
        for fence in self.geofences:
            pts = [Point3(x=float(p[0]), y=float(p[1]), z=0.02) for p in fence["points"]]
            keep_in = str(fence["name"]).startswith("keep_in:")
            color = Color(r=0.2, g=0.8, b=0.3, a=1.0) if keep_in else Color(r=1.0, g=0.3, b=0.3, a=1.0)
            entities.append(SceneEntity(
                timestamp=_ts(t_ns), frame_id=fence.get("frame", "odom"), id=f"geofence:{fence['name']}",
                lines=[LinePrimitive(type=LinePrimitiveLineType.LineLoop, thickness=0.05, points=pts, color=color)],
            ))
        self.scene.log(SceneUpdate(entities=entities), log_time=t_ns)

    def safety_status(self, status: Mapping, t_ns: int) -> None:
        """Log the safety status (level, authority, faults) as JSON."""
        self._level = int(status.get("level", 0))
        self.safety.log(dict(status), log_time=t_ns)

    def actuator_health(self, names: Sequence[str], temps: Sequence[float], currents: Sequence[float],
                        t_ns: int) -> None:
        """Log winding temperatures and currents keyed by joint, for plots (``.temperature.left_knee``)."""
        self.health.log({"temperature": dict(zip(names, temps, strict=False)),
                         "current": dict(zip(names, currents, strict=False))}, log_time=t_ns)

    def battery_state(self, values: Mapping, t_ns: int) -> None:
        """Log the battery payload for plots."""
        self.battery.log(dict(values), log_time=t_ns)

    def swarm_state(self, values: Mapping, t_ns: int) -> None:
        """Log the swarm mesh state (role, term, leader, members) as JSON."""
        self.swarm.log(dict(values), log_time=t_ns)

    def close(self) -> None:
        self.server.stop()

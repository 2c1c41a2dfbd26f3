"""Compose one MuJoCo model from a world MJCF and one copy of the robot URDF per robot id.

Each robot's bodies, joints and actuators are prefixed ``<robot_id>/``. The base is either ``planar`` (slide x,
slide y and a yaw hinge driven by velocity servos, height fixed so the feet clear the floor: a stand-in for walking)
or ``free`` (a free joint: the robot stands on its feet and can fall). Every URDF joint gets a PD position servo
(kp, kd from the actuator table, force limited to the URDF effort) and a disabled joint-lock equality used by the
brake and the stuck-joint fault. The IMU is a site on ``imu_link`` with gyro, accelerometer and orientation sensors.
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np

from sigma_sim.robot_model import ActuatorTable, ModelError, RobotDescription
from sigma_sim.world import World

BASE_MODES = ("planar", "free")
PLANAR_KV = (4000.0, 4000.0, 800.0)  # base velocity servo gains: N*s/m, N*s/m, N*m*s/rad
PLANAR_FORCE = (2500.0, 2500.0, 600.0)
FOOT_CLEARANCE = 0.01  # m, planar base: feet just above the floor
HUMAN_RADIUS = 0.22  # m, a person as a 1.64 m capsule


def human_park(k: int) -> tuple[float, float, float]:
    """Where unused person body ``k`` waits, far outside any world."""
    return (500.0 + 3.0 * k, 500.0, 0.0)


@dataclass
class RobotIndex:
    """Where one robot lives in the compiled model's arrays."""

    robot_id: str
    qpos: np.ndarray  # qpos address of each URDF joint
    dof: np.ndarray  # dof address of each URDF joint
    actuators: np.ndarray  # actuator id of each URDF joint's servo
    locks: np.ndarray  # equality id of each joint's lock
    base_body: int
    base_qpos: int  # first qpos of the base joints (x, y, yaw) or (x, y, z, qw, qx, qy, qz)
    base_dof: int
    base_actuators: np.ndarray  # planar: x, y, yaw velocity servos; free: empty
    gyro: int  # sensordata addresses
    accel: int
    quat: int
    spawn: tuple[float, float, float]


def _compile_error(what: str, exc: Exception) -> ModelError:
    return ModelError(f"{what}: MuJoCo refused it: {exc}")


def build_model(
    world: World,
    robot: RobotDescription,
    actuators: ActuatorTable,
    robot_ids: list[str],
    base_mode: str = "planar",
    physics_rate: float = 500.0,
    n_humans: int = 0,
) -> tuple[mujoco.MjModel, list[RobotIndex]]:
    """Compile the world with all robots and ``n_humans`` person bodies; return the model and per-robot indices."""
    if base_mode not in BASE_MODES:
        raise ModelError(f"base_mode {base_mode!r} is not one of {BASE_MODES}")
    if len(robot_ids) > len(world.spawns):
        raise ModelError(f"{world.path}: spawns: {len(world.spawns)} spawn poses for {len(robot_ids)} robots")
    try:
        spec = mujoco.MjSpec.from_file(str(world.mjcf))
    except Exception as exc:
        raise _compile_error(str(world.mjcf), exc) from exc
    spec.option.timestep = 1.0 / physics_rate
    spec.option.integrator = mujoco.mjtIntegrator.mjINT_IMPLICITFAST
    for i, rid in enumerate(robot_ids):
        try:
            child = mujoco.MjSpec.from_string(robot.xml)
        except Exception as exc:
            raise _compile_error(str(robot.path), exc) from exc
        # Collision bits: robot i's geoms have contype bit (1 + i % 30) and collide with the world (bit 0) and with
        # every other robot's bit, never with their own: no self-collision (as in most humanoid sims), but robots
        # bump into each other and into shelves.
        own = 1 << (1 + i % 30)
        for g in child.geoms:
            g.contype, g.conaffinity = own, (0x7FFFFFFF & ~own) | 1
        frame = spec.worldbody.add_frame(pos=[0.0, 0.0, 0.0])
        base = frame.attach_body(child.body(robot.root_link), f"{rid}/", "")
        if base_mode == "free":
            base.add_freejoint(name=f"{rid}/base_free")
        else:
            for axis, jname in (((1, 0, 0), "base_x"), ((0, 1, 0), "base_y")):
                base.add_joint(name=f"{rid}/{jname}", type=mujoco.mjtJoint.mjJNT_SLIDE, axis=list(axis))
            base.add_joint(name=f"{rid}/base_yaw", type=mujoco.mjtJoint.mjJNT_HINGE, axis=[0, 0, 1])
            for jname, kv, f in zip(("base_x", "base_y", "base_yaw"), PLANAR_KV, PLANAR_FORCE, strict=True):
                _servo(spec, f"{rid}/{jname}", f"{rid}/{jname}_drive", 0.0, kv, f)
        for k, j in enumerate(robot.joints):
            name = f"{rid}/{j.name}"
            spec.joint(name).armature = float(actuators["rotor_inertia"][k] * j.gear**2)
            _servo(spec, name, name, float(actuators["kp"][k]), float(actuators["kd"][k]), j.effort)
            spec.add_equality(
                name=f"{name}_lock", type=mujoco.mjtEq.mjEQ_JOINT, name1=name, active=False,
                objtype=mujoco.mjtObj.mjOBJ_JOINT, solref=[0.004, 1.0],  # stiff: a locked gearbox
            )
        imu_body = spec.body(f"{rid}/imu_link")
        if imu_body is None:
            raise ModelError(f"{robot.path}: the robot needs a link named 'imu_link'")
        site = f"{rid}/imu"
        imu_body.add_site(name=site)
        for stype, sname in ((mujoco.mjtSensor.mjSENS_GYRO, "gyro"), (mujoco.mjtSensor.mjSENS_ACCELEROMETER, "accel"),
                             (mujoco.mjtSensor.mjSENS_FRAMEQUAT, "quat")):
            spec.add_sensor(name=f"{rid}/{sname}", type=stype, objtype=mujoco.mjtObj.mjOBJ_SITE, objname=site)
    for k in range(n_humans):  # people: kinematic (mocap) capsules the robots bump into; parked far away when unused
        body = spec.worldbody.add_body(name=f"human_{k}", mocap=True, pos=list(human_park(k)))
        body.add_geom(name=f"human_{k}", type=mujoco.mjtGeom.mjGEOM_CAPSULE, size=[HUMAN_RADIUS, 0.6, 0.0],
                      pos=[0.0, 0.0, 0.85], rgba=[0.9, 0.5, 0.2, 1.0], contype=1, conaffinity=1)
    try:
        model = spec.compile()
    except Exception as exc:
        raise _compile_error(f"{world.mjcf} + {robot.path}", exc) from exc
    return model, [_index(model, rid, robot, base_mode, world.spawns[i]) for i, rid in enumerate(robot_ids)]


def _servo(spec: mujoco.MjSpec, joint: str, name: str, kp: float, kv: float, force: float) -> None:
    act = spec.add_actuator(name=name, target=joint, trntype=mujoco.mjtTrn.mjTRN_JOINT)
    act.gaintype = mujoco.mjtGain.mjGAIN_FIXED
    act.biastype = mujoco.mjtBias.mjBIAS_AFFINE
    gain = np.zeros(10)
    bias = np.zeros(10)
    if kp > 0:  # position servo: force = kp (ctrl - q) - kv qdot
        gain[0], bias[1], bias[2] = kp, -kp, -kv
    else:  # velocity servo: force = kv (ctrl - qdot)
        gain[0], bias[2] = kv, -kv
    act.gainprm = gain
    act.biasprm = bias
    act.forcelimited = mujoco.mjtLimited.mjLIMITED_TRUE
    act.forcerange = [-force, force]


def _index(model: mujoco.MjModel, rid: str, robot: RobotDescription, base_mode: str, spawn) -> RobotIndex:
    def jid(name: str) -> int:
        return mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, name)

    names = [f"{rid}/{j.name}" for j in robot.joints]
    joint_ids = [jid(n) for n in names]
    base_joint = jid(f"{rid}/base_free" if base_mode == "free" else f"{rid}/base_x")
    base_acts = (
        np.array([mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_ACTUATOR, f"{rid}/{n}_drive")
                  for n in ("base_x", "base_y", "base_yaw")])
        if base_mode == "planar" else np.zeros(0, dtype=int)
    )

    def sensor(name: str) -> int:
        return int(model.sensor_adr[mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SENSOR, f"{rid}/{name}")])

    return RobotIndex(
        robot_id=rid,
        qpos=np.array([model.jnt_qposadr[j] for j in joint_ids]),
        dof=np.array([model.jnt_dofadr[j] for j in joint_ids]),
        actuators=np.array([mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_ACTUATOR, n) for n in names]),
        locks=np.array([mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_EQUALITY, f"{n}_lock") for n in names]),
        base_body=mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, f"{rid}/{robot.root_link}"),
        base_qpos=int(model.jnt_qposadr[base_joint]),
        base_dof=int(model.jnt_dofadr[base_joint]),
        base_actuators=base_acts,
        gyro=sensor("gyro"),
        accel=sensor("accel"),
        quat=sensor("quat"),
        spawn=tuple(spawn),
    )


def lowest_point(model: mujoco.MjModel, data: mujoco.MjData, body_ids: set[int]) -> float:
    """Lowest world z of the collision geoms of the given bodies (from their oriented bounding boxes)."""
    low = np.inf
    for g in range(model.ngeom):
        if model.geom_bodyid[g] not in body_ids:
            continue
        half = model.geom_aabb[g, 3:]
        rot = data.geom_xmat[g].reshape(3, 3)
        low = min(low, data.geom_xpos[g, 2] - float(np.abs(rot[2]) @ half))
    return float(low)

"""Proto messages <-> drivesim domain objects, at the service boundary only.

    python -c "from drivesim.serve import convert; help(convert)"

Nothing here talks to the network; the servicer and the client both use these helpers,
so a frame encoded by the server decodes to the same pixels and labels in the client.
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Mapping

import numpy as np
from pydantic import ValidationError

from drivesim.errors import DrivesimError
from drivesim.road import WorldPose
from drivesim.scenario.format import Scenario
from drivesim.scenario.labels import Box, FrameConditions
from drivesim.serve.proto import drivesim_pb2 as pb
from drivesim.scenario.world_state import Step, StepAgent, as_pose

ENCODINGS: dict[str, int] = {"raw": pb.ENCODING_RAW_RGB, "png": pb.ENCODING_PNG, "jpeg": pb.ENCODING_JPEG}
DEFAULT_ENCODING = pb.ENCODING_PNG
JPEG_QUALITY = 90
PNG_COMPRESSION = 1  # fast: frames are streamed, bandwidth is cheaper than latency here
MAX_DETAILS_CHARS = 3500  # status details travel in a trailer; keep them well under its size limit


# --- images --------------------------------------------------------------------------------

def encoding_value(encoding: str | int) -> int:
    """"png" / pb.ENCODING_PNG / ... -> the enum value; raises DrivesimError for anything else."""
    if isinstance(encoding, str):
        if encoding.lower() not in ENCODINGS:
            raise DrivesimError(f"unknown encoding '{encoding}'; use one of {', '.join(ENCODINGS)}")
        return ENCODINGS[encoding.lower()]
    if encoding == pb.ENCODING_UNSPECIFIED:
        return DEFAULT_ENCODING
    if encoding not in ENCODINGS.values():
        raise DrivesimError(f"unknown encoding value {encoding}; use RAW_RGB (1), PNG (2) or JPEG (3)")
    return int(encoding)


def encode_image(rgb: np.ndarray, encoding: int) -> bytes:
    import cv2

    if encoding == pb.ENCODING_RAW_RGB:
        return np.ascontiguousarray(rgb, dtype=np.uint8).tobytes()
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    if encoding == pb.ENCODING_PNG:
        ok, buf = cv2.imencode(".png", bgr, [cv2.IMWRITE_PNG_COMPRESSION, PNG_COMPRESSION])
    else:
        ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise RuntimeError(f"OpenCV could not encode a {rgb.shape} frame as {pb.Encoding.Name(encoding)}")
    return buf.tobytes()


def decode_image(frame: pb.Frame) -> np.ndarray:
    """The frame's pixels as an (height, width, 3) RGB uint8 array."""
    import cv2

    h, w = frame.height, frame.width
    if frame.encoding == pb.ENCODING_RAW_RGB:
        if len(frame.data) != h * w * 3:
            raise DrivesimError(f"frame {frame.index}: {len(frame.data)} bytes of RAW_RGB for {w}x{h}")
        return np.frombuffer(frame.data, np.uint8).reshape(h, w, 3).copy()
    bgr = cv2.imdecode(np.frombuffer(frame.data, np.uint8), cv2.IMREAD_COLOR)
    if bgr is None or bgr.shape[:2] != (h, w):
        raise DrivesimError(f"frame {frame.index}: cannot decode {pb.Encoding.Name(frame.encoding)} data as {w}x{h}")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


# --- labels --------------------------------------------------------------------------------

def box_to_proto(box: Box) -> pb.Box:
    x1, y1, x2, y2 = box.bbox_xyxy
    length, width, height = box.size_m
    return pb.Box(track_id=box.track_id, type=box.type, x1=x1, y1=y1, x2=x2, y2=y2,
                  truncation=box.truncation, occlusion=box.occlusion,
                  location_m=pb.Vector3(x=box.location_m[0], y=box.location_m[1], z=box.location_m[2]),
                  size_m=pb.Dimensions(length=length, width=width, height=height),
                  rotation_y=box.rotation_y, distance_m=box.distance_m)


def box_from_proto(msg: pb.Box) -> Box:
    return Box(track_id=msg.track_id, type=msg.type, bbox_xyxy=(msg.x1, msg.y1, msg.x2, msg.y2),
               truncation=msg.truncation, occlusion=msg.occlusion,
               location_m=(msg.location_m.x, msg.location_m.y, msg.location_m.z),
               size_m=(msg.size_m.length, msg.size_m.width, msg.size_m.height),
               rotation_y=msg.rotation_y, distance_m=msg.distance_m)


def frame_to_proto(rgb: np.ndarray, fc: FrameConditions, encoding: int) -> pb.Frame:
    h, w = rgb.shape[:2]
    return pb.Frame(index=fc.index, timestamp_s=fc.timestamp_s, width=w, height=h, encoding=encoding,
                    data=encode_image(rgb, encoding), boxes=[box_to_proto(b) for b in fc.boxes],
                    environment=pb.Environment(time_of_day=fc.time_of_day, crowdedness=fc.crowdedness))


def conditions_from_proto(frame: pb.Frame) -> FrameConditions:
    """The frame's labels (no road state: it is a model input, not a label)."""
    return FrameConditions(index=frame.index, timestamp_s=frame.timestamp_s,
                           time_of_day=frame.environment.time_of_day, crowdedness=frame.environment.crowdedness,
                           boxes=tuple(box_from_proto(b) for b in frame.boxes),
                           width=frame.width, height=frame.height)


# --- scenarios -----------------------------------------------------------------------------

def issue_to_proto(issue: Any) -> pb.Issue:
    """A `drivesim.scenario.loader.ScenarioIssue` as a proto Issue (0 = unknown line/column)."""
    return pb.Issue(file=issue.file, line=issue.line or 0, column=issue.column or 0,
                    key_path=issue.key_path, message=issue.message, hint=issue.hint or "")


def issue_from_proto(msg: pb.Issue) -> Any:
    from drivesim.scenario.loader import ScenarioIssue

    return ScenarioIssue(file=msg.file, line=msg.line or None, column=msg.column or None,
                         key_path=msg.key_path, message=msg.message, hint=msg.hint)


def format_issues(issues: Iterable[Any], limit_chars: int = MAX_DETAILS_CHARS) -> str:
    """One issue per line ("file:line:col: key: message -- hint"), cut to fit a status trailer."""
    issues = list(issues)
    text, used = [], 0
    for k, issue in enumerate(issues):
        line = str(issue)  # one at a time: only the lines that fit are ever built
        if used + len(line) > limit_chars:
            text.append(f"... and {len(issues) - k} more issue(s); call ValidateScenario for all of them")
            break
        text.append(line)
        used += len(line) + 1
    return "\n".join(text)


MAX_SEED = 2**31 - 1  # a scenario's `seed:` range (docs/scenario-format.md)


def check_seed(seed: Any, where: str) -> int:
    """The seed as an int, or a DrivesimError: whole numbers 0 .. 2^31-1, as in a scenario file."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise DrivesimError(f"{where} must be a whole number in 0..{MAX_SEED}, got {seed!r}")
    return seed


def apply_overrides(scenario: Scenario, overrides: pb.ScenarioOverrides) -> Scenario:
    """The scenario with the request's overrides applied and validated again."""
    changes: dict[str, Any] = {}
    for key in ("duration_s", "fps"):
        if overrides.HasField(key):
            changes[key] = getattr(overrides, key)
    env: dict[str, Any] = {}
    for key in ("time_of_day", "crowdedness"):
        if overrides.HasField(key):
            env[key] = getattr(overrides, key)
    for key, value in (*changes.items(), *env.items()):
        # NaN passes no comparison, so pydantic would report it against a bound ("<= 3600").
        if isinstance(value, float) and not math.isfinite(value):
            raise DrivesimError(f"invalid override: overrides.{key}: expected a finite number, got {value}")
    if not changes and not env:
        return scenario
    data = scenario.model_dump()
    data.update(changes)
    data["environment"].update(env)
    try:
        return Scenario.model_validate(data)
    except ValidationError as err:
        problems = "; ".join(f"overrides.{e['loc'][-1]}: {e['msg']}" for e in err.errors())
        raise DrivesimError(f"invalid override: {problems}") from None


# --- sessions ------------------------------------------------------------------------------

def pose_from_proto(msg: pb.Pose) -> WorldPose:
    return WorldPose(msg.x, msg.y, msg.z, msg.heading, msg.pitch)


def pose_to_proto(value: Any) -> pb.Pose:
    """A WorldPose, {x, y, z, heading[, pitch]} or a 4- or 5-sequence as a proto Pose."""
    pose = as_pose(value)
    if not isinstance(pose, WorldPose):
        raise DrivesimError(f"a pose is {{x, y, z, heading[, pitch]}} or a WorldPose, got {value!r:.80}")
    return pb.Pose(**{k: float(v) for k, v in pose._asdict().items()})


def step_from_proto(msg: pb.SessionStep) -> Step:
    agents = []
    for a in msg.agents:
        size = (a.size_m.length, a.size_m.width, a.size_m.height) if a.HasField("size_m") else None
        if size == (0.0, 0.0, 0.0):
            size = None
        which = a.WhichOneof("lateral")
        if a.HasField("pose"):  # the world form: the road frame's fields must be left unset (checked later)
            agents.append(StepAgent(id=a.id, type=a.type, distance_m=a.distance_m or None, speed_mps=a.speed_mps,
                                    heading_rad=a.heading_rad, size_m=size, pose=pose_from_proto(a.pose),
                                    lateral_m=a.lateral_m if which == "lateral_m" else None,
                                    x_m=a.x_m if which == "x_m" else None))
            continue
        agents.append(StepAgent(id=a.id, type=a.type, distance_m=a.distance_m, speed_mps=a.speed_mps,
                                heading_rad=a.heading_rad, size_m=size,
                                lateral_m=a.lateral_m if which == "lateral_m" else None,
                                x_m=a.x_m if which == "x_m" else None))
    env = msg.environment
    return Step(agents=tuple(agents),
                time_of_day=env.time_of_day if env.HasField("time_of_day") else None,
                crowdedness=env.crowdedness if env.HasField("crowdedness") else None,
                ego_speed_mps=msg.ego.speed_mps if msg.ego.HasField("speed_mps") else None,
                ego_lateral_m=msg.ego.lateral_m if msg.ego.HasField("lateral_m") else None,
                timestamps_s=tuple(msg.timestamps_s), num_frames=msg.num_frames,
                ego_pose=pose_from_proto(msg.ego.pose) if msg.ego.HasField("pose") else None)


def agent_to_proto(agent: StepAgent | Mapping[str, Any]) -> pb.AgentState:
    """A StepAgent or a dict with the same keys (size_m may be a 3-sequence) as a proto AgentState."""
    d = dict(agent) if isinstance(agent, Mapping) else agent.__dict__
    unknown = set(d) - set(StepAgent.__dataclass_fields__)
    if unknown:
        raise DrivesimError(f"agent {d.get('id', '?')}: unknown key(s) {sorted(unknown)}; "
                            f"use {', '.join(StepAgent.__dataclass_fields__)}")
    msg = pb.AgentState(id=str(d.get("id", "")), type=str(d.get("type", "")),
                        distance_m=float(d.get("distance_m") or 0.0), speed_mps=float(d.get("speed_mps") or 0.0),
                        heading_rad=float(d.get("heading_rad") or 0.0))
    if d.get("pose") is not None:
        msg.pose.CopyFrom(pose_to_proto(d["pose"]))
    if d.get("lateral_m") is not None:
        msg.lateral_m = float(d["lateral_m"])
    if d.get("x_m") is not None:
        msg.x_m = float(d["x_m"])
    if d.get("size_m") is not None:
        length, width, height = (float(v) for v in d["size_m"])
        msg.size_m.CopyFrom(pb.Dimensions(length=length, width=width, height=height))
    return msg


def step_to_proto(agents: Iterable[StepAgent | Mapping[str, Any]], environment: Mapping[str, Any] | None = None,
                  ego: Mapping[str, Any] | None = None, timestamps_s: Iterable[float] = (),
                  num_frames: int = 1) -> pb.SessionStep:
    msg = pb.SessionStep(agents=[agent_to_proto(a) for a in agents], timestamps_s=list(timestamps_s),
                         num_frames=num_frames)
    unknown = set(environment or {}) - {"time_of_day", "crowdedness"}
    if unknown:
        raise DrivesimError(f"environment: unknown key(s) {sorted(unknown)}; use time_of_day, crowdedness")
    if environment and environment.get("time_of_day") is not None:
        msg.environment.time_of_day = str(environment["time_of_day"])
    if environment and environment.get("crowdedness") is not None:
        msg.environment.crowdedness = float(environment["crowdedness"])
    unknown = set(ego or {}) - {"speed_mps", "lateral_m", "pose"}
    if unknown:
        raise DrivesimError(f"ego: unknown key(s) {sorted(unknown)}; use speed_mps, lateral_m, pose")
    for key in ("speed_mps", "lateral_m"):
        if ego and ego.get(key) is not None:
            setattr(msg.ego, key, float(ego[key]))
    if ego and ego.get("pose") is not None:
        msg.ego.pose.CopyFrom(pose_to_proto(ego["pose"]))
    return msg


def info_to_proto(info: Mapping[str, Any], limits: Any, versions: Mapping[str, str]) -> pb.Info:
    return pb.Info(backend=str(info.get("backend", "")), bundle=str(info.get("bundle", "")),
                   bundle_hash=str(info.get("bundle_hash", "")),
                   native_width=int(info.get("native_width", 0)), native_height=int(info.get("native_height", 0)),
                   limits=pb.Limits(max_sessions=limits.max_sessions, max_streams=limits.max_streams,
                                    max_duration_s=limits.max_duration_s, max_pixels=limits.max_pixels,
                                    max_message_bytes=limits.max_message_bytes,
                                    max_frames_per_step=limits.max_frames_per_step,
                                    max_agents_per_step=limits.max_agents_per_step),
                   versions=dict(versions),
                   arithmetic={k: str(v) for k, v in (info.get("arithmetic") or {}).items() if v is not None})

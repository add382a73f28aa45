"""Trajectory files: a simulator's world state, one JSON object per frame (docs/trajectory-format.md).

    drivesim plan header.yaml --trajectory drive.jsonl -o out/labels.jsonl
    from drivesim.scenario.trajectory import read_trajectory
    trajectory = read_trajectory("drive.jsonl")     # every problem of the file at once, located
    for frame in trajectory: print(frame.line, frame.timestamp_s, len(frame.step.agents))

A line holds what a closed-loop session step holds (`drivesim.scenario.world_state.Step`): the ego,
every actor that exists at `timestamp_s`, optionally the environment, plus the road when it
changes. Each line becomes exactly such a step, and `ClosedLoop.plan` (the session's converter)
turns it into the frame's labelled conditions, so a trajectory replayed and the same world sent
to a server session give the same labels.

The file is read twice, line by line (first to report every problem, then to replay it); only
the frames' timestamps are kept in memory, never the frames. A line holds at most `max_agents_per_line`
actors (default MAX_AGENTS_PER_STEP, a server session step's limit too; `--max-agents-per-line` on the
command line): planning a frame costs about n log n in its actors, and the check runs while the line is
parsed, before anything is built of its actors.
"""

from __future__ import annotations

import difflib
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Union

from drivesim.errors import DrivesimError, ScenarioError
from drivesim.road import WorldPose
from drivesim.scenario.format import AGENT_TYPES, Road, Scenario
from drivesim.scenario.issues import ScenarioIssue, cap_issues
from drivesim.scenario.labels import FrameConditions
from drivesim.scenario.step_limits import MAX_AGENTS_PER_STEP
from drivesim.scenario.user_files import open_user_file
from drivesim.scenario.world_state import (MAX_AGENT_ID_CHARS, MAX_MAGNITUDE, POSE_KEYS, TIMES_OF_DAY, ClosedLoop, Step,
                                           StepAgent, StepError, frame_time_problem)

__all__ = ["WorldState", "Trajectory", "read_trajectory", "parse_trajectory_lines", "check_header",
           "check_frame_rate", "plan_state", "trajectory_conditions"]

MAX_LINE_CHARS = 16 * 1024 * 1024  # one frame of thousands of actors fits; a runaway file is refused
MAX_UNKNOWN_KEYS = 10  # more unknown keys in one object are reported as one issue
MAX_INT_DIGITS = 40  # a whole number this long is far beyond MAX_MAGNITUDE (and Python parses at most 4300 digits)
FRAME_RATE_TOLERANCE = 0.05  # the frames' mean spacing may differ this much from 1 / header fps

# The keys of a line. An actor's keys are a session step agent's (StepAgent), nothing else.
FRAME_KEYS = ("timestamp_s", "ego", "actors", "environment")
EGO_KEYS = ("speed_mps", "lateral_m", "pose", "lanes", "lane_width_m")
ENVIRONMENT_KEYS = ("time_of_day", "crowdedness")
ACTOR_KEYS = tuple(StepAgent.__dataclass_fields__)
_LANES_RANGE = (1, 8)  # a scenario's road.lanes
_LANE_WIDTH_RANGE = (1.0, 10.0)  # > 1, <= 10: a scenario's road.lane_width_m


@dataclass(frozen=True)
class WorldState:
    """The world at one frame: a session step at one timestamp, plus the road where it changes
    (None keeps the previous frame's, the header's at first). `line` locates it in its file."""

    step: Step
    lanes: int | None = None
    lane_width_m: float | None = None
    line: int | None = None

    @property
    def timestamp_s(self) -> float:
        return self.step.timestamps_s[0]


# --- reading -------------------------------------------------------------------------------

class Trajectory:
    """A validated trajectory file: iterate it for its WorldStates (read again, line by line)."""

    def __init__(self, path: Union[str, "os.PathLike[str]"], frames: int, timestamps: list[float],
                 lines: list[int] | None = None, max_agents_per_line: int = MAX_AGENTS_PER_STEP):
        self.path = os.fspath(path)
        self.frames = frames
        self.max_agents_per_line = max_agents_per_line
        self.timestamps, self.lines = timestamps, lines or list(range(1, frames + 1))  # for the frame-time check
        self.first_s, self.last_s = timestamps[0], timestamps[-1]
        # the mean spacing: a log's jitter averages out (the frame-time check judges each frame)
        self.spacing_s = (self.last_s - self.first_s) / (frames - 1) if frames > 1 else None  # None: one frame

    def __len__(self) -> int:
        return self.frames

    def __iter__(self) -> Iterator[WorldState]:
        issues: list[ScenarioIssue] = []
        with _open(self.path) as lines:
            for state in _states(lines, self.path, issues, self.max_agents_per_line):
                if issues:
                    break
                yield state
        if issues:  # the file changed since it was checked
            raise ScenarioError(cap_issues(issues, self.path))


def read_trajectory(path: Union[str, "os.PathLike[str]"], max_agents_per_line: int = MAX_AGENTS_PER_STEP
                    ) -> Trajectory:
    """Check every line of a trajectory file; raises ScenarioError with every problem, located. A line with
    more than `max_agents_per_line` actors is one of them."""
    max_agents_per_line = check_max_agents(max_agents_per_line)
    issues: list[ScenarioIssue] = []
    timestamps: list[float] = []
    numbers: list[int] = []
    with _open(path) as lines:
        for state in _states(lines, os.fspath(path), issues, max_agents_per_line):
            timestamps.append(state.timestamp_s)
            numbers.append(state.line)
    if not issues and not timestamps:
        issues.append(ScenarioIssue(os.fspath(path), None, None, "", "the file holds no frames",
                                    "write one JSON object per frame, e.g. {\"timestamp_s\": 0, \"actors\": []}"))
    if issues:
        raise ScenarioError(cap_issues(issues, os.fspath(path)))
    return Trajectory(path, len(timestamps), timestamps, numbers, max_agents_per_line)


def parse_trajectory_lines(lines: Iterable[str], filename: str = "<trajectory>",
                           max_agents_per_line: int = MAX_AGENTS_PER_STEP) -> list[WorldState]:
    """Every WorldState of trajectory text given as lines; raises ScenarioError with every problem."""
    max_agents_per_line = check_max_agents(max_agents_per_line)
    issues: list[ScenarioIssue] = []
    states = list(_states(lines, filename, issues, max_agents_per_line))
    if issues:
        raise ScenarioError(cap_issues(issues, filename))
    return states


class _open:
    """The file's lines as text, or a ScenarioError saying why it cannot be read."""

    def __init__(self, path: Union[str, "os.PathLike[str]"]):
        self.name, self.path = os.fspath(path), Path(path)

    def __enter__(self) -> Iterator[str]:
        # utf-8-sig: tolerate a byte-order mark; newline="": lines end only at \n or \r\n.
        self.file = open_user_file(self.path, "a trajectory file", "pass a .jsonl file, one JSON object per frame",
                                   text=True)
        return self._lines()

    def _lines(self) -> Iterator[str]:
        try:
            while True:
                line = self.file.readline(MAX_LINE_CHARS + 1)
                if not line:
                    return
                yield line
        except UnicodeDecodeError as err:
            raise ScenarioError([ScenarioIssue(self.name, None, None, "", f"not UTF-8 text ({err.reason})",
                                               "save the file as UTF-8")]) from None

    def __exit__(self, *exc: Any) -> None:
        self.file.close()


def check_max_agents(value: Any) -> int:
    """`max_agents_per_line` as given, or a DrivesimError: a whole number >= 1."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise DrivesimError(f"max_agents_per_line must be a whole number >= 1, got {value!r}")
    return value


def _states(lines: Iterable[str], filename: str, issues: list[ScenarioIssue],
            max_agents: int = MAX_AGENTS_PER_STEP) -> Iterator[WorldState]:
    """WorldStates of the valid lines; every problem is appended to `issues` (located)."""
    previous: tuple[float, int] | None = None  # (timestamp_s, line) of the last valid timestamp
    for number, text in enumerate(lines, 1):
        if len(text) > MAX_LINE_CHARS:
            issues.append(ScenarioIssue(filename, number, None, "", f"line is longer than {MAX_LINE_CHARS} characters",
                                        "write one frame per line"))
            return  # the rest of an overlong line would be misread as further lines
        if not text.strip():
            continue  # a blank line (e.g. at the end) holds no frame
        found: list[tuple[str, str, str]] = []  # (key path, message, hint)
        t, state = _state(text, found, max_agents)
        if t is not None and previous is not None and t <= previous[0]:
            found.append(("timestamp_s", f"{_num(t)} s is not after the previous frame's {_num(previous[0])} s "
                          f"(line {previous[1]})", "timestamps must increase from line to line"))
        issues += [ScenarioIssue(filename, number, None, path, message, hint) for path, message, hint in found]
        if t is not None:
            previous = (t, number)
        if state is not None and not found:
            yield WorldState(state.step, state.lanes, state.lane_width_m, number)


def _state(text: str, found: list[tuple[str, str, str]], max_agents: int = MAX_AGENTS_PER_STEP
           ) -> tuple[float | None, WorldState | None]:
    """(the line's timestamp if valid, its WorldState if the whole line is valid)."""
    too_many = ("actors", f"more than {max_agents} actors in one line (the most a line may hold)",
                "raise the limit with --max-agents-per-line N (max_agents_per_line= in Python), or leave out "
                "actors far outside the camera's view")
    try:
        data = json.loads(text, object_pairs_hook=_ObjectCounter(max_agents), parse_int=_parse_int)
    except _DuplicateKey as err:
        found.append((err.key, "this key appears twice in one object", "keep one of them"))
        return None, None
    except _TooManyObjects:  # stopped while parsing: the actors' objects are never all built
        found.append(too_many)
        return None, None
    except json.JSONDecodeError as err:
        found.append(("", f"not valid JSON: {err.msg} (column {err.colno})",
                      "each line is one JSON object: {\"timestamp_s\": ..., \"actors\": [...]}"))
        return None, None
    except RecursionError:
        found.append(("", "JSON nested too deeply", "a frame nests three levels deep (actors[k].size_m)"))
        return None, None
    if not isinstance(data, dict):
        found.append(("", f"expected a JSON object (one frame per line), got {_kind(data)}", ""))
        return None, None
    check = _Checker(found)
    check.keys(data, "", FRAME_KEYS)
    t = check.number(data, "timestamp_s", "", required=True, low=0.0)
    ego = check.mapping(data, "ego", EGO_KEYS)
    speed = check.number(ego, "speed_mps", "ego.", low=0.0)
    lateral = check.number(ego, "lateral_m", "ego.")
    ego_pose = check.pose(ego, "ego.")
    if ego_pose is not None and lateral is not None:
        found.append(("ego", "give either pose (world) or lateral_m (road frame), not both", ""))
    lanes = check.whole(ego, "lanes", "ego.", *_LANES_RANGE)
    width = check.number(ego, "lane_width_m", "ego.", low=_LANE_WIDTH_RANGE[0], high=_LANE_WIDTH_RANGE[1],
                         low_open=True)
    env = check.mapping(data, "environment", ENVIRONMENT_KEYS)
    tod = env.get("time_of_day")
    if tod is not None and tod not in TIMES_OF_DAY:
        found.append(("environment.time_of_day", f"expected one of {', '.join(TIMES_OF_DAY)}, got {_show(tod)}", ""))
    crowd = check.number(env, "crowdedness", "environment.", low=0.0, high=1.0)
    listed = check.sequence(data, "actors")
    if len(listed) > max_agents:
        found.append((too_many[0], f"{len(listed)} actors in one line; at most {max_agents} per line", too_many[2]))
        return t, None
    actors = [check.actor(a, k) for k, a in enumerate(listed)]
    check.unique_ids(actors)
    if found:
        return t, None
    step = Step(agents=tuple(a for a in actors if a is not None), time_of_day=tod, crowdedness=crowd,
                ego_speed_mps=speed, ego_lateral_m=lateral, timestamps_s=(t,), ego_pose=ego_pose)
    return t, WorldState(step, lanes, width)


class _DuplicateKey(Exception):
    def __init__(self, key: str):
        self.key = key


class _TooManyObjects(Exception):
    pass


class _ObjectCounter:
    """json.loads' object hook for one line: refuses duplicate keys (json.loads would silently keep the
    last one) and stops the parse once the line holds more objects than `max_agents` actors need (an
    actor is one object, two with a pose; the frame, ego, its pose and the environment four more)."""

    def __init__(self, max_agents: int):
        self.left = 2 * max_agents + 4

    def __call__(self, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        self.left -= 1
        if self.left < 0:
            raise _TooManyObjects
        out: dict[str, Any] = {}
        for key, value in pairs:
            if key in out:
                raise _DuplicateKey(key)
            out[key] = value
        return out


class _LongNumber(float):
    """A whole number of more than MAX_INT_DIGITS digits, read as the float it is near (infinite beyond
    1e308) and shown by its length: no number check lets it through, and its message is short."""

    digits: int

    def __new__(cls, text: str) -> "_LongNumber":
        number = super().__new__(cls, float(text))
        number.digits = len(text.lstrip("-"))
        return number


def _parse_int(text: str) -> int | float:
    # Python refuses to parse whole numbers of over 4300 digits (ValueError, not a JSON error).
    return int(text) if len(text) <= MAX_INT_DIGITS else _LongNumber(text)


class _Checker:
    """Type and range checks of one line's values; each problem is appended as (path, message, hint)."""

    def __init__(self, found: list[tuple[str, str, str]]):
        self.found = found

    def fail(self, path: str, message: str, hint: str = "") -> None:
        self.found.append((path, message, hint))

    def keys(self, data: dict[str, Any], prefix: str, allowed: tuple[str, ...]) -> None:
        unknown = [key for key in data if key not in allowed]
        if len(unknown) > MAX_UNKNOWN_KEYS:  # a line of a million keys gets a dozen issues, not a million
            self.fail(prefix.rstrip("."), f"{len(unknown)} unknown keys "
                      f"({', '.join(_show(k) for k in unknown[:3])}, ...)", f"use {', '.join(allowed)}")
            return
        for key in unknown:
            near = difflib.get_close_matches(key, allowed, n=1)
            hint = f"did you mean '{near[0]}'?" if near else f"use {', '.join(allowed)}"
            if key == "agents" and "actors" in allowed:
                hint = "a trajectory line calls them 'actors'"
            self.fail(prefix + key, "unknown key", hint)

    def mapping(self, data: dict[str, Any], key: str, allowed: tuple[str, ...]) -> dict[str, Any]:
        value = data.get(key)
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.fail(key, f"expected an object, got {_kind(value)}", f"keys: {', '.join(allowed)}")
            return {}
        self.keys(value, key + ".", allowed)
        return value

    def sequence(self, data: dict[str, Any], key: str) -> list[Any]:
        value = data.get(key, [])
        if not isinstance(value, list):
            self.fail(key, f"expected a list, got {_kind(value)}", "list every actor of the frame: [{...}, ...]")
            return []
        return value

    def number(self, data: dict[str, Any], key: str, prefix: str, required: bool = False, low: float | None = None,
               high: float | None = None, low_open: bool = False) -> float | None:
        if data.get(key) is None:
            if required:
                self.fail(prefix + key, "missing", f"give {key} a number")
            return None
        return self.value(data[key], prefix + key, low, high, low_open)

    def value(self, value: Any, path: str, low: float | None = None, high: float | None = None,
              low_open: bool = False) -> float | None:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.fail(path, f"expected a number, got {_kind(value)}", "write numbers without quotes")
            return None
        if abs(value) > MAX_MAGNITUDE or not math.isfinite(value):  # abs first: a huge int is no float
            self.fail(path, f"expected a finite number of magnitude <= {MAX_MAGNITUDE:g}, got {_show(value)}", "")
            return None
        if (low is not None and (value < low or (low_open and value == low))) or (high is not None and value > high):
            self.fail(path, f"{_num(value)} is out of range", f"use {_range(low, high, low_open)}")
            return None
        return float(value)

    def whole(self, data: dict[str, Any], key: str, prefix: str, low: int, high: int) -> int | None:
        value = data.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(prefix + key, f"expected a whole number, got {_show(value)}", f"use {low}..{high}")
            return None
        if not low <= value <= high:
            self.fail(prefix + key, f"{value} is out of range", f"use {low}..{high}")
            return None
        return value

    def actor(self, data: Any, k: int) -> StepAgent | None:
        at = f"actors[{k}]"
        if not isinstance(data, dict):
            self.fail(at, f"expected an object, got {_kind(data)}", "an actor is {\"id\": ..., \"type\": ..., ...}")
            return None
        before = len(self.found)
        self.keys(data, at + ".", ACTOR_KEYS)
        actor_id, kind = data.get("id"), data.get("type")
        if not isinstance(actor_id, str) or not actor_id:
            self.fail(at + ".id", "missing" if actor_id is None else f"expected non-empty text, got {_show(actor_id)}",
                      "give every actor a stable id: it is its track id in every label")
        elif len(actor_id) > MAX_AGENT_ID_CHARS or not actor_id.isprintable():
            self.fail(at + ".id", f"must be printable text of at most {MAX_AGENT_ID_CHARS} characters", "")
        if kind is None:
            self.fail(at + ".type", "missing", f"use one of {', '.join(AGENT_TYPES)}")
        elif kind not in AGENT_TYPES:
            self.fail(at + ".type", f"unknown actor type {_show(kind)}", f"use one of {', '.join(AGENT_TYPES)}")
        prefix = at + "."
        pose = self.pose(data, prefix)
        lateral, x = self.number(data, "lateral_m", prefix), self.number(data, "x_m", prefix)
        road_frame = [k for k in ("lateral_m", "x_m", "distance_m", "heading_rad") if data.get(k) is not None]
        if "pose" in data and road_frame:
            self.fail(at, f"give either pose (world) or the road frame's {' / '.join(road_frame)}, not both",
                      "a pose holds the world heading; heading_rad is the road frame's")
        elif "pose" not in data and (data.get("lateral_m") is None) == (data.get("x_m") is None):
            self.fail(at, "set exactly one of lateral_m (metres right of the road's left edge) or x_m "
                          "(metres right of the camera), or give a world pose", "")
        distance = self.number(data, "distance_m", prefix, required="pose" not in data)
        speed = self.number(data, "speed_mps", prefix, low=0.0)
        heading = self.number(data, "heading_rad", prefix)
        size = data.get("size_m")
        if size is not None and not (isinstance(size, list) and len(size) == 3):
            self.fail(at + ".size_m", f"expected [length, width, height], got {_show(size)}", "three numbers > 0, metres")
            size = None
        elif size is not None:
            size = tuple(self.value(v, f"{at}.size_m[{i}]", low=0.0, low_open=True) for i, v in enumerate(size))
        if len(self.found) > before:
            return None
        return StepAgent(id=actor_id, type=kind, distance_m=distance, speed_mps=speed or 0.0,
                         heading_rad=heading or 0.0, size_m=size, lateral_m=lateral, x_m=x, pose=pose)

    def pose(self, data: dict[str, Any], prefix: str) -> WorldPose | None:
        """`pose`: {x, y, z, heading[, pitch]} in the header road's world frame (docs/trajectory-format.md)."""
        value = data.get("pose")
        if value is None:
            return None
        at = prefix + "pose"
        if not isinstance(value, dict):
            self.fail(at, f"expected an object, got {_kind(value)}", "{\"x\": ..., \"y\": ..., \"z\": ..., \"heading\": ...}")
            return None
        before = len(self.found)
        self.keys(value, at + ".", POSE_KEYS)
        numbers = [self.number(value, key, at + ".", required=key != "pitch") for key in POSE_KEYS]
        pitch = numbers[4] or 0.0
        if abs(pitch) >= math.pi / 2:
            self.fail(at + ".pitch", f"{_num(pitch)} is out of range", "use a pitch within (-pi/2, pi/2) radians")
        if len(self.found) > before:
            return None
        return WorldPose(*numbers[:4], pitch)

    def unique_ids(self, actors: list[StepAgent | None]) -> None:
        first: dict[str, int] = {}
        for k, a in enumerate(actors):
            if a is None:
                continue
            if a.id in first:
                self.fail(f"actors[{k}].id", f"'{a.id}' is also the id of actors[{first[a.id]}]",
                          "ids are track ids: one actor, one id")
            first.setdefault(a.id, k)


# --- header and conversion -----------------------------------------------------------------

def check_header(header: Scenario, filename: str) -> None:
    """A header for world states gives the camera, fps, road and start environment; the world
    itself comes from the states, so agents or timed events in it would be ignored: refused."""
    issues = []
    if header.agents:
        issues.append(ScenarioIssue(filename, None, None, "agents", f"{len(header.agents)} agent(s) in a header",
                                    "the trajectory (or simulator) owns every actor: remove the header's agents"))
    if getattr(header.ego, "actions", None):
        issues.append(ScenarioIssue(filename, None, None, "ego.actions", "ego actions in a header",
                                    "the trajectory (or simulator) moves the ego: remove them"))
    if header.environment.events:
        issues.append(ScenarioIssue(filename, None, None, "environment.events", "events in a header",
                                    "change the environment from frame to frame in the trajectory instead"))
    if issues:
        raise ScenarioError(issues)


def check_frame_rate(header: Scenario, trajectory: Trajectory, header_file: str) -> None:
    """Frames are shown 1 / fps apart: a trajectory sampled at another rate would play too fast or slow (one
    issue, with the rate it has), and a frame off its place on the video's timeline (a gap, jitter beyond
    `world_state.FRAME_TIME_TOLERANCE`) would play at the wrong time (one issue per such line)."""
    if trajectory.spacing_s is None:
        return
    issues = []
    first, previous = trajectory.timestamps[0], None
    for k, (t, line) in enumerate(zip(trajectory.timestamps, trajectory.lines)):
        problem = frame_time_problem(t, k, first, header.fps, previous)
        if problem is not None:
            issues.append(ScenarioIssue(trajectory.path, line, None, "timestamp_s", *problem))
            first = t - k / header.fps  # judge the frames after it from here on: each gap is reported once
        previous = t
    if not issues:
        return
    rate = 1.0 / trajectory.spacing_s
    if abs(rate - header.fps) > FRAME_RATE_TOLERANCE * header.fps and len(issues) > (trajectory.frames - 1) / 2:
        # most frames off: the whole log has another rate, said once
        issues = [ScenarioIssue(
            trajectory.path, None, None, "timestamp_s",
            f"frames are {_num(trajectory.spacing_s)} s apart ({_num(rate)} fps) but {header_file} says fps: "
            f"{_num(header.fps)}", f"set fps: {_num(round(rate, 3))} in the header, or resample the trajectory")]
    raise ScenarioError(cap_issues(issues, trajectory.path))


def plan_state(loop: ClosedLoop, state: WorldState, filename: str = "<world state>") -> FrameConditions:
    """One world state -> its frame's labelled conditions, with the session's converter (ClosedLoop).
    A road change replaces the loop's road from this frame on."""
    road = loop.header.road
    lanes = road.lanes if state.lanes is None else state.lanes
    width = road.lane_width_m if state.lane_width_m is None else state.lane_width_m
    if (lanes, width) != (road.lanes, road.lane_width_m):
        loop.header = loop.header.model_copy(update={"road": Road(lanes=lanes, lane_width_m=width)})
    try:
        (conditions,) = loop.plan(state.step)
    except StepError as err:  # the session's own checks: a problem the reader let through
        raise ScenarioError([ScenarioIssue(filename, state.line, None, "", str(err))]) from None
    return conditions


def trajectory_conditions(header: Scenario, states: Iterable[WorldState],
                          filename: str = "<trajectory>") -> Iterator[FrameConditions]:
    """Each state's frame conditions, frames numbered 0, 1, ... (the labels of a replay)."""
    loop = ClosedLoop(header)
    for state in states:
        yield plan_state(loop, state, filename)


# --- messages ------------------------------------------------------------------------------

def _kind(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "text", bool: "true/false", type(None): "null"}
    return names.get(type(value), "a number")


def _show(value: Any) -> str:
    if isinstance(value, _LongNumber):
        return f"a number of {value.digits} digits"
    text = json.dumps(value) if not isinstance(value, float) or math.isfinite(value) else str(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _num(x: float) -> str:
    return f"{x:.6g}"


def _range(low: float | None, high: float | None, low_open: bool) -> str:
    lo = "" if low is None else f"{'>' if low_open else '>='} {_num(low)}"
    hi = "" if high is None else f"<= {_num(high)}"
    return " and ".join(p for p in (lo, hi) if p)


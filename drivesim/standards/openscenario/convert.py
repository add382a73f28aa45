"""A finished OpenSCENARIO run -> the equivalent drivesim scenario (YAML text and `Scenario`).

Coordinates (docs/openscenario.md has the picture): drivesim's road is `RoadFrame`'s run of lanes,
lane k = `frame.lane_ids[k]`; an agent's `distance_m` is its bounding-box centre ahead of the camera
at t = 0, the camera sitting `EGO_CAMERA_BEHIND_FRONT_M` behind the front of the ego's bounding box;
`lateral_m` / lanes are the bounding-box centre across the road. Entity names are the track ids.
"""

from __future__ import annotations

from typing import Any, Callable

import yaml

from drivesim.errors import ScenarioError
from drivesim.scenario.engine import EGO_CAMERA_BEHIND_FRONT_M
from drivesim.scenario.format import Scenario
from drivesim.scenario.issues import ScenarioIssue
from drivesim.scenario.loader import parse_scenario
from drivesim.scenario.road import RoadFrame
from drivesim.standards.openscenario.model import ScenarioDef
from drivesim.standards.openscenario.motion import Change, Motion
from drivesim.standards.openscenario.runner import RunResult
from drivesim.standards.openscenario.xmltree import Element


def scenario_yaml(definition: ScenarioDef, result: RunResult) -> tuple[str, Scenario]:
    """The drivesim YAML of a run on one straight road, and the `Scenario` it parses to (problems located in
    the .xosc). Runs on a road network are written by `convert_network.py`."""
    data, origins = _data(definition, result)
    text = _header(definition, result) + yaml.safe_dump(data, sort_keys=False, default_flow_style=None, width=110)
    return text, parse_converted(text, f"{definition.file.name} (converted)", origins, definition)


def parse_converted(text: str, filename: str, origins: dict[str, Element], definition: ScenarioDef) -> Scenario:
    """The converted YAML parsed; its problems pointed at the .xosc elements they came from."""
    try:
        return parse_scenario(text, filename)
    except ScenarioError as err:
        raise ScenarioError([_relocate(issue, origins, definition) for issue in err.issues]) from None


def _data(definition: ScenarioDef, result: RunResult) -> tuple[dict[str, Any], dict[str, Element]]:
    frame, motions = result.frame, result.motions
    ego = motions[result.ego]
    camera_u = ego.u0 + ego.entity.size[0] / 2 - EGO_CAMERA_BEHIND_FRONT_M
    origins: dict[str, Element] = {"duration_s": definition.stop_trigger.node if definition.stop_trigger
                                   and definition.stop_trigger.node is not None else definition.logic_node}
    env: dict[str, Any] = {"time_of_day": result.time_of_day}
    if result.environment_events:
        env["events"] = [{"at_s": t, "time_of_day": tod} for t, tod, _ in result.environment_events]
        for i, (_, _, node) in enumerate(result.environment_events):
            origins[f"environment.events[{i}]"] = node
    ego_data: dict[str, Any] = {**_placement(ego.initial["lateral"], frame, "ego"),
                                "speed_mps": ego.initial["speed"]}
    origins["ego"] = ego.entity.node
    actions = actions_of(ego, "ego", origins)
    if actions:
        ego_data["actions"] = actions
    agents = []
    for name, m in motions.items():
        if name == result.ego:
            continue
        at = f"agents[{len(agents)}]"
        origins[at] = m.entity.node
        agent = {"id": name, "type": m.entity.type,
                 **_placement(m.initial["lateral"], frame, "agent"),
                 "distance_m": m.u0 - camera_u, "speed_mps": m.initial["speed"],
                 "size_m": [float(v) for v in m.entity.size]}
        actions = actions_of(m, at, origins)
        if actions:
            agent["actions"] = actions
        agents.append(agent)
    data = {"version": 1, "name": definition.name, "duration_s": result.duration_s, "fps": result.fps,
            "environment": env, "road": {"lanes": len(frame.lane_ids), "lane_width_m": frame.width_m},
            "ego": ego_data, "agents": agents}
    return data, origins


def _placement(lateral: float, frame: RoadFrame, who: str) -> dict[str, Any]:
    """`lane` where the centre sits on a lane's centre (the ego always names its lane), else `lateral_m`."""
    lane = frame.lane_of(lateral)
    on_centre = abs(lateral - (lane + 0.5) * frame.width_m) < 1e-9
    if on_centre:
        return {"lane": lane}
    return {"lane": lane, "lateral_m": lateral} if who == "ego" else {"lateral_m": lateral}


def actions_of(m: Motion, at: str, origins: dict[str, Element],
             lateral_m: Callable[[Change], float] = lambda change: change.target) -> list[dict[str, Any]]:
    """The changes of a motion as drivesim actions; `lateral_m`: a lateral change's target as the YAML's."""
    changes = [(c, prop) for prop in ("speed", "lateral") for c in _without_superseded(m.changes[prop])]
    changes.sort(key=lambda cp: cp[0].at)  # stable: at one time, speed before lateral, each in start order
    out = []
    for change, prop in changes:
        origins[f"{at}.actions[{len(out)}]"] = change.node
        action: dict[str, Any] = {"at_s": change.at}
        if change.shape != "step":
            action["duration_s"] = change.duration
        if prop == "speed":
            action["speed_mps"] = change.target
        elif change.lane is not None:
            action["lane_change_to"] = change.lane
        else:
            action["lateral_m"] = lateral_m(change)
        if change.shape != "smoothstep":
            action["shape"] = change.shape
        if change.takes_over:
            action["takes_over"] = True
        out.append(action)
    return out


def _without_superseded(changes: list[Change]) -> list[Change]:
    """Drop a hold-the-value step that another change replaces at the same time (it changes nothing)."""
    kept, later = [], set()  # from the last change back: the start times of the changes after each
    for c in reversed(changes):
        if not (c.shape == "step" and c.takes_over and c.at in later):
            kept.append(c)
        later.add(c.at)
    return kept[::-1]


def _header(definition: ScenarioDef, result: RunResult) -> str:
    frame = result.frame
    lines = [f"# drivesim scenario converted from {definition.file.name} (OpenSCENARIO, docs/openscenario.md)",
             f"# road {frame.road.id} of {definition.logic_file.name}: OpenDRIVE lanes "
             f"{', '.join(map(str, frame.lane_ids))} are drivesim lanes 0..{len(frame.lane_ids) - 1}; "
             f"ego: {result.ego}",
             f"# {'the StopTrigger fired' if result.stopped_by_trigger else 'no StopTrigger fired: cut'} at "
             f"{result.duration_s:g} s; events fired (time, event, execution):"]
    lines += [f"#   {e.time_s:g} s  {e.event}  #{e.execution}" for e in result.events] or ["#   none"]
    lines += [f"# warning: {w}" for w in result.warnings]
    return "\n".join(lines) + "\n"


def _relocate(issue: ScenarioIssue, origins: dict[str, Element], definition: ScenarioDef) -> ScenarioIssue:
    """An issue of the converted YAML, pointed at the .xosc element it came from."""
    key = issue.key_path
    for candidate in sorted(origins, key=len, reverse=True):
        if key == candidate or key.startswith(candidate + ".") or key.startswith(candidate + "["):
            node = origins[candidate]
            return ScenarioIssue(node.file, node.line, node.column, node.tag,
                                 f"drivesim cannot show this: {key}: {issue.message}", issue.hint)
    return ScenarioIssue(str(definition.file), None, None, "", f"{key}: {issue.message}", issue.hint)

"""A run on a road network (`network_runner.py`) -> the drivesim scenario that replays it: `road: {opendrive}`,
every entity placed by `position` (its bounding-box centre in lane coordinates) with the `route` of roads
it drives through in the clip, its speed and lateral changes as timed actions, and `reference_behind_m`
(its `BoundingBox/Center` x: it turns with the lane at its reference point, as in esmini).

The runner's coordinates are drivesim's (drivesim/scenario/lane_path.py): u along the entity's lane path,
r metres right of the path lane's centre. A lateral change to lane k's centre is `lane_change_to: k`; any
other is `lateral_m`, the target's metres right of the run's left edge where the change starts, which
drivesim turns back into the same r (its target minus the path lane's lateral there).

    from pathlib import Path
    from drivesim.standards.openscenario import ImportOptions, import_openscenario
    xosc = Path("scenarios/openscenario/curve_cut_in.xosc")
    imported = import_openscenario(xosc, ImportOptions(output=Path("out/curve_cut_in.yaml")))
    imported.yaml   # road: {opendrive: ../scenarios/roads/motorway_parampoly.xodr}, positions, routes, actions
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional

import numpy as np
import yaml

from drivesim.scenario.format import Scenario
from drivesim.scenario.lane_path import LanePath
from drivesim.standards.openscenario.convert import actions_of, parse_converted
from drivesim.standards.openscenario.model import ScenarioDef
from drivesim.standards.openscenario.motion import Change, Motion
from drivesim.standards.openscenario.network_runner import reference_behind
from drivesim.standards.openscenario.runner import RunResult
from drivesim.standards.openscenario.xmltree import Element


def network_yaml(definition: ScenarioDef, result: RunResult, output: Optional[Path]) -> tuple[str, Scenario]:
    """The YAML of a network run and the `Scenario` it parses to; `output`: where the YAML will be written."""
    data, origins = _data(definition, result, output)
    text = _header(definition, result) + yaml.safe_dump(data, sort_keys=False, default_flow_style=None, width=110)
    # parsed as if it were the file at `output`: its road path is read relative to that file's folder
    return text, parse_converted(text, str(output) if output else f"{definition.file.name} (converted)", origins,
                                 definition)


def road_path(road: Path, output: Optional[Path]) -> str:
    """The road file as the YAML names it: relative to the YAML's folder, else absolute."""
    road = road.resolve()
    if output is None:
        return str(road)
    try:
        return Path(os.path.relpath(road, Path(output).resolve().parent)).as_posix()
    except ValueError:  # another drive (Windows): no relative path leads there
        return str(road)


def _data(definition: ScenarioDef, result: RunResult, output: Optional[Path]) -> tuple[dict, dict[str, Element]]:
    origins: dict[str, Element] = {"road": definition.logic_node, "duration_s": definition.stop_trigger.node
                                   if definition.stop_trigger and definition.stop_trigger.node is not None
                                   else definition.logic_node}
    env: dict[str, Any] = {"time_of_day": result.time_of_day}
    if result.environment_events:
        env["events"] = [{"at_s": t, "time_of_day": tod} for t, tod, _ in result.environment_events]
        for i, (_, _, node) in enumerate(result.environment_events):
            origins[f"environment.events[{i}]"] = node
    ego = result.motions[result.ego]
    origins["ego"] = ego.entity.node
    behind = reference_behind(ego.entity, ego=True)
    ego_data = _entity(ego, result.paths[result.ego], result.duration_s, "ego", origins, behind)
    agents = []
    for name, m in result.motions.items():
        if name != result.ego:
            at = f"agents[{len(agents)}]"
            origins[at] = m.entity.node
            behind = reference_behind(m.entity, ego=False)
            agent = {"id": name, "type": m.entity.type,
                     **_entity(m, result.paths[name], result.duration_s, at, origins, behind)}
            agent["size_m"] = [float(v) for v in m.entity.size]
            agent["actions"] = agent.pop("actions")
            if not agent["actions"]:
                del agent["actions"]
            agents.append(agent)
    if not ego_data["actions"]:
        del ego_data["actions"]
    data = {"version": 1, "name": definition.name, "duration_s": result.duration_s, "fps": result.fps,
            "environment": env, "road": {"opendrive": road_path(definition.logic_file, output)},
            "ego": ego_data, "agents": agents}
    return data, origins


def _entity(m: Motion, path: LanePath, duration: float, at: str, origins: dict[str, Element],
            behind: float) -> dict[str, Any]:
    """position (box centre at t = 0), route (the roads driven in the clip, and the next), speed,
    reference_behind_m (`behind`, when not 0), actions."""
    step, _, s = path.locate(m.u0)
    road = path.network.roads[step.road]
    offset = -m.initial["lateral"] * road.direction(step.lane)
    out: dict[str, Any] = {"position": {"road": step.road, "lane": step.lane, "s": float(s), "offset": float(offset)}}
    end_u = m.u0 + float(m.profile("speed").integral(np.array(duration)))
    first, last = (int(np.clip(np.searchsorted(path.bounds, u, side="right") - 1, 0, len(path.steps) - 1))
                   for u in (m.u0, end_u))
    roads: list[str] = []
    for k in range(first, min(last + 2, len(path.steps))):
        if not roads or roads[-1] != path.steps[k].road:
            roads.append(path.steps[k].road)
    if len(roads) > 1:
        out["route"] = roads
    out["speed_mps"] = float(m.initial["speed"])
    if behind:
        out["reference_behind_m"] = float(behind)

    def lateral_m(change: Change) -> float:
        u = m.u0 + float(m.profile("speed").integral(np.array(change.at)))
        return change.target + float(path.lane_lateral(u))

    out["actions"] = actions_of(m, at, origins, lateral_m)
    return out


def _header(definition: ScenarioDef, result: RunResult) -> str:
    lines = [f"# drivesim scenario converted from {definition.file.name} (OpenSCENARIO, docs/openscenario.md)",
             f"# road network {definition.logic_file.name}; positions are bounding-box centres; ego: {result.ego}",
             f"# {'the StopTrigger fired' if result.stopped_by_trigger else 'no StopTrigger fired: cut'} at "
             f"{result.duration_s:g} s; events fired (time, event, execution):"]
    lines += [f"#   {e.time_s:g} s  {e.event}  #{e.execution}" for e in result.events] or ["#   none"]
    lines += [f"# warning: {w}" for w in result.warnings]
    return "\n".join(lines) + "\n"

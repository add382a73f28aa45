"""Cross-field checks of a scenario: rules no single field can check on its own.

    from drivesim.scenario.checks import check_scenario
    for finding in check_scenario(scenario): print(finding)

They run on the plain data read from YAML (before or without pydantic), so a file with a schema
error and a lane out of range reports both at once; any value that is missing or of the wrong
type is skipped here (the schema reports it). Each finding names a key path, which the loader
turns into a file position.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterator, Mapping, Optional

from drivesim.scenario.format import Action, Road, Scenario
from drivesim.scenario.issues import KeyPath

# How far beside the road (metres, either side) an agent's centre may be placed. Pedestrians
# and cyclists walk or ride on the sidewalk; vehicles must have their centre on the road.
SIDEWALK_MARGIN_M = 5.0
ROADSIDE_TYPES = ("pedestrian", "cyclist")
# Track ids of the procedural background traffic; scenario agents may not use them.
RESERVED_ID_PREFIX = "bg_"
# Which actions change the same property (two of a group may not overlap in time).
_ACTION_PROPERTIES = {"lateral position": ("lane_change_to", "lateral_m"), "speed": ("speed_mps",)}


@dataclass(frozen=True)
class Finding:
    """A problem at a key path, e.g. (("agents", 0, "lane"), "lane 4 does not exist ...")."""

    path: KeyPath
    message: str
    hint: str = ""
    mark: tuple[int, int] | None = None  # explicit 1-based (line, column), when the path is not enough


def check_scenario(scenario: Scenario) -> list[Finding]:
    """Cross-field findings of an already-typed scenario (e.g. one built in code or over gRPC); the road's
    own rules (roads, lanes and routes that exist) are `network.world_findings`."""
    return cross_field_findings(scenario.model_dump(mode="json"), written=False)


def cross_field_findings(data: Mapping[str, Any], written: bool = True) -> list[Finding]:
    """Every cross-field problem of a scenario given as plain data (a parsed YAML mapping; `written`: the
    keys are the ones a person wrote, not a dump with every default)."""
    road = _mapping(data.get("road", {}))
    lanes = _whole(road.get("lanes", Road.model_fields["lanes"].default))
    lane_width = _real(road.get("lane_width_m", Road.model_fields["lane_width_m"].default))
    lanes = lanes if lanes is not None and lanes >= 1 else None
    lane_width = lane_width if lane_width is not None and lane_width > 0 else None
    if road.get("opendrive") is not None:
        lanes = lane_width = None  # the road file says which lanes exist (network.world_findings checks)
    oncoming = _whole(road.get("oncoming_lanes", 0)) or 0
    span = None if lanes is None or lane_width is None else (
        (-oncoming * lane_width, lanes * lane_width) if road.get("traffic", "right") != "left"
        else (0.0, (lanes + max(oncoming, 0)) * lane_width))
    duration = _real(data.get("duration_s"))
    duration = duration if duration is not None and duration > 0 else None

    out: list[Finding] = []
    ego = _mapping(data.get("ego", {}))
    if written and ego.get("position") is not None and "lane" in ego:
        out.append(Finding(("ego", "position"), "give either position or lane / lateral_m, not both",
                           "remove ego.lane: the position names the lane"))
    out += _lane_exists(("ego", "lane"), ego.get("lane"), lanes)
    out += _on_road(("ego", "lateral_m"), ego.get("lateral_m"), span, False)
    out += _actions(("ego",), ego.get("actions"), lanes, span, duration, False)
    env = _mapping(data.get("environment", {}))
    out += _timeline(("environment", "events"), env.get("events"), duration, "event")
    out += _agents(data.get("agents"), lanes, span, duration)
    return out


Span = Optional[tuple[float, float]]  # the road's left and right edges, metres right of the ego lanes' left edge


def _agents(agents: Any, lanes: int | None, span: Span, duration: float | None) -> Iterator[Finding]:
    first_index: dict[str, int] = {}
    for i, agent in _items(agents):
        at = ("agents", i)
        agent_id = agent.get("id")
        if isinstance(agent_id, str):
            if agent_id in first_index:
                yield Finding(at + ("id",), f"id '{agent_id}' is already used by agents[{first_index[agent_id]}]",
                              "agent ids must be unique: they become the track ids of the labels")
            first_index.setdefault(agent_id, i)
            if agent_id.startswith(RESERVED_ID_PREFIX):
                suggestion = agent_id[len(RESERVED_ID_PREFIX):] or "agent"
                yield Finding(at + ("id",), f"ids starting with '{RESERVED_ID_PREFIX}' are reserved for "
                              "background traffic", f"rename it, e.g. '{suggestion}'")
        roadside = agent.get("type") in ROADSIDE_TYPES
        yield from _lane_exists(at + ("lane",), agent.get("lane"), lanes)
        yield from _on_road(at + ("lateral_m",), agent.get("lateral_m"), span, roadside)
        yield from _actions(at, agent.get("actions"), lanes, span, duration, roadside)


def _actions(at: KeyPath, actions: Any, lanes: int | None, span: Span, duration: float | None,
             roadside: bool) -> Iterator[Finding]:
    """An agent's or the ego's `actions`: in time order, inside the scenario, to lanes and places that exist."""
    yield from _timeline(at + ("actions",), actions, duration, "action")
    for j, action in _items(actions):
        yield from _lane_exists(at + ("actions", j, "lane_change_to"), action.get("lane_change_to"), lanes)
        yield from _on_road(at + ("actions", j, "lateral_m"), action.get("lateral_m"), span, roadside)
    yield from _no_overlaps(at + ("actions",), actions)


def _lane_exists(path: KeyPath, lane: Any, lanes: int | None) -> list[Finding]:
    lane = _whole(lane)
    if lane is None or lanes is None or 0 <= lane < lanes:
        return []
    plural = "lane" if lanes == 1 else "lanes"
    return [Finding(path, f"lane {lane} does not exist (road has {lanes} {plural})",
                    "use 0" if lanes == 1 else f"use 0..{lanes - 1}")]


def _on_road(path: KeyPath, lateral: Any, span: Span, roadside: bool) -> list[Finding]:
    lateral = _real(lateral, finite=False)
    if lateral is None or span is None:
        return []
    left, width = span
    margin = SIDEWALK_MARGIN_M if roadside else 0.0
    if left - margin <= lateral <= width + margin:  # False for NaN too
        return []
    road = f"{_num(left)}..{_num(width)} m"
    where = f"beside the road ({road}, plus {_num(margin)} m of sidewalk each side)" if roadside \
        else f"on the road ({road} from the left edge of the ego's lanes)"
    hint = f"use {_num(left - margin)}..{_num(width + margin)}"
    if not roadside:
        hint += f"; only pedestrians and cyclists may stand up to {_num(SIDEWALK_MARGIN_M)} m beside it"
    return [Finding(path, f"lateral_m {_num(lateral)} is not {where}", hint)]


def _timeline(path: KeyPath, entries: Any, duration: float | None, what: str) -> Iterator[Finding]:
    """Events or actions: each starts inside [0, duration_s), listed in time order."""
    previous: float | None = None
    for k, entry in _items(entries):
        at = _real(entry.get("at_s"))
        if at is None:
            continue
        if duration is not None and at >= duration:
            yield Finding(path + (k, "at_s"), f"{what} at {_num(at)} s is after the end of the scenario "
                          f"(duration_s is {_num(duration)})", f"use 0 <= at_s < {_num(duration)}")
        if previous is not None and at < previous:
            yield Finding(path + (k, "at_s"), f"{what}s are out of order: {_num(at)} s comes after {_num(previous)} s",
                          f"list {what}s by increasing at_s")
        previous = at if previous is None else max(previous, at)


def _no_overlaps(path: KeyPath, actions: Any) -> Iterator[Finding]:
    """Two actions of one agent may not change the same property at the same time, unless the later
    one says it `takes_over` (a `step` action takes no time)."""
    for prop, keys in _ACTION_PROPERTIES.items():
        spans = []
        for j, action in _items(actions):
            start = _real(action.get("at_s"))
            length = _real(action.get("duration_s", Action.model_fields["duration_s"].default))
            if action.get("shape") == "step":
                length = 0.0
            if start is not None and length is not None and any(action.get(k) is not None for k in keys):
                spans.append((start, start + length, j, action.get("takes_over") is True))
        spans.sort()
        for (s0, e0, j0, _), (s1, _e1, j1, takes_over) in zip(spans, spans[1:]):
            if s1 < e0 and not takes_over:
                yield Finding(path + (j1, "at_s"), f"starts at {_num(s1)} s while actions[{j0}] is still changing "
                              f"the {prop} (until {_num(e0)} s)", f"start it at or after {_num(e0)} s, shorten "
                              f"actions[{j0}], or set takes_over: true on it")


def _items(entries: Any) -> Iterator[tuple[int, Mapping[str, Any]]]:
    if isinstance(entries, list):
        for i, entry in enumerate(entries):
            if isinstance(entry, Mapping):
                yield i, entry


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _whole(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _real(value: Any, finite: bool = True) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if (math.isfinite(value) or not finite) else None


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"

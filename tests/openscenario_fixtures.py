"""Small hand-written OpenSCENARIO files for the tests: a template and the pieces that fill it.

Every file drives on scenarios/openscenario/straight_highway.xodr (lanes -1, -2, -3 run towards +s,
3.5 m each) with the example catalog (car_white / car_red: reference point 1.4 m behind the box centre,
4.6 m long, maxAcceleration 5, maxDeceleration 10).
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "scenarios" / "openscenario"
ROAD = EXAMPLES / "straight_highway.xodr"
CATALOGS = EXAMPLES / "catalogs"

TEMPLATE = """<?xml version="1.0" encoding="UTF-8"?>
<OpenSCENARIO>
  <FileHeader revMajor="1" revMinor="{minor}" date="2026-11-01T10:00:00" description="test" author="tests"/>
  <ParameterDeclarations>{params}</ParameterDeclarations>
  <CatalogLocations><VehicleCatalog><Directory path="{catalogs}"/></VehicleCatalog></CatalogLocations>
  <RoadNetwork><LogicFile filepath="{road}"/></RoadNetwork>
  <Entities>{entities}</Entities>
  <Storyboard>
    <Init><Actions>{init}</Actions></Init>
    {stories}
    {stop}
  </Storyboard>
</OpenSCENARIO>
"""


def car(name: str, entry: str = "car_white") -> str:
    return (f'<ScenarioObject name="{name}"><CatalogReference catalogName="VehicleCatalog" entryName="{entry}"/>'
            f'</ScenarioObject>')


def speed_action(target: str, shape: str = "step", dim: str = "time", value: float | str = 0) -> str:
    return (f'<PrivateAction><LongitudinalAction><SpeedAction>'
            f'<SpeedActionDynamics dynamicsShape="{shape}" dynamicsDimension="{dim}" value="{value}"/>'
            f'<SpeedActionTarget>{target}</SpeedActionTarget></SpeedAction></LongitudinalAction></PrivateAction>')


def absolute(v: float | str) -> str:
    return f'<AbsoluteTargetSpeed value="{v}"/>'


def teleport(position: str) -> str:
    return f'<PrivateAction><TeleportAction><Position>{position}</Position></TeleportAction></PrivateAction>'


def lane_pos(lane: int, s: float | str, offset: float = 0.0, road: str = "1") -> str:
    return f'<LanePosition roadId="{road}" laneId="{lane}" offset="{offset}" s="{s}"/>'


def private(entity: str, *actions: str) -> str:
    return f'<Private entityRef="{entity}">{"".join(actions)}</Private>'


def place(entity: str, lane: int, s: float, speed: float) -> str:
    return private(entity, teleport(lane_pos(lane, s)), speed_action(absolute(speed)))


def lane_change(target: str, shape: str = "sinusoidal", dim: str = "time", value: float = 3.0,
                offset: float | None = None) -> str:
    off = f' targetLaneOffset="{offset}"' if offset is not None else ""
    return (f'<PrivateAction><LateralAction><LaneChangeAction{off}>'
            f'<LaneChangeActionDynamics dynamicsShape="{shape}" dynamicsDimension="{dim}" value="{value}"/>'
            f'<LaneChangeTarget>{target}</LaneChangeTarget></LaneChangeAction></LateralAction></PrivateAction>')


def condition(body: str, name: str = "c", edge: str = "none", delay: float = 0.0) -> str:
    return f'<Condition name="{name}" delay="{delay}" conditionEdge="{edge}">{body}</Condition>'


def sim_time(value: float, rule: str = "greaterThan", **kw) -> str:
    return condition(f'<ByValueCondition><SimulationTimeCondition value="{value}" rule="{rule}"/></ByValueCondition>',
                     **kw)


def by_entity(who: str, body: str, rule: str = "any", **kw) -> str:
    return condition(f'<ByEntityCondition><TriggeringEntities triggeringEntitiesRule="{rule}">'
                     f'<EntityRef entityRef="{who}"/></TriggeringEntities>'
                     f'<EntityCondition>{body}</EntityCondition></ByEntityCondition>', **kw)


def trigger(*conditions: str, tag: str = "StartTrigger") -> str:
    return f'<{tag}><ConditionGroup>{"".join(conditions)}</ConditionGroup></{tag}>'


def event(name: str, action: str, start: str = "", priority: str = "override", count: int | None = None) -> str:
    c = f' maximumExecutionCount="{count}"' if count else ""
    return f'<Event name="{name}" priority="{priority}"{c}><Action name="{name}Action">{action}</Action>{start}</Event>'


def story(actor: str, *events: str, name: str = "S", act_start: str = "", act_stop: str = "",
          group_count: int = 1) -> str:
    return (f'<Story name="{name}"><Act name="{name}Act"><ManeuverGroup maximumExecutionCount="{group_count}" '
            f'name="{name}Group"><Actors selectTriggeringEntities="false"><EntityRef entityRef="{actor}"/></Actors>'
            f'<Maneuver name="{name}Maneuver">{"".join(events)}</Maneuver></ManeuverGroup>{act_start}{act_stop}'
            f'</Act></Story>')


def xosc(tmp_path: Path, entities: str, init: str, stories: str = "", stop: str | None = None, params: str = "",
         minor: int = 1, name: str = "t.xosc", road: Path = ROAD) -> Path:
    """Write a scenario file; the StopTrigger defaults to SimulationTime > 10."""
    if stop is None:
        stop = trigger(sim_time(10), tag="StopTrigger")
    path = tmp_path / name
    path.write_text(TEMPLATE.format(minor=minor, params=params, catalogs=CATALOGS, road=road, entities=entities,
                                    init=init, stories=stories, stop=stop), encoding="utf-8")
    return path

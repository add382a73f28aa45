"""Read an OpenSCENARIO 1.0-1.2 file (.xosc) into `model.ScenarioDef`, refusing what is not supported.

Every element is either read (the subset in docs/openscenario.md), ignored because it only describes
(FileHeader, Properties, Axles, models, ...), ignored with a warning (controllers: drivesim plays the
scenario's actions, no driver model), or refused with its file and line. Catalogs are read from the
CatalogLocations directories, relative to the file.

    from drivesim.standards.openscenario.parse import parse_file
    definition = parse_file(Path("scenarios/openscenario/cut_in.xosc"))
"""

from __future__ import annotations

import logging
import math
import re
from datetime import datetime
from pathlib import Path
from typing import Any, Optional

from drivesim.scenario.user_files import os_problem, shown_path
from drivesim.standards.openscenario import conditions as cond
from drivesim.standards.openscenario.catalogs import Catalogs
from drivesim.standards.openscenario.conditions import Condition, Trigger
from drivesim.standards.openscenario.model import (ActDef, ActionDef, Dynamics, EntityDef, EnvironmentAct, EventDef,
                                                  InitAction, LaneChangeAct, LaneOffsetAct, LanePos, ManeuverDef,
                                                  ManeuverGroupDef, Performance, Position, RelativeLanePos,
                                                  RelativeObjectPos, RelativeRoadPos, RoadPos, ScenarioDef, SpeedAct,
                                                  StoryDef, TeleportAct, WorldPos)
from drivesim.standards.openscenario.params import RULES, Params
from drivesim.standards.openscenario.parse_network import (environment_warnings, route_action, route_position,
                                                          synchronize_action)
from drivesim.standards.openscenario.xmltree import Element, located, read_xml, xml_budget

log = logging.getLogger(__name__)

# OpenSCENARIO vehicleCategory -> drivesim agent type
VEHICLE_TYPES = {"car": "car", "van": "car", "truck": "truck", "trailer": "truck", "semitrailer": "truck",
                 "bus": "bus", "motorbike": "motorcycle", "bicycle": "cyclist"}
EGO_NAMES = ("ego", "hero")  # the ego: an entity of this name (any case), else the first vehicle
DAY_HOURS = (7, 19)  # TimeOfDay from 07:00 up to 19:00 is day, the rest night
TRACK_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
SHAPES = ("linear", "cubic", "sinusoidal", "step")
DIMENSIONS = ("time", "rate", "distance")
# Children that only describe (models, masses, axles, properties): nothing to run, nothing lost.
DESCRIPTIVE = {"FileHeader", "License", "Properties", "Axles", "SceneGraphFile", "TrafficSignals", "UsedArea",
               "TrailerHitch", "TrailerCoupler", "Trailer", "VariableDeclarations", "ParameterDeclarations"}


def parse_file(path: Path) -> ScenarioDef:
    with xml_budget():  # the file and its catalogs share one budget (and its road, inside import_openscenario)
        return _Reader(Path(path)).read()


class _Reader:
    def __init__(self, path: Path):
        self.path = path
        self.dir = path.parent
        self.warnings: list[str] = []
        self.catalog_dirs: list[tuple[Path, Element]] = []  # each CatalogLocations directory, its <Directory>
        self._catalogs: Catalogs | None = None
        self.entities: dict[str, EntityDef] = {}

    def warn(self, node: Element, message: str) -> None:
        text = f"{node.file}:{node.line}: {node.tag}: {message}"
        self.warnings.append(text)
        log.warning("warning: %s", text)

    def refuse(self, node: Element, what: str = "") -> Exception:
        return located(node, f"{what or 'this element'} is not supported by drivesim's OpenSCENARIO import",
                       "see docs/openscenario.md for the supported subset; remove it or rewrite the scenario "
                       "with supported elements")

    def check_children(self, node: Element, known: set[str]) -> None:
        for child in node.children:
            if child.tag not in known and child.tag not in DESCRIPTIVE:
                raise self.refuse(child, f"<{child.tag}> inside <{node.tag}>")

    # --- document ----------------------------------------------------------------------------

    def read(self) -> ScenarioDef:
        root = read_xml(self.path, "OpenSCENARIO")
        header = root.require("FileHeader")
        major, minor = header.attrib.get("revMajor", "1"), header.attrib.get("revMinor", "0")
        if major != "1" or minor not in ("0", "1", "2", "3"):
            raise located(header, f"OpenSCENARIO {major}.{minor} is not supported", "drivesim reads 1.0 to 1.2")
        if minor == "3":
            self.warn(header, "OpenSCENARIO 1.3: read as 1.2 (elements new in 1.3 are refused)")
        if root.child("Storyboard") is None:
            raise self.refuse(root.children[1] if len(root.children) > 1 else root,
                              "a file without a <Storyboard> (e.g. a catalog or a parameter distribution)")
        self.check_children(root, {"ParameterDeclarations", "CatalogLocations", "RoadNetwork", "Entities",
                                   "Storyboard"})
        params = Params().scope(root.child("ParameterDeclarations"))
        self._catalog_locations(root.child("CatalogLocations"), params)
        logic_file, logic_node = self._road_network(root.require("RoadNetwork"), params)
        entities_el = root.require("Entities")
        self.check_children(entities_el, {"ScenarioObject"})
        for obj in entities_el.all("ScenarioObject"):
            entity = self._entity(obj, params)
            if entity.name in self.entities:
                raise located(obj, f"entity name {entity.name!r} is used twice", "give every entity its own name")
            self.entities[entity.name] = entity
        if not self.entities:
            raise located(entities_el, "no entities", "add a <ScenarioObject> for the ego")
        board = root.require("Storyboard")
        self.check_children(board, {"Init", "Story", "StopTrigger"})
        init = self._init(board.require("Init"), params)
        stories = [self._story(s, params) for s in board.all("Story")]
        stop = board.child("StopTrigger")
        return ScenarioDef(file=self.path, name=self.path.stem, entities=self.entities, ego=self._ego(),
                           logic_file=logic_file, logic_node=logic_node, init=init, stories=stories,
                           stop_trigger=self._trigger(stop, params, default=False) if stop is not None else None,
                           warnings=self.warnings)

    def _ego(self) -> str:
        for wanted in EGO_NAMES:
            for name in self.entities:
                if name.lower() == wanted:
                    return name
        for name, entity in self.entities.items():
            if entity.type != "pedestrian":
                return name
        return next(iter(self.entities))

    def _catalog_locations(self, node: Optional[Element], params: Params) -> None:
        for kind in node.children if node is not None else ():
            directory = kind.require("Directory")
            self.catalog_dirs.append((self.dir / params.text(directory, "path"), directory))

    def _road_network(self, node: Element, params: Params) -> tuple[Path, Element]:
        self.check_children(node, {"LogicFile"})
        logic = node.child("LogicFile")
        if logic is None:
            raise located(node, "no <LogicFile>", "reference the OpenDRIVE road: <LogicFile filepath=\"road.xodr\"/>")
        path = self.dir / params.text(logic, "filepath")
        try:
            found = path.is_file()
        except OSError as err:  # a name too long for the file system, ...
            raise located(logic, f"OpenDRIVE file {shown_path(path)}: {os_problem(err)}",
                          "filepath is relative to the .xosc file") from None
        if not found:
            raise located(logic, f"OpenDRIVE file {shown_path(path)} not found",
                          "filepath is relative to the .xosc file")
        return path, logic

    # --- catalogs ----------------------------------------------------------------------------

    def _catalog_entry(self, ref: Element, params: Params, kinds: tuple[str, ...]) -> tuple[Element, Params]:
        """The entry a CatalogReference names, with its parameter scope (assignments applied)."""
        if self._catalogs is None:
            self._catalogs = Catalogs(self.catalog_dirs)
        name, entry = params.text(ref, "catalogName"), params.text(ref, "entryName")
        found_catalog = self._catalogs.find(name, ref)
        if found_catalog is None:
            raise located(ref, f"catalog {name!r} not found (looked in {self._catalogs.where()})",
                          "add its directory to <CatalogLocations>, relative to the .xosc file")
        catalog, file = found_catalog
        found = next((e for e in catalog.children if e.attrib.get("name") == entry), None)
        if found is None:
            raise located(ref, f"catalog {name!r} ({file.name}) has no entry {entry!r}")
        if found.tag not in kinds:
            raise self.refuse(ref, f"a catalog entry of type <{found.tag}> here")
        assignments = {}
        for pa in (ref.child("ParameterAssignments").children if ref.child("ParameterAssignments") else []):
            assignments[params.text(pa, "parameterRef")] = params.text(pa, "value")
        return found, Params().scope(found.child("ParameterDeclarations"), assignments)

    # --- entities ----------------------------------------------------------------------------

    def _entity(self, obj: Element, params: Params) -> EntityDef:
        name = params.text(obj, "name")
        if not TRACK_ID.match(name) or name.startswith("bg_"):
            raise located(obj, f"entity name {name!r} cannot be a drivesim track id",
                          "use 1-64 of A-Z a-z 0-9 _ . - and do not start with bg_")
        self.check_children(obj, {"Vehicle", "Pedestrian", "CatalogReference", "ObjectController"})
        if obj.child("ObjectController") is not None:
            self.warn(obj.child("ObjectController"), f"controller of {name} ignored: drivesim plays the "
                      "scenario's actions, no driver model")
        definition = next((c for c in obj.children if c.tag in ("Vehicle", "Pedestrian", "CatalogReference")), None)
        if definition is None:
            raise located(obj, f"entity {name} has no <Vehicle>, <Pedestrian> or <CatalogReference>")
        scope = params
        if definition.tag == "CatalogReference":
            definition, scope = self._catalog_entry(definition, params, ("Vehicle", "Pedestrian"))
        else:
            scope = params.scope(definition.child("ParameterDeclarations"))
        box = definition.require("BoundingBox")
        centre, dims = box.require("Center"), box.require("Dimensions")
        size = (scope.number(dims, "length"), scope.number(dims, "width"), scope.number(dims, "height"))
        if min(size) <= 0:
            raise located(dims, "bounding box dimensions must be > 0")
        if definition.tag == "Vehicle":
            self.check_children(definition, {"BoundingBox", "Performance"})
            category = scope.text(definition, "vehicleCategory")
            if category not in VEHICLE_TYPES:
                raise located(definition, f"vehicleCategory {category!r} has no drivesim type",
                              f"use one of {', '.join(VEHICLE_TYPES)}")
            kind = VEHICLE_TYPES[category]
            perf_el = definition.child("Performance")
            performance = None if perf_el is None else Performance(
                scope.number(perf_el, "maxSpeed", minimum=0.0), scope.number(perf_el, "maxAcceleration", minimum=0.0),
                scope.number(perf_el, "maxDeceleration", minimum=0.0))
        else:
            self.check_children(definition, {"BoundingBox"})
            category = scope.text(definition, "pedestrianCategory", "pedestrian")
            if category == "animal":
                raise self.refuse(definition, "pedestrianCategory animal")
            kind, performance = "pedestrian", None
        return EntityDef(name, kind, size, (scope.number(centre, "x"), scope.number(centre, "y")), performance, obj)

    def entity_ref(self, node: Element, params: Params, attr: str = "entityRef") -> str:
        name = params.text(node, attr)
        if name not in self.entities:
            raise located(node, f"{attr}: no entity named {name!r}",
                          f"use one of {', '.join(self.entities)}")
        return name

    # --- positions ---------------------------------------------------------------------------

    def position(self, node: Element, params: Params) -> Position:
        p = node.one_of()
        heading = None
        orient = p.child("Orientation")
        if orient is not None:
            heading = (params.choice(orient, "type", ("relative", "absolute"), "relative"),
                       params.number(orient, "h", 0.0))
        if p.tag == "LanePosition":
            return LanePos(params.text(p, "roadId"), params.integer(p, "laneId"), params.number(p, "s"),
                           params.number(p, "offset", 0.0), heading, p)
        if p.tag == "RoadPosition":
            return RoadPos(params.text(p, "roadId"), params.number(p, "s"), params.number(p, "t"), heading, p)
        if p.tag == "WorldPosition":
            turned = [a for a in ("p", "r") if abs(params.number(p, a, 0.0)) > 0.0]
            if turned:
                self.warn(p, f"{' and '.join({'p': 'pitch', 'r': 'roll'}[a] for a in turned)} not used: drivesim "
                          "entities follow the road surface (its slope gives their pitch, they never roll)")
            return WorldPos(params.number(p, "x"), params.number(p, "y"), params.number(p, "h", 0.0), p,
                            "h" in p.attrib)
        if p.tag == "RelativeLanePosition":
            if "dsLane" in p.attrib and "ds" in p.attrib:
                raise located(p, "both ds and dsLane", "give one of them")
            self._straight_orientation(orient, heading, "RelativeLanePosition")
            ds_lane = "dsLane" in p.attrib
            return RelativeLanePos(self.entity_ref(p, params), params.integer(p, "dLane"),
                                   params.number(p, "dsLane" if ds_lane else "ds"), params.number(p, "offset", 0.0),
                                   p, ds_lane)
        if p.tag == "RelativeRoadPosition":
            return RelativeRoadPos(self.entity_ref(p, params), params.number(p, "ds"), params.number(p, "dt"),
                                   heading, p)
        if p.tag == "RoutePosition":
            return route_position(self, p, params, heading)
        if p.tag == "RelativeObjectPosition":
            self._straight_orientation(orient, heading, "RelativeObjectPosition")
            return RelativeObjectPos(self.entity_ref(p, params), params.number(p, "dx"), params.number(p, "dy"), p)
        raise self.refuse(p, f"<{p.tag}>")

    def _straight_orientation(self, orient: Optional[Element], heading: Any, what: str) -> None:
        if orient is not None and heading != ("relative", 0.0):
            raise self.refuse(orient, f"a turned {what}")

    # --- actions -----------------------------------------------------------------------------

    def dynamics(self, node: Element, params: Params) -> Dynamics:
        """TransitionDynamics: a time, rate or distance, never negative. A negative rate is read as its size
        with a warning (the target says which way the value changes; esmini's own cut-in.xosc brakes at -4)."""
        shape = params.choice(node, "dynamicsShape", SHAPES)
        dimension = params.choice(node, "dynamicsDimension", DIMENSIONS)
        value = params.number(node, "value")
        if value < 0 and dimension == "rate":
            self.warn(node, f"value {value:g}: OpenSCENARIO's rate is >= 0; read as {-value:g}, as esmini does (the "
                      f"target sets the direction): write value=\"{-value:g}\"")
            value = -value
        elif value < 0:
            raise located(node, f"value: must be >= 0 for dynamicsDimension {dimension}, got {value:g}",
                          f"give {'a duration' if dimension == 'time' else 'a distance'} >= 0")
        return Dynamics(shape, dimension, value)

    def private_action(self, node: Element, params: Params):  # -> PrivateAct | None (an ignored controller)
        act = node.one_of()
        if act.tag in ("ControllerAction", "ActivateControllerAction"):
            self.warn(act, "controller ignored: drivesim plays the scenario's actions, no driver model")
            return None
        if act.tag == "TeleportAction":
            return TeleportAct(self.position(act.require("Position"), params), act)
        if act.tag == "LongitudinalAction":
            inner = act.one_of()
            if inner.tag != "SpeedAction":
                raise self.refuse(inner, f"<{inner.tag}>")
            return self._speed(inner, params)
        if act.tag == "LateralAction":
            inner = act.one_of()
            if inner.tag == "LaneChangeAction":
                return self._lane_change(inner, params)
            if inner.tag == "LaneOffsetAction":
                return self._lane_offset(inner, params)
            raise self.refuse(inner, f"<{inner.tag}>")
        if act.tag == "RoutingAction":
            return route_action(self, act.one_of(), params)
        if act.tag == "SynchronizeAction":
            return synchronize_action(self, act, params)
        raise self.refuse(act, f"<{act.tag}>")

    def _speed(self, node: Element, params: Params) -> SpeedAct:
        dyn = self.dynamics(node.require("SpeedActionDynamics"), params)
        target = node.require("SpeedActionTarget").one_of(("AbsoluteTargetSpeed", "RelativeTargetSpeed"))
        if target.tag == "AbsoluteTargetSpeed":
            return SpeedAct(dyn, params.number(target, "value"), node=node)
        return SpeedAct(dyn, None, self.entity_ref(target, params), params.number(target, "value"),
                        params.choice(target, "speedTargetValueType", ("delta", "factor")),
                        params.boolean(target, "continuous"), node)

    def _lane_change(self, node: Element, params: Params) -> LaneChangeAct:
        dyn = self.dynamics(node.require("LaneChangeActionDynamics"), params)
        target = node.require("LaneChangeTarget").one_of(("AbsoluteTargetLane", "RelativeTargetLane"))
        offset = params.number(node, "targetLaneOffset", 0.0)
        if target.tag == "AbsoluteTargetLane":
            return LaneChangeAct(dyn, params.integer(target, "value"), target_offset=offset, node=node)
        return LaneChangeAct(dyn, None, self.entity_ref(target, params), params.integer(target, "value"), offset, node)

    def _lane_offset(self, node: Element, params: Params) -> LaneOffsetAct:
        dyn = node.require("LaneOffsetActionDynamics")
        max_acc = params.number(dyn, "maxLateralAcc", 0.5, minimum=0.0)  # esmini's default when it is left out
        shape = params.choice(dyn, "dynamicsShape", SHAPES)
        target = node.require("LaneOffsetTarget").one_of(("AbsoluteTargetLaneOffset", "RelativeTargetLaneOffset"))
        if target.tag == "AbsoluteTargetLaneOffset":
            return LaneOffsetAct(shape, max(max_acc, 1e-6), params.number(target, "value"), node=node)
        return LaneOffsetAct(shape, max(max_acc, 1e-6), None, self.entity_ref(target, params),
                             params.number(target, "value"), node)

    def global_action(self, node: Element, params: Params) -> Optional[EnvironmentAct]:
        """An EnvironmentAction's time of day; None when it has none (what it has instead is warned about)."""
        act = node.one_of()
        if act.tag != "EnvironmentAction":
            raise self.refuse(act, f"<{act.tag}>")
        env = act.one_of(("Environment", "CatalogReference"))
        scope = params
        if env.tag == "CatalogReference":
            env, scope = self._catalog_entry(env, params, ("Environment",))
        environment_warnings(self, env, scope)
        tod = env.child("TimeOfDay")
        if tod is None:
            return None
        if scope.boolean(tod, "animation", False):
            self.warn(tod, "TimeOfDay animation ignored: drivesim keeps the time of day until the next change")
        text = scope.text(tod, "dateTime")
        try:
            hour = datetime.fromisoformat(text.replace("Z", "+00:00")).hour
        except ValueError:
            raise located(tod, f"dateTime: expected an ISO 8601 date and time, got {text!r}") from None
        return EnvironmentAct("day" if DAY_HOURS[0] <= hour < DAY_HOURS[1] else "night", tod)

    # --- storyboard --------------------------------------------------------------------------

    def _init(self, node: Element, params: Params) -> list[InitAction]:
        actions = node.require("Actions")
        self.check_children(actions, {"Private", "GlobalAction"})
        out: list[InitAction] = []
        for child in actions.children:
            if child.tag == "GlobalAction":
                env = self.global_action(child, params)
                if env is not None:
                    out.append(InitAction(None, env))
            elif child.tag == "Private":
                entity = self.entity_ref(child, params)
                self.check_children(child, {"PrivateAction"})
                for pa in child.all("PrivateAction"):
                    action = self.private_action(pa, params)
                    if action is not None:
                        out.append(InitAction(entity, action))
        return out

    def _story(self, node: Element, params: Params) -> StoryDef:
        self.check_children(node, {"Act"})
        scope = params.scope(node.child("ParameterDeclarations"))
        return StoryDef(scope.text(node, "name"), [self._act(a, scope) for a in node.all("Act")], node)

    def _act(self, node: Element, params: Params) -> ActDef:
        self.check_children(node, {"ManeuverGroup", "StartTrigger", "StopTrigger"})
        start, stop = node.child("StartTrigger"), node.child("StopTrigger")
        return ActDef(params.text(node, "name"), [self._group(g, params) for g in node.all("ManeuverGroup")],
                      self._trigger(start, params, default=True) if start is not None else None,
                      self._trigger(stop, params, default=False) if stop is not None else None, node)

    def _group(self, node: Element, params: Params) -> ManeuverGroupDef:
        self.check_children(node, {"Actors", "Maneuver", "CatalogReference"})
        actors_el = node.require("Actors")
        self.check_children(actors_el, {"EntityRef"})
        actors = [self.entity_ref(e, params) for e in actors_el.all("EntityRef")]
        if params.boolean(actors_el, "selectTriggeringEntities", False):
            raise self.refuse(actors_el, "selectTriggeringEntities=\"true\"")
        maneuvers = []
        for child in node.children:
            if child.tag == "Maneuver":
                maneuvers.append(self._maneuver(child, params, actors))
            elif child.tag == "CatalogReference":
                entry, scope = self._catalog_entry(child, params, ("Maneuver",))
                maneuvers.append(self._maneuver(entry, scope, actors))
        return ManeuverGroupDef(params.text(node, "name"), params.integer(node, "maximumExecutionCount", minimum=1),
                                actors, maneuvers, node)

    def _maneuver(self, node: Element, params: Params, actors: list[str]) -> ManeuverDef:
        self.check_children(node, {"Event"})
        scope = params.scope(node.child("ParameterDeclarations"))
        return ManeuverDef(scope.text(node, "name"), [self._event(e, scope, actors) for e in node.all("Event")], node)

    def _event(self, node: Element, params: Params, actors: list[str]) -> EventDef:
        self.check_children(node, {"Action", "StartTrigger"})
        priority = params.choice(node, "priority", ("overwrite", "override", "skip", "parallel"))
        actions = []
        for a in node.all("Action"):
            body = a.one_of(("PrivateAction", "GlobalAction", "UserDefinedAction"))
            if body.tag == "UserDefinedAction":
                raise self.refuse(body, "<UserDefinedAction>")
            if body.tag == "GlobalAction":
                env = self.global_action(body, params)
                actions.append(ActionDef(params.text(a, "name"), [], env or EnvironmentAct(None, body), a))
                continue
            if not actors:
                raise located(a, "a private action needs actors", "add an <EntityRef> to the maneuver group's <Actors>")
            action = self.private_action(body, params)
            if action is None:
                continue
            if isinstance(action, TeleportAct):
                raise self.refuse(body.children[0], "a TeleportAction in a story (entities cannot jump in a clip)")
            actions.append(ActionDef(params.text(a, "name"), actors, action, a))
        start = node.child("StartTrigger")
        trigger = self._trigger(start, params, default=True) if start is not None else Trigger([], True)
        return EventDef(params.text(node, "name"), "override" if priority == "overwrite" else priority,
                        params.integer(node, "maximumExecutionCount", 1, minimum=1), actions, trigger, node)

    # --- triggers ----------------------------------------------------------------------------

    def _trigger(self, node: Element, params: Params, default: bool) -> Trigger:
        self.check_children(node, {"ConditionGroup"})
        groups = []
        for g in node.all("ConditionGroup"):
            self.check_children(g, {"Condition"})
            groups.append([self._condition(c, params) for c in g.all("Condition")])
        return Trigger(groups, default, node)

    def _condition(self, node: Element, params: Params) -> Condition:
        body = node.one_of(("ByEntityCondition", "ByValueCondition"))
        if body.tag == "ByValueCondition":
            spec = self._value_condition(body.one_of(), params)
        else:
            spec = self._entity_condition(body, params)
        edge = params.choice(node, "conditionEdge", ("none", "rising", "falling", "risingOrFalling"))
        delay = params.number(node, "delay", 0.0, minimum=0.0)
        return Condition(params.text(node, "name", ""), delay, edge, spec, node)

    def _value_condition(self, node: Element, params: Params) -> Any:
        rules = tuple(RULES)
        if node.tag == "SimulationTimeCondition":
            return cond.SimulationTime(params.choice(node, "rule", rules), params.number(node, "value"))
        if node.tag == "StoryboardElementStateCondition":
            kinds = ("story", "act", "maneuverGroup", "maneuver", "event", "action")
            states = ("startTransition", "endTransition", "stopTransition", "skipTransition", "completeState",
                      "runningState", "standbyState")
            return cond.StoryboardState(params.choice(node, "storyboardElementType", kinds),
                                        params.text(node, "storyboardElementRef"), params.choice(node, "state", states))
        if node.tag == "ParameterCondition":
            # Parameters never change while the scenario runs (ParameterSetAction is refused): a constant.
            name = params.text(node, "parameterRef").lstrip("$")
            value, want, rule = params.lookup(name, node, "parameterRef"), params.text(node, "value"), \
                params.choice(node, "rule", rules)
            try:
                numbers = float(value), float(want)
                if not all(map(math.isfinite, numbers)):
                    raise located(node, f"rule {rule} compares {value!r} with {want!r}: not finite numbers",
                                  "compare finite numbers")
                return cond.StaticValue(RULES[rule](*numbers))
            except ValueError:
                if rule not in ("equalTo", "notEqualTo"):
                    raise located(node, f"rule {rule} needs numbers, got {value!r} and {want!r}") from None
                return cond.StaticValue(RULES[rule](value, want))
        raise self.refuse(node, f"<{node.tag}>")

    def _distance_spec(self, node: Element, params: Params, default_type: str = "euclidianDistance") -> cond.DistanceSpec:
        cs = params.choice(node, "coordinateSystem", ("entity", "road", "lane", "trajectory"), "entity")
        if cs == "trajectory":
            raise self.refuse(node, "coordinateSystem=\"trajectory\"")
        kinds = {"euclidianDistance": "euclidean", "cartesianDistance": "euclidean", "longitudinal": "longitudinal",
                 "lateral": "lateral"}
        kind = params.choice(node, "relativeDistanceType", tuple(kinds), default_type)
        if params.boolean(node, "alongRoute", False):
            cs = "road"
        return cond.DistanceSpec(kinds[kind], params.boolean(node, "freespace", False), cs)

    def _entity_condition(self, node: Element, params: Params) -> cond.EntityCondition:
        trig_el = node.require("TriggeringEntities")
        entities = tuple(self.entity_ref(e, params) for e in trig_el.all("EntityRef"))
        if not entities:
            raise located(trig_el, "no <EntityRef>", "name the triggering entity")
        trig = cond.Triggering(params.choice(trig_el, "triggeringEntitiesRule", ("any", "all")), entities)
        c = node.require("EntityCondition").one_of()
        rules = tuple(RULES)
        direction = params.choice(c, "direction", ("longitudinal", "lateral", "vertical"), None) \
            if "direction" in c.attrib else None
        if c.tag == "RelativeDistanceCondition":
            ref = self.entity_ref(c, params)
            test = cond.relative_distance(ref, self._distance_spec(c, params), params.choice(c, "rule", rules),
                                          params.number(c, "value", minimum=0.0))
            return cond.EntityCondition(trig, test, (ref,))
        if c.tag == "TimeHeadwayCondition":
            ref = self.entity_ref(c, params)
            return cond.EntityCondition(trig, cond.time_headway(ref, self._distance_spec(c, params),
                                                                 params.choice(c, "rule", rules),
                                                                 params.number(c, "value", minimum=0.0)), (ref,))
        if c.tag == "TimeToCollisionCondition":
            target = c.require("TimeToCollisionConditionTarget").one_of(("EntityRef", "Position"))
            ref = self.entity_ref(target, params) if target.tag == "EntityRef" else None
            position = self.position(target, params) if target.tag == "Position" else None
            return cond.EntityCondition(trig, cond.time_to_collision(ref, position, self._distance_spec(c, params),
                                                                      params.choice(c, "rule", rules),
                                                                      params.number(c, "value", minimum=0.0)))
        if c.tag == "ReachPositionCondition":
            position = self.position(c.require("Position"), params)
            if c.require("Position").children[0].child("Orientation") is not None:
                raise self.refuse(c, "ReachPositionCondition with an <Orientation>")
            return cond.EntityCondition(trig, cond.reach_position(position, params.number(c, "tolerance", minimum=0.0)))
        if c.tag == "DistanceCondition":
            position = self.position(c.require("Position"), params)
            return cond.EntityCondition(trig, cond.distance_to(position, self._distance_spec(c, params),
                                                                params.choice(c, "rule", rules),
                                                                params.number(c, "value", minimum=0.0)))
        if c.tag == "SpeedCondition":
            return cond.EntityCondition(trig, cond.speed(params.choice(c, "rule", rules), params.number(c, "value"),
                                                         direction))
        if c.tag == "RelativeSpeedCondition":
            ref = self.entity_ref(c, params)
            return cond.EntityCondition(trig, cond.relative_speed(ref, params.choice(c, "rule", rules),
                                                                  params.number(c, "value"), direction), (ref,))
        if c.tag == "AccelerationCondition":
            return cond.EntityCondition(trig, cond.acceleration(params.choice(c, "rule", rules),
                                                                params.number(c, "value"), direction))
        if c.tag == "StandStillCondition":
            return cond.EntityCondition(trig, cond.stand_still(params.number(c, "duration", minimum=0.0)))
        if c.tag == "TraveledDistanceCondition":
            return cond.EntityCondition(trig, cond.traveled_distance(params.number(c, "value", minimum=0.0)))
        raise self.refuse(c, f"<{c.tag}>")

"""Reading the OpenSCENARIO elements of road networks: AssignRouteAction (an inline Route or one from a
Route catalog), RoutePosition, SynchronizeAction, and the warnings for an Environment's parts drivesim cannot show.

Called by `parse._Reader` (its `position`, `entity_ref`, `_catalog_entry`, `warn` and `refuse`):

    from pathlib import Path
    from drivesim.standards.openscenario.parse import parse_file
    definition = parse_file(Path("scenarios/openscenario/left_turn_across.xosc"))
    definition.init  # ... InitAction('Npc', RouteAct(waypoints=(LanePos(road='2', ...), LanePos(road='3', ...))))
"""

from __future__ import annotations

from typing import Any

from drivesim.standards.openscenario.model import RouteAct, RoutePos, SyncAct
from drivesim.standards.openscenario.params import Params
from drivesim.standards.openscenario.xmltree import Element, located

ROUTE_STRATEGIES = ("fastest", "shortest", "leastIntersections", "random")


def route_action(reader: Any, node: Element, params: Params) -> RouteAct:
    """<AssignRouteAction> (the child of a <RoutingAction>); other routing actions are refused."""
    if node.tag != "AssignRouteAction":
        raise reader.refuse(node, f"<{node.tag}>")
    return route(reader, node.one_of(("Route", "CatalogReference")), params)


def route_position(reader: Any, node: Element, params: Params, heading: Any) -> RoutePos:
    """<RoutePosition>: its RouteRef (a Route or a catalog's) and InRoutePosition FromLaneCoordinates (pathS,
    laneId, laneOffset) or FromRoadCoordinates (pathS, t); FromCurrentEntity is refused."""
    reader.check_children(node, {"RouteRef", "InRoutePosition", "Orientation"})
    ref = node.require("RouteRef").one_of(("Route", "CatalogReference"))
    where = node.require("InRoutePosition").one_of(("FromLaneCoordinates", "FromRoadCoordinates",
                                                    "FromCurrentEntity"))
    if where.tag == "FromCurrentEntity":
        raise reader.refuse(where, "<FromCurrentEntity>")
    if where.tag == "FromLaneCoordinates":
        return RoutePos(route(reader, ref, params), params.number(where, "pathS"), params.integer(where, "laneId"),
                        params.number(where, "laneOffset", 0.0), heading, node)
    return RoutePos(route(reader, ref, params), params.number(where, "pathS"), None, params.number(where, "t"),
                    heading, node)


def route(reader: Any, body: Element, params: Params) -> RouteAct:
    """An inline <Route> or a <CatalogReference> to one: its waypoints' positions."""
    scope = params
    if body.tag == "CatalogReference":
        body, scope = reader._catalog_entry(body, params, ("Route",))
    else:
        scope = params.scope(body.child("ParameterDeclarations"))
    reader.check_children(body, {"Waypoint"})
    if scope.boolean(body, "closed", False):
        raise reader.refuse(body, "a closed Route (a loop)")
    waypoints = []
    for waypoint in body.all("Waypoint"):
        # drivesim drives the shortest chain of lane links through the waypoints' roads, whatever the strategy
        scope.choice(waypoint, "routeStrategy", ROUTE_STRATEGIES)
        waypoints.append(reader.position(waypoint.require("Position"), scope))
    if len(waypoints) < 2:
        raise located(body, f"a Route needs at least 2 waypoints, got {len(waypoints)}", "add the waypoints")
    return RouteAct(tuple(waypoints), scope.text(body, "name", ""), body)


def synchronize_action(reader: Any, node: Element, params: Params) -> SyncAct:
    reader.check_children(node, {"TargetPositionMaster", "TargetPosition", "FinalSpeed"})
    final = None
    final_el = node.child("FinalSpeed")
    if final_el is not None:
        speed = final_el.one_of(("AbsoluteSpeed", "RelativeSpeedToMaster"))
        if speed.child("SteadyState") is not None:
            raise reader.refuse(speed.child("SteadyState"), "<SteadyState>")
        if speed.tag == "AbsoluteSpeed":
            final = ("absolute", params.number(speed, "value"))
        else:
            final = (params.choice(speed, "speedTargetValueType", ("delta", "factor")), params.number(speed, "value"))
    return SyncAct(reader.entity_ref(node, params, "masterEntityRef"),
                   reader.position(node.require("TargetPositionMaster"), params),
                   reader.position(node.require("TargetPosition"), params), final, node,
                   params.number(node, "targetTolerance", 0.0), params.number(node, "targetToleranceMaster", 0.0))


# What of an <Environment> drivesim cannot show: element -> (attributes named in the warning, why).
_NOT_SHOWN = {
    "Weather": ("cloudState fractionalCloudCover atmosphericPressure temperature", "the weather"),
    "Fog": ("visualRange", "fog"),
    "Precipitation": ("precipitationType intensity precipitationIntensity", "rain and snow"),
    "Sun": ("intensity illuminance azimuth elevation", "the sun's position and strength"),
    "Wind": ("direction speed", "wind"),
    "DomeImage": ("", "sky images"),
    "RoadCondition": ("frictionScaleFactor wetness", "wet or slippery roads"),
}


def environment_warnings(reader: Any, env: Element, scope: Params) -> None:
    """One warning per element of the environment that drivesim does not draw, naming it and its values."""
    for element in env.walk():
        if element.tag not in _NOT_SHOWN:
            continue
        names, what = _NOT_SHOWN[element.tag]
        values = ", ".join(f"{a}={scope.text(element, a)}" for a in names.split() if a in element.attrib)
        if element.tag == "Weather" and not values:
            continue  # a container: its Fog, Precipitation, ... are named one by one
        reader.warn(element, f"<{element.tag}>{' (' + values + ')' if values else ''} not shown: drivesim draws "
                    f"no {what} (only the time of day, day or night)")

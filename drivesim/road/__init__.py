"""drivesim's one road network model, with OpenDRIVE's geometry: reference lines of line / arc / spiral /
poly3 / paramPoly3 pieces, elevation, lane offset, lane sections of lanes with width polynomials and
road marks, roads linked directly and through junctions. Every road input (YAML, OpenSCENARIO with
OpenDRIVE, highway-env, trajectory files) builds this model; positions convert between lane
coordinates (road, lane, s, offset) and world poses (x, y, z, heading, pitch).

Data classes are named and laid out after OpenDRIVE's elements and attributes, so that a reader maps
each record 1:1; what the model does not hold is listed, with why, in `UNSUPPORTED`. Conventions:
drivesim/road/road.py.

    from drivesim.road import Projector, RoadNetwork, straight_road
    road = straight_road(100.0, [3.5, 3.5], oncoming_lane_widths=[3.5])
    road.lane_to_world(1, 30.0)  # the oncoming lane, heading pi (driven towards -x)
    Projector(RoadNetwork.of([road])).project(30.0, -2.0).lane  # -1
"""

from drivesim.road.cubic import CubicRecord, Elevation, LaneOffset
from drivesim.road.geometry import Arc, Line, PlanPoint, Spiral
from drivesim.road.lanes import DRIVING_TYPES, LANE_TYPES, ROAD_MARK_TYPES, Lane, LaneSection, LaneWidth, RoadMark
from drivesim.road.network import Connection, Junction, JunctionLaneLink, LaneRef, RoadNetwork
from drivesim.road.parametric import ParamPoly3, Poly3
from drivesim.road.polylines import BorderLine, LaneLine, border_lines, lane_centre_lines
from drivesim.road.projection import LanePoint, Projector
from drivesim.road.reference_line import Geometry, ReferenceLine
from drivesim.road.road import NO_JUNCTION, Road, RoadLink, WorldPose
from drivesim.road.routing import RouteStep, route
from drivesim.road.straight import straight_road
from drivesim.road.unsupported import UNSUPPORTED

__all__ = [
    "DRIVING_TYPES",
    "LANE_TYPES",
    "NO_JUNCTION",
    "ROAD_MARK_TYPES",
    "UNSUPPORTED",
    "Arc",
    "BorderLine",
    "Connection",
    "CubicRecord",
    "Elevation",
    "Geometry",
    "Junction",
    "JunctionLaneLink",
    "Lane",
    "LaneLine",
    "LaneOffset",
    "LanePoint",
    "LaneRef",
    "LaneSection",
    "LaneWidth",
    "Line",
    "ParamPoly3",
    "PlanPoint",
    "Poly3",
    "Projector",
    "ReferenceLine",
    "Road",
    "RoadLink",
    "RoadMark",
    "RoadNetwork",
    "RouteStep",
    "Spiral",
    "WorldPose",
    "border_lines",
    "lane_centre_lines",
    "route",
    "straight_road",
]

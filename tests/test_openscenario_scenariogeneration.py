"""A cut-in written with scenariogeneration's Python API (the way many teams write scenarios), run by drivesim.

    python -m pytest tests/test_openscenario_scenariogeneration.py -q
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scenariogeneration import xodr, xosc

from drivesim.scenario.engine import ScenarioEngine
from drivesim.standards.openscenario import import_openscenario


def write_cut_in(folder, headway: float, minor: int) -> None:
    road = xodr.create_road(xodr.Line(1000), id=1, left_lanes=3, right_lanes=3, lane_width=3.5)
    odr = xodr.OpenDrive("road")
    odr.add_road(road)
    odr.adjust_roads_and_lanes()
    odr.write_xml(str(folder / "road.xodr"))
    params = xosc.ParameterDeclarations()
    params.add_parameter(xosc.Parameter("Headway", xosc.ParameterType.double, str(headway)))
    car = xosc.Vehicle("car", xosc.VehicleCategory.car, xosc.BoundingBox(2.0, 5.0, 1.5, 1.5, 0, 0.75),
                       xosc.Axle(0.5, 0.8, 1.7, 3.0, 0.4), xosc.Axle(0, 0.8, 1.7, 0, 0.4), 60, 6, 9)
    entities = xosc.Entities()
    entities.add_scenario_object("hero", car)
    entities.add_scenario_object("cutter", car)
    step = xosc.TransitionDynamics(xosc.DynamicsShapes.step, xosc.DynamicsDimension.time, 0)
    init = xosc.Init()
    init.add_init_action("hero", xosc.TeleportAction(xosc.LanePosition(40, 0, -2, 1)))
    init.add_init_action("hero", xosc.AbsoluteSpeedAction(20, step))
    init.add_init_action("cutter", xosc.TeleportAction(xosc.LanePosition(25, 0, -3, 1)))
    init.add_init_action("cutter", xosc.AbsoluteSpeedAction(24, step))
    headway_condition = xosc.TimeHeadwayCondition("cutter", "$Headway", xosc.Rule.greaterThan, freespace=False,
                                                  distance_type=xosc.RelativeDistanceType.longitudinal,
                                                  coordinate_system=xosc.CoordinateSystem.road)
    event = xosc.Event("CutIn", xosc.Priority.override if minor >= 2 else xosc.Priority.overwrite)
    event.add_action("LaneChange", xosc.RelativeLaneChangeAction(0, "hero", xosc.TransitionDynamics(
        xosc.DynamicsShapes.linear, xosc.DynamicsDimension.time, 2)))
    event.add_trigger(xosc.EntityTrigger("CutInTrigger", 0, xosc.ConditionEdge.rising, headway_condition, "hero"))
    maneuver = xosc.Maneuver("CutInManeuver")
    maneuver.add_event(event)
    group = xosc.ManeuverGroup("CutInGroup")
    group.add_actor("cutter")
    group.add_maneuver(maneuver)
    act = xosc.Act("CutInAct", xosc.ValueTrigger("start", 0, xosc.ConditionEdge.none,
                                                 xosc.SimulationTimeCondition(0, xosc.Rule.greaterThan)))
    act.add_maneuver_group(group)
    story = xosc.Story("CutInStory")
    story.add_act(act)
    stop = xosc.ValueTrigger("stop", 0, xosc.ConditionEdge.none, xosc.SimulationTimeCondition(12, xosc.Rule.greaterThan),
                             "stop")
    board = xosc.StoryBoard(init, stop)
    board.add_story(story)
    xosc.Scenario("cut-in", "drivesim tests", params, entities, board, xosc.RoadNetwork("road.xodr"), xosc.Catalog(),
                  osc_minor_version=minor).write_xml(str(folder / "cut_in.xosc"))


@pytest.mark.parametrize("minor", [0, 1, 2])
@pytest.mark.parametrize("headway", [0.3, 0.6])
def test_scenariogeneration_cut_in_fires_on_time_headway(tmp_path, minor, headway):
    write_cut_in(tmp_path, headway, minor)
    imported = import_openscenario(tmp_path / "cut_in.xosc")
    # cutter 15 m behind the hero (reference points), 4 m/s faster: gap(t) = -15 + 4 t; gap / 20 > headway.
    # OpenSCENARIO 1.0 has no relativeDistanceType: the distance is euclidean, one lane (3.5 m) across.
    along = headway * 20 if minor > 0 else math.sqrt((headway * 20) ** 2 - 3.5 ** 2)
    t_star = (along + 15) / 4
    t_fire = (math.floor(t_star * 10 + 1e-9) + 1) / 10
    assert [(e.time_s, e.event.split("::")[-1]) for e in imported.events] == [(pytest.approx(t_fire), "CutIn")]
    assert imported.scenario.duration_s == pytest.approx(12.1)  # SimulationTime > 12: the first frame after
    sc = imported.scenario
    assert sc.ego.lane == 1 and [a.id for a in sc.agents] == ["cutter"]  # 'hero' is the ego (CARLA's name)
    lat, _, _, _ = ScenarioEngine(sc).named_trajectory("cutter", np.array([t_fire, t_fire + 1, t_fire + 2]))
    assert lat == pytest.approx([2.5 * 3.5, 2.0 * 3.5, 1.5 * 3.5])  # linear over 2 s into the hero's lane

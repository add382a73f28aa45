"""Held-out evaluation scenarios, their day/night and no-agents variants, and running one through a pipeline.

The scenarios are written here by hand (layouts `random_scenarios.py` does not produce: a close
convoy, a cut-in right in front of the camera, a bus pulling out) with fixed seeds outside the
training data's draws, so `drivesim eval` measures generalisation to scenarios it was not trained on.
Each has named agents close enough to the camera that their boxes cover a fair share of the frame
(box adherence) and a time of day that `with_time_of_day` flips (luminance ratio). The controllability
splits also hold scenarios on the world's roads (bends with clothoids, junction turns on the example
crossing, two-way roads with oncoming traffic), each tagged with its road types (ROAD_TYPES_RULE).

    python -c "from drivesim.eval.scenarios import held_out_scenarios; \
[print(s.name, s.duration_s, len(s.agents)) for s in held_out_scenarios(3)]"
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from drivesim.data.random_scenarios import JUNCTION_ROAD_FILE
from drivesim.errors import DrivesimError
from drivesim.scenario.format import Scenario
from drivesim.scenario.labels import FrameConditions

__all__ = ["HELD_OUT", "CONTROLLABILITY", "CONTROLLABILITY_TEST", "SPLITS", "ROAD_TYPES", "ROAD_TYPES_RULE",
           "JUNCTION_ROAD", "road_types", "split_by_road", "held_out_scenarios", "controllability_scenarios",
           "without_named_agents", "GeneratedVideo", "generate_video"]

# The road types the controllability section reports rows for. A scenario carries every tag that applies
# (written by hand beside it, `road_types`; none written: straight), so a scenario can count in several rows:
ROAD_TYPES = ("straight", "curve", "junction", "oncoming")
ROAD_TYPES_RULE = ("curve: the ego drives through or towards a bend (arc, clothoid) in the clip; junction: its "
                   "route crosses a junction; oncoming: named road users drive towards the camera in oncoming "
                   "lanes; straight: none of these (version 1's road)")
# The example crossing (scenarios/roads/crossing.xodr: two two-way roads, one lane each way), by its absolute
# path in the checkout, as the `world` mix of the training data finds it: eval works from any folder.
JUNCTION_ROAD = str(JUNCTION_ROAD_FILE)

# Plain scenario data (the YAML schema v1 as dicts); camera and duration are set by held_out_scenarios.
HELD_OUT: tuple[dict[str, Any], ...] = (
    dict(name="eval_convoy_cut_in", seed=910_001,
         environment=dict(time_of_day="day", crowdedness=0.25), road=dict(lanes=3, lane_width_m=3.5),
         ego=dict(lane=1, speed_mps=14),
         agents=[dict(id="lead", type="car", lane=1, distance_m=14, speed_mps=13),
                 dict(id="truck", type="truck", lane=2, distance_m=18, speed_mps=12.5),
                 dict(id="cutter", type="car", lane=0, distance_m=10, speed_mps=15.5,
                      actions=[dict(at_s=1.0, lane_change_to=1, duration_s=2.0)])]),
    dict(name="eval_bus_pull_out", seed=910_002,
         environment=dict(time_of_day="day", crowdedness=0.4), road=dict(lanes=2, lane_width_m=3.2),
         ego=dict(lane=1, speed_mps=9),
         agents=[dict(id="bus", type="bus", lane=0, distance_m=16, speed_mps=2,
                      actions=[dict(at_s=0.5, speed_mps=8, duration_s=2.5)]),
                 dict(id="cyclist", type="cyclist", lateral_m=6.0, distance_m=11, speed_mps=6),
                 dict(id="van", type="car", lane=1, distance_m=20, speed_mps=8.5)]),
    dict(name="eval_highway_trucks", seed=910_003,
         environment=dict(time_of_day="day", crowdedness=0.15), road=dict(lanes=4, lane_width_m=3.75),
         ego=dict(lane=2, speed_mps=25),
         agents=[dict(id="truck_a", type="truck", lane=1, distance_m=15, speed_mps=22),
                 dict(id="truck_b", type="truck", lane=3, distance_m=22, speed_mps=23),
                 dict(id="moto", type="motorcycle", lane=2, distance_m=-6, speed_mps=31,
                      actions=[dict(at_s=0.5, lane_change_to=1, duration_s=1.5)])]),
)


# The controllability section's scenarios (controllability.py), each run as day and as
# night: the first four cover every case (a close cut-in, near adjacent cars, trucks and a bus,
# pedestrians, cyclists, motorcycles) and are what --quick runs; then the three above and day lead
# traffic. Seeds 920_001.. are hand-picked, not drawn by random_scenarios.py.
CONTROLLABILITY: tuple[dict[str, Any], ...] = (
    dict(name="ctl_close_cut_in", seed=920_001,
         environment=dict(time_of_day="day", crowdedness=0.2), road=dict(lanes=3, lane_width_m=3.5),
         ego=dict(lane=1, speed_mps=13),
         agents=[dict(id="cutter", type="car", lane=2, distance_m=8, speed_mps=14,
                      actions=[dict(at_s=0.2, lane_change_to=1, duration_s=1.5)]),
                 dict(id="truck", type="truck", lane=0, distance_m=16, speed_mps=12.5),
                 dict(id="lead", type="car", lane=1, distance_m=24, speed_mps=13)]),
    dict(name="ctl_near_adjacent", seed=920_002,
         environment=dict(time_of_day="day", crowdedness=0.15), road=dict(lanes=3, lane_width_m=3.4),
         ego=dict(lane=1, speed_mps=12),
         agents=[dict(id="left", type="car", lane=0, distance_m=7, speed_mps=12.2),
                 dict(id="right", type="car", lane=2, distance_m=10, speed_mps=11.8),
                 dict(id="moto", type="motorcycle", lane=1, distance_m=15, speed_mps=12.5)]),
    dict(name="ctl_pedestrians", seed=920_003,
         environment=dict(time_of_day="day", crowdedness=0.3), road=dict(lanes=2, lane_width_m=3.2),
         ego=dict(lane=1, speed_mps=4),
         agents=[dict(id="crossing", type="pedestrian", lateral_m=-1.5, distance_m=14, speed_mps=0,
                      actions=[dict(at_s=0.2, lateral_m=7.9, duration_s=6.0)]),
                 dict(id="walker", type="pedestrian", lateral_m=7.8, distance_m=10, speed_mps=1.2),
                 dict(id="waiting", type="pedestrian", lateral_m=-1.8, distance_m=20, speed_mps=0)]),
    dict(name="ctl_bus_cyclists", seed=920_004,
         environment=dict(time_of_day="day", crowdedness=0.25), road=dict(lanes=2, lane_width_m=3.5),
         ego=dict(lane=0, speed_mps=8),
         agents=[dict(id="bus", type="bus", lane=1, distance_m=18, speed_mps=7),
                 dict(id="cyclist_a", type="cyclist", lateral_m=6.2, distance_m=9, speed_mps=5.5),
                 dict(id="cyclist_b", type="cyclist", lateral_m=6.3, distance_m=22, speed_mps=6),
                 dict(id="moto", type="motorcycle", lane=0, distance_m=20, speed_mps=8.5)]),
    *HELD_OUT,
    dict(name="ctl_lead_traffic", seed=920_005,
         environment=dict(time_of_day="day", crowdedness=0.35), road=dict(lanes=2, lane_width_m=3.5),
         ego=dict(lane=0, speed_mps=11),
         agents=[dict(id="lead", type="car", lane=0, distance_m=12, speed_mps=10.5),
                 dict(id="second", type="car", lane=0, distance_m=22, speed_mps=10.5),
                 dict(id="beside", type="car", lane=1, distance_m=14, speed_mps=11.5)]),
    # The world (road_types: ROAD_TYPES_RULE): bends of both directions and several radii with clothoids,
    # junction turns on the example crossing, two-way roads with oncoming traffic. Seeds 925_001.. .
    # The first is what --quick adds (curve and oncoming in one scenario).
    dict(name="ctl_left_bend_oncoming", seed=925_001, road_types=("curve", "oncoming"),
         environment=dict(time_of_day="day", crowdedness=0.2),
         road=dict(lanes=2, oncoming_lanes=1, lane_width_m=3.5, segments=[
             dict(straight=50), dict(clothoid=dict(length=30, curvature_start=0, curvature_end=1 / 120)),
             dict(arc=dict(length=160, radius=120)),
             dict(clothoid=dict(length=30, curvature_start=1 / 120, curvature_end=0)), dict(straight=200)]),
         ego=dict(position=dict(road="main", lane=-1, s=45), speed_mps=11),
         agents=[dict(id="lead", type="car", lane=0, distance_m=13, speed_mps=11),
                 dict(id="oncoming_truck", type="truck", position=dict(road="main", lane=1, s=90), speed_mps=9),
                 dict(id="oncoming_moto", type="motorcycle", position=dict(road="main", lane=1, s=120),
                      speed_mps=12),
                 dict(id="cyclist", type="cyclist", lateral_m=6.4, distance_m=17, speed_mps=5)]),
    dict(name="ctl_tight_right_bend", seed=925_002, road_types=("curve",),
         environment=dict(time_of_day="day", crowdedness=0.25),
         road=dict(lanes=2, lane_width_m=3.4, segments=[
             dict(straight=40), dict(clothoid=dict(length=20, curvature_start=0, curvature_end=-1 / 60)),
             dict(arc=dict(length=80, radius=-60)),
             dict(clothoid=dict(length=20, curvature_start=-1 / 60, curvature_end=0)), dict(straight=200)]),
         ego=dict(position=dict(road="main", lane=-2, s=38), speed_mps=8),
         agents=[dict(id="moto", type="motorcycle", lane=1, distance_m=11, speed_mps=8),
                 dict(id="bus", type="bus", lane=0, distance_m=17, speed_mps=7.5),
                 dict(id="walker", type="pedestrian", lateral_m=8.2, distance_m=14, speed_mps=1.3)]),
    dict(name="ctl_junction_left_turn", seed=925_003, road_types=("junction", "oncoming"),
         environment=dict(time_of_day="day", crowdedness=0.2), road=dict(opendrive=JUNCTION_ROAD),
         ego=dict(position=dict(road="3", lane=-1, s=82), route=["3", "1"], speed_mps=6,
                  actions=[dict(at_s=0.5, speed_mps=4, duration_s=1.5)]),
         agents=[dict(id="oncoming_car", type="car", position=dict(road="4", lane=1, s=14), route=["4", "3"],
                      speed_mps=7),
                 dict(id="crossing_cyclist", type="cyclist", position=dict(road="2", lane=1, s=8), route=["2", "4"],
                      speed_mps=5),
                 dict(id="pedestrian", type="pedestrian", position=dict(road="1", lane=-1, s=95, offset=6.5),
                      actions=[dict(at_s=0.2, lateral_m=4.75, duration_s=6.0)])]),
    dict(name="ctl_two_way_street", seed=925_004, road_types=("oncoming",),
         environment=dict(time_of_day="day", crowdedness=0.3),
         road=dict(lanes=1, oncoming_lanes=1, lane_width_m=3.3, segments=[dict(straight=400)]),
         ego=dict(lane=0, speed_mps=6, actions=[dict(at_s=0.3, speed_mps=2, duration_s=1.5)]),
         agents=[dict(id="oncoming_car", type="car", position=dict(road="main", lane=1, s=26), speed_mps=6),
                 dict(id="oncoming_bus", type="bus", position=dict(road="main", lane=1, s=50), speed_mps=7),
                 dict(id="crossing", type="pedestrian", lateral_m=5.0, distance_m=16, speed_mps=0,
                      actions=[dict(at_s=0.2, lateral_m=-1.5, duration_s=5.0)]),
                 dict(id="cyclist", type="cyclist", lateral_m=3.0, distance_m=12, speed_mps=6.5)]),
    dict(name="ctl_gentle_left_bend", seed=925_005, road_types=("curve",),
         environment=dict(time_of_day="day", crowdedness=0.15),
         road=dict(lanes=3, lane_width_m=3.6, segments=[
             dict(straight=60), dict(clothoid=dict(length=60, curvature_start=0, curvature_end=1 / 500)),
             dict(arc=dict(length=250, radius=500)),
             dict(clothoid=dict(length=60, curvature_start=1 / 500, curvature_end=0)), dict(straight=300)]),
         ego=dict(position=dict(road="main", lane=-2, s=70), speed_mps=20),
         agents=[dict(id="truck", type="truck", lane=2, distance_m=15, speed_mps=18.5),
                 dict(id="cutter", type="car", lane=0, distance_m=9, speed_mps=21.5,
                      actions=[dict(at_s=0.3, lane_change_to=1, duration_s=1.5)]),
                 dict(id="lead", type="car", lane=1, distance_m=24, speed_mps=20)]),
    dict(name="ctl_junction_straight", seed=925_006, road_types=("junction",),
         environment=dict(time_of_day="day", crowdedness=0.25), road=dict(opendrive=JUNCTION_ROAD),
         ego=dict(position=dict(road="1", lane=-1, s=78), route=["1", "2"], speed_mps=7),
         agents=[dict(id="crossing_car", type="car", position=dict(road="4", lane=1, s=9), route=["4", "3"],
                      speed_mps=6),
                 dict(id="waiting", type="pedestrian", position=dict(road="1", lane=-1, s=97, offset=-3.0)),
                 dict(id="lead_moto", type="motorcycle", position=dict(road="1", lane=-1, s=90), route=["1", "2"],
                      speed_mps=7.5)]),
)


# The test split of the controllability section: hand-written layouts of their own and seeds of their own
# (940_001..), every road-user type, each run day and night. No model, sampling or setting choice was
# made on them; the verdict is reported on them (`drivesim eval --split test`), the choices were made on
# CONTROLLABILITY above (the validation split). The first four cover every type and are what --quick runs.
CONTROLLABILITY_TEST: tuple[dict[str, Any], ...] = (
    dict(name="test_merge_from_right", seed=940_001,
         environment=dict(time_of_day="day", crowdedness=0.2), road=dict(lanes=3, lane_width_m=3.6),
         ego=dict(lane=1, speed_mps=16),
         agents=[dict(id="merger", type="car", lane=2, distance_m=11, speed_mps=17,
                      actions=[dict(at_s=0.4, lane_change_to=1, duration_s=2.2)]),
                 dict(id="bus", type="bus", lane=0, distance_m=20, speed_mps=15),
                 dict(id="moto", type="motorcycle", lane=2, distance_m=24, speed_mps=16.5)]),
    dict(name="test_school_crossing", seed=940_002,
         environment=dict(time_of_day="day", crowdedness=0.35), road=dict(lanes=2, lane_width_m=3.3),
         ego=dict(lane=0, speed_mps=3),
         agents=[dict(id="child", type="pedestrian", lateral_m=7.2, distance_m=12, speed_mps=0,
                      actions=[dict(at_s=0.3, lateral_m=-1.2, duration_s=5.0)]),
                 dict(id="parent", type="pedestrian", lateral_m=7.6, distance_m=13, speed_mps=0.5),
                 dict(id="cyclist", type="cyclist", lateral_m=-1.0, distance_m=9, speed_mps=4)]),
    dict(name="test_truck_overtake", seed=940_003,
         environment=dict(time_of_day="day", crowdedness=0.1), road=dict(lanes=3, lane_width_m=3.75),
         ego=dict(lane=2, speed_mps=22),
         agents=[dict(id="truck", type="truck", lane=1, distance_m=16, speed_mps=20.5),
                 dict(id="overtaker", type="car", lane=1, distance_m=-8, speed_mps=26,
                      actions=[dict(at_s=0.5, lane_change_to=0, duration_s=1.5)]),
                 dict(id="lead", type="car", lane=2, distance_m=26, speed_mps=22)]),
    dict(name="test_city_mix", seed=940_004,
         environment=dict(time_of_day="day", crowdedness=0.45), road=dict(lanes=2, lane_width_m=3.2),
         ego=dict(lane=1, speed_mps=7),
         agents=[dict(id="cyclist", type="cyclist", lateral_m=6.1, distance_m=13, speed_mps=5),
                 dict(id="moto", type="motorcycle", lane=0, distance_m=10, speed_mps=8),
                 dict(id="walker", type="pedestrian", lateral_m=-1.6, distance_m=15, speed_mps=1.3),
                 dict(id="van", type="car", lane=1, distance_m=17, speed_mps=6.5)]),
    dict(name="test_braking_convoy", seed=940_005,
         environment=dict(time_of_day="day", crowdedness=0.2), road=dict(lanes=2, lane_width_m=3.5),
         ego=dict(lane=0, speed_mps=15),
         agents=[dict(id="lead", type="car", lane=0, distance_m=15, speed_mps=15,
                      actions=[dict(at_s=1.0, speed_mps=9, duration_s=2.0)]),
                 dict(id="second", type="truck", lane=0, distance_m=28, speed_mps=15),
                 dict(id="beside", type="car", lane=1, distance_m=9, speed_mps=15.5)]),
    dict(name="test_bus_stop", seed=940_006,
         environment=dict(time_of_day="day", crowdedness=0.3), road=dict(lanes=2, lane_width_m=3.4),
         ego=dict(lane=1, speed_mps=8),
         agents=[dict(id="bus", type="bus", lane=0, distance_m=14, speed_mps=0),
                 dict(id="boarding", type="pedestrian", lateral_m=-1.4, distance_m=12, speed_mps=0),
                 dict(id="cyclist", type="cyclist", lateral_m=7.4, distance_m=16, speed_mps=5.5)]),
    dict(name="test_motorway_bikes", seed=940_007,
         environment=dict(time_of_day="day", crowdedness=0.15), road=dict(lanes=4, lane_width_m=3.7),
         ego=dict(lane=1, speed_mps=27),
         agents=[dict(id="moto_a", type="motorcycle", lane=1, distance_m=13, speed_mps=27),
                 dict(id="moto_b", type="motorcycle", lane=2, distance_m=8, speed_mps=29,
                      actions=[dict(at_s=1.0, lane_change_to=1, duration_s=1.2)]),
                 dict(id="truck", type="truck", lane=3, distance_m=18, speed_mps=24)]),
    dict(name="test_queue", seed=940_008,
         environment=dict(time_of_day="day", crowdedness=0.4), road=dict(lanes=3, lane_width_m=3.3),
         ego=dict(lane=1, speed_mps=5),
         agents=[dict(id="front", type="car", lane=1, distance_m=9, speed_mps=4.5),
                 dict(id="left", type="car", lane=0, distance_m=12, speed_mps=5),
                 dict(id="right", type="bus", lane=2, distance_m=16, speed_mps=4)]),
    # The world, as in CONTROLLABILITY: seeds 945_001..; the first is what --quick adds.
    dict(name="test_right_bend_oncoming", seed=945_001, road_types=("curve", "oncoming"),
         environment=dict(time_of_day="day", crowdedness=0.2),
         road=dict(lanes=1, oncoming_lanes=1, lane_width_m=3.4, segments=[
             dict(straight=40), dict(clothoid=dict(length=40, curvature_start=0, curvature_end=-1 / 200)),
             dict(arc=dict(length=180, radius=-200)),
             dict(clothoid=dict(length=40, curvature_start=-1 / 200, curvature_end=0)), dict(straight=200)]),
         ego=dict(position=dict(road="main", lane=-1, s=40), speed_mps=10),
         agents=[dict(id="cyclist", type="cyclist", lateral_m=2.6, distance_m=14, speed_mps=8.5),
                 dict(id="oncoming_car", type="car", position=dict(road="main", lane=1, s=85), speed_mps=11),
                 dict(id="oncoming_bus", type="bus", position=dict(road="main", lane=1, s=115), speed_mps=9),
                 dict(id="walker", type="pedestrian", lateral_m=5.2, distance_m=18, speed_mps=1.2)]),
    dict(name="test_s_bend", seed=945_002, road_types=("curve",),
         environment=dict(time_of_day="day", crowdedness=0.2),
         road=dict(lanes=2, lane_width_m=3.5, segments=[
             dict(straight=45), dict(clothoid=dict(length=25, curvature_start=0, curvature_end=1 / 90)),
             dict(arc=dict(length=40, radius=90)),
             dict(clothoid=dict(length=50, curvature_start=1 / 90, curvature_end=-1 / 150)),
             dict(arc=dict(length=60, radius=-150)),
             dict(clothoid=dict(length=25, curvature_start=-1 / 150, curvature_end=0)), dict(straight=200)]),
         ego=dict(position=dict(road="main", lane=-1, s=40), speed_mps=12),
         agents=[dict(id="lead", type="car", lane=0, distance_m=14, speed_mps=12),
                 dict(id="truck", type="truck", lane=1, distance_m=19, speed_mps=11),
                 dict(id="moto", type="motorcycle", lane=1, distance_m=8, speed_mps=13.5,
                      actions=[dict(at_s=0.4, lane_change_to=0, duration_s=1.2)])]),
    dict(name="test_junction_right_turn", seed=945_003, road_types=("junction", "oncoming"),
         environment=dict(time_of_day="day", crowdedness=0.2), road=dict(opendrive=JUNCTION_ROAD),
         ego=dict(position=dict(road="1", lane=-1, s=84), route=["1", "3"], speed_mps=6,
                  actions=[dict(at_s=0.3, speed_mps=4, duration_s=1.5)]),
         agents=[dict(id="oncoming_car", type="car", position=dict(road="2", lane=1, s=8), route=["2", "1"],
                      speed_mps=7),
                 dict(id="crossing_bus", type="bus", position=dict(road="3", lane=-1, s=92), route=["3", "4"],
                      speed_mps=6),
                 dict(id="pedestrian", type="pedestrian", position=dict(road="3", lane=-1, s=94, offset=-3.0),
                      actions=[dict(at_s=0.2, lateral_m=-4.75, duration_s=6.0)])]),
    dict(name="test_two_way_village", seed=945_004, road_types=("oncoming",),
         environment=dict(time_of_day="day", crowdedness=0.35),
         road=dict(lanes=1, oncoming_lanes=2, lane_width_m=3.2, segments=[dict(straight=400)]),
         ego=dict(lane=0, speed_mps=6),
         agents=[dict(id="oncoming_truck", type="truck", position=dict(road="main", lane=1, s=32), speed_mps=7),
                 dict(id="oncoming_moto", type="motorcycle", position=dict(road="main", lane=2, s=22), speed_mps=9),
                 dict(id="lead_cyclist", type="cyclist", lateral_m=2.4, distance_m=11, speed_mps=5.5),
                 dict(id="waiting", type="pedestrian", lateral_m=4.6, distance_m=15, speed_mps=0)]),
    dict(name="test_tight_left_bend", seed=945_005, road_types=("curve",),
         environment=dict(time_of_day="day", crowdedness=0.25),
         road=dict(lanes=2, lane_width_m=3.3, segments=[
             dict(straight=35), dict(clothoid=dict(length=20, curvature_start=0, curvature_end=1 / 50)),
             dict(arc=dict(length=70, radius=50)),
             dict(clothoid=dict(length=20, curvature_start=1 / 50, curvature_end=0)), dict(straight=200)]),
         ego=dict(position=dict(road="main", lane=-1, s=32), speed_mps=7),
         agents=[dict(id="bus", type="bus", lane=1, distance_m=14, speed_mps=6.5),
                 dict(id="lead", type="car", lane=0, distance_m=11, speed_mps=7),
                 dict(id="walker", type="pedestrian", lateral_m=-1.5, distance_m=12, speed_mps=1.4)]),
    dict(name="test_junction_straight", seed=945_006, road_types=("junction",),
         environment=dict(time_of_day="day", crowdedness=0.25), road=dict(opendrive=JUNCTION_ROAD),
         ego=dict(position=dict(road="3", lane=-1, s=80), route=["3", "4"], speed_mps=6,
                  actions=[dict(at_s=0.2, speed_mps=1, duration_s=1.5)]),  # waits for the pedestrian
         agents=[dict(id="crossing_cyclist", type="cyclist", position=dict(road="2", lane=1, s=10), route=["2", "1"],
                      speed_mps=5),
                 dict(id="crossing_moto", type="motorcycle", position=dict(road="1", lane=-1, s=88),
                      route=["1", "2"], speed_mps=6),
                 dict(id="pedestrian", type="pedestrian", position=dict(road="3", lane=-1, s=96, offset=-3.0),
                      actions=[dict(at_s=0.3, lateral_m=-4.75, duration_s=6.0)])]),
)
SPLITS = {"validation": CONTROLLABILITY, "test": CONTROLLABILITY_TEST}


def road_types(data: dict[str, Any]) -> tuple[str, ...]:
    """The road-type tags of a scenario of the tables above (ROAD_TYPES_RULE); untagged: ("straight",)."""
    return tuple(data.get("road_types", ("straight",)))


def _scenarios(table: Sequence[dict[str, Any]], count: int, duration_s: float, width: int, height: int,
               fps: float, what: str) -> list[Scenario]:
    if not 0 <= count <= len(table):
        raise DrivesimError(f"there are {len(table)} {what} scenarios; asked for {count}")
    out = []
    for data in table[:count]:
        opendrive = data.get("road", {}).get("opendrive")
        if opendrive and not Path(opendrive).is_file():
            raise DrivesimError(f"the {what} scenario {data['name']} drives on {opendrive}, which is missing; run "
                                "from a source checkout of drivesim (the example roads are in scenarios/roads/)")
        full = {k: v for k, v in data.items() if k != "road_types"}
        full.update(version=1, duration_s=float(duration_s), fps=float(fps),
                    camera=dict(width=int(width), height=int(height), fov_deg=90))
        out.append(Scenario.model_validate(full))
    return out


def held_out_scenarios(count: int, duration_s: float = 4.0, width: int = 512, height: int = 256,
                       fps: float = 10.0) -> list[Scenario]:
    """The first `count` held-out scenarios at the given camera size, duration and frame rate."""
    return _scenarios(HELD_OUT, count, duration_s, width, height, fps, "held-out evaluation")


def controllability_scenarios(count: int, duration_s: float = 4.0, width: int = 512, height: int = 256,
                              fps: float = 10.0, split: str = "validation", world: int = 0) -> list[Scenario]:
    """The first `count` straight-road scenarios of the controllability section's `split` (SPLITS), then its
    first `world` scenarios of the other road types, as written (day)."""
    if split not in SPLITS:
        raise DrivesimError(f"eval: --split takes {' or '.join(SPLITS)}, got {split!r}")
    straight, others = split_by_road(SPLITS[split])
    if count < 1 and world < 1:
        raise DrivesimError("eval: the controllability section needs at least one scenario")
    return (_scenarios(straight, count, duration_s, width, height, fps, f"controllability {split} straight-road")
            + _scenarios(others, world, duration_s, width, height, fps, f"controllability {split} world"))


def split_by_road(table: Sequence[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A split's scenarios on version 1's straight road, and the others (curves, junctions, oncoming)."""
    straight = [d for d in table if road_types(d) == ("straight",)]
    return straight, [d for d in table if road_types(d) != ("straight",)]


def without_named_agents(scenario: Scenario) -> Scenario:
    """The same scenario with no named agents (background traffic, road, seed and camera unchanged)."""
    data = scenario.model_dump(mode="json")
    data["agents"] = []
    data["name"] = f"{scenario.name}_no_agents"
    return Scenario.model_validate(data)


@dataclass
class GeneratedVideo:
    """One generation run: frames (T, H, W, 3) uint8 RGB at the camera's size, their labels, wall time."""

    name: str
    frames: np.ndarray
    labels: list[FrameConditions]
    seconds: float
    keyframe_clips: int


def generate_video(bundle, scenario: Scenario, options, session_steps: int | None = None) -> GeneratedVideo:
    """Run `scenario` through a VideoPipeline on `bundle` with GenerateOptions `options`; timed from the
    first pulled frame to the last (model loading excluded). `session_steps` N: through a closed-loop
    session instead, the scenario's conditions sent N frames per step (what a simulator gets)."""
    from drivesim.pipeline import VideoPipeline
    from drivesim.scenario.engine import ScenarioEngine

    pipeline = VideoPipeline(bundle, options)
    start = time.perf_counter()
    frames, labels = [], []
    if session_steps:
        plan = list(ScenarioEngine(scenario, seed=options.seed).frames())
        session = pipeline.session(scenario)
        for k in range(0, len(plan), session_steps):
            frames += session.step(plan[k:k + session_steps])
        labels, stats = plan, session.stats
    else:
        for frame in pipeline.frames(scenario):
            frames.append(frame.image)
            labels.append(frame.labels)
        stats = pipeline.run.stats
    seconds = time.perf_counter() - start
    return GeneratedVideo(name=scenario.name, frames=np.stack(frames), labels=labels, seconds=seconds,
                          keyframe_clips=stats.keyframe_clips)

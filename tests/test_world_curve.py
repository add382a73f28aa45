"""Curved roads and oncoming traffic: lanes kept through a bend, the camera turning with the ego, labels
that are the world poses seen from the camera, oncoming lanes driven towards the camera.

    python -m pytest tests/test_world_curve.py -q
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from drivesim.road import Projector
from drivesim.scenario.camera import EgoPose, world_to_ego
from drivesim.scenario.engine import ScenarioEngine
from drivesim.scenario.format import Scenario
from drivesim.scenario.lane_path import follow_lane
from drivesim.scenario.loader import load_scenario, parse_scenario
from drivesim.scenario.motion import EntityMotion
from drivesim.scenario.network import is_straight_road, scenario_network, scenario_world

BEND = [{"straight": 30}, {"clothoid": {"length": 30, "curvature_start": 0, "curvature_end": 0.01}},
        {"arc": {"length": 300, "radius": 100}}, {"straight": 300}]


def curve(agents=(), crowdedness=0.0, oncoming=1, ego=None, duration_s=8.0, traffic="right") -> Scenario:
    return Scenario.model_validate({
        "name": "curve", "seed": 3, "duration_s": duration_s, "fps": 10,
        "environment": {"crowdedness": crowdedness},
        "road": {"lanes": 2, "oncoming_lanes": oncoming, "segments": BEND, "traffic": traffic},
        "ego": ego or {"position": {"road": "main", "lane": -1, "s": 20}, "speed_mps": 12},
        "agents": list(agents),
    })


def test_an_agent_keeps_its_lane_through_the_bend():
    agents = [{"id": "right_lane", "type": "car", "lane": 1, "distance_m": 15, "speed_mps": 13},
              {"id": "oncoming", "type": "truck", "position": {"road": "main", "lane": 1, "s": 150}, "speed_mps": 10}]
    engine = ScenarioEngine(curve(agents))
    projector = Projector(engine.world.network)
    lanes = {"right_lane": -2, "oncoming": 1}
    seen = {k: 0 for k in lanes}
    for fc in engine.frames():
        for box in fc.boxes:
            if box.track_id not in lanes:
                continue
            pose = box.world_pose
            point = projector.project(pose.x, pose.y, pose.heading)
            assert point.lane == lanes[box.track_id] and abs(point.offset) < 0.3, (fc.index, box.track_id, point)
            lane_heading = engine.world.network.roads["main"].lane_to_world(point.lane, point.s).heading
            assert abs(math.remainder(pose.heading - lane_heading, 2 * math.pi)) < math.radians(3)
            seen[box.track_id] += 1
    assert min(seen.values()) > 20


def test_boxes_are_the_world_poses_seen_from_the_ego_camera():
    engine = ScenarioEngine(curve([{"id": "a", "type": "car", "lane": 0, "distance_m": 25, "speed_mps": 10}],
                                  crowdedness=0.6))
    checked = 0
    for index in (0, 30, 79):
        fc = engine.frame(index)
        ego = EgoPose(*fc.ego_pose)
        for box in fc.boxes:
            p = box.world_pose
            road_frame = world_to_ego(np.array([p.x, p.y, p.z]), ego)
            assert engine.camera.road_to_camera(road_frame) == pytest.approx(box.location_m, abs=1e-6)
            checked += 1
    assert checked > 5


def test_the_camera_turns_with_the_ego_and_keeps_the_lead_near_the_centre():
    lead = {"id": "lead", "type": "car", "lane": 0, "distance_m": 15, "speed_mps": 12}
    frames = list(ScenarioEngine(curve([lead], duration_s=15.0)).frames())
    turned = frames[-1].ego_pose.heading - frames[0].ego_pose.heading
    assert turned > 1.0  # the ego has come ~60 degrees round the bend
    for fc in frames:
        box = next(b for b in fc.boxes if b.track_id == "lead")
        centre = (box.bbox_xyxy[0] + box.bbox_xyxy[2]) / 2
        assert abs(centre - fc.width / 2) < 40, (fc.index, centre)  # 15 m ahead on a 100 m radius: ~1.1 m left


def test_background_traffic_drives_its_lanes_in_both_directions():
    engine = ScenarioEngine(curve(crowdedness=1.0))
    projector = Projector(engine.world.network)
    road = engine.world.network.roads["main"]
    directions = set()
    for index in range(0, engine.num_frames, 5):
        for box in engine.frame(index).boxes:
            if box.type in ("pedestrian", "cyclist"):
                continue
            p = box.world_pose
            point = projector.project(p.x, p.y, p.heading)
            if point.lane is None:
                continue
            lane_heading = road.lane_to_world(point.lane, point.s).heading
            assert abs(math.remainder(p.heading - lane_heading, 2 * math.pi)) < math.radians(3), (index, box.track_id)
            directions.add(road.direction(point.lane))
    assert directions == {1, -1}


def test_oncoming_traffic_on_a_straight_two_way_road_faces_the_camera():
    scenario = Scenario.model_validate({
        "name": "two_way", "seed": 1, "duration_s": 4, "environment": {"crowdedness": 1.0},
        "road": {"lanes": 1, "oncoming_lanes": 2}, "ego": {"lane": 0, "speed_mps": 10}})
    engine = ScenarioEngine(scenario)
    found = 0
    for fc in engine.frames():
        for box in fc.boxes:
            if box.type in ("pedestrian", "cyclist"):
                continue
            x = box.location_m[0]
            if x < -1.75:  # left of the ego's lane: the oncoming lanes
                assert box.rotation_y == pytest.approx(math.pi / 2, abs=1e-9)
                found += 1
            else:
                assert box.rotation_y == pytest.approx(-math.pi / 2, abs=1e-9)
    assert found > 10


def test_left_hand_traffic_puts_the_oncoming_lanes_on_the_right():
    engine = ScenarioEngine(Scenario.model_validate({
        "name": "lht", "seed": 2, "duration_s": 8, "environment": {"crowdedness": 1.0},
        "road": {"lanes": 2, "oncoming_lanes": 1, "traffic": "left", "segments": [{"straight": 600}]},
        "ego": {"lane": 0, "speed_mps": 10}}))
    assert engine.world.traffic.oncoming[0] > engine.world.traffic.forward[-1]
    assert engine.frame(0).ego_pose.y == pytest.approx(5.25)  # left-hand traffic: the ego's lanes are left lanes
    oncoming = [b for i in range(0, 80, 10) for b in engine.frame(i).boxes if b.rotation_y > 0 and b.type == "car"]
    assert oncoming and all(b.location_m[0] > 0 for b in oncoming)


def test_a_pedestrian_crosses_both_directions_of_a_two_way_road():
    engine = ScenarioEngine(load_scenario("scenarios/pedestrian_crossing_two_way.yaml"))
    lateral, _, _, heading = engine.named_trajectory("crossing_pedestrian", np.arange(0, 10, 0.1))
    assert lateral[0] == pytest.approx(-5.5) and lateral[-1] == pytest.approx(9.0, abs=0.01)
    assert np.all(np.diff(lateral) >= -1e-9)
    assert heading[50] == pytest.approx(math.pi / 2)  # walking straight across, to the right
    xs = [b.location_m[0] for fc in engine.frames() for b in fc.boxes if b.track_id == "crossing_pedestrian"]
    assert xs[0] < -9 and max(xs) > 2


def test_the_straight_road_check_and_the_network():
    assert is_straight_road(load_scenario("scenarios/lead_brake.yaml"))
    assert not is_straight_road(load_scenario("scenarios/curve_oncoming.yaml"))
    assert not is_straight_road(curve(oncoming=0))
    assert is_straight_road(Scenario.model_validate({"name": "s", "duration_s": 1, "road": {"segments": [{"straight": 50}]}}))
    network = scenario_network(load_scenario("scenarios/lead_brake.yaml"))
    assert list(network.roads) == ["main"] and network.roads["main"].length > 700


def test_version1_labels_carry_no_world_keys_but_curved_ones_do():
    plain = ScenarioEngine(load_scenario("scenarios/lead_brake.yaml")).frame(0).to_json()
    assert "ego_pose" not in plain and all("world_pose" not in b for b in plain["boxes"])
    bent = ScenarioEngine(load_scenario("scenarios/curve_oncoming.yaml")).frame(0).to_json()
    assert set(bent["ego_pose"]) == {"x", "y", "z", "heading", "pitch"}
    assert all("world_pose" in b for b in bent["boxes"])


def test_lane_path_poses_match_the_road_model():
    network = scenario_network(curve())
    path = follow_lane(network, "main", -2, 10.0, None, 500.0)
    road = network.roads["main"]
    for s in (10.0, 45.0, 200.0):
        for offset in (0.0, 0.8):
            want = road.lane_to_world(-2, s, offset)
            got = path.poses(path.u_start + s - 10.0, -offset)
            assert [float(v) for v in got] == pytest.approx(list(want), abs=1e-9)


def test_a_bend_tighter_than_its_lanes_is_located():
    from drivesim.scenario.loader import validate_scenario_text
    text = ("name: x\nduration_s: 2\nroad:\n  lanes: 3\n  segments:\n    - straight: 10\n"
            "    - arc: {length: 20, radius: -8}\n")
    issues = validate_scenario_text(text, "x.yaml")
    assert [(i.key_path, i.line) for i in issues] == [("road.segments[1].arc.radius", 7)]
    assert parse_scenario(text.replace("-8", "-30")).road.segments[1].arc.radius == -30


def test_an_entity_turns_with_its_lane_at_the_point_reference_behind_m_behind_its_centre():
    # An arc of radius 50 m turning left from (0, 0) along +x; lane -1's centre circles (0, 50) at 51.75 m,
    # oncoming lane 1's at 48.25 m. d = 1.5 m: at t = 1 s the ego's box centre is at s = 20 + 10 = 30, its
    # reference point at s = 28.5, angle 28.5 / 50 = 0.57 rad round the circle: heading 0.57 (the lane's at the
    # box centre would be 0.6), reference point (51.75 sin 0.57, 50 - 51.75 cos 0.57) = (27.925959, 6.431625),
    # box centre 1.5 m on along the tangent there: (29.188810, 7.241073), sqrt(51.75^2 + 1.5^2) from (0, 50).
    scenario = Scenario.model_validate({
        "name": "arc", "duration_s": 3, "road": {"lanes": 1, "oncoming_lanes": 1,
                                                 "segments": [{"arc": {"length": 200, "radius": 50}}]},
        "ego": {"position": {"road": "main", "lane": -1, "s": 20}, "speed_mps": 10, "reference_behind_m": 1.5},
        "agents": [{"id": "oncoming", "type": "car", "position": {"road": "main", "lane": 1, "s": 100},
                    "speed_mps": 10, "reference_behind_m": 1.5},
                   {"id": "changer", "type": "car", "position": {"road": "main", "lane": -1, "s": 40},
                    "speed_mps": 10, "reference_behind_m": 1.5,
                    "actions": [{"at_s": 0.5, "duration_s": 1.0, "lateral_m": 2.5}]}]})
    world = scenario_world(scenario)
    ego = EntityMotion(world.ego).at(np.array([1.0]))
    assert [float(ego.lane.x[0]), float(ego.lane.y[0])] == pytest.approx([29.188810, 7.241073], abs=1e-6)
    assert float(ego.heading[0]) == pytest.approx(0.57, abs=1e-9)
    assert math.hypot(float(ego.lane.x[0]), float(ego.lane.y[0]) - 50) == pytest.approx(math.hypot(51.75, 1.5))
    assert float(ego.u[0]) == pytest.approx(world.ego.path.u_start + 10)  # u is still the box centre's
    # Oncoming, towards -s: box centre at s = 90, reference point at s = 91.5 (1.83 rad), heading 1.83 - pi;
    # (48.25 sin 1.83, 50 - 48.25 cos 1.83) less 1.5 (cos 1.83, sin 1.83) = (47.022646, 60.917110). The labels'
    # world pose is the same.
    oncoming = next(a for a in ScenarioEngine(scenario).agent_states(1.0) if a.track_id == "oncoming").world
    assert [oncoming.x, oncoming.y] == pytest.approx([47.022646, 60.917110], abs=1e-6)
    assert math.remainder(oncoming.heading - (1.83 - math.pi), 2 * math.pi) == pytest.approx(0.0, abs=1e-9)
    # During a lane change: the lane's heading at (u - d, r) turned by the change's yaw, the centre d on along it
    changer = world.agents[1]
    state = EntityMotion(changer).at(np.array([1.0]))
    reference = changer.path.poses(state.u - 1.5, state.r)
    heading = reference.heading - np.arctan2(state.lateral_rate, state.speed_mps)
    assert abs(float(state.lateral_rate[0])) > 1.0 and float(state.heading[0]) == pytest.approx(float(heading[0]))
    assert [float(state.lane.x[0]), float(state.lane.y[0])] == pytest.approx(
        [float(reference.x[0] + 1.5 * np.cos(heading[0])), float(reference.y[0] + 1.5 * np.sin(heading[0]))])


def test_a_car_that_stops_after_a_lane_change_keeps_its_lane_heading():
    """A finished blend can leave a lateral rate of float noise; at speed 0 atan2 would turn the car 90
    degrees (seen on esmini's cut-in, where the OverTaker brakes to a stop after cutting in)."""
    import math

    from drivesim.scenario.motion import lateral_yaw

    assert lateral_yaw(1e-15, 0.0) == 0.0
    assert lateral_yaw(1.2, 0.0) == pytest.approx(math.pi / 2)  # a pedestrian walking across the road
    assert lateral_yaw(0.5, 10.0) == pytest.approx(math.atan2(0.5, 10.0))
    scenario = Scenario.model_validate(dict(
        name="stop_after_cut_in", duration_s=8.0, road=dict(lanes=2),
        ego=dict(lane=0, speed_mps=0.0),
        agents=[dict(id="car", type="car", lane=1, distance_m=20.0, speed_mps=10.0,
                     actions=[dict(at_s=0.5, lane_change_to=0, duration_s=2.0, shape="linear"),
                              dict(at_s=3.0, speed_mps=0.0, duration_s=2.0)])]))
    engine = ScenarioEngine(scenario)
    car = next(s for s in engine.agent_states(7.0) if s.track_id == "car")
    assert car.speed_mps == 0.0 and abs(car.heading_rad) < 1e-6

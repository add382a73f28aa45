"""OpenSCENARIO on OpenDRIVE road networks: a cut-in on a curved motorway, a left turn across the ego's path
at a crossing with routes and a SynchronizeAction, positions of every kind, refusals located in the file.

    python -m pytest tests/test_openscenario_network.py -q

Kinematics by hand: drivesim's entities advance along their road's reference line (s), so two entities in
neighbouring lanes of a bend keep their s gap; the example catalog's cars have their reference point
1.4 m behind the box centre.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import yaml

from drivesim.errors import ScenarioError
from drivesim.road import Projector
from drivesim.scenario.loader import load_scenario
from drivesim.scenario.motion import EntityMotion
from drivesim.scenario.network import scenario_world
from drivesim.standards.openscenario import ImportOptions, import_openscenario
from openscenario_fixtures import EXAMPLES, car, place, private, speed_action, absolute, xosc

ROADS = EXAMPLES.parent / "roads"


def first_frame_after(t_star: float, fps: float = 10.0) -> float:
    return round((math.floor(t_star * fps + 1e-9) + 1) / fps, 9)


def test_curve_cut_in_fires_on_the_gap_along_the_road_and_the_plan_keeps_lane_centres(tmp_path):
    out = tmp_path / "curve_cut_in.yaml"
    imported = import_openscenario(EXAMPLES / "curve_cut_in.xosc", ImportOptions(output=out))
    t_cut = first_frame_after((10.25 + 20) / (30 - 25))  # gap along s: -20 + 5 t > 10.25
    assert [(e.time_s, e.event.split("::")[-1]) for e in imported.events] == [(t_cut, "CutIn"),
                                                                              (round(t_cut + 3, 9), "SlowDown")]
    out.write_text(imported.yaml)
    assert "opendrive: ../" in imported.yaml  # relative to the written YAML
    scenario = load_scenario(out)  # `drivesim convert` then `drivesim plan`: the road path relative to the YAML
    assert Path(scenario.road.opendrive).resolve() == (ROADS / "motorway_parampoly.xodr").resolve()
    world = scenario_world(scenario)
    times = np.arange(0, scenario.num_frames) / scenario.fps
    projector = Projector(world.network)
    cutter = EntityMotion(world.agents[0]).at(times)
    changing = (times >= t_cut) & (times <= t_cut + 3)
    curved = False
    for k in np.flatnonzero(~changing):
        x, y, heading = float(cutter.lane.x[k]), float(cutter.lane.y[k]), float(cutter.heading[k])
        point = projector.project(x, y, heading)
        lane = -2 if times[k] < t_cut else -3
        assert point.lane == lane and abs(point.offset) < 0.3
        centre = world.network.roads[point.road].lane_to_world(point.lane, point.s)
        assert abs(math.remainder(heading - centre.heading, 2 * math.pi)) < math.radians(3)
        curved |= abs(centre.heading) > 0.05
    assert curved  # the cut-in happens in the bend
    ego = EntityMotion(world.ego).at(times)
    gap = cutter.u - ego.u  # both paths start at s = 0 of road 1: u is s
    # -20 + 5 t at the cut-in, 5 m/s more over the 3 s lane change, 2.5 m/s more on average while slowing (2 s)
    # less half a step of the 5 m/s it loses (esmini moves it by the speed at each step's end: the cubic's
    # 20 steps sum to its integral less 5 * 0.1 / 2)
    assert gap[-1] == pytest.approx(-20 + 5 * t_cut + 5 * 3 + 2.5 * 2 - 5 * 0.1 / 2, abs=1e-6)


def test_left_turn_across_reaches_the_crossing_point_with_the_ego_within_one_frame():
    imported = import_openscenario(EXAMPLES / "left_turn_across.xosc")
    npc = imported.scenario.agents[0]
    assert imported.scenario.ego.route == ["1", "101", "2"] and npc.route == ["2", "105", "3"]
    # hand-computed: the ego's lane (y = -1.75) meets the Npc's lane on road 105 (radius 11.75 about (10, -10))
    # at x = 10 - sqrt(11.75^2 - 8.25^2); the ego drives 80 m of road 1 and x + 10 of road 101 at 10 m/s
    x_cross = 10 - math.sqrt(11.75 ** 2 - 8.25 ** 2)
    t_arrive = (80 + x_cross + 10) / 10.0
    npc_distance = 60 + 10 * math.atan2(10 - x_cross, 8.25)  # road 2 to its start, then s on road 105 (radius 10)
    # as esmini, both aim at their tolerance (1 m) before their points: the ego is there 0.1 s earlier
    t0, arrival = 0.6, t_arrive - 0.6 - 1.0 / 10.0
    need = npc_distance - 8 * t0 - 1.0
    (x, vx), (y, v1) = [(a.duration_s, a.speed_mps) for a in npc.actions]
    # esmini's two ramps: 8 -> vx in x, vx -> 6 in y, the same |acceleration|, covering `need` in `arrival`
    assert v1 == 6.0 and x + y == pytest.approx(arrival, abs=1e-3)
    assert (vx - 8) / x == pytest.approx(-(6 - vx) / y, rel=1e-6)
    assert (8 + vx) / 2 * x + (vx + 6) / 2 * y == pytest.approx(need, abs=5e-3)  # the file's 4 digits, rounding
    world = scenario_world(imported.scenario)
    times = np.arange(0, imported.scenario.num_frames) / imported.scenario.fps
    ego, other = EntityMotion(world.ego).at(times), EntityMotion(world.agents[0]).at(times)
    # reference points 1.4 m behind the box centres, along the heading
    ego_ref = np.hypot(ego.lane.x - 1.4 * np.cos(ego.heading) - x_cross, ego.lane.y - 1.4 * np.sin(ego.heading) + 1.75)
    npc_ref = np.hypot(other.lane.x - 1.4 * np.cos(other.heading) - x_cross,
                       other.lane.y - 1.4 * np.sin(other.heading) + 1.75)
    k_ego, k_npc = int(ego_ref.argmin()), int(npc_ref.argmin())
    assert abs(k_ego - k_npc) <= 1 and abs(times[k_ego] - t_arrive) <= 0.1
    assert ego_ref[k_ego] < 1.0 and npc_ref[k_npc] < 1.0


def test_left_turn_across_turns_with_the_lane_at_the_reference_point_as_the_runner_does():
    """The Npc turns left on road 105 (its reference line a 10 m radius): its heading is the lane's at its
    reference point, 1.4 m (BoundingBox/Center x) behind the box centre: 1.4 / 10 rad less far round than the
    lane at the centre. The runner's states (what conditions read) are the planned YAML's poses."""
    from drivesim.standards.openscenario.network_runner import NetworkRunner
    from drivesim.standards.openscenario.parse import parse_file

    path = EXAMPLES / "left_turn_across.xosc"
    imported = import_openscenario(path)
    assert [imported.scenario.ego.reference_behind_m, imported.scenario.agents[0].reference_behind_m] == [1.4, 1.4]
    world = scenario_world(imported.scenario)
    runner = NetworkRunner(parse_file(path), 10.0, 60.0)
    runner.run()
    in_turn = 0
    for t in np.arange(0.0, imported.scenario.duration_s, 0.5):
        runner.t = float(t)
        runner._states.clear()  # the runner's per-frame cache
        for name, placement in (("Ego", world.ego), ("Npc", world.agents[0])):
            planned, state = EntityMotion(placement).at(np.array([t])), runner.state(name)
            assert [state.center_world.x, state.center_world.y] == pytest.approx(
                [float(planned.lane.x[0]), float(planned.lane.y[0])], abs=1e-9)
            assert math.remainder(state.heading - float(planned.heading[0]), 2 * math.pi) == pytest.approx(0, abs=1e-9)
        npc = world.agents[0]
        u = float(EntityMotion(npc).at(np.array([t])).u[0])
        step, _, _ = npc.path.locate(u)
        if step.road == "105" and npc.path.locate(u - 1.4)[0].road == "105":
            at_centre = float(npc.path.poses(u, 0.0).heading)
            assert math.remainder(runner.state("Npc").heading - (at_centre - 1.4 / 10), 2 * math.pi) == pytest.approx(
                0, abs=1e-6)
            in_turn += 1
    assert in_turn >= 3


def _crossing_file(tmp_path, init: str, stories: str = "", name: str = "t.xosc") -> Path:
    return xosc(tmp_path, car("Ego") + car("A"), init, stories, road=ROADS / "crossing.xodr", name=name)


def lane_at(road: str, lane: int, s: float, extra: str = "") -> str:
    return f'<LanePosition roadId="{road}" laneId="{lane}" s="{s}" offset="0"{extra}/>'


def route(*waypoints: str) -> str:
    points = "".join(f'<Waypoint routeStrategy="shortest"><Position>{w}</Position></Waypoint>' for w in waypoints)
    return (f'<PrivateAction><RoutingAction><AssignRouteAction><Route name="r" closed="false">{points}</Route>'
            f'</AssignRouteAction></RoutingAction></PrivateAction>')


def teleport(entity: str, position: str, *more: str) -> str:
    return private(entity, f'<PrivateAction><TeleportAction><Position>{position}</Position></TeleportAction>'
                           f'</PrivateAction>' + "".join(more))


def test_positions_of_every_kind_on_a_network(tmp_path):
    init = (teleport("Ego", lane_at("1", -1, 20), speed_action(absolute(10)))
            + teleport("A", '<RelativeRoadPosition entityRef="Ego" ds="30" dt="3.5"/>', speed_action(absolute(5))))
    imported = import_openscenario(_crossing_file(tmp_path, init))
    a = imported.scenario.agents[0]
    # t = -1.75 + 3.5 on road 1 is lane 1 (driven westwards), its reference point 30 m ahead: s = 50 - 1.4
    assert (a.position.road, a.position.lane) == ("1", 1) and a.position.s == pytest.approx(50 - 1.4)
    init = (teleport("Ego", '<WorldPosition x="-80" y="-1.75" h="0" p="0.1"/>', speed_action(absolute(10)))
            + teleport("A", '<RelativeLanePosition entityRef="Ego" dLane="0" dsLane="10" offset="0"/>'))
    imported = import_openscenario(_crossing_file(tmp_path, init))
    assert imported.scenario.ego.position.s == pytest.approx(30 + 1.4)
    assert imported.scenario.agents[0].position.s == pytest.approx(40 + 1.4)
    assert any("pitch" in w for w in imported.warnings)


def route_position(path_s: float, where: str = 'laneId="-1"') -> str:
    waypoints = "".join(f'<Waypoint routeStrategy="shortest"><Position>{w}</Position></Waypoint>'
                        for w in (lane_at("1", -1, 20), lane_at("2", -1, 30)))
    tag = "FromLaneCoordinates" if "laneId" in where else "FromRoadCoordinates"
    return (f'<RoutePosition><RouteRef><Route name="r" closed="false">{waypoints}</Route></RouteRef>'
            f'<InRoutePosition><{tag} pathS="{path_s:g}" {where}/></InRoutePosition></RoutePosition>')


def test_a_route_position_is_path_s_along_the_route_from_its_first_waypoint(tmp_path):
    init = (teleport("Ego", route_position(0.0), speed_action(absolute(10)))
            + teleport("A", route_position(30.0, 't="-2.0"'), speed_action(absolute(10))))
    imported = import_openscenario(_crossing_file(tmp_path, init))
    ego, a = imported.scenario.ego.position, imported.scenario.agents[0].position
    # pathS counts road s from the first waypoint (esmini): s = 20 + pathS, box centres 1.4 m ahead
    assert (ego.road, ego.lane, ego.s) == ("1", -1, pytest.approx(20 + 1.4))
    assert (a.road, a.lane, a.s, a.offset) == ("1", -1, pytest.approx(50 + 1.4), pytest.approx(-0.25))  # t = -2
    init = teleport("Ego", route_position(5000.0), speed_action(absolute(10))) + teleport("A", lane_at("1", -1, 5))
    with pytest.raises(ScenarioError, match="pathS=5000 is off route") as err:
        import_openscenario(_crossing_file(tmp_path, init))
    assert err.value.issues[0].key_path.endswith("RoutePosition")


@pytest.mark.parametrize("case", ["unknown_road", "unknown_lane", "no_route", "against_lane", "off_road"])
def test_refusals_on_a_network_are_located(tmp_path, case):
    ego = teleport("Ego", lane_at("1", -1, 20), speed_action(absolute(10)))
    specs = {
        "unknown_road": (teleport("A", lane_at("9", -1, 20)), "LanePosition", "no road '9'"),
        "unknown_lane": (teleport("A", lane_at("2", -3, 20)), "LanePosition", "no lane -3"),
        "no_route": (teleport("A", lane_at("2", -1, 50), route(lane_at("2", -1, 50), lane_at("3", 1, 50))),
                     "Route", "no chain of lane links"),
        "against_lane": (teleport("A", '<LanePosition roadId="2" laneId="1" s="50" offset="0"><Orientation '
                                       'type="relative" h="3.14159"/></LanePosition>'),
                         "LanePosition", "against the driving direction"),
        "off_road": (teleport("A", '<WorldPosition x="50" y="50" h="0"/>'), "WorldPosition", "not on a lane"),
    }
    init, tag, words = specs[case]
    path = _crossing_file(tmp_path, ego + init)
    with pytest.raises(ScenarioError) as err:
        import_openscenario(path)
    issue = err.value.issues[0]
    assert issue.key_path == tag and words in issue.message, str(err.value)
    assert f"<{tag}" in path.read_text().splitlines()[issue.line - 1]


def test_weather_drivesim_cannot_draw_is_named_in_a_warning(tmp_path):
    env = ('<GlobalAction><EnvironmentAction><Environment name="wet"><TimeOfDay animation="false" '
           'dateTime="2026-06-01T21:00:00"/><Weather><Fog visualRange="80"/><Precipitation precipitationType="rain" '
           'precipitationIntensity="0.5"/></Weather><RoadCondition frictionScaleFactor="0.6"/></Environment>'
           '</EnvironmentAction></GlobalAction>')
    init = place("Ego", -2, 0, 10) + env
    imported = import_openscenario(xosc(tmp_path, car("Ego"), init))
    assert imported.scenario.environment.time_of_day == "night"
    text = "\n".join(imported.warnings)
    assert "Fog" in text and "visualRange=80" in text and "Precipitation" in text and "rain" in text
    assert "RoadCondition" in text and "frictionScaleFactor=0.6" in text


def test_a_skipped_event_reports_skip_transition(tmp_path):
    from openscenario_fixtures import event, lane_change, sim_time, story, trigger

    state = ('<ByValueCondition><StoryboardElementStateCondition storyboardElementType="event" '
             'storyboardElementRef="Late" state="skipTransition"/></ByValueCondition>')
    slow = speed_action(absolute(5), "linear", "time", 3)
    stories = story("A", event("First", slow, trigger(sim_time(1))),
                    event("Late", speed_action(absolute(9)), trigger(sim_time(2)), priority="skip"),
                    event("Seen", lane_change('<AbsoluteTargetLane value="-2"/>'), trigger(f'<Condition name="c" delay="0" '
                                                                    f'conditionEdge="none">{state}</Condition>'),
                          priority="parallel"))
    imported = import_openscenario(xosc(tmp_path, car("Ego") + car("A"), place("Ego", -2, 0, 10)
                                        + place("A", -1, 20, 10), stories))
    fired = [(e.time_s, e.event.split("::")[-1]) for e in imported.events]
    # Late is skipped while First (1.1 .. 4.1 s) runs: Seen fires on that skip (the next frame sees it);
    # Late itself fires once First has ended, its condition still true
    assert [name for _, name in fired] == ["First", "Seen", "Late"]
    assert fired[1][0] <= 2.2 and fired[2][0] >= 4.1


def test_convert_writes_the_road_file_relative_to_the_yaml(tmp_path, monkeypatch):
    """`drivesim convert` from any folder: the YAML names its OpenDRIVE file relative to itself, so the
    converted pair can be moved together and planned from anywhere."""
    from drivesim.cli import main

    example = Path(__file__).resolve().parent.parent / "scenarios" / "openscenario" / "curve_cut_in.xosc"
    monkeypatch.chdir(tmp_path)
    assert main(["convert", str(example), "-o", "out/cut.yaml"]) == 0
    road = yaml.safe_load((tmp_path / "out" / "cut.yaml").read_text())["road"]["opendrive"]
    assert not Path(road).is_absolute()
    assert (tmp_path / "out" / road).resolve() == (example.parent.parent / "roads" / "motorway_parampoly.xodr").resolve()
    monkeypatch.chdir(tmp_path / "out")
    assert main(["plan", "cut.yaml", "-o", "labels.jsonl"]) == 0

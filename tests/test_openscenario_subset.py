"""Every row of docs/openscenario.md's table on small hand-written files (and refused files: located errors).

    python -m pytest tests/test_openscenario_subset.py -q
"""

from __future__ import annotations

import math

import pytest
from openscenario_fixtures import (ROAD, absolute, by_entity, car, condition, event, lane_change, lane_pos, place,
                                   private, sim_time, speed_action, story, teleport, trigger, xosc)

from drivesim.cli import main
from drivesim.errors import ScenarioError
from drivesim.scenario.engine import ScenarioEngine
from drivesim.standards.openscenario import ImportOptions, import_openscenario
from drivesim.standards.openscenario.params import Params
from drivesim.standards.openscenario.xmltree import parse_xml


def fired(imported) -> list[tuple[float, str, int]]:
    return [(e.time_s, e.event.split("::")[-1], e.execution) for e in imported.events]


def actions(imported, agent: str) -> list:
    return next(a for a in imported.scenario.agents if a.id == agent).actions


# --- parameters and expressions ----------------------------------------------------------------

def test_parameters_and_expressions_resolve_with_precedence_functions_and_scopes():
    root = parse_xml(b'<R><ParameterDeclarations>'
                     b'<ParameterDeclaration name="Kmh" parameterType="double" value="108"/>'
                     b'<ParameterDeclaration name="Mps" parameterType="double" value="${$Kmh / 3.6}"/>'
                     b'<ParameterDeclaration name="Fast" parameterType="boolean" value="true"/>'
                     b'</ParameterDeclarations>'
                     b'<X a="${2 + 3 * $Mps - -1}" b="${pow(2, 3) + sqrt(16) % 3}" c="${$Mps > 29 and not false}"'
                     b' d="$Kmh" e="${round(2.5) + floor(-0.5)}" bad="${$Mps +}" missing="$Nope"/></R>', "f.xosc")
    params = Params().scope(root.child("ParameterDeclarations"))
    x = root.child("X")
    assert params.number(x, "a") == pytest.approx(2 + 3 * 30 + 1)
    assert params.number(x, "b") == pytest.approx(8 + 1)
    assert params.text(x, "c") == "true" and params.number(x, "d") == 108 and params.number(x, "e") == 2
    inner = params.scope(parse_xml(b'<P><ParameterDeclaration name="Kmh" parameterType="double" value="50"/></P>',
                                   "g"))
    assert inner.number(x, "d") == 50  # the nearest declaration wins
    named = parse_xml(b'<C name="${Brake_HWT_ + $Mps + _s}" n="${Brake + 1 + 2}"/>', "n.xosc")
    assert params.text(named, "name") == "Brake_HWT_30_s"  # esmini: bare words are strings, + joins them
    assert params.text(named, "n") == "Brake12"
    for attr, words in (("bad", "cannot evaluate"), ("missing", "not declared")):
        with pytest.raises(ScenarioError, match=words) as err:
            params.number(x, attr)
        assert err.value.issues[0].line == 1 and err.value.issues[0].key_path == "X"


# --- positions, entities, catalogs ----------------------------------------------------------------

def test_positions_of_every_kind_land_where_the_road_puts_them(tmp_path):
    entities = "".join(car(n) for n in ("Ego", "World", "Road", "RelLane", "RelObj", "RelRoad"))
    init = (place("Ego", -2, 100, 10)
            + private("World", teleport('<WorldPosition x="150" y="-1.75" h="0"/>'))
            + private("Road", teleport('<RoadPosition roadId="1" s="120" t="-9.0"/>'))
            + private("RelLane", teleport('<RelativeLanePosition entityRef="Ego" dLane="1" ds="30" offset="0.5"/>'))
            + private("RelObj", teleport('<RelativeObjectPosition entityRef="Ego" dx="-20" dy="-3.5"/>'))
            + private("RelRoad", teleport('<RelativeRoadPosition entityRef="Ego" ds="-20" dt="3.1"/>')))
    imported = import_openscenario(xosc(tmp_path, entities, init))
    assert imported.scenario.road.opendrive is None  # one straight road: version 1's road
    sc = imported.scenario
    by = {a.id: a for a in sc.agents}
    camera = 100 + 1.4 + 1.3  # the ego's reference point + centre offset + camera ahead of the centre
    assert by["World"].lane == 0 and by["World"].distance_m == pytest.approx(150 + 1.4 - camera)
    assert by["Road"].lateral_m == pytest.approx(9.0) and by["Road"].distance_m == pytest.approx(120 + 1.4 - camera)
    assert by["RelLane"].lateral_m == pytest.approx(1.75 - 0.5)  # lane -1, 0.5 m left of its centre
    assert by["RelLane"].distance_m == pytest.approx(130 + 1.4 - camera)
    assert by["RelObj"].lane == 2 and by["RelObj"].distance_m == pytest.approx(-20 - 1.3)
    # esmini's cut-in_simple: ds along s, dt towards +t from the ego's reference point (t = -5.25)
    assert by["RelRoad"].lateral_m == pytest.approx(5.25 - 3.1) and by["RelRoad"].distance_m == pytest.approx(
        80 + 1.4 - camera)


def test_the_ego_is_the_entity_named_ego_else_the_first_vehicle_and_names_are_track_ids(tmp_path):
    walker = ('<ScenarioObject name="Walker"><Pedestrian name="p" pedestrianCategory="pedestrian" mass="80">'
              '<BoundingBox><Center x="0" y="0" z="0.9"/><Dimensions width="0.5" length="0.5" height="1.8"/>'
              '</BoundingBox></Pedestrian></ScenarioObject>')
    init = place("Car1", -2, 50, 10) + place("Car2", -2, 80, 10) + place("Walker", -3, 60, 0)
    sc = import_openscenario(xosc(tmp_path, walker + car("Car1") + car("Car2", "truck"), init)).scenario
    assert [(a.id, a.type) for a in sc.agents] == [("Walker", "pedestrian"), ("Car2", "truck")]
    assert {b.track_id for b in ScenarioEngine(sc).frame(0).boxes} == {"Walker", "Car2"}


def test_catalog_parameter_assignments_override_the_entry_defaults(tmp_path):
    ref = ('<ScenarioObject name="Ego"><CatalogReference catalogName="VehicleCatalog" entryName="car_white">'
           '<ParameterAssignments><ParameterAssignment parameterRef="MaxAcceleration" value="2"/>'
           '</ParameterAssignments></CatalogReference></ScenarioObject>')
    speed_up = event("SpeedUp", speed_action(absolute(20), "linear", "time", 2), trigger(sim_time(1)))
    imp = import_openscenario(xosc(tmp_path, ref, place("Ego", -2, 0, 10), story("Ego", speed_up)))
    # 10 m/s in 2 s is 5 m/s^2 > maxAcceleration 2: stretched to 5 s, as esmini does
    assert imp.scenario.ego.actions[0].duration_s == pytest.approx(5.0)


# --- actions ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("shape,dim,value,duration,yaml_shape", [
    ("step", "time", 0, None, "step"),
    ("linear", "rate", 2, 10 / 2, "linear"),
    ("cubic", "rate", 2, 1.5 * 10 / 2, "smoothstep"),
    ("sinusoidal", "rate", 2, math.pi / 2 * 10 / 2, "sinusoidal"),
    ("linear", "distance", 150, 2 * 150 / (10 + 20), "linear"),
    ("cubic", "time", 4, 4, "smoothstep"),
    ("linear", "time", 1, 10 / 5, "linear"),  # 10 m/s^2 > maxAcceleration 5 of car_red: stretched
])
def test_speed_action_dynamics(tmp_path, shape, dim, value, duration, yaml_shape):
    change = event("Change", speed_action(absolute(20), shape, dim, value), trigger(sim_time(1)))
    imp = import_openscenario(xosc(tmp_path, car("Ego") + car("A", "car_red"),
                                   place("Ego", -2, 0, 10) + place("A", -1, 20, 10), story("A", change)))
    (a,) = actions(imp, "A")
    # fired at 1.1 s (10 fps); a transition is recorded half a step earlier (esmini's stepping), a step is not
    start = 1.1 if duration is None else 1.1 - 0.1 / 2
    assert (a.at_s, a.speed_mps, a.shape) == (pytest.approx(start), 20, yaml_shape)
    if duration is not None:
        assert a.duration_s == pytest.approx(duration)
        _, _, v, _ = ScenarioEngine(imp.scenario).named_trajectory("A", [start + duration / 2])
        assert v[0] == pytest.approx(15.0)  # every shape is halfway at half time


def test_lane_changes_absolute_relative_with_offset_by_distance_and_rate(tmp_path):
    evs = [event("Abs", lane_change('<AbsoluteTargetLane value="-3"/>', "linear", "distance", 60, offset=0.5),
                 trigger(sim_time(1))),
           event("Rel", lane_change('<RelativeTargetLane entityRef="Ego" value="1"/>', "cubic", "rate", 1),
                 trigger(sim_time(1)))]
    entities = car("Ego") + car("A") + car("B")
    init = place("Ego", -2, 0, 20) + place("A", -1, 30, 20) + place("B", -3, 60, 20)
    imp = import_openscenario(xosc(tmp_path, entities, init, story("A", evs[0], name="SA") + story("B", evs[1], name="SB")))
    (a,), (b,) = actions(imp, "A"), actions(imp, "B")
    # lane -3 centre is 8.75 m right of the left edge; targetLaneOffset 0.5 m is to the left (+t)
    assert a.lateral_m == pytest.approx(8.75 - 0.5) and a.duration_s == pytest.approx(60 / 20) and a.shape == "linear"
    # one lane left of the ego (lane -1 = drivesim lane 0); cubic at 1 m/s peak: 1.5 * 7 m / 1 m/s
    assert b.lane_change_to == 0 and b.duration_s == pytest.approx(1.5 * 7.0) and b.shape == "smoothstep"


def test_lane_offset_duration_follows_max_lateral_acceleration(tmp_path):
    offset = ('<PrivateAction><LateralAction><LaneOffsetAction continuous="false">'
              '<LaneOffsetActionDynamics maxLateralAcc="0.5" dynamicsShape="cubic"/>'
              '<LaneOffsetTarget><AbsoluteTargetLaneOffset value="1.0"/></LaneOffsetTarget>'
              '</LaneOffsetAction></LateralAction></PrivateAction>')
    imp = import_openscenario(xosc(tmp_path, car("Ego"), place("Ego", -2, 0, 10),
                                   story("Ego", event("Drift", offset, trigger(sim_time(1))))))
    (a,) = imp.scenario.ego.actions  # the ego too: its camera moves with it
    assert a.lateral_m == pytest.approx(5.25 - 1.0) and a.duration_s == pytest.approx(math.sqrt(6 * 1.0 / 0.5))


def test_environment_action_sets_time_of_day(tmp_path):
    def env(hour: int) -> str:
        return (f'<GlobalAction><EnvironmentAction><Environment name="e"><TimeOfDay animation="false" '
                f'dateTime="2026-06-01T{hour:02d}:00:00"/></Environment></EnvironmentAction></GlobalAction>')
    init = env(22) + place("Ego", -2, 0, 10)
    story_text = (f'<Story name="S"><Act name="A"><ManeuverGroup maximumExecutionCount="1" name="G"><Actors '
                  f'selectTriggeringEntities="false"/><Maneuver name="M">'
                  f'{event("Dawn", env(9), trigger(sim_time(2)))}</Maneuver></ManeuverGroup></Act></Story>')
    sc = import_openscenario(xosc(tmp_path, car("Ego"), init, story_text)).scenario
    assert sc.environment.time_of_day == "night"
    assert [(e.at_s, e.time_of_day) for e in sc.environment.events] == [(pytest.approx(2.1), "day")]


# --- conditions ------------------------------------------------------------------------------------

def test_every_entity_condition_fires_when_its_kinematics_say(tmp_path):
    # Ego 10 m/s at s=0; Lead 5 m/s at s=50 (same lane); Runner stands in lane -3, accelerates at 2 m/s^2
    # from 1.1 s; gap(t) = 50 - 5 t between reference points (freespace: 4.6 m less).
    step = speed_action(absolute(1))
    ttc = ('<TimeToCollisionCondition value="4" freespace="false" rule="lessThan"><TimeToCollisionConditionTarget>'
           '<EntityRef entityRef="Lead"/></TimeToCollisionConditionTarget></TimeToCollisionCondition>')
    cases = {  # name: (condition, expected first frame)
        "RelDist": (by_entity("Ego", '<RelativeDistanceCondition entityRef="Lead" relativeDistanceType="longitudinal" '
                                     'value="30" freespace="false" rule="lessThan"/>'), 4.1),  # 50 - 5t < 30
        "RelDistFree": (by_entity("Ego", '<RelativeDistanceCondition entityRef="Lead" value="30" freespace="true" '
                                         'rule="lessThan"/>'), 3.1),  # 45.4 - 5t < 30
        "Headway": (by_entity("Ego", '<TimeHeadwayCondition entityRef="Lead" value="2.5" freespace="false" '
                                     'rule="lessThan"/>'), 5.1),  # (50 - 5t) / 10 < 2.5
        "TTC": (by_entity("Ego", ttc), 6.1),  # (50 - 5t) / 5 < 4
        "Reach": (by_entity("Ego", f'<ReachPositionCondition tolerance="1.5"><Position>{lane_pos(-2, 30)}</Position>'
                                   '</ReachPositionCondition>'), 2.9),  # |30 - 10t| < 1.5
        "Distance": (by_entity("Ego", f'<DistanceCondition value="5" freespace="false" rule="lessThan" '
                                      f'relativeDistanceType="longitudinal"><Position>{lane_pos(-2, 40)}</Position>'
                                      '</DistanceCondition>'), 3.6),  # |40 - 10t| < 5
        "Speed": (by_entity("Runner", '<SpeedCondition value="5" rule="greaterThan"/>'), 3.7),  # 2(t - 1.1) > 5
        "RelSpeed": (by_entity("Runner", '<RelativeSpeedCondition entityRef="Lead" value="0" rule="greaterThan"/>'),
                     3.7),
        # the frame after the start: a condition sees the world as it was when the frame began
        "Accel": (by_entity("Runner", '<AccelerationCondition value="1" rule="greaterThan"/>'), 1.2),
        "StandStill": (by_entity("Runner", '<StandStillCondition duration="1"/>'), 1.1),  # still 0 .. 1.1
        "Traveled": (by_entity("Ego", '<TraveledDistanceCondition value="25"/>'), 2.5),
        "SimTime": (sim_time(3), 3.1),
        "Param": (condition('<ByValueCondition><ParameterCondition parameterRef="Mode" value="fast" rule="equalTo"/>'
                            '</ByValueCondition>'), 0.0),
    }
    stories = story("Runner", event("Go", speed_action(absolute(10), "linear", "rate", 2), trigger(sim_time(1))),
                    name="RunnerStory")
    for name, (cond, _) in cases.items():
        stories += story("Dummy", event(name, step, trigger(cond)), name=name)
    entities = car("Ego") + car("Lead") + car("Runner", "car_red") + car("Dummy")
    init = place("Ego", -2, 0, 10) + place("Lead", -2, 50, 5) + place("Runner", -3, 0, 0) + place("Dummy", -1, 200, 0)
    params = '<ParameterDeclaration name="Mode" parameterType="string" value="fast"/>'
    times = {name: t for t, name, _ in fired(import_openscenario(xosc(tmp_path, entities, init, stories,
                                                                      params=params)))}
    assert times == pytest.approx({"Go": 1.1, **{name: t for name, (_, t) in cases.items()}})


def test_condition_edges_and_delay(tmp_path):
    cases = {"Rising": (sim_time(2, edge="rising"), 2.1), "Falling": (sim_time(2, "lessThan", edge="falling"), 2.0),
             "Either": (sim_time(2, edge="risingOrFalling"), 2.1), "Delayed": (sim_time(2, delay=1.5), 3.6),
             "RisingAtStart": (sim_time(0, "greaterOrEqual", edge="rising"), None)}  # never: true from the start
    stories = "".join(story("Dummy", event(n, speed_action(absolute(1)), trigger(c)), name=n)
                      for n, (c, _) in cases.items())
    imp = import_openscenario(xosc(tmp_path, car("Ego") + car("Dummy"), place("Ego", -2, 0, 10)
                                   + place("Dummy", -1, 100, 0), stories))
    assert {n: t for t, n, _ in fired(imp)} == pytest.approx({n: t for n, (_, t) in cases.items() if t is not None})


def test_priorities_execution_counts_states_and_an_act_stop_trigger(tmp_path):
    slow = speed_action(absolute(20), "linear", "time", 4)  # runs 4 s
    step = speed_action(absolute(3))  # over at once
    stories = (story("A", event("Long", slow, trigger(sim_time(1))),
                     event("Skip", step, trigger(sim_time(2)), priority="skip"), name="Skipping")
               + story("B", event("Long2", slow, trigger(sim_time(1))),
                       event("Override", step, trigger(sim_time(2)), priority="override"), name="Overriding")
               + story("C", event("Again", step, trigger(sim_time(1)), priority="parallel", count=3), name="Repeat")
               + story("D", event("Group", step, trigger(sim_time(1))), name="Groups", group_count=2)
               + story("E", event("Stopped", slow, trigger(sim_time(1))), name="Halted",
                       act_stop=trigger(sim_time(3), tag="StopTrigger"))
               + story("D", event("AfterAct", step, trigger(condition(
                   '<ByValueCondition><StoryboardElementStateCondition storyboardElementType="act" '
                   'storyboardElementRef="HaltedAct" state="completeState"/></ByValueCondition>'))), name="Watch"))
    entities = "".join(car(n) for n in ("Ego", "A", "B", "C", "D", "E"))
    init = place("Ego", -2, 0, 10) + "".join(place(n, -1, 30 * (i + 1), 10) for i, n in enumerate("ABCDE"))
    imp = import_openscenario(xosc(tmp_path, entities, init, stories))
    events = fired(imp)
    assert (1.1, "Long", 1) in events and (5.1, "Skip", 1) in events  # skipped while Long ran (to 5.1)
    assert (2.1, "Override", 1) in events and actions(imp, "B")[1].takes_over  # Long2 ended, its speed taken over
    assert [e for e in events if e[1] == "Again"] == [(1.1, "Again", 1), (1.2, "Again", 2), (1.3, "Again", 3)]
    assert [e for e in events if e[1] == "Group"] == [(1.1, "Group", 1), (1.2, "Group", 2)]  # the group runs twice
    assert (3.1, "AfterAct", 1) in events
    frozen = actions(imp, "E")[-1]  # the act stopped at 3.1 s: E keeps the speed it had then
    assert frozen.shape == "step" and frozen.at_s == pytest.approx(3.1) and frozen.speed_mps == pytest.approx(15.0)


def test_without_a_stop_trigger_the_clip_is_cut_at_the_maximum_duration(tmp_path):
    imp = import_openscenario(xosc(tmp_path, car("Ego"), place("Ego", -2, 0, 10), stop=""),
                              ImportOptions(fps=10, max_duration_s=7.5))
    assert imp.scenario.duration_s == 7.5 and not imp.stopped_by_trigger
    assert any("no StopTrigger" in w for w in imp.warnings)


# --- refused files: the element, the file and its line ------------------------------------------------

def _located(path, tag: str, words: str):
    with pytest.raises(ScenarioError) as err:
        import_openscenario(path)
    issue = err.value.issues[0]
    assert issue.key_path == tag and words in issue.message, str(err.value)
    assert issue.line is not None and issue.file.endswith(path.name if tag != "geometry" else ".xodr")
    text = open(issue.file, encoding="utf-8").read().splitlines()[issue.line - 1]
    assert f"<{tag}" in text  # the line named is the element's
    return issue


@pytest.mark.parametrize("case", ["trajectory", "collision", "teleport_in_story", "unknown_lane", "bad_ref",
                                  "lane_leaves_road", "no_teleport", "bad_expression", "user_defined"])
def test_unsupported_or_wrong_elements_are_refused_at_their_line(tmp_path, case):
    ego = place("Ego", -2, 0, 10)
    trajectory = ('<PrivateAction><RoutingAction><FollowTrajectoryAction/></RoutingAction></PrivateAction>')
    collision = by_entity("Ego", '<CollisionCondition><EntityRef entityRef="A"/></CollisionCondition>')
    specs = {
        "trajectory": (story("A", event("E", trajectory, trigger(sim_time(1)))), ego + place("A", -1, 20, 10),
                       "FollowTrajectoryAction", "not supported"),
        "collision": (story("A", event("E", speed_action(absolute(1)), trigger(collision))),
                      ego + place("A", -1, 20, 10), "CollisionCondition", "not supported"),
        "teleport_in_story": (story("A", event("E", teleport(lane_pos(-1, 5)), trigger(sim_time(1)))),
                              ego + place("A", -1, 20, 10), "TeleportAction", "not supported"),
        "unknown_lane": ("", ego + place("A", -7, 20, 10), "LanePosition", "lane -7"),
        "bad_ref": (story("Nobody", event("E", speed_action(absolute(1)))), ego + place("A", -1, 20, 10),
                    "EntityRef", "no entity named"),
        "lane_leaves_road": (story("A", event("E", lane_change('<RelativeTargetLane entityRef="A" value="1"/>'),
                                              trigger(sim_time(1)))), ego + place("A", -1, 20, 10),
                             "LaneChangeAction", "not one of the lanes"),
        "no_teleport": ("", ego + private("A", speed_action(absolute(1))), "ScenarioObject", "no TeleportAction"),
        "bad_expression": ("", ego + place("A", -1, "${20 +}", 10), "LanePosition", "cannot evaluate"),
        "user_defined": (story("A", '<Event name="E" priority="override"><Action name="X"><UserDefinedAction>'
                                    '<CustomCommandAction type="t">x</CustomCommandAction></UserDefinedAction>'
                                    '</Action></Event>'), ego + place("A", -1, 20, 10), "UserDefinedAction",
                         "not supported"),
    }
    stories, init, tag, words = specs[case]
    _located(xosc(tmp_path, car("Ego") + car("A"), init, stories), tag, words)


def test_curved_or_uneven_roads_run_on_the_road_network(tmp_path):
    """What version 1's straight road cannot hold runs on the network (tests/test_openscenario_network.py)."""
    curved = tmp_path / "curved.xodr"
    curved.write_text(ROAD.read_text().replace('<geometry s="1000.0" x="1000.0" y="0.0" hdg="0.0" length="1000.0">\n'
                                               '                <line/>',
                                               '<geometry s="1000.0" x="1000.0" y="0.0" hdg="0.0" length="1000.0">\n'
                                               '                <arc curvature="0.001"/>'))
    imported = import_openscenario(xosc(tmp_path, car("Ego"), place("Ego", -2, 0, 10), road=curved))
    assert imported.scenario.road.opendrive == str(curved.resolve())
    assert imported.scenario.ego.position.lane == -2
    uneven = tmp_path / "uneven.xodr"
    text = ROAD.read_text()
    i = text.index('<lane id="-2"')
    uneven.write_text(text[:i] + text[i:].replace('a="3.5"', 'a="3.75"', 1))
    imported = import_openscenario(xosc(tmp_path, car("Ego"), place("Ego", -2, 0, 10), road=uneven))
    assert imported.scenario.road.opendrive == str(uneven.resolve())


def test_cli_reads_xosc_directly_and_reports_refusals_with_their_line(tmp_path, capsys):
    good = xosc(tmp_path, car("Ego"), place("Ego", -2, 0, 10))
    assert main(["validate", str(good)]) == 0
    out = tmp_path / "t.yaml"
    assert main(["convert", str(good), "-o", str(out)]) == 0 and "version: 1" in out.read_text()
    bad = xosc(tmp_path, car("Ego"), place("Ego", -2, 0, 10) + '<GlobalAction><InfrastructureAction/></GlobalAction>',
               name="bad.xosc")
    assert main(["validate", str(bad)]) == 1
    line = next(i for i, text in enumerate(bad.read_text().splitlines(), 1) if "<InfrastructureAction" in text)
    err = capsys.readouterr().err
    assert f"bad.xosc:{line}:" in err and "InfrastructureAction" in err and "not supported" in err
    syntax = tmp_path / "syntax.xosc"
    syntax.write_text("<OpenSCENARIO>\n<FileHeader>\n</OpenSCENARIO>\n")
    assert main(["plan", str(syntax), "-o", str(tmp_path / "l.jsonl")]) == 1
    assert "syntax.xosc:3:" in capsys.readouterr().err

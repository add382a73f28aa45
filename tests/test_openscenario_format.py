"""What the scenario YAML gained for OpenSCENARIO: ego actions, action shapes, takes_over, ego.lateral_m.

    python -m pytest tests/test_openscenario_format.py -q
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from drivesim.errors import ScenarioError
from drivesim.scenario.engine import BlendedProfile, ScenarioEngine
from drivesim.scenario.loader import load_scenario, parse_scenario

BASE = """version: 1
name: t
duration_s: 10
road: {lanes: 3, lane_width_m: 3.5}
"""


def test_ego_speed_actions_move_the_world_past_the_camera():
    sc = parse_scenario(BASE + """ego: {lane: 1, speed_mps: 10, actions: [{at_s: 2, speed_mps: 20, duration_s: 4, shape: linear}]}
agents: [{id: lead, type: car, lane: 1, distance_m: 50, speed_mps: 10}]
""")
    engine = ScenarioEngine(sc)
    _, z, _, _ = engine.named_trajectory("lead", np.array([2.0, 6.0, 8.0]))
    # the ego gains 0.5 * 2.5 * 4^2 = 20 m over the ramp, then 10 m/s more
    assert z == pytest.approx([50.0, 30.0, 10.0])
    assert engine.road_state(4.0).ego_speed_mps == pytest.approx(15.0)
    assert engine.road_state(8.0).ego_travel_m == pytest.approx(10 * 8 + 20 + 20)


def test_ego_lane_change_moves_the_camera_and_the_road_state():
    sc = parse_scenario(BASE + """ego: {lane: 1, lateral_m: 5.0, actions: [{at_s: 1, lane_change_to: 2, duration_s: 2, shape: sinusoidal}]}
agents: [{id: lead, type: car, lane: 1, distance_m: 30, speed_mps: 10}]
""")
    engine = ScenarioEngine(sc)
    assert engine.road_state(0.0).ego_lateral_m == 5.0
    assert engine.road_state(2.0).ego_lateral_m == pytest.approx((5.0 + 8.75) / 2)
    lead = next(s for s in engine.agent_states(3.0) if s.track_id == "lead")
    assert lead.x_m == pytest.approx(5.25 - 8.75)  # the lead is now one lane left of the camera


@pytest.mark.parametrize("shape,f", [("smoothstep", lambda u: u * u * (3 - 2 * u)), ("linear", lambda u: u),
                                     ("sinusoidal", lambda u: (1 - math.cos(math.pi * u)) / 2),
                                     ("step", lambda u: 1.0)])
def test_each_shape_blends_and_integrates_exactly(shape, f):
    p = BlendedProfile(2.0, [(1.0, 4.0, 10.0, shape)])
    t = np.array([0.5, 2.0, 3.0, 5.0, 7.0])
    assert p.value(t) == pytest.approx([2.0] + [2 + 8 * f(u) for u in (0.25, 0.5, 1.0)] + [10.0])
    # integral by the trapezoid rule on a fine grid
    grid = np.linspace(0, 7.0, 70001)
    values = p.value(grid)
    assert p.integral(np.array(7.0)) == pytest.approx(np.trapezoid(values, grid), abs=2e-3)


def test_takes_over_allows_an_overlap_and_a_step_takes_no_time():
    overlapping = BASE + """agents:
  - id: a
    type: car
    lane: 0
    distance_m: 20
    actions:
      - {at_s: 1, speed_mps: 20, duration_s: 4}
      - {at_s: 2, speed_mps: 5, duration_s: 1%s}
      - {at_s: 6, speed_mps: 9, shape: step}
      - {at_s: 6, speed_mps: 3, duration_s: 2}
"""
    with pytest.raises(ScenarioError, match="takes_over: true"):
        parse_scenario(overlapping % "")
    sc = parse_scenario(overlapping % ", takes_over: true")
    _, _, v, _ = ScenarioEngine(sc).named_trajectory("a", np.array([2.0, 3.0]))
    assert v[1] == pytest.approx(5.0) and 0 < v[0] < 20


def test_old_scenarios_dump_exactly_as_before(tmp_path):
    sc = load_scenario("scenarios/lead_brake.yaml")
    dump = sc.model_dump(mode="json")
    assert set(dump["ego"]) == {"lane", "speed_mps"}
    assert all(set(a) == {"at_s", "duration_s", "lane_change_to", "lateral_m", "speed_mps"}
               for agent in dump["agents"] for a in agent["actions"])


def test_ego_actions_are_checked_like_an_agents():
    with pytest.raises(ScenarioError) as err:
        parse_scenario(BASE + "ego: {lane: 0, actions: [{at_s: 12, lane_change_to: 5}]}\n")
    text = str(err.value)
    assert "ego.actions[0].lane_change_to: lane 5 does not exist" in text and "ego.actions[0].at_s" in text

"""OpenSCENARIO import: events fire when their conditions first hold, checked against kinematics
computed by hand (frames at 10 fps: an event fires on the first frame at which its rule holds).

Kinematics by esmini's stepping (docs/openscenario.md, "Timing"): a speed transition that fires at frame
t_k is one step in at t_k + dt, and each step moves an entity by its speed at the step's end times dt, so a
ramp of rate a leaves it a * dt^2 * n (n + 1) / 2 metres from where its start speed would after n steps;
drivesim's recorded speed leads esmini's by half a step while a transition runs.

    python -m pytest tests/test_openscenario.py -q

Distances: the example catalog's cars have their reference point 1.4 m behind the box centre, so
reference-point gaps equal centre gaps; freespace gaps are 4.6 m (one car length) less. The camera
sits 1.3 m ahead of the ego's centre (1 m behind its 4.6 m box's front), so z = gap - 1.3.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from drivesim.scenario.engine import ScenarioEngine
from drivesim.scenario.loader import parse_scenario
from drivesim.scenario.motion import EntityMotion
from drivesim.scenario.network import scenario_world
from drivesim.standards.openscenario import ImportOptions, import_openscenario
from openscenario_fixtures import EXAMPLES

FPS = 10.0
STEP_S = 1 / FPS
CAMERA_AHEAD_OF_CENTRE_M = 4.6 / 2 - 1.0


def first_frame_after(t_star: float, fps: float = FPS) -> float:
    """The first frame strictly after t* (a strict rule is false at t* itself)."""
    return round((math.floor(t_star * fps + 1e-9) + 1) / fps, 9)


def fired(imported) -> list[tuple[float, str, int]]:
    return [(e.time_s, e.event.split("::")[-1], e.execution) for e in imported.events]


def run(name: str, **options):
    return import_openscenario(EXAMPLES / name, ImportOptions(**options))


def test_cut_in_fires_when_the_time_headway_passes_its_value_and_lands_in_the_ego_lane():
    imported = run("cut_in.xosc")
    v_ego, v_ot, gap0, headway = 25.0, 30.0, 30.0 - 50.0, 0.5  # Overtaker 20 m behind, 5 m/s faster
    t_cut = first_frame_after((headway * v_ego - gap0) / (v_ot - v_ego))  # gap / v_ego > 0.5
    assert t_cut == pytest.approx(6.6)
    # SlowDown: 1 s after the 3 s lane change ended; the StopTrigger: 3 s after the 2 s slow-down ended
    assert fired(imported) == [(t_cut, "CutIn", 1), (round(t_cut + 3 + 1, 9), "SlowDown", 1)]
    assert imported.scenario.duration_s == pytest.approx(t_cut + 3 + 1 + 2 + 3)
    engine = ScenarioEngine(imported.scenario)
    ego_lane = imported.scenario.ego.lane
    lat, z, speed, _ = engine.named_trajectory("Overtaker", np.array([t_cut, t_cut + 1.5, t_cut + 3.0]))
    assert lat[0] == pytest.approx(0.5 * 3.5) and lat[2] == pytest.approx((ego_lane + 0.5) * 3.5)
    assert lat[1] == pytest.approx((lat[0] + lat[2]) / 2)  # sinusoidal: halfway at half time
    assert z[0] == pytest.approx(gap0 + (v_ot - v_ego) * t_cut - CAMERA_AHEAD_OF_CENTRE_M)


def test_a_finer_frame_rate_fires_the_same_trigger_closer_to_its_exact_time():
    assert fired(run("cut_in.xosc", fps=20.0))[0] == (6.55, "CutIn", 1)


def test_lead_brakes_when_time_to_collision_falls_below_its_threshold():
    imported = run("lead_brake_ttc.xosc")
    gap0 = 80.0 - 4.6  # freespace: box gap
    t_lead = first_frame_after((gap0 - 4.0 * (25 - 15)) / (25 - 15))  # gap / closing < 4 s
    # then the lead brakes at 4 m/s^2, by esmini's steps: n steps later closing = 10 + 4 n dt and the gap
    # g1 - 10 n dt - 4 dt^2 n (n + 1) / 2; the ego brakes on the first frame with TTC = gap / closing < 2 s
    g1 = gap0 - 10 * t_lead
    n = next(n for n in range(1, 100)
             if (g1 - 10 * n * STEP_S - 4 * STEP_S ** 2 * n * (n + 1) / 2) / (10 + 4 * n * STEP_S) < 2)
    t_ego = round(t_lead + n * STEP_S, 9)
    assert fired(imported) == [(t_lead, "LeadBrakes", 1), (t_ego, "EgoBrakes", 1)]
    assert (t_lead, t_ego) == (pytest.approx(3.6), pytest.approx(4.6))
    engine = ScenarioEngine(imported.scenario)
    times = np.array([t_lead, t_lead + 1.25, t_lead + 2.5])
    _, _, speed, _ = engine.named_trajectory("Lead", times)
    # linear, rate 4 from 15 (2.5 s); the clip's speed leads esmini's by half a step while it brakes
    assert speed == pytest.approx(np.maximum(15.0 - 4 * (times - t_lead + STEP_S / 2), 5.0))
    assert engine.road_state(t_ego + 2.5).ego_speed_mps == pytest.approx(5.0)  # rate 8 from 25: over by then


def test_ego_accelerates_until_a_relative_distance_is_reached_then_follows_the_lead():
    imported = run("ego_close_gap.xosc")
    t_act = first_frame_after(1.0)
    # ego 20 -> 30 m/s over 5 s (50 steps of +0.2 m/s): esmini closes 0.2 * 0.1 * (1 + ... + 50) = 25.5 m,
    # the 25 m of the ramp plus half a step of its 10 m/s
    gap_after_accel = 80.0 - 0.5 * 2.0 * 5.0 ** 2 - 10.0 * STEP_S / 2
    t_gap = first_frame_after(t_act + 5 + (gap_after_accel - 30.0) / 10.0)  # then closes 10 m/s
    assert fired(imported)[:2] == [(t_act, "Accelerate", 1), (t_gap, "HoldGap", 1)]
    assert (t_act, t_gap) == (pytest.approx(1.1), pytest.approx(8.6))
    gap_at_trigger = gap_after_accel - 10.0 * (t_gap - t_act - 5)
    final_gap = gap_at_trigger - 10.0 * 2.5 / 2 + 10.0 * STEP_S / 2  # back to 20 m/s at 4 m/s^2, esmini's steps
    engine = ScenarioEngine(imported.scenario)
    _, z, lead_speed, _ = engine.named_trajectory("Lead", np.array([13.0, 20.0]))
    assert z == pytest.approx([final_gap - CAMERA_AHEAD_OF_CENTRE_M] * 2)
    # continuous RelativeTargetSpeed: the lead slows to 15 at 14 s and the ego with it
    assert lead_speed[1] == pytest.approx(15.0) and engine.road_state(20.0).ego_speed_mps == pytest.approx(15.0)


def test_drive_when_close_fires_its_events_again_and_again():
    imported = run("drive_when_close.xosc")
    # ego 10 m/s, target waits 50 m ahead; Drive when gap < 30, Stop when gap > 40 (reference points).
    # esmini's steps: a ramp of 5 m/s^2 over 3 s (30 steps of 0.5 m/s) moves the target 0.5 * 0.1 * (1 + ...
    # + 30) = 23.25 m accelerating 0 -> 15 (22.5 m + half a step of 15 m/s), 45 - 23.25 = 21.75 m braking
    t1 = first_frame_after((50 - 30) / 10)
    target = 50 + 23.25  # at t1 + 3, then 15 m/s
    g = target - 10 * (t1 + 3)
    t2 = first_frame_after(t1 + 3 + (40 - g) / 5)  # then opens at 5 m/s
    target += 15 * (t2 - t1 - 3) + 21.75  # at t2 + 3, stopped
    t3 = first_frame_after(t2 + 3 + (target - 10 * (t2 + 3) - 30) / 10)
    assert fired(imported) == [(t1, "Drive", 1), (t2, "Stop", 1), (t3, "Drive", 2)]
    assert (t1, t2, t3) == (pytest.approx(2.1), pytest.approx(8.7), pytest.approx(12.0))


def test_drive_when_close_drives_the_target_through_esmini_positions():
    imported = run("drive_when_close.xosc")
    # the target's reference point (s along the road), by esmini's steps from the events above (2.1, 8.7 s):
    # 50 m, + 23.25 m accelerating until 5.1 s, + 15 m/s until 8.7 s; at 10 s, 13 steps into the brake,
    # 0.1 * (14.5 + 14 + ... + 8.5) = 14.95 m more; at 12 s it stands after 21.75 m of braking (the second
    # Drive fires at 12.0 s and moves it from then on). drivesim's integral of its recorded speed (each
    # ramp half a step earlier) is within 0.5 * 5 * 0.05^2 = 6 mm of these.
    s10 = 50 + 23.25 + 15 * 3.6 + STEP_S * sum(15 - 0.5 * i for i in range(1, 14))
    s12 = 50 + 23.25 + 15 * 3.6 + 21.75
    assert (s10, s12) == (pytest.approx(142.2), pytest.approx(149.0))
    world = scenario_world(imported.scenario)
    x = EntityMotion(world.agents[0]).at(np.array([0.0, 10.0, 12.0])).lane.x  # along the straight road
    assert x[1] - x[0] + 50 == pytest.approx(s10, abs=0.05)
    assert x[2] - x[0] + 50 == pytest.approx(s12, abs=0.05)


def test_alks_cut_in_uses_both_lanes_of_a_two_lane_road_and_warns_about_the_controller():
    imported = run("alks_cut_in.xosc")
    assert imported.scenario.road.lanes == 2 and imported.scenario.ego.lane == 1
    assert imported.scenario.agents[0].lane == 0  # lane 1, driven the ego's way (heading turned by pi)
    gap0 = 20.0 - 4.6
    assert fired(imported)[0] == (first_frame_after((gap0 - 2.85 * 3) / 3), "CutIn", 1)
    assert any("ObjectController" in w and "ignored" in w for w in imported.warnings)


def test_alks_deceleration_and_a_stand_still_stop_trigger():
    imported = run("alks_decelerate.xosc")
    # lead brakes at 6 m/s^2 from 2.1 s; freespace gap 45.4 - 3 tau^2, closing 6 tau; ego: TTC < 2.5
    tau = (-15 + math.sqrt(15 ** 2 + 12 * 45.4)) / 6  # 3 tau^2 + 15 tau - 45.4 = 0
    t_ego = first_frame_after(2.1 + tau)
    assert fired(imported) == [(2.1, "LeadDecelerates", 1), (t_ego, "EgoBrakes", 1)]
    assert imported.scenario.duration_s == pytest.approx(t_ego + 20 / 8 + 1.1)  # stands > 1 s


@pytest.mark.parametrize("name", sorted(p.name for p in EXAMPLES.glob("*.xosc")))
def test_the_converted_yaml_is_the_same_scenario(name):
    imported = run(name)
    assert parse_scenario(imported.yaml, name) == imported.scenario
    names = [a.id for a in imported.scenario.agents]
    labels = {b.track_id for fc in ScenarioEngine(imported.scenario).frames() for b in fc.boxes}
    assert labels and labels <= set(names)  # entity names are the track ids

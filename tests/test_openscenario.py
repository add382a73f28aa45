"""OpenSCENARIO import: events fire when their conditions first hold, checked against kinematics
computed by hand (frames at 10 fps: an event fires on the first frame at which its rule holds).

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
from drivesim.standards.openscenario import ImportOptions, import_openscenario
from openscenario_fixtures import EXAMPLES

FPS = 10.0
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
    # then the lead brakes at 4 m/s^2: gap = g1 - 10 tau - 2 tau^2, closing = 10 + 4 tau; ego: TTC < 2 s
    g1 = gap0 - 10 * t_lead
    tau = (-18 + math.sqrt(18 ** 2 + 8 * (g1 - 20))) / 4  # 2 tau^2 + 18 tau - (g1 - 20) = 0
    t_ego = first_frame_after(t_lead + tau)
    assert fired(imported) == [(t_lead, "LeadBrakes", 1), (t_ego, "EgoBrakes", 1)]
    assert (t_lead, t_ego) == (pytest.approx(3.6), pytest.approx(4.6))
    engine = ScenarioEngine(imported.scenario)
    _, _, speed, _ = engine.named_trajectory("Lead", np.array([t_lead, t_lead + 1.25, t_lead + 2.5]))
    assert speed == pytest.approx([15.0, 10.0, 5.0])  # linear, rate 4: 2.5 s
    assert engine.road_state(t_ego + 2.5).ego_speed_mps == pytest.approx(5.0)  # rate 8 from 25


def test_ego_accelerates_until_a_relative_distance_is_reached_then_follows_the_lead():
    imported = run("ego_close_gap.xosc")
    t_act = first_frame_after(1.0)
    gap_after_accel = 80.0 - 0.5 * 2.0 * 5.0 ** 2  # ego 20 -> 30 m/s over 5 s: closes 25 m
    t_gap = first_frame_after(t_act + 5 + (gap_after_accel - 30.0) / 10.0)  # then closes 10 m/s
    assert fired(imported)[:2] == [(t_act, "Accelerate", 1), (t_gap, "HoldGap", 1)]
    gap_at_trigger = gap_after_accel - 10.0 * (t_gap - t_act - 5)
    final_gap = gap_at_trigger - 10.0 * 2.5 / 2  # back to 20 m/s at 4 m/s^2
    engine = ScenarioEngine(imported.scenario)
    _, z, lead_speed, _ = engine.named_trajectory("Lead", np.array([13.0, 20.0]))
    assert z == pytest.approx([final_gap - CAMERA_AHEAD_OF_CENTRE_M] * 2)
    # continuous RelativeTargetSpeed: the lead slows to 15 at 14 s and the ego with it
    assert lead_speed[1] == pytest.approx(15.0) and engine.road_state(20.0).ego_speed_mps == pytest.approx(15.0)


def test_drive_when_close_fires_its_events_again_and_again():
    imported = run("drive_when_close.xosc")
    # ego 10 m/s, target waits 50 m ahead; Drive when gap < 30, Stop when gap > 40 (reference points)
    t1 = first_frame_after((50 - 30) / 10)
    g = 50 - 10 * t1  # target accelerates 0 -> 15 at 5 m/s^2 (3 s): gap changes by 7.5 - 30 over them
    g += 0.5 * 15 * 3 - 10 * 3
    t2 = first_frame_after(t1 + 3 + (40 - g) / 5)  # then opens at 5 m/s
    g = g + 5 * (t2 - t1 - 3)
    g += 0.5 * 15 * 3 - 10 * 3  # brakes 15 -> 0 in 3 s
    t3 = first_frame_after(t2 + 3 + (g - 30) / 10)
    assert fired(imported) == [(t1, "Drive", 1), (t2, "Stop", 1), (t3, "Drive", 2)]
    assert (t1, t2, t3) == (pytest.approx(2.1), pytest.approx(8.9), pytest.approx(12.3))


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

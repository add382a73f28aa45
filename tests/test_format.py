"""The scenario schema (docs/scenario-format.md) and the labels record: defaults, frame count, JSON keys."""

import pytest
from pydantic import ValidationError

from drivesim.scenario.format import DEFAULT_SIZE_M, Scenario
from drivesim.scenario.labels import Box, FrameConditions

MINIMAL = {"name": "m", "duration_s": 2}


def test_defaults_follow_design():
    s = Scenario.model_validate(MINIMAL)
    assert (s.version, s.seed, s.fps) == (1, 0, 10.0)
    assert (s.camera.width, s.camera.height, s.camera.fov_deg) == (1024, 512, 90.0)
    assert s.environment.time_of_day == "day" and s.environment.crowdedness == 0.0


@pytest.mark.parametrize("duration,fps,frames", [(2, 10, 20), (0.3, 10, 3), (2.05, 10, 21), (0.01, 10, 1)])
def test_num_frames_covers_duration(duration, fps, frames):
    s = Scenario.model_validate({**MINIMAL, "duration_s": duration, "fps": fps})
    assert s.num_frames == frames
    assert s.timestamp(s.num_frames - 1) < duration


def test_agent_default_size_by_type():
    s = Scenario.model_validate({**MINIMAL, "agents": [{"id": "a", "type": "truck", "lane": 0, "distance_m": 10}]})
    assert s.agents[0].size == DEFAULT_SIZE_M["truck"]


@pytest.mark.parametrize("bad", [
    {"name": "m", "duration_s": 2, "colour": 1},
    {"name": "m", "duration_s": -1},
    {"name": "m", "duration_s": 2, "agents": [{"id": "a", "type": "car", "distance_m": 10}]},
    {"name": "m", "duration_s": 2, "agents": [{"id": "a", "type": "car", "lane": 0, "lateral_m": 1, "distance_m": 10}]},
])
def test_schema_rejects(bad):
    with pytest.raises(ValidationError):
        Scenario.model_validate(bad)


def test_frame_json_has_exactly_contract_keys():
    box = Box("lead", "car", (1, 2, 3, 4), 0.0, 0.1, (0.0, 1.5, 20.0), (4.5, 1.8, 1.5), 1.57, 20.1)
    fc = FrameConditions(index=3, timestamp_s=0.3, time_of_day="night", crowdedness=0.5, boxes=(box,))
    d = fc.to_json()
    assert set(d) == {"index", "timestamp_s", "environment", "boxes"}
    assert set(d["environment"]) == {"time_of_day", "crowdedness"}
    assert set(d["boxes"][0]) == {"track_id", "type", "bbox_xyxy", "truncation", "occlusion",
                                  "location_m", "size_m", "rotation_y", "distance_m"}
    assert FrameConditions.from_json(d).boxes[0] == box


def test_atomic_write_gives_readable_file(tmp_path):
    import os

    from drivesim.output.files import atomic_write_text

    path = tmp_path / "sub" / "labels.jsonl"
    atomic_write_text(path, "x\n")
    assert path.read_text() == "x\n"
    umask = os.umask(0)
    os.umask(umask)
    assert os.stat(path).st_mode & 0o777 == 0o666 & ~umask
    assert [p.name for p in path.parent.iterdir()] == ["labels.jsonl"]  # no temp file left


AT_LANE = {"road": "1", "lane": -1, "s": 10}


def test_reference_behind_m_is_on_the_box_and_dumped_only_when_set():
    truck = {"id": "a", "type": "truck", "position": AT_LANE, "reference_behind_m": 9.0}
    s = Scenario.model_validate({**MINIMAL, "ego": {"position": AT_LANE, "reference_behind_m": 1.4}, "agents": [truck]})
    assert (s.ego.reference_behind_m, s.agents[0].reference_behind_m) == (1.4, 9.0)  # up to the length
    assert s.model_dump()["ego"]["reference_behind_m"] == 1.4
    plain = Scenario.model_validate({**MINIMAL, "ego": {"position": AT_LANE, "reference_behind_m": 0},
                                     "agents": [{"id": "a", "type": "car", "lane": 0, "distance_m": 10}]})
    dumped = plain.model_dump()
    assert "reference_behind_m" not in dumped["ego"] and "reference_behind_m" not in dumped["agents"][0]


@pytest.mark.parametrize("where,value", [("ego", -0.1), ("ego", float("nan")), ("ego", float("inf")), ("ego", 4.6),
                                         ("agent", -1.0), ("agent", float("nan")), ("agent", 4.6)])
def test_reference_behind_m_rejects_negative_nan_and_longer_than_the_entity(where, value):
    data = {**MINIMAL, "ego": {"position": AT_LANE}, "agents": [{"id": "a", "type": "car", "position": AT_LANE}]}
    (data["ego"] if where == "ego" else data["agents"][0])["reference_behind_m"] = value
    with pytest.raises(ValidationError, match="reference_behind_m"):
        Scenario.model_validate(data)


AGENT = "name: m\nduration_s: 5\nagents:\n  - {id: a, type: car, lane: 1, distance_m: 20, speed_mps: 10, "


@pytest.mark.parametrize("text,where,message", [
    # found by tests/test_fuzz_doors.py: a blend over 1e308 s overflowed the agent's travel to NaN at every frame
    (AGENT + "actions: [{at_s: 1, speed_mps: 20, duration_s: 1e308}]}\n", "agents[0].actions[0].duration_s",
     "must be <= 86400, got 1e+308"),
    (AGENT + "actions: [{at_s: 1e308, speed_mps: 20}]}\n", "agents[0].actions[0].at_s", "must be <= 3600"),
    (AGENT + "actions: [{at_s: 1, lateral_m: -1e308}]}\n", "agents[0].actions[0].lateral_m", "must be >= -1000"),
    (AGENT + "size_m: [1e300, 2, 2]}\n", "agents[0].size_m[0]", "must be <= 100"),
    ("name: m\nduration_s: 5\nego: {lateral_m: 1e6}\n", "ego.lateral_m", "must be <= 1000"),
    ("name: m\nduration_s: 5\nenvironment: {events: [{at_s: 1e308, crowdedness: 1}]}\n", "environment.events[0].at_s",
     "must be <= 3600"),
    ("name: m\nduration_s: 5\nroad: {segments: [{straight: 50}]}\nego: {position: {road: main, lane: -1, s: 1e12}}\n",
     "ego.position.s", "must be <= 1000000"),
    # a clothoid of 5e-324 m: an infinite curvature rate, a ZeroDivisionError when the road was built
    ("name: m\nduration_s: 5\nroad: {segments: [{clothoid: {length: 5e-324, curvature_end: 0.1}}]}\n",
     "road.segments[0].clothoid.length", "must be >= 0.01"),
    ("name: m\nduration_s: 5\nroad: {segments: [{arc: {length: 10, radius: 1e308}}]}\n", "road.segments[0].arc.radius",
     "|radius| must be 5 .. 1e+06 m"),
])
def test_every_number_is_bounded_so_no_finite_input_makes_a_nan_world(text, where, message):
    from drivesim.errors import ScenarioError
    from drivesim.scenario.loader import parse_scenario

    with pytest.raises(ScenarioError) as caught:
        parse_scenario(text)
    assert any(issue.key_path == where and message in str(issue) for issue in caught.value.issues), caught.value


@pytest.mark.parametrize("field,value", [("lateral_m", float("nan")), ("duration_s", float("inf")),
                                         ("at_s", float("nan"))])
def test_a_scenario_built_in_code_takes_no_nan_or_inf(field, value):
    action = {"at_s": 1.0, "speed_mps": 5.0, **({"lateral_m": 1.0} if field == "lateral_m" else {}), field: value}
    with pytest.raises(ValidationError, match=field):
        Scenario.model_validate({**MINIMAL, "agents": [{"id": "a", "type": "car", "lane": 0, "distance_m": 10,
                                                        "actions": [action]}]})

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

"""Long-rollout drift: per-minute recall, luminance, colour and Fréchet distance; last minute vs first.

    python -m pytest tests/test_drift.py -x -q
"""

from __future__ import annotations

import dataclasses

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from drivesim.errors import DrivesimError
from drivesim.eval import drift
from drivesim.eval.drift import long_drive, drift_verdicts, format_drift, lane_scorer, minute_rows
from drivesim.eval.road_adherence import LineCounts
from drivesim.eval.frechet import FeatureNetConfig, VideoFeatureNet
from drivesim.scenario.engine import ScenarioEngine
from drivesim.scenario.labels import Box, FrameConditions

pytestmark = pytest.mark.precision  # arithmetic-dependent: CI runs these again in fp32 (README)

H, W = 64, 128
BOX = Box("lead", "car", (40.0, 20.0, 80.0, 50.0), 0.0, 0.0, (0.0, 1.5, 12.0), (4.5, 1.8, 1.5), 0.0, 12.0)


def stream(minutes: int, per_minute: int, level=lambda minute: 120, car_until: int = 99):
    """Frames of a fake drive: grey at `level(minute)`, a white car in its box while minute < car_until."""
    for i in range(minutes * per_minute):
        minute = i // per_minute
        image = np.full((H, W, 3), level(minute), np.uint8)
        if minute < car_until:
            image[20:50, 40:80] = 255
        yield SimpleNamespace(image=image, labels=FrameConditions(i, float(i), "day", 0.3, boxes=(BOX,),
                                                                   width=W, height=H))


def bright_scorer(crops: np.ndarray) -> np.ndarray:
    """Stand-in detector: a crop is a road user when its centre is white."""
    c = crops.shape[1] // 2
    return (crops[:, c, c].mean(-1) > 250).astype(float)


@pytest.fixture(scope="module")
def feature_net():
    torch.manual_seed(0)
    return VideoFeatureNet(FeatureNetConfig(frames=2, height=16, width=32, channels=(8,), feature_dim=4)).eval()


def test_steady_drive_passes_and_a_fading_one_fails(feature_net):
    real = np.random.default_rng(0).normal(size=(20, 4))
    rows = minute_rows(stream(3, 6), fps=0.1, score=bright_scorer, feature_net=feature_net, real_features=real,
                       frame_step=1)
    assert [r["minute"] for r in rows] == [1, 2, 3] and all(r["frames"] == 6 for r in rows)
    assert all(r["recall"] == 1.0 and r["visible"] == 6 for r in rows)
    assert all(r["frechet"] is not None for r in rows)
    assert {v["result"] for v in drift_verdicts(rows)} == {"pass"}
    assert all(r["lane_f1"] is None for r in rows)  # no lane scorer: not scored, not judged
    assert "lane-line F1" not in {v["metric"] for v in drift_verdicts(rows)}

    # the road fading out of the picture: lane-line F1 falls with the frames' brightness
    def lanes(video, labels):
        hit = int(video.mean() / 12)
        return LineCounts(10, hit, 10, hit)

    road = minute_rows(stream(3, 6, level=lambda m: 120 - 30 * m), fps=0.1, score=bright_scorer,
                       feature_net=feature_net, real_features=real, frame_step=1, lanes=lanes)
    assert road[0]["lane_f1"] > road[2]["lane_f1"] > 0
    assert {v["metric"]: v["result"] for v in drift_verdicts(road)}["lane-line F1"] == "FAIL"
    steady = minute_rows(stream(3, 6), fps=0.1, score=bright_scorer, feature_net=feature_net, real_features=real,
                         frame_step=1, lanes=lanes)
    assert {v["metric"]: v["result"] for v in drift_verdicts(steady)}["lane-line F1"] == "pass"

    fading = minute_rows(stream(3, 6, level=lambda m: 120 - 30 * m, car_until=2), fps=0.1, score=bright_scorer,
                         feature_net=feature_net, real_features=real, frame_step=1)
    assert fading[0]["recall"] == 1.0 and fading[2]["recall"] == 0.0
    assert fading[2]["luminance"] < fading[0]["luminance"]
    verdicts = {v["metric"]: v["result"] for v in drift_verdicts(fading)}
    assert verdicts["visible-agent recall"] == "FAIL" and verdicts["mean luminance"] == "FAIL"
    table = format_drift({"runs": [{"upsampler": "on", "seconds": 1.0, "minutes": fading,
                                    "verdicts": drift_verdicts(fading)}]})
    assert "| 3 |" in table and "FAIL" in table and table.startswith("Upsampler on")


def test_part_minutes_and_bad_lengths(feature_net):
    real = np.zeros((4, 4))
    rows = minute_rows(stream(1, 9), fps=0.1, score=bright_scorer, feature_net=feature_net, real_features=real)
    assert [r["frames"] for r in rows] == [6, 3]  # the last half minute counts
    with pytest.raises(DrivesimError, match="shorter than half a minute"):
        minute_rows(stream(1, 2), fps=0.1, score=bright_scorer, feature_net=feature_net, real_features=real)
    with pytest.raises(DrivesimError, match="drift-minutes"):
        long_drive(0)


@pytest.mark.parametrize("road", ["winding", "straight"])
def test_long_drive_keeps_road_users_in_view_to_the_end(road):
    engine = ScenarioEngine(long_drive(2, road=road))
    frames = list(engine.frames())
    assert len(frames) == 1200
    for fc in frames[::100] + frames[-1:]:  # in bends too: the pacing road users stay in the picture
        assert {"lead", "truck"} <= {b.track_id for b in fc.boxes}
    yaws = np.unwrap([engine.ego_pose(fc.timestamp_s).heading for fc in frames[::10]])
    if road == "winding":  # bends both ways, back to the start heading between them
        assert yaws.max() - yaws.min() > 0.5 and abs(yaws[-1] - yaws[0]) < yaws.max() - yaws.min()
    else:
        assert np.ptp(yaws) < 1e-6
    with pytest.raises(DrivesimError, match="--drift-road"):
        long_drive(2, road="roundabout")


def test_lane_scorer_finds_the_rendered_winding_roads_lines_and_not_a_shifted_picture(monkeypatch):
    """The masks the drift scores against are the lines the renderer draws, bends included: a stand-in
    segmenter that marks the frame's white paint scores high on rendered frames, low on shifted ones."""
    from drivesim.pipeline.generate import RenderPipeline

    scenario = long_drive(0.5, width=256, height=128, road="winding")
    picks = (0, 40, 80, 120, 160)  # straight, clothoid and bend
    frames = [f for f in RenderPipeline().frames(scenario) if f.index in picks]
    video = np.stack([f.image for f in frames])
    labels = [f.labels for f in frames]

    def white_paint(net, video):  # (N, 2, H, W): lane lines and road edges where the paint is
        paint = (video.min(-1) > 200).astype(np.float32)
        paint[:, : video.shape[1] // 2] = 0  # the sky's clouds are white too
        return np.stack([paint, paint], 1)

    monkeypatch.setattr(drift, "predict", white_paint)
    score = lane_scorer(None, scenario)
    here = score(video, labels)
    shifted = score(np.roll(video, 24, axis=2), labels)
    # white paint also marks road edges and white cars (precision) and the masks hold dashed lines' gaps
    # (recall): about 0.48 here, 0.06 shifted sideways by 24 px
    assert here.label > 0 and here.f1 > 0.35, here
    assert shifted.f1 < 0.3 * here.f1, (here, shifted)


def test_eval_only_drift_measures_every_minute_of_a_long_rollout(tmp_path):
    import json

    from pipeline_fixtures import micro_bundle  # also sets torch to one thread

    from drivesim.data.synth import SynthConfig, synth_data
    from drivesim.eval.report import run_eval
    from drivesim.eval.settings import EvalSettings
    from drivesim.models.bundle import save_bundle

    save_bundle(micro_bundle(), tmp_path / "bundle")
    synth_data(SynthConfig(output=str(tmp_path / "data"), clips=1, frames=12, height=64, width=128, fps=1.0),
               progress=False)
    settings = EvalSettings(quick=True, only="drift", drift_minutes=1.0, fps=1.0, drift_frame_step=5,
                            feature_steps=2, max_real_clips=1, detector_clips=2, detector_steps=3, progress=False,
                            segmenter_clips=2, segmenter_steps=2,
                            feature_net=FeatureNetConfig(frames=4, height=16, width=32, channels=(8,), feature_dim=4))
    report = run_eval(tmp_path / "bundle", tmp_path / "data", tmp_path / "report", settings)
    drift = report.drift
    assert report.main == [] and report.controllability is None
    off, on = drift["runs"]  # the default: the rollout with the upsampler off, then on
    assert (off["upsampler"], off["super_resolution"], on["upsampler"], on["super_resolution"]) == \
        ("off", False, "on", True)
    for run in (off, on):
        assert [r["minute"] for r in run["minutes"]] == [1] and run["minutes"][0]["frames"] == 60
        assert run["minutes"][0]["visible"] > 0
        assert {v["metric"] for v in run["verdicts"]} >= {"visible-agent recall", "mean luminance", "lane-line F1"}
        assert "lane_f1" in run["minutes"][0]
        assert (tmp_path / "report" / run["samples"]).is_file()
    assert off["minutes"][0]["luminance"] != on["minutes"][0]["luminance"]  # two rollouts, not one twice
    text = (tmp_path / "report" / "report.md").read_text()
    assert "## Long rollout" in text and "Upsampler off" in text and "Upsampler on" in text and "| 1 |" in text
    assert json.loads((tmp_path / "report" / "report.json").read_text())["drift"]["scenario"].startswith("eval_long")

    only_on = run_eval(tmp_path / "bundle", tmp_path / "data", tmp_path / "report_on",
                       dataclasses.replace(settings, drift_upsampler="on")).drift
    assert [r["upsampler"] for r in only_on["runs"]] == ["on"]
    with pytest.raises(DrivesimError, match="--drift-upsampler"):
        dataclasses.replace(settings, drift_upsampler="sometimes").resolved()

"""drivesim eval: the metric functions on hand-made arrays, the report of a micro bundle, bad inputs.

    python -m pytest tests/test_eval.py -x -q
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from pipeline_fixtures import micro_bundle  # also sets torch to one thread

from drivesim.cli import main
from drivesim.errors import BundleError, DrivesimError
from drivesim.eval.ablations import missing_stages
from drivesim.eval.adherence import box_adherence, box_masks, luminance_ratio, mean_luminance
from drivesim.eval.frechet import (FeatureNetConfig, VideoFeatureNet, frechet_distance, load_feature_net,
                                   save_feature_net, sqrtm_psd, video_features, video_windows)
from drivesim.eval.report import run_eval
from drivesim.eval.scenarios import held_out_scenarios, without_named_agents
from drivesim.scenario.variants import with_time_of_day
from drivesim.eval.settings import EvalSettings
from drivesim.eval.temporal import warp_error
from drivesim.scenario.engine import ScenarioEngine
from drivesim.scenario.labels import Box

pytestmark = pytest.mark.precision  # arithmetic-dependent: CI runs these again in fp32 (README)

RNG = np.random.default_rng(0)


def _box(x0, y0, x1, y1, track_id="lead") -> Box:
    return Box(track_id=track_id, type="car", bbox_xyxy=(x0, y0, x1, y1), truncation=0.0, occlusion=0.0,
               location_m=(0.0, 1.5, 10.0), size_m=(4.5, 1.8, 1.5), rotation_y=-1.5708, distance_m=10.0)


def _texture(h=48, w=64) -> np.ndarray:
    """A smooth random texture (blurred noise) that optical flow can follow."""
    import cv2

    noise = RNG.integers(0, 255, (h, w, 3), dtype=np.uint8)
    return cv2.GaussianBlur(noise, (0, 0), 2.0)


# --- adherence -----------------------------------------------------------------------------------

def test_luminance_ratio_of_dark_vs_bright_video():
    dark, bright = np.full((3, 8, 8, 3), 40, np.uint8), np.full((3, 8, 8, 3), 200, np.uint8)
    assert mean_luminance(bright) == pytest.approx(200, abs=1)
    assert luminance_ratio(dark, bright) == pytest.approx(0.2, abs=0.01)
    assert luminance_ratio(bright, dark) > 1
    with pytest.raises(DrivesimError, match="video"):
        mean_luminance(np.zeros((8, 8, 3), np.uint8))


def test_box_adherence_is_high_when_only_the_boxes_change():
    base = RNG.integers(0, 200, (4, 32, 48, 3)).astype(np.uint8)
    boxes = [[_box(10, 8, 20, 20)]] * 4
    inside = box_masks(boxes, 32, 48)
    assert inside.sum() == 4 * 12 * 10  # pixels [10, 20) x [8, 20)
    changed = base.copy()
    changed[inside] += 50
    changed[~inside] += RNG.integers(0, 2, ((~inside).sum(), 3)).astype(np.uint8)  # a little noise elsewhere
    high = box_adherence(changed, base, inside)
    assert high.ratio > 20 and high.inside == pytest.approx(50, abs=1)
    everywhere = box_adherence(base + 30, base, inside)
    assert everywhere.ratio == pytest.approx(1.0, abs=1e-6)
    with pytest.raises(DrivesimError, match="at least one box"):
        box_adherence(changed, base, np.zeros_like(inside))


# --- temporal ------------------------------------------------------------------------------------

def test_warp_error_is_zero_for_a_static_video_low_for_motion_and_high_for_noise():
    image = _texture()
    static = np.stack([image] * 5)
    assert warp_error(static) == pytest.approx(0.0, abs=1e-6)
    moving = np.stack([np.roll(image, 2 * i, axis=1) for i in range(5)])  # a 2 px/frame pan
    noise = RNG.integers(0, 255, (5, 48, 64, 3), dtype=np.uint8)
    assert warp_error(noise) > 0.15
    assert warp_error(moving) < warp_error(noise) / 5
    with pytest.raises(DrivesimError, match="at least 2 frames"):
        warp_error(static[:1])


# --- Fréchet distance ----------------------------------------------------------------------------

def test_frechet_distance_zero_for_identical_positive_and_symmetric_otherwise():
    a = RNG.normal(size=(300, 6))
    b = RNG.normal(size=(250, 6)) @ RNG.normal(size=(6, 6)) * 0.5 + 1.0
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-8)
    assert frechet_distance(a, b) > 0.5
    assert frechet_distance(a, b) == pytest.approx(frechet_distance(b, a), rel=1e-6)
    # 1-D closed form: (mu_a - mu_b)^2 + (sd_a - sd_b)^2
    x, y = a[:, :1], a[:, :1] * 2 + 3
    expected = (x.mean() - y.mean()) ** 2 + (x.std(ddof=1) - y.std(ddof=1)) ** 2
    assert frechet_distance(x, y) == pytest.approx(expected, rel=1e-6)
    cov = np.cov(b, rowvar=False)
    root = sqrtm_psd(cov)
    assert np.allclose(root @ root, cov, atol=1e-8)
    with pytest.raises(DrivesimError, match="at least 2"):
        frechet_distance(a[:1], b)


def test_feature_net_round_trips_through_safetensors_and_rejects_files_without_config(tmp_path):
    config = FeatureNetConfig(frames=4, height=16, width=32, channels=(8, 16), feature_dim=8)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        net = VideoFeatureNet(config).eval()
    videos = video_windows(RNG.integers(0, 255, (9, 24, 40, 3), dtype=np.uint8), 4, 2)
    assert videos.shape == (3, 4, 24, 40, 3)
    save_feature_net(net, tmp_path / "net.safetensors")
    loaded = load_feature_net(tmp_path / "net.safetensors")
    assert loaded.config == config
    np.testing.assert_allclose(video_features(loaded, videos), video_features(net, videos), atol=1e-6)
    save_file({"x": torch.zeros(1)}, str(tmp_path / "bare.safetensors"))
    with pytest.raises(DrivesimError, match="drivesim_feature_net"):
        load_feature_net(tmp_path / "bare.safetensors")
    with pytest.raises(DrivesimError, match="do not exist"):
        load_feature_net(tmp_path / "missing.safetensors")


# --- scenarios and stage records -----------------------------------------------------------------

def test_held_out_scenarios_have_named_boxes_and_clean_variants():
    for scenario in held_out_scenarios(3, duration_s=2.0, width=256, height=128):
        assert not scenario.name.startswith("synth_")  # not drawn from the training generator
        named = [b for fc in ScenarioEngine(scenario).frames() for b in fc.boxes if not b.track_id.startswith("bg_")]
        assert named, scenario.name
        night = with_time_of_day(scenario, "night")
        assert night.environment.time_of_day == "night" and night.seed == scenario.seed
        assert all(e.time_of_day is None for e in night.environment.events)
        empty = without_named_agents(scenario)
        assert empty.agents == [] and empty.seed == scenario.seed and empty.camera == scenario.camera
    with pytest.raises(DrivesimError):
        held_out_scenarios(9)


def test_missing_stages_reads_phases():
    record = {"stages": {"autoencoder": {}, "upsampler": {"phases": {"spatial": {}}}}}
    assert missing_stages(record, ("autoencoder", "decoder", "upsampler:spatial", "upsampler:temporal")) == [
        "decoder", "upsampler:temporal"]


def test_steps_default_to_the_bundles_capped():
    from drivesim.models.configs import get_config

    paper, tiny = get_config("paper"), get_config("tiny")  # DDIM 50 / 50 and the tiny preset's few steps
    full = EvalSettings().with_steps(paper)
    assert (full.steps, full.sr_steps) == (20, 4)
    quick = EvalSettings(quick=True).with_steps(tiny)
    assert (quick.steps, quick.sr_steps) == (min(tiny.diffusion.num_inference_steps, 4),
                                             min(tiny.upsampler_diffusion.num_inference_steps, 2))
    given = EvalSettings(steps=7, sr_steps=1).with_steps(paper)
    assert (given.steps, given.sr_steps) == (7, 1)
    with pytest.raises(DrivesimError, match="steps must be >= 1"):
        EvalSettings(steps=0).resolved()


# --- the whole eval on a micro bundle ------------------------------------------------------------

MAIN_METRICS = ("night/day mean luminance", "box adherence", "warp error, video / image-only",
                "Fréchet distance, generated vs real", "time for a")
ABLATIONS = ("image decoder -> temporal decoder", "per-frame upsampler -> video upsampler",
             "context guidance off")
ALL_STAGES = {"autoencoder": {}, "image": {}, "decoder": {}, "video": {}, "interpolation": {},
              "upsampler": {"phases": {"spatial": {}, "temporal": {}}}}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    from drivesim.data.synth import SynthConfig, synth_data
    from drivesim.models.bundle import save_bundle

    root = tmp_path_factory.mktemp("eval")
    save_bundle(micro_bundle(), root / "bundle")
    synth_data(SynthConfig(output=str(root / "data"), clips=2, frames=16, height=64, width=128), progress=False)
    return root


def _settings(**extra) -> EvalSettings:
    # the main section only: the controllability section has its own tests (tests/test_controllability.py)
    return EvalSettings(quick=True, steps=1, sr_steps=1, duration_s=2.0, camera=(128, 64), feature_steps=3,
                        decoder_windows=2, upsampler_windows=2, progress=False, only="main", **extra)


def test_report_has_every_row_na_with_reasons_then_numbers_once_stages_are_trained(workspace):
    bundle, data, out = workspace / "bundle", workspace / "data", workspace / "report"
    report = run_eval(bundle, data, out, _settings())
    text = (out / "report.md").read_text()
    for name in (*MAIN_METRICS, *ABLATIONS):
        assert name in text, name
    assert [r.result.startswith("n/a") for r in report.main[:3]] == [True] * 3
    assert "stages.json" in report.main[0].result
    assert all(r.reason and "not trained" in r.reason for r in report.ablations)
    assert "n/a: the timed clip is 2 s at 128x64" in report.main[4].result  # not the 4 s 512x256 target clip
    data_json = json.loads((out / "report.json").read_text())
    assert data_json["meta"]["feature_net"]["source"] == "trained"
    assert (out / "feature_net.safetensors").is_file()
    for _, path in report.samples:
        assert (out / path).stat().st_size > 0

    # The same bundle recorded as fully trained: pass/fail verdicts, every ablation measured.
    (bundle / "stages.json").write_text(json.dumps({"version": 1, "stages": ALL_STAGES}))
    try:
        report = run_eval(bundle, data, out, _settings())
    finally:
        (bundle / "stages.json").unlink()
    assert [r.result for r in report.main[:3]] == [
        "pass" if ok else "FAIL" for ok in (report.main[0].number <= 0.6, report.main[1].number >= 2.0,
                                            report.main[2].number <= 0.7)]
    assert report.meta["feature_net"]["source"] == "cached"
    for row in report.ablations:
        assert row.reason is None and row.frechet is not None and row.warp is not None, row.name
    # A fresh temporal decoder decodes like the image decoder (zero-initialised temporal blocks, up to
    # rounding): reported as unchanged, not as the paper's direction.
    decoder = report.ablations[0]
    assert decoder.frechet[0] == pytest.approx(decoder.frechet[1], rel=1e-3)
    assert decoder.same_direction is False and decoder.direction.startswith("unchanged")
    upsampler = report.ablations[1]  # beside the plain resize it has to beat
    assert upsampler.baseline[0] == "bicubic" and 0 < upsampler.baseline[1] < 0.5
    assert upsampler.baseline[1] != pytest.approx(upsampler.rec_error[0])  # a random upsampler is no resize
    assert "bicubic" in upsampler.samples
    text = (out / "report.md").read_text()
    for name in ABLATIONS:
        assert f"| {name}" in text and "FVD" in text
    assert f"(bicubic {upsampler.baseline[1]:.4f})" in text


def test_bad_inputs_give_clear_errors(workspace, tmp_path, capsys):
    with pytest.raises(BundleError, match="does not exist"):
        run_eval(tmp_path / "nope", workspace / "data", tmp_path / "r", _settings())
    (tmp_path / "empty").mkdir()
    with pytest.raises(DrivesimError, match="holds no clips"):
        run_eval(workspace / "bundle", tmp_path / "empty", tmp_path / "r", _settings())
    with pytest.raises(DrivesimError, match="do not exist"):
        run_eval(workspace / "bundle", workspace / "data", tmp_path / "r",
                 _settings(features_weights=tmp_path / "none.safetensors"))
    with pytest.raises(DrivesimError, match="context-guidance scale must be > 1"):
        run_eval(workspace / "bundle", workspace / "data", tmp_path / "r", _settings(context_guidance=1.0))
    assert main(["eval", str(tmp_path / "nope"), "--data", str(workspace / "data"), "-q"]) == 1
    assert "cannot evaluate" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()  # nothing written on bad input

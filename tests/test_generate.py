"""`drivesim generate` end to end on a micro random bundle: the OUT folder, its video, labels and
manifest, determinism, atomic replacement, and clear errors.

    python -m pytest tests/test_generate.py -q
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import cv2
import pytest
import torch

from drivesim import cli
from drivesim.models.bundle import build_bundle, bundle_sha256, load_bundle, save_bundle
from drivesim.output.folder import OutputFolder
from drivesim.pipeline.options import compute_dtype, cpu_has_native_bf16

from pipeline_fixtures import SCENARIO_YAML, micro_bundle, micro_config

pytestmark = pytest.mark.precision  # arithmetic-dependent: CI runs these again in fp32 (README)

FRAMES = 15


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("generate")
    bundle = root / "bundle"
    save_bundle(micro_bundle(), bundle, dtype=torch.float32)
    scenario = root / "drive.yaml"
    scenario.write_text(SCENARIO_YAML.format(duration_s=FRAMES / 10))
    return root, bundle, scenario


def _generate(setup, out: Path, *extra: str) -> int:
    root, bundle, scenario = setup
    return cli.main(["generate", str(scenario), "-o", str(out), "--checkpoint", str(bundle), "--steps", "2", "-q",
                     *extra])


def _pngs(out: Path) -> list[bytes]:
    return [p.read_bytes() for p in sorted((out / "frames").glob("*.png"))]


def test_out_folder_has_frames_video_overlay_labels_and_manifest(setup, tmp_path):
    root, bundle, scenario = setup
    out = tmp_path / "out"
    assert _generate(setup, out) == 0
    assert sorted(p.name for p in (out / "frames").iterdir()) == [f"{i:06d}.png" for i in range(FRAMES)]
    assert cv2.imread(str(out / "frames" / "000000.png")).shape == (64, 128, 3)
    for name in ("video.mp4", "overlay.mp4"):
        cap = cv2.VideoCapture(str(out / name))
        assert cap.isOpened()
        assert int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)) == 128 and int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)) == 64
        assert cap.get(cv2.CAP_PROP_FPS) == pytest.approx(10.0)
        read = 0
        while cap.read()[0]:
            read += 1
        assert read == FRAMES
        cap.release()
    # labels.jsonl: the same bytes as `drivesim plan`
    assert cli.main(["plan", str(scenario), "-o", str(tmp_path / "plan.jsonl")]) == 0
    assert (out / "labels.jsonl").read_bytes() == (tmp_path / "plan.jsonl").read_bytes()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["scenario"]["sha256"] == hashlib.sha256(scenario.read_bytes()).hexdigest()
    assert manifest["checkpoint"]["sha256"] == bundle_sha256(bundle)
    # The sampler comes from the bundle's config when --sampler is not given.
    expected_sampler = load_bundle(bundle).config.diffusion.sampler
    assert (manifest["seed"], manifest["steps"], manifest["sampler"], manifest["frames"]) == (3, 2, expected_sampler,
                                                                                              FRAMES)
    assert manifest["guidance"] == 1.0 and manifest["video_codec"] == "h264" and manifest["keyframe_stride"] == 4
    assert manifest["interpolation_steps"] == 2  # the bundle names none: the keyframe steps
    assert set(manifest["versions"]) >= {"drivesim", "torch", "diffusers"}
    arithmetic = manifest["arithmetic"]  # how the pixels were made: auto picks by CPU (or $DRIVESIM_PRECISION)
    assert arithmetic["precision"] == {torch.float32: "fp32", torch.bfloat16: "bf16"}[compute_dtype("cpu")]
    assert arithmetic["precision_option"] == "auto" and arithmetic["threads"] == torch.get_num_threads()
    assert arithmetic["cpu_native_bf16"] == cpu_has_native_bf16() and arithmetic["cpu"]
    assert set(manifest["timings_s"]) >= {"keyframes", "interpolate", "decode", "upsample", "write", "total"}
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp folders left


def test_same_seed_same_pngs_and_seed_override_follows_plan(setup, tmp_path):
    _, _, scenario = setup
    assert _generate(setup, tmp_path / "a", "--no-sr") == 0
    assert _generate(setup, tmp_path / "b", "--no-sr") == 0
    assert _generate(setup, tmp_path / "c", "--no-sr", "--seed", "5") == 0
    a, b, c = _pngs(tmp_path / "a"), _pngs(tmp_path / "b"), _pngs(tmp_path / "c")
    assert len(a) == FRAMES and a == b
    assert a[0] != c[0]
    assert cli.main(["plan", str(scenario), "-o", str(tmp_path / "plan5.jsonl"), "--seed", "5"]) == 0
    assert (tmp_path / "c" / "labels.jsonl").read_bytes() == (tmp_path / "plan5.jsonl").read_bytes()


def test_same_seed_and_precision_same_pngs_and_the_manifest_names_the_precision(setup, tmp_path):
    """bf16 and fp32 frames of one seed differ; each manifest says which one made its pixels."""
    runs = {}
    for name, precision in (("a", "fp32"), ("b", "fp32"), ("c", "bf16")):
        assert _generate(setup, tmp_path / name, "--no-sr", "--precision", precision) == 0
        runs[name] = _pngs(tmp_path / name)
        manifest = json.loads((tmp_path / name / "manifest.json").read_text())
        assert manifest["arithmetic"]["precision"] == precision
        assert manifest["arithmetic"]["precision_option"] == precision
    assert runs["a"] == runs["b"]
    assert runs["a"] != runs["c"]


def test_rerun_replaces_an_earlier_output_but_not_a_foreign_folder(setup, tmp_path, capsys):
    out = tmp_path / "out"
    assert _generate(setup, out, "--no-sr", "--image-only") == 0
    first = json.loads((out / "manifest.json").read_text())
    assert first["image_only"] is True and first["keyframe_stride"] == 1
    assert _generate(setup, out, "--no-sr") == 0
    assert json.loads((out / "manifest.json").read_text())["image_only"] is False
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "thesis.txt").write_text("keep me")
    assert _generate(setup, foreign, "--no-sr") == 1
    assert "not a drivesim output folder" in capsys.readouterr().err
    assert (foreign / "thesis.txt").read_text() == "keep me"


def test_interrupted_run_leaves_no_out_folder(setup, tmp_path, monkeypatch):
    written = []
    real_write = OutputFolder.write

    def write_then_interrupt(self, frame):
        real_write(self, frame)
        written.append(frame.index)
        if len(written) == 3:
            raise KeyboardInterrupt

    monkeypatch.setattr(OutputFolder, "write", write_then_interrupt)
    out = tmp_path / "out"
    assert _generate(setup, out, "--no-sr") == 130
    assert written == [0, 1, 2]
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []  # the partial folder is gone too


def test_missing_checkpoint_and_missing_gpu_are_clear_errors(setup, tmp_path, capsys):
    _, _, scenario = setup
    rc = cli.main(["generate", str(scenario), "-o", str(tmp_path / "out"), "--checkpoint", str(tmp_path / "nope")])
    err = capsys.readouterr().err
    assert rc == 1 and "does not exist" in err and "--checkpoint" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()
    if not torch.cuda.is_available():
        assert _generate(setup, tmp_path / "gpu", "--device", "cuda") == 1
        assert "CUDA" in capsys.readouterr().err
    assert _generate(setup, tmp_path / "zero", "--steps", "0") == 1
    assert "--steps must be >= 1" in capsys.readouterr().err


def test_bench_report_marks_each_goal():
    from drivesim.bench.speed import format_report

    run = {"frames": 100, "seconds": 50.0, "stages": {"keyframes": 5.0, "upsample": 40.0}, "peak_rss_mb": 1000.0,
           "rss_after_load_mb": 600.0}
    slow = {"step_1": {"frames": 24, "steps": 24, "fps": 0.2, "mean_step_s": 5.0, "max_step_s": 6.0},
            "step_4": {"frames": 24, "steps": 6, "fps": 1.0, "mean_step_s": 4.0, "max_step_s": 4.4}}
    result = {"bundle": "random tiny", "device": "cpu", "threads": 2, "sampler": "ddim", "steps": 4, "sr_steps": 4,
              "interpolation_steps": 2,
              "precision": "torch.bfloat16", "offline_speedup": 1.5, "session_speedup": 4.0,
              "cpu": {"model": "AMD EPYC 9B14", "native_bf16": True},
              "reference": {"options": {"precision": "fp32"}, "ten_second_clip_s": 195.0, "session": slow},
              "one": run, "four": {**run, "frames": 400, "seconds": 210.0, "peak_rss_mb": 1200.0},
              "guidance": {"batched_s": 1.0, "two_passes_s": 1.8}, "memory_ratio": 1.2,
              "generation_memory_ratio": 1.5, "time_ratio": 4.2, "guidance_speedup": 1.8,
              "ten_second_clip_s": 130.0,
              "grpc": {"grpc_fps": 1.9, "inprocess_fps": 2.0, "ratio": 0.95, "time_to_first_frame_s": 3.0},
              "session": {"step_1": {"frames": 24, "steps": 24, "fps": 0.8, "mean_step_s": 1.25, "max_step_s": 2.5},
                          "step_4": {"frames": 24, "steps": 6, "fps": 2.0, "mean_step_s": 2.0, "max_step_s": 2.2}}}
    lines = format_report(result).splitlines()
    assert any(line.startswith("upsample") and "0.400" in line for line in lines)
    assert "MISSED" in next(line for line in lines if line.startswith("peak RSS"))
    assert next(line for line in lines if line.startswith("time")).endswith("ok")
    assert next(line for line in lines if line.startswith("guidance")).endswith("ok")
    assert next(line for line in lines if line.startswith("10 s clip")).endswith("MISSED")
    grpc_line = next(line for line in lines if line.startswith("gRPC"))
    assert "ratio 0.950" in grpc_line and " ok;" in grpc_line and "3.00 s" in grpc_line
    session = [line for line in lines if line.startswith("session")]
    assert "1-frame steps: 0.80 frames/s" in session[0] and "mean 1.25 s, max 2.50 s" in session[0]
    assert "4-frame steps: 2.00 frames/s (reference 1.00)" in session[1]
    assert lines[0] == "cpu AMD EPYC 9B14 | native bf16: yes"  # which CPU the timings were measured on
    assert "bfloat16" in lines[1] and "2 for the interpolator" in lines[1]
    assert next(line for line in lines if line.startswith("  10 s clip")).endswith("MISSED")  # 1.5x < 2x
    assert next(line for line in lines if line.startswith("  1-frame")).endswith("ok")  # 4x >= 3x


def test_bench_reference_undoes_the_exact_rewrites_and_computes_the_same_frames():
    # in a child process, as the bench's reference runs: the swap is process-wide
    code = """
import copy, sys, torch
sys.path.insert(0, 'tests')
from pipeline_fixtures import micro_bundle, scenario
from drivesim.pipeline import GenerateOptions, VideoPipeline
import drivesim.bench.speed as bench, drivesim.pipeline.interpolate as interp
from drivesim.models.temporal import FrameAttentionBlock, FrameConv
bundle = micro_bundle()
with torch.no_grad():  # temporal layers random, so they matter
    for p in bundle.unet.parameters():
        if not p.any(): p.normal_(0, 0.05)
from drivesim.models.video_unet import VideoUNet
layout, forwards = [], []
_layout = VideoUNet._layout
VideoUNet._layout = lambda self, *a: layout.append(1) or _layout(self, *a)
for model in (bundle.unet, bundle.interpolator, bundle.upsampler):  # every VideoUNet
    model.register_forward_pre_hook(lambda *a: forwards.append(1))
def run():
    layout.clear(); forwards.clear()
    frames = [f.image for f in VideoPipeline(bundle, GenerateOptions(steps=2, progress=False, precision='fp32')).frames(scenario(duration_s=1.0))]
    return frames, len(layout), len(forwards)
fast, fast_layouts, fast_forwards = run()
forward = FrameAttentionBlock.forward
assert fast_layouts * 2 == fast_forwards  # the per-clip inputs held across each clip's 2 steps
bench._as_before()
assert FrameAttentionBlock.forward is not forward and interp.SEGMENT_BATCH == 1
assert FrameConv.forward is torch.nn.Conv3d.forward
before, layouts, forwards_ = run()
assert layouts == forwards_ > fast_forwards  # recomputed at every step; one segment per forward
assert max(abs(a.astype(int) - b.astype(int)).max() for a, b in zip(fast, before)) <= 1
print('ok')
"""
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=Path(__file__).parent.parent)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().endswith("ok")


def test_a_road_the_model_has_not_learned_is_warned_about_once_and_recorded(setup, tmp_path, capsys):
    """A bend and an oncoming lane: a bundle of version 1's 6 layout channels draws a straight one-way road, so
    generate says so (once, on stderr, before the slow part) and manifest.json records it; a straight road
    records no warning; a bundle that reads the road network's maps (11 channels) draws the bend: no warning."""
    root, bundle, _ = setup
    curved = tmp_path / "curve.yaml"
    curved.write_text(SCENARIO_YAML.format(duration_s=0.4).replace(
        "road: {lanes: 3, lane_width_m: 3.5}",
        "road: {lanes: 2, oncoming_lanes: 1, lane_width_m: 3.5, segments: [{arc: {length: 200, radius: 120}}]}"))
    out = tmp_path / "out"
    assert cli.main(["generate", str(curved), "-o", str(out), "--checkpoint", str(bundle), "--steps", "1",
                     "--no-sr", "-q"]) == 0
    err = capsys.readouterr().err
    assert err.count("warning:") == 1 and "has not learned curved roads, junctions or oncoming traffic" in err
    assert "--source render" in err and "drivesim preview" in err
    road = json.loads((out / "manifest.json").read_text())["road"]
    assert road["straight"] is False and road["warning"] in err
    assert _generate(setup, tmp_path / "straight", "--no-sr", "--steps", "1") == 0
    assert "warning" not in capsys.readouterr().err
    assert json.loads((tmp_path / "straight" / "manifest.json").read_text())["road"] == {"straight": True}
    world = tmp_path / "world_bundle"
    cfg = micro_config()
    save_bundle(build_bundle(dataclasses.replace(
        cfg, name="micro_world", unet=dataclasses.replace(cfg.unet, num_layout_channels=11),
        interpolator=dataclasses.replace(cfg.interpolator, num_layout_channels=11))), world, dtype=torch.float32)
    assert cli.main(["generate", str(curved), "-o", str(tmp_path / "drawn"), "--checkpoint", str(world), "--steps", "1",
                     "--no-sr", "-q"]) == 0
    assert "warning" not in capsys.readouterr().err
    assert json.loads((tmp_path / "drawn" / "manifest.json").read_text())["road"] == {
        "straight": False, "drawn_from": "road network"}

"""Training: the six stages through `drivesim train`, exact --resume, losses that fall, clear errors.

    python -m pytest tests/test_train.py -x -q

Models are a config smaller than `tiny` (one UNet level, 32x64 frames) and the data is three
synth-data clips of 16 frames; every CLI run uses one CPU thread (much faster on a shared CPU).
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import cv2
import pytest
import torch
from safetensors.torch import load_file

from drivesim.cli import main as cli_main
from drivesim.data.clips import scan_clips
from drivesim.data.synth import SynthConfig, synth_data
from drivesim.errors import DrivesimError
from drivesim.models.autoencoder import AutoencoderConfig
from drivesim.models.bundle import PARTS, build_bundle, part_file, read_bundle_config, save_bundle
from drivesim.models.configs import BundleConfig, UpsamplerConfig, VideoUNetConfig
from drivesim.train.datasets import RateMix, clip_dataset
from drivesim.train.ema import EMA
from drivesim.train.loop import TrainOptions, prepare_run, train
from drivesim.train.latent_cache import LatentCache
from drivesim.train.stages import STAGES, batch_latents, context_counts
from drivesim.train.state import (flatten_optimizer, load_state, record_stage, save_state, trained_stages,
                                  unflatten_optimizer)


def small_config() -> BundleConfig:
    unet = VideoUNetConfig(in_channels=4, out_channels=4, block_out_channels=(32,), layers_per_block=1,
                           attention_levels=(), num_heads=2, use_context=True, max_frames=8)
    return BundleConfig(
        name="test",
        autoencoder=AutoencoderConfig(downsample_factor=4, latent_channels=4, block_channels=(32, 32, 32),
                                      layers_per_block=1, mid_attention=False),
        unet=unet, interpolator=dataclasses.replace(unet, use_rate=True),
        upsampler=UpsamplerConfig(scale_factor=4, block_out_channels=(32,), layers_per_block=1, num_heads=2,
                                  space_to_depth=4),
        frame_size=(32, 64), clip_frames=4, context_frames=2, keyframe_fps=2.5, interpolation_factor=4,
        keyframe_stride=4, output_fps=10.0, decoder_window=4, upsampler_chunk_frames=4, upsampler_patch_size=(8, 8))


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("train") / "data"
    synth_data(SynthConfig(output=str(root), clips=3, frames=16, height=128, width=256), progress=False)
    return root


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("train") / "template"
    save_bundle(build_bundle(small_config()), path)
    return path


def _bundle(template: Path, dst: Path, trained: tuple[str, ...] = ()) -> Path:
    shutil.copytree(template, dst)
    for stage in trained:  # pretend earlier stages ran (order checks only)
        record_stage(dst, stage, {"steps": 1})
    return dst


def _cli(*args: object) -> int:
    return cli_main(["train", *map(str, args), "--threads", "1", "-q"])


def _parts(folder: Path) -> dict[str, dict[str, torch.Tensor]]:
    return {p: load_file(str(part_file(folder, p))) for p in PARTS}


def _equal(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def _log(run_dir: Path) -> list[dict[str, str]]:
    with open(run_dir / "log.csv", newline="") as f:
        return list(csv.DictReader(f))


# --- every stage end to end ----------------------------------------------------------------------

RUNS = [  # (CLI arguments, run folder, the parts it may change)
    (["autoencoder", "--set", "gan_start=1"], "autoencoder", {"autoencoder"}),
    (["image", "--set", "preview_steps=2"], "image", {"unet_spatial"}),
    (["decoder", "--set", "gan_start=1"], "decoder", {"decoder_temporal"}),
    (["video", "--set", "preview_steps=2"], "video", {"unet_temporal"}),
    (["interpolation", "--set", "preview_steps=2"], "interpolation", {"interpolator"}),
    (["upsampler", "--set", "preview_steps=2"], "upsampler", {"upsampler"}),
    (["upsampler", "--phase", "temporal", "--set", "preview_steps=2"], "upsampler-temporal", {"upsampler"}),
]


def test_every_stage_trains_its_part_and_leaves_the_rest_bit_identical(data, template, tmp_path):
    out = _bundle(template, tmp_path / "bundle")
    for args, run, changes in RUNS:
        before = _parts(out)
        assert _cli(*args, "--data", data, "--out", out, "--steps", 2, "--batch", 2, "--preview-every", 2,
                    "--log-every", 1) == 0, args
        after = _parts(out)
        for part in PARTS:
            assert _equal(before[part], after[part]) == (part not in changes), (run, part)
        run_dir = out / ".train" / run
        assert [r["step"] for r in _log(run_dir)] == ["1", "2"]
        preview = cv2.imread(str(run_dir / "previews" / "step-00000002.png"))
        assert preview is not None and preview.shape[0] > 16
        if run == "upsampler-temporal":  # spatial weights frozen: only the temporal tensors moved
            model = build_bundle(small_config()).upsampler
            for key in after["upsampler"]:
                moved = not torch.equal(before["upsampler"][key], after["upsampler"][key])
                assert not moved or model.is_temporal_parameter(key), key
        if run == "image":  # the first latent stage encodes every frame once
            assert len(list((out / ".train" / "latents").glob("*.safetensors"))) == 1
        if run == "autoencoder":  # unit-variance latents for the diffusion stages
            assert read_bundle_config(out).autoencoder.scaling_factor != 1.0
    assert trained_stages(out) == sorted(STAGES)
    # image, video and interpolation share one latent cache (the autoencoder did not change)
    assert len(list((out / ".train" / "latents").glob("*.safetensors"))) == 1
    record = json.loads((out / "stages.json").read_text())["stages"]
    assert set(record["upsampler"]["phases"]) == {"spatial", "temporal"}


def test_stages_trained_side_by_side_keep_each_others_parts(data, template, tmp_path):
    # Two lanes on one bundle: each run loaded the bundle before the other finished, and writes
    # back only what it trained (the shipped default was trained this way).
    out = _bundle(template, tmp_path / "bundle", trained=("autoencoder", "image"))
    common = dict(data=data, out=out, steps=1, batch=2, preview_every=0, log_every=1, threads=1, progress=False)
    decoder = prepare_run(TrainOptions(stage="decoder", **common))
    video = prepare_run(TrainOptions(stage="video", **common))
    before = _parts(out)
    decoder.fit()
    video.fit()  # its in-memory bundle still holds the old decoder
    after = _parts(out)
    assert not _equal(before["decoder_temporal"], after["decoder_temporal"])
    assert not _equal(before["unet_temporal"], after["unet_temporal"])
    for part in ("autoencoder", "unet_spatial", "interpolator", "upsampler"):
        assert _equal(before[part], after[part]), part
    assert trained_stages(out) == ["autoencoder", "decoder", "image", "video"]


# --- losses fall on a fixed batch ----------------------------------------------------------------

@pytest.mark.parametrize("name, ratio", [("autoencoder", 0.5), ("image", 0.5), ("video", 0.75)])
def test_loss_falls_on_a_fixed_batch(name, ratio, data):
    stage = STAGES[name]
    t = stage.setup(build_bundle(small_config()), stage.config(), str(data), scan_clips(data))
    batch = t.collate([t.dataset[i] for i in range(4)])
    named = dict(t.model.named_parameters())
    t.model.requires_grad_(False)
    params = [named[n].requires_grad_(True) for n in t.trainable]
    optimizer = torch.optim.AdamW(params, lr=1e-3)
    losses = []
    for _ in range(20):  # the same noise, timesteps, dropout and context every step
        loss = stage.loss(t, batch, torch.Generator().manual_seed(0), 0)["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < ratio * losses[0], losses


# --- latent cache --------------------------------------------------------------------------------

def test_latent_cache_equals_encoding_each_batch_and_follows_the_encoder(data, tmp_path):
    bundle = build_bundle(small_config(), seed=1)
    clips = scan_clips(data)
    cache = LatentCache.build(bundle.autoencoder, str(data), clips, small_config().frame_size, tmp_path,
                              progress=False)
    assert len(list(tmp_path.glob("*.safetensors"))) == 1
    for name in ("image", "video", "interpolation"):
        stage = STAGES[name]
        t = stage.setup(bundle, stage.config(), str(data), clips)
        t.frozen["autoencoder"].eval()
        batch = t.collate([t.dataset[i] for i in (0, 5, len(t.dataset) - 1)])
        encoded = batch_latents(t, batch)
        t.latents = cache
        cached = batch_latents(t, batch)
        assert cached.shape == encoded.shape and cached.shape[:2] == batch["indices"].shape
        assert torch.allclose(cached, encoded, atol=1e-5), name
    # the same encoder and data load the file; another encoder gets its own latents
    again = LatentCache.build(bundle.autoencoder, str(data), clips, small_config().frame_size, tmp_path,
                              progress=False)
    assert all(torch.equal(again.latents[k], cache.latents[k]) for k in cache.latents)
    other = build_bundle(small_config(), seed=2).autoencoder
    changed = LatentCache.build(other, str(data), clips, small_config().frame_size, tmp_path, progress=False)
    assert len(list(tmp_path.glob("*.safetensors"))) == 2
    key = clips[0].clip_id
    assert not torch.allclose(changed.latents[key], cache.latents[key])
    with pytest.raises(DrivesimError, match="latent cache has no frame"):
        cache.lookup(["no_such_clip"], torch.zeros(1, 1, dtype=torch.long))


# --- resume --------------------------------------------------------------------------------------

def _options(data: Path, out: Path, steps: int, resume: bool = False) -> TrainOptions:
    return TrainOptions(stage="image", data=data, out=out, steps=steps, batch=16, resume=resume,
                        overrides={"preview_steps": "2"}, preview_every=0, log_every=1, save_every=100,
                        threads=1, progress=False)


def test_resume_continues_exactly_where_the_run_stopped(data, template, tmp_path):
    # 48 frames at batch 16: 3 batches per epoch, so the resumed run starts a new epoch.
    straight = _bundle(template, tmp_path / "straight", trained=("autoencoder",))
    train(_options(data, straight, 5))
    resumed = _bundle(template, tmp_path / "resumed", trained=("autoencoder",))
    train(_options(data, resumed, 3))
    with pytest.raises(Exception, match="--resume"):
        prepare_run(_options(data, resumed, 5))

    run = prepare_run(_options(data, resumed, 5, resume=True))
    meta, saved = load_state(resumed / ".train" / "image")
    assert run.start_step == meta["step"] == 3
    live = dict(run.t.module.named_parameters())
    assert all(torch.equal(live[n], saved["model"][n]) for n in run.t.trainable)  # weights = the saved ones
    assert _equal(run.ema.state_dict(), saved["ema"])
    result = run.fit()
    assert (result.start_step, result.step) == (3, 5)

    a, b = load_state(straight / ".train" / "image")[1], load_state(resumed / ".train" / "image")[1]
    for name in ("model", "ema", "optimizer"):
        assert _equal(a[name], b[name]), name  # bit-identical to the run that was never stopped
    log_a, log_b = _log(straight / ".train" / "image"), _log(resumed / ".train" / "image")
    assert [r["step"] for r in log_b] == ["1", "2", "3", "4", "5"]
    assert [r["loss"] for r in log_b] == [r["loss"] for r in log_a]
    assert _equal(_parts(straight)["unet_spatial"], _parts(resumed)["unet_spatial"])

    # stopped after the last save but before the bundle was written: --resume only finishes the stage
    record = json.loads((resumed / "stages.json").read_text())
    del record["stages"]["image"]
    (resumed / "stages.json").write_text(json.dumps(record))
    shutil.copy(part_file(template, "unet_spatial"), part_file(resumed, "unet_spatial"))
    result = train(_options(data, resumed, 5, resume=True))
    assert result.step == 5 and "image" in trained_stages(resumed)
    assert _equal(_parts(straight)["unet_spatial"], _parts(resumed)["unet_spatial"])


def test_sigterm_saves_the_state_and_resume_continues_from_it(data, template, tmp_path):
    out = _bundle(template, tmp_path / "term", trained=("autoencoder",))
    cmd = [sys.executable, "-m", "drivesim.cli", "train", "image", "--data", str(data), "--out", str(out),
           "--steps", "100000", "--batch", "2", "--save-every", "100000", "--log-every", "1", "--preview-every", "0",
           "--threads", "1", "-q"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    log = out / ".train" / "image" / "log.csv"
    deadline = time.monotonic() + 120
    while not (log.is_file() and len(log.read_text().splitlines()) > 3) and time.monotonic() < deadline:
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    step = json.loads((out / ".train" / "image" / "state.json").read_text())["step"]
    assert step >= 3 and "--resume" in err
    run = prepare_run(dataclasses.replace(_options(data, out, step + 1, resume=True), batch=2))
    assert run.start_step == step


# --- bad inputs ----------------------------------------------------------------------------------

def _error(capsys, *args: object) -> str:
    assert _cli(*args) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err
    return err


def test_clear_errors_without_traceback(data, template, tmp_path, capsys):
    out = _bundle(template, tmp_path / "b")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "does not exist" in _error(capsys, "image", "--data", tmp_path / "nope", "--out", out)
    assert "holds no clips" in _error(capsys, "image", "--data", empty, "--out", out)
    err = _error(capsys, "imgae", "--data", data, "--out", out)
    assert "autoencoder, image, decoder, video, interpolation, upsampler" in err
    err = _error(capsys, "video", "--data", data, "--out", out)  # nothing trained yet
    assert "'autoencoder' and 'image'" in err and "drivesim train autoencoder" in err
    assert "--phase spatial" in _error(capsys, "upsampler", "--phase", "temporal", "--data", data, "--out", out)
    assert "no phases" in _error(capsys, "image", "--phase", "temporal", "--data", data, "--out", out)
    assert "--config" in _error(capsys, "autoencoder", "--data", data, "--out", tmp_path / "new")
    assert "kl_weight" in _error(capsys, "autoencoder", "--set", "nope=1", "--data", data, "--out", out)
    # an earlier run's state: refuse to overwrite it, and refuse resuming it with other settings
    run_dir = out / ".train" / "autoencoder"
    save_state(run_dir, 7, {}, {"config": {"batch": 8, "steps": 10}})
    err = _error(capsys, "autoencoder", "--data", data, "--out", out)
    assert "--resume" in err and "step 7" in err and str(run_dir) in err
    assert "differs from the saved run" in _error(capsys, "autoencoder", "--resume", "--batch", 2,
                                                  "--data", data, "--out", out)


def test_init_from_grows_a_trained_bundle_and_fine_tunes_it(data, template, tmp_path, monkeypatch, capsys):
    from drivesim.models import configs

    source = _bundle(template, tmp_path / "source", trained=("autoencoder", "image"))
    base = small_config()
    levels = dataclasses.replace(base.unet, layout_scale=4, layout_levels=True)
    monkeypatch.setitem(configs.CONFIGS, "test", lambda: dataclasses.replace(
        base, unet=levels, interpolator=dataclasses.replace(levels, use_rate=True),
        upsampler=dataclasses.replace(base.upsampler, num_layout_channels=6)))
    out = tmp_path / "grown"
    assert _cli("image", "--data", data, "--config", "test", "--init-from", source, "--out", out, "--steps", 2,
                "--batch", 2, "--set", "preview_steps=2", "--set", "fg_weight=2", "--set", "p_null=0.2") == 0
    before, after = _parts(source), _parts(out)
    for part in ("autoencoder", "decoder_temporal", "unet_temporal"):
        assert _equal(before[part], after[part]), part
    grown_in = after["upsampler"]["conv_in.weight"]  # the layout maps' new input channels start at zero
    old_in = before["upsampler"]["conv_in.weight"]
    assert torch.equal(grown_in[:, :old_in.shape[1]], old_in) and not grown_in[:, old_in.shape[1]:].any()
    spatial = after["unet_spatial"]
    assert any(k.startswith("layout_encoder.") for k in spatial)
    assert not _equal({k: v for k, v in spatial.items() if k in before["unet_spatial"]}, before["unet_spatial"])
    assert read_bundle_config(out).unet.layout_levels
    assert trained_stages(out) == ["autoencoder", "image"]  # the source's record came along
    assert _cli("upsampler", "--data", data, "--out", out, "--steps", 2, "--batch", 2,
                "--set", "preview_steps=2", "--preview-every", 1, "--set", "fg_weight=2", "--set", "decoded_p=0.5",
                "--set", "erase_p=0.5") == 0  # patches with their layout maps, decoded and erased low-res inputs
    assert not torch.equal(_parts(out)["upsampler"]["conv_in.weight"][:, old_in.shape[1]:],
                           torch.zeros_like(grown_in[:, old_in.shape[1]:]))
    # train_only: the input layer alone learns (scripts/road_upsampler.sh's TRAIN_ONLY), every other weight stays
    before_ups = _parts(out)["upsampler"]
    shutil.rmtree(out / ".train" / "upsampler")  # a new run, not a resumed one
    assert _cli("upsampler", "--data", data, "--out", out, "--steps", 2, "--batch", 2, "--lr", 1e-2,
                "--set", "preview_steps=2", "--preview-every", 0, "--set", "ema_decay=0", "--set", "train_only=conv_in",
                "--set", "fg_weight=2", "--set", "vru_weight=2") == 0
    after_ups = _parts(out)["upsampler"]
    assert not torch.equal(before_ups["conv_in.weight"], after_ups["conv_in.weight"])
    assert _equal({k: v for k, v in before_ups.items() if not k.startswith("conv_in.")},
                  {k: v for k, v in after_ups.items() if not k.startswith("conv_in.")})
    shutil.rmtree(out / ".train" / "upsampler")
    assert "names none of the upsampler's spatial parameters" in _error(
        capsys, "upsampler", "--data", data, "--out", out, "--steps", 1, "--batch", 2, "--set", "train_only=conv_inn")


def test_foreground_weights_mark_the_boxes_of_frames_whose_layout_is_kept():
    from drivesim.conditions.encode import empty_conditions
    from drivesim.train.stages import foreground_weights

    layout = torch.zeros(2, 1, 6, 8, 16)
    layout[:, :, 5] = 0.5  # road everywhere: not a box
    layout[:, :, 2, 0:2, 0:3] = 1.0  # a pedestrian box over fine columns 0..2 -> coarse columns 0..1
    cond = empty_conditions(2, 1).replace(layout=layout, layout_null=torch.tensor([[False], [True]]))
    w = foreground_weights(cond, (4, 8), 2.0)
    assert w.shape == (2, 1, 1, 4, 8)
    expected = torch.ones(4, 8)
    expected[0, 0:2] = 3.0
    assert torch.equal(w[0, 0, 0], expected)
    assert torch.equal(w[1], torch.ones(1, 1, 4, 8))  # layout dropped: the model cannot know the boxes
    assert foreground_weights(cond, (4, 8), 0.0) is None
    layout[:, :, 0, 6:8, 12:16] = 1.0  # a car's box: fg_weight only; the pedestrian's gets vru_weight on top
    w = foreground_weights(cond.replace(layout=layout), (4, 8), 2.0, vru_weight=3.0)
    expected[3, 6:8] = 3.0
    expected[0, 0:2] = 6.0
    assert torch.equal(w[0, 0, 0], expected) and torch.equal(w[1], torch.ones(1, 1, 4, 8))
    assert torch.equal(foreground_weights(cond.replace(layout=layout), (4, 8), 0.0, vru_weight=3.0)[0, 0, 0],
                       1.0 + (expected == 6.0) * 3.0)



def _degrader(**config):
    from types import SimpleNamespace

    from drivesim.train.stages import UpsamplerStageConfig

    class HalfAutoencoder:  # a stand-in whose round trip is visibly not the identity
        def encode(self, x):
            return x * 0.5

        def decode(self, z):
            return z

    return SimpleNamespace(config=UpsamplerStageConfig(**config), frozen={"autoencoder": HalfAutoencoder()},
                           bundle=SimpleNamespace(config=SimpleNamespace(upsampler=UpsamplerConfig(scale_factor=4))))


def test_upsampler_degradations_decode_and_erase_only_where_asked():
    from drivesim.train.stages import degrade_low_res

    g = torch.Generator().manual_seed(0)
    low = torch.full((2, 1, 3, 16, 16), -0.5)
    low[:, :, :, 6:8, 6:8] = 0.9  # a small bright road user on a dark road
    layout = torch.zeros(2, 1, 6, 64, 64)
    layout[:, :, 2, 24:32, 24:32] = 1.0  # its pedestrian box at the high-res size (x4)
    layout[:, :, 5] = 0.5  # road: not a box, never erased
    assert torch.equal(degrade_low_res(_degrader(), low, layout, g), low)  # both off: untouched
    decoded = degrade_low_res(_degrader(decoded_p=1.0), low, layout, g)
    assert torch.allclose(decoded, low * 0.5)  # the autoencoder's round trip
    erased = degrade_low_res(_degrader(erase_p=1.0), low, layout, g)
    outside = torch.ones(16, 16, dtype=torch.bool)
    outside[6:8, 6:8] = False
    assert torch.equal(erased[..., outside], low[..., outside])  # only the pixels under the box change
    assert torch.allclose(erased[..., 6:8, 6:8], torch.tensor(-0.5))  # filled with the road around it


def test_upsampler_box_options_need_an_upsampler_that_reads_the_layout(data, template, tmp_path, capsys):
    out = _bundle(template, tmp_path / "b")
    assert "num_layout_channels" in _error(capsys, "upsampler", "--data", data, "--out", out, "--steps", 1,
                                           "--set", "erase_p=0.5")


# --- two CPU processes (DDP over gloo) ------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_cpu_processes_train_one_model(data, template, tmp_path):
    out = _bundle(template, tmp_path / "ddp")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", str(_free_port()),
           "-m", "drivesim.cli", "train", "autoencoder", "--cpu", "--data", str(data), "--out", str(out),
           "--steps", "2", "--batch", "2", "--set", "gan_start=1", "--preview-every", "0", "--threads", "1", "-q"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-2000:]
    meta = json.loads((out / ".train" / "autoencoder" / "state.json").read_text())
    assert meta["processes"] == 2 and meta["step"] == 2
    assert done.stdout.count("autoencoder: trained steps 1-2") == 1  # reported by the main process only


def test_unconnected_launched_processes_are_refused(data, template, tmp_path, capsys, monkeypatch):
    # torchrun without --cpu on a machine without GPUs: N copies that would overwrite each other
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert "add --cpu" in _error(capsys, "autoencoder", "--data", data, "--out", _bundle(template, tmp_path / "b"))


# --- building blocks -----------------------------------------------------------------------------

def test_optimizer_state_round_trips_through_safetensors_and_json(tmp_path):
    params = [torch.nn.Parameter(torch.randn(3, 2)), torch.nn.Parameter(torch.randn(4))]
    opt = torch.optim.AdamW(params, lr=1e-3, betas=(0.5, 0.9))
    sum(p.square().sum() for p in params).backward()
    opt.step()
    tensors, meta = flatten_optimizer(opt.state_dict())
    save_state(tmp_path, 1, {"optimizer": tensors}, {"optimizer": meta})
    save_state(tmp_path, 2, {"optimizer": tensors}, {"optimizer": meta})
    assert sorted(p.name for p in tmp_path.glob("step-*")) == ["step-00000002"]  # older snapshot removed
    loaded_meta, loaded = load_state(tmp_path)
    fresh = torch.optim.AdamW(params, lr=1.0)
    fresh.load_state_dict(unflatten_optimizer(loaded["optimizer"], loaded_meta["optimizer"]))
    assert fresh.param_groups[0]["betas"] == (0.5, 0.9) and fresh.param_groups[0]["lr"] == 1e-3
    for p in params:
        for key in ("exp_avg", "exp_avg_sq", "step"):
            assert torch.equal(fresh.state[p][key], opt.state[p][key])


def test_ema_warms_up_and_preview_weights_are_restored():
    p = torch.nn.Parameter(torch.zeros(2))
    ema = EMA([("p", p)], decay=0.999)
    p.data.fill_(1.0)
    ema.update()  # decay min(0.999, 1/10) = 0.1
    assert torch.allclose(ema.shadow["p"], torch.full((2,), 0.9))
    with ema.applied():
        assert torch.allclose(p, torch.full((2,), 0.9))
    assert torch.equal(p.data, torch.ones(2))


def test_stage_data_spacing_and_context_draws(data):
    clips = scan_clips(data)
    notes: list[str] = []
    keyframes = clip_dataset(str(data), clips, 4, (32, 64), 0.4, 10.0, notes)  # 2.5 fps keyframes of 10 fps clips
    assert keyframes.frame_stride == 4 and len(keyframes) == 3 * (16 - 13 + 1) and not notes
    fine = clip_dataset(str(data), clips, 5, (32, 64), 0.025, 10.0, notes)  # 40 fps: finer than the data
    assert fine.frame_stride == 1 and "0.025" in notes[0]
    mix = RateMix([keyframes, fine])
    assert [int(mix[i]["rate"]) for i in range(4)] == [0, 1, 0, 1]
    counts = context_counts(20000, 8, 2, 0.3, torch.Generator().manual_seed(0))
    share = torch.bincount(counts, minlength=3).float() / len(counts)
    assert torch.allclose(share, torch.tensor([0.3, 0.35, 0.35]), atol=0.02)


def test_each_stage_run_records_its_full_settings_and_info_prints_them(data, template, tmp_path, capsys,
                                                                       monkeypatch):
    """stages.json is written by the training code: the resolved config, options, init_from and the data's
    content hash and seeds, paths relative to the checkout or the bundle (never absolute), wall time
    summed over a resume; `drivesim info` prints every run; `bundle set` appends its edit."""
    from drivesim.models import configs
    from drivesim.train.provenance import data_fingerprint

    monkeypatch.setitem(configs.CONFIGS, "test", small_config)
    source = _bundle(template, tmp_path / "source", trained=("autoencoder",))
    out = tmp_path / "bundle"
    assert _cli("image", "--data", data, "--config", "test", "--init-from", source, "--out", out, "--steps", 2,
                "--batch", 2,
                "--set", "preview_steps=2", "--set", "p_null=0.25") == 0
    assert _cli("image", "--data", data, "--out", out, "--steps", 3, "--batch", 2, "--resume",
                "--set", "preview_steps=2", "--set", "p_null=0.25") == 0
    entry = json.loads((out / "stages.json").read_text())["stages"]["image"]
    first, second = entry["runs"]
    assert (first["steps"], second["steps"], second["resumed_from_step"]) == (2, 3, 2)
    assert first["config"]["p_null"] == 0.25 and first["config"]["batch"] == 2
    assert set(first["config"]) >= {"lr", "warmup_steps", "ema_decay", "fg_weight"}  # defaults included
    assert first["data"]["sha256"] == data_fingerprint(data)["sha256"] and first["data"]["files"] > 0
    assert first["data"]["seeds"] == [0]
    assert first["init_from"] == {"path": "../source", "relative_to": "bundle"}
    assert second["wall_s"] >= first["wall_s"] > 0  # summed over the resume
    text = json.dumps(entry)
    assert str(tmp_path) not in text and not first["data"]["path"].startswith("/")

    other = tmp_path / "other_data"
    shutil.copytree(data, other)
    (next(other.rglob("labels.jsonl"))).write_text("changed\n")
    assert data_fingerprint(other)["sha256"] != first["data"]["sha256"]  # the hash is of the content
    linked = tmp_path / "linked_data"  # a folder of links to the clips (scripts/road_upsampler.sh's mix)
    linked.mkdir()
    for clip in sorted(p for p in Path(data).iterdir() if p.is_dir()):
        (linked / clip.name).symlink_to(clip.resolve(), target_is_directory=True)
    assert data_fingerprint(linked) == data_fingerprint(data)  # the linked clips' files, not an empty folder

    from drivesim.train.bundle_edit import set_config_values

    set_config_values(out, {"diffusion.guidance_scale": "1.5"})
    assert json.loads((out / "stages.json").read_text())["edits"][-1]["set"] == {"diffusion.guidance_scale": 1.5}
    capsys.readouterr()
    assert cli_main(["info", str(out)]) == 0
    shown = capsys.readouterr().out
    assert "training record (stages.json):" in shown and "image: 3 steps" in shown
    assert "steps 0->2" in shown and "steps 2->3" in shown and "p_null=0.25" in shown
    assert "init_from ../source (bundle)" in shown and "set diffusion.guidance_scale=1.5" in shown

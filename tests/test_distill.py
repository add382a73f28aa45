"""Few-step students: the LCM sampler, latent consistency distillation through `drivesim train distill`, the
bundle's students/ part and `--student` (GenerateOptions.student) with its per-model fallback.

    OMP_NUM_THREADS=1 python -m pytest tests/test_distill.py -x -q

The distillation runs on test_train's small config and three 16-frame synth-data clips; the pipeline runs on
the micro bundle of pipeline_fixtures with its keyframe model copied in as a student.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from drivesim.cli import main as cli_main
from drivesim.data.clips import scan_clips
from drivesim.data.synth import SynthConfig, synth_data
from drivesim.diffusion.schedule import DiffusionConfig, make_scheduler
from drivesim.conditions.encode import upsampler_conditions
from drivesim.errors import DrivesimError
from drivesim.models.bundle import (PARTS, build_bundle, bundle_sha256, load_bundle, part_file, save_bundle)
from drivesim.models.configs import StudentConfig
from drivesim.models.upsampler import resize_low_res
from drivesim.pipeline import GenerateOptions, VideoPipeline
from drivesim.sampling.samplers import sample_lcm
from drivesim.scenario.engine import ScenarioEngine
from drivesim.train.distill import DISTILL_STAGES, pseudo_huber_loss, solver_timesteps
from drivesim.train.ema import EMA
from drivesim.train.state import record_stage, trained_stages

from pipeline_fixtures import SCENARIO_YAML, micro_config, scenario
from test_train import small_config


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("distill") / "data"
    synth_data(SynthConfig(output=str(root), clips=3, frames=16, height=128, width=256), progress=False)
    return root


@pytest.fixture(scope="module")
def teacher(tmp_path_factory) -> Path:
    """A small bundle whose stages count as trained (random weights: the order checks only)."""
    path = tmp_path_factory.mktemp("distill") / "teacher"
    config = dataclasses.replace(small_config(), diffusion=DiffusionConfig(guidance_scale=2.0))
    save_bundle(build_bundle(config), path)
    for stage in ("autoencoder", "image", "video", "interpolation", "upsampler"):
        record_stage(path, stage, {"steps": 1})
    return path


# --- the sampler ---------------------------------------------------------------------------------

def _oracle(x0: torch.Tensor, diffusion: DiffusionConfig, calls: list[int]):
    """A perfect denoiser for the single data point x0 (eps, v or x0 of x_t), recording its timesteps."""
    acp = make_scheduler("ddim", diffusion).alphas_cumprod.double()

    def model(x, t, cond):
        calls.append(int(t[0]))
        a, s = acp[t.long()].sqrt().view(-1, 1, 1, 1, 1), (1 - acp[t.long()]).sqrt().view(-1, 1, 1, 1, 1)
        eps = (x.double() - a * x0.double()) / s
        out = {"epsilon": eps, "sample": x0.double().expand_as(eps)}.get(diffusion.prediction_type,
                                                                           a * eps - s * x0.double())
        return out.float()

    return model


@pytest.mark.parametrize("prediction_type", ["epsilon", "v_prediction", "sample"])
@pytest.mark.parametrize("steps", [1, 4])
def test_lcm_sampler_takes_its_steps_from_the_top_and_a_perfect_denoiser_recovers_x0(prediction_type, steps):
    diffusion = DiffusionConfig(prediction_type=prediction_type)
    x0 = torch.randn(2, 3, 4, 6, 8, generator=torch.Generator().manual_seed(0))
    calls: list[int] = []
    out = sample_lcm(_oracle(x0, diffusion, calls), torch.randn(x0.shape), None, diffusion, steps,
                     generator=torch.Generator().manual_seed(1))
    assert len(calls) == steps and calls[0] == 999 and calls == sorted(calls, reverse=True)
    assert set(calls) <= set(solver_timesteps(1000, 50).tolist())  # the distillation's solver timesteps
    assert torch.allclose(out, x0, atol=1e-4), (out - x0).abs().max()


def test_one_step_student_sample_has_the_right_shape_is_finite_and_follows_its_noise():
    bundle = build_bundle(micro_config(), seed=0)
    cfg = bundle.config
    (h, w), frames = cfg.latent_size, cfg.clip_frames
    noise = torch.randn(1, frames, cfg.autoencoder.latent_channels, h, w, generator=torch.Generator().manual_seed(0))
    cond = _conditions(bundle, frames)
    with torch.no_grad():
        one = sample_lcm(lambda x, t, c: bundle.unet(x, t, c), noise, cond, cfg.diffusion, 1)
        again = sample_lcm(lambda x, t, c: bundle.unet(x, t, c), noise, cond, cfg.diffusion, 1)
        fresh = lambda i: torch.full_like(noise, float(i))  # noqa: E731
        two = [sample_lcm(lambda x, t, c: bundle.unet(x, t, c), noise, cond, cfg.diffusion, 2, noise_sampler=f)
               for f in (fresh, fresh, lambda i: torch.ones_like(noise))]
    assert one.shape == noise.shape and torch.isfinite(one).all() and one.std() > 0
    assert torch.equal(one, again)  # one step draws no noise
    assert torch.equal(two[0], two[1]) and not torch.equal(two[0], two[2])  # step noise from the noise_sampler


def _conditions(bundle, frames: int):
    from drivesim.pipeline.context import RunContext

    run = RunContext(bundle, GenerateOptions(progress=False), ScenarioEngine(scenario(duration_s=1.0)))
    return run.unet_conditions(list(range(frames)), bundle.config.layout_size)


# --- distillation --------------------------------------------------------------------------------

def test_pseudo_huber_is_quadratic_near_zero_linear_far_away_and_masks_frames():
    pred, c = torch.zeros(1, 2, 1, 2, 2), 0.001
    near, far = torch.full_like(pred, 1e-4), torch.full_like(pred, 10.0)
    assert pseudo_huber_loss(pred, near, c) == pytest.approx(0.5 * 1e-8 / c, rel=0.01)
    assert pseudo_huber_loss(pred, far, c) == pytest.approx(10.0 - c, rel=1e-4)
    mixed = torch.cat([near[:, :1], far[:, 1:]], dim=1)
    assert pseudo_huber_loss(pred, mixed, c, mask=torch.tensor([[1.0, 0.0]])) == pytest.approx(0.5 * 1e-8 / c, rel=0.01)
    # pixel weights (the boxes' fg_weight / vru_weight) move the loss toward the weighted pixels, per item
    one_far = near.clone()
    one_far[..., 0, 0] = 10.0  # one pixel of four far off in each frame
    plain = pseudo_huber_loss(pred, one_far, c)
    weights = torch.ones(1, 2, 1, 2, 2)
    weights[..., 0, 0] = 7.0  # 7 / (7 + 3) of each frame's weight on that pixel instead of 1 / 4
    assert plain == pytest.approx(0.25 * (10.0 - c), rel=1e-3)
    assert pseudo_huber_loss(pred, one_far, c, pixel_weights=weights) == pytest.approx(0.7 * (10.0 - c), rel=1e-3)


@pytest.mark.parametrize("name", ["keyframe", "upsampler"])
def test_a_few_distillation_steps_reduce_the_loss_on_a_fixed_batch(name, data, teacher):
    stage = DISTILL_STAGES[f"distill-{name}"]
    cfg = stage.config(batch=2)
    t = stage.setup(load_bundle(teacher), cfg, str(data), scan_clips(data))
    assert cfg.guidance == (2.0 if name == "keyframe" else 1.0)  # the bundle's guidance is folded in; none for SR
    assert "teacher" in t.frozen and t.model is not t.frozen["teacher"]
    assert all(torch.equal(a, b) for a, b in zip(t.model.state_dict().values(),
                                                  t.frozen["teacher"].state_dict().values()))  # starts as its teacher
    batch = t.collate([t.dataset[i] for i in range(2)])
    t.model.requires_grad_(True)
    t.frozen["teacher"].requires_grad_(False)
    t.ema = EMA(list(t.model.named_parameters()), cfg.ema_decay)
    optimizer = torch.optim.AdamW(t.model.parameters(), lr=3e-4)
    losses = []
    for _ in range(15):  # the same timesteps, noise and conditions every step
        loss = stage.loss(t, batch, torch.Generator().manual_seed(0), 0)["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        t.ema.update()
        losses.append(loss.item())
    assert all(map(lambda v: v == v, losses)) and losses[-1] < 0.75 * losses[0], losses


def _cli(*args: object) -> int:
    return cli_main(["train", *map(str, args), "--threads", "1", "-q"])


def test_the_cli_distils_each_student_into_the_bundle_beside_its_teacher(data, teacher, tmp_path, capsys):
    out = tmp_path / "bundle"
    shutil.copytree(teacher, out)
    before = {p: load_file(str(part_file(out, p))) for p in PARTS}
    sha_before = bundle_sha256(out)
    for name in ("keyframe", "interpolator", "upsampler"):
        assert _cli("distill", name, "--bundle", out, "--data", data, "--steps", 2, "--batch", 2,
                    "--preview-every", 2, "--set", "student_steps=2") == 0, name
        assert (out / ".train" / f"distill-{name}" / "previews" / "step-00000002.png").is_file()
    # the teachers are untouched; each student is a whole network, fp16 like the rest
    for part in PARTS:
        after = load_file(str(part_file(out, part)))
        assert all(torch.equal(before[part][k], after[k]) for k in after), part
    for name in ("keyframe", "interpolator", "upsampler"):
        tensors = load_file(str(out / "students" / f"{name}.safetensors"))
        assert {v.dtype for v in tensors.values() if v.is_floating_point()} == {torch.float16}
    bundle = load_bundle(out)
    assert sorted(bundle.students) == ["interpolator", "keyframe", "upsampler"] and not bundle.student_notes
    students = bundle.config.students
    assert (students.keyframe.steps, students.keyframe.guidance_scale, students.upsampler.guidance_scale) == (2, 2.0, 1.0)
    assert students.keyframe.solver_steps == 50 and len(students.keyframe.teacher_sha256) == 64
    file = load_file(str(out / "students" / "keyframe.safetensors"))
    assert all(torch.equal(bundle.students["keyframe"].state_dict()[k], v.float()) for k, v in file.items())
    assert bundle_sha256(out) != sha_before
    # provenance: every setting, the teacher it started from, its record in `drivesim info`
    run = json.loads((out / "stages.json").read_text())["stages"]["distill-keyframe"]["runs"][0]
    assert run["init_from"]["teacher"] == "keyframe" and run["init_from"]["parts"] == ["unet_spatial", "unet_temporal"]
    assert run["init_from"]["sha256"] == students.keyframe.teacher_sha256
    assert {"solver_steps", "student_steps", "guidance", "huber_c", "timestep_scaling", "ema_decay", "lr",
            "p_no_context", "p_null"} <= set(run["config"])
    assert run["config"]["guidance"] == 2.0 and run["steps"] == 2
    capsys.readouterr()
    assert cli_main(["info", str(out)]) == 0
    shown = capsys.readouterr().out
    assert "students/keyframe.safetensors" in shown and "distill-keyframe: 2 steps" in shown
    # retraining a teacher drops its student's record; loading skips a student whose teacher's files changed
    record_stage(out, "video", {"steps": 2}, invalidates=("distill-keyframe",))
    assert "distill-keyframe" not in trained_stages(out) and "distill-upsampler" in trained_stages(out)
    unet = bundle.unet
    with torch.no_grad():
        next(p for n, p in unet.named_parameters() if unet.is_temporal_parameter(n)).add_(1.0)
    save_bundle(bundle, out, parts=("unet_temporal",), write_config=False)
    stale = load_bundle(out)
    assert "keyframe" not in stale.students and "distil it again" in stale.student_notes["keyframe"]
    assert "interpolator" in stale.students  # its teacher (unet_spatial + interpolator) did not change


def test_distill_refuses_what_it_cannot_do(data, teacher, tmp_path, capsys):
    def error(*args: object) -> str:
        capsys.readouterr()
        assert _cli(*args) == 1
        return capsys.readouterr().err

    assert "one of keyframe, interpolator, upsampler" in error("distill", "--bundle", teacher, "--data", data)
    assert "not a trained bundle" in error("distill", "keyframe", "--bundle", tmp_path / "none", "--data", data)
    assert "takes no MODEL" in error("video", "keyframe", "--out", teacher, "--data", data)
    fresh = tmp_path / "fresh"
    save_bundle(build_bundle(small_config()), fresh)  # nothing trained yet
    assert "run `drivesim train autoencoder" in error("distill", "keyframe", "--bundle", fresh, "--data", data)


def test_a_slimmer_upsampler_student_leaves_out_level_0s_temporal_attention(data, tmp_path, capsys):
    config = small_config()
    config = dataclasses.replace(config, upsampler=dataclasses.replace(config.upsampler, block_out_channels=(32, 64)))
    out = tmp_path / "bundle"
    save_bundle(build_bundle(config), out)
    record_stage(out, "upsampler", {"steps": 1})
    capsys.readouterr()
    assert _cli("distill", "upsampler", "--bundle", out, "--data", data, "--set", "student_temporal_attention=0,2") == 1
    assert "a comma list of the teacher's temporal attention levels to keep (it has [0, 1])" in capsys.readouterr().err
    assert _cli("distill", "upsampler", "--bundle", out, "--data", data, "--steps", 2, "--batch", 2,
                "--set", "student_steps=1", "--set", "student_temporal_attention=1") == 0
    bundle = load_bundle(out)
    assert bundle.config.students.upsampler.temporal_attention_levels == (1,) and not bundle.student_notes
    names = lambda model: {n for n, _ in model.named_parameters()}  # noqa: E731
    student, teacher = bundle.students["upsampler"], bundle.upsampler
    dropped = names(teacher) - names(student)
    assert names(student) < names(teacher)  # nothing new, the level-0 temporal attention left out
    assert dropped and {n.split(".attention.")[0] for n in dropped} == {"temporal.down.0.0", "temporal.up.1.0",
                                                                         "temporal.up.1.1"}
    assert any(".attention." in n for n in names(student))  # level 1 and the middle keep theirs
    x = torch.randn(1, 4, 3, 32, 64)
    cond = upsampler_conditions(resize_low_res(torch.rand(1, 4, 3, 8, 16) * 2 - 1, 4), 100)
    if config.upsampler.num_layout_channels:
        cond = cond.replace(layout=torch.rand(1, 4, config.upsampler.num_layout_channels, 32, 64),
                            layout_null=torch.zeros(1, 4, dtype=torch.bool))
    with torch.no_grad():
        assert student(x, torch.tensor([999]), cond).shape == x.shape
    run = json.loads((out / "stages.json").read_text())["stages"]["distill-upsampler"]["runs"][0]
    assert run["config"]["student_temporal_attention"] == "1"


# --- sampling with a student ---------------------------------------------------------------------

def _with_keyframe_student(steps: int = 2):
    """A micro bundle whose keyframe model has a student (a copy of itself), its forwards counted."""
    bundle = build_bundle(micro_config(), seed=0)
    bundle.students["keyframe"] = copy.deepcopy(bundle.unet)
    bundle.config.students.keyframe = StudentConfig(steps=steps, guidance_scale=2.0)
    calls = {"student": 0, "teacher": 0}
    for key, model in (("student", bundle.students["keyframe"]), ("teacher", bundle.unet)):
        model.register_forward_pre_hook(lambda *_, key=key: calls.__setitem__(key, calls[key] + 1))
    return bundle, calls


def test_the_student_option_samples_keyframes_with_the_student_and_falls_back_per_model():
    bundle, calls = _with_keyframe_student(steps=2)
    drive = scenario(duration_s=1.0)
    options = GenerateOptions(progress=False, precision="fp32", guidance=2.0)
    teacher = [f.image for f in VideoPipeline(bundle, options).frames(drive)]
    assert calls["student"] == 0 and calls["teacher"] == 2  # 2 steps, guidance batched into each forward
    pipe = VideoPipeline(bundle, dataclasses.replace(options, student=True))
    frames = [f.image for f in pipe.frames(drive)]
    assert calls == {"student": 2, "teacher": 2}  # 2 LCM steps, no guidance pass; the teacher not called
    again = [f.image for f in VideoPipeline(bundle, dataclasses.replace(options, student=True)).frames(drive)]
    assert len(frames) == len(teacher) == 10
    assert all((a == b).all() for a, b in zip(frames, again))  # same seed, same frames
    assert any((a != b).any() for a, b in zip(frames, teacher))
    record = pipe.run.student_record()
    assert record["keyframe"] == {"steps": 2, "guidance_folded": 2.0, "sampler": "lcm", "solver_steps": 50}
    assert record["interpolator"].startswith("teacher: the bundle has no interpolator student")
    # a closed-loop session: the student's fast provisional keyframe takes half its steps
    session = pipe.session(drive, seed=1)
    plan = list(ScenarioEngine(drive).frames())
    before = calls["student"]
    assert [len(session.step(plan[k:k + 1])) for k in range(3)] == [1, 1, 1]
    assert calls["student"] - before == 2 + 1  # the first real clip (2 steps) and one provisional (1 step)


def test_the_student_option_is_refused_without_a_student_and_with_image_only(tmp_path, capsys):
    with pytest.raises(DrivesimError, match="no few-step student.*drivesim train distill"):
        VideoPipeline(build_bundle(micro_config()), GenerateOptions(student=True, progress=False))
    with pytest.raises(DrivesimError, match="--image-only"):
        GenerateOptions(student=True, image_only=True)
    bundle = tmp_path / "bundle"
    save_bundle(build_bundle(micro_config()), bundle)
    capsys.readouterr()
    assert cli_main(["generate", "scenarios/minimal.yaml", "-o", str(tmp_path / "out"), "--checkpoint", str(bundle),
                     "--student", "--no-sr", "-q"]) == 1
    assert "no few-step student" in capsys.readouterr().err


def test_generate_with_a_saved_student_records_it_in_the_manifest(tmp_path):
    bundle, _ = _with_keyframe_student(steps=1)
    folder = tmp_path / "bundle"
    save_bundle(bundle, folder)
    assert (folder / "students" / "keyframe.safetensors").is_file()
    assert load_bundle(folder).config.students.keyframe.steps == 1
    out, drive = tmp_path / "out", tmp_path / "drive.yaml"
    drive.write_text(SCENARIO_YAML.format(duration_s=1))
    assert cli_main(["generate", str(drive), "-o", str(out), "--checkpoint", str(folder), "--student",
                     "--no-sr", "-q"]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["students"]["keyframe"]["steps"] == 1 and manifest["students"]["upsampler"].startswith("teacher")
    assert manifest["arithmetic"]["student"] is True
    assert cli_main(["generate", str(drive), "-o", str(tmp_path / "plain"), "--checkpoint", str(folder),
                     "--no-sr", "-q"]) == 0
    assert json.loads((tmp_path / "plain" / "manifest.json").read_text())["students"] is None


def test_bench_prints_teacher_against_student_rows():
    from drivesim.bench.speed import _student_lines

    stages = {"keyframes": 4.0, "interpolate": 6.0, "decode": 2.0, "upsample": 20.0}
    session = lambda fps: {"step_1": {"fps": fps, "mean_step_s": 1 / fps, "max_step_s": 2 / fps}}  # noqa: E731
    result = {"one": {"frames": 25, "seconds": 32.0, "stages": stages}, "session": session(1.6),
              "students": {"record": {"keyframe": {"steps": 4, "guidance_folded": 2.0}, "upsampler": "teacher: none"},
                           "clip": {"seconds": 16.0, "stages": {**stages, "keyframes": 1.0}},
                           "session": session(3.2), "clip_speedup": 2.0, "session_speedup": 2.0}}
    lines = _student_lines(result)
    assert lines[0].startswith("students      keyframe 4 steps (guidance 2 folded), upsampler teacher: none")
    assert "teacher 32.0 s -> student 16.0 s: 2.00x" in lines[1] and "keyframes 4.0 -> 1.0 s" in lines[1]
    assert "teacher 1.60 -> student 3.20 frames/s: 2.00x" in lines[2]
    assert _student_lines({"students": None}) == []

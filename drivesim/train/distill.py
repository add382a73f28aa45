"""Few-step students distilled from the bundle's own diffusion models: latent consistency distillation
(LCD; Luo et al. 2023, arXiv:2310.04378), as diffusers' examples/consistency_distillation
(train_lcm_distill_sd_wds.py) does it, on drivesim's training loop.

    drivesim train distill keyframe --bundle B --data data/synth --steps 1000 --threads 1
    drivesim train distill interpolator --bundle B --data data/synth
    drivesim train distill upsampler --bundle B --data data/synth

A student is the teacher's network (the keyframe model, the interpolator or the upsampler), initialised
from the teacher and trained whole. One step, on a batch of the teacher stage's own inputs (its
`Stage.inputs`: the same latents, conditions, context frames and masks as the teacher was trained on):

1. a timestep of the DDIM solver: t_n = (n + 1) k - 1, n uniform in 0..N-1, k = 1000 / N
   (`solver_steps` N = 50: LCMScheduler's `original_inference_steps` schedule), and x_{t_n} = noised x0;
2. the teacher with the label/box guidance w folded in (`label_guidance`: conditional and null in one
   forward; w = the bundle's `diffusion.guidance_scale`, 1 for the upsampler, which samples without) gives
   (x0, eps) at t_n, and one DDIM step gives x at t_{n-1} = max(t_n - k, 0);
3. the target: the run's EMA of the student (decay `ema_decay` 0.95, LCD's target network; the loop saves
   and resumes it) at (x_{t_{n-1}}, t_{n-1}) through the consistency function c_skip x + c_out x0
   (LCMScheduler's boundary scalings, `timestep_scaling` 10: c_skip = 1, c_out = 0 at t = 0);
4. the student's consistency function at (x_{t_n}, t_n) against it: pseudo-Huber loss
   sqrt(d^2 + c^2) - c (`huber_c`), over the frames the teacher's loss counts (not the given context),
   weighted inside the boxes as the teacher's stage weights them (`fg_weight`, the upsampler's `vru_weight`).

Fixed guidance is folded into the target because the networks have no input for w (LCD feeds w as an
embedding): the student samples the guided model in one pass per step, no unconditional pass. The EMA
weights are the student written to BUNDLE/students/NAME.safetensors, and config.yaml's `students.NAME`
records its steps, the guidance folded in, the solver and the sha256 of the teacher's files.

    python -c "from drivesim.train.distill import DISTILL_STAGES; print(sorted(DISTILL_STAGES))"
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor
from torch.func import functional_call

from drivesim.data.clips import Clip
from drivesim.diffusion.schedule import alpha_sigma, make_student_scheduler
from drivesim.diffusion.targets import add_noise, item_means, predicted_original
from drivesim.errors import DrivesimError
from drivesim.models.bundle import PARTS, STUDENT_PARTS, TEACHER_PARTS, Bundle, read_bundle_config, teacher_sha256
from drivesim.models.configs import STUDENT_MODELS, StudentConfig
from drivesim.sampling.guidance import label_guidance
from drivesim.train.provenance import portable_path
from drivesim.train.stages import (DISTILLED, STAGES, InterpolationStageConfig, Stage, StageConfig, Trainee,
                                   UpsamplerStageConfig, VideoStageConfig, _randn, foreground_weights)

__all__ = ["DISTILL_STAGES", "TEACHER_STAGES", "Distillation", "KeyframeDistillConfig", "InterpolatorDistillConfig",
           "UpsamplerDistillConfig", "pseudo_huber_loss", "solver_timesteps"]

TEACHER_STAGES = {"keyframe": "video", "interpolator": "interpolation", "upsampler": "upsampler"}


@dataclass
class Distillation:
    """The distillation's own settings (--set NAME=VALUE), beside those of the teacher's stage."""

    solver_steps: int = 50  # N: the DDIM solver's timesteps over the teacher's schedule (skip 1000 / N)
    student_steps: int = 4  # the student's sampling steps (config.yaml students.NAME.steps; previews)
    guidance: float = -1.0  # label/box guidance folded into the target; < 0: the bundle's (1 for the upsampler)
    huber_c: float = 0.001  # pseudo-Huber loss constant
    timestep_scaling: float = 10.0  # boundary scalings c_skip, c_out (LCMScheduler's timestep_scaling)
    # "teacher": the student has the teacher's temporal attention; else the levels that keep it, e.g. "1" (a
    # slimmer student: the others' attention weights are left out, everything else starts as the teacher's)
    student_temporal_attention: str = "teacher"


# The student trains with every condition given (it is sampled that way, guidance folded in), from the teacher's
# weights at a small learning rate; its EMA is LCD's target network.
@dataclass
class KeyframeDistillConfig(VideoStageConfig, Distillation):
    steps: int = 1000
    lr: float = 5e-5
    ema_decay: float = 0.95
    p_label: float = 0.0
    p_layout: float = 0.0
    p_null: float = 0.0


@dataclass
class InterpolatorDistillConfig(InterpolationStageConfig, Distillation):
    steps: int = 1000
    lr: float = 5e-5
    ema_decay: float = 0.95
    p_label: float = 0.0
    p_layout: float = 0.0
    p_null: float = 0.0


@dataclass
class UpsamplerDistillConfig(UpsamplerStageConfig, Distillation):
    phase: str = "temporal"  # clips of `frames` frames: the student is the whole video upsampler
    steps: int = 500
    lr: float = 5e-5
    ema_decay: float = 0.95
    decoded_p: float = 0.5  # as the shipped upsampler's fine-tuning: the decoded frames it gets when sampling


def solver_timesteps(num_train_timesteps: int, solver_steps: int) -> Tensor:
    """The DDIM solver's timesteps (1..N) * k - 1, k = T // N: the schedule LCMScheduler samples from."""
    if not 1 <= solver_steps <= num_train_timesteps:
        raise DrivesimError(f"solver_steps must be in 1..{num_train_timesteps}, got {solver_steps}")
    return torch.arange(1, solver_steps + 1) * (num_train_timesteps // solver_steps) - 1


def pseudo_huber_loss(pred: Tensor, target: Tensor, c: float, mask: Tensor | None = None,
                      pixel_weights: Tensor | None = None) -> Tensor:
    """mean(sqrt((pred - target)^2 + c^2) - c) over (B, T, ...) items; `mask` (B, T): 1 where an item counts;
    `pixel_weights` (broadcastable, e.g. (B, T, 1, h, w)) weights pixels within an item, normalised per item
    (as `diffusion_loss`: the loss moves between pixels, its scale stays)."""
    per_item = item_means(torch.sqrt((pred.float() - target.float()) ** 2 + c * c) - c, 2, pixel_weights)
    if mask is None:
        return per_item.mean()
    return (per_item * mask).sum() / mask.sum().clamp(min=1.0)


# --- one student ---------------------------------------------------------------------------------

def _resolve_guidance(name: str, cfg: Distillation, bundle: Bundle) -> float:
    if cfg.guidance >= 0:
        return float(cfg.guidance)
    return 1.0 if name == "upsampler" else float(bundle.config.diffusion.guidance_scale)


def _setup(name: str):
    teacher_stage = STAGES[TEACHER_STAGES[name]]

    def setup(bundle: Bundle, cfg: StageConfig, root: str, clips: list[Clip]) -> Trainee:
        if getattr(cfg, "phase", "temporal") != "temporal":
            raise DrivesimError("an upsampler student is distilled as the whole video upsampler: drop --set phase")
        if getattr(cfg, "train_only", ""):
            raise DrivesimError("a student trains every one of its parameters: drop --set train_only")
        if cfg.student_steps < 1 or cfg.student_steps > cfg.solver_steps or cfg.huber_c <= 0:
            raise DrivesimError(f"student_steps must be in 1..solver_steps ({cfg.solver_steps}) and huber_c > 0")
        solver_timesteps(bundle.config.diffusion.num_train_timesteps, cfg.solver_steps)  # checks it
        cfg.guidance = _resolve_guidance(name, cfg, bundle)  # recorded resolved, in stages.json and config.yaml
        # the teacher stage's trainee: its data, collate (conditions), noise scheduler and frozen encoder
        t = teacher_stage.setup(bundle, cfg, root, clips)
        teacher = t.model
        student = _student_network(teacher, _student_levels(cfg, teacher))  # starts as the teacher
        t.model = t.module = student
        t.trainable = [n for n, _ in student.named_parameters()]
        t.frozen = {**t.frozen, "teacher": teacher}
        bundle.students[name] = student  # what the loop's save writes (students/NAME.safetensors)
        sha = teacher_sha256({part: bundle.path for part in PARTS}, name)
        t.record = {"init_from": {**portable_path(bundle.path, bundle.path), "teacher": name,
                                  "parts": list(TEACHER_PARTS[name]), "sha256": sha}}
        t.notes.append(f"distilling a {cfg.student_steps}-step {name} student from the bundle's {name} model "
                       f"({' + '.join(TEACHER_PARTS[name])}), guidance {cfg.guidance:g} folded in")
        return t

    return setup


def _student_levels(cfg: Distillation, teacher: torch.nn.Module) -> tuple[int, ...] | None:
    """The student's temporal attention levels from `student_temporal_attention` (None: the teacher's)."""
    text = cfg.student_temporal_attention.strip()
    if text == "teacher":
        return None
    arch = teacher.unet_config
    have = [i for i in range(len(arch.block_out_channels)) if arch.has_temporal_attention(i)]
    try:
        levels = tuple(sorted({int(part) for part in text.split(",") if part.strip()}))
    except ValueError:
        levels = None
    if levels is None or not set(levels) <= set(have):
        raise DrivesimError(f"--set student_temporal_attention={text}: give 'teacher' or a comma list of the "
                            f"teacher's temporal attention levels to keep (it has {have or 'none'}), e.g. "
                            f"{','.join(map(str, have[1:])) or 'teacher'}")
    return levels


def _student_network(teacher: torch.nn.Module, levels: tuple[int, ...] | None) -> torch.nn.Module:
    """A copy of the teacher, without the temporal attention of the levels `levels` leaves out."""
    if levels is None:
        return copy.deepcopy(teacher)
    student = type(teacher)(dataclasses.replace(teacher.config, temporal_attention_levels=levels))
    missing, _ = student.load_state_dict(teacher.state_dict(), strict=False)  # the dropped layers' are unused
    if missing:  # every layer the student has, the teacher has too
        raise DrivesimError(f"the student has layers its teacher lacks: {missing[:3]}")
    return student.to(next(teacher.parameters()))


def _consistency(t: Trainee, out: Tensor, x: Tensor, steps: Tensor) -> Tensor:
    """The consistency function c_skip(t) x_t + c_out(t) x0(out) of a network output at (x_t, t), with the
    boundary scalings of the LCMScheduler the student samples with."""
    cfg = t.config
    x0, _ = predicted_original(out, x, steps, t.scheduler, t.diffusion.prediction_type)
    lcm = make_student_scheduler(t.diffusion, cfg.solver_steps, cfg.timestep_scaling)
    c_skip, c_out = lcm.get_scalings_for_boundary_condition_discrete(steps.float())
    shape = (-1, *([1] * (x.ndim - 1)))
    return c_skip.reshape(shape).to(x) * x + c_out.reshape(shape).to(x) * x0


def _loss(name: str):
    inputs_of = STAGES[TEACHER_STAGES[name]].inputs

    def loss(t: Trainee, batch: dict[str, Any], generator: torch.Generator, step: int) -> dict[str, Tensor]:
        cfg = t.config
        inputs = inputs_of(t, batch, generator)  # the teacher stage's own conditioning and masks
        x0, cond, image_only = inputs.x0, inputs.cond, inputs.image_only
        # 1. a solver timestep per clip and the one before it; x0 noised to t_n
        ladder = solver_timesteps(t.diffusion.num_train_timesteps, cfg.solver_steps)
        skip = t.diffusion.num_train_timesteps // cfg.solver_steps
        t_n = ladder[torch.randint(0, cfg.solver_steps, (x0.shape[0],), generator=generator)].to(x0.device)
        t_prev = (t_n - skip).clamp(min=0)
        x_t = add_noise(x0, _randn(x0.shape, generator, x0), t_n, t.scheduler)
        # 4. the student's consistency estimate at t_n
        pred = _consistency(t, t.model(x_t, t_n, cond, image_only=image_only), x_t, t_n)
        with torch.no_grad():
            # 2. the guided teacher and one DDIM step to t_{n-1}
            teacher = t.frozen["teacher"]
            guided = label_guidance(lambda x, s, c: teacher(x, s, c, image_only=image_only), cfg.guidance)
            x0_teacher, eps_teacher = predicted_original(guided(x_t, t_n, cond), x_t, t_n, t.scheduler,
                                                         t.diffusion.prediction_type)
            alpha, sigma = alpha_sigma(t.scheduler, t_prev, x_t)
            x_prev = alpha * x0_teacher + sigma * eps_teacher
            # 3. the target network (the EMA weights) at t_{n-1}
            out = functional_call(t.module, t.ema.shadow, (x_prev, t_prev, cond), {"image_only": image_only})
            target = _consistency(t, out, x_prev, t_prev)
            if hasattr(t.module, "forget_clip_inputs"):  # held with the EMA weights: not the student's
                t.module.forget_clip_inputs()
        weights = foreground_weights(cond, pred.shape[-2:], cfg.fg_weight, getattr(cfg, "vru_weight", 0.0))
        return {"loss": pseudo_huber_loss(pred, target, cfg.huber_c, inputs.loss_mask, weights), **inputs.logged}

    return loss


def _finish(name: str):
    def finish(t: Trainee) -> list[str]:
        """The student's entry in config.yaml, on the config as it is on disk now (other runs may have set
        values since this one loaded it)."""
        cfg = t.config
        config = read_bundle_config(t.bundle.path)
        setattr(config.students, name, StudentConfig(
            steps=cfg.student_steps, guidance_scale=cfg.guidance, solver_steps=cfg.solver_steps,
            timestep_scaling=cfg.timestep_scaling, teacher_sha256=t.record["init_from"]["sha256"],
            temporal_attention_levels=t.model.unet_config.temporal_attention_levels))  # as the student was built
        t.bundle.config = config
        return [f"students.{name}: {cfg.student_steps} steps, guidance {cfg.guidance:g} folded in; sample with "
                "--student (`drivesim bundle set BUNDLE students." + name + ".steps=N` changes its steps)"]

    return finish


_CONFIGS = {"keyframe": KeyframeDistillConfig, "interpolator": InterpolatorDistillConfig,
            "upsampler": UpsamplerDistillConfig}
_REQUIRES = {"keyframe": ("autoencoder", "image", "video"), "interpolator": ("autoencoder", "image", "interpolation"),
             "upsampler": ("upsampler",)}

DISTILL_STAGES: dict[str, Stage] = {
    stage: Stage(stage, f"a few-step {name} student (latent consistency distillation of the {name} model)",
                 _CONFIGS[name], _setup(name), _loss(name), requires=_REQUIRES[name], parts=(STUDENT_PARTS[name],),
                 writes_config=True, finish=_finish(name))
    for name, stage in zip(STUDENT_MODELS, DISTILLED)
}

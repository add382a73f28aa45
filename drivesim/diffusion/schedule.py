"""The variance-preserving noise schedule (1000 discrete steps) and the diffusers schedulers on it.

x_t = alpha_t * x_0 + sigma_t * eps with alpha_t^2 = alphas_cumprod[t], sigma_t^2 = 1 - alpha_t^2.
Training noises with `DDPMScheduler`; sampling uses DDIM (the paper) or DPM-Solver++, and a
distilled few-step student `LCMScheduler`, all built from one `DiffusionConfig` so every scheduler
sees the same betas.

    python -c "from drivesim.diffusion.schedule import *; s = make_scheduler('ddim', DiffusionConfig()); s.set_timesteps(20); print(s.timesteps)"
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from diffusers import DDIMScheduler, DDPMScheduler, DPMSolverMultistepScheduler, LCMScheduler
from torch import Tensor

from drivesim.errors import DrivesimError

__all__ = [
    "DiffusionConfig", "PREDICTION_TYPES", "SAMPLERS", "make_training_scheduler", "make_scheduler",
    "make_student_scheduler", "alphas_cumprod", "alpha_sigma",
]

PREDICTION_TYPES = ("epsilon", "v_prediction", "sample")  # sample = x0
SAMPLERS = ("ddim", "dpmpp")


@dataclass
class DiffusionConfig:
    """Plain fields only: YAML round-trips via dataclasses.asdict / DiffusionConfig(**d)."""

    prediction_type: str = "v_prediction"  # "epsilon", "v_prediction" (v = alpha*eps - sigma*x0) or "sample" (x0)
    num_train_timesteps: int = 1000
    beta_schedule: str = "scaled_linear"  # LDM's schedule: betas linear in sqrt between beta_start and beta_end
    beta_start: float = 0.00085
    beta_end: float = 0.012
    timestep_spacing: str = "trailing"  # sampling steps end at t = T-1 (no train/test mismatch at the start)
    rescale_betas_zero_snr: bool = False
    clip_sample: bool = False  # latents are not bounded to [-1, 1]
    sampler: str = "ddim"  # default sampler: "ddim" or "dpmpp"
    num_inference_steps: int = 50
    interpolation_steps: int | None = None  # the interpolator's steps where they differ (None: num_inference_steps)
    guidance_scale: float = 1.0  # label/box classifier-free guidance when --guidance is not given (1 = off)

    def __post_init__(self) -> None:
        if self.prediction_type not in PREDICTION_TYPES:
            raise DrivesimError(f"diffusion.prediction_type must be one of {PREDICTION_TYPES}, "
                                f"got {self.prediction_type!r}")
        if self.sampler not in SAMPLERS:
            raise DrivesimError(f"diffusion.sampler must be one of {SAMPLERS}, got {self.sampler!r}")
        if self.guidance_scale < 0:
            raise DrivesimError(f"diffusion.guidance_scale must be >= 0 (1 = no guidance), got {self.guidance_scale}")
        if self.num_train_timesteps < 2 or self.num_inference_steps < 1 or (self.interpolation_steps or 1) < 1:
            raise DrivesimError("diffusion.num_train_timesteps must be >= 2, num_inference_steps and "
                                "interpolation_steps >= 1")

    def schedule_kwargs(self) -> dict:
        """The arguments that define the betas: identical for every scheduler we build."""
        return dict(num_train_timesteps=self.num_train_timesteps, beta_schedule=self.beta_schedule,
                    beta_start=self.beta_start, beta_end=self.beta_end,
                    rescale_betas_zero_snr=self.rescale_betas_zero_snr)


def _prediction_type(config: DiffusionConfig, prediction_type: str | None) -> str:
    kind = prediction_type or config.prediction_type
    if kind not in PREDICTION_TYPES:
        raise DrivesimError(f"prediction_type must be one of {PREDICTION_TYPES}, got {kind!r}")
    return kind


def make_training_scheduler(config: DiffusionConfig, prediction_type: str | None = None) -> DDPMScheduler:
    """DDPM scheduler for training: `add_noise` and `get_velocity` on the shared betas."""
    return DDPMScheduler(**config.schedule_kwargs(), prediction_type=_prediction_type(config, prediction_type),
                         clip_sample=config.clip_sample, timestep_spacing=config.timestep_spacing)


def make_scheduler(kind: str, config: DiffusionConfig,
                   prediction_type: str | None = None) -> DDIMScheduler | DPMSolverMultistepScheduler:
    """A sampling scheduler ("ddim" or "dpmpp") on the config's betas; call `set_timesteps` before use."""
    prediction_type = _prediction_type(config, prediction_type)
    if kind == "ddim":
        return DDIMScheduler(**config.schedule_kwargs(), prediction_type=prediction_type,
                             clip_sample=config.clip_sample, set_alpha_to_one=True,
                             timestep_spacing=config.timestep_spacing)
    if kind == "dpmpp":
        return DPMSolverMultistepScheduler(**config.schedule_kwargs(), prediction_type=prediction_type,
                                           algorithm_type="dpmsolver++", solver_order=2,
                                           timestep_spacing=config.timestep_spacing)
    raise DrivesimError(f"unknown sampler {kind!r}; choose one of {SAMPLERS}")


def make_student_scheduler(config: DiffusionConfig, solver_steps: int = 50,
                           timestep_scaling: float = 10.0) -> LCMScheduler:
    """The LCMScheduler of a student distilled on `solver_steps` timesteps of this schedule (Luo et al. 2023,
    arXiv:2310.04378): its timesteps, and the boundary scalings c_skip, c_out of the consistency function
    (`get_scalings_for_boundary_condition_discrete`), which distillation uses too. x0 is not clipped."""
    return LCMScheduler(**config.schedule_kwargs(), prediction_type=config.prediction_type,
                        original_inference_steps=solver_steps, clip_sample=False, set_alpha_to_one=True,
                        timestep_scaling=timestep_scaling)


def alphas_cumprod(scheduler) -> Tensor:
    """alpha_t^2 for t = 0..T-1 as a float32 CPU tensor (the same for every scheduler of one config)."""
    return scheduler.alphas_cumprod.float().cpu()


def alpha_sigma(scheduler, t: Tensor, like: Tensor) -> tuple[Tensor, Tensor]:
    """(alpha_t, sigma_t) broadcast against `like`: t has shape (B,) or (B, T) for like (B, T, ...)."""
    acp = scheduler.alphas_cumprod.to(device=like.device, dtype=torch.float32)[t.to(like.device).long()]
    acp = acp.reshape(*t.shape, *([1] * (like.ndim - t.ndim))).to(like.dtype)
    return acp.sqrt(), (1.0 - acp).sqrt()

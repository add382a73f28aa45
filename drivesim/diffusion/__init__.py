"""Diffusion basics: the VP noise schedule and its schedulers, prediction targets and losses."""

from drivesim.diffusion.schedule import (
    PREDICTION_TYPES, SAMPLERS, DiffusionConfig, alpha_sigma, alphas_cumprod, make_scheduler,
    make_student_scheduler, make_training_scheduler,
)
from drivesim.diffusion.targets import add_noise, diffusion_loss, predicted_original, sample_timesteps, training_target

__all__ = [
    "PREDICTION_TYPES", "SAMPLERS", "DiffusionConfig", "alpha_sigma", "alphas_cumprod", "make_scheduler",
    "make_student_scheduler", "make_training_scheduler", "add_noise", "diffusion_loss", "predicted_original",
    "sample_timesteps", "training_target",
]

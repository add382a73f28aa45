"""Samplers: plain functions that turn noise into a clip with a denoiser and a diffusers scheduler.

Every diffusion model in drivesim is called through one denoiser contract,
`model(x, t, cond) -> eps or v` (whatever `DiffusionConfig.prediction_type` says), so guidance
wrappers (`drivesim.sampling.guidance`) stack in front of any sampler.

    python -c "
    import torch; from drivesim.diffusion.schedule import DiffusionConfig; from drivesim.sampling import sample_ddim
    x0 = torch.randn(1, 2, 4, 8, 8); cfg = DiffusionConfig(prediction_type='epsilon')
    print(sample_ddim(lambda x, t, c: torch.zeros_like(x), torch.randn_like(x0), None, cfg, steps=4).std())"
"""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch import Tensor
from tqdm.auto import tqdm

from drivesim.diffusion.schedule import SAMPLERS, DiffusionConfig, make_scheduler, make_student_scheduler
from drivesim.errors import DrivesimError

__all__ = ["Denoiser", "SAMPLERS", "sample", "sample_ddim", "sample_dpmpp", "sample_lcm"]

# model(x_t (B,T,C,H,W), t (B,) long, cond UNetConditions) -> eps or v, same shape as x_t
Denoiser = Callable[[Tensor, Tensor, Any], Tensor]
Callback = Callable[[dict[str, Any]], None]


def sample_ddim(model: Denoiser, noise: Tensor, cond: Any, diffusion: DiffusionConfig, steps: int, *,
                eta: float = 0.0, generator: torch.Generator | None = None,
                callback: Callback | None = None, disable: bool = True) -> Tensor:
    """DDIM, Song et al. 2021 (arXiv:2010.02502) eq. 12, via diffusers' DDIMScheduler (eps or v)."""
    scheduler = make_scheduler("ddim", diffusion)
    scheduler.set_timesteps(steps, device=noise.device)
    x = noise * scheduler.init_noise_sigma
    for i, t in enumerate(tqdm(scheduler.timesteps, desc="ddim", leave=False, disable=disable)):
        # 1. the model's prediction at x_t (one timestep for the whole batch)
        out = model(x, t.expand(x.shape[0]), cond).float()
        # 2. predict x_0, then step to x_{t-1} along the DDIM direction (eta = 0: deterministic)
        step = scheduler.step(out, t, x, eta=eta, generator=generator)
        x = step.prev_sample
        # 3. report: the new sample and the current x_0 estimate
        if callback is not None:
            callback({"i": i, "t": int(t), "x": x, "denoised": step.pred_original_sample})
    return x


def sample_dpmpp(model: Denoiser, noise: Tensor, cond: Any, diffusion: DiffusionConfig, steps: int, *,
                 generator: torch.Generator | None = None,
                 callback: Callback | None = None, disable: bool = True) -> Tensor:
    """DPM-Solver++(2M), Lu et al. 2022 (arXiv:2211.01095), via diffusers' DPMSolverMultistepScheduler."""
    scheduler = make_scheduler("dpmpp", diffusion)
    scheduler.set_timesteps(steps, device=noise.device)
    x = noise * scheduler.init_noise_sigma
    for i, t in enumerate(tqdm(scheduler.timesteps, desc="dpm++", leave=False, disable=disable)):
        # 1. the model's prediction at x_t
        out = model(x, t.expand(x.shape[0]), cond).float()
        # 2. multistep update: the scheduler keeps the last data predictions (2nd order)
        x = scheduler.step(out, t, x, generator=generator).prev_sample
        # 3. report
        if callback is not None:
            callback({"i": i, "t": int(t), "x": x})
    return x


def sample_lcm(model: Denoiser, noise: Tensor, cond: Any, diffusion: DiffusionConfig, steps: int, *,
               solver_steps: int = 50, timestep_scaling: float = 10.0,
               noise_sampler: Callable[[int], Tensor] | None = None, generator: torch.Generator | None = None,
               callback: Callback | None = None, disable: bool = True) -> Tensor:
    """Multistep latent consistency sampling (Luo et al. 2023, arXiv:2310.04378, Algorithm 3) of a distilled
    student, via diffusers' LCMScheduler: each step maps x_t to the consistency function's clean estimate
    c_skip x_t + c_out x0 and, but for the last, noises that estimate to the next timestep. The fresh noise
    of step i is `noise_sampler(i)` (default: drawn from `generator`, on the CPU)."""
    scheduler = make_student_scheduler(diffusion, solver_steps, timestep_scaling)
    scheduler.set_timesteps(steps, device=noise.device)
    if noise_sampler is None:
        def noise_sampler(i: int) -> Tensor:
            return torch.randn(noise.shape, generator=generator).to(noise.device)
    spare = torch.Generator(device=noise.device)  # the scheduler draws its own noise; ours replaces it
    x = noise * scheduler.init_noise_sigma
    timesteps = scheduler.timesteps
    for i, t in enumerate(tqdm(timesteps, desc="lcm", leave=False, disable=disable)):
        # 1. the student's output at x_t -> its consistency estimate of x_0 (boundary scalings)
        out = model(x, t.expand(x.shape[0]), cond).float()
        denoised = scheduler.step(out, t, x, generator=spare).denoised
        # 2. to the next timestep with fresh noise (none after the last)
        x = denoised if i + 1 == len(timesteps) else scheduler.add_noise(
            denoised, noise_sampler(i).to(denoised), timesteps[i + 1:i + 2])
        if callback is not None:
            callback({"i": i, "t": int(t), "x": x, "denoised": denoised})
    return x


_SAMPLER_FUNCTIONS = {"ddim": sample_ddim, "dpmpp": sample_dpmpp}


def sample(name: str, model: Denoiser, noise: Tensor, cond: Any, diffusion: DiffusionConfig, steps: int,
           **kwargs: Any) -> Tensor:
    """Run the sampler called `name` ("ddim" or "dpmpp")."""
    if name not in _SAMPLER_FUNCTIONS:
        raise DrivesimError(f"unknown sampler {name!r}; choose one of {SAMPLERS}")
    if steps < 1:
        raise DrivesimError(f"--steps must be >= 1, got {steps}")
    return _SAMPLER_FUNCTIONS[name](model, noise, cond, diffusion, steps, **kwargs)

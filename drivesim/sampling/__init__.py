"""Sampler functions (DDIM, DPM-Solver++) and guidance wrappers (labels/boxes, context)."""

from drivesim.sampling.samplers import SAMPLERS, Denoiser, sample, sample_ddim, sample_dpmpp

__all__ = ["SAMPLERS", "Denoiser", "sample", "sample_ddim", "sample_dpmpp"]

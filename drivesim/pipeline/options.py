"""What a generation run is asked to do (`GenerateOptions`), per-clip seeding and stage timings.

    python -c "from drivesim.pipeline.options import GenerateOptions; print(GenerateOptions())"
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import os
import platform
import re
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch

from drivesim.errors import DrivesimError
from drivesim.sampling.samplers import SAMPLERS

__all__ = ["GenerateOptions", "clip_generator", "StageTimings", "PRECISIONS", "compute_dtype", "cpu_has_native_bf16",
           "arithmetic_record", "cpu_model", "precision_override"]

PRECISIONS = ("auto", "fp32", "bf16")


@dataclass
class GenerateOptions:
    """Options of one `drivesim generate` run; None = the bundle's or scenario's default."""

    seed: int | None = None  # None -> the scenario's seed (also seeds the engine's background traffic)
    steps: int | None = None  # sampling steps per clip; None -> DiffusionConfig.num_inference_steps
    sampler: str | None = None  # "ddim" | "dpmpp"; None -> DiffusionConfig.sampler
    guidance: float | None = None  # label/box classifier-free guidance scale (1 = off); None -> DiffusionConfig.guidance_scale
    context_guidance: float = 1.0  # context guidance scale s >= 1 for the prediction model (1 = off)
    image_only: bool = False  # the image LDM: every frame sampled on its own, temporal layers skipped
    super_resolution: bool | None = None  # run the video upsampler (False: resize the decoded frames); None -> bundle
    device: str = "cpu"
    compile: bool = False  # torch.compile the networks (CUDA mainly; first clip pays the compile time)
    batched_guidance: bool = True  # conditional + unconditional in one forward (False: two passes)
    progress: bool = True  # tqdm bars per stage
    sr_steps: int | None = None  # upsampler steps; None -> same as `steps`
    interpolation_steps: int | None = None  # interpolator steps; None -> DiffusionConfig.interpolation_steps, else `steps`
    # the networks' arithmetic: "auto" = bf16 autocast where the device computes it natively (CUDA; CPUs
    # with AVX512-BF16 or AMX: ~1.6x faster, frames within ~0.3/255 on average), else fp32; "fp32": exact
    precision: str = "auto"
    # sample with the bundle's few-step students (`drivesim train distill`: LCM steps, their guidance folded in,
    # no guidance pass) where it has them, with the teachers elsewhere (the manifest says which)
    student: bool = False
    # Closed-loop sessions (pipeline/session.py); the reference of `drivesim bench` pins the plain behaviour,
    # and docs/performance.md measures each against `drivesim eval --session-steps 1`.
    # New keyframes per real keyframe clip: at least the ones a step commits and at least this many (a full
    # clip, as offline, when None: a 1-frame step commits one keyframe and would throw the rest away)
    session_clip_keyframes: int | None = 2
    # the provisional keyframe (the guess in-between frames head for until the real one is sampled from its
    # own conditions) from a clip of that keyframe alone, at half the steps
    session_fast_provisional: bool = True
    # a session step reuses the interpolated segment an earlier step sampled between the same two keyframes
    # (otherwise a 1-frame step resamples its whole segment for one frame, with that frame's conditions)
    session_reuse_segments: bool = True
    # frames of earlier steps that lead each decoder window and upsampler chunk of a session step (offline
    # windows overlap by 2)
    session_window_context: int = 1

    def __post_init__(self) -> None:
        self._check_types()
        if self.sampler is not None and self.sampler not in SAMPLERS:
            raise DrivesimError(f"--sampler must be one of {', '.join(SAMPLERS)}, got {self.sampler!r}")
        for name in ("steps", "sr_steps", "interpolation_steps"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise DrivesimError(f"--{name.replace('_', '-')} must be >= 1, got {value}")
            if value is not None and value > MAX_STEPS:
                raise DrivesimError(f"--{name.replace('_', '-')} must be at most {MAX_STEPS} (a bundle's noise "
                                    f"levels), got {value}")
        if self.session_clip_keyframes is not None and self.session_clip_keyframes < 1:
            raise DrivesimError(f"session_clip_keyframes must be >= 1 (None: full clips), got {self.session_clip_keyframes}")
        if self.session_window_context < 0:
            raise DrivesimError(f"session_window_context must be >= 0, got {self.session_window_context}")
        for name in ("guidance", "context_guidance"):
            value = getattr(self, name)
            if value is not None and not 0 <= value <= MAX_GUIDANCE:
                raise DrivesimError(f"--{name.replace('_', '-')} must be in 0..{MAX_GUIDANCE:g} (1 = no guidance; a "
                                    f"larger scale overflows the latents into black frames), got {value}")
        if self.student and self.image_only:
            raise DrivesimError("--student samples the distilled video models; --image-only is the teacher's image "
                                "model: drop one of them")
        if self.precision not in PRECISIONS:
            raise DrivesimError(f"--precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        if self.device not in ("cpu", "cuda") and not self.device.startswith("cuda:"):
            raise DrivesimError(f"--device must be cpu or cuda, got {self.device!r}")


    def _check_types(self) -> None:
        """Every option has the type it says, numbers finite: `steps="a"`, `guidance=nan` (black frames) or a
        seed past 2^31 - 1 is named here, not met as a TypeError or a silently wrong video later."""
        for f in dataclasses.fields(self):
            value, kind = getattr(self, f.name), _KINDS.get(f.name)
            if kind is None or (value is None and f.name in _OPTIONAL):
                continue
            if kind is bool:
                ok = isinstance(value, bool)
            elif kind is int:
                ok = isinstance(value, (int, np.integer)) and not isinstance(value, bool)
            elif kind is float:
                ok = (isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
                      and math.isfinite(value))
            else:
                ok = isinstance(value, str)
            if not ok:
                raise DrivesimError(f"option {f.name} must be {_KIND_WORDS[kind]}, got {value!r} "
                                    f"({type(value).__name__})")
        if self.seed is not None and not 0 <= self.seed <= MAX_SEED:
            raise DrivesimError(f"--seed must be in 0..{MAX_SEED} (a scenario's seed range), got {self.seed}")


MAX_SEED = 2**31 - 1
MAX_STEPS = 1000  # sampling steps: no more than the noise levels a bundle is trained with (1000 in every config)
MAX_GUIDANCE = 100.0  # guidance scales: typical ones are 1..10; 1e30 overflows the latents to NaN (black frames)
# the type each option must have (None allowed for the _OPTIONAL ones: "the bundle's / scenario's")
_KINDS = {"seed": int, "steps": int, "sampler": str, "guidance": float, "context_guidance": float,
          "image_only": bool, "super_resolution": bool, "device": str, "compile": bool, "batched_guidance": bool,
          "progress": bool, "sr_steps": int, "interpolation_steps": int, "precision": str, "student": bool,
          "session_clip_keyframes": int, "session_fast_provisional": bool, "session_reuse_segments": bool,
          "session_window_context": int}
_OPTIONAL = {"seed", "steps", "sampler", "guidance", "super_resolution", "sr_steps", "interpolation_steps",
             "session_clip_keyframes"}
_KIND_WORDS = {bool: "True or False", int: "a whole number", float: "a finite number", str: "text"}


@lru_cache(maxsize=1)
def cpu_has_native_bf16() -> bool:
    """True where the CPU has bf16 dot-product instructions (x86 AVX512-BF16 or AMX): there oneDNN's bf16
    convolutions and matmuls beat fp32; elsewhere bf16 is emulated and slower, so "auto" stays fp32."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:  # not Linux: no way to tell cheaply
        return False
    return bool(re.search(r"\b(avx512_bf16|amx_bf16)\b", flags))


def precision_override() -> str:
    """What "auto" means here: $DRIVESIM_PRECISION (fp32 or bf16) where set, so a whole test run or
    program can be pinned to one arithmetic (CI runs the suite once as the machine picks, once in fp32)."""
    value = os.environ.get("DRIVESIM_PRECISION", "auto").strip().lower() or "auto"
    if value not in PRECISIONS:
        raise DrivesimError(f"DRIVESIM_PRECISION must be one of {', '.join(PRECISIONS)}, got {value!r}; "
                            f"unset it to let each machine pick")
    return value


def compute_dtype(device: str | torch.device, precision: str = "auto") -> torch.dtype:
    """The dtype the networks compute in for `precision` on `device` (float32 = no autocast)."""
    device = torch.device(device)
    if precision == "auto":
        precision = precision_override()
    if precision == "fp32":
        return torch.float32
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16 if precision == "bf16" or cpu_has_native_bf16() else torch.float32


@lru_cache(maxsize=1)
def cpu_model() -> str:
    """The CPU's model name as the OS reports it ("unknown" where it does not)."""
    try:
        found = re.search(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.M)
    except OSError:
        found = None
    return found.group(1).strip() if found else (platform.processor() or "unknown")


def arithmetic_record(device: str | torch.device, precision: str = "auto", student: bool = False) -> dict[str, Any]:
    """How the networks' pixels are computed here, for manifests and server info: the same seed gives the
    same frames only at the same precision (bf16 and fp32 frames differ), and "auto" picks by CPU; with
    `student`, "student": True (the bundle's few-step students sampled: other frames again)."""
    device = torch.device(device)
    dtype = compute_dtype(device, precision)
    record: dict[str, Any] = {
        "precision": {torch.float32: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}[dtype],
        "precision_option": precision, "precision_env": os.environ.get("DRIVESIM_PRECISION") or None,
        "device": str(device), "threads": torch.get_num_threads(),
        "cpu": cpu_model(), "cpu_native_bf16": cpu_has_native_bf16(), "torch": torch.__version__,
    }
    if device.type == "cuda":
        record["gpu"] = torch.cuda.get_device_name(device)
    if student:
        record["student"] = True
    return record


def clip_generator(seed: int, stage: str, index: int, device: str | torch.device = "cpu") -> torch.Generator:
    """A generator seeded from (seed, stage, index) alone: every clip's noise is reproducible on its
    own, independent of how many clips ran before it and of the global RNG."""
    digest = hashlib.sha256(f"{seed}/{stage}/{index}".encode()).digest()
    return torch.Generator(device=device).manual_seed(int.from_bytes(digest[:8], "little") & (2**63 - 1))


class StageTimings:
    """Seconds spent per stage; `with timings("decode"): ...` adds to one stage."""

    def __init__(self, device: str = "cpu") -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        # CUDA runs asynchronously: wait for the queued kernels so each stage gets its own time.
        self._sync = torch.cuda.synchronize if str(device).startswith("cuda") else (lambda: None)

    @contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        self._sync()
        start = time.perf_counter()
        try:
            yield
        finally:
            self._sync()
            self.seconds[stage] += time.perf_counter() - start

    def as_dict(self) -> dict[str, float]:
        return {k: round(v, 4) for k, v in self.seconds.items()}

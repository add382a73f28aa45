"""Training speed of the latent diffusion stages (`drivesim bench --mfu train`): steps/s, memory, counted FLOPs.

Each step is `drivesim train`'s own (drivesim.train.loop.Run: the stage's loss under accelerate's
autocast, backward, gradient clipping, AdamW, EMA) with the stage's default batch, on random
latents served through a LatentCache, as a real run with cached latents reads them, and on layout
maps of the benchmark drive. Data loading and the encoder are not timed (a real run encodes each
frame once). The image stage trains the UNet's spatial layers on single frames; the video stage
its temporal layers on keyframe clips, spatial layers frozen.

    drivesim bench --mfu train --random-config tiny --device cpu --train-steps 3
"""

from __future__ import annotations

import gc
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from drivesim.bench.flops import count_flops

if TYPE_CHECKING:
    from drivesim.models.bundle import Bundle

__all__ = ["TRAIN_STAGES", "bench_training"]

TRAIN_STAGES = {"image": "spatial", "video": "temporal"}  # stage -> the UNet parameters it trains
WARMUP_STEPS = 2  # untimed steps before the timed ones


def _random_batch(bundle: Bundle, batch: int, frames: int) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """(batch, latents): `batch` clips of `frames` frames of the benchmark drive's conditions (keyframe
    spacing for clips), and random unit-variance latents for them under one clip id."""
    from drivesim.bench.speed import bench_scenario
    from drivesim.conditions.box_maps import NUM_LAYOUT_CHANNELS
    from drivesim.conditions.encode import build_conditions
    from drivesim.scenario.engine import ScenarioEngine

    config = bundle.config
    engine = ScenarioEngine(bench_scenario(4.0))
    spacing = max(1, round(engine.fps / config.keyframe_fps)) if frames > 1 else 1
    count = batch * frames if frames == 1 else frames
    plan = [engine.conditions_at(engine.scenario.timestamp(i * spacing), i * spacing) for i in range(count)]
    clips = [[plan[b]] for b in range(batch)] if frames == 1 else [plan] * batch
    indices = torch.arange(batch)[:, None] if frames == 1 else torch.arange(frames).repeat(batch, 1)
    latents = torch.randn(count, config.autoencoder.latent_channels, *config.latent_size,
                          generator=torch.Generator().manual_seed(0))
    out = {"clip_id": ["random"] * batch, "indices": indices,
           "cond": build_conditions(clips, config.layout_size, camera=engine.camera,
                                    channels=config.unet.num_layout_channels or NUM_LAYOUT_CHANNELS)}
    return out, {"random": latents}


def _peak_mb(device: str) -> float | None:
    return torch.cuda.max_memory_allocated() / 2**20 if device.startswith("cuda") else None


def bench_training(bundle: Bundle, stage: str, device: str, steps: int, max_seconds: float,
                   peak_tflops: float | None, log=print) -> dict[str, Any]:
    """Time up to `steps` training steps of `stage` (image | video), stopping after `max_seconds`."""
    from accelerate import Accelerator

    from drivesim.diffusion.schedule import make_training_scheduler
    from drivesim.train.latent_cache import LatentCache
    from drivesim.train.loop import Run, TrainOptions
    from drivesim.train.stages import Trainee, get_stage

    spec = get_stage(stage)
    cfg = spec.config(steps=max(steps, 1), cache_latents=False)  # latents come from the random cache below
    model = bundle.unet
    params = model.spatial_parameters() if TRAIN_STAGES[stage] == "spatial" else model.temporal_parameters()
    frames = 1 if stage == "image" else (getattr(cfg, "frames", 0) or bundle.config.clip_frames)
    batch, latents = _random_batch(bundle, cfg.batch, frames)
    cuda = device.startswith("cuda")
    precision = ("bf16" if torch.cuda.is_bf16_supported() else "fp16") if cuda else "no"
    trainee = Trainee(bundle=bundle, config=cfg, model=model, trainable=[n for n, _ in params],
                      dataset=list(range(cfg.batch)), collate=list, frozen={},
                      scheduler=make_training_scheduler(bundle.config.diffusion), diffusion=bundle.config.diffusion)
    accelerator = Accelerator(mixed_precision=precision, cpu=not cuda)
    with tempfile.TemporaryDirectory() as tmp:  # the run writes nothing: no save, log or preview is called
        run = Run(spec, TrainOptions(stage=stage, data=Path(tmp), out=Path(tmp), progress=False), cfg, trainee,
                  accelerator, Path(tmp), None, None)
    trainee.latents = LatentCache(latents)

    def step() -> dict[str, float]:
        losses = run.train_step(batch)  # the loop's own step, so the figure is `drivesim train`'s
        run.step += 1
        return losses

    # untimed: the first steps allocate, pick kernels and fill the optimizer state; the first one is
    # counted (forward and backward; the optimizer's work is element-wise, which torch does not count)
    flops = count_flops(step)
    for _ in range(WARMUP_STEPS - 1):
        step()
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    done, start = 0, time.perf_counter()
    while done < steps and time.perf_counter() - start < max_seconds:
        losses = step()  # reading the loss waits for the step's kernels: each step is timed whole
        done += 1
    seconds = time.perf_counter() - start
    peak = _peak_mb(device)
    steps_per_s = done / seconds if done else 0.0
    tflops = flops * steps_per_s / 1e12
    log(f"  train {stage}: {done} steps of batch {cfg.batch} x {frames} frames in {seconds:.1f} s "
        f"({steps_per_s:.2f} steps/s, {flops / 1e12:.3f} TFLOP/step)")
    result = {
        "stage": stage, "trains": TRAIN_STAGES[stage], "trainable_params": sum(p.numel() for p in run.params),
        "batch": cfg.batch, "frames": frames, "steps": done, "seconds": seconds, "steps_per_s": steps_per_s,
        "samples_per_s": steps_per_s * cfg.batch, "mixed_precision": precision, "peak_gpu_mb": peak,
        "tflop_per_step": flops / 1e12, "tflops": tflops,
        "mfu": tflops / peak_tflops if peak_tflops and done else None,
        "loss": losses["loss"] if done else None,
    }
    del run, trainee
    gc.collect()
    if cuda:
        torch.cuda.empty_cache()
    return result

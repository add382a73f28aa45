"""The six training stages (docs/method.md): one config dataclass and one loss function each, in STAGES.

    autoencoder    encoder + image decoder: L1 + perceptual + KL + hinge 2D patch-GAN (after gan_start)
    image          the UNet's spatial layers on single-frame latents (image_only), label/box dropout
    decoder        the temporal decoder's temporal layers on clips (E and D frozen) + 3D patch-GAN
    video          the UNet's temporal layers (spatial frozen): keyframe clips, S in {0, 1, 2} context frames
    interpolation  the interpolator's temporal layers: 5-frame windows, ends given, rate flag 0 / 1
    upsampler      the x4 pixel upsampler on patches: phase `spatial` (frames), then `temporal` (clips)

A loss function gets the Trainee (models on the device), a batch from the stage's collate
function and a generator seeded from (seed, step, process), and returns named scalar
tensors: "loss" is optimised for the model, "loss_d" (GAN stages) for the discriminator;
everything is logged. The loop (`drivesim.train.loop`) does the rest. The diffusion stages' `inputs`
turn a batch into what their network learns from (clean x0, conditions with dropout, context masks):
their loss and the distillation of a student (`drivesim.train.distill`) both start there.

    python -c "from drivesim.train.stages import STAGES; print({n: s.summary for n, s in STAGES.items()})"
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn
from torch.utils.data import Dataset

from drivesim.conditions.box_maps import CLASS_CHANNEL, NUM_LAYOUT_CHANNELS
from drivesim.conditions.encode import drop_conditions, upsampler_conditions
from drivesim.conditions.tensors import UNetConditions, road_user_mask
from drivesim.data.clips import Clip
from drivesim.diffusion.schedule import DiffusionConfig, make_training_scheduler
from drivesim.diffusion.targets import add_noise, diffusion_loss, sample_timesteps, training_target
from drivesim.errors import DrivesimError
from drivesim.models.bundle import Bundle
from drivesim.models.discriminator import (PatchDiscriminator2D, PatchDiscriminator3D, hinge_d_loss, hinge_g_loss,
                                           perceptual_loss)
from drivesim.models.upsampler import noise_augment, resize_low_res
from drivesim.train import datasets as D
from drivesim.train.latent_cache import LatentCache

__all__ = ["StageConfig", "Stage", "Trainee", "DiffusionInputs", "STAGES", "get_stage",
           "AutoencoderStageConfig", "LatentStageConfig", "ImageStageConfig", "DecoderStageConfig", "VideoStageConfig",
           "InterpolationStageConfig", "UpsamplerStageConfig"]


# --- configs -------------------------------------------------------------------------------------

@dataclass
class StageConfig:
    """What every stage has. CLI: --steps / --batch / --lr / --seed, any other field with --set NAME=VALUE.
    Default steps and batches are the tiny CPU recipe (~1.5 h for all stages, docs/training.md)."""

    steps: int = 1000
    batch: int = 8
    lr: float = 2e-4
    warmup_steps: int = 50  # linear learning-rate warm-up
    weight_decay: float = 0.0
    ema_decay: float = 0.999  # 0 = no EMA (the last weights are saved)
    grad_clip: float = 1.0  # max gradient norm; 0 = off
    seed: int = 0


@dataclass
class AutoencoderStageConfig(StageConfig):
    steps: int = 1200
    lr: float = 4e-4
    ema_decay: float = 0.99
    kl_weight: float = 1e-6  # KL of the posterior, summed over latent elements (LDM's small weight)
    perceptual_weight: float = 1.0
    gan_weight: float = 0.1
    gan_start: int = 600  # reconstruction-only steps before the discriminator joins
    disc_lr: float = 4e-4
    disc_layers: int = 3
    set_scaling_factor: bool = True  # afterwards, scaling_factor = 1 / std(latents) (unit-variance latents)


@dataclass
class LatentStageConfig(StageConfig):
    """What the latent diffusion stages (image, video, interpolation) share."""

    p_label: float = 0.1  # per-clip dropout of time of day / crowdedness / ego speed (label guidance)
    p_layout: float = 0.1  # per-clip dropout of the box + road layout maps
    p_null: float = 0.1  # per-clip dropout of both at once: the unconditional branch of label/box guidance
    fg_weight: float = 0.0  # extra loss weight inside the boxes (GeoDiffusion): 1 + fg_weight there, 1 elsewhere
    preview_steps: int = 10  # DDIM steps of the preview samples
    cache_latents: bool = True  # encode every frame once (BUNDLE/.train/latents/) instead of every step


@dataclass
class ImageStageConfig(LatentStageConfig):
    steps: int = 3000
    batch: int = 16
    lr: float = 4e-4


@dataclass
class DecoderStageConfig(StageConfig):
    steps: int = 300
    batch: int = 2
    lr: float = 2e-4
    ema_decay: float = 0.99
    frames: int = 0  # clip length; 0 = the config's decoder_window
    perceptual_weight: float = 1.0
    gan_weight: float = 0.1
    gan_start: int = 100
    disc_lr: float = 2e-4
    disc_layers: int = 3


@dataclass
class VideoStageConfig(LatentStageConfig):
    steps: int = 500
    batch: int = 4
    lr: float = 2e-4
    p_no_context: float = 0.3  # S = 0 this often (context guidance needs the unconditional branch)
    frames: int = 0  # 0 = the config's clip_frames


@dataclass
class InterpolationStageConfig(LatentStageConfig):
    steps: int = 400
    batch: int = 8
    lr: float = 2e-4


@dataclass
class UpsamplerStageConfig(StageConfig):
    phase: str = "spatial"  # "spatial": image-only on frames; "temporal": temporal layers on clips
    steps: int = 1500  # spatial phase; pass e.g. --steps 200 for the (10x costlier per step) temporal phase
    batch: int = 8
    lr: float = 2e-4
    frames: int = 4  # clip length of the temporal phase
    patch: int = 0  # low-res patch side (high-res = patch x scale); 0 = the config's upsampler_patch_size
    preview_steps: int = 10
    fg_weight: float = 0.0  # extra loss weight on pixels under boxes (needs the layout maps), as the latent stages
    vru_weight: float = 0.0  # more on top under two-wheelers' and pedestrians' boxes (the first road users lost)
    # Low-res degradations, each drawn per clip, so the upsampler learns the frames it gets at sampling time:
    decoded_p: float = 0.0  # share of clips whose low-res input is the autoencoder's reconstruction (decoded frames)
    erase_p: float = 0.0  # share of clips whose road users are smeared out of the low-res input, so the layout
    # maps alone say where to draw them (generated keyframes often miss small road users)
    train_only: str = ""  # parameter-name prefixes, e.g. "conv_in": only those train ("": the phase's all)


# --- what a stage trains -------------------------------------------------------------------------

@dataclass
class Trainee:
    """The models, data and helpers of one stage run. The loop swaps `model` / `disc` for their
    accelerate-prepared versions; `module` / `disc_module` stay the plain modules."""

    bundle: Bundle
    config: StageConfig
    model: nn.Module  # the module trained (a part of the bundle)
    trainable: list[str]  # its parameters that are optimised; all others are frozen
    dataset: Dataset
    collate: Callable[[list[dict[str, Any]]], dict[str, Any]]
    disc: nn.Module | None = None
    frozen: dict[str, nn.Module] = field(default_factory=dict)  # helpers moved to the device, eval, no grad
    scheduler: Any = None  # diffusion stages: the training noise scheduler
    diffusion: DiffusionConfig | None = None
    notes: list[str] = field(default_factory=list)  # printed once at the start
    clips: list[Clip] = field(default_factory=list)  # the training clips (for the latent cache)
    latents: LatentCache | None = None  # latent stages: every frame encoded once (train/latent_cache.py)
    device: torch.device = torch.device("cpu")
    module: nn.Module | None = None
    disc_module: nn.Module | None = None
    ema: Any = None  # the run's EMA of the trained parameters (set by the loop; distillation's target network)
    record: dict[str, Any] = field(default_factory=dict)  # more for the run's stages.json record (e.g. init_from)

    def __post_init__(self) -> None:
        self.module = self.model
        self.disc_module = self.disc


@dataclass(frozen=True)
class Stage:
    name: str
    summary: str
    config: type[StageConfig]
    setup: Callable[[Bundle, StageConfig, str, list[Clip]], Trainee]
    loss: Callable[[Trainee, dict[str, Any], torch.Generator, int], dict[str, Tensor]]
    requires: tuple[str, ...] = ()  # stages whose trained weights this one builds on
    invalidates: tuple[str, ...] = ()  # stages trained on this one's old weights (retrain them after)
    phases: tuple[str, ...] = ("main",)
    parts: tuple[str, ...] = ()  # bundle part files it trains (the only ones its run writes back)
    inputs: Callable[[Trainee, dict[str, Any], torch.Generator], "DiffusionInputs"] | None = None  # diffusion stages
    writes_config: bool = False  # its run writes config.yaml too (after `finish`)
    finish: Callable[[Trainee], list[str]] | None = None  # after the EMA weights are in place, before saving: notes

    def run_name(self, phase: str | None = None) -> str:
        """Folder name under BUNDLE/.train/ (one per stage, one per later phase where there are several)."""
        return self.name if phase in (None, self.phases[0]) else f"{self.name}-{phase}"


# --- shared helpers ------------------------------------------------------------------------------

def _randn(shape, generator: torch.Generator, like: Tensor) -> Tensor:
    """Noise drawn on the CPU from `generator` (same values on every device), moved to `like`."""
    return torch.randn(shape, generator=generator).to(device=like.device, dtype=like.dtype)


@torch.no_grad()
def encode_frames(autoencoder: nn.Module, frames: Tensor) -> Tensor:
    """Frames (..., 3, H, W) -> scaled latents (..., C, h, w) with the frozen encoder (posterior mean)."""
    lead = frames.shape[:-3]
    z = autoencoder.encode(frames.reshape(-1, *frames.shape[-3:]))
    return z.reshape(*lead, *z.shape[1:])


def batch_latents(t: Trainee, batch: dict[str, Any]) -> Tensor:
    """Scaled latents (B, T, C, h, w) of the batch's frames: from the latent cache when the stage
    has one, else encoded now."""
    if t.latents is not None:
        return t.latents.lookup(batch["clip_id"], batch["indices"]).to(t.device)
    frames = batch["frames"].to(t.device)
    return encode_frames(t.frozen["autoencoder"], frames if frames.dim() == 5 else frames[:, None])


def _names(model: nn.Module, which: str) -> list[str]:
    if which == "all":
        return [n for n, _ in model.named_parameters()]
    params = model.spatial_parameters() if which == "spatial" else model.temporal_parameters()
    return [n for n, _ in params]


def _frozen_disc_logits(disc: nn.Module, x: Tensor) -> Tensor:
    """D(x) for the generator loss without giving D gradients (and without DDP hooks on D)."""
    flags = [p.requires_grad for p in disc.parameters()]
    for p in disc.parameters():
        p.requires_grad_(False)
    try:
        return disc(x)
    finally:
        for p, flag in zip(disc.parameters(), flags):
            p.requires_grad_(flag)


def _gan_losses(t: Trainee, real: Tensor, fake: Tensor, step: int, start: int) -> tuple[Tensor, Tensor]:
    """(generator hinge loss, discriminator hinge loss); zeros before `start`. Real and fake go
    through the discriminator as one batch (one forward per step under DDP)."""
    if step < start:
        zero = fake.new_zeros(())
        return zero, zero
    g = hinge_g_loss(_frozen_disc_logits(t.disc_module, fake))
    logits = t.disc(torch.cat([real, fake.detach()]))
    real_logits, fake_logits = logits.chunk(2)
    return g, hinge_d_loss(real_logits, fake_logits)


def foreground_weights(cond: UNetConditions, size: tuple[int, int], fg_weight: float,
                       vru_weight: float = 0.0) -> Tensor | None:
    """(B, T, 1, h, w) loss weights: 1 + fg_weight on latent pixels any box touches, plus vru_weight where
    a two-wheeler's or a pedestrian's box does (the small road users a model loses first), 1 elsewhere and
    on frames whose layout is dropped (the model cannot know where their boxes are); None if off."""
    if (fg_weight <= 0 and vru_weight <= 0) or cond.layout is None:
        return None
    b = cond.batch_size

    def touched(first_class_channel: int) -> Tensor:  # (B, T, 1, h, w): 1 where a box of those types touches
        boxes = road_user_mask(cond.layout, first_class_channel)
        return rearrange(F.adaptive_max_pool2d(rearrange(boxes, "b t c h w -> (b t) c h w"), size),
                         "(b t) c h w -> b t c h w", b=b)

    weights = 1.0 + fg_weight * touched(0)
    if vru_weight > 0:
        weights = weights + vru_weight * touched(CLASS_CHANNEL["cyclist"])
    keep = (~cond.layout_null.bool())[:, :, None, None, None]
    return torch.where(keep, weights, torch.ones_like(weights))


@dataclass
class DiffusionInputs:
    """What a diffusion stage's network learns from one batch: clean x0 (B, T, C, H, W) and its conditions
    (dropout, context frames and masks applied), `loss_mask` (B, T) 1 where the loss counts (None: all),
    whether the network runs image-only, and figures to log."""

    x0: Tensor
    cond: UNetConditions
    loss_mask: Tensor | None = None
    image_only: bool = False
    logged: dict[str, Tensor] = field(default_factory=dict)


def _inputs_loss(t: Trainee, inputs: DiffusionInputs, generator: torch.Generator) -> dict[str, Tensor]:
    loss = _diffusion_step(t, inputs.x0, inputs.cond, generator, image_only=inputs.image_only,
                           loss_mask=inputs.loss_mask)
    return {"loss": loss, **inputs.logged}


def _diffusion_step(t: Trainee, x0: Tensor, cond: UNetConditions, generator: torch.Generator,
                    image_only: bool = False, loss_mask: Tensor | None = None) -> Tensor:
    """Noise x0 (B, T, C, H, W) at one uniform step per clip, predict eps or v, masked MSE (weighted
    inside the boxes when the stage has fg_weight)."""
    noise = _randn(x0.shape, generator, x0)
    steps = sample_timesteps(x0.shape[0], t.diffusion.num_train_timesteps, generator, device=x0.device)
    x_t = add_noise(x0, noise, steps, t.scheduler)
    out = t.model(x_t, steps, cond, image_only=image_only)
    target = training_target(x0, noise, steps, t.scheduler, t.diffusion.prediction_type)
    pixel_weights = foreground_weights(cond, x0.shape[-2:], getattr(t.config, "fg_weight", 0.0),
                                       getattr(t.config, "vru_weight", 0.0))
    return diffusion_loss(out, target, mask=loss_mask, pixel_weights=pixel_weights)


def _diffusion_trainee(bundle: Bundle, cfg: StageConfig, model: nn.Module, which: str, dataset: Dataset,
                       collate, diffusion: DiffusionConfig, notes: list[str] | None = None,
                       frozen: dict[str, nn.Module] | None = None) -> Trainee:
    return Trainee(bundle=bundle, config=cfg, model=model, trainable=_names(model, which), dataset=dataset,
                   collate=collate, frozen=frozen if frozen is not None else {"autoencoder": bundle.autoencoder},
                   scheduler=make_training_scheduler(diffusion), diffusion=diffusion, notes=notes or [])


# --- autoencoder ---------------------------------------------------------------------------------

def setup_autoencoder(bundle: Bundle, cfg: AutoencoderStageConfig, root: str, clips: list[Clip]) -> Trainee:
    c = bundle.config
    return Trainee(bundle=bundle, config=cfg, model=bundle.autoencoder, trainable=_names(bundle.autoencoder, "all"),
                   dataset=D.frame_dataset(root, clips, c.frame_size), collate=D.collate_frames,
                   disc=PatchDiscriminator2D(num_layers=cfg.disc_layers))


def autoencoder_loss(t: Trainee, batch: dict[str, Any], generator: torch.Generator, step: int) -> dict[str, Tensor]:
    cfg: AutoencoderStageConfig = t.config
    x = batch["frames"].to(t.device)
    recon, posterior = t.model(x, sample=True, generator=generator)
    rec = (recon - x).abs().mean()
    perc = perceptual_loss(recon, x).mean()
    kl = posterior.kl().mean()
    g, d = _gan_losses(t, x, recon, step, cfg.gan_start)
    loss = rec + cfg.perceptual_weight * perc + cfg.kl_weight * kl + cfg.gan_weight * g
    return {"loss": loss, "rec": rec, "perc": perc, "kl": kl, "g": g, "loss_d": d}


@torch.no_grad()
def latent_scaling_factor(autoencoder: nn.Module, dataset: Dataset, count: int = 64) -> float:
    """1 / std of the unscaled latents of up to `count` frames spread over the dataset."""
    device = next(autoencoder.parameters()).device
    picks = torch.linspace(0, len(dataset) - 1, min(count, len(dataset))).round().long().unique().tolist()
    frames = torch.stack([dataset[i]["frame"] for i in picks]).to(device)
    z = torch.cat([autoencoder.encode_dist(chunk).mode() for chunk in frames.split(16)])
    return float(1.0 / z.float().std().clamp(min=1e-6))


# --- image (spatial UNet) ------------------------------------------------------------------------

def setup_image(bundle: Bundle, cfg: ImageStageConfig, root: str, clips: list[Clip]) -> Trainee:
    c = bundle.config
    return _diffusion_trainee(bundle, cfg, bundle.unet, "spatial", D.frame_dataset(root, clips, c.frame_size),
                              D.collate_with(D.collate_frames, layout_size=c.layout_size,
                                             channels=c.unet.num_layout_channels), c.diffusion)


def image_inputs(t: Trainee, batch: dict[str, Any], generator: torch.Generator) -> DiffusionInputs:
    cfg: ImageStageConfig = t.config
    z = batch_latents(t, batch)  # (B, 1, C, h, w)
    cond = drop_conditions(batch["cond"], cfg.p_label, cfg.p_layout, generator, p_null=cfg.p_null).to(t.device)
    return DiffusionInputs(z, cond, image_only=True)


def image_loss(t: Trainee, batch: dict[str, Any], generator: torch.Generator, step: int) -> dict[str, Tensor]:
    return _inputs_loss(t, image_inputs(t, batch, generator), generator)


# --- temporal decoder ----------------------------------------------------------------------------

def setup_decoder(bundle: Bundle, cfg: DecoderStageConfig, root: str, clips: list[Clip]) -> Trainee:
    c = bundle.config
    bundle.decoder.load_image_decoder(bundle.autoencoder)
    notes: list[str] = []
    dataset = D.clip_dataset(root, clips, cfg.frames or c.decoder_window, c.frame_size, 1.0 / c.output_fps,
                             c.output_fps, notes)
    return Trainee(bundle=bundle, config=cfg, model=bundle.decoder, trainable=_names(bundle.decoder, "temporal"),
                   dataset=dataset, collate=D.collate_video, disc=PatchDiscriminator3D(num_layers=cfg.disc_layers),
                   frozen={"autoencoder": bundle.autoencoder}, notes=notes)


def decoder_loss(t: Trainee, batch: dict[str, Any], generator: torch.Generator, step: int) -> dict[str, Tensor]:
    cfg: DecoderStageConfig = t.config
    x = batch["frames"].to(t.device)  # (B, T, 3, H, W)
    recon = t.model(encode_frames(t.frozen["autoencoder"], x))
    rec = (recon - x).abs().mean()
    perc = perceptual_loss(recon.flatten(0, 1), x.flatten(0, 1)).mean()
    g, d = _gan_losses(t, x, recon, step, cfg.gan_start)
    loss = rec + cfg.perceptual_weight * perc + cfg.gan_weight * g
    return {"loss": loss, "rec": rec, "perc": perc, "g": g, "loss_d": d}


# --- video (prediction model) --------------------------------------------------------------------

def setup_video(bundle: Bundle, cfg: VideoStageConfig, root: str, clips: list[Clip]) -> Trainee:
    c = bundle.config
    notes: list[str] = []
    dataset = D.clip_dataset(root, clips, cfg.frames or c.clip_frames, c.frame_size, 1.0 / c.keyframe_fps,
                             c.output_fps, notes)
    return _diffusion_trainee(bundle, cfg, bundle.unet, "temporal", dataset,
                              D.collate_with(D.collate_video, layout_size=c.layout_size,
                                             channels=c.unet.num_layout_channels), c.diffusion, notes)


def context_counts(batch: int, frames: int, max_context: int, p_none: float, generator: torch.Generator) -> Tensor:
    """S per clip: 0 with probability p_none, else uniform in 1..max_context."""
    none = torch.rand(batch, generator=generator) < p_none
    some = torch.randint(1, max(max_context, 1) + 1, (batch,), generator=generator)
    return torch.where(none | (max_context == 0), torch.zeros_like(some), some)


def video_inputs(t: Trainee, batch: dict[str, Any], generator: torch.Generator) -> DiffusionInputs:
    cfg: VideoStageConfig = t.config
    c = t.bundle.config
    z = batch_latents(t, batch)  # (B, T, C, h, w)
    b, frames = z.shape[:2]
    counts = context_counts(b, frames, min(c.context_frames, 2, frames - 1), cfg.p_no_context, generator)
    mask = (torch.arange(frames)[None] < counts[:, None]).to(z)  # (B, T): the first S frames are given
    cond = drop_conditions(batch["cond"], cfg.p_label, cfg.p_layout, generator, p_null=cfg.p_null).to(t.device)
    cond = cond.replace(context=z * mask[:, :, None, None, None], context_mask=mask)
    return DiffusionInputs(z, cond, loss_mask=1.0 - mask, logged={"context": counts.float().mean()})


def video_loss(t: Trainee, batch: dict[str, Any], generator: torch.Generator, step: int) -> dict[str, Tensor]:
    return _inputs_loss(t, video_inputs(t, batch, generator), generator)


# --- interpolation -------------------------------------------------------------------------------

INTERPOLATION_RATES = (0, 1)  # 0: T -> 4T (keyframes in), 1: 4T -> 16T (the first pass's output in)


def setup_interpolation(bundle: Bundle, cfg: InterpolationStageConfig, root: str, clips: list[Clip]) -> Trainee:
    c = bundle.config
    factor = c.interpolation_factor
    notes: list[str] = []
    # Rate r takes frames 1 / (keyframe_fps * factor^r) s apart and fills in factor - 1 between each two.
    per_rate = [D.clip_dataset(root, clips, factor + 1, c.frame_size, 1.0 / (c.keyframe_fps * factor ** (r + 1)),
                               c.output_fps, notes) for r in INTERPOLATION_RATES]
    return _diffusion_trainee(bundle, cfg, bundle.interpolator, "temporal", D.RateMix(per_rate),
                              D.collate_with(D.collate_video, layout_size=c.layout_size,
                                             channels=c.interpolator.num_layout_channels), c.diffusion, notes)


def interpolation_mask(batch: int, frames: int) -> Tensor:
    """(B, T): 1 on the two given ends of each window."""
    mask = torch.zeros(batch, frames)
    mask[:, 0] = mask[:, -1] = 1.0
    return mask


def interpolation_inputs(t: Trainee, batch: dict[str, Any], generator: torch.Generator) -> DiffusionInputs:
    cfg: InterpolationStageConfig = t.config
    z = batch_latents(t, batch)
    mask = interpolation_mask(*z.shape[:2]).to(z)
    cond = drop_conditions(batch["cond"], cfg.p_label, cfg.p_layout, generator, p_null=cfg.p_null).to(t.device)
    cond = cond.replace(context=z * mask[:, :, None, None, None], context_mask=mask,
                        rate=batch["rate"].to(t.device).long())
    return DiffusionInputs(z, cond, loss_mask=1.0 - mask)


def interpolation_loss(t: Trainee, batch: dict[str, Any], generator: torch.Generator,
                       step: int) -> dict[str, Tensor]:
    return _inputs_loss(t, interpolation_inputs(t, batch, generator), generator)


# --- upsampler -----------------------------------------------------------------------------------

UPSAMPLER_PHASES = ("spatial", "temporal")


def setup_upsampler(bundle: Bundle, cfg: UpsamplerStageConfig, root: str, clips: list[Clip]) -> Trainee:
    c = bundle.config
    s = c.upsampler.scale_factor
    low = (cfg.patch, cfg.patch) if cfg.patch else c.upsampler_patch_size
    frames = 1 if cfg.phase == "spatial" else cfg.frames
    notes: list[str] = []
    clips_ds = D.clip_dataset(root, clips, frames, c.output_size, 1.0 / c.output_fps, c.output_fps, notes)
    dataset = D.PatchCrops(clips_ds, (low[0] * s, low[1] * s), s, seed=cfg.seed,
                           layout=c.upsampler.num_layout_channels > 0,
                           channels=c.upsampler.num_layout_channels or NUM_LAYOUT_CHANNELS)
    if (cfg.fg_weight > 0 or cfg.vru_weight > 0 or cfg.erase_p > 0) and not c.upsampler.num_layout_channels:
        raise DrivesimError("fg_weight, vru_weight and erase_p need an upsampler that reads the layout maps "
                            "(upsampler.num_layout_channels > 0 in the bundle's config)")
    frozen = {"autoencoder": bundle.autoencoder} if cfg.decoded_p > 0 else {}
    trainee = _diffusion_trainee(bundle, cfg, bundle.upsampler, cfg.phase, dataset, D.collate_patches,
                                 c.upsampler_diffusion, notes, frozen=frozen)
    if cfg.train_only:  # e.g. the input layer of an upsampler grown to read the road maps, the rest kept
        prefixes = tuple(filter(None, map(str.strip, cfg.train_only.split(","))))  # "conv_in," has no "" prefix
        trainee.trainable = [n for n in trainee.trainable if n.startswith(prefixes)]
        if not trainee.trainable:
            raise DrivesimError(f"train_only={cfg.train_only!r} names none of the upsampler's {cfg.phase} parameters; "
                                "give prefixes of their state-dict names, e.g. conv_in or down_levels.0")
    return trainee


ERASE_KERNEL = 9  # low-res pixels: the neighbourhood whose background fills an erased box


def degrade_low_res(t: Trainee, low: Tensor, layout: Tensor | None, generator: torch.Generator) -> Tensor:
    """The stage's low-res degradations on (B, T, 3, h, w) patches: per clip, with probability
    `decoded_p` the autoencoder's reconstruction, and with probability `erase_p` the pixels under
    road users' boxes replaced by the mean of the background around them (a normalised box filter)."""
    cfg: UpsamplerStageConfig = t.config
    b, frames = low.shape[:2]
    if cfg.decoded_p <= 0 and cfg.erase_p <= 0:
        return low  # off: the random stream stays what it was without the options
    decoded = torch.rand(b, generator=generator) < cfg.decoded_p
    erased = torch.rand(b, generator=generator) < cfg.erase_p
    if decoded.any():
        ae = t.frozen["autoencoder"]
        with torch.no_grad():
            x = rearrange(low[decoded.to(low.device)], "b t c h w -> (b t) c h w")
            rec = rearrange(ae.decode(ae.encode(x)).clamp(-1, 1), "(b t) c h w -> b t c h w", t=frames)
        low = low.clone()
        low[decoded.to(low.device)] = rec.to(low.dtype)
    if erased.any() and layout is not None:
        s = t.bundle.config.upsampler.scale_factor
        boxes = rearrange(road_user_mask(layout), "b t c h w -> (b t) c h w")
        mask = F.max_pool2d(boxes.float(), s) * rearrange(erased.to(low.device).float().repeat_interleave(frames),
                                                          "n -> n 1 1 1")
        x = rearrange(low, "b t c h w -> (b t) c h w")
        pool = partial(F.avg_pool2d, kernel_size=ERASE_KERNEL, stride=1, padding=ERASE_KERNEL // 2)
        background = 1.0 - mask
        share = pool(background)
        fill = pool(x * background) / share.clamp_min(1e-3)
        # where a box covers the whole neighbourhood there is no background to borrow: blur instead
        fill = torch.where(share > 1e-3, fill, pool(x))
        low = rearrange(x * background + fill * mask, "(b t) c h w -> b t c h w", b=b)
    return low


def upsampler_inputs(t: Trainee, low: Tensor, generator: torch.Generator, level: int | None = None,
                     layout: Tensor | None = None) -> tuple[UNetConditions, Tensor]:
    """Low-res patches (B, T, 3, h, w) -> (conditions, bicubic): the patches resized x4, clean
    (`bicubic`, the residual's base) and noise-augmented at `level` (training: uniform in
    [0, max_noise_level] per clip) in the conditions, with the patches' layout maps (B, T, K, H, W)
    when the upsampler reads them."""
    c = t.bundle.config
    if level is None:
        level = torch.randint(0, c.upsampler.max_noise_level + 1, (low.shape[0],), generator=generator)
    else:
        level = torch.full((low.shape[0],), int(level), dtype=torch.long)
    up = resize_low_res(low, c.upsampler.scale_factor)
    augmented = noise_augment(up, level, t.scheduler.alphas_cumprod, generator)  # noise drawn on the CPU
    cond = upsampler_conditions(augmented, level.to(low.device))
    if layout is not None:
        cond = cond.replace(layout=layout.to(low.device), layout_null=torch.zeros_like(cond.layout_null))
    return cond, up


def upsampler_batch_inputs(t: Trainee, batch: dict[str, Any], generator: torch.Generator) -> DiffusionInputs:
    """The upsampler's x0 is its target (the frames, or their residual over the bicubic resize)."""
    cfg: UpsamplerStageConfig = t.config
    high, low = batch["high"].to(t.device), batch["low"].to(t.device)
    low = degrade_low_res(t, low, batch.get("layout"), generator)
    cond, bicubic = upsampler_inputs(t, low, generator, layout=batch.get("layout"))
    return DiffusionInputs(t.module.to_target(high, bicubic), cond, image_only=cfg.phase == "spatial")


def upsampler_loss(t: Trainee, batch: dict[str, Any], generator: torch.Generator, step: int) -> dict[str, Tensor]:
    return _inputs_loss(t, upsampler_batch_inputs(t, batch, generator), generator)


# --- registry ------------------------------------------------------------------------------------

# the students distilled from the keyframe model, the interpolator and the upsampler (drivesim.train.distill):
# retraining a teacher drops its student's record from stages.json (and loading skips the student: the
# teacher's files no longer have the sha256 it was distilled from)
DISTILLED = ("distill-keyframe", "distill-interpolator", "distill-upsampler")

STAGES: dict[str, Stage] = {
    "autoencoder": Stage("autoencoder", "encoder + image decoder (reconstruction, perceptual, KL, 2D patch-GAN)",
                         AutoencoderStageConfig, setup_autoencoder, autoencoder_loss,
                         invalidates=("image", "decoder", "video", "interpolation", *DISTILLED[:2]),
                         parts=("autoencoder",), writes_config=True),
    "image": Stage("image", "UNet spatial layers on single-frame latents (the image LDM)",
                   ImageStageConfig, setup_image, image_loss, requires=("autoencoder",),
                   invalidates=("video", "interpolation", *DISTILLED[:2]), parts=("unet_spatial",), inputs=image_inputs),
    "decoder": Stage("decoder", "temporal decoder's temporal layers on clips (encoder and image decoder frozen)",
                     DecoderStageConfig, setup_decoder, decoder_loss, requires=("autoencoder",),
                     parts=("decoder_temporal",)),
    "video": Stage("video", "prediction model's temporal layers (S = 0, 1, 2 context frames; spatial frozen)",
                   VideoStageConfig, setup_video, video_loss, requires=("autoencoder", "image"),
                   invalidates=DISTILLED[:1], parts=("unet_temporal",), inputs=video_inputs),
    "interpolation": Stage("interpolation", "interpolator's temporal layers (5-frame windows, rate flag)",
                           InterpolationStageConfig, setup_interpolation, interpolation_loss,
                           requires=("autoencoder", "image"), invalidates=DISTILLED[1:2], parts=("interpolator",),
                           inputs=interpolation_inputs),
    "upsampler": Stage("upsampler", "x4 pixel upsampler on patches: --phase spatial, then --phase temporal",
                       UpsamplerStageConfig, setup_upsampler, upsampler_loss, phases=UPSAMPLER_PHASES,
                       invalidates=DISTILLED[2:], parts=("upsampler",), inputs=upsampler_batch_inputs),
}


def get_stage(name: str) -> Stage:
    if name not in STAGES:
        raise DrivesimError(f"unknown training stage {name!r}; the stages, in order: {', '.join(STAGES)}")
    return STAGES[name]


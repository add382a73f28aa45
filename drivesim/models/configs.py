"""Every model size in one place: the bundle config (all parts + timing) and the named presets.

`tiny` trains and runs on 2 CPU cores (what `checkpoints/` ships); `paper` is the driving
setup of Video LDM (128x256 keyframes, latent 16x32x4, x4 upsampler to 512x1024, 1.875 fps
keyframes interpolated x16 to 30 fps). A config is plain data and round-trips through YAML:

    python -c "import yaml; from drivesim.models.configs import *; print(yaml.safe_dump(config_to_dict(get_config('tiny'))))"
"""

from __future__ import annotations

import dataclasses
import math
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from drivesim.conditions.layouts import is_network_layout
from drivesim.diffusion.schedule import DiffusionConfig
from drivesim.errors import DrivesimError
from drivesim.models.autoencoder import AutoencoderConfig
from drivesim.models.upsampler import UpsamplerConfig
from drivesim.models.video_unet import VideoUNetConfig

__all__ = ["AutoencoderConfig", "BundleConfig", "CONFIGS", "DiffusionConfig", "STUDENT_MODELS", "StudentConfig",
           "StudentsConfig", "UpsamplerConfig", "VideoUNetConfig", "config_from_dict", "config_to_dict", "get_config"]

STUDENT_MODELS = ("keyframe", "interpolator", "upsampler")  # the networks a few-step student can stand in for


def _pixel_diffusion() -> DiffusionConfig:
    # Pixel-space upsampler: the SD x4-upscaler schedule (more noise at t = T-1 than the latent one).
    return DiffusionConfig(beta_schedule="linear", beta_start=0.0001, beta_end=0.02, clip_sample=True)


@dataclass
class StudentConfig:
    """A few-step student distilled from one of the bundle's diffusion models (`drivesim train distill`,
    docs/training.md): latent consistency distillation, sampled with diffusers' LCMScheduler."""

    steps: int = 0  # its sampling steps; 0 = this model has no student
    guidance_scale: float = 1.0  # the label/box guidance folded into it: it samples without a guidance pass
    solver_steps: int = 50  # the teacher schedule's timesteps it was distilled on (LCMScheduler original_inference_steps)
    timestep_scaling: float = 10.0  # of the boundary scalings c_skip, c_out (LCMScheduler timestep_scaling)
    teacher_sha256: str = ""  # sha256 of the teacher's part files it was distilled from (stale once they change)
    # the student's own temporal attention levels where it has fewer than its teacher (None: the teacher's)
    temporal_attention_levels: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        if self.temporal_attention_levels is not None:
            self.temporal_attention_levels = tuple(int(i) for i in self.temporal_attention_levels)
        if self.steps < 0 or self.solver_steps < 1 or (self.steps and self.steps > self.solver_steps):
            raise DrivesimError(f"a student's steps must be in 0..solver_steps ({self.solver_steps}), got {self.steps}")
        if self.guidance_scale < 0 or self.timestep_scaling <= 0:
            raise DrivesimError("a student's guidance_scale must be >= 0 and its timestep_scaling > 0")


@dataclass
class StudentsConfig:
    """Which models have a student beside them in the bundle's students/ folder (steps > 0)."""

    keyframe: StudentConfig = field(default_factory=StudentConfig)  # the prediction model (video UNet)
    interpolator: StudentConfig = field(default_factory=StudentConfig)
    upsampler: StudentConfig = field(default_factory=StudentConfig)

    def present(self) -> dict[str, StudentConfig]:
        """The models that have a student, by name (STUDENT_MODELS order)."""
        return {name: getattr(self, name) for name in STUDENT_MODELS if getattr(self, name).steps > 0}


@dataclass
class BundleConfig:
    """All parts of a checkpoint bundle, plus the sizes and frame timing they were trained for."""

    name: str
    autoencoder: AutoencoderConfig  # encoder + image decoder; the temporal decoder adds layers to the decoder
    unet: VideoUNetConfig  # keyframe / prediction model (context frames S in {0, 1, 2})
    interpolator: VideoUNetConfig  # same spatial layers as `unet` (shared), own temporal layers
    upsampler: UpsamplerConfig  # pixel-space video upsampler
    diffusion: DiffusionConfig = field(default_factory=DiffusionConfig)  # latent models
    upsampler_diffusion: DiffusionConfig = field(default_factory=_pixel_diffusion)
    frame_size: tuple[int, int] = (64, 128)  # (H, W) of the keyframe model's frames, in pixels
    clip_frames: int = 8  # frames the prediction / interpolation models see at once
    context_frames: int = 2  # most context frames the prediction model is given (S in {0, .., this})
    keyframe_fps: float = 2.5  # frame rate of the keyframes the prediction model generates
    interpolation_factor: int = 4  # frames out per frame in, per interpolation pass (T -> 4T)
    keyframe_stride: int = 4  # output frames per keyframe = interpolation_factor ** passes
    output_fps: float = 10.0  # keyframe_fps * keyframe_stride
    decoder_window: int = 8  # frames the temporal decoder decodes at once
    # Whether `generate` runs the video upsampler by default (--sr / --no-sr override it): a bundle
    # whose upsampler is not yet trained well enough ships with False.
    super_resolution: bool = True
    upsampler_chunk_frames: int = 8  # frames the upsampler processes at once
    upsampler_patch_size: tuple[int, int] = (32, 32)  # low-res (h, w) training crop of the upsampler
    students: StudentsConfig = field(default_factory=StudentsConfig)  # few-step students (students/*.safetensors)

    def __post_init__(self) -> None:
        self.frame_size = tuple(int(s) for s in self.frame_size)
        self.upsampler_patch_size = tuple(int(s) for s in self.upsampler_patch_size)
        self.autoencoder.latent_size(self.frame_size)  # raises if not divisible
        passes = math.log(self.keyframe_stride, self.interpolation_factor) if self.interpolation_factor > 1 else 0
        if self.keyframe_stride < 1 or abs(passes - round(passes)) > 1e-9:
            raise DrivesimError(f"{self.name}: keyframe_stride {self.keyframe_stride} must be a power of "
                                f"interpolation_factor {self.interpolation_factor} (one factor per pass)")
        if abs(self.output_fps - self.keyframe_fps * self.keyframe_stride) > 1e-6:
            raise DrivesimError(f"{self.name}: output_fps {self.output_fps} must equal keyframe_fps x "
                                f"keyframe_stride = {self.keyframe_fps * self.keyframe_stride}")
        if self.unet.in_channels != self.autoencoder.latent_channels:
            raise DrivesimError(f"{self.name}: unet.in_channels {self.unet.in_channels} must equal "
                                f"autoencoder.latent_channels {self.autoencoder.latent_channels}")

    @property
    def interpolation_passes(self) -> int:
        """How often the interpolator runs (1.875 fps -> 7.5 -> 30 fps is 2 passes)."""
        if self.interpolation_factor <= 1:
            return 0
        return round(math.log(self.keyframe_stride, self.interpolation_factor))

    @property
    def latent_size(self) -> tuple[int, int]:
        return self.autoencoder.latent_size(self.frame_size)

    @property
    def layout_size(self) -> tuple[int, int]:
        """(h, w) of the layout maps the keyframe model and the interpolator read."""
        h, w = self.latent_size
        return h * self.unet.layout_scale, w * self.unet.layout_scale

    @property
    def draws_road_network(self) -> bool:
        """Whether the keyframe model reads the road network's maps (the 11-channel layout), so its frames
        draw any road -- bends, two-way roads, junctions -- rather than version 1's straight one."""
        return is_network_layout(self.unet.num_layout_channels)

    @property
    def output_size(self) -> tuple[int, int]:
        """(H, W) of the upsampled output frames."""
        f = self.upsampler.scale_factor
        return self.frame_size[0] * f, self.frame_size[1] * f


# --- YAML round trip -----------------------------------------------------------------------

def config_to_dict(config: BundleConfig) -> dict[str, Any]:
    """Plain nested dict (tuples stay tuples; yaml.safe_dump writes them as lists). `students` lists only
    the models that have one (none: no section), so a bundle without students writes what it always did."""
    data = dataclasses.asdict(config)
    data["students"] = {name: data["students"][name] for name in config.students.present()}
    if not data["students"]:
        del data["students"]
    return data


def _build(cls: type, data: Any, where: str) -> Any:
    """Instantiate dataclass `cls` from a dict, recursing into dataclass fields; lists -> tuples."""
    if not isinstance(data, dict):
        raise DrivesimError(f"config: {where or 'top level'} must be a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(data) - set(names))
    if unknown:
        raise DrivesimError(f"config: unknown key(s) {unknown} in {where or 'top level'}; known keys: {names}")
    kwargs = {}
    for name, value in data.items():
        if dataclasses.is_dataclass(hints.get(name)):
            value = _build(hints[name], value, f"{where}.{name}".lstrip("."))
        elif isinstance(value, list):
            value = tuple(value)
        kwargs[name] = value
    try:
        return cls(**kwargs)
    except TypeError as err:  # a required key is missing or a value has the wrong type
        raise DrivesimError(f"config: {where or 'top level'}: {err}") from err


def config_from_dict(data: dict[str, Any]) -> BundleConfig:
    """Inverse of `config_to_dict` (accepts what yaml.safe_load returns); clear errors for bad keys."""
    return _build(BundleConfig, data, "")


# --- presets -------------------------------------------------------------------------------

def tiny() -> BundleConfig:
    """Trains and runs on 2 CPU cores: 64x128 frames, latents 16x32x4, output 256x512 at 10 fps."""
    # 8 norm groups: with 32 groups a 32-channel layer normalises every channel on its own
    # (instance norm), which drops absolute colour -- the first tiny autoencoder lost red entirely.
    # Layout maps at keyframe pixels (4x the latent), modulating every level: at latent size a
    # 14-pixel box of the output frame is under one latent pixel (models/layout_encoder.py).
    unet = VideoUNetConfig(in_channels=4, out_channels=4, block_out_channels=(32, 64), layers_per_block=1,
                           attention_levels=(1,), num_heads=2, use_context=True, max_frames=32, norm_num_groups=8,
                           layout_scale=4, layout_levels=True)
    return BundleConfig(
        name="tiny",
        autoencoder=AutoencoderConfig(downsample_factor=4, latent_channels=4, block_channels=(32, 64, 64),
                                      layers_per_block=1, scaling_factor=1.0, norm_num_groups=8),
        unet=unet,
        interpolator=dataclasses.replace(unet, use_rate=True),
        upsampler=UpsamplerConfig(scale_factor=4, block_out_channels=(32, 64), layers_per_block=1,
                                  num_heads=2, space_to_depth=4, residual_scale=3.0, num_layout_channels=6),
        frame_size=(64, 128), clip_frames=8, context_frames=2,
        keyframe_fps=2.5, interpolation_factor=4, keyframe_stride=4, output_fps=10.0,
        decoder_window=8, upsampler_chunk_frames=8, upsampler_patch_size=(32, 32),
        # Few-step DPM-Solver++ keeps a 10 s clip near a minute on 2 CPU cores (docs/performance.md).
        diffusion=DiffusionConfig(sampler="dpmpp", num_inference_steps=8),
        # x0 prediction: the small upsampler cannot learn pixel-exact noise (eps / v at low noise)
        # through its space-to-depth stem in a CPU budget; predicting the clean frame can only blur.
        upsampler_diffusion=dataclasses.replace(_pixel_diffusion(), prediction_type="sample", sampler="dpmpp",
                                                num_inference_steps=3),
    )


def paper() -> BundleConfig:
    """Video LDM driving setup (GPU): 128x256 keyframes at 1.875 fps -> x16 -> 30 fps, x4 to 512x1024."""
    unet = VideoUNetConfig(in_channels=4, out_channels=4, block_out_channels=(320, 640, 1280), layers_per_block=2,
                           attention_levels=(1, 2), num_heads=8, use_context=True, max_frames=64)
    return BundleConfig(
        name="paper",
        autoencoder=AutoencoderConfig(downsample_factor=8, latent_channels=4, block_channels=(128, 256, 512, 512),
                                      layers_per_block=2, scaling_factor=0.18215),
        unet=unet,
        interpolator=dataclasses.replace(unet, use_rate=True),
        upsampler=UpsamplerConfig(scale_factor=4, block_out_channels=(128, 256, 512), layers_per_block=2,
                                  num_heads=8, space_to_depth=4),
        frame_size=(128, 256), clip_frames=16, context_frames=2,
        keyframe_fps=1.875, interpolation_factor=4, keyframe_stride=16, output_fps=30.0,
        decoder_window=8, upsampler_chunk_frames=8, upsampler_patch_size=(80, 80),
    )


def tiny_world() -> BundleConfig:
    """`tiny` reading the road as a world: 11 layout channels (the 6 of `tiny`, then drivable area, solid and
    dashed lane lines, road edges and lane direction drawn from the road network; conditions/layouts.py) for
    every model, so it can be grown from a `tiny` bundle (the new input channels start at zero); its upsampler
    reads the road outside road users' boxes only (`UpsamplerConfig.road_in_boxes`)."""
    base = tiny()
    unet = dataclasses.replace(base.unet, num_layout_channels=11)
    return dataclasses.replace(base, name="tiny_world", unet=unet,
                               interpolator=dataclasses.replace(unet, use_rate=True),
                               upsampler=dataclasses.replace(base.upsampler, num_layout_channels=11,
                                                             road_in_boxes=False))


CONFIGS: dict[str, Callable[[], BundleConfig]] = {"tiny": tiny, "tiny_world": tiny_world, "paper": paper}


def get_config(name: str) -> BundleConfig:
    """A fresh preset by name."""
    try:
        return CONFIGS[name]()
    except KeyError:
        raise DrivesimError(f"unknown model config {name!r}; choose one of {sorted(CONFIGS)}") from None

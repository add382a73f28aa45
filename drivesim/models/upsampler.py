"""Video upsampler (x4, docs/method.md §6): a pixel-space diffusion VideoUNet conditioned on the low-res video.

The noisy high-res frames and the noise-augmented low-res frames (already resized to the output
size) are concatenated on channels; the augmentation level is an extra embedding. A
space-to-depth stem (pixel_unshuffle by 4) and depth-to-space head (pixel_shuffle) make the
whole UNet run at 1/4 resolution. Fully convolutional without spatial attention: trained on
patches, applied to full frames whose sides are multiples of `size_multiple`.

    python -c "import torch; from drivesim.models.upsampler import *; from drivesim.conditions.encode import *; \
        m = VideoUpsampler(UpsamplerConfig()); lo = torch.rand(1, 4, 3, 16, 16) * 2 - 1; \
        c = upsampler_conditions(noise_augment(resize_low_res(lo, 4), 100, default_alphas_cumprod()), 100); \
        print(m(torch.randn(1, 4, 3, 64, 64), torch.tensor([10]), c).shape)"
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from einops import rearrange

from drivesim.conditions.box_maps import ROAD
from drivesim.conditions.tensors import UNetConditions, road_user_mask
from drivesim.models.video_unet import VideoUNet, VideoUNetConfig


@dataclass
class UpsamplerConfig:
    """Plain fields only (YAML round-trippable). The network is a VideoUNet with space_to_depth."""

    scale_factor: int = 4  # output size / low-res size (low_res arrives already resized to the output size)
    channels: int = 3  # RGB in [-1, 1]
    block_out_channels: tuple[int, ...] = (64, 128)
    layers_per_block: int = 1
    attention_levels: tuple[int, ...] = ()  # no spatial attention: patches and full frames behave alike
    num_heads: int = 4
    temporal_attention: bool = True
    temporal_attention_levels: tuple[int, ...] | None = None  # VideoUNetConfig's: None = every level
    temporal_conv: bool = True
    space_to_depth: int = 4  # most work runs at 1/4 resolution
    max_noise_level: int = 250  # training draws the low-res augmentation level from [0, max_noise_level]
    inference_noise_level: int = 100  # level used at sampling time
    norm_num_groups: int = 32
    # > 0: the diffusion runs on the detail the bicubic resize misses, (high - bicubic) * residual_scale,
    # so an untrained or unsure model gives the bicubic frame instead of noise; the scale brings
    # that residual (std ~0.06 in [-1, 1] pixels on our data) near the sampler's unit range.
    # 0: the diffusion runs on the high-res frames themselves.
    residual_scale: float = 0.0
    # > 0: the box + road layout maps at the output size are concatenated to the input too, so the
    # upsampler draws road users' detail where their boxes are (K = 6, conditions/box_maps.py).
    num_layout_channels: int = 0
    # False: the road channels (5 on) are blanked inside the road users' boxes before the network reads
    # them, as the renderer paints road users over the road: a lane line under a pedestrian's box would
    # otherwise ask for road paint where the person stands (docs/eval.md, "Road adherence").
    road_in_boxes: bool = True

    def __post_init__(self) -> None:
        self.block_out_channels = tuple(int(c) for c in self.block_out_channels)
        self.attention_levels = tuple(int(i) for i in self.attention_levels)
        if self.temporal_attention_levels is not None:
            self.temporal_attention_levels = tuple(int(i) for i in self.temporal_attention_levels)

    def unet_config(self) -> VideoUNetConfig:
        """The VideoUNet architecture behind the upsampler."""
        return VideoUNetConfig(
            in_channels=self.channels, out_channels=self.channels, block_out_channels=self.block_out_channels,
            layers_per_block=self.layers_per_block, attention_levels=self.attention_levels,
            num_heads=self.num_heads, temporal_attention=self.temporal_attention, temporal_conv=self.temporal_conv,
            temporal_attention_levels=self.temporal_attention_levels,
            num_layout_channels=self.num_layout_channels, use_labels=False, use_context=False, use_rate=False,
            low_res_channels=self.channels, use_noise_level=True, space_to_depth=self.space_to_depth,
            norm_num_groups=self.norm_num_groups,
        )

    @property
    def size_multiple(self) -> int:
        """Output height and width must be divisible by this (patches too)."""
        return self.unet_config().size_multiple


class VideoUpsampler(VideoUNet):
    """forward(sample (B,T,3,H,W) noisy high-res frames, timestep, cond with low_res and noise_level).

    Same forward signature and spatial/temporal parameter-group API as VideoUNet; `config` is the
    UpsamplerConfig, `unet_config` the architecture it builds.
    """

    def __init__(self, config: UpsamplerConfig):
        super().__init__(config.unet_config())
        self.config = config

    def _layout(self, sample: torch.Tensor, cond: UNetConditions) -> torch.Tensor:
        maps = super()._layout(sample, cond)
        if self.config.road_in_boxes:
            return maps
        users = road_user_mask(maps).clamp(0.0, 1.0)
        return torch.cat([maps[:, :, :ROAD], maps[:, :, ROAD:] * (1.0 - users)], dim=2)

    def to_target(self, high: torch.Tensor, bicubic: torch.Tensor) -> torch.Tensor:
        """High-res frames -> what the diffusion models (the scaled residual over `bicubic` when
        `residual_scale` > 0). bicubic: the clean (not noise-augmented) resized low-res frames."""
        s = self.config.residual_scale
        return (high - bicubic) * s if s > 0 else high

    def from_target(self, sample: torch.Tensor, bicubic: torch.Tensor) -> torch.Tensor:
        """Inverse of `to_target`: a sampled diffusion output -> high-res frames in [-1, 1]."""
        s = self.config.residual_scale
        return (bicubic + sample / s if s > 0 else sample).clamp(-1.0, 1.0)


def resize_low_res(low_res: torch.Tensor, scale_factor: int) -> torch.Tensor:
    """(B,T,C,h,w) -> (B,T,C,h*s,w*s), bicubic, clamped to [-1, 1]."""
    b = low_res.shape[0]
    x = rearrange(low_res, "b t c h w -> (b t) c h w")
    x = F.interpolate(x, scale_factor=scale_factor, mode="bicubic", align_corners=False).clamp(-1.0, 1.0)
    return rearrange(x, "(b t) c h w -> b t c h w", b=b)


def noise_augment(low_res: torch.Tensor, level: torch.Tensor | int, alphas_cumprod: torch.Tensor,
                  generator: torch.Generator | None = None) -> torch.Tensor:
    """Diffuse the conditioning video to step `level` of the model's own VP schedule:
    sqrt(abar_l) * x + sqrt(1 - abar_l) * eps (the same q(x_l | x_0) as training noise).

    low_res (B,T,C,H,W); level int or (B,) long in [0, len(alphas_cumprod)); alphas_cumprod the
    scheduler's cumulative product (e.g. diffusers DDIMScheduler.alphas_cumprod). The same level goes
    to the model as cond.noise_level. Training draws level uniformly in [0, max_noise_level].
    """
    b = low_res.shape[0]
    level = torch.as_tensor(level).long().expand(b).to(alphas_cumprod.device)
    abar = alphas_cumprod[level].to(device=low_res.device, dtype=low_res.dtype).view(b, 1, 1, 1, 1)
    noise = torch.randn(low_res.shape, generator=generator, dtype=low_res.dtype,
                        device=generator.device if generator is not None else low_res.device).to(low_res.device)
    return abar.sqrt() * low_res + (1.0 - abar).sqrt() * noise


def default_alphas_cumprod(num_train_timesteps: int = 1000) -> torch.Tensor:
    """alphas_cumprod of the default schedule (diffusers DDPM "linear", 1e-4..0.02), for demos and tests;
    pipelines should pass their scheduler's own `alphas_cumprod`."""
    betas = torch.linspace(1e-4, 0.02, num_train_timesteps, dtype=torch.float64)
    return torch.cumprod(1.0 - betas, dim=0).float()

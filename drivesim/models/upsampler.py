"""Video upsampler (x4): pixel-space diffusion UNet conditioned on the noise-augmented low-res video.

    python -c "from drivesim.models.upsampler import VideoUpsampler, UpsamplerConfig; print(VideoUpsampler(UpsamplerConfig()))"
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class UpsamplerConfig:
    """Plain fields only (YAML round-trippable). The network is a VideoUNet with space_to_depth."""

    scale_factor: int = 4  # output size / low-res size (low_res arrives already resized to the output size)
    channels: int = 3  # RGB in [-1, 1]
    block_out_channels: tuple[int, ...] = (64, 128)
    layers_per_block: int = 1
    attention_levels: tuple[int, ...] = ()  # spatial attention makes patch and full-frame behaviour differ; off
    num_heads: int = 4
    temporal_attention: bool = True
    temporal_conv: bool = True
    space_to_depth: int = 4  # most work runs at 1/4 resolution
    max_noise_level: int = 250  # training draws the low-res augmentation level from [0, max_noise_level]
    inference_noise_level: int = 100  # level used at sampling time
    norm_num_groups: int = 32

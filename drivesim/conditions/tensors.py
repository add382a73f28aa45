"""UNetConditions: the per-frame condition tensors every diffusion model in drivesim consumes.

    python -c "from drivesim.conditions.tensors import UNetConditions; help(UNetConditions)"
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class UNetConditions:
    """Every field a tensor on the model's device; None = absent."""

    time_of_day: torch.Tensor  # (B, T) long: 0 day, 1 night, 2 = null
    crowdedness: torch.Tensor  # (B, T) float in [0, 1]; ignored where crowd_null
    crowd_null: torch.Tensor  # (B, T) bool
    ego_speed: torch.Tensor  # (B, T) m/s; ignored where speed_null
    speed_null: torch.Tensor  # (B, T) bool
    layout: torch.Tensor | None  # (B, T, K, h, w) box maps + road map; None = all frames null
    layout_null: torch.Tensor  # (B, T) bool
    context: torch.Tensor | None = None  # (B, T, C, h, w) masked latents m_S * z
    context_mask: torch.Tensor | None = None  # (B, T) 1 where the frame is given context
    rate: torch.Tensor | None = None  # (B,) long: 0 = T->4T, 1 = 4T->16T
    noise_level: torch.Tensor | None = None  # (B,) upsampler noise-augmentation level (timestep index)
    low_res: torch.Tensor | None = None  # (B, T, 3, H, W) noise-augmented low-res video at output size

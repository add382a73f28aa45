"""Layout at every resolution: box + road maps -> a scale and shift for each UNet level (SPADE-style).

The input concatenation alone gives the UNet the layout once, at latent resolution, where a
14-pixel box of a 256x512 frame is under one latent pixel; layout-to-image models (SPADE,
GLIGEN, ControlNet) inject it at every resolution instead. This encoder reads the maps at
`layout_scale` x the sample size (keyframe pixels when it is the autoencoder's factor), folds
them to the sample size by space-to-depth (no box is lost to rounding), and gives every level i
of the UNet a (gamma_i, beta_i) pair: h <- h * (1 + gamma_i) + beta_i after each spatial block of
that level. The heads start at zero, so a model grown with this encoder starts as the model
without it (a trained bundle can be fine-tuned rather than retrained).

    python -c "import torch; from drivesim.models.layout_encoder import LayoutEncoder; \
        e = LayoutEncoder(6, 4, (32, 64)); print([tuple(g.shape) for g, b in e(torch.rand(2, 6, 64, 128))])"
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from drivesim.models.temporal import zero_module

__all__ = ["LayoutEncoder"]

HIDDEN_CHANNELS = 32  # the encoder's own width: the maps hold little information per pixel


class LayoutEncoder(nn.Module):
    """maps (N, K, H*s, W*s) -> [(gamma_i, beta_i) of shape (N, C_i, H/2^i, W/2^i) for each level i]."""

    def __init__(self, layout_channels: int, scale: int, level_channels: tuple[int, ...]):
        super().__init__()
        self.scale = scale
        hidden = HIDDEN_CHANNELS
        self.stem = nn.Sequential(nn.Conv2d(layout_channels * scale * scale, hidden, 3, padding=1), nn.SiLU(),
                                  nn.Conv2d(hidden, hidden, 3, padding=1), nn.SiLU())
        # level i > 0 is level i - 1 at half the resolution
        self.down = nn.ModuleList(nn.Sequential(nn.Conv2d(hidden, hidden, 3, stride=2, padding=1), nn.SiLU())
                                  for _ in level_channels[1:])
        self.heads = nn.ModuleList(zero_module(nn.Conv2d(hidden, 2 * c, 3, padding=1)) for c in level_channels)

    def forward(self, maps: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        h = F.pixel_unshuffle(maps, self.scale) if self.scale > 1 else maps
        h = self.stem(h)
        out = []
        for i, head in enumerate(self.heads):
            if i:
                h = self.down[i - 1](h)
            gamma, beta = head(h).chunk(2, dim=1)
            out.append((gamma, beta))
        return out

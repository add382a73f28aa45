"""Patch discriminators and the perceptual loss for training the autoencoder and temporal decoder.

* `PatchDiscriminator2D` - PatchGAN over single frames (autoencoder training, docs/method.md §1).
* `PatchDiscriminator3D` - the same idea with 3D convolutions over (time, height, width), so
  it judges short stretches of video and punishes flicker (temporal decoder, docs/method.md §3).
* `hinge_d_loss` / `hinge_g_loss` - the hinge GAN objective used by LDM / Video LDM.
* `perceptual_loss` - a stand-in for LPIPS. LPIPS needs pretrained VGG/AlexNet weights,
  which cannot be downloaded here, so we use a cheap, weight-free multi-scale structural
  loss instead: at every level of an average-pooled image pyramid, L1 on pixels, L1 on
  image gradients (edges/texture) and 1 - SSIM (local mean/contrast/structure). It rewards
  the same "sharp, structurally right" reconstructions that LPIPS does, without features
  learnt on ImageNet.

    python -c "import torch; from drivesim.models.discriminator import *; print(PatchDiscriminator3D()(torch.zeros(1, 8, 3, 64, 128)).shape)"
"""

from __future__ import annotations

import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn

__all__ = [
    "PatchDiscriminator2D", "PatchDiscriminator3D", "hinge_d_loss", "hinge_g_loss",
    "perceptual_loss", "ssim",
]


def _norm(channels: int) -> nn.GroupNorm:
    # GroupNorm, not BatchNorm: batches of one clip are common and BatchNorm breaks on them.
    return nn.GroupNorm(min(32, channels // 4) or 1, channels)


class PatchDiscriminator2D(nn.Module):
    """PatchGAN: (N, C, H, W) -> logits (N, 1, H/2^L - 2, W/2^L - 2), one per overlapping patch."""

    def __init__(self, in_channels: int = 3, base_channels: int = 32, num_layers: int = 3):
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(in_channels, base_channels, 4, 2, 1), nn.LeakyReLU(0.2)]
        channels = base_channels
        for i in range(1, num_layers + 1):
            out = base_channels * min(2 ** i, 8)
            stride = 2 if i < num_layers else 1
            layers += [nn.Conv2d(channels, out, 4, stride, 1, bias=False), _norm(out), nn.LeakyReLU(0.2)]
            channels = out
        layers.append(nn.Conv2d(channels, 1, 4, 1, 1))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.layers(x)


class PatchDiscriminator3D(nn.Module):
    """Video patches: clips (B, T, C, H, W) -> logits (B, 1, T', H', W') over space-time patches.

    Kernels (3, 4, 4); time is downsampled only in the first `time_downsample` layers, so short
    clips (8 frames) still leave a few temporal patches.
    """

    def __init__(self, in_channels: int = 3, base_channels: int = 32, num_layers: int = 3,
                 time_downsample: int = 1):
        super().__init__()
        def conv(cin: int, cout: int, i: int, stride_hw: int, bias: bool = True) -> nn.Conv3d:
            st = 2 if i < time_downsample else 1
            return nn.Conv3d(cin, cout, (3, 4, 4), (st, stride_hw, stride_hw), (1, 1, 1), bias=bias)

        layers: list[nn.Module] = [conv(in_channels, base_channels, 0, 2), nn.LeakyReLU(0.2)]
        channels = base_channels
        for i in range(1, num_layers + 1):
            out = base_channels * min(2 ** i, 8)
            layers += [conv(channels, out, i, 2 if i < num_layers else 1, bias=False), _norm(out),
                       nn.LeakyReLU(0.2)]
            channels = out
        layers.append(nn.Conv3d(channels, 1, (3, 4, 4), 1, (1, 1, 1)))
        self.layers = nn.Sequential(*layers)

    def forward(self, video: Tensor) -> Tensor:
        return self.layers(rearrange(video, "b t c h w -> b c t h w"))


def hinge_d_loss(logits_real: Tensor, logits_fake: Tensor) -> Tensor:
    """Discriminator hinge loss: mean(relu(1 - D(real))) + mean(relu(1 + D(fake))), halved."""
    return 0.5 * (F.relu(1.0 - logits_real).mean() + F.relu(1.0 + logits_fake).mean())


def hinge_g_loss(logits_fake: Tensor) -> Tensor:
    """Generator side of the hinge objective: -mean(D(fake))."""
    return -logits_fake.mean()


def ssim(x: Tensor, y: Tensor, window: int = 7, data_range: float = 2.0) -> Tensor:
    """Per-image SSIM (N,) with a box window; inputs (N, C, H, W) in a range of width `data_range`."""
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    pool = lambda t: F.avg_pool2d(t, window, 1, window // 2, count_include_pad=False)  # noqa: E731
    mu_x, mu_y = pool(x), pool(y)
    var_x = pool(x * x) - mu_x ** 2
    var_y = pool(y * y) - mu_y ** 2
    cov = pool(x * y) - mu_x * mu_y
    s = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x ** 2 + mu_y ** 2 + c1) * (var_x + var_y + c2))
    return s.flatten(1).mean(1)


def _gradients(x: Tensor) -> tuple[Tensor, Tensor]:
    return x[..., :, 1:] - x[..., :, :-1], x[..., 1:, :] - x[..., :-1, :]


def perceptual_loss(reconstruction: Tensor, target: Tensor, num_scales: int = 3) -> Tensor:
    """Weight-free LPIPS substitute (see module docstring): per-image loss (N,) for (N, 3, H, W) in [-1, 1]."""
    x, y = reconstruction, target
    total = x.new_zeros(x.shape[0])
    for scale in range(num_scales):
        if scale:
            x, y = F.avg_pool2d(x, 2), F.avg_pool2d(y, 2)
        (gx_x, gy_x), (gx_y, gy_y) = _gradients(x), _gradients(y)
        grad = (gx_x - gx_y).abs().flatten(1).mean(1) + (gy_x - gy_y).abs().flatten(1).mean(1)
        pixel = (x - y).abs().flatten(1).mean(1)
        window = min(7, x.shape[-1], x.shape[-2])
        window -= 1 - window % 2  # odd, no larger than the image
        total = total + pixel + grad + (1.0 - ssim(x, y, window=window))
    return total / num_scales

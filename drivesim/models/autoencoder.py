"""KL-regularised image autoencoder (encoder E, decoder D) whose latent space the LDM runs in.

A thin wrapper around diffusers' `AutoencoderKL`: our config picks the downsampling factor
(4 or 8) and block channels; `encode` returns latents already multiplied by `scaling_factor`
(what the diffusion model sees) and `decode` undoes it.

    python -c "import torch; from drivesim.models.autoencoder import *; ae = Autoencoder(AutoencoderConfig()); print(ae.encode(torch.zeros(1, 3, 64, 128)).shape)"
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from diffusers import AutoencoderKL
from diffusers.models.autoencoders.vae import DiagonalGaussianDistribution
from torch import Tensor, nn

from drivesim.errors import DrivesimError

__all__ = ["AutoencoderConfig", "Autoencoder", "DiagonalGaussianDistribution"]


@dataclass
class AutoencoderConfig:
    """Plain fields only: YAML round-trips via dataclasses.asdict / AutoencoderConfig(**d)."""

    downsample_factor: int = 4  # 4 or 8: frames of H x W become latents of H/f x W/f
    latent_channels: int = 4
    block_channels: tuple[int, ...] = (32, 64, 64)  # one per level: log2(factor) + 1 entries, multiples of 32
    layers_per_block: int = 1  # resnets per encoder level (the decoder uses one more, as in diffusers)
    mid_attention: bool = True  # self-attention in the encoder/decoder mid block (lowest resolution)
    scaling_factor: float = 1.0  # latents are multiplied by this; set to 1/std(latents) after training
    norm_num_groups: int = 32  # diffusers' temporal blocks hard-code 32 groups, so channels are multiples of 32
    temporal_alpha_init: float = 0.5  # temporal decoder: initial alpha of every alpha merge (1 = image decoder)

    def __post_init__(self) -> None:
        self.block_channels = tuple(int(c) for c in self.block_channels)  # YAML gives lists
        if self.downsample_factor not in (4, 8):
            raise DrivesimError(f"autoencoder.downsample_factor must be 4 or 8, got {self.downsample_factor}")
        levels = self.num_levels
        if len(self.block_channels) != levels:
            raise DrivesimError(
                f"autoencoder.block_channels needs {levels} entries for downsample_factor "
                f"{self.downsample_factor} (log2(factor) + 1), got {list(self.block_channels)}")
        if any(c <= 0 or c % self.norm_num_groups for c in self.block_channels):
            raise DrivesimError(f"autoencoder.block_channels must be positive multiples of "
                                f"{self.norm_num_groups}, got {list(self.block_channels)}")
        if not 0.0 < self.temporal_alpha_init < 1.0:
            raise DrivesimError("autoencoder.temporal_alpha_init must lie strictly between 0 and 1 "
                                f"(it is stored as a logit), got {self.temporal_alpha_init}")

    @property
    def num_levels(self) -> int:
        """Resolution levels: one more than the number of 2x downsamplings."""
        return int(math.log2(self.downsample_factor)) + 1

    def latent_size(self, frame_size: tuple[int, int]) -> tuple[int, int]:
        """(h, w) of the latents for frames of (H, W); both must divide by the factor."""
        height, width = frame_size
        f = self.downsample_factor
        if height % f or width % f:
            raise DrivesimError(f"frame size {height}x{width} is not divisible by the autoencoder factor {f}")
        return height // f, width // f

    def diffusers_kwargs(self) -> dict:
        """Constructor arguments of the matching diffusers `AutoencoderKL` (and its Decoder)."""
        return dict(
            in_channels=3,
            out_channels=3,
            down_block_types=("DownEncoderBlock2D",) * self.num_levels,
            up_block_types=("UpDecoderBlock2D",) * self.num_levels,
            block_out_channels=self.block_channels,
            layers_per_block=self.layers_per_block,
            latent_channels=self.latent_channels,
            norm_num_groups=self.norm_num_groups,
            scaling_factor=self.scaling_factor,
            mid_block_add_attention=self.mid_attention,
        )


INITIAL_LOGVAR = -6.0  # posterior log-variance at initialisation (std 0.05)


class Autoencoder(nn.Module):
    """Image autoencoder: frames in [-1, 1] <-> scaled latents. All of its parameters are spatial."""

    def __init__(self, config: AutoencoderConfig):
        super().__init__()
        self.config = config
        self.vae = AutoencoderKL(**config.diffusers_kwargs())
        # Start the posterior std small: at the default init (std ~1) the sampling noise drowns
        # every latent channel but the strongest, and with the LDM's tiny KL weight the encoder
        # takes thousands of steps to shrink it -- the first tiny autoencoder lost colour that way.
        with torch.no_grad():
            self.vae.quant_conv.bias[config.latent_channels:].fill_(INITIAL_LOGVAR)

    @property
    def scaling_factor(self) -> float:
        return self.config.scaling_factor

    def encode_dist(self, x: Tensor) -> DiagonalGaussianDistribution:
        """Posterior q(z|x) over UNscaled latents, for the KL term of autoencoder training."""
        return self.vae.encode(x).latent_dist

    def encode(self, x: Tensor, sample: bool = False, generator: torch.Generator | None = None) -> Tensor:
        """(N, 3, H, W) in [-1, 1] -> scaled latents (N, C, H/f, W/f); the posterior mean unless `sample`."""
        dist = self.encode_dist(x)
        z = dist.sample(generator=generator) if sample else dist.mode()
        return z * self.scaling_factor

    def decode(self, z: Tensor) -> Tensor:
        """Scaled latents (N, C, h, w) -> frames (N, 3, h*f, w*f), roughly in [-1, 1]."""
        return self.vae.decode(z / self.scaling_factor).sample

    def forward(self, x: Tensor, sample: bool = True,
                generator: torch.Generator | None = None) -> tuple[Tensor, DiagonalGaussianDistribution]:
        """Training pass: (reconstruction, posterior). Samples z from the posterior by default."""
        dist = self.encode_dist(x)
        z = dist.sample(generator=generator) if sample else dist.mode()
        return self.vae.decode(z).sample, dist

    # The image decoder, as the temporal decoder copies it (post-quant conv + diffusers Decoder).
    @property
    def image_decoder(self) -> nn.Module:
        return self.vae.decoder

    @property
    def post_quant_conv(self) -> nn.Module:
        return self.vae.post_quant_conv

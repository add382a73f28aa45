"""Temporal decoder (docs/method.md §3): the image decoder D plus temporal layers, to stop flicker.

After the decoder's mid block and after each of its up blocks sits one temporal layer: a
residual block of 3D convolutions with kernel (3,1,1) over the frame axis (diffusers
`TemporalResnetBlock`), merged with the spatial output by a learned alpha (diffusers
`AlphaBlender`, `learned_with_images`). Spatial parameters are exactly the image decoder's
(copied by `load_image_decoder`); temporal parameters are the added layers. The encoder is
not part of this module: it stays frozen in the `Autoencoder`, so the latent space does not move.

    python -c "import torch; from drivesim.models.autoencoder import *; from drivesim.models.temporal_decoder import *; d = TemporalDecoder(AutoencoderConfig()); print(d(torch.zeros(1, 8, 4, 16, 32)).shape)"
"""

from __future__ import annotations

import math

import torch
from diffusers.models.autoencoders.vae import Decoder
from diffusers.models.resnet import AlphaBlender
from einops import rearrange
from torch import Tensor, nn

from drivesim.models.autoencoder import Autoencoder, AutoencoderConfig
from drivesim.models.temporal import SpatioTemporalModule, temporal_resnet_block

__all__ = ["TemporalDecoder", "TemporalMixBlock"]

TEMPORAL_PREFIX = "temporal_layers."


class TemporalMixBlock(nn.Module):
    """z -> alpha * z + (1 - alpha) * ResBlock3D(z) on "b c t h w"; alpha = sigmoid(learned logit)."""

    def __init__(self, channels: int, alpha_init: float):
        super().__init__()
        self.res_block = temporal_resnet_block(channels, None)
        # Zero-init the last conv: a fresh block is the identity, so a fresh temporal decoder
        # decodes exactly like the image decoder and fine-tuning starts from it.
        nn.init.zeros_(self.res_block.conv2.weight)
        nn.init.zeros_(self.res_block.conv2.bias)
        self.mixer = AlphaBlender(alpha=math.log(alpha_init / (1 - alpha_init)),
                                  merge_strategy="learned_with_images")

    def forward(self, x: Tensor, num_frames: int, image_only_indicator: Tensor) -> Tensor:
        # contiguous(): torch 2.13's CPU GroupNorm backward segfaults on channels-last input (the
        # attention output) when only its weights need grads, i.e. with the spatial layers frozen.
        video = rearrange(x, "(b t) c h w -> b c t h w", t=num_frames).contiguous()
        mixed = self.mixer(x_spatial=video, x_temporal=self.res_block(video, None),
                           image_only_indicator=image_only_indicator)
        return rearrange(mixed, "b c t h w -> (b t) c h w")

    @property
    def alpha(self) -> Tensor:
        return torch.sigmoid(self.mixer.mix_factor)


class TemporalDecoder(SpatioTemporalModule):
    """Scaled latents (B, T, C, h, w) -> frames (B, T, 3, H, W), with temporal layers between frames."""

    temporal_prefix = TEMPORAL_PREFIX

    def __init__(self, config: AutoencoderConfig):
        super().__init__()
        self.config = config
        kw = config.diffusers_kwargs()
        # Spatial: built exactly like AutoencoderKL's decode path so the image weights load 1:1.
        self.post_quant_conv = nn.Conv2d(config.latent_channels, config.latent_channels, 1)
        self.decoder = Decoder(
            in_channels=config.latent_channels, out_channels=3, up_block_types=kw["up_block_types"],
            block_out_channels=kw["block_out_channels"], layers_per_block=config.layers_per_block,
            norm_num_groups=config.norm_num_groups, mid_block_add_attention=config.mid_attention)
        # Temporal: one layer after the mid block, one after each up block.
        channels_after = [config.block_channels[-1], *reversed(config.block_channels)]
        self.temporal_layers = nn.ModuleList(
            TemporalMixBlock(c, config.temporal_alpha_init) for c in channels_after)

    def load_image_decoder(self, autoencoder: Autoencoder) -> None:
        """Copy the image decoder's weights into the spatial layers (temporal layers untouched)."""
        self.post_quant_conv.load_state_dict(autoencoder.post_quant_conv.state_dict())
        self.decoder.load_state_dict(autoencoder.image_decoder.state_dict())

    def forward(self, z: Tensor, image_only: bool = False) -> Tensor:
        """Decode one clip (or a window of one) at once: every frame of a clip is decoded together."""
        batch, num_frames = z.shape[:2]
        x = rearrange(z, "b t c h w -> (b t) c h w") / self.config.scaling_factor
        indicator = torch.full((batch, num_frames), float(image_only), device=z.device, dtype=z.dtype)
        x = self.decoder.conv_in(self.post_quant_conv(x))
        x = self.decoder.mid_block(x, None)
        x = self._temporal(0, x, num_frames, indicator, image_only)
        for i, up_block in enumerate(self.decoder.up_blocks):
            x = up_block(x, None)
            x = self._temporal(i + 1, x, num_frames, indicator, image_only)
        x = self.decoder.conv_out(self.decoder.conv_act(self.decoder.conv_norm_out(x)))
        return rearrange(x, "(b t) c h w -> b t c h w", t=num_frames)

    def _temporal(self, index: int, x: Tensor, num_frames: int, indicator: Tensor, image_only: bool) -> Tensor:
        if image_only:  # alpha = 1: skip the layer, so the result is bit-identical to the image decoder
            return x
        return self.temporal_layers[index](x, num_frames, indicator)


"""Temporal layers (phi) of the Video LDM and the context pyramid that feeds them.

Spatial layers see frames as a batch "(b t) c h w"; the layers here look across the frame
axis ("b c t h w" for the 3D convs, "(b h w) t c" for attention) and merge their output z'
with the spatial output z as alpha*z + (1-alpha)*z' (diffusers' AlphaBlender,
"learned_with_images": alpha = sigmoid(parameter), forced to 1 for image frames).
Every branch ends in a zero-initialised projection, so a fresh temporal layer returns its
input and does not disturb the image model it is inserted into.

    python -c "import torch; from drivesim.models.temporal import TemporalLayers; \
        m = TemporalLayers(32, 128, 4); print(m(torch.randn(8, 32, 4, 4), torch.randn(8, 128), 4).shape)"
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from diffusers.models.attention import TemporalBasicTransformerBlock
from diffusers.models.embeddings import TimestepEmbedding, Timesteps
from diffusers.models.resnet import AlphaBlender, TemporalResnetBlock
from einops import rearrange
from torch import nn

MERGE_FACTOR_INIT = 0.5  # initial mix parameter; alpha = sigmoid(0.5) ~ 0.62, as diffusers / sgm


def zero_module(module: nn.Module) -> nn.Module:
    """Zero a layer's weights so its branch starts as a no-op (ControlNet / sgm habit)."""
    for p in module.parameters():
        nn.init.zeros_(p)
    return module


class FrameConv(nn.Conv3d):
    """A Conv3d whose kernel spans frames only, (k, 1, 1), computed as a Conv2d over (frames, pixels):
    the same parameters and result, but oneDNN's fast 2-D path (torch's fp32 CPU Conv3d falls back to
    a slow kernel: ~7x slower at the upsampler's first level). Built only as temporal_resnet_block
    builds it: kernel (k, 1, 1), stride 1, padding (p, 0, 0)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, t, h, w = x.shape
        out = nn.functional.conv2d(x.reshape(b, x.shape[1], t, h * w), self.weight[..., 0], self.bias,
                                   padding=(self.padding[0], 0))
        return out.reshape(b, -1, out.shape[2], h, w)


def temporal_resnet_block(channels: int, temb_channels: int | None) -> TemporalResnetBlock:
    """diffusers' TemporalResnetBlock (same state-dict names) with its frame convolutions as FrameConv."""
    block = TemporalResnetBlock(channels, channels, temb_channels=temb_channels)
    for name in ("conv1", "conv2"):
        conv: nn.Conv3d = getattr(block, name)
        fast = FrameConv(conv.in_channels, conv.out_channels, conv.kernel_size, padding=conv.padding)
        fast.load_state_dict(conv.state_dict())
        setattr(block, name, fast)
    return block


class FrameAttentionBlock(TemporalBasicTransformerBlock):
    """diffusers' TemporalBasicTransformerBlock (same parameters and state-dict names, no cross-attention)
    with a forward for short frame axes. Its per-token layers (norms, GEGLU feed-forwards, projections)
    run on the "(b t) n c" tokens as they come; only the attention groups the frames of each pixel, as two
    small batched matrix products with the softmax in fp32. diffusers' version permutes every token twice
    and calls SDPA, whose blocked kernels are built for long sequences: on a CPU with 8 frames this is
    ~1.25x faster for the whole upsampler, equal to ~1e-6 in fp32 (tested with gradients)."""

    def forward(self, hidden_states: torch.Tensor, num_frames: int,
                encoder_hidden_states: torch.Tensor | None = None) -> torch.Tensor:
        h = _geglu_feed_forward(self.ff_in, self.norm_in(hidden_states))
        if self.is_res:
            h = h + hidden_states
        h = h + _frame_attention(self.attn1, self.norm1(h), num_frames)
        out = _geglu_feed_forward(self.ff, self.norm3(h))
        return out + h if self.is_res else out


def _geglu_feed_forward(ff: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """diffusers' FeedForward with GEGLU, its projection computed as two halves: contiguous value and gate
    tensors (`chunk` leaves strided views, on which gelu and mul run ~3x slower on a CPU)."""
    geglu = ff.net[0]
    half = geglu.proj.out_features // 2
    value = nn.functional.linear(x, geglu.proj.weight[:half], geglu.proj.bias[:half])
    gate = nn.functional.linear(x, geglu.proj.weight[half:], geglu.proj.bias[half:])
    h = value * geglu.gelu(gate)
    for module in ff.net[1:]:  # dropout, output projection
        h = module(h)
    return h


def _frame_attention(attn: nn.Module, x: torch.Tensor, num_frames: int) -> torch.Tensor:
    """Self-attention of diffusers' Attention `attn` over the frames of each token position: x (b t) n c."""
    bt, n, c = x.shape
    heads = attn.heads
    qkv = nn.functional.linear(x, torch.cat([attn.to_q.weight, attn.to_k.weight, attn.to_v.weight]))
    q, k, v = rearrange(qkv, "(b t) n (three h d) -> three b n h t d", t=num_frames, three=3, h=heads).unbind(0)
    weights = (torch.matmul(q, k.transpose(-1, -2)).float() * attn.scale).softmax(-1).to(v.dtype)
    out = rearrange(torch.matmul(weights, v), "b n h t d -> (b t) n (h d)")
    return attn.to_out[1](attn.to_out[0](out))  # projection, dropout


def _blend(mixer: AlphaBlender, z: torch.Tensor, z_temporal: torch.Tensor, num_frames: int) -> torch.Tensor:
    """alpha*z + (1-alpha)*z' on "(b t) c h w" tensors (video frames only: alpha is the learned one)."""
    z5 = rearrange(z, "(b t) c h w -> b c t h w", t=num_frames)
    zt5 = rearrange(z_temporal, "(b t) c h w -> b c t h w", t=num_frames)
    video_frames = torch.zeros(z5.shape[0], num_frames, device=z.device)  # image_only_indicator = 0
    return rearrange(mixer(z5, zt5, image_only_indicator=video_frames), "b c t h w -> (b t) c h w")


class SpatioTemporalModule(nn.Module):
    """The spatial (theta) / temporal (phi) parameter split shared by every video model: phi is
    every parameter whose state-dict name starts with `temporal_prefix`."""

    temporal_prefix: str = "temporal."

    def is_temporal_parameter(self, name: str) -> bool:
        return name.startswith(self.temporal_prefix)

    def spatial_parameters(self) -> Iterator[tuple[str, nn.Parameter]]:
        return ((n, p) for n, p in self.named_parameters() if not self.is_temporal_parameter(n))

    def temporal_parameters(self) -> Iterator[tuple[str, nn.Parameter]]:
        return ((n, p) for n, p in self.named_parameters() if self.is_temporal_parameter(n))


class TemporalConvLayer(nn.Module):
    """Residual block of 3D convolutions with kernel (3,1,1) (diffusers TemporalResnetBlock), alpha-merged."""

    def __init__(self, channels: int, temb_channels: int):
        super().__init__()
        self.block = temporal_resnet_block(channels, temb_channels)
        zero_module(self.block.conv2)
        self.mixer = AlphaBlender(MERGE_FACTOR_INIT, merge_strategy="learned_with_images")

    def forward(self, z: torch.Tensor, temb: torch.Tensor, num_frames: int,
                extra: torch.Tensor | None = None) -> torch.Tensor:
        """z (b t) c h w spatial output; temb (b t) d; extra (b t) c h w added to the temporal input only."""
        x = z if extra is None else z + extra
        x = rearrange(x, "(b t) c h w -> b c t h w", t=num_frames)
        x = self.block(x, rearrange(temb, "(b t) d -> b t d", t=num_frames))
        return _blend(self.mixer, z, rearrange(x, "b c t h w -> (b t) c h w"), num_frames)


class TemporalAttentionLayer(nn.Module):
    """Self-attention over the frame axis at every pixel, with a sinusoidal frame-position encoding.

    Mirrors the temporal half of diffusers' TransformerSpatioTemporalModel (norm, proj_in,
    frame-position embedding, TemporalBasicTransformerBlock, proj_out) without cross-attention.
    """

    def __init__(self, channels: int, temb_channels: int, num_heads: int, norm_num_groups: int = 32):
        super().__init__()
        self.norm = nn.GroupNorm(norm_num_groups, channels, eps=1e-6)
        self.proj_in = nn.Linear(channels, channels)
        self.frame_proj = Timesteps(channels, flip_sin_to_cos=True, downscale_freq_shift=0)
        self.frame_pos_embed = TimestepEmbedding(channels, channels)  # sinusoid of the frame index -> MLP
        self.temb_proj = nn.Linear(temb_channels, channels)  # diffusion step / labels / rate flag
        self.block = FrameAttentionBlock(channels, channels, num_heads, channels // num_heads)
        self.proj_out = zero_module(nn.Linear(channels, channels))
        self.mixer = AlphaBlender(MERGE_FACTOR_INIT, merge_strategy="learned_with_images")

    def forward(self, z: torch.Tensor, temb: torch.Tensor, num_frames: int,
                extra: torch.Tensor | None = None) -> torch.Tensor:
        x = z if extra is None else z + extra
        h, w = x.shape[-2:]
        frame_index = torch.arange(num_frames, device=x.device).repeat(x.shape[0] // num_frames)
        pos = self.frame_pos_embed(self.frame_proj(frame_index).to(x.dtype))  # (b t) c
        pos = pos + self.temb_proj(nn.functional.silu(temb))
        hidden = self.proj_in(rearrange(self.norm(x), "bt c h w -> bt (h w) c")) + pos[:, None, :]
        hidden = self.block(hidden, num_frames=num_frames)  # attends over t for each (b, pixel)
        out = x + rearrange(self.proj_out(hidden), "bt (h w) c -> bt c h w", h=h, w=w)
        return _blend(self.mixer, z, out, num_frames)


class TemporalLayers(nn.Module):
    """phi after one spatial block: a 3D-conv residual layer and/or temporal attention, each alpha-merged."""

    def __init__(self, channels: int, temb_channels: int, num_heads: int, conv: bool = True,
                 attention: bool = True, norm_num_groups: int = 32):
        super().__init__()
        self.conv = TemporalConvLayer(channels, temb_channels) if conv else None
        self.attention = (TemporalAttentionLayer(channels, temb_channels, num_heads, norm_num_groups)
                          if attention else None)

    def forward(self, z: torch.Tensor, temb: torch.Tensor, num_frames: int,
                context: torch.Tensor | None = None) -> torch.Tensor:
        """z (b t) c h w; temb (b t) d (the temporal path's embedding); context (b t) c h w or None."""
        if self.conv is not None:
            z = self.conv(z, temb, num_frames, context)
        if self.attention is not None:
            z = self.attention(z, temb, num_frames, context)
        return z


class ContextPyramid(nn.Module):
    """Learned downsampling of c_S = (m_S * z, m_S) to features at every UNet resolution.

    A conv stem at the input resolution, then one stride-2 conv per level; each level's
    output goes through a zero-initialised 1x1 conv, so an untrained pyramid adds nothing.
    """

    def __init__(self, in_channels: int, channels: tuple[int, ...]):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(in_channels, channels[0], 3, padding=1), nn.SiLU(),
                                  nn.Conv2d(channels[0], channels[0], 3, padding=1), nn.SiLU())
        self.downs = nn.ModuleList(
            nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride=2, padding=1), nn.SiLU())
            for c_in, c_out in zip(channels[:-1], channels[1:])
        )
        self.outs = nn.ModuleList(zero_module(nn.Conv2d(c, c, 1)) for c in channels)

    def forward(self, c: torch.Tensor) -> list[torch.Tensor]:
        """c (b t) c h w -> one (b t) c_l h_l w_l feature map per level."""
        h = self.stem(c)
        feats = [self.outs[0](h)]
        for down, out in zip(self.downs, self.outs[1:]):
            h = down(h)
            feats.append(out(h))
        return feats

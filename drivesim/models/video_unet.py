"""Video UNet: image-LDM spatial layers (theta) + temporal layers (phi) with an alpha merge.

Spatial layers (diffusers ResnetBlock2D, Attention, Downsample2D/Upsample2D) see the frames
as a batch "(b t) c h w" and are the image model; every temporal layer lives under the
`temporal.` prefix of the state dict, runs after a spatial block and is skipped in
`image_only` mode, which therefore gives back the image model exactly (docs/method.md §2).

Conditioning (docs/method.md §7), spatial group: per-frame time of day / crowdedness / ego speed
embeddings added to the timestep embedding, layout maps concatenated to the input (learned
null map for null frames; maps finer than the sample are max-pooled) and, with `layout_levels`,
a scale and shift of every level from those maps (models/layout_encoder.py), and for the upsampler the low-res video (concatenated) and the
noise-augmentation level (embedding). Temporal group: context c_S = (m_S*z, m_S) through a
learned downsampling pyramid into the temporal layers, and the interpolation-rate flag.

    python -c "import torch; from drivesim.models.video_unet import *; from drivesim.conditions.encode import *; \
        m = VideoUNet(VideoUNetConfig()); c = empty_conditions(1, 4); \
        print(m(torch.randn(1, 4, 4, 16, 32), torch.tensor([500]), c).shape)"
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from diffusers.models.attention_processor import Attention
from diffusers.models.downsampling import Downsample2D
from diffusers.models.embeddings import TimestepEmbedding, Timesteps
from diffusers.models.resnet import ResnetBlock2D
from diffusers.models.upsampling import Upsample2D
from einops import rearrange, repeat
from torch import nn

from drivesim.conditions.tensors import UNetConditions
from drivesim.errors import DrivesimError
from drivesim.models.layout_encoder import LayoutEncoder
from drivesim.models.temporal import ContextPyramid, SpatioTemporalModule, TemporalLayers, zero_module

TEMPORAL_PREFIX = "temporal."  # every phi parameter's state-dict name starts with this
CROWD_SCALE = 1000.0  # crowdedness 0..1 -> "timestep" 0..1000 for the sinusoidal embedding
SPEED_SCALE = 20.0  # ego speed m/s -> 0..1000 at 50 m/s


@dataclass
class VideoUNetConfig:
    """Plain fields only: YAML round-trips via dataclasses.asdict / VideoUNetConfig(**d)."""

    in_channels: int = 4  # latent channels of the noisy sample (pixel channels for the upsampler)
    out_channels: int = 4
    block_out_channels: tuple[int, ...] = (32, 64)  # one entry per resolution level; multiples of 32
    layers_per_block: int = 1  # resnet blocks per level on the way down (one more on the way up)
    attention_levels: tuple[int, ...] = (1,)  # level indices with spatial self-attention (mid block: iff last level)
    num_heads: int = 4  # heads of spatial and temporal attention
    temporal_attention: bool = True  # temporal self-attention over frames (phi)
    # the levels that have it (the mid block is the last level's); None: every level. A student without it at
    # level 0 runs ~40 % faster (docs/performance.md)
    temporal_attention_levels: tuple[int, ...] | None = None
    temporal_conv: bool = True  # residual 3D-conv block, kernel (3,1,1) (phi); ablation: attention-only
    num_layout_channels: int = 6  # box maps + road map concatenated to the input; 0 = no layout input
    layout_scale: int = 1  # layout maps come at this multiple of the sample's size (max-pooled for the input)
    layout_levels: bool = False  # the layout also modulates every level (models/layout_encoder.py)
    use_labels: bool = True  # time-of-day / crowdedness / ego-speed embeddings added to the timestep embedding
    use_context: bool = False  # prediction / interpolation: c_S = (m_S * z, m_S) into the temporal layers
    context_channels: int = 0  # channels of cond.context; 0 = same as in_channels
    use_rate: bool = False  # interpolation: rate flag (0 = T->4T, 1 = 4T->16T) embedding for the temporal path
    low_res_channels: int = 0  # upsampler: channels of cond.low_res concatenated to the input
    use_noise_level: bool = False  # upsampler: noise-augmentation level embedding (spatial group)
    space_to_depth: int = 1  # pixel_unshuffle stem / pixel_shuffle head factor (upsampler: 4)
    norm_num_groups: int = 32  # diffusers' temporal blocks hard-code 32 groups
    max_frames: int = 64  # longest clip accepted (the frame-position encoding is trained up to here)

    def __post_init__(self) -> None:
        # YAML gives lists back; keep tuples so configs compare equal after a round trip.
        self.block_out_channels = tuple(int(c) for c in self.block_out_channels)
        self.attention_levels = tuple(int(i) for i in self.attention_levels)
        if self.temporal_attention_levels is not None:
            self.temporal_attention_levels = tuple(int(i) for i in self.temporal_attention_levels)

    def has_temporal_attention(self, level: int) -> bool:
        """Whether the temporal layers of resolution level `level` attend over frames."""
        return self.temporal_attention and (self.temporal_attention_levels is None
                                            or level in self.temporal_attention_levels)

    @property
    def size_multiple(self) -> int:
        """H and W of the sample must be divisible by this."""
        return self.space_to_depth * 2 ** (len(self.block_out_channels) - 1)

    @property
    def has_temporal_layers(self) -> bool:
        return self.temporal_attention or self.temporal_conv


def _check_config(cfg: VideoUNetConfig) -> None:
    where = "VideoUNetConfig"
    if not cfg.block_out_channels:
        raise DrivesimError(f"{where}.block_out_channels is empty; give one channel count per level, e.g. (32, 64)")
    for c in cfg.block_out_channels:
        if c % cfg.norm_num_groups or c % cfg.num_heads:
            raise DrivesimError(f"{where}.block_out_channels={cfg.block_out_channels}: every entry must be a multiple "
                                f"of norm_num_groups={cfg.norm_num_groups} and num_heads={cfg.num_heads}")
    bad = [i for i in cfg.attention_levels if not 0 <= i < len(cfg.block_out_channels)]
    if bad:
        raise DrivesimError(f"{where}.attention_levels={cfg.attention_levels}: levels {bad} do not exist; "
                            f"use indices 0..{len(cfg.block_out_channels) - 1}")
    bad = [i for i in cfg.temporal_attention_levels or () if not 0 <= i < len(cfg.block_out_channels)]
    if bad:
        raise DrivesimError(f"{where}.temporal_attention_levels={cfg.temporal_attention_levels}: levels {bad} do not "
                            f"exist; use indices 0..{len(cfg.block_out_channels) - 1}")
    if cfg.layers_per_block < 1 or cfg.space_to_depth < 1 or cfg.layout_scale < 1:
        raise DrivesimError(f"{where}: layers_per_block, space_to_depth and layout_scale must be >= 1")
    if cfg.layout_levels and not cfg.num_layout_channels:
        raise DrivesimError(f"{where}: layout_levels needs layout maps; set num_layout_channels > 0")


def _spatial_attention(channels: int, cfg: VideoUNetConfig) -> Attention:
    """Residual spatial self-attention over h*w (diffusers' UNet mid-block attention)."""
    return Attention(channels, heads=cfg.num_heads, dim_head=channels // cfg.num_heads, norm_num_groups=cfg.norm_num_groups,
                     eps=1e-6, residual_connection=True, bias=True, upcast_softmax=True,
                     _from_deprecated_attn_block=True)


class LabelEmbedding(nn.Module):
    """Time of day (table with a null row), crowdedness and ego speed (sinusoid -> MLP, learned null)."""

    NULL_TIME_OF_DAY = 2

    def __init__(self, freq_channels: int, embed_dim: int):
        super().__init__()
        self.time_of_day = nn.Embedding(3, embed_dim)  # 0 day, 1 night, 2 null
        self.scalar_proj = Timesteps(freq_channels, flip_sin_to_cos=True, downscale_freq_shift=0)
        self.crowdedness = TimestepEmbedding(freq_channels, embed_dim)
        self.ego_speed = TimestepEmbedding(freq_channels, embed_dim)
        self.crowd_null = nn.Parameter(torch.randn(embed_dim) * 0.02)
        self.speed_null = nn.Parameter(torch.randn(embed_dim) * 0.02)

    def forward(self, cond: UNetConditions, dtype: torch.dtype) -> torch.Tensor:
        """-> (b t) d, the sum of the three label embeddings."""
        def flat(x: torch.Tensor) -> torch.Tensor:
            return rearrange(x, "b t -> (b t)")

        tod = self.time_of_day(flat(cond.time_of_day).long())
        crowd = self.crowdedness(self.scalar_proj(flat(cond.crowdedness).float() * CROWD_SCALE).to(dtype))
        crowd = torch.where(flat(cond.crowd_null).bool()[:, None], self.crowd_null.to(dtype), crowd)
        speed = self.ego_speed(self.scalar_proj(flat(cond.ego_speed).float() * SPEED_SCALE).to(dtype))
        speed = torch.where(flat(cond.speed_null).bool()[:, None], self.speed_null.to(dtype), speed)
        return tod + crowd + speed


class SpatialLevel(nn.Module):
    """The spatial (theta) layers of one resolution level: resnets, optional attention, resampler."""

    def __init__(self, in_channels: list[int], out_channels: int, temb_dim: int, attention: bool,
                 resample: nn.Module | None, cfg: VideoUNetConfig):
        super().__init__()
        self.resnets = nn.ModuleList(
            ResnetBlock2D(in_channels=c, out_channels=out_channels, temb_channels=temb_dim, groups=cfg.norm_num_groups)
            for c in in_channels
        )
        self.attentions = (nn.ModuleList(_spatial_attention(out_channels, cfg) for _ in in_channels)
                           if attention else None)
        self.resample = resample


@dataclass
class ClipInputs:
    """What the conditions of one clip give a VideoUNet at every sampler step (`VideoUNet._clip_inputs`)."""

    cond: UNetConditions  # held (not just its id): the same object, not a new one at a reused address
    key: tuple
    conv_in: torch.Tensor | None
    modulation: list[tuple[torch.Tensor, torch.Tensor]] | None
    context: list[torch.Tensor] | None


class VideoUNet(SpatioTemporalModule):
    """Latent video diffusion UNet; forward(sample (B,T,C,H,W), timestep (B,)|(B,T), cond) -> (B,T,C_out,H,W)."""

    temporal_prefix = TEMPORAL_PREFIX

    def __init__(self, config: VideoUNetConfig):
        super().__init__()
        _check_config(config)
        self.config = config
        self.unet_config = config  # the architecture (subclasses keep their own public `config`)
        cfg, ch, s = config, config.block_out_channels, config.space_to_depth
        temb_dim = 4 * ch[0]
        n_levels = len(ch)

        def temporal(level: int) -> TemporalLayers:
            return TemporalLayers(ch[level], temb_dim, cfg.num_heads, conv=cfg.temporal_conv,
                                  attention=cfg.has_temporal_attention(level), norm_num_groups=cfg.norm_num_groups)

        # --- spatial group (theta): the image model ---
        self.time_proj = Timesteps(ch[0], flip_sin_to_cos=True, downscale_freq_shift=0)
        self.time_embedding = TimestepEmbedding(ch[0], temb_dim)
        self.label_embedding = LabelEmbedding(ch[0], temb_dim) if cfg.use_labels else None
        self.noise_level_embedding = TimestepEmbedding(ch[0], temb_dim) if cfg.use_noise_level else None
        self.layout_null = (nn.Parameter(torch.full((cfg.num_layout_channels, 1, 1), -1.0))
                            if cfg.num_layout_channels else None)  # -1: unlike any rendered map (values 0..1)
        self.layout_encoder = (LayoutEncoder(cfg.num_layout_channels, cfg.layout_scale, ch)
                               if cfg.layout_levels else None)
        in_total = cfg.in_channels + cfg.num_layout_channels + cfg.low_res_channels
        self.conv_in = nn.Conv2d(in_total * s * s, ch[0], 3, padding=1)

        self.down_levels = nn.ModuleList()
        skip_channels = [ch[0]]
        c_prev = ch[0]
        for i, c in enumerate(ch):
            last = i == n_levels - 1
            ins = [c_prev] + [c] * (cfg.layers_per_block - 1)
            down = None if last else Downsample2D(c, use_conv=True, padding=1)
            self.down_levels.append(SpatialLevel(ins, c, temb_dim, i in cfg.attention_levels, down, cfg))
            skip_channels += [c] * cfg.layers_per_block + ([] if last else [c])
            c_prev = c

        mid_attention = (n_levels - 1) in cfg.attention_levels
        self.mid_level = SpatialLevel([ch[-1], ch[-1]], ch[-1], temb_dim, mid_attention, None, cfg)

        self.up_levels = nn.ModuleList()
        for i in reversed(range(n_levels)):
            c = ch[i]
            ins = []
            for _ in range(cfg.layers_per_block + 1):
                ins.append(c_prev + skip_channels.pop())
                c_prev = c
            up = Upsample2D(c, use_conv=True) if i > 0 else None
            self.up_levels.append(SpatialLevel(ins, c, temb_dim, i in cfg.attention_levels, up, cfg))

        self._held_clip_inputs: ClipInputs | None = None  # the last clip's, without autograd (_clip_inputs)
        self.norm_out = nn.GroupNorm(cfg.norm_num_groups, ch[0], eps=1e-6)
        self.conv_out = nn.Conv2d(ch[0], cfg.out_channels * s * s, 3, padding=1)

        # --- temporal group (phi): everything under `temporal.` ---
        self.temporal = nn.ModuleDict()
        if cfg.has_temporal_layers:
            self.temporal["down"] = nn.ModuleList(
                nn.ModuleList(temporal(i) for _ in range(cfg.layers_per_block)) for i in range(n_levels))
            self.temporal["mid"] = nn.ModuleList(temporal(n_levels - 1) for _ in range(2))
            self.temporal["up"] = nn.ModuleList(
                nn.ModuleList(temporal(i) for _ in range(cfg.layers_per_block + 1))
                for i in reversed(range(n_levels)))
            if cfg.use_context:
                context_in = (cfg.context_channels or cfg.in_channels) + 1  # (m_S * z, m_S)
                self.temporal["context"] = ContextPyramid(context_in * s * s, ch)
            if cfg.use_rate:
                self.temporal["rate"] = zero_module(nn.Embedding(2, temb_dim))

    # ------------------------------------------------------------------ forward
    def forward(self, sample: torch.Tensor, timestep: torch.Tensor, cond: UNetConditions,
                image_only: bool = False) -> torch.Tensor:
        """sample (B,T,C,H,W), timestep (B,) or (B,T) -> model output (B,T,C_out,H,W).

        image_only=True treats every frame as an independent image: the temporal layers, the
        context and the rate flag are skipped, which is exactly the image model.
        """
        cfg = self.unet_config
        b, t = self._check_sample(sample, cond)
        video = not image_only and cfg.has_temporal_layers
        clip = self._clip_inputs(sample, cond, video)
        modulation, context = clip.modulation, clip.context
        temb = self._embedding(timestep, cond, b, t, sample.dtype)
        temb_t = None
        if video:
            temb_t = temb
            if cfg.use_rate:
                if cond.rate is None:
                    raise ValueError("this model has use_rate=True: set cond.rate (0 = T->4T, 1 = 4T->16T)")
                temb_t = temb + repeat(self.temporal["rate"](cond.rate.long()), "b d -> (b t) d", t=t)

        def block(level: SpatialLevel, j: int, h: torch.Tensor, part: str, k: int, ctx, res: int) -> torch.Tensor:
            """Spatial resnet (+ attention, + layout modulation of resolution level `res`), then the
            temporal layers that follow it (video mode)."""
            h = level.resnets[j](h, temb)
            if level.attentions is not None:
                h = level.attentions[j](h)
            if modulation is not None:
                gamma, beta = modulation[res]
                h = h * (1 + gamma) + beta
            if video:
                phi = self.temporal[part] if part == "mid" else self.temporal[part][k]
                h = phi[j](h, temb_t, t, ctx)
            return h

        n_levels = len(cfg.block_out_channels)

        def level_context(i: int) -> torch.Tensor | None:
            return context[i] if context else None

        h = self._conv_in(sample, clip.conv_in)
        skips = [h]
        for i, level in enumerate(self.down_levels):
            for j in range(len(level.resnets)):
                h = block(level, j, h, "down", i, level_context(i), i)
                skips.append(h)
            if level.resample is not None:
                h = level.resample(h)
                skips.append(h)
        for j in range(2):
            h = block(self.mid_level, j, h, "mid", 0, level_context(n_levels - 1), n_levels - 1)
        for k, level in enumerate(self.up_levels):
            for j in range(len(level.resnets)):
                h = block(level, j, torch.cat([h, skips.pop()], dim=1), "up", k, level_context(n_levels - 1 - k),
                          n_levels - 1 - k)
            if level.resample is not None:
                h = level.resample(h)
        out = self.conv_out(F.silu(self.norm_out(h)))
        if cfg.space_to_depth > 1:
            out = F.pixel_shuffle(out, cfg.space_to_depth)
        return rearrange(out, "(b t) c h w -> b t c h w", b=b)

    # ------------------------------------------------------------------ inputs and embeddings
    def _check_sample(self, sample: torch.Tensor, cond: UNetConditions) -> tuple[int, int]:
        cfg = self.unet_config
        if sample.ndim != 5 or sample.shape[2] != cfg.in_channels:
            raise ValueError(f"sample must be (B, T, {cfg.in_channels}, H, W), got {tuple(sample.shape)}")
        b, t, _, hh, ww = sample.shape
        m = cfg.size_multiple
        if hh % m or ww % m:
            raise DrivesimError(f"frame size {hh}x{ww} is not divisible by {m} (space_to_depth x 2^(levels-1)); "
                                f"use a height and width that are multiples of {m}")
        if t > cfg.max_frames:
            raise DrivesimError(f"clip of {t} frames is longer than this model's max_frames={cfg.max_frames}; "
                                f"generate in windows of at most {cfg.max_frames} frames")
        if tuple(cond.time_of_day.shape) != (b, t):
            raise ValueError(f"conditions are for {tuple(cond.time_of_day.shape)} (B, T) frames, sample has {(b, t)}")
        return b, t

    def forget_clip_inputs(self) -> None:
        """Drop the held per-clip inputs: the next forward computes them anew (FLOP counting counts a
        whole forward, as the meta device does, not a sampler step that reuses the clip's inputs)."""
        self._held_clip_inputs = None

    def _clip_inputs(self, sample: torch.Tensor, cond: UNetConditions, video: bool) -> "ClipInputs":
        """What the conditions alone give the network -- conv_in's share of the layout maps and low-res
        video, the layout encoder's modulation, the context features -- computed once per clip: a sampler
        passes the same `cond` object at every step, so without autograd the last clip's are kept and
        reused while the same cond, sizes and autocast come back (~6 % of a keyframe forward)."""
        device = sample.device.type
        autocast = (torch.is_autocast_enabled(device), torch.get_autocast_dtype(device)) \
            if device in ("cpu", "cuda") else None  # e.g. "meta" (FLOP counting) has no autocast
        key = (sample.shape, sample.dtype, sample.device, video, autocast)
        held = self._held_clip_inputs
        if held is not None and held.cond is cond and held.key == key:
            return held
        cfg = self.unet_config
        layout = self._layout(sample, cond) if cfg.num_layout_channels else None
        fixed = self._fixed_input(sample, cond, layout)
        clip = ClipInputs(
            cond, key,
            conv_in=self._conv_in_fixed(fixed) if fixed is not None else None,
            modulation=(self.layout_encoder(rearrange(layout, "b t c h w -> (b t) c h w"))
                        if self.layout_encoder is not None else None),
            context=(self._context_features(cond, sample, *sample.shape[:2])
                     if video and cfg.use_context else None))
        self._held_clip_inputs = None if torch.is_grad_enabled() else clip  # training: never reuse
        return clip

    def _fixed_input(self, sample: torch.Tensor, cond: UNetConditions,
                     layout: torch.Tensor | None) -> torch.Tensor | None:
        """The input channels after the sample's -- low-res video, layout maps (max-pooled to the sample
        size: a box covering any part of a latent pixel marks it) -- as "(b t) c h w" after space-to-depth;
        None where the model has neither."""
        cfg = self.unet_config
        parts = []
        if cfg.low_res_channels:
            if cond.low_res is None or cond.low_res.shape[-2:] != sample.shape[-2:]:
                raise ValueError("this model needs cond.low_res (B, T, C, H, W) resized to the sample's H, W")
            parts.append(cond.low_res.to(sample.dtype))
        if layout is not None:  # last: a model grown with layout input keeps its other input channels
            if cfg.layout_scale > 1:
                b = layout.shape[0]
                layout = rearrange(F.max_pool2d(rearrange(layout, "b t c h w -> (b t) c h w"), cfg.layout_scale),
                                   "(b t) c h w -> b t c h w", b=b)
            parts.append(layout)
        return self._space_to_depth(torch.cat(parts, dim=2)) if parts else None

    def _space_to_depth(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, C, H, W) -> "(b t) (c s s) (h / s) (w / s)" (channel-major, so concatenation commutes)."""
        x = rearrange(x, "b t c h w -> (b t) c h w")
        s = self.unet_config.space_to_depth
        return F.pixel_unshuffle(x, s) if s > 1 else x

    def _conv_in_fixed(self, fixed: torch.Tensor) -> torch.Tensor:
        """conv_in over the fixed input channels alone, with its bias (it is linear: the sample's share adds)."""
        k = self.conv_in.in_channels - fixed.shape[1]
        return F.conv2d(fixed, self.conv_in.weight[:, k:], self.conv_in.bias, padding=self.conv_in.padding)

    def _conv_in(self, sample: torch.Tensor, fixed_share: torch.Tensor | None) -> torch.Tensor:
        """conv_in of the whole input = conv_in's weights for the sample's channels on the sample + the
        fixed channels' share (`_conv_in_fixed`, once per clip)."""
        x = self._space_to_depth(sample)
        if fixed_share is None:
            return self.conv_in(x)
        return F.conv2d(x, self.conv_in.weight[:, :x.shape[1]], None, padding=self.conv_in.padding) + fixed_share

    def _layout(self, sample: torch.Tensor, cond: UNetConditions) -> torch.Tensor:
        """The layout maps (B, T, K, H * layout_scale, W * layout_scale), the learned null map where null."""
        b, t, _, hh, ww = sample.shape
        s = self.unet_config.layout_scale
        null = self.layout_null.to(sample.dtype).expand(b, t, -1, hh * s, ww * s)
        if cond.layout is None:
            return null
        if cond.layout.shape != null.shape:
            raise ValueError(f"cond.layout must be {tuple(null.shape)} (B, T, K, H, W), got {tuple(cond.layout.shape)}")
        is_null = cond.layout_null.bool()[:, :, None, None, None]
        return torch.where(is_null, null, cond.layout.to(sample.dtype))

    def _embedding(self, timestep: torch.Tensor, cond: UNetConditions, b: int, t: int,
                   dtype: torch.dtype) -> torch.Tensor:
        """Per-frame embedding (b t) d: diffusion step + labels (+ upsampler noise level)."""
        steps = torch.as_tensor(timestep, device=self.conv_in.weight.device)
        steps = steps.expand(b) if steps.ndim == 0 else steps
        steps = repeat(steps, "b -> b t", t=t) if steps.ndim == 1 else steps
        emb = self.time_embedding(self.time_proj(rearrange(steps, "b t -> (b t)")).to(dtype))
        if self.label_embedding is not None:
            emb = emb + self.label_embedding(cond, dtype)
        if self.noise_level_embedding is not None:
            if cond.noise_level is None:
                raise ValueError("this model has use_noise_level=True: set cond.noise_level (B,)")
            level = repeat(torch.as_tensor(cond.noise_level, device=emb.device).expand(b), "b -> (b t)", t=t)
            emb = emb + self.noise_level_embedding(self.time_proj(level).to(dtype))
        return emb

    def _context_features(self, cond: UNetConditions, sample: torch.Tensor, b: int, t: int) -> list[torch.Tensor]:
        """c_S = (m_S * z, m_S) through the learned pyramid; missing context = all-zero mask."""
        cfg = self.unet_config
        c_ctx = cfg.context_channels or cfg.in_channels
        hh, ww = sample.shape[-2:]
        if cond.context is None:
            z = sample.new_zeros(b, t, c_ctx, hh, ww)
            mask = sample.new_zeros(b, t)
        else:
            z = cond.context.to(sample.dtype)
            mask = (cond.context_mask if cond.context_mask is not None else sample.new_ones(b, t)).to(sample.dtype)
        if z.shape != (b, t, c_ctx, hh, ww):
            raise ValueError(f"cond.context must be {(b, t, c_ctx, hh, ww)}, got {tuple(z.shape)}")
        m = mask[:, :, None, None, None].expand(b, t, 1, hh, ww)
        return self.temporal["context"](self._space_to_depth(torch.cat([z * m, m], dim=2)))  # masked again: nothing leaks

"""Video UNet: image-LDM spatial layers (theta) + temporal layers (phi) with an alpha merge.

    python -c "from drivesim.models.video_unet import VideoUNet, VideoUNetConfig; print(VideoUNet(VideoUNetConfig()))"
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class VideoUNetConfig:
    """Plain fields only: YAML round-trips via dataclasses.asdict / VideoUNetConfig(**d)."""

    in_channels: int = 4  # latent channels of the noisy sample (pixel channels for the upsampler)
    out_channels: int = 4
    block_out_channels: tuple[int, ...] = (32, 64)  # one entry per resolution level; multiples of 32
    layers_per_block: int = 1  # resnet blocks per level on the way down (one more on the way up)
    attention_levels: tuple[int, ...] = (1,)  # level indices with spatial self-attention (mid block always has it)
    num_heads: int = 4  # heads of spatial and temporal attention
    temporal_attention: bool = True  # temporal self-attention over frames (phi)
    temporal_conv: bool = True  # residual 3D-conv block, kernel (3,1,1) (phi); ablation: attention-only
    num_layout_channels: int = 6  # box maps + road map concatenated to the input; 0 = no layout input
    use_labels: bool = True  # time-of-day / crowdedness / ego-speed embeddings added to the timestep embedding
    use_context: bool = False  # prediction / interpolation: c_S = (m_S * z, m_S) into the temporal layers
    context_channels: int = 0  # channels of cond.context; 0 = same as in_channels
    use_rate: bool = False  # interpolation: rate flag (0 = T->4T, 1 = 4T->16T) embedding for the temporal path
    low_res_channels: int = 0  # upsampler: channels of cond.low_res concatenated to the input
    use_noise_level: bool = False  # upsampler: noise-augmentation level embedding (spatial group)
    space_to_depth: int = 1  # pixel_unshuffle stem / pixel_shuffle head factor (upsampler: 4)
    norm_num_groups: int = 32  # diffusers' temporal blocks hard-code 32 groups
    max_frames: int = 64  # only a sanity bound for the frame-position encoding

"""FrameConditions -> UNetConditions, plus the training dropout and the null conditions for guidance.

The layout maps have the bundle's number of layout channels (`channels`: 6 for the shipped default, 11
for a model conditioned on the road network, conditions/layouts.py); `networks` gives each clip's road
network for the road channels of the 11-channel layout (conditions/road_maps.py, "Where a frame's road
comes from").

    python -c "from drivesim.conditions.encode import *; from drivesim.scenario.labels import *; \
        c = build_conditions([[FrameConditions(0, 0.0, 'night', 0.3)]], (16, 32)); print(c.time_of_day, c.layout.shape)"
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from drivesim.conditions.box_maps import NUM_LAYOUT_CHANNELS, render_layouts
from drivesim.conditions.tensors import UNetConditions
from drivesim.errors import DrivesimError
from drivesim.scenario.camera import PinholeCamera
from drivesim.scenario.labels import FrameConditions
from drivesim.scenario.lane_labels import RoadNetwork

TIME_OF_DAY_INDEX = {"day": 0, "night": 1}
NULL_TIME_OF_DAY = 2


def build_conditions(frames: Sequence[Sequence[FrameConditions]], size: tuple[int, int], device=None,
                     camera: PinholeCamera | None = None, channels: int = NUM_LAYOUT_CHANNELS,
                     networks: Sequence[RoadNetwork | None] | None = None) -> UNetConditions:
    """frames[b][t] -> conditions with `channels`-channel layout maps of size (h, w); camera defaults to the
    scenario default; networks[b] (optional) is clip b's road network."""
    if not frames or not frames[0]:
        raise DrivesimError("build_conditions needs at least one clip with at least one frame")
    t = len(frames[0])
    if any(len(clip) != t for clip in frames):
        raise DrivesimError(f"every clip must have the same number of frames; got {[len(c) for c in frames]}")
    networks = [None] * len(frames) if networks is None else list(networks)
    if len(networks) != len(frames):
        raise DrivesimError(f"build_conditions got {len(networks)} road networks for {len(frames)} clips; give one "
                            "per clip (None where the frames' road states say enough)")
    flat = [f for clip in frames for f in clip]
    for f in flat:
        if f.time_of_day not in TIME_OF_DAY_INDEX:
            raise DrivesimError(f"frame {f.index}: time_of_day {f.time_of_day!r} is not one of {list(TIME_OF_DAY_INDEX)}")
    b = len(frames)

    def table(values, dtype) -> torch.Tensor:
        return torch.tensor(values, dtype=dtype).reshape(b, t)

    layout = np.stack([render_layouts(clip, size, camera, channels, network) for clip, network in zip(frames, networks)])
    cond = UNetConditions(
        time_of_day=table([TIME_OF_DAY_INDEX[f.time_of_day] for f in flat], torch.long),
        crowdedness=table([float(f.crowdedness) for f in flat], torch.float32),
        crowd_null=torch.zeros(b, t, dtype=torch.bool),
        ego_speed=table([f.road.ego_speed_mps if f.road is not None else 0.0 for f in flat], torch.float32),
        speed_null=table([f.road is None for f in flat], torch.bool),
        layout=torch.from_numpy(layout),
        layout_null=torch.zeros(b, t, dtype=torch.bool),
    )
    return cond.to(device) if device is not None else cond


def empty_conditions(batch: int, frames: int, device=None) -> UNetConditions:
    """All-null conditions without layout maps (the upsampler's base, and unconditional sampling)."""
    null = torch.ones(batch, frames, dtype=torch.bool, device=device)
    return UNetConditions(
        time_of_day=torch.full((batch, frames), NULL_TIME_OF_DAY, dtype=torch.long, device=device),
        crowdedness=torch.zeros(batch, frames, device=device), crowd_null=null.clone(),
        ego_speed=torch.zeros(batch, frames, device=device), speed_null=null.clone(),
        layout=None, layout_null=null.clone(),
    )


def upsampler_conditions(low_res: torch.Tensor, noise_level: torch.Tensor | int) -> UNetConditions:
    """Conditions for VideoUpsampler: low_res (B,T,3,H,W) already noise-augmented and resized; level (B,) or int."""
    b, t = low_res.shape[:2]
    level = torch.as_tensor(noise_level, device=low_res.device).long().expand(b).clone()
    return empty_conditions(b, t, low_res.device).replace(low_res=low_res, noise_level=level)


def drop_conditions(cond: UNetConditions, p_label: float, p_layout: float, generator: torch.Generator | None = None,
                    p_null: float = 0.0) -> UNetConditions:
    """Training dropout per clip: labels (time of day, crowdedness, ego speed) together with p_label,
    layout maps with p_layout, and everything at once (what `null_conditions` gives) with p_null.

    Labels drop as one group. The joint null is drawn on its own because independent drops alone
    make it rare (p_label * p_layout = 1 % at 0.1 each), yet it is the unconditional branch of
    label/box guidance: guidance only works where the model has learnt it.
    """
    for name, p in (("p_label", p_label), ("p_layout", p_layout), ("p_null", p_null)):
        if not 0.0 <= p <= 1.0:
            raise DrivesimError(f"{name} must be in [0, 1], got {p}")
    b, t = cond.batch_size, cond.num_frames
    device = cond.time_of_day.device
    draws = torch.rand(3, b, generator=generator).to(device)
    drop_all = draws[2] < p_null
    drop_label = ((draws[0] < p_label) | drop_all)[:, None].expand(b, t)
    drop_layout = ((draws[1] < p_layout) | drop_all)[:, None].expand(b, t)
    return cond.replace(
        time_of_day=torch.where(drop_label, torch.full_like(cond.time_of_day, NULL_TIME_OF_DAY), cond.time_of_day),
        crowd_null=cond.crowd_null | drop_label,
        speed_null=cond.speed_null | drop_label,
        layout_null=cond.layout_null | drop_layout,
    )


def null_conditions(cond: UNetConditions) -> UNetConditions:
    """Everything label-like null (the unconditional pass of classifier-free guidance).

    Context, rate, noise level and low-res input are kept: they are not guided by this pass.
    """
    return cond.replace(
        time_of_day=torch.full_like(cond.time_of_day, NULL_TIME_OF_DAY),
        crowd_null=torch.ones_like(cond.crowd_null, dtype=torch.bool),
        speed_null=torch.ones_like(cond.speed_null, dtype=torch.bool),
        layout_null=torch.ones_like(cond.layout_null, dtype=torch.bool),
    )


def without_context(cond: UNetConditions) -> UNetConditions:
    """The same conditions with an all-zero context mask: f(z) in context guidance f(z) + s(f(z; c_S) - f(z))."""
    if cond.context is None:
        return cond
    return cond.replace(context_mask=cond.context.new_zeros(cond.batch_size, cond.num_frames))


__all__ = ["NUM_LAYOUT_CHANNELS", "NULL_TIME_OF_DAY", "TIME_OF_DAY_INDEX", "build_conditions", "drop_conditions",
           "empty_conditions", "null_conditions", "upsampler_conditions", "without_context"]

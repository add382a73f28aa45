"""UNetConditions: the per-frame condition tensors every diffusion model in drivesim consumes.

    python -c "from drivesim.conditions.tensors import UNetConditions; help(UNetConditions)"
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import ClassVar, Sequence

import torch

from drivesim.conditions.box_maps import NUM_CLASS_CHANNELS


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

    # Fields indexed (B, ...) only; every other field is (B, T, ...).
    _PER_CLIP: ClassVar[tuple[str, ...]] = ("rate", "noise_level")

    @property
    def batch_size(self) -> int:
        return int(self.time_of_day.shape[0])

    @property
    def num_frames(self) -> int:
        return int(self.time_of_day.shape[1])

    def _map(self, fn_clip, fn_frames) -> "UNetConditions":
        """Apply fn_clip to the (B, ...) fields and fn_frames to the (B, T, ...) fields (None stays None)."""
        out = {}
        for f in fields(self):
            v = getattr(self, f.name)
            out[f.name] = None if v is None else (fn_clip if f.name in self._PER_CLIP else fn_frames)(v)
        return UNetConditions(**out)

    def to(self, device=None, dtype: torch.dtype | None = None) -> "UNetConditions":
        """Move every tensor; dtype applies to floating-point tensors only (labels stay integer/bool)."""
        def move(v: torch.Tensor) -> torch.Tensor:
            return v.to(device=device, dtype=dtype if (dtype is not None and v.is_floating_point()) else None)
        return self._map(move, move)

    def select(self, index) -> "UNetConditions":
        """Clips along the batch axis: an int keeps the axis (B=1), a slice / index tensor selects."""
        index = slice(index, index + 1) if isinstance(index, int) else index
        return self._map(lambda v: v[index], lambda v: v[index])

    def replace(self, **changes) -> "UNetConditions":
        return replace(self, **changes)

    def repeat(self, n: int) -> "UNetConditions":
        """n copies stacked along the batch axis (batched guidance)."""
        return UNetConditions.cat([self] * n)

    @staticmethod
    def cat(conds: Sequence["UNetConditions"]) -> "UNetConditions":
        """Concatenate along the batch axis, e.g. [cond, null_conditions(cond)] for one guided forward.

        A part whose layout is None gets an all-null layout, one without context an all-zero
        mask, so conditioned and unconditional parts can share a batch.
        """
        conds = list(conds)
        if not conds:
            raise ValueError("UNetConditions.cat needs at least one UNetConditions")
        conds = _fill_absent_layout(conds)
        conds = _fill_absent_context(conds)
        out = {}
        for f in fields(UNetConditions):
            vals = [getattr(c, f.name) for c in conds]
            if all(v is None for v in vals):
                out[f.name] = None
            elif any(v is None for v in vals):
                raise ValueError(f"UNetConditions.cat: field {f.name!r} is set in some parts and None in others")
            else:
                out[f.name] = torch.cat(vals, dim=0)
        return UNetConditions(**out)


def _fill_absent_layout(conds: list[UNetConditions]) -> list[UNetConditions]:
    ref = next((c.layout for c in conds if c.layout is not None), None)
    if ref is None:
        return conds
    return [c if c.layout is not None else
            c.replace(layout=ref.new_zeros((c.batch_size, c.num_frames) + tuple(ref.shape[2:])),
                      layout_null=torch.ones_like(c.layout_null, dtype=torch.bool))
            for c in conds]


def _fill_absent_context(conds: list[UNetConditions]) -> list[UNetConditions]:
    ref = next((c.context for c in conds if c.context is not None), None)
    if ref is None:
        return conds
    out = []
    for c in conds:
        if c.context is None:
            c = c.replace(context=ref.new_zeros((c.batch_size, c.num_frames) + tuple(ref.shape[2:])),
                          context_mask=ref.new_zeros(c.batch_size, c.num_frames))
        elif c.context_mask is None:
            c = c.replace(context_mask=c.context.new_ones(c.batch_size, c.num_frames))
        out.append(c)
    return out


def road_user_mask(layout: torch.Tensor, first_class_channel: int = 0) -> torch.Tensor:
    """(B, T, 1, H, W) of layout maps (B, T, K, H, W): 1 under the boxes of the class channels from
    `first_class_channel` on (0: every road user; conditions/box_maps.py's CLASS_CHANNEL), 0 elsewhere."""
    return layout[:, :, first_class_channel:NUM_CLASS_CHANNELS].amax(dim=2, keepdim=True)

"""Exponential moving average of the trained parameters; the EMA weights are what a stage ships.

The decay warms up as min(decay, (1 + n) / (10 + n)) after n updates (the LDM / diffusers
habit), so short runs are not dominated by the random initial weights. State is a plain
name -> tensor dict, saved with safetensors by `drivesim.train.state` (no pickle).

    python -c "import torch; from drivesim.train.ema import EMA; p = torch.nn.Parameter(torch.zeros(2)); \
        e = EMA([('p', p)], 0.9); p.data += 1; e.update(); print(e.shadow['p'])"
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import torch
from torch import Tensor, nn

__all__ = ["EMA"]


class EMA:
    """Shadow copies of `params`; `update()` after every optimizer step."""

    def __init__(self, params: Sequence[tuple[str, nn.Parameter]], decay: float):
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"EMA decay must be in [0, 1), got {decay}")
        self.decay = float(decay)
        self.names = [name for name, _ in params]
        self.params = [p for _, p in params]
        self.shadow = {name: p.detach().clone() for name, p in params}
        self.num_updates = 0

    def current_decay(self) -> float:
        return min(self.decay, (1 + self.num_updates) / (10 + self.num_updates))

    @torch.no_grad()
    def update(self) -> None:
        weight = 1.0 - self.current_decay()
        shadow = [self.shadow[n] for n in self.names]
        torch._foreach_lerp_(shadow, [p.detach().to(s.dtype) for p, s in zip(self.params, shadow)], weight)
        self.num_updates += 1

    @torch.no_grad()
    def copy_to_params(self) -> None:
        """Write the EMA weights into the live parameters (in place: shared tensors stay shared)."""
        for name, p in zip(self.names, self.params):
            p.data.copy_(self.shadow[name])

    @contextmanager
    def applied(self) -> Iterator[None]:
        """Run a block (a preview) with the EMA weights, then put the trained weights back."""
        backup = [p.detach().clone() for p in self.params]
        self.copy_to_params()
        try:
            yield
        finally:
            with torch.no_grad():
                for p, b in zip(self.params, backup):
                    p.data.copy_(b)

    def state_dict(self) -> dict[str, Tensor]:
        return {name: t.detach().cpu().contiguous() for name, t in self.shadow.items()}

    def load_state_dict(self, tensors: dict[str, Tensor], num_updates: int) -> None:
        missing = sorted(set(self.names) - set(tensors))
        if missing:
            raise KeyError(f"EMA state lacks {len(missing)} tensor(s), e.g. {missing[0]!r}")
        with torch.no_grad():
            for name in self.names:
                self.shadow[name].copy_(tensors[name])
        self.num_updates = int(num_updates)

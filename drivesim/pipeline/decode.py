"""Latents -> frames with the temporal decoder, over overlapping windows (no seams, flat memory).

The temporal decoder mixes neighbouring frames, so it decodes `window` latents at once; windows
overlap by `overlap` frames, whose two decodings are cross-faded (`blended_windows`).

    python -c "from drivesim.pipeline.decode import decode; help(decode)"
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import torch
from torch import Tensor

from drivesim.pipeline.context import RunContext
from drivesim.pipeline.windows import blended_windows

__all__ = ["decode", "decoder_window_fn", "DECODE_OVERLAP"]

DECODE_OVERLAP = 2  # frames shared by consecutive windows (the 3-frame temporal kernels reach 1 frame per layer)


def decoder_window_fn(run: RunContext) -> Callable[[list[tuple[int, Tensor]]], Tensor]:
    """`process(window)`: the frames (T, 3, H, W) of a window of (index, latent) pairs, decoded together."""
    def process(items: list[tuple[int, Tensor]]) -> Tensor:
        run.check_cancelled()
        z = torch.stack([latent for _, latent in items])[None]  # (1, T, C, h, w)
        with run.compute("decode"):
            frames = run.bundle.decoder(z, image_only=run.options.image_only)[0].float()
        run.stats.decode_windows += 1
        return frames

    return process


def decode(run: RunContext, latents: Iterable[tuple[int, Tensor]], window: int | None = None,
           overlap: int = DECODE_OVERLAP) -> Iterator[tuple[int, Tensor]]:
    """Yield (index, frame (3, H, W) float in about [-1, 1]) for every (index, latent)."""
    window = window or run.bundle.config.decoder_window
    overlap = min(overlap, window - 1)
    yield from blended_windows(latents, decoder_window_fn(run), window, overlap)

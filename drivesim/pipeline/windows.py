"""Overlapping windows over a frame stream, with a linear cross-fade where windows overlap.

The temporal decoder and the video upsampler see a few frames at a time (bounded memory), but
a hard cut between windows shows as a seam. Each window starts `overlap` frames before the
previous one ended; those frames are computed twice and cross-faded, so outputs change smoothly.

A closed-loop session cannot wait for the next window (its frames are due now) nor change frames
it already returned: `windows_after` gives each window the last `overlap` items before it as
left context instead, and keeps only the outputs of the new items.

    python -c "
    import torch; from drivesim.pipeline.windows import blended_windows
    items = [(i, torch.full((1,), float(i))) for i in range(10)]
    print([int(v) for _, v in blended_windows(items, lambda w: torch.stack([x for _, x in w]), 4, 2)])"
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

import torch
from torch import Tensor

__all__ = ["blended_windows", "windows_after"]

Item = TypeVar("Item")


def _fade_in(overlap: int, like: Tensor) -> Tensor:
    """Weights of the new window over the overlap: 1/(n+1) ... n/(n+1), shaped (n, 1, 1, ...)."""
    w = torch.arange(1, overlap + 1, dtype=like.dtype, device=like.device) / (overlap + 1)
    return w.reshape(overlap, *([1] * (like.ndim - 1)))


def blended_windows(items: Iterable[tuple[int, Item]], process: Callable[[list[tuple[int, Item]]], Tensor],
                    window: int, overlap: int) -> Iterator[tuple[int, Tensor]]:
    """Yield (index, output) for every (index, item), computed by `process` on overlapping windows.

    `process(window_items)` returns one output per item, stacked on dim 0. At most `window`
    items and `overlap` outputs are held at once; the last window may be shorter.
    """
    if not 0 <= overlap < window:
        raise ValueError(f"need 0 <= overlap < window, got overlap={overlap}, window={window}")
    buffer: list[tuple[int, Item]] = []  # the items of the window being filled
    tail: Tensor | None = None  # outputs of the previous window's last `overlap` items, not yet yielded
    for item in items:
        buffer.append(item)
        if len(buffer) < window:
            continue
        out = _blend(process(buffer), tail)
        keep = window - overlap
        yield from zip((i for i, _ in buffer[:keep]), out[:keep])
        tail = out[keep:] if overlap else None
        buffer = buffer[keep:]
    if tail is None or len(buffer) > len(tail):  # items not covered by any window yet
        out = _blend(process(buffer), tail) if buffer else None
        if out is not None:
            yield from zip((i for i, _ in buffer), out)
    else:  # the stream ended exactly at a window's end: the tail is final
        yield from zip((i for i, _ in buffer), tail)


def _blend(out: Tensor, tail: Tensor | None) -> Tensor:
    """Cross-fade the first len(tail) outputs of this window with the previous window's tail."""
    if tail is None or len(tail) == 0:
        return out
    n = len(tail)
    w = _fade_in(n, out)
    return torch.cat([(1 - w) * tail.to(out.dtype) + w * out[:n], out[n:]])


def windows_after(history: list[tuple[int, Item]], items: list[tuple[int, Item]],
                  process: Callable[[list[tuple[int, Item]]], Tensor], window: int,
                  overlap: int) -> tuple[list[Tensor], list[tuple[int, Item]]]:
    """Outputs for `items` only, each window of at most `window` items led by the `overlap` items before it
    (from `history` for the first window), so new outputs continue the old ones. Returns the outputs and
    the last `overlap` items: the history of the next call."""
    if not 0 <= overlap < window:
        raise ValueError(f"need 0 <= overlap < window, got overlap={overlap}, window={window}")
    past = history[-overlap:] if overlap else []
    outputs: list[Tensor] = []
    todo = list(items)
    while todo:
        take = window - len(past)
        chunk, todo = todo[:take], todo[take:]
        out = process(past + chunk)
        outputs.extend(out[len(past):])
        past = (past + chunk)[-overlap:] if overlap else []
    return outputs, past

"""Latents of every training frame, encoded once by the frozen encoder and reused by the latent
diffusion stages (image, video, interpolation).

On a CPU the frozen encoder costs about as much per step as the UNet being trained, and its
output never changes while it is frozen: encoding each frame once halves a stage's step time.
The cache is a safetensors file under BUNDLE/.train/latents/, named by a hash of what the
latents depend on (encoder weights and scaling factor, frame size, the clips and their frame
counts), so a retrained autoencoder or other data never reads stale latents. Frames go through
the same centre crop and resize as the stage datasets (`drivesim.data.clips`).

    python -c "from drivesim.train.latent_cache import LatentCache; help(LatentCache)"
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save
from torch import Tensor, nn
from tqdm import tqdm

from drivesim.data.clips import Clip, FrameDataset
from drivesim.errors import DrivesimError
from drivesim.output.files import atomic_write_bytes

__all__ = ["LatentCache", "cache_key"]

ENCODE_BATCH = 32


def cache_key(autoencoder: nn.Module, size: tuple[int, int], clips: list[Clip]) -> str:
    """Hash of everything the cached latents depend on."""
    h = hashlib.sha256()
    for name, tensor in sorted(autoencoder.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().float().cpu().contiguous().numpy().tobytes())
    h.update(json.dumps({"scaling_factor": float(getattr(autoencoder, "scaling_factor", 1.0)), "size": list(size),
                         "clips": [[c.clip_id, c.num_frames, c.width, c.height] for c in clips]}).encode())
    return h.hexdigest()[:16]


class LatentCache:
    """clip id -> latents (num_frames, C, h, w) of all its frames; `lookup` gathers a batch."""

    def __init__(self, latents: dict[str, Tensor]):
        self.latents = latents

    @classmethod
    @torch.no_grad()
    def build(cls, autoencoder: nn.Module, root: str, clips: list[Clip], size: tuple[int, int], folder: Path,
              device: torch.device | str = "cpu", progress: bool = True) -> "LatentCache":
        """Load the cache for this encoder and data from `folder`, or encode every frame and save it."""
        path = Path(folder) / f"{cache_key(autoencoder, size, clips)}.safetensors"
        if path.is_file():
            return cls(load_file(str(path)))
        frames = FrameDataset(root, size=size, frame_stride=1, clips=clips)
        chunks: dict[str, list[Tensor]] = {c.clip_id: [] for c in clips}
        bar = tqdm(total=len(frames), desc="encoding latents", unit="frame", disable=not progress)
        was_training = autoencoder.training
        autoencoder.eval()
        for start in range(0, len(frames), ENCODE_BATCH):
            items = [frames[i] for i in range(start, min(start + ENCODE_BATCH, len(frames)))]
            z = autoencoder.encode(torch.stack([it["frame"] for it in items]).to(device)).float().cpu()
            for item, latent in zip(items, z):
                chunks[item["clip_id"]].append(latent)
            bar.update(len(items))
        bar.close()
        autoencoder.train(was_training)
        latents = {cid: torch.stack(zs).contiguous() for cid, zs in chunks.items() if zs}
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, save(latents))
        return cls(latents)

    def lookup(self, clip_ids: list[str], indices: Tensor) -> Tensor:
        """Latents (B, T, C, h, w) of frames `indices` (B, T) of clips `clip_ids` (B,)."""
        try:
            return torch.stack([self.latents[cid][idx] for cid, idx in zip(clip_ids, indices.long(), strict=True)])
        except (KeyError, IndexError) as err:
            raise DrivesimError(f"latent cache has no frame for {err}: the data changed during training; "
                                "delete BUNDLE/.train/latents and rerun") from err

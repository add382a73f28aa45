"""The paper's ablations, measured on our data: each gives a "before -> after" pair per measure, to set
beside the paper's FVD in the same direction.

- Temporal vs image decoder (paper: reconstruction FVD 390.9 -> 32.9): real clips through the frozen
  encoder, decoded by the image decoder (temporal layers skipped, alpha = 1) and by the temporal
  decoder: Fréchet distance of the reconstructions to the originals, reconstruction error, warp error.
- Video vs per-frame upsampler (paper: FVD 166 -> 45): real clips at the bundle's output size,
  shrunk x4 (INTER_AREA, as the upsampler was trained), upsampled by the pipeline's own `upsample`
  with the temporal layers skipped (`image_only`) and with them. `GenerateOptions.image_only`
  switches every stage at once, so the upsampler is run directly here.
- Context guidance on vs off (paper: FVD 534 -> 509): a held-out scenario generated with context
  guidance scale 1 and > 1; Fréchet distance to the real clips and warp error.

A row is n/a (with the reason) when a model it compares is untrained per BUNDLE/stages.json.

    python -c "from drivesim.eval.ablations import PAPER; print(PAPER)"
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import cv2
import numpy as np
import torch

from drivesim.eval.frechet import VideoFeatureNet, frechet_distance, video_features, video_windows
from drivesim.eval.tables import markdown_table
from drivesim.eval.temporal import warp_error

__all__ = ["AblationRow", "PAPER", "UPSAMPLER_STAGES", "missing_stages", "decoder_ablation", "upsampler_ablation",
           "context_guidance_ablation", "format_ablations", "to_uint8_video", "to_float_video"]

UPSAMPLER_STAGES = ("upsampler:spatial", "upsampler:temporal")  # what the upsampler ablation compares
SAME_TOLERANCE = 0.01  # relative change of the Fréchet distance that counts as no change (few windows: noisy)

# name -> (what is compared, paper's FVD before -> after)
PAPER: dict[str, tuple[str, str, str]] = {
    "decoder": ("image decoder", "temporal decoder", "rec. FVD 390.9 -> 32.9"),
    "upsampler": ("per-frame upsampler", "video upsampler", "FVD 166 -> 45"),
    "context_guidance": ("context guidance off (s = 1)", "on (s > 1)", "FVD 534 -> 509"),
}


@dataclass
class AblationRow:
    """One ablation: measures as (before, after); `reason` set (and measures empty) when n/a."""

    name: str
    before: str
    after: str
    paper: str
    frechet: tuple[float, float] | None = None
    rec_error: tuple[float, float] | None = None  # mean |output - real|, 0..1 (only where there is a reference)
    warp: tuple[float, float] | None = None
    real_warp: float | None = None  # the real clips' own warp error, for scale
    baseline: tuple[str, float] | None = None  # (name, rec. error) of a model-free reference, e.g. bicubic
    windows: int = 0  # clip windows each measure is averaged over
    reason: str | None = None  # why the row is n/a
    samples: dict[str, np.ndarray] = field(default_factory=dict, repr=False)  # name -> (T, H, W, 3) for strips

    @property
    def same_direction(self) -> bool | None:
        """Does the Fréchet distance fall from before to after, as in the paper (by more than rounding)?
        None when n/a."""
        if self.frechet is None:
            return None
        before, after = self.frechet
        return before - after > SAME_TOLERANCE * max(abs(before), abs(after), 1e-12)

    @property
    def direction(self) -> str:
        """For the table: yes (lower after, as in the paper), no, unchanged (within SAME_TOLERANCE) or n/a."""
        if self.frechet is None:
            return "n/a"
        before, after = self.frechet
        if abs(before - after) <= SAME_TOLERANCE * max(abs(before), abs(after), 1e-12):
            return f"unchanged (within {SAME_TOLERANCE:.0%})"
        return "yes" if after < before else "no"

    def to_json(self) -> dict:
        data = dataclasses.asdict(self)
        data.pop("samples")
        data["same_direction"] = self.same_direction
        data["direction"] = self.direction
        return data


def na_row(name: str, reason: str) -> AblationRow:
    before, after, paper = PAPER[name]
    return AblationRow(name, before, after, paper, reason=reason)


def missing_stages(record: dict, needed: tuple[str, ...]) -> list[str]:
    """Entries of `needed` ("stage" or "stage:phase") not trained per the bundle's stages.json record."""
    stages = record.get("stages", {})
    missing = []
    for item in needed:
        stage, _, phase = item.partition(":")
        if stage not in stages or (phase and phase not in stages[stage].get("phases", {})):
            missing.append(item)
    return missing


def to_float_video(frames: np.ndarray) -> torch.Tensor:
    """(N, T, H, W, 3) uint8 -> (N, T, 3, H, W) float in [-1, 1]."""
    return torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 1, 4, 2, 3).float() / 127.5 - 1.0


def to_uint8_video(x: torch.Tensor) -> np.ndarray:
    """(N, T, 3, H, W) float in about [-1, 1] -> (N, T, H, W, 3) uint8."""
    x = ((x.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return x.permute(0, 1, 3, 4, 2).cpu().numpy()


def _measures(net: VideoFeatureNet, outputs: list[np.ndarray], real: np.ndarray, real_features: np.ndarray):
    """(Fréchet distance to `real_features`, rec. error vs `real` or None, mean warp error) of each output set."""
    frechet, rec, warp = [], [], []
    for out in outputs:
        frechet.append(frechet_distance(video_features(net, out), real_features))
        rec.append(float(np.abs(out.astype(np.float32) - real.astype(np.float32)).mean() / 255.0)
                   if out.shape == real.shape else None)
        warp.append(float(np.mean([warp_error(w) for w in out])))
    return frechet, rec, warp


@torch.inference_mode()
def decoder_ablation(bundle, real: np.ndarray, net: VideoFeatureNet) -> AblationRow:
    """Real windows (N, T, H, W, 3) at the bundle's frame_size through encoder -> image / temporal decoder."""
    before, after, paper = PAPER["decoder"]
    cfg = bundle.config
    x = to_float_video(real).to(next(bundle.autoencoder.parameters()).device)
    n, t = x.shape[:2]
    z = torch.cat([bundle.autoencoder.encode(chunk) for chunk in x.flatten(0, 1).split(16)])
    z = z.reshape(n, t, *z.shape[1:])
    outputs = []
    for image_only in (True, False):
        frames = torch.cat([bundle.decoder(w, image_only=image_only) for w in z.split(cfg.decoder_window, dim=1)],
                           dim=1)
        outputs.append(to_uint8_video(frames))
    frechet, rec, warp = _measures(net, outputs, real, video_features(net, real))
    return AblationRow("decoder", before, after, paper, frechet=tuple(frechet), rec_error=tuple(rec), warp=tuple(warp),
                       real_warp=float(np.mean([warp_error(w) for w in real])), windows=n,
                       samples={"real": real[0], before: outputs[0][0], after: outputs[1][0]})


def upsampler_ablation(bundle, real_high: np.ndarray, net: VideoFeatureNet, options, engine) -> AblationRow:
    """Real windows (N, T, H, W, 3) at the bundle's output size, shrunk by the upsampler's factor and
    upsampled per frame (temporal layers skipped) and as video. `options` (GenerateOptions) gives
    the steps and device; `engine` any ScenarioEngine (the run context wants one; only its seed is used)."""
    from drivesim.models.upsampler import resize_low_res
    from drivesim.pipeline.context import RunContext
    from drivesim.pipeline.upsample import upsample

    before, after, paper = PAPER["upsampler"]
    cfg = bundle.config
    low_h, low_w = cfg.frame_size
    low = np.stack([[cv2.resize(f, (low_w, low_h), interpolation=cv2.INTER_AREA) for f in w] for w in real_high])
    low_t = to_float_video(low).to(next(bundle.upsampler.parameters()).device)
    outputs = []
    for image_only in (True, False):
        run = RunContext(bundle, dataclasses.replace(options, image_only=image_only, seed=options.seed or 0), engine)
        videos = []
        for window in low_t:
            frames = [frame for _, frame in upsample(run, enumerate(window))]
            videos.append(torch.stack(frames))
        outputs.append(to_uint8_video(torch.stack(videos)))
    frechet, rec, warp = _measures(net, outputs, real_high, video_features(net, real_high))
    # What the upsampler must beat: the plain bicubic resize it starts from.
    bicubic = to_uint8_video(torch.stack([resize_low_res(w[None], cfg.upsampler.scale_factor)[0] for w in low_t]))
    bicubic_error = float(np.abs(bicubic.astype(np.float32) - real_high.astype(np.float32)).mean() / 255.0)
    return AblationRow("upsampler", before, after, paper, frechet=tuple(frechet), rec_error=tuple(rec),
                       warp=tuple(warp), real_warp=float(np.mean([warp_error(w) for w in real_high])),
                       windows=len(real_high), baseline=("bicubic", bicubic_error),
                       samples={"real": real_high[0], "bicubic": bicubic[0], before: outputs[0][0],
                                after: outputs[1][0]})


def context_guidance_ablation(off: np.ndarray, on: np.ndarray, net: VideoFeatureNet, real_features: np.ndarray,
                              scale: float) -> AblationRow:
    """Two generations (T, H, W, 3) of one scenario, context guidance off and at `scale`: Fréchet distance of
    their windows to the real clips' features, and warp error."""
    before, _, paper = PAPER["context_guidance"]
    length = net.config.frames
    windows = [video_windows(video, length, max(length // 2, 1)) for video in (off, on)]
    frechet = tuple(frechet_distance(video_features(net, w), real_features) for w in windows)
    return AblationRow("context_guidance", before, f"on (s = {scale:g})", paper, frechet=frechet,
                       warp=(warp_error(off), warp_error(on)), windows=len(windows[0]),
                       samples={before: off, f"s = {scale:g}": on})


def format_ablations(rows: list[AblationRow]) -> str:
    """The ablation table of report.md: the paper's FVD beside our measures, and whether the direction agrees."""
    body = []
    for r in rows:
        if r.reason:
            body.append([f"{r.before} -> {r.after}", r.paper, f"n/a: {r.reason}", "", "", "n/a"])
            continue
        warp = _pair(r.warp, 4) + (f" (real {r.real_warp:.4f})" if r.real_warp is not None else "")
        rec = _pair(r.rec_error, 4) + (f" ({r.baseline[0]} {r.baseline[1]:.4f})" if r.baseline else "")
        body.append([f"{r.before} -> {r.after}", r.paper, _pair(r.frechet), rec, warp, r.direction])
    return markdown_table(["ablation", "paper", "ours: Fréchet distance", "ours: rec. error", "ours: warp error",
                           "same direction as paper"], body)


def _pair(values: tuple[float, float] | None, digits: int = 3) -> str:
    if values is None or any(v is None for v in values):
        return "—"
    return f"{values[0]:.{digits}f} -> {values[1]:.{digits}f}"

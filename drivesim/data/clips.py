"""Training datasets over a folder of labelled clips (docs/data-format.md): synth-data output or real footage.

    from torch.utils.data import DataLoader
    from drivesim.data.clips import ClipDataset, collate_clips
    ds = ClipDataset("data/synth", num_frames=8, size=(128, 256), frame_stride=2, random_crop=True)
    batch = next(iter(DataLoader(ds, batch_size=4, shuffle=True, collate_fn=collate_clips)))
    batch["frames"].shape  # (4, 8, 3, 128, 256) in [-1, 1]; batch["conditions"][b][t] is a FrameConditions

A clip is a folder with `video.mp4` or `frames/NNNNNN.png|jpg`, plus `labels.jsonl` (one
FrameConditions line per frame, boxes in the frame's pixels) and optionally `meta.json`
(`fps`) and `scenario.yaml` (synth-data: gives each frame its RoadState, i.e. ego speed and lanes).
The whole folder is checked when a dataset is built, so a broken clip fails at once, by name.

Geometry: each sample is resized to cover `size` (keeping the aspect ratio) and cropped, the
same crop for every frame of a clip; boxes get the same scale and offset, are clipped to the
crop (truncation updated) and dropped when less than MIN_BOX_SIDE_PX remains.
With `random_crop` the scale is jittered and the crop placed at random (seeded by
seed, epoch and index: deterministic); those frames carry no RoadState, since the road-layout
map is drawn with the uncropped camera and would no longer line up.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Sequence

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from drivesim.errors import DrivesimError
from drivesim.scenario.labels import FrameConditions

VIDEO_FILE, FRAMES_DIR, LABELS_FILE, META_FILE, SCENARIO_FILE = (
    "video.mp4", "frames", "labels.jsonl", "meta.json", "scenario.yaml")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
MIN_BOX_SIDE_PX = 1.0  # boxes narrower or lower than this after cropping are dropped
BOX_TOLERANCE = 0.02  # boxes may overhang the frame by this share of its size (rounding) before it is an error
MAX_CROP_ZOOM = 1.25  # random_crop: scale jitter up to this much beyond "just covering"
_DOCS = "see docs/data-format.md"


# --- clip discovery and validation -------------------------------------------------------------

@dataclass(frozen=True)
class Clip:
    clip_id: str
    path: Path
    width: int  # frame size as stored (the labels' pixel space)
    height: int
    fps: float | None
    conditions: tuple[FrameConditions, ...]  # one per frame, boxes in stored-frame pixels
    video: Path | None  # video.mp4, or None for a frame folder
    frame_files: tuple[Path, ...]  # frames/ images in order (empty for a video)

    @property
    def num_frames(self) -> int:
        return len(self.conditions)


def scan_clips(root: str | Path) -> list[Clip]:
    """Every clip under `root` (or `root` itself when it is one clip), validated, sorted by id."""
    root = Path(root)
    if not root.is_dir():
        raise DrivesimError(f"data folder {root} does not exist; render one with `drivesim synth-data -o {root} "
                            f"--clips 100 --frames 16` or point to your clips ({_DOCS})")
    folders = [root] if _looks_like_clip(root) else sorted(
        p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not folders:
        raise DrivesimError(f"{root} holds no clips: expected sub-folders with {VIDEO_FILE} or {FRAMES_DIR}/ "
                            f"plus {LABELS_FILE} ({_DOCS})")
    return [_load_clip(p) for p in folders]


def _looks_like_clip(path: Path) -> bool:
    return (path / VIDEO_FILE).is_file() or (path / FRAMES_DIR).is_dir()


def _load_clip(path: Path) -> Clip:
    cid = path.name
    video = path / VIDEO_FILE
    frames_dir = path / FRAMES_DIR
    if not video.is_file() and not frames_dir.is_dir():
        raise DrivesimError(f"clip '{cid}' ({path}) has neither {VIDEO_FILE} nor {FRAMES_DIR}/: add the footage "
                            f"or move the folder out of the dataset ({_DOCS})")
    fps = _read_fps(path)
    if video.is_file():
        count, width, height = _probe_video(cid, video)
        files: tuple[Path, ...] = ()
    else:
        files = _frame_files(cid, frames_dir)
        first = cv2.imread(str(files[0]), cv2.IMREAD_COLOR)
        if first is None:
            raise DrivesimError(f"clip '{cid}': cannot read image {files[0]}; re-export it as PNG or JPEG")
        count, (height, width) = len(files), first.shape[:2]
    labels = path / LABELS_FILE
    if not labels.is_file():
        raise DrivesimError(f"clip '{cid}' has no {LABELS_FILE}: write one line of labels per frame "
                            f"(`drivesim plan` format, {_DOCS}), or remove the clip")
    conditions = _read_labels(cid, labels, width, height)
    if len(conditions) != count:
        raise DrivesimError(f"clip '{cid}' has {count} frames but {len(conditions)} label lines in {LABELS_FILE}; "
                            "there must be exactly one line per frame, in frame order")
    conditions = _attach_roads(cid, path, conditions)
    return Clip(clip_id=cid, path=path, width=width, height=height, fps=fps, conditions=tuple(conditions),
                video=video if video.is_file() else None, frame_files=files)


def _read_fps(path: Path) -> float | None:
    meta = path / META_FILE
    if not meta.is_file():
        return None
    try:
        fps = json.loads(meta.read_text(encoding="utf-8")).get("fps")
    except (OSError, ValueError, AttributeError) as err:
        raise DrivesimError(f"clip '{path.name}': {META_FILE} is not a JSON object ({err}); fix or delete it") from err
    if fps is not None and (not isinstance(fps, (int, float)) or not fps > 0):
        raise DrivesimError(f"clip '{path.name}': {META_FILE} fps must be a positive number, got {fps!r}")
    return float(fps) if fps is not None else None


def _probe_video(cid: str, video: Path) -> tuple[int, int, int]:
    cap = cv2.VideoCapture(str(video))
    try:
        if not cap.isOpened():
            raise DrivesimError(f"clip '{cid}': cannot open {video} (unreadable or not a video OpenCV can decode); "
                                "re-encode it as H.264 mp4 or export it as a frames/ folder of PNGs")
        width, height = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        count = 0
        while cap.grab():  # the container's frame count is often wrong: count what decodes
            count += 1
    finally:
        cap.release()
    if count == 0 or width <= 0 or height <= 0:
        raise DrivesimError(f"clip '{cid}': {video} has no decodable frames; re-encode it as H.264 mp4 "
                            "or export it as a frames/ folder")
    return count, width, height


def _frame_files(cid: str, frames_dir: Path) -> tuple[Path, ...]:
    files = [p for p in frames_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES]
    if not files:
        raise DrivesimError(f"clip '{cid}': {frames_dir} holds no .png/.jpg frames")
    bad = [p.name for p in files if not re.fullmatch(r"\d+", p.stem)]
    if bad:
        raise DrivesimError(f"clip '{cid}': frame files must be numbered (000000.png, 000001.png, ...); "
                            f"found {bad[:3]}")
    return tuple(sorted(files, key=lambda p: int(p.stem)))


def _read_labels(cid: str, path: Path, width: int, height: int) -> list[FrameConditions]:
    out = []
    lines = path.read_text(encoding="utf-8").splitlines()
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            if any(rest.strip() for rest in lines[n:]):
                raise DrivesimError(f"clip '{cid}': {LABELS_FILE} line {n} is empty; one JSON line per frame")
            break
        try:
            fc = FrameConditions.from_json(json.loads(line), width=width, height=height)
        except (ValueError, KeyError, TypeError) as err:
            raise DrivesimError(f"clip '{cid}': {LABELS_FILE} line {n} is not a valid label line ({err!r}); "
                                f"expected the `drivesim plan` format ({_DOCS})") from err
        if fc.index != n - 1:
            raise DrivesimError(f"clip '{cid}': {LABELS_FILE} line {n} has index {fc.index}, expected {n - 1}; "
                                "lines must be in frame order, starting at 0")
        for b in fc.boxes:
            x0, y0, x1, y1 = b.bbox_xyxy
            tol_x, tol_y = BOX_TOLERANCE * width + 1, BOX_TOLERANCE * height + 1
            if not (-tol_x <= x0 <= x1 <= width + tol_x and -tol_y <= y0 <= y1 <= height + tol_y):
                raise DrivesimError(
                    f"clip '{cid}': {LABELS_FILE} line {n}, box '{b.track_id}' {list(b.bbox_xyxy)} does not fit "
                    f"the {width}x{height} frames; boxes must be x0<=x1, y0<=y1 in the stored frames' pixels "
                    f"(rescale labels made at another resolution, {_DOCS})")
        out.append(fc)
    return out


def _attach_roads(cid: str, path: Path, conditions: list[FrameConditions]) -> list[FrameConditions]:
    """Synth clips carry their scenario: give every frame its RoadState (ego speed, lanes, travel)."""
    scenario_file = path / SCENARIO_FILE
    if not scenario_file.is_file():
        return conditions
    from drivesim.scenario.engine import ScenarioEngine
    from drivesim.sources import read_scenario

    engine = ScenarioEngine(read_scenario(scenario_file))
    return [replace(fc, road=engine.road_state(fc.timestamp_s)) for fc in conditions]


# --- frame reading -----------------------------------------------------------------------------

class _FrameReader:
    """Reads a clip's frames as RGB uint8, optionally keeping decoded frames in memory."""

    def __init__(self, cache: bool):
        self.cache = cache
        self._store: dict[tuple[str, int], np.ndarray] = {}

    def read(self, clip: Clip, indices: Sequence[int]) -> list[np.ndarray]:
        missing = [i for i in indices if (clip.clip_id, i) not in self._store]
        got = self._decode(clip, missing) if missing else {}
        if self.cache:
            self._store.update({(clip.clip_id, i): f for i, f in got.items()})
            got = {i: self._store[(clip.clip_id, i)] for i in indices}
        frames = [got[i] for i in indices]
        for f in frames:
            if f.shape[:2] != (clip.height, clip.width):
                raise DrivesimError(f"clip '{clip.clip_id}': frames change size ({f.shape[1]}x{f.shape[0]} vs "
                                    f"{clip.width}x{clip.height}); every frame of a clip must have the same size")
        return frames

    @staticmethod
    def _decode(clip: Clip, indices: Sequence[int]) -> dict[int, np.ndarray]:
        out: dict[int, np.ndarray] = {}
        if clip.video is None:
            for i in indices:
                img = cv2.imread(str(clip.frame_files[i]), cv2.IMREAD_COLOR)
                if img is None:
                    raise DrivesimError(f"clip '{clip.clip_id}': cannot read {clip.frame_files[i]}")
                out[i] = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
            return out
        wanted = set(indices)
        cap = cv2.VideoCapture(str(clip.video))
        try:
            first = min(wanted)
            # Seek to the first wanted frame; where the backend cannot land there exactly, decode from 0.
            if first > 0 and not (cap.set(cv2.CAP_PROP_POS_FRAMES, first)
                                  and int(cap.get(cv2.CAP_PROP_POS_FRAMES)) == first):
                cap.release()
                cap = cv2.VideoCapture(str(clip.video))
                first = 0
            for i in range(first, max(wanted) + 1):
                if not cap.grab():
                    break
                if i in wanted:
                    ok, img = cap.retrieve()
                    if ok:
                        out[i] = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
        finally:
            cap.release()
        if len(out) != len(wanted):
            raise DrivesimError(f"clip '{clip.clip_id}': {clip.video} ended early while decoding frames "
                                f"{sorted(wanted - set(out))[:3]}; re-encode the video")
        return out


# --- geometry: resize + crop, applied to frames and boxes alike ---------------------------------

@dataclass(frozen=True)
class Crop:
    """Source rectangle [x0, x1) x [y0, y1) (stored-frame pixels, integers) resized to the output size."""

    x0: int
    y0: int
    x1: int
    y1: int
    out_h: int
    out_w: int

    @classmethod
    def centre(cls, src_h: int, src_w: int, out_h: int, out_w: int) -> "Crop":
        return cls.sample(src_h, src_w, out_h, out_w, None)

    @classmethod
    def sample(cls, src_h: int, src_w: int, out_h: int, out_w: int, rng: np.random.Generator | None) -> "Crop":
        """The largest source window of the output's aspect ratio (shrunk by a random zoom when rng is given)."""
        aspect = out_w / out_h
        w = min(src_w, src_h * aspect)
        if rng is not None:
            w /= rng.uniform(1.0, MAX_CROP_ZOOM)
        w = max(1, int(round(w)))
        h = max(1, min(src_h, int(round(w / aspect))))
        u = rng.uniform(0, 1, 2) if rng is not None else (0.5, 0.5)
        x0, y0 = int(round((src_w - w) * u[0])), int(round((src_h - h) * u[1]))
        return cls(x0=x0, y0=y0, x1=x0 + w, y1=y0 + h, out_h=out_h, out_w=out_w)

    def image(self, frame: np.ndarray) -> np.ndarray:
        window = frame[self.y0:self.y1, self.x0:self.x1]
        shrink = window.shape[1] > self.out_w
        interpolation = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
        return cv2.resize(window, (self.out_w, self.out_h), interpolation=interpolation)

    def conditions(self, fc: FrameConditions, keep_road: bool) -> FrameConditions:
        sx, sy = self.out_w / (self.x1 - self.x0), self.out_h / (self.y1 - self.y0)
        boxes = []
        for b in fc.boxes:
            x0, y0, x1, y1 = b.bbox_xyxy
            u0, v0, u1, v1 = (x0 - self.x0) * sx, (y0 - self.y0) * sy, (x1 - self.x0) * sx, (y1 - self.y0) * sy
            c0, r0 = min(max(u0, 0.0), self.out_w), min(max(v0, 0.0), self.out_h)
            c1, r1 = min(max(u1, 0.0), self.out_w), min(max(v1, 0.0), self.out_h)
            if c1 - c0 < MIN_BOX_SIDE_PX or r1 - r0 < MIN_BOX_SIDE_PX:
                continue  # left the crop
            kept = (c1 - c0) * (r1 - r0) / max((u1 - u0) * (v1 - v0), 1e-9)
            truncation = 1.0 - (1.0 - b.truncation) * min(kept, 1.0)
            boxes.append(replace(b, bbox_xyxy=(c0, r0, c1, r1), truncation=float(min(max(truncation, 0.0), 1.0))))
        return replace(fc, boxes=tuple(boxes), width=self.out_w, height=self.out_h,
                       road=fc.road if keep_road else None)


def _to_tensor(frames: Sequence[np.ndarray]) -> torch.Tensor:
    """List of (H, W, 3) uint8 -> (T, 3, H, W) float in [-1, 1]."""
    arr = np.stack(frames).astype(np.float32) / 127.5 - 1.0
    return torch.from_numpy(arr).permute(0, 3, 1, 2).contiguous()


# --- datasets ----------------------------------------------------------------------------------

class ClipDataset(Dataset):
    """Windows of `num_frames` frames, `frame_stride` apart (stride 3 on 30 fps footage = 10 fps).

    Items: dict(frames=(T, 3, H, W) float in [-1, 1], conditions=list[FrameConditions] with boxes in
    output pixels, clip_id=str, start=int). Windows start every `hop` frames (default: back to back).
    """

    def __init__(self, root: str | Path, num_frames: int, size: tuple[int, int] = (128, 256),
                 frame_stride: int = 1, random_crop: bool = False, seed: int = 0, hop: int | None = None,
                 cache: bool = False, clips: list[Clip] | None = None):
        if num_frames < 1 or frame_stride < 1 or (hop is not None and hop < 1):
            raise DrivesimError(f"num_frames, frame_stride and hop must be >= 1 (got {num_frames}, "
                                f"{frame_stride}, {hop})")
        if size[0] < 1 or size[1] < 1:
            raise DrivesimError(f"size must be (height, width) > 0, got {size}")
        self.root, self.num_frames, self.size = Path(root), int(num_frames), (int(size[0]), int(size[1]))
        self.frame_stride, self.random_crop, self.seed = int(frame_stride), bool(random_crop), int(seed)
        self.clips = clips if clips is not None else scan_clips(root)
        self.span = (self.num_frames - 1) * self.frame_stride + 1
        step = hop or self.span
        self.windows = [(c, s) for c, clip in enumerate(self.clips)
                        for s in range(0, clip.num_frames - self.span + 1, step)]
        if not self.windows:
            longest = max(c.num_frames for c in self.clips)
            raise DrivesimError(f"no clip in {root} is long enough: a sample needs {self.span} frames "
                                f"(num_frames={num_frames}, frame_stride={frame_stride}) and the longest clip has "
                                f"{longest}; lower num_frames / frame_stride or add longer clips")
        self.epoch = 0
        self._reader = _FrameReader(cache)

    def set_epoch(self, epoch: int) -> None:
        """New random crops each epoch (still deterministic for a given seed and epoch)."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.windows)

    def crop_for(self, index: int, clip: Clip) -> Crop:
        h, w = self.size
        if not self.random_crop:
            return Crop.centre(clip.height, clip.width, h, w)
        rng = np.random.default_rng([self.seed, self.epoch, index])
        return Crop.sample(clip.height, clip.width, h, w, rng)

    def __getitem__(self, index: int) -> dict[str, Any]:
        c, start = self.windows[index]
        clip = self.clips[c]
        indices = [start + k * self.frame_stride for k in range(self.num_frames)]
        crop = self.crop_for(index, clip)
        frames = [crop.image(f) for f in self._reader.read(clip, indices)]
        conditions = [crop.conditions(clip.conditions[i], keep_road=not self.random_crop) for i in indices]
        return {"frames": _to_tensor(frames), "conditions": conditions, "clip_id": clip.clip_id, "start": start,
                "indices": torch.tensor(indices)}


class FrameDataset(Dataset):
    """Single frames for the image stages (autoencoder, spatial UNet): every `frame_stride`-th frame.

    Items: dict(frame=(3, H, W) float in [-1, 1], conditions=FrameConditions, clip_id=str, index=int).
    """

    def __init__(self, root: str | Path, size: tuple[int, int] = (128, 256), frame_stride: int = 1,
                 random_crop: bool = False, seed: int = 0, cache: bool = False, clips: list[Clip] | None = None):
        self._clips = ClipDataset(root, 1, size, frame_stride=1, random_crop=random_crop, seed=seed,
                                  hop=frame_stride, cache=cache, clips=clips)

    def set_epoch(self, epoch: int) -> None:
        self._clips.set_epoch(epoch)

    def __len__(self) -> int:
        return len(self._clips)

    def __getitem__(self, index: int) -> dict[str, Any]:
        item = self._clips[index]
        return {"frame": item["frames"][0], "conditions": item["conditions"][0], "clip_id": item["clip_id"],
                "index": item["start"]}


class PatchDataset(Dataset):
    """Upsampler training pairs: random `patch` x `patch` crops of full-resolution frames and the same
    crops downsampled by `factor` (INTER_AREA), for `num_frames` consecutive frames at one position.

    Items: dict(high=(T, 3, P, P), low=(T, 3, P/f, P/f), both in [-1, 1], clip_id=str, start=int).
    The paper trains its x4 upsampler on 80x80 patches and applies it convolutionally to full frames.
    """

    def __init__(self, root: str | Path, patch: int = 80, factor: int = 4, num_frames: int = 1,
                 frame_stride: int = 1, seed: int = 0, cache: bool = False, clips: list[Clip] | None = None):
        if patch < factor or patch % factor:
            raise DrivesimError(f"patch ({patch}) must be a positive multiple of factor ({factor})")
        self.patch, self.factor, self.seed = int(patch), int(factor), int(seed)
        # Geometry is handled here; the inner dataset only picks windows and reads frames.
        self._clips = ClipDataset(root, num_frames, (patch, patch), frame_stride=frame_stride, seed=seed,
                                  cache=cache, clips=clips)
        small = [c.clip_id for c in self._clips.clips if min(c.height, c.width) < patch]
        if small:
            raise DrivesimError(f"clips {small[:3]} are smaller than the {patch}px patch; use a smaller patch "
                                "or higher-resolution clips for the upsampler")
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self._clips)

    def __getitem__(self, index: int) -> dict[str, Any]:
        ds = self._clips
        c, start = ds.windows[index]
        clip = ds.clips[c]
        indices = [start + k * ds.frame_stride for k in range(ds.num_frames)]
        rng = np.random.default_rng([self.seed, self.epoch, index, 0x5A7C])
        y0 = int(rng.integers(0, clip.height - self.patch + 1))
        x0 = int(rng.integers(0, clip.width - self.patch + 1))
        high = [f[y0:y0 + self.patch, x0:x0 + self.patch] for f in ds._reader.read(clip, indices)]
        side = self.patch // self.factor
        low = [cv2.resize(f, (side, side), interpolation=cv2.INTER_AREA) for f in high]
        return {"high": _to_tensor(high), "low": _to_tensor(low), "clip_id": clip.clip_id, "start": start}


def collate_clips(batch: list[dict[str, Any]]) -> dict[str, Any]:
    """Stack tensors along a new batch axis; keep everything else (FrameConditions lists, ids) as lists."""
    out: dict[str, Any] = {}
    for key in batch[0]:
        values = [item[key] for item in batch]
        out[key] = torch.stack(values) if isinstance(values[0], torch.Tensor) else values
    return out


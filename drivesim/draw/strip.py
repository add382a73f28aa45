"""A picture of generated clips: frames of `drivesim generate` OUT folders with their label boxes drawn.

One row per OUT folder, `count` frames per row spread evenly over the clip (or the frames you
name), each with its boxes in their class colours (and, given each folder's `ScenarioLanes`, its lane
lines: painted lines green, dashed ones dashed, road edges red), a caption with the folder's name and the
frame's time. The README's strip is made this way (README.md says the exact commands).

    drivesim generate scenarios/night_merge.yaml -o out/night_merge
    drivesim strip out/city_day out/night_merge -o docs/strip.jpg --count 4 --width 1600
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from drivesim.errors import DrivesimError
from drivesim.draw.overlay import draw_boxes, draw_lane_lines
from drivesim.scenario.lane_frames import ScenarioLanes
from drivesim.scenario.labels import FrameConditions
from drivesim.output.files import atomic_write_bytes

__all__ = ["read_generated", "strip_image", "write_strip"]

GAP_PX = 4  # between tiles, in the background colour
CAPTION_PX = 22  # the caption bar above each row
BACKGROUND = (24, 24, 24)


def read_generated(out: Path) -> list[FrameConditions]:
    """The labels of a `drivesim generate` OUT folder, one per frame, checked against its PNG frames."""
    out = Path(out)
    labels = out / "labels.jsonl"
    if not labels.is_file() or not (out / "frames").is_dir():
        raise DrivesimError(f"{out} is not a `drivesim generate` output folder (no labels.jsonl and frames/); "
                            f"make one with `drivesim generate SCENARIO -o {out}`")
    frames = []
    with labels.open() as f:
        for line_no, line in enumerate(f, 1):
            try:
                frames.append(FrameConditions.from_json(json.loads(line)))
            except (ValueError, KeyError, TypeError) as err:
                raise DrivesimError(f"{labels}:{line_no}: not a label line ({err})") from None
    if not frames:
        raise DrivesimError(f"{labels} is empty: the folder holds no frames")
    return frames


def _frame(out: Path, index: int) -> np.ndarray:
    path = Path(out) / "frames" / f"{index:06d}.png"
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise DrivesimError(f"{path} is missing or not a PNG; the OUT folder is incomplete, generate it again")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def strip_image(folders: Sequence[Path], count: int = 4, frames: Sequence[int] | None = None,
                width: int = 1600, lanes: Sequence[ScenarioLanes | None] | None = None) -> np.ndarray:
    """(H, width, 3) uint8 RGB: one row per folder, `count` evenly spaced frames (or `frames`) each; `lanes`:
    one per folder (None: no lane lines), the lanes of the scenario and seed that made it."""
    if not folders:
        raise DrivesimError("strip: name at least one OUT folder")
    if lanes is not None and len(lanes) != len(folders):
        raise DrivesimError(f"strip: {len(lanes)} lane sources for {len(folders)} folders")
    if count < 1:
        raise DrivesimError(f"strip: --count must be >= 1, got {count}")
    rows = []
    for k, out in enumerate(folders):
        labels = read_generated(out)
        road = lanes[k] if lanes is not None else None
        picks = list(frames) if frames else \
            [round(i) for i in np.linspace(0, len(labels) - 1, count + 2)[1:-1]] if count < len(labels) \
            else list(range(len(labels)))
        bad = [i for i in picks if not 0 <= i < len(labels)]
        if bad:
            raise DrivesimError(f"strip: {out} has frames 0..{len(labels) - 1}; frame(s) {bad} do not exist")
        tile_w = (width - GAP_PX * (len(picks) - 1)) // len(picks)
        tiles = []
        for i in picks:
            image = _frame(out, i)
            fc = labels[i]
            # generate writes frames at the camera size, the labels' pixel frame: no scaling
            if road is not None:
                image = draw_lane_lines(image, road.labels(fc)[0])
            shown = draw_boxes(image, fc.boxes, caption_min_height_px=image.shape[0] / 12)
            tile_h = round(tile_w * image.shape[0] / image.shape[1])
            tile = cv2.resize(shown, (tile_w, tile_h), interpolation=cv2.INTER_AREA)
            cv2.putText(tile, f"{fc.timestamp_s:.1f} s", (6, tile_h - 8), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                        (255, 255, 255), 1, cv2.LINE_AA)
            tiles.append(tile)
        h = max(t.shape[0] for t in tiles)
        row = np.full((CAPTION_PX + h, width, 3), BACKGROUND, np.uint8)
        cv2.putText(row, Path(out).name, (6, CAPTION_PX - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (235, 235, 235), 1,
                    cv2.LINE_AA)
        for k, tile in enumerate(tiles):
            x = k * (tile_w + GAP_PX)
            row[CAPTION_PX:CAPTION_PX + tile.shape[0], x:x + tile_w] = tile
        rows.append(row)
    return np.concatenate(rows)


def write_strip(folders: Sequence[Path], path: Path, count: int = 4, frames: Sequence[int] | None = None,
                width: int = 1600, quality: int = 85,
                lanes: Sequence[ScenarioLanes | None] | None = None) -> np.ndarray:
    """strip_image(...) written to `path` (JPEG or PNG by its suffix), atomically."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".jpg", ".jpeg", ".png"):
        raise DrivesimError(f"strip: {path} must end in .jpg, .jpeg or .png")
    image = strip_image(folders, count, frames, width, lanes)
    params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)] if suffix != ".png" else []
    ok, data = cv2.imencode(suffix, cv2.cvtColor(image, cv2.COLOR_RGB2BGR), params)
    if not ok:
        raise DrivesimError(f"strip: could not encode {path.name}")
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, data.tobytes())
    return image

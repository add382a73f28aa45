"""`drivesim synth-data`: render random scenarios into a training folder in the real-data format.

    drivesim synth-data -o data/synth --clips 200 --frames 16 --size 128x256 --fps 10 --seed 0 --workers 2
    python -c "from drivesim.data.synth import *; print(clip_scenario_yaml(SynthConfig('', 1, 16, mix='world'), 3))"

Each clip is one random scenario (`random_scenarios.py`, of the roads of `SynthConfig.mix`: `v1`, the
default, version 1's straight road as it always was; `world` bends, two-way roads, junctions) run
through the scenario engine, so its labels are exact, and drawn by the procedural renderer (`render/`):

    DIR/clip_000000/frames/000000.png ...   RGB frames at --size
    DIR/clip_000000/labels.jsonl            one FrameConditions.to_json() line per frame
                                            (byte-identical to `drivesim plan scenario.yaml`)
    DIR/clip_000000/scenario.yaml           the sampled scenario (camera = the frame size)
    DIR/clip_000000/road.xodr               its road network, where it is read from a file (junctions)
    DIR/clip_000000/meta.json               fps, size, frame count, seeds (and the mix, if not v1)

Clip i depends only on (--seed, i, --frames, --fps, --size, mix): the output is deterministic and
a rerun skips finished clips (each is written to a hidden temp folder and renamed when complete).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import yaml

from drivesim.errors import DrivesimError

META_FILE = "meta.json"
GENERATOR = "drivesim synth-data"
ROAD_FILE = "road.xodr"  # a clip's copy of its road network file: the clip folder stands alone
DEFAULT_MIX = "v1"
_TMP_PREFIX = ".tmp-"


@dataclass(frozen=True)
class SynthConfig:
    output: str  # the dataset folder
    clips: int
    frames: int  # frames per clip
    height: int = 128
    width: int = 256
    fps: float = 10.0
    seed: int = 0
    workers: int = 1
    mix: str = DEFAULT_MIX  # which roads are drawn: random_scenarios.MIXES

    def validate(self) -> None:
        from drivesim.data.random_scenarios import MIXES

        problems = []
        if self.mix not in MIXES:
            problems.append(f"--mix must be one of {', '.join(MIXES)} (got {self.mix!r})")
        if self.clips < 1:
            problems.append(f"--clips must be >= 1 (got {self.clips})")
        if self.frames < 1:
            problems.append(f"--frames must be >= 1 (got {self.frames})")
        if not (8 <= self.height <= 4096 and 8 <= self.width <= 4096):
            problems.append(f"--size must be between 8x8 and 4096x4096 (got {self.height}x{self.width})")
        if not 0 < self.fps <= 120:
            problems.append(f"--fps must be in (0, 120] (got {self.fps})")
        if not 0 <= self.seed < 2**31:
            problems.append(f"--seed must be in 0..2^31-1 (got {self.seed})")
        if self.workers < 1:
            problems.append(f"--workers must be >= 1 (got {self.workers})")
        if self.frames / self.fps > 3600:
            problems.append("--frames / --fps must be at most 3600 s per clip")
        if problems:
            raise DrivesimError("synth-data: " + "; ".join(problems))


def clip_id(index: int) -> str:
    return f"clip_{index:06d}"


def clip_scenario_yaml(cfg: SynthConfig, index: int, road_file: str | None = None) -> str:
    """The scenario file text of clip `index` (what scenario.yaml will hold, with `road_file` naming the
    clip's copy of a road network file; without it the text names the drawn file by its full path)."""
    from drivesim.data.random_scenarios import random_scenario

    rng = np.random.default_rng([cfg.seed, index])
    scenario = random_scenario(rng, cfg.frames / cfg.fps, cfg.fps, cfg.width, cfg.height, mix=cfg.mix)
    if cfg.mix == DEFAULT_MIX:  # the shipped default's data: its scenario files as they always were
        data = scenario.model_dump(mode="json", exclude_none=True)
        header = f"# {GENERATOR} --seed {cfg.seed}, clip {index}\n"
    else:  # only what was drawn: e.g. no `lane` beside an ego's `position`
        data = scenario.model_dump(mode="json", exclude_none=True, exclude_unset=True)
        header = f"# {GENERATOR} --seed {cfg.seed} --mix {cfg.mix}, clip {index}\n"
    if road_file is not None and data["road"].get("opendrive"):
        data["road"]["opendrive"] = road_file
    return header + yaml.safe_dump(data, sort_keys=False, default_flow_style=None)


def render_clip(cfg: SynthConfig, index: int) -> str:
    """Render clip `index` into cfg.output atomically; returns its id."""
    from drivesim.render.frames import render_frame
    from drivesim.scenario.engine import ScenarioEngine
    from drivesim.scenario.loader import parse_scenario

    cv2.setNumThreads(1)  # parallelism comes from the worker processes
    root = Path(cfg.output)
    cid = clip_id(index)
    text = clip_scenario_yaml(cfg, index)
    # Render what `drivesim plan scenario.yaml` will read back, so labels match it byte for byte.
    scenario = parse_scenario(text, f"{cid}/scenario.yaml")
    engine = ScenarioEngine(scenario)
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f"{_TMP_PREFIX}{cid}-", dir=root))
    except OSError as err:
        raise DrivesimError(f"cannot write into {root}: {err.strerror or err}; check the folder is writable") from err
    try:
        (tmp / "frames").mkdir()
        lines = []
        for fc in engine.frames():
            image = render_frame(engine, fc.timestamp_s, cfg.width, cfg.height)
            path = tmp / "frames" / f"{fc.index:06d}.png"
            if not cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR)):
                raise DrivesimError(f"cannot write {path}; check the disk has space")
            lines.append(json.dumps(fc.to_json()))
        (tmp / "labels.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
        if scenario.road.opendrive is not None:  # the clip reads its own copy (scenario.yaml names it)
            shutil.copyfile(scenario.road.opendrive, tmp / ROAD_FILE)
            text = clip_scenario_yaml(cfg, index, road_file=ROAD_FILE)
        (tmp / "scenario.yaml").write_text(text, encoding="utf-8")
        meta = {"fps": cfg.fps, "width": cfg.width, "height": cfg.height, "num_frames": len(lines),
                "seed": cfg.seed, "clip_index": index, "scenario_seed": scenario.seed, "generator": GENERATOR}
        if cfg.mix != DEFAULT_MIX:  # (a v1 clip's meta.json stays as it always was)
            meta["mix"] = cfg.mix
        # meta.json last: a folder with it is complete (the rename below makes that atomic anyway).
        (tmp / META_FILE).write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
        os.replace(tmp, root / cid)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return cid


def _existing_clip_ok(cfg: SynthConfig, path: Path) -> bool:
    """True when `path` is a finished clip made with these settings; raise when it conflicts."""
    meta_path = path / META_FILE
    if not meta_path.is_file():
        raise DrivesimError(f"{path} exists but has no {META_FILE}, so it was not written by synth-data; "
                            "move it away or choose another -o folder")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise DrivesimError(f"{meta_path} is unreadable ({err}); delete {path} and rerun to render it again") from err
    want = {"fps": cfg.fps, "width": cfg.width, "height": cfg.height, "num_frames": cfg.frames, "seed": cfg.seed,
            "mix": cfg.mix}
    have = {k: meta.get(k, DEFAULT_MIX if k == "mix" else None) for k in want}
    if have != want:
        raise DrivesimError(f"{path} was rendered with other settings ({have}) than this run ({want}); "
                            "use another -o folder, or rerun with the same --frames/--size/--fps/--seed/--mix")
    return True


def synth_data(cfg: SynthConfig, progress: bool = True) -> list[str]:
    """Render every missing clip of `cfg`; returns the ids of the clips rendered by this call."""
    from tqdm import tqdm

    cfg.validate()
    root = Path(cfg.output)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise DrivesimError(f"cannot create {root}: {err.strerror or err}") from err
    for stale in root.glob(f"{_TMP_PREFIX}clip_*"):  # left by an interrupted run
        shutil.rmtree(stale, ignore_errors=True)
    todo = [i for i in range(cfg.clips)
            if not ((root / clip_id(i)).exists() and _existing_clip_ok(cfg, root / clip_id(i)))]
    done: list[str] = []
    bar = tqdm(total=cfg.clips, initial=cfg.clips - len(todo), unit="clip", desc="synth-data", disable=not progress)
    try:
        if cfg.workers == 1 or len(todo) <= 1:
            for i in todo:
                done.append(render_clip(cfg, i))
                bar.update(1)
        else:
            # spawn: workers start clean (no inherited threads or locks), the same on every OS.
            ctx = multiprocessing.get_context("spawn")
            with ctx.Pool(min(cfg.workers, len(todo))) as pool:
                for cid in pool.imap_unordered(_render_clip_star, [(cfg, i) for i in todo]):
                    done.append(cid)
                    bar.update(1)
    finally:
        bar.close()
    return sorted(done)


def _render_clip_star(args: tuple[SynthConfig, int]) -> str:
    return render_clip(*args)


def parse_size(text: str) -> tuple[int, int]:
    """'128x256' -> (128, 256): height x width."""
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise DrivesimError(f"--size must be HEIGHTxWIDTH, e.g. 128x256 (got {text!r})") from None
    return h, w


"""What made a bundle's weights: each stage run appends its full settings to BUNDLE/stages.json, written by
the training code itself (no hand-written notes), so `drivesim info` can say how every part was trained.

A run's record: the resolved stage config (every field, defaults included), the command's options (batch,
seed, threads, precision, processes), `init_from` and the data folder -- as paths relative to the bundle
or to the source checkout, never absolute -- with the data's content hash and generator seed, the steps
reached and the wall time spent (summed over resumes).

    from drivesim.train.provenance import data_fingerprint
    data_fingerprint("data/synth")   # {"sha256": ..., "files": ..., "seeds": [0], "generator": ...}
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
from pathlib import Path
from typing import Any

import torch

from drivesim import __version__

__all__ = ["data_fingerprint", "portable_path", "run_record"]

META_FILE = "meta.json"  # a synth-data clip's facts (drivesim.data.synth)
CHUNK = 1 << 20


def _checkout_root() -> Path | None:
    """The source checkout drivesim runs from (the folder holding pyproject.toml), None for a wheel install."""
    root = Path(__file__).resolve().parents[2]
    return root if (root / "pyproject.toml").is_file() else None


def portable_path(path: Path | str, bundle: Path | str) -> dict[str, str]:
    """`path` relative to the source checkout when it lies inside it, else relative to the bundle folder:
    a record that means the same on another machine with the same layout."""
    path = Path(path).resolve()
    root = _checkout_root()
    if root is not None and path.is_relative_to(root):
        return {"path": path.relative_to(root).as_posix(), "relative_to": "checkout"}
    return {"path": Path(os.path.relpath(path, Path(bundle).resolve())).as_posix(), "relative_to": "bundle"}


def data_fingerprint(folder: Path | str) -> dict[str, Any]:
    """sha256 over every file of a data folder (relative names and bytes, in name order), with the seeds
    and generator the synth-data clips record: two folders with one hash hold the same training data."""
    folder = Path(folder)
    digest, files, seeds, generators = hashlib.sha256(), 0, set(), set()
    # os.walk with followlinks: a folder of links to clips (scripts/road_upsampler.sh's mix) hashes their files
    for path in sorted(Path(root, name) for root, _, names in os.walk(folder, followlinks=True) for name in names
                       if not name.startswith(".") and Path(root, name).is_file()):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        with open(path, "rb") as f:
            while chunk := f.read(CHUNK):
                digest.update(chunk)
        files += 1
        if path.name == META_FILE:
            try:
                meta = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if isinstance(meta, dict):
                seeds.add(meta.get("seed"))
                generators.add(str(meta.get("generator")))
    return {"sha256": digest.hexdigest(), "files": files, "seeds": sorted(s for s in seeds if s is not None),
            "generator": sorted(generators)}


def run_record(stage: str, config: dict[str, Any], options: Any, bundle: Path, steps: int, start_step: int,
               wall_s: float, processes: int, mixed_precision: str) -> dict[str, Any]:
    """One stage run as stages.json keeps it (see the module docstring)."""
    record: dict[str, Any] = {
        "stage": stage, "phase": config.get("phase"), "steps": steps, "resumed_from_step": start_step,
        "wall_s": round(wall_s, 1), "config": config,
        "options": {"batch": config.get("batch"), "seed": config.get("seed"), "threads": options.threads,
                    "processes": processes, "mixed_precision": mixed_precision, "save_dtype": options.save_dtype,
                    "workers": options.workers, "overrides": dict(options.overrides)},
        "data": {**portable_path(options.data, bundle), **data_fingerprint(options.data)},
        "init_from": portable_path(options.init_from, bundle) if options.init_from else None,
        "versions": {"drivesim": __version__, "torch": torch.__version__, "python": platform.python_version()},
    }
    return record

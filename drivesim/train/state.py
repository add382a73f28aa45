"""Resumable training state and the bundle's record of trained stages: safetensors + JSON, no pickle.

A stage's state lives in BUNDLE/.train/RUN/ (RUN = the stage, or `upsampler-temporal`):

    state.json              the commit point: step, options, EMA / optimizer metadata, snapshot name
    step-00000500/*.safetensors  model, ema, optimizer (+ disc, disc_optimizer) tensors of that step
    log.csv, previews/      written by the loop

A snapshot folder is written completely (temp name + os.replace) before state.json is
atomically replaced to point at it, and only then are older snapshots deleted: an
interrupted save leaves the previous state intact. Optimizer state_dicts are split into their
tensors (safetensors, keys `state.<param>.<name>`) and everything else (JSON).

BUNDLE/stages.json records which stages have been trained (read by later stages' checks):

    python -c "from drivesim.train.state import trained_stages; print(trained_stages('checkpoints/default'))"
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import Tensor

from drivesim.errors import DrivesimError
from drivesim.output.files import atomic_write_text

__all__ = ["STATE_FILE", "RECORD_FILE", "flatten_optimizer", "unflatten_optimizer", "save_state", "load_state",
           "has_state", "read_record", "trained_stages", "record_stage"]

STATE_FILE = "state.json"
RECORD_FILE = "stages.json"
_SNAPSHOT_PREFIX = "step-"


# --- optimizer state_dict <-> (tensors, JSON) ----------------------------------------------------

def flatten_optimizer(state_dict: dict[str, Any]) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """Split `optimizer.state_dict()` into safetensors-able tensors and JSON-able metadata."""
    tensors: dict[str, Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for pid, entry in state_dict["state"].items():
        for key, value in entry.items():
            if isinstance(value, Tensor):
                tensors[f"state.{pid}.{key}"] = value.detach().cpu().contiguous()
            else:
                scalars.setdefault(str(pid), {})[key] = value
    meta = {"param_groups": state_dict["param_groups"], "scalars": scalars,
            "param_ids": [str(pid) for pid in state_dict["state"]]}
    json.dumps(meta)  # fail here, not half-way through a save, if something is not JSON-able
    return tensors, meta


def unflatten_optimizer(tensors: dict[str, Tensor], meta: dict[str, Any]) -> dict[str, Any]:
    """Inverse of `flatten_optimizer` (lists in param groups become tuples again, e.g. betas)."""
    state: dict[int, dict[str, Any]] = {int(pid): dict(meta["scalars"].get(pid, {})) for pid in meta["param_ids"]}
    for key, value in tensors.items():
        _, pid, name = key.split(".", 2)
        state[int(pid)][name] = value
    groups = [{k: (tuple(v) if isinstance(v, list) and k != "params" else v) for k, v in g.items()}
              for g in meta["param_groups"]]
    return {"state": state, "param_groups": groups}


# --- snapshots ---------------------------------------------------------------------------------

def has_state(folder: Path) -> bool:
    return (Path(folder) / STATE_FILE).is_file()


def save_state(folder: Path, step: int, tensors: dict[str, dict[str, Tensor]], meta: dict[str, Any]) -> None:
    """Write one snapshot (`tensors`: file stem -> tensors) and commit it with state.json."""
    folder = Path(folder)
    name = f"{_SNAPSHOT_PREFIX}{step:08d}"
    current = _read_json(folder / STATE_FILE) if has_state(folder) else None
    if current is not None and current.get("snapshot") == name:
        return  # this step is already committed (e.g. interrupted right after a save)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".tmp", dir=folder))
        try:
            for stem, part in tensors.items():
                path = staging / f"{stem}.safetensors"
                save_file({k: v.detach().cpu().contiguous() for k, v in part.items()}, str(path))
                with open(path, "rb") as f:
                    os.fsync(f.fileno())
            shutil.rmtree(folder / name, ignore_errors=True)  # an uncommitted leftover of this step
            os.replace(staging, folder / name)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    except OSError as err:
        raise DrivesimError(f"cannot write training state to {folder}: {err.strerror or err}. "
                            "Check that the folder is writable and the disk has space.") from err
    record = {**meta, "step": int(step), "snapshot": name, "files": sorted(tensors), "saved_at": time.time()}
    atomic_write_text(folder / STATE_FILE, json.dumps(record, indent=1) + "\n")
    for old in folder.glob(f"{_SNAPSHOT_PREFIX}*"):  # older snapshots are no longer referenced
        if old.name != name:
            shutil.rmtree(old, ignore_errors=True)
    for stale in folder.glob(f".{_SNAPSHOT_PREFIX}*.tmp"):
        shutil.rmtree(stale, ignore_errors=True)


def load_state(folder: Path) -> tuple[dict[str, Any], dict[str, dict[str, Tensor]]]:
    """(state.json contents, file stem -> tensors) of the committed snapshot."""
    folder = Path(folder)
    meta = _read_json(folder / STATE_FILE)
    snapshot = folder / str(meta.get("snapshot", ""))
    tensors = {}
    for stem in meta.get("files", []):
        path = snapshot / f"{stem}.safetensors"
        try:
            tensors[stem] = load_file(str(path))
        except (SafetensorError, OSError, ValueError) as err:
            raise DrivesimError(f"training state {folder} is damaged ({path.name}: {err}); delete {folder} "
                                "and train the stage again without --resume") from err
    return meta, tensors


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise DrivesimError(f"cannot read {path} ({err}); delete {path.parent} to start the stage over") from err
    if not isinstance(data, dict):
        raise DrivesimError(f"{path} is not a JSON object; delete {path.parent} to start the stage over")
    return data


# --- the bundle's record of trained stages -------------------------------------------------------

def read_record(bundle: Path) -> dict[str, Any]:
    """BUNDLE/stages.json as {"stages": {name: info}} (empty when absent)."""
    path = Path(bundle) / RECORD_FILE
    if not path.is_file():
        return {"version": 1, "stages": {}}
    data = _read_json(path)
    if not isinstance(data.get("stages"), dict):
        raise DrivesimError(f"{path} has no 'stages' mapping; delete it (the stages will count as untrained)")
    return data


def trained_stages(bundle: Path) -> list[str]:
    """Names of the stages whose weights in this bundle were trained (not random)."""
    return sorted(read_record(bundle)["stages"])


def record_stage(bundle: Path, stage: str, info: dict[str, Any], invalidates: tuple[str, ...] = ()) -> list[str]:
    """Mark `stage` trained (merging `info`, e.g. its phases); drop the stages that were trained on
    top of its old weights (`invalidates`). Returns the names dropped."""
    data = read_record(bundle)
    stages = data["stages"]
    entry = stages.get(stage, {})
    info = dict(info)
    phases = {**entry.get("phases", {}), **info.pop("phases", {})}
    runs = [*entry.get("runs", []), *([info.pop("run")] if "run" in info else [])]  # every run, appended
    stages[stage] = {**entry, **info, **({"phases": phases} if phases else {}), **({"runs": runs} if runs else {})}
    dropped = [name for name in invalidates if name in stages]
    for name in dropped:
        del stages[name]
    atomic_write_text(Path(bundle) / RECORD_FILE, json.dumps(data, indent=1, sort_keys=True) + "\n")
    return dropped


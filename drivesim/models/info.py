"""What is in a checkpoint bundle: per part its file, parameter counts (spatial / temporal),
dtype and size on disk, then the config as a table. Reads only the safetensors headers.

    drivesim info checkpoints/tiny
    python -c "from drivesim.models.info import format_bundle_info; print(format_bundle_info('checkpoints/tiny'))"
"""

from __future__ import annotations

import json

import math
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open

from drivesim.errors import BundleError
from drivesim.models.bundle import (PART_SPECS, STUDENT_PARTS, TEACHER_MODELS, PartSpec, bundle_sha256, construct_models,
                                    part_file, read_bundle_config)
from drivesim.models.configs import BundleConfig, config_to_dict

__all__ = ["PartInfo", "bundle_info", "format_bundle_info", "missing_parts"]


@dataclass
class PartInfo:
    part: str
    file: str
    present: bool
    num_params: int = 0  # tensor elements in the file
    spatial: int = 0
    temporal: int = 0
    dtype: str = "-"  # "float16", or "float16+int64" for mixed files
    size_bytes: int = 0


def _temporal_predicates(config: BundleConfig) -> dict[str, object]:
    """Each model's is_temporal_parameter, from models built on the meta device (no memory, no init)."""
    with torch.device("meta"):
        models = construct_models(config)
    return {name: getattr(m, "is_temporal_parameter", lambda _name: False) for name, m in models.items()}


def bundle_info(folder: Path | str) -> tuple[BundleConfig, list[PartInfo]]:
    """The config and one PartInfo per part, then per student the config lists (missing ones have present=False)."""
    folder = Path(folder)
    config = read_bundle_config(folder)
    is_temporal = _temporal_predicates(config)
    infos = []
    students = [PartSpec(STUDENT_PARTS[name], TEACHER_MODELS[name], "all") for name in config.students.present()]
    for spec in [*PART_SPECS, *students]:
        path = part_file(folder, spec.name)
        info = PartInfo(part=spec.name, file=path.relative_to(folder).as_posix(), present=path.is_file())
        if info.present:
            info.size_bytes = path.stat().st_size
            dtypes = set()
            try:
                with safe_open(str(path), framework="pt") as f:
                    for key in f.keys():
                        tensor = f.get_slice(key)
                        n = math.prod(tensor.get_shape())
                        dtypes.add(str(tensor.get_dtype()))
                        info.num_params += n
                        if is_temporal[spec.model](key):
                            info.temporal += n
                        else:
                            info.spatial += n
            except (SafetensorError, OSError) as err:
                raise BundleError(f"part {spec.name!r} ({path}) is not a readable safetensors file: {err}") from err
            info.dtype = "+".join(sorted(_dtype_name(d) for d in dtypes)) or "-"
        infos.append(info)
    return config, infos


_DTYPE_NAMES = {"F16": "float16", "BF16": "bfloat16", "F32": "float32", "F64": "float64", "I64": "int64",
                "I32": "int32", "BOOL": "bool", "U8": "uint8"}


def _dtype_name(code: str) -> str:
    return _DTYPE_NAMES.get(code.upper(), code)


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"


def _table(rows: list[list[str]], right: set[int]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))).rstrip()
            for r in rows]


def _value(value: object) -> str:
    return str(tuple(value)) if isinstance(value, (list, tuple)) else str(value)


def _config_lines(config: BundleConfig) -> list[str]:
    """Top-level fields (plus derived sizes) first, then one indented block per sub-config."""
    data = config_to_dict(config)
    top = [[k, _value(v)] for k, v in data.items() if not isinstance(v, dict)]
    top += [["latent_size", _value(config.latent_size)], ["output_size", _value(config.output_size)],
            ["interpolation_passes", str(config.interpolation_passes)]]
    lines = ["config:", *("  " + r for r in _table(top, right=set()))]
    for section, fields in data.items():
        if isinstance(fields, dict):
            lines += [f"  {section}:", *("    " + r for r in _table([[k, _value(v)] for k, v in fields.items()],
                                                                   right=set()))]
    return lines


def format_bundle_info(folder: Path | str, with_hash: bool = False) -> str:
    """The human-readable report `drivesim info` prints."""
    folder = Path(folder)
    config, infos = bundle_info(folder)
    lines = [f"bundle {folder}  (config {config.name!r})"]
    if with_hash and all(i.present for i in infos):
        lines.append(f"sha256 {bundle_sha256(folder)}")
    rows = [["part", "file", "params", "spatial", "temporal", "dtype", "size"]]
    for i in infos:
        if i.present:
            rows.append([i.part, i.file, f"{i.num_params:,}", f"{i.spatial:,}", f"{i.temporal:,}", i.dtype,
                         _size(i.size_bytes)])
        else:
            rows.append([i.part, i.file, "MISSING", "-", "-", "-", "-"])
    present = [i for i in infos if i.present]
    rows.append(["total", "", f"{sum(i.num_params for i in present):,}", f"{sum(i.spatial for i in present):,}",
                 f"{sum(i.temporal for i in present):,}", "", _size(sum(i.size_bytes for i in present))])
    lines += ["", *_table(rows, right={2, 3, 4, 6})]
    lines += ["", *_config_lines(config)]
    lines += ["", *_training_lines(folder)]
    return "\n".join(lines)


def _training_lines(folder: Path) -> list[str]:
    """How the parts were trained, as BUNDLE/stages.json records it (written by `drivesim train` and
    `drivesim bundle`): each stage, each of its runs' settings, and the edits made after training."""
    path = folder / "stages.json"
    if not path.is_file():
        return ["training record: none (no stages.json: no stage is known to be trained)"]
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        return [f"training record: {path} cannot be read ({err})"]
    lines = ["training record (stages.json):"]
    for name, entry in sorted(record.get("stages", {}).items()):
        phases = ", ".join(f"{p} {v.get('steps')}" for p, v in entry.get("phases", {}).items())
        lines.append(f"  {name}: {entry.get('steps')} steps{f' ({phases})' if phases else ''}, "
                     f"trained {entry.get('trained_at', '?')}")
        runs = entry.get("runs", [])
        if not runs:
            lines.append("    no run record (trained before drivesim recorded its settings)")
        for run in runs:
            cfg, data = run.get("config", {}), run.get("data", {})
            phase = f" ({run['phase']})" if run.get("phase") else ""
            lines.append(f"    run{phase}: "
                         f"steps {run.get('resumed_from_step', 0)}->{run.get('steps')}, {run.get('wall_s')} s, "
                         f"batch {cfg.get('batch')}, lr {cfg.get('lr')}, seed {cfg.get('seed')}")
            lines.append(f"      data {data.get('path')} ({data.get('relative_to')}), sha256 {str(data.get('sha256'))[:16]}, "
                         f"{data.get('files')} files, seeds {data.get('seeds')}")
            if run.get("init_from"):
                lines.append(f"      init_from {run['init_from']['path']} ({run['init_from']['relative_to']})")
            others = {k: v for k, v in cfg.items() if k not in ("batch", "lr", "seed", "steps", "phase")}
            lines.append("      config " + ", ".join(f"{k}={_value(v)}" for k, v in others.items()))
    for edit in record.get("edits", []):
        if "set" in edit:
            what = f"set {', '.join(f'{k}={v}' for k, v in edit['set'].items())}"
        elif "drop_students" in edit:
            what = f"dropped the students of {', '.join(edit['drop_students'])}"
        else:
            what = f"merged {', '.join(edit.get('merge', []))} from {edit.get('from', {}).get('path')}"
        lines.append(f"  edit {edit.get('at', '?')}: {what}")
    return lines


def missing_parts(folder: Path | str) -> list[str]:
    """Names of the parts whose files are absent."""
    return [spec.name for spec in PART_SPECS if not part_file(Path(folder), spec.name).is_file()]


"""Edits of a bundle folder after training: a part trained in another bundle merged in, config values set,
few-step students dropped.

    drivesim bundle merge BUNDLE --from OTHER --part upsampler
    drivesim bundle set BUNDLE upsampler_diffusion.num_inference_steps=2 diffusion.guidance_scale=2.0
    drivesim bundle drop-student BUNDLE upsampler

A part trained on its own (the pixel upsampler does not depend on the latent stages, so the training
scripts train it in a second bundle beside the first) is merged with `merge_parts`: its file, its
config section and its stage's entry in stages.json. Sampling defaults chosen after training go into
config.yaml with `set_config_values`, each value typed by the config schema.

Before anything is written, the edited config must validate and every part file must hold the
tensors and shapes that config builds (the check `load_bundle` makes, from the file headers): an
edit cannot leave a bundle that no longer loads. Files are replaced atomically, the part files
first and config.yaml after them, as `save_bundle` does.

    python -c "from drivesim.train.bundle_edit import set_config_values; \
        print(set_config_values('my_bundle', {'diffusion.guidance_scale': '2.0'}))"
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
import time
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from drivesim.errors import BundleError, DrivesimError
from drivesim.models.bundle import (CONFIG_FILE, PART_SPECS, PARTS, STUDENT_PARTS, check_part_files, part_file,
                                    read_bundle_config)
from drivesim.models.config_schema import validate_config_dict
from drivesim.models.configs import STUDENT_MODELS, BundleConfig, config_from_dict
from drivesim.output.files import atomic_write_text
from drivesim.train.provenance import portable_path
from drivesim.train.state import RECORD_FILE, read_record

__all__ = ["config_sections", "drop_students", "merge_parts", "parse_assignments", "set_config_values"]


def config_sections(parts: Iterable[str]) -> list[str]:
    """The config sections that come with `parts`: each part's model's section. decoder_temporal has
    none of its own (its layers follow `autoencoder`, which also holds the autoencoder weights'
    scaling factor), so that section comes only with the autoencoder part."""
    models = {spec.model for spec in PART_SPECS if spec.name in set(parts)}
    return [name for name in ("autoencoder", "unet", "interpolator", "upsampler") if name in models]


def merge_parts(bundle: Path | str, source: Path | str, parts: Sequence[str]) -> list[str]:
    """Copy `parts` (names from PARTS) of bundle `source` into `bundle`: the part files, their config
    sections (`config_sections`) and the stages.json entries of the stages that train them (a stage
    `source` has not trained is dropped from `bundle`'s record, as are the stages trained on top of
    a replaced part's old weights). Returns the config sections copied."""
    bundle, source = Path(bundle), Path(source)
    parts = list(dict.fromkeys(parts))
    unknown = [p for p in parts if p not in PARTS]
    if unknown or not parts:
        raise DrivesimError(f"merge: unknown part(s) {unknown}; parts are {', '.join(PARTS)}" if unknown
                            else "merge: name at least one part to take from the other bundle")
    if bundle.resolve() == source.resolve():
        raise DrivesimError(f"merge: {bundle} is both the bundle and the source")
    read_bundle_config(source)  # a source that does not validate is named as the source
    config = _read_config_dict(bundle)
    source_config = _read_config_dict(source)
    sections = config_sections(parts)
    for name in sections:
        config[name] = source_config[name]
    _check_edited(bundle, config, {p: (source if p in parts else bundle) for p in PARTS},
                  f"taking {', '.join(parts)} from {source}")

    record = _merged_record(bundle, source, parts)
    _append_edit(record, {"merge": list(parts), "from": portable_path(source, bundle)})
    for part in parts:  # the part files first, config.yaml after them (as save_bundle writes)
        _atomic_copy(part_file(source, part), part_file(bundle, part))
    _write_config(bundle, config)
    atomic_write_text(bundle / RECORD_FILE, json.dumps(record, indent=1, sort_keys=True) + "\n")
    return sections


def parse_assignments(items: Iterable[str]) -> dict[str, str]:
    """`["diffusion.guidance_scale=2.0", ...]` -> {"diffusion.guidance_scale": "2.0", ...}."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise DrivesimError(f"expected KEY=VALUE (e.g. diffusion.guidance_scale=2.0), got {item!r}")
        out[key.strip()] = value.strip()
    return out


def set_config_values(bundle: Path | str, values: Mapping[str, Any]) -> dict[str, Any]:
    """Set config.yaml values of `bundle`, by dotted key (`diffusion.guidance_scale`). A text value
    is read as YAML, as it would be written in config.yaml, then given the type the schema has for
    its key (an integer for a float key becomes a float; text for a text key stays text). A key the
    config does not have, or a value the config rejects, is a DrivesimError naming the key.
    Returns the values set, typed."""
    bundle = Path(bundle)
    if not values:
        raise DrivesimError("set: give at least one KEY=VALUE")
    config = _read_config_dict(bundle)
    typed = {key: _typed_value(key, value) for key, value in values.items()}
    for key, value in typed.items():
        *sections, name = key.split(".")
        target = config
        for depth, section in enumerate(sections):
            target = target.setdefault(section, {})  # a section left out holds the defaults: add the key
            if not isinstance(target, dict):
                raise BundleError(f"{bundle / CONFIG_FILE}: {'.'.join(sections[:depth + 1])} is not a section "
                                  f"of keys, got {target!r}")
        target[name] = value
    _check_edited(bundle, config, {p: bundle for p in PARTS}, "setting " + ", ".join(typed))
    _write_config(bundle, config)
    # settings chosen after training (sampling defaults) are part of how the bundle was made
    record = read_record(bundle)
    _append_edit(record, {"set": typed})
    atomic_write_text(bundle / RECORD_FILE, json.dumps(record, indent=1, sort_keys=True) + "\n")
    return typed


def drop_students(bundle: Path | str, models: Sequence[str]) -> list[str]:
    """Remove the few-step students of `models` (names from STUDENT_MODELS) from `bundle`: config.yaml lists
    them no more, their stages.json records go, then their files (so an interrupted drop still loads).
    Returns the students that were there (dropping one that is not is no error: a rerun script)."""
    bundle = Path(bundle)
    models = list(dict.fromkeys(models))
    unknown = [m for m in models if m not in STUDENT_MODELS]
    if unknown or not models:
        raise DrivesimError(f"drop-student: unknown model(s) {unknown}; students are {', '.join(STUDENT_MODELS)}"
                            if unknown else "drop-student: name at least one model whose student goes")
    config = _read_config_dict(bundle)
    listed = config.get("students") or {}
    present = [m for m in models if m in listed or (bundle / f"{STUDENT_PARTS[m]}.safetensors").is_file()]
    for model in models:
        listed.pop(model, None)
    if "students" in config and not listed:
        del config["students"]
    _check_edited(bundle, config, {p: bundle for p in PARTS}, "dropping the students of " + ", ".join(models))
    _write_config(bundle, config)
    record = read_record(bundle)
    for model in models:
        record["stages"].pop(f"distill-{model}", None)
    if present:
        _append_edit(record, {"drop_students": present})
    atomic_write_text(bundle / RECORD_FILE, json.dumps(record, indent=1, sort_keys=True) + "\n")
    for model in models:
        (bundle / f"{STUDENT_PARTS[model]}.safetensors").unlink(missing_ok=True)
    return present


# --- typing a value by the schema ---------------------------------------------------------------

def _field_hint(key: str) -> Any:
    """The type annotation of dotted `key` in BundleConfig (DrivesimError naming the key otherwise)."""
    cls: Any = BundleConfig
    names = key.split(".")
    for depth, name in enumerate(names):
        where = ".".join(names[:depth]) or "the top level"
        fields = [f.name for f in dataclasses.fields(cls)]
        if name not in fields:
            raise DrivesimError(f"unknown config key {key!r}: {where} has no key {name!r} "
                                f"(its keys: {', '.join(fields)})")
        hint = typing.get_type_hints(cls)[name]
        last = depth == len(names) - 1
        if dataclasses.is_dataclass(hint):
            if last:
                first = dataclasses.fields(hint)[0].name
                raise DrivesimError(f"config key {key!r} is a section; set one of its keys, e.g. {key}.{first}")
            cls = hint
        elif not last:
            raise DrivesimError(f"unknown config key {key!r}: {'.'.join(names[:depth + 1])} is a value, "
                                "not a section")
    return hint


def _allowed(hint: Any) -> tuple[Any, ...]:
    """The types a hint admits: `float | None` -> (float, NoneType)."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return tuple(typing.get_origin(a) or a for a in typing.get_args(hint))
    return (typing.get_origin(hint) or hint,)


def _typed_value(key: str, value: Any) -> Any:
    allowed = _allowed(_field_hint(key))
    if isinstance(value, str) and str not in allowed:
        try:
            value = yaml.safe_load(value)
        except yaml.YAMLError as err:
            raise DrivesimError(f"config key {key!r}: {value!r} does not read as a YAML value: {err}") from None
    if isinstance(value, int) and not isinstance(value, bool) and float in allowed and int not in allowed:
        value = float(value)  # `guidance_scale=2` means 2.0
    return list(value) if isinstance(value, tuple) else value  # YAML writes sequences as lists


# --- reading, checking, writing ------------------------------------------------------------------

def _read_config_dict(folder: Path) -> dict[str, Any]:
    path = folder / CONFIG_FILE
    if not path.is_file():
        raise BundleError(f"{folder} is not a bundle: it has no {CONFIG_FILE}")
    try:
        data = yaml.safe_load(path.read_text())
    except (yaml.YAMLError, UnicodeDecodeError, OSError) as err:
        raise BundleError(f"cannot read {path}: {err}") from err
    if not isinstance(data, dict):
        raise BundleError(f"{path} is not a mapping of config keys")
    return data


def _check_edited(bundle: Path, config: dict[str, Any], sources: Mapping[str, Path], edit: str) -> None:
    """The edited config validates, and the part files it will sit beside fit it."""
    try:
        built: BundleConfig = config_from_dict(validate_config_dict(config))
        check_part_files(built, sources)
    except DrivesimError as err:
        raise DrivesimError(f"{bundle}: {edit} would leave a bundle that does not load, so nothing was "
                            f"written: {err}") from None


def _write_config(bundle: Path, config: dict[str, Any]) -> None:
    atomic_write_text(bundle / CONFIG_FILE, yaml.safe_dump(config, sort_keys=False))


def _append_edit(record: dict[str, Any], edit: dict[str, Any]) -> None:
    """Append `edit` to the record's edits, stamped; the same edit again (a rerun script) is kept once."""
    edits = record.setdefault("edits", [])
    if not edits or {k: v for k, v in edits[-1].items() if k != "at"} != edit:
        edits.append({**edit, "at": time.strftime("%Y-%m-%dT%H:%M:%S")})


def _merged_record(bundle: Path, source: Path, parts: Sequence[str]) -> dict[str, Any]:
    """bundle's stages.json with the merged parts' stages as `source` records them."""
    from drivesim.train.stages import STAGES  # the stage -> parts registry (imports the losses: only here)

    record = read_record(bundle)
    theirs = read_record(source)["stages"]
    merged = [name for name, stage in STAGES.items() if stage.parts and set(stage.parts) <= set(parts)]
    for name in merged:  # stages trained on the replaced weights no longer hold
        for dropped in STAGES[name].invalidates:
            record["stages"].pop(dropped, None)
    for name in merged:
        if name in theirs:
            record["stages"][name] = theirs[name]
        else:
            record["stages"].pop(name, None)
    return record


def _atomic_copy(src: Path, dst: Path) -> None:
    """Copy a (possibly large) part file so readers of `dst` see the old file or the new one."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{dst.name}.", suffix=".tmp", dir=dst.parent)
        try:
            with os.fdopen(fd, "wb") as out, open(src, "rb") as inp:
                shutil.copyfileobj(inp, out, 1 << 20)
                out.flush()
                os.fsync(out.fileno())
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes private files; a bundle is shared
            os.replace(tmp, dst)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as err:
        raise BundleError(f"cannot copy {src} to {dst}: {err.strerror or err}") from err

"""Checkpoint bundle: a folder with `config.yaml` and one `.safetensors` file per part. No pickle.

Parts and what is in them (spatial = image-model weights, temporal = the video layers):

    autoencoder.safetensors       encoder + image decoder (spatial)
    decoder_temporal.safetensors  the temporal decoder's added layers (its spatial weights are the image decoder's)
    unet_spatial.safetensors      the image LDM backbone, shared by the keyframe model and the interpolator
    unet_temporal.safetensors     the keyframe / prediction model's temporal layers
    interpolator.safetensors      the interpolator's temporal layers
    upsampler.safetensors         the whole video upsampler (spatial + temporal)
    students/NAME.safetensors     optional: a few-step student of model NAME (keyframe, interpolator, upsampler),
                                  the whole network, distilled from that model (`drivesim train distill`); the
                                  config's `students` section lists them with their steps

Temporal weights live in their own files so they can be moved onto a fine-tuned copy of the
backbone (docs/method.md, "Temporal layers"): `load_bundle(finetuned, temporal_from=original)`.
In memory, shared spatial weights are one tensor: the interpolator's spatial layers are the
UNet's, and the temporal decoder's spatial layers are the autoencoder's decoder.

    python -c "from drivesim.models.bundle import *; from drivesim.models.configs import get_config; save_bundle(build_bundle(get_config('tiny')), 'out/tiny'); print(load_bundle('out/tiny').config.name)"
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
import yaml
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from drivesim.errors import BundleError, DrivesimError
from drivesim.models.autoencoder import Autoencoder
from drivesim.models.config_schema import validate_config_dict
from drivesim.models.configs import STUDENT_MODELS, BundleConfig, config_from_dict, config_to_dict
from drivesim.models.temporal_decoder import TemporalDecoder
from drivesim.models.upsampler import VideoUpsampler
from drivesim.models.video_unet import VideoUNet
from drivesim.scenario.loader import read_scenario_text, read_yaml_data

__all__ = ["Bundle", "PARTS", "TEMPORAL_PARTS", "CONFIG_FILE", "STUDENT_PARTS", "TEACHER_PARTS", "build_bundle", "grow_bundle",
           "save_bundle", "load_bundle", "read_bundle_config", "bundle_sha256", "part_file", "construct_models",
           "construct_student", "check_part_files", "teacher_sha256"]

CONFIG_FILE = "config.yaml"


@dataclass(frozen=True)
class PartSpec:
    """Which tensors of which model one part file holds."""

    name: str
    model: str  # attribute of Bundle
    select: str  # "all", "spatial" or "temporal" entries of the model's state_dict


PART_SPECS = (
    PartSpec("autoencoder", "autoencoder", "all"),
    PartSpec("decoder_temporal", "decoder", "temporal"),
    PartSpec("unet_spatial", "unet", "spatial"),
    PartSpec("unet_temporal", "unet", "temporal"),
    PartSpec("interpolator", "interpolator", "temporal"),
    PartSpec("upsampler", "upsampler", "all"),
)
PARTS = tuple(p.name for p in PART_SPECS)
TEMPORAL_PARTS = ("decoder_temporal", "unet_temporal", "interpolator")  # swapped by temporal_from
STUDENT_PARTS = {name: f"students/{name}" for name in STUDENT_MODELS}  # part name (= file stem) of each student
TEACHER_MODELS = {"keyframe": "unet", "interpolator": "interpolator", "upsampler": "upsampler"}  # Bundle attributes
TEACHER_PARTS = {"keyframe": ("unet_spatial", "unet_temporal"), "interpolator": ("unet_spatial", "interpolator"),
                 "upsampler": ("upsampler",)}  # the part files a student is distilled from


def part_file(folder: Path, part: str) -> Path:
    return Path(folder) / f"{part}.safetensors"


@dataclass
class Bundle:
    """Every model of the pipeline, built from one config."""

    config: BundleConfig
    autoencoder: Autoencoder
    decoder: TemporalDecoder
    unet: VideoUNet
    interpolator: VideoUNet
    upsampler: VideoUpsampler
    path: Path | None = None
    temporal_from: Path | None = None  # where the temporal parts were loaded from, if not `path`
    students: dict[str, nn.Module] = field(default_factory=dict)  # few-step students by model (STUDENT_MODELS)
    student_notes: dict[str, str] = field(default_factory=dict)  # why a student the config lists was not loaded

    @property
    def models(self) -> dict[str, nn.Module]:
        """Every network, the students as `NAME_student` (what moves to a device together)."""
        return {"autoencoder": self.autoencoder, "decoder": self.decoder, "unet": self.unet,
                "interpolator": self.interpolator, "upsampler": self.upsampler,
                **{f"{name}_student": model for name, model in self.students.items()}}

    def eval(self) -> "Bundle":
        for m in self.models.values():
            m.eval()
        return self


# --- building ------------------------------------------------------------------------------

def construct_models(config: BundleConfig) -> dict[str, nn.Module]:
    """The five models of a bundle, freshly initialised (build under `torch.device("meta")` for shapes only)."""
    return {"autoencoder": Autoencoder(config.autoencoder), "decoder": TemporalDecoder(config.autoencoder),
            "unet": VideoUNet(config.unet), "interpolator": VideoUNet(config.interpolator),
            "upsampler": VideoUpsampler(config.upsampler)}


def construct_student(config: BundleConfig, name: str) -> nn.Module:
    """A freshly initialised network of the architecture of the model student `name` stands in for."""
    if name not in TEACHER_MODELS:
        raise DrivesimError(f"unknown student {name!r}; students are {', '.join(STUDENT_MODELS)}")
    levels = getattr(config.students, name).temporal_attention_levels
    own = {} if levels is None else {"temporal_attention_levels": levels}  # a student may be slimmer
    if name == "upsampler":
        return VideoUpsampler(dataclasses.replace(config.upsampler, **own))
    return VideoUNet(dataclasses.replace(config.unet if name == "keyframe" else config.interpolator, **own))


def _is_temporal(model: nn.Module, name: str) -> bool:
    return bool(model.is_temporal_parameter(name)) if hasattr(model, "is_temporal_parameter") else False


def _select(model: nn.Module, state: dict[str, Tensor], select: str) -> dict[str, Tensor]:
    if select == "all":
        return dict(state)
    want = select == "temporal"
    return {k: v for k, v in state.items() if _is_temporal(model, k) == want}


def _decoder_spatial_from_autoencoder(ae_state: dict[str, Tensor]) -> dict[str, Tensor]:
    """Autoencoder state-dict names -> the temporal decoder's spatial names (same tensors)."""
    out = {}
    for key, value in ae_state.items():
        for src, dst in (("vae.decoder.", "decoder."), ("vae.post_quant_conv.", "post_quant_conv.")):
            if key.startswith(src):
                out[dst + key[len(src):]] = value
    return out


def _check_shared_spatial(config: BundleConfig, unet: VideoUNet, interpolator: VideoUNet) -> None:
    """The interpolator reuses the UNet's spatial layers: their spatial tensors must match one to one."""
    a = _select(unet, unet.state_dict(), "spatial")
    b = _select(interpolator, interpolator.state_dict(), "spatial")
    bad = sorted(k for k in set(a) | set(b) if k not in a or k not in b or a[k].shape != b[k].shape)
    if bad:
        raise DrivesimError(f"config {config.name!r}: the interpolator must share the unet's spatial layers, but "
                            f"{len(bad)} spatial tensor(s) differ (first: {bad[0]}); give `interpolator` the same "
                            "spatial settings as `unet` (channels, layers, attention, labels, layout)")


def build_bundle(config: BundleConfig, seed: int = 0) -> Bundle:
    """A bundle with random weights (reproducible from `seed`, global RNG untouched)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        models = construct_models(config)
    _check_shared_spatial(config, models["unet"], models["interpolator"])
    # Share the spatial weights in memory, exactly as the bundle files do.
    unet_spatial = _select(models["unet"], models["unet"].state_dict(keep_vars=True), "spatial")
    models["interpolator"].load_state_dict({k: v.data for k, v in unet_spatial.items()}, strict=False, assign=True)
    ae_state = {k: v.data for k, v in models["autoencoder"].state_dict(keep_vars=True).items()}
    models["decoder"].load_state_dict(_decoder_spatial_from_autoencoder(ae_state), strict=False, assign=True)
    return Bundle(config=config, **models)


def _gained_inputs(old: torch.Size, new: torch.Size) -> bool:
    """True when `new` is `old` with more input channels (dim 1) and nothing else changed."""
    return (len(old) == len(new) >= 2 and new[1] > old[1] and old[0] == new[0]
            and tuple(old[2:]) == tuple(new[2:]))


def grow_bundle(source: Path | str, config: BundleConfig, seed: int = 0) -> tuple[Bundle, list[str]]:
    """A bundle of `config` that starts from the trained bundle `source`: every tensor whose name and
    shape `source` has is copied (and its autoencoder's scaling factor); a weight that only gained
    input channels (dim 1, e.g. a conv_in given layout maps) gets the old ones copied and the new ones
    zeroed; every other tensor keeps its initialisation. Layers added with a zero-initialised output
    (e.g. the layout encoder's heads) and zeroed new inputs leave the grown model equal to the
    source. Returns the bundle and the names of the tensors that are not plain copies."""
    old = load_bundle(source)
    config = dataclasses.replace(config, autoencoder=dataclasses.replace(
        config.autoencoder, scaling_factor=old.config.autoencoder.scaling_factor))
    new = build_bundle(config, seed=seed)
    fresh: list[str] = []
    with torch.no_grad():
        for name, model in new.models.items():
            have = getattr(old, name).state_dict()
            for key, tensor in model.state_dict(keep_vars=True).items():
                old_tensor = have.get(key)
                if old_tensor is not None and old_tensor.shape == tensor.shape:
                    tensor.copy_(old_tensor)
                    continue
                if old_tensor is not None and _gained_inputs(old_tensor.shape, tensor.shape):
                    tensor.zero_()
                    tensor[:, :old_tensor.shape[1]].copy_(old_tensor)
                fresh.append(f"{name}.{key}")
    return new, fresh


# --- saving --------------------------------------------------------------------------------

def _part_tensors(bundle: Bundle, spec: PartSpec, dtype: torch.dtype) -> dict[str, Tensor]:
    model = bundle.students[spec.model] if spec.name in STUDENT_PARTS.values() else getattr(bundle, spec.model)
    out = {}
    for key, value in _select(model, model.state_dict(), spec.select).items():
        value = value.detach()
        if value.is_floating_point():
            value = value.to(dtype)
        out[key] = value.to("cpu").contiguous().clone()  # clone: safetensors refuses shared storage
    return out


def save_bundle(bundle: Bundle, folder: Path | str, dtype: torch.dtype = torch.float16,
                parts: Sequence[str] | None = None, write_config: bool = True) -> None:
    """Write config.yaml + one .safetensors per part. Files are staged in a temp folder beside
    `folder` and moved in with os.replace (config.yaml last), so no reader sees a half-written file.

    `parts` (names from PARTS, or STUDENT_PARTS of the bundle's students) replaces only those files of an
    existing bundle, and config.yaml only with `write_config`: a training stage writes what it trained, so
    two stages trained side by side on one bundle do not overwrite each other's parts with the stale copies
    they loaded. The students (`bundle.students`) are written as students/NAME.safetensors."""
    if dtype not in (torch.float16, torch.float32, torch.bfloat16):
        raise DrivesimError(f"save_bundle: dtype must be float16, bfloat16 or float32, got {dtype}")
    specs = [*PART_SPECS, *(PartSpec(STUDENT_PARTS[name], name, "all") for name in bundle.students)]
    unknown = sorted(set(parts or ()) - {spec.name for spec in specs})
    if unknown:
        raise DrivesimError(f"save_bundle: unknown part(s) {unknown}; parts are {', '.join(s.name for s in specs)}")
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise BundleError(f"cannot save a bundle to {folder}: it exists and is not a folder")
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".tmp", dir=folder.parent))
        try:
            for spec in specs:
                part_file(staging, spec.name).parent.mkdir(exist_ok=True)
                save_file(_part_tensors(bundle, spec, dtype), str(part_file(staging, spec.name)),
                          metadata={"format": "pt", "drivesim_part": spec.name, "drivesim_config": bundle.config.name})
            (staging / CONFIG_FILE).write_text(yaml.safe_dump(config_to_dict(bundle.config), sort_keys=False))
            umask = _umask()
            for path in staging.rglob("*"):
                if path.is_dir():
                    path.chmod(0o777 & ~umask)
                    continue
                path.chmod(0o666 & ~umask)  # mkstemp/mkdtemp make private files; a bundle is shared
                with open(path, "rb") as f:
                    os.fsync(f.fileno())
            staging.chmod(0o777 & ~umask)
            if not folder.exists():
                os.replace(staging, folder)  # the whole bundle appears at once
            else:
                for spec in specs:
                    if parts is None or spec.name in parts:
                        part_file(folder, spec.name).parent.mkdir(exist_ok=True)
                        os.replace(part_file(staging, spec.name), part_file(folder, spec.name))
                if write_config:
                    os.replace(staging / CONFIG_FILE, folder / CONFIG_FILE)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    except OSError as err:
        raise BundleError(f"cannot write bundle {folder}: {err.strerror or err}. "
                          "Check that the folder is writable and the disk has space.") from err


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# --- loading -------------------------------------------------------------------------------

def _require_bundle_folder(folder: Path) -> None:
    if not folder.exists():
        raise BundleError(f"bundle folder {folder} does not exist; pass the folder that holds {CONFIG_FILE} "
                          "and the .safetensors parts")
    if not folder.is_dir():
        raise BundleError(f"{folder} is not a bundle folder (a bundle is a folder with {CONFIG_FILE} and "
                          ".safetensors parts)")
    if not (folder / CONFIG_FILE).is_file():
        raise BundleError(f"{folder} is not a bundle: it has no {CONFIG_FILE}")


def read_bundle_config(folder: Path | str) -> BundleConfig:
    """Parse and validate a bundle's config.yaml (BundleError naming the file if it does not parse)."""
    folder = Path(folder)
    _require_bundle_folder(folder)
    path = folder / CONFIG_FILE
    try:
        text = read_scenario_text(path)  # capped read, UTF-8 checked: a config is YAML a user may hand over
    except DrivesimError as err:
        raise BundleError(f"cannot read {path}: {err}") from err
    # the scenario loader's guards: an alias bomb or a 5,000-digit number stops here, not in memory
    data, issues = read_yaml_data(text, str(path))
    if issues:
        raise BundleError(f"{path} does not parse: " + "; ".join(str(i) for i in issues[:5]))
    try:
        config = config_from_dict(validate_config_dict(data))  # types first: a wrong one is named by its key
    except DrivesimError as err:
        raise BundleError(f"{path} is not a valid bundle config: {err}") from err
    _check_buildable(config, path)
    return config


def _check_buildable(config: BundleConfig, path: Path) -> None:
    """Every network of `config` can be built (on the meta device: no memory, milliseconds), so a config
    whose numbers contradict each other (num_heads: 0, channels a group norm cannot split) is named here
    instead of failing with a ZeroDivisionError deep inside a model."""
    try:
        with torch.device("meta"):
            construct_models(config)
    except (ValueError, ZeroDivisionError, AssertionError, RuntimeError, TypeError) as err:
        raise BundleError(f"{path} is not a valid bundle config: its networks cannot be built with these "
                          f"settings ({type(err).__name__}: {err}); check the sizes it names (heads, channels, "
                          "groups must be >= 1 and divide each other)") from None


def _read_part(folder: Path, part: str, device: str | torch.device, dtype: torch.dtype) -> dict[str, Tensor]:
    path = part_file(folder, part)
    if not path.is_file():
        raise BundleError(f"bundle {folder} is missing part {part!r} ({path.name}); "
                          "re-save the bundle or copy the file from where it was trained")
    try:
        tensors = load_file(str(path), device=str(device))
    except (SafetensorError, OSError, ValueError) as err:
        raise BundleError(f"part {part!r} ({path}) is not a readable safetensors file: {err}") from err
    return {k: v.to(dtype) if v.is_floating_point() else v for k, v in tensors.items()}


def _check_part(part: str, folder: Path, tensors: dict[str, Tensor], expected: dict[str, Tensor]) -> None:
    """Same tensor names and shapes as the config builds, or a BundleError naming the part and tensor."""
    missing = sorted(set(expected) - set(tensors))
    extra = sorted(set(tensors) - set(expected))
    where = f"part {part!r} of bundle {folder}"
    if missing:
        raise BundleError(f"{where} lacks {len(missing)} tensor(s) the config needs, e.g. {missing[0]!r}; "
                          "the file was saved from a different config")
    if extra:
        raise BundleError(f"{where} has {len(extra)} tensor(s) the config does not build, e.g. {extra[0]!r}; "
                          "the file was saved from a different config")
    for key, want in expected.items():
        if tensors[key].shape != want.shape:
            raise BundleError(f"{where}: tensor {key!r} has shape {tuple(tensors[key].shape)} in the file but "
                              f"the config builds {tuple(want.shape)}")


def _compatible(mine: BundleConfig, other: BundleConfig, other_folder: Path) -> None:
    """Temporal layers fit a backbone of the same architecture (numbers such as scaling_factor may differ)."""
    ignore = {"autoencoder": {"scaling_factor", "temporal_alpha_init"}}
    for name in ("autoencoder", "unet", "interpolator"):
        a, b = dataclasses.asdict(getattr(mine, name)), dataclasses.asdict(getattr(other, name))
        diff = sorted(k for k in a if k not in ignore.get(name, set()) and a[k] != b.get(k))
        if diff:
            raise BundleError(f"temporal_from={other_folder}: its {name} config differs from this bundle's in "
                              f"{', '.join(f'{k} ({b.get(k)!r} vs {a[k]!r})' for k in diff)}; temporal layers "
                              "only transfer between backbones of the same architecture")


def load_bundle(folder: Path | str, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32,
                temporal_from: Path | str | None = None) -> Bundle:
    """Load a bundle (weights cast to `dtype`). With `temporal_from`, the temporal parts
    (decoder_temporal, unet_temporal, interpolator) come from that other bundle instead."""
    folder = Path(folder)
    config = read_bundle_config(folder)
    sources = {part: folder for part in PARTS}
    if temporal_from is not None:
        temporal_from = Path(temporal_from)
        _compatible(config, read_bundle_config(temporal_from), temporal_from)
        sources.update({part: temporal_from for part in TEMPORAL_PARTS})

    with torch.device("meta"):  # no random init: every tensor comes from a file
        models = construct_models(config)
    _check_shared_spatial(config, models["unet"], models["interpolator"])
    files = {}
    for spec in PART_SPECS:
        model = models[spec.model]
        tensors = _read_part(sources[spec.name], spec.name, device, dtype)
        _check_part(spec.name, sources[spec.name], tensors, _select(model, model.state_dict(), spec.select))
        files[spec.name] = tensors

    full = {
        "autoencoder": files["autoencoder"],
        "decoder": {**_decoder_spatial_from_autoencoder(files["autoencoder"]), **files["decoder_temporal"]},
        "unet": {**files["unet_spatial"], **files["unet_temporal"]},
        "interpolator": {**files["unet_spatial"], **files["interpolator"]},  # the same spatial tensors
        "upsampler": files["upsampler"],
    }
    for name, model in models.items():
        model.load_state_dict(full[name], strict=True, assign=True)
        _no_meta_left(name, model)
    students, notes = _load_students(config, folder, sources, device, dtype)
    return Bundle(config=config, **models, path=folder, temporal_from=temporal_from, students=students,
                  student_notes=notes)


def teacher_sha256(sources: Mapping[str, Path | str], name: str) -> str:
    """sha256 over the part files student `name` is distilled from (`sources[part]` holds each part):
    recorded when it is distilled, compared when it is loaded."""
    digest = hashlib.sha256()
    for part in TEACHER_PARTS[name]:
        digest.update(f"{part}\0{_file_sha256(part_file(Path(sources[part]), part))}\n".encode())
    return digest.hexdigest()


def _load_students(config: BundleConfig, folder: Path, sources: Mapping[str, Path], device: str | torch.device,
                   dtype: torch.dtype) -> tuple[dict[str, nn.Module], dict[str, str]]:
    """The students the config lists; one distilled from other teacher weights than those loaded (its
    teacher retrained or merged since) is left out, with a note saying so."""
    students, notes = {}, {}
    for name, student in config.students.present().items():
        if student.teacher_sha256 and teacher_sha256(sources, name) != student.teacher_sha256:
            notes[name] = (f"the {name} student was distilled from other {name} weights than this bundle's (its "
                           f"teacher changed since): distil it again (`drivesim train distill {name}`)")
            continue
        with torch.device("meta"):
            model = construct_student(config, name)
        tensors = _read_part(folder, STUDENT_PARTS[name], device, dtype)
        _check_part(STUDENT_PARTS[name], folder, tensors, model.state_dict())
        model.load_state_dict(tensors, strict=True, assign=True)
        _no_meta_left(f"{name} student", model)
        students[name] = model
    return students, notes


def check_part_files(config: BundleConfig, sources: Mapping[str, Path | str]) -> None:
    """Every part file `sources[part]/PART.safetensors` holds exactly the tensors, with the shapes, that
    `config` builds: the check `load_bundle` makes, from the files' headers only (no tensor is read).
    For edits that must leave a loadable bundle (drivesim.train.bundle_edit). BundleError otherwise."""
    with torch.device("meta"):
        models = construct_models(config)
    _check_shared_spatial(config, models["unet"], models["interpolator"])
    for spec in PART_SPECS:
        folder = Path(sources[spec.name])
        path = part_file(folder, spec.name)
        if not path.is_file():
            raise BundleError(f"bundle {folder} is missing part {spec.name!r} ({path.name})")
        try:
            with safe_open(str(path), framework="pt") as f:  # meta tensors: shapes without memory
                shapes = {k: torch.empty(f.get_slice(k).get_shape(), device="meta") for k in f.keys()}
        except (SafetensorError, OSError, ValueError) as err:
            raise BundleError(f"part {spec.name!r} ({path}) is not a readable safetensors file: {err}") from err
        model = models[spec.model]
        _check_part(spec.name, folder, shapes, _select(model, model.state_dict(), spec.select))


def _no_meta_left(name: str, model: nn.Module) -> None:
    left = [n for n, t in [*model.named_parameters(), *model.named_buffers()] if t.is_meta]
    if left:  # a non-persistent buffer would stay on the meta device: build such models for real
        raise RuntimeError(f"{name}: tensors {left[:3]} are not in the state dict and cannot be loaded")


# --- hashing -------------------------------------------------------------------------------

def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def bundle_sha256(folder: Path | str) -> str:
    """One sha256 over config.yaml, every part file and the students' files (names and bytes), for manifests."""
    folder = Path(folder)
    _require_bundle_folder(folder)
    digest = hashlib.sha256()
    students = sorted(p.relative_to(folder).as_posix() for p in (folder / "students").glob("*.safetensors"))
    for name in itertools.chain([CONFIG_FILE], (part_file(folder, p).name for p in PARTS), students):
        path = folder / name
        if not path.is_file():
            raise BundleError(f"bundle {folder} is missing {name}")
        digest.update(f"{name}\0{_file_sha256(path)}\n".encode())
    return digest.hexdigest()

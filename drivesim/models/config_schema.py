"""Typed validation of a bundle's config.yaml: a pydantic schema derived from the config dataclasses.

The models keep using the plain dataclasses of `configs.py`; this schema checks a loaded
config.yaml against their field types first, strictly (no "4" for 4, no "yes" for true, no
unknown keys), so a wrong value is reported under its own key instead of surfacing later as a
contradiction between two keys. Derived from the dataclasses, so a new field needs no edit here.

    python -c "import yaml; from drivesim.models.config_schema import validate_config_dict; \
        data = yaml.safe_load(open('checkpoints/default/config.yaml')); \
        data['autoencoder']['latent_channels'] = '4'; validate_config_dict(data)"
"""

from __future__ import annotations

import dataclasses
import typing
from functools import lru_cache
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, create_model

from drivesim.diffusion.schedule import DiffusionConfig, make_scheduler
from drivesim.errors import DrivesimError
from drivesim.models.configs import BundleConfig

__all__ = ["schema", "validate_config_dict"]

# allow_inf_nan=False: a .nan scaling_factor or guidance scale would give all-black frames without an error
STRICT = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)

# Numbers the types cannot rule out, by key (in whichever section; a list's items each): outside these a bundle
# builds no network, hangs its load (layers_per_block: 1000000 builds for hours) or allocates gigabytes
# (num_train_timesteps: 1e9), or its sampling fails half-way or turns to NaN, i.e. black frames (a beta of 1 or
# more, a scaling factor of 1e-300). Far beyond every config drivesim ships (configs.py).
RANGES: dict[str, tuple[float, float]] = {
    **dict.fromkeys(("downsample_factor", "layout_scale", "space_to_depth", "scale_factor", "interpolation_factor"),
                    (1, 64)),
    **dict.fromkeys(("latent_channels", "block_channels", "block_out_channels", "in_channels", "out_channels",
                     "channels", "norm_num_groups", "num_heads", "max_frames", "frame_size", "upsampler_patch_size"),
                    (1, 8192)),
    **dict.fromkeys(("num_layout_channels", "context_channels", "low_res_channels"), (0, 8192)),
    "layers_per_block": (1, 16), "attention_levels": (0, 16),
    **dict.fromkeys(("clip_frames", "decoder_window", "upsampler_chunk_frames", "keyframe_stride"), (1, 1024)),
    "context_frames": (0, 1024),
    "num_train_timesteps": (2, 100_000), "num_inference_steps": (1, 100_000), "interpolation_steps": (1, 100_000),
    "max_noise_level": (0, 100_000), "inference_noise_level": (0, 100_000), "steps": (0, 100_000),
    "solver_steps": (1, 100_000),
    "beta_start": (1e-9, 0.999), "beta_end": (1e-9, 0.999), "guidance_scale": (0.0, 100.0),
    "scaling_factor": (1e-4, 1e4), "timestep_scaling": (1e-6, 1e6), "keyframe_fps": (1e-3, 1000.0),
    "output_fps": (1e-3, 1000.0), "residual_scale": (-1e3, 1e3), "temporal_alpha_init": (-1e3, 1e3),
}
MAX_ITEMS = 16  # items in a list (levels of a network, a size)
# the texts of a noise schedule diffusers' schedulers build (any other fails when sampling starts)
CHOICES = {"beta_schedule": ("linear", "scaled_linear", "squaredcos_cap_v2"),
           "timestep_spacing": ("leading", "trailing", "linspace")}
# alpha_bar at a schedule's last step: below it float32 rounds the signal to 0 and DPM-Solver's log(alpha / sigma)
# is -inf (beta_end 0.2 over 1000 linear steps: black frames); drivesim's schedules end at 4e-5 .. 1e-2
MIN_LAST_ALPHA_BAR = 1e-20


@lru_cache(maxsize=None)
def schema(cls: type = BundleConfig) -> type[BaseModel]:
    """The pydantic model of config dataclass `cls` (nested config dataclasses become nested models)."""
    hints = typing.get_type_hints(cls)
    fields: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        hint = hints[f.name]
        if dataclasses.is_dataclass(hint):
            hint = schema(hint)
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        # A field left out keeps the dataclass's own default (validated dicts are dumped with exclude_unset).
        fields[f.name] = (hint, ... if required else None)
    return create_model(f"{cls.__name__}Schema", __config__=STRICT, **fields)


def _tuples(value: Any) -> Any:
    """YAML lists -> tuples (the dataclasses' sequence type; strict mode takes no list for a tuple)."""
    if isinstance(value, dict):
        return {k: _tuples(v) for k, v in value.items()}
    if isinstance(value, list):
        return tuple(_tuples(v) for v in value)
    return value


def _describe(error: dict[str, Any]) -> str:
    loc = error["loc"]
    key = ".".join(str(part) for part in loc) or "top level"
    if error["type"] == "extra_forbidden":
        return f"{key}: unknown key (a typo, or a config from another drivesim version?)"
    if error["type"] == "missing" and loc and isinstance(loc[-1], int):  # a tuple such as frame_size
        return f"{'.'.join(str(part) for part in loc[:-1])}: too few items, got fewer than {loc[-1] + 1}"
    if error["type"] == "missing":
        return f"{key}: required key is missing"
    if error["type"] in ("model_type", "dict_type"):
        return f"{key} must be a mapping (a section of keys), got {error.get('input')!r}"
    given = error.get("input")
    return f"{key}: {error['msg'].lower()}, got {given!r} ({type(given).__name__})"


def validate_config_dict(data: Any) -> dict[str, Any]:
    """Check a config mapping (as yaml.safe_load returns it) against the schema; returns the keys it
    gave, lists as tuples. DrivesimError names every wrong key, its value and the expected type."""
    if not isinstance(data, dict):
        raise DrivesimError(f"the config must be a mapping of keys to values, got {type(data).__name__}")
    try:
        validated = schema(BundleConfig).model_validate(_tuples(data))
    except ValidationError as err:
        problems = [_describe(e) for e in err.errors()]
        raise DrivesimError(f"{len(problems)} wrong key(s): " + "; ".join(problems)) from None
    given = validated.model_dump(exclude_unset=True)
    problems = list(_out_of_range(given, ())) or _contradictions(given)  # ranges first: a schedule is built
    if problems:
        raise DrivesimError(f"{len(problems)} wrong value(s): " + "; ".join(problems))
    return given


def _out_of_range(data: Any, path: tuple) -> Any:
    """'key: ...' for every number of `data` (a validated config mapping) outside RANGES, every list too long."""
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _out_of_range(value, path + (key,))
        return
    key = ".".join(str(part) for part in path)
    if isinstance(data, tuple):
        if len(data) > MAX_ITEMS:
            yield f"{key}: at most {MAX_ITEMS} items, got {len(data)}"
        for item in data:
            yield from _out_of_range(item, path)
        return
    low, high = RANGES.get(path[-1] if path else "", (None, None))
    if low is not None and isinstance(data, (int, float)) and not isinstance(data, bool) and not low <= data <= high:
        yield f"{key}: must be in {low:g}..{high:g}, got {data!r}"


def _contradictions(given: dict[str, Any]) -> list[str]:
    """Numbers and texts that fit their types and ranges but not each other: a schedule's steps and noise levels
    past its own noise levels, betas that fall or leave no signal (a key left out takes its dataclass default)."""
    out = []
    for name in ("diffusion", "upsampler_diffusion"):
        merged = _section(given, name)
        levels, found = merged["num_train_timesteps"], []
        for key in ("num_inference_steps", "interpolation_steps"):
            if merged.get(key) is not None and merged[key] > levels:
                found.append(f"{name}.{key}: at most num_train_timesteps ({levels}), got {merged[key]}")
        if merged["beta_start"] > merged["beta_end"]:
            found.append(f"{name}: beta_start {merged['beta_start']!r} is more than beta_end {merged['beta_end']!r}")
        for key, choices in CHOICES.items():
            if merged[key] not in choices:
                found.append(f"{name}.{key}: one of {', '.join(choices)}, got {merged[key]!r}")
        out += found or _signal_left(name, merged)
    upsampler, levels = _section(given, "upsampler"), _section(given, "upsampler_diffusion")["num_train_timesteps"]
    for key in ("max_noise_level", "inference_noise_level"):
        if upsampler[key] >= levels:
            out.append(f"upsampler.{key}: must be below upsampler_diffusion.num_train_timesteps ({levels}), "
                       f"got {upsampler[key]}")
    return out


def _signal_left(name: str, schedule: dict[str, Any]) -> list[str]:
    """The schedule's betas leave some signal at the last noise level (none by design with rescale_betas_zero_snr,
    which diffusers' schedulers handle)."""
    try:
        last = float(make_scheduler("ddim", DiffusionConfig(**schedule)).alphas_cumprod[-1])
    except DrivesimError as err:
        return [f"{name}: {err}"]
    if schedule["rescale_betas_zero_snr"] or last >= MIN_LAST_ALPHA_BAR:
        return []
    return [f"{name}: its betas ({schedule['beta_schedule']} from {schedule['beta_start']!r} to "
            f"{schedule['beta_end']!r} over {schedule['num_train_timesteps']} steps) leave alpha_bar {last:.3g} at the "
            f"last step, below {MIN_LAST_ALPHA_BAR:g}: no signal is left to sample from (lower beta_end)"]


def _section(given: dict[str, Any], name: str) -> dict[str, Any]:
    """Config section `name` as the bundle's config will hold it: the keys given over the section's dataclass
    defaults, or BundleConfig's default section where it is left out."""
    field = {f.name: f for f in dataclasses.fields(BundleConfig)}[name]
    if given.get(name) is None and field.default_factory is not dataclasses.MISSING:
        return dataclasses.asdict(field.default_factory())
    kind = typing.get_type_hints(BundleConfig)[name]
    defaults = {f.name: f.default if f.default is not dataclasses.MISSING else f.default_factory()
                for f in dataclasses.fields(kind)
                if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING}
    return {**defaults, **(given.get(name) or {})}

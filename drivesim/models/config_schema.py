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

from drivesim.errors import DrivesimError
from drivesim.models.configs import BundleConfig

__all__ = ["schema", "validate_config_dict"]

# allow_inf_nan=False: a .nan scaling_factor or guidance scale would give all-black frames without an error
STRICT = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


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
    return validated.model_dump(exclude_unset=True)

"""A highway-env config override checked before the env is made: clear errors instead of the env's tracebacks.

highway-env merges any dict into its default config and fails later, deep inside (`policy_frequency: 0`
divides by zero in `step`, `lanes_count: 0` leaves its road without lanes, a list is not a dict). Here
an override must be a JSON object whose keys are the env's own config keys, each value of the type of the
key's default (a number for a number, true/false for a flag, text, an object for an object), every number
finite, and the keys the env divides by, counts with or indexes lanes with in their range (`RULES`).
Errors name the key and what it allows.

    from drivesim.bridges.highway_config import check_env_config
    check_env_config({"lanes_count": 3}, defaults, "highway-v0")   # -> the override, or a DrivesimError
"""

from __future__ import annotations

import math
from typing import Any, Callable

from drivesim.errors import DrivesimError

__all__ = ["RULES", "check_env_config", "check_finite_state"]


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _integer(v: Any) -> bool:
    return _number(v) and (isinstance(v, int) or v.is_integer())


def _within(low: float, high: float, integer: bool = False, low_open: bool = False) -> Callable[[Any], bool]:
    def test(v: Any) -> bool:
        return (_integer(v) if integer else _number(v)) and (low < v if low_open else low <= v) and v <= high
    return test


# key -> (what it must be, the test); keys an env does not have are refused before these apply. The upper
# bounds keep an env step finite in time (highway-env simulates every vehicle every sub-step).
RULES: dict[str, tuple[str, Callable[[Any], bool]]] = {
    "simulation_frequency": ("a number in (0, 1000] (sub-steps a second)", _within(0, 1000, low_open=True)),
    "policy_frequency": ("a number in (0, 1000] (env steps a second)", _within(0, 1000, low_open=True)),
    "lanes_count": ("an integer in 1..100", _within(1, 100, integer=True)),
    "vehicles_count": ("an integer in 0..1000", _within(0, 1000, integer=True)),
    "controlled_vehicles": ("an integer in 1..100", _within(1, 100, integer=True)),
    "initial_vehicle_count": ("an integer in 0..1000", _within(0, 1000, integer=True)),
    "duration": ("a number > 0 (seconds)", _within(0, math.inf, low_open=True)),
    "vehicles_density": ("a number > 0", _within(0, math.inf, low_open=True)),
    "ego_spacing": ("a number > 0", _within(0, math.inf, low_open=True)),
    "spawn_probability": ("a number in [0, 1]", _within(0, 1)),
    "initial_lane_id": ("null or a lane index >= 0", lambda v: v is None or _within(0, math.inf, integer=True)(v)),
    "screen_width": ("an integer in 1..10000 (pixels)", _within(1, 10000, integer=True)),
    "screen_height": ("an integer in 1..10000 (pixels)", _within(1, 10000, integer=True)),
    "scaling": ("a number > 0", _within(0, math.inf, low_open=True)),
}


def check_env_config(config: Any, defaults: dict[str, Any] | None, env_name: str) -> dict[str, Any]:
    """`config` (an env_config override) checked against the env's default config `defaults` (None: not
    known, then only the types of RULES are checked); returns it, or raises a DrivesimError naming the key."""
    if not isinstance(config, dict):
        raise DrivesimError(f"the env config must be a JSON object of {env_name}'s config keys "
                            f'(e.g. {{"lanes_count": 3}}), got {_kind(config)}')
    for key, value in config.items():
        if not isinstance(key, str):
            raise DrivesimError(f"env config key {key!r} is not text: keys are {env_name}'s config keys")
        if defaults is not None and key not in defaults:
            raise DrivesimError(f"env config key {key!r} is not one of {env_name}'s config keys: "
                                f"{', '.join(sorted(defaults))}")
        path = _non_finite(value, key)
        if path is not None:
            raise DrivesimError(f"env config {path} is not a finite number: every number in the config must be finite")
        if key in RULES:
            what, ok = RULES[key]
            if not ok(value):
                raise DrivesimError(f"env config {key} must be {what}, got {value!r}")
        elif defaults is not None and not _same_type(value, defaults[key]):
            raise DrivesimError(f"env config {key} must be {_kind(defaults[key])} as {env_name}'s default "
                                f"({defaults[key]!r}), got {value!r}")
    merged = {**(defaults or {}), **config}
    sim, policy = merged.get("simulation_frequency"), merged.get("policy_frequency")
    if ("simulation_frequency" in config or "policy_frequency" in config) and _number(sim) and _number(policy) \
            and sim < policy:
        raise DrivesimError(f"env config simulation_frequency ({sim:g}) must be >= policy_frequency ({policy:g}): "
                            "each env step runs simulation_frequency // policy_frequency sub-steps, at least one")
    lanes, lane = merged.get("lanes_count"), merged.get("initial_lane_id")
    if ("lanes_count" in config or "initial_lane_id" in config) and _integer(lanes) and _integer(lane) \
            and lane >= lanes:
        raise DrivesimError(f"env config initial_lane_id ({lane}) must be a lane of the road: 0..{int(lanes) - 1} "
                            f"for lanes_count {lanes}, or null")
    return config


def check_finite_state(values: dict[str, float], who: str, time_s: float, env_name: str) -> None:
    """A vehicle's state (field -> value) as highway-env reports it: every value finite, else an error (a NaN
    speed or position would become a world of NaNs)."""
    for field, value in values.items():
        if not math.isfinite(value):
            raise DrivesimError(f"{env_name}: {who}'s {field} is {value} at t = {time_s:g} s; drivesim films finite "
                                "states only (a NaN or infinite action or config value reached the simulation?)")


def _same_type(value: Any, default: Any) -> bool:
    if default is None:
        return True
    if isinstance(default, bool):
        return isinstance(value, bool)
    if _number(default):
        return _number(value)
    if isinstance(default, (list, tuple)):
        return isinstance(value, (list, tuple))
    return isinstance(value, type(default))


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true or false"
    if _number(value):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _non_finite(value: Any, path: str) -> str | None:
    """The key path of the first number in `value` that is not finite (NaN, Infinity), or None."""
    if isinstance(value, float):  # ints are finite (and may be too large for a float)
        return None if math.isfinite(value) else f"{path} ({value})"
    if isinstance(value, dict):
        for k, v in value.items():
            found = _non_finite(v, f"{path}.{k}")
            if found is not None:
                return found
    if isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            found = _non_finite(v, f"{path}[{i}]")
            if found is not None:
                return found
    return None

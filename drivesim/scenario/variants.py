"""Variants of a scenario that keep its road, agents and seed: the same scenario at another time of day
(`drivesim generate --time-of-day`, the eval's day and night runs)."""

from __future__ import annotations

from drivesim.errors import DrivesimError
from drivesim.scenario.format import Scenario

__all__ = ["TIMES_OF_DAY", "with_time_of_day"]

TIMES_OF_DAY = ("day", "night")


def with_time_of_day(scenario: Scenario, time_of_day: str) -> Scenario:
    """The same scenario at `time_of_day` throughout (time-of-day events dropped), named NAME_TIME."""
    if time_of_day not in TIMES_OF_DAY:
        raise DrivesimError(f"time of day must be one of {', '.join(TIMES_OF_DAY)}, got {time_of_day!r}")
    data = scenario.model_dump(mode="json")
    env = data["environment"]
    env["time_of_day"] = time_of_day
    env["events"] = [e for e in env["events"] if e.get("crowdedness") is not None]
    for event in env["events"]:
        event["time_of_day"] = None
    data["name"] = f"{scenario.name}_{time_of_day}"
    return Scenario.model_validate(data)

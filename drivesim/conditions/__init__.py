"""Frame conditions -> tensors: labels, box/road maps, context masks; dropout and nulls."""

from drivesim.conditions.tensors import UNetConditions

__all__ = ["UNetConditions"]

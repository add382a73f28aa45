"""The channel layouts of the layout condition map, chosen by a model's number of layout channels.

A bundle's config declares `num_layout_channels` (K); the maps it gets are the layout of that size:

    K = 6 (`LAYOUT_V1`, version 1's; the shipped default's upsampler): vehicle, two_wheeler, pedestrian, box_edge, depth, road
        -- the road channel drawn from the frame's RoadState as version 1's straight road, to the bit
        as before the road network existed (tests/test_road_conditioning.py holds a golden record).
    K = 11 (`LAYOUT_ROAD`, the shipped default's keyframe model and interpolator): the six above, the road channel now drawn from the
        scenario's road network, then drivable, lane_solid, lane_dashed, road_edge, direction.

Channels 0-5 mean the same in both, so a K = 6 model grown to K = 11 (new input channels zero-initialised)
starts out as the old model. docs/method.md, "Driving conditions", explains each channel.

    python -c "from drivesim.conditions.layouts import layout_channels; print(layout_channels(11))"
"""

from __future__ import annotations

from drivesim.errors import DrivesimError

BOX_CHANNELS: tuple[str, ...] = ("vehicle", "two_wheeler", "pedestrian", "box_edge", "depth")
LAYOUT_V1: tuple[str, ...] = BOX_CHANNELS + ("road",)
# Drawn from the road network (conditions/road_maps.py), in this order after the box channels.
NETWORK_ROAD_CHANNELS: tuple[str, ...] = ("road", "drivable", "lane_solid", "lane_dashed", "road_edge", "direction")
LAYOUT_ROAD: tuple[str, ...] = BOX_CHANNELS + NETWORK_ROAD_CHANNELS
LAYOUTS: dict[int, tuple[str, ...]] = {len(LAYOUT_V1): LAYOUT_V1, len(LAYOUT_ROAD): LAYOUT_ROAD}
DEFAULT_LAYOUT_CHANNELS = len(LAYOUT_V1)


def layout_channels(num_channels: int) -> tuple[str, ...]:
    """The channel names of the K-channel layout (DrivesimError for a K no layout has)."""
    if num_channels not in LAYOUTS:
        known = ", ".join(f"{k} ({', '.join(names)})" for k, names in LAYOUTS.items())
        raise DrivesimError(f"no layout map has {num_channels} channels; num_layout_channels must be one of: {known}")
    return LAYOUTS[num_channels]


def is_network_layout(num_channels: int) -> bool:
    """Whether the K-channel layout draws its road from the road network (else version 1's straight road)."""
    return layout_channels(num_channels) == LAYOUT_ROAD

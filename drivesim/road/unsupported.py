"""OpenDRIVE features the road model does not hold, each with why: an OpenDRIVE reader names these
when a file uses them (never skips them silently), and says what drivesim does instead.

Keys are element paths below <OpenDRIVE> (attributes after "@").

    from drivesim.road.unsupported import UNSUPPORTED
    for path, reason in UNSUPPORTED.items():
        print(f"{path}: {reason}")
"""

from __future__ import annotations

UNSUPPORTED: dict[str, str] = {
    "road/lateralProfile/superelevation": "the road is flat across (no roll): t does not change z",
    "road/lateralProfile/shape": "the road is flat across: no cross-section shapes",
    "road/lateralProfile/crossfall": "the road is flat across (crossfall is OpenDRIVE 1.4's superelevation)",
    "road/lanes/laneSection/@singleSide": "a lane section holds both sides: a reader gives the side a singleSide "
                                          "section leaves out the previous section's lanes",
    "road/lanes/laneSection/*/lane/border": "lanes are given by <width>; outer borders as polynomials are not read",
    "road/lanes/laneSection/*/lane/height": "lanes lie at the road's elevation (no kerb heights)",
    "road/lanes/laneSection/*/lane/@level": "lanes are not kept level against superelevation (there is none)",
    "road/lanes/laneSection/*/lane/@direction": "a lane is driven by the road's rule (RHT/LHT); "
                                                "reversed and both-way lanes are not modelled",
    "road/lanes/laneSection/*/lane/speed": "speed limits are not part of the road model",
    "road/lanes/laneSection/*/lane/access": "lane access rules are not part of the road model",
    "road/lanes/laneSection/*/lane/rule": "lane rules are not part of the road model",
    "road/lanes/laneSection/*/lane/material": "surface materials are not rendered",
    "road/lanes/laneSection/*/lane/roadMark/type": "road marks are drawn by their @type name, not by the line "
                                                   "definitions of a <type> element",
    "road/lanes/laneSection/*/lane/roadMark/explicit": "road marks are drawn by their type name, not by explicit lines",
    "road/lanes/laneSection/*/lane/roadMark/sway": "road marks follow the lane border without sway",
    "road/lanes/laneSection/*/lane/roadMark/@weight": "road marks are drawn in one weight",
    "road/lanes/laneSection/*/lane/roadMark/@laneChange": "lane changes are not restricted by road marks",
    "road/lanes/laneSection/*/lane/roadMark/@height": "road marks are flat",
    "road/lanes/laneSection/*/lane/roadMark/@material": "surface materials are not rendered",
    "road/lanes/laneSection/*/lane/link (more than one predecessor or successor)":
        "a lane links to one lane each way; where a file gives more, the reader must pick one and say so",
    "road/type": "road types and their speed limits are not part of the road model",
    "road/objects": "road objects (barriers, poles, crosswalks...) are not modelled",
    "road/signals": "signs and traffic lights are not modelled",
    "road/surface": "OpenCRG surfaces are not read: the road is smooth",
    "road/railroad": "railroads are not modelled",
    "junction/@type": "every junction is a default junction with connecting roads (no direct or virtual junctions)",
    "junction/priority": "junction priorities are not modelled (no right of way)",
    "junction/controller": "signal controllers are not modelled",
    "junctionGroup": "junction groups (roundabouts as one unit) are not modelled; their junctions are",
    "controller": "signal controllers are not modelled",
    "station": "stations are not modelled",
    "header/geoReference": "the network lives in OpenDRIVE's inertial x/y frame; no map projection",
    "header/offset": "the inertial frame is used as given, without the header's offset",
}

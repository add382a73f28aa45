"""ASAM OpenDRIVE 1.4-1.8 roads -> drivesim's one road network model (`drivesim.road`); docs/opendrive.md.

- `read_network(path)`: the file's `RoadNetwork` (registered for ".xodr": `read_road_network(path)`);
  each kind of record drivesim does not read is one `OpenDriveWarning`.
- `read_opendrive(path)`: the network, the header and those records as a list, without warnings.
- `read_road` / `road_frame`: the OpenSCENARIO importer's straight road, read through the same reader.

Modules, one job each: attributes (numbers and names, located errors), plan_view, lanes, roads,
junctions, unsupported (what is named instead of read), network (the file), straight (the importer's view).

    import warnings
    from drivesim.standards.opendrive import OpenDriveWarning, read_network
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", OpenDriveWarning)
        network = read_network("scenarios/roads/country_road.xodr")
    network.roads["1"].lane_to_world(-1, 200.0)  # WorldPose(x=..., y=..., z=..., heading=..., pitch=...)
"""

from drivesim.standards.opendrive.network import (OpenDriveFile, OpenDriveHeader, OpenDriveWarning, read_network,
                                                  read_opendrive)
from drivesim.standards.opendrive.straight import DRIVING_TYPES, read_road, road_frame, road_ids
from drivesim.standards.opendrive.unsupported import Unsupported

__all__ = ["DRIVING_TYPES", "OpenDriveFile", "OpenDriveHeader", "OpenDriveWarning", "Unsupported", "read_network",
           "read_opendrive", "read_road", "road_frame", "road_ids"]

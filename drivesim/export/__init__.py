"""Dataset export: scenarios -> images + COCO / KITTI / MOT / YOLO labels (docs/export.md).

    drivesim export scenarios/ -o out/dataset --variations 2 --source schematic

    from drivesim.export import ExportOptions, export_dataset, plan_clips, schematic_source
    export_dataset(plan_clips(["scenarios/"], variations=2), "out/dataset", schematic_source)
"""

from drivesim.export.dataset import (BoxFilter, ClipSpec, ExportOptions, ExportSummary, FrameSource, MergeSummary,
                                     default_frame_source, export_dataset, merge_dataset, plan_clips,
                                     resolve_source, safe_clip_id)
from drivesim.export.schematic import schematic_source
from drivesim.export.writers import WRITERS, LabelWriter

__all__ = ["BoxFilter", "ClipSpec", "ExportOptions", "ExportSummary", "FrameSource", "LabelWriter", "MergeSummary", "WRITERS",
           "default_frame_source", "export_dataset", "merge_dataset", "plan_clips", "resolve_source",
           "safe_clip_id", "schematic_source"]

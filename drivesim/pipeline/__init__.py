"""Keyframes -> interpolation -> temporal decoding -> video SR: one streaming iterator of frames,
and closed-loop sessions on the same stages."""

from drivesim.pipeline.context import Cancelled
from drivesim.pipeline.generate import GeneratedFrame, VideoPipeline, frame_source, load_checkpoint
from drivesim.pipeline.options import GenerateOptions
from drivesim.pipeline.session import PipelineSession

__all__ = ["Cancelled", "GenerateOptions", "GeneratedFrame", "PipelineSession", "VideoPipeline", "frame_source",
           "load_checkpoint"]

"""Keyframes -> interpolation -> temporal decoding -> video SR: one streaming iterator of frames."""

from drivesim.pipeline.generate import GeneratedFrame, VideoPipeline, frame_source, load_checkpoint
from drivesim.pipeline.options import GenerateOptions

__all__ = ["GenerateOptions", "GeneratedFrame", "VideoPipeline", "frame_source", "load_checkpoint"]

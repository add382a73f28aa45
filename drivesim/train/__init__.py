"""Training: the six stages of the Video LDM, one loop on HF accelerate (docs/training.md).

    drivesim train autoencoder --data data/synth --config tiny --out checkpoints/default

Modules: `stages` (one config + one loss per stage, registry STAGES), `loop` (accelerate, EMA,
resumable state, log, previews), `state` (safetensors + JSON state, BUNDLE/stages.json),
`datasets` (which frames each stage reads), `previews`, `ema`, `bundle_edit` (after training: a part
merged from another bundle, config values set; `drivesim bundle`).
"""

from drivesim.train.loop import TrainOptions, TrainResult, train
from drivesim.train.stages import STAGES, get_stage

__all__ = ["STAGES", "TrainOptions", "TrainResult", "get_stage", "train"]

#!/usr/bin/env bash
# Grows a trained `tiny` bundle into `tiny_world` (11 layout channels: the road drawn from the road
# network -- drivable area, solid and dashed lane lines, edges, lane direction) and fine-tunes it on the
# `world` mix of synth-data (bends, two-way roads with oncoming traffic, junctions, straight roads): the
# recipe of scripts/finetune_default.sh (image, then video and interpolation, then the upsampler, merged)
# with that config and data. Resumable: rerun after an interruption (finished steps are skipped).
#
#   bash scripts/finetune_world.sh BASE_BUNDLE OUT_BUNDLE [DATA_DIR]
#   bash scripts/finetune_world.sh checkpoints/default checkpoints/world data/world
#
# The shipped default (checkpoints/default/README.md): from the previous default (commit 555ed7a), the
# latent stages fine-tuned on the world mix, the base's upsampler kept, guidance 3.0:
#   UPSAMPLER=base GUIDANCE=3.0 IMG_STEPS=2000 VID_STEPS=200 INT_STEPS=200 \
#       bash scripts/finetune_world.sh /tmp/v5/checkpoints/default checkpoints/default.new data/world
set -euo pipefail
# The base's upsampler was fine-tuned on degraded inputs (decoded frames, erased road users): its growing
# here keeps those settings (scripts/finetune_upsampler.sh, round 2) instead of undoing them.
UPS_SETTINGS=${UPS_SETTINGS:-"--set decoded_p=0.5 --set erase_p=0.5 --set fg_weight=3"} \
CONFIG=tiny_world MIX=${MIX:-world} exec bash "$(dirname "$0")/finetune_default.sh" "${1:?base bundle (a trained tiny bundle)}" \
    "${2:?output bundle folder}" "${3:-data/world}"
